//! # optlab
//!
//! One import for the whole optlab workspace: each algorithm crate is
//! re-exported under a module of the same name, behind a default-on feature of
//! the same name, so `optlab::sinkhorn_newton` is the `sinkhorn-newton` crate.
//!
//! | module | feature | what it holds |
//! |---|---|---|
//! | [`linalg_core`] | always | operators, Lanczos, CG driver, `Objective`, Matrix Market/NPY I/O |
//! | `datasets` | `datasets` | embedded real datasets and seeded generators |
//! | `deep_cg` | `deep-cg` | Poisson solvers and the Deep Conjugate Direction Method |
//! | `sinkhorn_newton` | `sinkhorn-newton` | log-domain Sinkhorn and Sinkhorn-Newton-Sparse |
//! | `optimizers` | `optimizers` | diffGrad, gradient-regularised Newton, baselines |
//! | `bilevel_penalty` | `bilevel-penalty` | penalty methods for bilevel problems |
//! | `relu_convex_admm` | `relu-convex-admm` | convex training of two-layer ReLU networks |
//! | `hessian_tools` | `hessian-tools` | Hessian spectra, trace, bulk/outlier analysis |
//!
//! ```
//! use optlab::prelude::*;
//! let a = DenseOp::new(Mat::from_fn(2, 2, |i, j| if i == j { 2.0 } else { 1.0 })).unwrap();
//! let b = Col::from_fn(2, |_| 3.0);
//! let report = optlab::linalg_core::cg::cg(&a, b.as_ref(), 1e-12, 10).unwrap();
//! assert!((report.x[0] - 1.0).abs() < 1e-12);
//! ```

#![warn(missing_docs)]

pub use linalg_core;
pub use linalg_core::faer;

#[cfg(feature = "bilevel-penalty")]
pub use bilevel_penalty;
#[cfg(feature = "datasets")]
pub use datasets;
#[cfg(feature = "deep-cg")]
pub use deep_cg;
#[cfg(feature = "hessian-tools")]
pub use hessian_tools;
#[cfg(feature = "optimizers")]
pub use optimizers;
#[cfg(feature = "relu-convex-admm")]
pub use relu_convex_admm;
#[cfg(feature = "sinkhorn-newton")]
pub use sinkhorn_newton;

/// The names most programs need, in one `use optlab::prelude::*`.
pub mod prelude {
    pub use linalg_core::cg::{Cg, CgParams, CgReport};
    pub use linalg_core::faer::{Col, ColMut, ColRef, Mat, MatMut, MatRef, Par};
    pub use linalg_core::lanczos::{Reorthogonalization, lanczos, ritz_pairs};
    pub use linalg_core::objective::{Objective, check_gradient, check_hessian_vec};
    pub use linalg_core::op::{DenseOp, FnOp, ShiftedOp, SparseOp, Symmetric};
    pub use linalg_core::{Control, Termination};
}

/// A crate of the workspace and whether this build includes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrateInfo {
    /// Crate name as published (`"sinkhorn-newton"`).
    pub name: &'static str,
    /// Whether its feature is enabled in this build.
    pub enabled: bool,
    /// One-line description.
    pub about: &'static str,
}

/// Every crate of the workspace, in dependency order, with its feature state.
pub fn crates() -> Vec<CrateInfo> {
    // (name, feature enabled, about), in dependency order.
    [
        ("linalg-core", true, "operators, Lanczos/Ritz, CG driver, Objective, Matrix Market/NPY I/O"),
        ("datasets", cfg!(feature = "datasets"), "embedded breast cancer, digits, iris, wine; seeded generators"),
        // One row per crate (the same three fields each).
        (
            "deep-cg",
            cfg!(feature = "deep-cg"),
            "fluid Poisson scenes; CG, Jacobi/IC(0)/multigrid PCG; DCDM (Kaneda et al., ICML 2023; network and training with feature `burn`)",
        ),
        (
            "sinkhorn-newton",
            cfg!(feature = "sinkhorn-newton"),
            "log-domain/kernel Sinkhorn, ε-scaling, Sinkhorn-Newton-Sparse (Tang et al., ICLR 2024)",
        ),
        (
            "optimizers",
            cfg!(feature = "optimizers"),
            "first-order methods, diffGrad (also for burn), gradient-regularised Newton (Dubey 2019; Semenov et al. 2025)",
        ),
        (
            "bilevel-penalty",
            cfg!(feature = "bilevel-penalty"),
            "penalty methods for bilevel problems (Kwon et al., ICLR 2024) [in progress: deterministic method]",
        ),
        (
            "relu-convex-admm",
            cfg!(feature = "relu-convex-admm"),
            "convex two-layer ReLU training by ADMM (Bai et al., 2022) [scaffold]",
        ),
        (
            "hessian-tools",
            cfg!(feature = "hessian-tools"),
            "Hessian spectra, trace, bulk/outlier analysis (Sagun et al., 2017) [scaffold]",
        ),
    ]
    .into_iter()
    .map(|(name, enabled, about)| CrateInfo { name, enabled, about })
    .collect()
}

/// Compute backends compiled into this build.
pub fn backends() -> Vec<&'static str> {
    let mut b = vec!["faer (CPU, rayon)"];
    if cfg!(feature = "burn") {
        b.push("burn flex (CPU; --device flex)");
    }
    if cfg!(feature = "wgpu") {
        b.push("burn wgpu (--device wgpu)");
    }
    b
}

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
