//! `optlab poisson`: pressure Poisson systems of the built-in fluid scenes.

use std::path::PathBuf;

use deep_cg::{Method, PoissonSystem, Scene, SolveParams, solve};
use linalg_core::faer::Col;
use linalg_core::io::{MtxSymmetry, NpyDtype, read_npy_col, write_matrix_market, write_npy_col};
use serde_json::json;

use crate::{Failure, outcome, print_json, to_json};

/// `optlab poisson` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PoissonCmd {
    /// Generate Ritz-vector training data and train the DCDM network (needs the `burn` feature).
    Train(crate::train::TrainArgs),
}

/// Arguments of `optlab poisson`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Subcommand (`train`); without one, solve a scene's system.
    #[command(subcommand)]
    cmd: Option<PoissonCmd>,
    /// Scene: box, smoke-plume, sphere, bunny, mixed.
    #[arg(long, default_value = "smoke-plume")]
    scene: String,
    /// Grid size N (N³ cells; a power of two from 4 to 512).
    #[arg(long, default_value_t = 32)]
    grid: usize,
    /// Seed for obstacles and the right-hand side.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Solver: cg, jacobi-pcg, ic0-pcg, mic0-pcg, mg-pcg, or dcdm (with `--features burn`).
    #[arg(long, default_value = "mg-pcg")]
    method: String,
    /// Relative tolerance on ‖b − Ax‖/‖b‖.
    #[arg(long, default_value_t = 1e-8)]
    rtol: f64,
    /// Iteration limit.
    #[arg(long)]
    max_iters: Option<usize>,
    /// Right-hand side from an NPY file of length N³ (default: the divergence
    /// of a seeded random velocity field). Inconsistent ones are projected.
    #[arg(long, value_name = "b.npy")]
    rhs: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
    /// Write the assembled matrix (Matrix Market, symmetric) to this file.
    #[arg(long, value_name = "A.mtx")]
    write_matrix: Option<PathBuf>,
    /// Write the right-hand side (NPY) to this file.
    #[arg(long, value_name = "b.npy")]
    write_rhs: Option<PathBuf>,
    /// Write the solution (NPY) to this file.
    #[arg(long, value_name = "x.npy")]
    x_out: Option<PathBuf>,
    /// DCDM: a trained network (burnpack from `optlab poisson train`; default: the shipped weights).
    #[arg(long, value_name = "model.bpk")]
    model: Option<PathBuf>,
    /// DCDM: directions kept for A-orthogonalisation.
    #[arg(long, default_value_t = 2)]
    k: usize,
    /// DCDM: `recompute` the true residual b − Ax every iteration (the
    /// paper's code) or `update` it as r − αAq with a true-residual refresh
    /// every `--refresh-every` iterations (one stencil product less).
    #[arg(long, default_value = "recompute")]
    residual: String,
    /// DCDM with `--residual update`: period of the true-residual refresh.
    #[arg(long, default_value_t = 50)]
    refresh_every: usize,
    /// DCDM: compute device of the network: flex (CPU) or wgpu (cargo
    /// feature `wgpu`).
    #[arg(long, default_value = "flex")]
    device: String,
}

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::BadInput(e.to_string())
}

