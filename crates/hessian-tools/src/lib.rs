//! # hessian-tools
//!
//! Hessian-vector products, Lanczos extremes, spectral density, trace estimation and bulk/outlier analysis.
//!
//! Paper: Levent Sagun, Utku Evci, V. Ugur Guney, Yann Dauphin, Leon Bottou. Empirical Analysis of the Hessian of Over-Parametrized Neural Networks. ICLR 2018 workshop. arXiv:1706.04454.
//!
//! **Status:** in progress. Landed: stochastic trace estimation
//! (Hutchinson, Hutch++, XTrace, with standard errors) over any symmetric
//! operator ([`trace`]) and spectral densities by stochastic Lanczos
//! quadrature ([`slq`](mod@slq)), extreme eigenvalues by Lanczos with
//! Ritz residuals and PyHessian's deflated power iteration ([`eigs`]).
//! To come: the MLP with exact Hessian-, Gauss–Newton- and Fisher-vector
//! products, diagonal estimators, bulk/outlier analysis, the
//! Sagun, Wu–Su and neural-collapse analyses and `optlab spectrum`.

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
