//! The speed setup: n = 500, d = 30, P = 50, squared loss,
//! β = 0.1·maxᵢ‖(DᵢX)ᵀy‖ (measurement; `--ignored`).

use linalg_core::faer::Mat;
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};
use relu_convex_admm::*;

#[test]
#[ignore = "measurement: cargo test -p relu-convex-admm --release --test speed -- --ignored --nocapture"]
fn n500_d30_p50() {
    let (n, d, p) = (500, 30, 50);
    let mut rng = StdRng::seed_from_u64(0);
    let x = Mat::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng));
    let wt: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let s: f64 = (0..d).map(|j| x[(i, j)] * wt[j]).sum();
            if s.max(0.0) - 0.5 > 0.0 { 1.0 } else { -1.0 }
        })
        .collect();
    let patterns = Patterns::sample(x.as_ref(), p, 1).unwrap();
    let m = patterns.masks.clone();
    let beta = 0.1
        * (0..patterns.len())
            .map(|k| {
                (0..d)
                    .map(|j| {
                        (0..n)
                            .map(|i| x[(i, j)] * m[(i, k)] * y[i])
                            .sum::<f64>()
                            .powi(2)
                    })
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0, f64::max);
    let program = ConvexProgram::new(x.as_ref(), &y, patterns).unwrap();
    let reference = admm(
        &program,
        &AdmmParams::new(beta).rho(100.0).tol(1e-9).max_iters(50_000),
        |_| Control::Continue,
    )
    .unwrap();
    eprintln!(
        "reference (rho 100, tol 1e-9): {:.10} after {} iterations, cone {:.1e}",
        reference.objective, reference.iterations, reference.cone_violation
    );
    for relax in [1.6, 1.8] {
        for rho in [10.0, 20.0, 30.0, 50.0] {
            let t = std::time::Instant::now();
            let rep = admm(
                &program,
                &AdmmParams::new(beta)
                    .rho(rho)
                    .relaxation(relax)
                    .tol(1e-4)
                    .max_iters(5000),
                |_| Control::Continue,
            )
            .unwrap();
            let s = t.elapsed().as_secs_f64();
            eprintln!(
                "relaxation {relax} rho {rho}: {} iterations ({:?}), rel gap {:.1e}, cone {:.1e}, {:.2} s, {:.2} ms/iteration",
                rep.iterations,
                rep.termination,
                (rep.objective - reference.objective).abs() / reference.objective,
                rep.cone_violation,
                s,
                1e3 * s / rep.iterations as f64
            );
        }
    }
}
