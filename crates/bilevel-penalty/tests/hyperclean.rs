//! Data hyper-cleaning on the embedded digits (the protocol of the issue:
//! 1,200 training samples with 50 % of the labels replaced by a different
//! random class, 100 clean validation samples, the rest for testing).

use std::time::Instant;

use bilevel_penalty::instances::HyperCleaning;
use bilevel_penalty::*;
use linalg_core::faer::{Col, Mat};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng, rngs::StdRng};

struct Split {
    problem: HyperCleaning,
    test: Mat<f64>,
    test_labels: Vec<usize>,
    train: Mat<f64>,
    clean_train_labels: Vec<usize>,
    noisy_labels: Vec<usize>,
    val: Mat<f64>,
    val_labels: Vec<usize>,
    corrupted: Vec<bool>,
}

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn split(seed: u64) -> Split {
    let mut data = datasets::digits();
    datasets::standardize(&mut data.features).unwrap();
    let n = data.n_samples();
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    idx.shuffle(&mut rng);
    let rows =
        |r: &[usize]| Mat::from_fn(r.len(), data.n_features(), |i, j| data.features[(r[i], j)]);
    let (tr, rest) = idx.split_at(1200);
    let (va, te) = rest.split_at(100);
    let clean: Vec<usize> = tr.iter().map(|&i| data.labels[i]).collect();
    let mut labels = clean.clone();
    let mut corrupted = vec![false; 1200];
    for i in 0..1200 {
        if rng.random_range(0.0..1.0) < 0.5 {
            let shift = rng.random_range(1..10);
            labels[i] = (clean[i] + shift) % 10;
            corrupted[i] = true;
        }
    }
    let train = rows(tr);
    let val = rows(va);
    let val_labels: Vec<usize> = va.iter().map(|&i| data.labels[i]).collect();
    let problem = HyperCleaning::new(
        train.as_ref(),
        &labels,
        val.as_ref(),
        &val_labels,
        10,
        env("HC_REG", 1e-2),
    )
    .unwrap();
    Split {
        problem,
        test: rows(te),
        test_labels: te.iter().map(|&i| data.labels[i]).collect(),
        train,
        clean_train_labels: clean,
        noisy_labels: labels,
        val,
        val_labels,
        corrupted,
    }
}

/// Accuracy on the test split of the lower-level model trained on the rows
/// `keep` of the training set plus the validation set (weights 1).
fn retrain(s: &Split, keep: &[bool], val: &Mat<f64>, val_labels: &[usize]) -> f64 {
    let rows: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
    let d = s.train.ncols();
    let m = rows.len() + val.nrows();
    let a = Mat::from_fn(m, d, |i, j| {
        if i < rows.len() {
            s.train[(rows[i], j)]
        } else {
            val[(i - rows.len(), j)]
        }
    });
    let labels: Vec<usize> = (0..m)
        .map(|i| {
            if i < rows.len() {
                s.clean_train_labels[rows[i]]
            } else {
                val_labels[i - rows.len()]
            }
        })
        .collect();
    // Only the lower level matters: the kept rows carry their (possibly
    // corrupted) training labels.
    let labels: Vec<usize> = (0..m)
        .map(|i| {
            if i < rows.len() {
                s.noisy_labels[rows[i]]
            } else {
                labels[i]
            }
        })
        .collect();
    let p = HyperCleaning::new(
        a.as_ref(),
        &labels,
        val.as_ref(),
        val_labels,
        10,
        env("HC_RETRAIN_REG", env("HC_REG", 1e-2)),
    )
    .unwrap();
    let x = Col::<f64>::from_fn(m, |_| 30.0);
    let y = lower_solution(
        &p,
        x.as_ref(),
        None,
        &InnerParams::default().tol(1e-6).max_iters(20_000),
    )
    .unwrap();
    p.accuracy(s.test.as_ref(), &s.test_labels, y.as_ref())
}

