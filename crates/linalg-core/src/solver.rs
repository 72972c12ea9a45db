//! Vocabulary shared by every iterative solver in the workspace.

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
