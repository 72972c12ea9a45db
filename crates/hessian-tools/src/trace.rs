//! Stochastic trace estimation over any symmetric [`LinOp`], each estimate
//! with its standard error; Hutchinson's diagonal and Frobenius-norm
//! estimators ([`diagonal`], [`frobenius_squared`]).
//!
//! - **Hutchinson**: `tr A ≈ (1/m)Σ zᵢᵀAzᵢ`, `m` probes (Rademacher or
//!   Gaussian); the standard error is the samples' `sd/√m`.
//! - **Hutch++** (Meyer, Musco, Musco, Woodruff 2021): a third of the budget
//!   sketches `Q = orth(AS)`, a third computes `tr(QᵀAQ)` exactly, the last
//!   third runs Hutchinson on `(I − QQᵀ)A(I − QQᵀ)`; the standard error is
//!   that of the last part.
//! - **XTrace** (Epperly, Tropp, Webber 2024): `s = m/2` Gaussian probes
//!   `Ω`, `Y = AΩ = QR`; estimate `i` is Hutch++ with the basis of `Y`
//!   without column `i` and the single probe `ωᵢ`, all `s` averaged (the
//!   standard error is theirs). The leave-one-out bases are `Q·orth(R₋ᵢ)`,
//!   so with `Z = AQ` every estimate comes from `Y`, `Z` and small `s × s`
//!   algebra: `2s` products in all. The residual probe is rescaled to the
//!   norm `√(n − s + 1)` of its complement (still unbiased, less variance). Written here from the definition
//!   rather than the paper's downdating formulas: `O(s⁴)` extra flops,
//!   negligible next to the products at the budgets used (`s ≤ 500`).
//! - **XNysTrace** (same paper, for PSD `A`): `m` Gaussian probes, `Y = AΩ`;
//!   estimate `i` is `tr Â₋ᵢ + ωᵢᵀ(A − Â₋ᵢ)ωᵢ` with `Â₋ᵢ` the Nyström
//!   approximation from the other `m − 1` probes. With `G = ΩᵀY` and
//!   `K = YᵀY` every term is `m × m` algebra:
//!   `tr(G₋ᵢ⁺K₋ᵢ) + Gᵢᵢ − G₋ᵢ,ᵢᵀ G₋ᵢ⁺ G₋ᵢ,ᵢ`. `Y` is shifted by
//!   `ν = 10⁻¹⁴‖Y‖` times `Ω` (the Nyström approximation of `A + νI`, then
//!   `νn` subtracted) so `G` stays invertible; pseudo-inverses drop
//!   eigenvalues below `10⁻¹²` of the largest. `m` products in all.

use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::{Mat, MatRef, Par};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use crate::Result;

/// The most products XTrace, XNysTrace and XDiag accept: their
/// leave-one-out algebra costs `O(m⁴)` (XDiag's fallback `O(n m³)`), about
/// 10¹² operations at this budget.
pub const MAX_LEAVE_ONE_OUT: usize = 1000;

/// The trace estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TraceMethod {
    /// Hutchinson's estimator.
    Hutchinson,
    /// Hutch++.
    HutchPlusPlus,
    /// XTrace (Gaussian probes; an even budget, at least 4).
    XTrace,
    /// XNysTrace for positive semi-definite operators (Gaussian probes,
    /// at least 3): leave-one-out Nyström approximations, one product per
    /// probe.
    XNysTrace,
}

impl TraceMethod {
    /// The name used on the command line (`hutchinson`, `hutchpp`,
    /// `xtrace`, `xnystrace`).
    pub fn name(self) -> &'static str {
        match self {
            TraceMethod::Hutchinson => "hutchinson",
            TraceMethod::HutchPlusPlus => "hutchpp",
            TraceMethod::XTrace => "xtrace",
            TraceMethod::XNysTrace => "xnystrace",
        }
    }
}

