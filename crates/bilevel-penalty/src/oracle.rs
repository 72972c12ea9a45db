//! Counted, checked oracle calls: every solver goes through this wrapper, so
//! the reports count each call per level and per variable, and a NaN from an
//! oracle is an error naming the oracle and the outer iteration.

use linalg_core::faer::{ColMut, ColRef};

use crate::problem::{BilevelProblem, StochasticBilevel};
use crate::{Error, Result};

/// Oracle calls of a run, per level and per variable.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OracleCalls {
    /// Values `f(x, y)`.
    pub f_values: usize,
    /// Values `g(x, y)`.
    pub g_values: usize,
    /// Gradients `∇ₓf`.
    pub f_grad_x: usize,
    /// Gradients `∇_y f`.
    pub f_grad_y: usize,
    /// Gradients `∇ₓg`.
    pub g_grad_x: usize,
    /// Gradients `∇_y g`.
    pub g_grad_y: usize,
    /// Products `∇²_yy g·v` (implicit differentiation).
    pub g_hvp_yy: usize,
    /// Products `∇²_xy g·v` (implicit differentiation).
    pub g_hvp_xy: usize,
    /// Per-sample gradient terms of the minibatch oracles (a batch of 64
    /// adds 64; each batch call also counts one in its gradient field).
    pub samples: usize,
}

impl OracleCalls {
    /// All gradient calls (the budget methods are compared at).
    pub fn gradient_calls(&self) -> usize {
        self.f_grad_x + self.f_grad_y + self.g_grad_x + self.g_grad_y
    }
    /// All Hessian-vector products.
    pub fn hvp_calls(&self) -> usize {
        self.g_hvp_yy + self.g_hvp_xy
    }
    /// All value calls.
    pub fn value_calls(&self) -> usize {
        self.f_values + self.g_values
    }
}

/// The problem with call counting and finiteness checks.
pub(crate) struct Oracle<'p, P: ?Sized> {
    p: &'p P,
    pub(crate) calls: OracleCalls,
    /// The outer iteration, for error messages.
    pub(crate) iteration: usize,
}

impl<'p, P: BilevelProblem + ?Sized> Oracle<'p, P> {
    pub(crate) fn new(p: &'p P) -> Self {
        Self {
            p,
            calls: OracleCalls::default(),
            iteration: 0,
        }
    }

    fn finite(&self, oracle: &'static str, v: f64) -> Result<f64> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::NonFinite {
                oracle,
                iteration: self.iteration,
            })
        }
    }

    fn finite_col(&self, oracle: &'static str, v: ColRef<'_, f64>) -> Result<()> {
        match v.iter().all(|e| e.is_finite()) {
            true => Ok(()),
            false => Err(Error::NonFinite {
                oracle,
                iteration: self.iteration,
            }),
        }
    }

    pub(crate) fn f(&mut self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> Result<f64> {
        self.calls.f_values += 1;
        let v = self.p.f(x, y);
        self.finite("f", v)
    }

    pub(crate) fn g(&mut self, x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> Result<f64> {
        self.calls.g_values += 1;
        let v = self.p.g(x, y);
        self.finite("g", v)
    }

    pub(crate) fn f_grad_x(
        &mut self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) -> Result<()> {
        self.calls.f_grad_x += 1;
        self.p.f_grad_x(x, y, out.as_mut());
        self.finite_col("f_grad_x", out.as_ref())
    }

    pub(crate) fn f_grad_y(
        &mut self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) -> Result<()> {
        self.calls.f_grad_y += 1;
        self.p.f_grad_y(x, y, out.as_mut());
        self.finite_col("f_grad_y", out.as_ref())
    }

    pub(crate) fn g_grad_x(
        &mut self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) -> Result<()> {
        self.calls.g_grad_x += 1;
        self.p.g_grad_x(x, y, out.as_mut());
        self.finite_col("g_grad_x", out.as_ref())
    }

    pub(crate) fn g_grad_y(
        &mut self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) -> Result<()> {
        self.calls.g_grad_y += 1;
        self.p.g_grad_y(x, y, out.as_mut());
        self.finite_col("g_grad_y", out.as_ref())
    }

    pub(crate) fn g_hvp_yy(
        &mut self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) -> Result<()> {
        self.calls.g_hvp_yy += 1;
        self.p.g_hvp_yy(x, y, v, out.as_mut());
        self.finite_col("g_hvp_yy", out.as_ref())
    }

    pub(crate) fn g_hvp_xy(
        &mut self,
        x: ColRef<'_, f64>,
        y: ColRef<'_, f64>,
        v: ColRef<'_, f64>,
        mut out: ColMut<'_, f64>,
    ) -> Result<()> {
        self.calls.g_hvp_xy += 1;
        self.p.g_hvp_xy(x, y, v, out.as_mut());
        self.finite_col("g_hvp_xy", out.as_ref())
    }

    pub(crate) fn problem(&self) -> &'p P {
        self.p
    }
}

/// The minibatch oracles, counted like the full ones (one call per batch)
/// plus the samples they touch.
macro_rules! batch_oracle {
    ($name:ident, $field:ident, $label:literal) => {
        pub(crate) fn $name(
            &mut self,
            x: ColRef<'_, f64>,
            y: ColRef<'_, f64>,
            batch: &[usize],
            mut out: ColMut<'_, f64>,
        ) -> Result<()> {
            self.calls.$field += 1;
            self.calls.samples += batch.len();
            self.p.$name(x, y, batch, out.as_mut());
            self.finite_col($label, out.as_ref())
        }
    };
}

impl<P: StochasticBilevel + ?Sized> Oracle<'_, P> {
    batch_oracle!(f_grad_x_batch, f_grad_x, "f_grad_x_batch");
    batch_oracle!(f_grad_y_batch, f_grad_y, "f_grad_y_batch");
    batch_oracle!(g_grad_x_batch, g_grad_x, "g_grad_x_batch");
    batch_oracle!(g_grad_y_batch, g_grad_y, "g_grad_y_batch");
}
