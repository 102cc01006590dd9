//! Many tensors as one polynomial, opened once.
//!
//! **Packing.** Tables of `2^{k_i}` entries are placed in one table of
//! `2^n` entries, largest first, so that table `i` occupies an aligned slot
//! `[o_i, o_i + 2^{k_i})`. Then for any point `r ∈ EF^{k_i}`
//! `t_i(r) = P(bits(o_i >> k_i), r)`: a claim on a packed table is a claim on
//! the packed polynomial `P` at a point whose first `n − k_i` coordinates
//! are the slot's (Boolean) prefix.
//!
//! **Opening.** Claims `P(z_j) = v_j` (any points) and the padding rule
//! (every entry of `P` that is not a real entry of some slot's tensor is
//! zero) are proven together by one sumcheck of degree 3,
//!
//! ```text
//! Σ_x P(x) · [G(x) + γ · eq(τ, x) · Pad(x)] = Σ_j β^j v_j,   G(x) = Σ_j β^j eq(z_j, x),
//! ```
//!
//! where `Pad = 1 − real` is the indicator of padding (`eq(τ, ·)` and
//! `Pad` stay separate factors, since the multilinear extension of their
//! product is not the product of theirs), with `β, γ, τ` drawn after the
//! claims are absorbed; it ends in one
//! evaluation of `P` at the sumcheck's random point `s`, checked with the
//! PCS. The verifier evaluates `G(s)` itself: `eq` terms directly and
//! `Pad(s) = 1 − Σ_i eq(prefix_i, s_pre)·real_i(s_suf)` from each slot's
//! [`Layout`]. Because `s` is transcript-derived after the commitment was
//! absorbed, the PCS may use its random-point parameters.
//!
//! **Groups.** Tables are split into at most [`MAX_GROUPS`] packed polynomials
//! ([`Groups`]) so that the total is not rounded up to the next power of
//! two; each group is committed and opened on its own.
//!
//! **Sparse claims.** A claim point whose leading coordinates are exactly
//! 0 or 1 (an embedding row picked by a public token id) touches one block
//! of its slot: only that block's `eq` table is built.
//!
//! Soundness: a false claim or a nonzero padding entry survives with
//! probability at most `(claims + 1)/|EF|` (the random combination), plus
//! `2n/|EF|` (sumcheck), plus the PCS's error.

use crate::layout::Layout;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use zkml_proof::mle::{eq_eval, eq_table};
use zkml_proof::pcs::{
    Commitment, MultiOpeningProof, MultilinearPcs, OpeningClaim, OpeningProof, ProverData, TensorPcs,
};
use zkml_proof::store::Source;
use zkml_proof::sumcheck::{self, SumcheckProof, Table, Term};
use zkml_proof::{EF, F, Transcript};

/// Where each table sits in the packed polynomial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packing {
    /// Variables of the packed polynomial.
    pub vars: usize,
    /// `(offset, vars)` of each table, in the caller's order.
    pub slots: Vec<(usize, usize)>,
}

impl Packing {
    /// Packs tables of `2^vars[i]` entries, largest first.
    pub fn new(vars: &[usize]) -> Packing {
        let mut order: Vec<usize> = (0..vars.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(vars[i]));
        let mut slots = vec![(0, 0); vars.len()];
        let mut at = 0usize;
        for i in order {
            slots[i] = (at, vars[i]);
            at += 1 << vars[i];
        }
        Packing { vars: crate::layout::log2_ceil(at.max(1)), slots }
    }

