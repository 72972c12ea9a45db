//! The MLP's gradient and curvature products against independent oracles:
//! forward-mode hyper-dual numbers (`num-dual`) through a separate,
//! sample-by-sample forward pass on nets of at most 200 parameters, and
//! Richardson-extrapolated central differences of the gradient on a
//! 5 000-parameter net.

use hessian_tools::mlp::{Activation, CurvatureKind, Loss, Mlp, MlpLoss};
use linalg_core::Objective;
use linalg_core::faer::{Col, Mat, MatRef};
use linalg_core::op::{apply, to_dense};
use num_dual::{DualNum, HyperDual64};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

fn gaussian(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| StandardNormal.sample(&mut rng))
}

fn gaussian_col(n: usize, seed: u64) -> Col<f64> {
    let m = gaussian(n, 1, seed);
    Col::from_fn(n, |i| m[(i, 0)])
}

/// The oracle's copy of the architecture, written without the crate's code.
#[derive(Clone, Copy)]
struct Arch<'a> {
    sizes: &'a [usize],
    act: Activation,
    bias: bool,
    scale: f64,
    loss: Loss,
}

fn act_hd(a: Activation, x: HyperDual64) -> HyperDual64 {
    match a {
        Activation::Tanh => x.tanh(),
        Activation::Softplus => x.exp().ln_1p(),
        Activation::Relu => {
            if x.re > 0.0 {
                x
            } else {
                HyperDual64::from(0.0)
            }
        }
        Activation::Gelu => unreachable!("GELU is checked by central differences"),
    }
}

/// Forward pass of one sample from layer `start` (its input `a`), with
/// hyper-dual parameters: the raw last-layer output.
fn forward_hd(
    arch: Arch<'_>,
    theta: &[HyperDual64],
    a: Vec<HyperDual64>,
    start: usize,
) -> Vec<HyperDual64> {
    let nl = arch.sizes.len() - 1;
    let mut off = 0;
    for l in 0..start {
        off += arch.sizes[l] * arch.sizes[l + 1] + if arch.bias { arch.sizes[l + 1] } else { 0 };
    }
    let mut a = a;
    for l in start..nl {
        let (r, c) = (arch.sizes[l + 1], arch.sizes[l]);
        let mut z = vec![HyperDual64::from(0.0); r];
        for (i, zi) in z.iter_mut().enumerate() {
            for (j, aj) in a.iter().enumerate() {
                *zi += theta[off + i + j * r] * *aj;
            }
            if arch.bias {
                *zi += theta[off + r * c + i];
            }
        }
        off += r * c + if arch.bias { r } else { 0 };
        a = if l + 1 < nl {
            z.into_iter().map(|x| act_hd(arch.act, x)).collect()
        } else {
            z
        };
    }
    a
}

fn sample_loss(arch: Arch<'_>, f: &[HyperDual64], y: &[f64]) -> HyperDual64 {
    let f: Vec<HyperDual64> = f.iter().map(|v| *v * arch.scale).collect();
    match arch.loss {
        Loss::Mse => f
            .iter()
            .zip(y)
            .map(|(fi, yi)| (*fi - *yi) * (*fi - *yi) * 0.5)
            .fold(HyperDual64::from(0.0), |a, b| a + b),
        Loss::CrossEntropy => {
            let m = f.iter().map(|v| v.re).fold(f64::NEG_INFINITY, f64::max);
            let sum = f
                .iter()
                .map(|v| (*v - m).exp())
                .fold(HyperDual64::from(0.0), |a, b| a + b);
            let lse = sum.ln() + m;
            f.iter()
                .zip(y)
                .map(|(fi, yi)| (lse - *fi) * *yi)
                .fold(HyperDual64::from(0.0), |a, b| a + b)
        }
    }
}

fn consts(row: impl Iterator<Item = f64>) -> Vec<HyperDual64> {
    row.map(HyperDual64::from).collect()
}

/// Parameters with `eps1 = e_j` and `eps2 = v`.
fn seeded(theta: &Col<f64>, j: usize, v: &Col<f64>) -> Vec<HyperDual64> {
    (0..theta.nrows())
        .map(|q| HyperDual64::new(theta[q], f64::from(u8::from(q == j)), v[q], 0.0))
        .collect()
}

