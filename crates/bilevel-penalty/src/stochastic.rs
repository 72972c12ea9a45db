//! The stochastic penalty methods (Kwon, Kwon, Wright, Nowak, ICLR 2024,
//! §4): the penalty gradient `∇ψ_σ = ∇ₓf(x, y) + (∇ₓg(x, y) − ∇ₓg(x, z))/σ`
//! estimated from minibatch oracles ([`StochasticBilevel`]).
//!
//! ```text
//! per outer iteration k (σ_k on a staged schedule σ ← max(σ_min, decay·σ)):
//!   repeat T times (T = inner_steps for the double loop, 1 otherwise):
//!     ξ ~ lower batch, ζ ~ upper batch
//!     z ← P_Y(z − γ_z ∇_y g(x, z; ξ))
//!     y ← P_Y(y − γ_y (σ∇_y f(x, y; ζ) + ∇_y g(x, y; ξ)))      # the same ξ as z
//!   ξ', ζ' fresh:  d = ∇ₓf(x, y; ζ') + (∇ₓg(x, y; ξ') − ∇ₓg(x, z; ξ'))/σ
//!   x ← P_X(x − α d)
//! variants:
//!   double loop     T = inner_steps plain SGD steps per outer step
//!   storm           T = 1; each of the three directions is a STORM estimate
//!                   d_t = G(w_t; ξ_t) + (1 − η)(d_{t−1} − G(w_{t−1}; ξ_t))
//!   two-time-scale  T = 1, plain SGD, α = γ/outer_ratio with outer_ratio ≫ 1
//!                   (F2BA's lr_x ≪ lr_y)
//! ```
//!
//! Choices (the paper has no code): **common random numbers** — the two
//! `∇g` terms of `d` share one batch, and so do the `z` and `y` steps — so
//! the `1/σ` in `d` multiplies `∇ₓg(y; ξ) − ∇ₓg(z; ξ) = O(‖y − z‖) = O(σ)`
//! and not two independent noises (benchopt's F2SA draws them
//! independently, and its variance grows like `λ² = 1/σ²`). Default steps
//! from the theory's `1/L` rules with smoothness constants estimated by
//! power iteration on the full-batch Hessians at the start (counted):
//! `γ_z = c/L_g`, `γ_y = c/(L_g + σL_f)`, `α = γ_z/outer_ratio`, the
//! estimates renewed every `curvature_every` iterations (the curvature
//! moves with `x`); see
//! `docs/bilevel-penalty.md`.

use linalg_core::faer::{Col, ColMut, ColRef, unzip, zip};
use linalg_core::param::{at_least, in_range, in_unit_interval, positive};
use linalg_core::{Control, Recorder, Termination, Work};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

use crate::oracle::Oracle;
use crate::penalty::{check_start, start_y};
use crate::problem::{BilevelProblem, StochasticBilevel};
use crate::report::{BilevelRecord, BilevelReport};
use crate::{Error, Result};

/// Seeded minibatches without replacement within an epoch (a fresh
/// permutation of the samples each epoch; a last partial batch is dropped).
#[derive(Debug)]
pub struct Sampler {
    order: Vec<usize>,
    pos: usize,
    batch: usize,
    rng: StdRng,
}

impl Sampler {
    /// Batches of `min(batch, n)` of the indices `0..n` (`n, batch ≥ 1`).
    pub fn new(n: usize, batch: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut order: Vec<usize> = (0..n.max(1)).collect();
        order.shuffle(&mut rng);
        Self {
            order,
            pos: 0,
            batch: batch.clamp(1, n.max(1)),
            rng,
        }
    }

    /// The next batch.
    pub fn next_batch(&mut self) -> &[usize] {
        if self.pos + self.batch > self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.pos = 0;
        }
        let b = &self.order[self.pos..self.pos + self.batch];
        self.pos += self.batch;
        b
    }
}

/// Which stochastic penalty method.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `inner_steps` SGD steps on `z` and `y` per outer step.
    DoubleLoop,
    /// Single loop with STORM momentum on all three directions.
    Storm,
    /// Single loop, plain SGD, the outer step `outer_ratio` times smaller.
    TwoTimeScale,
}

impl Variant {
    /// The report's method name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::DoubleLoop => "penalty-stochastic",
            Variant::Storm => "penalty-storm",
            Variant::TwoTimeScale => "penalty-2ts",
        }
    }
}

