//! ONNX backend node conformance, proven end to end: every single-node
//! test of the `onnx==1.22.0` data whose op zkml lists as proven is
//! compiled with its own inputs as the calibration, proven and verified (a
//! wrong output must be rejected), and the proven outputs compared with the
//! expected ones.
//!
//! Tolerance: a float output may differ from the expected one by at most
//! [`TOLERANCE`] of its largest magnitude. The quantization error of one
//! 16-bit requantization is half a step, `2^-16` of the calibrated range;
//! a node test chains a few (input, table domain, output) and the
//! calibration range is the test input's own, so `2^-7` leaves room for a
//! table's interpolation-free rounding on steep functions while still
//! catching a wrong function. Integer and boolean outputs are exact.
//!
//! The cases listed in `onnx-node-proven.txt` must pass; newly passing
//! ones are printed (add them). The per-op summary is printed
//! (`cargo test -- --nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::frontend::ops::provable_onnx_ops;
use zkml_tests::onnx_node::{conformance, prove_case};

const TOLERANCE: f32 = 1.0 / 128.0;

#[test]
fn onnx_node_tests_prove() {
    let provable = provable_onnx_ops();
    conformance(
        "proven and verified",
        include_str!("../onnx-node-proven.txt"),
        |op| provable.contains(&op),
        |path| prove_case(path, TOLERANCE).map(|_| ()),
    );
}
