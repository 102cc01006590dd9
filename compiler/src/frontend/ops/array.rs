//! Layout ops: reshapes and transposes (tract's `AxisOp`), slices, concat,
//! gather, pad and broadcast.

use super::{Ctx, Registry, fail, konst_i64};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    Gather, MultiBroadcastTo, Pad, PadMode, Slice, StridedSlice, TypedConcat,
};
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use zkml_ir::ValueId;
use zkml_ir::ops::layout;

pub(super) const ONNX: &[&str] = &[
    "DepthToSpace",
    "SpaceToDepth",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Slice",
    "Split",
    "Concat",
    "Gather",
    "Pad",
    "Expand",
];

pub(super) fn register(r: &mut Registry) {
    r.insert::<AxisOp>(axis_op);
    r.insert::<Slice>(slice);
    r.insert::<StridedSlice>(strided_slice);
    r.insert::<TypedConcat>(concat);
    r.insert::<Gather>(gather);
    r.insert::<Pad>(pad);
    r.insert::<MultiBroadcastTo>(broadcast);
}

fn axis_op(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<AxisOp>().ok_or_else(|| fail(node, "not an axis op"))?;
    let v = match op {
        AxisOp::Move(from, to) => {
            let mut perm: Vec<usize> = (0..ctx.fact(args[0]).rank()).collect();
            let a = perm.remove(*from);
            perm.insert(*to, a);
            ctx.add(&node.name, layout::Transpose { perm }, args)?
        }
        _ => {
            let shape = ctx.out_shape(node)?;
            ctx.add(&node.name, layout::Reshape { shape }, args)?
        }
    };
    Ok(vec![v])
}

fn slice(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Slice>().ok_or_else(|| fail(node, "not a slice"))?;
    let (start, end) = (op.start.to_i64(), op.end.to_i64());
    let (Ok(start), Ok(end)) = (start, end) else {
        return Err(fail(node, "symbolic slice bounds"));
    };
    Ok(vec![ctx.add(&node.name, layout::Slice { axis: op.axis, start, end, step: 1 }, args)?])
}

/// ONNX `Slice` semantics (opset ≥ 10): per listed axis, negative bounds
/// count from the end, then bounds are clamped to `[0, d]` for positive
/// steps and `[-1, d-1]` for negative ones. Lowered to one `slice` per axis.
fn strided_slice(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<StridedSlice>().ok_or_else(|| fail(node, "not a strided slice"))?;
    if op.begin_mask != 0 || op.end_mask != 0 || op.shrink_axis_mask != 0 {
        return Err(fail(node, "TensorFlow-style slice masks are not supported"));
    }
    let shape = ctx.fact(args[0]).shape.clone();
    let rank = shape.len();
    let starts = konst_i64(ctx, node, 1)?;
    let ends = konst_i64(ctx, node, 2)?;
    let axes = match op.optional_axes_input {
        Some(i) => konst_i64(ctx, node, i)?,
        None => (0..starts.len() as i64).collect(),
    };
    let steps = match op.optional_steps_input {
        Some(i) => konst_i64(ctx, node, i)?,
        None => vec![1; starts.len()],
    };
    if [ends.len(), axes.len(), steps.len()].iter().any(|&l| l != starts.len()) {
        return Err(fail(node, "starts, ends, axes and steps differ in length"));
    }
    let mut v = args[0];
    for i in 0..starts.len() {
        let axis = zkml_ir::shape::normalize_axis(axes[i], rank).map_err(|e| fail(node, e.to_string()))?;
        let d = shape[axis] as i64;
        let step = steps[i];
        if step == 0 {
            return Err(fail(node, "slice step 0"));
        }
        let fix = |b: i64| if b < 0 { b.saturating_add(d) } else { b };
        let (start, end) = if step > 0 {
            (fix(starts[i]).clamp(0, d), fix(ends[i]).clamp(0, d))
        } else {
            (fix(starts[i]).clamp(0, d - 1), fix(ends[i]).clamp(-1, d - 1))
        };
        let name =
            if i + 1 == starts.len() { node.name.clone() } else { format!("{}.axis{axis}", node.name) };
        v = ctx.add(&name, layout::Slice { axis, start, end, step }, &[v])?;
    }
    Ok(vec![v])
}

fn concat(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<TypedConcat>().ok_or_else(|| fail(node, "not a concat"))?;
    Ok(vec![ctx.add(&node.name, layout::Concat { axis: op.axis }, args)?])
}

fn gather(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Gather>().ok_or_else(|| fail(node, "not a gather"))?;
    if op.output_type.is_some() {
        return Err(fail(node, "block-quantized gather is not supported"));
    }
    Ok(vec![ctx.add(&node.name, layout::Gather { axis: op.axis }, args)?])
}

fn pad(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Pad>().ok_or_else(|| fail(node, "not a pad"))?;
    let PadMode::Constant(c) = &op.mode else {
        return Err(fail(node, format!("pad mode {:?} is not supported (only constant)", op.mode)));
    };
    let c = super::ir_tensor(c).map_err(|m| fail(node, m))?;
    let value = match c.data() {
        zkml_ir::TensorData::F32(v) => v.first().copied().unwrap_or(0.0),
        zkml_ir::TensorData::Bool(v) => v.first().copied().unwrap_or(false) as u8 as f32,
        _ => c.as_i64().map_err(|m| fail(node, m.to_string()))?.first().copied().unwrap_or(0) as f32,
    };
    Ok(vec![ctx.add(&node.name, layout::Pad { pads: op.pads.clone(), value }, args)?])
}

fn broadcast(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let shape = ctx.out_shape(node)?;
    Ok(vec![ctx.add(&node.name, layout::Expand { shape }, args)?])
}
