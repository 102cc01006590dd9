//! logUp-GKR lookups (Papini–Haböck, "Improving logarithmic derivative
//! lookups using GKR", 2023).
//!
//! **Statement.** Looked-up rows `a_i = (a_{0,i}, …, a_{c-1,i})`, `i < N`, all
//! appear among table rows `t_j`, `j < T`, with multiplicities `m_j`. With a
//! column-separation challenge `γ` (rows become `Σ_c γ^c a_{c,i}`) and a pole
//! challenge `α`, this holds (w.h.p.) iff
//!
//! ```text
//! Σ_i 1 / (α − a_i)  −  Σ_j m_j / (α − t_j)  =  0.
//! ```
//!
//! **Fraction trees.** Leaves are fractions `p/q`, in two trees: tree A
//! holds the `N` lookups (`1 / (α − a_i)`), tree B the table
//! (`−m_j / (α − t_j)`); a tree of one leaf gets a second, `0/1`. Each layer
//! adds pairs `(x0 = 0, x) + (x0 = 1, x)`: `p' = p_L q_R + p_R q_L`,
//! `q' = q_L q_R`. The prover sends each tree's top two fractions; the
//! verifier checks that the four add up to `0/q` with `q ≠ 0`. Two trees
//! rather than one over `(side, x)` with both sides padded to
//! `max(N, T)`: with `N ≫ T` (range checks, small tables) that padding
//! doubled the prover's work.
//!
//! **GKR.** A claim `(p̃', q̃')(r) = (v_p, v_q)` on a layer reduces to one on
//! the layer below by the degree-3 sumcheck of
//! `Σ_x eq(r, x)·[p_L q_R + p_R q_L + λ q_L q_R](x) = v_p + λ v_q`, after which
//! the verifier checks `eq(r, r')` itself, draws `ρ`, and continues with the
//! point `(ρ, r')` and values `(1−ρ)·f_L(r') + ρ·f_R(r')`. Tree A is
//! reduced first, then tree B, on one transcript.
//!
//! **Leaves.** At each tree's leaf point the verifier recomputes `p̃, q̃`
//! from claimed evaluations of the looked-up columns (tree A), the table
//! columns and the multiplicities (tree B), using the padding indicator
//! `Z(r) = 1 − r_0` of a one-leaf tree. Those claimed evaluations are the
//! output: the caller must check them (PCS openings, the previous layer, or
//! the verifier's own table evaluation). Unchecked, they prove nothing.
//!
//! **Soundness.** The fraction identity fails for a wrong statement except
//! with probability about `(N + T)·c / |EF|` over `α, γ`; each GKR layer adds
//! a sumcheck error of `3·(vars)/|EF|` and the `ρ` step `1/|EF|`. With
//! `|EF| ≈ 2^128` and `N, T ≤ 2^30` the total stays below `2^-90`.
//! `α, γ` must be drawn after the columns and multiplicities are bound in the
//! transcript (by commitment), which is the caller's duty.

use crate::mle::{eq_eval, eq_table};
use crate::sumcheck::{self, Claims, SumcheckError, SumcheckProof, Term};
use crate::{EF, F, Transcript};
use p3_field::{Field, PrimeCharacteristicRing};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    #[error("looked-up row {row} is not in the table")]
    NotInTable { row: usize },
    #[error("lookup shape: {0}")]
    Shape(String),
    #[error("fraction sum is not zero: the lookup does not hold")]
    NonZeroSum,
    #[error("a denominator is zero")]
    ZeroDenominator,
    #[error("GKR layer {layer}: {source}")]
    Layer { layer: usize, source: SumcheckError },
    #[error("GKR layer {layer}: eq evaluation mismatch")]
    EqMismatch { layer: usize },
    #[error("leaf claims are inconsistent with the claimed column, table and multiplicity evaluations")]
    LeafMismatch,
    #[error("proof has {got} layers, expected {expected}")]
    LayerCount { expected: usize, got: usize },
}

