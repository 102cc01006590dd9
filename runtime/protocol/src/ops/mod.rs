//! Per-op reductions, one file per op family, registered in [`classify`].
//!
//! Each family has a prover and a verifier side written next to each other:
//! given one claim `out(r) = e` on the node's output, they reduce it to
//! claims on the node's inputs (or, for lookups, check it against committed
//! columns). A claim on an input is routed by the caller: to the public
//! input (checked directly), to a weight (the packed weight opening), to a
//! committed column, or back into the graph.
//!
//! | family | ops | reduction |
//! |---|---|---|
//! | [`einsum`] | `einsum` (any rank, 1–3 operands), `reduce_sum` | one sumcheck over batch and contracted axes |
//! | [`elementwise`] | `add`, `sub` (linear), `mul` (sumcheck) | with numpy broadcasting |
//! | [`lookup`] | `lookup` (table, plain requantization, ReLU) | logUp-GKR + range checks, requantization folded in |
//! | [`reduce`] | `reduce_max` | committed differences, range checks, product zerocheck |
//! | [`embed`] | `gather` of a constant table by public ids | one claim per distinct id, no sumcheck |
//! | [`movement`] | reshape, transpose, slice, concat, split, pad, expand, im2col | sparse linear map, one sumcheck per input |

pub mod einsum;
pub mod elementwise;
pub mod embed;
pub mod lookup;
pub mod movement;
pub mod reduce;

use crate::packing::Claim;
use crate::side::Side;
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use zkml_ir::ops::binary::BinaryOp;
use zkml_ir::ops::lookup::{Domain, LookupFn, LookupQuant};
use zkml_ir::ops::reduce::ReduceOp;
use zkml_ir::{DType, Op};

/// Where a claim on a value goes (prover and verifier route alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Public input `index`: the verifier evaluates it.
    Input(usize),
    /// A constant stored in the key: the verifier evaluates it.
    Inline,
    /// Committed weight table `index` (position in the key's weight list).
    Weight(usize),
    /// A committed witness column (lookup and max outputs, boundary
    /// tensors computed in another partition).
    Column(usize),
    /// An intermediate value: waits for its producer's reduction.
    Graph,
}

pub(crate) fn route(
    vk: &VerifyingKey,
    cols: &crate::columns::ColumnPlan,
    v: zkml_ir::ValueId,
) -> Result<Route> {
    use crate::columns::NodeCols;
    let node = vk.nodes.get(v.node).ok_or_else(|| Error::Key(format!("value {v} does not exist")))?;
    if let Some(&col) = cols.boundary_in.get(&v) {
        return Ok(Route::Column(col));
    }
    Ok(match (&node.op, cols.nodes.get(&v.node)) {
        (Op::Input(inp), _) => Route::Input(inp.index),
        (Op::Const(_), _) if vk.inline.contains_key(&v.node) => Route::Inline,
        (Op::Const(_), _) => Route::Weight(
            vk.weights
                .get(cols.color)
                .and_then(|w| w.as_ref())
                .and_then(|w| w.nodes.iter().position(|&n| n == v.node))
                .ok_or_else(|| {
                    Error::Key(format!("constant {} has no data in partition {}", v.node, cols.color))
                })?,
        ),
        (
            _,
            Some(
                NodeCols::Table { z: col, .. }
                | NodeCols::LogTable { z: col, .. }
                | NodeCols::Max { out: col, .. },
            ),
        ) => Route::Column(*col),
        _ => Route::Graph,
    })
}

/// The committed columns of node `id` (of proving kind `kind`), allocated
/// in `plan` by the family that proves it; `None` for a node that commits
/// nothing.
pub(crate) fn columns(
    plan: &mut crate::columns::ColumnPlan,
    vk: &VerifyingKey,
    id: usize,
    kind: &Kind,
    saturating: &[usize],
) -> Option<crate::columns::NodeCols> {
    match kind {
        Kind::Table(_) | Kind::LogTable(_) | Kind::Range(_) | Kind::Relu(_) => {
            lookup::columns(plan, vk, id, kind, saturating)
        }
        Kind::Max { .. } => reduce::columns(plan, vk, id, kind),
        _ => None,
    }
}

