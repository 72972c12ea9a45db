//! The deterministic penalty method (Kwon, Kwon, Wright, Nowak, ICLR 2024).
//!
//! ```text
//! ψ_σ(x) = min_{y ∈ Y} { f(x, y) + (g(x, y) − g*(x)) / σ },   g*(x) = min_{z ∈ Y} g(x, z)
//! ∇ψ_σ(x) = ∇ₓf(x, y_σ) + (∇ₓg(x, y_σ) − ∇ₓg(x, z)) / σ     (first order: no Hessians)
//!
//! Algorithm (double loop, deterministic oracles)
//!   for k = 0, 1, …
//!     z   ← argmin_{y ∈ Y} g(x_k, y)             # projected gradient, warm start
//!     y_σ ← argmin_{y ∈ Y} σ f(x_k, y) + g(x_k, y)   # projected gradient, warm start
//!     x_{k+1} = P_X(x_k − α_k ∇ψ_σ(x_k))            # α_k by backtracking on ψ_σ
//!     if ‖x − P_X(x − ∇ψ_σ)‖ ≤ stage_tol and σ > σ_min:  σ ← max(σ_min, decay·σ)
//! ```
//!
//! Deviations and choices (the paper has no code or experiments): both
//! inner loops are projected gradient with Armijo backtracking on the
//! quadratic upper bound and a step that may double after each accepted
//! step, stopped on the projected-gradient residual; the outer step is
//! chosen by the same backtracking on the `ψ_σ` estimate (each trial re-solves
//! the inner problems from the current ones, and its calls are counted); `σ`
//! follows an optional continuation schedule. The report carries a
//! penalty-gap certificate from `σ` and `σ/2`.

use linalg_core::faer::{Col, ColRef, unzip, zip};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::oracle::Oracle;
use crate::params::{InnerParams, PenaltyParams};
use crate::problem::BilevelProblem;
use crate::report::{BilevelRecord, BilevelReport, Certificate};
use crate::{Error, Result};

/// `ψ_σ` at one point with its inner solutions.
#[derive(Debug, Clone)]
pub(crate) struct Eval {
    pub(crate) value: f64,
    /// The round-off level of `value`: `(g(y_σ) − g(z))/σ` cancels, so its
    /// error is `ε(|g(y_σ)| + |g(z)|)/σ`, far above `ε|ψ_σ|` for small `σ`.
    pub(crate) roundoff: f64,
    pub(crate) upper: f64,
    pub(crate) grad: Col<f64>,
    pub(crate) y: Col<f64>,
    pub(crate) z: Col<f64>,
    pub(crate) inner_iterations: usize,
}

/// `∇_y (s·f + g)(x, y)` into `out` (`tmp` is scratch).
fn inner_grad<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    y: ColRef<'_, f64>,
    s: f64,
    out: &mut Col<f64>,
    tmp: &mut Col<f64>,
) -> Result<()> {
    o.g_grad_y(x, y, out.as_mut())?;
    if s > 0.0 {
        o.f_grad_y(x, y, tmp.as_mut())?;
        zip!(out.as_mut(), tmp.as_ref()).for_each(|unzip!(o, t)| *o += *t * s);
    }
    Ok(())
}

/// `‖a − b‖₂` without a temporary vector.
fn distance(a: ColRef<'_, f64>, b: ColRef<'_, f64>) -> f64 {
    let mut s = 0.0;
    zip!(a, b).for_each(|unzip!(a, b)| s += (*a - *b) * (*a - *b));
    s.sqrt()
}

