//! ONNX backend node conformance (float evaluation) of the frontend's ops.
//!
//! Test data: `$ONNX_NODE_TEST_DIR` (set by `scripts/test.sh` to the data
//! shipped in the `onnx==1.22.0` wheel). Every single-node test whose op is
//! in `OPS` is run; the ones listed in `onnx-node-pass.txt` must pass (like
//! tract's `node.txt`, a one-line diff shows a newly passing test). The
//! per-op summary is printed (`cargo test -- --nocapture`).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use zkml_ir::ops::lookup::LookupFn;
use zkml_tests::onnx_node::{op_types, run_case};

/// The ops checked here, besides every ONNX op of the activation table.
const OPS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Conv",
    "Relu",
    "MaxPool",
    "AveragePool",
    "Flatten",
    "BatchNormalization",
    "Sub",
    "Div",
    "Gather",
    "LayerNormalization",
    "Split",
    "Transpose",
    "Mul",
    "Add",
    "Softmax",
    "Pow",
    "Tanh",
    "Reshape",
    "Where",
    "Trilu",
    "ReduceMean",
    "Sqrt",
    "Reciprocal",
    "Slice",
    "Neg",
    "Concat",
    "Sigmoid",
    "Unsqueeze",
    "Expand",
];

const TOLERANCE: f32 = 1e-4;

fn expected() -> Vec<String> {
    let text = include_str!("../onnx-node-pass.txt");
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

#[test]
fn onnx_node_conformance() {
    let Some(dir) = std::env::var_os("ONNX_NODE_TEST_DIR").map(PathBuf::from) else {
        panic!(
            "ONNX_NODE_TEST_DIR is not set: run the tests with scripts/test.sh (it installs onnx==1.22.0)"
        );
    };
    let mut cases: Vec<(String, String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().expect("name").to_string_lossy().to_string();
        let Ok(ops) = op_types(&path.join("model.onnx")) else { continue };
        if let [op] = ops.as_slice()
            && (OPS.contains(&op.as_str()) || LookupFn::ONNX_OPS.contains(&op.as_str()))
        {
            cases.push((op.clone(), name, path));
        }
    }
    cases.sort();
    assert!(cases.len() > 200, "found only {} relevant node tests in {}", cases.len(), dir.display());

    let expected = expected();
    let mut per_op: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut regressions = Vec::new();
    let mut newly_passing = Vec::new();
    let mut failures = Vec::new();
    for (op, name, path) in &cases {
        let result = std::panic::catch_unwind(|| run_case(path, TOLERANCE))
            .unwrap_or_else(|_| Err("PANIC".to_string()));
        let e = per_op.entry(op.clone()).or_default();
        e.1 += 1;
        let listed = expected.contains(name);
        match result {
            Ok(()) => {
                e.0 += 1;
                if !listed {
                    newly_passing.push(name.clone());
                }
            }
            Err(msg) => {
                if listed {
                    regressions.push(format!("{name}: {msg}"));
                }
                failures.push(format!("{name}: {msg}"));
            }
        }
    }
    println!("ONNX node tests, passed/run per op:");
    for (op, (pass, total)) in &per_op {
        println!("  {op:<20} {pass:>3}/{total}");
    }
    let (p, t) = per_op.values().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    println!("  {:<20} {p:>3}/{t}", "total");
    println!("not passing:\n  {}", failures.join("\n  "));
    if !newly_passing.is_empty() {
        println!("passing but not in onnx-node-pass.txt (add them):\n  {}", newly_passing.join("\n  "));
    }
    assert!(!failures.iter().any(|f| f.ends_with("PANIC")), "a node test panicked: {failures:#?}");
    assert!(regressions.is_empty(), "expected passes now fail:\n{}", regressions.join("\n"));
    assert!(expected.len() > 200, "the expected-pass list is suspiciously short");
}
