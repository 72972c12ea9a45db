//! The data protocols of the learning problems (seeded splits shared by the
//! tests, the CLI and the benchmarks) and the minibatch oracles of
//! [`HyperCleaning`].

use linalg_core::faer::{ColMut, ColRef, Mat, MatRef};
use linalg_core::param::{at_least, in_unit_interval};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use super::{HyperCleaning, RegSelection, sigmoid, softmax_back, softmax_losses};
use crate::Result;
use crate::problem::StochasticBilevel;

/// The hyper-cleaning protocol of the issue: `n_train` training samples
/// with a fraction `corruption` of their labels replaced by a different
/// class drawn uniformly, `n_val` clean validation samples, the rest for
/// testing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleaningProtocol {
    /// Training samples (default 1 200).
    pub n_train: usize,
    /// Clean validation samples (default 100).
    pub n_val: usize,
    /// The probability that a training label is corrupted (default 0.5).
    pub corruption: f64,
    /// The ridge of the lower level (default 3e-2).
    pub reg: f64,
}

impl Default for CleaningProtocol {
    fn default() -> Self {
        Self {
            n_train: 1200,
            n_val: 100,
            corruption: 0.5,
            reg: 3e-2,
        }
    }
}

/// A hyper-cleaning instance with its test split and the ground truth.
#[derive(Debug, Clone)]
pub struct CleaningSplit {
    /// The bilevel problem (weights of the training samples as `x`).
    pub problem: HyperCleaning,
    /// Test features (without the intercept column).
    pub test: Mat<f64>,
    /// Test labels.
    pub test_labels: Vec<usize>,
    /// Which training labels were corrupted.
    pub corrupted: Vec<bool>,
}

/// Precision, recall and F1 of flagging the samples with weight below ½ as
/// corrupted.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Detection {
    /// Flagged and corrupted over flagged.
    pub precision: f64,
    /// Flagged and corrupted over corrupted.
    pub recall: f64,
    /// Their harmonic mean.
    pub f1: f64,
}

impl CleaningSplit {
    /// Splits `features` (n × d, finite) and `labels` (below `classes`) by
    /// the protocol, with the shuffle and the corruption drawn from `seed`.
    pub fn new(
        features: MatRef<'_, f64>,
        labels: &[usize],
        classes: usize,
        protocol: &CleaningProtocol,
        seed: u64,
    ) -> Result<Self> {
        let p = protocol;
        at_least("n_train", p.n_train, 1)?;
        at_least("n_val", p.n_val, 1)?;
        in_unit_interval("corruption", p.corruption)?;
        linalg_core::param::dimension("labels", features.nrows(), labels.len())?;
        let n = features.nrows();
        if p.n_train.saturating_add(p.n_val) >= n {
            return Err(linalg_core::ParamError::new(
                "n_train",
                format!(
                    "{} training + {} validation samples leave no test set of {n}",
                    p.n_train, p.n_val
                ),
            )
            .into());
        }
        let mut idx: Vec<usize> = (0..n).collect();
        let mut rng = StdRng::seed_from_u64(seed);
        idx.shuffle(&mut rng);
        let rows =
            |r: &[usize]| Mat::from_fn(r.len(), features.ncols(), |i, j| features[(r[i], j)]);
        let (tr, rest) = idx.split_at(p.n_train);
        let (va, te) = rest.split_at(p.n_val);
        let mut noisy: Vec<usize> = tr.iter().map(|&i| labels[i]).collect();
        let mut corrupted = vec![false; tr.len()];
        for i in 0..tr.len() {
            if rng.random_range(0.0..1.0) < p.corruption {
                let shift = rng.random_range(1..classes.max(2));
                noisy[i] = (noisy[i] + shift) % classes.max(2);
                corrupted[i] = true;
            }
        }
        let val_labels: Vec<usize> = va.iter().map(|&i| labels[i]).collect();
        let problem = HyperCleaning::new(
            rows(tr).as_ref(),
            &noisy,
            rows(va).as_ref(),
            &val_labels,
            classes,
            p.reg,
        )?;
        Ok(Self {
            problem,
            test: rows(te),
            test_labels: te.iter().map(|&i| labels[i]).collect(),
            corrupted,
        })
    }

    /// Test accuracy of the lower-level model `w`.
    pub fn test_accuracy(&self, w: ColRef<'_, f64>) -> f64 {
        self.problem
            .accuracy(self.test.as_ref(), &self.test_labels, w)
    }