pub fn run(args: &Args) -> Result<(), Failure> {
    if let Some(PoissonCmd::Train(t)) = &args.cmd {
        return crate::train::run(t);
    }
    let scene = Scene::from_name(&args.scene).map_err(bad)?;
    let is_dcdm = args.method == "dcdm";
    if !is_dcdm {
        crate::reject_given(
            &["model", "k", "residual", "refresh_every", "device"],
            &format!("--method {} (DCDM options)", args.method),
        )?;
    } else if args.residual != "update" {
        crate::reject_given(&["refresh_every"], "--residual recompute")?;
    }
    let method = if is_dcdm {
        Method::Cg
    } else {
        Method::from_name(&args.method).map_err(bad)?
    };
    deep_cg::check_grid_size(args.grid).map_err(bad)?;
    // Measured peak: 111 bytes a cell for mg-pcg at 128³ and 512³ (the
    // grid, the stencil, CG's vectors and the multigrid levels); refuse
    // before building what cannot fit.
    let cells = args.grid.pow(3);
    linalg_core::budget::check(
        format!(
            "--grid {}: a {}³ Poisson system and its solver (about {} bytes a cell)",
            args.grid,
            args.grid,
            deep_cg::solvers::SOLVE_BYTES_PER_CELL
        ),
        linalg_core::budget::Bytes::items(cells, deep_cg::solvers::SOLVE_BYTES_PER_CELL),
    )
    .map_err(bad)?;
    let grid = scene.build(args.grid, args.seed).map_err(bad)?;
    let system = PoissonSystem::new(grid);
    let b: Col<f64> = match &args.rhs {
        Some(p) => {
            let b = read_npy_col(p).map_err(bad)?;
            if let Some(i) = b.iter().position(|v| !v.is_finite()) {
                return Err(Failure::BadInput(format!(
                    "{}: non-finite right-hand side entry {} at index {i}",
                    p.display(),
                    b[i]
                )));
            }
            if b.nrows() != system.len() {
                return Err(Failure::BadInput(format!(
                    "{}: right-hand side has length {}, the {}³ grid needs {}",
                    p.display(),
                    b.nrows(),
                    args.grid,
                    system.len()
                )));
            }
            b
        }
        None => system.divergence_rhs(args.seed.wrapping_add(1)),
    };
    if let Some(p) = &args.write_matrix {
        let a = system.to_csr().map_err(bad)?;
        write_matrix_market(p, &a, MtxSymmetry::Symmetric).map_err(bad)?;
    }
    if let Some(p) = &args.write_rhs {
        write_npy_col(p, b.as_ref(), NpyDtype::F64).map_err(bad)?;
    }
    if is_dcdm {
        return run_dcdm(args, &system, b.as_ref());
    }
    let mut params = SolveParams::new(method).rtol(args.rtol);
    params.max_iters = args.max_iters;
    let rep = solve(&system, b.as_ref(), &params, crate::watch::observe)
        .map_err(|e| Failure::from_error(e.is_input_error(), e.to_string(), args.json))?;
    if let Some(p) = &args.x_out {
        write_npy_col(p, rep.x.as_ref(), NpyDtype::F64).map_err(bad)?;
    }
    let regions = system.regions();
    let singular = regions.singular.iter().filter(|s| **s).count();
    if args.json {
        print_json(&json!({
            "method": method.name(),
            "scene": scene.name(),
            "grid": args.grid,
            "seed": args.seed,
            "n": system.len(),
            "fluid_cells": system.grid().fluid_count(),
            "nnz": system.nnz(),
            "regions": regions.count(),
            "singular_regions": singular,
            "iterations": rep.iterations,
            "converged": rep.converged,
            "termination": crate::watch::termination(rep.termination.as_str()),
            "relative_residual": rep.relative_residual,
            "seconds": rep.seconds,
            "setup_seconds": rep.setup_seconds,
            "projected": rep.projected,
            "inconsistency": rep.inconsistency,
            "residual_history": rep.history.iter().map(|r| r.relative_residual).collect::<Vec<_>>(),
            "history_seconds": rep.history.iter().map(|r| r.seconds).collect::<Vec<_>>(),
            "work": to_json(&rep.work),
        }));
    } else {
        outln!(
            "scene             {} {}³ (seed {}), {} fluid cells",
            scene.name(),
            args.grid,
            args.seed,
            system.grid().fluid_count()
        );
        outln!(
            "regions           {} ({} pure Neumann, gauge: zero mean)",
            regions.count(),
            singular
        );
        summary(
            method.name(),
            rep.iterations,
            rep.termination,
            rep.relative_residual,
        );
        outln!(
            "time              {:.1} ms solve + {:.1} ms setup",
            rep.seconds * 1e3,
            rep.setup_seconds * 1e3
        );
        if rep.projected {
            outln!(
                "note              the right-hand side was inconsistent (‖b − Πb‖/‖b‖ = {:.2e}) and was projected onto the range",
                rep.inconsistency
            );
        }
    }
    outcome(rep.converged, || {
        format!(
            "{} did not converge in {} iterations (relative residual {:.3e})",
            method.name(),
            rep.iterations,
            rep.relative_residual
        )
    })
}

