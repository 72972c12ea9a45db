//! `optlab tour`: every algorithm on its embedded default problem, one table.
//!
//! Each row states the check that makes its number meaningful (a closed form
//! or a dense direct solve). Crates that are still scaffolds are listed as such.

use std::time::Instant;

use linalg_core::Control;
use linalg_core::cg::cg;
use linalg_core::faer::prelude::Solve;
use linalg_core::faer::{Col, Side};
use linalg_core::lanczos::{Reorthogonalization, lanczos, ritz_pairs};
use linalg_core::op::{DenseOp, SparseOp};
use serde_json::json;

use crate::{Failure, print_json};

/// Arguments of `optlab tour`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Grid size of the Poisson problem (n = grid²).
    #[arg(long, default_value_t = 64)]
    grid: usize,
}

struct Row {
    krate: &'static str,
    problem: String,
    method: &'static str,
    result: String,
    check: String,
    ok: bool,
    seconds: f64,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    if args.grid < 4 {
        return Err(Failure::BadInput(format!(
            "--grid must be at least 4, got {}",
            args.grid
        )));
    }
    let mut rows = Vec::new();
    let g = args.grid;
    let n = g * g;
    let lap = SparseOp::new(
        datasets::generate::laplacian_2d(g).map_err(|e| Failure::BadInput(e.to_string()))?,
    )?;

    // 1. CG on the 2-D Poisson problem with b = A·1: the exact solution is 1.
    let ones = Col::<f64>::ones(n);
    let b = linalg_core::op::apply(&lap, ones.as_ref());
    let t = Instant::now();
    let rep = cg(&lap, b.as_ref(), 1e-10, 10 * n)?;
    let secs = t.elapsed().as_secs_f64();
    let err = (&rep.x - &ones).norm_max();
    rows.push(Row {
        krate: "linalg-core",
        problem: format!("2-D Poisson {g}×{g} (n = {n})"),
        method: "cg",
        result: format!(
            "{} iterations, rel. residual {:.1e}",
            rep.iterations, rep.relative_residual
        ),
        check: format!("‖x − 1‖∞ = {err:.1e} (exact x = 1)"),
        ok: rep.converged && err < 1e-6,
        seconds: secs,
    });

    // 2. Lanczos extremes of the same matrix against the closed form
    //    λ = 4 − 2cos(jπ/(g+1)) − 2cos(kπ/(g+1)).
    let t = Instant::now();
    // A fixed pseudo-random start (Knuth's multiplicative hash): it has
    // components along both the smoothest and the most oscillatory modes.
    let start = Col::from_fn(n, |i| {
        ((i as u64 * 2_654_435_761) % 1_000_003) as f64 / 500_001.5 - 1.0
    });
    let lz = lanczos(&lap, start.as_ref(), 300.min(n), Reorthogonalization::Full)?;
    let ritz = ritz_pairs(&lz)?;
    let secs = t.elapsed().as_secs_f64();
    let exact = datasets::generate::laplacian_2d_eigenvalues(g);
    let (lmin, lmax) = (exact[0], exact[exact.len() - 1]);
    let (rmin, rmax) = (ritz.values[0], ritz.values[ritz.values.len() - 1]);
    let err_max = (rmax - lmax).abs() / lmax;
    let err_min = (rmin - lmin).abs() / lmin;
    rows.push(Row {
        krate: "linalg-core",
        problem: format!("spectrum of the same Laplacian ({} steps)", lz.steps()),
        method: "lanczos",
        result: format!("λmax ≈ {rmax:.6}, λmin ≈ {rmin:.3e}"),
        check: format!("rel. error λmax {err_max:.1e}, λmin {err_min:.1e} (closed form)"),
        ok: err_max < 1e-8,
        seconds: secs,
    });

