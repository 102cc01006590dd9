//! Colored partitions: the proving work of a graph split into parts that
//! are proven independently (and in parallel, on one machine or many).
//!
//! A [`Partitioning`] assigns every *computing* node (anything but graph
//! inputs and constants) to exactly one [`Partition`]. A partition's color
//! is its routing id (`0..K`, equal to its index): a worker owns one or more
//! colors. Inputs are public and constants (weights) are committed per
//! partition, so neither belongs to one; a value computed in one partition
//! and read by a node of another is a *boundary* tensor: listed in the
//! producer's `outputs` and in each consumer's `inputs`, and committed by
//! both sides of the cut when the plan is proven.
//!
//! Invariants (checked by [`Partitioning::validate`], so a plan read from a
//! file cannot violate them):
//! * colors are `0..K` in order and every computing node is in exactly one
//!   partition, listed in increasing id order;
//! * each partition's boundary lists are exactly what the graph's edges
//!   imply ([`Partitioning::from_assignment`] computes them), sorted;
//! * no partition is empty.

use crate::graph::{Node, ValueId};
use crate::ops::Op;
use crate::{Graph, IrError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write;

/// One part of the proving work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// Routing id (equal to the partition's index).
    pub color: u32,
    /// Computing nodes, increasing.
    pub nodes: Vec<usize>,
    /// Boundary tensors read here and computed in another partition.
    pub inputs: Vec<ValueId>,
    /// Boundary tensors computed here and read in another partition.
    pub outputs: Vec<ValueId>,
    /// Estimated proving cost (arbitrary units of the compiler's model).
    pub cost: u64,
}

/// A graph's computing nodes split into colored partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partitioning {
    pub parts: Vec<Partition>,
}

/// Does node `id` do work that a partition proves (not an input or a constant)?
pub fn is_computing(g: &Graph, id: usize) -> bool {
    computing(g.node(id))
}

fn computing(n: &Node) -> bool {
    !matches!(n.op, Op::Input(_) | Op::Const(_))
}

/// Nodes by id: a [`Graph`] or a plain list (a verifying key's).
pub trait Nodes {
    fn count(&self) -> usize;
    fn at(&self, id: usize) -> &Node;
}

impl Nodes for Graph {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, id: usize) -> &Node {
        self.node(id)
    }
}

impl Nodes for [Node] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, id: usize) -> &Node {
        &self[id]
    }
}

impl Partitioning {
    /// Everything in one partition (color 0); no partition at all for a
    /// graph without computing nodes.
    pub fn single(g: &Graph) -> Partitioning {
        let color: Vec<Option<u32>> = (0..g.len()).map(|id| is_computing(g, id).then_some(0)).collect();
        let costs: &[u64] = if color.iter().any(Option::is_some) { &[0] } else { &[] };
        Partitioning::from_assignment(g, &color, costs).expect("one color for every computing node")
    }

