//! Log-domain Sinkhorn and Sinkhorn-Newton-Sparse (Tang et al., ICLR 2024,
//! Algorithm 1), on the potentials `(x, y)` of [`OtProblem`].

use std::time::{Duration, Instant};

use linalg_core::cg::{Cg, CgParams};
use linalg_core::faer::sparse::{SparseColMat, Triplet};
use linalg_core::faer::{Col, ColMut, ColRef, Mat};
use linalg_core::op::{FnOp, for_each_col};
use linalg_core::{Control, Termination};
use rayon::prelude::*;

use crate::problem::OtProblem;
use crate::{Error, Result};

/// Exponents above this count as overflow in the line search (`e^700 ≈ 1e304`).
const EXP_GUARD: f64 = 700.0;

/// Which stage produced an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A Sinkhorn sweep (x then y block maximisation).
    Sinkhorn,
    /// A (sparse) Newton step with line search.
    Newton,
}

/// One iteration of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OtRecord {
    /// Iterations completed (both stages together).
    pub iteration: usize,
    /// The stage of this iteration.
    pub stage: Stage,
    /// `‖r − P1‖₁ + ‖c − Pᵀ1‖₁` after it (NaN where not computed).
    pub marginal_error: f64,
    /// Time since the start of the run.
    pub seconds: f64,
}

/// The outcome of a solve, with bins of zero mass restored.
#[derive(Debug, Clone)]
pub struct OtReport {
    /// Row potential `x` (0 on dropped bins).
    pub x: Col<f64>,
    /// Column potential `y` (0 on dropped bins).
    pub y: Col<f64>,
    /// The transport plan `P_ij = exp((x_i + y_j − C_ij)/ε − 1)` (zero rows/columns on dropped bins).
    pub plan: Mat<f64>,
    /// Transport cost `⟨C, P⟩`.
    pub cost: f64,
    /// Entropic objective `⟨C, P⟩ + ε Σ P log P`.
    pub objective: f64,
    /// Final `‖r − P1‖₁ + ‖c − Pᵀ1‖₁`.
    pub marginal_error: f64,
    /// Total iterations (both stages).
    pub iterations: usize,
    /// Sinkhorn sweeps (including fallbacks during the Newton stage).
    pub sinkhorn_iterations: usize,
    /// Newton steps.
    pub newton_iterations: usize,
    /// Whether the marginal error reached the tolerance.
    pub converged: bool,
    /// Why the run stopped.
    pub termination: Termination,
    /// Per-iteration records.
    pub history: Vec<OtRecord>,
    /// Wall time.
    pub elapsed: Duration,
}

impl OtReport {
    /// The plan's entries `> threshold` as a sparse matrix (compressed
    /// columns); `threshold = 0` keeps every entry that did not underflow.
    pub fn sparse_plan(&self, threshold: f64) -> Result<SparseColMat<usize, f64>> {
        if !(threshold.is_finite() && threshold >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "threshold",
                reason: format!("must be finite and ≥ 0, got {threshold}"),
            });
        }
        let (n, m) = (self.plan.nrows(), self.plan.ncols());
        let mut triplets = Vec::new();
        for j in 0..m {
            for (i, &v) in self.plan.col(j).iter().enumerate() {
                if v > threshold {
                    triplets.push(Triplet::new(i, j, v));
                }
            }
        }
        SparseColMat::try_new_from_triplets(n, m, &triplets).map_err(|e| Error::InvalidParameter {
            name: "threshold",
            reason: format!("sparse plan: {e:?}"),
        })
    }
}

/// How [`sinkhorn`] iterates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SinkhornMethod {
    /// Kernel-space scaling with log-domain absorption where it is safe,
    /// log-domain sweeps where it is not (the default).
    #[default]
    Auto,
    /// Log-domain sweeps only: an exponential per entry per half-sweep, but
    /// safe for any ε.
    Log,
}

/// Parameters of [`sinkhorn`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkhornParams {
    /// Stop when the marginal error is below `tol` (default 1e-9).
    pub tol: f64,
    /// Iteration limit (default 100 000).
    pub max_iters: usize,
    /// Check the marginal error every `check_every` sweeps (default 10).
    pub check_every: usize,
    /// Kernel-space with absorption (`Auto`) or log-domain only (`Log`).
    pub method: SinkhornMethod,
    /// ε-scaling (continuation): solve a sequence of larger regularisations
    /// first, each warm-starting the next (default off).
    pub eps_scaling: Option<EpsScaling>,
}

impl Default for SinkhornParams {
    fn default() -> Self {
        Self {
            tol: 1e-9,
            max_iters: 100_000,
            check_every: 10,
            method: SinkhornMethod::Auto,
            eps_scaling: None,
        }
    }
}

/// An ε-scaling schedule: `ε_k = max(ε, start·factor^k)`, `k = 0, 1, …`; every
/// stage but the last runs to marginal error `stage_tol` (or `tol` if larger),
/// and its potentials warm-start the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsScaling {
    /// The first regularisation `ε_0` (absolute, same units as the cost).
    pub start: f64,
    /// The decay per stage, in `(0, 1)`.
    pub factor: f64,
    /// Marginal error at which an intermediate stage ends.
    pub stage_tol: f64,
}