/// Gradient, `Hv`, `Gv` and the empirical Fisher `Fv` by hyper-duals.
#[allow(clippy::needless_range_loop)] // j indexes four outputs and the seed
fn oracle(
    arch: Arch<'_>,
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
    theta: &Col<f64>,
    v: &Col<f64>,
) -> [Col<f64>; 4] {
    let (n, p) = (x.nrows(), theta.nrows());
    let mut out = [Col::zeros(p), Col::zeros(p), Col::zeros(p), Col::zeros(p)];
    for j in 0..p {
        let th = seeded(theta, j, v);
        for i in 0..n {
            let f = forward_hd(arch, &th, consts(x.row(i).iter().copied()), 0);
            let yi: Vec<f64> = y.row(i).iter().copied().collect();
            let li = sample_loss(arch, &f, &yi);
            out[0][j] += li.eps1 / n as f64;
            out[1][j] += li.eps1eps2 / n as f64;
            // The network linearised at θ: drop the second-order output part.
            let lin: Vec<HyperDual64> = f
                .iter()
                .map(|z| HyperDual64::new(z.re, z.eps1, z.eps2, 0.0))
                .collect();
            out[2][j] += sample_loss(arch, &lin, &yi).eps1eps2 / n as f64;
            out[3][j] += li.eps1 * li.eps2 / n as f64;
        }
    }
    out
}

fn rel(a: &Col<f64>, b: &Col<f64>) -> f64 {
    (a - b).norm_l2() / b.norm_l2().max(f64::MIN_POSITIVE)
}

fn problem(
    sizes: &[usize],
    act: Activation,
    bias: bool,
    scale: f64,
    loss: Loss,
    n: usize,
    seed: u64,
) -> (MlpLoss, Mat<f64>, Mat<f64>, Col<f64>) {
    let mlp = Mlp::new(sizes, act, bias)
        .unwrap()
        .with_output_scale(scale)
        .unwrap();
    let x = gaussian(n, sizes[0], seed);
    let k = *sizes.last().unwrap();
    let y = match loss {
        Loss::Mse => gaussian(n, k, seed + 1),
        _ => Mat::from_fn(n, k, |i, c| f64::from(u8::from((i * 7 + 3) % k == c))),
    };
    // Larger than the default initialisation so every curvature term counts.
    let theta = mlp.init(seed + 2) * 2.0;
    let obj = MlpLoss::new(mlp, loss, x.as_ref(), y.as_ref()).unwrap();
    (obj, x, y, theta)
}

#[test]
fn gradient_hvp_ggn_and_fisher_match_hyper_dual_numbers() {
    let cases: &[(&[usize], Activation, bool, f64, Loss)] = &[
        (&[3, 5, 4, 2], Activation::Tanh, true, 1.0, Loss::Mse),
        (
            &[4, 6, 3],
            Activation::Softplus,
            true,
            1.0,
            Loss::CrossEntropy,
        ),
        (
            &[3, 7, 5, 3],
            Activation::Tanh,
            false,
            0.5,
            Loss::CrossEntropy,
        ),
        (&[5, 8, 8, 1], Activation::Relu, true, 1.0, Loss::Mse),
        (&[6, 10, 6, 4], Activation::Softplus, true, 2.0, Loss::Mse),
    ];
    for (case, &(sizes, act, bias, scale, loss)) in cases.iter().enumerate() {
        let seed = 10 * case as u64;
        let (obj, x, y, theta) = problem(sizes, act, bias, scale, loss, 17, seed);
        let p = obj.dim();
        assert!(p <= 200, "{p} parameters");
        let v = gaussian_col(p, seed + 5);
        let arch = Arch {
            sizes,
            act,
            bias,
            scale,
            loss,
        };
        let [g, hv, gv, fv] = oracle(arch, x.as_ref(), y.as_ref(), &theta, &v);
        let mut grad = Col::zeros(p);
        let value = obj.gradient(theta.as_ref(), grad.as_mut());
        assert!(value.is_finite());
        let ours = |kind| apply(&obj.curvature(theta.as_ref(), kind).unwrap(), v.as_ref());
        let (eg, eh, eggn, ef) = (
            rel(&grad, &g),
            rel(&ours(CurvatureKind::Hessian), &hv),
            rel(&ours(CurvatureKind::GaussNewton), &gv),
            rel(&ours(CurvatureKind::EmpiricalFisher), &fv),
        );
        println!(
            "case {case} ({p} parameters): grad {eg:.1e}, Hv {eh:.1e}, Gv {eggn:.1e}, Fv {ef:.1e}"
        );
        assert!(eg < 1e-12, "case {case}: gradient {eg:e}");
        assert!(eh < 1e-10, "case {case}: Hv {eh:e}");
        assert!(eggn < 1e-10, "case {case}: Gv {eggn:e}");
        assert!(ef < 1e-10, "case {case}: Fv {ef:e}");
        // The Gauss-Newton part differs from H away from a minimum.
        assert!(rel(&gv, &hv) > 1e-3, "case {case}: G = H would not test R");
    }
}

