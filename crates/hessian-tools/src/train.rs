//! Training helpers, so every analysis runs on trained networks: full-batch
//! gradient descent and mini-batch SGD with heavy-ball momentum, seeded
//! batches.
//!
//! ```text
//! per step:  g = ∇L_B(θ)  (mean over the batch B)
//!            u ← μ u + g,   θ ← θ − η u          (PyTorch's SGD, dampening 0)
//! ```
//!
//! An epoch is one step for gradient descent (`batch = 0`, the full data)
//! and one seeded permutation of the samples in batches of `batch`
//! (the last, smaller batch kept) for SGD. [`Trainer`] is the state
//! machine (resumable, so analyses can measure between epochs); [`train`]
//! runs it with the workspace's recorder and observer.

use linalg_core::faer::Col;
use linalg_core::{Control, ParamError, Recorder, Termination, Work};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

use crate::Result;
use crate::mlp::MlpLoss;

/// Parameters of [`train`] and [`Trainer`], checked by [`TrainParams::validate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// Step size `η > 0`.
    pub lr: f64,
    /// Momentum `μ ∈ [0, 1)`.
    pub momentum: f64,
    /// Batch size; 0 means the full data (gradient descent).
    pub batch: usize,
    /// Epochs to run (≥ 1).
    pub epochs: usize,
    /// Record the full loss every this many epochs (≥ 1).
    pub record_every: usize,
    /// Stop when the full loss is at most this (0 disables).
    pub loss_tol: f64,
    /// Seed of the batch order.
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            lr: 0.1,
            momentum: 0.0,
            batch: 0,
            epochs: 100,
            record_every: 1,
            loss_tol: 0.0,
            seed: 0,
        }
    }
}

impl TrainParams {
    /// Sets the step size.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// Sets the momentum.
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }
    /// Sets the batch size (0 = full batch).
    pub fn batch(mut self, b: usize) -> Self {
        self.batch = b;
        self
    }
    /// Sets the number of epochs.
    pub fn epochs(mut self, e: usize) -> Self {
        self.epochs = e;
        self
    }
    /// Sets the recording interval.
    pub fn record_every(mut self, e: usize) -> Self {
        self.record_every = e;
        self
    }
    /// Sets the loss tolerance.
    pub fn loss_tol(mut self, t: f64) -> Self {
        self.loss_tol = t;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::positive("lr", self.lr)?;
        linalg_core::param::nonnegative("momentum", self.momentum)?;
        if self.momentum >= 1.0 {
            return Err(
                ParamError::new("momentum", format!("{} is not below 1", self.momentum)).into(),
            );
        }
        linalg_core::param::at_least("epochs", self.epochs, 1)?;
        linalg_core::param::at_least("record_every", self.record_every, 1)?;
        linalg_core::param::nonnegative("loss_tol", self.loss_tol)?;
        Ok(())
    }
}

/// One record of [`train`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TrainRecord {
    /// Epochs completed (0 = the start).
    pub iteration: usize,
    /// Parameter updates so far.
    pub steps: usize,
    /// The full-data loss.
    pub loss: f64,
    /// `‖∇L(θ)‖` on the full data.
    pub grad_norm: f64,
    /// Seconds since the start.
    pub seconds: f64,
}

linalg_core::impl_iteration_record!(TrainRecord);

/// The outcome of [`train`].
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Epochs run.
    pub epochs: usize,
    /// Parameter updates.
    pub steps: usize,
    /// Whether the loss reached `loss_tol`.
    pub converged: bool,
    /// Whether the loss or the parameters became non-finite (an unstable
    /// step size); the parameters are then the last ones with a finite loss.
    pub diverged: bool,
    /// Why it stopped (`Breakdown` when it diverged).
    pub termination: Termination,
    /// The final full loss.
    pub loss: f64,
    /// The records.
    pub history: Vec<TrainRecord>,
    /// Gradient evaluations (batch gradients count one each).
    pub work: Work,
    /// Wall time.
    pub elapsed: std::time::Duration,
}

/// The training state: momentum buffer, batch order, counters.
#[derive(Debug)]
pub struct Trainer<'a> {
    loss: &'a MlpLoss,
    params: TrainParams,
    velocity: Col<f64>,
    grad: Col<f64>,
    /// The parameters before the last update (their loss was finite).
    prev: Option<Col<f64>>,
    order: Vec<usize>,
    rng: StdRng,
    steps: usize,
    epochs: usize,
    work: Work,
}

impl<'a> Trainer<'a> {
    /// A trainer for `loss` (parameters validated here).
    pub fn new(loss: &'a MlpLoss, params: TrainParams) -> Result<Self> {
        params.validate()?;
        let p = loss.mlp().n_params();
        Ok(Self {
            loss,
            params,
            velocity: Col::zeros(p),
            grad: Col::zeros(p),
            prev: None,
            order: (0..loss.n_samples()).collect(),
            rng: StdRng::seed_from_u64(params.seed),
            steps: 0,
            epochs: 0,
            work: Work::default(),
        })
    }

