//! The Lanczos process and Ritz pairs.
//!
//! Written here rather than taken from faer: faer's Krylov–Schur eigensolver
//! returns eigenpairs but not the Lanczos tridiagonal itself, which stochastic
//! Lanczos quadrature (spectral densities), DCDM training data and Hessian
//! analyses need. The dense eigenproblem of the tridiagonal is solved by faer.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::matmul;
use faer::matrix_free::LinOp;
use faer::{Accum, Col, ColRef, Mat, Par, Side};

use crate::op::{check_dim, check_finite, check_square};
use crate::solver::{Control, Recorder, Termination, Work};
use crate::{Error, Result};

/// Reorthogonalisation strategy of the Lanczos process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reorthogonalization {
    /// Classical Gram–Schmidt against every previous vector, applied twice
    /// ("twice is enough"); keeps the basis orthonormal to machine precision at
    /// `O(n·k)` extra cost per step.
    #[default]
    Full,
    /// The plain three-term recurrence: cheapest, but the basis loses
    /// orthogonality as Ritz values converge (ghost eigenvalues appear).
    None,
}

/// Options of the Lanczos process (builder-style; see [`lanczos`] for the short form).
#[derive(Debug, Clone, Copy)]
pub struct LanczosParams {
    /// Number of Lanczos steps `k` (the size of the tridiagonal).
    pub steps: usize,
    /// Reorthogonalisation strategy.
    pub reorth: Reorthogonalization,
    /// Keep the basis `V` (always kept with full reorthogonalisation).
    pub keep_basis: bool,
    /// Breakdown threshold: stop when `β_j ≤ breakdown_tol · ‖T_j‖` (an invariant subspace).
    pub breakdown_tol: f64,
    /// Parallelism for the operator and the reorthogonalisation products.
    pub par: Par,
}

impl LanczosParams {
    /// `steps` steps, full reorthogonalisation, basis kept, breakdown at `1e-12·‖T‖`.
    pub fn new(steps: usize) -> Self {
        Self {
            steps,
            reorth: Reorthogonalization::Full,
            keep_basis: true,
            breakdown_tol: 1e-12,
            par: Par::Seq,
        }
    }
    /// Sets the number of steps.
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }
    /// Sets the reorthogonalisation strategy.
    pub fn reorth(mut self, r: Reorthogonalization) -> Self {
        self.reorth = r;
        self
    }
    /// Keeps (or drops) the basis when no reorthogonalisation is done.
    pub fn keep_basis(mut self, keep: bool) -> Self {
        self.keep_basis = keep;
        self
    }
    /// Sets the relative breakdown threshold.
    pub fn breakdown_tol(mut self, tol: f64) -> Self {
        self.breakdown_tol = tol;
        self
    }
    /// Sets the parallelism.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }
    /// Rejects `steps == 0` and a negative or non-finite breakdown threshold.
    pub fn validate(&self) -> Result<()> {
        crate::param::at_least("steps", self.steps, 1)?;
        crate::param::nonnegative("breakdown_tol", self.breakdown_tol)?;
        Ok(())
    }
}

/// One Lanczos step, as seen by observers and stored in the history.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanczosRecord {
    /// Steps completed (1 = the first `α` is known).
    pub iteration: usize,
    /// `α_j`, the new diagonal entry of `T`.
    pub alpha: f64,
    /// `β_j = ‖w‖`, the norm of the step's residual (the next off-diagonal entry).
    pub beta: f64,
    /// Seconds since the start.
    pub seconds: f64,
}

crate::impl_iteration_record!(LanczosRecord);

// The fields every report shares (iterations, converged, termination,
// history, elapsed, work) repeat by design: docs/architecture.md §2.
impl Default for LanczosParams {
    /// 100 steps, full reorthogonalisation, basis kept.
    fn default() -> Self {
        Self::new(100)
    }
}

