//! Setup: the verifying key (what a verifier trusts) and the proving key.
//!
//! There is no trusted setup and no secret: the weights are packed
//! ([`crate::packing`]) and committed with the transparent tensor-code PCS.
//! The verifying key holds the graph's structure (every node's op,
//! attributes, wiring and output facts; constants by fact only), the values
//! of small constants (at most [`INLINE_MAX`] entries: shifts, zero points,
//! scales the verifier evaluates directly) and the weight commitment. Its
//! digest (BLAKE3 of the encoded key) is the first thing every proof's
//! transcript absorbs, so a proof verifies against one model only.
//!
//! File layout of `plan.vk`: magic `ZKMLVK01`, format version (u32 LE),
//! 4 reserved bytes (zero), the 32-byte BLAKE3 digest of the body, then the
//! body (bincode). Reading checks magic, version, the reserved bytes and the
//! digest before decoding, and that the body is the canonical encoding.

use crate::columns::ColumnPlan;
use crate::layout::Layout;
use crate::packing::{Committed, Groups};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zkml_ir::plan::{ProverSection, SectionBytes};
use zkml_ir::{Fact, Graph, Node, Op, Partitioning, ValueId};
use zkml_proof::pcs::Commitment;
use zkml_proof::store::Source;

pub const VK_MAGIC: &[u8; 8] = b"ZKMLVK01";
/// Bump on any change of the key's content or of the protocol.
pub const VK_VERSION: u32 = 6;
/// Constants up to this many entries live in the key itself.
pub const INLINE_MAX: usize = 64;

/// The committed weights of one partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightKey {
    /// One commitment per packing group.
    pub commitments: Vec<Commitment>,
    /// Constant node of each committed table.
    pub nodes: Vec<usize>,
    pub groups: Groups,
}

/// What a verifier needs: structure, partitions, small constants, weight
/// commitments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyingKey {
    pub producer: String,
    pub nodes: Vec<Node>,
    pub inputs: Vec<usize>,
    pub outputs: Vec<ValueId>,
    /// The colored partitions; each is proven on its own and commits the
    /// weights it reads.
    pub partitions: Partitioning,
    /// Small constants' integers, by node.
    pub inline: BTreeMap<usize, Vec<i64>>,
    /// Committed weights, by partition (`None`: the partition reads no
    /// committed constant).
    pub weights: Vec<Option<WeightKey>>,
    /// A decoder plan's shape: its statements are generations
    /// (`zkml_ir::decoder`).
    pub decoder: Option<zkml_ir::Decoder>,
    /// Most packed variables of one range argument
    /// ([`crate::columns::RANGE_BUCKET_VARS`] unless a test asks for
    /// smaller buckets with [`ProvingKey::with_range_buckets`]).
    pub range_bucket_vars: u8,
    /// Most entries of one witness commitment group, as `log2`
    /// ([`crate::packing::WITNESS_GROUP_VARS`] unless a test asks for
    /// smaller groups with [`ProvingKey::with_witness_groups`]).
    pub witness_group_vars: u8,
}

/// Range-bucket and witness-group sizes a key may ask for (`2^1` to
/// `2^40` entries, as `log2`).
pub const SIZE_VARS_ALLOWED: std::ops::RangeInclusive<u8> = 1..=40;

/// What the prover needs beyond the plan: the committed weights.
#[derive(Debug)]
pub struct ProvingKey {
    pub vk: VerifyingKey,
    pub digest: [u8; 32],
    /// Committed weights, by partition.
    pub weights: Vec<Option<Committed>>,
}

/// Integers of a constant (quantized or integer data).
pub(crate) fn const_data(node: usize, n: &Node) -> Result<std::borrow::Cow<'_, [i64]>> {
    let Op::Const(c) = &n.op else { return Err(Error::Internal(format!("node {node} is not a constant"))) };
    match c.value.as_i64() {
        Ok(v) => Ok(v),
        Err(_) => Err(Error::Unsupported {
            node,
            name: n.name.clone(),
            op: "const".into(),
            reason: format!(
                "only integer constants are provable (this one is {}); compile a quantized plan",
                c.fact.dtype
            ),
        }),
    }
}

/// Commits the weights of a quantized graph, all in one partition, and
/// builds both keys. Fails, naming the node, if any op is not provable.
pub fn setup(graph: &Graph, producer: &str) -> Result<ProvingKey> {
    setup_partitioned(graph, &Partitioning::single(graph), producer)
}

