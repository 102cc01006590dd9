//! The one place that knows the binary encoding of structured data (plan
//! headers now, proofs later): bincode 2 with its serde bridge, a size limit
//! so that untrusted lengths cannot trigger huge allocations, a check
//! that the whole input was consumed, and (for files whose hash names
//! them) a check that the bytes are the canonical encoding.
//!
//! bincode is pinned to `=2.0.1` in the workspace: 3.0.0 is an empty
//! tombstone release.

use serde::{Serialize, de::DeserializeOwned};

/// Upper bound on any decoded structure (bulk data never goes through here).
const LIMIT: usize = 1 << 30;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_limit::<LIMIT>()
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("encode: {0}")]
    Encode(String),
    #[error("decode: {0}")]
    Decode(String),
    #[error("decode: {0} trailing bytes")]
    Trailing(usize),
}

pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(v, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (v, used) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - used));
    }
    Ok(v)
}

/// [`decode`], also requiring `bytes` to be the one encoding of what they
/// decode to (bincode's varints accept padded forms: a structure that
/// re-encodes differently is refused), so that a file's hash identifies
/// its content.
pub fn decode_canonical<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let v: T = decode(bytes)?;
    if encode(&v)? != bytes {
        return Err(CodecError::Decode("not the canonical encoding".into()));
    }
    Ok(v)
}
