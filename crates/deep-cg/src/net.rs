//! The DCDM network (cargo feature `burn`): the official N = 64
//! architecture of Kaneda et al. (ICML 2023), fully convolutional, 97,457
//! parameters with 16 channels.
//!
//! ```text
//! x ─ conv(1→16) = first
//! la = relu(conv first); lb = relu(conv la); la = relu(conv lb) + la; lb = relu(conv la)
//! apa = avgpool₂(lb);  3 × { apb = relu(conv apa); apa = relu(conv apb) + apa }
//! upa = upsample₂(apa) + lb;  2 × { upb = relu(conv upa); upa = relu(conv upb) + upa }
//! out = conv₁ₓ₁ₓ₁(upa: 16→1)
//! ```
//!
//! All convolutions 3×3×3 with `same` padding, except the last (1×1×1).
//! burn 0.22 has no 3-D average pool or upsampling layer: the 2×2×2 average
//! is `adaptive_avg_pool3d` to half the size (exact for even sizes), the
//! nearest ×2 upsampling is reshape + expand. The backend is chosen by the
//! `Device` (flex CPU by default); f64 ↔ f32 conversion happens once, in
//! [`NetModel::direction`].

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig3d;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool3d;
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;

use crate::dcdm::DirectionModel;
use crate::{Error, Result};

/// Hyperparameters of [`DcdmNet`].
#[derive(Config, Debug)]
pub struct DcdmNetConfig {
    /// Channels of every hidden convolution (16 in the paper).
    #[config(default = 16)]
    pub channels: usize,
}

impl DcdmNetConfig {
    /// A freshly initialised network on `device` (burn's default
    /// initialisers; seed the device for reproducibility).
    pub fn init(&self, device: &Device) -> DcdmNet {
        let c = self.channels;
        let conv = |cin: usize, cout: usize, k: usize| {
            Conv3dConfig::new([cin, cout], [k, k, k])
                .with_padding(PaddingConfig3d::Same)
                .init(device)
        };
        DcdmNet {
            first: conv(1, c, 3),
            hidden: (0..14).map(|_| conv(c, c, 3)).collect(),
            last: conv(c, 1, 1),
        }
    }
}

/// The DCDM network (see the module documentation).
#[derive(Module, Debug)]
pub struct DcdmNet {
    first: Conv3d,
    /// 4 full-resolution, 6 half-resolution, 4 full-resolution convolutions.
    hidden: Vec<Conv3d>,
    last: Conv3d,
}

/// 2×2×2 nearest-neighbour upsampling of `[B, C, D, H, W]`.
fn upsample2(x: Tensor<5>) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    x.reshape([b * c, d, 1, h, 1, w, 1])
        .expand([b * c, d, 2, h, 2, w, 2])
        .reshape([b, c, 2 * d, 2 * h, 2 * w])
}

impl DcdmNet {
    /// `f(x)` for a batch `[B, 1, N, N, N]` (`N` even).
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let h = &self.hidden;
        let c = |i: usize, t: Tensor<5>| relu(h[i].forward(t));
        let first = self.first.forward(x);
        let la = c(0, first);
        let lb = c(1, la.clone());
        let la = c(2, lb) + la;
        let lb = c(3, la);
        let [_, _, d, hh, w] = lb.dims();
        let mut apa = adaptive_avg_pool3d(lb.clone(), [d / 2, hh / 2, w / 2]);
        for k in 0..3 {
            let apb = c(4 + 2 * k, apa.clone());
            apa = c(5 + 2 * k, apb) + apa;
        }
        let mut upa = upsample2(apa) + lb;
        for k in 0..2 {
            let upb = c(10 + 2 * k, upa.clone());
            upa = c(11 + 2 * k, upb) + upa;
        }
        self.last.forward(upa)
    }
}