/// [`setup`] for a graph cut into colored partitions (`plan.partitions`):
/// each partition's weights are packed and committed on their own (a
/// constant read by two partitions is committed in both), so a partition is
/// proven, and its weights opened, without touching the others'.
pub fn setup_partitioned(graph: &Graph, partitions: &Partitioning, producer: &str) -> Result<ProvingKey> {
    let vk = structure(graph, partitions, producer)?;
    let mut weights = vec![];
    for color in 0..partitions.len() {
        let ids = weight_nodes(&vk, color);
        weights.push(if ids.is_empty() {
            None
        } else {
            let layouts = layouts(graph, &ids);
            let data: Vec<_> = ids.iter().map(|&id| const_data(id, graph.node(id))).collect::<Result<_>>()?;
            Some(Committed::with(layouts.clone(), crate::packing::weight_pcs, |i, dst| {
                if layouts[i].is_dense() {
                    dst.iter_mut()
                        .zip(data[i].iter())
                        .for_each(|(d, &v)| *d = zkml_proof::field::embed_i64(v));
                } else {
                    for (&p, &v) in layouts[i].padded_indices().iter().zip(data[i].iter()) {
                        dst[p] = zkml_proof::field::embed_i64(v);
                    }
                }
            })?)
        });
    }
    finish(vk, weights)
}

/// The proving key of a plan whose weights were committed by
/// [`setup_partitioned`] and stored with [`ProvingKey::prover_bytes`] (in
/// `plan.bin`): nothing is recomputed and the codewords stay where the
/// section keeps them (the plan file, read at offsets). Fails if the stored
/// data does not fit the graph's weights.
pub fn setup_stored(
    graph: &Graph,
    partitions: &Partitioning,
    producer: &str,
    section: &ProverSection,
) -> Result<ProvingKey> {
    let bytes = &match &section.bytes {
        SectionBytes::Memory(b) => Source::Memory(b.clone()),
        SectionBytes::File(f) => Source::File(f.clone()),
    };
    let vk = structure(graph, partitions, producer)?;
    let mut weights = vec![];
    let mut at = section.start;
    for color in 0..partitions.len() {
        let ids = weight_nodes(&vk, color);
        weights.push(if ids.is_empty() {
            None
        } else {
            let (c, end) = Committed::stored(layouts(graph, &ids), bytes, at)?;
            at = end;
            Some(c)
        });
    }
    finish(vk, weights)
}

fn layouts(graph: &Graph, ids: &[usize]) -> Vec<Layout> {
    ids.iter().map(|&id| Layout::new(&graph.node(id).outputs[0].fact.shape)).collect()
}

/// The committed (non-inline) constants that partition `color` reads, in
/// node order: the tables of its weight commitment.
pub(crate) fn weight_nodes(vk: &VerifyingKey, color: usize) -> Vec<usize> {
    let mut ids = std::collections::BTreeSet::new();
    for &n in vk.partitions.parts.get(color).map(|p| p.nodes.as_slice()).unwrap_or(&[]) {
        for v in &vk.nodes[n].inputs {
            if matches!(vk.nodes[v.node].op, Op::Const(_)) && !vk.inline.contains_key(&v.node) {
                ids.insert(v.node);
            }
        }
    }
    ids.into_iter().collect()
}

/// The key without weight commitments (checks every op is provable).
pub(crate) fn structure(graph: &Graph, partitions: &Partitioning, producer: &str) -> Result<VerifyingKey> {
    partitions.validate(graph).map_err(|e| Error::Key(e.to_string()))?;
    if partitions.is_empty() {
        return Err(Error::Trivial);
    }
    let nodes: Vec<Node> = graph.nodes().map(|(_, n)| n.clone()).collect();
    let mut vk = VerifyingKey {
        producer: producer.to_string(),
        nodes,
        inputs: graph.inputs().to_vec(),
        outputs: graph.outputs().to_vec(),
        partitions: partitions.clone(),
        inline: BTreeMap::new(),
        weights: vec![],
        decoder: graph.decoder().cloned(),
        range_bucket_vars: crate::columns::RANGE_BUCKET_VARS as u8,
        witness_group_vars: crate::packing::WITNESS_GROUP_VARS as u8,
    };
    for (id, n) in graph.nodes() {
        if let Op::Const(c) = &n.op
            && c.fact.len() <= INLINE_MAX
        {
            vk.inline.insert(id, const_data(id, n)?.to_vec());
        } else if let Op::Const(_) = &n.op {
            const_data(id, n)?;
        }
    }
    // Classifies every node (errors name unsupported ones) and checks types.
    for color in 0..partitions.len() {
        ColumnPlan::new(&vk, color, &[])?;
    }
    Ok(vk)
}

