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
