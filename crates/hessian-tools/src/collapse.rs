//! Neural-collapse metrics (Papyan, Han, Donoho 2020; Han, Papyan, Donoho
//! 2022; Tirer, Bruna, Giryes 2022; Galanti et al. 2022) of last-layer
//! features `hᵢ ∈ ℝᵖ` with labels in `0..K` and an optional linear
//! classifier `(W, b)`, `W: K × p`, accumulated batch by batch.
//!
//! ```text
//! μ_c = class means,  μ_G = global mean,  M̃ = [μ_c − μ_G]_c  (p × K)
//! Σ_W = (1/N) Σᵢ (hᵢ − μ_{yᵢ})(hᵢ − μ_{yᵢ})ᵀ,   Σ_B = (1/K) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ
//! NC1  papyan   = tr(Σ_W Σ_B⁺)/K     (pseudo-inverse at numerical rank, rtol 1e-10)
//!      han      = tr(Σ_W Σ_B⁺)/K     (pseudo-inverse of the top K − 1 eigenpairs)
//!      quotient = tr Σ_W / tr Σ_B
//! NC2  equinorm = std_c ‖μ_c − μ_G‖ / mean_c ‖μ_c − μ_G‖   (and for the rows of W)
//!      equiangularity = std_{c≠c'} cos(μ̃_c, μ̃_c')
//!      max_angle = mean_{c≠c'} |cos(μ̃_c, μ̃_c') + 1/(K − 1)|
//! NC3  ‖Wᵀ/‖W‖_F − M̃/‖M̃‖_F‖_F²
//! NC4  fraction of samples with argmax_c (Wh + b)_c ≠ argmin_c ‖h − μ_c‖
//! CDNV mean over c ≠ c' of (Var_c + Var_c') / (2‖μ_c − μ_c'‖²),  Var_c = mean ‖h − μ_c‖²
//! ```
//!
//! Streaming: [`Collapse::add`] accumulates per-class counts and sums,
//! per-class sums of `‖h‖²` and the total `Σ hhᵀ` (so
//! `Σ_W = (Σ hhᵀ − Σ_c n_c μ_c μ_cᵀ)/N`); [`Collapse::finish`] computes
//! NC1–NC3 and CDNV; NC4 needs the class means, so it is a second pass
//! ([`Collapse::ncc_mismatch`]) over the same batches. [`collapse`] does
//! both on data in memory. Classes without samples are refused.

use linalg_core::ParamError;
use linalg_core::faer::{Col, Mat, MatRef, Side};

use crate::Result;

/// The metrics (see the module notes); classifier metrics are `None`
/// without a classifier.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CollapseMetrics {
    /// Papyan's NC1 (`tr(Σ_W Σ_B⁺)/K`, numerical-rank pseudo-inverse).
    pub nc1_papyan: f64,
    /// Han's NC1 (top-`(K − 1)` pseudo-inverse).
    pub nc1_han: f64,
    /// `tr Σ_W / tr Σ_B`.
    pub nc1_quotient: f64,
    /// NC2 equinorm of the centred class means.
    pub nc2_equinorm: f64,
    /// NC2 equiangularity (standard deviation of the pairwise cosines).
    pub nc2_equiangularity: f64,
    /// NC2 distance to the simplex angle, `mean |cos + 1/(K − 1)|`.
    pub nc2_max_angle: f64,
    /// NC2 equinorm of the classifier rows.
    pub nc2_classifier_equinorm: Option<f64>,
    /// NC2 distance to the simplex angle of the classifier rows.
    pub nc2_classifier_max_angle: Option<f64>,
    /// NC3 self-duality.
    pub nc3: Option<f64>,
    /// NC4: disagreement with the nearest class centre.
    pub nc4: Option<f64>,
    /// Class-distance normalised variance, averaged over pairs.
    pub cdnv: f64,
    /// Samples seen.
    pub samples: usize,
}

/// Streaming accumulator of the statistics (module notes).
#[derive(Debug, Clone)]
pub struct Collapse {
    k: usize,
    p: usize,
    counts: Vec<usize>,
    sums: Mat<f64>,
    sq: Vec<f64>,
    gram: Mat<f64>,
}

impl Collapse {
    /// An empty accumulator for `k ≥ 2` classes and `p ≥ 1` features
    /// (refuses `p × p` beyond [`crate::MAX_BLOCK`]).
    pub fn new(k: usize, p: usize) -> Result<Self> {
        linalg_core::param::at_least("classes", k, 2)?;
        linalg_core::param::at_least("features", p, 1)?;
        crate::check_block("features", p, p.max(k))?;
        Ok(Self {
            k,
            p,
            counts: vec![0; k],
            sums: Mat::zeros(p, k),
            sq: vec![0.0; k],
            gram: Mat::zeros(p, p),
        })
    }

