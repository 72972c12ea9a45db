//! Convex adversarial training (Bai, Gautam, Sojoudi 2023, §4): the convex
//! program made robust to `ℓ∞` perturbations `‖δₖ‖∞ ≤ ε` of the inputs,
//! and an ADMM for it with a duality-gap certificate at every iterate.
//!
//! With the patterns `Dᵢ` of the clean data kept, write `zₖ = Σᵢ dₖᵢ(vᵢ − wᵢ)`
//! (the network's effective linear map at sample `k`, so `ŷₖ = xₖᵀzₖ`) and
//! `‖·‖₁,f` for the `ℓ₁` norm over the perturbed features (a bias column is
//! not perturbed). The robust program is
//!
//! ```text
//! min  Σₖ φₖ(zₖ) + β Σᵢ(‖vᵢ‖₂ + ‖wᵢ‖₂)   s.t.  (2dₖᵢ − 1) xₖᵀvᵢ ≥ ε‖vᵢ‖₁,f,  (2dₖᵢ − 1) xₖᵀwᵢ ≥ ε‖wᵢ‖₁,f
//! hinge:    φₖ(z) = (1 − yₖxₖᵀz + ε‖z‖₁,f)₊            = max_{‖δ‖∞ ≤ ε} (1 − yₖ(xₖ + δ)ᵀz)₊
//! squared:  φₖ(z) = ½(|yₖ − xₖᵀz| + ε‖z‖₁,f)²          = max_{‖δ‖∞ ≤ ε} ½(yₖ − (xₖ + δ)ᵀz)²
//! ```
//!
//! The robust cone constraints keep every sample's activation pattern under
//! every admissible perturbation, so at a feasible point the recovered
//! network's worst-case loss is at most `Σₖ φₖ(zₖ)` (the robust objective
//! bounds the adversarial training objective from above, with the same
//! regulariser). On centred data a pattern's robust cone holds only `0`
//! unless a bias lets neurons sit away from the data:
//! [`Patterns::sample_with`](crate::Patterns::sample_with) can put the
//! all-active pattern (a linear neuron, generator `e_bias`) first.
//!
//! **ADMM.** `U = [v₁..v_P, w₁..w_P]` (`d × 2P`), splits `U = V` (group
//! soft-threshold), `(GU, U) = (S, T)` with `(Sᵢ, Tᵢ)` in the cone
//! `{(s, t) : s ≥ ε‖t‖₁,f 𝟙}` (projection by a one-dimensional monotone
//! root, [`project_cone`]), `MU = Z` (`Z` is `n × d`, rows `zₖ`, penalty
//! `ρ_r`, per-row proximal maps of `φₖ`). The u-system
//!
//! ```text
//! (2I + XᵀX) U + (ρ_r/ρ) U S = R,    S = [C −C; −C C],  C = DᵀD  (P × P)
//! ```
//!
//! is a Sylvester equation with commuting sides: with `XᵀX = QΛQᵀ` and `S =
//! WΣWᵀ` (two symmetric eigendecompositions, once per run) `U = Q[(QᵀRW) ⊘
//! (2 + λₐ + (ρ_r/ρ)σ_b)]Wᵀ`, and a change of ρ only changes the divisor.
//! Written here because it is this structure, not a general solver, that
//! makes the step cost `O(d²P + dP²)`.
//!
//! **Certificate.** For `λₖ = θₖwₖ` with `wₖ ∈ −σₖxₖ + εB∞,f` (the prox
//! gives this form: hinge `σₖ = yₖ`, `θₖ ∈ [0, 1]`; squared `σₖ ∈ [−1, 1]`)
//! and `μᵢ ≥ 0`, weak duality gives `p* ≥ Σₖ θₖ` (hinge) or `Σₖ(θₖσₖyₖ − ½θₖ²)`
//! (squared) when `‖soft_{εΣμᵢ}((Mᵀλ)ᵢ − XᵀEᵢμᵢ)‖ ≤ β` for every block (the
//! polar of the robust cone is `{−XᵀEμ + ε(Σμ)g : μ ≥ 0, ‖g‖∞,f ≤ 1}`; the
//! soft-threshold is the best `g`). ADMM's multipliers `λ = ρ_r(MU − Z)`
//! dual and `μ = −ρ·(dual of GU = S)` are scaled by one common `s` to
//! feasibility and the best `s` taken, as for the clean program.

use std::time::Instant;

use linalg_core::faer::linalg::matmul::matmul;
use linalg_core::faer::{Accum, Mat, MatRef, Par, Side};
use linalg_core::{Control, Recorder, Termination, Work};

use crate::admm::{AdmmParams, AdmmRecord, MAX_CELLS, balance_scale, default_rho, par_for};
use crate::loss::Loss;
use crate::program::{ConvexProgram, relative_gap};
use crate::{Error, Result};

