//! Test and benchmark problems with exact gradients and Hessians (each
//! checked against finite differences in the tests), and the Hessian
//! approximations gradient-regularised Newton can use on them.

use linalg_core::Objective;
use linalg_core::faer::{Col, ColMut, ColRef, Mat, MatRef};
use linalg_core::objective::{Quadratic, Rosenbrock};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::{Error, HessianKind, HessianModel, Result};

/// An objective that can also supply approximate Hessians.
pub trait Curvature: Objective {
    /// The Hessian model of `kind` at `x`, or `None` where the problem has no
    /// such approximation. The default gives the exact dense Hessian and its
    /// diagonal from [`Objective::hessian`].
    fn curvature(&self, kind: HessianKind, x: ColRef<'_, f64>) -> Option<HessianModel> {
        match kind {
            HessianKind::Exact => self.hessian(x).map(HessianModel::Dense),
            HessianKind::Diagonal => self
                .hessian(x)
                .map(|h| HessianModel::Diagonal(Col::from_fn(h.nrows(), |i| h[(i, i)]))),
            _ => None,
        }
    }
}

impl Curvature for Rosenbrock {}
impl Curvature for Quadratic {}

fn check_positive(name: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(Error::InvalidParameter {
            name,
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}

fn check_reg(reg: f64) -> Result<()> {
    if !(reg.is_finite() && reg >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "reg",
            reason: format!("must be finite and ≥ 0, got {reg}"),
        });
    }
    Ok(())
}

/// `Aᵀ diag(w) A` for `A` (m × n).
fn weighted_gram(a: MatRef<'_, f64>, w: &[f64]) -> Mat<f64> {
    let wa = Mat::from_fn(a.nrows(), a.ncols(), |i, j| w[i] * a[(i, j)]);
    a.transpose() * wa
}

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
        check_positive("m", m)?;
        check_positive("n", n)?;
        if !(mu.is_finite() && mu > 0.0) {
            return Err(Error::InvalidParameter {
                name: "mu",
                reason: format!("must be finite and > 0, got {mu}"),
            });
        }
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
            HessianKind::Diagonal => self
                .hessian(x)
                .map(|h| HessianModel::Diagonal(Col::from_fn(h.nrows(), |i| h[(i, i)]))),
            HessianKind::Fisher => None,
        }
    }
}

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
        check_positive("m", m)?;
        check_positive("n", n)?;
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
            HessianKind::Diagonal => self
                .hessian(x)
                .map(|h| HessianModel::Diagonal(Col::from_fn(h.nrows(), |i| h[(i, i)]))),
        }
    }
}

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
        if n < 2 {
            return Err(Error::InvalidParameter {
                name: "n",
                reason: format!("needs n ≥ 2, got {n}"),
            });
        }
        if !(p.is_finite() && p >= 2.0) {
            return Err(Error::InvalidParameter {
                name: "p",
                reason: format!("needs a finite p ≥ 2, got {p}"),
            });
        }
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
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let h = self
            .hessian(x)
            .unwrap_or_else(|| Mat::zeros(self.n, self.n));
        out.copy_from(h * v);
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
            HessianKind::Diagonal => self
                .hessian(x)
                .map(|h| HessianModel::Diagonal(Col::from_fn(h.nrows(), |i| h[(i, i)]))),
            HessianKind::Fisher => None,
        }
    }
}

/// Design matrix with a trailing column of ones (the intercept).
fn with_intercept(x: MatRef<'_, f64>) -> Mat<f64> {
    Mat::from_fn(x.nrows(), x.ncols() + 1, |i, j| {
        if j < x.ncols() { x[(i, j)] } else { 1.0 }
    })
}

fn check_data(x: MatRef<'_, f64>, labels: usize) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::InvalidParameter {
            name: "data",
            reason: "empty design matrix".into(),
        });
    }
    if labels != x.nrows() {
        return Err(Error::Core(linalg_core::Error::DimensionMismatch {
            context: "labels",
            expected: x.nrows(),
            found: labels,
        }));
    }
    for j in 0..x.ncols() {
        if let Some(i) = x.col(j).iter().position(|v| !v.is_finite()) {
            return Err(Error::Core(linalg_core::Error::NonFinite {
                context: "design matrix (row-major entry)",
                index: i * x.ncols() + j,
            }));
        }
    }
    Ok(())
}

