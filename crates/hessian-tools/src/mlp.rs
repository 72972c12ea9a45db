//! A multilayer perceptron with exact curvature products over its flattened
//! parameters: gradient by backpropagation, Hessian-vector products by
//! Pearlmutter's R-operator, Gauss–Newton- and empirical-Fisher-vector
//! products, per-sample Jacobians, and the Hessian with respect to a hidden
//! layer's activations.
//!
//! burn 0.22 has no second-order autodiff (its gradients carry no graph), so
//! the network is written here over faer products; the curvature products
//! are exact to rounding.
//!
//! ## The model
//!
//! Layer sizes `d = n₀, n₁, …, n_L = k`; samples are columns (`A₀ = Xᵀ`):
//!
//! ```text
//! Z_l = W_l A_{l−1} + b_l 1ᵀ      (W_l: n_l × n_{l−1})
//! A_l = σ(Z_l)                    (hidden layers l < L)
//! F   = s · Z_L                   (outputs; s = output_scale, default 1)
//! L(θ) = (1/N) Σᵢ ℓ(Fᵢ, Yᵢ)
//! ```
//!
//! - MSE: `ℓ = ½‖f − y‖²` (PyTorch's `MSELoss` is `(1/k)` of twice this;
//!   the factor changes the scale of every curvature, not its shape).
//! - Softmax cross-entropy: `ℓ = −Σ_c y_c log softmax(f)_c` (targets are
//!   one-hot rows or any non-negative rows).
//!
//! Parameters are flattened layer after layer: `W_l` column-major, then
//! `b_l` (when `bias`); [`Mlp::block`] gives each layer's range.
//!
//! ## Curvature products (one direction `v = (V_l, c_l)`)
//!
//! ```text
//! R-forward   RZ_l = V_l A_{l−1} + W_l RA_{l−1} + c_l 1ᵀ,   RA_l = σ'(Z_l) ⊙ RZ_l
//! output      Rδ_L = s² ∇²ℓ · RZ_L / N          (MSE: ∇²ℓ = I; CE: diag p − ppᵀ)
//! backward    (Hv)_{W_l} = Rδ_l A_{l−1}ᵀ + δ_l RA_{l−1}ᵀ,   (Hv)_{b_l} = Rδ_l 1
//!             Rδ_{l−1} = σ'(Z_{l−1}) ⊙ (W_lᵀRδ_l + V_lᵀδ_l) + σ''(Z_{l−1}) ⊙ RZ_{l−1} ⊙ (W_lᵀδ_l)
//! ```
//!
//! The Gauss–Newton product drops the terms with `δ_l`, `V_lᵀδ_l` and `σ''`
//! (it is `JᵀHℓJv`); the empirical Fisher replaces `s²∇²ℓ` by
//! `s² gᵢgᵢᵀ` with `gᵢ = ∇_f ℓᵢ` (it is `(1/N)Σ ∇ℓᵢ∇ℓᵢᵀv`). The forward
//! pass, `δ_l` and `σ', σ''` are computed once per point
//! ([`MlpLoss::curvature`]); a product then costs about two gradients.

use std::ops::Range;
use std::str::FromStr;

use linalg_core::faer::dyn_stack::{MemStack, StackReq};
use linalg_core::faer::linalg::matmul::matmul;
use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::reborrow::ReborrowMut;
use linalg_core::faer::{Accum, Col, ColMut, ColRef, Mat, MatMut, MatRef, Par};
use linalg_core::{Objective, ParamError};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use crate::Result;

/// The most parameters an [`Mlp`] may have (10⁸).
pub const MAX_PARAMS: usize = 100_000_000;

/// A hidden-layer nonlinearity, with its first and second derivatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Activation {
    /// `tanh x`.
    #[default]
    Tanh,
    /// `max(0, x)` (derivative 0 at 0, second derivative 0 everywhere).
    Relu,
    /// `x Φ(x)`, the exact (erf) GELU, as PyTorch's default.
    Gelu,
    /// `log(1 + eˣ)`.
    Softplus,
}

const SQRT_2: f64 = std::f64::consts::SQRT_2;
/// `1/√(2π)`.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl Activation {
    /// `σ(x)`.
    pub fn value(self, x: f64) -> f64 {
        match self {
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.max(0.0),
            Activation::Gelu => x * normal_cdf(x),
            Activation::Softplus => softplus(x),
        }
    }
    /// `σ'(x)`.
    pub fn d1(self, x: f64) -> f64 {
        match self {
            Activation::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Gelu => normal_cdf(x) + x * normal_pdf(x),
            Activation::Softplus => sigmoid(x),
        }
    }
    /// `σ''(x)`.
    pub fn d2(self, x: f64) -> f64 {
        match self {
            Activation::Tanh => {
                let t = x.tanh();
                -2.0 * t * (1.0 - t * t)
            }
            Activation::Relu => 0.0,
            Activation::Gelu => normal_pdf(x) * (2.0 - x * x),
            Activation::Softplus => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
        }
    }
    /// `σ'(x)` given `a = σ(x)` too: tanh's is `1 − a²`, which saves a
    /// second `tanh` per unit in every backward pass (tanh dominates the
    /// gradient's cost on narrow layers).
    pub(crate) fn d1_at(self, x: f64, a: f64) -> f64 {
        match self {
            Activation::Tanh => 1.0 - a * a,
            _ => self.d1(x),
        }
    }
    /// `σ''(x)` given `a = σ(x)` (tanh: `−2a(1 − a²)`).
    pub(crate) fn d2_at(self, x: f64, a: f64) -> f64 {
        match self {
            Activation::Tanh => -2.0 * a * (1.0 - a * a),
            _ => self.d2(x),
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
        }
    }
}

