//! The deterministic penalty method against closed forms, finite
//! differences and known optima.

use bilevel_penalty::instances::{BomeToy, Quadratic, ShenChen};
use bilevel_penalty::*;
use linalg_core::faer::{Col, ColMut, ColRef};
use rand::{RngExt, SeedableRng, rngs::StdRng};

fn tight() -> InnerParams {
    InnerParams::default().tol(1e-10)
}

#[test]
fn psi_sigma_and_its_first_order_gradient_match_the_closed_form_and_finite_differences() {
    let q = Quadratic::random(4, 6, 0.1, 3).unwrap();
    let x = Col::from_fn(4, |i| 0.3 * i as f64 - 0.4);
    for sigma in [1e-1, 1e-2, 1e-3] {
        let (v, g) = psi_sigma(&q, x.as_ref(), sigma, &tight()).unwrap();
        let exact = q.psi_sigma(x.as_ref(), sigma);
        assert!(
            (v - exact).abs() < 1e-10 * exact.abs().max(1.0),
            "σ = {sigma}: {v} vs {exact}"
        );
        let ge = q.grad_psi_sigma(x.as_ref(), sigma);
        let err = (&g - &ge).norm_l2() / ge.norm_l2();
        assert!(err < 1e-8, "σ = {sigma}: relative gradient error {err:e}");
        // Central differences of the computed ψ_σ (not of the closed form).
        let h = 1e-5;
        for i in 0..4 {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp[i] += h;
            xm[i] -= h;
            let fp = psi_sigma(&q, xp.as_ref(), sigma, &tight()).unwrap().0;
            let fm = psi_sigma(&q, xm.as_ref(), sigma, &tight()).unwrap().0;
            let fd = (fp - fm) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() <= 1e-6 * g.norm_l2(),
                "σ = {sigma}, i = {i}: {fd} vs {}",
                g[i]
            );
        }
    }
}

#[test]
fn the_penalty_gap_is_first_order_in_sigma() {
    let q = Quadratic::random(3, 5, 0.05, 1).unwrap();
    let x = Col::from_fn(3, |i| 1.0 - 0.5 * i as f64);
    let psi = q.psi_sigma(x.as_ref(), 0.0);
    let sigmas = [1e-1, 1e-2, 1e-3, 1e-4];
    let gaps: Vec<f64> = sigmas
        .iter()
        .map(|&s| psi - psi_sigma(&q, x.as_ref(), s, &tight()).unwrap().0)
        .collect();
    // Least-squares slope of log(ψ − ψ_σ) against log σ.
    let (lx, ly): (Vec<f64>, Vec<f64>) = sigmas
        .iter()
        .zip(&gaps)
        .map(|(s, g)| (s.ln(), g.ln()))
        .unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / 4.0, ly.iter().sum::<f64>() / 4.0);
    let slope = lx
        .iter()
        .zip(&ly)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / lx.iter().map(|a| (a - mx).powi(2)).sum::<f64>();
    assert!((slope - 1.0).abs() < 0.02, "slope {slope}");
}

