//! The DCDM network (`cargo test -p deep-cg --features burn`).
#![cfg(feature = "burn")]

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use deep_cg::net::{DcdmNetConfig, NetModel};
use deep_cg::*;

#[test]
fn parameter_count_and_shapes() {
    let device = Device::default();
    let net = DcdmNetConfig::new().init(&device);
    assert_eq!(net.num_params(), 97_457);
    // Fully convolutional: any even size in, the same size out.
    for n in [4, 8, 16] {
        let x = Tensor::<5>::ones([2, 1, n, n, n], &device);
        assert_eq!(net.forward(x).dims(), [2, 1, n, n, n]);
    }
}

#[test]
fn save_and_load_give_bit_identical_outputs() {
    let device = Device::default();
    device.seed(11);
    let net = DcdmNetConfig::new().init(&device);
    let n = 8;
    let vals: Vec<f32> = (0..n * n * n)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let x = Tensor::<5>::from_data(TensorData::new(vals, [1, 1, n, n, n]), &device);
    let before: Vec<f32> = net
        .forward(x.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let path = std::env::temp_dir().join(format!("dcdm_net_{}.bpk", std::process::id()));
    net.save_file(&path).unwrap();
    device.seed(99);
    let fresh = DcdmNetConfig::new().init(&device);
    let other: Vec<f32> = fresh
        .forward(x.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_ne!(before, other, "a differently seeded network should differ");
    let loaded = fresh.try_load_file(&path).unwrap();
    let after: Vec<f32> = loaded.forward(x).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(before, after);
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_network_drives_the_dcdm_loop_with_monotone_energy() {
    // Each DCDM step minimises φ(x) = ½xᵀAx − bᵀx exactly along its
    // direction, so φ never increases, whatever the (here untrained) network
    // proposes; convergence speed is what training buys.
    let device = Device::default();
    device.seed(5);
    let sys = PoissonSystem::new(Scene::SmokePlume.build(8, 0).unwrap());
    let net = DcdmNetConfig::new().init(&device);
    let mut b = sys.divergence_rhs(1);
    let mut bv: Vec<f64> = b.iter().copied().collect();
    sys.regions().project(&mut bv);
    for (i, v) in bv.iter().enumerate() {
        b[i] = *v;
    }
    let energy = |x: &[f64]| {
        let mut ax = vec![0.0; x.len()];
        sys.apply_slices(&mut ax, x, linalg_core::faer::Par::Seq);
        (0..x.len())
            .map(|i| 0.5 * x[i] * ax[i] - bv[i] * x[i])
            .sum::<f64>()
    };
    let mut model = NetModel::new(net, 8, device.clone()).unwrap();
    let mut last: f64 = 0.0;
    for k in 1..=8 {
        let rep = dcdm(
            &sys,
            b.as_ref(),
            &mut model,
            &DcdmParams {
                rtol: 1e-12,
                max_iters: k,
                ..Default::default()
            },
        )
        .unwrap();
        let x: Vec<f64> = rep.x.iter().copied().collect();
        let e = energy(&x);
        assert!(
            e <= last + 1e-12 * last.abs().max(1.0),
            "φ rose at step {k}: {last} → {e}"
        );
        if k == 1 {
            assert!(e < 0.0, "the first step must lower φ below φ(0) = 0");
        }
        last = e;
    }
    assert!(NetModel::new(DcdmNetConfig::new().init(&device), 7, device).is_err());
}

#[test]
fn shipped_weights_load_and_beat_cg_on_smoke_plume_16() {
    let device = Device::default();
    let net = deep_cg::net::DcdmNet::pretrained(&device).unwrap();
    assert_eq!(net.num_params(), 97_457);
    let sys = PoissonSystem::new(Scene::SmokePlume.build(16, 0).unwrap());
    let b = sys.divergence_rhs(1);
    let mut model = NetModel::new(net, 16, device).unwrap();
    let params = DcdmParams {
        rtol: 1e-4,
        max_iters: 200,
        ..Default::default()
    };
    let rep = dcdm(&sys, b.as_ref(), &mut model, &params).unwrap();
    let cg = solve(&sys, b.as_ref(), &SolveParams::new(Method::Cg).rtol(1e-4)).unwrap();
    assert!(rep.converged, "{:e}", rep.relative_residual);
    assert!(
        rep.iterations * 2 < cg.iterations,
        "DCDM {} vs CG {} iterations",
        rep.iterations,
        cg.iterations
    );
}
