//! The verifier: replays the protocol of the crate docs from the verifying
//! key, the public input and output, and the proof.

use crate::columns::ColumnPlan;
use crate::driver;
use crate::ops::{self, Kind, Route};
use crate::packing::{self, Claim};
use crate::prover::{Seed, seed_from};
use crate::side::{Accumulator, Side, Witness};
use crate::stream::{PartProof, Proof, Source};
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use std::collections::BTreeMap;
use zkml_ir::{Tensor, ValueId};
use zkml_proof::logup::{self, LookupClaims};
use zkml_proof::mle::evaluate;
use zkml_proof::sumcheck::{self, Claims, Table, Term, reduce_claims_verify};
use zkml_proof::{EF, F, Poseidon2Transcript};

/// The verifier's [`Side`]: reads every message from the proof and checks
/// it.
pub(crate) struct VerifierSide<'a> {
    vk: &'a VerifyingKey,
    cols: ColumnPlan,
    inputs: &'a [Tensor],
    outs: &'a [Vec<i64>],
    t: Poseidon2Transcript,
    src: Source<'a>,
    acc: Accumulator,
}

impl std::fmt::Debug for VerifierSide<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierSide").field("claims", &self.acc.graph.len()).finish()
    }
}

impl Side for VerifierSide<'_> {
    fn vk(&self) -> &VerifyingKey {
        self.vk
    }
    fn cols(&self) -> &ColumnPlan {
        &self.cols
    }
    fn transcript(&mut self) -> &mut Poseidon2Transcript {
        &mut self.t
    }
    fn acc(&mut self) -> &mut Accumulator {
        &mut self.acc
    }
    fn message(
        &mut self,
        n: usize,
        what: &str,
        _compute: impl FnOnce(&Witness<'_>) -> Result<Vec<EF>>,
    ) -> Result<Vec<EF>> {
        self.src.evals(&mut self.t, n, what)
    }
    fn sumcheck(
        &mut self,
        vars: usize,
        tables: usize,
        terms: &[Term],
        claim: EF,
        what: &str,
        _build: impl FnOnce(&Witness<'_>) -> Result<Vec<Table>>,
    ) -> Result<Claims> {
        let proof = self.src.sumcheck(what)?;
        sumcheck::verify(vars, tables, terms, claim, proof, &mut self.t)
            .map_err(|e| Error::Reject(format!("{what}: {e}")))
    }
    fn logup(
        &mut self,
        log_n: usize,
        table: &[Vec<F>],
        _mult: usize,
        what: &str,
        _columns: impl FnOnce(&Witness<'_>) -> Result<Vec<Vec<F>>>,
    ) -> Result<LookupClaims> {
        let proof = self.src.logup(what)?;
        let log_t = table.first().map_or(0, |c| c.len().trailing_zeros() as usize);
        logup::verify(log_n, log_t, table.len(), proof, &mut self.t)
            .map_err(|e| Error::Reject(format!("{what}: {e}")))
    }
    fn merge(&mut self, v: ValueId, mut cs: Vec<Claim>) -> Result<Claim> {
        if cs.len() == 1 {
            return Ok(cs.remove(0));
        }
        let vars = self.layout(v).vars();
        let pairs: Vec<(Vec<EF>, EF)> = cs.into_iter().map(|c| (c.point, c.value)).collect();
        let proof = self.src.sumcheck("a claim merge")?;
        let (point, value) = reduce_claims_verify(vars, &pairs, proof, &mut self.t)
            .map_err(|e| Error::Reject(format!("claim merge on {v}: {e}")))?;
        Ok(Claim { point, value })
    }
    fn check(&self, ok: impl FnOnce() -> bool, msg: impl FnOnce() -> String) -> Result<()> {
        if ok() { Ok(()) } else { Err(Error::Reject(msg())) }
    }
    fn ensure(&self, ok: bool, msg: impl FnOnce() -> String) -> Result<()> {
        self.check(|| ok, msg)
    }
    fn check_public(&self, route: Route, v: ValueId, c: &Claim) -> Result<()> {
        let (ints, what) = match route {
            Route::Input(index) => {
                let t = self.inputs.get(index).ok_or_else(|| Error::Public("missing input".into()))?;
                (t.as_i64().map_err(|e| Error::Public(e.to_string()))?, format!("public input {index}"))
            }
            Route::Inline => (
                std::borrow::Cow::Borrowed(self.vk.inline.get(&v.node).map(|x| x.as_slice()).unwrap_or(&[])),
                format!("constant '{}'", self.vk.nodes[v.node].name),
            ),
            _ => return Ok(()),
        };
        let layout = self.layout(v);
        let ok = c.point.len() == layout.vars() && evaluate(&layout.pad_i64(&ints), &c.point) == c.value;
        self.check(|| ok, || format!("claim on {what} is false"))
    }
    fn public_input(&self, node: usize) -> Result<Vec<i64>> {
        let zkml_ir::Op::Input(inp) = &self.vk.nodes[node].op else {
            return Err(Error::Internal(format!("node {node} is not an input")));
        };
        Ok(self
            .inputs
            .get(inp.index)
            .ok_or_else(|| Error::Public("missing input".into()))?
            .as_i64()
            .map_err(|e| Error::Public(e.to_string()))?
            .to_vec())
    }
    fn output_eval(&self, o: ValueId, point: &[EF]) -> Result<EF> {
        let k =
            self.vk.outputs.iter().position(|x| *x == o).ok_or_else(|| Error::Key("output list".into()))?;
        Ok(evaluate(&self.layout(o).pad_i64(&self.outs[k]), point))
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
    let mut v = VerifierSide {
        vk,
        cols,
        inputs,
        outs,
        t: seed.fork(color),
        src: Source::new(proof),
        acc: Accumulator::default(),
    };
    let reported = driver::arguments(&mut v, seed)?;
    driver::graph(&mut v, color)?;

    match &proof.witness_opening {
        Some(o) if !proof.witness.is_empty() => {
            let claims = std::mem::take(&mut v.acc.cols);
            packing::verify(&proof.witness, &wgroups, &v.cols.layouts, &claims, o, &mut v.t)?;
        }
        None if proof.witness.is_empty() => {}
        _ => return Err(Error::Reject("witness opening missing or unexpected".into())),
    }
    match (vk.weights.get(color).and_then(|w| w.as_ref()), &proof.weight_opening) {
        (Some(w), Some(o)) => {
            let claims = std::mem::take(&mut v.acc.weights);
            packing::verify_direct(&w.commitments, &w.groups, &claims, o, &mut v.t)?;
        }
        (None, None) => {}
        _ => return Err(Error::Reject("weight opening missing or unexpected".into())),
    }
    v.src.finish()?;
    Ok(reported)
}
