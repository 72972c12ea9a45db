//! # bilevel-penalty
//!
//! Penalty methods for nonconvex bilevel optimisation, deterministic and stochastic.
//!
//! Paper: Jeongyeol Kwon, Dohyun Kwon, Stephen Wright, Robert Nowak. On Penalty Methods for Nonconvex Bilevel Optimization and First-Order Stochastic Approximation. ICLR 2024. arXiv:2309.01753.
//!
//! **Status:** scaffold. This crate will hold penalty methods (deterministic and stochastic) and bilevel baselines. Its error type and the
//! shared solver vocabulary are in place so the umbrella crate and the
//! command-line tool can already name it.

#![warn(missing_docs)]

// Scaffold boilerplate (the same in the three crates still to be built):
// replaced by the crate's own error, papers and tests when it is written.

pub use linalg_core::{Control, Termination};

/// Errors of `bilevel-penalty`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the numerical core (dimensions, non-finite values, I/O).
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// A hyperparameter outside its valid range (see `linalg_core::param`).
    #[error(transparent)]
    Param(#[from] linalg_core::ParamError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The paper(s) this crate implements.
pub const PAPERS: &[&str] = &[
    "Jeongyeol Kwon, Dohyun Kwon, Stephen Wright, Robert Nowak. On Penalty Methods for Nonconvex Bilevel Optimization and First-Order Stochastic Approximation. ICLR 2024. arXiv:2309.01753.",
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
