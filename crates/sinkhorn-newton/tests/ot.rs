//! Sinkhorn, SNS and dense Newton against POT fixtures, closed-form checks of
//! the Newton system, robustness at tiny ε, and bad input.

use std::path::PathBuf;

use linalg_core::faer::{Col, Mat};
use linalg_core::io::{read_npy_col, read_npy_mat};
use linalg_core::{Objective, check_hessian_vec};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sinkhorn_newton::*;

fn fx(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Fixture {
    a: Col<f64>,
    b: Col<f64>,
    m: Mat<f64>,
    plan: Mat<f64>,
    cost: f64,
}

fn load(name: &str) -> Fixture {
    Fixture {
        a: read_npy_col(fx(&format!("{name}_a.npy"))).unwrap(),
        b: read_npy_col(fx(&format!("{name}_b.npy"))).unwrap(),
        m: read_npy_mat(fx(&format!("{name}_M.npy"))).unwrap(),
        plan: read_npy_mat(fx(&format!("{name}_plan.npy"))).unwrap(),
        cost: read_npy_col(fx(&format!("{name}_cost.npy"))).unwrap()[0],
    }
}

fn check_against_pot(rep: &OtReport, f: &Fixture, what: &str) {
    let rel_plan = (&rep.plan - &f.plan).norm_l2() / f.plan.norm_l2();
    let rel_cost = (rep.cost - f.cost).abs() / f.cost;
    assert!(
        rel_plan < 1e-8,
        "{what}: plan differs from POT by {rel_plan:e}"
    );
    assert!(
        rel_cost < 1e-8,
        "{what}: cost differs from POT by {rel_cost:e}"
    );
}

#[test]
fn matches_pot_sinkhorn_log_on_seeded_problems() {
    for (name, reg) in [("assign", 0.05), ("clouds", 0.1)] {
        let f = load(name);
        let p = OtProblem::new(f.a.as_ref(), f.b.as_ref(), f.m.as_ref(), reg).unwrap();
        let tight = SinkhornParams {
            marginal_tol: 1e-14,
            ..Default::default()
        };
        let rep = sinkhorn(&p, &tight, None, |_| Control::Continue).unwrap();
        assert!(rep.converged, "{name}: {}", rep.marginal_error);
        check_against_pot(&rep, &f, &format!("{name} sinkhorn"));
        let rep = sns(
            &p,
            &SnsParams {
                marginal_tol: 1e-14,
                ..Default::default()
            },
            |_| Control::Continue,
        )
        .unwrap();
        assert!(rep.converged, "{name} sns: {}", rep.marginal_error);
        check_against_pot(&rep, &f, &format!("{name} sns"));
        let rep = newton_dense(
            &p,
            &SnsParams {
                marginal_tol: 1e-14,
                ..Default::default()
            },
            |_| Control::Continue,
        )
        .unwrap();
        check_against_pot(&rep, &f, &format!("{name} newton-dense"));
        // Primal objective equals the dual at the optimum.
        let z = Col::from_fn(p.rows().len() + p.cols().len(), |k| {
            if k < p.rows().len() {
                rep.x[k]
            } else {
                rep.y[k - p.rows().len()]
            }
        });
        let dual = -NegDual::new(&p).value(z.as_ref());
        assert!((dual - rep.objective).abs() < 1e-10 * rep.objective.abs().max(1.0));
    }
}

#[test]
fn cost_approaches_the_exact_ot_cost_monotonically_as_eps_shrinks() {
    let f = load("clouds");
    let emd = read_npy_col(fx("clouds_emd.npy")).unwrap()[0];
    let mut gaps = Vec::new();
    for reg in [0.1, 0.03, 0.01, 0.003, 0.001] {
        let p = OtProblem::new(f.a.as_ref(), f.b.as_ref(), f.m.as_ref(), reg).unwrap();
        let rep = sns(
            &p,
            &SnsParams {
                marginal_tol: 1e-12,
                ..Default::default()
            },
            |_| Control::Continue,
        )
        .unwrap();
        assert!(rep.converged, "reg {reg}: {}", rep.marginal_error);
        gaps.push(rep.cost - emd);
    }
    // The entropic plan is feasible, so its cost is ≥ the exact cost; the gap shrinks.
    assert!(gaps.iter().all(|g| *g >= -1e-12), "{gaps:?}");
    assert!(gaps.windows(2).all(|w| w[1] < w[0]), "{gaps:?}");
    assert!(gaps[4] < 0.05 * gaps[0], "{gaps:?}");
}

fn random_assignment(n: usize, seed: u64) -> (Col<f64>, Mat<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    (
        OtProblem::uniform(n),
        Mat::from_fn(n, n, |_, _| rng.random_range(0.0..1.0)),
    )
}

#[test]
fn hessian_vector_product_matches_finite_differences_and_kills_the_gauge() {
    let (r, c) = random_assignment(30, 3);
    let p = OtProblem::new(r.as_ref(), r.as_ref(), c.as_ref(), 0.1).unwrap();
    // A point near the optimum (a few sweeps) keeps the exponentials moderate.
    let rep = sinkhorn(
        &p,
        &SinkhornParams {
            max_iters: 5,
            check_every: 5,
            marginal_tol: 1e-30,
            ..Default::default()
        },
        None,
        |_| Control::Continue,
    )
    .unwrap();
    let z = Col::from_fn(60, |k| if k < 30 { rep.x[k] } else { rep.y[k - 30] });
    let obj = NegDual::new(&p);
    let v = Col::from_fn(60, |k| ((k * 37 % 11) as f64 - 5.0) / 5.0);
    let err = check_hessian_vec(&obj, z.as_ref(), v.as_ref()).unwrap();
    assert!(
        err < 1e-6,
        "Hessian-vector product vs finite differences: {err:e}"
    );
    let gauge = Col::from_fn(60, |k| if k < 30 { 1.0 } else { -1.0 });
    let mut hg = Col::zeros(60);
    obj.hessian_vec(z.as_ref(), gauge.as_ref(), hg.as_mut());
    let mut hv = Col::zeros(60);
    obj.hessian_vec(z.as_ref(), v.as_ref(), hv.as_mut());
    assert!(
        hg.norm_l2() < 1e-12 * hv.norm_l2(),
        "H·(1, −1) = {}",
        hg.norm_l2()
    );
}

#[test]
fn sns_on_the_paper_random_assignment() {
    // n = 500, uniform marginals, C ~ U[0, 1], η = 1200 (the paper's setting).
    let (r, c) = random_assignment(500, 0);
    let p = OtProblem::new(r.as_ref(), r.as_ref(), c.as_ref(), 1.0 / 1200.0).unwrap();
    let rep = sns(&p, &SnsParams::default(), |_| Control::Continue).unwrap();
    assert!(rep.converged, "marginal error {}", rep.marginal_error);
    assert!(
        rep.iterations <= 100,
        "{} Sinkhorn + {} Newton",
        rep.sinkhorn_iterations,
        rep.newton_iterations
    );
    assert!(rep.marginal_error <= 1e-9);
}

#[test]
fn tiny_eps_stays_finite() {
    let (r, c) = random_assignment(60, 9);
    let p = OtProblem::new(r.as_ref(), r.as_ref(), c.as_ref(), 1e-4).unwrap();
    let rep = sinkhorn(
        &p,
        &SinkhornParams {
            max_iters: 300,
            ..Default::default()
        },
        None,
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.x.iter().chain(rep.y.iter()).all(|v| v.is_finite()));
    assert!(
        rep.plan
            .col_iter()
            .all(|col| col.iter().all(|v| v.is_finite()))
    );
    assert!(rep.cost.is_finite() && rep.objective.is_finite() && rep.marginal_error.is_finite());
    let rep = sns(
        &p,
        &SnsParams {
            max_newton_iters: 20,
            ..Default::default()
        },
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.x.iter().chain(rep.y.iter()).all(|v| v.is_finite()) && rep.cost.is_finite());
}

#[test]
fn zero_mass_bins_are_dropped_and_restored() {
    let f = load("clouds");
    let mut a = f.a.clone();
    let moved = a[3];
    a[3] = 0.0;
    a[4] += moved;
    let p = OtProblem::new(a.as_ref(), f.b.as_ref(), f.m.as_ref(), 0.1).unwrap();
    assert_eq!(p.rows().len(), 39);
    let rep = sinkhorn(
        &p,
        &SinkhornParams {
            marginal_tol: 1e-12,
            ..Default::default()
        },
        None,
        |_| Control::Continue,
    )
    .unwrap();
    assert_eq!((rep.plan.nrows(), rep.plan.ncols()), (40, 30));
    assert_eq!(rep.plan.row(3).norm_l2(), 0.0);
    let row_sums: Vec<f64> = (0..40).map(|i| rep.plan.row(i).iter().sum()).collect();
    assert!((row_sums[4] - a[4]).abs() < 1e-12);
}

#[test]
fn bad_input_is_rejected() {
    let r = OtProblem::uniform(3);
    let c = Mat::<f64>::zeros(3, 3);
    let mut neg = r.clone();
    neg[1] = -0.1;
    assert!(matches!(
        OtProblem::new(neg.as_ref(), r.as_ref(), c.as_ref(), 0.1),
        Err(Error::BadMarginal {
            name: "r",
            index: 1,
            ..
        })
    ));
    let mut nan = r.clone();
    nan[0] = f64::NAN;
    assert!(matches!(
        OtProblem::new(r.as_ref(), nan.as_ref(), c.as_ref(), 0.1),
        Err(Error::BadMarginal {
            name: "c",
            index: 0,
            ..
        })
    ));
    let heavy = Col::from_fn(3, |_| 0.5);
    assert!(matches!(
        OtProblem::new(r.as_ref(), heavy.as_ref(), c.as_ref(), 0.1),
        Err(Error::MassMismatch { .. })
    ));
    let mut bad_cost = c.clone();
    bad_cost[(2, 1)] = f64::INFINITY;
    assert!(matches!(
        OtProblem::new(r.as_ref(), r.as_ref(), bad_cost.as_ref(), 0.1),
        Err(Error::NonFiniteCost { row: 2, col: 1 })
    ));
    let rect = Mat::<f64>::zeros(3, 2);
    assert!(matches!(
        OtProblem::new(r.as_ref(), r.as_ref(), rect.as_ref(), 0.1),
        Err(Error::Shape { .. })
    ));
    for reg in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            OtProblem::new(r.as_ref(), r.as_ref(), c.as_ref(), reg),
            Err(Error::Param(ParamError { name: "reg", .. }))
        ));
    }
    let empty = Col::<f64>::zeros(0);
    assert!(matches!(
        OtProblem::new(empty.as_ref(), r.as_ref(), Mat::zeros(0, 3).as_ref(), 0.1),
        Err(Error::Empty("r"))
    ));
    let zeros = Col::<f64>::zeros(3);
    assert!(matches!(
        OtProblem::new(zeros.as_ref(), r.as_ref(), c.as_ref(), 0.1),
        Err(Error::Empty("r"))
    ));
    let p = OtProblem::new(r.as_ref(), r.as_ref(), c.as_ref(), 0.1).unwrap();
    assert!(matches!(
        sinkhorn(
            &p,
            &SinkhornParams {
                marginal_tol: 0.0,
                ..Default::default()
            },
            None,
            |_| Control::Continue
        ),
        Err(Error::Param(ParamError {
            name: "marginal_tol",
            ..
        }))
    ));
    let short = Col::<f64>::zeros(2);
    assert!(matches!(
        sinkhorn(
            &p,
            &SinkhornParams::default(),
            Some((short.as_ref(), r.as_ref())),
            |_| Control::Continue
        ),
        Err(Error::Shape { .. })
    ));
}

