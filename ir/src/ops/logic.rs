//! Comparisons, boolean logic and selection (causal masks live here before
//! rewriting).

use super::OpDef;
use crate::shape::{broadcast_offsets, broadcast_shapes, expect_inputs};
use crate::{DType, Fact, OpError, Tensor, TensorData, bail_op};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CompareOp::Eq => a == b,
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
        }
    }
}

/// `out = a ⋈ b` (bool) after broadcasting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compare {
    pub op: CompareOp,
}

impl OpDef for Compare {
    fn name(&self) -> &'static str {
        match self.op {
            CompareOp::Eq => "eq",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
        }
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 2)?;
        if inputs[0].dtype != inputs[1].dtype {
            bail_op!("compared types differ: {} vs {}", inputs[0].dtype, inputs[1].dtype);
        }
        Ok(vec![Fact::new(DType::Bool, broadcast_shapes(&[&inputs[0].shape, &inputs[1].shape])?)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let (a, b) = (inputs[0], inputs[1]);
        let shape = broadcast_shapes(&[a.shape(), b.shape()])?;
        let o = broadcast_offsets(&[a.shape(), b.shape()], &shape);
        let pairs = o[0].iter().zip(&o[1]);
        let v: Vec<bool> = match (a.data(), b.data()) {
            (TensorData::F32(x), TensorData::F32(y)) => {
                pairs.map(|(&i, &j)| self.op.test(x[i], y[j])).collect()
            }
            (TensorData::I64(x), TensorData::I64(y)) => {
                pairs.map(|(&i, &j)| self.op.test(x[i], y[j])).collect()
            }
            (TensorData::Bool(x), TensorData::Bool(y)) => {
                pairs.map(|(&i, &j)| self.op.test(x[i], y[j])).collect()
            }
            _ => bail_op!("compared types differ"),
        };
        Ok(vec![Tensor::new(shape, TensorData::Bool(v))?])
    }
}

/// Boolean connectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogicOp {
    Not,
    And,
    Or,
    Xor,
}

/// `out = ¬a`, or `a ∧ b`, `a ∨ b`, `a ⊕ b` after broadcasting (bool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logic {
    pub op: LogicOp,
}

impl OpDef for Logic {
    fn name(&self) -> &'static str {
        match self.op {
            LogicOp::Not => "not",
            LogicOp::And => "and",
            LogicOp::Or => "or",
            LogicOp::Xor => "xor",
        }
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, if self.op == LogicOp::Not { 1 } else { 2 })?;
        if inputs.iter().any(|f| f.dtype != DType::Bool) {
            bail_op!("{} takes bool operands", self.name());
        }
        let shapes: Vec<&[usize]> = inputs.iter().map(|f| f.shape.as_slice()).collect();
        Ok(vec![Fact::new(DType::Bool, broadcast_shapes(&shapes)?)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let bools = |t: &Tensor| match t.data() {
            TensorData::Bool(v) => Ok(v.clone()),
            _ => Err(OpError::new("logic ops take bool operands")),
        };
        let a = bools(inputs[0])?;
        if self.op == LogicOp::Not {
            return Ok(vec![Tensor::new(
                inputs[0].shape(),
                TensorData::Bool(a.iter().map(|x| !x).collect()),
            )?]);
        }
        let b = bools(inputs[1])?;
        let shape = broadcast_shapes(&[inputs[0].shape(), inputs[1].shape()])?;
        let o = broadcast_offsets(&[inputs[0].shape(), inputs[1].shape()], &shape);
        let f = |x: bool, y: bool| match self.op {
            LogicOp::And => x && y,
            LogicOp::Or => x || y,
            _ => x != y,
        };
        let v = o[0].iter().zip(&o[1]).map(|(&i, &j)| f(a[i], b[j])).collect();
        Ok(vec![Tensor::new(shape, TensorData::Bool(v))?])
    }
}

/// `out = cond ? x : y` elementwise after three-way broadcasting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Where;

impl OpDef for Where {
    fn name(&self) -> &'static str {
        "where"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 3)?;
        if inputs[0].dtype != DType::Bool {
            bail_op!("condition must be bool, got {}", inputs[0].dtype);
        }
        if inputs[1].dtype != inputs[2].dtype {
            bail_op!("branches differ in type: {} vs {}", inputs[1].dtype, inputs[2].dtype);
        }
        let shape = broadcast_shapes(&[&inputs[0].shape, &inputs[1].shape, &inputs[2].shape])?;
        Ok(vec![Fact::new(inputs[1].dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let (c, x, y) = (inputs[0].as_bool()?, inputs[1], inputs[2]);
        let shapes = [inputs[0].shape(), x.shape(), y.shape()];
        let shape = broadcast_shapes(&shapes)?;
        let o = broadcast_offsets(&shapes, &shape);
        let pick = |i: usize| c[o[0][i]];
        let data = match (x.data(), y.data()) {
            (TensorData::F32(a), TensorData::F32(b)) => TensorData::F32(
                (0..o[0].len()).map(|i| if pick(i) { a[o[1][i]] } else { b[o[2][i]] }).collect(),
            ),
            (TensorData::I64(a), TensorData::I64(b)) => TensorData::I64(
                (0..o[0].len()).map(|i| if pick(i) { a[o[1][i]] } else { b[o[2][i]] }).collect(),
            ),
            (TensorData::Bool(a), TensorData::Bool(b)) => TensorData::Bool(
                (0..o[0].len()).map(|i| if pick(i) { a[o[1][i]] } else { b[o[2][i]] }).collect(),
            ),
            _ => bail_op!("branches differ in type"),
        };
        Ok(vec![Tensor::new(shape, data)?])
    }
}
