//! Opening proofs of claims on packed polynomials: the batched sumcheck
//! with the padding rule (see the module docs of [`super`]), per group.

use super::*;

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
