//! Linear-operator adaptors implementing [`faer::matrix_free::LinOp`].
//!
//! faer already implements `LinOp` for `Mat`, `SparseRowMat` and friends; the
//! adaptors here add what solvers need on top: validation of user data once at
//! construction (square, finite), closures as operators, `αA + σI` without
//! forming the matrix, a symmetric-operator marker, and [`SliceOp`] for
//! kernels written over slices.
//!
//! The `LinOp` impls still written by hand in the workspace (CG's watched
//! operators, the Gram and softmax Hessians and `Multigrid`, which draw
//! scratch from faer's `MemStack`, and the public `PoissonSystem`) repeat the
//! trait's five method signatures: the trait requires them.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::matrix_free::{LinOp, Precond};
use faer::sparse::SparseRowMat;
use faer::{Col, ColMut, ColRef, Mat, MatMut, MatRef, Par};

use crate::{Error, Result};

/// Fails with [`Error::NotSquare`] unless `op` is square; returns its size.
pub fn check_square(op: &impl LinOp<f64>, context: &'static str) -> Result<usize> {
    if op.nrows() != op.ncols() {
        return Err(Error::NotSquare {
            context,
            nrows: op.nrows(),
            ncols: op.ncols(),
        });
    }
    Ok(op.nrows())
}

/// Fails with [`Error::DimensionMismatch`] unless `found == expected`.
pub fn check_dim(context: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected != found {
        return Err(Error::DimensionMismatch {
            context,
            expected,
            found,
        });
    }
    Ok(())
}

/// Fails with [`Error::NonFinite`] at the first NaN/∞ entry of `x`.
pub fn check_finite(context: &'static str, x: ColRef<'_, f64>) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { context, index }),
        None => Ok(()),
    }
}

/// Computes `out = op · x` for one column, allocating the operator's scratch.
///
/// Convenient outside hot loops; inside them call `op.apply` with a reused
/// [`MemBuffer`].
pub fn apply_col(op: &impl LinOp<f64>, out: ColMut<'_, f64>, x: ColRef<'_, f64>, par: Par) {
    let mut buf = MemBuffer::new(op.apply_scratch(1, par));
    op.apply(out.as_mat_mut(), x.as_mat(), par, MemStack::new(&mut buf));
}

/// Returns `op · x` as a new column (see [`apply_col`]).
pub fn apply(op: &impl LinOp<f64>, x: ColRef<'_, f64>) -> Col<f64> {
    let mut out = Col::zeros(op.nrows());
    apply_col(op, out.as_mut(), x, Par::Seq);
    out
}

/// Runs a slice kernel `f(out, x)` on each column of `rhs`/`out`, for
/// operators written over contiguous `&[f64]` (stencils, scatter/gather
/// preconditioners). Columns are used in place when contiguous (always the
/// case inside faer's CG); otherwise they go through a temporary copy.
pub fn for_each_col(
    mut out: MatMut<'_, f64>,
    rhs: MatRef<'_, f64>,
    mut f: impl FnMut(&mut [f64], &[f64]),
) {
    for j in 0..rhs.ncols() {
        let x_owned;
        let x = match rhs.col(j).try_as_col_major() {
            Some(c) => c.as_slice(),
            None => {
                x_owned = rhs.col(j).iter().copied().collect::<Vec<f64>>();
                &x_owned
            }
        };
        let mut col = out.rb_mut().col_mut(j);
        match col.rb_mut().try_as_col_major_mut() {
            Some(o) => f(o.as_slice_mut(), x),
            None => {
                let mut tmp = vec![0.0; x.len()];
                f(&mut tmp, x);
                for (dst, v) in col.iter_mut().zip(tmp) {
                    *dst = v;
                }
            }
        }
    }
}

/// A square operator given by a slice kernel `f(out, x)` (stencils,
/// gather/scatter preconditioners, sparse Hessians written over `&[f64]`):
/// [`for_each_col`] does the column handling, so an implementation is the
/// kernel alone. `out` is not zeroed beforehand.
pub struct SliceOp<F> {
    n: usize,
    f: F,
}

impl<F: Fn(&mut [f64], &[f64]) + Sync> SliceOp<F> {
    /// The `n×n` operator `x ↦ f(x)`.
    pub fn new(n: usize, f: F) -> Self {
        Self { n, f }
    }
}

impl<F> std::fmt::Debug for SliceOp<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SliceOp({0}×{0})", self.n)
    }
}

