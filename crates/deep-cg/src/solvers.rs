//! The classic solvers DCDM is measured against, behind one entry point.

use std::time::Instant;

use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::{IdentityPrecond, LinOp, Precond};
use faer::sparse::{SparseColMat, SparseRowMat, Triplet};
use faer::{Col, ColRef, MatMut, MatRef, Par};
use faer_precond::Ic0;
use linalg_core::cg::{Cg, CgParams};
use linalg_core::{Control, Termination, faer};

use crate::grid::Regions;
use crate::multigrid::{Multigrid, MultigridParams};
use linalg_core::op::for_each_col;

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
}

impl Method {
    /// Every method, in the order of [`Method::NAMES`].
    pub const ALL: [Method; 4] = [Method::Cg, Method::JacobiPcg, Method::Ic0Pcg, Method::MgPcg];
    /// Command-line names.
    pub const NAMES: [&'static str; 4] = ["cg", "jacobi-pcg", "ic0-pcg", "mg-pcg"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|m| *m == self).unwrap_or(0)]
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Result<Method> {
        Self::NAMES
            .iter()
            .position(|s| *s == name)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| Error::InvalidParameter {
                name: "method",
                reason: format!(
                    "unknown method `{name}` (expected one of {})",
                    Self::NAMES.join(", ")
                ),
            })
    }
}

/// Parameters of [`solve`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolveParams {
    /// The solver.
    pub method: Method,
    /// Relative tolerance on ‖b − Ax‖/‖b‖ (default 1e-8).
    pub rtol: f64,
    /// Iteration limit (default `10·n³`... capped to 10 000).
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
}

/// The outcome of a solve, the same for every method.
#[derive(Debug, Clone)]
pub struct SolveReport {
    /// The method.
    pub method: Method,
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
    /// CG's relative residual after each iteration (entry 0 is the start).
    pub history: Vec<f64>,
    /// Solve time in seconds (without setup).
    pub seconds: f64,
    /// Preconditioner setup time in seconds.
    pub setup_seconds: f64,
    /// Whether `b` had to be projected onto the range (it was inconsistent).
    pub projected: bool,
    /// ‖b − Πb‖/‖b‖: how inconsistent the given right-hand side was.
    pub inconsistency: f64,
}

/// Jacobi on the masked grid: `z = r / diag` on fluid cells, zero elsewhere.
#[derive(Debug)]
struct Jacobi {
    inv_diag: Vec<f64>,
}

impl LinOp<f64> for Jacobi {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.inv_diag.len()
    }
    fn ncols(&self) -> usize {
        self.inv_diag.len()
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _: Par, _: &mut MemStack) {
        for_each_col(out, rhs, |z, r| {
            for ((zv, rv), d) in z.iter_mut().zip(r).zip(&self.inv_diag) {
                *zv = rv * d;
            }
        });
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}
impl Precond<f64> for Jacobi {}

/// IC(0) of the matrix restricted to fluid cells, with one cell of each
/// singular region pinned (its diagonal doubled) so the factorisation exists;
/// applied by gathering the fluid entries, solving, scattering and projecting.
struct Ic0Masked {
    fluid: Vec<usize>,
    ic: Ic0<usize, f64>,
    regions: Regions,
    n: usize,
}

impl std::fmt::Debug for Ic0Masked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ic0Masked({} fluid cells)", self.fluid.len())
    }
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
        let ic =
            Ic0::try_new(a.as_ref()).map_err(|e| Error::Numerical(format!("IC(0) failed: {e}")))?;
        Ok(Self {
            fluid,
            ic,
            regions: system.regions().clone(),
            n: system.len(),
        })
    }
}

impl LinOp<f64> for Ic0Masked {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        StackReq::new::<f64>(self.fluid.len())
    }
    fn nrows(&self) -> usize {
        self.n
    }
    fn ncols(&self) -> usize {
        self.n
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, stack: &mut MemStack) {
        let (mut buf, _) = stack.make_with::<f64>(self.fluid.len(), |_| 0.0);
        for_each_col(out, rhs, |z, r| {
            for (b, &c) in buf.iter_mut().zip(&self.fluid) {
                *b = r[c];
            }
            let col = faer::MatMut::from_column_major_slice_mut(&mut buf, self.fluid.len(), 1);
            self.ic.apply_in_place(col, par, MemStack::new(&mut []));
            z.fill(0.0);
            for (b, &c) in buf.iter().zip(&self.fluid) {
                z[c] = *b;
            }
            self.regions.project(z);
        });
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}
impl Precond<f64> for Ic0Masked {}

