//! # bilevel-penalty
//!
//! Penalty methods for nonconvex bilevel optimisation (Kwon, Kwon, Wright,
//! Nowak, ICLR 2024): `min_{x∈X} ψ(x) = min_{y∈Y*(x)} f(x, y)` through the
//! penalised value function `ψ_σ(x) = min_y f + (g − g*)/σ`, whose gradient
//! needs only first-order oracles.
//!
//! Paper: Jeongyeol Kwon, Dohyun Kwon, Stephen Wright, Robert Nowak. On Penalty Methods for Nonconvex Bilevel Optimization and First-Order Stochastic Approximation. ICLR 2024. arXiv:2309.01753.
//!
//! - [`problem`]: the [`BilevelProblem`] oracles and the constraint sets
//!   (free, box, ball, simplex) by projection;
//! - [`penalty`](mod@penalty): the deterministic penalty method with warm-started inner
//!   loops, σ-continuation, oracle counts and a penalty-gap certificate;
//! - [`stochastic`]: the stochastic penalty methods on minibatch oracles
//!   ([`StochasticBilevel`]): double loop, single loop with STORM momentum,
//!   two time scales;
//! - the baselines on the same oracles, counts and (where they have one)
//!   outer loop: [`aid`](mod@aid) (implicit differentiation by CG),
//!   [`itd`](mod@itd) (reverse mode through unrolled steps),
//!   [`f2sa`](mod@f2sa) (benchopt's schedule), [`bome`](mod@bome);
//! - [`instances`]: problems with known solutions (closed-form quadratic,
//!   BOME's non-unique toy, Shen–Chen's nonconvex toy, the benchopt-shaped
//!   stochastic quadratic) and the learning problems (regularisation
//!   selection, data hyper-cleaning) with their seeded splits.
//!
//! ```
//! use bilevel_penalty::{Control, PenaltyParams, instances::Quadratic, penalty};
//! use linalg_core::faer::Col;
//! let q = Quadratic::random(3, 5, 0.1, 0).unwrap();
//! let x0 = Col::<f64>::zeros(3);
//! let rep = penalty(&q, x0.as_ref(), None, &PenaltyParams::default().sigma(1e-3), |_| Control::Continue).unwrap();
//! assert!(rep.converged);
//! let exact = q.argmin_psi_sigma(1e-3);
//! assert!((&rep.x - &exact).norm_l2() < 1e-5);
//! ```

#![warn(missing_docs)]

pub mod aid;
pub mod bome;
pub mod f2sa;
pub mod instances;
pub mod itd;
mod oracle;
mod params;
pub mod penalty;
pub mod problem;
mod report;
pub mod stochastic;

pub use aid::{AidParams, aid};
pub use bome::{BomeParams, bome};
pub use f2sa::{F2saParams, f2sa};
pub use itd::{ItdParams, itd};
pub use linalg_core::{Control, ParamError, Termination, Work};
pub use oracle::OracleCalls;
pub use params::{InnerParams, PenaltyParams};
pub use penalty::{lower_solution, penalty, psi_sigma};
pub use problem::{BilevelProblem, Constraint, StochasticBilevel};
pub use report::{BilevelRecord, BilevelReport, Certificate};
pub use stochastic::{Sampler, StochasticParams, Variant, penalty_stochastic};

/// Errors of `bilevel-penalty`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the numerical core (dimensions, non-finite values, I/O).
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// A hyperparameter outside its valid range (see `linalg_core::param`).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// An oracle returned NaN or infinity.
    #[error("the oracle `{oracle}` returned a non-finite value at outer iteration {iteration}")]
    NonFinite {
        /// `f`, `g`, `f_grad_x`, `f_grad_y`, `g_grad_x` or `g_grad_y`.
        oracle: &'static str,
        /// The outer iteration (0 = the start).
        iteration: usize,
    },
    /// A step search found no acceptable step, or a linear system could not be solved.
    #[error("{what} failed at outer iteration {iteration}")]
    Stalled {
        /// Which search.
        what: &'static str,
        /// The outer iteration.
        iteration: usize,
    },
}

// `is_input_error` and `param_name` have the same shape in every crate's
// `Error` (docs/architecture.md §3).
impl Error {
    /// Whether the caller is at fault (parameters, sizes, sets) rather than
    /// the method or the oracles (non-finite values, a stalled search).
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Core(e) => e.is_input_error(),
            Error::Param(_) => true,
            Error::NonFinite { .. } | Error::Stalled { .. } => false,
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
    "Jeongyeol Kwon, Dohyun Kwon, Stephen Wright, Robert Nowak. On Penalty Methods for Nonconvex Bilevel Optimization and First-Order Stochastic Approximation. ICLR 2024. arXiv:2309.01753.",
];

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
