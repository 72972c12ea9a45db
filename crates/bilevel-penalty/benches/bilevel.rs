//! Criterion benches: the deterministic penalty method on the closed-form
//! quadratic and on hyper-cleaning, the stochastic methods and F2SA on a
//! reduced benchopt-shaped quadratic (same spectra, 4 096 / 512 samples).
//! `cargo bench -p bilevel-penalty`.

use bilevel_penalty::instances::{
    CleaningProtocol, CleaningSplit, Quadratic, StochasticQuadratic, StochasticQuadraticConfig,
};
use bilevel_penalty::*;
use criterion::{Criterion, criterion_group, criterion_main};
use linalg_core::faer::Col;

fn benches(c: &mut Criterion) {
    let q = Quadratic::random(5, 8, 0.1, 0).unwrap();
    c.bench_function("penalty quadratic 5x8 sigma 1e-3", |b| {
        b.iter(|| {
            penalty(
                &q,
                Col::<f64>::zeros(5).as_ref(),
                None,
                &PenaltyParams::default().sigma(1e-3),
                |_| Control::Continue,
            )
            .unwrap()
        })
    });
    let sq = StochasticQuadratic::new(
        &StochasticQuadraticConfig {
            n_inner: 4096,
            n_outer: 512,
            ..Default::default()
        },
        0,
    )
    .unwrap();
    let (x0, y0) = sq.benchopt_start();
    let target = Some(sq.psi_star() + 1e-3);
    for (name, v) in [("2ts", Variant::TwoTimeScale), ("storm", Variant::Storm)] {
        c.bench_function(
            &format!("penalty-{name} stochastic quadratic to gap 1e-3"),
            |b| {
                b.iter(|| {
                    penalty_stochastic(
                        &sq,
                        x0.as_ref(),
                        Some(y0.as_ref()),
                        &StochasticParams::default()
                            .variant(v)
                            .sigma_min(Some(1e-3))
                            .stage_iters(200)
                            .max_iters(30_000)
                            .eval_every(10)
                            .target(target),
                        |_| Control::Continue,
                    )
                    .unwrap()
                })
            },
        );
    }
    c.bench_function("f2sa stochastic quadratic 1000 iterations", |b| {
        b.iter(|| {
            f2sa(
                &sq,
                x0.as_ref(),
                Some(y0.as_ref()),
                &F2saParams::default().max_iters(1000),
                |_| Control::Continue,
            )
            .unwrap()
        })
    });
    let mut data = datasets::digits();
    datasets::standardize(&mut data.features).unwrap();
    let s = CleaningSplit::new(
        data.features.as_ref(),
        &data.labels,
        10,
        &CleaningProtocol::default(),
        0,
    )
    .unwrap();
    let nx = s.problem.dims().0;
    c.bench_function("penalty hyperclean digits 15 iterations", |b| {
        b.iter(|| {
            penalty(
                &s.problem,
                Col::<f64>::zeros(nx).as_ref(),
                None,
                &PenaltyParams::default().sigma(0.1).max_iters(15).inner(
                    InnerParams::default()
                        .tol(1e-5)
                        .max_iters(5000)
                        .accelerated(true),
                ),
                |_| Control::Continue,
            )
            .unwrap()
        })
    });
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);
