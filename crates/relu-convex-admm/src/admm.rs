//! ADMM on the convex reformulation (Bai, Gautam, Sojoudi 2023, Algorithm
//! 3.1), squared loss.
//!
//! ```text
//! min_{v,w} ½‖Σᵢ DᵢX(vᵢ − wᵢ) − y‖² + β Σᵢ(‖vᵢ‖₂ + ‖wᵢ‖₂)   s.t. EᵢXvᵢ ≥ 0, EᵢXwᵢ ≥ 0   (Eᵢ = 2Dᵢ − I)
//! split u = v, Gu = s ≥ 0 (G = blkdiag(EᵢX)), scaled duals λ, ν:
//!   u ← A⁻¹((1/ρ)Fᵀy + v − λ + Gᵀ(s − ν)),   A = I + (1/ρ)FᵀF + GᵀG
//!   û = αu + (1 − α)v,  Ĝu = αGu + (1 − α)s                      (over-relaxation)
//!   vᵢ ← (1 − (β/ρ)/‖ûᵢ + λᵢ‖)₊ (ûᵢ + λᵢ)                        (group soft-threshold)
//!   s ← (Ĝu + ν)₊;   λ ← λ + û − v;   ν ← ν + Ĝu − s
//! ```
//!
//! The u-system is solved by the matrix-inversion lemma: `GᵀG =
//! blkdiag(XᵀX)`, so `B = I + GᵀG` needs one `d × d` Cholesky, and
//! `A⁻¹ = B⁻¹ − B⁻¹Fᵀ(ρI + FB⁻¹Fᵀ)⁻¹FB⁻¹` with `FB⁻¹Fᵀ = 2S ⊙ (DDᵀ)`, `S =
//! X(I + XᵀX)⁻¹Xᵀ`: one `n × n` Cholesky, refactored only when ρ changes.
//! Per iteration: four `n × d × P` products and two `n × n` triangular
//! solves (`O(ndP + n²)`), memory `2n²` for `S` and the factor. Every
//! array is `d × P` or `n × P` (one column per pattern), so the products
//! are faer matrix products. ρ adapts by residual balancing (Boyd et al.
//! 2011, §3.4.1): ×2 or ÷2 when one residual, relative to its tolerance,
//! exceeds 10× the other, checked every 10 iterations, the scaled duals
//! rescaled.

use std::time::Instant;

use linalg_core::faer::linalg::solvers::{Llt, Solve};
use linalg_core::faer::{Col, Mat, MatRef, Side};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::patterns::Patterns;
use crate::{Error, Result};

/// Parameters of [`admm`], validated once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmmParams {
    /// The group-lasso weight `β > 0`.
    pub beta: f64,
    /// The penalty `ρ > 0` (default `β`: the best ρ scales with the data;
    /// on the issue's speed setup, β = 24.8, ρ ∈ {10, 20, 30, 50} took 606,
    /// 582, 863, 1 436 iterations to 1e-4 with α = 1.8, and on a toy with
    /// β = 0.5, ρ ∈ {1, 5, 10, 20} took 666, 3 355, 6 705, > 10 000).
    pub rho: Option<f64>,
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
            adaptive_rho: false,
            relaxation: 1.8,
            tol_abs: 1e-6,
            tol_rel: 1e-6,
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
    /// Sets both tolerances.
    pub fn tol(mut self, t: f64) -> Self {
        self.tol_abs = t;
        self.tol_rel = t;
        self
    }
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = k;
        self
    }
    /// Rejects `β ≤ 0`, `ρ ≤ 0`, `α ∉ (0, 2)`, non-positive tolerances and a
    /// zero limit.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::positive("beta", self.beta)?;
        if let Some(r) = self.rho {
            linalg_core::param::positive("rho", r)?;
        }
        linalg_core::param::in_range("relaxation", self.relaxation, 1e-3, 1.999)?;
        linalg_core::param::positive("tol_abs", self.tol_abs)?;
        linalg_core::param::positive("tol_rel", self.tol_rel)?;
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
    /// `‖(u − v, Gu − s)‖`.
    pub primal_residual: f64,
    /// `ρ‖(v − v⁻) + Gᵀ(s − s⁻)‖`.
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
    /// The final primal residual.
    pub primal_residual: f64,
    /// The final dual residual.
    pub dual_residual: f64,
    /// `max(0, −min EᵢXvᵢ, −min EᵢXwᵢ)`: the cone violation at `(v, w)`.
    pub cone_violation: f64,
    /// The final `ρ`.
    pub rho: f64,
    /// The u-system solver used.
    pub u_solver: USolver,
    /// Iterations.
    pub iterations: usize,
    /// Whether both residual tests passed.
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