impl FromStr for Activation {
    type Err = ParamError;
    fn from_str(s: &str) -> std::result::Result<Self, ParamError> {
        let all = [
            Activation::Tanh,
            Activation::Relu,
            Activation::Gelu,
            Activation::Softplus,
        ];
        let names: Vec<&str> = all.iter().map(|a| a.name()).collect();
        let i = linalg_core::param::one_of("activation", s, &names)?;
        Ok(all[i])
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn normal_pdf(x: f64) -> f64 {
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// The complementary error function to about 1e-16 relative: W. J. Cody's
/// rational approximations (Math. Comp. 1969), as in most libms; written
/// here because `std` has no `erf` and the workspace has no special-function
/// crate. The coefficients are kept as published.
#[allow(clippy::excessive_precision)]
fn erfc(x: f64) -> f64 {
    let ax = x.abs();
    let r = if ax < 0.468_75 {
        // erfc = 1 − erf, erf(x) = x·P(x²)/Q(x²).
        const P: [f64; 5] = [
            3.161_123_743_870_565_6,
            1.138_641_541_510_501_6e2,
            3.774_852_376_853_020_2e2,
            3.209_377_589_138_469_5e3,
            1.857_777_061_846_031_5e-1,
        ];
        const Q: [f64; 4] = [
            2.360_129_095_234_412_1e1,
            2.440_246_379_344_441_7e2,
            1.282_616_526_077_372_3e3,
            2.844_236_833_439_170_6e3,
        ];
        let z = x * x;
        let mut num = P[4] * z;
        let mut den = z;
        for i in 0..3 {
            num = (num + P[i]) * z;
            den = (den + Q[i]) * z;
        }
        let erf = x * (num + P[3]) / (den + Q[3]);
        return 1.0 - erf;
    } else if ax < 4.0 {
        const P: [f64; 9] = [
            5.641_884_969_886_700_9e-1,
            8.883_149_794_388_375_9,
            6.611_919_063_714_163e1,
            2.986_351_381_974_001_3e2,
            8.819_522_212_417_690_9e2,
            1.712_047_612_634_070_6e3,
            2.051_078_377_826_071_5e3,
            1.230_339_354_797_997_2e3,
            2.153_115_354_744_038_5e-8,
        ];
        const Q: [f64; 8] = [
            1.574_492_611_070_983_5e1,
            1.176_939_508_913_125e2,
            5.371_811_018_620_098_6e2,
            1.621_389_574_566_690_2e3,
            3.290_799_235_733_459_7e3,
            4.362_619_090_143_247e3,
            3.439_367_674_143_721_6e3,
            1.230_339_354_803_749_4e3,
        ];
        let mut num = P[8] * ax;
        let mut den = ax;
        for i in 0..7 {
            num = (num + P[i]) * ax;
            den = (den + Q[i]) * ax;
        }
        let v = (num + P[7]) / (den + Q[7]);
        v * exp_minus_square(ax)
    } else {
        const P: [f64; 6] = [
            3.053_266_349_612_323_4e-1,
            3.603_448_999_498_044_5e-1,
            1.257_817_261_112_292_6e-1,
            1.608_378_514_874_227_5e-2,
            6.587_491_615_298_378_5e-4,
            1.631_538_713_730_709_6e-2,
        ];
        const Q: [f64; 5] = [
            2.568_520_192_289_822_4,
            1.872_952_849_923_460_4,
            5.279_051_029_514_284e-1,
            6.051_834_131_244_131_9e-2,
            2.335_204_976_268_691_8e-3,
        ];
        let z = 1.0 / (ax * ax);
        let mut num = P[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + P[i]) * z;
            den = (den + Q[i]) * z;
        }
        let v = z * (num + P[4]) / (den + Q[4]);
        let v = (INV_SQRT_2PI * SQRT_2 - v) / ax;
        v * exp_minus_square(ax)
    };
    if x < 0.0 { 2.0 - r } else { r }
}

/// `e^{−x²}` with `x²` split as Cody does (`x = x₁ + x₂`, `x₁` a multiple
/// of 1/16), so the rounding of `x²` does not enter the exponent.
fn exp_minus_square(x: f64) -> f64 {
    let x1 = (x * 16.0).trunc() / 16.0;
    let del = (x - x1) * (x + x1);
    (-x1 * x1).exp() * (-del).exp()
}

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Loss {
    /// `½‖f − y‖²` per sample (one-hot targets for classification).
    #[default]
    Mse,
    /// Softmax cross-entropy `−Σ_c y_c log softmax(f)_c`.
    CrossEntropy,
}

impl Loss {
    /// The name used on the command line (`mse`, `ce`).
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy => "ce",
        }
    }
}

impl FromStr for Loss {
    type Err = ParamError;
    fn from_str(s: &str) -> std::result::Result<Self, ParamError> {
        match linalg_core::param::one_of("loss", s, &["mse", "ce"])? {
            0 => Ok(Loss::Mse),
            _ => Ok(Loss::CrossEntropy),
        }
    }
}

/// Which curvature matrix a [`Curvature`] operator applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum CurvatureKind {
    /// The Hessian `H = ∇²L(θ)`.
    #[default]
    Hessian,
    /// The generalised Gauss–Newton matrix `G = (1/N) Σ Jᵢᵀ ∇²ℓᵢ Jᵢ`
    /// (positive semi-definite; `H = G + R`).
    GaussNewton,
    /// The empirical Fisher `(1/N) Σ ∇ℓᵢ ∇ℓᵢᵀ` (uncentred second moment of
    /// the per-sample gradients).
    EmpiricalFisher,
}

/// A multilayer perceptron's architecture (the parameters are a separate
/// flat vector, see the module notes for the layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
    activation: Activation,
    bias: bool,
    output_scale: f64,
    /// Offset of each layer's weights in the flat vector, then the total.
    offsets: Vec<usize>,
}

