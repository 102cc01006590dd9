//! Data movement: reshape, transpose, slice, concat, split, pad, expand,
//! im2col, and gathers by constant indices (the indices are in the key: a
//! fixed selection, not data). Each output entry is one input entry or zero, so on the padded
//! layouts `out(y) = Σ_k Σ_x M_k(y, x) · in_k(x)` with a 0/1 matrix `M_k`
//! that has at most one 1 per row.
//!
//! The map is computed, by prover and verifier alike, by running the op's
//! own IR evaluation on *index tensors* (entry = its input number and padded
//! position, `0` for "none"), so it is the executor's semantics by
//! construction.
//!
//! A claim `out(r) = e` becomes, with `W_k(x) = Σ_y eq(r, y) M_k(y, x)`:
//! the prover sends `e_k = Σ_x W_k(x) in_k(x)` (the verifier checks
//! `Σ_k e_k = e`), and one degree-2 sumcheck per input reduces `e_k` to a
//! claim on `in_k` at a random `s`. The verifier evaluates
//! `W_k(s) = Σ_y eq(r, y) eq(s, g(y))` in `O(|out| + |in_k|)`: linear in the
//! tensor, not succinct.
//!
//! Transposes, and reshapes whose padded layouts coincide (splitting or
//! merging axes with power-of-two inner sizes, e.g. `[16, 576] → [16, 9,
//! 64]`), are pure relabellings of the variables: the claim moves to the
//! input with its point permuted (or unchanged), no sumcheck.

use crate::layout::Layout;
use crate::packing::Claim;
use crate::side::{Side, layout_of};
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use zkml_ir::{Tensor, ValueId};
use zkml_proof::mle::eq_table;
use zkml_proof::sumcheck::{Table, Term};
use zkml_proof::{EF, F};

const INPUT_SHIFT: u32 = 40;

/// The indices of a `gather` by constant indices stored in the key (so the
/// verifier knows them): a fixed selection along the axis, hence data
/// movement. `None` for any other node.
pub(crate) fn constant_indices(vk: &VerifyingKey, id: usize) -> Option<&[i64]> {
    let n = vk.nodes.get(id)?;
    if !matches!(n.op, zkml_ir::Op::Gather(_)) || n.inputs.len() != 2 {
        return None;
    }
    vk.inline.get(&n.inputs[1].node).map(Vec::as_slice)
}

/// `(padded output position, input, padded input position)` of every
/// nonzero output entry of output `slot`.
fn index_map(vk: &VerifyingKey, id: usize, slot: usize) -> Result<Vec<(usize, usize, usize)>> {
    let node = &vk.nodes[id];
    let mut tensors = Vec::with_capacity(node.inputs.len());
    let indices = constant_indices(vk, id);
    for (k, &v) in node.inputs.iter().enumerate() {
        if k == 1
            && let Some(ix) = indices
        {
            // A gather's constant indices select; they carry no data.
            let t = Tensor::from_i64(crate::columns::shape_of(vk, v), ix.to_vec());
            tensors.push(t.map_err(|e| Error::Internal(e.to_string()))?);
            continue;
        }
        let l = Layout::new(&crate::columns::shape_of(vk, v));
        let vals: Vec<i64> =
            l.padded_indices().iter().map(|&p| ((k as i64) << INPUT_SHIFT) | (p as i64 + 1)).collect();
        tensors.push(Tensor::from_i64(l.dims.clone(), vals).map_err(|e| Error::Internal(e.to_string()))?);
    }
    let refs: Vec<&Tensor> = tensors.iter().collect();
    let mut outs = node.op.eval(&refs).map_err(|e| Error::Internal(format!("node {id}: {e}")))?;
    if slot >= outs.len() {
        return Err(Error::Internal(format!("node {id} has no output {slot}")));
    }
    let out = outs.swap_remove(slot);
    let vals = out.as_i64().map_err(|e| Error::Internal(e.to_string()))?;
    let ol = Layout::new(out.shape());
    let mask = (1i64 << INPUT_SHIFT) - 1;
    Ok(ol
        .padded_indices()
        .iter()
        .zip(vals.iter())
        .filter(|(_, v)| **v != 0)
        .map(|(&py, &v)| (py, (v >> INPUT_SHIFT) as usize, ((v & mask) - 1) as usize))
        .collect())
}

