//! Partitioned proofs: a plan cut into K colored partitions proves and
//! verifies for K = 1, 2, 4; a proof whose partitions disagree on a
//! boundary tensor, or that mixes partition proofs of different runs, is
//! rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::partition::partition;
use zkml_compiler::report::quantize_inputs;
use zkml_ir::{Graph, Tensor};
use zkml_protocol::{Proof, ProvingKey, Seed, commit_part, prove, prove_part, public_values, verify};
use zkml_runtime::Executor;
use zkml_tests::random_inputs;

fn quantized(name: &str) -> Graph {
    zkml_tests::quantized_fixture(name)
}

fn key(g: &Graph, k: usize) -> ProvingKey {
    let parts = partition(g, k).unwrap();
    zkml_protocol::setup_partitioned(g, &parts, "test").unwrap()
}

fn run(g: &Graph, seed: u64) -> Vec<Vec<Tensor>> {
    let inputs = quantize_inputs(g, &random_inputs(&g.input_facts(), seed, 50));
    Executor::new(g).run_all(&inputs).unwrap()
}

fn public(g: &Graph, values: &[Vec<Tensor>]) -> (Vec<Tensor>, Vec<Tensor>) {
    let ins = g.inputs().iter().map(|&i| values[i][0].clone()).collect();
    let outs = g.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
    (ins, outs)
}

#[test]
fn every_fixture_proves_with_1_2_and_4_colors() {
    for name in ["mlp.onnx", "cnn.onnx", "lenet_mnist.onnx", "gpt2.onnx", "llama.onnx"] {
        let g = quantized(name);
        let values = run(&g, 7);
        let (ins, outs) = public(&g, &values);
        let mut sizes = vec![];
        for k in [1, 2, 4] {
            let pk = key(&g, k);
            let (proof, _) = prove(&pk, &values).unwrap();
            assert_eq!(proof.parts.len(), k);
            let bytes = proof.to_bytes().unwrap();
            sizes.push(bytes.len());
            let proof = Proof::from_bytes(&bytes).unwrap();
            verify(&pk.vk, &ins, &outs, &proof).unwrap_or_else(|e| panic!("{name} K={k}: {e}"));
            let mut wrong = outs.clone();
            let mut o = wrong[0].as_i64().unwrap().to_vec();
            o[0] += 1;
            wrong[0] = Tensor::from_i64(wrong[0].shape(), o).unwrap();
            assert!(verify(&pk.vk, &ins, &wrong, &proof).is_err(), "{name} K={k}: wrong output accepted");
            // A proof for one partitioning does not verify under another.
            if k > 1 {
                let single = key(&g, 1);
                assert!(verify(&single.vk, &ins, &outs, &proof).is_err(), "{name}: K={k} proof, K=1 key");
            }
        }
        eprintln!("{name}: proof bytes K=1,2,4: {sizes:?}");
    }
}

/// Proving through the two phases by hand (what a distributed worker does)
/// gives the byte-identical proof of `prove`: proving is deterministic.
#[test]
fn phase_by_phase_proving_is_byte_identical() {
    let g = quantized("gpt2.onnx");
    let pk = key(&g, 4);
    let values = run(&g, 3);
    let (whole, _) = prove(&pk, &values).unwrap();
    let sat = zkml_protocol::columns::saturating_nodes(&pk.vk, &values).unwrap();
    let ws: Vec<_> = (0..4).rev().map(|c| commit_part(&pk, c, &sat, &values).unwrap()).collect();
    let mut ws = ws;
    ws.sort_by_key(|w| w.color());
    let commitments: Vec<_> = ws.iter().map(|w| w.commitments()).collect();
    let seed = Seed::derive(&pk, &public_values(&pk.vk, &values).unwrap(), &sat, &commitments).unwrap();
    let parts = ws.iter().map(|w| prove_part(&pk, &seed, w, &values).unwrap().0).collect();
    let manual = Proof { saturating: sat, parts };
    assert_eq!(manual.to_bytes().unwrap(), whole.to_bytes().unwrap());
}

#[test]
fn mixing_partition_proofs_of_two_runs_is_rejected() {
    let g = quantized("gpt2.onnx");
    let pk = key(&g, 2);
    let (a, b) = (run(&g, 1), run(&g, 2));
    let (pa, _) = prove(&pk, &a).unwrap();
    let (pb, _) = prove(&pk, &b).unwrap();
    let (ins_a, outs_a) = public(&g, &a);
    let (ins_b, outs_b) = public(&g, &b);
    for swap in 0..2 {
        let mut mixed = pa.clone();
        mixed.parts[swap] = pb.parts[swap].clone();
        assert!(verify(&pk.vk, &ins_a, &outs_a, &mixed).is_err(), "part {swap} of run b in run a's proof");
        assert!(verify(&pk.vk, &ins_b, &outs_b, &mixed).is_err(), "part {swap} of run a in run b's proof");
    }
    // Reordered or missing partitions.
    let mut swapped = pa.clone();
    swapped.parts.swap(0, 1);
    assert!(verify(&pk.vk, &ins_a, &outs_a, &swapped).is_err());
    let mut short = pa.clone();
    short.parts.pop();
    assert!(verify(&pk.vk, &ins_a, &outs_a, &short).is_err());
}

