//! Multinomial (softmax) regression.

use faer::dyn_stack::{MemStack, StackReq};
use faer::linalg::matmul::matmul;
use faer::linalg::{temp_mat_scratch, temp_mat_zeroed};
use faer::mat::AsMatMut;
use faer::matrix_free::LinOp;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, ColMut, ColRef, Mat, MatMut, MatRef, Par};

use super::{HessianOp, Objective, check_data, weighted_gram, with_intercept};
use crate::Result;
use crate::param::{ParamError, at_least, nonnegative};

/// Multinomial (softmax) regression with ℓ2 regularisation over `K` classes:
/// parameters `W` (d+1 × K, column-major in `x`, intercept row last),
/// `f(W) = (1/m) Σ_i [LSE(Wᵀa_i) − w_{y_i}ᵀa_i] + (λ/2)‖W‖²`.
#[derive(Debug, Clone)]
pub struct Softmax {
    a: Mat<f64>,
    labels: Vec<usize>,
    classes: usize,
    reg: f64,
}

impl Softmax {
    /// From features (m × d), class labels `< classes` and `λ ≥ 0`.
    ///
    /// Errors: empty or non-finite features, a label count other than `m`,
    /// fewer than 2 classes (`ParamError` "classes"), a label `≥ classes`
    /// ("labels"), `reg` negative or non-finite ("reg").
    pub fn new(
        features: MatRef<'_, f64>,
        labels: &[usize],
        classes: usize,
        reg: f64,
    ) -> Result<Self> {
        check_data(features, labels.len())?;
        nonnegative("reg", reg)?;
        at_least("classes", classes, 2)?;
        // The label check differs per model (±1 here, < classes for softmax);
        // the rest of the constructor is the same for both GLMs.
        if let Some(i) = labels.iter().position(|l| *l >= classes) {
            return Err(ParamError::new(
                "labels",
                format!("label {} at {i} is not below {classes}", labels[i]),
            )
            .into());
        }
        Ok(Self {
            a: with_intercept(features),
            labels: labels.to_vec(),
            classes,
            reg,
        })
    }

    /// The design matrix with its intercept column (m × (d+1)).
    pub fn design(&self) -> MatRef<'_, f64> {
        self.a.as_ref()
    }

    /// The number of classes `K`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The regularisation `λ`.
    pub fn reg(&self) -> f64 {
        self.reg
    }

    fn params(&self, x: ColRef<'_, f64>) -> Mat<f64> {
        let d = self.a.ncols();
        Mat::from_fn(d, self.classes, |i, k| x[k * d + i])
    }

    /// Class probabilities (m × K) at `x`, and `f(x)`.
    pub fn probabilities(&self, x: ColRef<'_, f64>) -> (Mat<f64>, f64) {
        let w = self.params(x);
        let mut z = &self.a * &w;
        // exp/ln per score below (crate::simd).
        crate::simd::zero_upper();
        let m = z.nrows();
        let mut loss = 0.0;
        for i in 0..m {
            let mx = (0..self.classes).fold(f64::NEG_INFINITY, |a, k| a.max(z[(i, k)]));
            let s: f64 = (0..self.classes).map(|k| (z[(i, k)] - mx).exp()).sum();
            loss += mx + s.ln() - z[(i, self.labels[i])];
            for k in 0..self.classes {
                z[(i, k)] = (z[(i, k)] - mx).exp() / s;
            }
        }
        (z, loss / m as f64 + 0.5 * self.reg * x.squared_norm_l2())
    }
}

/// `t ← P ∘ (AV − rowdot(P, AV)) / m`, in place on `av` (m × K).
fn softmax_curvature(p: MatRef<'_, f64>, mut av: MatMut<'_, f64>) {
    let (m, kk) = (p.nrows(), p.ncols());
    for i in 0..m {
        let mean: f64 = (0..kk).map(|k| p[(i, k)] * av[(i, k)]).sum();
        for k in 0..kk {
            av[(i, k)] = p[(i, k)] * (av[(i, k)] - mean) / m as f64;
        }
    }
}

