//! Seeded benchmark problems: the paper's random assignment, W1/W2 between
//! images (the command line uses the embedded `digits`, 8 × 8) and between Gaussian-mixture
//! densities on a 28 × 28 grid, and point clouds.

use linalg_core::budget::Bytes;
use linalg_core::faer::{Col, Mat};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use linalg_core::ParamError;
use linalg_core::param::{at_least, dimension, finite_slice};

use crate::{Error, OtProblem, Result, cost};

/// Marginals and cost of a problem, before the regularisation is chosen.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Source marginal.
    pub r: Col<f64>,
    /// Target marginal.
    pub c: Col<f64>,
    /// Cost, `r.nrows() × c.nrows()`.
    pub cost: Mat<f64>,
}

impl Instance {
    /// The validated problem at regularisation `reg = ε`.
    pub fn problem(&self, reg: f64) -> Result<OtProblem> {
        OtProblem::new(self.r.as_ref(), self.c.as_ref(), self.cost.as_ref(), reg)
    }
}

fn positive(name: &'static str, v: usize) -> Result<()> {
    Ok(at_least(name, v, 1)?)
}

/// The paper's random assignment problem: `C_ij ~ U[0, 1]` i.i.d. (row-major
/// draws from `StdRng::seed_from_u64(seed)`), uniform marginals, `n × n`.
pub fn random_assignment(n: usize, seed: u64) -> Result<Instance> {
    positive("n", n)?;
    linalg_core::budget::check(
        format!("a {n} × {n} random assignment cost"),
        Bytes::matrix::<f64>(n, n),
    )?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cost = Mat::<f64>::zeros(n, n);
    for i in 0..n {
        for j in 0..n {
            cost[(i, j)] = rng.random::<f64>();
        }
    }
    Ok(Instance {
        r: OtProblem::uniform(n),
        c: OtProblem::uniform(n),
        cost,
    })
}

/// Two images (`h × w`, row-major, non-negative intensities) as densities
/// on their pixel grid, with the ℓ1 (`q = 1`, W1) or squared ℓ2 (`q = 2`,
/// W2) ground cost of [`cost::grid`]. Blank pixels have zero mass (the
/// solvers drop them). The command line builds the `digits-w1`/`digits-w2`
/// problems from the embedded `digits` data this way.
pub fn image_pair(first: &[f64], second: &[f64], h: usize, w: usize, q: u32) -> Result<Instance> {
    at_least("h", h, 1)?;
    at_least("w", w, 1)?;
    let pixels = h
        .checked_mul(w)
        .ok_or_else(|| ParamError::new("w", format!("{h} × {w} pixels overflow")))?;
    let density = |name: &'static str, img: &[f64]| -> Result<Col<f64>> {
        dimension(name, pixels, img.len())?;
        finite_slice(name, img)?;
        if let Some(i) = img.iter().position(|v| *v < 0.0) {
            return Err(ParamError::new(
                name,
                format!("negative intensity {} at pixel {i}", img[i]),
            )
            .into());
        }
        let total: f64 = img.iter().sum();
        if total <= 0.0 {
            return Err(Error::Empty(name));
        }
        Ok(Col::from_fn(img.len(), |j| img[j] / total))
    };
    Ok(Instance {
        r: density("first", first)?,
        c: density("second", second)?,
        cost: cost::grid(h, w, q)?,
    })
}

/// A seeded mixture of `components` Gaussian bumps on an `h × w` grid (centres
/// uniform in the middle 80 %, widths 5–15 % of the side, weights uniform in
/// [0.5, 1]), normalised to mass one; every pixel keeps at least 1e-6 of
/// relative mass so the support is the whole grid.
pub fn gaussian_mixture_density(
    h: usize,
    w: usize,
    components: usize,
    seed: u64,
) -> Result<Col<f64>> {
    positive("h", h)?;
    positive("w", w)?;
    positive("components", components)?;
    linalg_core::budget::check(
        format!("a {h} × {w} density of {components} components"),
        Bytes::matrix::<f64>(h, w) + Bytes::of::<[f64; 4]>(components),
    )?;
    let mut rng = StdRng::seed_from_u64(seed);
    let bumps: Vec<(f64, f64, f64, f64)> = (0..components)
        .map(|_| {
            (
                0.1 + 0.8 * rng.random::<f64>(),
                0.1 + 0.8 * rng.random::<f64>(),
                0.05 + 0.1 * rng.random::<f64>(),
                0.5 + 0.5 * rng.random::<f64>(),
            )
        })
        .collect();
    let mut d = Col::from_fn(h * w, |k| {
        let (y, x) = (
            (k / w) as f64 / (h.max(2) - 1) as f64,
            (k % w) as f64 / (w.max(2) - 1) as f64,
        );
        bumps
            .iter()
            .map(|(cy, cx, s, a)| {
                a * (-((y - cy).powi(2) + (x - cx).powi(2)) / (2.0 * s * s)).exp()
            })
            .sum::<f64>()
    });
    let peak = d.iter().fold(0.0f64, |a, b| a.max(*b));
    for v in d.iter_mut() {
        *v = v.max(1e-6 * peak);
    }
    let total: f64 = d.iter().sum();
    for v in d.iter_mut() {
        *v /= total;
    }
    Ok(d)
}

