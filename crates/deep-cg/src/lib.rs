//! # deep-cg
//!
//! Pressure Poisson systems of fluid scenes, the classic Krylov solvers a
//! fluid-simulation engineer would use on them, and the Deep Conjugate
//! Direction Method (the solver loop always; the network, its training data
//! and training behind the cargo feature `burn`).
//!
//! Paper: Ayano Kaneda, Osman Akar, Jingyu Chen, Victoria Alicia Trevino Kala,
//! David Hyde, Joseph Teran. A Deep Conjugate Direction Method for Iteratively
//! Solving Linear Systems. ICML 2023. arXiv:2205.10763.
//! Multigrid baseline: A. McAdams, E. Sifakis, J. Teran. A parallel multigrid
//! Poisson solver for fluids simulation on large grids. SCA 2010.
//!
//! - [`grid`]: cell grids (FLUID/SOLID/AIR), the built-in seeded scenes, and
//!   connected fluid regions with the zero-mean gauge on pure-Neumann regions;
//! - [`poisson`]: the 7-point finite-volume matrix as a parallel matrix-free
//!   stencil ([`PoissonSystem`] implements faer's `LinOp`) and as CSR, and
//!   right-hand sides;
//! - [`multigrid`]: the geometric multigrid V-cycle preconditioner (MGPCG);
//! - [`solvers`]: CG, Jacobi-PCG, IC(0)-PCG and MG-PCG behind [`solve`] and one
//!   [`SolveReport`];
//! - [`dcdm`]: the DCDM loop over any [`DirectionModel`]; [`data`]: Ritz
//!   training data; `net` and `train` (feature `burn`): the network and its trainer.
//!
//! ```
//! use deep_cg::{Control, Scene, PoissonSystem, Method, SolveParams, solve};
//! let system = PoissonSystem::new(Scene::SmokePlume.build(16, 0).unwrap());
//! let b = system.divergence_rhs(1);
//! let report = solve(&system, b.as_ref(), &SolveParams::new(Method::MgPcg).rtol(1e-8), |_| Control::Continue).unwrap();
//! assert!(report.converged && report.relative_residual < 1e-8);
//! ```

#![warn(missing_docs)]

pub mod data;
pub mod dcdm;
pub mod grid;
pub mod mic;
pub mod multigrid;
#[cfg(feature = "burn")]
pub mod net;
pub mod poisson;
pub mod solvers;
#[cfg(feature = "burn")]
pub mod train;

pub use dcdm::{
    DcdmParams, DcdmRecord, DcdmReport, DirectionModel, FnModel, IdentityModel, ResidualMode, dcdm,
};
pub use grid::{CellKind, Grid, Regions, Scene, check_grid_size};
pub use linalg_core::{Control, ParamError, Termination, Work};
pub use mic::{Mic0, MicParams};
pub use multigrid::{Multigrid, MultigridParams};
pub use poisson::{PoissonSystem, Stencil};
pub use solvers::{Method, SolveParams, SolveReport, solve};

/// Errors of `deep-cg`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the numerical core (dimensions, non-finite values,
    /// definiteness, I/O).
    #[error(transparent)]
    Core(#[from] linalg_core::Error),
    /// A hyperparameter outside its valid range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// An unsupported grid size.
    #[error("unsupported grid size {n}: {reason}")]
    GridSize {
        /// The size asked for.
        n: usize,
        /// Why it is not supported.
        reason: String,
    },
    /// A factorisation or assembly failed.
    #[error("{0}")]
    Numerical(String),
    /// A network weights file (or buffer) that cannot be used: missing,
    /// truncated, not a burnpack record, or for another architecture.
    #[error("DCDM model {source_name}: {reason}")]
    Model {
        /// The file (or `shipped weights`).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A compute backend that is not compiled in or not available.
    #[error("backend `{name}`: {reason}")]
    Backend {
        /// The backend asked for.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
}

// `is_input_error` and `param_name` have the same shape in every crate's
// `Error` (docs/architecture.md §3): each crate owns its enum, the CLI and
// the shape tests rely on the two methods.
impl Error {
    /// Whether the caller is at fault (parameters, sizes, scenes, model
    /// files, backends) rather than the solver (a breakdown or a non-finite
    /// value met while iterating, a failed factorisation): exit code 2
    /// against 1 on the command line.
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Core(e) => e.is_input_error(),
            Error::Numerical(_) => false,
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

/// The papers this crate implements.
pub const PAPERS: &[&str] = &[
    "Ayano Kaneda, Osman Akar, Jingyu Chen, Victoria Alicia Trevino Kala, David Hyde, Joseph Teran. A Deep Conjugate Direction Method for Iteratively Solving Linear Systems. ICML 2023. arXiv:2205.10763.",
    "A. McAdams, E. Sifakis, J. Teran. A parallel multigrid Poisson solver for fluids simulation on large grids. SCA 2010.",
];

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
