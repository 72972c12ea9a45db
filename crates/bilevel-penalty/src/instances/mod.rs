//! Bilevel problems with known solutions (the paper has no experiments, so
//! these are the references; see `docs/bilevel-penalty.md`).

use linalg_core::faer::{Col, ColMut, ColRef, Mat};
use linalg_core::param::at_least;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::Result;

mod benchopt;
mod protocol;
mod regsel;
use crate::problem::{BilevelProblem, Constraint};
pub use benchopt::{StochasticQuadratic, StochasticQuadraticConfig};
pub use protocol::{CleaningProtocol, CleaningSplit, Detection, RegSplit};
pub use regsel::{LOG_REG_RANGE, RegSelection};

/// The closed-form quadratic `f = ½‖y − b‖² + (λ/2)‖x‖²`, `g = ½‖y − Ax‖²`
/// (`A` is `n_y × n_x`, `Y = ℝ^{n_y}`): `y_σ = (σb + Ax)/(1 + σ)` and
/// `ψ_σ(x) = ½‖Ax − b‖²/(1 + σ) + (λ/2)‖x‖²`, `ψ = ψ_0`, so
/// `ψ − ψ_σ = ½‖Ax − b‖² σ/(1 + σ)` exactly.
#[derive(Debug, Clone)]
pub struct Quadratic {
    a: Mat<f64>,
    b: Col<f64>,
    lambda: f64,
    y_set: Constraint,
}

impl Quadratic {
    /// `A, b` with entries uniform in `[−1, 1]` (seeded), regularisation `λ ≥ 0`.
    pub fn random(nx: usize, ny: usize, lambda: f64, seed: u64) -> Result<Self> {
        at_least("nx", nx, 1)?;
        at_least("ny", ny, 1)?;
        linalg_core::param::nonnegative("lambda", lambda)?;
        linalg_core::budget::check(
            format!("a {ny} × {nx} quadratic bilevel problem"),
            linalg_core::budget::Bytes::matrix::<f64>(ny, nx),
        )?;
        let mut rng = StdRng::seed_from_u64(seed);
        let a = Mat::from_fn(ny, nx, |_, _| rng.random_range(-1.0..1.0));
        let b = Col::from_fn(ny, |_| rng.random_range(-1.0..1.0));
        Ok(Self {
            a,
            b,
            lambda,
            y_set: Constraint::Free,
        })
    }

    /// The same problem with a constrained lower level `y ∈ Y` (a box, say:
    /// then `y_σ` and `z` are the clipped unconstrained minimisers, and the
    /// closed forms below no longer apply).
    pub fn with_y_set(mut self, y_set: Constraint) -> Self {
        self.y_set = y_set;
        self
    }

    /// `A` (`n_y × n_x`).
    pub fn a(&self) -> linalg_core::faer::MatRef<'_, f64> {
        self.a.as_ref()
    }

    /// `b`.
    pub fn b(&self) -> ColRef<'_, f64> {
        self.b.as_ref()
    }

    /// `λ`.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The closed form `ψ_σ(x)` for `Y = ℝ^{n_y}` (`σ = 0` gives `ψ`).
    pub fn psi_sigma(&self, x: ColRef<'_, f64>, sigma: f64) -> f64 {
        let r = &self.a * x - &self.b;
        0.5 * r.squared_norm_l2() / (1.0 + sigma) + 0.5 * self.lambda * x.squared_norm_l2()
    }

    /// The closed form `∇ψ_σ(x) = Aᵀ(Ax − b)/(1 + σ) + λx`.
    pub fn grad_psi_sigma(&self, x: ColRef<'_, f64>, sigma: f64) -> Col<f64> {
        let r = &self.a * x - &self.b;
        self.a.transpose() * r * (1.0 / (1.0 + sigma)) + x * self.lambda
    }

    /// The minimiser of `ψ_σ`: `(AᵀA/(1 + σ) + λI) x = Aᵀb/(1 + σ)` (dense solve).
    pub fn argmin_psi_sigma(&self, sigma: f64) -> Col<f64> {
        use linalg_core::faer::linalg::solvers::Solve;
        let c = 1.0 / (1.0 + sigma);
        let mut h = self.a.transpose() * &self.a * c;
        for i in 0..h.nrows() {
            h[(i, i)] += self.lambda;
        }
        let rhs = self.a.transpose() * &self.b * c;
        h.llt(linalg_core::faer::Side::Lower)
            .map(|l| l.solve(&rhs))
            .unwrap_or_else(|_| Col::zeros(rhs.nrows()))
    }
}

