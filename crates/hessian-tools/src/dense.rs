//! The exact path for small models: assemble a symmetric operator as a dense
//! matrix (one product per column, columns in parallel), its full spectrum
//! by faer's `self_adjoint_eigenvalues`, the `H = G + R` split of an MLP's
//! Hessian, and the bulk/outlier analysis of a spectrum.

use linalg_core::ParamError;
use linalg_core::faer::dyn_stack::{MemBuffer, MemStack};
use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::{ColRef, Mat, Par, Side};

use crate::Result;
use crate::mlp::{CurvatureKind, MlpLoss};

/// Columns assembled per operator call (bounds the identity block).
const COLUMN_BLOCK: usize = 256;

/// The dense matrix of the square `op`, `(A + Aᵀ)/2`, and the asymmetry
/// `‖A − Aᵀ‖_F / ‖A‖_F` of what the products gave (0 for an exactly
/// symmetric operator; a finite-difference Hessian shows its error here).
/// Columns are computed in blocks of 256 with `par` (results do not
/// depend on it). Refuses matrices beyond [`crate::MAX_BLOCK`] entries.
pub fn assemble(op: &impl LinOp<f64>, par: Par) -> Result<(Mat<f64>, f64)> {
    let n = linalg_core::op::check_square(op, "assemble")?;
    crate::check_block("n", n, n)?;
    let mut a = Mat::zeros(n, n);
    let mut buf = MemBuffer::new(op.apply_scratch(COLUMN_BLOCK.min(n), par));
    let mut start = 0;
    while start < n {
        let w = COLUMN_BLOCK.min(n - start);
        let id = Mat::from_fn(n, w, |i, j| f64::from(u8::from(i == start + j)));
        op.apply(
            a.as_mut().subcols_mut(start, w),
            id.as_ref(),
            par,
            MemStack::new(&mut buf),
        );
        start += w;
    }
    for j in 0..n {
        linalg_core::param::finite("operator columns", a.col(j)).map_err(|_| {
            linalg_core::Error::NonFinite {
                context: "the assembled operator",
                index: j,
            }
        })?;
    }
    let norm = a.norm_l2();
    let asym = (&a - a.transpose()).norm_l2() / norm.max(f64::MIN_POSITIVE);
    let sym = Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]));
    Ok((sym, asym))
}

/// All eigenvalues of the symmetric `a`, in decreasing order.
pub fn eigenvalues(a: &Mat<f64>) -> Result<Vec<f64>> {
    if a.nrows() != a.ncols() {
        return Err(ParamError::new(
            "matrix",
            format!("{} × {} is not square", a.nrows(), a.ncols()),
        )
        .into());
    }
    let mut ev = a
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| linalg_core::Error::Numerical(format!("eigenvalues: {e:?}")))?;
    ev.reverse();
    Ok(ev)
}

/// The exact spectra of an MLP's Hessian `H`, its Gauss–Newton part `G`
/// and the rest `R = H − G`, each in decreasing order.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HessianSplit {
    /// Eigenvalues of `H`.
    pub hessian: Vec<f64>,
    /// Eigenvalues of `G` (non-negative up to rounding).
    pub gauss_newton: Vec<f64>,
    /// Eigenvalues of `R = H − G`.
    pub residual: Vec<f64>,
    /// `‖H − Hᵀ‖_F/‖H‖_F` of the assembled products (before symmetrising).
    pub asymmetry: f64,
    /// Hessian- and Gauss–Newton-vector products used.
    pub products: usize,
    /// Wall time.
    pub seconds: f64,
}

