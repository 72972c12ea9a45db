//! Test and benchmark objectives of the gradient-normalised smoothness and
//! diffGrad papers, with exact gradients and Hessians (each checked against
//! finite differences in the tests) and their Hessian models. Logistic and
//! softmax regression, Rosenbrock and quadratics are shared by several
//! crates and live in `linalg_core::objective`.

mod chebyshev_rosenbrock;
mod log_sum_exp;
mod norm_pow4;
mod paper_functions;

pub use chebyshev_rosenbrock::ChebyshevRosenbrock;
pub use linalg_core::objective::{Logistic, Quadratic, Rosenbrock, Softmax};
pub use log_sum_exp::LogSumExp;
pub use norm_pow4::NormPow4;
pub use paper_functions::PaperFunction;
