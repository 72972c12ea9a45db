//! The parameters of [`sinkhorn`](crate::sinkhorn) and [`sns`](crate::sns),
//! each with `Default`, chainable setters and a public `validate()`.

use linalg_core::param::{at_least, in_open_unit_interval, nonnegative, positive};

use crate::Result;

/// How [`sinkhorn`](crate::sinkhorn) iterates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SinkhornMethod {
    /// Kernel-space scaling with log-domain absorption where it is safe,
    /// log-domain sweeps where it is not (the default).
    #[default]
    Auto,
    /// Log-domain sweeps only: an exponential per entry per half-sweep, but
    /// safe for any ε.
    Log,
}

/// Parameters of [`sinkhorn`](crate::sinkhorn).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkhornParams {
    /// Stop when the marginal error `‖r − P1‖₁ + ‖c − Pᵀ1‖₁` is below this (default 1e-9).
    pub marginal_tol: f64,
    /// Iteration (sweep) limit (default 100 000).
    pub max_iters: usize,
    /// Check the marginal error every `check_every` sweeps (default 10).
    pub check_every: usize,
    /// Kernel-space with absorption (`Auto`) or log-domain only (`Log`).
    pub method: SinkhornMethod,
    /// ε-scaling (continuation): solve a sequence of larger regularisations
    /// first, each warm-starting the next (default off).
    pub eps_scaling: Option<EpsScaling>,
}

impl Default for SinkhornParams {
    fn default() -> Self {
        Self {
            marginal_tol: 1e-9,
            max_iters: 100_000,
            check_every: 10,
            method: SinkhornMethod::Auto,
            eps_scaling: None,
        }
    }
}

impl SinkhornParams {
    /// Sets the marginal-error tolerance.
    pub fn marginal_tol(mut self, tol: f64) -> Self {
        self.marginal_tol = tol;
        self
    }
    /// Sets the sweep limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Sets how often the marginal error is computed.
    pub fn check_every(mut self, k: usize) -> Self {
        self.check_every = k;
        self
    }
    /// Sets the iteration kind.
    pub fn method(mut self, m: SinkhornMethod) -> Self {
        self.method = m;
        self
    }
    /// Sets (or clears) the ε-scaling schedule.
    pub fn eps_scaling(mut self, s: Option<EpsScaling>) -> Self {
        self.eps_scaling = s;
        self
    }
    /// Rejects a non-positive tolerance, zero `max_iters` or `check_every`,
    /// and an invalid ε-scaling schedule.
    pub fn validate(&self) -> Result<()> {
        positive("marginal_tol", self.marginal_tol)?;
        at_least("max_iters", self.max_iters, 1)?;
        at_least("check_every", self.check_every, 1)?;
        if let Some(sc) = self.eps_scaling {
            sc.validate()?;
        }
        Ok(())
    }
}

/// An ε-scaling schedule: `ε_k = max(ε, start·factor^k)`, `k = 0, 1, …`; every
/// stage but the last runs to marginal error `stage_tol` (or the final
/// tolerance if larger), and its potentials warm-start the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsScaling {
    /// The first regularisation `ε_0` (absolute, same units as the cost).
    pub start: f64,
    /// The decay per stage, in `(0, 1)`.
    pub factor: f64,
    /// Marginal error at which an intermediate stage ends.
    pub stage_tol: f64,
}

impl EpsScaling {
    /// `start`, `factor`, and `stage_tol = 1e-3`.
    pub fn new(start: f64, factor: f64) -> Self {
        Self {
            start,
            factor,
            stage_tol: 1e-3,
        }
    }

    /// Sets the first regularisation `ε_0`.
    pub fn start(mut self, start: f64) -> Self {
        self.start = start;
        self
    }

    /// Sets the decay per stage.
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets the tolerance of the intermediate stages.
    pub fn stage_tol(mut self, tol: f64) -> Self {
        self.stage_tol = tol;
        self
    }

    /// Rejects `factor ∉ (0, 1)`, a non-positive `start` or `stage_tol`.
    /// Names are prefixed `eps_scaling.` as the field of the solver params.
    pub fn validate(&self) -> Result<()> {
        in_open_unit_interval("eps_scaling.factor", self.factor)?;
        positive("eps_scaling.start", self.start)?;
        positive("eps_scaling.stage_tol", self.stage_tol)?;
        Ok(())
    }

    /// The regularisations of all stages, ending with `target`.
    pub(crate) fn schedule(&self, target: f64) -> Result<Vec<f64>> {
        self.validate()?;
        let mut out = Vec::new();
        let mut e = self.start;
        while e > target {
            out.push(e);
            e *= self.factor;
        }
        out.push(target);
        Ok(out)
    }
}