/// Parameters of [`penalty_stochastic`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticParams {
    /// The method (default [`Variant::DoubleLoop`]).
    pub variant: Variant,
    /// The starting penalty parameter `σ` (default 0.1).
    pub sigma: f64,
    /// The final `σ` (default: `sigma`, fixed).
    pub sigma_min: Option<f64>,
    /// `σ ← max(σ_min, decay·σ)` every `stage_iters` outer iterations (default 0.5).
    pub sigma_decay: f64,
    /// Outer iterations per `σ` stage (default 500).
    pub stage_iters: usize,
    /// Minibatch size of every oracle call (default 64).
    pub batch_size: usize,
    /// Inner SGD steps per outer step of the double loop (default 10).
    pub inner_steps: usize,
    /// The lower-level step `γ_z` (default `step_scale/L̂_g`, estimated).
    pub step_size: Option<f64>,
    /// The `c` of the default steps `c/L` (default 0.5).
    pub step_scale: f64,
    /// The outer step is `γ_z/outer_ratio` (benchopt's convention; default
    /// 1, and 10 for the two-time-scale variant). A problem whose value
    /// function is much flatter in `x` than the lower level is in `y` (a
    /// regularisation path) wants a ratio well below 1.
    pub outer_ratio: Option<f64>,
    /// Every step is multiplied by `(1 + k/decay_iters)^(−step_decay)` at
    /// outer iteration `k` (default exponent 1, the strongly convex rate; the noise floor of
    /// constant steps is proportional to the step).
    pub step_decay: f64,
    /// The `k₀` of the step decay (default 500).
    pub decay_iters: usize,
    /// Clip every coordinate's outer move to this trust radius (default ∞):
    /// with constant steps, a hypergradient spike can move `x` further
    /// than the lower-level iterates can follow.
    pub max_move: f64,
    /// Re-estimate the smoothness constants of the default steps every this
    /// many outer iterations (default 100): the lower-level curvature moves
    /// with `x` (a ridge weight `exp(x)` does), and a step sized at `x₀`
    /// can diverge later.
    pub curvature_every: usize,
    /// STORM's `η ∈ (0, 1]` (`1` is plain SGD; default 0.1).
    pub momentum: f64,
    /// Outer-iteration limit (default 10 000).
    pub max_iters: usize,
    /// A record every this many outer iterations (default 50).
    pub eval_every: usize,
    /// Stop (converged) once the exact `ψ(x)` is at most this; needs
    /// [`BilevelProblem::psi_exact`] (default none: run to `max_iters`).
    pub target: Option<f64>,
    /// Seed of the samplers.
    pub seed: u64,
}

impl Default for StochasticParams {
    fn default() -> Self {
        Self {
            variant: Variant::DoubleLoop,
            sigma: 0.1,
            sigma_min: None,
            sigma_decay: 0.5,
            stage_iters: 500,
            batch_size: 64,
            inner_steps: 10,
            step_size: None,
            step_scale: 0.5,
            outer_ratio: None,
            step_decay: 1.0,
            decay_iters: 500,
            max_move: f64::INFINITY,
            curvature_every: 100,
            momentum: 0.1,
            max_iters: 10_000,
            eval_every: 50,
            target: None,
            seed: 0,
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $t:ty),* $(,)?) => {
        $(#[$doc] pub fn $name(mut self, v: $t) -> Self { self.$name = v; self })*
    };
}

impl StochasticParams {
    setter! {
        /// Sets the variant.
        variant: Variant,
        /// Sets the starting `σ`.
        sigma: f64,
        /// Sets the final `σ`.
        sigma_min: Option<f64>,
        /// Sets the stage factor.
        sigma_decay: f64,
        /// Sets the stage length.
        stage_iters: usize,
        /// Sets the batch size.
        batch_size: usize,
        /// Sets the inner steps of the double loop.
        inner_steps: usize,
        /// Sets the lower-level step.
        step_size: Option<f64>,
        /// Sets the scale of the default steps.
        step_scale: f64,
        /// Sets the ratio of lower to upper step.
        outer_ratio: Option<f64>,
        /// Sets the step-decay exponent.
        step_decay: f64,
        /// Sets the step-decay scale.
        decay_iters: usize,
        /// Sets the trust radius of the outer moves.
        max_move: f64,
        /// Sets the curvature re-estimation interval.
        curvature_every: usize,
        /// Sets STORM's η.
        momentum: f64,
        /// Sets the outer-iteration limit.
        max_iters: usize,
        /// Sets the record interval.
        eval_every: usize,
        /// Sets the target value of `ψ`.
        target: Option<f64>,
        /// Sets the seed.
        seed: u64,
    }

