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

/// A quantized plan of the MLP fixture and its verifying key, as `zkc
/// compile` writes them.
fn write_quantized(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    write_quantized_colors(dir, "mlp.onnx", 1)
}

/// [`write_quantized`] for any fixture, cut into `colors` partitions.
fn write_quantized_colors(
    dir: &Path,
    fixture: &str,
    colors: usize,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use zkml_compiler::{
        FrontendOptions, load_onnx, pipeline, quantize::QuantOptions, rewrite::RewriteOptions,
    };
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(fixture);
    let g = load_onnx(&model, &FrontendOptions::default()).unwrap();
    let samples = pipeline::default_calibration(&g);
    let c = pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default()).unwrap();
    let mut plan = Plan::new(c.quantized.graph);
    plan.partitions = zkml_compiler::partition::partition(&plan.graph, colors).unwrap();
    let (p, vk) = (dir.join("plan.bin"), dir.join("plan.vk"));
    let pk = zkml_protocol::setup_partitioned(&plan.graph, &plan.partitions, &plan.producer).unwrap();
    // As `zkc compile` does: the weights' prover data goes into the plan.
    plan.prover = Some(zkml_ir::plan::ProverSection::owned(pk.prover_bytes()));
    plan.write(&p).unwrap();
    std::fs::write(&vk, pk.vk.to_bytes().unwrap()).unwrap();
    // The same plan without prover data (zkrt then commits at run time).
    plan.prover = None;
    plan.write(&dir.join("plain.bin")).unwrap();
    (p, vk)
}