#[test]
fn activation_hessian_matches_hyper_dual_numbers() {
    let sizes: &[usize] = &[3, 5, 4, 2];
    for loss in [Loss::Mse, Loss::CrossEntropy] {
        let (obj, x, y, theta) = problem(sizes, Activation::Tanh, true, 1.0, loss, 6, 3);
        let arch = Arch {
            sizes,
            act: Activation::Tanh,
            bias: true,
            scale: 1.0,
            loss,
        };
        let n = x.nrows();
        for layer in 0..2 {
            let h = obj.activation_hessian(theta.as_ref(), layer).unwrap();
            let m = sizes[layer + 1];
            let dim = m * n;
            let v = gaussian_col(dim, 40 + layer as u64);
            let ours = apply(&h, v.as_ref());
            // Activations of `layer` from the network itself at θ.
            let feats = obj
                .mlp()
                .features(theta.as_ref(), x.as_ref(), layer)
                .unwrap();
            let th: Vec<HyperDual64> = theta.iter().map(|t| HyperDual64::from(*t)).collect();
            let mut want = Col::zeros(dim);
            for i in 0..n {
                let yi: Vec<f64> = y.row(i).iter().copied().collect();
                for u in 0..m {
                    let a: Vec<HyperDual64> = (0..m)
                        .map(|q| {
                            HyperDual64::new(
                                feats[(i, q)],
                                f64::from(u8::from(q == u)),
                                v[i * m + q],
                                0.0,
                            )
                        })
                        .collect();
                    let f = forward_hd(arch, &th, a, layer + 1);
                    want[i * m + u] = sample_loss(arch, &f, &yi).eps1eps2 / n as f64;
                }
            }
            let e = rel(&ours, &want);
            assert!(e < 1e-10, "{loss:?} layer {layer}: {e:e}");
        }
        assert!(obj.activation_hessian(theta.as_ref(), 2).is_err());
    }
}

#[test]
fn jacobians_match_hyper_dual_numbers() {
    let sizes: &[usize] = &[4, 6, 3];
    let (obj, x, _, theta) = problem(sizes, Activation::Tanh, true, 1.5, Loss::Mse, 5, 8);
    let arch = Arch {
        sizes,
        act: Activation::Tanh,
        bias: true,
        scale: 1.5,
        loss: Loss::Mse,
    };
    let jac = obj.jacobians(theta.as_ref(), 1..4).unwrap();
    assert_eq!(jac.len(), 3);
    let p = obj.dim();
    let zero = Col::zeros(p);
    for (s, j) in jac.iter().enumerate() {
        let i = s + 1;
        for q in 0..p {
            let th = seeded(&theta, q, &zero);
            let f = forward_hd(arch, &th, consts(x.row(i).iter().copied()), 0);
            for c in 0..3 {
                let want = 1.5 * f[c].eps1;
                assert!((j[(c, q)] - want).abs() < 1e-13 * (1.0 + want.abs()));
            }
        }
    }
    assert!(obj.jacobians(theta.as_ref(), 3..7).is_err());
}

/// Central differences of the gradient with step `h` and `h/2`, combined
/// by Richardson extrapolation (error `O(h⁴)`).
fn richardson_hvp(obj: &MlpLoss, theta: &Col<f64>, v: &Col<f64>, h: f64) -> Col<f64> {
    let p = obj.dim();
    let central = |h: f64| {
        let (mut gp, mut gm) = (Col::zeros(p), Col::zeros(p));
        obj.gradient((theta + v * h).as_ref(), gp.as_mut());
        obj.gradient((theta - v * h).as_ref(), gm.as_mut());
        (gp - gm) * (0.5 / h)
    };
    let (d1, d2) = (central(h), central(h / 2.0));
    (d2 * 4.0 - d1) * (1.0 / 3.0)
}