    /// The final `σ`.
    pub fn final_sigma(&self) -> f64 {
        self.sigma_min.unwrap_or(self.sigma)
    }

    /// Rejects `σ ≤ 0`, `σ_min ∉ (0, σ]`, a decay outside `(0, 1]`, zero
    /// sizes and limits, non-positive steps, `η ∉ (0, 1]` and a NaN target.
    pub fn validate(&self) -> Result<()> {
        positive("sigma", self.sigma)?;
        if let Some(s) = self.sigma_min {
            in_range("sigma_min", s, f64::MIN_POSITIVE, self.sigma)?;
        }
        in_range("sigma_decay", self.sigma_decay, f64::MIN_POSITIVE, 1.0)?;
        at_least("stage_iters", self.stage_iters, 1)?;
        at_least("batch_size", self.batch_size, 1)?;
        at_least("inner_steps", self.inner_steps, 1)?;
        if let Some(s) = self.step_size {
            positive("step_size", s)?;
        }
        positive("step_scale", self.step_scale)?;
        if let Some(r) = self.outer_ratio {
            positive("outer_ratio", r)?;
        }
        linalg_core::param::in_range("step_decay", self.step_decay, 0.0, 1.0)?;
        at_least("decay_iters", self.decay_iters, 1)?;
        at_least("curvature_every", self.curvature_every, 1)?;
        if self.max_move.is_nan() || self.max_move <= 0.0 {
            return Err(linalg_core::ParamError::new(
                "max_move",
                format!("must be > 0 (∞ allowed), got {}", self.max_move),
            )
            .into());
        }
        in_unit_interval("momentum", self.momentum)?;
        positive("momentum", self.momentum)?;
        at_least("max_iters", self.max_iters, 1)?;
        at_least("eval_every", self.eval_every, 1)?;
        if let Some(t) = self.target {
            linalg_core::param::finite_value("target", t)?;
        }
        Ok(())
    }
}

/// The largest eigenvalue of a full-batch Hessian block at `(x, y)` by 20
/// power steps on central differences of the gradient: `wrt_x` picks the
/// `x` block (`∇²ₓₓ`), else the `y` block; `upper` picks `h = f`, else `g`.
/// At least `1e-12`. (20 products of a block this small do not need
/// Lanczos; the difference step is `ε^{1/3}·max(1, ‖point‖)`.)
fn power_iteration<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    y: ColRef<'_, f64>,
    upper: bool,
    wrt_x: bool,
) -> Result<f64> {
    let point = if wrt_x { x } else { y };
    let k = point.nrows();
    let mut v = Col::<f64>::from_fn(k, |i| 1.0 + 0.1 * ((i * 7919) % 13) as f64);
    v /= v.norm_l2();
    let (mut gp, mut gm) = (Col::<f64>::zeros(k), Col::<f64>::zeros(k));
    let h = f64::EPSILON.cbrt() * point.norm_l2().max(1.0);
    let mut lambda = 0.0;
    for _ in 0..20 {
        let pp = point + &v * h;
        let pm = point - &v * h;
        match (upper, wrt_x) {
            (true, false) => {
                o.f_grad_y(x, pp.as_ref(), gp.as_mut())?;
                o.f_grad_y(x, pm.as_ref(), gm.as_mut())?;
            }
            (false, false) => {
                o.g_grad_y(x, pp.as_ref(), gp.as_mut())?;
                o.g_grad_y(x, pm.as_ref(), gm.as_mut())?;
            }
            (true, true) => {
                o.f_grad_x(pp.as_ref(), y, gp.as_mut())?;
                o.f_grad_x(pm.as_ref(), y, gm.as_mut())?;
            }
            (false, true) => {
                o.g_grad_x(pp.as_ref(), y, gp.as_mut())?;
                o.g_grad_x(pm.as_ref(), y, gm.as_mut())?;
            }
        }
        let hv = (&gp - &gm) * (0.5 / h);
        let n = hv.norm_l2();
        lambda = n;
        if n == 0.0 {
            break;
        }
        v = hv / n;
    }
    Ok(lambda.max(1e-12))
}

