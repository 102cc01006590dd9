//! Layout ops: they move, copy or drop elements and never compute on them.
//! Every one is a fixed index map `out[i] = in[src(i)]` (plus a constant for
//! padding), which is what makes them cheap to prove later (a relabelling or
//! a structured linear map the verifier can evaluate).

use super::{OpDef, list};
use crate::shape::{broadcast_offsets, broadcast_shapes, expect_inputs};
use crate::{Fact, OpError, Tensor, TensorData, bail_op, map_data};
use serde::{Deserialize, Serialize};
use zkml_kernels::strides;

/// `out[i] = data[idx[i]]` for any element type.
fn take(data: &TensorData, idx: &[usize]) -> TensorData {
    map_data!(data, v => idx.iter().map(|&i| v[i]).collect())
}

/// Same elements, new shape (row-major order kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reshape {
    pub shape: Vec<usize>,
}

impl OpDef for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("shape", list(&self.shape))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let n = Fact::new(inputs[0].dtype, self.shape.clone()).checked_len();
        if n != Some(inputs[0].len()) {
            bail_op!("cannot reshape {} ({} elements) to {:?}", inputs[0], inputs[0].len(), self.shape);
        }
        Ok(vec![Fact::new(inputs[0].dtype, self.shape.clone())])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        Ok(vec![inputs[0].reshaped(self.shape.clone())?])
    }
}

/// Axis permutation: output axis `a` is input axis `perm[a]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transpose {
    pub perm: Vec<usize>,
}

