//! Wu & Su (ICML 2023) reproduced: a mean-field two-layer ReLU student
//! `(1/m)Σ aⱼ ReLU(wⱼᵀx)` (m = 100, no biases, 1 100 parameters) of a
//! three-unit ReLU teacher, n = 50 inputs on the √d-sphere (d = 10),
//! ½-MSE, 2·10⁵ steps. At the interpolating minimum it reaches, SGD with
//! batch 1 has Tr H·η/2 ≤ 1 at every step size where it does not diverge,
//! while gradient descent only keeps λ_max·η/2 ≤ 1: at η = 64 its trace
//! bound is exceeded more than threefold. Curvatures are exact (dense H).

use hessian_tools::stability::{StabilityParams, StabilityRun, stability_along};
use hessian_tools::{Activation, Loss, Mlp, MlpLoss, TrainParams};
use linalg_core::Control;
use linalg_core::faer::{Col, Mat};
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

fn setup() -> (MlpLoss, Col<f64>) {
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
        .unwrap()
        .with_output_scale(1.0 / M as f64)
        .unwrap();
    let obj = MlpLoss::new(mlp.clone(), Loss::Mse, x.as_ref(), y.as_ref()).unwrap();
    // wⱼ ~ N(0, I/d), aⱼ ~ N(0, 1).
    let mut rng = StdRng::seed_from_u64(1);
    let theta = Col::from_fn(mlp.n_params(), |q| {
        let g: f64 = StandardNormal.sample(&mut rng);
        if q < M * D { g / (D as f64).sqrt() } else { g }
    });
    (obj, theta)
}

fn run(obj: &MlpLoss, theta0: &Col<f64>, eta: f64, batch: usize) -> (StabilityRun, Col<f64>) {
    let epochs = if batch == 0 { STEPS } else { STEPS / N * batch };
    let mut theta = theta0.clone();
    let tp = TrainParams::default()
        .lr(eta)
        .batch(batch)
        .epochs(epochs)
        .seed(2);
    let sp = StabilityParams {
        exact: true,
        ..Default::default()
    };
    let r = stability_along(obj, &mut theta, &tp, epochs, &sp, |_| Control::Continue).unwrap();
    (r, theta)
}

#[test]
fn sgd_minima_obey_the_trace_bound_and_gd_minima_only_the_sharpness_bound() {
    let (obj, theta0) = setup();
    let mut stable = 0;
    for eta in [2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0] {
        let (r, _) = run(&obj, &theta0, eta, 1);
        let p = r.points.last().unwrap();
        println!(
            "SGD B=1 η={eta}: diverged {}, loss {:.1e}, Tr·η/2 {:.3}, λmax·η/2 {:.3}",
            r.diverged, p.loss, p.trace_eta_half, p.lambda_max_eta_half
        );
        if !r.diverged {
            stable += 1;
            assert!(p.loss < 1e-10, "η={eta}: not at a minimum ({})", p.loss);
            assert!(p.trace_eta_half <= 1.0, "η={eta}: {}", p.trace_eta_half);
        }
    }
    assert!(stable >= 4, "only {stable} stable step sizes");
    let (r, theta) = run(&obj, &theta0, 64.0, 0);
    let p = r.points.last().unwrap();
    println!(
        "GD η=64: diverged {}, loss {:.1e}, Tr·η/2 {:.3}, λmax·η/2 {:.3}",
        r.diverged, p.loss, p.trace_eta_half, p.lambda_max_eta_half
    );
    assert!(!r.diverged && p.loss < 1e-10);
    assert!(p.lambda_max_eta_half <= 1.0, "{}", p.lambda_max_eta_half);
    assert!(p.trace_eta_half > 3.0, "{}", p.trace_eta_half);
    // At an interpolating minimum H = G = JᵀJ/n: the exact trace equals the
    // mean squared norm of the per-sample output gradients (the kernel
    // identity Tr H = tr K/n), here computed from the Jacobians.
    let jac = obj.jacobians(theta.as_ref(), 0..N).unwrap();
    let kernel_trace = jac.iter().map(|j| j.squared_norm_l2()).sum::<f64>() / N as f64;
    let t = p.sharpness.trace;
    assert!(
        (t - kernel_trace).abs() <= 1e-8 * t,
        "{t} vs {kernel_trace}"
    );
}