impl BilevelProblem for Quadratic {
    fn dims(&self) -> (usize, usize) {
        (self.a.ncols(), self.a.nrows())
    }
    fn f(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        0.5 * (y - &self.b).squared_norm_l2() + 0.5 * self.lambda * x.squared_norm_l2()
    }
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        0.5 * (y - &self.a * x).squared_norm_l2()
    }
    fn f_grad_x(&self, x: ColRef<'_, f64>, _y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.copy_from(x * self.lambda);
    }
    fn f_grad_y(&self, _x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.copy_from(y - &self.b);
    }
    fn g_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.copy_from(self.a.transpose() * (&self.a * x - y));
    }
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.copy_from(y - &self.a * x);
    }
    fn g_hvp_yy(
        &self,
        _x: ColRef<'_, f64>,
        _y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) {
        out.copy_from(v);
    }
    fn g_hvp_xy(
        &self,
        _x: ColRef<'_, f64>,
        _y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) {
        out.copy_from(-(self.a.transpose() * v));
    }
    fn y_set(&self) -> &Constraint {
        &self.y_set
    }
}

/// BOME's toy with a non-unique lower level (Liu et al. 2022, `toy_lls.py`):
/// `y ∈ ℝ²`, `x ∈ ℝ`, `g = ½y₀² − x y₀` (solution set `{y₀ = x, y₁ free}`),
/// `f = ½(x − y₁)² + ½(y₀ − 1)²`; `ψ(x) = ½(x − 1)²`, optimum `x* = 1`,
/// `y* = (1, 1)`, `ψ* = 0`; `ψ_σ(x) = ½(x − 1)²/(1 + σ)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BomeToy;

impl BilevelProblem for BomeToy {
    fn dims(&self) -> (usize, usize) {
        (1, 2)
    }
    fn f(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        0.5 * (x[0] - y[1]).powi(2) + 0.5 * (y[0] - 1.0).powi(2)
    }
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        0.5 * y[0] * y[0] - x[0] * y[0]
    }
    fn f_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out[0] = x[0] - y[1];
    }
    fn f_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out[0] = y[0] - 1.0;
        out[1] = y[1] - x[0];
    }
    fn g_grad_x(&self, _x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out[0] = -y[0];
    }
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out[0] = y[0] - x[0];
        out[1] = 0.0;
    }
}

/// Shen and Chen's toy with a nonconvex (PL) lower level (ICML 2023,
/// `penalized-bilevel-gradient-descent`): `g = (x + y)² + x sin²(x + y)`
/// (so `y*(x) = −x`), `f = cos(4y + 2)/(1 + e^{2 − 4x}) + ½ ln((4x − 2)² + 1)`,
/// `X = [0, 3]`. `ψ(x) = f(x, −x)` has its global minimum at `x ≈ 1.215145`
/// (`ψ ≈ 0.199911`) and local minima at `x ≈ 0.3824` and `x ≈ 2.8296`.
#[derive(Debug, Clone)]
pub struct ShenChen {
    x_set: Constraint,
}

impl Default for ShenChen {
    fn default() -> Self {
        Self {
            x_set: Constraint::Box {
                lo: vec![0.0],
                hi: vec![3.0],
            },
        }
    }
}

impl ShenChen {
    /// `ψ(x) = f(x, −x)` (the lower-level solution is unique).
    pub fn psi(&self, x: f64) -> f64 {
        let xc = Col::from_fn(1, |_| x);
        let yc = Col::from_fn(1, |_| -x);
        self.f(xc.as_ref(), yc.as_ref())
    }
}

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

impl BilevelProblem for ShenChen {
    fn dims(&self) -> (usize, usize) {
        (1, 1)
    }
    fn f(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        let (x, y) = (x[0], y[0]);
        (4.0 * y + 2.0).cos() * sigmoid(4.0 * x - 2.0) + 0.5 * ((4.0 * x - 2.0).powi(2) + 1.0).ln()
    }
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        let (x, y) = (x[0], y[0]);
        (x + y).powi(2) + x * (x + y).sin().powi(2)
    }
    fn f_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (x, y) = (x[0], y[0]);
        let s = sigmoid(4.0 * x - 2.0);
        let u = 4.0 * x - 2.0;
        out[0] = (4.0 * y + 2.0).cos() * 4.0 * s * (1.0 - s) + 4.0 * u / (u * u + 1.0);
    }
    fn f_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (x, y) = (x[0], y[0]);
        out[0] = -4.0 * (4.0 * y + 2.0).sin() * sigmoid(4.0 * x - 2.0);
    }
    fn g_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (x, y) = (x[0], y[0]);
        out[0] = 2.0 * (x + y) + (x + y).sin().powi(2) + x * (2.0 * (x + y)).sin();
    }
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (x, y) = (x[0], y[0]);
        out[0] = 2.0 * (x + y) + x * (2.0 * (x + y)).sin();
    }
    fn x_set(&self) -> &Constraint {
        &self.x_set
    }
}

