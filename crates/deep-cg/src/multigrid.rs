//! Geometric multigrid V-cycle preconditioner for masked cell grids, in the
//! style of McAdams, Sifakis & Teran, "A parallel multigrid Poisson solver for
//! fluids simulation on large grids" (SCA 2010).
//!
//! - Coarsening halves the grid; a coarse cell is AIR if any of its 8 children
//!   is AIR, else FLUID if any child is FLUID, else SOLID. The exterior kind is
//!   inherited. Coarse operators are re-discretised with `h = 2^ℓ`
//!   (scale `1/h²`), so every level is the same 7-point stencil.
//! - Prolongation `P` is cell-centred trilinear interpolation (weights 3/4 and
//!   1/4 per axis) onto fluid cells; restriction is `R = Pᵀ/8`.
//! - Smoothing is red-black Gauss–Seidel: `ν` sweeps red→black before the
//!   coarse correction, `ν` sweeps black→red after it, and symmetric sweeps on
//!   the 4³ coarsest level. With `R ∝ Pᵀ` and each post-smoother the adjoint of
//!   the pre-smoother, the V-cycle is a symmetric linear operator, as CG needs.
//! - On pure-Neumann regions the output is projected to zero mean per region.
//!
//! The cycle works in scratch memory from faer's `MemStack`: no allocation per
//! application.

use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::{LinOp, Precond};
use faer::{MatMut, MatRef, Par};
use linalg_core::faer;
use rayon::prelude::*;

use crate::grid::{CellKind, Grid};
use linalg_core::op::for_each_col;

use crate::poisson::{PoissonSystem, Stencil};

/// Multigrid parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultigridParams {
    /// Red-black Gauss–Seidel sweeps before and after each coarse correction.
    pub sweeps: usize,
    /// Symmetric sweeps (red-black then black-red) on the coarsest level.
    pub coarse_sweeps: usize,
    /// Coarsest grid size.
    pub coarsest: usize,
}

impl Default for MultigridParams {
    fn default() -> Self {
        Self {
            sweeps: 2,
            coarse_sweeps: 16,
            coarsest: 4,
        }
    }
}

impl MultigridParams {
    /// Sets the smoothing sweeps per level.
    pub fn sweeps(mut self, k: usize) -> Self {
        self.sweeps = k;
        self
    }
    /// Sets the sweeps on the coarsest level.
    pub fn coarse_sweeps(mut self, k: usize) -> Self {
        self.coarse_sweeps = k;
        self
    }
    /// Sets the coarsest grid size.
    pub fn coarsest(mut self, n: usize) -> Self {
        self.coarsest = n;
        self
    }
    /// Rejects zero sweeps (the V-cycle would not smooth) and a coarsest
    /// grid below 2 cells per side.
    pub fn validate(&self) -> crate::Result<()> {
        linalg_core::param::at_least("sweeps", self.sweeps, 1)?;
        linalg_core::param::at_least("coarse_sweeps", self.coarse_sweeps, 1)?;
        linalg_core::param::at_least("coarsest", self.coarsest, 2)?;
        Ok(())
    }
}

/// The V-cycle preconditioner.
#[derive(Debug, Clone)]
pub struct Multigrid {
    levels: Vec<Stencil>,
    /// Per level `ℓ < L`: the trilinear axis table from level ℓ to ℓ + 1.
    axes: Vec<AxisTable>,
    /// Per level `ℓ < L`: its transpose, the fine cells of each coarse index.
    gathers: Vec<GatherTable>,
    regions: crate::grid::Regions,
    params: MultigridParams,
}

fn coarsen(g: &Grid) -> Grid {
    let nc = g.n() / 2;
    let mut cells = vec![CellKind::Solid; nc * nc * nc];
    for k in 0..nc {
        for j in 0..nc {
            for i in 0..nc {
                let mut any_air = false;
                let mut any_fluid = false;
                for c in 0..8 {
                    let (a, b, d) = (2 * i + (c & 1), 2 * j + ((c >> 1) & 1), 2 * k + (c >> 2));
                    match g.cells()[g.index(a, b, d)] {
                        CellKind::Air => any_air = true,
                        CellKind::Fluid => any_fluid = true,
                        CellKind::Solid => {}
                    }
                }
                cells[i + nc * (j + nc * k)] = if any_air {
                    CellKind::Air
                } else if any_fluid {
                    CellKind::Fluid
                } else {
                    CellKind::Solid
                };
            }
        }
    }
    // Sizes come from a valid grid, so this cannot fail.
    Grid::new(nc, cells, g.exterior()).unwrap_or_else(|_| g.clone())
}

