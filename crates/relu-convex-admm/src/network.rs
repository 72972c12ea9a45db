//! The two-layer ReLU network of a convex solution (Pilanci and Ergen 2020):
//! each nonzero `vᵢ` gives a neuron `uⱼ = vᵢ/√‖vᵢ‖` with output weight
//! `+√‖vᵢ‖`, each nonzero `wᵢ` one with `uⱼ = wᵢ/√‖wᵢ‖` and `−√‖wᵢ‖`.
//! Then `(β/2)(‖uⱼ‖² + αⱼ²) = β‖vᵢ‖`, and `(Xuⱼ)₊ = DᵢXuⱼ` when the cone
//! constraint holds, so the network's regularised objective equals the
//! convex one.

use linalg_core::faer::{Col, Mat, MatRef};

use crate::loss::Loss;

/// The share of `pred` with the sign of the `±1` targets `y` (0 counts as
/// `+1`; NaN for empty or mismatched inputs).
pub fn sign_accuracy(pred: &Col<f64>, y: &Col<f64>) -> f64 {
    if pred.nrows() != y.nrows() || y.nrows() == 0 {
        return f64::NAN;
    }
    let hits = (0..y.nrows())
        .filter(|&i| (pred[i] >= 0.0) == (y[i] > 0.0))
        .count();
    hits as f64 / y.nrows() as f64
}

/// `f(x) = Σⱼ αⱼ (uⱼᵀx)₊`.
#[derive(Debug, Clone)]
pub struct TwoLayerNet {
    /// `d × m`: the hidden weights `uⱼ` (columns).
    pub hidden: Mat<f64>,
    /// The output weights `αⱼ`.
    pub output: Vec<f64>,
}

impl TwoLayerNet {
    /// The network of `(v, w)` (`d × P` each); columns with norm ≤ `prune`
    /// are dropped.
    pub fn from_convex(v: MatRef<'_, f64>, w: MatRef<'_, f64>, prune: f64) -> Self {
        let mut cols: Vec<Col<f64>> = Vec::new();
        let mut output = Vec::new();
        for (m, sign) in [(v, 1.0), (w, -1.0)] {
            for k in 0..m.ncols() {
                let nrm = m.col(k).norm_l2();
                if nrm > prune {
                    let s = nrm.sqrt();
                    cols.push(m.col(k) / s);
                    output.push(sign * s);
                }
            }
        }
        let d = v.nrows();
        Self {
            hidden: Mat::from_fn(d, cols.len(), |i, j| cols[j][i]),
            output,
        }
    }

    /// The number of neurons.
    pub fn neurons(&self) -> usize {
        self.output.len()
    }

    /// Predictions on the rows of `x` (`n × d`; NaN where `d` differs).
    pub fn predict(&self, x: MatRef<'_, f64>) -> Col<f64> {
        if x.ncols() != self.hidden.nrows() {
            return Col::from_fn(x.nrows(), |_| f64::NAN);
        }
        let z = x * &self.hidden;
        Col::from_fn(x.nrows(), |i| {
            (0..z.ncols())
                .map(|j| self.output[j] * z[(i, j)].max(0.0))
                .sum()
        })
    }

    /// `½‖f(X) − y‖² + (β/2) Σⱼ(‖uⱼ‖² + αⱼ²)`: the nonconvex training objective.
    pub fn objective(&self, x: MatRef<'_, f64>, y: &Col<f64>, beta: f64) -> f64 {
        self.loss_objective(Loss::Squared, x, y, beta)
    }

    /// `ℓ(f(X)) + (β/2) Σⱼ(‖uⱼ‖² + αⱼ²)` with the given loss.
    pub fn loss_objective(&self, loss: Loss, x: MatRef<'_, f64>, y: &Col<f64>, beta: f64) -> f64 {
        let reg: f64 = (0..self.neurons())
            .map(|j| self.hidden.col(j).squared_norm_l2() + self.output[j].powi(2))
            .sum();
        loss.value(&self.predict(x), y) + 0.5 * beta * reg
    }

    /// The share of rows whose prediction has the sign of the `±1` target
    /// (a prediction of exactly 0 counts as `+1`; NaN when `x` and `y` differ
    /// in length or `y` is empty).
    pub fn accuracy(&self, x: MatRef<'_, f64>, y: &Col<f64>) -> f64 {
        sign_accuracy(&self.predict(x), y)
    }
}
