//! # relu-convex-admm
//!
//! Global training of two-layer ReLU networks by convex reformulation: ADMM, sampled convex programs, adversarial training.
//!
//! Paper: Yatong Bai, Tanmay Gautam, Somayeh Sojoudi. Efficient Global Optimization of Two-Layer ReLU Networks: Quadratic-Time Algorithms and Adversarial Training. SIAM Journal on Mathematics of Data Science, 2023. arXiv:2201.01965.
//!
//! **Status:** scaffold. This crate will hold the convex reformulation of two-layer ReLU training solved by ADMM, sampled convex programs and adversarial training. Its error type and the
//! shared solver vocabulary are in place so the umbrella crate and the
//! command-line tool can already name it.

#![warn(missing_docs)]

// Scaffold boilerplate (the same in the three crates still to be built):
// replaced by the crate's own error, papers and tests when it is written.

pub use linalg_core::{Control, Termination};

/// Errors of `relu-convex-admm`.
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
    "Yatong Bai, Tanmay Gautam, Somayeh Sojoudi. Efficient Global Optimization of Two-Layer ReLU Networks: Quadratic-Time Algorithms and Adversarial Training. SIAM Journal on Mathematics of Data Science, 2023. arXiv:2201.01965.",
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
