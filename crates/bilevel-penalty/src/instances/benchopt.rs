//! The benchopt-shaped stochastic quadratic (benchopt/benchmark_bilevel,
//! `datasets/simulated.py` with `benchmark_utils/gen_matrices.py`, HEAD
//! 3ad65dc): both levels are means of rank-one quadratics over samples,
//!
//! ```text
//! g(x, z) = (1/n) Σᵢ ½(aᵢᵀz)² + ½(bᵢᵀx)² + (pᵢᵀx)(qᵢᵀz) + cᵢᵀz + dᵢᵀx
//! f(x, z) = (1/m) Σⱼ (the same form with the upper-level samples)
//! ```
//!
//! with `aᵢ = A uᵢ` (`E[a aᵀ] = A²` has spectrum log-spaced in `[μ, L]`),
//! `bᵢ` alike with one zero eigenvalue, `pᵢ = U D wᵢ`, `qᵢ = V wᵢ`
//! (`E[p qᵀ] = U D Vᵀ`, singular values log-spaced in `[μ, L_cross]`) and
//! standard normal `uᵢ, wᵢ, cᵢ, dᵢ`. The generator redraws (up to 20 times,
//! as benchopt does) until the Hessian of the value function is positive
//! definite, so `ψ` has one minimiser and `ψ*` is known in closed form.
//!
//! Differences from benchopt: the random numbers come from `StdRng`, not
//! JAX's PRNG (the same distributions, other draws); the random orthogonal
//! factors are Haar (QR of a Gaussian) instead of the `U` of a rank-one SVD.

use linalg_core::faer::linalg::solvers::Solve;
use linalg_core::faer::{Col, ColMut, ColRef, Mat, MatRef, Side};
use linalg_core::param::{at_least, positive};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use crate::problem::{BilevelProblem, StochasticBilevel};
use crate::{Error, Result};

/// The sizes and spectra of [`StochasticQuadratic`] (benchopt's names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticQuadraticConfig {
    /// Lower-variable dimension (benchopt `dim_inner`, default 100).
    pub dim_inner: usize,
    /// Upper-variable dimension (`dim_outer`, default 10).
    pub dim_outer: usize,
    /// Lower-level samples (`n_samples_inner`, default 32 768).
    pub n_inner: usize,
    /// Upper-level samples (`n_samples_outer`, default 1 024).
    pub n_outer: usize,
    /// Smallest eigenvalue of the mean Hessians (`mu_inner`, default 0.1).
    pub mu: f64,
    /// Largest eigenvalue of the Hessians (`L_inner_inner` = … = 1).
    pub l: f64,
    /// Largest singular value of the lower-level cross term (`L_cross_inner`, 0.1).
    pub l_cross_inner: f64,
    /// Largest singular value of the upper-level cross term (`L_cross_outer`, 0.1).
    pub l_cross_outer: f64,
}

impl Default for StochasticQuadraticConfig {
    fn default() -> Self {
        Self {
            dim_inner: 100,
            dim_outer: 10,
            n_inner: 32_768,
            n_outer: 1_024,
            mu: 0.1,
            l: 1.0,
            l_cross_inner: 0.1,
            l_cross_outer: 0.1,
        }
    }
}

impl StochasticQuadraticConfig {
    /// Rejects zero sizes, sizes above 10⁸ stored numbers, and spectra that
    /// are not `0 < μ ≤ L`.
    pub fn validate(&self) -> Result<()> {
        at_least("dim_inner", self.dim_inner, 1)?;
        at_least("dim_outer", self.dim_outer, 2)?;
        at_least("n_inner", self.n_inner, 1)?;
        at_least("n_outer", self.n_outer, 1)?;
        let per = 2 * (self.dim_inner + self.dim_outer) + self.dim_inner + self.dim_outer;
        let total = (self.n_inner.saturating_add(self.n_outer)).saturating_mul(per);
        if total > 100_000_000 {
            return Err(linalg_core::ParamError::new(
                "n_inner",
                format!("the samples would hold {total} numbers (at most 1e8)"),
            )
            .into());
        }
        positive("mu", self.mu)?;
        linalg_core::param::in_range("l", self.l, self.mu, f64::MAX)?;
        linalg_core::param::in_range("l_cross_inner", self.l_cross_inner, self.mu, f64::MAX)?;
        linalg_core::param::in_range("l_cross_outer", self.l_cross_outer, self.mu, f64::MAX)?;
        Ok(())
    }
}