impl std::str::FromStr for TraceMethod {
    type Err = linalg_core::ParamError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let all = [
            TraceMethod::Hutchinson,
            TraceMethod::HutchPlusPlus,
            TraceMethod::XTrace,
            TraceMethod::XNysTrace,
        ];
        let names: Vec<&str> = all.iter().map(|m| m.name()).collect();
        Ok(all[linalg_core::param::one_of("trace", s, &names)?])
    }
}

/// The probe distribution of Hutchinson and Hutch++ (XTrace is Gaussian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Probe {
    /// ±1 entries (lower variance: `2(‖A‖_F² − Σ Aᵢᵢ²)` per sample).
    #[default]
    Rademacher,
    /// Standard normal entries (variance `2‖A‖_F²` per sample).
    Gaussian,
}

/// Parameters of [`trace`], validated once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceParams {
    /// The estimator.
    pub method: TraceMethod,
    /// Products with `A` in all (Hutchinson ≥ 2, Hutch++ ≥ 3, XTrace ≥ 4 and even).
    pub matvecs: usize,
    /// Probe distribution (Hutchinson, Hutch++).
    pub probe: Probe,
    /// Seed of the probes.
    pub seed: u64,
}

impl TraceParams {
    /// `method` with `matvecs` products, Rademacher probes, seed 0.
    pub fn new(method: TraceMethod, matvecs: usize) -> Self {
        Self {
            method,
            matvecs,
            probe: Probe::Rademacher,
            seed: 0,
        }
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the probe distribution.
    pub fn probe(mut self, probe: Probe) -> Self {
        self.probe = probe;
        self
    }
    /// Rejects budgets below the method's minimum, odd XTrace budgets and
    /// more than 10⁶ products.
    pub fn validate(&self) -> Result<()> {
        let min = match self.method {
            TraceMethod::Hutchinson => 2,
            TraceMethod::HutchPlusPlus => 3,
            TraceMethod::XTrace => 4,
            TraceMethod::XNysTrace => 3,
        };
        linalg_core::param::in_range("matvecs", self.matvecs as f64, min as f64, 1e6)?;
        // The leave-one-out estimators do O(m⁴) small-matrix work: above
        // MAX_LEAVE_ONE_OUT products that, not the products, would dominate.
        if matches!(self.method, TraceMethod::XTrace | TraceMethod::XNysTrace)
            && self.matvecs > MAX_LEAVE_ONE_OUT
        {
            return Err(linalg_core::ParamError::new(
                "matvecs",
                format!(
                    "{} products for a leave-one-out estimator (at most {MAX_LEAVE_ONE_OUT})",
                    self.matvecs
                ),
            )
            .into());
        }
        if self.method == TraceMethod::XTrace && self.matvecs % 2 == 1 {
            return Err(linalg_core::ParamError::new(
                "matvecs",
                format!("XTrace needs an even budget, got {}", self.matvecs),
            )
            .into());
        }
        Ok(())
    }
}

/// A trace estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceEstimate {
    /// The estimate of `tr A`.
    pub value: f64,
    /// Its standard error.
    pub stderr: f64,
    /// Products with `A` used.
    pub matvecs: usize,
}

fn probes(n: usize, m: usize, probe: Probe, rng: &mut StdRng) -> Mat<f64> {
    Mat::from_fn(n, m, |_, _| match probe {
        Probe::Rademacher => {
            if rng.random::<bool>() {
                1.0
            } else {
                -1.0
            }
        }
        Probe::Gaussian => StandardNormal.sample(rng),
    })
}

fn apply(op: &impl LinOp<f64>, x: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::zeros(op.nrows(), x.ncols());
    let par = Par::Seq;
    let mut buf = linalg_core::faer::dyn_stack::MemBuffer::new(op.apply_scratch(x.ncols(), par));
    op.apply(
        out.as_mut(),
        x,
        par,
        linalg_core::faer::dyn_stack::MemStack::new(&mut buf),
    );
    out
}

