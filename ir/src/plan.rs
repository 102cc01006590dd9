//! The plan file (`plan.bin`): what `zkc compile` writes and `zkrt` reads.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "ZKMLPLAN"
//!      8     4  format version (u32 LE) = FORMAT_VERSION
//!     12     4  reserved, 0
//!     16     8  header length H (u64 LE)
//!     24     8  blob offset B (u64 LE, multiple of 64)
//!     32     8  blob length L (u64 LE)
//!     40    32  BLAKE3 of bytes 72..B+L (header, padding, blob)
//!     72     H  header: bincode of the graph structure (constants by fact
//!               only), its colored partitions, the prover section's
//!               place and BLAKE3 hash, and the decoder shape of a decoder
//!               plan (`crate::decoder`)
//!      B     L  blob: every constant's raw little-endian data, each block
//!               starting at a 64-byte aligned offset (mmap-friendly);
//!               quantized integers at the narrowest width of their bit
//!               range (`Tensor::blob_width`), and read back at that width
//!      S     P  optional prover section (S = B + L rounded up to 64): bytes
//!               this crate does not interpret — the weights' committed
//!               codeword and Merkle tree, written by `zkc compile` so that
//!               `zkrt run --proof` reads them instead of recomputing them
//! ```
//!
//! The file ends at B + L, or at S + P with a prover section. The main hash
//! covers the header, which holds the section's own hash, so one digest
//! identifies everything.
//!
//! Reading checks, in order: length ≥ 72, magic, version, reserved bytes
//! (zero), lengths against the file length, content hash, padding (zero),
//! header decoding (canonical: re-encoding gives the same bytes), the prover section's hash,
//! blob references, and finally full graph validation (shape inference of
//! every node). Any failure is a typed [`PlanError`]; no input makes the
//! reader panic. [`Plan::open`] reads the header and blob, and leaves the
//! prover section in the file (hashed by streaming it; the prover reads it
//! at offsets), so a plan costs resident memory for its weights alone.

use crate::codec;
use crate::graph::{Node, ValueId};
use crate::ops::Op;
use crate::{Decoder, Graph, Partitioning, PlanError, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

pub const MAGIC: &[u8; 8] = b"ZKMLPLAN";
/// Bump on any change of the layout or of the serialized IR.
pub const FORMAT_VERSION: u32 = 5;
const FIXED: usize = 72;
const ALIGN: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    producer: String,
    nodes: Vec<Node>,
    inputs: Vec<usize>,
    outputs: Vec<ValueId>,
    blobs: Vec<BlobRef>,
    partitions: Partitioning,
    prover: Option<SectionRef>,
    decoder: Option<Decoder>,
}

/// The prover section's length and hash (it starts at the first 64-byte
/// boundary after the blob).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SectionRef {
    len: u64,
    blake3: [u8; 32],
}

/// Bytes shared with their owner: a memory map or a vector.
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Where a prover section's bytes are.
#[derive(Clone)]
pub enum SectionBytes {
    /// In memory.
    Memory(SharedBytes),
    /// In the plan file, read at offsets as a proof needs them: the pages
    /// go through the page cache, never into the prover's resident memory
    /// (a 4M-weight codeword is 134 MB, of which a proof reads a few
    /// hundred leaves and, once, the 34 MB message part).
    File(Arc<std::fs::File>),
}

/// The prover section: `len` bytes at `start` of `bytes`.
#[derive(Clone)]
pub struct ProverSection {
    pub bytes: SectionBytes,
    pub start: usize,
    pub len: usize,
}

impl std::fmt::Debug for SectionBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SectionBytes::Memory(b) => write!(f, "Memory({} bytes)", (**b).as_ref().len()),
            SectionBytes::File(_) => write!(f, "File"),
        }
    }
}

impl std::fmt::Debug for ProverSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProverSection({} bytes at {})", self.len, self.start)
    }
}

