//! The convex program (Pilanci and Ergen 2020) and its duality-gap
//! certificate.
//!
//! ```text
//! p* = min_{v,w} ℓ(Σᵢ DᵢX(vᵢ − wᵢ)) + β Σᵢ(‖vᵢ‖₂ + ‖wᵢ‖₂)   s.t. EᵢXvᵢ ≥ 0, EᵢXwᵢ ≥ 0,  Eᵢ = 2Dᵢ − I.
//! ```
//!
//! **Dual.** Write `Kᵢ = {u : EᵢXu ≥ 0}`; the conjugate of `β‖·‖ + I_{Kᵢ}`
//! is the indicator of `βB + Kᵢ°` with `Kᵢ° = {−XᵀEᵢμ : μ ≥ 0}`. Fenchel
//! duality then gives, for every `λ ∈ ℝⁿ` and `μᵢ, μ'ᵢ ≥ 0` with
//!
//! ```text
//! ‖XᵀEᵢμᵢ − XᵀDᵢλ‖₂ ≤ β   and   ‖XᵀEᵢμ'ᵢ + XᵀDᵢλ‖₂ ≤ β   for every i,
//! ```
//!
//! the lower bound `p* ≥ −ℓ*(λ)` ([`Loss`] lists `ℓ*`). Any candidate
//! `(λ, μ)` becomes feasible by one common scale `s ∈ (0, 1]` (the
//! constraints are positively homogeneous and `μ ≥ 0` is a cone), and
//! `−ℓ*(sλ)` is concave in `s`, so [`ConvexProgram::dual_bound`] takes the
//! best `s` on the feasible interval. ADMM supplies the candidate: `λ =
//! ∇ℓ(ŷ)` (smooth losses) or the dual of the split `Fu = r` (hinge), and
//! `μ = −ρν`, the multiplier of `Gu = s`. With the primal value at `(v, w)`
//! this brackets `p*` whenever the cone violation is zero, and the relative
//! width of the bracket is the certificate's gap.

use linalg_core::faer::{Col, Mat, MatRef};

use crate::loss::Loss;
use crate::patterns::Patterns;
use crate::{Error, Result};

/// The training data, targets, loss and patterns of one convex program.
#[derive(Debug, Clone)]
pub struct ConvexProgram {
    pub(crate) x: Mat<f64>,
    pub(crate) y: Col<f64>,
    pub(crate) patterns: Patterns,
    pub(crate) loss: Loss,
}

/// A duality-gap certificate of a point `(v, w)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Certificate {
    /// The primal objective at `(v, w)`.
    pub primal: f64,
    /// A lower bound on `p*` (a dual objective value).
    pub dual: f64,
    /// `(primal − dual)/|primal|`: the relative gap bound (valid as a bound
    /// on the suboptimality when `cone_violation` is zero).
    pub gap: f64,
    /// `max(0, −min EᵢXvᵢ, −min EᵢXwᵢ)`.
    pub cone_violation: f64,
}

