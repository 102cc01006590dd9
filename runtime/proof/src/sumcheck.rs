//! Sumcheck for sums of products of multilinear polynomials.
//!
//! **Statement.** Tables `f_0 … f_{m-1}` (multilinear in `n` variables) and
//! terms `(c_t, S_t)`; the claim is
//! `C = Σ_{x ∈ {0,1}^n} Σ_t c_t · Π_{j ∈ S_t} f_j(x)`. Degree `d = max |S_t|`.
//!
//! **Protocol.** In round `k` the prover sends the univariate
//! `g_k(X) = Σ_{x'} Σ_t c_t Π_j f_j(r_0,…,r_{k-1}, X, x')` as its values at
//! `X = 0, 2, 3, …, d` (the value at 1 is implied: `g_k(0) + g_k(1)` must equal
//! the running claim). The verifier absorbs them, draws `r_k ∈ EF`, and the
//! running claim becomes `g_k(r_k)`. After `n` rounds the prover sends
//! `f_j(r)` for every table, and the verifier checks
//! `Σ_t c_t Π_{j∈S_t} f_j(r)` against the last running claim. Those `f_j(r)`
//! are *claims* handed to the caller (a PCS opening or the previous layer):
//! sumcheck alone proves nothing about them.
//!
//! **Soundness.** By Schwartz–Zippel each round errs with probability at most
//! `d / |EF|`, so a false claim survives with probability at most
//! `n·d / |EF| ≈ n·d · 2^-128`, plus the soundness of whatever checks the
//! final claims.
//!
//! **Batching.** Several statements over the same `n` are combined with
//! powers of a random `α` (drawn after all claims are absorbed) into one
//! statement; see [`batch`]. Several evaluation claims on one polynomial
//! become one with [`reduce_claims`].

use crate::mle::{eq_eval, eq_table, fix_first, fix_first_in_place};
use crate::{EF, F, Transcript};
use p3_field::{Algebra, Field, PrimeCharacteristicRing};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One term `c · Π_{j ∈ factors} f_j`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub coeff: EF,
    pub factors: Vec<usize>,
}

/// A table of evaluations, base field until the first challenge is folded in.
#[derive(Debug, Clone)]
pub enum Table {
    Base(Vec<F>),
    Ext(Vec<EF>),
}

