//! CG driver vs raw faer, Lanczos full vs no reorthogonalisation, on the
//! 2-D Poisson matrix.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use optlab::datasets::generate::laplacian_2d;
use optlab::linalg_core::cg::{Cg, CgParams};
use optlab::linalg_core::faer::dyn_stack::{MemBuffer, MemStack};
use optlab::linalg_core::faer::matrix_free::conjugate_gradient::{
    CgParams as FaerParams, conjugate_gradient, conjugate_gradient_scratch,
};
use optlab::linalg_core::faer::matrix_free::{IdentityPrecond, InitialGuessStatus};
use optlab::linalg_core::faer::{Col, Par};
use optlab::linalg_core::lanczos::{Reorthogonalization, lanczos};
use optlab::linalg_core::op::{SparseOp, apply};

fn cg_driver_vs_faer(c: &mut Criterion) {
    let mut group = c.benchmark_group("cg_poisson2d/driver_vs_faer");
    group.sample_size(20);
    for g in [64usize, 128] {
        let n = g * g;
        let a = SparseOp::new(laplacian_2d(g).expect("grid")).expect("finite");
        let b = apply(&a, Col::<f64>::ones(n).as_ref());
        let solver = Cg::new(CgParams::new().rtol(1e-8)).expect("params");
        group.bench_with_input(BenchmarkId::new("linalg_core::Cg", g), &g, |bench, _| {
            bench.iter(|| solver.solve(&a, b.as_ref(), None).expect("converges"))
        });
        group.bench_with_input(
            BenchmarkId::new("faer::conjugate_gradient", g),
            &g,
            |bench, _| {
                let id = IdentityPrecond { dim: n };
                let params = FaerParams::<f64> {
                    rel_tolerance: 1e-8,
                    max_iters: 10 * n,
                    initial_guess: InitialGuessStatus::MaybeNonZero,
                    ..Default::default()
                };
                let mut buf = MemBuffer::new(conjugate_gradient_scratch(&id, &a, 1, Par::Seq));
                bench.iter(|| {
                    let mut x = Col::<f64>::zeros(n);
                    conjugate_gradient(
                        x.as_mat_mut(),
                        &id,
                        &a,
                        b.as_mat(),
                        params,
                        |_| {},
                        Par::Seq,
                        MemStack::new(&mut buf),
                    )
                    .expect("converges");
                    x
                })
            },
        );
    }
    group.finish();
}

fn lanczos_reorth(c: &mut Criterion) {
    let mut group = c.benchmark_group("lanczos_poisson2d_g64/100_steps");
    group.sample_size(20);
    let g = 64;
    let a = SparseOp::new(laplacian_2d(g).expect("grid")).expect("finite");
    let start = Col::from_fn(g * g, |i| ((i * 7919) % 1009) as f64 / 1009.0 - 0.5);
    for (name, r) in [
        ("full", Reorthogonalization::Full),
        ("none", Reorthogonalization::None),
    ] {
        group.bench_function(name, |bench| {
            bench.iter(|| lanczos(&a, start.as_ref(), 100, r).expect("runs"))
        });
    }
    group.finish();
}

criterion_group!(benches, cg_driver_vs_faer, lanczos_reorth);
criterion_main!(benches);
