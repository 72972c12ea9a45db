//! The exit-code contract of every subcommand, as one table: bad input exits
//! 2 with one stderr line naming the file or flag; a solver that ran and
//! failed exits 1 after printing its report (with `--json`, one JSON object
//! on stdout that says `"converged": false`).

use std::path::{Path, PathBuf};
use std::process::Command;

use linalg_core::faer::sparse::{SparseRowMat, Triplet};
use linalg_core::faer::{Col, Mat};
use linalg_core::io::{MtxSymmetry, NpyDtype, write_matrix_market, write_npy_col, write_npy_mat};

/// One row: arguments (`{dir}` is the fixture folder), the exit code, a
/// fragment the one stderr line must contain.
struct Case {
    args: &'static str,
    code: i32,
    stderr: &'static str,
}

const fn case(args: &'static str, code: i32, stderr: &'static str) -> Case {
    Case { args, code, stderr }
}

const CASES: &[Case] = &[
    // linsolve: files and matrices.
    case("linsolve --matrix {dir}/missing.mtx", 2, "missing.mtx"),
    case("linsolve --matrix {dir}/bad.mtx", 2, "line 3"),
    case("linsolve --matrix {dir}/nonsym.mtx", 2, "not symmetric"),
    case(
        "linsolve --matrix {dir}/indef.mtx --json",
        2,
        "not positive definite",
    ),
    case(
        "linsolve --matrix {dir}/indef2.mtx --rhs {dir}/e1.npy",
        2,
        "operator is not positive definite",
    ),
    case(
        "linsolve --matrix {dir}/spd.mtx --rhs {dir}/short.npy",
        2,
        "length 2",
    ),
    case(
        "linsolve --matrix {dir}/spd.mtx --rhs {dir}/garbage.npy",
        2,
        "garbage.npy",
    ),
    case("linsolve --matrix {dir}/spd.mtx --rtol=-1", 2, "rtol"),
    case(
        "linsolve --matrix {dir}/spd.mtx --max-iters 0",
        2,
        "max_iters",
    ),
    case(
        "linsolve --matrix {dir}/spd.mtx --max-iters 2 --rtol 1e-14 --json",
        1,
        "did not converge",
    ),
    // poisson.
    case("poisson --scene box --grid 2", 2, "at least 4"),
    case("poisson --scene box --grid 12", 2, "power of two"),
    case("poisson --scene teapot", 2, "unknown scene"),
    case("poisson --method amg", 2, "amg"),
    case("poisson --grid 8 --rhs {dir}/short.npy", 2, "length 2"),
    case("poisson --grid 8 --rhs {dir}/nan512.npy", 2, "non-finite"),
    case("poisson --grid 8 --rtol 2", 2, "rtol"),
    case("poisson --grid 8 --max-iters 0", 2, "max_iters"),
    case(
        "poisson --scene smoke-plume --grid 16 --method cg --max-iters 3 --json",
        1,
        "did not converge",
    ),
    // ot.
    case("ot --x {dir}/X.npy --y {dir}/Y.npy --reg 0", 2, "reg"),
    case("ot --x {dir}/X.npy --y {dir}/Y.npy", 2, "--reg"),
    case("ot --x {dir}/X.npy --y {dir}/Y.npy --eta -3", 2, "--eta"),
    case(
        "ot --x {dir}/X.npy --y {dir}/Y.npy --a {dir}/neg5.npy --reg 0.1",
        2,
        "invalid entry",
    ),
    case(
        "ot --x {dir}/X.npy --y {dir}/Y.npy --a {dir}/short.npy --reg 0.1",
        2,
        "shape",
    ),
    case("ot --cost {dir}/missing.npy --reg 0.1", 2, "missing.npy"),
    case("ot --problem nope --reg 0.1", 2, "unknown --problem"),
    case(
        "ot --problem digits-w2:0:99999 --reg 0.1",
        2,
        "out of range",
    ),
    case("ot --problem random-assignment:0 --reg 0.1", 2, "--problem"),
    case(
        "ot --problem random-assignment:10000000 --reg 0.1",
        2,
        "too large",
    ),
    case("ot --problem clouds:99999999 --reg 0.1", 2, "too large"),
    case(
        "ot --problem random-assignment:30 --reg 0.01 --tol 0",
        2,
        "--tol",
    ),
    case(
        "ot --problem random-assignment:30 --reg 0.01 --keep 0",
        2,
        "--keep",
    ),
    case(
        "ot --problem random-assignment:30 --reg 0.01 --switch-ratio 2",
        2,
        "--switch-ratio",
    ),
    case(
        "ot --problem random-assignment:30 --reg 0.01 --method sinkhorn --eps-scaling 1 --eps-factor 1",
        2,
        "--eps-factor",
    ),
    case(
        "ot --problem random-assignment:60 --eta 1200 --method sinkhorn --max-iters 5 --json",
        1,
        "did not reach",
    ),
    case(
        "ot --problem random-assignment:60 --eta 1200 --method sns --max-iters 1 --json",
        1,
        "did not reach",
    ),
    // optimize.
    case("optimize --problem nope --method gd", 2, "--problem"),
    case("optimize --problem logistic --method grn", 2, "DATASET"),
    case("optimize --problem logistic:nope --method grn", 2, "nope"),
    case(
        "optimize --problem rosenbrock --method adam --lr=-1",
        2,
        "--lr",
    ),
    case(
        "optimize --problem rosenbrock --method adam --beta1 1.5",
        2,
        "--beta1",
    ),
    case(
        "optimize --problem rosenbrock --method nesterov --l 1 --mu 2",
        2,
        "--mu",
    ),
    case(
        "optimize --problem rosenbrock --method gd --tol=-1",
        2,
        "--tol",
    ),
    case("optimize --problem rosenbrock:1 --method grn", 2, "n"),
    case(
        "optimize --problem rosenbrock:99999999999 --method gd",
        2,
        "too large",
    ),
    case(
        "optimize --problem logsumexp:1000000:1000000 --method gd",
        2,
        "too large",
    ),
    case(
        "optimize --problem rosenbrock:100000 --method grn-gn",
        2,
        "too large",
    ),
    // grn solves the exact Hessian matrix-free: it runs at this size.
    case(
        "optimize --problem rosenbrock:100000 --method grn --max-iters 3",
        1,
        "did not converge",
    ),
    // L and μ by matrix-free Lanczos: runs, and stops at the limit.
    case(
        "optimize --problem rosenbrock:100000 --method nesterov --max-iters 3",
        1,
        "did not converge",
    ),
    case(
        "optimize --problem rosenbrock:4 --method gd --mu 1",
        2,
        "--mu does not apply",
    ),
    case(
        "optimize --problem rosenbrock:4:5 --method gd",
        2,
        "rosenbrock:N",
    ),
    case(
        "ot --problem random-assignment:8 --reg 0.5 --keep 3 --method sinkhorn",
        2,
        "--keep does not apply",
    ),
    case(
        "bilevel --problem quadratic:3:4 --method itd --sigma-min 0.1",
        2,
        "--sigma-min does not apply",
    ),
    case(
        "relu --data wine:0v1 --loss-rho 2",
        2,
        "--loss-rho does not apply",
    ),
    // A divergence prints its (short) report in text mode too.
    case(
        "optimize --problem rosenbrock:4 --method gd --lr 10 --max-iters 50",
        1,
        "non-finite",
    ),
    case(
        "optimize --problem logsumexp --method grn-fisher",
        2,
        "Fisher",
    ),
    case(
        "optimize --problem rosenbrock --method gd --lr 1e-3 --x0 {dir}/short3.npy",
        2,
        "starting point",
    ),
    case(
        "optimize --problem rosenbrock --method gd --lr 1e-3 --x0 {dir}/nan2.npy",
        2,
        "--x0",
    ),
    case(
        "optimize --problem rosenbrock --method gd --lr 1e-4 --max-iters 3 --json",
        1,
        "did not converge",
    ),
    // tour, info and the reserved subcommands.
    case("tour --grid 2", 2, "--grid"),
    // bilevel.
    case("bilevel --sigma 0", 2, "--sigma"),
    case("bilevel --sigma-min 1", 2, "--sigma-min"),
    case("bilevel --problem nope", 2, "unknown --problem"),
    case("bilevel --problem quadratic:x", 2, "not a number"),
    case("bilevel --problem quadratic:0", 2, "nx"),
    case("bilevel --problem quadratic:100000:100000", 2, "too large"),
    case("bilevel --method f2sa", 2, "needs a minibatch problem"),
    case(
        "bilevel --problem toy:bome --method penalty-2ts",
        2,
        "--method penalty-2ts",
    ),
    case("bilevel --problem ridge:iris", 2, "unknown --problem"),
    case("bilevel --problem hyperclean:mnist", 2, "unknown --problem"),
    case(
        "bilevel --problem quadratic-stochastic:3",
        2,
        "unknown --problem",
    ),
    case(
        "bilevel --problem quadratic-stochastic --method penalty-2ts --batch-size 0",
        2,
        "--batch-size",
    ),
    case(
        "bilevel --problem quadratic-stochastic --method penalty-2ts --target-gap=-1",
        2,
        "--target-gap",
    ),
    case(
        "bilevel --problem quadratic-stochastic --method f2sa --max-iters 20 --json",
        1,
        "did not converge",
    ),
    case(
        "bilevel --problem quadratic --method bome --max-iters 5 --json",
        1,
        "did not converge",
    ),
    case(
        "bilevel --problem toy:bome --method aid --json",
        1,
        "singular",
    ),
    case("bilevel --max-iters 2 --json", 1, "did not converge"),
    case("relu --loss-rho 0", 2, "--loss-rho"),
    case("relu --relaxation 2", 2, "--relaxation"),
    case(
        "relu --pricing 1 --pricing-candidates 0",
        2,
        "--pricing-candidates",
    ),
    case("relu --pricing 100000", 2, "--pricing"),
    case(
        "relu --pricing 1 --pricing-local-steps 1000000",
        2,
        "--pricing-local-steps",
    ),
    case(
        "relu --pricing 1 --pricing-candidates 1000000",
        2,
        "--pricing-candidates",
    ),
    case("relu --relaxation=-0.5", 2, "--relaxation"),
    case(
        "relu --loss bce --max-iters 3 --json",
        1,
        "did not converge",
    ),
    case("relu --loss squared-ish", 2, "--loss"),
    case(
        "relu --adversarial 0.1 --loss hinge --bias --max-iters 3",
        1,
        "did not converge",
    ),
    case("relu --adversarial=-0.1 --loss hinge", 2, "--adversarial"),
    case("relu --adversarial inf --loss hinge", 2, "--adversarial"),
    case("relu --adversarial 0.1 --loss bce", 2, "--adversarial"),
    case("relu --adversarial 0.1 --pricing 2", 2, "--pricing"),
    case(
        "relu --adversarial 0.1 --patterns 5000 --loss hinge",
        2,
        "--patterns",
    ),
    case("relu --data digits:2v2", 2, "--data digits:2v2"),
    case("relu --data iris", 2, "--data iris"),
    case("relu --data {dir}/missing.csv", 2, "missing.csv"),
    case("relu --data {dir}/ragged.csv", 2, "ragged"),
    case("relu --data {dir}/oneclass.csv", 2, "single class"),
    case("relu --data {dir}/badlabel.csv", 2, "label `2`"),
    case("relu --data {dir}/text.csv", 2, "not a finite number"),
    case("relu --data {dir}/nan.csv", 2, "not a finite number"),
    case("relu --beta=-1", 2, "--beta"),
    case("relu --rho 0", 2, "--rho"),
    case("relu --patterns 0", 2, "--patterns"),
    case("relu --patterns 100000", 2, "--patterns: invalid parameter"),
    case("relu --gates {dir}/garbage.npy", 2, "--gates"),
    case("relu --gates {dir}/e1.npy", 2, "--gates"),
    case(
        "relu --data wine:0v1 --max-iters 3 --json",
        1,
        "did not converge",
    ),
    case("spectrum", 2, "--matrix"),
    case("spectrum --matrix {dir}/sym4.npy --mlp", 2, "--mlp"),
    case("spectrum --matrix {dir}/missing.npy", 2, "missing.npy"),
    case("spectrum --matrix {dir}/X.npy", 2, "not square"),
    case("spectrum --matrix {dir}/nonsym4.npy", 2, "nonsym4.npy"),
    case("spectrum --matrix {dir}/nan4.npy", 2, "non-finite"),
    case("spectrum --matrix {dir}/garbage.npy", 2, "garbage.npy"),
    case("spectrum --matrix {dir}/nonsym.mtx", 2, "nonsym.mtx"),
    case("spectrum --matrix {dir}/bad.mtx", 2, "bad.mtx"),
    case("spectrum --matrix {dir}/ragged.csv", 2, ".npy or .mtx"),
    case("spectrum --matrix {dir}/sym4.npy --top-k 5", 2, "--top-k"),
    case("spectrum --matrix {dir}/sym4.npy --top-k 0", 2, "--top-k"),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --bottom-k 9",
        2,
        "--bottom-k",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --exact --top-k 9",
        2,
        "--top-k",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --samples 0",
        2,
        "--samples",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --trace xtrace --samples 5",
        2,
        "--samples",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --trace nope",
        2,
        "--trace",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --tol=-1",
        2,
        "--tol",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --bulk-tol 2",
        2,
        "--bulk-tol",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --density-runs 0",
        2,
        "--density-runs",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --max-steps 1",
        2,
        "--max-steps",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --exact --density {dir}/d.svg",
        2,
        "--density",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --stability",
        2,
        "--stability",
    ),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --max-outliers 0",
        2,
        "--max-outliers",
    ),
    case(
        "spectrum --matrix {dir}/spd.mtx --top-k 10 --max-steps 12 --tol 0 --json",
        1,
        "did not converge",
    ),
    case("spectrum --mlp --data nope", 2, "--data"),
    case("spectrum --mlp --data mixture:1", 2, "--data"),
    case("spectrum --mlp --data mixture:3:0", 2, "--data"),
    case("spectrum --mlp --data mixture:3:x", 2, "--data"),
    case(
        "spectrum --mlp --data mixture:3 --n-samples 2",
        2,
        "--n-samples",
    ),
    case("spectrum --mlp --data mixture:3 --dim 0", 2, "--dim"),
    case("spectrum --mlp --hidden 3,x", 2, "--hidden"),
    case("spectrum --mlp --hidden 0", 2, "--hidden"),
    case("spectrum --mlp --hidden 100000,100000", 2, "--hidden"),
    case("spectrum --mlp --loss hinge", 2, "--loss"),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --trace xnystrace --samples 100000",
        2,
        "--samples",
    ),
    case("spectrum --mlp --layer 3", 2, "--layer"),
    case(
        "spectrum --matrix {dir}/sym4.npy --top-k 2 --layer 0",
        2,
        "--layer",
    ),
    case(
        "spectrum --mlp --train-epochs 100000000",
        2,
        "--train-epochs",
    ),
    case(
        "spectrum --mlp --density-runs 100000 --density-steps 100000",
        2,
        "--density-runs",
    ),
    case("spectrum --mlp --hidden 3000,3000 --exact", 2, "--exact"),
    case(
        "spectrum --mlp --hidden 3000,3000 --stability --train-epochs 10",
        2,
        "--",
    ),
    case("spectrum --mlp --weights {dir}/e1.npy", 2, "--weights"),
    case("spectrum --mlp --weights {dir}/missing.npy", 2, "--weights"),
    case("spectrum --mlp --data npy:{dir}/X.npy", 2, "--data"),
    case(
        "spectrum --mlp --data npy:{dir}/X.npy,{dir}/short.npy",
        2,
        "--data",
    ),
    case(
        "spectrum --mlp --data npy:{dir}/X.npy,{dir}/neg5.npy",
        2,
        "not a class index",
    ),
    case(
        "spectrum --mlp --data npy:{dir}/X.npy,{dir}/missing.npy",
        2,
        "missing.npy",
    ),
    case("spectrum --mlp --activation sine", 2, "--activation"),
    case("spectrum --mlp --lr 0", 2, "--lr"),
    case("spectrum --mlp --lr nan", 2, "--lr"),
    case("spectrum --mlp --momentum 1", 2, "--momentum"),
    case(
        "spectrum --mlp --hidden= --collapse --n-samples 60 --top-k 2",
        2,
        "--collapse",
    ),
    case(
        "spectrum --mlp --n-samples 60 --hidden 4 --train-epochs 3 --lr 1e300 --top-k 2 --json",
        1,
        "diverged",
    ),
    case("info --nope", 2, "--nope"),
    case("", 2, "a subcommand is required"),
    case("relu --loss", 2, "--loss"),
];

