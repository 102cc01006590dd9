//! Element types and facts (the static type of a value).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Parameters of a quantized integer type: the real number represented by
/// the integer `q` is `q · scale`; `q` is signed and fits in `bits` bits
/// (two's complement range `[-2^(bits-1), 2^(bits-1))`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QType {
    pub bits: u8,
    pub scale: f32,
}

impl QType {
    pub fn new(bits: u8, scale: f32) -> Self {
        QType { bits, scale }
    }
    /// Largest magnitude: the range is `[-max_abs, max_abs]` (symmetric, so
    /// negation never overflows; the most negative two's complement value is
    /// left unused).
    pub fn max_abs(self) -> i64 {
        if self.bits >= 64 { i64::MAX } else { (1i64 << (self.bits.max(1) - 1)) - 1 }
    }
    pub fn contains(self, v: i64) -> bool {
        v.unsigned_abs() <= self.max_abs() as u64
    }
    /// The integer representing `x`: `round(x / scale)`, ties away from
    /// zero, saturated to the range (non-finite inputs saturate; NaN is 0).
    pub fn quantize(self, x: f64) -> i64 {
        let m = self.max_abs() as f64;
        let q = (x / self.scale as f64).round();
        if q.is_nan() { 0 } else { q.clamp(-m, m) as i64 }
    }
    /// The real number an integer of this type represents.
    pub fn dequantize(self, q: i64) -> f64 {
        q as f64 * self.scale as f64
    }
    /// Fewest bits whose symmetric range holds every `|v| ≤ max_abs`.
    pub fn bits_for(max_abs: u128) -> u32 {
        // bits b holds |v| ≤ 2^(b-1) - 1, i.e. b = bit length of |v| plus sign.
        128 - max_abs.leading_zeros() + 1
    }
}

/// Element type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum DType {
    /// IEEE single precision: every value before quantization.
    F32,
    /// Plain integers: token ids and gather indices.
    I64,
    /// Booleans: masks and conditions.
    Bool,
    /// Quantized fixed point, stored as i64 (embeddable in Goldilocks).
    Q(QType),
}

impl DType {
    /// How values of this type are stored in a [`crate::Tensor`]: quantized
    /// values are plain `I64` data, their scale lives in the fact.
    pub fn storage(self) -> DType {
        match self {
            DType::Q(_) => DType::I64,
            d => d,
        }
    }
    pub fn q(self) -> Option<QType> {
        match self {
            DType::Q(q) => Some(q),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::F32 => write!(f, "f32"),
            DType::I64 => write!(f, "i64"),
            DType::Bool => write!(f, "bool"),
            DType::Q(q) => write!(f, "q{}@{:e}", q.bits, q.scale),
        }
    }
}

/// The static type of a value: element type and fully known shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl Fact {
    pub fn new(dtype: DType, shape: impl Into<Vec<usize>>) -> Self {
        Fact { dtype, shape: shape.into() }
    }
    pub fn f32(shape: impl Into<Vec<usize>>) -> Self {
        Fact::new(DType::F32, shape)
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Element count, or `None` if it overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        write!(f, "{}[{}]", self.dtype, dims.join(","))
    }
}
