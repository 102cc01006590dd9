//! Quantized ONNX (onnxruntime's static quantizer, in both its formats):
//! `QuantizeLinear`, `DequantizeLinear`, `QLinearMatMul`, `QLinearConv`,
//! `MatMulInteger`, `ConvInteger`.
//!
//! The integer arithmetic is kept as the model wrote it. A quantized
//! tensor is an integer value (`uint8`/`int8`, scale-1 fixed point in the
//! quantizer); `QLinearMatMul(a, b)` is
//! `quantize_linear(Σ (a − a₀)(b − b₀) + bias; c_scale / (a_scale·b_scale), c₀)`:
//! integer subtractions, an exact integer einsum (convolution), and one
//! requantization ([`QuantizeLinear`]) to the output type. `MatMulInteger`
//! and `ConvInteger` stop at the exact `int32` accumulator.
//! `DequantizeLinear(q) = (q − q₀) · scale`. tract folds the dequantization
//! of constant weights; those become integer-valued constants, which the
//! quantizer keeps exactly.
//!
//! Scales and zero points must be constants, one per tensor (per-axis
//! scales of an activation or of a `QLinear*` weight are refused, naming
//! the node; per-axis weights under `DequantizeLinear` fold to constants).

use super::{Ctx, Registry, fail, ir_tensor};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearI8, QuantizeLinearU8};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::quant::QuantizeLinear;
use zkml_ir::ops::unary::Cast;
use zkml_ir::{DType, ValueId};

pub(super) const ONNX: &[&str] =
    &["QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "QLinearConv", "MatMulInteger", "ConvInteger"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<DequantizeLinearF32>(dequantize);
}

/// The integer range of a quantized element type.
fn range_of(node: &TypedNode, dt: DatumType) -> Result<(i64, i64), FrontendError> {
    Ok(match dt {
        DatumType::U8 => (0, 255),
        DatumType::I8 => (-128, 127),
        DatumType::U16 => (0, 65535),
        DatumType::I16 => (-32768, 32767),
        other => {
            return Err(fail(
                node,
                format!("quantized output type {other:?} is not supported (8 or 16 bits)"),
            ));
        }
    })
}

/// `x` as a float-level value (integers are cast; the quantizer keeps them
/// at scale 1).
pub(super) fn float(
    ctx: &mut Ctx,
    node: &TypedNode,
    x: ValueId,
    tag: &str,
) -> Result<ValueId, FrontendError> {
    if ctx.fact(x).dtype == DType::F32 {
        return Ok(x);
    }
    ctx.add(&format!("{}.{tag}", node.name), Cast { to: DType::F32 }, &[x])
}

/// A float scalar constant.
fn scalar(ctx: &mut Ctx, node: &TypedNode, v: f32, tag: &str) -> Result<ValueId, FrontendError> {
    let t = zkml_ir::Tensor::from_f32(Vec::<usize>::new(), vec![v]).map_err(|e| fail(node, e.to_string()))?;
    Ok(ctx.graph.add_const(format!("{}.{tag}", node.name), t)?)
}

/// The one value of a constant scale or zero point (input `i`).
fn per_tensor(ctx: &Ctx, node: &TypedNode, i: usize, what: &str) -> Result<f64, FrontendError> {
    let t = ctx.konst(node, i).ok_or_else(|| fail(node, format!("{what} must be a constant")))?;
    let t = ir_tensor(&t).map_err(|m| fail(node, m))?;
    let v: Vec<f32> = match t.data() {
        zkml_ir::TensorData::F32(v) => v.clone(),
        _ => t.as_i64().map_err(|e| fail(node, e.to_string()))?.iter().map(|&x| x as f32).collect(),
    };
    match v.as_slice() {
        [x] => Ok(f64::from(*x)),
        _ => Err(fail(
            node,
            format!("{what} has {} values: per-axis quantization is not supported here", v.len()),
        )),
    }
}

/// `x − x₀` as a float-level value.
fn centred(
    ctx: &mut Ctx,
    node: &TypedNode,
    x: ValueId,
    zero: f64,
    tag: &str,
) -> Result<ValueId, FrontendError> {
    let xf = float(ctx, node, x, &format!("{tag}_float"))?;
    if zero == 0.0 {
        return Ok(xf);
    }
    let z = scalar(ctx, node, zero as f32, &format!("{tag}_zero_point"))?;
    ctx.add(&format!("{}.{tag}_centred", node.name), Binary { op: BinaryOp::Sub }, &[xf, z])
}

