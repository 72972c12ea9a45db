//! Seeded generators: Gaussian mixtures, SPD matrices with a chosen spectrum,
//! point clouds. Every function takes a `seed` and is reproducible.

use linalg_core::faer::sparse::{SparseRowMat, Triplet};
use linalg_core::faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use linalg_core::ParamError;

use crate::{Dataset, Error, Result};

fn normal(rng: &mut StdRng) -> f64 {
    StandardNormal.sample(rng)
}

/// `k` points uniform on the sphere of `radius` in `dim` dimensions
/// (normalised Gaussians), the class centres of both mixtures.
fn sphere_points(k: usize, dim: usize, radius: f64, rng: &mut StdRng) -> Vec<Vec<f64>> {
    (0..k)
        .map(|_| {
            let v: Vec<f64> = (0..dim).map(|_| normal(rng)).collect();
            let norm = v
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt()
                .max(f64::MIN_POSITIVE);
            v.iter().map(|x| x * radius / norm).collect()
        })
        .collect()
}

fn positive(name: &'static str, v: usize) -> Result<()> {
    Ok(linalg_core::param::at_least(name, v, 1)?)
}

/// A `k`-class Gaussian mixture in `dim` dimensions with `n_per_class` samples
/// per class: class centres are drawn uniformly on the sphere of radius
/// `separation`, samples are centre + N(0, I).
pub fn gaussian_mixture(
    n_per_class: usize,
    k: usize,
    dim: usize,
    separation: f64,
    seed: u64,
) -> Result<Dataset> {
    positive("n_per_class", n_per_class)?;
    positive("dim", dim)?;
    linalg_core::param::at_least("k", k, 2)?;
    linalg_core::param::nonnegative("separation", separation)?;
    let n = n_per_class.saturating_mul(k);
    linalg_core::budget::check(
        format!("a {n} × {dim} mixture"),
        linalg_core::budget::Bytes::matrix::<f64>(n, dim)
            + linalg_core::budget::Bytes::matrix::<f64>(k, dim),
    )?;
    let mut rng = StdRng::seed_from_u64(seed);
    let centres = sphere_points(k, dim, separation, &mut rng);

    let labels: Vec<usize> = (0..n).map(|i| i / n_per_class).collect();
    let mut x = Mat::zeros(n, dim);
    for i in 0..n {
        for j in 0..dim {
            x[(i, j)] = centres[labels[i]][j] + normal(&mut rng);
        }
    }
    Dataset::new(
        format!("gaussian_mixture(k={k}, dim={dim}, sep={separation})"),
        x,
        labels,
        (0..k).map(|c| format!("cluster_{c}")).collect(),
    )
}

/// `n` samples of a `k`-cluster mixture in `dim` dimensions, the setup of
/// the Hessian-outlier experiments (Sagun et al. 2017; the anchors'
/// measurement): cluster centres uniform on the **unit** sphere, samples
/// centre + N(0, `noise`²·I), labels balanced (sample `i` has class
/// `i mod k`). `noise = 0.05` separates the clusters well; at 0.3 they
/// overlap in 20 dimensions.
pub fn cluster_mixture(n: usize, k: usize, dim: usize, noise: f64, seed: u64) -> Result<Dataset> {
    positive("dim", dim)?;
    linalg_core::param::at_least("k", k, 2)?;
    linalg_core::param::at_least("n", n, k)?;
    linalg_core::param::nonnegative("noise", noise)?;
    linalg_core::budget::check(
        format!("a {n} × {dim} mixture"),
        linalg_core::budget::Bytes::matrix::<f64>(n, dim)
            + linalg_core::budget::Bytes::matrix::<f64>(k, dim),
    )?;
    linalg_core::param::finite_value("noise", noise)?;
    if n.saturating_mul(dim) > 100_000_000 {
        return Err(ParamError::new("n", format!("{n} × {dim} exceeds 10⁸ numbers")).into());
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let centres = sphere_points(k, dim, 1.0, &mut rng);
    let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
    let mut x = Mat::zeros(n, dim);
    for i in 0..n {
        for j in 0..dim {
            x[(i, j)] = centres[labels[i]][j] + noise * normal(&mut rng);
        }
    }
    Dataset::new(
        format!("cluster_mixture(k={k}, dim={dim}, noise={noise})"),
        x,
        labels,
        (0..k).map(|c| format!("cluster_{c}")).collect(),
    )
}

/// A random symmetric positive definite matrix `Q diag(spectrum) Qᵀ` with `Q`
/// Haar-distributed orthogonal (QR of a Gaussian matrix, signs fixed). Every
/// eigenvalue must be positive and finite.
pub fn random_spd(spectrum: &[f64], seed: u64) -> Result<Mat<f64>> {
    let n = spectrum.len();
    positive("spectrum length", n)?;
    if let Some(&bad) = spectrum.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        return Err(Error::Param(ParamError::new(
            "spectrum",
            format!("eigenvalues must be positive and finite, got {bad}"),
        )));
    }
    let q = random_orthogonal(n, seed)?;
    let d = Col::from_fn(n, |i| spectrum[i]);
    let a = &q * d.as_diagonal() * q.transpose();
    // Symmetrise away rounding.
    Ok(Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)])))
}