/// Fills node `id`'s committed columns `nc` from the executor's values, by
/// the family that planned them (table lookups also count their rows in
/// `table_rows`).
pub(crate) fn fill(
    plan: &crate::columns::ColumnPlan,
    vk: &VerifyingKey,
    id: usize,
    nc: &crate::columns::NodeCols,
    values: &[Vec<zkml_ir::Tensor>],
    cols: &mut [Vec<zkml_proof::F>],
    table_rows: &mut [Vec<u64>],
) -> Result<()> {
    use crate::columns::NodeCols;
    match nc {
        NodeCols::Max { .. } => reduce::fill(plan, vk, id, nc, values, cols, table_rows),
        _ => lookup::fill(plan, vk, id, nc, values, cols, table_rows),
    }
}

/// The committed-column arguments of a partition, family by family, in
/// the order both sides run them: table lookups, range checks, then the
/// zerochecks of max reductions, ReLUs and saturating requantizations.
pub(crate) fn argue<S: Side>(s: &mut S) -> Result<()> {
    lookup::argue_tables(s)?;
    lookup::argue_range(s)?;
    for id in reduce::max_nodes(s.cols()) {
        reduce::argue_max(s, id)?;
    }
    for id in lookup::relu_nodes(s.cols()) {
        lookup::argue_relu(s, id)?;
    }
    for id in s.cols().saturating() {
        lookup::argue_saturation(s, id)?;
    }
    Ok(())
}

/// Reduces the claims on output `slot` of node `id` (of proving kind
/// `kind`) to claims on its inputs. Several claims on one value are merged
/// first, except on a requantization, whose claims are each checked
/// against its committed columns at their own point.
pub(crate) fn reduce<S: Side>(s: &mut S, id: usize, slot: usize, kind: &Kind, cs: Vec<Claim>) -> Result<()> {
    if let Kind::Range(q) | Kind::Relu(q) = kind {
        for c in cs {
            lookup::reduce_requant(s, id, q, c)?;
        }
        return Ok(());
    }
    let c = s.merge(zkml_ir::ValueId::new(id, slot), cs)?;
    match kind {
        Kind::Contract { operands, output } => einsum::reduce(s, id, operands, output, c),
        Kind::Add { sub } => elementwise::reduce_add(s, id, *sub, c),
        Kind::Mul => elementwise::reduce_mul(s, id, c),
        Kind::Move => movement::reduce(s, id, slot, c),
        Kind::Embed => embed::reduce(s, id, c),
        Kind::Input
        | Kind::Const
        | Kind::Table(_)
        | Kind::LogTable(_)
        | Kind::Range(_)
        | Kind::Relu(_)
        | Kind::Max { .. } => Err(Error::Internal(format!("claim on node {id} was not routed"))),
    }
}

/// How a node is proven.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Input,
    Const,
    /// `out[o] = Σ_c Π_t operand_t[...]`, axes named by letters.
    Contract {
        operands: Vec<Vec<char>>,
        output: Vec<char>,
    },
    Add {
        sub: bool,
    },
    Mul,
    /// A lookup into a materialised table (linear domain of ≤ 16 bits).
    Table(LookupQuant),
    /// A lookup into a floating-point domain table (`rsqrt`, `reciprocal`).
    LogTable(LookupQuant),
    /// A plain requantization (identity table), range-checked.
    Range(LookupQuant),
    /// `max(requant(x), 0)` at the domain's own scale: range checks and a
    /// complementarity zerocheck, no table.
    Relu(LookupQuant),
    /// `reduce_max` over `axes` of inputs of `bits` bits.
    Max {
        axes: Vec<usize>,
        bits: u32,
    },
    /// Data movement: every output entry is one input entry or zero.
    Move,
    /// Rows of a constant table picked by public indices.
    Embed,
}

