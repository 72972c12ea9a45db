//! `optlab optimize`: first-order methods and gradient-regularised Newton (optimizers).

use std::path::PathBuf;

use clap::ValueEnum;
use linalg_core::faer::{Col, Side};
use linalg_core::io::read_npy_col;
use linalg_core::lanczos::{LanczosParams, Reorthogonalization, lanczos_with, ritz_pairs};
use linalg_core::objective::Rosenbrock;
use linalg_core::{Control, Objective};
use optimizers::objectives::{
    ChebyshevRosenbrock, LogSumExp, Logistic, NormPow4, PaperFunction, Softmax,
};
use optimizers::{
    AdamParams, Curvature, GrnParams, HessianKind, Method, OptReport, Regularisation, RunParams,
    grn, minimize,
};
use serde_json::json;

use crate::{Failure, outcome, print_json, to_json};

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Gradient descent, fixed step `--lr` (default 1/L).
    Gd,
    /// Gradient descent with Armijo backtracking.
    GdArmijo,
    /// Nesterov's accelerated gradient (1/L step; strongly convex momentum when μ > 0).
    Nesterov,
    /// Triple momentum method (needs μ > 0).
    Tmm,
    /// Adam (PyTorch).
    Adam,
    /// AMSGrad (PyTorch's Adam(amsgrad=True)).
    Amsgrad,
    /// diffGrad (torch-optimizer / official fixed code).
    Diffgrad,
    /// Gradient-regularised Newton, exact Hessian.
    Grn,
    /// Gradient-regularised Newton, Gauss–Newton Hessian.
    GrnGn,
    /// Gradient-regularised Newton, Fisher Hessian.
    GrnFisher,
    /// Gradient-regularised Newton, diagonal Hessian.
    GrnDiag,
    /// Mishchenko's regularised Newton, λ = √(H‖g‖).
    Mishchenko,
}

/// Arguments of `optlab optimize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Problem: rosenbrock[:N], chebyshev[:N[:P]], logsumexp[:M:N], normpow4[:M:N],
    /// logistic:DATASET, softmax:DATASET, f1, f2, f3.
    #[arg(long)]
    problem: String,
    /// Method.
    #[arg(long, value_enum)]
    method: MethodArg,
    /// Iteration limit.
    #[arg(long, default_value_t = 1000)]
    max_iters: usize,
    /// Stop when ‖∇f‖₂ ≤ tol.
    #[arg(long, default_value_t = 1e-8)]
    tol: f64,
    /// Learning rate (gd, Adam family) or initial step (gd-armijo).
    #[arg(long)]
    lr: Option<f64>,
    /// Adam family β1.
    #[arg(long, default_value_t = 0.9)]
    beta1: f64,
    /// Adam family β2.
    #[arg(long, default_value_t = 0.999)]
    beta2: f64,
    /// Adam family ε.
    #[arg(long, default_value_t = 1e-8)]
    eps: f64,
    /// Adam family coupled weight decay.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Smoothness L for gd/nesterov/tmm (default: largest Hessian eigenvalue at x0).
    #[arg(long)]
    l: Option<f64>,
    /// Strong convexity μ for nesterov/tmm (default: the ℓ2 regularisation of
    /// regression problems, smallest Hessian eigenvalue at x0 elsewhere, floored at 0).
    #[arg(long)]
    mu: Option<f64>,
    /// ℓ2 regularisation λ of logistic/softmax.
    #[arg(long, default_value_t = 1e-3)]
    reg: f64,
    /// GRN: initial γ (or H for mishchenko).
    #[arg(long, default_value_t = 1.0)]
    gamma0: f64,
    /// Seed of the random problems (logsumexp, normpow4).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Starting point (NPY vector) instead of the classic one.
    #[arg(long, value_name = "FILE.npy")]
    x0: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// A parsed problem, with its default start and (for regression) λ.
enum Problem {
    Rosen(Rosenbrock),
    Cheb(ChebyshevRosenbrock),
    Lse(LogSumExp),
    Np4(NormPow4),
    Logi(Logistic),
    Soft(Softmax),
    Paper(PaperFunction),
}

/// Largest dimension of a vector-sized problem (rosenbrock, chebyshev).
const MAX_DIM: usize = 10_000_000;
/// Largest side of a dense problem matrix, and of a dense Hessian.
const MAX_SIDE: usize = 4000;