/// Data hyper-cleaning (Franceschi et al. 2017; the benchmark of F2SA,
/// BOME and benchopt): a per-sample weight `sigmoid(x_i)` on every training
/// sample of a softmax regression (the lower level), chosen so that the
/// model fits a small clean validation set (the upper level). Corrupted
/// training labels should end with low weights.
///
/// `g(x, W) = (1/n) Σ_i sigmoid(x_i) ℓ_i(W) + (reg/2)‖W‖²` on the training
/// set, `f(x, W) = (1/m) Σ_j ℓ_j(W)` on the validation set, `ℓ` the
/// multinomial logistic loss with an intercept; `W` is `(d + 1) × K`,
/// column-major in `y` (as `linalg_core::objective::Softmax`).
#[derive(Debug, Clone)]
pub struct HyperCleaning {
    train: Mat<f64>,
    train_labels: Vec<usize>,
    val: Mat<f64>,
    val_labels: Vec<usize>,
    classes: usize,
    reg: f64,
}

/// Per-sample softmax cross-entropy losses `ℓ_i(W)` of the rows of `a` and
/// the probabilities (rows); `W` is stored class-major (`w[k·d + j]`).
pub(crate) fn softmax_losses(
    a: linalg_core::faer::MatRef<'_, f64>,
    labels: &[usize],
    classes: usize,
    w: ColRef<'_, f64>,
) -> (Vec<f64>, Mat<f64>) {
    let d = a.ncols();
    let wm = Mat::from_fn(d, classes, |i, k| w[k * d + i]);
    let mut z = a * &wm;
    // exp/ln below: clear the AVX state faer's product may leave (linalg_core::simd).
    linalg_core::simd::zero_upper();
    let mut loss = vec![0.0; a.nrows()];
    for i in 0..a.nrows() {
        let mx = (0..classes).fold(f64::NEG_INFINITY, |m, k| m.max(z[(i, k)]));
        let target = z[(i, labels[i])];
        // One exp per score; scores 50 below the maximum contribute less
        // than e⁻⁵⁰ to a sum ≥ 1, and their exp would underflow towards
        // denormals, which libm computes two orders of magnitude slower
        // (measured: 300 µs instead of 20 µs per gradient on breast cancer).
        let mut s = 0.0;
        for k in 0..classes {
            let d = z[(i, k)] - mx;
            let e = if d < -50.0 { 0.0 } else { d.exp() };
            z[(i, k)] = e;
            s += e;
        }
        loss[i] = mx + s.ln() - target;
        let inv = 1.0 / s;
        for k in 0..classes {
            z[(i, k)] *= inv;
        }
    }
    (loss, z)
}

/// `Aᵀ diag(c) (P − Y)` as a `W`-shaped gradient into `out`.
pub(crate) fn softmax_back(
    a: linalg_core::faer::MatRef<'_, f64>,
    labels: &[usize],
    classes: usize,
    mut p: Mat<f64>,
    c: &[f64],
    mut out: ColMut<'_, f64>,
) {
    for (i, &l) in labels.iter().enumerate() {
        p[(i, l)] -= 1.0;
        for k in 0..classes {
            p[(i, k)] *= c[i];
        }
    }
    let gw = a.transpose() * p;
    let d = a.ncols();
    for k in 0..classes {
        for i in 0..d {
            out[k * d + i] = gw[(i, k)];
        }
    }
}

pub(crate) fn with_intercept(x: linalg_core::faer::MatRef<'_, f64>) -> Mat<f64> {
    let d = x.ncols();
    Mat::from_fn(x.nrows(), d + 1, |i, j| if j < d { x[(i, j)] } else { 1.0 })
}

