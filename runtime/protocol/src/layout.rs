//! Padded tensor layouts: how a tensor becomes a multilinear polynomial.
//!
//! A tensor of shape `(d_0, …, d_{k-1})` is padded **per axis** to
//! `(2^b_0, …, 2^b_{k-1})`, `b_a = ⌈log2 d_a⌉`, with zeros, and stored row
//! major; its multilinear extension has `Σ b_a` variables, axis 0's bits
//! first (most significant). Per-axis padding makes every axis a block of
//! variables, so an einsum's sum over an axis is a sum over that block, a
//! transpose is a permutation of blocks, and a broadcast ignores a block.
//!
//! **Invariant:** padded entries are zero. For tensors the verifier
//! recomputes (public inputs and outputs) or derives by an op's reduction it
//! holds by construction; for committed tensors it is enforced by the
//! padding check of the packed opening ([`crate::packing`]).
//!
//! The indicator of real positions, `[i_a < d_a]` on every axis, has a
//! succinct multilinear extension ([`lt_eval`]) that the verifier evaluates
//! in `O(Σ b_a)`.

use p3_field::PrimeCharacteristicRing;
use zkml_proof::field::embed_i64;
use zkml_proof::{EF, F};

/// `⌈log2 d⌉` (0 for `d ≤ 1`).
pub fn log2_ceil(d: usize) -> usize {
    d.max(1).next_power_of_two().trailing_zeros() as usize
}

/// The padded layout of one tensor shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub dims: Vec<usize>,
    pub bits: Vec<usize>,
}

impl Layout {
    pub fn new(dims: &[usize]) -> Layout {
        Layout { dims: dims.to_vec(), bits: dims.iter().map(|&d| log2_ceil(d)).collect() }
    }

    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// Number of variables of the multilinear extension.
    pub fn vars(&self) -> usize {
        self.bits.iter().sum()
    }

    /// Padded length `2^vars`.
    pub fn padded_len(&self) -> usize {
        1 << self.vars()
    }

    /// Number of real entries.
    pub fn real_len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether padding adds no entries (every dimension a power of two).
    pub fn is_dense(&self) -> bool {
        self.real_len() == self.padded_len()
    }

    /// Row-major strides of the padded tensor.
    pub fn padded_strides(&self) -> Vec<usize> {
        let mut s = vec![1usize; self.rank()];
        for a in (0..self.rank().saturating_sub(1)).rev() {
            s[a] = s[a + 1] << self.bits[a + 1];
        }
        s
    }

    /// `out[i]` = padded index of the real entry with row-major index `i`.
    pub fn padded_indices(&self) -> Vec<usize> {
        let n = self.real_len();
        let strides = self.padded_strides();
        let mut out = Vec::with_capacity(n);
        let mut idx = vec![0usize; self.rank()];
        let mut pos = 0usize;
        for _ in 0..n {
            out.push(pos);
            for a in (0..self.rank()).rev() {
                idx[a] += 1;
                pos += strides[a];
                if idx[a] < self.dims[a] {
                    break;
                }
                pos -= strides[a] * idx[a];
                idx[a] = 0;
            }
        }
        out
    }

    /// The padded table of row-major data (`data.len()` must be the real length).
    pub fn pad<T: Copy>(&self, data: &[T], zero: T) -> Vec<T> {
        let mut out = vec![zero; self.padded_len()];
        if self.is_dense() {
            out.copy_from_slice(data);
            return out;
        }
        for (&p, &v) in self.padded_indices().iter().zip(data) {
            out[p] = v;
        }
        out
    }

    /// Padded field table of signed integers.
    pub fn pad_i64(&self, data: &[i64]) -> Vec<F> {
        self.pad_ints(data)
    }

    /// Padded field table of signed integers of any width.
    pub fn pad_ints<T: Copy + Into<i64>>(&self, data: &[T]) -> Vec<F> {
        let mut out = vec![F::ZERO; self.padded_len()];
        if self.is_dense() {
            for (o, &v) in out.iter_mut().zip(data) {
                *o = embed_i64(v.into());
            }
            return out;
        }
        for (&p, &v) in self.padded_indices().iter().zip(data) {
            out[p] = embed_i64(v.into());
        }
        out
    }

