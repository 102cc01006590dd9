//! `Resize`: resampling is linear and separable, one axis at
//! a time. tract's resampling functions turn the ONNX attributes into a
//! per-axis plan (the taps and weights of every output cell: coordinate
//! transform, nearest rounding, linear or cubic weights, antialiasing,
//! `exclude_outside`); each resized axis becomes one
//! einsum with the constant matrix `M[out, in]` of that plan: 0/1 for
//! nearest (exact: a selection), two taps for linear, four for cubic. An
//! integer nearest upsample (`NearestUpsample`) is data movement: a reshape,
//! a broadcast and a reshape.

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::resize::{
    self as core, AxisPlan, Interpolator, NearestUpsample, Resize, plan_axis, window_size,
};
use tract_onnx_opl::resize::{AspectRatio, CoordTransform, Nearest, Resize as OnnxResize};
use zkml_ir::ValueId;
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::layout::{Expand, Reshape};

pub(super) const ONNX: &[&str] = &["Resize"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Resize>(resize);
    r.insert::<OnnxResize>(onnx_resize);
    r.insert::<NearestUpsample>(nearest_upsample);
}

fn resize(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Resize>().ok_or_else(|| fail(node, "not a resize"))?;
    let rank = ctx.fact(args[0]).rank();
    let scales = scales_of(ctx, node, op.optional_scales_input, None, rank)?;
    resample(ctx, node, args[0], &scales, |scale, len_in, len_out| op.plan_axis(scale, len_in, len_out))
}

/// The ONNX op with every attribute (tract keeps it when its core op does
/// not cover the case): the plan from tract's resampling functions.
fn onnx_resize(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<OnnxResize>().ok_or_else(|| fail(node, "not a resize"))?;
    let CoordTransform::Plain(coord) = op.coord_transformer.clone() else {
        return Err(fail(node, "Resize in tf_crop_and_resize mode (a region of interest) is not supported"));
    };
    let rank = ctx.fact(args[0]).rank();
    let axes = op.resized_axes(rank).map_err(|e| fail(node, e.to_string()))?;
    let scales = scales_of(ctx, node, op.optional_scales_input, Some(&axes), rank)?;
    let scales = match (scales, op.keep_aspect_ratio_policy) {
        (Some(s), _) => Some(s),
        (None, AspectRatio::Stretch) => None,
        (None, policy) => {
            // One scale for every resized axis: the smallest (not larger)
            // or largest (not smaller) ratio of the requested sizes.
            let sizes = op
                .optional_sizes_input
                .and_then(|i| ctx.konst(node, i))
                .and_then(|t| {
                    t.cast_to::<i64>()
                        .ok()
                        .and_then(|t| t.try_as_plain_ram().ok()?.as_slice::<i64>().ok().map(<[i64]>::to_vec))
                })
                .ok_or_else(|| fail(node, "Resize sizes must be constant"))?;
            let shape = ctx.fact(args[0]).shape.clone();
            let ratios = axes.iter().zip(&sizes).map(|(&a, &s)| s as f32 / shape[a] as f32);
            let s = if policy == AspectRatio::NotLarger {
                ratios.fold(f32::INFINITY, f32::min)
            } else {
                ratios.fold(0f32, f32::max)
            };
            let mut all = vec![1f32; rank];
            for &a in &axes {
                all[a] = s;
            }
            Some(all)
        }
    };
    let (a, exclude, antialias) = (op.cubic_coeff_a(), op.exclude_outside, op.antialias);
    let (interp, nearest) = (op.interpolator.clone(), op.nearest);
    resample(ctx, node, args[0], &scales, move |scale, len_in, len_out| {
        let window = window_size(&interp, antialias, scale);
        let coord = |x| Some(coord.transform(x, scale, len_in, len_out));
        match interp {
            Interpolator::Linear => plan_axis(len_in, len_out, window, exclude, coord, |r, w| {
                core::linear_weights(r, scale, antialias, w)
            }),
            Interpolator::Cubic => plan_axis(len_in, len_out, window, exclude, coord, |r, w| {
                core::cubic_weights(r, scale, a, antialias, w)
            }),
            // `r` in (0, 1] is the offset from the left neighbour.
            Interpolator::Nearest => plan_axis(len_in, len_out, window, false, coord, |r, w| {
                let right = r == 1.0
                    || match nearest {
                        Nearest::Floor => false,
                        Nearest::Ceil => true,
                        Nearest::RoundPreferFloor => r > 0.5,
                        Nearest::RoundPreferCeil => r >= 0.5,
                    };
                w[0] = f32::from(u8::from(!right));
                w[1] = f32::from(u8::from(right));
            }),
        }
    })
}