/// Solves `A x = b` for the Poisson system with the chosen method.
///
/// `b` must have length `n³` and be finite. It is projected onto the range
/// first (zero on non-fluid cells, zero mean on pure-Neumann regions); the
/// report says whether that changed it and by how much. The returned `x` has
/// the gauge fixed to zero mean on each singular region.
pub fn solve(
    system: &PoissonSystem,
    b: ColRef<'_, f64>,
    params: &SolveParams,
) -> Result<SolveReport> {
    let n = system.len();
    let b: Vec<f64> = b.iter().copied().collect();
    if b.len() != n {
        return Err(Error::Core(linalg_core::Error::DimensionMismatch {
            context: "right-hand side (n³)",
            expected: n,
            found: b.len(),
        }));
    }
    if let Some(index) = b.iter().position(|v| !v.is_finite()) {
        return Err(Error::Core(linalg_core::Error::NonFinite {
            context: "right-hand side",
            index,
        }));
    }
    let mut bp = b.to_vec();
    let bnorm0 = b.iter().map(|v| v * v).sum::<f64>().sqrt();
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
    let op = ParallelStencil {
        system,
        par: params.par,
    };
    let bcol = Col::from_fn(n, |i| bp[i]);
    let setup = Instant::now();
    let run = |pre: &dyn PrecondDyn| -> Result<linalg_core::CgReport> { pre.run(&cg, &op, &bcol) };
    let (report, setup_seconds, seconds) = match params.method {
        Method::Cg => {
            let p = IdentityPrecond { dim: n };
            let s = setup.elapsed().as_secs_f64();
            let t = Instant::now();
            (run(&p)?, s, t.elapsed().as_secs_f64())
        }
        Method::JacobiPcg => {
            let inv_diag = system
                .diagonal()
                .iter()
                .map(|d| if *d > 0.0 { 1.0 / d } else { 0.0 })
                .collect();
            let p = Jacobi { inv_diag };
            let s = setup.elapsed().as_secs_f64();
            let t = Instant::now();
            (run(&p)?, s, t.elapsed().as_secs_f64())
        }
        Method::Ic0Pcg => {
            let p = Ic0Masked::new(system)?;
            let s = setup.elapsed().as_secs_f64();
            let t = Instant::now();
            (run(&p)?, s, t.elapsed().as_secs_f64())
        }
        Method::MgPcg => {
            let p = Multigrid::new(system, params.multigrid);
            let s = setup.elapsed().as_secs_f64();
            let t = Instant::now();
            (run(&p)?, s, t.elapsed().as_secs_f64())
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
    Ok(SolveReport {
        method: params.method,
        x: Col::from_fn(n, |i| x[i]),
        iterations: report.iterations,
        converged: report.converged,
        termination: report.termination,
        relative_residual: if bnorm > 0.0 { rnorm / bnorm } else { rnorm },
        history: report.history.iter().map(|r| r.relative_residual).collect(),
        seconds,
        setup_seconds,
        projected,
        inconsistency,
    })
}

/// Object-safe bridge so `solve` can run CG with any of the preconditioners.
trait PrecondDyn {
    fn run(&self, cg: &Cg, op: &ParallelStencil<'_>, b: &Col<f64>)
    -> Result<linalg_core::CgReport>;
}

impl<P: Precond<f64>> PrecondDyn for P {
    fn run(
        &self,
        cg: &Cg,
        op: &ParallelStencil<'_>,
        b: &Col<f64>,
    ) -> Result<linalg_core::CgReport> {
        Ok(cg.solve_with(op, self, b.as_ref(), None, |_| Control::Continue)?)
    }
}

/// The stencil operator with its own parallelism, whatever faer passes.
#[derive(Debug)]
struct ParallelStencil<'a> {
    system: &'a PoissonSystem,
    par: Par,
}

impl LinOp<f64> for ParallelStencil<'_> {
    fn apply_scratch(&self, _: usize, _: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.system.len()
    }
    fn ncols(&self) -> usize {
        self.system.len()
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _: Par, _: &mut MemStack) {
        for_each_col(out, rhs, |o, x| self.system.apply_slices(o, x, self.par));
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, p: Par, s: &mut MemStack) {
        self.apply(out, rhs, p, s)
    }
}