impl Default for EpsScaling {
    /// `ε_0 = 1` (the scale of a cost normalised to max 1), halving per
    /// stage (the CLI's `--eps-factor` default), `stage_tol = 1e-3`.
    fn default() -> Self {
        Self::new(1.0, 0.5)
    }
}

/// Parameters of [`sns`](crate::sns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnsParams {
    /// Stop when the marginal error is below this (default 1e-9).
    pub marginal_tol: f64,
    /// Sinkhorn sweeps before the Newton stage (`N1`, default 20 as in the paper).
    pub sinkhorn_iters: usize,
    /// Limit on the Newton stage (default 200): Newton steps plus the
    /// single Sinkhorn sweeps taken when a line search fails, so that every
    /// loop of the run is bounded by the documented limits.
    pub max_newton_iters: usize,
    /// Off-diagonal entries of `P` kept in the sparsified Hessian; `None` means
    /// `8·max(n, m)` (the paper's target sparsity λ = 2/n counted against the
    /// 2n × 2n Hessian). Every row's and column's largest entry is always kept.
    pub keep: Option<usize>,
    /// Shift `μ‖g‖₁` added to the Hessian (default 0).
    pub shift_mu: f64,
    /// Relative tolerance of the inner CG solve (default 1e-10).
    pub cg_rtol: f64,
    /// Double the keep-count (up to every entry) after a Newton step that
    /// fails to halve the marginal error or whose line search fails
    /// (default `true`; `false` is the paper's fixed sparsity).
    pub adaptive_keep: bool,
    /// Automatic switch: after the `sinkhorn_iters` sweeps, keep sweeping while
    /// Sinkhorn still contracts the marginal error by at least this factor
    /// per sweep (geometric mean over 10 sweeps), and switch to Newton once it
    /// stalls (judged from the 11th sweep on); at most `max_sinkhorn_iters`
    /// sweeps. `None` (default) switches after exactly `sinkhorn_iters`
    /// sweeps, as Algorithm 1.
    pub switch_ratio: Option<f64>,
    /// Cap on the Sinkhorn stage when `switch_ratio` is set (default 10 000).
    pub max_sinkhorn_iters: usize,
}

impl Default for SnsParams {
    fn default() -> Self {
        Self {
            marginal_tol: 1e-9,
            sinkhorn_iters: 20,
            max_newton_iters: 200,
            keep: None,
            shift_mu: 0.0,
            cg_rtol: 1e-10,
            adaptive_keep: true,
            switch_ratio: None,
            max_sinkhorn_iters: 10_000,
        }
    }
}

impl SnsParams {
    /// Sets the marginal-error tolerance.
    pub fn marginal_tol(mut self, tol: f64) -> Self {
        self.marginal_tol = tol;
        self
    }
    /// Sets `N1`, the Sinkhorn sweeps before Newton.
    pub fn sinkhorn_iters(mut self, k: usize) -> Self {
        self.sinkhorn_iters = k;
        self
    }
    /// Sets the Newton-step limit.
    pub fn max_newton_iters(mut self, k: usize) -> Self {
        self.max_newton_iters = k;
        self
    }
    /// Sets the keep-count of the sparsified Hessian.
    pub fn keep(mut self, k: Option<usize>) -> Self {
        self.keep = k;
        self
    }
    /// Sets the Hessian shift `μ`.
    pub fn shift_mu(mut self, mu: f64) -> Self {
        self.shift_mu = mu;
        self
    }
    /// Sets the inner CG tolerance.
    pub fn cg_rtol(mut self, rtol: f64) -> Self {
        self.cg_rtol = rtol;
        self
    }
    /// Turns the adaptive keep-count on or off.
    pub fn adaptive_keep(mut self, on: bool) -> Self {
        self.adaptive_keep = on;
        self
    }
    /// Sets (or clears) the automatic switch ratio.
    pub fn switch_ratio(mut self, rho: Option<f64>) -> Self {
        self.switch_ratio = rho;
        self
    }
    /// Sets the cap on the Sinkhorn stage with the automatic switch.
    pub fn max_sinkhorn_iters(mut self, k: usize) -> Self {
        self.max_sinkhorn_iters = k;
        self
    }
    /// Rejects a non-positive tolerance, a negative shift, `cg_rtol ∉ [0, 1)`,
    /// `keep = Some(0)`, and `switch_ratio ∉ (0, 1)`.
    pub fn validate(&self) -> Result<()> {
        positive("marginal_tol", self.marginal_tol)?;
        nonnegative("shift_mu", self.shift_mu)?;
        linalg_core::param::in_unit_interval("cg_rtol", self.cg_rtol)?;
        if let Some(k) = self.keep {
            at_least("keep", k, 1)?;
        }
        if let Some(rho) = self.switch_ratio {
            in_open_unit_interval("switch_ratio", rho)?;
        }
        Ok(())
    }
}
