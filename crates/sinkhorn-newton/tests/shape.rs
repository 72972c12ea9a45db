//! The shared solver shape: observers stop each solver with `Cancelled`,
//! every invalid parameter is a `ParamError` naming its field, and the work
//! counts follow the iterations.

use linalg_core::faer::Col;
use sinkhorn_newton::*;

fn problem() -> OtProblem {
    instances::random_assignment(40, 3)
        .unwrap()
        .problem(1.0 / 200.0)
        .unwrap()
}

fn stop_at_3(r: &OtRecord) -> Control {
    if r.iteration == 3 {
        Control::Stop
    } else {
        Control::Continue
    }
}

#[test]
fn every_solver_stops_from_its_observer_after_3_iterations() {
    let p = problem();
    let s = sinkhorn(&p, &SinkhornParams::default(), None, stop_at_3).unwrap();
    assert_eq!(s.termination, Termination::Cancelled);
    assert_eq!((s.history.len(), s.iterations), (3, 3));
    assert!(!s.converged);
    // Two passes over the kernel per sweep, no error checks before the 10th.
    assert_eq!(s.work.matvecs, 6);
    // SNS and dense Newton, stopped in the Sinkhorn stage and in the Newton stage.
    let sns_params = SnsParams::default().sinkhorn_iters(2);
    for rep in [
        sns(&p, &sns_params, stop_at_3).unwrap(),
        newton_dense(&p, &sns_params, stop_at_3).unwrap(),
        sns(&p, &SnsParams::default(), stop_at_3).unwrap(),
    ] {
        assert_eq!(rep.termination, Termination::Cancelled);
        assert_eq!(rep.history.len(), 3);
        assert_eq!(rep.iterations, 3);
    }
    let rep = sns(&p, &sns_params, stop_at_3).unwrap();
    assert_eq!(rep.history[2].stage, Stage::Newton);
    assert_eq!((rep.sinkhorn_iterations, rep.newton_iterations), (2, 1));
    assert_eq!(rep.work.hessian_evals, 1);
    assert!(rep.work.hessian_vec_evals > 0 && rep.work.trials >= 1);
    // A full run converges, and its record count is its iteration count.
    let full = sns(&p, &SnsParams::default(), |_| Control::Continue).unwrap();
    assert_eq!(full.termination, Termination::Converged);
    assert_eq!(full.history.len(), full.iterations);
}

fn name_of<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
    match r {
        Err(e) => e
            .param_name()
            .unwrap_or_else(|| panic!("not a parameter error: {e}")),
        Ok(v) => panic!("accepted: {v:?}"),
    }
}

#[test]
fn every_invalid_parameter_is_named() {
    let p = problem();
    let base = SinkhornParams::default();
    for (params, name) in [
        (base.marginal_tol(0.0), "marginal_tol"),
        (base.marginal_tol(f64::NAN), "marginal_tol"),
        (base.max_iters(0), "max_iters"),
        (base.check_every(0), "check_every"),
        (
            base.eps_scaling(Some(EpsScaling::new(1.0, 1.0))),
            "eps_scaling.factor",
        ),
        (
            base.eps_scaling(Some(EpsScaling::new(-1.0, 0.5))),
            "eps_scaling.start",
        ),
        (
            base.eps_scaling(Some(EpsScaling::new(1.0, 0.5).stage_tol(0.0))),
            "eps_scaling.stage_tol",
        ),
    ] {
        assert_eq!(name_of(params.validate()), name);
        assert_eq!(
            name_of(sinkhorn(&p, &params, None, |_| Control::Continue).map(|r| r.cost)),
            name
        );
    }
    // The defaults are valid.
    assert!(SinkhornParams::default().validate().is_ok());
    assert!(SnsParams::default().validate().is_ok());
    assert!(EpsScaling::default().validate().is_ok());
    let base = SnsParams::default();
    for (params, name) in [
        (base.marginal_tol(-1.0), "marginal_tol"),
        (base.shift_mu(-1.0), "shift_mu"),
        (base.cg_rtol(1.0), "cg_rtol"),
        (base.keep(Some(0)), "keep"),
        (base.switch_ratio(Some(1.0)), "switch_ratio"),
        (base.switch_ratio(Some(f64::NAN)), "switch_ratio"),
    ] {
        assert_eq!(name_of(params.validate()), name);
        assert_eq!(
            name_of(sns(&p, &params, |_| Control::Continue).map(|r| r.cost)),
            name
        );
    }
    let r = OtProblem::uniform(3);
    let c = linalg_core::faer::Mat::<f64>::zeros(3, 3);
    assert_eq!(
        name_of(OtProblem::new(r.as_ref(), r.as_ref(), c.as_ref(), 0.0)),
        "reg"
    );
    let rep = sinkhorn(&p, &SinkhornParams::default(), None, |_| Control::Continue).unwrap();
    assert_eq!(
        name_of(rep.sparse_plan(-1.0).map(|s| s.compute_nnz())),
        "threshold"
    );
    let nan = Col::from_fn(40, |i| if i == 7 { f64::NAN } else { 0.0 });
    let ok = Col::<f64>::zeros(40);
    assert_eq!(
        name_of(
            sinkhorn(
                &p,
                &SinkhornParams::default(),
                Some((nan.as_ref(), ok.as_ref())),
                |_| { Control::Continue }
            )
            .map(|r| r.cost)
        ),
        "warm_x"
    );
    assert_eq!(
        name_of(instances::random_assignment(0, 0).map(|i| i.r.nrows())),
        "n"
    );
    assert_eq!(name_of(cost::grid(2, 2, 3).map(|c| c.nrows())), "q");
}
