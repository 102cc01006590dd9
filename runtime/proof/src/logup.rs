//! logUp-GKR lookups (Papini–Haböck, "Improving logarithmic derivative
//! lookups using GKR", 2023).
//!
//! **Statement.** Looked-up rows `a_i = (a_{0,i}, …, a_{c-1,i})`, `i < N`, all
//! appear among table rows `t_j`, `j < T`, with multiplicities `m_j`. With a
//! column-separation challenge `γ` (rows become `Σ_c γ^c a_{c,i}`) and one
//! or two independent pole challenges `α_k` ([`poles`]), this holds (w.h.p.)
//! iff, for every `k`,
//!
//! ```text
//! Σ_i 1 / (α_k − a_i)  −  Σ_j m_j / (α_k − t_j)  =  0.
//! ```
//!
//! **Fraction trees.** Leaves are fractions `p/q`, in two trees: tree A
//! holds the `N` lookups (`1 / (α_k − a_i)`), tree B the table
//! (`−m_j / (α_k − t_j)`); a tree of one leaf gets a second, `0/1`. Each tree
//! carries one fraction per pole at every node. Each layer adds pairs
//! `(x0 = 0, x) + (x0 = 1, x)`: `p' = p_L q_R + p_R q_L`, `q' = q_L q_R`. The
//! prover sends each tree's top two fractions per pole; the verifier checks,
//! per pole, that the four add up to `0/q` with `q ≠ 0`. Two trees
//! rather than one over `(side, x)` with both sides padded to
//! `max(N, T)`: with `N ≫ T` (range checks, small tables) that padding
//! doubled the prover's work.
//!
//! **GKR.** Claims `(p̃'_k, q̃'_k)(r) = (v_{p,k}, v_{q,k})` on a layer (one pair
//! per pole) reduce to claims on the layer below by one degree-3 sumcheck of
//! `Σ_x eq(r, x)·Σ_k λ^{2k}·[p_L q_R + p_R q_L + λ q_L q_R]_k(x)
//! = Σ_k λ^{2k}·(v_{p,k} + λ v_{q,k})`, after which
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
//! **Soundness.** If some looked-up row is not a table row, `γ` keeps it
//! apart from every table row except with probability `T·(c−1)/|EF|`
//! (each difference is a nonzero polynomial of degree `c−1` in `γ`). Then
//! `R(X) = Σ_i 1/(X − a_i) − Σ_j m_j/(X − t_j)` is a nonzero rational
//! function with at most `D ≤ N + T` distinct poles, whose numerator (after
//! clearing denominators) has degree below `D`: one pole challenge is a
//! root with probability below `(N + T)/|EF|`, about `2^-97` at
//! `N + T = 2^31` and `|EF| ≈ 2^128` (Haböck, "Multivariate lookups based
//! on logarithmic derivatives", 2022, Lemma 5). An instance whose volume
//! `N + c·T` (which bounds both terms together) is at most
//! `2^`[`ONE_POLE_MAX_LOG_VOLUME`]` = 2^27` uses one pole: at most
//! `2^-101`. A larger one uses two independent poles drawn after the
//! statement is fixed, and both must be roots:
//! `((N + T)/|EF|)^2 + T·(c−1)/|EF|`, below `2^-110` for any `N + T < p`
//! and the tables the protocol builds (`T ≤ 2^16` rows, `c ≤ 3`). The count is a function of the shape, so
//! prover and verifier agree on it without a flag. Each GKR layer adds a
//! sumcheck error of `3·vars/|EF|`, the `ρ` step `1/|EF|`, and the
//! batching over poles by `λ` (a polynomial of degree `2·poles − 1` in it)
//! `3/|EF|`. A second pole costs the prover one more fraction per node
//! above the leaves (the layer sumchecks are shared, and the leaf layer is
//! stored once: see [`Leaves`]) rather than a degree-4 extension's
//! three-fold arithmetic for every fraction.
//! `α_k, γ` must be drawn after the columns and multiplicities are bound in
//! the transcript (by commitment), which is the caller's duty.

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

