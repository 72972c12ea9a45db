//! The classic solvers DCDM is measured against, behind one entry point.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use faer::matrix_free::{IdentityPrecond, Precond};
use faer::sparse::{SparseColMat, SparseRowMat, Triplet};
use faer::{Col, ColRef, Par};
use linalg_core::cg::{Cg, CgParams, CgRecord};
use linalg_core::op::SliceOp;
use linalg_core::param::{at_least, in_unit_interval};
use linalg_core::precond::{Ic0, ZeroDiagonal, ic0_csc, jacobi};
use linalg_core::{Control, Termination, Work, faer};

use crate::multigrid::{Multigrid, MultigridParams};
use crate::poisson::PoissonSystem;
use crate::{Error, Result};

/// A solver for the Poisson systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Conjugate gradient, unpreconditioned.
    Cg,
    /// CG with the Jacobi (diagonal) preconditioner.
    JacobiPcg,
    /// CG with zero-fill incomplete Cholesky (faer-precond's `Ic0`).
    Ic0Pcg,
    /// CG with a geometric multigrid V-cycle preconditioner (MGPCG).
    MgPcg,
    /// CG with modified incomplete Cholesky on the stencil (MIC(0), τ = 0.97).
    Mic0Pcg,
}

impl Method {
    /// Every method, in the order of [`Method::NAMES`].
    pub const ALL: [Method; 5] = [
        Method::Cg,
        Method::JacobiPcg,
        Method::Ic0Pcg,
        Method::MgPcg,
        Method::Mic0Pcg,
    ];
    /// Command-line names.
    pub const NAMES: [&'static str; 5] = ["cg", "jacobi-pcg", "ic0-pcg", "mg-pcg", "mic0-pcg"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|m| *m == self).unwrap_or(0)]
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Result<Method> {
        Ok(Self::ALL[linalg_core::param::one_of("method", name, &Self::NAMES)?])
    }
}

/// Parameters of [`solve`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolveParams {
    /// The solver.
    pub method: Method,
    /// Relative tolerance on ‖b − Ax‖/‖b‖ (default 1e-8).
    pub rtol: f64,
    /// Iteration limit (default 10 000).
    pub max_iters: Option<usize>,
    /// Parallelism for the stencil operator.
    pub par: Par,
    /// Multigrid settings (for [`Method::MgPcg`]).
    pub multigrid: MultigridParams,
}

impl SolveParams {
    /// Defaults for `method`: rtol 1e-8, parallel stencil.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            rtol: 1e-8,
            max_iters: None,
            par: Par::rayon(0),
            multigrid: MultigridParams::default(),
        }
    }
    /// Sets the relative tolerance.
    pub fn rtol(mut self, rtol: f64) -> Self {
        self.rtol = rtol;
        self
    }
    /// Sets the iteration limit.
    pub fn max_iters(mut self, k: usize) -> Self {
        self.max_iters = Some(k);
        self
    }
    /// Sets the parallelism.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }
    /// Sets the multigrid settings.
    pub fn multigrid(mut self, mg: MultigridParams) -> Self {
        self.multigrid = mg;
        self
    }
    /// Rejects `rtol ∉ [0, 1)`, `max_iters = Some(0)` and invalid multigrid settings.
    pub fn validate(&self) -> Result<()> {
        in_unit_interval("rtol", self.rtol)?;
        if let Some(k) = self.max_iters {
            at_least("max_iters", k, 1)?;
        }
        self.multigrid.validate()
    }
}

impl Default for SolveParams {
    /// MG-PCG to `rtol = 1e-8`.
    fn default() -> Self {
        Self::new(Method::MgPcg)
    }
}

// The fields every report shares (iterations, converged, termination,
// history, elapsed, work) repeat by design: docs/architecture.md §2.
#[cfg(feature = "serde")]
fn method_name<S: serde::Serializer>(m: &Method, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}

/// The outcome of a solve, the same for every method.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
pub struct SolveReport {
    #[cfg_attr(feature = "serde", serde(serialize_with = "method_name"))]
    /// The method.
    pub method: Method,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// The solution, with the gauge fixed (zero mean on each singular region).
    pub x: Col<f64>,
    /// Iterations performed.
    pub iterations: usize,
    /// Whether the tolerance was reached.
    pub converged: bool,
    /// Why the iteration stopped.
    pub termination: Termination,
    /// ‖b − Ax‖/‖b‖ recomputed from `x` (with the projected `b`).
    pub relative_residual: f64,
    /// CG's record of each iteration (entry 0 is the start): the recursive
    /// relative residual and the time since the start of the solve.
    pub history: Vec<CgRecord>,
    #[cfg_attr(feature = "serde", serde(skip))]
    /// Solve time (without setup).
    pub elapsed: Duration,
    /// Solve time in seconds (without setup; `elapsed` as `f64`).
    pub seconds: f64,
    /// Preconditioner setup time in seconds.
    pub setup_seconds: f64,
    /// Whether `b` had to be projected onto the range (it was inconsistent).
    pub projected: bool,
    /// ‖b − Πb‖/‖b‖: how inconsistent the given right-hand side was.
    pub inconsistency: f64,
    /// Stencil products and preconditioner applications of the solve.
    pub work: Work,
}

