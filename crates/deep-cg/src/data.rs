//! DCDM training data (the official `datasetcreate.py`, scaled to this
//! machine): Ritz vectors of the training matrix from a Lanczos run with
//! full reorthogonalisation, and right-hand sides that weight the low end of
//! the spectrum.
//!
//! - Start vector `A x` with `x ~ N(0, 1)` (seeded), so it lies in the range
//!   of a singular Neumann operator; `m` Lanczos steps; Ritz values below
//!   `min_value` (null-space modes) are dropped.
//! - `b = Σ_j c_j q_j` with `c_j ~ N(0, 1)`, multiplied by `low_weight` (9)
//!   on the lowest `m/2 + θ` modes, then normalised.
//!
//! Memory: the basis is `n³ × m` f64 (32³, m = 500: 131 MB).

use std::path::{Path, PathBuf};

use linalg_core::faer::{Col, Mat, Par};
use linalg_core::io::{NpyDtype, read_npy_mat, write_npy_mat};
use linalg_core::lanczos::{LanczosParams, lanczos_with, ritz_pairs};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use linalg_core::Control;
use linalg_core::param::{at_least, nonnegative, positive};

use crate::{Error, PoissonSystem, Result};

/// Parameters of [`ritz_basis`] and [`sample_rhs`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RitzParams {
    /// Lanczos steps `m` (official: 10 000 at 64³; here a few hundred).
    pub m: usize,
    /// Extra low modes `θ`: the lowest `m/2 + θ` get `low_weight`.
    pub theta: usize,
    /// Weight of the low modes (9 in the official code).
    pub low_weight: f64,
    /// Ritz values below this are null-space modes and dropped (1e-8).
    pub min_value: f64,
    /// Seed of the start vector.
    pub seed: u64,
}

impl RitzParams {
    /// `m` steps, `θ = m/20` (the official 500 for m = 10 000), weight 9.
    pub fn new(m: usize) -> Self {
        Self {
            m,
            theta: m / 20,
            low_weight: 9.0,
            min_value: 1e-8,
            seed: 0,
        }
    }
    /// Sets `θ`, the extra low modes.
    pub fn theta(mut self, theta: usize) -> Self {
        self.theta = theta;
        self
    }
    /// Sets the weight of the low modes.
    pub fn low_weight(mut self, w: f64) -> Self {
        self.low_weight = w;
        self
    }
    /// Sets the null-space cut-off.
    pub fn min_value(mut self, v: f64) -> Self {
        self.min_value = v;
        self
    }
    /// Sets the seed of the start vector.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Rejects `m = 0`, a non-positive low-mode weight and a negative cut-off.
    pub fn validate(&self) -> Result<()> {
        at_least("m", self.m, 1)?;
        positive("low_weight", self.low_weight)?;
        nonnegative("min_value", self.min_value)?;
        Ok(())
    }
}

impl Default for RitzParams {
    /// 200 Lanczos steps.
    fn default() -> Self {
        Self::new(200)
    }
}

/// Ritz pairs kept for sampling (values ascending).
#[derive(Debug, Clone)]
pub struct RitzBasis {
    /// Ritz values, ascending, all ≥ `min_value`.
    pub values: Vec<f64>,
    /// Ritz vectors (`n³ × values.len()`), orthonormal.
    pub vectors: Mat<f64>,
    /// How many modes get the low-mode weight.
    pub low_modes: usize,
    /// The weight.
    pub low_weight: f64,
}

/// Lanczos (full reorthogonalisation) on the Poisson matrix, Ritz pairs,
/// null-space modes dropped.
pub fn ritz_basis(system: &PoissonSystem, params: &RitzParams) -> Result<RitzBasis> {
    params.validate()?;
    let n = system.len();
    let mut rng = StdRng::seed_from_u64(params.seed);
    let x: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
    let mut start = vec![0.0; n];
    system.apply_slices(&mut start, &x, Par::rayon(0));
    let start = Col::from_fn(n, |i| start[i]);
    let lp = LanczosParams::new(params.m).par(Par::rayon(0));
    let run = lanczos_with(system, start.as_ref(), &lp, |_| Control::Continue)?;
    let pairs = ritz_pairs(&run)?;
    let vectors = pairs
        .vectors
        .ok_or_else(|| Error::Numerical("Lanczos did not keep its basis".into()))?;
    let keep: Vec<usize> = (0..pairs.values.len())
        .filter(|&j| pairs.values[j] >= params.min_value)
        .collect();
    let values: Vec<f64> = keep.iter().map(|&j| pairs.values[j]).collect();
    let vectors = Mat::from_fn(n, keep.len(), |i, c| vectors[(i, keep[c])]);
    let low_modes = (params.m / 2 + params.theta).min(values.len());
    Ok(RitzBasis {
        values,
        vectors,
        low_modes,
        low_weight: params.low_weight,
    })
}

