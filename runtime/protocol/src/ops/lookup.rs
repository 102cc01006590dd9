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
//! All range checks of the proof share one logUp-GKR argument into the
//! table `[0, 2^16)`.

use crate::columns::{Chunks, ColumnPlan, NodeCols, requant_params};
use crate::layout::{Layout, index_eval};
use crate::packing::Claim;
use crate::prover::Prover;
use crate::verifier::Verifier;
use crate::{Error, Result};
use p3_field::{Field, PrimeCharacteristicRing};
use zkml_ir::ValueId;
use zkml_ir::ops::lookup::LookupQuant;
use zkml_proof::field::embed_i64;
use zkml_proof::logup;
use zkml_proof::mle::evaluate;
use zkml_proof::{EF, F};

/// `x(ρ) = mult⁻¹ (2^s y + rem − h·real)`.
fn input_claim(q: &LookupQuant, y: EF, rem: EF, real: EF) -> EF {
    let (mult, s, h, _) = requant_params(q);
    let inv = F::from_u64(mult as u64).inverse();
    (y * EF::from_u64(1u64 << s) + rem - EF::from_u64(h as u64) * real) * inv
}

fn quant(vk: &crate::vk::VerifyingKey, id: usize) -> Result<LookupQuant> {
    match crate::ops::classify(vk, id)? {
        crate::ops::Kind::Table(q) | crate::ops::Kind::Range(q) => Ok(q),
        _ => Err(Error::Internal(format!("node {id} is not a lookup"))),
    }
}

fn table_cols(cols: &ColumnPlan, id: usize) -> Result<(usize, usize, Chunks)> {
    match cols.nodes.get(&id) {
        Some(NodeCols::Table { y, z, rem, .. }) => Ok((*y, *z, rem.clone())),
        _ => Err(Error::Internal(format!("node {id} has no table columns"))),
    }
}

pub(crate) fn prove_tables(p: &mut Prover<'_>) -> Result<()> {
    for ti in 0..p.cols.tables.len() {
        let tp = p.cols.tables[ti].clone();
        let (a_col, z_col) = ColumnPlan::table_columns(&tp);
        let pk = &tp.packing;
        let mut ycat = vec![a_col[0]; pk.len()];
        let mut zcat = vec![z_col[0]; pk.len()];
        for (i, &id) in tp.nodes.iter().enumerate() {
            let (y, z, _) = table_cols(&p.cols, id)?;
            let off = pk.slots[i].0;
            for pos in p.cols.layouts[y].padded_indices() {
                ycat[off + pos] = p.col_data[y][pos];
                zcat[off + pos] = p.col_data[z][pos];
            }
        }
        let (proof, claims) =
            logup::prove(&[&ycat, &zcat], &[&a_col, &z_col], &p.col_data[tp.mult], &mut p.t)?;
        p.sink.logup(proof);
        p.col_claims
            .push((tp.mult, Claim { point: claims.table_point.clone(), value: claims.multiplicity_eval }));
        for (i, &id) in tp.nodes.iter().enumerate() {
            let (y, z, rem) = table_cols(&p.cols, id)?;
            let rho = pk.suffix(i, &claims.lookup_point).to_vec();
            let mut ev = vec![p.open_col(y, &rho), p.open_col(z, &rho)];
            for &c in &rem.cols {
                ev.push(p.open_col(c, &rho));
            }
            p.sink.evals(&mut p.t, ev.clone());
            let q = quant(&p.pk.vk, id)?;
            let real = p.cols.layouts[y].real_eval(&rho);
            let x = p.pk.vk.nodes[id].inputs[0];
            p.claim(x, Claim { value: input_claim(&q, ev[0], Chunks::combine(&ev[2..]), real), point: rho });
        }
    }
    Ok(())
}

pub(crate) fn verify_tables(v: &mut Verifier<'_>) -> Result<()> {
    for ti in 0..v.cols.tables.len() {
        let tp = v.cols.tables[ti].clone();
        let (a_col, z_col) = ColumnPlan::table_columns(&tp);
        let pk = &tp.packing;
        let proof = v.src.logup("a table")?;
        let claims = logup::verify(pk.vars, tp.bits, 2, proof, &mut v.t)
            .map_err(|e| Error::Reject(format!("lookup into {:?} table: {e}", tp.spec.func)))?;
        // Table columns: (i − m) with row 2^b − 1 repeating row 0, and T.
        let t = &claims.table_point;
        let m = EF::from_u64((tp.spec.rows() / 2) as u64);
        let top = EF::from_u64((1u64 << tp.bits) - 1);
        let a_expect = index_eval(t) - m - top * t.iter().copied().product::<EF>();
        debug_assert_eq!(evaluate(&a_col, t), a_expect);
        if claims.table_evals != [a_expect, evaluate(&z_col, t)] {
            return Err(Error::Reject("lookup: table evaluations are wrong".into()));
        }
        v.open_col(tp.mult, t, claims.multiplicity_eval);
        let rho = &claims.lookup_point;
        let (mut ysum, mut zsum, mut realsum) = (EF::ZERO, EF::ZERO, EF::ZERO);
        for (i, &id) in tp.nodes.iter().enumerate() {
            let (y, z, rem) = table_cols(&v.cols, id)?;
            let ev = v.src.evals(&mut v.t, 2 + rem.cols.len(), "a lookup's columns")?;
            let ri = pk.suffix(i, rho).to_vec();
            let w = pk.slot_weight(i, rho);
            let real = v.cols.layouts[y].real_eval(&ri);
            ysum += w * ev[0];
            zsum += w * ev[1];
            realsum += w * real;
            v.open_col(y, &ri, ev[0]);
            v.open_col(z, &ri, ev[1]);
            for (&c, &e) in rem.cols.iter().zip(&ev[2..]) {
                v.open_col(c, &ri, e);
            }
            let q = quant(v.vk, id)?;
            let x = v.vk.nodes[id].inputs[0];
            v.claim(x, Claim { value: input_claim(&q, ev[0], Chunks::combine(&ev[2..]), real), point: ri })?;
        }
        let fill = EF::ONE - realsum;
        if claims.column_evals != [ysum + EF::from(a_col[0]) * fill, zsum + EF::from(z_col[0]) * fill] {
            return Err(Error::Reject("lookup: looked-up columns disagree with the committed ones".into()));
        }
    }
    Ok(())
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
        Some(NodeCols::Range { lo, hi, rem }) => Ok((lo.clone(), hi.clone(), rem.clone())),
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
    let r = &ev[lo.cols.len() + hi.cols.len()..];
    p.claim(x, Claim { value: input_claim(q, c.value, Chunks::combine(r), real), point: c.point });
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
    v.claim(x, Claim { value: input_claim(q, c.value, Chunks::combine(er), real), point: c.point })
}
