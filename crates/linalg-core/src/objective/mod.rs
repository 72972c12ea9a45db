//! The [`Objective`] trait, finite-difference checkers, and the objectives
//! several crates need (each with exact gradients, Hessian-vector products
//! and a Hessian operator that caches its per-point state):
//! [`Rosenbrock`], [`Quadratic`], [`Logistic`] and [`Softmax`] regression.
//! Loaders that build them from the embedded datasets live in the
//! `datasets` crate (`datasets::objectives`), so algorithm crates need not
//! depend on it.

use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::LinOp;
use faer::reborrow::ReborrowMut;
use faer::{Col, ColMut, ColRef, Mat, MatMut, MatRef, Par};

mod logistic;
mod quadratic;
mod rosenbrock;
mod softmax;

pub use logistic::Logistic;
pub use quadratic::Quadratic;
pub use rosenbrock::Rosenbrock;
pub use softmax::Softmax;

use crate::op::{check_dim, check_finite};
use crate::{Error, Result};

/// A twice-differentiable function `f: ℝⁿ → ℝ`.
///
/// Objectives return plain numbers; drivers check finiteness and report a NaN
/// as an error (e.g. `Error::NonFinite`).
pub trait Objective: Sync {
    /// Dimension `n` of the domain.
    fn dim(&self) -> usize;

    /// `f(x)`.
    fn value(&self, x: ColRef<'_, f64>) -> f64;

    /// Writes `∇f(x)` into `grad` and returns `f(x)` (one pass for both).
    fn gradient(&self, x: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> f64;

    /// Writes the Hessian-vector product `∇²f(x)·v` into `out`.
    ///
    /// The default is a central difference of the gradient,
    /// `(∇f(x + h v) − ∇f(x − h v)) / 2h` with `h = ε^{1/3}·max(1, ‖x‖) / ‖v‖`
    /// (`ε` the f64 machine epsilon), which balances the `O(h²)` truncation error
    /// against the `O(ε/h)` rounding error; expect about 10 correct digits on
    /// well-scaled problems. It allocates two vectors per call: override it with
    /// an exact product where one is available.
    fn hessian_vec(&self, x: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let vnorm = v.norm_l2();
        if vnorm == 0.0 {
            out.fill(0.0);
            return;
        }
        let h = f64::EPSILON.cbrt() * x.norm_l2().max(1.0) / vnorm;
        let n = self.dim();
        let mut gp = Col::<f64>::zeros(n);
        let mut gm = Col::<f64>::zeros(n);
        self.gradient((x + v * h).as_ref(), gp.as_mut());
        self.gradient((x - v * h).as_ref(), gm.as_mut());
        out.copy_from((gp - gm) * (0.5 / h));
    }

    /// The dense Hessian `∇²f(x)`, where the objective can form it.
    fn hessian(&self, _x: ColRef<'_, f64>) -> Option<Mat<f64>> {
        None
    }

    /// The Hessian at `x` as a symmetric linear operator for Krylov methods
    /// (CG inside Newton steps, Lanczos for spectra). Objectives override it
    /// to compute what depends on `x` once (logistic weights, softmax
    /// probabilities, residuals) instead of in every product; the default
    /// applies [`Objective::hessian_vec`] column by column.
    fn hessian_op<'a>(&'a self, x: ColRef<'_, f64>) -> HessianOp<'a> {
        HessianOp::new(HessianVecOp {
            obj: self,
            x: x.to_owned(),
        })
    }
}

/// The Hessian of an objective at a fixed point, as a symmetric linear
/// operator ([`Objective::hessian_op`]); any `LinOp` can be wrapped.
#[derive(Debug)]
pub struct HessianOp<'a>(Box<dyn LinOp<f64> + 'a>);

impl<'a> HessianOp<'a> {
    /// Wraps `op` (which must be the symmetric Hessian operator).
    pub fn new(op: impl LinOp<f64> + 'a) -> Self {
        Self(Box::new(op))
    }
}

impl LinOp<f64> for HessianOp<'_> {
    fn apply_scratch(&self, rhs_ncols: usize, par: Par) -> StackReq {
        self.0.apply_scratch(rhs_ncols, par)
    }
    fn nrows(&self) -> usize {
        self.0.nrows()
    }
    fn ncols(&self) -> usize {
        self.0.ncols()
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        self.0.apply(out, rhs, par, s)
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        self.0.apply(out, rhs, par, s)
    }
}

/// The default [`Objective::hessian_op`]: `hessian_vec` at a fixed point.
struct HessianVecOp<'a, O: ?Sized> {
    obj: &'a O,
    x: Col<f64>,
}

