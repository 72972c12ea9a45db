//! First-order methods on a [`linalg_core::Objective`] with one driver:
//! gradient descent (fixed step or Armijo backtracking), Nesterov (convex and
//! strongly convex), the triple momentum method, Adam, AMSGrad and diffGrad.
//!
//! ```text
//! diffGrad (Dubey et al. 2019, Algorithm 1; torch-optimizer's form)
//!   m_t = β₁ m_{t−1} + (1 − β₁) g_t;   v_t = β₂ v_{t−1} + (1 − β₂) g_t²
//!   ξ_t = sigmoid(|g_{t−1} − g_t|)                    # the friction coefficient
//!   x_t = x_{t−1} − lr · √(1 − β₂ᵗ)/(1 − β₁ᵗ) · ξ_t m_t / (√v_t + ε)
//! ```
//!
//! Deviations: none from torch-optimizer (the paper's bias correction is
//! folded into the step size; `g_0 = 0`). The other methods follow PyTorch
//! (Adam, AMSGrad) and the textbook updates written at each match arm; every
//! method keeps its own state, allocated once, updated in place.

use linalg_core::faer::{Col, ColRef, unzip, zip};
use linalg_core::param::{finite, in_range, in_unit_interval, nonnegative, positive};
use linalg_core::{Control, Objective, Termination, Work};

use crate::{Error, OptRecord, OptReport, Recorder, Result, RunParams};

/// Hyperparameters of the Adam family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamParams {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// First-moment decay β1 ∈ [0, 1) (default 0.9).
    pub beta1: f64,
    /// Second-moment decay β2 ∈ [0, 1) (default 0.999).
    pub beta2: f64,
    /// ε > 0 (default 1e-8).
    pub eps: f64,
    /// Coupled L2 weight decay added to the gradient (default 0).
    pub weight_decay: f64,
}

impl Default for AdamParams {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamParams {
    /// Defaults with learning rate `lr`.
    pub fn lr(lr: f64) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }

    /// Sets the learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// Sets the moment decays `β1`, `β2`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    /// Sets `ε`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the coupled weight decay.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }

    /// Rejects `lr`, `eps` not finite and positive, `β` outside `[0, 1)`,
    /// negative weight decay.
    pub fn validate(&self) -> Result<()> {
        positive("lr", self.lr)?;
        positive("eps", self.eps)?;
        in_unit_interval("beta1", self.beta1)?;
        in_unit_interval("beta2", self.beta2)?;
        nonnegative("weight_decay", self.weight_decay)?;
        Ok(())
    }
}

/// A first-order method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// `x ← x − lr ∇f(x)`.
    Gd {
        /// Step size.
        lr: f64,
    },
    /// Gradient descent with Armijo backtracking (`c₁ = 1e-4`, halving) from
    /// step `lr0`, which grows by 2 after each accepted step.
    GdArmijo {
        /// Initial trial step.
        lr0: f64,
    },
    /// Nesterov's accelerated gradient with step `1/L`: momentum
    /// `(√L − √μ)/(√L + √μ)` when `mu > 0`, `k/(k + 3)` when `mu = 0`.
    Nesterov {
        /// Smoothness constant `L`.
        l: f64,
        /// Strong-convexity constant `μ ≥ 0`.
        mu: f64,
    },
    /// Triple momentum (Van Scoy, Freeman, Lynch 2018) for `L`-smooth,
    /// `μ`-strongly convex `f`.
    Tmm {
        /// Smoothness constant `L`.
        l: f64,
        /// Strong-convexity constant `μ > 0`.
        mu: f64,
    },
    /// Adam (PyTorch's: `ε` added to `√v̂`).
    Adam(AdamParams),
    /// AMSGrad (PyTorch's `Adam(amsgrad=True)`).
    AmsGrad(AdamParams),
    /// diffGrad (Dubey et al. 2019) as the official fixed code /
    /// torch-optimizer: `ξ = sigmoid(|g_{t−1} − g_t|)` scales the
    /// bias-corrected first moment, `g_0 = 0`, `ε` added to the uncorrected
    /// `√v` with the bias correction in the step size.
    DiffGrad(AdamParams),
}