/// Mean and standard error of the samples.
fn mean_stderr(s: &[f64]) -> (f64, f64) {
    let m = s.len() as f64;
    let mean = s.iter().sum::<f64>() / m;
    if s.len() < 2 {
        return (mean, f64::INFINITY);
    }
    let var = s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0);
    (mean, (var / m).sqrt())
}

/// `diag(Xᵀ Y)` column by column.
fn col_dots(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Vec<f64> {
    (0..x.ncols())
        .map(|j| (0..x.nrows()).map(|i| x[(i, j)] * y[(i, j)]).sum())
        .collect()
}

/// An orthonormal basis of the columns of `y` (thin QR) and its `R`.
fn thin_qr(y: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
    let qr = y.qr();
    (qr.compute_thin_Q(), qr.thin_R().to_owned())
}

/// Estimates `tr A` of a square operator (its symmetry is the caller's:
/// the estimators assume it) with the method's budget.
pub fn trace(op: &impl LinOp<f64>, params: &TraceParams) -> Result<TraceEstimate> {
    params.validate()?;
    let n = linalg_core::op::check_square(op, "trace")?;
    linalg_core::param::at_least("operator size", n, 1)?;
    crate::check_block("matvecs", n, params.matvecs)?;
    let mut rng = StdRng::seed_from_u64(params.seed);
    let m = params.matvecs;
    let est = match params.method {
        TraceMethod::Hutchinson => {
            let z = probes(n, m, params.probe, &mut rng);
            let az = apply(op, z.as_ref());
            let (value, stderr) = mean_stderr(&col_dots(z.as_ref(), az.as_ref()));
            TraceEstimate {
                value,
                stderr,
                matvecs: m,
            }
        }
        TraceMethod::HutchPlusPlus => {
            let k = (m / 3).clamp(1, n);
            let g_count = m - 2 * k;
            let s = probes(n, k, params.probe, &mut rng);
            let (q, _) = thin_qr(apply(op, s.as_ref()).as_ref());
            let aq = apply(op, q.as_ref());
            let exact: f64 = col_dots(q.as_ref(), aq.as_ref()).iter().sum();
            let g = probes(n, g_count, params.probe, &mut rng);
            let gp = &g - &q * (q.transpose() * &g);
            let agp = apply(op, gp.as_ref());
            let (mean, stderr) = mean_stderr(&col_dots(gp.as_ref(), agp.as_ref()));
            TraceEstimate {
                value: exact + mean,
                stderr,
                matvecs: 2 * k + g_count,
            }
        }
        TraceMethod::XTrace => {
            let s = (m / 2).min(n);
            let om = probes(n, s, Probe::Gaussian, &mut rng);
            let y = apply(op, om.as_ref());
            let (q, r) = thin_qr(y.as_ref());
            let z = apply(op, q.as_ref());
            let h = q.transpose() * &z; // QᵀAQ (s × s)
            let w = q.transpose() * &om; // QᵀΩ
            let wy = col_dots(om.as_ref(), y.as_ref()); // ωᵢᵀAωᵢ
            let k = q.ncols();
            let mut ests = Vec::with_capacity(s);
            for i in 0..s {
                // C = orth(R without column i): Qᵢ = QC.
                let r_i = Mat::from_fn(k, s - 1, |a, b| r[(a, if b < i { b } else { b + 1 })]);
                let (c, _) = thin_qr(r_i.as_ref());
                let hc = &h * &c;
                let chc = c.transpose() * &hc;
                let tr_part: f64 = (0..chc.nrows()).map(|j| chc[(j, j)]).sum();
                let cw = c.transpose() * w.col(i); // Cᵀ Qᵀ ωᵢ
                let rc = c.transpose() * r.col(i); // Cᵀ Qᵀ Aωᵢ
                let quad: f64 = cw.transpose() * &chc * &cw;
                let cross: f64 = rc.transpose() * &cw;
                // The residual probe ω⊥ = (I − QᵢQᵢᵀ)ωᵢ is isotropic in the
                // (n − s + 1)-dimensional complement: rescaled to norm
                // √(n − s + 1) it stays unbiased and loses the variance of
                // its length (the paper's "improved" normalisation).
                let perp2 = om.col(i).squared_norm_l2() - cw.squared_norm_l2();
                let dim = (n - (s - 1)) as f64;
                let scale = if perp2 > 0.0 { dim / perp2 } else { 0.0 };
                let resid = scale * (wy[i] - 2.0 * cross + quad);
                ests.push(tr_part + resid);
            }
            let (value, stderr) = mean_stderr(&ests);
            TraceEstimate {
                value,
                stderr,
                matvecs: 2 * s,
            }
        }
        TraceMethod::XNysTrace => xnystrace(op, n, m.min(n), &mut rng),
    };
    if !est.value.is_finite() {
        return Err(linalg_core::Error::NonFinite {
            context: "trace estimate",
            index: 0,
        }
        .into());
    }
    Ok(est)
}

fn xnystrace(op: &impl LinOp<f64>, n: usize, m: usize, rng: &mut StdRng) -> TraceEstimate {
    let om = probes(n, m, Probe::Gaussian, rng);
    let y = apply(op, om.as_ref());
    let nu = 1e-14 * y.norm_l2();
    let ys = &y + &om * nu;
    let g = om.transpose() * &ys;
    let g = Mat::from_fn(m, m, |a, b| 0.5 * (g[(a, b)] + g[(b, a)]));
    let k = ys.transpose() * &ys;
    let mut ests = Vec::with_capacity(m);
    for i in 0..m {
        let keep = |a: usize| if a < i { a } else { a + 1 };
        let gi = Mat::from_fn(m - 1, m - 1, |a, b| g[(keep(a), keep(b))]);
        let ki = Mat::from_fn(m - 1, m - 1, |a, b| k[(keep(a), keep(b))]);
        let gc = linalg_core::faer::Col::from_fn(m - 1, |a| g[(keep(a), i)]);
        let Ok(evd) = gi.self_adjoint_eigen(linalg_core::faer::Side::Lower) else {
            continue;
        };
        let (u, lam) = (evd.U(), evd.S());
        let top = (0..m - 1).fold(0.0f64, |t, j| t.max(lam[j]));
        let uk = u.transpose() * &ki * u;
        let ug = u.transpose() * &gc;
        let (mut tr_part, mut quad) = (0.0, 0.0);
        for j in 0..m - 1 {
            if lam[j] > 1e-12 * top {
                tr_part += uk[(j, j)] / lam[j];
                quad += ug[j] * ug[j] / lam[j];
            }
        }
        ests.push(tr_part + g[(i, i)] - quad - nu * n as f64);
    }
    let (value, stderr) = if ests.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        mean_stderr(&ests)
    };
    TraceEstimate {
        value,
        stderr,
        matvecs: m,
    }
}

