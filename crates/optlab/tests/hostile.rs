//! The hostile-input suite: every subcommand run on generated bad files and
//! flag values, each run under a memory cap (`ulimit -v`, so the binary's
//! own budget, which reads `RLIMIT_AS`, shrinks with it) and a timeout.
//!
//! Asserted for every case: no panic or abort (no signal, no exit 101, no
//! "panicked" on stderr), no timeout, an exit code in the documented class
//! (2 for input that is wrong, 0/1/2 for input that is merely extreme), one
//! stderr line whenever the exit code is not 0, nothing on stdout for exit
//! 2, and with `--json` exactly one JSON object on stdout for exits 0 and 1.
//!
//! The files are generated: structured mutations of the NPY header and the
//! Matrix Market size line, truncations at every structural boundary, values
//! at the edges of f64, and seeded random byte flips of valid files.

mod common;
use common::npy_raw;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The memory cap of every run (virtual address space, KiB).
const MEM_CAP_KIB: u64 = 4 << 20;
/// The time limit of every run.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What a case may exit with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    /// Wrong input: exit 2.
    Bad,
    /// Extreme but possibly valid: 0, 1 or 2.
    Any,
}

struct Case {
    args: Vec<String>,
    class: Class,
}

fn f64s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn dict(descr: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
}

/// A valid NPY file of the given shape whose entries come from `f(i)`.
fn npy_valid(shape: &[usize], f: impl Fn(usize) -> f64) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let s = match shape {
        [a] => format!("({a},)"),
        [a, b] => format!("({a}, {b})"),
        _ => unreachable!(),
    };
    npy_raw(&dict("<f8", &s), &f64s(&(0..n).map(f).collect::<Vec<_>>()))
}

