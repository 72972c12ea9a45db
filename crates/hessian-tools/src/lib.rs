//! # hessian-tools
//!
//! Hessian-vector products, Lanczos extremes, spectral density, trace estimation and bulk/outlier analysis.
//!
//! Paper: Levent Sagun, Utku Evci, V. Ugur Guney, Yann Dauphin, Leon Bottou. Empirical Analysis of the Hessian of Over-Parametrized Neural Networks. ICLR 2018 workshop. arXiv:1706.04454.
//!
//! Also: Lei Wu, Weijie J. Su. The Implicit Regularization of Dynamical
//! Stability in Stochastic Gradient Descent. ICML 2023; Papyan, Han, Donoho
//! (2020) and Tirer, Bruna, Giryes (2022) on neural collapse.
//!
//! - [`mlp`]: an MLP with exact gradient, Hessian- (R-operator),
//!   Gauss–Newton- and empirical-Fisher-vector products, Jacobians and
//!   activation Hessians, as symmetric `LinOp`s.
//! - [`ops`]: a finite-difference Hessian of any gradient, principal blocks.
//! - [`eigs`], [`slq`](mod@slq), [`trace`](mod@trace), [`dense`]: Lanczos
//!   extremes with residuals, SLQ densities, trace and diagonal estimators
//!   with standard errors, the exact dense path and bulk/outlier analysis.
//! - [`train`](mod@train), [`stability`], [`collapse`](mod@collapse): training, stability
//!   diagnostics along it, neural-collapse metrics; `plot` (feature
//!   `plots`): SVG figures.
//!
//! Notes and measurements: `docs/hessian-tools.md` and the crate README.

#![warn(missing_docs)]

pub mod collapse;
pub mod dense;
pub mod eigs;
pub mod mlp;
pub mod ops;
#[cfg(feature = "plots")]
pub mod plot;
pub mod slq;
pub mod stability;
pub mod trace;
pub mod train;

pub use dense::{
    BulkOutliers, HessianSplit, assemble, bulk_outliers, eigenvalues, gap_ratio, hessian_split,
};
pub use eigs::{EigParams, Extremes, PowerParams, Which, extremes, power_deflated};
pub use linalg_core::{Control, Termination};
pub use mlp::{Activation, Curvature, CurvatureKind, Loss, Mlp, MlpLoss};
pub use ops::{FdHessian, Restricted};
pub use slq::{SlqParams, SpectralDensity, slq};
pub use trace::{
    DiagonalEstimate, Probe, TraceEstimate, TraceMethod, TraceParams, diagonal, frobenius_squared,
    trace,
};
pub use train::{TrainParams, TrainRecord, TrainReport, Trainer, train};

/// Errors of `hessian-tools`.
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

// `is_input_error` and `param_name` have the same shape in every crate's
// `Error` (docs/architecture.md §3).
impl Error {
    /// Whether the caller is at fault (parameters, sizes, data).
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Core(e) => e.is_input_error(),
            Error::Param(_) => true,
        }
    }

    /// The name of the rejected parameter, if this is a parameter error.
    pub fn param_name(&self) -> Option<&'static str> {
        match self {
            Error::Param(p) => Some(p.name),
            Error::Core(e) => e.param_name(),
        }
    }
}

/// The most numbers one estimator's `n × m` block (probes, Lanczos basis,
/// deflation vectors) may hold: 10⁸ (0.8 GB).
pub const MAX_BLOCK: usize = 100_000_000;

/// Refuses an `n × m` block beyond [`MAX_BLOCK`] before it is allocated,
/// naming `param` (the count the caller chose).
pub(crate) fn check_block(param: &'static str, n: usize, m: usize) -> Result<()> {
    let cells = n.saturating_mul(m);
    if cells > MAX_BLOCK {
        return Err(linalg_core::ParamError::new(
            param,
            format!("{m} × an operator of size {n} = {cells} numbers exceeds {MAX_BLOCK}"),
        )
        .into());
    }
    Ok(())
}

/// Refuses `k = 0` and `k > n` (eigenvalues of an `n × n` operator).
pub(crate) fn check_k(k: usize, n: usize) -> Result<()> {
    linalg_core::param::at_least("k", k, 1)?;
    if k > n {
        return Err(linalg_core::ParamError::new(
            "k",
            format!("{k} eigenvalues of a {n} × {n} operator"),
        )
        .into());
    }
    Ok(())
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The paper(s) this crate implements.
pub const PAPERS: &[&str] = &[
    "Levent Sagun, Utku Evci, V. Ugur Guney, Yann Dauphin, Leon Bottou. Empirical Analysis of the Hessian of Over-Parametrized Neural Networks. ICLR 2018 workshop. arXiv:1706.04454.",
    "Lei Wu, Weijie J. Su. The Implicit Regularization of Dynamical Stability in Stochastic Gradient Descent. ICML 2023. arXiv:2305.17490.",
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