#[test]
fn the_method_finds_the_minimiser_of_psi_sigma_and_certifies_the_gap() {
    let q = Quadratic::random(5, 8, 0.1, 7).unwrap();
    let sigma = 1e-2;
    let rep = penalty(
        &q,
        Col::<f64>::zeros(5).as_ref(),
        None,
        &PenaltyParams::default()
            .sigma(sigma)
            .grad_tol(1e-9)
            .max_iters(20_000)
            .inner(tight()),
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.converged, "{:?}", rep.termination);
    let exact = q.argmin_psi_sigma(sigma);
    assert!((&rep.x - &exact).norm_l2() < 1e-8 * exact.norm_l2().max(1.0));
    assert!((rep.value - q.psi_sigma(exact.as_ref(), sigma)).abs() < 1e-12);
    // Certificate against the exact gap ½‖Ax − b‖² σ/(1+σ) (one Richardson
    // step: exact up to O(σ²) relative).
    let true_gap = q.psi_sigma(rep.x.as_ref(), 0.0) - rep.value;
    let c = rep.certificate.unwrap();
    assert!(
        (c.penalty_gap - true_gap).abs() < 0.03 * true_gap,
        "{} vs {true_gap}",
        c.penalty_gap
    );
    let true_grad_gap =
        (q.grad_psi_sigma(rep.x.as_ref(), 0.0) - q.grad_psi_sigma(rep.x.as_ref(), sigma)).norm_l2();
    assert!((c.gradient_gap - true_grad_gap).abs() < 0.03 * true_grad_gap);
    // Counts: every gradient call is in the total; the history starts at 0.
    assert_eq!(rep.work.gradient_evals, rep.calls.gradient_calls());
    assert!(rep.calls.g_grad_y > rep.calls.f_grad_y && rep.calls.f_grad_x > 0);
    assert_eq!(rep.history.len(), rep.iterations + 1);
    assert!(
        rep.history
            .windows(2)
            .all(|w| w[0].gradient_calls <= w[1].gradient_calls)
    );
}

#[test]
fn sigma_continuation_reaches_a_stationary_point_of_psi() {
    let q = Quadratic::random(4, 6, 0.1, 11).unwrap();
    let params = PenaltyParams::default()
        .sigma(1e-1)
        .sigma_min(Some(1e-6))
        .stage_tol(1e-5)
        .grad_tol(1e-7)
        .max_iters(20_000);
    let rep = penalty(&q, Col::<f64>::ones(4).as_ref(), None, &params, |_| {
        Control::Continue
    })
    .unwrap();
    assert!(
        rep.converged && rep.sigma == 1e-6,
        "{:?} at σ = {}",
        rep.termination,
        rep.sigma
    );
    let grad_psi = q.grad_psi_sigma(rep.x.as_ref(), 0.0).norm_l2();
    assert!(grad_psi <= 1e-6, "‖∇ψ‖ = {grad_psi}");
    // σ went down monotonically through the stages.
    assert!(rep.history.windows(2).all(|w| w[1].sigma <= w[0].sigma));
    assert!(
        rep.history.iter().any(|r| r.sigma == 1e-1) && rep.history.iter().any(|r| r.sigma < 1e-4)
    );
}

#[test]
fn bome_toy_with_a_non_unique_lower_level_reaches_its_optimum() {
    // ψ_σ(x) = ½(x − 1)²/(1 + σ): the optimum x* = 1 for every σ.
    let rep = penalty(
        &BomeToy,
        Col::from_fn(1, |_| -2.0).as_ref(),
        Some(Col::from_fn(2, |_| 3.0).as_ref()),
        &PenaltyParams::default().sigma(1e-3),
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.converged);
    assert!((rep.x[0] - 1.0).abs() < 1e-3, "x = {}", rep.x[0]);
    assert!((rep.y[1] - 1.0).abs() < 1e-3 && (rep.y[0] - 1.0).abs() < 1e-2);
    let (v, _) = psi_sigma(&BomeToy, Col::from_fn(1, |_| 3.0).as_ref(), 1e-3, &tight()).unwrap();
    assert!((v - 0.5 * 4.0 / 1.001).abs() < 1e-8, "{v}");
}