/// The most patterns [`admm_robust`] accepts (its `2P × 2P` eigendecomposition).
pub const MAX_ROBUST_PATTERNS: usize = 2000;

/// A convex program made robust to `‖δ‖∞ ≤ ε` on the perturbed features.
#[derive(Debug, Clone)]
pub struct RobustProgram {
    program: ConvexProgram,
    eps: f64,
    perturbed: Vec<bool>,
}

impl RobustProgram {
    /// The robust form of `program` (hinge or squared loss) at radius
    /// `ε ≥ 0` (finite, at most 1e6), every feature perturbed.
    pub fn new(program: ConvexProgram, eps: f64) -> Result<Self> {
        linalg_core::param::nonnegative("eps", eps)?;
        linalg_core::param::in_range("eps", eps, 0.0, 1e6)?;
        if !matches!(program.loss(), Loss::Hinge | Loss::Squared) {
            return Err(linalg_core::ParamError::new(
                "loss",
                format!(
                    "the robust program has the hinge and squared losses, not {}",
                    program.loss().name()
                ),
            )
            .into());
        }
        let d = program.x().ncols();
        Ok(Self {
            program,
            eps,
            perturbed: vec![true; d],
        })
    }

    /// The same program with the given feature columns left unperturbed
    /// (a bias column); each index must be `< d`.
    pub fn with_fixed_columns(mut self, cols: &[usize]) -> Result<Self> {
        let d = self.perturbed.len();
        for &c in cols {
            if c >= d {
                return Err(linalg_core::ParamError::new(
                    "fixed columns",
                    format!("column {c} is out of range (the data have {d} columns)"),
                )
                .into());
            }
            self.perturbed[c] = false;
        }
        Ok(self)
    }

    /// The clean program.
    pub fn program(&self) -> &ConvexProgram {
        &self.program
    }

    /// The radius `ε`.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// Which columns are perturbed.
    pub fn perturbed(&self) -> &[bool] {
        &self.perturbed
    }

    /// `‖t‖₁` over the perturbed columns.
    fn l1f(&self, t: impl Iterator<Item = f64>) -> f64 {
        t.zip(&self.perturbed)
            .filter(|(_, p)| **p)
            .map(|(v, _)| v.abs())
            .sum()
    }

    /// The rows `zₖ = Σᵢ dₖᵢ(vᵢ − wᵢ)` (`n × d`).
    fn z_of(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>) -> Mat<f64> {
        let m = &self.program.patterns.masks;
        m * (v - w).transpose()
    }

    fn check(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>) -> Result<()> {
        let (d, p) = (self.program.x().ncols(), self.program.patterns().len());
        for (name, m) in [("v", v), ("w", w)] {
            linalg_core::param::dimension(name, d, m.nrows())?;
            linalg_core::param::dimension(name, p, m.ncols())?;
            for k in 0..p {
                linalg_core::param::finite(name, m.col(k))?;
            }
        }
        Ok(())
    }

    /// The worst-case loss of sample `k` at `zₖ` (`φₖ` in the module docs).
    fn phi(&self, k: usize, z: &[f64]) -> f64 {
        let x = self.program.x();
        let y = self.program.y()[k];
        let xz: f64 = (0..z.len()).map(|j| x[(k, j)] * z[j]).sum();
        let l1 = self.l1f(z.iter().copied());
        match self.program.loss() {
            Loss::Hinge => (1.0 - y * xz + self.eps * l1).max(0.0),
            _ => 0.5 * ((y - xz).abs() + self.eps * l1).powi(2),
        }
    }

    /// The robust objective `Σₖ φₖ(zₖ) + β Σᵢ(‖vᵢ‖ + ‖wᵢ‖)` of `(v, w)`
    /// (`d × P` each, finite; `β ≥ 0` finite).
    pub fn objective(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>, beta: f64) -> Result<f64> {
        self.check(v, w)?;
        linalg_core::param::nonnegative("beta", beta)?;
        let z = self.z_of(v, w);
        let mut row = vec![0.0; z.ncols()];
        let mut total = ConvexProgram::penalty(v, w, beta);
        for k in 0..z.nrows() {
            for (j, r) in row.iter_mut().enumerate() {
                *r = z[(k, j)];
            }
            total += self.phi(k, &row);
        }
        Ok(total)
    }

