//! What a solve returns: the per-iteration record and the report.

use std::time::Duration;

use linalg_core::faer::sparse::{SparseColMat, Triplet};
use linalg_core::faer::{Col, Mat};
use linalg_core::param::{ParamError, nonnegative};
use linalg_core::{Termination, Work};

use crate::Result;

/// Which stage produced an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A Sinkhorn sweep (x then y block maximisation).
    Sinkhorn,
    /// A (sparse) Newton step with line search.
    Newton,
}

#[cfg(feature = "serde")]
impl serde::Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Stage {
    /// Lower-case name used in JSON reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Sinkhorn => "sinkhorn",
            Stage::Newton => "newton",
        }
    }
}

/// One iteration of a run.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OtRecord {
    /// Iterations completed (both stages together).
    pub iteration: usize,
    /// The stage of this iteration.
    pub stage: Stage,
    /// `‖r − P1‖₁ + ‖c − Pᵀ1‖₁` after it (NaN where not computed).
    pub marginal_error: f64,
    /// Time since the start of the run.
    pub seconds: f64,
}

linalg_core::impl_iteration_record!(OtRecord);

// The fields every report shares (iterations, converged, termination,
// history, elapsed, work) repeat by design: docs/architecture.md §2.
/// The outcome of a solve, with bins of zero mass restored.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
pub struct OtReport {
    #[cfg_attr(feature = "serde", serde(skip))]
    /// Row potential `x` (0 on dropped bins).
    pub x: Col<f64>,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// Column potential `y` (0 on dropped bins).
    pub y: Col<f64>,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// The transport plan `P_ij = exp((x_i + y_j − C_ij)/ε − 1)` (zero rows/columns on dropped bins).
    pub plan: Mat<f64>,
    /// Transport cost `⟨C, P⟩`.
    pub cost: f64,
    /// Entropic objective `⟨C, P⟩ + ε Σ P log P`.
    pub objective: f64,
    /// Final `‖r − P1‖₁ + ‖c − Pᵀ1‖₁`.
    pub marginal_error: f64,
    /// Total iterations (both stages).
    pub iterations: usize,
    /// Sinkhorn sweeps (including fallbacks during the Newton stage).
    pub sinkhorn_iterations: usize,
    /// Newton steps.
    pub newton_iterations: usize,
    /// Whether the marginal error reached the tolerance.
    pub converged: bool,
    /// Why the run stopped.
    pub termination: Termination,
    /// Per-iteration records.
    pub history: Vec<OtRecord>,
    #[cfg_attr(
        feature = "serde",
        serde(rename = "seconds", serialize_with = "linalg_core::solver::as_seconds")
    )]
    /// Wall time.
    pub elapsed: Duration,
    /// Passes over the `n × m` kernel or cost (`matvecs`: sweeps count two,
    /// error checks one or two), plans formed (`gradient_evals`: one per
    /// Newton step and per line-search trial), sparse Hessians built
    /// (`hessian_evals`), products with them inside CG (`hessian_vec_evals`),
    /// line-search trials (`trials`).
    pub work: Work,
}

impl OtReport {
    /// The plan's entries `> threshold` as a sparse matrix (compressed
    /// columns); `threshold = 0` keeps every entry that did not underflow.
    pub fn sparse_plan(&self, threshold: f64) -> Result<SparseColMat<usize, f64>> {
        nonnegative("threshold", threshold)?;
        let (n, m) = (self.plan.nrows(), self.plan.ncols());
        let mut triplets = Vec::new();
        for j in 0..m {
            for (i, &v) in self.plan.col(j).iter().enumerate() {
                if v > threshold {
                    triplets.push(Triplet::new(i, j, v));
                }
            }
        }
        SparseColMat::try_new_from_triplets(n, m, &triplets)
            .map_err(|e| ParamError::new("threshold", format!("sparse plan: {e:?}")).into())
    }
}
