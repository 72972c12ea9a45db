//! Hostile input to the public entry points: NaN and infinite data, empty
//! and mismatched data, every invalid parameter. Each call returns `Err` (or
//! a finite report); none may panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use linalg_core::faer::Mat;
use relu_convex_admm::*;

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked"))
}

fn err<T, E: std::fmt::Debug>(what: &str, r: std::result::Result<T, E>) {
    assert!(r.is_err(), "{what}: accepted");
}

fn data() -> (Mat<f64>, Vec<f64>) {
    let x = Mat::from_fn(12, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.4);
    let y = (0..12)
        .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    (x, y)
}

#[test]
fn programs_refuse_bad_data() {
    let (x, y) = data();
    let p = Patterns::sample(x.as_ref(), 5, 0).unwrap();
    assert!(ConvexProgram::new(x.as_ref(), &y, p.clone()).is_ok());
    for v in [f64::NAN, f64::INFINITY] {
        let mut xb = x.clone();
        xb[(2, 1)] = v;
        err(
            "x",
            no_panic("sample", || Patterns::sample(xb.as_ref(), 5, 0)),
        );
        err(
            "x",
            no_panic("program", || ConvexProgram::new(xb.as_ref(), &y, p.clone())),
        );
        let mut yb = y.clone();
        yb[3] = v;
        err(
            "y",
            no_panic("program", || ConvexProgram::new(x.as_ref(), &yb, p.clone())),
        );
    }
    err(
        "y length",
        no_panic("program", || {
            ConvexProgram::new(x.as_ref(), &y[..5], p.clone())
        }),
    );
    let empty = Mat::<f64>::zeros(0, 3);
    err(
        "empty",
        no_panic("sample", || Patterns::sample(empty.as_ref(), 5, 0)),
    );
    for k in [0, usize::MAX, 1 << 40] {
        err(
            "patterns",
            no_panic("sample", || Patterns::sample(x.as_ref(), k, 0)),
        );
    }
    // Labels outside ±1 for the classification losses.
    let prog = ConvexProgram::new(x.as_ref(), &[0.5; 12], p.clone()).unwrap();
    for loss in [Loss::Logistic, Loss::Hinge] {
        err("labels", no_panic("loss", || prog.clone().with_loss(loss)));
    }
}

#[test]
fn admm_refuses_every_invalid_parameter() {
    let (x, y) = data();
    let p = Patterns::sample(x.as_ref(), 5, 0).unwrap();
    let prog = ConvexProgram::new(x.as_ref(), &y, p).unwrap();
    for v in [f64::NAN, f64::INFINITY, -1.0] {
        err(
            "beta",
            no_panic("admm", || {
                admm(&prog, &AdmmParams::new(v), |_| Control::Continue)
            }),
        );
        let a = AdmmParams {
            rho: Some(v),
            ..AdmmParams::new(0.1)
        };
        err(
            "rho",
            no_panic("admm", || admm(&prog, &a, |_| Control::Continue)),
        );
        let a = AdmmParams {
            relaxation: v,
            ..AdmmParams::new(0.1)
        };
        err(
            "relaxation",
            no_panic("admm", || admm(&prog, &a, |_| Control::Continue)),
        );
        let a = AdmmParams {
            tol_abs: v,
            ..AdmmParams::new(0.1)
        };
        err(
            "tol_abs",
            no_panic("admm", || admm(&prog, &a, |_| Control::Continue)),
        );
    }
    let a = AdmmParams {
        relaxation: 2.5,
        ..AdmmParams::new(0.1)
    };
    err(
        "relaxation > 2",
        no_panic("admm", || admm(&prog, &a, |_| Control::Continue)),
    );
    let a = AdmmParams {
        max_iters: 0,
        ..AdmmParams::new(0.1)
    };
    err(
        "max_iters",
        no_panic("admm", || admm(&prog, &a, |_| Control::Continue)),
    );
    // Extreme but valid: a huge β zeroes the network, a tiny one barely
    // regularises; both stop at their limit or converge with finite numbers.
    for beta in [1e12, 1e-12] {
        let a = AdmmParams {
            max_iters: 200,
            ..AdmmParams::new(beta)
        };
        let r = no_panic("admm extreme", || admm(&prog, &a, |_| Control::Continue)).unwrap();
        assert!(r.objective.is_finite(), "β = {beta:e}");
    }
}

#[test]
fn the_local_search_refuses_bad_points_and_parameters_by_name() {
    let (x, y) = data();
    let prog =
        ConvexProgram::new(x.as_ref(), &y, Patterns::sample(x.as_ref(), 5, 0).unwrap()).unwrap();
    let (d, p) = (x.ncols(), prog.patterns().len());
    let good = Mat::from_fn(d, p, |i, j| 0.1 * (i + j) as f64);
    let name = |r: Result<(Mat<f64>, f64)>| {
        let e = r.expect_err("accepted");
        e.param_name().map(str::to_owned).unwrap_or_default()
    };
    let run = |v: &Mat<f64>, w: &Mat<f64>, beta: f64, steps: usize| {
        no_panic("local search", || {
            pricing::local_search_gates(&prog, v.as_ref(), w.as_ref(), beta, steps)
        })
    };
    assert!(run(&good, &good, 0.1, 10).is_ok());
    assert_eq!(name(run(&Mat::zeros(d + 1, p), &good, 0.1, 10)), "v");
    assert_eq!(name(run(&good, &Mat::zeros(d, p + 1), 0.1, 10)), "w");
    let mut nan = good.clone();
    nan[(0, 0)] = f64::NAN;
    assert_eq!(name(run(&nan, &good, 0.1, 10)), "v");
    assert_eq!(name(run(&good, &good, -1.0, 10)), "beta");
    assert_eq!(name(run(&good, &good, f64::NAN, 10)), "beta");
    assert_eq!(name(run(&good, &good, 0.1, 1_000_000)), "local_steps");
    // A limit of 0 runs no search: no gates, the convex objective.
    let (g, f) = run(&good, &good, 0.1, 0).unwrap();
    assert_eq!(g.ncols(), 0);
    assert_eq!(f, prog.objective(good.as_ref(), good.as_ref(), 0.1));
    // Pricing's own limits.
    for bad in [
        PricingParams {
            refine: 0,
            ..Default::default()
        },
        PricingParams {
            local_steps: 100_001,
            ..Default::default()
        },
    ] {
        err("pricing", no_panic("pricing", || bad.validate()));
    }
}
