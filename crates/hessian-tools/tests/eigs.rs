//! Lanczos extremes against faer's dense eigensolver on a matrix with a
//! known spectrum (ten outliers 20, 18, …, 2 over a bulk on [−0.5, 1]),
//! and against PyHessian's deflated power iteration in products.

use hessian_tools::{Which, extremes, power_deflated};
use linalg_core::faer::{Mat, Side};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

fn matrix(n: usize) -> Mat<f64> {
    let lambda: Vec<f64> = (0..n)
        .map(|j| {
            if j < 10 {
                20.0 - 2.0 * j as f64
            } else {
                -0.5 + 1.5 * j as f64 / n as f64
            }
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(5);
    let g = Mat::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let u = g.qr().compute_thin_Q();
    let ul = Mat::from_fn(n, n, |i, j| u[(i, j)] * lambda[j]);
    let a = &ul * u.transpose();
    Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]))
}

#[test]
fn lanczos_top_ten_match_the_dense_solver_with_a_third_of_the_power_products() {
    let a = matrix(500);
    let mut dense = a.self_adjoint_eigenvalues(Side::Lower).unwrap();
    dense.reverse();
    let top = extremes(&a, 10, Which::LargestAlgebraic, 45, 0).unwrap();
    for (i, &want) in dense.iter().take(10).enumerate() {
        let rel = (top.values[i] - want).abs() / want.abs();
        assert!(rel <= 1e-8, "{i}: {} vs {want} ({rel:e})", top.values[i]);
        assert!(
            top.residuals[i] <= 1e-8,
            "{i}: residual {:e}",
            top.residuals[i]
        );
    }
    // The residual is the true one: ‖Au − θu‖ for the returned vectors.
    for i in 0..10 {
        let u = top.vectors.col(i);
        let r = &a * u - u * top.values[i];
        assert!(r.norm_l2() <= 1e-8 + 10.0 * top.residuals[i]);
    }
    let (power, power_mv) = power_deflated(&a, 10, 100, 1e-3, 0).unwrap();
    let worst = (0..10)
        .map(|i| (power[i] - dense[i]).abs() / dense[i])
        .fold(0.0, f64::max);
    println!(
        "Lanczos: {} products, power (PyHessian defaults): {power_mv} products, worst rel. error {worst:.1e}",
        top.matvecs
    );
    assert!(3 * top.matvecs <= power_mv, "{} vs {power_mv}", top.matvecs);
    // The smallest end is kept apart from the largest magnitude.
    let low = extremes(&a, 1, Which::SmallestAlgebraic, 300, 1).unwrap();
    let mag = extremes(&a, 1, Which::LargestMagnitude, 60, 1).unwrap();
    assert!(
        (low.values[0] - dense[499]).abs() < 1e-6,
        "{} vs {}",
        low.values[0],
        dense[499]
    );
    assert!((mag.values[0] - 20.0).abs() < 1e-8);
    assert!(extremes(&a, 501, Which::LargestAlgebraic, 600, 0).is_err());
    assert!(extremes(&Mat::<f64>::zeros(3, 4), 1, Which::LargestAlgebraic, 3, 0).is_err());
}
