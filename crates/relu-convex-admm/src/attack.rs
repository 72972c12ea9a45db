//! `ℓ∞` attacks on a [`TwoLayerNet`] classifier with `±1` targets, robust
//! accuracy, and the adversarial-training objective of the nonconvex
//! network (the baseline the robust convex program is compared with).
//!
//! Both attacks lower the margin `yₖ f(xₖ + δ)` over `‖δ‖∞ ≤ ε` on the
//! perturbed columns (a bias column stays fixed), with the exact input
//! gradient `∇ₓf = Σⱼ αⱼ 1[uⱼᵀx > 0] uⱼ`:
//! - FGSM (Goodfellow et al. 2015): one step `δ = −ε yₖ sign ∇ₓf(xₖ)`;
//! - PGD (Madry et al. 2018): `steps` sign-gradient steps of size `step`
//!   from `δ = 0`, each projected back onto the box; the lowest-margin
//!   iterate of each sample is returned.
//!
//! Where `x + δ` keeps every neuron's sign over the whole box, `f` is
//! linear there and FGSM is exact; this is the case the robust program's
//! cone constraints enforce on the training data (tested).

use linalg_core::faer::{Col, ColMut, ColRef, Mat, MatRef};

use crate::Result;
use crate::loss::Loss;
use crate::network::{NonconvexObjective, TwoLayerNet};

/// Parameters of [`pgd`], validated once.
#[derive(Debug, Clone, PartialEq)]
pub struct PgdParams {
    /// The radius `ε ≥ 0`.
    pub eps: f64,
    /// Steps (default 20, at most 10 000).
    pub steps: usize,
    /// Step size (default `2.5ε/steps`, Madry et al.'s rule).
    pub step: Option<f64>,
    /// Columns left unperturbed (a bias column).
    pub fixed_columns: Vec<usize>,
}

impl PgdParams {
    /// Defaults at radius `eps`.
    pub fn new(eps: f64) -> Self {
        Self {
            eps,
            steps: 20,
            step: None,
            fixed_columns: Vec::new(),
        }
    }
    /// Sets the number of steps.
    pub fn steps(mut self, k: usize) -> Self {
        self.steps = k;
        self
    }
    /// Leaves the given columns unperturbed.
    pub fn fixed_columns(mut self, cols: &[usize]) -> Self {
        self.fixed_columns = cols.to_vec();
        self
    }
    /// Rejects a negative or non-finite radius or step, zero or more than
    /// 10 000 steps.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::nonnegative("eps", self.eps)?;
        linalg_core::param::in_range("eps", self.eps, 0.0, 1e6)?;
        linalg_core::param::in_range("steps", self.steps as f64, 1.0, 1e4)?;
        if let Some(s) = self.step {
            linalg_core::param::positive("step", s)?;
        }
        Ok(())
    }
}

fn check(
    net: &TwoLayerNet,
    x: MatRef<'_, f64>,
    y: &Col<f64>,
    fixed: &[usize],
) -> Result<Vec<bool>> {
    linalg_core::param::dimension("x (columns)", net.hidden.nrows(), x.ncols())?;
    linalg_core::param::at_least("samples", x.nrows(), 1)?;
    linalg_core::param::dimension("y", x.nrows(), y.nrows())?;
    for j in 0..x.ncols() {
        linalg_core::param::finite("x", x.col(j))?;
    }
    if (0..y.nrows()).any(|i| y[i].abs() != 1.0) {
        return Err(linalg_core::ParamError::new("y", "attack targets must be -1 or +1").into());
    }
    let mut pf = vec![true; x.ncols()];
    for &c in fixed {
        if c >= x.ncols() {
            return Err(linalg_core::ParamError::new(
                "fixed columns",
                format!(
                    "column {c} is out of range (the data have {} columns)",
                    x.ncols()
                ),
            )
            .into());
        }
        pf[c] = false;
    }
    Ok(pf)
}

/// Margins `yₖ f(xₖ)` and, per row, the input gradient's signs times `−yₖ`
/// (the descent direction of the margin) written into `dir`.
fn margins_and_directions(
    net: &TwoLayerNet,
    x: &Mat<f64>,
    y: &Col<f64>,
    dir: &mut Mat<f64>,
) -> Col<f64> {
    let z = x * &net.hidden;
    let m = net.neurons();
    // gate ∘ α: n × m, then ∇ = (gate ∘ α) Uᵀ (n × d).
    let ga = Mat::from_fn(x.nrows(), m, |i, j| {
        if z[(i, j)] > 0.0 { net.output[j] } else { 0.0 }
    });
    let grad = &ga * net.hidden.transpose();
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            let g = grad[(i, j)];
            dir[(i, j)] = if g > 0.0 {
                -y[i]
            } else if g < 0.0 {
                y[i]
            } else {
                0.0
            };
        }
    }
    Col::from_fn(x.nrows(), |i| {
        y[i] * (0..m)
            .map(|j| net.output[j] * z[(i, j)].max(0.0))
            .sum::<f64>()
    })
}

