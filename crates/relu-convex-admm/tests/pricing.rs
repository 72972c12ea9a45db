//! Pricing: a gate that violates the dual constraint gives a feasible
//! descent direction (checked by evaluating the objective along it).

use linalg_core::faer::{Col, Mat};
use relu_convex_admm::pricing::price;
use relu_convex_admm::*;

/// Standardised features, ±1 targets (as a column and as a vector).
fn standardised(mut ds: datasets::Dataset) -> (Mat<f64>, Col<f64>, Vec<f64>) {
    datasets::standardize(&mut ds.features).unwrap();
    let y = ds.signed_labels().unwrap();
    let yv: Vec<f64> = (0..y.nrows()).map(|i| y[i]).collect();
    (ds.features, y, yv)
}

#[test]
fn a_priced_gate_is_a_feasible_descent_direction() {
    let (x, y, yv) = standardised(datasets::breast_cancer());
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
    assert!(c1 <= rep.cone_violation + 1e-12);
    assert!(f1 < f0);
}

#[test]
fn pricing_rejects_bad_input_by_name_and_its_observer_can_stop_it() {
    let x = Mat::from_fn(30, 3, |i, j| ((i * 7 + j * 5) % 11) as f64 / 5.0 - 1.0);
    let y: Vec<f64> = (0..30)
        .map(|i| if x[(i, 0)] > x[(i, 1)] { 1.0 } else { -1.0 })
        .collect();
    let patterns = Patterns::sample(x.as_ref(), 4, 0).unwrap();
    let lam = Col::from_fn(30, |i| y[i]);
    let none = Mat::<f64>::zeros(3, 0);
    let name = |r: relu_convex_admm::Result<(Mat<f64>, Vec<f64>)>| r.unwrap_err().param_name();
    let pp = PricingParams::default();
    assert_eq!(
        name(price(
            x.as_ref(),
            &Col::zeros(29),
            none.as_ref(),
            &patterns,
            1.0,
            &pp
        )),
        Some("lambda")
    );
    let mut nan = lam.clone();
    nan[3] = f64::NAN;
    assert_eq!(
        name(price(x.as_ref(), &nan, none.as_ref(), &patterns, 1.0, &pp)),
        Some("lambda")
    );
    assert_eq!(
        name(price(x.as_ref(), &lam, none.as_ref(), &patterns, -1.0, &pp)),
        Some("threshold")
    );
    let bad_anchor = Mat::from_fn(3, 1, |_, _| f64::INFINITY);
    assert_eq!(
        name(price(
            x.as_ref(),
            &lam,
            bad_anchor.as_ref(),
            &patterns,
            1.0,
            &pp
        )),
        Some("anchors")
    );
    for (bad, field) in [
        (
            PricingParams {
                candidates: 0,
                ..pp
            },
            "candidates",
        ),
        (PricingParams { add: 0, ..pp }, "add"),
    ] {
        assert_eq!(bad.validate().unwrap_err().param_name(), Some(field));
    }
    // Candidates × samples beyond 1e8 numbers are refused before sampling.
    let huge = PricingParams {
        candidates: 1_000_000,
        ..pp
    };
    let tall = Mat::from_fn(200, 3, |i, j| (i + j) as f64);
    let tall_p = Patterns::sample(tall.as_ref(), 2, 0).unwrap();
    assert_eq!(
        name(price(
            tall.as_ref(),
            &Col::zeros(200),
            none.as_ref(),
            &tall_p,
            1.0,
            &huge
        )),
        Some("candidates")
    );
    // The observer stops the whole run at its third iteration.
    let program = ConvexProgram::new(x.as_ref(), &y, patterns).unwrap();
    let mut seen = 0;
    let rep = admm_priced(&program, &AdmmParams::new(1.0), &pp, |_| {
        seen += 1;
        if seen == 3 {
            Control::Stop
        } else {
            Control::Continue
        }
    })
    .unwrap();
    assert_eq!(rep.report.termination, Termination::Cancelled);
    assert!(rep.worst_violation.is_nan());
}

#[test]
fn the_local_search_improves_the_network_and_its_patterns_bound_the_convex_optimum() {
    // Wine 0-vs-1, 10 sampled patterns: the convex optimum over them is
    // beaten by a few hundred Adam steps from its own recovered network,
    // and adding that network's patterns brings the convex optimum to at
    // most the improved network's objective (its weights are feasible there).
    let (x, _, yv) = standardised(datasets::wine().binary(0, 1).unwrap());
    let beta = 2.0;
    let patterns = Patterns::sample(x.as_ref(), 10, 0).unwrap();
    let program = ConvexProgram::new(x.as_ref(), &yv, patterns.clone()).unwrap();
    let params = AdmmParams::new(beta).tol(1e-9).max_iters(200_000);
    let rep = admm(&program, &params, |_| Control::Continue).unwrap();
    assert!(rep.converged);
    let (gates, local) =
        pricing::local_search_gates(&program, rep.v.as_ref(), rep.w.as_ref(), beta, 2000).unwrap();
    eprintln!(
        "convex {} -> local search {local} ({} gates)",
        rep.objective,
        gates.ncols()
    );
    assert!(
        local < rep.objective * (1.0 - 1e-3),
        "the search did not improve"
    );
    let gens = Mat::from_fn(x.ncols(), patterns.len() + gates.ncols(), |i, j| {
        if j < patterns.len() {
            patterns.generators[(i, j)]
        } else {
            gates[(i, j - patterns.len())]
        }
    });
    let grown = program
        .with_patterns(Patterns::from_generators(x.as_ref(), gens.as_ref()).unwrap())
        .unwrap();
    let rep2 = admm(&grown, &params, |_| Control::Continue).unwrap();
    eprintln!(
        "grown program: {} (P = {})",
        rep2.objective,
        grown.patterns().len()
    );
    assert!(rep2.converged && rep2.objective <= local * (1.0 + 1e-8));
}
