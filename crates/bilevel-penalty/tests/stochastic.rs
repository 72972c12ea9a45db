//! The stochastic methods on the benchopt-shaped quadratic.

use bilevel_penalty::instances::{StochasticQuadratic, StochasticQuadraticConfig};
use bilevel_penalty::*;

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "measurement: cargo test -p bilevel-penalty --release --test stochastic -- --ignored --nocapture"]
fn benchopt_quadratic_calls_to_target() {
    let q = StochasticQuadratic::new(&StochasticQuadraticConfig::default(), 0).unwrap();
    let (x0, y0) = q.benchopt_start();
    let target = q.psi_star() + 1e-4;
    eprintln!("psi* = {}, psi(x0) = {}", q.psi_star(), q.psi(x0.as_ref()));
    let seeds = env("SQ_SEEDS", 3.0) as u64;
    let method = std::env::var("SQ_METHOD").unwrap_or_else(|_| "all".into());
    for seed in 0..seeds {
        if method == "all" || method == "f2sa" {
            let t = std::time::Instant::now();
            let r = f2sa(
                &q,
                x0.as_ref(),
                Some(y0.as_ref()),
                &F2saParams::default()
                    .seed(seed)
                    .target(Some(target))
                    .max_iters(env("SQ_F2SA_ITERS", 100000.0) as usize),
                |_| Control::Continue,
            )
            .unwrap();
            eprintln!(
                "f2sa seed {seed}: {:?} after {} iterations, {} gradient calls, gap {:.3e}, sigma {:.3e}, {:.1} s",
                r.termination,
                r.iterations,
                r.calls.gradient_calls(),
                q.psi(r.x.as_ref()) - q.psi_star(),
                r.sigma,
                t.elapsed().as_secs_f64()
            );
        }
        for (name, v) in [
            ("double", Variant::DoubleLoop),
            ("storm", Variant::Storm),
            ("2ts", Variant::TwoTimeScale),
        ] {
            if method != "all" && method != name {
                continue;
            }
            let t = std::time::Instant::now();
            let p = StochasticParams::default()
                .variant(v)
                .seed(seed)
                .sigma(env("SQ_SIGMA", 0.1))
                .sigma_min(Some(env("SQ_SIGMA_MIN", 1e-3)))
                .stage_iters(env("SQ_STAGE", 200.0) as usize)
                .step_scale(env("SQ_STEP", 0.5))
                .outer_ratio(env("SQ_RATIO", 1.0))
                .momentum(env("SQ_ETA", 0.1))
                .inner_steps(env("SQ_T", 10.0) as usize)
                .step_decay(env("SQ_DECAY", 1.0))
                .decay_iters(env("SQ_K0", 500.0) as usize)
                .step_decay(env("SQ_DECAY", 1.0))
                .decay_iters(env("SQ_K0", 500.0) as usize)
                .max_iters(env("SQ_ITERS", 20000.0) as usize)
                .eval_every(10)
                .target(Some(target));
            let r = penalty_stochastic(&q, x0.as_ref(), Some(y0.as_ref()), &p, |_| {
                Control::Continue
            })
            .unwrap();
            eprintln!(
                "{name} seed {seed}: {:?} after {} iterations, {} gradient calls, gap {:.3e}, sigma {:.3e}, {:.1} s",
                r.termination,
                r.iterations,
                r.calls.gradient_calls(),
                q.psi(r.x.as_ref()) - q.psi_star(),
                r.sigma,
                t.elapsed().as_secs_f64()
            );
        }
    }
}

#[test]
#[ignore = "diagnostic"]
fn f2sa_trace() {
    let q = StochasticQuadratic::new(&StochasticQuadraticConfig::default(), 0).unwrap();
    let (x0, y0) = q.benchopt_start();
    let r = f2sa(
        &q,
        x0.as_ref(),
        Some(y0.as_ref()),
        &F2saParams::default()
            .max_iters(env("SQ_F2SA_ITERS", 3000.0) as usize)
            .eval_every(env("SQ_EVERY", 100.0) as usize),
        |_| Control::Continue,
    )
    .unwrap();
    for h in &r.history {
        eprintln!(
            "k {} sigma {:.3e} psi-gap {:.3e} value {:.3e} |d| {:.3e}",
            h.iteration,
            h.sigma,
            h.psi.unwrap() - q.psi_star(),
            h.value,
            h.grad_norm
        );
    }
}

#[test]
#[ignore = "diagnostic"]
fn ours_trace() {
    let q = StochasticQuadratic::new(&StochasticQuadraticConfig::default(), 0).unwrap();
    let (x0, y0) = q.benchopt_start();
    eprintln!(
        "x* = {:?}",
        q.x_star()
            .iter()
            .map(|v| format!("{v:.3}"))
            .collect::<Vec<_>>()
    );
    let v = match std::env::var("SQ_METHOD").as_deref() {
        Ok("storm") => Variant::Storm,
        Ok("double") => Variant::DoubleLoop,
        _ => Variant::TwoTimeScale,
    };
    let p = StochasticParams::default()
        .variant(v)
        .sigma(env("SQ_SIGMA", 0.1))
        .sigma_min(Some(env("SQ_SIGMA_MIN", 1e-3)))
        .stage_iters(env("SQ_STAGE", 200.0) as usize)
        .step_scale(env("SQ_STEP", 0.5))
        .outer_ratio(env("SQ_RATIO", 1.0))
        .inner_steps(env("SQ_T", 10.0) as usize)
        .step_decay(env("SQ_DECAY", 1.0))
        .decay_iters(env("SQ_K0", 500.0) as usize)
        .max_iters(env("SQ_ITERS", 20000.0) as usize)
        .eval_every(env("SQ_EVERY", 1000.0) as usize);
    let r = penalty_stochastic(&q, x0.as_ref(), Some(y0.as_ref()), &p, |_| {
        Control::Continue
    })
    .unwrap();
    for h in &r.history {
        eprintln!(
            "k {} calls {} sigma {:.3e} psi-gap {:.3e} value {:.3e} |d| {:.3e}",
            h.iteration,
            h.gradient_calls,
            h.sigma,
            h.psi.unwrap() - q.psi_star(),
            h.value,
            h.grad_norm
        );
    }
}
