//! The element types the kernels run on.
//!
//! `f32` is the float path (tract parity); `i64` is the quantized path, whose
//! results must be exact: the compiler's bit-width analysis guarantees that no
//! product or sum of a quantized einsum leaves the `i64` range (in fact it
//! stays below 2^62, the Goldilocks-embeddable range), so `i64` kernels use
//! wrapping arithmetic only to avoid debug-build panics on hostile plans,
//! whose results the executor's range checks then reject.

/// A ring element the optimised kernels accumulate in.
pub trait Scalar: Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static {
    const ZERO: Self;
    /// `self + a · b`.
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn add(self, other: Self) -> Self;
}

impl Scalar for f32 {
    const ZERO: f32 = 0.0;
    #[inline]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        // Not `f32::mul_add`: a fused multiply-add is slower without FMA
        // hardware and rounds differently from tract's kernels.
        self + a * b
    }
    #[inline]
    fn add(self, other: f32) -> f32 {
        self + other
    }
}

impl Scalar for i64 {
    const ZERO: i64 = 0;
    #[inline]
    fn mul_add(self, a: i64, b: i64) -> i64 {
        self.wrapping_add(a.wrapping_mul(b))
    }
    #[inline]
    fn add(self, other: i64) -> i64 {
        self.wrapping_add(other)
    }
}
