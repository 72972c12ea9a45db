//! Training the DCDM network (cargo feature `burn`): Adam on the DCDM loss,
//! mini-batches, a validation split, a checkpoint after every epoch and
//! resume from one, all seeded.

use std::path::Path;
use std::time::Instant;

use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

use crate::net::{DcdmNet, DcdmNetConfig, TensorStencil, dcdm_loss, train_step};
use crate::{Error, Result};

/// Training hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Adam learning rate (official: 1e-4).
    pub lr: f64,
    /// Batch size (official: 10).
    pub batch_size: usize,
    /// Fraction of the samples held out for validation (official: 0.1).
    pub val_fraction: f64,
    /// Seed of the split, the shuffles and the initial weights.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            batch_size: 10,
            val_fraction: 0.1,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Sets the learning rate.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// Sets the batch size.
    pub fn batch_size(mut self, k: usize) -> Self {
        self.batch_size = k;
        self
    }
    /// Sets the validation fraction.
    pub fn val_fraction(mut self, f: f64) -> Self {
        self.val_fraction = f;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Rejects a non-positive learning rate, a zero batch and a validation
    /// fraction outside `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::positive("lr", self.lr)?;
        linalg_core::param::at_least("batch_size", self.batch_size, 1)?;
        linalg_core::param::in_unit_interval("val_fraction", self.val_fraction)?;
        Ok(())
    }
}

/// One finished epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRecord {
    /// Epoch number (1-based, counting resumed epochs).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Loss on the validation samples (NaN without a validation split).
    pub val_loss: f64,
    /// Training samples per second.
    pub samples_per_second: f64,
}

/// Progress inside an epoch, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Samples done in this epoch.
    pub samples: usize,
    /// Training samples per epoch.
    pub total: usize,
    /// This batch's loss.
    pub loss: f64,
    /// Samples per second so far in this epoch.
    pub samples_per_second: f64,
}

/// Right-hand sides (rows, normalised) of one grid size.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Grid size `n`.
    pub n: usize,
    /// `count × n³` values, row-major, f32.
    pub values: Vec<f32>,
}

impl Samples {
    /// Number of samples.
    pub fn count(&self) -> usize {
        self.values.len() / (self.n * self.n * self.n)
    }

    fn batch(&self, idx: &[usize], device: &Device) -> Tensor<5> {
        let len = self.n * self.n * self.n;
        let mut v = Vec::with_capacity(idx.len() * len);
        for &i in idx {
            v.extend_from_slice(&self.values[i * len..(i + 1) * len]);
        }
        Tensor::<5>::from_data(
            TensorData::new(v, [idx.len(), 1, self.n, self.n, self.n]),
            device,
        )
    }
}

/// A network with its Adam state and epoch counter.
pub struct Trainer {
    net: Option<DcdmNet>,
    optim: ModuleOptimizer,
    epoch: usize,
    device: Device,
}

