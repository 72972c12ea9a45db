//! The robust (adversarial) program against CVXPY + Clarabel (fixtures made
//! by `scripts/make_robust_fixtures.py`), its reduction to the clean
//! program at ε = 0, and the optimality of its projection and proximal maps.

use linalg_core::faer::Mat;
use relu_convex_admm::robust::project_cone;
use relu_convex_admm::*;

struct Fixture {
    x: Mat<f64>,
    y: Vec<f64>,
    h: Mat<f64>,
    eps: f64,
    bias: usize,
    /// (loss, β, CVXPY's optimum).
    losses: Vec<(Loss, f64, f64)>,
}

fn fixture(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/robust_small_{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let num = |k: &str| v[k].as_f64().unwrap();
    let list = |e: &serde_json::Value| -> Vec<f64> {
        e.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect()
    };
    let (n, d) = (num("n") as usize, num("d") as usize);
    let xs = list(&v["x"]);
    let gens: Vec<Vec<f64>> = v["generators"]
        .as_array()
        .unwrap()
        .iter()
        .map(list)
        .collect();
    Fixture {
        x: Mat::from_fn(n, d, |i, j| xs[i * d + j]),
        y: list(&v["y"]),
        h: Mat::from_fn(d, gens.len(), |i, j| gens[j][i]),
        eps: num("eps"),
        bias: num("bias_column") as usize,
        losses: [("hinge", Loss::Hinge), ("squared", Loss::Squared)]
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

impl Fixture {
    fn program(&self, loss: Loss, eps: f64) -> RobustProgram {
        let patterns = Patterns::from_generators(self.x.as_ref(), self.h.as_ref()).unwrap();
        assert_eq!(patterns.len(), self.h.ncols(), "distinct generators");
        let clean = ConvexProgram::new(self.x.as_ref(), &self.y, patterns)
            .unwrap()
            .with_loss(loss)
            .unwrap();
        RobustProgram::new(clean, eps)
            .unwrap()
            .with_fixed_columns(&[self.bias])
            .unwrap()
    }
}

fn tight(beta: f64) -> AdmmParams {
    AdmmParams::new(beta).rho(20.0).tol(1e-10).max_iters(50_000)
}

#[test]
fn robust_programs_match_cvxpy() {
    for name in ["a", "b"] {
        let f = fixture(name);
        for &(loss, beta, want) in &f.losses {
            let prog = f.program(loss, f.eps);
            let rep = admm_robust(&prog, &tight(beta), |_| Control::Continue).unwrap();
            let rel = (rep.objective - want).abs() / want;
            println!(
                "{name} {}: {} vs {want} (rel {rel:.2e}), {} it., cone {:.1e}, gap {:.1e}",
                loss.name(),
                rep.objective,
                rep.iterations,
                rep.cone_violation,
                rep.gap_bound
            );
            assert!(
                rep.converged,
                "{name} {}: {:?}",
                loss.name(),
                rep.termination
            );
            assert!(rel < 1e-6, "{name} {}: rel {rel:e}", loss.name());
            assert!(rep.cone_violation < 1e-8);
            // The certificate is a lower bound on CVXPY's optimum, and tight.
            assert!(
                rep.dual_bound <= want * (1.0 + 1e-8),
                "{} > {want}",
                rep.dual_bound
            );
            assert!(rep.gap_bound < 1e-6, "gap {:e}", rep.gap_bound);
            // The report's numbers are those of the public evaluators.
            let obj = prog
                .objective(rep.v.as_ref(), rep.w.as_ref(), beta)
                .unwrap();
            assert!((obj - rep.objective).abs() <= 1e-12 * obj);
            let cone = prog.cone_violation(rep.v.as_ref(), rep.w.as_ref()).unwrap();
            assert!((cone - rep.cone_violation).abs() <= 1e-9);
        }
    }
}

#[test]
fn at_zero_radius_the_robust_program_is_the_clean_one() {
    let f = fixture("b");
    for &(loss, beta, _) in &f.losses {
        let prog = f.program(loss, 0.0);
        let rep = admm_robust(&prog, &tight(beta), |_| Control::Continue).unwrap();
        let clean = admm(
            prog.program(),
            &AdmmParams::new(beta).rho(20.0).tol(1e-9).max_iters(100_000),
            |_| Control::Continue,
        )
        .unwrap();
        let rel = (rep.objective - clean.objective).abs() / clean.objective;
        println!(
            "{}: robust {} clean {} rel {rel:.2e} ({} / {} it.)",
            loss.name(),
            rep.objective,
            clean.objective,
            rep.iterations,
            clean.iterations
        );
        assert!(rep.converged && clean.converged);
        assert!(rel < 1e-7, "{}: rel {rel:e}", loss.name());
    }
}

/// A seeded stream in [−1, 1).
fn stream(seed: u64) -> impl FnMut() -> f64 {
    let mut st = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    move || {
        st = st
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((st >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

#[test]
fn cone_projection_refuses_hostile_input() {
    let mut buf = Vec::new();
    let (mut s, mut t) = (vec![1.0, -2.0], vec![0.5, 3.0]);
    for eps in [f64::NAN, -1.0, f64::INFINITY] {
        assert!(project_cone(&mut s, &mut t, eps, &[true, true], &mut buf).is_err());
    }
    assert!(project_cone(&mut s, &mut t, 0.1, &[true], &mut buf).is_err());
    let mut bad = vec![f64::NAN, 1.0];
    assert!(project_cone(&mut bad, &mut t, 0.1, &[true, true], &mut buf).is_err());
    assert_eq!(
        (s, t),
        (vec![1.0, -2.0], vec![0.5, 3.0]),
        "inputs untouched on error"
    );
}

#[test]
fn cone_projection_is_the_nearest_point() {
    // Projection onto a closed convex set: feasible, and the variational
    // inequality ⟨x⁰ − P(x⁰), k − P(x⁰)⟩ ≤ 0 for every feasible k (random
    // feasible points, and P(x⁰) ± small steps kept feasible).
    let mut r = stream(3);
    let (n, d) = (12, 5);
    let pf = [true, true, false, true, true];
    let mut buf = Vec::new();
    for case in 0..200 {
        let eps = [0.05, 0.3, 2.0][case % 3];
        let s0: Vec<f64> = (0..n).map(|_| 2.0 * r()).collect();
        let t0: Vec<f64> = (0..d).map(|_| 3.0 * r()).collect();
        let (mut s, mut t) = (s0.clone(), t0.clone());
        project_cone(&mut s, &mut t, eps, &pf, &mut buf).unwrap();
        let l1 = |t: &[f64]| (0..d).filter(|&j| pf[j]).map(|j| t[j].abs()).sum::<f64>();
        let need = eps * l1(&t);
        assert!(
            s.iter().all(|&v| v >= need - 1e-12),
            "case {case}: infeasible"
        );
        for _ in 0..50 {
            let tk: Vec<f64> = (0..d).map(|_| 3.0 * r()).collect();
            let nk = eps * l1(&tk);
            let sk: Vec<f64> = (0..n).map(|_| nk + 2.0 * r().abs()).collect();
            let ip: f64 = (0..n).map(|i| (s0[i] - s[i]) * (sk[i] - s[i])).sum::<f64>()
                + (0..d).map(|j| (t0[j] - t[j]) * (tk[j] - t[j])).sum::<f64>();
            assert!(ip <= 1e-9, "case {case}: variational inequality {ip}");
        }
        let dist = |s: &[f64], t: &[f64]| {
            (0..n).map(|i| (s0[i] - s[i]).powi(2)).sum::<f64>()
                + (0..d).map(|j| (t0[j] - t[j]).powi(2)).sum::<f64>()
        };
        let best = dist(&s, &t);
        for _ in 0..50 {
            let tk: Vec<f64> = (0..d).map(|j| t[j] + 1e-3 * r()).collect();
            let nk = eps * l1(&tk);
            let sk: Vec<f64> = (0..n).map(|i| (s[i] + 1e-3 * r()).max(nk)).collect();
            assert!(
                dist(&sk, &tk) >= best - 1e-12,
                "case {case}: a nearer point"
            );
        }
    }
}

#[test]
fn attacks_cannot_beat_the_robust_certificate_and_fgsm_attains_it() {
    // On the training data, the robust cone constraints keep every neuron's
    // sign over the whole ε-box, so the recovered network is linear there:
    // its worst margin is yₖxₖᵀzₖ − ε‖zₖ‖₁,f, FGSM attains it and PGD cannot
    // go below it.
    let f = fixture("a");
    let (loss, beta, _) = f.losses[0];
    let prog = f.program(loss, f.eps);
    let rep = admm_robust(&prog, &tight(beta), |_| Control::Continue).unwrap();
    assert!(rep.cone_violation < 1e-9);
    let net = TwoLayerNet::from_convex(rep.v.as_ref(), rep.w.as_ref(), 0.0).unwrap();
    let x = f.x.as_ref();
    let y = linalg_core::faer::Col::from_fn(f.y.len(), |i| f.y[i]);
    let z = prog.program().patterns().masks.as_ref() * (&rep.v - &rep.w).transpose();
    let d = x.ncols();
    let margin = |xa: &Mat<f64>| {
        let p = net.predict(xa.as_ref());
        (0..y.nrows()).map(|i| y[i] * p[i]).collect::<Vec<_>>()
    };
    let fg = fgsm(&net, x, &y, f.eps, &[f.bias]).unwrap();
    let pg = pgd(
        &net,
        x,
        &y,
        &PgdParams::new(f.eps).steps(50).fixed_columns(&[f.bias]),
    )
    .unwrap();
    let (mf, mp) = (margin(&fg), margin(&pg));
    let mut attained = 0;
    for k in 0..y.nrows() {
        let xz: f64 = (0..d).map(|j| x[(k, j)] * z[(k, j)]).sum();
        let l1: f64 = (0..d)
            .filter(|&j| j != f.bias)
            .map(|j| z[(k, j)].abs())
            .sum();
        let cert = y[k] * xz - f.eps * l1;
        assert!(
            (mf[k] - cert).abs() <= 1e-7 * (1.0 + cert.abs()),
            "{k}: FGSM {} vs {cert}",
            mf[k]
        );
        assert!(
            mp[k] >= cert - 1e-7 * (1.0 + cert.abs()),
            "{k}: PGD {} below {cert}",
            mp[k]
        );
        if (mp[k] - cert).abs() <= 1e-6 {
            attained += 1;
        }
        // The box and the bias column are respected.
        for j in 0..d {
            assert!((pg[(k, j)] - x[(k, j)]).abs() <= f.eps * (1.0 + 1e-12));
            assert!((fg[(k, j)] - x[(k, j)]).abs() <= f.eps * (1.0 + 1e-12));
        }
        assert_eq!(pg[(k, f.bias)], x[(k, f.bias)]);
    }
    assert!(
        attained * 10 >= 9 * y.nrows(),
        "PGD reached the worst case on {attained}/{}",
        y.nrows()
    );
}

#[test]
fn pgd_breaks_a_clean_network_that_fgsm_and_the_box_bound() {
    // A clean convex network on the same data: PGD's margins are at most
    // the clean ones, stay in the box, and at ε large enough it flips
    // samples; the robust program at the same ε keeps more of them.
    let f = fixture("b");
    let (loss, beta, _) = f.losses[0];
    let y = linalg_core::faer::Col::from_fn(f.y.len(), |i| f.y[i]);
    let clean = admm(
        f.program(loss, 0.0).program(),
        &AdmmParams::new(beta).tol(1e-8).max_iters(50_000),
        |_| Control::Continue,
    )
    .unwrap();
    let net = TwoLayerNet::from_convex(clean.v.as_ref(), clean.w.as_ref(), 0.0).unwrap();
    let eps = 0.3;
    let attack = PgdParams::new(eps).fixed_columns(&[f.bias]);
    let adv = pgd(&net, f.x.as_ref(), &y, &attack).unwrap();
    let (p0, p1) = (net.predict(f.x.as_ref()), net.predict(adv.as_ref()));
    for k in 0..y.nrows() {
        assert!(y[k] * p1[k] <= y[k] * p0[k] + 1e-12);
    }
    let (acc, racc) = (
        net.accuracy(f.x.as_ref(), &y),
        robust_accuracy(&net, f.x.as_ref(), &y, &attack).unwrap(),
    );
    assert!(racc < acc - 0.1, "clean {acc}, under PGD {racc}");
    let robust = admm_robust(
        &f.program(loss, eps),
        &AdmmParams::new(beta).tol(1e-8).max_iters(50_000),
        |_| Control::Continue,
    )
    .unwrap();
    let rnet = TwoLayerNet::from_convex(robust.v.as_ref(), robust.w.as_ref(), 0.0).unwrap();
    let rr = robust_accuracy(&rnet, f.x.as_ref(), &y, &attack).unwrap();
    println!("clean {acc}, clean under PGD {racc}, robust under PGD {rr}");
    assert!(rr > racc, "robust {rr} vs clean {racc}");
}

#[test]
fn residual_balancing_reaches_the_same_robust_optimum() {
    let f = fixture("a");
    let (loss, beta, want) = f.losses[1];
    let prog = f.program(loss, f.eps);
    let rep = admm_robust(
        &prog,
        &AdmmParams::new(beta)
            .rho(200.0)
            .adaptive_rho(true)
            .tol(1e-8)
            .max_iters(50_000),
        |_| Control::Continue,
    )
    .unwrap();
    // ρ falls from 200 to ≈ 0.2 and the run still reaches CVXPY's optimum:
    // the scaled duals and the divisor follow every change.
    assert!(rep.converged, "{:?}", rep.termination);
    assert!(
        (rep.objective - want).abs() <= 1e-6 * want,
        "{} vs {want}",
        rep.objective
    );
    assert!(rep.history.iter().any(|r| r.rho != 200.0), "ρ never moved");
}

#[test]
fn attacks_refuse_empty_and_mismatched_data() {
    let net = TwoLayerNet::from_convex(
        Mat::<f64>::identity(3, 1).as_ref(),
        Mat::<f64>::zeros(3, 1).as_ref(),
        0.0,
    )
    .unwrap();
    let empty = Mat::<f64>::zeros(0, 3);
    let y0 = linalg_core::faer::Col::<f64>::zeros(0);
    assert!(robust_accuracy(&net, empty.as_ref(), &y0, &PgdParams::new(0.1)).is_err());
    let x = Mat::<f64>::zeros(4, 2);
    let y = linalg_core::faer::Col::from_fn(4, |_| 1.0);
    assert!(fgsm(&net, x.as_ref(), &y, 0.1, &[]).is_err());
    let x = Mat::<f64>::zeros(4, 3);
    assert!(pgd(&net, x.as_ref(), &y, &PgdParams::new(f64::NAN)).is_err());
    assert!(pgd(&net, x.as_ref(), &y, &PgdParams::new(0.1).steps(0)).is_err());
    assert!(fgsm(&net, x.as_ref(), &y, 0.1, &[7]).is_err());
}