impl Objective for Softmax {
    fn dim(&self) -> usize {
        self.a.ncols() * self.classes
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        self.probabilities(x).1
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let (mut p, f) = self.probabilities(x);
        let m = p.nrows() as f64;
        for (i, &l) in self.labels.iter().enumerate() {
            p[(i, l)] -= 1.0;
        }
        let gw = self.a.transpose() * p * faer::Scale(1.0 / m);
        let d = self.a.ncols();
        for k in 0..self.classes {
            for i in 0..d {
                g[k * d + i] = gw[(i, k)] + self.reg * x[k * d + i];
            }
        }
        f
    }
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let (p, _) = self.probabilities(x);
        let d = self.a.ncols();
        // (H v) = (1/m) Aᵀ [P ∘ (AV − rowdot(P, AV))] + λ v.
        let mut t = &self.a * self.params(v);
        softmax_curvature(p.as_ref(), t.as_mut());
        let hv = self.a.transpose() * t;
        for k in 0..self.classes {
            for i in 0..d {
                out[k * d + i] = hv[(i, k)] + self.reg * v[k * d + i];
            }
        }
    }
    fn hessian(&self, x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        let (p, _) = self.probabilities(x);
        let m = p.nrows();
        let d = self.a.ncols();
        let kk = self.classes;
        let mut h = Mat::<f64>::zeros(d * kk, d * kk);
        // Block (k, l) = (1/m) Aᵀ diag(p_k (δ_kl − p_l)) A.
        for k in 0..kk {
            for l in k..kk {
                let w: Vec<f64> = (0..m)
                    .map(|i| {
                        let delta = if k == l { 1.0 } else { 0.0 };
                        p[(i, k)] * (delta - p[(i, l)]) / m as f64
                    })
                    .collect();
                let b = weighted_gram(self.a.as_ref(), &w);
                for j in 0..d {
                    for i in 0..d {
                        h[(k * d + i, l * d + j)] = b[(i, j)];
                        h[(l * d + j, k * d + i)] = b[(i, j)];
                    }
                }
            }
        }
        for i in 0..d * kk {
            h[(i, i)] += self.reg;
        }
        Some(h)
    }
    /// The Hessian with the probabilities computed once at `x`.
    fn hessian_op<'a>(&'a self, x: ColRef<'_, f64>) -> HessianOp<'a> {
        HessianOp::new(SoftmaxHessian {
            a: self.a.as_ref(),
            p: self.probabilities(x).0,
            reg: self.reg,
        })
    }
}

/// The softmax Hessian at a fixed point (probabilities cached).
#[derive(Debug)]
struct SoftmaxHessian<'a> {
    a: MatRef<'a, f64>,
    p: Mat<f64>,
    reg: f64,
}

impl LinOp<f64> for SoftmaxHessian<'_> {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        let (m, d, kk) = (self.a.nrows(), self.a.ncols(), self.p.ncols());
        StackReq::all_of(&[
            temp_mat_scratch::<f64>(d, kk),
            temp_mat_scratch::<f64>(m, kk),
            temp_mat_scratch::<f64>(d, kk),
        ])
    }
    fn nrows(&self) -> usize {
        self.a.ncols() * self.p.ncols()
    }
    fn ncols(&self) -> usize {
        self.nrows()
    }
    fn apply(
        &self,
        mut out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        par: Par,
        stack: &mut MemStack,
    ) {
        let (m, d, kk) = (self.a.nrows(), self.a.ncols(), self.p.ncols());
        let (mut v, stack) = temp_mat_zeroed::<f64, _, _>(d, kk, stack);
        let mut v = v.as_mat_mut();
        let (mut t, stack) = temp_mat_zeroed::<f64, _, _>(m, kk, stack);
        let mut t = t.as_mat_mut();
        let (mut hv, _) = temp_mat_zeroed::<f64, _, _>(d, kk, stack);
        let mut hv = hv.as_mat_mut();
        for j in 0..rhs.ncols() {
            let x = rhs.col(j);
            for k in 0..kk {
                for i in 0..d {
                    v[(i, k)] = x[k * d + i];
                }
            }
            matmul(t.rb_mut(), Accum::Replace, self.a, v.rb(), 1.0, par);
            softmax_curvature(self.p.as_ref(), t.rb_mut());
            matmul(
                hv.rb_mut(),
                Accum::Replace,
                self.a.transpose(),
                t.rb(),
                1.0,
                par,
            );
            let mut o = out.rb_mut().col_mut(j);
            for k in 0..kk {
                for i in 0..d {
                    o[k * d + i] = hv[(i, k)] + self.reg * x[k * d + i];
                }
            }
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}
