//! Lookups with the requantization folded in.
//!
//! A quantized lookup computes `z = T[clamp(y)]` with
//! `y = ⌊(x·mult + h) / 2^s⌋`. The prover commits `y`'s witness columns
//! (see [`crate::columns`]) and the relation is proven in three parts:
//!
//! 1. **requantization**: `x·mult + h·real = 2^s·y + rem` as polynomials,
//!    with `rem ∈ [0, 2^s)` by range checks. Both sides are below
//!    `2^62 < p/2` in absolute value (the IR bounds `x·mult`), so the field
//!    identity is the integer one, and `y` is exactly the rounded quotient.
//!    The identity is used *backwards*: at a random point `ρ` the claim
//!    `x(ρ) = mult⁻¹ (2^s y(ρ) + rem(ρ) − h·real(ρ))` is handed to `x`'s
//!    producer, which proves it against the true `x`;
//! 2. **table** (`z = T[y]`, `|y| ≤ m`): one logUp-GKR argument per
//!    distinct table, over the concatenation of every lookup into it
//!    (padding and gaps hold table row 0); the verifier evaluates the table
//!    columns itself (`i − m` succinctly, `T` in `O(2^b)`);
//! 3. **plain requantization** (identity table, up to 32 bits): no table;
//!    `y + m` and `m − y` are range-checked and `y` is never committed: a
//!    claim `z(r) = e` is checked as `lo(r) − m·real(r) = e` and
//!    `hi(r) = m·real(r) − e`, then becomes the claim on `x` at `r`.
//!
//! 4. **floating-point domain** (`rsqrt`, `reciprocal` of wide non-negative
//!    inputs): the row of `x` is its (mantissa, exponent) pair. The prover
//!    commits `m`, `p = 2^e`, `z`, and `r = x − m·p`, `u = p − 1 − r` in
//!    chunks; `(m, p, z)` is looked up in the table
//!    `{(mantissa_i, 2^{e_i}, T[i])}` (which fixes `m`'s range for each
//!    exponent) and `r, u ≥ 0` give `0 ≤ r < p`, so the row is `x`'s. The
//!    product `m·p` needs one degree-3 sumcheck per node to turn
//!    `x(ρ) = Σ_y eq(ρ, y)(m p + r)(y)` into openings. Requires
//!    `mantissa + max_exp ≤ 62`, so no field wraparound.
//!
//! 5. **ReLU** at its domain's scale (`z = max(y, 0)`, the quantizer's
//!    choice for ReLU): `y = pos − neg` with `pos, neg ∈ [0, 2^(b−1))`
//!    range-checked and the zerocheck `Σ_x eq(τ, x)·pos(x)·neg(x) = 0`,
//!    so one of the two is zero everywhere and `pos = max(y, 0)`. A claim
//!    `z(r) = e` is checked as `pos(r) = e` and gives `y(r) = e − neg(r)`,
//!    then the claim on `x` as for a plain requantization. No table: a
//!    16-bit ReLU table costs as much as a million weights.
//!
//! All range checks of a partition share one logUp-GKR argument into the
//! table `[0, 2^c)` (`c` from [`crate::columns::ColumnPlan::new`]).

use crate::columns::{Chunks, ColumnPlan, NodeCols, requant_params, shape_of, witness_ints};
use crate::layout::{Layout, index_eval};
use crate::ops::Kind;
use crate::packing::Claim;
use crate::side::Side;
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use p3_field::{Field, PrimeCharacteristicRing};
use zkml_ir::ops::lookup::{Domain, LookupQuant};
use zkml_ir::{Tensor, ValueId};
use zkml_proof::field::embed_i64;
use zkml_proof::mle::{eq_eval, eq_table, evaluate};
use zkml_proof::sumcheck::{Table, Term};
use zkml_proof::{EF, F, Transcript};

/// `x(ρ) = mult⁻¹ (2^s y + rem − h·real)`.
fn input_claim(q: &LookupQuant, y: EF, rem: EF, real: EF) -> EF {
    let (mult, s, h, _) = requant_params(q);
    let inv = F::from_u64(mult as u64).inverse();
    (y * EF::from_u64(1u64 << s) + rem - EF::from_u64(h as u64) * real) * inv
}

