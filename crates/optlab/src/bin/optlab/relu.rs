//! `optlab relu`: convex training of two-layer ReLU networks (relu-convex-admm).

use linalg_core::faer::{Col, Mat};
use relu_convex_admm::network::sign_accuracy;
use relu_convex_admm::usolve::{MAX_DENSE, MAX_SAMPLES};
use relu_convex_admm::{AdmmParams, ConvexProgram, Loss, Patterns, TwoLayerNet, admm};
use serde_json::json;

use crate::{Failure, outcome, print_json};

/// `--loss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LossArg {
    /// ½‖ŷ − y‖² with ±1 targets.
    Squared,
    /// Binary cross-entropy on the logit ŷ, Σ log(1 + e^{−yŷ}).
    Bce,
    /// Hinge, Σ (1 − yŷ)₊ with ±1 targets.
    Hinge,
}

impl LossArg {
    fn loss(self) -> Loss {
        match self {
            LossArg::Squared => Loss::Squared,
            LossArg::Bce => Loss::Logistic,
            LossArg::Hinge => Loss::Hinge,
        }
    }
}

/// Arguments of `optlab relu`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data: breast_cancer, digits:2v8 (any two digits AvB), wine:0v1 (any
    /// two classes), or a CSV file (last column the label, {0, 1} or
    /// {−1, +1}). The embedded sets are standardised and split 75/25
    /// (seeded); a file is used as given unless --test-fraction or --standardize.
    #[arg(long, default_value = "breast_cancer")]
    data: String,
    /// Number of sampled activation patterns (Gaussian gate generators).
    #[arg(long, default_value_t = 50)]
    patterns: usize,
    /// Gate generators as a d × P NPY array (no sampling).
    #[arg(long)]
    gates: Option<std::path::PathBuf>,
    /// The group-lasso weight β (default 0.1·maxᵢ‖(DᵢX)ᵀ∇ℓ(0)‖: 0.1·maxᵢ‖(DᵢX)ᵀy‖
    /// for the squared and hinge losses, half that for bce; with
    /// --adversarial 0.01·maxᵢ‖(DᵢX)ᵀy‖, since at 0.1 the robust program
    /// on breast cancer keeps no useful neuron).
    #[arg(long)]
    beta: Option<f64>,
    /// Loss.
    #[arg(long, value_enum, default_value_t = LossArg::Squared)]
    loss: LossArg,
    /// Adversarial training radius ε (ℓ∞, in the units of the features):
    /// solve the robust convex program (hinge or squared loss) and report
    /// the accuracy under a 20-step PGD attack at ε. With --bias the
    /// constant feature is not perturbed and the all-active pattern (a
    /// linear neuron) is included; without a bias the robust cones of
    /// centred data often hold only zero.
    #[arg(long)]
    adversarial: Option<f64>,
    /// ADMM penalty ρ (default c·‖X‖_F/6, c = 1, 1/4, 1/2 for squared, bce, hinge).
    #[arg(long)]
    rho: Option<f64>,
    /// Pattern-pricing rounds (0: the sampled or given patterns only).
    #[arg(long, default_value_t = 0)]
    pricing: usize,
    /// Candidate gates per pricing round.
    #[arg(long, default_value_t = 5000)]
    pricing_candidates: usize,
    /// Adam steps of the nonconvex local search from the recovered network
    /// in each pricing round, whose patterns join the priced ones (0: off).
    #[arg(long, default_value_t = 2000)]
    pricing_local_steps: usize,
    /// Over-relaxation α ∈ (0, 2).
    #[arg(long, default_value_t = 1.8)]
    relaxation: f64,
    /// Penalty ρ_r of the loss split (bce and hinge; default 1).
    #[arg(long, default_value_t = 1.0)]
    loss_rho: f64,
    /// Seed of the patterns and of the split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Iteration limit.
    #[arg(long, default_value_t = 10_000)]
    max_iters: usize,
    /// Tolerance: residuals (absolute and relative), the certificate's
    /// relative duality gap and its cone violation.
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Hold out this fraction of a CSV file for testing.
    #[arg(long)]
    test_fraction: Option<f64>,
    /// Standardise the columns of a CSV file.
    #[arg(long)]
    standardize: bool,
    /// Add a constant feature (a bias of the hidden units).
    #[arg(long)]
    bias: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Features and ±1 labels.
struct Data {
    x: Mat<f64>,
    y: Vec<f64>,
}

/// At most this many numbers in a CSV file.
const MAX_CSV_NUMBERS: usize = 20_000_000;

