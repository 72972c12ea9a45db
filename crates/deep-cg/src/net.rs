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
            return Err(Error::InvalidParameter {
                name: "n",
                reason: format!("the network needs an even grid size, got {n}"),
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
