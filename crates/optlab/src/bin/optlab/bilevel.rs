//! `optlab bilevel`: bilevel optimisation by penalty methods (bilevel-penalty).

use bilevel_penalty::instances::{
    BomeToy, CleaningProtocol, CleaningSplit, Quadratic, RegSplit, ShenChen, StochasticQuadratic,
    StochasticQuadraticConfig,
};
use bilevel_penalty::{
    AidParams, BilevelProblem, BilevelReport, BomeParams, F2saParams, InnerParams, ItdParams,
    PenaltyParams, StochasticBilevel, StochasticParams, Variant, aid, bome, f2sa, itd, penalty,
    penalty_stochastic,
};
use linalg_core::faer::Col;
use serde_json::json;

use crate::{Failure, outcome, print_json, to_json};

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// The deterministic penalty method (Kwon et al. 2024).
    Penalty,
    /// The stochastic penalty method, double loop (minibatch problems).
    PenaltyStochastic,
    /// The single-loop stochastic penalty method with STORM momentum.
    PenaltyStorm,
    /// The two-time-scale stochastic penalty method (lower steps ≫ upper).
    #[value(name = "penalty-2ts")]
    Penalty2ts,
    /// Approximate implicit differentiation (CG on the lower-level Hessian).
    Aid,
    /// Iterative differentiation (reverse mode through T lower-level steps).
    Itd,
    /// F2SA (Kwon et al. 2023) with benchopt's schedule (minibatch problems).
    F2sa,
    /// BOME (Liu et al. 2022).
    Bome,
}

impl MethodArg {
    fn stochastic(self) -> bool {
        matches!(
            self,
            MethodArg::PenaltyStochastic
                | MethodArg::PenaltyStorm
                | MethodArg::Penalty2ts
                | MethodArg::F2sa
        )
    }
}

/// Arguments of `optlab bilevel`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Problem: quadratic[:NX[:NY]] (closed form; default 5:8), toy:bome,
    /// toy:shen-chen, quadratic-stochastic (benchopt's shape: inner 100,
    /// outer 10, 32 768 / 1 024 samples), ridge:breast_cancer, ridge:wine,
    /// hyperclean:digits.
    #[arg(long, default_value = "quadratic")]
    problem: String,
    /// Method (the stochastic ones and F2SA need a minibatch problem:
    /// quadratic-stochastic, ridge:…, hyperclean:digits).
    #[arg(long, value_enum, default_value_t = MethodArg::Penalty)]
    method: MethodArg,
    /// The penalty parameter σ (default per problem: 1e-3 for the
    /// quadratic and the toys, 1e-2 for ridge, 0.1 for hyperclean and the
    /// stochastic methods' start).
    #[arg(long)]
    sigma: Option<f64>,
    /// σ-continuation down to this value (default: fixed σ; 1e-3 for the
    /// stochastic methods on quadratic-stochastic).
    #[arg(long)]
    sigma_min: Option<f64>,
    /// Stop when the projected gradient of ψ_σ is below this (deterministic methods).
    #[arg(long, default_value_t = 1e-6)]
    grad_tol: f64,
    /// Outer-iteration limit (default per problem and method).
    #[arg(long)]
    max_iters: Option<usize>,
    /// Minibatch size of the stochastic methods (default 64; 32 for ridge).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Stop once ψ(x) − ψ* ≤ this, where ψ* is known (quadratic-stochastic;
    /// default 1e-4 there).
    #[arg(long)]
    target_gap: Option<f64>,
    /// Seed: of the random problem (quadratic), of the split (ridge,
    /// hyperclean), of the sampler (stochastic methods), of the toys' start.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// What the problem adds to the report.
#[derive(Default)]
struct Extra {
    /// Distance to a known solution (relative for the quadratic).
    error_vs_known: Option<f64>,
    /// ψ(x) − ψ* where ψ* is known.
    value_gap: Option<f64>,
    test_accuracy: Option<f64>,
    detection: Option<bilevel_penalty::instances::Detection>,
    /// A fixed-budget protocol: the iteration limit is the stopping rule.
    budget_protocol: bool,
}

fn flag_error(e: bilevel_penalty::Error, json: bool) -> Failure {
    let msg = match e.param_name() {
        Some(n @ ("sigma" | "sigma_min" | "grad_tol" | "max_iters" | "batch_size" | "target")) => {
            let flag = if n == "target" {
                "target-gap".to_string()
            } else {
                n.replace('_', "-")
            };
            format!("--{flag}: {e}")
        }
        _ => e.to_string(),
    };
    Failure::from_error(e.is_input_error(), msg, json)
}

