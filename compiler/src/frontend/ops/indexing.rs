//! Indexing by tensors: `GatherElements`, `GatherND`, `ScatterElements`
//! (and the old `Scatter`), `ScatterND`, and `Gather` by computed indices.
//!
//! **Constant indices are data movement.** tract's own op is evaluated on
//! the *positions* of its data operands (`0..n` for the data, `n..n+m` for
//! the updates of a scatter) instead of their values: the result is, for
//! every output element, the flat position it is copied from. The op is
//! then one `gather` of the flattened (concatenated) operands by that
//! constant map, with ONNX's semantics (negative indices, the axis rules)
//! exactly tract's. A scatter that combines duplicates (`reduction` add,
//! mul, min, max) is not data movement: refused.
//!
//! **Computed indices select by one-hot.** For an index `i` computed in the
//! proof (an argmax, a comparison), `out = Σ_j [i = j ∨ i = j − n] · x_j`
//! over the `n` positions of the indexed axis: exact comparisons (the
//! quantizer's saturating sign check), then an einsum of the 0/1 selector
//! with the data. A prover that selects another element must break a
//! comparison, which the range checks reject. An index outside `[−n, n)`
//! selects nothing (zeros), where ONNX calls it an error.

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    GatherElements, GatherNd, ScatterElements, ScatterNd, ScatterReduction,
};
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::layout;
use zkml_ir::ops::logic::{Compare, CompareOp, Logic, LogicOp};
use zkml_ir::ops::unary::Cast;
use zkml_ir::{DType, Op, ValueId};

pub(super) const ONNX: &[&str] = &["GatherElements", "GatherND", "ScatterElements", "Scatter", "ScatterND"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<GatherElements>(gather_elements);
    r.insert::<GatherNd>(|ctx, node, args| by_source_map(ctx, node, args, &[0]));
    r.insert::<ScatterElements>(scatter_elements);
    r.insert::<ScatterNd>(scatter_nd);
}

fn scatter_elements(
    ctx: &mut Ctx,
    node: &TypedNode,
    args: &[ValueId],
) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<ScatterElements>().ok_or_else(|| fail(node, "not a scatter"))?;
    no_reduction(node, &op.reduction)?;
    by_source_map(ctx, node, args, &[0, 2])
}

fn scatter_nd(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<ScatterNd>().ok_or_else(|| fail(node, "not a scatter"))?;
    no_reduction(node, &op.reduction)?;
    by_source_map(ctx, node, args, &[0, 2])
}

fn no_reduction(node: &TypedNode, r: &ScatterReduction) -> Result<(), FrontendError> {
    if *r != ScatterReduction::None {
        return Err(fail(node, format!("a scatter with reduction {r:?} combines duplicates: not supported")));
    }
    Ok(())
}

fn gather_elements(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<GatherElements>().ok_or_else(|| fail(node, "not a gather"))?;
    if ctx.konst(node, 1).is_some() {
        return by_source_map(ctx, node, args, &[0]);
    }
    // out[p] = Σ_j sel[p, j] · data[p with axis = j]: the data sliced to
    // the index's extent off the axis, the axis moved last and broadcast
    // along the index's own extent there.
    let (data, idx, axis) = (args[0], args[1], op.axis);
    let (dshape, ishape) = (ctx.fact(data).shape.clone(), ctx.fact(idx).shape.clone());
    let n = dshape[axis];
    let mut x = data;
    for (a, (&d, &i)) in dshape.iter().zip(&ishape).enumerate() {
        if a != axis && i < d {
            let s = layout::Slice { axis: a, start: 0, end: i as i64, step: 1 };
            x = ctx.add(&format!("{}.crop{a}", node.name), s, &[x])?;
        }
    }
    let mut perm: Vec<usize> = (0..dshape.len()).filter(|&a| a != axis).collect();
    perm.push(axis);
    x = ctx.add(&format!("{}.axis_last", node.name), layout::Transpose { perm }, &[x])?;
    let mut shape: Vec<usize> =
        ishape.iter().enumerate().filter(|&(a, _)| a != axis).map(|(_, &d)| d).collect();
    shape.insert(axis, 1);
    shape.push(n);
    x = ctx.add(&format!("{}.axis_lanes", node.name), layout::Reshape { shape: shape.clone() }, &[x])?;
    shape[axis] = ishape[axis];
    x = ctx.add(&format!("{}.broadcast", node.name), layout::Expand { shape }, &[x])?;
    let sel = selector(ctx, node, idx, n)?;
    let dt = ctx.fact(data).dtype;
    let x = as_float(ctx, node, x, "data_float")?;
    let out = select(ctx, node, sel, x, ishape.len())?;
    Ok(vec![typed_as(ctx, node, out, dt)?])
}

