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
//! zero) are proven together by one sumcheck of degree 2,
//!
//! ```text
//! Σ_x P(x) · [G(x) + γ · eq(τ, x) · Pad(x)] = Σ_j β^j v_j,   G(x) = Σ_j β^j eq(z_j, x),
//! ```
//!
//! where `Pad = 1 − real` is the indicator of padding (degree 3: `eq(τ, ·)`
//! and `Pad` stay separate factors, since the multilinear extension of their
//! product is not the product of theirs).
//!
//! with `β, γ, τ` drawn after the claims are absorbed; it ends in one
//! evaluation of `P` at the sumcheck's random point `s`, checked with the
//! PCS. The verifier evaluates `G(s)` itself: `eq` terms directly and
//! `Pad(s) = 1 − Σ_i eq(prefix_i, s_pre)·real_i(s_suf)` from each slot's
//! [`Layout`]. Because `s` is transcript-derived after the commitment was
//! absorbed, the PCS may use its random-point parameters.
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
use zkml_proof::pcs::{Commitment, MultilinearPcs, OpeningClaim, OpeningProof, ProverData, TensorPcs};
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

/// Proof of a batch of claims on a packed, committed polynomial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackedOpening {
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

/// Above this many variables a packed polynomial uses rate 1/2.
pub const LARGE_VARS: usize = 22;

/// A committed packed polynomial on the prover's side.
#[derive(Debug)]
pub struct Committed {
    pub packing: Packing,
    pub layouts: Vec<Layout>,
    pub commitment: Commitment,
    pub data: ProverData,
}

impl Committed {
    /// Packs and commits padded tables (`tables[i]` of `layouts[i]`).
    pub fn new(layouts: Vec<Layout>, tables: &[&[F]]) -> Result<Committed> {
        let packing = Packing::new(&layouts.iter().map(|l| l.vars()).collect::<Vec<_>>());
        let table = packing.pack(tables, F::ZERO);
        let (commitment, data) = pcs(packing.vars).commit(vec![table])?;
        Ok(Committed { packing, layouts, commitment, data })
    }
    /// The packed table.
    pub fn table(&self) -> &[F] {
        &self.data.polys()[0]
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

/// `P · G + γ · P · E · Pad` over tables `[P, G, E, Pad]`, or `P · G`
/// alone without the padding check.
fn terms(gamma: EF, padding: bool) -> Vec<Term> {
    let mut t = vec![Term { coeff: EF::ONE, factors: vec![0, 1] }];
    if padding {
        t.push(Term { coeff: gamma, factors: vec![0, 2, 3] });
    }
    t
}

/// Proves claims `(slot, claim)` on the committed tables and, with
/// `padding`, the padding rule.
pub fn prove<T: Transcript>(
    c: &Committed,
    claims: &[(usize, Claim)],
    padding: bool,
    t: &mut T,
) -> Result<PackedOpening> {
    let p = &c.packing;
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
        let eq = eq_table(&cl.point);
        g[off..off + (1 << k)].par_iter_mut().zip(eq.par_iter()).for_each(|(x, &e)| *x += pow * e);
        pow *= beta;
    }
    let mut tables = vec![Table::Base(c.table().to_vec()), Table::Ext(g)];
    if padding {
        let pad: Vec<F> = p.real_mask(&c.layouts).par_iter().map(|&m| F::from_bool(!m)).collect();
        tables.extend([Table::Ext(eq_table(&tau)), Table::Base(pad)]);
    }
    let (reduction, out) = sumcheck::prove(tables, &terms(gamma, padding), target(claims, beta), t)?;
    let (values, opening) = pcs(p.vars).open(&c.commitment, &c.data, &out.point, t)?;
    if values[0] != out.evals[0] {
        return Err(Error::Internal("packed opening disagrees with the reduction".into()));
    }
    Ok(PackedOpening { reduction, opening })
}

/// Verifies claims on a committed packed polynomial and, with `padding`,
/// its padding rule.
pub fn verify<T: Transcript>(
    commitment: &Commitment,
    packing: &Packing,
    layouts: &[Layout],
    claims: &[(usize, Claim)],
    padding: bool,
    proof: &PackedOpening,
    t: &mut T,
) -> Result<()> {
    for (i, cl) in claims {
        if *i >= packing.slots.len() || cl.point.len() != packing.slots[*i].1 {
            return Err(Error::Reject(format!("claim on committed table {i} has a malformed point")));
        }
    }
    let (beta, gamma, tau) = start(claims, packing, t);
    let n = if padding { 4 } else { 2 };
    let out =
        sumcheck::verify(packing.vars, n, &terms(gamma, padding), target(claims, beta), &proof.reduction, t)
            .map_err(|e| Error::Reject(format!("packed opening: {e}")))?;
    let s = &out.point;
    if padding
        && (out.evals[2] != eq_eval(&tau, s) || out.evals[3] != EF::ONE - packing.real_eval(layouts, s))
    {
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
