//! The dataflow graph: nodes (ops) on a petgraph DAG, values are node outputs.
//!
//! Invariants, upheld by [`Graph::add_node`] (the only way to add a node):
//! * every node's inputs exist before it, so insertion order is a
//!   topological order and node ids (`0..n`) are stable and deterministic;
//! * every node's output facts are what its op's [`OpDef::infer`] returns
//!   for its input facts (validation happens at insertion);
//! * petgraph edges mirror `Node::inputs` (one edge per input slot), so graph
//!   algorithms (reachability, fan-out) can run on the DAG.

use crate::ops::Op;
use crate::{Decoder, Fact, IrError, OpError, Tensor};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest tensor the IR accepts (elements): far above any real model's
/// activation, far below an allocation that would abort the process.
pub const MAX_ELEMENTS: usize = 1 << 40;

/// One output of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ValueId {
    pub node: usize,
    pub slot: usize,
}

impl ValueId {
    pub fn new(node: usize, slot: usize) -> Self {
        ValueId { node, slot }
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.slot == 0 { write!(f, "%{}", self.node) } else { write!(f, "%{}.{}", self.node, self.slot) }
    }
}

/// A node's output: its fact and the ONNX name it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    pub fact: Fact,
    pub name: String,
}

/// One operation applied to earlier values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Name of the ONNX node (or tract's name for a node it introduced).
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<Value>,
}

/// Edge weight: which output of the source feeds which input of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wire {
    pub src_slot: usize,
    pub dst_slot: usize,
}