#[test]
fn large_net_hvp_matches_extrapolated_central_differences() {
    // 64–48–40–10 with biases: 5 490 parameters.
    for (act, loss) in [
        (Activation::Tanh, Loss::CrossEntropy),
        (Activation::Gelu, Loss::Mse),
        (Activation::Softplus, Loss::CrossEntropy),
    ] {
        let (obj, _, _, theta) = problem(&[64, 48, 40, 10], act, true, 1.0, loss, 200, 21);
        assert_eq!(obj.dim(), 5490);
        let v = gaussian_col(obj.dim(), 22);
        let v = &v * (1.0 / v.norm_l2());
        let hv = apply(
            &obj.curvature(theta.as_ref(), CurvatureKind::Hessian)
                .unwrap(),
            v.as_ref(),
        );
        let fd = richardson_hvp(&obj, &theta, &v, 1e-3);
        let e = rel(&hv, &fd);
        println!("{act:?}/{loss:?}: ‖Hv − FD‖/‖FD‖ = {e:.1e}");
        assert!(e < 1e-10, "{act:?}/{loss:?}: {e:e}");
    }
}

#[test]
fn gelu_gradient_matches_central_differences() {
    let (obj, _, _, theta) = problem(&[3, 6, 2], Activation::Gelu, true, 1.0, Loss::Mse, 9, 4);
    let p = obj.dim();
    let mut g = Col::zeros(p);
    obj.gradient(theta.as_ref(), g.as_mut());
    for j in 0..p {
        let e = Col::from_fn(p, |q| f64::from(u8::from(q == j)));
        let h = 1e-5;
        let fd = (obj.value((&theta + &e * h).as_ref()) - obj.value((&theta - &e * h).as_ref()))
            / (2.0 * h);
        assert!((fd - g[j]).abs() < 1e-8, "parameter {j}: {} vs {fd}", g[j]);
    }
}

#[test]
fn assembled_hessian_is_symmetric_and_splits_into_g_plus_r() {
    let (obj, _, _, theta) = problem(
        &[8, 12, 10, 3],
        Activation::Tanh,
        true,
        1.0,
        Loss::CrossEntropy,
        40,
        5,
    );
    let h = to_dense(
        &obj.curvature(theta.as_ref(), CurvatureKind::Hessian)
            .unwrap(),
    );
    let norm = h.norm_l2();
    let asym = (&h - h.transpose()).norm_l2();
    assert!(asym <= 1e-12 * norm, "asymmetry {asym:e} of ‖H‖ {norm:e}");
    let g = to_dense(
        &obj.curvature(theta.as_ref(), CurvatureKind::GaussNewton)
            .unwrap(),
    );
    assert!((&g - g.transpose()).norm_l2() <= 1e-12 * g.norm_l2());
    // G is positive semi-definite; its rank is at most N(k − 1) for softmax.
    let eg = g
        .self_adjoint_eigenvalues(linalg_core::faer::Side::Lower)
        .unwrap();
    assert!(eg[0] > -1e-12 * eg[eg.len() - 1]);
    let big = eg.iter().filter(|&&l| l > 1e-10 * eg[eg.len() - 1]).count();
    assert!(big <= 40 * 2, "rank {big}");
}

#[test]
fn bad_inputs_are_refused() {
    assert!(Mlp::new(&[3], Activation::Tanh, true).is_err());
    assert!(Mlp::new(&[3, 0, 2], Activation::Tanh, true).is_err());
    assert!(Mlp::new(&[1 << 20, 1 << 20, 1 << 20], Activation::Tanh, true).is_err());
    assert!(Mlp::new(&[usize::MAX, 2], Activation::Tanh, true).is_err());
    let mlp = Mlp::new(&[2, 3, 2], Activation::Tanh, true).unwrap();
    assert!(mlp.clone().with_output_scale(0.0).is_err());
    assert!(mlp.clone().with_output_scale(f64::NAN).is_err());
    assert_eq!(mlp.block(2).unwrap_err().param_name(), Some("layer"));
    let x = Mat::from_fn(4, 2, |i, j| (i + j) as f64);
    let y = Mat::from_fn(4, 2, |i, j| f64::from(u8::from(i % 2 == j)));
    let mut xn = x.clone();
    xn[(1, 1)] = f64::NAN;
    let e = MlpLoss::new(mlp.clone(), Loss::Mse, xn.as_ref(), y.as_ref()).unwrap_err();
    assert!(e.is_input_error() && e.param_name() == Some("x"), "{e}");
    let bad_y = Mat::from_fn(4, 2, |_, _| -1.0);
    assert!(MlpLoss::new(mlp.clone(), Loss::CrossEntropy, x.as_ref(), bad_y.as_ref()).is_err());
    assert!(MlpLoss::new(mlp.clone(), Loss::Mse, x.as_ref(), y.subrows(0, 3)).is_err());
    assert!(MlpLoss::new(mlp.clone(), Loss::Mse, x.subrows(0, 0), y.subrows(0, 0)).is_err());
    assert!(
        MlpLoss::classification(mlp.clone(), Loss::CrossEntropy, x.as_ref(), &[0, 1, 2, 0])
            .is_err()
    );
    let obj = MlpLoss::new(mlp.clone(), Loss::Mse, x.as_ref(), y.as_ref()).unwrap();
    let mut theta = mlp.init(1);
    assert!(
        obj.curvature(Col::zeros(3).as_ref(), CurvatureKind::Hessian)
            .is_err()
    );
    theta[2] = f64::INFINITY;
    let e = obj
        .curvature(theta.as_ref(), CurvatureKind::Hessian)
        .unwrap_err();
    assert_eq!(e.param_name(), Some("theta"));
    assert!(obj.subset(&[]).is_err());
    assert!(obj.subset(&[4]).is_err());
    // The objective's operator at a bad point returns NaN rather than panic.
    let op = obj.hessian_op(theta.as_ref());
    let r = apply(&op, Col::<f64>::zeros(obj.dim()).as_ref());
    assert!(r.iter().all(|x| x.is_nan()));
}

