//! Cell grids, the built-in fluid scenes, and connected fluid regions.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use linalg_core::ParamError;

use crate::{Error, Result};

/// The kind of a grid cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// An unknown pressure.
    Fluid,
    /// A wall or obstacle: homogeneous Neumann (the face drops out of the stencil).
    Solid,
    /// Free surface: Dirichlet `p = 0`.
    Air,
}

/// Largest supported grid (512³ cells ≈ 1.3 GB per f64 vector).
pub const MAX_GRID: usize = 512;

/// Checks that `n` is a supported grid size: a power of two in `4..=512`
/// (multigrid halves the grid down to 4³).
pub fn check_grid_size(n: usize) -> Result<()> {
    if n < 4 {
        return Err(Error::GridSize {
            n,
            reason: "the grid must be at least 4 cells wide".into(),
        });
    }
    if !n.is_power_of_two() {
        return Err(Error::GridSize {
            n,
            reason: "the grid must be a power of two (multigrid halves it down to 4³)".into(),
        });
    }
    if n > MAX_GRID {
        return Err(Error::GridSize {
            n,
            reason: format!("the largest supported grid is {MAX_GRID}"),
        });
    }
    Ok(())
}

/// An `n × n × n` cell grid; cells outside it count as `exterior`.
///
/// Cell `(i, j, k)` has linear index `i + n·(j + n·k)` (x fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    n: usize,
    cells: Vec<CellKind>,
    exterior: CellKind,
}

impl Grid {
    /// A grid from explicit cells (`n³` of them, x fastest).
    pub fn new(n: usize, cells: Vec<CellKind>, exterior: CellKind) -> Result<Self> {
        if n == 0 || cells.len() != n * n * n {
            return Err(Error::Core(linalg_core::Error::DimensionMismatch {
                context: "grid cells (n³)",
                expected: n * n * n,
                found: cells.len(),
            }));
        }
        if exterior == CellKind::Fluid {
            return Err(Error::Param(ParamError::new(
                "exterior",
                "the outside of the grid must be Solid or Air",
            )));
        }
        Ok(Self { n, cells, exterior })
    }

    /// Cells per side.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Total number of cells `n³` (the length of every vector on this grid).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the grid has no cells (never true for a constructed grid).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The kind of every cell, x fastest.
    pub fn cells(&self) -> &[CellKind] {
        &self.cells
    }

    /// The kind assumed outside the grid.
    pub fn exterior(&self) -> CellKind {
        self.exterior
    }

    /// Linear index of cell `(i, j, k)`.
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.n * (j + self.n * k)
    }

    /// The kind of the neighbour of `(i, j, k)` in direction `d` (0: −x, 1: +x,
    /// 2: −y, 3: +y, 4: −z, 5: +z); `exterior` outside the grid.
    #[inline]
    pub fn neighbour(&self, i: usize, j: usize, k: usize, d: usize) -> (CellKind, Option<usize>) {
        let n = self.n;
        let (ii, jj, kk) = (i as isize, j as isize, k as isize);
        let (a, b, c) = match d {
            0 => (ii - 1, jj, kk),
            1 => (ii + 1, jj, kk),
            2 => (ii, jj - 1, kk),
            3 => (ii, jj + 1, kk),
            4 => (ii, jj, kk - 1),
            _ => (ii, jj, kk + 1),
        };
        let inside = |v: isize| v >= 0 && (v as usize) < n;
        if inside(a) && inside(b) && inside(c) {
            let idx = self.index(a as usize, b as usize, c as usize);
            (self.cells[idx], Some(idx))
        } else {
            (self.exterior, None)
        }
    }

    /// Number of fluid cells.
    pub fn fluid_count(&self) -> usize {
        self.cells.iter().filter(|c| **c == CellKind::Fluid).count()
    }
}

/// The built-in scenes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scene {
    /// Every cell fluid, AIR outside: the standard 7-point Dirichlet Poisson matrix.
    Box,
    /// A closed box of SOLID walls filled with fluid: pure Neumann, singular.
    SmokePlume,
    /// A closed box with a solid sphere obstacle (seeded centre): pure Neumann.
    Sphere,
    /// A closed box with seeded random solid blobs (a "bunny"-like obstacle):
    /// pure Neumann, possibly several fluid regions.
    Bunny,
    /// SOLID walls and floor, an open AIR top layer, a seeded solid obstacle:
    /// non-singular.
    Mixed,
}

