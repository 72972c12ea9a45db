//! `optlab bilevel`: bilevel optimisation by penalty methods (bilevel-penalty).

use bilevel_penalty::instances::{BomeToy, Quadratic, ShenChen};
use bilevel_penalty::{
    AidParams, BilevelProblem, BilevelReport, Control, PenaltyParams, aid, penalty,
};
use linalg_core::faer::Col;
use serde_json::json;

use crate::{Failure, outcome, print_json, to_json};

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// The deterministic penalty method (Kwon et al. 2024).
    Penalty,
    /// The stochastic penalty method [not available yet].
    PenaltyStochastic,
    /// The two-time-scale stochastic variant [not available yet].
    Penalty2ts,
    /// Approximate implicit differentiation (CG on the lower-level Hessian).
    Aid,
    /// Iterative differentiation [not available yet].
    Itd,
    /// F2SA (Kwon et al. 2023) [not available yet].
    F2sa,
    /// BOME (Liu et al. 2022) [not available yet].
    Bome,
}

/// Arguments of `optlab bilevel`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Problem: quadratic[:NX[:NY]] (closed form; default 5:8), toy:bome,
    /// toy:shen-chen; quadratic-stochastic, ridge:DATASET and
    /// hyperclean:digits are not available yet.
    #[arg(long, default_value = "quadratic")]
    problem: String,
    /// Method.
    #[arg(long, value_enum, default_value_t = MethodArg::Penalty)]
    method: MethodArg,
    /// The penalty parameter σ (the lower level's sub-optimality is weighted 1/σ).
    #[arg(long, default_value_t = 1e-3)]
    sigma: f64,
    /// σ-continuation down to this value (default: fixed σ).
    #[arg(long)]
    sigma_min: Option<f64>,
    /// Stop when the projected gradient of ψ_σ is below this.
    #[arg(long, default_value_t = 1e-6)]
    grad_tol: f64,
    /// Outer-iteration limit.
    #[arg(long, default_value_t = 1000)]
    max_iters: usize,
    /// Seed of the random problems (and the starting point of the toys).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn run_on<P: BilevelProblem>(p: &P, x0: Col<f64>, args: &Args) -> Result<BilevelReport, Failure> {
    let result = if args.method == MethodArg::Aid {
        let params = AidParams::default()
            .grad_tol(args.grad_tol)
            .max_iters(args.max_iters);
        aid(p, x0.as_ref(), None, &params, |_| Control::Continue)
    } else {
        let params = PenaltyParams::default()
            .sigma(args.sigma)
            .sigma_min(args.sigma_min)
            .grad_tol(args.grad_tol)
            .max_iters(args.max_iters);
        penalty(p, x0.as_ref(), None, &params, |_| Control::Continue)
    };
    result.map_err(|e| {
        let msg = match e.param_name() {
            Some(n @ ("sigma" | "sigma_min" | "grad_tol" | "max_iters")) => {
                format!("--{}: {e}", n.replace('_', "-"))
            }
            _ => e.to_string(),
        };
        Failure::from_error(e.is_input_error(), msg, args.json)
    })
}

