//! F2SA (Kwon, Kwon, Wright, Nowak, "A Fully First-Order Method for
//! Stochastic Bilevel Optimization", ICML 2023) as benchopt runs it
//! (benchopt/benchmark_bilevel `solvers/f2sa.py`, HEAD 3ad65dc): the
//! baseline the stochastic penalty method is compared with, on the same
//! counted minibatch oracles.
//!
//! ```text
//! for k = 0, 1, …   (steps c/(k + 1)^e with e = 5/7, 4/7, 4/7, 1/7 for γ_y, γ_z, α, Δλ)
//!   repeat T times: independent batches ξ₁, ξ₂ (lower), ζ (upper)
//!     y ← y − γ_y (λ∇_y g(x, y; ξ₁) + ∇_y f(x, y; ζ))
//!     z ← z − γ_z ∇_y g(x, z; ξ₂)
//!   fresh ζ', ξ₁', ξ₂':  d = ∇ₓf(x, y; ζ') + λ(∇ₓg(x, y; ξ₁') − ∇ₓg(x, z; ξ₂'))
//!   x ← x − α d;   λ ← λ + Δλ_k
//! ```
//!
//! Faithful to benchopt in the schedule, the independent batches and the
//! unscaled `λ∇g + ∇f` step; the only additions are the projections onto
//! `X` and `Y` (identity on benchopt's unconstrained problems) and our
//! epoch sampler (a permutation of the samples rather than of
//! contiguous blocks).

use linalg_core::faer::{Col, ColRef, unzip, zip};
use linalg_core::param::{at_least, positive};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::oracle::Oracle;
use crate::penalty::start_y;
use crate::problem::StochasticBilevel;
use crate::report::{BilevelRecord, BilevelReport};
use crate::stochastic::{Sampler, check_stochastic};
use crate::{Error, Result};

/// Parameters of [`f2sa`]; the defaults are benchopt's tuned values on its
/// quadratic (`config/quadratics_021424_best_params.yml`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F2saParams {
    /// The step constant `c` of `γ_y`, `γ_z` (default 0.1).
    pub step_size: f64,
    /// `α`'s constant is `step_size/outer_ratio` (default 1).
    pub outer_ratio: f64,
    /// Minibatch size (default 64).
    pub batch_size: usize,
    /// The starting multiplier `λ₀ = 1/σ₀` (default 1).
    pub lambda0: f64,
    /// The constant of the multiplier increment (default 0.01).
    pub delta_lambda: f64,
    /// Inner steps per outer step (default 10).
    pub inner_steps: usize,
    /// Outer-iteration limit (default 100 000).
    pub max_iters: usize,
    /// A record every this many outer iterations (default 50).
    pub eval_every: usize,
    /// Stop (converged) once the exact `ψ(x)` is at most this.
    pub target: Option<f64>,
    /// Seed of the samplers.
    pub seed: u64,
}

impl Default for F2saParams {
    fn default() -> Self {
        Self {
            step_size: 0.1,
            outer_ratio: 1.0,
            batch_size: 64,
            lambda0: 1.0,
            delta_lambda: 0.01,
            inner_steps: 10,
            max_iters: 100_000,
            eval_every: 50,
            target: None,
            seed: 0,
        }
    }
}

