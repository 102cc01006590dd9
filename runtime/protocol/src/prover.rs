//! The prover: runs the protocol of the crate docs on the executor's values.

use crate::columns::ColumnPlan;
use crate::layout::Layout;
use crate::ops::{self, Kind, Route};
use crate::packing::{self, Claim, Committed};
use crate::stream::{PartProof, Proof, Sink};
use crate::vk::{ProvingKey, VerifyingKey};
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use zkml_ir::{Tensor, ValueId};
use zkml_proof::mle::evaluate;
use zkml_proof::pcs::Commitment;
use zkml_proof::sumcheck::reduce_claims_prove;
use zkml_proof::{EF, F, Poseidon2Transcript, Transcript};

/// Where proving time went.
#[derive(Debug, Clone, Default)]
pub struct ProveStats {
    pub commit: Duration,
    pub lookups: Duration,
    pub graph: Duration,
    pub openings: Duration,
    /// Committed witness entries (packed, padded).
    pub witness_len: usize,
}

pub(crate) struct Prover<'a> {
    pub pk: &'a ProvingKey,
    pub cols: ColumnPlan,
    pub col_data: &'a [Vec<F>],
    pub values: &'a [Vec<Tensor>],
    pub t: Poseidon2Transcript,
    pub sink: Sink,
    pub claims: BTreeMap<ValueId, Vec<Claim>>,
    pub col_claims: Vec<(usize, Claim)>,
    pub weight_claims: Vec<(usize, Claim)>,
}

impl std::fmt::Debug for Prover<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover").field("claims", &self.claims.len()).finish()
    }
}

impl<'a> Prover<'a> {
    fn tensor(&self, v: ValueId) -> Result<&'a Tensor> {
        self.values
            .get(v.node)
            .and_then(|n| n.get(v.slot))
            .ok_or_else(|| Error::Internal(format!("witness lacks {v}")))
    }

    /// A value's integers (borrowed unless stored narrow).
    pub fn ints(&self, v: ValueId) -> Result<Cow<'a, [i64]>> {
        self.tensor(v)?.as_i64().map_err(|e| Error::Internal(format!("witness {v}: {e}")))
    }

    pub fn layout(&self, v: ValueId) -> Layout {
        Layout::new(&crate::columns::shape_of(&self.pk.vk, v))
    }

    /// The padded field table of a value.
    pub fn padded(&self, v: ValueId) -> Result<Vec<F>> {
        self.layout(v)
            .pad_data(self.tensor(v)?.data())
            .ok_or_else(|| Error::Internal(format!("witness {v} holds no integers")))
    }

    /// Evaluates committed column `col` at `point` and records the claim.
    pub fn open_col(&mut self, col: usize, point: &[EF]) -> EF {
        let value = evaluate(&self.col_data[col], point);
        self.col_claims.push((col, Claim { point: point.to_vec(), value }));
        value
    }

    /// Routes a claim on a value to where it is proven.
    pub fn claim(&mut self, v: ValueId, c: Claim) -> Result<()> {
        match ops::route(&self.pk.vk, &self.cols, v)? {
            Route::Input(_) | Route::Inline => {}
            Route::Weight(t) => self.weight_claims.push((t, c)),
            Route::Column(col) => self.col_claims.push((col, c)),
            Route::Graph => self.claims.entry(v).or_default().push(c),
        }
        Ok(())
    }
}

/// Binds the statement: key digest, public inputs, public outputs.
pub(crate) fn bind<T: Transcript>(t: &mut T, digest: &[u8; 32], inputs: &[&[i64]], outputs: &[&[i64]]) {
    t.label(b"zkml-graph-proof-v1");
    t.absorb_bytes(digest);
    for group in [inputs, outputs] {
        t.absorb_base(&[F::from_u64(group.len() as u64)]);
        for v in group {
            t.absorb_base(&[F::from_u64(v.len() as u64)]);
            t.absorb_base(&v.iter().map(|&x| zkml_proof::field::embed_i64(x)).collect::<Vec<_>>());
        }
    }
}

pub(crate) fn bind_saturating<T: Transcript>(t: &mut T, nodes: &[usize]) {
    t.label(b"saturating-lookups");
    t.absorb_base(&[F::from_u64(nodes.len() as u64)]);
    t.absorb_base(&nodes.iter().map(|&n| F::from_u64(n as u64)).collect::<Vec<_>>());
}

pub(crate) fn commitment_bytes(c: &zkml_proof::pcs::Commitment) -> Result<Vec<u8>> {
    Ok(zkml_proof::encoding::encode(c)?)
}

