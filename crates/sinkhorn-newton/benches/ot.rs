//! sinkhorn-newton benches (`cargo bench -p sinkhorn-newton`).
//!
//! - `sweeps_2000`: 20 Sinkhorn sweeps on n = 2000 point clouds at ε = 0.01,
//!   kernel space with absorption (`auto`) and log domain (`log`); setup (the
//!   first log-domain sweep, the kernel, the final plan) included.
//! - `solve/<problem>`: a full solve to marginal error 1e-9 by Sinkhorn and
//!   by SNS on the paper's random assignment (n = 500, η = 1200 and 100) and
//!   on W2 between two digit images (η = 1200).
//!
//! The side-by-side with POT is `benches/ot_peers.py` (top level).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sinkhorn_newton::{
    Control, SinkhornMethod, SinkhornParams, SnsParams, instances, sinkhorn, sns,
};

fn sweeps(c: &mut Criterion) {
    let p = instances::point_clouds(2000, 2000, 2, 0)
        .and_then(|i| i.problem(0.01))
        .expect("problem");
    let mut group = c.benchmark_group("sweeps_2000");
    group.sample_size(10);
    for (name, method) in [("auto", SinkhornMethod::Auto), ("log", SinkhornMethod::Log)] {
        let params = SinkhornParams {
            marginal_tol: 1e-300,
            max_iters: 20,
            check_every: 20,
            method,
            ..Default::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| sinkhorn(black_box(&p), &params, None, |_| Control::Continue).expect("solve"))
        });
    }
    group.finish();
}

fn solves(c: &mut Criterion) {
    let cases = [
        (
            "random_assignment_eta1200",
            instances::random_assignment(500, 0),
            1.0 / 1200.0,
            false,
        ),
        (
            "random_assignment_eta100",
            instances::random_assignment(500, 0),
            0.01,
            true,
        ),
        (
            "digits_w2_eta1200",
            instances::image_pair(
                &datasets::digit_image(0).unwrap(),
                &datasets::digit_image(1).unwrap(),
                8,
                8,
                2,
            ),
            1.0 / 1200.0,
            true,
        ),
    ];
    let mut group = c.benchmark_group("solve");
    group.sample_size(10);
    for (name, inst, reg, with_sinkhorn) in cases {
        let p = inst.and_then(|i| i.problem(reg)).expect("problem");
        let rep = sns(&p, &SnsParams::default(), |_| Control::Continue).expect("sns");
        println!(
            "{name}: SNS {} + {} iterations, marginal error {:.1e}",
            rep.sinkhorn_iterations, rep.newton_iterations, rep.marginal_error
        );
        group.bench_function(format!("{name}/sns"), |b| {
            b.iter(|| {
                sns(black_box(&p), &SnsParams::default(), |_| Control::Continue).expect("sns")
            })
        });
        // Sinkhorn needs ~17 000 sweeps at η = 1200 on the random assignment
        // (seconds per solve): measured by benches/ot_peers.py instead.
        if with_sinkhorn {
            let params = SinkhornParams {
                max_iters: 200_000,
                ..Default::default()
            };
            group.bench_function(format!("{name}/sinkhorn"), |b| {
                b.iter(|| {
                    sinkhorn(black_box(&p), &params, None, |_| Control::Continue).expect("sinkhorn")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, sweeps, solves);
criterion_main!(benches);
