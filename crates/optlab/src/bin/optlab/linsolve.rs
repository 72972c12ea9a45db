//! `optlab linsolve`: a sparse SPD system from a Matrix Market file.

use std::path::PathBuf;
use std::time::Instant;

use linalg_core::Error;
use linalg_core::cg::{Cg, CgParams, CgReport};
use linalg_core::faer::Col;
use linalg_core::faer::matrix_free::IdentityPrecond;
use linalg_core::io::{NpyDtype, read_npy_col, read_spd_matrix_market, write_npy_col};
use linalg_core::op::{SparseOp, apply};
use linalg_core::precond;
use serde_json::json;

use crate::{Failure, print_json, to_json};

/// Solver choice of `optlab linsolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Conjugate gradient, unpreconditioned.
    Cg,
    /// Conjugate gradient with the Jacobi (diagonal) preconditioner.
    JacobiPcg,
    /// Conjugate gradient with zero-fill incomplete Cholesky (faer-precond).
    Ic0Pcg,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Cg => "cg",
            Method::JacobiPcg => "jacobi-pcg",
            Method::Ic0Pcg => "ic0-pcg",
        }
    }
}

/// Arguments of `optlab linsolve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The matrix A: a symmetric positive definite Matrix Market file.
    #[arg(long, value_name = "A.mtx")]
    matrix: PathBuf,
    /// Right-hand side b as a 1-D NPY file (default: b = A·1).
    #[arg(long, value_name = "b.npy")]
    rhs: Option<PathBuf>,
    /// Solver.
    #[arg(long, value_enum, default_value_t = Method::Cg)]
    method: Method,
    /// Relative tolerance on ‖b − Ax‖/‖b‖.
    #[arg(long, default_value_t = 1e-8)]
    rtol: f64,
    /// Iteration limit (default 10·n).
    #[arg(long)]
    max_iters: Option<usize>,
    /// Write the solution x to this NPY file (float64).
    #[arg(long, value_name = "x.npy")]
    x_out: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