/// Proves one inference. `values[node][slot]` are the executor's outputs
/// of every node of the plan the key was made from (inputs and constants
/// included).
pub fn prove(pk: &ProvingKey, values: &[Vec<Tensor>]) -> Result<(Proof, ProveStats)> {
    prove_with(pk, values, &|_, _| {})
}

/// Columns hook of a *malicious* prover: alters a partition's witness
/// columns (`ColumnPlan::color` says which) before they are committed. For
/// soundness tests only; an honest caller uses [`prove`].
pub type Tamper<'t> = &'t (dyn Fn(&ColumnPlan, &mut [Vec<F>]) + Sync);

/// [`prove`] with the committed columns altered by `tamper` (soundness
/// tests: the verifier must reject whatever this produces).
#[doc(hidden)]
pub fn prove_with(
    pk: &ProvingKey,
    values: &[Vec<Tensor>],
    tamper: Tamper<'_>,
) -> Result<(Proof, ProveStats)> {
    use rayon::prelude::*;
    let vk = &pk.vk;
    let t0 = Instant::now();
    let saturating = crate::columns::saturating_nodes(vk, values)?;
    let colors: Vec<usize> = (0..vk.partitions.len()).collect();
    let witnesses: Vec<PartWitness> = colors
        .par_iter()
        .map(|&c| commit_part_with(pk, c, &saturating, values, tamper))
        .collect::<Result<_>>()?;
    let commit = t0.elapsed();
    let commitments: Vec<Vec<Commitment>> = witnesses.iter().map(|w| w.commitments()).collect();
    let seed = Seed::derive(pk, &public_values(vk, values)?, &saturating, &commitments)?;
    let proved: Vec<(PartProof, ProveStats)> =
        witnesses.par_iter().map(|w| prove_part(pk, &seed, w, values)).collect::<Result<_>>()?;
    let mut stats = ProveStats { commit, ..ProveStats::default() };
    let mut parts = Vec::with_capacity(proved.len());
    for (part, s) in proved {
        stats.lookups += s.lookups;
        stats.graph += s.graph;
        stats.openings += s.openings;
        stats.witness_len += s.witness_len;
        parts.push(part);
    }
    Ok((Proof { saturating, parts }, stats))
}

/// Public inputs and outputs as integers: `(inputs, outputs)`.
pub type Public = (Vec<Vec<i64>>, Vec<Vec<i64>>);

/// The public inputs and outputs of an inference, from its witness.
pub fn public_values(vk: &VerifyingKey, values: &[Vec<Tensor>]) -> Result<Public> {
    let get = |v: ValueId| -> Result<Vec<i64>> {
        Ok(values
            .get(v.node)
            .and_then(|n| n.get(v.slot))
            .ok_or_else(|| Error::Internal(format!("witness lacks {v}")))?
            .as_i64()
            .map_err(|e| Error::Internal(format!("witness {v}: {e}")))?
            .to_vec())
    };
    let ins = vk.inputs.iter().map(|&i| get(ValueId::new(i, 0))).collect::<Result<_>>()?;
    let outs = vk.outputs.iter().map(|&o| get(o)).collect::<Result<_>>()?;
    Ok((ins, outs))
}

/// A partition's committed witness (the first phase of its proof).
#[derive(Debug)]
pub struct PartWitness {
    pub cols: ColumnPlan,
    col_data: Vec<Vec<F>>,
    committed: Option<Committed>,
}

impl PartWitness {
    /// The commitments every prover and the verifier absorb before the seed.
    pub fn commitments(&self) -> Vec<Commitment> {
        self.committed.as_ref().map(Committed::commitments).unwrap_or_default()
    }
    pub fn color(&self) -> usize {
        self.cols.color
    }
}

/// Phase 1 for partition `color`: computes and commits its witness columns
/// (lookup columns, boundary copies) from `values`, which needs the values
/// of the partition's nodes and of its boundary inputs only.
pub fn commit_part(
    pk: &ProvingKey,
    color: usize,
    saturating: &[usize],
    values: &[Vec<Tensor>],
) -> Result<PartWitness> {
    commit_part_with(pk, color, saturating, values, &|_, _| {})
}

fn commit_part_with(
    pk: &ProvingKey,
    color: usize,
    saturating: &[usize],
    values: &[Vec<Tensor>],
    tamper: Tamper<'_>,
) -> Result<PartWitness> {
    let cols = ColumnPlan::new(&pk.vk, color, saturating)?;
    let mut col_data = cols.fill(&pk.vk, values)?;
    tamper(&cols, &mut col_data);
    let committed = if col_data.is_empty() {
        None
    } else {
        let refs: Vec<&[F]> = col_data.iter().map(|c| c.as_slice()).collect();
        Some(Committed::new(cols.layouts.clone(), &refs)?)
    };
    Ok(PartWitness { cols, col_data, committed })
}

