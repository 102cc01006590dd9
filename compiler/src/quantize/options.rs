//! Quantization settings and their bounds.

use super::QuantError;

/// Quantization settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantOptions {
    /// Width of activations (inputs, table outputs, einsum operands).
    pub bits: u8,
    /// Width of weights.
    pub weight_bits: u8,
    /// Width of table domains (≤ 16: at most 2^16 rows).
    pub domain_bits: u8,
    /// Calibrated ranges are widened by this factor before scales are
    /// chosen: a few calibration samples underestimate the largest value a
    /// fresh input produces, and values beyond a table's domain saturate.
    /// Each doubling costs one bit of precision.
    pub headroom: f32,
    /// Width residual streams are kept at (operands of non-constant
    /// additions are narrowed to it). Wider than `bits`: an LLM's residual
    /// stream holds "massive activations" 10^3 times its typical values.
    pub wide_bits: u8,
    /// Weights of einsums get per-output-channel scales (see
    /// `Quantizer::per_channel_einsum`); off by default.
    pub per_channel: bool,
}

/// Default [`QuantOptions::headroom`] (see `docs/quantization.md` for the
/// measurements that chose it).
pub const HEADROOM: f32 = 2.0;

/// Default [`QuantOptions::wide_bits`]: squares of 24-bit values summed
/// over up to 2^12 channels still fit the 62-bit exact range.
pub const WIDE_BITS: u8 = 24;

impl Default for QuantOptions {
    fn default() -> Self {
        QuantOptions {
            bits: 16,
            weight_bits: 16,
            domain_bits: 16,
            headroom: HEADROOM,
            wide_bits: WIDE_BITS,
            per_channel: false,
        }
    }
}

impl QuantOptions {
    /// `bits`-wide activations and weights, tables of `max(bits, 12)` bits
    /// (at most 16), residual streams of `bits + 8` bits (at most 24).
    pub fn with_bits(bits: u8) -> Self {
        QuantOptions {
            bits,
            weight_bits: bits,
            domain_bits: bits.clamp(12, 16),
            headroom: HEADROOM,
            wide_bits: (bits + 8).min(WIDE_BITS),
            per_channel: false,
        }
    }
    pub(crate) fn check(&self) -> Result<(), QuantError> {
        if !(4..=16).contains(&self.bits) {
            return Err(QuantError::Bits(self.bits));
        }
        if !(2..=16).contains(&self.weight_bits) {
            return Err(QuantError::Bits(self.weight_bits));
        }
        if !(4..=16).contains(&self.domain_bits) {
            return Err(QuantError::Bits(self.domain_bits));
        }
        if !(self.bits..=30).contains(&self.wide_bits) {
            return Err(QuantError::Bits(self.wide_bits));
        }
        if !(1.0..=1024.0).contains(&self.headroom) {
            return Err(QuantError::Headroom(self.headroom));
        }
        Ok(())
    }
}
