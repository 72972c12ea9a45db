//! The convex program against CVXPY + Clarabel (fixtures made by
//! `scripts/make_fixtures.py`), and the recovered network's invariants.

use linalg_core::faer::{Col, Mat};
use relu_convex_admm::*;

struct Fixture {
    x: Mat<f64>,
    y: Vec<f64>,
    h: Mat<f64>,
    beta: f64,
    objective: f64,
    /// (loss, β, CVXPY's optimum) for the logistic and hinge losses.
    losses: Vec<(Loss, f64, f64)>,
}

impl Fixture {
    /// The fixture's program with `loss` (its generators are distinct).
    fn program(&self, loss: Loss) -> ConvexProgram {
        let patterns = Patterns::from_generators(self.x.as_ref(), self.h.as_ref()).unwrap();
        assert_eq!(patterns.len(), self.h.ncols(), "distinct generators");
        ConvexProgram::new(self.x.as_ref(), &self.y, patterns)
            .unwrap()
            .with_loss(loss)
            .unwrap()
    }
}

/// ρ = 100, tolerances 1e-9: the settings that reproduce CVXPY to 1e-11.
fn tight(beta: f64) -> AdmmParams {
    AdmmParams::new(beta).rho(100.0).tol(1e-9).max_iters(30_000)
}

