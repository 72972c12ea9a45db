//! BOME (Liu, Ye, Wright, Stone, Liu, "BOME! Bilevel Optimization Made
//! Easy: A Simple First-Order Approach", NeurIPS 2022), deterministic, as
//! benchopt runs it (`solvers/bome.py`, HEAD 3ad65dc), on the same counted
//! oracles: a first-order method on the value-function constraint
//! `q(x, y) = g(x, y) − g*(x) ≤ 0` with a dynamic barrier multiplier.
//!
//! ```text
//! for k = 0, 1, …
//!   ŷ ← T gradient steps on g(x, ·) from y                 # ŷ ≈ z(x)
//!   ∇q = (∇ₓg(x, y) − ∇ₓg(x, ŷ), ∇_y g(x, y));  φ = η‖∇q‖²
//!   λ = max(φ − ⟨∇f, ∇q⟩, 0)/‖∇q‖²
//!   (x, y) ← (P_X(x − α(∇ₓf + λ∇ₓq)), P_Y(y − γ(∇_y f + λ∇_y q)))
//! ```
//!
//! Constant steps (benchopt's exponents 0, 0): `γ = step_size`,
//! `α = step_size/outer_ratio`; the default `step_size` is
//! `1/(2(L̂_y + L̂_x))` with `L̂_y = max(L̂_g, L̂_f)` in `y` and `L̂_x` the same
//! in `x` (power iteration at the start, counted): the step moves `x` and
//! `y` together, and the joint curvature can exceed either block's (on
//! BOME's toy `1/L̂_y` oscillates, on the quadratic it diverges). There is no value to
//! backtrack on, so a run stops on `‖d‖ ≤ grad_tol` or the limit.

use linalg_core::faer::{Col, ColRef};
use linalg_core::param::{at_least, nonnegative, positive};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::oracle::Oracle;
use crate::penalty::{check_start, start_y};
use crate::problem::BilevelProblem;
use crate::report::{BilevelRecord, BilevelReport};
use crate::stochastic::{smoothness, smoothness_x};
use crate::{Error, Result};

/// Parameters of [`bome`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BomeParams {
    /// The lower-level step `γ` (and of the inner steps; default
    /// `1/(2(L̂_y + L̂_x))`, see the module docs).
    pub step_size: Option<f64>,
    /// `α = γ/outer_ratio` (default 1).
    pub outer_ratio: f64,
    /// The barrier constant `η` of `φ = η‖∇q‖²` (default 0.5, BOME's).
    pub eta: f64,
    /// Gradient steps for `ŷ` (default 10).
    pub inner_steps: usize,
    /// Stop when the norm of the update direction is at most this (default 1e-6).
    pub grad_tol: f64,
    /// Iteration limit (default 10 000).
    pub max_iters: usize,
}

impl Default for BomeParams {
    fn default() -> Self {
        Self {
            step_size: None,
            outer_ratio: 1.0,
            eta: 0.5,
            inner_steps: 10,
            grad_tol: 1e-6,
            max_iters: 10_000,
        }
    }
}

impl BomeParams {
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Sets the tolerance.
    pub fn grad_tol(mut self, t: f64) -> Self {
        self.grad_tol = t;
        self
    }
    /// Sets the step.
    pub fn step_size(mut self, s: Option<f64>) -> Self {
        self.step_size = s;
        self
    }
    /// Rejects non-positive steps, ratios and `η`, zero sizes and a
    /// negative tolerance.
    pub fn validate(&self) -> Result<()> {
        if let Some(s) = self.step_size {
            positive("step_size", s)?;
        }
        positive("outer_ratio", self.outer_ratio)?;
        positive("eta", self.eta)?;
        at_least("inner_steps", self.inner_steps, 1)?;
        nonnegative("grad_tol", self.grad_tol)?;
        at_least("max_iters", self.max_iters, 1)?;
        Ok(())
    }
}