/// The shipped weights (burnpack, f32): trained on this project's 2-core
/// CPU by `optlab poisson train --scene smoke-plume --grid 16 --samples 1000
/// --epochs 15 --lr 1e-3 --batch-size 10 --seed 0` (Ritz data m = 500).
/// See the crate README for the training record and what they achieve.
const PRETRAINED: &[u8] = include_bytes!("../weights/dcdm_smoke16.bpk");

impl DcdmNet {
    /// The shipped, pretrained network on `device`.
    pub fn pretrained(device: &Device) -> Result<DcdmNet> {
        Self::from_bytes(PRETRAINED.to_vec(), "shipped weights", device)
    }

    /// Loads weights saved by [`DcdmNet::save`] (or `optlab poisson train`).
    ///
    /// A missing or unreadable file, a truncated or foreign file, or the
    /// weights of a different architecture give [`Error::Model`] naming the
    /// file and the reason.
    pub fn load(path: &Path, device: &Device) -> Result<DcdmNet> {
        let name = path.display().to_string();
        // Read with a limit: a pipe or /dev/zero reports size 0.
        let bytes = linalg_core::budget::read_file(path).map_err(|e| Error::Model {
            source_name: name.clone(),
            reason: match e.root() {
                linalg_core::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                    "no such file".to_string()
                }
                r => format!("cannot read it: {r}"),
            },
        })?;
        Self::from_bytes(bytes, &name, device)
    }

    /// Parses a burnpack record held in memory; `name` labels errors.
    pub fn from_bytes(bytes: Vec<u8>, name: &str, device: &Device) -> Result<DcdmNet> {
        let model_err = |reason: String| Error::Model {
            source_name: name.to_string(),
            reason,
        };
        if bytes.is_empty() {
            return Err(model_err("the file is empty".into()));
        }
        let record =
            burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
                .map_err(|e| {
                    model_err(format!(
                        "not a readable burnpack record (truncated or another format): {e}"
                    ))
                })?;
        DcdmNetConfig::new()
            .init(device)
            .try_load_record(record)
            .map_err(|e| {
                model_err(format!(
                    "not the weights of this network (16 channels, 97,457 parameters): {e}"
                ))
            })
    }

    /// Saves the weights as a burnpack file (f32), readable by [`DcdmNet::load`].
    pub fn save(&self, path: &Path) -> Result<()> {
        self.clone().save_file(path).map_err(|e| Error::Model {
            source_name: path.display().to_string(),
            reason: format!("cannot write it: {e}"),
        })
    }
}

/// The compute device called `name`: `flex` (burn's CPU backend, always
/// available) or `wgpu` (cargo feature `wgpu`: Vulkan — NVIDIA and AMD GPUs
/// included — Metal, DX12, or a CPU Vulkan driver such as Mesa lavapipe).
/// `cuda` is recognised but has no feature: burn 0.22's CUDA backend
/// (cubecl-cuda → cubecl-llvm) downloads an LLVM bundle in its build script,
/// which offline and CI builds cannot do.
///
/// Use this rather than `Device::flex()`, which silently prefers a GPU
/// backend whenever one is compiled in.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "flex" | "cpu" => Ok(Device::flex()),
        "wgpu" => {
            #[cfg(feature = "wgpu")]
            return Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice));
            #[cfg(not(feature = "wgpu"))]
            Err(Error::Backend {
                name: name.to_string(),
                reason: "not compiled in: rebuild with `--features wgpu`".into(),
            })
        }
        "cuda" => Err(Error::Backend {
            name: name.to_string(),
            reason: "not available in this build: burn 0.22's CUDA backend downloads LLVM \
                     while building; use `--features wgpu` and `--device wgpu` (Vulkan) on \
                     NVIDIA GPUs"
                .into(),
        }),
        _ => Err(Error::Backend {
            name: name.to_string(),
            reason: "unknown; use flex or wgpu".into(),
        }),
    }
}

/// A [`DcdmNet`] as the direction model of [`dcdm`](crate::dcdm::dcdm).
pub struct NetModel {
    net: DcdmNet,
    device: Device,
    n: usize,
}