    pub fn len(&self) -> usize {
        1 << self.vars
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn prefix_len(&self, i: usize) -> usize {
        self.vars - self.slots[i].1
    }

    /// Boolean prefix of slot `i`.
    pub fn prefix(&self, i: usize) -> Vec<EF> {
        let (off, k) = self.slots[i];
        crate::layout::bits_point(off >> k, self.vars - k)
    }

    /// The packed point of a point `r` on table `i`.
    pub fn point(&self, i: usize, r: &[EF]) -> Vec<EF> {
        let mut p = self.prefix(i);
        p.extend_from_slice(r);
        p
    }

    /// `eq(prefix_i, z[..prefix])`: the weight of slot `i` at a packed point.
    pub fn slot_weight(&self, i: usize, z: &[EF]) -> EF {
        let pl = self.prefix_len(i);
        eq_eval(&self.prefix(i), &z[..pl])
    }

    /// The suffix of a packed point that lands in slot `i`.
    pub fn suffix<'a>(&self, i: usize, z: &'a [EF]) -> &'a [EF] {
        &z[self.prefix_len(i)..]
    }

    /// Lays the tables out in one vector (`fill` elsewhere).
    pub fn pack<T: Copy + Send + Sync>(&self, tables: &[&[T]], fill: T) -> Vec<T> {
        let mut out = vec![fill; self.len()];
        for (t, &(off, k)) in tables.iter().zip(&self.slots) {
            out[off..off + (1 << k)].copy_from_slice(&t[..1 << k]);
        }
        out
    }

    /// `Σ_i eq(prefix_i, z_pre) · layouts[i].real(z_suf)`: the real-entry
    /// indicator of the packed polynomial at `z`.
    pub fn real_eval(&self, layouts: &[Layout], z: &[EF]) -> EF {
        (0..self.slots.len()).map(|i| self.slot_weight(i, z) * layouts[i].real_eval(self.suffix(i, z))).sum()
    }

    fn real_mask(&self, layouts: &[Layout]) -> Vec<bool> {
        let mut m = vec![false; self.len()];
        for (l, &(off, _)) in layouts.iter().zip(&self.slots) {
            if l.is_dense() {
                m[off..off + l.padded_len()].iter_mut().for_each(|x| *x = true);
            } else {
                for p in l.padded_indices() {
                    m[off + p] = true;
                }
            }
        }
        m
    }
}

/// A claim `t(point) = value` on one multilinear table.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub point: Vec<EF>,
    pub value: EF,
}

/// Tables split into at most [`MAX_GROUPS`] packed polynomials: the largest
/// tables fill the biggest power of two the total reaches, the rest are
/// split the same way, and the last group takes what is left (rounded up).
/// One packing of the whole would round the total up to the next power of
/// two and could double it (4 × 2^20 weights and four biases are 2^22 +
/// 2^12, not 2^23); two groups still padded a 5.29M-entry witness to 2^22 +
/// 2^21 = 6.29M, three make it 2^22 + 2^20 + 2^16 = 5.31M. Tables are powers
/// of two sorted by size, so each group but the last is filled exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    pub packings: Vec<Packing>,
    /// `(group, slot in the group's packing)` of each table.
    pub place: Vec<(usize, usize)>,
}

/// Most packed polynomials per batch of tables: each is a commitment and an
/// opening of its own (a few KB of proof), so the split stops where padding
/// is already small.
pub const MAX_GROUPS: usize = 3;

impl Groups {
    pub fn new(vars: &[usize]) -> Groups {
        let mut left: Vec<usize> = (0..vars.len()).collect();
        left.sort_by_key(|&i| std::cmp::Reverse(vars[i]));
        let mut place = vec![(0, 0); vars.len()];
        let mut packings = vec![];
        while !left.is_empty() {
            let members = if packings.len() + 1 == MAX_GROUPS {
                std::mem::take(&mut left)
            } else {
                let total: usize = left.iter().map(|&i| 1usize << vars[i]).sum();
                let cap = 1usize << (usize::BITS - 1 - total.leading_zeros());
                let (mut fill, mut rest, mut used) = (vec![], vec![], 0usize);
                for &i in &left {
                    if used + (1 << vars[i]) <= cap {
                        used += 1 << vars[i];
                        fill.push(i);
                    } else {
                        rest.push(i);
                    }
                }
                left = rest;
                fill
            };
            let g = packings.len();
            for (slot, &i) in members.iter().enumerate() {
                place[i] = (g, slot);
            }
            packings.push(Packing::new(&members.iter().map(|&i| vars[i]).collect::<Vec<_>>()));
        }
        Groups { packings, place }
    }