impl HyperCleaning {
    /// Training features (n × d) and labels (possibly corrupted), validation
    /// features (m × d) and clean labels, `classes ≥ 2`, `reg > 0`.
    pub fn new(
        train: linalg_core::faer::MatRef<'_, f64>,
        train_labels: &[usize],
        val: linalg_core::faer::MatRef<'_, f64>,
        val_labels: &[usize],
        classes: usize,
        reg: f64,
    ) -> Result<Self> {
        at_least("classes", classes, 2)?;
        // W has (d + 1)·classes entries: bound it before the solvers allocate.
        linalg_core::param::in_range("classes", classes as f64, 2.0, 1e5)?;
        linalg_core::param::positive("reg", reg)?;
        at_least("train", train.nrows(), 1)?;
        at_least("val", val.nrows(), 1)?;
        linalg_core::param::dimension("train_labels", train.nrows(), train_labels.len())?;
        linalg_core::param::dimension("val_labels", val.nrows(), val_labels.len())?;
        linalg_core::param::dimension("val", train.ncols(), val.ncols())?;
        for (name, labels) in [("train_labels", train_labels), ("val_labels", val_labels)] {
            if let Some(i) = labels.iter().position(|l| *l >= classes) {
                return Err(linalg_core::ParamError::new(
                    name,
                    format!("label {} at {i} is not below {classes}", labels[i]),
                )
                .into());
            }
        }
        for (name, m) in [("train", train), ("val", val)] {
            for j in 0..m.ncols() {
                linalg_core::param::finite(name, m.col(j))?;
            }
        }
        Ok(Self {
            train: with_intercept(train),
            train_labels: train_labels.to_vec(),
            val: with_intercept(val),
            val_labels: val_labels.to_vec(),
            classes,
            reg,
        })
    }

    /// The fraction of `labels` that `W` predicts (argmax of the scores).
    pub fn accuracy(
        &self,
        features: linalg_core::faer::MatRef<'_, f64>,
        labels: &[usize],
        w: ColRef<'_, f64>,
    ) -> f64 {
        let a = with_intercept(features);
        let d = a.ncols();
        let wm = Mat::from_fn(d, self.classes, |i, k| w[k * d + i]);
        let z = &a * &wm;
        let hits = (0..a.nrows())
            .filter(|&i| {
                let best = (0..self.classes)
                    .max_by(|&p, &q| z[(i, p)].total_cmp(&z[(i, q)]))
                    .unwrap_or(0);
                best == labels[i]
            })
            .count();
        hits as f64 / a.nrows().max(1) as f64
    }

    /// The training-sample weights `sigmoid(x_i)`.
    pub fn weights(&self, x: ColRef<'_, f64>) -> Vec<f64> {
        x.iter().map(|v| sigmoid(*v)).collect()
    }
}

