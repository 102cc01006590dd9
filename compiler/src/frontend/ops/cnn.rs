//! Convolution and pooling. tract resolves `auto_pad` and the ONNX pooling
//! padding rules in its `PoolSpec`; we read back explicit pads.

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, MaxPool, PaddingSpec, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::nn::DataFormat;
use zkml_ir::ValueId;
use zkml_ir::ops::cnn::{self, Window};

pub(super) const ONNX: &[&str] = &["Conv", "MaxPool", "AveragePool"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Conv>(conv);
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
    if op.q_params.is_some() {
        return Err(fail(node, "quantized convolution is not supported (give a float model)"));
    }
    if op.kernel_fmt != KernelFormat::OIHW {
        return Err(fail(node, format!("kernel format {:?} is not supported", op.kernel_fmt)));
    }
    let window = window(node, &op.pool_spec, &spatial(ctx, args[0]))?;
    let mut args = args.to_vec();
    // tract passes an absent or scalar bias as a scalar; ours is one per
    // output channel.
    let o = ctx.fact(args[1]).shape.first().copied().unwrap_or(0);
    if let Some(b) = args.get(2).copied().filter(|b| ctx.fact(*b).shape != [o]) {
        let shape = vec![o];
        let name = format!("{}.bias", node.name);
        args[2] = if ctx.fact(b).len() == 1 {
            ctx.add(&name, zkml_ir::ops::layout::Expand { shape }, &[b])?
        } else {
            ctx.add(&name, zkml_ir::ops::layout::Reshape { shape }, &[b])?
        };
    }
    Ok(vec![ctx.add(&node.name, cnn::Conv { window, group: op.group }, &args)?])
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