impl Trainer {
    /// A fresh network on the autodiff `device`, its initial weights drawn
    /// after seeding the device with `config.seed` (the device's generator is
    /// shared: concurrent initialisations on one device interleave; use
    /// [`Trainer::with_net`] to start from given weights).
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        device.seed(config.seed);
        Self::with_net(DcdmNetConfig::new().init(device), device)
    }

    /// Starts from the given network (epoch 0, fresh Adam state).
    pub fn with_net(net: DcdmNet, device: &Device) -> Self {
        Self {
            net: Some(net),
            optim: AdamConfig::new().init(),
            epoch: 0,
            device: device.clone(),
        }
    }

    /// Resumes from a checkpoint directory written by [`Trainer::fit`].
    pub fn resume(dir: &Path, device: &Device) -> Result<Self> {
        let err = |what: &str, e: &dyn std::fmt::Display| {
            Error::Numerical(format!("checkpoint {}: {what}: {e}", dir.display()))
        };
        let epoch: usize = std::fs::read_to_string(dir.join("epoch.txt"))
            .map_err(|e| err("epoch.txt", &e))?
            .trim()
            .parse()
            .map_err(|e| err("epoch.txt", &e))?;
        let net = DcdmNet::load(&dir.join("model.bpk"), device)?;
        let optim = AdamConfig::new()
            .init()
            .load(dir.join("optim.bpk"))
            .map_err(|e| err("optim.bpk", &format!("{e:?}")))?;
        Ok(Self {
            net: Some(net),
            optim,
            epoch,
            device: device.clone(),
        })
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The network.
    pub fn net(&self) -> &DcdmNet {
        self.net.as_ref().expect("network present between steps")
    }

    /// Trains `epochs` more epochs on `samples` for the matrix of
    /// `stencil`; writes a checkpoint to `checkpoint` after every epoch.
    pub fn fit(
        &mut self,
        stencil: &TensorStencil,
        samples: &Samples,
        epochs: usize,
        config: &TrainConfig,
        checkpoint: Option<&Path>,
        mut progress: impl FnMut(BatchProgress),
    ) -> Result<Vec<EpochRecord>> {
        config.validate()?;
        let count = samples.count();
        if count < 2 {
            return Err(linalg_core::param::at_least("samples", count, 2)
                .unwrap_err()
                .into());
        }
        // The split depends on the seed only, so a resumed run keeps it.
        let mut order: Vec<usize> = (0..count).collect();
        order.shuffle(&mut StdRng::seed_from_u64(config.seed));
        let n_val = ((count as f64) * config.val_fraction).round() as usize;
        let (val, train) = order.split_at(n_val.min(count - 1));
        let mut records = Vec::new();
        for _ in 0..epochs {
            self.epoch += 1;
            let mut idx = train.to_vec();
            idx.shuffle(&mut StdRng::seed_from_u64(
                config.seed.wrapping_add(self.epoch as u64),
            ));
            let start = Instant::now();
            let mut total = 0.0;
            let mut batches = 0;
            for (b, chunk) in idx.chunks(config.batch_size).enumerate() {
                let batch = samples.batch(chunk, &self.device);
                let net = self.net.take().expect("network present");
                let (net, loss) = train_step(net, &mut self.optim, stencil, batch, config.lr);
                self.net = Some(net);
                if !loss.is_finite() {
                    return Err(Error::Numerical(format!(
                        "training loss became {loss} at epoch {}, batch {b}",
                        self.epoch
                    )));
                }
                total += loss;
                batches += 1;
                let done = ((b + 1) * config.batch_size).min(idx.len());
                progress(BatchProgress {
                    epoch: self.epoch,
                    samples: done,
                    total: idx.len(),
                    loss,
                    samples_per_second: done as f64 / start.elapsed().as_secs_f64(),
                });
            }
            let sps = idx.len() as f64 / start.elapsed().as_secs_f64();
            let val_loss = if val.is_empty() {
                f64::NAN
            } else {
                let mut s = 0.0;
                for chunk in val.chunks(config.batch_size) {
                    let batch = samples.batch(chunk, &self.device);
                    let l = dcdm_loss(self.net(), stencil, batch).into_scalar::<f32>() as f64;
                    s += l * chunk.len() as f64;
                }
                s / val.len() as f64
            };
            records.push(EpochRecord {
                epoch: self.epoch,
                train_loss: total / batches as f64,
                val_loss,
                samples_per_second: sps,
            });
            if let Some(dir) = checkpoint {
                self.save_checkpoint(dir)?;
            }
        }
        Ok(records)
    }

    /// Writes `model.bpk`, `optim.bpk` and `epoch.txt` into `dir`.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        let err = |what: &str, e: String| {
            Error::Numerical(format!("checkpoint {}: {what}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| err("create", e.to_string()))?;
        self.net().save(&dir.join("model.bpk"))?;
        self.optim
            .save(dir.join("optim.bpk"))
            .map_err(|e| err("optim.bpk", format!("{e:?}")))?;
        std::fs::write(dir.join("epoch.txt"), self.epoch.to_string())
            .map_err(|e| err("epoch.txt", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{RitzParams, ritz_basis, sample_rhs};
    use crate::{PoissonSystem, Scene};

    fn setup() -> (TensorStencil, Samples, Device) {
        let device = Device::flex().autodiff();
        let sys = PoissonSystem::new(Scene::SmokePlume.build(8, 0).unwrap());
        let basis = ritz_basis(&sys, &RitzParams::new(40)).unwrap();
        let b = sample_rhs(&basis, 24, 1);
        let values = (0..24)
            .flat_map(|c| b.col(c).iter().map(|v| *v as f32).collect::<Vec<_>>())
            .collect();
        (
            TensorStencil::new(&sys, &device),
            Samples { n: 8, values },
            device,
        )
    }

    /// The network's output on a fixed input (bit-identical outputs ⇔ the
    /// same parameters, for practical purposes).
    fn fingerprint(net: &DcdmNet, device: &Device) -> Vec<f32> {
        let v: Vec<f32> = (0..512)
            .map(|i| ((i * 31 % 23) as f32 - 11.0) / 11.0)
            .collect();
        let x = Tensor::<5>::from_data(TensorData::new(v, [1, 1, 8, 8, 8]), device);
        net.forward(x).into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn training_lowers_the_loss_and_resume_is_bit_identical() {
        let (st, samples, device) = setup();
        let config = TrainConfig {
            lr: 1e-3,
            batch_size: 4,
            val_fraction: 0.25,
            seed: 3,
        };
        let dir = std::env::temp_dir().join(format!("dcdm_ckpt_{}", std::process::id()));
        // Both runs start from the same weights (the device's generator is
        // shared with concurrently running tests, so they are not re-drawn).
        let net0 = DcdmNetConfig::new().init(&device);
        // Uninterrupted: 3 epochs.
        let mut a = Trainer::with_net(net0.clone(), &device);
        let ra = a.fit(&st, &samples, 3, &config, None, |_| {}).unwrap();
        assert!(ra[2].train_loss < ra[0].train_loss, "{ra:?}");
        assert!(ra[2].val_loss.is_finite());
        // Interrupted: 1 epoch, checkpoint, resume, 2 more.
        let mut b = Trainer::with_net(net0, &device);
        b.fit(&st, &samples, 1, &config, Some(&dir), |_| {})
            .unwrap();
        let mut c = Trainer::resume(&dir, &device).unwrap();
        assert_eq!(c.epoch(), 1);
        let rc = c.fit(&st, &samples, 2, &config, None, |_| {}).unwrap();
        assert_eq!(rc[1].epoch, 3);
        let (fa, fc) = (fingerprint(a.net(), &device), fingerprint(c.net(), &device));
        let differing = fa.iter().zip(&fc).filter(|(x, y)| x != y).count();
        assert!(
            differing == 0,
            "resumed run differs in {differing} of {} outputs",
            fa.len()
        );
        std::fs::remove_dir_all(&dir).ok();
        assert!(Trainer::resume(&dir, &device).is_err());
        let bad = TrainConfig { lr: 0.0, ..config };
        let e = a.fit(&st, &samples, 1, &bad, None, |_| {}).unwrap_err();
        assert_eq!(e.param_name(), Some("lr"));
        for (c, name) in [
            (config.lr(f64::NAN), "lr"),
            (config.batch_size(0), "batch_size"),
            (config.val_fraction(1.0), "val_fraction"),
        ] {
            assert_eq!(c.validate().unwrap_err().param_name(), Some(name));
        }
    }
}
