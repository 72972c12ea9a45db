//! Scenes, the stencil operator and every solver against independent references.

use deep_cg::*;
use linalg_core::faer::prelude::Solve;
use linalg_core::faer::sparse::{SparseColMat, Triplet};
use linalg_core::faer::{Col, ColRef, Mat, Par, Side};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn to_vec(c: &Col<f64>) -> Vec<f64> {
    c.iter().copied().collect()
}

fn random_vec(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

#[test]
fn stencil_equals_assembled_csr_exactly_on_every_scene() {
    for n in [8, 16] {
        for scene in Scene::ALL {
            let sys = PoissonSystem::new(scene.build(n, 3).unwrap());
            let a = sys.to_csr().unwrap();
            assert_eq!(a.val().len(), sys.nnz());
            // Non-zero entries on non-fluid cells too: the zero columns must ignore them.
            let x = random_vec(sys.len(), 9);
            let xc = Col::from_fn(sys.len(), |i| x[i]);
            let reference = &a * &xc;
            for par in [Par::Seq, Par::rayon(2)] {
                let mut y = vec![0.0; sys.len()];
                sys.apply_slices(&mut y, &x, par);
                for (i, v) in y.iter().enumerate() {
                    assert_eq!(*v, reference[i], "{} n={n} row {i}", scene.name());
                }
            }
            // Symmetric, with zero rows exactly on non-fluid cells.
            let d = a.to_dense();
            assert_eq!((&d - d.transpose()).norm_max(), 0.0);
            for c in 0..sys.len() {
                let fluid = sys.grid().cells()[c] == CellKind::Fluid;
                if !fluid {
                    assert_eq!(d.row(c).norm_max(), 0.0);
                }
            }
        }
    }
}

#[test]
fn box_equals_the_textbook_7_point_dirichlet_matrix() {
    let n = 8;
    let sys = PoissonSystem::new(Scene::Box.build(n, 0).unwrap());
    let a = sys.to_csr().unwrap().to_dense();
    let idx = |i: usize, j: usize, k: usize| i + n * (j + n * k);
    let mut t = Mat::<f64>::zeros(n * n * n, n * n * n);
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                let c = idx(i, j, k);
                t[(c, c)] = 6.0;
                if i > 0 {
                    t[(c, idx(i - 1, j, k))] = -1.0;
                }
                if i + 1 < n {
                    t[(c, idx(i + 1, j, k))] = -1.0;
                }
                if j > 0 {
                    t[(c, idx(i, j - 1, k))] = -1.0;
                }
                if j + 1 < n {
                    t[(c, idx(i, j + 1, k))] = -1.0;
                }
                if k > 0 {
                    t[(c, idx(i, j, k - 1))] = -1.0;
                }
                if k + 1 < n {
                    t[(c, idx(i, j, k + 1))] = -1.0;
                }
            }
        }
    }
    assert_eq!((a - t).norm_max(), 0.0);
    assert!(!sys.regions().any_singular());
}

/// Reference solution by a sparse direct solve: drop non-fluid cells and one
/// cell per singular region (value 0 there), Cholesky the rest (faer), then
/// fix the gauge to zero mean per singular region.
fn direct_solve(sys: &PoissonSystem, b: &[f64]) -> Vec<f64> {
    let regions = sys.regions();
    let mut keep = vec![false; sys.len()];
    let mut seen = vec![false; regions.count()];
    for (k, &r) in keep.iter_mut().zip(&regions.id) {
        if r == u32::MAX {
            continue;
        }
        let r = r as usize;
        if regions.singular[r] && !seen[r] {
            seen[r] = true; // pinned: x = 0
            continue;
        }
        *k = true;
    }
    let kept: Vec<usize> = (0..sys.len()).filter(|&c| keep[c]).collect();
    let mut pos = vec![usize::MAX; sys.len()];
    for (p, &c) in kept.iter().enumerate() {
        pos[c] = p;
    }
    let a = sys.to_csr().unwrap();
    let ar = a.as_ref();
    let mut t = Vec::new();
    for (p, &c) in kept.iter().enumerate() {
        for (&j, &v) in ar.col_idx_of_row_raw(c).iter().zip(ar.val_of_row(c)) {
            if keep[j] {
                t.push(Triplet::new(p, pos[j], v));
            }
        }
    }
    let m = kept.len();
    let mat = SparseColMat::<usize, f64>::try_new_from_triplets(m, m, &t).unwrap();
    let llt = mat.sp_cholesky(Side::Lower).unwrap();
    let mut bp = b.to_vec();
    regions.project(&mut bp);
    let rhs = Col::from_fn(m, |p| bp[kept[p]]);
    let sol = llt.solve(&rhs);
    let mut x = vec![0.0; sys.len()];
    for (p, &c) in kept.iter().enumerate() {
        x[c] = sol[p];
    }
    regions.project(&mut x);
    x
}

