//! Optimizers against PyTorch / torch-optimizer iterates, closed-form
//! problems, finite-difference checks of every problem's derivatives, and
//! bad input.

use std::path::PathBuf;

use linalg_core::faer::{Col, Mat};
use linalg_core::io::read_npy_mat;
use linalg_core::objective::{Quadratic, Rosenbrock};
use linalg_core::{Control, Objective, check_gradient, check_hessian_vec};
use optimizers::objectives::*;
use optimizers::*;

#[path = "../benches/argmin_lbfgs.rs"]
mod argmin_lbfgs;

fn fixture(name: &str) -> Mat<f64> {
    read_npy_mat(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("{name}.npy")),
    )
    .unwrap()
}

fn fixture_quadratic() -> Quadratic {
    let n = 5;
    let a = Mat::from_fn(n, n, |i, j| {
        1.0 / (i + j + 1) as f64 + if i == j { (i + 1) as f64 } else { 0.0 }
    });
    let b = Col::from_fn(n, |i| if i % 2 == 0 { 1.0 } else { -1.0 });
    Quadratic::new(a, b).unwrap()
}

fn iterates(obj: &impl Objective, x0: Col<f64>, method: Method, steps: usize) -> Vec<Col<f64>> {
    // Run k steps for each k (the report holds only the final iterate).
    (0..=steps)
        .map(|k| {
            if k == 0 {
                return x0.clone();
            }
            minimize(
                obj,
                x0.as_ref(),
                method,
                &RunParams {
                    max_iters: k,
                    grad_tol: 0.0,
                    ..Default::default()
                },
                |_| Control::Continue,
            )
            .unwrap()
            .x
        })
        .collect()
}

#[test]
fn adam_amsgrad_diffgrad_reproduce_pytorch_iterates() {
    let p = AdamParams::lr(0.05);
    let wd = AdamParams {
        weight_decay: 0.01,
        ..p
    };
    let quad = fixture_quadratic();
    let rosen = Rosenbrock::new(2).unwrap();
    let cases: Vec<(&str, Method)> = vec![
        ("adam", Method::Adam(p)),
        ("amsgrad", Method::AmsGrad(p)),
        ("diffgrad", Method::DiffGrad(p)),
        ("diffgrad_wd", Method::DiffGrad(wd)),
    ];
    for (mname, method) in cases {
        for pname in ["quad", "rosen"] {
            let want = fixture(&format!("{pname}_{mname}"));
            let got = if pname == "quad" {
                iterates(&quad, Col::zeros(5), method, 50)
            } else {
                iterates(&rosen, Col::from_fn(2, |i| [-1.2, 1.0][i]), method, 50)
            };
            for (k, x) in got.iter().enumerate() {
                let w = want.row(k).transpose().to_owned();
                let rel = (x - &w).norm_l2() / w.norm_l2().max(1e-300);
                assert!(
                    rel < 1e-6,
                    "{mname} on {pname}, step {k}: relative difference {rel:e}"
                );
            }
        }
    }
}

/// `f(x) = ½ Σ d_i x_i² − bᵀx` with eigenvalues geometric in [1, κ].
fn ill_conditioned(n: usize, kappa: f64) -> (Quadratic, f64) {
    let d: Vec<f64> = (0..n)
        .map(|i| kappa.powf(i as f64 / (n - 1) as f64))
        .collect();
    let a = Mat::from_fn(n, n, |i, j| if i == j { d[i] } else { 0.0 });
    let b = Col::from_fn(n, |i| ((i * 37 % 11) as f64 - 5.0) / 5.0);
    let fstar = -0.5 * (0..n).map(|i| b[i] * b[i] / d[i]).sum::<f64>();
    (Quadratic::new(a, b).unwrap(), fstar)
}

