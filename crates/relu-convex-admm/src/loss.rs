//! The training losses of the convex program, with what ADMM and the
//! duality-gap certificate need of each: the value, a dual point, the
//! proximal map and the convex conjugate.
//!
//! All three are sums over samples `ℓ(ŷ) = Σₖ ℓₖ(ŷₖ)`:
//!
//! | loss | `ℓₖ(ŷ)` | targets | conjugate `ℓₖ*(λ)` |
//! |---|---|---|---|
//! | squared | `½(ŷ − yₖ)²` | any real | `½λ² + λyₖ` |
//! | logistic (binary cross-entropy on the logit `ŷ`) | `log(1 + e^{−yₖŷ})` | `±1` | `a log a + (1 − a) log(1 − a)`, `a = −yₖλ ∈ [0, 1]` |
//! | hinge | `(1 − yₖŷ)₊` | `±1` | `−a`, `a = −yₖλ ∈ [0, 1]` |
//!
//! The logistic loss with `±1` targets is binary cross-entropy with labels
//! `(yₖ + 1)/2` and logit `ŷ`.

use linalg_core::faer::Col;

/// A training loss (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Loss {
    /// `½‖ŷ − y‖²` (the paper's Algorithm 3.1).
    #[default]
    Squared,
    /// Binary cross-entropy on the logit, `Σ log(1 + e^{−yₖŷₖ})`, `y ∈ {−1, +1}`.
    Logistic,
    /// `Σ (1 − yₖŷₖ)₊`, `y ∈ {−1, +1}`.
    Hinge,
}

/// `log(1 + eᶻ)` without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// `1/(1 + e⁻ᶻ)`.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `a log a` with `0 log 0 = 0`.
fn xlogx(a: f64) -> f64 {
    if a <= 0.0 { 0.0 } else { a * a.ln() }
}

impl Loss {
    /// The name used by the CLI (`squared`, `bce`, `hinge`).
    pub fn name(self) -> &'static str {
        match self {
            Loss::Squared => "squared",
            Loss::Logistic => "bce",
            Loss::Hinge => "hinge",
        }
    }

    /// Whether the targets must be `±1`.
    pub fn needs_signs(self) -> bool {
        !matches!(self, Loss::Squared)
    }

    /// `ℓ(ŷ)`.
    pub fn value(self, yhat: &Col<f64>, y: &Col<f64>) -> f64 {
        // exp/ln after a faer product run up to 40× slower until the AVX
        // upper state is cleared (docs/architecture.md §5).
        linalg_core::simd::zero_upper();
        let n = y.nrows();
        (0..n)
            .map(|k| {
                let (z, t) = (yhat[k], y[k]);
                match self {
                    Loss::Squared => 0.5 * (z - t) * (z - t),
                    Loss::Logistic => softplus(-t * z),
                    Loss::Hinge => (1.0 - t * z).max(0.0),
                }
            })
            .sum()
    }

    /// A point of `∂ℓ(ŷ)`: the gradient of the smooth losses, and for the
    /// hinge the subgradient `−yₖ` where the margin is below 1 (0 elsewhere).
    pub fn gradient(self, yhat: &Col<f64>, y: &Col<f64>) -> Col<f64> {
        let mut out = Col::zeros(y.nrows());
        self.gradient_into(yhat, y, &mut out);
        out
    }

    /// [`gradient`](Self::gradient) written into `out` (no allocation).
    pub fn gradient_into(self, yhat: &Col<f64>, y: &Col<f64>, out: &mut Col<f64>) {
        linalg_core::simd::zero_upper();
        for k in 0..y.nrows() {
            let (z, t) = (yhat[k], y[k]);
            out[k] = match self {
                Loss::Squared => z - t,
                Loss::Logistic => -t * sigmoid(-t * z),
                Loss::Hinge => {
                    if t * z < 1.0 {
                        -t
                    } else {
                        0.0
                    }
                }
            };
        }
    }

    /// `argminᵣ ℓ(r) + ‖r − a‖²/(2τ)`, written into `out` (closed form for
    /// the squared and hinge losses; for the logistic loss a safeguarded
    /// Newton iteration per sample on the bracket `[yₖaₖ, yₖaₖ + τ]` of the
    /// margin).
    pub fn prox(self, tau: f64, a: &Col<f64>, y: &Col<f64>, out: &mut Col<f64>) {
        linalg_core::simd::zero_upper();
        for k in 0..y.nrows() {
            let (b, t) = (a[k], y[k]);
            out[k] = match self {
                Loss::Squared => (b + tau * t) / (1.0 + tau),
                Loss::Hinge => {
                    // In the margin q = t·r: min (1 − q)₊ + (q − t·b)²/(2τ).
                    let m = t * b;
                    let q = if m >= 1.0 {
                        m
                    } else if m <= 1.0 - tau {
                        m + tau
                    } else {
                        1.0
                    };
                    t * q
                }
                Loss::Logistic => t * logistic_prox_margin(tau, t * b),
            };
        }
    }

    /// `ℓ*(λ)`, `+∞` outside the domain (tolerance 1e-12 on `a ∈ [0, 1]`).
    pub fn conjugate(self, lambda: &Col<f64>, y: &Col<f64>) -> f64 {
        self.conjugate_scaled(1.0, lambda, y)
    }

    /// `ℓ*(sλ)` without forming `sλ`.
    pub fn conjugate_scaled(self, s: f64, lambda: &Col<f64>, y: &Col<f64>) -> f64 {
        linalg_core::simd::zero_upper();
        let mut total = 0.0;
        for k in 0..y.nrows() {
            let (l, t) = (s * lambda[k], y[k]);
            total += match self {
                Loss::Squared => 0.5 * l * l + l * t,
                Loss::Logistic | Loss::Hinge => {
                    let a = -t * l;
                    if !(-1e-12..=1.0 + 1e-12).contains(&a) {
                        return f64::INFINITY;
                    }
                    let a = a.clamp(0.0, 1.0);
                    if self == Loss::Hinge {
                        -a
                    } else {
                        xlogx(a) + xlogx(1.0 - a)
                    }
                }
            };
        }
        total
    }

    /// `λ` moved into the domain of `ℓ*` (the identity for the squared loss;
    /// `a = −yₖλₖ` clipped to `[0, 1]` otherwise).
    pub fn project_dual(self, lambda: &mut Col<f64>, y: &Col<f64>) {
        if self == Loss::Squared {
            return;
        }
        for k in 0..y.nrows() {
            let t = y[k];
            lambda[k] = -t * (-t * lambda[k]).clamp(0.0, 1.0);
        }
    }

    /// The largest scale `s` with `sλ` in the domain of `ℓ*` for every
    /// domain point `λ` (`∞` for the squared loss, 1 otherwise).
    pub(crate) fn max_dual_scale(self) -> f64 {
        if self == Loss::Squared {
            f64::INFINITY
        } else {
            1.0
        }
    }
}

