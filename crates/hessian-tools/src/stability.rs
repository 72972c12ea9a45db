//! Linear-stability diagnostics along training (Wu & Su, ICML 2023; Wu,
//! Wang, Su 2022; Cohen et al. 2021): the sharpness `λ_max(H)`, `Tr H` and
//! `‖H‖_F` with the step size's bounds.
//!
//! A minimum that gradient descent with step `η` can stay at has
//! `λ_max·η/2 ≤ 1`; one that SGD with batch 1 can stay at has
//! `Tr H·η/2 ≤ 1` (Wu & Su); for batch `B`, `‖H‖_F·η/√B` is the
//! quantity of Wu, Wang, Su. [`sharpness`] measures the three at a point —
//! exactly (dense `H`, for small models) or by Lanczos (with its Ritz
//! residual), Hutch++ and the Frobenius estimator (with standard errors);
//! [`stability_along`] trains and measures every few epochs.

use linalg_core::faer::{Col, ColRef};
use linalg_core::{Control, Termination};

use crate::Result;
use crate::eigs::{EigParams, extremes};
use crate::mlp::{CurvatureKind, MlpLoss};
use crate::trace::{Probe, TraceMethod, TraceParams, frobenius_squared, trace};
use crate::train::{TrainParams, Trainer};

/// How [`sharpness`] measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StabilityParams {
    /// Dense Hessian and its full spectrum (exact; `p ≤ 10⁴`).
    pub exact: bool,
    /// Products of the trace estimate (Hutch++).
    pub trace_matvecs: usize,
    /// Probes of the Frobenius estimate.
    pub frobenius_matvecs: usize,
    /// Seed of the estimators.
    pub seed: u64,
}

impl Default for StabilityParams {
    /// Stochastic, 60 products for the trace, 30 for the Frobenius norm.
    fn default() -> Self {
        Self {
            exact: false,
            trace_matvecs: 60,
            frobenius_matvecs: 30,
            seed: 0,
        }
    }
}

/// `λ_max`, `Tr H` and `‖H‖_F` at one point, with error bars.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Sharpness {
    /// The largest (algebraic) Hessian eigenvalue.
    pub lambda_max: f64,
    /// Its Ritz residual (0 when exact).
    pub lambda_max_residual: f64,
    /// `Tr H`.
    pub trace: f64,
    /// Its standard error (0 when exact).
    pub trace_stderr: f64,
    /// `‖H‖_F`.
    pub frobenius: f64,
    /// Its standard error (0 when exact; the delta method from `‖H‖_F²`).
    pub frobenius_stderr: f64,
    /// Hessian-vector products used.
    pub matvecs: usize,
}

/// Measures [`Sharpness`] of `loss` at `theta`.
pub fn sharpness(
    loss: &MlpLoss,
    theta: ColRef<'_, f64>,
    params: &StabilityParams,
) -> Result<Sharpness> {
    let h = loss.curvature(theta, CurvatureKind::Hessian)?;
    if params.exact {
        let (dense, _) = crate::dense::assemble(&h, linalg_core::faer::get_global_parallelism())?;
        let ev = crate::dense::eigenvalues(&dense)?;
        let frob = ev.iter().map(|l| l * l).sum::<f64>().sqrt();
        return Ok(Sharpness {
            lambda_max: ev[0],
            lambda_max_residual: 0.0,
            trace: ev.iter().sum(),
            trace_stderr: 0.0,
            frobenius: frob,
            frobenius_stderr: 0.0,
            matvecs: dense.nrows(),
        });
    }
    let top = extremes(&h, &EigParams::new(1).seed(params.seed))?;
    let tr = trace(
        &h,
        &TraceParams::new(TraceMethod::HutchPlusPlus, params.trace_matvecs).seed(params.seed),
    )?;
    let f2 = frobenius_squared(
        &h,
        params.frobenius_matvecs,
        Probe::Rademacher,
        params.seed.wrapping_add(1),
    )?;
    let frob = f2.value.max(0.0).sqrt();
    Ok(Sharpness {
        lambda_max: top.values[0],
        lambda_max_residual: top.residuals[0],
        trace: tr.value,
        trace_stderr: tr.stderr,
        frobenius: frob,
        frobenius_stderr: if frob > 0.0 {
            f2.stderr / (2.0 * frob)
        } else {
            0.0
        },
        matvecs: top.matvecs + tr.matvecs + f2.matvecs,
    })
}