/// The largest `n` of the Woodbury path (two dense `n × n` arrays).
pub const MAX_SAMPLES: usize = 8000;

/// The training data and patterns of one convex program.
#[derive(Debug, Clone)]
pub struct ConvexProgram {
    x: Mat<f64>,
    y: Col<f64>,
    patterns: Patterns,
}

impl ConvexProgram {
    /// `x` (`n × d`, finite, `1 ≤ n ≤ 10⁶`), targets `y` (length `n`,
    /// finite), and patterns computed on `x`.
    pub fn new(x: MatRef<'_, f64>, y: &[f64], patterns: Patterns) -> Result<Self> {
        let n = x.nrows();
        linalg_core::param::at_least("samples", n, 1)?;
        linalg_core::param::in_range("samples", n as f64, 1.0, 1e6)?;
        linalg_core::param::dimension("y", n, y.len())?;
        linalg_core::param::dimension("patterns (rows)", n, patterns.masks.nrows())?;
        linalg_core::param::finite_slice("y", y)?;
        for j in 0..x.ncols() {
            linalg_core::param::finite("x", x.col(j))?;
        }
        Ok(Self {
            x: x.to_owned(),
            y: Col::from_fn(n, |i| y[i]),
            patterns,
        })
    }

    /// The data.
    pub fn x(&self) -> MatRef<'_, f64> {
        self.x.as_ref()
    }

    /// The targets.
    pub fn y(&self) -> &Col<f64> {
        &self.y
    }

    /// The patterns.
    pub fn patterns(&self) -> &Patterns {
        &self.patterns
    }

    /// `Σᵢ DᵢX(vᵢ − wᵢ)`: the convex model's predictions on the training data.
    pub fn predict(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>) -> Col<f64> {
        let xd = &self.x * (v - w);
        let m = &self.patterns.masks;
        Col::from_fn(self.x.nrows(), |i| {
            (0..m.ncols()).map(|k| m[(i, k)] * xd[(i, k)]).sum()
        })
    }

    /// The convex objective `½‖pred − y‖² + β Σ(‖vᵢ‖ + ‖wᵢ‖)`.
    pub fn objective(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>, beta: f64) -> f64 {
        let r = self.predict(v, w) - &self.y;
        let groups: f64 = (0..v.ncols())
            .map(|k| v.col(k).norm_l2() + w.col(k).norm_l2())
            .sum();
        0.5 * r.squared_norm_l2() + beta * groups
    }

    /// `max(0, −min EᵢXvᵢ, −min EᵢXwᵢ)`.
    pub fn cone_violation(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>) -> f64 {
        let m = &self.patterns.masks;
        let mut worst: f64 = 0.0;
        for z in [&self.x * v, &self.x * w] {
            for k in 0..z.ncols() {
                for i in 0..z.nrows() {
                    worst = worst.max(-(2.0 * m[(i, k)] - 1.0) * z[(i, k)]);
                }
            }
        }
        worst
    }
}

