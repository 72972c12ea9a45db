//! Sagun et al. (2017), "Empirical Analysis of the Hessian of
//! Over-Parametrized Neural Networks", on the setup of the issue: MLP
//! 20–h–h–k, tanh, N = 1 000 samples of a k-cluster mixture (unit-norm
//! centres, noise 0.05 unless swept), gradient descent η = 0.5 × 300 steps,
//! exact Hessians (dense, H = G + R).
//!
//! ```text
//! cargo run --release --example hessian_sagun [-- OUT_DIR]
//! ```
//!
//! Prints, for MSE on one-hot targets and for cross-entropy:
//! - before and after training, the gap ratio λ_{k²}/λ_{k²+1} and the
//!   largest top-40 gap (where it is), for k = 3, 5 and widths 30, 50
//!   (outliers stay at k² while the bulk grows with the width);
//! - a separation sweep (noise 0.05 … 0.4, k = 5, h = 30): the outliers
//!   fade as the clusters overlap;
//! - the top of G and the extremes of R = H − G after training.
//!
//! Writes `OUT_DIR/sagun_eigenvalues.svg` (ordered |λ| of the k = 5, h = 30
//! MSE Hessian before and after training, gap marked) and
//! `OUT_DIR/sagun_density.svg` (its SLQ density), default `docs/figures`.

use std::error::Error;
use std::path::PathBuf;

use hessian_tools::plot::{density_svg, eigenvalues_svg};
use hessian_tools::{
    Activation, CurvatureKind, Loss, Mlp, MlpLoss, SlqParams, TrainParams, bulk_outliers,
    gap_ratio, hessian_split, slq, train,
};
use optlab::linalg_core::Control;
use optlab::linalg_core::faer::Col;

fn setup(k: usize, width: usize, noise: f64, loss: Loss, seed: u64) -> (MlpLoss, Col<f64>) {
    let data = optlab::datasets::generate::cluster_mixture(1000, k, 20, noise, seed).expect("data");
    let mlp = Mlp::new(&[20, width, width, k], Activation::Tanh, true).expect("mlp");
    let obj = MlpLoss::classification(mlp.clone(), loss, data.features.as_ref(), &data.labels)
        .expect("loss");
    let theta = mlp.init(seed + 1);
    (obj, theta)
}

fn trained(obj: &MlpLoss, theta: &mut Col<f64>) {
    let p = TrainParams::default().lr(0.5).epochs(300).record_every(300);
    let r = train(obj, theta, &p, |_| Control::Continue).expect("train");
    assert!(!r.diverged);
}

/// (λ_{k²}/λ_{k²+1}, the largest of the top-40 gaps and its index).
fn gaps(ev: &[f64], k: usize) -> (f64, f64, usize) {
    let at = gap_ratio(ev, k * k).expect("gap");
    let b = bulk_outliers(ev, 40, 1e-3).expect("bulk");
    (at, b.gap_ratio, b.outliers)
}

fn main() -> Result<(), Box<dyn Error>> {
    let out: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/figures".into())
        .into();
    for loss in [Loss::Mse, Loss::CrossEntropy] {
        println!("== {} ==", loss.name());
        println!(
            "| k | h | p | init λk²/λk²+1 | trained λk²/λk²+1 | largest top-40 gap (after) | bulk fraction | seconds |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for (k, width) in [(3, 30), (3, 50), (5, 30), (5, 50)] {
            let (obj, mut theta) = setup(k, width, 0.05, loss, 2);
            let before = hessian_split(&obj, theta.as_ref(), false)?;
            trained(&obj, &mut theta);
            let after = hessian_split(&obj, theta.as_ref(), false)?;
            let (g0, _, _) = gaps(&before.hessian, k);
            let (g1, big, at) = gaps(&after.hessian, k);
            let bulk = bulk_outliers(&after.hessian, 40, 1e-3)?.bulk_fraction;
            println!(
                "| {k} | {width} | {} | {g0:.2} | **{g1:.1}** | {big:.1} after λ{at} | {bulk:.3} | {:.1} |",
                obj.mlp().n_params(),
                before.seconds + after.seconds
            );
        }
    }
    println!("\n== separation sweep, k = 5, h = 30, MSE ==");
    println!("| noise | λ25/λ26 | λ1 |");
    println!("|---|---|---|");
    for noise in [0.05, 0.1, 0.2, 0.3, 0.4] {
        let (obj, mut theta) = setup(5, 30, noise, Loss::Mse, 3);
        trained(&obj, &mut theta);
        let s = hessian_split(&obj, theta.as_ref(), false)?;
        println!(
            "| {noise} | {:.2} | {:.3} |",
            gap_ratio(&s.hessian, 25)?,
            s.hessian[0]
        );
    }
    println!("\n== H = G + R after training, k = 5, h = 30 ==");
    for loss in [Loss::Mse, Loss::CrossEntropy] {
        let (obj, mut theta) = setup(5, 30, 0.05, loss, 2);
        trained(&obj, &mut theta);
        let s = hessian_split(&obj, theta.as_ref(), true)?;
        let neg = s.hessian.iter().filter(|v| **v < 0.0).count();
        println!(
            "{}: λ1(H) {:.4}, λ1(G) {:.4}, λ25(H) {:.4}, λ25(G) {:.4}, R ∈ [{:.2e}, {:.2e}], {neg} negative eigenvalues of H (all from R: G ⪰ 0, min {:.1e})",
            loss.name(),
            s.hessian[0],
            s.gauss_newton[0],
            s.hessian[24],
            s.gauss_newton[24],
            s.residual[s.residual.len() - 1],
            s.residual[0],
            s.gauss_newton[s.gauss_newton.len() - 1],
        );
    }
    // Figures: the k = 5, h = 30 MSE net.
    let (obj, mut theta) = setup(5, 30, 0.05, Loss::Mse, 2);
    trained(&obj, &mut theta);
    let s = hessian_split(&obj, theta.as_ref(), false)?;
    eigenvalues_svg(&out.join("sagun_eigenvalues.svg"), &s.hessian, 25)?;
    let h = obj.curvature(theta.as_ref(), CurvatureKind::Hessian)?;
    let d = slq(
        &h,
        &SlqParams {
            steps: 100,
            probes: 10,
            sigma: None,
            seed: 0,
        },
    )?;
    density_svg(&out.join("sagun_density.svg"), &d, 4000)?;
    println!(
        "\nwrote {}/sagun_{{eigenvalues,density}}.svg",
        out.display()
    );
    Ok(())
}
