//! The u-system of ADMM, `A u = b` with `A = I + (1/κ)FᵀF + GᵀG`
//! (`κ = ρ` for the squared loss, `ρ/ρ_r` when the loss is split off), by
//! the matrix-inversion lemma or by one dense Cholesky.
//!
//! `GᵀG = blkdiag(XᵀX)`, so `B = I + GᵀG` needs one `d × d` Cholesky, and
//! `A⁻¹ = B⁻¹ − B⁻¹Fᵀ(κI + FB⁻¹Fᵀ)⁻¹FB⁻¹` with `FB⁻¹Fᵀ = 2S ⊙ (DDᵀ)`, `S =
//! X(I + XᵀX)⁻¹Xᵀ`: one `n × n` Cholesky, refactored only when κ changes.
//! Memory: `2n²` numbers (`S ⊙ DDᵀ` and the factor). The dense form holds
//! `FᵀF` and the factor of `A`: `2(2dP)²` numbers, independent of `n`.

use linalg_core::faer::linalg::matmul::matmul;
use linalg_core::faer::linalg::solvers::{Llt, Solve};
use linalg_core::faer::{Accum, Col, Mat, MatRef, Par, Side};

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
}

impl Woodbury {
    /// `U = A⁻¹B` for `B, U` of `d × 2P` (the v-blocks, then the w-blocks),
    /// in the caller's buffers: no allocation of `d × P` or `n × P` arrays.
    fn solve_into(
        &self,
        x: MatRef<'_, f64>,
        masks: MatRef<'_, f64>,
        b: &Mat<f64>,
        u: &mut Mat<f64>,
        sc: &mut Scratch,
        par: Par,
    ) {
        let (n, p) = (x.nrows(), masks.ncols());
        u.copy_from(b);
        self.m.solve_in_place(u.as_mut());
        for k in 0..p {
            let (uv, uw) = (u.col_as_slice(k), u.col_as_slice(p + k));
            for (t, (a, c)) in sc
                .diff
                .col_as_slice_mut(k)
                .iter_mut()
                .zip(uv.iter().zip(uw))
            {
                *t = a - c;
            }
        }
        matmul(
            sc.xt.as_mut(),
            Accum::Replace,
            x,
            sc.diff.as_ref(),
            1.0,
            par,
        );
        sc.r.fill(0.0);
        for k in 0..p {
            let (m, xt) = (masks.col(k), sc.xt.col_as_slice(k));
            for i in 0..n {
                sc.r[i] += m[i] * xt[i];
            }
        }
        self.k.solve_in_place(sc.r.as_mat_mut());
        for k in 0..p {
            let m = masks.col(k);
            let dq = sc.dq.col_as_slice_mut(k);
            for i in 0..n {
                dq[i] = m[i] * sc.r[i];
            }
        }
        matmul(
            sc.c.as_mut(),
            Accum::Replace,
            x.transpose(),
            sc.dq.as_ref(),
            1.0,
            par,
        );
        self.m.solve_in_place(sc.c.as_mut());
        for k in 0..p {
            let c = sc.c.col_as_slice(k);
            for (a, ci) in u.col_as_slice_mut(k).iter_mut().zip(c) {
                *a -= ci;
            }
            for (a, ci) in u.col_as_slice_mut(p + k).iter_mut().zip(c) {
                *a += ci;
            }
        }
    }
}

/// Buffers of the Woodbury solve (`d × P`, `n × P`, `n`).
pub(crate) struct Scratch {
    diff: Mat<f64>,
    xt: Mat<f64>,
    r: Col<f64>,
    dq: Mat<f64>,
    c: Mat<f64>,
}

impl Scratch {
    pub(crate) fn new(n: usize, d: usize, p: usize) -> Self {
        Self {
            diff: Mat::zeros(d, p),
            xt: Mat::zeros(n, p),
            r: Col::zeros(n),
            dq: Mat::zeros(n, p),
            c: Mat::zeros(d, p),
        }
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

    /// `U = A⁻¹B` with `B, U` of `d × 2P` (v-blocks, then w-blocks);
    /// returns the number of products with `X` or `Xᵀ` (per column).
    pub(crate) fn solve_into(
        &self,
        x: MatRef<'_, f64>,
        masks: MatRef<'_, f64>,
        b: &Mat<f64>,
        u: &mut Mat<f64>,
        sc: &mut Scratch,
        par: Par,
    ) -> usize {
        let p = masks.ncols();
        match self {
            USystem::Woodbury(w) => {
                w.solve_into(x, masks, b, u, sc, par);
                2 * p
            }
            USystem::Dense(dn) => {
                let bv = b.subcols(0, p).to_owned();
                let bw = b.subcols(p, p).to_owned();
                let (uv, uw) = dn.solve(&bv, &bw);
                u.subcols_mut(0, p).copy_from(&uv);
                u.subcols_mut(p, p).copy_from(&uw);
                0
            }
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
        // B and U are d × 2P: column k < P the v-block of pattern k, P + k its w-block.
        let bm = Mat::from_fn(d, 2 * p, |j, k| b[k * d + j]);
        let mut um = Mat::zeros(d, 2 * p);
        let mut sc = Scratch::new(n, d, p);
        solver.solve_into(x.as_ref(), m, &bm, &mut um, &mut sc, Par::Seq);
        let ours = Col::from_fn(dim, |i| um[(i % d, i / d)]);
        assert!(
            (&ours - &dense).norm_l2() < 1e-12 * dense.norm_l2(),
            "{:e}",
            (&ours - &dense).norm_l2()
        );
    }
}
