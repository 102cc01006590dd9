//! `zkrt` on good and bad input.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::source::Input;
use zkml_ir::{Fact, Graph, Plan, Tensor, ValueId};

fn write_plan(dir: &Path) -> std::path::PathBuf {
    let mut g = Graph::new();
    let x = g.add_node("x", Input { index: 0, fact: Fact::f32([1, 2]) }, &[]).unwrap();
    let w = g.add_const("w", Tensor::from_f32([2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap()).unwrap();
    let y = g.add_node("mm", Einsum::new("mk,kn->mn").unwrap(), &[ValueId::new(x, 0), w]).unwrap();
    let b = g.add_const("b", Tensor::from_f32([2], vec![0.5, -0.5]).unwrap()).unwrap();
    let z = g.add_node("add", Binary { op: BinaryOp::Add }, &[ValueId::new(y, 0), b]).unwrap();
    g.set_outputs(vec![ValueId::new(z, 0)]);
    let p = dir.join("plan.bin");
    Plan::new(g).write(&p).unwrap();
    p
}

fn zkrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkrt")).args(args).output().expect("zkrt runs")
}

fn fails(args: &[&str]) -> String {
    let out = zkrt(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "zkrt {args:?} succeeded");
    assert!(!stderr.contains("panicked") && stderr.starts_with("error: "), "{stderr}");
    stderr
}

#[test]
fn run_computes_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let input = dir.path().join("in.json");
    std::fs::write(&input, r#"{"input_data": [[1.0, -1.0]]}"#).unwrap();
    let output = dir.path().join("out.json");
    let out = zkrt(&[
        "run",
        plan.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    // [1, -1] · [[1, 2], [3, 4]] + [0.5, -0.5] = [-1.5, -2.5]
    assert_eq!(v["output_data"], serde_json::json!([[-1.5, -2.5]]));
}

#[test]
fn wrong_input_length_and_bad_json() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let input = dir.path().join("in.json");
    std::fs::write(&input, r#"{"input_data": [[1.0, -1.0, 3.0]]}"#).unwrap();
    let e = fails(&["run", plan.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(e.contains("expected 2 values"), "{e}");
    std::fs::write(&input, r#"{"input": []}"#).unwrap();
    let e = fails(&["run", plan.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(e.contains("input_data"), "{e}");
}

#[test]
fn corrupted_and_foreign_plans() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let mut bytes = std::fs::read(&plan).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, &bytes).unwrap();
    assert!(fails(&["info", bad.to_str().unwrap()]).contains("hash mismatch"));
    bytes[last] ^= 1;
    bytes[8] = 99;
    std::fs::write(&bad, &bytes).unwrap();
    assert!(fails(&["info", bad.to_str().unwrap()]).contains("format version 99"));
    std::fs::write(&bad, b"ONNX?").unwrap();
    assert!(fails(&["info", bad.to_str().unwrap()]).contains("bad magic"));
}
