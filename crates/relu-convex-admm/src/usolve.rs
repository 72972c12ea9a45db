//! The u-system of ADMM, `A u = b` with `A = I + (1/κ)FᵀF + GᵀG`
//! (`κ = ρ` for the squared loss, `ρ/ρ_r` when the loss is split off), by
//! the matrix-inversion lemma or by one dense Cholesky.
//!
//! `GᵀG = blkdiag(XᵀX)`, so `B = I + GᵀG` needs one `d × d` Cholesky, and
//! `A⁻¹ = B⁻¹ − B⁻¹Fᵀ(κI + FB⁻¹Fᵀ)⁻¹FB⁻¹` with `FB⁻¹Fᵀ = 2S ⊙ (DDᵀ)`, `S =
//! X(I + XᵀX)⁻¹Xᵀ`: one `n × n` Cholesky, refactored only when κ changes.
//! Memory: `2n²` numbers (`S ⊙ DDᵀ` and the factor). The dense form holds
//! `FᵀF` and the factor of `A`: `2(2dP)²` numbers, independent of `n`.

use linalg_core::Work;
use linalg_core::faer::linalg::solvers::{Llt, Solve};
use linalg_core::faer::{Col, Mat, MatRef, Side};

use crate::{Error, Result};

/// The largest `n` of the Woodbury path (two dense `n × n` arrays).
pub const MAX_SAMPLES: usize = 8000;

/// The u-system `A u = b` by the matrix-inversion lemma.
pub(crate) struct Woodbury {
    /// Cholesky of `I + XᵀX` (`d × d`).
    m: Llt<f64>,
    /// `S ⊙ (DDᵀ)` (`n × n`), kept to refactor `ρI + 2·this` when ρ changes.
    sdd: Mat<f64>,
    /// Cholesky of `ρI + 2S ⊙ (DDᵀ)`.
    k: Llt<f64>,
}

impl Woodbury {
    fn new(x: MatRef<'_, f64>, masks: MatRef<'_, f64>, rho: f64) -> Result<Self> {
        let d = x.ncols();
        let mut b = x.transpose() * x;
        for i in 0..d {
            b[(i, i)] += 1.0;
        }
        let m = b
            .llt(Side::Lower)
            .map_err(|_| Error::Factorisation("I + XᵀX"))?;
        let mxt = m.solve(x.transpose());
        let s = x * &mxt;
        let ddt = masks * masks.transpose();
        let n = x.nrows();
        let sdd = Mat::from_fn(n, n, |i, j| s[(i, j)] * ddt[(i, j)]);
        let k = Self::factor(&sdd, rho)?;
        Ok(Self { m, sdd, k })
    }

    fn factor(sdd: &Mat<f64>, rho: f64) -> Result<Llt<f64>> {
        let n = sdd.nrows();
        let kmat = Mat::from_fn(n, n, |i, j| {
            2.0 * sdd[(i, j)] + if i == j { rho } else { 0.0 }
        });
        kmat.llt(Side::Lower)
            .map_err(|_| Error::Factorisation("ρI + 2S ⊙ DDᵀ"))
    }

    /// `(U, Z) = A⁻¹(bv, bw)` (all `d × P`).
    fn solve(
        &self,
        x: MatRef<'_, f64>,
        masks: MatRef<'_, f64>,
        bv: &Mat<f64>,
        bw: &Mat<f64>,
        work: &mut Work,
    ) -> (Mat<f64>, Mat<f64>) {
        let tv = self.m.solve(bv);
        let tw = self.m.solve(bw);
        let xt = x * (&tv - &tw);
        let n = x.nrows();
        let r = Col::from_fn(n, |i| {
            (0..masks.ncols())
                .map(|k| masks[(i, k)] * xt[(i, k)])
                .sum::<f64>()
        });
        let q = self.k.solve(&r);
        let dq = Mat::from_fn(n, masks.ncols(), |i, k| masks[(i, k)] * q[i]);
        let c = self.m.solve(x.transpose() * dq);
        work.matvecs += 2 * masks.ncols();
        (&tv - &c, &tw + &c)
    }
}

