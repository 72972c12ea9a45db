use deep_cg::*;
#[test]
#[ignore]
fn probe() {
    for n in [32usize, 64] {
        for scene in [
            Scene::Box,
            Scene::SmokePlume,
            Scene::Sphere,
            Scene::Bunny,
            Scene::Mixed,
        ] {
            let sys = PoissonSystem::new(scene.build(n, 0).unwrap());
            let b = sys.divergence_rhs(1);
            let mut line = format!(
                "{n:>3} {:<12} regions {} sing {}",
                scene.name(),
                sys.regions().count(),
                sys.regions().any_singular()
            );
            for m in Method::ALL {
                if n == 64 && (m == Method::Cg || m == Method::JacobiPcg) && scene != Scene::Box {
                    continue;
                }
                let r = solve(&sys, &b, &SolveParams::new(m).rtol(1e-8)).unwrap();
                line += &format!(
                    " | {} {} it {:.1}+{:.1} ms rr {:.1e} inc {:.0e}",
                    m.name(),
                    r.iterations,
                    r.setup_seconds * 1e3,
                    r.seconds * 1e3,
                    r.relative_residual,
                    r.inconsistency
                );
            }
            println!("{line}");
        }
    }
}
