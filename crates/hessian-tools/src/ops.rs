//! Curvature operators from elsewhere and views of them:
//!
//! - [`FdHessian`]: the Hessian-vector product of any gradient closure by
//!   central differences (burn models, whose autodiff is first order only;
//!   any code with a gradient), step `h = ε^{1/3}·max(1, ‖θ‖)/‖v‖`
//!   (`ε` = f64 machine epsilon), which balances the `O(h²)` truncation
//!   against the `O(ε/h)` rounding of the gradient: about 10 correct digits
//!   on well-scaled problems. It is only symmetric to that accuracy
//!   ([`crate::assemble`] reports the asymmetry); ReLU kinks crossed
//!   within `±h` make it jump.
//! - [`Restricted`]: the principal block `A[r, r]` of an operator on a
//!   range of coordinates (one layer's parameters, [`crate::Mlp::block`]),
//!   so any estimator gives per-layer spectra and traces. Each product pads
//!   with zeros and applies the full operator.
//! - Any `linalg_core::Objective` gives its Hessian with
//!   `Objective::hessian_op(x)`; a dense or Matrix Market matrix is
//!   `linalg_core::op::{DenseOp, SparseOp}` (with `into_symmetric(tol)`).

use std::ops::Range;

use linalg_core::ParamError;
use linalg_core::faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use linalg_core::faer::matrix_free::LinOp;
use linalg_core::faer::reborrow::ReborrowMut;
use linalg_core::faer::{Col, ColMut, ColRef, Mat, MatMut, MatRef, Par};

use crate::Result;

/// The central-difference Hessian of a gradient closure at a point (module
/// notes). `grad(θ, out)` writes `∇f(θ)` into `out`.
pub struct FdHessian<G> {
    grad: G,
    theta: Col<f64>,
}

impl<G> std::fmt::Debug for FdHessian<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FdHessian(n = {})", self.theta.nrows())
    }
}

impl<G: Fn(ColRef<'_, f64>, ColMut<'_, f64>) + Sync> FdHessian<G> {
    /// The Hessian of the function whose gradient is `grad`, at `theta`
    /// (finite, at least one entry).
    pub fn new(grad: G, theta: ColRef<'_, f64>) -> Result<Self> {
        linalg_core::param::at_least("theta", theta.nrows(), 1)?;
        linalg_core::param::finite("theta", theta)?;
        Ok(Self {
            grad,
            theta: theta.to_owned(),
        })
    }

    /// The step used along `v` (0 for `v = 0`).
    pub fn step(&self, v: ColRef<'_, f64>) -> f64 {
        let nv = v.norm_l2();
        if nv == 0.0 {
            0.0
        } else {
            f64::EPSILON.cbrt() * self.theta.norm_l2().max(1.0) / nv
        }
    }

    fn apply_one(&self, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let h = self.step(v);
        if h == 0.0 || !h.is_finite() {
            out.fill(if h == 0.0 { 0.0 } else { f64::NAN });
            return;
        }
        let n = self.theta.nrows();
        let (mut gp, mut gm) = (Col::<f64>::zeros(n), Col::<f64>::zeros(n));
        (self.grad)((&self.theta + v * h).as_ref(), gp.as_mut());
        (self.grad)((&self.theta - v * h).as_ref(), gm.as_mut());
        out.copy_from((gp - gm) * (0.5 / h));
    }
}

impl<G: Fn(ColRef<'_, f64>, ColMut<'_, f64>) + Sync> LinOp<f64> for FdHessian<G> {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.theta.nrows()
    }
    fn ncols(&self) -> usize {
        self.theta.nrows()
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _: Par, _: &mut MemStack) {
        for j in 0..rhs.ncols() {
            self.apply_one(rhs.col(j), out.rb_mut().col_mut(j));
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}

/// The principal block `A[range, range]` of a square operator (module
/// notes).
#[derive(Debug)]
pub struct Restricted<A> {
    op: A,
    range: Range<usize>,
}

impl<A: LinOp<f64>> Restricted<A> {
    /// The block of `op` on `range` (non-empty, within the operator).
    pub fn new(op: A, range: Range<usize>) -> Result<Self> {
        let n = linalg_core::op::check_square(&op, "a restricted operator")?;
        if range.start >= range.end || range.end > n {
            return Err(
                ParamError::new("range", format!("{range:?} of an operator of size {n}")).into(),
            );
        }
        Ok(Self { op, range })
    }
    /// The coordinates of the block.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }
}

impl<A: LinOp<f64>> LinOp<f64> for Restricted<A> {
    fn apply_scratch(&self, k: usize, par: Par) -> StackReq {
        self.op.apply_scratch(k, par)
    }
    fn nrows(&self) -> usize {
        self.range.len()
    }
    fn ncols(&self) -> usize {
        self.range.len()
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, _: &mut MemStack) {
        let n = self.op.ncols();
        let k = rhs.ncols();
        let r = &self.range;
        let padded = Mat::from_fn(n, k, |i, j| {
            if r.contains(&i) {
                rhs[(i - r.start, j)]
            } else {
                0.0
            }
        });
        let mut full = Mat::zeros(n, k);
        let mut buf = MemBuffer::new(self.op.apply_scratch(k, par));
        self.op
            .apply(full.as_mut(), padded.as_ref(), par, MemStack::new(&mut buf));
        out.copy_from(full.get(r.clone(), ..));
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}
