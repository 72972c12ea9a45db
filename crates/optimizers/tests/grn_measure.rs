//! The figures of docs/optimizers.md's "Inexact Newton" paragraph
//! (measurement; `--ignored`): Hessian-vector products and time of GRN
//! with the CG solve run to 1e-10 and with the forcing rule, and of the
//! dense Cholesky solve, on softmax over digits and Rosenbrock with 1 000
//! unknowns (the dense run there takes over a minute).

use std::time::Instant;

use linalg_core::Control;
use linalg_core::faer::Col;
use linalg_core::objective::Rosenbrock;
use optimizers::*;

fn row<O: Curvature>(name: &str, obj: &O, x0: &Col<f64>) {
    let run = RunParams {
        max_iters: 10_000,
        grad_tol: 1e-8,
        ..Default::default()
    };
    for (label, solver, forcing) in [
        ("direct", LinearSolver::Direct, Forcing::GradientRatio),
        (
            "matrix-free, η = 1e-10",
            LinearSolver::MatrixFreeCg,
            Forcing::Fixed(1e-10),
        ),
        (
            "matrix-free, forcing rule (default)",
            LinearSolver::Auto,
            Forcing::GradientRatio,
        ),
    ] {
        let params = GrnParams {
            run,
            solver,
            forcing,
            ..Default::default()
        };
        let t = Instant::now();
        let r = grn(obj, x0.as_ref(), &params, |_| Control::Continue).unwrap();
        eprintln!(
            "{name} / {label}: {} iterations, ‖g‖ {:.1e}, {} Hessian-vector products, {:.3} s",
            r.iterations,
            r.grad_norm,
            r.work.hessian_vec_evals,
            t.elapsed().as_secs_f64()
        );
    }
}

#[test]
#[ignore = "measurement: cargo test -p optimizers --release --test grn_measure -- --ignored --nocapture"]
fn inexact_newton_figures() {
    let digits = datasets::objectives::softmax("digits", 1e-3).unwrap();
    row("softmax digits", &digits, &Col::zeros(650));
    let rosen = Rosenbrock::new(1000).unwrap();
    row("rosenbrock 1000", &rosen, &rosen.classic_start());
}
