//! Spectral density by stochastic Lanczos quadrature (SLQ; Lin, Saad, Yang
//! 2016; Ghorbani, Krishnan, Xiao 2019 for Hessians; PyHessian's
//! `density`).
//!
//! For each of `probes` Rademacher start vectors `v/‖v‖`, `steps` Lanczos
//! steps (full reorthogonalisation, `linalg_core::lanczos`) give the
//! tridiagonal `T = UΘUᵀ`; the Gauss quadrature nodes are the Ritz values
//! `θⱼ` with weights `τⱼ = U₀ⱼ²` (summing to 1 per probe). The density
//! estimate is the mixture `φ(t) = (1/probes) Σ τⱼ N(t; θⱼ, σ²)`, whose
//! integral is exactly 1 and whose moments are Gauss-quadrature estimates
//! of `tr(Aᵏ)/n` (exact up to degree `2·steps − 1` per probe). The error
//! proxy is the spread between probes ([`SpectralDensity::moment_stderr`]).
//!
//! Default smoothing (curvlinops' rule on the spectrum rescaled to
//! `[−1, 1]`): `σ = (θ_max − θ_min)/2 · 2/((steps − 1)√(8 ln 3))`.

use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::{Col, Side};
use linalg_core::lanczos::{Reorthogonalization, lanczos};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::Result;

/// Parameters of [`slq`], validated once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlqParams {
    /// Lanczos steps per probe (default 80, at least 2).
    pub steps: usize,
    /// Start vectors (default 10).
    pub probes: usize,
    /// The Gaussian smoothing width (default: module docs).
    pub sigma: Option<f64>,
    /// Seed of the start vectors.
    pub seed: u64,
}

impl Default for SlqParams {
    fn default() -> Self {
        Self {
            steps: 80,
            probes: 10,
            sigma: None,
            seed: 0,
        }
    }
}

impl SlqParams {
    /// Rejects fewer than 2 steps, no probes, more than 10⁵ of either, and
    /// a non-positive smoothing width.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::in_range("steps", self.steps as f64, 2.0, 1e5)?;
        linalg_core::param::in_range("probes", self.probes as f64, 1.0, 1e5)?;
        if let Some(s) = self.sigma {
            linalg_core::param::positive("sigma", s)?;
        }
        Ok(())
    }
}

/// A smoothed spectral density: quadrature nodes and weights per probe.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SpectralDensity {
    /// Nodes (Ritz values), probe after probe.
    pub nodes: Vec<f64>,
    /// Weights, summing to 1 over all probes.
    pub weights: Vec<f64>,
    /// Where each probe's nodes start in `nodes` (and one past the end).
    pub offsets: Vec<usize>,
    /// The smoothing width.
    pub sigma: f64,
    /// Operator applications.
    pub matvecs: usize,
}

impl SpectralDensity {
    /// The density at each point of `grid`.
    pub fn evaluate(&self, grid: &[f64]) -> Vec<f64> {
        let c = 1.0 / (self.sigma * (2.0 * std::f64::consts::PI).sqrt());
        grid.iter()
            .map(|&t| {
                self.nodes
                    .iter()
                    .zip(&self.weights)
                    .map(|(&th, &w)| w * c * (-0.5 * ((t - th) / self.sigma).powi(2)).exp())
                    .sum()
            })
            .collect()
    }

    /// `Σ τⱼθⱼᵏ`: the quadrature estimate of `tr(Aᵏ)/n` (unsmoothed).
    pub fn moment(&self, k: i32) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&th, &w)| w * th.powi(k))
            .sum()
    }

    /// The standard error of [`moment`](Self::moment) across probes (∞ with one probe).
    pub fn moment_stderr(&self, k: i32) -> f64 {
        let p = self.offsets.len() - 1;
        if p < 2 {
            return f64::INFINITY;
        }
        let per: Vec<f64> = (0..p)
            .map(|i| {
                let (a, b) = (self.offsets[i], self.offsets[i + 1]);
                // Each probe's weights sum to 1/p.
                (a..b)
                    .map(|j| self.weights[j] * p as f64 * self.nodes[j].powi(k))
                    .sum()
            })
            .collect();
        let mean = per.iter().sum::<f64>() / p as f64;
        let var = per.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (p - 1) as f64;
        (var / p as f64).sqrt()
    }

    /// The smoothed density's mass on `[lo, hi]`:
    /// `Σ τⱼ (Φ((hi − θⱼ)/σ) − Φ((lo − θⱼ)/σ))`. Quadrature cannot resolve
    /// intervals much narrower than the node spacing; `σ` is the
    /// resolution to quote with it.
    pub fn mass(&self, lo: f64, hi: f64) -> f64 {
        let s = self.sigma;
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&th, &w)| {
                w * (crate::mlp::normal_cdf((hi - th) / s) - crate::mlp::normal_cdf((lo - th) / s))
            })
            .sum()
    }

    /// The smallest and largest node.
    pub fn range(&self) -> (f64, f64) {
        self.nodes
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| {
                (a.min(t), b.max(t))
            })
    }
}

/// The SLQ density of the symmetric operator `op` (module docs).
pub fn slq(op: &impl LinOp<f64>, params: &SlqParams) -> Result<SpectralDensity> {
    params.validate()?;
    let n = linalg_core::op::check_square(op, "SLQ")?;
    linalg_core::param::at_least("operator size", n, 1)?;
    let mut rng = StdRng::seed_from_u64(params.seed);
    let (mut nodes, mut weights, mut offsets) = (Vec::new(), Vec::new(), vec![0]);
    let mut matvecs = 0;
    let steps = params.steps.min(n);
    crate::check_block("steps", n, steps)?;
    for _ in 0..params.probes {
        let v = Col::from_fn(n, |_| if rng.random::<bool>() { 1.0 } else { -1.0 });
        let res = lanczos(op, v.as_ref(), steps, Reorthogonalization::Full)?;
        matvecs += res.work.matvecs;
        let t = res.tridiagonal();
        let evd = t.self_adjoint_eigen(Side::Lower).map_err(|e| {
            linalg_core::Error::Numerical(format!("tridiagonal eigensolver: {e:?}"))
        })?;
        let (s, u) = (evd.S().column_vector(), evd.U());
        for j in 0..t.nrows() {
            nodes.push(s[j]);
            weights.push(u[(0, j)].powi(2) / params.probes as f64);
        }
        offsets.push(nodes.len());
    }
    let mut density = SpectralDensity {
        nodes,
        weights,
        offsets,
        sigma: 1.0,
        matvecs,
    };
    density.sigma = match params.sigma {
        Some(s) => s,
        None => {
            let (lo, hi) = density.range();
            let half = (0.5 * (hi - lo)).max(1e-12 * hi.abs().max(lo.abs()).max(1.0));
            half * 2.0 / ((steps.max(2) - 1) as f64 * (8.0 * 3f64.ln()).sqrt())
        }
    };
    Ok(density)
}
