//! Reductions over a set of axes.

use super::{OpDef, expect_f32, list};
use crate::shape::expect_inputs;
use crate::{DType, Fact, OpError, Tensor, TensorData, bail_op};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    /// `Σ x²`
    SumSquares,
    /// `mean(x²)` (the core of RMSNorm).
    MeanSquares,
}

/// Reduces `axes` (sorted, distinct); `keepdims` keeps them with size 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reduce {
    pub op: ReduceOp,
    pub axes: Vec<usize>,
    pub keepdims: bool,
}

impl Reduce {
    fn out_shape(&self, shape: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        for (a, &d) in shape.iter().enumerate() {
            if !self.axes.contains(&a) {
                out.push(d);
            } else if self.keepdims {
                out.push(1);
            }
        }
        out
    }
}

impl OpDef for Reduce {
    fn name(&self) -> &'static str {
        match self.op {
            ReduceOp::Sum => "reduce_sum",
            ReduceOp::Mean => "reduce_mean",
            ReduceOp::Max => "reduce_max",
            ReduceOp::Min => "reduce_min",
            ReduceOp::Prod => "reduce_prod",
            ReduceOp::SumSquares => "reduce_sum_squares",
            ReduceOp::MeanSquares => "reduce_mean_squares",
        }
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("axes", list(&self.axes)), ("keepdims", self.keepdims.to_string())]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        // Max/min are exact on quantized data (same scale, same range).
        let quantized =
            matches!(inputs[0].dtype, DType::Q(_)) && matches!(self.op, ReduceOp::Max | ReduceOp::Min);
        if !quantized {
            expect_f32(inputs, self.name())?;
        }
        let r = inputs[0].rank();
        if self.axes.iter().any(|&a| a >= r) || self.axes.windows(2).any(|w| w[0] >= w[1]) {
            bail_op!("axes {:?} must be sorted, distinct and < rank {r}", self.axes);
        }
        if quantized && self.axes.iter().any(|&a| inputs[0].shape[a] == 0) {
            bail_op!("quantized max/min over an empty axis");
        }
        Ok(vec![Fact::new(inputs[0].dtype, self.out_shape(&inputs[0].shape))])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let s = x.shape();
        // Move reduced axes last, then fold contiguous groups.
        let kept: Vec<usize> = (0..s.len()).filter(|a| !self.axes.contains(a)).collect();
        let perm: Vec<usize> = kept.iter().chain(&self.axes).copied().collect();
        if let TensorData::I64(v) = x.data() {
            let moved = zkml_kernels::cpu::transpose(v, s, &perm);
            let group: usize = self.axes.iter().map(|&a| s[a]).product();
            let fold = |ch: &[i64]| match self.op {
                ReduceOp::Max => ch.iter().copied().max().unwrap_or(0),
                _ => ch.iter().copied().min().unwrap_or(0),
            };
            let data: Vec<i64> = if group == 0 { vec![] } else { moved.chunks(group).map(fold).collect() };
            return Ok(vec![Tensor::from_i64(self.out_shape(s), data)?]);
        }
        let moved = zkml_kernels::cpu::transpose(x.as_f32()?, s, &perm);
        let group: usize = self.axes.iter().map(|&a| s[a]).product();
        let n = group as f64;
        let fold = |ch: &[f32]| -> f32 {
            let it = ch.iter().map(|&v| v as f64);
            (match self.op {
                ReduceOp::Sum => it.sum::<f64>(),
                ReduceOp::Mean => it.sum::<f64>() / n,
                ReduceOp::Max => it.fold(f64::NEG_INFINITY, f64::max),
                ReduceOp::Min => it.fold(f64::INFINITY, f64::min),
                ReduceOp::Prod => it.product(),
                ReduceOp::SumSquares => it.map(|v| v * v).sum(),
                ReduceOp::MeanSquares => it.map(|v| v * v).sum::<f64>() / n,
            }) as f32
        };
        let out_len: usize = kept.iter().map(|&a| s[a]).product();
        let data: Vec<f32> =
            if group == 0 { vec![fold(&[]); out_len] } else { moved.chunks(group).map(fold).collect() };
        Ok(vec![Tensor::from_f32(self.out_shape(s), data)?])
    }
}

/// A tensor's values (as f64) seen as `outer × n × inner` lanes along an
/// axis of `n` entries: entry `j` of lane `(o, i)` is `vals[(o·n + j)·inner + i]`.
struct Lanes {
    vals: Vec<f64>,
    outer: usize,
    n: usize,
    inner: usize,
}

