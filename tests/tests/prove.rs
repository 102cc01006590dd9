//! End-to-end proofs: every provable fixture is compiled, executed, proven
//! and verified; malicious provers are rejected.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_ir::{Graph, Tensor};
use zkml_protocol::{ProvingKey, setup};
use zkml_runtime::Executor;
use zkml_tests::{fixtures_dir, random_inputs};

fn quantized(name: &str) -> Graph {
    let path = fixtures_dir().join(name);
    let g = load_onnx(&path, &FrontendOptions::default()).unwrap();
    let samples = pipeline::default_calibration(&g);
    pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default())
        .unwrap()
        .quantized
        .graph
}

struct Case {
    graph: Graph,
    pk: ProvingKey,
    values: Vec<Vec<Tensor>>,
}

impl Case {
    fn new(name: &str, seed: u64) -> Case {
        let graph = quantized(name);
        let pk = setup(&graph, "test").unwrap();
        let facts = graph.input_facts();
        let inputs = quantize_inputs(&graph, &random_inputs(&facts, seed, 100));
        let values = Executor::new(&graph).run_all(&inputs).unwrap();
        Case { graph, pk, values }
    }
    fn inputs(&self) -> Vec<Tensor> {
        self.graph.inputs().iter().map(|&i| self.values[i][0].clone()).collect()
    }
    fn outputs(&self) -> Vec<Tensor> {
        self.graph.outputs().iter().map(|v| self.values[v.node][v.slot].clone()).collect()
    }
}

fn prove_and_verify(name: &str) {
    let c = Case::new(name, 7);
    let (proof, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    let bytes = proof.to_bytes().unwrap();
    let proof = zkml_protocol::Proof::from_bytes(&bytes).unwrap();
    zkml_protocol::verify(&c.pk.vk, &c.inputs(), &c.outputs(), &proof).unwrap();
    // A wrong output is rejected.
    let mut outs = c.outputs();
    let mut o = outs[0].as_i64().unwrap().to_vec();
    o[0] += 1;
    outs[0] = Tensor::from_i64(outs[0].shape(), o).unwrap();
    assert!(
        zkml_protocol::verify(&c.pk.vk, &c.inputs(), &outs, &proof).is_err(),
        "{name}: wrong output accepted"
    );
}

#[test]
fn mlp_proves() {
    prove_and_verify("mlp.onnx");
}

#[test]
fn cnn_proves() {
    prove_and_verify("cnn.onnx");
}

#[test]
fn lenet_proves() {
    prove_and_verify("lenet_mnist.onnx");
}
