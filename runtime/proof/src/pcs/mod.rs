//! A transparent multilinear polynomial commitment scheme: a Ligero-style
//! tensor code built on Plonky3 primitives (`p3-dft` Reed–Solomon
//! encoding) and a BLAKE3 Merkle tree ([`crate::merkle`]).
//!
//! **Commit.** A batch of `k` polynomials of `n = r + c` variables; each
//! table is viewed as a `2^r × 2^c` matrix `M` (column = the first `c`
//! variables, row = the last `r`: index `i = col·2^r + row`, so a column is
//! a contiguous run of the table and a packed table's slot prefix — its
//! leading variables — selects a range of columns). Every row is Reed–Solomon encoded
//! at rate `ρ = 2^-log_blowup` (length `2^c/ρ`), and the Merkle tree
//! commits to the codeword *columns*: leaf `j` holds position `j` of every
//! encoded row of every polynomial.
//!
//! **Open at `z = (z_col, z_row)`.** With `μ` (batching), the prover works
//! on `g = Σ_i μ^i f_i`. It sends `u_z = eq(z_row)ᵀ·M_g` and, for a
//! proximity test with a fresh tensor challenge `β`, `u_β = eq(β)ᵀ·M_g`
//! (vectors of `2^c` extension elements). The verifier checks
//! `Σ_i μ^i v_i = ⟨u_z, eq(z_col)⟩`, encodes `u_z` and `u_β` itself, and at
//! `Q` random codeword positions `j` checks the Merkle opening of leaf `j`
//! and `Σ_row eq(·, row)·E_row[j] = Enc(u)[j]` for both combinations.
//!
//! **Soundness (unique decoding).** With relative distance `δ = 1 − ρ`,
//! testing within `δ/2`, each query passes a far codeword with probability
//! at most `1 − δ/2`, so `Q = ⌈λ / −log2(1 − δ/2)⌉` queries give `λ` bits;
//! the combination challenges add `O(2^r / |EF|)` (proximity gaps for
//! tensor-structured combinations, Diamond–Posen 2023). Defaults: `ρ = 1/4`,
//! `Q = 148` for `λ = 100`. Before the queries the prover grinds a
//! [`POW_BITS`]-bit proof-of-work on the transcript (`encode.rs`), so that
//! re-rolling the query indices costs that much more work per attempt.
//! See `docs/security.md`.
//!
//! Files: this one holds the parameters, the types and the
//! [`MultilinearPcs`] trait; `prover_data.rs` the committed codeword and
//! tree (in memory or stored); `encode.rs` row encoding and commitment;
//! `single.rs` the batched single-point opening; `multi.rs` the
//! multi-point opening of one polynomial.

use crate::merkle::{self, MerkleError, MerkleTree, MultiPath, Root};
use crate::mle::eq_table;
use crate::store::{Digests, Mapped, Source, Words};
use crate::{EF, F, Transcript};
use p3_dft::{Radix2DitParallel, TwoAdicSubgroupDft};
use p3_field::{BasedVectorSpace, PrimeCharacteristicRing, PrimeField64};
use p3_matrix::Matrix;
use p3_matrix::dense::RowMajorMatrix;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The commitment to a batch: the Merkle root of the codeword's columns.
pub type Commitment = Root;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcsError {
    #[error("polynomials must share one power-of-two length, at least 1 and at most 2^{0}")]
    Shape(usize),
    #[error("claimed values do not match the evaluation combination")]
    Evaluation,
    #[error("proof has the wrong shape: {0}")]
    ProofShape(String),
    #[error("Merkle opening rejected: {0}")]
    Merkle(#[from] MerkleError),
    #[error("opened column {query} is inconsistent with the combined row")]
    Column { query: usize },
    #[error("stored prover data is malformed: {0}")]
    Stored(String),
}

/// Parameters of the tensor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorPcs {
    /// `log2(1/ρ)`.
    pub log_blowup: usize,
    /// Number of column queries.
    pub num_queries: usize,
    /// Send a separate proximity combination `u_β` (sound for any opening
    /// point). Without it the evaluation combination `eq(z_row)` is the
    /// proximity test, which is sound only when `z` is drawn from the
    /// transcript *after* the commitment was absorbed (tensor proximity gaps,
    /// Diamond–Posen): true of every opening the zkml protocols make (points
    /// come out of sumchecks), and it halves the combined-row part of the
    /// proof.
    pub separate_proximity: bool,
}

