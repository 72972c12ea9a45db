//! The `optlab` binary: exit codes, messages and JSON contracts.

use std::path::PathBuf;
use std::process::{Command, Output};

use linalg_core::faer::prelude::Solve;
use linalg_core::faer::sparse::{SparseRowMat, Triplet};
use linalg_core::faer::{Col, Side};
use linalg_core::io::{MtxSymmetry, NpyDtype, read_npy_col, write_matrix_market, write_npy_col};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args(args)
        .output()
        .expect("the optlab binary runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("optlab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A random sparse SPD matrix: a random symmetric sparse pattern made
/// diagonally dominant.
fn random_sparse_spd(n: usize, seed: u64) -> SparseRowMat<usize, f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = Vec::new();
    let mut diag = vec![0.0; n];
    for i in 0..n {
        for _ in 0..3 {
            let j = rng.random_range(0..n);
            if j != i {
                let v: f64 = rng.random_range(-1.0..1.0);
                t.push(Triplet::new(i, j, v));
                t.push(Triplet::new(j, i, v));
                diag[i] += v.abs();
                diag[j] += v.abs();
            }
        }
    }
    for (i, d) in diag.iter().enumerate() {
        t.push(Triplet::new(i, i, d + 0.5 + i as f64 / n as f64));
    }
    SparseRowMat::try_new_from_triplets(n, n, &t).unwrap()
}