impl EpsScaling {
    /// `start`, `factor`, and `stage_tol = 1e-3`.
    pub fn new(start: f64, factor: f64) -> Self {
        Self {
            start,
            factor,
            stage_tol: 1e-3,
        }
    }

    /// The regularisations of all stages, ending with `target`.
    fn schedule(&self, target: f64) -> Result<Vec<f64>> {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(Error::InvalidParameter {
                name: "eps_scaling.factor",
                reason: format!("must be in (0, 1), got {}", self.factor),
            });
        }
        if !(self.start.is_finite() && self.start > 0.0) {
            return Err(Error::InvalidParameter {
                name: "eps_scaling.start",
                reason: format!("must be finite and > 0, got {}", self.start),
            });
        }
        check_tol(self.stage_tol)?;
        let mut out = Vec::new();
        let mut e = self.start;
        while e > target {
            out.push(e);
            e *= self.factor;
        }
        out.push(target);
        Ok(out)
    }
}

/// Scalings beyond `[1/ABSORB, ABSORB]` are absorbed into the potentials.
const ABSORB: f64 = 1e50;

/// Parameters of [`sns`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnsParams {
    /// Stop when the marginal error is below `tol` (default 1e-9).
    pub tol: f64,
    /// Sinkhorn sweeps before the Newton stage (`N1`, default 20 as in the paper).
    pub sinkhorn_iters: usize,
    /// Newton-step limit (default 200).
    pub max_newton_iters: usize,
    /// Off-diagonal entries of `P` kept in the sparsified Hessian; `None` means
    /// `8·max(n, m)` (the paper's target sparsity λ = 2/n counted against the
    /// 2n × 2n Hessian). Every row's and column's largest entry is always kept.
    pub keep: Option<usize>,
    /// Shift `μ‖g‖₁` added to the Hessian (default 0).
    pub shift_mu: f64,
    /// Relative tolerance of the inner CG solve (default 1e-10).
    pub cg_rtol: f64,
    /// Double the keep-count (up to every entry) after a Newton step that
    /// fails to halve the marginal error or whose line search fails
    /// (default `true`; `false` is the paper's fixed sparsity).
    pub adaptive_keep: bool,
    /// Automatic switch: after the `sinkhorn_iters` sweeps, keep sweeping while
    /// Sinkhorn still contracts the marginal error by at least this factor
    /// per sweep (geometric mean over 10 sweeps), and switch to Newton once it
    /// stalls (judged from the 11th sweep on); at most `max_sinkhorn_iters`
    /// sweeps. `None` (default) switches
    /// after exactly `sinkhorn_iters` sweeps, as Algorithm 1.
    pub switch_ratio: Option<f64>,
    /// Cap on the Sinkhorn stage when `switch_ratio` is set (default 10 000).
    pub max_sinkhorn_iters: usize,
}

impl Default for SnsParams {
    fn default() -> Self {
        Self {
            tol: 1e-9,
            sinkhorn_iters: 20,
            max_newton_iters: 200,
            keep: None,
            shift_mu: 0.0,
            cg_rtol: 1e-10,
            adaptive_keep: true,
            switch_ratio: None,
            max_sinkhorn_iters: 10_000,
        }
    }
}

fn check_tol(tol: f64) -> Result<()> {
    if !(tol.is_finite() && tol > 0.0) {
        return Err(Error::InvalidParameter {
            name: "tol",
            reason: format!("must be finite and > 0, got {tol}"),
        });
    }
    Ok(())
}

/// `Σ a_k b_k` with eight independent accumulators: a plain `.sum()` is one
/// dependency chain the compiler may not reorder, which left the kernel sweep
/// 2.5× slower than NumPy's BLAS products at n = 500 (measured).
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0.0f64; 8];
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// The fused half-sweeps over one block of rows of `K` (row-major, `m`
/// columns): `kv_i = (K v)_i`, `u_i = r_i / kv_i`, and `acc = Σ_i u_i K[i, :]`
/// (this block's share of `Kᵀu`), reading each row once. `false` if some
/// `(K v)_i` is not positive and finite.
#[inline(always)]
fn scale_rows_generic(
    rows: &[f64],
    v: &[f64],
    r: &[f64],
    u: &mut [f64],
    kv: &mut [f64],
    acc: &mut [f64],
) -> bool {
    acc.fill(0.0);
    let mut ok = true;
    for (((row, ri), ui), kvi) in rows.chunks_exact(v.len()).zip(r).zip(u).zip(kv) {
        let s = dot(row, v);
        *kvi = s;
        ok &= s > 0.0 && s.is_finite();
        *ui = ri / s;
        let w = *ui;
        for (o, a) in acc.iter_mut().zip(row) {
            *o += a * w;
        }
    }
    ok
}

/// [`scale_rows_generic`] compiled for AVX2 + FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn scale_rows_avx2(
    rows: &[f64],
    v: &[f64],
    r: &[f64],
    u: &mut [f64],
    kv: &mut [f64],
    acc: &mut [f64],
) -> bool {
    scale_rows_generic(rows, v, r, u, kv, acc)
}