impl NetModel {
    /// Wraps `net` for grids of size `n` (even) on `device`.
    pub fn new(net: DcdmNet, n: usize, device: Device) -> Result<Self> {
        if n < 2 || !n.is_multiple_of(2) {
            return Err(Error::GridSize {
                n,
                reason: "the network pools by 2×2×2 once, so it runs on even sizes only; \
                         the scenes come in powers of two: 4, 8, 16, 32, 64, 128, 256, 512"
                    .into(),
            });
        }
        Ok(Self { net, device, n })
    }

    /// The wrapped network.
    pub fn net(&self) -> &DcdmNet {
        &self.net
    }
}

impl DirectionModel for NetModel {
    fn name(&self) -> &str {
        "dcdm-net"
    }
    fn direction(&mut self, r: &[f64], out: &mut [f64]) -> Result<()> {
        let n = self.n;
        if r.len() != n * n * n {
            return Err(Error::Core(linalg_core::Error::DimensionMismatch {
                context: "network input (n³)",
                expected: n * n * n,
                found: r.len(),
            }));
        }
        // Cell (i, j, k) is at i + n(j + nk): z-major, so the tensor is [1, 1, k, j, i].
        let data: Vec<f32> = r.iter().map(|v| *v as f32).collect();
        let x = Tensor::<5>::from_data(TensorData::new(data, [1, 1, n, n, n]), &self.device);
        let y = self.net.forward(x);
        let v = y
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::Numerical(format!("reading the network output: {e:?}")))?;
        for (o, y) in out.iter_mut().zip(v) {
            *o = y as f64;
        }
        Ok(())
    }
}

/// The masked 7-point Poisson matrix as burn tensor operations, so the
/// training loss can differentiate through `A q` (burn has no sparse
/// tensors): `A x = d ∘ x − Σ_dir w_dir ∘ shift_dir(x)`, with `d` the
/// diagonal (zero off the fluid) and `w_dir` = 1 where a fluid cell's
/// neighbour in direction `dir` is fluid.
#[derive(Debug, Clone)]
pub struct TensorStencil {
    n: usize,
    diag: Tensor<5>,
    weights: Vec<Tensor<5>>,
}

impl TensorStencil {
    /// The stencil of `system` on `device` (f32).
    pub fn new(system: &crate::PoissonSystem, device: &Device) -> Self {
        let grid = system.grid();
        let n = grid.n();
        let to_tensor =
            |v: Vec<f32>| Tensor::<5>::from_data(TensorData::new(v, [1, 1, n, n, n]), device);
        let diag = to_tensor(system.diagonal().iter().map(|v| *v as f32).collect());
        let weights = (0..6)
            .map(|d| {
                let mut w = vec![0.0f32; n * n * n];
                for k in 0..n {
                    for j in 0..n {
                        for i in 0..n {
                            let c = grid.index(i, j, k);
                            if grid.cells()[c] == crate::CellKind::Fluid
                                && grid.neighbour(i, j, k, d).0 == crate::CellKind::Fluid
                            {
                                w[c] = 1.0;
                            }
                        }
                    }
                }
                to_tensor(w)
            })
            .collect();
        Self { n, diag, weights }
    }

    /// `x` shifted so that entry `c` holds the neighbour of `c` in direction
    /// `d` (0: −x … 5: +z), zero where that neighbour is outside the grid.
    fn shift(&self, x: Tensor<5>, d: usize) -> Tensor<5> {
        let n = self.n;
        let [b, ch, ..] = x.dims();
        // Tensor axes are [B, C, k, j, i]: x ↔ 4, y ↔ 3, z ↔ 2.
        let axis = 4 - d / 2;
        let mut zshape = [b, ch, n, n, n];
        zshape[axis] = 1;
        let zeros = Tensor::<5>::zeros(zshape, &x.device());
        let mut keep = [0..b, 0..ch, 0..n, 0..n, 0..n];
        if d % 2 == 1 {
            // + direction: value from index + 1.
            keep[axis] = 1..n;
            Tensor::cat(vec![x.slice(keep), zeros], axis)
        } else {
            keep[axis] = 0..n - 1;
            Tensor::cat(vec![zeros, x.slice(keep)], axis)
        }
    }

