//! What every solver run of the CLI is watched by: the `--time-limit`
//! deadline and a progress spinner on a terminal.
//!
//! Each subcommand passes [`observe`] as its solvers' observer. Past the
//! deadline it answers [`Control::Stop`]; the solver then ends with its
//! report so far (termination `cancelled`), which the CLI prints with
//! termination `"time_limit"` ([`termination`]) and exit code 1. The spinner
//! appears on standard error after one second, only when standard error is a
//! terminal (indicatif draws nothing into a pipe or a file), and is cleared
//! before the report is printed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use linalg_core::Control;

/// When the run started (first use) and, with `--time-limit`, when it must stop.
static START: OnceLock<Instant> = OnceLock::new();
static LIMIT: OnceLock<Duration> = OnceLock::new();
static FIRED: AtomicBool = AtomicBool::new(false);
static CALLS: AtomicU64 = AtomicU64::new(0);
static SPINNER: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Starts the clock and sets the time limit (seconds, already validated).
pub fn start(limit: Option<f64>) {
    let _ = START.set(Instant::now());
    if let Some(s) = limit {
        let _ = LIMIT.set(Duration::from_secs_f64(s));
    }
}

/// `--time-limit SECONDS`: a positive, finite number of seconds.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a time limit (seconds, > 0 and at most 1e9)"
        )),
    }
}

/// The time limit in force, in seconds.
pub fn limit_seconds() -> Option<f64> {
    LIMIT.get().map(Duration::as_secs_f64)
}

/// The observer of every solver run: stops the run past the deadline, and
/// keeps a spinner turning on a terminal.
pub fn observe<T>(_record: &T) -> Control {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let elapsed = START.get_or_init(Instant::now).elapsed();
    if LIMIT.get().is_some_and(|l| elapsed >= *l) {
        FIRED.store(true, Ordering::Relaxed);
        return Control::Stop;
    }
    if elapsed >= Duration::from_secs(1)
        && let Ok(mut sp) = SPINNER.lock()
    {
        let bar = sp.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b
        });
        if calls.is_multiple_of(16) {
            bar.set_message(format!("{calls} iterations"));
            bar.tick();
        }
    }
    Control::Continue
}

/// Whether a run was stopped by the time limit.
pub fn fired() -> bool {
    FIRED.load(Ordering::Relaxed)
}

/// A report's termination name as printed: `cancelled` becomes
/// `time_limit` when the time limit stopped the run.
pub fn termination(name: &'static str) -> &'static str {
    if fired() && name == "cancelled" {
        "time_limit"
    } else {
        name
    }
}

/// Clears the spinner (before a report is printed).
pub fn finish() {
    if let Ok(mut sp) = SPINNER.lock()
        && let Some(b) = sp.take()
    {
        b.finish_and_clear();
    }
}