    /// `max(0, maxₖᵢ ε‖vᵢ‖₁,f − (2dₖᵢ − 1)xₖᵀvᵢ)` over both blocks: the robust
    /// cone violation of `(v, w)`.
    pub fn cone_violation(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>) -> Result<f64> {
        self.check(v, w)?;
        let m = &self.program.patterns.masks;
        let mut worst: f64 = 0.0;
        for b in [v, w] {
            let xb = self.program.x() * b;
            for i in 0..b.ncols() {
                let need = self.eps * self.l1f(b.col(i).iter().copied());
                for k in 0..xb.nrows() {
                    worst = worst.max(need - (2.0 * m[(k, i)] - 1.0) * xb[(k, i)]);
                }
            }
        }
        Ok(worst)
    }
}

/// The outcome of [`admm_robust`].
#[derive(Debug, Clone)]
pub struct RobustReport {
    /// `d × P`: the `vᵢ`.
    pub v: Mat<f64>,
    /// `d × P`: the `wᵢ`.
    pub w: Mat<f64>,
    /// The robust objective at `(v, w)`.
    pub objective: f64,
    /// The certified lower bound on the robust optimum.
    pub dual_bound: f64,
    /// `(objective − dual_bound)/|objective|`.
    pub gap_bound: f64,
    /// The final primal residual `‖(U − V, U − T, GU − S, MU − Z)‖`.
    pub primal_residual: f64,
    /// The final dual residual.
    pub dual_residual: f64,
    /// The robust cone violation at `(v, w)`.
    pub cone_violation: f64,
    /// The radius.
    pub eps: f64,
    /// The final `ρ`.
    pub rho: f64,
    /// Iterations.
    pub iterations: usize,
    /// Whether the certificate or the residual test passed.
    pub converged: bool,
    /// Why the run stopped.
    pub termination: Termination,
    /// One record per iteration.
    pub history: Vec<AdmmRecord>,
    /// Wall time.
    pub elapsed: std::time::Duration,
    /// `matvecs`: products with `X` or `Xᵀ` (each on a `d × P` or `n × P` block).
    pub work: Work,
}

/// `ℓ₁`-ball projection threshold: the `θ ≥ 0` with `Σⱼ(aⱼ − θ)₊ = r` for
/// `a` sorted descending with prefix sums `c` (0 when `Σa ≤ r`), and the
/// number of entries above it.
fn l1_threshold(a: &[f64], c: &[f64], r: f64) -> (f64, usize) {
    let total = c.last().copied().unwrap_or(0.0);
    if total <= r {
        return (0.0, 0);
    }
    if r <= 0.0 {
        // The ball is {0}: everything is thresholded away.
        return (a.first().copied().unwrap_or(0.0), 0);
    }
    let mut best = (0.0, 0);
    for kk in 0..a.len() {
        let th = (c[kk] - r) / (kk + 1) as f64;
        if a[kk] > th {
            best = (th.max(0.0), kk + 1);
        } else {
            break;
        }
    }
    best
}

/// Projects `(s, t)` onto `{(s, t) : sₖ ≥ ε‖t‖₁,f ∀k}` in place (`pf`
/// marks the perturbed entries of `t`; `buf` is scratch).
///
/// With the threshold `τ = ε‖t‖₁,f` of the projection, `s = max(s⁰, τ)` and
/// `t` is the projection of `t⁰` on the `ℓ₁` ball of radius `τ/ε`; `τ`
/// minimises the convex `J(τ) = ½‖(τ − s⁰)₊‖² + ½dist²(t⁰, B₁(τ/ε))`, whose
/// derivative `Σ(τ − s⁰ₖ)₊ − θ(τ/ε)/ε` (θ the ball's soft-threshold) is
/// increasing and piecewise linear: a safeguarded Newton root on
/// `[0, ε‖t⁰‖₁,f]`.
///
/// Errors: `ε` negative or not finite, `pf` not as long as `t`, a
/// non-finite entry in `s` or `t`.
pub fn project_cone(
    s: &mut [f64],
    t: &mut [f64],
    eps: f64,
    pf: &[bool],
    buf: &mut Vec<f64>,
) -> Result<()> {
    linalg_core::param::nonnegative("eps", eps)?;
    linalg_core::param::dimension("perturbed (length)", t.len(), pf.len())?;
    linalg_core::param::finite_slice("s", s)?;
    linalg_core::param::finite_slice("t", t)?;
    if eps == 0.0 {
        for v in s.iter_mut() {
            *v = v.max(0.0);
        }
        return Ok(());
    }
    let l1: f64 = t
        .iter()
        .zip(pf)
        .filter(|(_, p)| **p)
        .map(|(v, _)| v.abs())
        .sum();
    let smin = s.iter().copied().fold(f64::INFINITY, f64::min);
    if smin >= eps * l1 {
        return Ok(());
    }
    buf.clear();
    buf.extend(t.iter().zip(pf).filter(|(_, p)| **p).map(|(v, _)| v.abs()));
    buf.sort_by(|a, b| b.total_cmp(a));
    let m = buf.len();
    buf.resize(2 * m, 0.0);
    let mut acc = 0.0;
    for kk in 0..m {
        acc += buf[kk];
        buf[m + kk] = acc;
    }
    let (a, c) = buf.split_at(m);
    let deriv = |tau: f64| -> (f64, f64) {
        let (mut g, mut h) = (0.0, 0.0);
        for &sk in s.iter() {
            if sk < tau {
                g += tau - sk;
                h += 1.0;
            }
        }
        let (th, cnt) = l1_threshold(a, c, tau / eps);
        g -= th / eps;
        if cnt > 0 {
            h += 1.0 / (eps * eps * cnt as f64);
        }
        (g, h)
    };
    let (mut lo, mut hi) = (0.0, eps * l1);
    let tau = if deriv(0.0).0 >= 0.0 {
        0.0
    } else {
        let mut tau = smin.clamp(lo, hi);
        for _ in 0..200 {
            let (g, h) = deriv(tau);
            if g == 0.0 {
                break;
            }
            if g > 0.0 {
                hi = tau;
            } else {
                lo = tau;
            }
            let mut next = if h > 0.0 { tau - g / h } else { f64::NAN };
            if !(next > lo && next < hi) {
                next = 0.5 * (lo + hi);
            }
            if hi - lo <= 1e-15 * (1.0 + hi) || next == tau {
                tau = next;
                break;
            }
            tau = next;
        }
        tau
    };
    let (th, _) = l1_threshold(a, c, tau / eps);
    for v in s.iter_mut() {
        *v = v.max(tau);
    }
    for (v, p) in t.iter_mut().zip(pf) {
        if *p {
            *v = v.signum() * (v.abs() - th).max(0.0);
        }
    }
    Ok(())
}