    /// `A x` for a batch `[B, 1, n, n, n]`.
    pub fn apply(&self, x: Tensor<5>) -> Tensor<5> {
        let mut out = x.clone() * self.diag.clone();
        for (d, w) in self.weights.iter().enumerate() {
            out = out - self.shift(x.clone(), d) * w.clone();
        }
        out
    }
}

/// The DCDM training loss for a batch of right-hand sides `b`
/// (`[B, 1, n, n, n]`, each normalised), as the official code:
/// `(1/B) Σ_i ‖b_i − α_i A f(b_i)‖²` with `α_i = (f(b_i)·b_i)/(f(b_i)ᵀA f(b_i))`,
/// the A-optimal step along the network's direction.
pub fn dcdm_loss(net: &DcdmNet, stencil: &TensorStencil, b: Tensor<5>) -> Tensor<1> {
    let [bs, ..] = b.dims();
    let q = net.forward(b.clone());
    let aq = stencil.apply(q.clone());
    let flat = |t: Tensor<5>| t.reshape([bs as i32, -1]);
    let qb = flat(q.clone() * b.clone()).sum_dim(1);
    let qaq = flat(q * aq.clone()).sum_dim(1);
    let alpha = qb / qaq;
    let res = flat(b) - flat(aq) * alpha;
    res.powi_scalar(2).sum_dim(1).mean()
}