/// IC(0) of the matrix restricted to fluid cells, with one cell of each
/// singular region pinned (its diagonal doubled) so the factorisation exists;
/// applied by gathering the fluid entries, solving, scattering and projecting.
struct Ic0Masked {
    fluid: Vec<usize>,
    ic: Ic0<usize, f64>,
    /// The gathered fluid entries, reused by every application.
    buf: Mutex<Vec<f64>>,
}

/// The matrix restricted to the fluid cells (CSC), and the fluid cell list.
pub(crate) fn fluid_matrix(
    system: &PoissonSystem,
    pin_singular: bool,
) -> Result<(SparseColMat<usize, f64>, Vec<usize>)> {
    let a = system.to_csr()?;
    let regions = system.regions();
    let fluid: Vec<usize> = (0..system.len())
        .filter(|&c| regions.id[c] != u32::MAX)
        .collect();
    let mut pos = vec![usize::MAX; system.len()];
    for (p, &c) in fluid.iter().enumerate() {
        pos[c] = p;
    }
    let mut pinned = vec![false; regions.count()];
    let ar = a.as_ref();
    let mut t = Vec::with_capacity(ar.val().len());
    for (p, &c) in fluid.iter().enumerate() {
        if ar.col_idx_of_row_raw(c).is_empty() {
            // A fluid cell walled in on all six sides: a one-cell singular
            // region with an empty row. Its value is 0 in the gauge; a unit
            // diagonal keeps the factorisation defined.
            t.push(Triplet::new(p, p, 1.0));
            continue;
        }
        for (&j, &v) in ar.col_idx_of_row_raw(c).iter().zip(ar.val_of_row(c)) {
            let mut v = v;
            let r = regions.id[c] as usize;
            if pin_singular && j == c && regions.singular[r] && !pinned[r] {
                // Pin: adds a Dirichlet-like term, making the block SPD.
                pinned[r] = true;
                v *= 2.0;
            }
            t.push(Triplet::new(p, pos[j], v));
        }
    }
    let m = fluid.len();
    let mat = SparseRowMat::try_new_from_triplets(m, m, &t)
        .map_err(|e| Error::Numerical(format!("restricting to fluid cells: {e:?}")))?;
    let csc = mat
        .as_ref()
        .to_col_major()
        .map_err(|e| Error::Numerical(format!("converting to CSC: {e:?}")))?;
    Ok((csc, fluid))
}

impl Ic0Masked {
    fn new(system: &PoissonSystem) -> Result<Self> {
        let (a, fluid) = fluid_matrix(system, true)?;
        let ic = ic0_csc(&a)?;
        Ok(Self {
            buf: Mutex::new(vec![0.0; fluid.len()]),
            fluid,
            ic,
        })
    }

    /// `z = M⁻¹ r` on the whole grid (zero outside the fluid, projected).
    fn apply(&self, z: &mut [f64], r: &[f64], system: &PoissonSystem) {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        for (b, &c) in buf.iter_mut().zip(&self.fluid) {
            *b = r[c];
        }
        let len = buf.len();
        let col = faer::MatMut::from_column_major_slice_mut(&mut buf, len, 1);
        self.ic
            .apply_in_place(col, Par::Seq, faer::dyn_stack::MemStack::new(&mut []));
        z.fill(0.0);
        for (b, &c) in buf.iter().zip(&self.fluid) {
            z[c] = *b;
        }
        system.regions().project(z);
    }
}

/// Peak memory of a solve per grid cell, measured with `/usr/bin/time -f
/// %M` on `optlab poisson --method mg-pcg` (128³: 232 MiB; 512³: 14.1 GiB):
/// the grid, the stencil, CG's vectors and the multigrid levels.
pub const SOLVE_BYTES_PER_CELL: usize = 112;

