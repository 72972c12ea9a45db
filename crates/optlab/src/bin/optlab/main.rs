//! The `optlab` command-line tool.
//!
//! Conventions (design guide §4): a human summary by default, one JSON object
//! with `--json`; exit code 0 on success, 2 on bad input (one line naming the
//! file and the problem), 1 on a solver failure (the report is still printed).

/// `println!` that never panics: a closed or full standard output (a broken
/// pipe, `/dev/full`) ends the program quietly with exit code 1.
macro_rules! outln {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics: a message that cannot be written is dropped.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod bilevel;
mod info;
mod linsolve;
mod optimize;
mod ot;
mod poisson;
mod relu;
mod spectrum;
mod tour;
mod train;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Optimisation research, made dependable: solvers from recent papers,
/// checked against independent references.
#[derive(Debug, Parser)]
#[command(name = "optlab", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Memory budget: sizes from files, problem names and flags that would
    /// need more are refused before allocating (bytes, or with a K/M/G/T
    /// suffix, powers of 1024; default: half of the usable memory).
    #[arg(long, global = true, value_name = "BYTES", value_parser = parse_bytes)]
    max_memory: Option<u64>,
    /// Stop every solver run after this many seconds, printing the report
    /// so far with termination `time_limit` (exit code 1).
    #[arg(long, global = true, value_name = "SECONDS", value_parser = watch::parse_seconds)]
    time_limit: Option<f64>,
}

/// `--max-memory`: `123`, `512K`, `64M`, `2G`, `1T` (powers of 1024; an
/// optional trailing `B`/`iB`).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a byte count (e.g. 2G, 512M, 1000000)"))?;
    let bytes = v * (1u64 << shift) as f64;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(format!("`{s}` must be at least 1 byte and below 2⁶⁴"));
    }
    Ok(bytes as u64)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the crates, features and compute backends compiled into this binary.
    Info(info::Args),
    /// Solve a sparse SPD system A x = b from a Matrix Market file.
    Linsolve(linsolve::Args),
    /// Run every algorithm on its embedded default problem and print one table.
    Tour(tour::Args),
    /// Pressure Poisson systems of fluid scenes and their solvers (deep-cg).
    Poisson(poisson::Args),
    /// Entropic optimal transport: Sinkhorn and Sinkhorn-Newton-Sparse (sinkhorn-newton).
    Ot(ot::Args),
    /// Unconstrained optimisation: first-order methods, diffGrad, gradient-regularised Newton (optimizers).
    Optimize(optimize::Args),
    /// Bilevel optimisation by penalty methods (bilevel-penalty).
    Bilevel(bilevel::Args),
    /// Convex training of two-layer ReLU networks by ADMM (relu-convex-admm).
    Relu(relu::Args),
    /// Hessian and matrix spectra, traces, outliers, stability and collapse diagnostics (hessian-tools).
    Spectrum(spectrum::Args),
}

/// How a subcommand failed, and so the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad input (exit code 2): one line naming the file or flag and the problem.
    BadInput(String),
    /// The solver ran but failed (exit code 1); the report was already printed
    /// (or, where the solver could not produce one, a JSON failure object).
    Solver(String),
}

impl Failure {
    /// Maps a crate error by whose fault it is (`is_input_error`): bad
    /// input → exit 2, a solver failure → exit 1. With `--json` a solver
    /// failure that has no report prints one JSON object
    /// `{"converged": false, "termination": "failed", "error": …}` so that
    /// scripts always read an object.
    pub fn from_error(input: bool, msg: String, json: bool) -> Self {
        if input {
            Failure::BadInput(msg)
        } else {
            if json {
                print_json(&serde_json::json!({
                    "converged": false,
                    "termination": "failed",
                    "error": msg,
                }));
            } else {
                // The human report of a run that failed before producing one.
                outln!("converged         false");
                outln!("termination       failed");
                outln!("error             {msg}");
            }
            Failure::Solver(msg)
        }
    }
}

/// One `From` per crate error: the crate says whose fault it is.
macro_rules! failure_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Failure {
            fn from(e: $ty) -> Self {
                // No report here: the subcommand's mode is unknown (use
                // `Failure::from_error` where a solver can fail).
                if e.is_input_error() {
                    Failure::BadInput(e.to_string())
                } else {
                    Failure::Solver(e.to_string())
                }
            }
        }
    )*};
}
failure_from!(
    linalg_core::Error,
    bilevel_penalty::Error,
    optimizers::Error,
    sinkhorn_newton::Error,
    deep_cg::Error
);

impl From<datasets::Error> for Failure {
    fn from(e: datasets::Error) -> Self {
        Failure::BadInput(e.to_string())
    }
}

/// The exit status of a run whose report was printed: exit 1 unless it converged.
pub fn outcome(converged: bool, what: impl FnOnce() -> String) -> Result<(), Failure> {
    if converged {
        Ok(())
    } else if watch::fired() {
        Err(Failure::Solver(format!(
            "stopped at the time limit of {} s (--time-limit); the report so far is printed",
            watch::limit_seconds().unwrap_or(0.0)
        )))
    } else {
        Err(Failure::Solver(what()))
    }
}

