//! The entropic OT dual, its sparsified Hessian, and the negated dual as an
//! [`Objective`] with a cached Hessian operator.
//!
//! With `P_ij = exp((x_i + y_j − C_ij)/ε − 1)` and `η = 1/ε`, the concave dual
//! is `f(x, y) = −ε Σ P + ⟨r, x⟩ + ⟨c, y⟩`, its gradient `(r − P1, c − Pᵀ1)`
//! and its Hessian `−η [diag(P1), P; Pᵀ, diag(Pᵀ1)]` (null vector `(1, −1)`).

use linalg_core::Objective;
use linalg_core::faer::dyn_stack::{MemStack, StackReq};
use linalg_core::faer::matrix_free::{LinOp, Precond};
use linalg_core::faer::{ColMut, ColRef, MatMut, MatRef, Par};
use linalg_core::objective::HessianOp;
use linalg_core::op::for_each_col;
use rayon::prelude::*;

use crate::problem::OtProblem;
use crate::state::Plan;

/// The sparsified Hessian `H̃ = η [diag(P1), S; Sᵀ, diag(Pᵀ1)] + shift·I` in
/// CSR form, `S` the kept entries of `P`. Rebuilt in place each Newton step:
/// every buffer keeps its allocation.
#[derive(Debug, Default)]
pub(crate) struct SparseHessian {
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
    /// Scratch: the plan copy for top-k selection, the keep mask, fill counters.
    select: Vec<f64>,
    mask: Vec<bool>,
    fill: Vec<usize>,
}

impl SparseHessian {
    /// Keeps the `keep` largest entries of `plan`, plus each row's and
    /// column's largest entry, and the exact diagonal.
    pub(crate) fn rebuild(
        &mut self,
        plan: &Plan,
        (n, m): (usize, usize),
        keep: usize,
        eta: f64,
        shift: f64,
    ) {
        let p = &plan.plan;
        let total = n * m;
        let threshold = if keep >= total {
            f64::NEG_INFINITY
        } else {
            self.select.clear();
            self.select.extend_from_slice(p);
            let k = keep.max(1);
            let (_, kth, _) = self
                .select
                .select_nth_unstable_by(total - k, |a, b| a.total_cmp(b));
            *kth
        };
        self.mask.clear();
        self.mask.extend(p.iter().map(|v| *v >= threshold));
        for i in 0..n {
            let row = &p[i * m..(i + 1) * m];
            if let Some(j) = (0..m).max_by(|&a, &b| row[a].total_cmp(&row[b])) {
                self.mask[i * m + j] = true;
            }
        }
        for j in 0..m {
            if let Some(i) = (0..n).max_by(|&a, &b| p[a * m + j].total_cmp(&p[b * m + j])) {
                self.mask[i * m + j] = true;
            }
        }
        self.s_ptr.clear();
        self.s_ptr.push(0);
        self.s_idx.clear();
        self.s_val.clear();
        self.fill.clear();
        self.fill.resize(m + 1, 0);
        for i in 0..n {
            for j in 0..m {
                if self.mask[i * m + j] {
                    self.s_idx.push(j);
                    self.s_val.push(p[i * m + j]);
                    self.fill[j + 1] += 1;
                }
            }
            self.s_ptr.push(self.s_idx.len());
        }
        // Column pointers of Sᵀ by a prefix sum of the counts, then a scatter.
        for j in 0..m {
            self.fill[j + 1] += self.fill[j];
        }
        self.t_ptr.clear();
        self.t_ptr.extend_from_slice(&self.fill);
        let nnz = self.s_idx.len();
        self.t_idx.clear();
        self.t_idx.resize(nnz, 0);
        self.t_val.clear();
        self.t_val.resize(nnz, 0.0);
        for i in 0..n {
            for k in self.s_ptr[i]..self.s_ptr[i + 1] {
                let j = self.s_idx[k];
                let dst = self.fill[j];
                self.t_idx[dst] = i;
                self.t_val[dst] = self.s_val[k];
                self.fill[j] += 1;
            }
        }
        self.rows.clear();
        self.rows.extend_from_slice(&plan.rows);
        self.cols.clear();
        self.cols.extend_from_slice(&plan.cols);
        self.eta = eta;
        self.shift = shift;
    }

