//! Vocabulary shared by every iterative solver in the workspace.
//!
//! A solver is `params → validate() → solve(problem, &params, observer) →
//! report`. While it runs, a [`Recorder`] keeps the history (one record per
//! iterate, starting with iteration 0), calls the observer on each record,
//! times the run and applies the stopping tests in one fixed order:
//! the observer's [`Control::Stop`] first ([`Termination::Cancelled`]), then
//! the method's convergence test ([`Termination::Converged`]), then the
//! iteration limit ([`Termination::MaxIterations`]). "Keep going" is `None`,
//! never a termination reason.
//!
//! Every report then has the same fields where they apply: `iterations`,
//! `converged`, `termination`, `history: Vec<Record>` (each record has
//! `iteration`, the quantities the method plots, and `seconds`), `elapsed`
//! and `work` (a [`Work`] count of operator applications and evaluations,
//! so methods can be compared at equal work).
//!
//! ```
//! use linalg_core::solver::{Control, Recorder, Termination, IterationRecord};
//! #[derive(Clone, Copy)]
//! struct Rec { iteration: usize, value: f64, seconds: f64 }
//! impl IterationRecord for Rec {
//!     fn iteration(&self) -> usize { self.iteration }
//!     fn seconds(&self) -> f64 { self.seconds }
//! }
//! // Halve a number until it is below 1e-3, at most 100 times; stop from the observer at 3.
//! let mut rec = Recorder::new(100, |r: &Rec| if r.iteration == 3 { Control::Stop } else { Control::Continue });
//! let mut v = 1.0;
//! let mut k = 0;
//! let mut stop = rec.record(Rec { iteration: 0, value: v, seconds: rec.seconds() }, v < 1e-3);
//! while stop.is_none() {
//!     k += 1;
//!     v *= 0.5;
//!     stop = rec.record(Rec { iteration: k, value: v, seconds: rec.seconds() }, v < 1e-3);
//! }
//! assert_eq!(stop, Some(Termination::Cancelled));
//! assert_eq!(rec.history().len(), 4);
//! ```

use std::time::{Duration, Instant};

/// Why an iterative method stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Termination {
    /// The convergence test passed.
    Converged,
    /// The iteration limit was reached first.
    MaxIterations,
    /// Progress stopped (no decrease over the stall window).
    Stalled,
    /// The method broke down (e.g. an invariant Krylov subspace was found).
    Breakdown,
    /// An observer asked to stop.
    Cancelled,
}

impl Termination {
    /// Stable lower-case name used in JSON reports (`"converged"`, `"max_iterations"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Termination::Converged => "converged",
            Termination::MaxIterations => "max_iterations",
            Termination::Stalled => "stalled",
            Termination::Breakdown => "breakdown",
            Termination::Cancelled => "cancelled",
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Termination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Serialises a [`Duration`] as seconds (`f64`): the reports' `elapsed`
/// appears in JSON as `seconds`.
#[cfg(feature = "serde")]
pub fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an observer tells the solver after seeing an iterate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Control {
    /// Keep iterating.
    #[default]
    Continue,
    /// Stop now; the report's termination is [`Termination::Cancelled`].
    Stop,
}

/// What every per-iteration record has: its iteration number and the time
/// since the start of the run.
pub trait IterationRecord: Clone {
    /// Iterations completed (0 = the starting point).
    fn iteration(&self) -> usize;
    /// Seconds since the start of the run.
    fn seconds(&self) -> f64;
}

/// Implements [`IterationRecord`] for record structs with the fields
/// `iteration: usize` and `seconds: f64` (every record of the workspace).
#[macro_export]
macro_rules! impl_iteration_record {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::solver::IterationRecord for $ty {
            fn iteration(&self) -> usize {
                self.iteration
            }
            fn seconds(&self) -> f64 {
                self.seconds
            }
        }
    )*};
}

