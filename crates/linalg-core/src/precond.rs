//! Preconditioners used in more than one place, built on faer-precond.
//!
//! faer-precond already has point Jacobi and zero-fill incomplete Cholesky
//! (IC(0)); what is added here is what every caller wrote around them: a
//! Jacobi from a diagonal with a rule for zero entries (masked grid cells,
//! empty marginal rows), the diagonal of a CSR matrix, and IC(0) straight
//! from the CSR matrices the rest of the workspace uses, with a typed error.

use faer::sparse::{SparseColMat, SparseRowMatRef};
pub use faer_precond::{Ic0, JacobiPrecond};

use crate::{Error, Result};

/// What a Jacobi preconditioner does where the diagonal is not positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroDiagonal {
    /// Leave that entry unchanged (`z_i = r_i`): the identity there.
    Identity,
    /// Zero that entry (`z_i = 0`): cells outside the system (masked grids).
    Zero,
}

/// Point Jacobi `z_i = r_i / d_i` for `d_i > 0` (and finite), the
/// [`ZeroDiagonal`] rule elsewhere.
pub fn jacobi(diag: impl IntoIterator<Item = f64>, on_zero: ZeroDiagonal) -> JacobiPrecond<f64> {
    let inv = diag
        .into_iter()
        .map(|d| {
            if d > 0.0 && d.is_finite() {
                1.0 / d
            } else {
                match on_zero {
                    ZeroDiagonal::Identity => 1.0,
                    ZeroDiagonal::Zero => 0.0,
                }
            }
        })
        .collect();
    JacobiPrecond::from_inverse_diagonal(inv)
}

/// The diagonal of a square CSR matrix (duplicate entries summed, missing ones 0).
pub fn diagonal(a: SparseRowMatRef<'_, usize, f64>) -> Vec<f64> {
    (0..a.nrows())
        .map(|i| {
            a.col_idx_of_row_raw(i)
                .iter()
                .zip(a.val_of_row(i))
                .filter(|(j, _)| **j == i)
                .map(|(_, v)| *v)
                .sum()
        })
        .collect()
}

/// IC(0) of a symmetric positive definite CSR matrix (the lower triangle is
/// read). [`Error::Numerical`] when the factorisation breaks down (a
/// non-positive pivot: the matrix is not positive definite, or not an
/// H-matrix) or the matrix lacks a diagonal entry.
pub fn ic0(a: SparseRowMatRef<'_, usize, f64>) -> Result<Ic0<usize, f64>> {
    let csc: SparseColMat<usize, f64> = a
        .to_col_major()
        .map_err(|e| Error::Numerical(format!("converting to compressed columns: {e:?}")))?;
    ic0_csc(&csc)
}

/// [`ic0`] of a matrix already in compressed columns.
pub fn ic0_csc(a: &SparseColMat<usize, f64>) -> Result<Ic0<usize, f64>> {
    Ic0::try_new(a.as_ref())
        .map_err(|e| Error::Numerical(format!("incomplete Cholesky IC(0) failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::to_dense;
    use faer::Mat;
    use faer::sparse::{SparseRowMat, Triplet};

    fn tridiag(n: usize) -> SparseRowMat<usize, f64> {
        let mut t = Vec::new();
        for i in 0..n {
            t.push(Triplet::new(i, i, 4.0 + i as f64));
            if i + 1 < n {
                t.push(Triplet::new(i, i + 1, -1.0));
                t.push(Triplet::new(i + 1, i, -1.0));
            }
        }
        SparseRowMat::try_new_from_triplets(n, n, &t).unwrap()
    }

    #[test]
    fn jacobi_divides_by_the_diagonal_with_the_zero_rule() {
        let j = jacobi([2.0, 0.0, 4.0], ZeroDiagonal::Identity);
        let m = to_dense(&j);
        assert_eq!((m[(0, 0)], m[(1, 1)], m[(2, 2)]), (0.5, 1.0, 0.25));
        let j = jacobi([2.0, -1.0, f64::NAN], ZeroDiagonal::Zero);
        let m = to_dense(&j);
        assert_eq!((m[(1, 1)], m[(2, 2)]), (0.0, 0.0));
        assert_eq!(diagonal(tridiag(4).as_ref()), vec![4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn ic0_of_a_tridiagonal_matrix_is_its_exact_cholesky_inverse() {
        // A tridiagonal matrix has no fill: IC(0) is the exact Cholesky
        // factor, so applying it is A⁻¹ (checked against a dense inverse).
        let a = tridiag(6);
        let ic = ic0(a.as_ref()).unwrap();
        let minv = to_dense(&ic);
        let dense = a.as_ref().to_dense();
        let prod = &dense * &minv;
        assert!((prod - Mat::<f64>::identity(6, 6)).norm_max() < 1e-12);
        let bad = vec![Triplet::new(0, 0, -1.0), Triplet::new(1, 1, 1.0)];
        let bad = SparseRowMat::try_new_from_triplets(2, 2, &bad).unwrap();
        assert!(matches!(ic0(bad.as_ref()), Err(Error::Numerical(_))));
    }
}