/// `λ_max(∇²_yy h)` (see [`power_iteration`]).
pub(crate) fn smoothness<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    y: ColRef<'_, f64>,
    upper: bool,
) -> Result<f64> {
    power_iteration(o, x, y, upper, false)
}

/// `λ_max(∇²ₓₓ h)` (see [`power_iteration`]).
pub(crate) fn smoothness_x<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    y: ColRef<'_, f64>,
    upper: bool,
) -> Result<f64> {
    power_iteration(o, x, y, upper, true)
}

/// What both stochastic drivers check before they start: the points, a
/// target only where `ψ` is known, at least one sample per level.
pub(crate) fn check_stochastic<P: StochasticBilevel + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    target: Option<f64>,
) -> Result<(usize, usize)> {
    check_start(problem, x0, y0)?;
    if target.is_some() && problem.psi_exact(x0).is_none() {
        return Err(linalg_core::ParamError::new(
            "target",
            "needs a problem that knows its value function (psi_exact)",
        )
        .into());
    }
    let (m, n) = problem.n_samples();
    at_least("n_samples (upper)", m, 1)?;
    at_least("n_samples (lower)", n, 1)?;
    Ok((m, n))
}

/// The three STORM estimators (or plain minibatch directions with `η = 1`).
struct Directions {
    z: Col<f64>,
    y: Col<f64>,
    x: Col<f64>,
}

/// Scratch for one iteration's batch gradients.
struct Scratch {
    ty: Col<f64>,
    tx: Col<f64>,
    gz: Col<f64>,
    gy: Col<f64>,
    gx: Col<f64>,
}

/// The minibatch directions at `(x, y, z)` for batches `lo` (lower) and
/// `up` (upper): `∇_y g(z)`, `σ∇_y f(y) + ∇_y g(y)` and the penalty gradient.
#[allow(clippy::too_many_arguments)]
fn directions<P: StochasticBilevel + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    y: ColRef<'_, f64>,
    z: ColRef<'_, f64>,
    sigma: f64,
    lo: &[usize],
    up: &[usize],
    want_x: bool,
    s: &mut Scratch,
) -> Result<()> {
    o.g_grad_y_batch(x, z, lo, s.gz.as_mut())?;
    o.g_grad_y_batch(x, y, lo, s.gy.as_mut())?;
    o.f_grad_y_batch(x, y, up, s.ty.as_mut())?;
    zip!(s.gy.as_mut(), s.ty.as_ref()).for_each(|unzip!(g, t)| *g += sigma * *t);
    if want_x {
        o.f_grad_x_batch(x, y, up, s.gx.as_mut())?;
        o.g_grad_x_batch(x, y, lo, s.tx.as_mut())?;
        let inv = 1.0 / sigma;
        zip!(s.gx.as_mut(), s.tx.as_ref()).for_each(|unzip!(g, t)| *g += inv * *t);
        o.g_grad_x_batch(x, z, lo, s.tx.as_mut())?;
        zip!(s.gx.as_mut(), s.tx.as_ref()).for_each(|unzip!(g, t)| *g -= inv * *t);
    }
    Ok(())
}

/// `x ← P_X(x − t·d)` with each coordinate's move clipped to `max_move`.
fn outer_step(
    set: &crate::Constraint,
    mut x: ColMut<'_, f64>,
    d: ColRef<'_, f64>,
    t: f64,
    max_move: f64,
) {
    zip!(x.as_mut(), d).for_each(|unzip!(v, d)| *v -= (t * *d).clamp(-max_move, max_move));
    set.project(x);
}

/// `v ← P(v − t·d)`.
fn step(set: &crate::Constraint, mut v: ColMut<'_, f64>, d: ColRef<'_, f64>, t: f64) {
    zip!(v.as_mut(), d).for_each(|unzip!(v, d)| *v -= t * *d);
    set.project(v);
}

