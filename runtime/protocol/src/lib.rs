//! The zkml graph proof: proves that a quantized plan's outputs are its
//! exact integer inference on public inputs, against a commitment to the
//! weights, and verifies such proofs.
//!
//! ```text
//! setup(plan)            -> ProvingKey (weights packed and committed) + VerifyingKey (structure + commitment)
//! prove(pk, witness)     -> Proof
//! verify(vk, in, out, π) -> ok / rejected
//! ```
//!
//! **Statement.** For the graph `G` described by the verifying key (ops,
//! shapes, fixed-point types, tables), weights `W` committed in it, public
//! inputs `x` and outputs `y` (integers of the plan's types): `y = G_W(x)`
//! under the IR's exact integer semantics (what `zkml_runtime::Executor`
//! computes).
//!
//! **Shape of the proof** (GKR style; see `docs/proving.md`):
//! 1. the transcript absorbs the verifying key's digest, `x` and `y`;
//! 2. the prover commits the *witness columns* that only lookups need
//!    ([`columns`]): requantized indices and table outputs, range-check
//!    chunks, multiplicities, max-pooling differences;
//! 3. one logUp-GKR argument per distinct table and one for the range
//!    checks (chunks of a width chosen per partition) reduce all lookups to
//!    evaluation claims on those columns;
//! 4. the verifier evaluates each output's multilinear extension at a random
//!    point, and claims flow backwards through the graph: each op reduces a
//!    claim on its output to claims on its inputs ([`ops`]); several claims
//!    on one tensor are merged into one; claims reaching public inputs are
//!    checked directly, those reaching weights or committed columns are
//!    collected;
//! 5. all weight claims are proven by one opening of the packed weight
//!    commitments, all column claims by one opening of the packed witness
//!    commitments (up to three power-of-two groups each, [`packing`]),
//!    which also proves that padding is zero.
//!
//! Each step is written once, generic over the [`side::Side`] that runs
//! it: the prover's side computes and sends each message, the verifier's
//! reads and checks it (`driver.rs` is the walk, `ops/` the families), so
//! the transcript order cannot differ between them. Partitioned proofs
//! (colors) run steps 2–5 per partition on forked transcripts
//! (`docs/partitions.md`). What is provable at all is defined once in
//! [`provable`].
//!
//! Tensors are multilinear polynomials through the per-axis padded
//! [`layout`]. Integers embed in Goldilocks (`F`); every challenge is in its
//! quadratic extension (`EF`, ≈ 2^128).

pub mod columns;
mod driver;
pub mod layout;
pub mod ops;
pub mod packing;
pub mod provable;
mod prover;
mod side;
mod stream;
mod verifier;
pub mod vk;

pub use prover::{
    PartWitness, ProveStats, Seed, Tamper, commit_part, prove, prove_part, prove_with, public_values,
};
pub use stream::{PROOF_MAGIC, PROOF_VERSION, PartProof, Proof};
pub use verifier::verify;
pub use vk::{ProvingKey, VerifyingKey, setup, setup_partitioned, setup_stored};
pub use zkml_proof::store::StoreChanged;

/// Errors of setup, proving and verification.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The plan uses something the prover cannot prove (yet).
    #[error("node {node} '{name}' ({op}): {reason}")]
    Unsupported { node: usize, name: String, op: String, reason: String },
    /// A graph without computing nodes: every output is an input or a
    /// constant, and there is no inference to prove.
    #[error(
        "the model computes nothing (every output is an input or a constant): there is no inference to prove"
    )]
    Trivial,
    /// The witness cannot be proven as the IR defines it (e.g. a
    /// requantization that saturated).
    #[error("node {node} '{name}': {reason}")]
    Witness { node: usize, name: String, reason: String },
    /// The proof is invalid for this key, input and output.
    #[error("proof rejected: {0}")]
    Reject(String),
    /// A malformed verifying key.
    #[error("verifying key: {0}")]
    Key(String),
    #[error("public input/output: {0}")]
    Public(String),
    #[error("PCS: {0}")]
    Pcs(#[from] zkml_proof::pcs::PcsError),
    #[error("sumcheck: {0}")]
    Sumcheck(#[from] zkml_proof::sumcheck::SumcheckError),
    #[error("lookup: {0}")]
    Lookup(#[from] zkml_proof::logup::LookupError),
    #[error("encoding: {0}")]
    Encoding(#[from] zkml_proof::encoding::EncodingError),
    #[error("internal prover error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
