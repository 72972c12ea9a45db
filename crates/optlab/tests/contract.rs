//! The hostile-input issue's reproductions, each as a test: oversized
//! headers refused fast and small, runs bounded by their limits, the
//! time limit, closed outputs, and bit-identical results whatever the
//! thread count. The generated suite is `hostile.rs`; the table of exit
//! codes is `exit_codes.rs`.

mod common;
use common::npy_raw;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_optlab"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-contract-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs `optlab ARGS` under a virtual-memory cap (KiB) with `threads` rayon
/// threads; returns the output and the wall time.
fn run_capped(args: &[&str], cap_kib: u64, threads: usize) -> (Output, Duration) {
    let t = Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {cap_kib}; exec \"$0\" \"$@\""))
        .arg(bin())
        .args(args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out, t.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

fn write_cost_5x6(path: &Path) {
    let v: Vec<u8> = (0..30)
        .map(|i| ((i * 37 % 30) as f64) / 29.0)
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(
        path,
        npy_raw(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 6), }",
            &v,
        ),
    )
    .unwrap();
}

/// 100 MB of address space: the binary itself and one thread fit, an
/// allocation sized by the header would not.
const SMALL_KIB: u64 = 100 * 1024;

#[test]
fn a_matrix_market_header_declaring_1e9_rows_is_refused_in_under_a_second_and_100_mb() {
    let p = tmp("huge.mtx");
    std::fs::write(
        &p,
        "%%MatrixMarket matrix coordinate real symmetric\n1000000000 1000000000 1\n1 1 1\n",
    )
    .unwrap();
    let ps = p.to_str().unwrap();
    for args in [
        vec!["linsolve", "--matrix", ps],
        vec!["spectrum", "--matrix", ps, "--top-k", "2"],
    ] {
        let (o, t) = run_capped(&args, SMALL_KIB, 1);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(t < Duration::from_secs(1), "{args:?}: {t:?}");
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(e.contains("huge.mtx"), "{e}");
    }
    // The general reader (no SPD shortcut) refuses it by the budget, naming bytes.
    let (o, _) = run_capped(
        &[
            "spectrum",
            "--matrix",
            ps,
            "--top-k",
            "2",
            "--max-memory",
            "64M",
        ],
        SMALL_KIB,
        1,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bytes"), "{}", stderr(&o));
}

#[test]
fn an_npy_shape_whose_byte_count_wraps_around_2_64_is_refused() {
    let p = tmp("wrap.npy");
    // 2⁶¹ × 2 entries × 8 bytes = 2⁶⁸ bytes: wraps to 0 unchecked.
    std::fs::write(
        &p,
        npy_raw(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952, 2), }",
            &[0; 16],
        ),
    )
    .unwrap();
    let ps = p.to_str().unwrap();
    for args in [
        vec!["ot", "--cost", ps, "--reg", "1"],
        vec!["spectrum", "--matrix", ps],
    ] {
        let (o, t) = run_capped(&args, SMALL_KIB, 1);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(t < Duration::from_secs(1));
        assert!(stderr(&o).contains("overflows"), "{}", stderr(&o));
        assert!(stderr(&o).contains("wrap.npy"), "{}", stderr(&o));
    }
}

