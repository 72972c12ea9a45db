//! The smoothed maximum of affine functions.

use linalg_core::Objective;
use linalg_core::faer::{Col, ColMut, ColRef, Mat};
use linalg_core::objective::weighted_gram;
use linalg_core::param::{at_least, positive};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::{Curvature, HessianKind, HessianModel, Result};

/// `f(x) = μ log Σ_i exp((a_iᵀx − b_i)/μ)`, with `A, b ~ U(−1, 1)` (seeded)
/// and the rows of `A` shifted by `∇f(0)` so that `x* = 0` (as in the
/// gradient-normalised smoothness paper's experiments); `f* = f(0)`.
#[derive(Debug, Clone)]
pub struct LogSumExp {
    a: Mat<f64>,
    b: Col<f64>,
    mu: f64,
}

impl LogSumExp {
    /// `m` terms in dimension `n`, smoothing `μ > 0`, seed.
    pub fn random(m: usize, n: usize, mu: f64, seed: u64) -> Result<Self> {
        at_least("m", m, 1)?;
        at_least("n", n, 1)?;
        positive("mu", mu)?;
        linalg_core::budget::check(
            format!("a {m} × {n} log-sum-exp matrix"),
            linalg_core::budget::Bytes::matrix::<f64>(m, n),
        )?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut a = Mat::from_fn(m, n, |_, _| rng.random_range(-1.0..1.0));
        let b = Col::from_fn(m, |_| rng.random_range(-1.0..1.0));
        let mut s = Self {
            a: a.clone(),
            b,
            mu,
        };
        let mut g0 = Col::zeros(n);
        s.gradient(Col::<f64>::zeros(n).as_ref(), g0.as_mut());
        for i in 0..m {
            for j in 0..n {
                a[(i, j)] -= g0[j];
            }
        }
        s.a = a;
        Ok(s)
    }

    /// The optimal value `f(0)`.
    pub fn optimum(&self) -> f64 {
        self.value(Col::<f64>::zeros(self.a.ncols()).as_ref())
    }

    /// Softmax weights `π_i ∝ exp((a_iᵀx − b_i)/μ)` and `f(x)`.
    fn weights(&self, x: ColRef<'_, f64>) -> (Vec<f64>, f64) {
        let z = &self.a * x;
        let t: Vec<f64> = (0..z.nrows())
            .map(|i| (z[i] - self.b[i]) / self.mu)
            .collect();
        let mx = t.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
        let e: Vec<f64> = t.iter().map(|v| (v - mx).exp()).collect();
        let s: f64 = e.iter().sum();
        (e.iter().map(|v| v / s).collect(), self.mu * (mx + s.ln()))
    }
}

impl Objective for LogSumExp {
    fn dim(&self) -> usize {
        self.a.ncols()
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        self.weights(x).1
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let (p, f) = self.weights(x);
        g.copy_from(self.a.transpose() * Col::from_fn(p.len(), |i| p[i]));
        f
    }
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (p, _) = self.weights(x);
        let av = &self.a * v;
        let mean: f64 = (0..p.len()).map(|i| p[i] * av[i]).sum();
        let w = Col::from_fn(p.len(), |i| p[i] * (av[i] - mean) / self.mu);
        out.copy_from(self.a.transpose() * w);
    }
    fn hessian(&self, x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        let (p, _) = self.weights(x);
        let mut h = weighted_gram(self.a.as_ref(), &p);
        let g = self.a.transpose() * Col::from_fn(p.len(), |i| p[i]);
        for j in 0..h.ncols() {
            for i in 0..h.nrows() {
                h[(i, j)] = (h[(i, j)] - g[i] * g[j]) / self.mu;
            }
        }
        Some(h)
    }
}

impl Curvature for LogSumExp {
    /// `GaussNewton`: the weighted Gauss–Newton matrix `(1/μ) Aᵀ diag(π) A`
    /// (the exact Hessian without its `−(1/μ) ∇f ∇fᵀ` term).
    fn curvature(&self, kind: HessianKind, x: ColRef<'_, f64>) -> Option<HessianModel> {
        match kind {
            HessianKind::GaussNewton => {
                let (p, _) = self.weights(x);
                let mut h = weighted_gram(self.a.as_ref(), &p);
                h *= linalg_core::faer::Scale(1.0 / self.mu);
                Some(HessianModel::Dense(h))
            }
            HessianKind::Exact => self.hessian(x).map(HessianModel::Dense),
            HessianKind::Diagonal => self.hessian(x).map(|h| crate::curvature::diagonal_of(&h)),
            HessianKind::Fisher => None,
        }
    }
}