/// The FGSM inputs `xₖ − ε yₖ sign ∇ₓf(xₖ)` (`fixed` columns unchanged).
pub fn fgsm(
    net: &TwoLayerNet,
    x: MatRef<'_, f64>,
    y: &Col<f64>,
    eps: f64,
    fixed: &[usize],
) -> Result<Mat<f64>> {
    PgdParams::new(eps).validate()?;
    let pf = check(net, x, y, fixed)?;
    let x0 = x.to_owned();
    let mut dir = Mat::zeros(x.nrows(), x.ncols());
    margins_and_directions(net, &x0, y, &mut dir);
    Ok(Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        if pf[j] {
            x0[(i, j)] + eps * dir[(i, j)]
        } else {
            x0[(i, j)]
        }
    }))
}

/// The PGD inputs (module docs): per sample, the lowest-margin iterate.
pub fn pgd(
    net: &TwoLayerNet,
    x: MatRef<'_, f64>,
    y: &Col<f64>,
    params: &PgdParams,
) -> Result<Mat<f64>> {
    params.validate()?;
    let pf = check(net, x, y, &params.fixed_columns)?;
    let (n, d) = (x.nrows(), x.ncols());
    let eps = params.eps;
    let step = params.step.unwrap_or(2.5 * eps / params.steps as f64);
    let mut cur = x.to_owned();
    let mut best = x.to_owned();
    let mut dir = Mat::zeros(n, d);
    let mut best_margin = margins_and_directions(net, &cur, y, &mut dir);
    for _ in 0..params.steps {
        for j in 0..d {
            if !pf[j] {
                continue;
            }
            for i in 0..n {
                let delta = (cur[(i, j)] + step * dir[(i, j)] - x[(i, j)]).clamp(-eps, eps);
                cur[(i, j)] = x[(i, j)] + delta;
            }
        }
        let m = margins_and_directions(net, &cur, y, &mut dir);
        for i in 0..n {
            if m[i] < best_margin[i] {
                best_margin[i] = m[i];
                for j in 0..d {
                    best[(i, j)] = cur[(i, j)];
                }
            }
        }
    }
    Ok(best)
}

/// The share of rows of `x` that `net` classifies correctly after PGD.
pub fn robust_accuracy(
    net: &TwoLayerNet,
    x: MatRef<'_, f64>,
    y: &Col<f64>,
    params: &PgdParams,
) -> Result<f64> {
    let adv = pgd(net, x, y, params)?;
    Ok(net.accuracy(adv.as_ref(), y))
}

/// PGD adversarial training's objective for the width-`m` network:
/// `θ ↦ ℓ(f_θ(X_adv(θ))) + (β/2)‖θ‖²`, where `X_adv(θ)` is [`pgd`] against
/// the current network; its gradient is the clean objective's gradient at
/// `X_adv` (Danskin's theorem, as in Madry et al.'s training loop). Train
/// it with any first-order method of `optimizers` (Adam in the baseline).
#[derive(Debug, Clone)]
pub struct AdversarialObjective {
    x: Mat<f64>,
    y: Col<f64>,
    loss: Loss,
    beta: f64,
    width: usize,
    attack: PgdParams,
    clean: NonconvexObjective,
}

impl AdversarialObjective {
    /// As [`NonconvexObjective::new`], with the attack (targets `±1`).
    pub fn new(
        x: MatRef<'_, f64>,
        y: &Col<f64>,
        loss: Loss,
        beta: f64,
        width: usize,
        attack: PgdParams,
    ) -> Result<Self> {
        attack.validate()?;
        let clean = NonconvexObjective::new(x, y, loss, beta, width)?;
        let probe = TwoLayerNet {
            hidden: Mat::zeros(x.ncols(), 1),
            output: vec![0.0],
        };
        check(&probe, x, y, &attack.fixed_columns)?;
        Ok(Self {
            x: x.to_owned(),
            y: y.clone(),
            loss,
            beta,
            width,
            attack,
            clean,
        })
    }

    /// The clean objective of the same network (for `init` and `network`).
    pub fn clean(&self) -> &NonconvexObjective {
        &self.clean
    }

    fn adversarial(&self, theta: ColRef<'_, f64>) -> Option<NonconvexObjective> {
        if theta.nrows() != linalg_core::Objective::dim(&self.clean) {
            return None;
        }
        let net = self.clean.network(theta);
        let adv = pgd(&net, self.x.as_ref(), &self.y, &self.attack).ok()?;
        NonconvexObjective::new(adv.as_ref(), &self.y, self.loss, self.beta, self.width).ok()
    }
}

impl linalg_core::Objective for AdversarialObjective {
    fn dim(&self) -> usize {
        self.clean.dim()
    }

    fn value(&self, theta: ColRef<'_, f64>) -> f64 {
        match self.adversarial(theta) {
            Some(o) => o.value(theta),
            None => f64::NAN,
        }
    }

    fn gradient(&self, theta: ColRef<'_, f64>, mut grad: ColMut<'_, f64>) -> f64 {
        match self.adversarial(theta) {
            Some(o) if grad.nrows() == self.dim() => o.gradient(theta, grad),
            _ => {
                grad.fill(f64::NAN);
                f64::NAN
            }
        }
    }
}