/// One level's samples (row-major, one sample per row of each block) and
/// their means.
#[derive(Debug, Clone)]
struct Level {
    n: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    p: Vec<f64>,
    q: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
    /// `mean aaᵀ` (`dz × dz`), `mean bbᵀ` (`dx × dx`), `mean pqᵀ` (`dx × dz`).
    hzz: Mat<f64>,
    hxx: Mat<f64>,
    cross: Mat<f64>,
    cz: Col<f64>,
    dx: Col<f64>,
}

fn normal(rng: &mut StdRng) -> f64 {
    StandardNormal.sample(rng)
}

fn orthogonal(n: usize, rng: &mut StdRng) -> Mat<f64> {
    let g = Mat::from_fn(n, n, |_, _| normal(rng));
    g.qr().compute_Q()
}

fn logspace(lo: f64, hi: f64, k: usize) -> Vec<f64> {
    if k == 1 {
        return vec![lo];
    }
    (0..k)
        .map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (k - 1) as f64).exp())
        .collect()
}

/// `U diag(s) Uᵀ`.
fn sym(u: &Mat<f64>, s: &[f64]) -> Mat<f64> {
    let n = u.nrows();
    let us = Mat::from_fn(n, n, |i, j| u[(i, j)] * s[j]);
    &us * u.transpose()
}

impl Level {
    fn generate(
        n: usize,
        dz: usize,
        dx: usize,
        l: f64,
        l_cross: f64,
        mu: f64,
        rng: &mut StdRng,
    ) -> Self {
        // Square roots of the spectra, as benchopt builds H^{1/2}.
        let az = sym(&orthogonal(dz, rng), &logspace(mu.sqrt(), l.sqrt(), dz));
        let mut sx = vec![0.0];
        sx.extend(logspace(mu.sqrt(), l.sqrt(), dx - 1));
        let ax = sym(&orthogonal(dx, rng), &sx);
        let u = orthogonal(dx, rng);
        let v = orthogonal(dz, rng);
        let k = dx.min(dz);
        let sc = logspace(mu, l_cross, k);
        let mut lv = Level {
            n,
            a: vec![0.0; n * dz],
            b: vec![0.0; n * dx],
            p: vec![0.0; n * dx],
            q: vec![0.0; n * dz],
            c: vec![0.0; n * dz],
            d: vec![0.0; n * dx],
            hzz: Mat::zeros(dz, dz),
            hxx: Mat::zeros(dx, dx),
            cross: Mat::zeros(dx, dz),
            cz: Col::zeros(dz),
            dx: Col::zeros(dx),
        };
        let mut uz = Col::<f64>::zeros(dz);
        let mut ux = Col::<f64>::zeros(dx);
        for i in 0..n {
            uz.iter_mut().for_each(|v| *v = normal(rng));
            let ai = &az * &uz;
            ux.iter_mut().for_each(|v| *v = normal(rng));
            let bi = &ax * &ux;
            uz.iter_mut().for_each(|v| *v = normal(rng));
            // p = U D w (D is dx × dz with the singular values on its diagonal), q = V w.
            let dw = Col::from_fn(dx, |r| if r < k { sc[r] * uz[r] } else { 0.0 });
            let pi = &u * &dw;
            let qi = &v * &uz;
            for j in 0..dz {
                lv.a[i * dz + j] = ai[j];
                lv.q[i * dz + j] = qi[j];
                lv.c[i * dz + j] = normal(rng);
            }
            for j in 0..dx {
                lv.b[i * dx + j] = bi[j];
                lv.p[i * dx + j] = pi[j];
                lv.d[i * dx + j] = normal(rng);
            }
        }
        let rows = |v: &[f64], d: usize| MatRef::from_row_major_slice(v, n, d).to_owned();
        let (am, bm, pm, qm) = (
            rows(&lv.a, dz),
            rows(&lv.b, dx),
            rows(&lv.p, dx),
            rows(&lv.q, dz),
        );
        let inv = 1.0 / n as f64;
        lv.hzz = am.transpose() * &am * inv;
        lv.hxx = bm.transpose() * &bm * inv;
        lv.cross = pm.transpose() * &qm * inv;
        lv.cz = Col::from_fn(dz, |j| (0..n).map(|i| lv.c[i * dz + j]).sum::<f64>() * inv);
        lv.dx = Col::from_fn(dx, |j| (0..n).map(|i| lv.d[i * dx + j]).sum::<f64>() * inv);
        lv
    }

