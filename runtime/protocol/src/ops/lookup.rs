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

use crate::columns::{Chunks, ColumnPlan, NodeCols, requant_params};
use crate::layout::{Layout, index_eval};
use crate::ops::Kind;
use crate::packing::Claim;
use crate::prover::Prover;
use crate::verifier::Verifier;
use crate::{Error, Result};
use p3_field::{Field, PrimeCharacteristicRing};
use zkml_ir::ValueId;
use zkml_ir::ops::lookup::{Domain, LookupQuant};
use zkml_proof::field::embed_i64;
use zkml_proof::logup;
use zkml_proof::mle::{eq_eval, eq_table, evaluate};
use zkml_proof::sumcheck::{self, Table, Term};
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

pub(crate) fn prove_tables(p: &mut Prover<'_>) -> Result<()> {
    for ti in 0..p.cols.tables.len() {
        let tp = p.cols.tables[ti].clone();
        let tcols = ColumnPlan::table_columns(&tp);
        let pk = &tp.packing;
        let mut cats: Vec<Vec<F>> = tcols.iter().map(|c| vec![c[0]; pk.len()]).collect();
        for (i, &id) in tp.nodes.iter().enumerate() {
            let lk = looked_up(&p.cols, id)?;
            let off = pk.slots[i].0;
            for pos in p.cols.layouts[lk[0]].padded_indices() {
                for (cat, &c) in cats.iter_mut().zip(&lk) {
                    cat[off + pos] = p.col_data[c][pos];
                }
            }
        }
        let cat_refs: Vec<&[F]> = cats.iter().map(|c| c.as_slice()).collect();
        let t_refs: Vec<&[F]> = tcols.iter().map(|c| c.as_slice()).collect();
        let (proof, claims) = logup::prove(&cat_refs, &t_refs, &p.col_data[tp.mult], &mut p.t)?;
        p.sink.logup(proof);
        p.col_claims
            .push((tp.mult, Claim { point: claims.table_point.clone(), value: claims.multiplicity_eval }));
        for (i, &id) in tp.nodes.iter().enumerate() {
            let lk = looked_up(&p.cols, id)?;
            let (rem, nr, ns) = rem_cols(&p.cols, id);
            let rho = pk.suffix(i, &claims.lookup_point).to_vec();
            let ev: Vec<EF> = lk.iter().chain(&rem).map(|&c| p.open_col(c, &rho)).collect();
            p.sink.evals(&mut p.t, ev.clone());
            let x = p.pk.vk.nodes[id].inputs[0];
            match crate::ops::classify(&p.pk.vk, id)? {
                Kind::Table(q) => {
                    let real = p.cols.layouts[lk[0]].real_eval(&rho);
                    let (over, r) = split_requant(&p.cols, &ev[2..], nr, ns);
                    p.claim(x, Claim { value: input_claim(&q, ev[0] + over, r, real), point: rho })?;
                }
                _ => prove_log_input(p, id, rho)?,
            }
        }
    }
    Ok(())
}

