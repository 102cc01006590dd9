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
//! two; each group is committed and opened on its own. A witness larger
//! than `2^`[`WITNESS_GROUP_VARS`] entries is first cut into full groups
//! of that size, which bounds the memory of each opening.
//!
//! **Sparse claims.** A claim point whose leading coordinates are exactly
//! 0 or 1 (an embedding row picked by a public token id) touches one block
//! of its slot: only that block's `eq` table is built.
//!
//! Soundness: a false claim or a nonzero padding entry survives with
//! probability at most `(claims + 1)/|EF|` (the random combination), plus
//! `2n/|EF|` (sumcheck), plus the PCS's error.
//!
//! Files: this one (slots, claims, groups), [`commit`] (PCS parameters and
//! the committed parts), [`open`] (the opening proofs).

mod commit;
mod open;

pub use commit::{Committed, LARGE_VARS, Part, pcs, weight_pcs};
pub use open::{DirectOpening, PackedOpening, PartOpening, prove, prove_direct, verify, verify_direct};

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

/// Most entries of one witness group (`2^26`): a larger witness is cut
/// into groups of this size before the [`MAX_GROUPS`] split of the rest.
/// The opening of a group holds about 64 bytes per entry (the packed
/// polynomial, the claims' `eq` combination, `eq(τ, ·)`, the padding
/// indicator, then their first fold), and groups are committed and opened
/// one after the other, so this bounds the prover's transient memory at
/// ~4.3 GB: SmolLM2-135M at 64 positions commits 411M entries, whose
/// `2^28`-entry group alone would need 17 GB. Each group is one
/// more PCS opening in the proof (~3 MB at this size).
pub const WITNESS_GROUP_VARS: usize = 26;

impl Groups {
    /// The groups of committed weights.
    pub fn new(vars: &[usize]) -> Groups {
        Groups::bounded(vars, usize::MAX)
    }

    /// Full groups of `2^max_vars` entries while more than that is left,
    /// then at most [`MAX_GROUPS`] groups for the rest.
    pub fn bounded(vars: &[usize], max_vars: usize) -> Groups {
        let mut left: Vec<usize> = (0..vars.len()).collect();
        left.sort_by_key(|&i| std::cmp::Reverse(vars[i]));
        let mut place = vec![(0, 0); vars.len()];
        let mut packings = vec![];
        let bound = 1usize.checked_shl(max_vars as u32).unwrap_or(usize::MAX);
        // Groups made once what is left fits the bound.
        let mut tail = 0;
        while !left.is_empty() {
            let total: usize = left.iter().map(|&i| 1usize << vars[i]).sum();
            let members = if total <= bound && tail + 1 == MAX_GROUPS {
                std::mem::take(&mut left)
            } else {
                tail += usize::from(total <= bound);
                // A table larger than the bound is a group of its own.
                let cap =
                    (1usize << (usize::BITS - 1 - total.leading_zeros())).min(bound).max(1 << vars[left[0]]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every table is placed once, in one group, inside its packing;
        /// a group exceeds the bound only to hold one larger table; at
        /// most `MAX_GROUPS` groups are made once the rest fits; and with
        /// no bound (weights) there are at most `MAX_GROUPS` groups.
        #[test]
        fn bounded_groups_place_every_table(
            vars in proptest::collection::vec(0usize..14, 1..40),
            bound in 4usize..16,
        ) {
            for (groups, max) in [(Groups::bounded(&vars, bound), bound), (Groups::new(&vars), usize::MAX)] {
                let mut count = vec![0usize; groups.packings.len()];
                for (i, &(g, slot)) in groups.place.iter().enumerate() {
                    let (_, k) = groups.packings[g].slots[slot];
                    prop_assert_eq!(k, vars[i]);
                    count[g] += 1;
                }
                prop_assert_eq!(count.iter().sum::<usize>(), vars.len());
                let bound_len = 1usize.checked_shl(max as u32).unwrap_or(usize::MAX);
                let mut tail = 0;
                for (g, p) in groups.packings.iter().enumerate() {
                    let members = groups.members(g);
                    prop_assert!(!members.is_empty());
                    let real: usize = members.iter().map(|&i| 1usize << vars[i]).sum();
                    prop_assert!(p.len() <= bound_len.max(1 << vars[members[0]]));
                    prop_assert!(p.len() < 2 * real.max(1));
                    tail += usize::from(p.len() < bound_len);
                }
                prop_assert!(tail <= MAX_GROUPS);
                if max == usize::MAX {
                    prop_assert!(groups.packings.len() <= MAX_GROUPS);
                }
            }
        }
    }
}