#[test]
fn gradient_descent_on_rosenbrock_100000_runs_matrix_free() {
    // L from Lanczos on the Hessian operator: no 80 GB dense Hessian.
    let (o, _) = run_capped(
        &[
            "optimize",
            "--problem",
            "rosenbrock:100000",
            "--method",
            "gd",
            "--max-iters",
            "20",
            "--json",
        ],
        1 << 20,
        2,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["n"], 100000);
    assert_eq!(v["termination"], "max_iterations");
    let h = v["history"].as_array().unwrap();
    let (g0, g1) = (
        h[0]["value"].as_f64().unwrap(),
        h.last().unwrap()["value"].as_f64().unwrap(),
    );
    assert!(g1 < 0.1 * g0, "1/L steps must descend: {g0} → {g1}");
    assert!(v["work"]["hessian_vec_evals"].as_u64().unwrap() > 0);
    // The dense-model methods are refused with the byte count and the way out.
    let (o, _) = run_capped(
        &[
            "optimize",
            "--problem",
            "rosenbrock:100000",
            "--method",
            "grn-gn",
        ],
        1 << 20,
        2,
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("80000000000 bytes") && e.contains("gd"), "{e}");
    // grn solves the exact Hessian matrix-free: it runs at this size.
    let (o, _) = run_capped(
        &[
            "optimize",
            "--problem",
            "rosenbrock:100000",
            "--method",
            "grn",
            "--max-iters",
            "3",
            "--json",
        ],
        1 << 20,
        2,
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["work"]["hessian_vec_evals"].as_u64().unwrap() > 0);
}

#[test]
fn sns_at_reg_1e_8_with_five_iterations_returns_within_two_seconds() {
    let p = tmp("c56.npy");
    write_cost_5x6(&p);
    for method in ["sns", "newton-dense", "sinkhorn"] {
        let (o, t) = run_capped(
            &[
                "ot",
                "--cost",
                p.to_str().unwrap(),
                "--reg",
                "1e-8",
                "--method",
                method,
                "--max-iters",
                "5",
                "--json",
            ],
            1 << 20,
            2,
        );
        assert!(t < Duration::from_secs(2), "{method}: {t:?}");
        assert_eq!(o.status.code(), Some(1), "{method}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["termination"], "max_iterations");
        // Every pass of the Newton stage counts, fallback sweeps included.
        assert!(v["newton_iterations"].as_u64().unwrap() <= 5);
        assert!(v["iterations"].as_u64().unwrap() <= 20 + 5, "{v}");
    }
}

#[test]
fn an_unconverged_run_exits_1_with_its_report_in_both_modes() {
    let base = [
        "optimize",
        "--problem",
        "rosenbrock:10",
        "--method",
        "adam",
        "--max-iters",
        "200",
    ];
    let (o, _) = run_capped(&base, 1 << 20, 2);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("max_iterations") && text.contains("f(x)"),
        "{text}"
    );
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    let mut args = base.to_vec();
    args.push("--json");
    let (o, _) = run_capped(&args, 1 << 20, 2);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["converged"], false);
    assert_eq!(v["iterations"], 200);
}

#[test]
fn a_closed_or_full_stdout_ends_quietly_without_a_panic() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = Command::new(bin())
        .arg("info")
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // `… --json | head -c 10`: the reader goes away after 10 bytes.
    let mut child = Command::new(bin())
        .args([
            "ot",
            "--problem",
            "random-assignment:300",
            "--reg",
            "0.01",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{:?}", o.status);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(&first[..2], b"{\"");
}

#[test]
fn the_time_limit_stops_a_run_cleanly_with_its_report() {
    let p = tmp("c56-time.npy");
    write_cost_5x6(&p);
    let (o, t) = run_capped(
        &[
            "ot",
            "--cost",
            p.to_str().unwrap(),
            "--reg",
            "1e-8",
            "--method",
            "sinkhorn",
            "--max-iters",
            "1000000000",
            "--time-limit",
            "0.5",
            "--json",
        ],
        1 << 20,
        2,
    );
    assert!(t < Duration::from_secs(5), "{t:?}");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["termination"], "time_limit");
    assert_eq!(v["converged"], false);
    let s = v["seconds"].as_f64().unwrap();
    assert!((0.45..2.0).contains(&s), "{s}");
    assert!(stderr(&o).contains("--time-limit"), "{}", stderr(&o));
    // A bad value is bad input, naming the flag.
    let (o, _) = run_capped(&["info", "--time-limit", "-1"], 1 << 20, 1);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--time-limit"));
}

/// The report without its timings (wall times differ run to run).
fn without_timings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|k, _| !k.contains("seconds"));
            m.values_mut().for_each(without_timings);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(without_timings),
        _ => {}
    }
}