/// The looked-up columns of a table node: `[y, z]` or `[m, p, z]`.
fn looked_up(cols: &ColumnPlan, id: usize) -> Result<Vec<usize>> {
    match cols.nodes.get(&id) {
        Some(NodeCols::Table { y, z, .. }) => Ok(vec![*y, *z]),
        Some(NodeCols::LogTable { m, p, z, .. }) => Ok(vec![*m, *p, *z]),
        _ => Err(Error::Internal(format!("node {id} has no table columns"))),
    }
}

/// Requantization columns opened beside the looked-up ones: remainder
/// chunks, then overflow chunks (up, down) when the node saturates.
fn rem_cols(cols: &ColumnPlan, id: usize) -> (Vec<usize>, usize, usize) {
    match cols.nodes.get(&id) {
        Some(NodeCols::Table { rem, sat, .. }) => {
            let mut v = rem.cols.clone();
            let k = sat.as_ref().map_or(0, |s| s.up.cols.len());
            if let Some(s) = sat {
                v.extend(&s.up.cols);
                v.extend(&s.down.cols);
            }
            (v, rem.cols.len(), k)
        }
        _ => (vec![], 0, 0),
    }
}

/// `y_true = y + up − down` and the remainder, from `[rem…, up…, down…]`.
fn split_requant(cols: &ColumnPlan, ev: &[EF], nr: usize, ns: usize) -> (EF, EF) {
    let rem = cols.combine(&ev[..nr]);
    let over = if ns > 0 {
        cols.combine(&ev[nr..nr + ns]) - cols.combine(&ev[nr + ns..nr + 2 * ns])
    } else {
        EF::ZERO
    };
    (over, rem)
}

pub(crate) fn argue_tables<S: Side>(s: &mut S) -> Result<()> {
    for ti in 0..s.cols().tables.len() {
        let tp = s.cols().tables[ti].clone();
        let tcols = ColumnPlan::table_columns(&tp);
        let pk = &tp.packing;
        let what = format!("lookup into {:?} table", tp.spec.func);
        let claims = s.logup(pk.vars, &tcols, tp.mult, &what, |w| {
            // Every lookup's columns in its slot; padding and gaps hold
            // table row 0.
            let mut cats: Vec<Vec<F>> = tcols.iter().map(|c| vec![c[0]; pk.len()]).collect();
            for (i, &id) in tp.nodes.iter().enumerate() {
                let lk = looked_up(w.cols, id)?;
                let off = pk.slots[i].0;
                for pos in w.cols.layouts[lk[0]].padded_indices() {
                    for (cat, &c) in cats.iter_mut().zip(&lk) {
                        cat[off + pos] = w.col(c)[pos];
                    }
                }
            }
            Ok(cats)
        })?;
        let t = &claims.table_point;
        s.check(
            || {
                let expect: Vec<EF> = match tp.spec.domain {
                    // (i − m), with row 2^b − 1 repeating row 0: succinct.
                    Domain::Linear(_) => {
                        let m = EF::from_u64((tp.spec.rows() / 2) as u64);
                        let top = EF::from_u64((1u64 << tp.bits) - 1);
                        vec![
                            index_eval(t) - m - top * t.iter().copied().product::<EF>(),
                            evaluate(&tcols[1], t),
                        ]
                    }
                    Domain::Log(_) => tcols.iter().map(|c| evaluate(c, t)).collect(),
                };
                claims.table_evals == expect
            },
            || "lookup: table evaluations are wrong".into(),
        )?;
        s.col_claim(tp.mult, t, claims.multiplicity_eval);
        let rho = &claims.lookup_point;
        let mut sums = vec![EF::ZERO; tcols.len()];
        let mut realsum = EF::ZERO;
        for (i, &id) in tp.nodes.iter().enumerate() {
            let lk = looked_up(s.cols(), id)?;
            let (rem, nr, ns) = rem_cols(s.cols(), id);
            let ri = pk.suffix(i, rho).to_vec();
            let opened: Vec<usize> = lk.iter().chain(&rem).copied().collect();
            let ev = s.open_at(&opened, &ri, "a lookup's columns")?;
            let w = pk.slot_weight(i, rho);
            let real = s.cols().layouts[lk[0]].real_eval(&ri);
            for (sum, &e) in sums.iter_mut().zip(&ev) {
                *sum += w * e;
            }
            realsum += w * real;
            let x = s.vk().nodes[id].inputs[0];
            match crate::ops::classify(s.vk(), id)? {
                Kind::Table(q) => {
                    let (over, r) = split_requant(s.cols(), &ev[2..], nr, ns);
                    s.claim(x, Claim { value: input_claim(&q, ev[0] + over, r, real), point: ri })?;
                }
                _ => argue_log_input(s, id, ri)?,
            }
        }
        let fill = EF::ONE - realsum;
        let want: Vec<EF> = sums.iter().zip(&tcols).map(|(&s, c)| s + EF::from(c[0]) * fill).collect();
        s.check(
            || claims.column_evals == want,
            || "lookup: looked-up columns disagree with the committed ones".into(),
        )?;
    }
    Ok(())
}