    fn check(&self, features: MatRef<'_, f64>, labels: &[usize]) -> Result<()> {
        linalg_core::param::dimension("features columns", self.p, features.ncols())?;
        linalg_core::param::dimension("labels", features.nrows(), labels.len())?;
        if let Some((i, &c)) = labels.iter().enumerate().find(|(_, c)| **c >= self.k) {
            return Err(ParamError::new(
                "labels",
                format!("label {c} of sample {i} with {} classes", self.k),
            )
            .into());
        }
        for j in 0..features.ncols() {
            linalg_core::param::finite("features", features.col(j))?;
        }
        Ok(())
    }

    /// Adds a batch: `features` (`B × p`, rows are samples) and labels.
    pub fn add(&mut self, features: MatRef<'_, f64>, labels: &[usize]) -> Result<()> {
        self.check(features, labels)?;
        for (i, &c) in labels.iter().enumerate() {
            self.counts[c] += 1;
            let mut s = 0.0;
            for j in 0..self.p {
                let h = features[(i, j)];
                self.sums[(j, c)] += h;
                s += h * h;
            }
            self.sq[c] += s;
        }
        linalg_core::faer::linalg::matmul::matmul(
            self.gram.as_mut(),
            linalg_core::faer::Accum::Add,
            features.transpose(),
            features,
            1.0,
            linalg_core::faer::Par::Seq,
        );
        Ok(())
    }

    /// The class means (`p × K`); an error while a class has no sample.
    pub fn means(&self) -> Result<Mat<f64>> {
        if let Some(c) = self.counts.iter().position(|&n| n == 0) {
            return Err(ParamError::new("labels", format!("class {c} has no sample")).into());
        }
        Ok(Mat::from_fn(self.p, self.k, |j, c| {
            self.sums[(j, c)] / self.counts[c] as f64
        }))
    }

    /// NC4's second pass over a batch: how many samples disagree with their
    /// nearest class centre (returns the count).
    pub fn ncc_mismatch(
        &self,
        features: MatRef<'_, f64>,
        labels: &[usize],
        w: MatRef<'_, f64>,
        b: Option<&[f64]>,
    ) -> Result<usize> {
        self.check(features, labels)?;
        self.check_classifier(w, b)?;
        let means = self.means()?;
        let logits = features * w.transpose();
        let mut bad = 0;
        for i in 0..features.nrows() {
            let pred = argmax((0..self.k).map(|c| logits[(i, c)] + b.map_or(0.0, |b| b[c])));
            let ncc = argmax((0..self.k).map(|c| {
                -(0..self.p)
                    .map(|j| (features[(i, j)] - means[(j, c)]).powi(2))
                    .sum::<f64>()
            }));
            bad += usize::from(pred != ncc);
        }
        Ok(bad)
    }

    fn check_classifier(&self, w: MatRef<'_, f64>, b: Option<&[f64]>) -> Result<()> {
        linalg_core::param::dimension("classifier rows", self.k, w.nrows())?;
        linalg_core::param::dimension("classifier columns", self.p, w.ncols())?;
        for j in 0..w.ncols() {
            linalg_core::param::finite("classifier", w.col(j))?;
        }
        if let Some(b) = b {
            linalg_core::param::dimension("classifier bias", self.k, b.len())?;
            linalg_core::param::finite_slice("classifier bias", b)?;
        }
        Ok(())
    }

