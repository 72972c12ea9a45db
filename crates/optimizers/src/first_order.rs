//! First-order methods on a [`linalg_core::Objective`] with one driver:
//! gradient descent (fixed step or Armijo backtracking), Nesterov (convex and
//! strongly convex), the triple momentum method, Adam, AMSGrad and diffGrad.

use linalg_core::faer::{Col, ColRef};
use linalg_core::{Control, Objective, Termination};

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

    fn validate(&self) -> Result<()> {
        positive("lr", self.lr)?;
        positive("eps", self.eps)?;
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::InvalidParameter {
                    name,
                    reason: format!("must be in [0, 1), got {b}"),
                });
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "weight_decay",
                reason: format!("must be finite and ≥ 0, got {}", self.weight_decay),
            });
        }
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

    fn validate(&self) -> Result<()> {
        match *self {
            Self::Gd { lr } => positive("lr", lr),
            Self::GdArmijo { lr0 } => positive("lr0", lr0),
            Self::Nesterov { l, mu } => {
                positive("l", l)?;
                if !(mu.is_finite() && (0.0..=l).contains(&mu)) {
                    return Err(Error::InvalidParameter {
                        name: "mu",
                        reason: format!("need 0 ≤ μ ≤ L, got μ = {mu}, L = {l}"),
                    });
                }
                Ok(())
            }
            Self::Tmm { l, mu } => {
                positive("l", l)?;
                positive("mu", mu)?;
                if mu > l {
                    return Err(Error::InvalidParameter {
                        name: "mu",
                        reason: format!("need μ ≤ L, got μ = {mu}, L = {l}"),
                    });
                }
                Ok(())
            }
            Self::Adam(p) | Self::AmsGrad(p) | Self::DiffGrad(p) => p.validate(),
        }
    }
}

pub(crate) fn positive(name: &'static str, v: f64) -> Result<()> {
    if !(v.is_finite() && v > 0.0) {
        return Err(Error::InvalidParameter {
            name,
            reason: format!("must be finite and > 0, got {v}"),
        });
    }
    Ok(())
}