impl Multigrid {
    /// Builds the level hierarchy of `system` (the setup phase).
    pub fn new(system: &PoissonSystem, params: MultigridParams) -> Self {
        let mut levels = vec![system.stencil().clone()];
        let mut grid = system.grid().clone();
        let mut scale = 1.0;
        while grid.n() / 2 >= params.coarsest.max(2) && grid.n().is_multiple_of(2) {
            grid = coarsen(&grid);
            scale /= 4.0;
            levels.push(Stencil::new(&grid, scale));
        }
        let axes = levels
            .windows(2)
            .map(|w| axis_table(w[0].n, w[1].n))
            .collect();
        let gathers = levels
            .windows(2)
            .map(|w| gather_table(w[0].n, w[1].n))
            .collect();
        Self {
            levels,
            axes,
            gathers,
            regions: system.regions().clone(),
            params,
        }
    }

    /// Number of levels (fine level included).
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// Scratch length (in f64) that [`Multigrid::vcycle`] needs.
    pub fn scratch_len(&self) -> usize {
        // Fine right-hand side; per finer level its residual; per coarser level
        // its right-hand side and solution.
        let size = |l: &Stencil| l.n * l.n * l.n;
        size(&self.levels[0]) + self.levels.iter().map(|l| 3 * size(l)).sum::<usize>()
    }

    /// One red-black Gauss–Seidel half-sweep on cells of `color`
    /// (`(i + j + k) % 2 == color`). A cell of one colour reads only cells
    /// of the other, so the half-sweep runs in two parallel phases over
    /// z-slabs, even `k` then odd `k`: each task owns its slab mutably and
    /// reads its two neighbour slabs, which the phase does not write (safe
    /// Rust, and the result is bit-identical to the sequential sweep).
    /// Cells in a row's run of six fluid neighbours take a branch-free path.
    fn rb_half(l: &Stencil, x: &mut [f64], b: &[f64], color: usize) {
        let n = l.n;
        let nn = n * n;
        // Below 32³ a rayon dispatch costs more than the slab it runs.
        if n < 32 {
            for k in 0..n {
                let (before, rest) = x.split_at_mut(k * nn);
                let (slab, after) = rest.split_at_mut(nn);
                let below = if k > 0 {
                    &before[(k - 1) * nn..]
                } else {
                    &[][..]
                };
                let above = if k + 1 < n { &after[..nn] } else { &[][..] };
                Self::rb_slab(l, slab, below, above, b, k, color);
            }
            return;
        }
        for parity in 0..2 {
            // Slabs of this parity, mutable; the others, shared. These two
            // lists of n slab references are the sweep's only allocation
            // (≤ 2 KiB against n³ cell updates): splitting one buffer into
            // interleaved mutable and shared slabs needs them in safe Rust.
            let mut mine: Vec<(usize, &mut [f64])> = Vec::with_capacity(n / 2 + 1);
            let mut others: Vec<Option<&[f64]>> = vec![None; n];
            for (k, slab) in x.chunks_mut(nn).enumerate() {
                if k % 2 == parity {
                    mine.push((k, slab));
                } else {
                    others[k] = Some(&*slab);
                }
            }
            let others = &others;
            mine.into_par_iter().for_each(|(k, slab)| {
                let below = if k > 0 {
                    others[k - 1].unwrap_or(&[])
                } else {
                    &[]
                };
                let above = if k + 1 < n {
                    others[k + 1].unwrap_or(&[])
                } else {
                    &[]
                };
                Self::rb_slab(l, slab, below, above, b, k, color);
            });
        }
    }