impl<F: Fn(&mut [f64], &[f64]) + Sync> LinOp<f64> for SliceOp<F> {
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.n
    }
    fn ncols(&self) -> usize {
        self.n
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _par: Par, _: &mut MemStack) {
        for_each_col(out, rhs, |o, x| (self.f)(o, x));
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        self.apply(out, rhs, par, s)
    }
}

impl<F: Fn(&mut [f64], &[f64]) + Sync> Precond<f64> for SliceOp<F> {}

/// Implements `LinOp<f64>` for a public square type by
/// a slice kernel, as [`SliceOp`] does for closures: `$dim` gives the size,
/// `$kernel(out, x, par)` writes the product.
///
/// ```
/// use linalg_core::{impl_slice_linop, faer::Par};
/// #[derive(Debug)]
/// struct Diag(Vec<f64>);
/// impl Diag {
///     fn apply(&self, out: &mut [f64], x: &[f64], _par: Par) {
///         for ((o, d), v) in out.iter_mut().zip(&self.0).zip(x) { *o = d * v; }
///     }
/// }
/// impl_slice_linop!(Diag, |s| s.0.len(), |s, out, x, par| s.apply(out, x, par));
/// let d = Diag(vec![1.0, 2.0]);
/// let y = linalg_core::op::apply(&d, linalg_core::faer::Col::ones(2).as_ref());
/// assert_eq!(y[1], 2.0);
/// ```
#[macro_export]
macro_rules! impl_slice_linop {
    ($ty:ty, |$s:ident| $dim:expr, |$k:ident, $out:ident, $x:ident, $par:ident| $kernel:expr) => {
        impl $crate::faer::matrix_free::LinOp<f64> for $ty {
            fn apply_scratch(
                &self,
                _: usize,
                _: $crate::faer::Par,
            ) -> $crate::faer::dyn_stack::StackReq {
                $crate::faer::dyn_stack::StackReq::EMPTY
            }
            fn nrows(&self) -> usize {
                let $s = self;
                $dim
            }
            fn ncols(&self) -> usize {
                let $s = self;
                $dim
            }
            fn apply(
                &self,
                out: $crate::faer::MatMut<'_, f64>,
                rhs: $crate::faer::MatRef<'_, f64>,
                $par: $crate::faer::Par,
                _: &mut $crate::faer::dyn_stack::MemStack,
            ) {
                let $k = self;
                $crate::op::for_each_col(out, rhs, |$out: &mut [f64], $x: &[f64]| $kernel);
            }
            fn conj_apply(
                &self,
                out: $crate::faer::MatMut<'_, f64>,
                rhs: $crate::faer::MatRef<'_, f64>,
                par: $crate::faer::Par,
                stack: &mut $crate::faer::dyn_stack::MemStack,
            ) {
                $crate::faer::matrix_free::LinOp::apply(self, out, rhs, par, stack)
            }
        }
    };
}

/// Materialises an operator as a dense matrix by applying it to the identity
/// (for tests and small problems).
pub fn to_dense(op: &impl LinOp<f64>) -> Mat<f64> {
    let n = op.ncols();
    let mut out = Mat::zeros(op.nrows(), n);
    let id = Mat::<f64>::identity(n, n);
    let mut buf = MemBuffer::new(op.apply_scratch(n, Par::Seq));
    op.apply(out.as_mut(), id.as_ref(), Par::Seq, MemStack::new(&mut buf));
    out
}

/// A linear operator given by a closure `f(out, x)` that writes `A·x` into `out`.
///
/// The closure sees one column at a time; `out` is not zeroed beforehand.
pub struct FnOp<F> {
    nrows: usize,
    ncols: usize,
    f: F,
}

impl<F> FnOp<F>
where
    F: Fn(ColMut<'_, f64>, ColRef<'_, f64>) + Sync,
{
    /// A square `n×n` operator.
    pub fn new(n: usize, f: F) -> Self {
        Self {
            nrows: n,
            ncols: n,
            f,
        }
    }

    /// A rectangular `nrows×ncols` operator.
    pub fn rectangular(nrows: usize, ncols: usize, f: F) -> Self {
        Self { nrows, ncols, f }
    }
}

impl<F> std::fmt::Debug for FnOp<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FnOp({}×{})", self.nrows, self.ncols)
    }
}

impl<F> LinOp<f64> for FnOp<F>
where
    F: Fn(ColMut<'_, f64>, ColRef<'_, f64>) + Sync,
{
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _par: Par, _: &mut MemStack) {
        for j in 0..rhs.ncols() {
            (self.f)(out.rb_mut().col_mut(j), rhs.col(j));
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        // Real operator: the conjugate is the operator itself.
        self.apply(out, rhs, par, s)
    }
}