    /// The Hessian's diagonal `η (P1, Pᵀ1) + shift` (for Jacobi).
    pub(crate) fn diagonal(&self) -> impl Iterator<Item = f64> + '_ {
        self.rows
            .iter()
            .chain(&self.cols)
            .map(|d| self.eta * d + self.shift)
    }

    /// `out = H̃ v` on slices, in parallel over rows (the `x` block) and
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

impl LinOp<f64> for SparseHessian {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.rows.len() + self.cols.len()
    }
    fn ncols(&self) -> usize {
        self.nrows()
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _: Par, _: &mut MemStack) {
        for_each_col(out, rhs, |o, x| self.apply_slices(o, x));
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}

impl Precond<f64> for SparseHessian {}

/// Projects `(1, −1)` (the gauge direction) out of `d = (d_x, d_y)`.
pub(crate) fn project_gauge(d: &mut [f64], n: usize) {
    let (sx, sy): (f64, f64) = (d[..n].iter().sum(), d[n..].iter().sum());
    let t = (sx - sy) / d.len() as f64;
    for v in &mut d[..n] {
        *v -= t;
    }
    for v in &mut d[n..] {
        *v += t;
    }
}

/// The negated dual `−f(x, y)` as a convex [`Objective`] over `z = (x, y)`
/// (kept bins), with the exact Hessian `H = −∇²f = η [diag(P1), P; Pᵀ,
/// diag(Pᵀ1)]` (positive semidefinite, null vector `(1, −1)`).
#[derive(Debug, Clone, Copy)]
pub struct NegDual<'p> {
    problem: &'p OtProblem,
}

impl<'p> NegDual<'p> {
    /// The negated dual of `problem`.
    pub fn new(problem: &'p OtProblem) -> Self {
        Self { problem }
    }

    fn plan_of(&self, z: ColRef<'_, f64>) -> Plan {
        let (n, m) = self.problem.dims();
        let inv = 1.0 / self.problem.reg;
        let mut out = Plan {
            plan: vec![0.0; n * m],
            rows: vec![0.0; n],
            cols: vec![0.0; m],
        };
        for i in 0..n {
            for j in 0..m {
                let v = ((z[i] + z[n + j] - self.problem.cost[i * m + j]) * inv - 1.0).exp();
                out.plan[i * m + j] = v;
                out.rows[i] += v;
                out.cols[j] += v;
            }
        }
        out
    }

    /// The exact Hessian at `z` (every entry of `P` kept), built once.
    fn hessian_at(&self, z: ColRef<'_, f64>) -> SparseHessian {
        let (n, m) = self.problem.dims();
        let mut h = SparseHessian::default();
        h.rebuild(&self.plan_of(z), (n, m), n * m, self.problem.eta(), 0.0);
        h
    }
}

impl Objective for NegDual<'_> {
    fn dim(&self) -> usize {
        let (n, m) = self.problem.dims();
        n + m
    }
    fn value(&self, z: ColRef<'_, f64>) -> f64 {
        let (n, m) = self.problem.dims();
        let plan = self.plan_of(z);
        let total: f64 = plan.rows.iter().sum();
        self.problem.reg * total
            - (0..n).map(|i| self.problem.r[i] * z[i]).sum::<f64>()
            - (0..m).map(|j| self.problem.c[j] * z[n + j]).sum::<f64>()
    }
    fn gradient(&self, z: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let (n, m) = self.problem.dims();
        let plan = self.plan_of(z);
        for i in 0..n {
            g[i] = plan.rows[i] - self.problem.r[i];
        }
        for j in 0..m {
            g[n + j] = plan.cols[j] - self.problem.c[j];
        }
        self.value(z)
    }
    fn hessian_vec(&self, z: ColRef<'_, f64>, v: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        linalg_core::op::apply_col(&self.hessian_at(z), out, v, Par::Seq);
    }
    /// The sparse Hessian built once at `z` (not once per product).
    fn hessian_op<'a>(&'a self, z: ColRef<'_, f64>) -> HessianOp<'a> {
        HessianOp::new(self.hessian_at(z))
    }
}