/// A pure relabelling of variables: `out(r) = in(π(r))` with no sumcheck.
/// Transposes permute the per-axis blocks of the point; a reshape whose
/// padded layouts coincide entry for entry (splitting or merging axes whose
/// inner sizes are powers of two) keeps the point as it is.
fn relabel(vk: &VerifyingKey, id: usize, map: &[(usize, usize, usize)], point: &[EF]) -> Option<Vec<EF>> {
    let node = &vk.nodes[id];
    if node.inputs.len() != 1 {
        return None;
    }
    let il = Layout::new(&crate::columns::shape_of(vk, node.inputs[0]));
    let ol = Layout::new(&crate::columns::shape_of(vk, ValueId::new(id, 0)));
    if let zkml_ir::Op::Transpose(t) = &node.op {
        let parts = ol.split(point);
        let mut blocks: Vec<&[EF]> = vec![&[]; il.rank()];
        for (a, &b) in t.perm.iter().enumerate() {
            *blocks.get_mut(b)? = parts.get(a)?;
        }
        return Some(blocks.concat());
    }
    let identity = il.vars() == ol.vars()
        && map.len() == il.real_len()
        && node.outputs.len() == 1
        && map.iter().all(|&(py, _, x)| py == x);
    identity.then(|| point.to_vec())
}

fn terms() -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1] }]
}

pub(crate) fn reduce<S: Side>(s: &mut S, id: usize, slot: usize, c: Claim) -> Result<()> {
    let inputs: Vec<ValueId> = s.vk().nodes[id].inputs.clone();
    let map = index_map(s.vk(), id, slot)?;
    if let Some(point) = relabel(s.vk(), id, &map, &c.point) {
        return s.claim(inputs[0], Claim { point, value: c.value });
    }
    let n = inputs.len();
    let eq_r = eq_table(&c.point);
    let used: Vec<bool> = (0..n).map(|k| map.iter().any(|&(_, kk, _)| kk == k)).collect();
    // The prover's tables (input, W_k), built once for the shares and the
    // sumchecks.
    let mut stash: Vec<Option<(Vec<F>, Vec<EF>)>> = vec![None; n];
    let sums = s.message(n, "data movement", |w| {
        let mut ws: Vec<Option<Vec<EF>>> = vec![None; n];
        for &(py, k, x) in &map {
            let len = layout_of(w.vk, inputs[k]).padded_len();
            ws[k].get_or_insert_with(|| vec![EF::ZERO; len])[x] += eq_r[py];
        }
        let mut sums = vec![EF::ZERO; n];
        for k in 0..n {
            if let Some(wk) = ws[k].take() {
                let t = w.padded(inputs[k])?;
                sums[k] = t.iter().zip(&wk).map(|(&a, &b)| b * a).sum();
                stash[k] = Some((t, wk));
            }
        }
        Ok(sums)
    })?;
    s.check(
        || sums.iter().copied().sum::<EF>() == c.value,
        || "data movement: input shares do not sum to the claim".into(),
    )?;
    for k in 0..n {
        if !used[k] {
            s.check(|| sums[k] == EF::ZERO, || "data movement: unused input has a nonzero share".into())?;
            continue;
        }
        let vars = s.layout(inputs[k]).vars();
        let out = s.sumcheck(vars, 2, &terms(), sums[k], "data movement sumcheck", |_| {
            let (t, wk) = stash[k].take().ok_or_else(|| Error::Internal("data movement tables".into()))?;
            Ok(vec![Table::Base(t), Table::Ext(wk)])
        })?;
        s.check(
            || {
                let eq_s = eq_table(&out.point);
                let w: EF =
                    map.iter().filter(|&&(_, kk, _)| kk == k).map(|&(py, _, x)| eq_r[py] * eq_s[x]).sum();
                w == out.evals[1]
            },
            || "data movement: map evaluation mismatch".into(),
        )?;
        s.claim(inputs[k], Claim { point: out.point, value: out.evals[0] })?;
    }
    Ok(())
}
