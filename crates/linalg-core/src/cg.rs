//! A conjugate-gradient driver over [`faer::matrix_free::conjugate_gradient`].
//!
//! faer does the iteration; this driver adds what a user of a solver library
//! expects on top: input validation, the relative residual of every iteration,
//! an observer that can stop the run, a termination reason, and errors that
//! say *what* is not positive definite instead of a NaN.
//!
//! How the history is recorded without extra work: faer applies the
//! preconditioner to the current residual `r_k` once per iteration, so a thin
//! wrapper around the preconditioner sees `‖r_k‖` for free (and `r_kᵀ M r_k`,
//! the preconditioner's curvature). A wrapper around the operator sees `p_k`
//! and `A p_k`, hence the curvature `p_kᵀ A p_k`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::matrix_free::conjugate_gradient::{
    CgError, CgParams as FaerCgParams, conjugate_gradient, conjugate_gradient_scratch,
};
use faer::matrix_free::{IdentityPrecond, InitialGuessStatus, LinOp, Precond};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Col, ColRef, MatMut, MatRef, Par};

use crate::op::{check_dim, check_finite, check_square};
use crate::solver::{Control, Recorder, Termination, Work};
use crate::{Definiteness, Error, Result};

/// Parameters of [`Cg`], validated by [`CgParams::validate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgParams {
    /// Relative tolerance: stop when `‖r_k‖ ≤ rtol·‖b‖` (default `1e-8`).
    pub rtol: f64,
    /// Absolute tolerance: stop when `‖r_k‖ ≤ atol` (default `0`).
    pub atol: f64,
    /// Iteration limit (default `10·n` when `None`).
    pub max_iters: Option<usize>,
    /// Parallelism passed to faer.
    pub par: Par,
}

impl Default for CgParams {
    fn default() -> Self {
        Self {
            rtol: 1e-8,
            atol: 0.0,
            max_iters: None,
            par: Par::Seq,
        }
    }
}

impl CgParams {
    /// Defaults: `rtol = 1e-8`, `atol = 0`, `max_iters = 10·n`, sequential.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the relative tolerance.
    pub fn rtol(mut self, rtol: f64) -> Self {
        self.rtol = rtol;
        self
    }
    /// Sets the absolute tolerance.
    pub fn atol(mut self, atol: f64) -> Self {
        self.atol = atol;
        self
    }
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = Some(k);
        self
    }
    /// Sets the parallelism.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }
    /// Rejects tolerances that are negative, non-finite or ≥ 1 (relative), and a
    /// zero iteration limit.
    pub fn validate(&self) -> Result<()> {
        crate::param::in_unit_interval("rtol", self.rtol)?;
        crate::param::nonnegative("atol", self.atol)?;
        if let Some(k) = self.max_iters {
            crate::param::at_least("max_iters", k, 1)?;
        }
        Ok(())
    }
}

/// One iteration of a CG run, as seen by observers and stored in the history.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgRecord {
    /// Iterations completed (0 = the starting point).
    pub iteration: usize,
    /// `‖r_k‖ / ‖b‖` of faer's recursively updated residual.
    pub relative_residual: f64,
    /// Seconds since the start of the solve.
    pub seconds: f64,
}

crate::impl_iteration_record!(CgRecord);

// The fields every report shares (iterations, converged, termination,
// history, elapsed, work) repeat by design: docs/architecture.md §2.
/// The outcome of a CG run.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
pub struct CgReport {
    #[cfg_attr(feature = "serde", serde(skip))]
    /// The final iterate.
    pub x: Col<f64>,
    /// Iterations performed.
    pub iterations: usize,
    /// Whether the tolerance was reached.
    pub converged: bool,
    /// Why the run stopped.
    pub termination: Termination,
    /// Final `‖r‖/‖b‖` (recursive residual; recompute `b − Ax` for the true one).
    pub relative_residual: f64,
    /// One record per iteration, starting at iteration 0.
    pub history: Vec<CgRecord>,
    #[cfg_attr(
        feature = "serde",
        serde(rename = "seconds", serialize_with = "crate::solver::as_seconds")
    )]
    /// Wall time of the solve.
    pub elapsed: Duration,
    /// Operator and preconditioner applications (the initial residual's `A x₀` included).
    pub work: Work,
}

impl CgReport {
    /// Turns a run that hit its iteration limit into [`Error::NoConvergence`].
    pub fn ensure_converged(self) -> Result<Self> {
        if self.converged {
            Ok(self)
        } else {
            Err(Error::NoConvergence {
                iterations: self.iterations,
                relative_residual: self.relative_residual,
            })
        }
    }
}