fn iterations_to(obj: &impl Objective, method: Method, fstar: f64, tol: f64) -> usize {
    let x0 = Col::zeros(obj.dim());
    let mut hit = None;
    minimize(
        obj,
        x0.as_ref(),
        method,
        &RunParams {
            max_iters: 20_000,
            grad_tol: 0.0,
            ..Default::default()
        },
        |r| {
            if r.value - fstar <= tol {
                hit = Some(r.iteration);
                Control::Stop
            } else {
                Control::Continue
            }
        },
    )
    .unwrap();
    hit.expect("did not reach the tolerance")
}

#[test]
fn triple_momentum_beats_nesterov_on_an_ill_conditioned_quadratic() {
    let (q, fstar) = ill_conditioned(100, 1e4);
    let tmm = iterations_to(&q, Method::Tmm { l: 1e4, mu: 1.0 }, fstar, 1e-10);
    let nag = iterations_to(&q, Method::Nesterov { l: 1e4, mu: 1.0 }, fstar, 1e-10);
    println!("iterations to f − f* ≤ 1e-10: TMM {tmm}, Nesterov {nag}");
    assert!(tmm < nag, "TMM {tmm} vs Nesterov {nag}");
    // Theory: ρ = 1 − 1/√κ per step for TMM vs 1 − 1/√κ (slower constant) for
    // Nesterov; both must be far below gradient descent's ~κ·log(1/ε) = 2.5e5.
    assert!(nag < 5_000, "Nesterov {nag}");
}

#[test]
fn every_problem_has_correct_derivatives() {
    let lse = LogSumExp::random(40, 10, 0.5, 1).unwrap();
    let np4 = NormPow4::random(8, 12, 2).unwrap();
    let cheb = ChebyshevRosenbrock::new(6, 4.0).unwrap();
    let logi = datasets::objectives::logistic("breast_cancer", 1e-3).unwrap();
    let soft = datasets::objectives::softmax("iris", 1e-3).unwrap();
    let objs: Vec<(&str, StartFn, &dyn ObjectiveDyn)> = vec![
        (
            "logsumexp",
            &|n| Col::from_fn(n, |i| 0.3 * (i as f64).sin()),
            &lse,
        ),
        (
            "normpow4",
            &|n| Col::from_fn(n, |i| 0.2 * (i as f64).cos()),
            &np4,
        ),
        (
            "chebyshev",
            &|n| Col::from_fn(n, |i| 0.1 * i as f64 - 0.2),
            &cheb,
        ),
        (
            "logistic",
            &|n| Col::from_fn(n, |i| 0.05 * (i as f64).sin()),
            &logi,
        ),
        (
            "softmax",
            &|n| Col::from_fn(n, |i| 0.1 * (i as f64).cos()),
            &soft,
        ),
    ];
    for (name, x0, obj) in objs {
        obj.check(name, x0(obj.n()));
    }
    // The paper functions away from their kinks.
    for (f, x) in [
        (PaperFunction::F1, -0.7),
        (PaperFunction::F2, 0.3),
        (PaperFunction::F3, 0.7),
    ] {
        let err = check_gradient(&f, Col::from_fn(1, |_| x).as_ref()).unwrap();
        assert!(err < 1e-6, "{f:?}: {err:e}");
    }
    // LogSumExp: x* = 0 with the reported optimum.
    let mut g = Col::zeros(10);
    let f0 = lse.gradient(Col::<f64>::zeros(10).as_ref(), g.as_mut());
    assert!(g.norm_l2() < 1e-12 && (f0 - lse.optimum()).abs() < 1e-15);
}

/// A starting point of a given dimension.
type StartFn<'a> = &'a dyn Fn(usize) -> Col<f64>;

/// Object-safe view of the checks, so one loop covers every problem type.
trait ObjectiveDyn {
    fn n(&self) -> usize;
    fn check(&self, name: &str, x: Col<f64>);
}

