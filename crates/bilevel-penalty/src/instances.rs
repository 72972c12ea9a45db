//! Bilevel problems with known solutions (the paper has no experiments, so
//! these are the references; see `docs/bilevel-penalty.md`).

use linalg_core::faer::{Col, ColMut, ColRef, Mat};
use linalg_core::param::at_least;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::Result;
use crate::problem::{BilevelProblem, Constraint};

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