/// The cyclic "hash" cost on which the paper's fixed 8n sparsity stalls.
fn hash_problem(n: usize) -> OtProblem {
    let cost = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 17) as f64 / 17.0);
    let r = OtProblem::uniform(n);
    OtProblem::new(r.as_ref(), r.as_ref(), cost.as_ref(), 0.01).unwrap()
}

#[test]
fn adaptive_keep_rescues_sns_where_fixed_sparsity_stalls() {
    let p = hash_problem(300);
    let fixed = sns(
        &p,
        &SnsParams {
            adaptive_keep: false,
            max_newton_iters: 60,
            ..Default::default()
        },
        |_| Control::Continue,
    )
    .unwrap();
    assert!(
        fixed.marginal_error > 1e-6,
        "fixed 8n sparsity was expected to stall here, reached {:e}",
        fixed.marginal_error
    );
    let tight = SnsParams {
        marginal_tol: 1e-12,
        ..Default::default()
    };
    let adaptive = sns(&p, &tight, |_| Control::Continue).unwrap();
    assert!(adaptive.converged, "{:e}", adaptive.marginal_error);
    assert!(adaptive.newton_iterations <= 30);
    // Sinkhorn is hopeless here (marginal error 4e-6 after 100 000 sweeps);
    // the reference is Newton with the dense Hessian.
    let dense = newton_dense(&p, &tight, |_| Control::Continue).unwrap();
    assert!(dense.converged);
    assert!((adaptive.cost - dense.cost).abs() < 1e-8 * dense.cost);
}

