//! The files `zkrt` reads and writes.
//!
//! **Bounded reads.** Every file is read through [`read_bounded`]: a regular
//! file larger than its limit is refused before a byte is read, and any
//! other file (a pipe, `/dev/zero`) is read through a window of the limit
//! plus one byte, so no input grows memory beyond its limit. The limits
//! (below) are far above what this project writes: a 30-layer SmolLM2 proof
//! is 25 MB.
//!
//! **Atomic writes.** [`write_atomic`] writes a temporary file in the
//! target's directory, syncs it and renames it over the target, so a
//! reader never sees a half-written file and a failed run leaves no new
//! file behind.

use crate::RuntimeError;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest input, output or calibration JSON file read.
pub const MAX_JSON_BYTES: u64 = 256 << 20;
/// Largest verifying key read.
pub const MAX_KEY_BYTES: u64 = 256 << 20;
/// Largest proof file read (the largest proof body plus its header).
pub const MAX_PROOF_FILE_BYTES: u64 = (1 << 28) + 48;
/// Largest hostfile read.
pub const MAX_HOSTFILE_BYTES: u64 = 1 << 20;
/// Largest tokenizer.json read (SmolLM2's is 1.5 MB).
pub const MAX_TOKENIZER_BYTES: u64 = 128 << 20;

fn err(path: &Path, message: impl Into<String>) -> RuntimeError {
    RuntimeError::File { path: path.display().to_string(), message: message.into() }
}

/// The bytes of `path` (`what` names it in errors), at most `limit` of them.
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, RuntimeError> {
    let file = std::fs::File::open(path).map_err(|e| err(path, format!("reading the {what}: {e}")))?;
    let meta = file.metadata().map_err(|e| err(path, format!("reading the {what}: {e}")))?;
    if meta.is_dir() {
        return Err(err(path, format!("the {what} is a directory")));
    }
    let too_large = || err(path, format!("the {what} is larger than {limit} bytes, the most this reads"));
    if meta.is_file() && meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(if meta.is_file() { meta.len() as usize } else { 0 });
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(path, format!("reading the {what}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, RuntimeError> {
    String::from_utf8(read_bounded(path, limit, what)?)
        .map_err(|_| err(path, format!("the {what} is not UTF-8 text")))
}

/// Writes `bytes` to `path` atomically (see the module docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let name = path.file_name().ok_or_else(|| err(path, "not a file name"))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp: PathBuf = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(path, format!("writing: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_read_up_to_its_limit_only() {
        let e = read_bounded(Path::new("/dev/zero"), 1 << 16, "proof").unwrap_err().to_string();
        assert!(e.contains("larger than 65536 bytes"), "{e}");
    }

    #[test]
    fn a_large_file_is_refused_before_reading() {
        let dir = std::env::temp_dir().join(format!("zkml-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.json");
        std::fs::write(&p, vec![b' '; 100]).unwrap();
        assert!(read_bounded(&p, 99, "input").is_err());
        assert_eq!(read_bounded(&p, 100, "input").unwrap().len(), 100);
        write_atomic(&p, b"{}").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
