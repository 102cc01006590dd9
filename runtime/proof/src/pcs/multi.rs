//! The multi-point opening of one committed polynomial.

use super::*;

/// The columns `eq(z_col, ·)` is supported on, and its values there:
/// leading coordinates that are exactly 0 or 1 (a packed table's slot
/// prefix, an embedding row picked by a token id) fix a block of columns.
pub(super) fn column_block(z_col: &[EF]) -> (usize, Vec<EF>) {
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
        let pow_nonce = self.grind(t);
        let (columns, merkle) = data.open_queries(&self.queries(n, t))?;
        Ok((values, MultiOpeningProof { h, u, pow_nonce, columns, merkle }))
    }

    pub(super) fn start_multi<T: Transcript>(
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
        self.check_grind(t, proof.pow_nonce)?;
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
