//! Nesterov's Chebyshev–Rosenbrock function in residual form.

use linalg_core::Objective;
use linalg_core::faer::{Col, ColMut, ColRef, Mat};
use linalg_core::param::at_least;

use crate::{Curvature, HessianKind, HessianModel, Result};

/// Chebyshev–Rosenbrock in residual form, `f(x) = (1/p)‖u(x)‖^p` with
/// `u_1 = ½(1 − x_1)`, `u_i = x_i − (2x_{i−1}² − 1)` (`i ≥ 2`), minimum `0`
/// at `(1, …, 1)`; `p = 2` is (half of) Nesterov's Chebyshev–Rosenbrock
/// function, the gradient-normalised smoothness paper uses `p = 4`.
#[derive(Debug, Clone, Copy)]
pub struct ChebyshevRosenbrock {
    n: usize,
    p: f64,
}

impl ChebyshevRosenbrock {
    /// Dimension `n ≥ 2`, power `p ≥ 2`.
    pub fn new(n: usize, p: f64) -> Result<Self> {
        at_least("n", n, 2)?;
        linalg_core::param::in_range("p", p, 2.0, f64::MAX)?;
        // Every evaluation holds a few n-vectors.
        linalg_core::budget::check(
            format!("Chebyshev–Rosenbrock in {n} dimensions"),
            linalg_core::budget::Bytes::of::<f64>(n).times(4),
        )?;
        Ok(Self { n, p })
    }

    /// The classic start `x_1 = −1`, `x_i = 1` otherwise.
    pub fn classic_start(&self) -> Col<f64> {
        Col::from_fn(self.n, |i| if i == 0 { -1.0 } else { 1.0 })
    }

    fn residual(&self, x: ColRef<'_, f64>) -> Col<f64> {
        Col::from_fn(self.n, |i| {
            if i == 0 {
                0.5 * (1.0 - x[0])
            } else {
                x[i] - (2.0 * x[i - 1] * x[i - 1] - 1.0)
            }
        })
    }

    /// `Jᵀw` for the residual Jacobian (bidiagonal).
    fn jt(&self, x: ColRef<'_, f64>, w: ColRef<'_, f64>) -> Col<f64> {
        let mut out = Col::zeros(self.n);
        out[0] = -0.5 * w[0];
        for i in 1..self.n {
            out[i] += w[i];
            out[i - 1] += -4.0 * x[i - 1] * w[i];
        }
        out
    }

    /// `JᵀJ` (tridiagonal, dense storage).
    fn jtj(&self, x: ColRef<'_, f64>) -> Mat<f64> {
        let n = self.n;
        let mut m = Mat::zeros(n, n);
        m[(0, 0)] += 0.25;
        for i in 1..n {
            let c = -4.0 * x[i - 1];
            m[(i, i)] += 1.0;
            m[(i - 1, i - 1)] += c * c;
            m[(i, i - 1)] += c;
            m[(i - 1, i)] += c;
        }
        m
    }

    /// `‖u‖^{p−2} JᵀJ + (p−2)‖u‖^{p−4} (Jᵀu)(Jᵀu)ᵀ`: the Hessian without the
    /// residual-curvature term `‖u‖^{p−2} Σ u_i ∇²u_i`.
    fn gauss_newton(&self, x: ColRef<'_, f64>) -> Mat<f64> {
        let u = self.residual(x);
        let s = u.norm_l2();
        let jtu = self.jt(x, u.as_ref());
        let mut m = self.jtj(x);
        let (a, b) = if s > 0.0 {
            (s.powf(self.p - 2.0), (self.p - 2.0) * s.powf(self.p - 4.0))
        } else {
            (0.0, 0.0)
        };
        for j in 0..self.n {
            for i in 0..self.n {
                m[(i, j)] = a * m[(i, j)] + b * jtu[i] * jtu[j];
            }
        }
        m
    }
}

impl Objective for ChebyshevRosenbrock {
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        self.residual(x).norm_l2().powf(self.p) / self.p
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let u = self.residual(x);
        let s = u.norm_l2();
        let scale = if s > 0.0 { s.powf(self.p - 2.0) } else { 0.0 };
        g.copy_from(self.jt(x, u.as_ref()) * scale);
        s.powf(self.p) / self.p
    }
    /// Matrix-free, O(n): `a·Jᵀ(Jv) + b·(Jᵀu)(Jᵀu)ᵀv + a·Σ u_i ∇²u_i v` with
    /// `a = ‖u‖^{p−2}`, `b = (p−2)‖u‖^{p−4}` (no dense Hessian is formed).
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let u = self.residual(x);
        let s = u.norm_l2();
        let (a, b) = if s > 0.0 {
            (s.powf(self.p - 2.0), (self.p - 2.0) * s.powf(self.p - 4.0))
        } else {
            (0.0, 0.0)
        };
        let jv = Col::from_fn(self.n, |i| {
            if i == 0 {
                -0.5 * v[0]
            } else {
                v[i] - 4.0 * x[i - 1] * v[i - 1]
            }
        });
        let mut hv = self.jt(x, jv.as_ref()) * a;
        if b != 0.0 {
            let jtu = self.jt(x, u.as_ref());
            let d = jtu.transpose() * v;
            hv += jtu * (b * d);
        }
        for i in 1..self.n {
            hv[i - 1] += a * u[i] * -4.0 * v[i - 1];
        }
        out.copy_from(hv);
    }
    fn hessian(&self, x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        let mut h = self.gauss_newton(x);
        // + ‖u‖^{p−2} Σ_i u_i ∇²u_i, with ∇²u_i = −4 e_{i−1} e_{i−1}ᵀ (i ≥ 2).
        let u = self.residual(x);
        let s = u.norm_l2();
        let a = if s > 0.0 { s.powf(self.p - 2.0) } else { 0.0 };
        for i in 1..self.n {
            h[(i - 1, i - 1)] += a * u[i] * -4.0;
        }
        Some(h)
    }
}

impl Curvature for ChebyshevRosenbrock {
    /// `GaussNewton`: the paper's "inexact Hessian" (see `gauss_newton`).
    fn curvature(&self, kind: HessianKind, x: ColRef<'_, f64>) -> Option<HessianModel> {
        match kind {
            HessianKind::GaussNewton => Some(HessianModel::Dense(self.gauss_newton(x))),
            HessianKind::Exact => self.hessian(x).map(HessianModel::Dense),
            HessianKind::Diagonal => self.hessian(x).map(|h| crate::curvature::diagonal_of(&h)),
            HessianKind::Fisher => None,
        }
    }
}