/// `QuantizeLinear` with one scale and zero point (tract's elementwise
/// `QuantizeLinearU8`/`I8`, which hold `1/scale`); `None` for another
/// elementwise op.
pub(super) fn quantize_elementwise(
    ctx: &mut Ctx,
    node: &TypedNode,
    op: &ElementWiseOp,
    args: &[ValueId],
) -> Result<Option<Vec<ValueId>>, FrontendError> {
    let (inv, zp, dt) = if let Some(q) = op.0.downcast_ref::<QuantizeLinearU8>() {
        (q.scale, i64::from(q.zero_point), DatumType::U8)
    } else if let Some(q) = op.0.downcast_ref::<QuantizeLinearI8>() {
        (q.scale, i64::from(q.zero_point), DatumType::I8)
    } else {
        return Ok(None);
    };
    let (lo, hi) = range_of(node, dt)?;
    let x = float(ctx, node, args[0], "float")?;
    let scale = (1.0 / f64::from(inv)) as f32;
    let q = QuantizeLinear { scale, zero_point: zp, lo, hi };
    Ok(Some(vec![ctx.add(&node.name, q, &[x])?]))
}

/// `DequantizeLinear` with one scale and zero point: `(q − q₀) · scale`.
fn dequantize(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<DequantizeLinearF32>().ok_or_else(|| fail(node, "not a DequantizeLinear"))?;
    let x = centred(ctx, node, args[0], f64::from(op.zero_point), "q")?;
    let s = scalar(ctx, node, op.scale, "scale")?;
    Ok(vec![ctx.add(&node.name, Binary { op: BinaryOp::Mul }, &[x, s])?])
}

/// The quantization parameters of a `QLinear*` / `*Integer` node, tract's
/// inputs 3..9: `a₀, a_scale, b₀, b_scale, c₀, c_scale`.
pub(super) struct QParams {
    pub a0: f64,
    pub b0: f64,
    /// `c_scale / (a_scale · b_scale)`: the requantization's step.
    pub step: f64,
    pub c0: i64,
}

impl QParams {
    pub(super) fn read(ctx: &Ctx, node: &TypedNode) -> Result<QParams, FrontendError> {
        let a0 = per_tensor(ctx, node, 3, "the first operand's zero point")?;
        let a_scale = per_tensor(ctx, node, 4, "the first operand's scale")?;
        let b0 = per_tensor(ctx, node, 5, "the second operand's zero point")?;
        let b_scale = per_tensor(ctx, node, 6, "the second operand's scale")?;
        let c0 = per_tensor(ctx, node, 7, "the output's zero point")?;
        let c_scale = per_tensor(ctx, node, 8, "the output's scale")?;
        let step = c_scale / (a_scale * b_scale);
        if !(step.is_finite() && step > 0.0) {
            return Err(fail(node, format!("scales give a requantization step {step} (must be positive)")));
        }
        Ok(QParams { a0, b0, step, c0: c0 as i64 })
    }

    /// The two operands with their zero points removed.
    pub(super) fn centred(
        &self,
        ctx: &mut Ctx,
        node: &TypedNode,
        a: ValueId,
        b: ValueId,
    ) -> Result<(ValueId, ValueId), FrontendError> {
        Ok((centred(ctx, node, a, self.a0, "a")?, centred(ctx, node, b, self.b0, "b")?))
    }

    /// The end of a quantized product: `acc + bias` (an `int32` bias in
    /// units of `a_scale·b_scale`), then the output type: the exact
    /// accumulator for `int32`, else one requantization.
    pub(super) fn finish(
        &self,
        ctx: &mut Ctx,
        node: &TypedNode,
        acc: ValueId,
        bias: Option<ValueId>,
        out: DatumType,
    ) -> Result<Vec<ValueId>, FrontendError> {
        let mut acc = acc;
        if let Some(b) = bias {
            let b = float(ctx, node, b, "bias_float")?;
            acc = ctx.add(&format!("{}.biased", node.name), Binary { op: BinaryOp::Add }, &[acc, b])?;
        }
        if out == DatumType::I32 {
            if self.step != 1.0 || self.c0 != 0 {
                return Err(fail(node, "an int32 output with a scale or zero point is not supported"));
            }
            return Ok(vec![ctx.add(&node.name, Cast { to: DType::I64 }, &[acc])?]);
        }
        let (lo, hi) = range_of(node, out)?;
        let q = QuantizeLinear { scale: self.step as f32, zero_point: self.c0, lo, hi };
        Ok(vec![ctx.add(&node.name, q, &[acc])?])
    }
}

/// The constant bias of a quantized product (input 2), unless it is zero.
pub(super) fn nonzero_bias(ctx: &Ctx, node: &TypedNode, b: ValueId) -> Option<ValueId> {
    let zero = ctx
        .konst(node, 2)
        .and_then(|t| ir_tensor(&t).ok())
        .and_then(|t| t.as_i64().map(|v| v.iter().all(|&x| x == 0)).ok())
        .unwrap_or(false);
    (!zero).then_some(b)
}