/// BOME from `x0` (projected onto `X`) and `y0` (default zero). The
/// records carry `value = f(x, y)`, `grad_norm = ‖d‖`.
pub fn bome<P: BilevelProblem + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    params: &BomeParams,
    observer: impl FnMut(&BilevelRecord) -> Control,
) -> Result<BilevelReport> {
    params.validate()?;
    check_start(problem, x0, y0)?;
    let p = *params;
    let (nx, ny) = problem.dims();
    let mut o = Oracle::new(problem);
    let mut x = x0.to_owned();
    problem.x_set().project(x.as_mut());
    let mut y = start_y(problem, y0);
    problem.y_set().project(y.as_mut());
    let gamma = match p.step_size {
        Some(s) => s,
        None => {
            let ly = smoothness(&mut o, x.as_ref(), y.as_ref(), false)?.max(smoothness(
                &mut o,
                x.as_ref(),
                y.as_ref(),
                true,
            )?);
            let lx = smoothness_x(&mut o, x.as_ref(), y.as_ref(), false)?.max(smoothness_x(
                &mut o,
                x.as_ref(),
                y.as_ref(),
                true,
            )?);
            0.5 / (ly + lx)
        }
    };
    let alpha = gamma / p.outer_ratio;
    let (mut fx, mut fy, mut qx, mut qy, mut t) = (
        Col::<f64>::zeros(nx),
        Col::<f64>::zeros(ny),
        Col::<f64>::zeros(nx),
        Col::<f64>::zeros(ny),
        Col::<f64>::zeros(nx),
    );
    let mut yhat = y.clone();
    let mut rec = Recorder::new(p.max_iters, observer);
    let mut k = 0;
    let mut termination = None;
    let mut dn = f64::INFINITY;
    while termination.is_none() {
        o.iteration = k;
        yhat.copy_from(&y);
        let mut gh = Col::<f64>::zeros(ny);
        for _ in 0..p.inner_steps {
            o.g_grad_y(x.as_ref(), yhat.as_ref(), gh.as_mut())?;
            yhat -= &gh * gamma;
            problem.y_set().project(yhat.as_mut());
        }
        o.f_grad_x(x.as_ref(), y.as_ref(), fx.as_mut())?;
        o.f_grad_y(x.as_ref(), y.as_ref(), fy.as_mut())?;
        o.g_grad_x(x.as_ref(), y.as_ref(), qx.as_mut())?;
        o.g_grad_y(x.as_ref(), y.as_ref(), qy.as_mut())?;
        o.g_grad_x(x.as_ref(), yhat.as_ref(), t.as_mut())?;
        qx -= &t;
        let qn2 = qx.squared_norm_l2() + qy.squared_norm_l2();
        let dot = fx.transpose() * &qx + fy.transpose() * &qy;
        let lambda = if qn2 > 0.0 {
            ((p.eta * qn2 - dot).max(0.0)) / qn2
        } else {
            0.0
        };
        let dx = &fx + &qx * lambda;
        let dy = &fy + &qy * lambda;
        dn = (dx.squared_norm_l2() + dy.squared_norm_l2()).sqrt();
        if !dn.is_finite() {
            return Err(Error::NonFinite {
                oracle: "f_grad_x",
                iteration: k,
            });
        }
        let value = o.f(x.as_ref(), y.as_ref())?;
        let r = BilevelRecord {
            iteration: k,
            sigma: 0.0,
            value,
            grad_norm: dn,
            inner_iterations: p.inner_steps,
            gradient_calls: o.calls.gradient_calls(),
            seconds: rec.seconds(),
            psi: problem.psi_exact(x.as_ref()),
        };
        termination = rec.record(r, dn <= p.grad_tol);
        if termination.is_some() {
            break;
        }
        x -= &dx * alpha;
        problem.x_set().project(x.as_mut());
        y -= &dy * gamma;
        problem.y_set().project(y.as_mut());
        k += 1;
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let calls = o.calls;
    let work = Work {
        gradient_evals: calls.gradient_calls(),
        value_evals: calls.value_calls(),
        ..Work::default()
    };
    let (history, elapsed) = rec.finish();
    let upper_value = history.last().map_or(f64::NAN, |r| r.value);
    Ok(BilevelReport {
        method: "bome",
        x,
        y,
        z: yhat,
        sigma: 0.0,
        value: upper_value,
        upper_value,
        grad_norm: dn,
        iterations: k,
        converged: termination == Termination::Converged,
        termination,
        history,
        elapsed,
        work,
        calls,
        certificate: None,
    })
}