fn parse_problem(args: &Args) -> Result<(Problem, Col<f64>), Failure> {
    let in_spec =
        |e: &dyn std::fmt::Display| Failure::BadInput(format!("--problem {}: {e}", args.problem));
    let mut parts = args.problem.split(':');
    let name = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let num = |k: usize, default: usize| -> Result<usize, Failure> {
        match rest.get(k) {
            Some(s) => s.parse::<usize>().map_err(|_| {
                Failure::BadInput(format!("--problem {}: `{s}` is not a number", args.problem))
            }),
            None => Ok(default),
        }
    };
    let dataset = || -> Result<&str, Failure> {
        rest.first().copied().ok_or_else(|| {
            Failure::BadInput(format!(
                "--problem {name} needs a dataset, e.g. {name}:breast_cancer"
            ))
        })
    };
    // A dataset's errors are the problem name's (`--reg` names itself).
    let in_problem = |e: datasets::Error| {
        let m = e.to_string();
        if m.contains("`reg`") {
            Failure::BadInput(format!("--reg: {m}"))
        } else {
            Failure::BadInput(format!("--problem {}: {m}", args.problem))
        }
    };
    // Each problem takes a fixed number of `:ARGS`; extra ones are refused,
    // not ignored.
    let allowed: &[usize] = match name {
        "rosenbrock" => &[0, 1],
        "chebyshev" => &[0, 1, 2],
        "logsumexp" | "normpow4" => &[0, 2],
        "logistic" | "softmax" => &[1],
        _ => &[0],
    };
    let known = matches!(
        name,
        "rosenbrock"
            | "chebyshev"
            | "logsumexp"
            | "normpow4"
            | "logistic"
            | "softmax"
            | "f1"
            | "f2"
            | "f3"
    );
    if known && !allowed.contains(&rest.len()) {
        let forms = match name {
            "rosenbrock" => "rosenbrock or rosenbrock:N",
            "chebyshev" => "chebyshev, chebyshev:N or chebyshev:N:P",
            "logsumexp" => "logsumexp or logsumexp:M:N",
            "normpow4" => "normpow4 or normpow4:M:N",
            "logistic" => "logistic:DATASET",
            "softmax" => "softmax:DATASET",
            _ => name,
        };
        return Err(Failure::BadInput(format!(
            "--problem {}: expected {forms}",
            args.problem
        )));
    }
    // Dense data (logsumexp, normpow4) and vectors (rosenbrock, chebyshev)
    // are sized by the flag: bound them before allocating.
    let sized = |k: usize, default: usize, max: usize| -> Result<usize, Failure> {
        let v = num(k, default)?;
        if v > max {
            return Err(Failure::BadInput(format!(
                "--problem {}: {v} is too large (at most {max})",
                args.problem
            )));
        }
        Ok(v)
    };
    Ok(match name {
        "rosenbrock" => {
            let f = Rosenbrock::new(sized(0, 2, MAX_DIM)?).map_err(|e| in_spec(&e))?;
            let x0 = f.classic_start();
            (Problem::Rosen(f), x0)
        }
        "chebyshev" => {
            let p = num(1, 4)? as f64;
            let f = ChebyshevRosenbrock::new(sized(0, 10, MAX_DIM)?, p).map_err(|e| in_spec(&e))?;
            let x0 = f.classic_start();
            (Problem::Cheb(f), x0)
        }
        "logsumexp" => {
            let f = LogSumExp::random(
                sized(0, 500, MAX_SIDE)?,
                sized(1, 100, MAX_SIDE)?,
                1.0,
                args.seed,
            )
            .map_err(|e| in_spec(&e))?;
            let x0 = Col::from_fn(f.dim(), |_| 1.0);
            (Problem::Lse(f), x0)
        }
        "normpow4" => {
            let f = NormPow4::random(
                sized(0, 100, MAX_SIDE)?,
                sized(1, 200, MAX_SIDE)?,
                args.seed,
            )
            .map_err(|e| in_spec(&e))?;
            let x0 = Col::zeros(f.dim());
            (Problem::Np4(f), x0)
        }
        "logistic" => {
            let f = datasets::objectives::logistic(dataset()?, args.reg).map_err(in_problem)?;
            let x0 = Col::zeros(f.dim());
            (Problem::Logi(f), x0)
        }
        "softmax" => {
            let f = datasets::objectives::softmax(dataset()?, args.reg).map_err(in_problem)?;
            let x0 = Col::zeros(f.dim());
            (Problem::Soft(f), x0)
        }
        "f1" | "f2" | "f3" => {
            let f = match name {
                "f1" => PaperFunction::F1,
                "f2" => PaperFunction::F2,
                _ => PaperFunction::F3,
            };
            (Problem::Paper(f), Col::from_fn(1, |_| -1.0))
        }
        _ => {
            return Err(Failure::BadInput(format!(
                "unknown --problem `{name}` (rosenbrock, chebyshev, logsumexp, normpow4, logistic:DATASET, softmax:DATASET, f1, f2, f3)"
            )));
        }
    })
}