/// Independent pole challenges `α_k`: the fraction identity must hold at
/// each (see the module docs for why two).
pub const MAX_POLES: usize = 2;

/// `log2` of the largest lookup volume `N + c·T` proven with one pole: its
/// fraction term is at most `2^27/2^128 = 2^-101`. Larger instances use
/// [`MAX_POLES`].
pub const ONE_POLE_MAX_LOG_VOLUME: u32 = 27;

/// The number of poles for `2^log_n` lookups of `cols` columns into `2^log_t`
/// rows, a function of the shape alone (prover and verifier agree on it).
pub fn poles(log_n: usize, log_t: usize, cols: usize) -> usize {
    let volume = (1u128 << log_n.min(64)) + (cols as u128) * (1u128 << log_t.min(64));
    if volume <= 1u128 << ONE_POLE_MAX_LOG_VOLUME { 1 } else { MAX_POLES }
}

/// The prover's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogUpProof {
    /// Top fractions `(p_0, q_0, p_1, q_1)` of the lookup tree, per pole.
    pub top: Vec<[EF; 4]>,
    /// Top fractions of the table tree, per pole.
    pub table_top: Vec<[EF; 4]>,
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

fn challenges<T: Transcript>(t: &mut T, n: usize, tb: usize, cols: usize, poles: usize) -> (Vec<EF>, EF) {
    t.label(b"logup-gkr");
    t.absorb_base(&[F::from_u64(n as u64), F::from_u64(tb as u64), F::from_u64(cols as u64)]);
    let gamma = t.challenge_ext();
    let alphas = (0..poles).map(|_| t.challenge_ext()).collect();
    (alphas, gamma)
}

/// One layer of a fraction tree: numerators and denominators per pole.
type Layer = Vec<(Vec<EF>, Vec<EF>)>;

/// The batching weights of pole `k` in a layer claim: `(λ^{2k}, λ^{2k+1})`.
fn pole_weights(lambda: EF, poles: usize) -> Vec<(EF, EF)> {
    let mut w = EF::ONE;
    (0..poles)
        .map(|_| {
            let c = w;
            w *= lambda * lambda;
            (c, c * lambda)
        })
        .collect()
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
    prove_with_poles(columns, table, mult, poles(n, tb, columns.len()), t)
}

