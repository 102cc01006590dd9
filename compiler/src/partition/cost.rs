//! The partitioner's cost model: what a node costs (committed entries from
//! the prover's column plan, hand weights for uncommitted work), and what a
//! contiguous run of nodes costs once its witness is packed.

use super::PartitionError;
use zkml_ir::ops::binary::BinaryOp;
use zkml_ir::ops::reduce::ReduceOp;
use zkml_ir::partition::is_computing;
use zkml_ir::{Graph, Op};

/// Relative proving cost of every node of a quantized graph, in units of
/// one einsum operand element (a first-order model of the prover's
/// single-thread work), on tensor sizes with every axis padded to a power
/// of two as the prover lays them out:
///
/// | op | cost |
/// |---|---|
/// | committing ops (lookups, max reductions) | [`ENTRY_COST`] × the witness entries the prover's column plan allocates for the node ([`zkml_protocol::provable::commitments`]: its columns and its table's multiplicities), at the chunk width `c` of its partition |
/// | einsum | inputs + output elements, weights counted 3× (the sumcheck reads them once, the opening twice) |
/// | mul | 3 × (inputs + output): a degree-3 sumcheck |
/// | gather (embedding) | output elements: only the picked rows are touched |
/// | anything else (add, layout ops) | inputs + output |
///
/// The ratio was measured (`examples/bench_workers.rs`, one thread): on
/// SmolLM2 and the 4 × 1024² MLP a committed witness entry (committed,
/// looked up, opened) costs 1–2 µs and an einsum operand element 3–10 ns.
/// Whole-graph figures (heavy-einsum splitting, `--colors auto`) count
/// 16-bit chunks; a partition's run counts the chunks of the width the
/// prover will pick for it ([`RunCost`]).
#[derive(Debug, Clone)]
pub struct CostModel {
    base: Vec<u64>,
    commitments: zkml_protocol::provable::Commitments,
}

impl CostModel {
    /// The costs of `g`'s nodes; fails on a graph the prover cannot prove.
    pub fn new(g: &Graph) -> Result<CostModel, PartitionError> {
        let commitments = zkml_protocol::provable::commitments(g)?;
        Ok(CostModel { base: (0..g.len()).map(|id| base_cost(g, id)).collect(), commitments })
    }

    /// The node's cost, its entries counted at 16-bit chunks.
    pub fn node_cost(&self, id: usize) -> u64 {
        self.base(id) + ENTRY_COST as u64 * self.entries(id, 16)
    }

    /// The cost of work that is not committed (sumchecks, copies).
    pub fn base(&self, id: usize) -> u64 {
        self.base.get(id).copied().unwrap_or(0)
    }

    /// Witness entries the node commits with `chunk`-bit range checks. A
    /// partition's entries are packed into power-of-two groups before they
    /// are committed, so the partitioner rounds their sum as the prover
    /// does ([`packed_entries`]) instead of adding node costs.
    pub fn entries(&self, id: usize, chunk: u32) -> u64 {
        self.commitments.entries(id, chunk)
    }

    /// What `id` costs as a partition of its own (no crossing tensors): its
    /// witness packed at its best chunk width with that width's range
    /// table. A partition can never cost less than its largest node's this.
    pub fn node_cost_alone(&self, id: usize) -> u64 {
        let rc = RunCost::new(&[(self.base(id), self.entries_by_width(id))], vec![0, 0]);
        rc.run(0, 1)
    }

    pub(super) fn entries_by_width(&self, id: usize) -> Vec<u64> {
        CHUNK_WIDTHS.map(|c| self.entries(id, c)).collect()
    }

    /// The whole graph's cost, entries at 16-bit chunks.
    pub fn total(&self) -> u64 {
        (0..self.base.len()).map(|id| self.node_cost(id)).sum()
    }
}

/// The uncommitted part of a node's cost (see [`CostModel`]).
fn base_cost(g: &Graph, id: usize) -> u64 {
    let n = g.node(id);
    let out: usize = n.outputs.iter().map(|v| padded(&v.fact)).sum();
    let input = |weight_factor: usize| -> usize {
        n.inputs
            .iter()
            .map(|v| {
                let len = g.fact(*v).map_or(0, padded);
                if matches!(g.node(v.node).op, Op::Const(_)) { len * weight_factor } else { len }
            })
            .sum()
    };
    (match &n.op {
        Op::Input(_) | Op::Const(_) | Op::Lookup(_) => 0,
        Op::Reduce(r) if r.op == ReduceOp::Max => 0,
        Op::Einsum(_) => input(3) + out,
        Op::Binary(b) if b.op == BinaryOp::Mul => 3 * (input(1) + out),
        Op::Gather(_) => 2 * out,
        _ => input(1) + out,
    }) as u64
}

