//! The Deep Conjugate Direction Method's solver loop (Kaneda et al., ICML
//! 2023, Algorithm 1 and the official `dcdm` function), generic over the
//! model that proposes search directions.
//!
//! ```text
//! Algorithm 1 (DCDM)
//!   r₀ = b − A x₀
//!   for k = 1, 2, …
//!     q = f(r_{k−1} / ‖r_{k−1}‖)                    # the network (any model)
//!     q ← q − Σ_{j ∈ last k} (qᵀA d_j / d_jᵀA d_j) d_j   # A-orthogonalise
//!     α = qᵀ r_{k−1} / qᵀA q;   x_k = x_{k−1} + α q;   d_k = q
//!     r_k = b − A x_k
//!   until ‖r_k‖ ≤ rtol ‖r₀‖
//! ```
//!
//! Each iteration in detail: the model sees the normalised residual `r/‖r‖` and
//! returns `q`; `q` is projected onto the range of `A` (zero on non-fluid
//! cells, zero mean on pure-Neumann regions) and A-orthogonalised against
//! the last `k` directions by modified Gram–Schmidt; then
//! `α = (q·r)/(qᵀAq)`, `x ← x + αq`, and the residual is recomputed as
//! `b − Ax` (the official code) or updated as `r ← r − αAq` with a true
//! residual every `refresh_every` iterations. With the identity as the model
//! and `k = 2` this is CG; with an exact inverse it converges in one step.

use std::time::{Duration, Instant};

use linalg_core::faer::{Col, ColRef, Par};
use linalg_core::param::{at_least, positive};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::{Error, PoissonSystem, Result};

/// A source of search directions.
pub trait DirectionModel {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// Writes a search direction for the normalised residual `r` (`‖r‖ = 1`,
    /// length `n³`, zero outside the fluid) into `out` (same length). Any
    /// scale is fine: the loop is invariant to it.
    fn direction(&mut self, r: &[f64], out: &mut [f64]) -> Result<()>;
}

/// `q = r`: with `k ≥ 1` the loop is conjugate gradients.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityModel;

impl DirectionModel for IdentityModel {
    fn name(&self) -> &str {
        "identity"
    }
    fn direction(&mut self, r: &[f64], out: &mut [f64]) -> Result<()> {
        out.copy_from_slice(r);
        Ok(())
    }
}

/// Any preconditioner or approximate inverse given as a closure
/// `f(r, out)` (a multigrid cycle, a dense solve, a Jacobi sweep, …).
pub struct FnModel<F> {
    name: String,
    f: F,
}

impl<F: FnMut(&[f64], &mut [f64])> FnModel<F> {
    /// Wraps `f` under `name`.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        Self {
            name: name.into(),
            f,
        }
    }
}

impl<F: FnMut(&[f64], &mut [f64])> DirectionModel for FnModel<F> {
    fn name(&self) -> &str {
        &self.name
    }
    fn direction(&mut self, r: &[f64], out: &mut [f64]) -> Result<()> {
        (self.f)(r, out);
        Ok(())
    }
}

/// How the residual is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResidualMode {
    /// `r = b − Ax` every iteration (the official code; two products per iteration).
    Recompute,
    /// `r ← r − αAq`, with `r = b − Ax` every `refresh_every` iterations.
    Update {
        /// Period of the true-residual refresh (≥ 1).
        refresh_every: usize,
    },
}

/// Parameters of [`dcdm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcdmParams {
    /// Stop when `‖r‖ ≤ rtol·‖r₀‖` (default 1e-6).
    pub rtol: f64,
    /// Iteration limit (default 1000).
    pub max_iters: usize,
    /// Directions kept for A-orthogonalisation (default 2, as the paper).
    pub k: usize,
    /// Residual recomputation (default: every iteration, as the official code).
    pub residual: ResidualMode,
    /// Parallelism of the stencil products.
    pub par: Par,
}

impl Default for DcdmParams {
    fn default() -> Self {
        Self {
            rtol: 1e-6,
            max_iters: 1000,
            k: 2,
            residual: ResidualMode::Recompute,
            par: Par::rayon(0),
        }
    }
}