/// The prover's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogUpProof {
    /// Top fractions `(p_0, q_0, p_1, q_1)` of the lookup tree.
    pub top: [EF; 4],
    /// Top fractions of the table tree.
    pub table_top: [EF; 4],
    /// One sumcheck per layer below the top of the lookup tree, top-down.
    pub layers: Vec<SumcheckProof>,
    /// The same for the table tree.
    pub table_layers: Vec<SumcheckProof>,
    /// Claimed evaluations of the looked-up columns at [`LookupClaims::lookup_point`].
    pub column_evals: Vec<EF>,
    /// Claimed evaluations of the table columns at [`LookupClaims::table_point`].
    pub table_evals: Vec<EF>,
    /// Claimed evaluation of the multiplicities at the table point.
    pub multiplicity_eval: EF,
}

/// What a verified lookup leaves to check.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupClaims {
    pub lookup_point: Vec<EF>,
    pub column_evals: Vec<EF>,
    pub table_point: Vec<EF>,
    pub table_evals: Vec<EF>,
    pub multiplicity_eval: EF,
}

/// Counts how often each table row is looked up.
pub fn multiplicities(columns: &[&[F]], table: &[&[F]]) -> Result<Vec<F>, LookupError> {
    shape(columns, table)?;
    let t = table[0].len();
    let mut index: HashMap<Vec<F>, usize> = HashMap::with_capacity(t);
    for j in (0..t).rev() {
        index.insert(table.iter().map(|c| c[j]).collect(), j);
    }
    let mut counts = vec![0u64; t];
    let mut row = Vec::with_capacity(columns.len());
    for i in 0..columns[0].len() {
        row.clear();
        row.extend(columns.iter().map(|c| c[i]));
        let j = *index.get(&row).ok_or(LookupError::NotInTable { row: i })?;
        counts[j] += 1;
    }
    Ok(counts.into_iter().map(F::from_u64).collect())
}

/// `(log2 N, log2 T)` after checking shapes.
fn shape(columns: &[&[F]], table: &[&[F]]) -> Result<(usize, usize), LookupError> {
    let bad = |m: &str| Err(LookupError::Shape(m.into()));
    if columns.is_empty() || columns.len() != table.len() {
        return bad("need as many looked-up columns as table columns, at least one");
    }
    let (n, t) = (columns[0].len(), table[0].len());
    if !n.is_power_of_two() || !t.is_power_of_two() {
        return bad("lookup and table lengths must be powers of two");
    }
    if columns.iter().any(|c| c.len() != n) || table.iter().any(|c| c.len() != t) {
        return bad("columns differ in length");
    }
    Ok((n.trailing_zeros() as usize, t.trailing_zeros() as usize))
}

/// `Σ_c γ^c x_c` for a row given by `col(c)`.
fn combine(gamma: EF, cols: usize, col: impl Fn(usize) -> EF) -> EF {
    let mut acc = EF::ZERO;
    for c in (0..cols).rev() {
        acc = acc * gamma + col(c);
    }
    acc
}

fn challenges<T: Transcript>(t: &mut T, n: usize, tb: usize, cols: usize) -> (EF, EF) {
    t.label(b"logup-gkr");
    t.absorb_base(&[F::from_u64(n as u64), F::from_u64(tb as u64), F::from_u64(cols as u64)]);
    let gamma = t.challenge_ext();
    let alpha = t.challenge_ext();
    (alpha, gamma)
}