impl Method {
    /// The method's name as the CLI spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gd { .. } => "gd",
            Self::GdArmijo { .. } => "gd-armijo",
            Self::Nesterov { .. } => "nesterov",
            Self::Tmm { .. } => "tmm",
            Self::Adam(_) => "adam",
            Self::AmsGrad(_) => "amsgrad",
            Self::DiffGrad(_) => "diffgrad",
        }
    }

    /// Rejects non-positive step sizes and constants, `μ` outside `[0, L]`
    /// (Nesterov) or `(0, L]` (triple momentum), and invalid Adam parameters.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Gd { lr } => positive("lr", lr)?,
            Self::GdArmijo { lr0 } => positive("lr0", lr0)?,
            Self::Nesterov { l, mu } => {
                positive("l", l)?;
                in_range("mu", mu, 0.0, l)?;
            }
            Self::Tmm { l, mu } => {
                positive("l", l)?;
                positive("mu", mu)?;
                in_range("mu", mu, 0.0, l)?;
            }
            Self::Adam(p) | Self::AmsGrad(p) | Self::DiffGrad(p) => p.validate()?,
        }
        Ok(())
    }
}

/// Evaluates `f` and `∇f` at `x`, rejecting non-finite results with the iteration.
pub(crate) fn eval(
    obj: &impl Objective,
    x: ColRef<'_, f64>,
    g: &mut Col<f64>,
    iteration: usize,
    work: &mut Work,
) -> Result<f64> {
    work.gradient_evals += 1;
    let f = obj.gradient(x, g.as_mut());
    check_eval(f, g, iteration)
}

/// The finiteness test of [`eval`] on an already computed `f`, `∇f`.
pub(crate) fn check_eval(f: f64, g: &Col<f64>, iteration: usize) -> Result<f64> {
    if !f.is_finite() {
        return Err(Error::NonFinite {
            what: "objective value",
            iteration,
        });
    }
    if g.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "gradient",
            iteration,
        });
    }
    Ok(f)
}

/// Checks `x0` (length, finiteness) and evaluates `f` and `∇f` there: the
/// start of both drivers. Returns `(x, g, f)`.
pub(crate) fn start_point(
    obj: &impl Objective,
    x0: ColRef<'_, f64>,
    work: &mut Work,
) -> Result<(Col<f64>, Col<f64>, f64)> {
    linalg_core::op::check_dim("starting point", obj.dim(), x0.nrows())?;
    finite("x0", x0)?;
    let x = x0.to_owned();
    let mut g = Col::<f64>::zeros(obj.dim());
    let f = eval(obj, x.as_ref(), &mut g, 0, work)?;
    Ok((x, g, f))
}

/// Per-method state, allocated once before the loop; every update below is
/// in place (no vector is allocated per iteration).
enum State {
    Gd,
    Armijo {
        lr: f64,
        xt: Col<f64>,
        gt: Col<f64>,
    },
    /// Nesterov: the extrapolated point `y` and `∇f(y)`.
    Nesterov {
        y: Col<f64>,
        gy: Col<f64>,
    },
    /// Triple momentum: `ξ_k`, `ξ_{k−1}`, `y_k` and `∇f(y_k)`.
    Tmm {
        xi: Col<f64>,
        xi_prev: Col<f64>,
        y: Col<f64>,
        gy: Col<f64>,
    },
    /// Adam, AMSGrad, diffGrad: moments, the running maximum (AMSGrad) and
    /// the previous gradient (diffGrad).
    Adam {
        m: Col<f64>,
        v: Col<f64>,
        vmax: Col<f64>,
        prev_grad: Col<f64>,
    },
}

impl State {
    fn new(method: Method, x: &Col<f64>, g: &Col<f64>) -> Self {
        let n = x.nrows();
        match method {
            Method::Gd { .. } => State::Gd,
            Method::GdArmijo { lr0 } => State::Armijo {
                lr: lr0,
                xt: Col::zeros(n),
                gt: Col::zeros(n),
            },
            Method::Nesterov { .. } => State::Nesterov {
                y: x.clone(),
                gy: g.clone(),
            },
            Method::Tmm { .. } => State::Tmm {
                xi: x.clone(),
                xi_prev: x.clone(),
                y: x.clone(),
                gy: g.clone(),
            },
            Method::Adam(_) | Method::AmsGrad(_) | Method::DiffGrad(_) => State::Adam {
                m: Col::zeros(n),
                v: Col::zeros(n),
                vmax: Col::zeros(n),
                prev_grad: Col::zeros(n),
            },
        }
    }
}

