//! Selection (`Where`), which carries causal masks.

use super::{Ctx, Registry, fail, konst_i64};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::Trilu;
use tract_onnx::tract_core::ops::logic::Iff;
use zkml_ir::ops::logic::Where;
use zkml_ir::{DType, Tensor, TensorData, ValueId};

pub(super) const ONNX: &[&str] = &["Where", "Trilu"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Iff>(iff);
    r.insert::<Trilu>(trilu);
}

/// `Trilu` on a computed tensor becomes `where(mask, x, 0)` with a constant
/// mask over the last two axes: element `(i, j)` is kept iff `j - i ≥ k`
/// (upper) or `j - i ≤ k` (lower).
fn trilu(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Trilu>().ok_or_else(|| fail(node, "not a trilu"))?;
    let k = if args.len() > 1 { konst_i64(ctx, node, 1)?.first().copied().unwrap_or(0) } else { 0 };
    let fact = ctx.fact(args[0]).clone();
    let r = fact.rank();
    if r < 2 {
        return Err(fail(node, "trilu needs rank ≥ 2"));
    }
    let (n, m) = (fact.shape[r - 2], fact.shape[r - 1]);
    let keep: Vec<bool> = (0..n * m)
        .map(|ix| {
            let d = (ix % m) as i64 - (ix / m) as i64;
            if op.upper { d >= k } else { d <= k }
        })
        .collect();
    let mask = Tensor::new(vec![n, m], TensorData::Bool(keep)).map_err(|e| fail(node, e.to_string()))?;
    let mask = ctx.graph.add_const(format!("{}.mask", node.name), mask)?;
    let zero = match fact.dtype {
        DType::I64 => Tensor::from_i64(vec![], vec![0]),
        DType::Bool => Tensor::new(vec![], TensorData::Bool(vec![false])),
        _ => Tensor::from_f32(vec![], vec![0.0]),
    }
    .map_err(|e| fail(node, e.to_string()))?;
    let zero = ctx.graph.add_const(format!("{}.zero", node.name), zero)?;
    Ok(vec![ctx.add(&node.name, Where, &[mask, args[0], zero])?])
}

fn iff(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    Ok(vec![ctx.add(&node.name, Where, args)?])
}
