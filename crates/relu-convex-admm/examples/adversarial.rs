//! Convex adversarial training against clean training and nonconvex PGD
//! adversarial training of the same width, on breast cancer and digits
//! 2-vs-8 (standardised, split 75/25 with seed 0, a constant bias column
//! that attacks leave alone), hinge loss.
//!
//!     cargo run --release -p relu-convex-admm --example adversarial [-- EPS ... NAME ...]
//!
//! For each data set and radius ε (default 0.1 0.2 0.3 0.5) prints one
//! markdown row per model: clean test accuracy, test accuracy under FGSM
//! and under PGD (20 steps, step 2.5ε/20), the training objective it was
//! trained on, seconds. Models: the clean convex program (P = 50 sampled
//! patterns plus the all-active one), the robust convex program at ε (same
//! patterns), the best of 5 Adam runs on the clean nonconvex objective
//! and the best of 5 Adam runs of PGD adversarial training (same attack,
//! lr 1e-2, 2 000 steps, at the robust network's width and at the clean
//! one's; "best" is the highest PGD training accuracy). `BETA` (default
//! 0.01) sets β = BETA·maxᵢ‖XᵀDᵢy‖, `P` (default 50) the sampled patterns.

use std::time::Instant;

use linalg_core::faer::{Col, Mat};
use optimizers::{AdamParams, Method, RunParams, minimize};
use relu_convex_admm::*;

