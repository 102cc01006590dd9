//! Float-level normalisations and softmax. The rewrite stage decomposes each
//! into einsum + lookup + elementwise steps; here they have their textbook
//! definitions (computed in f64 to be a sharp oracle).

use super::{OpDef, expect_f32};
use crate::shape::{broadcast_shapes, expect_inputs};
use crate::{Fact, OpError, Tensor, bail_op};
use serde::{Deserialize, Serialize};

/// Calls `f(group)` on every contiguous group of the trailing `inner`
/// elements after moving `axes` last, and puts the results back in place.
/// Normalisations here act over trailing axes, so no transposition is needed.
fn over_trailing(x: &[f32], inner: usize, mut f: impl FnMut(&[f32], &mut [f32])) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    if inner > 0 {
        for (i, o) in x.chunks(inner).zip(out.chunks_mut(inner)) {
            f(i, o);
        }
    }
    out
}

/// `softmax(x)_i = exp(x_i - max x) / Σ_j exp(x_j - max x)` along `axis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Softmax {
    pub axis: usize,
}

impl OpDef for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("axis", self.axis.to_string())]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        expect_f32(inputs, "softmax")?;
        if self.axis >= inputs[0].rank() {
            bail_op!("axis {} out of range for {}", self.axis, inputs[0]);
        }
        Ok(vec![inputs[0].clone()])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let s = x.shape();
        // Move the axis last, normalise rows, move it back.
        let mut perm: Vec<usize> = (0..s.len()).filter(|&a| a != self.axis).collect();
        perm.push(self.axis);
        let moved = zkml_kernels::cpu::transpose(x.as_f32()?, s, &perm);
        let rows = over_trailing(&moved, s[self.axis], |i, o| {
            let m = i.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let e: Vec<f64> = i.iter().map(|&v| ((v - m) as f64).exp()).collect();
            let z: f64 = e.iter().sum();
            for (o, e) in o.iter_mut().zip(e) {
                *o = (e / z) as f32;
            }
        });
        let moved_shape: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let mut inv = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        Ok(vec![Tensor::from_f32(s, zkml_kernels::cpu::transpose(&rows, &moved_shape, &inv))?])
    }
}

/// Shape inference shared by the normalisations over `axis..rank`: `x` and
/// `n_params` parameters broadcasting over the normalised axes.
fn norm_infer(inputs: &[&Fact], n_params: usize, axis: usize, name: &str) -> Result<Vec<Fact>, OpError> {
    expect_inputs(inputs, 1 + n_params)?;
    expect_f32(inputs, name)?;
    if axis >= inputs[0].rank() {
        bail_op!("axis {axis} out of range for {}", inputs[0]);
    }
    check_params(inputs[0], axis, &inputs[1..])?;
    Ok(vec![inputs[0].clone()])
}

/// Checks that `params` broadcast against the normalised trailing axes.
fn check_params(x: &Fact, axis: usize, params: &[&Fact]) -> Result<(), OpError> {
    for p in params {
        let shape = broadcast_shapes(&[&x.shape, &p.shape])?;
        if shape != x.shape || p.rank() > x.rank() - axis {
            bail_op!("parameter {p} does not broadcast over the normalised axes of {x}");
        }
    }
    Ok(())
}

/// Multiplies (and adds) parameters broadcast over the trailing axes.
fn affine(y: Vec<f32>, shape: &[usize], scale: &Tensor, bias: Option<&Tensor>) -> Result<Tensor, OpError> {
    let y = Tensor::from_f32(shape, y)?;
    let mul = super::binary::Binary { op: super::binary::BinaryOp::Mul };
    let mut out = mul.eval(&[&y, scale])?.remove(0);
    if let Some(b) = bias {
        let add = super::binary::Binary { op: super::binary::BinaryOp::Add };
        out = add.eval(&[&out, b])?.remove(0);
    }
    Ok(out)
}

/// `y = (x - mean) / sqrt(var + eps) · scale + bias` over axes `axis..rank`
/// (ONNX `LayerNormalization`). Inputs: `x, scale, bias`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerNorm {
    pub axis: usize,
    pub eps: f32,
}

impl OpDef for LayerNorm {
    fn name(&self) -> &'static str {
        "layer_norm"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("axis", self.axis.to_string()), ("eps", format!("{:e}", self.eps))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        norm_infer(inputs, 2, self.axis, "layer_norm")
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let inner: usize = x.shape()[self.axis..].iter().product();
        let y = over_trailing(x.as_f32()?, inner, |i, o| {
            let n = i.len() as f64;
            let mean = i.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = i.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            let r = 1.0 / (var + self.eps as f64).sqrt();
            for (o, &v) in o.iter_mut().zip(i) {
                *o = ((v as f64 - mean) * r) as f32;
            }
        });
        Ok(vec![affine(y, x.shape(), inputs[1], Some(inputs[2]))?])
    }
}

/// `y = x / sqrt(mean(x²) + eps) · scale` over axes `axis..rank`.
/// Inputs: `x, scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmsNorm {
    pub axis: usize,
    pub eps: f32,
}

impl OpDef for RmsNorm {
    fn name(&self) -> &'static str {
        "rms_norm"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("axis", self.axis.to_string()), ("eps", format!("{:e}", self.eps))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        norm_infer(inputs, 1, self.axis, "rms_norm")
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let inner: usize = x.shape()[self.axis..].iter().product();
        let y = over_trailing(x.as_f32()?, inner, |i, o| {
            let ms = i.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / i.len() as f64;
            let r = 1.0 / (ms + self.eps as f64).sqrt();
            for (o, &v) in o.iter_mut().zip(i) {
                *o = (v as f64 * r) as f32;
            }
        });
        Ok(vec![affine(y, x.shape(), inputs[1], None)?])
    }
}

/// Inference-mode batch normalisation over channel axis 1:
/// `y = (x - mean) / sqrt(var + eps) · scale + bias`.
/// Inputs: `x, scale, bias, mean, var`, the last four of shape `[C]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    pub eps: f32,
}

impl OpDef for BatchNorm {
    fn name(&self) -> &'static str {
        "batch_norm"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("eps", format!("{:e}", self.eps))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 5)?;
        expect_f32(inputs, "batch_norm")?;
        let x = inputs[0];
        if x.rank() < 2 {
            bail_op!("batch_norm needs rank ≥ 2, got {x}");
        }
        for p in &inputs[1..] {
            if p.shape != [x.shape[1]] {
                bail_op!("parameter {p} must be [{}]", x.shape[1]);
            }
        }
        Ok(vec![x.clone()])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let (scale, bias) = (inputs[1].as_f32()?, inputs[2].as_f32()?);
        let (mean, var) = (inputs[3].as_f32()?, inputs[4].as_f32()?);
        let c = x.shape()[1];
        let inner: usize = x.shape()[2..].iter().product();
        let out: Vec<f32> = x
            .as_f32()?
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let ch = (i / inner.max(1)) % c;
                let r = 1.0 / (var[ch] as f64 + self.eps as f64).sqrt();
                ((v as f64 - mean[ch] as f64) * r * scale[ch] as f64 + bias[ch] as f64) as f32
            })
            .collect();
        Ok(vec![Tensor::from_f32(x.shape(), out)?])
    }
}