fn log_cols(cols: &ColumnPlan, id: usize) -> Result<(usize, usize, Chunks, Chunks)> {
    match cols.nodes.get(&id) {
        Some(NodeCols::LogTable { m, p, r, u, .. }) => Ok((*m, *p, r.clone(), u.clone())),
        _ => Err(Error::Internal(format!("node {id} has no floating-point lookup columns"))),
    }
}

/// `eq·m·p + eq·r` over tables `[eq, m, p, r]`.
fn log_terms() -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }, Term { coeff: EF::ONE, factors: vec![0, 3] }]
}

/// Floating-point domain: the claim `x(ρ) = v` is proven as
/// `v = Σ_y eq(ρ, y)·(m(y)·p(y) + r(y))` (degree 3), ending in openings of
/// `m`, `p` and the chunks of `r` and `u = p − 1 − r` at the sumcheck point
/// `s`, where the verifier checks `u(s) = p(s) − real(s) − r(s)`.
fn argue_log_input<S: Side>(s: &mut S, id: usize, rho: Vec<EF>) -> Result<()> {
    let (m, pc, r, u) = log_cols(s.cols(), id)?;
    let x = s.vk().nodes[id].inputs[0];
    let value =
        s.message(1, "a floating-point lookup's input", |w| Ok(vec![evaluate(&w.padded(x)?, &rho)]))?[0];
    let vars = s.layout(x).vars();
    let what = format!("floating-point lookup at node {id}");
    let out = s.sumcheck(vars, 4, &log_terms(), value, &what, |w| {
        let rt = w.cols.chunk_table(&r, w.col_data, w.col(m).len());
        Ok(vec![
            Table::Ext(eq_table(&rho)),
            Table::Base(w.col(m).to_vec()),
            Table::Base(w.col(pc).to_vec()),
            Table::Base(rt),
        ])
    })?;
    s.col_claim(m, &out.point, out.evals[1]);
    s.col_claim(pc, &out.point, out.evals[2]);
    let opened: Vec<usize> = r.cols.iter().chain(&u.cols).copied().collect();
    let ev = s.open_at(&opened, &out.point, "floating-point remainders")?;
    let (er, eu) = ev.split_at(r.cols.len());
    let real = s.layout(x).real_eval(&out.point);
    s.check(
        || {
            out.evals[0] == eq_eval(&rho, &out.point)
                && out.evals[3] == s.cols().combine(er)
                && s.cols().combine(eu) == out.evals[2] - real - out.evals[3]
        },
        || format!("floating-point lookup at node {id}: decomposition mismatch"),
    )?;
    s.claim(x, Claim { point: rho, value })
}

/// Distinct committed columns of the range entries, in first-use order.
fn range_cols(cols: &ColumnPlan) -> Vec<usize> {
    let mut out: Vec<usize> = vec![];
    for e in &cols.range {
        if out.last() != Some(&e.col) {
            out.push(e.col);
        }
    }
    out
}