/// The proving kind of node `id`; an error naming the node and the op when
/// the op (or this use of it) is not provable.
pub fn classify(vk: &VerifyingKey, id: usize) -> Result<Kind> {
    let node = vk.nodes.get(id).ok_or_else(|| Error::Key(format!("node {id} does not exist")))?;
    let unsupported = |reason: &str| Error::Unsupported {
        node: id,
        name: node.name.clone(),
        op: node.op.def().name().to_string(),
        reason: reason.to_string(),
    };
    let all_quantized = node.outputs.iter().all(|o| matches!(o.fact.dtype, DType::Q(_) | DType::I64));
    if !all_quantized {
        return Err(unsupported(
            "only quantized plans are provable (compile without --float); this value is not a fixed-point integer",
        ));
    }
    if crate::provable::family(&node.op).is_none() {
        return Err(unsupported(&format!("not provable; provable ops: {}", crate::provable::provable_ops())));
    }
    Ok(match &node.op {
        Op::Input(_) => Kind::Input,
        Op::Const(_) => Kind::Const,
        Op::Einsum(e) => {
            let spec =
                zkml_kernels::EinsumSpec::parse(&e.equation).map_err(|e| unsupported(&e.to_string()))?;
            Kind::Contract { operands: spec.inputs, output: spec.output }
        }
        Op::Reduce(r) => {
            let rank = vk.fact(node.inputs[0]).map(|f| f.rank()).unwrap_or(0);
            match r.op {
                ReduceOp::Sum => {
                    let letters: Vec<char> = (0..rank).map(|a| (b'a' + a as u8) as char).collect();
                    let output = letters
                        .iter()
                        .enumerate()
                        .filter(|(a, _)| !r.axes.contains(a))
                        .map(|(_, &c)| c)
                        .collect();
                    if rank > 26 {
                        return Err(unsupported("rank above 26"));
                    }
                    Kind::Contract { operands: vec![letters], output }
                }
                ReduceOp::Max => {
                    let bits = match vk.fact(node.inputs[0]).map(|f| f.dtype) {
                        Some(DType::Q(q)) => u32::from(q.bits),
                        _ => return Err(unsupported("max of a non-quantized value")),
                    };
                    Kind::Max { axes: r.axes.clone(), bits }
                }
                _ => return Err(unsupported("provable reductions: sum, max")),
            }
        }
        Op::Binary(b) => match b.op {
            BinaryOp::Add => Kind::Add { sub: false },
            BinaryOp::Sub => Kind::Add { sub: true },
            BinaryOp::Mul => Kind::Mul,
            _ => return Err(unsupported("provable binary ops: add, sub, mul")),
        },
        Op::Lookup(l) => {
            let Some(q) = l.quant else { return Err(unsupported("an unquantized lookup (float plan)")) };
            match q.table.domain {
                Domain::Linear(_) if l.func == LookupFn::Identity && q.table.output_is_domain() => {
                    Kind::Range(q)
                }
                Domain::Linear(_) if l.func == LookupFn::Relu && q.table.output_is_domain() => Kind::Relu(q),
                Domain::Linear(d) if d.bits <= 16 => Kind::Table(q),
                Domain::Linear(_) => return Err(unsupported("a non-identity table wider than 16 bits")),
                Domain::Log(d) if u32::from(d.mantissa) + u32::from(d.max_exp) <= 62 => Kind::LogTable(q),
                Domain::Log(_) => {
                    return Err(unsupported("a floating-point domain whose inputs exceed 62 bits"));
                }
            }
        }
        Op::Gather(g) if embed::supported(vk, id, g.axis) => Kind::Embed,
        Op::Gather(_) if movement::constant_indices(vk, id).is_some() => Kind::Move,
        Op::Gather(_) => {
            return Err(unsupported(&format!(
                "provable gathers: of a constant table along axis 0 by public input ids, or by constant \
                 indices (at most {} of them)",
                crate::vk::INLINE_MAX
            )));
        }
        Op::Pad(p) if p.value != 0.0 => return Err(unsupported("padding with a nonzero value")),
        op if crate::provable::family(op) == Some(crate::provable::Family::Movement) => Kind::Move,
        _ => return Err(unsupported(&format!("provable ops: {}", crate::provable::provable_ops()))),
    })
}
