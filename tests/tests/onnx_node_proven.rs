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

use std::collections::BTreeMap;
use std::path::PathBuf;
use zkml_compiler::frontend::ops::provable_onnx_ops;
use zkml_tests::onnx_node::{op_types, prove_case};

const TOLERANCE: f32 = 1.0 / 128.0;

fn expected() -> Vec<String> {
    let text = include_str!("../onnx-node-proven.txt");
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

#[test]
fn onnx_node_tests_prove() {
    let Some(dir) = std::env::var_os("ONNX_NODE_TEST_DIR").map(PathBuf::from) else {
        panic!(
            "ONNX_NODE_TEST_DIR is not set: run the tests with scripts/test.sh (it installs onnx==1.22.0)"
        );
    };
    let provable = provable_onnx_ops();
    let mut cases: Vec<(String, String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().expect("name").to_string_lossy().to_string();
        let Ok(ops) = op_types(&path.join("model.onnx")) else { continue };
        if let [op] = ops.as_slice()
            && provable.contains(&op.as_str())
        {
            cases.push((op.clone(), name, path));
        }
    }
    cases.sort();
    let expected = expected();
    let mut per_op: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut regressions, mut newly, mut failures) = (vec![], vec![], vec![]);
    for (op, name, path) in &cases {
        let result = std::panic::catch_unwind(|| prove_case(path, TOLERANCE))
            .unwrap_or_else(|_| Err("PANIC".to_string()));
        let e = per_op.entry(op.clone()).or_default();
        e.1 += 1;
        let listed = expected.contains(name);
        match result {
            Ok(_) => {
                e.0 += 1;
                if !listed {
                    newly.push(name.clone());
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
    println!("ONNX node tests proven and verified, per op:");
    for (op, (pass, total)) in &per_op {
        println!("  {op:<20} {pass:>3}/{total}");
    }
    let (p, t) = per_op.values().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    println!("  {:<20} {p:>3}/{t}", "total");
    println!("not proven:\n  {}", failures.join("\n  "));
    if !newly.is_empty() {
        println!("proven but not in onnx-node-proven.txt (add them):\n  {}", newly.join("\n  "));
    }
    assert!(!failures.iter().any(|f| f.ends_with("PANIC")), "a node test panicked: {failures:#?}");
    assert!(regressions.is_empty(), "expected proofs now fail:\n{}", regressions.join("\n"));
}
