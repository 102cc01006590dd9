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
//!
//! Files: [`cost`] (the cost model: nodes, runs, packing), [`split`] (heavy
//! einsums), this file (the cut itself).

mod cost;
mod split;

pub use cost::{CostModel, ENTRY_COST, MIN_AUTO_COST, auto_colors, packed_entries};
pub use split::{split_einsums_above, split_heavy_einsums};

use cost::{RunCost, padded};
use zkml_ir::partition::is_computing;
use zkml_ir::{Graph, Partitioning};

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
    use super::cost::CHUNK_WIDTHS;
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