impl Table {
    pub fn len(&self) -> usize {
        match self {
            Table::Base(v) => v.len(),
            Table::Ext(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn to_ext(&self) -> Vec<EF> {
        match self {
            Table::Base(v) => v.iter().map(|&x| EF::from(x)).collect(),
            Table::Ext(v) => v.clone(),
        }
    }
    fn fold(&mut self, r: EF) {
        match self {
            Table::Base(v) => *self = Table::Ext(fix_first(v, r)),
            Table::Ext(v) => fix_first_in_place(v, r),
        }
    }
}

/// The prover's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SumcheckProof {
    /// Per round, `g_k` at `0, 2, 3, …, d`.
    pub rounds: Vec<Vec<EF>>,
    /// `f_j(r)` for every table.
    pub evals: Vec<EF>,
}

/// What a successful sumcheck leaves to check: `f_j(point) = evals[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub point: Vec<EF>,
    pub evals: Vec<EF>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SumcheckError {
    #[error("sumcheck has {got} rounds, expected {expected}")]
    RoundCount { expected: usize, got: usize },
    #[error("round {round} polynomial has {got} values, expected {expected}")]
    RoundLength { round: usize, expected: usize, got: usize },
    #[error("sumcheck final check failed: terms give {actual}, last round claims {expected}")]
    FinalCheck { expected: EF, actual: EF },
    #[error("sumcheck gives {got} final evaluations for {expected} tables")]
    EvalCount { expected: usize, got: usize },
    #[error("claim reduction: the verifier's eq evaluation disagrees with the prover's")]
    EqMismatch,
    #[error("malformed statement: {0}")]
    Statement(String),
}

/// `d = max |S_t|` (at least 1).
pub fn degree(terms: &[Term]) -> usize {
    terms.iter().map(|t| t.factors.len()).max().unwrap_or(1).max(1)
}

/// `p(r)` for the polynomial with values `evals[i] = p(i)`, `i = 0..=d`.
pub fn interpolate(evals: &[EF], r: EF) -> EF {
    let d = evals.len();
    let mut acc = EF::ZERO;
    for (i, &v) in evals.iter().enumerate() {
        let (mut num, mut den) = (EF::ONE, F::ONE);
        for j in 0..d {
            if j != i {
                num *= r - EF::from(F::from_u64(j as u64));
                den *= F::from_u64(i as u64) - F::from_u64(j as u64);
            }
        }
        acc += v * num * den.inverse();
    }
    acc
}

/// Opens a sumcheck in the transcript (shared with specialised provers that
/// produce proofs for the generic verifier).
pub(crate) fn start<T: Transcript>(t: &mut T, n: usize, d: usize, claim: EF) {
    t.label(b"sumcheck");
    t.absorb_base(&[F::from_u64(n as u64), F::from_u64(d as u64)]);
    t.absorb_ext(&[claim]);
}

/// `g(X)` at `X = 0, 2, …, d` for the current first variable (the entry
/// for `X = 1` is left zero: the caller derives it from the running claim).
fn round_values<T>(tables: &[&[T]], terms: &[Term], d: usize) -> Vec<EF>
where
    T: Field,
    EF: Algebra<T>,
{
    let half = tables[0].len() / 2;
    round_values_with(half, tables.len(), |j, x| (tables[j][x], tables[j][half + x]), terms, d)
}

/// [`round_values`] over a mix of base and extension tables: base entries
/// are read in place and lifted one at a time.
fn round_values_mixed(tables: &[Table], terms: &[Term], d: usize) -> Vec<EF> {
    let half = tables[0].len() / 2;
    let get = |j: usize, x: usize| match &tables[j] {
        Table::Base(v) => (EF::from(v[x]), EF::from(v[half + x])),
        Table::Ext(v) => (v[x], v[half + x]),
    };
    round_values_with(half, tables.len(), get, terms, d)
}

/// The round polynomial's values from `get(j, x) = (f_j(0, x), f_j(1, x))`.
fn round_values_with<T, G>(half: usize, n: usize, get: G, terms: &[Term], d: usize) -> Vec<EF>
where
    T: Field,
    EF: Algebra<T>,
    G: Fn(usize, usize) -> (T, T) + Sync,
{
    let width = terms.len() * (d + 1);
    // Per term and point, Σ_x' Π_j f_j(X, x') in T; coefficients applied last.
    let chunk = |range: std::ops::Range<usize>| {
        let mut acc = vec![T::ZERO; width];
        let mut vals = vec![T::ZERO; n * (d + 1)];
        for x in range {
            for j in 0..n {
                let (lo, hi) = get(j, x);
                let step = hi - lo;
                let mut v = lo;
                for p in 0..=d {
                    vals[j * (d + 1) + p] = v;
                    v += step;
                }
            }
            for (ti, term) in terms.iter().enumerate() {
                // g(1) is implied by the running claim: not summed.
                for p in (0..=d).filter(|&p| p != 1) {
                    let mut prod = T::ONE;
                    for &j in &term.factors {
                        prod *= vals[j * (d + 1) + p];
                    }
                    acc[ti * (d + 1) + p] += prod;
                }
            }
        }
        acc
    };
    const CHUNK: usize = 1 << 11;
    let sums: Vec<T> = if half >= 2 * CHUNK {
        (0..half.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| chunk(c * CHUNK..((c + 1) * CHUNK).min(half)))
            .reduce(|| vec![T::ZERO; width], |a, b| a.iter().zip(&b).map(|(&x, &y)| x + y).collect())
    } else {
        chunk(0..half)
    };
    (0..=d)
        .map(|p| terms.iter().enumerate().map(|(ti, term)| term.coeff * sums[ti * (d + 1) + p]).sum())
        .collect()
}

fn check_statement(tables: &[Table], terms: &[Term]) -> Result<usize, SumcheckError> {
    let len = tables.first().map(|t| t.len()).ok_or_else(|| SumcheckError::Statement("no tables".into()))?;
    if !len.is_power_of_two() || tables.iter().any(|t| t.len() != len) {
        return Err(SumcheckError::Statement("tables must share one power-of-two length".into()));
    }
    check_terms(tables.len(), terms)?;
    Ok(len.trailing_zeros() as usize)
}

/// Every factor names a table, and every table is used: an unused table's
/// final evaluation would be a claim the sumcheck does not constrain.
fn check_terms(num_tables: usize, terms: &[Term]) -> Result<(), SumcheckError> {
    let mut used = vec![false; num_tables];
    for &j in terms.iter().flat_map(|t| &t.factors) {
        *used.get_mut(j).ok_or_else(|| SumcheckError::Statement("a term names a missing table".into()))? =
            true;
    }
    if used.contains(&false) {
        return Err(SumcheckError::Statement("a table is used by no term".into()));
    }
    Ok(())
}

/// Proves `claim = Σ_x Σ_t c_t Π f_j(x)`. The caller is responsible for the
/// claim being true; a false one yields a proof the verifier rejects.
pub fn prove<T: Transcript>(
    mut tables: Vec<Table>,
    terms: &[Term],
    claim: EF,
    t: &mut T,
) -> Result<(SumcheckProof, Claims), SumcheckError> {
    let n = check_statement(&tables, terms)?;
    let d = degree(terms);
    start(t, n, d, claim);
    let mut rounds = Vec::with_capacity(n);
    let mut point = Vec::with_capacity(n);
    let mut running = claim;
    for _ in 0..n {
        let values = if tables.iter().all(|t| matches!(t, Table::Base(_))) {
            let refs: Vec<&[F]> = tables
                .iter()
                .map(|t| if let Table::Base(v) = t { v.as_slice() } else { unreachable!() })
                .collect();
            round_values(&refs, terms, d)
        } else if tables.iter().all(|t| matches!(t, Table::Ext(_))) {
            let refs: Vec<&[EF]> = tables
                .iter()
                .map(|t| if let Table::Ext(v) = t { v.as_slice() } else { unreachable!() })
                .collect();
            round_values(&refs, terms, d)
        } else {
            // Mixed: base tables are read as they are (no full-size copy
            // into the extension field); the fold below makes them extension
            // tables of half the size.
            round_values_mixed(&tables, terms, d)
        };
        let mut values = values;
        values[1] = running - values[0];
        let msg: Vec<EF> = values.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, &v)| v).collect();
        t.absorb_ext(&msg);
        let r = t.challenge_ext();
        running = interpolate(&values, r);
        for tab in tables.iter_mut() {
            tab.fold(r);
        }
        rounds.push(msg);
        point.push(r);
    }
    let evals: Vec<EF> = tables.iter().map(|tab| tab.to_ext()[0]).collect();
    t.absorb_ext(&evals);
    Ok((SumcheckProof { rounds, evals: evals.clone() }, Claims { point, evals }))
}

