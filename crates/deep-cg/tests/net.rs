//! The DCDM network (`cargo test -p deep-cg --features burn`).
#![cfg(feature = "burn")]

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use deep_cg::net::{DcdmNet, DcdmNetConfig, NetModel};
use deep_cg::*;

#[test]
fn parameter_count_and_shapes() {
    let device = Device::flex();
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
    let device = Device::flex();
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
    let device = Device::flex();
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
            |_| Control::Continue,
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
}

#[test]
fn an_odd_grid_size_is_a_clear_error_naming_the_supported_sizes() {
    let device = Device::flex();
    for n in [7, 15, 33] {
        let net = DcdmNetConfig::new().init(&device);
        let err = NetModel::new(net, n, device.clone()).err().unwrap();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::GridSize { n: m, .. } if m == n),
            "{msg}"
        );
        assert!(
            msg.contains("even") && msg.contains("16, 32, 64, 128"),
            "{msg}"
        );
    }
}

/// The reason of an `Error::Model`, or a panic naming what came instead.
fn model_error(r: deep_cg::Result<DcdmNet>) -> String {
    match r {
        Err(Error::Model { reason, .. }) => reason,
        Err(e) => panic!("expected Error::Model, got {e}"),
        Ok(_) => panic!("expected Error::Model, got a network"),
    }
}

#[test]
fn missing_truncated_foreign_and_mismatched_model_files_are_clear_errors() {
    let device = Device::flex();
    let dir = std::env::temp_dir().join(format!("dcdm_bad_models_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = model_error(DcdmNet::load(&dir.join("nope.bpk"), &device));
    assert!(missing.contains("no such file"), "{missing}");

    // A good file, then the same file cut in half.
    let good = dir.join("good.bpk");
    DcdmNet::pretrained(&device).unwrap().save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    assert!(DcdmNet::load(&good, &device).is_ok());
    for cut in [0, 16, bytes.len() / 2, bytes.len() - 1] {
        let p = dir.join(format!("cut{cut}.bpk"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let reason = model_error(DcdmNet::load(&p, &device));
        assert!(
            reason.contains("empty") || reason.contains("truncated"),
            "cut at {cut}: {reason}"
        );
    }

    // Not a burnpack file at all (an NPY header and data).
    let npy = dir.join("rhs.npy");
    let v = linalg_core::faer::Col::<f64>::from_fn(64, |i| i as f64);
    linalg_core::io::write_npy_col(&npy, v.as_ref(), linalg_core::io::NpyDtype::F64).unwrap();
    let reason = model_error(DcdmNet::load(&npy, &device));
    assert!(reason.contains("burnpack"), "{reason}");

    // A valid burnpack file of a different architecture (8 channels).
    let narrow = dir.join("narrow.bpk");
    DcdmNetConfig::new()
        .with_channels(8)
        .init(&device)
        .save(&narrow)
        .unwrap();
    let reason = model_error(DcdmNet::load(&narrow, &device));
    assert!(
        reason.contains("not the weights of this network"),
        "{reason}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn backends_are_chosen_by_name_with_clear_errors() {
    assert!(deep_cg::net::device("flex").is_ok());
    let err = deep_cg::net::device("tpu").err().unwrap().to_string();
    assert!(err.contains("flex or wgpu"), "{err}");
    let err = deep_cg::net::device("cuda").err().unwrap().to_string();
    assert!(err.contains("--device wgpu"), "{err}");
    #[cfg(not(feature = "wgpu"))]
    {
        let err = deep_cg::net::device("wgpu").err().unwrap().to_string();
        assert!(err.contains("--features wgpu"), "{err}");
    }
}

/// `cargo test -p deep-cg --features wgpu --release --test net wgpu`
/// (needs a Vulkan driver; on a CPU-only machine Mesa lavapipe:
/// `apt install mesa-vulkan-drivers libvulkan1`).
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_matches_flex_to_1e_4_with_the_shipped_weights() {
    let n = 16;
    let sys = PoissonSystem::new(Scene::SmokePlume.build(n, 0).unwrap());
    let b = sys.divergence_rhs(1);
    let norm = b.norm_l2();
    let r: Vec<f64> = b.iter().map(|v| v / norm).collect();
    let mut outs = Vec::new();
    for name in ["flex", "wgpu"] {
        let device = deep_cg::net::device(name).unwrap();
        let net = DcdmNet::pretrained(&device).unwrap();
        let mut model = NetModel::new(net, n, device).unwrap();
        let mut out = vec![0.0; n * n * n];
        model.direction(&r, &mut out).unwrap();
        outs.push(out);
    }
    let diff: f64 = outs[0]
        .iter()
        .zip(&outs[1])
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let scale: f64 = outs[0].iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!(scale > 0.0);
    assert!(
        diff <= 1e-4 * scale,
        "‖flex − wgpu‖/‖flex‖ = {:e}",
        diff / scale
    );
    let max_rel = outs[0]
        .iter()
        .zip(&outs[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / outs[0].iter().map(|a| a.abs()).fold(0.0, f64::max);
    eprintln!(
        "wgpu vs flex: ‖Δ‖/‖flex‖ = {:e}, max|Δ|/max|flex| = {max_rel:e}",
        diff / scale
    );
    assert!(
        max_rel <= 1e-4,
        "max |flex − wgpu| / max |flex| = {max_rel:e}"
    );
}

#[test]
fn shipped_weights_load_and_beat_cg_on_smoke_plume_16() {
    let device = Device::flex();
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
    let rep = dcdm(&sys, b.as_ref(), &mut model, &params, |_| Control::Continue).unwrap();
    let cg = solve(
        &sys,
        b.as_ref(),
        &SolveParams::new(Method::Cg).rtol(1e-4),
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.converged, "{:e}", rep.relative_residual);
    assert!(
        rep.iterations * 2 < cg.iterations,
        "DCDM {} vs CG {} iterations",
        rep.iterations,
        cg.iterations
    );
}