/// The consumer of a boundary tensor proves its part of the graph on a
/// different copy of that tensor than the producer committed (each side
/// internally consistent, the outputs follow the consumer's copy): the
/// verifier's boundary check rejects it. So does a producer whose copy
/// differs from what it computed.
#[test]
fn mismatched_boundary_copies_are_rejected() {
    for (name, k) in [("mlp.onnx", 2), ("gpt2.onnx", 4)] {
        let g = quantized(name);
        let pk = key(&g, k);
        let honest = run(&g, 5);
        for cut in 0..k - 1 {
            let v = pk.vk.partitions.parts[cut].outputs[0];
            // The consumer's world: the boundary tensor altered at one entry
            // and everything after it recomputed.
            let (ins, _) = public(&g, &honest);
            let theirs = zkml_tests::run_altered(&g, &ins, v.node, &|x| x[0] += 1);
            let sat = zkml_protocol::columns::saturating_nodes(&pk.vk, &theirs).unwrap();
            let ws: Vec<_> = (0..k)
                .map(|c| {
                    let view = if c <= cut { &honest } else { &theirs };
                    commit_part(&pk, c, &sat, view).unwrap()
                })
                .collect();
            let commitments: Vec<_> = ws.iter().map(|w| w.commitments()).collect();
            let seed =
                Seed::derive(&pk, &public_values(&pk.vk, &theirs).unwrap(), &sat, &commitments).unwrap();
            let parts = ws
                .iter()
                .enumerate()
                .map(|(c, w)| prove_part(&pk, &seed, w, if c <= cut { &honest } else { &theirs }).unwrap().0)
                .collect();
            let proof = Proof { saturating: sat, parts };
            let (ins, outs) = public(&g, &theirs);
            let err = verify(&pk.vk, &ins, &outs, &proof).expect_err("mismatched boundary accepted");
            assert!(err.to_string().contains("boundary"), "{name} cut {cut}: {err}");

            // The producer commits the altered copy but computed the honest one.
            let hook = move |cols: &zkml_protocol::columns::ColumnPlan, data: &mut [Vec<zkml_proof::F>]| {
                if let Some(&col) = cols.boundary_out.get(&v) {
                    data[col][0] += zkml_proof::F::from_u64(1);
                }
            };
            use p3_field::PrimeCharacteristicRing;
            let (proof, _) = zkml_protocol::prove_with(&pk, &theirs, &hook).unwrap();
            assert!(verify(&pk.vk, &ins, &outs, &proof).is_err(), "{name} cut {cut}: producer's false copy");
        }
    }
}

/// A plan whose heavy einsums were split across partitions (what `zkc
/// compile --colors` writes) proves and verifies.
#[test]
fn split_einsum_plans_prove() {
    for name in ["lenet_mnist.onnx", "gpt2.onnx"] {
        let g0 = quantized(name);
        // Every einsum above a quarter of the largest is split (forced: the
        // fixtures' einsums are too light for the default limit).
        let model = zkml_compiler::partition::CostModel::new(&g0).unwrap();
        let largest = (0..g0.len())
            .filter(|&i| matches!(g0.node(i).op, zkml_ir::Op::Einsum(_)))
            .map(|i| model.node_cost(i))
            .max()
            .unwrap();
        let g = zkml_compiler::partition::split_einsums_above(&g0, largest / 4).unwrap();
        assert!(g.len() > g0.len());
        let parts = partition(&g, 4).unwrap();
        let pk = zkml_protocol::setup_partitioned(&g, &parts, "test").unwrap();
        let values = run(&g, 8);
        let (ins, outs) = public(&g, &values);
        let (proof, _) = prove(&pk, &values).unwrap();
        verify(&pk.vk, &ins, &outs, &proof).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Completeness at every cut: a two-color plan cut after any computing
/// node (whatever crosses the cut: lookup outputs, requantizations,
/// residual sums) proves and verifies.
#[test]
fn every_cut_position_proves() {
    for (name, step) in [("llama.onnx", 5), ("gpt2.onnx", 5)] {
        let g = quantized(name);
        let values = run(&g, 2);
        let (ins, outs) = public(&g, &values);
        let order: Vec<usize> = (0..g.len()).filter(|&i| zkml_ir::partition::is_computing(&g, i)).collect();
        let mut failures = vec![];
        for cut in (1..order.len()).step_by(step) {
            let color: Vec<Option<u32>> = (0..g.len())
                .map(|i| order.iter().position(|&o| o == i).map(|p| u32::from(p >= cut)))
                .collect();
            let parts = zkml_ir::Partitioning::from_assignment(&g, &color, &[1, 1]).unwrap();
            let pk = zkml_protocol::setup_partitioned(&g, &parts, "test").unwrap();
            let (proof, _) = prove(&pk, &values).unwrap();
            if let Err(e) = verify(&pk.vk, &ins, &outs, &proof) {
                failures.push(format!("cut before node {} ({:?}): {e}", order[cut], parts.parts[0].outputs));
            }
        }
        assert!(failures.is_empty(), "{name}: {failures:#?}");
    }
}
