//! Hostile input to every public entry point: NaN, infinities, empty and
//! mismatched inputs, sizes that would not fit in memory, and every invalid
//! parameter. Each call must return `Err` (or, where the input is merely
//! extreme, `Ok` with a finite report); none may panic or abort.

use std::panic::{AssertUnwindSafe, catch_unwind};

use linalg_core::faer::{Col, Mat};
use sinkhorn_newton::*;

/// Values that are never valid where a finite number is expected.
const NON_FINITE: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked"))
}

fn err<T, E: std::fmt::Debug>(what: &str, r: std::result::Result<T, E>) {
    assert!(r.is_err(), "{what}: accepted");
}

#[test]
fn sizes_beyond_memory_are_refused_before_allocating() {
    for n in [usize::MAX, 1 << 40, 1 << 31] {
        err(
            "random_assignment",
            no_panic("random_assignment", || instances::random_assignment(n, 0)),
        );
        err(
            "point_clouds",
            no_panic("point_clouds", || instances::point_clouds(n, 3, 2, 0)),
        );
        err(
            "point_clouds dim",
            no_panic("point_clouds dim", || instances::point_clouds(3, 3, n, 0)),
        );
        err("grid", no_panic("grid", || cost::grid(n, 2, 2)));
        err("grid", no_panic("grid", || cost::grid(1 << 20, 1 << 20, 2)));
        err(
            "density",
            no_panic("density", || {
                instances::gaussian_mixture_density(n, n, 3, 0)
            }),
        );
        err(
            "density",
            no_panic("density", || {
                instances::gaussian_mixture_density(4, 4, n, 0)
            }),
        );
    }
    for (h, w) in [(0, 3), (3, 0)] {
        err("grid", no_panic("grid", || cost::grid(h, w, 2)));
    }
    err("grid q", no_panic("grid q", || cost::grid(2, 2, 3)));
    err(
        "random_assignment 0",
        no_panic("ra", || instances::random_assignment(0, 0)),
    );
}

#[test]
fn problems_refuse_bad_marginals_costs_and_regularisation() {
    let (n, m) = (4, 5);
    let c = Mat::from_fn(n, m, |i, j| (i + j) as f64);
    let a = OtProblem::uniform(n);
    let b = OtProblem::uniform(m);
    assert!(OtProblem::new(a.as_ref(), b.as_ref(), c.as_ref(), 0.1).is_ok());
    for v in NON_FINITE {
        let mut cc = c.clone();
        cc[(1, 2)] = v;
        err(
            "cost",
            no_panic("cost", || {
                OtProblem::new(a.as_ref(), b.as_ref(), cc.as_ref(), 0.1)
            }),
        );
        let mut aa = a.clone();
        aa[0] = v;
        err(
            "marginal",
            no_panic("marginal", || {
                OtProblem::new(aa.as_ref(), b.as_ref(), c.as_ref(), 0.1)
            }),
        );
        err(
            "reg",
            no_panic("reg", || {
                OtProblem::new(a.as_ref(), b.as_ref(), c.as_ref(), v)
            }),
        );
    }
    for reg in [0.0, -1.0, -0.0] {
        err(
            "reg",
            no_panic("reg", || {
                OtProblem::new(a.as_ref(), b.as_ref(), c.as_ref(), reg)
            }),
        );
    }
    let mut neg = a.clone();
    neg[0] = -0.25;
    neg[1] += 0.5;
    err(
        "negative",
        no_panic("neg", || {
            OtProblem::new(neg.as_ref(), b.as_ref(), c.as_ref(), 0.1)
        }),
    );
    let heavy = &a * 2.0;
    err(
        "mass",
        no_panic("mass", || {
            OtProblem::new(heavy.as_ref(), b.as_ref(), c.as_ref(), 0.1)
        }),
    );
    let zero = Col::<f64>::zeros(n);
    err(
        "zero mass",
        no_panic("zero", || {
            OtProblem::new(zero.as_ref(), b.as_ref(), c.as_ref(), 0.1)
        }),
    );
    let short = OtProblem::uniform(n - 1);
    err(
        "shape",
        no_panic("shape", || {
            OtProblem::new(short.as_ref(), b.as_ref(), c.as_ref(), 0.1)
        }),
    );
    let e0 = Col::<f64>::zeros(0);
    let c0 = Mat::<f64>::zeros(0, 0);
    err(
        "empty",
        no_panic("empty", || {
            OtProblem::new(e0.as_ref(), e0.as_ref(), c0.as_ref(), 0.1)
        }),
    );
    // Point clouds.
    let x = Mat::from_fn(3, 2, |i, j| (i * j) as f64);
    let y3 = Mat::from_fn(4, 3, |i, j| (i + j) as f64);
    err(
        "dims",
        no_panic("dims", || cost::sqeuclidean(x.as_ref(), y3.as_ref())),
    );
    let mut xn = x.clone();
    xn[(0, 0)] = f64::NAN;
    err(
        "nan point",
        no_panic("nan", || cost::sqeuclidean(xn.as_ref(), x.as_ref())),
    );
    err(
        "empty points",
        no_panic("empty", || {
            cost::euclidean(Mat::<f64>::zeros(0, 2).as_ref(), x.as_ref())
        }),
    );
    // Images.
    err(
        "image size",
        no_panic("img", || {
            instances::image_pair(&[1.0; 3], &[1.0; 4], 2, 2, 2)
        }),
    );
    err(
        "image nan",
        no_panic("img", || {
            instances::image_pair(&[f64::NAN, 1.0, 1.0, 1.0], &[1.0; 4], 2, 2, 2)
        }),
    );
    err(
        "image dims",
        no_panic("img", || {
            instances::image_pair(&[1.0; 4], &[1.0; 4], usize::MAX, 2, 2)
        }),
    );
}

