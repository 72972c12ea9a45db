//! Neural-collapse metrics: exactly 0 (≤ 1e-12) on a simplex equiangular
//! tight frame with a self-dual classifier, growing monotonically with
//! added within-class noise, and the same streamed in batches.

use hessian_tools::collapse::{Collapse, collapse};
use linalg_core::faer::Mat;
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

const K: usize = 4;
const P: usize = 7;

/// Class means: a simplex ETF √(K/(K−1))(I − 11ᵀ/K) in the first K
/// coordinates, rotated by a fixed orthogonal matrix, plus an offset.
fn etf() -> (Mat<f64>, Vec<f64>) {
    let s = (K as f64 / (K as f64 - 1.0)).sqrt();
    let e = Mat::from_fn(P, K, |j, c| {
        if j < K {
            s * (f64::from(u8::from(j == c)) - 1.0 / K as f64)
        } else {
            0.0
        }
    });
    let mut rng = StdRng::seed_from_u64(3);
    let g = Mat::<f64>::from_fn(P, P, |_, _| StandardNormal.sample(&mut rng));
    let q = g.qr().compute_thin_Q();
    let offset: Vec<f64> = (0..P).map(|j| 0.3 * j as f64 - 0.5).collect();
    (q * e, offset)
}

fn samples(noise: f64, per_class: usize) -> (Mat<f64>, Vec<usize>, Mat<f64>, Vec<f64>) {
    let (m, offset) = etf();
    let mut rng = StdRng::seed_from_u64(11);
    let n = K * per_class;
    let labels: Vec<usize> = (0..n).map(|i| i % K).collect();
    let h = Mat::from_fn(n, P, |i, j| {
        let eps: f64 = StandardNormal.sample(&mut rng);
        m[(j, labels[i])] + offset[j] + noise * eps
    });
    // Self-dual classifier: W = M̃ᵀ, b = −W·offset.
    let w = m.transpose().to_owned();
    let b: Vec<f64> = (0..K)
        .map(|c| -(0..P).map(|j| w[(c, j)] * offset[j]).sum::<f64>())
        .collect();
    (h, labels, w, b)
}

#[test]
fn metrics_vanish_on_a_simplex_etf() {
    let (h, labels, w, b) = samples(0.0, 5);
    let m = collapse(h.as_ref(), &labels, K, Some((w.as_ref(), Some(&b)))).unwrap();
    println!("{m:?}");
    let all = [
        m.nc1_papyan,
        m.nc1_han,
        m.nc1_quotient,
        m.nc2_equinorm,
        m.nc2_equiangularity,
        m.nc2_max_angle,
        m.nc2_classifier_equinorm.unwrap(),
        m.nc2_classifier_max_angle.unwrap(),
        m.nc3.unwrap(),
        m.nc4.unwrap(),
        m.cdnv,
    ];
    for (i, v) in all.iter().enumerate() {
        assert!(v.abs() <= 1e-12, "metric {i}: {v:e}");
    }
}

#[test]
fn metrics_grow_with_within_class_noise_and_stream_in_batches() {
    let mut last: Option<hessian_tools::collapse::CollapseMetrics> = None;
    for noise in [0.02, 0.05, 0.1, 0.2, 0.4, 0.8] {
        let (h, labels, w, b) = samples(noise, 200);
        let m = collapse(h.as_ref(), &labels, K, Some((w.as_ref(), Some(&b)))).unwrap();
        println!(
            "noise {noise}: NC1 {:.3e}/{:.3e}/{:.3e}, NC2 {:.3e}, CDNV {:.3e}, NC4 {:.3}",
            m.nc1_papyan,
            m.nc1_han,
            m.nc1_quotient,
            m.nc2_equinorm,
            m.cdnv,
            m.nc4.unwrap()
        );
        if let Some(l) = &last {
            assert!(m.nc1_papyan > l.nc1_papyan, "noise {noise}");
            assert!(m.nc1_han > l.nc1_han, "noise {noise}");
            assert!(m.nc1_quotient > l.nc1_quotient, "noise {noise}");
            assert!(m.cdnv > l.cdnv, "noise {noise}");
            assert!(m.nc4.unwrap() >= l.nc4.unwrap(), "noise {noise}");
        }
        // Closed form: Σ_W ≈ σ²I_P (tr = Pσ²) and the ETF's centred means
        // have unit norm (tr Σ_B = 1), so the quotient is about Pσ².
        assert!(
            (m.nc1_quotient / (P as f64 * noise * noise) - 1.0).abs() < 0.15,
            "{}",
            m.nc1_quotient
        );
        // Streaming in uneven batches gives the same numbers.
        let mut acc = Collapse::new(K, P).unwrap();
        let mut start = 0;
        for size in [1, 37, 300, 62, 400] {
            acc.add(h.subrows(start, size), &labels[start..start + size])
                .unwrap();
            start += size;
        }
        assert_eq!(start, h.nrows());
        let s = acc.finish(Some(w.as_ref())).unwrap();
        assert!((s.nc1_papyan - m.nc1_papyan).abs() <= 1e-10 * m.nc1_papyan);
        assert!((s.cdnv - m.cdnv).abs() <= 1e-10 * m.cdnv);
        last = Some(m);
    }
}

#[test]
fn bad_inputs_are_refused() {
    let (h, labels, w, _) = samples(0.1, 3);
    assert!(collapse(h.as_ref(), &labels, 1, None).is_err());
    assert!(collapse(h.as_ref(), &labels[1..], K, None).is_err());
    let mut bad = labels.clone();
    bad[0] = K;
    assert!(collapse(h.as_ref(), &bad, K, None).is_err());
    // A class with no sample.
    let three: Vec<usize> = labels.iter().map(|&c| c % 3).collect();
    assert!(collapse(h.as_ref(), &three, K, None).is_err());
    let mut hn = h.clone();
    hn[(2, 2)] = f64::NAN;
    assert!(collapse(hn.as_ref(), &labels, K, None).is_err());
    assert!(collapse(h.as_ref(), &labels, K, Some((w.subrows(0, 2), None))).is_err());
}