impl OpDef for Transpose {
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("perm", list(&self.perm))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let r = inputs[0].rank();
        let mut seen = vec![false; r];
        if self.perm.len() != r {
            bail_op!("perm {:?} has length {} for rank {r}", self.perm, self.perm.len());
        }
        for &p in &self.perm {
            if p >= r || seen[p] {
                bail_op!("perm {:?} is not a permutation of 0..{r}", self.perm);
            }
            seen[p] = true;
        }
        let shape = self.perm.iter().map(|&p| inputs[0].shape[p]).collect::<Vec<_>>();
        Ok(vec![Fact::new(inputs[0].dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let shape: Vec<usize> = self.perm.iter().map(|&p| x.shape()[p]).collect();
        let data = map_data!(x.data(), v => zkml_kernels::cpu::transpose(v, x.shape(), &self.perm));
        Ok(vec![Tensor::new(shape, data)?])
    }
}

/// Elements `start, start+step, …` (stopping before `end`) along `axis`.
/// `start`/`end` are already clamped (no negative wrap-around); `step ≠ 0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    pub axis: usize,
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Slice {
    fn len(&self) -> usize {
        // Saturating: attributes may come from an untrusted plan.
        let span = if self.step > 0 {
            self.end.saturating_sub(self.start)
        } else {
            self.start.saturating_sub(self.end)
        };
        let step = self.step.saturating_abs().max(1);
        if span <= 0 { 0 } else { (span / step + i64::from(span % step != 0)) as usize }
    }
}

impl OpDef for Slice {
    fn name(&self) -> &'static str {
        "slice"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let mut a = vec![
            ("axis", self.axis.to_string()),
            ("start", self.start.to_string()),
            ("end", self.end.to_string()),
        ];
        if self.step != 1 {
            a.push(("step", self.step.to_string()));
        }
        a
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let f = inputs[0];
        if self.axis >= f.rank() || self.step == 0 {
            bail_op!("bad slice axis {} / step {} for {f}", self.axis, self.step);
        }
        let d = f.shape[self.axis] as i64;
        let n = self.len() as i64;
        if n > 0 {
            let last = self.start.saturating_add((n - 1).saturating_mul(self.step));
            if self.start < 0 || self.start >= d || last < 0 || last >= d {
                bail_op!(
                    "slice {}..{} step {} out of bounds for axis of {d}",
                    self.start,
                    self.end,
                    self.step
                );
            }
        }
        let mut shape = f.shape.clone();
        shape[self.axis] = n as usize;
        Ok(vec![Fact::new(f.dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let s = x.shape();
        let outer: usize = s[..self.axis].iter().product();
        let inner: usize = s[self.axis + 1..].iter().product();
        let mut idx = Vec::with_capacity(outer * self.len() * inner);
        for o in 0..outer {
            for k in 0..self.len() as i64 {
                let a = (self.start + k * self.step) as usize;
                let base = (o * s[self.axis] + a) * inner;
                idx.extend(base..base + inner);
            }
        }
        let mut shape = s.to_vec();
        shape[self.axis] = self.len();
        Ok(vec![Tensor::new(shape, take(x.data(), &idx))?])
    }
}

/// Concatenation along `axis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concat {
    pub axis: usize,
}

impl OpDef for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("axis", self.axis.to_string())]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        let Some(first) = inputs.first() else { bail_op!("concat of nothing") };
        if self.axis >= first.rank() {
            bail_op!("axis {} out of range for {first}", self.axis);
        }
        let mut shape = first.shape.clone();
        shape[self.axis] = 0;
        let mut dtype = first.dtype;
        for f in inputs {
            // Quantized parts must share a scale; the result is as wide as the widest.
            let same_type = match (f.dtype, dtype) {
                (crate::DType::Q(a), crate::DType::Q(b)) if super::binary::same_scale(a.scale, b.scale) => {
                    dtype = crate::DType::Q(crate::QType::new(a.bits.max(b.bits), b.scale));
                    true
                }
                (a, b) => a == b,
            };
            let same = f.rank() == first.rank()
                && same_type
                && (0..f.rank()).all(|a| a == self.axis || f.shape[a] == first.shape[a]);
            if !same {
                bail_op!("cannot concat {f} with {first} on axis {}", self.axis);
            }
            shape[self.axis] = shape[self.axis].saturating_add(f.shape[self.axis]);
        }
        Ok(vec![Fact::new(dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let s0 = inputs[0].shape();
        let outer: usize = s0[..self.axis].iter().product();
        let mut shape = s0.to_vec();
        shape[self.axis] = inputs.iter().map(|t| t.shape()[self.axis]).sum();
        // Concatenate the data of all inputs, then pick with one index map.
        let mut offsets = Vec::new();
        let mut total = 0;
        for t in inputs {
            offsets.push(total);
            total += t.len();
        }
        let mut idx = Vec::with_capacity(total);
        for o in 0..outer {
            for (t, &off) in inputs.iter().zip(&offsets) {
                let chunk: usize = t.shape()[self.axis..].iter().product();
                idx.extend(off + o * chunk..off + (o + 1) * chunk);
            }
        }
        let all = match inputs[0].data() {
            TensorData::F32(_) => TensorData::F32(
                inputs
                    .iter()
                    .map(|t| t.as_f32().map(|v| v.to_vec()))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
            ),
            TensorData::I64(_) | TensorData::I8(_) | TensorData::I16(_) | TensorData::I32(_) => {
                TensorData::I64(
                    inputs
                        .iter()
                        .map(|t| t.as_i64().map(|v| v.to_vec()))
                        .collect::<Result<Vec<_>, _>>()?
                        .concat(),
                )
            }
            TensorData::Bool(_) => TensorData::Bool(
                inputs
                    .iter()
                    .map(|t| t.as_bool().map(|v| v.to_vec()))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
            ),
        };
        Ok(vec![Tensor::new(shape, take(&all, &idx))?])
    }
}

/// Splits `axis` into consecutive pieces of the given sizes (one output each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub axis: usize,
    pub sizes: Vec<usize>,
}

impl Split {
    fn pieces(&self) -> Vec<Slice> {
        let mut start = 0i64;
        self.sizes
            .iter()
            .map(|&n| {
                let s = Slice { axis: self.axis, start, end: start + n as i64, step: 1 };
                start += n as i64;
                s
            })
            .collect()
    }
}

impl OpDef for Split {
    fn name(&self) -> &'static str {
        "split"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("axis", self.axis.to_string()), ("sizes", list(&self.sizes))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let f = inputs[0];
        if self.axis >= f.rank() || self.sizes.iter().sum::<usize>() != f.shape[self.axis] {
            bail_op!("split sizes {:?} on axis {} do not cover {f}", self.sizes, self.axis);
        }
        self.pieces().iter().map(|s| s.infer(inputs).map(|mut v| v.remove(0))).collect()
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        self.pieces().iter().map(|s| s.eval(inputs).map(|mut v| v.remove(0))).collect()
    }
}

/// `out = data` indexed along `axis` by the integer tensor `indices`
/// (negative indices count from the end): output shape is
/// `data.shape[..axis] ++ indices.shape ++ data.shape[axis+1..]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gather {
    pub axis: usize,
}