/// [`scale_rows_generic`] with runtime CPU dispatch: the default x86-64
/// target has only SSE2 (2 lanes), and this loop is the whole cost of a
/// kernel-space sweep. (faer dispatches its own kernels at run time the same
/// way, but has no fused `K v` / `Kᵀu` pass.)
fn scale_rows(
    rows: &[f64],
    v: &[f64],
    r: &[f64],
    u: &mut [f64],
    kv: &mut [f64],
    acc: &mut [f64],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { scale_rows_avx2(rows, v, r, u, kv, acc) };
    }
    scale_rows_generic(rows, v, r, u, kv, acc)
}

/// `out_i = LSE_j((pot_j − a_ij)/ε)` for a row-major `k × l` matrix `a`, in parallel over rows.
fn lse_rows(a: &[f64], pot: &[f64], eps: f64, out: &mut [f64]) {
    let l = pot.len();
    let inv = 1.0 / eps;
    out.par_iter_mut().enumerate().for_each(|(i, o)| {
        let row = &a[i * l..(i + 1) * l];
        let mut mx = f64::NEG_INFINITY;
        for (p, c) in pot.iter().zip(row) {
            mx = mx.max((p - c) * inv);
        }
        let s: f64 = pot
            .iter()
            .zip(row)
            .map(|(p, c)| ((p - c) * inv - mx).exp())
            .sum();
        *o = mx + s.ln();
    });
}

/// State of a run: potentials and LSE scratch, allocated once.
struct State<'p> {
    p: &'p OtProblem,
    /// The regularisation in use (`p.reg`, or a larger one during ε-scaling).
    eps: f64,
    x: Vec<f64>,
    y: Vec<f64>,
    lse_r: Vec<f64>,
    lse_c: Vec<f64>,
}

impl<'p> State<'p> {
    fn new(p: &'p OtProblem) -> Self {
        let (n, m) = p.dims();
        Self {
            p,
            eps: p.reg,
            x: vec![0.0; n],
            y: vec![0.0; m],
            lse_r: vec![0.0; n],
            lse_c: vec![0.0; m],
        }
    }

    /// One sweep: the exact block maximisers in closed log-sum-exp form,
    /// `x_i = ε(log r_i + 1 − LSE_j((y_j − C_ij)/ε))`, then the same for `y`.
    fn sweep(&mut self) {
        let eps = self.eps;
        lse_rows(&self.p.cost, &self.y, eps, &mut self.lse_r);
        for ((x, r), l) in self.x.iter_mut().zip(&self.p.r).zip(&self.lse_r) {
            *x = eps * (r.ln() + 1.0 - l);
        }
        lse_rows(&self.p.cost_t, &self.x, eps, &mut self.lse_c);
        for ((y, c), l) in self.y.iter_mut().zip(&self.p.c).zip(&self.lse_c) {
            *y = eps * (c.ln() + 1.0 - l);
        }
    }

    /// `‖r − P1‖₁ + ‖c − Pᵀ1‖₁` from the current potentials.
    fn marginal_error(&mut self) -> f64 {
        let eps = self.eps;
        lse_rows(&self.p.cost, &self.y, eps, &mut self.lse_r);
        lse_rows(&self.p.cost_t, &self.x, eps, &mut self.lse_c);
        let er: f64 = (0..self.x.len())
            .map(|i| (self.p.r[i] - (self.x[i] / eps - 1.0 + self.lse_r[i]).exp()).abs())
            .sum();
        let ec: f64 = (0..self.y.len())
            .map(|j| (self.p.c[j] - (self.y[j] / eps - 1.0 + self.lse_c[j]).exp()).abs())
            .sum();
        er + ec
    }

