//! Modified incomplete Cholesky, MIC(0), built directly on the 7-point
//! stencil: the preconditioner of the fluid-simulation literature
//! (Bridson, *Fluid Simulation for Computer Graphics*, 2nd ed., §5.2.1).
//!
//! Written here rather than taken from faer-precond: faer-precond has IC(0)
//! on general sparse matrices but no modified (diagonal-compensated)
//! variant, and on the stencil the factor is one number per cell, so both
//! the factorisation and the triangular solves run without indices or
//! gathers.
//!
//! With `L = F·E⁻¹ + E` (F the strictly lower part of A, E diagonal), the
//! factorisation visits the fluid cells in index order (x fastest) and sets
//!
//! ```text
//! e_c = A_cc − Σ_{p ∈ {c−1, c−n, c−n²}} (A_pc·ρ_p)²
//!             − τ Σ_p A_pc·(Σ of p's other two "plus" coefficients)·ρ_p²
//! ρ_c = 1/√e_c   (e_c < σ·A_cc → e_c = A_cc)
//! ```
//!
//! τ = 0 is IC(0) (the same factor as faer-precond's on the fluid block,
//! tested); τ = 1 adds every dropped fill-in back to the diagonal so that
//! `M·1 = A·1` row by row (tested); Bridson's τ = 0.97 keeps a margin. σ =
//! 0.25 guards against a tiny pivot. One cell of each singular (pure
//! Neumann) region, its last in the ordering, has its diagonal doubled in M
//! (not in A), as [`crate::Method::Ic0Pcg`] does, so that M is SPD.

use crate::grid::Regions;
use crate::poisson::PoissonSystem;
use crate::{Error, Result};

/// MIC(0) parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicParams {
    /// The share of the dropped fill-in added back to the diagonal (0: IC(0);
    /// 1: full row-sum compensation). Default 0.97.
    pub tau: f64,
    /// Safety: a pivot below `σ·A_cc` is replaced by `A_cc`. Default 0.25.
    pub sigma: f64,
}

impl Default for MicParams {
    fn default() -> Self {
        Self {
            tau: 0.97,
            sigma: 0.25,
        }
    }
}

impl MicParams {
    /// Rejects `τ ∉ [0, 1]` and `σ ∉ [0, 1]` (and NaN).
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::in_range("tau", self.tau, 0.0, 1.0)?;
        linalg_core::param::in_range("sigma", self.sigma, 0.0, 1.0)?;
        Ok(())
    }
}

/// The MIC(0) factor of a Poisson system: `ρ_c = 1/√e_c` per cell (0 off
/// the fluid).
#[derive(Debug, Clone)]
pub struct Mic0 {
    n: usize,
    /// `1/√e_c` on fluid cells, 0 elsewhere.
    rho: Vec<f64>,
    /// The stencil's neighbour bits (bit 1: +x, 3: +y, 5: +z is fluid).
    mask: Vec<u8>,
    /// The off-diagonal coefficient (`−scale`).
    off: f64,
}

/// Bits of the stencil mask: −x, +x, −y, +y, −z, +z.
const MX: u8 = 1;
const PX: u8 = 1 << 1;
const MY: u8 = 1 << 2;
const PY: u8 = 1 << 3;
const MZ: u8 = 1 << 4;
const PZ: u8 = 1 << 5;

