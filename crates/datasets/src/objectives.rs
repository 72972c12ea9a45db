//! The shared objectives of `linalg_core::objective` built from the embedded
//! tables: what the command line, tests, examples and benches use, so that
//! the algorithm crates need not depend on this crate.
//!
//! ```
//! use linalg_core::Objective;
//! let f = datasets::objectives::logistic("breast_cancer", 1e-3).unwrap();
//! assert_eq!(f.dim(), 31); // 30 features + intercept
//! ```

use linalg_core::ParamError;
use linalg_core::objective::{Logistic, Softmax};

use crate::{Result, by_name, standardize};

fn dataset(name: &str) -> Result<crate::Dataset> {
    by_name(name).ok_or_else(|| {
        ParamError::new(
            "dataset",
            format!(
                "unknown dataset `{name}` (one of {})",
                crate::NAMES.join(", ")
            ),
        )
        .into()
    })
}

/// Binary logistic regression on a standardised table: `breast_cancer`, or
/// classes 0 vs 1 of a multi-class table (`wine`, `iris`, `digits`).
pub fn logistic(name: &str, reg: f64) -> Result<Logistic> {
    let data = dataset(name)?;
    let mut data = if data.n_classes() == 2 {
        data
    } else {
        data.binary(0, 1)?
    };
    standardize(&mut data.features)?;
    let y: Vec<f64> = data.signed_labels()?.iter().copied().collect();
    Ok(Logistic::new(data.features.as_ref(), &y, reg)?)
}

/// Multinomial regression over all classes of a standardised table
/// (`digits`, `wine`, `iris`, …).
pub fn softmax(name: &str, reg: f64) -> Result<Softmax> {
    let mut data = dataset(name)?;
    standardize(&mut data.features)?;
    Ok(Softmax::new(
        data.features.as_ref(),
        &data.labels,
        data.n_classes(),
        reg,
    )?)
}

#[cfg(test)]
mod tests {
    use linalg_core::Objective;

    #[test]
    fn loaders_build_the_expected_sizes_and_reject_unknown_names() {
        assert_eq!(super::logistic("wine", 0.0).unwrap().dim(), 14);
        assert_eq!(super::softmax("iris", 0.0).unwrap().dim(), 5 * 3);
        let e = super::softmax("mnist", 0.0).unwrap_err();
        assert!(e.to_string().contains("unknown dataset `mnist`"), "{e}");
        assert!(matches!(
            super::logistic("iris", -1.0),
            Err(crate::Error::Core(linalg_core::Error::Param(
                linalg_core::ParamError { name: "reg", .. }
            )))
        ));
    }
}