    /// The dense plan (row-major) with its row and column sums, or `None` if an
    /// exponent exceeds the overflow guard. Also returns `Σ P`.
    fn plan(&self, x: &[f64], y: &[f64]) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        let (n, m) = self.p.dims();
        let inv = 1.0 / self.eps;
        let mut plan = vec![0.0; n * m];
        let ok = plan
            .par_chunks_mut(m)
            .enumerate()
            .map(|(i, row)| {
                let mut ok = true;
                for ((pv, yj), cij) in row.iter_mut().zip(y).zip(&self.p.cost[i * m..(i + 1) * m]) {
                    let e = (x[i] + yj - cij) * inv - 1.0;
                    ok &= e <= EXP_GUARD;
                    *pv = e.exp();
                }
                ok
            })
            .reduce(|| true, |a, b| a && b);
        if !ok {
            return None;
        }
        let rows: Vec<f64> = plan.par_chunks(m).map(|r| r.iter().sum()).collect();
        let mut cols = vec![0.0; m];
        for row in plan.chunks(m) {
            for (c, v) in cols.iter_mut().zip(row) {
                *c += v;
            }
        }
        Some((plan, rows, cols))
    }

    /// `‖r − rows‖₁ + ‖c − cols‖₁` for a plan's row and column sums.
    fn gap(&self, rows: &[f64], cols: &[f64]) -> f64 {
        let l1 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>();
        l1(&self.p.r, rows) + l1(&self.p.c, cols)
    }

    /// The concave dual `f = −ε Σ P + ⟨r, x⟩ + ⟨c, y⟩` from row sums.
    fn dual(&self, x: &[f64], y: &[f64], rows: &[f64]) -> f64 {
        let total: f64 = rows.iter().sum();
        -self.eps * total
            + x.iter().zip(&self.p.r).map(|(a, b)| a * b).sum::<f64>()
            + y.iter().zip(&self.p.c).map(|(a, b)| a * b).sum::<f64>()
    }

    fn report(
        &self,
        history: Vec<OtRecord>,
        counts: (usize, usize),
        tol: f64,
        start: Instant,
    ) -> Result<OtReport> {
        let (n, m) = self.p.dims();
        let (plan, rows, cols) = self
            .plan(&self.x, &self.y)
            .ok_or(Error::NonFinite("plan"))?;
        let err = self.gap(&rows, &cols);
        let eps = self.eps;
        let mut cost = 0.0;
        let mut entropy = 0.0;
        for i in 0..n {
            for j in 0..m {
                let pv = plan[i * m + j];
                cost += pv * self.p.cost[i * m + j];
                if pv > 0.0 {
                    entropy += pv * pv.ln();
                }
            }
        }
        let (full_n, full_m) = self.p.shape();
        let mut full_plan = Mat::<f64>::zeros(full_n, full_m);
        let (ri, cj) = (self.p.rows(), self.p.cols());
        for i in 0..n {
            for j in 0..m {
                full_plan[(ri[i], cj[j])] = plan[i * m + j];
            }
        }
        let mut x = Col::<f64>::zeros(full_n);
        let mut y = Col::<f64>::zeros(full_m);
        for (i, &v) in self.x.iter().enumerate() {
            x[ri[i]] = v;
        }
        for (j, &v) in self.y.iter().enumerate() {
            y[cj[j]] = v;
        }
        if !(cost.is_finite() && err.is_finite()) {
            return Err(Error::NonFinite("result"));
        }
        let converged = err < tol;
        let (sinkhorn_iterations, newton_iterations) = counts;
        Ok(OtReport {
            x,
            y,
            plan: full_plan,
            cost,
            objective: cost + eps * entropy,
            marginal_error: err,
            iterations: sinkhorn_iterations + newton_iterations,
            sinkhorn_iterations,
            newton_iterations,
            converged,
            termination: if converged {
                Termination::Converged
            } else {
                Termination::MaxIterations
            },
            history,
            elapsed: start.elapsed(),
        })
    }
}

/// Scalings `(u, v)` and the stabilised kernel of the kernel-space iteration.
#[derive(Default)]
struct KernelState {
    /// `K` row-major (n × m); empty when it must be rebuilt.
    k: Vec<f64>,
    /// Per-thread partial sums of `Kᵀu` (one row block per thread).
    partials: Vec<Vec<f64>>,
    u: Vec<f64>,
    v: Vec<f64>,
    kv: Vec<f64>,
    ktu: Vec<f64>,
}

impl KernelState {
    /// Folds the scalings into the potentials (`x += ε ln u`, `y += ε ln v`)
    /// and marks the kernel stale.
    fn absorb(&mut self, st: &mut State<'_>) {
        if self.k.is_empty() {
            return;
        }
        let eps = st.eps;
        for (x, u) in st.x.iter_mut().zip(&self.u) {
            *x += eps * u.ln();
        }
        for (y, v) in st.y.iter_mut().zip(&self.v) {
            *y += eps * v.ln();
        }
        self.k.clear();
    }
}