/// Hostile NPY files for a consumer that wants `shape`; each with its class.
fn npy_family(shape: &[usize], seed: u64) -> Vec<(String, Vec<u8>, Class)> {
    let n: usize = shape.iter().product();
    // Symmetric, diagonally dominant values (valid for every consumer).
    let good = |i: usize| {
        if shape.len() == 2 {
            let (r, c) = (i / shape[1], i % shape[1]);
            if r == c {
                4.0 + r as f64
            } else {
                0.1 / (1 + r + c) as f64
            }
        } else {
            0.2 + 0.01 * i as f64
        }
    };
    let valid = npy_valid(shape, good);
    let shape_txt = match shape {
        [a] => format!("({a},)"),
        [a, b] => format!("({a}, {b})"),
        _ => unreachable!(),
    };
    let data = f64s(&(0..n).map(good).collect::<Vec<_>>());
    let mut v: Vec<(String, Vec<u8>, Class)> = vec![
        ("empty".into(), vec![], Class::Bad),
        ("magic-only".into(), b"\x93NUMPY".to_vec(), Class::Bad),
        (
            "bad-magic".into(),
            valid[..].to_vec().tap(|b| b[5] = b'Z'),
            Class::Bad,
        ),
        (
            "version-9".into(),
            valid.clone().tap(|b| b[6] = 9),
            Class::Bad,
        ),
        (
            "header-longer-than-file".into(),
            valid
                .clone()
                .tap(|b| b[8..10].copy_from_slice(&60000u16.to_le_bytes())),
            Class::Bad,
        ),
        (
            "header-not-utf8".into(),
            valid.clone().tap(|b| b[12] = 0xff),
            Class::Bad,
        ),
        (
            "trunc-data".into(),
            valid[..valid.len() - 3].to_vec(),
            Class::Bad,
        ),
        ("trunc-header".into(), valid[..40].to_vec(), Class::Bad),
        (
            "extra-data".into(),
            valid.clone().tap(|b| b.extend_from_slice(&[0; 8])),
            Class::Bad,
        ),
    ];
    for (name, d) in [
        ("dtype-i8", dict("<i8", &shape_txt)),
        ("dtype-c16", dict("<c16", &shape_txt)),
        ("dtype-bool", dict("|b1", &shape_txt)),
        ("dtype-object", dict("|O", &shape_txt)),
        (
            "fortran",
            format!("{{'descr': '<f8', 'fortran_order': True, 'shape': {shape_txt}, }}"),
        ),
        ("shape-0d", dict("<f8", "()")),
        ("shape-3d", dict("<f8", &format!("(1, {n}, 1)"))),
        ("shape-negative", dict("<f8", "(-1,)")),
        ("shape-float", dict("<f8", "(3.5,)")),
        ("shape-text", dict("<f8", "('a',)")),
        ("shape-huge", dict("<f8", "(1000000000000,)")),
        ("shape-wraps", dict("<f8", "(2305843009213693953,)")),
        ("shape-wraps-2d", dict("<f8", "(4294967296, 4294967297)")),
        ("shape-u64-overflow", dict("<f8", "(18446744073709551616,)")),
        ("shape-unclosed", dict("<f8", "(3,")),
        (
            "missing-shape",
            "{'descr': '<f8', 'fortran_order': False, }".to_string(),
        ),
        (
            "missing-descr",
            format!("{{'fortran_order': False, 'shape': {shape_txt}, }}"),
        ),
        (
            "extra-key",
            format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_txt}, 'x': 1, }}"),
        ),
        (
            "duplicate-key",
            format!(
                "{{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}"
            ),
        ),
        ("not-a-dict", "[1, 2, 3]".to_string()),
        (
            "fortran-maybe",
            dict("<f8", &shape_txt).replace("False", "Maybe"),
        ),
        (
            "garbage-after",
            format!("{} garbage", dict("<f8", &shape_txt)),
        ),
    ] {
        v.push((name.into(), npy_raw(&d, &data), Class::Bad));
    }
    // No final newline (written by hand: `npy_raw` adds one).
    let mut nonl = b"\x93NUMPY\x01\x00".to_vec();
    let h = dict("<f8", &shape_txt);
    nonl.extend_from_slice(&(h.len() as u16).to_le_bytes());
    nonl.extend_from_slice(h.as_bytes());
    nonl.extend_from_slice(&data);
    v.push(("no-newline".into(), nonl, Class::Bad));
    // Shapes of the wrong size for the consumer.
    v.push(("wrong-size".into(), npy_valid(&[n + 1], good), Class::Bad));
    v.push((
        "zero-length".into(),
        npy_raw(&dict("<f8", "(0,)"), &[]),
        Class::Bad,
    ));
    // Non-finite values: refused.
    for (name, bad) in [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
    ] {
        v.push((
            format!("value-{name}"),
            npy_valid(shape, |i| if i == n / 2 { bad } else { good(i) }),
            Class::Bad,
        ));
    }
    // Extreme finite values: the run may succeed, fail or refuse, never crash.
    for (name, x) in [
        ("1e308", 1e308),
        ("-1e308", -1e308),
        ("1e-320", 1e-320),
        ("zero", 0.0),
        ("-zero", -0.0),
        ("1e154", 1e154),
    ] {
        v.push((format!("value-{name}"), npy_valid(shape, |_| x), Class::Any));
        v.push((
            format!("value-mixed-{name}"),
            npy_valid(shape, |i| if i % 2 == 0 { x } else { good(i) }),
            Class::Any,
        ));
    }
    // f32 and big-endian: valid encodings of the same values.
    v.push((
        "f32".into(),
        npy_raw(
            &dict("<f4", &shape_txt),
            &(0..n)
                .flat_map(|i| (good(i) as f32).to_le_bytes())
                .collect::<Vec<_>>(),
        ),
        Class::Any,
    ));
    v.push((
        "big-endian".into(),
        npy_raw(
            &dict(">f8", &shape_txt),
            &(0..n)
                .flat_map(|i| good(i).to_be_bytes())
                .collect::<Vec<_>>(),
        ),
        Class::Any,
    ));
    // Seeded random bytes and random byte flips of the valid file.
    let mut rng = StdRng::seed_from_u64(seed);
    for k in 0..4 {
        let len = rng.random_range(0..300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        v.push((format!("random-{k}"), bytes, Class::Bad));
    }
    for k in 0..10 {
        let mut b = valid.clone();
        for _ in 0..rng.random_range(1..4) {
            // Header bytes most of the time: that is where the structure is.
            let at = if rng.random_bool(0.7) {
                rng.random_range(0..128.min(b.len()))
            } else {
                rng.random_range(0..b.len())
            };
            b[at] = rng.random();
        }
        v.push((format!("flip-{k}"), b, Class::Any));
    }
    v
}

