//! `optlab spectrum`: Hessian and matrix spectra, traces, outliers,
//! stability and collapse diagnostics (hessian-tools).

use std::path::{Path, PathBuf};
use std::time::Instant;

use hessian_tools::collapse::{CollapseMetrics, collapse};
use hessian_tools::stability::{StabilityParams, StabilityRun, stability_along};
use hessian_tools::{
    Activation, EigParams, Loss, Mlp, MlpLoss, Probe, SlqParams, SpectralDensity, TraceMethod,
    TraceParams, TrainParams, Which, bulk_outliers, extremes, frobenius_squared, slq, trace, train,
};
use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::{Col, Mat};
use linalg_core::io::{read_matrix_market, read_matrix_market_header, read_npy_mat};
use linalg_core::op::{DenseOp, SparseOp};
use linalg_core::{Control, Error as CoreError};
use serde_json::{Value, json};

use crate::{Failure, outcome, print_json};

/// `--probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeArg {
    /// ±1 entries.
    Rademacher,
    /// Standard normal entries.
    Gaussian,
}

/// Arguments of `optlab spectrum`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A symmetric matrix: dense NPY (`.npy`, float64/float32) or sparse
    /// Matrix Market (`.mtx`). Exactly one of --matrix and --mlp.
    #[arg(long)]
    matrix: Option<PathBuf>,
    /// The built-in MLP's loss Hessian at its (trained) parameters.
    #[arg(long)]
    mlp: bool,
    /// How many of the largest eigenvalues (Lanczos).
    #[arg(long, default_value_t = 10)]
    top_k: usize,
    /// How many of the smallest eigenvalues (0: none).
    #[arg(long, default_value_t = 0)]
    bottom_k: usize,
    /// Lanczos steps at most.
    #[arg(long, default_value_t = 300)]
    max_steps: usize,
    /// Stop Lanczos when every wanted Ritz residual is ≤ tol·max|θ|; the run
    /// counts as converged (exit 0) when they are ≤ max(tol, 1e-8)·max|θ|.
    #[arg(long, default_value_t = 1e-10)]
    tol: f64,
    /// Trace estimator (positive semi-definite operators only for xnystrace).
    #[arg(long, default_value = "hutchpp")]
    trace: String,
    /// Products for the trace estimate, and probes for the Frobenius norm.
    #[arg(long, default_value_t = 60)]
    samples: usize,
    /// Probe distribution of Hutchinson, Hutch++ and the Frobenius estimate.
    #[arg(long, value_enum, default_value_t = ProbeArg::Rademacher)]
    probe: ProbeArg,
    /// Write the SLQ spectral density (log scale) as SVG.
    #[arg(long)]
    density: Option<PathBuf>,
    /// Write the SLQ spectral density on a grid as CSV (`eigenvalue,density`).
    #[arg(long)]
    density_csv: Option<PathBuf>,
    /// Lanczos steps per SLQ probe.
    #[arg(long, default_value_t = 80)]
    density_steps: usize,
    /// SLQ probes.
    #[arg(long, default_value_t = 5)]
    density_runs: usize,
    /// Largest outlier count the gap analysis considers (default top-k − 1).
    #[arg(long)]
    max_outliers: Option<usize>,
    /// Bulk: eigenvalues with |λ| ≤ bulk_tol·max|λ|.
    #[arg(long, default_value_t = 1e-3)]
    bulk_tol: f64,
    /// Exact path: the dense matrix's full spectrum (at most 10 000 × 10 000);
    /// with --mlp also the Gauss–Newton part G and R = H − G.
    #[arg(long)]
    exact: bool,
    /// Relative tolerance of the symmetry check of --matrix.
    #[arg(long, default_value_t = 1e-10)]
    symmetry_tol: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// --mlp data: digits (1 797 × 64, scaled to [0, 1]), mixture:K[:SEP]
    /// (K unit-norm cluster centres in --dim dimensions, noise 1/SEP,
    /// SEP default 20; --n-samples samples), or npy:X.npy,LABELS.npy (an
    /// N × d float array and N class indices 0..K as numbers; K is the
    /// largest label + 1).
    #[arg(long, default_value = "mixture:5")]
    data: String,
    /// --mlp mixture: samples.
    #[arg(long, default_value_t = 1000)]
    n_samples: usize,
    /// --mlp mixture: dimension.
    #[arg(long, default_value_t = 20)]
    dim: usize,
    /// --mlp hidden widths, comma-separated.
    #[arg(long, default_value = "30,30")]
    hidden: String,
    /// --mlp loss: mse (one-hot targets) or ce (softmax cross-entropy).
    #[arg(long, default_value = "mse")]
    loss: String,
    /// --mlp hidden nonlinearity: tanh, relu, gelu, softplus.
    #[arg(long, default_value = "tanh")]
    activation: String,
    /// --mlp initialisation: pytorch (weights and biases uniform on
    /// ±1/√fan_in) or jax (LeCun normal weights, zero biases; Flax's default).
    #[arg(long, default_value = "pytorch", value_parser = ["pytorch", "jax"])]
    init: String,
    /// --mlp parameters as a flat NPY vector (each layer's weight matrix
    /// column-major, i.e. PyTorch's `weight.flatten(order='F')`, then its
    /// bias) instead of the seeded initialisation.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// --mlp training epochs (0: analyse the initialisation).
    #[arg(long, default_value_t = 0)]
    train_epochs: usize,
    /// --mlp step size.
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    /// --mlp batch size (0: full batch, gradient descent).
    #[arg(long, default_value_t = 0)]
    batch: usize,
    /// --mlp momentum.
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    /// --mlp: λ_max, Tr H and ‖H‖_F along training against 2/η (a
    /// `stability` object; 20 measurements).
    #[arg(long)]
    stability: bool,
    /// --mlp: neural-collapse metrics of the last hidden layer (a
    /// `collapse` object).
    #[arg(long)]
    collapse: bool,
    /// --mlp: the Hessian block of one layer's parameters only (0 is the
    /// first weight layer), for per-layer spectra and traces.
    #[arg(long)]
    layer: Option<usize>,
    /// Directory for figures and tables (density, eigenvalues, stability).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// An error of hessian-tools, blamed on `flag` when it is the caller's.