    /// NC1–NC3 and CDNV from what was added (NC4 is `None`: see
    /// [`Collapse::ncc_mismatch`]).
    pub fn finish(&self, classifier: Option<MatRef<'_, f64>>) -> Result<CollapseMetrics> {
        let means = self.means()?;
        let (k, p) = (self.k, self.p);
        let n: usize = self.counts.iter().sum();
        let nf = n as f64;
        let global = Col::from_fn(p, |j| (0..k).map(|c| self.sums[(j, c)]).sum::<f64>() / nf);
        let centred = Mat::from_fn(p, k, |j, c| means[(j, c)] - global[j]);
        // Σ_W = (Σ hhᵀ − Σ_c n_c μ_c μ_cᵀ)/N.
        let weighted = Mat::from_fn(p, k, |j, c| means[(j, c)] * self.counts[c] as f64);
        let sw = (&self.gram - &weighted * means.transpose()) * (1.0 / nf);
        let sw = Mat::from_fn(p, p, |a, b| 0.5 * (sw[(a, b)] + sw[(b, a)]));
        let sb = &centred * centred.transpose() * (1.0 / k as f64);
        let sb = Mat::from_fn(p, p, |a, b| 0.5 * (sb[(a, b)] + sb[(b, a)]));
        let evd = sb
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| linalg_core::Error::Numerical(format!("Σ_B eigenvectors: {e:?}")))?;
        let (u, lam) = (evd.U(), evd.S());
        let top = (0..p).fold(0.0f64, |t, i| t.max(lam[i]));
        // tr(Σ_W Σ_B⁺) = Σ_i (uᵢᵀ Σ_W uᵢ)/λᵢ over the kept eigenpairs.
        let uswu = u.transpose() * &sw * u;
        let mut nc1_papyan = 0.0;
        let mut nc1_han = 0.0;
        let mut order: Vec<usize> = (0..p).collect();
        order.sort_by(|&a, &b| lam[b].total_cmp(&lam[a]));
        for (rank, &i) in order.iter().enumerate() {
            if lam[i] > 1e-10 * top {
                nc1_papyan += uswu[(i, i)] / lam[i];
            }
            if rank < k - 1 && lam[i] > 0.0 {
                nc1_han += uswu[(i, i)] / lam[i];
            }
        }
        let tr_sw: f64 = (0..p).map(|i| sw[(i, i)]).sum();
        let tr_sb: f64 = (0..p).map(|i| sb[(i, i)]).sum();
        let (equinorm, equiangularity, max_angle) = nc2(centred.as_ref());
        let (ce, cm, nc3) = match classifier {
            Some(w) => {
                self.check_classifier(w, None)?;
                let wt = w.transpose().to_owned();
                let (e, _, m) = nc2(wt.as_ref());
                let (wn, mn) = (wt.norm_l2(), centred.norm_l2());
                let d = Mat::from_fn(p, k, |j, c| {
                    wt[(j, c)] / wn.max(f64::MIN_POSITIVE)
                        - centred[(j, c)] / mn.max(f64::MIN_POSITIVE)
                });
                (Some(e), Some(m), Some(d.squared_norm_l2()))
            }
            None => (None, None, None),
        };
        // CDNV.
        let var: Vec<f64> = (0..k)
            .map(|c| {
                let nc = self.counts[c] as f64;
                let mu2: f64 = (0..p).map(|j| means[(j, c)].powi(2)).sum();
                (self.sq[c] / nc - mu2).max(0.0)
            })
            .collect();
        let mut cdnv = 0.0;
        let mut pairs = 0.0;
        for a in 0..k {
            for b in a + 1..k {
                let d2: f64 = (0..p)
                    .map(|j| (means[(j, a)] - means[(j, b)]).powi(2))
                    .sum();
                cdnv += (var[a] + var[b]) / (2.0 * d2.max(f64::MIN_POSITIVE));
                pairs += 1.0;
            }
        }
        Ok(CollapseMetrics {
            nc1_papyan: nc1_papyan / k as f64,
            nc1_han: nc1_han / k as f64,
            nc1_quotient: tr_sw / tr_sb.max(f64::MIN_POSITIVE),
            nc2_equinorm: equinorm,
            nc2_equiangularity: equiangularity,
            nc2_max_angle: max_angle,
            nc2_classifier_equinorm: ce,
            nc2_classifier_max_angle: cm,
            nc3,
            nc4: None,
            cdnv: cdnv / pairs,
            samples: n,
        })
    }
}

fn argmax(it: impl Iterator<Item = f64>) -> usize {
    it.enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

/// Equinorm, equiangularity and the distance to the simplex angle of the
/// columns of `m` (`p × K`).
fn nc2(m: MatRef<'_, f64>) -> (f64, f64, f64) {
    let k = m.ncols();
    let norms: Vec<f64> = (0..k).map(|c| m.col(c).norm_l2()).collect();
    let (mean, std) = mean_std(&norms);
    let mut cos = Vec::new();
    for a in 0..k {
        for b in a + 1..k {
            let d = m.col(a).transpose() * m.col(b);
            cos.push(d / (norms[a] * norms[b]).max(f64::MIN_POSITIVE));
        }
    }
    let (_, cstd) = mean_std(&cos);
    let simplex = 1.0 / (k as f64 - 1.0);
    let max_angle = cos.iter().map(|c| (c + simplex).abs()).sum::<f64>() / cos.len() as f64;
    (std / mean.max(f64::MIN_POSITIVE), cstd, max_angle)
}

/// All metrics of `features` (`N × p`) with `labels` in `0..k`, and NC3/NC4
/// when the classifier `(W, b)` is given.
pub fn collapse(
    features: MatRef<'_, f64>,
    labels: &[usize],
    k: usize,
    classifier: Option<(MatRef<'_, f64>, Option<&[f64]>)>,
) -> Result<CollapseMetrics> {
    let mut acc = Collapse::new(k, features.ncols())?;
    acc.add(features, labels)?;
    let mut m = acc.finish(classifier.map(|c| c.0))?;
    if let Some((w, b)) = classifier {
        let bad = acc.ncc_mismatch(features, labels, w, b)?;
        m.nc4 = Some(bad as f64 / features.nrows() as f64);
    }
    Ok(m)
}