impl OpDef for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("axis", self.axis.to_string())]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 2)?;
        let (d, i) = (inputs[0], inputs[1]);
        if self.axis >= d.rank() {
            bail_op!("axis {} out of range for {d}", self.axis);
        }
        if i.dtype != crate::DType::I64 {
            bail_op!("indices must be i64, got {}", i.dtype);
        }
        let shape = [&d.shape[..self.axis], &i.shape[..], &d.shape[self.axis + 1..]].concat();
        Ok(vec![Fact::new(d.dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let (d, ind) = (inputs[0], inputs[1].as_i64()?);
        let s = d.shape();
        let dim = s[self.axis] as i64;
        let outer: usize = s[..self.axis].iter().product();
        let inner: usize = s[self.axis + 1..].iter().product();
        let mut idx = Vec::with_capacity(outer * ind.len() * inner);
        for o in 0..outer {
            for &k in ind.iter() {
                let k = if k < 0 { k + dim } else { k };
                if k < 0 || k >= dim {
                    bail_op!("gather index {k} out of range for axis of {dim}");
                }
                let base = (o * s[self.axis] + k as usize) * inner;
                idx.extend(base..base + inner);
            }
        }
        let shape = [&s[..self.axis], inputs[1].shape(), &s[self.axis + 1..]].concat();
        Ok(vec![Tensor::new(shape, take(d.data(), &idx))?])
    }
}

/// Constant padding: `pads[a] = (before, after)` elements on axis `a`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pad {
    pub pads: Vec<(usize, usize)>,
    pub value: f32,
}

impl OpDef for Pad {
    fn name(&self) -> &'static str {
        "pad"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let p: Vec<String> = self.pads.iter().map(|(a, b)| format!("{a}:{b}")).collect();
        vec![("pads", format!("[{}]", p.join(","))), ("value", format!("{:?}", self.value))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let f = inputs[0];
        if self.pads.len() != f.rank() {
            bail_op!("{} pad pairs for rank {}", self.pads.len(), f.rank());
        }
        let shape = f
            .shape
            .iter()
            .zip(&self.pads)
            .map(|(d, (a, b))| d.checked_add(*a).and_then(|x| x.checked_add(*b)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| OpError::new("padding overflows"))?;
        Ok(vec![Fact::new(f.dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let out = self.infer(&[&x.fact()])?.remove(0);
        let in_strides = strides(x.shape());
        let n = out.len();
        let mut src = Vec::with_capacity(n);
        let mut idx = vec![0usize; out.rank()];
        for _ in 0..n {
            let mut off = Some(0usize);
            for (a, &i) in idx.iter().enumerate() {
                let (before, _) = self.pads[a];
                off = match off {
                    Some(o) if i >= before && i - before < x.shape()[a] => {
                        Some(o + (i - before) * in_strides[a])
                    }
                    _ => None,
                };
            }
            src.push(off);
            for a in (0..idx.len()).rev() {
                idx[a] += 1;
                if idx[a] < out.shape[a] {
                    break;
                }
                idx[a] = 0;
            }
        }
        let data = match x.data() {
            TensorData::F32(v) => {
                TensorData::F32(src.iter().map(|o| o.map_or(self.value, |i| v[i])).collect())
            }
            TensorData::I64(_) | TensorData::I8(_) | TensorData::I16(_) | TensorData::I32(_) => {
                let v = x.as_i64()?;
                TensorData::I64(src.iter().map(|o| o.map_or(self.value as i64, |i| v[i])).collect())
            }
            TensorData::Bool(v) => {
                TensorData::Bool(src.iter().map(|o| o.map_or(self.value != 0.0, |i| v[i])).collect())
            }
        };
        Ok(vec![Tensor::new(out.shape, data)?])
    }
}

/// Broadcast to `shape` (ONNX `Expand` after its own shape is resolved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expand {
    pub shape: Vec<usize>,
}

impl OpDef for Expand {
    fn name(&self) -> &'static str {
        "expand"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("shape", list(&self.shape))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let shape = broadcast_shapes(&[&inputs[0].shape, &self.shape])?;
        if shape != self.shape {
            bail_op!("{} does not broadcast to {:?}", inputs[0], self.shape);
        }
        Ok(vec![Fact::new(inputs[0].dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let offs = broadcast_offsets(&[x.shape()], &self.shape).remove(0);
        Ok(vec![Tensor::new(self.shape.clone(), take(x.data(), &offs))?])
    }
}
