//! Sampled convex programs: the scenario bound against closed forms and a
//! direct binomial sum, and the fresh-pattern check against re-solving.

use linalg_core::faer::Col;
use relu_convex_admm::scp::{fresh_violations, scenario_size};
use relu_convex_admm::*;

/// Σ_{i<k} C(N, i) εⁱ(1 − ε)^{N−i} by the pmf recurrence in linear space.
fn tail(n: u64, k: u64, eps: f64) -> f64 {
    let mut pmf = (1.0 - eps).powi(n as i32);
    let mut sum = 0.0;
    for i in 0..k.min(n + 1) {
        sum += pmf;
        pmf *= (n - i) as f64 / (i + 1) as f64 * eps / (1.0 - eps);
    }
    sum
}

#[test]
fn scenario_size_is_the_smallest_n_with_a_small_binomial_tail() {
    // One decision variable: (1 − ε)^N ≤ ξ, N = ⌈ln ξ / ln(1 − ε)⌉.
    for (eps, xi) in [(0.1, 1e-3), (0.01, 0.05), (0.3, 1e-9)] {
        let want = (f64::ln(xi) / f64::ln(1.0 - eps)).ceil() as u64;
        assert_eq!(scenario_size(1, eps, xi).unwrap(), want, "ε {eps}, ξ {xi}");
    }
    for (k, eps, xi) in [(10u64, 0.1, 1e-3), (50, 0.05, 1e-6), (30, 0.2, 0.01)] {
        let n = scenario_size(k as usize, eps, xi).unwrap();
        assert!(tail(n, k, eps) <= xi * (1.0 + 1e-9), "k {k}: tail at N");
        assert!(tail(n - 1, k, eps) > xi, "k {k}: N − 1 suffices");
        // Within the familiar sufficient size (2/ε)(k − 1 + ln(1/ξ)).
        assert!((n as f64) <= 2.0 / eps * (k as f64 - 1.0 + (1.0 / xi).ln()));
    }
    // The README's figure: breast cancer's 426 training samples.
    println!("breast cancer: {}", scenario_size(426, 0.05, 1e-6).unwrap());
    assert!(scenario_size(0, 0.1, 0.1).is_err());
    assert!(scenario_size(5, 1.0, 0.1).is_err());
    assert!(scenario_size(5, 0.1, f64::NAN).is_err());
}

#[test]
fn more_sampled_patterns_leave_fewer_improving_fresh_ones() {
    let ds = datasets::wine().binary(0, 1).unwrap();
    let mut x = ds.features.clone();
    datasets::standardize(&mut x).unwrap();
    let y = ds.signed_labels().unwrap();
    let yv: Vec<f64> = (0..y.nrows()).map(|i| y[i]).collect();
    let beta = 2.0;
    let mut rates = Vec::new();
    for p in [3, 100] {
        let program =
            ConvexProgram::new(x.as_ref(), &yv, Patterns::sample(x.as_ref(), p, 0).unwrap())
                .unwrap();
        let rep = admm(
            &program,
            &AdmmParams::new(beta).tol(1e-6).max_iters(50_000),
            |_| Control::Continue,
        )
        .unwrap();
        assert!(rep.converged);
        let pred = program.predict(rep.v.as_ref(), rep.w.as_ref());
        let lambda = Loss::Squared.gradient(&pred, program.y());
        let f = fresh_violations(x.as_ref(), &lambda, beta, 2000, 7).unwrap();
        println!(
            "P = {p}: objective {:.6}, fresh violations {} / {} (worst ratio {:.3})",
            rep.objective, f.violating, f.samples, f.worst_ratio
        );
        rates.push((rep.objective, f.rate));
    }
    assert!(
        rates[0].1 > 0.05,
        "three patterns should leave improving ones: {:?}",
        rates
    );
    assert!(
        rates[1].1 < rates[0].1 && rates[1].0 < rates[0].0,
        "{rates:?}"
    );
    assert!(fresh_violations(x.as_ref(), &Col::zeros(3), beta, 10, 0).is_err());
    let mut xn = x.clone();
    xn[(0, 0)] = f64::NAN;
    let zeros = Col::zeros(x.nrows());
    assert!(fresh_violations(xn.as_ref(), &zeros, beta, 10, 0).is_err());
}