impl Default for TensorPcs {
    fn default() -> Self {
        TensorPcs { log_blowup: 2, num_queries: 148, separate_proximity: true }
    }
}

impl TensorPcs {
    /// The parameters for openings at transcript-derived points: no separate
    /// proximity combination, and rate 1/8 with `Q = ⌈100 / −log2(9/16)⌉ =
    /// 121` queries, which trades a longer encoding at commit time for a
    /// smaller proof.
    pub fn for_random_points() -> Self {
        TensorPcs { separate_proximity: false, log_blowup: 3, num_queries: 121 }
    }

    /// Conjectured-free (proven, unique-decoding) security in bits of the
    /// query phase: `Q · −log2(1 − δ/2)` with `δ = 1 − ρ`.
    pub fn query_security_bits(&self) -> f64 {
        let rho = 0.5f64.powi(self.log_blowup as i32);
        self.num_queries as f64 * -(1.0 - (1.0 - rho) / 2.0).log2()
    }
}

/// The prover's data for a committed batch: the codeword matrix (leaf `j`
/// = position `j` of every encoded row of every polynomial) and its Merkle
/// tree. The encoding is systematic (evaluation on a subgroup containing
/// the message's domain), so the polynomials themselves are read back from
/// the codeword (entry `col·2^r + row` of polynomial `p` is element
/// `p·2^r + row` of leaf `col·2^b`) and are not stored twice.
///
/// Leaf order in memory: natural after [`MultilinearPcs::commit`];
/// **grouped** by `j mod 2^b` in the stored form ([`ProverData::write`]),
/// so the message leaves (`j ≡ 0`) come first and contiguous — for one
/// polynomial they are the table itself, in order. A prover reading the
/// message (for `h_j` and `u`) then touches `1/2^b` of a mapped codeword,
/// not every page of it.
#[derive(Debug)]
pub struct ProverData {
    num_vars: usize,
    num_polys: usize,
    log_rows: usize,
    log_blowup: usize,
    codeword: Words,
    /// Leaves stored grouped by residue (see above) rather than in order.
    grouped: bool,
    tree: MerkleTree,
}

/// What an opening asserts: the committed batch of `num_polys`
/// polynomials in `num_vars` variables takes `values` at `point`.
#[derive(Debug, Clone, Copy)]
pub struct OpeningClaim<'a> {
    pub num_vars: usize,
    pub num_polys: usize,
    pub point: &'a [EF],
    pub values: &'a [EF],
}

/// An opening proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpeningProof {
    pub u_eval: Vec<EF>,
    pub u_proximity: Vec<EF>,
    /// The proof-of-work nonce before the queries ([`POW_BITS`]).
    pub pow_nonce: u64,
    /// Opened leaves: per query, the column of every encoded row.
    pub columns: Vec<Vec<F>>,
    pub merkle: MultiPath,
}

/// Proof that one committed polynomial takes claimed values at several
/// points ([`TensorPcs::open_multi`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultiOpeningProof {
    /// Per claim `j`, the column combination `h_j = M · eq(z_col_j)`
    /// (`2^r` entries).
    pub h: Vec<Vec<EF>>,
    /// The row combination `u = eq(ρ)ᵀ · M` (`2^c` entries).
    pub u: Vec<EF>,
    /// The proof-of-work nonce before the queries ([`POW_BITS`]).
    pub pow_nonce: u64,
    /// Opened leaves, one per query.
    pub columns: Vec<Vec<F>>,
    pub merkle: MultiPath,
}

/// A multilinear polynomial commitment scheme: batches of polynomials over
/// `F` (tables of `2^n` values), opened together at one point of `EF^n`.
/// Implementations state their soundness conditions in their docs.
pub trait MultilinearPcs {
    type Commitment: Clone + Serialize + serde::de::DeserializeOwned;
    type ProverData;
    type Proof: Clone + Serialize + serde::de::DeserializeOwned;

    /// Commits to a batch of polynomials of equal power-of-two length.
    fn commit(&self, polys: Vec<Vec<F>>) -> Result<(Self::Commitment, Self::ProverData), PcsError>;

    /// Opens every polynomial of the batch at `point`: the values and a proof.
    /// The commitment must already be bound in the transcript's history or is
    /// absorbed here.
    fn open<T: Transcript>(
        &self,
        comm: &Self::Commitment,
        data: &Self::ProverData,
        point: &[EF],
        t: &mut T,
    ) -> Result<(Vec<EF>, Self::Proof), PcsError>;