#[test]
fn seeded_runs_are_bit_identical_with_1_2_and_3_threads() {
    let runs: &[&[&str]] = &[
        &[
            "ot",
            "--problem",
            "random-assignment:300:7",
            "--reg",
            "0.01",
            "--method",
            "sns",
        ],
        &[
            "ot",
            "--problem",
            "random-assignment:300:7",
            "--reg",
            "0.01",
            "--method",
            "sinkhorn",
        ],
        &["ot", "--problem", "clouds:400:3", "--reg", "0.05"],
        &[
            "poisson",
            "--scene",
            "smoke-plume",
            "--grid",
            "32",
            "--method",
            "mg-pcg",
        ],
        &[
            "poisson",
            "--scene",
            "smoke-plume",
            "--grid",
            "32",
            "--method",
            "ic0-pcg",
        ],
        &[
            "optimize",
            "--problem",
            "softmax:digits",
            "--method",
            "grn",
            "--max-iters",
            "20",
        ],
        &[
            "optimize",
            "--problem",
            "logsumexp:400:300",
            "--method",
            "nesterov",
            "--max-iters",
            "300",
        ],
        &[
            "relu",
            "--data",
            "wine:0v1",
            "--patterns",
            "10",
            "--max-iters",
            "300",
        ],
        &[
            "spectrum",
            "--mlp",
            "--data",
            "mixture:3",
            "--n-samples",
            "120",
            "--hidden",
            "8",
            "--top-k",
            "3",
            "--trace",
            "hutchpp",
            "--samples",
            "12",
            "--train-epochs",
            "20",
        ],
        &["bilevel", "--problem", "quadratic:3:4", "--max-iters", "50"],
    ];
    for args in runs {
        let mut args = args.to_vec();
        args.push("--json");
        let mut reports = Vec::new();
        for threads in [1, 2, 3] {
            let (o, _) = run_capped(&args, 4 << 20, threads);
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{args:?}: {}",
                stderr(&o)
            );
            let mut v = json(&o);
            without_timings(&mut v);
            reports.push(v.to_string());
        }
        assert_eq!(reports[0], reports[1], "{args:?}: 1 vs 2 threads");
        assert_eq!(reports[0], reports[2], "{args:?}: 1 vs 3 threads");
    }
}

#[test]
fn linsolve_is_scale_safe_from_1e_minus_320_to_1e300() {
    // tridiag(−1, 4, −1)·s on 30 unknowns; b = A·1 so x = 1 at every scale.
    for s in [5e-324, 1e-320, 1e-300, 1.0, 1e300, 4e307] {
        let mut text = String::from("%%MatrixMarket matrix coordinate real symmetric\n30 30 59\n");
        for i in 1..=30 {
            text.push_str(&format!("{i} {i} {:e}\n", 4.0 * s));
            if i < 30 {
                text.push_str(&format!("{} {i} {:e}\n", i + 1, -s));
            }
        }
        let p = tmp(&format!("scaled-{s:e}.mtx"));
        std::fs::write(&p, text).unwrap();
        let xp = tmp(&format!("x-{s:e}.npy"));
        for method in ["cg", "jacobi-pcg", "ic0-pcg"] {
            let (o, _) = run_capped(
                &[
                    "linsolve",
                    "--matrix",
                    p.to_str().unwrap(),
                    "--method",
                    method,
                    "--x-out",
                    xp.to_str().unwrap(),
                    "--json",
                ],
                1 << 20,
                1,
            );
            assert_eq!(o.status.code(), Some(0), "{s:e} {method}: {}", stderr(&o));
            let v = json(&o);
            assert!(v["iterations"].as_u64().unwrap() > 0, "{s:e} {method}: {v}");
            let x = linalg_core::io::read_npy_col(&xp).unwrap();
            // The smallest subnormals store 4s and −s with a few bits only:
            // the matrix itself is then another one, with another solution.
            let bar = if s < 1e-300 { 0.5 } else { 1e-7 };
            let err = x.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max);
            assert!(err < bar, "{s:e} {method}: max |x − 1| = {err:e}");
        }
    }
}