/// Verifies a sumcheck proof for `num_vars` variables and the given terms
/// (over `num_tables` tables) against `claim`; returns the evaluation claims
/// the caller must still check.
pub fn verify<T: Transcript>(
    num_vars: usize,
    num_tables: usize,
    terms: &[Term],
    claim: EF,
    proof: &SumcheckProof,
    t: &mut T,
) -> Result<Claims, SumcheckError> {
    check_terms(num_tables, terms)?;
    let d = degree(terms);
    start(t, num_vars, d, claim);
    if proof.rounds.len() != num_vars {
        return Err(SumcheckError::RoundCount { expected: num_vars, got: proof.rounds.len() });
    }
    let mut running = claim;
    let mut point = Vec::with_capacity(num_vars);
    for (round, msg) in proof.rounds.iter().enumerate() {
        if msg.len() != d {
            return Err(SumcheckError::RoundLength { round, expected: d, got: msg.len() });
        }
        // g(0) + g(1) = running claim fixes g(1).
        let mut values = Vec::with_capacity(d + 1);
        values.push(msg[0]);
        values.push(running - msg[0]);
        values.extend_from_slice(&msg[1..]);
        t.absorb_ext(msg);
        let r = t.challenge_ext();
        running = interpolate(&values, r);
        point.push(r);
    }
    if proof.evals.len() != num_tables {
        return Err(SumcheckError::EvalCount { expected: num_tables, got: proof.evals.len() });
    }
    let actual: EF = terms
        .iter()
        .map(|term| term.coeff * term.factors.iter().map(|&j| proof.evals[j]).product::<EF>())
        .sum();
    if actual != running {
        return Err(SumcheckError::FinalCheck { expected: running, actual });
    }
    t.absorb_ext(&proof.evals);
    Ok(Claims { point, evals: proof.evals.clone() })
}