/// The work a run did, counted where it is done, so methods can be compared
/// at equal work. Fields that do not apply to a method stay 0.
///
/// Rejected trials count: a line-search or regularisation trial that was
/// thrown away still evaluated its gradient.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Work {
    /// Applications of the system operator (`A x`, the kernel `K v` / `Kᵀu`,
    /// a Hessian operator inside an inner Krylov solve).
    pub matvecs: usize,
    /// Applications of a preconditioner (or a direction model).
    pub precond_applies: usize,
    /// Objective values computed on their own (without a gradient).
    pub value_evals: usize,
    /// Gradient evaluations (each also gives the value).
    pub gradient_evals: usize,
    /// Hessian-vector products.
    pub hessian_vec_evals: usize,
    /// Curvature models formed (dense Hessians, approximations, factorisations).
    pub hessian_evals: usize,
    /// Step trials of line searches or regularisation searches, accepted or not.
    pub trials: usize,
}

impl Work {
    /// Adds `other`'s counts to `self` (an inner solve's work to its caller's).
    pub fn add(&mut self, other: &Work) {
        self.matvecs += other.matvecs;
        self.precond_applies += other.precond_applies;
        self.value_evals += other.value_evals;
        self.gradient_evals += other.gradient_evals;
        self.hessian_vec_evals += other.hessian_vec_evals;
        self.hessian_evals += other.hessian_evals;
        self.trials += other.trials;
    }

    /// `(name, count)` for every field, in declaration order (for reports).
    pub fn entries(&self) -> [(&'static str, usize); 7] {
        [
            ("matvecs", self.matvecs),
            ("precond_applies", self.precond_applies),
            ("value_evals", self.value_evals),
            ("gradient_evals", self.gradient_evals),
            ("hessian_vec_evals", self.hessian_vec_evals),
            ("hessian_evals", self.hessian_evals),
            ("trials", self.trials),
        ]
    }
}

/// Records kept before a history is thinned ([`Recorder`]).
pub const HISTORY_CAP: usize = 1 << 16;

/// The history, the observer, the clock and the stopping tests of one run.
///
/// Generic over the record type `R` so each method keeps the quantities it
/// plots; see the module documentation for the order of the tests.
///
/// The history's memory is bounded whatever the iteration limit: once it
/// holds [`HISTORY_CAP`] records, every other one is dropped and from then
/// on one record in two (four, …) is kept, so a run of 10⁹ iterations keeps
/// between 2¹⁵ and 2¹⁶ evenly spaced records. The first record and the last
/// one are always kept; each record carries its own iteration number. The
/// observer still sees every record.
pub struct Recorder<R, O> {
    start: Instant,
    max_iters: usize,
    observer: O,
    history: Vec<R>,
    /// Keep one record in `stride`.
    stride: usize,
    /// Records seen since the last one kept.
    since: usize,
    /// The newest record when it was not kept (restored by `finish`).
    latest: Option<R>,
}

impl<R: IterationRecord, O: FnMut(&R) -> Control> Recorder<R, O> {
    /// Starts the clock; `max_iters` is the iteration limit the records are
    /// tested against.
    pub fn new(max_iters: usize, observer: O) -> Self {
        Self {
            start: Instant::now(),
            max_iters,
            observer,
            history: Vec::new(),
            stride: 1,
            since: 0,
            latest: None,
        }
    }

