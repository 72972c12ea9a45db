//! Parameters of the penalty method, validated once.

use linalg_core::param::{at_least, in_open_unit_interval, nonnegative, positive};

use crate::Result;

/// The inner loops: projected gradient with backtracking on `g(x, ·)` (for
/// `z`) and on `σf + g` (for `y_σ`), warm-started from the previous outer
/// iterate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InnerParams {
    /// Stop when the projected-gradient residual `‖y − P_Y(y − t∇)‖/t` is
    /// below `tol·min(1, σ)` (default `tol` = 1e-8): `∇ψ_σ` divides the inner
    /// errors by `σ`, so the inner solves tighten with it.
    pub tol: f64,
    /// Iteration limit per inner solve (default 10 000).
    pub max_iters: usize,
    /// First trial step of the backtracking (default 1).
    pub step0: f64,
    /// Nesterov momentum with gradient restarts (FISTA) instead of plain
    /// projected gradient (default `false`): for ill-conditioned lower
    /// levels (weak ridge), at one more gradient per step.
    pub accelerated: bool,
}

impl Default for InnerParams {
    fn default() -> Self {
        Self {
            tol: 1e-8,
            max_iters: 10_000,
            step0: 1.0,
            accelerated: false,
        }
    }
}

impl InnerParams {
    /// Sets the residual tolerance.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Sets the first trial step.
    pub fn step0(mut self, t: f64) -> Self {
        self.step0 = t;
        self
    }
    /// Turns momentum on or off.
    pub fn accelerated(mut self, on: bool) -> Self {
        self.accelerated = on;
        self
    }
    /// Rejects non-positive tolerances and steps and a zero limit
    /// (names prefixed `inner.`).
    pub fn validate(&self) -> Result<()> {
        positive("inner.tol", self.tol)?;
        at_least("inner.max_iters", self.max_iters, 1)?;
        positive("inner.step0", self.step0)?;
        Ok(())
    }
}

/// Parameters of [`penalty`](fn@crate::penalty).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PenaltyParams {
    /// The penalty parameter `σ` to start from (the lower-level
    /// sub-optimality is weighted by `1/σ`; default 1e-2).
    pub sigma: f64,
    /// The final `σ` of the continuation `σ ← max(σ_min, decay·σ)`
    /// (default: equal to `sigma`, i.e. fixed `σ`).
    pub sigma_min: Option<f64>,
    /// The continuation factor in `(0, 1)` (default 0.1).
    pub sigma_decay: f64,
    /// Move to the next `σ` once the projected gradient of `ψ_σ` is below
    /// this (default 1e-4).
    pub stage_tol: f64,
    /// Stop when `σ = σ_min` and `‖x − P_X(x − ∇ψ_σ)‖ ≤ grad_tol` (default 1e-6).
    pub grad_tol: f64,
    /// Outer-iteration limit (default 1000).
    pub max_iters: usize,
    /// First trial step of the outer backtracking on `ψ_σ` (default 1).
    pub step0: f64,
    /// Nesterov momentum on the outer step, restarted whenever `ψ_σ` rises
    /// and at every new `σ` (default `false`): for outer problems with a
    /// large condition number, as a lower-level constraint that binds makes
    /// them (curvature ∝ 1/σ along the active bounds).
    pub accelerated: bool,
    /// The inner loops.
    pub inner: InnerParams,
}

impl Default for PenaltyParams {
    fn default() -> Self {
        Self {
            sigma: 1e-2,
            sigma_min: None,
            sigma_decay: 0.1,
            stage_tol: 1e-4,
            grad_tol: 1e-6,
            max_iters: 1000,
            step0: 1.0,
            accelerated: false,
            inner: InnerParams::default(),
        }
    }
}

impl PenaltyParams {
    /// Sets the starting `σ`.
    pub fn sigma(mut self, s: f64) -> Self {
        self.sigma = s;
        self
    }
    /// Sets the final `σ` of the continuation.
    pub fn sigma_min(mut self, s: Option<f64>) -> Self {
        self.sigma_min = s;
        self
    }
    /// Sets the continuation factor.
    pub fn sigma_decay(mut self, d: f64) -> Self {
        self.sigma_decay = d;
        self
    }
    /// Sets the stage tolerance of the continuation.
    pub fn stage_tol(mut self, t: f64) -> Self {
        self.stage_tol = t;
        self
    }
    /// Sets the final projected-gradient tolerance.
    pub fn grad_tol(mut self, t: f64) -> Self {
        self.grad_tol = t;
        self
    }
    /// Sets the outer-iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Turns outer momentum on or off.
    pub fn accelerated(mut self, on: bool) -> Self {
        self.accelerated = on;
        self
    }
    /// Sets the inner loops.
    pub fn inner(mut self, inner: InnerParams) -> Self {
        self.inner = inner;
        self
    }
    /// The final `σ`.
    pub fn final_sigma(&self) -> f64 {
        self.sigma_min.unwrap_or(self.sigma)
    }
    /// Rejects `σ ≤ 0`, `σ_min ∉ (0, σ]`, a decay outside `(0, 1)`, negative
    /// tolerances, a zero limit or step, and invalid inner parameters.
    pub fn validate(&self) -> Result<()> {
        positive("sigma", self.sigma)?;
        if let Some(s) = self.sigma_min {
            linalg_core::param::in_range("sigma_min", s, f64::MIN_POSITIVE, self.sigma)?;
        }
        in_open_unit_interval("sigma_decay", self.sigma_decay)?;
        nonnegative("stage_tol", self.stage_tol)?;
        nonnegative("grad_tol", self.grad_tol)?;
        at_least("max_iters", self.max_iters, 1)?;
        positive("step0", self.step0)?;
        self.inner.validate()
    }
}