/// A diagonal estimate with per-entry standard errors.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DiagonalEstimate {
    /// The estimate of `diag A`.
    pub values: Vec<f64>,
    /// Per-entry standard errors of the probe means.
    pub stderr: Vec<f64>,
    /// Products with `A` used.
    pub matvecs: usize,
}

/// Hutchinson's diagonal estimator (Bekas, Kokiopoulou, Saad 2007):
/// `diag A ≈ (Σ zᵢ ∘ Azᵢ) ⊘ (Σ zᵢ ∘ zᵢ)` over `matvecs ≥ 2` probes (exact
/// for a diagonal `A` with Rademacher probes, where `zᵢ ∘ zᵢ = 1`).
pub fn diagonal(
    op: &impl LinOp<f64>,
    matvecs: usize,
    probe: Probe,
    seed: u64,
) -> Result<DiagonalEstimate> {
    linalg_core::param::in_range("matvecs", matvecs as f64, 2.0, 1e6)?;
    let n = linalg_core::op::check_square(op, "diagonal")?;
    linalg_core::param::at_least("operator size", n, 1)?;
    crate::check_block("matvecs", n, matvecs)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let z = probes(n, matvecs, probe, &mut rng);
    let az = apply(op, z.as_ref());
    for j in 0..matvecs {
        linalg_core::op::check_finite("diagonal: operator output", az.col(j))?;
    }
    let mut values = Vec::with_capacity(n);
    let mut stderr = Vec::with_capacity(n);
    for i in 0..n {
        let (mut num, mut den) = (0.0, 0.0);
        let samples: Vec<f64> = (0..matvecs).map(|j| z[(i, j)] * az[(i, j)]).collect();
        for j in 0..matvecs {
            num += samples[j];
            den += z[(i, j)] * z[(i, j)];
        }
        values.push(num / den);
        stderr.push(mean_stderr(&samples).1);
    }
    Ok(DiagonalEstimate {
        values,
        stderr,
        matvecs,
    })
}

