//! The pressure Poisson matrix of a scene: a matrix-free 7-point stencil
//! operator, its CSR assembly, and right-hand sides.

use faer::sparse::{SparseRowMat, Triplet};
use faer::{Col, Par};
use linalg_core::faer;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::grid::{CellKind, Grid, Regions};
use crate::{Error, Result};

/// The 7-point finite-volume stencil on one grid level, precomputed per cell.
///
/// For a FLUID cell, `diag` counts the FLUID or AIR neighbours and bit `d` of
/// `mask` is set when neighbour `d` (−x, +x, −y, +y, −z, +z) is FLUID; both
/// are zero for other cells, whose rows (and columns) of the matrix are zero.
/// The operator is `scale · (diag·x_c − Σ_{fluid nb} x_nb)`.
#[derive(Debug, Clone)]
pub struct Stencil {
    pub(crate) n: usize,
    pub(crate) diag: Vec<u8>,
    pub(crate) mask: Vec<u8>,
    pub(crate) scale: f64,
    /// Per row `(j, k)`: the longest run `lo..hi` of cells with six fluid
    /// neighbours, which takes the branch-free (vectorised) path.
    pub(crate) runs: Vec<(u32, u32)>,
}

impl Stencil {
    /// Precomputes the stencil of `grid` with the given scale (`1/h²`).
    pub fn new(grid: &Grid, scale: f64) -> Self {
        let n = grid.n();
        let mut diag = vec![0u8; grid.len()];
        let mut mask = vec![0u8; grid.len()];
        for k in 0..n {
            for j in 0..n {
                for i in 0..n {
                    let c = grid.index(i, j, k);
                    if grid.cells()[c] != CellKind::Fluid {
                        continue;
                    }
                    for d in 0..6 {
                        match grid.neighbour(i, j, k, d).0 {
                            CellKind::Fluid => {
                                diag[c] += 1;
                                mask[c] |= 1 << d;
                            }
                            CellKind::Air => diag[c] += 1,
                            CellKind::Solid => {}
                        }
                    }
                }
            }
        }
        // Longest run of six-fluid-neighbour cells in each row (j, k).
        let runs = (0..n * n)
            .map(|row| {
                let cells = &mask[row * n..row * n + n];
                let (mut best, mut start) = ((0u32, 0u32), None);
                for (i, full) in cells
                    .iter()
                    .map(|m| *m == 0b11_1111)
                    .chain(std::iter::once(false))
                    .enumerate()
                {
                    match (full, start) {
                        (true, None) => start = Some(i),
                        (false, Some(lo)) => {
                            if i - lo > (best.1 - best.0) as usize {
                                best = (lo as u32, i as u32);
                            }
                            start = None;
                        }
                        _ => {}
                    }
                }
                best
            })
            .collect();
        Self {
            n,
            diag,
            mask,
            scale,
            runs,
        }
    }

    /// Cells per side.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `(A x)_c` for one cell, summed in ascending column order (−z, −y, −x,
    /// centre, +x, +y, +z) exactly as faer's CSR product does, so both agree to
    /// the last bit.
    #[inline(always)]
    fn cell(&self, c: usize, x: &[f64]) -> f64 {
        let (n, nn) = (self.n, self.n * self.n);
        let m = self.mask[c];
        let d = self.diag[c] as f64;
        let v = if m == 0b11_1111 {
            0.0 - x[c - nn] - x[c - n] - x[c - 1] + d * x[c] - x[c + 1] - x[c + n] - x[c + nn]
        } else {
            let mut v = 0.0;
            if m & 16 != 0 {
                v -= x[c - nn];
            }
            if m & 4 != 0 {
                v -= x[c - n];
            }
            if m & 1 != 0 {
                v -= x[c - 1];
            }
            v += d * x[c];
            if m & 2 != 0 {
                v -= x[c + 1];
            }
            if m & 8 != 0 {
                v -= x[c + n];
            }
            if m & 32 != 0 {
                v -= x[c + nn];
            }
            v
        };
        self.scale * v
    }

