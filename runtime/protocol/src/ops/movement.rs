//! Data movement: reshape, transpose, slice, concat, split, pad, expand,
//! im2col. Each output entry is one input entry or zero, so on the padded
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
use crate::prover::Prover;
use crate::verifier::Verifier;
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use zkml_ir::{Tensor, ValueId};
use zkml_proof::mle::eq_table;
use zkml_proof::sumcheck::{self, Table, Term};
use zkml_proof::{EF, F};

const INPUT_SHIFT: u32 = 40;

/// `(padded output position, input, padded input position)` of every
/// nonzero output entry of output `slot`.
fn index_map(vk: &VerifyingKey, id: usize, slot: usize) -> Result<Vec<(usize, usize, usize)>> {
    let node = &vk.nodes[id];
    let mut tensors = Vec::with_capacity(node.inputs.len());
    for (k, &v) in node.inputs.iter().enumerate() {
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

pub(crate) fn prove(p: &mut Prover<'_>, id: usize, slot: usize, c: Claim) -> Result<()> {
    let vk = &p.pk.vk;
    let inputs: Vec<ValueId> = vk.nodes[id].inputs.clone();
    let map = index_map(vk, id, slot)?;
    if let Some(point) = relabel(vk, id, &map, &c.point) {
        p.claim(inputs[0], Claim { point, value: c.value })?;
        return Ok(());
    }
    let eq_r = eq_table(&c.point);
    let mut ws: Vec<Option<Vec<EF>>> = vec![None; inputs.len()];
    for &(py, k, x) in &map {
        let len = p.layout(inputs[k]).padded_len();
        ws[k].get_or_insert_with(|| vec![EF::ZERO; len])[x] += eq_r[py];
    }
    let mut tables: Vec<Option<Vec<F>>> = vec![None; inputs.len()];
    let mut sums = vec![EF::ZERO; inputs.len()];
    for k in 0..inputs.len() {
        if let Some(w) = &ws[k] {
            let t = p.padded(inputs[k])?;
            sums[k] = t.iter().zip(w).map(|(&a, &b)| b * a).sum();
            tables[k] = Some(t);
        }
    }
    p.sink.evals(&mut p.t, sums.clone());
    for k in 0..inputs.len() {
        let (Some(t), Some(w)) = (tables[k].take(), ws[k].take()) else { continue };
        let (proof, out) = sumcheck::prove(vec![Table::Base(t), Table::Ext(w)], &terms(), sums[k], &mut p.t)?;
        p.sink.sumcheck(proof);
        p.claim(inputs[k], Claim { point: out.point, value: out.evals[0] })?;
    }
    Ok(())
}

pub(crate) fn verify(v: &mut Verifier<'_>, id: usize, slot: usize, c: Claim) -> Result<()> {
    let inputs: Vec<ValueId> = v.vk.nodes[id].inputs.clone();
    let map = index_map(v.vk, id, slot)?;
    if let Some(point) = relabel(v.vk, id, &map, &c.point) {
        return v.claim(inputs[0], Claim { point, value: c.value });
    }
    let sums = v.src.evals(&mut v.t, inputs.len(), "data movement")?;
    if sums.iter().copied().sum::<EF>() != c.value {
        return Err(Error::Reject("data movement: input shares do not sum to the claim".into()));
    }
    let eq_r = eq_table(&c.point);
    for k in 0..inputs.len() {
        if !map.iter().any(|&(_, kk, _)| kk == k) {
            if sums[k] != EF::ZERO {
                return Err(Error::Reject("data movement: unused input has a nonzero share".into()));
            }
            continue;
        }
        let vars = v.layout(inputs[k]).vars();
        let proof = v.src.sumcheck("data movement")?;
        let out = sumcheck::verify(vars, 2, &terms(), sums[k], proof, &mut v.t)
            .map_err(|e| Error::Reject(format!("data movement sumcheck: {e}")))?;
        let eq_s = eq_table(&out.point);
        let w: EF = map.iter().filter(|&&(_, kk, _)| kk == k).map(|&(py, _, x)| eq_r[py] * eq_s[x]).sum();
        if w != out.evals[1] {
            return Err(Error::Reject("data movement: map evaluation mismatch".into()));
        }
        v.claim(inputs[k], Claim { point: out.point, value: out.evals[0] })?;
    }
    Ok(())
}
