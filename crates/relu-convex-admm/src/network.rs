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
    /// The network of `(v, w)` (`d × P` each, the same shape); columns
    /// with norm ≤ `prune` (finite, ≥ 0) are dropped.
    pub fn from_convex(v: MatRef<'_, f64>, w: MatRef<'_, f64>, prune: f64) -> crate::Result<Self> {
        linalg_core::param::dimension("w (rows)", v.nrows(), w.nrows())?;
        linalg_core::param::dimension("w (columns)", v.ncols(), w.ncols())?;
        linalg_core::param::nonnegative("prune", prune)?;
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
        Ok(Self {
            hidden: Mat::from_fn(d, cols.len(), |i, j| cols[j][i]),
            output,
        })
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

/// The regularised nonconvex training objective of a width-`m` network,
/// `ℓ(Σⱼ αⱼ(Xuⱼ)₊) + (β/2)Σⱼ(‖uⱼ‖² + αⱼ²)`, as a
/// [`linalg_core::Objective`] over `θ = (vec U, α)` (`U` is `d × m`,
/// column-major): the baseline a first-order method (Adam, in
/// `optimizers`) trains from a random start, to compare with the convex
/// solution of the same objective. The gradient is exact almost
/// everywhere (the ReLU's derivative is taken as 0 at 0).
#[derive(Debug, Clone)]
pub struct NonconvexObjective {
    x: Mat<f64>,
    y: Col<f64>,
    loss: Loss,
    beta: f64,
    width: usize,
}

impl NonconvexObjective {
    /// The objective on `x` (`n × d`) and targets `y` with `width ≥ 1`
    /// neurons; `β ≥ 0`; targets `±1` for the logistic and hinge losses.
    pub fn new(
        x: MatRef<'_, f64>,
        y: &Col<f64>,
        loss: Loss,
        beta: f64,
        width: usize,
    ) -> crate::Result<Self> {
        linalg_core::param::dimension("y", x.nrows(), y.nrows())?;
        linalg_core::param::nonnegative("beta", beta)?;
        linalg_core::param::in_range("width", width as f64, 1.0, 1e6)?;
        // θ holds d·m numbers and each gradient forms X·U (n·m): bound both.
        let cells = x.ncols().max(x.nrows()).saturating_mul(width);
        if cells > 100_000_000 {
            return Err(linalg_core::ParamError::new(
                "width",
                format!(
                    "{width} neurons on {} × {} data would hold {cells} numbers (at most 1e8)",
                    x.nrows(),
                    x.ncols()
                ),
            )
            .into());
        }
        for j in 0..x.ncols() {
            linalg_core::param::finite("x", x.col(j))?;
        }
        linalg_core::param::finite("y", y.as_ref())?;
        if loss.needs_signs() && (0..y.nrows()).any(|i| y[i].abs() != 1.0) {
            return Err(linalg_core::ParamError::new("y", "targets must be -1 or +1").into());
        }
        Ok(Self {
            x: x.to_owned(),
            y: y.clone(),
            loss,
            beta,
            width,
        })
    }

    /// A seeded start: `uⱼ ~ N(0, I/d)` and `αⱼ ~ N(0, 1/m)` (He-style scales).
    pub fn init(&self, seed: u64) -> Col<f64> {
        use rand::{SeedableRng, rngs::StdRng};
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = StdRng::seed_from_u64(seed);
        let (d, m) = (self.x.ncols(), self.width);
        let (su, sa) = (1.0 / (d as f64).sqrt(), 1.0 / (m as f64).sqrt());
        Col::from_fn(d * m + m, |i| {
            let g: f64 = StandardNormal.sample(&mut rng);
            g * if i < d * m { su } else { sa }
        })
    }

    /// The parameters `θ` of `net` (the inverse of [`network`](Self::network));
    /// `net` must have this objective's `d` inputs and width.
    pub fn theta(&self, net: &TwoLayerNet) -> crate::Result<Col<f64>> {
        let (d, m) = (self.x.ncols(), self.width);
        linalg_core::param::dimension("hidden (rows)", d, net.hidden.nrows())?;
        linalg_core::param::dimension("hidden (columns)", m, net.hidden.ncols())?;
        linalg_core::param::dimension("output", m, net.output.len())?;
        Ok(Col::from_fn(d * m + m, |i| {
            if i < d * m {
                net.hidden[(i % d, i / d)]
            } else {
                net.output[i - d * m]
            }
        }))
    }

    /// The network of the parameters `θ`.
    pub fn network(&self, theta: linalg_core::faer::ColRef<'_, f64>) -> TwoLayerNet {
        let (d, m) = (self.x.ncols(), self.width);
        TwoLayerNet {
            hidden: Mat::from_fn(d, m, |i, j| theta[j * d + i]),
            output: (0..m).map(|j| theta[d * m + j]).collect(),
        }
    }
}

impl linalg_core::Objective for NonconvexObjective {
    fn dim(&self) -> usize {
        self.x.ncols() * self.width + self.width
    }

    fn value(&self, theta: linalg_core::faer::ColRef<'_, f64>) -> f64 {
        if theta.nrows() != self.dim() {
            return f64::NAN;
        }
        self.network(theta)
            .loss_objective(self.loss, self.x.as_ref(), &self.y, self.beta)
    }

    fn gradient(
        &self,
        theta: linalg_core::faer::ColRef<'_, f64>,
        mut grad: linalg_core::faer::ColMut<'_, f64>,
    ) -> f64 {
        let (n, d, m) = (self.x.nrows(), self.x.ncols(), self.width);
        if theta.nrows() != self.dim() || grad.nrows() != self.dim() {
            grad.fill(f64::NAN);
            return f64::NAN;
        }
        let net = self.network(theta);
        let z = &self.x * &net.hidden;
        let f = Col::from_fn(n, |i| {
            (0..m).map(|j| net.output[j] * z[(i, j)].max(0.0)).sum()
        });
        let g = self.loss.gradient(&f, &self.y);
        // ∂/∂U = Xᵀ((g αᵀ) ∘ 1[z > 0]) + βU;  ∂/∂α = (Xu)₊ᵀ g + βα.
        let gz = Mat::from_fn(n, m, |i, j| {
            if z[(i, j)] > 0.0 {
                g[i] * net.output[j]
            } else {
                0.0
            }
        });
        let gu = self.x.transpose() * &gz;
        let mut reg = 0.0;
        for j in 0..m {
            for i in 0..d {
                let u = net.hidden[(i, j)];
                grad[j * d + i] = gu[(i, j)] + self.beta * u;
                reg += u * u;
            }
            let a = net.output[j];
            grad[d * m + j] =
                (0..n).map(|i| z[(i, j)].max(0.0) * g[i]).sum::<f64>() + self.beta * a;
            reg += a * a;
        }
        self.loss.value(&f, &self.y) + 0.5 * self.beta * reg
    }
}
