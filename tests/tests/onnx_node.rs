//! ONNX backend node conformance (float evaluation) of the frontend's ops.
//!
//! Test data: `$ONNX_NODE_TEST_DIR` (set by `scripts/test.sh` to the data
//! shipped in the `onnx==1.22.0` wheel). Every single-node test whose op is
//! in `OPS` is run; the ones listed in `onnx-node-pass.txt` must pass (like
//! tract's `node.txt`, a one-line diff shows a newly passing test). The
//! per-op summary is printed (`cargo test -- --nocapture`).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_ir::ops::lookup::LookupFn;
use zkml_tests::onnx_node::{conformance, run_case};

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

#[test]
fn onnx_node_conformance() {
    let ran = conformance(
        "evaluated in f32",
        include_str!("../onnx-node-pass.txt"),
        |op| OPS.contains(&op) || LookupFn::ONNX_OPS.contains(&op),
        |path| run_case(path, TOLERANCE),
    );
    assert!(ran > 200, "found only {ran} relevant node tests");
    let listed = include_str!("../onnx-node-pass.txt").lines().filter(|l| l.starts_with("test_")).count();
    assert!(listed > 200, "the expected-pass list is suspiciously short");
}
