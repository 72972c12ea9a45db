//! hessian-tools benches (`cargo bench -p hessian-tools`): the cost of one
//! Hessian-vector product against one gradient on the same network and
//! data (the bound: HVP ≤ 4 gradients).
//!
//! - `sagun_k5`: MLP 20–30–30–5, tanh, MSE, 1 000 mixture samples (1 715
//!   parameters).
//! - `digits`: MLP 64–44–40–10, tanh, cross-entropy, all 1 797 digits (5 070
//!   parameters).
//!
//! In each group: `gradient` (forward + backward), `hvp` (one product with
//! the cached curvature operator), `hvp_cold` (the operator built at the
//! point, then one product: what an HVP at a new point costs), `ggn` (one
//! Gauss–Newton product).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hessian_tools::{Activation, CurvatureKind, Loss, Mlp, MlpLoss};
use linalg_core::faer::{Col, Mat};
use linalg_core::op::apply;

fn nets() -> Vec<(&'static str, MlpLoss, Col<f64>)> {
    let mix = datasets::generate::cluster_mixture(1000, 5, 20, 0.05, 1).expect("data");
    let m1 = Mlp::new(&[20, 30, 30, 5], Activation::Tanh, true).expect("mlp");
    let o1 = MlpLoss::classification(m1.clone(), Loss::Mse, mix.features.as_ref(), &mix.labels)
        .expect("loss");
    let d = datasets::digits();
    let x = Mat::from_fn(d.features.nrows(), 64, |i, j| d.features[(i, j)] / 16.0);
    let m2 = Mlp::new(&[64, 44, 40, 10], Activation::Tanh, true).expect("mlp");
    let o2 = MlpLoss::classification(m2.clone(), Loss::CrossEntropy, x.as_ref(), &d.labels)
        .expect("loss");
    vec![("sagun_k5", o1, m1.init(2)), ("digits", o2, m2.init(3))]
}

fn curvature(c: &mut Criterion) {
    for (name, obj, theta) in nets() {
        let p = obj.mlp().n_params();
        let v = Col::from_fn(p, |i| ((i * 7919) % 13) as f64 / 13.0 - 0.5);
        let mut g = Col::zeros(p);
        let h = obj
            .curvature(theta.as_ref(), CurvatureKind::Hessian)
            .expect("op");
        let gn = obj
            .curvature(theta.as_ref(), CurvatureKind::GaussNewton)
            .expect("op");
        let mut group = c.benchmark_group(name);
        group.sample_size(30);
        group.bench_function("gradient", |b| {
            b.iter(|| {
                obj.loss_and_gradient(black_box(theta.as_ref()), g.as_mut())
                    .expect("grad")
            })
        });
        group.bench_function("hvp", |b| b.iter(|| apply(&h, black_box(v.as_ref()))));
        group.bench_function("hvp_cold", |b| {
            b.iter(|| {
                let h = obj
                    .curvature(black_box(theta.as_ref()), CurvatureKind::Hessian)
                    .expect("op");
                apply(&h, v.as_ref())
            })
        });
        group.bench_function("ggn", |b| b.iter(|| apply(&gn, black_box(v.as_ref()))));
        group.finish();
    }
}

criterion_group!(benches, curvature);
criterion_main!(benches);
