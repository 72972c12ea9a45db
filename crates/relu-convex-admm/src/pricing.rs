//! Growing the pattern set by pricing (column generation): sampled
//! patterns rarely contain the activation patterns of a good network (on
//! breast cancer, Adam's five-run best beats the convex optimum over 50
//! and over 400 Gaussian patterns), so new patterns are searched where the
//! dual constraint is violated
//! most at the current dual `λ = ∇ℓ(ŷ)`. The constraint of the dual of the
//! two-layer problem (Pilanci and Ergen 2020) is `|λᵀ(Xh)₊| ≤ β‖h‖` for
//! every `h`; a gate `h` that violates it gives a direction that lowers the
//! objective and is feasible for its own pattern (`(2Dₕ − I)Xh ≥ 0`):
//! `v = t·h` (or `w = t·h`) has the directional derivative
//! `t(β‖h‖ ∓ λᵀ(Xh)₊) < 0`. So the score of a gate is `|λᵀ(Xh)₊|/‖h‖`,
//! and `max ≤ β` over all gates is the global optimality condition.
//!
//! Candidates: `candidates` gates, half Gaussian and half perturbations of
//! the current neurons, scored; the best `refine` are
//! refined by the fixed-point ascent `h ← ±Xᵀ(Dₕλ)/‖·‖` (20 steps at most),
//! and the best `add` new distinct patterns above `β` are kept; the
//! patterns of a short nonconvex local search from the recovered network
//! ([`local_search_gates`]) join them. Each round re-solves the program
//! from zero.

use linalg_core::faer::{Col, Mat, MatRef};
use linalg_core::{Control, Termination};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use optimizers::{AdamParams, Method, RunParams, minimize};

use crate::Result;
use crate::admm::{AdmmParams, AdmmRecord, AdmmReport, admm};
use crate::network::{NonconvexObjective, TwoLayerNet};
use crate::patterns::Patterns;
use crate::program::ConvexProgram;

/// `σλᵀ(Xh)₊/‖h‖` and the gate after the fixed-point ascent
/// `h ← σXᵀ(Dₕλ)/‖·‖` (the gradient of the positively homogeneous
/// `σλᵀ(Xh)₊`), kept while the value grows.
fn refine(x: MatRef<'_, f64>, lambda: &Col<f64>, h0: Col<f64>, sign: f64) -> (f64, Col<f64>) {
    let n = x.nrows();
    let eval = |h: &Col<f64>| -> (f64, Col<f64>) {
        let z = x * h;
        let val: f64 = (0..n)
            .map(|i| sign * lambda[i] * z[i].max(0.0))
            .sum::<f64>()
            / h.norm_l2();
        let dl = Col::from_fn(n, |i| if z[i] >= 0.0 { sign * lambda[i] } else { 0.0 });
        (val, x.transpose() * &dl)
    };
    let (mut best, mut g) = eval(&h0);
    let mut h = h0;
    for _ in 0..20 {
        let nrm = g.norm_l2();
        if nrm == 0.0 {
            break;
        }
        let cand = &g * (1.0 / nrm);
        let (v, g2) = eval(&cand);
        if v <= best * (1.0 + 1e-12) {
            break;
        }
        best = v;
        h = cand;
        g = g2;
    }
    (best, h)
}

/// Parameters of pricing, validated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricingParams {
    /// Pricing rounds at most (default 10).
    pub rounds: usize,
    /// Candidate gates per round, `1 ≤ · ≤ 10⁶` (default 5 000).
    pub candidates: usize,
    /// New patterns per round at most, `1 ≤ · ≤ 10⁵` (default 10).
    pub add: usize,
    /// Seed of the candidates (round `r` uses `seed + r`; default 1).
    pub seed: u64,
    /// How many of the best-scoring candidates are refined by the
    /// fixed-point ascent, `1 ≤ · ≤ 10⁶` (default 1 000: with 40, breast
    /// cancer's logistic program stopped at 136.008, above Adam's 135.974;
    /// with 1 000 it reached 135.969, for about 1 G flops a round).
    pub refine: usize,
    /// Adam steps of the nonconvex local search each round, `≤ 10⁵`
    /// (default 2 000; 0 turns it off): see [`local_search_gates`].
    pub local_steps: usize,
}