/// The u-system by one dense Cholesky of `A = I + (1/ρ)FᵀF + GᵀG`
/// (`2dP × 2dP`): the oracle for the Woodbury form, and the path for many
/// samples and few patterns (its memory does not grow with `n`).
pub(crate) struct Dense {
    /// `FᵀF` (`2dP × 2dP`).
    ftf: Mat<f64>,
    /// `XᵀX` (`d × d`): the diagonal blocks of `GᵀG`.
    xtx: Mat<f64>,
    a: Llt<f64>,
}

impl Dense {
    fn new(x: MatRef<'_, f64>, masks: MatRef<'_, f64>, rho: f64) -> Result<Self> {
        let (n, d, p) = (x.nrows(), x.ncols(), masks.ncols());
        // F = [D₁X … D_PX, −D₁X … −D_PX] (n × 2dP).
        let f = Mat::from_fn(n, 2 * d * p, |i, c| {
            let (blk, j) = (c / d, c % d);
            let (k, sign) = if blk < p { (blk, 1.0) } else { (blk - p, -1.0) };
            sign * masks[(i, k)] * x[(i, j)]
        });
        let ftf = f.transpose() * &f;
        let xtx = x.transpose() * x;
        let a = Self::factor(&ftf, &xtx, d, rho)?;
        Ok(Self { ftf, xtx, a })
    }

    fn factor(ftf: &Mat<f64>, xtx: &Mat<f64>, d: usize, rho: f64) -> Result<Llt<f64>> {
        let m = ftf.nrows();
        let a = Mat::from_fn(m, m, |r, c| {
            let g = if r / d == c / d {
                xtx[(r % d, c % d)]
            } else {
                0.0
            };
            ftf[(r, c)] / rho + g + if r == c { 1.0 } else { 0.0 }
        });
        a.llt(Side::Lower)
            .map_err(|_| Error::Factorisation("I + FᵀF/ρ + GᵀG"))
    }

    fn solve(&self, bv: &Mat<f64>, bw: &Mat<f64>) -> (Mat<f64>, Mat<f64>) {
        let (d, p) = (bv.nrows(), bv.ncols());
        let b = Col::from_fn(2 * d * p, |i| {
            let (blk, j) = (i / d, i % d);
            if blk < p {
                bv[(j, blk)]
            } else {
                bw[(j, blk - p)]
            }
        });
        let u = self.a.solve(&b);
        (
            Mat::from_fn(d, p, |j, k| u[k * d + j]),
            Mat::from_fn(d, p, |j, k| u[(p + k) * d + j]),
        )
    }
}

/// How the u-system is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum USolver {
    /// The smaller of the two in memory: dense when `(2dP)² < 2n²`.
    Auto,
    /// The matrix-inversion lemma: `2n²` numbers (`n ≤ MAX_SAMPLES`).
    Woodbury,
    /// One dense Cholesky of `A`: `2(2dP)²` numbers (`2dP ≤ MAX_DENSE`).
    Dense,
}

/// The largest `2dP` of the dense path (two `2dP × 2dP` arrays).
pub const MAX_DENSE: usize = 6000;

pub(crate) enum USystem {
    Woodbury(Woodbury),
    Dense(Dense),
}

impl USystem {
    pub(crate) fn new(
        kind: USolver,
        x: MatRef<'_, f64>,
        masks: MatRef<'_, f64>,
        rho: f64,
    ) -> Result<Self> {
        let (n, m) = (x.nrows(), 2 * x.ncols() * masks.ncols());
        let dense = match kind {
            USolver::Dense => true,
            USolver::Woodbury => false,
            USolver::Auto => (m * m < 2 * n * n && m <= MAX_DENSE) || n > MAX_SAMPLES,
        };
        if dense {
            linalg_core::param::in_range("2dP (dense u-solver)", m as f64, 1.0, MAX_DENSE as f64)?;
            Ok(USystem::Dense(Dense::new(x, masks, rho)?))
        } else {
            linalg_core::param::in_range(
                "samples (Woodbury u-solver)",
                n as f64,
                1.0,
                MAX_SAMPLES as f64,
            )?;
            Ok(USystem::Woodbury(Woodbury::new(x, masks, rho)?))
        }
    }

