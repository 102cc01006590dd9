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
//!
//! Files: [`table`] (logUp over each distinct table, floating-point
//! inputs), [`range`] (the shared range argument, requantization claims),
//! [`zerocheck`] (ReLU complementarity, saturation); this file plans and
//! fills the columns.

mod range;
mod table;
mod zerocheck;

pub(crate) use range::{argue_range, reduce_requant};
pub(crate) use table::argue_tables;
pub(crate) use zerocheck::{argue_relu, argue_saturation, relu_nodes};

use crate::columns::{Chunks, ColumnPlan, NodeCols, RangeBucket, requant_params, shape_of, witness_ints};
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
pub(super) fn input_claim(q: &LookupQuant, y: EF, rem: EF, real: EF) -> EF {
    let (mult, s, h, _) = requant_params(q);
    let inv = F::from_u64(mult as u64).inverse();
    (y * EF::from_u64(1u64 << s) + rem - EF::from_u64(h as u64) * real) * inv
}

/// The looked-up columns of a table node: `[y, z]` or `[m, p, z]`.
pub(super) fn looked_up(cols: &ColumnPlan, id: usize) -> Result<Vec<usize>> {
    match cols.nodes.get(&id) {
        Some(NodeCols::Table { y, z, .. }) => Ok(vec![*y, *z]),
        Some(NodeCols::LogTable { m, p, z, .. }) => Ok(vec![*m, *p, *z]),
        _ => Err(Error::Internal(format!("node {id} has no table columns"))),
    }
}

/// Requantization columns opened beside the looked-up ones: remainder
/// chunks, then overflow chunks (up, down) when the node saturates.
pub(super) fn rem_cols(cols: &ColumnPlan, id: usize) -> (Vec<usize>, usize, usize) {
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
pub(super) fn split_requant(cols: &ColumnPlan, ev: &[EF], nr: usize, ns: usize) -> (EF, EF) {
    let rem = cols.combine(&ev[..nr]);
    let over = if ns > 0 {
        cols.combine(&ev[nr..nr + ns]) - cols.combine(&ev[nr + ns..nr + 2 * ns])
    } else {
        EF::ZERO
    };
    (over, rem)
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