impl State<'_> {
    /// `‖r − P1‖₁ + ‖c − Pᵀ1‖₁` in kernel space, `P = diag(u) K diag(v)`
    /// (one product for the rows; the columns were matched by the last half-sweep).
    fn kernel_error(&self, ks: &mut KernelState) -> f64 {
        let m = self.p.dims().1;
        let (k, v) = (&ks.k, &ks.v);
        ks.kv.par_iter_mut().enumerate().for_each(|(i, o)| {
            *o = dot(&k[i * m..(i + 1) * m], v);
        });
        let er: f64 = self
            .p
            .r
            .iter()
            .zip(&ks.u)
            .zip(&ks.kv)
            .map(|((r, u), s)| (r - u * s).abs())
            .sum();
        let ec: f64 = self
            .p
            .c
            .iter()
            .zip(&ks.v)
            .zip(&ks.ktu)
            .map(|((c, v), s)| (c - v * s).abs())
            .sum();
        er + ec
    }

    /// One kernel-space sweep; `false` if it could not be done safely (the
    /// caller then sweeps in the log domain).
    fn kernel_sweep(&mut self, ks: &mut KernelState) -> bool {
        let (n, m) = self.p.dims();
        if ks.k.is_empty() {
            match self.plan(&self.x, &self.y) {
                Some((k, _, _)) => ks.k = k,
                None => return false,
            }
            let threads = rayon::current_num_threads().max(1);
            ks.partials = vec![vec![0.0; m]; threads];
            ks.u = vec![1.0; n];
            ks.v = vec![1.0; m];
            ks.kv = vec![0.0; n];
            ks.ktu = vec![0.0; m];
        }
        // One pass over K per sweep: while row i is in cache, u_i = r_i/(K v)_i
        // and u_i·K[i, :] is added to this thread's partial Kᵀu.
        let block = n.div_ceil(ks.partials.len());
        let (k, v, r) = (&ks.k, &ks.v, &self.p.r);
        let ok = ks
            .partials
            .par_iter_mut()
            .zip(ks.u.par_chunks_mut(block))
            .zip(ks.kv.par_chunks_mut(block))
            .enumerate()
            .map(|(b, ((acc, ub), kvb))| {
                let rows = &k[b * block * m..(b * block + ub.len()) * m];
                scale_rows(rows, v, &r[b * block..b * block + ub.len()], ub, kvb, acc)
            })
            .reduce(|| true, |a, b| a && b);
        if !ok {
            ks.k.clear();
            ks.u.fill(1.0);
            ks.v.fill(1.0);
            return false;
        }
        ks.ktu.fill(0.0);
        for acc in &ks.partials {
            for (o, a) in ks.ktu.iter_mut().zip(acc) {
                *o += a;
            }
        }
        if ks.ktu.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            ks.k.clear();
            ks.u.fill(1.0);
            ks.v.fill(1.0);
            return false;
        }
        for ((v, c), s) in ks.v.iter_mut().zip(&self.p.c).zip(&ks.ktu) {
            *v = c / s;
        }
        let out_of_range = |w: &f64| *w > ABSORB || *w < 1.0 / ABSORB;
        if ks.u.iter().any(out_of_range) || ks.v.iter().any(out_of_range) {
            ks.absorb(self);
        }
        true
    }
}

/// Log-domain Sinkhorn: alternating exact maximisation of the dual in closed
/// log-sum-exp form. Never forms `exp(−C/ε)`, so tiny `ε` is safe. Optional
/// warm start from potentials `(x, y)` on the kept bins' input indices.
pub fn sinkhorn(
    problem: &OtProblem,
    params: &SinkhornParams,
    warm: Option<(ColRef<'_, f64>, ColRef<'_, f64>)>,
) -> Result<OtReport> {
    check_tol(params.tol)?;
    if params.check_every == 0 || params.max_iters == 0 {
        return Err(Error::InvalidParameter {
            name: "check_every/max_iters",
            reason: "must be at least 1".into(),
        });
    }
    let start = Instant::now();
    let mut st = State::new(problem);
    if let Some((x0, y0)) = warm {
        let (n, m) = problem.shape();
        if x0.nrows() != n || y0.nrows() != m {
            return Err(Error::Shape {
                expected: (n, m),
                found: (x0.nrows(), y0.nrows()),
            });
        }
        for (k, &i) in problem.rows().iter().enumerate() {
            st.x[k] = x0[i];
        }
        for (k, &j) in problem.cols().iter().enumerate() {
            st.y[k] = y0[j];
        }
    }
    let schedule = match params.eps_scaling {
        Some(sc) => sc.schedule(problem.reg)?,
        None => vec![problem.reg],
    };
    let mut history = Vec::new();
    let mut it = 0;
    let mut kernel = KernelState::default();
    for (stage, &eps) in schedule.iter().enumerate() {
        let last = stage + 1 == schedule.len();
        let stage_tol = match (last, params.eps_scaling) {
            (false, Some(sc)) => sc.stage_tol.max(params.tol),
            _ => params.tol,
        };
        // The kernel depends on ε: fold the scalings in with the old ε first.
        kernel.absorb(&mut st);
        st.eps = eps;
        let first = it;
        while it < params.max_iters {
            // Kernel-space iteration (Schmitzer 2019, "Stabilized sparse scaling
            // algorithms for entropy regularized transport problems"): with the
            // stabilised kernel K_ij = exp((x_i + y_j − C_ij)/ε − 1), a sweep is
            // u = r / (K v), v = c / (Kᵀ u) — two products, no exponentials. When
            // u or v leave [1/ABSORB, ABSORB] they are absorbed into (x, y) and K
            // is rebuilt; when K v or Kᵀ u underflow (tiny ε far from the optimum)
            // the sweep falls back to the log domain.
            let used_kernel =
                params.method == SinkhornMethod::Auto && it > first && st.kernel_sweep(&mut kernel);
            if !used_kernel {
                kernel.absorb(&mut st);
                st.sweep();
            }
            it += 1;
            let check = (it - first) % params.check_every == 0 || it == params.max_iters;
            let err = match (check, kernel.k.is_empty()) {
                (false, _) => f64::NAN,
                (true, false) => st.kernel_error(&mut kernel),
                (true, true) => st.marginal_error(),
            };
            history.push(OtRecord {
                iteration: it,
                stage: Stage::Sinkhorn,
                marginal_error: err,
                seconds: start.elapsed().as_secs_f64(),
            });
            if err.is_nan() && check {
                return Err(Error::NonFinite("potentials"));
            }
            if check && err < stage_tol {
                break;
            }
        }
    }
    kernel.absorb(&mut st);
    st.report(history, (it, 0), params.tol, start)
}

