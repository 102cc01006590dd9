//! Row encoding and the commitment of a batch.

use super::*;

impl TensorPcs {
    /// Reed–Solomon encodes every row of the `2^r × 2^c` views of `polys`
    /// by evaluation on the subgroup of order `2^(c+b)` (systematic: the
    /// message sits at every `2^b`-th position); returns the
    /// `2^(c+b) × (k·2^r)` matrix whose rows are Merkle leaves.
    pub(super) fn encode(&self, polys: &[Vec<F>], log_rows: usize) -> RowMajorMatrix<F> {
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

    pub(super) fn start<T: Transcript>(
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

    /// The prover's proof-of-work before the queries (see [`POW_BITS`]):
    /// the first nonce that passes, absorbed.
    pub(super) fn grind<T: Transcript>(&self, t: &mut T) -> u64 {
        let seed = pow_seed(t);
        let nonce = (0..u64::MAX).find(|&n| pow_passes(&seed, n)).unwrap_or(u64::MAX);
        t.absorb_base(&pow_words(nonce));
        nonce
    }

    /// The verifier's side of [`TensorPcs::grind`].
    pub(super) fn check_grind<T: Transcript>(&self, t: &mut T, nonce: u64) -> Result<(), PcsError> {
        if !pow_passes(&pow_seed(t), nonce) {
            return Err(PcsError::ProofShape(format!("proof-of-work nonce fails its {POW_BITS} bits")));
        }
        t.absorb_base(&pow_words(nonce));
        Ok(())
    }

    pub(super) fn queries<T: Transcript>(&self, n: usize, t: &mut T) -> Vec<usize> {
        let bits = n - log_rows(n) + self.log_blowup;
        (0..self.num_queries).map(|_| t.challenge_bits(bits)).collect()
    }

    /// Encodes an extension-field row (coordinate-wise: the code has base
    /// field coefficients, so it commutes with the extension basis).
    pub(super) fn encode_ext(&self, u: &[EF]) -> Vec<EF> {
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

/// Grinding bits before every opening's queries: the prover finds a nonce
/// with `BLAKE3(seed ‖ nonce)` starting with this many zero bits, `seed` a
/// challenge drawn after everything the queries depend on, and the nonce
/// is absorbed before the query indices are drawn. A prover that grinds
/// the Fiat–Shamir query indices (re-rolling the transcript until the
/// queries miss its errors) pays `2^POW_BITS` hashes per attempt: the
/// query term's `λ` bits of statistical security become `λ + POW_BITS`
/// bits of work. An honest prover pays `2^POW_BITS` BLAKE3 compressions
/// per opening on average (well under a millisecond here).
pub const POW_BITS: u32 = 12;

fn pow_seed<T: Transcript>(t: &mut T) -> [u8; 16] {
    let s = t.challenge_ext();
    let c: &[F] = s.as_basis_coefficients_slice();
    let mut seed = [0u8; 16];
    seed[..8].copy_from_slice(&c[0].as_canonical_u64().to_le_bytes());
    seed[8..].copy_from_slice(&c[1].as_canonical_u64().to_le_bytes());
    seed
}

/// `BLAKE3` keyed by the seed (padded with the domain tag) over the nonce:
/// one compression per try.
fn pow_passes(seed: &[u8; 16], nonce: u64) -> bool {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(seed);
    key[16..].copy_from_slice(b"zkml-pcs-pow\0\0\0\0");
    let d = blake3::keyed_hash(&key, &nonce.to_le_bytes());
    let head = u64::from_be_bytes(d.as_bytes()[..8].try_into().unwrap_or([0xff; 8]));
    head.leading_zeros() >= POW_BITS
}

/// A nonce as two base-field words (each below 2^32 < p).
fn pow_words(nonce: u64) -> [F; 2] {
    [F::from_u64(nonce & 0xffff_ffff), F::from_u64(nonce >> 32)]
}
