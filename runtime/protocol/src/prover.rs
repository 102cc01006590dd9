//! The prover: runs the protocol of the crate docs on the executor's values.

use crate::columns::ColumnPlan;
use crate::driver;
use crate::layout::Layout;
use crate::ops::Route;
use crate::packing::{self, Claim, Committed};
use crate::side::{Accumulator, Side, Witness};
use crate::stream::{PartProof, Proof, Sink};
use crate::vk::{ProvingKey, VerifyingKey};
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use zkml_ir::{Tensor, ValueId};
use zkml_proof::logup::{self, LookupClaims};
use zkml_proof::mle::evaluate;
use zkml_proof::pcs::Commitment;
use zkml_proof::sumcheck::{self, Claims, Table, Term, reduce_claims_prove};
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

/// The prover's [`Side`]: computes every message from the witness and
/// writes it to the proof.
pub(crate) struct ProverSide<'a> {
    pub w: Witness<'a>,
    pub t: Poseidon2Transcript,
    pub sink: Sink,
    pub acc: Accumulator,
}

impl std::fmt::Debug for ProverSide<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProverSide").field("claims", &self.acc.graph.len()).finish()
    }
}

impl Side for ProverSide<'_> {
    fn vk(&self) -> &VerifyingKey {
        self.w.vk
    }
    fn cols(&self) -> &ColumnPlan {
        self.w.cols
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
        compute: impl FnOnce(&Witness<'_>) -> Result<Vec<EF>>,
    ) -> Result<Vec<EF>> {
        let v = compute(&self.w)?;
        self.ensure(v.len() == n, || format!("{what}: {} evaluations computed, {n} expected", v.len()))?;
        self.sink.evals(&mut self.t, v.clone());
        Ok(v)
    }
    fn sumcheck(
        &mut self,
        _vars: usize,
        _tables: usize,
        terms: &[Term],
        claim: EF,
        _what: &str,
        build: impl FnOnce(&Witness<'_>) -> Result<Vec<Table>>,
    ) -> Result<Claims> {
        let tables = build(&self.w)?;
        let (proof, out) = sumcheck::prove(tables, terms, claim, &mut self.t)?;
        self.sink.sumcheck(proof);
        Ok(out)
    }
    fn logup(
        &mut self,
        _log_n: usize,
        table: &[Vec<F>],
        mult: usize,
        _what: &str,
        columns: impl FnOnce(&Witness<'_>) -> Result<Vec<Vec<F>>>,
    ) -> Result<LookupClaims> {
        let cols = columns(&self.w)?;
        let refs: Vec<&[F]> = cols.iter().map(Vec::as_slice).collect();
        let t_refs: Vec<&[F]> = table.iter().map(Vec::as_slice).collect();
        let (proof, claims) = logup::prove(&refs, &t_refs, self.w.col(mult), &mut self.t)?;
        self.sink.logup(proof);
        Ok(claims)
    }
    fn merge(&mut self, v: ValueId, mut cs: Vec<Claim>) -> Result<Claim> {
        if cs.len() == 1 {
            return Ok(cs.remove(0));
        }
        let table = self.w.padded(v)?;
        let pairs: Vec<(Vec<EF>, EF)> = cs.into_iter().map(|c| (c.point, c.value)).collect();
        let (proof, out) = reduce_claims_prove(&table, &pairs, &mut self.t)?;
        self.sink.sumcheck(proof);
        Ok(Claim { point: out.point, value: out.evals[0] })
    }
    fn check(&self, _ok: impl FnOnce() -> bool, _msg: impl FnOnce() -> String) -> Result<()> {
        Ok(())
    }
    fn ensure(&self, ok: bool, msg: impl FnOnce() -> String) -> Result<()> {
        if ok { Ok(()) } else { Err(Error::Internal(msg())) }
    }
    fn check_public(&self, _route: Route, _v: ValueId, _c: &Claim) -> Result<()> {
        Ok(())
    }
    fn output_eval(&self, o: ValueId, point: &[EF]) -> Result<EF> {
        Ok(evaluate(&self.w.padded(o)?, point))
    }
    fn public_input(&self, node: usize) -> Result<Vec<i64>> {
        Ok(self.w.ints(ValueId::new(node, 0))?.to_vec())
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
        Some(Committed::new(cols.layouts.clone(), cols.group_vars, &refs)?)
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
    let color = w.cols.color;
    let mut stats = ProveStats::default();
    let mut p = ProverSide {
        w: Witness { vk: &pk.vk, cols: &w.cols, col_data: &w.col_data, values },
        t: seed.fork(color),
        sink: Sink::new(),
        acc: Accumulator::default(),
    };
    p.sink.proof.witness = w.commitments();
    stats.witness_len = w.committed.as_ref().map_or(0, Committed::len);

    let t1 = Instant::now();
    driver::arguments(&mut p, seed)?;
    stats.lookups = t1.elapsed();
    let t2 = Instant::now();
    driver::graph(&mut p, color)?;
    stats.graph = t2.elapsed();

    let t3 = Instant::now();
    if let Some(c) = &w.committed {
        let claims = std::mem::take(&mut p.acc.cols);
        p.sink.proof.witness_opening = Some(packing::prove(c, &claims, &mut p.t)?);
    }
    if let Some(wc) = pk.weights.get(color).and_then(|w| w.as_ref()) {
        let claims = std::mem::take(&mut p.acc.weights);
        p.sink.proof.weight_opening = Some(packing::prove_direct(wc, &claims, &mut p.t)?);
    }
    stats.openings = t3.elapsed();
    Ok((p.sink.proof, stats))
}