/// The result of `k` Lanczos steps: `A V_k = V_k T_k + β_k v_{k+1} e_kᵀ`.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
pub struct LanczosResult {
    /// Diagonal of `T_k` (length `k`).
    pub alpha: Vec<f64>,
    /// Off-diagonal of `T_k` (length `k − 1`).
    pub beta: Vec<f64>,
    /// `β_k = ‖A v_k − α_k v_k − β_{k−1} v_{k−1}‖`, the norm of the residual of the
    /// last step (zero up to rounding when the Krylov space is invariant).
    pub residual_norm: f64,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// The orthonormal basis `V_k` (`n × k`), when kept.
    pub basis: Option<Mat<f64>>,
    /// Steps taken (`k`; fewer than requested after a breakdown or a stop).
    pub iterations: usize,
    /// `true` unless an observer cancelled the run: all requested steps were
    /// taken ([`Termination::Converged`]) or an invariant subspace was found
    /// ([`Termination::Breakdown`], whose Ritz values are exact).
    pub converged: bool,
    /// Why the process stopped: `Converged` (all steps), `Breakdown`
    /// (invariant subspace, `β_j ≤ breakdown_tol·‖T_j‖`) or `Cancelled`.
    pub termination: Termination,
    /// One record per step.
    pub history: Vec<LanczosRecord>,
    #[cfg_attr(
        feature = "serde",
        serde(rename = "seconds", serialize_with = "crate::solver::as_seconds")
    )]
    /// Wall time.
    pub elapsed: std::time::Duration,
    /// Operator applications (one per step).
    pub work: Work,
}

impl LanczosResult {
    /// Number of steps actually taken (`k`, less than requested after a breakdown).
    pub fn steps(&self) -> usize {
        self.alpha.len()
    }

    /// The tridiagonal `T_k` as a dense matrix.
    pub fn tridiagonal(&self) -> Mat<f64> {
        let k = self.alpha.len();
        Mat::from_fn(k, k, |i, j| {
            if i == j {
                self.alpha[i]
            } else if i + 1 == j {
                self.beta[i]
            } else if j + 1 == i {
                self.beta[j]
            } else {
                0.0
            }
        })
    }
}

/// Runs `steps` Lanczos steps on the symmetric operator `op` from `start`.
///
/// With [`Reorthogonalization::Full`] the basis is returned; with `None` it is not
/// (use [`lanczos_with`] and [`LanczosParams::keep_basis`] to keep it).
///
/// Errors: non-square operator, `start` of the wrong length, non-finite or zero
/// `start` ([`Error::ZeroStartVector`]), `steps == 0`, a non-finite operator output.
pub fn lanczos(
    op: &impl LinOp<f64>,
    start: ColRef<'_, f64>,
    steps: usize,
    reorth: Reorthogonalization,
) -> Result<LanczosResult> {
    let params = LanczosParams::new(steps)
        .reorth(reorth)
        .keep_basis(reorth == Reorthogonalization::Full);
    lanczos_with(op, start, &params, |_| Control::Continue)
}

/// [`lanczos`] with every option and an observer that sees each step.
pub fn lanczos_with(
    op: &impl LinOp<f64>,
    start: ColRef<'_, f64>,
    params: &LanczosParams,
    observer: impl FnMut(&LanczosRecord) -> Control,
) -> Result<LanczosResult> {
    params.validate()?;
    let n = check_square(op, "Lanczos")?;
    check_dim("Lanczos start vector", n, start.nrows())?;
    check_finite("Lanczos start vector", start)?;
    let norm = start.norm_l2();
    if norm == 0.0 {
        return Err(Error::ZeroStartVector);
    }
    let k_max = params.steps.min(n);
    let full = params.reorth == Reorthogonalization::Full;
    let keep = full || params.keep_basis;
    let par = params.par;

    // V holds the basis in its first j+1 columns; without a kept basis only two
    // vectors are needed.
    let mut v = Mat::<f64>::zeros(n, if keep { k_max } else { 2 });
    v.col_mut(0).copy_from(start * (1.0 / norm));
    let mut w = Col::<f64>::zeros(n);
    let mut h = Col::<f64>::zeros(k_max);
    let mut alpha = Vec::with_capacity(k_max);
    let mut beta: Vec<f64> = Vec::with_capacity(k_max);
    let mut buf = MemBuffer::new(op.apply_scratch(1, par));
    let mut tnorm = 0.0f64;
    let mut residual_norm = 0.0;
    let mut rec = Recorder::new(k_max, observer);
    let mut termination = Termination::Converged;

    for j in 0..k_max {
        let (cur, prev) = if keep {
            (j, j.checked_sub(1))
        } else {
            (j % 2, j.checked_sub(1).map(|p| p % 2))
        };
        op.apply(
            w.as_mat_mut(),
            v.col(cur).as_mat(),
            par,
            MemStack::new(&mut buf),
        );
        check_finite("Lanczos operator output", w.as_ref()).map_err(|_| Error::NonFinite {
            context: "Lanczos operator output (step)",
            index: j,
        })?;
        let a = v.col(cur).transpose() * &w;
        w -= v.col(cur) * a;
        if let Some(p) = prev {
            w -= v.col(p) * beta[j - 1];
        }
        if full {
            // Two passes of classical Gram–Schmidt against V[:, 0..=j].
            let basis = v.get(.., ..j + 1);
            for _ in 0..2 {
                let mut hj = h.get_mut(..j + 1);
                matmul(
                    hj.rb_mut().as_mat_mut(),
                    Accum::Replace,
                    basis.transpose(),
                    w.as_mat(),
                    1.0,
                    par,
                );
                matmul(w.as_mat_mut(), Accum::Add, basis, hj.as_mat(), -1.0, par);
            }
        }
        alpha.push(a);
        let b = w.norm_l2();
        tnorm = tnorm.max(a.abs() + b + beta.last().copied().unwrap_or(0.0));
        residual_norm = b;
        let record = LanczosRecord {
            iteration: j + 1,
            alpha: a,
            beta: b,
            seconds: rec.seconds(),
        };
        let broke = j + 1 < k_max && b <= params.breakdown_tol * tnorm;
        match rec.record(record, broke) {
            Some(Termination::Cancelled) => {
                termination = Termination::Cancelled;
                break;
            }
            Some(Termination::Converged) => {
                termination = Termination::Breakdown;
                break;
            }
            // All requested steps done.
            Some(_) => break,
            None => {}
        }
        beta.push(b);
        let next = if keep { j + 1 } else { (j + 1) % 2 };
        v.col_mut(next).copy_from(&w * (1.0 / b));
    }
    let k = alpha.len();
    let basis = keep.then(|| v.get(.., ..k).to_owned());
    let (history, elapsed) = rec.finish();
    Ok(LanczosResult {
        alpha,
        beta,
        residual_norm,
        basis,
        iterations: k,
        converged: termination != Termination::Cancelled,
        termination,
        history,
        elapsed,
        work: Work {
            matvecs: k,
            ..Work::default()
        },
    })
}

