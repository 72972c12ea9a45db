//! linalg-core benches: operator adaptors inside CG, Lanczos, Matrix Market and NPY I/O.
//!
//! `cargo bench -p linalg-core`

use criterion::{Criterion, criterion_group, criterion_main};
use linalg_core::cg::{Cg, CgParams};
use linalg_core::faer::sparse::{SparseRowMat, Triplet};
use linalg_core::faer::{Col, ColMut, ColRef};
use linalg_core::io::{
    MtxSymmetry, NpyDtype, read_matrix_market_from, read_npy_bytes, write_matrix_market_to,
    write_npy_to,
};
use linalg_core::lanczos::{Reorthogonalization, lanczos};
use linalg_core::op::{FnOp, SparseOp, apply};

const G: usize = 96;

fn stencil(g: usize) -> impl Fn(ColMut<'_, f64>, ColRef<'_, f64>) + Sync {
    move |mut out: ColMut<'_, f64>, x: ColRef<'_, f64>| {
        for i in 0..g {
            for j in 0..g {
                let k = i * g + j;
                let mut v = 4.0 * x[k];
                if i > 0 {
                    v -= x[k - g];
                }
                if i + 1 < g {
                    v -= x[k + g];
                }
                if j > 0 {
                    v -= x[k - 1];
                }
                if j + 1 < g {
                    v -= x[k + 1];
                }
                out[k] = v;
            }
        }
    }
}

fn csr(g: usize) -> SparseRowMat<usize, f64> {
    let n = g * g;
    let mut t = Vec::new();
    // The same 5-point stencil, assembled as CSR.
    for i in 0..g {
        for j in 0..g {
            let k = i * g + j;
            t.push(Triplet::new(k, k, 4.0));
            for (di, dj) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (a, b) = (i as i64 + di, j as i64 + dj);
                if a >= 0 && b >= 0 && (a as usize) < g && (b as usize) < g {
                    t.push(Triplet::new(k, a as usize * g + b as usize, -1.0));
                }
            }
        }
    }
    SparseRowMat::try_new_from_triplets(n, n, &t).expect("valid triplets")
}

fn operators_in_cg(c: &mut Criterion) {
    let n = G * G;
    let mut group = c.benchmark_group("cg_poisson2d_g96/operator");
    group.sample_size(20);
    let sparse = SparseOp::new(csr(G)).expect("finite");
    let closure = FnOp::new(n, stencil(G));
    let b = apply(&sparse, Col::<f64>::ones(n).as_ref());
    let solver = Cg::new(CgParams::new().rtol(1e-8)).expect("params");
    group.bench_function("SparseOp(csr)", |bench| {
        bench.iter(|| solver.solve(&sparse, b.as_ref(), None).expect("ok"))
    });
    group.bench_function("FnOp(stencil)", |bench| {
        bench.iter(|| solver.solve(&closure, b.as_ref(), None).expect("ok"))
    });
    group.finish();
}

fn lanczos_steps(c: &mut Criterion) {
    let n = G * G;
    let sparse = SparseOp::new(csr(G)).expect("finite");
    let start = Col::from_fn(n, |i| ((i * 7919) % 1009) as f64 / 1009.0 - 0.5);
    let mut group = c.benchmark_group("lanczos_poisson2d_g96/50_steps");
    group.sample_size(20);
    group.bench_function("full_reorth", |bench| {
        bench.iter(|| lanczos(&sparse, start.as_ref(), 50, Reorthogonalization::Full).expect("ok"))
    });
    group.bench_function("no_reorth", |bench| {
        bench.iter(|| lanczos(&sparse, start.as_ref(), 50, Reorthogonalization::None).expect("ok"))
    });
    group.finish();
}

fn io(c: &mut Criterion) {
    let m = csr(G); // 9216 rows, 45 696 entries
    let mut mtx = Vec::new();
    write_matrix_market_to(&mut mtx, &m, MtxSymmetry::General).expect("write");
    let data: Vec<f64> = (0..100_000).map(|k| k as f64 * 0.001).collect();
    let mut npy = Vec::new();
    write_npy_to(&mut npy, &[1000, 100], &data, NpyDtype::F64).expect("write");
    let mut group = c.benchmark_group("io");
    group.sample_size(20);
    group.bench_function("mtx_read_45k_entries", |bench| {
        bench.iter(|| read_matrix_market_from(mtx.as_slice()).expect("read"))
    });
    group.bench_function("mtx_write_45k_entries", |bench| {
        bench.iter(|| {
            let mut out = Vec::with_capacity(mtx.len());
            write_matrix_market_to(&mut out, &m, MtxSymmetry::General).expect("write");
            out
        })
    });
    group.bench_function("npy_read_1000x100", |bench| {
        bench.iter(|| read_npy_bytes(&npy).expect("read"))
    });
    group.finish();
}

criterion_group!(benches, operators_in_cg, lanczos_steps, io);
criterion_main!(benches);