use faer::reborrow::ReborrowMut;

/// A dense matrix as an operator, validated (finite entries) at construction.
#[derive(Debug, Clone)]
pub struct DenseOp {
    mat: Mat<f64>,
}

impl DenseOp {
    /// Wraps `mat`, rejecting NaN/∞ entries with [`Error::NonFinite`].
    pub fn new(mat: Mat<f64>) -> Result<Self> {
        for j in 0..mat.ncols() {
            if let Some(i) = mat.col(j).iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    context: "dense matrix",
                    index: j * mat.nrows() + i,
                });
            }
        }
        Ok(Self { mat })
    }

    /// The wrapped matrix.
    pub fn as_mat(&self) -> MatRef<'_, f64> {
        self.mat.as_ref()
    }

    /// Checks `|a_ij − a_ji| ≤ tol·max|a|` and returns the operator marked symmetric.
    pub fn into_symmetric(self, tol: f64) -> Result<Symmetric<Self>> {
        let n = check_square(&self, "a symmetric operator")?;
        let scale = (0..n)
            .flat_map(|j| self.mat.col(j).iter().map(|v| v.abs()).collect::<Vec<_>>())
            .fold(0.0, f64::max);
        for j in 0..n {
            for i in (j + 1)..n {
                let (a, b) = (self.mat[(i, j)], self.mat[(j, i)]);
                if (a - b).abs() > tol * scale {
                    return Err(Error::NotSymmetric {
                        row: i,
                        col: j,
                        a_ij: a,
                        a_ji: b,
                    });
                }
            }
        }
        Ok(Symmetric(self))
    }
}

/// A CSR sparse matrix as an operator, validated (finite values) at construction.
#[derive(Debug, Clone)]
pub struct SparseOp {
    mat: SparseRowMat<usize, f64>,
}

impl SparseOp {
    /// Wraps `mat`, rejecting NaN/∞ stored values with [`Error::NonFinite`].
    pub fn new(mat: SparseRowMat<usize, f64>) -> Result<Self> {
        if let Some(index) = mat.val().iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                context: "sparse matrix values",
                index,
            });
        }
        Ok(Self { mat })
    }

    /// The wrapped matrix.
    pub fn as_sparse(&self) -> &SparseRowMat<usize, f64> {
        &self.mat
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.mat.val().len()
    }

    /// Checks `|a_ij − a_ji| ≤ tol·max|a|` over the stored pattern and returns the
    /// operator marked symmetric, or [`Error::NotSymmetric`] naming an offending pair.
    pub fn into_symmetric(self, tol: f64) -> Result<Symmetric<Self>> {
        check_square(&self, "a symmetric operator")?;
        let scale = self.mat.val().iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let t = self.mat.as_ref().transpose().to_row_major().map_err(|e| {
            Error::Numerical(format!("could not transpose the sparse matrix: {e:?}"))
        })?;
        // Compare A and Aᵀ entry by entry over the union of both patterns.
        let (a, at) = (self.mat.as_ref(), t.as_ref());
        for i in 0..a.nrows() {
            let (ca, va) = (a.col_idx_of_row_raw(i), a.val_of_row(i));
            let (ct, vt) = (at.col_idx_of_row_raw(i), at.val_of_row(i));
            let mut acc: std::collections::BTreeMap<usize, (f64, f64)> = Default::default();
            for (&j, &v) in ca.iter().zip(va) {
                acc.entry(j).or_default().0 += v;
            }
            for (&j, &v) in ct.iter().zip(vt) {
                acc.entry(j).or_default().1 += v;
            }
            for (j, (x, y)) in acc {
                if (x - y).abs() > tol * scale {
                    return Err(Error::NotSymmetric {
                        row: i,
                        col: j,
                        a_ij: x,
                        a_ji: y,
                    });
                }
            }
        }
        Ok(Symmetric(self))
    }
}

/// `α·A + σ·I` applied without forming the matrix (Hessian shifts, spectral
/// transformations, damped systems).
#[derive(Debug, Clone)]
pub struct ShiftedOp<A> {
    inner: A,
    alpha: f64,
    sigma: f64,
}

impl<A: LinOp<f64>> ShiftedOp<A> {
    /// `alpha·inner + sigma·I`; `inner` must be square and `alpha`, `sigma` finite.
    pub fn new(inner: A, alpha: f64, sigma: f64) -> Result<Self> {
        check_square(&inner, "a shifted operator αA + σI")?;
        crate::param::finite_value("alpha", alpha)?;
        crate::param::finite_value("sigma", sigma)?;
        Ok(Self {
            inner,
            alpha,
            sigma,
        })
    }

