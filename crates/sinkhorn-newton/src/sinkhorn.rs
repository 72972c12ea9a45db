//! Sinkhorn's algorithm on the dual potentials.
//!
//! ```text
//! Algorithm (log-domain Sinkhorn, Tang et al. 2024 Alg. 1 lines 1–4; Cuturi 2013)
//!   input: r, c, C, ε;  x = 0, y = 0
//!   repeat
//!     x_i ← ε (log r_i + 1 − LSE_j((y_j − C_ij)/ε))      # exact block maximiser in x
//!     y_j ← ε (log c_j + 1 − LSE_i((x_i − C_ij)/ε))      # exact block maximiser in y
//!   until ‖r − P1‖₁ + ‖c − Pᵀ1‖₁ < marginal_tol,  P_ij = exp((x_i + y_j − C_ij)/ε − 1)
//! ```
//!
//! Deviations: by default the sweeps after the first run in kernel space
//! (`u = r/(Kv)`, `v = c/(Kᵀu)` with the stabilised kernel
//! `K = exp((x_i + y_j − C_ij)/ε − 1)`, Schmitzer 2019) with absorption of
//! `u, v` into `(x, y)` when they leave `[1e−50, 1e50]` and a log-domain
//! sweep when a product underflows; the error is checked every
//! `check_every` sweeps; optional ε-scaling runs a decreasing sequence of
//! regularisations first.

use linalg_core::faer::ColRef;
use linalg_core::{Control, Recorder, Termination};

use crate::params::{SinkhornMethod, SinkhornParams};
use crate::problem::OtProblem;
use crate::report::{OtRecord, OtReport, Stage};
use crate::state::{KernelState, State};
use crate::{Error, Result};

/// Sinkhorn from zero potentials or a warm start `(x, y)` (on the input
/// indices, length `n` and `m`). The observer sees every sweep
/// (`marginal_error` is NaN on sweeps without a check) and may stop the run.
pub fn sinkhorn(
    problem: &OtProblem,
    params: &SinkhornParams,
    warm: Option<(ColRef<'_, f64>, ColRef<'_, f64>)>,
    observer: impl FnMut(&OtRecord) -> Control,
) -> Result<OtReport> {
    params.validate()?;
    let mut st = State::new(problem);
    if let Some((x0, y0)) = warm {
        let (n, m) = problem.shape();
        if x0.nrows() != n || y0.nrows() != m {
            return Err(Error::Shape {
                expected: (n, m),
                found: (x0.nrows(), y0.nrows()),
            });
        }
        linalg_core::param::finite("warm_x", x0)?;
        linalg_core::param::finite("warm_y", y0)?;
        for (k, &i) in problem.rows().iter().enumerate() {
            st.x[k] = x0[i];
        }
        for (k, &j) in problem.cols().iter().enumerate() {
            st.y[k] = y0[j];
        }
    }
    let schedule = match params.eps_scaling {
        Some(sc) => sc.schedule(problem.reg)?,
        None => vec![problem.reg],
    };
    let mut rec = Recorder::new(params.max_iters, observer);
    let mut it = 0;
    let mut kernel = KernelState::default();
    let mut termination = None;
    for (stage, &eps) in schedule.iter().enumerate() {
        let last = stage + 1 == schedule.len();
        let stage_tol = match (last, params.eps_scaling) {
            (false, Some(sc)) => sc.stage_tol.max(params.marginal_tol),
            _ => params.marginal_tol,
        };
        // The kernel depends on ε: fold the scalings in with the old ε first.
        kernel.absorb(&mut st);
        st.eps = eps;
        let first = it;
        while termination.is_none() {
            let used_kernel =
                params.method == SinkhornMethod::Auto && it > first && st.kernel_sweep(&mut kernel);
            if !used_kernel {
                kernel.absorb(&mut st);
                st.sweep();
            }
            it += 1;
            let check = (it - first) % params.check_every == 0 || it == params.max_iters;
            let err = match (check, kernel.k.is_empty()) {
                (false, _) => f64::NAN,
                (true, false) => st.kernel_error(&mut kernel),
                (true, true) => st.marginal_error(),
            };
            if err.is_nan() && check {
                return Err(Error::NonFinite("potentials"));
            }
            let record = OtRecord {
                iteration: it,
                stage: Stage::Sinkhorn,
                marginal_error: err,
                seconds: rec.seconds(),
            };
            termination = rec.record(record, last && check && err < stage_tol);
            if !last && check && err < stage_tol {
                break;
            }
        }
        if termination.is_some() {
            break;
        }
    }
    kernel.absorb(&mut st);
    let termination = termination.unwrap_or(Termination::MaxIterations);
    let (history, elapsed) = rec.finish();
    st.report(history, (it, 0), termination, elapsed)
}