impl ProverSection {
    /// A section owning `bytes`.
    pub fn owned(bytes: Vec<u8>) -> ProverSection {
        let len = bytes.len();
        ProverSection { bytes: SectionBytes::Memory(Arc::new(bytes)), start: 0, len }
    }
    /// The section's bytes (read from the file for a file-backed section).
    pub fn as_bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>, PlanError> {
        match &self.bytes {
            SectionBytes::Memory(b) => {
                Ok(std::borrow::Cow::Borrowed(&(**b).as_ref()[self.start..self.start + self.len]))
            }
            SectionBytes::File(f) => {
                let mut buf = vec![0u8; self.len];
                std::os::unix::fs::FileExt::read_exact_at(&**f, &mut buf, self.start as u64)?;
                Ok(std::borrow::Cow::Owned(buf))
            }
        }
    }
}

/// Where a constant's data sits in the blob.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct BlobRef {
    node: usize,
    offset: u64,
    len: u64,
}

/// A compiled model: the graph (with weights) plus provenance.
#[derive(Debug, Clone)]
pub struct Plan {
    pub graph: Graph,
    /// Tool and version that wrote the plan.
    pub producer: String,
    /// Colored partitions of the proving work (one covering everything
    /// unless `zkc compile --colors` split it).
    pub partitions: Partitioning,
    /// Prover data (opaque here; see the module docs).
    pub prover: Option<ProverSection>,
}

fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

impl Plan {
    pub fn new(graph: Graph) -> Self {
        let partitions = Partitioning::single(&graph);
        Plan { graph, producer: format!("zkml {}", env!("CARGO_PKG_VERSION")), partitions, prover: None }
    }

