//! SVG figures of the analyses (feature `plots`, plotters): the spectral
//! density on a log scale, ordered eigenvalues with the outlier gap marked,
//! sharpness against `2/η`, and neural-collapse metrics along training.
//! Every function writes one file and creates its parent directory.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::slq::SpectralDensity;
use crate::stability::StabilityRun;

/// A plotting or file error, as text (the CLI names the file with it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlotError(String);

fn err(e: impl std::fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

const COLORS: [RGBColor; 7] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 110, 200),
    RGBColor(40, 150, 40),
    RGBColor(120, 60, 200),
    RGBColor(220, 140, 20),
    RGBColor(20, 160, 160),
    RGBColor(90, 90, 90),
];

fn root(path: &Path, size: (u32, u32)) -> Result<DrawingArea<SVGBackend<'_>, Shift>, PlotError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    Ok(root)
}

fn positive_range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|y| y.is_finite() && *y > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
    if hi > 0.0 {
        (lo / 2.0, hi * 2.0)
    } else {
        (1e-12, 1.0)
    }
}

/// The SLQ density on `points` grid points between its range's ends,
/// log-scale density axis (PyHessian's `get_esd_plot` adds 1e-7 too).
pub fn density_svg(path: &Path, density: &SpectralDensity, points: usize) -> Result<(), PlotError> {
    let (lo, hi) = density.range();
    let pad = 0.05 * (hi - lo).max(1e-12);
    let m = points.clamp(2, 100_000);
    let grid: Vec<f64> = (0..m)
        .map(|i| lo - pad + (hi - lo + 2.0 * pad) * i as f64 / (m - 1) as f64)
        .collect();
    let values = density.evaluate(&grid);
    let pts: Vec<(f64, f64)> = grid
        .iter()
        .zip(&values)
        .map(|(x, y)| (*x, y + 1e-7))
        .collect();
    let (ymin, ymax) = positive_range(pts.iter().map(|p| p.1));
    let root = root(path, (900, 560))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("spectral density (SLQ)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((lo - pad)..(hi + pad), (ymin..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("eigenvalue")
        .y_desc("density (log scale)")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(pts, COLORS[1].stroke_width(2)))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Ordered eigenvalues `|λ|` (largest first, log scale; positive ones
/// red, negative blue) with a vertical line after the first `outliers`.
pub fn eigenvalues_svg(path: &Path, eigenvalues: &[f64], outliers: usize) -> Result<(), PlotError> {
    let mut ev = eigenvalues.to_vec();
    ev.sort_by(|a, b| b.total_cmp(a));
    let (ymin, ymax) = positive_range(ev.iter().map(|v| v.abs()));
    let ymin = ymin.max(ymax * 1e-14);
    let n = ev.len().max(2) as f64;
    let root = root(path, (900, 560))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("ordered eigenvalues: {outliers} outliers"),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((0.8..n * 1.2).log_scale(), (ymin..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("index (largest first)")
        .y_desc("|eigenvalue|")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(err)?;
    let dots = |positive: bool| {
        ev.iter()
            .enumerate()
            .filter(move |(_, v)| (**v > 0.0) == positive && v.abs() >= ymin)
            .map(|(i, v)| ((i + 1) as f64, v.abs()))
            .collect::<Vec<_>>()
    };
    for (positive, color, label) in [(true, COLORS[0], "λ > 0"), (false, COLORS[1], "λ < 0")] {
        chart
            .draw_series(
                dots(positive)
                    .into_iter()
                    .map(|p| Circle::new(p, 2, color.filled())),
            )
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
    }
    let gap = outliers as f64 + 0.5;
    chart
        .draw_series(LineSeries::new(
            vec![(gap, ymin), (gap, ymax)],
            COLORS[6].stroke_width(1),
        ))
        .map_err(err)?
        .label("outlier gap")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], COLORS[6]));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Two panels for a set of runs: `λ_max·η/2` and `Tr H·η/2` against the
/// step count, with the stability line at 1 (where the quantity equals
/// `2/η`).
pub fn stability_svg(path: &Path, runs: &[StabilityRun]) -> Result<(), PlotError> {
    let root = root(path, (1200, 520))?;
    let areas = root.split_evenly((1, 2));
    type Pick = fn(&crate::stability::StabilityPoint) -> f64;
    let panels: [(&str, Pick); 2] = [
        ("λ_max·η/2 (GD stable ≤ 1)", |p| p.lambda_max_eta_half),
        ("Tr H·η/2 (SGD B=1 stable ≤ 1)", |p| p.trace_eta_half),
    ];
    for (area, (title, pick)) in areas.iter().zip(panels) {
        let all = runs.iter().flat_map(|r| r.points.iter().map(pick));
        let (ymin, ymax) = positive_range(all.chain([1.0]));
        let xmax = runs
            .iter()
            .flat_map(|r| r.points.iter().map(|p| p.steps as f64))
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((1.0..xmax * 1.2).log_scale(), (ymin..ymax).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("steps")
            .y_label_formatter(&|y| format!("{y:.1e}"))
            .draw()
            .map_err(err)?;
        for (k, r) in runs.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let pts: Vec<(f64, f64)> = r
                .points
                .iter()
                .map(|p| ((p.steps as f64).max(1.0), pick(p)))
                .filter(|p| p.1.is_finite() && p.1 > 0.0)
                .collect();
            let label = if r.batch == 1 {
                format!("SGD B=1, η={}", r.lr)
            } else {
                format!("B={}, η={}", r.batch, r.lr)
            };
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .draw_series(LineSeries::new(
                vec![(1.0, 1.0), (xmax * 1.2, 1.0)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Named curves `(epoch, value)` on a log scale (neural-collapse metrics
/// along training).
pub fn curves_svg(
    path: &Path,
    title: &str,
    x_desc: &str,
    curves: &[(String, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    let (ymin, ymax) = positive_range(curves.iter().flat_map(|c| c.1.iter().map(|p| p.1)));
    let xmax = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let root = root(path, (900, 560))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, (ymin..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(err)?;
    for (k, (label, pts)) in curves.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let pts: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