/// One optimisation step on the DCDM loss for a batch `[B, 1, n, n, n]`
/// of normalised right-hand sides; returns the updated network and the
/// batch loss before the step. The device must be an autodiff device.
pub fn train_step(
    net: DcdmNet,
    optim: &mut burn::optim::ModuleOptimizer,
    stencil: &TensorStencil,
    batch: Tensor<5>,
    lr: f64,
) -> (DcdmNet, f64) {
    let loss = dcdm_loss(&net, stencil, batch);
    let value = loss.clone().into_scalar::<f32>() as f64;
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &net);
    (optim.step(lr, net, grads), value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PoissonSystem, Scene};
    use burn::module::Param;

    fn loss_value(net: &DcdmNet, st: &TensorStencil, b: &Tensor<5>) -> f64 {
        dcdm_loss(net, st, b.clone()).into_scalar::<f32>() as f64
    }

    #[test]
    fn tensor_stencil_matches_the_matrix_free_operator() {
        let device = Device::flex();
        for scene in [Scene::Box, Scene::Bunny, Scene::Mixed] {
            let sys = PoissonSystem::new(scene.build(8, 2).unwrap());
            let st = TensorStencil::new(&sys, &device);
            let x: Vec<f64> = (0..512)
                .map(|i| ((i * 29 % 17) as f64 - 8.0) / 8.0)
                .collect();
            let mut want = vec![0.0; 512];
            sys.apply_slices(&mut want, &x, linalg_core::faer::Par::Seq);
            let xt = Tensor::<5>::from_data(
                TensorData::new(
                    x.iter().map(|v| *v as f32).collect::<Vec<f32>>(),
                    [1, 1, 8, 8, 8],
                ),
                &device,
            );
            let got: Vec<f32> = st.apply(xt).into_data().try_to_vec::<f32>().unwrap();
            for (c, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (*g as f64 - w).abs() < 1e-5,
                    "{}: cell {c}: {g} vs {w}",
                    scene.name()
                );
            }
        }
    }

    #[test]
    fn loss_gradient_matches_central_differences_on_4_cubed() {
        let device = Device::flex().autodiff();
        device.seed(21);
        let sys = PoissonSystem::new(Scene::Box.build(4, 0).unwrap());
        let st = TensorStencil::new(&sys, &device);
        let net = DcdmNetConfig::new().init(&device);
        let bv: Vec<f32> = (0..64)
            .map(|i| ((i * 13 % 11) as f32 - 5.0) / 20.0)
            .collect();
        let b = Tensor::<5>::from_data(TensorData::new(bv, [1, 1, 4, 4, 4]), &device);
        let grads = dcdm_loss(&net, &st, b.clone()).backward();
        // Two scalars: the output bias, and one weight of the first convolution.
        let bias = net.last.bias.as_ref().unwrap();
        let g_bias = bias.val().grad(&grads).unwrap().into_scalar::<f32>() as f64;
        let w = &net.first.weight;
        let gw: Vec<f32> = w
            .val()
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let idx = 5; // channel 0, kernel offset 5
        let h = 1e-2f32;
        let with_bias = |delta: f32| {
            let mut m = net.clone();
            let v = bias.val().inner().add_scalar(delta);
            m.last.bias = Some(Param::from_tensor(v));
            loss_value(&m, &st, &b.clone().inner())
        };
        let with_weight = |delta: f32| {
            let mut m = net.clone();
            let wv = w.val().inner();
            let mut onehot = vec![0.0f32; wv.dims().iter().product()];
            onehot[idx] = delta;
            let bump = Tensor::<5>::from_data(TensorData::new(onehot, wv.dims()), &wv.device());
            m.first.weight = Param::from_tensor(wv + bump);
            loss_value(&m, &st, &b.clone().inner())
        };
        let fd_bias = (with_bias(h) - with_bias(-h)) / (2.0 * h as f64);
        let fd_w = (with_weight(h) - with_weight(-h)) / (2.0 * h as f64);
        for (name, g, fd) in [("bias", g_bias, fd_bias), ("weight", gw[idx] as f64, fd_w)] {
            println!("{name}: autodiff {g:e}, central difference {fd:e}");
            assert!(g.abs() > 1e-6, "{name}: vanishing gradient {g:e}");
            let rel = (g - fd).abs() / g.abs().max(fd.abs());
            assert!(
                rel < 2e-2,
                "{name}: autodiff {g:e} vs central difference {fd:e}"
            );
        }
    }

    #[test]
    fn a_few_adam_steps_on_an_8_cubed_scene_lower_the_loss() {
        use burn::optim::AdamConfig;
        use rand::{SeedableRng, rngs::StdRng};
        use rand_distr::{Distribution, StandardNormal};
        let device = Device::flex().autodiff();
        device.seed(8);
        let sys = PoissonSystem::new(Scene::SmokePlume.build(8, 0).unwrap());
        let st = TensorStencil::new(&sys, &device);
        // Eight smooth-ish right-hand sides in the range of A, normalised.
        let mut rng = StdRng::seed_from_u64(8);
        let mut data = Vec::new();
        for _ in 0..8 {
            let mut v: Vec<f64> = (0..512).map(|_| StandardNormal.sample(&mut rng)).collect();
            let mut av = vec![0.0; 512];
            sys.apply_slices(&mut av, &v, linalg_core::faer::Par::Seq);
            v = av;
            sys.regions().project(&mut v);
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            data.extend(v.iter().map(|x| (x / norm) as f32));
        }
        let batch = Tensor::<5>::from_data(TensorData::new(data, [8, 1, 8, 8, 8]), &device);
        let mut net = DcdmNetConfig::new().init(&device);
        let mut optim = AdamConfig::new().init();
        let mut losses = Vec::new();
        for _ in 0..30 {
            let (next, l) = train_step(net, &mut optim, &st, batch.clone(), 1e-3);
            net = next;
            losses.push(l);
        }
        let first = losses[0];
        let last = dcdm_loss(&net, &st, batch).into_scalar::<f32>() as f64;
        assert!(last < 0.8 * first, "loss {first} → {last} ({losses:?})");
    }
}
