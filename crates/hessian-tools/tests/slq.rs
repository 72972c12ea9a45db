//! SLQ on a matrix with a known spectrum (bulk uniform on [1, 2] and one
//! outlier at 4, randomly rotated): the density integrates to 1, its
//! moments match tr(A)/n and tr(A²)/n computed exactly, and the largest
//! node finds the outlier.

use hessian_tools::{SlqParams, slq};
use linalg_core::faer::Mat;
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

#[test]
fn slq_density_integrates_to_one_and_matches_the_moments() {
    let n = 400;
    let lambda: Vec<f64> = (0..n)
        .map(|j| {
            if j == 0 {
                4.0
            } else {
                1.0 + j as f64 / n as f64
            }
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(3);
    let g = Mat::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let u = g.qr().compute_thin_Q();
    let ul = Mat::from_fn(n, n, |i, j| u[(i, j)] * lambda[j]);
    let a0 = &ul * u.transpose();
    let a = Mat::from_fn(n, n, |i, j| 0.5 * (a0[(i, j)] + a0[(j, i)]));
    let m1: f64 = lambda.iter().sum::<f64>() / n as f64;
    let m2: f64 = lambda.iter().map(|l| l * l).sum::<f64>() / n as f64;
    let params = SlqParams {
        steps: 40,
        probes: 20,
        ..Default::default()
    };
    let d = slq(&a, &params).unwrap();
    assert_eq!(d.matvecs, 40 * 20);
    let wsum: f64 = d.weights.iter().sum();
    assert!((wsum - 1.0).abs() < 1e-13, "weights sum to {wsum}");
    // The trapezoid rule on a grid of σ/5 over [min − 12σ, max + 12σ].
    let (lo, hi) = d.range();
    assert!((hi - 4.0).abs() < 1e-8, "largest node {hi}");
    let (s, h) = (d.sigma, d.sigma / 5.0);
    let grid: Vec<f64> = (0..)
        .map(|k| lo - 12.0 * s + k as f64 * h)
        .take_while(|&t| t <= hi + 12.0 * s)
        .collect();
    let phi = d.evaluate(&grid);
    let integrate = |f: &dyn Fn(usize) -> f64| h * (0..grid.len()).map(f).sum::<f64>();
    let mass = integrate(&|k| phi[k]);
    assert!((mass - 1.0).abs() < 1e-12, "mass {mass}");
    let e1 = integrate(&|k| grid[k] * phi[k]);
    let e2 = integrate(&|k| grid[k] * grid[k] * phi[k]) - s * s;
    println!(
        "σ = {s:.3e}; moments {e1:.6} vs {m1:.6} (stderr {:.1e}), {e2:.6} vs {m2:.6} (stderr {:.1e})",
        d.moment_stderr(1),
        d.moment_stderr(2)
    );
    assert!((e1 - m1).abs() <= 0.01 * m1 && (e2 - m2).abs() <= 0.01 * m2);
    assert!((e1 - d.moment(1)).abs() < 1e-12 && (e2 - d.moment(2)).abs() < 1e-10);
    // Bad input.
    assert!(slq(&Mat::<f64>::zeros(3, 4), &params).is_err());
    let bad = SlqParams {
        steps: 1,
        ..Default::default()
    };
    assert!(slq(&a, &bad).is_err());
}