/// Minimises `s·f(x, ·) + g(x, ·)` over `Y` from `y` (in place) by projected
/// gradient; `step` carries the last accepted step from one call to the
/// next. Returns the iterations taken.
///
/// The step is accepted when the gradients certify it (`‖∇h(y⁺) − ∇h(y)‖ ≤
/// ‖y⁺ − y‖/t`, a local Lipschitz bound), not by comparing values: near the
/// solution the decrease of `h` is below its round-off long before the
/// residual reaches `tol`, and a value test would stall there (measured:
/// 5e-9 instead of 1e-12 on the quadratic). The accepted gradient is the
/// next iteration's, so a step costs one gradient per trial and no values.
pub(crate) fn inner_solve<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    y: &mut Col<f64>,
    s: f64,
    p: &InnerParams,
    step: &mut f64,
) -> Result<usize> {
    if p.accelerated {
        return inner_solve_accelerated(o, x, y, s, p, step);
    }
    let ny = y.nrows();
    let mut grad = Col::<f64>::zeros(ny);
    let mut grad_t = Col::<f64>::zeros(ny);
    let mut tmp = Col::<f64>::zeros(ny);
    let mut trial = Col::<f64>::zeros(ny);
    inner_grad(o, x, y.as_ref(), s, &mut grad, &mut tmp)?;
    for it in 0..p.max_iters {
        let mut t = *step;
        loop {
            // In place: this loop is the whole cost of the method.
            zip!(trial.as_mut(), y.as_ref(), grad.as_ref())
                .for_each(|unzip!(tr, yv, g)| *tr = *yv - *g * t);
            o.problem().y_set().project(trial.as_mut());
            let dn = distance(trial.as_ref(), y.as_ref());
            if dn == 0.0 {
                return Ok(it);
            }
            inner_grad(o, x, trial.as_ref(), s, &mut grad_t, &mut tmp)?;
            if distance(grad_t.as_ref(), grad.as_ref()) * t <= dn * (1.0 + 1e-12) {
                let residual = dn / t;
                std::mem::swap(y, &mut trial);
                std::mem::swap(&mut grad, &mut grad_t);
                *step = (2.0 * t).min(1e12);
                if residual <= p.tol {
                    return Ok(it + 1);
                }
                break;
            }
            t *= 0.5;
            if t < 1e-300 {
                return Err(Error::Stalled {
                    what: "the inner step search",
                    iteration: o.iteration,
                });
            }
        }
    }
    Ok(p.max_iters)
}

/// [`inner_solve`] with Nesterov momentum (FISTA, Beck and Teboulle 2009)
/// and the gradient restart of O'Donoghue and Candès (2015): the same
/// gradient-certified step at the extrapolated point `v`, the residual
/// `‖P_Y(v − t∇h(v)) − v‖/t` as the stopping test, momentum reset whenever
/// `⟨∇h(v), y⁺ − y⟩ > 0`. About `√κ` instead of `κ` iterations on a
/// lower level with condition number `κ`, for one more gradient per step.
fn inner_solve_accelerated<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    y: &mut Col<f64>,
    s: f64,
    p: &InnerParams,
    step: &mut f64,
) -> Result<usize> {
    let ny = y.nrows();
    let mut v = y.clone();
    let mut grad_v = Col::<f64>::zeros(ny);
    let mut grad_t = Col::<f64>::zeros(ny);
    let mut tmp = Col::<f64>::zeros(ny);
    let mut trial = Col::<f64>::zeros(ny);
    inner_grad(o, x, v.as_ref(), s, &mut grad_v, &mut tmp)?;
    let mut k = 1.0;
    for it in 0..p.max_iters {
        let mut t = *step;
        let (dn, t) = loop {
            zip!(trial.as_mut(), v.as_ref(), grad_v.as_ref())
                .for_each(|unzip!(tr, vv, g)| *tr = *vv - *g * t);
            o.problem().y_set().project(trial.as_mut());
            let dn = distance(trial.as_ref(), v.as_ref());
            if dn == 0.0 {
                std::mem::swap(y, &mut trial);
                return Ok(it);
            }
            inner_grad(o, x, trial.as_ref(), s, &mut grad_t, &mut tmp)?;
            if distance(grad_t.as_ref(), grad_v.as_ref()) * t <= dn * (1.0 + 1e-12) {
                break (dn, t);
            }
            t *= 0.5;
            if t < 1e-300 {
                return Err(Error::Stalled {
                    what: "the inner step search",
                    iteration: o.iteration,
                });
            }
        };
        *step = (2.0 * t).min(1e12);
        let residual = dn / t;
        // Restart test ⟨∇h(v), y⁺ − y⟩ > 0, then the new extrapolation.
        let mut dot = 0.0;
        zip!(grad_v.as_ref(), trial.as_ref(), y.as_ref())
            .for_each(|unzip!(g, tr, yv)| dot += *g * (*tr - *yv));
        let beta = if dot > 0.0 {
            k = 1.0;
            0.0
        } else {
            let b = (k - 1.0) / (k + 2.0);
            k += 1.0;
            b
        };
        // v ← y⁺ + β(y⁺ − y), y ← y⁺.
        zip!(v.as_mut(), trial.as_ref(), y.as_ref())
            .for_each(|unzip!(vv, tr, yv)| *vv = *tr + beta * (*tr - *yv));
        std::mem::swap(y, &mut trial);
        if residual <= p.tol {
            return Ok(it + 1);
        }
        if beta == 0.0 {
            std::mem::swap(&mut grad_v, &mut grad_t);
        } else {
            o.problem().y_set().project(v.as_mut());
            inner_grad(o, x, v.as_ref(), s, &mut grad_v, &mut tmp)?;
        }
    }
    Ok(p.max_iters)
}

