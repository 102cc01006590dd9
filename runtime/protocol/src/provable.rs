//! The one definition of what the prover proves, shared by the compiler:
//! the rewrite stage's extraction cost, the quantizer's "outside the
//! provable core" test and `zkc compile`'s final check all ask [`family`]
//! (op level) or [`check`] (a whole quantized graph, on its facts), so that
//! an op that compiles is an op that proves.
//!
//! [`family`] answers from the op alone (which family of `crate::ops`
//! proves it); [`crate::ops::classify`] then decides on the facts (a
//! quantized type, a table's width, a gather's sources) and names the node
//! and the reason when it cannot.

use crate::columns::{CHUNK_WIDTHS, ColumnPlan};
use zkml_ir::ops::binary::BinaryOp;
use zkml_ir::ops::reduce::ReduceOp;
use zkml_ir::{Graph, Op, Partitioning};

/// The op families of the graph proof (one module of `crate::ops` each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Inputs and constants: checked directly or opened from the weight
    /// commitment.
    Source,
    /// `einsum`, `reduce_sum`: one sumcheck.
    Einsum,
    /// `add`, `sub`, `mul` with broadcasting.
    Elementwise,
    /// `lookup`: tables, requantizations, ReLU (committed columns).
    Lookup,
    /// `reduce_max` (committed differences).
    Reduce,
    /// Data movement: every output entry is one input entry or zero.
    Movement,
    /// `gather` of a constant table by public ids.
    Embed,
}

/// The provable ops by family, as the IR names them (for messages).
pub const PROVABLE: &[(Family, &[&str])] = &[
    (Family::Einsum, &["einsum", "reduce_sum"]),
    (Family::Elementwise, &["add", "sub", "mul"]),
    (Family::Lookup, &["lookup"]),
    (Family::Reduce, &["reduce_max"]),
    (Family::Movement, &["reshape", "transpose", "slice", "concat", "split", "pad", "expand", "im2col"]),
    (Family::Embed, &["gather"]),
];

/// The provable ops, comma-separated (for error messages).
pub fn provable_ops() -> String {
    PROVABLE.iter().flat_map(|(_, ops)| ops.iter().copied()).collect::<Vec<_>>().join(", ")
}

/// The family that proves `op`, or `None` when no family does (whatever
/// its facts). A `Some` is necessary, not sufficient: [`check`] decides on
/// the facts.
pub fn family(op: &Op) -> Option<Family> {
    Some(match op {
        Op::Input(_) | Op::Const(_) => Family::Source,
        Op::Einsum(_) => Family::Einsum,
        Op::Reduce(r) => match r.op {
            ReduceOp::Sum => Family::Einsum,
            ReduceOp::Max => Family::Reduce,
            _ => return None,
        },
        Op::Binary(b) => match b.op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => Family::Elementwise,
            _ => return None,
        },
        Op::Lookup(_) => Family::Lookup,
        Op::Gather(_) => Family::Embed,
        Op::Reshape(_)
        | Op::Transpose(_)
        | Op::Slice(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Pad(_)
        | Op::Expand(_)
        | Op::Im2Col(_) => Family::Movement,
        _ => return None,
    })
}

/// Checks that every node of a quantized graph is provable on its facts;
/// the error names the first node that is not, its op and why (what is
/// provable instead).
pub fn check(graph: &Graph) -> crate::Result<()> {
    crate::vk::structure(graph, &Partitioning::single(graph), "").map(|_| ())
}

/// What every node of a quantized graph commits, at every range-check chunk
/// width the prover may pick ([`CHUNK_WIDTHS`]): the committed-column side
/// of a cost model, from the prover's own column plan (so a cost model
/// cannot drift from what is committed).
#[derive(Debug, Clone)]
pub struct Commitments {
    /// `entries[w][id]`: entries node `id` commits with chunks of
    /// `CHUNK_WIDTHS.start() + w` bits.
    entries: Vec<Vec<u64>>,
}

impl Commitments {
    /// Witness entries node `id` commits with `chunk`-bit range-check
    /// chunks (see [`ColumnPlan::node_entries`]); 0 for a node that commits
    /// nothing, an unknown node or a width outside [`CHUNK_WIDTHS`].
    pub fn entries(&self, id: usize, chunk: u32) -> u64 {
        let w = chunk.checked_sub(*CHUNK_WIDTHS.start()).map(|w| w as usize);
        w.and_then(|w| self.entries.get(w)).and_then(|row| row.get(id)).copied().unwrap_or(0)
    }
}

/// [`Commitments`] of a quantized graph; fails as [`check`] does on a graph
/// that is not provable (a graph with no computing node commits nothing).
pub fn commitments(graph: &Graph) -> crate::Result<Commitments> {
    let vk = match crate::vk::structure(graph, &Partitioning::single(graph), "") {
        Err(crate::Error::Trivial) => return Ok(Commitments { entries: vec![] }),
        r => r?,
    };
    let entries = CHUNK_WIDTHS.map(|c| ColumnPlan::node_entries(&vk, c)).collect::<crate::Result<_>>()?;
    Ok(Commitments { entries })
}
