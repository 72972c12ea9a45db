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

use linalg_core::faer::linalg::matmul::matmul;
use linalg_core::faer::{Accum, Col, Mat, MatRef, Par};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::loss::Loss;
use crate::program::{ConvexProgram, relative_gap};
use crate::usolve::{Scratch, USolver, USystem};
use crate::{Error, Result};

/// Parameters of [`admm`], validated once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmmParams {
    /// The group-lasso weight `β > 0`.
    pub beta: f64,
    /// The penalty `ρ > 0` (default [`default_rho`]: `c‖X‖_F/6`).
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
    /// The `ρ` in use on `program`: the given one, or [`default_rho`].
    pub fn effective_rho(&self, program: &ConvexProgram) -> f64 {
        self.rho.unwrap_or_else(|| default_rho(program))
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

/// The largest `n·P` [`admm`] accepts.
pub const MAX_CELLS: usize = 5_000_000;

/// The default penalty `ρ = c‖X‖_F/6` (at least 1e-3), an empirical rule
/// that depends on the data only: ADMM here is invariant to scaling `y`
/// and `β` together, so a `ρ` tied to `β` (the earlier default) is not.
/// Best `ρ` of {2, 5, 10, 20, 50, 100} at tolerance 1e-6 (standardised
/// data, 50 patterns, squared loss): wine 0-vs-1 (n = 97, d = 13, rule 5.9)
/// 5; breast cancer (n = 426, d = 30, rule 19) 20; digits 2-vs-8 (n = 266,
/// d = 64, rule ≈ 19) 50, with 20 within 1.6× of its iterations; the
/// issue's speed setup (n = 500, d = 30, rule 20) 20. The factor `c`
/// follows the loss's curvature: 1 for the squared loss, 1/4 for the
/// logistic one (wine: ρ = 1.5 took 2 913 iterations, 6 took 11 608;
/// breast cancer: 3 took 5 074, 19 took 17 024), 1/2 for the hinge
/// (breast cancer: 8 took 9 616, 3 took 13 766, 19 took 15 129).
pub fn default_rho(program: &ConvexProgram) -> f64 {
    let c = match program.loss() {
        Loss::Squared => 1.0,
        Loss::Logistic => 0.25,
        Loss::Hinge => 0.5,
    };
    (c * program.x().norm_l2() / 6.0).max(1e-3)
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

/// Residual balancing's factor for `ρ` (Boyd et al. §3.4.1, residuals
/// relative to their tolerances): ×2 when the primal one exceeds 10× the
/// dual one, ÷2 in the opposite case, else 1.
pub(crate) fn balance_scale(primal: f64, dual: f64) -> f64 {
    if primal > 10.0 * dual {
        2.0
    } else if dual > 10.0 * primal {
        0.5
    } else {
        1.0
    }
}

/// `Σₖ |a|²` over a `d × q` or `n × q` array.
fn sq(a: &Mat<f64>) -> f64 {
    a.squared_norm_l2()
}

/// The products' parallelism: sequential below 2¹⁸ multiply-adds per
/// product (thread start-up costs more than it saves there; measured on
/// the wine program, 0.72 s with two threads against 0.51 s with one).
pub(crate) fn par_for(n: usize, d: usize, p: usize) -> Par {
    if n.saturating_mul(d).saturating_mul(p) >= 1 << 18 {
        linalg_core::faer::get_global_parallelism()
    } else {
        Par::Seq
    }
}

/// `out ← Fᵀc` for `c` of length `n`: `Xᵀ(D ∘ c)` in the v-blocks, its
/// negative in the w-blocks (`out` is `d × 2P`, `dc` an `n × P` buffer).
fn ft_into(
    x: MatRef<'_, f64>,
    masks: MatRef<'_, f64>,
    c: &Col<f64>,
    dc: &mut Mat<f64>,
    out: &mut Mat<f64>,
    par: Par,
) {
    let p = masks.ncols();
    for k in 0..p {
        let m = masks.col(k);
        for (i, t) in dc.col_as_slice_mut(k).iter_mut().enumerate() {
            *t = m[i] * c[i];
        }
    }
    matmul(
        out.subcols_mut(0, p),
        Accum::Replace,
        x.transpose(),
        dc.as_ref(),
        1.0,
        par,
    );
    for k in 0..p {
        for j in 0..out.nrows() {
            out[(j, p + k)] = -out[(j, k)];
        }
    }
}

/// `Σₖ Dₖ ∘ (z_v − z_w)ₖ` for `z` of `n × 2P`: the predictions `Fu`.
fn f_apply(masks: MatRef<'_, f64>, z: &Mat<f64>, out: &mut Col<f64>) {
    let p = masks.ncols();
    out.fill(0.0);
    for k in 0..p {
        let (m, zv, zw) = (masks.col(k), z.col_as_slice(k), z.col_as_slice(p + k));
        for i in 0..out.nrows() {
            out[i] += m[i] * (zv[i] - zw[i]);
        }
    }
}

/// ADMM on the convex program from zero, with the program's loss. The
/// observer sees every iteration.
///
/// The v- and w-blocks live side by side in `d × 2P` (and `n × 2P`)
/// arrays, so each product with `X` covers both; per iteration the squared
/// loss needs seven `n × d × P` products (the u-solve 2, `XU` 2, `Gᵀs` 2,
/// the certificate's `Fᵀλ` 1) and the split losses two more (`Fᵀ(r − η)`,
/// `Fᵀ(r − r⁻)`). `Xv` and `Xλ` are carried along through the
/// shrinkage (`Xv = s·X(û + λ)` column by column) instead of recomputed,
/// and refreshed exactly every 100 iterations.
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
    let q = 2 * p;
    // The iteration keeps about sixteen n × P arrays (MAX_CELLS numbers
    // each at most, ≈ 0.6 GB in all): refuse more before allocating.
    let cells = n.saturating_mul(p);
    if cells > MAX_CELLS {
        return Err(linalg_core::ParamError::new(
            "patterns",
            format!("{n} samples × {p} patterns = {cells} exceeds {MAX_CELLS} (the ADMM buffers are ~16 n × P arrays)"),
        )
        .into());
    }
    let par = par_for(n, d, p);
    // Eᵢ for both blocks (n × 2P).
    let e2 = Mat::from_fn(n, q, |i, k| 2.0 * masks[(i, k % p)] - 1.0);
    let mut rho = params.effective_rho(program);
    let rho_r = params.loss_rho;
    // The factor's κ: A = I + (1/κ)FᵀF + GᵀG.
    let kappa = |rho: f64| if split { rho / rho_r } else { rho };
    let mut work = Work::default();
    let t0 = Instant::now();
    let mut solver = USystem::new(params.u_solver, x, masks, kappa(rho))?;
    let mut scratch = Scratch::new(n, d, p);
    let zeros_dq = || Mat::<f64>::zeros(d, q);
    let zeros_nq = || Mat::<f64>::zeros(n, q);
    // d × 2P: u, v, v⁻, λ, Gᵀs, Gᵀs⁻, Gᵀν, the right-hand side (also û + λ), Fᵀ·target, XᵀXu.
    let (mut u, mut v, mut v_old, mut lam) = (zeros_dq(), zeros_dq(), zeros_dq(), zeros_dq());
    let (mut gts, mut gts_old, mut gtn) = (zeros_dq(), zeros_dq(), zeros_dq());
    let (mut b, mut target, mut xtxu) = (zeros_dq(), zeros_dq(), zeros_dq());
    // n × 2P: Xu, Xv, Xλ (also X(û + λ)), s, ν, E ∘ s.
    let (mut xu, mut xv, mut xl) = (zeros_nq(), zeros_nq(), zeros_nq());
    let (mut s, mut nu, mut es) = (zeros_nq(), zeros_nq(), zeros_nq());
    let mut dc = Mat::<f64>::zeros(n, p);
    let mut dc2 = Mat::<f64>::zeros(n, q);
    let mut ft2 = zeros_dq();
    let mut ftl = Mat::<f64>::zeros(d, p);
    // The split loss: r = Fu and its scaled dual η (unused for the squared loss).
    let (mut r, mut eta, mut r_new) = (
        Col::<f64>::zeros(n),
        Col::<f64>::zeros(n),
        Col::<f64>::zeros(n),
    );
    let (mut fu, mut pred) = (Col::<f64>::zeros(n), Col::<f64>::zeros(n));
    let (mut prox_arg, mut lambda) = (Col::<f64>::zeros(n), Col::<f64>::zeros(n));
    // Fᵀy (squared) or Fᵀ(r − η), without the factor 1/κ.
    ft_into(x, masks, y, &mut dc, &mut target, par);
    work.matvecs += p;
    let xtx = x.transpose() * x;
    let alpha = params.relaxation;
    let mut rec = Recorder::new(params.max_iters, observer);
    let record0 = AdmmRecord {
        iteration: 0,
        objective: loss.value(&pred, y),
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
        let inv_kappa = 1.0 / kappa(rho);
        // u ← A⁻¹((1/κ)Fᵀ·target + v − λ + Gᵀs − Gᵀν).
        for j in 0..q {
            let (t, vj, lj) = (
                target.col_as_slice(j),
                v.col_as_slice(j),
                lam.col_as_slice(j),
            );
            let (gs, gn) = (gts.col_as_slice(j), gtn.col_as_slice(j));
            for (i, bi) in b.col_as_slice_mut(j).iter_mut().enumerate() {
                *bi = t[i] * inv_kappa + vj[i] - lj[i] + gs[i] - gn[i];
            }
        }
        work.matvecs += solver.solve_into(x, masks, &b, &mut u, &mut scratch, par);
        matmul(xu.as_mut(), Accum::Replace, x, u.as_ref(), 1.0, par);
        matmul(
            xtxu.as_mut(),
            Accum::Replace,
            xtx.as_ref(),
            u.as_ref(),
            1.0,
            Par::Seq,
        );
        work.matvecs += 2 * p;
        // Over-relaxation, then the group soft-threshold of û + λ; X(û + λ)
        // = αXu + (1 − α)Xv + Xλ gives Xv and Xλ without a product.
        v_old.copy_from(&v);
        let shrink_t = params.beta / rho;
        let mut groups = 0.0;
        let mut pres2 = 0.0;
        for j in 0..q {
            let (uj, vj, lj) = (u.col_as_slice(j), v.col_as_slice(j), lam.col_as_slice(j));
            let bj = b.col_as_slice_mut(j);
            for i in 0..d {
                bj[i] = alpha * uj[i] + (1.0 - alpha) * vj[i] + lj[i];
            }
            let nrm = bj.iter().map(|t| t * t).sum::<f64>().sqrt();
            let sc = if nrm > shrink_t {
                1.0 - shrink_t / nrm
            } else {
                0.0
            };
            groups += sc * nrm;
            let (vj, lj) = (v.col_as_slice_mut(j), lam.col_as_slice_mut(j));
            for i in 0..d {
                vj[i] = sc * bj[i];
                lj[i] = bj[i] - vj[i];
            }
            let (xuj, xvj, xlj) = (
                xu.col_as_slice(j),
                xv.col_as_slice_mut(j),
                xl.col_as_slice_mut(j),
            );
            for i in 0..n {
                let xb = alpha * xuj[i] + (1.0 - alpha) * xvj[i] + xlj[i];
                xvj[i] = sc * xb;
                xlj[i] = xb - xvj[i];
            }
        }
        // s ← (Ĝu + ν)₊, ν ← (Ĝu + ν) − s, with Ĝu = αGu + (1 − α)s.
        for j in 0..q {
            let (ej, xuj) = (e2.col_as_slice(j), xu.col_as_slice(j));
            let (sj, nj, esj) = (
                s.col_as_slice_mut(j),
                nu.col_as_slice_mut(j),
                es.col_as_slice_mut(j),
            );
            for i in 0..n {
                let gu = ej[i] * xuj[i];
                let a = alpha * gu + (1.0 - alpha) * sj[i] + nj[i];
                let s_new = a.max(0.0);
                pres2 += (gu - s_new) * (gu - s_new);
                sj[i] = s_new;
                nj[i] = a - s_new;
                esj[i] = ej[i] * s_new;
            }
        }
        std::mem::swap(&mut gts, &mut gts_old);
        matmul(
            gts.as_mut(),
            Accum::Replace,
            x.transpose(),
            es.as_ref(),
            1.0,
            par,
        );
        work.matvecs += 2 * p;
        // Gᵀν ← Gᵀν + Gᵀ(Ĝu) − Gᵀs, Gᵀ(Ĝu) = αXᵀXu + (1 − α)Gᵀs⁻ (GᵀG = blkdiag(XᵀX)).
        let mut dres2 = 0.0;
        let (mut uu, mut vv, mut lg) = (0.0, 0.0, 0.0);
        for j in 0..q {
            let (xj, gs, gso) = (
                xtxu.col_as_slice(j),
                gts.col_as_slice(j),
                gts_old.col_as_slice(j),
            );
            let (uj, vj, voj) = (u.col_as_slice(j), v.col_as_slice(j), v_old.col_as_slice(j));
            let gn = gtn.col_as_slice_mut(j);
            for i in 0..d {
                gn[i] += alpha * xj[i] + (1.0 - alpha) * gso[i] - gs[i];
                pres2 += (uj[i] - vj[i]) * (uj[i] - vj[i]);
                uu += uj[i] * uj[i];
                vv += vj[i] * vj[i];
                let dv = vj[i] - voj[i] + gs[i] - gso[i];
                dres2 += dv * dv;
                let t = lam[(i, j)] + gn[i];
                lg += t * t;
            }
        }
        if split {
            // r ← prox_{ℓ/ρ_r}(F̂u + η), η ← η + F̂u − r.
            f_apply(masks, &xu, &mut fu);
            for i in 0..n {
                let fuh = alpha * fu[i] + (1.0 - alpha) * r[i];
                prox_arg[i] = fuh + eta[i];
            }
            loss.prox(1.0 / rho_r, &prox_arg, y, &mut r_new);
            for i in 0..n {
                let fuh = alpha * fu[i] + (1.0 - alpha) * r[i];
                eta[i] += fuh - r_new[i];
                pres2 += (fu[i] - r_new[i]) * (fu[i] - r_new[i]);
            }
            // One product for both Fᵀ(r − r⁻) (dual residual) and Fᵀ(r − η)
            // (the next right-hand side).
            for kk in 0..p {
                let m = masks.col(kk);
                for i in 0..n {
                    dc2[(i, kk)] = m[i] * (r_new[i] - r[i]);
                    dc2[(i, p + kk)] = m[i] * (r_new[i] - eta[i]);
                }
            }
            matmul(
                ft2.as_mut(),
                Accum::Replace,
                x.transpose(),
                dc2.as_ref(),
                1.0,
                par,
            );
            work.matvecs += 2 * p;
            std::mem::swap(&mut r, &mut r_new);
            dres2 = 0.0;
            let w = rho_r / rho;
            for kk in 0..p {
                for i in 0..d {
                    let f = ft2[(i, kk)];
                    let dvv = v[(i, kk)] - v_old[(i, kk)] + gts[(i, kk)] - gts_old[(i, kk)] + w * f;
                    let dvw = v[(i, p + kk)] - v_old[(i, p + kk)] + gts[(i, p + kk)]
                        - gts_old[(i, p + kk)]
                        - w * f;
                    dres2 += dvv * dvv + dvw * dvw;
                    target[(i, kk)] = ft2[(i, p + kk)];
                    target[(i, p + kk)] = -ft2[(i, p + kk)];
                }
            }
        }
        if k % 100 == 0 {
            // Xv and Xλ were carried through the updates: refresh them.
            matmul(xv.as_mut(), Accum::Replace, x, v.as_ref(), 1.0, par);
            matmul(xl.as_mut(), Accum::Replace, x, lam.as_ref(), 1.0, par);
            work.matvecs += 4 * p;
        }
        pres = pres2.sqrt();
        dres = rho * dres2.sqrt();
        // ‖Gu‖ = ‖Xu‖ (E = ±1).
        let primal_scale = (uu + sq(&xu)).sqrt().max((vv + sq(&s)).sqrt());
        let dual_scale = rho * lg.sqrt();
        let eps_pri = ((2 * d * p + 2 * n * p) as f64).sqrt() * params.tol_abs
            + params.tol_rel * primal_scale;
        let eps_dual = ((2 * d * p) as f64).sqrt() * params.tol_abs + params.tol_rel * dual_scale;
        // The certificate of (v, w): the predictions and cone violation from
        // Xv; λ and μ = −ρν give the dual bound (program.rs).
        f_apply(masks, &xv, &mut pred);
        objective = loss.value(&pred, y) + params.beta * groups;
        if !objective.is_finite() {
            return Err(Error::NonFinite { iteration: k });
        }
        cone = 0.0;
        for j in 0..q {
            let (ej, xj) = (e2.col_as_slice(j), xv.col_as_slice(j));
            for i in 0..n {
                cone = f64::max(cone, -ej[i] * xj[i]);
            }
        }
        if loss == Loss::Hinge {
            for i in 0..n {
                lambda[i] = rho_r * eta[i];
            }
        } else {
            loss.gradient_into(&pred, y, &mut lambda);
        }
        loss.project_dual(&mut lambda, y);
        for kk in 0..p {
            let m = masks.col(kk);
            for (i, t) in dc.col_as_slice_mut(kk).iter_mut().enumerate() {
                *t = m[i] * lambda[i];
            }
        }
        matmul(
            ftl.as_mut(),
            Accum::Replace,
            x.transpose(),
            dc.as_ref(),
            1.0,
            par,
        );
        work.matvecs += p;
        let mut t_max: f64 = 0.0;
        for kk in 0..p {
            let (mut av, mut aw) = (0.0, 0.0);
            for i in 0..d {
                let f = ftl[(i, kk)];
                av += (-rho * gtn[(i, kk)] - f).powi(2);
                aw += (-rho * gtn[(i, p + kk)] + f).powi(2);
            }
            t_max = t_max.max(av.sqrt()).max(aw.sqrt());
        }
        dual_bound = program.dual_value(&lambda, t_max, params.beta);
        let gap = relative_gap(objective, dual_bound);
        // Converged: the cone violation within its tolerance, and the gap
        // bound or both residuals within theirs.
        let residuals_pass = pres <= eps_pri && dres <= eps_dual;
        let converged = cone <= params.cone_tol && (gap <= params.gap_tol || residuals_pass);
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
        termination = rec.record(record, converged);
        if termination.is_none() && params.adaptive_rho && k % 10 == 0 {
            // Balance the residuals relative to their own tolerances (the
            // primal one lives on 2(d + n)P entries, the dual on 2dP; raw
            // balancing drove ρ to ≈ 1 here, 10–100× slower than ρ = 10).
            let scale = balance_scale(pres / eps_pri, dres / eps_dual);
            if scale != 1.0 {
                rho *= scale;
                // Scaled duals are y/ρ (η is scaled by ρ_r, which stays).
                for m in [&mut lam, &mut nu, &mut gtn, &mut xl] {
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
        v: v.subcols(0, p).to_owned(),
        w: v.subcols(p, p).to_owned(),
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