/// The bias feature's value and β's factor (β = BETA·maxᵢ‖XᵀDᵢy‖).
fn knob(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn split(name: &str) -> (Mat<f64>, Col<f64>, Mat<f64>, Col<f64>) {
    let ds = match name {
        "breast_cancer" => datasets::breast_cancer(),
        _ => datasets::digits().binary(2, 8).unwrap(),
    };
    let (mut tr, mut te) = ds.train_test_split(0.25, 0).unwrap();
    let s = datasets::standardize(&mut tr.features).unwrap();
    s.transform(&mut te.features).unwrap();
    let (ytr, yte) = (tr.signed_labels().unwrap(), te.signed_labels().unwrap());
    let bias = |m: &Mat<f64>| {
        Mat::from_fn(m.nrows(), m.ncols() + 1, |i, j| {
            if j < m.ncols() {
                m[(i, j)]
            } else {
                knob("BIAS", 1.0)
            }
        })
    };
    (bias(&tr.features), ytr, bias(&te.features), yte)
}

fn main() {
    let eps: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let eps = if eps.is_empty() {
        vec![0.1, 0.2, 0.3, 0.5]
    } else {
        eps
    };
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.parse::<f64>().is_err())
        .collect();
    println!(
        "| data | ε | model | neurons | clean test acc. | FGSM test acc. | PGD test acc. | PGD train acc. | objective | seconds |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for name in ["breast_cancer", "digits 2v8"] {
        if !only.is_empty() && !only.iter().any(|o| name.starts_with(o.as_str())) {
            continue;
        }
        let (x, y, xt, yt) = split(name);
        let d = x.ncols();
        let bias = d - 1;
        let yv: Vec<f64> = (0..y.nrows()).map(|i| y[i]).collect();
        let e_bias = Mat::from_fn(d, 1, |i, _| if i == bias { 1.0 } else { 0.0 });
        let patterns =
            Patterns::sample_with(x.as_ref(), e_bias.as_ref(), knob("P", 50.0) as usize, 0)
                .unwrap();
        let program = ConvexProgram::new(x.as_ref(), &yv, patterns)
            .unwrap()
            .with_loss(Loss::Hinge)
            .unwrap();
        let m = &program.patterns().masks;
        let beta = knob("BETA", 0.01)
            * (0..m.ncols())
                .map(|k| (x.transpose() * Col::from_fn(y.nrows(), |i| m[(i, k)] * y[i])).norm_l2())
                .fold(0.0, f64::max);
        let params = AdmmParams::new(beta).tol(1e-5).max_iters(30_000);
        let t = Instant::now();
        let clean = admm(&program, &params, |_| Control::Continue).unwrap();
        let clean_s = t.elapsed().as_secs_f64();
        let clean_net =
            TwoLayerNet::from_convex(clean.v.as_ref(), clean.w.as_ref(), 1e-10).unwrap();
        // Nonconvex clean training, best training objective of 5 seeds.
        let width = clean_net.neurons().max(1);
        let obj = NonconvexObjective::new(x.as_ref(), &y, Loss::Hinge, beta, width).unwrap();
        let t = Instant::now();
        let (adam_obj, adam_net) = (0..5)
            .map(|seed| {
                let r = minimize(
                    &obj,
                    obj.init(seed).as_ref(),
                    Method::Adam(AdamParams::lr(1e-2)),
                    &RunParams::default().max_iters(5000).grad_tol(1e-9),
                    |_| Control::Continue,
                )
                .unwrap();
                (r.value, obj.network(r.x.as_ref()))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap();
        let adam_s = t.elapsed().as_secs_f64() / 5.0;
        for &e in &eps {
            let attack = PgdParams::new(e).fixed_columns(&[bias]);
            let row = |model: &str, net: &TwoLayerNet, objective: f64, secs: f64| {
                let fg = fgsm(net, xt.as_ref(), &yt, e, &[bias]).unwrap();
                println!(
                    "| {name} | {e} | {model} | {} | {:.2} % | {:.2} % | {:.2} % | {:.2} % | {objective:.4} | {secs:.2} |",
                    net.neurons(),
                    100.0 * net.accuracy(xt.as_ref(), &yt),
                    100.0 * net.accuracy(fg.as_ref(), &yt),
                    100.0 * robust_accuracy(net, xt.as_ref(), &yt, &attack).unwrap(),
                    100.0 * robust_accuracy(net, x.as_ref(), &y, &attack).unwrap(),
                )
            };
            row(
                &format!("convex, clean ({} it.)", clean.iterations),
                &clean_net,
                clean.objective,
                clean_s,
            );
            row("Adam, clean (best of 5)", &adam_net, adam_obj, adam_s);
            let rp = RobustProgram::new(program.clone(), e)
                .unwrap()
                .with_fixed_columns(&[bias])
                .unwrap();
            let t = Instant::now();
            let rob = admm_robust(&rp, &params, |_| Control::Continue).unwrap();
            let rob_s = t.elapsed().as_secs_f64();
            let rob_net = TwoLayerNet::from_convex(rob.v.as_ref(), rob.w.as_ref(), 1e-10).unwrap();
            row(
                &format!(
                    "convex, robust ({} it., gap ≤ {:.1e}, cone {:.1e})",
                    rob.iterations,
                    rob.gap_bound.max(0.0),
                    rob.cone_violation
                ),
                &rob_net,
                rob.objective,
                rob_s,
            );
            // PGD-AT at the robust network's width, and at the clean one's.
            let mut widths = vec![rob_net.neurons().max(1), width];
            widths.dedup();
            for aw in widths {
                let adv = AdversarialObjective::new(
                    x.as_ref(),
                    &y,
                    Loss::Hinge,
                    beta,
                    aw,
                    attack.clone(),
                )
                .unwrap();
                let t = Instant::now();
                let (_, at_obj, at_net) = (0..5)
                    .map(|seed| {
                        let r = minimize(
                            &adv,
                            adv.clean().init(seed).as_ref(),
                            Method::Adam(AdamParams::lr(1e-2)),
                            &RunParams::default().max_iters(2000).grad_tol(1e-9),
                            |_| Control::Continue,
                        )
                        .unwrap();
                        let net = adv.clean().network(r.x.as_ref());
                        (
                            robust_accuracy(&net, x.as_ref(), &y, &attack).unwrap(),
                            r.value,
                            net,
                        )
                    })
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .unwrap();
                row(
                    &format!("Adam, PGD-AT width {aw} (best of 5)"),
                    &at_net,
                    at_obj,
                    t.elapsed().as_secs_f64() / 5.0,
                );
            }
        }
    }
}
