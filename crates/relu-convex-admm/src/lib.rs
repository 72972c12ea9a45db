//! # relu-convex-admm
//!
//! Global training of two-layer ReLU networks by convex reformulation
//! (Pilanci and Ergen 2020) solved by ADMM with a quadratic-time
//! iteration (Bai, Gautam, Sojoudi 2023).
//!
//! Paper: Yatong Bai, Tanmay Gautam, Somayeh Sojoudi. Efficient Global Optimization of Two-Layer ReLU Networks: Quadratic-Time Algorithms and Adversarial Training. SIAM Journal on Mathematics of Data Science, 2023. arXiv:2201.01965.
//!
//! - [`patterns`]: activation patterns `Dᵢ = diag(1[Xhᵢ ≥ 0])`, sampled or given;
//! - [`program`]: the convex program and its duality-gap certificate;
//! - [`loss`]: squared, logistic (binary cross-entropy) and hinge losses;
//! - [`admm`](mod@admm): the ADMM of the paper's Algorithm 3.1, the loss
//!   split off for the non-quadratic losses, over-relaxation, residual
//!   balancing, stopping on the certificate or the residuals;
//! - [`usolve`]: the u-system by the matrix-inversion lemma or one dense
//!   Cholesky;
//! - [`network`]: the two-layer network recovered from a convex solution,
//!   and the nonconvex objective of the same network;
//! - [`pricing`]: growing the pattern set by column generation on the dual
//!   constraint;
//! - [`attack`]: FGSM and PGD on the recovered network, robust accuracy,
//!   and PGD adversarial training's objective for the nonconvex baseline;
//! - [`scp`]: the sampled convex program's scenario bound and an a-posteriori
//!   check with fresh patterns;
//! - [`robust`]: convex adversarial training (the program robust to `ℓ∞`
//!   perturbations, its ADMM and certificate).
//!
//! **Status (issue "relu-convex-admm"):** the ADMM for the three losses
//! (Woodbury or dense u-solver) with certificates, pattern pricing, weight
//! recovery, the nonconvex objective for an Adam baseline, the CVXPY
//! fixtures and `optlab relu`; sampled-convex-program bounds; convex
//! adversarial training with attacks and a PGD-AT baseline.
//!
//! ```
//! use linalg_core::faer::Mat;
//! use relu_convex_admm::{AdmmParams, ConvexProgram, Patterns, admm};
//! let x = Mat::from_fn(40, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
//! let y: Vec<f64> = (0..40).map(|i| if x[(i, 0)] + x[(i, 1)] > 0.0 { 1.0 } else { -1.0 }).collect();
//! let patterns = Patterns::sample(x.as_ref(), 6, 0).unwrap();
//! let program = ConvexProgram::new(x.as_ref(), &y, patterns).unwrap();
//! let rep = admm(&program, &AdmmParams::new(0.5).tol(1e-6), |_| relu_convex_admm::Control::Continue).unwrap();
//! assert!(rep.converged && rep.cone_violation < 1e-4);
//! ```

#![warn(missing_docs)]

pub mod admm;
pub mod attack;
pub mod loss;
pub mod network;
pub mod patterns;
pub mod pricing;
pub mod program;
pub mod robust;
pub mod scp;
pub mod usolve;

pub use admm::{AdmmParams, AdmmRecord, AdmmReport, admm};
pub use attack::{AdversarialObjective, PgdParams, fgsm, pgd, robust_accuracy};
pub use linalg_core::{Control, ParamError, Termination, Work};
pub use loss::Loss;
pub use network::{NonconvexObjective, TwoLayerNet};
pub use patterns::Patterns;
pub use pricing::{PricedReport, PricingParams, admm_priced};
pub use program::{Certificate, ConvexProgram};
pub use robust::{RobustProgram, RobustReport, admm_robust};
pub use usolve::USolver;

/// Errors of `relu-convex-admm`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the numerical core (dimensions, non-finite values, I/O).
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// A hyperparameter outside its valid range (see `linalg_core::param`).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A Cholesky factorisation failed (the matrix named is not positive definite).
    #[error("the Cholesky factorisation of {0} failed")]
    Factorisation(&'static str),
    /// The objective became non-finite.
    #[error("the objective became non-finite at iteration {iteration}")]
    NonFinite {
        /// The iteration.
        iteration: usize,
    },
}

// `is_input_error` and `param_name` have the same shape in every crate's
// `Error` (docs/architecture.md §3).
impl Error {
    /// Whether the caller is at fault (parameters, sizes, data).
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Core(e) => e.is_input_error(),
            Error::Param(_) => true,
            Error::Factorisation(_) | Error::NonFinite { .. } => false,
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

/// The paper(s) this crate implements.
pub const PAPERS: &[&str] = &[
    "Yatong Bai, Tanmay Gautam, Somayeh Sojoudi. Efficient Global Optimization of Two-Layer ReLU Networks: Quadratic-Time Algorithms and Adversarial Training. SIAM Journal on Mathematics of Data Science, 2023. arXiv:2201.01965.",
];

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