/// W1 (`q = 1`) or W2 (`q = 2`) between two seeded Gaussian-mixture densities
/// (3 components each, seeds `seed` and `seed + 1`) on a 28 × 28 grid, the
/// size of the paper's MNIST experiments.
pub fn gaussian_mixture_pair(q: u32, seed: u64) -> Result<Instance> {
    Ok(Instance {
        r: gaussian_mixture_density(28, 28, 3, seed)?,
        c: gaussian_mixture_density(28, 28, 3, seed.wrapping_add(1))?,
        cost: cost::grid(28, 28, q)?,
    })
}

/// Two seeded Gaussian point clouds in `dim` dimensions (`n` points around 0,
/// `m` points around `(1, 0.5, 0, …)`), squared Euclidean cost scaled to max 1,
/// uniform marginals.
pub fn point_clouds(n: usize, m: usize, dim: usize, seed: u64) -> Result<Instance> {
    positive("n", n)?;
    positive("m", m)?;
    positive("dim", dim)?;
    linalg_core::budget::check(
        format!("{n} + {m} points in {dim} dimensions and their {n} × {m} cost"),
        Bytes::matrix::<f64>(n, m) + Bytes::matrix::<f64>(n, dim) + Bytes::matrix::<f64>(m, dim),
    )?;
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = StandardNormal;
    let shift = |d: usize| [1.0, 0.5].get(d).copied().unwrap_or(0.0);
    let x = Mat::from_fn(n, dim, |_, _| -> f64 { normal.sample(&mut rng) });
    let y = Mat::from_fn(m, dim, |_, d| {
        let v: f64 = normal.sample(&mut rng);
        v + shift(d)
    });
    let mut c = cost::sqeuclidean(x.as_ref(), y.as_ref())?;
    let mx = (0..m)
        .flat_map(|j| c.col(j).iter().copied().collect::<Vec<_>>())
        .fold(0.0f64, f64::max);
    if mx > 0.0 {
        for j in 0..m {
            for v in c.col_mut(j).iter_mut() {
                *v /= mx;
            }
        }
    }
    Ok(Instance {
        r: OtProblem::uniform(n),
        c: OtProblem::uniform(m),
        cost: c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_valid_and_seeded() {
        let a = random_assignment(30, 7).unwrap();
        let b = random_assignment(30, 7).unwrap();
        assert_eq!(a.cost, b.cost);
        assert!(a.cost.col(3).iter().all(|v| (0.0..1.0).contains(v)));
        assert!((a.r.iter().sum::<f64>() - 1.0).abs() < 1e-12);

        // A 2 × 3 image pair: densities are the normalised intensities, and
        // the W1 grid cost between pixels (0, 0) and (1, 2) is 1 + 2 = 3
        // over the side scale max(h, w) − 1 = 2.
        let a = [1.0, 0.0, 1.0, 0.0, 2.0, 0.0];
        let b = [0.0, 1.0, 0.0, 1.0, 0.0, 2.0];
        let d = image_pair(&a, &b, 2, 3, 1).unwrap();
        assert_eq!(d.cost.nrows(), 6);
        assert_eq!(d.r[4], 0.5);
        assert!((d.cost[(0, 5)] - 1.5).abs() < 1e-15, "{}", d.cost[(0, 5)]);
        assert!(d.problem(0.01).is_ok());
        assert!(matches!(
            image_pair(&a, &b[..5], 2, 3, 1),
            Err(Error::Param(ParamError { name: "second", .. }))
        ));
        assert!(matches!(
            image_pair(&[0.0; 6], &b, 2, 3, 1),
            Err(Error::Empty("first"))
        ));

        let g = gaussian_mixture_pair(1, 3).unwrap();
        assert_eq!(g.r.nrows(), 784);
        assert!(g.r.iter().all(|v| *v > 0.0));
        assert!((g.c.iter().sum::<f64>() - 1.0).abs() < 1e-12);

        let p = point_clouds(40, 30, 2, 1).unwrap();
        assert_eq!((p.cost.nrows(), p.cost.ncols()), (40, 30));
        let mx = (0..30).map(|j| p.cost.col(j).iter().fold(0.0f64, |a, b| a.max(*b)));
        assert_eq!(mx.fold(0.0, f64::max), 1.0);
        assert!(matches!(
            point_clouds(0, 3, 2, 0),
            Err(Error::Param(ParamError { name: "n", .. }))
        ));
    }
}