    // 3. CG on a random SPD matrix with condition number 1e4 against Cholesky.
    let m = 300;
    let spec = datasets::generate::geometric_spectrum(m, 1e4)
        .map_err(|e| Failure::Solver(e.to_string()))?;
    let a =
        datasets::generate::random_spd(&spec, 2026).map_err(|e| Failure::Solver(e.to_string()))?;
    let rhs = Col::from_fn(m, |i| ((i as f64) * 0.37).sin());
    let t = Instant::now();
    let rep = cg(&DenseOp::new(a.clone())?, rhs.as_ref(), 1e-12, 10 * m)?;
    let secs = t.elapsed().as_secs_f64();
    let reference = a
        .llt(Side::Lower)
        .map_err(|e| Failure::Solver(format!("Cholesky failed: {e:?}")))?
        .solve(&rhs);
    let err = (&rep.x - &reference).norm_l2() / reference.norm_l2();
    rows.push(Row {
        krate: "linalg-core",
        problem: format!("random SPD n = {m}, κ = 1e4"),
        method: "cg",
        result: format!("{} iterations", rep.iterations),
        check: format!("rel. error vs Cholesky {err:.1e}"),
        ok: rep.converged && err < 1e-6,
        seconds: secs,
    });

    // 4. deep-cg: MG-PCG against plain CG on a pure-Neumann smoke scene.
    {
        use deep_cg::{Method, PoissonSystem, Scene, SolveParams, solve};
        let sys = PoissonSystem::new(
            Scene::SmokePlume
                .build(32, 0)
                .map_err(|e| Failure::Solver(e.to_string()))?,
        );
        let b = sys.divergence_rhs(1);
        let t = Instant::now();
        let mg = solve(&sys, b.as_ref(), &SolveParams::new(Method::MgPcg), |_| {
            Control::Continue
        })
        .map_err(|e| Failure::Solver(e.to_string()))?;
        let secs = t.elapsed().as_secs_f64();
        let cg = solve(&sys, b.as_ref(), &SolveParams::new(Method::Cg), |_| {
            Control::Continue
        })
        .map_err(|e| Failure::Solver(e.to_string()))?;
        rows.push(Row {
            krate: "deep-cg",
            problem: "smoke-plume 32³ (pure Neumann)".into(),
            method: "mg-pcg",
            result: format!("{} iterations (CG: {})", mg.iterations, cg.iterations),
            check: format!("‖b − Ax‖/‖b‖ = {:.1e} recomputed", mg.relative_residual),
            ok: mg.converged && mg.relative_residual < 1e-8 && mg.iterations < cg.iterations,
            seconds: secs,
        });
    }

    // 5. sinkhorn-newton: SNS against Sinkhorn on a random assignment problem.
    {
        use sinkhorn_newton::{SnsParams, instances, newton_dense, sns};
        let n = 300;
        // The paper's random assignment problem (C_ij ~ U[0, 1), seeded) at its η = 1200.
        let p = instances::random_assignment(n, 0)
            .and_then(|inst| inst.problem(1.0 / 1200.0))
            .map_err(|e| Failure::Solver(e.to_string()))?;
        let t = Instant::now();
        let newton = sns(&p, &SnsParams::default(), |_| Control::Continue)
            .map_err(|e| Failure::Solver(e.to_string()))?;
        let secs = t.elapsed().as_secs_f64();
        // Reference: Newton with the dense Hessian (every entry of P kept).
        let dense = newton_dense(&p, &SnsParams::default(), |_| Control::Continue)
            .map_err(|e| Failure::Solver(e.to_string()))?;
        let diff = (newton.cost - dense.cost).abs() / dense.cost;
        rows.push(Row {
            krate: "sinkhorn-newton",
            problem: format!("random assignment n = {n}, η = 1200"),
            method: "sns",
            result: format!(
                "{} Sinkhorn + {} Newton iterations",
                newton.sinkhorn_iterations, newton.newton_iterations
            ),
            check: format!(
                "cost vs dense Newton {diff:.1e}, marginals {:.0e}",
                newton.marginal_error
            ),
            ok: newton.converged && dense.converged && diff < 1e-8,
            seconds: secs,
        });
    }