#[test]
fn prove_then_verify_and_reject_tampering() {
    let (dir, _, vk, report) = proven_mlp();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for key in ["inference_ms", "prove_ms", "self_check_ms", "proof_bytes", "peak_rss_bytes"] {
        assert!(report[key].as_f64().is_some_and(|v| v > 0.0), "{key} missing in {report}");
    }
    let verify = |vk: &str, input: &str, output: &str, proof: &str| {
        zkrt(&["verify", vk, "--input", input, "--output", output, "--proof", proof])
    };
    let ok = verify(&vk.to_string_lossy(), &d("proved.json"), &d("out.json"), &d("proof.bin"));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // The statement is the proven integers: the user's own (off-grid)
    // floats are not it.
    let e = verify(&vk.to_string_lossy(), &d("in.json"), &d("out.json"), &d("proof.bin"));
    let e = String::from_utf8_lossy(&e.stderr).to_string();
    assert!(e.contains("not exactly on the grid") && e.contains("--proved-input"), "{e}");
    // A plan without stored prover data proves the same statement: the
    // proof is byte-identical (proving is deterministic).
    let again = zkrt(&[
        "run",
        &d("plain.bin"),
        "--input",
        &d("in.json"),
        "--output",
        &d("out3.json"),
        "--proof",
        &d("proof3.bin"),
    ]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read(d("proof3.bin")).unwrap(), std::fs::read(d("proof.bin")).unwrap());
    // Another output, another input, a tampered proof, a corrupt key: rejected.
    let text = std::fs::read_to_string(d("out.json")).unwrap();
    let mut outs: serde_json::Value = serde_json::from_str(&text).unwrap();
    let v0 = outs["output_data"][0][0].as_f64().unwrap();
    let v1 = outs["output_data"][0][1].as_f64().unwrap();
    outs["output_data"][0][0] = v1.into();
    outs["output_data"][0][1] = v0.into();
    std::fs::write(d("out2.json"), outs.to_string()).unwrap();
    let args = |o: &str, i: &str, p: &str| {
        vec![
            "verify".to_string(),
            vk.to_string_lossy().to_string(),
            "--input".into(),
            i.into(),
            "--output".into(),
            o.into(),
            "--proof".into(),
            p.into(),
        ]
    };
    let e = fails(
        &args(&d("out2.json"), &d("proved.json"), &d("proof.bin"))
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    );
    assert!(e.contains("rejected"), "{e}");
    // Another input on the grid: two values swapped.
    let mut proved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d("proved.json")).unwrap()).unwrap();
    let (a, b) = (proved["input_data"][0][0].clone(), proved["input_data"][0][1].clone());
    assert_ne!(a, b);
    proved["input_data"][0][0] = b;
    proved["input_data"][0][1] = a;
    std::fs::write(d("in2.json"), proved.to_string()).unwrap();
    let e = fails(
        &args(&d("out.json"), &d("in2.json"), &d("proof.bin")).iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    );
    assert!(e.contains("rejected"), "{e}");
    let mut p = std::fs::read(d("proof.bin")).unwrap();
    let mid = p.len() / 2;
    p[mid] ^= 0x10;
    std::fs::write(d("proof2.bin"), &p).unwrap();
    let e = fails(
        &args(&d("out.json"), &d("proved.json"), &d("proof2.bin"))
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    );
    assert!(e.contains("rejected"), "{e}");
    // An output off the fixed-point grid (edited by hand) is refused.
    outs["output_data"][0][0] = (v0 + 1e-9).into();
    outs["output_data"][0][1] = v1.into();
    std::fs::write(d("out3.json"), outs.to_string()).unwrap();
    let e = fails(
        &args(&d("out3.json"), &d("proved.json"), &d("proof.bin"))
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    );
    assert!(e.contains("not a valid"), "{e}");
    let mut k = std::fs::read(&vk).unwrap();
    k[60] ^= 1;
    std::fs::write(d("bad.vk"), &k).unwrap();
    let e = fails(&[
        "verify",
        &d("bad.vk"),
        "--input",
        &d("proved.json"),
        "--output",
        &d("out.json"),
        "--proof",
        &d("proof.bin"),
    ]);
    assert!(e.contains("verifying key"), "{e}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Two `zkrt` processes on 127.0.0.1 (timely cluster mode) prove a 4-color
/// plan; the proof verifies and is byte-identical to the one-process proof
/// with one worker and with two.
#[test]
fn two_processes_prove_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, vk) = write_quantized_colors(dir.path(), "gpt2.onnx", 4);
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let ids: Vec<String> = (0..8).map(|i| ((i * 7) % 50).to_string()).collect();
    std::fs::write(d("in.json"), format!(r#"{{"input_data": [[{}]]}}"#, ids.join(","))).unwrap();
    let run = |extra: &[&str], proof: &str| {
        let mut args = vec![
            "run",
            plan.to_str().unwrap(),
            "--input",
            "IN",
            "--output",
            "OUT",
            "--proof",
            proof,
            "--timeout",
            "120",
        ];
        let (i, o) = (d("in.json"), d("out.json"));
        args[3] = &i;
        args[5] = &o;
        args.extend_from_slice(extra);
        let out = zkrt(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["--workers", "1"], &d("one.proof"));
    run(&["--workers", "2", "--threads-per-worker", "1"], &d("threads.proof"));
    let hosts = d("hosts");
    std::fs::write(&hosts, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let worker = Command::new(env!("CARGO_BIN_EXE_zkrt"))
        .args(["worker", plan.to_str().unwrap(), "--hostfile", &hosts, "--process", "1", "--timeout", "120"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    run(&["--hostfile", &hosts], &d("two.proof"));
    let w = worker.wait_with_output().unwrap();
    assert!(w.status.success(), "worker failed");
    let one = std::fs::read(d("one.proof")).unwrap();
    assert_eq!(one, std::fs::read(d("threads.proof")).unwrap(), "2 threads differ from 1");
    assert_eq!(one, std::fs::read(d("two.proof")).unwrap(), "2 processes differ from 1");
    let out = zkrt(&[
        "verify",
        vk.to_str().unwrap(),
        "--input",
        &d("in.json"),
        "--output",
        &d("out.json"),
        "--proof",
        &d("two.proof"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The coordinator of a two-process run whose worker never starts gives up
/// with a clear error once its timeout passes.
#[test]
fn a_worker_that_never_connects_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = write_quantized_colors(dir.path(), "mlp.onnx", 2);
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let x: Vec<String> = (0..16).map(|i| format!("{:.3}", (i as f64 * 0.37).sin())).collect();
    std::fs::write(d("in.json"), format!(r#"{{"input_data": [[{}]]}}"#, x.join(","))).unwrap();
    let hosts = d("hosts");
    std::fs::write(&hosts, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let t = std::time::Instant::now();
    let e = fails(&[
        "run",
        plan.to_str().unwrap(),
        "--input",
        &d("in.json"),
        "--output",
        &d("out.json"),
        "--proof",
        &d("p.proof"),
        "--hostfile",
        &hosts,
        "--timeout",
        "3",
    ]);
    assert!(e.contains("did not connect"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(60));
    let e = fails(&["worker", plan.to_str().unwrap()]);
    assert!(e.contains("--hostfile"), "{e}");
}

/// An input beyond the calibrated range is clamped under `--saturate`: `zkrt run` warns,
/// naming the input and the lookups whose answer changed, and lists them
/// in `--json`; an input within the range draws no warning.
#[test]
fn saturated_values_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = write_quantized(dir.path());
    let p = plan.to_str().unwrap();
    let run = |values: &[f64]| {
        let input = dir.path().join("in.json");
        std::fs::write(&input, serde_json::json!({ "input_data": [values] }).to_string()).unwrap();
        let out = zkrt(&["run", p, "--input", input.to_str().unwrap(), "--json", "--saturate"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (String::from_utf8_lossy(&out.stderr).to_string(), report["saturated"].clone())
    };
    // The default calibration draws inputs in [-1, 1] (headroom 2).
    let (stderr, sat) = run(&[0.5; 16]);
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(sat, serde_json::json!([]));
    let mut big = vec![0.5; 16];
    big[3] = 40.0;
    big[7] = -40.0;
    let (stderr, sat) = run(&big);
    assert!(stderr.contains("warning: 2 of 16 input values beyond the calibrated range"), "{stderr}");
    assert_eq!(sat[0]["kind"], "input");
    assert_eq!(sat[0]["count"], 2);
}

/// `--dump-tensors` writes every value of the run as `.npy`, named after
/// its ONNX tensor; the dumped output is the output file's.
#[test]
fn dump_tensors_writes_every_value_named_after_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = write_quantized(dir.path());
    let input = dir.path().join("in.json");
    std::fs::write(&input, serde_json::json!({ "input_data": [vec![0.25; 16]] }).to_string()).unwrap();
    let (output, dump) = (dir.path().join("out.json"), dir.path().join("tensors"));
    let out = zkrt(&[
        "run",
        plan.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--dump-tensors",
        dump.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dump.join("index.json")).unwrap()).unwrap();
    let values: Vec<&str> = index.as_array().unwrap().iter().map(|d| d["value"].as_str().unwrap()).collect();
    // mlp.onnx's tensors (its nodes' outputs are named `<node>_out`).
    for name in ["x", "Sub_2_out", "Gemm_7_out", "Relu_8_out", "MatMul_10_out", "logits"] {
        assert!(values.contains(&name), "{name} not dumped: {values:?}");
    }
    let bytes = std::fs::read(dump.join("logits.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[1, 10]);
    let dumped: Vec<f32> = npy.into_vec().unwrap();
    let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    let want: Vec<f32> =
        want["output_data"][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert_eq!(dumped, want);
}

/// The MLP plan proven once, for the trust-boundary tests: its directory,
/// plan, key, the files of one proven run (`in.json`, `proved.json`,
/// `out.json`, `proof.bin`) and its `--json` report.
fn proven_mlp() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let (plan, vk) = write_quantized(dir.path());
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let x: Vec<String> = (0..16).map(|i| format!("{:.3}", (i as f64 * 0.37).sin())).collect();
    std::fs::write(d("in.json"), format!(r#"{{"input_data": [[{}]]}}"#, x.join(","))).unwrap();
    let out = zkrt(&[
        "run",
        plan.to_str().unwrap(),
        "--input",
        &d("in.json"),
        "--output",
        &d("out.json"),
        "--proof",
        &d("proof.bin"),
        "--proved-input",
        &d("proved.json"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = serde_json::from_slice(&out.stdout).unwrap();
    (dir, plan, vk, report)
}

/// An input beyond its calibrated range is an error unless `--saturate`
/// (then a warning names the input and the count); a verifier never
/// accepts such a value as the proven input.
#[test]
fn an_input_beyond_its_range_is_refused_unless_saturated() {
    let (dir, plan, vk, _) = proven_mlp();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    std::fs::write(d("big.json"), format!(r#"{{"input_data": [[5.0{}]]}}"#, ",0.1".repeat(15))).unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec!["run", plan.to_str().unwrap(), "--input", "IN", "--output", "OUT"];
        let (i, o) = (d("big.json"), d("big.out.json"));
        a[3] = &i;
        a[5] = &o;
        a.extend_from_slice(extra);
        zkrt(&a)
    };
    let e = String::from_utf8_lossy(&run(&[]).stderr).to_string();
    assert!(e.contains("beyond its calibrated range") && e.contains("--saturate"), "{e}");
    assert!(!dir.path().join("big.out.json").exists(), "a refused run wrote an output");
    let ok = run(&["--saturate"]);
    let warn = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success() && warn.contains("input 'x'") && warn.contains("1 values"), "{warn}");
    // The verifier reads the statement exactly: 1e300 is no input of this key.
    std::fs::write(d("huge.json"), format!(r#"{{"input_data": [[1e300{}]]}}"#, ",0.1".repeat(15))).unwrap();
    let e = fails(&[
        "verify",
        vk.to_str().unwrap(),
        "--input",
        &d("huge.json"),
        "--output",
        &d("out.json"),
        "--proof",
        &d("proof.bin"),
    ]);
    assert!(e.contains("not exactly on the grid"), "{e}");
}

/// A proof file is self-describing and has one encoding: magic, version,
/// reserved bytes and the key's digest are checked, and a byte appended,
/// changed in the header or re-encoded is rejected; `zkrt info` reads
/// plans, keys and proofs.
#[test]
fn proof_and_key_files_are_canonical_and_self_describing() {
    let (dir, plan, vk, _) = proven_mlp();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let verify = |proof: &str, key: &str| {
        zkrt(&["verify", key, "--input", &d("proved.json"), "--output", &d("out.json"), "--proof", proof])
    };
    let good = std::fs::read(d("proof.bin")).unwrap();
    assert_eq!(&good[..8], zkml_protocol::PROOF_MAGIC);
    let tampered = |name: &str, f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        std::fs::write(d(name), &b).unwrap();
        let out = verify(&d(name), vk.to_str().unwrap());
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && e.contains("rejected") && !e.contains("panicked"), "{name}: {e}");
        e
    };
    tampered("appended.bin", &|b| b.push(0));
    tampered("reserved.bin", &|b| b[13] = 1);
    tampered("version.bin", &|b| b[8] = 9);
    let e = tampered("digest.bin", &|b| b[20] ^= 1);
    assert!(e.contains("another") || e.contains("not this one"), "{e}");
    // A length prefix re-encoded in a longer varint form: the first
    // length of the body (the `saturating` list) as bincode's 3-byte form.
    tampered("varint.bin", &|b| {
        let at = 48;
        assert!(b[at] < 251, "a short list");
        let n = b[at];
        b.splice(at..at + 1, [251, n, 0]);
    });
    // A key with a reserved byte set is corrupt.
    let mut k = std::fs::read(&vk).unwrap();
    k[13] = 1;
    std::fs::write(d("reserved.vk"), &k).unwrap();
    let e = String::from_utf8_lossy(&verify(&d("proof.bin"), &d("reserved.vk")).stderr).to_string();
    assert!(e.contains("reserved"), "{e}");
    // So is a plan.
    let mut p = std::fs::read(&plan).unwrap();
    p[12] = 1;
    std::fs::write(d("reserved.bin"), &p).unwrap();
    assert!(fails(&["info", &d("reserved.bin")]).contains("reserved"));
    // `zkrt info` tells the three apart.
    for (file, says) in
        [(plan.to_str().unwrap(), "plan:"), (vk.to_str().unwrap(), "digest:"), (&d("proof.bin"), "for key:")]
    {
        let out = zkrt(&["info", file]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(says), "{file}: {text}");
    }
    let key_digest = String::from_utf8_lossy(&zkrt(&["info", vk.to_str().unwrap()]).stdout).to_string();
    let proof_key = String::from_utf8_lossy(&zkrt(&["info", &d("proof.bin")]).stdout).to_string();
    let hexes = |t: &str, tag: &str| {
        t.lines().find(|l| l.starts_with(tag)).map(|l| l.split_whitespace().last().unwrap().to_string())
    };
    assert_eq!(hexes(&key_digest, "digest:"), hexes(&proof_key, "for key:"));
}

/// Absurd flags and unbounded files are clear errors: no division by zero,
/// no abort, no gigabytes read from `/dev/zero`; a failed run leaves no
/// output behind.
#[test]
fn absurd_flags_and_endless_files_are_errors() {
    let (dir, plan, vk, _) = proven_mlp();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let run = |extra: &[&str]| {
        let mut a =
            vec!["run", plan.to_str().unwrap(), "--input", "IN", "--output", "OUT", "--proof", "PROOF"];
        let (i, o, p) = (d("in.json"), d("fresh.json"), d("fresh.proof"));
        a[3] = &i;
        a[5] = &o;
        a[7] = &p;
        a.extend_from_slice(extra);
        fails(&a)
    };
    assert!(run(&["--workers", "0"]).contains("--workers 0"));
    assert!(run(&["--threads-per-worker", "100000"]).contains("--threads-per-worker 100000"));
    assert!(run(&["--timeout", "0"]).contains("--timeout 0"));
    assert!(run(&["--max-memory", "1K"]).contains("beyond the memory budget of 1024 bytes"));
    assert!(!dir.path().join("fresh.json").exists() && !dir.path().join("fresh.proof").exists());
    let e = fails(&[
        "verify",
        vk.to_str().unwrap(),
        "--input",
        &d("proved.json"),
        "--output",
        &d("out.json"),
        "--proof",
        "/dev/zero",
    ]);
    assert!(e.contains("larger than"), "{e}");
    let e = fails(&["run", plan.to_str().unwrap(), "--input", "/dev/zero"]);
    assert!(e.contains("larger than"), "{e}");
    // A proof that cannot be written: nothing else is written either.
    let e = fails(&[
        "run",
        plan.to_str().unwrap(),
        "--input",
        &d("in.json"),
        "--output",
        &d("late.json"),
        "--proof",
        &d("no/such/dir/proof.bin"),
    ]);
    assert!(e.contains("proof.bin"), "{e}");
    assert!(!dir.path().join("late.json").exists(), "the output was written before the proof");
}

/// Token ids must index their table: an id outside `[0, rows)` is an error
/// in every mode (never wrapped to a valid row), at run and at verify.
#[test]
fn token_ids_out_of_range_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, vk) = write_quantized_colors(dir.path(), "gpt2.onnx", 1);
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for (name, bad) in [("neg.json", -65), ("big.json", 64)] {
        let ids: Vec<String> = (0..8).map(|i| if i == 3 { bad.to_string() } else { i.to_string() }).collect();
        std::fs::write(d(name), format!(r#"{{"input_data": [[{}]]}}"#, ids.join(","))).unwrap();
        let e = fails(&["run", plan.to_str().unwrap(), "--input", &d(name)]);
        assert!(e.contains(&format!("id {bad} is outside [0, 64)")), "{e}");
        let e = fails(&[
            "verify",
            vk.to_str().unwrap(),
            "--input",
            &d(name),
            "--output",
            &d(name),
            "--proof",
            &d(name),
        ]);
        assert!(e.contains(&format!("id {bad} is outside [0, 64)")), "{e}");
    }
}

/// `zkc compile --decoder`'s plan of the Llama fixture, as `zkc` writes it.
fn write_decoder(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use zkml_compiler::pipeline::{self, BuildOptions};
    use zkml_compiler::{FrontendOptions, load_onnx};
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/llama.onnx");
    let g = load_onnx(&model, &FrontendOptions::default()).unwrap();
    let opts = BuildOptions { decoder: true, ..BuildOptions::default() };
    let built = pipeline::build(&g, &pipeline::default_calibration(&g), &opts).unwrap();
    let (mut plan, pk) = (built.plan, built.pk.unwrap());
    plan.prover = Some(zkml_ir::plan::ProverSection::owned(pk.prover_bytes()));
    let (p, vk) = (dir.join("dec.bin"), dir.join("dec.vk"));
    plan.write(&p).unwrap();
    std::fs::write(&vk, pk.vk.to_bytes().unwrap()).unwrap();
    (p, vk)
}

#[test]
fn generate_streams_tokens_proves_them_and_verify_checks_the_generation() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, vk) = write_decoder(dir.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (prompt, generation, proof) =
        (dir.path().join("prompt.json"), dir.path().join("gen.json"), dir.path().join("gen.proof"));
    std::fs::write(&prompt, r#"{"input_ids": [5, 17, 3]}"#).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec!["generate".to_string(), s(&plan), "--prompt-ids".into(), s(&prompt)];
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let run = |a: Vec<String>| zkrt(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args(&["--max-new-tokens", "5", "--output", &s(&generation), "--proof", &s(&proof)]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&generation).unwrap()).unwrap();
    let tokens: Vec<i64> =
        file["generated_ids"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect();
    assert_eq!(tokens.len(), 5);
    // The tokens went to stdout, in order.
    let streamed: Vec<i64> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(|t| t.parse().unwrap()).collect();
    assert_eq!(streamed, tokens);
    let verify = |g: &Path| {
        zkrt(&["verify", &s(&vk), "--input", &s(&prompt), "--output", &s(g), "--proof", &s(&proof)])
    };
    assert!(verify(&generation).status.success());

    // A generation file that claims another token is rejected.
    let mut bad = file.clone();
    bad["generated_ids"][1] = serde_json::json!((tokens[1] + 1) % 64);
    let bad_path = dir.path().join("bad.json");
    std::fs::write(&bad_path, bad.to_string()).unwrap();
    let out = verify(&bad_path);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("argmax"));

    // Bad requests are clear errors; nothing is written.
    let stale = dir.path().join("none.json");
    let err = fails(
        &args(&["--max-new-tokens", "7", "--output", &s(&stale)])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(err.contains("room for 6 new tokens"), "{err}");
    assert!(!stale.exists());
    std::fs::write(&prompt, r#"{"input_ids": [5, 99]}"#).unwrap();
    let err = fails(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("outside the vocabulary"), "{err}");
    let (mlp, _) = write_quantized(dir.path());
    let err = fails(&["generate", &s(&mlp), "--prompt-ids", &s(&prompt)]);
    assert!(err.contains("not a decoder"), "{err}");

    // A text prompt through a tokenizer.json (words `w0` … `w63`); the
    // generation file holds the prompt's ids, so it serves as the
    // verifier's prompt file too.
    let vocab: serde_json::Map<String, serde_json::Value> =
        (0..64).map(|i| (format!("w{i}"), serde_json::json!(i))).collect();
    let tok = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "w0"}
    });
    let tok_path = dir.path().join("tokenizer.json");
    std::fs::write(&tok_path, tok.to_string()).unwrap();
    let text_gen = dir.path().join("text.json");
    let out = zkrt(&[
        "generate",
        &s(&plan),
        "--tokenizer",
        &s(&tok_path),
        "--prompt",
        "w5 w17 w3",
        "--max-new-tokens",
        "5",
        "--output",
        &s(&text_gen),
        "--proof",
        &s(&proof),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let words: Vec<String> = tokens.iter().map(|t| format!("w{t}")).collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>(), words);
    let same: serde_json::Value = serde_json::from_slice(&std::fs::read(&text_gen).unwrap()).unwrap();
    assert_eq!(same, file, "the text prompt is the ids prompt");
    let ok = zkrt(&[
        "verify",
        &s(&vk),
        "--input",
        &s(&text_gen),
        "--output",
        &s(&text_gen),
        "--proof",
        &s(&proof),
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let err = fails(&["generate", &s(&plan), "--prompt", "w1"]);
    assert!(err.contains("--tokenizer"), "{err}");
}