    /// Tables of group `g`, in slot order.
    pub fn members(&self, g: usize) -> Vec<usize> {
        let mut m: Vec<(usize, usize)> =
            self.place.iter().enumerate().filter(|(_, p)| p.0 == g).map(|(i, p)| (p.1, i)).collect();
        m.sort();
        m.into_iter().map(|(_, i)| i).collect()
    }
}

/// Proof of a batch of claims on committed packed tables: one reduction
/// and one PCS opening per group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackedOpening {
    pub parts: Vec<PartOpening>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartOpening {
    pub reduction: SumcheckProof,
    pub opening: OpeningProof,
}

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
    /// Packs and commits padded tables (`tables[i]` of `layouts[i]`).
    pub fn new(layouts: Vec<Layout>, tables: &[&[F]]) -> Result<Committed> {
        Committed::with(layouts, pcs, |i, dst| dst.copy_from_slice(&tables[i][..dst.len()]))
    }

    /// Like [`Committed::new`], with table `i` written by `fill(i, slot)`
    /// straight into its slot (no intermediate copy of large weights).
    pub fn with(
        layouts: Vec<Layout>,
        params: fn(usize) -> TensorPcs,
        fill: impl Fn(usize, &mut [F]),
    ) -> Result<Committed> {
        let groups = Groups::new(&layouts.iter().map(|l| l.vars()).collect::<Vec<_>>());
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

fn start<T: Transcript>(claims: &[(usize, Claim)], packing: &Packing, t: &mut T) -> (EF, EF, Vec<EF>) {
    t.label(b"packed-opening");
    for (i, c) in claims {
        t.absorb_base(&[F::from_u64(*i as u64)]);
        t.absorb_ext(&c.point);
        t.absorb_ext(&[c.value]);
    }
    let beta = t.challenge_ext();
    let gamma = t.challenge_ext();
    let tau = t.challenges_ext(packing.vars);
    (beta, gamma, tau)
}

fn target(claims: &[(usize, Claim)], beta: EF) -> EF {
    let mut acc = EF::ZERO;
    for (_, c) in claims.iter().rev() {
        acc = acc * beta + c.value;
    }
    acc
}

/// `P · G + γ · P · E · Pad` over tables `[P, G, E, Pad]`.
fn terms(gamma: EF) -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1] }, Term { coeff: gamma, factors: vec![0, 2, 3] }]
}

/// Claims per group, with table indices turned into slots.
fn split(groups: &Groups, claims: &[(usize, Claim)]) -> Option<Vec<Vec<(usize, Claim)>>> {
    let mut out = vec![vec![]; groups.packings.len()];
    for (i, c) in claims {
        let &(g, slot) = groups.place.get(*i)?;
        out[g].push((slot, c.clone()));
    }
    Some(out)
}

/// Adds `w · eq(z, ·)` into `g` (a slot's entries). Leading coordinates that
/// are exactly 0 or 1 (a row picked by a public index, an embedding token)
/// select a sub-block: only that block's table is built.
fn add_eq(g: &mut [EF], z: &[EF], w: EF) {
    let lead = z.iter().take_while(|&&x| x == EF::ZERO || x == EF::ONE).count();
    let block = z[..lead].iter().fold(0usize, |acc, &x| 2 * acc + usize::from(x == EF::ONE));
    let eq = eq_table(&z[lead..]);
    let off = block * eq.len();
    g[off..off + eq.len()].par_iter_mut().zip(eq.par_iter()).for_each(|(x, &e)| *x += w * e);
}