fn in_file(path: &std::path::Path) -> impl Fn(Error) -> Failure + '_ {
    move |e| match e {
        e @ Error::File { .. } => Failure::BadInput(e.to_string()),
        e => Failure::BadInput(format!("{}: {e}", path.display())),
    }
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let setup = Instant::now();
    let params = CgParams {
        rtol: args.rtol,
        max_iters: args.max_iters,
        ..CgParams::default()
    };
    let solver = Cg::new(params).map_err(|e| Failure::BadInput(e.to_string()))?;
    let mut mat = read_spd_matrix_market(&args.matrix).map_err(in_file(&args.matrix))?;
    // Scale-safe: solve (sA) y = b with s a power of two bringing max|aᵢⱼ|
    // into [1, 2) (exact), then x = s·y: entries near 1e-320 or 1e300 no
    // longer underflow to a zero curvature or overflow to a NaN one.
    let amax = mat.val().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let s = linalg_core::op::pow2_scale(amax);
    mat.val_mut().iter_mut().for_each(|v| *v *= s);
    let mpath = args.matrix.as_path();
    let op = SparseOp::new(mat)
        .and_then(|op| op.into_symmetric(1e-12))
        .map_err(in_file(mpath))?;
    let n = op.inner().as_sparse().nrows();
    let nnz = op.inner().nnz();
    let b = match &args.rhs {
        Some(p) => {
            let b = read_npy_col(p).map_err(in_file(p))?;
            if b.nrows() != n {
                return Err(Failure::BadInput(format!(
                    "{}: right-hand side has length {}, the matrix is {n}×{n}",
                    p.display(),
                    b.nrows()
                )));
            }
            b
        }
        // b = A·1, so x = 1: (sA)·1 is that system scaled, whose solution
        // needs no unscaling.
        None => apply(&op, Col::<f64>::ones(n).as_ref()),
    };
    let unscale = if args.rhs.is_some() { s } else { 1.0 };
    let diag = precond::diagonal(op.inner().as_sparse().as_ref());
    // A non-positive diagonal entry proves A is not positive definite
    // (eᵢᵀAeᵢ = aᵢᵢ); say so before iterating.
    if let Some(i) = diag.iter().position(|d| d.is_nan() || *d <= 0.0) {
        return Err(Failure::BadInput(format!(
            "{}: not positive definite: diagonal entry a[{i},{i}] = {}",
            mpath.display(),
            diag[i] / s
        )));
    }
    // Preconditioner setup (timed as setup).
    let ic0 = if args.method == Method::Ic0Pcg {
        Some(precond::ic0(op.inner().as_sparse().as_ref()).map_err(|e| {
            Failure::BadInput(format!(
                "{}: {e}: the matrix is not positive definite, or IC(0) breaks down on it",
                mpath.display()
            ))
        })?)
    } else {
        None
    };
    let setup_seconds = setup.elapsed().as_secs_f64();
    let t = Instant::now();
    let report: CgReport = match args.method {
        Method::Cg => solver.solve_with(
            &op,
            &IdentityPrecond { dim: n },
            b.as_ref(),
            None,
            crate::watch::observe,
        ),
        Method::JacobiPcg => {
            let jacobi = precond::jacobi(diag.iter().copied(), precond::ZeroDiagonal::Identity);
            solver.solve_with(&op, &jacobi, b.as_ref(), None, crate::watch::observe)
        }
        Method::Ic0Pcg => {
            let ic = ic0
                .as_ref()
                .ok_or_else(|| Failure::Solver("IC(0) factor missing".into()))?;
            solver.solve_with(&op, ic, b.as_ref(), None, crate::watch::observe)
        }
    }
    .map_err(in_file(mpath))?;
    let seconds = t.elapsed().as_secs_f64();
    // The true residual, recomputed from the returned x.
    let ax = apply(&op, report.x.as_ref());
    let bnorm = b.norm_l2();
    let relative_residual = if bnorm > 0.0 {
        (&b - &ax).norm_l2() / bnorm
    } else {
        ax.norm_l2()
    };
    if let Some(p) = &args.x_out {
        let x = &report.x * unscale;
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Failure::Solver(format!(
                "{}: the solution overflows f64 (the matrix is scaled by {s:e})",
                p.display()
            )));
        }
        write_npy_col(p, x.as_ref(), NpyDtype::F64).map_err(in_file(p))?;
    }
    if args.json {
        print_json(&json!({
            "method": args.method.name(),
            "matrix": args.matrix.display().to_string(),
            "n": n,
            "nnz": nnz,
            "iterations": report.iterations,
            "converged": report.converged,
            "termination": crate::watch::termination(report.termination.as_str()),
            "relative_residual": relative_residual,
            "seconds": seconds,
            "setup_seconds": setup_seconds,
            "residual_history": report.history.iter().map(|r| r.relative_residual).collect::<Vec<_>>(),
            "work": to_json(&report.work),
        }));
    } else {
        outln!(
            "matrix            {} (n = {n}, nnz = {nnz})",
            args.matrix.display()
        );
        outln!("method            {}", args.method.name());
        outln!("iterations        {}", report.iterations);
        outln!(
            "termination       {}",
            crate::watch::termination(report.termination.as_str())
        );
        outln!("‖b − Ax‖/‖b‖      {relative_residual:.3e}");
        outln!(
            "solve time        {:.3} ms (setup {:.3} ms)",
            seconds * 1e3,
            setup_seconds * 1e3
        );
        if let Some(p) = &args.x_out {
            outln!("x written to      {}", p.display());
        }
    }
    if !report.converged {
        return Err(Failure::Solver(format!(
            "{}: {} did not converge in {} iterations (relative residual {relative_residual:.3e})",
            args.matrix.display(),
            args.method.name(),
            report.iterations
        )));
    }
    Ok(())
}
