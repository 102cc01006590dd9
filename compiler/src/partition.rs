//! The partitioner: cuts a graph's proving work into `K` colored partitions
//! ([`zkml_ir::Partitioning`]) that are proven independently.
//!
//! **Model.** Computing nodes are taken in their id order, which is a
//! topological order ([`zkml_ir::Graph`]'s invariant), and a partition is a
//! contiguous run of that order. Contiguity keeps the partitions a chain
//! (every boundary tensor flows from a lower color to a higher one) and
//! makes transformer layer boundaries and residual adds, where one tensor
//! carries the whole state, natural cut points. Each node has an estimated
//! proving cost ([`node_cost`]); cutting between positions `i - 1` and `i`
//! costs the number of elements of every value computed before `i` and read
//! at or after `i` (each is committed on both sides of the cut).
//!
//! **Objective.** First the smallest achievable largest-partition cost
//! `B*` (binary search with a greedy feasibility test, exact for contiguous
//! runs); then the bound `T = max(B*, 1.1 · total / K)` (balanced within
//! 10% wherever the graph allows); then, by dynamic programming over (cut
//! count, position), the cut set with the fewest crossing elements among
//! those whose partitions all cost at most `T`; ties go to the more
//! balanced cut. `O(K · n · w)` for `n` computing nodes and `w` positions
//! within `T` of each other.
//!
//! **Not done (yet):** splitting one huge einsum along a free axis; a node
//! costing more than `total / K` stays whole and bounds the balance.

use zkml_ir::ops::binary::BinaryOp;
use zkml_ir::partition::is_computing;
use zkml_ir::{Graph, Op, Partitioning};

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
}

/// Relative proving cost of one node, in elements touched (a first-order
/// model of the prover's work; the units cancel in the balance):
///
/// | op | cost |
/// |---|---|
/// | einsum | inputs + output elements, weights counted 3× (the sumcheck reads them once, the opening twice) |
/// | lookup (incl. requantization) | 8 × (input + output): committed columns, logUp-GKR layers |
/// | max reduction | 8 × input: differences are range-checked |
/// | mul | 3 × (inputs + output): a degree-3 sumcheck |
/// | anything else (add, layout ops) | inputs + output |
pub fn node_cost(g: &Graph, id: usize) -> u64 {
    let n = g.node(id);
    let out: usize = n.outputs.iter().map(|v| v.fact.len()).sum();
    let input = |weight_factor: usize| -> usize {
        n.inputs
            .iter()
            .map(|v| {
                let len = g.fact(*v).map_or(0, |f| f.len());
                if matches!(g.node(v.node).op, Op::Const(_)) { len * weight_factor } else { len }
            })
            .sum()
    };
    let c = match &n.op {
        Op::Input(_) | Op::Const(_) => 0,
        Op::Einsum(_) => input(3) + out,
        Op::Lookup(_) => 8 * (input(1) + out),
        Op::Reduce(_) => 8 * input(1),
        Op::Binary(b) if b.op == BinaryOp::Mul => 3 * (input(1) + out),
        _ => input(1) + out,
    };
    c as u64
}

/// Below this estimated cost a partition is not worth its fixed overhead
/// (its own commitments, lookup tables and openings): `auto` never makes
/// partitions smaller.
pub const MIN_AUTO_COST: u64 = 1 << 20;