/// A serialisable part of a report (a history, a work count) as JSON, with
/// the report's own field names (feature `serde` of the crates).
pub fn to_json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Parses the command line; clap's own errors become one stderr line
/// (exit 2), with the possible values folded into it (the exit-code
/// contract of docs/architecture.md §3); help and version print as usual
/// (exit 0).
fn parse_cli() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    use clap::{CommandFactory, FromArgMatches};
    // Negative numbers are values (`--eta -3` reaches the flag's own check
    // and its message, not clap's "unexpected argument").
    let mut cmd = Cli::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |s| s.allow_negative_numbers(true));
    }
    let parsed = cmd.try_get_matches().and_then(|m| {
        record_given(&m);
        Cli::from_arg_matches(&m)
    });
    match parsed {
        Ok(c) => Ok(c),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            errln!("error: a subcommand is required (see `optlab --help`)");
            Err(ExitCode::from(2))
        }
        Err(e) => {
            // clap writes the message, then indented details (the missing
            // arguments, the possible values), tips and usage: keep the
            // message and the details, on one line.
            let text = e.render().to_string();
            let line = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
                .collect::<Vec<_>>()
                .join(" ");
            let line = if line.is_empty() {
                "error: invalid arguments".to_string()
            } else {
                line
            };
            errln!("{line}");
            Err(ExitCode::from(2))
        }
    }
}

/// The flags given on the command line (argument ids, e.g. `max_iters`),
/// of the innermost subcommand: defaults do not count.
static GIVEN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
/// Every argument id of the innermost subcommand (given or defaulted).
static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

fn record_given(m: &clap::ArgMatches) {
    let mut m = m;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    let ids = m
        .ids()
        .filter(|id| m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect();
    let _ = GIVEN.set(ids);
    let _ = KNOWN.set(m.ids().map(|id| id.as_str().to_string()).collect());
}

/// Names the flag in a bad-input message that names only the library's
/// parameter (`invalid parameter `rtol`: …` → `--rtol: invalid parameter
/// …`), when the parameter is one of the subcommand's flags.
fn with_flag(msg: String) -> String {
    if msg.starts_with('-') {
        return msg;
    }
    let Some(rest) = msg.split("invalid parameter `").nth(1) else {
        return msg;
    };
    let Some(name) = rest.split('`').next() else {
        return msg;
    };
    let known = KNOWN.get().is_some_and(|k| k.iter().any(|x| x == name));
    if known {
        format!("--{}: {msg}", name.replace('_', "-"))
    } else {
        msg
    }
}

/// Whether the flag with argument id `id` (the field name, `max_iters`) was
/// given on the command line rather than taken from its default.
pub fn given(id: &str) -> bool {
    GIVEN.get().is_some_and(|g| g.iter().any(|x| x == id))
}

/// Refuses (exit 2) the first of `ids` that was given although it does not
/// apply to `context` (e.g. "--method sns"): options that do not apply are
/// rejected, not ignored (docs/cli.md).
pub fn reject_given(ids: &[&str], context: &str) -> Result<(), Failure> {
    match ids.iter().find(|id| given(id)) {
        Some(id) => Err(Failure::BadInput(format!(
            "--{} does not apply to {context}",
            id.replace('_', "-")
        ))),
        None => Ok(()),
    }
}

/// Writes to standard output; on failure (a closed pipe, a full disk) the
/// program stops at once with exit code 1 and no message, never a panic.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    watch::finish();
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).is_err() {
        std::process::exit(1);
    }
}

/// Writes to standard error, ignoring failure (there is nowhere left to say it).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

fn main() -> ExitCode {
    let code = run_cli();
    // Whatever is still buffered must reach its destination, or the run failed.
    if std::io::Write::flush(&mut std::io::stdout()).is_err() {
        return ExitCode::from(1);
    }
    code
}

fn run_cli() -> ExitCode {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(b) = cli.max_memory {
        linalg_core::budget::set_max_memory(b);
    }
    watch::start(cli.time_limit);
    // Bit-identical results for any RAYON_NUM_THREADS (faer's default splits
    // its factorizations by the pool size).
    linalg_core::faer::set_global_parallelism(linalg_core::deterministic_par());
    let result = match cli.command {
        Command::Info(a) => info::run(&a),
        Command::Linsolve(a) => linsolve::run(&a),
        Command::Tour(a) => tour::run(&a),
        Command::Poisson(a) => poisson::run(&a),
        Command::Ot(a) => ot::run(&a),
        Command::Optimize(a) => optimize::run(&a),
        Command::Bilevel(a) => bilevel::run(&a),
        Command::Relu(a) => relu::run(&a),
        Command::Spectrum(a) => spectrum::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(msg)) => {
            errln!("optlab: {}", with_flag(msg));
            ExitCode::from(2)
        }
        Err(Failure::Solver(msg)) => {
            errln!("optlab: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Prints a JSON value as one line on standard output.
pub fn print_json(v: &serde_json::Value) {
    watch::finish();
    outln!("{v}");
}
