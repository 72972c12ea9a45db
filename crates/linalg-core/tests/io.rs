//! Matrix Market and NPY round trips, peer fixtures, and every rejected input.

use std::path::PathBuf;

use linalg_core::faer::sparse::{SparseRowMat, Triplet};
use linalg_core::faer::{Col, Mat};
use linalg_core::io::*;
use linalg_core::{Error, MtxProblem, NpyProblem};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("linalg-core-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn mtx(text: &str) -> linalg_core::Result<SparseRowMat<usize, f64>> {
    read_matrix_market_from(text.as_bytes()).map(|(m, _)| m)
}

fn mtx_problem(text: &str) -> (usize, MtxProblem) {
    match mtx(text) {
        Err(Error::MatrixMarket { line, problem }) => (line, problem),
        other => panic!("expected a Matrix Market error, got {other:?}"),
    }
}

#[test]
fn matrix_market_round_trip_is_exact() {
    let mut rng = StdRng::seed_from_u64(1);
    let (nr, nc) = (37, 23);
    let mut trips = Vec::new();
    for i in 0..nr {
        for j in 0..nc {
            if rng.random_range(0.0..1.0) < 0.15 {
                // Awkward values: tiny, huge, many digits.
                let v: f64 = rng.random_range(-1.0..1.0) * 10f64.powi(rng.random_range(-300..300));
                trips.push(Triplet::new(i, j, v));
            }
        }
    }
    let a = SparseRowMat::try_new_from_triplets(nr, nc, &trips).unwrap();
    let p = tmp("roundtrip.mtx");
    write_matrix_market(&p, &a, MtxSymmetry::General).unwrap();
    let b = read_matrix_market(&p).unwrap();
    assert_eq!(a.nrows(), b.nrows());
    assert_eq!(a.ncols(), b.ncols());
    for i in 0..nr {
        assert_eq!(
            a.as_ref().col_idx_of_row_raw(i),
            b.as_ref().col_idx_of_row_raw(i)
        );
        // Bit-exact values.
        let va: Vec<u64> = a
            .as_ref()
            .val_of_row(i)
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let vb: Vec<u64> = b
            .as_ref()
            .val_of_row(i)
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(va, vb);
    }
}

#[test]
fn symmetric_round_trip_and_scipy_fixture() {
    // Written by scipy.io.mmwrite(symmetry="symmetric"); see scripts/make_linalg_fixtures.py.
    let a = read_matrix_market(fixture("scipy_sym.mtx")).unwrap();
    let expect = [
        [4.0, -1.0, 0.0, 0.5],
        [-1.0, 4.0, -1.0, 0.0],
        [0.0, -1.0, 4.0, 0.0],
        [0.5, 0.0, 0.0, 3.0],
    ];
    let dense = a.to_dense();
    for i in 0..4 {
        for j in 0..4 {
            assert_eq!(dense[(i, j)], expect[i][j]);
        }
    }
    let p = tmp("sym.mtx");
    write_matrix_market(&p, &a, MtxSymmetry::Symmetric).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("%%MatrixMarket matrix coordinate real symmetric"));
    assert!(text.contains("\n4 4 7\n"), "lower triangle only:\n{text}");
    let b = read_matrix_market(&p).unwrap();
    assert_eq!((b.to_dense() - dense).norm_max(), 0.0);
}

#[test]
fn matrix_market_variants() {
    let pat =
        mtx("%%MatrixMarket matrix coordinate pattern general\n% c\n2 3 2\n1 3\n2 1\n").unwrap();
    assert_eq!(pat.to_dense()[(0, 2)], 1.0);
    assert_eq!(pat.to_dense()[(1, 0)], 1.0);
    let int =
        mtx("%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 1 -3\n2 2 7\n").unwrap();
    assert_eq!(int.to_dense()[(0, 0)], -3.0);
    // Duplicates are summed (as SciPy does).
    let dup =
        mtx("%%MatrixMarket matrix coordinate real general\n1 1 2\n1 1 1.5\n1 1 2.5\n").unwrap();
    assert_eq!(dup.to_dense()[(0, 0)], 4.0);
}