fn read_csv(path: &str) -> Result<Data, Failure> {
    let bad = |m: String| Failure::BadInput(format!("--data {path}: {m}"));
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > 1 << 30 {
        return Err(bad(format!(
            "{} bytes is too large (at most 1 GiB)",
            meta.len()
        )));
    }
    // Read with a limit: a pipe or /dev/zero reports size 0.
    let bytes = linalg_core::budget::read_file(std::path::Path::new(path))
        .map_err(|e| bad(e.root().to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut labels = Vec::new();
    let mut width = None;
    let mut count = 0usize;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let toks: Vec<&str> = line.split(',').map(str::trim).collect();
        if toks.len() < 2 {
            return Err(bad(format!(
                "line {}: needs at least one feature and a label",
                i + 1
            )));
        }
        if *width.get_or_insert(toks.len()) != toks.len() {
            return Err(bad(format!(
                "line {}: {} fields, expected {} (ragged rows)",
                i + 1,
                toks.len(),
                width.unwrap_or(0)
            )));
        }
        count += toks.len();
        if count > MAX_CSV_NUMBERS {
            return Err(bad(format!("more than {MAX_CSV_NUMBERS} numbers")));
        }
        let mut row = Vec::with_capacity(toks.len() - 1);
        for t in &toks[..toks.len() - 1] {
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() => row.push(v),
                _ => return Err(bad(format!("line {}: not a finite number: `{t}`", i + 1))),
            }
        }
        let l = toks[toks.len() - 1];
        let label = match l.parse::<f64>() {
            Ok(1.0) => 1.0,
            Ok(v) if v == 0.0 || v == -1.0 => -1.0,
            _ => {
                return Err(bad(format!(
                    "line {}: label `{l}` is not in {{0, 1}} or {{−1, +1}}",
                    i + 1
                )));
            }
        };
        rows.push(row);
        labels.push(label);
    }
    if rows.is_empty() {
        return Err(bad("no rows".into()));
    }
    let d = rows[0].len();
    Ok(Data {
        x: Mat::from_fn(rows.len(), d, |i, j| rows[i][j]),
        y: labels,
    })
}

fn embedded(name: &str, spec: Option<&str>) -> Result<datasets::Dataset, Failure> {
    let bad = |m: String| {
        Failure::BadInput(format!(
            "--data {name}{}: {m}",
            spec.map_or(String::new(), |s| format!(":{s}"))
        ))
    };
    let pair = |s: &str| -> Result<(usize, usize), Failure> {
        let (a, b) = s
            .split_once('v')
            .ok_or_else(|| bad("expected AvB (two class indices)".into()))?;
        match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) if a != b => Ok((a, b)),
            _ => Err(bad(format!("`{s}` is not two different class indices"))),
        }
    };
    let ds = match (name, spec) {
        ("breast_cancer", None) => datasets::breast_cancer(),
        ("digits", Some(s)) => {
            let (a, b) = pair(s)?;
            datasets::digits()
                .binary(a, b)
                .map_err(|e| bad(e.to_string()))?
        }
        ("wine", Some(s)) => {
            let (a, b) = pair(s)?;
            datasets::wine()
                .binary(a, b)
                .map_err(|e| bad(e.to_string()))?
        }
        _ => unreachable!("checked by the caller"),
    };
    Ok(ds)
}

fn to_data(ds: &datasets::Dataset) -> Data {
    Data {
        x: ds.features.clone(),
        y: ds
            .labels
            .iter()
            .map(|&l| if l == 1 { 1.0 } else { -1.0 })
            .collect(),
    }
}

fn split(d: Data, fraction: f64, seed: u64) -> Result<(Data, Data), Failure> {
    let n = d.y.len();
    let n_test = (fraction * n as f64).round() as usize;
    if !(fraction > 0.0 && fraction < 1.0) || n_test == 0 || n_test == n {
        return Err(Failure::BadInput(format!(
            "--test-fraction: {fraction} of {n} samples leaves one part empty"
        )));
    }
    use rand::seq::SliceRandom;
    use rand::{SeedableRng, rngs::StdRng};
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let (te, tr) = idx.split_at(n_test);
    let pick = |r: &[usize]| Data {
        x: Mat::from_fn(r.len(), d.x.ncols(), |i, j| d.x[(r[i], j)]),
        y: r.iter().map(|&i| d.y[i]).collect(),
    };
    Ok((pick(tr), pick(te)))
}

fn with_bias(mut d: Data) -> Data {
    let (n, k) = (d.x.nrows(), d.x.ncols());
    d.x = Mat::from_fn(n, k + 1, |i, j| if j < k { d.x[(i, j)] } else { 1.0 });
    d
}