/// [`prove`] with a given number of poles (`1..=MAX_POLES`), for tests of
/// the path large instances take.
pub fn prove_with_poles<T: Transcript>(
    columns: &[&[F]],
    table: &[&[F]],
    mult: &[F],
    poles: usize,
    t: &mut T,
) -> Result<(LogUpProof, LookupClaims), LookupError> {
    let (n, tb) = shape(columns, table)?;
    if mult.len() != table[0].len() {
        return Err(LookupError::Shape("one multiplicity per table row".into()));
    }
    if !(1..=MAX_POLES).contains(&poles) {
        return Err(LookupError::Shape(format!("{poles} poles; 1 to {MAX_POLES} are supported")));
    }
    let (alphas, gamma) = challenges(t, n, tb, columns.len(), poles);
    let (ka, kb) = (n.max(1), tb.max(1));
    // Tree A: the lookups, `1/(α_k − a_i)`; tree B: the table,
    // `−m_j/(α_k − t_j)`. A one-leaf tree gets a `0/1` second leaf.
    // Tree A: the lookups, `1/(α_k − a_i)`; tree B: the table,
    // `−m_j/(α_k − t_j)`.
    let denominators = |rows: usize, cols: &[&[F]]| -> Vec<EF> {
        (0..rows)
            .into_par_iter()
            .map(|i| alphas[0] - combine(gamma, cols.len(), |c| EF::from(cols[c][i])))
            .collect()
    };
    let tree_a = Tree::new(ka, None, denominators(columns[0].len(), columns), &alphas);
    let numerators: Vec<EF> = mult.par_iter().map(|&m| -EF::from(m)).collect();
    let tree_b = Tree::new(kb, Some(numerators), denominators(table[0].len(), table), &alphas);
    let (top, table_top) = (tree_a.top.clone(), tree_b.top.clone());
    t.absorb_ext(top.as_flattened());
    t.absorb_ext(table_top.as_flattened());
    let (layers, point_a) = tree_a.prove(t);
    let (table_layers, point_b) = tree_b.prove(t);
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

/// The layers of a fraction tree above `first`, bottom-up, down to two
/// fractions per pole.
fn fraction_layers(first: Layer) -> Vec<Layer> {
    let mut layers = vec![first];
    while layers.last().map(|l| l[0].0.len()).unwrap_or(0) > 2 {
        let last = layers.last().expect("non-empty");
        let next: Layer = last
            .iter()
            .map(|(p, q)| {
                let h = p.len() / 2;
                let np: Vec<EF> = (0..h).into_par_iter().map(|i| p[i] * q[h + i] + p[h + i] * q[i]).collect();
                let nq: Vec<EF> = (0..h).into_par_iter().map(|i| q[i] * q[h + i]).collect();
                (np, nq)
            })
            .collect();
        layers.push(next);
    }
    layers
}

/// The leaf layer of a tree of at least four leaves, stored once for all
/// poles: the numerators are the same at every pole (`None`: all ones) and
/// pole `k`'s denominators are `q_i + δ_k`, `δ_k = α_k − α_0`. Folding is
/// affine with weights summing to one, so both relations survive every
/// round of the leaf layer's sumcheck, which therefore folds two tables
/// (one for a lookup tree) instead of `4·POLES`.
struct Leaves {
    p: Option<Vec<EF>>,
    q: Vec<EF>,
    deltas: Vec<EF>,
}

/// A fraction tree: its top (two fractions per pole), the layers between
/// (bottom-up) and, with four leaves or more, the leaf layer.
struct Tree {
    top: Vec<[EF; 4]>,
    upper: Vec<Layer>,
    leaves: Option<Leaves>,
}

impl Tree {
    /// The tree over `2^k` leaves with numerators `p` (`None`: ones) and
    /// pole-0 denominators `q` (`α_0 − row`), one per row; rows beyond
    /// `q.len()` are `0/1` padding, which only a one-row tree has.
    fn new(k: usize, p: Option<Vec<EF>>, q: Vec<EF>, alphas: &[EF]) -> Self {
        let deltas: Vec<EF> = alphas.iter().map(|&a| a - alphas[0]).collect();
        let num = |i: usize| p.as_ref().map_or(EF::ONE, |p| p[i]);
        if k == 1 {
            let leaf = |i: usize, j: usize| {
                if i < q.len() { (num(i), q[i] + deltas[j]) } else { (EF::ZERO, EF::ONE) }
            };
            let top = (0..alphas.len())
                .map(|j| {
                    let ((p0, q0), (p1, q1)) = (leaf(0, j), leaf(1, j));
                    [p0, q0, p1, q1]
                })
                .collect();
            return Tree { top, upper: Vec::new(), leaves: None };
        }
        debug_assert_eq!(q.len(), 1 << k, "only a one-row tree is padded");
        let h = q.len() / 2;
        let first: Layer = deltas
            .iter()
            .map(|&d| {
                (0..h)
                    .into_par_iter()
                    .map(|i| {
                        let (ql, qr) = (q[i] + d, q[h + i] + d);
                        let np = match &p {
                            None => ql + qr,
                            Some(p) => p[i] * qr + p[h + i] * ql,
                        };
                        (np, ql * qr)
                    })
                    .unzip()
            })
            .collect();
        let mut upper = fraction_layers(first);
        let last = upper.pop().expect("a tree has a top");
        let top = last.iter().map(|(tp, tq)| [tp[0], tq[0], tp[1], tq[1]]).collect();
        Tree { top, upper, leaves: Some(Leaves { p, q, deltas }) }
    }

    /// GKR down the tree from its top: one layer sumcheck per layer below
    /// it (consumed top-down, each folded in place); returns the proofs and
    /// the leaf point.
    fn prove<T: Transcript>(self, t: &mut T) -> (Vec<SumcheckProof>, Vec<EF>) {
        let Tree { top, mut upper, leaves } = self;
        let rho = t.challenge_ext();
        let mut point = vec![rho];
        let mut claims = top_claims(&top, rho);
        let mut proofs = Vec::new();
        let mut leaves = leaves;
        while !upper.is_empty() || leaves.is_some() {
            let lambda = t.challenge_ext();
            let claim = batched_claim(&claims, lambda);
            let (proof, out) = match upper.pop() {
                Some(layer) => prove_layer(layer, &point, lambda, claim, t),
                None => prove_leaf_layer(leaves.take().expect("checked"), &point, lambda, claim, t),
            };
            let rho = t.challenge_ext();
            claims = next_claims(&out.evals, rho);
            point = std::iter::once(rho).chain(out.point).collect();
            proofs.push(proof);
        }
        (proofs, point)
    }
}

/// The claims on the layer below a tree's top, at the point `(ρ)`.
fn top_claims(top: &[[EF; 4]], rho: EF) -> Vec<(EF, EF)> {
    top.iter()
        .map(|&[p0, q0, p1, q1]| ((EF::ONE - rho) * p0 + rho * p1, (EF::ONE - rho) * q0 + rho * q1))
        .collect()
}

/// `Σ_k λ^{2k}·(v_{p,k} + λ·v_{q,k})`.
fn batched_claim(claims: &[(EF, EF)], lambda: EF) -> EF {
    claims.iter().zip(pole_weights(lambda, claims.len())).map(|(&(p, q), (c, d))| c * p + d * q).sum()
}

/// The claims on the next layer from a layer sumcheck's final evaluations
/// `[eq, (p_L, p_R, q_L, q_R) per pole]`, at the new variable `ρ`.
fn next_claims(evals: &[EF], rho: EF) -> Vec<(EF, EF)> {
    evals[1..]
        .chunks_exact(4)
        .map(|e| ((EF::ONE - rho) * e[0] + rho * e[1], (EF::ONE - rho) * e[2] + rho * e[3]))
        .collect()
}

/// The rounds of a layer sumcheck `Σ_x eq(r, x)·h(x) = claim` with `h` of
/// degree 2 in each variable, by Gruen's factoring of the eq polynomial: in
/// round `j` the round polynomial is `g(X) = eq(r_j, X)·H(X)` with
/// `H(X) = Σ_{x'} eq(r_{>j}, x')·h(X, x')` of degree 2, so only `H(0)`,
/// `H(2)` (and `H(1)` when `r_j = 0`) are summed, by `sums(half, eq_rest,
/// need_h1)`, and the eq table is never folded. `fold(len, c)` fixes the
/// first variable of every table to `c`. The messages are exactly what
/// the generic prover sends for the same polynomial, so the generic
/// verifier checks them.
fn gruen_rounds<T: Transcript>(
    r: &[EF],
    claim: EF,
    t: &mut T,
    sums: impl Fn(usize, &[EF], bool) -> [EF; 3],
    mut fold: impl FnMut(usize, EF),
) -> (Vec<Vec<EF>>, Vec<EF>) {
    let m = r.len();
    sumcheck::start(t, m, 3, claim);
    let mut len = 1usize << m;
    // eq(r_{>j}, ·) for the current round; summing out the first variable
    // gives the next round's table (eq(r_j, 0) + eq(r_j, 1) = 1).
    let mut eq_rest = eq_table(&r[1.min(m)..]);
    let mut rounds = Vec::with_capacity(m);
    let mut point = Vec::with_capacity(m);
    // Π_{i<j} eq(r_i, c_i): the part of eq(r, ·) already fixed.
    let mut scale = EF::ONE;
    let mut running = claim;
    let [one, two, three, five] = [1u64, 2, 3, 5].map(|v| EF::from(F::from_u64(v)));
    for &rk in r {
        // H(1) follows from g(0) + g(1) = running claim unless r_j = 0.
        let derive_h1 = rk != EF::ZERO && scale != EF::ZERO;
        let mut hs = sums(len / 2, &eq_rest, !derive_h1);
        if derive_h1 {
            hs[1] = (running * scale.inverse() - (one - rk) * hs[0]) * rk.inverse();
        }
        let h3 = hs[0] - (hs[1] - hs[2]) * three;
        let g0 = scale * (one - rk) * hs[0];
        let g1 = scale * rk * hs[1];
        let g2 = scale * (rk * three - one) * hs[2];
        let g3 = scale * (rk * five - two) * h3;
        let msg = vec![g0, g2, g3];
        t.absorb_ext(&msg);
        let c = t.challenge_ext();
        running = sumcheck::interpolate(&[g0, g1, g2, g3], c);
        scale *= rk * c + (one - rk) * (one - c);
        fold(len, c);
        len /= 2;
        if eq_rest.len() > 1 {
            let e = eq_rest.len() / 2;
            let (lo, hi) = eq_rest.split_at_mut(e);
            lo.iter_mut().zip(hi.iter()).for_each(|(a, &b)| *a += b);
            eq_rest.truncate(e);
        }
        rounds.push(msg);
        point.push(c);
    }
    (rounds, point)
}

/// `Σ_{x < half}` of `K` running sums that `f(x, acc)` adds to, in
/// parallel chunks when large.
fn sums_over<const K: usize>(half: usize, f: impl Fn(usize, &mut [EF; K]) + Sync) -> [EF; K] {
    const CHUNK: usize = 1 << 12;
    let range = |lo: usize, hi: usize| {
        let mut acc = [EF::ZERO; K];
        (lo..hi).for_each(|x| f(x, &mut acc));
        acc
    };
    if half >= 2 * CHUNK {
        (0..half.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| range(c * CHUNK, ((c + 1) * CHUNK).min(half)))
            .reduce(|| [EF::ZERO; K], |a, b| std::array::from_fn(|i| a[i] + b[i]))
    } else {
        range(0, half)
    }
}

/// Prover of one GKR layer above the leaves: the sumcheck of
/// `Σ_x eq(r, x)·h(x)`, `h = Σ_k λ^{2k}·(p_L q_R + p_R q_L + λ q_L q_R)_k`
/// (the polynomial of [`layer_terms`]).
fn prove_layer<T: Transcript>(
    mut layer: Layer,
    r: &[EF],
    lambda: EF,
    claim: EF,
    t: &mut T,
) -> (SumcheckProof, Claims) {
    let h = layer[0].0.len() / 2;
    let weights = pole_weights(lambda, layer.len());
    // Per pole `[p_L, p_R, q_L, q_R]`, views of the halves of `p` and `q`;
    // each is folded in place (its live length is `len`), so nothing is
    // copied.
    let parts = std::cell::RefCell::new(
        layer
            .iter_mut()
            .map(|(p, q)| {
                let (pl, pr) = p.split_at_mut(h);
                let (ql, qr) = q.split_at_mut(h);
                [pl, pr, ql, qr]
            })
            .collect::<Vec<_>>(),
    );
    let sums = |half: usize, eq_rest: &[EF], need_h1: bool| {
        let views = parts.borrow();
        let views = &*views;
        sums_over(half, |x, acc: &mut [EF; 3]| {
            let mut hx = [EF::ZERO; 3];
            for ([pl, pr, ql, qr], &(wp, wq)) in views.iter().zip(weights.iter()) {
                let (a0, a1) = (pl[x], pl[half + x]);
                let (b0, b1) = (pr[x], pr[half + x]);
                let (c0, c1) = (ql[x], ql[half + x]);
                let (d0, d1) = (qr[x], qr[half + x]);
                let f = |a: EF, b: EF, c: EF, d: EF| wp * (a * d + b * c) + wq * (c * d);
                hx[0] += f(a0, b0, c0, d0);
                if need_h1 {
                    hx[1] += f(a1, b1, c1, d1);
                }
                let two = |lo: EF, hi: EF| hi.double() - lo;
                hx[2] += f(two(a0, a1), two(b0, b1), two(c0, c1), two(d0, d1));
            }
            let e = eq_rest[x];
            acc[0] += e * hx[0];
            acc[1] += e * hx[1];
            acc[2] += e * hx[2];
        })
    };
    let fold = |len: usize, c: EF| {
        for v in parts.borrow_mut().iter_mut().flat_map(|views| views.iter_mut()) {
            fold_prefix(v, len, c);
        }
    };
    let (rounds, point) = gruen_rounds(r, claim, t, sums, fold);
    let mut evals = vec![eq_eval(r, &point)];
    evals.extend(parts.borrow().iter().flat_map(|views| views.iter().map(|v| v[0])));
    t.absorb_ext(&evals);
    (SumcheckProof { rounds, evals: evals.clone() }, Claims { point, evals })
}

/// Prover of a tree's leaf layer, the same polynomial as [`prove_layer`]
/// on the shared leaves of [`Leaves`]. With `A, B` the numerators' halves,
/// `C, D` the pole-0 denominators' halves and `δ_k` the pole offsets,
///
/// ```text
/// h = (AD + BC)·Σ w_p + (A + B)·Σ w_p δ + CD·Σ w_q + (C + D)·Σ w_q δ + Σ w_q δ²
/// ```
///
/// (sums over poles `k`, weights `(w_p, w_q) = (λ^{2k}, λ^{2k+1})`): five
/// running sums per point, whatever the number of poles.
fn prove_leaf_layer<T: Transcript>(
    leaves: Leaves,
    r: &[EF],
    lambda: EF,
    claim: EF,
    t: &mut T,
) -> (SumcheckProof, Claims) {
    let Leaves { mut p, mut q, deltas } = leaves;
    let h = q.len() / 2;
    let weights = pole_weights(lambda, deltas.len());
    let (mut s_wp, mut s_wpd, mut s_wq, mut s_wqd, mut s_wqdd) =
        (EF::ZERO, EF::ZERO, EF::ZERO, EF::ZERO, EF::ZERO);
    for (&(wp, wq), &d) in weights.iter().zip(deltas.iter()) {
        s_wp += wp;
        s_wpd += wp * d;
        s_wq += wq;
        s_wqd += wq * d;
        s_wqdd += wq * d * d;
    }
    let tables = std::cell::RefCell::new((p.as_mut().map(|p| p.split_at_mut(h)), q.split_at_mut(h)));
    let sums = |half: usize, eq_rest: &[EF], need_h1: bool| {
        let guard = tables.borrow();
        let (pv, (ql, qr)) = &*guard;
        let two = |lo: EF, hi: EF| hi.double() - lo;
        // Per point X ∈ {0, 1, 2}: Σ e·(AD + BC), Σ e·(A + B), Σ e·CD,
        // Σ e·(C + D), Σ e, at offsets 5·X.
        let totals: [EF; 15] = match pv {
            None => sums_over(half, |x, acc: &mut [EF; 15]| {
                let e = eq_rest[x];
                let (c0, c1, d0, d1) = (ql[x], ql[half + x], qr[x], qr[half + x]);
                let mut add = |o: usize, c: EF, d: EF| {
                    let ecd = e * (c + d);
                    acc[o] += ecd;
                    acc[o + 2] += e * (c * d);
                    acc[o + 3] += ecd;
                    acc[o + 4] += e;
                };
                add(0, c0, d0);
                if need_h1 {
                    add(5, c1, d1);
                }
                add(10, two(c0, c1), two(d0, d1));
            }),
            Some((pl, pr)) => sums_over(half, |x, acc: &mut [EF; 15]| {
                let e = eq_rest[x];
                let (a0, a1, b0, b1) = (pl[x], pl[half + x], pr[x], pr[half + x]);
                let (c0, c1, d0, d1) = (ql[x], ql[half + x], qr[x], qr[half + x]);
                let mut add = |o: usize, a: EF, b: EF, c: EF, d: EF| {
                    acc[o] += e * (a * d + b * c);
                    acc[o + 1] += e * (a + b);
                    acc[o + 2] += e * (c * d);
                    acc[o + 3] += e * (c + d);
                    acc[o + 4] += e;
                };
                add(0, a0, b0, c0, d0);
                if need_h1 {
                    add(5, a1, b1, c1, d1);
                }
                add(10, two(a0, a1), two(b0, b1), two(c0, c1), two(d0, d1));
            }),
        };
        std::array::from_fn(|xp| {
            let s = &totals[5 * xp..5 * xp + 5];
            // Numerators of ones: A + B = 2 at every point.
            let s1 = if pv.is_none() { s[4].double() } else { s[1] };
            s[0] * s_wp + s1 * s_wpd + s[2] * s_wq + s[3] * s_wqd + s[4] * s_wqdd
        })
    };
    let fold = |len: usize, c: EF| {
        let mut guard = tables.borrow_mut();
        let (pv, (ql, qr)) = &mut *guard;
        if let Some((pl, pr)) = pv {
            fold_prefix(pl, len, c);
            fold_prefix(pr, len, c);
        }
        fold_prefix(ql, len, c);
        fold_prefix(qr, len, c);
    };
    let (rounds, point) = gruen_rounds(r, claim, t, sums, fold);
    let (pv, (ql, qr)) = tables.into_inner();
    let (a, b) = pv.map_or((EF::ONE, EF::ONE), |(pl, pr)| (pl[0], pr[0]));
    let mut evals = vec![eq_eval(r, &point)];
    for d in deltas {
        evals.extend([a, b, ql[0] + d, qr[0] + d]);
    }
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

/// `Σ_k λ^{2k}·(eq·p_L·q_R + eq·p_R·q_L + λ·eq·q_L·q_R)_k` over tables
/// `[eq, (p_L, p_R, q_L, q_R) per pole]`.
fn layer_terms(lambda: EF, poles: usize) -> Vec<Term> {
    pole_weights(lambda, poles)
        .into_iter()
        .enumerate()
        .flat_map(|(k, (wp, wq))| {
            let [pl, pr, ql, qr] = [1 + 4 * k, 2 + 4 * k, 3 + 4 * k, 4 + 4 * k];
            [
                Term { coeff: wp, factors: vec![0, pl, qr] },
                Term { coeff: wp, factors: vec![0, pr, ql] },
                Term { coeff: wq, factors: vec![0, ql, qr] },
            ]
        })
        .collect()
}

/// A claimed fraction `p̃ / q̃` as its numerator and denominator.
type Fraction = (EF, EF);

/// GKR down one tree of `2^k` leaves from its top (layer numbers in errors
/// start at `first`): the leaf point and the claimed leaf values `(p̃, q̃)`
/// per pole.
fn verify_tree<T: Transcript>(
    top: &[[EF; 4]],
    layers: &[SumcheckProof],
    k: usize,
    first: usize,
    t: &mut T,
) -> Result<(Vec<EF>, Vec<Fraction>), LookupError> {
    if layers.len() != k - 1 {
        return Err(LookupError::LayerCount { expected: k - 1, got: layers.len() });
    }
    let rho = t.challenge_ext();
    let mut point = vec![rho];
    let mut claims = top_claims(top, rho);
    for (i, lp) in layers.iter().enumerate() {
        let layer = first + i;
        let lambda = t.challenge_ext();
        let claim = batched_claim(&claims, lambda);
        let out =
            sumcheck::verify(point.len(), 1 + 4 * top.len(), &layer_terms(lambda, top.len()), claim, lp, t)
                .map_err(|source| LookupError::Layer { layer, source })?;
        if out.evals[0] != eq_eval(&point, &out.point) {
            return Err(LookupError::EqMismatch { layer });
        }
        let rho = t.challenge_ext();
        claims = next_claims(&out.evals, rho);
        point = std::iter::once(rho).chain(out.point).collect();
    }
    Ok((point, claims))
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
    verify_with_poles(log_n, log_t, cols, poles(log_n, log_t, cols), proof, t)
}

/// [`verify`] with a given number of poles (as [`prove_with_poles`]).
pub fn verify_with_poles<T: Transcript>(
    log_n: usize,
    log_t: usize,
    cols: usize,
    poles: usize,
    proof: &LogUpProof,
    t: &mut T,
) -> Result<LookupClaims, LookupError> {
    if proof.column_evals.len() != cols || proof.table_evals.len() != cols || cols == 0 {
        return Err(LookupError::Shape("wrong number of claimed column evaluations".into()));
    }
    if !(1..=MAX_POLES).contains(&poles) || proof.top.len() != poles || proof.table_top.len() != poles {
        return Err(LookupError::Shape(format!("expected the tops of {poles} poles")));
    }
    let (alphas, gamma) = challenges(t, log_n, log_t, cols, poles);
    let (ka, kb) = (log_n.max(1), log_t.max(1));
    for (top, table_top) in proof.top.iter().zip(proof.table_top.iter()) {
        let [p0, q0, p1, q1] = *top;
        let [pt0, qt0, pt1, qt1] = *table_top;
        let (qa, qb) = (q0 * q1, qt0 * qt1);
        if qa * qb == EF::ZERO {
            return Err(LookupError::ZeroDenominator);
        }
        // p0/q0 + p1/q1 + pt0/qt0 + pt1/qt1 = 0.
        if (p0 * q1 + p1 * q0) * qb + (pt0 * qt1 + pt1 * qt0) * qa != EF::ZERO {
            return Err(LookupError::NonZeroSum);
        }
    }
    t.absorb_ext(proof.top.as_flattened());
    t.absorb_ext(proof.table_top.as_flattened());
    let (point_a, leaf_a) = verify_tree(&proof.top, &proof.layers, ka, 0, t)?;
    let (point_b, leaf_b) = verify_tree(&proof.table_top, &proof.table_layers, kb, ka - 1, t)?;
    // Recompute the leaf claims from the claimed evaluations; a one-leaf
    // tree's real leaf is the one at r_0 = 0.
    let z =
        |point: &[EF], k: usize, bits: usize| point[..k - bits].iter().map(|&x| EF::ONE - x).product::<EF>();
    let (za, zb) = (z(&point_a, ka, log_n), z(&point_b, kb, log_t));
    let a = combine(gamma, cols, |c| proof.column_evals[c]);
    let tv = combine(gamma, cols, |c| proof.table_evals[c]);
    for ((&alpha, &(pa, qa)), &(pb, qb)) in alphas.iter().zip(leaf_a.iter()).zip(leaf_b.iter()) {
        if pa != za
            || qa != za * (alpha - a) + (EF::ONE - za)
            || pb != -zb * proof.multiplicity_eval
            || qb != zb * (alpha - tv) + (EF::ONE - zb)
        {
            return Err(LookupError::LeafMismatch);
        }
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
