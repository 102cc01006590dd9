//! Binary encoding of proofs: bincode 2 (pinned `=2.0.1`; 3.0.0 is an empty
//! tombstone) through serde, with a size limit so untrusted lengths cannot
//! allocate without bound, a trailing-bytes check and a canonical-encoding
//! check. Decoding untrusted bytes returns an error, never panics.
//!
//! The IR crate has the same wrapper for plan headers; the proof crate keeps
//! its own so that a verifier links neither the IR nor the compiler.

use serde::{Serialize, de::DeserializeOwned};

/// Largest proof accepted (bytes).
pub const MAX_PROOF_BYTES: usize = 1 << 28;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_limit::<MAX_PROOF_BYTES>()
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodingError {
    #[error("proof encoding: {0}")]
    Encode(String),
    #[error("proof decoding: {0}")]
    Decode(String),
    #[error("proof decoding: {0} trailing bytes")]
    Trailing(usize),
}

pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, EncodingError> {
    bincode::serde::encode_to_vec(v, config()).map_err(|e| EncodingError::Encode(e.to_string()))
}

/// Decodes `bytes`, which must be the one encoding of the value (bincode's
/// varints also accept padded forms, and a field element may be written
/// unreduced: anything that re-encodes differently is refused), so that a
/// proof's hash can serve as its id.
pub fn decode<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, EncodingError> {
    if bytes.len() > MAX_PROOF_BYTES {
        return Err(EncodingError::Decode("proof too large".into()));
    }
    let (v, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| EncodingError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(EncodingError::Trailing(bytes.len() - used));
    }
    if encode(&v)? != bytes {
        return Err(EncodingError::Decode("not the canonical encoding".into()));
    }
    Ok(v)
}

/// Encoded size of a value, for per-component size accounting.
pub fn size_of<T: Serialize>(v: &T) -> usize {
    encode(v).map(|b| b.len()).unwrap_or(0)
}