impl<T: Objective> ObjectiveDyn for T {
    fn n(&self) -> usize {
        self.dim()
    }
    fn check(&self, name: &str, x: Col<f64>) {
        let eg = check_gradient(self, x.as_ref()).unwrap();
        assert!(eg < 1e-6, "{name}: gradient vs finite differences {eg:e}");
        let v = Col::from_fn(x.nrows(), |i| ((i * 7 % 5) as f64 - 2.0) / 2.0);
        let eh = check_hessian_vec(self, x.as_ref(), v.as_ref()).unwrap();
        assert!(
            eh < 1e-6,
            "{name}: Hessian-vector product vs finite differences {eh:e}"
        );
        let h = self.hessian(x.as_ref()).expect("dense Hessian");
        let mut hv = Col::zeros(x.nrows());
        self.hessian_vec(x.as_ref(), v.as_ref(), hv.as_mut());
        let rel = (&h * &v - &hv).norm_l2() / hv.norm_l2().max(1.0);
        assert!(rel < 1e-10, "{name}: dense Hessian vs product {rel:e}");
    }
}

#[test]
fn grn_solves_rosenbrock_from_both_classic_starts() {
    let f = Rosenbrock::new(2).unwrap();
    for start in [[-1.2, 1.0], [-2.0, 2.0]] {
        let x0 = Col::from_fn(2, |i| start[i]);
        let params = GrnParams {
            run: RunParams {
                max_iters: 500,
                grad_tol: 1e-10,
                ..Default::default()
            },
            ..Default::default()
        };
        let rep = grn(&f, x0.as_ref(), &params, |_| Control::Continue).unwrap();
        assert!(rep.value <= 1e-10, "from {start:?}: f = {:e}", rep.value);
        assert!(rep.iterations < 200, "{} iterations", rep.iterations);
    }
}

#[test]
fn grn_on_logistic_regression_is_linear_and_beats_nesterov() {
    let f = datasets::objectives::logistic("breast_cancer", 1e-3).unwrap();
    let x0 = Col::zeros(f.dim());
    let run = RunParams {
        max_iters: 10_000,
        grad_tol: 1e-8,
        ..Default::default()
    };
    let rep = grn(
        &f,
        x0.as_ref(),
        &GrnParams {
            run,
            ..Default::default()
        },
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.converged, "‖g‖ = {:e}", rep.grad_norm);
    // A linear (or faster) rate: over the last half of the run every
    // gradient norm is below 0.9 of its predecessor's.
    let g: Vec<f64> = rep.history.iter().map(|r| r.grad_norm).collect();
    for w in g[g.len() / 2..].windows(2) {
        assert!(w[1] < 0.9 * w[0], "gradient norms {:?}", &g);
    }
    // Nesterov with the classical constants: L ≤ ‖A‖²/(4m) + λ bounded by the
    // dense Hessian at 0 (σ(0)(1 − σ(0)) = 1/4 is the maximum weight).
    let h0 = f.hessian(x0.as_ref()).unwrap();
    let l = h0
        .self_adjoint_eigenvalues(linalg_core::faer::Side::Lower)
        .unwrap()[f.dim() - 1];
    let nag = minimize(
        &f,
        x0.as_ref(),
        Method::Nesterov { l, mu: 1e-3 },
        &run,
        |_| Control::Continue,
    )
    .unwrap();
    // L-BFGS (memory 10) from the argmin crate, to the same tolerance.
    let (lbfgs_iters, lbfgs_g) = argmin_lbfgs::lbfgs(&f);
    assert!(lbfgs_g <= 1e-8);
    assert!(
        rep.iterations < nag.iterations && rep.iterations < lbfgs_iters,
        "GRN {} vs Nesterov {} vs L-BFGS {lbfgs_iters}",
        rep.iterations,
        nag.iterations
    );
}

