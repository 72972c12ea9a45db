//! Hessian models: what gradient-regularised Newton solves with, for the
//! shared objectives of `linalg_core::objective` and this crate's own.

use linalg_core::Objective;
use linalg_core::faer::{Col, ColRef};
use linalg_core::objective::{Logistic, Quadratic, Rosenbrock, Softmax, weighted_gram};

use crate::{HessianKind, HessianModel};

/// An objective that can also supply approximate Hessians.
pub trait Curvature: Objective {
    /// The Hessian model of `kind` at `x`, or `None` where the problem has no
    /// such approximation. The default gives the exact dense Hessian and its
    /// diagonal from [`Objective::hessian`].
    fn curvature(&self, kind: HessianKind, x: ColRef<'_, f64>) -> Option<HessianModel> {
        match kind {
            HessianKind::Exact => self.hessian(x).map(HessianModel::Dense),
            HessianKind::Diagonal => self.hessian(x).map(|h| diagonal_of(&h)),
            _ => None,
        }
    }
}

/// The diagonal model of a dense Hessian.
pub(crate) fn diagonal_of(h: &linalg_core::faer::Mat<f64>) -> HessianModel {
    HessianModel::Diagonal(Col::from_fn(h.nrows(), |i| h[(i, i)]))
}

impl Curvature for Rosenbrock {}
impl Curvature for Quadratic {}

impl Curvature for Logistic {
    /// `GaussNewton` equals the exact Hessian here (a generalised linear
    /// model); `Fisher` is the empirical Fisher `(1/m) Σ g_i g_iᵀ + λI` with
    /// per-sample gradients `g_i`.
    fn curvature(&self, kind: HessianKind, w: ColRef<'_, f64>) -> Option<HessianModel> {
        let a = self.design();
        let with_reg = |mut h: linalg_core::faer::Mat<f64>| {
            for i in 0..h.nrows() {
                h[(i, i)] += self.reg();
            }
            HessianModel::Dense(h)
        };
        match kind {
            HessianKind::Exact | HessianKind::GaussNewton => {
                self.hessian(w).map(HessianModel::Dense)
            }
            HessianKind::Diagonal => {
                let wts = self.curvature_weights(w);
                Some(HessianModel::Diagonal(Col::from_fn(a.ncols(), |j| {
                    self.reg()
                        + (0..wts.len())
                            .map(|i| wts[i] * a[(i, j)] * a[(i, j)])
                            .sum::<f64>()
                })))
            }
            HessianKind::Fisher => Some(with_reg(weighted_gram(a, &self.fisher_weights(w)))),
        }
    }
}

impl Curvature for Softmax {
    /// `Diagonal` is formed directly, `(1/m) Σ_i p_ik (1 − p_ik) a_ij² + λ`,
    /// without the dense Hessian; `Exact` is the dense Hessian.
    fn curvature(&self, kind: HessianKind, x: ColRef<'_, f64>) -> Option<HessianModel> {
        match kind {
            HessianKind::Exact => self.hessian(x).map(HessianModel::Dense),
            HessianKind::Diagonal => {
                let a = self.design();
                let (p, _) = self.probabilities(x);
                let (m, d, kk) = (p.nrows(), a.ncols(), self.classes());
                let mut diag = Col::from_fn(d * kk, |_| self.reg());
                for k in 0..kk {
                    for i in 0..m {
                        let w = p[(i, k)] * (1.0 - p[(i, k)]) / m as f64;
                        for j in 0..d {
                            diag[k * d + j] += w * a[(i, j)] * a[(i, j)];
                        }
                    }
                }
                Some(HessianModel::Diagonal(diag))
            }
            _ => None,
        }
    }
}