#[test]
fn eps_scaling_reaches_the_same_plan_in_fewer_sweeps_on_w1_digits() {
    let p = instances::image_pair(
        &datasets::digit_image(0).unwrap(),
        &datasets::digit_image(1).unwrap(),
        8,
        8,
        1,
    )
    .unwrap()
    .problem(1.0 / 1200.0)
    .unwrap();
    let plain = sinkhorn(&p, &SinkhornParams::default(), None, |_| Control::Continue).unwrap();
    let scaled = sinkhorn(
        &p,
        &SinkhornParams {
            eps_scaling: Some(EpsScaling::new(0.1, 0.5)),
            ..Default::default()
        },
        None,
        |_| Control::Continue,
    )
    .unwrap();
    assert!(plain.converged && scaled.converged);
    assert!((plain.cost - scaled.cost).abs() < 1e-8 * plain.cost);
    assert!(
        2 * scaled.iterations < plain.iterations,
        "ε-scaling {} vs {} sweeps",
        scaled.iterations,
        plain.iterations
    );
    for bad in [EpsScaling::new(0.1, 1.0), EpsScaling::new(-1.0, 0.5)] {
        let r = sinkhorn(
            &p,
            &SinkhornParams {
                eps_scaling: Some(bad),
                ..Default::default()
            },
            None,
            |_| Control::Continue,
        );
        assert!(matches!(r, Err(Error::Param(_))));
    }
}