#[test]
fn approximate_hessians_converge_and_sherman_morrison_matches_dense() {
    // ¼‖Ax − b‖⁴: the rank-one Fisher model, solved by Sherman–Morrison.
    let f = NormPow4::random(20, 40, 5).unwrap();
    let x0 = Col::zeros(40);
    let run = RunParams {
        max_iters: 300,
        grad_tol: 1e-9,
        ..Default::default()
    };
    for kind in [
        HessianKind::Exact,
        HessianKind::GaussNewton,
        HessianKind::Fisher,
    ] {
        let rep = grn(
            &f,
            x0.as_ref(),
            &GrnParams {
                run,
                hessian: kind,
                ..Default::default()
            },
            |_| Control::Continue,
        )
        .unwrap();
        assert!(rep.value < 1e-8, "{kind:?}: f = {:e}", rep.value);
    }
    // LogSumExp with the weighted Gauss–Newton model and Mishchenko's rule.
    let lse = LogSumExp::random(100, 20, 1.0, 3).unwrap();
    let x0 = Col::from_fn(20, |_| 1.0);
    for params in [
        GrnParams {
            hessian: HessianKind::GaussNewton,
            ..Default::default()
        },
        GrnParams {
            regularisation: Regularisation::Mishchenko { h0: 1.0 },
            ..Default::default()
        },
    ] {
        let rep = grn(&lse, x0.as_ref(), &params, |_| Control::Continue).unwrap();
        assert!(rep.converged && rep.value - lse.optimum() < 1e-12);
    }
    // Matrix-free CG agrees with the dense solve.
    let cheb = ChebyshevRosenbrock::new(30, 4.0).unwrap();
    let x0 = Col::from_fn(30, |i| 0.5 + 0.01 * i as f64);
    let run = RunParams {
        max_iters: 5,
        grad_tol: 0.0,
        ..Default::default()
    };
    // (The default solver is matrix-free now: the dense one is named, and
    // the CG solve is run to 1e-10 so the five steps are the same.)
    let dense = grn(
        &cheb,
        x0.as_ref(),
        &GrnParams {
            run,
            solver: LinearSolver::Direct,
            ..Default::default()
        },
        |_| Control::Continue,
    )
    .unwrap();
    let cg = grn(
        &cheb,
        x0.as_ref(),
        &GrnParams {
            run,
            solver: LinearSolver::MatrixFreeCg,
            forcing: Forcing::Fixed(1e-10),
            ..Default::default()
        },
        |_| Control::Continue,
    )
    .unwrap();
    assert_eq!(dense.work.hessian_vec_evals, 0);
    assert!((&dense.x - &cg.x).norm_l2() < 1e-8 * dense.x.norm_l2());
}

#[test]
fn the_inexact_default_reaches_the_dense_solves_minimiser_with_fewer_products() {
    // The default (exact Hessian matrix-free, CG stopped at
    // min(½, √(‖g‖/‖g₀‖))) against the dense Cholesky path to ‖∇f‖ ≤ 1e-9:
    // the same minimiser, and fewer Hessian-vector products than a CG
    // solve run to 1e-10 every time.
    let run = RunParams {
        grad_tol: 1e-9,
        ..Default::default()
    };
    let logistic = datasets::objectives::logistic("breast_cancer", 1e-3).unwrap();
    let softmax = datasets::objectives::softmax("wine", 1e-3).unwrap();
    inexact_against_dense("logistic", &logistic, run);
    inexact_against_dense("softmax", &softmax, run);
}

fn inexact_against_dense<O: Curvature>(name: &str, obj: &O, run: RunParams) {
    let x0 = Col::zeros(obj.dim());
    let go = |p: &GrnParams| grn(obj, x0.as_ref(), p, |_| Control::Continue).unwrap();
    let base = GrnParams {
        run,
        ..Default::default()
    };
    let dense = go(&GrnParams {
        solver: LinearSolver::Direct,
        ..base
    });
    let inexact = go(&base);
    let tight = go(&GrnParams {
        forcing: Forcing::Fixed(1e-10),
        ..base
    });
    assert!(dense.converged && inexact.converged && tight.converged);
    assert_eq!(inexact.work.hessian_evals, 0);
    let err = (&inexact.x - &dense.x).norm_l2() / dense.x.norm_l2();
    assert!(err < 1e-7, "{name}: {err:e}");
    assert!(
        inexact.work.hessian_vec_evals < tight.work.hessian_vec_evals,
        "{name}: {} vs {}",
        inexact.work.hessian_vec_evals,
        tight.work.hessian_vec_evals
    );
    assert!(inexact.iterations <= dense.iterations + 2, "{name}");
}