impl Lanes {
    fn of(x: &Tensor, axis: usize) -> Result<Lanes, OpError> {
        let s = x.shape();
        let vals = match x.data() {
            TensorData::F32(v) => v.iter().map(|&a| f64::from(a)).collect(),
            _ => x.as_i64()?.iter().map(|&a| a as f64).collect(),
        };
        Ok(Lanes {
            vals,
            outer: s[..axis].iter().product(),
            n: s[axis],
            inner: s[axis + 1..].iter().product(),
        })
    }
}

/// The index of the largest (`min`: smallest) entry along `axis`: the first
/// one, or the last with `last` (ONNX `ArgMax`/`ArgMin`,
/// `select_last_index`); `i64` indices, the axis kept (size 1) with
/// `keepdims`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arg {
    pub axis: usize,
    pub keepdims: bool,
    pub min: bool,
    pub last: bool,
}

impl OpDef for Arg {
    fn name(&self) -> &'static str {
        if self.min { "argmin" } else { "argmax" }
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("axis", self.axis.to_string()),
            ("keepdims", self.keepdims.to_string()),
            ("last", self.last.to_string()),
        ]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let x = inputs[0];
        if !matches!(x.dtype, DType::F32 | DType::I64) {
            bail_op!("{} of {} values", self.name(), x.dtype);
        }
        if self.axis >= x.rank() || x.shape[self.axis] == 0 {
            bail_op!("axis {} of shape {:?} is not a non-empty axis", self.axis, x.shape);
        }
        let shape =
            Reduce { op: ReduceOp::Max, axes: vec![self.axis], keepdims: self.keepdims }.out_shape(&x.shape);
        Ok(vec![Fact::new(DType::I64, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let s = x.shape();
        let Lanes { vals, outer, n, inner } = Lanes::of(x, self.axis)?;
        let better = |a: f64, b: f64| if self.min { a < b } else { a > b };
        let mut out = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| vals[(o * n + k) * inner + i];
                let mut best = 0;
                for k in 1..n {
                    if better(at(k), at(best)) || (self.last && at(k) == at(best)) {
                        best = k;
                    }
                }
                out.push(best as i64);
            }
        }
        let shape = Reduce { op: ReduceOp::Max, axes: vec![self.axis], keepdims: self.keepdims }.out_shape(s);
        Ok(vec![Tensor::from_i64(shape, out)?])
    }
}

/// The `k` largest (or smallest) entries along `axis`, sorted, ties to the
/// lower index (ONNX `TopK`): the values, or with `indices` their `i64`
/// positions. One op per output (the IR's ops have one output each here;
/// the quantizer shares the work of the two).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    pub axis: usize,
    pub k: usize,
    pub largest: bool,
    pub indices: bool,
}

impl OpDef for TopK {
    fn name(&self) -> &'static str {
        if self.indices { "topk_indices" } else { "topk_values" }
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("axis", self.axis.to_string()),
            ("k", self.k.to_string()),
            ("largest", self.largest.to_string()),
        ]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        let x = inputs[0];
        if !matches!(x.dtype, DType::F32 | DType::I64) {
            bail_op!("{} of {} values", self.name(), x.dtype);
        }
        if self.axis >= x.rank() || self.k > x.shape[self.axis] {
            bail_op!("top {} along axis {} of shape {:?}", self.k, self.axis, x.shape);
        }
        let mut shape = x.shape.clone();
        shape[self.axis] = self.k;
        Ok(vec![Fact::new(if self.indices { DType::I64 } else { x.dtype }, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let s = x.shape();
        let Lanes { vals, outer, n, inner } = Lanes::of(x, self.axis)?;
        let mut picked = vec![0usize; outer * self.k * inner];
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| vals[(o * n + j) * inner + i];
                let mut order: Vec<usize> = (0..n).collect();
                // Stable: equal values keep the lower index first.
                order.sort_by(|&a, &b| {
                    let c = at(a).total_cmp(&at(b));
                    if self.largest { c.reverse() } else { c }
                });
                for (r, &j) in order.iter().take(self.k).enumerate() {
                    picked[(o * self.k + r) * inner + i] = j;
                }
            }
        }
        let mut shape = s.to_vec();
        shape[self.axis] = self.k;
        if self.indices {
            return Ok(vec![Tensor::from_i64(shape, picked.iter().map(|&j| j as i64).collect())?]);
        }
        let src = |p: usize, j: usize| {
            let (o, i) = (p / (self.k * inner), p % inner);
            (o * n + j) * inner + i
        };
        Ok(vec![match x.data() {
            TensorData::F32(v) => {
                Tensor::from_f32(shape, picked.iter().enumerate().map(|(p, &j)| v[src(p, j)]).collect())?
            }
            _ => {
                let v = x.as_i64()?;
                Tensor::from_i64(shape, picked.iter().enumerate().map(|(p, &j)| v[src(p, j)]).collect())?
            }
        }])
    }
}
