//! Binary logistic regression.

use faer::dyn_stack::{MemStack, StackReq};
use faer::linalg::matmul::matmul;
use faer::linalg::{temp_mat_scratch, temp_mat_zeroed};
use faer::mat::AsMatMut;
use faer::matrix_free::LinOp;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Col, ColMut, ColRef, Mat, MatMut, MatRef, Par};

use super::{HessianOp, Objective, check_data, weighted_gram, with_intercept};
use crate::Result;
use crate::param::{ParamError, nonnegative};

/// `log(1 + eᵗ)` without overflow.
pub(crate) fn log1pexp(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

/// `1 / (1 + e⁻ᵗ)` without overflow.
pub(crate) fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// Binary logistic regression with ℓ2 regularisation,
/// `f(w) = (1/m) Σ_i log(1 + exp(−y_i a_iᵀw)) + (λ/2)‖w‖²`, `y_i ∈ {−1, +1}`,
/// an intercept column appended to the features (and regularised with them).
#[derive(Debug, Clone)]
pub struct Logistic {
    a: Mat<f64>,
    y: Vec<f64>,
    reg: f64,
}

impl Logistic {
    /// From features (m × d, one row per sample), labels `±1` and `λ ≥ 0`.
    ///
    /// Errors: empty or non-finite features, a label count other than `m`,
    /// a label other than ±1 (`ParamError` "labels"), `reg` negative or
    /// non-finite (`ParamError` "reg").
    pub fn new(features: MatRef<'_, f64>, labels: &[f64], reg: f64) -> Result<Self> {
        check_data(features, labels.len())?;
        nonnegative("reg", reg)?;
        // The label check differs per model (±1 here, < classes for softmax);
        // the rest of the constructor is the same for both GLMs.
        if let Some(i) = labels.iter().position(|v| *v != 1.0 && *v != -1.0) {
            return Err(ParamError::new(
                "labels",
                format!("binary labels must be ±1, got {} at {i}", labels[i]),
            )
            .into());
        }
        Ok(Self {
            a: with_intercept(features),
            y: labels.to_vec(),
            reg,
        })
    }

    /// The design matrix with its intercept column (m × (d+1)).
    pub fn design(&self) -> MatRef<'_, f64> {
        self.a.as_ref()
    }

    /// The labels `±1`.
    pub fn labels(&self) -> &[f64] {
        &self.y
    }

    /// The regularisation `λ`.
    pub fn reg(&self) -> f64 {
        self.reg
    }

    /// Margins `t_i = y_i a_iᵀw`.
    pub fn margins(&self, w: ColRef<'_, f64>) -> Col<f64> {
        let z = &self.a * w;
        // Every caller applies exp/ln to the margins next (crate::simd).
        crate::simd::zero_upper();
        Col::from_fn(z.nrows(), |i| self.y[i] * z[i])
    }

    /// Per-sample curvature weights `σ(t_i)(1 − σ(t_i))/m`: the Hessian is
    /// `Aᵀ diag(weights) A + λI`.
    pub fn curvature_weights(&self, w: ColRef<'_, f64>) -> Vec<f64> {
        let t = self.margins(w);
        let m = t.nrows() as f64;
        t.iter()
            .map(|t| {
                let s = sigmoid(*t);
                s * (1.0 - s) / m
            })
            .collect()
    }

    /// The empirical Fisher weights `σ(−t_i)²/m`: `(1/m) Σ g_i g_iᵀ =
    /// Aᵀ diag(weights) A` for the per-sample gradients `g_i`.
    pub fn fisher_weights(&self, w: ColRef<'_, f64>) -> Vec<f64> {
        let t = self.margins(w);
        let m = t.nrows() as f64;
        t.iter().map(|t| sigmoid(-t).powi(2) / m).collect()
    }
}

impl Objective for Logistic {
    fn dim(&self) -> usize {
        self.a.ncols()
    }
    fn value(&self, w: ColRef<'_, f64>) -> f64 {
        let t = self.margins(w);
        let m = t.nrows() as f64;
        t.iter().map(|t| log1pexp(-t)).sum::<f64>() / m + 0.5 * self.reg * w.squared_norm_l2()
    }
    fn gradient(&self, w: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let t = self.margins(w);
        let m = t.nrows() as f64;
        let c = Col::from_fn(t.nrows(), |i| -self.y[i] * sigmoid(-t[i]) / m);
        g.copy_from(self.a.transpose() * c + w * self.reg);
        t.iter().map(|t| log1pexp(-t)).sum::<f64>() / m + 0.5 * self.reg * w.squared_norm_l2()
    }
    fn hessian_vec(&self, w: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let d = self.curvature_weights(w);
        let av = &self.a * v;
        let t = Col::from_fn(d.len(), |i| d[i] * av[i]);
        out.copy_from(self.a.transpose() * t + v * self.reg);
    }
    fn hessian(&self, w: ColRef<'_, f64>) -> Option<Mat<f64>> {
        let mut h = weighted_gram(self.a.as_ref(), &self.curvature_weights(w));
        for i in 0..h.nrows() {
            h[(i, i)] += self.reg;
        }
        Some(h)
    }
    /// `v ↦ Aᵀ(d ∘ Av) + λv` with the weights `d` computed once.
    fn hessian_op<'a>(&'a self, w: ColRef<'_, f64>) -> HessianOp<'a> {
        HessianOp::new(GramOp {
            a: self.a.as_ref(),
            weights: self.curvature_weights(w),
            shift: self.reg,
        })
    }
}

/// `v ↦ Aᵀ diag(w) A v + σ v` (GLM Hessians and Gauss–Newton matrices);
/// the product `Av` goes into the caller's scratch, not a new vector.
#[derive(Debug)]
pub(crate) struct GramOp<'a> {
    pub(crate) a: MatRef<'a, f64>,
    pub(crate) weights: Vec<f64>,
    pub(crate) shift: f64,
}

impl LinOp<f64> for GramOp<'_> {
    fn apply_scratch(&self, rhs_ncols: usize, _: Par) -> StackReq {
        temp_mat_scratch::<f64>(self.a.nrows(), rhs_ncols)
    }
    fn nrows(&self) -> usize {
        self.a.ncols()
    }
    fn ncols(&self) -> usize {
        self.a.ncols()
    }
    fn apply(
        &self,
        mut out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        par: Par,
        stack: &mut MemStack,
    ) {
        let (mut t, _) = temp_mat_zeroed::<f64, _, _>(self.a.nrows(), rhs.ncols(), stack);
        let mut t = t.as_mat_mut();
        matmul(t.rb_mut(), Accum::Replace, self.a, rhs, 1.0, par);
        for j in 0..t.ncols() {
            for (i, w) in self.weights.iter().enumerate() {
                t[(i, j)] *= w;
            }
        }
        matmul(
            out.rb_mut(),
            Accum::Replace,
            self.a.transpose(),
            t.rb(),
            1.0,
            par,
        );
        for j in 0..out.ncols() {
            for i in 0..out.nrows() {
                out[(i, j)] += self.shift * rhs[(i, j)];
            }
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}