/// Evaluates `f` and `∇f` at `x`, rejecting non-finite results with the iteration.
pub(crate) fn eval(
    obj: &impl Objective,
    x: ColRef<'_, f64>,
    g: &mut Col<f64>,
    iteration: usize,
) -> Result<f64> {
    let f = obj.gradient(x, g.as_mut());
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

pub(crate) fn check_start(obj: &impl Objective, x0: ColRef<'_, f64>) -> Result<()> {
    if x0.nrows() != obj.dim() {
        return Err(Error::Core(linalg_core::Error::DimensionMismatch {
            context: "starting point",
            expected: obj.dim(),
            found: x0.nrows(),
        }));
    }
    if let Some(i) = x0.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidParameter {
            name: "x0",
            reason: format!("non-finite entry {} at index {i}", x0[i]),
        });
    }
    Ok(())
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
    check_start(obj, x0)?;
    let mut rec = Recorder::new(*params, observer);
    let n = obj.dim();
    let mut x = x0.to_owned();
    let mut g = Col::<f64>::zeros(n);
    let mut f = eval(obj, x.as_ref(), &mut g, 0)?;
    let mut termination = rec.record(0, f, g.norm_l2(), None);
    // Method state.
    let mut x_prev = x.clone(); // Nesterov x_{k−1}; TMM ξ_{k−1}
    let mut y = x.clone(); // Nesterov / TMM extrapolated point
    let mut gy = g.clone();
    let mut m1 = Col::<f64>::zeros(n);
    let mut m2 = Col::<f64>::zeros(n);
    let mut vmax = Col::<f64>::zeros(n);
    let mut prev_grad = Col::<f64>::zeros(n);
    let mut lr_armijo = match method {
        Method::GdArmijo { lr0 } => lr0,
        _ => 0.0,
    };
    let mut k = 0;
    while termination == Termination::MaxIterations && k < params.max_iters {
        k += 1;
        let f_old = f;
        match method {
            Method::Gd { lr } => {
                x -= &g * lr;
                f = eval(obj, x.as_ref(), &mut g, k)?;
            }
            Method::GdArmijo { .. } => {
                let gg = g.squared_norm_l2();
                let mut gt = Col::<f64>::zeros(n);
                let mut accepted = false;
                for _ in 0..60 {
                    let xt = &x - &g * lr_armijo;
                    let ft = obj.gradient(xt.as_ref(), gt.as_mut());
                    if ft.is_finite() && ft <= f - 1e-4 * lr_armijo * gg {
                        x = xt;
                        accepted = true;
                        break;
                    }
                    lr_armijo *= 0.5;
                }
                if !accepted {
                    return Err(Error::LineSearch { iteration: k });
                }
                f = eval(obj, x.as_ref(), &mut g, k)?;
                lr_armijo *= 2.0;
            }
            Method::Nesterov { l, mu } => {
                // x_{k+1} = y_k − ∇f(y_k)/L;  y_{k+1} = x_{k+1} + β_k (x_{k+1} − x_k).
                let xn = &y - &gy * (1.0 / l);
                let beta = if mu > 0.0 {
                    (l.sqrt() - mu.sqrt()) / (l.sqrt() + mu.sqrt())
                } else {
                    (k - 1) as f64 / (k + 2) as f64
                };
                y = &xn + (&xn - &x) * beta;
                x_prev.copy_from(&x);
                x = xn;
                f = eval(obj, x.as_ref(), &mut g, k)?;
                eval(obj, y.as_ref(), &mut gy, k)?;
            }
            Method::Tmm { l, mu } => {
                // ξ_{k+1} = (1+β)ξ_k − βξ_{k−1} − α∇f(y_k); y = (1+γ)ξ − γξ_prev;
                // reported iterate x = (1+δ)ξ − δξ_prev. Here `x_prev`/`y` hold ξ_{k−1}
                // and y_k, and `m1` holds ξ_k.
                let rho = 1.0 - (mu / l).sqrt();
                let alpha = (1.0 + rho) / l;
                let beta = rho * rho / (2.0 - rho);
                let gamma = rho * rho / ((1.0 + rho) * (2.0 - rho));
                let delta = rho * rho / (1.0 - rho * rho);
                if k == 1 {
                    m1.copy_from(&x);
                    x_prev.copy_from(&x);
                }
                let xi_new = &m1 * (1.0 + beta) - &x_prev * beta - &gy * alpha;
                x_prev.copy_from(&m1);
                m1 = xi_new;
                y = &m1 * (1.0 + gamma) - &x_prev * gamma;
                x = &m1 * (1.0 + delta) - &x_prev * delta;
                f = eval(obj, x.as_ref(), &mut g, k)?;
                eval(obj, y.as_ref(), &mut gy, k)?;
            }
            Method::Adam(p) | Method::AmsGrad(p) | Method::DiffGrad(p) => {
                let t = k as i32;
                let (bc1, bc2) = (1.0 - p.beta1.powi(t), 1.0 - p.beta2.powi(t));
                for i in 0..n {
                    let gi = g[i] + p.weight_decay * x[i];
                    m1[i] = p.beta1 * m1[i] + (1.0 - p.beta1) * gi;
                    m2[i] = p.beta2 * m2[i] + (1.0 - p.beta2) * gi * gi;
                    match method {
                        Method::Adam(_) => {
                            let denom = m2[i].sqrt() / bc2.sqrt() + p.eps;
                            x[i] -= p.lr / bc1 * m1[i] / denom;
                        }
                        Method::AmsGrad(_) => {
                            vmax[i] = vmax[i].max(m2[i]);
                            let denom = vmax[i].sqrt() / bc2.sqrt() + p.eps;
                            x[i] -= p.lr / bc1 * m1[i] / denom;
                        }
                        _ => {
                            let xi = 1.0 / (1.0 + (-(prev_grad[i] - gi).abs()).exp());
                            prev_grad[i] = gi;
                            let denom = m2[i].sqrt() + p.eps;
                            x[i] -= p.lr * bc2.sqrt() / bc1 * m1[i] * xi / denom;
                        }
                    }
                }
                f = eval(obj, x.as_ref(), &mut g, k)?;
            }
        }
        termination = rec.record(k, f, g.norm_l2(), Some(f_old));
    }
    Ok(OptReport::new(method.name(), x, termination, rec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::PaperFunction;

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