/// A typed dataflow graph with designated inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    dag: DiGraph<Node, Wire>,
    inputs: Vec<usize>,
    outputs: Vec<ValueId>,
    /// Set on a decoder plan (`zkc compile --decoder`): see
    /// [`crate::decoder`].
    decoder: Option<Decoder>,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node after validating it; returns its id. `Input` ops also
    /// become graph inputs (in order of their `index`).
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        op: impl Into<Op>,
        inputs: &[ValueId],
    ) -> Result<usize, IrError> {
        let (name, op) = (name.into(), op.into());
        let id = self.dag.node_count();
        let mut facts = Vec::with_capacity(inputs.len());
        for &v in inputs {
            facts.push(self.fact(v).ok_or_else(|| IrError::DanglingInput { name: name.clone(), value: v })?);
        }
        let node_err = |msg: String| IrError::Node {
            id,
            name: name.clone(),
            op: op.to_string(),
            error: OpError::new(msg),
        };
        // Checked before inference: shapes from untrusted plans must not
        // overflow element counts inside the ops' shape rules.
        for f in &facts {
            if f.checked_len().is_none_or(|n| n > MAX_ELEMENTS) {
                return Err(node_err(format!("input {f} exceeds {MAX_ELEMENTS} elements")));
            }
        }
        if let Op::Input(inp) = &op
            && inp.index > id
        {
            return Err(node_err(format!("input index {} cannot exceed the node count {id}", inp.index)));
        }
        let out = op.def().infer(&facts).map_err(|error| IrError::Node {
            id,
            name: name.clone(),
            op: op.to_string(),
            error,
        })?;
        if let Some(f) = out.iter().find(|f| f.checked_len().is_none_or(|n| n > MAX_ELEMENTS)) {
            return Err(node_err(format!("output {f} exceeds {MAX_ELEMENTS} elements")));
        }
        let outputs = out
            .into_iter()
            .enumerate()
            .map(|(i, fact)| Value { fact, name: if i == 0 { name.clone() } else { format!("{name}:{i}") } })
            .collect();
        if let Op::Input(inp) = &op {
            if self.inputs.len() <= inp.index {
                self.inputs.resize(inp.index + 1, usize::MAX);
            }
            self.inputs[inp.index] = id;
        }
        let ix = self.dag.add_node(Node { name, op, inputs: inputs.to_vec(), outputs });
        for (dst_slot, v) in inputs.iter().enumerate() {
            self.dag.add_edge(NodeIndex::new(v.node), ix, Wire { src_slot: v.slot, dst_slot });
        }
        Ok(id)
    }

    /// Adds a constant node.
    pub fn add_const(&mut self, name: impl Into<String>, t: Tensor) -> Result<ValueId, IrError> {
        Ok(ValueId::new(self.add_node(name, crate::ops::source::Const::new(t), &[])?, 0))
    }

    pub fn set_outputs(&mut self, outputs: Vec<ValueId>) {
        self.outputs = outputs;
    }

    /// The decoder shape of a decoder plan.
    pub fn decoder(&self) -> Option<&Decoder> {
        self.decoder.as_ref()
    }

    /// Marks the graph a decoder (or not): one token input and one
    /// next-token output of the decoder's facts.
    pub fn set_decoder(&mut self, decoder: Option<Decoder>) -> Result<(), IrError> {
        if let Some(d) = &decoder {
            let (ins, outs) =
                (self.input_facts(), self.outputs.iter().filter_map(|&o| self.fact(o)).collect::<Vec<_>>());
            if ins.len() != 1 || outs.len() != 1 || self.outputs.len() != 1 {
                return Err(IrError::Decoder(format!(
                    "a decoder has one input and one output, this graph {} and {}",
                    ins.len(),
                    self.outputs.len()
                )));
            }
            d.facts_ok(ins[0], outs[0]).map_err(IrError::Decoder)?;
        }
        self.decoder = decoder;
        Ok(())
    }
    /// Renames a value (the frontend gives values their ONNX tensor names).
    pub fn set_value_name(&mut self, v: ValueId, name: impl Into<String>) {
        if let Some(val) =
            self.dag.node_weight_mut(NodeIndex::new(v.node)).and_then(|n| n.outputs.get_mut(v.slot))
        {
            val.name = name.into();
        }
    }
    pub fn inputs(&self) -> &[usize] {
        &self.inputs
    }
    pub fn outputs(&self) -> &[ValueId] {
        &self.outputs
    }
    pub fn len(&self) -> usize {
        self.dag.node_count()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn node(&self, id: usize) -> &Node {
        &self.dag[NodeIndex::new(id)]
    }
    /// Replaces the data of constant node `id` by `t`, which must fit the
    /// constant's fact (shape, type, bit range): the same plan with other
    /// weights.
    pub fn replace_const(&mut self, id: usize, t: Tensor) -> Result<(), IrError> {
        let node = self
            .dag
            .node_weight_mut(NodeIndex::new(id))
            .ok_or(IrError::DanglingInput { name: "<replace_const>".into(), value: ValueId::new(id, 0) })?;
        let err = |error| IrError::Node { id, name: node.name.clone(), op: "const".into(), error };
        let Op::Const(c) = &node.op else {
            return Err(err(crate::OpError::new("not a constant")));
        };
        if t.shape() != c.fact.shape {
            return Err(err(crate::OpError::new(format!("new data {} does not fit {}", t.fact(), c.fact))));
        }
        crate::check_range(&t, &c.fact).map_err(err)?;
        let fact = c.fact.clone();
        node.op = Op::Const(crate::ops::source::Const { fact, value: std::sync::Arc::new(t) });
        Ok(())
    }
    pub fn nodes(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.dag.node_indices().map(|i| (i.index(), &self.dag[i]))
    }
    pub fn fact(&self, v: ValueId) -> Option<&Fact> {
        self.dag.node_weight(NodeIndex::new(v.node))?.outputs.get(v.slot).map(|o| &o.fact)
    }
    pub fn value(&self, v: ValueId) -> Option<&Value> {
        self.dag.node_weight(NodeIndex::new(v.node))?.outputs.get(v.slot)
    }
    /// Nodes reading any output of `id`.
    pub fn consumers(&self, id: usize) -> Vec<usize> {
        let mut c: Vec<usize> = self.dag.neighbors(NodeIndex::new(id)).map(|n| n.index()).collect();
        c.sort_unstable();
        c.dedup();
        c
    }
    /// The petgraph DAG, for graph algorithms.
    pub fn dag(&self) -> &DiGraph<Node, Wire> {
        &self.dag
    }
    pub(crate) fn from_parts(
        nodes: Vec<Node>,
        inputs: Vec<usize>,
        outputs: Vec<ValueId>,
        decoder: Option<Decoder>,
    ) -> Result<Graph, IrError> {
        let mut g = Graph::new();
        for n in nodes {
            let id = g.add_node(n.name, n.op, &n.inputs)?;
            for (slot, v) in n.outputs.into_iter().enumerate() {
                g.set_value_name(ValueId::new(id, slot), v.name);
            }
        }
        if g.inputs != inputs {
            return Err(IrError::InputCount { expected: inputs.len(), got: g.inputs.len() });
        }
        for &o in &outputs {
            if g.fact(o).is_none() {
                return Err(IrError::DanglingInput { name: "<graph outputs>".into(), value: o });
            }
        }
        g.outputs = outputs;
        g.set_decoder(decoder)?;
        Ok(g)
    }

    /// Facts of the graph inputs, in order.
    pub fn input_facts(&self) -> Vec<&Fact> {
        self.inputs.iter().map(|&i| &self.node(i).outputs[0].fact).collect()
    }

    /// Runs the f32 reference evaluator; returns every node's outputs
    /// (indexed by node id).
    pub fn eval_all(&self, inputs: &[Tensor]) -> Result<Vec<Vec<Tensor>>, IrError> {
        if inputs.len() != self.inputs.len() {
            return Err(IrError::InputCount { expected: self.inputs.len(), got: inputs.len() });
        }
        let mut values: Vec<Vec<Tensor>> = Vec::with_capacity(self.len());
        for (id, node) in self.nodes() {
            let out = if let Op::Input(inp) = &node.op {
                let t = &inputs[inp.index];
                if t.shape() != inp.fact.shape || t.dtype() != inp.fact.dtype.storage() {
                    return Err(IrError::InputFact {
                        index: inp.index,
                        name: node.name.clone(),
                        expected: inp.fact.to_string(),
                        got: t.fact().to_string(),
                    });
                }
                crate::check_range(t, &inp.fact).map_err(|e| IrError::InputFact {
                    index: inp.index,
                    name: node.name.clone(),
                    expected: inp.fact.to_string(),
                    got: e.to_string(),
                })?;
                vec![t.clone()]
            } else {
                let args: Vec<&Tensor> = node.inputs.iter().map(|v| &values[v.node][v.slot]).collect();
                let out = node.op.eval(&args).map_err(|error| IrError::Node {
                    id,
                    name: node.name.clone(),
                    op: node.op.to_string(),
                    error,
                })?;
                for (t, v) in out.iter().zip(&node.outputs) {
                    crate::check_range(t, &v.fact).map_err(|error| IrError::Node {
                        id,
                        name: node.name.clone(),
                        op: node.op.to_string(),
                        error,
                    })?;
                }
                out
            };
            values.push(out);
        }
        Ok(values)
    }

    /// Runs the f32 reference evaluator; returns the graph outputs.
    pub fn eval(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, IrError> {
        let all = self.eval_all(inputs)?;
        Ok(self.outputs.iter().map(|v| all[v.node][v.slot].clone()).collect())
    }
}

/// For each model input (`inputs`: node ids among `nodes`), the rows of the
/// smallest table it indexes: a gather's table along the gathered axis,
/// reached from the input through data movement only; `None` when it
/// indexes no table. Public ids must lie in `[0, rows)`: a negative id
/// would wrap to a valid row under ONNX's gather semantics, which is never
/// what a token id means, so the runtime and the verifier refuse both.
pub fn id_bounds<'a>(
    nodes: impl IntoIterator<Item = (usize, &'a Node)>,
    inputs: &[usize],
) -> Vec<Option<usize>> {
    let nodes: std::collections::BTreeMap<usize, &Node> = nodes.into_iter().collect();
    let mut users: std::collections::BTreeMap<ValueId, Vec<usize>> = std::collections::BTreeMap::new();
    for (&id, n) in &nodes {
        for &v in &n.inputs {
            users.entry(v).or_default().push(id);
        }
    }
    let fact = |v: ValueId| nodes.get(&v.node).and_then(|n| n.outputs.get(v.slot)).map(|o| &o.fact);
    inputs
        .iter()
        .map(|&input| {
            let mut bound: Option<usize> = None;
            let mut todo = vec![ValueId::new(input, 0)];
            let mut seen = std::collections::BTreeSet::new();
            while let Some(v) = todo.pop() {
                if !seen.insert(v) {
                    continue;
                }
                for &u in users.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                    let n = nodes[&u];
                    match &n.op {
                        Op::Gather(g) if n.inputs.get(1) == Some(&v) => {
                            if let Some(rows) =
                                n.inputs.first().and_then(|&t| fact(t)).and_then(|f| f.shape.get(g.axis))
                            {
                                bound = Some(bound.map_or(*rows, |b| b.min(*rows)));
                            }
                        }
                        Op::Reshape(_)
                        | Op::Transpose(_)
                        | Op::Slice(_)
                        | Op::Expand(_)
                        | Op::Concat(_)
                        | Op::Split(_) => {
                            todo.extend((0..n.outputs.len()).map(|s| ValueId::new(u, s)));
                        }
                        _ => {}
                    }
                }
            }
            bound
        })
        .collect()
}