/// Per-problem defaults.
#[derive(Clone, Copy)]
struct Defaults {
    sigma: f64,
    max_iters: usize,
    inner: InnerParams,
    batch: usize,
    /// The stochastic methods' outer ratio and trust radius.
    outer_ratio: Option<f64>,
    max_move: f64,
}

fn deterministic<P: BilevelProblem>(
    p: &P,
    x0: &Col<f64>,
    y0: Option<&Col<f64>>,
    args: &Args,
    d: Defaults,
) -> Result<BilevelReport, bilevel_penalty::Error> {
    let max_iters = args.max_iters.unwrap_or(d.max_iters);
    let y0 = y0.map(|y| y.as_ref());
    match args.method {
        MethodArg::Aid => aid(
            p,
            x0.as_ref(),
            y0,
            &AidParams::default()
                .grad_tol(args.grad_tol)
                .max_iters(max_iters)
                .inner(InnerParams {
                    tol: d.inner.tol.min(1e-7),
                    ..d.inner
                }),
            crate::watch::observe,
        ),
        MethodArg::Itd => itd(
            p,
            x0.as_ref(),
            y0,
            &ItdParams::default()
                .grad_tol(args.grad_tol)
                .max_iters(max_iters),
            crate::watch::observe,
        ),
        MethodArg::Bome => bome(
            p,
            x0.as_ref(),
            y0,
            &BomeParams::default()
                .grad_tol(args.grad_tol)
                .max_iters(args.max_iters.unwrap_or(10 * d.max_iters)),
            crate::watch::observe,
        ),
        _ => penalty(
            p,
            x0.as_ref(),
            y0,
            &PenaltyParams::default()
                .sigma(args.sigma.unwrap_or(d.sigma))
                .sigma_min(args.sigma_min)
                .grad_tol(args.grad_tol)
                .max_iters(max_iters)
                .inner(d.inner),
            crate::watch::observe,
        ),
    }
}

fn run_any<P: StochasticBilevel>(
    p: &P,
    x0: &Col<f64>,
    y0: Option<&Col<f64>>,
    args: &Args,
    d: Defaults,
    target: Option<f64>,
) -> Result<BilevelReport, bilevel_penalty::Error> {
    let batch = args.batch_size.unwrap_or(d.batch);
    let y0r = y0.map(|y| y.as_ref());
    match args.method {
        MethodArg::F2sa => f2sa(
            p,
            x0.as_ref(),
            y0r,
            &F2saParams {
                batch_size: batch,
                ..F2saParams::default()
            }
            .max_iters(args.max_iters.unwrap_or(30_000))
            .target(target)
            .seed(args.seed)
            .eval_every(10),
            crate::watch::observe,
        ),
        MethodArg::PenaltyStochastic | MethodArg::PenaltyStorm | MethodArg::Penalty2ts => {
            let variant = match args.method {
                MethodArg::PenaltyStorm => Variant::Storm,
                MethodArg::Penalty2ts => Variant::TwoTimeScale,
                _ => Variant::DoubleLoop,
            };
            let sigma = args.sigma.unwrap_or(0.1);
            penalty_stochastic(
                p,
                x0.as_ref(),
                y0r,
                &StochasticParams::default()
                    .variant(variant)
                    .sigma(sigma)
                    .sigma_min(args.sigma_min.or(if target.is_some() {
                        Some(1e-3)
                    } else {
                        Some(d.sigma.min(sigma))
                    }))
                    .stage_iters(200)
                    .batch_size(batch)
                    .outer_ratio(d.outer_ratio)
                    .max_move(d.max_move)
                    .max_iters(args.max_iters.unwrap_or(if target.is_some() {
                        30_000
                    } else {
                        5_000
                    }))
                    .eval_every(10)
                    .target(target)
                    .seed(args.seed),
                crate::watch::observe,
            )
        }
        _ => deterministic(p, x0, y0, args, d),
    }
}