    fn dims(&self) -> (usize, usize) {
        (self.dx.nrows(), self.cz.nrows())
    }

    fn value(&self, x: ColRef<'_, f64>, z: ColRef<'_, f64>) -> f64 {
        let hz = &self.hzz * z;
        let hx = &self.hxx * x;
        let cz = &self.cross * z;
        0.5 * (z.transpose() * &hz)
            + 0.5 * (x.transpose() * &hx)
            + x.transpose() * &cz
            + self.cz.transpose() * z
            + self.dx.transpose() * x
    }

    /// Full gradients from the means.
    fn grad_z(&self, x: ColRef<'_, f64>, z: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let g = &self.hzz * z + self.cross.transpose() * x + &self.cz;
        out.copy_from(&g);
    }

    fn grad_x(&self, x: ColRef<'_, f64>, z: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let g = &self.hxx * x + &self.cross * z + &self.dx;
        out.copy_from(&g);
    }

    /// `mean_{i ∈ batch} aᵢ(aᵢᵀz) + qᵢ(pᵢᵀx) + cᵢ`.
    fn batch_grad_z(
        &self,
        x: ColRef<'_, f64>,
        z: ColRef<'_, f64>,
        batch: &[usize],
        mut out: ColMut<'_, f64>,
    ) {
        let (dx, dz) = self.dims();
        out.fill(0.0);
        for &i in batch.iter().filter(|&&i| i < self.n) {
            let a = &self.a[i * dz..(i + 1) * dz];
            let q = &self.q[i * dz..(i + 1) * dz];
            let c = &self.c[i * dz..(i + 1) * dz];
            let p = &self.p[i * dx..(i + 1) * dx];
            let az: f64 = a.iter().zip(z.iter()).map(|(a, z)| a * z).sum();
            let px: f64 = p.iter().zip(x.iter()).map(|(p, x)| p * x).sum();
            for j in 0..dz {
                out[j] += a[j] * az + q[j] * px + c[j];
            }
        }
        out *= 1.0 / batch.len().max(1) as f64;
    }

    /// `mean_{i ∈ batch} bᵢ(bᵢᵀx) + pᵢ(qᵢᵀz) + dᵢ`.
    fn batch_grad_x(
        &self,
        x: ColRef<'_, f64>,
        z: ColRef<'_, f64>,
        batch: &[usize],
        mut out: ColMut<'_, f64>,
    ) {
        let (dx, dz) = self.dims();
        out.fill(0.0);
        for &i in batch.iter().filter(|&&i| i < self.n) {
            let b = &self.b[i * dx..(i + 1) * dx];
            let p = &self.p[i * dx..(i + 1) * dx];
            let d = &self.d[i * dx..(i + 1) * dx];
            let q = &self.q[i * dz..(i + 1) * dz];
            let bx: f64 = b.iter().zip(x.iter()).map(|(b, x)| b * x).sum();
            let qz: f64 = q.iter().zip(z.iter()).map(|(q, z)| q * z).sum();
            for j in 0..dx {
                out[j] += b[j] * bx + p[j] * qz + d[j];
            }
        }
        out *= 1.0 / batch.len().max(1) as f64;
    }
}

/// The benchopt-shaped stochastic quadratic (see the module docs), with the
/// value function `ψ(x) = ½xᵀQx + rᵀx + s` in closed form.
#[derive(Debug, Clone)]
pub struct StochasticQuadratic {
    inner: Level,
    outer: Level,
    q: Mat<f64>,
    r: Col<f64>,
    s: f64,
    x_star: Col<f64>,
    psi_star: f64,
}

impl StochasticQuadratic {
    /// Generates the problem from `seed` (at most 20 draws until the value
    /// function is strongly convex).
    pub fn new(config: &StochasticQuadraticConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let c = config;
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..20 {
            let inner = Level::generate(
                c.n_inner,
                c.dim_inner,
                c.dim_outer,
                c.l,
                c.l_cross_inner,
                c.mu,
                &mut rng,
            );
            let outer = Level::generate(
                c.n_outer,
                c.dim_inner,
                c.dim_outer,
                c.l,
                c.l_cross_outer,
                c.mu,
                &mut rng,
            );
            if let Some(p) = Self::assemble(inner, outer) {
                return Ok(p);
            }
        }
        Err(Error::Stalled {
            what: "generating a strongly convex value function (20 draws)",
            iteration: 0,
        })
    }

