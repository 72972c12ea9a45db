//! One optimizer step of diffGrad vs burn's Adam on the same module
//! (`cargo bench -p optimizers --features burn --bench burn_step`).
//!
//! Module: two `Linear` layers 512 → 512 → 512 (525 312 parameters), flex
//! CPU backend. Each sample applies one `ModuleOptimizer::step` to fresh
//! gradients (forward/backward done in the untimed setup).

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use optimizers::burn_diffgrad::DiffGradConfig;

/// Builds a fresh optimizer.
type MakeOptim = fn() -> ModuleOptimizer;

#[derive(Module, Debug)]
struct Net {
    a: Linear,
    b: Linear,
}

fn setup(device: &Device) -> (Net, Tensor<2>) {
    device.seed(1);
    let net = Net {
        a: LinearConfig::new(512, 512).init(device),
        b: LinearConfig::new(512, 512).init(device),
    };
    (net, Tensor::<2>::ones([8, 512], device))
}

fn bench_step(c: &mut Criterion) {
    let device = Device::default().autodiff();
    let (net, x) = setup(&device);
    let mut group = c.benchmark_group("burn_step_525k");
    group.sample_size(20);
    let makers: [(&str, MakeOptim); 2] = [
        ("diffgrad", || DiffGradConfig::new().init()),
        ("adam", || AdamConfig::new().init()),
    ];
    for (name, make) in makers {
        let mut optim = make();
        // Warm the state (first step allocates it).
        let grads = GradientsParams::from_grads(
            net.b.forward(net.a.forward(x.clone())).sum().backward(),
            &net,
        );
        let mut model = optim.step(1e-3, net.clone(), grads);
        group.bench_function(name, |bch| {
            bch.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let g = model.b.forward(model.a.forward(x.clone())).sum().backward();
                    let grads = GradientsParams::from_grads(g, &model);
                    let m = model.clone();
                    let t = Instant::now();
                    model = optim.step(1e-3, black_box(m), grads);
                    total += t.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