/// Per-axis scales from a constant `scales` input (given for `axes`, or for
/// every axis), or `None` when there is none (sizes given: out / in).
fn scales_of(
    ctx: &Ctx,
    node: &TypedNode,
    input: Option<usize>,
    axes: Option<&[usize]>,
    rank: usize,
) -> Result<Option<Vec<f32>>, FrontendError> {
    let Some(t) = input.and_then(|i| ctx.konst(node, i)) else { return Ok(None) };
    let v: Vec<f32> = t
        .cast_to::<f32>()
        .ok()
        .and_then(|t| t.try_as_plain_ram().ok()?.as_slice::<f32>().ok().map(<[f32]>::to_vec))
        .ok_or_else(|| fail(node, "Resize scales must be constant floats"))?;
    if v.is_empty() {
        return Ok(None);
    }
    let axes: Vec<usize> = axes.map_or_else(|| (0..rank).collect(), <[usize]>::to_vec);
    if v.len() != axes.len() {
        return Err(fail(node, format!("{} scales for {} resized axes", v.len(), axes.len())));
    }
    let mut all = vec![1f32; rank];
    for (&a, &s) in axes.iter().zip(&v) {
        all[a] = s;
    }
    Ok(Some(all))
}

/// `x` resampled along every axis whose length or scale changes, one
/// einsum per axis with the plan's matrix.
fn resample(
    ctx: &mut Ctx,
    node: &TypedNode,
    x: ValueId,
    scales: &Option<Vec<f32>>,
    plan_for: impl Fn(f32, usize, usize) -> AxisPlan,
) -> Result<Vec<ValueId>, FrontendError> {
    let shape_in = ctx.fact(x).shape.clone();
    let shape_out = ctx.out_shape(node)?;
    let rank = shape_in.len();
    if rank > 20 {
        return Err(fail(node, "a resize of rank above 20"));
    }
    let mut y = x;
    let mut cur = shape_in.clone();
    for axis in 0..rank {
        let (len_in, len_out) = (shape_in[axis], shape_out[axis]);
        let scale = scales.as_ref().map_or(len_out as f32 / len_in.max(1) as f32, |s| s[axis]);
        if len_in == len_out && scale == 1.0 {
            continue;
        }
        let plan = plan_for(scale, len_in, len_out);
        if plan.extrapolated.contains(&true) {
            return Err(fail(node, "a resize reading outside its input (extrapolation) is not supported"));
        }
        let mut m = vec![0f32; len_out * len_in];
        for o in 0..len_out {
            for k in 0..plan.window {
                let (i, w) = (plan.indices[o * plan.window + k], plan.weights[o * plan.window + k]);
                m[o * len_in + i] += w;
            }
        }
        let mt =
            zkml_ir::Tensor::from_f32(vec![len_out, len_in], m).map_err(|e| fail(node, e.to_string()))?;
        let mv = ctx.graph.add_const(format!("{}.interp{axis}", node.name), mt)?;
        let letters: Vec<char> = (0..rank).map(|a| (b'a' + a as u8) as char).collect();
        let term: String = letters.iter().collect();
        let out: String = letters.iter().enumerate().map(|(a, &c)| if a == axis { 'z' } else { c }).collect();
        let eq = format!("{term},z{}->{out}", letters[axis]);
        let e = Einsum::new(eq).map_err(|e| fail(node, e.to_string()))?;
        let name = if cur[..axis].iter().chain(&shape_out[axis..]).eq(shape_out.iter()) {
            node.name.clone()
        } else {
            format!("{}.axis{axis}", node.name)
        };
        y = ctx.add(&name, e, &[y, mv])?;
        cur[axis] = len_out;
    }
    Ok(vec![y])
}

fn nearest_upsample(
    ctx: &mut Ctx,
    node: &TypedNode,
    args: &[ValueId],
) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<NearestUpsample>().ok_or_else(|| fail(node, "not a nearest upsample"))?;
    let mut y = args[0];
    for (axis, &s) in op.scales.iter().enumerate() {
        if s == 1 {
            continue;
        }
        let shape = ctx.fact(y).shape.clone();
        let mut split = shape.clone();
        split.insert(axis + 1, 1);
        let mut wide = split.clone();
        wide[axis + 1] = s;
        let mut merged = shape.clone();
        merged[axis] *= s;
        let name = format!("{}.axis{axis}", node.name);
        y = ctx.add(&name, Reshape { shape: split }, &[y])?;
        y = ctx.add(&name, Expand { shape: wide }, &[y])?;
        y = ctx.add(&name, Reshape { shape: merged }, &[y])?;
    }
    Ok(vec![y])
}
