//! The verifier: replays the protocol of the crate docs from the verifying
//! key, the public input and output, and the proof.

use crate::columns::ColumnPlan;
use crate::layout::Layout;
use crate::ops::{self, Kind, Route};
use crate::packing::{self, Claim};
use crate::prover::{Seed, part_outputs, seed_from};
use crate::stream::{PartProof, Proof, Source};
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use std::collections::BTreeMap;
use zkml_ir::{Tensor, ValueId};
use zkml_proof::mle::evaluate;
use zkml_proof::sumcheck::reduce_claims_verify;
use zkml_proof::{EF, Poseidon2Transcript, Transcript};

pub(crate) struct Verifier<'a> {
    pub vk: &'a VerifyingKey,
    pub cols: ColumnPlan,
    pub inputs: &'a [Tensor],
    pub t: Poseidon2Transcript,
    pub src: Source<'a>,
    pub claims: BTreeMap<ValueId, Vec<Claim>>,
    pub col_claims: Vec<(usize, Claim)>,
    pub weight_claims: Vec<(usize, Claim)>,
}

impl std::fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("claims", &self.claims.len()).finish()
    }
}

impl Verifier<'_> {
    pub fn layout(&self, v: ValueId) -> Layout {
        Layout::new(&crate::columns::shape_of(self.vk, v))
    }

    /// Records a claim on a committed column.
    pub fn open_col(&mut self, col: usize, point: &[EF], value: EF) {
        self.col_claims.push((col, Claim { point: point.to_vec(), value }));
    }

    /// Routes a claim on a value: public inputs and inline constants are
    /// checked at once; weights and committed columns are collected for the
    /// final openings; anything else waits for its producer.
    pub fn claim(&mut self, v: ValueId, c: Claim) -> Result<()> {
        let public = |ints: &[i64], what: String, this: &Self| -> Result<()> {
            let layout = this.layout(v);
            if c.point.len() != layout.vars() || evaluate(&layout.pad_i64(ints), &c.point) != c.value {
                return Err(Error::Reject(format!("claim on {what} is false")));
            }
            Ok(())
        };
        match ops::route(self.vk, &self.cols, v)? {
            Route::Input(index) => {
                let t = self.inputs.get(index).ok_or_else(|| Error::Public("missing input".into()))?;
                let ints = t.as_i64().map_err(|e| Error::Public(e.to_string()))?;
                public(&ints, format!("public input {index}"), self)?;
            }
            Route::Inline => {
                let ints = self.vk.inline.get(&v.node).map(|x| x.as_slice()).unwrap_or(&[]);
                public(ints, format!("constant '{}'", self.vk.nodes[v.node].name), self)?;
            }
            Route::Weight(t) => self.weight_claims.push((t, c)),
            Route::Column(col) => self.col_claims.push((col, c)),
            Route::Graph => self.claims.entry(v).or_default().push(c),
        }
        Ok(())
    }
}