#[test]
fn matrix_market_bad_input_names_the_line() {
    let (line, p) = mtx_problem("%%MatrixMarkt matrix coordinate real general\n1 1 1\n1 1 1\n");
    assert_eq!(line, 1);
    assert!(matches!(p, MtxProblem::BadHeader(_)));
    let (line, p) = mtx_problem("%%MatrixMarket matrix array real general\n1 1\n1\n");
    assert_eq!(line, 1);
    assert!(matches!(p, MtxProblem::Unsupported(_)));
    let (line, p) =
        mtx_problem("%%MatrixMarket matrix coordinate real general\n3 3 3\n1 1 1\n2 2 1\n");
    assert_eq!(line, 5);
    assert_eq!(
        p,
        MtxProblem::Truncated {
            expected: 3,
            found: 2
        }
    );
    let (line, p) =
        mtx_problem("%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n4 2 1\n");
    assert_eq!(line, 4);
    assert_eq!(
        p,
        MtxProblem::IndexOutOfRange {
            row: 4,
            col: 2,
            nrows: 3,
            ncols: 3
        }
    );
    let (line, p) = mtx_problem("%%MatrixMarket matrix coordinate real general\n3 3 2\n1 0 1\n");
    assert_eq!(line, 3);
    assert!(matches!(p, MtxProblem::IndexOutOfRange { .. }));
    let (line, p) = mtx_problem(
        "%%MatrixMarket matrix coordinate real general\n% comment\n3 3 2\n1 1 1\n2 2 abc\n",
    );
    assert_eq!(line, 5);
    assert_eq!(p, MtxProblem::NotANumber("abc".into()));
    let (line, p) = mtx_problem("%%MatrixMarket matrix coordinate real general\n3 x 2\n");
    assert_eq!(line, 2);
    assert_eq!(p, MtxProblem::NotANumber("x".into()));
    let (line, p) = mtx_problem("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 nan\n");
    assert_eq!(line, 3);
    assert!(matches!(p, MtxProblem::NonFinite(_)));
    let (line, p) =
        mtx_problem("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 1\n");
    assert_eq!(line, 4);
    assert!(matches!(p, MtxProblem::TooManyEntries { expected: 1 }));
    let (_, p) = mtx_problem("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1\n");
    assert!(matches!(p, MtxProblem::BadEntry(_)));
    // The message a user sees names the line and the problem.
    let e = mtx("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 x1\n").unwrap_err();
    assert_eq!(e.to_string(), "line 3: not a number: `x1`");
    // A missing file names the file.
    let e = read_matrix_market("no/such/file.mtx").unwrap_err();
    assert!(e.to_string().starts_with("no/such/file.mtx: "), "{e}");
    assert!(matches!(e.root(), Error::Io(_)));
}

#[test]
fn npy_written_by_us_is_byte_identical_to_numpy() {
    let a = Mat::from_fn(2, 3, |i, j| {
        [[1.5, -2.25, 3.0], [0.1, 1e-300, -7.0e10]][i][j]
    });
    for (name, dtype) in [
        ("numpy_f64_2d.npy", NpyDtype::F64),
        ("numpy_f32_2d.npy", NpyDtype::F32),
    ] {
        let p = tmp(name);
        write_npy_mat(&p, a.as_ref(), dtype).unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(fixture(name)).unwrap(),
            "{name}"
        );
    }
    let v = Col::from_fn(7, |i| i as f64 / 8.0);
    let p = tmp("numpy_f64_1d.npy");
    write_npy_col(&p, v.as_ref(), NpyDtype::F64).unwrap();
    assert_eq!(
        std::fs::read(&p).unwrap(),
        std::fs::read(fixture("numpy_f64_1d.npy")).unwrap()
    );
}

#[test]
fn npy_reads_numpy_files() {
    let m = read_npy_mat(fixture("numpy_f64_2d.npy")).unwrap();
    assert_eq!((m.nrows(), m.ncols()), (2, 3));
    assert_eq!(m[(1, 1)], 1e-300);
    assert_eq!(m[(1, 2)], -7.0e10);
    let f = read_npy(fixture("numpy_f32_2d.npy")).unwrap();
    assert_eq!(f.dtype, NpyDtype::F32);
    assert_eq!(f.data[1], -2.25);
    assert_eq!(f.data[3], 0.1f32 as f64);
    let v = read_npy_col(fixture("numpy_f64_1d.npy")).unwrap();
    assert_eq!(v.nrows(), 7);
    assert_eq!(v[6], 0.75);
    // A random round trip.
    let mut rng = StdRng::seed_from_u64(2);
    let r = Mat::from_fn(13, 5, |_, _| rng.random_range(-1e3..1e3));
    let p = tmp("rt.npy");
    write_npy_mat(&p, r.as_ref(), NpyDtype::F64).unwrap();
    assert_eq!((read_npy_mat(&p).unwrap() - &r).norm_max(), 0.0);
}

fn npy_problem(path: PathBuf) -> NpyProblem {
    match read_npy(&path).map_err(|e| match e {
        Error::File { source, .. } => *source,
        e => e,
    }) {
        Err(Error::Npy(p)) => p,
        other => panic!("expected an NPY error, got {other:?}"),
    }
}

#[test]
fn npy_bad_input() {
    assert_eq!(
        npy_problem(fixture("fortran.npy")),
        NpyProblem::FortranOrder
    );
    assert_eq!(
        npy_problem(fixture("int64.npy")),
        NpyProblem::UnsupportedDtype("<i8".into())
    );
    let good = std::fs::read(fixture("numpy_f64_2d.npy")).unwrap();
    let p = tmp("trunc.npy");
    std::fs::write(&p, &good[..good.len() - 5]).unwrap();
    assert_eq!(
        npy_problem(p.clone()),
        NpyProblem::Truncated {
            expected: 48,
            found: 43
        }
    );
    std::fs::write(&p, b"PK\x03\x04 not an npy").unwrap();
    assert_eq!(npy_problem(p.clone()), NpyProblem::BadMagic);
    let e = read_npy(fixture("fortran.npy")).unwrap_err();
    assert!(
        e.to_string().contains("fortran.npy: Fortran-ordered"),
        "{e}"
    );
    // A 2-D array where a vector is needed.
    assert!(matches!(
        read_npy_col(fixture("numpy_f64_2d.npy"))
            .unwrap_err()
            .root(),
        Error::Npy(NpyProblem::UnsupportedShape(_))
    ));
}