#[test]
fn version_help_and_info() {
    let o = optlab(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("optlab {}", env!("CARGO_PKG_VERSION"))
    );
    let o = optlab(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for cmd in [
        "info", "linsolve", "poisson", "ot", "optimize", "bilevel", "relu", "spectrum", "tour",
    ] {
        assert!(help.contains(cmd), "--help lists {cmd}");
    }
    let o = optlab(&["info", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let crates = v["crates"].as_array().unwrap();
    assert_eq!(crates.len(), 8);
    assert!(crates.iter().all(|c| c["enabled"] == true));
    assert_eq!(v["datasets"].as_array().unwrap().len(), 4);
    let o = optlab(&["info"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("sinkhorn-newton"));
}

#[test]
fn linsolve_solves_and_reports_json() {
    let n = 300;
    let a = random_sparse_spd(n, 5);
    let p = tmp("spd.mtx");
    write_matrix_market(&p, &a, MtxSymmetry::Symmetric).unwrap();
    let mut rng = StdRng::seed_from_u64(6);
    let b = Col::from_fn(n, |_| rng.random_range(-1.0..1.0));
    let bp = tmp("b.npy");
    write_npy_col(&bp, b.as_ref(), NpyDtype::F64).unwrap();
    let xp = tmp("x.npy");
    for method in ["cg", "jacobi-pcg"] {
        let o = optlab(&[
            "linsolve",
            "--matrix",
            p.to_str().unwrap(),
            "--rhs",
            bp.to_str().unwrap(),
            "--method",
            method,
            "--rtol",
            "1e-10",
            "--x-out",
            xp.to_str().unwrap(),
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for key in [
            "method",
            "n",
            "nnz",
            "iterations",
            "converged",
            "relative_residual",
            "seconds",
            "setup_seconds",
            "residual_history",
        ] {
            assert!(v.get(key).is_some(), "JSON key {key}");
        }
        assert_eq!(v["method"], method);
        assert_eq!(v["n"], n);
        assert_eq!(v["nnz"].as_u64().unwrap() as usize, a.val().len());
        assert_eq!(v["converged"], true);
        assert!(v["relative_residual"].as_f64().unwrap() < 1e-9);
        let hist = v["residual_history"].as_array().unwrap();
        assert_eq!(hist.len(), v["iterations"].as_u64().unwrap() as usize + 1);
        // Against a dense Cholesky solve of the same system.
        let x = read_npy_col(&xp).unwrap();
        let reference = a.to_dense().llt(Side::Lower).unwrap().solve(&b);
        assert!((&x - &reference).norm_l2() / reference.norm_l2() < 1e-8);
    }
}

#[test]
fn bilevel_json_contract_and_known_solutions() {
    for (problem, tol) in [("quadratic", 1e-5), ("toy:bome", 1e-3)] {
        let o = optlab(&["bilevel", "--problem", problem, "--json"]);
        assert!(o.status.success(), "{problem}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for key in [
            "problem",
            "method",
            "iterations",
            "gradient_calls",
            "seconds",
            "upper_value",
            "hypergradient_norm",
            "penalty_gap",
            "test_accuracy",
            "history",
        ] {
            assert!(v.get(key).is_some(), "{problem}: missing `{key}`");
        }
        assert!(
            v["error_vs_known_solution"].as_f64().unwrap() < tol,
            "{problem}"
        );
        assert!(v["hypergradient_norm"].as_f64().unwrap() <= 1e-6);
        assert_eq!(
            v["history"].as_array().unwrap().len() as u64,
            v["iterations"].as_u64().unwrap() + 1
        );
    }
    // Every method on a problem it accepts; the closed-form quadratic knows
    // argmin ψ (AID, ITD) and argmin ψ_σ (the penalty method).
    for method in ["aid", "itd"] {
        let o = optlab(&["bilevel", "--method", method, "--json"]);
        assert!(o.status.success(), "{method}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            v["error_vs_known_solution"].as_f64().unwrap() < 1e-5,
            "{method}"
        );
        assert_eq!(v["method"], method);
    }
    // The stochastic methods on the benchopt-shaped quadratic stop at the
    // default target ψ − ψ* ≤ 1e-4.
    let o = optlab(&[
        "bilevel",
        "--problem",
        "quadratic-stochastic",
        "--method",
        "penalty-2ts",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["value_gap"].as_f64().unwrap() <= 1e-4);
    assert_eq!(v["method"], "penalty-2ts");
    assert!(v["sample_gradients"].as_u64().unwrap() >= 64 * 1000);
    // Hyper-cleaning: a fixed budget, test accuracy and detection reported.
    let o = optlab(&["bilevel", "--problem", "hyperclean:digits", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acc = v["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "{acc}");
    assert!(v["detection"]["f1"].as_f64().unwrap() > 0.85);
    assert_eq!(v["iterations"], 15);
}

#[test]
fn relu_json_contract_and_a_converged_network() {
    for loss in ["squared", "bce", "hinge"] {
        let o = optlab(&[
            "relu", "--data", "wine:0v1", "--loss", loss, "--tol", "1e-5", "--json",
        ]);
        assert!(o.status.success(), "{loss}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["loss"], loss);
        // The certificate: the dual bound lies below the objective, and the
        // gap closed to the tolerance or the residual test passed.
        let (obj, bound) = (
            v["objective"].as_f64().unwrap(),
            v["dual_bound"].as_f64().unwrap(),
        );
        assert!(bound <= obj * (1.0 + 1e-9), "{loss}: {bound} > {obj}");
        assert!(
            v["gap_bound"].as_f64().unwrap() < 1e-3,
            "{loss}: {}",
            v["gap_bound"]
        );
        for key in [
            "objective",
            "primal_residual",
            "dual_residual",
            "gap_bound",
            "iterations",
            "seconds",
            "train_accuracy",
            "test_accuracy",
            "neurons",
            "robust_accuracy",
            "history",
        ] {
            assert!(v.get(key).is_some(), "missing `{key}`");
        }
        assert!(v["cone_violation"].as_f64().unwrap() < 1e-4);
        assert!(v["train_accuracy"].as_f64().unwrap() > 0.9);
        assert!(v["test_accuracy"].as_f64().unwrap() > 0.9);
        assert_eq!(
            v["history"].as_array().unwrap().len() as u64,
            v["iterations"].as_u64().unwrap() + 1
        );
    }
}

#[test]
fn relu_adversarial_reports_a_certified_robust_network() {
    for loss in ["hinge", "squared"] {
        let o = optlab(&[
            "relu",
            "--data",
            "wine:0v1",
            "--loss",
            loss,
            "--bias",
            "--adversarial",
            "0.3",
            "--tol",
            "1e-4",
            "--json",
        ]);
        assert!(o.status.success(), "{loss}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let (obj, bound) = (
            v["objective"].as_f64().unwrap(),
            v["dual_bound"].as_f64().unwrap(),
        );
        assert!(
            bound <= obj && v["gap_bound"].as_f64().unwrap() < 1e-3,
            "{loss}"
        );
        assert!(v["cone_violation"].as_f64().unwrap() < 1e-4);
        assert_eq!(v["adversarial_eps"], 0.3);
        assert_eq!(v["robust_accuracy_on"], "test");
        // PGD keeps a sample's clean input when no step lowers its margin,
        // so it can only lower the accuracy; at ε = 0.3 it is still high.
        let (clean, pgd) = (
            v["test_accuracy"].as_f64().unwrap(),
            v["robust_accuracy"].as_f64().unwrap(),
        );
        assert!(pgd <= clean && pgd > 0.8, "{loss}: {pgd} vs {clean}");
        assert!((0.0..=1.0).contains(&v["fgsm_accuracy"].as_f64().unwrap()));
    }
}

#[test]
fn relu_pricing_adds_patterns_and_lowers_the_objective() {
    let run = |extra: &[&str]| {
        let mut args = vec!["relu", "--data", "wine:0v1", "--tol", "1e-3", "--json"];
        args.extend_from_slice(extra);
        let o = optlab(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let plain = run(&[]);
    let priced = run(&["--pricing", "1", "--pricing-candidates", "500"]);
    assert!(plain["pricing_worst_violation"].is_null());
    assert!(priced["patterns"].as_u64().unwrap() > plain["patterns"].as_u64().unwrap());
    assert!(priced["objective"].as_f64().unwrap() < 0.97 * plain["objective"].as_f64().unwrap());
}

#[test]
fn tour_runs_and_every_check_holds() {
    let o = optlab(&["tour", "--json", "--grid", "16"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["rows"].as_array().unwrap().len() >= 4);
}

#[test]
fn poisson_solves_scenes_and_reports_json() {
    let mtx = tmp("plume.mtx");
    let rhs = tmp("plume_b.npy");
    let o = optlab(&[
        "poisson",
        "--scene",
        "smoke-plume",
        "--grid",
        "16",
        "--method",
        "mg-pcg",
        "--rtol",
        "1e-10",
        "--json",
        "--write-matrix",
        mtx.to_str().unwrap(),
        "--write-rhs",
        rhs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "method",
        "n",
        "nnz",
        "iterations",
        "converged",
        "relative_residual",
        "seconds",
        "setup_seconds",
        "residual_history",
    ] {
        assert!(v.get(key).is_some(), "JSON key {key}");
    }
    assert_eq!(v["n"], 4096);
    assert_eq!(v["singular_regions"], 1);
    assert_eq!(v["projected"], false);
    assert!(v["relative_residual"].as_f64().unwrap() < 1e-10);
    // The written files have the documented sizes.
    let a = linalg_core::io::read_matrix_market(&mtx).unwrap();
    assert_eq!(a.nrows(), 4096);
    assert_eq!(a.val().len(), v["nnz"].as_u64().unwrap() as usize);
    let b = read_npy_col(&rhs).unwrap();
    assert_eq!(b.nrows(), 4096);
}

#[test]
fn poisson_projects_an_inconsistent_rhs_and_says_so() {
    // An inconsistent right-hand side on a pure-Neumann scene: projected, and said so.
    let ones = tmp("ones.npy");
    write_npy_col(&ones, Col::<f64>::ones(512).as_ref(), NpyDtype::F64).unwrap();
    let o = optlab(&[
        "poisson",
        "--scene",
        "smoke-plume",
        "--grid",
        "8",
        "--rhs",
        ones.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("was projected"));
    let o = optlab(&[
        "poisson",
        "--scene",
        "smoke-plume",
        "--grid",
        "8",
        "--rhs",
        ones.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["projected"], true);
}

#[test]
fn linsolve_ic0_matches_direct_solve_and_rejects_indefinite() {
    let n = 200;
    let a = random_sparse_spd(n, 8);
    let p = tmp("spd_ic0.mtx");
    write_matrix_market(&p, &a, MtxSymmetry::Symmetric).unwrap();
    let xp = tmp("x_ic0.npy");
    let o = optlab(&[
        "linsolve",
        "--matrix",
        p.to_str().unwrap(),
        "--method",
        "ic0-pcg",
        "--rtol",
        "1e-11",
        "--x-out",
        xp.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["method"], "ic0-pcg");
    let x = read_npy_col(&xp).unwrap();
    let b = &a * Col::<f64>::ones(n);
    let reference = a.to_dense().llt(Side::Lower).unwrap().solve(&b);
    assert!((&x - &reference).norm_l2() / reference.norm_l2() < 1e-8);
    // Positive diagonal, indefinite: IC(0) breaks down or CG finds negative curvature; exit 2 either way.
    let t = [
        Triplet::new(0usize, 0usize, 1.0),
        Triplet::new(0, 1, 2.0),
        Triplet::new(1, 0, 2.0),
        Triplet::new(1, 1, 1.0),
    ];
    let ind = tmp("indef_ic0.mtx");
    write_matrix_market(
        &ind,
        &SparseRowMat::try_new_from_triplets(2, 2, &t).unwrap(),
        MtxSymmetry::General,
    )
    .unwrap();
    let o = optlab(&[
        "linsolve",
        "--matrix",
        ind.to_str().unwrap(),
        "--method",
        "ic0-pcg",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("positive definite"), "{}", stderr(&o));
}

#[test]
fn ot_json_contract_and_pot_agreement() {
    let fx = |n: &str| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../sinkhorn-newton/tests/fixtures")
            .join(n)
            .to_str()
            .unwrap()
            .to_string()
    };
    let plan_out = tmp("plan.npy");
    for method in ["sinkhorn", "sns", "newton-dense"] {
        let o = optlab(&[
            "ot",
            "--cost",
            &fx("clouds_M.npy"),
            "--a",
            &fx("clouds_a.npy"),
            "--b",
            &fx("clouds_b.npy"),
            "--reg",
            "0.1",
            "--method",
            method,
            "--tol",
            "1e-13",
            "--plan-out",
            plan_out.to_str().unwrap(),
            "--json",
        ]);
        assert!(o.status.success(), "{method}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for key in [
            "method",
            "n",
            "m",
            "reg",
            "iterations",
            "sinkhorn_iterations",
            "newton_iterations",
            "seconds",
            "cost",
            "objective",
            "marginal_error",
            "history",
        ] {
            assert!(v.get(key).is_some(), "JSON key {key}");
        }
        assert_eq!((v["n"].as_u64(), v["m"].as_u64()), (Some(40), Some(30)));
        assert_eq!(v["method"], method);
        let pot_cost = read_npy_col(fx("clouds_cost.npy")).unwrap()[0];
        assert!((v["cost"].as_f64().unwrap() - pot_cost).abs() < 1e-8 * pot_cost);
        let plan = linalg_core::io::read_npy_mat(&plan_out).unwrap();
        let pot = linalg_core::io::read_npy_mat(fx("clouds_plan.npy")).unwrap();
        assert!((&plan - &pot).norm_l2() < 1e-8 * pot.norm_l2());
    }
    // --eta is the reciprocal of --reg.
    let a = optlab(&[
        "ot",
        "--cost",
        &fx("assign_M.npy"),
        "--eta",
        "20",
        "--method",
        "sinkhorn",
        "--json",
    ]);
    let b = optlab(&[
        "ot",
        "--cost",
        &fx("assign_M.npy"),
        "--reg",
        "0.05",
        "--method",
        "sinkhorn",
        "--json",
    ]);
    let (va, vb): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    assert_eq!(va["cost"], vb["cost"]);
}

#[test]
fn ot_point_clouds() {
    let x = tmp("X.npy");
    let y = tmp("Y.npy");
    linalg_core::io::write_npy_mat(
        &x,
        linalg_core::faer::Mat::from_fn(5, 2, |i, j| (i + j) as f64 * 0.1).as_ref(),
        NpyDtype::F64,
    )
    .unwrap();
    linalg_core::io::write_npy_mat(
        &y,
        linalg_core::faer::Mat::from_fn(4, 2, |i, j| (i * j) as f64 * 0.2).as_ref(),
        NpyDtype::F64,
    )
    .unwrap();
    let o = optlab(&[
        "ot",
        "--x",
        x.to_str().unwrap(),
        "--y",
        y.to_str().unwrap(),
        "--metric",
        "euclidean",
        "--reg",
        "0.05",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["n"].as_u64(), v["m"].as_u64()), (Some(5), Some(4)));
}

#[test]
fn ot_builtin_problems_round_trip_through_files() {
    let dir = tmp("ot_digits");
    let o = optlab(&[
        "ot",
        "--problem",
        "digits-w2:3:4",
        "--eta",
        "1200",
        "--write-problem",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["n"].as_u64(), v["m"].as_u64()), (Some(64), Some(64)));
    // The written files are exactly the problem: solving them again with
    // Sinkhorn (log domain, ε-scaling) gives the same cost.
    let path = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let o2 = optlab(&[
        "ot",
        "--cost",
        &path("C.npy"),
        "--a",
        &path("a.npy"),
        "--b",
        &path("b.npy"),
        "--eta",
        "1200",
        "--method",
        "sinkhorn",
        "--sinkhorn-method",
        "log",
        "--eps-scaling",
        "0.1",
        "--json",
    ]);
    assert!(o2.status.success(), "{}", stderr(&o2));
    let v2: serde_json::Value = serde_json::from_slice(&o2.stdout).unwrap();
    let (c1, c2) = (v["cost"].as_f64().unwrap(), v2["cost"].as_f64().unwrap());
    assert!((c1 - c2).abs() < 1e-7 * c1, "{c1} vs {c2}");
    for bad in ["nope", "digits-w2:1:2:3", "random-assignment:x"] {
        let o = optlab(&["ot", "--problem", bad, "--eta", "10"]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("--problem"), "{bad}: {}", stderr(&o));
    }
}

#[test]
fn optimize_json_contract_and_methods() {
    let o = optlab(&[
        "optimize",
        "--problem",
        "rosenbrock",
        "--method",
        "grn",
        "--max-iters",
        "500",
        "--tol",
        "1e-10",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "method",
        "problem",
        "iterations",
        "value",
        "grad_norm",
        "seconds",
        "converged",
        "history",
    ] {
        assert!(v.get(key).is_some(), "JSON key {key}");
    }
    assert_eq!(v["method"], "grn");
    assert_eq!(v["converged"], true);
    assert!(v["value"].as_f64().unwrap() < 1e-10);
    let h = v["history"].as_array().unwrap();
    assert_eq!(h.len(), v["iterations"].as_u64().unwrap() as usize + 1);
    // history[0] is the classic start (−1.2, 1): f = 24.2.
    assert!((h[0]["value"].as_f64().unwrap() - 24.2).abs() < 1e-12);
    // The diffGrad paper's F1 through the CLI.
    let o = optlab(&[
        "optimize",
        "--problem",
        "f1",
        "--method",
        "diffgrad",
        "--lr",
        "0.1",
        "--beta1",
        "0.95",
        "--max-iters",
        "300",
        "--tol",
        "0",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((v["x"][0].as_f64().unwrap() + 0.3).abs() < 1e-3);
    // --x0 overrides the start.
    let x0 = tmp("x0.npy");
    linalg_core::io::write_npy_col(
        &x0,
        linalg_core::faer::Col::from_fn(2, |i| [-2.0, 2.0][i]).as_ref(),
        linalg_core::io::NpyDtype::F64,
    )
    .unwrap();
    let o = optlab(&[
        "optimize",
        "--problem",
        "rosenbrock",
        "--method",
        "grn",
        "--x0",
        x0.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((v["history"][0]["value"].as_f64().unwrap() - 409.0).abs() < 1e-9);
    // Logistic regression: GRN converges; Nesterov with default L, μ runs.
    for method in ["grn", "grn-fisher", "nesterov", "tmm", "adam", "gd-armijo"] {
        let o = optlab(&[
            "optimize",
            "--problem",
            "logistic:breast_cancer",
            "--method",
            method,
            "--max-iters",
            "50",
            "--json",
        ]);
        // Exit 0 when it converged within 50 iterations, 1 when not; the
        // report is printed either way and says which.
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let converged = v["converged"].as_bool().unwrap();
        let code = if converged { 0 } else { 1 };
        assert_eq!(o.status.code(), Some(code), "{method}: {}", stderr(&o));
        assert_eq!(converged, method == "grn", "{method}");
        assert!(v["work"]["gradient_evals"].as_u64().unwrap() >= 1);
    }
}

#[cfg(feature = "burn")]
#[test]
fn poisson_train_writes_a_model_checkpoints_and_resumes() {
    let out = tmp("dcdm8.bpk");
    let ckpt = tmp("dcdm8.ckpt");
    std::fs::remove_dir_all(&ckpt).ok();
    let run = |epochs: &str, resume: bool| {
        let mut a = vec![
            "poisson",
            "train",
            "--scene",
            "smoke-plume",
            "--grid",
            "8",
            "--samples",
            "40",
            "--epochs",
            epochs,
            "--lr",
            "1e-3",
            "--batch-size",
            "5",
            "--out",
            out.to_str().unwrap(),
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--json",
        ];
        if resume {
            a.push("--resume");
        }
        let o = optlab(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let first = run("2", false);
    let e = first["epochs"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert!(e[1]["train_loss"].as_f64().unwrap() < e[0]["train_loss"].as_f64().unwrap());
    assert!(out.exists() && ckpt.join("model.bpk").exists() && ckpt.join("optim.bpk").exists());
    let second = run("1", true);
    assert_eq!(second["epochs"][0]["epoch"], 3);
    assert!(second["ritz_vectors"].is_null(), "data should be reused");
    let o = optlab(&[
        "poisson",
        "train",
        "--grid",
        "7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // The trained network as the DCDM direction model (barely trained: it
    // runs its iterations; convergence is not expected here).
    let o = optlab(&[
        "poisson",
        "--scene",
        "smoke-plume",
        "--grid",
        "8",
        "--method",
        "dcdm",
        "--model",
        out.to_str().unwrap(),
        "--max-iters",
        "3",
        "--rtol",
        "1e-12",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["method"], "dcdm");
    assert_eq!(v["iterations"], 3);
    assert_eq!(v["residual_history"].as_array().unwrap().len(), 4);
    // Without --model: the shipped weights.
    let o = optlab(&[
        "poisson",
        "--scene",
        "smoke-plume",
        "--grid",
        "16",
        "--method",
        "dcdm",
        "--rtol",
        "1e-4",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["converged"], true);
}

#[cfg(feature = "burn")]
#[test]
fn dcdm_bad_model_device_and_residual_mode_are_bad_input() {
    let base = ["poisson", "--grid", "8", "--method", "dcdm"];
    let run = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        optlab(&a)
    };
    let o = run(&["--model", "/nonexistent/dir/model.bpk"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("/nonexistent/dir/model.bpk") && e.contains("no such file"),
        "{e}"
    );
    // A file that is not a burnpack record.
    let junk = tmp("junk_model.bpk");
    std::fs::write(&junk, b"not a model").unwrap();
    let o = run(&["--model", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("burnpack"), "{}", stderr(&o));
    let o = run(&["--residual", "sometimes"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("recompute or update"), "{}", stderr(&o));
    let o = run(&["--device", "tpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("flex or wgpu"), "{}", stderr(&o));
    #[cfg(not(feature = "wgpu"))]
    {
        let o = run(&["--device", "wgpu"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("--features wgpu"), "{}", stderr(&o));
    }
    // The update mode reaches the same tolerance as the recomputed residual.
    let o = run(&[
        "--residual",
        "update",
        "--refresh-every",
        "5",
        "--rtol",
        "1e-6",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["residual_mode"], "update");
    assert!(v["relative_residual"].as_f64().unwrap() <= 1.1e-6, "{v}");
    assert_eq!(
        v["history_seconds"].as_array().unwrap().len(),
        v["residual_history"].as_array().unwrap().len()
    );
}

#[cfg(not(feature = "burn"))]
#[test]
fn dcdm_without_burn_says_how_to_build_it() {
    let o = optlab(&["poisson", "--grid", "8", "--method", "dcdm"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--features burn"), "{}", stderr(&o));
    let o = optlab(&["poisson", "train", "--out", "/tmp/never.bpk"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--features burn"), "{}", stderr(&o));
}
