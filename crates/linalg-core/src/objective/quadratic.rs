//! A dense quadratic.

use faer::{Col, ColMut, ColRef, Mat};

use super::Objective;
use crate::op::check_dim;
use crate::{Error, Result};

/// The quadratic `f(x) = ½ xᵀAx − bᵀx` with a dense symmetric `A`.
#[derive(Debug, Clone)]
pub struct Quadratic {
    a: Mat<f64>,
    b: Col<f64>,
}

impl Quadratic {
    /// Builds the quadratic; `A` must be square with `b` of matching length.
    pub fn new(a: Mat<f64>, b: Col<f64>) -> Result<Self> {
        if a.nrows() != a.ncols() {
            return Err(Error::NotSquare {
                context: "Quadratic",
                nrows: a.nrows(),
                ncols: a.ncols(),
            });
        }
        check_dim("Quadratic linear term", a.nrows(), b.nrows())?;
        Ok(Self { a, b })
    }
}

impl Objective for Quadratic {
    fn dim(&self) -> usize {
        self.b.nrows()
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        0.5 * (x.transpose() * &self.a * x) - self.b.transpose() * x
    }
    fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        g.copy_from(&self.a * x - &self.b);
        self.value(x)
    }
    fn hessian_vec(&self, _x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        out.copy_from(&self.a * v);
    }
    fn hessian(&self, _x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        Some(self.a.clone())
    }
}
