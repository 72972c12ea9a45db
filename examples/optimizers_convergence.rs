//! Every method of the `optimizers` crate on ℓ2-regularised logistic
//! regression (breast cancer, standardised, λ = 1e-3, from zeros):
//! f − f* against iteration, written as an SVG plot.
//!
//! ```text
//! cargo run --release --example optimizers_convergence [-- OUT.svg]
//! ```
//!
//! Default output: `docs/figures/optimizers_logistic.svg`. f* is the value
//! gradient-regularised Newton reaches at ‖∇f‖ ≤ 1e-13 (then f − f* ≤
//! ‖∇f‖²/(2λ) ≈ 1e-23 by strong convexity).

use std::error::Error;

use optlab::linalg_core::faer::{Col, Side};
use optlab::linalg_core::{Control, Objective};

use optlab::optimizers::{
    AdamParams, GrnParams, HessianKind, Method, OptReport, Regularisation, RunParams, grn, minimize,
};
use optlab_examples::{Panel, Series, panels_svg};

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/figures/optimizers_logistic.svg".into());
    let lambda = 1e-3;
    let f = optlab::datasets::objectives::logistic("breast_cancer", lambda)?;
    let x0 = Col::<f64>::zeros(f.dim());
    let h0 = f.hessian(x0.as_ref()).ok_or("no Hessian")?;
    let l = *h0
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| format!("{e:?}"))?
        .last()
        .ok_or("empty")?;
    let run = RunParams {
        max_iters: 2000,
        grad_tol: 1e-10,
        ..Default::default()
    };
    let best = grn(
        &f,
        x0.as_ref(),
        &GrnParams {
            run: RunParams {
                grad_tol: 1e-13,
                ..run
            },
            ..Default::default()
        },
        |_| Control::Continue,
    )?;
    let fstar = best.value;
    let grn_run = |hessian, regularisation| -> Result<OptReport, Box<dyn Error>> {
        Ok(grn(
            &f,
            x0.as_ref(),
            &GrnParams {
                run,
                hessian,
                regularisation,
                ..Default::default()
            },
            |_| Control::Continue,
        )?)
    };
    let gn = Regularisation::GradNorm { gamma0: 1.0 };
    let adam = AdamParams::lr(0.05);
    let mut runs: Vec<(&str, OptReport)> = vec![
        ("GRN (exact)", grn_run(HessianKind::Exact, gn)?),
        ("GRN (Fisher)", grn_run(HessianKind::Fisher, gn)?),
        ("GRN (diagonal)", grn_run(HessianKind::Diagonal, gn)?),
        (
            "Mishchenko",
            grn_run(HessianKind::Exact, Regularisation::Mishchenko { h0: 1.0 })?,
        ),
    ];
    for (name, method) in [
        ("GD 1/L", Method::Gd { lr: 1.0 / l }),
        ("GD Armijo", Method::GdArmijo { lr0: 1.0 }),
        ("Nesterov", Method::Nesterov { l, mu: lambda }),
        ("Triple momentum", Method::Tmm { l, mu: lambda }),
        ("Adam lr 0.05", Method::Adam(adam)),
        ("AMSGrad lr 0.05", Method::AmsGrad(adam)),
        ("diffGrad lr 0.05", Method::DiffGrad(adam)),
    ] {
        runs.push((
            name,
            minimize(&f, x0.as_ref(), method, &run, |_| Control::Continue)?,
        ));
    }
    println!("f* = {fstar:.15} (‖∇f‖ = {:.1e})", best.grad_norm);
    for (name, r) in &runs {
        println!(
            "{name:<18} {:>5} iterations, f − f* = {:.1e}, ‖∇f‖ = {:.1e}",
            r.iterations,
            (r.value - fstar).max(0.0),
            r.grad_norm
        );
    }

    let series = runs
        .iter()
        .map(|(name, r)| {
            let pts = r
                .history
                .iter()
                .map(|h| ((h.iteration + 1) as f64, (h.value - fstar).max(1e-14)))
                .collect();
            Series::line(*name, pts)
        })
        .collect();
    let panel = Panel {
        title: "logistic regression, breast cancer (λ = 1e-3): f − f*".into(),
        x_desc: "iteration + 1".into(),
        y_desc: "f − f*".into(),
        log_x: true,
        series,
    };
    panels_svg(&out, (900, 560), &[panel])?;
    println!("wrote {out}");
    Ok(())
}
