//! Reductions over a set of axes.

use super::{OpDef, expect_f32, list};
use crate::shape::expect_inputs;
use crate::{Fact, OpError, Tensor, bail_op};
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
        expect_f32(inputs, self.name())?;
        let r = inputs[0].rank();
        if self.axes.iter().any(|&a| a >= r) || self.axes.windows(2).any(|w| w[0] >= w[1]) {
            bail_op!("axes {:?} must be sorted, distinct and < rank {r}", self.axes);
        }
        Ok(vec![Fact::f32(self.out_shape(&inputs[0].shape))])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let s = x.shape();
        // Move reduced axes last, then fold contiguous groups.
        let kept: Vec<usize> = (0..s.len()).filter(|a| !self.axes.contains(a)).collect();
        let perm: Vec<usize> = kept.iter().chain(&self.axes).copied().collect();
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
