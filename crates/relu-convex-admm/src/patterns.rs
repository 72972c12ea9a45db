//! Activation patterns `D_i = diag(1[X h_i ≥ 0])` of the convex
//! reformulation (Pilanci and Ergen 2020), from seeded Gaussian generators
//! or from given ones, without duplicates.

use linalg_core::faer::{Mat, MatRef};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use crate::Result;

/// The patterns as an `n × P` 0/1 matrix (column `i` is the diagonal of
/// `D_i`) and the generators that made them (`d × P`).
#[derive(Debug, Clone)]
pub struct Patterns {
    /// `n × P`, entries 0 or 1.
    pub masks: Mat<f64>,
    /// `d × P`: `masks[:, i] = 1[X generators[:, i] ≥ 0]`.
    pub generators: Mat<f64>,
}

impl Patterns {
    /// The distinct patterns of the columns of `h` (`d × P₀`), in their
    /// first-occurrence order; the convention `≥ 0` (Bai et al.'s code).
    pub fn from_generators(x: MatRef<'_, f64>, h: MatRef<'_, f64>) -> Result<Self> {
        linalg_core::param::dimension("generators (rows)", x.ncols(), h.nrows())?;
        linalg_core::param::at_least("patterns", h.ncols(), 1)?;
        for j in 0..h.ncols() {
            linalg_core::param::finite("generators", h.col(j))?;
        }
        // A NaN in X would compare false everywhere and give silent patterns.
        linalg_core::param::at_least("samples", x.nrows(), 1)?;
        for j in 0..x.ncols() {
            linalg_core::param::finite("data", x.col(j))?;
        }
        // X·H and the masks are n × P: bound them before allocating.
        let cells = x.nrows().saturating_mul(h.ncols());
        if cells > 100_000_000 {
            return Err(linalg_core::ParamError::new(
                "patterns",
                format!(
                    "{} samples × {} generators would hold {cells} numbers (at most 1e8)",
                    x.nrows(),
                    h.ncols()
                ),
            )
            .into());
        }
        let xh = x * h;
        let n = x.nrows();
        let mut keep: Vec<usize> = Vec::new();
        let mut seen: std::collections::HashSet<Vec<bool>> = std::collections::HashSet::new();
        for j in 0..h.ncols() {
            let key: Vec<bool> = (0..n).map(|i| xh[(i, j)] >= 0.0).collect();
            if seen.insert(key) {
                keep.push(j);
            }
        }
        Ok(Self {
            masks: Mat::from_fn(n, keep.len(), |i, k| {
                if xh[(i, keep[k])] >= 0.0 { 1.0 } else { 0.0 }
            }),
            generators: Mat::from_fn(h.nrows(), keep.len(), |r, k| h[(r, keep[k])]),
        })
    }

    /// `p` standard Gaussian generators from `seed`, deduplicated (so at
    /// most `p` patterns); `p ≤ 100 000`.
    pub fn sample(x: MatRef<'_, f64>, p: usize, seed: u64) -> Result<Self> {
        linalg_core::param::in_range("patterns", p as f64, 1.0, 1e5)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let h = Mat::from_fn(x.ncols(), p, |_, _| StandardNormal.sample(&mut rng));
        Self::from_generators(x, h.as_ref())
    }

    /// The distinct patterns of the columns of `first` (`d × P₀`, e.g. a
    /// bias direction `e_bias`, whose pattern is all-active: a linear
    /// neuron) followed by `p` standard Gaussian generators from `seed`.
    pub fn sample_with(
        x: MatRef<'_, f64>,
        first: MatRef<'_, f64>,
        p: usize,
        seed: u64,
    ) -> Result<Self> {
        linalg_core::param::in_range("patterns", p as f64, 1.0, 1e5)?;
        linalg_core::param::dimension("generators (rows)", x.ncols(), first.nrows())?;
        linalg_core::param::in_range("generators (columns)", first.ncols() as f64, 0.0, 1e5)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let f = first.ncols();
        let g = Mat::from_fn(x.ncols(), p, |_, _| StandardNormal.sample(&mut rng));
        let h = Mat::from_fn(x.ncols(), f + p, |i, j| {
            if j < f { first[(i, j)] } else { g[(i, j - f)] }
        });
        Self::from_generators(x, h.as_ref())
    }

    /// The number of distinct patterns `P`.
    pub fn len(&self) -> usize {
        self.masks.ncols()
    }

    /// Whether there are none (never, for a constructed value).
    pub fn is_empty(&self) -> bool {
        self.masks.ncols() == 0
    }
}
