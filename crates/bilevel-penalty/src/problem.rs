//! The bilevel problem: upper level `f(x, y)`, lower level `g(x, y)`, their
//! partial gradients, and the constraint sets `X`, `Y` given by projections.
//!
//! ```text
//! min_{x ∈ X} ψ(x) = min_{y ∈ Y*(x)} f(x, y),    Y*(x) = argmin_{y ∈ Y} g(x, y)
//! ```

use linalg_core::faer::{Col, ColMut, ColRef};
use linalg_core::param::{ParamError, dimension, finite_slice};

use crate::Result;

/// A closed convex set, given by its Euclidean projection.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// The whole space.
    Free,
    /// The box `lo ≤ v ≤ hi` (componentwise; `±∞` allowed).
    Box {
        /// Lower bounds.
        lo: Vec<f64>,
        /// Upper bounds.
        hi: Vec<f64>,
    },
    /// The ball `‖v − center‖₂ ≤ radius`.
    Ball {
        /// Centre.
        center: Vec<f64>,
        /// Radius (> 0).
        radius: f64,
    },
    /// The probability simplex `{v ≥ 0, Σ v = 1}`.
    Simplex,
}

/// The whole space (the default set of both levels).
pub static FREE: Constraint = Constraint::Free;

impl Constraint {
    /// Checks the set against the dimension `n` of its variable: bounds of
    /// length `n`, `lo ≤ hi`, no NaN, a positive finite radius.
    pub fn validate(&self, name: &'static str, n: usize) -> Result<()> {
        match self {
            Constraint::Free | Constraint::Simplex => Ok(()),
            Constraint::Box { lo, hi } => {
                dimension(name, n, lo.len())?;
                dimension(name, n, hi.len())?;
                if let Some(i) = (0..n).find(|&i| lo[i].is_nan() || hi[i].is_nan() || lo[i] > hi[i])
                {
                    return Err(ParamError::new(
                        name,
                        format!(
                            "box bounds [{}, {}] at index {i} are empty or NaN",
                            lo[i], hi[i]
                        ),
                    )
                    .into());
                }
                Ok(())
            }
            Constraint::Ball { center, radius } => {
                dimension(name, n, center.len())?;
                finite_slice(name, center)?;
                linalg_core::param::positive(name, *radius)?;
                Ok(())
            }
        }
    }

    /// Projects `v` onto the set, in place.
    pub fn project(&self, mut v: ColMut<'_, f64>) {
        match self {
            Constraint::Free => {}
            Constraint::Box { lo, hi } => {
                for i in 0..v.nrows() {
                    v[i] = v[i].clamp(lo[i], hi[i]);
                }
            }
            Constraint::Ball { center, radius } => {
                let d: f64 = (0..v.nrows())
                    .map(|i| (v[i] - center[i]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                if d > *radius {
                    let s = radius / d;
                    for i in 0..v.nrows() {
                        v[i] = center[i] + s * (v[i] - center[i]);
                    }
                }
            }
            Constraint::Simplex => project_simplex(v),
        }
    }
}

/// Euclidean projection onto the probability simplex (sort-based, Held,
/// Wolfe and Crowder 1974; Duchi et al. 2008).
fn project_simplex(mut v: ColMut<'_, f64>) {
    let n = v.nrows();
    if n == 0 {
        return;
    }
    let mut u: Vec<f64> = v.as_ref().iter().copied().collect();
    u.sort_by(|a, b| b.total_cmp(a));
    let mut cum = 0.0;
    let mut theta = 0.0;
    for (k, uk) in u.iter().enumerate() {
        cum += uk;
        let t = (cum - 1.0) / (k + 1) as f64;
        if uk - t > 0.0 {
            theta = t;
        }
    }
    for i in 0..n {
        v[i] = (v[i] - theta).max(0.0);
    }
}

/// A bilevel problem. Oracles write into `out` and return nothing; the
/// solvers count every call and check every output for NaN.
pub trait BilevelProblem: Sync {
    /// `(n_x, n_y)`: dimensions of the upper and lower variables.
    fn dims(&self) -> (usize, usize);
    /// The upper-level objective `f(x, y)`.
    fn f(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64;
    /// The lower-level objective `g(x, y)`.
    fn g(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64;
    /// `∇ₓ f(x, y)`.
    fn f_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>);
    /// `∇_y f(x, y)`.
    fn f_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>);
    /// `∇ₓ g(x, y)`.
    fn g_grad_x(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>);
    /// `∇_y g(x, y)`.
    fn g_grad_y(&self, x: ColRef<'_, f64>, y: ColRef<'_, f64>, out: ColMut<'_, f64>);
    /// `∇²_yy g(x, y)·v` (for the implicit-differentiation baselines). The
    /// default is a central difference of [`Self::g_grad_y`] along `v`,
    /// `h = ε^{1/3}·max(1, ‖y‖)/‖v‖` (about 10 correct digits); override it
    /// where the product is known exactly.
    fn g_hvp_yy(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        out: ColMut<'_, f64>,
    ) {
        central_difference(y, v, out, |yy, o| self.g_grad_y(x, yy, o));
    }
    /// `∇²_xy g(x, y)·v = ∂ₓ⟨∇_y g(x, y), v⟩` (an `n_x` vector). The default
    /// is a central difference of [`Self::g_grad_x`] along `y + hv`.
    fn g_hvp_xy(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        out: ColMut<'_, f64>,
    ) {
        central_difference(y, v, out, |yy, o| self.g_grad_x(x, yy, o));
    }
    /// The upper-level set `X` (default: the whole space).
    fn x_set(&self) -> &Constraint {
        &FREE
    }
    /// The lower-level set `Y` (default: the whole space).
    fn y_set(&self) -> &Constraint {
        &FREE
    }
    /// The value function `ψ(x) = min_{y ∈ Y*(x)} f(x, y)` where the instance
    /// knows it in closed form (default `None`). Not an oracle: the solvers
    /// only record it (`BilevelRecord::psi`) and stop on a target value, and
    /// its calls are not counted.
    fn psi_exact(&self, x: ColRef<'_, f64>) -> Option<f64> {
        let _ = x;
        None
    }
}

/// A bilevel problem whose levels are averages over samples,
/// `f = (1/m) Σ_j f_j`, `g = (1/n) Σ_i g_i`, with minibatch gradients: the
/// oracles of the stochastic methods. Each batch oracle writes the **mean**
/// over `batch` (indices below [`n_samples`](Self::n_samples)) into `out`,
/// so it is an unbiased estimate of the full gradient; the full-batch
/// oracles of [`BilevelProblem`] stay available for evaluation.
pub trait StochasticBilevel: BilevelProblem {
    /// `(m, n)`: the numbers of upper- and lower-level samples.
    fn n_samples(&self) -> (usize, usize);
    /// `∇ₓ f` averaged over the upper-level samples `batch`.
    fn f_grad_x_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    );
    /// `∇_y f` averaged over the upper-level samples `batch`.
    fn f_grad_y_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    );
    /// `∇ₓ g` averaged over the lower-level samples `batch`.
    fn g_grad_x_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    );
    /// `∇_y g` averaged over the lower-level samples `batch`.
    fn g_grad_y_batch(
        &self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        batch: &[usize],
        out: ColMut<'_, f64>,
    );
}