pub(crate) fn argue_range<S: Side>(s: &mut S) -> Result<()> {
    let Some(mc) = s.cols().range_mult else { return Ok(()) };
    let rp = s.cols().range_packing.clone();
    let table: Vec<F> = (0..1u64 << s.cols().chunk).map(F::from_u64).collect();
    let claims = s.logup(rp.vars, std::slice::from_ref(&table), mc, "range checks", |w| {
        let mut cat = vec![F::ZERO; rp.len()];
        for (e, &(off, k)) in w.cols.range.iter().zip(&rp.slots) {
            let add = F::from_u64(e.offset);
            for (dst, &src) in cat[off..off + (1 << k)].iter_mut().zip(w.col(e.col)) {
                *dst = src + add;
            }
        }
        Ok(vec![cat])
    })?;
    s.check(
        || claims.table_evals == [index_eval(&claims.table_point)],
        || "range checks: table evaluation is wrong".into(),
    )?;
    s.col_claim(mc, &claims.table_point, claims.multiplicity_eval);
    let rho = &claims.lookup_point;
    let cols = range_cols(s.cols());
    // Each column is opened at the point of its first range entry (a chunk
    // checked twice, with an offset, is one column in two slots).
    let points: Vec<Vec<EF>> = cols
        .iter()
        .map(|&col| {
            let i = s.cols().range.iter().position(|e| e.col == col).unwrap_or(0);
            rp.suffix(i, rho).to_vec()
        })
        .collect();
    let at: Vec<(usize, &[EF])> = cols.iter().zip(&points).map(|(&c, p)| (c, p.as_slice())).collect();
    let ev = s.open(&at, "range-checked columns")?;
    s.check(
        || {
            let mut sum = EF::ZERO;
            for (i, e) in s.cols().range.iter().enumerate() {
                let k = cols.iter().position(|&c| c == e.col).unwrap_or(0);
                sum += rp.slot_weight(i, rho) * (ev[k] + EF::from_u64(e.offset));
            }
            claims.column_evals == [sum]
        },
        || "range checks: looked-up column disagrees with the committed chunks".into(),
    )
}

/// The columns a requantization's output claim opens.
struct ReqCols {
    /// Plain requantization: `lo = y + m`, `hi = m − y`; ReLU: `pos`, `neg`.
    a: Chunks,
    b: Chunks,
    /// The remainder's chunks, then the overflow's (up, down).
    rem: Chunks,
    nr: usize,
    ns: usize,
    relu: bool,
}

fn req_node(cols: &ColumnPlan, id: usize) -> Result<ReqCols> {
    let (a, b, rem, sat, relu) = match cols.nodes.get(&id) {
        Some(NodeCols::Range { lo, hi, rem, sat }) => (lo, hi, rem, sat, false),
        Some(NodeCols::Relu { pos, neg, rem, sat }) => (pos, neg, rem, sat, true),
        _ => return Err(Error::Internal(format!("node {id} has no requantization columns"))),
    };
    let mut all = rem.clone();
    if let Some(s) = sat {
        all.cols.extend(&s.up.cols);
        all.cols.extend(&s.down.cols);
    }
    Ok(ReqCols {
        a: a.clone(),
        b: b.clone(),
        rem: all,
        nr: rem.cols.len(),
        ns: sat.as_ref().map_or(0, |s| s.up.cols.len()),
        relu,
    })
}

impl ReqCols {
    fn opened(&self) -> impl Iterator<Item = &usize> {
        self.a.cols.iter().chain(&self.b.cols).chain(&self.rem.cols)
    }
}