pub(crate) fn verify_tables(v: &mut Verifier<'_>) -> Result<()> {
    for ti in 0..v.cols.tables.len() {
        let tp = v.cols.tables[ti].clone();
        let tcols = ColumnPlan::table_columns(&tp);
        let pk = &tp.packing;
        let proof = v.src.logup("a table")?;
        let claims = logup::verify(pk.vars, tp.bits, tcols.len(), proof, &mut v.t)
            .map_err(|e| Error::Reject(format!("lookup into {:?} table: {e}", tp.spec.func)))?;
        let t = &claims.table_point;
        let expect: Vec<EF> = match tp.spec.domain {
            // (i − m), with row 2^b − 1 repeating row 0: succinct.
            Domain::Linear(_) => {
                let m = EF::from_u64((tp.spec.rows() / 2) as u64);
                let top = EF::from_u64((1u64 << tp.bits) - 1);
                vec![index_eval(t) - m - top * t.iter().copied().product::<EF>(), evaluate(&tcols[1], t)]
            }
            Domain::Log(_) => tcols.iter().map(|c| evaluate(c, t)).collect(),
        };
        if claims.table_evals != expect {
            return Err(Error::Reject("lookup: table evaluations are wrong".into()));
        }
        v.open_col(tp.mult, t, claims.multiplicity_eval);
        let rho = &claims.lookup_point;
        let mut sums = vec![EF::ZERO; tcols.len()];
        let mut realsum = EF::ZERO;
        for (i, &id) in tp.nodes.iter().enumerate() {
            let lk = looked_up(&v.cols, id)?;
            let (rem, nr, ns) = rem_cols(&v.cols, id);
            let ev = v.src.evals(&mut v.t, lk.len() + rem.len(), "a lookup's columns")?;
            let ri = pk.suffix(i, rho).to_vec();
            let w = pk.slot_weight(i, rho);
            let real = v.cols.layouts[lk[0]].real_eval(&ri);
            for (sum, &e) in sums.iter_mut().zip(&ev) {
                *sum += w * e;
            }
            realsum += w * real;
            for (&c, &e) in lk.iter().chain(&rem).zip(&ev) {
                v.open_col(c, &ri, e);
            }
            let x = v.vk.nodes[id].inputs[0];
            match crate::ops::classify(v.vk, id)? {
                Kind::Table(q) => {
                    let (over, r) = split_requant(&v.cols, &ev[2..], nr, ns);
                    v.claim(x, Claim { value: input_claim(&q, ev[0] + over, r, real), point: ri })?;
                }
                _ => verify_log_input(v, id, ri)?,
            }
        }
        let fill = EF::ONE - realsum;
        let want: Vec<EF> = sums.iter().zip(&tcols).map(|(&s, c)| s + EF::from(c[0]) * fill).collect();
        if claims.column_evals != want {
            return Err(Error::Reject("lookup: looked-up columns disagree with the committed ones".into()));
        }
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
fn prove_log_input(p: &mut Prover<'_>, id: usize, rho: Vec<EF>) -> Result<()> {
    let (m, pc, r, u) = log_cols(&p.cols, id)?;
    let x = p.pk.vk.nodes[id].inputs[0];
    let value = evaluate(&p.padded(x)?, &rho);
    p.sink.evals(&mut p.t, vec![value]);
    let rt = p.cols.chunk_table(&r, p.col_data, p.col_data[m].len());
    let tables = vec![
        Table::Ext(eq_table(&rho)),
        Table::Base(p.col_data[m].clone()),
        Table::Base(p.col_data[pc].clone()),
        Table::Base(rt),
    ];
    let (proof, out) = sumcheck::prove(tables, &log_terms(), value, &mut p.t)?;
    p.sink.sumcheck(proof);
    p.col_claims.push((m, Claim { point: out.point.clone(), value: out.evals[1] }));
    p.col_claims.push((pc, Claim { point: out.point.clone(), value: out.evals[2] }));
    let ev: Vec<EF> = r.cols.iter().chain(&u.cols).map(|&c| p.open_col(c, &out.point)).collect();
    p.sink.evals(&mut p.t, ev);
    p.claim(x, Claim { point: rho, value })?;
    Ok(())
}

fn verify_log_input(v: &mut Verifier<'_>, id: usize, rho: Vec<EF>) -> Result<()> {
    let (m, pc, r, u) = log_cols(&v.cols, id)?;
    let x = v.vk.nodes[id].inputs[0];
    let value = v.src.evals(&mut v.t, 1, "a floating-point lookup's input")?[0];
    let vars = v.layout(x).vars();
    let proof = v.src.sumcheck("floating-point decomposition")?;
    let out = sumcheck::verify(vars, 4, &log_terms(), value, proof, &mut v.t)
        .map_err(|e| Error::Reject(format!("floating-point lookup at node {id}: {e}")))?;
    let ev = v.src.evals(&mut v.t, r.cols.len() + u.cols.len(), "floating-point remainders")?;
    let (er, eu) = ev.split_at(r.cols.len());
    let real = v.layout(x).real_eval(&out.point);
    if out.evals[0] != eq_eval(&rho, &out.point)
        || out.evals[3] != v.cols.combine(er)
        || v.cols.combine(eu) != out.evals[2] - real - out.evals[3]
    {
        return Err(Error::Reject(format!("floating-point lookup at node {id}: decomposition mismatch")));
    }
    v.open_col(m, &out.point, out.evals[1]);
    v.open_col(pc, &out.point, out.evals[2]);
    for (&c, &e) in r.cols.iter().chain(&u.cols).zip(&ev) {
        v.open_col(c, &out.point, e);
    }
    v.claim(x, Claim { point: rho, value })
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

pub(crate) fn prove_range(p: &mut Prover<'_>) -> Result<()> {
    let Some(mc) = p.cols.range_mult else { return Ok(()) };
    let rp = p.cols.range_packing.clone();
    let mut cat = vec![F::ZERO; rp.len()];
    for (e, &(off, k)) in p.cols.range.iter().zip(&rp.slots) {
        let add = F::from_u64(e.offset);
        for (dst, &src) in cat[off..off + (1 << k)].iter_mut().zip(&p.col_data[e.col]) {
            *dst = src + add;
        }
    }
    let table: Vec<F> = (0..1u64 << p.cols.chunk).map(F::from_u64).collect();
    let (proof, claims) = logup::prove(&[&cat], &[&table], &p.col_data[mc], &mut p.t)?;
    p.sink.logup(proof);
    p.col_claims.push((mc, Claim { point: claims.table_point.clone(), value: claims.multiplicity_eval }));
    let mut ev = vec![];
    for col in range_cols(&p.cols) {
        let i = p.cols.range.iter().position(|e| e.col == col).unwrap_or(0);
        let rho = rp.suffix(i, &claims.lookup_point).to_vec();
        ev.push(p.open_col(col, &rho));
    }
    p.sink.evals(&mut p.t, ev);
    Ok(())
}

pub(crate) fn verify_range(v: &mut Verifier<'_>) -> Result<()> {
    let Some(mc) = v.cols.range_mult else { return Ok(()) };
    let rp = v.cols.range_packing.clone();
    let proof = v.src.logup("the range checks")?;
    let claims = logup::verify(rp.vars, v.cols.chunk as usize, 1, proof, &mut v.t)
        .map_err(|e| Error::Reject(format!("range checks: {e}")))?;
    if claims.table_evals != [index_eval(&claims.table_point)] {
        return Err(Error::Reject("range checks: table evaluation is wrong".into()));
    }
    v.open_col(mc, &claims.table_point, claims.multiplicity_eval);
    let cols = range_cols(&v.cols);
    let ev = v.src.evals(&mut v.t, cols.len(), "range-checked columns")?;
    let rho = &claims.lookup_point;
    let mut sum = EF::ZERO;
    for (i, e) in v.cols.range.clone().iter().enumerate() {
        let k = cols.iter().position(|&c| c == e.col).unwrap_or(0);
        sum += rp.slot_weight(i, rho) * (ev[k] + EF::from_u64(e.offset));
    }
    for (k, &col) in cols.iter().enumerate() {
        let i = v.cols.range.iter().position(|e| e.col == col).unwrap_or(0);
        let ri = rp.suffix(i, rho).to_vec();
        v.open_col(col, &ri, ev[k]);
    }
    if claims.column_evals != [sum] {
        return Err(Error::Reject(
            "range checks: looked-up column disagrees with the committed chunks".into(),
        ));
    }
    Ok(())
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
pub(crate) fn prove_range_claim(p: &mut Prover<'_>, id: usize, q: &LookupQuant, c: Claim) -> Result<()> {
    let rc = req_node(&p.cols, id)?;
    let ev: Vec<EF> = rc.opened().map(|&col| p.open_col(col, &c.point)).collect();
    p.sink.evals(&mut p.t, ev.clone());
    let x = p.pk.vk.nodes[id].inputs[0];
    let real = Layout::new(&crate::columns::shape_of(&p.pk.vk, x)).real_eval(&c.point);
    let (na, nb) = (rc.a.cols.len(), rc.b.cols.len());
    let y = if rc.relu { c.value - p.cols.combine(&ev[na..na + nb]) } else { c.value };
    let (over, r) = split_requant(&p.cols, &ev[na + nb..], rc.nr, rc.ns);
    p.claim(x, Claim { value: input_claim(q, y + over, r, real), point: c.point })?;
    Ok(())
}

pub(crate) fn verify_range_claim(v: &mut Verifier<'_>, id: usize, q: &LookupQuant, c: Claim) -> Result<()> {
    let rc = req_node(&v.cols, id)?;
    let cols: Vec<usize> = rc.opened().copied().collect();
    let ev = v.src.evals(&mut v.t, cols.len(), "a requantization's chunks")?;
    for (&col, &e) in cols.iter().zip(&ev) {
        v.open_col(col, &c.point, e);
    }
    let x: ValueId = v.vk.nodes[id].inputs[0];
    let real = Layout::new(&crate::columns::shape_of(v.vk, x)).real_eval(&c.point);
    let (ea, rest) = ev.split_at(rc.a.cols.len());
    let (eb, er) = rest.split_at(rc.b.cols.len());
    let (a, b) = (v.cols.combine(ea), v.cols.combine(eb));
    let y = if rc.relu {
        // z = pos; y = pos − neg (pos·neg = 0 is the zerocheck's job).
        if a != c.value {
            return Err(Error::Reject(format!(
                "ReLU at node {id}: output disagrees with its committed chunks"
            )));
        }
        a - b
    } else {
        let (_, _, _, m) = requant_params(q);
        let m = EF::from(embed_i64(m)) * real;
        if a - m != c.value || b != m - c.value {
            return Err(Error::Reject(format!(
                "requantization at node {id}: value outside its range or inconsistent"
            )));
        }
        c.value
    };
    let (over, r) = split_requant(&v.cols, er, rc.nr, rc.ns);
    v.claim(x, Claim { value: input_claim(q, y + over, r, real), point: c.point })
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
pub(crate) fn prove_relu(p: &mut Prover<'_>, id: usize) -> Result<()> {
    let (pos, neg, layout) = relu_cols(&p.pk.vk, &p.cols, id)?;
    let n = layout.padded_len();
    p.t.label(b"relu");
    let tau = p.t.challenges_ext(layout.vars());
    let tables = vec![
        Table::Ext(eq_table(&tau)),
        Table::Base(p.cols.chunk_table(&pos, p.col_data, n)),
        Table::Base(p.cols.chunk_table(&neg, p.col_data, n)),
    ];
    let (proof, out) = sumcheck::prove(tables, &relu_terms(), EF::ZERO, &mut p.t)?;
    p.sink.sumcheck(proof);
    let ev: Vec<EF> = pos.cols.iter().chain(&neg.cols).map(|&c| p.open_col(c, &out.point)).collect();
    p.sink.evals(&mut p.t, ev);
    Ok(())
}

pub(crate) fn verify_relu(v: &mut Verifier<'_>, id: usize) -> Result<()> {
    let (pos, neg, layout) = relu_cols(v.vk, &v.cols, id)?;
    v.t.label(b"relu");
    let tau = v.t.challenges_ext(layout.vars());
    let proof = v.src.sumcheck("ReLU complementarity")?;
    let out = sumcheck::verify(layout.vars(), 3, &relu_terms(), EF::ZERO, proof, &mut v.t)
        .map_err(|e| Error::Reject(format!("ReLU at node {id}: {e}")))?;
    let cols: Vec<usize> = pos.cols.iter().chain(&neg.cols).copied().collect();
    let ev = v.src.evals(&mut v.t, cols.len(), "ReLU openings")?;
    let (ep, en) = ev.split_at(pos.cols.len());
    if out.evals != [eq_eval(&tau, &out.point), v.cols.combine(ep), v.cols.combine(en)] {
        return Err(Error::Reject(format!("ReLU at node {id}: openings disagree with the zerocheck")));
    }
    for (&c, &e) in cols.iter().zip(&ev) {
        v.open_col(c, &out.point, e);
    }
    Ok(())
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
pub(crate) fn prove_saturation(p: &mut Prover<'_>, id: usize) -> Result<()> {
    let sc = sat_cols(&p.pk.vk, &p.cols, id)?;
    let n = sc.layout.padded_len();
    let real: Vec<F> = sc.layout.real_mask().iter().map(|&b| F::from_bool(b)).collect();
    let mreal: Vec<F> = real.iter().map(|&r| r * embed_i64(sc.m)).collect();
    let around = |y: &[F]| -> (Vec<F>, Vec<F>) {
        (
            mreal.iter().zip(y).map(|(&m, &y)| m - y).collect(),
            mreal.iter().zip(y).map(|(&m, &y)| m + y).collect(),
        )
    };
    let (a, b): (Vec<F>, Vec<F>) = match &sc.y {
        YCols::Col(y) => around(&p.col_data[*y]),
        YCols::LoHi(lo, hi) => (p.cols.chunk_table(hi, p.col_data, n), p.cols.chunk_table(lo, p.col_data, n)),
        YCols::PosNeg(pos, neg) => {
            let y: Vec<F> = p
                .cols
                .chunk_table(pos, p.col_data, n)
                .into_iter()
                .zip(p.cols.chunk_table(neg, p.col_data, n))
                .map(|(a, b)| a - b)
                .collect();
            around(&y)
        }
    };
    p.t.label(b"saturation");
    let tau = p.t.challenges_ext(sc.layout.vars());
    let lambda = p.t.challenge_ext();
    let tables = vec![
        Table::Ext(eq_table(&tau)),
        Table::Base(p.cols.chunk_table(&sc.up, p.col_data, n)),
        Table::Base(a),
        Table::Base(p.cols.chunk_table(&sc.down, p.col_data, n)),
        Table::Base(b),
    ];
    let (proof, out) = sumcheck::prove(tables, &sat_terms(lambda), EF::ZERO, &mut p.t)?;
    p.sink.sumcheck(proof);
    let cols = sc.opened();
    let ev: Vec<EF> = cols.iter().map(|&c| p.open_col(c, &out.point)).collect();
    p.sink.evals(&mut p.t, ev);
    Ok(())
}

pub(crate) fn verify_saturation(v: &mut Verifier<'_>, id: usize) -> Result<()> {
    let sc = sat_cols(v.vk, &v.cols, id)?;
    v.t.label(b"saturation");
    let tau = v.t.challenges_ext(sc.layout.vars());
    let lambda = v.t.challenge_ext();
    let proof = v.src.sumcheck("saturation")?;
    let out = sumcheck::verify(sc.layout.vars(), 5, &sat_terms(lambda), EF::ZERO, proof, &mut v.t)
        .map_err(|e| Error::Reject(format!("saturation at node {id}: {e}")))?;
    let cols = sc.opened();
    let ev = v.src.evals(&mut v.t, cols.len(), "saturation openings")?;
    let (nu, nd) = (sc.up.cols.len(), sc.down.cols.len());
    let up = v.cols.combine(&ev[..nu]);
    let down = v.cols.combine(&ev[nu..nu + nd]);
    let rest = &ev[nu + nd..];
    let mreal = EF::from(embed_i64(sc.m)) * sc.layout.real_eval(&out.point);
    let (a, b) = match &sc.y {
        YCols::Col(_) => (mreal - rest[0], mreal + rest[0]),
        YCols::LoHi(lo, _) => {
            let (lo, hi) = rest.split_at(lo.cols.len());
            (v.cols.combine(hi), v.cols.combine(lo))
        }
        YCols::PosNeg(pos, _) => {
            let (ep, en) = rest.split_at(pos.cols.len());
            let y = v.cols.combine(ep) - v.cols.combine(en);
            (mreal - y, mreal + y)
        }
    };
    if out.evals[0] != eq_eval(&tau, &out.point) || out.evals[1..] != [up, a, down, b] {
        return Err(Error::Reject(format!("saturation at node {id}: openings disagree with the zerocheck")));
    }
    for (&c, &e) in cols.iter().zip(&ev) {
        v.open_col(c, &out.point, e);
    }
    Ok(())
}
