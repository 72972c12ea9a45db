//! Hostile input to every public solver and problem constructor: NaN,
//! infinities, empty and mismatched starts, every invalid parameter, and
//! sizes that would not fit in memory. Each call returns `Err` or a finite
//! report; none may panic or abort.

use std::panic::{AssertUnwindSafe, catch_unwind};

use linalg_core::faer::Col;
use linalg_core::objective::Rosenbrock;
use optimizers::objectives::{ChebyshevRosenbrock, LogSumExp, NormPow4};
use optimizers::*;

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked"))
}

fn err<T, E: std::fmt::Debug>(what: &str, r: std::result::Result<T, E>) {
    assert!(r.is_err(), "{what}: accepted");
}

#[test]
fn problem_sizes_beyond_memory_are_refused() {
    for n in [usize::MAX, 1 << 60, 1 << 40] {
        err("rosenbrock", no_panic("rosenbrock", || Rosenbrock::new(n)));
        err(
            "chebyshev",
            no_panic("chebyshev", || ChebyshevRosenbrock::new(n, 2.0)),
        );
        err(
            "logsumexp",
            no_panic("lse", || LogSumExp::random(n, 3, 1.0, 0)),
        );
        err(
            "logsumexp",
            no_panic("lse", || LogSumExp::random(1 << 20, 1 << 20, 1.0, 0)),
        );
        err("normpow4", no_panic("np4", || NormPow4::random(3, n, 0)));
    }
    for p in [f64::NAN, 1.0, f64::INFINITY] {
        err(
            "chebyshev p",
            no_panic("chebyshev p", || ChebyshevRosenbrock::new(4, p)),
        );
    }
    for mu in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        err(
            "lse mu",
            no_panic("lse mu", || LogSumExp::random(4, 3, mu, 0)),
        );
    }
    err("rosenbrock 1", no_panic("r1", || Rosenbrock::new(1)));
    err(
        "lse 0",
        no_panic("lse0", || LogSumExp::random(0, 3, 1.0, 0)),
    );
}