/// A claim `z(r) = e` on a plain requantization or a ReLU: the value's
/// chunks, remainder and overflow are opened at `r`; `y(r)` follows (`e`
/// itself, or `e − neg(r)` for a ReLU) and becomes the claim on `x`.
pub(crate) fn reduce_requant<S: Side>(s: &mut S, id: usize, q: &LookupQuant, c: Claim) -> Result<()> {
    let rc = req_node(s.cols(), id)?;
    let opened: Vec<usize> = rc.opened().copied().collect();
    let ev = s.open_at(&opened, &c.point, "a requantization's chunks")?;
    let x: ValueId = s.vk().nodes[id].inputs[0];
    let real = s.layout(x).real_eval(&c.point);
    let (ea, rest) = ev.split_at(rc.a.cols.len());
    let (eb, er) = rest.split_at(rc.b.cols.len());
    let (a, b) = (s.cols().combine(ea), s.cols().combine(eb));
    let y = if rc.relu {
        // z = pos; y = pos − neg (pos·neg = 0 is the zerocheck's job).
        s.check(
            || a == c.value,
            || format!("ReLU at node {id}: output disagrees with its committed chunks"),
        )?;
        c.value - b
    } else {
        let (_, _, _, m) = requant_params(q);
        let m = EF::from(embed_i64(m)) * real;
        s.check(
            || a - m == c.value && b == m - c.value,
            || format!("requantization at node {id}: value outside its range or inconsistent"),
        )?;
        c.value
    };
    let (over, r) = split_requant(s.cols(), er, rc.nr, rc.ns);
    s.claim(x, Claim { value: input_claim(q, y + over, r, real), point: c.point })
}

/// The ReLU nodes of a partition, increasing.
pub(crate) fn relu_nodes(cols: &ColumnPlan) -> Vec<usize> {
    cols.nodes.iter().filter(|(_, c)| matches!(c, NodeCols::Relu { .. })).map(|(&id, _)| id).collect()
}

fn relu_cols(v: &crate::vk::VerifyingKey, cols: &ColumnPlan, id: usize) -> Result<(Chunks, Chunks, Layout)> {
    match cols.nodes.get(&id) {
        Some(NodeCols::Relu { pos, neg, .. }) => {
            Ok((pos.clone(), neg.clone(), Layout::new(&crate::columns::shape_of(v, v.nodes[id].inputs[0]))))
        }
        _ => Err(Error::Internal(format!("node {id} has no ReLU columns"))),
    }
}

/// `eq·pos·neg` over tables `[eq, pos, neg]`.
fn relu_terms() -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }]
}

/// ReLU complementarity: the zerocheck `Σ_x eq(τ, x)·pos(x)·neg(x) = 0`
/// at a random `τ`. With `pos, neg` range-checked (non-negative, far below
/// `p`), `pos·neg = 0` entrywise says one of them is zero, so
/// `pos = max(pos − neg, 0) = max(y, 0)`.
pub(crate) fn argue_relu<S: Side>(s: &mut S, id: usize) -> Result<()> {
    let (pos, neg, layout) = relu_cols(s.vk(), s.cols(), id)?;
    s.transcript().label(b"relu");
    let tau = s.transcript().challenges_ext(layout.vars());
    let what = format!("ReLU at node {id}");
    let out = s.sumcheck(layout.vars(), 3, &relu_terms(), EF::ZERO, &what, |w| {
        let n = layout.padded_len();
        Ok(vec![
            Table::Ext(eq_table(&tau)),
            Table::Base(w.cols.chunk_table(&pos, w.col_data, n)),
            Table::Base(w.cols.chunk_table(&neg, w.col_data, n)),
        ])
    })?;
    let opened: Vec<usize> = pos.cols.iter().chain(&neg.cols).copied().collect();
    let ev = s.open_at(&opened, &out.point, "ReLU openings")?;
    let (ep, en) = ev.split_at(pos.cols.len());
    s.check(
        || out.evals == [eq_eval(&tau, &out.point), s.cols().combine(ep), s.cols().combine(en)],
        || format!("ReLU at node {id}: openings disagree with the zerocheck"),
    )
}

/// `up·(m·real − y) + λ·down·(m·real + y)` over `[eq, up, A, down, B]`.
fn sat_terms(lambda: EF) -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }, Term { coeff: lambda, factors: vec![0, 3, 4] }]
}

/// How a saturating node represents its clamped value `y`.
enum YCols {
    /// Table nodes: `y` committed.
    Col(usize),
    /// Plain requantization: `lo = y + m`, `hi = m − y`.
    LoHi(Chunks, Chunks),
    /// ReLU: `y = pos − neg`.
    PosNeg(Chunks, Chunks),
}

struct SatCols {
    up: Chunks,
    down: Chunks,
    y: YCols,
    m: i64,
    layout: Layout,
}