    /// Parameter updates so far.
    pub fn steps(&self) -> usize {
        self.steps
    }
    /// Epochs so far.
    pub fn epochs(&self) -> usize {
        self.epochs
    }
    /// Gradient evaluations so far.
    pub fn work(&self) -> Work {
        self.work
    }

    fn step(&mut self, theta: &mut Col<f64>, batch: Option<&[usize]>) -> Result<bool> {
        let value = match batch {
            None => self
                .loss
                .loss_and_gradient(theta.as_ref(), self.grad.as_mut())?,
            Some(idx) => self
                .loss
                .subset(idx)?
                .loss_and_gradient(theta.as_ref(), self.grad.as_mut())?,
        };
        self.work.gradient_evals += 1;
        if !value.is_finite() || self.grad.iter().any(|g| !g.is_finite()) {
            return Ok(false);
        }
        match &mut self.prev {
            Some(p) => p.copy_from(&*theta),
            None => self.prev = Some(theta.clone()),
        }
        let (mu, lr) = (self.params.momentum, self.params.lr);
        let mut finite = true;
        for ((t, u), g) in theta
            .iter_mut()
            .zip(self.velocity.iter_mut())
            .zip(self.grad.iter())
        {
            *u = mu * *u + g;
            *t -= lr * *u;
            finite &= t.is_finite();
        }
        self.steps += 1;
        Ok(finite)
    }

    /// One epoch. Returns `false` when a step met a non-finite loss,
    /// gradient or parameter; `theta` is then the last parameters whose
    /// loss was finite (those before the update that led there).
    pub fn epoch(&mut self, theta: &mut Col<f64>) -> Result<bool> {
        let n = self.loss.n_samples();
        let ok = if self.params.batch == 0 || self.params.batch >= n {
            self.step(theta, None).or_else(non_finite_as_divergence)?
        } else {
            self.order.shuffle(&mut self.rng);
            let order = std::mem::take(&mut self.order);
            let mut ok = true;
            for chunk in order.chunks(self.params.batch) {
                if !self
                    .step(theta, Some(chunk))
                    .or_else(non_finite_as_divergence)?
                {
                    ok = false;
                    break;
                }
            }
            self.order = order;
            ok
        };
        self.epochs += 1;
        if !ok && let Some(p) = &self.prev {
            theta.copy_from(p);
        }
        Ok(ok)
    }
}

/// A step that overflowed reports the loss at θ as non-finite: that is a
/// divergence of training, not bad input.
fn non_finite_as_divergence(e: crate::Error) -> Result<bool> {
    match e {
        crate::Error::Core(linalg_core::Error::NonFinite { .. }) => Ok(false),
        crate::Error::Param(p) if p.name == "theta" => Ok(false),
        e => Err(e),
    }
}

/// Trains `theta` in place on `loss`; the observer sees a record every
/// `record_every` epochs (and at the start) and may stop the run.
pub fn train(
    loss: &MlpLoss,
    theta: &mut Col<f64>,
    params: &TrainParams,
    observer: impl FnMut(&TrainRecord) -> Control,
) -> Result<TrainReport> {
    let mut trainer = Trainer::new(loss, *params)?;
    let mut rec = Recorder::new(params.epochs, observer);
    let mut grad = Col::zeros(loss.mlp().n_params());
    let mut measure =
        |theta: &Col<f64>, trainer: &Trainer<'_>, seconds: f64| -> Result<TrainRecord> {
            let value = loss.loss_and_gradient(theta.as_ref(), grad.as_mut())?;
            Ok(TrainRecord {
                iteration: trainer.epochs(),
                steps: trainer.steps(),
                loss: value,
                grad_norm: grad.norm_l2(),
                seconds,
            })
        };
    let first = measure(theta, &trainer, 0.0)?;
    let mut last_loss = first.loss;
    let mut termination = rec.record(first, params.loss_tol > 0.0 && last_loss <= params.loss_tol);
    let mut diverged = false;
    while termination.is_none() {
        if !trainer.epoch(theta)? {
            diverged = true;
            termination = Some(Termination::Breakdown);
            break;
        }
        let e = trainer.epochs();
        if e % params.record_every == 0 || e == params.epochs {
            let r = measure(theta, &trainer, rec.seconds())?;
            last_loss = r.loss;
            termination = rec.record(r, params.loss_tol > 0.0 && last_loss <= params.loss_tol);
        }
    }
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let (history, elapsed) = rec.finish();
    Ok(TrainReport {
        epochs: trainer.epochs(),
        steps: trainer.steps(),
        converged: termination == Termination::Converged,
        diverged,
        termination,
        loss: last_loss,
        history,
        work: trainer.work(),
        elapsed,
    })
}
