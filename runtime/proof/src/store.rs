//! Prover-side arrays that live either in memory or in a mapped file.
//!
//! The weights' prover data (their Reed–Solomon codeword and Merkle tree)
//! is computed once by `zkc compile` and stored in `plan.bin`; `zkrt run`
//! maps the file and reads only the rows a proof touches (the opened
//! columns, their Merkle paths), so the codeword costs neither setup time
//! nor resident memory per proof. [`Words`] and [`Digests`] give the same
//! read interface over an owned vector (witness commitments, made per
//! proof) and over bytes shared with a mapping.
//!
//! Stored layout: little-endian `u64` words (canonical field elements) and
//! raw 32-byte digests, each array starting at a 64-byte aligned offset of
//! its section. Reading decodes on the fly (`u64::from_le_bytes`), so no
//! unsafe cast and no alignment requirement beyond what the writer keeps.

use crate::F;
use p3_field::PrimeCharacteristicRing;
use std::fmt;
use std::sync::Arc;

/// Bytes shared with their owner (a memory map, or a vector read from disk).
pub type Shared = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A byte range of a [`Shared`] buffer.
#[derive(Clone)]
pub struct Mapped {
    bytes: Shared,
    start: usize,
    len: usize,
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mapped({}..{})", self.start, self.start + self.len)
    }
}

impl Mapped {
    /// The range `start..start+len` of `bytes`, if it lies inside.
    pub fn new(bytes: Shared, start: usize, len: usize) -> Option<Mapped> {
        let end = start.checked_add(len)?;
        (end <= (*bytes).as_ref().len()).then_some(Mapped { bytes, start, len })
    }
    pub fn as_bytes(&self) -> &[u8] {
        &(*self.bytes).as_ref()[self.start..self.start + self.len]
    }
}

/// Field elements, owned or stored as little-endian words.
#[derive(Debug)]
pub enum Words {
    Owned(Vec<F>),
    Mapped(Mapped),
}

impl Words {
    pub fn len(&self) -> usize {
        match self {
            Words::Owned(v) => v.len(),
            Words::Mapped(m) => m.len / 8,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with elements `start..start+n` (decoded into a scratch
    /// buffer when mapped; rows are a few KB).
    pub fn with_range<R>(&self, start: usize, n: usize, f: impl FnOnce(&[F]) -> R) -> R {
        match self {
            Words::Owned(v) => f(&v[start..start + n]),
            Words::Mapped(m) => {
                let b = &m.as_bytes()[start * 8..(start + n) * 8];
                let row: Vec<F> = b.chunks_exact(8).map(decode).collect();
                f(&row)
            }
        }
    }

    /// Elements `start..start+n`, copied.
    pub fn range(&self, start: usize, n: usize) -> Vec<F> {
        self.with_range(start, n, <[F]>::to_vec)
    }
}

fn decode(b: &[u8]) -> F {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    F::from_u64(u64::from_le_bytes(w))
}

/// 32-byte digests, owned or stored raw.
#[derive(Debug)]
pub enum Digests {
    Owned(Vec<[u8; 32]>),
    Mapped(Mapped),
}

impl Digests {
    pub fn len(&self) -> usize {
        match self {
            Digests::Owned(v) => v.len(),
            Digests::Mapped(m) => m.len / 32,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, i: usize) -> [u8; 32] {
        match self {
            Digests::Owned(v) => v[i],
            Digests::Mapped(m) => {
                let mut d = [0u8; 32];
                d.copy_from_slice(&m.as_bytes()[i * 32..i * 32 + 32]);
                d
            }
        }
    }
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Digests::Owned(v) => v.iter().for_each(|d| out.extend_from_slice(d)),
            Digests::Mapped(m) => out.extend_from_slice(m.as_bytes()),
        }
    }
}
