//! Convolution and pooling. tract resolves `auto_pad` and the ONNX pooling
//! padding rules in its `PoolSpec`; we read back explicit pads.

use super::quant::{QParams, float, nonzero_bias};
use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, KernelFormat, MaxPool, PaddingSpec, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::nn::DataFormat;
use zkml_ir::ValueId;
use zkml_ir::ops::cnn::{self, Window};

pub(super) const ONNX: &[&str] = &["Conv", "ConvTranspose", "MaxPool", "AveragePool"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Conv>(conv);
    r.insert::<Deconv>(deconv);
    r.insert::<MaxPool>(max_pool);
    r.insert::<SumPool>(sum_pool);
}

/// Explicit window geometry for an NCHW input of spatial dims `spatial`.
fn window(node: &TypedNode, spec: &PoolSpec, spatial: &[usize]) -> Result<Window, FrontendError> {
    if spec.data_format != DataFormat::NCHW {
        return Err(fail(node, format!("data format {:?} is not supported (NCHW only)", spec.data_format)));
    }
    let computed = spec.computed_padding(spatial);
    let pads = computed.iter().map(|c| (c.pad_before, c.pad_after)).collect();
    let ceil_mode = matches!(spec.padding, PaddingSpec::ExplicitOnnxPool(_, _, true));
    let w = Window {
        kernel: spec.kernel_shape.to_vec(),
        strides: spec.strides().to_vec(),
        dilations: spec.dilations().to_vec(),
        pads,
        ceil_mode,
    };
    // Cross-check the geometry against tract's output dims.
    let want: Vec<usize> = computed.iter().map(|c| c.convoluted).collect();
    if w.output(spatial) != want {
        return Err(fail(node, format!("window {w:?} disagrees with tract's output dims {want:?}")));
    }
    Ok(w)
}

fn spatial(ctx: &Ctx, v: ValueId) -> Vec<usize> {
    ctx.fact(v).shape.get(2..).map(|s| s.to_vec()).unwrap_or_default()
}

fn conv(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Conv>().ok_or_else(|| fail(node, "not a conv"))?;
    if op.kernel_fmt != KernelFormat::OIHW {
        return Err(fail(node, format!("kernel format {:?} is not supported", op.kernel_fmt)));
    }
    let window = window(node, &op.pool_spec, &spatial(ctx, args[0]))?;
    let Some(out_type) = op.q_params else {
        return Ok(vec![float_conv(ctx, node, &node.name, window, op.group, args)?]);
    };
    // QLinearConv, ConvInteger: the operands, the bias, then the
    // quantization parameters (see `quant`). The input's zero point pads:
    // `x − x₀` pads with zeros.
    if args.len() != 9 {
        return Err(fail(node, format!("a quantized convolution has 9 inputs, got {}", args.len())));
    }
    let q = QParams::read(ctx, node)?;
    let (x, k) = q.centred(ctx, node, args[0], args[1])?;
    let mut operands = vec![x, k];
    if let Some(b) = nonzero_bias(ctx, node, args[2]) {
        operands.push(float(ctx, node, b, "bias_float")?);
    }
    let acc = float_conv(ctx, node, &format!("{}.acc", node.name), window, op.group, &operands)?;
    q.finish(ctx, node, acc, None, out_type)
}

/// A float-level convolution; an absent or scalar bias (tract's form) is
/// made one per output channel.
fn float_conv(
    ctx: &mut Ctx,
    node: &TypedNode,
    name: &str,
    window: Window,
    group: usize,
    args: &[ValueId],
) -> Result<ValueId, FrontendError> {
    let mut args = args.to_vec();
    let o = ctx.fact(args[1]).shape.first().copied().unwrap_or(0);
    if let Some(b) = args.get(2).copied() {
        args[2] = channel_bias(ctx, node, b, o)?;
    }
    ctx.add(name, cnn::Conv { window, group }, &args)
}

/// A bias of one value per output channel (tract passes an absent or
/// scalar bias as a scalar).
fn channel_bias(ctx: &mut Ctx, node: &TypedNode, b: ValueId, o: usize) -> Result<ValueId, FrontendError> {
    if ctx.fact(b).shape == [o] {
        return Ok(b);
    }
    let shape = vec![o];
    let name = format!("{}.bias", node.name);
    if ctx.fact(b).len() == 1 {
        ctx.add(&name, zkml_ir::ops::layout::Expand { shape }, &[b])
    } else {
        ctx.add(&name, zkml_ir::ops::layout::Reshape { shape }, &[b])
    }
}

