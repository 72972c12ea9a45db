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
        corrupted,
    }
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
        let rep = penalty(
            &s.problem,
            Col::<f64>::zeros(nx).as_ref(),
            None,
            &PenaltyParams::default()
                .sigma(env("HC_SIGMA", 1e-1))
                .grad_tol(1e-6)
                .max_iters(30)
                .inner(InnerParams::default().tol(1e-5).max_iters(2000)),
            |_| Control::Continue,
        )
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let acc = s
            .problem
            .accuracy(s.test.as_ref(), &s.test_labels, rep.y.as_ref());
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
        let _ = (&s.train, &s.clean_train_labels);
        eprintln!(
            "seed {seed}: test accuracy {:.2} %, detection F1 {f1:.3}, {} outer iterations, {} gradient calls, {secs:.1} s ({:?})",
            100.0 * acc,
            rep.iterations,
            rep.calls.gradient_calls(),
            rep.termination
        );
    }
}
