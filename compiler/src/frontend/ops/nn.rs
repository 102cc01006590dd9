//! Softmax. (tract expands `LayerNormalization` into reductions and
//! elementwise ops, and folds `BatchNormalization` into a multiply-add, so
//! those ONNX ops arrive here as other families' ops.)

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use tract_onnx_opl::lrn::Lrn;
use zkml_ir::ValueId;
use zkml_ir::ops::einsum::Einsum;
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
    "GroupNormalization",
    "LRN",
];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Softmax>(softmax);
    r.insert::<Lrn>(lrn);
}

/// Local response normalisation across channels (axis 1):
/// `y = x · (bias + α/size · Σ_{i ∈ window(c)} x_i²)^(−β)`, the window
/// `[c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉]` clipped to the channels. The
/// windowed sum is one einsum with a constant 0/1 band; the power a
/// `pow_const` table.
fn lrn(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    use zkml_ir::ops::binary::{Binary, BinaryOp};
    let op = node.op_as::<Lrn>().ok_or_else(|| fail(node, "not an LRN"))?;
    let (x, name) = (args[0], &node.name);
    let shape = ctx.fact(x).shape.clone();
    if shape.len() < 2 || shape.len() > 12 || op.size == 0 {
        return Err(fail(node, format!("LRN of a rank-{} input with size {}", shape.len(), op.size)));
    }
    let c = shape[1];
    // ⌊(size−1)/2⌋ below, ⌈(size−1)/2⌉ = ⌊size/2⌋ above.
    let (lo, hi) = ((op.size - 1) / 2, op.size / 2);
    let band: Vec<f32> =
        (0..c).flat_map(|o| (0..c).map(move |i| (i + lo >= o && i <= o + hi) as u8 as f32)).collect();
    let band = zkml_ir::Tensor::from_f32(vec![c, c], band).map_err(|e| fail(node, e.to_string()))?;
    let band = ctx.graph.add_const(format!("{name}.window"), band)?;
    let sq = ctx.add(&format!("{name}.square"), Binary { op: BinaryOp::Mul }, &[x, x])?;
    let sp: String = ('a'..='l').take(shape.len() - 2).collect();
    let sum = Einsum::new(format!("oi,ni{sp}->no{sp}")).map_err(|e| fail(node, e.to_string()))?;
    let ss = ctx.add(&format!("{name}.window_sum"), sum, &[band, sq])?;
    let scalar = |ctx: &mut Ctx, v: f32, tag: &str| -> Result<ValueId, FrontendError> {
        let t =
            zkml_ir::Tensor::from_f32(Vec::<usize>::new(), vec![v]).map_err(|e| fail(node, e.to_string()))?;
        Ok(ctx.graph.add_const(format!("{name}.{tag}"), t)?)
    };
    let k = scalar(ctx, op.alpha / op.size as f32, "alpha")?;
    let scaled = ctx.add(&format!("{name}.scaled"), Binary { op: BinaryOp::Mul }, &[ss, k])?;
    let b = scalar(ctx, op.bias, "bias")?;
    let base = ctx.add(&format!("{name}.base"), Binary { op: BinaryOp::Add }, &[scaled, b])?;
    let e = scalar(ctx, -op.beta, "beta")?;
    let p = ctx.add(&format!("{name}.power"), Binary { op: BinaryOp::Pow }, &[base, e])?;
    Ok(vec![ctx.add(name, Binary { op: BinaryOp::Mul }, &[x, p])?])
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