/// Hostile Matrix Market files for an SPD consumer (a valid file is a
/// 6 × 6 tridiagonal SPD matrix).
fn mtx_family(seed: u64) -> Vec<(String, String, Class)> {
    let banner = "%%MatrixMarket matrix coordinate real symmetric\n";
    let mut tri = String::new();
    for i in 1..=6 {
        tri += &format!("{i} {i} 4\n");
        if i < 6 {
            tri += &format!("{} {i} -1\n", i + 1);
        }
    }
    let valid = format!("{banner}6 6 11\n{tri}");
    let with_size = |size: &str, body: &str| format!("{banner}{size}\n{body}");
    let mut v: Vec<(String, String, Class)> = vec![
        ("empty".into(), String::new(), Class::Bad),
        ("banner-only".into(), banner.into(), Class::Bad),
        ("no-banner".into(), format!("6 6 11\n{tri}"), Class::Bad),
        (
            "array-format".into(),
            "%%MatrixMarket matrix array real general\n2 2\n1\n0\n0\n1\n".into(),
            Class::Bad,
        ),
        (
            "complex".into(),
            "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n".into(),
            Class::Bad,
        ),
        (
            "hermitian".into(),
            "%%MatrixMarket matrix coordinate real hermitian\n1 1 1\n1 1 1\n".into(),
            Class::Bad,
        ),
        (
            "skew".into(),
            "%%MatrixMarket matrix coordinate real skew-symmetric\n1 1 1\n1 1 1\n".into(),
            Class::Bad,
        ),
        (
            "rows-1e9".into(),
            with_size("1000000000 1000000000 1", "1 1 1\n"),
            Class::Bad,
        ),
        (
            "rows-1e9-full-nnz".into(),
            with_size("1000000000 1000000000 1000000000", "1 1 1\n"),
            Class::Bad,
        ),
        (
            "rows-1e18".into(),
            with_size("1000000000000000000 1000000000000000000 1", "1 1 1\n"),
            Class::Bad,
        ),
        (
            "rows-overflow".into(),
            with_size("18446744073709551616 1 1", "1 1 1\n"),
            Class::Bad,
        ),
        (
            "nnz-1e18".into(),
            with_size("6 6 1000000000000000000", &tri),
            Class::Bad,
        ),
        ("negative".into(), with_size("-6 -6 11", &tri), Class::Bad),
        (
            "size-missing-nnz".into(),
            with_size("6 6", &tri),
            Class::Bad,
        ),
        ("size-extra".into(), with_size("6 6 11 3", &tri), Class::Bad),
        ("non-square".into(), with_size("6 5 11", &tri), Class::Bad),
        (
            "index-zero".into(),
            with_size("6 6 11", &tri.replacen("1 1 4", "0 1 4", 1)),
            Class::Bad,
        ),
        (
            "index-out".into(),
            with_size("6 6 11", &tri.replacen("1 1 4", "7 1 4", 1)),
            Class::Bad,
        ),
        (
            "value-nan".into(),
            with_size("6 6 11", &tri.replacen("1 1 4", "1 1 nan", 1)),
            Class::Bad,
        ),
        (
            "value-inf".into(),
            with_size("6 6 11", &tri.replacen("1 1 4", "1 1 inf", 1)),
            Class::Bad,
        ),
        (
            "value-1e400".into(),
            with_size("6 6 11", &tri.replacen("1 1 4", "1 1 1e400", 1)),
            Class::Bad,
        ),
        (
            "value-text".into(),
            with_size("6 6 11", &tri.replacen("1 1 4", "1 1 four", 1)),
            Class::Bad,
        ),
        ("too-few".into(), with_size("6 6 12", &tri), Class::Bad),
        ("too-many".into(), with_size("6 6 10", &tri), Class::Bad),
        (
            "missing-diagonal".into(),
            with_size("6 6 10", &tri.replacen("3 3 4\n", "", 1)),
            Class::Bad,
        ),
        (
            "negative-diagonal".into(),
            with_size("6 6 11", &tri.replacen("3 3 4", "3 3 -4", 1)),
            Class::Bad,
        ),
        (
            "indefinite".into(),
            with_size("6 6 11", &tri.replace(" -1\n", " -3\n")),
            Class::Bad,
        ),
        ("zero-matrix".into(), with_size("6 6 0", ""), Class::Bad),
        ("zero-size".into(), with_size("0 0 0", ""), Class::Bad),
        (
            "long-line".into(),
            format!("{banner}{}\n", "9".repeat(100_000)),
            Class::Bad,
        ),
    ];
    for (name, x) in [
        ("1e-320", "1e-320"),
        ("1e300", "1e300"),
        ("1e-300", "1e-300"),
        ("1e154", "1e154"),
    ] {
        // Every entry scaled: the same SPD matrix at an extreme scale.
        let scaled: String = tri
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let v: f64 = f[2].parse::<f64>().unwrap() * x.parse::<f64>().unwrap();
                format!("{} {} {v:e}\n", f[0], f[1])
            })
            .collect();
        v.push((
            format!("scaled-{name}"),
            with_size("6 6 11", &scaled),
            Class::Any,
        ));
    }
    v.push((
        "duplicates".into(),
        with_size("6 6 12", &format!("{tri}1 1 4\n")),
        Class::Any,
    ));
    v.push((
        "pattern".into(),
        "%%MatrixMarket matrix coordinate pattern symmetric\n2 2 2\n1 1\n2 2\n".into(),
        Class::Any,
    ));
    let mut rng = StdRng::seed_from_u64(seed);
    for k in 0..10 {
        let mut b = valid.clone().into_bytes();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..b.len());
            b[at] = b"0123456789 -.e\n%x"[rng.random_range(0..17)];
        }
        v.push((
            format!("flip-{k}"),
            String::from_utf8_lossy(&b).into_owned(),
            Class::Any,
        ));
    }
    v
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}
impl<T> Tap for T {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

/// Numeric flag values: the first group is wrong everywhere, the second
/// extreme (valid for some flags).
const WRONG: &[&str] = &["nan", "abc", "", "1e400", "-inf", "0x10"];
const EXTREME: &[&str] = &[
    "0",
    "-1",
    "inf",
    "1e308",
    "1e-320",
    "18446744073709551616",
    "99999999999",
    "-0",
];

fn build_cases(dir: &Path) -> Vec<Case> {
    let d = dir.to_str().unwrap().to_string();
    let mut cases = Vec::new();
    let mut push = |args: String, class: Class| {
        cases.push(Case {
            args: args
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s == "<EMPTY>" {
                        String::new()
                    } else {
                        s.into()
                    }
                })
                .collect(),
            class,
        });
    };
    let value = |v: &str| {
        if v.is_empty() {
            "<EMPTY>".to_string()
        } else {
            v.to_string()
        }
    };

    // Files: NPY consumers, each fed its family.
    let npy_consumers: &[(&str, &str, Vec<usize>)] = &[
        ("linsolve --matrix {d}/spd6.mtx --rhs", "rhs6", vec![6]),
        ("poisson --scene box --grid 4 --rhs", "rhs64", vec![64]),
        ("ot --reg 0.5 --cost", "cost", vec![5, 6]),
        ("ot --reg 0.5 --cost {d}/cost-valid.npy --a", "a5", vec![5]),
        ("ot --reg 0.5 --y {d}/y-valid.npy --x", "x", vec![5, 2]),
        (
            "optimize --problem rosenbrock:4 --method gd-armijo --max-iters 50 --x0",
            "x0",
            vec![4],
        ),
        ("spectrum --top-k 2 --matrix", "sym", vec![6, 6]),
        (
            "spectrum --mlp --data mixture:2 --n-samples 20 --dim 3 --hidden 2 --top-k 2 --weights",
            "weights",
            vec![17],
        ),
    ];
    for (seed, (prefix, tag, shape)) in npy_consumers.iter().enumerate() {
        for (k, (name, bytes, class)) in npy_family(shape, seed as u64).into_iter().enumerate() {
            let file = dir.join(format!("{tag}-{name}.npy"));
            std::fs::write(&file, bytes).unwrap();
            let json = if k.is_multiple_of(2) { " --json" } else { "" };
            push(
                format!("{} {}{json}", prefix.replace("{d}", &d), file.display()),
                class,
            );
        }
        // A path that is missing, and one that is a directory.
        push(
            format!("{} {d}/missing.npy", prefix.replace("{d}", &d)),
            Class::Bad,
        );
        push(format!("{} {d}", prefix.replace("{d}", &d)), Class::Bad);
        // A device that reports size 0 and never ends.
        if Path::new("/dev/zero").exists() {
            push(
                format!("{} /dev/zero", prefix.replace("{d}", &d)),
                Class::Bad,
            );
        }
    }
    if Path::new("/dev/zero").exists() {
        for args in [
            "linsolve --matrix /dev/zero",
            "spectrum --top-k 2 --matrix /dev/zero.mtx",
            "relu --data /dev/zero --json",
        ] {
            push(args.into(), Class::Bad);
        }
    }
    for (k, (name, text, class)) in mtx_family(7).into_iter().enumerate() {
        let file = dir.join(format!("m-{name}.mtx"));
        std::fs::write(&file, text).unwrap();
        let json = if k.is_multiple_of(2) { " --json" } else { "" };
        push(format!("linsolve --matrix {}{json}", file.display()), class);
        // spectrum takes any symmetric matrix: indefinite, zero or
        // duplicate-summed files may be analysed, malformed ones are refused.
        let sclass =
            if name.contains("diagonal") || name == "indefinite" || name.starts_with("zero-m") {
                Class::Any
            } else {
                class
            };
        push(
            format!("spectrum --top-k 2 --matrix {}{json}", file.display()),
            sclass,
        );
    }

    // Flags: a fast valid base per subcommand, one flag replaced at a time.
    let flags: &[(&str, &[&str])] = &[
        ("linsolve --matrix {d}/spd6.mtx", &["--rtol", "--max-iters"]),
        (
            "poisson --scene box --grid 4",
            &["--grid", "--seed", "--rtol", "--max-iters"],
        ),
        (
            "ot --problem random-assignment:8 --reg 0.5",
            &["--reg", "--tol", "--max-iters"],
        ),
        (
            "ot --problem random-assignment:8 --reg 0.5 --method sinkhorn",
            &["--max-iters", "--check-every", "--eps-scaling"],
        ),
        ("ot --problem random-assignment:8 --eta 2", &["--eta"]),
        (
            "ot --problem random-assignment:8 --reg 0.5 --method sns",
            &[
                "--keep",
                "--shift-mu",
                "--cg-rtol",
                "--switch-ratio",
                "--sinkhorn-iters",
            ],
        ),
        (
            "optimize --problem rosenbrock:4 --method adam --max-iters 30",
            &[
                "--max-iters",
                "--tol",
                "--lr",
                "--beta1",
                "--beta2",
                "--eps",
                "--weight-decay",
            ],
        ),
        (
            "optimize --problem rosenbrock:4 --method gd --max-iters 30",
            &["--l", "--lr"],
        ),
        (
            "optimize --problem rosenbrock:4 --method nesterov --max-iters 30",
            &["--l", "--mu"],
        ),
        (
            "optimize --problem rosenbrock:4 --method grn --max-iters 30",
            &["--gamma0"],
        ),
        (
            "optimize --problem logistic:iris --method grn --max-iters 30",
            &["--reg"],
        ),
        (
            "bilevel --problem quadratic:3:4 --max-iters 30",
            &[
                "--sigma",
                "--sigma-min",
                "--grad-tol",
                "--max-iters",
                "--seed",
            ],
        ),
        (
            "relu --data wine:0v1 --patterns 4 --max-iters 30",
            &[
                "--patterns",
                "--beta",
                "--rho",
                "--max-iters",
                "--tol",
                "--test-fraction",
                "--seed",
            ],
        ),
        (
            "relu --data wine:0v1 --patterns 4 --max-iters 30 --pricing 1 --pricing-candidates 100",
            &["--pricing-local-steps"],
        ),
        (
            "spectrum --matrix {d}/sym-valid.npy --top-k 2",
            &[
                "--top-k",
                "--bottom-k",
                "--max-steps",
                "--tol",
                "--samples",
                "--seed",
            ],
        ),
        (
            "spectrum --matrix {d}/sym-valid.npy --top-k 2 --trace hutchpp",
            &[
                "--samples",
                "--density-steps",
                "--max-outliers",
                "--bulk-tol",
                "--symmetry-tol",
            ],
        ),
        (
            "spectrum --mlp --data mixture:2 --n-samples 20 --dim 3 --hidden 2 --top-k 2",
            &[
                "--n-samples",
                "--dim",
                "--train-epochs",
                "--lr",
                "--batch",
                "--momentum",
                "--layer",
            ],
        ),
        ("tour --grid 8", &["--grid"]),
        ("info", &["--max-memory"]),
    ];
    let mut k = 0usize;
    for (base, names) in flags {
        let base = base.replace("{d}", &d);
        for name in names.iter() {
            for v in WRONG {
                k += 1;
                let json = if k.is_multiple_of(2) { " --json" } else { "" };
                push(format!("{base} {name} {}{json}", value(v)), Class::Bad);
            }
            for v in EXTREME {
                k += 1;
                let json = if k.is_multiple_of(2) { " --json" } else { "" };
                push(format!("{base} {name} {v}{json}"), Class::Any);
            }
        }
        // The flag given twice, and with no value.
        push(format!("{base} {} 1 {} 2", names[0], names[0]), Class::Bad);
        push(format!("{base} {}", names[0]), Class::Bad);
        push(format!("{base} --no-such-flag"), Class::Bad);
    }

    // Problem names with hostile arguments.
    for p in [
        "rosenbrock:",
        "rosenbrock:0",
        "rosenbrock:-1",
        "rosenbrock:abc",
        "rosenbrock:4:5",
        "rosenbrock:1e3",
        "rosenbrock:18446744073709551616",
        "chebyshev:4:0",
        "chebyshev:0",
        "logsumexp:0:0",
        "logsumexp:4",
        "normpow4:3:3:3",
        "logistic:nope",
        "softmax:",
        "f4",
        "",
    ] {
        push(
            format!(
                "optimize --method gd-armijo --max-iters 20 --problem {}",
                value(p)
            ),
            Class::Bad,
        );
    }
    for p in [
        "rosenbrock:1000000000",
        "rosenbrock:100000",
        "chebyshev:100000",
        "logsumexp:100000:100000",
    ] {
        for m in ["gd", "adam", "grn", "nesterov"] {
            push(
                format!("optimize --method {m} --max-iters 3 --problem {p} --json"),
                Class::Any,
            );
        }
    }
    for p in [
        "random-assignment:8:1:2",
        "random-assignment:abc",
        "random-assignment:-3",
        "clouds:abc",
        "clouds:0",
        "digits-w2:0:1:2",
        "digits-w2:a:b",
        "gaussian-w2:x",
        "random-assignment:4294967296",
        "clouds:4294967297",
        "",
    ] {
        push(format!("ot --reg 0.5 --problem {}", value(p)), Class::Bad);
    }
    // Degenerate but valid: one point, a clouds problem of two.
    for p in [
        "random-assignment:1",
        "clouds:1",
        "random-assignment:2:18446744073709551615",
    ] {
        push(format!("ot --reg 0.5 --json --problem {p}"), Class::Any);
    }
    for p in [
        "quadratic:0",
        "quadratic:3:4:5",
        "quadratic:-1",
        "quadratic:100000000:100000000",
        "ridge:nope",
        "toy:nope",
        "hyperclean:iris",
        "",
    ] {
        push(
            format!("bilevel --max-iters 10 --problem {}", value(p)),
            Class::Bad,
        );
    }
    for data in [
        "nope",
        "digits:2v2",
        "digits:2v11",
        "wine:0v7",
        "digits:abc",
        "{d}/missing.csv",
        "{d}/ragged.csv",
        "{d}/empty.csv",
        "{d}/text.csv",
        "{d}/nan.csv",
        "{d}/oneclass.csv",
        "{d}/huge.csv",
        "{d}/e300.csv",
        "{d}/em300.csv",
    ] {
        push(
            format!("relu --max-iters 10 --data {}", data.replace("{d}", &d)),
            Class::Bad,
        );
    }
    for data in [
        "mixture:0",
        "mixture:1",
        "mixture:2:-1",
        "mixture:2:1:3",
        "mixture:x",
        "npy:{d}/missing.npy",
        "npy:{d}/x-valid.npy",
        "cifar",
    ] {
        push(
            format!(
                "spectrum --mlp --n-samples 20 --dim 3 --hidden 2 --top-k 2 --data {}",
                data.replace("{d}", &d)
            ),
            Class::Bad,
        );
    }
    for hidden in [
        "0",
        "2,0",
        "abc",
        "2,,2",
        "-1",
        "100000,100000",
        "2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2",
    ] {
        push(
            format!(
                "spectrum --mlp --data mixture:2 --n-samples 20 --dim 3 --top-k 2 --hidden {hidden}"
            ),
            if hidden.starts_with("2,2,2") {
                Class::Any
            } else {
                Class::Bad
            },
        );
    }
    // Combinations that do not apply.
    for args in [
        "spectrum --mlp --matrix {d}/sym-valid.npy",
        "spectrum --top-k 2",
        "spectrum --matrix {d}/sym-valid.npy --train-epochs 3",
        "spectrum --matrix {d}/sym-valid.npy --stability",
        "ot --problem random-assignment:8 --reg 0.5 --eta 2",
        "ot --problem random-assignment:8 --cost {d}/cost-valid.npy --reg 0.5",
        "ot --reg 0.5",
        "ot --problem random-assignment:8 --reg 0.5 --method sinkhorn --keep 5",
        "poisson --scene box --grid 4 --method cg --k 3",
        "poisson --scene box --grid 4 --method dcdm --refresh-every 3",
        "ot --problem random-assignment:8 --reg 0.5 --eps-scaling 1",
        "ot --problem random-assignment:8 --reg 0.5 --method sinkhorn --cg-rtol 1e-3",
        "ot --problem random-assignment:8 --reg 0.5 --metric euclidean",
        "optimize --problem rosenbrock:4 --method adam --gamma0 2",
        "optimize --problem rosenbrock:4 --method gd --mu 1",
        "optimize --problem rosenbrock:4 --method grn --lr 1",
        "optimize --problem rosenbrock:4 --method gd --seed 3",
        "optimize --problem rosenbrock:4 --method gd --reg 3",
        "optimize --problem rosenbrock:4 --method gd --lr 0.001 --l 3",
        "bilevel --problem quadratic:3:4 --method aid --sigma 1",
        "bilevel --problem quadratic:3:4 --method penalty --batch-size 8",
        "relu --data wine:0v1 --pricing-candidates 10",
        "relu --data wine:0v1 --pricing-local-steps 10",
        "relu --data wine:0v1 --loss-rho 2",
        "ot --reg 0.5 --y {d}/y-valid.npy --x {d}/x-e300.npy --json",
        "poisson --scene box --grid 4 --method cg --model {d}/missing.bpk",
        "linsolve",
        "optimize --problem rosenbrock:4",
        "optimize --problem rosenbrock:4 --method adam --l 3",
        "optimize --problem rosenbrock:4 --method gd --beta1 0.5",
        "info --extra",
        "nosuchcommand",
    ] {
        push(args.replace("{d}", &d), Class::Bad);
    }
    cases
}

