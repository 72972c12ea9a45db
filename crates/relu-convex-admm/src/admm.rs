//! ADMM on the convex reformulation (Bai, Gautam, Sojoudi 2023, Algorithm
//! 3.1), with every iterate certified by a duality-gap bound.
//!
//! ```text
//! min_{v,w} ℓ(Σᵢ DᵢX(vᵢ − wᵢ)) + β Σᵢ(‖vᵢ‖₂ + ‖wᵢ‖₂)   s.t. EᵢXvᵢ ≥ 0, EᵢXwᵢ ≥ 0   (Eᵢ = 2Dᵢ − I)
//! split u = v, Gu = s ≥ 0 (G = blkdiag(EᵢX), F = [DᵢX, −DᵢX]), scaled duals λ, ν:
//!   squared loss (the paper's Algorithm 3.1):
//!     u ← A⁻¹((1/ρ)Fᵀy + v − λ + Gᵀ(s − ν)),             A = I + (1/ρ)FᵀF + GᵀG
//!   other losses, also split Fu = r with penalty ρ_r and scaled dual η:
//!     u ← A⁻¹((ρ_r/ρ)Fᵀ(r − η) + v − λ + Gᵀ(s − ν)),     A = I + (ρ_r/ρ)FᵀF + GᵀG
//!     r ← prox_{ℓ/ρ_r}(F̂u + η);   η ← η + F̂u − r
//!   û = αu + (1 − α)v,  Ĝu = αGu + (1 − α)s,  F̂u = αFu + (1 − α)r     (over-relaxation)
//!   vᵢ ← (1 − (β/ρ)/‖ûᵢ + λᵢ‖)₊ (ûᵢ + λᵢ)                               (group soft-threshold)
//!   s ← (Ĝu + ν)₊;   λ ← λ + û − v;   ν ← ν + Ĝu − s
//! ```
//!
//! Splitting the loss off keeps `A` of the squared-loss form for every
//! loss, so one factorisation serves the whole run and an iteration stays
//! quadratic ([`usolve`](crate::usolve)); the loss enters only through its
//! separable proximal map ([`Loss::prox`]). This replaces the paper's
//! randomized block-coordinate inner solver for non-quadratic losses: the
//! u-update stays exact, and its cost is that of the squared-loss one.
//!
//! **Stopping.** The run has converged when either test passes:
//! - the certificate ([`crate::program`]): the relative gap between the
//!   primal objective at `(v, w)` and the dual bound built from `λ =
//!   ∇ℓ(ŷ)` (hinge: `ρ_r η`) and `μ = −ρν` is at most `gap_tol`, and the
//!   cone violation at most `cone_tol`;
//! - the residuals (Boyd et al. 2011, §3.3): `‖(u − v, Gu − s[, Fu − r])‖`
//!   and `ρ‖(v − v⁻) + Gᵀ(s − s⁻)[ + (ρ_r/ρ)Fᵀ(r − r⁻)]‖` below their
//!   absolute-plus-relative tolerances.
//!
//! Either way the report carries the certificate of the final point.
//! ρ may adapt by residual balancing (§3.4.1): ×2 or ÷2 when one residual,
//! relative to its tolerance, exceeds 10× the other, checked every 10
//! iterations, the scaled duals rescaled and `A` refactored.

use std::time::Instant;

use linalg_core::faer::{Col, Mat};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::loss::Loss;
use crate::program::{ConvexProgram, relative_gap};
use crate::usolve::{USolver, USystem};
use crate::{Error, Result};