    /// `out = A x` for one z-slab `k` (`out` holds the slab's `n²` values).
    fn apply_slab(&self, k: usize, out: &mut [f64], x: &[f64]) {
        let n = self.n;
        let nn = n * n;
        for (j, orow) in out.chunks_mut(n).enumerate() {
            let r = (j + n * k) * n;
            let (lo, hi) = self.runs[j + n * k];
            let (lo, hi) = (lo as usize, hi as usize);
            for (i, o) in orow[..lo].iter_mut().enumerate() {
                *o = self.cell(r + i, x);
            }
            if hi > lo {
                // Branch-free run (six fluid neighbours, so the diagonal is
                // exactly 6): every slice has length m, so the bounds checks
                // vanish and the loop vectorises across cells (each cell keeps
                // its own summation order).
                let m = hi - lo;
                let c0 = r + lo;
                let o = &mut orow[lo..hi];
                let (zm, ym) = (&x[c0 - nn..c0 - nn + m], &x[c0 - n..c0 - n + m]);
                let (xm, xc, xp) = (
                    &x[c0 - 1..c0 - 1 + m],
                    &x[c0..c0 + m],
                    &x[c0 + 1..c0 + 1 + m],
                );
                let (yp, zp) = (&x[c0 + n..c0 + n + m], &x[c0 + nn..c0 + nn + m]);
                let scale = self.scale;
                for i in 0..m {
                    o[i] =
                        scale * (0.0 - zm[i] - ym[i] - xm[i] + 6.0 * xc[i] - xp[i] - yp[i] - zp[i]);
                }
            }
            for (i, o) in orow[hi..].iter_mut().enumerate() {
                *o = self.cell(r + hi + i, x);
            }
        }
    }

    /// `out = A x` on whole vectors of length `n³`, in parallel over z-slabs
    /// when `par` allows. Allocates nothing.
    pub fn apply_slices(&self, out: &mut [f64], x: &[f64], par: Par) {
        let nn = self.n * self.n;
        match par {
            Par::Seq => out
                .chunks_mut(nn)
                .enumerate()
                .for_each(|(k, slab)| self.apply_slab(k, slab, x)),
            #[allow(unreachable_patterns)]
            _ => out
                .par_chunks_mut(nn)
                .enumerate()
                .for_each(|(k, slab)| self.apply_slab(k, slab, x)),
        }
    }

    /// Assembles the same operator as a CSR matrix (zero rows for non-fluid
    /// cells; entries in ascending column order).
    pub fn to_csr(&self) -> Result<SparseRowMat<usize, f64>> {
        let n = self.n;
        let nn = n * n;
        let len = nn * n;
        let mut t = Vec::with_capacity(7 * len);
        for c in 0..len {
            let m = self.mask[c];
            let d = self.diag[c];
            if d == 0 && m == 0 {
                continue;
            }
            // Ascending columns: −z, −y, −x, self, +x, +y, +z.
            let offs: [(u8, isize); 6] = [
                (16, -(nn as isize)),
                (4, -(n as isize)),
                (1, -1),
                (2, 1),
                (8, n as isize),
                (32, nn as isize),
            ];
            for (bit, off) in &offs[..3] {
                if m & bit != 0 {
                    t.push(Triplet::new(c, (c as isize + off) as usize, -self.scale));
                }
            }
            t.push(Triplet::new(c, c, self.scale * d as f64));
            for (bit, off) in &offs[3..] {
                if m & bit != 0 {
                    t.push(Triplet::new(c, (c as isize + off) as usize, -self.scale));
                }
            }
        }
        SparseRowMat::try_new_from_triplets(len, len, &t)
            .map_err(|e| Error::Numerical(format!("assembling the Poisson matrix: {e:?}")))
    }
}

/// The pressure Poisson system of a scene: grid, stencil and fluid regions.
///
/// Implements [`LinOp`] as the matrix-free stencil (parallel over z-slabs,
/// no allocation per call); [`PoissonSystem::to_csr`] assembles the same
/// matrix, entry for entry.
#[derive(Debug, Clone)]
pub struct PoissonSystem {
    grid: Grid,
    stencil: Stencil,
    regions: Regions,
}

