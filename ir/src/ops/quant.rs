//! Linear quantization as ONNX writes it: `QuantizeLinear`, and the
//! requantization that ends `QLinearMatMul` and `QLinearConv`.
//!
//! `y = clamp(round_half_even(x / scale) + zero_point, lo, hi)`, an integer
//! (`[lo, hi]` is the range of the output type: `[0, 255]` for `uint8`).
//! The op is float-level: the quantizer lowers it exactly onto an input of
//! type `q · s` as one requantization by `s / scale` into a saturating
//! integer domain, an addition of the zero point and two exact ReLUs (see
//! `zkml_compiler::quantize`); the proof then shows the integer `y` as the
//! model wrote it.

use super::OpDef;
use crate::shape::expect_inputs;
use crate::{DType, Fact, OpError, Tensor, TensorData, bail_op};
use serde::{Deserialize, Serialize};

/// `clamp(round_half_even(x / scale) + zero_point, lo, hi)` (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizeLinear {
    pub scale: f32,
    pub zero_point: i64,
    pub lo: i64,
    pub hi: i64,
}

impl QuantizeLinear {
    /// Largest output of an integer type this op targets: 16-bit types
    /// (`[lo, hi]` beyond ±2^16 has no use in a quantized model).
    pub const MAX_RANGE: i64 = 1 << 16;

    /// The integer the op computes for `x`.
    pub fn apply(&self, x: f32) -> i64 {
        let r = f64::from(x / self.scale).round_ties_even();
        if r.is_nan() {
            return self.zero_point.clamp(self.lo, self.hi);
        }
        (r.clamp(-(2f64.powi(62)), 2f64.powi(62)) as i64 + self.zero_point).clamp(self.lo, self.hi)
    }
}

impl OpDef for QuantizeLinear {
    fn name(&self) -> &'static str {
        "quantize_linear"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("scale", format!("{:?}", self.scale)),
            ("zero_point", self.zero_point.to_string()),
            ("lo", self.lo.to_string()),
            ("hi", self.hi.to_string()),
        ]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 1)?;
        if inputs[0].dtype != DType::F32 {
            bail_op!("quantize_linear input must be f32, got {}", inputs[0].dtype);
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            bail_op!("quantize_linear scale {} must be positive and finite", self.scale);
        }
        let r = -Self::MAX_RANGE..=Self::MAX_RANGE;
        if !(self.lo <= self.zero_point
            && self.zero_point <= self.hi
            && r.contains(&self.lo)
            && r.contains(&self.hi))
        {
            bail_op!(
                "quantize_linear range [{}, {}] with zero point {} is not an integer type's",
                self.lo,
                self.hi,
                self.zero_point
            );
        }
        Ok(vec![Fact::new(DType::I64, inputs[0].shape.clone())])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let v = x.as_f32()?.iter().map(|&a| self.apply(a)).collect();
        Ok(vec![Tensor::new(x.shape(), TensorData::I64(v))?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(scale: f32, zero_point: i64) -> QuantizeLinear {
        QuantizeLinear { scale, zero_point, lo: 0, hi: 255 }
    }

    /// The ONNX backend test's values (`test_quantizelinear`).
    #[test]
    fn rounds_half_to_even_and_saturates() {
        let op = q(2.0, 128);
        let got: Vec<i64> = [0.0, 2.0, 3.0, 1000.0, -254.0, -1000.0].iter().map(|&x| op.apply(x)).collect();
        assert_eq!(got, vec![128, 129, 130, 255, 1, 0]);
        assert_eq!(op.apply(5.0), 130, "2.5 rounds to 2");
        assert_eq!(op.apply(f32::NAN), 128);
    }

    #[test]
    fn refuses_a_range_that_is_no_type() {
        let x = Fact::new(DType::F32, vec![2]);
        assert!(QuantizeLinear { scale: 1.0, zero_point: 300, lo: 0, hi: 255 }.infer(&[&x]).is_err());
        assert!(QuantizeLinear { scale: 0.0, zero_point: 0, lo: 0, hi: 255 }.infer(&[&x]).is_err());
        assert!(QuantizeLinear { scale: 1.0, zero_point: 0, lo: 0, hi: 1 << 40 }.infer(&[&x]).is_err());
    }
}