impl ConvexProgram {
    /// `x` (`n × d`, finite, `1 ≤ n ≤ 10⁶`), targets `y` (length `n`,
    /// finite), patterns computed on `x`; the squared loss.
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
            loss: Loss::Squared,
        })
    }

    /// The same program with another loss; the logistic and hinge losses
    /// need targets in `{−1, +1}`.
    pub fn with_loss(mut self, loss: Loss) -> Result<Self> {
        let bad = (0..self.y.nrows()).find(|&k| self.y[k].abs() != 1.0);
        if let (true, Some(k)) = (loss.needs_signs(), bad) {
            return Err(linalg_core::ParamError::new(
                "y",
                format!(
                    "the {} loss needs targets -1 or +1; target {k} is {}",
                    loss.name(),
                    self.y[k]
                ),
            )
            .into());
        }
        self.loss = loss;
        Ok(self)
    }

    /// The same data, targets and loss with other patterns (computed on the
    /// same `x`).
    pub fn with_patterns(&self, patterns: Patterns) -> Result<Self> {
        linalg_core::param::dimension("patterns (rows)", self.x.nrows(), patterns.masks.nrows())?;
        Ok(Self {
            x: self.x.clone(),
            y: self.y.clone(),
            patterns,
            loss: self.loss,
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

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// `Σᵢ DᵢX(vᵢ − wᵢ)`: the convex model's predictions on the training data.
    pub fn predict(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>) -> Col<f64> {
        let xd = &self.x * (v - w);
        self.row_sums(xd.as_ref())
    }

    /// `Σₖ D[:, k] ∘ z[:, k]` for an `n × P` array `z`.
    pub(crate) fn row_sums(&self, z: MatRef<'_, f64>) -> Col<f64> {
        let m = &self.patterns.masks;
        let mut out = Col::zeros(self.x.nrows());
        for k in 0..m.ncols() {
            for i in 0..m.nrows() {
                out[i] += m[(i, k)] * z[(i, k)];
            }
        }
        out
    }

    /// `Xᵀ(D ∘ c)` (`d × P`): the v-blocks of `Fᵀc`.
    pub(crate) fn ft(&self, c: &Col<f64>) -> Mat<f64> {
        let m = &self.patterns.masks;
        let dc = Mat::from_fn(m.nrows(), m.ncols(), |i, k| m[(i, k)] * c[i]);
        self.x.transpose() * dc
    }

    /// `β Σᵢ(‖vᵢ‖ + ‖wᵢ‖)`.
    pub(crate) fn penalty(v: MatRef<'_, f64>, w: MatRef<'_, f64>, beta: f64) -> f64 {
        beta * (0..v.ncols())
            .map(|k| v.col(k).norm_l2() + w.col(k).norm_l2())
            .sum::<f64>()
    }

    /// The convex objective `ℓ(pred) + β Σ(‖vᵢ‖ + ‖wᵢ‖)`.
    pub fn objective(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>, beta: f64) -> f64 {
        self.loss.value(&self.predict(v, w), &self.y) + Self::penalty(v, w, beta)
    }

    /// `max(0, −min EᵢXvᵢ, −min EᵢXwᵢ)`.
    pub fn cone_violation(&self, v: MatRef<'_, f64>, w: MatRef<'_, f64>) -> f64 {
        self.cone_violation_of(&(&self.x * v), &(&self.x * w))
    }

    /// The cone violation from `Xv` and `Xw`.
    pub(crate) fn cone_violation_of(&self, xv: &Mat<f64>, xw: &Mat<f64>) -> f64 {
        let m = &self.patterns.masks;
        let mut worst: f64 = 0.0;
        for z in [xv, xw] {
            for k in 0..z.ncols() {
                for i in 0..z.nrows() {
                    worst = worst.max(-(2.0 * m[(i, k)] - 1.0) * z[(i, k)]);
                }
            }
        }
        worst
    }

    /// A lower bound on `p*` from the candidate `λ` (length `n`) and
    /// multipliers `μ, μ'` (`n × P`, negative entries count as zero):
    /// `λ` is moved into the domain of `ℓ*`, the pair scaled to dual
    /// feasibility and the best scale taken (module docs).
    pub fn dual_bound(
        &self,
        lambda: &Col<f64>,
        mu_v: MatRef<'_, f64>,
        mu_w: MatRef<'_, f64>,
        beta: f64,
    ) -> Result<f64> {
        let (n, p) = (self.x.nrows(), self.patterns.len());
        linalg_core::param::dimension("lambda", n, lambda.nrows())?;
        for (name, mu) in [("mu_v", mu_v), ("mu_w", mu_w)] {
            linalg_core::param::dimension(name, n, mu.nrows())?;
            linalg_core::param::dimension(name, p, mu.ncols())?;
            for k in 0..p {
                linalg_core::param::finite(name, mu.col(k))?;
            }
        }
        linalg_core::param::finite("lambda", lambda.as_ref())?;
        linalg_core::param::positive("beta", beta)?;
        let m = &self.patterns.masks;
        let gtmu = |mu: MatRef<'_, f64>| {
            let emu = Mat::from_fn(n, p, |i, k| (2.0 * m[(i, k)] - 1.0) * mu[(i, k)].max(0.0));
            self.x.transpose() * emu
        };
        Ok(self.dual_bound_from(lambda, &gtmu(mu_v), &gtmu(mu_w), beta))
    }

    /// [`dual_bound`](Self::dual_bound) from `XᵀEμ` and `XᵀEμ'` (`d × P`).
    pub(crate) fn dual_bound_from(
        &self,
        lambda: &Col<f64>,
        gtmu_v: &Mat<f64>,
        gtmu_w: &Mat<f64>,
        beta: f64,
    ) -> f64 {
        let mut lam = lambda.clone();
        self.loss.project_dual(&mut lam, &self.y);
        let ftl = self.ft(&lam);
        let mut t: f64 = 0.0;
        for k in 0..ftl.ncols() {
            let (mut a, mut b) = (0.0, 0.0);
            for j in 0..ftl.nrows() {
                a += (gtmu_v[(j, k)] - ftl[(j, k)]).powi(2);
                b += (gtmu_w[(j, k)] + ftl[(j, k)]).powi(2);
            }
            t = t.max(a.sqrt()).max(b.sqrt());
        }
        self.dual_value(&lam, t, beta)
    }

    /// The best `−ℓ*(sλ)` over the scales `s` that make the candidate
    /// feasible, where `λ` is in the domain of `ℓ*` and `t` is the largest
    /// constraint norm `‖XᵀEᵢμᵢ ∓ XᵀDᵢλ‖` of the unscaled candidate.
    pub(crate) fn dual_value(&self, lam: &Col<f64>, t: f64, beta: f64) -> f64 {
        let smax = if t > 0.0 {
            (beta / t).min(self.loss.max_dual_scale())
        } else {
            self.loss.max_dual_scale()
        };
        let s = match self.loss {
            Loss::Squared => {
                let (ll, ly) = (lam.squared_norm_l2(), (lam.transpose() * &self.y));
                if ll > 0.0 {
                    (-ly / ll).clamp(0.0, smax)
                } else {
                    0.0
                }
            }
            Loss::Hinge => smax,
            Loss::Logistic => logistic_scale(lam, &self.y, smax),
        };
        let value = -self.loss.conjugate_scaled(s, lam, &self.y);
        if value.is_finite() {
            value
        } else {
            f64::NEG_INFINITY
        }
    }

    /// The certificate of `(v, w)` with the candidate dual `(λ, μ, μ')`
    /// (see [`dual_bound`](Self::dual_bound)).
    pub fn certificate(
        &self,
        v: MatRef<'_, f64>,
        w: MatRef<'_, f64>,
        lambda: &Col<f64>,
        mu_v: MatRef<'_, f64>,
        mu_w: MatRef<'_, f64>,
        beta: f64,
    ) -> Result<Certificate> {
        let (d, p) = (self.x.ncols(), self.patterns.len());
        for (name, m) in [("v", v), ("w", w)] {
            linalg_core::param::dimension(name, d, m.nrows())?;
            linalg_core::param::dimension(name, p, m.ncols())?;
        }
        let dual = self.dual_bound(lambda, mu_v, mu_w, beta)?;
        let primal = self.objective(v, w, beta);
        if !primal.is_finite() {
            return Err(Error::NonFinite { iteration: 0 });
        }
        Ok(Certificate {
            primal,
            dual,
            gap: relative_gap(primal, dual),
            cone_violation: self.cone_violation(v, w),
        })
    }
}

/// `(primal − dual)/|primal|` (the denominator at least the smallest
/// positive normal number).
pub(crate) fn relative_gap(primal: f64, dual: f64) -> f64 {
    (primal - dual) / primal.abs().max(f64::MIN_POSITIVE)
}

/// The maximiser over `s ∈ [0, smax]` of the concave `φ(s) = −Σₖ H(s·aₖ)`,
/// `aₖ = −yₖλₖ`, `H(a) = a ln a + (1 − a) ln(1 − a)` (the logistic dual along a ray):
/// `φ'(s) = −Σ aₖ ln(s aₖ/(1 − s aₖ))` decreases from `+∞`; Newton on
/// `φ'`, kept in its bracket (bisection when a step leaves it).
fn logistic_scale(lam: &Col<f64>, y: &Col<f64>, smax: f64) -> f64 {
    linalg_core::simd::zero_upper();
    let a = || (0..lam.nrows()).map(|k| -y[k] * lam[k]);
    let dphi = |s: f64| -> (f64, f64) {
        let (mut g, mut h) = (0.0, 0.0);
        for ak in a() {
            if ak > 0.0 {
                let t = (s * ak).clamp(1e-300, 1.0 - 1e-16);
                g -= ak * (t / (1.0 - t)).ln();
                h -= ak * ak * (1.0 / t + 1.0 / (1.0 - t));
            }
        }
        (g, h)
    };
    if a().all(|ak| ak <= 0.0) || dphi(smax).0 >= 0.0 {
        return smax;
    }
    let (mut lo, mut hi) = (0.0, smax);
    let mut s = 0.5 * smax;
    for _ in 0..60 {
        let (g, h) = dphi(s);
        if g > 0.0 {
            lo = s;
        } else {
            hi = s;
        }
        let mut next = s - g / h;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - s).abs() <= 1e-15 * smax {
            return next;
        }
        s = next;
    }
    s
}
