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
    // Where each bar is first met along the default run (ρ = ‖X‖_F/6, α = 1.8):
    // the certificate's gap bound, the true gap, the cone violation.
    let rep = admm(
        &program,
        &AdmmParams::new(beta).tol(1e-12).max_iters(3000),
        |_| Control::Continue,
    )
    .unwrap();
    let first = |f: &dyn Fn(&AdmmRecord) -> bool| rep.history.iter().position(f);
    eprintln!(
        "defaults: gap bound <= 1e-4 at {:?}, true gap <= 1e-4 at {:?}, cone <= 1e-4 at {:?}, both (bound) at {:?}",
        first(&|r| r.iteration > 0 && r.gap_bound <= 1e-4),
        first(&|r| r.iteration > 0
            && (r.objective - reference.objective).abs() <= 1e-4 * reference.objective),
        first(&|r| r.iteration > 0 && r.cone_violation <= 1e-4),
        first(&|r| r.iteration > 0 && r.gap_bound <= 1e-4 && r.cone_violation <= 1e-4),
    );
    for i in [
        10, 50, 100, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000, 3000,
    ] {
        if let Some(r) = rep.history.get(i) {
            eprintln!(
                "  {i}: gap bound {:.1e}, true gap {:.1e}, cone {:.1e}",
                r.gap_bound,
                (r.objective - reference.objective) / reference.objective,
                r.cone_violation
            );
        }
    }
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
