//! Ground-cost builders.

use linalg_core::faer::{Mat, MatRef};

use linalg_core::ParamError;

use crate::{Error, Result};

fn check_points(name: &'static str, p: MatRef<'_, f64>) -> Result<()> {
    if p.nrows() == 0 || p.ncols() == 0 {
        return Err(Error::Empty(name));
    }
    for j in 0..p.ncols() {
        if let Some(i) = p.col(j).iter().position(|v| !v.is_finite()) {
            return Err(Error::Param(ParamError::new(
                name,
                format!("non-finite coordinate at point {i}, dimension {j}"),
            )));
        }
    }
    Ok(())
}

/// Squared Euclidean cost `C_ij = ‖x_i − y_j‖²` between point clouds (rows are points).
pub fn sqeuclidean(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<Mat<f64>> {
    check_points("x", x)?;
    check_points("y", y)?;
    if x.ncols() != y.ncols() {
        return Err(Error::Shape {
            expected: (y.nrows(), x.ncols()),
            found: (y.nrows(), y.ncols()),
        });
    }
    linalg_core::budget::check(
        format!("a {} × {} cost matrix", x.nrows(), y.nrows()),
        linalg_core::budget::Bytes::matrix::<f64>(x.nrows(), y.nrows()),
    )?;
    Ok(Mat::from_fn(x.nrows(), y.nrows(), |i, j| {
        (0..x.ncols())
            .map(|d| (x[(i, d)] - y[(j, d)]).powi(2))
            .sum()
    }))
}

/// Euclidean cost `C_ij = ‖x_i − y_j‖` (W1 ground cost).
pub fn euclidean(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let mut c = sqeuclidean(x, y)?;
    for j in 0..c.ncols() {
        for v in c.col_mut(j).iter_mut() {
            *v = v.sqrt();
        }
    }
    Ok(c)
}

/// Ground cost between the pixels of an `h × w` grid (row-major pixels),
/// `C = ‖p_i − p_j‖_q^q` with `q = 1` (ℓ1, W1) or `q = 2` (squared ℓ2, W2),
/// coordinates scaled to `[0, 1]` by the larger side.
pub fn grid(h: usize, w: usize, q: u32) -> Result<Mat<f64>> {
    if h == 0 || w == 0 {
        return Err(Error::Empty("grid"));
    }
    let pixels = h.saturating_mul(w);
    linalg_core::budget::check(
        format!("the ground cost of a {h} × {w} grid ({pixels}² entries)"),
        linalg_core::budget::Bytes::matrix::<f64>(pixels, pixels),
    )?;
    if q != 1 && q != 2 {
        return Err(Error::Param(ParamError::new(
            "q",
            format!("grid costs are ℓ1 (q = 1) or squared ℓ2 (q = 2), got {q}"),
        )));
    }
    let s = (h.max(w) - 1).max(1) as f64;
    let n = h * w;
    Ok(Mat::from_fn(n, n, |a, b| {
        let (dy, dx) = (
            ((a / w) as f64 - (b / w) as f64) / s,
            ((a % w) as f64 - (b % w) as f64) / s,
        );
        if q == 1 {
            dx.abs() + dy.abs()
        } else {
            dx * dx + dy * dy
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_match_closed_forms() {
        let x = Mat::from_fn(2, 2, |i, j| [[0.0, 0.0], [1.0, 2.0]][i][j]);
        let y = Mat::from_fn(1, 2, |_, j| [3.0, 4.0][j]);
        let c = sqeuclidean(x.as_ref(), y.as_ref()).unwrap();
        assert_eq!((c[(0, 0)], c[(1, 0)]), (25.0, 8.0));
        assert_eq!(euclidean(x.as_ref(), y.as_ref()).unwrap()[(0, 0)], 5.0);
        let g = grid(2, 3, 1).unwrap();
        // Pixel 0 = (0, 0), pixel 5 = (1, 2): ℓ1 distance 3, scaled by 2.
        assert_eq!(g[(0, 5)], 1.5);
        assert_eq!(grid(2, 3, 2).unwrap()[(0, 5)], 1.25);
        assert!(matches!(grid(2, 2, 3), Err(Error::Param(_))));
        let z = Mat::<f64>::zeros(1, 3);
        assert!(matches!(
            sqeuclidean(x.as_ref(), z.as_ref()),
            Err(Error::Shape { .. })
        ));
    }
}
