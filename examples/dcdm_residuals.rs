//! Relative residual against iteration for DCDM (shipped weights), CG,
//! IC(0)-PCG and MG-PCG on one scene, written as an SVG plot, with the
//! iteration counts and wall times printed beside it.
//!
//! ```text
//! cargo run --release -p optlab-examples --features burn --example dcdm_residuals \
//!     [-- SCENE N OUT.svg]
//! ```
//!
//! Default: `smoke-plume 64 docs/figures/dcdm_residuals_64.svg`, to rtol 1e-6.

use std::error::Error;

use optlab::deep_cg::net::{DcdmNet, NetModel, device};
use optlab::deep_cg::{
    Control, DcdmParams, Method, PoissonSystem, Scene, SolveParams, dcdm, solve,
};
use optlab_examples::{Series, semilogy_svg};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let scene_name = args.next().unwrap_or_else(|| "smoke-plume".into());
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    let out = args
        .next()
        .unwrap_or_else(|| format!("docs/figures/dcdm_residuals_{n}.svg"));
    let rtol = 1e-6;
    let system = PoissonSystem::new(Scene::from_name(&scene_name)?.build(n, 0)?);
    let b = system.divergence_rhs(1);

    let mut runs: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let dev = device("flex")?;
    let mut model = NetModel::new(DcdmNet::pretrained(&dev)?, n, dev)?;
    let params = DcdmParams {
        rtol,
        max_iters: 200,
        ..Default::default()
    };
    let rep = dcdm(&system, b.as_ref(), &mut model, &params, |_| {
        Control::Continue
    })?;
    println!(
        "{:<10} {:>4} iterations  {:>8.3} s  ({:.3} s in the network)  ‖r‖/‖b‖ = {:.2e}",
        "dcdm", rep.iterations, rep.seconds, rep.model_seconds, rep.relative_residual
    );
    runs.push((
        "DCDM (shipped weights)".into(),
        rep.history
            .iter()
            .map(|r| (r.iteration as f64, r.relative_residual))
            .collect(),
    ));
    for (label, method) in [
        ("IC(0)-PCG", Method::Ic0Pcg),
        ("MG-PCG", Method::MgPcg),
        ("CG", Method::Cg),
    ] {
        let rep = solve(
            &system,
            b.as_ref(),
            &SolveParams::new(method).rtol(rtol),
            |_| Control::Continue,
        )?;
        println!(
            "{:<10} {:>4} iterations  {:>8.3} s  (setup {:.3} s)  ‖r‖/‖b‖ = {:.2e}",
            method.name(),
            rep.iterations,
            rep.seconds + rep.setup_seconds,
            rep.setup_seconds,
            rep.relative_residual
        );
        runs.push((
            label.into(),
            rep.history
                .iter()
                .map(|r| (r.iteration as f64, r.relative_residual))
                .collect(),
        ));
    }

    let series = runs
        .into_iter()
        .map(|(name, h)| Series::line(name, h))
        .collect();
    semilogy_svg(
        &out,
        &format!("{scene_name} {n}³: relative residual ‖b − Ax‖/‖b‖"),
        series,
    )?;
    println!("wrote {out}");
    Ok(())
}
