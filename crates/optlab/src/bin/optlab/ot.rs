//! `optlab ot`: entropic optimal transport (sinkhorn-newton).

use std::path::PathBuf;

use linalg_core::faer::Col;
use linalg_core::io::{
    NpyDtype, read_npy, read_npy_col, read_npy_mat, write_npy_col, write_npy_mat,
};
use serde_json::json;
use sinkhorn_newton::{
    EpsScaling, OtProblem, SinkhornMethod, SinkhornParams, SnsParams, cost, instances,
    newton_dense, sinkhorn, sns,
};

use crate::{Failure, outcome, print_json, reject_given, to_json};

/// Solver choice of `optlab ot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Log-domain / stabilised kernel-space Sinkhorn.
    Sinkhorn,
    /// Sinkhorn-Newton-Sparse.
    Sns,
    /// Newton with the dense Hessian (small problems).
    NewtonDense,
}

/// `--sinkhorn-method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SinkhornKind {
    /// Kernel-space with absorption, log-domain fallback.
    Auto,
    /// Log-domain only.
    Log,
}

/// Ground metric for point clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Metric {
    /// ‖x − y‖² (W2).
    Sqeuclidean,
    /// ‖x − y‖ (W1).
    Euclidean,
}

/// Arguments of `optlab ot`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["cost", "x", "problem"])))]
#[command(group(clap::ArgGroup::new("regularisation").required(true).args(["reg", "eta"])))]
pub struct Args {
    /// A built-in seeded problem: `random-assignment[:N[:SEED]]` (default 500, 0),
    /// `digits-w2[:I:J]` / `digits-w1[:I:J]` (digit images I, J; default 0, 1),
    /// `gaussian-w2[:SEED]` / `gaussian-w1[:SEED]` (28×28 mixtures),
    /// `clouds[:N[:SEED]]` (2-D point clouds, squared Euclidean / max).
    #[arg(long, value_name = "NAME[:ARGS]")]
    problem: Option<String>,
    /// Write the problem's cost and marginals as DIR/{C,a,b}.npy (float64) before solving.
    #[arg(long, value_name = "DIR")]
    write_problem: Option<PathBuf>,
    /// Cost matrix C (n × m) as a 2-D NPY file.
    #[arg(long, value_name = "C.npy")]
    cost: Option<PathBuf>,
    /// Source points (n × d) as a 2-D NPY file; needs --y.
    #[arg(long, value_name = "X.npy", requires = "y")]
    x: Option<PathBuf>,
    /// Target points (m × d) as a 2-D NPY file.
    #[arg(long, value_name = "Y.npy", requires = "x")]
    y: Option<PathBuf>,
    /// Ground metric between points.
    #[arg(long, value_enum, default_value_t = Metric::Sqeuclidean)]
    metric: Metric,
    /// Source marginal (length n; default uniform).
    #[arg(long, value_name = "a.npy")]
    a: Option<PathBuf>,
    /// Target marginal (length m; default uniform).
    #[arg(long, value_name = "b.npy")]
    b: Option<PathBuf>,
    /// Regularisation ε (POT's `reg`).
    #[arg(long)]
    reg: Option<f64>,
    /// The paper's η = 1/ε.
    #[arg(long)]
    eta: Option<f64>,
    /// Solver.
    #[arg(long, value_enum, default_value_t = Method::Sns)]
    method: Method,
    /// Stop when ‖r − P1‖₁ + ‖c − Pᵀ1‖₁ < tol.
    #[arg(long, default_value_t = 1e-9)]
    tol: f64,
    /// Iteration limit: Sinkhorn sweeps, or for sns/newton-dense the Newton
    /// stage (Newton steps plus the single sweeps taken when a line search fails).
    #[arg(long)]
    max_iters: Option<usize>,
    /// Sinkhorn variant: kernel-space with log-domain absorption where safe (auto), or log-domain only.
    #[arg(long, value_enum, default_value_t = SinkhornKind::Auto)]
    sinkhorn_method: SinkhornKind,
    /// Sinkhorn: check the marginal error every this many sweeps.
    #[arg(long, default_value_t = 10)]
    check_every: usize,
    /// Sinkhorn: ε-scaling from this ε₀ (ε_k = max(ε, ε₀·factor^k)).
    #[arg(long, value_name = "EPS0")]
    eps_scaling: Option<f64>,
    /// Sinkhorn: ε-scaling decay per stage.
    #[arg(long, default_value_t = 0.5, requires = "eps_scaling")]
    eps_factor: f64,
    /// SNS: Sinkhorn sweeps before the Newton stage (N1).
    #[arg(long, default_value_t = 20)]
    sinkhorn_iters: usize,
    /// SNS: off-diagonal entries of P kept in the Hessian (default 8·max(n, m)).
    #[arg(long)]
    keep: Option<usize>,
    /// SNS: keep the keep-count fixed (the paper's Algorithm 1) instead of doubling it after poor steps.
    #[arg(long)]
    fixed_keep: bool,
    /// SNS: Hessian shift μ·‖g‖₁.
    #[arg(long, default_value_t = 0.0)]
    shift_mu: f64,
    /// SNS: relative tolerance of the inner CG.
    #[arg(long, default_value_t = 1e-10)]
    cg_rtol: f64,
    /// SNS: switch to Newton only once Sinkhorn contracts the error by less than this per sweep.
    #[arg(long)]
    switch_ratio: Option<f64>,
    /// Write the plan (n × m, float64) to this NPY file.
    #[arg(long, value_name = "P.npy")]
    plan_out: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::BadInput(e.to_string())
}