/// Largest dimension at which the default L and μ come from the dense Hessian.
const DENSE_BOUNDS_MAX: usize = 500;
/// Lanczos steps of the matrix-free estimate.
const LANCZOS_STEPS: usize = 60;

/// Extreme eigenvalues of the Hessian at `x0` (for the default L and μ) and
/// the Hessian-vector products spent. Small problems use the dense Hessian;
/// larger ones (and objectives without one) run matrix-free: plain Lanczos
/// (three vectors, no basis kept) on the Hessian operator, each extreme Ritz
/// value widened by its residual bound so that L errs on the safe side.
fn hessian_bounds(obj: &impl Objective, x0: &Col<f64>) -> Result<(f64, f64, usize), Failure> {
    let n = obj.dim();
    if n <= DENSE_BOUNDS_MAX
        && let Some(h) = obj.hessian(x0.as_ref())
    {
        let ev = h
            .self_adjoint_eigenvalues(Side::Lower)
            .map_err(|e| Failure::Solver(format!("Hessian eigenvalues at x0 failed: {e:?}")))?;
        return Ok((ev[0], ev[ev.len() - 1], 0));
    }
    let op = obj.hessian_op(x0.as_ref());
    // A fixed start with no structure in common with the test problems.
    let start = Col::from_fn(n, |i| {
        1.0 + 0.5 * ((i as f64 + 1.0) * 0.618_033_988_749_895).fract()
    });
    let steps = LANCZOS_STEPS.min(n);
    let params = LanczosParams::new(steps)
        .reorth(Reorthogonalization::None)
        .keep_basis(false);
    let run = lanczos_with(&op, start.as_ref(), &params, |_| Control::Continue).map_err(|e| {
        Failure::Solver(format!(
            "estimating L and μ by Lanczos on the Hessian at x0 failed ({e}); give --l and --mu"
        ))
    })?;
    let ritz = ritz_pairs(&run).map_err(|e| Failure::Solver(e.to_string()))?;
    let k = ritz.values.len();
    let lo = ritz.values[0] - ritz.residual_bounds[0];
    let hi = ritz.values[k - 1] + ritz.residual_bounds[k - 1];
    Ok((lo, hi, run.work.matvecs))
}