    /// The half-sweep of one z-slab `k`: `slab` is `x` on it, `below` and
    /// `above` on slabs `k ∓ 1` (empty at the faces, where no fluid
    /// neighbour lies).
    fn rb_slab(
        l: &Stencil,
        slab: &mut [f64],
        below: &[f64],
        above: &[f64],
        b: &[f64],
        k: usize,
        color: usize,
    ) {
        let n = l.n;
        let nn = n * n;
        let inv_scale = 1.0 / l.scale;
        let base = nn * k;
        for j in 0..n {
            let start = (color + j + k) % 2;
            let row = n * j;
            let (lo, hi) = l.runs[j + n * k];
            let (lo, hi) = (lo as usize, hi as usize);
            let mut i = start;
            let cell = |slab: &[f64], c: usize| -> Option<f64> {
                let g = base + c;
                let d = l.diag[g];
                if d == 0 {
                    return None;
                }
                let m = l.mask[g];
                let mut s = b[g] * inv_scale;
                if m & 1 != 0 {
                    s += slab[c - 1];
                }
                if m & 2 != 0 {
                    s += slab[c + 1];
                }
                if m & 4 != 0 {
                    s += slab[c - n];
                }
                if m & 8 != 0 {
                    s += slab[c + n];
                }
                if m & 16 != 0 {
                    s += below[c];
                }
                if m & 32 != 0 {
                    s += above[c];
                }
                Some(s / d as f64)
            };
            while i < lo.min(n) {
                if let Some(v) = cell(slab, row + i) {
                    slab[row + i] = v;
                }
                i += 2;
            }
            if i < hi {
                // A run of six fluid neighbours is never on a z-face.
                let (dn, up) = (&below[row..row + n], &above[row..row + n]);
                let bb = &b[base + row..base + row + n];
                while i < hi {
                    let c = row + i;
                    let s = bb[i] * inv_scale
                        + (slab[c - 1] + slab[c + 1])
                        + (slab[c - n] + slab[c + n])
                        + (dn[i] + up[i]);
                    slab[c] = s * (1.0 / 6.0);
                    i += 2;
                }
            }
            while i < n {
                if let Some(v) = cell(slab, row + i) {
                    slab[row + i] = v;
                }
                i += 2;
            }
        }
    }

    /// `bc = Pᵀ r / 8` (restriction), zero on non-fluid coarse cells. In
    /// gather form: each coarse cell sums its (at most 4 × 4 × 4) fine
    /// cells, in parallel over coarse z-slabs, so no two tasks write the
    /// same value (the scatter form, 8 coarse cells per fine one, could not
    /// be split without races) and the sum order is fixed.
    fn restrict(fine: &Stencil, coarse: &Stencil, gt: &GatherTable, r: &[f64], bc: &mut [f64]) {
        let (n, nc) = (fine.n, coarse.n);
        let ncc = nc * nc;
        let slab = |(kc, out): (usize, &mut [f64])| {
            for jc in 0..nc {
                for ic in 0..nc {
                    let cc = ic + nc * jc;
                    if coarse.diag[cc + ncc * kc] == 0 {
                        out[cc] = 0.0;
                        continue;
                    }
                    let mut acc = 0.0;
                    for &(fz, wz) in &gt[kc] {
                        for &(fy, wy) in &gt[jc] {
                            let row = &r[n * (fy + n * fz)..][..n];
                            let t: f64 = gt[ic].iter().map(|&(fx, wx)| wx * row[fx]).sum();
                            acc += wz * wy * t;
                        }
                    }
                    out[cc] = 0.125 * acc;
                }
            }
        };
        if nc >= 16 {
            bc.par_chunks_mut(ncc).enumerate().for_each(slab);
        } else {
            bc.chunks_mut(ncc).enumerate().for_each(slab);
        }
    }

    /// `x += P xc` on fluid fine cells (trilinear, cell-centred), in parallel
    /// over fine z-slabs (each slab writes only its own cells).
    fn prolong_add(fine: &Stencil, coarse: &Stencil, ax: &AxisTable, xc: &[f64], x: &mut [f64]) {
        let (n, nc) = (fine.n, coarse.n);
        x.par_chunks_mut(n * n).enumerate().for_each(|(k, slab)| {
            let (kz, wz) = ax[k];
            for j in 0..n {
                let (jy, wy) = ax[j];
                let row = n * (j + n * k);
                let rows = [
                    [nc * (jy[0] + nc * kz[0]), nc * (jy[1] + nc * kz[0])],
                    [nc * (jy[0] + nc * kz[1]), nc * (jy[1] + nc * kz[1])],
                ];
                let w = [
                    [wz[0] * wy[0], wz[0] * wy[1]],
                    [wz[1] * wy[0], wz[1] * wy[1]],
                ];
                for i in 0..n {
                    if fine.diag[row + i] == 0 {
                        continue;
                    }
                    let (ix, wx) = ax[i];
                    let mut v = 0.0;
                    for a in 0..2 {
                        for bb in 0..2 {
                            let base = rows[a][bb];
                            v += w[a][bb] * (wx[0] * xc[base + ix[0]] + wx[1] * xc[base + ix[1]]);
                        }
                    }
                    slab[j * n + i] += v;
                }
            }
        });
    }