/// The conjugate-gradient solver (a configured [`CgParams`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cg {
    params: CgParams,
}

impl Cg {
    /// A solver with validated parameters.
    pub fn new(params: CgParams) -> Result<Self> {
        params.validate()?;
        Ok(Self { params })
    }

    /// The parameters.
    pub fn params(&self) -> &CgParams {
        &self.params
    }

    /// Solves `A x = b` without preconditioning, from `x0` (zero when `None`).
    pub fn solve(
        &self,
        op: &impl LinOp<f64>,
        b: ColRef<'_, f64>,
        x0: Option<ColRef<'_, f64>>,
    ) -> Result<CgReport> {
        let id = IdentityPrecond { dim: op.nrows() };
        self.solve_with(op, &id, b, x0, |_| Control::Continue)
    }

    /// Solves `A x = b` with preconditioner `precond` (an approximation of `A⁻¹`),
    /// calling `observer` after every iteration with the current record.
    pub fn solve_with(
        &self,
        op: &impl LinOp<f64>,
        precond: &impl Precond<f64>,
        b: ColRef<'_, f64>,
        x0: Option<ColRef<'_, f64>>,
        mut observer: impl FnMut(&CgRecord) -> Control + Send,
    ) -> Result<CgReport> {
        self.params.validate()?;
        let start = Instant::now();
        let n = check_square(op, "CG")?;
        check_dim("CG right-hand side", n, b.nrows())?;
        check_square(precond, "CG preconditioner")?;
        check_dim("CG preconditioner", n, precond.nrows())?;
        check_finite("CG right-hand side", b)?;
        // Scale-safe: solve A (s·x) = s·b with s a power of two that brings
        // ‖b‖∞ into [1, 2). Every step of CG is then an exact scaled copy of
        // the unscaled one, except that b with entries near 1e-320 or 1e300
        // no longer underflows to a "converged" zero residual or overflows.
        let bmax = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = crate::op::pow2_scale(bmax);
        let b_scaled = Col::from_fn(n, |i| b[i] * scale);
        let b = b_scaled.as_ref();
        let mut x = Col::<f64>::zeros(n);
        if let Some(x0) = x0 {
            check_dim("CG initial guess", n, x0.nrows())?;
            check_finite("CG initial guess", x0)?;
            x.copy_from(x0 * scale);
        }
        let par = self.params.par;
        let b_norm = b.norm_l2();
        let observer: Observer<'_> = &mut observer;
        let state = Mutex::new(State {
            b_norm,
            // faer owns the iteration limit; the recorder only sees the observer.
            recorder: Recorder::new(usize::MAX, observer),
            precond_calls: 0,
            matvecs: 0,
            stop: false,
            floor: false,
            op_fail: None,
            precond_fail: None,
            non_finite: None,
            breakdown: None,
        });
        let a = Watched {
            inner: op,
            role: Role::Operator,
            state: &state,
        };
        let m = Watched {
            inner: precond,
            role: Role::Preconditioner,
            state: &state,
        };
        // Always `MaybeNonZero`, even for x0 = 0: in faer 0.24.4 the `Zero` path
        // never copies `b` into the residual, so CG would start from
        // uninitialised scratch memory. The price is one product `A·0`.
        let faer_params = FaerCgParams::<f64> {
            initial_guess: InitialGuessStatus::MaybeNonZero,
            rel_tolerance: self.params.rtol,
            abs_tolerance: self.params.atol * scale,
            max_iters: self.params.max_iters.unwrap_or(10 * n.max(1)),
            ..Default::default()
        };
        let mut buf = MemBuffer::new(conjugate_gradient_scratch(&m, &a, 1, par));
        let out = conjugate_gradient(
            x.as_mat_mut(),
            &m,
            &a,
            b.as_mat(),
            faer_params,
            |_| {},
            par,
            MemStack::new(&mut buf),
        );
        let st = state.into_inner().unwrap_or_else(|e| e.into_inner());
        let last_iter = st.precond_calls.saturating_sub(1);
        // Three different failures, three different errors: a non-finite
        // product (overflow, or NaN in the operator), a curvature exactly 0
        // (breakdown), and a negative curvature (not positive definite).
        if let Some((what, iteration)) = st.non_finite {
            return Err(Error::NonFinite {
                context: match what {
                    Definiteness::Operator => "CG operator product (iteration)",
                    Definiteness::Preconditioner => "CG preconditioner product (iteration)",
                },
                index: iteration,
            });
        }
        if let Some((what, iteration)) = st.breakdown {
            return Err(Error::Breakdown { what, iteration });
        }
        if let Some((iteration, curvature)) = st.precond_fail {
            return Err(Error::NotPositiveDefinite {
                what: Definiteness::Preconditioner,
                iteration,
                curvature,
            });
        }
        if let Some((iteration, curvature)) = st.op_fail {
            return Err(Error::NotPositiveDefinite {
                what: Definiteness::Operator,
                iteration,
                curvature,
            });
        }
        let work = Work {
            matvecs: st.matvecs,
            precond_applies: st.precond_calls,
            ..Work::default()
        };
        let seconds = st.recorder.seconds();
        let (mut history, _) = st.recorder.finish();
        let (iterations, rel, termination) = match out {
            Ok(info) => (info.iter_count, info.rel_residual, Termination::Converged),
            Err(CgError::NoConvergence { rel_residual, .. }) => (
                faer_params.max_iters,
                rel_residual,
                Termination::MaxIterations,
            ),
            Err(CgError::NonPositiveDefiniteOperator) if st.stop => {
                let rel = history.last().map_or(f64::NAN, |r| r.relative_residual);
                let t = if st.floor {
                    Termination::Stalled
                } else {
                    Termination::Cancelled
                };
                (last_iter, rel, t)
            }
            Err(CgError::NonPositiveDefiniteOperator) => {
                return Err(Error::NotPositiveDefinite {
                    what: Definiteness::Operator,
                    iteration: last_iter,
                    curvature: f64::NAN,
                });
            }
            Err(CgError::NonPositiveDefinitePreconditioner) => {
                return Err(Error::NotPositiveDefinite {
                    what: Definiteness::Preconditioner,
                    iteration: last_iter,
                    curvature: f64::NAN,
                });
            }
        };
        if history.last().map(|r| r.iteration) != Some(iterations) {
            history.push(CgRecord {
                iteration: iterations,
                relative_residual: rel,
                seconds,
            });
        }
        x *= 1.0 / scale;
        check_finite("CG iterate", x.as_ref()).map_err(|_| Error::NonFinite {
            context: "CG iterate (iteration)",
            index: iterations,
        })?;
        Ok(CgReport {
            x,
            iterations,
            converged: termination == Termination::Converged,
            termination,
            relative_residual: rel,
            history,
            elapsed: start.elapsed(),
            work,
        })
    }
}