fn solve<O: Curvature>(
    obj: &O,
    x0: &Col<f64>,
    args: &Args,
    reg_mu: Option<f64>,
) -> Result<OptReport, Failure> {
    let run = RunParams {
        max_iters: args.max_iters,
        grad_tol: args.tol,
        ..Default::default()
    };
    let adam = AdamParams {
        lr: args.lr.unwrap_or(1e-3),
        beta1: args.beta1,
        beta2: args.beta2,
        eps: args.eps,
        weight_decay: args.weight_decay,
    };
    let needs_l = matches!(
        args.method,
        MethodArg::Gd | MethodArg::Nesterov | MethodArg::Tmm
    );
    let needs_mu = matches!(args.method, MethodArg::Nesterov | MethodArg::Tmm);
    let gd_fixed = args.method == MethodArg::Gd && args.lr.is_some();
    let (mut l, mut mu) = (args.l.unwrap_or(f64::NAN), args.mu.unwrap_or(f64::NAN));
    let mut bound_products = 0;
    if needs_l && !gd_fixed && (args.l.is_none() || (needs_mu && args.mu.is_none())) {
        let (lo, hi, products) = hessian_bounds(obj, x0)?;
        bound_products = products;
        if args.l.is_none() {
            l = hi;
        }
        if args.mu.is_none() {
            mu = reg_mu.unwrap_or(lo.max(0.0));
        }
    }
    // grn and mishchenko solve the exact Hessian matrix-free (LinearSolver::
    // Auto); the approximate models are dense n × n matrices here (and each
    // step factors one: O(n³) time), so their size is bounded by time as
    // well as memory.
    let grn_method = matches!(
        args.method,
        MethodArg::GrnGn | MethodArg::GrnFisher | MethodArg::GrnDiag
    );
    if grn_method && obj.dim() > MAX_SIDE {
        let n = obj.dim();
        let bytes = (n as u128) * (n as u128) * 8;
        return Err(Failure::BadInput(format!(
            "--method {}: {n} unknowns is too large: the dense Hessian model needs {bytes} bytes ({:.1} GB) and O(n³) work per step (at most {MAX_SIDE} unknowns); the matrix-free methods grn, mishchenko, gd, gd-armijo, nesterov, adam or diffgrad run at this size",
            args.method
                .to_possible_value()
                .map_or_else(|| "grn".to_owned(), |v| v.get_name().to_owned()),
            bytes as f64 / 1e9
        )));
    }
    let grn_params = |hessian, regularisation| GrnParams {
        run,
        hessian,
        regularisation,
        ..Default::default()
    };
    let gn = Regularisation::GradNorm {
        gamma0: args.gamma0,
    };
    let result = match args.method {
        MethodArg::Grn => grn(
            obj,
            x0.as_ref(),
            &grn_params(HessianKind::Exact, gn),
            crate::watch::observe,
        ),
        MethodArg::GrnGn => grn(
            obj,
            x0.as_ref(),
            &grn_params(HessianKind::GaussNewton, gn),
            crate::watch::observe,
        ),
        MethodArg::GrnFisher => grn(
            obj,
            x0.as_ref(),
            &grn_params(HessianKind::Fisher, gn),
            crate::watch::observe,
        ),
        MethodArg::GrnDiag => grn(
            obj,
            x0.as_ref(),
            &grn_params(HessianKind::Diagonal, gn),
            crate::watch::observe,
        ),
        MethodArg::Mishchenko => grn(
            obj,
            x0.as_ref(),
            &grn_params(
                HessianKind::Exact,
                Regularisation::Mishchenko { h0: args.gamma0 },
            ),
            crate::watch::observe,
        ),
        m => {
            let method = match m {
                MethodArg::Gd => Method::Gd {
                    lr: args.lr.unwrap_or(1.0 / l),
                },
                MethodArg::GdArmijo => Method::GdArmijo {
                    lr0: args.lr.unwrap_or(1.0),
                },
                MethodArg::Nesterov => Method::Nesterov { l, mu },
                MethodArg::Tmm => Method::Tmm { l, mu },
                MethodArg::Adam => Method::Adam(adam),
                MethodArg::Amsgrad => Method::AmsGrad(adam),
                _ => Method::DiffGrad(adam),
            };
            minimize(obj, x0.as_ref(), method, &run, crate::watch::observe)
        }
    };
    result
        .map(|mut rep| {
            rep.work.hessian_vec_evals += bound_products;
            rep
        })
        .map_err(|e| {
            let msg = match e.param_name().and_then(flag_of) {
                Some(flag) => format!("{flag}: {e}"),
                None => e.to_string(),
            };
            Failure::from_error(e.is_input_error(), msg, args.json)
        })
}

/// The command-line flag of a rejected parameter (names as `validate()` spells them).
fn flag_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "lr" | "lr0" => "--lr",
        "beta1" => "--beta1",
        "beta2" => "--beta2",
        "eps" => "--eps",
        "weight_decay" => "--weight-decay",
        "l" => "--l",
        "mu" => "--mu",
        "grad_tol" => "--tol",
        "gamma0" | "h0" => "--gamma0",
        "reg" => "--reg",
        "x0" => "--x0",
        _ => return None,
    })
}

