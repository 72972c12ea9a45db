//! Per-iteration cost of the ADMM: 50 iterations (tolerances too tight to
//! stop) at n ∈ {500, 1000} and P ∈ {50, 100}, d = 30, squared loss.
//! The setup (one d × d and one n × n Cholesky) is outside the timed loop
//! only in the sense that it is the same for every sample; the quoted ratio
//! uses the difference of two iteration counts. `cargo bench -p relu-convex-admm`.

use criterion::{Criterion, criterion_group, criterion_main};
use linalg_core::faer::Mat;
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};
use relu_convex_admm::*;

fn program(n: usize, p: usize) -> (ConvexProgram, f64) {
    let d = 30;
    let mut rng = StdRng::seed_from_u64(0);
    let x = Mat::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng));
    let y: Vec<f64> = (0..n)
        .map(|i| {
            if x[(i, 0)] + x[(i, 1)] > 0.0 {
                1.0
            } else {
                -1.0
            }
        })
        .collect();
    let patterns = Patterns::sample(x.as_ref(), p, 1).unwrap();
    (ConvexProgram::new(x.as_ref(), &y, patterns).unwrap(), 1.0)
}

fn benches(c: &mut Criterion) {
    for (n, p) in [(500, 50), (1000, 50), (500, 100)] {
        let (prog, beta) = program(n, p);
        for iters in [10usize, 60] {
            c.bench_function(&format!("admm n{n} p{p} {iters} iterations"), |b| {
                b.iter(|| {
                    admm(
                        &prog,
                        &AdmmParams::new(beta).tol(1e-300).max_iters(iters),
                        |_| Control::Continue,
                    )
                    .unwrap()
                })
            });
        }
    }
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);
