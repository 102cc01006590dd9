//! Elementwise unary ops: activations, transcendental functions, casts.

use super::activation::LookupFn;
use super::{OpDef, expect_f32, map_f32};
use crate::shape::expect_inputs;
use crate::{DType, Fact, OpError, Tensor, TensorData, bail_op};
use serde::{Deserialize, Serialize};

/// A float-level elementwise function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// A function of the activation table (see [`super::activation`]); the
    /// rewrite stage makes it a `lookup` of the same function.
    Fn(LookupFn),
    Neg,
    Square,
}

impl UnaryOp {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryOp::Fn(f) => f.apply(x),
            UnaryOp::Neg => -x,
            UnaryOp::Square => x * x,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Fn(f) => f.name(),
            UnaryOp::Neg => "neg",
            UnaryOp::Square => "square",
        }
    }
}

impl From<LookupFn> for UnaryOp {
    fn from(f: LookupFn) -> UnaryOp {
        UnaryOp::Fn(f)
    }
}

/// `out = f(x)` elementwise, f32 (and i64 for `Neg`/`Square`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unary {
    pub op: UnaryOp,
}

impl Unary {
    fn int_ok(&self) -> bool {
        matches!(self.op, UnaryOp::Neg | UnaryOp::Square)
    }
}

impl OpDef for Unary {
    fn name(&self) -> &'static str {
        self.op.name()
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        match self.op {
            UnaryOp::Fn(f) => f.params().into_iter().map(|(n, v)| (n, format!("{:?}", v as f32))).collect(),
            _ => vec![],
        }
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        if !(self.int_ok() && inputs[0].dtype == DType::I64) {
            expect_f32(inputs, self.op.name())?;
        }
        Ok(vec![inputs[0].clone()])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        if let TensorData::I64(v) = x.data() {
            let f = |a: i64| match self.op {
                UnaryOp::Neg => a.wrapping_neg(),
                _ => a.wrapping_mul(a),
            };
            return Ok(vec![Tensor::from_i64(x.shape(), v.iter().map(|&a| f(a)).collect())?]);
        }
        Ok(vec![map_f32(x, |v| self.op.apply(v))?])
    }
}

/// Element type conversion among f32, i64 and bool (ONNX `Cast` semantics:
/// float to int truncates toward zero, nonzero is `true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cast {
    pub to: DType,
}

impl OpDef for Cast {
    fn name(&self) -> &'static str {
        "cast"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("to", self.to.to_string())]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        if !matches!(self.to, DType::F32 | DType::I64 | DType::Bool) {
            bail_op!("cast to {} is not a float-level cast", self.to);
        }
        Ok(vec![Fact::new(self.to, inputs[0].shape.clone())])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let data = match (x.data(), self.to) {
            (TensorData::F32(v), DType::I64) => TensorData::I64(v.iter().map(|&a| a as i64).collect()),
            (TensorData::F32(v), DType::Bool) => TensorData::Bool(v.iter().map(|&a| a != 0.0).collect()),
            (TensorData::I64(v), DType::F32) => TensorData::F32(v.iter().map(|&a| a as f32).collect()),
            (TensorData::I64(v), DType::Bool) => TensorData::Bool(v.iter().map(|&a| a != 0).collect()),
            (TensorData::Bool(v), DType::F32) => TensorData::F32(v.iter().map(|&a| a as u8 as f32).collect()),
            (TensorData::Bool(v), DType::I64) => TensorData::I64(v.iter().map(|&a| a as i64).collect()),
            (d, _) => d.clone(),
        };
        Ok(vec![Tensor::new(x.shape(), data)?])
    }
}

/// `out = min(max(x, min), max)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub min: f32,
    pub max: f32,
}

impl OpDef for Clip {
    fn name(&self) -> &'static str {
        "clip"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("min", format!("{:?}", self.min)), ("max", format!("{:?}", self.max))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        expect_f32(inputs, "clip")?;
        Ok(vec![inputs[0].clone()])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        Ok(vec![map_f32(inputs[0], |x| x.max(self.min).min(self.max))?])
    }
}
