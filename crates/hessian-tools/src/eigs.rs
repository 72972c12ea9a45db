//! Extreme eigenvalues of a symmetric operator: Lanczos with full
//! reorthogonalisation and Ritz residuals, and PyHessian's deflated power
//! iteration for comparison.
//!
//! [`extremes`] runs one Lanczos process (`linalg_core::lanczos`, seeded
//! Gaussian start) and returns the `k` Ritz pairs asked for — largest
//! algebraic, smallest algebraic or largest magnitude, kept apart — with
//! their residual norms `‖Au − θu‖ = β_m|yₘᵢ|`, so a caller sees which
//! values have converged. Every `check_every` steps it eigendecomposes the
//! tridiagonal so far and stops once all `k` wanted residuals are at most
//! `tol·|θ|max` (no restart: the basis grows to at most `max_steps`). [`power_deflated`] is PyHessian's `eigenvalues`:
//! for each of `k` values, power iteration from a random vector kept
//! orthogonal to the vectors found, stopped when the Rayleigh quotient
//! changes by less than `tol` relative (PyHessian: 100 iterations,
//! `tol = 1e-3`).

use linalg_core::Control;
use linalg_core::faer::Side;
use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::{Col, Mat};
use linalg_core::lanczos::{LanczosParams, Reorthogonalization, lanczos_with, ritz_pairs};
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

/// Parameters of [`extremes`], checked by [`EigParams::validate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EigParams {
    /// How many eigenvalues (`1 ≤ k ≤ n`).
    pub k: usize,
    /// Which end.
    pub which: Which,
    /// Lanczos steps at most (`≥ k`, at most 10⁵; capped at `n`).
    pub max_steps: usize,
    /// Stop when every wanted Ritz residual is at most `tol·max|θ|`
    /// (`0`: run all `max_steps`).
    pub tol: f64,
    /// Test the residuals every this many steps (≥ 1).
    pub check_every: usize,
    /// Seed of the Gaussian start vector.
    pub seed: u64,
}

impl EigParams {
    /// The `k` largest eigenvalues, at most 300 steps, `tol = 1e-10`,
    /// tested every 5 steps, seed 0.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            which: Which::LargestAlgebraic,
            max_steps: 300,
            tol: 1e-10,
            check_every: 5,
            seed: 0,
        }
    }
    /// Sets the end of the spectrum.
    pub fn which(mut self, w: Which) -> Self {
        self.which = w;
        self
    }
    /// Sets the step limit.
    pub fn max_steps(mut self, s: usize) -> Self {
        self.max_steps = s;
        self
    }
    /// Sets the residual tolerance (0 runs every step).
    pub fn tol(mut self, t: f64) -> Self {
        self.tol = t;
        self
    }
    /// Sets the test interval.
    pub fn check_every(mut self, c: usize) -> Self {
        self.check_every = c;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Checks the fields that do not depend on the operator.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::at_least("k", self.k, 1)?;
        linalg_core::param::in_range("max_steps", self.max_steps as f64, self.k as f64, 1e5)?;
        linalg_core::param::nonnegative("tol", self.tol)?;
        linalg_core::param::finite_value("tol", self.tol)?;
        linalg_core::param::at_least("check_every", self.check_every, 1)?;
        Ok(())
    }
}

/// The positions of the wanted Ritz values among ascending `values`.
fn wanted(values: &[f64], k: usize, which: Which) -> Vec<usize> {
    let m = values.len();
    let mut order: Vec<usize> = (0..m).collect();
    match which {
        Which::LargestAlgebraic => order.reverse(),
        Which::SmallestAlgebraic => {}
        Which::LargestMagnitude => {
            order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()))
        }
    }
    order.truncate(k.min(m));
    order
}

