//! The state of a run: potentials, log-sum-exp scratch, the kernel-space
//! scalings, and the plan they define, each allocated once and reused.

use std::time::Duration;

use linalg_core::faer::{Col, Mat};
use linalg_core::{Termination, Work};
use rayon::prelude::*;

use crate::kernels::{dot, lse_rows, scale_rows};
use crate::problem::OtProblem;
use crate::report::{OtRecord, OtReport};
use crate::{Error, Result};

/// Exponents above this count as overflow in the line search (`e^700 ≈ 1e304`).
const EXP_GUARD: f64 = 700.0;

/// Scalings beyond `[1/ABSORB, ABSORB]` are absorbed into the potentials.
const ABSORB: f64 = 1e50;

/// A dense plan (row-major) with its row and column sums, reused across
/// Newton steps and line-search trials.
#[derive(Debug, Default, Clone)]
pub(crate) struct Plan {
    pub(crate) plan: Vec<f64>,
    pub(crate) rows: Vec<f64>,
    pub(crate) cols: Vec<f64>,
}

/// State of a run: potentials and LSE scratch, allocated once.
pub(crate) struct State<'p> {
    pub(crate) p: &'p OtProblem,
    /// The regularisation in use (`p.reg`, or a larger one during ε-scaling).
    pub(crate) eps: f64,
    pub(crate) x: Vec<f64>,
    pub(crate) y: Vec<f64>,
    lse_r: Vec<f64>,
    lse_c: Vec<f64>,
    /// Passes and evaluations so far (see [`OtReport::work`]).
    pub(crate) work: Work,
}

impl<'p> State<'p> {
    pub(crate) fn new(p: &'p OtProblem) -> Self {
        let (n, m) = p.dims();
        Self {
            p,
            eps: p.reg,
            x: vec![0.0; n],
            y: vec![0.0; m],
            lse_r: vec![0.0; n],
            lse_c: vec![0.0; m],
            work: Work::default(),
        }
    }