impl<O: ?Sized> std::fmt::Debug for HessianVecOp<'_, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HessianVecOp(n = {})", self.x.nrows())
    }
}

impl<O: Objective + ?Sized> LinOp<f64> for HessianVecOp<'_, O> {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.x.nrows()
    }
    fn ncols(&self) -> usize {
        self.x.nrows()
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _: Par, _: &mut MemStack) {
        for j in 0..rhs.ncols() {
            self.obj
                .hessian_vec(self.x.as_ref(), rhs.col(j), out.rb_mut().col_mut(j));
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}

fn fd_step(x: f64) -> f64 {
    f64::EPSILON.cbrt() * x.abs().max(1.0)
}

fn check_point(obj: &impl Objective, x: ColRef<'_, f64>) -> Result<()> {
    check_dim("objective point", obj.dim(), x.nrows())?;
    check_finite("objective point", x)
}

/// The largest relative error between `obj.gradient` and a central difference
/// of `obj.value`, over the coordinates:
/// `max_i |g_i − ĝ_i| / max(1, |g_i|, |ĝ_i|)`.
///
/// A correct gradient gives about `1e-8` or less on well-scaled problems; a
/// wrong one gives `O(1)`. Costs `2n` function evaluations.
pub fn check_gradient(obj: &impl Objective, x: ColRef<'_, f64>) -> Result<f64> {
    check_point(obj, x)?;
    let n = obj.dim();
    let mut g = Col::<f64>::zeros(n);
    obj.gradient(x, g.as_mut());
    check_finite("gradient", g.as_ref())?;
    let mut xp = x.to_owned();
    let mut worst = 0.0f64;
    for i in 0..n {
        let h = fd_step(x[i]);
        xp[i] = x[i] + h;
        let fp = obj.value(xp.as_ref());
        xp[i] = x[i] - h;
        let fm = obj.value(xp.as_ref());
        xp[i] = x[i];
        let fd = (fp - fm) / (2.0 * h);
        if !fd.is_finite() {
            return Err(Error::NonFinite {
                context: "finite-difference gradient",
                index: i,
            });
        }
        let err = (g[i] - fd).abs() / 1f64.max(g[i].abs()).max(fd.abs());
        worst = worst.max(err);
    }
    Ok(worst)
}

/// The relative error between `obj.hessian_vec(x, v)` and a central difference
/// of `obj.gradient` along `v`: `‖Hv − Ĥv‖ / max(1, ‖Hv‖)`.
pub fn check_hessian_vec(
    obj: &impl Objective,
    x: ColRef<'_, f64>,
    v: ColRef<'_, f64>,
) -> Result<f64> {
    check_point(obj, x)?;
    check_dim("Hessian-vector direction", obj.dim(), v.nrows())?;
    check_finite("Hessian-vector direction", v)?;
    let n = obj.dim();
    let mut hv = Col::<f64>::zeros(n);
    obj.hessian_vec(x, v, hv.as_mut());
    check_finite("Hessian-vector product", hv.as_ref())?;
    let vnorm = v.norm_l2();
    if vnorm == 0.0 {
        return Ok(hv.norm_l2());
    }
    let h = f64::EPSILON.cbrt() * x.norm_l2().max(1.0) / vnorm;
    let mut gp = Col::<f64>::zeros(n);
    let mut gm = Col::<f64>::zeros(n);
    obj.gradient((x + v * h).as_ref(), gp.as_mut());
    obj.gradient((x - v * h).as_ref(), gm.as_mut());
    let fd = (gp - gm) * (0.5 / h);
    Ok((&hv - &fd).norm_l2() / hv.norm_l2().max(1.0))
}

/// `Aᵀ diag(w) A` for `A` (m × n): the Gram matrix of GLM Hessians.
pub fn weighted_gram(a: MatRef<'_, f64>, w: &[f64]) -> Mat<f64> {
    let wa = Mat::from_fn(a.nrows(), a.ncols(), |i, j| w[i] * a[(i, j)]);
    a.transpose() * wa
}

/// Checks a design matrix (non-empty, finite) against the number of labels.
fn check_data(x: MatRef<'_, f64>, labels: usize) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(crate::param::ParamError::new("features", "empty design matrix").into());
    }
    check_dim("labels", x.nrows(), labels)?;
    for j in 0..x.ncols() {
        if let Some(i) = x.col(j).iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                context: "design matrix (row-major entry)",
                index: i * x.ncols() + j,
            });
        }
    }
    Ok(())
}