use faer::reborrow::ReborrowMut;

/// Ritz values and vectors of a Lanczos run.
#[derive(Debug, Clone)]
pub struct RitzPairs {
    /// Ritz values, ascending.
    pub values: Vec<f64>,
    /// Eigenvectors `Y` of the tridiagonal (`k × k`, column `i` for `values[i]`).
    /// Their first components squared are the Gauss quadrature weights of
    /// stochastic Lanczos quadrature.
    pub tridiagonal_vectors: Mat<f64>,
    /// Ritz vectors `V Y` (`n × k`) when the basis was kept.
    pub vectors: Option<Mat<f64>>,
    /// Residual bounds `‖A u_i − θ_i u_i‖ = β_k |y_{k,i}|` (exact in exact arithmetic).
    pub residual_bounds: Vec<f64>,
}

/// Ritz pairs from a Lanczos result, via faer's dense self-adjoint eigensolver
/// on the tridiagonal.
pub fn ritz_pairs(result: &LanczosResult) -> Result<RitzPairs> {
    let t = result.tridiagonal();
    let k = t.nrows();
    let evd = t
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::Numerical(format!("tridiagonal eigensolver failed: {e:?}")))?;
    let s = evd.S().column_vector();
    let u = evd.U();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| s[a].total_cmp(&s[b]));
    let values: Vec<f64> = order.iter().map(|&i| s[i]).collect();
    let y = Mat::from_fn(k, k, |r, c| u[(r, order[c])]);
    let residual_bounds = (0..k)
        .map(|i| result.residual_norm * y[(k - 1, i)].abs())
        .collect();
    let vectors = result.basis.as_ref().map(|v| v * &y);
    Ok(RitzPairs {
        values,
        tridiagonal_vectors: y,
        vectors,
        residual_bounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{DenseOp, FnOp};
    use faer::{ColMut, ColRef};

    fn diag_op(d: Vec<f64>) -> impl LinOp<f64> {
        FnOp::new(
            d.len(),
            move |mut out: ColMut<'_, f64>, x: ColRef<'_, f64>| {
                for i in 0..x.nrows() {
                    out[i] = d[i] * x[i];
                }
            },
        )
    }

    fn start(n: usize) -> Col<f64> {
        // Deterministic, all components non-zero.
        Col::from_fn(n, |i| 1.0 + ((i * 7919) % 13) as f64 / 13.0)
    }

    #[test]
    fn recovers_extreme_eigenvalues_of_a_diagonal_matrix() {
        // Spectrum: 1..=200 scaled, plus two well-separated outliers.
        let n = 202;
        let mut d: Vec<f64> = (0..200).map(|i| 1.0 + i as f64 * 0.05).collect();
        d.push(50.0);
        d.push(-20.0);
        let (lo, hi) = (-20.0, 50.0);
        let res = lanczos(
            &diag_op(d),
            start(n).as_ref(),
            80,
            Reorthogonalization::Full,
        )
        .unwrap();
        let ritz = ritz_pairs(&res).unwrap();
        assert!((ritz.values[0] - lo).abs() < 1e-10, "{}", ritz.values[0]);
        assert!((ritz.values[79] - hi).abs() < 1e-10, "{}", ritz.values[79]);
        let v = res.basis.as_ref().unwrap();
        let gram = v.transpose() * v;
        let err = (gram - Mat::<f64>::identity(80, 80)).norm_max();
        assert!(err < 1e-12, "orthogonality error {err}");
        // The extreme Ritz vectors are eigenvectors: ‖A u − θ u‖ is tiny, and
        // matches the cheap bound β_k |y_k|.
        let u = ritz.vectors.as_ref().unwrap();
        let d = Col::from_fn(n, |i| {
            if i < 200 {
                1.0 + i as f64 * 0.05
            } else if i == 200 {
                50.0
            } else {
                -20.0
            }
        });
        for i in [0, 79] {
            let ui = u.col(i);
            let r = Col::from_fn(n, |k| d[k] * ui[k] - ritz.values[i] * ui[k]);
            assert!(r.norm_l2() < 1e-8, "Ritz residual {}", r.norm_l2());
            assert!((r.norm_l2() - ritz.residual_bounds[i]).abs() < 1e-8);
        }
    }

    #[test]
    fn full_spectrum_and_breakdown_on_small_matrix() {
        // Five distinct eigenvalues, repeated: the Krylov space is 5-dimensional.
        let d = vec![1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let res = lanczos(
            &diag_op(d),
            start(10).as_ref(),
            10,
            Reorthogonalization::Full,
        )
        .unwrap();
        assert_eq!(res.termination, Termination::Breakdown);
        assert_eq!(res.steps(), 5);
        let ritz = ritz_pairs(&res).unwrap();
        for (i, v) in ritz.values.iter().enumerate() {
            assert!((v - (i + 1) as f64).abs() < 1e-12);
        }
    }

    #[test]
    fn ritz_values_match_dense_eigenvalues_of_tridiagonal_projection() {
        // Without reorthogonalisation on a short run, the three-term recurrence
        // still gives the same T as the full version (to rounding).
        let a = Mat::from_fn(30, 30, |i, j| {
            1.0 / (1.0 + i as f64 + j as f64) + if i == j { 1.0 } else { 0.0 }
        });
        let op = DenseOp::new(a.clone()).unwrap();
        let full = lanczos(&op, start(30).as_ref(), 6, Reorthogonalization::Full).unwrap();
        let none = lanczos(&op, start(30).as_ref(), 6, Reorthogonalization::None).unwrap();
        assert!(none.basis.is_none());
        for (x, y) in full.alpha.iter().zip(&none.alpha) {
            assert!((x - y).abs() < 1e-10);
        }
        // Vᵀ A V = T with the kept basis.
        let v = full.basis.as_ref().unwrap();
        let proj = v.transpose() * &a * v;
        assert!((proj - full.tridiagonal()).norm_max() < 1e-12);
    }

    #[test]
    fn rejects_bad_input() {
        let op = diag_op(vec![1.0, 2.0, 3.0]);
        let zero = Col::<f64>::zeros(3);
        assert!(matches!(
            lanczos(&op, zero.as_ref(), 2, Reorthogonalization::Full),
            Err(Error::ZeroStartVector)
        ));
        let short = Col::<f64>::ones(2);
        assert!(matches!(
            lanczos(&op, short.as_ref(), 2, Reorthogonalization::Full),
            Err(Error::DimensionMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
        let ones = Col::<f64>::ones(3);
        assert!(matches!(
            lanczos(&op, ones.as_ref(), 0, Reorthogonalization::Full),
            Err(Error::Param(crate::param::ParamError { name: "steps", .. }))
        ));
        let rect = DenseOp::new(Mat::zeros(3, 2)).unwrap();
        assert!(matches!(
            lanczos(&rect, ones.as_ref(), 2, Reorthogonalization::Full),
            Err(Error::NotSquare { .. })
        ));
        let mut nan = Col::<f64>::ones(3);
        nan[1] = f64::NAN;
        assert!(matches!(
            lanczos(&op, nan.as_ref(), 2, Reorthogonalization::Full),
            Err(Error::NonFinite { index: 1, .. })
        ));
    }
}
