//! Softmax. (tract expands `LayerNormalization` into reductions and
//! elementwise ops, and folds `BatchNormalization` into a multiply-add, so
//! those ONNX ops arrive here as other families' ops.)

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use zkml_ir::ValueId;
use zkml_ir::ops::lookup::LookupFn;
use zkml_ir::ops::nn;
use zkml_ir::ops::unary::{Unary, UnaryOp};

/// Normalisations tract expands into primitives (means, squares, square
/// roots, divisions) are listed here too: their lowering is their parts'.
pub(super) const ONNX: &[&str] = &[
    "Softmax",
    "LogSoftmax",
    "LayerNormalization",
    "BatchNormalization",
    "InstanceNormalization",
    "MeanVarianceNormalization",
    "LpNormalization",
];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Softmax>(softmax);
}

fn softmax(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Softmax>().ok_or_else(|| fail(node, "not a softmax"))?;
    let [axis] = op.axes.as_slice() else {
        return Err(fail(node, format!("softmax over several axes {:?} is not supported", op.axes)));
    };
    if op.quant_output_dt.is_some() {
        return Err(fail(node, "quantized softmax is not supported"));
    }
    let sm_name = match op.kind {
        SoftmaxKind::Softmax => node.name.clone(),
        SoftmaxKind::LogSoftmax => format!("{}.softmax", node.name),
    };
    let v = ctx.add(&sm_name, nn::Softmax { axis: *axis }, args)?;
    Ok(vec![match op.kind {
        SoftmaxKind::Softmax => v,
        SoftmaxKind::LogSoftmax => ctx.add(&node.name, Unary { op: UnaryOp::Fn(LookupFn::Log) }, &[v])?,
    }])
}