impl Default for PricingParams {
    fn default() -> Self {
        Self {
            rounds: 10,
            candidates: 5000,
            add: 10,
            seed: 1,
            local_steps: 2000,
            refine: 1000,
        }
    }
}

impl PricingParams {
    /// Rejects zero or oversized counts.
    pub fn validate(&self) -> Result<()> {
        linalg_core::param::in_range("candidates", self.candidates as f64, 1.0, 1e6)?;
        linalg_core::param::in_range("add", self.add as f64, 1.0, 1e5)?;
        linalg_core::param::in_range("rounds", self.rounds as f64, 0.0, 1e4)?;
        linalg_core::param::in_range("refine", self.refine as f64, 1.0, 1e6)?;
        linalg_core::param::in_range("local_steps", self.local_steps as f64, 0.0, 1e5)?;
        Ok(())
    }
}

/// Up to `add` gates that violate `|λᵀ(Xh)₊| ≤ threshold·‖h‖` the most,
/// none of whose patterns is already in `existing`; with their scores
/// `|λᵀ(Xh)₊|/‖h‖`.
pub fn price(
    x: MatRef<'_, f64>,
    lambda: &Col<f64>,
    anchors: MatRef<'_, f64>,
    existing: &Patterns,
    threshold: f64,
    params: &PricingParams,
) -> Result<(Mat<f64>, Vec<f64>)> {
    params.validate()?;
    let (candidates, add, seed) = (params.candidates, params.add, params.seed);
    let (n, d) = (x.nrows(), x.ncols());
    linalg_core::param::dimension("lambda", n, lambda.nrows())?;
    linalg_core::param::finite("lambda", lambda.as_ref())?;
    linalg_core::param::positive("threshold", threshold)?;
    for j in 0..anchors.ncols() {
        linalg_core::param::finite("anchors", anchors.col(j))?;
    }
    let cells = n.max(d).saturating_mul(candidates);
    if cells > 100_000_000 {
        return Err(linalg_core::ParamError::new(
            "candidates",
            format!("{n} samples, {d} features × {candidates} candidates exceed 1e8 numbers"),
        )
        .into());
    }
    linalg_core::param::dimension("anchors (rows)", d, anchors.nrows())?;
    let mut rng = StdRng::seed_from_u64(seed);
    // Half the candidates are Gaussian; the other half perturb the anchors
    // (the current neurons, unit-normalised) at relative scales 0.05–1,
    // which finds the patterns next to the ones in use.
    let unit: Vec<Col<f64>> = (0..anchors.ncols())
        .filter_map(|j| {
            let c = anchors.col(j).to_owned();
            let nrm = c.norm_l2();
            (nrm > 0.0).then(|| c * (1.0 / nrm))
        })
        .collect();
    let scales = [0.05, 0.1, 0.2, 0.5, 1.0];
    let mut h = Mat::<f64>::zeros(d, candidates);
    for k in 0..candidates {
        let anchored = !unit.is_empty() && k % 2 == 1;
        let sc = scales[(k / 2) % scales.len()];
        for i in 0..d {
            let g: f64 = StandardNormal.sample(&mut rng);
            h[(i, k)] = if anchored {
                unit[(k / 2) % unit.len()][i] + sc * g / (d as f64).sqrt()
            } else {
                g
            };
        }
    }
    let z = x * &h;
    // |λᵀ(Xh)₊|/‖h‖ for each candidate.
    let mut order: Vec<(f64, usize)> = (0..candidates)
        .map(|k| {
            let v: f64 = (0..n).map(|i| lambda[i] * z[(i, k)].max(0.0)).sum();
            (v.abs() / h.col(k).norm_l2(), k)
        })
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut seen: std::collections::HashSet<Vec<bool>> = (0..existing.len())
        .map(|k| (0..n).map(|i| existing.masks[(i, k)] > 0.5).collect())
        .collect();
    let mut found: Vec<(f64, Col<f64>)> = Vec::new();
    for &(_, k) in order.iter().take(params.refine) {
        for sign in [1.0, -1.0] {
            let (s, hk) = refine(x, lambda, h.col(k).to_owned(), sign);
            if s > threshold {
                let key: Vec<bool> = (x * &hk).iter().map(|&t| t >= 0.0).collect();
                if seen.insert(key) {
                    found.push((s, hk));
                }
            }
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    found.truncate(add);
    let gates = Mat::from_fn(d, found.len(), |i, j| found[j].1[i]);
    Ok((gates, found.iter().map(|f| f.0).collect()))
}

/// The step size of the local search's Adam: a tenth of the usual 1e-2,
/// since it starts next to a stationary point of the nonconvex objective.
pub const LOCAL_SEARCH_LR: f64 = 1e-3;

/// Gates from a nonconvex local search: the network recovered from the
/// convex solution `(v, w)` of `program` is trained further by `steps`
/// Adam steps (step [`LOCAL_SEARCH_LR`]) on the regularised nonconvex
/// objective; returns its hidden weights as gates (`d × m`; empty when no
/// neuron survives or the search fails) and its nonconvex objective (the
/// convex objective of `(v, w)` when the search does not run). `v` and `w`
/// are `d × P` for the program's `P` patterns, finite; `β ≥ 0`;
/// `steps ≤ 10⁵`.
///
/// Why: the recovered network has the convex objective (when the cones
/// hold), and gradient steps that move its hyperplanes change its
/// activation patterns, which a convex program with fixed patterns cannot
/// do. The patterns of the improved network, added to the program, make its
/// optimum at most the improved network's objective, so the convex
/// solution beats every local improvement of itself; pricing at the dual
/// alone stopped while nonconvex training still held slightly better
/// patterns (2e-4 relative on digits 2-vs-8).
pub fn local_search_gates(
    program: &ConvexProgram,
    v: MatRef<'_, f64>,
    w: MatRef<'_, f64>,
    beta: f64,
    steps: usize,
) -> Result<(Mat<f64>, f64)> {
    let x = program.x();
    let (d, p) = (x.ncols(), program.patterns().len());
    for (name, m) in [("v", v), ("w", w)] {
        linalg_core::param::dimension(name, d, m.nrows())?;
        linalg_core::param::dimension(name, p, m.ncols())?;
        for k in 0..p {
            linalg_core::param::finite(name, m.col(k))?;
        }
    }
    linalg_core::param::nonnegative("beta", beta)?;
    linalg_core::param::in_range("local_steps", steps as f64, 0.0, 1e5)?;
    let net = TwoLayerNet::from_convex(v, w, 0.0)?;
    let m = net.neurons();
    if steps == 0 || m == 0 {
        return Ok((Mat::zeros(d, 0), program.objective(v, w, beta)));
    }
    let obj = NonconvexObjective::new(x, program.y(), program.loss(), beta, m)?;
    let theta0 = obj.theta(&net)?;
    // A failed search (a non-finite step) adds nothing: it is a heuristic.
    let Ok(rep) = minimize(
        &obj,
        theta0.as_ref(),
        Method::Adam(AdamParams::lr(LOCAL_SEARCH_LR)),
        &RunParams::default().max_iters(steps).grad_tol(1e-12),
        |_| Control::Continue,
    ) else {
        return Ok((Mat::zeros(d, 0), program.objective(v, w, beta)));
    };
    let hidden = obj.network(rep.x.as_ref()).hidden;
    let keep: Vec<usize> = (0..m)
        .filter(|&j| {
            let c = hidden.col(j);
            c.norm_l2() > 0.0 && (0..d).all(|i| c[i].is_finite())
        })
        .collect();
    Ok((
        Mat::from_fn(d, keep.len(), |i, j| hidden[(i, keep[j])]),
        rep.value,
    ))
}

/// The outcome of [`admm_priced`].
#[derive(Debug, Clone)]
pub struct PricedReport {
    /// The final ADMM run (on the final patterns).
    pub report: AdmmReport,
    /// The final patterns.
    pub patterns: Patterns,
    /// The objective after each round.
    pub objectives: Vec<f64>,
    /// The largest pricing score `|λᵀ(Xh)₊|/(β‖h‖)` found after the last
    /// round (0: no candidate violates the dual constraint; NaN when no
    /// round ran).
    pub worst_violation: f64,
}

/// ADMM with pattern pricing on `program`: solve, price up to `add` new
/// patterns from `candidates` gates, re-solve, for at most `rounds` rounds
/// or until no candidate violates the dual constraint. Intermediate solves
/// use the tolerance `max(params' tolerances, 1e-4)`, the last one
/// `params`. The observer sees every iteration of every solve; stopping it
/// ends the whole run with that solve's report.
pub fn admm_priced(
    program: &ConvexProgram,
    params: &AdmmParams,
    pricing: &PricingParams,
    mut observer: impl FnMut(&AdmmRecord) -> Control,
) -> Result<PricedReport> {
    params.validate()?;
    pricing.validate()?;
    let x = program.x();
    let beta = params.beta;
    let mut patterns = program.patterns().clone();
    let mut current = program.clone();
    let mut objectives = Vec::new();
    let loose = {
        let mut p = *params;
        p.tol_abs = p.tol_abs.max(1e-4);
        p.tol_rel = p.tol_rel.max(1e-4);
        p.gap_tol = p.gap_tol.max(1e-4);
        p.cone_tol = p.cone_tol.max(1e-4);
        p
    };
    // The candidates' size cap of `price`, checked before the first solve.
    let cells = x.nrows().max(x.ncols()).saturating_mul(pricing.candidates);
    if pricing.rounds > 0 && cells > 100_000_000 {
        return Err(linalg_core::ParamError::new(
            "candidates",
            format!(
                "{} samples, {} features × {} candidates exceed 1e8 numbers",
                x.nrows(),
                x.ncols(),
                pricing.candidates
            ),
        )
        .into());
    }
    let mut worst = f64::NAN;
    for round in 0..pricing.rounds {
        let rep = admm(&current, &loose, &mut observer)?;
        objectives.push(rep.objective);
        if rep.termination == Termination::Cancelled {
            return Ok(PricedReport {
                report: rep,
                patterns,
                objectives,
                worst_violation: worst,
            });
        }
        let pred = current.predict(rep.v.as_ref(), rep.w.as_ref());
        let lambda = current.loss().gradient(&pred, current.y());
        let anchors = Mat::from_fn(x.ncols(), 2 * rep.v.ncols(), |i, j| {
            if j < rep.v.ncols() {
                rep.v[(i, j)]
            } else {
                rep.w[(i, j - rep.v.ncols())]
            }
        });
        let (gates, scores) = price(
            x,
            &lambda,
            anchors.as_ref(),
            &patterns,
            beta,
            &PricingParams {
                seed: pricing.seed.wrapping_add(round as u64),
                ..*pricing
            },
        )?;
        worst = scores.first().map_or(0.0, |s| s / beta);
        let (local, _) = local_search_gates(
            &current,
            rep.v.as_ref(),
            rep.w.as_ref(),
            beta,
            pricing.local_steps,
        )?;
        // The program's generators, then the priced gates, then the local
        // search's; `from_generators` keeps the first of each pattern, so
        // only patterns not yet in the program are added.
        let (p0, a, b) = (patterns.len(), gates.ncols(), local.ncols());
        let h = Mat::from_fn(x.ncols(), p0 + a + b, |i, j| {
            if j < p0 {
                patterns.generators[(i, j)]
            } else if j < p0 + a {
                gates[(i, j - p0)]
            } else {
                local[(i, j - p0 - a)]
            }
        });
        let grown = Patterns::from_generators(x, h.as_ref())?;
        if grown.len() == p0 {
            break;
        }
        patterns = grown;
        current = current.with_patterns(patterns.clone())?;
    }
    let report = admm(&current, params, &mut observer)?;
    objectives.push(report.objective);
    Ok(PricedReport {
        report,
        patterns,
        objectives,
        worst_violation: worst,
    })
}