impl Mlp {
    /// Layers of the given sizes (`[d, n₁, …, k]`, at least two, each ≥ 1),
    /// `activation` on the hidden layers, biases when `bias`.
    pub fn new(sizes: &[usize], activation: Activation, bias: bool) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(ParamError::new(
                "sizes",
                format!(
                    "{} layer sizes; an MLP needs the input and output sizes at least",
                    sizes.len()
                ),
            )
            .into());
        }
        for &s in sizes {
            linalg_core::param::at_least("sizes", s, 1)?;
        }
        let mut offsets = Vec::with_capacity(sizes.len());
        let mut total: usize = 0;
        for w in sizes.windows(2) {
            offsets.push(total);
            let layer = w[0]
                .checked_mul(w[1])
                .and_then(|m| m.checked_add(if bias { w[1] } else { 0 }))
                .and_then(|m| total.checked_add(m));
            total = match layer {
                Some(t) if t <= MAX_PARAMS => t,
                _ => {
                    return Err(ParamError::new(
                        "sizes",
                        format!("{sizes:?} has more than {MAX_PARAMS} parameters"),
                    )
                    .into());
                }
            };
        }
        offsets.push(total);
        Ok(Self {
            sizes: sizes.to_vec(),
            activation,
            bias,
            output_scale: 1.0,
            offsets,
        })
    }

    /// Multiplies the outputs by `s` (finite, non-zero): `F = s·Z_L`, e.g.
    /// `1/m` for a mean-field two-layer network of width `m`.
    pub fn with_output_scale(mut self, s: f64) -> Result<Self> {
        linalg_core::param::finite_value("output_scale", s)?;
        if s == 0.0 {
            return Err(ParamError::new("output_scale", "must be non-zero").into());
        }
        self.output_scale = s;
        Ok(self)
    }

    /// The layer sizes `[d, n₁, …, k]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    /// The number of weight layers `L`.
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }
    /// Input dimension `d`.
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }
    /// Output dimension `k`.
    pub fn outputs(&self) -> usize {
        self.sizes[self.layers()]
    }
    /// The hidden nonlinearity.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Whether the layers have biases.
    pub fn bias(&self) -> bool {
        self.bias
    }
    /// The output scale `s`.
    pub fn output_scale(&self) -> f64 {
        self.output_scale
    }
    /// The number of parameters.
    pub fn n_params(&self) -> usize {
        self.offsets[self.layers()]
    }

    /// The range of layer `l`'s parameters (`W_l` then `b_l`) in the flat
    /// vector; an error for `l ≥ L`.
    pub fn block(&self, l: usize) -> Result<Range<usize>> {
        if l >= self.layers() {
            return Err(ParamError::new(
                "layer",
                format!("layer {l} of a network with {} layers", self.layers()),
            )
            .into());
        }
        Ok(self.offsets[l]..self.offsets[l + 1])
    }

    /// The ranges of all layers.
    pub fn blocks(&self) -> Vec<Range<usize>> {
        (0..self.layers())
            .map(|l| self.offsets[l]..self.offsets[l + 1])
            .collect()
    }

    /// PyTorch's default initialisation (`nn.Linear`): weights and biases
    /// uniform on `±1/√fan_in`, from `seed`.
    pub fn init(&self, seed: u64) -> Col<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut theta = Col::zeros(self.n_params());
        for l in 0..self.layers() {
            let bound = 1.0 / (self.sizes[l] as f64).sqrt();
            for j in self.offsets[l]..self.offsets[l + 1] {
                theta[j] = bound * (2.0 * rng.random::<f64>() - 1.0);
            }
        }
        theta
    }

    /// JAX/Flax's default initialisation (`nn.Dense`): weights LeCun normal,
    /// N(0, 1/fan_in), biases zero, from `seed`. Networks trained from it
    /// match setups measured in JAX (the Sagun-type k = 5 net's trace and
    /// Frobenius norm within 3 % of their ratio), which PyTorch's uniform
    /// default does not.
    pub fn init_lecun(&self, seed: u64) -> Col<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut theta = Col::zeros(self.n_params());
        for l in 0..self.layers() {
            let std = 1.0 / (self.sizes[l] as f64).sqrt();
            let start = self.offsets[l];
            for j in start..start + self.sizes[l] * self.sizes[l + 1] {
                let z: f64 = StandardNormal.sample(&mut rng);
                theta[j] = std * z;
            }
        }
        theta
    }

    fn weights<'a>(&self, theta: &'a [f64], l: usize) -> MatRef<'a, f64> {
        let (r, c) = (self.sizes[l + 1], self.sizes[l]);
        MatRef::from_column_major_slice(&theta[self.offsets[l]..self.offsets[l] + r * c], r, c)
    }

    fn bias_of<'a>(&self, theta: &'a [f64], l: usize) -> Option<&'a [f64]> {
        self.bias.then(|| {
            let start = self.offsets[l] + self.sizes[l + 1] * self.sizes[l];
            &theta[start..self.offsets[l + 1]]
        })
    }

    fn check_theta(&self, theta: ColRef<'_, f64>) -> Result<()> {
        linalg_core::param::dimension("theta", self.n_params(), theta.nrows())?;
        linalg_core::param::finite("theta", theta)?;
        Ok(())
    }

    /// Forward pass over the columns of `a0` (`d × N`): the hidden
    /// pre-activations and activations, and the raw last-layer `Z_L`.
    fn forward(&self, theta: &[f64], a0: MatRef<'_, f64>, par: Par) -> Forward {
        let n = a0.ncols();
        let nl = self.layers();
        let mut z = Vec::with_capacity(nl);
        let mut a: Vec<Mat<f64>> = Vec::with_capacity(nl - 1);
        for l in 0..nl {
            let input = if l == 0 { a0 } else { a[l - 1].as_ref() };
            let mut zl = Mat::zeros(self.sizes[l + 1], n);
            matmul(
                zl.as_mut(),
                Accum::Replace,
                self.weights(theta, l),
                input,
                1.0,
                par,
            );
            if let Some(b) = self.bias_of(theta, l) {
                add_columnwise(zl.as_mut(), b);
            }
            linalg_core::simd::zero_upper();
            if l + 1 < nl {
                let al = Mat::from_fn(zl.nrows(), n, |i, j| self.activation.value(zl[(i, j)]));
                a.push(al);
            }
            z.push(zl);
        }
        Forward { z, a }
    }

    /// The network's outputs `F` (`N × k`) for the rows of `x` (`N × d`).
    pub fn predict(&self, theta: ColRef<'_, f64>, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.check_theta(theta)?;
        linalg_core::param::dimension("x columns", self.inputs(), x.ncols())?;
        check_finite_mat("x", x)?;
        let xt = x.transpose().to_owned();
        let th = col_slice(theta);
        let f = self.forward(&th, xt.as_ref(), par_for(&self.sizes, x.nrows()));
        let s = self.output_scale;
        Ok(Mat::from_fn(x.nrows(), self.outputs(), |i, c| {
            s * f.z[self.layers() - 1][(c, i)]
        }))
    }

    /// The activations of hidden layer `l` (`0 ≤ l < L − 1`, `N × n_{l+1}`)
    /// for the rows of `x`: the features neural-collapse metrics read
    /// (`l = L − 2` is the penultimate layer).
    pub fn features(
        &self,
        theta: ColRef<'_, f64>,
        x: MatRef<'_, f64>,
        l: usize,
    ) -> Result<Mat<f64>> {
        self.check_theta(theta)?;
        self.check_hidden(l)?;
        linalg_core::param::dimension("x columns", self.inputs(), x.ncols())?;
        check_finite_mat("x", x)?;
        let xt = x.transpose().to_owned();
        let th = col_slice(theta);
        let f = self.forward(&th, xt.as_ref(), par_for(&self.sizes, x.nrows()));
        Ok(f.a[l].transpose().to_owned())
    }

    fn check_hidden(&self, l: usize) -> Result<()> {
        if l + 1 >= self.layers() {
            return Err(ParamError::new(
                "layer",
                format!(
                    "hidden layer {l} of a network with {} hidden layers",
                    self.layers() - 1
                ),
            )
            .into());
        }
        Ok(())
    }
}