/// Evaluates `ψ_σ(x)` and `∇ψ_σ(x)`, warm-starting the inner loops from `warm`.
fn psi<P: BilevelProblem + ?Sized>(
    o: &mut Oracle<'_, P>,
    x: ColRef<'_, f64>,
    sigma: f64,
    warm: (&Col<f64>, &Col<f64>),
    p: &InnerParams,
    steps: &mut (f64, f64),
) -> Result<Eval> {
    let (mut y, mut z) = (warm.0.clone(), warm.1.clone());
    // ∇ψ_σ divides the inner errors by σ: solve to tol·min(1, σ).
    let p = &InnerParams {
        tol: p.tol * sigma.min(1.0),
        ..*p
    };
    let iz = inner_solve(o, x, &mut z, 0.0, p, &mut steps.1)?;
    let iy = inner_solve(o, x, &mut y, sigma, p, &mut steps.0)?;
    let upper = o.f(x, y.as_ref())?;
    let gy = o.g(x, y.as_ref())?;
    let gz = o.g(x, z.as_ref())?;
    let nx = x.nrows();
    let mut grad = Col::<f64>::zeros(nx);
    let mut t = Col::<f64>::zeros(nx);
    o.f_grad_x(x, y.as_ref(), grad.as_mut())?;
    o.g_grad_x(x, y.as_ref(), t.as_mut())?;
    grad += &t * (1.0 / sigma);
    o.g_grad_x(x, z.as_ref(), t.as_mut())?;
    grad -= &t * (1.0 / sigma);
    Ok(Eval {
        value: upper + (gy - gz) / sigma,
        roundoff: 16.0 * f64::EPSILON * (upper.abs() + (gy.abs() + gz.abs()) / sigma),
        upper,
        grad,
        y,
        z,
        inner_iterations: iy + iz,
    })
}

/// `‖x − P_X(x − ∇)‖`.
fn projected_gradient<P: BilevelProblem + ?Sized>(p: &P, x: &Col<f64>, grad: &Col<f64>) -> f64 {
    let mut v = x - grad;
    p.x_set().project(v.as_mut());
    (x - v).norm_l2()
}

/// Checks the starting points against the problem.
pub(crate) fn check_start<P: BilevelProblem + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
) -> Result<()> {
    let (nx, ny) = problem.dims();
    linalg_core::op::check_dim("upper starting point x0", nx, x0.nrows())?;
    linalg_core::param::finite("x0", x0)?;
    if let Some(y0) = y0 {
        linalg_core::op::check_dim("lower starting point y0", ny, y0.nrows())?;
        linalg_core::param::finite("y0", y0)?;
    }
    problem.x_set().validate("x_set", nx)?;
    problem.y_set().validate("y_set", ny)?;
    Ok(())
}