    /// Stores `record`, shows it to the observer and returns the termination
    /// it triggers, or `None` to keep going. `converged` is the method's own
    /// convergence test on this iterate.
    pub fn record(&mut self, record: R, converged: bool) -> Option<Termination> {
        let iteration = record.iteration();
        let control = (self.observer)(&record);
        self.keep(record);
        if control == Control::Stop {
            Some(Termination::Cancelled)
        } else if converged {
            Some(Termination::Converged)
        } else if iteration >= self.max_iters {
            Some(Termination::MaxIterations)
        } else {
            None
        }
    }
}

impl<R, O> Recorder<R, O> {
    /// Seconds since [`Recorder::new`] (for the record being built).
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Stores a record without consulting the observer or the tests (a last
    /// record that a method adds after it stopped for another reason).
    pub fn push_silent(&mut self, record: R) {
        self.keep(record);
    }

    /// Stores `record`, or holds it as the newest while the history is
    /// thinned, and thins the history when it reaches [`HISTORY_CAP`].
    fn keep(&mut self, record: R) {
        self.since += 1;
        if self.history.is_empty() || self.since >= self.stride {
            self.history.push(record);
            self.since = 0;
            self.latest = None;
        } else {
            self.latest = Some(record);
        }
        if self.history.len() >= HISTORY_CAP {
            // The newest record (an odd position) is held back, the rest
            // keep their even positions: the spacing doubles evenly.
            self.latest = self.history.pop();
            let mut k = 0;
            self.history.retain(|_| {
                k += 1;
                (k - 1) % 2 == 0
            });
            self.since = self.stride;
            self.stride *= 2;
        }
    }

    /// The records kept so far (without the newest one while it is held
    /// back by thinning; see [`Recorder::last`]).
    pub fn history(&self) -> &[R] {
        &self.history
    }

    /// The last record, if any.
    pub fn last(&self) -> Option<&R> {
        self.latest.as_ref().or(self.history.last())
    }

    /// Wall time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The history and the elapsed time, for the report.
    pub fn finish(mut self) -> (Vec<R>, Duration) {
        let elapsed = self.start.elapsed();
        if let Some(r) = self.latest.take() {
            self.history.push(r);
        }
        (self.history, elapsed)
    }
}

/// `|f_prev − f| ≤ f_tol·max(1, |f_prev|)` with `f_tol > 0`: the relative
/// change test of objective-based methods (`f_tol = 0` disables it).
pub fn small_change(f_prev: f64, f: f64, f_tol: f64) -> bool {
    f_tol > 0.0 && (f_prev - f).abs() <= f_tol * f_prev.abs().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    struct R(usize);
    impl IterationRecord for R {
        fn iteration(&self) -> usize {
            self.0
        }
        fn seconds(&self) -> f64 {
            0.0
        }
    }

    #[test]
    fn tests_run_in_order_cancelled_converged_max_iterations() {
        let mut rec = Recorder::new(2, |_: &R| Control::Continue);
        assert_eq!(rec.record(R(0), false), None);
        assert_eq!(rec.record(R(1), false), None);
        assert_eq!(rec.record(R(2), false), Some(Termination::MaxIterations));
        let mut rec = Recorder::new(2, |_: &R| Control::Continue);
        assert_eq!(rec.record(R(2), true), Some(Termination::Converged));
        let mut rec = Recorder::new(2, |_: &R| Control::Stop);
        assert_eq!(rec.record(R(0), true), Some(Termination::Cancelled));
        assert_eq!(rec.history().len(), 1);
    }

    #[test]
    fn long_histories_are_thinned_evenly_and_keep_both_ends() {
        let mut rec = Recorder::new(usize::MAX, |_: &R| Control::Continue);
        let n = 3 * HISTORY_CAP + 5;
        for i in 0..n {
            assert_eq!(rec.record(R(i), false), None);
            assert!(rec.history().len() < HISTORY_CAP);
            assert_eq!(rec.last().unwrap().0, i);
        }
        let (h, _) = rec.finish();
        assert!(
            h.len() > HISTORY_CAP / 4 && h.len() <= HISTORY_CAP,
            "{}",
            h.len()
        );
        assert_eq!(h[0].0, 0);
        assert_eq!(h[h.len() - 1].0, n - 1);
        // Evenly spaced (stride 4 after two thinnings), the last one aside.
        for w in h[..h.len() - 1].windows(2) {
            assert_eq!(w[1].0 - w[0].0, 4);
        }
        // Short histories are untouched.
        let mut rec = Recorder::new(usize::MAX, |_: &R| Control::Continue);
        for i in 0..100 {
            rec.record(R(i), false);
        }
        assert_eq!(rec.finish().0.len(), 100);
    }

    #[test]
    fn work_adds_field_by_field() {
        let mut a = Work {
            matvecs: 1,
            trials: 2,
            ..Work::default()
        };
        a.add(&Work {
            matvecs: 3,
            gradient_evals: 4,
            ..Work::default()
        });
        assert_eq!((a.matvecs, a.gradient_evals, a.trials), (4, 4, 2));
        assert_eq!(a.entries()[0], ("matvecs", 4));
        assert!(small_change(1.0, 1.0 + 1e-12, 1e-10));
        assert!(!small_change(1.0, 1.0, 0.0));
    }
}