/// `count` normalised right-hand sides (columns, `n³ × count`) from `basis`,
/// seeded.
pub fn sample_rhs(basis: &RitzBasis, count: usize, seed: u64) -> Mat<f64> {
    let k = basis.values.len();
    let mut rng = StdRng::seed_from_u64(seed);
    let coeffs = Mat::from_fn(k, count, |j, _| {
        let c: f64 = StandardNormal.sample(&mut rng);
        if j < basis.low_modes {
            basis.low_weight * c
        } else {
            c
        }
    });
    let mut b = &basis.vectors * coeffs;
    for c in 0..count {
        let norm = b.col(c).norm_l2();
        if norm > 0.0 {
            for v in b.col_mut(c).iter_mut() {
                *v /= norm;
            }
        }
    }
    b
}

/// Where and how the training right-hand sides are stored: `shards` NPY
/// files `DIR/rhs_{s:05}.npy`, each `per_shard × n³` float32, one
/// right-hand side per row. Shard `s` is drawn with seed `seed + s`, so an
/// interrupted run resumes by skipping the shards already on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardLayout {
    /// The directory.
    pub dir: PathBuf,
    /// Number of shard files.
    pub shards: usize,
    /// Samples per shard.
    pub per_shard: usize,
    /// Cells per sample (`n³`).
    pub cells: usize,
}

impl ShardLayout {
    /// `count` samples of `cells` values in shards of at most 100.
    pub fn new(dir: impl Into<PathBuf>, count: usize, cells: usize) -> Result<Self> {
        at_least("samples", count, 1)?;
        let per_shard = count.min(100);
        Ok(Self {
            dir: dir.into(),
            shards: count.div_ceil(per_shard),
            per_shard,
            cells,
        })
    }

    /// The path of shard `s`.
    pub fn path(&self, s: usize) -> PathBuf {
        self.dir.join(format!("rhs_{s:05}.npy"))
    }

    /// Whether shard `s` is on disk and reads back with the right shape.
    pub fn is_complete(&self, s: usize) -> bool {
        read_npy_mat(self.path(s))
            .map(|m| m.nrows() == self.per_shard && m.ncols() == self.cells)
            .unwrap_or(false)
    }

    /// Whether every shard is complete (nothing to regenerate).
    pub fn all_complete(&self) -> bool {
        (0..self.shards).all(|s| self.is_complete(s))
    }

    /// Writes the shards that are missing or broken from `basis`.
    pub fn write(&self, basis: &RitzBasis, seed: u64) -> Result<Vec<PathBuf>> {
        write_shards(&self.dir, basis, self.shards, self.per_shard, seed)
    }

    /// The first `count` samples, row after row, as `f32` (the network's type).
    pub fn read(&self, count: usize) -> Result<Vec<f32>> {
        let mut values = Vec::with_capacity(count.min(self.shards * self.per_shard) * self.cells);
        for s in 0..self.shards {
            let m = read_npy_mat(self.path(s)).map_err(|e| e.in_file(self.path(s)))?;
            for i in 0..m.nrows() {
                if values.len() < count * self.cells {
                    values.extend((0..self.cells).map(|j| m[(i, j)] as f32));
                }
            }
        }
        Ok(values)
    }
}