fn in_file(path: &std::path::Path) -> impl Fn(sinkhorn_newton::Error) -> Failure + '_ {
    move |e| Failure::BadInput(format!("{}: {e}", path.display()))
}

/// Largest side of a built-in problem (a 4000 × 4000 cost is 128 MB, and
/// the solvers hold three such matrices).
const MAX_SIDE: usize = 4000;

/// Parses `--problem NAME[:ARGS]`.
fn builtin_problem(spec: &str) -> Result<instances::Instance, Failure> {
    let mut parts = spec.split(':');
    let name = parts.next().unwrap_or_default();
    let nums: Vec<usize> = parts
        .map(|p| {
            p.parse::<usize>()
                .map_err(|_| Failure::BadInput(format!("--problem {spec}: `{p}` is not a number")))
        })
        .collect::<Result<_, _>>()?;
    let arg = |k: usize, default: usize| nums.get(k).copied().unwrap_or(default);
    let max_args = match name {
        "random-assignment" | "clouds" | "digits-w2" | "digits-w1" => 2,
        "gaussian-w2" | "gaussian-w1" => 1,
        _ => {
            return Err(Failure::BadInput(format!(
                "unknown --problem `{name}` (random-assignment, digits-w2, digits-w1, gaussian-w2, gaussian-w1, clouds)"
            )));
        }
    };
    if nums.len() > max_args {
        return Err(Failure::BadInput(format!(
            "--problem {spec}: `{name}` takes at most {max_args} numbers"
        )));
    }
    // The solvers keep the dense n × m cost (twice) and plan: bound n before
    // anything of that size is allocated.
    if matches!(name, "random-assignment" | "clouds") && arg(0, 0) > MAX_SIDE {
        return Err(Failure::BadInput(format!(
            "--problem {spec}: n = {} is too large (at most {MAX_SIDE}: the dense cost is n²)",
            arg(0, 0)
        )));
    }
    match name {
        "random-assignment" => instances::random_assignment(arg(0, 500), arg(1, 0) as u64),
        "digits-w2" | "digits-w1" => {
            let image = |k| {
                datasets::digit_image(k)
                    .map_err(|e| Failure::BadInput(format!("--problem {spec}: {e}")))
            };
            let q = if name == "digits-w2" { 2 } else { 1 };
            instances::image_pair(&image(arg(0, 0))?, &image(arg(1, 1))?, 8, 8, q)
        }
        "gaussian-w2" => instances::gaussian_mixture_pair(2, arg(0, 0) as u64),
        "gaussian-w1" => instances::gaussian_mixture_pair(1, arg(0, 0) as u64),
        _ => instances::point_clouds(arg(0, 1000), arg(0, 1000), 2, arg(1, 0) as u64),
    }
    .map_err(|e| Failure::BadInput(format!("--problem {spec}: {e}")))
}

/// Options of one solver family only: refused with the others.
const SINKHORN_ONLY: &[&str] = &[
    "sinkhorn_method",
    "check_every",
    "eps_scaling",
    "eps_factor",
];
const NEWTON_ONLY: &[&str] = &["sinkhorn_iters", "shift_mu", "cg_rtol", "switch_ratio"];
const SNS_ONLY: &[&str] = &["keep", "fixed_keep"];

