//! Wu & Su (ICML 2023), "The Implicit Regularization of Dynamical Stability
//! in Stochastic Gradient Descent": a mean-field two-layer ReLU student
//! `(1/m)Σ aⱼ ReLU(wⱼᵀx)` (m = 100, 1 100 parameters) of a three-unit ReLU
//! teacher, n = 50 inputs on the √d-sphere (d = 10), ½-MSE, 2·10⁵ steps,
//! exact curvature (dense H) every 10⁴ steps. Then neural collapse along
//! training of a 20–64–64–5 tanh network with cross-entropy on a mixture.
//!
//! ```text
//! cargo run --release --example hessian_stability [-- OUT_DIR]
//! ```
//!
//! Writes `OUT_DIR/stability.svg` (λ_max·η/2 and Tr H·η/2 along training,
//! the line at 1 is 2/η) and `OUT_DIR/collapse.svg` (NC metrics along
//! training), default `docs/figures`.

use std::error::Error;
use std::path::PathBuf;

use hessian_tools::collapse::collapse;
use hessian_tools::plot::{curves_svg, stability_svg};
use hessian_tools::stability::{StabilityParams, StabilityRun, stability_along};
use hessian_tools::{Activation, Loss, Mlp, MlpLoss, TrainParams, Trainer};
use optlab::linalg_core::Control;
use optlab::linalg_core::faer::{Col, Mat};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

const D: usize = 10;
const N: usize = 50;
const M: usize = 100;
const STEPS: usize = 200_000;

fn sphere(rng: &mut StdRng, r: f64) -> Vec<f64> {
    let v: Vec<f64> = (0..D).map(|_| StandardNormal.sample(rng)).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.into_iter().map(|x| x * r / norm).collect()
}

fn student() -> (MlpLoss, Col<f64>) {
    let mut rng = StdRng::seed_from_u64(0);
    let teacher: Vec<Vec<f64>> = (0..3).map(|_| sphere(&mut rng, 1.0)).collect();
    let xs: Vec<Vec<f64>> = (0..N)
        .map(|_| sphere(&mut rng, (D as f64).sqrt()))
        .collect();
    let x = Mat::from_fn(N, D, |i, j| xs[i][j]);
    let y = Mat::from_fn(N, 1, |i, _| {
        teacher
            .iter()
            .map(|v| {
                v.iter()
                    .zip(&xs[i])
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    .max(0.0)
            })
            .sum()
    });
    let mlp = Mlp::new(&[D, M, 1], Activation::Relu, false)
        .and_then(|m| m.with_output_scale(1.0 / M as f64))
        .expect("mlp");
    let obj = MlpLoss::new(mlp.clone(), Loss::Mse, x.as_ref(), y.as_ref()).expect("loss");
    let mut rng = StdRng::seed_from_u64(1);
    let theta = Col::from_fn(mlp.n_params(), |q| {
        let g: f64 = StandardNormal.sample(&mut rng);
        if q < M * D { g / (D as f64).sqrt() } else { g }
    });
    (obj, theta)
}

