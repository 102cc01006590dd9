//! The partitioner: cuts a graph's proving work into `K` colored partitions
//! ([`zkml_ir::Partitioning`]) that are proven independently.
//!
//! **Model.** Computing nodes are taken in their id order, which is a
//! topological order ([`zkml_ir::Graph`]'s invariant), and a partition is a
//! contiguous run of that order. Contiguity keeps the partitions a chain
//! (every boundary tensor flows from a lower color to a higher one) and
//! makes transformer layer boundaries and residual adds, where one tensor
//! carries the whole state, natural cut points. Each node has an estimated
//! proving cost ([`CostModel`]); cutting between positions `i - 1` and `i`
//! costs the number of elements of every value computed before `i` and read
//! at or after `i` (each is committed on both sides of the cut).
//!
//! **Run cost.** A partition's cost is not the sum of its nodes': its
//! committed witness entries (its lookups' columns, copies of the tensors
//! crossing its two ends, the range table) are packed into power-of-two
//! groups as the prover packs them ([`packed_entries`]), at the
//! range-check chunk width the prover will choose for the partition, then
//! weighted;
//! everything else adds up.
//!
//! **Objective.** First the smallest achievable largest-partition cost
//! `B*` (binary search with a greedy feasibility test, exact for contiguous
//! runs); then the bound `T = max(B*, (1 + BALANCE) · total / K)`
//! (`BALANCE` = 3%: the slowest partition sets the parallel proving time,
//! and a crossing tensor costs little next to it); then, by dynamic
//! programming over (cut
//! count, position), the cut set with the fewest crossing elements among
//! those whose partitions all cost at most `T`; ties go to the more
//! balanced cut. `O(K · n · w)` for `n` computing nodes and `w` positions
//! within `T` of each other.
//!
//! **Heavy einsums** ([`split_heavy_einsums`], run first by
//! [`split_and_partition`]): an einsum costing more than `total / 2K`
//! (a language model's head) is split along a free axis of its weight into
//! row blocks and a `concat`, so that it can be spread over partitions.
//! Other nodes stay whole: a table that costs more than its share bounds
//! the balance.

use zkml_ir::ops::binary::BinaryOp;
use zkml_ir::ops::reduce::ReduceOp;
use zkml_ir::partition::is_computing;
use zkml_ir::{Graph, Op, Partitioning, ValueId};

