//! A transparent multilinear polynomial commitment scheme: a Ligero-style
//! tensor code built on Plonky3 primitives (`p3-dft` Reed–Solomon
//! encoding, `p3-merkle-tree` with Keccak-256).
//!
//! **Commit.** A batch of `k` polynomials of `n = r + c` variables; each
//! table is viewed as a `2^r × 2^c` matrix `M` (row = the first `r`
//! variables, index `i = row·2^c + col`). Every row is Reed–Solomon encoded
//! at rate `ρ = 2^-log_blowup` (length `2^c/ρ`), and the Merkle tree
//! commits to the codeword *columns*: leaf `j` holds position `j` of every
//! encoded row of every polynomial.
//!
//! **Open at `z = (z_row, z_col)`.** With `μ` (batching), the prover works
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
//! `Q = 148` for `λ = 100`. See `docs/security.md`.

use crate::mle::eq_table;
use crate::{EF, F, Transcript};
use p3_commit::Mmcs;
use p3_dft::{Radix2DitParallel, TwoAdicSubgroupDft};
use p3_field::{BasedVectorSpace, PrimeCharacteristicRing};
use p3_keccak::Keccak256Hash;
use p3_matrix::dense::RowMajorMatrix;
use p3_matrix::{Dimensions, Matrix};
use p3_merkle_tree::MerkleTreeMmcs;
use p3_symmetric::{CompressionFunctionFromHasher, SerializingHasher};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

type Hasher = SerializingHasher<Keccak256Hash>;
type Compress = CompressionFunctionFromHasher<Keccak256Hash, 2, 32>;
type MerkleMmcs = MerkleTreeMmcs<F, u8, Hasher, Compress, 2, 32>;