/// The randomness every partition's proof starts from: the statement and
/// every partition's commitments absorbed, then a seed (for the forked
/// transcripts) and one point per boundary tensor (where its copies must
/// agree).
#[derive(Debug, Clone)]
pub struct Seed {
    seed: Vec<EF>,
    points: BTreeMap<ValueId, Vec<EF>>,
}

impl Seed {
    /// Binds the statement (key digest, public inputs and outputs, the
    /// saturating lookups) and the partitions' commitments (by color).
    pub fn derive(
        pk: &ProvingKey,
        public: &Public,
        saturating: &[usize],
        commitments: &[Vec<Commitment>],
    ) -> Result<Seed> {
        seed_from(&pk.vk, &pk.digest, public, saturating, commitments)
    }

    /// The transcript of partition `color`.
    pub(crate) fn fork(&self, color: usize) -> Poseidon2Transcript {
        let mut t = Poseidon2Transcript::new(b"zkml-partition");
        t.absorb_ext(&self.seed);
        t.absorb_base(&[F::from_u64(color as u64)]);
        t
    }

    pub(crate) fn point(&self, v: ValueId) -> Result<&[EF]> {
        self.points.get(&v).map(|p| p.as_slice()).ok_or_else(|| Error::Internal(format!("no point for {v}")))
    }
}

pub(crate) fn seed_from(
    vk: &VerifyingKey,
    digest: &[u8; 32],
    public: &Public,
    saturating: &[usize],
    commitments: &[Vec<Commitment>],
) -> Result<Seed> {
    let mut t = Poseidon2Transcript::new(b"zkml");
    let ins: Vec<&[i64]> = public.0.iter().map(|v| v.as_slice()).collect();
    let outs: Vec<&[i64]> = public.1.iter().map(|v| v.as_slice()).collect();
    bind(&mut t, digest, &ins, &outs);
    bind_saturating(&mut t, saturating);
    if commitments.len() != vk.partitions.len() {
        return Err(Error::Reject(format!(
            "{} partition proofs, the key has {} partitions",
            commitments.len(),
            vk.partitions.len()
        )));
    }
    t.label(b"partition-commitments");
    t.absorb_base(&[F::from_u64(commitments.len() as u64)]);
    for cs in commitments {
        t.absorb_base(&[F::from_u64(cs.len() as u64)]);
        for c in cs {
            t.absorb_bytes(&commitment_bytes(c)?);
        }
    }
    let seed = t.challenges_ext(2);
    let mut points = BTreeMap::new();
    for part in &vk.partitions.parts {
        for &v in &part.outputs {
            let vars = Layout::new(&crate::columns::shape_of(vk, v)).vars();
            points.insert(v, t.challenges_ext(vars));
        }
    }
    Ok(Seed { seed, points })
}

/// The nodes of partition `color` whose outputs are claimed first: the
/// model outputs it computes (partition 0 also takes outputs that are
/// inputs or constants, checked directly).
pub(crate) fn part_outputs(vk: &VerifyingKey, color: usize) -> Vec<ValueId> {
    let colors = vk.partitions.colors(vk.nodes.as_slice());
    vk.outputs
        .iter()
        .copied()
        .filter(|o| match colors.get(o.node).copied().flatten() {
            Some(c) => c as usize == color,
            None => color == 0,
        })
        .collect()
}