/// Parameters of [`admm`], validated once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmmParams {
    /// The group-lasso weight `β > 0`.
    pub beta: f64,
    /// The penalty `ρ > 0` (default `β`: the best ρ scales with the data;
    /// on the issue's speed setup, β = 24.8, ρ ∈ {10, 20, 30, 50} took 606,
    /// 582, 863, 1 436 iterations to residual tolerance 1e-4 with α = 1.8,
    /// and on a toy with β = 0.5, ρ ∈ {1, 5, 10, 20} took 666, 3 355,
    /// 6 705, > 10 000).
    pub rho: Option<f64>,
    /// The penalty `ρ_r > 0` of the split `Fu = r` for the logistic and
    /// hinge losses (default 1: then `A` is the squared-loss matrix).
    pub loss_rho: f64,
    /// Residual balancing of `ρ` (default off: on the fixture programs it
    /// drove ρ from 10–100 down to ≈ 2 and needed 10× more iterations).
    pub adaptive_rho: bool,
    /// Over-relaxation `α ∈ (0, 2)` (default 1.8; 5–10 % fewer
    /// iterations than 1.6 on the speed setup).
    pub relaxation: f64,
    /// Absolute tolerance of the residual tests (default 1e-6).
    pub tol_abs: f64,
    /// Relative tolerance of the residual tests (default 1e-6).
    pub tol_rel: f64,
    /// The certificate's relative duality-gap tolerance (default 1e-6).
    pub gap_tol: f64,
    /// The certificate's cone-violation tolerance (default 1e-6).
    pub cone_tol: f64,
    /// Iteration limit (default 10 000).
    pub max_iters: usize,
    /// How the u-system is solved (default [`USolver::Auto`]).
    pub u_solver: USolver,
}

impl AdmmParams {
    /// Defaults with the given `β`.
    pub fn new(beta: f64) -> Self {
        Self {
            beta,
            rho: None,
            loss_rho: 1.0,
            adaptive_rho: false,
            relaxation: 1.8,
            tol_abs: 1e-6,
            tol_rel: 1e-6,
            gap_tol: 1e-6,
            cone_tol: 1e-6,
            max_iters: 10_000,
            u_solver: USolver::Auto,
        }
    }
    /// Sets the u-system solver.
    pub fn u_solver(mut self, s: USolver) -> Self {
        self.u_solver = s;
        self
    }
    /// Sets `ρ`.
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = Some(rho);
        self
    }
    /// Sets `ρ_r` (logistic and hinge losses).
    pub fn loss_rho(mut self, r: f64) -> Self {
        self.loss_rho = r;
        self
    }
    /// The `ρ` in use: the given one, or `β`.
    pub fn effective_rho(&self) -> f64 {
        self.rho.unwrap_or(self.beta)
    }
    /// Turns residual balancing on or off.
    pub fn adaptive_rho(mut self, on: bool) -> Self {
        self.adaptive_rho = on;
        self
    }
    /// Sets the over-relaxation.
    pub fn relaxation(mut self, a: f64) -> Self {
        self.relaxation = a;
        self
    }
    /// Sets all four tolerances (residuals, gap, cone violation).
    pub fn tol(mut self, t: f64) -> Self {
        self.tol_abs = t;
        self.tol_rel = t;
        self.gap_tol = t;
        self.cone_tol = t;
        self
    }
    /// Sets the certificate's tolerances only.
    pub fn certificate_tol(mut self, gap: f64, cone: f64) -> Self {
        self.gap_tol = gap;
        self.cone_tol = cone;
        self
    }
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Rejects `β ≤ 0`, `ρ ≤ 0`, `ρ_r ≤ 0`, `α ∉ (0, 2)`, non-positive
    /// tolerances and a zero limit.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::positive("beta", self.beta)?;
        if let Some(r) = self.rho {
            linalg_core::param::positive("rho", r)?;
        }
        linalg_core::param::positive("loss_rho", self.loss_rho)?;
        linalg_core::param::in_range("relaxation", self.relaxation, 1e-3, 1.999)?;
        linalg_core::param::positive("tol_abs", self.tol_abs)?;
        linalg_core::param::positive("tol_rel", self.tol_rel)?;
        linalg_core::param::positive("gap_tol", self.gap_tol)?;
        linalg_core::param::positive("cone_tol", self.cone_tol)?;
        linalg_core::param::at_least("max_iters", self.max_iters, 1)?;
        Ok(())
    }
}

