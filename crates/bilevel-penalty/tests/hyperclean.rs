//! Data hyper-cleaning on the embedded digits (the protocol of the issue:
//! 1,200 training samples with 50 % of the labels replaced by a different
//! random class, 100 clean validation samples, the rest for testing).

use std::time::Instant;

use bilevel_penalty::instances::{CleaningProtocol, CleaningSplit};
use bilevel_penalty::*;
use linalg_core::faer::Col;

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn split(seed: u64) -> CleaningSplit {
    let mut data = datasets::digits();
    datasets::standardize(&mut data.features).unwrap();
    let protocol = CleaningProtocol {
        reg: env("HC_REG", CleaningProtocol::default().reg),
        ..CleaningProtocol::default()
    };
    CleaningSplit::new(data.features.as_ref(), &data.labels, 10, &protocol, seed).unwrap()
}

/// The penalty method's settings for hyper-cleaning (shared with the CLI's
/// defaults): σ = 0.1, 15 outer iterations, accelerated inner loops.
fn params() -> PenaltyParams {
    let sigma = env("HC_SIGMA", 1e-1);
    PenaltyParams::default()
        .sigma(sigma)
        .grad_tol(1e-6)
        .max_iters(env("HC_ITERS", 15.0) as usize)
        .inner(
            InnerParams::default()
                .tol(1e-5)
                .max_iters(5000)
                .accelerated(true),
        )
}

#[test]
#[ignore = "measurement (about 5 s per seed): cargo test -p bilevel-penalty --release --test hyperclean -- --ignored --nocapture"]
fn hyper_cleaning_on_digits() {
    let seeds = env("HC_SEEDS", 5.0) as u64;
    let (mut accs, mut f1s, mut aid_accs, mut aid_f1s) = (vec![], vec![], vec![], vec![]);
    for seed in 0..seeds {
        let s = split(seed);
        let (nx, _) = s.problem.dims();
        let x0 = Col::<f64>::from_fn(nx, |_| env("HC_X0", 0.0));
        let t = Instant::now();
        let rep = penalty(&s.problem, x0.as_ref(), None, &params(), |_| {
            Control::Continue
        })
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let acc = s.test_accuracy(rep.y.as_ref());
        let det = s.detection(rep.x.as_ref());
        // AID at the same gradient-call budget.
        let budget = rep.calls.gradient_calls();
        let t = Instant::now();
        let a = aid(
            &s.problem,
            x0.as_ref(),
            None,
            &AidParams::default().grad_tol(1e-6).max_iters(10_000).inner(
                InnerParams::default()
                    .tol(1e-7)
                    .max_iters(5000)
                    .accelerated(true),
            ),
            |r| {
                if r.gradient_calls >= budget {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
        )
        .unwrap();
        let aid_secs = t.elapsed().as_secs_f64();
        let aid_acc = s.test_accuracy(a.y.as_ref());
        let aid_det = s.detection(a.x.as_ref());
        eprintln!(
            "seed {seed}: penalty test accuracy {:.2} %, detection P/R/F1 {:.3}/{:.3}/{:.3}, {} outer iterations, {} gradient calls, {secs:.1} s | AID at that budget: {:.2} %, F1 {:.3}, {} iterations, {} gradient calls + {} Hessian-vector products, {aid_secs:.1} s",
            100.0 * acc,
            det.precision,
            det.recall,
            det.f1,
            rep.iterations,
            budget,
            100.0 * aid_acc,
            aid_det.f1,
            a.iterations,
            a.calls.gradient_calls(),
            a.calls.hvp_calls(),
        );
        accs.push(acc);
        f1s.push(det.f1);
        aid_accs.push(aid_acc);
        aid_f1s.push(aid_det.f1);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    eprintln!(
        "mean: penalty {:.2} % F1 {:.3}; AID {:.2} % F1 {:.3}",
        100.0 * mean(&accs),
        mean(&f1s),
        100.0 * mean(&aid_accs),
        mean(&aid_f1s)
    );
}

#[test]
fn the_protocol_corrupts_about_half_and_detection_counts_are_right() {
    let s = split(0);
    let c = s.corrupted.iter().filter(|c| **c).count();
    assert!((540..=660).contains(&c), "{c} corrupted of 1200");
    assert_eq!(s.test_labels.len(), 1797 - 1300);
    // Weights below ½ exactly on the corrupted samples: P = R = F1 = 1;
    // all flagged: precision = corrupted fraction, recall 1.
    let truth = Col::<f64>::from_fn(1200, |i| if s.corrupted[i] { -1.0 } else { 1.0 });
    let d = s.detection(truth.as_ref());
    assert_eq!((d.precision, d.recall, d.f1), (1.0, 1.0, 1.0));
    let all = Col::<f64>::from_fn(1200, |_| -1.0);
    let d = s.detection(all.as_ref());
    assert!((d.precision - c as f64 / 1200.0).abs() < 1e-15 && d.recall == 1.0);
}