#[test]
fn every_solver_matches_a_sparse_direct_solve_on_16_cubed_scenes() {
    for scene in Scene::ALL {
        let sys = PoissonSystem::new(scene.build(16, 5).unwrap());
        let b = sys.divergence_rhs(6);
        let reference = direct_solve(&sys, &to_vec(&b));
        let rnorm = reference.iter().map(|v| v * v).sum::<f64>().sqrt();
        for method in Method::ALL {
            let rep = solve(
                &sys,
                b.as_ref(),
                &SolveParams::new(method).rtol(1e-11),
                |_| Control::Continue,
            )
            .unwrap();
            assert!(rep.converged, "{} {}", scene.name(), method.name());
            assert!(
                !rep.projected,
                "the divergence right-hand side is compatible"
            );
            let err = rep
                .x
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                / rnorm;
            assert!(
                err < 1e-6,
                "{} {}: relative error {err:e}",
                scene.name(),
                method.name()
            );
            assert!(rep.relative_residual < 1e-10);
            assert_eq!(rep.history.len(), rep.iterations + 1);
        }
    }
}

fn mg_iterations(scene: Scene, n: usize) -> usize {
    let sys = PoissonSystem::new(scene.build(n, 0).unwrap());
    let b = sys.divergence_rhs(1);
    let rep = solve(
        &sys,
        b.as_ref(),
        &SolveParams::new(Method::MgPcg).rtol(1e-8),
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.converged && rep.relative_residual < 1e-8);
    rep.iterations
}

#[test]
fn multigrid_iterations_are_nearly_grid_independent() {
    for (scene, cap) in [(Scene::Box, 25), (Scene::SmokePlume, 40)] {
        let (i16, i32) = (mg_iterations(scene, 16), mg_iterations(scene, 32));
        assert!(
            i32 as f64 <= 1.3 * i16 as f64,
            "{}: {i16} → {i32}",
            scene.name()
        );
        assert!(i32 <= cap);
    }
}

#[test]
fn multigrid_meets_the_64_cubed_targets() {
    // Acceptance: box ≤ 25 and smoke-plume ≤ 40 iterations at rtol 1e-8 on 64³.
    assert!(mg_iterations(Scene::Box, 64) <= 25);
    assert!(mg_iterations(Scene::SmokePlume, 64) <= 40);
}

#[test]
fn the_multigrid_preconditioner_is_symmetric_positive_definite() {
    use linalg_core::faer::matrix_free::LinOp;
    let sys = PoissonSystem::new(Scene::Mixed.build(8, 2).unwrap());
    let mg = Multigrid::new(&sys, MultigridParams::default());
    let m = linalg_core::op::to_dense(&mg);
    assert!((&m - m.transpose()).norm_max() < 1e-12 * m.norm_max());
    // Positive on the fluid cells (it is zero on the others).
    let fluid: Vec<usize> = (0..sys.len())
        .filter(|&c| sys.regions().id[c] != u32::MAX)
        .collect();
    let sub = Mat::from_fn(fluid.len(), fluid.len(), |i, j| m[(fluid[i], fluid[j])]);
    let ev = sub.self_adjoint_eigen(Side::Lower).unwrap();
    let min = ev
        .S()
        .column_vector()
        .iter()
        .fold(f64::INFINITY, |a, b| a.min(*b));
    assert!(min > 0.0, "smallest eigenvalue {min}");
    assert_eq!(mg.nrows(), 512);
}

#[test]
fn regions_gauge_and_compatibility() {
    let plume = PoissonSystem::new(Scene::SmokePlume.build(8, 0).unwrap());
    assert_eq!(plume.regions().count(), 1);
    assert!(plume.regions().singular[0]);
    assert_eq!(plume.grid().fluid_count(), 6 * 6 * 6);
    let mixed = PoissonSystem::new(Scene::Mixed.build(16, 0).unwrap());
    assert!(!mixed.regions().any_singular());
    // The divergence of a wall-respecting velocity field is compatible.
    for scene in Scene::ALL {
        let sys = PoissonSystem::new(scene.build(16, 1).unwrap());
        let mut b = to_vec(&sys.divergence_rhs(4));
        let total: f64 = b.iter().map(|v| v.abs()).sum();
        assert!(
            sys.regions().project(&mut b) < 1e-12 * total,
            "{}",
            scene.name()
        );
        // random_rhs is projected already.
        let mut r = to_vec(&sys.random_rhs(2));
        assert!(sys.regions().project(&mut r) < 1e-12);
    }
    // An inconsistent right-hand side on a Neumann scene is projected and reported.
    let ones = vec![1.0; plume.len()];
    let rep = solve(
        &plume,
        ColRef::from_slice(&ones),
        &SolveParams::new(Method::MgPcg),
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.projected && rep.converged);
    // Every entry of `ones` is removed (fluid cells: the mean; others: zeroed).
    assert!(
        (rep.inconsistency - 1.0).abs() < 1e-12,
        "{}",
        rep.inconsistency
    );
    let mean: f64 = rep.x.iter().sum::<f64>() / 216.0;
    assert!(mean.abs() < 1e-12, "gauge: zero mean");
}

