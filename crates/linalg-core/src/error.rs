//! The crate's error type.

use std::path::PathBuf;

use crate::param::ParamError;

/// Which half of a preconditioned system failed a definiteness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Definiteness {
    /// The linear operator `A` (curvature `pᵀAp ≤ 0`).
    Operator,
    /// The preconditioner `M` (`rᵀMr ≤ 0`).
    Preconditioner,
}

impl std::fmt::Display for Definiteness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Definiteness::Operator => f.write_str("operator"),
            Definiteness::Preconditioner => f.write_str("preconditioner"),
        }
    }
}

/// What went wrong while reading a Matrix Market file.
#[derive(Debug, Clone, PartialEq)]
pub enum MtxProblem {
    /// The first line is not a valid `%%MatrixMarket` banner.
    BadHeader(String),
    /// A valid banner naming a variant this reader does not handle
    /// (array storage, complex field, skew-symmetric/hermitian symmetry).
    Unsupported(String),
    /// The size line is missing or malformed.
    BadSizeLine(String),
    /// Fewer entries than the size line announced.
    Truncated {
        /// Entries announced by the size line.
        expected: usize,
        /// Entries found before the end of the file.
        found: usize,
    },
    /// More entries than the size line announced.
    TooManyEntries {
        /// Entries announced by the size line.
        expected: usize,
    },
    /// An entry line with the wrong number of fields.
    BadEntry(String),
    /// A 1-based index outside `1..=nrows` / `1..=ncols`.
    IndexOutOfRange {
        /// Row index as written in the file (1-based).
        row: usize,
        /// Column index as written in the file (1-based).
        col: usize,
        /// Number of rows from the size line.
        nrows: usize,
        /// Number of columns from the size line.
        ncols: usize,
    },
    /// A field that does not parse as a number.
    NotANumber(String),
    /// A value that parses but is NaN or infinite.
    NonFinite(String),
    /// Refused before assembly by an SPD reader: the structure (shape,
    /// missing or non-positive diagonal) rules out positive definiteness.
    NotSpd(String),
}

impl std::fmt::Display for MtxProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MtxProblem::BadHeader(s) => write!(f, "bad Matrix Market header: {s}"),
            MtxProblem::Unsupported(s) => write!(f, "unsupported Matrix Market variant: {s}"),
            MtxProblem::BadSizeLine(s) => {
                write!(f, "bad size line (expected `nrows ncols nnz`): {s}")
            }
            MtxProblem::Truncated { expected, found } => write!(
                f,
                "file ends after {found} of {expected} announced entries (truncated)"
            ),
            MtxProblem::TooManyEntries { expected } => {
                write!(f, "more entries than the {expected} announced")
            }
            MtxProblem::BadEntry(s) => write!(f, "bad entry line: {s}"),
            MtxProblem::IndexOutOfRange {
                row,
                col,
                nrows,
                ncols,
            } => write!(
                f,
                "index ({row}, {col}) out of range for a {nrows}×{ncols} matrix (indices are 1-based)"
            ),
            MtxProblem::NotANumber(s) => write!(f, "not a number: `{s}`"),
            MtxProblem::NonFinite(s) => write!(f, "non-finite value `{s}`"),
            MtxProblem::NotSpd(s) => write!(f, "not positive definite: {s}"),
        }
    }
}

/// What went wrong while reading an NPY file.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyProblem {
    /// The file does not start with `\x93NUMPY`.
    BadMagic,
    /// A format version other than 1.0, 2.0 or 3.0.
    UnsupportedVersion(u8, u8),
    /// The header dictionary could not be parsed.
    BadHeader(String),
    /// A dtype other than little/big-endian `f4`/`f8`.
    UnsupportedDtype(String),
    /// `fortran_order: True`; only C order is supported.
    FortranOrder,
    /// A shape that is neither 1-D nor 2-D (or does not match what was asked for).
    UnsupportedShape(Vec<usize>),
    /// The data length differs from what the shape requires (fewer or more bytes).
    Truncated {
        /// Bytes the header's shape and dtype require.
        expected: usize,
        /// Bytes present after the header.
        found: usize,
    },
}

impl std::fmt::Display for NpyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NpyProblem::BadMagic => f.write_str("not an NPY file (missing \\x93NUMPY magic)"),
            NpyProblem::UnsupportedVersion(a, b) => {
                write!(f, "unsupported NPY format version {a}.{b}")
            }
            NpyProblem::BadHeader(s) => write!(f, "bad NPY header: {s}"),
            NpyProblem::UnsupportedDtype(s) => write!(
                f,
                "unsupported NPY dtype `{s}` (supported: float64 `<f8`/`>f8`, float32 `<f4`/`>f4`)"
            ),
            NpyProblem::FortranOrder => f.write_str(
                "Fortran-ordered NPY arrays are not supported (save with np.ascontiguousarray)",
            ),
            NpyProblem::UnsupportedShape(s) => write!(f, "unsupported NPY shape {s:?}"),
            NpyProblem::Truncated { expected, found } if found < expected => write!(
                f,
                "NPY data truncated: {found} bytes present, {expected} required by the header"
            ),
            NpyProblem::Truncated { expected, found } => write!(
                f,
                "NPY data is {found} bytes long, but the header announces {expected}"
            ),
        }
    }
}