/// Runs `method` from `x0`. The observer sees each record (iterate `k = 0` is
/// the start) and may stop the run.
pub fn minimize(
    obj: &impl Objective,
    x0: ColRef<'_, f64>,
    method: Method,
    params: &RunParams,
    observer: impl FnMut(&OptRecord) -> Control,
) -> Result<OptReport> {
    params.validate()?;
    method.validate()?;
    let mut work = Work::default();
    let (mut x, mut g, mut f) = start_point(obj, x0, &mut work)?;
    let mut rec = Recorder::new(*params, observer);
    let mut termination = rec.record(0, f, g.norm_l2());
    let mut state = State::new(method, &x, &g);
    let mut k = 0;
    while termination.is_none() {
        k += 1;
        f = step(obj, method, &mut state, &mut x, &mut g, f, k, &mut work)?;
        termination = rec.record(k, f, g.norm_l2());
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    Ok(OptReport::new(method.name(), x, termination, rec, work))
}

/// One iteration `k ≥ 1` of `method`: updates `x`, `g` and the state in
/// place and returns `f(x_{k})`.
#[allow(clippy::too_many_arguments)]
fn step(
    obj: &impl Objective,
    method: Method,
    state: &mut State,
    x: &mut Col<f64>,
    g: &mut Col<f64>,
    f: f64,
    k: usize,
    work: &mut Work,
) -> Result<f64> {
    match (method, state) {
        (Method::Gd { lr }, State::Gd) => {
            zip!(x.as_mut(), g.as_ref()).for_each(|unzip!(x, g)| *x -= *g * lr);
            eval(obj, x.as_ref(), g, k, work)
        }
        (Method::GdArmijo { .. }, State::Armijo { lr, xt, gt }) => {
            let gg = g.squared_norm_l2();
            for _ in 0..60 {
                let t = *lr;
                zip!(xt.as_mut(), x.as_ref(), g.as_ref())
                    .for_each(|unzip!(xt, x, g)| *xt = *x - *g * t);
                work.trials += 1;
                work.gradient_evals += 1;
                let ft = obj.gradient(xt.as_ref(), gt.as_mut());
                if ft.is_finite() && ft <= f - 1e-4 * t * gg {
                    // The trial's gradient is the new gradient: swap, not re-evaluate.
                    std::mem::swap(x, xt);
                    std::mem::swap(g, gt);
                    *lr *= 2.0;
                    return check_eval(ft, g, k);
                }
                *lr *= 0.5;
            }
            Err(Error::LineSearch { iteration: k })
        }
        (Method::Nesterov { l, mu }, State::Nesterov { y, gy }) => {
            // x_{k+1} = y_k − ∇f(y_k)/L;  y_{k+1} = x_{k+1} + β_k (x_{k+1} − x_k).
            let inv_l = 1.0 / l;
            let beta = if mu > 0.0 {
                (l.sqrt() - mu.sqrt()) / (l.sqrt() + mu.sqrt())
            } else {
                (k - 1) as f64 / (k + 2) as f64
            };
            zip!(x.as_mut(), y.as_mut(), gy.as_ref()).for_each(|unzip!(x, y, gy)| {
                let xn = *y - *gy * inv_l;
                *y = xn + (xn - *x) * beta;
                *x = xn;
            });
            let f = eval(obj, x.as_ref(), g, k, work)?;
            eval(obj, y.as_ref(), gy, k, work)?;
            Ok(f)
        }
        (Method::Tmm { l, mu }, State::Tmm { xi, xi_prev, y, gy }) => {
            // ξ_{k+1} = (1+β)ξ_k − βξ_{k−1} − α∇f(y_k); y = (1+γ)ξ − γξ_prev;
            // reported iterate x = (1+δ)ξ − δξ_prev.
            let rho = 1.0 - (mu / l).sqrt();
            let alpha = (1.0 + rho) / l;
            let beta = rho * rho / (2.0 - rho);
            let gamma = rho * rho / ((1.0 + rho) * (2.0 - rho));
            let delta = rho * rho / (1.0 - rho * rho);
            zip!(
                x.as_mut(),
                xi.as_mut(),
                xi_prev.as_mut(),
                y.as_mut(),
                gy.as_ref()
            )
            .for_each(|unzip!(x, xi, xp, y, gy)| {
                let xi_new = *xi * (1.0 + beta) - *xp * beta - *gy * alpha;
                *xp = *xi;
                *xi = xi_new;
                *y = *xi * (1.0 + gamma) - *xp * gamma;
                *x = *xi * (1.0 + delta) - *xp * delta;
            });
            let f = eval(obj, x.as_ref(), g, k, work)?;
            eval(obj, y.as_ref(), gy, k, work)?;
            Ok(f)
        }
        (
            Method::Adam(p) | Method::AmsGrad(p) | Method::DiffGrad(p),
            State::Adam {
                m,
                v,
                vmax,
                prev_grad,
            },
        ) => {
            let t = k as i32;
            let (bc1, bc2) = (1.0 - p.beta1.powi(t), 1.0 - p.beta2.powi(t));
            let (b1, b2, wd) = (p.beta1, p.beta2, p.weight_decay);
            let moments = |gi: f64, m: &mut f64, v: &mut f64| {
                *m = b1 * *m + (1.0 - b1) * gi;
                *v = b2 * *v + (1.0 - b2) * gi * gi;
            };
            match method {
                Method::Adam(_) => zip!(x.as_mut(), g.as_ref(), m.as_mut(), v.as_mut()).for_each(
                    |unzip!(x, g, m, v)| {
                        let gi = *g + wd * *x;
                        moments(gi, m, v);
                        let denom = v.sqrt() / bc2.sqrt() + p.eps;
                        *x -= p.lr / bc1 * *m / denom;
                    },
                ),
                Method::AmsGrad(_) => zip!(
                    x.as_mut(),
                    g.as_ref(),
                    m.as_mut(),
                    v.as_mut(),
                    vmax.as_mut()
                )
                .for_each(|unzip!(x, g, m, v, vmax)| {
                    let gi = *g + wd * *x;
                    moments(gi, m, v);
                    *vmax = vmax.max(*v);
                    let denom = vmax.sqrt() / bc2.sqrt() + p.eps;
                    *x -= p.lr / bc1 * *m / denom;
                }),
                _ => zip!(
                    x.as_mut(),
                    g.as_ref(),
                    m.as_mut(),
                    v.as_mut(),
                    prev_grad.as_mut()
                )
                .for_each(|unzip!(x, g, m, v, pg)| {
                    let gi = *g + wd * *x;
                    moments(gi, m, v);
                    let xi = 1.0 / (1.0 + (-(*pg - gi).abs()).exp());
                    *pg = gi;
                    let denom = v.sqrt() + p.eps;
                    *x -= p.lr * bc2.sqrt() / bc1 * *m * xi / denom;
                }),
            }
            eval(obj, x.as_ref(), g, k, work)
        }
        _ => unreachable!("the state is built from the method"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objectives::PaperFunction;

    fn run_1d(f: PaperFunction, method: Method) -> f64 {
        let x0 = Col::from_fn(1, |_| -1.0);
        let rep = minimize(
            &f,
            x0.as_ref(),
            method,
            &RunParams {
                max_iters: 300,
                grad_tol: 0.0,
                ..Default::default()
            },
            |_| Control::Continue,
        )
        .unwrap();
        rep.x[0]
    }

    #[test]
    fn diffgrad_escapes_the_local_minimum_of_f1_where_adam_stays() {
        // The paper's setting (§V): β1 = 0.95, β2 = 0.999, lr = 0.1, x0 = −1, 300 steps.
        let p = AdamParams {
            lr: 0.1,
            beta1: 0.95,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        let d = run_1d(PaperFunction::F1, Method::DiffGrad(p));
        let a = run_1d(PaperFunction::F1, Method::Adam(p));
        assert!((d - -0.3).abs() < 1e-3, "diffGrad ended at {d}");
        assert!((a - 0.2).abs() < 1e-3, "Adam ended at {a}");
        // Reference values of a scalar re-run of the official notebook: −0.30007, 0.20011.
        assert!((d - -0.30007).abs() < 2e-4 && (a - 0.20011).abs() < 2e-4);
    }
}