/// The sparsified Hessian `H̃ = η [diag(P1), S; Sᵀ, diag(Pᵀ1)]` in CSR form.
struct SparseHessian {
    eta: f64,
    rows: Vec<f64>,
    cols: Vec<f64>,
    /// CSR of the kept block `S` (n × m) and of `Sᵀ` (m × n).
    s_ptr: Vec<usize>,
    s_idx: Vec<usize>,
    s_val: Vec<f64>,
    t_ptr: Vec<usize>,
    t_idx: Vec<usize>,
    t_val: Vec<f64>,
    shift: f64,
}

impl SparseHessian {
    /// Keeps the `keep` largest entries of `plan`, plus each row's and column's
    /// largest entry, and the exact diagonal.
    fn new(
        plan: &[f64],
        rows: &[f64],
        cols: &[f64],
        (n, m): (usize, usize),
        keep: usize,
        eta: f64,
        shift: f64,
    ) -> Self {
        let total = n * m;
        let threshold = if keep >= total {
            f64::NEG_INFINITY
        } else {
            let mut vals = plan.to_vec();
            let k = keep.max(1);
            let (_, kth, _) = vals.select_nth_unstable_by(total - k, |a, b| a.total_cmp(b));
            *kth
        };
        let mut keep_mask: Vec<bool> = plan.iter().map(|v| *v >= threshold).collect();
        for i in 0..n {
            let row = &plan[i * m..(i + 1) * m];
            if let Some(j) = (0..m).max_by(|&a, &b| row[a].total_cmp(&row[b])) {
                keep_mask[i * m + j] = true;
            }
        }
        for j in 0..m {
            if let Some(i) = (0..n).max_by(|&a, &b| plan[a * m + j].total_cmp(&plan[b * m + j])) {
                keep_mask[i * m + j] = true;
            }
        }
        let (mut s_ptr, mut s_idx, mut s_val) = (vec![0], Vec::new(), Vec::new());
        let mut counts = vec![0usize; m];
        for i in 0..n {
            for j in 0..m {
                if keep_mask[i * m + j] {
                    s_idx.push(j);
                    s_val.push(plan[i * m + j]);
                    counts[j] += 1;
                }
            }
            s_ptr.push(s_idx.len());
        }
        let mut t_ptr = vec![0usize; m + 1];
        for j in 0..m {
            t_ptr[j + 1] = t_ptr[j] + counts[j];
        }
        let mut fill = t_ptr.clone();
        let mut t_idx = vec![0; s_idx.len()];
        let mut t_val = vec![0.0; s_idx.len()];
        for i in 0..n {
            for k in s_ptr[i]..s_ptr[i + 1] {
                let j = s_idx[k];
                t_idx[fill[j]] = i;
                t_val[fill[j]] = s_val[k];
                fill[j] += 1;
            }
        }
        Self {
            eta,
            rows: rows.to_vec(),
            cols: cols.to_vec(),
            s_ptr,
            s_idx,
            s_val,
            t_ptr,
            t_idx,
            t_val,
            shift,
        }
    }

    /// `out = H̃ v` for `v = (v_x, v_y)`.
    fn apply(&self, out: ColMut<'_, f64>, v: ColRef<'_, f64>) {
        for_each_col(out.as_mat_mut(), v.as_mat(), |o, x| self.apply_slices(o, x));
    }

    /// [`Self::apply`] on slices, in parallel over rows (the `x` block) and
    /// columns (the `y` block): the products are most of the CG time.
    fn apply_slices(&self, out: &mut [f64], v: &[f64]) {
        let n = self.rows.len();
        let (ox, oy) = out.split_at_mut(n);
        let (vx, vy) = v.split_at(n);
        ox.par_iter_mut()
            .with_min_len(64)
            .enumerate()
            .for_each(|(i, o)| {
                let mut s = self.rows[i] * vx[i];
                for k in self.s_ptr[i]..self.s_ptr[i + 1] {
                    s += self.s_val[k] * vy[self.s_idx[k]];
                }
                *o = self.eta * s + self.shift * vx[i];
            });
        oy.par_iter_mut()
            .with_min_len(64)
            .enumerate()
            .for_each(|(j, o)| {
                let mut s = self.cols[j] * vy[j];
                for k in self.t_ptr[j]..self.t_ptr[j + 1] {
                    s += self.t_val[k] * vx[self.t_idx[k]];
                }
                *o = self.eta * s + self.shift * vy[j];
            });
    }
}

/// Projects `(1, −1)` (the gauge direction) out of `d = (d_x, d_y)`.
fn project_gauge(d: &mut [f64], n: usize) {
    let (sx, sy): (f64, f64) = (d[..n].iter().sum(), d[n..].iter().sum());
    let t = (sx - sy) / d.len() as f64;
    for v in &mut d[..n] {
        *v -= t;
    }
    for v in &mut d[n..] {
        *v += t;
    }
}