/// Errors of `linalg-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two sizes that must agree do not.
    #[error("dimension mismatch in {context}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// Where the mismatch was detected.
        context: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// A matrix that must be symmetric is not.
    #[error("matrix is not symmetric: a[{row},{col}] = {a_ij:e} but a[{col},{row}] = {a_ji:e}")]
    NotSymmetric {
        /// Row of the offending entry (0-based).
        row: usize,
        /// Column of the offending entry (0-based).
        col: usize,
        /// `a[row, col]`.
        a_ij: f64,
        /// `a[col, row]`.
        a_ji: f64,
    },
    /// An operation that needs a square operator got a rectangular one.
    #[error("{context} needs a square operator, got {nrows}×{ncols}")]
    NotSquare {
        /// Where the check failed.
        context: &'static str,
        /// Rows of the operator.
        nrows: usize,
        /// Columns of the operator.
        ncols: usize,
    },
    /// A NaN or infinity in input data or produced during an iteration.
    #[error("non-finite value in {context} (index {index})")]
    NonFinite {
        /// What held the value.
        context: &'static str,
        /// The index (entry or iteration) where it was found.
        index: usize,
    },
    /// The operator or preconditioner is not positive definite.
    #[error(
        "{what} is not positive definite: curvature {curvature:e} at iteration {iteration} (CG needs a symmetric positive definite {what})"
    )]
    NotPositiveDefinite {
        /// Operator or preconditioner.
        what: Definiteness,
        /// Iteration at which it was detected.
        iteration: usize,
        /// The offending curvature `pᵀAp` (or `rᵀMr`); NaN where faer did not expose it.
        curvature: f64,
    },
    /// A Krylov method broke down: the operator (or preconditioner) mapped a
    /// non-zero vector to exactly zero, so no step length exists. It is
    /// singular, or its entries are too small for floating point.
    #[error(
        "CG broke down: the {what} maps a non-zero vector to zero at iteration {iteration} (it is singular, or its entries are too small for floating point: scale the system)"
    )]
    Breakdown {
        /// Operator or preconditioner.
        what: Definiteness,
        /// Iteration at which it happened.
        iteration: usize,
    },
    /// An iterative method hit its iteration limit.
    #[error(
        "no convergence after {iterations} iterations (relative residual {relative_residual:e})"
    )]
    NoConvergence {
        /// Iterations performed.
        iterations: usize,
        /// Relative residual reached.
        relative_residual: f64,
    },
    /// A Krylov method was started from the zero vector.
    #[error("the start vector is zero (or has a zero norm)")]
    ZeroStartVector,
    /// A hyperparameter outside its valid range (from [`crate::param`]).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A numerical factorisation or eigen-decomposition failed.
    #[error("{0}")]
    Numerical(String),
    /// Something asked for more memory than the budget of
    /// [`crate::budget`] allows; refused before allocating.
    #[error(
        "{what} would need {bytes}, over the memory budget of {budget} bytes (--max-memory raises it)"
    )]
    TooLarge {
        /// What was asked for (names the sizes and where they came from).
        what: String,
        /// The bytes it would take (overflow-checked).
        bytes: crate::budget::Bytes,
        /// The budget in force.
        budget: u64,
    },
    /// A Matrix Market file could not be parsed.
    #[error("line {line}: {problem}")]
    MatrixMarket {
        /// 1-based line number where the problem was found.
        line: usize,
        /// What is wrong.
        problem: MtxProblem,
    },
    /// An NPY file could not be parsed.
    #[error("{0}")]
    Npy(NpyProblem),
    /// An operating-system I/O error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An error while reading or writing a named file.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: Box<Error>,
    },
}

impl Error {
    /// Attaches a file name to an error (used by the path-based readers/writers).
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        Error::File {
            path: path.into(),
            source: Box::new(self),
        }
    }

    /// Whether the caller is at fault (bad input: sizes, values, files,
    /// parameters, an operator or preconditioner that is not positive
    /// definite) rather than the solver (no convergence, a failed
    /// factorisation or eigensolver, a non-finite value produced while
    /// iterating). The command line maps the first to exit code 2, the
    /// second to 1.
    pub fn is_input_error(&self) -> bool {
        match self.root() {
            Error::NoConvergence { .. } | Error::Numerical(_) | Error::Breakdown { .. } => false,
            // Non-finite values found *during* an iteration are solver failures;
            // the drivers name those contexts with "(iteration)" / "(step)".
            Error::NonFinite { context, .. } => {
                !(context.contains("(iteration)") || context.contains("(step)"))
            }
            _ => true,
        }
    }

    /// The name of the rejected parameter, if this is a parameter error.
    pub fn param_name(&self) -> Option<&'static str> {
        match self.root() {
            Error::Param(p) => Some(p.name),
            _ => None,
        }
    }

    /// The innermost error, looking through [`Error::File`] wrappers.
    pub fn root(&self) -> &Error {
        match self {
            Error::File { source, .. } => source.root(),
            e => e,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
