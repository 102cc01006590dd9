//! The batched single-point opening (commit, open, verify).

use super::*;

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
        let pow_nonce = self.grind(t);
        let (columns, merkle) = data.open_queries(&self.queries(n, t))?;
        Ok((values, OpeningProof { u_eval, u_proximity, pow_nonce, columns, merkle }))
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
        self.check_grind(t, proof.pow_nonce)?;
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
