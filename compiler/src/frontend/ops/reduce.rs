//! Reductions. tract keeps reduced axes (size 1) and expresses `keepdims=0`
//! with a following axis removal, and `ReduceMean` as a sum and a division.

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::Topk;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};
use zkml_ir::ValueId;
use zkml_ir::ops::reduce::{self, ReduceOp};

pub(super) const ONNX: &[&str] = &[
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceSumSquare",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "ArgMax",
    "ArgMin",
    "TopK",
];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Reduce>(reduce);
    r.insert::<Topk>(topk);
}

/// `TopK` with a constant `k`: the values and the indices, one IR op each.
fn topk(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Topk>().ok_or_else(|| fail(node, "not a top-k"))?;
    let k = ctx
        .konst(node, 1)
        .and_then(|t| t.cast_to_scalar::<i64>().ok())
        .and_then(|k| usize::try_from(k).ok())
        .ok_or_else(|| fail(node, "TopK's k must be a constant, non-negative integer"))?;
    let mk = |indices| reduce::TopK { axis: op.axis, k, largest: op.largest, indices };
    let values = ctx.add(&node.name, mk(false), &args[..1])?;
    let indices = ctx.add(&format!("{}.indices", node.name), mk(true), &args[..1])?;
    Ok(vec![values, indices])
}

fn reduce(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Reduce>().ok_or_else(|| fail(node, "not a reduce"))?;
    if let Reducer::ArgMax(last) | Reducer::ArgMin(last) = op.reducer {
        // tract keeps the axis; `keepdims=0` is a following axis removal.
        let [axis] = op.axes.as_slice() else { return Err(fail(node, "an arg reduction over several axes")) };
        let min = matches!(op.reducer, Reducer::ArgMin(_));
        let arg = reduce::Arg { axis: *axis, keepdims: true, min, last };
        return Ok(vec![ctx.add(&node.name, arg, args)?]);
    }
    let r = match op.reducer {
        Reducer::Sum => ReduceOp::Sum,
        Reducer::Max => ReduceOp::Max,
        Reducer::Min => ReduceOp::Min,
        Reducer::Prod => ReduceOp::Prod,
        Reducer::MeanOfSquares => ReduceOp::MeanSquares,
        other => return Err(fail(node, format!("reducer {other:?} is not supported"))),
    };
    let mut axes: Vec<usize> = op.axes.iter().copied().collect();
    axes.sort_unstable();
    axes.dedup();
    Ok(vec![ctx.add(&node.name, reduce::Reduce { op: r, axes, keepdims: true }, args)?])
}