    /// Checks an opening.
    fn verify<T: Transcript>(
        &self,
        comm: &Self::Commitment,
        claim: &OpeningClaim<'_>,
        proof: &Self::Proof,
        t: &mut T,
    ) -> Result<(), PcsError>;
}

/// Rows: about a third of the variables, which balances the combined-row
/// vectors (`2^c` extension elements, twice) against the opened columns
/// (`Q·k·2^r` base elements) in the proof.
fn log_rows(n: usize) -> usize {
    n.saturating_sub(1) / 3 + usize::from(n >= 16)
}

mod encode;
pub use encode::POW_BITS;
mod multi;
mod prover_data;
mod single;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Poseidon2Transcript;
    use p3_field::PrimeCharacteristicRing;

    /// A prover that claims a false value at one point and adjusts its
    /// `h_j` so that `⟨eq(z_row), h_j⟩` matches, then answers every later
    /// step honestly for the challenges it gets: caught by the combined
    /// check (`h_j ≠ M · eq(z_col_j)`).
    #[test]
    fn false_value_with_consistent_h_is_caught() {
        let pcs = TensorPcs::for_random_points();
        let n = 10;
        let poly: Vec<F> = (0..1u64 << n).map(|i| F::from_u64(i * i + 5)).collect();
        let (comm, data) = pcs.commit(vec![poly]).unwrap();
        let points: Vec<Vec<EF>> =
            (0..3).map(|j| (0..n).map(|i| EF::from_u64((j * 31 + i * 7 + 2) as u64)).collect()).collect();
        let mut t = Poseidon2Transcript::new(b"cheat");
        let (mut values, honest) = pcs.open_multi(&comm, &data, &points, &mut t).unwrap();
        let c = n - data.log_rows;
        // Shift h_1 along a row where eq(z_row_1) is nonzero, and the value with it.
        let eq_row = eq_table(&points[1][c..]);
        let mut h = honest.h.clone();
        h[1][0] += EF::ONE;
        values[1] += eq_row[0];
        let mut t = Poseidon2Transcript::new(b"cheat");
        let (_, rho) = pcs.start_multi(&comm, n, &points, &values, &h, &mut t);
        let u = data.combine_rows(&eq_table(&rho)).swap_remove(0);
        t.absorb_ext_digest(&u);
        let pow_nonce = pcs.grind(&mut t);
        let indices = pcs.queries(n, &mut t);
        let rows = 1usize << data.log_rows;
        let columns = indices.iter().map(|&j| data.codeword.range(data.leaf_at(j), rows)).collect();
        let merkle = data.tree.open(&indices).unwrap();
        let cheat = MultiOpeningProof { h, u, pow_nonce, columns, merkle };
        let mut t = Poseidon2Transcript::new(b"cheat");
        let r = pcs.verify_multi(&comm, n, &points, &values, &cheat, &mut t);
        assert!(matches!(r, Err(PcsError::Evaluation)), "{r:?}");
    }

    /// The proof-of-work is checked: a nonce that fails its bits (any
    /// other nonce, almost surely) is rejected, and the honest proof with
    /// it restored verifies.
    #[test]
    fn a_wrong_proof_of_work_nonce_is_rejected() {
        let pcs = TensorPcs::default();
        let n = 8;
        let poly: Vec<F> = (0..1u64 << n).map(|i| F::from_u64(3 * i + 1)).collect();
        let (comm, data) = pcs.commit(vec![poly]).unwrap();
        let point: Vec<EF> = (0..n).map(|i| EF::from_u64(11 + i as u64)).collect();
        let (values, mut proof) =
            pcs.open(&comm, &data, &point, &mut Poseidon2Transcript::new(b"pow")).unwrap();
        let claim = OpeningClaim { num_vars: n, num_polys: 1, point: &point, values: &values };
        let honest = proof.pow_nonce;
        proof.pow_nonce = honest.wrapping_add(1);
        let r = pcs.verify(&comm, &claim, &proof, &mut Poseidon2Transcript::new(b"pow"));
        assert!(matches!(&r, Err(PcsError::ProofShape(m)) if m.contains("proof-of-work")), "{r:?}");
        proof.pow_nonce = honest;
        pcs.verify(&comm, &claim, &proof, &mut Poseidon2Transcript::new(b"pow")).unwrap();
    }
}
