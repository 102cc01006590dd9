//! The partitioner against its contract: every computing node in exactly one
//! partition, boundaries exactly the edges that cross colors, balance within
//! 10% wherever a single node does not prevent it, and the plan file keeps
//! (and checks) the partitioning.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::partition::{CostModel, partition};
use zkml_ir::partition::is_computing;
use zkml_ir::{Graph, Plan, ValueId};

fn quantized(name: &str) -> Graph {
    zkml_tests::quantized_fixture(name)
}

#[test]
fn partitions_cover_the_graph_and_boundaries_are_the_crossing_edges() {
    for name in ["mlp", "cnn", "gpt2", "llama", "lenet_mnist"] {
        let g = quantized(name);
        let computing: Vec<usize> = (0..g.len()).filter(|&i| is_computing(&g, i)).collect();
        let model = CostModel::new(&g).unwrap();
        let total: u64 = computing.iter().map(|&i| model.node_cost(i).max(1)).sum();
        for k in 1..=computing.len().min(6) {
            let p = partition(&g, k).unwrap();
            p.validate(&g).unwrap();
            assert_eq!(p.len(), k, "{name} k={k}");
            // Independent recomputation of the boundaries from the edges.
            let color = p.colors(&g);
            for part in &p.parts {
                let c = Some(part.color);
                let mut ins: Vec<ValueId> = vec![];
                let mut outs: Vec<ValueId> = vec![];
                for (id, node) in g.nodes() {
                    for v in &node.inputs {
                        let (from, to) = (color[v.node], color[id]);
                        if from.is_some() && to.is_some() && from != to {
                            if to == c {
                                ins.push(*v);
                            }
                            if from == c {
                                outs.push(*v);
                            }
                        }
                    }
                }
                ins.sort();
                ins.dedup();
                outs.sort();
                outs.dedup();
                assert_eq!(part.inputs, ins, "{name} k={k} color {}", part.color);
                assert_eq!(part.outputs, outs, "{name} k={k} color {}", part.color);
                // Boundaries flow forward: partitions are a chain.
                assert!(part.inputs.iter().all(|v| color[v.node] < c));
            }
            // Partition costs pack each side's witness (power-of-two groups)
            // and add its range table: at least the nodes' sum.
            assert!(p.parts.iter().map(|x| x.cost).sum::<u64>() >= total);
            let total: u64 = p.parts.iter().map(|x| x.cost).sum();
            let max_node = computing.iter().map(|&i| model.node_cost_alone(i).max(1)).max().unwrap();
            let largest = p.parts.iter().map(|x| x.cost).max().unwrap();
            let ideal = total as f64 / k as f64;
            // Balanced within 10% unless one node alone (what it costs as
            // a partition of its own, or contiguity around it) is larger:
            // then at most ideal + that node.
            assert!(
                largest as f64 <= (ideal * 1.1).max(ideal + max_node as f64),
                "{name} k={k}: largest {largest}, ideal {ideal:.0}, max node {max_node}"
            );
        }
        assert!(partition(&g, computing.len() + 1).is_err());
        assert!(partition(&g, 0).is_err());
    }
}

#[test]
fn a_transformer_is_cut_through_few_tensors() {
    for name in ["gpt2", "llama"] {
        let g = quantized(name);
        let p = partition(&g, 2).unwrap();
        // A few activations cross the cut (the residual stream and its
        // normalised copy), not a layer's worth of intermediates.
        assert!(p.parts[0].outputs.len() <= 3, "{name}: {:?}", p.parts[0].outputs);
    }
}

