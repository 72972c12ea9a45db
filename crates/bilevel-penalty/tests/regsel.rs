//! Regularisation selection on breast cancer and wine: the deterministic
//! penalty method against the stochastic one, on the value function
//! `ψ(x) = f(x, z(x))` with `z(x)` solved tightly at each method's final `x`.

use bilevel_penalty::instances::RegSelection;
use bilevel_penalty::*;
use linalg_core::faer::{Col, Mat};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

struct Split {
    problem: RegSelection,
    test: Mat<f64>,
    test_labels: Vec<usize>,
}

/// Standardised features, a seeded shuffle, 50 % train / 25 % validation / 25 % test.
fn split(data: datasets::Dataset, seed: u64) -> Split {
    let mut data = data;
    datasets::standardize(&mut data.features).unwrap();
    let n = data.n_samples();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let rows =
        |r: &[usize]| Mat::from_fn(r.len(), data.n_features(), |i, j| data.features[(r[i], j)]);
    let labels = |r: &[usize]| r.iter().map(|&i| data.labels[i]).collect::<Vec<_>>();
    let (tr, rest) = idx.split_at(n / 2);
    let (va, te) = rest.split_at(n / 4);
    let classes = data.labels.iter().max().unwrap() + 1;
    let problem = RegSelection::new(
        rows(tr).as_ref(),
        &labels(tr),
        rows(va).as_ref(),
        &labels(va),
        classes,
    )
    .unwrap();
    Split {
        problem,
        test: rows(te),
        test_labels: labels(te),
    }
}

fn value_function(p: &RegSelection, x: &Col<f64>) -> (f64, Col<f64>) {
    let z = lower_solution(
        p,
        x.as_ref(),
        None,
        &InnerParams::default()
            .tol(1e-9)
            .max_iters(200_000)
            .accelerated(true),
    )
    .unwrap();
    (p.f(x.as_ref(), z.as_ref()), z)
}

#[test]
fn stochastic_penalty_reaches_the_deterministic_upper_value_within_5_percent() {
    for (name, data) in [
        ("breast_cancer", datasets::breast_cancer()),
        ("wine", datasets::wine()),
    ] {
        let s = split(data, 0);
        let (nx, _) = s.problem.dims();
        let x0 = Col::<f64>::zeros(nx);
        let (psi0, z0) = value_function(&s.problem, &x0);
        let det = penalty(
            &s.problem,
            x0.as_ref(),
            None,
            &PenaltyParams::default()
                .sigma(1e-2)
                .grad_tol(1e-6)
                .max_iters(25)
                .inner(InnerParams::default().tol(1e-6).accelerated(true)),
            |r| {
                if std::env::var("RS_TRACE").is_ok() {
                    eprintln!("{r:?}");
                }
                Control::Continue
            },
        )
        .unwrap();
        let (psi_det, z_det) = value_function(&s.problem, &det.x);
        let sto = penalty_stochastic(
            &s.problem,
            x0.as_ref(),
            None,
            &StochasticParams::default()
                .variant(Variant::DoubleLoop)
                .sigma(1e-1)
                .sigma_min(Some(1e-2))
                .batch_size(32)
                .max_move(0.05)
                .outer_ratio(Some(1e-3))
                .max_iters(5_000)
                .eval_every(1000)
                .seed(1),
            |_| Control::Continue,
        )
        .unwrap();
        let (psi_sto, z_sto) = value_function(&s.problem, &sto.x);
        let acc = |z: &Col<f64>| {
            100.0
                * s.problem
                    .accuracy(s.test.as_ref(), &s.test_labels, z.as_ref())
        };
        eprintln!(
            "{name}: psi(x0) {psi0:.4} (test {:.1} %), deterministic {psi_det:.4} (test {:.1} %, {} calls), stochastic {psi_sto:.4} (test {:.1} %, {} batch calls of 32)",
            acc(&z0),
            acc(&z_det),
            det.calls.gradient_calls(),
            acc(&z_sto),
            sto.calls.gradient_calls(),
        );
        assert!(
            psi_det < psi0,
            "{name}: the deterministic method did not improve on x0"
        );
        // "Reaches": at most 5 % above the deterministic value (on wine it
        // ends lower: the deterministic run stops at a stationary point of
        // the nonconvex ψ_σ that the noisy one passes).
        assert!(
            psi_sto <= 1.05 * psi_det,
            "{name}: stochastic {psi_sto} vs deterministic {psi_det}"
        );
    }
}