fn write_fixtures(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let tri: String = (1..=6)
        .flat_map(|i| {
            let mut v = vec![format!("{i} {i} 4")];
            if i < 6 {
                v.push(format!("{} {i} -1", i + 1));
            }
            v
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(
        dir.join("spd6.mtx"),
        format!("%%MatrixMarket matrix coordinate real symmetric\n6 6 11\n{tri}\n"),
    )
    .unwrap();
    let sym = |i: usize| {
        let (r, c) = (i / 6, i % 6);
        if r == c {
            4.0 + r as f64
        } else {
            0.1 / (1 + r + c) as f64
        }
    };
    std::fs::write(dir.join("sym-valid.npy"), npy_valid(&[6, 6], sym)).unwrap();
    std::fs::write(
        dir.join("cost-valid.npy"),
        npy_valid(&[5, 6], |i| (i % 7) as f64 * 0.1),
    )
    .unwrap();
    std::fs::write(
        dir.join("y-valid.npy"),
        npy_valid(&[4, 2], |i| i as f64 * 0.2),
    )
    .unwrap();
    std::fs::write(
        dir.join("x-e300.npy"),
        npy_valid(&[5, 2], |i| (1 + i) as f64 * 1e300),
    )
    .unwrap();
    std::fs::write(
        dir.join("x-valid.npy"),
        npy_valid(&[5, 2], |i| i as f64 * 0.1),
    )
    .unwrap();
    std::fs::write(dir.join("ragged.csv"), "1,2,1\n3,0\n").unwrap();
    std::fs::write(dir.join("empty.csv"), "").unwrap();
    std::fs::write(dir.join("text.csv"), "1,x,1\n3,4,0\n").unwrap();
    std::fs::write(dir.join("nan.csv"), "1,NaN,1\n3,4,0\n").unwrap();
    std::fs::write(dir.join("oneclass.csv"), "1,2,1\n3,4,1\n5,6,1\n").unwrap();
    std::fs::write(dir.join("huge.csv"), "1e400,2,1\n3,4,0\n").unwrap();
    // Finite but beyond what XᵀX can hold.
    std::fs::write(dir.join("e300.csv"), "1e300,2e300,1\n3e300,-4e300,0\n").unwrap();
    std::fs::write(dir.join("em300.csv"), "1e-300,2e-300,1\n3e-300,-4e-300,0\n").unwrap();
}

struct Outcome {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    seconds: f64,
    timed_out: bool,
}

fn run(bin: &Path, args: &[String], scratch: &Path) -> Outcome {
    let out_path = scratch.with_extension("out");
    let err_path = scratch.with_extension("err");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEM_CAP_KIB}; exec \"$0\" \"$@\""))
        .arg(bin)
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("sh runs");
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.code(),
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned(),
        seconds: start.elapsed().as_secs_f64(),
        timed_out,
    }
}