/// Shorthand: unpreconditioned CG from zero with `rtol` and at most `max_iters`.
pub fn cg(
    op: &impl LinOp<f64>,
    b: ColRef<'_, f64>,
    rtol: f64,
    max_iters: usize,
) -> Result<CgReport> {
    Cg::new(CgParams::new().rtol(rtol).max_iters(max_iters))?.solve(op, b, None)
}

type Observer<'o> = &'o mut (dyn FnMut(&CgRecord) -> Control + Send);

struct State<'o> {
    b_norm: f64,
    recorder: Recorder<CgRecord, Observer<'o>>,
    precond_calls: usize,
    matvecs: usize,
    stop: bool,
    /// The residual reached the floating-point floor (see the preconditioner).
    floor: bool,
    op_fail: Option<(usize, f64)>,
    precond_fail: Option<(usize, f64)>,
    non_finite: Option<(Definiteness, usize)>,
    breakdown: Option<(Definiteness, usize)>,
}

impl State<'_> {
    /// Classifies a product `Av` of a non-zero `v` and its curvature
    /// `vᵀ(Av)`: `true` when the run must end (the first failure is kept).
    fn judge(
        &mut self,
        what: Definiteness,
        iteration: usize,
        av_norm: f64,
        curvature: f64,
    ) -> bool {
        if self.non_finite.is_some()
            || self.breakdown.is_some()
            || self.op_fail.is_some()
            || self.precond_fail.is_some()
        {
            return false;
        }
        if !(curvature.is_finite() && av_norm.is_finite()) {
            self.non_finite = Some((what, iteration));
            true
        } else if av_norm == 0.0 {
            self.breakdown = Some((what, iteration));
            true
        } else {
            curvature <= 0.0
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Operator,
    Preconditioner,
}

/// Wraps the operator or the preconditioner to watch faer's iteration.
struct Watched<'a, 'o, T> {
    inner: &'a T,
    role: Role,
    state: &'a Mutex<State<'o>>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Watched<'_, '_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watched({:?})", self.inner)
    }
}

