//! The fourth power of a residual norm.

use linalg_core::Objective;
use linalg_core::faer::{Col, ColMut, ColRef, Mat};
use linalg_core::param::at_least;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::{Curvature, HessianKind, HessianModel, Result};

/// `f(x) = ¼‖Ax − b‖⁴` with `A` (m × n) and `b` Gaussian (seeded); with
/// `m < n` the minimum is `0`. Hessian `‖u‖² AᵀA + 2 (Aᵀu)(Aᵀu)ᵀ`, `u = Ax − b`.
#[derive(Debug, Clone)]
pub struct NormPow4 {
    a: Mat<f64>,
    b: Col<f64>,
}

impl NormPow4 {
    /// Random `A` (m × n) and `b`, entries `N(0, 1)/√m`-scaled uniform (seeded).
    pub fn random(m: usize, n: usize, seed: u64) -> Result<Self> {
        at_least("m", m, 1)?;
        at_least("n", n, 1)?;
        linalg_core::budget::check(
            format!("a {m} × {n} matrix"),
            linalg_core::budget::Bytes::matrix::<f64>(m, n),
        )?;
        let mut rng = StdRng::seed_from_u64(seed);
        let s = 1.0 / (m as f64).sqrt();
        Ok(Self {
            a: Mat::from_fn(m, n, |_, _| s * rng.random_range(-1.0..1.0)),
            b: Col::from_fn(m, |_| rng.random_range(-1.0..1.0)),
        })
    }

    fn residual(&self, x: ColRef<'_, f64>) -> Col<f64> {
        &self.a * x - &self.b
    }
}

impl Objective for NormPow4 {
    fn dim(&self) -> usize {
        self.a.ncols()
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        0.25 * self.residual(x).squared_norm_l2().powi(2)
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let u = self.residual(x);
        let s = u.squared_norm_l2();
        g.copy_from(self.a.transpose() * &u * s);
        0.25 * s * s
    }
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let u = self.residual(x);
        let s = u.squared_norm_l2();
        let au = self.a.transpose() * &u;
        let atav = self.a.transpose() * (&self.a * v);
        let d = 2.0 * (au.transpose() * v);
        out.copy_from(atav * s + au * d);
    }
    fn hessian(&self, x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        let u = self.residual(x);
        let s = u.squared_norm_l2();
        let au = self.a.transpose() * &u;
        let ata = self.a.transpose() * &self.a;
        Some(Mat::from_fn(ata.nrows(), ata.ncols(), |i, j| {
            s * ata[(i, j)] + 2.0 * au[i] * au[j]
        }))
    }
}

impl Curvature for NormPow4 {
    /// `GaussNewton`: `‖u‖² AᵀA`; `Fisher`: the rank-one term `2 (Aᵀu)(Aᵀu)ᵀ`
    /// (solved by Sherman–Morrison).
    fn curvature(&self, kind: HessianKind, x: ColRef<'_, f64>) -> Option<HessianModel> {
        let u = self.residual(x);
        match kind {
            HessianKind::GaussNewton => {
                let mut ata = self.a.transpose() * &self.a;
                ata *= linalg_core::faer::Scale(u.squared_norm_l2());
                Some(HessianModel::Dense(ata))
            }
            HessianKind::Fisher => {
                let au = self.a.transpose() * &u * std::f64::consts::SQRT_2;
                let n = au.nrows();
                Some(HessianModel::LowRank {
                    diag: Col::zeros(n),
                    factors: Mat::from_fn(n, 1, |i, _| au[i]),
                })
            }
            HessianKind::Exact => self.hessian(x).map(HessianModel::Dense),
            HessianKind::Diagonal => self.hessian(x).map(|h| crate::curvature::diagonal_of(&h)),
        }
    }
}
