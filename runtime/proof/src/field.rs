//! Fields: `F` = Goldilocks (`p = 2^64 - 2^32 + 1`), `EF` = its degree-2
//! binomial extension `F[X]/(X^2 - 7)` (|EF| ≈ 2^128), where every verifier
//! challenge lives.
//!
//! **Embedding signed integers.** A quantized value `q ∈ ℤ` is mapped to
//! `q mod p`. The map is injective on `(-p/2, p/2)`, so a field element can
//! be read back as a signed integer as long as every value the protocol
//! handles — inputs, weights, and every intermediate sum of an einsum before
//! requantization — satisfies `|q| < 2^62` ([`SAFE_BITS`]). The integer
//! executor checks declared bit ranges so that this holds; an accumulation
//! of `K` products of `b`-bit values needs `2b + log2 K ≤ 62`.

use p3_field::PrimeCharacteristicRing;
use p3_field::PrimeField64;
use p3_field::extension::BinomialExtensionField;
use p3_goldilocks::Goldilocks;

/// The base field.
pub type F = Goldilocks;
/// The challenge (extension) field.
pub type EF = BinomialExtensionField<Goldilocks, 2>;

/// Signed integers of at most this many bits (sign included) round-trip
/// through the field with room for one addition.
pub const SAFE_BITS: u32 = 63;

/// `q mod p` for a signed `q`.
pub fn embed_i64(q: i64) -> F {
    if q >= 0 { F::from_u64(q as u64) } else { -F::from_u64(q.unsigned_abs()) }
}

/// Inverse of [`embed_i64`] on `(-p/2, p/2)`.
pub fn decode_i64(x: F) -> i64 {
    let v = x.as_canonical_u64();
    let p = F::ORDER_U64;
    if v > p / 2 { -((p - v) as i64) } else { v as i64 }
}
