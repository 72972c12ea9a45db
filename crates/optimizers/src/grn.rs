//! Gradient-regularised Newton (Semenov, Jaggi, Doikov 2025, Algorithm 1 of
//! the official `epfml/grad-norm-smooth` code) with exact or approximate
//! Hessians, and Mishchenko's `λ = √(H‖g‖)` variant.
//!
//! ```text
//! Algorithm 1 (gradient-regularised Newton, adaptive γ)
//!   input: x₀, γ₀
//!   for k = 0, 1, …
//!     repeat                                      # at most max_trials trials
//!       λ = ‖∇f(x_k)‖ / γ                         # Mishchenko: λ = √(H‖∇f‖)
//!       x⁺ = x_k − (H(x_k) + λI)⁻¹ ∇f(x_k)        # H: exact / GN / Fisher / diagonal
//!       if f(x_k) − f(x⁺) ≥ ‖∇f(x⁺)‖² / (8λ):  accept; γ ← 2γ   (H ← H/2)
//!       else γ ← γ/2                                              (H ← 2H)
//!     x_{k+1} = x⁺
//! ```
//!
//! Deviations: a failed factorisation
//! is a rejected trial — never a stale step (the official code reuses the
//! previous trial there). When the required decrease is below the round-off
//! of `f` (a few ulps), a trial is accepted if it lowers `‖g‖` instead.

use linalg_core::cg::{Cg, CgParams};
use linalg_core::faer::linalg::solvers::Solve;
use linalg_core::faer::matrix_free::IdentityPrecond;
use linalg_core::faer::{Col, ColRef, Mat, Side, unzip, zip};
use linalg_core::op::ShiftedOp;
use linalg_core::param::{ParamError, at_least, positive};
use linalg_core::{Control, Termination, Work};

use crate::curvature::Curvature;
use crate::first_order::{check_eval, start_point};
use crate::{Error, HessianKind, HessianModel, OptRecord, OptReport, Recorder, Result, RunParams};

/// How `λ` is set from the gradient norm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Regularisation {
    /// `λ = ‖g‖/γ` with the adaptive `γ` of Algorithm 1 (starting at `gamma0`).
    GradNorm {
        /// Initial `γ` (default 1).
        gamma0: f64,
    },
    /// Mishchenko (2023): `λ = √(H‖g‖)`, with the same acceptance test and
    /// `H` halved after an accepted step, doubled after a rejected one.
    Mishchenko {
        /// Initial `H` (an estimate of the Hessian's Lipschitz constant).
        h0: f64,
    },
}

/// How the regularised Newton system is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinearSolver {
    /// The exact Hessian matrix-free ([`LinearSolver::MatrixFreeCg`]), the
    /// approximate models directly. Why: with the inexact solve of
    /// [`Forcing::GradientRatio`] the matrix-free path was the fastest on
    /// every problem of the crate's bench, from 31 unknowns to 650 and to
    /// 10⁵ samples (logistic, breast cancer: 0.51 ms against 1.14 ms;
    /// softmax, digits: 55.7 ms against 446 ms; logistic, 10⁵ × 50
    /// generated: 162 ms against 347 ms; same iterations ±1; README), and it
    /// needs no `n × n` matrix.
    #[default]
    Auto,
    /// Dense Cholesky (faer LLT); low-rank models by Woodbury, diagonal directly.
    Direct,
    /// Matrix-free CG on `(∇²f + λI) d = −g` with the objective's exact
    /// Hessian-vector product (large dimensions; `Exact` Hessian only), to
    /// the relative residual of [`GrnParams::forcing`] or `10·n` steps; a
    /// solve that fails is a rejected trial.
    MatrixFreeCg,
}

