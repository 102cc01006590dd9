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

impl Proof {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(zkml_proof::encoding::encode(self)?)
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Proof> {
        Ok(zkml_proof::encoding::decode(bytes)?)
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
