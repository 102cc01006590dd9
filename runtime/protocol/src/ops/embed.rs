//! `gather` along axis 0 of a constant with public indices: embedding
//! tables (token ids are public inputs).
//!
//! With `out[i, j] = E[ids[i], j]` and a claim `out(r_i, r_j) = e`:
//! `e = Σ_{i real} eq(r_i, i) · Ẽ(bits(ids[i]), r_j)`. The prover sends
//! `Ẽ(bits(t), r_j)` for each distinct token `t` (one row of `E` evaluated
//! at `r_j`), the verifier checks the sum with the public ids and hands each
//! value to the weight opening as a claim on `E` at `(bits(t), r_j)`. No
//! sumcheck; cost linear in the number of tokens.

use crate::layout::{Layout, bits_point};
use crate::packing::Claim;
use crate::side::Side;
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use zkml_ir::{Op, ValueId};
use zkml_proof::EF;
use zkml_proof::mle::{eq_table, evaluate};

struct Geometry {
    data: ValueId,
    indices: ValueId,
    dl: Layout,
    il: Layout,
    /// Layout of one row of the data (`dims[1..]`).
    rl: Layout,
}

fn geometry(vk: &VerifyingKey, id: usize) -> Geometry {
    let n = &vk.nodes[id];
    let (data, indices) = (n.inputs[0], n.inputs[1]);
    let dl = Layout::new(&crate::columns::shape_of(vk, data));
    let il = Layout::new(&crate::columns::shape_of(vk, indices));
    let rl = Layout::new(dl.dims.get(1..).unwrap_or(&[]));
    Geometry { data, indices, dl, il, rl }
}

/// Distinct ids in first-use order, and each real index's position in it.
fn distinct(ids: &[i64]) -> (Vec<i64>, Vec<usize>) {
    let mut seen: Vec<i64> = vec![];
    let pos = ids
        .iter()
        .map(|&t| match seen.iter().position(|&s| s == t) {
            Some(k) => k,
            None => {
                seen.push(t);
                seen.len() - 1
            }
        })
        .collect();
    (seen, pos)
}

fn row_point(g: &Geometry, t: i64, rj: &[EF]) -> Vec<EF> {
    let mut pt = bits_point(t as usize, g.dl.bits[0]);
    pt.extend_from_slice(rj);
    pt
}

/// Whether node `id` is a provable embedding lookup.
pub(crate) fn supported(vk: &VerifyingKey, id: usize, axis: usize) -> bool {
    let n = &vk.nodes[id];
    axis == 0
        && n.inputs.len() == 2
        && matches!(vk.nodes[n.inputs[0].node].op, Op::Const(_))
        && matches!(vk.nodes[n.inputs[1].node].op, Op::Input(_))
}

fn check_ids(ids: &[i64], rows: usize) -> Result<()> {
    match ids.iter().find(|&&t| t < 0 || t as usize >= rows) {
        Some(t) => Err(Error::Public(format!("token id {t} outside the embedding table's {rows} rows"))),
        None => Ok(()),
    }
}

pub(crate) fn reduce<S: Side>(s: &mut S, id: usize, c: Claim) -> Result<()> {
    let g = geometry(s.vk(), id);
    let ids = s.public_input(g.indices.node)?;
    check_ids(&ids, g.dl.dims[0])?;
    let (ri, rj) = c.point.split_at(g.il.vars());
    let (tokens, pos) = distinct(&ids);
    let ev = s.message(tokens.len(), "embedding rows", |w| {
        let data = w.padded(g.data)?;
        let row = g.rl.padded_len();
        Ok(tokens.iter().map(|&t| evaluate(&data[t as usize * row..(t as usize + 1) * row], rj)).collect())
    })?;
    s.check(
        || {
            let eq = eq_table(ri);
            let sum: EF = g.il.padded_indices().iter().zip(&pos).map(|(&pi, &k)| eq[pi] * ev[k]).sum();
            sum == c.value
        },
        || "embedding rows do not sum to the claim".into(),
    )?;
    for (&t, &e) in tokens.iter().zip(&ev) {
        s.claim(g.data, Claim { point: row_point(&g, t, rj), value: e })?;
    }
    Ok(())
}