/// How accurately the matrix-free solve is run: CG stops at the relative
/// residual `η_k` (inexact Newton; the step is still judged by Algorithm
/// 1's acceptance test).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Forcing {
    /// The same `η` every iteration.
    Fixed(f64),
    /// `η_k = min(½, (‖g_k‖/‖g_0‖)^{1/2})`, at least 1e-12 (Eisenstat and
    /// Walker 1996; Dembo, Eisenstat, Steihaug 1982: order-1.5 local
    /// convergence): loose far from the optimum, tight near it. On softmax
    /// over digits it cut the Hessian-vector products from 839 (η = 1e-10)
    /// to 167 with the same 11 iterations.
    #[default]
    GradientRatio,
}

impl Forcing {
    fn eta(self, gn: f64, g0n: f64) -> f64 {
        match self {
            Forcing::Fixed(t) => t,
            Forcing::GradientRatio => (gn / g0n).sqrt().clamp(1e-12, 0.5),
        }
    }
}

/// Parameters of [`grn`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrnParams {
    /// Stopping and iteration limits.
    pub run: RunParams,
    /// The Hessian model (default exact).
    pub hessian: HessianKind,
    /// `λ` rule (default `GradNorm { gamma0: 1 }`).
    pub regularisation: Regularisation,
    /// Lower bound on `γ` (default 1e-9).
    pub gamma_min: f64,
    /// Trials per iteration (default 40).
    pub max_trials: usize,
    /// Linear solver (default [`LinearSolver::Auto`]).
    pub solver: LinearSolver,
    /// Accuracy of the matrix-free solve (default [`Forcing::GradientRatio`]).
    pub forcing: Forcing,
}

impl Default for GrnParams {
    fn default() -> Self {
        Self {
            run: RunParams::default(),
            hessian: HessianKind::Exact,
            regularisation: Regularisation::GradNorm { gamma0: 1.0 },
            gamma_min: 1e-9,
            max_trials: 40,
            solver: LinearSolver::Auto,
            forcing: Forcing::GradientRatio,
        }
    }
}

impl GrnParams {
    /// Sets the stopping rules.
    pub fn run(mut self, run: RunParams) -> Self {
        self.run = run;
        self
    }
    /// Sets the Hessian model.
    pub fn hessian(mut self, kind: HessianKind) -> Self {
        self.hessian = kind;
        self
    }
    /// Sets the `λ` rule.
    pub fn regularisation(mut self, r: Regularisation) -> Self {
        self.regularisation = r;
        self
    }
    /// Sets the linear solver.
    pub fn solver(mut self, s: LinearSolver) -> Self {
        self.solver = s;
        self
    }
    /// The solver [`LinearSolver::Auto`] stands for with this Hessian model.
    pub fn effective_solver(&self) -> LinearSolver {
        match (self.solver, self.hessian) {
            (LinearSolver::Auto, HessianKind::Exact) => LinearSolver::MatrixFreeCg,
            (LinearSolver::Auto, _) => LinearSolver::Direct,
            (s, _) => s,
        }
    }
    /// Sets the accuracy of the matrix-free solve.
    pub fn forcing(mut self, f: Forcing) -> Self {
        self.forcing = f;
        self
    }
    /// Sets the number of trials per iteration.
    pub fn max_trials(mut self, k: usize) -> Self {
        self.max_trials = k;
        self
    }

    /// Rejects invalid stopping rules, non-positive `γ_min`, `γ_0`, `H_0`,
    /// zero trials, and the matrix-free solver with an approximate Hessian.
    pub fn validate(&self) -> Result<()> {
        self.run.validate()?;
        positive("gamma_min", self.gamma_min)?;
        match self.regularisation {
            Regularisation::GradNorm { gamma0 } => positive("gamma0", gamma0)?,
            Regularisation::Mishchenko { h0 } => positive("h0", h0)?,
        }
        at_least("max_trials", self.max_trials, 1)?;
        if let Forcing::Fixed(t) = self.forcing {
            linalg_core::param::in_range("forcing", t, 1e-16, 0.999)?;
        }
        if self.solver == LinearSolver::MatrixFreeCg && self.hessian != HessianKind::Exact {
            return Err(ParamError::new(
                "solver",
                "the matrix-free solve uses the exact Hessian operator",
            )
            .into());
        }
        Ok(())
    }
}

