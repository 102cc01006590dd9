//! Elementwise binary arithmetic with numpy broadcasting.

use super::OpDef;
use crate::shape::{broadcast_offsets, broadcast_shapes, expect_inputs};
use crate::{DType, Fact, OpError, QType, Tensor, TensorData, bail_op};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

impl BinaryOp {
    fn f32(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            // Integer exponents (x², x³ in GELU/RMSNorm) are exact products,
            // as in every runtime we compare against.
            BinaryOp::Pow if b == 2.0 => a * a,
            BinaryOp::Pow if b == 3.0 => a * a * a,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
        }
    }
    fn i64(self, a: i64, b: i64) -> Result<i64, OpError> {
        Ok(match self {
            BinaryOp::Add => a.wrapping_add(b),
            BinaryOp::Sub => a.wrapping_sub(b),
            BinaryOp::Mul => a.wrapping_mul(b),
            // Truncating division, as ONNX's reference (C semantics).
            BinaryOp::Div => a.checked_div(b).ok_or_else(|| OpError::new("integer division by zero"))?,
            BinaryOp::Pow => {
                let e = u32::try_from(b).map_err(|_| OpError::new("negative integer exponent"))?;
                a.wrapping_pow(e)
            }
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
        })
    }
}

/// `out = a ∘ b` elementwise after broadcasting.
///
/// On quantized operands only the exact ops exist: `Add`/`Sub`/`Max`/`Min`
/// of equal scales (the quantizer aligns scales first) and `Mul` (scales
/// multiply); bit widths grow by the worst case, never wrap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binary {
    pub op: BinaryOp,
}

/// Two scales are "the same" when they agree to 1e-5 relative: far below
/// the quantization step of any supported width (2^-15 ≈ 3e-5), so treating
/// them as one scale changes no dequantized value measurably.
pub fn same_scale(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs())
}

impl Binary {
    fn quantized(&self, a: QType, b: QType) -> Result<QType, OpError> {
        let (ma, mb) = (a.max_abs() as u128, b.max_abs() as u128);
        let (bound, scale) = match self.op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Max | BinaryOp::Min => {
                if !same_scale(a.scale, b.scale) {
                    bail_op!("quantized {:?} needs equal scales, got {} and {}", self.op, a.scale, b.scale);
                }
                let m = if matches!(self.op, BinaryOp::Max | BinaryOp::Min) { ma.max(mb) } else { ma + mb };
                (m, a.scale)
            }
            BinaryOp::Mul => (ma * mb, a.scale * b.scale),
            BinaryOp::Div | BinaryOp::Pow => bail_op!("{:?} has no exact quantized form", self.op),
        };
        let bits = QType::bits_for(bound);
        if bits > super::einsum::MAX_EXACT_BITS {
            bail_op!("quantized {:?} of q{} and q{} may exceed 62 bits", self.op, a.bits, b.bits);
        }
        Ok(QType::new(bits as u8, scale))
    }
}

impl OpDef for Binary {
    fn name(&self) -> &'static str {
        match self.op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
        }
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_inputs(inputs, 2)?;
        let (a, b) = (inputs[0], inputs[1]);
        let shape = broadcast_shapes(&[&a.shape, &b.shape])?;
        if let (DType::Q(qa), DType::Q(qb)) = (a.dtype, b.dtype) {
            return Ok(vec![Fact::new(DType::Q(self.quantized(qa, qb)?), shape)]);
        }
        if a.dtype != b.dtype || !matches!(a.dtype, DType::F32 | DType::I64) {
            bail_op!(
                "operands must both be f32, both i64 or both quantized, got {} and {}",
                a.dtype,
                b.dtype
            );
        }
        Ok(vec![Fact::new(a.dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let (a, b) = (inputs[0], inputs[1]);
        let shape = broadcast_shapes(&[a.shape(), b.shape()])?;
        let offs = broadcast_offsets(&[a.shape(), b.shape()], &shape);
        let data = match (a.data(), b.data()) {
            (TensorData::F32(x), TensorData::F32(y)) => TensorData::F32(
                offs[0].iter().zip(&offs[1]).map(|(&i, &j)| self.op.f32(x[i], y[j])).collect(),
            ),
            (TensorData::I64(x), TensorData::I64(y)) => TensorData::I64(
                offs[0]
                    .iter()
                    .zip(&offs[1])
                    .map(|(&i, &j)| self.op.i64(x[i], y[j]))
                    .collect::<Result<_, _>>()?,
            ),
            _ => bail_op!("operand types differ"),
        };
        Ok(vec![Tensor::new(shape, data)?])
    }
}