/// The features with a column of ones appended (the intercept).
fn with_intercept(x: MatRef<'_, f64>) -> Mat<f64> {
    let (m, d) = (x.nrows(), x.ncols());
    Mat::from_fn(m, d + 1, |i, j| if j < d { x[(i, j)] } else { 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock with the analytic gradient but the default (finite-difference)
    /// Hessian-vector product.
    struct FdRosenbrock(Rosenbrock);
    impl Objective for FdRosenbrock {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn value(&self, x: ColRef<'_, f64>) -> f64 {
            self.0.value(x)
        }
        fn gradient(&self, x: ColRef<'_, f64>, g: ColMut<'_, f64>) -> f64 {
            self.0.gradient(x, g)
        }
    }

    /// A deliberately wrong gradient (factor 2 on one coordinate).
    struct BrokenGrad(Rosenbrock);
    impl Objective for BrokenGrad {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn value(&self, x: ColRef<'_, f64>) -> f64 {
            self.0.value(x)
        }
        fn gradient(&self, x: ColRef<'_, f64>, mut g: ColMut<'_, f64>) -> f64 {
            let f = self.0.gradient(x, g.as_mut());
            g[1] *= 2.0;
            f
        }
    }

    #[test]
    fn rosenbrock_gradient_and_hessian_pass_fd_checks() {
        let r = Rosenbrock::new(6).unwrap();
        let x = r.classic_start();
        let err = check_gradient(&r, x.as_ref()).unwrap();
        assert!(err < 1e-6, "gradient check {err}");
        let v = Col::from_fn(6, |i| (i as f64 + 1.0).sin());
        let err = check_hessian_vec(&r, x.as_ref(), v.as_ref()).unwrap();
        assert!(err < 1e-6, "Hessian-vector check {err}");
    }

    #[test]
    fn rosenbrock_closed_form_values() {
        let r = Rosenbrock::new(2).unwrap();
        let x = r.classic_start();
        // f(−1.2, 1) = 100·(1 − 1.44)² + 2.2² = 24.2
        assert!((r.value(x.as_ref()) - 24.2).abs() < 1e-12);
        let mut g = Col::zeros(2);
        r.gradient(x.as_ref(), g.as_mut());
        // ∇f(−1.2, 1) = (−215.6, −88)
        assert!((g[0] + 215.6).abs() < 1e-12 && (g[1] + 88.0).abs() < 1e-12);
        let ones = Col::<f64>::ones(2);
        assert_eq!(r.value(ones.as_ref()), 0.0);
        // Dense Hessian agrees with the Hessian-vector product.
        let h = r.hessian(x.as_ref()).unwrap();
        let v = Col::from_fn(2, |i| [0.3, -0.7][i]);
        let mut hv = Col::zeros(2);
        r.hessian_vec(x.as_ref(), v.as_ref(), hv.as_mut());
        assert!((&h * &v - hv).norm_l2() < 1e-12);
    }

    #[test]
    fn default_hessian_vec_is_accurate() {
        let r = Rosenbrock::new(5).unwrap();
        let fd = FdRosenbrock(r);
        let x = r.classic_start();
        let v = Col::from_fn(5, |i| 1.0 / (1.0 + i as f64));
        let mut exact = Col::zeros(5);
        let mut approx = Col::zeros(5);
        r.hessian_vec(x.as_ref(), v.as_ref(), exact.as_mut());
        fd.hessian_vec(x.as_ref(), v.as_ref(), approx.as_mut());
        let rel = (&exact - &approx).norm_l2() / exact.norm_l2();
        assert!(rel < 1e-8, "{rel}");
    }

    #[test]
    fn checker_catches_a_wrong_gradient() {
        let b = BrokenGrad(Rosenbrock::new(4).unwrap());
        let x = b.0.classic_start();
        assert!(check_gradient(&b, x.as_ref()).unwrap() > 0.1);
    }

    #[test]
    fn quadratic_gradient_is_exact() {
        let a = Mat::from_fn(3, 3, |i, j| if i == j { 4.0 } else { 1.0 });
        let b = Col::from_fn(3, |i| i as f64);
        let q = Quadratic::new(a, b).unwrap();
        let x = Col::from_fn(3, |i| 0.5 - i as f64);
        assert!(check_gradient(&q, x.as_ref()).unwrap() < 1e-8);
        assert!(matches!(
            Rosenbrock::new(1),
            Err(Error::Param(crate::param::ParamError { name: "n", .. }))
        ));
        let short = Col::<f64>::zeros(2);
        assert!(matches!(
            check_gradient(&q, short.as_ref()),
            Err(Error::DimensionMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
    }
}
