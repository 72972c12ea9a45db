//! Hostile input to the public entry points: problem sizes beyond memory,
//! non-finite and mismatched starting points, every invalid parameter. Each
//! call returns `Err` (or a finite report); none may panic or abort.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bilevel_penalty::instances::Quadratic;
use bilevel_penalty::*;
use linalg_core::faer::Col;

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked"))
}

fn err<T, E: std::fmt::Debug>(what: &str, r: std::result::Result<T, E>) {
    assert!(r.is_err(), "{what}: accepted");
}

#[test]
fn sizes_starts_and_parameters() {
    for n in [usize::MAX, 1 << 40] {
        err("nx", no_panic("random", || Quadratic::random(n, 3, 0.1, 0)));
        err("ny", no_panic("random", || Quadratic::random(3, n, 0.1, 0)));
    }
    err(
        "nx 0",
        no_panic("random", || Quadratic::random(0, 3, 0.1, 0)),
    );
    for l in [f64::NAN, -1.0, f64::INFINITY] {
        err(
            "lambda",
            no_panic("random", || Quadratic::random(3, 4, l, 0)),
        );
    }
    let q = Quadratic::random(3, 4, 0.1, 0).unwrap();
    let x0 = Col::<f64>::zeros(3);
    let pp = PenaltyParams::default();
    for bad in [
        Col::<f64>::zeros(2),
        Col::from_fn(3, |i| if i == 1 { f64::NAN } else { 0.0 }),
        Col::<f64>::zeros(0),
    ] {
        err(
            "x0",
            no_panic("penalty", || {
                penalty(&q, bad.as_ref(), None, &pp, |_| Control::Continue)
            }),
        );
    }
    let y_bad = Col::from_fn(4, |_| f64::INFINITY);
    err(
        "y0",
        no_panic("penalty", || {
            penalty(&q, x0.as_ref(), Some(y_bad.as_ref()), &pp, |_| {
                Control::Continue
            })
        }),
    );
    for v in [f64::NAN, -1.0, 0.0, f64::INFINITY] {
        let p = PenaltyParams { sigma: v, ..pp };
        err(
            "sigma",
            no_panic("penalty", || {
                penalty(&q, x0.as_ref(), None, &p, |_| Control::Continue)
            }),
        );
        let p = PenaltyParams { grad_tol: v, ..pp };
        err(
            "grad_tol",
            no_panic("penalty", || {
                penalty(&q, x0.as_ref(), None, &p, |_| Control::Continue)
            }),
        );
    }
    let p = PenaltyParams {
        max_iters: 30,
        ..pp
    };
    let r = no_panic("penalty", || {
        penalty(&q, x0.as_ref(), None, &p, |_| Control::Continue)
    })
    .unwrap();
    assert!(r.value.is_finite() && r.iterations <= 30);
}