    /// One sweep: the exact block maximisers in closed log-sum-exp form,
    /// `x_i = ε(log r_i + 1 − LSE_j((y_j − C_ij)/ε))`, then the same for `y`.
    pub(crate) fn sweep(&mut self) {
        let eps = self.eps;
        self.work.matvecs += 2;
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
    pub(crate) fn marginal_error(&mut self) -> f64 {
        let eps = self.eps;
        self.work.matvecs += 2;
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

    /// Writes the dense plan `P_ij = exp((x_i + y_j − C_ij)/ε − 1)` (row-major)
    /// into `out`, reusing its allocation; `false` if an exponent exceeds the
    /// overflow guard. Counts one pass (a dual gradient).
    pub(crate) fn fill_plan(&mut self, x: &[f64], y: &[f64], out: &mut Vec<f64>) -> bool {
        let (n, m) = self.p.dims();
        let inv = 1.0 / self.eps;
        self.work.gradient_evals += 1;
        out.resize(n * m, 0.0);
        let cost = &self.p.cost;
        out.par_chunks_mut(m)
            .enumerate()
            .map(|(i, row)| {
                let mut ok = true;
                for ((pv, yj), cij) in row.iter_mut().zip(y).zip(&cost[i * m..(i + 1) * m]) {
                    let e = (x[i] + yj - cij) * inv - 1.0;
                    ok &= e <= EXP_GUARD;
                    *pv = e.exp();
                }
                ok
            })
            .reduce(|| true, |a, b| a && b)
    }

    /// [`Self::fill_plan`] with the row and column sums, into `buf`.
    pub(crate) fn plan_into(&mut self, x: &[f64], y: &[f64], buf: &mut Plan) -> bool {
        if !self.fill_plan(x, y, &mut buf.plan) {
            return false;
        }
        let m = self.p.dims().1;
        buf.rows.resize(self.p.dims().0, 0.0);
        buf.rows
            .par_iter_mut()
            .zip(buf.plan.par_chunks(m))
            .for_each(|(s, r)| *s = r.iter().sum());
        buf.cols.clear();
        buf.cols.resize(m, 0.0);
        for row in buf.plan.chunks(m) {
            for (c, v) in buf.cols.iter_mut().zip(row) {
                *c += v;
            }
        }
        true
    }

    /// `‖r − rows‖₁ + ‖c − cols‖₁` for a plan's row and column sums.
    pub(crate) fn gap(&self, rows: &[f64], cols: &[f64]) -> f64 {
        let l1 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>();
        l1(&self.p.r, rows) + l1(&self.p.c, cols)
    }

    /// The concave dual `f = −ε Σ P + ⟨r, x⟩ + ⟨c, y⟩` from row sums.
    pub(crate) fn dual(&self, x: &[f64], y: &[f64], rows: &[f64]) -> f64 {
        let total: f64 = rows.iter().sum();
        -self.eps * total
            + x.iter().zip(&self.p.r).map(|(a, b)| a * b).sum::<f64>()
            + y.iter().zip(&self.p.c).map(|(a, b)| a * b).sum::<f64>()
    }

    /// The report from the current potentials (the plan is formed once more).
    pub(crate) fn report(
        &mut self,
        history: Vec<OtRecord>,
        counts: (usize, usize),
        termination: Termination,
        elapsed: Duration,
    ) -> Result<OtReport> {
        let (n, m) = self.p.dims();
        let mut buf = Plan::default();
        let (x, y) = (std::mem::take(&mut self.x), std::mem::take(&mut self.y));
        let ok = self.plan_into(&x, &y, &mut buf);
        (self.x, self.y) = (x, y);
        if !ok {
            return Err(Error::NonFinite("plan"));
        }
        let err = self.gap(&buf.rows, &buf.cols);
        let plan = &buf.plan;
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
            converged: termination == Termination::Converged,
            termination,
            history,
            elapsed,
            work: self.work,
        })
    }
}

/// Scalings `(u, v)` and the stabilised kernel of the kernel-space iteration.
#[derive(Default)]
pub(crate) struct KernelState {
    /// `K` row-major (n × m); empty when it must be rebuilt.
    pub(crate) k: Vec<f64>,
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
    pub(crate) fn absorb(&mut self, st: &mut State<'_>) {
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

/// Row blocks of the kernel sweep (see `kernel_sweep`).
const PARTIAL_BLOCKS: usize = 16;

impl State<'_> {
    /// `‖r − P1‖₁ + ‖c − Pᵀ1‖₁` in kernel space, `P = diag(u) K diag(v)`
    /// (one product for the rows; the columns were matched by the last half-sweep).
    pub(crate) fn kernel_error(&mut self, ks: &mut KernelState) -> f64 {
        let m = self.p.dims().1;
        self.work.matvecs += 1;
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
    pub(crate) fn kernel_sweep(&mut self, ks: &mut KernelState) -> bool {
        let (n, m) = self.p.dims();
        if ks.k.is_empty() {
            let (x, y) = (std::mem::take(&mut self.x), std::mem::take(&mut self.y));
            let ok = self.fill_plan(&x, &y, &mut ks.k);
            (self.x, self.y) = (x, y);
            if !ok {
                ks.k.clear();
                return false;
            }
            // A fixed number of row blocks, not one per thread: Kᵀu is summed
            // over the blocks' partials in one order whatever the pool size,
            // so results are bit-identical for any RAYON_NUM_THREADS (the
            // extra cost is 16·m additions per sweep; the sweep's parallel
            // speed-up is capped at 16 threads).
            ks.partials = vec![vec![0.0; m]; PARTIAL_BLOCKS.min(n.max(1))];
            ks.u = vec![1.0; n];
            ks.v = vec![1.0; m];
            ks.kv = vec![0.0; n];
            ks.ktu = vec![0.0; m];
        }
        self.work.matvecs += 2;
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