/// `out = (G(y + hv) − G(y − hv)) / 2h` for a gradient map `G` written into
/// its second argument, `h = ε^{1/3}·max(1, ‖y‖)/‖v‖` (zero for `v = 0`):
/// the default second-order oracles.
fn central_difference(
    y: ColRef<'_, f64>,
    v: ColRef<'_, f64>,
    mut out: ColMut<'_, f64>,
    mut grad: impl FnMut(ColRef<'_, f64>, ColMut<'_, f64>),
) {
    let vn = v.norm_l2();
    if vn == 0.0 {
        out.fill(0.0);
        return;
    }
    let h = f64::EPSILON.cbrt() * y.norm_l2().max(1.0) / vn;
    let mut minus = Col::<f64>::zeros(out.nrows());
    grad((y + v * h).as_ref(), out.as_mut());
    grad((y - v * h).as_ref(), minus.as_mut());
    let scale = 0.5 / h;
    for i in 0..out.nrows() {
        out[i] = (out[i] - minus[i]) * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linalg_core::faer::Col;

    use crate::instances::ShenChen;

    #[test]
    fn default_second_order_oracles_match_the_closed_form() {
        // Shen–Chen: ∂²g/∂y² = 2 + 2x cos(2(x + y)), ∂²g/∂x∂y = 2 + sin(2(x + y)) + 2x cos(2(x + y)).
        let sc = ShenChen::default();
        let (x, y) = (0.7, -0.2);
        let (xc, yc, v) = (
            Col::from_fn(1, |_| x),
            Col::from_fn(1, |_| y),
            Col::from_fn(1, |_| 1.5),
        );
        let mut out = Col::zeros(1);
        sc.g_hvp_yy(xc.as_ref(), yc.as_ref(), v.as_ref(), out.as_mut());
        let s = 2.0 * (x + y);
        assert!(
            (out[0] - 1.5 * (2.0 + 2.0 * x * s.cos())).abs() < 1e-8,
            "{}",
            out[0]
        );
        sc.g_hvp_xy(xc.as_ref(), yc.as_ref(), v.as_ref(), out.as_mut());
        assert!(
            (out[0] - 1.5 * (2.0 + s.sin() + 2.0 * x * s.cos())).abs() < 1e-8,
            "{}",
            out[0]
        );
    }

    #[test]
    fn projections_land_in_their_sets_and_fix_their_points() {
        let mut v = Col::from_fn(3, |i| [0.5, 2.0, -1.0][i]);
        Constraint::Simplex.project(v.as_mut());
        // Sorted (2, 0.5, −1): the threshold is θ = (2 − 1)/1 = 1 (with 0.5
        // included it would be 0.75 > 0.5), so the projection is (0, 1, 0).
        assert_eq!((v[0], v[1], v[2]), (0.0, 1.0, 0.0));
        let mut w = Col::from_fn(3, |_| 1.0 / 3.0);
        Constraint::Simplex.project(w.as_mut());
        assert!((w[0] - 1.0 / 3.0).abs() < 1e-15);
        let ball = Constraint::Ball {
            center: vec![1.0, 0.0],
            radius: 1.0,
        };
        let mut p = Col::from_fn(2, |i| [4.0, 4.0][i]);
        ball.project(p.as_mut());
        assert!(((p[0] - 1.0).powi(2) + p[1].powi(2) - 1.0).abs() < 1e-14);
        assert!((p[0] - 1.6).abs() < 1e-14 && (p[1] - 0.8).abs() < 1e-14);
        let bx = Constraint::Box {
            lo: vec![0.0, f64::NEG_INFINITY],
            hi: vec![1.0, 0.0],
        };
        let mut q = Col::from_fn(2, |i| [2.0, 3.0][i]);
        bx.project(q.as_mut());
        assert_eq!((q[0], q[1]), (1.0, 0.0));
        assert!(bx.validate("y_set", 3).is_err());
        let empty = Constraint::Box {
            lo: vec![1.0],
            hi: vec![0.0],
        };
        assert_eq!(
            empty.validate("y_set", 1).unwrap_err().to_string(),
            "invalid parameter `y_set`: box bounds [1, 0] at index 0 are empty or NaN"
        );
    }
}
