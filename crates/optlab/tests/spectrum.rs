//! `optlab spectrum` against NumPy: the 2 000 × 2 000 dense symmetric
//! matrix of `scripts/make_spectrum_fixture.py` (rebuilt here from its
//! formula and written as NPY), and the MLP mode's JSON contract.

use std::path::PathBuf;
use std::process::Command;

use linalg_core::faer::Mat;
use linalg_core::io::{NpyDtype, write_npy_mat};
use serde_json::Value;

fn optlab(args: &[&str]) -> (i32, Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args(args)
        .output()
        .expect("the optlab binary runs");
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (
        o.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-spectrum-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn top_ten_of_a_dense_2000_matrix_equal_numpy() {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/spectrum_2000.json")).unwrap();
    let n = fixture["n"].as_u64().unwrap() as usize;
    let a = Mat::from_fn(n, n, |i, j| {
        let (fi, fj) = (i as f64, j as f64);
        let mut v = ((fi + 1.0) * (fj + 1.0) * 0.001 + (fi + fj) * 0.37).sin() / (n as f64).sqrt();
        if i == j {
            v += 5.0 * 0.95f64.powi(i as i32);
        }
        v
    });
    let d = dir();
    let path = d.join("a2000.npy");
    write_npy_mat(&path, a.as_ref(), NpyDtype::F64).unwrap();
    let p = path.to_str().unwrap();
    let (code, v, err) = optlab(&["spectrum", "--matrix", p, "--top-k", "10", "--json"]);
    assert_eq!(code, 0, "{err}");
    let want = floats(&fixture["top_eigenvalues"]);
    let got = floats(&v["top_eigenvalues"]);
    let res = floats(&v["ritz_residuals"]);
    for i in 0..10 {
        let rel = (got[i] - want[i]).abs() / want[i].abs();
        assert!(
            rel <= 1e-8,
            "λ{}: {} vs NumPy {} ({rel:e})",
            i + 1,
            got[i],
            want[i]
        );
        assert!(res[i] <= 1e-8, "λ{}: residual {}", i + 1, res[i]);
    }
    // The stochastic trace and Frobenius norm within 4 standard errors.
    let (tr, se) = (
        v["trace"].as_f64().unwrap(),
        v["trace_stderr"].as_f64().unwrap(),
    );
    let exact = fixture["trace"].as_f64().unwrap();
    assert!(
        (tr - exact).abs() <= 4.0 * se,
        "trace {tr} ± {se} vs {exact}"
    );
    let (f, fse) = (
        v["frobenius"].as_f64().unwrap(),
        v["frobenius_stderr"].as_f64().unwrap(),
    );
    let fe = fixture["frobenius"].as_f64().unwrap();
    assert!((f - fe).abs() <= 4.0 * fse, "‖A‖_F {f} ± {fse} vs {fe}");
    for key in [
        "n",
        "top_eigenvalues",
        "bottom_eigenvalues",
        "ritz_residuals",
        "trace",
        "trace_stderr",
        "frobenius",
        "outliers",
        "bulk_fraction",
        "matvecs",
        "seconds",
    ] {
        assert!(!v[key].is_null(), "key {key}");
    }
    assert_eq!(v["n"], 2000);
    // The exact path agrees with NumPy everywhere.
    // (The smallest end is a tight cluster, −0.88623 to −0.88613: Lanczos
    // would need far more steps there, so it is checked on the exact path.)
    let (code, v, err) = optlab(&[
        "spectrum",
        "--matrix",
        p,
        "--exact",
        "--bottom-k",
        "5",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    for (g, w) in floats(&v["top_eigenvalues"]).iter().zip(&want) {
        assert!((g - w).abs() <= 1e-10 * w.abs(), "{g} vs {w}");
    }
    for (b, w) in floats(&v["bottom_eigenvalues"])
        .iter()
        .zip(floats(&fixture["bottom_eigenvalues"]))
    {
        assert!((b - w).abs() <= 1e-10 * w.abs(), "{b} vs {w}");
    }
    assert!((v["trace"].as_f64().unwrap() - exact).abs() <= 1e-10 * exact.abs());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn mlp_mode_reports_outliers_stability_and_collapse() {
    let d = dir();
    let out = d.join("mlp");
    let (code, v, err) = optlab(&[
        "spectrum",
        "--mlp",
        "--data",
        "mixture:3",
        "--hidden",
        "30,30",
        "--train-epochs",
        "300",
        "--lr",
        "0.5",
        "--top-k",
        "10",
        "--stability",
        "--collapse",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    // Sagun: k² = 9 outliers for MSE on 3 one-hot outputs.
    assert_eq!(v["outliers"], 9, "{v}");
    assert!(v["gap_ratio"].as_f64().unwrap() >= 10.0);
    assert_eq!(v["parameters"], 1653);
    let st = &v["stability"];
    let pts = st["points"].as_array().unwrap();
    assert_eq!(pts.len(), 21);
    // GD at η = 0.5 overshoots λmax·η/2 = 1 early (1.11 at epoch 15, the
    // edge of stability) and settles below it.
    let last = pts.last().unwrap();
    assert!(
        last["lambda_max_eta_half"].as_f64().unwrap() <= 1.0,
        "{last}"
    );
    let peak = pts
        .iter()
        .map(|p| p["lambda_max_eta_half"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(peak > 1.0, "no overshoot: {peak}");
    let c = &v["collapse"];
    for key in [
        "nc1_papyan",
        "nc1_han",
        "nc1_quotient",
        "nc2_equinorm",
        "nc3",
        "nc4",
        "cdnv",
    ] {
        assert!(c[key].as_f64().is_some(), "collapse.{key}");
    }
    for f in [
        "density.svg",
        "density.csv",
        "eigenvalues.svg",
        "eigenvalues.csv",
        "stability.svg",
    ] {
        let meta = std::fs::metadata(out.join(f)).unwrap_or_else(|_| panic!("{f} written"));
        assert!(meta.len() > 100, "{f}");
    }
    // Per-layer blocks: the blocks' exact traces add up to the whole
    // trace (the trace only sees the block diagonal of H).
    let mlp = |extra: &[&str]| {
        let mut args = vec![
            "spectrum",
            "--mlp",
            "--data",
            "mixture:3",
            "--hidden",
            "30,30",
            "--train-epochs",
            "300",
            "--lr",
            "0.5",
            "--top-k",
            "3",
            "--exact",
            "--json",
        ];
        args.extend_from_slice(extra);
        let (code, v, err) = optlab(&args);
        assert_eq!(code, 0, "{err}");
        v["trace"].as_f64().unwrap()
    };
    let sum: f64 = ["0", "1", "2"].iter().map(|l| mlp(&["--layer", l])).sum();
    let whole = mlp(&[]);
    assert!(
        (sum - whole).abs() <= 1e-10 * whole.abs(),
        "{sum} vs {whole}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