/// Proves the lookup of `columns` into `table` with the given
/// multiplicities. The caller must have bound columns and multiplicities in
/// the transcript. A false statement (wrong multiplicities, a row outside the
/// table) produces a proof the verifier rejects.
pub fn prove<T: Transcript>(
    columns: &[&[F]],
    table: &[&[F]],
    mult: &[F],
    t: &mut T,
) -> Result<(LogUpProof, LookupClaims), LookupError> {
    let (n, tb) = shape(columns, table)?;
    if mult.len() != table[0].len() {
        return Err(LookupError::Shape("one multiplicity per table row".into()));
    }
    let (alpha, gamma) = challenges(t, n, tb, columns.len());
    let (ka, kb) = (n.max(1), tb.max(1));
    // Tree A: the lookups, `1/(α − a_i)`; tree B: the table, `−m_j/(α − t_j)`.
    // A one-leaf tree gets a `0/1` second leaf.
    let leaves = |k: usize, rows: usize, cols: &[&[F]], num: &(dyn Fn(usize) -> EF + Sync)| {
        let mut p = vec![EF::ZERO; 1 << k];
        let mut q = vec![EF::ONE; 1 << k];
        p[..rows].par_iter_mut().zip(q[..rows].par_iter_mut()).enumerate().for_each(|(i, (pi, qi))| {
            *pi = num(i);
            *qi = alpha - combine(gamma, cols.len(), |c| EF::from(cols[c][i]));
        });
        fraction_layers(p, q)
    };
    let mut tree_a = leaves(ka, columns[0].len(), columns, &|_| EF::ONE);
    let mut tree_b = leaves(kb, table[0].len(), table, &|j| -EF::from(mult[j]));
    let top = tree_top(&mut tree_a);
    let table_top = tree_top(&mut tree_b);
    t.absorb_ext(&top);
    t.absorb_ext(&table_top);
    let (layers, point_a) = prove_tree(tree_a, &top, t);
    let (table_layers, point_b) = prove_tree(tree_b, &table_top, t);
    // A one-leaf tree's leaf point has one padding variable in front.
    let lookup_point = point_a[ka - n..].to_vec();
    let table_point = point_b[kb - tb..].to_vec();
    let column_evals: Vec<EF> = columns.iter().map(|c| crate::mle::evaluate(c, &lookup_point)).collect();
    let table_evals: Vec<EF> = table.iter().map(|c| crate::mle::evaluate(c, &table_point)).collect();
    let multiplicity_eval = crate::mle::evaluate(mult, &table_point);
    t.absorb_ext(&column_evals);
    t.absorb_ext(&table_evals);
    t.absorb_ext(&[multiplicity_eval]);
    let proof = LogUpProof {
        top,
        table_top,
        layers,
        table_layers,
        column_evals: column_evals.clone(),
        table_evals: table_evals.clone(),
        multiplicity_eval,
    };
    Ok((proof, LookupClaims { lookup_point, column_evals, table_point, table_evals, multiplicity_eval }))
}

/// The layers of a fraction tree, leaves first, down to two fractions.
fn fraction_layers(p: Vec<EF>, q: Vec<EF>) -> Vec<(Vec<EF>, Vec<EF>)> {
    let mut layers = vec![(p, q)];
    while layers.last().map(|l| l.0.len()).unwrap_or(0) > 2 {
        let (p, q) = layers.last().expect("non-empty");
        let h = p.len() / 2;
        let np: Vec<EF> = (0..h).into_par_iter().map(|i| p[i] * q[h + i] + p[h + i] * q[i]).collect();
        let nq: Vec<EF> = (0..h).into_par_iter().map(|i| q[i] * q[h + i]).collect();
        layers.push((np, nq));
    }
    layers
}

/// Removes the top layer (two fractions): `(p_0, q_0, p_1, q_1)`.
fn tree_top(layers: &mut Vec<(Vec<EF>, Vec<EF>)>) -> [EF; 4] {
    let (tp, tq) = layers.pop().expect("a tree has a top");
    [tp[0], tq[0], tp[1], tq[1]]
}