/// `theta` as a contiguous slice (a copy only when it is strided).
fn col_slice(theta: ColRef<'_, f64>) -> std::borrow::Cow<'_, [f64]> {
    match theta.try_as_col_major() {
        Some(c) => std::borrow::Cow::Borrowed(c.as_slice()),
        None => std::borrow::Cow::Owned(theta.iter().copied().collect()),
    }
}

fn check_finite_mat(name: &'static str, m: MatRef<'_, f64>) -> Result<()> {
    for j in 0..m.ncols() {
        linalg_core::param::finite(name, m.col(j))?;
    }
    Ok(())
}

/// faer's parallel products start threads even for small shapes: below
/// 2²² multiply-adds per layer product, run sequentially (2¹⁸ was slower
/// on the 1 715-parameter bench: 2.1 against 3.0 ms per product).
fn par_for(sizes: &[usize], n: usize) -> Par {
    let widest = sizes.windows(2).map(|w| w[0] * w[1]).max().unwrap_or(0);
    if widest.saturating_mul(n) >= 1 << 22 {
        linalg_core::faer::get_global_parallelism()
    } else {
        Par::Seq
    }
}

fn add_columnwise(mut m: MatMut<'_, f64>, b: &[f64]) {
    for j in 0..m.ncols() {
        for (x, bi) in m.rb_mut().col_mut(j).iter_mut().zip(b) {
            *x += bi;
        }
    }
}

fn row_sums_into(m: MatRef<'_, f64>, out: &mut [f64], accumulate: bool) {
    if !accumulate {
        out.fill(0.0);
    }
    for j in 0..m.ncols() {
        for (o, x) in out.iter_mut().zip(m.col(j).iter()) {
            *o += x;
        }
    }
}

struct Forward {
    /// Pre-activations of every layer (the last is the raw output).
    z: Vec<Mat<f64>>,
    /// Activations of the hidden layers.
    a: Vec<Mat<f64>>,
}

/// An MLP with its training data: the loss `L(θ) = (1/N)Σ ℓ(F(xᵢ), yᵢ)` as
/// a [`linalg_core::Objective`] with exact Hessian-vector products, and the
/// curvature operators of [`MlpLoss::curvature`].
#[derive(Debug, Clone)]
pub struct MlpLoss {
    mlp: Mlp,
    loss: Loss,
    /// Inputs as columns (`d × N`).
    xt: Mat<f64>,
    /// Targets as columns (`k × N`).
    yt: Mat<f64>,
}

impl MlpLoss {
    /// The loss of `mlp` on inputs `x` (`N × d`, `N ≥ 1`) with targets `y`
    /// (`N × k`: regression values for MSE, non-negative rows — one-hot or
    /// probabilities — for cross-entropy). Refuses non-finite data and
    /// activation caches beyond [`crate::MAX_BLOCK`] numbers.
    pub fn new(mlp: Mlp, loss: Loss, x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<Self> {
        let n = x.nrows();
        linalg_core::param::at_least("samples", n, 1)?;
        linalg_core::param::dimension("x columns", mlp.inputs(), x.ncols())?;
        linalg_core::param::dimension("y rows", n, y.nrows())?;
        linalg_core::param::dimension("y columns", mlp.outputs(), y.ncols())?;
        check_finite_mat("x", x)?;
        check_finite_mat("y", y)?;
        if loss == Loss::CrossEntropy {
            for j in 0..y.ncols() {
                for i in 0..n {
                    if y[(i, j)] < 0.0 {
                        return Err(ParamError::new(
                            "y",
                            format!(
                                "cross-entropy targets must be non-negative; row {i} has {}",
                                y[(i, j)]
                            ),
                        )
                        .into());
                    }
                }
            }
        }
        // The curvature cache holds about four numbers per unit and sample.
        let units: usize = mlp.sizes[1..].iter().sum();
        crate::check_block("samples", n, units.saturating_mul(4))?;
        Ok(Self {
            xt: x.transpose().to_owned(),
            yt: y.transpose().to_owned(),
            mlp,
            loss,
        })
    }

    /// Classification data: one-hot targets from `labels` (each `< k`).
    pub fn classification(
        mlp: Mlp,
        loss: Loss,
        x: MatRef<'_, f64>,
        labels: &[usize],
    ) -> Result<Self> {
        let k = mlp.outputs();
        linalg_core::param::dimension("labels", x.nrows(), labels.len())?;
        if let Some((i, &c)) = labels.iter().enumerate().find(|(_, c)| **c >= k) {
            return Err(ParamError::new(
                "labels",
                format!("label {c} of sample {i} for a network with {k} outputs"),
            )
            .into());
        }
        let y = Mat::from_fn(labels.len(), k, |i, c| f64::from(u8::from(labels[i] == c)));
        Self::new(mlp, loss, x, y.as_ref())
    }

    /// The architecture.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }
    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }
    /// The number of samples `N`.
    pub fn n_samples(&self) -> usize {
        self.xt.ncols()
    }
    /// The inputs (`N × d`).
    pub fn inputs(&self) -> MatRef<'_, f64> {
        self.xt.transpose()
    }
    /// The targets (`N × k`).
    pub fn targets(&self) -> MatRef<'_, f64> {
        self.yt.transpose()
    }

    /// The same network on the samples `idx` (a mini-batch; indices may
    /// repeat, each `< N`, at least one).
    pub fn subset(&self, idx: &[usize]) -> Result<Self> {
        linalg_core::param::at_least("batch", idx.len(), 1)?;
        let n = self.n_samples();
        if let Some(&i) = idx.iter().find(|&&i| i >= n) {
            return Err(ParamError::new("batch", format!("sample {i} of {n} samples")).into());
        }
        Ok(Self {
            mlp: self.mlp.clone(),
            loss: self.loss,
            xt: Mat::from_fn(self.xt.nrows(), idx.len(), |r, j| self.xt[(r, idx[j])]),
            yt: Mat::from_fn(self.yt.nrows(), idx.len(), |r, j| self.yt[(r, idx[j])]),
        })
    }

    fn par(&self) -> Par {
        par_for(&self.mlp.sizes, self.n_samples())
    }

    /// Per-sample losses and `g = ∇_F ℓ` (unscaled, `k × N`) from raw outputs.
    fn output_derivatives(&self, zl: MatRef<'_, f64>) -> (f64, Mat<f64>, Option<Mat<f64>>) {
        let s = self.mlp.output_scale;
        let (k, n) = (zl.nrows(), zl.ncols());
        let mut g = Mat::zeros(k, n);
        let mut total = 0.0;
        match self.loss {
            Loss::Mse => {
                for j in 0..n {
                    for c in 0..k {
                        let r = s * zl[(c, j)] - self.yt[(c, j)];
                        g[(c, j)] = r;
                        total += 0.5 * r * r;
                    }
                }
                (total / n as f64, g, None)
            }
            Loss::CrossEntropy => {
                let mut p = Mat::zeros(k, n);
                for j in 0..n {
                    let m = (0..k)
                        .map(|c| s * zl[(c, j)])
                        .fold(f64::NEG_INFINITY, f64::max);
                    let mut sum = 0.0;
                    for c in 0..k {
                        let e = (s * zl[(c, j)] - m).exp();
                        p[(c, j)] = e;
                        sum += e;
                    }
                    let lse = m + sum.ln();
                    let mut ysum = 0.0;
                    for c in 0..k {
                        p[(c, j)] /= sum;
                        let y = self.yt[(c, j)];
                        ysum += y;
                        if y != 0.0 {
                            total += y * (lse - s * zl[(c, j)]);
                        }
                    }
                    for c in 0..k {
                        g[(c, j)] = ysum * p[(c, j)] - self.yt[(c, j)];
                    }
                }
                (total / n as f64, g, Some(p))
            }
        }
    }

    /// Backward pass: `δ_l` for every layer (with the `s/N` factor) and the
    /// gradient (when `grad` is given).
    fn backward(
        &self,
        theta: &[f64],
        fw: &Forward,
        g: MatRef<'_, f64>,
        mut grad: Option<&mut [f64]>,
        par: Par,
    ) -> (Vec<Mat<f64>>, Vec<Option<Mat<f64>>>) {
        let mlp = &self.mlp;
        let nl = mlp.layers();
        let n = self.n_samples();
        let scale = mlp.output_scale / n as f64;
        let mut deltas: Vec<Mat<f64>> = vec![Mat::zeros(0, 0); nl];
        let mut backs: Vec<Option<Mat<f64>>> = vec![None; nl];
        let mut delta = Mat::from_fn(g.nrows(), g.ncols(), |i, j| scale * g[(i, j)]);
        for l in (0..nl).rev() {
            let input = if l == 0 {
                self.xt.as_ref()
            } else {
                fw.a[l - 1].as_ref()
            };
            if let Some(gr) = grad.as_deref_mut() {
                let (r, c) = (mlp.sizes[l + 1], mlp.sizes[l]);
                let off = mlp.offsets[l];
                let gw = MatMut::from_column_major_slice_mut(&mut gr[off..off + r * c], r, c);
                matmul(
                    gw,
                    Accum::Replace,
                    delta.as_ref(),
                    input.transpose(),
                    1.0,
                    par,
                );
                if mlp.bias {
                    row_sums_into(
                        delta.as_ref(),
                        &mut gr[off + r * c..mlp.offsets[l + 1]],
                        false,
                    );
                }
            }
            if l > 0 {
                let mut back = Mat::zeros(mlp.sizes[l], n);
                matmul(
                    back.as_mut(),
                    Accum::Replace,
                    mlp.weights(theta, l).transpose(),
                    delta.as_ref(),
                    1.0,
                    par,
                );
                linalg_core::simd::zero_upper();
                let (zprev, aprev) = (&fw.z[l - 1], &fw.a[l - 1]);
                let next = Mat::from_fn(back.nrows(), n, |i, j| {
                    mlp.activation.d1_at(zprev[(i, j)], aprev[(i, j)]) * back[(i, j)]
                });
                backs[l] = Some(back);
                deltas[l] = std::mem::replace(&mut delta, next);
            } else {
                deltas[l] = std::mem::replace(&mut delta, Mat::zeros(0, 0));
            }
        }
        (deltas, backs)
    }

    /// `L(θ)` and `∇L(θ)` into `grad` (checked sizes and finiteness).
    pub fn loss_and_gradient(&self, theta: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> Result<f64> {
        self.mlp.check_theta(theta)?;
        linalg_core::param::dimension("grad", self.mlp.n_params(), grad.nrows())?;
        let th = col_slice(theta);
        let par = self.par();
        let fw = self.mlp.forward(&th, self.xt.as_ref(), par);
        let (value, g, _) = self.output_derivatives(fw.z[self.mlp.layers() - 1].as_ref());
        let mut buf = vec![0.0; self.mlp.n_params()];
        self.backward(&th, &fw, g.as_ref(), Some(&mut buf), par);
        for (o, b) in grad.iter_mut().zip(&buf) {
            *o = *b;
        }
        if !value.is_finite() {
            return Err(linalg_core::Error::NonFinite {
                context: "the MLP loss at theta",
                index: 0,
            }
            .into());
        }
        Ok(value)
    }

    /// The fraction of samples whose largest output is the largest target
    /// (classification accuracy).
    pub fn accuracy(&self, theta: ColRef<'_, f64>) -> Result<f64> {
        let f = self.mlp.predict(theta, self.inputs())?;
        let n = self.n_samples();
        let argmax = |row: &mut dyn Iterator<Item = f64>| {
            row.enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (i, v)| if v > b.1 { (i, v) } else { b },
                )
                .0
        };
        let hits = (0..n)
            .filter(|&i| {
                argmax(&mut f.row(i).iter().copied()) == argmax(&mut self.yt.col(i).iter().copied())
            })
            .count();
        Ok(hits as f64 / n as f64)
    }

    /// The curvature matrix `kind` at `theta` as a symmetric operator over
    /// the flattened parameters. The forward and backward passes are done
    /// here, once; each product then costs about two gradients.
    pub fn curvature(&self, theta: ColRef<'_, f64>, kind: CurvatureKind) -> Result<Curvature<'_>> {
        self.mlp.check_theta(theta)?;
        let th = col_slice(theta).into_owned();
        let par = self.par();
        let fw = self.mlp.forward(&th, self.xt.as_ref(), par);
        let (value, g, p) = self.output_derivatives(fw.z[self.mlp.layers() - 1].as_ref());
        if !value.is_finite() {
            return Err(linalg_core::Error::NonFinite {
                context: "the MLP loss at theta",
                index: 0,
            }
            .into());
        }
        let (deltas, backs) = self.backward(&th, &fw, g.as_ref(), None, par);
        let act = self.mlp.activation;
        let d1 =
            fw.z.iter()
                .zip(&fw.a)
                .map(|(z, a)| {
                    Mat::from_fn(z.nrows(), z.ncols(), |i, j| act.d1_at(z[(i, j)], a[(i, j)]))
                })
                .collect();
        let d2 =
            fw.z.iter()
                .zip(&fw.a)
                .map(|(z, a)| {
                    Mat::from_fn(z.nrows(), z.ncols(), |i, j| act.d2_at(z[(i, j)], a[(i, j)]))
                })
                .collect();
        let ysum = (0..self.n_samples())
            .map(|j| self.yt.col(j).iter().sum())
            .collect();
        Ok(Curvature {
            owner: self,
            kind,
            theta: th,
            fw,
            g,
            p,
            ysum,
            deltas,
            backs,
            d1,
            d2,
            target: Target::Parameters,
        })
    }

    /// The Hessian of the loss with respect to the activations `A_l` of
    /// hidden layer `l` (`0 ≤ l < L − 1`), flattened column by column
    /// (sample after sample, `n_{l+1}·N` entries): the loss as a function of
    /// those activations with the weights fixed. It is block-diagonal over
    /// samples (each activation column feeds its own sample's loss).
    pub fn activation_hessian(&self, theta: ColRef<'_, f64>, l: usize) -> Result<Curvature<'_>> {
        self.mlp.check_hidden(l)?;
        let mut c = self.curvature(theta, CurvatureKind::Hessian)?;
        c.target = Target::Activations(l);
        Ok(c)
    }

    /// The Jacobian `∂F(xᵢ)/∂θ` (`k × p`) of the outputs of each sample in
    /// `samples`, by one backward pass per output unit. Refuses requests of
    /// more than [`crate::MAX_BLOCK`] numbers.
    pub fn jacobians(
        &self,
        theta: ColRef<'_, f64>,
        samples: Range<usize>,
    ) -> Result<Vec<Mat<f64>>> {
        self.mlp.check_theta(theta)?;
        let n = self.n_samples();
        if samples.start > samples.end || samples.end > n {
            return Err(ParamError::new("samples", format!("{samples:?} of {n} samples")).into());
        }
        let (k, p) = (self.mlp.outputs(), self.mlp.n_params());
        crate::check_block("samples", k.saturating_mul(p), samples.len())?;
        let idx: Vec<usize> = samples.collect();
        if idx.is_empty() {
            return Ok(Vec::new());
        }
        let sub = self.subset(&idx)?;
        let th = col_slice(theta);
        let par = sub.par();
        let fw = sub.mlp.forward(&th, sub.xt.as_ref(), par);
        let mut out = vec![Mat::zeros(k, p); idx.len()];
        let mut grad = vec![0.0; p];
        // One backward pass per (output unit, sample): δ_L = e_c at sample j
        // only, scaled so the backward's s/N factor gives s.
        for (j, jac) in out.iter_mut().enumerate() {
            let one = sub.subset(&[j])?;
            let fwj = Forward {
                z: fw.z.iter().map(|z| z.col(j).as_mat().to_owned()).collect(),
                a: fw.a.iter().map(|a| a.col(j).as_mat().to_owned()).collect(),
            };
            for c in 0..k {
                let g = Mat::from_fn(k, 1, |r, _| f64::from(u8::from(r == c)));
                one.backward(&th, &fwj, g.as_ref(), Some(&mut grad), Par::Seq);
                for (q, gq) in grad.iter().enumerate() {
                    jac[(c, q)] = *gq;
                }
            }
        }
        Ok(out)
    }
}

impl Objective for MlpLoss {
    fn dim(&self) -> usize {
        self.mlp.n_params()
    }

    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        let th = col_slice(x);
        let fw = self.mlp.forward(&th, self.xt.as_ref(), self.par());
        self.output_derivatives(fw.z[self.mlp.layers() - 1].as_ref())
            .0
    }

    fn gradient(&self, x: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> f64 {
        self.loss_and_gradient(x, grad).unwrap_or(f64::NAN)
    }

    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        match self.curvature(x, CurvatureKind::Hessian) {
            Ok(h) => {
                let r = linalg_core::op::apply(&h, v);
                out.copy_from(&r);
            }
            Err(_) => out.fill(f64::NAN),
        }
    }

    fn hessian_op<'a>(&'a self, x: ColRef<'_, f64>) -> linalg_core::objective::HessianOp<'a> {
        match self.curvature(x, CurvatureKind::Hessian) {
            Ok(h) => linalg_core::objective::HessianOp::new(h),
            // A point of the wrong size or with NaNs: an operator of the
            // right size that returns NaN, which every driver reports.
            Err(_) => linalg_core::objective::HessianOp::new(linalg_core::op::FnOp::new(
                self.dim(),
                |mut out: ColMut<'_, f64>, _: ColRef<'_, f64>| out.fill(f64::NAN),
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Parameters,
    Activations(usize),
}

/// A curvature matrix of an [`MlpLoss`] at a fixed point, as a symmetric
/// `LinOp` ([`MlpLoss::curvature`], [`MlpLoss::activation_hessian`]).
/// Several right-hand sides are applied in parallel (rayon) when the
/// product is given a parallel `Par`; each column is computed the same way
/// whatever the thread count.
pub struct Curvature<'a> {
    owner: &'a MlpLoss,
    kind: CurvatureKind,
    theta: Vec<f64>,
    fw: Forward,
    /// `∇_F ℓ` per sample (unscaled, `k × N`).
    g: Mat<f64>,
    /// Softmax probabilities (cross-entropy).
    p: Option<Mat<f64>>,
    /// Target row sums (cross-entropy scales its Hessian by them).
    ysum: Vec<f64>,
    deltas: Vec<Mat<f64>>,
    backs: Vec<Option<Mat<f64>>>,
    d1: Vec<Mat<f64>>,
    d2: Vec<Mat<f64>>,
    target: Target,
}

impl std::fmt::Debug for Curvature<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Curvature({:?}, n = {})", self.kind, self.dim())
    }
}

impl Curvature<'_> {
    /// Which matrix this is.
    pub fn kind(&self) -> CurvatureKind {
        self.kind
    }

    /// The operator's size: the parameter count, or `n_{l+1}·N` for an
    /// activation Hessian.
    pub fn dim(&self) -> usize {
        match self.target {
            Target::Parameters => self.owner.mlp.n_params(),
            Target::Activations(l) => self.owner.mlp.sizes[l + 1] * self.owner.n_samples(),
        }
    }

    /// `out ← C v` for one direction (both slices of length [`Self::dim`]).
    fn apply_one(&self, v: &[f64], out: &mut [f64], par: Par) {
        let mlp = &self.owner.mlp;
        let nl = mlp.layers();
        let n = self.owner.n_samples();
        let th = &self.theta[..];
        let full = self.kind == CurvatureKind::Hessian;
        let (start, params) = match self.target {
            Target::Parameters => (0, true),
            Target::Activations(l) => (l + 1, false),
        };
        // R-forward.
        let mut rz: Vec<Mat<f64>> = (0..nl)
            .map(|l| {
                if l >= start {
                    Mat::zeros(mlp.sizes[l + 1], n)
                } else {
                    Mat::zeros(0, 0)
                }
            })
            .collect();
        let mut ra: Vec<Mat<f64>> = (0..nl.saturating_sub(1))
            .map(|_| Mat::zeros(0, 0))
            .collect();
        if !params {
            ra[start - 1] = MatRef::from_column_major_slice(v, mlp.sizes[start], n).to_owned();
        }
        for l in start..nl {
            let input = if l == 0 {
                self.owner.xt.as_ref()
            } else {
                self.fw.a[l - 1].as_ref()
            };
            let mut acc = Accum::Replace;
            if params {
                matmul(
                    rz[l].as_mut(),
                    Accum::Replace,
                    mlp.weights(v, l),
                    input,
                    1.0,
                    par,
                );
                if let Some(c) = mlp.bias_of(v, l) {
                    add_columnwise(rz[l].as_mut(), c);
                }
                acc = Accum::Add;
            }
            if l > 0 && (l > start || !params) {
                let (head, tail) = rz.split_at_mut(l);
                let _ = head;
                matmul(
                    tail[0].as_mut(),
                    acc,
                    mlp.weights(th, l),
                    ra[l - 1].as_ref(),
                    1.0,
                    par,
                );
            }
            if l + 1 < nl {
                let d1 = &self.d1[l];
                let rzl = &rz[l];
                ra[l] = Mat::from_fn(rzl.nrows(), n, |i, j| d1[(i, j)] * rzl[(i, j)]);
            }
        }
        // Output-space curvature.
        let s = mlp.output_scale;
        let s2n = s * s / n as f64;
        let rzl = &rz[nl - 1];
        let k = rzl.nrows();
        let mut rdelta = Mat::zeros(k, n);
        match (self.kind, &self.p) {
            (CurvatureKind::EmpiricalFisher, _) => {
                for j in 0..n {
                    let dot: f64 = (0..k).map(|c| self.g[(c, j)] * rzl[(c, j)]).sum();
                    for c in 0..k {
                        rdelta[(c, j)] = s2n * self.g[(c, j)] * dot;
                    }
                }
            }
            (_, None) => {
                for j in 0..n {
                    for c in 0..k {
                        rdelta[(c, j)] = s2n * rzl[(c, j)];
                    }
                }
            }
            (_, Some(p)) => {
                for j in 0..n {
                    let pr: f64 = (0..k).map(|c| p[(c, j)] * rzl[(c, j)]).sum();
                    for c in 0..k {
                        rdelta[(c, j)] = s2n * self.ysum[j] * p[(c, j)] * (rzl[(c, j)] - pr);
                    }
                }
            }
        }
        // R-backward.
        for l in (start..nl).rev() {
            let input = if l == 0 {
                self.owner.xt.as_ref()
            } else {
                self.fw.a[l - 1].as_ref()
            };
            if params {
                let (r, c) = (mlp.sizes[l + 1], mlp.sizes[l]);
                let off = mlp.offsets[l];
                let (ow, ob) = out[off..mlp.offsets[l + 1]].split_at_mut(r * c);
                let mut ow = MatMut::from_column_major_slice_mut(ow, r, c);
                matmul(
                    ow.rb_mut(),
                    Accum::Replace,
                    rdelta.as_ref(),
                    input.transpose(),
                    1.0,
                    par,
                );
                if full && l > 0 {
                    matmul(
                        ow,
                        Accum::Add,
                        self.deltas[l].as_ref(),
                        ra[l - 1].transpose(),
                        1.0,
                        par,
                    );
                }
                if mlp.bias {
                    row_sums_into(rdelta.as_ref(), ob, false);
                }
            }
            if l == start && !params {
                let mut o = MatMut::from_column_major_slice_mut(out, mlp.sizes[l], n);
                matmul(
                    o.rb_mut(),
                    Accum::Replace,
                    mlp.weights(th, l).transpose(),
                    rdelta.as_ref(),
                    1.0,
                    par,
                );
                break;
            }
            if l == 0 || l == start {
                break;
            }
            let mut t = Mat::zeros(mlp.sizes[l], n);
            matmul(
                t.as_mut(),
                Accum::Replace,
                mlp.weights(th, l).transpose(),
                rdelta.as_ref(),
                1.0,
                par,
            );
            if full && params {
                matmul(
                    t.as_mut(),
                    Accum::Add,
                    mlp.weights(v, l).transpose(),
                    self.deltas[l].as_ref(),
                    1.0,
                    par,
                );
            }
            let d1 = &self.d1[l - 1];
            rdelta = if full {
                let d2 = &self.d2[l - 1];
                let back = self.backs[l].as_ref().expect("backward kept W_lᵀδ_l");
                let rzp = &rz[l - 1];
                Mat::from_fn(t.nrows(), n, |i, j| {
                    d1[(i, j)] * t[(i, j)] + d2[(i, j)] * rzp[(i, j)] * back[(i, j)]
                })
            } else {
                Mat::from_fn(t.nrows(), n, |i, j| d1[(i, j)] * t[(i, j)])
            };
        }
    }
}

