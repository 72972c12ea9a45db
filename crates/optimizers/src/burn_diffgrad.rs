//! diffGrad as a burn 0.22 optimizer (cargo feature `burn`).
//!
//! `ModuleOptimizer::from(DiffGradConfig::new().init())` — or
//! `DiffGradConfig::new().init()` directly, which returns the
//! `ModuleOptimizer` — trains any burn module; its per-parameter state
//! (step count, both moments, the previous gradient) goes through burn's
//! optimizer record (`to_record`, `into_bytes`, `save`/`load`).
//!
//! The update is the one of [`Method::DiffGrad`](crate::Method::DiffGrad)
//! (torch-optimizer's `DiffGrad`): `ξ = sigmoid(|g_{t−1} − g_t|)`,
//! `g_0 = 0`, `x ← x − lr √bc2/bc1 · ξ m / (√v + ε)`, coupled weight decay.

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use burn_pack::Scalar;

/// diffGrad hyperparameters (torch-optimizer's defaults).
#[derive(Config, Debug)]
pub struct DiffGradConfig {
    /// First-moment decay β1.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Second-moment decay β2.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// ε added to `√v`.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Coupled L2 weight decay (added to the gradient).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl DiffGradConfig {
    /// The bare optimizer (for `ModuleOptimizer::with_group` or `from`).
    ///
    /// # Panics
    /// If a hyperparameter is out of range (β ∉ [0, 1), ε ≤ 0, negative
    /// weight decay); use [`DiffGradConfig::validate`] to get the error instead.
    pub fn build(&self) -> DiffGrad {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        DiffGrad {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
        }
    }

    /// Checks the hyperparameters.
    pub fn validate(&self) -> crate::Result<()> {
        use linalg_core::param::{in_unit_interval, nonnegative, positive};
        in_unit_interval("beta_1", self.beta_1)?;
        in_unit_interval("beta_2", self.beta_2)?;
        positive("epsilon", self.epsilon)?;
        nonnegative("weight_decay", self.weight_decay)?;
        Ok(())
    }

    /// The whole-module optimizer.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }
}

/// The diffGrad optimizer (see [`DiffGradConfig`]).
#[derive(Clone, Debug)]
pub struct DiffGrad {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    weight_decay: f64,
}

/// Per-parameter diffGrad state.
#[derive(Clone, Debug)]
pub struct DiffGradState<const D: usize> {
    /// Steps taken.
    pub time: usize,
    /// First moment `m`.
    pub moment_1: Tensor<D>,
    /// Second moment `v`.
    pub moment_2: Tensor<D>,
    /// The previous (decayed) gradient.
    pub prev_grad: Tensor<D>,
}

// Written by hand rather than derived: the derive expects its helper names
// at the crate root of the crate that uses it.
impl<const D: usize> RecordState for DiffGradState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "time", Scalar::UInt(self.time as u64));
        out.push_tensor(prefix, "moment_1", self.moment_1.to_data());
        out.push_tensor(prefix, "moment_2", self.moment_2.to_data());
        out.push_tensor(prefix, "prev_grad", self.prev_grad.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let time = match src.take_scalar(prefix, "time")? {
            Scalar::UInt(t) => usize::try_from(t).ok()?,
            Scalar::Int(t) => usize::try_from(t).ok()?,
            _ => return None,
        };
        let mut tensor = |leaf| {
            src.take_tensor(prefix, leaf)
                .map(|d| Tensor::<D>::from_data(d, device))
        };
        Some(Self {
            time,
            moment_1: tensor("moment_1")?,
            moment_2: tensor("moment_2")?,
            prev_grad: tensor("prev_grad")?,
        })
    }
}

impl Optimizer for DiffGrad {
    type State<const D: usize> = DiffGradState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        mut grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if self.weight_decay > 0.0 {
            grad = grad + tensor.clone().mul_scalar(self.weight_decay);
        }
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (time, m, v, prev) = match state {
            Some(s) => (
                s.time + 1,
                s.moment_1.mul_scalar(b1) + grad.clone().mul_scalar(1.0 - b1),
                s.moment_2.mul_scalar(b2) + grad.clone().square().mul_scalar(1.0 - b2),
                s.prev_grad,
            ),
            None => (
                1,
                grad.clone().mul_scalar(1.0 - b1),
                grad.clone().square().mul_scalar(1.0 - b2),
                grad.zeros_like(),
            ),
        };
        let xi = sigmoid((prev - grad.clone()).abs());
        let t = time as i32;
        let step_size = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        let update =
            (m.clone() * xi / v.clone().sqrt().add_scalar(self.epsilon)).mul_scalar(step_size);
        let state = DiffGradState {
            time,
            moment_1: m,
            moment_2: v,
            prev_grad: grad,
        };
        (tensor - update, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        DiffGradState {
            time: state.time,
            moment_1: state.moment_1.to_device(device),
            moment_2: state.moment_2.to_device(device),
            prev_grad: state.prev_grad.to_device(device),
        }
    }
}