    /// The wrapped operator.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<A: LinOp<f64>> LinOp<f64> for ShiftedOp<A> {
    fn apply_scratch(&self, rhs_ncols: usize, par: Par) -> StackReq {
        self.inner.apply_scratch(rhs_ncols, par)
    }
    fn nrows(&self) -> usize {
        self.inner.nrows()
    }
    fn ncols(&self) -> usize {
        self.inner.ncols()
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        self.inner.apply(out.rb_mut(), rhs, par, s);
        let (a, sg) = (self.alpha, self.sigma);
        faer::zip!(out, rhs).for_each(|faer::unzip!(o, r)| *o = a * *o + sg * *r);
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        self.apply(out, rhs, par, s)
    }
}

/// Implements `LinOp<f64>` for a wrapper by forwarding to the operator that
/// `$get` returns (a real operator: `conj_apply` is `apply`).
macro_rules! forward_linop {
    ([$($gen:tt)*] $ty:ty, |$s:ident| $get:expr) => {
        impl<$($gen)*> LinOp<f64> for $ty {
            fn apply_scratch(&self, rhs_ncols: usize, par: Par) -> StackReq {
                let $s = self;
                $get.apply_scratch(rhs_ncols, par)
            }
            fn nrows(&self) -> usize {
                let $s = self;
                $get.nrows()
            }
            fn ncols(&self) -> usize {
                let $s = self;
                $get.ncols()
            }
            fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, st: &mut MemStack) {
                let $s = self;
                $get.apply(out, rhs, par, st)
            }
            fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, st: &mut MemStack) {
                let $s = self;
                $get.apply(out, rhs, par, st)
            }
        }
    };
}

forward_linop!([] DenseOp, |s| s.mat.as_ref());
forward_linop!([] SparseOp, |s| s.mat.as_ref());
forward_linop!([A: LinOp<f64>] Symmetric<A>, |s| s.0);

// Any of these operators can serve as a preconditioner (an approximation of
// A⁻¹ given as an operator): faer's default in-place application suffices.
impl<F> Precond<f64> for FnOp<F> where F: Fn(ColMut<'_, f64>, ColRef<'_, f64>) + Sync {}
impl Precond<f64> for DenseOp {}
impl Precond<f64> for SparseOp {}
impl<A: LinOp<f64>> Precond<f64> for ShiftedOp<A> {}
impl<A: LinOp<f64>> Precond<f64> for Symmetric<A> {}

/// Marker wrapper: an operator known (checked or promised) to be symmetric.
///
/// Obtain one from [`DenseOp::into_symmetric`] / [`SparseOp::into_symmetric`]
/// (checked) or [`Symmetric::assume`] (the caller's promise, e.g. a Hessian).
#[derive(Debug, Clone)]
pub struct Symmetric<A>(A);

impl<A: LinOp<f64>> Symmetric<A> {
    /// Marks `op` symmetric without checking; it must still be square.
    pub fn assume(op: A) -> Result<Self> {
        check_square(&op, "a symmetric operator")?;
        Ok(Self(op))
    }

    /// The wrapped operator.
    pub fn inner(&self) -> &A {
        &self.0
    }

    /// Unwraps the operator.
    pub fn into_inner(self) -> A {
        self.0
    }
}