impl DcdmParams {
    /// Sets the relative tolerance.
    pub fn rtol(mut self, rtol: f64) -> Self {
        self.rtol = rtol;
        self
    }
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Sets the number of kept directions.
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }
    /// Sets the residual mode.
    pub fn residual(mut self, mode: ResidualMode) -> Self {
        self.residual = mode;
        self
    }
    /// Sets the parallelism of the stencil products.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }
    /// Rejects a non-positive tolerance, `max_iters`, `k` or `refresh_every` of 0.
    pub fn validate(&self) -> Result<()> {
        positive("rtol", self.rtol)?;
        at_least("max_iters", self.max_iters, 1)?;
        at_least("k", self.k, 1)?;
        if let ResidualMode::Update { refresh_every } = self.residual {
            at_least("refresh_every", refresh_every, 1)?;
        }
        Ok(())
    }
}

/// One DCDM iteration, as seen by observers and stored in the history.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcdmRecord {
    /// Iterations completed (0 = the start, `‖r₀‖/‖b‖ = 1`).
    pub iteration: usize,
    /// `‖r_k‖/‖b‖` of the loop's residual (recomputed or updated).
    pub relative_residual: f64,
    /// Seconds since the start of the solve.
    pub seconds: f64,
}

linalg_core::impl_iteration_record!(DcdmRecord);