/// The dense `H`, `G` and `R` of `loss` at `theta` and their spectra
/// (`p` products each, then three symmetric eigenvalue problems). With
/// `split = false` only `H` is formed (the other two are empty).
pub fn hessian_split(loss: &MlpLoss, theta: ColRef<'_, f64>, split: bool) -> Result<HessianSplit> {
    let t0 = std::time::Instant::now();
    let par = linalg_core::faer::get_global_parallelism();
    let h = loss.curvature(theta, CurvatureKind::Hessian)?;
    let (hm, asymmetry) = assemble(&h, par)?;
    let hessian = eigenvalues(&hm)?;
    let p = hm.nrows();
    let (gauss_newton, residual, products) = if split {
        let g = loss.curvature(theta, CurvatureKind::GaussNewton)?;
        let (gm, _) = assemble(&g, par)?;
        let rm = &hm - &gm;
        (eigenvalues(&gm)?, eigenvalues(&rm)?, 2 * p)
    } else {
        (Vec::new(), Vec::new(), p)
    };
    Ok(HessianSplit {
        hessian,
        gauss_newton,
        residual,
        asymmetry,
        products,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The bulk/outlier split of a spectrum.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BulkOutliers {
    /// The number of outliers: the `i ≤ max_outliers` with the largest
    /// ratio `λᵢ/λᵢ₊₁` among the positive top eigenvalues.
    pub outliers: usize,
    /// That ratio (`∞` when `λᵢ₊₁ ≤ 0`).
    pub gap_ratio: f64,
    /// The largest eigenvalue below the gap (the bulk's upper edge).
    pub bulk_edge: f64,
    /// The fraction of eigenvalues with `|λ| ≤ bulk_tol·max|λ|`.
    pub bulk_fraction: f64,
    /// The tolerance of `bulk_fraction`.
    pub bulk_tol: f64,
}

/// The ratio `λᵢ/λᵢ₊₁` of the `i`-th and `(i+1)`-th largest of
/// `eigenvalues` (1-based `i`; `∞` when `λᵢ₊₁ ≤ 0 < λᵢ`).
pub fn gap_ratio(eigenvalues: &[f64], i: usize) -> Result<f64> {
    let ev = sorted_desc(eigenvalues)?;
    if i == 0 || i >= ev.len() {
        return Err(
            ParamError::new("i", format!("gap after eigenvalue {i} of {}", ev.len())).into(),
        );
    }
    Ok(ratio(ev[i - 1], ev[i]))
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else if a > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

fn sorted_desc(eigenvalues: &[f64]) -> Result<Vec<f64>> {
    linalg_core::param::finite_slice("eigenvalues", eigenvalues)?;
    let mut ev = eigenvalues.to_vec();
    ev.sort_by(|a, b| b.total_cmp(a));
    Ok(ev)
}

/// Splits `eigenvalues` (any order, finite, at least two) into outliers
/// above the largest relative gap among the top `max_outliers + 1` and a
/// bulk near zero (`|λ| ≤ bulk_tol·max|λ|`, `bulk_tol ∈ [0, 1]`).
pub fn bulk_outliers(
    eigenvalues: &[f64],
    max_outliers: usize,
    bulk_tol: f64,
) -> Result<BulkOutliers> {
    linalg_core::param::at_least("eigenvalues", eigenvalues.len(), 2)?;
    linalg_core::param::at_least("max_outliers", max_outliers, 1)?;
    linalg_core::param::in_unit_interval("bulk_tol", bulk_tol)?;
    let ev = sorted_desc(eigenvalues)?;
    let top = max_outliers.min(ev.len() - 1);
    let (mut best, mut best_ratio) = (1, f64::NEG_INFINITY);
    for i in 1..=top {
        if ev[i - 1] <= 0.0 {
            break;
        }
        let r = ratio(ev[i - 1], ev[i]);
        if r > best_ratio {
            best = i;
            best_ratio = r;
        }
    }
    if best_ratio == f64::NEG_INFINITY {
        best_ratio = 1.0;
    }
    let scale = ev.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let bulk = ev.iter().filter(|x| x.abs() <= bulk_tol * scale).count();
    Ok(BulkOutliers {
        outliers: best,
        gap_ratio: best_ratio,
        bulk_edge: ev[best],
        bulk_fraction: bulk as f64 / ev.len() as f64,
        bulk_tol,
    })
}