#[test]
fn sns_on_digit_images_w2_and_w1() {
    // W2: the paper's recipe (N1 = 20) works as is.
    let w2 = instances::image_pair(
        &datasets::digit_image(0).unwrap(),
        &datasets::digit_image(1).unwrap(),
        8,
        8,
        2,
    )
    .unwrap()
    .problem(1.0 / 1200.0)
    .unwrap();
    let rep = sns(&w2, &SnsParams::default(), |_| Control::Continue).unwrap();
    let dense = newton_dense(&w2, &SnsParams::default(), |_| Control::Continue).unwrap();
    assert!(rep.converged && dense.converged);
    assert!((rep.cost - dense.cost).abs() < 1e-8 * dense.cost);
    // Zero-mass pixels were dropped and come back as zero rows.
    let blank = (0..64)
        .find(|&k| w2.rows().binary_search(&k).is_err())
        .unwrap();
    assert!(rep.plan.row(blank).iter().all(|v| *v == 0.0));
    // W1 (non-unique LP solution): needs the shift μ‖g‖ (SSNS-style).
    let w1 = instances::image_pair(
        &datasets::digit_image(0).unwrap(),
        &datasets::digit_image(1).unwrap(),
        8,
        8,
        1,
    )
    .unwrap()
    .problem(1.0 / 1200.0)
    .unwrap();
    let rep = sns(
        &w1,
        &SnsParams {
            shift_mu: 1.0,
            ..Default::default()
        },
        |_| Control::Continue,
    )
    .unwrap();
    let plain = sinkhorn(&w1, &SinkhornParams::default(), None, |_| Control::Continue).unwrap();
    assert!(rep.converged && rep.newton_iterations < 100);
    assert!((rep.cost - plain.cost).abs() < 1e-8 * plain.cost);
}

#[test]
fn automatic_switch_stays_with_sinkhorn_while_it_contracts() {
    let (r, c) = random_assignment(100, 4);
    let p = OtProblem::new(r.as_ref(), r.as_ref(), c.as_ref(), 0.05).unwrap();
    let base = SnsParams {
        sinkhorn_iters: 3,
        ..Default::default()
    };
    let fixed = sns(&p, &base, |_| Control::Continue).unwrap();
    assert!(fixed.newton_iterations > 0);
    let auto = sns(
        &p,
        &SnsParams {
            switch_ratio: Some(0.9),
            ..base
        },
        |_| Control::Continue,
    )
    .unwrap();
    assert!(auto.converged);
    // Sinkhorn contracts by far more than 0.9 per sweep at ε = 0.05, so it
    // finishes the job on its own.
    assert_eq!(auto.newton_iterations, 0);
    assert!((auto.cost - fixed.cost).abs() < 1e-8 * fixed.cost);
    let bad = sns(
        &p,
        &SnsParams {
            switch_ratio: Some(1.5),
            ..base
        },
        |_| Control::Continue,
    );
    assert!(matches!(bad, Err(Error::Param(_))));
}

#[test]
fn sparse_plan_keeps_exactly_the_entries_above_the_threshold() {
    let p = hash_problem(40);
    let rep = sns(&p, &SnsParams::default(), |_| Control::Continue).unwrap();
    let t = 1e-6;
    let sp = rep.sparse_plan(t).unwrap();
    let dense_count = (0..40)
        .map(|j| rep.plan.col(j).iter().filter(|v| **v > t).count())
        .sum::<usize>();
    assert_eq!(sp.compute_nnz(), dense_count);
    let back = sp.to_dense();
    for j in 0..40 {
        for i in 0..40 {
            let v = rep.plan[(i, j)];
            assert_eq!(back[(i, j)], if v > t { v } else { 0.0 });
        }
    }
    assert!(rep.sparse_plan(f64::NAN).is_err());
}
