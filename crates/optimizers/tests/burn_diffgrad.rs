//! diffGrad as a burn optimizer (`cargo test -p optimizers --features burn`).
#![cfg(feature = "burn")]

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{GradientsParams, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use linalg_core::Control;
use linalg_core::faer::Col;
use optimizers::burn_diffgrad::DiffGradConfig;
use optimizers::objectives::PaperFunction;
use optimizers::{AdamParams, Method, RunParams, minimize};

#[test]
fn one_tensor_follows_the_f64_reference_on_f1() {
    // The diffGrad paper's F1 (x0 = −1, β1 = 0.95, lr = 0.1, 300 steps),
    // stepping a 1-element tensor with the analytic derivative.
    let device = Device::default();
    let opt = DiffGradConfig::new().with_beta_1(0.95).build();
    let mut x = Tensor::<1>::from_floats([-1.0], &device);
    let mut state = None;
    let mut xs = Vec::new();
    for _ in 0..300 {
        let v: f64 = x.clone().into_scalar::<f32>() as f64;
        let g = if v <= 0.0 {
            2.0 * (v + 0.3)
        } else {
            2.0 * (v - 0.2)
        };
        let grad = Tensor::<1>::from_floats([g as f32], &device);
        let (nx, ns) = opt.step(0.1, x, grad, state);
        x = nx;
        state = ns;
        xs.push(x.clone().into_scalar::<f32>() as f64);
    }
    let last = *xs.last().unwrap();
    assert!((last + 0.3).abs() < 1e-3, "burn diffGrad ended at {last}");
    // f32 against f64 along the whole path.
    for (k, b) in xs.iter().enumerate() {
        let rx = reference_x(k);
        assert!((b - rx).abs() < 1e-3, "step {k}: {b} vs {rx}");
    }
}

/// The f64 reference iterate after `k + 1` steps.
fn reference_x(k: usize) -> f64 {
    minimize(
        &PaperFunction::F1,
        Col::from_fn(1, |_| -1.0).as_ref(),
        Method::DiffGrad(AdamParams {
            lr: 0.1,
            beta1: 0.95,
            ..Default::default()
        }),
        &RunParams {
            max_iters: k + 1,
            grad_tol: 0.0,
            ..Default::default()
        },
        |_| Control::Continue,
    )
    .unwrap()
    .x[0]
}

#[derive(Module, Debug)]
struct Mlp {
    l1: Linear,
    l2: Linear,
    act: Relu,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Self {
            l1: LinearConfig::new(64, 64).init(device),
            l2: LinearConfig::new(64, 10).init(device),
            act: Relu::new(),
        }
    }
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.l2.forward(self.act.forward(self.l1.forward(x)))
    }
}

/// Standardised digits, split 80/20 (seeded), as f32 tensors.
struct Data {
    train_x: Vec<Vec<f32>>,
    train_y: Vec<i64>,
    test_x: Vec<Vec<f32>>,
    test_y: Vec<i64>,
}

fn digits() -> Data {
    let d = datasets::digits();
    let (train, test) = d.train_test_split(0.2, 7).unwrap();
    let mut train = train;
    let mut test = test;
    let s = datasets::standardize(&mut train.features).unwrap();
    s.transform(&mut test.features).unwrap();
    let rows = |ds: &datasets::Dataset| -> Vec<Vec<f32>> {
        (0..ds.n_samples())
            .map(|i| (0..64).map(|j| ds.features[(i, j)] as f32).collect())
            .collect()
    };
    Data {
        train_x: rows(&train),
        train_y: train.labels.iter().map(|&l| l as i64).collect(),
        test_x: rows(&test),
        test_y: test.labels.iter().map(|&l| l as i64).collect(),
    }
}

fn batch(x: &[Vec<f32>], y: &[i64], device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    let flat: Vec<f32> = x.iter().flatten().copied().collect();
    (
        Tensor::<2>::from_data(TensorData::new(flat, [x.len(), 64]), device),
        Tensor::<1, Int>::from_data(TensorData::new(y.to_vec(), [y.len()]), device),
    )
}

/// `steps` mini-batch steps (batch 64, fixed order) from `start`.
fn train(
    mut model: Mlp,
    optim: &mut ModuleOptimizer,
    data: &Data,
    start: usize,
    steps: usize,
    device: &Device,
) -> Mlp {
    let loss = CrossEntropyLossConfig::new().init(device);
    let n = data.train_x.len();
    for s in start..start + steps {
        let lo = (s * 64) % n;
        let hi = (lo + 64).min(n);
        let (x, y) = batch(&data.train_x[lo..hi], &data.train_y[lo..hi], device);
        let l = loss.forward(model.forward(x), y);
        let grads = GradientsParams::from_grads(l.backward(), &model);
        model = optim.step(5e-3, model, grads);
    }
    model
}

fn accuracy(model: &Mlp, data: &Data, device: &Device) -> f64 {
    let (x, y) = batch(&data.test_x, &data.test_y, device);
    let pred: Vec<i64> = model
        .forward(x)
        .argmax(1)
        .flatten::<1>(0, 1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    let truth: Vec<i64> = y.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    pred.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

fn params(model: &Mlp) -> Vec<f32> {
    [model.l1.weight.val(), model.l2.weight.val()]
        .into_iter()
        .flat_map(|t| t.into_data().try_to_vec::<f32>().unwrap())
        .collect()
}

#[test]
fn trains_an_mlp_on_digits_and_resumes_bit_identically() {
    let device = Device::default().autodiff();
    device.seed(3);
    let data = digits();
    let model = Mlp::new(&device);
    let mut optim = DiffGradConfig::new().init();
    // 200 steps, snapshot (model in memory + optimizer state as bytes), 200 more.
    let model = train(model, &mut optim, &data, 0, 200, &device);
    let snapshot_model = model.clone();
    let bytes = optim.into_bytes().unwrap();
    let straight = train(model, &mut optim, &data, 200, 200, &device);
    let acc = accuracy(&straight, &data, &device);
    println!("diffGrad MLP 64-64-10 on digits: test accuracy {acc:.4} after 400 steps");
    assert!(acc >= 0.90, "test accuracy {acc}");

    let mut resumed_optim = DiffGradConfig::new().init().from_bytes(bytes).unwrap();
    let resumed = train(snapshot_model, &mut resumed_optim, &data, 200, 200, &device);
    assert_eq!(
        params(&straight),
        params(&resumed),
        "resume is not bit-identical"
    );
}

#[test]
fn bad_hyperparameters_are_rejected_by_name() {
    let name = |c: DiffGradConfig| c.validate().unwrap_err().param_name();
    assert_eq!(name(DiffGradConfig::new().with_beta_1(1.0)), Some("beta_1"));
    assert_eq!(
        name(DiffGradConfig::new().with_beta_2(-0.1)),
        Some("beta_2")
    );
    assert_eq!(
        name(DiffGradConfig::new().with_epsilon(0.0)),
        Some("epsilon")
    );
    assert_eq!(
        name(DiffGradConfig::new().with_weight_decay(-1.0)),
        Some("weight_decay")
    );
    assert!(DiffGradConfig::new().validate().is_ok());
}