/// Refuses the options that the chosen method or problem does not use.
fn check_applicable(args: &Args) -> Result<(), Failure> {
    use MethodArg as M;
    let method = args
        .method
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_owned());
    let context = format!("--method {method}");
    let adam = matches!(args.method, M::Adam | M::Amsgrad | M::Diffgrad);
    let grn = matches!(
        args.method,
        M::Grn | M::GrnGn | M::GrnFisher | M::GrnDiag | M::Mishchenko
    );
    if !adam {
        crate::reject_given(&["beta1", "beta2", "eps", "weight_decay"], &context)?;
    }
    if !grn {
        crate::reject_given(&["gamma0"], &context)?;
    }
    if !matches!(args.method, M::Gd | M::Nesterov | M::Tmm) {
        crate::reject_given(&["l"], &context)?;
    }
    if !matches!(args.method, M::Nesterov | M::Tmm) {
        crate::reject_given(&["mu"], &context)?;
    }
    if !(adam || matches!(args.method, M::Gd | M::GdArmijo)) {
        crate::reject_given(&["lr"], &context)?;
    }
    if args.method == M::Gd && args.lr.is_some() {
        crate::reject_given(
            &["l"],
            "--method gd with --lr (L only sets the default step 1/L)",
        )?;
    }
    let name = args.problem.split(':').next().unwrap_or_default();
    if !matches!(name, "logistic" | "softmax") {
        crate::reject_given(
            &["reg"],
            &format!("--problem {name} (only logistic and softmax are regularised)"),
        )?;
    }
    if !matches!(name, "logsumexp" | "normpow4") {
        crate::reject_given(
            &["seed"],
            &format!("--problem {name} (only logsumexp and normpow4 are random)"),
        )?;
    }
    Ok(())
}

pub fn run(args: &Args) -> Result<(), Failure> {
    check_applicable(args)?;
    let (problem, default_x0) = parse_problem(args)?;
    let default_x0_len = default_x0.nrows();
    let x0 = match &args.x0 {
        Some(p) => {
            // The reader's errors name the file already.
            read_npy_col(p).map_err(|e| Failure::BadInput(e.to_string()))?
        }
        None => default_x0,
    };
    if let Some(p) = &args.x0
        && x0.nrows() != default_x0_len
    {
        return Err(Failure::BadInput(format!(
            "{}: the starting point has {} entries, --problem {} has {} unknowns",
            p.display(),
            x0.nrows(),
            args.problem,
            default_x0_len
        )));
    }
    let reg = Some(args.reg);
    let rep = match &problem {
        Problem::Rosen(f) => solve(f, &x0, args, None),
        Problem::Cheb(f) => solve(f, &x0, args, None),
        Problem::Lse(f) => solve(f, &x0, args, None),
        Problem::Np4(f) => solve(f, &x0, args, None),
        Problem::Logi(f) => solve(f, &x0, args, reg),
        Problem::Soft(f) => solve(f, &x0, args, reg),
        Problem::Paper(f) => solve(f, &x0, args, None),
    }?;
    if args.json {
        print_json(&json!({
            "method": rep.method,
            "problem": args.problem,
            "n": x0.nrows(),
            "iterations": rep.iterations,
            "value": rep.value,
            "grad_norm": rep.grad_norm,
            "seconds": rep.elapsed.as_secs_f64(),
            "converged": rep.converged,
            "termination": crate::watch::termination(rep.termination.as_str()),
            "work": to_json(&rep.work),
            "x": if rep.x.nrows() <= 16 { json!(rep.x.iter().collect::<Vec<_>>()) } else { json!(null) },
            "history": to_json(&rep.history),
        }));
    } else {
        outln!("problem      {} (n = {})", args.problem, x0.nrows());
        outln!("method       {}", rep.method);
        outln!(
            "iterations   {} ({})",
            rep.iterations,
            crate::watch::termination(rep.termination.as_str())
        );
        outln!("f(x)         {:.12e}", rep.value);
        outln!("‖∇f(x)‖      {:.3e}", rep.grad_norm);
        outln!("time         {:.1} ms", rep.elapsed.as_secs_f64() * 1e3);
        outln!(
            "work         {} gradients, {} Hessian models, {} Hessian-vector products, {} trials",
            rep.work.gradient_evals,
            rep.work.hessian_evals,
            rep.work.hessian_vec_evals,
            rep.work.trials
        );
    }
    outcome(rep.converged, || {
        format!(
            "{} did not converge on {} in {} iterations (‖∇f‖ = {:.3e})",
            rep.method, args.problem, rep.iterations, rep.grad_norm
        )
    })
}