#[test]
fn poisson_is_scale_safe_in_its_right_hand_side() {
    use linalg_core::io::{NpyDtype, read_npy_col, write_npy_col};
    let b1 = tmp("poisson-b1.npy");
    let (o, _) = run_capped(
        &[
            "poisson",
            "--scene",
            "box",
            "--grid",
            "8",
            "--write-rhs",
            b1.to_str().unwrap(),
            "--json",
        ],
        1 << 20,
        1,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let base = json(&o);
    let b = read_npy_col(&b1).unwrap();
    for s in [1e-320, 1e-300, 1e300] {
        let p = tmp(&format!("poisson-b-{s:e}.npy"));
        write_npy_col(&p, (&b * s).as_ref(), NpyDtype::F64).unwrap();
        for method in ["cg", "mg-pcg"] {
            let (o, _) = run_capped(
                &[
                    "poisson",
                    "--scene",
                    "box",
                    "--grid",
                    "8",
                    "--method",
                    method,
                    "--rhs",
                    p.to_str().unwrap(),
                    "--json",
                ],
                1 << 20,
                1,
            );
            assert_eq!(o.status.code(), Some(0), "{s:e} {method}: {}", stderr(&o));
            let v = json(&o);
            let rr = v["relative_residual"].as_f64().expect("a finite residual");
            assert!(rr > 0.0 && rr < 1e-8, "{s:e} {method}: {rr:e}");
            if method == "mg-pcg" {
                assert_eq!(v["iterations"], base["iterations"], "{s:e}");
            }
        }
    }
}

#[test]
fn spectrum_is_scale_safe() {
    // tridiag(−s, (4 + i)s, −s) on 30 unknowns: every reported eigenvalue,
    // trace and norm scales with s; ratios do not change.
    let run = |s: f64| {
        let mut text = String::from("%%MatrixMarket matrix coordinate real symmetric\n30 30 59\n");
        for i in 1..=30 {
            text.push_str(&format!("{i} {i} {:e}\n", (4.0 + i as f64) * s));
            if i < 30 {
                text.push_str(&format!("{} {i} {:e}\n", i + 1, -s));
            }
        }
        let p = tmp(&format!("spectrum-{s:e}.mtx"));
        std::fs::write(&p, text).unwrap();
        let (o, _) = run_capped(
            &[
                "spectrum",
                "--matrix",
                p.to_str().unwrap(),
                "--top-k",
                "3",
                "--json",
            ],
            1 << 20,
            1,
        );
        assert_eq!(o.status.code(), Some(0), "{s:e}: {}", stderr(&o));
        json(&o)
    };
    let base = run(1.0);
    for s in [1e-300, 1e300] {
        let v = run(s);
        let rel = |key: &str| {
            let (a, b) = (v[key].as_f64().unwrap() / s, base[key].as_f64().unwrap());
            (a - b).abs() / b.abs()
        };
        for key in ["trace", "frobenius", "bulk_edge"] {
            assert!(rel(key) <= 1e-12, "{s:e}: {key} off by {:e}", rel(key));
        }
        for i in 0..3 {
            let (a, b) = (
                v["top_eigenvalues"][i].as_f64().unwrap() / s,
                base["top_eigenvalues"][i].as_f64().unwrap(),
            );
            assert!((a - b).abs() <= 1e-12 * b, "{s:e}: λ{i} {a} vs {b}");
        }
        assert_eq!(v["outliers"], base["outliers"]);
    }
    // Subnormal entries: finite, positive results (no zero norm, no NaN).
    let v = run(1e-320);
    assert!(v["frobenius"].as_f64().unwrap() > 0.0);
    assert!(v["gap_ratio"].as_f64().is_some_and(f64::is_finite));
}
