//! DAG-aware greedy extraction: one e-node per e-class, chosen by proving
//! cost with shared subterms counted once.
//!
//! The cost of choosing e-node `n` for class `c` is the sum of the own costs
//! ([`ProvingCost::own`]) of every class the choice needs: `c` itself plus
//! the union of the classes its children's current choices need. Sets are
//! bitsets over the classes, so a residual stream read by every layer is
//! paid for once, not once per path (a tree cost doubles per residual block
//! and, dozens of layers deep, outgrows f64's resolution). Choices are
//! computed bottom-up from a worklist, a class being revisited whenever a
//! child's choice improved, until none improves (the "greedy DAG"
//! heuristic); a choice whose children already need its own class would
//! close a cycle and is skipped.
//!
//! Invariant: every chosen e-node's children have choices, and following
//! choices from any class never returns to it (the extractor checks this
//! again while it rebuilds the graph).

use super::cost::ProvingCost;
use super::lang::{EGraph, ZkLang};
use egg::{Id, Language};
use fixedbitset::FixedBitSet;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// Visits per class (on average) before giving up on improving further.
const MAX_VISITS_PER_CLASS: usize = 64;

struct Best {
    cost: f64,
    node: usize,
    needs: Rc<FixedBitSet>,
}

/// The chosen e-node of every class that has one (keyed by canonical id).
pub fn choose(eg: &EGraph) -> HashMap<Id, ZkLang> {
    let classes: Vec<_> = eg.classes().collect();
    let index: HashMap<Id, usize> = classes.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let model = ProvingCost { egraph: eg };
    let own: Vec<Vec<f64>> = classes.iter().map(|c| c.nodes.iter().map(|n| model.own(n)).collect()).collect();
    let kids: Vec<Vec<Vec<usize>>> = classes
        .iter()
        .map(|c| c.nodes.iter().map(|n| n.children().iter().map(|&k| index[&eg.find(k)]).collect()).collect())
        .collect();
    let n = classes.len();
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (ci, nodes) in kids.iter().enumerate() {
        for &k in nodes.iter().flatten() {
            parents[k].push(ci);
        }
    }
    for p in &mut parents {
        p.sort_unstable();
        p.dedup();
    }
    let mut best: Vec<Option<Best>> = (0..n).map(|_| None).collect();
    // Worklist: a class is revisited when one of its children's choices
    // improved. Bounded, as a guard against float noise cycling forever.
    let mut queue: VecDeque<usize> = (0..n).collect();
    let mut queued = FixedBitSet::with_capacity(n);
    queued.insert_range(..);
    let mut budget = MAX_VISITS_PER_CLASS * n;
    while let Some(ci) = queue.pop_front() {
        queued.set(ci, false);
        if budget == 0 {
            break;
        }
        budget -= 1;
        let mut improved = false;
        for (ni, ks) in kids[ci].iter().enumerate() {
            let Some(sets) =
                ks.iter().map(|&k| best[k].as_ref().map(|b| &b.needs)).collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            if sets.iter().any(|s| s.contains(ci)) {
                continue; // would need itself: a cycle
            }
            let mut needs = FixedBitSet::with_capacity(n);
            for s in &sets {
                needs.union_with(s);
            }
            let shared: f64 = needs.ones().filter_map(|m| best[m].as_ref().map(|b| own[m][b.node])).sum();
            needs.insert(ci);
            let cost = own[ci][ni] + shared;
            if best[ci].as_ref().is_none_or(|b| cost < b.cost * (1.0 - 1e-9)) {
                best[ci] = Some(Best { cost, node: ni, needs: Rc::new(needs) });
                improved = true;
            }
        }
        if improved {
            for &p in &parents[ci] {
                if !queued.contains(p) {
                    queued.insert(p);
                    queue.push_back(p);
                }
            }
        }
    }
    best.iter()
        .enumerate()
        .filter_map(|(ci, b)| b.as_ref().map(|b| (classes[ci].id, classes[ci].nodes[b.node].clone())))
        .collect()
}