/// `ConvTranspose` as a convolution: the input with `s − 1` zeros inserted
/// between neighbours (data movement: a reshape, a zero pad, a reshape, a
/// slice), padded by `d(k − 1) − pad_before` (sliced where negative), then
/// a stride-1 convolution with the kernel flipped along every spatial axis
/// (tract already reorders ONNX's `[C, O/g, k…]` kernel to OIHW). With
/// `y[t] = Σ_j z[t + j·d]·W[k − 1 − j]` this is the transposed
/// convolution's `y[i·s + j·d − p] += x[i]·W[j]`.
fn deconv(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    use zkml_ir::ops::layout::{Pad, Reshape, Slice};
    let op = node.op_as::<Deconv>().ok_or_else(|| fail(node, "not a transposed convolution"))?;
    if op.kernel_format != KernelFormat::OIHW || op.pool_spec.data_format != DataFormat::NCHW {
        return Err(fail(node, "transposed convolution: only NCHW data with an OIHW kernel is supported"));
    }
    let kshape = ctx.fact(args[1]).shape.clone();
    let spatial_in = spatial(ctx, args[0]);
    let r = spatial_in.len();
    let (ks, strides, dil) =
        (op.pool_spec.kernel_shape.to_vec(), op.pool_spec.strides(), op.pool_spec.dilations());
    let geo = op
        .pool_spec
        .padding
        .compute_for_deconv(&spatial_in, &ks, &dil, &strides, &op.adjustments)
        .map_err(|e| fail(node, e.to_string()))?;
    // The kernel flipped along every spatial axis: reversing slices (data
    // movement; folded when the kernel is a constant).
    let mut wk = args[1];
    for (a, &k) in ks.iter().enumerate() {
        let flip = Slice { axis: 2 + a, start: k as i64 - 1, end: -1, step: -1 };
        wk = ctx.add(&format!("{}.flip{a}", node.name), flip, &[wk])?;
    }
    let mut x = args[0];
    let mut pads = Vec::with_capacity(r);
    for a in 0..r {
        let axis = 2 + a;
        let (h, s) = (spatial_in[a], strides[a]);
        if s > 1 {
            let shape = ctx.fact(x).shape.clone();
            let mut split = shape.clone();
            split.insert(axis + 1, 1);
            let mut pad = vec![(0, 0); split.len()];
            pad[axis + 1] = (0, s - 1);
            let mut merged = shape.clone();
            merged[axis] = h * s;
            let name = format!("{}.upsample{a}", node.name);
            x = ctx.add(&name, Reshape { shape: split }, &[x])?;
            x = ctx.add(&name, Pad { pads: pad, value: 0.0 }, &[x])?;
            x = ctx.add(&name, Reshape { shape: merged }, &[x])?;
            let end = ((h - 1) * s + 1) as i64;
            x = ctx.add(&name, Slice { axis, start: 0, end, step: 1 }, &[x])?;
        }
        let len = (h - 1) * s + 1;
        let span = dil[a] * (ks[a] - 1);
        let (before, out) = (span as i64 - geo[a].pad_before as i64, geo[a].deconvoluted as i64);
        let after = out + span as i64 - before - len as i64;
        let (mut start, mut end) = (0i64, len as i64);
        if before < 0 {
            start = -before;
        }
        if after < 0 {
            end += after;
        }
        if start > 0 || end < len as i64 {
            x = ctx.add(&format!("{}.crop{a}", node.name), Slice { axis, start, end, step: 1 }, &[x])?;
        }
        pads.push((before.max(0) as usize, after.max(0) as usize));
    }
    let window = Window { kernel: ks, strides: vec![1; r], dilations: dil.to_vec(), pads, ceil_mode: false };
    let mut conv_args = vec![x, wk];
    if let Some(&b) = args.get(2) {
        conv_args.push(channel_bias(ctx, node, b, kshape[0])?);
    }
    Ok(vec![ctx.add(&node.name, cnn::Conv { window, group: op.group }, &conv_args)?])
}

fn max_pool(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<MaxPool>().ok_or_else(|| fail(node, "not a max pool"))?;
    if op.with_index_outputs.is_some() {
        return Err(fail(node, "MaxPool index output is not supported"));
    }
    let window = window(node, &op.pool_spec, &spatial(ctx, args[0]))?;
    Ok(vec![ctx.add(&node.name, cnn::MaxPool { window }, args)?])
}

fn sum_pool(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<SumPool>().ok_or_else(|| fail(node, "not a sum pool"))?;
    if !op.normalize {
        return Err(fail(node, "unnormalised sum pooling is not supported"));
    }
    let window = window(node, &op.pool_spec, &spatial(ctx, args[0]))?;
    let op = cnn::AveragePool { window, count_include_pad: op.count_include_pad };
    Ok(vec![ctx.add(&node.name, op, args)?])
}
