//! Lookups with the requantization folded in.
//!
//! A quantized lookup computes `z = T[clamp(y)]` with
//! `y = ⌊(x·mult + h) / 2^s⌋`. The prover commits `y`'s witness columns
//! (see [`crate::columns`]) and the relation is proven in three parts:
//!
//! 1. **requantization**: `x·mult + h·real = 2^s·y + rem` as polynomials,
//!    with `rem ∈ [0, 2^s)` by 16-bit range checks. Both sides are below
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
//! All range checks of the proof share one logUp-GKR argument into the
//! table `[0, 2^16)`.

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
fn split_requant(ev: &[EF], nr: usize, ns: usize) -> (EF, EF) {
    let rem = Chunks::combine(&ev[..nr]);
    let over = if ns > 0 {
        Chunks::combine(&ev[nr..nr + ns]) - Chunks::combine(&ev[nr + ns..nr + 2 * ns])
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
                    let (over, r) = split_requant(&ev[2..], nr, ns);
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
                    let (over, r) = split_requant(&ev[2..], nr, ns);
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
    let rt = r.table(p.col_data, p.col_data[m].len());
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
        || out.evals[3] != Chunks::combine(er)
        || Chunks::combine(eu) != out.evals[2] - real - out.evals[3]
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
    let table: Vec<F> = (0..1u64 << crate::columns::CHUNK).map(F::from_u64).collect();
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
    let claims = logup::verify(rp.vars, crate::columns::CHUNK as usize, 1, proof, &mut v.t)
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

fn range_node(cols: &ColumnPlan, id: usize) -> Result<(Chunks, Chunks, Chunks)> {
    match cols.nodes.get(&id) {
        Some(NodeCols::Range { lo, hi, rem, sat }) => {
            // The remainder's chunks, then the overflow's (up, down).
            let mut rem = rem.clone();
            if let Some(s) = sat {
                rem.cols.extend(&s.up.cols);
                rem.cols.extend(&s.down.cols);
            }
            Ok((lo.clone(), hi.clone(), rem))
        }
        _ => Err(Error::Internal(format!("node {id} has no range columns"))),
    }
}

pub(crate) fn prove_range_claim(p: &mut Prover<'_>, id: usize, q: &LookupQuant, c: Claim) -> Result<()> {
    let (lo, hi, rem) = range_node(&p.cols, id)?;
    let mut ev = vec![];
    for &col in lo.cols.iter().chain(&hi.cols).chain(&rem.cols) {
        ev.push(p.open_col(col, &c.point));
    }
    p.sink.evals(&mut p.t, ev.clone());
    let x = p.pk.vk.nodes[id].inputs[0];
    let real = Layout::new(&crate::columns::shape_of(&p.pk.vk, x)).real_eval(&c.point);
    let (nr, ns) = range_split(&p.cols, id);
    let (over, r) = split_requant(&ev[lo.cols.len() + hi.cols.len()..], nr, ns);
    p.claim(x, Claim { value: input_claim(q, c.value + over, r, real), point: c.point })?;
    Ok(())
}

pub(crate) fn verify_range_claim(v: &mut Verifier<'_>, id: usize, q: &LookupQuant, c: Claim) -> Result<()> {
    let (lo, hi, rem) = range_node(&v.cols, id)?;
    let n = lo.cols.len() + hi.cols.len() + rem.cols.len();
    let ev = v.src.evals(&mut v.t, n, "a requantization's chunks")?;
    for (&col, &e) in lo.cols.iter().chain(&hi.cols).chain(&rem.cols).zip(&ev) {
        v.open_col(col, &c.point, e);
    }
    let x: ValueId = v.vk.nodes[id].inputs[0];
    let real = Layout::new(&crate::columns::shape_of(v.vk, x)).real_eval(&c.point);
    let (_, _, _, m) = requant_params(q);
    let m = EF::from(embed_i64(m)) * real;
    let (el, rest) = ev.split_at(lo.cols.len());
    let (eh, er) = rest.split_at(hi.cols.len());
    if Chunks::combine(el) - m != c.value || Chunks::combine(eh) != m - c.value {
        return Err(Error::Reject(format!(
            "requantization at node {id}: value outside its range or inconsistent"
        )));
    }
    let (nr, ns) = range_split(&v.cols, id);
    let (over, r) = split_requant(er, nr, ns);
    v.claim(x, Claim { value: input_claim(q, c.value + over, r, real), point: c.point })
}

/// `(remainder chunks, overflow chunks per side)` of a range node.
fn range_split(cols: &ColumnPlan, id: usize) -> (usize, usize) {
    match cols.nodes.get(&id) {
        Some(NodeCols::Range { rem, sat, .. }) => {
            (rem.cols.len(), sat.as_ref().map_or(0, |s| s.up.cols.len()))
        }
        _ => (0, 0),
    }
}

/// `up·(m·real − y) + λ·down·(m·real + y)` over `[eq, up, A, down, B]`.
fn sat_terms(lambda: EF) -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }, Term { coeff: lambda, factors: vec![0, 3, 4] }]
}

