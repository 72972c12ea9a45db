//! Pricing: a gate that violates the dual constraint gives a feasible
//! descent direction (checked by evaluating the objective along it).

use linalg_core::faer::{Col, Mat};
use relu_convex_admm::pricing::price;
use relu_convex_admm::*;

#[test]
fn a_priced_gate_is_a_feasible_descent_direction() {
    let mut ds = datasets::breast_cancer();
    datasets::standardize(&mut ds.features).unwrap();
    let y = ds.signed_labels().unwrap();
    let yv: Vec<f64> = (0..y.nrows()).map(|i| y[i]).collect();
    let x = ds.features;
    let beta = 20.0;
    let patterns = Patterns::sample(x.as_ref(), 20, 0).unwrap();
    let program = ConvexProgram::new(x.as_ref(), &yv, patterns.clone()).unwrap();
    let rep = admm(
        &program,
        &AdmmParams::new(beta).tol(1e-6).max_iters(50_000),
        |_| Control::Continue,
    )
    .unwrap();
    let pred = program.predict(rep.v.as_ref(), rep.w.as_ref());
    let lambda = Loss::Squared.gradient(&pred, &y);
    let (gates, scores) = price(
        x.as_ref(),
        &lambda,
        rep.v.as_ref(),
        &patterns,
        beta,
        &PricingParams {
            candidates: 2000,
            add: 3,
            seed: 7,
            ..Default::default()
        },
    )
    .unwrap();
    eprintln!("objective {}, scores {:?}", rep.objective, scores);
    assert!(gates.ncols() >= 1 && scores[0] > beta);
    // Extend the program by the best gate and move along it.
    let h = gates.col(0).to_owned();
    let hz = &x * &h;
    let s: f64 = (0..x.nrows()).map(|i| lambda[i] * hz[i].max(0.0)).sum();
    let gens = Mat::from_fn(x.ncols(), patterns.len() + 1, |i, j| {
        if j < patterns.len() {
            patterns.generators[(i, j)]
        } else {
            h[i]
        }
    });
    let p2 = Patterns::from_generators(x.as_ref(), gens.as_ref()).unwrap();
    assert_eq!(p2.len(), patterns.len() + 1);
    let prog2 = ConvexProgram::new(x.as_ref(), &yv, p2).unwrap();
    let extend = |t: f64| {
        let (mut v, mut w) = (
            Mat::<f64>::zeros(x.ncols(), patterns.len() + 1),
            Mat::<f64>::zeros(x.ncols(), patterns.len() + 1),
        );
        v.subcols_mut(0, patterns.len()).copy_from(&rep.v);
        w.subcols_mut(0, patterns.len()).copy_from(&rep.w);
        let k = patterns.len();
        let col = if s < 0.0 { &mut v } else { &mut w };
        for i in 0..x.ncols() {
            col[(i, k)] = t * h[i] / h.norm_l2();
        }
        (
            prog2.objective(v.as_ref(), w.as_ref(), beta),
            prog2.cone_violation(v.as_ref(), w.as_ref()),
        )
    };
    let (f0, _) = extend(0.0);
    let (f1, c1) = extend(1e-3);
    eprintln!(
        "f(0) {f0}, f(1e-3) {f1}, slope {} vs predicted {}",
        (f1 - f0) / 1e-3,
        beta - scores[0]
    );
    let _ = Col::<f64>::zeros(1);
    assert!(c1 <= rep.cone_violation + 1e-12);
    assert!(f1 < f0);
}
