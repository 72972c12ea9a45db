//! Parameter checks shared by every params struct of the workspace.
//!
//! Each solver's params struct has a public `validate()` built from these
//! checks; solvers call it first. A rejected value is a [`ParamError`]
//! naming the field as the struct spells it (`"rtol"`, `"max_iters"`,
//! `"eps_scaling.factor"`), which each crate's `Error` wraps unchanged — so
//! a test can assert the name, and the command line can turn it into the
//! flag the user typed.
//!
//! ```
//! use linalg_core::param::{ParamError, positive, at_least};
//! assert!(positive("rtol", 1e-8).is_ok());
//! let e: ParamError = positive("rtol", -1.0).unwrap_err();
//! assert_eq!(e.name, "rtol");
//! assert_eq!(at_least("max_iters", 0, 1).unwrap_err().name, "max_iters");
//! ```

use faer::ColRef;

/// A parameter outside its valid range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter `{name}`: {reason}")]
pub struct ParamError {
    /// The field's name, as the params struct spells it.
    pub name: &'static str,
    /// Why the value was rejected (includes the value).
    pub reason: String,
}

impl ParamError {
    /// A rejection of `name` for `reason`.
    pub fn new(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            name,
            reason: reason.into(),
        }
    }
}

/// `Result` of a parameter check.
pub type ParamResult<T = ()> = std::result::Result<T, ParamError>;

/// `v` finite and `> 0`.
pub fn positive(name: &'static str, v: f64) -> ParamResult {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            name,
            format!("must be finite and > 0, got {v}"),
        ))
    }
}

/// `v` finite and `≥ 0`.
pub fn nonnegative(name: &'static str, v: f64) -> ParamResult {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            name,
            format!("must be finite and ≥ 0, got {v}"),
        ))
    }
}

/// `v ∈ [0, 1)` (decay rates, relative tolerances).
pub fn in_unit_interval(name: &'static str, v: f64) -> ParamResult {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(ParamError::new(name, format!("must be in [0, 1), got {v}")))
    }
}

/// `v ∈ (0, 1)` (contraction factors).
pub fn in_open_unit_interval(name: &'static str, v: f64) -> ParamResult {
    if v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(ParamError::new(name, format!("must be in (0, 1), got {v}")))
    }
}

/// `v` finite (any sign).
pub fn finite_value(name: &'static str, v: f64) -> ParamResult {
    if v.is_finite() {
        Ok(())
    } else {
        Err(ParamError::new(name, format!("must be finite, got {v}")))
    }
}

/// `v ≥ min` for counts (iteration limits, sizes).
pub fn at_least(name: &'static str, v: usize, min: usize) -> ParamResult {
    if v >= min {
        Ok(())
    } else {
        Err(ParamError::new(
            name,
            format!("must be at least {min}, got {v}"),
        ))
    }
}

/// `lo ≤ v ≤ hi` for a finite `v` (bounds that depend on another field).
pub fn in_range(name: &'static str, v: f64, lo: f64, hi: f64) -> ParamResult {
    if v.is_finite() && lo <= v && v <= hi {
        Ok(())
    } else {
        Err(ParamError::new(
            name,
            format!("must be in [{lo}, {hi}], got {v}"),
        ))
    }
}

/// The position of `value` in `names` (a choice by name: a method, a scene),
/// or an error listing the names.
pub fn one_of(name: &'static str, value: &str, names: &[&str]) -> ParamResult<usize> {
    names.iter().position(|s| *s == value).ok_or_else(|| {
        ParamError::new(
            name,
            format!(
                "unknown {name} `{value}` (expected one of {})",
                names.join(", ")
            ),
        )
    })
}

/// A vector argument of length `expected`.
pub fn dimension(name: &'static str, expected: usize, found: usize) -> ParamResult {
    if expected == found {
        Ok(())
    } else {
        Err(ParamError::new(
            name,
            format!("must have length {expected}, got {found}"),
        ))
    }
}

/// Every entry of `x` finite.
pub fn finite(name: &'static str, x: ColRef<'_, f64>) -> ParamResult {
    finite_slice_iter(name, x.iter().copied())
}

/// Every entry of the slice `x` finite.
pub fn finite_slice(name: &'static str, x: &[f64]) -> ParamResult {
    finite_slice_iter(name, x.iter().copied())
}

fn finite_slice_iter(name: &'static str, x: impl Iterator<Item = f64>) -> ParamResult {
    for (i, v) in x.enumerate() {
        if !v.is_finite() {
            return Err(ParamError::new(
                name,
                format!("non-finite entry {v} at index {i}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_accepts_its_range_and_names_the_field() {
        assert!(positive("a", 1.0).is_ok());
        for v in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(positive("a", v).unwrap_err().name, "a");
        }
        assert!(nonnegative("b", 0.0).is_ok());
        for v in [-1e-300, f64::NAN, f64::INFINITY] {
            assert_eq!(nonnegative("b", v).unwrap_err().name, "b");
        }
        assert!(in_unit_interval("c", 0.0).is_ok());
        for v in [1.0, -0.1, f64::NAN] {
            assert_eq!(in_unit_interval("c", v).unwrap_err().name, "c");
        }
        assert!(in_open_unit_interval("d", 0.5).is_ok());
        for v in [0.0, 1.0, f64::NAN] {
            assert_eq!(in_open_unit_interval("d", v).unwrap_err().name, "d");
        }
        assert!(at_least("e", 1, 1).is_ok());
        assert_eq!(at_least("e", 0, 1).unwrap_err().name, "e");
        assert!(in_range("f", 2.0, 0.0, 2.0).is_ok());
        assert_eq!(in_range("f", 2.5, 0.0, 2.0).unwrap_err().name, "f");
        assert_eq!(dimension("g", 3, 2).unwrap_err().name, "g");
        assert_eq!(one_of("method", "b", &["a", "b"]), Ok(1));
        let e = one_of("method", "z", &["a", "b"]).unwrap_err();
        assert_eq!(e.reason, "unknown method `z` (expected one of a, b)");
        let x = faer::Col::from_fn(3, |i| if i == 2 { f64::NAN } else { 1.0 });
        let e = finite("x0", x.as_ref()).unwrap_err();
        assert!(e.reason.contains("index 2"), "{e}");
        assert_eq!(
            e.to_string(),
            "invalid parameter `x0`: non-finite entry NaN at index 2"
        );
    }
}
