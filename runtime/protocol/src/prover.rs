//! The prover: runs the protocol of the crate docs on the executor's values.

use crate::columns::ColumnPlan;
use crate::layout::Layout;
use crate::ops::{self, Kind, Route};
use crate::packing::{self, Claim, Committed};
use crate::stream::{Proof, Sink};
use crate::vk::ProvingKey;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use zkml_ir::{Tensor, ValueId};
use zkml_proof::mle::evaluate;
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
    pub col_data: Vec<Vec<F>>,
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
    pub fn ints(&self, v: ValueId) -> Result<&'a [i64]> {
        self.values
            .get(v.node)
            .and_then(|n| n.get(v.slot))
            .ok_or_else(|| Error::Internal(format!("witness lacks {v}")))?
            .as_i64()
            .map_err(|e| Error::Internal(format!("witness {v}: {e}")))
    }

    pub fn layout(&self, v: ValueId) -> Layout {
        Layout::new(&crate::columns::shape_of(&self.pk.vk, v))
    }

    /// The padded field table of a value.
    pub fn padded(&self, v: ValueId) -> Result<Vec<F>> {
        Ok(self.layout(v).pad_i64(self.ints(v)?))
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

/// Columns hook of a *malicious* prover: alters the witness columns before
/// they are committed. For soundness tests only; an honest caller uses
/// [`prove`].
pub type Tamper<'t> = &'t dyn Fn(&ColumnPlan, &mut [Vec<F>]);

/// [`prove`] with the committed columns altered by `tamper` (soundness
/// tests: the verifier must reject whatever this produces).
#[doc(hidden)]
pub fn prove_with(
    pk: &ProvingKey,
    values: &[Vec<Tensor>],
    tamper: Tamper<'_>,
) -> Result<(Proof, ProveStats)> {
    let vk = &pk.vk;
    if values.len() != vk.nodes.len() {
        return Err(Error::Internal("witness does not match the key".into()));
    }
    let mut stats = ProveStats::default();
    let t0 = Instant::now();
    let saturating = crate::columns::saturating_nodes(vk, values)?;
    let cols = ColumnPlan::new(vk, &saturating)?;
    let mut col_data = cols.fill(vk, values)?;
    tamper(&cols, &mut col_data);
    let mut p = Prover {
        pk,
        cols,
        col_data,
        values,
        t: Poseidon2Transcript::new(b"zkml"),
        sink: Sink::new(),
        claims: BTreeMap::new(),
        col_claims: vec![],
        weight_claims: vec![],
    };
    let ins: Vec<&[i64]> = vk.inputs.iter().map(|&i| p.ints(ValueId::new(i, 0))).collect::<Result<_>>()?;
    let outs: Vec<&[i64]> = vk.outputs.iter().map(|&o| p.ints(o)).collect::<Result<_>>()?;
    bind(&mut p.t, &pk.digest, &ins, &outs);
    bind_saturating(&mut p.t, &saturating);
    p.sink.proof.saturating = saturating;
    let committed = if p.col_data.is_empty() {
        None
    } else {
        let refs: Vec<&[F]> = p.col_data.iter().map(|c| c.as_slice()).collect();
        let c = Committed::new(p.cols.layouts.clone(), &refs)?;
        p.t.label(b"witness-commitment");
        for comm in c.commitments() {
            p.t.absorb_bytes(&commitment_bytes(&comm)?);
        }
        p.sink.proof.witness = c.commitments();
        stats.witness_len = c.len();
        Some(c)
    };
    stats.commit = t0.elapsed();

    let t1 = Instant::now();
    ops::lookup::prove_tables(&mut p)?;
    ops::lookup::prove_range(&mut p)?;
    for id in ops::reduce::max_nodes(&p.cols) {
        ops::reduce::prove_max(&mut p, id)?;
    }
    for id in p.sink.proof.saturating.clone() {
        ops::lookup::prove_saturation(&mut p, id)?;
    }
    stats.lookups = t1.elapsed();

    let t2 = Instant::now();
    p.t.label(b"outputs");
    for &o in &vk.outputs {
        let table = p.padded(o)?;
        let point = p.t.challenges_ext(p.layout(o).vars());
        let value = evaluate(&table, &point);
        p.claim(o, Claim { point, value })?;
    }
    for id in (0..vk.nodes.len()).rev() {
        let kind = ops::classify(vk, id)?;
        for slot in 0..vk.nodes[id].outputs.len() {
            let v = ValueId::new(id, slot);
            let Some(cs) = p.claims.remove(&v) else { continue };
            if let Kind::Range(q) = &kind {
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
                | Kind::Max { .. } => {
                    return Err(Error::Internal(format!("claim on {v} was not routed")));
                }
            }
        }
    }
    stats.graph = t2.elapsed();

    let t3 = Instant::now();
    if let Some(c) = &committed {
        let claims = std::mem::take(&mut p.col_claims);
        p.sink.proof.witness_opening = Some(packing::prove(c, &claims, &mut p.t)?);
    }
    if let Some(w) = &pk.weights {
        let claims = std::mem::take(&mut p.weight_claims);
        p.sink.proof.weight_opening = Some(packing::prove_direct(w, &claims, &mut p.t)?);
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