/// `v` as a float-level value: integers and booleans are cast (their
/// scale-1 form is the same integer).
fn as_float(ctx: &mut Ctx, node: &TypedNode, v: ValueId, tag: &str) -> Result<ValueId, FrontendError> {
    if ctx.fact(v).dtype == DType::F32 {
        return Ok(v);
    }
    ctx.add(&format!("{}.{tag}", node.name), Cast { to: DType::F32 }, &[v])
}

/// A selection's float result back in the data's element type.
fn typed_as(ctx: &mut Ctx, node: &TypedNode, v: ValueId, dt: DType) -> Result<ValueId, FrontendError> {
    if dt == DType::F32 {
        return Ok(v);
    }
    ctx.add(&format!("{}.typed", node.name), Cast { to: dt }, &[v])
}

/// `sel[p, j] = [i_p = j ∨ i_p = j − n]` as a float 0/1 tensor of the
/// index's shape plus a last axis of `n`.
pub(super) fn selector(
    ctx: &mut Ctx,
    node: &TypedNode,
    idx: ValueId,
    n: usize,
) -> Result<ValueId, FrontendError> {
    let name = &node.name;
    let mut shape = ctx.fact(idx).shape.clone();
    shape.push(1);
    let idx = ctx.add(&format!("{name}.index_lanes"), layout::Reshape { shape: shape.clone() }, &[idx])?;
    let float = ctx.fact(idx).dtype == DType::F32;
    let mut pos_shape = vec![1; shape.len()];
    pos_shape[shape.len() - 1] = n;
    let positions = |ctx: &mut Ctx, off: i64, tag: &str| -> Result<ValueId, FrontendError> {
        let v: Vec<i64> = (0..n as i64).map(|j| j - off).collect();
        let t = if float {
            zkml_ir::Tensor::from_f32(pos_shape.clone(), v.iter().map(|&j| j as f32).collect())
        } else {
            zkml_ir::Tensor::from_i64(pos_shape.clone(), v)
        }
        .map_err(|e| fail(node, e.to_string()))?;
        Ok(ctx.graph.add_const(format!("{name}.{tag}"), t)?)
    };
    let (pos, neg) = (positions(ctx, 0, "positions")?, positions(ctx, n as i64, "negative_positions")?);
    let eq = Compare { op: CompareOp::Eq };
    let a = ctx.add(&format!("{name}.hit"), eq.clone(), &[idx, pos])?;
    let b = ctx.add(&format!("{name}.hit_negative"), eq, &[idx, neg])?;
    let hit = ctx.add(&format!("{name}.hits"), Logic { op: LogicOp::Or }, &[a, b])?;
    ctx.add(&format!("{name}.selector"), Cast { to: DType::F32 }, &[hit])
}

/// `Σ_j sel[p, j] · x[p, j]` over the last axis of two rank-`rank + 1`
/// tensors of one shape.
fn select(
    ctx: &mut Ctx,
    node: &TypedNode,
    sel: ValueId,
    x: ValueId,
    rank: usize,
) -> Result<ValueId, FrontendError> {
    let letters: String = ('a'..='z').take(rank + 1).collect();
    if letters.len() != rank + 1 {
        return Err(fail(node, "indexing of rank above 25 is not supported"));
    }
    let out = &letters[..rank];
    let eq = format!("{letters},{letters}->{out}");
    let e = Einsum::new(eq).map_err(|e| fail(node, e.to_string()))?;
    ctx.add(&node.name, e, &[sel, x])
}