fn main() -> Result<(), Box<dyn Error>> {
    let out: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/figures".into())
        .into();
    let t0 = std::time::Instant::now();
    let (obj, theta0) = student();
    let sp = StabilityParams {
        exact: true,
        ..Default::default()
    };
    println!("| method | η | 2/η | diverged | final loss | λ_max·η/2 | Tr H·η/2 | ‖H‖_F·η/√B |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut plotted: Vec<StabilityRun> = Vec::new();
    let runs: &[(usize, f64)] = &[
        (1, 2.0),
        (1, 4.0),
        (1, 8.0),
        (1, 10.0),
        (1, 12.0),
        (1, 14.0),
        (5, 10.0),
        (5, 14.0),
        (0, 8.0),
        (0, 32.0),
        (0, 64.0),
    ];
    for &(batch, eta) in runs {
        let epochs = if batch == 0 { STEPS } else { STEPS * batch / N };
        let mut theta = theta0.clone();
        let tp = TrainParams::default()
            .lr(eta)
            .batch(batch)
            .epochs(epochs)
            .seed(2);
        let r = stability_along(&obj, &mut theta, &tp, epochs / 20, &sp, |_| {
            Control::Continue
        })?;
        let p = r.points.last().expect("a point");
        let name = if batch == 0 {
            "GD".to_string()
        } else {
            format!("SGD B={batch}")
        };
        println!(
            "| {name} | {eta} | {:.3} | {} | {:.1e} | {:.3} | {:.3} | {:.3} |",
            2.0 / eta,
            r.diverged,
            p.loss,
            p.lambda_max_eta_half,
            p.trace_eta_half,
            p.frobenius_eta_over_sqrt_batch
        );
        if !r.diverged && [(1, 4.0), (1, 12.0), (0, 8.0), (0, 64.0)].contains(&(batch, eta)) {
            plotted.push(r);
        }
    }
    stability_svg(&out.join("stability.svg"), &plotted)?;
    println!("stability: {:.1} s", t0.elapsed().as_secs_f64());

    // Neural collapse along training (cross-entropy, 5 clusters, noise 0.3
    // so the classes are not trivially separated).
    let t1 = std::time::Instant::now();
    let data = optlab::datasets::generate::cluster_mixture(1000, 5, 20, 0.3, 4)?;
    let mlp = Mlp::new(&[20, 64, 64, 5], Activation::Tanh, true)?;
    let obj = MlpLoss::classification(
        mlp.clone(),
        Loss::CrossEntropy,
        data.features.as_ref(),
        &data.labels,
    )?;
    let mut theta = mlp.init(5);
    let tp = TrainParams::default()
        .lr(0.05)
        .momentum(0.9)
        .batch(50)
        .epochs(400)
        .seed(6);
    let mut trainer = Trainer::new(&obj, tp)?;
    let names = [
        "NC1 (Papyan)",
        "NC1 quotient",
        "NC2 equinorm",
        "NC2 max-angle",
        "NC3",
        "NC4",
    ];
    let mut curves: Vec<(String, Vec<(f64, f64)>)> =
        names.iter().map(|n| (n.to_string(), Vec::new())).collect();
    println!("| epoch | loss | NC1 | NC1 quotient | NC2 equinorm | NC2 max-angle | NC3 | NC4 |");
    println!("|---|---|---|---|---|---|---|---|");
    for epoch in 0..=400 {
        if epoch > 0 {
            trainer.epoch(&mut theta)?;
        }
        if epoch % 25 != 0 {
            continue;
        }
        let h = mlp.features(theta.as_ref(), data.features.as_ref(), 1)?;
        let block = mlp.block(2)?;
        let w = Mat::from_fn(5, 64, |r, c| theta[block.start + r + c * 5]);
        let b: Vec<f64> = (0..5).map(|r| theta[block.start + 320 + r]).collect();
        let m = collapse(h.as_ref(), &data.labels, 5, Some((w.as_ref(), Some(&b))))?;
        let vals = [
            m.nc1_papyan,
            m.nc1_quotient,
            m.nc2_equinorm,
            m.nc2_max_angle,
            m.nc3.unwrap_or(f64::NAN),
            m.nc4.unwrap_or(f64::NAN),
        ];
        for (c, v) in curves.iter_mut().zip(vals) {
            c.1.push((epoch as f64, v));
        }
        let loss = optlab::linalg_core::Objective::value(&obj, theta.as_ref());
        println!(
            "| {epoch} | {loss:.3e} | {:.3e} | {:.3e} | {:.3e} | {:.3e} | {:.3e} | {:.3e} |",
            vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
        );
    }
    curves_svg(
        &out.join("collapse.svg"),
        "neural collapse along training",
        "epoch",
        &curves,
    )?;
    println!("collapse: {:.1} s", t1.elapsed().as_secs_f64());
    println!("wrote {}/{{stability,collapse}}.svg", out.display());
    Ok(())
}
