//! Lanczos with full reorthogonalisation on a random SPD matrix whose
//! spectrum we chose: the extreme Ritz values converge to the extreme
//! eigenvalues first.
//!
//! `cargo run --release --example lanczos_spectrum`

use optlab::datasets::generate::{geometric_spectrum, random_spd};
use optlab::linalg_core::faer::Col;
use optlab::linalg_core::lanczos::{Reorthogonalization, lanczos, ritz_pairs};
use optlab::linalg_core::op::DenseOp;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 400;
    let spectrum = geometric_spectrum(n, 1e3)?;
    let a = DenseOp::new(random_spd(&spectrum, 7)?)?;
    let start = Col::<f64>::ones(n);
    println!(
        "{:>6} {:>14} {:>14} {:>12}",
        "steps", "θ_min", "θ_max", "|θ_max − λ_max|"
    );
    for steps in [10, 20, 40, 80] {
        let lz = lanczos(&a, start.as_ref(), steps, Reorthogonalization::Full)?;
        let ritz = ritz_pairs(&lz)?;
        let (lo, hi) = (ritz.values[0], ritz.values[ritz.values.len() - 1]);
        println!(
            "{steps:>6} {lo:>14.6e} {hi:>14.10} {:>12.2e}",
            (hi - spectrum[n - 1]).abs()
        );
    }
    println!(
        "exact: λ_min = {:.6e}, λ_max = {}",
        spectrum[0],
        spectrum[n - 1]
    );
    Ok(())
}