fn violations(case: &Case, o: &Outcome) -> Vec<String> {
    let mut why = Vec::new();
    if o.timed_out {
        why.push(format!("timed out after {:.0} s", o.seconds));
        return why;
    }
    let Some(code) = o.code else {
        why.push("killed by a signal (abort or out of memory)".into());
        return why;
    };
    if o.stderr.contains("panicked") || code == 101 {
        why.push(format!("panic: {}", o.stderr.lines().next().unwrap_or("")));
    }
    match (case.class, code) {
        (Class::Bad, 2) | (Class::Any, 0..=2) => {}
        (c, code) => why.push(format!("exit {code}, expected {c:?}")),
    }
    let lines = o.stderr.trim_end().lines().count();
    if code != 0 && lines != 1 {
        why.push(format!("{lines} stderr lines"));
    }
    // Bad input names the offending flag or file (or the subcommand, for
    // clap's own errors).
    if code == 2 {
        let line = o.stderr.trim_end();
        let names = line.contains("--")
            || line.contains('/')
            || line.contains(".npy")
            || line.contains(".mtx")
            || line.starts_with("error:");
        if !names {
            why.push(format!("bad input names no flag or file: {line}"));
        }
    }
    if code == 2 && !o.stdout.is_empty() {
        why.push("bad input printed a report on stdout".into());
    }
    if case.args.iter().any(|a| a == "--json") && (code == 0 || code == 1) {
        let text = String::from_utf8_lossy(&o.stdout);
        let objects = text.lines().filter(|l| !l.trim().is_empty()).count();
        match serde_json::from_str::<serde_json::Value>(text.trim()) {
            Ok(v) if v.is_object() && objects == 1 => {}
            _ => why.push("--json did not print exactly one JSON object".into()),
        }
    }
    why
}

