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
//! `Q = 148` for `λ = 100`. See `docs/security.md`.

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

impl ProverData {
    pub fn num_vars(&self) -> usize {
        self.num_vars
    }
    pub fn num_polys(&self) -> usize {
        self.num_polys
    }
    pub fn log_blowup(&self) -> usize {
        self.log_blowup
    }
    fn width(&self) -> usize {
        self.num_polys << self.log_rows
    }
    fn cols(&self) -> usize {
        1 << (self.num_vars - self.log_rows)
    }

    /// Element offset of leaf `j` in the codeword storage.
    fn leaf_at(&self, j: usize) -> usize {
        let b = self.log_blowup;
        let slot = if self.grouped { ((j & ((1 << b) - 1)) * self.cols()) | (j >> b) } else { j };
        slot * self.width()
    }

    /// Polynomial `p` of the batch (its `2^n` evaluations), read back from
    /// the codeword.
    pub fn poly(&self, p: usize) -> Vec<F> {
        let (rows, cols, b) = (1usize << self.log_rows, self.cols(), self.log_blowup);
        let mut out = vec![F::ZERO; rows * cols];
        out.par_chunks_mut(rows).enumerate().for_each(|(col, dst)| {
            self.codeword.with_range(self.leaf_at(col << b) + p * rows, rows, |src| dst.copy_from_slice(src));
        });
        out
    }

    /// `Σ_row w[row] · M_p[row, ·]` for every polynomial `p` (the leaves of
    /// the message part are read once): `k` vectors of `2^c` entries.
    fn combine_rows(&self, w: &[EF]) -> Vec<Vec<EF>> {
        let (rows, cols, width, b) = (1usize << self.log_rows, self.cols(), self.width(), self.log_blowup);
        let combine = |leaf: &[F]| -> Vec<EF> {
            leaf.chunks(rows).map(|m| w.iter().zip(m).map(|(&e, &x)| e * x).sum()).collect()
        };
        // Stored leaves are grouped, so the message leaves are one run: read
        // it in blocks of about 1 MB (one read each from a file), not leaf
        // by leaf.
        let block = if self.grouped { ((1 << 17) / width).clamp(1, cols) } else { 1 };
        let per_col: Vec<Vec<EF>> = (0..cols.div_ceil(block))
            .into_par_iter()
            .flat_map_iter(|i| {
                let (c0, n) = (i * block, block.min(cols - i * block));
                self.codeword.with_range(self.leaf_at(c0 << b), n * width, |run| {
                    run.chunks(width).map(combine).collect::<Vec<_>>()
                })
            })
            .collect();
        (0..self.num_polys).map(|p| per_col.iter().map(|c| c[p]).collect()).collect()
    }

    /// Appends the stored form: four little-endian `u64` (variables,
    /// polynomials, `log2` rows, `log2` blowup), then the codeword and the
    /// tree's digests, each at a 64-byte aligned offset.
    pub fn write(&self, out: &mut Vec<u8>) {
        // Writing into a vector cannot fail.
        let _ = self.write_to(out);
    }

