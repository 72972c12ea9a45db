//! The DCDM loop: identity model = CG, exact inverse = one step, any
//! preconditioner as the model, residual modes, singular scenes, bad input.

use deep_cg::*;
use linalg_core::faer::linalg::solvers::Solve;
use linalg_core::faer::{Col, Mat, Par, Side};

/// Textbook CG iterates x_1..x_k (independent of the loop under test).
fn cg_iterates(sys: &PoissonSystem, b: &[f64], k: usize) -> Vec<Vec<f64>> {
    let n = b.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let (mut x, mut r, mut p) = (vec![0.0; n], b.to_vec(), b.to_vec());
    let mut ap = vec![0.0; n];
    let mut out = Vec::new();
    for _ in 0..k {
        sys.apply_slices(&mut ap, &p, Par::Seq);
        let rr = dot(&r, &r);
        let alpha = rr / dot(&p, &ap);
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
        }
        let beta = dot(&r, &r) / rr;
        for i in 0..n {
            p[i] = r[i] + beta * p[i];
        }
        out.push(x.clone());
    }
    out
}

fn projected_rhs(sys: &PoissonSystem, seed: u64) -> Vec<f64> {
    let mut b: Vec<f64> = sys.random_rhs(seed).iter().copied().collect();
    sys.regions().project(&mut b);
    b
}

#[test]
fn identity_model_reproduces_cg_iterates() {
    for scene in [Scene::Box, Scene::SmokePlume] {
        let sys = PoissonSystem::new(scene.build(16, 1).unwrap());
        let b = projected_rhs(&sys, 2);
        let want = cg_iterates(&sys, &b, 20);
        let bcol = Col::from_fn(b.len(), |i| b[i]);
        for (k, w) in want.iter().enumerate() {
            let rep = dcdm(
                &sys,
                bcol.as_ref(),
                &mut IdentityModel,
                &DcdmParams {
                    max_iters: k + 1,
                    rtol: 1e-300,
                    par: Par::Seq,
                    ..Default::default()
                },
                |_| Control::Continue,
            )
            .unwrap();
            // The report fixes the gauge (zero mean on singular regions); so
            // does projecting the CG iterate.
            let mut w = w.clone();
            sys.regions().project(&mut w);
            let diff: f64 = rep
                .x
                .iter()
                .zip(&w)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            let norm: f64 = w.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(
                diff <= 1e-8 * norm,
                "{}: iterate {} differs from CG by {:e}",
                scene.name(),
                k + 1,
                diff / norm
            );
        }
    }
}

#[test]
fn exact_inverse_converges_in_one_iteration() {
    // Box 8³ is nonsingular: the model is a dense Cholesky solve of A.
    let sys = PoissonSystem::new(Scene::Box.build(8, 0).unwrap());
    let n = sys.len();
    let csr = sys.to_csr().unwrap();
    let dense = Mat::from_fn(n, n, |i, j| {
        let row = csr.as_ref();
        let (cols, vals) = (row.col_idx_of_row(i), row.val_of_row(i));
        cols.zip(vals)
            .find(|(c, _)| *c == j)
            .map(|(_, v)| *v)
            .unwrap_or(0.0)
    });
    let llt = dense.llt(Side::Lower).unwrap();
    let mut model = FnModel::new("exact inverse", |r: &[f64], out: &mut [f64]| {
        let x = llt.solve(Col::from_fn(r.len(), |i| r[i]));
        for (o, v) in out.iter_mut().zip(x.iter()) {
            // Any scale: the loop must not care.
            *o = 3.5 * v;
        }
    });
    let b = sys.random_rhs(5);
    let rep = dcdm(&sys, b.as_ref(), &mut model, &DcdmParams::default(), |_| {
        Control::Continue
    })
    .unwrap();
    assert_eq!(rep.iterations, 1);
    assert!(rep.relative_residual < 1e-12, "{:e}", rep.relative_residual);
}

#[test]
fn a_preconditioner_as_the_model_and_both_residual_modes() {
    // The multigrid V-cycle as the direction model on a singular scene.
    let sys = PoissonSystem::new(Scene::Sphere.build(32, 3).unwrap());
    let mg = Multigrid::new(&sys, MultigridParams::default());
    let mut work = vec![0.0; mg.scratch_len()];
    let mut model = FnModel::new("multigrid", |r: &[f64], out: &mut [f64]| {
        mg.vcycle(out, r, &mut work)
    });
    let b = sys.divergence_rhs(4);
    let base = DcdmParams {
        rtol: 1e-8,
        ..Default::default()
    };
    let rec = dcdm(&sys, b.as_ref(), &mut model, &base, |_| Control::Continue).unwrap();
    assert!(rec.converged && rec.relative_residual < 1e-8);
    // One timestamp per history entry, monotone, the last within the solve time.
    assert_eq!(rec.history.len(), rec.iterations + 1);
    assert!(rec.history.windows(2).all(|w| w[0].seconds <= w[1].seconds));
    assert!(rec.history.last().unwrap().seconds <= rec.seconds);
    let upd = dcdm(
        &sys,
        b.as_ref(),
        &mut model,
        &DcdmParams {
            residual: ResidualMode::Update { refresh_every: 10 },
            ..base
        },
        |_| Control::Continue,
    )
    .unwrap();
    assert!(upd.converged && upd.relative_residual < 2e-8);
    assert!(upd.iterations <= rec.iterations + 2);
    // Same answer as MG-PCG.
    let pcg = solve(
        &sys,
        b.as_ref(),
        &SolveParams::new(Method::MgPcg).rtol(1e-10),
        |_| Control::Continue,
    )
    .unwrap();
    let diff = (&rec.x - &pcg.x).norm_l2() / pcg.x.norm_l2();
    assert!(diff < 1e-6, "{diff:e}");
}

#[test]
fn bad_input_is_rejected() {
    let sys = PoissonSystem::new(Scene::Box.build(8, 0).unwrap());
    let b = sys.random_rhs(1);
    let run = |p: DcdmParams| {
        dcdm(&sys, b.as_ref(), &mut IdentityModel, &p, |_| {
            Control::Continue
        })
    };
    for p in [
        DcdmParams {
            k: 0,
            ..Default::default()
        },
        DcdmParams {
            rtol: 0.0,
            ..Default::default()
        },
        DcdmParams {
            residual: ResidualMode::Update { refresh_every: 0 },
            ..Default::default()
        },
    ] {
        assert!(matches!(run(p), Err(Error::Param(_))));
    }
    let short = Col::<f64>::zeros(7);
    assert!(
        dcdm(
            &sys,
            short.as_ref(),
            &mut IdentityModel,
            &DcdmParams::default(),
            |_| Control::Continue
        )
        .is_err()
    );
    let mut nan = FnModel::new("nan", |_: &[f64], out: &mut [f64]| out.fill(f64::NAN));
    let e = dcdm(&sys, b.as_ref(), &mut nan, &DcdmParams::default(), |_| {
        Control::Continue
    })
    .unwrap_err();
    assert!(e.to_string().contains("non-finite"), "{e}");
    // A model whose directions lie in the null space (zero after projection).
    let mut zero = FnModel::new("zero", |_: &[f64], out: &mut [f64]| out.fill(0.0));
    assert!(
        dcdm(&sys, b.as_ref(), &mut zero, &DcdmParams::default(), |_| {
            Control::Continue
        })
        .is_err()
    );
}