impl SatCols {
    /// Columns opened at the zerocheck's point, in message order.
    fn opened(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.up.cols.iter().chain(&self.down.cols).copied().collect();
        match &self.y {
            YCols::Col(y) => out.push(*y),
            YCols::LoHi(a, b) | YCols::PosNeg(a, b) => out.extend(a.cols.iter().chain(&b.cols)),
        }
        out
    }
}

fn sat_cols(v: &crate::vk::VerifyingKey, cols: &ColumnPlan, id: usize) -> Result<SatCols> {
    let q = match crate::ops::classify(v, id)? {
        Kind::Table(q) | Kind::Range(q) | Kind::Relu(q) => q,
        _ => return Err(Error::Internal(format!("node {id} is not a lookup"))),
    };
    let (_, _, _, m) = requant_params(&q);
    let layout = Layout::new(&crate::columns::shape_of(v, v.nodes[id].inputs[0]));
    let (s, y) = match cols.nodes.get(&id) {
        Some(NodeCols::Table { y, sat: Some(s), .. }) => (s, YCols::Col(*y)),
        Some(NodeCols::Range { lo, hi, sat: Some(s), .. }) => (s, YCols::LoHi(lo.clone(), hi.clone())),
        Some(NodeCols::Relu { pos, neg, sat: Some(s), .. }) => (s, YCols::PosNeg(pos.clone(), neg.clone())),
        _ => {
            return Err(Error::Reject(format!("node {id} is marked saturating but has no overflow columns")));
        }
    };
    Ok(SatCols { up: s.up.clone(), down: s.down.clone(), y, m, layout })
}

/// Saturation of node `id`: the zerocheck
/// `Σ_x eq(τ, x)·[up·(m·real − y) + λ·down·(m·real + y)](x) = 0`, which
/// with `up, down ≥ 0` and `|y| ≤ m` says: `y = m` wherever `up > 0` and
/// `y = −m` wherever `down > 0`.
pub(crate) fn argue_saturation<S: Side>(s: &mut S, id: usize) -> Result<()> {
    let sc = sat_cols(s.vk(), s.cols(), id)?;
    s.transcript().label(b"saturation");
    let tau = s.transcript().challenges_ext(sc.layout.vars());
    let lambda = s.transcript().challenge_ext();
    let what = format!("saturation at node {id}");
    let out = s.sumcheck(sc.layout.vars(), 5, &sat_terms(lambda), EF::ZERO, &what, |w| {
        let n = sc.layout.padded_len();
        let chunks = |c: &Chunks| w.cols.chunk_table(c, w.col_data, n);
        let mreal: Vec<F> =
            sc.layout.real_mask().iter().map(|&b| F::from_bool(b) * embed_i64(sc.m)).collect();
        let around = |y: &[F]| -> (Vec<F>, Vec<F>) {
            (
                mreal.iter().zip(y).map(|(&m, &y)| m - y).collect(),
                mreal.iter().zip(y).map(|(&m, &y)| m + y).collect(),
            )
        };
        let (a, b): (Vec<F>, Vec<F>) = match &sc.y {
            YCols::Col(y) => around(w.col(*y)),
            YCols::LoHi(lo, hi) => (chunks(hi), chunks(lo)),
            YCols::PosNeg(pos, neg) => {
                let y: Vec<F> = chunks(pos).into_iter().zip(chunks(neg)).map(|(a, b)| a - b).collect();
                around(&y)
            }
        };
        Ok(vec![
            Table::Ext(eq_table(&tau)),
            Table::Base(chunks(&sc.up)),
            Table::Base(a),
            Table::Base(chunks(&sc.down)),
            Table::Base(b),
        ])
    })?;
    let cols = sc.opened();
    let ev = s.open_at(&cols, &out.point, "saturation openings")?;
    s.check(
        || {
            let c = s.cols();
            let (nu, nd) = (sc.up.cols.len(), sc.down.cols.len());
            let up = c.combine(&ev[..nu]);
            let down = c.combine(&ev[nu..nu + nd]);
            let rest = &ev[nu + nd..];
            let mreal = EF::from(embed_i64(sc.m)) * sc.layout.real_eval(&out.point);
            let (a, b) = match &sc.y {
                YCols::Col(_) => (mreal - rest[0], mreal + rest[0]),
                YCols::LoHi(lo, _) => {
                    let (lo, hi) = rest.split_at(lo.cols.len());
                    (c.combine(hi), c.combine(lo))
                }
                YCols::PosNeg(pos, _) => {
                    let (ep, en) = rest.split_at(pos.cols.len());
                    let y = c.combine(ep) - c.combine(en);
                    (mreal - y, mreal + y)
                }
            };
            out.evals[0] == eq_eval(&tau, &out.point) && out.evals[1..] == [up, a, down, b]
        },
        || format!("saturation at node {id}: openings disagree with the zerocheck"),
    )
}

