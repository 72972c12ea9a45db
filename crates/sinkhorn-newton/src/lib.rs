//! # sinkhorn-newton
//!
//! Entropic optimal transport: log-domain Sinkhorn and Sinkhorn-Newton-Sparse.
//!
//! Paper: Xun Tang, Michael Shavlovsky, Holakou Rahmanian, Elisa Tardini, Kiran
//! Koshy Thekumparampil, Tesi Xiao, Lexing Ying. Accelerating Sinkhorn
//! Algorithm with Sparse Newton Iterations. ICLR 2024. arXiv:2401.12253.
//!
//! Problem validation, Sinkhorn (kernel-space with log-domain absorption, or
//! log-domain; ε-scaling), SNS with an adaptive keep-count and an optional
//! automatic switch, dense Newton, cost builders and seeded problems, checked
//! against POT. Measurements against POT are in the README.
//!
//! Regularisation convention: POT's `reg = ε`; the paper's `η = 1/ε`.
//!
//! ```
//! use linalg_core::faer::{Col, Mat};
//! use sinkhorn_newton::{OtProblem, SnsParams, sns};
//! let n = 20;
//! let cost = Mat::from_fn(n, n, |i, j| ((i as f64 - j as f64) / n as f64).powi(2));
//! let r = OtProblem::uniform(n);
//! let p = OtProblem::new(r.as_ref(), r.as_ref(), cost.as_ref(), 0.01).unwrap();
//! let rep = sns(&p, &SnsParams::default(), |_| sinkhorn_newton::Control::Continue).unwrap();
//! assert!(rep.converged && rep.marginal_error < 1e-9);
//! ```

#![warn(missing_docs)]

pub mod cost;
mod dual;
pub mod instances;
mod kernels;
mod params;
pub mod problem;
mod report;
mod sinkhorn;
mod sns;
mod state;

pub use dual::NegDual;
pub use linalg_core::{Control, ParamError, Termination, Work};
pub use params::{EpsScaling, SinkhornMethod, SinkhornParams, SnsParams};
pub use problem::OtProblem;
pub use report::{OtRecord, OtReport, Stage};
pub use sinkhorn::sinkhorn;
pub use sns::{newton_dense, sns};

/// Errors of `sinkhorn-newton`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the numerical core.
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// A hyperparameter outside its valid range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// An empty marginal (no bins, or zero total mass).
    #[error("marginal `{0}` is empty (no bins or zero total mass)")]
    Empty(&'static str),
    /// A negative or non-finite marginal entry.
    #[error(
        "marginal `{name}` has an invalid entry {value} at index {index} (entries must be finite and ≥ 0)"
    )]
    BadMarginal {
        /// `r` or `c`.
        name: &'static str,
        /// The entry's index.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// Marginals of different total mass.
    #[error("the marginals have different total mass: Σr = {r}, Σc = {c}")]
    MassMismatch {
        /// Σr.
        r: f64,
        /// Σc.
        c: f64,
    },
    /// A NaN or infinite cost entry.
    #[error("the cost has a non-finite entry at ({row}, {col})")]
    NonFiniteCost {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
    /// Shapes that do not fit together.
    #[error("shape mismatch: expected {expected:?}, found {found:?}")]
    Shape {
        /// Expected (rows, cols).
        expected: (usize, usize),
        /// Given (rows, cols).
        found: (usize, usize),
    },
    /// A NaN or infinity appeared during the solve.
    #[error("non-finite values in the {0}")]
    NonFinite(&'static str),
}

// `is_input_error` and `param_name` have the same shape in every crate's
// `Error` (docs/architecture.md §3): each crate owns its enum, the CLI and
// the shape tests rely on the two methods.
impl Error {
    /// Whether the caller is at fault (bad marginals, costs, shapes,
    /// parameters) rather than the solver (non-finite values met while
    /// iterating): exit code 2 against 1 on the command line.
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Core(e) => e.is_input_error(),
            Error::NonFinite(_) => false,
            _ => true,
        }
    }

    /// The name of the rejected parameter, if this is a parameter error.
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

/// The paper this crate implements.
pub const PAPERS: &[&str] = &[
    "Xun Tang, Michael Shavlovsky, Holakou Rahmanian, Elisa Tardini, Kiran Koshy Thekumparampil, Tesi Xiao, Lexing Ying. Accelerating Sinkhorn Algorithm with Sparse Newton Iterations. ICLR 2024. arXiv:2401.12253.",
];

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