    /// `z*(x) = z₀ + Jx` with `J = −H⁻¹Cᵀ`, `z₀ = −H⁻¹c`, and
    /// `ψ(x) = f(x, z*(x))`; `None` when `∇²ψ` is not positive definite.
    fn assemble(inner: Level, outer: Level) -> Option<Self> {
        let llt = inner.hzz.llt(Side::Lower).ok()?;
        let j = -llt.solve(inner.cross.transpose());
        let z0 = -llt.solve(&inner.cz);
        let fc_j = &outer.cross * &j;
        let mut q = j.transpose() * &outer.hzz * &j + &outer.hxx + &fc_j + fc_j.transpose();
        let qs = Mat::from_fn(q.nrows(), q.ncols(), |a, b| 0.5 * (q[(a, b)] + q[(b, a)]));
        q = qs;
        let min_eig = q
            .self_adjoint_eigenvalues(Side::Lower)
            .ok()?
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        if min_eig < 1e-12 {
            return None;
        }
        let fz0 = &outer.hzz * &z0;
        let r = j.transpose() * &fz0 + &outer.cross * &z0 + j.transpose() * &outer.cz + &outer.dx;
        let s = 0.5 * (z0.transpose() * &fz0) + outer.cz.transpose() * &z0;
        let x_star = -q.llt(Side::Lower).ok()?.solve(&r);
        let psi_star = s + 0.5 * (r.transpose() * &x_star);
        Some(Self {
            inner,
            outer,
            q,
            r,
            s,
            x_star,
            psi_star,
        })
    }

    /// `ψ(x)` in closed form.
    pub fn psi(&self, x: ColRef<'_, f64>) -> f64 {
        let qx = &self.q * x;
        0.5 * (x.transpose() * &qx) + self.r.transpose() * x + self.s
    }

    /// The minimiser of `ψ`.
    pub fn x_star(&self) -> ColRef<'_, f64> {
        self.x_star.as_ref()
    }

    /// `ψ* = min ψ`.
    pub fn psi_star(&self) -> f64 {
        self.psi_star
    }

    /// benchopt's starting point: `x₀ = −2·1`, `z₀ = 0`.
    pub fn benchopt_start(&self) -> (Col<f64>, Col<f64>) {
        let (nx, ny) = self.dims();
        (Col::from_fn(nx, |_| -2.0), Col::zeros(ny))
    }
}

impl BilevelProblem for StochasticQuadratic {
    fn dims(&self) -> (usize, usize) {
        self.inner.dims()
    }
    fn f(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        self.outer.value(x, y)
    }
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        self.inner.value(x, y)
    }
    fn f_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.outer.grad_x(x, y, out)
    }
    fn f_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.outer.grad_z(x, y, out)
    }
    fn g_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.inner.grad_x(x, y, out)
    }
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.inner.grad_z(x, y, out)
    }
    fn g_hvp_yy(
        &self,
        _x: ColRef<'_, f64>,
        _y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) {
        out.copy_from(&self.inner.hzz * v);
    }
    fn g_hvp_xy(
        &self,
        _x: ColRef<'_, f64>,
        _y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) {
        out.copy_from(&self.inner.cross * v);
    }
    fn psi_exact(&self, x: ColRef<'_, f64>) -> Option<f64> {
        Some(self.psi(x))
    }
}

impl StochasticBilevel for StochasticQuadratic {
    fn n_samples(&self) -> (usize, usize) {
        (self.outer.n, self.inner.n)
    }
    fn f_grad_x_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    ) {
        self.outer.batch_grad_x(x, y, batch, out)
    }
    fn f_grad_y_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    ) {
        self.outer.batch_grad_z(x, y, batch, out)
    }
    fn g_grad_x_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    ) {
        self.inner.batch_grad_x(x, y, batch, out)
    }
    fn g_grad_y_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    ) {
        self.inner.batch_grad_z(x, y, batch, out)
    }
}
