//! Hostile input to the public entry points: grid sizes, right-hand sides
//! that are short, NaN or infinite, and every invalid parameter. Each call
//! returns `Err` (or a finite report); none may panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use deep_cg::*;
use linalg_core::faer::Col;

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked"))
}

fn err<T, E: std::fmt::Debug>(what: &str, r: std::result::Result<T, E>) {
    assert!(r.is_err(), "{what}: accepted");
}

#[test]
fn grids_right_hand_sides_and_parameters() {
    for n in [0, 1, 3, 6, 1024, usize::MAX, 1 << 40] {
        err("grid", no_panic("build", || Scene::Box.build(n, 0)));
    }
    err("scene", no_panic("scene", || Scene::from_name("nope")));
    let system = PoissonSystem::new(Scene::SmokePlume.build(8, 0).unwrap());
    let n = system.len();
    let b = system.divergence_rhs(1);
    let params = SolveParams::new(Method::MgPcg);
    for bad in [
        Col::<f64>::zeros(n - 1),
        Col::from_fn(n, |i| if i == 5 { f64::NAN } else { 1.0 }),
        Col::from_fn(n, |i| if i == 7 { f64::INFINITY } else { 1.0 }),
    ] {
        err(
            "rhs",
            no_panic("solve", || {
                solve(&system, bad.as_ref(), &params, |_| Control::Continue)
            }),
        );
    }
    for v in [f64::NAN, -1.0, 1.0, f64::INFINITY] {
        let p = SolveParams::new(Method::Cg).rtol(v);
        err(
            "rtol",
            no_panic("solve", || {
                solve(&system, b.as_ref(), &p, |_| Control::Continue)
            }),
        );
    }
    let mut p = SolveParams::new(Method::Cg);
    p.max_iters = Some(0);
    err(
        "max_iters 0",
        no_panic("solve", || {
            solve(&system, b.as_ref(), &p, |_| Control::Continue)
        }),
    );
    // Extreme but valid: a zero right-hand side, rtol = 0 (to the limit).
    let zero = Col::<f64>::zeros(n);
    for method in Method::ALL {
        let r = no_panic("zero rhs", || {
            solve(&system, zero.as_ref(), &SolveParams::new(method), |_| {
                Control::Continue
            })
        })
        .unwrap();
        assert!(r.x.iter().all(|v| *v == 0.0) && r.relative_residual.is_finite());
        let mut p = SolveParams::new(method).rtol(0.0);
        p.max_iters = Some(5);
        let r = no_panic("rtol 0", || {
            solve(&system, b.as_ref(), &p, |_| Control::Continue)
        })
        .unwrap();
        assert!(r.iterations <= 5 && r.relative_residual.is_finite());
    }
}

#[test]
fn a_solve_that_cannot_fit_the_budget_is_refused_before_allocating() {
    let sys = PoissonSystem::new(Scene::Box.build(16, 0).unwrap());
    let b = sys.divergence_rhs(1);
    // 16³ cells × 112 bytes = 458 752 bytes: over a 100 kB budget. (The
    // budget is process-wide; the other test here solves on 8³, 57 344
    // bytes, which fits it either way.)
    linalg_core::budget::set_max_memory(100_000);
    let r = solve(&sys, b.as_ref(), &SolveParams::new(Method::MgPcg), |_| {
        Control::Continue
    });
    linalg_core::budget::reset_max_memory();
    let e = r.unwrap_err();
    assert!(e.to_string().contains("bytes a cell"), "{e}");
    assert!(e.is_input_error());
    assert!(
        solve(&sys, b.as_ref(), &SolveParams::new(Method::MgPcg), |_| {
            Control::Continue
        })
        .is_ok()
    );
}