    // 6. optimizers: gradient-regularised Newton on logistic regression.
    {
        use optimizers::{GrnParams, grn};
        let lambda = 1e-3;
        let f = datasets::objectives::logistic("breast_cancer", lambda)
            .map_err(|e| Failure::Solver(e.to_string()))?;
        let t = Instant::now();
        let rep = grn(&f, Col::zeros(31).as_ref(), &GrnParams::default(), |_| {
            Control::Continue
        })
        .map_err(|e| Failure::Solver(e.to_string()))?;
        let secs = t.elapsed().as_secs_f64();
        // λ-strong convexity: f − f* ≤ ‖g‖²/(2λ).
        let gap = rep.grad_norm.powi(2) / (2.0 * lambda);
        rows.push(Row {
            krate: "optimizers",
            problem: "logistic, breast cancer, λ = 1e-3".into(),
            method: "GRN",
            result: format!("{} iterations, f = {:.10}", rep.iterations, rep.value),
            check: format!("‖∇f‖ = {:.1e} ⇒ f − f* ≤ {gap:.0e}", rep.grad_norm),
            ok: rep.converged && gap < 1e-12,
            seconds: secs,
        });
    }

    // 7. bilevel-penalty: the penalty method on the closed-form quadratic.
    {
        use bilevel_penalty::instances::Quadratic;
        use bilevel_penalty::{PenaltyParams, penalty};
        let q = Quadratic::random(5, 8, 0.1, 0).map_err(|e| Failure::Solver(e.to_string()))?;
        let sigma = 1e-3;
        let t = Instant::now();
        let rep = penalty(
            &q,
            Col::zeros(5).as_ref(),
            None,
            &PenaltyParams::default().sigma(sigma),
            |_| Control::Continue,
        )
        .map_err(|e| Failure::Solver(e.to_string()))?;
        let secs = t.elapsed().as_secs_f64();
        let exact = q.argmin_psi_sigma(sigma);
        let err = (&rep.x - &exact).norm_l2() / exact.norm_l2();
        rows.push(Row {
            krate: "bilevel-penalty",
            problem: "quadratic 5 × 8, σ = 1e-3".into(),
            method: "penalty",
            result: format!(
                "{} iterations, {} gradient calls",
                rep.iterations,
                rep.calls.gradient_calls()
            ),
            check: format!("x vs closed-form argmin ψ_σ {err:.1e}"),
            ok: rep.converged && err < 1e-5,
            seconds: secs,
        });
    }

    // 8. The embedded datasets.
    let t = Instant::now();
    let shapes: Vec<String> = datasets::NAMES
        .iter()
        .filter_map(|name| datasets::by_name(name))
        .map(|d| format!("{} {}×{}", d.name, d.n_samples(), d.n_features()))
        .collect();
    rows.push(Row {
        krate: "datasets",
        problem: "embedded tables".into(),
        method: "load",
        result: shapes.join(", "),
        check: "shapes and checksums tested".into(),
        ok: shapes.len() == 4,
        seconds: t.elapsed().as_secs_f64(),
    });

    for c in optlab::crates().into_iter().skip(6) {
        rows.push(Row {
            krate: c.name,
            problem: "—".into(),
            method: "—",
            result: "scaffold: not implemented yet".into(),
            check: "—".into(),
            ok: true,
            seconds: 0.0,
        });
    }

    let all_ok = rows.iter().all(|r| r.ok);
    if args.json {
        print_json(&json!({
            "rows": rows.iter().map(|r| json!({
                "crate": r.krate, "problem": r.problem, "method": r.method,
                "result": r.result, "check": r.check, "ok": r.ok, "seconds": r.seconds,
            })).collect::<Vec<_>>(),
            "ok": all_ok,
        }));
    } else {
        outln!(
            "{:<17} {:<40} {:<8} {:<44} {:<50} {:>9}",
            "crate",
            "problem",
            "method",
            "result",
            "check",
            "time"
        );
        for r in &rows {
            let time = if r.seconds > 0.0 {
                format!("{:.1} ms", r.seconds * 1e3)
            } else {
                "—".into()
            };
            let mark = if r.ok { "" } else { "  ✗" };
            outln!(
                "{:<17} {:<40} {:<8} {:<44} {:<50} {:>9}{mark}",
                r.krate,
                r.problem,
                r.method,
                r.result,
                r.check,
                time
            );
        }
    }
    if all_ok {
        Ok(())
    } else {
        Err(Failure::Solver("a tour check failed (marked ✗)".into()))
    }
}
