//! CG driver against dense direct solves and on operators it must reject.

use linalg_core::cg::{Cg, CgParams, cg};
use linalg_core::faer::matrix_free::IdentityPrecond;
use linalg_core::faer::prelude::Solve;
use linalg_core::faer::{Col, Mat, Side};
use linalg_core::op::{DenseOp, FnOp, check_finite};
use linalg_core::{Control, Definiteness, Error, ParamError, Termination};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `A = GᵀG/n + 0.1·I`, a random SPD matrix with condition number in the hundreds.
fn random_spd(n: usize, seed: u64) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = Mat::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
    let mut a = g.transpose() * &g * (1.0 / n as f64);
    for i in 0..n {
        a[(i, i)] += 0.1;
    }
    a
}

fn random_vec(n: usize, seed: u64) -> Col<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Col::from_fn(n, |_| rng.random_range(-1.0..1.0))
}

#[test]
fn matches_dense_cholesky_on_random_spd() {
    let n = 120;
    let a = random_spd(n, 7);
    let b = random_vec(n, 8);
    let reference = a.llt(Side::Lower).unwrap().solve(&b);
    let op = DenseOp::new(a.clone()).unwrap();
    let report = cg(&op, b.as_ref(), 1e-13, 2000).unwrap();
    assert!(report.converged);
    assert_eq!(report.termination, Termination::Converged);
    let err = (&report.x - &reference).norm_l2() / reference.norm_l2();
    assert!(err < 1e-8, "relative error vs Cholesky {err}");
    // History: starts at 1 (x0 = 0), one record per iteration, ends at the reported value.
    assert_eq!(report.history.len(), report.iterations + 1);
    assert_eq!(report.history[0].iteration, 0);
    assert!((report.history[0].relative_residual - 1.0).abs() < 1e-14);
    let last = report.history.last().unwrap();
    assert_eq!(last.iteration, report.iterations);
    assert!(last.relative_residual <= 1e-13);
    // The recorded (recursive) residual tracks the true one.
    let true_rel = (&b - &a * &report.x).norm_l2() / b.norm_l2();
    assert!(true_rel < 1e-11, "true residual {true_rel}");
}

#[test]
fn jacobi_preconditioner_and_initial_guess() {
    let n = 80;
    let mut a = random_spd(n, 11);
    // Badly scaled diagonal: Jacobi preconditioning must help.
    for i in 0..n {
        let s = 1.0 + 100.0 * (i as f64 / n as f64);
        for j in 0..n {
            a[(i, j)] *= s.sqrt();
            a[(j, i)] *= s.sqrt();
        }
    }
    let b = random_vec(n, 12);
    let reference = a.llt(Side::Lower).unwrap().solve(&b);
    let d: Vec<f64> = (0..n).map(|i| a[(i, i)]).collect();
    let jacobi = FnOp::new(
        n,
        move |mut out: linalg_core::faer::ColMut<'_, f64>,
              r: linalg_core::faer::ColRef<'_, f64>| {
            for i in 0..r.nrows() {
                out[i] = r[i] / d[i];
            }
        },
    );
    let op = DenseOp::new(a).unwrap();
    let solver = Cg::new(CgParams::new().rtol(1e-12).max_iters(1000)).unwrap();
    let plain = solver.solve(&op, b.as_ref(), None).unwrap();
    let pre = solver
        .solve_with(&op, &jacobi, b.as_ref(), None, |_| Control::Continue)
        .unwrap();
    assert!(pre.converged && plain.converged);
    assert!(
        pre.iterations < plain.iterations,
        "{} vs {}",
        pre.iterations,
        plain.iterations
    );
    assert!((&pre.x - &reference).norm_l2() / reference.norm_l2() < 1e-9);
    // Starting from the solution converges in zero iterations.
    let warm = solver
        .solve(&op, b.as_ref(), Some(reference.as_ref()))
        .unwrap();
    assert_eq!(warm.iterations, 0);
    assert!(warm.converged);
}