/// Soft-threshold at `level` on the perturbed entries.
fn soft(v: f64, level: f64, perturbed: bool) -> f64 {
    if perturbed {
        v.signum() * (v.abs() - level).max(0.0)
    } else {
        v
    }
}

/// A safeguarded Newton root of the decreasing `g` on `[lo, hi]` with
/// `g(lo) > 0 > g(hi)`; `g` returns the value and slope.
fn decreasing_root(mut lo: f64, mut hi: f64, mut g: impl FnMut(f64) -> (f64, f64)) -> f64 {
    let mut x = 0.5 * (lo + hi);
    for _ in 0..200 {
        let (v, slope) = g(x);
        if v == 0.0 {
            return x;
        }
        if v > 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let mut next = if slope < 0.0 { x - v / slope } else { f64::NAN };
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if hi - lo <= 1e-15 * (1.0 + hi.abs()) || next == x {
            return next;
        }
        x = next;
    }
    x
}

/// The proximal map of `c·φₖ` at `q` (one row), written to `z`; returns
/// the dual data `(θ, σ)` with `(q − z)/c = θ(−σx + εg)`, `‖g‖∞,f ≤ 1`.
#[allow(clippy::too_many_arguments)]
fn robust_prox(
    loss: Loss,
    c: f64,
    q: &[f64],
    x: &[f64],
    y: f64,
    eps: f64,
    pf: &[bool],
    z: &mut [f64],
) -> (f64, f64) {
    let d = q.len();
    let l1 = |z: &[f64]| -> f64 { (0..d).filter(|&j| pf[j]).map(|j| z[j].abs()).sum() };
    let dot = |z: &[f64]| -> f64 { (0..d).map(|j| x[j] * z[j]).sum() };
    // z(θ) = argmin ½‖z − q‖² + θ(−σxᵀz + ε‖z‖₁,f).
    let shift = |theta: f64, sigma: f64, z: &mut [f64]| {
        for j in 0..d {
            z[j] = soft(q[j] + theta * sigma * x[j], theta * eps, pf[j]);
        }
    };
    // −d/dθ of (σ-side value) along z(θ): Σ_active (σxⱼ − ε sgn zⱼ)² + Σ_fixed xⱼ².
    let slope = |sigma: f64, z: &[f64]| -> f64 {
        (0..d)
            .map(|j| {
                if !pf[j] {
                    x[j] * x[j]
                } else if z[j] != 0.0 {
                    (sigma * x[j] - eps * z[j].signum()).powi(2)
                } else {
                    0.0
                }
            })
            .sum()
    };
    z.copy_from_slice(q);
    match loss {
        Loss::Hinge => {
            let g = |z: &[f64]| 1.0 - y * dot(z) + eps * l1(z);
            if g(z) <= 0.0 {
                return (0.0, y);
            }
            shift(c, y, z);
            if g(z) >= 0.0 {
                return (1.0, y);
            }
            let th = decreasing_root(0.0, c, |th| {
                shift(th, y, z);
                (g(z), -slope(y, z))
            });
            shift(th, y, z);
            (th / c, y)
        }
        _ => {
            // φ = ½ψ², ψ(z) = |y − xᵀz| + ε‖z‖₁,f: z = prox_{mψ}(q) with
            // m = cψ(z), found as the root of the increasing m − cψ(z(m)).
            let psi = |z: &[f64]| (y - dot(z)).abs() + eps * l1(z);
            let psi_q = psi(z);
            if psi_q == 0.0 {
                return (0.0, 0.0);
            }
            // prox_{mψ}(q): σ ∈ sign(y − xᵀz(σ)), y − xᵀz(σ) decreasing in σ.
            let inner = |m: f64, z: &mut [f64]| -> f64 {
                let r = |sig: f64, z: &mut [f64]| {
                    shift(m, sig, z);
                    y - dot(z)
                };
                if r(1.0, z) >= 0.0 {
                    return 1.0;
                }
                if r(-1.0, z) <= 0.0 {
                    return -1.0;
                }
                let sig = decreasing_root(-1.0, 1.0, |sig| {
                    let v = r(sig, z);
                    let h = (0..d)
                        .filter(|&j| !pf[j] || z[j] != 0.0)
                        .map(|j| x[j] * x[j])
                        .sum::<f64>();
                    (v, -m * h)
                });
                shift(m, sig, z);
                sig
            };
            // F(m) = cψ(z(m)) − m, decreasing; root by bisection-safeguarded secant.
            let (mut lo, mut hi) = (0.0, c * psi_q);
            let (mut flo, mut fhi) = (c * psi_q, {
                inner(hi, z);
                c * psi(z) - hi
            });
            let mut m = hi;
            if fhi < 0.0 {
                for _ in 0..200 {
                    let mut next = lo + flo * (hi - lo) / (flo - fhi);
                    if !(next > lo && next < hi) {
                        next = 0.5 * (lo + hi);
                    }
                    m = next;
                    inner(m, z);
                    let f = c * psi(z) - m;
                    if f.abs() <= 1e-15 * (1.0 + m) || hi - lo <= 1e-15 * (1.0 + hi) {
                        break;
                    }
                    if f > 0.0 {
                        lo = m;
                        flo = f;
                        fhi *= 0.5; // Illinois: keep the secant from stalling
                    } else {
                        hi = m;
                        fhi = f;
                        flo *= 0.5;
                    }
                }
            }
            let sig = inner(m, z);
            (m / c, sig)
        }
    }
}

