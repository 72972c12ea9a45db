//! Regularisation selection (benchopt's ijcnn1/covtype problem, BOME's and
//! F2BA's 20 Newsgroups task): per-feature ridge weights `exp(x_j)` of a
//! multinomial logistic regression chosen to minimise the validation loss.
//!
//! ```text
//! g(x, W) = (1/n) Σᵢ CE(W; aᵢ, ℓᵢ) + ½ Σⱼ exp(xⱼ) Σₖ W_{jk}²      (training split)
//! f(x, W) = (1/m) Σⱼ CE(W; a'ⱼ, ℓ'ⱼ)                                (validation split)
//! ```
//!
//! The features get an intercept column (a feature like the others, with
//! its own `x`), so `x ∈ ℝ^{d+1}` and `W ∈ ℝ^{(d+1)·K}`; `exp(x) > 0` makes
//! `g` strongly convex in `W` for every `x`. Minibatch oracles average over
//! training rows (lower) or validation rows (upper); the ridge term is
//! deterministic and enters every lower batch in full.

use linalg_core::faer::{ColMut, ColRef, Mat, MatRef};
use linalg_core::param::at_least;

use super::{softmax_back, softmax_losses, with_intercept};
use crate::Result;
use crate::problem::{BilevelProblem, Constraint, StochasticBilevel};

/// The box `X` of the log-regularisation weights: `exp(x_j) ∈ [e⁻⁵, e⁵]`
/// keeps the lower level strongly convex with a bounded condition number
/// (on nearly separable data such as breast cancer, `x_j → −∞` would
/// otherwise remove the strong convexity the lower level relies on).
pub const LOG_REG_RANGE: (f64, f64) = (-5.0, 5.0);

/// Regularisation selection for softmax regression (see the module docs).
#[derive(Debug, Clone)]
pub struct RegSelection {
    train: Mat<f64>,
    train_labels: Vec<usize>,
    val: Mat<f64>,
    val_labels: Vec<usize>,
    classes: usize,
    x_set: Constraint,
}

fn check_labels(name: &'static str, labels: &[usize], classes: usize) -> Result<()> {
    if let Some(i) = labels.iter().position(|l| *l >= classes) {
        return Err(linalg_core::ParamError::new(
            name,
            format!("label {} at {i} is not below {classes}", labels[i]),
        )
        .into());
    }
    Ok(())
}

impl RegSelection {
    /// Training features (n × d) and labels, validation features (m × d)
    /// and labels, `classes ≥ 2`; all finite, labels below `classes`.
    pub fn new(
        train: MatRef<'_, f64>,
        train_labels: &[usize],
        val: MatRef<'_, f64>,
        val_labels: &[usize],
        classes: usize,
    ) -> Result<Self> {
        at_least("classes", classes, 2)?;
        // W has (d + 1)·classes entries: bound it before the solvers allocate.
        linalg_core::param::in_range("classes", classes as f64, 2.0, 1e5)?;
        at_least("train", train.nrows(), 1)?;
        at_least("val", val.nrows(), 1)?;
        linalg_core::param::dimension("train_labels", train.nrows(), train_labels.len())?;
        linalg_core::param::dimension("val_labels", val.nrows(), val_labels.len())?;
        linalg_core::param::dimension("val", train.ncols(), val.ncols())?;
        check_labels("train_labels", train_labels, classes)?;
        check_labels("val_labels", val_labels, classes)?;
        for (name, m) in [("train", train), ("val", val)] {
            for j in 0..m.ncols() {
                linalg_core::param::finite(name, m.col(j))?;
            }
        }
        Ok(Self {
            train: with_intercept(train),
            train_labels: train_labels.to_vec(),
            val: with_intercept(val),
            val_labels: val_labels.to_vec(),
            classes,
            x_set: Constraint::Box {
                lo: vec![LOG_REG_RANGE.0; train.ncols() + 1],
                hi: vec![LOG_REG_RANGE.1; train.ncols() + 1],
            },
        })
    }

    /// The fraction of `labels` that `W` predicts on `features` (without
    /// the intercept column; it is added here).
    pub fn accuracy(&self, features: MatRef<'_, f64>, labels: &[usize], w: ColRef<'_, f64>) -> f64 {
        let a = with_intercept(features);
        if a.ncols() != self.train.ncols() || labels.len() != a.nrows() {
            return f64::NAN;
        }
        let (_, p) = softmax_losses(a.as_ref(), &vec![0; a.nrows()], self.classes, w);
        let hits = (0..a.nrows())
            .filter(|&i| {
                (0..self.classes)
                    .max_by(|&u, &v| p[(i, u)].total_cmp(&p[(i, v)]))
                    .is_some_and(|b| b == labels[i])
            })
            .count();
        hits as f64 / a.nrows().max(1) as f64
    }