impl Scene {
    /// Every scene, in the order of [`Scene::NAMES`].
    pub const ALL: [Scene; 5] = [
        Scene::Box,
        Scene::SmokePlume,
        Scene::Sphere,
        Scene::Bunny,
        Scene::Mixed,
    ];
    /// Command-line names.
    pub const NAMES: [&'static str; 5] = ["box", "smoke-plume", "sphere", "bunny", "mixed"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|s| *s == self).unwrap_or(0)]
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Result<Scene> {
        Ok(Self::ALL[linalg_core::param::one_of("scene", name, &Self::NAMES)?])
    }

    /// Builds the scene on an `n³` grid; `seed` places the obstacles.
    pub fn build(self, n: usize, seed: u64) -> Result<Grid> {
        check_grid_size(n)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let idx = |i: usize, j: usize, k: usize| i + n * (j + n * k);
        let wall = |i: usize, j: usize, k: usize| {
            i == 0 || j == 0 || k == 0 || i == n - 1 || j == n - 1 || k == n - 1
        };
        let mut cells = vec![CellKind::Fluid; n * n * n];
        let solid_ball = |cells: &mut Vec<CellKind>, c: [f64; 3], r: f64| {
            for k in 0..n {
                for j in 0..n {
                    for i in 0..n {
                        let p = [i as f64 + 0.5, j as f64 + 0.5, k as f64 + 0.5];
                        let d2: f64 = (0..3).map(|a| (p[a] - c[a]).powi(2)).sum();
                        if d2 <= r * r {
                            cells[idx(i, j, k)] = CellKind::Solid;
                        }
                    }
                }
            }
        };
        let nf = n as f64;
        let exterior = match self {
            Scene::Box => CellKind::Air,
            _ => CellKind::Solid,
        };
        if self != Scene::Box {
            for k in 0..n {
                for j in 0..n {
                    for i in 0..n {
                        if wall(i, j, k) {
                            cells[idx(i, j, k)] = CellKind::Solid;
                        }
                    }
                }
            }
        }
        match self {
            Scene::Box | Scene::SmokePlume => {}
            Scene::Sphere => {
                let c = [0.0; 3].map(|_| nf / 2.0 + rng.random_range(-0.08..0.08) * nf);
                solid_ball(&mut cells, c, 0.2 * nf);
            }
            Scene::Bunny => {
                // A body, a head and two ears, jittered by the seed.
                let jit = |rng: &mut StdRng| rng.random_range(-0.04..0.04) * nf;
                let parts = [
                    ([0.5, 0.42, 0.35], 0.20),
                    ([0.5, 0.62, 0.55], 0.12),
                    ([0.44, 0.66, 0.72], 0.06),
                    ([0.56, 0.66, 0.72], 0.06),
                ];
                for (c, r) in parts {
                    let centre = [
                        c[0] * nf + jit(&mut rng),
                        c[1] * nf + jit(&mut rng),
                        c[2] * nf + jit(&mut rng),
                    ];
                    solid_ball(&mut cells, centre, r * nf);
                }
            }
            Scene::Mixed => {
                for j in 1..n - 1 {
                    for i in 1..n - 1 {
                        cells[idx(i, j, n - 1)] = CellKind::Air;
                    }
                }
                let c = [
                    nf / 2.0 + rng.random_range(-0.1..0.1) * nf,
                    nf / 2.0,
                    0.3 * nf,
                ];
                solid_ball(&mut cells, c, 0.15 * nf);
            }
        }
        Grid::new(n, cells, exterior)
    }
}

/// The fixed number of blocks [`Regions::project`] splits a vector into.
pub const PROJECT_BLOCKS: usize = 64;

/// Connected fluid regions (6-connectivity through fluid cells).
///
/// A region that touches no AIR cell (inside the grid or as the exterior) is
/// pure Neumann: the Poisson matrix restricted to it is singular with the
/// constant vector as null space. The gauge fixed throughout the crate is
/// **zero mean over each singular region**.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions {
    /// Region of each cell (`u32::MAX` for non-fluid cells).
    pub id: Vec<u32>,
    /// Cells in each region.
    pub sizes: Vec<usize>,
    /// Whether each region is singular (touches no AIR).
    pub singular: Vec<bool>,
}

