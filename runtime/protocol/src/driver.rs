//! The one walk of a partition's proof, generic over the [`Side`]: what
//! the prover sends and the verifier reads, in order.
//!
//! 1. **Boundary copies** of the tensors crossing the partition's cuts,
//!    evaluated at their shared points (the verifier later checks that
//!    both sides of every cut report the same value); the copy of a tensor
//!    computed here also starts its claim into the graph.
//! 2. **Committed-column arguments** ([`ops::argue`]): lookups, range
//!    checks and the zerochecks of the op families that commit columns.
//! 3. **Outputs**: each model output computed here is evaluated at a random
//!    point.
//! 4. **The backward walk**: nodes in reverse topological order; each
//!    reduces the claims on its outputs to claims on its inputs
//!    ([`ops::reduce`]).
//!
//! The final openings of the witness and weight commitments follow, per
//! side (`prover.rs`, `verifier.rs`).

use crate::ops;
use crate::packing::Claim;
use crate::prover::{Seed, part_outputs};
use crate::side::Side;
use crate::{Error, Result};
use std::collections::BTreeMap;
use zkml_ir::ValueId;
use zkml_proof::mle::evaluate;
use zkml_proof::{EF, Transcript};

/// Steps 1–2 for partition `color`; returns the values its boundary copies
/// reported at their shared points.
pub(crate) fn arguments<S: Side>(s: &mut S, seed: &Seed) -> Result<BTreeMap<ValueId, EF>> {
    let cols = s.cols();
    let boundary: Vec<(ValueId, usize)> = cols
        .boundary_in
        .iter()
        .chain(&cols.boundary_out)
        .map(|(&v, &c)| (v, c))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let points: Vec<Vec<EF>> =
        boundary.iter().map(|(v, _)| seed.point(*v).map(<[EF]>::to_vec)).collect::<Result<_>>()?;
    s.transcript().label(b"boundary");
    let evals = s.message(boundary.len(), "the boundary tensors", |w| {
        Ok(boundary.iter().zip(&points).map(|(&(_, col), pt)| evaluate(w.col(col), pt)).collect())
    })?;
    // Claims in message order: each copy's opening claim, then, for a
    // tensor computed here, its claim into the graph. The order fixes the
    // opening's batching weights.
    let mut reported = BTreeMap::new();
    for ((&(v, col), point), &e) in boundary.iter().zip(points).zip(&evals) {
        s.col_claim(col, &point, e);
        if s.cols().boundary_out.contains_key(&v) {
            s.claim(v, Claim { point, value: e })?;
        }
        reported.insert(v, e);
    }

    ops::argue(s)?;
    Ok(reported)
}

/// Steps 3–4 for partition `color`.
pub(crate) fn graph<S: Side>(s: &mut S, color: usize) -> Result<()> {
    s.transcript().label(b"outputs");
    for o in part_outputs(s.vk(), color) {
        let vars = s.layout(o).vars();
        let point = s.transcript().challenges_ext(vars);
        let value = s.output_eval(o, &point)?;
        s.claim(o, Claim { point, value })?;
    }

    let nodes = s.vk().partitions.parts[color].nodes.clone();
    for &id in nodes.iter().rev() {
        let kind = ops::classify(s.vk(), id)?;
        for slot in 0..s.vk().nodes[id].outputs.len() {
            let v = ValueId::new(id, slot);
            let Some(cs) = s.acc().graph.remove(&v) else { continue };
            ops::reduce(s, id, slot, &kind, cs).map_err(|e| match e {
                Error::Reject(m) => Error::Reject(format!("node {id} '{}': {m}", s.vk().nodes[id].name)),
                e => e,
            })?;
        }
    }
    let left = s.acc().graph.keys().next().copied();
    s.ensure(left.is_none(), || format!("a claim on {} is left unproven", left.unwrap_or(ValueId::new(0, 0))))
}
