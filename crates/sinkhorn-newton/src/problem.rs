//! The entropic OT problem, validated once.
//!
//! Convention: the regularisation is POT's `reg = ε` (the paper's `η = 1/ε`):
//!
//! ```text
//! min_{P ≥ 0, P1 = r, Pᵀ1 = c}  ⟨C, P⟩ + ε Σ_ij P_ij log P_ij
//! ```
//!
//! with dual potentials `(x, y)` and `P_ij = exp((x_i + y_j − C_ij)/ε − 1)`
//! (the paper's primal–dual map).

use linalg_core::faer::{Col, ColRef, MatRef};

use crate::{Error, Result};

/// Relative tolerance on `|Σr − Σc|` (the masses must agree).
pub const MASS_TOLERANCE: f64 = 1e-9;

/// A validated entropic OT problem on the bins of positive mass.
///
/// Bins of zero mass are dropped (their rows/columns of the plan are zero);
/// [`OtProblem::rows`] and [`OtProblem::cols`] map back to the input indices.
#[derive(Debug, Clone)]
pub struct OtProblem {
    pub(crate) r: Vec<f64>,
    pub(crate) c: Vec<f64>,
    /// Cost, row-major `n × m` (kept bins only).
    pub(crate) cost: Vec<f64>,
    /// Cost transposed, row-major `m × n`.
    pub(crate) cost_t: Vec<f64>,
    pub(crate) reg: f64,
    rows: Vec<usize>,
    cols: Vec<usize>,
    full_shape: (usize, usize),
}

fn check_marginal(name: &'static str, v: ColRef<'_, f64>) -> Result<f64> {
    if v.nrows() == 0 {
        return Err(Error::Empty(name));
    }
    for (i, &x) in v.iter().enumerate() {
        if !x.is_finite() || x < 0.0 {
            return Err(Error::BadMarginal {
                name,
                index: i,
                value: x,
            });
        }
    }
    let total: f64 = v.iter().sum();
    if total <= 0.0 {
        return Err(Error::Empty(name));
    }
    Ok(total)
}

impl OtProblem {
    /// Validates marginals `r` (length n), `c` (length m), cost `C` (n × m)
    /// and regularisation `reg = ε > 0`.
    ///
    /// Errors: empty inputs, negative or non-finite marginal entries, totals
    /// that differ by more than [`MASS_TOLERANCE`] (relative), a non-finite
    /// cost entry, mismatched shapes, `reg ≤ 0` or non-finite.
    pub fn new(
        r: ColRef<'_, f64>,
        c: ColRef<'_, f64>,
        cost: MatRef<'_, f64>,
        reg: f64,
    ) -> Result<Self> {
        let (n, m) = (r.nrows(), c.nrows());
        if cost.nrows() != n || cost.ncols() != m {
            return Err(Error::Shape {
                expected: (n, m),
                found: (cost.nrows(), cost.ncols()),
            });
        }
        let (tr, tc) = (check_marginal("r", r)?, check_marginal("c", c)?);
        if (tr - tc).abs() > MASS_TOLERANCE * tr.max(tc) {
            return Err(Error::MassMismatch { r: tr, c: tc });
        }
        linalg_core::param::positive("reg", reg)?;
        for j in 0..m {
            if let Some(i) = cost.col(j).iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFiniteCost { row: i, col: j });
            }
        }
        let rows: Vec<usize> = (0..n).filter(|&i| r[i] > 0.0).collect();
        let cols: Vec<usize> = (0..m).filter(|&j| c[j] > 0.0).collect();
        let cost_rm: Vec<f64> = rows
            .iter()
            .flat_map(|&i| cols.iter().map(move |&j| cost[(i, j)]))
            .collect();
        let cost_t: Vec<f64> = cols
            .iter()
            .flat_map(|&j| rows.iter().map(move |&i| cost[(i, j)]))
            .collect();
        Ok(Self {
            r: rows.iter().map(|&i| r[i]).collect(),
            c: cols.iter().map(|&j| c[j]).collect(),
            cost: cost_rm,
            cost_t,
            reg,
            rows,
            cols,
            full_shape: (n, m),
        })
    }

    /// Rows kept (input indices of the bins with positive mass in `r`).
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// Columns kept (input indices of the bins with positive mass in `c`).
    pub fn cols(&self) -> &[usize] {
        &self.cols
    }

    /// The regularisation `ε` (POT's `reg`).
    pub fn reg(&self) -> f64 {
        self.reg
    }

    /// The paper's `η = 1/ε`.
    pub fn eta(&self) -> f64 {
        1.0 / self.reg
    }

    /// Shape of the input problem (before dropping empty bins).
    pub fn shape(&self) -> (usize, usize) {
        self.full_shape
    }

    /// Kept sizes `(n, m)`.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.r.len(), self.c.len())
    }

    /// Uniform marginals `1/n`.
    pub fn uniform(n: usize) -> Col<f64> {
        Col::from_fn(n, |_| 1.0 / n as f64)
    }
}
