//! Scale algebra and table domains: the scale for a range, where a
//! table's domain must reach, floating-point domains, per-tensor weights.

use super::*;

/// Whether `func` on inputs calibrated to `[lo, hi]` reads a floating-point
/// domain: the activation table says so for functions steep near 0 (of a
/// variance, a softmax sum), and the inputs are never negative.
pub(super) fn wants_log_domain(func: LookupFn, (lo, _): (f32, f32)) -> bool {
    func.domain_kind() == DomainKind::Log && lo >= 0.0
}

/// A floating-point table domain on inputs of type `input`: the mantissa
/// gets up to `max_mantissa` bits, fewer if the table would exceed
/// [`MAX_ROWS`].
pub(super) fn log_domain(input: QType, max_mantissa: u8) -> Option<LogDomain> {
    // |q| ≤ 2^(bits-1) - 1: at most bits-1 significant bits.
    (2..=max_mantissa.min(16)).rev().find_map(|d| {
        let max_exp = (input.bits - 1).saturating_sub(d);
        let log = LogDomain { scale: input.scale, mantissa: d, max_exp };
        (log.rows() <= MAX_ROWS).then_some(log)
    })
}

/// The magnitude a table's domain must cover for inputs in `[lo, hi]`.
///
/// A table saturates inputs beyond its domain, so the domain may stop where
/// the function stops changing at the output's precision. For `exp`, inputs
/// below `hi - ln(2·max_out)` give `exp(x) < ½·exp(hi)/max_out`, half a step
/// of an output scaled to `exp(hi)`: they all round to 0. This is what keeps
/// the softmax's `exp(x - max)` table fine-grained even when masked entries
/// (`x ≈ -10^4`) are in the calibration range.
pub(super) fn table_domain_absmax(func: LookupFn, (lo, hi): (f32, f32), out_bits: u8) -> f32 {
    let absmax = (-lo).max(hi);
    match func {
        LookupFn::Exp => {
            let cut = (2.0 * QType::new(out_bits, 1.0).max_abs() as f32).ln() - hi;
            hi.max(0.0).max((-lo).min(cut))
        }
        _ => absmax,
    }
}

/// The scale that maps `absmax` onto a `bits`-wide symmetric range.
pub(super) fn scale_for(absmax: f32, bits: u8) -> f32 {
    let m = QType::new(bits, 1.0).max_abs() as f32;
    if absmax > 0.0 && absmax.is_finite() { absmax / m } else { 1.0 / m }
}

/// Symmetric per-tensor quantization of `v` to `bits` bits; a tensor whose
/// nonzero entries share one magnitude becomes exactly `{-1,0,1}·m`, and a
/// tensor of integers that fit `bits` is kept exactly at scale 1, and one on
/// an int8 grid `k · absmax/127` keeps that grid.
pub fn quantize_tensor(v: &[f32], bits: u8) -> (Vec<i64>, QType) {
    let absmax = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if absmax > 0.0 && v.iter().all(|x| *x == 0.0 || x.abs() == absmax) {
        let ints = v
            .iter()
            .map(|x| {
                if *x == 0.0 {
                    0
                } else if *x > 0.0 {
                    1
                } else {
                    -1
                }
            })
            .collect();
        return (ints, QType::new(2, absmax));
    }
    // Integers (the zero-point-shifted weights of a quantized model) are
    // kept exactly, at scale 1, when they fit the width.
    if absmax <= QType::new(bits, 1.0).max_abs() as f32 && v.iter().all(|x| x.fract() == 0.0) {
        let ints: Vec<i64> = v.iter().map(|&x| x as i64).collect();
        return (ints, QType::new((QType::bits_for(absmax as u128) as u8).max(2), 1.0));
    }
    // Weights of an int8 model, dequantized (`k · s`, the largest at
    // `±127 · s`, as symmetric int8 quantizers write them), keep their own
    // grid exactly.
    if bits >= 8 && absmax > 0.0 {
        let s = f64::from(absmax) / 127.0;
        let ks: Vec<f64> = v.iter().map(|&x| f64::from(x) / s).collect();
        if ks.iter().all(|k| (k - k.round()).abs() < 1e-4) {
            return (ks.iter().map(|k| k.round() as i64).collect(), QType::new(8, s as f32));
        }
    }
    let s = scale_for(absmax, bits);
    let m = QType::new(bits, s).max_abs() as f64;
    let ints = v.iter().map(|x| ((*x as f64 / s as f64).round()).clamp(-m, m) as i64).collect();
    (ints, QType::new(bits, s))
}