#[test]
fn finite_difference_operator_and_layer_blocks() {
    use hessian_tools::{FdHessian, Restricted};
    let (obj, _, _, theta) = problem(
        &[6, 9, 7, 3],
        Activation::Tanh,
        true,
        1.0,
        Loss::CrossEntropy,
        30,
        31,
    );
    let h = obj
        .curvature(theta.as_ref(), CurvatureKind::Hessian)
        .unwrap();
    let dense = to_dense(&h);
    // The central-difference operator of the same gradient: ~1e-9 relative.
    let fd = FdHessian::new(
        |t: linalg_core::faer::ColRef<'_, f64>, g: linalg_core::faer::ColMut<'_, f64>| {
            obj.gradient(t, g);
        },
        theta.as_ref(),
    )
    .unwrap();
    let (fdm, asym) = hessian_tools::assemble(&fd, linalg_core::faer::Par::Seq).unwrap();
    let e = (&fdm - &dense).norm_l2() / dense.norm_l2();
    println!("FD Hessian: relative error {e:.1e}, asymmetry {asym:.1e}");
    assert!(e < 1e-8 && asym < 1e-8 && asym > 0.0, "{e:e} {asym:e}");
    // Each layer's block equals the dense Hessian's principal block.
    for (l, r) in obj.mlp().blocks().into_iter().enumerate() {
        let b = Restricted::new(&h, r.clone()).unwrap();
        let bd = to_dense(&b);
        let want = dense.get(r.clone(), r.clone()).to_owned();
        assert!(
            (&bd - &want).norm_l2() <= 1e-14 * want.norm_l2().max(1e-300),
            "layer {l}"
        );
    }
    assert!(Restricted::new(&h, 5..5).is_err());
    assert!(Restricted::new(&h, 0..obj.dim() + 1).is_err());
    assert!(
        FdHessian::new(
            |_: linalg_core::faer::ColRef<'_, f64>, _: linalg_core::faer::ColMut<'_, f64>| {},
            Col::<f64>::zeros(0).as_ref()
        )
        .is_err()
    );
}

#[test]
fn jax_initialisation_is_lecun_normal_with_zero_biases() {
    let mlp = Mlp::new(&[400, 300, 2], Activation::Tanh, true).unwrap();
    let theta = mlp.init_lecun(5);
    let blocks = mlp.blocks();
    for (l, (fan_in, fan_out)) in [(400usize, 300usize), (300, 2)].into_iter().enumerate() {
        let r = &blocks[l];
        let w: Vec<f64> = (r.start..r.start + fan_in * fan_out)
            .map(|i| theta[i])
            .collect();
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / w.len() as f64;
        // Standard errors: √(σ²/N) for the mean, σ²·√(2/N) for the variance.
        let n = w.len() as f64;
        let s2 = 1.0 / fan_in as f64;
        assert!(
            mean.abs() <= 4.0 * (s2 / n).sqrt(),
            "layer {l}: mean {mean}"
        );
        assert!(
            (var - s2).abs() <= 4.0 * s2 * (2.0 / n).sqrt(),
            "layer {l}: {var} vs {s2}"
        );
        assert!(
            (r.start + fan_in * fan_out..r.end).all(|i| theta[i] == 0.0),
            "biases"
        );
    }
    assert_eq!(theta, mlp.init_lecun(5));
    assert_ne!(theta, mlp.init_lecun(6));
}
