//! Deterministic text form of a graph: one node per line, ids in insertion
//! (topological) order, so dumps diff cleanly and snapshot well.
//!
//! ```text
//! %3 = einsum[eq="mk,nk->mn"](%0, %2) : f32[1,10]  # "fc1"
//! %5, %5.1 = split[axis=2, sizes=[4,4]](%4) : f32[1,2,4], f32[1,2,4]  # "split"
//! ```
//! Outputs are listed last as `outputs: %5, %7`.

use crate::Graph;
use std::fmt::Write;

impl Graph {
    /// The text dump.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (id, n) in self.nodes() {
            let outs: Vec<String> =
                (0..n.outputs.len()).map(|i| crate::ValueId::new(id, i).to_string()).collect();
            let ins: Vec<String> = n.inputs.iter().map(|v| v.to_string()).collect();
            let facts: Vec<String> = n.outputs.iter().map(|v| v.fact.to_string()).collect();
            let _ = write!(s, "{} = {}", outs.join(", "), n.op);
            if !ins.is_empty() {
                let _ = write!(s, "({})", ins.join(", "));
            }
            let _ = write!(s, " : {}  # {:?}", facts.join(", "), n.name);
            // Value names differ from the node name when the ONNX tensor name
            // is known: show them, they are what users grep for.
            let renamed: Vec<String> = n
                .outputs
                .iter()
                .enumerate()
                .filter(|(i, v)| v.name != n.name && v.name != format!("{}:{i}", n.name))
                .map(|(_, v)| format!("{:?}", v.name))
                .collect();
            if !renamed.is_empty() {
                let _ = write!(s, " -> {}", renamed.join(", "));
            }
            s.push('\n');
        }
        let outs: Vec<String> = self.outputs().iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "outputs: {}", outs.join(", "));
        s
    }

    /// One-line summary: node count by op, parameter count.
    pub fn summary(&self) -> String {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        let mut params = 0usize;
        for (_, n) in self.nodes() {
            *counts.entry(n.op.def().name()).or_default() += 1;
            if let crate::Op::Const(c) = &n.op {
                params += c.fact.len();
            }
        }
        let ops: Vec<String> = counts.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        format!("{} nodes, {} constant elements; {}", self.len(), params, ops.join(" "))
    }
}
