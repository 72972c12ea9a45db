//! The shared solver shape: observers stop each solver with `Cancelled`,
//! and every invalid parameter is a `ParamError` naming its field.

use deep_cg::data::RitzParams;
use deep_cg::*;
use linalg_core::CgRecord;

fn system() -> PoissonSystem {
    PoissonSystem::new(Scene::SmokePlume.build(16, 0).unwrap())
}

#[test]
fn every_solver_stops_from_its_observer_after_3_iterations() {
    let sys = system();
    let b = sys.divergence_rhs(1);
    for method in Method::ALL {
        let rep = solve(
            &sys,
            b.as_ref(),
            &SolveParams::new(method),
            |r: &CgRecord| {
                if r.iteration == 3 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
        )
        .unwrap();
        assert_eq!(rep.termination, Termination::Cancelled, "{}", method.name());
        assert_eq!(
            (rep.history.len(), rep.iterations),
            (4, 3),
            "{}",
            method.name()
        );
        assert!(!rep.converged);
        assert_eq!(rep.work.precond_applies, 4);
    }
    let rep = dcdm(
        &sys,
        b.as_ref(),
        &mut IdentityModel,
        &DcdmParams::default(),
        |r: &DcdmRecord| {
            if r.iteration == 3 {
                Control::Stop
            } else {
                Control::Continue
            }
        },
    )
    .unwrap();
    assert_eq!(rep.termination, Termination::Cancelled);
    assert_eq!((rep.history.len(), rep.iterations), (4, 3));
    // One model call and (recomputed residual) two stencil products per iteration.
    assert_eq!((rep.work.precond_applies, rep.work.matvecs), (3, 6));
}

fn name_of<T>(r: Result<T>) -> &'static str {
    match r {
        Err(e) => e
            .param_name()
            .unwrap_or_else(|| panic!("not a parameter error: {e}")),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn every_invalid_parameter_is_named() {
    let sys = system();
    let b = sys.divergence_rhs(1);
    let mg = SolveParams::new(Method::MgPcg);
    for (p, name) in [
        (mg.rtol(-1.0), "rtol"),
        (mg.rtol(1.5), "rtol"),
        (mg.max_iters(0), "max_iters"),
        (mg.multigrid(MultigridParams::default().sweeps(0)), "sweeps"),
        (
            mg.multigrid(MultigridParams::default().coarse_sweeps(0)),
            "coarse_sweeps",
        ),
        (
            mg.multigrid(MultigridParams::default().coarsest(1)),
            "coarsest",
        ),
    ] {
        assert_eq!(name_of(p.validate()), name);
        assert_eq!(
            name_of(solve(&sys, b.as_ref(), &p, |_| Control::Continue)),
            name
        );
    }
    let d = DcdmParams::default();
    for (p, name) in [
        (d.rtol(0.0), "rtol"),
        (d.rtol(f64::NAN), "rtol"),
        (d.max_iters(0), "max_iters"),
        (d.k(0), "k"),
        (
            d.residual(ResidualMode::Update { refresh_every: 0 }),
            "refresh_every",
        ),
    ] {
        assert_eq!(name_of(p.validate()), name);
        assert_eq!(
            name_of(dcdm(&sys, b.as_ref(), &mut IdentityModel, &p, |_| {
                Control::Continue
            })),
            name
        );
    }
    for (p, name) in [
        (RitzParams::new(0), "m"),
        (RitzParams::new(5).low_weight(0.0), "low_weight"),
        (RitzParams::new(5).min_value(-1.0), "min_value"),
    ] {
        assert_eq!(name_of(p.validate()), name);
        assert_eq!(name_of(deep_cg::data::ritz_basis(&sys, &p)), name);
    }
    assert_eq!(name_of(Method::from_name("gmres")), "method");
    assert_eq!(name_of(Scene::from_name("teapot")), "scene");
}