    /// [`ProverData::write`] into any writer, streaming (a large model's
    /// codeword is written without a second copy in memory); returns the
    /// number of bytes written.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<u64> {
        let mut n = 0u64;
        let pad = |w: &mut dyn std::io::Write, n: &mut u64| -> std::io::Result<()> {
            let to = n.div_ceil(64) * 64;
            w.write_all(&vec![0u8; (to - *n) as usize])?;
            *n = to;
            Ok(())
        };
        for v in [self.num_vars, self.num_polys, self.log_rows, self.log_blowup] {
            w.write_all(&(v as u64).to_le_bytes())?;
            n += 8;
        }
        pad(w, &mut n)?;
        let width = self.width();
        let mut buf = Vec::with_capacity(width * 8);
        for residue in 0..1usize << self.log_blowup {
            for m in 0..self.cols() {
                buf.clear();
                self.codeword.with_range(self.leaf_at((m << self.log_blowup) | residue), width, |leaf| {
                    leaf.iter().for_each(|x| buf.extend_from_slice(&x.as_canonical_u64().to_le_bytes()))
                });
                w.write_all(&buf)?;
                n += buf.len() as u64;
            }
        }
        pad(w, &mut n)?;
        let mut digests = vec![];
        self.tree.nodes().write(&mut digests);
        w.write_all(&digests)?;
        n += digests.len() as u64;
        pad(w, &mut n)?;
        Ok(n)
    }

    /// Reads prover data written by [`ProverData::write`] at `start` of
    /// `bytes` (without copying the codeword or the tree); returns it and
    /// the offset just past it. Sizes are checked; contents are trusted
    /// (the caller hashes the file).
    pub fn read(src: &Source, start: usize) -> Result<(ProverData, usize), PcsError> {
        let total = src.byte_len().map_err(|e| PcsError::Stored(e.to_string()))?;
        let mut head = [0u8; 32];
        if start.checked_add(32).is_none_or(|e| e > total) || src.read_at(start, &mut head).is_err() {
            return Err(PcsError::Stored("truncated header".into()));
        }
        let u = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&head[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w) as usize
        };
        let (num_vars, num_polys, log_rows, log_blowup) = (u(0), u(1), u(2), u(3));
        if num_vars > 34 || num_polys == 0 || num_polys > 1 << 16 || log_rows > num_vars || log_blowup > 4 {
            return Err(PcsError::Stored(format!(
                "parameters n={num_vars} k={num_polys} r={log_rows} b={log_blowup}"
            )));
        }
        let log_height = num_vars - log_rows + log_blowup;
        let words = (num_polys << log_rows) << log_height;
        let digests = (2usize << log_height) - 1;
        let code_at = start + 64;
        let tree_at = code_at + (words * 8).div_ceil(64) * 64;
        let end = tree_at + (digests * 32).div_ceil(64) * 64;
        let map = |at: usize, len: usize| {
            Mapped::new(src.clone(), at, len).ok_or_else(|| PcsError::Stored("truncated data".into()))
        };
        let codeword = Words::Mapped(map(code_at, words * 8)?);
        let tree = MerkleTree::from_stored(log_height, Digests::Mapped(map(tree_at, digests * 32)?))?;
        if end > total {
            return Err(PcsError::Stored("truncated data".into()));
        }
        Ok((ProverData { num_vars, num_polys, log_rows, log_blowup, codeword, grouped: true, tree }, end))
    }

    pub fn root(&self) -> Root {
        self.tree.root()
    }

    /// The queried leaves and their Merkle paths.
    fn open_queries(&self, indices: &[usize]) -> Result<(Vec<Vec<F>>, MultiPath), PcsError> {
        let columns = indices.iter().map(|&j| self.codeword.range(self.leaf_at(j), self.width())).collect();
        Ok((columns, self.tree.open(indices)?))
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
    pub merkle: MultiPath,
}

/// Rows: about a third of the variables, which balances the combined-row
/// vectors (`2^c` extension elements, twice) against the opened columns
/// (`Q·k·2^r` base elements) in the proof.
fn log_rows(n: usize) -> usize {
    n.saturating_sub(1) / 3 + usize::from(n >= 16)
}