/// The Merkle commitment to a batch.
pub type Commitment = <MerkleMmcs as Mmcs<F>>::Commitment;
type MultiProof = <MerkleMmcs as Mmcs<F>>::MultiProof;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcsError {
    #[error("polynomials must share one power-of-two length, at least 1 and at most 2^{0}")]
    Shape(usize),
    #[error("claimed values do not match the evaluation combination")]
    Evaluation,
    #[error("proof has the wrong shape: {0}")]
    ProofShape(String),
    #[error("Merkle opening rejected: {0}")]
    Merkle(String),
    #[error("opened column {query} is inconsistent with the combined row")]
    Column { query: usize },
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

/// The prover's data for a committed batch.
#[derive(Debug)]
pub struct ProverData {
    polys: Vec<Vec<F>>,
    log_rows: usize,
    tree: <MerkleMmcs as Mmcs<F>>::ProverData<RowMajorMatrix<F>>,
}

impl ProverData {
    pub fn num_vars(&self) -> usize {
        self.polys[0].len().trailing_zeros() as usize
    }
    pub fn num_polys(&self) -> usize {
        self.polys.len()
    }
    /// The committed polynomials (kept for openings; callers need not hold
    /// a second copy).
    pub fn polys(&self) -> &[Vec<F>] {
        &self.polys
    }
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
    /// Opened leaves: per query, the column of every encoded row.
    pub columns: Vec<Vec<F>>,
    pub merkle: MultiProof,
}

fn mmcs() -> MerkleMmcs {
    MerkleMmcs::new(
        SerializingHasher::new(Keccak256Hash),
        CompressionFunctionFromHasher::new(Keccak256Hash),
        0,
    )
}

/// Rows: about a third of the variables, which balances the combined-row
/// vectors (`2^c` extension elements, twice) against the opened columns
/// (`Q·k·2^r` base elements) in the proof.
fn log_rows(n: usize) -> usize {
    n.saturating_sub(1) / 3 + usize::from(n >= 16)
}

impl TensorPcs {
    /// Reed–Solomon encodes every row of the `2^r × 2^c` views of `polys`;
    /// returns the `2^(c+b) × (k·2^r)` matrix whose rows are Merkle leaves.
    fn encode(&self, polys: &[Vec<F>], log_rows: usize) -> RowMajorMatrix<F> {
        let cols = polys[0].len() >> log_rows;
        let rows = 1 << log_rows;
        let width = polys.len() * rows;
        // Transposed view: row `col` holds entry `col` of every matrix row.
        let mut t = vec![F::ZERO; cols * width];
        t.par_chunks_mut(width).enumerate().for_each(|(col, out)| {
            for (p, poly) in polys.iter().enumerate() {
                for row in 0..rows {
                    out[p * rows + row] = poly[row * cols + col];
                }
            }
        });
        let dft = Radix2DitParallel::<F>::default();
        dft.lde_batch(RowMajorMatrix::new(t, width), self.log_blowup).to_row_major_matrix()
    }

    fn start<T: Transcript>(
        &self,
        comm: &Commitment,
        n: usize,
        k: usize,
        point: &[EF],
        values: &[EF],
        t: &mut T,
    ) -> (EF, Vec<EF>) {
        t.label(b"tensor-pcs-open");
        t.absorb_bytes(&commitment_bytes(comm));
        t.absorb_base(&[F::from_u64(n as u64), F::from_u64(k as u64)]);
        t.absorb_ext(point);
        t.absorb_ext(values);
        let mu = t.challenge_ext();
        let beta = if self.separate_proximity { t.challenges_ext(log_rows(n)) } else { vec![] };
        (mu, beta)
    }

    fn queries<T: Transcript>(&self, n: usize, t: &mut T) -> Vec<usize> {
        let bits = n - log_rows(n) + self.log_blowup;
        (0..self.num_queries).map(|_| t.challenge_bits(bits)).collect()
    }

    /// Encodes an extension-field row (coordinate-wise: the code has base
    /// field coefficients, so it commutes with the extension basis).
    fn encode_ext(&self, u: &[EF]) -> Vec<EF> {
        let mut flat = Vec::with_capacity(u.len() * 2);
        for x in u {
            flat.extend_from_slice(x.as_basis_coefficients_slice());
        }
        let dft = Radix2DitParallel::<F>::default();
        let enc = dft.lde_batch(RowMajorMatrix::new(flat, 2), self.log_blowup).to_row_major_matrix();
        enc.rows()
            .map(|r| {
                let v: Vec<F> = r.collect();
                EF::from_basis_coefficients_fn(|i| v[i])
            })
            .collect()
    }
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

impl MultilinearPcs for TensorPcs {
    type Commitment = Commitment;
    type ProverData = ProverData;
    type Proof = OpeningProof;

    /// Commits to a batch of polynomials of equal power-of-two length.
    fn commit(&self, polys: Vec<Vec<F>>) -> Result<(Commitment, ProverData), PcsError> {
        let len = polys.first().map(|p| p.len()).unwrap_or(0);
        if len == 0 || !len.is_power_of_two() || polys.iter().any(|p| p.len() != len) || len > 1 << 30 {
            return Err(PcsError::Shape(30));
        }
        let n = len.trailing_zeros() as usize;
        let lr = log_rows(n);
        let encoded = self.encode(&polys, lr);
        let (commitment, tree) = mmcs().commit_matrix(encoded);
        Ok((commitment, ProverData { polys, log_rows: lr, tree }))
    }

    /// Opens every polynomial of the batch at `point`; returns the values and
    /// the proof.
    fn open<T: Transcript>(
        &self,
        comm: &Commitment,
        data: &ProverData,
        point: &[EF],
        t: &mut T,
    ) -> Result<(Vec<EF>, OpeningProof), PcsError> {
        let n = data.num_vars();
        if point.len() != n {
            return Err(PcsError::ProofShape(format!(
                "point has {} coordinates for {n} variables",
                point.len()
            )));
        }
        let values: Vec<EF> = data.polys.iter().map(|p| crate::mle::evaluate(p, point)).collect();
        let (mu, beta) = self.start(comm, n, data.polys.len(), point, &values, t);
        let lr = data.log_rows;
        let (rows, cols) = (1usize << lr, 1usize << (n - lr));
        let eq_z = eq_table(&point[..lr]);
        let eq_b = if self.separate_proximity { eq_table(&beta) } else { vec![] };
        let mut pow = EF::ONE;
        let mut u_eval = vec![EF::ZERO; cols];
        let mut u_proximity = vec![EF::ZERO; if self.separate_proximity { cols } else { 0 }];
        for poly in &data.polys {
            let (wz, wb): (Vec<EF>, Vec<EF>) =
                (eq_z.iter().map(|&e| e * pow).collect(), eq_b.iter().map(|&e| e * pow).collect());
            u_eval.par_iter_mut().enumerate().for_each(|(col, ue)| {
                for row in 0..rows {
                    *ue += wz[row] * poly[row * cols + col];
                }
            });
            u_proximity.par_iter_mut().enumerate().for_each(|(col, ub)| {
                for row in 0..rows {
                    *ub += wb[row] * poly[row * cols + col];
                }
            });
            pow *= mu;
        }
        t.absorb_ext(&u_eval);
        t.absorb_ext(&u_proximity);
        let indices = self.queries(n, t);
        let (columns, merkle) = mmcs().open_multi_batch(&indices, &data.tree);
        let columns = columns.into_iter().map(|mut c| c.remove(0)).collect();
        Ok((values, OpeningProof { u_eval, u_proximity, columns, merkle }))
    }

    /// Verifies that the committed batch evaluates as `claim` says.
    fn verify<T: Transcript>(
        &self,
        comm: &Commitment,
        claim: &OpeningClaim<'_>,
        proof: &OpeningProof,
        t: &mut T,
    ) -> Result<(), PcsError> {
        let OpeningClaim { num_vars, num_polys, point, values } = *claim;
        let n = num_vars;
        if point.len() != n || values.len() != num_polys || num_polys == 0 || n > 30 {
            return Err(PcsError::ProofShape("point or values do not match the statement".into()));
        }
        let lr = log_rows(n);
        let (rows, cols) = (1usize << lr, 1usize << (n - lr));
        let prox_len = if self.separate_proximity { cols } else { 0 };
        if proof.u_eval.len() != cols
            || proof.u_proximity.len() != prox_len
            || proof.columns.len() != self.num_queries
        {
            return Err(PcsError::ProofShape("combined rows or query count".into()));
        }
        if proof.columns.iter().any(|c| c.len() != rows * num_polys) {
            return Err(PcsError::ProofShape("opened column width".into()));
        }
        let (mu, beta) = self.start(comm, n, num_polys, point, values, t);
        let mut combined = EF::ZERO;
        for &v in values.iter().rev() {
            combined = combined * mu + v;
        }
        let eq_col = eq_table(&point[lr..]);
        let inner: EF = proof.u_eval.iter().zip(&eq_col).map(|(&u, &e)| u * e).sum();
        if inner != combined {
            return Err(PcsError::Evaluation);
        }
        t.absorb_ext(&proof.u_eval);
        t.absorb_ext(&proof.u_proximity);
        let indices = self.queries(n, t);
        let dims = [Dimensions { width: rows * num_polys, height: cols << self.log_blowup }];
        let opened: Vec<Vec<Vec<F>>> = proof.columns.iter().map(|c| vec![c.clone()]).collect();
        mmcs()
            .verify_multi_batch(comm, &dims, &indices, &opened, &proof.merkle)
            .map_err(|e| PcsError::Merkle(format!("{e:?}")))?;
        let enc_z = self.encode_ext(&proof.u_eval);
        let enc_b = if self.separate_proximity { self.encode_ext(&proof.u_proximity) } else { vec![] };
        let eq_z = eq_table(&point[..lr]);
        // Without a separate proximity test `ab` is computed against zeros
        // and ignored.
        let eq_b = if self.separate_proximity { eq_table(&beta) } else { vec![EF::ZERO; rows] };
        let mut pows = Vec::with_capacity(num_polys);
        let mut pow = EF::ONE;
        for _ in 0..num_polys {
            pows.push(pow);
            pow *= mu;
        }
        for (q, (&j, col)) in indices.iter().zip(&proof.columns).enumerate() {
            let (mut az, mut ab) = (EF::ZERO, EF::ZERO);
            for (p, &w) in pows.iter().enumerate() {
                for row in 0..rows {
                    let x = col[p * rows + row];
                    az += eq_z[row] * w * x;
                    ab += eq_b[row] * w * x;
                }
            }
            if az != enc_z[j] || (self.separate_proximity && ab != enc_b[j]) {
                return Err(PcsError::Column { query: q });
            }
        }
        Ok(())
    }
}

/// The digests of a commitment, concatenated, for the transcript.
fn commitment_bytes(comm: &Commitment) -> Vec<u8> {
    let mut out = Vec::new();
    for d in comm.roots() {
        out.extend_from_slice(d.as_ref());
    }
    out
}