#[test]
fn every_subcommand_survives_generated_hostile_input() {
    let dir = std::env::temp_dir().join(format!("optlab-hostile-{}", std::process::id()));
    write_fixtures(&dir);
    let cases = build_cases(&dir);
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_optlab"));
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    let slowest = Mutex::new((0.0f64, String::new()));
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..2 {
            let (cases, next, found, slowest, bin, dir) =
                (&cases, &next, &found, &slowest, &bin, &dir);
            s.spawn(move || {
                let scratch = dir.join(format!("run-{w}"));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let o = run(bin, &case.args, &scratch);
                    let why = violations(case, &o);
                    let line = case.args.join(" ");
                    {
                        let mut sl = slowest.lock().unwrap();
                        if o.seconds > sl.0 {
                            *sl = (o.seconds, line.clone());
                        }
                    }
                    if !why.is_empty() {
                        found.lock().unwrap().push(format!(
                            "`optlab {line}`: {}\n    stderr: {}",
                            why.join("; "),
                            o.stderr
                                .trim_end()
                                .lines()
                                .take(3)
                                .collect::<Vec<_>>()
                                .join(" | ")
                        ));
                    }
                }
            });
        }
    });
    let found = found.into_inner().unwrap();
    let (slow_s, slow_case) = slowest.into_inner().unwrap();
    println!(
        "{} hostile cases in {:.1} s (slowest {slow_s:.2} s: optlab {slow_case}); {} violations",
        cases.len(),
        start.elapsed().as_secs_f64(),
        found.len()
    );
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        found.is_empty(),
        "{} violations:\n{}",
        found.len(),
        found.join("\n")
    );
}