/// A Haar-distributed random orthogonal `n × n` matrix (`n ≥ 1`; refused
/// before allocating when the Gaussian matrix and its QR would not fit the
/// memory budget).
pub fn random_orthogonal(n: usize, seed: u64) -> Result<Mat<f64>> {
    positive("n", n)?;
    linalg_core::budget::check(
        format!("a random orthogonal {n} × {n} matrix"),
        linalg_core::budget::Bytes::matrix::<f64>(n, n).times(3),
    )?;
    let mut rng = StdRng::seed_from_u64(seed);
    let g = Mat::from_fn(n, n, |_, _| normal(&mut rng));
    let qr = g.qr();
    let mut q = qr.compute_Q();
    let r = qr.R();
    // Fix the signs so that the distribution is Haar (diag(R) > 0).
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            for v in q.col_mut(j).iter_mut() {
                *v = -*v;
            }
        }
    }
    Ok(q)
}

/// `n` eigenvalues spaced geometrically from `1/cond` to `1` (condition number `cond`).
pub fn geometric_spectrum(n: usize, cond: f64) -> Result<Vec<f64>> {
    positive("n", n)?;
    linalg_core::budget::check(
        format!("a spectrum of {n} values"),
        linalg_core::budget::Bytes::of::<f64>(n),
    )?;
    if !(cond.is_finite() && cond >= 1.0) {
        return Err(Error::Param(ParamError::new(
            "cond",
            format!("must be finite and ≥ 1, got {cond}"),
        )));
    }
    if n == 1 {
        return Ok(vec![1.0]);
    }
    Ok((0..n)
        .map(|i| cond.powf(i as f64 / (n - 1) as f64 - 1.0))
        .collect())
}

/// `n` points uniform in the box `[low, high)^dim` (rows are points).
pub fn uniform_cloud(n: usize, dim: usize, low: f64, high: f64, seed: u64) -> Result<Mat<f64>> {
    positive("n", n)?;
    positive("dim", dim)?;
    linalg_core::budget::check(
        format!("a {n} × {dim} point cloud"),
        linalg_core::budget::Bytes::matrix::<f64>(n, dim),
    )?;
    if !(low.is_finite() && high.is_finite() && low < high) {
        let name = if low.is_finite() { "high" } else { "low" };
        return Err(Error::Param(ParamError::new(
            name,
            format!("need finite low < high, got [{low}, {high})"),
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    Ok(Mat::from_fn(n, dim, |_, _| rng.random_range(low..high)))
}

/// `n` points from N(mean·1, std²·I) in `dim` dimensions (rows are points).
pub fn gaussian_cloud(n: usize, dim: usize, mean: f64, std: f64, seed: u64) -> Result<Mat<f64>> {
    positive("n", n)?;
    positive("dim", dim)?;
    linalg_core::param::finite_value("mean", mean)?;
    linalg_core::param::positive("std", std)?;
    let mut rng = StdRng::seed_from_u64(seed);
    Ok(Mat::from_fn(n, dim, |_, _| mean + std * normal(&mut rng)))
}

/// The 5-point Laplacian on a `g × g` grid with homogeneous Dirichlet
/// boundary (grid spacing 1): `4` on the diagonal, `−1` for each of the four
/// neighbours, `n = g²` unknowns in row-major order. SPD, with the closed-form
/// spectrum of [`laplacian_2d_eigenvalues`].
pub fn laplacian_2d(g: usize) -> Result<SparseRowMat<usize, f64>> {
    positive("g", g)?;
    let id = |i: usize, j: usize| i * g + j;
    let mut t = Vec::with_capacity(5 * g * g);
    for i in 0..g {
        for j in 0..g {
            t.push(Triplet::new(id(i, j), id(i, j), 4.0));
            if i > 0 {
                t.push(Triplet::new(id(i, j), id(i - 1, j), -1.0));
            }
            if i + 1 < g {
                t.push(Triplet::new(id(i, j), id(i + 1, j), -1.0));
            }
            if j > 0 {
                t.push(Triplet::new(id(i, j), id(i, j - 1), -1.0));
            }
            if j + 1 < g {
                t.push(Triplet::new(id(i, j), id(i, j + 1), -1.0));
            }
        }
    }
    SparseRowMat::try_new_from_triplets(g * g, g * g, &t).map_err(|e| {
        Error::Param(ParamError::new(
            "g",
            format!("grid too large to index: {e:?}"),
        ))
    })
}

/// The eigenvalues of [`laplacian_2d`], ascending:
/// `λ_{jk} = 4 − 2cos(jπ/(g+1)) − 2cos(kπ/(g+1))`, `j, k = 1..=g`.
pub fn laplacian_2d_eigenvalues(g: usize) -> Vec<f64> {
    let h = std::f64::consts::PI / (g + 1) as f64;
    let mut ev: Vec<f64> = (1..=g)
        .flat_map(|j| {
            (1..=g).map(move |k| 4.0 - 2.0 * (j as f64 * h).cos() - 2.0 * (k as f64 * h).cos())
        })
        .collect();
    ev.sort_by(f64::total_cmp);
    ev
}