#[test]
fn shen_chen_runs_end_at_one_of_the_three_stationary_points() {
    // ψ(x) = f(x, −x) on [0, 3]; its stationary points from a fine grid
    // (notes: global 1.215145 with ψ = 0.199911, local 0.3824 and 2.8296).
    let sc = ShenChen::default();
    let stationary = [0.3824, 1.215145, 2.8296];
    let mut rng = StdRng::seed_from_u64(2024);
    let (runs, mut global) = (1000, 0);
    for _ in 0..runs {
        let x0: f64 = rng.random_range(0.0..3.0);
        let rep = penalty(
            &sc,
            Col::from_fn(1, |_| x0).as_ref(),
            Some(Col::from_fn(1, |_| -x0).as_ref()),
            &PenaltyParams::default().sigma(1e-4).grad_tol(1e-8),
            |_| Control::Continue,
        )
        .unwrap();
        let x = rep.x[0];
        let near = stationary
            .iter()
            .map(|s| (x - s).abs())
            .fold(f64::INFINITY, f64::min);
        assert!(near < 1e-3, "start {x0}: ended at {x}");
        if (x - 1.215145).abs() < 1e-3 {
            global += 1;
            assert!((sc.psi(x) - 0.199911).abs() < 1e-5);
        }
    }
    // The basin of the global minimum is the middle of [0, 3].
    let fraction = global as f64 / runs as f64;
    eprintln!("Shen–Chen: {global} of {runs} seeded starts reached the global minimum");
    assert!(
        (0.3..0.8).contains(&fraction),
        "{fraction} reached the global minimum"
    );
}

#[test]
fn a_naive_pick_any_solution_hypergradient_misses_bome_s_optimum() {
    // BOME's toy: the lower-level solutions are {y₀ = x, y₁ free}. Implicit
    // differentiation through one arbitrary solution (y₁ = 0, y₀ = x) gives
    // d/dx f(x, (x, 0)) = x + (x − 1) = 2x − 1: gradient descent on it ends
    // at x = 1/2, not at the optimum x* = 1 of ψ(x) = ½(x − 1)².
    let mut x: f64 = -2.0;
    for _ in 0..200 {
        x -= 0.25 * (2.0 * x - 1.0);
    }
    assert!((x - 0.5).abs() < 1e-9 && (x - 1.0).abs() > 0.4);
    // The penalty method from the same start reaches x* (the optimistic
    // solution: y₁ follows x).
    let rep = penalty(
        &BomeToy,
        Col::from_fn(1, |_| -2.0).as_ref(),
        None,
        &PenaltyParams::default().sigma(1e-3),
        |_| Control::Continue,
    )
    .unwrap();
    assert!((rep.x[0] - 1.0).abs() < 1e-3, "x = {}", rep.x[0]);
}