/// `--colors auto`: one partition per worker, fewer if partitions would
/// fall below [`MIN_AUTO_COST`] (at least 1, at most the computing nodes).
pub fn auto_colors(g: &Graph, workers: usize) -> usize {
    let computing = (0..g.len()).filter(|&i| is_computing(g, i)).count();
    let total: u64 = (0..g.len()).map(|i| node_cost(g, i)).sum();
    let by_cost = (total / MIN_AUTO_COST).max(1) as usize;
    workers.max(1).min(by_cost).min(computing.max(1))
}

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
    let cost: Vec<u64> = order.iter().map(|&i| node_cost(g, i).max(1)).collect();
    if n == 0 || k == 1 {
        let mut p = Partitioning::single(g);
        if let Some(part) = p.parts.first_mut() {
            part.cost = cost.iter().sum();
        }
        return Ok(p);
    }
    let mut prefix = vec![0u64; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + cost[i];
    }
    let crossing = crossing_elements(g, &order);
    let total = prefix[n];
    let best = min_max_cost(&cost, k);
    let bound = best.max((total as f64 * 1.1 / k as f64).floor() as u64);
    let cuts = min_crossing_cuts(&prefix, &crossing, k, bound)
        .or_else(|| min_crossing_cuts(&prefix, &crossing, k, best))
        .expect("the min-max bound is feasible by construction");
    let mut color = vec![None; g.len()];
    let mut costs = vec![0u64; k];
    let mut c = 0usize;
    for (pos, &id) in order.iter().enumerate() {
        while c + 1 < k && pos >= cuts[c] {
            c += 1;
        }
        color[id] = Some(c as u32);
        costs[c] += cost[pos];
    }
    Ok(Partitioning::from_assignment(g, &color, &costs)?)
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
        let len = g.fact(*v).map_or(0, |f| f.len()) as i64;
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

/// The smallest `B` such that `cost` splits into at most `k` contiguous
/// runs of cost `<= B` (greedy test, binary search).
fn min_max_cost(cost: &[u64], k: usize) -> u64 {
    let fits = |b: u64| {
        let (mut runs, mut acc) = (1usize, 0u64);
        for &c in cost {
            if c > b {
                return false;
            }
            if acc + c > b {
                runs += 1;
                acc = 0;
            }
            acc += c;
        }
        runs <= k
    };
    let (mut lo, mut hi) = (cost.iter().copied().max().unwrap_or(0), cost.iter().sum::<u64>());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

/// Start positions of partitions 1..k (k - 1 cuts) minimising the crossing
/// elements with every partition costing at most `bound` (ties: smaller
/// largest partition); `None` if no such split exists.
fn min_crossing_cuts(prefix: &[u64], crossing: &[u64], k: usize, bound: u64) -> Option<Vec<usize>> {
    let n = prefix.len() - 1;
    const INF: (u64, u64) = (u64::MAX, u64::MAX);
    // f[j][i]: first i nodes in j + 1 runs -> (crossing sum, largest run).
    let mut f = vec![vec![INF; n + 1]; k];
    let mut from = vec![vec![usize::MAX; n + 1]; k];
    for i in 1..=n {
        if prefix[i] <= bound {
            f[0][i] = (0, prefix[i]);
        }
    }
    for j in 1..k {
        for i in (j + 1)..=n {
            // Last run is [s, i); s ranges while its cost stays within bound.
            let mut s = i - 1;
            loop {
                let run = prefix[i] - prefix[s];
                if run > bound {
                    break;
                }
                let prev = f[j - 1][s];
                if prev != INF {
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

    #[test]
    fn min_max_is_exact_on_small_cases() {
        assert_eq!(min_max_cost(&[1, 1, 1, 1], 2), 2);
        assert_eq!(min_max_cost(&[5, 1, 1, 1], 2), 5);
        assert_eq!(min_max_cost(&[1, 2, 3, 4, 5], 3), 6);
    }

    #[test]
    fn cuts_prefer_thin_boundaries() {
        // Four equal nodes; crossing is cheap only between 1 and 2.
        let prefix = [0, 10, 20, 30, 40];
        let crossing = [0, 100, 1, 100, 0];
        assert_eq!(min_crossing_cuts(&prefix, &crossing, 2, 22), Some(vec![2]));
        // Too tight a bound to cut there: no split.
        assert_eq!(min_crossing_cuts(&prefix, &crossing, 2, 15), None);
    }
}