/// Errors of the partitioner.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error("--colors must be at least 1")]
    Zero,
    #[error(
        "{colors} colors asked, but the graph has only {nodes} computing nodes (at most that many colors)"
    )]
    TooMany { colors: usize, nodes: usize },
    #[error(transparent)]
    Ir(#[from] zkml_ir::IrError),
    /// The graph is not provable, so it has no cost model.
    #[error(transparent)]
    Unprovable(#[from] zkml_protocol::Error),
}

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

    fn entries_by_width(&self, id: usize) -> Vec<u64> {
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
struct RunCost {
    base: Vec<u64>,
    /// Prefix sums of the entries, one row per width of [`CHUNK_WIDTHS`].
    entries: Vec<Vec<u64>>,
    crossing: Vec<u64>,
}

impl RunCost {
    /// `costs[i] = (base, entries at each chunk width)` of position `i`.
    fn new(costs: &[(u64, Vec<u64>)], crossing: Vec<u64>) -> RunCost {
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
    fn len(&self) -> usize {
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
    fn monotone(&self, s: usize, i: usize) -> u64 {
        self.base[i] - self.base[s] + self.witness(s, i, 0)
    }
    fn run(&self, s: usize, i: usize) -> u64 {
        self.base[i] - self.base[s] + self.witness(s, i, self.crossing[s] + self.crossing[i])
    }
}

/// The range-check chunk widths the prover picks from.
const CHUNK_WIDTHS: std::ops::RangeInclusive<u32> = zkml_protocol::columns::CHUNK_WIDTHS;

/// Entries of a tensor as the prover stores it: every axis padded to a
/// power of two (`zkml-protocol`'s layout), so a 576-wide activation costs
/// as much as a 1024-wide one.
fn padded(f: &zkml_ir::Fact) -> usize {
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

/// Splits every einsum that would dominate a partition along a free axis of
/// its weight: an einsum costing more than `1/(2k)` of the graph, with one
/// constant operand that has an output axis no other operand has (the rows
/// of a weight, the vocabulary of a language model's head), becomes `p`
/// einsums on row blocks of the weight (new constants) and a `concat` of
/// their outputs, `p = ⌈cost / limit⌉` (at most the axis length). The
/// result is the same tensor (each output entry is the same sum), so the
/// split graph computes exactly what `g` does; the partitioner can then
/// put the blocks in different partitions. `k ≤ 1` returns `g` unchanged.
pub fn split_heavy_einsums(g: &Graph, k: usize) -> Result<Graph, PartitionError> {
    if k <= 1 {
        return Ok(g.clone());
    }
    let total = CostModel::new(g)?.total();
    split_einsums_above(g, (total / (2 * k as u64)).max(1))
}

/// [`split_heavy_einsums`] with an explicit cost limit: every splittable
/// einsum costing more than `limit` becomes `⌈cost / limit⌉` blocks.
pub fn split_einsums_above(g: &Graph, limit: u64) -> Result<Graph, PartitionError> {
    let limit = limit.max(1);
    let costs = CostModel::new(g)?;
    let mut out = Graph::new();
    let mut map: std::collections::BTreeMap<ValueId, ValueId> = Default::default();
    for (id, node) in g.nodes() {
        let inputs: Vec<ValueId> = node.inputs.iter().map(|v| map[v]).collect();
        let split = match &node.op {
            Op::Einsum(e) if costs.node_cost(id) > limit => split_axis(g, &node.inputs, &e.equation),
            _ => None,
        };
        let new_id = match split {
            None => {
                let n = out.add_node(node.name.clone(), node.op.clone(), &inputs)?;
                for (slot, v) in node.outputs.iter().enumerate() {
                    out.set_value_name(ValueId::new(n, slot), v.name.clone());
                }
                n
            }
            Some((operand, w_axis, out_axis)) => {
                let Op::Einsum(e) = &node.op else { unreachable!("matched above") };
                let w_node = g.node(node.inputs[operand].node);
                let Op::Const(c) = &w_node.op else { unreachable!("split_axis checks") };
                let len = c.fact.shape[w_axis];
                let pieces = (costs.node_cost(id).div_ceil(limit) as usize).clamp(2, len);
                let mut parts = vec![];
                for i in 0..pieces {
                    let (lo, hi) = (i * len / pieces, (i + 1) * len / pieces);
                    let t = slice_axis(&c.value, w_axis, lo, hi)?;
                    let mut fact = c.fact.clone();
                    fact.shape[w_axis] = hi - lo;
                    let w = out.add_node(
                        format!("{}.rows{lo}", w_node.name),
                        zkml_ir::ops::source::Const { fact, value: std::sync::Arc::new(t) },
                        &[],
                    )?;
                    let mut ins = inputs.clone();
                    ins[operand] = ValueId::new(w, 0);
                    let part = out.add_node(format!("{}.rows{lo}", node.name), e.clone(), &ins)?;
                    parts.push(ValueId::new(part, 0));
                }
                let n =
                    out.add_node(node.name.clone(), zkml_ir::ops::layout::Concat { axis: out_axis }, &parts)?;
                out.set_value_name(ValueId::new(n, 0), node.outputs[0].name.clone());
                n
            }
        };
        for slot in 0..node.outputs.len() {
            map.insert(ValueId::new(id, slot), ValueId::new(new_id, slot));
        }
    }
    out.set_outputs(g.outputs().iter().map(|v| map[v]).collect());
    Ok(out)
}

/// For an einsum over `inputs`: `(operand, its axis, output axis)` of a
/// constant operand's letter that appears in the output and in no other
/// operand (the longest such axis), if any.
fn split_axis(g: &Graph, inputs: &[ValueId], equation: &str) -> Option<(usize, usize, usize)> {
    let spec = zkml_kernels::EinsumSpec::parse(equation).ok()?;
    let mut best: Option<(usize, usize, usize, usize)> = None;
    for (o, v) in inputs.iter().enumerate() {
        let Op::Const(c) = &g.node(v.node).op else { continue };
        for (a, letter) in spec.inputs[o].iter().enumerate() {
            let elsewhere = spec.inputs.iter().enumerate().any(|(j, s)| j != o && s.contains(letter));
            let Some(out_axis) = spec.output.iter().position(|l| l == letter) else { continue };
            // A repeated letter (a diagonal) cannot be cut on one side.
            if elsewhere || spec.inputs[o].iter().filter(|l| *l == letter).count() > 1 {
                continue;
            }
            let len = c.fact.shape[a];
            if len >= 2 && best.is_none_or(|b| len > b.3) {
                best = Some((o, a, out_axis, len));
            }
        }
    }
    best.map(|(o, a, out_axis, _)| (o, a, out_axis))
}

/// Entries `lo..hi` of `axis` of `t`.
fn slice_axis(
    t: &zkml_ir::Tensor,
    axis: usize,
    lo: usize,
    hi: usize,
) -> Result<zkml_ir::Tensor, PartitionError> {
    let shape = t.shape();
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let mut new_shape = shape.to_vec();
    new_shape[axis] = hi - lo;
    fn take<T: Copy>(v: &[T], outer: usize, len: usize, inner: usize, lo: usize, hi: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(outer * (hi - lo) * inner);
        for o in 0..outer {
            out.extend_from_slice(&v[(o * len + lo) * inner..(o * len + hi) * inner]);
        }
        out
    }
    let len = shape[axis];
    let t = zkml_ir::Tensor::new(
        new_shape,
        zkml_ir::map_data!(t.data(), v => take(v, outer, len, inner, lo, hi)),
    );
    t.map_err(|e| PartitionError::Ir(zkml_ir::IrError::Partition(e.to_string())))
}

/// What `zkc compile --colors k` does: heavy einsums split
/// ([`split_heavy_einsums`]), then the graph cut into `k` partitions.
pub fn split_and_partition(g: &Graph, k: usize) -> Result<(Graph, Partitioning), PartitionError> {
    let g = split_heavy_einsums(g, k)?;
    let p = partition(&g, k)?;
    Ok((g, p))
}

/// Slack over a perfectly even split that the partitioner may spend on
/// thinner cuts (see the module docs).
pub const BALANCE: f64 = 0.03;

/// Cuts `g` into `k` partitions (see the module docs).
pub fn partition(g: &Graph, k: usize) -> Result<Partitioning, PartitionError> {
    let order: Vec<usize> = (0..g.len()).filter(|&i| is_computing(g, i)).collect();
    let n = order.len();
    if k == 0 {
        return Err(PartitionError::Zero);
    }
    if k > n.max(1) {
        return Err(PartitionError::TooMany { colors: k, nodes: n });
    }
    let model = CostModel::new(g)?;
    let costs: Vec<(u64, Vec<u64>)> =
        order.iter().map(|&i| (model.base(i).max(1), model.entries_by_width(i))).collect();
    let rc = RunCost::new(&costs, crossing_elements(g, &order));
    if n == 0 || k == 1 {
        let mut p = Partitioning::single(g);
        if let Some(part) = p.parts.first_mut() {
            part.cost = rc.run(0, n);
        }
        return Ok(p);
    }
    let best = min_max_cost(&rc, k);
    // The even share counts entries unpacked at 16-bit chunks (the fewest):
    // packing the whole graph's witness at once would round it up to a
    // power of two no partition pays, and loosen the bound.
    let even =
        order.iter().map(|&i| model.base(i).max(1) + ENTRY_COST as u64 * model.entries(i, 16)).sum::<u64>()
            as f64
            / k as f64;
    let bound = best.max((even * (1.0 + BALANCE)).floor() as u64);
    let cuts = min_crossing_cuts(&rc, k, bound)
        .or_else(|| min_crossing_cuts(&rc, k, best))
        .expect("the min-max bound is feasible by construction");
    let mut color = vec![None; g.len()];
    let mut c = 0usize;
    for (pos, &id) in order.iter().enumerate() {
        while c + 1 < k && pos >= cuts[c] {
            c += 1;
        }
        color[id] = Some(c as u32);
    }
    let mut starts = vec![0];
    starts.extend_from_slice(&cuts);
    starts.push(n);
    let part_costs: Vec<u64> = starts.windows(2).map(|w| rc.run(w[0], w[1])).collect();
    Ok(Partitioning::from_assignment(g, &color, &part_costs)?)
}

/// `crossing[i]` = elements of values computed at positions `< i` and read
/// at positions `>= i` (for `0 < i < n`).
fn crossing_elements(g: &Graph, order: &[usize]) -> Vec<u64> {
    let n = order.len();
    let mut pos = vec![usize::MAX; g.len()];
    for (p, &id) in order.iter().enumerate() {
        pos[id] = p;
    }
    // last[(node, slot)] = last reader's position, as a difference array.
    let mut diff = vec![0i64; n + 1];
    let mut last: std::collections::BTreeMap<zkml_ir::ValueId, usize> = Default::default();
    for (p, &id) in order.iter().enumerate() {
        for v in &g.node(id).inputs {
            if pos[v.node] != usize::MAX {
                let e = last.entry(*v).or_insert(p);
                *e = (*e).max(p);
            }
        }
    }
    for (v, &l) in &last {
        let len = g.fact(*v).map_or(0, padded) as i64;
        // Crosses the cuts i with pos(v) < i <= l.
        diff[pos[v.node] + 1] += len;
        diff[l + 1] -= len;
    }
    let mut out = vec![0u64; n + 1];
    let mut acc = 0i64;
    for i in 0..=n {
        acc += diff[i];
        out[i] = acc.max(0) as u64;
    }
    out
}

/// The smallest `B` such that the positions split into at most `k`
/// contiguous runs of cost `<= B` (greedy test, binary search; exact when
/// a run's cost only grows as it extends, which the crossing copies can
/// break slightly).
fn min_max_cost(rc: &RunCost, k: usize) -> u64 {
    let n = rc.len();
    let fits = |b: u64| {
        let (mut runs, mut s) = (1usize, 0usize);
        for i in 1..=n {
            if rc.run(s, i) > b {
                if rc.run(i - 1, i) > b {
                    return false;
                }
                runs += 1;
                s = i - 1;
            }
        }
        runs <= k
    };
    let (mut lo, mut hi) = ((0..n).map(|i| rc.run(i, i + 1)).max().unwrap_or(0), rc.run(0, n));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

/// Start positions of partitions 1..k (k - 1 cuts) minimising the crossing
/// elements with every partition costing at most `bound` (ties: smaller
/// largest partition); `None` if no such split exists.
fn min_crossing_cuts(rc: &RunCost, k: usize, bound: u64) -> Option<Vec<usize>> {
    let n = rc.len();
    let crossing = &rc.crossing;
    const INF: (u64, u64) = (u64::MAX, u64::MAX);
    // f[j][i]: first i nodes in j + 1 runs -> (crossing sum, largest run).
    let mut f = vec![vec![INF; n + 1]; k];
    let mut from = vec![vec![usize::MAX; n + 1]; k];
    for (i, first) in f[0].iter_mut().enumerate().skip(1) {
        if rc.run(0, i) <= bound {
            *first = (0, rc.run(0, i));
        }
    }
    for j in 1..k {
        for i in (j + 1)..=n {
            // Last run is [s, i); s ranges while its cost stays within bound.
            let mut s = i - 1;
            loop {
                if rc.monotone(s, i) > bound {
                    break;
                }
                let run = rc.run(s, i);
                let prev = f[j - 1][s];
                if prev != INF && run <= bound {
                    let cand = (prev.0 + crossing[s], prev.1.max(run));
                    if cand < f[j][i] {
                        f[j][i] = cand;
                        from[j][i] = s;
                    }
                }
                if s <= j {
                    break;
                }
                s -= 1;
            }
        }
    }
    if f[k - 1][n] == INF {
        return None;
    }
    let mut cuts = vec![0usize; k - 1];
    let mut i = n;
    for j in (1..k).rev() {
        let s = from[j][i];
        cuts[j - 1] = s;
        i = s;
    }
    Some(cuts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base costs only (no witness entries): runs add up exactly, apart
    /// from the range table every run carries.
    fn plain(costs: &[u64], crossing: Vec<u64>) -> RunCost {
        let c: Vec<(u64, Vec<u64>)> = costs.iter().map(|&b| (b, vec![0; CHUNK_WIDTHS.count()])).collect();
        RunCost::new(&c, crossing)
    }
    /// The narrowest range table, which a run without entries is charged.
    const R: u64 = ENTRY_COST as u64 * (1 << *CHUNK_WIDTHS.start());

    #[test]
    fn min_max_is_exact_on_small_cases() {
        assert_eq!(min_max_cost(&plain(&[1, 1, 1, 1], vec![0; 5]), 2), 2 + R);
        assert_eq!(min_max_cost(&plain(&[5, 1, 1, 1], vec![0; 5]), 2), 5 + R);
        assert_eq!(min_max_cost(&plain(&[1, 2, 3, 4, 5], vec![0; 6]), 3), 6 + R);
    }

    #[test]
    fn cuts_prefer_thin_boundaries() {
        // Four equal nodes; crossing is cheap only between 1 and 2.
        let rc = plain(&[10, 10, 10, 10], vec![0, 100, 1, 100, 0]);
        let even = rc.run(0, 2).max(rc.run(2, 4));
        assert_eq!(min_crossing_cuts(&rc, 2, even), Some(vec![2]));
        // Too tight a bound to cut anywhere: no split.
        assert_eq!(min_crossing_cuts(&rc, 2, 15 + R), None);
    }

    #[test]
    fn packing_rounds_like_the_prover() {
        assert_eq!(packed_entries(0), 0);
        assert_eq!(packed_entries(1 << 20), 1 << 20);
        assert_eq!(packed_entries((1 << 20) + 1), (1 << 20) + 1);
        assert_eq!(packed_entries((1 << 22) + (1 << 20) + 5), (1 << 22) + (1 << 20) + 8);
        assert_eq!(packed_entries((1 << 22) + (1 << 20) + (1 << 16) + 3), (1 << 22) + (1 << 20) + (1 << 17));
    }
}
