//! Naive definitions, one hypercube point at a time.

use crate::{EF, F};
use p3_field::PrimeCharacteristicRing;

/// Bit `k` (variable `k`, MSB first) of index `i` in `n` variables.
fn bit(i: usize, k: usize, n: usize) -> bool {
    (i >> (n - 1 - k)) & 1 == 1
}

pub fn eq_table(z: &[EF]) -> Vec<EF> {
    let n = z.len();
    (0..1usize << n)
        .map(|i| (0..n).map(|k| if bit(i, k, n) { z[k] } else { EF::ONE - z[k] }).product())
        .collect()
}

/// `Σ_x f(x) eq(x, z)`.
pub fn evaluate(f: &[F], z: &[EF]) -> EF {
    let eq = eq_table(z);
    f.iter().zip(&eq).map(|(&v, &e)| e * v).sum()
}

pub fn fix_first(f: &[EF], r: EF) -> Vec<EF> {
    let half = f.len() / 2;
    (0..half).map(|i| (EF::ONE - r) * f[i] + r * f[half + i]).collect()
}
