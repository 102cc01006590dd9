//! `zkc` on bad input: a clear message on stderr, a non-zero exit code,
//! never a panic.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

fn zkc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkc")).args(args).output().expect("zkc runs")
}

/// Runs `zkc`, expects failure, returns stderr.
fn fails(args: &[&str]) -> String {
    let out = zkc(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "zkc {args:?} succeeded");
    assert!(!stderr.contains("panicked"), "zkc {args:?} panicked: {stderr}");
    // Warnings (synthetic calibration) may come first; then the error.
    let error = stderr.lines().skip_while(|l| l.starts_with("warning: ")).collect::<Vec<_>>().join("\n");
    assert!(error.starts_with("error: "), "unexpected stderr: {stderr}");
    error
}

#[test]
fn corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("garbage.onnx");
    std::fs::write(&p, b"\xff\xfe this is not a protobuf \x00\x01\x02\xff").unwrap();
    let e = fails(&["compile", p.to_str().unwrap(), "-o", dir.path().join("p.bin").to_str().unwrap()]);
    assert!(e.contains("not a valid ONNX model"), "{e}");
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("gpt2.onnx")).unwrap();
    let p = dir.path().join("truncated.onnx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = fails(&["dump", p.to_str().unwrap()]);
    assert!(e.contains("not a valid ONNX model"), "{e}");
}

#[test]
fn missing_file() {
    let e = fails(&["dump", "/definitely/not/here.onnx"]);
    assert!(e.contains("cannot read"), "{e}");
}

#[test]
fn unsupported_op_names_node_op_opset_and_supported_list() {
    let e = fails(&["compile", fixture("unsupported.onnx").to_str().unwrap(), "-o", "/dev/null"]);
    assert!(e.contains("node 'my_det_4'"), "{e}");
    assert!(e.contains("Det"), "{e}");
    assert!(e.contains("opset 13"), "{e}");
    assert!(e.contains("proves: ") && e.contains("MatMul") && e.contains("Softmax"), "{e}");
    assert!(e.contains("on constants only") && e.contains("ReduceProd"), "{e}");
}

#[test]
fn wrong_input_shape() {
    let e = fails(&["dump", fixture("mlp.onnx").to_str().unwrap(), "--input-shape", "x=1,17"]);
    assert!(e.contains("does not type-check"), "{e}");
}

#[test]
fn unknown_input_name() {
    let e = fails(&["dump", fixture("mlp.onnx").to_str().unwrap(), "--input-shape", "y=1,16"]);
    assert!(e.contains("no input named 'y'") && e.contains("inputs: x"), "{e}");
}

#[test]
fn malformed_shape_spec() {
    for spec in ["x", "x=", "x=1,,2", "x=1,-2", "=1,2", "x=0,3"] {
        let e = fails(&["dump", fixture("mlp.onnx").to_str().unwrap(), "--input-shape", spec]);
        assert!(e.contains("bad --input-shape"), "{spec}: {e}");
    }
}

