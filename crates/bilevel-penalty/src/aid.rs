//! Approximate implicit differentiation (AID), the classical baseline
//! (Pedregosa 2016; Ghadimi and Wang 2018), on the same oracles, counts and
//! outer loop as the penalty method.
//!
//! ```text
//! for k = 0, 1, …
//!   y_k ≈ argmin_{y ∈ Y} g(x_k, y)                       # warm-started projected gradient
//!   v_k = [∇²_yy g(x_k, y_k)]⁻¹ ∇_y f(x_k, y_k)          # conjugate gradients, Hessian-vector products
//!   ∇F(x_k) ≈ ∇ₓf(x_k, y_k) − ∇²_xy g(x_k, y_k) v_k      # the implicit-function hypergradient
//!   x_{k+1} = P_X(x_k − α_k ∇F(x_k))                      # the penalty method's backtracking
//! ```
//!
//! It needs a unique lower-level solution with a nonsingular Hessian (and
//! ignores lower-level constraints in the implicit term): on BOME's toy the
//! Hessian is singular and CG fails, which is what the penalty method is for.
//! Hessian-vector products are the problem's (`g_hvp_yy`, `g_hvp_xy`; finite
//! differences of the gradients by default) and are counted.

use std::sync::atomic::{AtomicUsize, Ordering};

use linalg_core::cg::{Cg, CgParams};
use linalg_core::faer::matrix_free::IdentityPrecond;
use linalg_core::faer::{Col, ColMut, ColRef};
use linalg_core::op::FnOp;
use linalg_core::param::{at_least, in_unit_interval, nonnegative, positive};
use linalg_core::{Control, Error as CoreError};

use crate::oracle::Oracle;
use crate::params::InnerParams;
use crate::penalty::{Eval, Outer, check_start, descend, inner_solve, start_y};
use crate::problem::BilevelProblem;
use crate::report::{BilevelRecord, BilevelReport};
use crate::{Error, Result};

/// Parameters of [`aid`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AidParams {
    /// Stop when `‖x − P_X(x − ∇F)‖ ≤ grad_tol` (default 1e-6).
    pub grad_tol: f64,
    /// Outer-iteration limit (default 1000).
    pub max_iters: usize,
    /// First trial step of the outer backtracking (default 1).
    pub step0: f64,
    /// The lower-level loop (stops at `inner.tol`, no σ scaling).
    pub inner: InnerParams,
    /// Relative tolerance of the CG solve for `v` (default 1e-10).
    pub cg_rtol: f64,
    /// CG iteration limit (default 1000).
    pub cg_max_iters: usize,
}

impl Default for AidParams {
    fn default() -> Self {
        Self {
            grad_tol: 1e-6,
            max_iters: 1000,
            step0: 1.0,
            inner: InnerParams::default(),
            cg_rtol: 1e-10,
            cg_max_iters: 1000,
        }
    }
}

impl AidParams {
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
    /// Sets the lower-level loop.
    pub fn inner(mut self, inner: InnerParams) -> Self {
        self.inner = inner;
        self
    }
    /// Sets the CG tolerance.
    pub fn cg_rtol(mut self, r: f64) -> Self {
        self.cg_rtol = r;
        self
    }
    /// Rejects negative tolerances, zero limits, a non-positive step and a
    /// CG tolerance outside `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        nonnegative("grad_tol", self.grad_tol)?;
        at_least("max_iters", self.max_iters, 1)?;
        positive("step0", self.step0)?;
        in_unit_interval("cg_rtol", self.cg_rtol)?;
        at_least("cg_max_iters", self.cg_max_iters, 1)?;
        self.inner.validate()
    }
}

/// The AID hypergradient at `x` from the lower-level solution warm-started at `warm`.
fn hypergradient<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    warm: &Col<f64>,
    params: &AidParams,
    step: &mut f64,
) -> Result<Eval> {
    let mut y = warm.clone();
    let iters = inner_solve(o, x, &mut y, 0.0, &params.inner, step)?;
    let (nx, ny) = (x.nrows(), y.nrows());
    let mut fy = Col::<f64>::zeros(ny);
    o.f_grad_y(x, y.as_ref(), fy.as_mut())?;
    // CG on v ↦ ∇²_yy g·v (faer's CG through linalg-core); the products are
    // counted here and added to the oracle's counts.
    let products = AtomicUsize::new(0);
    let problem = o.problem();
    let yr = y.as_ref();
    let hess = FnOp::new(ny, |out: ColMut<'_, f64>, v: ColRef<'_, f64>| {
        products.fetch_add(1, Ordering::Relaxed);
        problem.g_hvp_yy(x, yr, v, out);
    });
    let cg = Cg::new(
        CgParams::new()
            .rtol(params.cg_rtol)
            .max_iters(params.cg_max_iters),
    )?;
    let solved = cg.solve_with(
        &hess,
        &IdentityPrecond { dim: ny },
        fy.as_ref(),
        None,
        |_| Control::Continue,
    );
    o.calls.g_hvp_yy += products.load(Ordering::Relaxed);
    let v = match solved {
        Ok(r) if r.converged => r.x,
        Ok(r) => {
            return Err(Error::Stalled {
                what: if r.relative_residual.is_finite() {
                    "the AID linear system (CG did not converge)"
                } else {
                    "the AID linear system (non-finite)"
                },
                iteration: o.iteration,
            });
        }
        Err(CoreError::NonFinite { .. }) => {
            return Err(Error::NonFinite {
                oracle: "g_hvp_yy",
                iteration: o.iteration,
            });
        }
        Err(_) => {
            return Err(Error::Stalled {
                what: "the AID linear system (the lower-level Hessian is singular or indefinite)",
                iteration: o.iteration,
            });
        }
    };
    let mut grad = Col::<f64>::zeros(nx);
    let mut t = Col::<f64>::zeros(nx);
    o.f_grad_x(x, y.as_ref(), grad.as_mut())?;
    o.g_hvp_xy(x, y.as_ref(), v.as_ref(), t.as_mut())?;
    grad -= &t;
    let value = o.f(x, y.as_ref())?;
    Ok(Eval {
        value,
        roundoff: 16.0 * f64::EPSILON * value.abs(),
        upper: value,
        grad,
        z: y.clone(),
        y,
        inner_iterations: iters,
    })
}

/// AID from `x0` (projected onto `X`); `y0` warm-starts the lower level
/// (default zero). The observer sees every outer iteration.
pub fn aid<P: BilevelProblem + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    params: &AidParams,
    observer: impl FnMut(&BilevelRecord) -> Control,
) -> Result<BilevelReport> {
    params.validate()?;
    check_start(problem, x0, y0)?;
    let y_start = start_y(problem, y0);
    let outer = Outer {
        sigma: 0.0,
        sigma_min: 0.0,
        sigma_decay: 0.5,
        stage_tol: 0.0,
        grad_tol: params.grad_tol,
        max_iters: params.max_iters,
        step0: params.step0,
        calls0: crate::OracleCalls::default(),
        reevaluate: false,
        accelerated: false,
    };
    let mut step = params.inner.step0;
    let d = descend(
        problem,
        x0,
        y_start,
        outer,
        |o, x, _sigma, warm| hypergradient(o, x, warm.0, params, &mut step),
        observer,
    )?;
    Ok(BilevelReport::new("aid", d, None))
}
