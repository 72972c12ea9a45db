//! The convex solution against nonconvex training of the same network
//! (same objective, same width, Adam from five random starts), on breast
//! cancer and digits 2-vs-8, standardised and split 75/25 (seed 0).
//!
//!     cargo run --release -p relu-convex-admm --example baseline [-- P ... NAME ...]
//!
//! Prints one markdown row per (data, loss, P, solver): the training
//! objective, train and test accuracy, seconds. β is the CLI's default,
//! 0.1·maxᵢ‖(DᵢX)ᵀ∇ℓ(0)‖.

use std::time::Instant;

use linalg_core::faer::{Col, Mat};
use optimizers::{AdamParams, Method, RunParams, minimize};
use relu_convex_admm::network::sign_accuracy;
use relu_convex_admm::*;

fn split(name: &str) -> (Mat<f64>, Col<f64>, Mat<f64>, Col<f64>) {
    let ds = match name {
        "breast_cancer" => datasets::breast_cancer(),
        _ => datasets::digits().binary(2, 8).unwrap(),
    };
    let (mut tr, mut te) = ds.train_test_split(0.25, 0).unwrap();
    let s = datasets::standardize(&mut tr.features).unwrap();
    s.transform(&mut te.features).unwrap();
    let (ytr, yte) = (tr.signed_labels().unwrap(), te.signed_labels().unwrap());
    (tr.features, ytr, te.features, yte)
}

/// Pricing rounds and patterns added per round.
const ROUNDS: usize = 8;
const ADD: usize = 10;

fn main() {
    let ps: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ps = if ps.is_empty() { vec![50] } else { ps };
    // Other arguments pick the data sets (`breast_cancer`, `digits`).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.parse::<usize>().is_err())
        .collect();
    println!("| data | loss | P | solver | objective | train acc. | test acc. | seconds |");
    println!("|---|---|---|---|---|---|---|---|");
    for name in ["breast_cancer", "digits 2v8"] {
        if !only.is_empty() && !only.iter().any(|o| name.starts_with(o.as_str())) {
            continue;
        }
        let (x, y, xt, yt) = split(name);
        let yv: Vec<f64> = (0..y.nrows()).map(|i| y[i]).collect();
        for loss in [Loss::Squared, Loss::Logistic] {
            // LOSS=squared or LOSS=bce runs one loss only.
            if std::env::var("LOSS").is_ok_and(|l| l != loss.name()) {
                continue;
            }
            for &p in &ps {
                let patterns = Patterns::sample(x.as_ref(), p, 0).unwrap();
                let program = ConvexProgram::new(x.as_ref(), &yv, patterns)
                    .unwrap()
                    .with_loss(loss)
                    .unwrap();
                let scale = if loss == Loss::Logistic { 0.5 } else { 1.0 };
                let m = &program.patterns().masks;
                let beta = 0.1
                    * (0..m.ncols())
                        .map(|k| {
                            let dy = Col::from_fn(y.nrows(), |i| scale * m[(i, k)] * y[i]);
                            (x.transpose() * &dy).norm_l2()
                        })
                        .fold(0.0, f64::max);
                let t = Instant::now();
                let rep = admm(
                    &program,
                    &AdmmParams::new(beta).tol(1e-5).max_iters(30_000),
                    |_| Control::Continue,
                )
                .unwrap();
                let secs = t.elapsed().as_secs_f64();
                let net = TwoLayerNet::from_convex(rep.v.as_ref(), rep.w.as_ref(), 1e-10).unwrap();
                let row = |solver: String, obj: f64, n: &TwoLayerNet, s: f64| {
                    println!(
                        "| {name} | {} | {} | {solver} | {obj:.6} | {:.2} % | {:.2} % | {s:.2} |",
                        loss.name(),
                        program.patterns().len(),
                        100.0 * sign_accuracy(&n.predict(x.as_ref()), &y),
                        100.0 * sign_accuracy(&n.predict(xt.as_ref()), &yt),
                    )
                };
                row(
                    format!(
                        "convex ADMM ({} it., gap ≤ {:.1e}, {} neurons)",
                        rep.iterations,
                        rep.gap_bound.max(0.0),
                        net.neurons()
                    ),
                    rep.objective,
                    &net,
                    secs,
                );
                // The same start, its pattern set grown by pricing.
                let t = Instant::now();
                let priced = admm_priced(
                    &program,
                    &AdmmParams::new(beta).tol(1e-5).max_iters(30_000),
                    &PricingParams {
                        rounds: ROUNDS,
                        add: ADD,
                        // REFINE: how many candidates the ascent refines.
                        refine: std::env::var("REFINE")
                            .ok()
                            .and_then(|r| r.parse().ok())
                            .unwrap_or(PricingParams::default().refine),
                        ..Default::default()
                    },
                    |_| Control::Continue,
                )
                .unwrap();
                let psecs = t.elapsed().as_secs_f64();
                let pnet = TwoLayerNet::from_convex(
                    priced.report.v.as_ref(),
                    priced.report.w.as_ref(),
                    1e-10,
                )
                .unwrap();
                row(
                    format!(
                        "convex + pricing ({} rounds → P = {}, {} neurons, worst dual ratio {:.2}; objectives {:?})",
                        priced.objectives.len() - 1,
                        priced.patterns.len(),
                        pnet.neurons(),
                        priced.worst_violation,
                        priced
                            .objectives
                            .iter()
                            .map(|o| (o * 100.0).round() / 100.0)
                            .collect::<Vec<_>>()
                    ),
                    priced.report.objective,
                    &pnet,
                    psecs,
                );
                let obj = NonconvexObjective::new(x.as_ref(), &y, loss, beta, net.neurons().max(1))
                    .unwrap();
                let mut best: Option<(f64, TwoLayerNet, f64, u64)> = None;
                for seed in 0..5 {
                    let t = Instant::now();
                    let adam = minimize(
                        &obj,
                        obj.init(seed).as_ref(),
                        Method::Adam(AdamParams::lr(1e-2)),
                        &RunParams::default().max_iters(5000).grad_tol(1e-9),
                        |_| Control::Continue,
                    )
                    .unwrap();
                    let s = t.elapsed().as_secs_f64();
                    if best.as_ref().is_none_or(|b| adam.value < b.0) {
                        best = Some((adam.value, obj.network(adam.x.as_ref()), s, seed));
                    }
                }
                let (v, n, s, seed) = best.unwrap();
                row(
                    format!("best of 5 Adam (lr 1e-2, 5 000 steps; seed {seed})"),
                    v,
                    &n,
                    s,
                );
            }
        }
    }
}