/// GKR down one tree from its top: one layer sumcheck per remaining layer
/// (consumed top-down, each folded in place); returns the proofs and the
/// leaf point.
fn prove_tree<T: Transcript>(
    mut layers: Vec<(Vec<EF>, Vec<EF>)>,
    top: &[EF; 4],
    t: &mut T,
) -> (Vec<SumcheckProof>, Vec<EF>) {
    let rho = t.challenge_ext();
    let mut point = vec![rho];
    let mut claim_p = (EF::ONE - rho) * top[0] + rho * top[2];
    let mut claim_q = (EF::ONE - rho) * top[1] + rho * top[3];
    let mut proofs = Vec::new();
    while let Some((p, q)) = layers.pop() {
        let lambda = t.challenge_ext();
        let claim = claim_p + lambda * claim_q;
        let (proof, out) = prove_layer(p, q, &point, lambda, claim, t);
        let rho = t.challenge_ext();
        let [_, pl, pr, ql, qr] = <[EF; 5]>::try_from(out.evals).expect("five tables");
        claim_p = (EF::ONE - rho) * pl + rho * pr;
        claim_q = (EF::ONE - rho) * ql + rho * qr;
        point = std::iter::once(rho).chain(out.point).collect();
        proofs.push(proof);
    }
    (proofs, point)
}