#[test]
fn solvers_refuse_bad_starts_and_parameters() {
    let f = Rosenbrock::new(4).unwrap();
    let good = f.classic_start();
    let run = RunParams {
        max_iters: 50,
        ..Default::default()
    };
    let methods = |lr: f64| {
        let adam = AdamParams {
            lr,
            ..Default::default()
        };
        vec![
            Method::Gd { lr },
            Method::GdArmijo { lr0: lr },
            Method::Nesterov {
                l: 1.0 / lr,
                mu: 0.0,
            },
            Method::Adam(adam),
            Method::AmsGrad(adam),
            Method::DiffGrad(adam),
        ]
    };
    // Bad starts: wrong length, NaN, infinity, empty.
    let starts = [
        Col::<f64>::zeros(3),
        Col::from_fn(4, |i| if i == 2 { f64::NAN } else { 0.0 }),
        Col::from_fn(4, |i| if i == 0 { f64::INFINITY } else { 0.0 }),
        Col::<f64>::zeros(0),
    ];
    for x0 in &starts {
        for m in methods(1e-3) {
            err(
                "start",
                no_panic("minimize", || {
                    minimize(&f, x0.as_ref(), m, &run, |_| Control::Continue)
                }),
            );
        }
        err(
            "grn start",
            no_panic("grn", || {
                grn(&f, x0.as_ref(), &GrnParams::default(), |_| {
                    Control::Continue
                })
            }),
        );
    }
    // Bad step sizes and momenta.
    for lr in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
        for m in methods(lr) {
            err(
                "lr",
                no_panic("minimize", || {
                    minimize(&f, good.as_ref(), m, &run, |_| Control::Continue)
                }),
            );
        }
    }
    for (b1, b2, eps, wd) in [
        (1.0, 0.999, 1e-8, 0.0),
        (-0.1, 0.999, 1e-8, 0.0),
        (0.9, 1.0, 1e-8, 0.0),
        (0.9, f64::NAN, 1e-8, 0.0),
        (0.9, 0.999, 0.0, 0.0),
        (0.9, 0.999, 1e-8, -1.0),
        (0.9, 0.999, 1e-8, f64::NAN),
    ] {
        let adam = AdamParams {
            lr: 1e-3,
            beta1: b1,
            beta2: b2,
            eps,
            weight_decay: wd,
        };
        err(
            "adam",
            no_panic("adam", || {
                minimize(&f, good.as_ref(), Method::Adam(adam), &run, |_| {
                    Control::Continue
                })
            }),
        );
    }
    for (l, mu) in [
        (f64::NAN, 0.0),
        (1.0, 2.0),
        (-1.0, 0.0),
        (1.0, f64::NAN),
        (0.0, 0.0),
    ] {
        err(
            "nesterov",
            no_panic("nesterov", || {
                minimize(&f, good.as_ref(), Method::Nesterov { l, mu }, &run, |_| {
                    Control::Continue
                })
            }),
        );
    }
    err(
        "tmm needs mu",
        no_panic("tmm", || {
            minimize(
                &f,
                good.as_ref(),
                Method::Tmm { l: 1.0, mu: 0.0 },
                &run,
                |_| Control::Continue,
            )
        }),
    );
    for v in [f64::NAN, -1.0, f64::INFINITY] {
        let p = RunParams { grad_tol: v, ..run };
        err(
            "grad_tol",
            no_panic("run", || {
                minimize(&f, good.as_ref(), Method::Gd { lr: 1e-3 }, &p, |_| {
                    Control::Continue
                })
            }),
        );
        let g = GrnParams {
            regularisation: Regularisation::GradNorm { gamma0: v },
            ..Default::default()
        };
        err(
            "gamma0",
            no_panic("grn", || grn(&f, good.as_ref(), &g, |_| Control::Continue)),
        );
    }
    for v in [0.0, f64::NAN, 1.0, -0.5, f64::INFINITY] {
        let g = GrnParams::default().forcing(Forcing::Fixed(v));
        err(
            "forcing",
            no_panic("grn", || grn(&f, good.as_ref(), &g, |_| Control::Continue)),
        );
    }
    // max_iters = 0 is valid: the report of the starting point.
    let p = RunParams {
        max_iters: 0,
        ..run
    };
    let rep = no_panic("run", || {
        minimize(&f, good.as_ref(), Method::Gd { lr: 1e-3 }, &p, |_| {
            Control::Continue
        })
    })
    .unwrap();
    assert_eq!(rep.iterations, 0);
    assert!(rep.value.is_finite());
}

#[test]
fn a_dense_newton_model_that_cannot_fit_is_refused_and_divergence_is_reported() {
    // 10⁶ unknowns: an 8 TB dense Hessian model, refused before allocating;
    // the matrix-free solver runs.
    let f = Rosenbrock::new(1_000_000).unwrap();
    let x0 = f.classic_start();
    let e = no_panic("grn dense", || {
        grn(
            &f,
            x0.as_ref(),
            &GrnParams::default().solver(LinearSolver::Direct),
            |_| Control::Continue,
        )
    });
    assert!(
        format!("{:?}", e.as_ref().err()).contains("TooLarge"),
        "{e:?}"
    );
    // The default (Auto) solves the exact Hessian matrix-free.
    let mf = GrnParams {
        solver: LinearSolver::Auto,
        run: RunParams {
            max_iters: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    let rep = no_panic("grn matrix-free", || {
        grn(&f, x0.as_ref(), &mf, |_| Control::Continue)
    })
    .unwrap();
    assert!(rep.value.is_finite());
    // A step size that makes gradient descent diverge: an error or a finite,
    // unconverged report, never a silent NaN.
    let small = Rosenbrock::new(4).unwrap();
    let r = no_panic("diverge", || {
        minimize(
            &small,
            small.classic_start().as_ref(),
            Method::Gd { lr: 1e3 },
            &RunParams {
                max_iters: 100,
                ..Default::default()
            },
            |_| Control::Continue,
        )
    });
    if let Ok(rep) = r {
        assert!(!rep.converged);
        assert!(
            rep.value.is_finite() && rep.x.iter().all(|v| v.is_finite()),
            "{:?}",
            rep.value
        );
    }
}