fn blame(flag: &str) -> impl Fn(hessian_tools::Error) -> Failure + '_ {
    move |e| {
        if e.is_input_error() {
            Failure::BadInput(format!("{flag}: {e}"))
        } else {
            Failure::Solver(e.to_string())
        }
    }
}

fn in_file(path: &Path) -> impl Fn(CoreError) -> Failure + '_ {
    move |e| match e {
        e @ CoreError::File { .. } => Failure::BadInput(e.to_string()),
        e => Failure::BadInput(format!("{}: {e}", path.display())),
    }
}

/// At most this many bytes in a --matrix file.
const MAX_FILE: u64 = 2 << 30;

/// The operator behind --matrix.
enum Matrix {
    Dense(DenseOp),
    Sparse(SparseOp),
}

/// Loads `--matrix` multiplied by a power of two `k` that brings its largest
/// entry into [1, 2) (exact), and returns `k`: the estimators then work at
/// unit scale, and [`unscale`] divides every result by `k` (a matrix with
/// entries near 1e-320 reported a zero Frobenius norm and NaN gap ratio).
fn load_matrix(path: &Path, tol: f64, steps: usize) -> Result<(Matrix, f64), Failure> {
    let bad = |m: String| Failure::BadInput(format!("{}: {m}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_FILE {
        return Err(bad(format!("{} bytes is more than 2 GiB", meta.len())));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "npy" => {
            let m = read_npy_mat(path).map_err(in_file(path))?;
            if m.nrows() != m.ncols() {
                return Err(bad(format!("{} × {} is not square", m.nrows(), m.ncols())));
            }
            if m.nrows() == 0 {
                return Err(bad("the matrix is empty".into()));
            }
            for j in 0..m.ncols() {
                if let Some(i) = m.col(j).iter().position(|v| !v.is_finite()) {
                    return Err(bad(format!("non-finite entry at ({i}, {j})")));
                }
            }
            let amax = m.norm_max();
            let k = linalg_core::op::pow2_scale(amax);
            let m = m * k;
            let op = DenseOp::new(m).map_err(in_file(path))?;
            let op = op.into_symmetric(tol).map_err(in_file(path))?;
            Ok((Matrix::Dense(op.into_inner()), k))
        }
        "mtx" => {
            // The declared size bounds what the run will hold (the Lanczos
            // basis of n-vectors): checked from the header, before reading.
            let h = read_matrix_market_header(path).map_err(in_file(path))?;
            let basis = linalg_core::budget::Bytes::matrix::<f64>(h.nrows, steps.min(h.nrows) + 2);
            linalg_core::budget::check(
                format!(
                    "a Lanczos basis of {} vectors for the declared {}×{} matrix",
                    steps.min(h.nrows) + 2,
                    h.nrows,
                    h.ncols
                ),
                basis,
            )
            .map_err(in_file(path))?;
            let mut m = read_matrix_market(path).map_err(in_file(path))?;
            if m.nrows() == 0 {
                return Err(bad("the matrix is empty".into()));
            }
            let amax = m.val().iter().fold(0.0f64, |x, v| x.max(v.abs()));
            let k = linalg_core::op::pow2_scale(amax);
            m.val_mut().iter_mut().for_each(|v| *v *= k);
            let op = SparseOp::new(m).map_err(in_file(path))?;
            let op = op.into_symmetric(tol).map_err(in_file(path))?;
            Ok((Matrix::Sparse(op.into_inner()), k))
        }
        _ => Err(bad("expected a .npy or .mtx file".into())),
    }
}

/// The most multiply-adds one `optlab spectrum` run may ask for (about
/// half an hour on two cores): a bound checked before any work, so a huge
/// --samples, --density-runs or --train-epochs is refused instead of
/// running for days.
const MAX_WORK: f64 = 1e13;

/// Refuses a run whose estimated work exceeds [`MAX_WORK`], naming the
/// flag that contributes most. `product` is the cost of one operator
/// product, `n` the operator size, `extra` further `(flag, work)` terms.
fn check_work(
    a: &Args,
    n: usize,
    product: f64,
    extra: &[(&'static str, f64)],
) -> Result<(), Failure> {
    let steps = a.max_steps.min(n) as f64;
    let nf = n as f64;
    let mut terms: Vec<(&'static str, f64)> = vec![
        (
            "--max-steps",
            product * steps * (1.0 + f64::from(u8::from(a.bottom_k > 0))) + nf * steps * steps,
        ),
        (
            "--samples",
            product * 2.0 * a.samples as f64 + nf * (a.samples as f64).powi(2),
        ),
        (
            "--density-runs",
            (product * a.density_steps.min(n) as f64
                + nf * (a.density_steps.min(n) as f64).powi(2))
                * a.density_runs as f64,
        ),
    ];
    if a.exact {
        terms.push(("--exact", product * nf + nf.powi(3)));
    }
    terms.extend_from_slice(extra);
    let total: f64 = terms.iter().map(|t| t.1).sum();
    if total > MAX_WORK {
        let (flag, w) = terms
            .iter()
            .copied()
            .fold(("--matrix", 0.0), |m, t| if t.1 > m.1 { t } else { m });
        return Err(Failure::BadInput(format!(
            "{flag}: the run would take about {total:.1e} multiply-adds ({w:.1e} from this flag), more than {MAX_WORK:.0e}"
        )));
    }
    Ok(())
}

/// What every mode reports about one symmetric operator.
struct Spectrum {
    n: usize,
    top: Vec<f64>,
    top_res: Vec<f64>,
    bottom: Vec<f64>,
    bottom_res: Vec<f64>,
    trace: f64,
    trace_stderr: f64,
    frobenius: f64,
    frobenius_stderr: f64,
    outliers: usize,
    gap_ratio: f64,
    bulk_fraction: f64,
    /// The half-width of the interval counted as bulk.
    bulk_edge: f64,
    matvecs: usize,
    converged: bool,
    exact: bool,
    density: Option<SpectralDensity>,
    /// The full spectrum (exact path).
    all: Option<Vec<f64>>,
}

/// Undoes [`load_matrix`]'s scaling by `k`: eigenvalues, residuals, traces,
/// norms, the bulk edge and the density's nodes and width are linear in the
/// matrix; ratios, fractions and counts are not touched.
fn unscale(s: &mut Spectrum, k: f64) {
    if k == 1.0 {
        return;
    }
    for v in s
        .top
        .iter_mut()
        .chain(s.top_res.iter_mut())
        .chain(s.bottom.iter_mut())
        .chain(s.bottom_res.iter_mut())
        .chain(s.all.iter_mut().flatten())
    {
        *v /= k;
    }
    for v in [
        &mut s.trace,
        &mut s.trace_stderr,
        &mut s.frobenius,
        &mut s.frobenius_stderr,
        &mut s.bulk_edge,
    ] {
        *v /= k;
    }
    if let Some(d) = &mut s.density {
        d.nodes.iter_mut().for_each(|v| *v /= k);
        d.sigma /= k;
    }
}

fn check_flags(a: &Args) -> Result<TraceMethod, Failure> {
    let flag = |f: &str, e: linalg_core::ParamError| Failure::BadInput(format!("{f}: {e}"));
    let method: TraceMethod = a.trace.parse().map_err(|e| flag("--trace", e))?;
    linalg_core::param::at_least("top_k", a.top_k, 1).map_err(|e| flag("--top-k", e))?;
    linalg_core::param::nonnegative("tol", a.tol).map_err(|e| flag("--tol", e))?;
    linalg_core::param::finite_value("tol", a.tol).map_err(|e| flag("--tol", e))?;
    linalg_core::param::in_unit_interval("bulk_tol", a.bulk_tol)
        .map_err(|e| flag("--bulk-tol", e))?;
    linalg_core::param::nonnegative("symmetry_tol", a.symmetry_tol)
        .map_err(|e| flag("--symmetry-tol", e))?;
    linalg_core::param::finite_value("symmetry_tol", a.symmetry_tol)
        .map_err(|e| flag("--symmetry-tol", e))?;
    if a.exact && (a.density.is_some() || a.density_csv.is_some()) {
        return Err(Failure::BadInput(
            "--density: the exact path has no SLQ density (drop --exact or --density)".into(),
        ));
    }
    if let Some(m) = a.max_outliers {
        linalg_core::param::at_least("max_outliers", m, 1)
            .map_err(|e| flag("--max-outliers", e))?;
    }
    TraceParams::new(method, a.samples)
        .validate()
        .map_err(blame("--samples"))?;
    EigParams::new(a.top_k)
        .max_steps(a.max_steps)
        .tol(a.tol)
        .validate()
        .map_err(|e| {
            let f = if e.param_name() == Some("max_steps") {
                "--max-steps"
            } else {
                "--top-k"
            };
            blame(f)(e)
        })?;
    SlqParams {
        steps: a.density_steps,
        probes: a.density_runs,
        sigma: None,
        seed: a.seed,
    }
    .validate()
    .map_err(|e| {
        let f = if e.param_name() == Some("probes") {
            "--density-runs"
        } else {
            "--density-steps"
        };
        blame(f)(e)
    })?;
    Ok(method)
}

/// Which flag a size-dependent refusal belongs to.
fn size_flag(e: &hessian_tools::Error) -> &'static str {
    match e.param_name() {
        Some("k") => "--top-k",
        Some("max_steps") | Some("steps") => "--max-steps",
        Some("matvecs") => "--samples",
        Some("n") => "--exact",
        _ => "--matrix",
    }
}

fn analyse(op: &impl LinOp<f64>, a: &Args, method: TraceMethod) -> Result<Spectrum, Failure> {
    let n = op.nrows();
    let probe = match a.probe {
        ProbeArg::Rademacher => Probe::Rademacher,
        ProbeArg::Gaussian => Probe::Gaussian,
    };
    let fail = |e: hessian_tools::Error| {
        let f = size_flag(&e);
        blame(f)(e)
    };
    let top = extremes(
        op,
        &EigParams::new(a.top_k)
            .max_steps(a.max_steps)
            .tol(a.tol)
            .seed(a.seed),
    )
    .map_err(fail)?;
    let mut matvecs = top.matvecs;
    let (bottom, bottom_res) = if a.bottom_k > 0 {
        let b = extremes(
            op,
            &EigParams::new(a.bottom_k)
                .which(Which::SmallestAlgebraic)
                .max_steps(a.max_steps.max(a.bottom_k))
                .tol(a.tol)
                .seed(a.seed.wrapping_add(1)),
        )
        .map_err(|e| {
            if e.param_name() == Some("k") {
                blame("--bottom-k")(e)
            } else {
                fail(e)
            }
        })?;
        matvecs += b.matvecs;
        (b.values, b.residuals)
    } else {
        (Vec::new(), Vec::new())
    };
    let tr = trace(
        op,
        &TraceParams::new(method, a.samples)
            .probe(probe)
            .seed(a.seed.wrapping_add(2)),
    )
    .map_err(fail)?;
    matvecs += tr.matvecs;
    let f2 =
        frobenius_squared(op, a.samples.max(2), probe, a.seed.wrapping_add(3)).map_err(fail)?;
    matvecs += f2.matvecs;
    let frobenius = f2.value.max(0.0).sqrt();
    let density = slq(
        op,
        &SlqParams {
            steps: a.density_steps.min(n),
            probes: a.density_runs,
            sigma: None,
            seed: a.seed.wrapping_add(4),
        },
    )
    .map_err(fail)?;
    matvecs += density.matvecs;
    let scale = top
        .values
        .iter()
        .chain(&bottom)
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let ok_tol = a.tol.max(1e-8) * scale;
    let converged = top
        .residuals
        .iter()
        .chain(&bottom_res)
        .all(|r| *r <= ok_tol);
    // Outliers from the top values; the bulk from the SLQ quadrature.
    let (outliers, gap_ratio) = if top.values.len() >= 2 {
        let b = bulk_outliers(
            &top.values,
            a.max_outliers.unwrap_or(top.values.len() - 1),
            a.bulk_tol,
        )
        .map_err(fail)?;
        (b.outliers, b.gap_ratio)
    } else {
        (0, f64::NAN)
    };
    // The bulk from the smoothed SLQ density: its mass within ±bulk_tol·max|λ|,
    // widened to the smoothing width σ it can resolve.
    let edge = (a.bulk_tol
        * scale
            .max(density.range().0.abs())
            .max(density.range().1.abs()))
    .max(density.sigma);
    let bulk_fraction = density.mass(-edge, edge);
    Ok(Spectrum {
        n,
        top: top.values,
        top_res: top.residuals,
        bottom,
        bottom_res,
        trace: tr.value,
        trace_stderr: tr.stderr,
        frobenius,
        frobenius_stderr: if frobenius > 0.0 {
            f2.stderr / (2.0 * frobenius)
        } else {
            0.0
        },
        outliers,
        gap_ratio,
        bulk_fraction,
        bulk_edge: edge,
        matvecs,
        converged,
        exact: false,
        density: Some(density),
        all: None,
    })
}

/// The exact path: the full spectrum `ev` (decreasing) replaces every
/// estimate.
fn exact_spectrum(ev: Vec<f64>, a: &Args, matvecs: usize) -> Result<Spectrum, Failure> {
    let n = ev.len();
    if a.top_k > n {
        return Err(Failure::BadInput(format!(
            "--top-k: {} eigenvalues of a {n} × {n} matrix",
            a.top_k
        )));
    }
    if a.bottom_k > n {
        return Err(Failure::BadInput(format!(
            "--bottom-k: {} eigenvalues of a {n} × {n} matrix",
            a.bottom_k
        )));
    }
    let scale = ev.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (outliers, gap_ratio, bulk_fraction) = if n >= 2 {
        let b = bulk_outliers(
            &ev,
            a.max_outliers.unwrap_or(a.top_k.max(2) - 1),
            a.bulk_tol,
        )
        .map_err(blame("--max-outliers"))?;
        (b.outliers, b.gap_ratio, b.bulk_fraction)
    } else {
        (0, f64::NAN, 1.0)
    };
    Ok(Spectrum {
        n,
        top: ev[..a.top_k].to_vec(),
        top_res: vec![0.0; a.top_k],
        bottom: ev.iter().rev().take(a.bottom_k).copied().collect(),
        bottom_res: vec![0.0; a.bottom_k],
        trace: ev.iter().sum(),
        trace_stderr: 0.0,
        frobenius: ev.iter().map(|l| l * l).sum::<f64>().sqrt(),
        frobenius_stderr: 0.0,
        outliers,
        gap_ratio,
        bulk_fraction,
        bulk_edge: a.bulk_tol * scale,
        matvecs,
        converged: true,
        exact: true,
        density: None,
        all: Some(ev),
    })
}

fn dense_spectrum(op: &impl LinOp<f64>) -> Result<(Vec<f64>, usize), Failure> {
    let (m, _) = hessian_tools::assemble(op, linalg_core::faer::get_global_parallelism())
        .map_err(blame("--exact"))?;
    let ev = hessian_tools::eigenvalues(&m).map_err(blame("--exact"))?;
    Ok((ev, m.nrows()))
}

fn num(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

fn spectrum_json(s: &Spectrum, method: TraceMethod, seconds: f64) -> Value {
    json!({
        "n": s.n,
        "top_eigenvalues": s.top,
        "bottom_eigenvalues": s.bottom,
        "ritz_residuals": s.top_res,
        "bottom_ritz_residuals": s.bottom_res,
        "trace": num(s.trace),
        "trace_stderr": num(s.trace_stderr),
        "trace_method": if s.exact { "exact" } else { method.name() },
        "frobenius": num(s.frobenius),
        "frobenius_stderr": num(s.frobenius_stderr),
        "outliers": s.outliers,
        "gap_ratio": num(s.gap_ratio),
        "bulk_fraction": num(s.bulk_fraction),
        "bulk_edge": num(s.bulk_edge),
        "matvecs": s.matvecs,
        "exact": s.exact,
        "converged": s.converged,
        "seconds": seconds,
    })
}

fn write_outputs(s: &Spectrum, a: &Args) -> Result<(), Failure> {
    let io = |p: &Path, e: String| Failure::BadInput(format!("{}: {e}", p.display()));
    let out_dir = a.out.as_deref();
    let density_svg = a
        .density
        .clone()
        .or_else(|| out_dir.map(|d| d.join("density.svg")));
    let density_csv = a
        .density_csv
        .clone()
        .or_else(|| out_dir.map(|d| d.join("density.csv")));
    if let Some(d) = &s.density {
        if let Some(p) = &density_svg {
            hessian_tools::plot::density_svg(p, d, 2000).map_err(|e| io(p, e.to_string()))?;
        }
        if let Some(p) = &density_csv {
            let (lo, hi) = d.range();
            let pad = 0.05 * (hi - lo).max(1e-12);
            let grid: Vec<f64> = (0..1000)
                .map(|i| lo - pad + (hi - lo + 2.0 * pad) * i as f64 / 999.0)
                .collect();
            let vals = d.evaluate(&grid);
            let mut text = String::from("eigenvalue,density\n");
            for (x, y) in grid.iter().zip(vals) {
                text.push_str(&format!("{x:.17e},{y:.17e}\n"));
            }
            write(p, &text).map_err(|e| io(p, e))?;
        }
    }
    if let Some(dir) = out_dir {
        let ev: &[f64] = s.all.as_deref().unwrap_or(&s.top);
        let p = dir.join("eigenvalues.svg");
        hessian_tools::plot::eigenvalues_svg(&p, ev, s.outliers)
            .map_err(|e| io(&p, e.to_string()))?;
        let p = dir.join("eigenvalues.csv");
        let text: String = std::iter::once("eigenvalue\n".to_string())
            .chain(ev.iter().map(|v| format!("{v:.17e}\n")))
            .collect();
        write(&p, &text).map_err(|e| io(&p, e))?;
    }
    Ok(())
}

fn write(p: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(p, text).map_err(|e| e.to_string())
}

fn human(s: &Spectrum, method: TraceMethod, seconds: f64) {
    outln!(
        "n = {}, {} products, {seconds:.2} s{}",
        s.n,
        s.matvecs,
        if s.exact { " (exact)" } else { "" }
    );
    outln!("top eigenvalues (Ritz residual):");
    for (v, r) in s.top.iter().zip(&s.top_res) {
        outln!("  {v:>22.12e}  ({r:.1e})");
    }
    if !s.bottom.is_empty() {
        outln!("bottom eigenvalues (Ritz residual):");
        for (v, r) in s.bottom.iter().zip(&s.bottom_res) {
            outln!("  {v:>22.12e}  ({r:.1e})");
        }
    }
    let m = if s.exact { "exact" } else { method.name() };
    outln!("trace ({m}): {:.10e} ± {:.1e}", s.trace, s.trace_stderr);
    outln!("‖A‖_F: {:.10e} ± {:.1e}", s.frobenius, s.frobenius_stderr);
    outln!(
        "outliers: {} (gap ratio {}), bulk fraction {:.4} (|λ| ≤ {:.2e})",
        s.outliers,
        if s.gap_ratio.is_finite() {
            format!("{:.3}", s.gap_ratio)
        } else {
            "undefined: no positive eigenvalue after the gap".to_string()
        },
        s.bulk_fraction,
        s.bulk_edge
    );
    if !s.converged {
        outln!("not converged: raise --max-steps");
    }
}

pub fn run(a: &Args) -> Result<(), Failure> {
    let method = check_flags(a)?;
    match (&a.matrix, a.mlp) {
        (Some(_), true) => Err(Failure::BadInput(
            "--matrix and --mlp: give one of them".into(),
        )),
        (None, false) => Err(Failure::BadInput(
            "--matrix: give a matrix file, or --mlp for the built-in model".into(),
        )),
        (Some(path), false) => {
            for (f, set) in [
                ("--layer", a.layer.is_some()),
                ("--stability", a.stability),
                ("--collapse", a.collapse),
                ("--train-epochs", a.train_epochs > 0),
            ] {
                if set {
                    return Err(Failure::BadInput(format!("{f}: only with --mlp")));
                }
            }
            crate::reject_given(
                &[
                    "data",
                    "n_samples",
                    "dim",
                    "hidden",
                    "loss",
                    "activation",
                    "init",
                    "weights",
                    "lr",
                    "batch",
                    "momentum",
                ],
                "--matrix (it is a --mlp option)",
            )?;
            let t0 = Instant::now();
            let (m, k) = load_matrix(path, a.symmetry_tol, a.max_steps)?;
            let (n, product) = match &m {
                Matrix::Dense(op) => (op.nrows(), (op.nrows() as f64).powi(2)),
                Matrix::Sparse(op) => (op.nrows(), (op.nnz() + op.nrows()) as f64),
            };
            check_work(a, n, product, &[])?;
            let mut s = match (&m, a.exact) {
                (Matrix::Dense(op), false) => analyse(op, a, method)?,
                (Matrix::Sparse(op), false) => analyse(op, a, method)?,
                (Matrix::Dense(op), true) => {
                    let (ev, mv) = dense_spectrum(op)?;
                    exact_spectrum(ev, a, mv)?
                }
                (Matrix::Sparse(op), true) => {
                    let (ev, mv) = dense_spectrum(op)?;
                    exact_spectrum(ev, a, mv)?
                }
            };
            unscale(&mut s, k);
            let seconds = t0.elapsed().as_secs_f64();
            write_outputs(&s, a)?;
            if a.json {
                print_json(&spectrum_json(&s, method, seconds));
            } else {
                human(&s, method, seconds);
            }
            outcome(s.converged, || {
                "Lanczos did not converge to the tolerance (raise --max-steps)".into()
            })
        }
        (None, true) => run_mlp(a, method),
    }
}

/// Features and labels of --data.
fn mlp_data(a: &Args) -> Result<(Mat<f64>, Vec<usize>, usize), Failure> {
    let bad = |m: String| Failure::BadInput(format!("--data {}: {m}", a.data));
    if let Some(files) = a.data.strip_prefix("npy:") {
        let parts: Vec<&str> = files.split(',').collect();
        if parts.len() != 2 {
            return Err(bad("expected npy:X.npy,LABELS.npy".into()));
        }
        let (xp, lp) = (Path::new(parts[0]), Path::new(parts[1]));
        for p in [xp, lp] {
            let meta = std::fs::metadata(p).map_err(|e| bad(format!("{}: {e}", p.display())))?;
            if meta.len() > MAX_FILE {
                return Err(bad(format!("{}: more than 2 GiB", p.display())));
            }
        }
        let x = read_npy_mat(xp).map_err(in_file(xp))?;
        let l = linalg_core::io::read_npy_col(lp).map_err(in_file(lp))?;
        if l.nrows() != x.nrows() || x.nrows() == 0 {
            return Err(bad(format!(
                "{} samples of inputs and {} labels",
                x.nrows(),
                l.nrows()
            )));
        }
        let mut labels = Vec::with_capacity(l.nrows());
        for (i, &v) in l.iter().enumerate() {
            if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1e6) {
                return Err(bad(format!("label {v} of sample {i} is not a class index")));
            }
            labels.push(v as usize);
        }
        let k = labels.iter().max().map_or(0, |m| m + 1).max(2);
        return Ok((x, labels, k));
    }
    if a.data == "digits" {
        let d = datasets::digits();
        let x = Mat::from_fn(d.features.nrows(), d.features.ncols(), |i, j| {
            d.features[(i, j)] / 16.0
        });
        return Ok((x, d.labels, 10));
    }
    let Some(rest) = a.data.strip_prefix("mixture:") else {
        return Err(bad("expected digits or mixture:K[:SEP]".into()));
    };
    let mut parts = rest.split(':');
    let k: usize = parts
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| bad("K must be a whole number".into()))?;
    let sep: f64 = match parts.next() {
        Some(s) => s.parse().map_err(|_| bad("SEP must be a number".into()))?,
        None => 20.0,
    };
    if parts.next().is_some() {
        return Err(bad("expected mixture:K[:SEP]".into()));
    }
    if !(sep.is_finite() && sep > 0.0) {
        return Err(bad(format!("SEP must be positive and finite, got {sep}")));
    }
    if !(2..=1000).contains(&k) {
        return Err(bad(format!("K must be in 2..=1000, got {k}")));
    }
    if !(k..=1_000_000).contains(&a.n_samples) {
        return Err(Failure::BadInput(format!(
            "--n-samples: {} samples of {k} clusters (at least K, at most 10⁶)",
            a.n_samples
        )));
    }
    if !(1..=10_000).contains(&a.dim) {
        return Err(Failure::BadInput(format!("--dim: {} (1 to 10 000)", a.dim)));
    }
    if a.n_samples * a.dim > 100_000_000 {
        return Err(Failure::BadInput(format!(
            "--n-samples: {} × {} dimensions exceeds 10⁸ numbers",
            a.n_samples, a.dim
        )));
    }
    let d = datasets::generate::cluster_mixture(a.n_samples, k, a.dim, 1.0 / sep, a.seed)
        .map_err(|e| Failure::BadInput(format!("--data {}: {e}", a.data)))?;
    Ok((d.features, d.labels, k))
}

fn run_mlp(a: &Args, method: TraceMethod) -> Result<(), Failure> {
    let t0 = Instant::now();
    let flag =
        |f: &'static str| move |e: linalg_core::ParamError| Failure::BadInput(format!("{f}: {e}"));
    let loss: Loss = a.loss.parse().map_err(flag("--loss"))?;
    let act: Activation = a.activation.parse().map_err(flag("--activation"))?;
    let mut hidden = Vec::new();
    if !a.hidden.trim().is_empty() {
        for w in a.hidden.split(',') {
            let w: usize = w
                .trim()
                .parse()
                .map_err(|_| Failure::BadInput(format!("--hidden: `{w}` is not a whole number")))?;
            hidden.push(w);
        }
    }
    let (x, labels, k) = mlp_data(a)?;
    let mut sizes = vec![x.ncols()];
    sizes.extend(&hidden);
    sizes.push(k);
    let mlp = Mlp::new(&sizes, act, true).map_err(blame("--hidden"))?;
    let obj = MlpLoss::classification(mlp.clone(), loss, x.as_ref(), &labels)
        .map_err(blame("--hidden"))?;
    let mut theta = match &a.weights {
        None if a.init == "jax" => mlp.init_lecun(a.seed.wrapping_add(100)),
        None => mlp.init(a.seed.wrapping_add(100)),
        Some(p) => {
            let meta = std::fs::metadata(p)
                .map_err(|e| Failure::BadInput(format!("--weights {}: {e}", p.display())))?;
            if meta.len() > MAX_FILE {
                return Err(Failure::BadInput(format!(
                    "--weights {}: more than 2 GiB",
                    p.display()
                )));
            }
            let w = linalg_core::io::read_npy_col(p).map_err(in_file(p))?;
            if w.nrows() != mlp.n_params() {
                return Err(Failure::BadInput(format!(
                    "--weights {}: {} numbers for a network {sizes:?} with {} parameters",
                    p.display(),
                    w.nrows(),
                    mlp.n_params()
                )));
            }
            if let Some(i) = w.iter().position(|v| !v.is_finite()) {
                return Err(Failure::BadInput(format!(
                    "--weights {}: non-finite parameter {i}",
                    p.display()
                )));
            }
            w
        }
    };
    let tp = TrainParams::default()
        .lr(a.lr)
        .momentum(a.momentum)
        .batch(a.batch)
        .epochs(a.train_epochs.max(1))
        .record_every(a.train_epochs.max(1))
        .seed(a.seed.wrapping_add(200));
    tp.validate().map_err(|e| {
        let f = match e.param_name() {
            Some("lr") => "--lr",
            Some("momentum") => "--momentum",
            _ => "--train-epochs",
        };
        blame(f)(e)
    })?;
    // One gradient or HVP costs about 3 multiply-adds per parameter and sample.
    let (nf, pf) = (x.nrows() as f64, mlp.n_params() as f64);
    let grad = 3.0 * nf * pf;
    let epochs = a.train_epochs as f64;
    let per_epoch = if a.batch == 0 || a.batch >= x.nrows() {
        grad
    } else {
        grad * (1.0 + 0.01 * (nf / a.batch as f64))
    };
    let stab_work = if a.stability {
        21.0 * if a.exact {
            grad * pf + pf.powi(3)
        } else {
            grad * 400.0
        }
    } else {
        0.0
    };
    check_work(
        a,
        mlp.n_params(),
        grad,
        &[
            ("--train-epochs", epochs * per_epoch),
            ("--stability", stab_work),
        ],
    )?;
    let mut stab: Option<StabilityRun> = None;
    let mut diverged = false;
    if a.stability {
        let every = (a.train_epochs / 20).max(1);
        let sp = StabilityParams {
            exact: a.exact,
            seed: a.seed,
            ..Default::default()
        };
        let tp = tp.epochs(a.train_epochs.max(1));
        let run = if a.train_epochs == 0 {
            // Only the initial point.
            stability_along(&obj, &mut theta, &tp, 1, &sp, |_| Control::Stop)
        } else {
            stability_along(&obj, &mut theta, &tp, every, &sp, crate::watch::observe)
        }
        .map_err(blame("--stability"))?;
        diverged = run.diverged;
        stab = Some(run);
    } else if a.train_epochs > 0 {
        let rep =
            train(&obj, &mut theta, &tp, crate::watch::observe).map_err(blame("--train-epochs"))?;
        diverged = rep.diverged;
    }
    if diverged {
        return Err(Failure::from_error(
            false,
            format!(
                "training diverged within {} epochs at --lr {} (lower it)",
                a.train_epochs, a.lr
            ),
            a.json,
        ));
    }
    let loss_value = linalg_core::Objective::value(&obj, theta.as_ref());
    let accuracy = obj.accuracy(theta.as_ref()).unwrap_or(f64::NAN);
    let block = match a.layer {
        Some(l) => Some(mlp.block(l).map_err(blame("--layer"))?),
        None => None,
    };
    let (s, split) = if let Some(r) = block {
        // One layer's block of the Hessian (its parameters only).
        let h = obj
            .curvature(theta.as_ref(), hessian_tools::CurvatureKind::Hessian)
            .map_err(|e| Failure::Solver(format!("the Hessian at the trained parameters: {e}")))?;
        let b = hessian_tools::Restricted::new(&h, r).map_err(blame("--layer"))?;
        if a.exact {
            let (ev, mv) = dense_spectrum(&b)?;
            (exact_spectrum(ev, a, mv)?, None)
        } else {
            (analyse(&b, a, method)?, None)
        }
    } else if a.exact {
        let sp =
            hessian_tools::hessian_split(&obj, theta.as_ref(), true).map_err(blame("--exact"))?;
        let products = sp.products;
        let split = json!({
            "gauss_newton_top": sp.gauss_newton.iter().take(a.top_k).collect::<Vec<_>>(),
            "residual_top": sp.residual.iter().take(a.top_k).collect::<Vec<_>>(),
            "residual_bottom": sp.residual.iter().rev().take(a.top_k).collect::<Vec<_>>(),
            "hessian_negative_fraction": sp.hessian.iter().filter(|v| **v < 0.0).count() as f64 / sp.hessian.len() as f64,
            "asymmetry": sp.asymmetry,
        });
        (exact_spectrum(sp.hessian, a, products)?, Some(split))
    } else {
        let h = obj
            .curvature(theta.as_ref(), hessian_tools::CurvatureKind::Hessian)
            .map_err(|e| Failure::Solver(format!("the Hessian at the trained parameters: {e}")))?;
        (analyse(&h, a, method)?, None)
    };
    let coll = if a.collapse {
        Some(collapse_metrics(&obj, &theta, &x, &labels, k)?)
    } else {
        None
    };
    let seconds = t0.elapsed().as_secs_f64();
    write_outputs(&s, a)?;
    if let (Some(dir), Some(run)) = (&a.out, &stab) {
        let p = dir.join("stability.svg");
        hessian_tools::plot::stability_svg(&p, std::slice::from_ref(run))
            .map_err(|e| Failure::BadInput(format!("{}: {e}", p.display())))?;
    }
    let mut v = spectrum_json(&s, method, seconds);
    v["parameters"] = json!(mlp.n_params());
    v["sizes"] = json!(sizes);
    v["loss"] = num(loss_value);
    v["accuracy"] = num(accuracy);
    v["diverged"] = json!(diverged);
    v["epochs"] = json!(a.train_epochs);
    if let Some(split) = split {
        v["split"] = split;
    }
    if let Some(l) = a.layer {
        v["layer"] = json!(l);
    }
    if let Some(run) = &stab {
        v["stability"] = stability_json(run);
    }
    if let Some(c) = &coll {
        v["collapse"] = collapse_json(c);
    }
    if a.json {
        print_json(&v);
    } else {
        outln!(
            "MLP {sizes:?} ({} parameters), {} loss {loss_value:.6e}, accuracy {accuracy:.4}, {} epochs{}",
            mlp.n_params(),
            loss.name(),
            a.train_epochs,
            if diverged { " (diverged)" } else { "" }
        );
        human(&s, method, seconds);
        if let Some(run) = &stab {
            outln!("stability (η = {}, batch {}):", run.lr, run.batch);
            for p in &run.points {
                outln!(
                    "  epoch {:>6}: loss {:.3e}  λmax·η/2 {:.3}  Tr·η/2 {:.3}  ‖H‖F·η/√B {:.3}",
                    p.epoch,
                    p.loss,
                    p.lambda_max_eta_half,
                    p.trace_eta_half,
                    p.frobenius_eta_over_sqrt_batch
                );
            }
        }
        if let Some(c) = &coll {
            outln!("collapse: {}", collapse_json(c));
        }
    }
    outcome(s.converged && !diverged, || {
        if diverged {
            "training diverged (lower --lr)".into()
        } else {
            "Lanczos did not converge to the tolerance (raise --max-steps)".into()
        }
    })
}

fn collapse_metrics(
    obj: &MlpLoss,
    theta: &Col<f64>,
    x: &Mat<f64>,
    labels: &[usize],
    k: usize,
) -> Result<CollapseMetrics, Failure> {
    let mlp = obj.mlp();
    let layers = mlp.layers();
    if layers < 2 {
        return Err(Failure::BadInput(
            "--collapse: needs at least one hidden layer (--hidden)".into(),
        ));
    }
    let h = mlp
        .features(theta.as_ref(), x.as_ref(), layers - 2)
        .map_err(blame("--collapse"))?;
    let block = mlp.block(layers - 1).map_err(blame("--collapse"))?;
    let p = mlp.sizes()[layers - 1];
    let w = Mat::from_fn(k, p, |r, c| theta[block.start + r + c * k]);
    let b: Vec<f64> = (0..k).map(|r| theta[block.start + k * p + r]).collect();
    collapse(h.as_ref(), labels, k, Some((w.as_ref(), Some(&b)))).map_err(blame("--collapse"))
}

fn collapse_json(c: &CollapseMetrics) -> Value {
    json!({
        "nc1_papyan": num(c.nc1_papyan),
        "nc1_han": num(c.nc1_han),
        "nc1_quotient": num(c.nc1_quotient),
        "nc2_equinorm": num(c.nc2_equinorm),
        "nc2_equiangularity": num(c.nc2_equiangularity),
        "nc2_max_angle": num(c.nc2_max_angle),
        "nc2_classifier_equinorm": c.nc2_classifier_equinorm.map(num),
        "nc2_classifier_max_angle": c.nc2_classifier_max_angle.map(num),
        "nc3": c.nc3.map(num),
        "nc4": c.nc4.map(num),
        "cdnv": num(c.cdnv),
        "samples": c.samples,
    })
}

fn stability_json(r: &StabilityRun) -> Value {
    json!({
        "lr": r.lr,
        "batch": r.batch,
        "two_over_eta": 2.0 / r.lr,
        "diverged": r.diverged,
        "termination": crate::watch::termination(r.termination.as_str()),
        "points": r.points.iter().map(|p| json!({
            "epoch": p.epoch,
            "steps": p.steps,
            "loss": num(p.loss),
            "lambda_max": num(p.sharpness.lambda_max),
            "lambda_max_residual": num(p.sharpness.lambda_max_residual),
            "trace": num(p.sharpness.trace),
            "trace_stderr": num(p.sharpness.trace_stderr),
            "frobenius": num(p.sharpness.frobenius),
            "lambda_max_eta_half": num(p.lambda_max_eta_half),
            "trace_eta_half": num(p.trace_eta_half),
            "frobenius_eta_over_sqrt_batch": num(p.frobenius_eta_over_sqrt_batch),
        })).collect::<Vec<_>>(),
    })
}
