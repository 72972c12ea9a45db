//! Lanczos extremes against faer's dense eigensolver on a matrix with a
//! known spectrum (ten outliers 20, 18, …, 2 over a bulk on [−0.5, 1]),
//! and against PyHessian's deflated power iteration in products.

use hessian_tools::{EigParams, PowerParams, Which, extremes, power_deflated};
use linalg_core::faer::{Mat, Side};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

fn matrix(n: usize) -> Mat<f64> {
    let lambda: Vec<f64> = (0..n)
        .map(|j| {
            if j < 10 {
                20.0 - 2.0 * j as f64
            } else {
                -0.5 + 1.5 * j as f64 / n as f64
            }
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(5);
    let g = Mat::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let u = g.qr().compute_thin_Q();
    let ul = Mat::from_fn(n, n, |i, j| u[(i, j)] * lambda[j]);
    let a = &ul * u.transpose();
    Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]))
}

#[test]
fn lanczos_top_ten_match_the_dense_solver_with_a_third_of_the_power_products() {
    let a = matrix(500);
    let mut dense = a.self_adjoint_eigenvalues(Side::Lower).unwrap();
    dense.reverse();
    let top = extremes(&a, &EigParams::new(10).max_steps(45).tol(0.0)).unwrap();
    for (i, &want) in dense.iter().take(10).enumerate() {
        let rel = (top.values[i] - want).abs() / want.abs();
        assert!(rel <= 1e-8, "{i}: {} vs {want} ({rel:e})", top.values[i]);
        assert!(
            top.residuals[i] <= 1e-8,
            "{i}: residual {:e}",
            top.residuals[i]
        );
    }
    // The residual is the true one: ‖Au − θu‖ for the returned vectors.
    for i in 0..10 {
        let u = top.vectors.col(i);
        let r = &a * u - u * top.values[i];
        assert!(r.norm_l2() <= 1e-8 + 10.0 * top.residuals[i]);
    }
    let (power, power_mv) = power_deflated(&a, &PowerParams::new(10)).unwrap();
    let worst = (0..10)
        .map(|i| (power[i] - dense[i]).abs() / dense[i])
        .fold(0.0, f64::max);
    println!(
        "Lanczos: {} products, power (PyHessian defaults): {power_mv} products, worst rel. error {worst:.1e}",
        top.matvecs
    );
    assert!(3 * top.matvecs <= power_mv, "{} vs {power_mv}", top.matvecs);
    // The smallest end is kept apart from the largest magnitude.
    let low = extremes(
        &a,
        &EigParams::new(1)
            .which(Which::SmallestAlgebraic)
            .seed(1)
            .tol(0.0),
    )
    .unwrap();
    let mag = extremes(
        &a,
        &EigParams::new(1)
            .which(Which::LargestMagnitude)
            .max_steps(60)
            .seed(1)
            .tol(0.0),
    )
    .unwrap();
    assert!(
        (low.values[0] - dense[499]).abs() < 1e-6,
        "{} vs {}",
        low.values[0],
        dense[499]
    );
    assert!((mag.values[0] - 20.0).abs() < 1e-8);
    assert!(extremes(&a, &EigParams::new(501).max_steps(600)).is_err());
    assert!(extremes(&Mat::<f64>::zeros(3, 4), &EigParams::new(1).max_steps(3)).is_err());
}

