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
use optlab::deep_cg::{DcdmParams, Method, PoissonSystem, Scene, SolveParams, dcdm, solve};
use plotters::prelude::*;

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

    let mut runs: Vec<(String, Vec<f64>)> = Vec::new();
    let dev = device("flex")?;
    let mut model = NetModel::new(DcdmNet::pretrained(&dev)?, n, dev)?;
    let params = DcdmParams {
        rtol,
        max_iters: 200,
        ..Default::default()
    };
    let rep = dcdm(&system, b.as_ref(), &mut model, &params)?;
    println!(
        "{:<10} {:>4} iterations  {:>8.3} s  ({:.3} s in the network)  ‖r‖/‖b‖ = {:.2e}",
        "dcdm", rep.iterations, rep.seconds, rep.model_seconds, rep.relative_residual
    );
    runs.push(("DCDM (shipped weights)".into(), rep.history));
    for (label, method) in [
        ("IC(0)-PCG", Method::Ic0Pcg),
        ("MG-PCG", Method::MgPcg),
        ("CG", Method::Cg),
    ] {
        let rep = solve(&system, b.as_ref(), &SolveParams::new(method).rtol(rtol))?;
        println!(
            "{:<10} {:>4} iterations  {:>8.3} s  (setup {:.3} s)  ‖r‖/‖b‖ = {:.2e}",
            method.name(),
            rep.iterations,
            rep.seconds + rep.setup_seconds,
            rep.setup_seconds,
            rep.relative_residual
        );
        runs.push((label.into(), rep.history));
    }

    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let kmax = runs.iter().map(|(_, h)| h.len()).max().unwrap_or(1) as f64;
    let root = SVGBackend::new(&out, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{scene_name} {n}³: relative residual ‖b − Ax‖/‖b‖"),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..kmax, (1e-7f64..2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .y_desc("‖r‖/‖b‖")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    let colors = [
        RGBColor(200, 30, 30),
        RGBColor(40, 150, 40),
        RGBColor(120, 60, 200),
        RGBColor(30, 110, 200),
    ];
    for (k, (name, h)) in runs.iter().enumerate() {
        let color = colors[k % colors.len()];
        let pts: Vec<(f64, f64)> = h
            .iter()
            .enumerate()
            .map(|(i, r)| (i as f64, r.max(1e-7)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    println!("wrote {out}");
    Ok(())
}