/// Sinkhorn-Newton-Sparse (Algorithm 1): `N1` Sinkhorn sweeps, then Newton
/// ascent steps on the concave dual with the exact Hessian diagonal and a
/// sparsified off-diagonal block, solved by Jacobi-preconditioned CG with the
/// gauge direction `(1, −1)` projected out; Armijo backtracking with an
/// overflow guard, and one Sinkhorn sweep as fallback when it fails.
pub fn sns(problem: &OtProblem, params: &SnsParams) -> Result<OtReport> {
    check_tol(params.tol)?;
    if !(params.shift_mu.is_finite() && params.shift_mu >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "shift_mu",
            reason: format!("must be finite and ≥ 0, got {}", params.shift_mu),
        });
    }
    let start = Instant::now();
    let (n, m) = problem.dims();
    let keep = params.keep.unwrap_or(8 * n.max(m));
    if keep == 0 {
        return Err(Error::InvalidParameter {
            name: "keep",
            reason: "must be at least 1".into(),
        });
    }
    let eta = problem.eta();
    let mut st = State::new(problem);
    let mut history = Vec::new();
    let (mut n_sink, mut n_newton) = (0usize, 0usize);
    let record = |history: &mut Vec<OtRecord>, stage, err, it| {
        history.push(OtRecord {
            iteration: it,
            stage,
            marginal_error: err,
            seconds: start.elapsed().as_secs_f64(),
        })
    };
    if let Some(rho) = params.switch_ratio
        && !(rho > 0.0 && rho < 1.0)
    {
        return Err(Error::InvalidParameter {
            name: "switch_ratio",
            reason: format!("must be in (0, 1), got {rho}"),
        });
    }
    let mut errs: Vec<f64> = Vec::new();
    let mut kernel = KernelState::default();
    loop {
        let more = match params.switch_ratio {
            None => n_sink < params.sinkhorn_iters,
            Some(rho) => {
                n_sink < params.sinkhorn_iters
                    || (n_sink < params.max_sinkhorn_iters
                        && (errs.len() <= 10
                            || (errs[errs.len() - 1] / errs[errs.len() - 11]).powf(0.1) < rho))
            }
        };
        if !more {
            break;
        }
        // Kernel-space sweeps after the first (see `sinkhorn`): no exponentials.
        if n_sink == 0 || !st.kernel_sweep(&mut kernel) {
            kernel.absorb(&mut st);
            st.sweep();
        }
        n_sink += 1;
        let err = if kernel.k.is_empty() {
            st.marginal_error()
        } else {
            st.kernel_error(&mut kernel)
        };
        errs.push(err);
        record(&mut history, Stage::Sinkhorn, err, n_sink);
        if !err.is_finite() {
            return Err(Error::NonFinite("potentials"));
        }
        if err < params.tol {
            kernel.absorb(&mut st);
            return st.report(history, (n_sink, 0), params.tol, start);
        }
    }
    kernel.absorb(&mut st);
    let full = n * m;
    let mut keep = keep.min(full);
    let cg = Cg::new(CgParams::new().rtol(params.cg_rtol).max_iters(4 * (n + m)))?;
    let mut dir = vec![0.0; n + m];
    // The plan at the accepted line-search point is the next step's plan.
    let mut cached = None;
    while n_newton < params.max_newton_iters {
        let (plan, rows, cols) = match cached.take() {
            Some(c) => c,
            None => st.plan(&st.x, &st.y).ok_or(Error::NonFinite("plan"))?,
        };
        let g: Vec<f64> =
            st.p.r
                .iter()
                .zip(&rows)
                .map(|(a, b)| a - b)
                .chain(st.p.c.iter().zip(&cols).map(|(a, b)| a - b))
                .collect();
        let err: f64 = g.iter().map(|v| v.abs()).sum();
        if err < params.tol {
            break;
        }
        let f0 = st.dual(&st.x, &st.y, &rows);
        let h = SparseHessian::new(
            &plan,
            &rows,
            &cols,
            (n, m),
            keep,
            eta,
            params.shift_mu * err,
        );
        let op = FnOp::new(n + m, |out: ColMut<'_, f64>, v: ColRef<'_, f64>| {
            h.apply(out, v)
        });
        let diag: Vec<f64> = rows
            .iter()
            .chain(&cols)
            .map(|d| eta * d + params.shift_mu * err)
            .collect();
        let jacobi = FnOp::new(n + m, |mut out: ColMut<'_, f64>, v: ColRef<'_, f64>| {
            for k in 0..v.nrows() {
                out[k] = if diag[k] > 0.0 { v[k] / diag[k] } else { v[k] };
            }
        });
        let mut gp = g.clone();
        project_gauge(&mut gp, n);
        let gcol = Col::from_fn(n + m, |k| gp[k]);
        let step = cg
            .solve_with(&op, &jacobi, gcol.as_ref(), None, |_| Control::Continue)
            .map(|rep| rep.x);
        let mut accepted = None;
        if let Ok(d) = step {
            for (k, v) in dir.iter_mut().enumerate() {
                *v = d[k];
            }
            project_gauge(&mut dir, n);
            let slope: f64 = dir.iter().zip(&g).map(|(a, b)| a * b).sum();
            if slope > 0.0 && dir.iter().all(|v| v.is_finite()) {
                let mut alpha = 1.0;
                for _ in 0..40 {
                    let xt: Vec<f64> = (0..n).map(|i| st.x[i] + alpha * dir[i]).collect();
                    let yt: Vec<f64> = (0..m).map(|j| st.y[j] + alpha * dir[n + j]).collect();
                    if let Some(trial) = st.plan(&xt, &yt) {
                        let (r2, c2) = (&trial.1, &trial.2);
                        let f1 = st.dual(&xt, &yt, r2);
                        let e1 = st.gap(r2, c2);
                        // Armijo for maximisation; near the optimum f is flat to
                        // round-off, so a decrease of the marginal error also counts.
                        if f1 >= f0 + 1e-4 * alpha * slope || e1 < err {
                            st.x = xt;
                            st.y = yt;
                            accepted = Some(e1);
                            cached = Some(trial);
                            break;
                        }
                    }
                    alpha *= 0.5;
                }
            }
        }
        // Adaptive sparsity: a Newton step that does not at least halve the
        // error means the sparsified Hessian is too coarse here (structured
        // costs, non-unique plans); keep twice as many entries from now on.
        if params.adaptive_keep && accepted.is_none_or(|e1| e1 > 0.5 * err) {
            keep = (2 * keep).min(full);
        }
        match accepted {
            Some(e1) => {
                n_newton += 1;
                record(&mut history, Stage::Newton, e1, n_sink + n_newton);
            }
            None => {
                // Line search failed (or no ascent direction): one Sinkhorn sweep.
                st.sweep();
                n_sink += 1;
                let e = st.marginal_error();
                record(&mut history, Stage::Sinkhorn, e, n_sink + n_newton);
            }
        }
    }
    st.report(history, (n_sink, n_newton), params.tol, start)
}

