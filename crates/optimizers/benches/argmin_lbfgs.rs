//! `argmin`'s L-BFGS on a `linalg_core::Objective` (the Rust peer in the
//! benches and in the logistic-regression test). Shared by `#[path]`.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use linalg_core::Objective;
use linalg_core::faer::Col;

/// `argmin` adaptor over `Vec<f64>` (argmin-math has no faer 0.24 backend).
pub struct Argmin<'a, O>(&'a O);

impl<O: Objective> CostFunction for Argmin<'_, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.0.value(Col::from_fn(p.len(), |i| p[i]).as_ref()))
    }
}

impl<O: Objective> Gradient for Argmin<'_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        let mut g = Col::zeros(p.len());
        self.0
            .gradient(Col::from_fn(p.len(), |i| p[i]).as_ref(), g.as_mut());
        Ok(g.iter().copied().collect())
    }
}

/// L-BFGS (memory 10, Moré–Thuente) from zeros to ‖∇f‖₂ ≤ 1e-8: (iterations, final ‖∇f‖₂).
pub fn lbfgs<O: Objective>(obj: &O) -> (usize, f64) {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-8)
        .expect("tolerance")
        .with_tolerance_cost(0.0)
        .expect("tolerance");
    let res = Executor::new(Argmin(obj), solver)
        .configure(|s| s.param(vec![0.0; obj.dim()]).max_iters(20_000))
        .run()
        .expect("L-BFGS");
    let x = res.state().get_best_param().expect("param").clone();
    let mut g = Col::zeros(x.len());
    obj.gradient(Col::from_fn(x.len(), |i| x[i]).as_ref(), g.as_mut());
    (res.state().get_iter() as usize, g.norm_l2())
}