impl Regions {
    /// Labels the fluid cells of `grid` by breadth-first search.
    pub fn find(grid: &Grid) -> Regions {
        let n = grid.n();
        let mut id = vec![u32::MAX; grid.len()];
        let mut sizes = Vec::new();
        let mut singular = Vec::new();
        let mut queue = Vec::new();
        for start in 0..grid.len() {
            if grid.cells()[start] != CellKind::Fluid || id[start] != u32::MAX {
                continue;
            }
            let r = sizes.len() as u32;
            let (mut size, mut touches_air) = (0usize, false);
            id[start] = r;
            queue.clear();
            queue.push(start);
            while let Some(c) = queue.pop() {
                size += 1;
                let (i, j, k) = (c % n, (c / n) % n, c / (n * n));
                for d in 0..6 {
                    match grid.neighbour(i, j, k, d) {
                        (CellKind::Air, _) => touches_air = true,
                        (CellKind::Fluid, Some(nb)) if id[nb] == u32::MAX => {
                            id[nb] = r;
                            queue.push(nb);
                        }
                        _ => {}
                    }
                }
            }
            sizes.push(size);
            singular.push(!touches_air);
        }
        Regions {
            id,
            sizes,
            singular,
        }
    }

    /// Number of regions.
    pub fn count(&self) -> usize {
        self.sizes.len()
    }

    /// Whether any region is singular.
    pub fn any_singular(&self) -> bool {
        self.singular.iter().any(|s| *s)
    }

    /// Projects `v` onto the range of the Poisson matrix: zero on non-fluid
    /// cells and zero mean over each singular region. Returns `‖v − Πv‖`.
    ///
    /// Called in every (P)CG and DCDM iteration and twice per V-cycle, so
    /// both passes run in parallel over a fixed number of blocks
    /// ([`PROJECT_BLOCKS`]): the partial sums are combined in block order,
    /// so the result does not depend on the thread count.
    pub fn project(&self, v: &mut [f64]) -> f64 {
        use rayon::prelude::*;
        // The per-block sums live on the stack for up to ON_STACK regions
        // (every built-in scene but a bunny with sealed pockets), so the
        // common case allocates nothing.
        const ON_STACK: usize = 8;
        let r = self.count();
        let width = r + 1;
        let mut stack_sums = [0.0; PROJECT_BLOCKS * (ON_STACK + 1)];
        let mut stack_means = [0.0; ON_STACK];
        let (mut heap_sums, mut heap_means) = (Vec::new(), Vec::new());
        let (sums, means): (&mut [f64], &mut [f64]) = if r <= ON_STACK {
            (
                &mut stack_sums[..PROJECT_BLOCKS * width],
                &mut stack_means[..r],
            )
        } else {
            heap_sums.resize(PROJECT_BLOCKS * width, 0.0);
            heap_means.resize(r, 0.0);
            (&mut heap_sums, &mut heap_means)
        };
        let block = v.len().div_ceil(PROJECT_BLOCKS).max(1);
        // Per block: the region sums, then the squared norm removed on
        // non-fluid cells (r + 1 numbers).
        v.par_chunks_mut(block)
            .zip(self.id.par_chunks(block))
            .zip(sums.par_chunks_mut(width))
            .for_each(|((vs, ids), acc)| {
                for (x, &id) in vs.iter_mut().zip(ids) {
                    match id {
                        u32::MAX => {
                            acc[r] += *x * *x;
                            *x = 0.0;
                        }
                        k => acc[k as usize] += *x,
                    }
                }
            });
        let mut removed2 = 0.0;
        for acc in sums.chunks(width) {
            for (m, a) in means.iter_mut().zip(acc) {
                *m += a;
            }
            removed2 += acc[r];
        }
        // Sums → means on singular regions, 0 elsewhere (nothing removed).
        for ((m, n), sing) in means.iter_mut().zip(&self.sizes).zip(&self.singular) {
            *m = if *sing { *m / *n as f64 } else { 0.0 };
        }
        if means.iter().any(|m| *m != 0.0) {
            let means = &*means;
            v.par_chunks_mut(block)
                .zip(self.id.par_chunks(block))
                .for_each(|(vs, ids)| {
                    for (x, &id) in vs.iter_mut().zip(ids) {
                        if let Some(m) = means.get(id as usize) {
                            *x -= m;
                        }
                    }
                });
        }
        removed2 += means
            .iter()
            .zip(&self.sizes)
            .map(|(m, n)| m * m * *n as f64)
            .sum::<f64>();
        removed2.sqrt()
    }
}
