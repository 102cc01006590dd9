//! Prover-side arrays that live either in memory or in a mapped file.
//!
//! The weights' prover data (their Reed–Solomon codeword and Merkle tree)
//! is computed once by `zkc compile` and stored in `plan.bin`; `zkrt run`
//! reads only what a proof touches (the message part once, the opened
//! columns and their Merkle paths) at offsets of the file, so the codeword
//! costs neither setup time nor resident memory per proof. [`Words`] and
//! [`Digests`] give the same read interface over an owned vector (witness
//! commitments, made per proof) and over stored bytes ([`Source`]: shared
//! memory or the file).
//!
//! Stored layout: little-endian `u64` words (canonical field elements) and
//! raw 32-byte digests, each array starting at a 64-byte aligned offset of
//! its section. Reading decodes on the fly (`u64::from_le_bytes`), so no
//! unsafe cast and no alignment requirement beyond what the writer keeps.

use crate::F;
use p3_field::PrimeCharacteristicRing;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes shared with their owner (a memory map, or a vector read from disk).
pub type Shared = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Where stored bytes are: shared memory, or a file read at offsets
/// (`pread`; its pages stay in the page cache, out of the process's
/// resident set).
#[derive(Clone)]
pub enum Source {
    Memory(Shared),
    File(Arc<File>),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Memory(b) => write!(f, "Memory({} bytes)", (**b).as_ref().len()),
            Source::File(_) => write!(f, "File"),
        }
    }
}

impl Source {
    /// Total length in bytes.
    pub fn byte_len(&self) -> std::io::Result<usize> {
        match self {
            Source::Memory(b) => Ok((**b).as_ref().len()),
            Source::File(f) => Ok(f.metadata()?.len() as usize),
        }
    }
    /// Fills `buf` from offset `at`.
    pub fn read_at(&self, at: usize, buf: &mut [u8]) -> std::io::Result<()> {
        match self {
            Source::Memory(b) => {
                let src = (**b)
                    .as_ref()
                    .get(at..at + buf.len())
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Source::File(f) => f.read_exact_at(buf, at as u64),
        }
    }
}

/// The panic payload of a read of stored prover data that failed in the
/// middle of a proof: the file was shortened or replaced under the prover.
#[derive(Debug, Clone)]
pub struct StoreChanged(pub String);

/// A byte range of a [`Source`].
#[derive(Clone)]
pub struct Mapped {
    src: Source,
    start: usize,
    len: usize,
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mapped({}..{})", self.start, self.start + self.len)
    }
}

impl Mapped {
    /// The range `start..start+len` of `src`, if it lies inside.
    pub fn new(src: Source, start: usize, len: usize) -> Option<Mapped> {
        let end = start.checked_add(len)?;
        (end <= src.byte_len().ok()?).then_some(Mapped { src, start, len })
    }
    /// Calls `f` with bytes `at..at+n` of the range: borrowed from memory,
    /// or read from the file into a scratch buffer. The range was checked
    /// against the source's length when it was made; a file shortened since
    /// then is an I/O failure, reported as a panic whose payload is
    /// [`StoreChanged`] (the prover cannot go on without its committed
    /// data, and the binaries report that payload as an error, not a bug).
    fn with_bytes<R>(&self, at: usize, n: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        assert!(at + n <= self.len, "read past the stored range");
        match &self.src {
            Source::Memory(b) => f(&(**b).as_ref()[self.start + at..self.start + at + n]),
            Source::File(_) => {
                let mut buf = vec![0u8; n];
                if let Err(e) = self.src.read_at(self.start + at, &mut buf) {
                    std::panic::panic_any(StoreChanged(format!(
                        "reading the plan's prover section failed: the plan file changed while proving ({e})"
                    )));
                }
                f(&buf)
            }
        }
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
    /// buffer when stored).
    pub fn with_range<R>(&self, start: usize, n: usize, f: impl FnOnce(&[F]) -> R) -> R {
        match self {
            Words::Owned(v) => f(&v[start..start + n]),
            Words::Mapped(m) => m.with_bytes(start * 8, n * 8, |b| {
                let row: Vec<F> = b.chunks_exact(8).map(decode).collect();
                f(&row)
            }),
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
            Digests::Mapped(m) => m.with_bytes(i * 32, 32, |b| {
                let mut d = [0u8; 32];
                d.copy_from_slice(b);
                d
            }),
        }
    }
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Digests::Owned(v) => v.iter().for_each(|d| out.extend_from_slice(d)),
            Digests::Mapped(m) => m.with_bytes(0, m.len, |b| out.extend_from_slice(b)),
        }
    }
}

#[cfg(test)]
mod changed_tests {
    use super::*;

    /// A file shortened under a mapped range fails with a typed payload.
    #[test]
    fn a_file_shortened_under_the_prover_is_reported_as_changed() {
        let dir = std::env::temp_dir().join(format!("zkml-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("section.bin");
        std::fs::write(&path, vec![7u8; 4096]).unwrap_or_default();
        let file = std::sync::Arc::new(std::fs::File::open(&path).expect("opens"));
        let m = Mapped::new(Source::File(file), 0, 4096).expect("in range");
        std::fs::OpenOptions::new().write(true).open(&path).and_then(|f| f.set_len(16)).expect("truncates");
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.with_bytes(1024, 64, |b| b.len())));
        let payload = r.expect_err("the read fails");
        let changed = payload.downcast_ref::<StoreChanged>().expect("typed payload");
        assert!(changed.0.contains("changed while proving"), "{}", changed.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