    /// Applies one V-cycle: `z = M r`. `work` holds at least
    /// `scratch_len()` values; nothing is allocated.
    pub fn vcycle(&self, z: &mut [f64], r: &[f64], work: &mut [f64]) {
        let (b, rest) = work.split_at_mut(r.len());
        // Project the input as well as the output: M' = Π M Π stays symmetric
        // even for inputs with entries on non-fluid cells or a non-zero mean.
        b.copy_from_slice(r);
        self.regions.project(b);
        self.cycle(0, z, b, rest);
        self.regions.project(z);
    }

    /// The V-cycle from level `li` down: `x ≈ A_li⁻¹ b` (from `x = 0`), with
    /// the coarser levels' buffers carved out of `work`.
    fn cycle(&self, li: usize, x: &mut [f64], b: &[f64], work: &mut [f64]) {
        let l = &self.levels[li];
        x.fill(0.0);
        if li + 1 == self.levels.len() {
            // Coarsest level: symmetric sweeps.
            for _ in 0..self.params.coarse_sweeps {
                Self::rb_half(l, x, b, 0);
                Self::rb_half(l, x, b, 1);
                Self::rb_half(l, x, b, 1);
                Self::rb_half(l, x, b, 0);
            }
            return;
        }
        for _ in 0..self.params.sweeps {
            Self::rb_half(l, x, b, 0);
            Self::rb_half(l, x, b, 1);
        }
        let coarse = &self.levels[li + 1];
        let mc = coarse.n * coarse.n * coarse.n;
        let (res, rest) = work.split_at_mut(x.len());
        let (bc, rest) = rest.split_at_mut(mc);
        let (xc, rest) = rest.split_at_mut(mc);
        l.apply_slices(res, x, Par::rayon(0));
        for (rv, bv) in res.iter_mut().zip(b) {
            *rv = bv - *rv;
        }
        Self::restrict(l, coarse, &self.gathers[li], res, bc);
        self.cycle(li + 1, xc, bc, rest);
        Self::prolong_add(l, coarse, &self.axes[li], xc, x);
        for _ in 0..self.params.sweeps {
            Self::rb_half(l, x, b, 1);
            Self::rb_half(l, x, b, 0);
        }
    }
}

/// Per coarse index along an axis: its fine cells and their weights (the
/// transpose of [`axis_table`], zero weights left out).
type GatherTable = Vec<Vec<(usize, f64)>>;

fn gather_table(n: usize, nc: usize) -> GatherTable {
    let mut g: GatherTable = vec![Vec::new(); nc];
    for (f, (c, w)) in axis_table(n, nc).into_iter().enumerate() {
        g[c[0]].push((f, w[0]));
        if w[1] != 0.0 {
            g[c[1]].push((f, w[1]));
        }
    }
    g
}

/// One entry per fine index along an axis (see [`axis_table`]).
type AxisTable = Vec<([usize; 2], [f64; 2])>;

/// Per fine index `f` along one axis: the coarse parent and second-nearest
/// coarse cell with weights 3/4 and 1/4 (cell-centred: fine cell `f` sits at
/// `(f + 0.5)/2` in coarse units). Outside the coarse grid the second cell is
/// replaced by the parent with weight 0, so the loops need no branches.
fn axis_table(n: usize, nc: usize) -> AxisTable {
    (0..n)
        .map(|f| {
            let p = f / 2;
            let other = if f.is_multiple_of(2) {
                p.checked_sub(1)
            } else {
                Some(p + 1).filter(|&q| q < nc)
            };
            match other {
                Some(q) => ([p, q], [0.75, 0.25]),
                None => ([p, p], [0.75, 0.0]),
            }
        })
        .collect()
}

impl LinOp<f64> for Multigrid {
    fn apply_scratch(&self, rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::new::<f64>(self.scratch_len()).array(rhs_ncols.max(1))
    }
    fn nrows(&self) -> usize {
        let n = self.levels[0].n;
        n * n * n
    }
    fn ncols(&self) -> usize {
        self.nrows()
    }
    fn apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _par: Par, stack: &mut MemStack) {
        let (mut work, _) = stack.make_with::<f64>(self.scratch_len(), |_| 0.0);
        for_each_col(out, rhs, |z, r| self.vcycle(z, r, &mut work));
    }
    fn conj_apply(
        &self,
        out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        par: Par,
        stack: &mut MemStack,
    ) {
        self.apply(out, rhs, par, stack)
    }
}