/// Solves `A x = b` for the Poisson system with the chosen method; the
/// observer sees CG's record of every iteration and may stop the run.
///
/// `b` must have length `n³` and be finite. It is projected onto the range
/// first (zero on non-fluid cells, zero mean on pure-Neumann regions); the
/// report says whether that changed it and by how much. The returned `x` has
/// the gauge fixed to zero mean on each singular region.
pub fn solve(
    system: &PoissonSystem,
    b: ColRef<'_, f64>,
    params: &SolveParams,
    observer: impl FnMut(&CgRecord) -> Control + Send,
) -> Result<SolveReport> {
    params.validate()?;
    let n = system.len();
    // Refused before CG's vectors and the preconditioner are allocated.
    linalg_core::budget::check(
        format!(
            "solving a Poisson system of {n} cells (about {SOLVE_BYTES_PER_CELL} bytes a cell)"
        ),
        linalg_core::budget::Bytes::items(n, SOLVE_BYTES_PER_CELL),
    )?;
    linalg_core::op::check_dim("right-hand side (n³)", n, b.nrows())?;
    linalg_core::op::check_finite("right-hand side", b)?;
    // Scale-safe: work with s·b, s a power of two bringing max|bᵢ| into
    // [1, 2) (exact), and return x/s; the plain sums of squares below can
    // then neither underflow (b near 1e-320) nor overflow (b near 1e300).
    let scale = linalg_core::op::pow2_scale(b.iter().fold(0.0f64, |m, v| m.max(v.abs())));
    let mut bp: Vec<f64> = b.iter().map(|v| v * scale).collect();
    let bnorm0 = bp.iter().map(|v| v * v).sum::<f64>().sqrt();
    let removed = system.regions().project(&mut bp);
    let inconsistency = if bnorm0 > 0.0 { removed / bnorm0 } else { 0.0 };
    let projected = inconsistency > 1e-12;
    // faer's CG vector updates run sequentially: measured on 64³ (2 cores),
    // rayon on these tall-skinny products doubled the time per iteration.
    // Only the stencil product uses `params.par`.
    let cg = Cg::new(CgParams {
        rtol: params.rtol,
        atol: 0.0,
        max_iters: Some(params.max_iters.unwrap_or(10_000)),
        par: Par::Seq,
    })?;
    let par = params.par;
    let op = SliceOp::new(n, |o: &mut [f64], x: &[f64]| system.apply_slices(o, x, par));
    let bcol = Col::from_fn(n, |i| bp[i]);
    let setup = Instant::now();
    let mut observer = observer;
    let (report, setup_seconds) = match params.method {
        Method::Cg => {
            let p = IdentityPrecond { dim: n };
            let s = setup.elapsed().as_secs_f64();
            (run_cg(&cg, &op, &p, &bcol, &mut observer)?, s)
        }
        Method::JacobiPcg => {
            let p = jacobi(system.diagonal().iter().copied(), ZeroDiagonal::Zero);
            let s = setup.elapsed().as_secs_f64();
            (run_cg(&cg, &op, &p, &bcol, &mut observer)?, s)
        }
        Method::Ic0Pcg => {
            let ic = Ic0Masked::new(system)?;
            let p = SliceOp::new(n, |z: &mut [f64], r: &[f64]| ic.apply(z, r, system));
            let s = setup.elapsed().as_secs_f64();
            (run_cg(&cg, &op, &p, &bcol, &mut observer)?, s)
        }
        Method::Mic0Pcg => {
            let mic = crate::mic::Mic0::new(system, crate::mic::MicParams::default())?;
            let p = SliceOp::new(n, |z: &mut [f64], r: &[f64]| mic.apply(z, r, system));
            let s = setup.elapsed().as_secs_f64();
            (run_cg(&cg, &op, &p, &bcol, &mut observer)?, s)
        }
        Method::MgPcg => {
            let p = Multigrid::new(system, params.multigrid);
            let s = setup.elapsed().as_secs_f64();
            (run_cg(&cg, &op, &p, &bcol, &mut observer)?, s)
        }
    };
    let mut x: Vec<f64> = report.x.iter().copied().collect();
    system.regions().project(&mut x);
    let mut ax = vec![0.0; n];
    system.apply_slices(&mut ax, &x, params.par);
    let bnorm = bp.iter().map(|v| v * v).sum::<f64>().sqrt();
    let rnorm = ax
        .iter()
        .zip(&bp)
        .map(|(a, b)| (b - a) * (b - a))
        .sum::<f64>()
        .sqrt();
    let x = Col::from_fn(n, |i| x[i] / scale);
    linalg_core::op::check_finite("solution (x = A⁻¹b overflows f64)", x.as_ref())?;
    Ok(SolveReport {
        method: params.method,
        x,
        iterations: report.iterations,
        converged: report.converged,
        termination: report.termination,
        relative_residual: if bnorm > 0.0 { rnorm / bnorm } else { rnorm },
        history: report.history,
        elapsed: report.elapsed,
        seconds: report.elapsed.as_secs_f64(),
        setup_seconds,
        projected,
        inconsistency,
        work: report.work,
    })
}

/// CG with preconditioner `p`, timed without the setup.
fn run_cg<A: faer::matrix_free::LinOp<f64>, P: Precond<f64>>(
    cg: &Cg,
    op: &A,
    p: &P,
    b: &Col<f64>,
    observer: &mut (dyn FnMut(&CgRecord) -> Control + Send),
) -> Result<linalg_core::CgReport> {
    let t = Instant::now();
    let rep = cg.solve_with(op, p, b.as_ref(), None, observer)?;
    Ok(linalg_core::CgReport {
        elapsed: t.elapsed(),
        ..rep
    })
}