/// One measurement along training.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StabilityPoint {
    /// Epochs completed.
    pub epoch: usize,
    /// Parameter updates completed.
    pub steps: usize,
    /// Full-data loss.
    pub loss: f64,
    /// The curvature measured.
    pub sharpness: Sharpness,
    /// `λ_max·η/2` (GD is stable where ≤ 1).
    pub lambda_max_eta_half: f64,
    /// `Tr H·η/2` (SGD with batch 1 is stable where ≤ 1).
    pub trace_eta_half: f64,
    /// `‖H‖_F·η/√B` (B the batch size; the full data for GD).
    pub frobenius_eta_over_sqrt_batch: f64,
}

/// Training with measurements.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StabilityRun {
    /// The step size.
    pub lr: f64,
    /// The batch size (the sample count for gradient descent).
    pub batch: usize,
    /// Measurements at epoch 0, every `every` epochs and at the end.
    pub points: Vec<StabilityPoint>,
    /// Whether training diverged (the last point is the last finite one).
    pub diverged: bool,
    /// Why it stopped.
    pub termination: Termination,
}

/// Trains `theta` by `train` and measures [`Sharpness`] every `every ≥ 1`
/// epochs; the observer sees each point and may stop the run.
pub fn stability_along(
    loss: &MlpLoss,
    theta: &mut Col<f64>,
    train: &TrainParams,
    every: usize,
    params: &StabilityParams,
    mut observer: impl FnMut(&StabilityPoint) -> Control,
) -> Result<StabilityRun> {
    linalg_core::param::at_least("every", every, 1)?;
    linalg_core::param::at_least("trace_matvecs", params.trace_matvecs, 3)?;
    linalg_core::param::at_least("frobenius_matvecs", params.frobenius_matvecs, 2)?;
    let mut trainer = Trainer::new(loss, *train)?;
    let n = loss.n_samples();
    let batch = if train.batch == 0 || train.batch >= n {
        n
    } else {
        train.batch
    };
    let eta = train.lr;
    let measure = |theta: &Col<f64>, trainer: &Trainer<'_>| -> Result<StabilityPoint> {
        let s = sharpness(loss, theta.as_ref(), params)?;
        let value = linalg_core::Objective::value(loss, theta.as_ref());
        Ok(StabilityPoint {
            epoch: trainer.epochs(),
            steps: trainer.steps(),
            loss: value,
            sharpness: s,
            lambda_max_eta_half: s.lambda_max * eta / 2.0,
            trace_eta_half: s.trace * eta / 2.0,
            frobenius_eta_over_sqrt_batch: s.frobenius * eta / (batch as f64).sqrt(),
        })
    };
    let mut points = vec![measure(theta, &trainer)?];
    let mut termination = Termination::MaxIterations;
    let mut diverged = false;
    if observer(&points[0]) == Control::Stop {
        termination = Termination::Cancelled;
    } else {
        while trainer.epochs() < train.epochs {
            if !trainer.epoch(theta)? {
                diverged = true;
                termination = Termination::Breakdown;
                break;
            }
            let e = trainer.epochs();
            if e % every == 0 || e == train.epochs {
                let p = measure(theta, &trainer)?;
                points.push(p);
                if observer(&p) == Control::Stop {
                    termination = Termination::Cancelled;
                    break;
                }
            }
        }
    }
    Ok(StabilityRun {
        lr: eta,
        batch,
        points,
        diverged,
        termination,
    })
}