/// ADMM on the robust program from zero (module docs); the observer sees
/// every iteration. `params` as for [`admm`](crate::admm) (`u_solver` is
/// not used: the u-system is solved spectrally).
pub fn admm_robust(
    program: &RobustProgram,
    params: &AdmmParams,
    observer: impl FnMut(&AdmmRecord) -> Control,
) -> Result<RobustReport> {
    params.validate()?;
    let base = &program.program;
    let x = base.x.as_ref();
    let y = &base.y;
    let loss = base.loss;
    let eps = program.eps;
    let pf = &program.perturbed;
    let masks = base.patterns.masks.as_ref();
    let (n, d, p) = (x.nrows(), x.ncols(), masks.ncols());
    let q = 2 * p;
    let cells = n.saturating_mul(p.max(d));
    if cells > MAX_CELLS {
        return Err(linalg_core::ParamError::new(
            "patterns",
            format!("{n} samples × {} = {cells} exceeds {MAX_CELLS}", p.max(d)),
        )
        .into());
    }
    linalg_core::param::in_range("patterns", p as f64, 1.0, MAX_ROBUST_PATTERNS as f64)?;
    let par = par_for(n, d, p);
    let e2 = Mat::from_fn(n, q, |i, k| 2.0 * masks[(i, k % p)] - 1.0);
    let mut rho = params.rho.unwrap_or_else(|| default_rho(base));
    let rho_r = params.loss_rho;
    let t0 = Instant::now();
    let mut work = Work::default();
    // The spectral u-solve.
    let xtx = x.transpose() * x;
    let ex = xtx
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| Error::Factorisation("XᵀX (eigendecomposition)"))?;
    let (qx, lx) = (ex.U().to_owned(), ex.S().column_vector().to_owned());
    let cm = masks.transpose() * masks;
    let smat = Mat::from_fn(q, q, |i, j| {
        let sgn = if (i < p) == (j < p) { 1.0 } else { -1.0 };
        sgn * cm[(i % p, j % p)]
    });
    let es = smat
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| Error::Factorisation("DᵀD (eigendecomposition)"))?;
    let (ws, ls) = (es.U().to_owned(), es.S().column_vector().to_owned());
    let divisor =
        |rho: f64| Mat::from_fn(d, q, |a, b| 2.0 + lx[a] + (rho_r / rho) * ls[b].max(0.0));
    let mut div = divisor(rho);
    let zdq = || Mat::<f64>::zeros(d, q);
    let znq = || Mat::<f64>::zeros(n, q);
    let znd = || Mat::<f64>::zeros(n, d);
    let (mut u, mut v, mut v_old, mut la) = (zdq(), zdq(), zdq(), zdq());
    let (mut t, mut t_old, mut lb) = (zdq(), zdq(), zdq());
    let (mut rhs, mut tmp1, mut tmp2) = (zdq(), zdq(), zdq());
    let (mut gts, mut gts_old, mut gtlc) = (zdq(), zdq(), zdq());
    let (mut mtz, mut mtz_old, mut mtld) = (zdq(), zdq(), zdq());
    let (mut xtxu, mut us) = (zdq(), zdq());
    let (mut xu, mut s, mut lc, mut xv, mut es_buf) = (znq(), znq(), znq(), znq(), znq());
    let (mut mu, mut z, mut ld, mut mv) = (znd(), znd(), znd(), znd());
    let mut udiff = Mat::<f64>::zeros(d, p);
    let mut mtp = Mat::<f64>::zeros(d, p);
    let (mut theta, mut sigma) = (vec![0.0; n], vec![0.0; n]);
    let (mut qrow, mut xrow, mut zrow) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let (mut sbuf, mut tbuf, mut pbuf) = (vec![0.0; n], vec![0.0; d], Vec::new());
    let (mut s_in, mut t_in) = (vec![0.0; n], vec![0.0; d]);
    let alpha = params.relaxation;
    let pfv: Vec<f64> = pf.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    // Mᵀ applied to an n × d array Y: (YᵀD, −YᵀD) into out (d × 2P).
    let mt_into = |yv: MatRef<'_, f64>, tmp: &mut Mat<f64>, out: &mut Mat<f64>| {
        matmul(
            tmp.as_mut(),
            Accum::Replace,
            yv.transpose(),
            masks,
            1.0,
            par,
        );
        for kk in 0..p {
            for j in 0..d {
                out[(j, kk)] = tmp[(j, kk)];
                out[(j, p + kk)] = -tmp[(j, kk)];
            }
        }
    };
    // M applied to a d × 2P array B: D(B_v − B_w)ᵀ into out (n × d).
    let m_into = |bm: &Mat<f64>, diff: &mut Mat<f64>, out: &mut Mat<f64>| {
        for kk in 0..p {
            for j in 0..d {
                diff[(j, kk)] = bm[(j, kk)] - bm[(j, p + kk)];
            }
        }
        matmul(
            out.as_mut(),
            Accum::Replace,
            masks,
            diff.transpose(),
            1.0,
            par,
        );
    };
    let mut rec = Recorder::new(params.max_iters, observer);
    let mut objective = loss.value(&linalg_core::faer::Col::zeros(n), y);
    let record0 = AdmmRecord {
        iteration: 0,
        objective,
        gap_bound: 1.0,
        cone_violation: 0.0,
        primal_residual: 0.0,
        dual_residual: 0.0,
        rho,
        seconds: 0.0,
    };
    let mut termination = rec.record(record0, false);
    let (mut pres, mut dres, mut cone) = (f64::INFINITY, f64::INFINITY, 0.0);
    let mut dual_bound = f64::NEG_INFINITY;
    let mut k = 0;
    while termination.is_none() {
        k += 1;
        let wr = rho_r / rho;
        // R = (V − La) + (T − Lb) + (GᵀS − GᵀLc) + (ρ_r/ρ)(MᵀZ − MᵀLd).
        for j in 0..q {
            for i in 0..d {
                rhs[(i, j)] = v[(i, j)] - la[(i, j)] + t[(i, j)] - lb[(i, j)] + gts[(i, j)]
                    - gtlc[(i, j)]
                    + wr * (mtz[(i, j)] - mtld[(i, j)]);
            }
        }
        // U = Q[(QᵀRW) ⊘ div]Wᵀ.
        matmul(
            tmp1.as_mut(),
            Accum::Replace,
            qx.transpose(),
            rhs.as_ref(),
            1.0,
            Par::Seq,
        );
        matmul(
            tmp2.as_mut(),
            Accum::Replace,
            tmp1.as_ref(),
            ws.as_ref(),
            1.0,
            Par::Seq,
        );
        for j in 0..q {
            for i in 0..d {
                tmp2[(i, j)] /= div[(i, j)];
            }
        }
        matmul(
            tmp1.as_mut(),
            Accum::Replace,
            tmp2.as_ref(),
            ws.transpose(),
            1.0,
            Par::Seq,
        );
        matmul(
            u.as_mut(),
            Accum::Replace,
            qx.as_ref(),
            tmp1.as_ref(),
            1.0,
            Par::Seq,
        );
        matmul(xu.as_mut(), Accum::Replace, x, u.as_ref(), 1.0, par);
        matmul(
            xtxu.as_mut(),
            Accum::Replace,
            xtx.as_ref(),
            u.as_ref(),
            1.0,
            Par::Seq,
        );
        matmul(
            us.as_mut(),
            Accum::Replace,
            u.as_ref(),
            smat.as_ref(),
            1.0,
            Par::Seq,
        );
        m_into(&u, &mut udiff, &mut mu);
        work.matvecs += 2 * p;
        let mut pres2 = 0.0;
        // V ← group soft-threshold of Û + La.
        v_old.copy_from(&v);
        let shrink = params.beta / rho;
        let mut groups = 0.0;
        for j in 0..q {
            let mut nrm2 = 0.0;
            for i in 0..d {
                let a = alpha * u[(i, j)] + (1.0 - alpha) * v[(i, j)] + la[(i, j)];
                tmp1[(i, j)] = a;
                nrm2 += a * a;
            }
            let nrm = nrm2.sqrt();
            let sc = if nrm > shrink {
                1.0 - shrink / nrm
            } else {
                0.0
            };
            groups += sc * nrm;
            for i in 0..d {
                let a = tmp1[(i, j)];
                v[(i, j)] = sc * a;
                la[(i, j)] = a - v[(i, j)];
                pres2 += (u[(i, j)] - v[(i, j)]).powi(2);
            }
        }
        // (S, T) ← projection of (ĜU + Lc, Û + Lb) on the robust cone.
        t_old.copy_from(&t);
        std::mem::swap(&mut gts, &mut gts_old);
        for j in 0..q {
            for i in 0..n {
                sbuf[i] = alpha * e2[(i, j)] * xu[(i, j)] + (1.0 - alpha) * s[(i, j)] + lc[(i, j)];
            }
            for i in 0..d {
                tbuf[i] = alpha * u[(i, j)] + (1.0 - alpha) * t[(i, j)] + lb[(i, j)];
            }
            s_in.copy_from_slice(&sbuf);
            t_in.copy_from_slice(&tbuf);
            project_cone(&mut sbuf, &mut tbuf, eps, pf, &mut pbuf)?;
            for i in 0..n {
                s[(i, j)] = sbuf[i];
                lc[(i, j)] = s_in[i] - sbuf[i];
                es_buf[(i, j)] = e2[(i, j)] * sbuf[i];
                pres2 += (e2[(i, j)] * xu[(i, j)] - sbuf[i]).powi(2);
            }
            for i in 0..d {
                t[(i, j)] = tbuf[i];
                lb[(i, j)] = t_in[i] - tbuf[i];
                pres2 += (u[(i, j)] - tbuf[i]).powi(2);
            }
        }
        matmul(
            gts.as_mut(),
            Accum::Replace,
            x.transpose(),
            es_buf.as_ref(),
            1.0,
            par,
        );
        work.matvecs += 2 * p;
        // Z ← prox of φ/ρ_r, row by row.
        std::mem::swap(&mut mtz, &mut mtz_old);
        for kk in 0..n {
            for j in 0..d {
                qrow[j] = alpha * mu[(kk, j)] + (1.0 - alpha) * z[(kk, j)] + ld[(kk, j)];
                xrow[j] = x[(kk, j)];
            }
            let (th, sg) = robust_prox(loss, 1.0 / rho_r, &qrow, &xrow, y[kk], eps, pf, &mut zrow);
            theta[kk] = th;
            sigma[kk] = sg;
            for j in 0..d {
                z[(kk, j)] = zrow[j];
                ld[(kk, j)] = qrow[j] - zrow[j];
                pres2 += (mu[(kk, j)] - zrow[j]).powi(2);
            }
        }
        mt_into(z.as_ref(), &mut mtp, &mut mtz);
        // GᵀLc and MᵀLd carried along: GᵀĜU = αXᵀXU + (1 − α)GᵀS⁻, MᵀM̂U = αUS + (1 − α)MᵀZ⁻.
        let (mut dres2, mut dscale2, mut uu, mut vv) = (0.0, 0.0, 0.0, 0.0);
        for j in 0..q {
            for i in 0..d {
                gtlc[(i, j)] +=
                    alpha * xtxu[(i, j)] + (1.0 - alpha) * gts_old[(i, j)] - gts[(i, j)];
                mtld[(i, j)] += alpha * us[(i, j)] + (1.0 - alpha) * mtz_old[(i, j)] - mtz[(i, j)];
                let dv = v[(i, j)] - v_old[(i, j)] + t[(i, j)] - t_old[(i, j)] + gts[(i, j)]
                    - gts_old[(i, j)]
                    + wr * (mtz[(i, j)] - mtz_old[(i, j)]);
                dres2 += dv * dv;
                let ds = la[(i, j)] + lb[(i, j)] + gtlc[(i, j)] + wr * mtld[(i, j)];
                dscale2 += ds * ds;
                uu += u[(i, j)] * u[(i, j)];
                vv += v[(i, j)] * v[(i, j)] + t[(i, j)] * t[(i, j)];
            }
        }
        if k % 100 == 0 {
            // Refresh the carried products exactly.
            for j in 0..q {
                for i in 0..n {
                    es_buf[(i, j)] = e2[(i, j)] * lc[(i, j)];
                }
            }
            matmul(
                gtlc.as_mut(),
                Accum::Replace,
                x.transpose(),
                es_buf.as_ref(),
                1.0,
                par,
            );
            mt_into(ld.as_ref(), &mut mtp, &mut mtld);
            work.matvecs += 2 * p;
        }
        pres = pres2.sqrt();
        dres = rho * dres2.sqrt();
        let primal_scale = (2.0 * uu + xu.squared_norm_l2() + mu.squared_norm_l2())
            .sqrt()
            .max((vv + s.squared_norm_l2() + z.squared_norm_l2()).sqrt());
        let eps_pri = ((4 * d * p + 2 * n * p + n * d) as f64).sqrt() * params.tol_abs
            + params.tol_rel * primal_scale;
        let eps_dual =
            ((2 * d * p) as f64).sqrt() * params.tol_abs + params.tol_rel * rho * dscale2.sqrt();
        // The certificate of V.
        matmul(xv.as_mut(), Accum::Replace, x, v.as_ref(), 1.0, par);
        m_into(&v, &mut udiff, &mut mv);
        work.matvecs += 2 * p;
        objective = groups * params.beta;
        for kk in 0..n {
            for j in 0..d {
                zrow[j] = mv[(kk, j)];
            }
            objective += program.phi(kk, &zrow);
        }
        if !objective.is_finite() {
            return Err(Error::NonFinite { iteration: k });
        }
        cone = 0.0;
        let mut t_max: f64 = 0.0;
        for j in 0..q {
            let need = eps * (0..d).map(|i| pfv[i] * v[(i, j)].abs()).sum::<f64>();
            let mut msum = 0.0;
            for i in 0..n {
                cone = f64::max(cone, need - e2[(i, j)] * xv[(i, j)]);
                msum += (-rho * lc[(i, j)]).max(0.0);
            }
            let mut r2 = 0.0;
            for i in 0..d {
                let a = rho_r * mtld[(i, j)] + rho * gtlc[(i, j)];
                r2 += soft(a, eps * msum, pf[i]).powi(2);
            }
            t_max = t_max.max(r2.sqrt());
        }
        let smax = if t_max > 0.0 {
            params.beta / t_max
        } else {
            f64::INFINITY
        };
        dual_bound = match loss {
            Loss::Hinge => {
                let tmax = theta.iter().copied().fold(0.0, f64::max);
                let s_best = smax.min(if tmax > 0.0 { 1.0 / tmax } else { 1.0 });
                s_best * theta.iter().sum::<f64>()
            }
            _ => {
                let a: f64 = (0..n).map(|kk| theta[kk] * sigma[kk] * y[kk]).sum();
                let b: f64 = theta.iter().map(|t| t * t).sum();
                let s_best = if b > 0.0 {
                    (a / b).clamp(0.0, smax)
                } else {
                    0.0
                };
                s_best * a - 0.5 * s_best * s_best * b
            }
        };
        let gap = relative_gap(objective, dual_bound);
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
            let scale = balance_scale(pres / eps_pri, dres / eps_dual);
            if scale != 1.0 {
                rho *= scale;
                for m in [&mut la, &mut lb, &mut gtlc] {
                    *m *= 1.0 / scale;
                }
                lc *= 1.0 / scale;
                div = divisor(rho);
            }
        }
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let (history, elapsed) = rec.finish();
    Ok(RobustReport {
        v: v.subcols(0, p).to_owned(),
        w: v.subcols(p, p).to_owned(),
        objective,
        dual_bound,
        gap_bound: relative_gap(objective, dual_bound),
        primal_residual: pres,
        dual_residual: dres,
        cone_violation: cone,
        eps,
        rho,
        iterations: k,
        converged: termination == Termination::Converged,
        termination,
        history,
        elapsed,
        work,
    })
}