impl Precond<f64> for Multigrid {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Scene;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn random(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..len).map(|_| rng.random::<f64>() - 0.5).collect()
    }

    #[test]
    fn a_half_sweep_zeroes_the_residual_of_its_colour_and_ignores_the_split() {
        // 64³: the parallel two-phase path. After a half-sweep of colour c,
        // every fluid cell of colour c satisfies its own equation (its
        // neighbours, all of the other colour, did not move), checked with
        // the stencil product; and the slab-phase split equals a plain
        // sequential pass over the slabs bit for bit.
        let sys = PoissonSystem::new(Scene::SmokePlume.build(64, 0).unwrap());
        let l = sys.stencil();
        let (n, len) = (l.n, l.n * l.n * l.n);
        let b = random(len, 1);
        for color in 0..2 {
            let mut x = random(len, 2 + color as u64);
            let mut seq = x.clone();
            Multigrid::rb_half(l, &mut x, &b, color);
            let nn = n * n;
            for k in 0..n {
                let (before, rest) = seq.split_at_mut(k * nn);
                let (slab, after) = rest.split_at_mut(nn);
                let below = if k > 0 {
                    &before[(k - 1) * nn..]
                } else {
                    &[][..]
                };
                let above = if k + 1 < n { &after[..nn] } else { &[][..] };
                Multigrid::rb_slab(l, slab, below, above, &b, k, color);
            }
            assert!(x.iter().zip(&seq).all(|(a, c)| a.to_bits() == c.to_bits()));
            let mut ax = vec![0.0; len];
            l.apply_slices(&mut ax, &x, Par::Seq);
            for k in 0..n {
                for j in 0..n {
                    for i in 0..n {
                        let c = i + n * (j + n * k);
                        if (i + j + k) % 2 == color && l.diag[c] != 0 {
                            let tol = 1e-12 * (1.0 + b[c].abs() + ax[c].abs());
                            assert!(
                                (ax[c] - b[c]).abs() <= tol,
                                "cell {c}: {} vs {}",
                                ax[c],
                                b[c]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_gather_restriction_is_the_transpose_of_the_prolongation_over_8() {
        // ⟨R r, x_c⟩ = ⟨r, P x_c⟩ / 8 for r on fluid fine cells and x_c on
        // fluid coarse cells: the gather table against the prolongation,
        // which reads the axis table directly. 64³ → 32³ takes the parallel
        // gather path.
        let sys = PoissonSystem::new(Scene::SmokePlume.build(64, 0).unwrap());
        let mg = Multigrid::new(&sys, MultigridParams::default());
        let (fine, coarse) = (&mg.levels[0], &mg.levels[1]);
        let (lf, lc) = (fine.n.pow(3), coarse.n.pow(3));
        let mut r = random(lf, 5);
        let mut xc = random(lc, 6);
        for (v, d) in r.iter_mut().zip(&fine.diag) {
            if *d == 0 {
                *v = 0.0;
            }
        }
        for (v, d) in xc.iter_mut().zip(&coarse.diag) {
            if *d == 0 {
                *v = 0.0;
            }
        }
        let mut rc = vec![0.0; lc];
        Multigrid::restrict(fine, coarse, &mg.gathers[0], &r, &mut rc);
        let mut px = vec![0.0; lf];
        Multigrid::prolong_add(fine, coarse, &mg.axes[0], &xc, &mut px);
        let lhs: f64 = rc.iter().zip(&xc).map(|(a, b)| a * b).sum();
        let rhs: f64 = r.iter().zip(&px).map(|(a, b)| a * b).sum::<f64>() / 8.0;
        assert!(
            (lhs - rhs).abs() <= 1e-12 * rhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn the_vcycle_does_not_depend_on_the_thread_count() {
        let sys = PoissonSystem::new(Scene::SmokePlume.build(64, 0).unwrap());
        let mg = Multigrid::new(&sys, MultigridParams::default());
        let r = random(sys.len(), 7);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut z = vec![0.0; r.len()];
                let mut work = vec![0.0; mg.scratch_len()];
                mg.vcycle(&mut z, &r, &mut work);
                z
            })
        };
        let one = run(1);
        for t in [2, 3] {
            assert!(
                run(t)
                    .iter()
                    .zip(&one)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{t} threads"
            );
        }
    }
}
