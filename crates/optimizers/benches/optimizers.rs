//! optimizers benches (`cargo bench -p optimizers`).
//!
//! - `logistic_breast_cancer/<method>` and `softmax_<data>/<method>`: a full
//!   run to ‖∇f‖₂ ≤ 1e-8 from zeros (λ = 1e-3, standardised features with an
//!   intercept) for gradient-regularised Newton and its variants, Nesterov
//!   (L = λ_max of the Hessian at 0, μ = λ), Armijo gradient descent, and
//!   L-BFGS (memory 10, Moré–Thuente line search) from the `argmin` crate —
//!   the Rust peer a user would reach for. Iteration counts print once.
//! - `logistic_generated_1e5/<method>`: the same at 10⁵ samples (a
//!   generated two-class mixture, 50 features, λ = 1e-4). `grn` is the
//!   default solver (the exact Hessian matrix-free by inexact CG),
//!   `grn-direct` the dense Cholesky one.
//! - `step_1e5/<method>`: one Adam / AMSGrad / diffGrad update of 10⁵
//!   parameters (the per-step overhead of the update rule itself).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod argmin_lbfgs;
use argmin_lbfgs::lbfgs;
use linalg_core::faer::{Col, ColMut, ColRef, Side};
use linalg_core::{Control, Objective};
use optimizers::Curvature;
use optimizers::{
    AdamParams, GrnParams, HessianKind, LinearSolver, Method, Regularisation, RunParams, grn,
    minimize,
};

fn lambda_max(obj: &impl Objective) -> f64 {
    let h = obj
        .hessian(Col::zeros(obj.dim()).as_ref())
        .expect("hessian");
    let ev = h
        .self_adjoint_eigenvalues(Side::Lower)
        .expect("eigenvalues");
    ev[ev.len() - 1]
}

/// What `problem_group` does with the first-order methods.
#[derive(Clone, Copy, PartialEq)]
enum FirstOrder {
    /// Run and time them.
    Time,
    /// Run once for the iteration count (too slow to time).
    Count,
    /// Leave them out (too slow to run at all).
    Skip,
}

fn problem_group<O: Curvature>(
    c: &mut Criterion,
    name: &str,
    obj: &O,
    lam: f64,
    first: FirstOrder,
) {
    let run = RunParams {
        max_iters: 50_000,
        grad_tol: 1e-8,
        ..Default::default()
    };
    let x0 = Col::<f64>::zeros(obj.dim());
    let l = lambda_max(obj);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    let gn = Regularisation::GradNorm { gamma0: 1.0 };
    // The default solver (Auto: the exact Hessian matrix-free, inexact CG)
    // and the dense direct one it replaced, side by side.
    let grn_variants = [
        ("grn", HessianKind::Exact, gn, LinearSolver::Auto),
        ("grn-direct", HessianKind::Exact, gn, LinearSolver::Direct),
        ("grn-diag", HessianKind::Diagonal, gn, LinearSolver::Auto),
        (
            "mishchenko",
            HessianKind::Exact,
            Regularisation::Mishchenko { h0: 1.0 },
            LinearSolver::Auto,
        ),
    ];
    for (label, hessian, regularisation, solver) in grn_variants {
        let params = GrnParams {
            run,
            hessian,
            regularisation,
            solver,
            ..Default::default()
        };
        let rep = match grn(obj, x0.as_ref(), &params, |_| Control::Continue) {
            Ok(rep) => rep,
            Err(e) => {
                // A method that fails here is reported, not timed.
                println!("{name}/{label}: failed: {e}");
                continue;
            }
        };
        println!(
            "{name}/{label}: {} iterations, ‖g‖ = {:.1e}",
            rep.iterations, rep.grad_norm
        );
        group.bench_function(label, |b| {
            b.iter(|| {
                grn(black_box(obj), x0.as_ref(), &params, |_| Control::Continue).expect("grn")
            })
        });
    }
    let first_order = [
        ("nesterov", Method::Nesterov { l, mu: lam }),
        ("gd-armijo", Method::GdArmijo { lr0: 1.0 }),
    ];
    for (label, method) in first_order {
        if first == FirstOrder::Skip {
            break;
        }
        let rep = minimize(obj, x0.as_ref(), method, &run, |_| Control::Continue).expect("run");
        println!(
            "{name}/{label}: {} iterations, ‖g‖ = {:.1e}",
            rep.iterations, rep.grad_norm
        );
        if first == FirstOrder::Time {
            group.bench_function(label, |b| {
                b.iter(|| {
                    minimize(black_box(obj), x0.as_ref(), method, &run, |_| {
                        Control::Continue
                    })
                })
            });
        }
    }
    let (it, gn) = lbfgs(obj);
    println!("{name}/lbfgs-argmin: {it} iterations, ‖g‖ = {gn:.1e}");
    group.bench_function("lbfgs-argmin", |b| b.iter(|| lbfgs(black_box(obj))));
    group.finish();
}

fn regression(c: &mut Criterion) {
    let lam = 1e-3;
    let logi = datasets::objectives::logistic("breast_cancer", lam).expect("data");
    problem_group(c, "logistic_breast_cancer", &logi, lam, FirstOrder::Time);
    let wine = datasets::objectives::softmax("wine", lam).expect("data");
    problem_group(c, "softmax_wine", &wine, lam, FirstOrder::Time);
    let digits = datasets::objectives::softmax("digits", lam).expect("data");
    problem_group(c, "softmax_digits", &digits, lam, FirstOrder::Count);
    // Logistic regression at n ≫ d: 10⁵ samples of a two-class Gaussian
    // mixture in 50 dimensions (centres 1 apart, seed 0), λ = 1e-4.
    let ds = datasets::generate::gaussian_mixture(50_000, 2, 50, 1.0, 0).expect("data");
    let y: Vec<f64> = ds
        .labels
        .iter()
        .map(|&l| if l == 1 { 1.0 } else { -1.0 })
        .collect();
    let big = linalg_core::objective::Logistic::new(ds.features.as_ref(), &y, 1e-4).expect("data");
    problem_group(c, "logistic_generated_1e5", &big, 1e-4, FirstOrder::Skip);
}

/// `½‖x‖²`, for the per-step cost of the update rules.
struct HalfNorm(usize);
impl Objective for HalfNorm {
    fn dim(&self) -> usize {
        self.0
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        0.5 * x.squared_norm_l2()
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        g.copy_from(x);
        0.5 * x.squared_norm_l2()
    }
}

fn steps(c: &mut Criterion) {
    let n = 100_000;
    let f = HalfNorm(n);
    let x0 = Col::from_fn(n, |i| (i as f64).sin());
    let run = RunParams {
        max_iters: 10,
        grad_tol: 0.0,
        ..Default::default()
    };
    let mut group = c.benchmark_group("step_1e5");
    group.sample_size(20);
    let p = AdamParams::lr(1e-3);
    for (label, method) in [
        ("adam", Method::Adam(p)),
        ("amsgrad", Method::AmsGrad(p)),
        ("diffgrad", Method::DiffGrad(p)),
        ("gd", Method::Gd { lr: 1e-3 }),
    ] {
        // Ten steps per sample; the gradient (a copy) is part of each.
        group.bench_function(label, |b| {
            b.iter(|| {
                minimize(black_box(&f), x0.as_ref(), method, &run, |_| {
                    Control::Continue
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, regression, steps);
criterion_main!(benches);