/// XDiag (Epperly, Tropp, Webber 2024) for a symmetric `A`: `s = m/2`
/// probes `Ω` (Rademacher or Gaussian), `Y = AΩ = QR`, `Z = AQ`; estimate
/// `i` is `diag(Q₋ᵢQ₋ᵢᵀA) + ωᵢ ∘ ((I − Q₋ᵢQ₋ᵢᵀ)Aωᵢ)` with `Q₋ᵢ` a basis of
/// `Y` without column `i`, and the `s` estimates are averaged (per-entry
/// standard errors across them, optimistic as XTrace's). Exact when
/// `rank A < s`. Written from that definition: with `R` well conditioned,
/// `Q₋ᵢQ₋ᵢᵀ = QQᵀ − q̃ᵢq̃ᵢᵀ` with `q̃ᵢ = Q·(R⁻ᵀeᵢ)/‖R⁻ᵀeᵢ‖` (the
/// paper's normalised columns of `R⁻ᵀ`), so everything costs `O(ns²)`
/// beyond the `m` products; otherwise `Q₋ᵢ = Q·orth(R₋ᵢ)` explicitly.
pub fn xdiag(
    op: &impl LinOp<f64>,
    matvecs: usize,
    probe: Probe,
    seed: u64,
) -> Result<DiagonalEstimate> {
    linalg_core::param::in_range("matvecs", matvecs as f64, 4.0, MAX_LEAVE_ONE_OUT as f64)?;
    if matvecs % 2 == 1 {
        return Err(linalg_core::ParamError::new(
            "matvecs",
            format!("XDiag needs an even budget, got {matvecs}"),
        )
        .into());
    }
    let n = linalg_core::op::check_square(op, "xdiag")?;
    linalg_core::param::at_least("operator size", n, 1)?;
    crate::check_block("matvecs", n, matvecs)?;
    let s = (matvecs / 2).min(n);
    let mut rng = StdRng::seed_from_u64(seed);
    let om = probes(n, s, probe, &mut rng);
    let y = apply(op, om.as_ref());
    for j in 0..s {
        linalg_core::op::check_finite("xdiag: operator output", y.col(j))?;
    }
    let (q, r) = thin_qr(y.as_ref());
    let k = q.ncols();
    let z = apply(op, q.as_ref());
    // diag(QQᵀA) = rowdot(Q, Z) for symmetric A; T = ZᵀΩ = QᵀAΩ.
    let dqz: Vec<f64> = (0..n)
        .map(|a| (0..k).map(|b| q[(a, b)] * z[(a, b)]).sum())
        .collect();
    let t = z.transpose() * &om;
    let rmax = (0..k).fold(0.0f64, |m, i| m.max(r[(i, i)].abs()));
    let well = k == s && (0..k).all(|i| r[(i, i)].abs() > 1e-10 * rmax);
    // The leave-one-out direction of each probe: q̃ᵢ = Q cᵢ with cᵢ ⟂ R₋ᵢ.
    let c: Mat<f64> = if well {
        // R⁻ᵀ = (R⁻¹)ᵀ: solve R X = I (upper triangular), then transpose.
        let mut inv = Mat::<f64>::identity(k, k);
        for col in 0..k {
            for i in (0..k).rev() {
                let mut v = inv[(i, col)];
                for j in i + 1..k {
                    v -= r[(i, j)] * inv[(j, col)];
                }
                inv[(i, col)] = v / r[(i, i)];
            }
        }
        let rit = inv.transpose().to_owned();
        Mat::from_fn(k, s, |a, i| {
            let nrm = rit.col(i).norm_l2();
            rit[(a, i)] / nrm
        })
    } else {
        Mat::zeros(k, s)
    };
    let mut sum = vec![0.0; n];
    let mut sumsq = vec![0.0; n];
    let mut est = vec![0.0; n];
    for i in 0..s {
        // P₋ᵢ applied through a basis B (k × r) of the kept directions:
        // well conditioned → P₋ᵢ = QQᵀ − q̃q̃ᵀ, else Q·orth(R₋ᵢ).
        if well {
            let ci = c.col(i);
            let qt = &q * ci; // q̃ᵢ
            let zt = &z * ci; // A q̃ᵢ
            let ti = t.col(i); // QᵀAωᵢ
            let proj = &q * ti; // QQᵀAωᵢ
            let cy: f64 = ci.transpose() * r.col(i); // q̃ᵢᵀ yᵢ
            for a in 0..n {
                let keep = dqz[a] - qt[a] * zt[a];
                let resid = y[(a, i)] - proj[a] + qt[a] * cy;
                est[a] = keep + om[(a, i)] * resid;
            }
        } else {
            let r_i = Mat::from_fn(k, s - 1, |a, b| r[(a, if b < i { b } else { b + 1 })]);
            let (ci, _) = thin_qr(r_i.as_ref());
            let qb = &q * &ci;
            let zb = &z * &ci;
            let ti = ci.transpose() * t.col(i);
            let proj = &qb * &ti;
            for a in 0..n {
                let keep: f64 = (0..qb.ncols()).map(|b| qb[(a, b)] * zb[(a, b)]).sum();
                est[a] = keep + om[(a, i)] * (y[(a, i)] - proj[a]);
            }
        }
        for a in 0..n {
            sum[a] += est[a];
            sumsq[a] += est[a] * est[a];
        }
    }
    let sf = s as f64;
    let values: Vec<f64> = sum.iter().map(|v| v / sf).collect();
    let stderr: Vec<f64> = (0..n)
        .map(|a| {
            if s < 2 {
                return f64::INFINITY;
            }
            let var = ((sumsq[a] - sf * values[a] * values[a]) / (sf - 1.0)).max(0.0);
            (var / sf).sqrt()
        })
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(linalg_core::Error::NonFinite {
            context: "XDiag estimate",
            index: 0,
        }
        .into());
    }
    Ok(DiagonalEstimate {
        values,
        stderr,
        matvecs: 2 * s,
    })
}

/// `‖A‖_F² = tr(AᵀA) ≈ (1/m)Σ‖Azᵢ‖²` over `matvecs ≥ 2` probes, with its
/// standard error.
pub fn frobenius_squared(
    op: &impl LinOp<f64>,
    matvecs: usize,
    probe: Probe,
    seed: u64,
) -> Result<TraceEstimate> {
    linalg_core::param::in_range("matvecs", matvecs as f64, 2.0, 1e6)?;
    let n = linalg_core::op::check_square(op, "Frobenius norm")?;
    linalg_core::param::at_least("operator size", n, 1)?;
    crate::check_block("matvecs", n, matvecs)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let z = probes(n, matvecs, probe, &mut rng);
    let az = apply(op, z.as_ref());
    let samples: Vec<f64> = (0..matvecs).map(|j| az.col(j).squared_norm_l2()).collect();
    let (value, stderr) = mean_stderr(&samples);
    if !value.is_finite() {
        return Err(linalg_core::Error::NonFinite {
            context: "Frobenius estimate",
            index: 0,
        }
        .into());
    }
    Ok(TraceEstimate {
        value,
        stderr,
        matvecs,
    })
}