    /// Builds the partitions from a color per node (`None` exactly for
    /// inputs and constants) and a cost per color, deriving the boundaries.
    pub fn from_assignment<G: Nodes + ?Sized>(
        g: &G,
        color: &[Option<u32>],
        costs: &[u64],
    ) -> Result<Partitioning, IrError> {
        let bad = |m: String| IrError::Partition(m);
        if color.len() != g.count() {
            return Err(bad(format!("{} colors for {} nodes", color.len(), g.count())));
        }
        let k = costs.len();
        let mut parts: Vec<Partition> = (0..k)
            .map(|c| Partition {
                color: c as u32,
                nodes: vec![],
                inputs: vec![],
                outputs: vec![],
                cost: costs[c],
            })
            .collect();
        let mut ins: Vec<BTreeSet<ValueId>> = vec![BTreeSet::new(); k];
        let mut outs: Vec<BTreeSet<ValueId>> = vec![BTreeSet::new(); k];
        for id in 0..g.count() {
            let node = g.at(id);
            match (color[id], computing(node)) {
                (None, false) => continue,
                (Some(c), true) if (c as usize) < k => {
                    parts[c as usize].nodes.push(id);
                    for &v in &node.inputs {
                        if let Some(p) = color.get(v.node).copied().flatten()
                            && p != c
                        {
                            ins[c as usize].insert(v);
                            outs[p as usize].insert(v);
                        }
                    }
                }
                (Some(c), true) => return Err(bad(format!("node {id} has color {c}, there are {k}"))),
                (Some(_), false) => {
                    return Err(bad(format!("node {id} is an input or constant but has a color")));
                }
                (None, true) => return Err(bad(format!("node {id} ({}) has no color", node.name))),
            }
        }
        for (c, p) in parts.iter_mut().enumerate() {
            if p.nodes.is_empty() {
                return Err(bad(format!("partition {c} is empty")));
            }
            p.inputs = std::mem::take(&mut ins[c]).into_iter().collect();
            p.outputs = std::mem::take(&mut outs[c]).into_iter().collect();
        }
        Ok(Partitioning { parts })
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Color of every node (`None` for inputs and constants).
    pub fn colors<G: Nodes + ?Sized>(&self, g: &G) -> Vec<Option<u32>> {
        let mut color = vec![None; g.count()];
        for p in &self.parts {
            for &n in &p.nodes {
                if let Some(c) = color.get_mut(n) {
                    *c = Some(p.color);
                }
            }
        }
        color
    }

    /// Checks the module's invariants against `g`.
    pub fn validate<G: Nodes + ?Sized>(&self, g: &G) -> Result<(), IrError> {
        if self.parts.is_empty() && (0..g.count()).any(|id| computing(g.at(id))) {
            return Err(IrError::Partition("no partitions".into()));
        }
        let mut color = vec![None; g.count()];
        for (i, p) in self.parts.iter().enumerate() {
            if p.color as usize != i {
                return Err(IrError::Partition(format!("partition {i} has color {}", p.color)));
            }
            if p.nodes.windows(2).any(|w| w[0] >= w[1]) {
                return Err(IrError::Partition(format!("partition {i}: nodes not increasing")));
            }
            for &n in &p.nodes {
                match color.get_mut(n) {
                    None => return Err(IrError::Partition(format!("partition {i} names missing node {n}"))),
                    Some(Some(_)) => {
                        return Err(IrError::Partition(format!("node {n} is in two partitions")));
                    }
                    Some(c) => *c = Some(p.color),
                }
            }
        }
        let costs: Vec<u64> = self.parts.iter().map(|p| p.cost).collect();
        let expected = Partitioning::from_assignment(g, &color, &costs)?;
        if expected != *self {
            return Err(IrError::Partition("boundary tensors do not match the graph".into()));
        }
        Ok(())
    }

    /// Text form: one line per partition (color, cost, nodes, boundaries),
    /// then the graph's text with each node's color.
    pub fn to_text(&self, g: &Graph) -> String {
        let total: u64 = self.parts.iter().map(|p| p.cost).sum::<u64>().max(1);
        let mut s = String::new();
        for p in &self.parts {
            let elems =
                |vs: &[ValueId]| -> usize { vs.iter().filter_map(|&v| g.fact(v)).map(|f| f.len()).sum() };
            let _ = writeln!(
                s,
                "partition {} cost {} ({:.1}%) nodes {} ({}..={}) in [{}] ({} elems) out [{}] ({} elems)",
                p.color,
                p.cost,
                100.0 * p.cost as f64 / total as f64,
                p.nodes.len(),
                p.nodes.first().copied().unwrap_or(0),
                p.nodes.last().copied().unwrap_or(0),
                list(&p.inputs),
                elems(&p.inputs),
                list(&p.outputs),
                elems(&p.outputs),
            );
        }
        let color = self.colors(g);
        for line in g.to_text().lines() {
            // Node lines start with `%<id>`; prefix them with the color.
            let id = line
                .strip_prefix('%')
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|d| d.parse::<usize>().ok());
            match id.and_then(|i| color.get(i).copied()) {
                Some(Some(c)) => {
                    let _ = writeln!(s, "[{c}] {line}");
                }
                Some(None) => {
                    let _ = writeln!(s, "[-] {line}");
                }
                None => {
                    let _ = writeln!(s, "{line}");
                }
            }
        }
        s
    }

    /// Graphviz DOT of the graph, each node filled with its partition's
    /// color (inputs and constants white), boundary edges bold.
    pub fn to_dot(&self, g: &Graph) -> String {
        use petgraph::dot::{Config, Dot};
        use petgraph::visit::{EdgeRef, NodeRef};
        let color = self.colors(g);
        let fill = |c: Option<u32>| match c {
            None => "white".to_string(),
            Some(c) => PALETTE[c as usize % PALETTE.len()].to_string(),
        };
        let dag = g.dag();
        let node_attr = |_, n: (petgraph::graph::NodeIndex, &crate::Node)| {
            let id = n.id().index();
            // The op's name only: attributes make unreadable boxes.
            let op = n.weight().op.def().name();
            let tag = color[id].map(|c| format!(" [{c}]")).unwrap_or_default();
            format!(
                "label=\"%{id} {}\\n{}{tag}\" style=filled fillcolor=\"{}\"",
                escape(&n.weight().name),
                escape(op),
                fill(color[id])
            )
        };
        let edge_attr = |_, e: petgraph::graph::EdgeReference<'_, crate::graph::Wire>| {
            let (a, b) = (color[e.source().index()], color[e.target().index()]);
            if a.is_some() && b.is_some() && a != b {
                "penwidth=3 color=red".to_string()
            } else {
                String::new()
            }
        };
        format!(
            "{:?}",
            Dot::with_attr_getters(dag, &[Config::NodeNoLabel, Config::EdgeNoLabel], &edge_attr, &node_attr)
        )
    }
}

/// Fill colors, cycled by partition color.
const PALETTE: [&str; 8] =
    ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5"];

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn list(vs: &[ValueId]) -> String {
    vs.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
}