    /// Padded field table of an integer tensor in whatever storage width it
    /// has (a 16-bit weight is embedded without an `i64` copy); `None` for
    /// float or bool data.
    pub fn pad_data(&self, data: &zkml_ir::TensorData) -> Option<Vec<F>> {
        zkml_ir::with_ints!(data, v => self.pad_ints(v))
    }

    /// Splits a point on this layout into one slice per axis.
    pub fn split<'a>(&self, point: &'a [EF]) -> Vec<&'a [EF]> {
        let mut out = Vec::with_capacity(self.rank());
        let mut at = 0;
        for &b in &self.bits {
            out.push(&point[at..at + b]);
            at += b;
        }
        out
    }

    /// The multilinear extension of the real-entry indicator at `point`.
    pub fn real_eval(&self, point: &[EF]) -> EF {
        self.split(point).iter().zip(&self.dims).map(|(r, &d)| lt_eval(r, d)).product()
    }

    /// Whether each padded position holds a real entry.
    pub fn real_mask(&self) -> Vec<bool> {
        let mut m = vec![false; self.padded_len()];
        for p in self.padded_indices() {
            m[p] = true;
        }
        m
    }
}

/// Multilinear extension of `i ↦ [i < d]` on `b = r.len()` bits (MSB first),
/// at `r`: the sum over the bits `k` where `d` has a one of
/// `Π_{j<k} eq(r_j, d_j) · (1 − r_k)`. `O(b)`.
pub fn lt_eval(r: &[EF], d: usize) -> EF {
    let b = r.len();
    if d >= 1 << b {
        return EF::ONE;
    }
    let mut acc = EF::ZERO;
    let mut prefix = EF::ONE;
    for (k, &rk) in r.iter().enumerate() {
        let bit = (d >> (b - 1 - k)) & 1;
        if bit == 1 {
            acc += prefix * (EF::ONE - rk);
            prefix *= rk;
        } else {
            prefix *= EF::ONE - rk;
        }
    }
    acc
}

/// `Σ_k 2^(b-1-k) r_k`: the multilinear extension of `i ↦ i` on `b` bits.
pub fn index_eval(r: &[EF]) -> EF {
    r.iter().fold(EF::ZERO, |acc, &x| acc.double() + x)
}

/// The point with coordinates the bits of `i` (MSB first), `b` bits.
pub fn bits_point(i: usize, b: usize) -> Vec<EF> {
    (0..b).map(|k| if (i >> (b - 1 - k)) & 1 == 1 { EF::ONE } else { EF::ZERO }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkml_proof::mle::{evaluate, evaluate_ext};

    fn pt(v: &[u64]) -> Vec<EF> {
        v.iter().map(|&x| EF::from_u64(x * 7919 + 3)).collect()
    }

    #[test]
    fn lt_matches_table() {
        for b in 0..5 {
            for d in 0..=(1usize << b) {
                let table: Vec<F> = (0..1usize << b).map(|i| F::from_bool(i < d)).collect();
                let r = pt(&(0..b as u64).collect::<Vec<_>>());
                assert_eq!(lt_eval(&r, d), evaluate(&table, &r), "b={b} d={d}");
            }
        }
    }

    #[test]
    fn real_indicator_and_padding() {
        let l = Layout::new(&[3, 1, 5]);
        assert_eq!(l.vars(), 5);
        let data: Vec<i64> = (1..=15).collect();
        let p = l.pad_i64(&data);
        // Entry (2, 0, 4) sits at padded 2·8 + 4.
        assert_eq!(p[20], embed_i64(15));
        let mask: Vec<EF> = l.real_mask().iter().map(|&b| EF::from_bool(b)).collect();
        let r = pt(&[1, 2, 3, 4, 5]);
        assert_eq!(l.real_eval(&r), evaluate_ext(&mask, &r));
        assert_eq!(index_eval(&r[..3]), evaluate(&(0..8).map(F::from_u64).collect::<Vec<_>>(), &r[..3]));
    }
}