/// Writes `shards` NPY files `DIR/rhs_{s:05}.npy` (each `per_shard × n³`,
/// float32, one right-hand side per row); shard `s` is drawn with seed
/// `seed + s`, so an interrupted run resumes by skipping the shards already
/// on disk (a file that does not read back with the right shape is
/// rewritten). Returns the shard paths. See [`ShardLayout`].
pub fn write_shards(
    dir: &Path,
    basis: &RitzBasis,
    shards: usize,
    per_shard: usize,
    seed: u64,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Numerical(format!("{}: {e}", dir.display())))?;
    let layout = ShardLayout {
        dir: dir.to_path_buf(),
        shards,
        per_shard,
        cells: basis.vectors.nrows(),
    };
    let mut out = Vec::with_capacity(shards);
    for s in 0..shards {
        let path = layout.path(s);
        if !layout.is_complete(s) {
            let b = sample_rhs(basis, per_shard, seed.wrapping_add(s as u64));
            write_npy_mat(&path, b.transpose(), NpyDtype::F32)?;
        }
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scene;

    #[test]
    fn ritz_basis_is_orthonormal_accurate_and_in_the_range() {
        let sys = PoissonSystem::new(Scene::SmokePlume.build(8, 0).unwrap());
        let basis = ritz_basis(&sys, &RitzParams::new(60)).unwrap();
        let k = basis.values.len();
        assert!(k >= 55, "kept {k} of 60");
        let q = &basis.vectors;
        let gram = q.transpose() * q;
        for i in 0..k {
            for j in 0..k {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((gram[(i, j)] - want).abs() < 1e-10);
            }
        }
        // The smallest Ritz value against the smallest nonzero eigenvalue of
        // the dense matrix (pure Neumann: one zero eigenvalue).
        let n = sys.len();
        let csr = sys.to_csr().unwrap();
        let dense = Mat::from_fn(n, n, |i, j| {
            let r = csr.as_ref();
            r.col_idx_of_row(i)
                .zip(r.val_of_row(i))
                .find(|(c, _)| *c == j)
                .map(|(_, v)| *v)
                .unwrap_or(0.0)
        });
        let ev = dense
            .self_adjoint_eigenvalues(linalg_core::faer::Side::Lower)
            .unwrap();
        let smallest = ev
            .iter()
            .copied()
            .filter(|v| *v > 1e-8)
            .fold(f64::INFINITY, f64::min);
        assert!((basis.values[0] - smallest).abs() < 1e-8 * smallest.max(1.0));
        // Every Ritz vector is in the range: zero off the fluid, zero mean.
        for c in 0..k {
            let mut v: Vec<f64> = q.col(c).iter().copied().collect();
            let removed = sys.regions().project(&mut v);
            assert!(removed < 1e-10, "mode {c}: {removed:e} outside the range");
        }
    }

    #[test]
    fn rhs_are_normalised_weighted_to_low_modes_and_shards_resume() {
        let sys = PoissonSystem::new(Scene::SmokePlume.build(8, 0).unwrap());
        let basis = ritz_basis(&sys, &RitzParams::new(40)).unwrap();
        let b = sample_rhs(&basis, 200, 3);
        for c in 0..200 {
            assert!((b.col(c).norm_l2() - 1.0).abs() < 1e-12);
        }
        // Energy in the low modes: 81·L / (81·L + (k − L)) in expectation.
        let coeffs = basis.vectors.transpose() * &b;
        let (l, k) = (basis.low_modes, basis.values.len());
        let low: f64 = (0..200)
            .map(|c| (0..l).map(|j| coeffs[(j, c)].powi(2)).sum::<f64>())
            .sum::<f64>()
            / 200.0;
        let expect = 81.0 * l as f64 / (81.0 * l as f64 + (k - l) as f64);
        assert!((low - expect).abs() < 0.02, "{low} vs {expect}");
        let dir = std::env::temp_dir().join(format!("dcdm_shards_{}", std::process::id()));
        let paths = write_shards(&dir, &basis, 3, 10, 7).unwrap();
        let first = std::fs::read(&paths[1]).unwrap();
        std::fs::remove_file(&paths[1]).unwrap();
        std::fs::write(&paths[2], b"truncated").unwrap();
        let again = write_shards(&dir, &basis, 3, 10, 7).unwrap();
        assert_eq!(
            std::fs::read(&again[1]).unwrap(),
            first,
            "shard 1 not reproduced"
        );
        let m = read_npy_mat(&again[2]).unwrap();
        assert_eq!((m.nrows(), m.ncols()), (10, 512));
        std::fs::remove_dir_all(&dir).ok();
    }
}
