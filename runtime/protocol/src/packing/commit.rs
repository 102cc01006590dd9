//! PCS parameters of packed polynomials and the committed parts.

use super::*;

/// The PCS parameters of a packed opening of `vars` variables. Its point
/// comes out of a sumcheck run after the commitment is bound, so the
/// random-point parameter sets apply (no separate proximity test). Up to
/// 2^22 entries: rate 1/8 with 121 queries (smaller proofs); above, rate 1/2
/// with 241 queries (`241 · −log2(3/4) ≥ 100` bits), which keeps the
/// codeword at twice the table instead of eight times (the prover's memory
/// for large models).
pub fn pcs(vars: usize) -> TensorPcs {
    if vars <= LARGE_VARS {
        TensorPcs::for_random_points()
    } else {
        TensorPcs { separate_proximity: false, log_blowup: 1, num_queries: 241 }
    }
}

/// The PCS parameters of the weights (opened with [`prove_direct`], whose
/// row point is drawn after the commitment): rate 1/4 with `Q = 148`
/// (`(1 − 3/8)^148 = 2^-100.4`) up to 2^22 entries, rate 1/2 with 241
/// queries above. The codeword lives in `plan.bin`, so the rate sets the
/// plan's size (4× the packed weights, not 8×), and the verifier's
/// encoding of the combined row halves; the proof grows by 27 queries.
pub fn weight_pcs(vars: usize) -> TensorPcs {
    if vars <= LARGE_VARS {
        TensorPcs { separate_proximity: false, log_blowup: 2, num_queries: 148 }
    } else {
        pcs(vars)
    }
}

/// Above this many variables a packed polynomial uses rate 1/2.
pub const LARGE_VARS: usize = 22;

/// One committed packed polynomial.
#[derive(Debug)]
pub struct Part {
    pub commitment: Commitment,
    pub data: ProverData,
}

/// Committed tables on the prover's side.
#[derive(Debug)]
pub struct Committed {
    /// The PCS parameters by number of variables ([`pcs`] for witness
    /// columns, [`weight_pcs`] for weights).
    pub params: fn(usize) -> TensorPcs,
    pub groups: Groups,
    pub layouts: Vec<Layout>,
    pub parts: Vec<Part>,
}

impl Committed {
    /// Packs and commits padded witness tables (`tables[i]` of
    /// `layouts[i]`) in groups of at most `2^group_vars` entries
    /// ([`Groups::bounded`]).
    pub fn new(layouts: Vec<Layout>, group_vars: usize, tables: &[&[F]]) -> Result<Committed> {
        let groups = Groups::bounded(&layouts.iter().map(|l| l.vars()).collect::<Vec<_>>(), group_vars);
        Committed::grouped(layouts, groups, pcs, |i, dst| dst.copy_from_slice(&tables[i][..dst.len()]))
    }

    /// Like [`Committed::new`], with table `i` written by `fill(i, slot)`
    /// straight into its slot (no intermediate copy of large weights).
    pub fn with(
        layouts: Vec<Layout>,
        params: fn(usize) -> TensorPcs,
        fill: impl Fn(usize, &mut [F]),
    ) -> Result<Committed> {
        let groups = Groups::new(&layouts.iter().map(|l| l.vars()).collect::<Vec<_>>());
        Committed::grouped(layouts, groups, params, fill)
    }

    /// [`Committed::with`] in the given groups (one commitment each, made
    /// one after the other).
    pub fn grouped(
        layouts: Vec<Layout>,
        groups: Groups,
        params: fn(usize) -> TensorPcs,
        fill: impl Fn(usize, &mut [F]),
    ) -> Result<Committed> {
        let mut parts = vec![];
        for (g, packing) in groups.packings.iter().enumerate() {
            let mut table = vec![F::ZERO; packing.len()];
            for (slot, &i) in groups.members(g).iter().enumerate() {
                let (off, k) = packing.slots[slot];
                fill(i, &mut table[off..off + (1 << k)]);
            }
            let (commitment, data) = params(packing.vars).commit(vec![table])?;
            parts.push(Part { commitment, data });
        }
        Ok(Committed { params, groups, layouts, parts })
    }
    /// The stored form: each group's prover data in turn.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![];
        for p in &self.parts {
            p.data.write(&mut out);
        }
        out
    }

    /// [`Committed::to_bytes`], streamed into `w`; returns the length.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<u64> {
        let mut n = 0;
        for p in &self.parts {
            n += p.data.write_to(w)?;
        }
        Ok(n)
    }

    /// Weights (`layouts`) committed earlier by [`Committed::with`] with
    /// [`weight_pcs`], read from their stored form
    /// at `start` of `bytes` (see [`Committed::to_bytes`]); returns where
    /// the stored data ends.
    pub fn stored(layouts: Vec<Layout>, bytes: &Source, start: usize) -> Result<(Committed, usize)> {
        let groups = Groups::new(&layouts.iter().map(|l| l.vars()).collect::<Vec<_>>());
        let mut parts = vec![];
        let mut at = start;
        for packing in &groups.packings {
            let (data, end) = ProverData::read(bytes, at)?;
            if data.num_vars() != packing.vars
                || data.num_polys() != 1
                || weight_pcs(packing.vars).log_blowup != data.log_blowup()
            {
                return Err(Error::Key(
                    "the plan's stored prover data does not fit its weights (recompile the plan)".into(),
                ));
            }
            parts.push(Part { commitment: data.root(), data });
            at = end;
        }
        Ok((Committed { params: weight_pcs, groups, layouts, parts }, at))
    }

    pub fn commitments(&self) -> Vec<Commitment> {
        self.parts.iter().map(|p| p.commitment).collect()
    }
    /// Total committed entries.
    pub fn len(&self) -> usize {
        self.groups.packings.iter().map(|p| p.len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}
