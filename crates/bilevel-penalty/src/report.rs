//! What the penalty method returns: one record per outer iteration and the report.

use std::time::Duration;

use linalg_core::faer::Col;
use linalg_core::{Termination, Work};

use crate::oracle::OracleCalls;

/// One outer iteration.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BilevelRecord {
    /// Outer iterations completed (0 = the start).
    pub iteration: usize,
    /// The penalty parameter in use.
    pub sigma: f64,
    /// `ψ_σ(x_k)` (from the inner solutions).
    pub value: f64,
    /// `‖x_k − P_X(x_k − ∇ψ_σ(x_k))‖`: the projected gradient (`‖∇ψ_σ‖`
    /// without constraints).
    pub grad_norm: f64,
    /// Inner iterations of this outer iteration (both loops, all trials).
    pub inner_iterations: usize,
    /// Gradient-oracle calls so far.
    pub gradient_calls: usize,
    /// Seconds since the start.
    pub seconds: f64,
    /// The exact value function `ψ(x_k)` where the problem knows it
    /// ([`BilevelProblem::psi_exact`](crate::BilevelProblem::psi_exact)).
    pub psi: Option<f64>,
}

linalg_core::impl_iteration_record!(BilevelRecord);

/// How far `ψ_σ` is from `ψ`, estimated from `σ` and `σ/2` at the final `x`:
/// `ψ − ψ_σ = cσ + O(σ²)`, so `ψ − ψ_σ ≈ 2(ψ_{σ/2} − ψ_σ)` (one Richardson
/// step), and the same for the gradients.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Certificate {
    /// The `σ` of the report.
    pub sigma: f64,
    /// `ψ_{σ/2}(x)`.
    pub value_half: f64,
    /// `2(ψ_{σ/2}(x) − ψ_σ(x))`: the estimate of `ψ(x) − ψ_σ(x)`.
    pub penalty_gap: f64,
    /// `2‖∇ψ_{σ/2}(x) − ∇ψ_σ(x)‖`: the estimate of `‖∇ψ(x) − ∇ψ_σ(x)‖`.
    pub gradient_gap: f64,
}

// The fields every report shares (iterations, converged, termination,
// history, elapsed, work) repeat by design: docs/architecture.md §2.
/// The outcome of [`penalty`](fn@crate::penalty) and of the baselines.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
pub struct BilevelReport {
    /// The method (`penalty`, `aid`, `penalty-stochastic`, `penalty-storm`,
    /// `penalty-2ts`, `f2sa`, `itd`, `bome`).
    pub method: &'static str,
    /// The final upper variable.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub x: Col<f64>,
    /// The minimiser `y_σ` of `σf + g` at `x` (the lower-level solution for AID).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub y: Col<f64>,
    /// The lower-level minimiser `z` of `g(x, ·)`.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub z: Col<f64>,
    /// The final `σ` (the penalty method; 0 for the baselines).
    pub sigma: f64,
    /// The value estimate: `ψ_σ(x)` for the penalty method, `f(x, y)` for AID.
    pub value: f64,
    /// `f(x, y_σ)`: the upper-level value.
    pub upper_value: f64,
    /// The final projected gradient norm of `ψ_σ`.
    pub grad_norm: f64,
    /// Outer iterations.
    pub iterations: usize,
    /// Whether `σ` reached `σ_min` with the gradient below `grad_tol`.
    pub converged: bool,
    /// Why the run stopped.
    pub termination: Termination,
    /// One record per outer iteration, from the start.
    pub history: Vec<BilevelRecord>,
    /// Wall time.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "seconds", serialize_with = "linalg_core::solver::as_seconds")
    )]
    pub elapsed: Duration,
    /// `gradient_evals`, `hessian_vec_evals`, `value_evals`: all oracle
    /// calls; `trials`: outer step trials.
    pub work: Work,
    /// Oracle calls per level and variable.
    pub calls: OracleCalls,
    /// The penalty-gap certificate at the final point (the penalty method;
    /// its oracle calls are not in `calls`).
    pub certificate: Option<Certificate>,
}

impl BilevelReport {
    pub(crate) fn new(
        method: &'static str,
        d: crate::penalty::Descent,
        certificate: Option<Certificate>,
    ) -> Self {
        Self {
            method,
            x: d.x,
            y: d.cur.y,
            z: d.cur.z,
            sigma: d.sigma,
            value: d.cur.value,
            upper_value: d.cur.upper,
            grad_norm: d.history.last().map_or(f64::NAN, |r| r.grad_norm),
            iterations: d.iterations,
            converged: d.termination == Termination::Converged,
            termination: d.termination,
            history: d.history,
            elapsed: d.elapsed,
            work: d.work,
            calls: d.calls,
            certificate,
        }
    }
}