/// Whether the `k` wanted Ritz pairs of the tridiagonal `(alpha, beta)`
/// with next off-diagonal `b` have residuals `≤ tol·max|θ|`.
fn converged(alpha: &[f64], beta: &[f64], b: f64, k: usize, which: Which, tol: f64) -> bool {
    let j = alpha.len();
    if j < k {
        return false;
    }
    let t = Mat::from_fn(j, j, |r, c| {
        if r == c {
            alpha[r]
        } else if r == c + 1 {
            beta[c]
        } else if c == r + 1 {
            beta[r]
        } else {
            0.0
        }
    });
    let Ok(evd) = t.self_adjoint_eigen(Side::Lower) else {
        return false;
    };
    let values: Vec<f64> = (0..j).map(|i| evd.S()[i]).collect();
    let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    wanted(&values, k, which)
        .iter()
        .all(|&i| (b * evd.U()[(j - 1, i)]).abs() <= tol * scale)
}

/// The `k` extreme Ritz pairs of the symmetric `op` asked for by `params`
/// (see the module notes for the stopping rule).
pub fn extremes(op: &impl LinOp<f64>, params: &EigParams) -> Result<Extremes> {
    params.validate()?;
    let n = linalg_core::op::check_square(op, "extremes")?;
    let (k, which) = (params.k, params.which);
    crate::check_k(k, n)?;
    let steps = params.max_steps.min(n);
    crate::check_block("max_steps", n, steps)?;
    let mut rng = StdRng::seed_from_u64(params.seed);
    let start = Col::<f64>::from_fn(n, |_| StandardNormal.sample(&mut rng));
    let lp = LanczosParams::new(steps).reorth(Reorthogonalization::Full);
    let (mut alpha, mut beta) = (Vec::new(), Vec::new());
    let observer = |r: &linalg_core::lanczos::LanczosRecord| {
        alpha.push(r.alpha);
        let j = alpha.len();
        let stop = params.tol > 0.0
            && j % params.check_every == 0
            && j < steps
            && converged(&alpha, &beta, r.beta, k, which, params.tol);
        beta.push(r.beta);
        if stop {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let res = lanczos_with(op, start.as_ref(), &lp, observer)?;
    let pairs = ritz_pairs(&res)?;
    let order = wanted(&pairs.values, k, which);
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

/// Parameters of [`power_deflated`]; the defaults are PyHessian's
/// (`maxIter = 100`, `tol = 1e-3`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerParams {
    /// How many eigenvalues (`1 ≤ k ≤ n`).
    pub k: usize,
    /// Products per eigenvalue at most (1 to 10⁶).
    pub max_iters: usize,
    /// Relative change of the Rayleigh quotient that stops one value (> 0).
    pub tol: f64,
    /// Seed of the start vectors.
    pub seed: u64,
}

impl PowerParams {
    /// `k` values at PyHessian's defaults, seed 0.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            max_iters: 100,
            tol: 1e-3,
            seed: 0,
        }
    }
    /// Sets the iteration limit.
    pub fn max_iters(mut self, m: usize) -> Self {
        self.max_iters = m;
        self
    }
    /// Sets the tolerance.
    pub fn tol(mut self, t: f64) -> Self {
        self.tol = t;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Checks the fields that do not depend on the operator.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::at_least("k", self.k, 1)?;
        linalg_core::param::in_range("max_iters", self.max_iters as f64, 1.0, 1e6)?;
        linalg_core::param::positive("tol", self.tol)?;
        Ok(())
    }
}

/// PyHessian's deflated power iteration (module docs): `k` eigenvalues
/// (largest magnitude first); returns the values and the products used.
pub fn power_deflated(op: &impl LinOp<f64>, params: &PowerParams) -> Result<(Vec<f64>, usize)> {
    params.validate()?;
    let n = linalg_core::op::check_square(op, "power iteration")?;
    let (k, max_iters, tol) = (params.k, params.max_iters, params.tol);
    crate::check_k(k, n)?;
    crate::check_block("k", n, k)?;
    let mut rng = StdRng::seed_from_u64(params.seed);
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