/// The power of two `s` with `s·v ∈ [1, 2)` (1 for zero or non-finite `v`).
///
/// Multiplying by it is exact (subnormals included, when scaling up), so a
/// system scaled by it is solved by exactly the same iterates, scaled; the
/// CG driver and `optlab linsolve` scale this way before iterating, so that
/// entries near 1e-320 or 1e300 neither underflow nor overflow.
pub fn pow2_scale(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    // s = 2^e with −1060 ≤ e ≤ 1023 (2^1074 would be needed for the
    // smallest subnormal, beyond f64): such a v then lands in [2^-51, 2),
    // safe too. At most ~2 100 exact halvings or doublings.
    let (mut e, mut w) = (0i32, v);
    while w >= 2.0 && e > -1060 {
        w *= 0.5;
        e -= 1;
    }
    while w < 1.0 && e < 1023 {
        w *= 2.0;
        e += 1;
    }
    2.0f64.powi(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::sparse::Triplet;

    #[test]
    fn shifted_matches_dense_formula() {
        let a = Mat::from_fn(3, 3, |i, j| (i * 3 + j) as f64 - 2.0);
        let op = ShiftedOp::new(DenseOp::new(a.clone()).unwrap(), 2.0, -0.5).unwrap();
        let expect = &a * 2.0 - Mat::<f64>::identity(3, 3) * 0.5;
        assert!((to_dense(&op) - expect).norm_l2() < 1e-14);
    }

    #[test]
    fn closure_matches_sparse_and_dense() {
        let trip = [
            Triplet::new(0usize, 0usize, 4.0),
            Triplet::new(0, 1, -1.0),
            Triplet::new(1, 0, -1.0),
            Triplet::new(1, 1, 4.0),
            Triplet::new(2, 2, 3.0),
        ];
        let sp = SparseRowMat::try_new_from_triplets(3, 3, &trip).unwrap();
        let dense = sp.to_dense();
        let f = FnOp::new(3, |mut out: ColMut<'_, f64>, x: ColRef<'_, f64>| {
            out[0] = 4.0 * x[0] - x[1];
            out[1] = -x[0] + 4.0 * x[1];
            out[2] = 3.0 * x[2];
        });
        let sop = SparseOp::new(sp).unwrap();
        assert!((to_dense(&f) - &dense).norm_l2() == 0.0);
        assert!((to_dense(&sop) - &dense).norm_l2() == 0.0);
        assert!(sop.into_symmetric(0.0).is_ok());
    }

    #[test]
    fn slice_kernels_see_contiguous_and_strided_columns_alike() {
        // y = 2x + 1 per entry, on a contiguous matrix and on a transposed
        // (row-major, so strided-column) view of the same values.
        let x = Mat::from_fn(4, 3, |i, j| (i * 3 + j) as f64);
        let kernel = |o: &mut [f64], v: &[f64]| {
            for (a, b) in o.iter_mut().zip(v) {
                *a = 2.0 * b + 1.0;
            }
        };
        let mut y = Mat::<f64>::zeros(4, 3);
        for_each_col(y.as_mut(), x.as_ref(), kernel);
        let xt = x.transpose().to_owned();
        let mut yt = Mat::<f64>::zeros(3, 4);
        for_each_col(yt.as_mut().transpose_mut(), xt.as_ref().transpose(), kernel);
        let expect = Mat::from_fn(4, 3, |i, j| 2.0 * x[(i, j)] + 1.0);
        assert_eq!((&y - &expect).norm_max(), 0.0);
        assert_eq!((yt.transpose() - &expect).norm_max(), 0.0);
    }

    #[test]
    fn rejects_bad_operators() {
        let rect = DenseOp::new(Mat::zeros(2, 3)).unwrap();
        assert!(matches!(
            ShiftedOp::new(rect, 1.0, 1.0),
            Err(Error::NotSquare {
                nrows: 2,
                ncols: 3,
                ..
            })
        ));
        let mut m = Mat::<f64>::zeros(2, 2);
        m[(1, 0)] = f64::NAN;
        assert!(matches!(
            DenseOp::new(m),
            Err(Error::NonFinite { index: 1, .. })
        ));
        let mut m = Mat::<f64>::identity(2, 2);
        m[(1, 0)] = 1.0;
        assert!(matches!(
            DenseOp::new(m).unwrap().into_symmetric(1e-12),
            Err(Error::NotSymmetric { row: 1, col: 0, .. })
        ));
        let sq = DenseOp::new(Mat::identity(2, 2)).unwrap();
        assert!(matches!(
            ShiftedOp::new(sq, f64::INFINITY, 0.0),
            Err(Error::Param(crate::param::ParamError { name: "alpha", .. }))
        ));
    }

    #[test]
    fn pow2_scale_lands_in_one_two_and_stays_finite() {
        for v in [
            1.0,
            1.5,
            2.0,
            3.0,
            1e-300,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            1e-310,
            5e-324,
            0.75,
        ] {
            let s = pow2_scale(v);
            assert!(s.is_finite() && s > 0.0, "{v:e}: {s:e}");
            assert_eq!(s.log2().fract(), 0.0, "{v:e}: not a power of two");
            let w = v * s;
            if v >= 1e-300 {
                assert!((1.0..2.0).contains(&w), "{v:e} → {w:e}");
            } else {
                assert!((2.0f64.powi(-51)..2.0).contains(&w), "{v:e} → {w:e}");
            }
        }
        assert_eq!(pow2_scale(0.0), 1.0);
        assert_eq!(pow2_scale(f64::NAN), 1.0);
    }
}
