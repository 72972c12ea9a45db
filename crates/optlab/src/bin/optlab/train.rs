//! `optlab poisson train`: Ritz-vector training data and DCDM training.

use std::path::PathBuf;

use crate::Failure;

/// Arguments of `optlab poisson train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Training scene: box, smoke-plume, sphere, bunny, mixed.
    #[arg(long, default_value = "smoke-plume")]
    scene: String,
    /// Grid size N (even; 16–32 is what a CPU trains in hours).
    #[arg(long, default_value_t = 16)]
    grid: usize,
    /// Number of right-hand sides (Ritz-vector combinations).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Epochs to train (more epochs after --resume continue the count).
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Where to write the trained network (burnpack).
    #[arg(long, value_name = "model.bpk")]
    out: PathBuf,
    /// Lanczos steps m (Ritz vectors); default min(500, fluid cells).
    #[arg(long)]
    lanczos_steps: Option<usize>,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Batch size.
    #[arg(long, default_value_t = 10)]
    batch_size: usize,
    /// Validation fraction.
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    /// Seed (scene, Lanczos start, samples, split, shuffles, initial weights).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Checkpoint and data directory (default: OUT with `.ckpt` appended).
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint in the checkpoint directory.
    #[arg(long)]
    resume: bool,
    /// No progress bar; print one JSON object at the end.
    #[arg(long)]
    json: bool,
    /// Compute device: flex (CPU) or wgpu (cargo feature `wgpu`; Vulkan/Metal/DX12 GPUs).
    #[arg(long, default_value = "flex")]
    device: String,
}

#[cfg(not(feature = "burn"))]
pub fn run(_: &TrainArgs) -> Result<(), Failure> {
    Err(Failure::Solver(
        "this optlab was built without the `burn` feature; rebuild with `cargo build --release -p optlab --features burn`".into(),
    ))
}

#[cfg(feature = "burn")]
pub fn run(args: &TrainArgs) -> Result<(), Failure> {
    use deep_cg::data::{RitzParams, ShardLayout, ritz_basis};
    use deep_cg::net::TensorStencil;
    use deep_cg::train::{Samples, TrainConfig, Trainer};
    use deep_cg::{PoissonSystem, Scene};
    use serde_json::json;
    use std::time::Instant;

    let bad = |e: &dyn std::fmt::Display| Failure::BadInput(e.to_string());
    let scene = Scene::from_name(&args.scene).map_err(|e| bad(&e))?;
    let sys = PoissonSystem::new(scene.build(args.grid, args.seed).map_err(|e| bad(&e))?);
    if args.samples < 2 {
        return Err(Failure::BadInput("--samples must be at least 2".into()));
    }
    // Hyperparameters are checked before the (long) data generation.
    let config = TrainConfig::default()
        .lr(args.lr)
        .batch_size(args.batch_size)
        .val_fraction(args.val_fraction)
        .seed(args.seed);
    config.validate().map_err(|e| {
        let flag = e
            .param_name()
            .map(|n| n.replace('_', "-"))
            .unwrap_or_default();
        Failure::BadInput(format!("--{flag}: {e}"))
    })?;
    let ckpt = args.checkpoint.clone().unwrap_or_else(|| {
        let mut p = args.out.clone().into_os_string();
        p.push(".ckpt");
        PathBuf::from(p)
    });
    let n3 = sys.len();
    // Data: NPY shards of 100 samples, reused when already complete.
    let layout = ShardLayout::new(ckpt.join("data"), args.samples, n3).map_err(|e| bad(&e))?;
    let t0 = Instant::now();
    let mut ritz_seconds = 0.0;
    let mut ritz_kept = None;
    if !layout.all_complete() {
        let m = args
            .lanczos_steps
            .unwrap_or_else(|| 500.min(sys.grid().fluid_count()));
        let p = RitzParams::new(m).seed(args.seed);
        if !args.json {
            errln!("Lanczos: {m} steps with full reorthogonalisation on {n3} cells …");
        }
        let basis = ritz_basis(&sys, &p).map_err(Failure::from)?;
        ritz_kept = Some(basis.values.len());
        layout.write(&basis, args.seed).map_err(Failure::from)?;
        ritz_seconds = t0.elapsed().as_secs_f64();
    }
    let values = layout.read(args.samples).map_err(Failure::from)?;
    let samples = Samples {
        n: args.grid,
        values,
    };
    let device = deep_cg::net::device(&args.device)
        .map_err(|e| Failure::BadInput(e.to_string()))?
        .autodiff();
    let mut trainer = if args.resume && ckpt.join("epoch.txt").exists() {
        Trainer::resume(&ckpt, &device).map_err(Failure::from)?
    } else {
        Trainer::new(&config, &device)
    };
    let stencil = TensorStencil::new(&sys, &device);
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        let total = (samples.count() as f64 * (1.0 - args.val_fraction)).round() as u64;
        let b = indicatif::ProgressBar::new(total * args.epochs as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} samples  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };
    let mut done_before = 0u64;
    let mut last_epoch = 0;
    let train_start = Instant::now();
    let records = trainer
        .fit(&stencil, &samples, args.epochs, &config, Some(&ckpt), |p| {
            if p.epoch != last_epoch {
                if last_epoch != 0 {
                    done_before += p.total as u64;
                }
                last_epoch = p.epoch;
            }
            bar.set_position(done_before + p.samples as u64);
            bar.set_message(format!(
                "epoch {}  loss {:.4e}  {:.1} samples/s",
                p.epoch, p.loss, p.samples_per_second
            ));
        })
        .map_err(Failure::from)?;
    bar.finish_and_clear();
    let train_seconds = train_start.elapsed().as_secs_f64();
    trainer
        .net()
        .save(&args.out)
        .map_err(|e| Failure::Solver(e.to_string()))?;
    let out = json!({
        "scene": args.scene,
        "grid": args.grid,
        "samples": samples.count(),
        "ritz_vectors": ritz_kept,
        "data_seconds": ritz_seconds,
        "train_seconds": train_seconds,
        "epochs": records.iter().map(|r| json!({
            "epoch": r.epoch,
            "train_loss": r.train_loss,
            "val_loss": if r.val_loss.is_finite() { json!(r.val_loss) } else { json!(null) },
            "samples_per_second": r.samples_per_second,
        })).collect::<Vec<_>>(),
        "model": args.out.display().to_string(),
        "checkpoint": ckpt.display().to_string(),
    });
    if args.json {
        crate::print_json(&out);
    } else {
        for r in &records {
            outln!(
                "epoch {:>3}  train loss {:.6e}  val loss {:.6e}  {:.1} samples/s",
                r.epoch,
                r.train_loss,
                r.val_loss,
                r.samples_per_second
            );
        }
        outln!(
            "data {:.1} s, training {:.1} s; model written to {}",
            ritz_seconds,
            train_seconds,
            args.out.display()
        );
    }
    Ok(())
}