fn finish(mut vk: VerifyingKey, weights: Vec<Option<Committed>>) -> Result<ProvingKey> {
    vk.weights = weights
        .iter()
        .enumerate()
        .map(|(color, w)| {
            w.as_ref().map(|c| WeightKey {
                commitments: c.commitments(),
                nodes: weight_nodes(&vk, color),
                groups: c.groups.clone(),
            })
        })
        .collect();
    let digest = vk.digest()?;
    Ok(ProvingKey { vk, digest, weights })
}

impl ProvingKey {
    /// The same key with range arguments of at most `2^vars` packed rows:
    /// more, smaller logUp arguments (less prover memory, a larger proof).
    /// The key's digest changes with it, so proofs made with one setting
    /// never verify under the other. `zkc` keys use
    /// [`crate::columns::RANGE_BUCKET_VARS`]; tests use small buckets to
    /// prove small models with many range arguments.
    pub fn with_range_buckets(mut self, vars: u8) -> Result<ProvingKey> {
        self.vk.range_bucket_vars = vars;
        self.revalidate()
    }

    /// The same key with witness commitment groups of at most `2^vars`
    /// entries: more, smaller commitments and openings (less prover
    /// memory, a larger proof). The digest changes with it, as for
    /// [`ProvingKey::with_range_buckets`].
    pub fn with_witness_groups(mut self, vars: u8) -> Result<ProvingKey> {
        self.vk.witness_group_vars = vars;
        self.revalidate()
    }

    fn revalidate(mut self) -> Result<ProvingKey> {
        self.vk.validate()?;
        for color in 0..self.vk.partitions.len() {
            ColumnPlan::new(&self.vk, color, &[])?;
        }
        self.digest = self.vk.digest()?;
        Ok(self)
    }

    /// The weights' prover data (codewords and Merkle trees, partition by
    /// partition) in the stored form [`setup_stored`] reads; empty without
    /// committed weights.
    pub fn prover_bytes(&self) -> Vec<u8> {
        let mut out = vec![];
        for c in self.weights.iter().flatten() {
            out.extend_from_slice(&c.to_bytes());
        }
        out
    }

    /// [`ProvingKey::prover_bytes`], streamed into `w` (no copy of a large
    /// model's codeword in memory); returns the length.
    pub fn write_prover(&self, w: &mut dyn std::io::Write) -> std::io::Result<u64> {
        let mut n = 0;
        for c in self.weights.iter().flatten() {
            n += c.write_to(w)?;
        }
        Ok(n)
    }
}

fn body(vk: &VerifyingKey) -> Result<Vec<u8>> {
    zkml_ir::codec::encode(vk).map_err(|e| Error::Key(e.to_string()))
}