/// The stochastic penalty method from `x0` (projected onto `X`); `y0`
/// starts both lower variables (default zero). The observer sees a record
/// every `eval_every` outer iterations: `value` is the full-batch `ψ_σ`
/// estimate `f(x, y) + (g(x, y) − g(x, z))/σ` at the iterates (value calls
/// only), `grad_norm` the norm of the last minibatch direction `d`, `psi`
/// the exact value where the problem has it.
pub fn penalty_stochastic<P: StochasticBilevel + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    params: &StochasticParams,
    observer: impl FnMut(&BilevelRecord) -> Control,
) -> Result<BilevelReport> {
    params.validate()?;
    let (m, n) = check_stochastic(problem, x0, y0, params.target)?;
    let (nx, ny) = problem.dims();
    let mut o = Oracle::new(problem);
    let mut x = x0.to_owned();
    problem.x_set().project(x.as_mut());
    let mut y = start_y(problem, y0);
    problem.y_set().project(y.as_mut());
    let mut z = y.clone();

    let p = *params;
    let mut lg = smoothness(&mut o, x.as_ref(), y.as_ref(), false)?;
    let mut lf = smoothness(&mut o, x.as_ref(), y.as_ref(), true)?;
    let mut gamma_z = p.step_size.unwrap_or(p.step_scale / lg);
    let gamma_y = |sigma: f64, gamma_z: f64, lg: f64, lf: f64| gamma_z * lg / (lg + sigma * lf);
    let ratio = p.outer_ratio.unwrap_or(match p.variant {
        Variant::TwoTimeScale => 10.0,
        _ => 1.0,
    });
    // The outer step keeps its first value: only the lower-level steps follow
    // the re-estimated curvature.
    let alpha0 = gamma_z / ratio;
    let (inner_steps, eta) = match p.variant {
        Variant::DoubleLoop => (p.inner_steps, 1.0),
        Variant::Storm => (1, p.momentum),
        Variant::TwoTimeScale => (1, 1.0),
    };

    let mut lower = Sampler::new(n, p.batch_size, p.seed);
    let mut upper = Sampler::new(m, p.batch_size, p.seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut s = Scratch {
        ty: Col::zeros(ny),
        tx: Col::zeros(nx),
        gz: Col::zeros(ny),
        gy: Col::zeros(ny),
        gx: Col::zeros(nx),
    };
    let mut d = Directions {
        z: Col::zeros(ny),
        y: Col::zeros(ny),
        x: Col::zeros(nx),
    };
    let (mut xp, mut yp, mut zp) = (x.clone(), y.clone(), z.clone());
    let mut work = Work::default();
    let mut rec = Recorder::new(p.max_iters, observer);
    let sigma_min = p.final_sigma();
    let mut sigma = p.sigma;
    let target = p.target;
    let mut last_d = f64::NAN;

    let evaluate = |o: &mut Oracle<'_, P>,
                    x: &Col<f64>,
                    y: &Col<f64>,
                    z: &Col<f64>,
                    sigma: f64|
     -> Result<f64> {
        let fy = o.f(x.as_ref(), y.as_ref())?;
        let gy = o.g(x.as_ref(), y.as_ref())?;
        let gz = o.g(x.as_ref(), z.as_ref())?;
        Ok(fy + (gy - gz) / sigma)
    };
    let make = |rec: &mut Recorder<BilevelRecord, _>,
                o: &mut Oracle<'_, P>,
                k: usize,
                x: &Col<f64>,
                y: &Col<f64>,
                z: &Col<f64>,
                sigma: f64,
                dn: f64|
     -> Result<Option<Termination>> {
        let value = evaluate(o, x, y, z, sigma)?;
        let psi = problem.psi_exact(x.as_ref());
        let converged = matches!((target, psi), (Some(t), Some(v)) if v <= t);
        let r = BilevelRecord {
            iteration: k,
            sigma,
            value,
            grad_norm: dn,
            inner_iterations: inner_steps,
            gradient_calls: o.calls.gradient_calls(),
            seconds: rec.seconds(),
            psi,
        };
        Ok(rec.record(r, converged))
    };
    let mut termination = make(&mut rec, &mut o, 0, &x, &y, &z, sigma, last_d)?;
    let mut k = 0;
    let mut first = true;
    while termination.is_none() {
        k += 1;
        o.iteration = k;
        if k > 1 && (k - 1) % p.stage_iters == 0 && sigma > sigma_min {
            sigma = (sigma * p.sigma_decay).max(sigma_min);
        }
        if k > 1 && (k - 1) % p.curvature_every == 0 {
            // The curvature moves with x (a ridge weight exp(x) does): the
            // default lower-level steps are re-derived (80 full-batch
            // gradient calls, counted).
            if p.step_size.is_none() {
                lg = smoothness(&mut o, x.as_ref(), y.as_ref(), false)?;
                lf = smoothness(&mut o, x.as_ref(), y.as_ref(), true)?;
                gamma_z = p.step_scale / lg;
            }
        }
        let shrink = (1.0 + k as f64 / p.decay_iters as f64).powf(-p.step_decay);
        let gy = gamma_y(sigma, gamma_z, lg, lf) * shrink;
        let gz = gamma_z * shrink;
        let alpha = alpha0 * shrink;
        for t in 0..inner_steps {
            let single = inner_steps == 1;
            let lo = lower.next_batch();
            let up = upper.next_batch();
            // One-loop variants take the x direction with the same batches.
            directions(
                &mut o,
                x.as_ref(),
                y.as_ref(),
                z.as_ref(),
                sigma,
                lo,
                up,
                single,
                &mut s,
            )?;
            if eta < 1.0 && !first {
                // STORM: d ← G(w_t) + (1 − η)(d − G(w_{t−1})), same batch.
                // In place, no temporaries: d ← (1 − η)d + G(w_t), then
                // d ← d − (1 − η)G(w_{t−1}).
                let keep = 1.0 - eta;
                for (dv, g) in [(&mut d.z, &s.gz), (&mut d.y, &s.gy), (&mut d.x, &s.gx)] {
                    zip!(dv.as_mut(), g.as_ref()).for_each(|unzip!(dv, g)| *dv = keep * *dv + *g);
                }
                directions(
                    &mut o,
                    xp.as_ref(),
                    yp.as_ref(),
                    zp.as_ref(),
                    sigma,
                    lo,
                    up,
                    true,
                    &mut s,
                )?;
                for (dv, g) in [(&mut d.z, &s.gz), (&mut d.y, &s.gy), (&mut d.x, &s.gx)] {
                    zip!(dv.as_mut(), g.as_ref()).for_each(|unzip!(dv, g)| *dv -= keep * *g);
                }
            } else {
                d.z.copy_from(&s.gz);
                d.y.copy_from(&s.gy);
                if single {
                    d.x.copy_from(&s.gx);
                }
            }
            first = false;
            xp.copy_from(&x);
            yp.copy_from(&y);
            zp.copy_from(&z);
            step(problem.y_set(), z.as_mut(), d.z.as_ref(), gz);
            step(problem.y_set(), y.as_mut(), d.y.as_ref(), gy);
            if single {
                outer_step(problem.x_set(), x.as_mut(), d.x.as_ref(), alpha, p.max_move);
            }
            let _ = t;
        }
        if inner_steps > 1 {
            let lo = lower.next_batch();
            let up = upper.next_batch();
            o.f_grad_x_batch(x.as_ref(), y.as_ref(), up, d.x.as_mut())?;
            o.g_grad_x_batch(x.as_ref(), y.as_ref(), lo, s.tx.as_mut())?;
            let inv = 1.0 / sigma;
            zip!(d.x.as_mut(), s.tx.as_ref()).for_each(|unzip!(g, t)| *g += inv * *t);
            o.g_grad_x_batch(x.as_ref(), z.as_ref(), lo, s.tx.as_mut())?;
            zip!(d.x.as_mut(), s.tx.as_ref()).for_each(|unzip!(g, t)| *g -= inv * *t);
            outer_step(problem.x_set(), x.as_mut(), d.x.as_ref(), alpha, p.max_move);
        }
        last_d = d.x.norm_l2();
        if k % p.eval_every == 0 || k >= p.max_iters {
            termination = make(&mut rec, &mut o, k, &x, &y, &z, sigma, last_d)?;
        }
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let calls = o.calls;
    work.gradient_evals = calls.gradient_calls();
    work.value_evals = calls.value_calls();
    let (history, elapsed) = rec.finish();
    let last = history.last().copied();
    let upper_value = problem.f(x.as_ref(), y.as_ref());
    if !upper_value.is_finite() {
        return Err(Error::NonFinite {
            oracle: "f",
            iteration: k,
        });
    }
    Ok(BilevelReport {
        method: p.variant.name(),
        x,
        y,
        z,
        sigma,
        value: last.map_or(f64::NAN, |r| r.value),
        upper_value,
        grad_norm: last_d,
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