/// Entries after packing `entries` as `zkml-protocol`'s `Groups` does: up
/// to `MAX_GROUPS` power-of-two groups, each the largest power of two that
/// fits what is left, the last one rounded up.
pub fn packed_entries(entries: u64) -> u64 {
    let (mut left, mut packed) = (entries, 0u64);
    for g in 0..zkml_protocol::packing::MAX_GROUPS {
        if left == 0 {
            break;
        }
        let group = if g + 1 == zkml_protocol::packing::MAX_GROUPS {
            left.next_power_of_two()
        } else {
            1u64 << (63 - left.leading_zeros())
        };
        packed += group;
        left = left.saturating_sub(group);
    }
    packed
}

/// Cost of a run of positions `[s, i)`: base costs add up; witness entries
/// (the run's own plus copies of the tensors crossing its two ends, plus
/// the range table's multiplicities) are packed, then weighted — at the
/// range-check chunk width that minimises them, as the prover's column plan
/// picks its width per partition (`zkml_protocol::columns::ColumnPlan`): a
/// transformer block checks 12-bit chunks, more of them than 16-bit ones,
/// and where the packed total crosses a power of two decides a partition's
/// commitment time.
pub(super) struct RunCost {
    base: Vec<u64>,
    /// Prefix sums of the entries, one row per width of [`CHUNK_WIDTHS`].
    entries: Vec<Vec<u64>>,
    pub(super) crossing: Vec<u64>,
}

impl RunCost {
    /// `costs[i] = (base, entries at each chunk width)` of position `i`.
    pub(super) fn new(costs: &[(u64, Vec<u64>)], crossing: Vec<u64>) -> RunCost {
        let mut base = vec![0u64; costs.len() + 1];
        let mut entries = vec![vec![0u64; costs.len() + 1]; CHUNK_WIDTHS.count()];
        for (i, (b, e)) in costs.iter().enumerate() {
            base[i + 1] = base[i] + b;
            for (w, row) in entries.iter_mut().enumerate() {
                row[i + 1] = row[i] + e[w];
            }
        }
        RunCost { base, entries, crossing }
    }
    pub(super) fn len(&self) -> usize {
        self.base.len() - 1
    }
    /// Weighted witness entries of `[s, i)` plus `extra`, at the best width.
    fn witness(&self, s: usize, i: usize, extra: u64) -> u64 {
        let best = CHUNK_WIDTHS
            .zip(&self.entries)
            .map(|(c, row)| packed_entries(row[i] - row[s] + extra + (1u64 << c)))
            .min()
            .unwrap_or(0);
        ENTRY_COST as u64 * best
    }
    /// The part of the cost that only grows as the run extends left.
    pub(super) fn monotone(&self, s: usize, i: usize) -> u64 {
        self.base[i] - self.base[s] + self.witness(s, i, 0)
    }
    pub(super) fn run(&self, s: usize, i: usize) -> u64 {
        self.base[i] - self.base[s] + self.witness(s, i, self.crossing[s] + self.crossing[i])
    }
}

/// The range-check chunk widths the prover picks from.
pub(super) const CHUNK_WIDTHS: std::ops::RangeInclusive<u32> = zkml_protocol::columns::CHUNK_WIDTHS;

/// Entries of a tensor as the prover stores it: every axis padded to a
/// power of two (`zkml-protocol`'s layout), so a 576-wide activation costs
/// as much as a 1024-wide one.
pub(super) fn padded(f: &zkml_ir::Fact) -> usize {
    f.shape.iter().map(|d| d.next_power_of_two()).product()
}

/// Cost of one committed witness entry relative to one einsum operand
/// element (see [`CostModel`]).
pub const ENTRY_COST: usize = 250;

/// Below this estimated cost a partition is not worth its fixed overhead
/// (its own commitments, lookup tables and openings): `auto` never makes
/// partitions smaller.
pub const MIN_AUTO_COST: u64 = 1 << 24;

/// `--colors auto`: one partition per worker, fewer if partitions would
/// fall below [`MIN_AUTO_COST`] (at least 1, at most the computing nodes).
pub fn auto_colors(g: &Graph, workers: usize) -> Result<usize, PartitionError> {
    let computing = (0..g.len()).filter(|&i| is_computing(g, i)).count();
    let total = CostModel::new(g)?.total();
    let by_cost = (total / MIN_AUTO_COST).max(1) as usize;
    Ok(workers.max(1).min(by_cost).min(computing.max(1)))
}