/// One ADMM iteration's record.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AdmmRecord {
    /// Iterations completed.
    pub iteration: usize,
    /// The convex objective at `(v, w)`.
    pub objective: f64,
    /// The certificate's relative gap bound at `(v, w)`.
    pub gap_bound: f64,
    /// The cone violation at `(v, w)`.
    pub cone_violation: f64,
    /// `‖(u − v, Gu − s[, Fu − r])‖`.
    pub primal_residual: f64,
    /// `ρ‖(v − v⁻) + Gᵀ(s − s⁻)[ + (ρ_r/ρ)Fᵀ(r − r⁻)]‖`.
    pub dual_residual: f64,
    /// The penalty in use.
    pub rho: f64,
    /// Seconds since the start.
    pub seconds: f64,
}

linalg_core::impl_iteration_record!(AdmmRecord);

/// The outcome of [`admm`].
#[derive(Debug, Clone)]
pub struct AdmmReport {
    /// `d × P`: the `vᵢ` (positive output weights).
    pub v: Mat<f64>,
    /// `d × P`: the `wᵢ` (negative output weights).
    pub w: Mat<f64>,
    /// The convex objective at `(v, w)`.
    pub objective: f64,
    /// The certified lower bound on the optimum `p*`.
    pub dual_bound: f64,
    /// `(objective − dual_bound)/|objective|`.
    pub gap_bound: f64,
    /// The final primal residual.
    pub primal_residual: f64,
    /// The final dual residual.
    pub dual_residual: f64,
    /// `max(0, −min EᵢXvᵢ, −min EᵢXwᵢ)`: the cone violation at `(v, w)`.
    pub cone_violation: f64,
    /// The loss.
    pub loss: Loss,
    /// The final `ρ`.
    pub rho: f64,
    /// The u-system solver used.
    pub u_solver: USolver,
    /// Iterations.
    pub iterations: usize,
    /// Whether the certificate or the residual test passed.
    pub converged: bool,
    /// Why the run stopped.
    pub termination: Termination,
    /// One record per iteration, from the start.
    pub history: Vec<AdmmRecord>,
    /// Wall time (factorisations included).
    pub elapsed: std::time::Duration,
    /// `matvecs`: products with `X` or `Xᵀ` (each on a `d × P` or `n × P` block).
    pub work: Work,
}

/// Group soft-thresholding of each column of `a` at `t`, in place.
fn shrink(mut a: Mat<f64>, t: f64) -> Mat<f64> {
    for k in 0..a.ncols() {
        let nrm = a.col(k).norm_l2();
        let s = if nrm > t { 1.0 - t / nrm } else { 0.0 };
        for i in 0..a.nrows() {
            a[(i, k)] *= s;
        }
    }
    a
}

fn sq(a: &Mat<f64>) -> f64 {
    a.squared_norm_l2()
}

