//! Hostile input to the public entry points: model shapes beyond memory or
//! empty, NaN in data and parameters, mismatched shapes, non-square and
//! non-finite operators, and every invalid estimator budget. Each call
//! returns `Err` (or a finite result); none may panic or abort.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hessian_tools::*;
use linalg_core::faer::{Col, Mat};
use linalg_core::op::DenseOp;

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked"))
}

fn err<T, E: std::fmt::Debug>(what: &str, r: std::result::Result<T, E>) {
    assert!(r.is_err(), "{what}: accepted");
}

#[test]
fn models_refuse_bad_shapes_data_and_parameters() {
    for sizes in [
        vec![],
        vec![3],
        vec![3, 0, 2],
        vec![usize::MAX, 2],
        vec![1 << 32, 1 << 32],
        vec![1 << 20, 1 << 20, 3],
    ] {
        err(
            "sizes",
            no_panic("mlp", || Mlp::new(&sizes, Activation::Tanh, true)),
        );
    }
    let mlp = Mlp::new(&[3, 4, 2], Activation::Tanh, true).unwrap();
    let x = Mat::from_fn(10, 3, |i, j| (i + j) as f64 / 10.0);
    let y = Mat::from_fn(10, 2, |i, j| ((i + j) % 2) as f64);
    assert!(MlpLoss::new(mlp.clone(), Loss::Mse, x.as_ref(), y.as_ref()).is_ok());
    let mut xn = x.clone();
    xn[(1, 1)] = f64::NAN;
    err(
        "x nan",
        no_panic("loss", || {
            MlpLoss::new(mlp.clone(), Loss::Mse, xn.as_ref(), y.as_ref())
        }),
    );
    let x2 = Mat::from_fn(10, 2, |_, _| 0.0);
    err(
        "x cols",
        no_panic("loss", || {
            MlpLoss::new(mlp.clone(), Loss::Mse, x2.as_ref(), y.as_ref())
        }),
    );
    let y9 = Mat::from_fn(9, 2, |_, _| 0.0);
    err(
        "y rows",
        no_panic("loss", || {
            MlpLoss::new(mlp.clone(), Loss::Mse, x.as_ref(), y9.as_ref())
        }),
    );
    let x0 = Mat::<f64>::zeros(0, 3);
    let y0 = Mat::<f64>::zeros(0, 2);
    err(
        "no samples",
        no_panic("loss", || {
            MlpLoss::new(mlp.clone(), Loss::Mse, x0.as_ref(), y0.as_ref())
        }),
    );
    let loss = MlpLoss::new(mlp.clone(), Loss::Mse, x.as_ref(), y.as_ref()).unwrap();
    let theta = mlp.init(0);
    let short = Col::<f64>::zeros(theta.nrows() - 1);
    err(
        "theta len",
        no_panic("curvature", || {
            loss.curvature(short.as_ref(), CurvatureKind::Hessian)
                .map(|_| ())
        }),
    );
    let mut tn = theta.clone();
    tn[0] = f64::INFINITY;
    err(
        "theta inf",
        no_panic("curvature", || {
            loss.curvature(tn.as_ref(), CurvatureKind::Hessian)
                .map(|_| ())
        }),
    );
    for s in [0.0, f64::NAN, f64::INFINITY] {
        err(
            "output scale",
            no_panic("scale", || mlp.clone().with_output_scale(s)),
        );
    }
}

#[test]
fn estimators_refuse_bad_operators_and_budgets() {
    let a = Mat::from_fn(8, 8, |i, j| if i == j { 1.0 + i as f64 } else { 0.0 });
    let op = DenseOp::new(a).unwrap();
    let rect = DenseOp::new(Mat::<f64>::zeros(3, 4)).unwrap();
    err(
        "extremes rect",
        no_panic("extremes", || extremes(&rect, &EigParams::new(1))),
    );
    err(
        "trace rect",
        no_panic("trace", || {
            trace(&rect, &TraceParams::new(TraceMethod::Hutchinson, 4))
        }),
    );
    err(
        "slq rect",
        no_panic("slq", || slq(&rect, &SlqParams::default())),
    );
    for k in [0, 9, usize::MAX] {
        err(
            "k",
            no_panic("extremes", || extremes(&op, &EigParams::new(k))),
        );
        err(
            "k",
            no_panic("power", || power_deflated(&op, &PowerParams::new(k))),
        );
    }
    for m in [0, 1, usize::MAX, 1 << 40] {
        for method in [
            TraceMethod::Hutchinson,
            TraceMethod::HutchPlusPlus,
            TraceMethod::XTrace,
            TraceMethod::XNysTrace,
        ] {
            err(
                "matvecs",
                no_panic("trace", || trace(&op, &TraceParams::new(method, m))),
            );
        }
    }
    for (steps, probes) in [(0, 5), (10, 0), (usize::MAX, 2), (10, usize::MAX)] {
        let p = SlqParams {
            steps,
            probes,
            ..SlqParams::default()
        };
        err("slq", no_panic("slq", || slq(&op, &p)));
    }
    // An operator that produces NaN: refused, not a NaN estimate.
    let nan = linalg_core::op::FnOp::new(
        8,
        |mut out: linalg_core::faer::ColMut<'_, f64>, x: linalg_core::faer::ColRef<'_, f64>| {
            for i in 0..8 {
                out[i] = x[i] * f64::NAN;
            }
        },
    );
    err(
        "nan op",
        no_panic("extremes", || extremes(&nan, &EigParams::new(2))),
    );
    err(
        "nan op",
        no_panic("trace", || {
            trace(&nan, &TraceParams::new(TraceMethod::HutchPlusPlus, 12))
        }),
    );
    err(
        "nan op",
        no_panic("slq", || slq(&nan, &SlqParams::default())),
    );
}