/// `argmin_q log(1 + e^{−q}) + (q − m)²/(2τ)`: the root of
/// `q − m − τσ(−q)` lies in `(m, m + τ)`; Newton from the midpoint, kept
/// inside the bracket (bisection when a step leaves it).
fn logistic_prox_margin(tau: f64, m: f64) -> f64 {
    let (mut lo, mut hi) = (m, m + tau);
    let mut q = m + 0.5 * tau * sigmoid(-m);
    for _ in 0..100 {
        let s = sigmoid(-q);
        let g = q - m - tau * s;
        if g > 0.0 {
            hi = q;
        } else {
            lo = q;
        }
        let h = 1.0 + tau * s * (1.0 - s);
        let mut next = q - g / h;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - q).abs() <= 1e-15 * (1.0 + q.abs()) {
            return next;
        }
        q = next;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(v: &[f64]) -> Col<f64> {
        Col::from_fn(v.len(), |i| v[i])
    }

    #[test]
    fn each_prox_minimises_its_scalar_problem_against_a_fine_grid() {
        let y = col(&[1.0, -1.0, 1.0, -1.0, 1.0]);
        let a = col(&[-2.0, 0.3, 0.95, -4.0, 7.0]);
        for loss in [Loss::Squared, Loss::Logistic, Loss::Hinge] {
            for tau in [0.1, 1.0, 5.0] {
                let mut out = Col::zeros(5);
                loss.prox(tau, &a, &y, &mut out);
                for k in 0..5 {
                    let f = |r: f64| {
                        loss.value(&col(&[r]), &col(&[y[k]])) + (r - a[k]).powi(2) / (2.0 * tau)
                    };
                    let best = (0..=40_000)
                        .map(|i| a[k] - 10.0 + i as f64 * 5e-4)
                        .fold(f64::INFINITY, |m, r| m.min(f(r)));
                    assert!(f(out[k]) <= best + 1e-9, "{loss:?} τ {tau} k {k}");
                }
            }
        }
    }

    #[test]
    fn conjugates_satisfy_fenchel_young_with_equality_at_the_gradient() {
        // ℓ(z) + ℓ*(λ) ≥ λz for all λ, with equality at λ = ∇ℓ(z).
        let y = col(&[1.0, -1.0, 1.0]);
        let z = col(&[0.4, 2.0, -1.5]);
        for loss in [Loss::Squared, Loss::Logistic, Loss::Hinge] {
            let g = loss.gradient(&z, &y);
            let gz: f64 = (0..3).map(|k| g[k] * z[k]).sum();
            let fy = loss.value(&z, &y) + loss.conjugate(&g, &y);
            assert!((fy - gz).abs() < 1e-12, "{loss:?}: {fy} vs {gz}");
            for lam in [col(&[-0.3, 0.2, -0.9]), col(&[-1.0, 1.0, 0.0])] {
                let lz: f64 = (0..3).map(|k| lam[k] * z[k]).sum();
                assert!(loss.value(&z, &y) + loss.conjugate(&lam, &y) >= lz - 1e-12);
            }
        }
        assert_eq!(
            Loss::Hinge.conjugate(&col(&[0.5]), &col(&[1.0])),
            f64::INFINITY
        );
    }
}