    /// Serialises the plan.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PlanError> {
        let mut out = self.head_bytes()?;
        if let Some(p) = &self.prover {
            out.extend_from_slice(&p.as_bytes()?);
        }
        Ok(out)
    }

    /// Everything but the prover section's bytes (which follow it).
    fn head_bytes(&self) -> Result<Vec<u8>, PlanError> {
        let section = self
            .prover
            .as_ref()
            .map(|p| {
                Ok::<_, PlanError>(SectionRef {
                    len: p.len as u64,
                    blake3: *blake3::hash(&p.as_bytes()?).as_bytes(),
                })
            })
            .transpose()?;
        self.head_with(section)
    }

    fn head_with(&self, section: Option<SectionRef>) -> Result<Vec<u8>, PlanError> {
        let mut blob = Vec::new();
        let mut blobs = Vec::new();
        let mut nodes = Vec::with_capacity(self.graph.len());
        for (id, n) in self.graph.nodes() {
            if let Op::Const(c) = &n.op {
                let bytes = c
                    .value
                    .to_blob_bytes(&c.fact)
                    .map_err(|e| PlanError::Corrupt(format!("constant {id}: {e}")))?;
                blob.resize(align(blob.len()), 0);
                blobs.push(BlobRef { node: id, offset: blob.len() as u64, len: bytes.len() as u64 });
                blob.extend_from_slice(&bytes);
            }
            nodes.push(n.clone());
        }
        let header = Header {
            producer: self.producer.clone(),
            nodes,
            inputs: self.graph.inputs().to_vec(),
            outputs: self.graph.outputs().to_vec(),
            blobs,
            partitions: self.partitions.clone(),
            prover: None,
            decoder: self.graph.decoder().cloned(),
        };
        let mut header = header;
        header.prover = section;
        let header = codec::encode(&header).map_err(|e| PlanError::Corrupt(e.to_string()))?;
        let blob_offset = align(FIXED + header.len());
        let mut out = vec![0u8; blob_offset];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[16..24].copy_from_slice(&(header.len() as u64).to_le_bytes());
        out[24..32].copy_from_slice(&(blob_offset as u64).to_le_bytes());
        out[32..40].copy_from_slice(&(blob.len() as u64).to_le_bytes());
        out[FIXED..FIXED + header.len()].copy_from_slice(&header);
        out.extend_from_slice(&blob);
        let hash = blake3::hash(&out[FIXED..]);
        out[40..72].copy_from_slice(hash.as_bytes());
        if section.is_some() {
            out.resize(align(out.len()), 0);
        }
        Ok(out)
    }

    /// Writes the plan (the prover section straight from where it lives).
    pub fn write(&self, path: &Path) -> Result<(), PlanError> {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        f.write_all(&self.head_bytes()?)?;
        if let Some(p) = &self.prover {
            f.write_all(&p.as_bytes()?)?;
        }
        f.flush()?;
        Ok(())
    }

    /// Writes the plan with a prover section produced by `section`, which
    /// is called twice: once into a hasher (its length and BLAKE3 go into
    /// the header), once into the file. For sections too large to hold in
    /// memory a second time (a large model's codeword); `self.prover` is
    /// ignored.
    pub fn write_streaming(
        &self,
        path: &Path,
        section: impl Fn(&mut dyn std::io::Write) -> std::io::Result<u64>,
    ) -> Result<(), PlanError> {
        use std::io::Write;
        let mut hasher = blake3::Hasher::new();
        let len = section(&mut hasher)?;
        let head = self.head_with(Some(SectionRef { len, blake3: *hasher.finalize().as_bytes() }))?;
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        f.write_all(&head)?;
        if section(&mut f)? != len {
            return Err(PlanError::Corrupt("prover section changed while being written".into()));
        }
        f.flush()?;
        Ok(())
    }

    /// Reads and fully validates a plan from bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Plan, PlanError> {
        Plan::parse(bytes, bytes.len(), |gap, start, len| {
            zero_padding(&bytes[gap..start])?;
            let sec = ProverSection::owned(bytes[start..start + len].to_vec());
            Ok((*blake3::hash(&bytes[start..start + len]).as_bytes(), sec))
        })
    }

    /// Parses a plan of `total` bytes from `bytes`, its first bytes (at
    /// least through the blob: the whole file, or what [`Plan::open`]
    /// reads); `section(gap, start, len)` checks that the alignment padding
    /// `gap..start` is zero, hashes the prover section and returns it.
    fn parse(
        bytes: &[u8],
        total: usize,
        section: impl FnOnce(usize, usize, usize) -> Result<([u8; 32], ProverSection), PlanError>,
    ) -> Result<Plan, PlanError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(if bytes.len() < 8 && MAGIC.starts_with(bytes) {
                PlanError::Truncated(format!("{} bytes, not even the magic", bytes.len()))
            } else {
                PlanError::BadMagic
            });
        }
        if bytes.len() < FIXED {
            return Err(PlanError::Truncated(format!("{} bytes, fixed header is {FIXED}", bytes.len())));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(PlanError::Version { found: version, supported: FORMAT_VERSION });
        }
        if u32_at(12) != 0 {
            return Err(PlanError::Corrupt("reserved bytes 12..16 are not zero".into()));
        }
        let (h_len, b_off, b_len) = (u64_at(16), u64_at(24), u64_at(32));
        let end =
            b_off.checked_add(b_len).ok_or_else(|| PlanError::Corrupt("blob length overflows".into()))?;
        if (total as u64) < end || (bytes.len() as u64) < end {
            return Err(PlanError::Truncated(format!("file has {total} bytes, header says {end}")));
        }
        if (FIXED as u64).saturating_add(h_len) > b_off || b_off % ALIGN as u64 != 0 {
            return Err(PlanError::Corrupt("section lengths are inconsistent".into()));
        }
        let end = end as usize;
        let computed = blake3::hash(&bytes[FIXED..end]);
        if computed.as_bytes()[..] != bytes[40..72] {
            return Err(PlanError::HashMismatch {
                expected: hex(&bytes[40..72]),
                computed: computed.to_hex().to_string(),
            });
        }
        // The padding up to the blob is hashed but carries nothing: zero, so
        // that one plan has one encoding.
        if bytes[FIXED + h_len as usize..b_off as usize].iter().any(|&b| b != 0) {
            return Err(PlanError::Corrupt("padding before the blob is not zero".into()));
        }
        let header: Header = codec::decode_canonical(&bytes[FIXED..FIXED + h_len as usize])
            .map_err(|e| PlanError::Corrupt(format!("header: {e}")))?;
        let prover = match header.prover {
            None if total == end => None,
            None => return Err(PlanError::Corrupt("bytes after the blob".into())),
            Some(r) => {
                let (start, len) = (align(end), r.len as usize);
                if start.checked_add(len) != Some(total) {
                    return Err(PlanError::Corrupt("prover section is misplaced or truncated".into()));
                }
                let (hash, sec) = section(end, start, len)?;
                if hash != r.blake3 {
                    return Err(PlanError::Corrupt("prover section does not match its hash".into()));
                }
                Some(sec)
            }
        };
        let blob = &bytes[b_off as usize..end];
        let mut nodes = header.nodes;
        let mut filled = vec![false; nodes.len()];
        for r in &header.blobs {
            let node = nodes
                .get_mut(r.node)
                .ok_or_else(|| PlanError::Corrupt(format!("blob for missing node {}", r.node)))?;
            let Op::Const(c) = &mut node.op else {
                return Err(PlanError::Corrupt(format!("blob for non-constant node {}", r.node)));
            };
            let range = r.offset.checked_add(r.len).filter(|&e| e <= blob.len() as u64);
            let Some(e) = range else {
                return Err(PlanError::Corrupt(format!("blob of node {} out of range", r.node)));
            };
            let t = Tensor::from_blob_bytes(&c.fact, &blob[r.offset as usize..e as usize])
                .map_err(|e| PlanError::Corrupt(format!("constant {}: {e}", r.node)))?;
            c.value = Arc::new(t);
            filled[r.node] = true;
        }
        if let Some((id, _)) =
            nodes.iter().enumerate().find(|(i, n)| matches!(n.op, Op::Const(_)) && !filled[*i])
        {
            return Err(PlanError::Corrupt(format!("constant node {id} has no data")));
        }
        let graph = Graph::from_parts(nodes, header.inputs, header.outputs, header.decoder)?;
        header.partitions.validate(&graph)?;
        Ok(Plan { graph, producer: header.producer, partitions: header.partitions, prover })
    }

    /// Reads a plan file: the header and blob into memory (the weights are
    /// decoded from it, then it is dropped); the prover section stays in
    /// the file, hashed by streaming it and read at offsets by the prover
    /// ([`SectionBytes::File`]).
    pub fn open(path: &Path) -> Result<Plan, PlanError> {
        use std::os::unix::fs::FileExt;
        let file = Arc::new(std::fs::File::open(path)?);
        let total = usize::try_from(file.metadata()?.len())
            .map_err(|_| PlanError::Corrupt("file too large for this machine".into()))?;
        // The fixed header says where the blob ends; parse checks every field.
        let mut head = vec![0u8; total.min(FIXED)];
        file.read_exact_at(&mut head, 0)?;
        if head.len() == FIXED {
            let u64_at = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().expect("8 bytes"));
            let end = u64_at(24).saturating_add(u64_at(32)).min(total as u64) as usize;
            head.resize(end.max(FIXED), 0);
            file.read_exact_at(&mut head[FIXED..], FIXED as u64)?;
        }
        Plan::parse(&head, total, |gap, start, len| {
            let mut pad = vec![0u8; start - gap];
            file.read_exact_at(&mut pad, gap as u64)?;
            zero_padding(&pad)?;
            let hash = hash_file_range(&file, start..start + len)?;
            Ok((hash, ProverSection { bytes: SectionBytes::File(file.clone()), start, len }))
        })
    }
}

/// The alignment padding before the prover section (outside every hash):
/// zero, so that one plan has one encoding.
fn zero_padding(pad: &[u8]) -> Result<(), PlanError> {
    if pad.iter().any(|&b| b != 0) {
        return Err(PlanError::Corrupt("padding before the prover section is not zero".into()));
    }
    Ok(())
}

fn hash_file_range(file: &std::fs::File, range: std::ops::Range<usize>) -> Result<[u8; 32], PlanError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(range.start as u64))?;
    let mut h = blake3::Hasher::new();
    let mut left = range.len();
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len());
        f.read_exact(&mut buf[..n])?;
        h.update(&buf[..n]);
        left -= n;
    }
    Ok(*h.finalize().as_bytes())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Plan {
    /// Content hash of the plan bytes (identifies a compiled model).
    pub fn digest(bytes: &[u8]) -> Option<String> {
        (bytes.len() >= FIXED).then(|| hex(&bytes[40..72]))
    }
}