#[test]
fn a_box_constrained_lower_level_matches_the_active_set_solution() {
    // Y = [−0.3, 0.3]^8: y_σ and z are clipped. On the active sets of the
    // result, ∇ψ_σ(x) = λx + Aᵀ(z − y_σ)/σ is affine in x; solving it
    // directly (dense LU) must give the same point and the same active sets.
    let (lo, hi) = (-0.3, 0.3);
    let q = Quadratic::random(4, 8, 0.1, 5)
        .unwrap()
        .with_y_set(Constraint::Box {
            lo: vec![lo; 8],
            hi: vec![hi; 8],
        });
    let sigma = 1e-2;
    let rep = penalty(
        &q,
        Col::<f64>::zeros(4).as_ref(),
        None,
        &PenaltyParams::default()
            .sigma(sigma)
            .grad_tol(1e-9)
            .max_iters(100_000)
            .inner(tight()),
        |_| Control::Continue,
    )
    .unwrap();
    assert!(
        rep.converged && rep.grad_norm <= 1e-6,
        "{:?} after {} iterations, ‖G‖ = {:e}",
        rep.termination,
        rep.iterations,
        rep.grad_norm
    );
    eprintln!(
        "box-constrained lower level: {} outer iterations, {} gradient calls",
        rep.iterations,
        rep.calls.gradient_calls()
    );
    // Outer momentum: the same point, far fewer iterations.
    let fast = penalty(
        &q,
        Col::<f64>::zeros(4).as_ref(),
        None,
        &PenaltyParams::default()
            .sigma(sigma)
            .grad_tol(1e-9)
            .max_iters(100_000)
            .accelerated(true)
            .inner(tight()),
        |_| Control::Continue,
    )
    .unwrap();
    eprintln!(
        "with outer momentum: {} outer iterations, {} gradient calls",
        fast.iterations,
        fast.calls.gradient_calls()
    );
    assert!(fast.converged && fast.grad_norm <= 1e-6);
    assert!((&fast.x - &rep.x).norm_l2() < 1e-6 * rep.x.norm_l2().max(1.0));
    assert!(
        fast.iterations * 5 < rep.iterations,
        "{} vs {}",
        fast.iterations,
        rep.iterations
    );
    let (a, b, lam) = (q.a(), q.b(), q.lambda());
    let ax = a * &rep.x;
    let active = |v: f64| v <= lo + 1e-12 || v >= hi - 1e-12;
    let (ay, az): (Vec<bool>, Vec<bool>) = (0..8)
        .map(|i| {
            (
                active((sigma * b[i] + ax[i]) / (1.0 + sigma)),
                active(ax[i]),
            )
        })
        .unzip();
    assert!(
        ay.iter().any(|v| *v) && az.iter().any(|v| *v),
        "the box must bind"
    );
    // ∇ψ_σ = Hx − r with H = λI + AᵀDA/σ, D = P_z − P_y/(1 + σ).
    let d: Vec<f64> = (0..8)
        .map(|i| (if az[i] { 0.0 } else { 1.0 }) - (if ay[i] { 0.0 } else { 1.0 / (1.0 + sigma) }))
        .collect();
    let clip = |v: f64| v.clamp(lo, hi);
    let c: Col<f64> = Col::from_fn(8, |i| {
        let cz = if az[i] { clip(ax[i]) } else { 0.0 };
        let cy = if ay[i] {
            clip((sigma * b[i] + ax[i]) / (1.0 + sigma))
        } else {
            sigma * b[i] / (1.0 + sigma)
        };
        cz - cy
    });
    let da = linalg_core::faer::Mat::from_fn(8, 4, |i, j| d[i] * a[(i, j)]);
    let mut h = a.transpose() * da * (1.0 / sigma);
    for i in 0..4 {
        h[(i, i)] += lam;
    }
    let r = -(a.transpose() * &c) * (1.0 / sigma);
    use linalg_core::faer::linalg::solvers::Solve;
    let x_as = h.partial_piv_lu().solve(&r);
    assert!(
        (&x_as - &rep.x).norm_l2() <= 1e-6 * x_as.norm_l2().max(1.0),
        "{:?} vs {:?}",
        x_as,
        rep.x
    );
    let ax2 = a * &x_as;
    for i in 0..8 {
        assert_eq!(active(ax2[i]), az[i]);
    }
}

#[test]
fn aid_finds_the_minimiser_of_psi_and_fails_on_a_singular_lower_level() {
    // Quadratic: ∇²_yy g = I, so AID's hypergradient is ∇ψ exactly and its
    // limit is argmin ψ = argmin ψ_0; the penalty method's is argmin ψ_σ.
    let q = Quadratic::random(5, 8, 0.1, 7).unwrap();
    let rep = aid(
        &q,
        Col::<f64>::zeros(5).as_ref(),
        None,
        &AidParams::default()
            .grad_tol(1e-9)
            .max_iters(20_000)
            .inner(tight()),
        |_| Control::Continue,
    )
    .unwrap();
    assert!(rep.converged, "{:?}", rep.termination);
    let exact = q.argmin_psi_sigma(0.0);
    assert!((&rep.x - &exact).norm_l2() < 1e-7 * exact.norm_l2());
    assert!(rep.calls.hvp_calls() > 0 && rep.certificate.is_none() && rep.method == "aid");
    let (_, g) = psi_sigma(&q, rep.x.as_ref(), 1e-3, &tight()).unwrap();
    assert!(
        g.norm_l2()
            < 1e-3
                * q.grad_psi_sigma(Col::<f64>::zeros(5).as_ref(), 0.0)
                    .norm_l2()
    );
    // BOME's toy: ∇²_yy g = diag(1, 0) is singular (the lower level has a
    // line of solutions): AID's linear system cannot be solved.
    match aid(
        &BomeToy,
        Col::from_fn(1, |_| -2.0).as_ref(),
        Some(Col::from_fn(2, |_| 3.0).as_ref()),
        &AidParams::default(),
        |_| Control::Continue,
    ) {
        Err(e @ Error::Stalled { .. }) => assert!(!e.is_input_error()),
        other => panic!("AID should fail on a singular lower level: {other:?}"),
    }
    let bad = AidParams::default();
    for (p, n) in [
        (bad.grad_tol(-1.0), "grad_tol"),
        (bad.max_iters(0), "max_iters"),
        (bad.cg_rtol(1.0), "cg_rtol"),
    ] {
        assert_eq!(p.validate().unwrap_err().param_name(), Some(n));
    }
}