fn accuracy(net: &TwoLayerNet, d: &Data) -> f64 {
    sign_accuracy(
        &net.predict(d.x.as_ref()),
        &Col::from_fn(d.y.len(), |i| d.y[i]),
    )
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let loss = args.loss.loss();
    // Options that do not apply are refused, not ignored.
    if args.pricing == 0 {
        crate::reject_given(
            &["pricing_candidates", "pricing_local_steps"],
            "a run without --pricing",
        )?;
    }
    if loss == Loss::Squared {
        crate::reject_given(
            &["loss_rho"],
            "--loss squared (it splits off bce and hinge only)",
        )?;
    }
    if args.gates.is_some() {
        crate::reject_given(&["patterns"], "--gates (the gates file sets the patterns)")?;
    }
    if let Some(eps) = args.adversarial {
        if !(eps.is_finite() && (0.0..=1e6).contains(&eps)) {
            return Err(Failure::BadInput(format!(
                "--adversarial: the radius must be finite and in [0, 1e6], got {eps}"
            )));
        }
        if loss == Loss::Logistic {
            return Err(Failure::BadInput(
                "--adversarial: the robust program has the hinge and squared losses (use --loss hinge or squared)".into(),
            ));
        }
        if args.pricing > 0 {
            return Err(Failure::BadInput(
                "--pricing: pattern pricing is for the clean program, not with --adversarial"
                    .into(),
            ));
        }
    }
    let (name, spec) = match args.data.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (args.data.as_str(), None),
    };
    let (train, test) = match (name, spec) {
        ("breast_cancer", None) | ("digits", Some(_)) | ("wine", Some(_)) => {
            let mut ds = embedded(name, spec)?;
            datasets::standardize(&mut ds.features)
                .map_err(|e| Failure::BadInput(format!("--data {}: {e}", args.data)))?;
            let (tr, te) = split(to_data(&ds), args.test_fraction.unwrap_or(0.25), args.seed)?;
            (tr, Some(te))
        }
        ("breast_cancer" | "digits" | "wine", _) => {
            return Err(Failure::BadInput(format!(
                "--data {}: use breast_cancer, digits:AvB or wine:AvB",
                args.data
            )));
        }
        _ => {
            let mut d = read_csv(&args.data)?;
            if args.standardize {
                datasets::standardize(&mut d.x)
                    .map_err(|e| Failure::BadInput(format!("--data {}: {e}", args.data)))?;
            }
            // The u-system holds XᵀX: features beyond 1e±100 overflow or
            // underflow it (a Cholesky failure, or a silently zero network).
            let amax = d.x.norm_max();
            if !(amax == 0.0 || (1e-100..=1e100).contains(&amax)) {
                return Err(Failure::BadInput(format!(
                    "--data {}: the largest feature is {amax:e}; features must lie within 1e±100 (XᵀX would over- or underflow): rescale them, e.g. with --standardize",
                    args.data
                )));
            }
            match args.test_fraction {
                Some(f) => {
                    let (tr, te) = split(d, f, args.seed)?;
                    (tr, Some(te))
                }
                None => (d, None),
            }
        }
    };
    let (train, test) = if args.bias {
        (with_bias(train), test.map(with_bias))
    } else {
        (train, test)
    };
    if train.y.iter().all(|&v| v == train.y[0]) {
        return Err(Failure::BadInput(format!(
            "--data {}: the training labels have a single class",
            args.data
        )));
    }
    let n = train.y.len();
    let input = |e: relu_convex_admm::Error, flag: &str| {
        Failure::from_error(e.is_input_error(), format!("{flag}: {e}"), args.json)
    };
    let patterns = match &args.gates {
        Some(path) => {
            let h = linalg_core::io::read_npy_mat(path)
                .map_err(|e| Failure::BadInput(format!("--gates {}: {e}", path.display())))?;
            Patterns::from_generators(train.x.as_ref(), h.as_ref())
                .map_err(|e| input(e, "--gates"))?
        }
        None if args.adversarial.is_some() && args.bias => {
            // The all-active pattern (generator e_bias) first: a linear neuron.
            let d = train.x.ncols();
            let e_bias = Mat::from_fn(d, 1, |i, _| if i + 1 == d { 1.0 } else { 0.0 });
            Patterns::sample_with(train.x.as_ref(), e_bias.as_ref(), args.patterns, args.seed)
                .map_err(|e| input(e, "--patterns"))?
        }
        None => Patterns::sample(train.x.as_ref(), args.patterns, args.seed)
            .map_err(|e| input(e, "--patterns"))?,
    };
    let masks = patterns.masks.clone();
    let beta = match args.beta {
        Some(b) => b,
        None => {
            // −∇ℓ(0) is y for the squared and hinge losses, y/2 for bce.
            let scale = if loss == Loss::Logistic { 0.5 } else { 1.0 };
            let yc = Col::from_fn(n, |i| scale * train.y[i]);
            let factor = if args.adversarial.is_some() {
                0.01
            } else {
                0.1
            };
            factor
                * (0..masks.ncols())
                    .map(|k| {
                        let dy = Col::from_fn(n, |i| masks[(i, k)] * yc[i]);
                        (train.x.transpose() * &dy).norm_l2()
                    })
                    .fold(0.0, f64::max)
        }
    };
    // One of the two u-solvers must fit: Woodbury needs n ≤ MAX_SAMPLES,
    // the dense one 2dP ≤ MAX_DENSE.
    let dense_size = 2 * train.x.ncols() * masks.ncols();
    if n > MAX_SAMPLES && dense_size > MAX_DENSE {
        return Err(Failure::BadInput(format!(
            "--patterns: {n} samples need the dense u-solver, and 2dP = {dense_size} exceeds {} (use fewer patterns)",
            MAX_DENSE
        )));
    }
    let program = ConvexProgram::new(train.x.as_ref(), &train.y, patterns)
        .and_then(|p| p.with_loss(loss))
        .map_err(|e| input(e, "--data"))?;
    let mut params = AdmmParams::new(beta)
        .tol(args.tol)
        .loss_rho(args.loss_rho)
        .relaxation(args.relaxation)
        .max_iters(args.max_iters);
    params.rho = args.rho;
    params.validate().map_err(|e| {
        let flag = match e.param_name() {
            Some("beta") => "--beta",
            Some("rho") => "--rho",
            Some("max_iters") => "--max-iters",
            Some("loss_rho") => "--loss-rho",
            Some("relaxation") => "--relaxation",
            _ => "--tol",
        };
        Failure::BadInput(format!("{flag}: {e}"))
    })?;
    // Solver errors name the flag behind a rejected size.
    let input_named = |e: relu_convex_admm::Error| {
        let flag = match e.param_name() {
            Some("candidates") => "--pricing-candidates",
            Some("patterns") => "--patterns",
            _ => "relu",
        };
        input(e, flag)
    };
    let pricing = relu_convex_admm::PricingParams {
        rounds: args.pricing,
        candidates: args.pricing_candidates,
        seed: args.seed.wrapping_add(1),
        local_steps: args.pricing_local_steps,
        ..Default::default()
    };
    pricing.validate().map_err(|e| {
        let flag = match e.param_name() {
            Some("candidates") => "--pricing-candidates",
            Some("local_steps") => "--pricing-local-steps",
            _ => "--pricing",
        };
        Failure::BadInput(format!("{flag}: {e}"))
    })?;
    let fixed: Vec<usize> = if args.bias {
        vec![train.x.ncols() - 1]
    } else {
        Vec::new()
    };
    let (rep, n_patterns, worst_violation) = if let Some(eps) = args.adversarial {
        let robust = relu_convex_admm::RobustProgram::new(program, eps)
            .and_then(|p| p.with_fixed_columns(&fixed))
            .map_err(|e| input(e, "--adversarial"))?;
        let r = relu_convex_admm::admm_robust(&robust, &params, crate::watch::observe)
            .map_err(&input_named)?;
        // The same fields as the clean report (the u-system is solved
        // spectrally; `u_solver` is not printed).
        let rep = relu_convex_admm::AdmmReport {
            v: r.v,
            w: r.w,
            objective: r.objective,
            dual_bound: r.dual_bound,
            gap_bound: r.gap_bound,
            primal_residual: r.primal_residual,
            dual_residual: r.dual_residual,
            cone_violation: r.cone_violation,
            loss,
            rho: r.rho,
            u_solver: relu_convex_admm::USolver::Auto,
            iterations: r.iterations,
            converged: r.converged,
            termination: r.termination,
            history: r.history,
            elapsed: r.elapsed,
            work: r.work,
        };
        (rep, masks.ncols(), None)
    } else if args.pricing > 0 {
        let priced =
            relu_convex_admm::admm_priced(&program, &params, &pricing, crate::watch::observe)
                .map_err(&input_named)?;
        let p = priced.patterns.len();
        (priced.report, p, Some(priced.worst_violation))
    } else {
        let rep = admm(&program, &params, crate::watch::observe).map_err(&input_named)?;
        (rep, masks.ncols(), None)
    };
    let net = TwoLayerNet::from_convex(rep.v.as_ref(), rep.w.as_ref(), 1e-10)
        .map_err(|e| Failure::Solver(format!("recovering the network: {e}")))?;
    let train_acc = accuracy(&net, &train);
    let test_acc = test.as_ref().map(|t| accuracy(&net, t));
    // Robust accuracy: PGD (20 steps) at ε on the test set, or on the
    // training set when there is none; FGSM alongside.
    let robust = match args.adversarial {
        Some(eps) => {
            let on = test.as_ref().unwrap_or(&train);
            let y = Col::from_fn(on.y.len(), |i| on.y[i]);
            let attack = relu_convex_admm::PgdParams::new(eps).fixed_columns(&fixed);
            let pgd = relu_convex_admm::robust_accuracy(&net, on.x.as_ref(), &y, &attack)
                .map_err(|e| input(e, "--adversarial"))?;
            let fg = relu_convex_admm::fgsm(&net, on.x.as_ref(), &y, eps, &fixed)
                .map_err(|e| input(e, "--adversarial"))?;
            let fgsm = net.accuracy(fg.as_ref(), &y);
            Some((
                eps,
                pgd,
                fgsm,
                if test.is_some() { "test" } else { "train" },
            ))
        }
        None => None,
    };
    if args.json {
        let history: Vec<_> = rep
            .history
            .iter()
            .map(|r| {
                json!({"iteration": r.iteration, "objective": r.objective, "gap_bound": r.gap_bound,
                       "cone_violation": r.cone_violation, "primal_residual": r.primal_residual,
                       "dual_residual": r.dual_residual, "rho": r.rho, "seconds": r.seconds})
            })
            .collect();
        print_json(&json!({
            "data": args.data,
            "objective": rep.objective,
            "primal_residual": rep.primal_residual,
            "dual_residual": rep.dual_residual,
            "gap_bound": rep.gap_bound,
            "dual_bound": rep.dual_bound,
            "loss": loss.name(),
            "cone_violation": rep.cone_violation,
            "iterations": rep.iterations,
            "seconds": rep.elapsed.as_secs_f64(),
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "neurons": net.neurons(),
            "patterns": n_patterns,
            "pricing_rounds": args.pricing,
            "pricing_worst_violation": worst_violation,
            "beta": beta,
            "rho": rep.rho,
            "robust_accuracy": robust.map(|r| r.1),
            "fgsm_accuracy": robust.map(|r| r.2),
            "robust_accuracy_on": robust.map(|r| r.3),
            "adversarial_eps": robust.map(|r| r.0),
            "converged": rep.converged,
            "termination": crate::watch::termination(rep.termination.as_str()),
            "history": history,
        }));
    } else {
        outln!(
            "data              {} (n = {}, d = {})",
            args.data,
            n,
            train.x.ncols()
        );
        outln!("patterns          {n_patterns} (β = {beta:.4e})");
        if let Some(w) = worst_violation {
            outln!(
                "pricing           {} rounds, largest dual ratio left {w:.3}",
                args.pricing
            );
        }
        outln!(
            "iterations        {} ({})",
            rep.iterations,
            crate::watch::termination(rep.termination.as_str())
        );
        outln!("objective         {:.12e}", rep.objective);
        outln!(
            "residuals         primal {:.2e}, dual {:.2e}",
            rep.primal_residual,
            rep.dual_residual
        );
        outln!("cone violation    {:.2e}", rep.cone_violation);
        outln!(
            "certificate       p* ≥ {:.12e} (relative gap ≤ {:.2e})",
            rep.dual_bound,
            rep.gap_bound
        );
        outln!("neurons           {}", net.neurons());
        outln!("train accuracy    {:.2} %", 100.0 * train_acc);
        if let Some(a) = test_acc {
            outln!("test accuracy     {:.2} %", 100.0 * a);
        }
        if let Some((eps, pgd, fg, on)) = robust {
            outln!(
                "robust accuracy   {:.2} % under PGD, {:.2} % under FGSM (ε = {eps}, {on} set)",
                100.0 * pgd,
                100.0 * fg
            );
        }
        outln!(
            "time              {:.1} ms",
            rep.elapsed.as_secs_f64() * 1e3
        );
    }
    outcome(rep.converged, || {
        format!(
            "ADMM did not converge on {} in {} iterations (residuals {:.2e} / {:.2e}, gap bound {:.2e})",
            args.data, rep.iterations, rep.primal_residual, rep.dual_residual, rep.gap_bound
        )
    })
}
