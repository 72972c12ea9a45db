//! The shared solver shape for both drivers: observers stop a run with
//! `Cancelled`, every invalid parameter is a `ParamError` naming its field,
//! and the work counts are those of the iterations done.

use linalg_core::faer::Col;
use optimizers::objectives::{ChebyshevRosenbrock, LogSumExp, NormPow4, Rosenbrock};
use optimizers::{
    AdamParams, Control, Error, GrnParams, HessianKind, LinearSolver, Method, OptRecord,
    Regularisation, RunParams, Termination, grn, minimize,
};

fn stop_at_3(r: &OptRecord) -> Control {
    if r.iteration == 3 {
        Control::Stop
    } else {
        Control::Continue
    }
}

fn methods() -> Vec<Method> {
    let adam = AdamParams::lr(1e-2);
    vec![
        Method::Gd { lr: 1e-4 },
        Method::GdArmijo { lr0: 1.0 },
        Method::Nesterov { l: 2500.0, mu: 0.0 },
        Method::Tmm { l: 2500.0, mu: 0.4 },
        Method::Adam(adam),
        Method::AmsGrad(adam),
        Method::DiffGrad(adam),
    ]
}

#[test]
fn every_method_stops_from_its_observer_after_3_iterations() {
    let f = Rosenbrock::new(4).unwrap();
    let x0 = f.classic_start();
    for m in methods() {
        let rep = minimize(&f, x0.as_ref(), m, &RunParams::default(), stop_at_3).unwrap();
        assert_eq!(rep.termination, Termination::Cancelled, "{}", m.name());
        assert_eq!(rep.history.len(), 4, "{}", m.name());
        assert_eq!(rep.iterations, 3);
        assert!(!rep.converged);
        // One gradient per iteration and the start; Nesterov and TMM also
        // evaluate at the extrapolated point; Armijo counts its trials.
        let per = match m {
            Method::Nesterov { .. } | Method::Tmm { .. } => 2,
            _ => 1,
        };
        if !matches!(m, Method::GdArmijo { .. }) {
            assert_eq!(rep.work.gradient_evals, 1 + 3 * per, "{}", m.name());
        } else {
            assert_eq!(rep.work.gradient_evals, 1 + rep.work.trials);
            assert!(rep.work.trials >= 3);
        }
    }
    for solver in [
        LinearSolver::Direct,
        LinearSolver::MatrixFreeCg,
        LinearSolver::Auto,
    ] {
        let rep = grn(
            &f,
            x0.as_ref(),
            &GrnParams::default().solver(solver),
            stop_at_3,
        )
        .unwrap();
        assert_eq!(rep.termination, Termination::Cancelled);
        assert_eq!(rep.history.len(), 4);
        // Every trial evaluates a gradient, accepted or not.
        assert_eq!(rep.work.gradient_evals, 1 + rep.work.trials);
        assert!(rep.work.trials >= 3);
        match solver {
            LinearSolver::Direct => assert_eq!(rep.work.hessian_evals, 3),
            // Auto: the exact Hessian is solved matrix-free.
            LinearSolver::MatrixFreeCg | LinearSolver::Auto => {
                assert!(rep.work.hessian_vec_evals > 0 && rep.work.hessian_evals == 0)
            }
        }
    }
    // Reaching the limit is MaxIterations, with the limit's history.
    let rep = minimize(
        &f,
        x0.as_ref(),
        Method::Gd { lr: 1e-4 },
        &RunParams::default().max_iters(5),
        |_| Control::Continue,
    )
    .unwrap();
    assert_eq!(rep.termination, Termination::MaxIterations);
    assert_eq!(rep.history.len(), 6);
}

fn name_of<T: std::fmt::Debug>(r: optimizers::Result<T>) -> &'static str {
    match r {
        Err(e) => e
            .param_name()
            .unwrap_or_else(|| panic!("not a parameter error: {e}")),
        Ok(v) => panic!("accepted: {v:?}"),
    }
}