/// Proves claims `(table, claim)` on the committed tables and that every
/// entry off the tables' real entries is zero (the witness columns; the
/// weights use [`prove_direct`]).
pub fn prove<T: Transcript>(c: &Committed, claims: &[(usize, Claim)], t: &mut T) -> Result<PackedOpening> {
    let per = split(&c.groups, claims).ok_or_else(|| Error::Internal("claim on a missing table".into()))?;
    let mut parts = vec![];
    for (g, claims) in per.iter().enumerate() {
        let members: Vec<Layout> = c.groups.members(g).iter().map(|&i| c.layouts[i].clone()).collect();
        parts.push(prove_part(&c.groups.packings[g], &members, &c.parts[g], claims, t)?);
    }
    Ok(PackedOpening { parts })
}

fn prove_part<T: Transcript>(
    p: &Packing,
    layouts: &[Layout],
    part: &Part,
    claims: &[(usize, Claim)],
    t: &mut T,
) -> Result<PartOpening> {
    for (i, cl) in claims {
        if *i >= p.slots.len() || cl.point.len() != p.slots[*i].1 {
            return Err(Error::Internal(format!("claim on slot {i} has a malformed point")));
        }
    }
    let (beta, gamma, tau) = start(claims, p, t);
    let mut g = vec![EF::ZERO; p.len()];
    let mut pow = EF::ONE;
    for (i, cl) in claims {
        let (off, k) = p.slots[*i];
        add_eq(&mut g[off..off + (1 << k)], &cl.point, pow);
        pow *= beta;
    }
    let pad: Vec<F> = p.real_mask(layouts).par_iter().map(|&m| F::from_bool(!m)).collect();
    let tables =
        vec![Table::Base(part.data.poly(0)), Table::Ext(g), Table::Ext(eq_table(&tau)), Table::Base(pad)];
    let (reduction, out) = sumcheck::prove(tables, &terms(gamma), target(claims, beta), t)?;
    let (values, opening) = pcs(p.vars).open(&part.commitment, &part.data, &out.point, t)?;
    if values[0] != out.evals[0] {
        return Err(Error::Internal("packed opening disagrees with the reduction".into()));
    }
    Ok(PartOpening { reduction, opening })
}

/// Claims on committed tables opened directly: one multi-point PCS opening
/// per group ([`TensorPcs::open_multi`]), no reduction sumcheck. Used for
/// the weights, whose padding is zero by construction (`setup`), so no
/// padding term is needed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectOpening {
    pub parts: Vec<MultiOpeningProof>,
}

/// The claims on one packed polynomial: points and values.
type GroupClaims = (Vec<Vec<EF>>, Vec<EF>);

/// Packed points and values of each group's claims.
fn packed_claims(groups: &Groups, claims: &[(usize, Claim)]) -> Option<Vec<GroupClaims>> {
    let per = split(groups, claims)?;
    let mut out = vec![];
    for (g, cl) in per.iter().enumerate() {
        let p = &groups.packings[g];
        let mut points = vec![];
        let mut values = vec![];
        for (slot, c) in cl {
            if *slot >= p.slots.len() || c.point.len() != p.slots[*slot].1 {
                return None;
            }
            points.push(p.point(*slot, &c.point));
            values.push(c.value);
        }
        out.push((points, values));
    }
    Some(out)
}

/// Proves claims `(table, claim)` on committed tables with one multi-point
/// opening per group.
pub fn prove_direct<T: Transcript>(
    c: &Committed,
    claims: &[(usize, Claim)],
    t: &mut T,
) -> Result<DirectOpening> {
    let per = packed_claims(&c.groups, claims)
        .ok_or_else(|| Error::Internal("claim on a missing table or with a malformed point".into()))?;
    let mut parts = vec![];
    for (g, (points, _)) in per.iter().enumerate() {
        let part = &c.parts[g];
        // The values the opening proves are the committed ones; a false
        // claim (a witness computed with other weights) is not refused here
        // but makes the proof fail verification, which the soundness tests
        // rely on.
        let (_, proof) =
            (c.params)(c.groups.packings[g].vars).open_multi(&part.commitment, &part.data, points, t)?;
        parts.push(proof);
    }
    Ok(DirectOpening { parts })
}