fn log1pexp(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

fn sigmoid(t: f64) -> f64 {
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
    pub fn new(features: MatRef<'_, f64>, labels: &[f64], reg: f64) -> Result<Self> {
        check_data(features, labels.len())?;
        check_reg(reg)?;
        if let Some(i) = labels.iter().position(|v| *v != 1.0 && *v != -1.0) {
            return Err(Error::InvalidParameter {
                name: "labels",
                reason: format!("binary labels must be ±1, got {} at {i}", labels[i]),
            });
        }
        Ok(Self {
            a: with_intercept(features),
            y: labels.to_vec(),
            reg,
        })
    }

    /// An embedded dataset (`breast_cancer`, or classes 0 vs 1 of `wine`/`iris`),
    /// standardised.
    pub fn from_dataset(name: &str, reg: f64) -> Result<Self> {
        let data = datasets::by_name(name).ok_or_else(|| Error::InvalidParameter {
            name: "dataset",
            reason: format!("unknown dataset `{name}` ({:?})", datasets::NAMES),
        })?;
        let mut data = if data.n_classes() == 2 {
            data
        } else {
            data.binary(0, 1).map_err(|e| Error::InvalidParameter {
                name: "dataset",
                reason: e.to_string(),
            })?
        };
        datasets::standardize(&mut data.features).map_err(|e| Error::InvalidParameter {
            name: "dataset",
            reason: e.to_string(),
        })?;
        let y = data.signed_labels().map_err(|e| Error::InvalidParameter {
            name: "dataset",
            reason: e.to_string(),
        })?;
        let y: Vec<f64> = y.iter().copied().collect();
        Self::new(data.features.as_ref(), &y, reg)
    }

    /// Margins `y_i a_iᵀw`.
    fn margins(&self, w: ColRef<'_, f64>) -> Col<f64> {
        let z = &self.a * w;
        Col::from_fn(z.nrows(), |i| self.y[i] * z[i])
    }

    /// Per-sample curvature weights `σ(t)(1 − σ(t))`.
    fn curvature_weights(&self, w: ColRef<'_, f64>) -> Vec<f64> {
        let t = self.margins(w);
        let m = t.nrows() as f64;
        t.iter()
            .map(|t| {
                let s = sigmoid(*t);
                s * (1.0 - s) / m
            })
            .collect()
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
}

impl Curvature for Logistic {
    /// `GaussNewton` equals the exact Hessian here (a generalised linear
    /// model); `Fisher` is the empirical Fisher `(1/m) Σ g_i g_iᵀ + λI` with
    /// per-sample gradients `g_i` (rank ≤ m, a low-rank model when m < d).
    fn curvature(&self, kind: HessianKind, w: ColRef<'_, f64>) -> Option<HessianModel> {
        match kind {
            HessianKind::Exact | HessianKind::GaussNewton => {
                self.hessian(w).map(HessianModel::Dense)
            }
            HessianKind::Diagonal => {
                let wts = self.curvature_weights(w);
                let d = self.a.ncols();
                Some(HessianModel::Diagonal(Col::from_fn(d, |j| {
                    self.reg
                        + (0..wts.len())
                            .map(|i| wts[i] * self.a[(i, j)] * self.a[(i, j)])
                            .sum::<f64>()
                })))
            }
            HessianKind::Fisher => {
                let t = self.margins(w);
                let m = t.nrows() as f64;
                // g_i = −y_i σ(−t_i) a_i; (1/m) Σ g_i g_iᵀ = Aᵀ diag(σ(−t_i)²/m) A.
                let wts: Vec<f64> = t.iter().map(|t| sigmoid(-t).powi(2) / m).collect();
                let mut h = weighted_gram(self.a.as_ref(), &wts);
                for i in 0..h.nrows() {
                    h[(i, i)] += self.reg;
                }
                Some(HessianModel::Dense(h))
            }
        }
    }
}

/// Multinomial (softmax) regression with ℓ2 regularisation over `K` classes:
/// parameters `W` (d+1 × K, column-major in `x`, intercept row last),
/// `f(W) = (1/m) Σ_i [LSE(Wᵀa_i) − w_{y_i}ᵀa_i] + (λ/2)‖W‖²`.
#[derive(Debug, Clone)]
pub struct Softmax {
    a: Mat<f64>,
    labels: Vec<usize>,
    classes: usize,
    reg: f64,
}

impl Softmax {
    /// From features (m × d), class labels `< classes` and `λ ≥ 0`.
    pub fn new(
        features: MatRef<'_, f64>,
        labels: &[usize],
        classes: usize,
        reg: f64,
    ) -> Result<Self> {
        check_data(features, labels.len())?;
        check_reg(reg)?;
        if classes < 2 {
            return Err(Error::InvalidParameter {
                name: "classes",
                reason: format!("need at least 2 classes, got {classes}"),
            });
        }
        if let Some(i) = labels.iter().position(|l| *l >= classes) {
            return Err(Error::InvalidParameter {
                name: "labels",
                reason: format!("label {} at {i} is not below {classes}", labels[i]),
            });
        }
        Ok(Self {
            a: with_intercept(features),
            labels: labels.to_vec(),
            classes,
            reg,
        })
    }

    /// An embedded dataset (`digits`, `wine`, `iris`, …), standardised.
    pub fn from_dataset(name: &str, reg: f64) -> Result<Self> {
        let mut data = datasets::by_name(name).ok_or_else(|| Error::InvalidParameter {
            name: "dataset",
            reason: format!("unknown dataset `{name}` ({:?})", datasets::NAMES),
        })?;
        datasets::standardize(&mut data.features).map_err(|e| Error::InvalidParameter {
            name: "dataset",
            reason: e.to_string(),
        })?;
        Self::new(data.features.as_ref(), &data.labels, data.n_classes(), reg)
    }

    fn params(&self, x: ColRef<'_, f64>) -> Mat<f64> {
        let d = self.a.ncols();
        Mat::from_fn(d, self.classes, |i, k| x[k * d + i])
    }

    /// Class probabilities (m × K) and `f`.
    fn probs(&self, x: ColRef<'_, f64>) -> (Mat<f64>, f64) {
        let w = self.params(x);
        let mut z = &self.a * &w;
        let m = z.nrows();
        let mut loss = 0.0;
        for i in 0..m {
            let mx = (0..self.classes).fold(f64::NEG_INFINITY, |a, k| a.max(z[(i, k)]));
            let s: f64 = (0..self.classes).map(|k| (z[(i, k)] - mx).exp()).sum();
            loss += mx + s.ln() - z[(i, self.labels[i])];
            for k in 0..self.classes {
                z[(i, k)] = (z[(i, k)] - mx).exp() / s;
            }
        }
        (z, loss / m as f64 + 0.5 * self.reg * x.squared_norm_l2())
    }
}

impl Objective for Softmax {
    fn dim(&self) -> usize {
        self.a.ncols() * self.classes
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        self.probs(x).1
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let (mut p, f) = self.probs(x);
        let m = p.nrows() as f64;
        for (i, &l) in self.labels.iter().enumerate() {
            p[(i, l)] -= 1.0;
        }
        let gw = self.a.transpose() * p * linalg_core::faer::Scale(1.0 / m);
        let d = self.a.ncols();
        for k in 0..self.classes {
            for i in 0..d {
                g[k * d + i] = gw[(i, k)] + self.reg * x[k * d + i];
            }
        }
        f
    }
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (p, _) = self.probs(x);
        let m = p.nrows();
        let d = self.a.ncols();
        let av = &self.a * self.params(v);
        // (H v) = (1/m) Aᵀ [P ∘ (AV − rowdot(P, AV))] + λ v.
        let mut t = Mat::<f64>::zeros(m, self.classes);
        for i in 0..m {
            let mean: f64 = (0..self.classes).map(|k| p[(i, k)] * av[(i, k)]).sum();
            for k in 0..self.classes {
                t[(i, k)] = p[(i, k)] * (av[(i, k)] - mean) / m as f64;
            }
        }
        let hv = self.a.transpose() * t;
        for k in 0..self.classes {
            for i in 0..d {
                out[k * d + i] = hv[(i, k)] + self.reg * v[k * d + i];
            }
        }
    }
    fn hessian(&self, x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        let (p, _) = self.probs(x);
        let m = p.nrows();
        let d = self.a.ncols();
        let kk = self.classes;
        let mut h = Mat::<f64>::zeros(d * kk, d * kk);
        // Block (k, l) = (1/m) Aᵀ diag(p_k (δ_kl − p_l)) A.
        for k in 0..kk {
            for l in k..kk {
                let w: Vec<f64> = (0..m)
                    .map(|i| {
                        let delta = if k == l { 1.0 } else { 0.0 };
                        p[(i, k)] * (delta - p[(i, l)]) / m as f64
                    })
                    .collect();
                let b = weighted_gram(self.a.as_ref(), &w);
                for j in 0..d {
                    for i in 0..d {
                        h[(k * d + i, l * d + j)] = b[(i, j)];
                        h[(l * d + j, k * d + i)] = b[(i, j)];
                    }
                }
            }
        }
        for i in 0..d * kk {
            h[(i, i)] += self.reg;
        }
        Some(h)
    }
}

impl Curvature for Softmax {
    /// `Diagonal` is formed directly, `(1/m) Σ_i p_ik (1 − p_ik) a_ij² + λ`,
    /// without the dense Hessian; `Exact` is the dense Hessian.
    fn curvature(&self, kind: HessianKind, x: ColRef<'_, f64>) -> Option<HessianModel> {
        match kind {
            HessianKind::Exact => self.hessian(x).map(HessianModel::Dense),
            HessianKind::Diagonal => {
                let (p, _) = self.probs(x);
                let (m, d) = (p.nrows(), self.a.ncols());
                let mut diag = Col::from_fn(d * self.classes, |_| self.reg);
                for k in 0..self.classes {
                    for i in 0..m {
                        let w = p[(i, k)] * (1.0 - p[(i, k)]) / m as f64;
                        for j in 0..d {
                            diag[k * d + j] += w * self.a[(i, j)] * self.a[(i, j)];
                        }
                    }
                }
                Some(HessianModel::Diagonal(diag))
            }
            _ => None,
        }
    }
}

/// The diffGrad paper's one-dimensional test functions (eqs. 24–26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperFunction {
    /// `F1`: `(x + 0.3)²` for `x ≤ 0`, `(x − 0.2)² + 0.05` otherwise; global
    /// minimum at −0.3, local at 0.2.
    F1,
    /// `F2`: `−40x − 35.15` for `x ≤ −0.9`, `x³ + x sin 8x + 0.85` otherwise.
    F2,
    /// `F3`: piecewise, global minimum at 0, local minima at ±0.5.
    F3,
}

