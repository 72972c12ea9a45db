//! Runnable examples of the optlab workspace (this library is empty; the
//! examples are the content):
//!
//! - `cg_poisson`: CG with an observer and residual history on a 2-D Poisson
//!   problem, checked against the exact solution.
//! - `lanczos_spectrum`: Ritz values of a random SPD matrix with a chosen
//!   spectrum, against that spectrum.
//! - `datasets_tour`: the embedded datasets, standardised and split.
//! - `ot_convergence`: Sinkhorn vs Sinkhorn-Newton-Sparse on the paper's
//!   random assignment problem; writes the marginal-error plot (SVG).
//! - `optimizers_convergence`: every optimizer on logistic regression
//!   (breast cancer); writes the f − f* plot (SVG).
//! - `dcdm_residuals` (feature `burn`): DCDM with the shipped weights against
//!   CG, IC(0)-PCG and MG-PCG on a fluid scene; writes the residual plot (SVG).
//!
//! Run one with `cargo run --release --example NAME`.

#![warn(missing_docs)]

use std::error::Error;

use plotters::prelude::*;

/// One curve of a plot: a label, points `(x, y)` with `y > 0`, and whether
/// to mark each point (for sparse series such as Newton steps).
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// The points; non-positive or non-finite `y` are left out (log axis).
    pub points: Vec<(f64, f64)>,
    /// Draw a dot at each point as well as the line.
    pub markers: bool,
}

impl Series {
    /// A line without markers.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            markers: false,
        }
    }
}

/// One panel: a semilog-y chart (log-log with `log_x`).
#[derive(Debug, Clone)]
pub struct Panel {
    /// Caption.
    pub title: String,
    /// The x axis label.
    pub x_desc: String,
    /// The y axis label.
    pub y_desc: String,
    /// Logarithmic x axis (x must be positive).
    pub log_x: bool,
    /// The curves.
    pub series: Vec<Series>,
}

/// A semilog-y plot of `series` against the iteration (linear x), as SVG.
pub fn semilogy_svg(path: &str, title: &str, series: Vec<Series>) -> Result<(), Box<dyn Error>> {
    let panel = Panel {
        title: title.into(),
        x_desc: "iteration".into(),
        y_desc: "residual".into(),
        log_x: false,
        series,
    };
    panels_svg(path, (900, 560), &[panel])
}

/// Several semilog-y panels side by side in one SVG of `size` pixels; the
/// parent directory is created. The shared plot code of every example.
pub fn panels_svg(path: &str, size: (u32, u32), panels: &[Panel]) -> Result<(), Box<dyn Error>> {
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    panel: &Panel,
) -> Result<(), Box<dyn Error>> {
    let pts = |s: &Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .copied()
            .filter(|(x, y)| {
                x.is_finite() && y.is_finite() && *y > 0.0 && (!panel.log_x || *x > 0.0)
            })
            .collect()
    };
    let all: Vec<(f64, f64)> = panel.series.iter().flat_map(pts).collect();
    let fold = |f: fn(f64, f64) -> f64, init: f64, g: fn(&(f64, f64)) -> f64| {
        all.iter().map(g).fold(init, f)
    };
    let (xmin, xmax) = (
        fold(f64::min, f64::INFINITY, |p| p.0),
        fold(f64::max, 0.0, |p| p.0),
    );
    let (ymin, ymax) = (
        fold(f64::min, f64::INFINITY, |p| p.1),
        fold(f64::max, 0.0, |p| p.1),
    );
    let (ymin, ymax) = if all.is_empty() {
        (1e-12, 1.0)
    } else {
        (ymin / 2.0, ymax * 2.0)
    };
    let mut chart = ChartBuilder::on(area);
    chart
        .caption(&panel.title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60);
    let colors = [
        RGBColor(200, 30, 30),
        RGBColor(30, 110, 200),
        RGBColor(40, 150, 40),
        RGBColor(120, 60, 200),
        RGBColor(220, 140, 20),
        RGBColor(20, 160, 160),
        RGBColor(90, 90, 90),
        RGBColor(200, 60, 150),
    ];
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(panel.x_desc.as_str())
                .y_desc(panel.y_desc.as_str())
                .y_label_formatter(&|y| format!("{y:.0e}"))
                .draw()?;
            for (k, s) in panel.series.iter().enumerate() {
                let color = colors[k % colors.len()];
                let p = pts(s);
                chart
                    .draw_series(LineSeries::new(p.clone(), color.stroke_width(2)))?
                    .label(s.label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
                if s.markers {
                    chart.draw_series(p.into_iter().map(|q| Circle::new(q, 2, color.filled())))?;
                }
            }
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE)
                .draw()?;
        }};
    }
    if panel.log_x {
        let (lo, hi) = if all.is_empty() {
            (1.0, 10.0)
        } else {
            (xmin / 1.5, xmax * 1.5)
        };
        draw!(chart.build_cartesian_2d((lo..hi).log_scale(), (ymin..ymax).log_scale())?);
    } else {
        let hi = if all.is_empty() {
            1.0
        } else {
            xmax.max(xmin + 1.0)
        };
        draw!(chart.build_cartesian_2d(xmin.min(0.0)..hi, (ymin..ymax).log_scale())?);
    }
    Ok(())
}