#[test]
fn the_plan_keeps_its_partitions_and_rejects_inconsistent_ones() {
    let g = quantized("gpt2");
    let mut plan = Plan::new(g);
    plan.partitions = partition(&plan.graph, 4).unwrap();
    let bytes = plan.to_bytes().unwrap();
    let back = Plan::from_bytes(&bytes).unwrap();
    assert_eq!(back.partitions, plan.partitions);
    // A plan whose boundary lists do not match the graph is refused.
    let mut bad = plan.clone();
    bad.partitions.parts[1].inputs.clear();
    let err = Plan::from_bytes(&bad.to_bytes().unwrap()).unwrap_err();
    assert!(err.to_string().contains("boundary"), "{err}");
    // A node in two partitions is refused.
    let mut bad = plan.clone();
    let n = bad.partitions.parts[0].nodes[0];
    bad.partitions.parts[1].nodes.insert(0, n);
    assert!(Plan::from_bytes(&bad.to_bytes().unwrap()).is_err());
}

#[test]
fn dot_output_colors_every_computing_node() {
    let g = quantized("mlp");
    let p = partition(&g, 2).unwrap();
    let dot = p.to_dot(&g);
    assert!(dot.starts_with("digraph"));
    for id in (0..g.len()).filter(|&i| is_computing(&g, i)) {
        assert!(dot.contains(&format!("label=\"%{id} ")), "node {id} missing");
    }
    assert!(dot.contains("#8dd3c7") && dot.contains("#ffffb3"));
    assert!(dot.contains("penwidth=3"), "the boundary edge is drawn bold");
}

/// Splitting heavy einsums along a free axis of their weight computes the
/// same outputs (the IR's reference evaluator on both graphs), and the
/// split graph partitions validly.
#[test]
fn split_einsums_compute_the_same_outputs() {
    use zkml_compiler::partition::split_and_partition;
    let mut split_somewhere = false;
    for name in ["mlp", "cnn", "lenet_mnist", "gpt2", "llama"] {
        let g = quantized(name);
        let inputs =
            zkml_compiler::report::quantize_inputs(&g, &zkml_tests::random_inputs(&g.input_facts(), 4, 50));
        let want = g.eval(&inputs).unwrap();
        for k in [2, 4] {
            let (s, p) = split_and_partition(&g, k).unwrap();
            p.validate(&s).unwrap();
            assert_eq!(s.eval(&inputs).unwrap(), want, "{name} k={k}");
            assert_eq!(s.input_facts(), g.input_facts());
        }
        // Forced: every einsum above a third of the largest one is split.
        let model = CostModel::new(&g).unwrap();
        let largest = (0..g.len())
            .filter(|&i| matches!(g.node(i).op, zkml_ir::Op::Einsum(_)))
            .map(|i| model.node_cost(i))
            .max()
            .unwrap();
        let s = zkml_compiler::partition::split_einsums_above(&g, largest / 3).unwrap();
        split_somewhere |= s.len() > g.len();
        assert_eq!(s.eval(&inputs).unwrap(), want, "{name} forced split");
        partition(&s, 3.min(s.len() / 4)).unwrap().validate(&s).unwrap();
    }
    assert!(split_somewhere, "no fixture had an einsum heavy enough to split");
}

/// The cost model's committed entries are the prover's: summed over a
/// single partition (each shared table counted once, plus the range
/// table's multiplicities) they equal what the column plan commits.
#[test]
fn committed_entries_are_the_column_plans() {
    use zkml_protocol::columns::{CHUNK_WIDTHS, ColumnPlan};
    for name in ["mlp", "cnn", "gpt2", "llama"] {
        let g = quantized(name);
        let model = CostModel::new(&g).unwrap();
        let pk = zkml_protocol::setup(&g, "test").unwrap();
        for c in CHUNK_WIDTHS {
            let plan = ColumnPlan::with_chunk(&pk.vk, 0, &[], c).unwrap();
            let committed: u64 = plan.layouts.iter().map(|l| l.padded_len() as u64).sum();
            let shared: u64 = plan.tables.iter().map(|t| (t.nodes.len() as u64 - 1) << t.bits).sum();
            let range = (plan.range_buckets.len() as u64) << c;
            let mut modelled: u64 = (0..g.len()).map(|i| model.entries(i, c)).sum();
            // Boundary copies: none in a single partition.
            modelled = modelled - shared + range;
            assert_eq!(modelled, committed, "{name}, {c}-bit chunks");
            assert!(committed > 0, "{name}: nothing committed");
        }
    }
}