/// ADMM on the convex program from zero, with the program's loss. The
/// observer sees every iteration.
pub fn admm(
    program: &ConvexProgram,
    params: &AdmmParams,
    observer: impl FnMut(&AdmmRecord) -> Control,
) -> Result<AdmmReport> {
    params.validate()?;
    let x = program.x.as_ref();
    let y = &program.y;
    let loss = program.loss;
    let split = loss != Loss::Squared;
    let masks = program.patterns.masks.as_ref();
    let (n, d, p) = (x.nrows(), x.ncols(), masks.ncols());
    let e = Mat::from_fn(n, p, |i, k| 2.0 * masks[(i, k)] - 1.0);
    let mut rho = params.effective_rho();
    let rho_r = params.loss_rho;
    // The factor's κ: A = I + (1/κ)FᵀF + GᵀG.
    let kappa = |rho: f64| if split { rho / rho_r } else { rho };
    let mut work = Work::default();
    let t0 = Instant::now();
    let mut solver = USystem::new(params.u_solver, x, masks, kappa(rho))?;
    let zeros_dp = || Mat::<f64>::zeros(d, p);
    let zeros_np = || Mat::<f64>::zeros(n, p);
    let (mut v, mut w, mut lv, mut lw) = (zeros_dp(), zeros_dp(), zeros_dp(), zeros_dp());
    let (mut sv, mut sw, mut nv, mut nw) = (zeros_np(), zeros_np(), zeros_np(), zeros_np());
    let (mut gts_v, mut gts_w, mut gtn_v, mut gtn_w) =
        (zeros_dp(), zeros_dp(), zeros_dp(), zeros_dp());
    // The split loss: r = Fu and its scaled dual η (unused for the squared loss).
    let (mut r, mut eta) = (Col::<f64>::zeros(n), Col::<f64>::zeros(n));
    let mut r_new = Col::<f64>::zeros(n);
    // Fᵀy (squared) or Fᵀ(r − η), without the factor 1/κ.
    let mut ft_target = program.ft(y);
    work.matvecs += p;
    let xtx = x.transpose() * x;
    let alpha = params.relaxation;
    let mut rec = Recorder::new(params.max_iters, observer);
    let zero_pred = Col::<f64>::zeros(n);
    let record0 = AdmmRecord {
        iteration: 0,
        objective: loss.value(&zero_pred, y),
        gap_bound: 1.0,
        cone_violation: 0.0,
        primal_residual: 0.0,
        dual_residual: 0.0,
        rho,
        seconds: 0.0,
    };
    let mut termination = rec.record(record0, false);
    let (mut pres, mut dres) = (f64::INFINITY, f64::INFINITY);
    let (mut objective, mut dual_bound, mut cone) = (record0.objective, f64::NEG_INFINITY, 0.0);
    let mut k = 0;
    while termination.is_none() {
        k += 1;
        // Gᵀs and Gᵀν are kept up to date instead of recomputed: with
        // GᵀG = blkdiag(XᵀX), Gᵀ(Ĝu) = αXᵀXu + (1 − α)Gᵀs costs d²P, so the
        // update needs six n × d × P products (u-solve 2, Xu and Xz, Gᵀs),
        // plus one for Fᵀ(r − η) and one for Fᵀ(r − r⁻) with a split loss.
        let inv_kappa = 1.0 / kappa(rho);
        let bv = &ft_target * inv_kappa + &v - &lv + &gts_v - &gtn_v;
        let bw = &ft_target * (-inv_kappa) + &w - &lw + &gts_w - &gtn_w;
        let (u, z) = solver.solve(x, masks, &bv, &bw, &mut work);
        let xu = x * &u;
        let xz = x * &z;
        let guv = Mat::from_fn(n, p, |i, j| e[(i, j)] * xu[(i, j)]);
        let guw = Mat::from_fn(n, p, |i, j| e[(i, j)] * xz[(i, j)]);
        // Over-relaxation.
        let uh = &u * alpha + &v * (1.0 - alpha);
        let zh = &z * alpha + &w * (1.0 - alpha);
        let gvh = &guv * alpha + &sv * (1.0 - alpha);
        let gwh = &guw * alpha + &sw * (1.0 - alpha);
        let gt_gvh = &xtx * &u * alpha + &gts_v * (1.0 - alpha);
        let gt_gwh = &xtx * &z * alpha + &gts_w * (1.0 - alpha);
        let (v_old, w_old) = (v.clone(), w.clone());
        v = shrink(&uh + &lv, params.beta / rho);
        w = shrink(&zh + &lw, params.beta / rho);
        sv = Mat::from_fn(n, p, |i, j| (gvh[(i, j)] + nv[(i, j)]).max(0.0));
        sw = Mat::from_fn(n, p, |i, j| (gwh[(i, j)] + nw[(i, j)]).max(0.0));
        let gts_v_new = x.transpose() * Mat::from_fn(n, p, |i, j| e[(i, j)] * sv[(i, j)]);
        let gts_w_new = x.transpose() * Mat::from_fn(n, p, |i, j| e[(i, j)] * sw[(i, j)]);
        work.matvecs += 6 * p;
        lv += &uh - &v;
        lw += &zh - &w;
        nv += &gvh - &sv;
        nw += &gwh - &sw;
        gtn_v += &gt_gvh - &gts_v_new;
        gtn_w += &gt_gwh - &gts_w_new;
        // Residuals (Boyd et al. §3.3) on the unrelaxed iterates.
        let mut pres2 = sq(&(&u - &v)) + sq(&(&z - &w)) + sq(&(&guv - &sv)) + sq(&(&guw - &sw));
        let mut dv = &v - &v_old + &gts_v_new - &gts_v;
        let mut dw = &w - &w_old + &gts_w_new - &gts_w;
        if split {
            let fu = program.row_sums((&xu - &xz).as_ref());
            let fuh = &fu * alpha + &r * (1.0 - alpha);
            let arg = &fuh + &eta;
            loss.prox(1.0 / rho_r, &arg, y, &mut r_new);
            eta += &fuh - &r_new;
            pres2 += (&fu - &r_new).squared_norm_l2();
            let ft_dr = program.ft(&(&r_new - &r));
            dv += &ft_dr * (rho_r / rho);
            dw -= &ft_dr * (rho_r / rho);
            std::mem::swap(&mut r, &mut r_new);
            ft_target = program.ft(&(&r - &eta));
            work.matvecs += 2 * p;
        }
        pres = pres2.sqrt();
        dres = rho * (sq(&dv) + sq(&dw)).sqrt();
        gts_v = gts_v_new;
        gts_w = gts_w_new;
        let primal_scale = (sq(&u) + sq(&z) + sq(&guv) + sq(&guw))
            .sqrt()
            .max((sq(&v) + sq(&w) + sq(&sv) + sq(&sw)).sqrt());
        let dual_scale = rho * (sq(&(&lv + &gtn_v)) + sq(&(&lw + &gtn_w))).sqrt();
        let eps_pri = ((2 * d * p + 2 * n * p) as f64).sqrt() * params.tol_abs
            + params.tol_rel * primal_scale;
        let eps_dual = ((2 * d * p) as f64).sqrt() * params.tol_abs + params.tol_rel * dual_scale;
        // The certificate of (v, w): Xv and Xw give the predictions and the
        // cone violation; λ and μ = −ρν the dual bound (program.rs).
        let xv = x * &v;
        let xw = x * &w;
        let pred = program.row_sums((&xv - &xw).as_ref());
        objective =
            loss.value(&pred, y) + ConvexProgram::penalty(v.as_ref(), w.as_ref(), params.beta);
        if !objective.is_finite() {
            return Err(Error::NonFinite { iteration: k });
        }
        cone = program.cone_violation_of(&xv, &xw);
        let lambda = if loss == Loss::Hinge {
            &eta * rho_r
        } else {
            loss.gradient(&pred, y)
        };
        dual_bound =
            program.dual_bound_from(&lambda, &(&gtn_v * -rho), &(&gtn_w * -rho), params.beta);
        work.matvecs += 3 * p;
        let gap = relative_gap(objective, dual_bound);
        let certified = gap <= params.gap_tol && cone <= params.cone_tol;
        let record = AdmmRecord {
            iteration: k,
            objective,
            gap_bound: gap,
            cone_violation: cone,
            primal_residual: pres,
            dual_residual: dres,
            rho,
            seconds: t0.elapsed().as_secs_f64(),
        };
        termination = rec.record(record, certified || (pres <= eps_pri && dres <= eps_dual));
        if termination.is_none() && params.adaptive_rho && k % 10 == 0 {
            // Balance the residuals relative to their own tolerances (the
            // primal one lives on 2(d + n)P entries, the dual on 2dP; raw
            // balancing drove ρ to ≈ 1 here, 10–100× slower than ρ = 10).
            let (rp, rd) = (pres / eps_pri, dres / eps_dual);
            let scale = if rp > 10.0 * rd {
                2.0
            } else if rd > 10.0 * rp {
                0.5
            } else {
                1.0
            };
            if scale != 1.0 {
                rho *= scale;
                // Scaled duals are y/ρ (η is scaled by ρ_r, which stays).
                for m in [&mut lv, &mut lw, &mut nv, &mut nw, &mut gtn_v, &mut gtn_w] {
                    *m *= 1.0 / scale;
                }
                solver.refactor(d, kappa(rho))?;
            }
        }
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let (history, elapsed) = rec.finish();
    Ok(AdmmReport {
        objective,
        dual_bound,
        gap_bound: relative_gap(objective, dual_bound),
        cone_violation: cone,
        v,
        w,
        primal_residual: pres,
        dual_residual: dres,
        loss,
        rho,
        u_solver: solver.kind(),
        iterations: k,
        converged: termination == Termination::Converged,
        termination,
        history,
        elapsed,
        work,
    })
}