#[test]
fn input_shape_override_is_applied() {
    // The MLP's batch dimension can be changed: a real override, not ignored.
    let out = zkc(&["dump", fixture("mlp.onnx").to_str().unwrap(), "--input-shape", "x=3,16"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("input[index=0] : f32[3,16]"), "{text}");
}

#[test]
fn compile_writes_a_plan_zkrt_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.bin");
    let out = zkc(&["compile", fixture("cnn.onnx").to_str().unwrap(), "-o", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p = zkml_ir::Plan::open(&plan).unwrap();
    assert_eq!(p.graph.input_facts()[0].shape, vec![1, 1, 14, 14]);
    // Setup ran: the plan carries the weights' prover data, and the key read
    // back from it (as `zkrt run --proof` does) is the one in plan.vk.
    let sec = p.prover.as_ref().expect("prover section");
    let pk = zkml_protocol::setup_stored(&p.graph, &p.partitions, &p.producer, sec).unwrap();
    let vk =
        zkml_protocol::VerifyingKey::from_bytes(&std::fs::read(plan.with_extension("vk")).unwrap()).unwrap();
    assert_eq!(pk.vk.digest().unwrap(), vk.digest().unwrap());
}

#[test]
fn colors_are_recorded_in_the_plan_and_drawn_by_zkc_graph() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("p.bin");
    let out = zkc(&[
        "compile",
        fixture("gpt2.onnx").to_str().unwrap(),
        "-o",
        plan.to_str().unwrap(),
        "--colors",
        "3",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p = zkml_ir::Plan::open(&plan).unwrap();
    assert_eq!(p.partitions.len(), 3);
    let dot = dir.path().join("p.dot");
    let out = zkc(&["graph", plan.to_str().unwrap(), "-o", dot.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&dot).unwrap();
    assert!(text.starts_with("digraph") && text.contains("[2]"), "{text}");
    // `auto` plans one partition per worker for a model worth splitting,
    // and keeps a tiny one whole.
    let auto = |model: &str, workers: &str| {
        let out = zkc(&[
            "compile",
            fixture(model).to_str().unwrap(),
            "-o",
            plan.to_str().unwrap(),
            "--colors",
            "auto",
            "--workers",
            workers,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        zkml_ir::Plan::open(&plan).unwrap().partitions.len()
    };
    assert_eq!(auto("gpt2.onnx", "2"), 2);
    assert_eq!(auto("gpt2.onnx", "1"), 1);
    assert_eq!(auto("mlp.onnx", "4"), 1);
    let e = fails(&["compile", fixture("mlp.onnx").to_str().unwrap(), "-o", "/dev/null", "--colors", "999"]);
    assert!(e.contains("999 colors") && e.contains("computing nodes"), "{e}");
    let e = fails(&["compile", fixture("mlp.onnx").to_str().unwrap(), "-o", "/dev/null", "--colors", "many"]);
    assert!(e.contains("`auto`"), "{e}");
}

/// `zkc compile` fails naming the node and its op when the quantized graph
/// holds an op no prover family proves, instead of writing a plan that
/// cannot be proven.
#[test]
fn unprovable_model_is_refused_at_compile_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.bin");
    // A product over an axis of the input: accepted on constants only.
    let e =
        fails(&["compile", fixture("ops/ReduceProd.onnx").to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(e.contains("'y'") && e.contains("reduce_prod") && e.contains("provable core (einsum"), "{e}");
    assert!(!out.exists(), "a plan was written for an unprovable model");
}

/// `--per-channel` reaches the quantizer: each einsum with one constant
/// weight gains a per-channel scale operand.
#[test]
fn per_channel_weights_are_used() {
    let model = fixture("mlp.onnx");
    let dump = |extra: &[&str]| {
        let mut args = vec!["dump", model.to_str().unwrap(), "--stage", "quantized"];
        args.extend_from_slice(extra);
        let out = zkc(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(!dump(&[]).contains("channel_scale"));
    assert!(dump(&["--per-channel"]).contains("channel_scale"));
}

/// A symbolic batch dimension (named or not) is taken as 1, with a note
/// naming the input and the dimension; `--input-shape` overrides it.
#[test]
fn symbolic_dimensions_default_to_one() {
    for (model, symbol) in [("shapes/symbolic_batch.onnx", "batch_size"), ("shapes/unnamed_batch.onnx", "?")]
    {
        let out = zkc(&["dump", fixture(model).to_str().unwrap(), "--stage", "frontend"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{model}: {stderr}");
        assert!(
            stderr.contains(&format!("input 'x' dimension 0 ('{symbol}') is symbolic: taken as 1")),
            "{model}: {stderr}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("input[index=0] : f32[1,8]"), "{model}");
    }
    let out = zkc(&[
        "dump",
        fixture("shapes/symbolic_batch.onnx").to_str().unwrap(),
        "--stage",
        "frontend",
        "--input-shape",
        "x=3,8",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("input[index=0] : f32[3,8]"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("symbolic"));
    // The whole path: a symbolic-batch model compiles to a plan.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("p.bin");
    let out = zkc(&[
        "compile",
        fixture("shapes/symbolic_batch.onnx").to_str().unwrap(),
        "-o",
        plan.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn unknown_rank_names_the_input() {
    let e = fails(&["dump", fixture("shapes/unknown_rank.onnx").to_str().unwrap()]);
    assert!(
        e.contains("input 'x'") && e.contains("rank is not declared") && e.contains("--input-shape"),
        "{e}"
    );
}

/// Without `--calibration`, `zkc compile` says it calibrates on synthetic
/// data; `zkc gen-data` writes a calibration file that `--calibration`
/// accepts (and then there is no warning).
#[test]
fn synthetic_calibration_warns_and_gen_data_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("mlp.onnx");
    let (m, d) = (model.to_str().unwrap(), dir.path());
    let plan = d.join("plan.bin");
    let out = zkc(&["compile", m, "-o", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: no --calibration data"), "{stderr}");
    let data = d.join("cal.json");
    let out = zkc(&["gen-data", m, "-o", data.to_str().unwrap(), "--samples", "3", "--seed", "4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    // mlp: one input of 16 values, three samples back to back.
    assert_eq!(v["input_data"][0].as_array().unwrap().len(), 3 * 16);
    let out = zkc(&["compile", m, "-o", plan.to_str().unwrap(), "--calibration", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    assert!(fails(&["gen-data", m, "--samples", "0"]).contains("--samples 0"));
}

/// `--report accuracy` measures the quantized model against the float one
/// on the calibration inputs given, per layer, and names where error enters.
#[test]
fn accuracy_report_names_where_error_enters() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.bin");
    let model = fixture("gpt2.onnx");
    let out =
        zkc(&["compile", model.to_str().unwrap(), "-o", plan.to_str().unwrap(), "--report", "accuracy"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("accuracy of the quantized model vs float (8 samples)"), "{stdout}");
    let enters = stdout.split("where error enters").nth(1).expect("the report names where error enters");
    // Three nodes, each `%id name (op): from -> to` with to > from.
    let lines: Vec<&str> = enters.lines().skip(1).take_while(|l| l.starts_with("  %")).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for l in lines {
        let (from, to) = l.rsplit_once(": ").unwrap().1.split_once(" -> ").unwrap();
        assert!(to.trim().parse::<f64>().unwrap() > from.parse::<f64>().unwrap(), "{l}");
    }
}

/// Compiles are reproducible: anyone with the ONNX re-derives a verifying
/// key and checks it (`--verify-key`), and another model's key is refused.
#[test]
fn a_key_is_re_derived_from_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("mlp.bin");
    let out = zkc(&["compile", fixture("mlp.onnx").to_str().unwrap(), "-o", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = dir.path().join("mlp.vk");
    let again =
        zkc(&["compile", fixture("mlp.onnx").to_str().unwrap(), "--verify-key", key.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success() && said.contains("key matches"), "{said}");
    let e = fails(&["compile", fixture("cnn.onnx").to_str().unwrap(), "--verify-key", key.to_str().unwrap()]);
    assert!(e.contains("does not come from this model"), "{e}");
}

/// Shapes too large for the memory budget are a clear error naming the
/// tensor, before anything that large is allocated (no abort).
#[test]
fn a_tensor_beyond_the_memory_budget_is_an_error() {
    let mlp = fixture("mlp.onnx");
    let e =
        fails(&["compile", mlp.to_str().unwrap(), "--input-shape", "x=1099511627776,16", "-o", "/dev/null"]);
    assert!(e.contains("beyond the memory budget") && e.contains("--max-memory"), "{e}");
    let e = fails(&["compile", mlp.to_str().unwrap(), "--max-memory", "1K", "-o", "/dev/null"]);
    assert!(e.contains("beyond the memory budget of 1024 bytes"), "{e}");
    let out = zkc(&["compile", mlp.to_str().unwrap(), "--max-memory", "0", "-o", "/dev/null"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("positive size") && !e.contains("panicked"), "{e}");
}