#[test]
fn solvers_refuse_every_invalid_parameter_and_survive_extreme_values() {
    let p = instances::random_assignment(12, 1)
        .unwrap()
        .problem(0.05)
        .unwrap();
    let bad_f = [f64::NAN, f64::INFINITY, -1.0, 0.0];
    for v in bad_f {
        let s = SinkhornParams {
            marginal_tol: v,
            ..Default::default()
        };
        err(
            "sinkhorn tol",
            no_panic("sinkhorn", || sinkhorn(&p, &s, None, |_| Control::Continue)),
        );
        let s = SnsParams {
            marginal_tol: v,
            ..Default::default()
        };
        err(
            "sns tol",
            no_panic("sns", || sns(&p, &s, |_| Control::Continue)),
        );
        let s = SinkhornParams {
            eps_scaling: Some(EpsScaling::new(v, 0.5)),
            ..Default::default()
        };
        err(
            "eps start",
            no_panic("sinkhorn", || sinkhorn(&p, &s, None, |_| Control::Continue)),
        );
        let s = SinkhornParams {
            eps_scaling: Some(EpsScaling::new(1.0, v)),
            ..Default::default()
        };
        err(
            "eps factor",
            no_panic("sinkhorn", || sinkhorn(&p, &s, None, |_| Control::Continue)),
        );
    }
    // The inner CG's rtol = 0 is valid (iterate to its limit).
    for v in [f64::NAN, -1.0, f64::INFINITY, 1.5] {
        let s = SnsParams {
            cg_rtol: v,
            ..Default::default()
        };
        err(
            "sns cg_rtol",
            no_panic("sns", || sns(&p, &s, |_| Control::Continue)),
        );
    }
    for v in [f64::NAN, -1.0, f64::INFINITY] {
        let s = SnsParams {
            shift_mu: v,
            ..Default::default()
        };
        err(
            "shift_mu",
            no_panic("sns", || sns(&p, &s, |_| Control::Continue)),
        );
    }
    let s = SinkhornParams {
        max_iters: 0,
        ..Default::default()
    };
    err(
        "max_iters 0",
        no_panic("sinkhorn", || sinkhorn(&p, &s, None, |_| Control::Continue)),
    );
    let s = SinkhornParams {
        check_every: 0,
        ..Default::default()
    };
    err(
        "check_every 0",
        no_panic("sinkhorn", || sinkhorn(&p, &s, None, |_| Control::Continue)),
    );
    let s = SnsParams {
        max_newton_iters: 0,
        ..Default::default()
    };
    // No Newton stage at all is valid: the Sinkhorn sweeps alone.
    let r = no_panic("sns", || sns(&p, &s, |_| Control::Continue)).unwrap();
    assert_eq!(r.newton_iterations, 0);
    // Warm starts of the wrong length or non-finite.
    let (x, y) = (Col::<f64>::zeros(3), Col::<f64>::zeros(12));
    err(
        "warm len",
        no_panic("warm", || {
            sinkhorn(
                &p,
                &SinkhornParams::default(),
                Some((x.as_ref(), y.as_ref())),
                |_| Control::Continue,
            )
        }),
    );
    let xn = Col::from_fn(12, |_| f64::NAN);
    err(
        "warm nan",
        no_panic("warm", || {
            sinkhorn(
                &p,
                &SinkhornParams::default(),
                Some((xn.as_ref(), y.as_ref())),
                |_| Control::Continue,
            )
        }),
    );
    // Extreme but valid: ε far below the cost's scale, costs near 1e300, a
    // huge keep: each run stops at its limit or converges, with a finite report.
    for (scale, reg) in [(1.0, 1e-8), (1e300, 1e298), (1e-300, 1e-302), (1.0, 1e6)] {
        let inst = instances::random_assignment(6, 2).unwrap();
        let c = &inst.cost * scale;
        let q = OtProblem::new(inst.r.as_ref(), inst.c.as_ref(), c.as_ref(), reg).unwrap();
        for method in 0..3 {
            let rep = no_panic("extreme run", || match method {
                0 => sinkhorn(
                    &q,
                    &SinkhornParams {
                        max_iters: 200,
                        ..Default::default()
                    },
                    None,
                    |_| Control::Continue,
                ),
                1 => sns(
                    &q,
                    &SnsParams {
                        max_newton_iters: 20,
                        keep: Some(usize::MAX),
                        ..Default::default()
                    },
                    |_| Control::Continue,
                ),
                _ => newton_dense(
                    &q,
                    &SnsParams {
                        max_newton_iters: 20,
                        ..Default::default()
                    },
                    |_| Control::Continue,
                ),
            });
            if let Ok(r) = rep {
                assert!(
                    r.iterations <= 200 + 20 + 20,
                    "{scale:e}/{reg:e}: {} iterations",
                    r.iterations
                );
                assert!(
                    r.marginal_error.is_finite(),
                    "{scale:e}/{reg:e}: silent NaN"
                );
                assert!(r.plan.col_iter().all(|c| c.iter().all(|v| v.is_finite())));
            }
        }
    }
}
