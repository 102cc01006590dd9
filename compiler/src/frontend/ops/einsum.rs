//! MatMul, Gemm and Einsum: tract turns all of them into `EinSum` (Gemm's
//! `alpha`/`beta`/bias become elementwise ops around it). So are
//! `QLinearMatMul` and `MatMulInteger`, whose quantization parameters are
//! read by [`super::quant`].

use super::quant::{QParams, nonzero_bias};
use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::einsum::EinSum;
use zkml_ir::ValueId;
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::layout::Reshape;

pub(super) const ONNX: &[&str] = &["MatMul", "Gemm", "Einsum"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<EinSum>(einsum);
}

/// tract's einsum broadcasts size-1 axes (batched matmul of `[3,M,K]` by
/// `[1,K,N]`); ours is strict, so such operands are expanded first.
fn broadcast_operands(
    ctx: &mut Ctx,
    node: &TypedNode,
    lhs: &str,
    args: &[ValueId],
) -> Result<Vec<ValueId>, FrontendError> {
    let terms: Vec<&str> = lhs.split(',').collect();
    let mut size = std::collections::HashMap::new();
    for (t, v) in terms.iter().zip(args) {
        for (c, &d) in t.chars().zip(&ctx.fact(*v).shape) {
            let e = size.entry(c).or_insert(d);
            *e = (*e).max(d);
        }
    }
    let mut out = Vec::new();
    for (i, (t, v)) in terms.iter().zip(args).enumerate() {
        let shape: Vec<usize> = t.chars().map(|c| size[&c]).collect();
        if ctx.fact(*v).shape == shape {
            out.push(*v);
        } else {
            out.push(ctx.add(
                &format!("{}.broadcast{i}", node.name),
                zkml_ir::ops::layout::Expand { shape },
                &[*v],
            )?);
        }
    }
    Ok(out)
}

/// tract equations may name size-1 axes that only the output has (an
/// implicit unsqueeze); our einsums are strict, so those letters are dropped
/// from the equation and restored by a reshape.
fn einsum(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<EinSum>().ok_or_else(|| fail(node, "not an EinSum"))?;
    let eq = op.axes.to_string();
    let (lhs, rhs) = eq.split_once("->").ok_or_else(|| fail(node, format!("bad equation {eq}")))?;
    let Some(out_type) = op.q_params else {
        return Ok(vec![float_einsum(ctx, node, &node.name, lhs, rhs, args)?]);
    };
    // QLinearMatMul, MatMulInteger: the operands, then the quantization
    // parameters (see `quant`).
    if args.len() != 9 {
        return Err(fail(node, format!("a quantized einsum has 9 inputs, got {}", args.len())));
    }
    let q = QParams::read(ctx, node)?;
    let (a, b) = q.centred(ctx, node, args[0], args[1])?;
    let terms: Vec<&str> = lhs.split(',').take(2).collect();
    let acc = float_einsum(ctx, node, &format!("{}.acc", node.name), &terms.join(","), rhs, &[a, b])?;
    let bias = nonzero_bias(ctx, node, args[2]);
    q.finish(ctx, node, acc, bias, out_type)
}

/// The einsum `lhs->rhs` of float-level operands.
fn float_einsum(
    ctx: &mut Ctx,
    node: &TypedNode,
    name: &str,
    lhs: &str,
    rhs: &str,
    args: &[ValueId],
) -> Result<ValueId, FrontendError> {
    let kept: String = rhs.chars().filter(|c| lhs.contains(*c)).collect();
    let args = broadcast_operands(ctx, node, lhs, args)?;
    let out =
        ctx.add(name, Einsum::new(format!("{lhs}->{kept}")).map_err(|e| fail(node, e.to_string()))?, &args)?;
    if kept.len() == rhs.len() {
        return Ok(out);
    }
    let shape = ctx.out_shape(node)?;
    ctx.add(&format!("{name}.unsqueeze"), Reshape { shape }, &[out])
}