/// Returns NaN once `x[0]` passes a threshold.
struct NanAfter;
impl Objective for NanAfter {
    fn dim(&self) -> usize {
        1
    }
    fn value(&self, x: linalg_core::faer::ColRef<'_, f64>) -> f64 {
        if x[0] > 0.5 {
            f64::NAN
        } else {
            (x[0] - 1.0).powi(2)
        }
    }
    fn gradient(
        &self,
        x: linalg_core::faer::ColRef<'_, f64>,
        mut g: linalg_core::faer::ColMut<'_, f64>,
    ) -> f64 {
        g[0] = 2.0 * (x[0] - 1.0);
        self.value(x)
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let f = Rosenbrock::new(2).unwrap();
    let x0 = f.classic_start();
    let run = RunParams::default();
    let go = |m: Method, x: &Col<f64>| minimize(&f, x.as_ref(), m, &run, |_| Control::Continue);
    for bad in [
        AdamParams::lr(0.0),
        AdamParams::lr(-1.0),
        AdamParams {
            eps: 0.0,
            ..Default::default()
        },
        AdamParams {
            beta1: 1.0,
            ..Default::default()
        },
        AdamParams {
            beta2: -0.1,
            ..Default::default()
        },
    ] {
        assert!(matches!(
            go(Method::DiffGrad(bad), &x0),
            Err(Error::Param(_))
        ));
    }
    assert!(matches!(
        go(Method::Gd { lr: f64::NAN }, &x0),
        Err(Error::Param(_))
    ));
    assert!(matches!(
        go(Method::Tmm { l: 1.0, mu: 2.0 }, &x0),
        Err(Error::Param(_))
    ));
    let short = Col::zeros(3);
    assert!(matches!(
        go(Method::Gd { lr: 1e-3 }, &short),
        Err(Error::Core(_))
    ));
    let nan = Col::from_fn(2, |i| if i == 0 { f64::NAN } else { 1.0 });
    let e = go(Method::Gd { lr: 1e-3 }, &nan).unwrap_err();
    assert!(e.to_string().contains("x0"), "{e}");
    // NaN mid-run: the error names the iteration.
    let e = minimize(
        &NanAfter,
        Col::zeros(1).as_ref(),
        Method::Gd { lr: 0.2 },
        &run,
        |_| Control::Continue,
    )
    .unwrap_err();
    match e {
        Error::NonFinite { iteration, .. } => assert_eq!(iteration, 2),
        other => panic!("{other}"),
    }
    assert!(matches!(
        grn(
            &f,
            x0.as_ref(),
            &GrnParams {
                gamma_min: 0.0,
                ..Default::default()
            },
            |_| Control::Continue
        ),
        Err(Error::Param(_))
    ));
}

#[test]
fn direct_diagonal_models_equal_the_dense_hessian_diagonal() {
    let logi = datasets::objectives::logistic("wine", 1e-2).unwrap();
    let soft = datasets::objectives::softmax("iris", 1e-2).unwrap();
    let check = |name: &str, obj: &dyn Fn(HessianKind) -> Option<HessianModel>, h: Mat<f64>| {
        let Some(HessianModel::Diagonal(d)) = obj(HessianKind::Diagonal) else {
            panic!("{name}: no diagonal model")
        };
        for i in 0..h.nrows() {
            assert!(
                (d[i] - h[(i, i)]).abs() < 1e-12 * h[(i, i)].abs().max(1.0),
                "{name}[{i}]"
            );
        }
    };
    let w = Col::from_fn(logi.dim(), |i| 0.1 * (i as f64).sin());
    check(
        "logistic",
        &|k| logi.curvature(k, w.as_ref()),
        logi.hessian(w.as_ref()).unwrap(),
    );
    let x = Col::from_fn(soft.dim(), |i| 0.1 * (i as f64).cos());
    check(
        "softmax",
        &|k| soft.curvature(k, x.as_ref()),
        soft.hessian(x.as_ref()).unwrap(),
    );
}
