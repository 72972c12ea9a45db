//! Cross-crate criterion benchmarks (`cargo bench -p optlab-benches`).
//!
//! - `krylov`: the CG driver of `linalg-core` against calling faer's
//!   `conjugate_gradient` directly (the price of history and checks), and
//!   Lanczos with full against no reorthogonalisation.
//!
//! Comparisons with the algorithm crates join as those crates land.

#![warn(missing_docs)]