    /// Mean loss of `rows` of `a` (all rows when `None`).
    fn mean_loss(
        &self,
        a: &Mat<f64>,
        labels: &[usize],
        rows: Option<&[usize]>,
        w: ColRef<'_, f64>,
    ) -> f64 {
        let l = match rows {
            None => softmax_losses(a.as_ref(), labels, self.classes, w).0,
            Some(r) => {
                let (sub, sl) = gather(a, labels, r);
                softmax_losses(sub.as_ref(), &sl, self.classes, w).0
            }
        };
        l.iter().sum::<f64>() / l.len().max(1) as f64
    }

    /// Mean-loss gradient in `W` over `rows` into `out`.
    fn mean_grad(
        &self,
        a: &Mat<f64>,
        labels: &[usize],
        rows: Option<&[usize]>,
        w: ColRef<'_, f64>,
        out: ColMut<'_, f64>,
    ) {
        let back = |a: MatRef<'_, f64>, l: &[usize], out| {
            let (_, p) = softmax_losses(a, l, self.classes, w);
            let n = l.len().max(1);
            softmax_back(a, l, self.classes, p, &vec![1.0 / n as f64; l.len()], out);
        };
        match rows {
            None => back(a.as_ref(), labels, out),
            Some(r) => {
                let (sub, sl) = gather(a, labels, r);
                back(sub.as_ref(), &sl, out)
            }
        }
    }

    fn ridge_grad_w(&self, x: ColRef<'_, f64>, w: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let d = self.train.ncols();
        for k in 0..self.classes {
            for j in 0..d {
                out[k * d + j] += x[j].exp() * w[k * d + j];
            }
        }
    }

    fn ridge_grad_x(&self, x: ColRef<'_, f64>, w: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let d = self.train.ncols();
        for j in 0..d {
            let s: f64 = (0..self.classes).map(|k| w[k * d + j].powi(2)).sum();
            out[j] = 0.5 * x[j].exp() * s;
        }
    }
}

/// The rows `r` of `a` and their labels (indices out of range are skipped).
fn gather(a: &Mat<f64>, labels: &[usize], r: &[usize]) -> (Mat<f64>, Vec<usize>) {
    let r: Vec<usize> = r.iter().copied().filter(|&i| i < a.nrows()).collect();
    (
        Mat::from_fn(r.len(), a.ncols(), |i, j| a[(r[i], j)]),
        r.iter().map(|&i| labels[i]).collect(),
    )
}

impl BilevelProblem for RegSelection {
    fn dims(&self) -> (usize, usize) {
        (self.train.ncols(), self.train.ncols() * self.classes)
    }
    fn f(&self, _x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        self.mean_loss(&self.val, &self.val_labels, None, y)
    }
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
        let d = self.train.ncols();
        let ridge: f64 = (0..d)
            .map(|j| {
                0.5 * x[j].exp() * (0..self.classes).map(|k| y[k * d + j].powi(2)).sum::<f64>()
            })
            .sum();
        self.mean_loss(&self.train, &self.train_labels, None, y) + ridge
    }
    fn f_grad_x(&self, _x: ColRef<'_, f64>, _y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.fill(0.0);
    }
    fn f_grad_y(&self, _x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.mean_grad(&self.val, &self.val_labels, None, y, out);
    }
    fn g_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>) {
        self.ridge_grad_x(x, y, out);
    }
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        self.mean_grad(&self.train, &self.train_labels, None, y, out.as_mut());
        self.ridge_grad_w(x, y, out);
    }
    fn x_set(&self) -> &Constraint {
        &self.x_set
    }
}

impl StochasticBilevel for RegSelection {
    fn n_samples(&self) -> (usize, usize) {
        (self.val.nrows(), self.train.nrows())
    }
    fn f_grad_x_batch(
        &self,
        _x: ColRef<'_, f64>,
        _y: ColRef<'_, f64>,
        _b: &[usize],
        mut out: ColMut<'_, f64>,
    ) {
        out.fill(0.0);
    }
    fn f_grad_y_batch(
        &self,
        _x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        b: &[usize],
        out: ColMut<'_, f64>,
    ) {
        self.mean_grad(&self.val, &self.val_labels, Some(b), y, out);
    }
    fn g_grad_x_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        _b: &[usize],
        out: ColMut<'_, f64>,
    ) {
        self.ridge_grad_x(x, y, out);
    }
    fn g_grad_y_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        b: &[usize],
        mut out: ColMut<'_, f64>,
    ) {
        self.mean_grad(&self.train, &self.train_labels, Some(b), y, out.as_mut());
        self.ridge_grad_w(x, y, out);
    }
}