/// Verifies a proof that `outputs` is the plan's inference on `inputs`
/// (quantized integer tensors of the key's input and output facts).
///
/// The partitions' proofs are checked independently (in parallel), each on
/// its transcript forked from the shared seed; then every boundary tensor's
/// copies must report the same value at the tensor's shared point.
pub fn verify(vk: &VerifyingKey, inputs: &[Tensor], outputs: &[Tensor], proof: &Proof) -> Result<()> {
    use rayon::prelude::*;
    let digest = vk.digest()?;
    let check = |ts: &[Tensor], facts: Vec<ValueId>, what: &str| -> Result<Vec<Vec<i64>>> {
        if ts.len() != facts.len() {
            return Err(Error::Public(format!("{} {what}s given, the model has {}", ts.len(), facts.len())));
        }
        ts.iter()
            .zip(facts)
            .enumerate()
            .map(|(i, (t, v))| {
                let fact = vk.fact(v).ok_or_else(|| Error::Key(format!("{what} {v} missing")))?;
                let ints = t.as_i64().map_err(|e| Error::Public(format!("{what} {i}: {e}")))?;
                if t.shape() != fact.shape.as_slice() {
                    return Err(Error::Public(format!(
                        "{what} {i} has shape {:?}, expected {}",
                        t.shape(),
                        fact
                    )));
                }
                zkml_ir::check_range(t, fact).map_err(|e| Error::Public(format!("{what} {i}: {e}")))?;
                Ok(ints.to_vec())
            })
            .collect()
    };
    let ins = check(inputs, vk.inputs.iter().map(|&i| ValueId::new(i, 0)).collect(), "input")?;
    let outs = check(outputs, vk.outputs.clone(), "output")?;
    let sat = &proof.saturating;
    let lookup =
        |id: usize| matches!(ops::classify(vk, id), Ok(Kind::Table(_) | Kind::Range(_) | Kind::Relu(_)));
    if sat.windows(2).any(|w| w[0] >= w[1]) || !sat.iter().all(|&id| lookup(id)) {
        return Err(Error::Reject("the saturating-lookup list names non-lookups or is not sorted".into()));
    }
    let commitments: Vec<Vec<zkml_proof::pcs::Commitment>> =
        proof.parts.iter().map(|p| p.witness.clone()).collect();
    let public = (ins, outs);
    let seed = seed_from(vk, &digest, &public, sat, &commitments)?;
    let reported: Vec<BTreeMap<ValueId, EF>> = proof
        .parts
        .par_iter()
        .enumerate()
        .map(|(color, part)| {
            verify_part(vk, color, inputs, &public.1, &seed, sat, part).map_err(|e| match e {
                Error::Reject(m) if vk.partitions.len() > 1 => {
                    Error::Reject(format!("partition {color}: {m}"))
                }
                e => e,
            })
        })
        .collect::<Result<_>>()?;
    // Both sides of every cut committed the same tensor (Schwartz–Zippel
    // at the shared point, drawn after every commitment).
    for part in &vk.partitions.parts {
        for v in &part.outputs {
            let mine = reported[part.color as usize].get(v);
            for other in &vk.partitions.parts {
                if other.inputs.contains(v) && reported[other.color as usize].get(v) != mine {
                    return Err(Error::Reject(format!(
                        "boundary tensor {v}: partition {} and partition {} committed different values",
                        part.color, other.color
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Verifies partition `color`'s proof; returns the values its boundary
/// copies reported at their shared points.
fn verify_part(
    vk: &VerifyingKey,
    color: usize,
    inputs: &[Tensor],
    outs: &[Vec<i64>],
    seed: &Seed,
    sat: &[usize],
    proof: &PartProof,
) -> Result<BTreeMap<ValueId, EF>> {
    let cols = ColumnPlan::new(vk, color, sat)?;
    let wgroups = cols.witness_groups();
    if proof.witness.len() != wgroups.packings.len() {
        return Err(Error::Reject("wrong number of witness commitments".into()));
    }
    let mut v = Verifier {
        vk,
        cols,
        inputs,
        t: seed.fork(color),
        src: Source::new(proof),
        claims: BTreeMap::new(),
        col_claims: vec![],
        weight_claims: vec![],
    };
    let boundary: BTreeMap<ValueId, usize> =
        v.cols.boundary_in.iter().chain(&v.cols.boundary_out).map(|(&x, &c)| (x, c)).collect();
    v.t.label(b"boundary");
    let evals = v.src.evals(&mut v.t, boundary.len(), "the boundary tensors")?;
    let mut reported = BTreeMap::new();
    for ((&val, &col), &e) in boundary.iter().zip(&evals) {
        let point = seed.point(val)?.to_vec();
        v.open_col(col, &point, e);
        if v.cols.boundary_out.contains_key(&val) {
            v.claim(val, Claim { point, value: e })?;
        }
        reported.insert(val, e);
    }

    ops::lookup::verify_tables(&mut v)?;
    ops::lookup::verify_range(&mut v)?;
    for id in ops::reduce::max_nodes(&v.cols) {
        ops::reduce::verify_max(&mut v, id)?;
    }
    for id in ops::lookup::relu_nodes(&v.cols) {
        ops::lookup::verify_relu(&mut v, id)?;
    }
    for id in v.cols.saturating() {
        ops::lookup::verify_saturation(&mut v, id)?;
    }

    v.t.label(b"outputs");
    for o in part_outputs(vk, color) {
        let k = vk.outputs.iter().position(|x| *x == o).ok_or_else(|| Error::Key("output list".into()))?;
        let layout = v.layout(o);
        let point = v.t.challenges_ext(layout.vars());
        let value = evaluate(&layout.pad_i64(&outs[k]), &point);
        v.claim(o, Claim { point, value })?;
    }
    for &id in vk.partitions.parts[color].nodes.iter().rev() {
        let kind = ops::classify(vk, id)?;
        for slot in 0..vk.nodes[id].outputs.len() {
            let val = ValueId::new(id, slot);
            let Some(cs) = v.claims.remove(&val) else { continue };
            if let Kind::Range(q) | Kind::Relu(q) = &kind {
                for c in cs {
                    ops::lookup::verify_range_claim(&mut v, id, q, c)?;
                }
                continue;
            }
            let c = merge(&mut v, val, cs)?;
            let at = |e: Error| match e {
                Error::Reject(m) => Error::Reject(format!("node {id} '{}': {m}", vk.nodes[id].name)),
                e => e,
            };
            match &kind {
                Kind::Contract { operands, output } => ops::einsum::verify(&mut v, id, operands, output, c),
                Kind::Add { sub } => ops::elementwise::verify_add(&mut v, id, *sub, c),
                Kind::Mul => ops::elementwise::verify_mul(&mut v, id, c),
                Kind::Move => ops::movement::verify(&mut v, id, slot, c),
                Kind::Embed => ops::embed::verify(&mut v, id, c),
                Kind::Input
                | Kind::Const
                | Kind::Table(_)
                | Kind::LogTable(_)
                | Kind::Range(_)
                | Kind::Relu(_)
                | Kind::Max { .. } => Err(Error::Internal(format!("claim on {val} was not routed"))),
            }
            .map_err(at)?;
        }
    }
    if let Some(val) = v.claims.keys().next() {
        return Err(Error::Reject(format!("a claim on {val} is left unproven")));
    }

    match &proof.witness_opening {
        Some(o) if !proof.witness.is_empty() => {
            let claims = std::mem::take(&mut v.col_claims);
            packing::verify(&proof.witness, &wgroups, &v.cols.layouts, &claims, o, &mut v.t)?;
        }
        None if proof.witness.is_empty() => {}
        _ => return Err(Error::Reject("witness opening missing or unexpected".into())),
    }
    match (vk.weights.get(color).and_then(|w| w.as_ref()), &proof.weight_opening) {
        (Some(w), Some(o)) => {
            let claims = std::mem::take(&mut v.weight_claims);
            packing::verify_direct(&w.commitments, &w.groups, &claims, o, &mut v.t)?;
        }
        (None, None) => {}
        _ => return Err(Error::Reject("weight opening missing or unexpected".into())),
    }
    v.src.finish()?;
    Ok(reported)
}

fn merge(v: &mut Verifier<'_>, val: ValueId, mut cs: Vec<Claim>) -> Result<Claim> {
    if cs.len() == 1 {
        return Ok(cs.remove(0));
    }
    let vars = v.layout(val).vars();
    let pairs: Vec<(Vec<EF>, EF)> = cs.into_iter().map(|c| (c.point, c.value)).collect();
    let proof = v.src.sumcheck("a claim merge")?;
    let (point, value) = reduce_claims_verify(vars, &pairs, proof, &mut v.t)
        .map_err(|e| Error::Reject(format!("claim merge on {val}: {e}")))?;
    Ok(Claim { point, value })
}
