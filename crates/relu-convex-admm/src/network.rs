//! The two-layer ReLU network of a convex solution (Pilanci and Ergen 2020):
//! each nonzero `vᵢ` gives a neuron `uⱼ = vᵢ/√‖vᵢ‖` with output weight
//! `+√‖vᵢ‖`, each nonzero `wᵢ` one with `uⱼ = wᵢ/√‖wᵢ‖` and `−√‖wᵢ‖`.
//! Then `(β/2)(‖uⱼ‖² + αⱼ²) = β‖vᵢ‖`, and `(Xuⱼ)₊ = DᵢXuⱼ` when the cone
//! constraint holds, so the network's regularised objective equals the
//! convex one.

use linalg_core::faer::{Col, Mat, MatRef};

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
        let r = self.predict(x) - y;
        let reg: f64 = (0..self.neurons())
            .map(|j| self.hidden.col(j).squared_norm_l2() + self.output[j].powi(2))
            .sum();
        0.5 * r.squared_norm_l2() + 0.5 * beta * reg
    }
}
