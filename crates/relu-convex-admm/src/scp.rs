//! Sampled convex programs (SCP; Bai, Gautam, Sojoudi 2023, §2): the convex
//! program over `P` sampled patterns is a scenario program, and
//! scenario theory says how many samples make a fresh pattern unlikely to
//! improve it.
//!
//! The dual of the sampled program has one constraint per pattern,
//! `max_{u ∈ Kᵢ, ‖u‖ ≤ 1} |λᵀDᵢXu| ≤ β`, over `n` dual variables `λ`. A
//! fresh pattern `D_h` from the same distribution (Gaussian `h`) would
//! lower the optimum only if its constraint is violated at the dual
//! solution. With `N` i.i.d. patterns and `k = n` decision variables,
//! Campi and Garatti (2008) bound the probability that this violation
//! probability exceeds `ε` by the binomial tail `Σ_{i<k} C(N, i) εⁱ(1 −
//! ε)^{N−i}`; [`scenario_size`] is the smallest `N` that makes it at most
//! `ξ` (the sufficient `N ≥ (2/ε)(k − 1 + ln(1/ξ))` is its familiar
//! closed form).
//!
//! The a-priori `N` is large (linear in `n`); [`fresh_violations`] checks a
//! solution a posteriori instead: it draws fresh gates and counts those
//! whose own direction `u = h/‖h‖` (inside its cone) already violates the
//! constraint at `λ = ∇ℓ(ŷ)`, `|λᵀ(Xh)₊| > β‖h‖` — a lower bound on the
//! violation frequency (the maximum over the cone can only be larger).

use linalg_core::faer::{Col, MatRef};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use crate::Result;

/// `ln Σ_{i<k} C(N, i) εⁱ(1 − ε)^{N−i}`, summed in log space.
fn log_binomial_tail(n_samples: u64, k: u64, eps: f64) -> f64 {
    let (le, l1e) = (eps.ln(), (-eps).ln_1p());
    let mut log_c = 0.0; // ln C(N, 0)
    let mut acc = f64::NEG_INFINITY;
    for i in 0..k.min(n_samples + 1) {
        if i > 0 {
            log_c += ((n_samples - i + 1) as f64).ln() - (i as f64).ln();
        }
        let term = log_c + i as f64 * le + (n_samples - i) as f64 * l1e;
        let (hi, lo) = if acc > term { (acc, term) } else { (term, acc) };
        acc = if lo == f64::NEG_INFINITY {
            hi
        } else {
            hi + (lo - hi).exp().ln_1p()
        };
    }
    acc
}

/// The smallest number of sampled patterns `N` with `Σ_{i<k} C(N, i) εⁱ(1 −
/// ε)^{N−i} ≤ ξ` (module docs): `k ≥ 1` decision variables (`n`, the
/// samples), violation level `ε ∈ (0, 1)`, confidence `ξ ∈ (0, 1)`;
/// `k ≤ 10⁶` and the answer at most `10¹⁰`.
pub fn scenario_size(k: usize, violation: f64, confidence: f64) -> Result<u64> {
    linalg_core::param::in_range("decision variables", k as f64, 1.0, 1e6)?;
    linalg_core::param::in_open_unit_interval("violation", violation)?;
    linalg_core::param::in_open_unit_interval("confidence", confidence)?;
    let target = confidence.ln();
    let k = k as u64;
    let ok = |n: u64| log_binomial_tail(n, k, violation) <= target;
    // The tail decreases in N: double, then bisect.
    let mut hi = k.max(1);
    while !ok(hi) {
        hi = hi.saturating_mul(2);
        if hi > 10_000_000_000 {
            return Err(linalg_core::ParamError::new(
                "violation",
                format!(
                    "more than 1e10 patterns would be needed for ε = {violation}, ξ = {confidence}"
                ),
            )
            .into());
        }
    }
    let mut lo = 0; // ok(lo) false (N < k makes the tail 1)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// What [`fresh_violations`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FreshViolations {
    /// Fresh gates drawn.
    pub samples: usize,
    /// Gates whose own direction violates `|λᵀ(Xh)₊| ≤ β‖h‖`.
    pub violating: usize,
    /// `violating / samples`: a lower bound on the frequency with which a
    /// fresh pattern would lower the objective.
    pub rate: f64,
    /// The largest ratio `|λᵀ(Xh)₊|/(β‖h‖)` seen.
    pub worst_ratio: f64,
}

/// Draws `samples` (1 to 10⁶) standard Gaussian gates from `seed` and
/// counts those that violate the dual constraint at `λ` (length `n`,
/// finite) and `β > 0` on finite data `x` (module docs).
pub fn fresh_violations(
    x: MatRef<'_, f64>,
    lambda: &Col<f64>,
    beta: f64,
    samples: usize,
    seed: u64,
) -> Result<FreshViolations> {
    let (n, d) = (x.nrows(), x.ncols());
    linalg_core::param::dimension("lambda", n, lambda.nrows())?;
    linalg_core::param::finite("lambda", lambda.as_ref())?;
    linalg_core::param::positive("beta", beta)?;
    linalg_core::param::in_range("samples", samples as f64, 1.0, 1e6)?;
    for j in 0..d {
        linalg_core::param::finite("x", x.col(j))?;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut violating, mut worst) = (0, 0.0f64);
    let mut h = Col::<f64>::zeros(d);
    for _ in 0..samples {
        for i in 0..d {
            h[i] = StandardNormal.sample(&mut rng);
        }
        let z = x * &h;
        let s: f64 = (0..n).map(|i| lambda[i] * z[i].max(0.0)).sum();
        let ratio = s.abs() / (beta * h.norm_l2());
        worst = worst.max(ratio);
        if ratio > 1.0 {
            violating += 1;
        }
    }
    Ok(FreshViolations {
        samples,
        violating,
        rate: violating as f64 / samples as f64,
        worst_ratio: worst,
    })
}
