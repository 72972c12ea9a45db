//! # linalg-core
//!
//! The thin numerical core of optlab, on top of [faer](https://docs.rs/faer):
//!
//! - [`op`]: adaptors implementing [`faer::matrix_free::LinOp`] (closures, dense and
//!   sparse matrices validated once, `αA + σI`, a symmetric marker);
//! - [`lanczos`]: the Lanczos process with full or no reorthogonalisation, and
//!   Ritz pairs;
//! - [`cg`]: a conjugate-gradient driver over faer's `conjugate_gradient` with
//!   residual history, observers and precise errors;
//! - [`objective`]: the [`Objective`] trait, finite-difference checkers and test
//!   functions;
//! - [`solver`]: the shared solver vocabulary (records, observers, the
//!   [`Recorder`] with the stopping tests, [`Termination`], [`Work`] counts);
//! - [`param`]: the parameter checks every `validate()` is built from;
//! - [`precond`]: Jacobi and IC(0) on CSR matrices (faer-precond underneath);
//! - [`io`]: Matrix Market and NPY readers/writers with precise errors.
//!
//! faer is re-exported so every crate of the workspace shares one version.
//!
//! ```
//! use linalg_core::{faer::Col, op::FnOp, cg::cg};
//! // Solve the 1-D Laplacian system tridiag(−1, 2, −1) x = 1.
//! let n = 50;
//! let lap = FnOp::new(n, |mut out: faer::ColMut<'_, f64>, x: faer::ColRef<'_, f64>| {
//!     for i in 0..n {
//!         let l = if i > 0 { x[i - 1] } else { 0.0 };
//!         let r = if i + 1 < n { x[i + 1] } else { 0.0 };
//!         out[i] = 2.0 * x[i] - l - r;
//!     }
//! });
//! let b = Col::<f64>::ones(n);
//! let report = cg(&lap, b.as_ref(), 1e-10, 200).unwrap();
//! assert!(report.converged);
//! // Closed form: x_i = (i+1)(n−i)/2.
//! assert!((report.x[0] - 25.0).abs() < 1e-8);
//! ```

#![warn(missing_docs)]

pub use faer;

pub mod budget;
pub mod cg;
mod error;
pub mod io;
pub mod lanczos;
pub mod objective;
pub mod op;
pub mod param;
pub mod precond;
pub mod simd;
pub mod solver;

pub use cg::{Cg, CgParams, CgRecord, CgReport};
pub use error::{Definiteness, Error, MtxProblem, NpyProblem, Result};
pub use lanczos::{
    LanczosParams, LanczosRecord, LanczosResult, Reorthogonalization, RitzPairs, lanczos,
    ritz_pairs,
};
pub use objective::{Objective, check_gradient, check_hessian_vec};
pub use param::ParamError;
pub use solver::{Control, IterationRecord, Recorder, Termination, Work};

/// The degree of parallelism that makes faer's dense kernels bit-identical
/// whatever the size of the rayon pool: a fixed split into 8 tasks.
///
/// faer's default, `Par::rayon(0)`, splits its blocked factorizations
/// (Cholesky, LU, eigendecompositions) by the pool's thread count, so the
/// last bits of a result change with `RAYON_NUM_THREADS`. With a fixed
/// degree the split, and so every rounding, is the same on 1, 2 or 64
/// threads; the tasks still run on the current pool. Measured on 2 cores
/// (2 000 × 2 000): Cholesky 52 → 60 ms, eigenvalues 393 → 369 ms, `AᵀA`
/// 252 → 244 ms, all within run-to-run noise. Set it once with
/// `faer::set_global_parallelism(linalg_core::deterministic_par())` (the
/// `optlab` CLI does), or pass it wherever a `Par` is taken.
pub fn deterministic_par() -> faer::Par {
    faer::Par::rayon(8)
}

/// The README example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
