//! # optimizers
//!
//! diffGrad (also as a burn optimizer), gradient-regularised Newton with approximate Hessians, and classic first-order baselines.
//!
//! Paper: S. R. Dubey, S. Chakraborty, S. K. Roy, S. Mukherjee, S. K. Singh, B. B. Chaudhuri. diffGrad: An Optimization Method for Convolutional Neural Networks. IEEE Transactions on Neural Networks and Learning Systems, 2019/2020. arXiv:1909.11015.
//! Paper: Andrei Semenov, Martin Jaggi, Nikita Doikov. Gradient-Normalized Smoothness for Optimization with Approximate Hessians. arXiv:2506.13710, 2025.
//!
//! First-order methods (GD, Armijo GD, Nesterov, triple momentum, Adam,
//! AMSGrad, diffGrad), gradient-regularised Newton with exact / Gauss–Newton
//! / Fisher / diagonal Hessians and Mishchenko's variant, the test problems,
//! and (cargo feature `burn`) diffGrad as a burn 0.22 optimizer.
//!
//! ```
//! use linalg_core::Control;
//! use linalg_core::objective::Rosenbrock;
//! use optimizers::{GrnParams, grn};
//! let f = Rosenbrock::new(2).unwrap();
//! let x0 = f.classic_start();
//! let rep = grn(&f, x0.as_ref(), &GrnParams::default(), |_| Control::Continue).unwrap();
//! assert!(rep.converged && rep.value < 1e-10);
//! ```

#![warn(missing_docs)]

use std::time::Duration;

use linalg_core::faer::{Col, Mat};
use linalg_core::param::nonnegative;
pub use linalg_core::{Control, IterationRecord, ParamError, Termination, Work};

#[cfg(feature = "burn")]
pub mod burn_diffgrad;
pub mod curvature;
pub mod first_order;
pub mod grn;
pub mod objectives;

pub use curvature::Curvature;
pub use first_order::{AdamParams, Method, minimize};
pub use grn::{Forcing, GrnParams, LinearSolver, Regularisation, grn};

/// Stopping rules shared by every method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunParams {
    /// Iteration limit (default 1000).
    pub max_iters: usize,
    /// Stop when `‖∇f‖₂ ≤ grad_tol` (default 1e-8).
    pub grad_tol: f64,
    /// Stop when `|f_k − f_{k+1}| ≤ f_tol·max(1, |f_k|)`; 0 disables (default).
    pub f_tol: f64,
}

impl Default for RunParams {
    fn default() -> Self {
        Self {
            max_iters: 1000,
            grad_tol: 1e-8,
            f_tol: 0.0,
        }
    }
}

impl RunParams {
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Sets the gradient-norm tolerance.
    pub fn grad_tol(mut self, tol: f64) -> Self {
        self.grad_tol = tol;
        self
    }
    /// Sets the relative objective-change tolerance (0 disables it).
    pub fn f_tol(mut self, tol: f64) -> Self {
        self.f_tol = tol;
        self
    }
    /// Rejects negative or non-finite tolerances.
    pub fn validate(&self) -> Result<()> {
        nonnegative("grad_tol", self.grad_tol)?;
        nonnegative("f_tol", self.f_tol)?;
        Ok(())
    }
}

/// The recorder of both drivers: the shared history/observer/stopping logic
/// of `linalg_core` with this crate's record and its convergence test.
pub(crate) struct Recorder<O> {
    inner: linalg_core::Recorder<OptRecord, O>,
    run: RunParams,
}

impl<O: FnMut(&OptRecord) -> Control> Recorder<O> {
    pub(crate) fn new(run: RunParams, observer: O) -> Self {
        Self {
            inner: linalg_core::Recorder::new(run.max_iters, observer),
            run,
        }
    }

    /// Records iterate `iteration`; `None` means: go on.
    pub(crate) fn record(
        &mut self,
        iteration: usize,
        value: f64,
        grad_norm: f64,
    ) -> Option<Termination> {
        let previous = self.inner.last().map(|r| r.value);
        let rec = OptRecord {
            iteration,
            value,
            grad_norm,
            seconds: self.inner.seconds(),
        };
        let converged = grad_norm <= self.run.grad_tol
            || previous
                .is_some_and(|p| linalg_core::solver::small_change(p, value, self.run.f_tol));
        self.inner.record(rec, converged)
    }
}

/// One iterate of a run (`iteration = 0` is the starting point).
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptRecord {
    /// Iteration number.
    pub iteration: usize,
    /// `f(x_k)`.
    pub value: f64,
    /// `‖∇f(x_k)‖₂`.
    pub grad_norm: f64,
    /// Seconds since the start.
    pub seconds: f64,
}

linalg_core::impl_iteration_record!(OptRecord);

