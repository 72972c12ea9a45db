//! `optlab info`: crates, features and backends of this build.

use serde_json::json;

use crate::{Failure, print_json};

/// Arguments of `optlab info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let crates = optlab::crates();
    let backends = optlab::backends();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.json {
        print_json(&json!({
            "version": env!("CARGO_PKG_VERSION"),
            "crates": crates.iter().map(|c| json!({
                "name": c.name, "enabled": c.enabled, "about": c.about,
            })).collect::<Vec<_>>(),
            "backends": backends,
            "threads": threads,
            "datasets": datasets::NAMES,
        }));
        return Ok(());
    }
    outln!("optlab {}", env!("CARGO_PKG_VERSION"));
    outln!();
    outln!("{:<18} {:<8} about", "crate", "feature");
    for c in &crates {
        let state = if c.enabled { "on" } else { "off" };
        outln!("{:<18} {:<8} {}", c.name, state, c.about);
    }
    outln!();
    outln!("backends: {}", backends.join(", "));
    outln!("threads available: {threads}");
    outln!("embedded datasets: {}", datasets::NAMES.join(", "));
    Ok(())
}