/// The lower-level starting point: `y0`, or zero.
pub(crate) fn start_y<P: BilevelProblem + ?Sized>(
    problem: &P,
    y0: Option<ColRef<'_, f64>>,
) -> Col<f64> {
    match y0 {
        Some(y0) => y0.to_owned(),
        None => Col::zeros(problem.dims().1),
    }
}

/// `ψ_σ(x)` and `∇ψ_σ(x)` at one point (inner loops from `y0`, or zero):
/// for tests, certificates and plots. Returns `(value, gradient)`.
pub fn psi_sigma<P: BilevelProblem + ?Sized>(
    problem: &P,
    x: ColRef<'_, f64>,
    sigma: f64,
    inner: &InnerParams,
) -> Result<(f64, Col<f64>)> {
    linalg_core::param::positive("sigma", sigma)?;
    inner.validate()?;
    check_start(problem, x, None)?;
    let ny = problem.dims().1;
    let mut o = Oracle::new(problem);
    let start = Col::<f64>::zeros(ny);
    let e = psi(
        &mut o,
        x,
        sigma,
        (&start, &start),
        inner,
        &mut (inner.step0, inner.step0),
    )?;
    Ok((e.value, e.grad))
}

/// The outer loop's settings (from [`PenaltyParams`] or the baselines'
/// params): `σ` continuation, tolerances, limits, first step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outer {
    pub(crate) sigma: f64,
    pub(crate) sigma_min: f64,
    pub(crate) sigma_decay: f64,
    pub(crate) stage_tol: f64,
    pub(crate) grad_tol: f64,
    pub(crate) max_iters: usize,
    pub(crate) step0: f64,
    /// Calls made before the loop (step-size estimates), added to the counts.
    pub(crate) calls0: crate::OracleCalls,
    /// Re-evaluate the base point at the start of each iteration from the
    /// current warm start (when the estimate depends on it, as warm ITD's).
    pub(crate) reevaluate: bool,
    /// Nesterov momentum with function restarts on the outer step.
    pub(crate) accelerated: bool,
}

/// What the outer loop ends with.
pub(crate) struct Descent {
    pub(crate) x: Col<f64>,
    pub(crate) cur: Eval,
    pub(crate) sigma: f64,
    pub(crate) iterations: usize,
    pub(crate) termination: Termination,
    pub(crate) history: Vec<BilevelRecord>,
    pub(crate) elapsed: std::time::Duration,
    pub(crate) work: Work,
    pub(crate) calls: crate::OracleCalls,
}

/// One backtracking search from `base = (x, eval at x)`: accept when the
/// quadratic upper bound with step `α` holds (see [`descend`]); halves `α`
/// at most 60 times.
#[allow(clippy::too_many_arguments)]
fn backtrack<P, E>(
    o: &mut Oracle<'_, P>,
    eval: &mut E,
    work: &mut Work,
    inner: &mut usize,
    alpha: &mut f64,
    base: (&Col<f64>, &Eval),
    sigma: f64,
    k: usize,
) -> Result<(Col<f64>, Eval)>
where
    P: BilevelProblem + ?Sized,
    E: FnMut(&mut Oracle<'_, P>, ColRef<'_, f64>, f64, (&Col<f64>, &Col<f64>)) -> Result<Eval>,
{
    let (x, cur) = base;
    let problem = o.problem();
    for _ in 0..60 {
        work.trials += 1;
        let mut xt = x - &cur.grad * *alpha;
        problem.x_set().project(xt.as_mut());
        let d = &xt - x;
        let e = eval(o, xt.as_ref(), sigma, (&cur.y, &cur.z))?;
        *inner += e.inner_iterations;
        let model = cur.value + cur.grad.transpose() * &d + d.squared_norm_l2() / (2.0 * *alpha);
        // The value test is only trusted while the predicted decrease
        // ‖d‖²/(2α) is above the round-off of the two estimates: below
        // it, an overshooting step would pass and the gradient would
        // stall at √noise (measured: 3e-8); the gradient test of the
        // inner loops decides there.
        let noise = cur.roundoff + e.roundoff;
        let dn = d.norm_l2();
        let visible = dn * dn / (2.0 * *alpha) > noise;
        let lipschitz_ok = (&e.grad - &cur.grad).norm_l2() * *alpha <= dn * (1.0 + 1e-12);
        if (visible && e.value <= model + noise) || (lipschitz_ok && e.value <= cur.value + noise) {
            return Ok((xt, e));
        }
        *alpha *= 0.5;
    }
    Err(Error::Stalled {
        what: "the outer backtracking",
        iteration: k,
    })
}