/// The committed columns of lookup node `id` of kind `kind` (see
/// [`crate::columns`] for what each kind commits); `None` for other kinds.
pub(crate) fn columns(
    plan: &mut ColumnPlan,
    vk: &VerifyingKey,
    id: usize,
    kind: &Kind,
    saturating: &[usize],
) -> Option<NodeCols> {
    let x = shape_of(vk, vk.nodes[id].inputs[0]);
    Some(match kind {
        Kind::Table(q) => {
            let (_, s, _, _) = requant_params(q);
            let y = plan.col(&x);
            let z = plan.col(&x);
            let rem = plan.chunks(&x, s);
            let sat = plan.saturation(saturating, id, &x, q);
            let table = plan.table(q, id);
            NodeCols::Table { table, y, z, rem, sat }
        }
        Kind::LogTable(q) => {
            let Domain::Log(l) = q.table.domain else { return None };
            let (m, p, z) = (plan.col(&x), plan.col(&x), plan.col(&x));
            let r = plan.chunks(&x, u32::from(l.max_exp));
            let u = plan.chunks(&x, u32::from(l.max_exp));
            let table = plan.table(q, id);
            NodeCols::LogTable { table, m, p, z, r, u }
        }
        Kind::Range(q) | Kind::Relu(q) => {
            // A plain requantization range-checks `y + m` and `m − y` (each
            // below 2^bits); a ReLU `pos` and `neg` (below 2^(bits−1)).
            let relu = matches!(kind, Kind::Relu(_));
            let (_, s, _, _) = requant_params(q);
            let b = match q.table.domain {
                Domain::Linear(d) => u32::from(d.bits).saturating_sub(u32::from(relu)),
                Domain::Log(_) => 0,
            };
            let (first, second) = (plan.chunks(&x, b), plan.chunks(&x, b));
            let rem = plan.chunks(&x, s);
            let sat = plan.saturation(saturating, id, &x, q);
            if relu {
                NodeCols::Relu { pos: first, neg: second, rem, sat }
            } else {
                NodeCols::Range { lo: first, hi: second, rem, sat }
            }
        }
        _ => return None,
    })
}