fn write_fixtures(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mtx = |name: &str, n: usize, t: &[Triplet<usize, usize, f64>], sym| {
        let a = SparseRowMat::try_new_from_triplets(n, n, t).unwrap();
        write_matrix_market(dir.join(name), &a, sym).unwrap();
    };
    let t = |i, j, v| Triplet::new(i, j, v);
    mtx(
        "nonsym.mtx",
        2,
        &[t(0, 0, 2.0), t(0, 1, 1.0), t(1, 1, 2.0)],
        MtxSymmetry::General,
    );
    mtx(
        "indef.mtx",
        3,
        &[t(0, 0, 1.0), t(1, 1, -1.0), t(2, 2, 3.0)],
        MtxSymmetry::General,
    );
    // Positive diagonal but indefinite (eigenvalues 3 and −1): CG's curvature check.
    mtx(
        "indef2.mtx",
        2,
        &[t(0, 0, 1.0), t(0, 1, 2.0), t(1, 0, 2.0), t(1, 1, 1.0)],
        MtxSymmetry::Symmetric,
    );
    // A 200 × 200 SPD tridiagonal matrix (CG needs many iterations).
    let mut tri = Vec::new();
    for i in 0..200 {
        tri.push(t(i, i, 2.0 + 1e-3));
        if i + 1 < 200 {
            tri.push(t(i, i + 1, -1.0));
            tri.push(t(i + 1, i, -1.0));
        }
    }
    mtx("spd.mtx", 200, &tri, MtxSymmetry::General);
    std::fs::write(
        dir.join("bad.mtx"),
        "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 oops\n",
    )
    .unwrap();
    std::fs::write(dir.join("garbage.npy"), b"\x93NUMPY\x01\x00garbage").unwrap();
    // relu CSV inputs.
    std::fs::write(dir.join("ragged.csv"), "1,2,1\n3,0\n").unwrap();
    std::fs::write(dir.join("oneclass.csv"), "1,2,1\n3,4,1\n5,6,1\n").unwrap();
    std::fs::write(dir.join("badlabel.csv"), "1,2,1\n3,4,2\n").unwrap();
    std::fs::write(dir.join("text.csv"), "1,x,1\n3,4,0\n").unwrap();
    std::fs::write(dir.join("nan.csv"), "1,NaN,1\n3,4,0\n").unwrap();
    let col =
        |name: &str, v: Col<f64>| write_npy_col(dir.join(name), v.as_ref(), NpyDtype::F64).unwrap();
    col(
        "e1.npy",
        Col::from_fn(2, |i| if i == 0 { 1.0 } else { 0.0 }),
    );
    col("short.npy", Col::ones(2));
    col("short3.npy", Col::zeros(3));
    col(
        "nan2.npy",
        Col::from_fn(2, |i| if i == 1 { f64::NAN } else { 0.0 }),
    );
    col(
        "nan512.npy",
        Col::from_fn(512, |i| if i == 7 { f64::NAN } else { 1.0 }),
    );
    col(
        "neg5.npy",
        Col::from_fn(5, |i| if i == 0 { -0.2 } else { 0.3 }),
    );
    let mat =
        |name: &str, m: Mat<f64>| write_npy_mat(dir.join(name), m.as_ref(), NpyDtype::F64).unwrap();
    mat("X.npy", Mat::from_fn(5, 2, |i, j| (i + j) as f64 * 0.1));
    // spectrum inputs: symmetric, non-symmetric and NaN 4 × 4 matrices.
    mat(
        "sym4.npy",
        Mat::from_fn(4, 4, |i, j| 1.0 / (1 + i + j) as f64),
    );
    mat("nonsym4.npy", Mat::from_fn(4, 4, |i, j| (i * 4 + j) as f64));
    mat(
        "nan4.npy",
        Mat::from_fn(4, 4, |i, j| if i == j && i == 2 { f64::NAN } else { 1.0 }),
    );
    mat("Y.npy", Mat::from_fn(4, 2, |i, j| (i * j) as f64 * 0.2));
}