/// Newton with the dense Hessian (every entry of `P` kept): the reference
/// variant of [`sns`] for small problems.
pub fn newton_dense(problem: &OtProblem, params: &SnsParams) -> Result<OtReport> {
    let (n, m) = problem.dims();
    sns(
        problem,
        &SnsParams {
            keep: Some(n * m),
            ..*params
        },
    )
}

/// The negated dual `−f(x, y)` as a convex [`linalg_core::Objective`] over
/// `z = (x, y)` (kept bins), with the exact Hessian-vector product
/// `H v`, `H = −∇²f = η [diag(P1), P; Pᵀ, diag(Pᵀ1)]` (positive semidefinite,
/// null vector `(1, −1)`).
#[derive(Debug, Clone, Copy)]
pub struct NegDual<'p> {
    problem: &'p OtProblem,
}

impl<'p> NegDual<'p> {
    /// The negated dual of `problem`.
    pub fn new(problem: &'p OtProblem) -> Self {
        Self { problem }
    }

    fn plan_of(&self, z: ColRef<'_, f64>) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, m) = self.problem.dims();
        let x: Vec<f64> = (0..n).map(|i| z[i]).collect();
        let y: Vec<f64> = (0..m).map(|j| z[n + j]).collect();
        let inv = 1.0 / self.problem.reg;
        let mut plan = vec![0.0; n * m];
        let mut rows = vec![0.0; n];
        let mut cols = vec![0.0; m];
        for i in 0..n {
            for j in 0..m {
                let v = ((x[i] + y[j] - self.problem.cost[i * m + j]) * inv - 1.0).exp();
                plan[i * m + j] = v;
                rows[i] += v;
                cols[j] += v;
            }
        }
        (plan, rows, cols)
    }
}

impl linalg_core::Objective for NegDual<'_> {
    fn dim(&self) -> usize {
        let (n, m) = self.problem.dims();
        n + m
    }
    fn value(&self, z: ColRef<'_, f64>) -> f64 {
        let (n, m) = self.problem.dims();
        let (_, rows, _) = self.plan_of(z);
        let total: f64 = rows.iter().sum();
        self.problem.reg * total
            - (0..n).map(|i| self.problem.r[i] * z[i]).sum::<f64>()
            - (0..m).map(|j| self.problem.c[j] * z[n + j]).sum::<f64>()
    }
    fn gradient(&self, z: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let (n, m) = self.problem.dims();
        let (_, rows, cols) = self.plan_of(z);
        for i in 0..n {
            g[i] = rows[i] - self.problem.r[i];
        }
        for j in 0..m {
            g[n + j] = cols[j] - self.problem.c[j];
        }
        linalg_core::Objective::value(self, z)
    }
    fn hessian_vec(&self, z: ColRef<'_, f64>, v: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        let (n, m) = self.problem.dims();
        let (plan, rows, cols) = self.plan_of(z);
        let h = SparseHessian::new(&plan, &rows, &cols, (n, m), n * m, self.problem.eta(), 0.0);
        h.apply(out, v);
    }
}