/// The u-system `A u = b` by the matrix-inversion lemma.
struct Woodbury {
    /// Cholesky of `I + XᵀX` (`d × d`).
    m: Llt<f64>,
    /// `S ⊙ (DDᵀ)` (`n × n`), kept to refactor `ρI + 2·this` when ρ changes.
    sdd: Mat<f64>,
    /// Cholesky of `ρI + 2S ⊙ (DDᵀ)`.
    k: Llt<f64>,
}

impl Woodbury {
    fn new(x: MatRef<'_, f64>, masks: MatRef<'_, f64>, rho: f64) -> Result<Self> {
        let d = x.ncols();
        let mut b = x.transpose() * x;
        for i in 0..d {
            b[(i, i)] += 1.0;
        }
        let m = b
            .llt(Side::Lower)
            .map_err(|_| Error::Factorisation("I + XᵀX"))?;
        let mxt = m.solve(x.transpose());
        let s = x * &mxt;
        let ddt = masks * masks.transpose();
        let n = x.nrows();
        let sdd = Mat::from_fn(n, n, |i, j| s[(i, j)] * ddt[(i, j)]);
        let k = Self::factor(&sdd, rho)?;
        Ok(Self { m, sdd, k })
    }

    fn factor(sdd: &Mat<f64>, rho: f64) -> Result<Llt<f64>> {
        let n = sdd.nrows();
        let kmat = Mat::from_fn(n, n, |i, j| {
            2.0 * sdd[(i, j)] + if i == j { rho } else { 0.0 }
        });
        kmat.llt(Side::Lower)
            .map_err(|_| Error::Factorisation("ρI + 2S ⊙ DDᵀ"))
    }

    /// `(U, Z) = A⁻¹(bv, bw)` (all `d × P`).
    fn solve(
        &self,
        x: MatRef<'_, f64>,
        masks: MatRef<'_, f64>,
        bv: &Mat<f64>,
        bw: &Mat<f64>,
        work: &mut Work,
    ) -> (Mat<f64>, Mat<f64>) {
        let tv = self.m.solve(bv);
        let tw = self.m.solve(bw);
        let xt = x * (&tv - &tw);
        let n = x.nrows();
        let r = Col::from_fn(n, |i| {
            (0..masks.ncols())
                .map(|k| masks[(i, k)] * xt[(i, k)])
                .sum::<f64>()
        });
        let q = self.k.solve(&r);
        let dq = Mat::from_fn(n, masks.ncols(), |i, k| masks[(i, k)] * q[i]);
        let c = self.m.solve(x.transpose() * dq);
        work.matvecs += 2 * masks.ncols();
        (&tv - &c, &tw + &c)
    }
}

/// The u-system by one dense Cholesky of `A = I + (1/ρ)FᵀF + GᵀG`
/// (`2dP × 2dP`): the oracle for the Woodbury form, and the path for many
/// samples and few patterns (its memory does not grow with `n`).
struct Dense {
    /// `FᵀF` (`2dP × 2dP`).
    ftf: Mat<f64>,
    /// `XᵀX` (`d × d`): the diagonal blocks of `GᵀG`.
    xtx: Mat<f64>,
    a: Llt<f64>,
}

impl Dense {
    fn new(x: MatRef<'_, f64>, masks: MatRef<'_, f64>, rho: f64) -> Result<Self> {
        let (n, d, p) = (x.nrows(), x.ncols(), masks.ncols());
        // F = [D₁X … D_PX, −D₁X … −D_PX] (n × 2dP).
        let f = Mat::from_fn(n, 2 * d * p, |i, c| {
            let (blk, j) = (c / d, c % d);
            let (k, sign) = if blk < p { (blk, 1.0) } else { (blk - p, -1.0) };
            sign * masks[(i, k)] * x[(i, j)]
        });
        let ftf = f.transpose() * &f;
        let xtx = x.transpose() * x;
        let a = Self::factor(&ftf, &xtx, d, rho)?;
        Ok(Self { ftf, xtx, a })
    }

