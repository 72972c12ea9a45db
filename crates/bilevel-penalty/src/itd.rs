//! Iterative differentiation (ITD; Maclaurin et al. 2015, Franceschi et al.
//! 2017): the hypergradient of `x ↦ f(x, y_T(x))` by reverse mode through
//! `T` lower-level gradient steps, on the same oracles, counts and outer
//! loop as the penalty method.
//!
//! ```text
//! y_0 = warm start,  y_{t+1} = y_t − η ∇_y g(x, y_t)          (t < T, trajectory stored)
//! v = ∇_y f(x, y_T),  ∇ = ∇ₓf(x, y_T)
//! for t = T−1, …, 0:  ∇ ← ∇ − η ∇²_xy g(x, y_t) v;   v ← v − η ∇²_yy g(x, y_t) v
//! ```
//!
//! The gradient is exact for the truncated map (a consistent value for the
//! outer backtracking), biased for `ψ` by the `T`-step truncation. Reverse
//! mode stores the `T + 1` iterates (`T·n_y` numbers). Lower-level
//! constraints are not differentiated: ITD needs `Y = ℝ^{n_y}`.

use linalg_core::Control;
use linalg_core::faer::{Col, ColRef};
use linalg_core::param::{at_least, nonnegative, positive};

use crate::Result;
use crate::oracle::Oracle;
use crate::penalty::{Eval, Outer, check_start, descend, start_y};
use crate::problem::{BilevelProblem, Constraint};
use crate::report::{BilevelRecord, BilevelReport};
use crate::stochastic::smoothness;

/// Parameters of [`itd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItdParams {
    /// Stop when `‖x − P_X(x − ∇)‖ ≤ grad_tol` (default 1e-6).
    pub grad_tol: f64,
    /// Outer-iteration limit (default 1000).
    pub max_iters: usize,
    /// First trial step of the outer backtracking (default 1).
    pub step0: f64,
    /// Unrolled lower-level steps `T` (default 50; at most 100 000).
    pub inner_steps: usize,
    /// The lower-level step `η` (default `1/L̂_g`, estimated by power
    /// iteration at the start and counted).
    pub inner_step: Option<f64>,
    /// Start every unrolled trajectory from the last `y_T` (default
    /// `false`: from `y0`, the classical ITD, whose map is the same at every
    /// outer iteration, so the backtracking compares values of one
    /// function). With `true` the map changes as `y_T` moves, so each outer
    /// iteration re-evaluates its base point (one more unroll).
    pub warm_start: bool,
}

impl Default for ItdParams {
    fn default() -> Self {
        Self {
            grad_tol: 1e-6,
            max_iters: 1000,
            step0: 1.0,
            inner_steps: 50,
            inner_step: None,
            warm_start: false,
        }
    }
}

impl ItdParams {
    /// Sets the gradient tolerance.
    pub fn grad_tol(mut self, t: f64) -> Self {
        self.grad_tol = t;
        self
    }
    /// Sets the outer-iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Sets the unrolled steps.
    pub fn inner_steps(mut self, t: usize) -> Self {
        self.inner_steps = t;
        self
    }
    /// Rejects a negative tolerance, zero limits, more than 100 000
    /// unrolled steps and non-positive steps.
    pub fn validate(&self) -> Result<()> {
        nonnegative("grad_tol", self.grad_tol)?;
        at_least("max_iters", self.max_iters, 1)?;
        positive("step0", self.step0)?;
        at_least("inner_steps", self.inner_steps, 1)?;
        linalg_core::param::in_range("inner_steps", self.inner_steps as f64, 1.0, 1e5)?;
        if let Some(s) = self.inner_step {
            positive("inner_step", s)?;
        }
        Ok(())
    }
}

/// The ITD hypergradient at `x` from `y_0 = warm`.
fn unrolled<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    warm: &Col<f64>,
    steps: usize,
    eta: f64,
) -> Result<Eval> {
    let ny = warm.nrows();
    let nx = x.nrows();
    let mut traj = Vec::with_capacity(steps + 1);
    traj.push(warm.clone());
    let mut g = Col::<f64>::zeros(ny);
    for t in 0..steps {
        o.g_grad_y(x, traj[t].as_ref(), g.as_mut())?;
        let next = &traj[t] - &g * eta;
        traj.push(next);
    }
    let y = traj[steps].clone();
    let value = o.f(x, y.as_ref())?;
    let mut v = Col::<f64>::zeros(ny);
    o.f_grad_y(x, y.as_ref(), v.as_mut())?;
    let mut grad = Col::<f64>::zeros(nx);
    o.f_grad_x(x, y.as_ref(), grad.as_mut())?;
    let mut tx = Col::<f64>::zeros(nx);
    let mut hv = Col::<f64>::zeros(ny);
    for t in (0..steps).rev() {
        o.g_hvp_xy(x, traj[t].as_ref(), v.as_ref(), tx.as_mut())?;
        grad -= &tx * eta;
        o.g_hvp_yy(x, traj[t].as_ref(), v.as_ref(), hv.as_mut())?;
        v -= &hv * eta;
    }
    Ok(Eval {
        value,
        roundoff: 16.0 * f64::EPSILON * value.abs(),
        upper: value,
        grad,
        z: y.clone(),
        y,
        inner_iterations: steps,
    })
}

/// ITD from `x0` (projected onto `X`); `y0` is the first warm start
/// (default zero), then each outer iteration starts from the last `y_T`.
pub fn itd<P: BilevelProblem + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    params: &ItdParams,
    observer: impl FnMut(&BilevelRecord) -> Control,
) -> Result<BilevelReport> {
    params.validate()?;
    check_start(problem, x0, y0)?;
    if *problem.y_set() != Constraint::Free {
        return Err(linalg_core::ParamError::new(
            "y_set",
            "ITD differentiates unprojected steps: the lower level must be unconstrained",
        )
        .into());
    }
    // Reverse mode stores T + 1 iterates: bound that before allocating it.
    let stored = (params.inner_steps + 1).saturating_mul(problem.dims().1);
    if stored > 100_000_000 {
        return Err(linalg_core::ParamError::new(
            "inner_steps",
            format!("the unrolled trajectory would hold {stored} numbers (at most 1e8)"),
        )
        .into());
    }
    let y_start = start_y(problem, y0);
    let mut o = Oracle::new(problem);
    let eta = match params.inner_step {
        Some(s) => s,
        None => 1.0 / smoothness(&mut o, x0, y_start.as_ref(), false)?,
    };
    let outer = Outer {
        sigma: 0.0,
        sigma_min: 0.0,
        sigma_decay: 0.5,
        stage_tol: 0.0,
        grad_tol: params.grad_tol,
        max_iters: params.max_iters,
        step0: params.step0,
        calls0: o.calls,
        reevaluate: params.warm_start,
        accelerated: false,
    };
    let steps = params.inner_steps;
    let fixed = y_start.clone();
    let warm_start = params.warm_start;
    let d = descend(
        problem,
        x0,
        y_start,
        outer,
        |o, x, _sigma, warm| unrolled(o, x, if warm_start { warm.0 } else { &fixed }, steps, eta),
        observer,
    )?;
    Ok(BilevelReport::new("itd", d, None))
}
