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

use optlab::sinkhorn_newton::{
    Control, OtRecord, SinkhornParams, SnsParams, instances, sinkhorn, sns,
};
use optlab_examples::{Panel, Series, panels_svg};

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
    let problem = instances::random_assignment(500, 0)?.problem(1.0 / 1200.0)?;
    let newton = sns(&problem, &SnsParams::default(), |_| Control::Continue)?;
    let plain = sinkhorn(
        &problem,
        &SinkhornParams {
            check_every: 10,
            max_iters: 200_000,
            ..Default::default()
        },
        None,
        |_| Control::Continue,
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

    let panel = |by_time: bool| Panel {
        title: if by_time {
            "marginal error vs time"
        } else {
            "marginal error vs iteration"
        }
        .into(),
        x_desc: if by_time { "seconds" } else { "iteration" }.into(),
        y_desc: "‖r − P1‖₁ + ‖c − Pᵀ1‖₁".into(),
        log_x: true,
        series: vec![
            Series::line(
                "Sinkhorn (kernel + absorption)",
                points(&plain.history, by_time),
            ),
            Series {
                markers: true,
                ..Series::line(
                    "SNS (20 Sinkhorn + Newton)",
                    points(&newton.history, by_time),
                )
            },
        ],
    };
    panels_svg(&out, (1000, 420), &[panel(false), panel(true)])?;
    println!("wrote {out}");
    Ok(())
}
