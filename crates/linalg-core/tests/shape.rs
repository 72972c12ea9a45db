//! The shared solver shape: every iterative entry point stops from its
//! observer with `Cancelled` and a history of the iterations seen, every
//! params struct rejects each invalid value with a `ParamError` naming it,
//! and the shared objectives' Hessian operators agree with dense Hessians.

use linalg_core::cg::{Cg, CgParams};
use linalg_core::faer::matrix_free::IdentityPrecond;
use linalg_core::faer::{Col, Mat};
use linalg_core::lanczos::{LanczosParams, lanczos_with};
use linalg_core::objective::{Logistic, Quadratic, Rosenbrock, Softmax};
use linalg_core::op::{DenseOp, ShiftedOp, to_dense};
use linalg_core::{
    Control, Error, Objective, ParamError, Termination, check_gradient, check_hessian_vec,
};

fn spd(n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| {
        let d = (i as f64 - j as f64).abs();
        if i == j {
            4.0 + i as f64
        } else {
            1.0 / (1.0 + d)
        }
    })
}

fn stop_at_3<R>(iteration: impl Fn(&R) -> usize) -> impl FnMut(&R) -> Control {
    move |r| {
        if iteration(r) == 3 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn cg_and_lanczos_stop_from_the_observer_after_3_iterations() {
    let a = DenseOp::new(spd(30)).unwrap();
    let b = Col::<f64>::ones(30);
    let rep = Cg::new(CgParams::new().rtol(1e-14))
        .unwrap()
        .solve_with(
            &a,
            &IdentityPrecond { dim: 30 },
            b.as_ref(),
            None,
            stop_at_3(|r: &linalg_core::CgRecord| r.iteration),
        )
        .unwrap();
    assert_eq!(rep.termination, Termination::Cancelled);
    assert!(!rep.converged);
    assert_eq!(rep.iterations, 3);
    assert_eq!(rep.history.len(), 4, "records of iterations 0..=3");
    // Work: one product per iteration plus the initial residual's A·x₀.
    assert_eq!(rep.work.precond_applies, 4);
    assert!(rep.work.matvecs >= 4);

    let lz = lanczos_with(
        &a,
        b.as_ref(),
        &LanczosParams::new(20),
        stop_at_3(|r: &linalg_core::LanczosRecord| r.iteration),
    )
    .unwrap();
    assert_eq!(lz.termination, Termination::Cancelled);
    assert_eq!(lz.history.len(), 3, "records of steps 1..=3");
    assert_eq!((lz.iterations, lz.alpha.len(), lz.work.matvecs), (3, 3, 3));
    let full = lanczos_with(&a, b.as_ref(), &LanczosParams::new(20), |_| {
        Control::Continue
    })
    .unwrap();
    assert_eq!(full.termination, Termination::Converged);
    assert_eq!(full.history.len(), 20);
    // The first three α of the cancelled run are those of the full run.
    for k in 0..3 {
        assert_eq!(lz.alpha[k], full.alpha[k]);
    }
}

fn name_of<T: std::fmt::Debug>(r: linalg_core::Result<T>) -> &'static str {
    match r {
        Err(Error::Param(ParamError { name, .. })) => name,
        other => panic!("expected a ParamError, got {other:?}"),
    }
}

#[test]
fn every_invalid_parameter_is_named() {
    for (p, name) in [
        (CgParams::new().rtol(-1.0), "rtol"),
        (CgParams::new().rtol(1.0), "rtol"),
        (CgParams::new().rtol(f64::NAN), "rtol"),
        (CgParams::new().atol(-1e-3), "atol"),
        (CgParams::new().atol(f64::INFINITY), "atol"),
        (CgParams::new().max_iters(0), "max_iters"),
    ] {
        assert_eq!(name_of(p.validate()), name);
        assert_eq!(name_of(Cg::new(p)), name);
    }
    for (p, name) in [
        (LanczosParams::new(0), "steps"),
        (LanczosParams::new(3).breakdown_tol(-1.0), "breakdown_tol"),
        (
            LanczosParams::new(3).breakdown_tol(f64::NAN),
            "breakdown_tol",
        ),
    ] {
        assert_eq!(name_of(p.validate()), name);
    }
    assert!(CgParams::default().validate().is_ok());
    assert!(LanczosParams::default().validate().is_ok());
    assert_eq!(
        name_of(LanczosParams::default().steps(0).validate()),
        "steps"
    );
    let a = || DenseOp::new(spd(3)).unwrap();
    assert_eq!(name_of(ShiftedOp::new(a(), f64::NAN, 0.0)), "alpha");
    assert_eq!(name_of(ShiftedOp::new(a(), 1.0, f64::INFINITY)), "sigma");
    assert_eq!(name_of(Rosenbrock::new(1)), "n");
    let x = Mat::from_fn(4, 2, |i, j| (i + j) as f64);
    assert_eq!(
        name_of(Logistic::new(x.as_ref(), &[1.0, -1.0, 1.0, -1.0], -1.0)),
        "reg"
    );
    assert_eq!(
        name_of(Logistic::new(x.as_ref(), &[1.0, 0.0, 1.0, -1.0], 0.0)),
        "labels"
    );
    assert_eq!(
        name_of(Softmax::new(x.as_ref(), &[0, 1, 0, 1], 1, 0.0)),
        "classes"
    );
    assert_eq!(
        name_of(Softmax::new(x.as_ref(), &[0, 1, 2, 1], 2, 0.0)),
        "labels"
    );
    assert_eq!(
        name_of(Softmax::new(x.as_ref(), &[0, 1, 0, 1], 2, f64::NAN)),
        "reg"
    );
    assert!(matches!(
        Logistic::new(x.as_ref(), &[1.0, -1.0], 0.0),
        Err(Error::DimensionMismatch {
            expected: 4,
            found: 2,
            ..
        })
    ));
}

/// A small deterministic classification design.
fn design(m: usize, d: usize) -> (Mat<f64>, Vec<f64>, Vec<usize>) {
    let x = Mat::from_fn(m, d, |i, j| {
        ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0 + 0.1 * j as f64
    });
    let y: Vec<f64> = (0..m)
        .map(|i| if (i * 5) % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    let l: Vec<usize> = (0..m).map(|i| (i * 5 + i / 3) % 3).collect();
    (x, y, l)
}

/// `hessian_vec`, `hessian_op` and the dense Hessian agree, and the
/// derivatives pass the finite-difference checks.
fn check_derivatives(f: &impl Objective, x: Col<f64>) {
    assert!(check_gradient(f, x.as_ref()).unwrap() < 1e-6);
    let n = f.dim();
    let v = Col::from_fn(n, |i| (i as f64 + 0.5).sin());
    assert!(check_hessian_vec(f, x.as_ref(), v.as_ref()).unwrap() < 1e-6);
    let h = f.hessian(x.as_ref()).unwrap();
    let op = to_dense(&f.hessian_op(x.as_ref()));
    let rel = (&op - &h).norm_max() / h.norm_max();
    assert!(rel < 1e-13, "hessian_op vs dense Hessian: {rel:e}");
    let mut hv = Col::zeros(n);
    f.hessian_vec(x.as_ref(), v.as_ref(), hv.as_mut());
    assert!((&h * &v - &hv).norm_l2() < 1e-12 * hv.norm_l2().max(1.0));
}

#[test]
fn shared_objectives_have_consistent_derivatives_and_hessian_operators() {
    let (x, y, l) = design(40, 3);
    let logi = Logistic::new(x.as_ref(), &y, 1e-2).unwrap();
    check_derivatives(&logi, Col::from_fn(4, |i| 0.3 - 0.2 * i as f64));
    let soft = Softmax::new(x.as_ref(), &l, 3, 1e-2).unwrap();
    check_derivatives(
        &soft,
        Col::from_fn(12, |i| ((i * 3) % 5) as f64 / 10.0 - 0.2),
    );
    let r = Rosenbrock::new(5).unwrap();
    check_derivatives(&r, r.classic_start());
    let q = Quadratic::new(spd(4), Col::ones(4)).unwrap();
    check_derivatives(&q, Col::zeros(4));
    // Closed form: the logistic loss at w = 0 is log 2 for any data.
    assert!((logi.value(Col::zeros(4).as_ref()) - std::f64::consts::LN_2).abs() < 1e-15);
    // Softmax at W = 0: log K.
    assert!((soft.value(Col::zeros(12).as_ref()) - 3f64.ln()).abs() < 1e-15);
}