#[test]
fn observer_sees_every_iteration_and_can_stop() {
    let n = 60;
    let a = random_spd(n, 3);
    let b = random_vec(n, 4);
    let op = DenseOp::new(a.clone()).unwrap();
    let solver = Cg::new(CgParams::new().rtol(1e-14)).unwrap();
    let mut seen = Vec::new();
    let id = IdentityPrecond { dim: n };
    let report = solver
        .solve_with(&op, &id, b.as_ref(), None, |r| {
            seen.push(r.iteration);
            if r.iteration == 5 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .unwrap();
    assert_eq!(seen, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(report.termination, Termination::Cancelled);
    assert!(!report.converged);
    assert_eq!(report.iterations, 5);
    check_finite("x", report.x.as_ref()).unwrap();
    // x is the 5th CG iterate: identical to a run capped at 5 iterations.
    let capped = Cg::new(CgParams::new().rtol(1e-14).max_iters(5))
        .unwrap()
        .solve(&op, b.as_ref(), None)
        .unwrap();
    assert_eq!(capped.termination, Termination::MaxIterations);
    assert!((&capped.x - &report.x).norm_l2() < 1e-12 * capped.x.norm_l2());
    let true_rel = (&b - &a * &report.x).norm_l2() / b.norm_l2();
    assert!((true_rel - report.relative_residual).abs() < 1e-10);
    assert!(matches!(
        capped.ensure_converged(),
        Err(Error::NoConvergence { iterations: 5, .. })
    ));
}

#[test]
fn indefinite_operator_is_an_error_not_nan() {
    // Symmetric with eigenvalues of both signs: Q diag(±λ) Qᵀ.
    let n = 40;
    let spd = random_spd(n, 21);
    let q = spd.self_adjoint_eigen(Side::Lower).unwrap().U().to_owned();
    let lam = Col::from_fn(n, |i| {
        if i % 3 == 0 {
            -1.0 - i as f64
        } else {
            1.0 + i as f64
        }
    });
    let a = &q * lam.as_diagonal() * q.transpose();
    let b = random_vec(n, 22);
    let op = DenseOp::new(a).unwrap();
    match cg(&op, b.as_ref(), 1e-10, 500) {
        Err(Error::NotPositiveDefinite {
            what: Definiteness::Operator,
            curvature,
            ..
        }) => assert!(curvature <= 0.0, "{curvature}"),
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    }
    // Exactly zero curvature on the first step: diag(1, −1) with b = (1, 1).
    let a = Mat::from_fn(2, 2, |i, j| {
        if i != j {
            0.0
        } else if i == 0 {
            1.0
        } else {
            -1.0
        }
    });
    let b = Col::<f64>::ones(2);
    let err = cg(&DenseOp::new(a).unwrap(), b.as_ref(), 1e-10, 10).unwrap_err();
    assert!(matches!(
        err,
        Error::NotPositiveDefinite {
            what: Definiteness::Operator,
            iteration: 0,
            ..
        }
    ));
    assert!(err.to_string().contains("not positive definite"));
}

#[test]
fn indefinite_preconditioner_is_an_error() {
    let n = 10;
    let a = random_spd(n, 5);
    let b = random_vec(n, 6);
    let neg = FnOp::new(
        n,
        |mut out: linalg_core::faer::ColMut<'_, f64>, r: linalg_core::faer::ColRef<'_, f64>| {
            for i in 0..r.nrows() {
                out[i] = -r[i];
            }
        },
    );
    let op = DenseOp::new(a).unwrap();
    let res = Cg::default().solve_with(&op, &neg, b.as_ref(), None, |_| Control::Continue);
    assert!(matches!(
        res,
        Err(Error::NotPositiveDefinite {
            what: Definiteness::Preconditioner,
            iteration: 0,
            ..
        })
    ));
}

#[test]
fn rejects_mismatched_sizes_and_bad_parameters() {
    let op = DenseOp::new(Mat::identity(4, 4)).unwrap();
    let b3 = Col::<f64>::ones(3);
    assert!(matches!(
        cg(&op, b3.as_ref(), 1e-8, 10),
        Err(Error::DimensionMismatch {
            expected: 4,
            found: 3,
            ..
        })
    ));
    let b4 = Col::<f64>::ones(4);
    let x0 = Col::<f64>::ones(5);
    assert!(matches!(
        Cg::default().solve(&op, b4.as_ref(), Some(x0.as_ref())),
        Err(Error::DimensionMismatch {
            expected: 4,
            found: 5,
            ..
        })
    ));
    let small = IdentityPrecond { dim: 3 };
    assert!(matches!(
        Cg::default().solve_with(&op, &small, b4.as_ref(), None, |_| Control::Continue),
        Err(Error::DimensionMismatch {
            expected: 4,
            found: 3,
            ..
        })
    ));
    let rect = DenseOp::new(Mat::zeros(4, 3)).unwrap();
    assert!(matches!(
        cg(&rect, b4.as_ref(), 1e-8, 10),
        Err(Error::NotSquare { .. })
    ));
    let mut bad = Col::<f64>::ones(4);
    bad[2] = f64::INFINITY;
    assert!(matches!(
        cg(&op, bad.as_ref(), 1e-8, 10),
        Err(Error::NonFinite { index: 2, .. })
    ));
    assert!(matches!(
        Cg::new(CgParams::new().rtol(-1.0)),
        Err(Error::Param(ParamError { name: "rtol", .. }))
    ));
    assert!(matches!(
        Cg::new(CgParams::new().max_iters(0)),
        Err(Error::Param(ParamError {
            name: "max_iters",
            ..
        }))
    ));
    // b = 0 gives x = 0 without iterating.
    let z = Col::<f64>::zeros(4);
    let r = cg(&op, z.as_ref(), 1e-8, 10).unwrap();
    assert!(r.converged && r.iterations == 0 && r.x.norm_l2() == 0.0);
}

#[test]
fn scale_safe_for_right_hand_sides_from_1e_minus_320_to_1e300() {
    // x = A⁻¹b scales with b: the relative error against Cholesky must not
    // depend on ‖b‖ (a zero residual from underflow would "converge" at once,
    // an overflowing curvature would read as "not positive definite").
    let n = 40;
    let a = random_spd(n, 31);
    let b0 = random_vec(n, 32);
    let reference = a.llt(Side::Lower).unwrap().solve(&b0);
    let op = DenseOp::new(a).unwrap();
    let base = cg(&op, b0.as_ref(), 1e-12, 500).unwrap();
    for scale in [1e-320, 1e-300, 1e-150, 1e150, 1e300] {
        let b = &b0 * scale;
        let rep = cg(&op, b.as_ref(), 1e-12, 500).unwrap();
        assert!(rep.converged, "b scaled by {scale:e}");
        // Powers of two aside, the iterates are the unscaled ones.
        assert!(
            rep.iterations.abs_diff(base.iterations) <= 1,
            "{scale:e}: {} vs {} iterations",
            rep.iterations,
            base.iterations
        );
        let x = Col::from_fn(n, |i| rep.x[i] / scale);
        let err = (&x - &reference).norm_l2() / reference.norm_l2();
        // 1e-320 is subnormal: b itself carries only ~10 significant bits.
        let bar = if scale < 1e-307 { 1e-2 } else { 1e-9 };
        assert!(err < bar, "{scale:e}: relative error {err:e}");
    }
}

/// CG with rtol 0 on a seeded n × n SPD system (right-hand side from
/// `seed + 1`).
fn rtol_zero(n: usize, seed: u64, max_iters: usize) -> linalg_core::cg::CgReport {
    let op = DenseOp::new(random_spd(n, seed)).unwrap();
    let b = random_vec(n, seed + 1);
    Cg::new(CgParams::new().rtol(0.0).max_iters(max_iters))
        .unwrap()
        .solve(&op, b.as_ref(), None)
        .unwrap()
}

#[test]
fn rtol_zero_stops_at_the_floating_point_floor_as_stalled() {
    // Without an iteration limit in reach, rtol = 0 runs until the residual
    // reaches the floor; its curvature then underflows, which must not read
    // as "not positive definite".
    let rep = rtol_zero(20, 43, 100_000);
    assert!(
        matches!(
            rep.termination,
            Termination::Stalled | Termination::Converged
        ),
        "{:?}",
        rep.termination
    );
    assert!(rep.iterations < 100_000);
    assert!(rep.relative_residual < 1e-13, "{}", rep.relative_residual);
}

#[test]
fn rtol_zero_iterates_to_the_limit() {
    let rep = rtol_zero(30, 41, 7);
    assert_eq!(rep.termination, Termination::MaxIterations);
    assert_eq!(rep.iterations, 7);
    assert!(!rep.converged);
}

#[test]
fn breakdown_non_finite_and_indefinite_are_three_errors() {
    // Breakdown: A p = 0 for p = b ≠ 0 (a singular operator).
    let a = Mat::from_fn(2, 2, |i, j| if i == j && i == 0 { 1.0 } else { 0.0 });
    let b = Col::from_fn(2, |i| i as f64);
    let e = cg(&DenseOp::new(a).unwrap(), b.as_ref(), 1e-10, 10).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Breakdown {
                what: Definiteness::Operator,
                iteration: 0
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("broke down"));
    assert!(!e.is_input_error());
    // Non-finite: an operator whose products overflow.
    let huge = FnOp::new(
        3,
        |mut out: linalg_core::faer::ColMut<'_, f64>, x: linalg_core::faer::ColRef<'_, f64>| {
            for i in 0..3 {
                out[i] = x[i] * 1e308 * 10.0;
            }
        },
    );
    let b = Col::<f64>::ones(3);
    let e = cg(&huge, b.as_ref(), 1e-10, 10).unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { context, .. } if context.contains("operator")),
        "{e:?}"
    );
    assert!(!e.is_input_error());
    // Not positive definite: a negative curvature.
    let neg = DenseOp::new(Mat::from_fn(2, 2, |i, j| if i == j { -1.0 } else { 0.0 })).unwrap();
    let e = cg(&neg, Col::<f64>::ones(2).as_ref(), 1e-10, 10).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotPositiveDefinite {
                what: Definiteness::Operator,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("not positive definite"));
    assert!(e.is_input_error());
}
