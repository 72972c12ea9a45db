//! # deep-cg
//!
//! Deep Conjugate Direction Method (DCDM): a CNN approximate inverse inside a conjugate-direction solver for Poisson systems, plus classic Krylov baselines.
//!
//! Paper: Ayano Kaneda, Osman Akar, Jingyu Chen, Victoria Alicia Trevino Kala, David Hyde, Joseph Teran. A Deep Conjugate Direction Method for Iteratively Solving Linear Systems. ICML 2023. arXiv:2205.10763.
//!
//! **Status:** scaffold. This crate will hold Poisson systems from fluid scenes, the classic solvers (CG, Jacobi-PCG, IC(0)-PCG, multigrid-PCG) and DCDM with a burn CNN. Its error type and the
//! shared solver vocabulary are in place so the umbrella crate and the
//! command-line tool can already name it.

#![warn(missing_docs)]

pub use linalg_core::{Control, Termination};

/// Errors of `deep-cg`.
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
    "Ayano Kaneda, Osman Akar, Jingyu Chen, Victoria Alicia Trevino Kala, David Hyde, Joseph Teran. A Deep Conjugate Direction Method for Iteratively Solving Linear Systems. ICML 2023. arXiv:2205.10763.",
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