/// The lines every method's text summary starts with.
fn summary(method: &str, iterations: usize, termination: deep_cg::Termination, rel: f64) {
    let termination = crate::watch::termination(termination.as_str());
    outln!("method            {method}");
    outln!("iterations        {iterations}");
    outln!("termination       {termination}");
    outln!("‖b − Ax‖/‖b‖      {rel:.3e}");
}

#[cfg(not(feature = "burn"))]
fn run_dcdm(
    _: &Args,
    _: &PoissonSystem,
    _: linalg_core::faer::ColRef<'_, f64>,
) -> Result<(), Failure> {
    Err(Failure::BadInput(
        "--method dcdm needs the `burn` feature: cargo build --release -p optlab --features burn"
            .into(),
    ))
}

/// `--method dcdm`: the DCDM loop with a trained network.
#[cfg(feature = "burn")]
fn run_dcdm(
    args: &Args,
    system: &PoissonSystem,
    b: linalg_core::faer::ColRef<'_, f64>,
) -> Result<(), Failure> {
    use deep_cg::net::{DcdmNet, NetModel};
    use deep_cg::{DcdmParams, ResidualMode, dcdm};
    let residual = match args.residual.as_str() {
        "recompute" => ResidualMode::Recompute,
        "update" => ResidualMode::Update {
            refresh_every: args.refresh_every,
        },
        other => {
            return Err(Failure::BadInput(format!(
                "--residual {other}: use recompute or update"
            )));
        }
    };
    let t = std::time::Instant::now();
    let device = deep_cg::net::device(&args.device).map_err(bad)?;
    let (net, source) = match &args.model {
        Some(path) => (
            DcdmNet::load(path, &device).map_err(bad)?,
            path.display().to_string(),
        ),
        None => (
            deep_cg::net::DcdmNet::pretrained(&device)
                .map_err(|e| Failure::Solver(e.to_string()))?,
            "shipped weights".to_string(),
        ),
    };
    let mut model = NetModel::new(net, args.grid, device).map_err(bad)?;
    let setup = t.elapsed().as_secs_f64();
    let params = DcdmParams {
        rtol: args.rtol,
        max_iters: args.max_iters.unwrap_or(1000),
        k: args.k,
        residual,
        ..Default::default()
    };
    let rep = dcdm(system, b, &mut model, &params, crate::watch::observe)
        .map_err(|e| Failure::from_error(e.is_input_error(), e.to_string(), args.json))?;
    if let Some(p) = &args.x_out {
        write_npy_col(p, rep.x.as_ref(), NpyDtype::F64).map_err(bad)?;
    }
    if args.json {
        print_json(&json!({
            "method": "dcdm",
            "scene": args.scene,
            "grid": args.grid,
            "seed": args.seed,
            "n": system.len(),
            "fluid_cells": system.grid().fluid_count(),
            "iterations": rep.iterations,
            "converged": rep.converged,
            "termination": crate::watch::termination(rep.termination.as_str()),
            "relative_residual": rep.relative_residual,
            "seconds": rep.seconds,
            "setup_seconds": setup,
            "model_seconds": rep.model_seconds,
            "model": source,
            "projected": rep.projected,
            "residual_history": rep.history.iter().map(|r| r.relative_residual).collect::<Vec<_>>(),
            "history_seconds": rep.history.iter().map(|r| r.seconds).collect::<Vec<_>>(),
            "work": to_json(&rep.work),
            "residual_mode": args.residual,
            "device": args.device,
        }));
    } else {
        crate::poisson::summary(
            &format!("dcdm ({source}; k = {})", args.k),
            rep.iterations,
            rep.termination,
            rep.relative_residual,
        );
        outln!(
            "time              {:.1} ms solve ({:.1} ms in the network) + {:.1} ms model load",
            rep.seconds * 1e3,
            rep.model_seconds * 1e3,
            setup * 1e3
        );
    }
    outcome(rep.converged, || {
        format!(
            "dcdm did not converge in {} iterations (relative residual {:.3e})",
            rep.iterations, rep.relative_residual
        )
    })
}