#[test]
fn every_invalid_parameter_is_named() {
    let f = Rosenbrock::new(2).unwrap();
    let x0 = f.classic_start();
    let go = |m: Method, run: RunParams| minimize(&f, x0.as_ref(), m, &run, |_| Control::Continue);
    let gd = Method::Gd { lr: 1e-3 };
    for (run, name) in [
        (RunParams::default().grad_tol(-1.0), "grad_tol"),
        (RunParams::default().grad_tol(f64::NAN), "grad_tol"),
        (RunParams::default().f_tol(-1.0), "f_tol"),
    ] {
        assert_eq!(name_of(run.validate()), name);
        assert_eq!(name_of(go(gd, run)), name);
    }
    let adam = AdamParams::default();
    for (m, name) in [
        (Method::Gd { lr: 0.0 }, "lr"),
        (Method::Gd { lr: f64::NAN }, "lr"),
        (Method::GdArmijo { lr0: -1.0 }, "lr0"),
        (Method::Nesterov { l: 0.0, mu: 0.0 }, "l"),
        (Method::Nesterov { l: 1.0, mu: 2.0 }, "mu"),
        (Method::Nesterov { l: 1.0, mu: -0.5 }, "mu"),
        (Method::Tmm { l: 1.0, mu: 0.0 }, "mu"),
        (Method::Tmm { l: 1.0, mu: 2.0 }, "mu"),
        (
            Method::Tmm {
                l: f64::INFINITY,
                mu: 0.5,
            },
            "l",
        ),
        (Method::Adam(adam.with_lr(-1.0)), "lr"),
        (Method::Adam(adam.eps(0.0)), "eps"),
        (Method::AmsGrad(adam.betas(1.0, 0.999)), "beta1"),
        (Method::DiffGrad(adam.betas(0.9, -0.1)), "beta2"),
        (Method::DiffGrad(adam.weight_decay(-1.0)), "weight_decay"),
    ] {
        assert_eq!(name_of(m.validate()), name, "{m:?}");
        assert_eq!(name_of(go(m, RunParams::default())), name, "{m:?}");
    }
    let nan_start = Col::from_fn(2, |i| if i == 1 { f64::NAN } else { 0.0 });
    assert_eq!(
        name_of(minimize(
            &f,
            nan_start.as_ref(),
            gd,
            &RunParams::default(),
            |_| Control::Continue
        )),
        "x0"
    );
    let base = GrnParams::default();
    for (p, name) in [
        (
            GrnParams {
                gamma_min: 0.0,
                ..base
            },
            "gamma_min",
        ),
        (
            base.regularisation(Regularisation::GradNorm { gamma0: -1.0 }),
            "gamma0",
        ),
        (
            base.regularisation(Regularisation::Mishchenko { h0: f64::NAN }),
            "h0",
        ),
        (base.max_trials(0), "max_trials"),
        (
            base.solver(LinearSolver::MatrixFreeCg)
                .hessian(HessianKind::Diagonal),
            "solver",
        ),
        (base.run(RunParams::default().grad_tol(-1.0)), "grad_tol"),
    ] {
        assert_eq!(name_of(p.validate()), name);
        assert_eq!(
            name_of(grn(&f, x0.as_ref(), &p, |_| Control::Continue)),
            name
        );
    }
    // A Hessian model the problem does not have is a named parameter error too.
    assert_eq!(
        name_of(grn(
            &f,
            x0.as_ref(),
            &base.hessian(HessianKind::Fisher),
            |_| { Control::Continue }
        )),
        "hessian"
    );
    assert_eq!(name_of(LogSumExp::random(0, 3, 1.0, 0)), "m");
    assert_eq!(name_of(LogSumExp::random(3, 0, 1.0, 0)), "n");
    assert_eq!(name_of(LogSumExp::random(3, 3, 0.0, 0)), "mu");
    assert_eq!(name_of(NormPow4::random(3, 0, 0)), "n");
    assert_eq!(name_of(ChebyshevRosenbrock::new(1, 4.0)), "n");
    assert_eq!(name_of(ChebyshevRosenbrock::new(3, 1.5)), "p");
    assert!(matches!(
        minimize(
            &f,
            Col::zeros(3).as_ref(),
            gd,
            &RunParams::default(),
            |_| Control::Continue
        ),
        Err(Error::Core(linalg_core::Error::DimensionMismatch { .. }))
    ));
}