/// The quadratic with a NaN in `∇ₓg` from the second call on.
struct NanAfter(Quadratic, std::sync::atomic::AtomicUsize);
impl BilevelProblem for NanAfter {
    fn dims(&self) -> (usize, usize) {
        self.0.dims()
    }
    fn f(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        self.0.f(x, y)
    }
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        self.0.g(x, y)
    }
    fn f_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.0.f_grad_x(x, y, out)
    }
    fn f_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.0.f_grad_y(x, y, out)
    }
    fn g_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        self.0.g_grad_x(x, y, out.as_mut());
        if self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2 {
            out[0] = f64::NAN;
        }
    }
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.0.g_grad_y(x, y, out)
    }
}

#[test]
fn observer_parameters_and_bad_input() {
    let q = Quadratic::random(3, 4, 0.1, 0).unwrap();
    let x0 = Col::<f64>::zeros(3);
    let rep = penalty(
        &q,
        x0.as_ref(),
        None,
        &PenaltyParams::default().grad_tol(0.0),
        |r| {
            if r.iteration == 3 {
                Control::Stop
            } else {
                Control::Continue
            }
        },
    )
    .unwrap();
    assert_eq!(rep.termination, Termination::Cancelled);
    assert_eq!((rep.history.len(), rep.iterations), (4, 3));
    let name = |p: PenaltyParams| {
        penalty(&q, x0.as_ref(), None, &p, |_| Control::Continue)
            .unwrap_err()
            .param_name()
    };
    let d = PenaltyParams::default();
    for (p, n) in [
        (d.sigma(0.0), "sigma"),
        (d.sigma(-1.0), "sigma"),
        (d.sigma_min(Some(1.0)), "sigma_min"),
        (d.sigma_decay(1.0), "sigma_decay"),
        (d.stage_tol(-1.0), "stage_tol"),
        (d.grad_tol(f64::NAN), "grad_tol"),
        (d.max_iters(0), "max_iters"),
        (d.inner(InnerParams::default().tol(0.0)), "inner.tol"),
        (
            d.inner(InnerParams::default().max_iters(0)),
            "inner.max_iters",
        ),
        (d.inner(InnerParams::default().step0(-1.0)), "inner.step0"),
    ] {
        assert_eq!(name(p), Some(n));
        assert_eq!(p.validate().unwrap_err().param_name(), Some(n));
    }
    let short = Col::<f64>::zeros(2);
    assert!(matches!(
        penalty(&q, short.as_ref(), None, &d, |_| Control::Continue),
        Err(Error::Core(linalg_core::Error::DimensionMismatch {
            expected: 3,
            found: 2,
            ..
        }))
    ));
    let ybad = Col::<f64>::zeros(7);
    assert!(
        penalty(&q, x0.as_ref(), Some(ybad.as_ref()), &d, |_| {
            Control::Continue
        })
        .is_err()
    );
    let nan = NanAfter(q.clone(), Default::default());
    match penalty(&nan, x0.as_ref(), None, &d, |_| Control::Continue) {
        Err(
            e @ Error::NonFinite {
                oracle: "g_grad_x", ..
            },
        ) => assert!(!e.is_input_error()),
        other => panic!("{other:?}"),
    }
}