impl F2saParams {
    /// Sets the outer-iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Sets the target value of `ψ`.
    pub fn target(mut self, t: Option<f64>) -> Self {
        self.target = t;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Sets the record interval.
    pub fn eval_every(mut self, k: usize) -> Self {
        self.eval_every = k;
        self
    }
    /// Rejects non-positive steps and multipliers, a negative increment
    /// and zero sizes.
    pub fn validate(&self) -> Result<()> {
        positive("step_size", self.step_size)?;
        positive("outer_ratio", self.outer_ratio)?;
        at_least("batch_size", self.batch_size, 1)?;
        positive("lambda0", self.lambda0)?;
        linalg_core::param::nonnegative("delta_lambda", self.delta_lambda)?;
        at_least("inner_steps", self.inner_steps, 1)?;
        at_least("max_iters", self.max_iters, 1)?;
        at_least("eval_every", self.eval_every, 1)?;
        if let Some(t) = self.target {
            linalg_core::param::finite_value("target", t)?;
        }
        Ok(())
    }
}

/// F2SA from `x0`, `y0` (default zero) on minibatch oracles. Records as in
/// [`penalty_stochastic`](crate::penalty_stochastic), with `σ = 1/λ`.
pub fn f2sa<P: StochasticBilevel + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    params: &F2saParams,
    observer: impl FnMut(&BilevelRecord) -> Control,
) -> Result<BilevelReport> {
    params.validate()?;
    let (m, n) = check_stochastic(problem, x0, y0, params.target)?;
    let p = *params;
    let (nx, ny) = problem.dims();
    let mut o = Oracle::new(problem);
    let mut x = x0.to_owned();
    problem.x_set().project(x.as_mut());
    let mut y = start_y(problem, y0);
    problem.y_set().project(y.as_mut());
    let mut z = y.clone();
    let mut lower = Sampler::new(n, p.batch_size, p.seed);
    let mut upper = Sampler::new(m, p.batch_size, p.seed ^ 0x9e37_79b9_7f4a_7c15);
    let (mut dy, mut dz, mut dx, mut ty, mut tx) = (
        Col::<f64>::zeros(ny),
        Col::<f64>::zeros(ny),
        Col::<f64>::zeros(nx),
        Col::<f64>::zeros(ny),
        Col::<f64>::zeros(nx),
    );
    let mut lambda = p.lambda0;
    let mut rec = Recorder::new(p.max_iters, observer);
    let record = |rec: &mut Recorder<BilevelRecord, _>,
                  o: &mut Oracle<'_, P>,
                  k: usize,
                  x: &Col<f64>,
                  y: &Col<f64>,
                  z: &Col<f64>,
                  lambda: f64,
                  dn: f64|
     -> Result<Option<Termination>> {
        let fy = o.f(x.as_ref(), y.as_ref())?;
        let gy = o.g(x.as_ref(), y.as_ref())?;
        let gz = o.g(x.as_ref(), z.as_ref())?;
        let psi = problem.psi_exact(x.as_ref());
        let converged = matches!((p.target, psi), (Some(t), Some(v)) if v <= t);
        let r = BilevelRecord {
            iteration: k,
            sigma: 1.0 / lambda,
            value: fy + lambda * (gy - gz),
            grad_norm: dn,
            inner_iterations: p.inner_steps,
            gradient_calls: o.calls.gradient_calls(),
            seconds: rec.seconds(),
            psi,
        };
        Ok(rec.record(r, converged))
    };
    let mut termination = record(&mut rec, &mut o, 0, &x, &y, &z, lambda, f64::NAN)?;
    let mut k = 0;
    let mut dn = f64::NAN;
    while termination.is_none() {
        let kk = (k + 1) as f64;
        k += 1;
        o.iteration = k;
        let lr_y = p.step_size / kk.powf(5.0 / 7.0);
        let lr_z = p.step_size / kk.powf(4.0 / 7.0);
        let lr_x = p.step_size / p.outer_ratio / kk.powf(4.0 / 7.0);
        let d_lambda = p.delta_lambda / kk.powf(1.0 / 7.0);
        for _ in 0..p.inner_steps {
            o.g_grad_y_batch(x.as_ref(), y.as_ref(), lower.next_batch(), dy.as_mut())?;
            o.f_grad_y_batch(x.as_ref(), y.as_ref(), upper.next_batch(), ty.as_mut())?;
            zip!(dy.as_mut(), ty.as_ref()).for_each(|unzip!(d, t)| *d = lambda * *d + *t);
            o.g_grad_y_batch(x.as_ref(), z.as_ref(), lower.next_batch(), dz.as_mut())?;
            zip!(y.as_mut(), dy.as_ref()).for_each(|unzip!(v, d)| *v -= lr_y * *d);
            problem.y_set().project(y.as_mut());
            zip!(z.as_mut(), dz.as_ref()).for_each(|unzip!(v, d)| *v -= lr_z * *d);
            problem.y_set().project(z.as_mut());
        }
        o.f_grad_x_batch(x.as_ref(), y.as_ref(), upper.next_batch(), dx.as_mut())?;
        o.g_grad_x_batch(x.as_ref(), y.as_ref(), lower.next_batch(), tx.as_mut())?;
        zip!(dx.as_mut(), tx.as_ref()).for_each(|unzip!(d, t)| *d += lambda * *t);
        o.g_grad_x_batch(x.as_ref(), z.as_ref(), lower.next_batch(), tx.as_mut())?;
        zip!(dx.as_mut(), tx.as_ref()).for_each(|unzip!(d, t)| *d -= lambda * *t);
        zip!(x.as_mut(), dx.as_ref()).for_each(|unzip!(v, d)| *v -= lr_x * *d);
        problem.x_set().project(x.as_mut());
        lambda += d_lambda;
        dn = dx.norm_l2();
        if k % p.eval_every == 0 || k >= p.max_iters {
            termination = record(&mut rec, &mut o, k, &x, &y, &z, lambda, dn)?;
        }
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let calls = o.calls;
    let work = Work {
        gradient_evals: calls.gradient_calls(),
        value_evals: calls.value_calls(),
        ..Work::default()
    };
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
        method: "f2sa",
        x,
        y,
        z,
        sigma: 1.0 / lambda,
        value: last.map_or(f64::NAN, |r| r.value),
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