impl BilevelProblem for HyperCleaning {
    fn dims(&self) -> (usize, usize) {
        (self.train.nrows(), self.train.ncols() * self.classes)
    }
    fn f(&self, _x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        let (l, _) = softmax_losses(self.val.as_ref(), &self.val_labels, self.classes, y);
        l.iter().sum::<f64>() / l.len() as f64
    }
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        let (l, _) = softmax_losses(self.train.as_ref(), &self.train_labels, self.classes, y);
        let n = l.len() as f64;
        l.iter()
            .zip(x.iter())
            .map(|(li, xi)| sigmoid(*xi) * li)
            .sum::<f64>()
            / n
            + 0.5 * self.reg * y.squared_norm_l2()
    }
    fn f_grad_x(&self, _x: ColRef<'_, f64>, _y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.fill(0.0);
    }
    fn f_grad_y(&self, _x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        let (_, p) = softmax_losses(self.val.as_ref(), &self.val_labels, self.classes, y);
        let m = self.val.nrows();
        softmax_back(
            self.val.as_ref(),
            &self.val_labels,
            self.classes,
            p,
            &vec![1.0 / m as f64; m],
            out,
        );
    }
    fn g_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (l, _) = softmax_losses(self.train.as_ref(), &self.train_labels, self.classes, y);
        let n = l.len() as f64;
        for i in 0..l.len() {
            let s = sigmoid(x[i]);
            out[i] = s * (1.0 - s) * l[i] / n;
        }
    }
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (_, p) = softmax_losses(self.train.as_ref(), &self.train_labels, self.classes, y);
        let n = self.train.nrows() as f64;
        let c: Vec<f64> = x.iter().map(|v| sigmoid(*v) / n).collect();
        softmax_back(
            self.train.as_ref(),
            &self.train_labels,
            self.classes,
            p,
            &c,
            out.as_mut(),
        );
        out += y * self.reg;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central-difference check of every gradient oracle of `p` at `(x, y)`.
    fn check_oracles<P: BilevelProblem>(p: &P, x: &Col<f64>, y: &Col<f64>) {
        let h = 1e-6;
        let (nx, ny) = p.dims();
        for upper in [true, false] {
            let value = |x: &Col<f64>, y: &Col<f64>| {
                if upper {
                    p.f(x.as_ref(), y.as_ref())
                } else {
                    p.g(x.as_ref(), y.as_ref())
                }
            };
            let mut gx = Col::zeros(nx);
            let mut gy = Col::zeros(ny);
            if upper {
                p.f_grad_x(x.as_ref(), y.as_ref(), gx.as_mut());
                p.f_grad_y(x.as_ref(), y.as_ref(), gy.as_mut());
            } else {
                p.g_grad_x(x.as_ref(), y.as_ref(), gx.as_mut());
                p.g_grad_y(x.as_ref(), y.as_ref(), gy.as_mut());
            }
            for i in 0..nx {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let fd = (value(&xp, y) - value(&xm, y)) / (2.0 * h);
                assert!(
                    (fd - gx[i]).abs() < 1e-6 * gx[i].abs().max(1e-3),
                    "upper {upper} ∂x{i}: {fd} vs {}",
                    gx[i]
                );
            }
            for i in 0..ny {
                let (mut yp, mut ym) = (y.clone(), y.clone());
                yp[i] += h;
                ym[i] -= h;
                let fd = (value(x, &yp) - value(x, &ym)) / (2.0 * h);
                assert!(
                    (fd - gy[i]).abs() < 1e-6 * gy[i].abs().max(1e-3),
                    "upper {upper} ∂y{i}: {fd} vs {}",
                    gy[i]
                );
            }
        }
    }

    #[test]
    fn every_instance_has_gradients_matching_central_differences() {
        let q = Quadratic::random(3, 4, 0.2, 1).unwrap();
        check_oracles(
            &q,
            &Col::from_fn(3, |i| 0.1 * i as f64),
            &Col::from_fn(4, |i| 0.3 - 0.1 * i as f64),
        );
        check_oracles(
            &BomeToy,
            &Col::from_fn(1, |_| 0.4),
            &Col::from_fn(2, |i| [0.2, -0.5][i]),
        );
        check_oracles(
            &ShenChen::default(),
            &Col::from_fn(1, |_| 1.1),
            &Col::from_fn(1, |_| -0.7),
        );
        let mut rng = StdRng::seed_from_u64(4);
        let train = Mat::from_fn(12, 3, |_, _| rng.random_range(-1.0..1.0));
        let val = Mat::from_fn(5, 3, |_, _| rng.random_range(-1.0..1.0));
        let tl: Vec<usize> = (0..12).map(|i| i % 3).collect();
        let vl: Vec<usize> = (0..5).map(|i| (i + 1) % 3).collect();
        let hc = HyperCleaning::new(train.as_ref(), &tl, val.as_ref(), &vl, 3, 0.1).unwrap();
        let (nx, ny) = hc.dims();
        assert_eq!((nx, ny), (12, 12));
        check_oracles(
            &hc,
            &Col::from_fn(nx, |i| 0.2 * i as f64 - 1.0),
            &Col::from_fn(ny, |i| (i as f64).sin()),
        );
        // At W = 0 every loss is log K.
        let f0 = BilevelProblem::f(&hc, Col::zeros(nx).as_ref(), Col::zeros(ny).as_ref());
        assert!((f0 - 3f64.ln()).abs() < 1e-14);
        assert!(HyperCleaning::new(train.as_ref(), &tl[..11], val.as_ref(), &vl, 3, 0.1).is_err());
        assert_eq!(
            HyperCleaning::new(train.as_ref(), &tl, val.as_ref(), &vl, 3, 0.0)
                .unwrap_err()
                .param_name(),
            Some("reg")
        );
        assert_eq!(
            HyperCleaning::new(train.as_ref(), &tl, val.as_ref(), &vl, 1 << 40, 0.1)
                .unwrap_err()
                .param_name(),
            Some("classes")
        );
        let rs = RegSelection::new(train.as_ref(), &tl, val.as_ref(), &vl, 3).unwrap();
        let (nx, ny) = rs.dims();
        assert_eq!((nx, ny), (4, 12));
        check_oracles(
            &rs,
            &Col::from_fn(nx, |i| 0.3 * i as f64 - 0.5),
            &Col::from_fn(ny, |i| (0.7 * i as f64).cos()),
        );
        assert_eq!(
            RegSelection::new(train.as_ref(), &tl, val.as_ref(), &[0, 1, 2, 3, 0], 3)
                .unwrap_err()
                .param_name(),
            Some("val_labels")
        );
    }

    #[test]
    fn batch_oracles_average_to_the_full_ones_and_the_closed_form_value_function_holds() {
        use crate::problem::StochasticBilevel;
        let cfg = StochasticQuadraticConfig {
            dim_inner: 6,
            dim_outer: 3,
            n_inner: 40,
            n_outer: 20,
            ..Default::default()
        };
        let q = StochasticQuadratic::new(&cfg, 3).unwrap();
        let x = Col::from_fn(3, |i| 0.5 - 0.2 * i as f64);
        let y = Col::from_fn(6, |i| (i as f64).sin());
        check_oracles(&q, &x, &y);
        // The mean over all samples in two halves is the full gradient.
        let all_lo: Vec<usize> = (0..40).collect();
        let all_up: Vec<usize> = (0..20).collect();
        for (full, batch, n) in [
            (0usize, 0usize, 40usize),
            (1, 1, 40),
            (2, 2, 20),
            (3, 3, 20),
        ] {
            let dim = if full % 2 == 0 { 6 } else { 3 };
            let mut a = Col::<f64>::zeros(dim);
            let mut b = Col::<f64>::zeros(dim);
            let mut c = Col::<f64>::zeros(dim);
            let idx = if n == 40 { &all_lo } else { &all_up };
            let (h1, h2) = idx.split_at(n / 2);
            match batch {
                0 => {
                    q.g_grad_y(x.as_ref(), y.as_ref(), a.as_mut());
                    q.g_grad_y_batch(x.as_ref(), y.as_ref(), h1, b.as_mut());
                    q.g_grad_y_batch(x.as_ref(), y.as_ref(), h2, c.as_mut());
                }
                1 => {
                    q.g_grad_x(x.as_ref(), y.as_ref(), a.as_mut());
                    q.g_grad_x_batch(x.as_ref(), y.as_ref(), h1, b.as_mut());
                    q.g_grad_x_batch(x.as_ref(), y.as_ref(), h2, c.as_mut());
                }
                2 => {
                    q.f_grad_y(x.as_ref(), y.as_ref(), a.as_mut());
                    q.f_grad_y_batch(x.as_ref(), y.as_ref(), h1, b.as_mut());
                    q.f_grad_y_batch(x.as_ref(), y.as_ref(), h2, c.as_mut());
                }
                _ => {
                    q.f_grad_x(x.as_ref(), y.as_ref(), a.as_mut());
                    q.f_grad_x_batch(x.as_ref(), y.as_ref(), h1, b.as_mut());
                    q.f_grad_x_batch(x.as_ref(), y.as_ref(), h2, c.as_mut());
                }
            }
            let mean = (&b + &c) * 0.5;
            assert!(
                (&mean - &a).norm_l2() < 1e-12 * a.norm_l2().max(1.0),
                "oracle {full}"
            );
        }
        // ψ(x) = f(x, z*(x)) with z* from a dense solve of ∇_y g = 0.
        let z = crate::lower_solution(
            &q,
            x.as_ref(),
            None,
            &crate::InnerParams::default().tol(1e-12).max_iters(100_000),
        )
        .unwrap();
        let direct = BilevelProblem::f(&q, x.as_ref(), z.as_ref());
        assert!((q.psi(x.as_ref()) - direct).abs() < 1e-9 * direct.abs().max(1.0));
        // ψ* at x*, and x* is stationary (ψ(x* ± h e₀) ≥ ψ*).
        let xs = q.x_star().to_owned();
        assert!((q.psi(xs.as_ref()) - q.psi_star()).abs() < 1e-12);
        let mut e = xs.clone();
        e[0] += 1e-4;
        assert!(q.psi(e.as_ref()) >= q.psi_star());
        assert!(
            StochasticQuadratic::new(&StochasticQuadraticConfig { mu: 0.0, ..cfg }, 0).is_err()
        );
    }
}