fn fixture_dir() -> PathBuf {
    std::env::temp_dir().join(format!("optlab-exit-codes-{}", std::process::id()))
}

#[test]
fn every_subcommand_keeps_the_exit_code_contract() {
    let dir = fixture_dir();
    write_fixtures(&dir);
    let mut failures = Vec::new();
    for c in CASES {
        let line = c.args.replace("{dir}", dir.to_str().unwrap());
        let args: Vec<&str> = line.split_whitespace().collect();
        let o = Command::new(env!("CARGO_BIN_EXE_optlab"))
            .args(&args)
            .output()
            .expect("the optlab binary runs");
        let err = String::from_utf8_lossy(&o.stderr);
        let mut why = Vec::new();
        if o.status.code() != Some(c.code) {
            why.push(format!("exit {:?}, expected {}", o.status.code(), c.code));
        }
        if !err.contains(c.stderr) {
            why.push(format!("stderr lacks `{}`", c.stderr));
        }
        // Clap's usage errors print a usage block; ours are one line.
        let ours = !err.contains("Usage:");
        if ours && err.trim_end().lines().count() != 1 {
            why.push("stderr is not one line".into());
        }
        if c.code == 1 && args.contains(&"--json") {
            match serde_json::from_slice::<serde_json::Value>(&o.stdout) {
                Ok(v) if v["converged"] == false && v.is_object() => {}
                _ => why.push("no JSON report with \"converged\": false on stdout".into()),
            }
        }
        if c.code == 2 && !o.stdout.is_empty() {
            why.push("bad input printed a report".into());
        }
        if !why.is_empty() {
            failures.push(format!(
                "`optlab {}`: {}\n  stderr: {err}",
                c.args,
                why.join("; ")
            ));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
