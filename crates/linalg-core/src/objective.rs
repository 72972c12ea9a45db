//! The [`Objective`] trait, finite-difference checkers, and classic test functions.

use faer::{Col, ColMut, ColRef, Mat};

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

/// The generalised Rosenbrock function
/// `f(x) = Σ_{i<n−1} 100 (x_{i+1} − x_i²)² + (1 − x_i)²`, minimum `0` at `(1, …, 1)`.
#[derive(Debug, Clone, Copy)]
pub struct Rosenbrock {
    n: usize,
}

impl Rosenbrock {
    /// The `n`-dimensional Rosenbrock function (`n ≥ 2`).
    pub fn new(n: usize) -> Result<Self> {
        if n < 2 {
            return Err(Error::InvalidParameter {
                name: "n",
                reason: format!("Rosenbrock needs n ≥ 2, got {n}"),
            });
        }
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
            Err(Error::InvalidParameter { .. })
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