impl TensorPcs {
    /// Reed–Solomon encodes every row of the `2^r × 2^c` views of `polys`
    /// by evaluation on the subgroup of order `2^(c+b)` (systematic: the
    /// message sits at every `2^b`-th position); returns the
    /// `2^(c+b) × (k·2^r)` matrix whose rows are Merkle leaves.
    fn encode(&self, polys: &[Vec<F>], log_rows: usize) -> RowMajorMatrix<F> {
        let cols = polys[0].len() >> log_rows;
        let rows = 1 << log_rows;
        let width = polys.len() * rows;
        // Row `col` of the DFT's input holds column `col` of every
        // polynomial's matrix: a contiguous run of each table.
        let mut t = vec![F::ZERO; cols * width];
        t.par_chunks_mut(width).enumerate().for_each(|(col, out)| {
            for (p, poly) in polys.iter().enumerate() {
                out[p * rows..(p + 1) * rows].copy_from_slice(&poly[col * rows..(col + 1) * rows]);
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
        t.absorb_bytes(&comm.0);
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
        let k = polys.len();
        drop(polys);
        let width = encoded.width();
        let log_height = n - lr + self.log_blowup;
        let codeword = Words::Owned(encoded.values);
        let tree = MerkleTree::build(&codeword, width, log_height);
        let data = ProverData {
            num_vars: n,
            num_polys: k,
            log_rows: lr,
            log_blowup: self.log_blowup,
            codeword,
            grouped: false,
            tree,
        };
        Ok((data.root(), data))
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
        let n = data.num_vars;
        if point.len() != n {
            return Err(PcsError::ProofShape(format!(
                "point has {} coordinates for {n} variables",
                point.len()
            )));
        }
        if data.log_blowup != self.log_blowup || data.log_rows != log_rows(n) {
            return Err(PcsError::Stored("prover data was committed with other parameters".into()));
        }
        let c = n - data.log_rows;
        // One pass over the message leaves gives every polynomial's
        // row combination; each value is its inner product with eq(z_col).
        let per_poly = data.combine_rows(&eq_table(&point[c..]));
        let eq_col = eq_table(&point[..c]);
        let values: Vec<EF> = per_poly
            .iter()
            .map(|u| u.par_iter().zip(eq_col.par_iter()).map(|(&a, &e)| a * e).sum())
            .collect();
        let (mu, beta) = self.start(comm, n, data.num_polys, point, &values, t);
        let combine = |us: &[Vec<EF>]| -> Vec<EF> {
            let mut out = vec![EF::ZERO; data.cols()];
            let mut pow = EF::ONE;
            for u in us {
                out.par_iter_mut().zip(u.par_iter()).for_each(|(o, &x)| *o += pow * x);
                pow *= mu;
            }
            out
        };
        let u_eval = combine(&per_poly);
        drop(per_poly);
        let u_proximity =
            if self.separate_proximity { combine(&data.combine_rows(&eq_table(&beta))) } else { vec![] };
        t.absorb_ext_digest(&u_eval);
        t.absorb_ext_digest(&u_proximity);
        let (columns, merkle) = data.open_queries(&self.queries(n, t))?;
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
        let c = n - lr;
        let eq_col = eq_table(&point[..c]);
        let inner: EF = proof.u_eval.iter().zip(&eq_col).map(|(&u, &e)| u * e).sum();
        if inner != combined {
            return Err(PcsError::Evaluation);
        }
        t.absorb_ext_digest(&proof.u_eval);
        t.absorb_ext_digest(&proof.u_proximity);
        let indices = self.queries(n, t);
        let leaves: Vec<&[F]> = proof.columns.iter().map(Vec::as_slice).collect();
        merkle::verify(comm, n - lr + self.log_blowup, &indices, &leaves, &proof.merkle)?;
        let enc_z = self.encode_ext(&proof.u_eval);
        let enc_b = if self.separate_proximity { self.encode_ext(&proof.u_proximity) } else { vec![] };
        let eq_z = eq_table(&point[c..]);
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
                let (mut sz, mut sb) = (EF::ZERO, EF::ZERO);
                for row in 0..rows {
                    let x = col[p * rows + row];
                    sz += eq_z[row] * x;
                    sb += eq_b[row] * x;
                }
                az += w * sz;
                ab += w * sb;
            }
            if az != enc_z[j] || (self.separate_proximity && ab != enc_b[j]) {
                return Err(PcsError::Column { query: q });
            }
        }
        Ok(())
    }
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
    /// Opened leaves, one per query.
    pub columns: Vec<Vec<F>>,
    pub merkle: MultiPath,
}

/// The columns `eq(z_col, ·)` is supported on, and its values there:
/// leading coordinates that are exactly 0 or 1 (a packed table's slot
/// prefix, an embedding row picked by a token id) fix a block of columns.
fn column_block(z_col: &[EF]) -> (usize, Vec<EF>) {
    let lead = z_col.iter().take_while(|&&x| x == EF::ZERO || x == EF::ONE).count();
    let block = z_col[..lead].iter().fold(0usize, |acc, &x| 2 * acc + usize::from(x == EF::ONE));
    let eq = eq_table(&z_col[lead..]);
    (block * eq.len(), eq)
}

impl TensorPcs {
    /// Opens a committed single polynomial at several points at once.
    ///
    /// With `M` the `2^r × 2^c` matrix of the table and claims
    /// `P(z_j) = v_j`, `z_j = (z_col_j, z_row_j)`: the prover sends
    /// `h_j = M · eq(z_col_j)`; the verifier checks `v_j = ⟨eq(z_row_j), h_j⟩`,
    /// then draws `α` and a row point `ρ`; the prover sends
    /// `u = eq(ρ)ᵀ · M`, and the verifier checks
    /// `Σ_j α^j ⟨u, eq(z_col_j)⟩ = Σ_j α^j ⟨eq(ρ), h_j⟩` and, at `Q` codeword
    /// columns, `Enc(u)[q] = Σ_row eq(ρ, row) · E_row[q]`.
    ///
    /// Soundness: `ρ` is drawn after the commitment, so the column checks
    /// bind `u` to the rows of the (close-to-codeword) committed matrix
    /// `M̂` (tensor proximity gaps, as for [`TensorPcs::for_random_points`]);
    /// a wrong `h_j` (`h_j ≠ M̂·eq(z_col_j)`) survives the combined check
    /// with probability at most `(m + r)/|EF|` over `α` and `ρ`
    /// (Schwartz–Zippel on a polynomial of degree `m − 1` in `α`, multilinear
    /// in `ρ`); a right `h_j` fixes `v_j`. Cost: the prover reads each
    /// claim's block of columns once (`Σ_j` block sizes, the table once when
    /// claims sit on disjoint slots) and the table once more for `u`; no
    /// claim-reduction sumcheck, no table of the size of `P`.
    pub fn open_multi<T: Transcript>(
        &self,
        comm: &Commitment,
        data: &ProverData,
        points: &[Vec<EF>],
        t: &mut T,
    ) -> Result<(Vec<EF>, MultiOpeningProof), PcsError> {
        let n = data.num_vars;
        if data.num_polys != 1 || points.iter().any(|z| z.len() != n) {
            return Err(PcsError::ProofShape(
                "multi-point openings take one polynomial and n-variable points".into(),
            ));
        }
        if data.log_blowup != self.log_blowup || data.log_rows != log_rows(n) {
            return Err(PcsError::Stored("prover data was committed with other parameters".into()));
        }
        let (rows, c, b) = (1usize << data.log_rows, n - data.log_rows, data.log_blowup);
        let h: Vec<Vec<EF>> = points
            .iter()
            .map(|z| {
                let (start, eq) = column_block(&z[..c]);
                (0..eq.len())
                    .into_par_iter()
                    .fold(
                        || vec![EF::ZERO; rows],
                        |mut acc, i| {
                            data.codeword.with_range(data.leaf_at((start + i) << b), rows, |leaf| {
                                acc.iter_mut().zip(leaf).for_each(|(a, &x)| *a += eq[i] * x)
                            });
                            acc
                        },
                    )
                    .reduce(
                        || vec![EF::ZERO; rows],
                        |mut a, b| {
                            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                            a
                        },
                    )
            })
            .collect();
        let values: Vec<EF> = points
            .iter()
            .zip(&h)
            .map(|(z, hj)| eq_table(&z[c..]).iter().zip(hj).map(|(&e, &x)| e * x).sum())
            .collect();
        let (_, rho) = self.start_multi(comm, n, points, &values, &h, t);
        let u = data.combine_rows(&eq_table(&rho)).swap_remove(0);
        t.absorb_ext_digest(&u);
        let (columns, merkle) = data.open_queries(&self.queries(n, t))?;
        Ok((values, MultiOpeningProof { h, u, columns, merkle }))
    }