/// Prover of one GKR layer: the sumcheck of
/// `Σ_x eq(r, x)·h(x)`, `h = p_L q_R + p_R q_L + λ q_L q_R`, producing exactly
/// what the generic prover would for [`layer_terms`] (so the generic
/// verifier checks it), but faster: in round `k` the round polynomial is
/// `g(X) = eq(r_k, X)·H(X)` with `H(X) = Σ_{x'} eq(r_{>k}, x')·h(X, x')` of
/// degree 2, so only `H(0), H(1), H(2)` are summed (Gruen's factoring of the
/// eq polynomial) and the eq table is never folded.
fn prove_layer<T: Transcript>(
    mut p: Vec<EF>,
    mut q: Vec<EF>,
    r: &[EF],
    lambda: EF,
    claim: EF,
    t: &mut T,
) -> (SumcheckProof, Claims) {
    let h = p.len() / 2;
    let m = r.len();
    sumcheck::start(t, m, 3, claim);
    // p = [p_L | p_R], q = [q_L | q_R]; each quarter table is folded in
    // place inside its half (its live length is `len`), so nothing is copied.
    let (pl, pr) = p.split_at_mut(h);
    let (ql, qr) = q.split_at_mut(h);
    let mut len = h;
    // eq(r_{>k}, ·) for the current round; summing out the first variable
    // gives the next round's table (eq(r_k, 0) + eq(r_k, 1) = 1).
    let mut eq_rest = eq_table(&r[1.min(m)..]);
    let mut rounds = Vec::with_capacity(m);
    let mut point = Vec::with_capacity(m);
    // Π_{j<k} eq(r_j, c_j): the part of eq(r, ·) already fixed.
    let mut scale = EF::ONE;
    let mut running = claim;
    for &rk in r {
        let half = len / 2;
        let one = EF::ONE;
        // H(1) follows from g(0) + g(1) = running claim unless r_k = 0.
        let derive_h1 = rk != EF::ZERO && scale != EF::ZERO;
        // Σ over a range of x' of eq_rest(x')·h(X, x') at X = 0, 1, 2.
        let sum_range = |range: std::ops::Range<usize>| -> [EF; 3] {
            let mut acc = [EF::ZERO; 3];
            for x in range {
                let e = eq_rest[x];
                let (a0, a1) = (pl[x], pl[half + x]);
                let (b0, b1) = (pr[x], pr[half + x]);
                let (c0, c1) = (ql[x], ql[half + x]);
                let (d0, d1) = (qr[x], qr[half + x]);
                let h = |a: EF, b: EF, c: EF, d: EF| {
                    let cd = c * d;
                    a * d + b * c + lambda * cd
                };
                acc[0] += e * h(a0, b0, c0, d0);
                if !derive_h1 {
                    acc[1] += e * h(a1, b1, c1, d1);
                }
                let two = |lo: EF, hi: EF| hi.double() - lo;
                acc[2] += e * h(two(a0, a1), two(b0, b1), two(c0, c1), two(d0, d1));
            }
            acc
        };
        let add = |a: [EF; 3], b: [EF; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
        const CHUNK: usize = 1 << 12;
        let mut hs = if half >= 2 * CHUNK {
            (0..half.div_ceil(CHUNK))
                .into_par_iter()
                .map(|c| sum_range(c * CHUNK..((c + 1) * CHUNK).min(half)))
                .reduce(|| [EF::ZERO; 3], add)
        } else {
            sum_range(0..half)
        };
        if derive_h1 {
            hs[1] = (running * scale.inverse() - (one - rk) * hs[0]) * rk.inverse();
        }
        let h3 = hs[0] - (hs[1] - hs[2]) * EF::from(F::from_u64(3));
        let g0 = scale * (one - rk) * hs[0];
        let g1 = scale * rk * hs[1];
        let g2 = scale * (rk * EF::from(F::from_u64(3)) - one) * hs[2];
        let g3 = scale * (rk * EF::from(F::from_u64(5)) - EF::from(F::from_u64(2))) * h3;
        let msg = vec![g0, g2, g3];
        t.absorb_ext(&msg);
        let c = t.challenge_ext();
        running = sumcheck::interpolate(&[g0, g1, g2, g3], c);
        scale *= rk * c + (one - rk) * (one - c);
        for v in [&mut *pl, &mut *pr, &mut *ql, &mut *qr] {
            fold_prefix(v, len, c);
        }
        len = half;
        if eq_rest.len() > 1 {
            let e = eq_rest.len() / 2;
            let (lo, hi) = eq_rest.split_at_mut(e);
            lo.iter_mut().zip(hi.iter()).for_each(|(a, &b)| *a += b);
            eq_rest.truncate(e);
        }
        rounds.push(msg);
        point.push(c);
    }
    let evals = vec![eq_eval(r, &point), pl[0], pr[0], ql[0], qr[0]];
    t.absorb_ext(&evals);
    (SumcheckProof { rounds, evals: evals.clone() }, Claims { point, evals })
}

/// Fixes the first variable of the table `v[..len]` to `c`, in place (the
/// result occupies `v[..len/2]`).
fn fold_prefix(v: &mut [EF], len: usize, c: EF) {
    let (lo, hi) = v[..len].split_at_mut(len / 2);
    let f = |(l, &h): (&mut EF, &EF)| *l += c * (h - *l);
    if len >= 1 << 13 {
        lo.par_iter_mut().zip(hi.par_iter()).for_each(f);
    } else {
        lo.iter_mut().zip(hi.iter()).for_each(f);
    }
}

/// `eq·p_L·q_R + eq·p_R·q_L + λ·eq·q_L·q_R` over tables `[eq, p_L, p_R, q_L, q_R]`.
fn layer_terms(lambda: EF) -> [Term; 3] {
    [
        Term { coeff: EF::ONE, factors: vec![0, 1, 4] },
        Term { coeff: EF::ONE, factors: vec![0, 2, 3] },
        Term { coeff: lambda, factors: vec![0, 3, 4] },
    ]
}

/// GKR down one tree of `2^k` leaves from its top (layer numbers in errors
/// start at `first`): the leaf point and the claimed leaf values `(p̃, q̃)`.
fn verify_tree<T: Transcript>(
    top: &[EF; 4],
    layers: &[SumcheckProof],
    k: usize,
    first: usize,
    t: &mut T,
) -> Result<(Vec<EF>, EF, EF), LookupError> {
    if layers.len() != k - 1 {
        return Err(LookupError::LayerCount { expected: k - 1, got: layers.len() });
    }
    let rho = t.challenge_ext();
    let mut point = vec![rho];
    let mut claim_p = (EF::ONE - rho) * top[0] + rho * top[2];
    let mut claim_q = (EF::ONE - rho) * top[1] + rho * top[3];
    for (i, lp) in layers.iter().enumerate() {
        let layer = first + i;
        let lambda = t.challenge_ext();
        let claim = claim_p + lambda * claim_q;
        let out = sumcheck::verify(point.len(), 5, &layer_terms(lambda), claim, lp, t)
            .map_err(|source| LookupError::Layer { layer, source })?;
        if out.evals[0] != eq_eval(&point, &out.point) {
            return Err(LookupError::EqMismatch { layer });
        }
        let rho = t.challenge_ext();
        claim_p = (EF::ONE - rho) * out.evals[1] + rho * out.evals[2];
        claim_q = (EF::ONE - rho) * out.evals[3] + rho * out.evals[4];
        point = std::iter::once(rho).chain(out.point).collect();
    }
    Ok((point, claim_p, claim_q))
}

/// Verifies a lookup of `2^log_n` rows of `cols` columns into a table of
/// `2^log_t` rows; returns the claims the caller must check.
pub fn verify<T: Transcript>(
    log_n: usize,
    log_t: usize,
    cols: usize,
    proof: &LogUpProof,
    t: &mut T,
) -> Result<LookupClaims, LookupError> {
    if proof.column_evals.len() != cols || proof.table_evals.len() != cols || cols == 0 {
        return Err(LookupError::Shape("wrong number of claimed column evaluations".into()));
    }
    let (alpha, gamma) = challenges(t, log_n, log_t, cols);
    let (ka, kb) = (log_n.max(1), log_t.max(1));
    let [p0, q0, p1, q1] = proof.top;
    let [pt0, qt0, pt1, qt1] = proof.table_top;
    let (qa, qb) = (q0 * q1, qt0 * qt1);
    if qa * qb == EF::ZERO {
        return Err(LookupError::ZeroDenominator);
    }
    // p0/q0 + p1/q1 + pt0/qt0 + pt1/qt1 = 0.
    if (p0 * q1 + p1 * q0) * qb + (pt0 * qt1 + pt1 * qt0) * qa != EF::ZERO {
        return Err(LookupError::NonZeroSum);
    }
    t.absorb_ext(&proof.top);
    t.absorb_ext(&proof.table_top);
    let (point_a, pa, qa) = verify_tree(&proof.top, &proof.layers, ka, 0, t)?;
    let (point_b, pb, qb) = verify_tree(&proof.table_top, &proof.table_layers, kb, ka - 1, t)?;
    // Recompute the leaf claims from the claimed evaluations; a one-leaf
    // tree's real leaf is the one at r_0 = 0.
    let z =
        |point: &[EF], k: usize, bits: usize| point[..k - bits].iter().map(|&x| EF::ONE - x).product::<EF>();
    let (za, zb) = (z(&point_a, ka, log_n), z(&point_b, kb, log_t));
    let a = combine(gamma, cols, |c| proof.column_evals[c]);
    let tv = combine(gamma, cols, |c| proof.table_evals[c]);
    if pa != za
        || qa != za * (alpha - a) + (EF::ONE - za)
        || pb != -zb * proof.multiplicity_eval
        || qb != zb * (alpha - tv) + (EF::ONE - zb)
    {
        return Err(LookupError::LeafMismatch);
    }
    t.absorb_ext(&proof.column_evals);
    t.absorb_ext(&proof.table_evals);
    t.absorb_ext(&[proof.multiplicity_eval]);
    Ok(LookupClaims {
        lookup_point: point_a[ka - log_n..].to_vec(),
        column_evals: proof.column_evals.clone(),
        table_point: point_b[kb - log_t..].to_vec(),
        table_evals: proof.table_evals.clone(),
        multiplicity_eval: proof.multiplicity_eval,
    })
}
