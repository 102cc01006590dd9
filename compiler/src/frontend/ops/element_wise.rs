//! Elementwise arithmetic, comparisons and casts (activations are in
//! [`super::activation`]).
//!
//! tract lowers `Relu` to `Max(x, 0)`, `Clip` to `Max`/`Min`; `Neg` reaches
//! us as a tract elementwise op, lowered with the activations.

use super::{Ctx, Registry, fail, ir_fact};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use zkml_ir::ValueId;
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::logic::{Compare, CompareOp, Logic, LogicOp};
use zkml_ir::ops::unary;

pub(super) const ONNX: &[&str] = &[
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Relu",
    "Clip",
    "Neg",
    "Cast",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "Not",
    "And",
    "Or",
    "Xor",
];

pub(super) fn register(r: &mut Registry) {
    r.insert::<TypedBinOp>(binary);
    r.insert::<Cast>(cast);
}

fn binary(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<TypedBinOp>().ok_or_else(|| fail(node, "not a binary op"))?;
    let name = op.0.name();
    let arith = match name {
        "Add" => Some(BinaryOp::Add),
        "Sub" => Some(BinaryOp::Sub),
        "Mul" => Some(BinaryOp::Mul),
        "Div" => Some(BinaryOp::Div),
        "Pow" => Some(BinaryOp::Pow),
        "Max" => Some(BinaryOp::Max),
        "Min" => Some(BinaryOp::Min),
        _ => None,
    };
    if let Some(op) = arith {
        return Ok(vec![ctx.add(&node.name, Binary { op }, args)?]);
    }
    let logic = match name {
        "And" => Some(LogicOp::And),
        "Or" => Some(LogicOp::Or),
        "Xor" => Some(LogicOp::Xor),
        _ => None,
    };
    if let Some(op) = logic {
        return Ok(vec![ctx.add(&node.name, Logic { op }, args)?]);
    }
    let cmp = match name {
        "Eq" => CompareOp::Eq,
        "LT" => CompareOp::Lt,
        "LTE" => CompareOp::Le,
        "GT" => CompareOp::Gt,
        "GTE" => CompareOp::Ge,
        other => return Err(fail(node, format!("binary op {other} is not supported"))),
    };
    Ok(vec![ctx.add(&node.name, Compare { op: cmp }, args)?])
}

fn cast(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let to = ir_fact(&node.outputs[0].fact).map_err(|m| fail(node, m))?.dtype;
    if ctx.fact(args[0]).dtype == to {
        return Ok(vec![args[0]]); // tract casts between types we represent alike
    }
    Ok(vec![ctx.add(&node.name, unary::Cast { to }, args)?])
}