fn fixture(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/convex_small_{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (n, d) = (
        v["n"].as_u64().unwrap() as usize,
        v["d"].as_u64().unwrap() as usize,
    );
    let xs: Vec<f64> = v["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_f64().unwrap())
        .collect();
    let gens: Vec<Vec<f64>> = v["generators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_f64().unwrap())
                .collect()
        })
        .collect();
    Fixture {
        x: Mat::from_fn(n, d, |i, j| xs[i * d + j]),
        y: v["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_f64().unwrap())
            .collect(),
        h: Mat::from_fn(d, gens.len(), |i, j| gens[j][i]),
        beta: v["beta"].as_f64().unwrap(),
        objective: v["objective"].as_f64().unwrap(),
        losses: [("bce", Loss::Logistic), ("hinge", Loss::Hinge)]
            .into_iter()
            .map(|(key, loss)| {
                let l = &v["losses"][key];
                (
                    loss,
                    l["beta"].as_f64().unwrap(),
                    l["objective"].as_f64().unwrap(),
                )
            })
            .collect(),
    }
}

#[test]
fn admm_matches_cvxpy_clarabel_on_small_programs() {
    for name in ["a", "b"] {
        let f = fixture(name);
        let program = f.program(Loss::Squared);
        let rep = admm(&program, &tight(f.beta), |_| Control::Continue).unwrap();
        let rel = (rep.objective - f.objective).abs() / f.objective;
        eprintln!(
            "{name}: objective {:.12} vs CVXPY {:.12} (rel {rel:.1e}), cone violation {:.1e}, {} iterations, ρ {}, {:?}",
            rep.objective,
            f.objective,
            rep.cone_violation,
            rep.iterations,
            rep.rho,
            rep.termination
        );
        assert!(rep.converged, "{name}: {:?}", rep.termination);
        assert!(rel < 1e-6, "{name}: {rel:e}");
        assert!(
            rep.cone_violation <= 1e-8,
            "{name}: {:e}",
            rep.cone_violation
        );
    }
}

#[test]
fn the_logistic_and_hinge_losses_match_cvxpy_clarabel() {
    for name in ["a", "b"] {
        let f = fixture(name);
        for &(loss, beta, optimum) in &f.losses {
            let program = f.program(loss);
            let mut worst_bound = f64::NEG_INFINITY;
            let rep = admm(
                &program,
                &AdmmParams::new(beta).tol(1e-10).max_iters(50_000),
                |r| {
                    // Every iterate's dual bound is a lower bound on p*.
                    worst_bound = worst_bound.max(r.objective * (1.0 - r.gap_bound));
                    Control::Continue
                },
            )
            .unwrap();
            let rel = (rep.objective - optimum).abs() / optimum;
            eprintln!(
                "{name} {loss:?}: objective {:.12} vs CVXPY {optimum:.12} (rel {rel:.1e}), bound {:.12}, gap {:.1e}, cone {:.1e}, {} iterations, {:?}",
                rep.objective,
                rep.dual_bound,
                rep.gap_bound,
                rep.cone_violation,
                rep.iterations,
                rep.termination
            );
            assert!(rep.converged, "{name} {loss:?}: {:?}", rep.termination);
            assert!(rel < 1e-6, "{name} {loss:?}: {rel:e}");
            assert!(rep.cone_violation <= 1e-8, "{name} {loss:?}");
            assert!(
                worst_bound <= optimum * (1.0 + 1e-9),
                "{name} {loss:?}: a dual bound {worst_bound} above p* {optimum}"
            );
            assert!(rep.dual_bound >= optimum * (1.0 - 1e-6));
        }
    }
}

#[test]
fn the_certificate_brackets_the_cvxpy_optimum_for_the_squared_loss() {
    let f = fixture("b");
    let program = f.program(Loss::Squared);
    let mut bounds = Vec::new();
    let rep = admm(
        &program,
        &AdmmParams::new(f.beta).tol(1e-10).max_iters(50_000),
        |r| {
            bounds.push(r.objective * (1.0 - r.gap_bound));
            Control::Continue
        },
    )
    .unwrap();
    assert!(bounds.iter().all(|&b| b <= f.objective * (1.0 + 1e-10)));
    // CVXPY's optimum is itself accurate to ~1e-11 relative.
    assert!(
        rep.dual_bound <= f.objective * (1.0 + 1e-10)
            && rep.dual_bound >= f.objective * (1.0 - 1e-9),
        "{} vs {}",
        rep.dual_bound,
        f.objective
    );
    assert!(rep.gap_bound <= 1e-9, "{:e}", rep.gap_bound);
    // The public bound from an arbitrary candidate is valid too, and the
    // zero candidate gives the trivial bound 0 (−ℓ*(0) = 0).
    let (n, p) = (f.y.len(), program.patterns().len());
    let lam = Col::from_fn(n, |i| ((i * 7) % 5) as f64 - 2.0);
    let mu = Mat::from_fn(n, p, |i, k| ((i + k) % 3) as f64);
    let b = program
        .dual_bound(&lam, mu.as_ref(), mu.as_ref(), f.beta)
        .unwrap();
    assert!(b <= f.objective);
    let zero = program
        .dual_bound(&Col::zeros(n), mu.as_ref(), mu.as_ref(), f.beta)
        .unwrap();
    assert_eq!(zero, 0.0);
    let mut nan = lam.clone();
    nan[0] = f64::NAN;
    assert_eq!(
        program
            .dual_bound(&nan, mu.as_ref(), mu.as_ref(), f.beta)
            .unwrap_err()
            .param_name(),
        Some("lambda")
    );
    let short = Col::zeros(n - 1);
    assert_eq!(
        program
            .dual_bound(&short, mu.as_ref(), mu.as_ref(), f.beta)
            .unwrap_err()
            .param_name(),
        Some("lambda")
    );
}

#[test]
fn the_recovered_network_has_the_convex_objective_and_predictions() {
    let f = fixture("a");
    let program = f.program(Loss::Squared);
    let rep = admm(&program, &tight(f.beta), |_| Control::Continue).unwrap();
    // The network equals the convex model wherever EᵢXvᵢ ≥ 0 holds; the
    // cone violation here is ~1e-13, so the objectives agree to 1e-10.
    let net = TwoLayerNet::from_convex(rep.v.as_ref(), rep.w.as_ref(), 0.0).unwrap();
    let y = Col::from_fn(f.y.len(), |i| f.y[i]);
    let convex = program.objective(rep.v.as_ref(), rep.w.as_ref(), f.beta);
    let nonconvex = net.objective(f.x.as_ref(), &y, f.beta);
    assert!(
        (convex - nonconvex).abs() <= 1e-10 * convex,
        "{convex} vs {nonconvex}"
    );
    let a = program.predict(rep.v.as_ref(), rep.w.as_ref());
    let b = net.predict(f.x.as_ref());
    assert!((&a - &b).norm_l2() <= 1e-7 * a.norm_l2().max(1.0));
    assert!(net.neurons() <= 2 * program.patterns().len());
    // Mismatched blocks and a negative pruning level are named.
    let w3 = rep.w.subcols(0, 3);
    for (e, name) in [
        (
            TwoLayerNet::from_convex(rep.v.as_ref(), w3, 0.0).unwrap_err(),
            "w (columns)",
        ),
        (
            TwoLayerNet::from_convex(rep.v.as_ref(), rep.w.as_ref(), -1.0).unwrap_err(),
            "prune",
        ),
    ] {
        assert_eq!(e.param_name(), Some(name));
    }
}

#[test]
fn the_dense_and_woodbury_u_solvers_give_the_same_iterates() {
    let f = fixture("b");
    let program = f.program(Loss::Squared);
    let run = |s: USolver| {
        admm(
            &program,
            &AdmmParams::new(f.beta)
                .tol(1e-300)
                .max_iters(200)
                .u_solver(s),
            |_| Control::Continue,
        )
        .unwrap()
    };
    let (a, b) = (run(USolver::Woodbury), run(USolver::Dense));
    assert_eq!(
        (a.u_solver, b.u_solver),
        (USolver::Woodbury, USolver::Dense)
    );
    assert!((a.objective - b.objective).abs() < 1e-9 * a.objective);
    assert!((&a.v - &b.v).norm_l2() < 1e-8 * a.v.norm_l2().max(1.0));
    // Auto picks the smaller memory: (2dP)² = 65 536 > 2n² = 45 000 here, so Woodbury.
    assert_eq!(run(USolver::Auto).u_solver, USolver::Woodbury);
    // Many samples, few patterns: the dense path, which Woodbury could not hold.
    let n = 9000;
    let x = Mat::from_fn(n, 3, |i, j| (((i * 13 + j * 7) % 17) as f64 - 8.0) / 4.0);
    let y: Vec<f64> = (0..n)
        .map(|i| if x[(i, 0)] > x[(i, 1)] { 1.0 } else { -1.0 })
        .collect();
    let p = Patterns::sample(x.as_ref(), 4, 0).unwrap();
    let big = ConvexProgram::new(x.as_ref(), &y, p).unwrap();
    let rep = admm(&big, &AdmmParams::new(10.0).max_iters(50), |_| {
        Control::Continue
    })
    .unwrap();
    assert_eq!(rep.u_solver, USolver::Dense);
    assert!(rep.objective.is_finite());
    let e = admm(
        &big,
        &AdmmParams::new(10.0).u_solver(USolver::Woodbury),
        |_| Control::Continue,
    )
    .unwrap_err();
    assert_eq!(e.param_name(), Some("samples (Woodbury u-solver)"));
}

#[test]
fn bad_input_is_named() {
    let f = fixture("a");
    let p = Patterns::from_generators(f.x.as_ref(), f.h.as_ref()).unwrap();
    assert_eq!(
        ConvexProgram::new(f.x.as_ref(), &f.y[..10], p.clone())
            .unwrap_err()
            .param_name(),
        Some("y")
    );
    let mut bad = f.x.clone();
    bad[(3, 1)] = f64::NAN;
    assert_eq!(
        ConvexProgram::new(bad.as_ref(), &f.y, p.clone())
            .unwrap_err()
            .param_name(),
        Some("x")
    );
    assert_eq!(
        Patterns::sample(f.x.as_ref(), 0, 0)
            .unwrap_err()
            .param_name(),
        Some("patterns")
    );
    // n·P beyond MAX_CELLS is refused by ADMM before its buffers exist.
    use rand::{SeedableRng, rngs::StdRng};
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = StdRng::seed_from_u64(5);
    let wide_x = Mat::from_fn(2000, 6, |_, _| -> f64 { StandardNormal.sample(&mut rng) });
    let wide_y: Vec<f64> = (0..2000)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let wide = Patterns::sample(wide_x.as_ref(), 3000, 0).unwrap();
    assert!(2000 * wide.len() > relu_convex_admm::admm::MAX_CELLS);
    let e = admm(
        &ConvexProgram::new(wide_x.as_ref(), &wide_y, wide).unwrap(),
        &AdmmParams::new(1.0),
        |_| Control::Continue,
    )
    .unwrap_err();
    assert_eq!(e.param_name(), Some("patterns"));
    // n × P beyond 1e8 numbers is refused before X·H is formed.
    let tall = Mat::<f64>::zeros(2_000_000, 1);
    let e = Patterns::sample(tall.as_ref(), 60, 0).unwrap_err();
    assert_eq!(e.param_name(), Some("patterns"));
    let wrong = Mat::<f64>::zeros(3, 4);
    assert!(Patterns::from_generators(f.x.as_ref(), wrong.as_ref()).is_err());
    // The logistic and hinge losses need ±1 targets.
    let mut half = f.y.clone();
    half[4] = 0.5;
    for loss in [Loss::Logistic, Loss::Hinge] {
        let e = ConvexProgram::new(f.x.as_ref(), &half, p.clone())
            .unwrap()
            .with_loss(loss)
            .unwrap_err();
        assert_eq!(e.param_name(), Some("y"));
    }
    assert!(
        ConvexProgram::new(f.x.as_ref(), &half, p.clone())
            .unwrap()
            .with_loss(Loss::Squared)
            .is_ok()
    );
    // The nonconvex objective: mismatched targets, a zero or oversized width.
    let yc = Col::from_fn(f.y.len(), |i| f.y[i]);
    let short = Col::from_fn(10, |i| f.y[i]);
    let nc = |y: &Col<f64>, m: usize| {
        NonconvexObjective::new(f.x.as_ref(), y, Loss::Squared, 1.0, m)
            .unwrap_err()
            .param_name()
    };
    assert_eq!(nc(&short, 3), Some("y"));
    assert_eq!(nc(&yc, 0), Some("width"));
    assert_eq!(nc(&yc, 2_000_000), Some("width"));
    // 200 samples × 600 000 neurons: X·U would hold 1.2e8 numbers.
    let tall = Mat::<f64>::zeros(200, 3);
    assert_eq!(
        NonconvexObjective::new(tall.as_ref(), &Col::zeros(200), Loss::Squared, 1.0, 600_000)
            .unwrap_err()
            .param_name(),
        Some("width")
    );
    for (params, name) in [
        (AdmmParams::new(-1.0), "beta"),
        (AdmmParams::new(1.0).rho(0.0), "rho"),
        (AdmmParams::new(1.0).relaxation(2.0), "relaxation"),
        (AdmmParams::new(1.0).max_iters(0), "max_iters"),
        (AdmmParams::new(1.0).loss_rho(0.0), "loss_rho"),
        (AdmmParams::new(1.0).certificate_tol(0.0, 1e-6), "gap_tol"),
        (
            AdmmParams::new(1.0).certificate_tol(1e-6, f64::NAN),
            "cone_tol",
        ),
    ] {
        assert_eq!(params.validate().unwrap_err().param_name(), Some(name));
    }
}

#[test]
#[ignore = "diagnostic"]
fn rho_sweep() {
    for name in ["a", "b"] {
        let f = fixture(name);
        let program = f.program(Loss::Squared);
        for rho in [0.1, 1.0, 10.0, 100.0] {
            for adaptive in [false, true] {
                let rep = admm(
                    &program,
                    &AdmmParams::new(f.beta)
                        .rho(rho)
                        .adaptive_rho(adaptive)
                        .tol(1e-9)
                        .max_iters(20_000),
                    |_| Control::Continue,
                )
                .unwrap();
                let rel = (rep.objective - f.objective).abs() / f.objective;
                eprintln!(
                    "{name} rho0 {rho} adaptive {adaptive}: {} iterations ({:?}), rel {rel:.1e}, cone {:.1e}, final rho {}",
                    rep.iterations, rep.termination, rep.cone_violation, rep.rho
                );
            }
        }
    }
}