    fn start_multi<T: Transcript>(
        &self,
        comm: &Commitment,
        n: usize,
        points: &[Vec<EF>],
        values: &[EF],
        h: &[Vec<EF>],
        t: &mut T,
    ) -> (EF, Vec<EF>) {
        t.label(b"tensor-pcs-open-multi");
        t.absorb_bytes(&comm.0);
        t.absorb_base(&[F::from_u64(n as u64), F::from_u64(points.len() as u64)]);
        for z in points {
            t.absorb_ext(z);
        }
        t.absorb_ext(values);
        for hj in h {
            t.absorb_ext_digest(hj);
        }
        let alpha = t.challenge_ext();
        let rho = t.challenges_ext(log_rows(n));
        (alpha, rho)
    }

    /// Verifies [`TensorPcs::open_multi`]: the polynomial committed by
    /// `comm` (`num_vars` variables) takes `values[j]` at `points[j]`.
    pub fn verify_multi<T: Transcript>(
        &self,
        comm: &Commitment,
        num_vars: usize,
        points: &[Vec<EF>],
        values: &[EF],
        proof: &MultiOpeningProof,
        t: &mut T,
    ) -> Result<(), PcsError> {
        let n = num_vars;
        if n > 30 || points.len() != values.len() || points.iter().any(|z| z.len() != n) {
            return Err(PcsError::ProofShape("points or values do not match the statement".into()));
        }
        let lr = log_rows(n);
        let (rows, c) = (1usize << lr, n - lr);
        if proof.h.len() != points.len()
            || proof.h.iter().any(|h| h.len() != rows)
            || proof.u.len() != 1 << c
            || proof.columns.len() != self.num_queries
            || proof.columns.iter().any(|col| col.len() != rows)
        {
            return Err(PcsError::ProofShape("combinations or query count".into()));
        }
        for ((z, &v), hj) in points.iter().zip(values).zip(&proof.h) {
            let at: EF = eq_table(&z[c..]).iter().zip(hj).map(|(&e, &x)| e * x).sum();
            if at != v {
                return Err(PcsError::Evaluation);
            }
        }
        let (alpha, rho) = self.start_multi(comm, n, points, values, &proof.h, t);
        let eq_rho = eq_table(&rho);
        let (mut lhs, mut rhs, mut pow) = (EF::ZERO, EF::ZERO, EF::ONE);
        for (z, hj) in points.iter().zip(&proof.h) {
            let (start, eq) = column_block(&z[..c]);
            let block = &proof.u[start..start + eq.len()];
            lhs += pow * block.iter().zip(&eq).map(|(&a, &e)| a * e).sum::<EF>();
            rhs += pow * eq_rho.iter().zip(hj).map(|(&e, &x)| e * x).sum::<EF>();
            pow *= alpha;
        }
        if lhs != rhs {
            return Err(PcsError::Evaluation);
        }
        t.absorb_ext_digest(&proof.u);
        let indices = self.queries(n, t);
        let leaves: Vec<&[F]> = proof.columns.iter().map(Vec::as_slice).collect();
        merkle::verify(comm, c + self.log_blowup, &indices, &leaves, &proof.merkle)?;
        let enc = self.encode_ext(&proof.u);
        for (q, (&j, col)) in indices.iter().zip(&proof.columns).enumerate() {
            let a: EF = eq_rho.iter().zip(col).map(|(&e, &x)| e * x).sum();
            if a != enc[j] {
                return Err(PcsError::Column { query: q });
            }
        }
        Ok(())
    }
}

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
        let indices = pcs.queries(n, &mut t);
        let rows = 1usize << data.log_rows;
        let columns = indices.iter().map(|&j| data.codeword.range(data.leaf_at(j), rows)).collect();
        let merkle = data.tree.open(&indices).unwrap();
        let cheat = MultiOpeningProof { h, u, columns, merkle };
        let mut t = Poseidon2Transcript::new(b"cheat");
        let r = pcs.verify_multi(&comm, n, &points, &values, &cheat, &mut t);
        assert!(matches!(r, Err(PcsError::Evaluation)), "{r:?}");
    }
}
