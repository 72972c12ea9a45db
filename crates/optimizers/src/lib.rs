//! # optimizers
//!
//! diffGrad (also as a burn optimizer), gradient-regularised Newton with approximate Hessians, and classic first-order baselines.
//!
//! Paper: S. R. Dubey, S. Chakraborty, S. K. Roy, S. Mukherjee, S. K. Singh, B. B. Chaudhuri. diffGrad: An Optimization Method for Convolutional Neural Networks. IEEE Transactions on Neural Networks and Learning Systems, 2019/2020. arXiv:1909.11015.
//! Paper: Andrei Semenov, Martin Jaggi, Nikita Doikov. Gradient-Normalized Smoothness for Optimization with Approximate Hessians. arXiv:2506.13710, 2025.
//!
//! **Status:** scaffold. This crate will hold diffGrad, gradient-regularised Newton (exact, Gauss-Newton and Fisher Hessians) and classic baselines. Its error type and the
//! shared solver vocabulary are in place so the umbrella crate and the
//! command-line tool can already name it.

#![warn(missing_docs)]

pub use linalg_core::{Control, Termination};

/// Errors of `optimizers`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the numerical core (dimensions, non-finite values, I/O).
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// A hyperparameter outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// Why it was rejected.
        reason: String,
    },
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
