//! Extreme eigenvalues of a symmetric operator: Lanczos with full
//! reorthogonalisation and Ritz residuals, and PyHessian's deflated power
//! iteration for comparison.
//!
//! [`extremes`] runs one Lanczos process (`linalg_core::lanczos`, seeded
//! Gaussian start) and returns the `k` Ritz pairs asked for — largest
//! algebraic, smallest algebraic or largest magnitude, kept apart — with
//! their residual norms `‖Au − θu‖ = β_m|yₘᵢ|`, so a caller sees which
//! values have converged. [`power_deflated`] is PyHessian's `eigenvalues`:
//! for each of `k` values, power iteration from a random vector kept
//! orthogonal to the vectors found, stopped when the Rayleigh quotient
//! changes by less than `tol` relative (PyHessian: 100 iterations,
//! `tol = 1e-3`).

use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::{Col, Mat};
use linalg_core::lanczos::{Reorthogonalization, lanczos, ritz_pairs};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use crate::Result;

/// Which end of the spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Which {
    /// The largest eigenvalues (the sharpness is the first).
    #[default]
    LargestAlgebraic,
    /// The smallest (most negative) eigenvalues.
    SmallestAlgebraic,
    /// The eigenvalues of largest absolute value (PyHessian's power
    /// iteration converges to these).
    LargestMagnitude,
}

/// Ritz pairs from [`extremes`].
#[derive(Debug, Clone)]
pub struct Extremes {
    /// The `k` Ritz values, in the order of `which` (largest first for
    /// the largest ends, smallest first for the smallest end).
    pub values: Vec<f64>,
    /// `‖Auᵢ − θᵢuᵢ‖` for each value.
    pub residuals: Vec<f64>,
    /// The Ritz vectors (`n × k`).
    pub vectors: Mat<f64>,
    /// Operator applications.
    pub matvecs: usize,
}

/// `k` extreme Ritz pairs of the symmetric `op` from `steps` Lanczos steps
/// (`k ≤ steps ≤ n`, at most 10⁵) started from a Gaussian vector of `seed`.
pub fn extremes(
    op: &impl LinOp<f64>,
    k: usize,
    which: Which,
    steps: usize,
    seed: u64,
) -> Result<Extremes> {
    let n = linalg_core::op::check_square(op, "extremes")?;
    crate::check_k(k, n)?;
    linalg_core::param::in_range("steps", steps as f64, k as f64, 1e5)?;
    let steps = steps.min(n);
    crate::check_block("steps", n, steps)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let start = Col::<f64>::from_fn(n, |_| StandardNormal.sample(&mut rng));
    let res = lanczos(op, start.as_ref(), steps, Reorthogonalization::Full)?;
    let pairs = ritz_pairs(&res)?;
    let m = pairs.values.len();
    let mut order: Vec<usize> = (0..m).collect();
    match which {
        Which::LargestAlgebraic => order.reverse(),
        Which::SmallestAlgebraic => {}
        Which::LargestMagnitude => {
            order.sort_by(|&a, &b| pairs.values[b].abs().total_cmp(&pairs.values[a].abs()))
        }
    }
    order.truncate(k.min(m));
    let vectors = match &pairs.vectors {
        Some(v) => Mat::from_fn(n, order.len(), |i, j| v[(i, order[j])]),
        None => Mat::zeros(n, 0),
    };
    Ok(Extremes {
        values: order.iter().map(|&i| pairs.values[i]).collect(),
        residuals: order.iter().map(|&i| pairs.residual_bounds[i]).collect(),
        vectors,
        matvecs: res.work.matvecs,
    })
}

/// PyHessian's deflated power iteration (module docs): `k` eigenvalues
/// (largest magnitude first), at most `max_iters` products each (at least
/// 1, at most 10⁶), stopping at relative change `tol > 0`; returns the
/// values and the products used.
pub fn power_deflated(
    op: &impl LinOp<f64>,
    k: usize,
    max_iters: usize,
    tol: f64,
    seed: u64,
) -> Result<(Vec<f64>, usize)> {
    let n = linalg_core::op::check_square(op, "power iteration")?;
    crate::check_k(k, n)?;
    linalg_core::param::in_range("max_iters", max_iters as f64, 1.0, 1e6)?;
    linalg_core::param::positive("tol", tol)?;
    crate::check_block("k", n, k)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut found: Vec<Col<f64>> = Vec::new();
    let mut values = Vec::new();
    let mut matvecs = 0;
    let orth = |v: &mut Col<f64>, found: &[Col<f64>]| {
        for u in found {
            let c = u.transpose() * &*v;
            *v -= u * c;
        }
        let nrm = v.norm_l2();
        if nrm > 0.0 {
            *v *= 1.0 / nrm;
        }
    };
    for _ in 0..k {
        let mut v = Col::<f64>::from_fn(n, |_| StandardNormal.sample(&mut rng));
        orth(&mut v, &found);
        let mut lambda: Option<f64> = None;
        for _ in 0..max_iters {
            let mut hv = linalg_core::op::apply(op, v.as_ref());
            matvecs += 1;
            linalg_core::op::check_finite("power iteration", hv.as_ref())?;
            let rq = v.transpose() * &hv;
            orth(&mut hv, &found);
            v = hv;
            let done = lambda.is_some_and(|l: f64| (rq - l).abs() / (l.abs() + 1e-6) < tol);
            lambda = Some(rq);
            if done {
                break;
            }
        }
        values.push(lambda.unwrap_or(0.0));
        found.push(v);
    }
    Ok((values, matvecs))
}
