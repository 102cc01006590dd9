//! Layout ops: reshapes and transposes (tract's `AxisOp`), slices, concat,
//! gather, pad and broadcast.

use super::{Ctx, Registry, fail, konst_i64};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    CumSum, Gather, MultiBroadcastTo, OneHot, Pad, PadMode, Slice, StridedSlice, Tile, TypedConcat,
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
    "Tile",
    "OneHot",
    "Hardmax",
    "CumSum",
];

pub(super) fn register(r: &mut Registry) {
    r.insert::<AxisOp>(axis_op);
    r.insert::<Slice>(slice);
    r.insert::<StridedSlice>(strided_slice);
    r.insert::<TypedConcat>(concat);
    r.insert::<Gather>(gather);
    r.insert::<Pad>(pad);
    r.insert::<MultiBroadcastTo>(broadcast);
    r.insert::<Tile>(tile);
    r.insert::<OneHot>(one_hot);
    r.insert::<CumSum>(cumsum);
}

/// `CumSum` along an axis of `n`: one einsum with the constant 0/1
/// triangle `T[i, j] = [j ≤ i]` (`<` when exclusive, mirrored when
/// reversed): exact, `n²` terms per row.
fn cumsum(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<CumSum>().ok_or_else(|| fail(node, "not a cumulative sum"))?;
    let x = args[0];
    let rank = ctx.fact(x).rank();
    if rank > 20 {
        return Err(fail(node, "a cumulative sum of rank above 20"));
    }
    let n = ctx.fact(x).shape[op.axis];
    let mut tri = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            let (a, b) = if op.reverse { (i, j) } else { (j, i) };
            // Forward: j before i; reversed: j after i.
            let take = if op.exclusive { a < b } else { a <= b };
            tri[i * n + j] = f32::from(u8::from(take));
        }
    }
    let t = zkml_ir::Tensor::from_f32(vec![n, n], tri).map_err(|e| fail(node, e.to_string()))?;
    let t = ctx.graph.add_const(format!("{}.triangle", node.name), t)?;
    let x = if ctx.fact(x).dtype == zkml_ir::DType::F32 {
        x
    } else {
        ctx.add(&format!("{}.float", node.name), zkml_ir::ops::unary::Cast { to: zkml_ir::DType::F32 }, &[x])?
    };
    let letters: Vec<char> = (0..rank).map(|a| (b'a' + a as u8) as char).collect();
    let term: String = letters.iter().collect();
    let out: String = letters.iter().enumerate().map(|(a, &c)| if a == op.axis { 'z' } else { c }).collect();
    let eq = format!("{term},z{}->{out}", letters[op.axis]);
    let e = zkml_ir::ops::einsum::Einsum::new(eq).map_err(|e| fail(node, e.to_string()))?;
    let y = ctx.add(&node.name, e, &[x, t])?;
    if ctx.fact(args[0]).dtype == zkml_ir::DType::F32 {
        return Ok(vec![y]);
    }
    Ok(vec![ctx.add(
        &format!("{}.int", node.name),
        zkml_ir::ops::unary::Cast { to: zkml_ir::DType::I64 },
        &[y],
    )?])
}

/// `Tile`: per repeated axis, a reshape `[…, 1, d, …]`, a broadcast
/// `[…, m, d, …]` and a reshape `[…, m·d, …]` (data movement).
fn tile(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Tile>().ok_or_else(|| fail(node, "not a tile"))?;
    let mut y = args[0];
    for (axis, m) in op.multipliers.iter().enumerate() {
        let m = usize::try_from(m.to_i64().map_err(|_| fail(node, "a symbolic tile count"))?)
            .map_err(|_| fail(node, "a negative tile count"))?;
        if m == 1 {
            continue;
        }
        let shape = ctx.fact(y).shape.clone();
        let mut split = shape.clone();
        split.insert(axis, 1);
        let mut wide = split.clone();
        wide[axis] = m;
        let mut merged = shape;
        merged[axis] *= m;
        let name = format!("{}.axis{axis}", node.name);
        y = ctx.add(&name, layout::Reshape { shape: split }, &[y])?;
        y = ctx.add(&name, layout::Expand { shape: wide }, &[y])?;
        y = ctx.add(&name, layout::Reshape { shape: merged }, &[y])?;
    }
    Ok(vec![y])
}

/// `OneHot`: `on` where the index equals the position along the new axis
/// (or the position minus the depth: negative indices), `off` elsewhere; a
/// comparison and a selection, proven exactly.
fn one_hot(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    use zkml_ir::ops::logic::{Compare, CompareOp, Logic, LogicOp, Where};
    let op = node.op_as::<OneHot>().ok_or_else(|| fail(node, "not a one-hot"))?;
    let name = &node.name;
    let shape = ctx.fact(args[0]).shape.clone();
    // Positions in the index's own type (float indices hold integers).
    let float = ctx.fact(args[0]).dtype == zkml_ir::DType::F32;
    let idx = args[0];
    let mut unsq = shape.clone();
    unsq.insert(op.axis, 1);
    let idx = ctx.add(&format!("{name}.idx"), layout::Reshape { shape: unsq.clone() }, &[idx])?;
    let mut pos_shape = vec![1; unsq.len()];
    pos_shape[op.axis] = op.dim;
    let d = op.dim as i64;
    let iota = |ctx: &mut Ctx, off: i64, n: &str| {
        let t = if float {
            zkml_ir::Tensor::from_f32(pos_shape.clone(), (0..d).map(|i| (i - off) as f32).collect())
        } else {
            zkml_ir::Tensor::from_i64(pos_shape.clone(), (0..d).map(|i| i - off).collect())
        }
        .map_err(|e| fail(node, e.to_string()))?;
        Ok::<_, FrontendError>(ctx.graph.add_const(format!("{name}.{n}"), t)?)
    };
    let (pos, neg) = (iota(ctx, 0, "positions")?, iota(ctx, d, "negative_positions")?);
    let eq = Compare { op: CompareOp::Eq };
    let a = ctx.add(&format!("{name}.hit"), eq.clone(), &[idx, pos])?;
    let b = ctx.add(&format!("{name}.hit_negative"), eq, &[idx, neg])?;
    let hit = ctx.add(&format!("{name}.hits"), Logic { op: LogicOp::Or }, &[a, b])?;
    let on = super::ir_tensor(&op.on).map_err(|e| fail(node, e))?;
    let off = super::ir_tensor(&op.off).map_err(|e| fail(node, e))?;
    let on = ctx.graph.add_const(format!("{name}.on"), on)?;
    let off = ctx.graph.add_const(format!("{name}.off"), off)?;
    Ok(vec![ctx.add(name, Where, &[hit, on, off])?])
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
    if !super::indexing::is_public(ctx, args[1]) {
        return Ok(vec![super::indexing::gather_computed(ctx, node, args[0], args[1], op.axis)?]);
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