#[test]
#[ignore = "measurement (about 8 s per seed): cargo test -p bilevel-penalty --release --test hyperclean -- --ignored --nocapture"]
fn hyper_cleaning_on_digits() {
    let seeds: u64 = std::env::var("HC_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    for seed in 0..seeds {
        let s = split(seed);
        let (nx, _) = s.problem.dims();
        let t = Instant::now();
        let sigma = env("HC_SIGMA", 1e-1);
        let rep = penalty(
            &s.problem,
            Col::<f64>::zeros(nx).as_ref(),
            None,
            &PenaltyParams::default()
                .sigma(sigma)
                .sigma_min(Some(env("HC_SIGMA_MIN", sigma)))
                .stage_tol(env("HC_STAGE", 1e-4))
                .grad_tol(1e-6)
                .max_iters(env("HC_ITERS", 30.0) as usize)
                .inner(InnerParams::default().tol(1e-5).max_iters(2000)),
            |_| Control::Continue,
        )
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let acc = s
            .problem
            .accuracy(s.test.as_ref(), &s.test_labels, rep.y.as_ref());
        let acc_z = s
            .problem
            .accuracy(s.test.as_ref(), &s.test_labels, rep.z.as_ref());
        let w = s.problem.weights(rep.x.as_ref());
        let flagged: Vec<bool> = w.iter().map(|v| *v < 0.5).collect();
        let tp = flagged
            .iter()
            .zip(&s.corrupted)
            .filter(|(f, c)| **f && **c)
            .count() as f64;
        let fp = flagged
            .iter()
            .zip(&s.corrupted)
            .filter(|(f, c)| **f && !**c)
            .count() as f64;
        let fneg = flagged
            .iter()
            .zip(&s.corrupted)
            .filter(|(f, c)| !**f && **c)
            .count() as f64;
        let f1 = 2.0 * tp / (2.0 * tp + fp + fneg);
        let mean = |c: bool| {
            let v: Vec<f64> = w
                .iter()
                .zip(&s.corrupted)
                .filter(|(_, k)| **k == c)
                .map(|(w, _)| *w)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        eprintln!(
            "mean weight corrupted {:.3} clean {:.3}",
            mean(true),
            mean(false)
        );
        let x_or = Col::<f64>::from_fn(nx, |i| if s.corrupted[i] { -8.0 } else { 8.0 });
        let inner = InnerParams::default().tol(1e-6).max_iters(20_000);
        let z_or = lower_solution(&s.problem, x_or.as_ref(), None, &inner).unwrap();
        let z_found = lower_solution(&s.problem, rep.x.as_ref(), None, &inner).unwrap();
        use bilevel_penalty::BilevelProblem;
        eprintln!(
            "val loss at the oracle weights {:.4} (test acc {:.2} %), at the found weights {:.4} (test acc {:.2} %)",
            s.problem.f(x_or.as_ref(), z_or.as_ref()),
            100.0
                * s.problem
                    .accuracy(s.test.as_ref(), &s.test_labels, z_or.as_ref()),
            s.problem.f(rep.x.as_ref(), z_found.as_ref()),
            100.0
                * s.problem
                    .accuracy(s.test.as_ref(), &s.test_labels, z_found.as_ref()),
        );
        let keep: Vec<bool> = flagged.iter().map(|f| !f).collect();
        let acc_re = retrain(&s, &keep, &s.val, &s.val_labels);
        let none = vec![false; keep.len()];
        let acc_val = retrain(&s, &none, &s.val, &s.val_labels);
        let clean: Vec<bool> = s.corrupted.iter().map(|c| !c).collect();
        let acc_oracle = retrain(&s, &clean, &s.val, &s.val_labels);
        eprintln!(
            "seed {seed}: test accuracy y {:.2} % z {:.2} % retrain {:.2} % (val only {:.2} %, oracle {:.2} %), detection F1 {f1:.3}, {} outer iterations, {} gradient calls, {secs:.1} s ({:?})",
            100.0 * acc,
            100.0 * acc_z,
            100.0 * acc_re,
            100.0 * acc_val,
            100.0 * acc_oracle,
            rep.iterations,
            rep.calls.gradient_calls(),
            rep.termination
        );
    }
}