impl Objective for PaperFunction {
    fn dim(&self) -> usize {
        1
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        let x = x[0];
        match self {
            Self::F1 => {
                if x <= 0.0 {
                    (x + 0.3).powi(2)
                } else {
                    (x - 0.2).powi(2) + 0.05
                }
            }
            Self::F2 => {
                if x <= -0.9 {
                    -40.0 * x - 35.15
                } else {
                    x.powi(3) + x * (8.0 * x).sin() + 0.85
                }
            }
            Self::F3 => match x {
                x if x <= -0.5 => x * x,
                x if x <= -0.4 => 0.75 + x,
                x if x <= 0.0 => -7.0 * x / 8.0,
                x if x <= 0.4 => 7.0 * x / 8.0,
                x if x <= 0.5 => 0.75 - x,
                x => x * x,
            },
        }
    }
    fn gradient(&self, xc: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let x = xc[0];
        g[0] = match self {
            Self::F1 => {
                if x <= 0.0 {
                    2.0 * (x + 0.3)
                } else {
                    2.0 * (x - 0.2)
                }
            }
            Self::F2 => {
                if x <= -0.9 {
                    -40.0
                } else {
                    3.0 * x * x + (8.0 * x).sin() + 8.0 * x * (8.0 * x).cos()
                }
            }
            Self::F3 => match x {
                x if x <= -0.5 => 2.0 * x,
                x if x <= -0.4 => 1.0,
                x if x <= 0.0 => -7.0 / 8.0,
                x if x <= 0.4 => 7.0 / 8.0,
                x if x <= 0.5 => -1.0,
                x => 2.0 * x,
            },
        };
        self.value(xc)
    }
}

impl Curvature for PaperFunction {}
