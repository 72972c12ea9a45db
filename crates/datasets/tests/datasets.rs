//! Shapes, class counts and checksums of the embedded tables, against the
//! provenance record and the original descriptions; preprocessing and generators.

use datasets::generate::*;
use datasets::*;
use linalg_core::faer::Side;
use sha2::{Digest, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn embedded_tables_match_provenance_checksums() {
    // Values from data/PROVENANCE.md (computed on the original files).
    let csv = |b: &[u8]| raw::decompress(b).unwrap();
    assert_eq!(
        sha256_hex(csv(raw::BREAST_CANCER).as_bytes()),
        "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed"
    );
    assert_eq!(
        sha256_hex(raw::DIGITS),
        "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    );
    assert_eq!(
        sha256_hex(csv(raw::IRIS).as_bytes()),
        "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449"
    );
    assert_eq!(
        sha256_hex(csv(raw::WINE).as_bytes()),
        "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede"
    );
}

#[test]
fn shapes_and_class_counts_match_the_descriptions() {
    // Class counts as stated in data/descr/*.rst.
    let b = breast_cancer();
    assert_eq!((b.n_samples(), b.n_features()), (569, 30));
    assert_eq!(b.class_counts(), vec![212, 357]);
    assert_eq!(b.class_names, vec!["malignant", "benign"]);
    let d = digits();
    assert_eq!((d.n_samples(), d.n_features()), (1797, 64));
    assert_eq!(d.n_classes(), 10);
    assert_eq!(d.class_counts().iter().sum::<usize>(), 1797);
    assert!(d.class_counts().iter().all(|&c| (174..=183).contains(&c)));
    let max = (0..64)
        .map(|j| d.features.col(j).iter().fold(0.0f64, |m, v| m.max(*v)))
        .fold(0.0, f64::max);
    assert_eq!(max, 16.0);
    let i = iris();
    assert_eq!((i.n_samples(), i.n_features()), (150, 4));
    assert_eq!(i.class_counts(), vec![50, 50, 50]);
    assert_eq!(i.class_names, vec!["setosa", "versicolor", "virginica"]);
    let w = wine();
    assert_eq!((w.n_samples(), w.n_features()), (178, 13));
    assert_eq!(w.class_counts(), vec![59, 71, 48]);
}

#[test]
fn iris_summary_statistics_match_the_description() {
    // iris.rst: means 5.84 3.05 3.76 1.20, SDs 0.83 0.43 1.76 0.76 (2 decimals,
    // truncated or rounded: the true sepal-width mean is 3.0573).
    let i = iris();
    let s = Standardizer::fit(&i.features).unwrap();
    for (j, (m, sd)) in [(5.84, 0.83), (3.05, 0.43), (3.76, 1.76), (1.20, 0.76)]
        .iter()
        .enumerate()
    {
        assert!((s.mean[j] - m).abs() < 0.01, "mean {j}: {}", s.mean[j]);
        assert!((s.scale[j] - sd).abs() < 0.01, "sd {j}: {}", s.scale[j]);
    }
    assert_eq!(i.features[(0, 0)], 5.1);
    assert_eq!(i.features[(149, 3)], 1.8);
}

#[test]
fn preprocessing() {
    let mut x = wine().features;
    let s = standardize(&mut x).unwrap();
    assert_eq!(s.mean.len(), 13);
    for j in 0..13 {
        let col = x.col(j);
        let m = col.iter().sum::<f64>() / 178.0;
        let v = col.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / 178.0;
        assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12);
    }
    let ds = iris();
    let (tr, te) = ds.train_test_split(0.3, 7).unwrap();
    assert_eq!((tr.n_samples(), te.n_samples()), (105, 45));
    let (tr2, _) = ds.train_test_split(0.3, 7).unwrap();
    assert_eq!(tr.labels, tr2.labels, "same seed, same split");
    let (tr3, _) = ds.train_test_split(0.3, 8).unwrap();
    assert_ne!(tr.labels, tr3.labels);
    // Train and test are a partition: class counts add up.
    let total: Vec<usize> = tr
        .class_counts()
        .iter()
        .zip(te.class_counts())
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(total, vec![50, 50, 50]);
    let oh = ds.one_hot();
    assert_eq!((oh.nrows(), oh.ncols()), (150, 3));
    assert_eq!(oh[(0, 0)] + oh[(0, 1)] + oh[(0, 2)], 1.0);
    assert_eq!(oh[(149, 2)], 1.0);
    let bin = ds.binary(1, 2).unwrap();
    assert_eq!(bin.class_counts(), vec![50, 50]);
    assert_eq!(bin.class_names, vec!["versicolor", "virginica"]);
    let y = bin.signed_labels().unwrap();
    assert_eq!(y.iter().sum::<f64>(), 0.0);
}

#[test]
fn bad_input_is_rejected() {
    let ds = iris();
    assert!(matches!(ds.train_test_split(0.0, 1), Err(Error::Param(_))));
    assert!(matches!(ds.train_test_split(1.5, 1), Err(Error::Param(_))));
    assert!(matches!(
        ds.binary(0, 3),
        Err(Error::LabelOutOfRange {
            label: 3,
            n_classes: 3
        })
    ));
    assert!(matches!(ds.binary(1, 1), Err(Error::Param(_))));
    assert!(matches!(ds.signed_labels(), Err(Error::Param(_))));
    assert!(matches!(
        one_hot(&[0, 4], 3),
        Err(Error::LabelOutOfRange { label: 4, .. })
    ));
    let empty = linalg_core::faer::Mat::<f64>::zeros(0, 3);
    assert!(matches!(Standardizer::fit(&empty), Err(Error::Empty(_))));
    let e = parse_csv("t", "2,2,a,b\n1,2,0\n3,x,1\n").unwrap_err();
    assert_eq!(e.to_string(), "t: line 3: not a finite number: `x`");
    assert!(matches!(
        parse_csv("t", "3,2,a,b\n1,2,0\n3,4,1\n"),
        Err(Error::Csv { line: 1, .. })
    ));
    assert!(matches!(
        parse_csv("t", "1,2,0\n1,2\n"),
        Err(Error::Csv { line: 2, .. })
    ));
    assert!(matches!(parse_csv("t", ""), Err(Error::Empty(_))));
    assert!(matches!(
        Dataset::new(
            "t",
            linalg_core::faer::Mat::zeros(2, 1),
            vec![0],
            vec!["a".into()]
        ),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn random_spd_has_the_requested_spectrum() {
    let spec = geometric_spectrum(40, 1e4).unwrap();
    assert!((spec[0] - 1e-4).abs() < 1e-16 && (spec[39] - 1.0).abs() < 1e-15);
    let a = random_spd(&spec, 3).unwrap();
    let evd = a.self_adjoint_eigen(Side::Lower).unwrap();
    let mut ev: Vec<f64> = evd.S().column_vector().iter().copied().collect();
    ev.sort_by(f64::total_cmp);
    for (x, y) in ev.iter().zip(&spec) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
    // Symmetric exactly, reproducible, seed-dependent.
    assert_eq!((&a - a.transpose()).norm_max(), 0.0);
    assert_eq!((random_spd(&spec, 3).unwrap() - &a).norm_max(), 0.0);
    assert!((random_spd(&spec, 4).unwrap() - &a).norm_max() > 1e-3);
    let q = random_orthogonal(10, 1).unwrap();
    assert!(
        (q.transpose() * &q - linalg_core::faer::Mat::<f64>::identity(10, 10)).norm_max() < 1e-13
    );
    assert!(matches!(random_spd(&[1.0, -1.0], 0), Err(Error::Param(_))));
    assert!(matches!(geometric_spectrum(3, 0.5), Err(Error::Param(_))));
}

#[test]
fn generators_are_seeded_and_shaped() {
    let g = gaussian_mixture(200, 3, 5, 6.0, 11).unwrap();
    assert_eq!((g.n_samples(), g.n_features()), (600, 5));
    assert_eq!(g.class_counts(), vec![200, 200, 200]);
    // Each class mean lies near the sphere of radius 6 (sample-mean error ~ √(5/200)).
    for c in 0..3 {
        let idx: Vec<usize> = (0..600).filter(|&i| g.labels[i] == c).collect();
        let norm = (0..5)
            .map(|j| idx.iter().map(|&i| g.features[(i, j)]).sum::<f64>() / 200.0)
            .map(|m| m * m)
            .sum::<f64>()
            .sqrt();
        assert!((norm - 6.0).abs() < 0.5, "class {c}: |mean| = {norm}");
    }
    let g2 = gaussian_mixture(200, 3, 5, 6.0, 11).unwrap();
    assert_eq!((g.features - g2.features).norm_max(), 0.0);
    let u = uniform_cloud(1000, 2, -1.0, 3.0, 5).unwrap();
    assert!(u.col(0).iter().all(|v| (-1.0..3.0).contains(v)));
    let mean = u.col(1).iter().sum::<f64>() / 1000.0;
    assert!((mean - 1.0).abs() < 0.15);
    let n = gaussian_cloud(4000, 1, 2.0, 0.5, 6).unwrap();
    let m = n.col(0).iter().sum::<f64>() / 4000.0;
    let sd = (n.col(0).iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 4000.0).sqrt();
    assert!((m - 2.0).abs() < 0.03 && (sd - 0.5).abs() < 0.03);
    assert!(matches!(
        gaussian_mixture(10, 1, 2, 1.0, 0),
        Err(Error::Param(linalg_core::ParamError { name: "k", .. }))
    ));
    assert!(matches!(
        uniform_cloud(3, 2, 1.0, 1.0, 0),
        Err(Error::Param(_))
    ));
}

#[test]
fn laplacian_matches_its_closed_form_spectrum() {
    let g = 7;
    let a = laplacian_2d(g).unwrap().to_dense();
    assert_eq!((&a - a.transpose()).norm_max(), 0.0);
    let mut ev: Vec<f64> = a
        .self_adjoint_eigen(Side::Lower)
        .unwrap()
        .S()
        .column_vector()
        .iter()
        .copied()
        .collect();
    ev.sort_by(f64::total_cmp);
    for (x, y) in ev.iter().zip(laplacian_2d_eigenvalues(g)) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
    assert!(matches!(laplacian_2d(0), Err(Error::Param(_))));
}

#[test]
fn generators_refuse_sizes_beyond_memory_before_allocating() {
    use datasets::generate::*;
    for n in [usize::MAX, 1 << 40] {
        assert!(gaussian_mixture(n, 3, 2, 1.0, 0).is_err());
        assert!(gaussian_mixture(10, 3, n, 1.0, 0).is_err());
        assert!(cluster_mixture(n, 3, 2, 0.1, 0).is_err());
        assert!(geometric_spectrum(n, 10.0).is_err());
        assert!(uniform_cloud(n, 2, 0.0, 1.0, 0).is_err());
        assert!(uniform_cloud(2, n, 0.0, 1.0, 0).is_err());
        assert!(random_orthogonal(n, 0).is_err());
    }
    assert!(random_orthogonal(0, 0).is_err());
}

#[test]
fn standardisation_is_scale_safe() {
    use linalg_core::faer::Mat;
    let base = Mat::from_fn(50, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 - 4.0 + j as f64);
    let mut reference = base.clone();
    datasets::standardize(&mut reference).unwrap();
    for s in [1e-300, 1e300, 2f64.powi(-1040)] {
        let mut x = &base * s;
        datasets::standardize(&mut x).unwrap();
        let err = (&x - &reference).norm_max();
        // Subnormal inputs carry fewer bits; normal ones agree to rounding.
        let bar = if s < 1e-307 { 1e-2 } else { 1e-12 };
        assert!(err <= bar, "scale {s:e}: {err:e}");
    }
}
