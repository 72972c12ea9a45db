//! The generalised Rosenbrock function.

use faer::{Col, ColMut, ColRef, Mat};

use super::Objective;
use crate::Result;

/// The generalised Rosenbrock function
/// `f(x) = Σ_{i<n−1} 100 (x_{i+1} − x_i²)² + (1 − x_i)²`, minimum `0` at `(1, …, 1)`.
#[derive(Debug, Clone, Copy)]
pub struct Rosenbrock {
    n: usize,
}

impl Rosenbrock {
    /// The `n`-dimensional Rosenbrock function (`n ≥ 2`).
    pub fn new(n: usize) -> Result<Self> {
        crate::param::at_least("n", n, 2)?;
        // Every evaluation holds a few n-vectors.
        crate::budget::check(
            format!("Rosenbrock in {n} dimensions"),
            crate::budget::Bytes::of::<f64>(n).times(4),
        )?;
        Ok(Self { n })
    }

    /// The classic starting point `(−1.2, 1, −1.2, 1, …)`.
    pub fn classic_start(&self) -> Col<f64> {
        Col::from_fn(self.n, |i| if i % 2 == 0 { -1.2 } else { 1.0 })
    }
}

impl Objective for Rosenbrock {
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        (0..self.n - 1)
            .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
            .sum()
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..self.n - 1 {
            let t = x[i + 1] - x[i] * x[i];
            f += 100.0 * t * t + (1.0 - x[i]).powi(2);
            g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i]);
            g[i + 1] += 200.0 * t;
        }
        f
    }
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.fill(0.0);
        for i in 0..self.n - 1 {
            let (hii, hij, hjj) = (
                1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0,
                -400.0 * x[i],
                200.0,
            );
            out[i] += hii * v[i] + hij * v[i + 1];
            out[i + 1] += hij * v[i] + hjj * v[i + 1];
        }
    }
    fn hessian(&self, x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        let mut h = Mat::zeros(self.n, self.n);
        for i in 0..self.n - 1 {
            h[(i, i)] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
            h[(i, i + 1)] += -400.0 * x[i];
            h[(i + 1, i)] += -400.0 * x[i];
            h[(i + 1, i + 1)] += 200.0;
        }
        Some(h)
    }
}