pub fn run(args: &Args) -> Result<(), Failure> {
    // Options that do not apply to the method are refused, not ignored.
    let method = format!(
        "--method {}",
        clap::ValueEnum::to_possible_value(&args.method)
            .map_or_else(String::new, |v| v.get_name().to_owned())
    );
    let penalty_family = matches!(
        args.method,
        MethodArg::Penalty
            | MethodArg::PenaltyStochastic
            | MethodArg::PenaltyStorm
            | MethodArg::Penalty2ts
    );
    let stochastic = matches!(
        args.method,
        MethodArg::PenaltyStochastic
            | MethodArg::PenaltyStorm
            | MethodArg::Penalty2ts
            | MethodArg::F2sa
    );
    if !penalty_family {
        crate::reject_given(&["sigma", "sigma_min"], &method)?;
    }
    if !stochastic {
        crate::reject_given(&["batch_size"], &method)?;
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
    if let Some(t) = args.target_gap
        && !(t.is_finite() && t > 0.0)
    {
        return Err(Failure::BadInput(format!(
            "--target-gap: must be finite and > 0, got {t}"
        )));
    }
    let bad =
        |e: bilevel_penalty::Error| Failure::BadInput(format!("--problem {}: {e}", args.problem));
    let needs_minibatch = || {
        Failure::BadInput(format!(
            "--method {}: needs a minibatch problem (quadratic-stochastic, ridge:breast_cancer, ridge:wine, hyperclean:digits), not --problem {}",
            clap::ValueEnum::to_possible_value(&args.method)
                .map_or_else(String::new, |v| v.get_name().to_string()),
            args.problem
        ))
    };
    let err = |e| flag_error(e, args.json);
    // A deterministic start in [lo, hi] from the seed (the toys' experiments
    // draw their starts the same way).
    let start = |lo: f64, hi: f64| {
        lo + (hi - lo)
            * ((args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64)
    };
    let plain = Defaults {
        sigma: 1e-3,
        max_iters: 1000,
        inner: InnerParams::default(),
        batch: 64,
        outer_ratio: None,
        max_move: f64::INFINITY,
    };
    let mut extra = Extra::default();
    let rep = match (name, rest.as_slice()) {
        ("quadratic", _) if rest.len() <= 2 => {
            if args.method.stochastic() {
                return Err(needs_minibatch());
            }
            let (nx, ny) = (num(0, 5)?, num(1, 8)?);
            // A is dense: bound its size before allocating it.
            if nx.saturating_mul(ny) > 4_000_000 {
                return Err(Failure::BadInput(format!(
                    "--problem {}: {nx} × {ny} is too large (at most 4 000 000 entries of A)",
                    args.problem
                )));
            }
            let q = Quadratic::random(nx, ny, 0.1, args.seed).map_err(bad)?;
            let rep = deterministic(&q, &Col::zeros(q.dims().0), None, args, plain).map_err(err)?;
            // The penalty method's limit is argmin ψ_σ; the baselines' argmin ψ.
            let exact = q.argmin_psi_sigma(if args.method == MethodArg::Penalty {
                rep.sigma
            } else {
                0.0
            });
            extra.error_vs_known = Some((&rep.x - &exact).norm_l2() / exact.norm_l2().max(1e-300));
            extra.value_gap = Some(
                q.psi_sigma(rep.x.as_ref(), 0.0)
                    - q.psi_sigma(q.argmin_psi_sigma(0.0).as_ref(), 0.0),
            );
            rep
        }
        ("toy", ["bome"]) => {
            if args.method.stochastic() {
                return Err(needs_minibatch());
            }
            let rep = deterministic(
                &BomeToy,
                &Col::from_fn(1, |_| start(-3.0, 3.0)),
                None,
                args,
                plain,
            )
            .map_err(err)?;
            extra.error_vs_known = Some((rep.x[0] - 1.0).abs());
            rep
        }
        ("toy", ["shen-chen"]) => {
            if args.method.stochastic() {
                return Err(needs_minibatch());
            }
            deterministic(
                &ShenChen::default(),
                &Col::from_fn(1, |_| start(0.0, 3.0)),
                None,
                args,
                plain,
            )
            .map_err(err)?
        }
        ("quadratic-stochastic", []) => {
            let q =
                StochasticQuadratic::new(&StochasticQuadraticConfig::default(), 0).map_err(bad)?;
            let (x0, y0) = q.benchopt_start();
            let target = args
                .target_gap
                .or(if args.method.stochastic() {
                    Some(1e-4)
                } else {
                    None
                })
                .map(|g| q.psi_star() + g);
            let rep = run_any(
                &q,
                &x0,
                Some(&y0),
                args,
                Defaults {
                    sigma: 1e-3,
                    ..plain
                },
                target,
            )
            .map_err(err)?;
            extra.value_gap = Some(q.psi(rep.x.as_ref()) - q.psi_star());
            extra.error_vs_known =
                Some((&rep.x - q.x_star()).norm_l2() / q.x_star().norm_l2().max(1e-300));
            rep
        }
        ("ridge", [ds @ ("breast_cancer" | "wine")]) => {
            let mut data = if *ds == "wine" {
                datasets::wine()
            } else {
                datasets::breast_cancer()
            };
            datasets::standardize(&mut data.features)
                .map_err(|e| Failure::BadInput(format!("--problem {}: {e}", args.problem)))?;
            let classes = data.labels.iter().max().map_or(2, |m| m + 1);
            let s = RegSplit::new(data.features.as_ref(), &data.labels, classes, args.seed)
                .map_err(bad)?;
            let d = Defaults {
                sigma: 1e-2,
                max_iters: 25,
                inner: InnerParams::default().tol(1e-6).accelerated(true),
                batch: 32,
                outer_ratio: Some(1e-3),
                max_move: 0.05,
            };
            let rep = run_any(
                &s.problem,
                &Col::zeros(s.problem.dims().0),
                None,
                args,
                d,
                None,
            )
            .map_err(err)?;
            extra.test_accuracy = Some(s.test_accuracy(rep.y.as_ref()));
            extra.budget_protocol = true;
            rep
        }
        ("hyperclean", ["digits"]) => {
            let mut data = datasets::digits();
            datasets::standardize(&mut data.features)
                .map_err(|e| Failure::BadInput(format!("--problem {}: {e}", args.problem)))?;
            let s = CleaningSplit::new(
                data.features.as_ref(),
                &data.labels,
                10,
                &CleaningProtocol::default(),
                args.seed,
            )
            .map_err(bad)?;
            let d = Defaults {
                sigma: 0.1,
                max_iters: 15,
                inner: InnerParams::default()
                    .tol(1e-5)
                    .max_iters(5000)
                    .accelerated(true),
                batch: 64,
                outer_ratio: Some(1e-2),
                max_move: 0.5,
            };
            let rep = run_any(
                &s.problem,
                &Col::zeros(s.problem.dims().0),
                None,
                args,
                d,
                None,
            )
            .map_err(err)?;
            extra.test_accuracy = Some(s.test_accuracy(rep.y.as_ref()));
            let det = s.detection(rep.x.as_ref());
            extra.detection = Some(det);
            extra.budget_protocol = true;
            rep
        }
        _ => {
            return Err(Failure::BadInput(format!(
                "unknown --problem `{}` (quadratic[:NX[:NY]], toy:bome, toy:shen-chen, quadratic-stochastic, ridge:breast_cancer, ridge:wine, hyperclean:digits)",
                args.problem
            )));
        }
    };
    // A fixed-budget protocol (ridge, hyper-cleaning) ends by design at its
    // iteration limit: that is success; elsewhere the method's own test decides.
    let ok = rep.converged
        || (extra.budget_protocol
            && rep.termination == bilevel_penalty::Termination::MaxIterations);
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
            "sample_gradients": rep.calls.samples,
            "penalty_gap": rep.certificate.map(|c| c.penalty_gap),
            "test_accuracy": extra.test_accuracy,
            "detection": extra.detection.map(|d| json!({"precision": d.precision, "recall": d.recall, "f1": d.f1})),
            "value_gap": extra.value_gap,
            "sigma": rep.sigma,
            "value": rep.value,
            "converged": ok,
            "termination": crate::watch::termination(rep.termination.as_str()),
            "certificate": to_json(&rep.certificate),
            "calls": to_json(&rep.calls),
            "work": to_json(&rep.work),
            "error_vs_known_solution": extra.error_vs_known,
            "x": if rep.x.nrows() <= 16 { json!(rep.x.iter().collect::<Vec<_>>()) } else { json!(null) },
            "history": to_json(&rep.history),
        }));
    } else {
        outln!(
            "problem           {} (n_x = {})",
            args.problem,
            rep.x.nrows()
        );
        outln!("method            {} (σ = {:e})", rep.method, rep.sigma);
        outln!(
            "iterations        {} ({})",
            rep.iterations,
            crate::watch::termination(rep.termination.as_str())
        );
        outln!("value             {:.12e}", rep.value);
        outln!("f(x, y)           {:.12e}", rep.upper_value);
        outln!("‖hypergradient‖   {:.3e}", rep.grad_norm);
        if let Some(c) = rep.certificate {
            outln!(
                "penalty gap       {:.3e} (estimate of ψ − ψ_σ from σ/2; gradient {:.3e})",
                c.penalty_gap,
                c.gradient_gap
            );
        }
        outln!("gradient calls    {}", rep.calls.gradient_calls());
        if let Some(g) = extra.value_gap {
            outln!("ψ(x) − ψ*         {g:.3e}");
        }
        if let Some(e) = extra.error_vs_known {
            outln!("vs known solution {e:.2e}");
        }
        if let Some(a) = extra.test_accuracy {
            outln!("test accuracy     {:.2} %", 100.0 * a);
        }
        if let Some(d) = &extra.detection {
            outln!(
                "detection P/R/F1  {:.3} / {:.3} / {:.3}",
                d.precision,
                d.recall,
                d.f1
            );
        }
        outln!(
            "time              {:.1} ms",
            rep.elapsed.as_secs_f64() * 1e3
        );
    }
    outcome(ok, || {
        format!(
            "{} did not converge on {} in {} iterations (‖hypergradient‖ = {:.3e})",
            rep.method, args.problem, rep.iterations, rep.grad_norm
        )
    })
}
