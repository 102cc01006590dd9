//! The proof object and the order of its messages.
//!
//! A proof is one part per colored partition; each part is the list of prover messages in the order the protocol sends
//! them, kept in typed queues (evaluation vectors, sumchecks, lookups) plus
//! the commitments and final openings. The prover appends through a
//! [`Sink`]; the verifier reads through a [`Source`], which checks every
//! length against what the protocol expects at that step and absorbs every
//! message into the transcript exactly where the prover did. A proof with a
//! missing, extra or mis-sized message is rejected, never indexed out of
//! bounds.

use crate::packing::{DirectOpening, PackedOpening};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use zkml_proof::logup::LogUpProof;
use zkml_proof::pcs::Commitment;
use zkml_proof::sumcheck::SumcheckProof;
use zkml_proof::{EF, Transcript};

/// A proof of one inference: one [`PartProof`] per colored partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proof {
    /// Lookup nodes whose requantization saturates in this inference (they
    /// carry overflow columns), sorted.
    pub saturating: Vec<usize>,
    /// By color.
    pub parts: Vec<PartProof>,
}

/// The proof of one partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartProof {
    /// Commitments to the partition's witness columns (its boundary
    /// tensors' copies included), one per packing group (none when it has
    /// no columns).
    pub witness: Vec<Commitment>,
    pub evals: Vec<Vec<EF>>,
    pub sumchecks: Vec<SumcheckProof>,
    pub logups: Vec<LogUpProof>,
    pub witness_opening: Option<PackedOpening>,
    pub weight_opening: Option<DirectOpening>,
}

/// Magic of a proof file.
pub const PROOF_MAGIC: &[u8; 8] = b"ZKMLPRF1";
/// Format version of proof files; bump on any change of the proof's encoding.
pub const PROOF_VERSION: u32 = 2;
/// Bytes before a proof file's body.
const PROOF_HEAD: usize = 48;

impl Proof {
    /// The proof's body: its canonical encoding (see [`Proof::to_file_bytes`]
    /// for the file).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(zkml_proof::encoding::encode(self)?)
    }
    /// Decodes a body; bytes that are not the canonical encoding of a proof
    /// are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Proof> {
        Ok(zkml_proof::encoding::decode(bytes)?)
    }

    /// The proof file, for the verifying key of digest `vk`:
    ///
    /// ```text
    /// offset size field
    ///      0    8 magic "ZKMLPRF1"
    ///      8    4 format version (u32 LE) = PROOF_VERSION
    ///     12    4 reserved, 0
    ///     16   32 digest of the verifying key it proves against
    ///     48    … the proof (canonical encoding, nothing after it)
    /// ```
    pub fn to_file_bytes(&self, vk: &[u8; 32]) -> Result<Vec<u8>> {
        let body = self.to_bytes()?;
        let mut out = Vec::with_capacity(PROOF_HEAD + body.len());
        out.extend_from_slice(PROOF_MAGIC);
        out.extend_from_slice(&PROOF_VERSION.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(vk);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads a proof file made for the key of digest `vk`: [`Proof::from_file_bytes`],
    /// and a file naming another key is refused.
    pub fn from_file_for(bytes: &[u8], vk: &[u8; 32]) -> Result<Proof> {
        let (proof, names) = Proof::from_file_bytes(bytes)?;
        if &names != vk {
            return Err(Error::Reject("the proof names another verifying key".into()));
        }
        Ok(proof)
    }

    /// Reads a proof file (see [`Proof::to_file_bytes`]): magic, version,
    /// reserved bytes, then the body, which must be the canonical encoding
    /// with no trailing byte. Returns the proof and the digest of the key
    /// it names, which a verifier must compare with its key's (as
    /// [`Proof::from_file_for`] does).
    pub fn from_file_bytes(bytes: &[u8]) -> Result<(Proof, [u8; 32])> {
        let bad = |m: &str| Err(Error::Reject(format!("malformed proof file: {m}")));
        if bytes.len() < PROOF_HEAD || &bytes[..8] != PROOF_MAGIC {
            return bad("not a zkml proof (bad magic or truncated)");
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != PROOF_VERSION {
            return bad(&format!("format version {version}, this verifier reads {PROOF_VERSION}"));
        }
        if bytes[12..16] != [0; 4] {
            return bad("reserved bytes 12..16 are not zero");
        }
        let mut vk = [0u8; 32];
        vk.copy_from_slice(&bytes[16..PROOF_HEAD]);
        match Proof::from_bytes(&bytes[PROOF_HEAD..]) {
            Ok(p) => Ok((p, vk)),
            Err(e) => bad(&e.to_string()),
        }
    }
}

impl PartProof {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(zkml_proof::encoding::encode(self)?)
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<PartProof> {
        Ok(zkml_proof::encoding::decode(bytes)?)
    }
}

/// The prover's side of the message queue.
#[derive(Debug)]
pub(crate) struct Sink {
    pub proof: PartProof,
}

impl Sink {
    pub fn new() -> Sink {
        Sink {
            proof: PartProof {
                witness: vec![],
                evals: vec![],
                sumchecks: vec![],
                logups: vec![],
                witness_opening: None,
                weight_opening: None,
            },
        }
    }
    /// Sends evaluations (absorbed before any later challenge).
    pub fn evals<T: Transcript>(&mut self, t: &mut T, v: Vec<EF>) {
        t.absorb_ext(&v);
        self.proof.evals.push(v);
    }
    pub fn sumcheck(&mut self, p: SumcheckProof) {
        self.proof.sumchecks.push(p);
    }
    pub fn logup(&mut self, p: LogUpProof) {
        self.proof.logups.push(p);
    }
}

/// The verifier's side: reads messages in protocol order.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    proof: &'a PartProof,
    evals: usize,
    sumchecks: usize,
    logups: usize,
}

impl<'a> Source<'a> {
    pub fn new(proof: &'a PartProof) -> Self {
        Source { proof, evals: 0, sumchecks: 0, logups: 0 }
    }
    /// The next evaluation vector, which must have `n` entries.
    pub fn evals<T: Transcript>(&mut self, t: &mut T, n: usize, what: &str) -> Result<Vec<EF>> {
        let v = self
            .proof
            .evals
            .get(self.evals)
            .ok_or_else(|| Error::Reject(format!("proof ends before the evaluations of {what}")))?;
        if v.len() != n {
            return Err(Error::Reject(format!("{what}: expected {n} evaluations, proof has {}", v.len())));
        }
        self.evals += 1;
        t.absorb_ext(v);
        Ok(v.clone())
    }
    pub fn sumcheck(&mut self, what: &str) -> Result<&'a SumcheckProof> {
        let p = self
            .proof
            .sumchecks
            .get(self.sumchecks)
            .ok_or_else(|| Error::Reject(format!("proof ends before the sumcheck of {what}")))?;
        self.sumchecks += 1;
        Ok(p)
    }
    pub fn logup(&mut self, what: &str) -> Result<&'a LogUpProof> {
        let p = self
            .proof
            .logups
            .get(self.logups)
            .ok_or_else(|| Error::Reject(format!("proof ends before the lookup argument of {what}")))?;
        self.logups += 1;
        Ok(p)
    }
    /// Every message must have been read.
    pub fn finish(&self) -> Result<()> {
        if self.evals != self.proof.evals.len()
            || self.sumchecks != self.proof.sumchecks.len()
            || self.logups != self.proof.logups.len()
        {
            return Err(Error::Reject("proof carries messages the protocol never reads".into()));
        }
        Ok(())
    }
}