/// Reads a cost matrix: a 2-D NPY file (a 1-D array is refused, it is
/// almost always a flattened matrix).
fn read_cost(p: &std::path::Path) -> Result<linalg_core::faer::Mat<f64>, Failure> {
    let arr = read_npy(p).map_err(bad)?;
    if arr.shape.len() != 2 {
        return Err(Failure::BadInput(format!(
            "{}: the cost must be a 2-D array, got shape {:?}",
            p.display(),
            arr.shape
        )));
    }
    arr.into_mat()
        .map_err(|e| Failure::BadInput(format!("{}: {e}", p.display())))
}

pub fn run(args: &Args) -> Result<(), Failure> {
    match args.method {
        Method::Sinkhorn => {
            reject_given(NEWTON_ONLY, "--method sinkhorn")?;
            reject_given(SNS_ONLY, "--method sinkhorn")?;
        }
        Method::Sns => reject_given(SINKHORN_ONLY, "--method sns")?,
        Method::NewtonDense => {
            reject_given(SINKHORN_ONLY, "--method newton-dense")?;
            reject_given(SNS_ONLY, "--method newton-dense")?;
        }
    }
    if args.metric != Metric::Sqeuclidean && args.x.is_none() {
        reject_given(&["metric"], "--cost or --problem (it needs --x and --y)")?;
    }
    let reg = match (args.reg, args.eta) {
        (Some(r), _) => r,
        (None, Some(e)) if e.is_finite() && e > 0.0 => 1.0 / e,
        (None, Some(e)) => {
            return Err(Failure::BadInput(format!(
                "--eta must be finite and > 0, got {e}"
            )));
        }
        (None, None) => return Err(Failure::BadInput("give --reg or --eta".into())),
    };
    let builtin = match &args.problem {
        Some(spec) => Some(builtin_problem(spec)?),
        None => None,
    };
    let c = match (&builtin, &args.cost, &args.x, &args.y) {
        (Some(inst), ..) => inst.cost.clone(),
        (None, Some(p), _, _) => read_cost(p)?,
        (None, None, Some(px), Some(py)) => {
            let (x, y) = (
                read_npy_mat(px).map_err(bad)?,
                read_npy_mat(py).map_err(bad)?,
            );
            let c = match args.metric {
                Metric::Sqeuclidean => cost::sqeuclidean(x.as_ref(), y.as_ref()),
                Metric::Euclidean => cost::euclidean(x.as_ref(), y.as_ref()),
            }
            .map_err(in_file(px))?;
            if c.col_iter().any(|col| col.iter().any(|v| !v.is_finite())) {
                return Err(Failure::BadInput(format!(
                    "{} and {}: squared distances between the points overflow f64 (coordinates near {:.1e}): scale the points",
                    px.display(),
                    py.display(),
                    x.norm_max().max(y.norm_max())
                )));
            }
            c
        }
        _ => return Err(Failure::BadInput("give --cost, or --x and --y".into())),
    };
    let (n, m) = (c.nrows(), c.ncols());
    let marginal = |p: &Option<PathBuf>, len: usize| -> Result<Col<f64>, Failure> {
        match p {
            Some(p) => read_npy_col(p).map_err(bad),
            None if len > 0 => Ok(OtProblem::uniform(len)),
            None => Err(Failure::BadInput("the cost matrix is empty".into())),
        }
    };
    let (a, b) = match &builtin {
        Some(inst) if args.a.is_none() && args.b.is_none() => (inst.r.clone(), inst.c.clone()),
        _ => (marginal(&args.a, n)?, marginal(&args.b, m)?),
    };
    if let Some(dir) = &args.write_problem {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::BadInput(format!("{}: {e}", dir.display())))?;
        write_npy_mat(dir.join("C.npy"), c.as_ref(), NpyDtype::F64).map_err(bad)?;
        write_npy_col(dir.join("a.npy"), a.as_ref(), NpyDtype::F64).map_err(bad)?;
        write_npy_col(dir.join("b.npy"), b.as_ref(), NpyDtype::F64).map_err(bad)?;
    }
    // The problem's errors name the inputs they concern.
    let source = match (&args.problem, &args.cost, &args.x, &args.y) {
        (Some(p), ..) => format!("--problem {p}"),
        (None, Some(c), _, _) => format!("--cost {}", c.display()),
        (None, None, Some(x), Some(y)) => format!("--x {} --y {}", x.display(), y.display()),
        _ => "the cost".to_string(),
    };
    let marginal = |p: &Option<PathBuf>, flag: &str| match p {
        Some(p) => format!("{flag} {}", p.display()),
        None => format!("{flag} (uniform)"),
    };
    let problem = OtProblem::new(a.as_ref(), b.as_ref(), c.as_ref(), reg).map_err(|e| {
        let m = e.to_string();
        let whom = match &e {
            sinkhorn_newton::Error::NonFiniteCost { .. } => source.clone(),
            _ if m.contains("`reg`") => "--reg".to_string(),
            _ if m.contains("marginal `r`") => marginal(&args.a, "--a"),
            _ if m.contains("marginal `c`") => marginal(&args.b, "--b"),
            _ => format!(
                "{source}, {}, {}",
                marginal(&args.a, "--a"),
                marginal(&args.b, "--b")
            ),
        };
        Failure::BadInput(format!("{whom}: {m}"))
    })?;
    let rep = match args.method {
        Method::Sinkhorn => {
            let mut p = SinkhornParams {
                marginal_tol: args.tol,
                check_every: args.check_every,
                method: match args.sinkhorn_method {
                    SinkhornKind::Auto => SinkhornMethod::Auto,
                    SinkhornKind::Log => SinkhornMethod::Log,
                },
                eps_scaling: args
                    .eps_scaling
                    .map(|e0| EpsScaling::new(e0, args.eps_factor)),
                ..Default::default()
            };
            if let Some(k) = args.max_iters {
                p.max_iters = k;
            }
            sinkhorn(&problem, &p, None, crate::watch::observe)
        }
        Method::Sns | Method::NewtonDense => {
            let mut p = SnsParams {
                marginal_tol: args.tol,
                sinkhorn_iters: args.sinkhorn_iters,
                keep: args.keep,
                adaptive_keep: !args.fixed_keep,
                shift_mu: args.shift_mu,
                cg_rtol: args.cg_rtol,
                switch_ratio: args.switch_ratio,
                ..Default::default()
            };
            if let Some(k) = args.max_iters {
                p.max_newton_iters = k;
            }
            if args.method == Method::Sns {
                sns(&problem, &p, crate::watch::observe)
            } else {
                newton_dense(&problem, &p, crate::watch::observe)
            }
        }
    }
    .map_err(|e| {
        let msg = match e.param_name().and_then(flag_of) {
            Some(flag) => format!("{flag}: {e}"),
            None => e.to_string(),
        };
        Failure::from_error(e.is_input_error(), msg, args.json)
    })?;
    if let Some(p) = &args.plan_out {
        write_npy_mat(p, rep.plan.as_ref(), NpyDtype::F64).map_err(bad)?;
    }
    let method = match args.method {
        Method::Sinkhorn => "sinkhorn",
        Method::Sns => "sns",
        Method::NewtonDense => "newton-dense",
    };
    if args.json {
        print_json(&json!({
            "method": method,
            "n": n,
            "m": m,
            "reg": reg,
            "eta": 1.0 / reg,
            "iterations": rep.iterations,
            "sinkhorn_iterations": rep.sinkhorn_iterations,
            "newton_iterations": rep.newton_iterations,
            "seconds": rep.elapsed.as_secs_f64(),
            "cost": rep.cost,
            "objective": rep.objective,
            "marginal_error": rep.marginal_error,
            "converged": rep.converged,
            "termination": crate::watch::termination(rep.termination.as_str()),
            "work": to_json(&rep.work),
            "history": to_json(&rep.history),
        }));
    } else {
        outln!(
            "problem           {n} × {m}, ε = {reg:e} (η = {:.6})",
            1.0 / reg
        );
        outln!("method            {method}");
        outln!(
            "iterations        {} ({} Sinkhorn + {} Newton)",
            rep.iterations,
            rep.sinkhorn_iterations,
            rep.newton_iterations
        );
        outln!("marginal error    {:.3e}", rep.marginal_error);
        outln!("cost ⟨C, P⟩       {:.12e}", rep.cost);
        outln!("objective         {:.12e}", rep.objective);
        outln!(
            "time              {:.1} ms",
            rep.elapsed.as_secs_f64() * 1e3
        );
    }
    outcome(rep.converged, || {
        format!(
            "{method} did not reach marginal error {:.1e} (got {:.3e})",
            args.tol, rep.marginal_error
        )
    })
}

/// The command-line flag of a rejected parameter (names as `validate()` spells them).
fn flag_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "marginal_tol" => "--tol",
        "max_iters" => "--max-iters",
        "check_every" => "--check-every",
        "eps_scaling.start" => "--eps-scaling",
        "eps_scaling.factor" => "--eps-factor",
        "keep" => "--keep",
        "shift_mu" => "--shift-mu",
        "cg_rtol" => "--cg-rtol",
        "switch_ratio" => "--switch-ratio",
        "reg" => "--reg",
        _ => return None,
    })
}
