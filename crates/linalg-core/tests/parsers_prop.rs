//! Property tests of the NPY and Matrix Market readers: arbitrary bytes
//! never panic, valid files round-trip exactly, and mutated or truncated
//! valid files are either read as the original or refused.

use linalg_core::faer::sparse::{SparseRowMat, Triplet};
use linalg_core::io::{
    MtxSymmetry, NpyDtype, read_matrix_market_from, read_npy_bytes, write_matrix_market_to,
    write_npy_to,
};
use proptest::prelude::*;

/// A small shape and C-ordered data (finite and special values).
fn array() -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
    (1usize..6, 1usize..6, any::<bool>()).prop_flat_map(|(r, c, two)| {
        let shape = if two { vec![r, c] } else { vec![r * c] };
        let len = r * c;
        (
            Just(shape),
            prop::collection::vec(
                prop_oneof![
                    any::<f64>().prop_filter("finite", |v| v.is_finite()),
                    Just(0.0),
                    Just(-0.0),
                    Just(f64::MIN_POSITIVE / 4.0),
                    Just(f64::MAX),
                ],
                len,
            ),
        )
    })
}

fn npy_bytes(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let mut out = Vec::new();
    write_npy_to(&mut out, shape, data, NpyDtype::F64).unwrap();
    out
}

/// A small sparse matrix with distinct positions (a general or symmetric one).
fn sparse(sym: bool) -> impl Strategy<Value = SparseRowMat<usize, f64>> {
    (1usize..7, 1usize..7).prop_flat_map(move |(r, c)| {
        let (r, c) = if sym { (r, r) } else { (r, c) };
        prop::collection::btree_map(
            (0..r, 0..c),
            any::<f64>().prop_filter("finite non-zero", |v| v.is_finite() && *v != 0.0),
            0..(r * c).min(12),
        )
        .prop_map(move |m| {
            let mut t = Vec::new();
            for ((i, j), v) in m {
                if sym {
                    let (i, j) = if i >= j { (i, j) } else { (j, i) };
                    t.push(Triplet::new(i, j, v));
                    if i != j {
                        t.push(Triplet::new(j, i, v));
                    }
                } else {
                    t.push(Triplet::new(i, j, v));
                }
            }
            // Duplicates (from folding a symmetric pair twice) are dropped by
            // keeping the first occurrence of each position.
            let mut seen = std::collections::BTreeSet::new();
            t.retain(|x| seen.insert((x.row, x.col)));
            SparseRowMat::try_new_from_triplets(r, c, &t).unwrap()
        })
    })
}

fn dense(m: &SparseRowMat<usize, f64>) -> Vec<Vec<u64>> {
    let d = m.to_dense();
    (0..d.nrows())
        .map(|i| (0..d.ncols()).map(|j| d[(i, j)].to_bits()).collect())
        .collect()
}

fn mtx_text(m: &SparseRowMat<usize, f64>, sym: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let s = if sym {
        MtxSymmetry::Symmetric
    } else {
        MtxSymmetry::General
    };
    write_matrix_market_to(&mut out, m, s).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = read_npy_bytes(&bytes);
        let _ = read_matrix_market_from(&bytes[..]);
        // With a valid magic or banner in front, the parsers go further.
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        npy.extend_from_slice(&bytes);
        let _ = read_npy_bytes(&npy);
        let mut mtx = b"%%MatrixMarket matrix coordinate real general\n".to_vec();
        mtx.extend_from_slice(&bytes);
        let _ = read_matrix_market_from(&mtx[..]);
    }

    #[test]
    fn npy_round_trips_exactly((shape, data) in array()) {
        let a = read_npy_bytes(&npy_bytes(&shape, &data)).unwrap();
        prop_assert_eq!(&a.shape, &shape);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&a.data), bits(&data));
    }

    #[test]
    fn npy_header_mutations_read_identically_or_are_refused(
        (shape, data) in array(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let good = npy_bytes(&shape, &data);
        let header_len = good.len() - 8 * data.len();
        let mut bad = good.clone();
        let i = pos.index(header_len);
        bad[i] = byte;
        if let Ok(a) = read_npy_bytes(&bad) {
            prop_assert_eq!(&a.shape, &shape, "byte {} → {}", i, byte);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&a.data), bits(&data));
        }
    }

    #[test]
    fn npy_data_mutations_keep_the_shape(
        (shape, data) in array(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bad = npy_bytes(&shape, &data);
        let header_len = bad.len() - 8 * data.len();
        let i = header_len + pos.index(8 * data.len());
        bad[i] = byte;
        if let Ok(a) = read_npy_bytes(&bad) {
            prop_assert_eq!(&a.shape, &shape);
        }
    }

    #[test]
    fn npy_truncations_are_refused((shape, data) in array(), cut in any::<prop::sample::Index>()) {
        let good = npy_bytes(&shape, &data);
        let k = cut.index(good.len());
        prop_assert!(read_npy_bytes(&good[..k]).is_err(), "cut at {}", k);
    }

    #[test]
    fn mtx_round_trips_exactly(m in sparse(false), s in sparse(true)) {
        for (mat, sym) in [(&m, false), (&s, true)] {
            let (back, _) = read_matrix_market_from(&mtx_text(mat, sym)[..]).unwrap();
            prop_assert_eq!((back.nrows(), back.ncols()), (mat.nrows(), mat.ncols()));
            prop_assert_eq!(dense(&back), dense(mat));
        }
    }

    #[test]
    fn mtx_mutations_and_truncations_read_identically_or_are_refused(
        m in sparse(false),
        pos in any::<prop::sample::Index>(),
        byte in prop::sample::select(b" \n%.-+e0123456789x".to_vec()),
        cut in any::<prop::sample::Index>(),
    ) {
        let good = mtx_text(&m, false);
        // A truncation: refused whenever it removes an entry or cuts into
        // the banner or the size line. A cut inside the last number can
        // leave a shorter valid number (text has no checksum): then the
        // shape and the entry count still match.
        let k = cut.index(good.len());
        if let Ok((back, _)) = read_matrix_market_from(&good[..k]) {
            prop_assert_eq!((back.nrows(), back.ncols()), (m.nrows(), m.ncols()), "cut at {}", k);
            prop_assert_eq!(back.compute_nnz(), m.compute_nnz(), "cut at {}", k);
            if good[k..].iter().all(u8::is_ascii_whitespace) {
                prop_assert_eq!(dense(&back), dense(&m));
            }
        }
        // A changed character in the banner or size line: refused, or the
        // same matrix (e.g. a blank doubled). Entry lines may change values.
        let size_line_end = good
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(1)
            .map_or(good.len(), |(i, _)| i);
        let i = pos.index(size_line_end);
        let mut bad = good.clone();
        bad[i] = byte;
        if let Ok((back, _)) = read_matrix_market_from(&bad[..]) {
            prop_assert_eq!(
                (back.nrows(), back.ncols(), dense(&back)),
                (m.nrows(), m.ncols(), dense(&m)),
                "byte {} → {:?}", i, byte as char
            );
        }
    }
}