/// Verifies [`prove_direct`].
pub fn verify_direct<T: Transcript>(
    commitments: &[Commitment],
    groups: &Groups,
    claims: &[(usize, Claim)],
    proof: &DirectOpening,
    t: &mut T,
) -> Result<()> {
    let per = packed_claims(groups, claims).ok_or_else(|| {
        Error::Reject("claim on a missing committed table or with a malformed point".into())
    })?;
    if commitments.len() != groups.packings.len() || proof.parts.len() != groups.packings.len() {
        return Err(Error::Reject("weight opening: wrong number of commitments or openings".into()));
    }
    for (g, (points, values)) in per.iter().enumerate() {
        weight_pcs(groups.packings[g].vars)
            .verify_multi(&commitments[g], groups.packings[g].vars, points, values, &proof.parts[g], t)
            .map_err(|e| Error::Reject(format!("weight opening: {e}")))?;
    }
    Ok(())
}

/// Verifies claims `(table, claim)` on committed tables (`layouts[i]` of
/// table `i`) and their padding rule.
pub fn verify<T: Transcript>(
    commitments: &[Commitment],
    groups: &Groups,
    layouts: &[Layout],
    claims: &[(usize, Claim)],
    proof: &PackedOpening,
    t: &mut T,
) -> Result<()> {
    let per =
        split(groups, claims).ok_or_else(|| Error::Reject("claim on a missing committed table".into()))?;
    if commitments.len() != groups.packings.len() || proof.parts.len() != groups.packings.len() {
        return Err(Error::Reject("packed opening: wrong number of commitments or openings".into()));
    }
    for (g, claims) in per.iter().enumerate() {
        let members: Vec<Layout> = groups.members(g).iter().map(|&i| layouts[i].clone()).collect();
        verify_part(&commitments[g], &groups.packings[g], &members, claims, &proof.parts[g], t)?;
    }
    Ok(())
}

fn verify_part<T: Transcript>(
    commitment: &Commitment,
    packing: &Packing,
    layouts: &[Layout],
    claims: &[(usize, Claim)],
    proof: &PartOpening,
    t: &mut T,
) -> Result<()> {
    for (i, cl) in claims {
        if *i >= packing.slots.len() || cl.point.len() != packing.slots[*i].1 {
            return Err(Error::Reject(format!("claim on committed table {i} has a malformed point")));
        }
    }
    let (beta, gamma, tau) = start(claims, packing, t);
    let out = sumcheck::verify(packing.vars, 4, &terms(gamma), target(claims, beta), &proof.reduction, t)
        .map_err(|e| Error::Reject(format!("packed opening: {e}")))?;
    let s = &out.point;
    if out.evals[2] != eq_eval(&tau, s) || out.evals[3] != EF::ONE - packing.real_eval(layouts, s) {
        return Err(Error::Reject("packed opening: padding indicator mismatch".into()));
    }
    let mut g = EF::ZERO;
    let mut pow = EF::ONE;
    for (i, cl) in claims {
        g += pow * packing.slot_weight(*i, s) * eq_eval(&cl.point, packing.suffix(*i, s));
        pow *= beta;
    }
    if g != out.evals[1] {
        return Err(Error::Reject("packed opening: combination polynomial mismatch".into()));
    }
    let claim = OpeningClaim { num_vars: packing.vars, num_polys: 1, point: s, values: &out.evals[..1] };
    pcs(packing.vars)
        .verify(commitment, &claim, &proof.opening, t)
        .map_err(|e| Error::Reject(format!("PCS opening: {e}")))
}