impl VerifyingKey {
    /// BLAKE3 of the encoded key.
    pub fn digest(&self) -> Result<[u8; 32]> {
        Ok(*blake3::hash(&body(self)?).as_bytes())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let b = body(self)?;
        let mut out = Vec::with_capacity(48 + b.len());
        out.extend_from_slice(VK_MAGIC);
        out.extend_from_slice(&VK_VERSION.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(blake3::hash(&b).as_bytes());
        out.extend_from_slice(&b);
        Ok(out)
    }

    /// Reads and validates a key: magic, version, digest, then the structure
    /// (every op's shape inference re-run on the recorded facts).
    pub fn from_bytes(bytes: &[u8]) -> Result<VerifyingKey> {
        if bytes.len() < 48 || &bytes[..8] != VK_MAGIC {
            return Err(Error::Key("not a zkml verifying key (bad magic or truncated)".into()));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != VK_VERSION {
            return Err(Error::Key(format!("format version {version}, this verifier reads {VK_VERSION}")));
        }
        if bytes[12..16] != [0; 4] {
            return Err(Error::Key("reserved bytes 12..16 are not zero: the key is corrupt".into()));
        }
        if blake3::hash(&bytes[48..]).as_bytes()[..] != bytes[16..48] {
            return Err(Error::Key("digest mismatch: the key is corrupt".into()));
        }
        let vk: VerifyingKey = zkml_ir::codec::decode_canonical(&bytes[48..])
            .map_err(|e| Error::Key(format!("decoding: {e}")))?;
        vk.validate()?;
        Ok(vk)
    }

    /// Output fact of a value, if it exists.
    pub fn fact(&self, v: ValueId) -> Option<&Fact> {
        self.nodes.get(v.node)?.outputs.get(v.slot).map(|o| &o.fact)
    }

    /// Structural validation: wiring in topological order, facts consistent
    /// with each op's inference, inputs and outputs well formed, constants'
    /// data where the key says it is. A key that passes cannot make the
    /// verifier index out of bounds.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Key(m));
        for (what, vars) in
            [("range buckets", self.range_bucket_vars), ("witness groups", self.witness_group_vars)]
        {
            if !SIZE_VARS_ALLOWED.contains(&vars) {
                return bad(format!("{what} of 2^{vars} entries; {SIZE_VARS_ALLOWED:?} are supported"));
            }
        }
        for (id, n) in self.nodes.iter().enumerate() {
            let mut facts = Vec::with_capacity(n.inputs.len());
            for v in &n.inputs {
                if v.node >= id {
                    return bad(format!("node {id} reads {v}, not an earlier node"));
                }
                match self.fact(*v) {
                    Some(f) => facts.push(f),
                    None => return bad(format!("node {id} reads missing value {v}")),
                }
            }
            for o in &n.outputs {
                if o.fact.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_none_or(|x| x > 1 << 36)
                {
                    return bad(format!("node {id}: output too large"));
                }
            }
            match &n.op {
                Op::Const(c) => {
                    if n.outputs.len() != 1 || n.outputs[0].fact != c.fact {
                        return bad(format!("constant {id}: fact mismatch"));
                    }
                    match self.inline.get(&id) {
                        Some(v) if v.len() != c.fact.len() => {
                            return bad(format!("constant {id}: inline data has the wrong length"));
                        }
                        // Committed constants are checked per partition below.
                        _ => {}
                    }
                }
                op => {
                    let inferred =
                        op.def().infer(&facts).map_err(|e| Error::Key(format!("node {id}: {e}")))?;
                    let recorded: Vec<&Fact> = n.outputs.iter().map(|o| &o.fact).collect();
                    if inferred.iter().collect::<Vec<_>>() != recorded {
                        return bad(format!("node {id}: recorded facts differ from the op's inference"));
                    }
                }
            }
        }
        for (k, &i) in self.inputs.iter().enumerate() {
            match self.nodes.get(i).map(|n| &n.op) {
                Some(Op::Input(inp)) if inp.index == k => {}
                _ => return bad(format!("input {k} does not name an input node")),
            }
        }
        if self.nodes.iter().filter(|n| matches!(n.op, Op::Input(_))).count() != self.inputs.len() {
            return bad("input nodes and the input list differ".into());
        }
        for o in &self.outputs {
            if self.fact(*o).is_none() {
                return bad(format!("output {o} does not exist"));
            }
        }
        if let Some(d) = &self.decoder {
            let (ins, outs): (Vec<_>, Vec<_>) = (
                self.inputs.iter().map(|&i| &self.nodes[i].outputs[0].fact).collect(),
                self.outputs.iter().filter_map(|&o| self.fact(o)).collect(),
            );
            if ins.len() != 1 || outs.len() != 1 {
                return bad("a decoder key has one input and one output".into());
            }
            d.facts_ok(ins[0], outs[0]).map_err(|e| Error::Key(format!("decoder: {e}")))?;
        }
        if self.inline.keys().any(|&id| !matches!(self.nodes.get(id).map(|n| &n.op), Some(Op::Const(_)))) {
            return bad("inline data for a node that is not a constant".into());
        }
        self.partitions.validate(self.nodes.as_slice()).map_err(|e| Error::Key(e.to_string()))?;
        if self.weights.len() != self.partitions.len() {
            return bad("one weight commitment entry per partition expected".into());
        }
        for (color, w) in self.weights.iter().enumerate() {
            let ids = weight_nodes(self, color);
            match w {
                None if ids.is_empty() => {}
                Some(w) if w.nodes == ids => {
                    let vars: Vec<usize> = ids
                        .iter()
                        .map(|&id| match &self.nodes[id].op {
                            Op::Const(c) => Layout::new(&c.fact.shape).vars(),
                            _ => usize::MAX,
                        })
                        .collect();
                    if Groups::new(&vars) != w.groups
                        || w.commitments.len() != w.groups.packings.len()
                        || w.groups.packings.iter().any(|p| p.vars > 34)
                    {
                        return bad(format!(
                            "partition {color}: weight packing does not match the constants' shapes"
                        ));
                    }
                }
                _ => {
                    return bad(format!(
                        "partition {color}: committed weights do not match the constants it reads"
                    ));
                }
            }
        }
        for color in 0..self.partitions.len() {
            ColumnPlan::new(self, color, &[])?;
        }
        Ok(())
    }
}
