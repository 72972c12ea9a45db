//! The nonconvex objective: its gradient against finite differences, and
//! the convex solution against Adam on the same objective and width.

use linalg_core::Objective;
use linalg_core::faer::{Col, Mat};
use optimizers::{AdamParams, Method, RunParams, minimize};
use relu_convex_admm::*;

fn wine() -> (Mat<f64>, Col<f64>) {
    let mut ds = datasets::wine().binary(0, 1).unwrap();
    datasets::standardize(&mut ds.features).unwrap();
    let y = ds.signed_labels().unwrap();
    (ds.features, y)
}

#[test]
fn the_nonconvex_gradient_matches_central_differences() {
    let (x, y) = wine();
    for loss in [Loss::Squared, Loss::Logistic, Loss::Hinge] {
        let obj = NonconvexObjective::new(x.as_ref(), &y, loss, 0.7, 6).unwrap();
        let theta = obj.init(3);
        let mut g = Col::zeros(obj.dim());
        let f = obj.gradient(theta.as_ref(), g.as_mut());
        assert!((f - obj.value(theta.as_ref())).abs() <= 1e-12 * f.abs());
        let h = 1e-6;
        for i in (0..obj.dim()).step_by(7) {
            let mut tp = theta.clone();
            tp[i] += h;
            let mut tm = theta.clone();
            tm[i] -= h;
            let fd = (obj.value(tp.as_ref()) - obj.value(tm.as_ref())) / (2.0 * h);
            // The hinge has kinks: a difference across one is off by ~1/h·h.
            let tol = if loss == Loss::Hinge { 1e-3 } else { 1e-6 };
            assert!(
                (fd - g[i]).abs() <= tol * (1.0 + g[i].abs()),
                "{loss:?} {i}: {fd} vs {}",
                g[i]
            );
        }
    }
    // θ ↔ network: `theta` inverts `network` exactly, and refuses a
    // network of another width.
    let obj = NonconvexObjective::new(x.as_ref(), &y, Loss::Squared, 0.7, 6).unwrap();
    let theta = obj.init(5);
    let back = obj.theta(&obj.network(theta.as_ref())).unwrap();
    assert!((0..theta.nrows()).all(|i| back[i].to_bits() == theta[i].to_bits()));
    let narrow = NonconvexObjective::new(x.as_ref(), &y, Loss::Squared, 0.7, 5).unwrap();
    assert!(narrow.theta(&obj.network(theta.as_ref())).is_err());
    assert!(NonconvexObjective::new(x.as_ref(), &y, Loss::Squared, -1.0, 3).is_err());
    assert!(NonconvexObjective::new(x.as_ref(), &y, Loss::Squared, 1.0, 0).is_err());
}

#[test]
#[ignore = "measurement (~5 min): cargo test -p relu-convex-admm --release --test baseline -- --ignored --nocapture"]
fn the_priced_convex_solution_is_below_every_adam_run_of_the_same_width() {
    // Sampled patterns alone lose to Adam here (wine, 20 Gaussian
    // patterns); pricing grows the set until no sampled or refined gate
    // violates the dual constraint, and then the convex optimum is below
    // every Adam run of the recovered width.
    let (x, y) = wine();
    let yv: Vec<f64> = (0..y.nrows()).map(|i| y[i]).collect();
    for (loss, beta) in [(Loss::Squared, 2.0), (Loss::Logistic, 1.0)] {
        let patterns = Patterns::sample(x.as_ref(), 20, 0).unwrap();
        let params = AdmmParams::new(beta).tol(1e-6).max_iters(200_000);
        let sampled = {
            let program = ConvexProgram::new(x.as_ref(), &yv, patterns.clone())
                .unwrap()
                .with_loss(loss)
                .unwrap();
            admm(&program, &params, |_| Control::Continue).unwrap()
        };
        let start = ConvexProgram::new(x.as_ref(), &yv, patterns)
            .unwrap()
            .with_loss(loss)
            .unwrap();
        let priced = admm_priced(
            &start,
            &params,
            &PricingParams {
                rounds: 12,
                candidates: 2000,
                ..Default::default()
            },
            |_| Control::Continue,
        )
        .unwrap();
        let rep = &priced.report;
        assert!(rep.converged);
        assert!(rep.objective < sampled.objective);
        let net = TwoLayerNet::from_convex(rep.v.as_ref(), rep.w.as_ref(), 1e-10).unwrap();
        // The recovered network attains the convex objective.
        let at_convex = net.loss_objective(loss, x.as_ref(), &y, beta);
        assert!((at_convex - rep.objective).abs() <= 1e-6 * rep.objective);
        let obj = NonconvexObjective::new(x.as_ref(), &y, loss, beta, net.neurons()).unwrap();
        let mut best = f64::INFINITY;
        for seed in 0..3 {
            let adam = minimize(
                &obj,
                obj.init(seed).as_ref(),
                Method::Adam(AdamParams::lr(1e-2)),
                &RunParams::default().max_iters(3000).grad_tol(1e-9),
                |_| Control::Continue,
            )
            .unwrap();
            best = best.min(adam.value);
        }
        eprintln!(
            "{loss:?}: sampled {:.6}, priced {:.6} (P = {}, rounds {:?}, worst ratio {:.3}), best Adam {best:.6}",
            sampled.objective,
            rep.objective,
            priced.patterns.len(),
            priced.objectives,
            priced.worst_violation
        );
        assert!(
            rep.objective <= best * (1.0 + 1e-6),
            "{loss:?}: Adam {best} < convex {}",
            rep.objective
        );
    }
}