/// Phase 2 for one partition: its proof on the transcript forked from
/// `seed`, ending in the openings of its own witness and weight
/// commitments.
pub fn prove_part<'a>(
    pk: &'a ProvingKey,
    seed: &Seed,
    w: &'a PartWitness,
    values: &'a [Vec<Tensor>],
) -> Result<(PartProof, ProveStats)> {
    let vk = &pk.vk;
    let color = w.cols.color;
    let mut stats = ProveStats::default();
    let mut p = Prover {
        pk,
        cols: w.cols.clone(),
        col_data: &w.col_data,
        values,
        t: seed.fork(color),
        sink: Sink::new(),
        claims: BTreeMap::new(),
        col_claims: vec![],
        weight_claims: vec![],
    };
    p.sink.proof.witness = w.commitments();
    stats.witness_len = w.committed.as_ref().map_or(0, Committed::len);

    // Boundary copies evaluated at the shared points (the verifier checks
    // that both sides of every cut report the same value); the copy of a
    // tensor computed here also starts its graph claim.
    let boundary: BTreeMap<ValueId, usize> =
        w.cols.boundary_in.iter().chain(&w.cols.boundary_out).map(|(&v, &c)| (v, c)).collect();
    let mut evals = vec![];
    for (&v, &col) in &boundary {
        evals.push(evaluate(&w.col_data[col], seed.point(v)?));
    }
    p.t.label(b"boundary");
    p.sink.evals(&mut p.t, evals.clone());
    // Claims in the verifier's order (it reads the values first): each
    // copy's opening claim, then, for a tensor computed here, its claim
    // into the graph. The order fixes the opening's batching weights.
    for ((&v, &col), value) in boundary.iter().zip(evals) {
        let point = seed.point(v)?.to_vec();
        p.col_claims.push((col, Claim { point: point.clone(), value }));
        if w.cols.boundary_out.contains_key(&v) {
            p.claim(v, Claim { point, value })?;
        }
    }

    let t1 = Instant::now();
    ops::lookup::prove_tables(&mut p)?;
    ops::lookup::prove_range(&mut p)?;
    for id in ops::reduce::max_nodes(&p.cols) {
        ops::reduce::prove_max(&mut p, id)?;
    }
    for id in ops::lookup::relu_nodes(&p.cols) {
        ops::lookup::prove_relu(&mut p, id)?;
    }
    let saturating: Vec<usize> = p.cols.saturating();
    for id in saturating {
        ops::lookup::prove_saturation(&mut p, id)?;
    }
    stats.lookups = t1.elapsed();

    let t2 = Instant::now();
    p.t.label(b"outputs");
    for o in part_outputs(vk, color) {
        let table = p.padded(o)?;
        let point = p.t.challenges_ext(p.layout(o).vars());
        let value = evaluate(&table, &point);
        p.claim(o, Claim { point, value })?;
    }
    for &id in vk.partitions.parts[color].nodes.iter().rev() {
        let kind = ops::classify(vk, id)?;
        for slot in 0..vk.nodes[id].outputs.len() {
            let v = ValueId::new(id, slot);
            let Some(cs) = p.claims.remove(&v) else { continue };
            if let Kind::Range(q) | Kind::Relu(q) = &kind {
                for c in cs {
                    ops::lookup::prove_range_claim(&mut p, id, q, c)?;
                }
                continue;
            }
            let c = merge(&mut p, v, cs)?;
            match &kind {
                Kind::Contract { operands, output } => ops::einsum::prove(&mut p, id, operands, output, c)?,
                Kind::Add { sub } => ops::elementwise::prove_add(&mut p, id, *sub, c)?,
                Kind::Mul => ops::elementwise::prove_mul(&mut p, id, c)?,
                Kind::Move => ops::movement::prove(&mut p, id, slot, c)?,
                Kind::Embed => ops::embed::prove(&mut p, id, c)?,
                Kind::Input
                | Kind::Const
                | Kind::Table(_)
                | Kind::LogTable(_)
                | Kind::Range(_)
                | Kind::Relu(_)
                | Kind::Max { .. } => {
                    return Err(Error::Internal(format!("claim on {v} was not routed")));
                }
            }
        }
    }
    if let Some(v) = p.claims.keys().next() {
        return Err(Error::Internal(format!("claim on {v} left over in partition {color}")));
    }
    stats.graph = t2.elapsed();

    let t3 = Instant::now();
    if let Some(c) = &w.committed {
        let claims = std::mem::take(&mut p.col_claims);
        p.sink.proof.witness_opening = Some(packing::prove(c, &claims, &mut p.t)?);
    }
    if let Some(wc) = pk.weights.get(color).and_then(|w| w.as_ref()) {
        let claims = std::mem::take(&mut p.weight_claims);
        p.sink.proof.weight_opening = Some(packing::prove_direct(wc, &claims, &mut p.t)?);
    }
    stats.openings = t3.elapsed();
    Ok((p.sink.proof, stats))
}

/// Several claims on one value become one (a sumcheck over the value).
fn merge(p: &mut Prover<'_>, v: ValueId, mut cs: Vec<Claim>) -> Result<Claim> {
    if cs.len() == 1 {
        return Ok(cs.remove(0));
    }
    let table = p.padded(v)?;
    let pairs: Vec<(Vec<EF>, EF)> = cs.into_iter().map(|c| (c.point, c.value)).collect();
    let (proof, out) = reduce_claims_prove(&table, &pairs, &mut p.t)?;
    p.sink.sumcheck(proof);
    Ok(Claim { point: out.point, value: out.evals[0] })
}
