//! The diffGrad paper's one-dimensional test functions.

use linalg_core::Objective;
use linalg_core::faer::{ColMut, ColRef};

use crate::Curvature;

/// The diffGrad paper's one-dimensional test functions (eqs. 24–26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperFunction {
    /// `F1`: `(x + 0.3)²` for `x ≤ 0`, `(x − 0.2)² + 0.05` otherwise; global
    /// minimum at −0.3, local at 0.2.
    F1,
    /// `F2`: `−40x − 35.15` for `x ≤ −0.9`, `x³ + x sin 8x + 0.85` otherwise.
    F2,
    /// `F3`: piecewise, global minimum at 0, local minima at ±0.5.
    F3,
}

impl Objective for PaperFunction {
    fn dim(&self) -> usize {
        1
    }
    fn value(&self, x: ColRef<'_, f64>) -> f64 {
        let x = x[0];
        match self {
            Self::F1 => {
                if x <= 0.0 {
                    (x + 0.3).powi(2)
                } else {
                    (x - 0.2).powi(2) + 0.05
                }
            }
            Self::F2 => {
                if x <= -0.9 {
                    -40.0 * x - 35.15
                } else {
                    x.powi(3) + x * (8.0 * x).sin() + 0.85
                }
            }
            Self::F3 => match x {
                x if x <= -0.5 => x * x,
                x if x <= -0.4 => 0.75 + x,
                x if x <= 0.0 => -7.0 * x / 8.0,
                x if x <= 0.4 => 7.0 * x / 8.0,
                x if x <= 0.5 => 0.75 - x,
                x => x * x,
            },
        }
    }
    fn gradient(&self, xc: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
        let x = xc[0];
        g[0] = match self {
            Self::F1 => {
                if x <= 0.0 {
                    2.0 * (x + 0.3)
                } else {
                    2.0 * (x - 0.2)
                }
            }
            Self::F2 => {
                if x <= -0.9 {
                    -40.0
                } else {
                    3.0 * x * x + (8.0 * x).sin() + 8.0 * x * (8.0 * x).cos()
                }
            }
            Self::F3 => match x {
                x if x <= -0.5 => 2.0 * x,
                x if x <= -0.4 => 1.0,
                x if x <= 0.0 => -7.0 / 8.0,
                x if x <= 0.4 => 7.0 / 8.0,
                x if x <= 0.5 => -1.0,
                x => 2.0 * x,
            },
        };
        self.value(xc)
    }
}

impl Curvature for PaperFunction {}