/// Solves `(model + λI) d = −g`, or `None` if the system is not positive definite.
fn solve_model(model: &HessianModel, lambda: f64, g: ColRef<'_, f64>) -> Option<Col<f64>> {
    let n = g.nrows();
    match model {
        HessianModel::Dense(h) => {
            let mut m = h.clone();
            for i in 0..n {
                m[(i, i)] += lambda;
            }
            let llt = m.llt(Side::Lower).ok()?;
            Some(-llt.solve(g))
        }
        HessianModel::Diagonal(d) => {
            let out = Col::from_fn(n, |i| -g[i] / (d[i] + lambda));
            (0..n).all(|i| d[i] + lambda > 0.0).then_some(out)
        }
        HessianModel::LowRank { diag, factors } => {
            // (D + F Fᵀ)⁻¹ = D⁻¹ − D⁻¹F (I + FᵀD⁻¹F)⁻¹ FᵀD⁻¹ (Woodbury; Sherman–
            // Morrison for one factor), D = diag + λI.
            let dinv: Vec<f64> = (0..n).map(|i| 1.0 / (diag[i] + lambda)).collect();
            if dinv.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return None;
            }
            let k = factors.ncols();
            let dg = Col::from_fn(n, |i| dinv[i] * g[i]);
            let df = Mat::from_fn(n, k, |i, j| dinv[i] * factors[(i, j)]);
            let mut small = factors.transpose() * &df;
            for j in 0..k {
                small[(j, j)] += 1.0;
            }
            let rhs = factors.transpose() * &dg;
            let t = small.llt(Side::Lower).ok()?.solve(&rhs);
            Some(-(dg - df * t))
        }
    }
}

