//! Sinkhorn vs Sinkhorn-Newton-Sparse on the paper's random assignment
//! problem (n = 500, C ~ U[0, 1], uniform marginals, η = 1200): marginal
//! error against iteration and against time, written as an SVG plot.
//!
//! ```text
//! cargo run --release --example ot_convergence [-- OUT.svg]
//! ```
//!
//! Default output: `docs/figures/ot_convergence.svg`. Both runs stop at
//! marginal error 1e-9; SNS's answer is checked against Sinkhorn's.

use std::error::Error;

use optlab::sinkhorn_newton::{OtRecord, SinkhornParams, SnsParams, problems, sinkhorn, sns};
use plotters::prelude::*;

fn points(history: &[OtRecord], by_time: bool) -> Vec<(f64, f64)> {
    history
        .iter()
        .filter(|h| h.marginal_error.is_finite() && h.marginal_error > 0.0)
        .map(|h| {
            let x = if by_time {
                h.seconds
            } else {
                h.iteration as f64
            };
            (x, h.marginal_error)
        })
        .collect()
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/figures/ot_convergence.svg".into());
    let problem = problems::random_assignment(500, 0)?.problem(1.0 / 1200.0)?;
    let newton = sns(&problem, &SnsParams::default())?;
    let plain = sinkhorn(
        &problem,
        &SinkhornParams {
            check_every: 10,
            max_iters: 200_000,
            ..Default::default()
        },
        None,
    )?;
    println!(
        "SNS:      {} Sinkhorn + {} Newton iterations, {:.3} s, marginal error {:.1e}",
        newton.sinkhorn_iterations,
        newton.newton_iterations,
        newton.elapsed.as_secs_f64(),
        newton.marginal_error
    );
    println!(
        "Sinkhorn: {} iterations, {:.3} s, marginal error {:.1e}",
        plain.iterations,
        plain.elapsed.as_secs_f64(),
        plain.marginal_error
    );
    let gap = (newton.cost - plain.cost).abs() / plain.cost;
    println!("relative difference of the transport costs: {gap:.1e}");
    if !(newton.converged && plain.converged && gap < 1e-6) {
        return Err("the two solvers disagree".into());
    }

    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(&out, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    for (panel, by_time) in panels.iter().zip([false, true]) {
        let (sp, np) = (
            points(&plain.history, by_time),
            points(&newton.history, by_time),
        );
        let xmax = sp.iter().chain(&np).map(|p| p.0).fold(1.0f64, f64::max) * 1.5;
        let xmin = if by_time { 1e-3 } else { 1.0 };
        let mut chart = ChartBuilder::on(panel)
            .caption(
                if by_time {
                    "marginal error vs time"
                } else {
                    "marginal error vs iteration"
                },
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((xmin..xmax).log_scale(), (1e-11f64..1.0).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(if by_time { "seconds" } else { "iteration" })
            .y_desc("‖r − P1‖₁ + ‖c − Pᵀ1‖₁")
            .draw()?;
        chart
            .draw_series(LineSeries::new(sp, &BLUE))?
            .label("Sinkhorn (kernel + absorption)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(np.clone(), &RED))?
            .label("SNS (20 Sinkhorn + Newton)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart.draw_series(np.into_iter().map(|p| Circle::new(p, 2, RED.filled())))?;
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
    }
    root.present()?;
    println!("wrote {out}");
    Ok(())
}