struct SatCols {
    up: Chunks,
    down: Chunks,
    /// Table nodes: the committed `y`; range nodes: `lo`, `hi` chunks.
    y: Option<usize>,
    lo: Chunks,
    hi: Chunks,
    m: i64,
    layout: Layout,
}

impl SatCols {
    /// Columns opened at the zerocheck's point, in message order.
    fn opened(&self) -> Vec<usize> {
        let lohi = self.lo.cols.iter().chain(&self.hi.cols);
        self.up.cols.iter().chain(&self.down.cols).chain(self.y.iter()).chain(lohi).copied().collect()
    }
}

fn sat_cols(v: &crate::vk::VerifyingKey, cols: &ColumnPlan, id: usize) -> Result<SatCols> {
    let q = match crate::ops::classify(v, id)? {
        Kind::Table(q) | Kind::Range(q) => q,
        _ => return Err(Error::Internal(format!("node {id} is not a lookup"))),
    };
    let (_, _, _, m) = requant_params(&q);
    let layout = Layout::new(&crate::columns::shape_of(v, v.nodes[id].inputs[0]));
    let none = Chunks { cols: vec![], widths: vec![] };
    match cols.nodes.get(&id) {
        Some(NodeCols::Table { y, sat: Some(s), .. }) => Ok(SatCols {
            up: s.up.clone(),
            down: s.down.clone(),
            y: Some(*y),
            lo: none.clone(),
            hi: none,
            m,
            layout,
        }),
        Some(NodeCols::Range { lo, hi, sat: Some(s), .. }) => Ok(SatCols {
            up: s.up.clone(),
            down: s.down.clone(),
            y: None,
            lo: lo.clone(),
            hi: hi.clone(),
            m,
            layout,
        }),
        _ => Err(Error::Reject(format!("node {id} is marked saturating but has no overflow columns"))),
    }
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
    let (a, b): (Vec<F>, Vec<F>) = match sc.y {
        Some(y) => {
            let y = &p.col_data[y];
            (
                mreal.iter().zip(y).map(|(&m, &y)| m - y).collect(),
                mreal.iter().zip(y).map(|(&m, &y)| m + y).collect(),
            )
        }
        None => (sc.hi.table(p.col_data, n), sc.lo.table(p.col_data, n)),
    };
    p.t.label(b"saturation");
    let tau = p.t.challenges_ext(sc.layout.vars());
    let lambda = p.t.challenge_ext();
    let tables = vec![
        Table::Ext(eq_table(&tau)),
        Table::Base(sc.up.table(p.col_data, n)),
        Table::Base(a),
        Table::Base(sc.down.table(p.col_data, n)),
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
    let up = Chunks::combine(&ev[..nu]);
    let down = Chunks::combine(&ev[nu..nu + nd]);
    let rest = &ev[nu + nd..];
    let (a, b) = match sc.y {
        Some(_) => {
            let mreal = EF::from(embed_i64(sc.m)) * sc.layout.real_eval(&out.point);
            (mreal - rest[0], mreal + rest[0])
        }
        None => {
            let (lo, hi) = rest.split_at(sc.lo.cols.len());
            (Chunks::combine(hi), Chunks::combine(lo))
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