/// Projected gradient on `x` with backtracking, for any hypergradient
/// estimate `eval(oracle, x, σ, warm (y, z))`: the outer loop of the penalty
/// method and of the implicit-differentiation baselines.
pub(crate) fn descend<P, E>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y_start: Col<f64>,
    outer: Outer,
    mut eval: E,
    observer: impl FnMut(&BilevelRecord) -> Control,
) -> Result<Descent>
where
    P: BilevelProblem + ?Sized,
    E: FnMut(&mut Oracle<'_, P>, ColRef<'_, f64>, f64, (&Col<f64>, &Col<f64>)) -> Result<Eval>,
{
    let mut o = Oracle::new(problem);
    o.calls = outer.calls0;
    let mut work = Work::default();
    let mut x = x0.to_owned();
    problem.x_set().project(x.as_mut());
    let mut sigma = outer.sigma;
    let mut cur = eval(&mut o, x.as_ref(), sigma, (&y_start, &y_start))?;
    let mut gn = projected_gradient(problem, &x, &cur.grad);
    let mut rec = Recorder::new(outer.max_iters, observer);
    let converged = |sigma: f64, gn: f64| sigma <= outer.sigma_min && gn <= outer.grad_tol;
    let record = |rec: &mut Recorder<BilevelRecord, _>,
                  k,
                  x: &Col<f64>,
                  sigma,
                  e: &Eval,
                  gn,
                  inner,
                  calls: usize| {
        let r = BilevelRecord {
            iteration: k,
            sigma,
            value: e.value,
            grad_norm: gn,
            inner_iterations: inner,
            gradient_calls: calls,
            seconds: rec.seconds(),
            psi: problem.psi_exact(x.as_ref()),
        };
        rec.record(r, converged(sigma, gn))
    };
    let first_inner = cur.inner_iterations;
    let mut termination = record(
        &mut rec,
        0,
        &x,
        sigma,
        &cur,
        gn,
        first_inner,
        o.calls.gradient_calls(),
    );
    let mut alpha = outer.step0;
    let mut k = 0;
    let mut x_prev: Option<Col<f64>> = None;
    let mut t_mom: f64 = 1.0;
    while termination.is_none() {
        k += 1;
        o.iteration = k;
        let mut inner = 0;
        if gn <= outer.stage_tol && sigma > outer.sigma_min {
            sigma = (sigma * outer.sigma_decay).max(outer.sigma_min);
            cur = eval(&mut o, x.as_ref(), sigma, (&cur.y, &cur.z))?;
            inner += cur.inner_iterations;
            // A new σ is a new function: no momentum across stages.
            x_prev = None;
            t_mom = 1.0;
        } else if outer.reevaluate {
            cur = eval(&mut o, x.as_ref(), sigma, (&cur.y, &cur.z))?;
            inner += cur.inner_iterations;
        }
        // Momentum (FISTA with function restart): step from the
        // extrapolated point v = P_X(x + β(x − x_prev)).
        let momentum = match (&x_prev, outer.accelerated) {
            (Some(xp), true) => {
                let t_next = 0.5 * (1.0 + (1.0 + 4.0 * t_mom * t_mom).sqrt());
                let beta = (t_mom - 1.0) / t_next;
                t_mom = t_next;
                if beta > 0.0 {
                    let mut v = &x + (&x - xp) * beta;
                    problem.x_set().project(v.as_mut());
                    let ev = eval(&mut o, v.as_ref(), sigma, (&cur.y, &cur.z))?;
                    inner += ev.inner_iterations;
                    Some((v, ev))
                } else {
                    None
                }
            }
            _ => None,
        };
        let mut step = backtrack(
            &mut o,
            &mut eval,
            &mut work,
            &mut inner,
            &mut alpha,
            momentum.as_ref().map_or((&x, &cur), |(v, ev)| (v, ev)),
            sigma,
            k,
        )?;
        if momentum.is_some() && step.1.value > cur.value + cur.roundoff + step.1.roundoff {
            // The extrapolation went uphill: restart from x without momentum.
            t_mom = 1.0;
            step = backtrack(
                &mut o,
                &mut eval,
                &mut work,
                &mut inner,
                &mut alpha,
                (&x, &cur),
                sigma,
                k,
            )?;
        }
        let (xt, e) = step;
        if outer.accelerated {
            x_prev = Some(x.clone());
        }
        x = xt;
        cur = e;
        alpha = (2.0 * alpha).min(1e12);
        gn = projected_gradient(problem, &x, &cur.grad);
        termination = record(
            &mut rec,
            k,
            &x,
            sigma,
            &cur,
            gn,
            inner,
            o.calls.gradient_calls(),
        );
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let calls = o.calls;
    work.gradient_evals = calls.gradient_calls();
    work.hessian_vec_evals = calls.hvp_calls();
    work.value_evals = calls.value_calls();
    let (history, elapsed) = rec.finish();
    Ok(Descent {
        x,
        cur,
        sigma,
        iterations: k,
        termination,
        history,
        elapsed,
        work,
        calls,
    })
}

/// The penalty method from `x0` (projected onto `X`); `y0` warm-starts both
/// inner loops (default zero). The observer sees every outer iteration.
pub fn penalty<P: BilevelProblem + ?Sized>(
    problem: &P,
    x0: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    params: &PenaltyParams,
    observer: impl FnMut(&BilevelRecord) -> Control,
) -> Result<BilevelReport> {
    params.validate()?;
    check_start(problem, x0, y0)?;
    let y_start = start_y(problem, y0);
    let outer = Outer {
        sigma: params.sigma,
        sigma_min: params.final_sigma(),
        sigma_decay: params.sigma_decay,
        stage_tol: params.stage_tol,
        grad_tol: params.grad_tol,
        max_iters: params.max_iters,
        step0: params.step0,
        calls0: crate::OracleCalls::default(),
        reevaluate: false,
        accelerated: params.accelerated,
    };
    let mut steps = (params.inner.step0, params.inner.step0);
    let inner = params.inner;
    let d = descend(
        problem,
        x0,
        y_start,
        outer,
        |o, x, sigma, warm| psi(o, x, sigma, warm, &inner, &mut steps),
        observer,
    )?;
    // Certificate: ψ_{σ/2} from the final inner solutions (not counted in `calls`).
    let mut o = Oracle::new(problem);
    let mut steps = (params.inner.step0, params.inner.step0);
    let half = psi(
        &mut o,
        d.x.as_ref(),
        0.5 * d.sigma,
        (&d.cur.y, &d.cur.z),
        &params.inner,
        &mut steps,
    )?;
    let certificate = Certificate {
        sigma: d.sigma,
        value_half: half.value,
        penalty_gap: 2.0 * (half.value - d.cur.value),
        gradient_gap: 2.0 * (&half.grad - &d.cur.grad).norm_l2(),
    };
    Ok(BilevelReport::new("penalty", d, Some(certificate)))
}

/// The lower-level solution `z(x) = argmin_{y ∈ Y} g(x, y)` by the inner
/// projected-gradient loop from `y0` (or zero), stopping at `inner.tol`:
/// for evaluating a model at a given `x` (retraining, plots).
pub fn lower_solution<P: BilevelProblem + ?Sized>(
    problem: &P,
    x: ColRef<'_, f64>,
    y0: Option<ColRef<'_, f64>>,
    inner: &InnerParams,
) -> Result<Col<f64>> {
    inner.validate()?;
    check_start(problem, x, y0)?;
    let mut y = start_y(problem, y0);
    let mut o = Oracle::new(problem);
    let mut step = inner.step0;
    inner_solve(&mut o, x, &mut y, 0.0, inner, &mut step)?;
    Ok(y)
}