// The fields every report shares (iterations, converged, termination,
// history, elapsed, work) repeat by design: docs/architecture.md §2.
/// The outcome of [`dcdm`].
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
pub struct DcdmReport {
    /// The model's name.
    pub model: String,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// Solution (gauge fixed: zero mean on each singular region).
    pub x: Col<f64>,
    /// Iterations done.
    pub iterations: usize,
    /// Whether `rtol` was reached.
    pub converged: bool,
    /// Why the loop stopped.
    pub termination: Termination,
    /// True `‖b − Ax‖/‖b‖` at the end (projected `b`).
    pub relative_residual: f64,
    /// One record per iteration (entry 0 is the start): the residual and
    /// the time at which it was reached (time to any tolerance from one run).
    pub history: Vec<DcdmRecord>,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// Wall time of the solve.
    pub elapsed: Duration,
    /// Wall time of the solve in seconds (`elapsed` as `f64`).
    pub seconds: f64,
    /// Of which spent in the model.
    pub model_seconds: f64,
    /// Whether `b` was projected onto the range.
    pub projected: bool,
    /// Stencil products (`matvecs`) and model applications (`precond_applies`).
    pub work: Work,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Runs the DCDM loop on `system` for the right-hand side `b`; the
/// observer sees every iterate (0 = the start) and may stop the run.
pub fn dcdm(
    system: &PoissonSystem,
    b: ColRef<'_, f64>,
    model: &mut impl DirectionModel,
    params: &DcdmParams,
    observer: impl FnMut(&DcdmRecord) -> Control,
) -> Result<DcdmReport> {
    params.validate()?;
    let n = system.len();
    if b.nrows() != n {
        return Err(Error::Core(linalg_core::Error::DimensionMismatch {
            context: "right-hand side (n³)",
            expected: n,
            found: b.nrows(),
        }));
    }
    if let Some(index) = b.iter().position(|v| !v.is_finite()) {
        return Err(Error::Core(linalg_core::Error::NonFinite {
            context: "right-hand side",
            index,
        }));
    }
    let mut bp: Vec<f64> = b.iter().copied().collect();
    let b0 = dot(&bp, &bp).sqrt();
    let removed = system.regions().project(&mut bp);
    let projected = b0 > 0.0 && removed / b0 > 1e-12;
    let bnorm = dot(&bp, &bp).sqrt();
    // All buffers once: x, r, z = r/‖r‖, q, Aq, and the k stored (d, Ad, dᵀAd).
    let mut x = vec![0.0; n];
    let mut r = bp.clone();
    let mut z = vec![0.0; n];
    let mut q = vec![0.0; n];
    let mut aq = vec![0.0; n];
    let mut dirs: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(params.k);
    let mut next = 0; // ring position of the oldest stored direction
    let mut rec = Recorder::new(params.max_iters, observer);
    let mut work = Work::default();
    let mut model_seconds = 0.0;
    let first = DcdmRecord {
        iteration: 0,
        relative_residual: if bnorm == 0.0 { 0.0 } else { 1.0 },
        seconds: rec.seconds(),
    };
    let mut termination = rec.record(first, bnorm == 0.0);
    let mut it = 0;
    while termination.is_none() {
        it += 1;
        let rn = dot(&r, &r).sqrt();
        for (zi, ri) in z.iter_mut().zip(&r) {
            *zi = ri / rn;
        }
        let t = Instant::now();
        model.direction(&z, &mut q)?;
        work.precond_applies += 1;
        model_seconds += t.elapsed().as_secs_f64();
        if let Some(index) = q.iter().position(|v| !v.is_finite()) {
            return Err(Error::Numerical(format!(
                "the direction model `{}` returned a non-finite value at cell {index} (iteration {it})",
                model.name()
            )));
        }
        system.regions().project(&mut q);
        // Modified Gram–Schmidt, oldest stored direction first.
        let m = dirs.len();
        for j in 0..m {
            let (d, ad, dad) = &dirs[(next + j) % m.max(1)];
            let h = dot(&q, ad) / dad;
            for (qi, di) in q.iter_mut().zip(d) {
                *qi -= h * di;
            }
        }
        system.apply_slices(&mut aq, &q, params.par);
        work.matvecs += 1;
        let qaq = dot(&q, &aq);
        if !(qaq > 0.0 && qaq.is_finite()) {
            return Err(Error::Numerical(format!(
                "the direction of model `{}` has qᵀAq = {qaq:e} at iteration {it}: after projection onto the range and A-orthogonalisation nothing is left (a model output in the null space or parallel to the kept directions)",
                model.name()
            )));
        }
        let alpha = dot(&q, &r) / qaq;
        for (xi, qi) in x.iter_mut().zip(&q) {
            *xi += alpha * qi;
        }
        let refresh = match params.residual {
            ResidualMode::Recompute => true,
            ResidualMode::Update { refresh_every } => it % refresh_every == 0,
        };
        if refresh {
            system.apply_slices(&mut r, &x, params.par);
            work.matvecs += 1;
            for (ri, bi) in r.iter_mut().zip(&bp) {
                *ri = bi - *ri;
            }
        } else {
            for (ri, ai) in r.iter_mut().zip(&aq) {
                *ri -= alpha * ai;
            }
        }
        // Store (q, Aq, qᵀAq), replacing the oldest once k are kept.
        if dirs.len() < params.k {
            dirs.push((q.clone(), aq.clone(), qaq));
        } else {
            let slot = &mut dirs[next];
            slot.0.copy_from_slice(&q);
            slot.1.copy_from_slice(&aq);
            slot.2 = qaq;
            next = (next + 1) % params.k;
        }
        let rel = dot(&r, &r).sqrt() / bnorm;
        let record = DcdmRecord {
            iteration: it,
            relative_residual: rel,
            seconds: rec.seconds(),
        };
        termination = rec.record(record, rel <= params.rtol);
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let (history, elapsed) = rec.finish();
    system.regions().project(&mut x);
    let mut ax = vec![0.0; n];
    system.apply_slices(&mut ax, &x, params.par);
    let true_res = ax
        .iter()
        .zip(&bp)
        .map(|(a, b)| (b - a) * (b - a))
        .sum::<f64>()
        .sqrt();
    Ok(DcdmReport {
        model: model.name().to_string(),
        x: Col::from_fn(n, |i| x[i]),
        iterations: it,
        converged: termination == Termination::Converged,
        termination,
        relative_residual: if bnorm > 0.0 { true_res / bnorm } else { 0.0 },
        history,
        elapsed,
        seconds: elapsed.as_secs_f64(),
        model_seconds,
        projected,
        work,
    })
}
