//! The one generic nonlinearity of the provable core: a requantizing table.
//!
//! A `Lookup` maps an input integer `q_in` (of `in_bits` bits, real value
//! `q_in · in_scale`) to `round(f(q_in · in_scale) / out_scale)` clamped to
//! `out_bits` bits. The table is a function of the [`TableSpec`] alone, so
//! two lookups with equal specs share one table. Before quantization (this
//! crate's f32 evaluator) a lookup simply applies `f`.

use super::{OpDef, expect_f32, map_f32};
use crate::{Fact, OpError, Tensor};
use serde::{Deserialize, Serialize};

/// The real function tabulated by a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LookupFn {
    /// Plain requantization.
    Identity,
    Relu,
    /// `x · Φ(x)` (erf form).
    Gelu,
    /// `0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))`.
    GeluTanh,
    Silu,
    Sigmoid,
    Tanh,
    Exp,
    Reciprocal,
    Rsqrt,
}

impl LookupFn {
    pub fn apply(self, x: f32) -> f32 {
        use super::unary::UnaryOp as U;
        match self {
            LookupFn::Identity => x,
            LookupFn::Relu => U::Relu.apply(x),
            LookupFn::Gelu => U::Gelu.apply(x),
            LookupFn::GeluTanh => U::GeluTanh.apply(x),
            LookupFn::Silu => U::Silu.apply(x),
            LookupFn::Sigmoid => U::Sigmoid.apply(x),
            LookupFn::Tanh => U::Tanh.apply(x),
            LookupFn::Exp => U::Exp.apply(x),
            LookupFn::Reciprocal => U::Reciprocal.apply(x),
            LookupFn::Rsqrt => U::Rsqrt.apply(x),
        }
    }
}

/// Everything that determines a table's contents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TableSpec {
    pub func: LookupFn,
    pub in_scale: f32,
    pub out_scale: f32,
    pub in_bits: u8,
    pub out_bits: u8,
}

/// Elementwise table lookup (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub table: TableSpec,
}

impl OpDef for Lookup {
    fn name(&self) -> &'static str {
        "lookup"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let t = &self.table;
        vec![
            ("fn", format!("{:?}", t.func).to_lowercase()),
            ("in", format!("q{}@{:e}", t.in_bits, t.in_scale)),
            ("out", format!("q{}@{:e}", t.out_bits, t.out_scale)),
        ]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        crate::shape::expect_inputs(inputs, 1)?;
        expect_f32(inputs, "lookup")?;
        Ok(vec![inputs[0].clone()])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        Ok(vec![map_f32(inputs[0], |x| self.table.func.apply(x))?])
    }
}