pub fn run(args: &Args) -> Result<(), Failure> {
    if !matches!(args.method, MethodArg::Penalty | MethodArg::Aid) {
        return Err(Failure::Solver(
            format!(
                "--method {:?} is not available yet (`penalty` and `aid` are)",
                args.method
            )
            .to_lowercase(),
        ));
    }
    let mut parts = args.problem.split(':');
    let name = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let num = |k: usize, default: usize| -> Result<usize, Failure> {
        match rest.get(k) {
            Some(s) => s.parse().map_err(|_| {
                Failure::BadInput(format!("--problem {}: `{s}` is not a number", args.problem))
            }),
            None => Ok(default),
        }
    };
    let bad =
        |e: bilevel_penalty::Error| Failure::BadInput(format!("--problem {}: {e}", args.problem));
    // A deterministic start in [lo, hi] from the seed (the toys' experiments
    // draw their starts the same way).
    let start = |lo: f64, hi: f64| {
        lo + (hi - lo)
            * ((args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64)
    };
    let (rep, closed_form) = match (name, rest.as_slice()) {
        ("quadratic", _) if rest.len() <= 2 => {
            let (nx, ny) = (num(0, 5)?, num(1, 8)?);
            // A is dense: bound its size before allocating it.
            if nx.saturating_mul(ny) > 4_000_000 {
                return Err(Failure::BadInput(format!(
                    "--problem {}: {nx} × {ny} is too large (at most 4 000 000 entries of A)",
                    args.problem
                )));
            }
            let q = Quadratic::random(nx, ny, 0.1, args.seed).map_err(bad)?;
            let rep = run_on(&q, Col::zeros(q.dims().0), args)?;
            let exact = q.argmin_psi_sigma(rep.sigma);
            let err = (&rep.x - &exact).norm_l2() / exact.norm_l2().max(1e-300);
            (rep, Some(err))
        }
        ("toy", ["bome"]) => {
            let rep = run_on(&BomeToy, Col::from_fn(1, |_| start(-3.0, 3.0)), args)?;
            let err = (rep.x[0] - 1.0).abs();
            (rep, Some(err))
        }
        ("toy", ["shen-chen"]) => (
            run_on(
                &ShenChen::default(),
                Col::from_fn(1, |_| start(0.0, 3.0)),
                args,
            )?,
            None,
        ),
        ("quadratic-stochastic" | "ridge" | "hyperclean", _) => {
            return Err(Failure::Solver(format!(
                "--problem {}: not available yet (quadratic, toy:bome, toy:shen-chen are)",
                args.problem
            )));
        }
        _ => {
            return Err(Failure::BadInput(format!(
                "unknown --problem `{}` (quadratic[:NX[:NY]], toy:bome, toy:shen-chen)",
                args.problem
            )));
        }
    };
    if args.json {
        print_json(&json!({
            "problem": args.problem,
            "method": rep.method,
            "iterations": rep.iterations,
            "gradient_calls": rep.calls.gradient_calls(),
            "seconds": rep.elapsed.as_secs_f64(),
            "upper_value": rep.upper_value,
            "hypergradient_norm": rep.grad_norm,
            "hessian_vector_calls": rep.calls.hvp_calls(),
            "penalty_gap": rep.certificate.map(|c| c.penalty_gap),
            "test_accuracy": null,
            "sigma": rep.sigma,
            "value": rep.value,
            "converged": rep.converged,
            "termination": rep.termination.as_str(),
            "certificate": to_json(&rep.certificate),
            "calls": to_json(&rep.calls),
            "work": to_json(&rep.work),
            "error_vs_known_solution": closed_form,
            "x": if rep.x.nrows() <= 16 { json!(rep.x.iter().collect::<Vec<_>>()) } else { json!(null) },
            "history": to_json(&rep.history),
        }));
    } else {
        println!(
            "problem           {} (n_x = {})",
            args.problem,
            rep.x.nrows()
        );
        println!("method            {} (σ = {:e})", rep.method, rep.sigma);
        println!("iterations        {} ({})", rep.iterations, rep.termination);
        println!("ψ_σ(x)            {:.12e}", rep.value);
        println!("f(x, y_σ)         {:.12e}", rep.upper_value);
        println!("‖∇ψ_σ‖ (proj.)    {:.3e}", rep.grad_norm);
        if let Some(c) = rep.certificate {
            println!(
                "penalty gap       {:.3e} (estimate of ψ − ψ_σ from σ/2; gradient {:.3e})",
                c.penalty_gap, c.gradient_gap
            );
        }
        println!("gradient calls    {}", rep.calls.gradient_calls());
        if let Some(e) = closed_form {
            println!("vs known solution {e:.2e}");
        }
        println!(
            "time              {:.1} ms",
            rep.elapsed.as_secs_f64() * 1e3
        );
    }
    outcome(rep.converged, || {
        format!(
            "{} did not converge on {} in {} iterations (‖∇ψ_σ‖ = {:.3e})",
            rep.method, args.problem, rep.iterations, rep.grad_norm
        )
    })
}