/// The setup: a 5 070-parameter MLP (64–44–40–10, tanh, softmax
/// cross-entropy) trained briefly on all 1 797 digits; Lanczos with early
/// stopping against faer's dense eigendecomposition of the assembled
/// Hessian, and against PyHessian's deflated power iteration at its
/// defaults, both ours, side by side.
#[test]
fn lanczos_on_a_digits_mlp_matches_the_dense_hessian() {
    use hessian_tools::{Activation, CurvatureKind, Loss, Mlp, MlpLoss, TrainParams, train};
    let data = datasets::digits();
    let x = linalg_core::faer::Mat::from_fn(data.features.nrows(), 64, |i, j| {
        data.features[(i, j)] / 16.0
    });
    let mlp = Mlp::new(&[64, 44, 40, 10], Activation::Tanh, true).unwrap();
    assert_eq!(mlp.n_params(), 5070);
    let obj =
        MlpLoss::classification(mlp.clone(), Loss::CrossEntropy, x.as_ref(), &data.labels).unwrap();
    let mut theta = mlp.init(3);
    let params = TrainParams::default()
        .lr(0.1)
        .momentum(0.9)
        .batch(64)
        .epochs(5)
        .seed(4);
    train(&obj, &mut theta, &params, |_| {
        linalg_core::Control::Continue
    })
    .unwrap();
    let h = obj
        .curvature(theta.as_ref(), CurvatureKind::Hessian)
        .unwrap();
    let t0 = std::time::Instant::now();
    let top = extremes(&h, &EigParams::new(10).tol(1e-10)).unwrap();
    let t_lanczos = t0.elapsed().as_secs_f64();
    let t0 = std::time::Instant::now();
    let (power, power_mv) = power_deflated(&h, &PowerParams::new(10)).unwrap();
    let t_power = t0.elapsed().as_secs_f64();
    let t0 = std::time::Instant::now();
    let (dense, asym) =
        hessian_tools::assemble(&h, linalg_core::faer::get_global_parallelism()).unwrap();
    let exact = hessian_tools::eigenvalues(&dense).unwrap();
    let t_dense = t0.elapsed().as_secs_f64();
    let worst_power = (0..10)
        .map(|i| (power[i] - exact[i]).abs() / exact[i].abs())
        .fold(0.0, f64::max);
    println!(
        "digits MLP: Lanczos {} products ({t_lanczos:.2} s), power {power_mv} ({t_power:.2} s, worst rel. error {worst_power:.1e}), dense {t_dense:.1} s, asymmetry {asym:.1e}",
        top.matvecs
    );
    for (i, &want) in exact.iter().take(10).enumerate() {
        let rel = (top.values[i] - want).abs() / want.abs();
        println!(
            "  λ{}: {:.12} (dense {:.12}), rel {rel:.1e}, residual {:.1e}",
            i + 1,
            top.values[i],
            want,
            top.residuals[i]
        );
        // The true residual of the returned vector, not only the bound.
        let u = top.vectors.col(i);
        let hu = linalg_core::op::apply(&h, u);
        let true_res = (&hu - u * top.values[i]).norm_l2();
        assert!(true_res <= 1e-8, "λ{}: true residual {true_res:e}", i + 1);
        assert!(rel <= 1e-8, "λ{}: {rel:e}", i + 1);
        assert!(
            top.residuals[i] <= 1e-8,
            "λ{}: residual {:e}",
            i + 1,
            top.residuals[i]
        );
    }
    assert!(3 * top.matvecs <= power_mv, "{} vs {power_mv}", top.matvecs);

    // faer's Krylov–Schur (largest magnitude only) on the same operator,
    // its products counted: the measurement behind using our own Lanczos.
    use linalg_core::faer::dyn_stack::{MemBuffer, MemStack};
    use linalg_core::faer::matrix_free::eigen::{
        PartialEigenParams, partial_self_adjoint_eigen, partial_self_adjoint_eigen_scratch,
    };
    let count = std::sync::atomic::AtomicUsize::new(0);
    let n = obj.mlp().n_params();
    let counted = linalg_core::op::FnOp::new(
        n,
        |mut out: linalg_core::faer::ColMut<'_, f64>, x: linalg_core::faer::ColRef<'_, f64>| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.copy_from(linalg_core::op::apply(&h, x));
        },
    );
    let params = PartialEigenParams::default();
    let par = linalg_core::faer::Par::Seq;
    let mut buf = MemBuffer::new(partial_self_adjoint_eigen_scratch(
        &counted, 10, par, params,
    ));
    let mut vecs = linalg_core::faer::Mat::<f64>::zeros(n, 10);
    let mut vals = vec![0.0; 10];
    let v0 = linalg_core::faer::Col::<f64>::from_fn(n, |i| 1.0 + (i % 7) as f64);
    let info = partial_self_adjoint_eigen(
        vecs.as_mut(),
        &mut vals,
        &counted,
        v0.as_ref(),
        1e-10,
        par,
        MemStack::new(&mut buf),
        params,
    );
    let ks = count.load(std::sync::atomic::Ordering::Relaxed);
    let mut ksv: Vec<f64> = vals.clone();
    ksv.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
    let worst_ks = (0..10)
        .map(|i| (ksv[i].abs() - exact[i].abs()).abs() / exact[i].abs())
        .fold(0.0, f64::max);
    println!(
        "faer Krylov–Schur: {ks} products, {} converged, worst rel. error {worst_ks:.1e} (our Lanczos: {})",
        info.n_converged_eigen, top.matvecs
    );
    assert!(
        worst_ks < 1e-8 && top.matvecs <= ks,
        "{ks} vs {}",
        top.matvecs
    );
}