fn dot(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    (0..a.ncols())
        .map(|j| a.col(j).transpose() * b.col(j))
        .sum()
}

impl<'o, T: LinOp<f64>> Watched<'_, 'o, T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<'o>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: LinOp<f64>> Watched<'_, '_, T> {
    fn apply_impl(
        &self,
        mut out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        par: Par,
        stack: &mut MemStack,
    ) {
        match self.role {
            // As the operator: `rhs` is `p_k` (or `x_0` for the initial residual,
            // before any preconditioner call). After an observer's stop, write NaN:
            // faer's Cholesky of `pᵀAp` then fails before `x` is touched, so the run
            // ends with `x` at the last completed iterate (reported as Cancelled).
            Role::Operator => {
                if self.lock().stop {
                    out.fill(f64::NAN);
                    return;
                }
                self.inner.apply(out.rb_mut(), rhs, par, stack);
                let mut st = self.lock();
                st.matvecs += 1;
                if st.precond_calls > 0 {
                    let curvature = dot(rhs, out.rb());
                    // The healthy case costs one dot product; the scans below
                    // run only when the curvature is not finite and positive.
                    if curvature.is_finite() && curvature > 0.0 {
                        return;
                    }
                    let k = st.precond_calls - 1;
                    let p_nonzero = rhs.col_iter().any(|c| c.iter().any(|v| *v != 0.0));
                    let ap_norm = out.rb().norm_max();
                    if p_nonzero && st.judge(Definiteness::Operator, k, ap_norm, curvature) {
                        if st.non_finite.is_none() && st.breakdown.is_none() {
                            st.op_fail = Some((k, curvature));
                        }
                        // faer's Cholesky of pᵀAp fails on NaN: the run ends
                        // with x at the last completed iterate.
                        out.fill(f64::NAN);
                    }
                }
            }
            // As the preconditioner: `rhs` is the residual `r_k`, `k` = calls so far.
            Role::Preconditioner => {
                self.inner.apply(out.rb_mut(), rhs, par, stack);
                // Squared norm: one SIMD pass, cheaper than faer's overflow-safe norm_l2.
                let rnorm = rhs.squared_norm_l2().sqrt();
                let curvature = dot(rhs, out.rb());
                let mut st = self.lock();
                let k = st.precond_calls;
                st.precond_calls += 1;
                // The healthy case (finite positive curvature, residual above
                // the floor) skips the scan of r.
                let healthy =
                    curvature.is_finite() && curvature > 0.0 && rnorm > 1e-150 * st.b_norm;
                let r_nonzero = !healthy && rhs.col_iter().any(|c| c.iter().any(|v| *v != 0.0));
                // The residual at the floating-point floor (rtol = 0 runs get
                // here): its curvature underflows, which is no failure. The
                // run ends as `Stalled` instead of continuing on noise.
                let floor = r_nonzero && rnorm <= 1e-150 * st.b_norm;
                if floor {
                    st.floor = true;
                    st.stop = true;
                } else if r_nonzero
                    && st.judge(
                        Definiteness::Preconditioner,
                        k,
                        out.rb().norm_max(),
                        curvature,
                    )
                {
                    if st.non_finite.is_none() && st.breakdown.is_none() {
                        st.precond_fail = Some((k, curvature));
                    }
                    out.fill(f64::NAN);
                }
                let record = CgRecord {
                    iteration: k,
                    relative_residual: rnorm / st.b_norm,
                    seconds: st.recorder.seconds(),
                };
                if st.recorder.record(record, false) == Some(Termination::Cancelled) {
                    st.stop = true;
                }
            }
        }
    }
}

impl<T: LinOp<f64>> LinOp<f64> for Watched<'_, '_, T> {
    fn apply_scratch(&self, rhs_ncols: usize, par: Par) -> StackReq {
        self.inner.apply_scratch(rhs_ncols, par)
    }
    fn nrows(&self) -> usize {
        self.inner.nrows()
    }
    fn ncols(&self) -> usize {
        self.inner.ncols()
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, stack: &mut MemStack) {
        self.apply_impl(out, rhs, par, stack)
    }
    fn conj_apply(
        &self,
        out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        par: Par,
        stack: &mut MemStack,
    ) {
        self.apply_impl(out, rhs, par, stack)
    }
}

impl<T: LinOp<f64>> Precond<f64> for Watched<'_, '_, T> {}
