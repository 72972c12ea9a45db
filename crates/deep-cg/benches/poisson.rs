//! deep-cg benches (`cargo bench -p deep-cg`).
//!
//! - `matvec_64`: the matrix-free stencil (sequential and parallel) against
//!   faer's CSR product, with throughput in bytes each must move, next to a
//!   plain copy of one vector (its read + write bytes): the memory-bandwidth
//!   yardstick.
//! - `solve/<scene>_<N>`: every solver at rtol 1e-8 on `box` and `smoke-plume`
//!   at 32³ and 64³, setup included (iteration counts are printed once).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use deep_cg::{Control, Method, PoissonSystem, Scene, SolveParams, solve};
use linalg_core::faer::{Col, Par};

fn matvec(c: &mut Criterion) {
    let n = 64;
    let sys = PoissonSystem::new(Scene::SmokePlume.build(n, 0).expect("scene"));
    let len = sys.len();
    let csr = sys.to_csr().expect("csr");
    let x: Vec<f64> = (0..len).map(|i| (i % 17) as f64 * 0.1).collect();
    let xc = Col::from_fn(len, |i| x[i]);
    let mut y = vec![0.0; len];
    let mut yc = Col::<f64>::zeros(len);
    let mut group = c.benchmark_group("matvec_64");
    group.sample_size(50);
    // Stencil: read x (8 B) and the two per-cell bytes, write y (8 B).
    group.throughput(Throughput::Bytes((len * 18) as u64));
    group.bench_function("stencil_seq", |b| {
        b.iter(|| sys.apply_slices(&mut y, black_box(&x), Par::Seq))
    });
    group.bench_function("stencil_par", |b| {
        b.iter(|| sys.apply_slices(&mut y, black_box(&x), Par::rayon(0)))
    });
    // CSR: values and column indices (16 B per entry), row pointers, x and y.
    let nnz = csr.val().len();
    group.throughput(Throughput::Bytes(
        (16 * nnz + 8 * (len + 1) + 16 * len) as u64,
    ));
    group.bench_function("csr_faer", |b| {
        b.iter(|| {
            linalg_core::faer::sparse::linalg::matmul::sparse_dense_matmul(
                yc.as_mat_mut(),
                linalg_core::faer::Accum::Replace,
                csr.as_ref(),
                xc.as_mat(),
                1.0,
                Par::Seq,
            )
        })
    });
    // A plain copy of one vector: 8 B read + 8 B written per cell.
    group.throughput(Throughput::Bytes((len * 16) as u64));
    group.bench_function("copy_vector", |b| {
        b.iter(|| y.copy_from_slice(black_box(&x)))
    });
    group.finish();
    // The same copy on 64 MiB buffers, far beyond the caches: the DRAM yardstick
    // for bandwidth-bound estimates of whole solves.
    let big = 8 << 20;
    let src: Vec<f64> = (0..big).map(|i| i as f64).collect();
    let mut dst = vec![0.0; big];
    let mut group = c.benchmark_group("copy_dram");
    group.sample_size(20);
    group.throughput(Throughput::Bytes((big * 16) as u64));
    group.bench_function("copy_64MiB", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&src)))
    });
    group.finish();
}

fn solvers(c: &mut Criterion) {
    for n in [32usize, 64, 128] {
        for scene in [Scene::Box, Scene::SmokePlume] {
            let sys = PoissonSystem::new(scene.build(n, 0).expect("scene"));
            let b = sys.divergence_rhs(1);
            let mut group = c.benchmark_group(format!("solve/{}_{n}", scene.name()));
            group.sample_size(10);
            group.warm_up_time(std::time::Duration::from_millis(500));
            for method in Method::ALL {
                // At 128³ only MG-PCG (the others take seconds per solve).
                if n == 128 && method != Method::MgPcg {
                    continue;
                }
                let params = SolveParams::new(method).rtol(1e-8);
                let rep = solve(&sys, b.as_ref(), &params, |_| Control::Continue).expect("solves");
                eprintln!(
                    "{} {n}³ {}: {} iterations, relative residual {:.1e}",
                    scene.name(),
                    method.name(),
                    rep.iterations,
                    rep.relative_residual
                );
                group.bench_with_input(
                    BenchmarkId::from_parameter(method.name()),
                    &params,
                    |bch, p| {
                        bch.iter(|| {
                            solve(&sys, b.as_ref(), p, |_| Control::Continue).expect("solves")
                        })
                    },
                );
            }
            group.finish();
        }
    }
}

criterion_group!(benches, matvec, solvers);
criterion_main!(benches);