impl Mic0 {
    /// Factors `system` (one pass over the cells, O(n³)).
    pub fn new(system: &PoissonSystem, params: MicParams) -> Result<Self> {
        params.validate()?;
        let st = system.stencil();
        let n = st.n;
        let (n2, len) = (n * n, system.len());
        let scale = st.scale;
        let off = -scale;
        let regions: &Regions = system.regions();
        // The pinned cell of each singular region: its last fluid cell.
        let mut pin = vec![usize::MAX; regions.count()];
        for c in 0..len {
            let r = regions.id[c];
            if r != u32::MAX && regions.singular[r as usize] {
                pin[r as usize] = c;
            }
        }
        let plus = |c: usize, bit: u8| if st.mask[c] & bit != 0 { off } else { 0.0 };
        let mut rho = vec![0.0f64; len];
        for c in 0..len {
            let r = regions.id[c];
            if r == u32::MAX {
                continue;
            }
            if st.diag[c] == 0 {
                // A fluid cell walled in on all six sides: its own region.
                rho[c] = 1.0 / scale.sqrt();
                continue;
            }
            let mut a = scale * f64::from(st.diag[c]);
            if pin[r as usize] == c {
                a *= 2.0;
            }
            let m = st.mask[c];
            let mut e = a;
            if m & MX != 0 {
                let p = c - 1;
                let t = off * rho[p];
                e -= t * t + params.tau * off * (plus(p, PY) + plus(p, PZ)) * rho[p] * rho[p];
            }
            if m & MY != 0 {
                let p = c - n;
                let t = off * rho[p];
                e -= t * t + params.tau * off * (plus(p, PX) + plus(p, PZ)) * rho[p] * rho[p];
            }
            if m & MZ != 0 {
                let p = c - n2;
                let t = off * rho[p];
                e -= t * t + params.tau * off * (plus(p, PX) + plus(p, PY)) * rho[p] * rho[p];
            }
            if e < params.sigma * a || !e.is_finite() {
                e = a;
            }
            rho[c] = 1.0 / e.sqrt();
        }
        if rho.iter().any(|v| !v.is_finite()) {
            return Err(Error::Numerical(
                "MIC(0) produced a non-finite pivot".into(),
            ));
        }
        Ok(Self {
            n,
            rho,
            mask: st.mask.clone(),
            off,
        })
    }

    /// `z = M⁻¹ r` (`M = L Lᵀ`), then projected like the system's vectors
    /// (zero off the fluid, zero mean on singular regions).
    pub fn apply(&self, z: &mut [f64], r: &[f64], system: &PoissonSystem) {
        let (n, n2) = (self.n, self.n * self.n);
        let (rho, mask, off) = (&self.rho, &self.mask, self.off);
        // Forward: L q = r, with q kept in z.
        for c in 0..rho.len() {
            if rho[c] == 0.0 {
                z[c] = 0.0;
                continue;
            }
            let m = mask[c];
            let mut t = r[c];
            if m & MX != 0 {
                t -= off * rho[c - 1] * z[c - 1];
            }
            if m & MY != 0 {
                t -= off * rho[c - n] * z[c - n];
            }
            if m & MZ != 0 {
                t -= off * rho[c - n2] * z[c - n2];
            }
            z[c] = t * rho[c];
        }
        // Backward: Lᵀ z = q, in place.
        for c in (0..rho.len()).rev() {
            if rho[c] == 0.0 {
                continue;
            }
            let m = mask[c];
            let mut t = z[c];
            if m & PX != 0 {
                t -= off * rho[c] * z[c + 1];
            }
            if m & PY != 0 {
                t -= off * rho[c] * z[c + n];
            }
            if m & PZ != 0 {
                t -= off * rho[c] * z[c + n2];
            }
            z[c] = t * rho[c];
        }
        system.regions().project(z);
    }

    /// `M x = L Lᵀ x` (without projection), for tests.
    pub fn apply_m(&self, x: &[f64]) -> Vec<f64> {
        let (n, n2) = (self.n, self.n * self.n);
        let (rho, mask, off) = (&self.rho, &self.mask, self.off);
        // L = F·E⁻¹ + E with E = diag(1/ρ): y = Lᵀ x, then L y.
        let len = rho.len();
        let mut y = vec![0.0; len];
        for c in 0..len {
            if rho[c] == 0.0 {
                continue;
            }
            let m = mask[c];
            let mut t = x[c] / rho[c];
            if m & PX != 0 {
                t += off * rho[c] * x[c + 1];
            }
            if m & PY != 0 {
                t += off * rho[c] * x[c + n];
            }
            if m & PZ != 0 {
                t += off * rho[c] * x[c + n2];
            }
            y[c] = t;
        }
        let mut out = vec![0.0; len];
        for c in 0..len {
            if rho[c] == 0.0 {
                continue;
            }
            let m = mask[c];
            let mut t = y[c] / rho[c];
            if m & MX != 0 {
                t += off * rho[c - 1] * y[c - 1];
            }
            if m & MY != 0 {
                t += off * rho[c - n] * y[c - n];
            }
            if m & MZ != 0 {
                t += off * rho[c - n2] * y[c - n2];
            }
            out[c] = t;
        }
        out
    }
}