// The fields every report shares (iterations, converged, termination,
// history, elapsed, work) repeat by design: docs/architecture.md §2.
/// The outcome of a run.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
pub struct OptReport {
    /// Method name (as the CLI spells it).
    pub method: &'static str,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// Final iterate.
    pub x: Col<f64>,
    /// `f(x)`.
    pub value: f64,
    /// `‖∇f(x)‖₂`.
    pub grad_norm: f64,
    /// Iterations done.
    pub iterations: usize,
    /// Whether a tolerance was met.
    pub converged: bool,
    /// Why the run stopped.
    pub termination: Termination,
    /// Every iterate's value and gradient norm, from `k = 0`.
    pub history: Vec<OptRecord>,
    #[cfg_attr(
        feature = "serde",
        serde(rename = "seconds", serialize_with = "linalg_core::solver::as_seconds")
    )]
    /// Wall time.
    pub elapsed: Duration,
    /// Gradient evaluations, Hessian models and Hessian-vector products,
    /// step trials (rejected ones included).
    pub work: Work,
}

impl OptReport {
    pub(crate) fn new<O>(
        method: &'static str,
        x: Col<f64>,
        termination: Termination,
        rec: Recorder<O>,
        work: Work,
    ) -> Self {
        let (history, elapsed) = rec.inner.finish();
        let last = history[history.len() - 1];
        Self {
            method,
            x,
            value: last.value,
            grad_norm: last.grad_norm,
            iterations: last.iteration,
            converged: termination == Termination::Converged,
            termination,
            history,
            elapsed,
            work,
        }
    }
}

/// Which Hessian model gradient-regularised Newton uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HessianKind {
    /// The exact Hessian.
    Exact,
    /// A Gauss–Newton approximation (problem-specific).
    GaussNewton,
    /// A Fisher-type approximation (empirical Fisher, or the rank-one Fisher term).
    Fisher,
    /// The exact Hessian's diagonal.
    Diagonal,
}

/// A Hessian model, solved with `λI` added.
#[derive(Debug, Clone)]
pub enum HessianModel {
    /// A dense symmetric matrix (Cholesky).
    Dense(Mat<f64>),
    /// A diagonal.
    Diagonal(Col<f64>),
    /// `diag(diag) + F Fᵀ` (Woodbury; Sherman–Morrison for one column).
    LowRank {
        /// Diagonal part.
        diag: Col<f64>,
        /// Factors `F` (n × k).
        factors: Mat<f64>,
    },
}

/// Errors of `optimizers`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the numerical core (dimensions, non-finite values, I/O).
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// A hyperparameter outside its valid range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A NaN or infinity in the objective or gradient.
    #[error("non-finite {what} at iteration {iteration}")]
    NonFinite {
        /// What was non-finite.
        what: &'static str,
        /// The iteration (0 = the starting point).
        iteration: usize,
    },
    /// No acceptable step was found.
    #[error(
        "no acceptable step at iteration {iteration} (line search / regularisation search failed)"
    )]
    LineSearch {
        /// The iteration.
        iteration: usize,
    },
}

// `is_input_error` and `param_name` have the same shape in every crate's
// `Error` (docs/architecture.md §3): each crate owns its enum, the CLI and
// the shape tests rely on the two methods.
impl Error {
    /// Whether the caller is at fault (bad parameters, sizes, start point)
    /// rather than the method (non-finite values met while iterating, a
    /// failed step search): exit code 2 against 1 on the command line.
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Core(e) => e.is_input_error(),
            Error::Param(_) => true,
            Error::NonFinite { .. } | Error::LineSearch { .. } => false,
        }
    }

    /// The name of the rejected parameter, if this is a parameter error
    /// (also through the core's errors).
    pub fn param_name(&self) -> Option<&'static str> {
        match self {
            Error::Param(p) => Some(p.name),
            Error::Core(e) => e.param_name(),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The paper(s) this crate implements.
pub const PAPERS: &[&str] = &[
    "S. R. Dubey, S. Chakraborty, S. K. Roy, S. Mukherjee, S. K. Singh, B. B. Chaudhuri. diffGrad: An Optimization Method for Convolutional Neural Networks. IEEE Transactions on Neural Networks and Learning Systems, 2019/2020. arXiv:1909.11015.",
    "Andrei Semenov, Martin Jaggi, Nikita Doikov. Gradient-Normalized Smoothness for Optimization with Approximate Hessians. arXiv:2506.13710, 2025.",
];

#[cfg(test)]
mod tests {
    #[test]
    fn core_errors_convert_and_keep_their_message() {
        let core = linalg_core::Error::ZeroStartVector;
        let msg = core.to_string();
        let e: super::Error = core.into();
        assert_eq!(e.to_string(), msg);
        assert!(matches!(
            e,
            super::Error::Core(linalg_core::Error::ZeroStartVector)
        ));
    }
}

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