/// Fills lookup node `id`'s columns from the executor's values (and counts
/// its table rows in `table_rows`).
pub(crate) fn fill(
    plan: &ColumnPlan,
    vk: &VerifyingKey,
    id: usize,
    nc: &NodeCols,
    values: &[Vec<Tensor>],
    cols: &mut [Vec<F>],
    table_rows: &mut [Vec<u64>],
) -> Result<()> {
    let node = &vk.nodes[id];
    let ints = |v: ValueId| witness_ints(values, v);
    let witness_err = |reason: String| Error::Witness { node: id, name: node.name.clone(), reason };
    let x = ints(node.inputs[0])?;
    match nc {
        NodeCols::Table { .. } | NodeCols::Range { .. } | NodeCols::Relu { .. } => {
            let (Kind::Table(q) | Kind::Range(q) | Kind::Relu(q)) = crate::ops::classify(vk, id)? else {
                return Err(Error::Internal(format!("node {id} is not a lookup")));
            };
            let (mult, s, h, m) = requant_params(&q);
            let layout = &Layout::new(&shape_of(vk, node.inputs[0]));
            let sat = match nc {
                NodeCols::Table { sat, .. } | NodeCols::Range { sat, .. } | NodeCols::Relu { sat, .. } => {
                    sat.as_ref()
                }
                _ => None,
            };
            let mut ys = Vec::with_capacity(x.len());
            let mut rems = Vec::with_capacity(x.len());
            let (mut ups, mut downs) = (vec![], vec![]);
            for &xv in x.iter() {
                let t = xv as i128 * mult as i128 + h;
                let y_true = t >> s;
                let y = y_true.clamp(-(m as i128), m as i128);
                if y != y_true && sat.is_none() {
                    return Err(witness_err(format!("input {xv} saturates but the node is not marked")));
                }
                ys.push(y as i64);
                rems.push((t - (y_true << s)) as u64);
                ups.push((y_true - y).max(0) as u64);
                downs.push((y - y_true).max(0) as u64);
            }
            if let Some(sat) = sat {
                plan.fill_chunks(cols, &sat.up, layout, &ups);
                plan.fill_chunks(cols, &sat.down, layout, &downs);
            }
            match nc {
                NodeCols::Table { table, y, z, rem, .. } => {
                    let zs = ints(ValueId::new(id, 0))?;
                    for &yv in &ys {
                        table_rows[*table][(yv + m) as usize] += 1;
                    }
                    cols[*y] = layout.pad_i64(&ys);
                    cols[*z] = layout.pad_i64(&zs);
                    plan.fill_chunks(cols, rem, layout, &rems);
                }
                NodeCols::Range { lo, hi, rem, .. } => {
                    let l: Vec<u64> = ys.iter().map(|&y| (y + m) as u64).collect();
                    let u: Vec<u64> = ys.iter().map(|&y| (m - y) as u64).collect();
                    plan.fill_chunks(cols, lo, layout, &l);
                    plan.fill_chunks(cols, hi, layout, &u);
                    plan.fill_chunks(cols, rem, layout, &rems);
                }
                NodeCols::Relu { pos, neg, rem, .. } => {
                    // Columns follow the witness's output (`pos = z`,
                    // `neg = z − y`): an honest `z = max(y, 0)` gives
                    // the decomposition; any other `z` fails a range
                    // check or the complementarity zerocheck.
                    let zs = ints(ValueId::new(id, 0))?;
                    let p: Vec<u64> = zs.iter().map(|&z| z as u64).collect();
                    let n: Vec<u64> = zs.iter().zip(&ys).map(|(&z, &y)| (z - y) as u64).collect();
                    plan.fill_chunks(cols, pos, layout, &p);
                    plan.fill_chunks(cols, neg, layout, &n);
                    plan.fill_chunks(cols, rem, layout, &rems);
                }
                _ => unreachable!(),
            }
        }
        NodeCols::LogTable { table, m, p, z, r, u } => {
            let Kind::LogTable(q) = crate::ops::classify(vk, id)? else {
                return Err(Error::Internal(format!("node {id} is not a log lookup")));
            };
            let Domain::Log(l) = q.table.domain else { return Ok(()) };
            let layout = &Layout::new(&shape_of(vk, node.inputs[0]));
            let d = u32::from(l.mantissa);
            let (mut ms, mut ps, mut rs, mut us) = (vec![], vec![], vec![], vec![]);
            for &xv in x.iter() {
                if xv < 0 {
                    return Err(witness_err(format!(
                        "input {xv} is negative: a floating-point table domain is for non-negative inputs"
                    )));
                }
                let e = (64 - xv.leading_zeros()).saturating_sub(d);
                if e > u32::from(l.max_exp) {
                    return Err(witness_err(format!(
                        "input {xv} is beyond the table's largest exponent (saturation is not provable)"
                    )));
                }
                let (mv, pv) = (xv >> e, 1i64 << e);
                let rv = xv - mv * pv;
                ms.push(mv);
                ps.push(pv);
                rs.push(rv as u64);
                us.push((pv - 1 - rv) as u64);
                table_rows[*table][l.row(xv)] += 1;
            }
            cols[*m] = layout.pad_i64(&ms);
            cols[*p] = layout.pad_i64(&ps);
            cols[*z] = layout.pad_i64(&ints(ValueId::new(id, 0))?);
            plan.fill_chunks(cols, r, layout, &rs);
            plan.fill_chunks(cols, u, layout, &us);
        }
        _ => return Err(Error::Internal(format!("node {id} has no lookup columns"))),
    }
    Ok(())
}
