//! CG on the 2-D Poisson problem with a residual-history observer.
//!
//! `cargo run --release --example cg_poisson -- [GRID]` (default 128).

use optlab::datasets::generate::laplacian_2d;
use optlab::linalg_core::Control;
use optlab::linalg_core::cg::{Cg, CgParams};
use optlab::linalg_core::faer::Col;
use optlab::linalg_core::faer::matrix_free::IdentityPrecond;
use optlab::linalg_core::op::{SparseOp, apply};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let g: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(128);
    let a = SparseOp::new(laplacian_2d(g)?)?;
    let n = g * g;
    // b = A·1, so the exact solution is the vector of ones.
    let ones = Col::<f64>::ones(n);
    let b = apply(&a, ones.as_ref());
    let solver = Cg::new(CgParams::new().rtol(1e-10))?;
    let report = solver.solve_with(&a, &IdentityPrecond { dim: n }, b.as_ref(), None, |rec| {
        if rec.iteration % 50 == 0 {
            println!(
                "iteration {:>5}   ‖r‖/‖b‖ = {:.3e}",
                rec.iteration, rec.relative_residual
            );
        }
        Control::Continue
    })?;
    println!(
        "{}: {} iterations in {:.1} ms, ‖x − 1‖∞ = {:.2e}",
        report.termination,
        report.iterations,
        report.elapsed.as_secs_f64() * 1e3,
        (&report.x - &ones).norm_max()
    );
    Ok(())
}