#[test]
fn bad_input_is_rejected_with_the_reason() {
    for n in [0, 2, 3] {
        match Scene::Box.build(n, 0) {
            Err(Error::GridSize { reason, .. }) => {
                assert!(reason.contains("at least 4"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
    match Scene::SmokePlume.build(12, 0) {
        Err(e @ Error::GridSize { .. }) => assert!(e.to_string().contains("power of two")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Scene::Box.build(1024, 0),
        Err(Error::GridSize { .. })
    ));
    let sys = PoissonSystem::new(Scene::Box.build(4, 0).unwrap());
    assert!(matches!(
        solve(
            &sys,
            ColRef::from_slice(&[1.0; 10]),
            &SolveParams::new(Method::Cg),
            |_| Control::Continue
        ),
        Err(Error::Core(linalg_core::Error::DimensionMismatch {
            expected: 64,
            found: 10,
            ..
        }))
    ));
    let mut b = vec![1.0; 64];
    b[3] = f64::NAN;
    assert!(matches!(
        solve(
            &sys,
            ColRef::from_slice(&b),
            &SolveParams::new(Method::Cg),
            |_| Control::Continue
        ),
        Err(Error::Core(linalg_core::Error::NonFinite { index: 3, .. }))
    ));
    assert!(matches!(
        solve(
            &sys,
            ColRef::from_slice(&[1.0; 64]),
            &SolveParams::new(Method::Cg).rtol(2.0),
            |_| Control::Continue
        ),
        Err(Error::Param(ParamError { name: "rtol", .. }))
    ));
    assert!(matches!(
        Scene::from_name("teapot"),
        Err(Error::Param(ParamError { name: "scene", .. }))
    ));
    assert!(matches!(
        Method::from_name("amg"),
        Err(Error::Param(ParamError { name: "method", .. }))
    ));
    assert_eq!(Scene::from_name("smoke-plume").unwrap(), Scene::SmokePlume);
    assert_eq!(Method::from_name("mg-pcg").unwrap().name(), "mg-pcg");
}

#[test]
fn projection_with_many_regions_matches_a_direct_computation() {
    // 48 two-cell fluid regions (more than `project` keeps on the stack):
    // runs x ∈ {0,1}, {3,4}, {6,7} on every even (y, z); an AIR cell at
    // y = 1 under each y = 0 run makes the 24 runs at y = 0 and y = 2
    // non-singular.
    let n = 8;
    let idx = |i: usize, j: usize, k: usize| i + n * (j + n * k);
    let mut cells = vec![CellKind::Solid; n * n * n];
    let mut pairs = Vec::new();
    for k in (0..n).step_by(2) {
        for j in (0..n).step_by(2) {
            for i0 in [0, 3, 6] {
                cells[idx(i0, j, k)] = CellKind::Fluid;
                cells[idx(i0 + 1, j, k)] = CellKind::Fluid;
                pairs.push((idx(i0, j, k), idx(i0 + 1, j, k), j <= 2));
                if j == 0 {
                    cells[idx(i0, 1, k)] = CellKind::Air;
                }
            }
        }
    }
    let grid = Grid::new(n, cells, CellKind::Solid).unwrap();
    let regions = Regions::find(&grid);
    assert_eq!(regions.count(), 48);
    assert_eq!(regions.singular.iter().filter(|s| **s).count(), 24);
    let mut rng = StdRng::seed_from_u64(3);
    let v: Vec<f64> = (0..n * n * n).map(|_| rng.random::<f64>() - 0.3).collect();
    let mut expected = vec![0.0; v.len()];
    for &(a, b, touches_air) in &pairs {
        let m = if touches_air {
            0.0
        } else {
            0.5 * (v[a] + v[b])
        };
        expected[a] = v[a] - m;
        expected[b] = v[b] - m;
    }
    let removed_expected = v
        .iter()
        .zip(&expected)
        .map(|(x, e)| (x - e) * (x - e))
        .sum::<f64>()
        .sqrt();
    let mut w = v.clone();
    let removed = regions.project(&mut w);
    for (c, (got, want)) in w.iter().zip(&expected).enumerate() {
        assert!((got - want).abs() < 1e-14, "cell {c}: {got} vs {want}");
    }
    assert!((removed - removed_expected).abs() < 1e-12 * removed_expected);
}

/// The matrix of `sys` as dense rows over all cells (small grids only).
fn dense_of(sys: &PoissonSystem) -> Vec<Vec<f64>> {
    let a = sys.to_csr().unwrap();
    let a = a.as_ref();
    let len = sys.len();
    (0..len)
        .map(|i| {
            let mut row = vec![0.0; len];
            for (&j, &v) in a.col_idx_of_row_raw(i).iter().zip(a.val_of_row(i)) {
                row[j] = v;
            }
            row
        })
        .collect()
}

/// The pinned cell of each singular region: the last one in index order.
fn pinned_cells(sys: &PoissonSystem) -> Vec<usize> {
    let r = sys.regions();
    let mut last = vec![usize::MAX; r.count()];
    for c in 0..sys.len() {
        let id = r.id[c];
        if id != u32::MAX && r.singular[id as usize] {
            last[id as usize] = c;
        }
    }
    last.into_iter().filter(|c| *c != usize::MAX).collect()
}

#[test]
fn mic0_with_tau_0_is_ic0_and_with_tau_1_keeps_row_sums() {
    for scene in [Scene::Box, Scene::Mixed, Scene::Bunny] {
        let sys = PoissonSystem::new(scene.build(8, 3).unwrap());
        let a = dense_of(&sys);
        let pinned = pinned_cells(&sys);
        let len = sys.len();
        let fluid: Vec<usize> = (0..len)
            .filter(|&c| sys.regions().id[c] != u32::MAX)
            .collect();
        // τ = 0: L Lᵀ equals A on A's pattern (IC(0)), the pinned diagonals doubled.
        let ic = Mic0::new(
            &sys,
            MicParams {
                tau: 0.0,
                sigma: 0.0,
            },
        )
        .unwrap();
        for &c in fluid.iter().step_by(7) {
            let mut e = vec![0.0; len];
            e[c] = 1.0;
            let col = ic.apply_m(&e);
            for &r in &fluid {
                let mut want = a[r][c];
                if r == c && pinned.contains(&c) {
                    want *= 2.0;
                }
                if a[r][c] != 0.0 || r == c {
                    assert!(
                        (col[r] - want).abs() <= 1e-12 * a[c][c].abs().max(1.0),
                        "{scene:?}: (LLᵀ)[{r},{c}] = {} against {want}",
                        col[r]
                    );
                }
            }
        }
        // τ = 1, no safeguard: M·1 = A·1 (pinned diagonals doubled) on every
        // fluid cell: the dropped fill-in went back to the diagonal.
        let mic = Mic0::new(
            &sys,
            MicParams {
                tau: 1.0,
                sigma: 0.0,
            },
        )
        .unwrap();
        let ones: Vec<f64> = (0..len)
            .map(|c| {
                if sys.regions().id[c] != u32::MAX {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let m1 = mic.apply_m(&ones);
        for &c in &fluid {
            let mut want: f64 = (0..len).map(|j| a[c][j] * ones[j]).sum();
            if pinned.contains(&c) {
                want += a[c][c];
            }
            assert!(
                (m1[c] - want).abs() <= 1e-9 * a[c][c].abs().max(1.0),
                "{scene:?}: row sum at {c}: {} vs {want}",
                m1[c]
            );
        }
        // apply is M⁻¹ (then projected): apply(M x) = Πx.
        let mic = Mic0::new(&sys, MicParams::default()).unwrap();
        let mut x = random_vec(len, 9);
        sys.regions().project(&mut x);
        let mx = mic.apply_m(&x);
        let mut z = vec![0.0; len];
        mic.apply(&mut z, &mx, &sys);
        let err = z
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let scale = x.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(err <= 1e-10 * scale, "{scene:?}: M⁻¹M x − x = {err:e}");
    }
    assert!(
        MicParams {
            tau: 1.5,
            sigma: 0.25
        }
        .validate()
        .is_err()
    );
    assert!(
        MicParams {
            tau: f64::NAN,
            sigma: 0.25
        }
        .validate()
        .is_err()
    );
}

#[test]
fn mic0_pcg_needs_fewer_iterations_than_ic0_pcg_on_every_scene() {
    for scene in Scene::ALL {
        let sys = PoissonSystem::new(scene.build(32, 1).unwrap());
        let b = sys.divergence_rhs(2);
        let run = |m| {
            solve(&sys, b.as_ref(), &SolveParams::new(m).rtol(1e-8), |_| {
                Control::Continue
            })
            .unwrap()
        };
        let (ic, mic) = (run(Method::Ic0Pcg), run(Method::Mic0Pcg));
        assert!(mic.converged && mic.relative_residual <= 1e-8, "{scene:?}");
        assert!(
            (mic.iterations as f64) <= 0.8 * ic.iterations as f64,
            "{scene:?}: MIC(0) {} vs IC(0) {}",
            mic.iterations,
            ic.iterations
        );
    }
}
