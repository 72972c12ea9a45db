//! Runnable examples of the optlab workspace (this library is empty; the
//! examples are the content):
//!
//! - `cg_poisson`: CG with an observer and residual history on a 2-D Poisson
//!   problem, checked against the exact solution.
//! - `lanczos_spectrum`: Ritz values of a random SPD matrix with a chosen
//!   spectrum, against that spectrum.
//! - `datasets_tour`: the embedded datasets, standardised and split.
//! - `ot_convergence`: Sinkhorn vs Sinkhorn-Newton-Sparse on the paper's
//!   random assignment problem; writes the marginal-error plot (SVG).
//! - `optimizers_convergence`: every optimizer on logistic regression
//!   (breast cancer); writes the f − f* plot (SVG).
//! - `dcdm_residuals` (feature `burn`): DCDM with the shipped weights against
//!   CG, IC(0)-PCG and MG-PCG on a fluid scene; writes the residual plot (SVG).
//!
//! Run one with `cargo run --release --example NAME`.

#![warn(missing_docs)]
