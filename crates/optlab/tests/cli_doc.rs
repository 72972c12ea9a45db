//! `docs/cli.md` is the CLI's contract page: every flag a subcommand's
//! `--help` lists, and every top-level JSON key a run prints, must appear in
//! that subcommand's section, so the page cannot fall behind the code.

use std::path::PathBuf;
use std::process::Command;

const DOC: &str = include_str!("../../../docs/cli.md");

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_optlab"))
}

/// The text of `## optlab NAME` up to the next `## ` heading.
fn section(name: &str) -> &'static str {
    let head = format!("## optlab {name}\n");
    let start = DOC
        .find(&head)
        .unwrap_or_else(|| panic!("docs/cli.md has no section `{head}`"));
    let rest = &DOC[start + head.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The long flags `optlab NAME --help` lists (not the global ones).
fn flags(name: &str) -> Vec<String> {
    let out = Command::new(bin()).args([name, "--help"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            // Flags sit at most 6 columns in; help text continues deeper.
            let t = l.trim_start();
            if l.len() - t.len() > 6 {
                return None;
            }
            let t = t.strip_prefix("-h, ").unwrap_or(t);
            let t = t
                .split_once(", ")
                .map_or(t, |(a, b)| if a.len() == 2 { b } else { t });
            t.starts_with("--").then(|| {
                t.split(|c: char| c.is_whitespace() || c == '=')
                    .next()
                    .unwrap()
                    .to_string()
            })
        })
        .filter(|f| {
            !matches!(
                f.as_str(),
                "--help" | "--version" | "--max-memory" | "--time-limit"
            )
        })
        .collect()
}

fn json_keys(args: &[&str]) -> Vec<String> {
    let out = Command::new(bin())
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn every_flag_and_json_key_is_in_the_contract_page() {
    let dir = std::env::temp_dir().join(format!("optlab-cli-doc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mtx = dir.join("a.mtx");
    std::fs::write(
        &mtx,
        "%%MatrixMarket matrix coordinate real symmetric\n3 3 5\n1 1 4\n2 1 -1\n2 2 4\n3 2 -1\n3 3 4\n",
    )
    .unwrap();
    let m = mtx.to_str().unwrap();
    let runs: &[(&str, &[&str])] = &[
        ("info", &["info"]),
        ("linsolve", &["linsolve", "--matrix", m]),
        ("tour", &["tour", "--grid", "8"]),
        ("poisson", &["poisson", "--grid", "8"]),
        (
            "ot",
            &["ot", "--problem", "random-assignment:30", "--reg", "0.1"],
        ),
        (
            "optimize",
            &["optimize", "--problem", "rosenbrock:4", "--method", "grn"],
        ),
        (
            "bilevel",
            &["bilevel", "--problem", "quadratic:3:4", "--max-iters", "30"],
        ),
        (
            "relu",
            &[
                "relu",
                "--data",
                "wine:0v1",
                "--patterns",
                "6",
                "--max-iters",
                "50",
            ],
        ),
        ("spectrum", &["spectrum", "--matrix", m, "--top-k", "2"]),
        (
            "spectrum",
            &[
                "spectrum",
                "--mlp",
                "--data",
                "mixture:2",
                "--n-samples",
                "30",
                "--dim",
                "3",
                "--hidden",
                "3",
                "--top-k",
                "2",
                "--train-epochs",
                "5",
                "--stability",
                "--collapse",
            ],
        ),
    ];
    let mut missing = Vec::new();
    for (name, args) in runs {
        let text = section(name);
        for f in flags(name) {
            if !text.contains(&format!("`{f}")) {
                missing.push(format!("optlab {name}: flag {f}"));
            }
        }
        for k in json_keys(args) {
            if !text.contains(&format!("`{k}`")) {
                missing.push(format!("optlab {name}: JSON key {k}"));
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        missing.is_empty(),
        "docs/cli.md is missing:\n{}",
        missing.join("\n")
    );
    // The global flags and every exit code are described.
    for s in ["`--max-memory", "`--time-limit", "| 0 |", "| 1 |", "| 2 |"] {
        assert!(DOC.contains(s), "docs/cli.md lacks {s}");
    }
}