/// Combines statements `(tables_i, terms_i, claim_i)` (same number of
/// variables) into one: tables are concatenated, term `t` of statement `i`
/// gets coefficient `α^i c_t`, the claim is `Σ α^i claim_i`. `α` is drawn
/// after every claim is absorbed. Returns the combined terms and claim and,
/// for each statement, the offset of its tables. Verifier and prover call it
/// alike (the verifier with its table counts).
pub fn batch<T: Transcript>(statements: &[(usize, Vec<Term>, EF)], t: &mut T) -> (Vec<Term>, EF, Vec<usize>) {
    t.label(b"sumcheck-batch");
    t.absorb_ext(&statements.iter().map(|s| s.2).collect::<Vec<_>>());
    let alpha = t.challenge_ext();
    let (mut terms, mut claim, mut offsets) = (Vec::new(), EF::ZERO, Vec::new());
    let (mut offset, mut pow) = (0, EF::ONE);
    for (count, ts, c) in statements {
        offsets.push(offset);
        for term in ts {
            terms.push(Term {
                coeff: pow * term.coeff,
                factors: term.factors.iter().map(|&j| j + offset).collect(),
            });
        }
        claim += pow * *c;
        offset += count;
        pow *= alpha;
    }
    (terms, claim, offsets)
}

/// Proves that `f(z_i) = v_i` for several points by reducing them to one
/// claim `f(r) = evals[0]`: with a random `β`, the sumcheck of
/// `Σ_x f(x) · Σ_i β^i eq(z_i, x) = Σ_i β^i v_i`.
pub fn reduce_claims_prove<T: Transcript>(
    f: &[F],
    claims: &[(Vec<EF>, EF)],
    t: &mut T,
) -> Result<(SumcheckProof, Claims), SumcheckError> {
    let (beta, target) = reduction_start(claims, t);
    let mut g = vec![EF::ZERO; f.len()];
    let mut pow = EF::ONE;
    for (z, _) in claims {
        if 1usize << z.len() != f.len() {
            return Err(SumcheckError::Statement("claim point has the wrong number of variables".into()));
        }
        let eq = eq_table(z);
        g.par_iter_mut().zip(eq.par_iter()).for_each(|(a, &e)| *a += pow * e);
        pow *= beta;
    }
    let terms = [Term { coeff: EF::ONE, factors: vec![0, 1] }];
    prove(vec![Table::Base(f.to_vec()), Table::Ext(g)], &terms, target, t)
}

/// Verifier of [`reduce_claims_prove`]: returns the single claim on `f`.
pub fn reduce_claims_verify<T: Transcript>(
    num_vars: usize,
    claims: &[(Vec<EF>, EF)],
    proof: &SumcheckProof,
    t: &mut T,
) -> Result<(Vec<EF>, EF), SumcheckError> {
    if claims.iter().any(|(z, _)| z.len() != num_vars) {
        return Err(SumcheckError::Statement("claim point has the wrong number of variables".into()));
    }
    let (beta, target) = reduction_start(claims, t);
    let terms = [Term { coeff: EF::ONE, factors: vec![0, 1] }];
    let out = verify(num_vars, 2, &terms, target, proof, t)?;
    let mut pow = EF::ONE;
    let mut g_r = EF::ZERO;
    for (z, _) in claims {
        g_r += pow * eq_eval(z, &out.point);
        pow *= beta;
    }
    if g_r != out.evals[1] {
        return Err(SumcheckError::EqMismatch);
    }
    Ok((out.point, out.evals[0]))
}

fn reduction_start<T: Transcript>(claims: &[(Vec<EF>, EF)], t: &mut T) -> (EF, EF) {
    t.label(b"claim-reduction");
    for (z, v) in claims {
        t.absorb_ext(z);
        t.absorb_ext(&[*v]);
    }
    let beta = t.challenge_ext();
    let (mut target, mut pow) = (EF::ZERO, EF::ONE);
    for (_, v) in claims {
        target += pow * *v;
        pow *= beta;
    }
    (beta, target)
}