impl PoissonSystem {
    /// The system of `grid` (grid spacing 1).
    pub fn new(grid: Grid) -> Self {
        let stencil = Stencil::new(&grid, 1.0);
        let regions = Regions::find(&grid);
        Self {
            grid,
            stencil,
            regions,
        }
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The precomputed stencil.
    pub fn stencil(&self) -> &Stencil {
        &self.stencil
    }

    /// The connected fluid regions.
    pub fn regions(&self) -> &Regions {
        &self.regions
    }

    /// Vector length `n³`.
    pub fn len(&self) -> usize {
        self.grid.len()
    }

    /// Whether the system has no cells (never true).
    pub fn is_empty(&self) -> bool {
        self.grid.is_empty()
    }

    /// Stored entries of the assembled matrix.
    pub fn nnz(&self) -> usize {
        self.stencil
            .diag
            .iter()
            .zip(&self.stencil.mask)
            .map(|(d, m)| usize::from(*d != 0 || *m != 0) + m.count_ones() as usize)
            .sum()
    }

    /// The diagonal of the matrix.
    pub fn diagonal(&self) -> Vec<f64> {
        self.stencil
            .diag
            .iter()
            .map(|d| self.stencil.scale * *d as f64)
            .collect()
    }

    /// Assembles the CSR matrix.
    pub fn to_csr(&self) -> Result<SparseRowMat<usize, f64>> {
        self.stencil.to_csr()
    }

    /// `A x` into `out` (slices of length `n³`).
    pub fn apply_slices(&self, out: &mut [f64], x: &[f64], par: Par) {
        self.stencil.apply_slices(out, x, par)
    }

    /// The right-hand side `b = −∇·u` of a seeded random MAC velocity field
    /// `u ~ N(0, 1)` on the faces, with zero normal velocity on faces touching
    /// SOLID cells (walls and obstacles). It is compatible by construction: on
    /// a pure-Neumann region the outward flux through its (solid) boundary is 0.
    pub fn divergence_rhs(&self, seed: u64) -> Col<f64> {
        let g = &self.grid;
        let n = g.n();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut b = vec![0.0; g.len()];
        // One velocity per face between a fluid cell and a non-solid neighbour,
        // visiting each face once (from its lower cell, or from the fluid side
        // of a face on the grid boundary).
        let face = |rng: &mut StdRng| -> f64 { rng.random_range(-1.0..1.0) * 1.7320508075688772 };
        for k in 0..n {
            for j in 0..n {
                for i in 0..n {
                    let c = g.index(i, j, k);
                    let kc = g.cells()[c];
                    for d in [1usize, 3, 5] {
                        let (kn, nb) = g.neighbour(i, j, k, d);
                        let involved = (kc == CellKind::Fluid && kn != CellKind::Solid)
                            || (kn == CellKind::Fluid && kc != CellKind::Solid);
                        if !involved {
                            continue;
                        }
                        let u = face(&mut rng);
                        // Flux u leaves c through its + face and enters nb.
                        if kc == CellKind::Fluid {
                            b[c] -= u;
                        }
                        if let (Some(nb), CellKind::Fluid) = (nb, kn) {
                            b[nb] += u;
                        }
                    }
                    // Faces on the − side of the grid boundary (exterior AIR only).
                    if kc == CellKind::Fluid && g.exterior() == CellKind::Air {
                        for d in [0usize, 2, 4] {
                            if g.neighbour(i, j, k, d).1.is_none() {
                                b[c] += face(&mut rng);
                            }
                        }
                    }
                }
            }
        }
        Col::from_fn(b.len(), |i| b[i])
    }

    /// A seeded N(0, 1) vector on the fluid cells, projected onto the range
    /// (zero mean on every singular region).
    pub fn random_rhs(&self, seed: u64) -> Col<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut b: Vec<f64> = (0..self.len())
            .map(|c| {
                if self.regions.id[c] == u32::MAX {
                    0.0
                } else {
                    rng.random_range(-1.0..1.0) * 1.7320508075688772
                }
            })
            .collect();
        self.regions.project(&mut b);
        Col::from_fn(b.len(), |i| b[i])
    }
}

// The public operator of the system (any Krylov method takes it), by the
// workspace's slice-kernel adaptor.
linalg_core::impl_slice_linop!(PoissonSystem, |s| s.len(), |s, out, x, par| s
    .stencil
    .apply_slices(out, x, par));