    pub(crate) fn refactor(&mut self, d: usize, rho: f64) -> Result<()> {
        match self {
            USystem::Woodbury(w) => w.k = Woodbury::factor(&w.sdd, rho)?,
            USystem::Dense(dn) => dn.a = Dense::factor(&dn.ftf, &dn.xtx, d, rho)?,
        }
        Ok(())
    }

    pub(crate) fn solve(
        &self,
        x: MatRef<'_, f64>,
        masks: MatRef<'_, f64>,
        bv: &Mat<f64>,
        bw: &Mat<f64>,
        work: &mut Work,
    ) -> (Mat<f64>, Mat<f64>) {
        match self {
            USystem::Woodbury(w) => w.solve(x, masks, bv, bw, work),
            USystem::Dense(dn) => dn.solve(bv, bw),
        }
    }

    pub(crate) fn kind(&self) -> USolver {
        match self {
            USystem::Woodbury(_) => USolver::Woodbury,
            USystem::Dense(_) => USolver::Dense,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::Patterns;

    #[test]
    fn the_woodbury_u_solve_matches_a_dense_solve_of_the_full_system() {
        // A = I + (1/ρ)FᵀF + GᵀG assembled densely (2dP × 2dP) for a tiny
        // program, against USolver on random right-hand sides.
        let (n, d) = (9, 3);
        let x = Mat::from_fn(n, d, |i, j| ((i * 5 + j * 7) % 13) as f64 / 6.0 - 1.0);
        let h = Mat::from_fn(d, 4, |i, j| ((i + 2 * j) % 5) as f64 - 2.0 + 0.1 * j as f64);
        let pat = Patterns::from_generators(x.as_ref(), h.as_ref()).unwrap();
        let p = pat.len();
        let m = pat.masks.as_ref();
        let rho = 3.0;
        let dim = 2 * d * p;
        // F = [D₁X … D_PX, −D₁X … −D_PX];  G = blkdiag(EᵢX, EᵢX).
        let f = Mat::from_fn(n, dim, |i, c| {
            let (blk, j) = (c / d, c % d);
            let (k, sign) = if blk < p { (blk, 1.0) } else { (blk - p, -1.0) };
            sign * m[(i, k)] * x[(i, j)]
        });
        let g = Mat::from_fn(2 * n * p, dim, |r, c| {
            let (rb, i) = (r / n, r % n);
            let (cb, j) = (c / d, c % d);
            if rb != cb {
                return 0.0;
            }
            let k = if rb < p { rb } else { rb - p };
            (2.0 * m[(i, k)] - 1.0) * x[(i, j)]
        });
        let mut a = f.transpose() * &f * (1.0 / rho) + g.transpose() * &g;
        for i in 0..dim {
            a[(i, i)] += 1.0;
        }
        let b = Col::from_fn(dim, |i| ((i * 3) % 7) as f64 - 3.0);
        let dense = a.llt(Side::Lower).unwrap().solve(&b);
        let solver = Woodbury::new(x.as_ref(), m, rho).unwrap();
        let bv = Mat::from_fn(d, p, |j, k| b[k * d + j]);
        let bw = Mat::from_fn(d, p, |j, k| b[(p + k) * d + j]);
        let (u, z) = solver.solve(x.as_ref(), m, &bv, &bw, &mut Work::default());
        let ours = Col::from_fn(dim, |i| {
            let (blk, j) = (i / d, i % d);
            if blk < p {
                u[(j, blk)]
            } else {
                z[(j, blk - p)]
            }
        });
        assert!(
            (&ours - &dense).norm_l2() < 1e-12 * dense.norm_l2(),
            "{:e}",
            (&ours - &dense).norm_l2()
        );
    }
}