impl LinOp<f64> for Curvature<'_> {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.dim()
    }
    fn ncols(&self) -> usize {
        self.dim()
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, _: &mut MemStack) {
        let dim = self.dim();
        let inner = self.owner.par();
        let column = |j: usize| -> Vec<f64> {
            let v: Vec<f64> = rhs.col(j).iter().copied().collect();
            let mut o = vec![0.0; dim];
            self.apply_one(&v, &mut o, inner);
            o
        };
        let cols: Vec<Vec<f64>> = if rhs.ncols() > 1 && !matches!(par, Par::Seq) {
            use rayon::prelude::*;
            (0..rhs.ncols()).into_par_iter().map(column).collect()
        } else {
            (0..rhs.ncols()).map(column).collect()
        };
        for (j, c) in cols.iter().enumerate() {
            for (o, x) in out.rb_mut().col_mut(j).iter_mut().zip(c) {
                *o = *x;
            }
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        self.apply(out, rhs, par, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::excessive_precision)]
    fn erfc_matches_known_values() {
        // erfc values from Abramowitz & Stegun Table 7.1 / mpmath.
        let cases = [
            (0.0, 1.0),
            (0.3, 0.671_373_240_540_872_8),
            (1.0, 0.157_299_207_050_285_13),
            (2.5, 4.069_520_174_449_589_4e-4),
            (5.0, 1.537_459_794_428_034_8e-12),
            (-1.0, 1.842_700_792_949_714_9),
        ];
        for (x, e) in cases {
            let r = erfc(x);
            assert!(
                (r - e).abs() <= 1e-14 * e.abs().max(1e-300) + 1e-16,
                "erfc({x}) = {r}, want {e}"
            );
        }
    }

    #[test]
    fn activation_derivatives_match_central_differences() {
        for a in [Activation::Tanh, Activation::Gelu, Activation::Softplus] {
            for &x in &[-3.0, -0.7, 0.1, 0.9, 2.5] {
                let h = 1e-5;
                let d1 = (a.value(x + h) - a.value(x - h)) / (2.0 * h);
                let d2 = (a.d1(x + h) - a.d1(x - h)) / (2.0 * h);
                assert!((d1 - a.d1(x)).abs() < 1e-9, "{a:?} σ' at {x}");
                assert!((d2 - a.d2(x)).abs() < 1e-9, "{a:?} σ'' at {x}");
            }
        }
    }
}