    /// How well weights below ½ flag the corrupted samples.
    pub fn detection(&self, x: ColRef<'_, f64>) -> Detection {
        let flagged: Vec<bool> = x.iter().map(|v| sigmoid(*v) < 0.5).collect();
        let count = |f: bool, c: bool| {
            flagged
                .iter()
                .zip(&self.corrupted)
                .filter(|(a, b)| **a == f && **b == c)
                .count() as f64
        };
        let (tp, fp, fneg) = (count(true, true), count(true, false), count(false, true));
        Detection {
            precision: if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 },
            recall: if tp + fneg > 0.0 {
                tp / (tp + fneg)
            } else {
                0.0
            },
            f1: if tp > 0.0 {
                2.0 * tp / (2.0 * tp + fp + fneg)
            } else {
                0.0
            },
        }
    }
}

/// A regularisation-selection instance with its test split.
#[derive(Debug, Clone)]
pub struct RegSplit {
    /// The bilevel problem.
    pub problem: RegSelection,
    /// Test features (without the intercept column).
    pub test: Mat<f64>,
    /// Test labels.
    pub test_labels: Vec<usize>,
}

impl RegSplit {
    /// A seeded shuffle of `features`/`labels` into 50 % training, 25 %
    /// validation and 25 % test (at least 4 samples).
    pub fn new(
        features: MatRef<'_, f64>,
        labels: &[usize],
        classes: usize,
        seed: u64,
    ) -> Result<Self> {
        let n = features.nrows();
        at_least("samples", n, 4)?;
        linalg_core::param::dimension("labels", n, labels.len())?;
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(seed));
        let rows =
            |r: &[usize]| Mat::from_fn(r.len(), features.ncols(), |i, j| features[(r[i], j)]);
        let lab = |r: &[usize]| r.iter().map(|&i| labels[i]).collect::<Vec<_>>();
        let (tr, rest) = idx.split_at(n / 2);
        let (va, te) = rest.split_at(n / 4);
        let problem = RegSelection::new(
            rows(tr).as_ref(),
            &lab(tr),
            rows(va).as_ref(),
            &lab(va),
            classes,
        )?;
        Ok(Self {
            problem,
            test: rows(te),
            test_labels: lab(te),
        })
    }

    /// Test accuracy of the lower-level model `w`.
    pub fn test_accuracy(&self, w: ColRef<'_, f64>) -> f64 {
        self.problem
            .accuracy(self.test.as_ref(), &self.test_labels, w)
    }
}

impl HyperCleaning {
    /// Rows `b` of the training set (out-of-range indices skipped).
    fn train_rows(&self, b: &[usize]) -> (Vec<usize>, Mat<f64>, Vec<usize>) {
        let r: Vec<usize> = b
            .iter()
            .copied()
            .filter(|&i| i < self.train.nrows())
            .collect();
        let a = Mat::from_fn(r.len(), self.train.ncols(), |i, j| self.train[(r[i], j)]);
        let l = r.iter().map(|&i| self.train_labels[i]).collect();
        (r, a, l)
    }
}

impl StochasticBilevel for HyperCleaning {
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
        let r: Vec<usize> = b
            .iter()
            .copied()
            .filter(|&i| i < self.val.nrows())
            .collect();
        let a = Mat::from_fn(r.len(), self.val.ncols(), |i, j| self.val[(r[i], j)]);
        let l: Vec<usize> = r.iter().map(|&i| self.val_labels[i]).collect();
        let (_, p) = softmax_losses(a.as_ref(), &l, self.classes, y);
        let m = r.len().max(1) as f64;
        softmax_back(
            a.as_ref(),
            &l,
            self.classes,
            p,
            &vec![1.0 / m; r.len()],
            out,
        );
    }
    /// `(n/|B|)·(1/n) σ'(x_i) ℓ_i` on the batch, zero elsewhere (unbiased).
    fn g_grad_x_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        b: &[usize],
        mut out: ColMut<'_, f64>,
    ) {
        out.fill(0.0);
        let (r, a, l) = self.train_rows(b);
        let (loss, _) = softmax_losses(a.as_ref(), &l, self.classes, y);
        let m = r.len().max(1) as f64;
        for (k, &i) in r.iter().enumerate() {
            let s = sigmoid(x[i]);
            out[i] += s * (1.0 - s) * loss[k] / m;
        }
    }
    fn g_grad_y_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        b: &[usize],
        mut out: ColMut<'_, f64>,
    ) {
        let (r, a, l) = self.train_rows(b);
        let (_, p) = softmax_losses(a.as_ref(), &l, self.classes, y);
        let m = r.len().max(1) as f64;
        let c: Vec<f64> = r.iter().map(|&i| sigmoid(x[i]) / m).collect();
        softmax_back(a.as_ref(), &l, self.classes, p, &c, out.as_mut());
        out += y * self.reg;
    }
}