    fn factor(ftf: &Mat<f64>, xtx: &Mat<f64>, d: usize, rho: f64) -> Result<Llt<f64>> {
        let m = ftf.nrows();
        let a = Mat::from_fn(m, m, |r, c| {
            let g = if r / d == c / d {
                xtx[(r % d, c % d)]
            } else {
                0.0
            };
            ftf[(r, c)] / rho + g + if r == c { 1.0 } else { 0.0 }
        });
        a.llt(Side::Lower)
            .map_err(|_| Error::Factorisation("I + FᵀF/ρ + GᵀG"))
    }

    fn solve(&self, bv: &Mat<f64>, bw: &Mat<f64>) -> (Mat<f64>, Mat<f64>) {
        let (d, p) = (bv.nrows(), bv.ncols());
        let b = Col::from_fn(2 * d * p, |i| {
            let (blk, j) = (i / d, i % d);
            if blk < p {
                bv[(j, blk)]
            } else {
                bw[(j, blk - p)]
            }
        });
        let u = self.a.solve(&b);
        (
            Mat::from_fn(d, p, |j, k| u[k * d + j]),
            Mat::from_fn(d, p, |j, k| u[(p + k) * d + j]),
        )
    }
}

/// How the u-system is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum USolver {
    /// The smaller of the two in memory: dense when `(2dP)² < 2n²`.
    Auto,
    /// The matrix-inversion lemma: `2n²` numbers (`n ≤ MAX_SAMPLES`).
    Woodbury,
    /// One dense Cholesky of `A`: `2(2dP)²` numbers (`2dP ≤ MAX_DENSE`).
    Dense,
}

/// The largest `2dP` of the dense path (two `2dP × 2dP` arrays).
pub const MAX_DENSE: usize = 6000;

enum USystem {
    Woodbury(Woodbury),
    Dense(Dense),
}

impl USystem {
    fn new(kind: USolver, x: MatRef<'_, f64>, masks: MatRef<'_, f64>, rho: f64) -> Result<Self> {
        let (n, m) = (x.nrows(), 2 * x.ncols() * masks.ncols());
        let dense = match kind {
            USolver::Dense => true,
            USolver::Woodbury => false,
            USolver::Auto => (m * m < 2 * n * n && m <= MAX_DENSE) || n > MAX_SAMPLES,
        };
        if dense {
            linalg_core::param::in_range("2dP (dense u-solver)", m as f64, 1.0, MAX_DENSE as f64)?;
            Ok(USystem::Dense(Dense::new(x, masks, rho)?))
        } else {
            linalg_core::param::in_range(
                "samples (Woodbury u-solver)",
                n as f64,
                1.0,
                MAX_SAMPLES as f64,
            )?;
            Ok(USystem::Woodbury(Woodbury::new(x, masks, rho)?))
        }
    }

    fn refactor(&mut self, d: usize, rho: f64) -> Result<()> {
        match self {
            USystem::Woodbury(w) => w.k = Woodbury::factor(&w.sdd, rho)?,
            USystem::Dense(dn) => dn.a = Dense::factor(&dn.ftf, &dn.xtx, d, rho)?,
        }
        Ok(())
    }

    fn solve(
        &self,
        x: MatRef<'_, f64>,
        masks: MatRef<'_, f64>,
        bv: &Mat<f64>,
        bw: &Mat<f64>,
        work: &mut Work,
    ) -> (Mat<f64>, Mat<f64>) {
        match self {
            USystem::Woodbury(w) => w.solve(x, masks, bv, bw, work),
            USystem::Dense(dn) => dn.solve(bv, bw),
        }
    }

    fn kind(&self) -> USolver {
        match self {
            USystem::Woodbury(_) => USolver::Woodbury,
            USystem::Dense(_) => USolver::Dense,
        }
    }
}

/// Group soft-thresholding of each column of `a` at `t`.
fn shrink(a: &Mat<f64>, t: f64) -> Mat<f64> {
    let mut out = a.clone();
    for k in 0..a.ncols() {
        let nrm = a.col(k).norm_l2();
        let s = if nrm > t { 1.0 - t / nrm } else { 0.0 };
        for i in 0..a.nrows() {
            out[(i, k)] *= s;
        }
    }
    out
}