/// `Gather` by indices computed in the proof (see the module docs):
/// `out[a, i, b] = Σ_j sel[i, j] · x[a, j, b]`.
pub(super) fn gather_computed(
    ctx: &mut Ctx,
    node: &TypedNode,
    data: ValueId,
    idx: ValueId,
    axis: usize,
) -> Result<ValueId, FrontendError> {
    let dshape = ctx.fact(data).shape.clone();
    let irank = ctx.fact(idx).rank();
    let n = dshape[axis];
    let sel = selector(ctx, node, idx, n)?;
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let need = dshape.len() + irank;
    if need > letters.len() {
        return Err(fail(node, "a gather of rank above 52 is not supported"));
    }
    let before: String = letters[..axis].iter().collect();
    let after: String = letters[axis + 1..dshape.len()].iter().collect();
    let j = letters[axis];
    let i: String = letters[dshape.len()..need].iter().collect();
    let eq = format!("{i}{j},{before}{j}{after}->{before}{i}{after}");
    let e = Einsum::new(eq).map_err(|e| fail(node, e.to_string()))?;
    let dt = ctx.fact(data).dtype;
    let data = as_float(ctx, node, data, "data_float")?;
    let out = ctx.add(&node.name, e, &[sel, data])?;
    typed_as(ctx, node, out, dt)
}

/// Whether `v` is a constant or a model input seen through data movement
/// only (public ids, which a gather reads as embedding rows).
pub(super) fn is_public(ctx: &Ctx, v: ValueId) -> bool {
    let node = ctx.graph.node(v.node);
    match &node.op {
        Op::Input(_) | Op::Const(_) => true,
        Op::Reshape(_) | Op::Transpose(_) | Op::Slice(_) | Op::Expand(_) | Op::Split(_) | Op::Concat(_) => {
            node.inputs.iter().all(|&i| is_public(ctx, i))
        }
        _ => false,
    }
}

/// Lowers an op whose non-data inputs are constants as one gather by the
/// constant source map (see the module docs); `data` lists the operands
/// whose elements are moved.
fn by_source_map(
    ctx: &mut Ctx,
    node: &TypedNode,
    args: &[ValueId],
    data: &[usize],
) -> Result<Vec<ValueId>, FrontendError> {
    let e = |e: TractError| fail(node, format!("{e:#}"));
    let mut inputs: TVec<TValue> = tvec![];
    let mut offset = 0i64;
    let mut moved = Vec::new();
    for (i, &arg) in args.iter().enumerate() {
        if data.contains(&i) {
            let shape = ctx.fact(arg).shape.clone();
            let n = shape.iter().product::<usize>() as i64;
            let ids: Vec<i64> = (offset..offset + n).collect();
            inputs.push(Tensor::from_shape(&shape, &ids).map_err(e)?.into_tvalue());
            offset += n;
            let flat = layout::Reshape { shape: vec![n as usize] };
            moved.push(ctx.add(&format!("{}.flat{i}", node.name), flat, &[arg])?);
        } else {
            let k = ctx.konst(node, i).ok_or_else(|| {
                fail(node, "indices computed from the input are supported by Gather and GatherElements only")
            })?;
            inputs.push((*k).clone().into_tvalue());
        }
    }
    let out = node
        .op
        .eval_out_of_plan(inputs)
        .map_err(e)?
        .ok_or_else(|| fail(node, "tract cannot evaluate this op on its own"))?;
    let src = out[0].cast_to::<i64>().map_err(e)?;
    let src = src.try_as_plain_ram().map_err(e)?.as_slice::<i64>().map_err(e)?.to_vec();
    let len = src.len();
    let map = zkml_ir::Tensor::from_i64(vec![len], src).map_err(|m| fail(node, m.to_string()))?;
    let map = ctx.graph.add_const(format!("{}.source", node.name), map)?;
    let all = match moved.as_slice() {
        [one] => *one,
        _ => ctx.add(&format!("{}.operands", node.name), layout::Concat { axis: 0 }, &moved)?,
    };
    let flat = ctx.add(&format!("{}.moved", node.name), layout::Gather { axis: 0 }, &[all, map])?;
    let shape = ctx.out_shape(node)?;
    Ok(vec![ctx.add(&node.name, layout::Reshape { shape }, &[flat])?])
}