/// Gradient-regularised Newton from `x0`; the observer sees each accepted iterate.
pub fn grn<O: Curvature>(
    obj: &O,
    x0: ColRef<'_, f64>,
    params: &GrnParams,
    observer: impl FnMut(&OptRecord) -> Control,
) -> Result<OptReport> {
    params.validate()?;
    let n = obj.dim();
    // The direct solver forms a dense n × n model (Diagonal aside) and
    // factors a copy: refuse it before allocating when that cannot fit.
    let solver = params.effective_solver();
    if solver == LinearSolver::Direct && params.hessian != HessianKind::Diagonal {
        linalg_core::budget::check(
            format!(
                "the dense {n} × {n} Hessian model of the direct solver (LinearSolver::MatrixFreeCg needs none)"
            ),
            linalg_core::budget::Bytes::matrix::<f64>(n, n).times(2),
        )?;
    }
    let mut work = Work::default();
    let (mut x, mut g, mut f) = start_point(obj, x0, &mut work)?;
    let mut rec = Recorder::new(params.run, observer);
    let mut termination = rec.record(0, f, g.norm_l2());
    // γ for GradNorm; H for Mishchenko.
    let mut scale = match params.regularisation {
        Regularisation::GradNorm { gamma0 } => gamma0,
        Regularisation::Mishchenko { h0 } => h0,
    };
    // Trial point and gradient, reused by every trial.
    let mut xt = Col::<f64>::zeros(n);
    let mut gt = Col::<f64>::zeros(n);
    let mut neg_g = Col::<f64>::zeros(n);
    let g0n = g.norm_l2().max(f64::MIN_POSITIVE);
    let mut k = 0;
    while termination.is_none() {
        k += 1;
        let gn = g.norm_l2();
        // What depends on x only is formed once per iteration: the Hessian
        // model (direct) or the Hessian operator (matrix-free).
        let model = match solver {
            LinearSolver::Direct => {
                work.hessian_evals += 1;
                Some(obj.curvature(params.hessian, x.as_ref()).ok_or_else(|| {
                    ParamError::new(
                        "hessian",
                        format!("this problem has no {:?} Hessian model", params.hessian),
                    )
                })?)
            }
            _ => None,
        };
        let hop = match solver {
            LinearSolver::Direct => None,
            _ => Some(obj.hessian_op(x.as_ref())),
        };
        zip!(neg_g.as_mut(), g.as_ref()).for_each(|unzip!(n, g)| *n = -*g);
        let mut accepted = false;
        for _ in 0..params.max_trials {
            work.trials += 1;
            let lambda = match params.regularisation {
                Regularisation::GradNorm { .. } => gn / scale,
                Regularisation::Mishchenko { .. } => (scale * gn).sqrt(),
            };
            let step = match (&model, &hop) {
                (Some(m), _) => solve_model(m, lambda, g.as_ref()),
                (None, Some(h)) => ShiftedOp::new(h, 1.0, lambda).ok().and_then(|op| {
                    let id = IdentityPrecond { dim: n };
                    let eta = params.forcing.eta(gn, g0n);
                    let cg = Cg::new(CgParams::new().rtol(eta).max_iters(10 * n.max(1))).ok()?;
                    let r = cg
                        .solve_with(&op, &id, neg_g.as_ref(), None, |_| Control::Continue)
                        .ok()?;
                    work.hessian_vec_evals += r.work.matvecs;
                    Some(r.x)
                }),
                (None, None) => None,
            };
            let Some(d) = step.filter(|d| d.iter().all(|v| v.is_finite())) else {
                grow_regularisation(&mut scale, params);
                continue;
            };
            zip!(xt.as_mut(), x.as_ref(), d.as_ref()).for_each(|unzip!(t, x, d)| *t = *x + *d);
            work.gradient_evals += 1;
            let ft = obj.gradient(xt.as_ref(), gt.as_mut());
            let gtn2 = gt.squared_norm_l2();
            let required = gtn2 / (8.0 * lambda);
            // Near the optimum the required decrease drops below the
            // resolution of f (a few ulps); the test is then decided by the
            // gradient norm alone instead of by round-off.
            let roundoff = 8.0 * f64::EPSILON * f.abs().max(ft.abs());
            let sufficient = f - ft >= required
                || (required <= roundoff && f - ft >= -roundoff && gtn2 < gn * gn);
            if ft.is_finite() && gtn2.is_finite() && sufficient {
                std::mem::swap(&mut x, &mut xt);
                std::mem::swap(&mut g, &mut gt);
                f = check_eval(ft, &g, k)?;
                match params.regularisation {
                    Regularisation::GradNorm { .. } => scale = (2.0 * scale).max(params.gamma_min),
                    Regularisation::Mishchenko { .. } => scale *= 0.5,
                }
                accepted = true;
                break;
            }
            grow_regularisation(&mut scale, params);
        }
        if !accepted {
            return Err(Error::LineSearch { iteration: k });
        }
        termination = rec.record(k, f, g.norm_l2());
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let name = match (params.regularisation, params.hessian) {
        (Regularisation::Mishchenko { .. }, _) => "mishchenko",
        (_, HessianKind::Exact) => "grn",
        (_, HessianKind::GaussNewton) => "grn-gn",
        (_, HessianKind::Fisher) => "grn-fisher",
        (_, HessianKind::Diagonal) => "grn-diag",
    };
    Ok(OptReport::new(name, x, termination, rec, work))
}

/// A rejected trial: more regularisation (`γ/2`, or `2H`).
fn grow_regularisation(scale: &mut f64, params: &GrnParams) {
    match params.regularisation {
        Regularisation::GradNorm { .. } => *scale = (*scale * 0.5).max(params.gamma_min),
        Regularisation::Mishchenko { .. } => *scale *= 2.0,
    }
}