fn sq(a: &Mat<f64>) -> f64 {
    a.squared_norm_l2()
}

/// ADMM on the convex program with the squared loss from zero. The
/// observer sees every iteration.
pub fn admm(
    program: &ConvexProgram,
    params: &AdmmParams,
    observer: impl FnMut(&AdmmRecord) -> Control,
) -> Result<AdmmReport> {
    params.validate()?;
    let x = program.x.as_ref();
    let masks = program.patterns.masks.as_ref();
    let (n, d, p) = (x.nrows(), x.ncols(), masks.ncols());
    let e = Mat::from_fn(n, p, |i, k| 2.0 * masks[(i, k)] - 1.0);
    let mut rho = params.effective_rho();
    let mut work = Work::default();
    let t0 = Instant::now();
    let mut solver = USystem::new(params.u_solver, x, masks, rho)?;
    // (1/ρ)Fᵀy without the 1/ρ: Xᵀ(D ∘ y), the w-blocks its negative.
    let fty = x.transpose() * Mat::from_fn(n, p, |i, k| masks[(i, k)] * program.y[i]);
    let zeros_dp = || Mat::<f64>::zeros(d, p);
    let zeros_np = || Mat::<f64>::zeros(n, p);
    let (mut v, mut w, mut lv, mut lw) = (zeros_dp(), zeros_dp(), zeros_dp(), zeros_dp());
    let (mut sv, mut sw, mut nv, mut nw) = (zeros_np(), zeros_np(), zeros_np(), zeros_np());
    let (mut gts_v, mut gts_w, mut gtn_v, mut gtn_w) =
        (zeros_dp(), zeros_dp(), zeros_dp(), zeros_dp());
    let xtx = x.transpose() * x;
    let alpha = params.relaxation;
    let mut rec = Recorder::new(params.max_iters, observer);
    let record0 = AdmmRecord {
        iteration: 0,
        objective: program.objective(v.as_ref(), w.as_ref(), params.beta),
        primal_residual: 0.0,
        dual_residual: 0.0,
        rho,
        seconds: 0.0,
    };
    let mut termination = rec.record(record0, false);
    let (mut pres, mut dres) = (f64::INFINITY, f64::INFINITY);
    let mut k = 0;
    while termination.is_none() {
        k += 1;
        // Gᵀs and Gᵀν are kept up to date instead of recomputed: with
        // GᵀG = blkdiag(XᵀX), Gᵀ(Ĝu) = αXᵀXu + (1 − α)Gᵀs costs d²P, so an
        // iteration needs six n × d × P products (u-solve 2, Xu and Xz, Gᵀs)
        // instead of ten.
        let bv = &fty * (1.0 / rho) + &v - &lv + &gts_v - &gtn_v;
        let bw = &fty * (-1.0 / rho) + &w - &lw + &gts_w - &gtn_w;
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
        v = shrink(&(&uh + &lv), params.beta / rho);
        w = shrink(&(&zh + &lw), params.beta / rho);
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
        pres = (sq(&(&u - &v)) + sq(&(&z - &w)) + sq(&(&guv - &sv)) + sq(&(&guw - &sw))).sqrt();
        dres = rho
            * (sq(&(&v - &v_old + &gts_v_new - &gts_v)) + sq(&(&w - &w_old + &gts_w_new - &gts_w)))
                .sqrt();
        gts_v = gts_v_new;
        gts_w = gts_w_new;
        let primal_scale = (sq(&u) + sq(&z) + sq(&guv) + sq(&guw))
            .sqrt()
            .max((sq(&v) + sq(&w) + sq(&sv) + sq(&sw)).sqrt());
        let dual_scale = rho * (sq(&(&lv + &gtn_v)) + sq(&(&lw + &gtn_w))).sqrt();
        let eps_pri = ((2 * d * p + 2 * n * p) as f64).sqrt() * params.tol_abs
            + params.tol_rel * primal_scale;
        let eps_dual = ((2 * d * p) as f64).sqrt() * params.tol_abs + params.tol_rel * dual_scale;
        let objective = program.objective(v.as_ref(), w.as_ref(), params.beta);
        if !objective.is_finite() {
            return Err(Error::NonFinite { iteration: k });
        }
        let r = AdmmRecord {
            iteration: k,
            objective,
            primal_residual: pres,
            dual_residual: dres,
            rho,
            seconds: t0.elapsed().as_secs_f64(),
        };
        termination = rec.record(r, pres <= eps_pri && dres <= eps_dual);
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
                // Scaled duals are y/ρ.
                for m in [&mut lv, &mut lw, &mut nv, &mut nw, &mut gtn_v, &mut gtn_w] {
                    *m *= 1.0 / scale;
                }
                solver.refactor(d, rho)?;
            }
        }
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let (history, elapsed) = rec.finish();
    Ok(AdmmReport {
        objective: program.objective(v.as_ref(), w.as_ref(), params.beta),
        cone_violation: program.cone_violation(v.as_ref(), w.as_ref()),
        v,
        w,
        primal_residual: pres,
        dual_residual: dres,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_woodbury_u_solve_matches_a_dense_solve_of_the_full_system() {
        // A = I + (1/ρ)FᵀF + GᵀG assembled densely (2dP × 2dP) for a tiny
        // program, against USolver on random right-hand sides.
        let (n, d) = (9, 3);
        let x = Mat::from_fn(n, d, |i, j| ((i * 5 + j * 7) % 13) as f64 / 6.0 - 1.0);
        let h = Mat::from_fn(d, 4, |i, j| ((i + 2 * j) % 5) as f64 - 2.0 + 0.1 * j as f64);
        let pat = Patterns::from_generators(x.as_ref(), h.as_ref()).unwrap();
        let p = pat.len();
        let m = pat.masks.as_ref();
        let rho = 3.0;
        let dim = 2 * d * p;
        // F = [D₁X … D_PX, −D₁X … −D_PX];  G = blkdiag(EᵢX, EᵢX).
        let f = Mat::from_fn(n, dim, |i, c| {
            let (blk, j) = (c / d, c % d);
            let (k, sign) = if blk < p { (blk, 1.0) } else { (blk - p, -1.0) };
            sign * m[(i, k)] * x[(i, j)]
        });
        let g = Mat::from_fn(2 * n * p, dim, |r, c| {
            let (rb, i) = (r / n, r % n);
            let (cb, j) = (c / d, c % d);
            if rb != cb {
                return 0.0;
            }
            let k = if rb < p { rb } else { rb - p };
            (2.0 * m[(i, k)] - 1.0) * x[(i, j)]
        });
        let mut a = f.transpose() * &f * (1.0 / rho) + g.transpose() * &g;
        for i in 0..dim {
            a[(i, i)] += 1.0;
        }
        let b = Col::from_fn(dim, |i| ((i * 3) % 7) as f64 - 3.0);
        let dense = a.llt(Side::Lower).unwrap().solve(&b);
        let solver = Woodbury::new(x.as_ref(), m, rho).unwrap();
        let bv = Mat::from_fn(d, p, |j, k| b[k * d + j]);
        let bw = Mat::from_fn(d, p, |j, k| b[(p + k) * d + j]);
        let (u, z) = solver.solve(x.as_ref(), m, &bv, &bw, &mut Work::default());
        let ours = Col::from_fn(dim, |i| {
            let (blk, j) = (i / d, i % d);
            if blk < p {
                u[(j, blk)]
            } else {
                z[(j, blk - p)]
            }
        });
        assert!(
            (&ours - &dense).norm_l2() < 1e-12 * dense.norm_l2(),
            "{:e}",
            (&ours - &dense).norm_l2()
        );
    }
}
