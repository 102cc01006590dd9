//! A mutation fuzzer for everything zkml reads from outside, on the stable
//! toolchain (no coverage instrumentation: cargo-fuzz and AFL need
//! nightly or an external compiler). Each target starts from a seed
//! corpus, applies one to four random mutations per execution (bit flips,
//! byte writes, insertions, deletions, truncation, duplication, splices
//! of another seed, JSON tokens), optionally repairs the file's own
//! checksum so that the mutation reaches the decoder behind it, and runs
//! the reader under `catch_unwind`.
//!
//! Invariants checked on every execution: **no panic**, and for proofs
//! **no acceptance**: a mutated proof file that differs from its seed and
//! decodes is verified against the seed's key and statement, and must be
//! rejected (the seeds are the malicious-prover corpus and its honest
//! proofs, `tests/fixtures/malicious/`).
//!
//! Targets: `proof` (file decoding and verification), `key` (`plan.vk`
//! decoding and validation), `plan` (`plan.bin` parsing and graph
//! validation), `input` and `output` (JSON parsing, quantization to a
//! key's facts, grid and id checks), `calibration` (`zkc`'s calibration
//! files against their model), `onnx` (the frontend on mutated op
//! models). Run: `cargo run --release -p zkml-tests --example fuzz --
//! --seconds 60`; `tests/tests/fuzz.rs` runs every target briefly. With
//! `ZKML_FUZZ_SAVE=DIR`, every input that panicked or was wrongly accepted
//! is written to `DIR`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};
use zkml_ir::{Fact, Tensor};
use zkml_runtime::{InputData, InputMode, InputSpec, OutputData};

/// What one target did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub target: &'static str,
    pub execs: u64,
    /// Executions whose input the reader accepted (decoded, or for proofs
    /// decoded and verified: those must be the unmutated seed).
    pub accepted: u64,
    pub panics: Vec<String>,
    /// Mutated proofs that verified.
    pub acceptances: Vec<String>,
    pub elapsed: Duration,
}

/// The fuzz targets.
pub const TARGETS: &[&str] =
    &["proof", "key", "plan", "input", "output", "generation", "calibration", "onnx"];

/// One corpus proof with what verifying it needs.
struct ProofSeed {
    bytes: Vec<u8>,
    vk: zkml_protocol::VerifyingKey,
    digest: [u8; 32],
    inputs: Vec<Tensor>,
    outputs: Vec<Tensor>,
}

fn corpus_dir() -> std::path::PathBuf {
    crate::fixtures_dir().join("malicious")
}

fn proof_seeds() -> Vec<ProofSeed> {
    #[derive(serde::Deserialize)]
    struct Statement {
        inputs: Vec<(Vec<usize>, Vec<i64>)>,
        outputs: Vec<(Vec<usize>, Vec<i64>)>,
    }
    let tensors = |v: &[(Vec<usize>, Vec<i64>)]| {
        v.iter().filter_map(|(s, d)| Tensor::from_i64(s.clone(), d.clone()).ok()).collect()
    };
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".proof").map(String::from)).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|name| {
            let read = |ext: &str| std::fs::read(corpus_dir().join(format!("{name}.{ext}"))).ok();
            let vk = zkml_protocol::VerifyingKey::from_bytes(&read("vk")?).ok()?;
            let st: Statement = serde_json::from_slice(&read("statement.json")?).ok()?;
            let digest = vk.digest().ok()?;
            Some(ProofSeed {
                bytes: read("proof")?,
                vk,
                digest,
                inputs: tensors(&st.inputs),
                outputs: tensors(&st.outputs),
            })
        })
        .collect()
}

/// Applies one to four random mutations.
fn mutate(rng: &mut StdRng, seed: &[u8], others: &[Vec<u8>], text: bool) -> Vec<u8> {
    const TOKENS: &[&str] = &[
        "1e309",
        "-0",
        "NaN",
        "[",
        "]",
        ",",
        "\"",
        "null",
        "9223372036854775808",
        "-1",
        "{}",
        "0.5",
        "1e-320",
    ];
    let mut b = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let n = b.len();
        match rng.random_range(0..9) {
            0 if n > 0 => {
                let i = rng.random_range(0..n);
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 if n > 0 => {
                let i = rng.random_range(0..n);
                b[i] = rng.random();
            }
            2 => {
                let i = rng.random_range(0..=n);
                b.insert(i, rng.random());
            }
            3 if n > 0 => {
                let i = rng.random_range(0..n);
                let k = rng.random_range(1..=(n - i).min(16));
                b.drain(i..i + k);
            }
            4 if n > 0 => b.truncate(rng.random_range(0..n)),
            5 if n > 0 => {
                let i = rng.random_range(0..n);
                let k = rng.random_range(1..=(n - i).min(64));
                let chunk = b[i..i + k].to_vec();
                let at = rng.random_range(0..=n);
                b.splice(at..at, chunk);
            }
            6 if !others.is_empty() => {
                let o = &others[rng.random_range(0..others.len())];
                if !o.is_empty() && n > 0 {
                    let (i, j) = (rng.random_range(0..n), rng.random_range(0..o.len()));
                    let k = rng.random_range(1..=(n - i).min(o.len() - j).min(256));
                    b[i..i + k].copy_from_slice(&o[j..j + k]);
                }
            }
            7 if text => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                let i = rng.random_range(0..=n);
                b.splice(i..i, t.bytes());
            }
            _ if n > 0 => {
                // An interesting integer written over 1, 2, 4 or 8 bytes.
                let w = [1usize, 2, 4, 8][rng.random_range(0..4)].min(n);
                let i = rng.random_range(0..=n - w);
                let v: u64 =
                    [0, 1, 0x7f, 0x80, 0xff, 0xfb, 0xfc, 0xfd, u64::MAX, 1 << 32][rng.random_range(0..10)];
                b[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
            }
            _ => {}
        }
    }
    b
}

/// Recomputes a file's own BLAKE3 field (`digest_at`, over `from..`) so
/// that a mutation reaches the decoder behind the checksum.
fn rehash(b: &mut [u8], digest_at: usize, from: usize) {
    if b.len() >= from && b.len() >= digest_at + 32 {
        let h = blake3::hash(&b[from..]);
        b[digest_at..digest_at + 32].copy_from_slice(h.as_bytes());
    }
}

/// Runs `target` for `execs` executions or `time`, whichever ends first.
pub fn run(target: &'static str, execs: u64, time: Duration, seed: u64) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = Report { target, ..Report::default() };
    let start = Instant::now();
    let proofs = if matches!(target, "proof" | "key" | "input" | "output") { proof_seeds() } else { vec![] };
    // Seeds per target.
    let seeds: Vec<Vec<u8>> = match target {
        "proof" => proofs.iter().map(|p| p.bytes.clone()).collect(),
        "key" => proofs.iter().map(|p| p.vk.to_bytes().unwrap_or_default()).collect(),
        "plan" => ["mlp.onnx", "ops/Less.onnx", "ops/Conv.onnx", "ops/GatherElements.onnx"]
            .iter()
            .filter_map(|f| zkml_ir::Plan::new(crate::quantized_fixture(f)).to_bytes().ok())
            .collect(),
        "calibration" => ["tree_ensemble", "bert", "lstm"]
            .iter()
            .filter_map(|m| {
                std::fs::read(crate::fixtures_dir().join(format!("zoo/{m}.calibration.json"))).ok()
            })
            .collect(),
        "input" | "output" => vec![
            br#"{"input_data": [[0.5, -0.25, 1.0, 0.0]]}"#.to_vec(),
            br#"{"output_data": [[0.125, 3, -7.5e-3]]}"#.to_vec(),
            br#"{"input_data": [[1, 2, 3, 4, 5, 6, 7, 0]]}"#.to_vec(),
            std::fs::read(crate::fixtures_dir().join("lenet_mnist.input.json")).unwrap_or_default(),
        ],
        "generation" => vec![
            br#"{"input_ids": [5, 17, 3]}"#.to_vec(),
            br#"{"prompt_ids":[5,17,3],"generated_ids":[38,13,13,13,13,11],"next_ids":[30,13,38,13,13,13,13,11]}"#
                .to_vec(),
            br#"{"input_data": [[1, 2, 3, 4]]}"#.to_vec(),
        ],
        "onnx" => ["Add", "Conv", "Less", "Gather", "LSTM", "Resize", "QLinearMatMul", "Attention"]
            .iter()
            .filter_map(|op| std::fs::read(crate::fixtures_dir().join(format!("ops/{op}.onnx"))).ok())
            .collect(),
        _ => vec![],
    };
    if seeds.is_empty() {
        report.panics.push(format!("no seeds for target {target}"));
        return report;
    }
    // The first corpus key (an MLP's): its inputs' specs and outputs' facts,
    // once, for the JSON targets.
    let key_specs: Vec<InputSpec> =
        proofs.first().map_or(vec![], |p| InputSpec::of_nodes(&p.vk.nodes, &p.vk.inputs));
    let key_facts: Vec<Fact> = proofs
        .first()
        .map_or(vec![], |p| p.vk.outputs.iter().filter_map(|&o| p.vk.fact(o).cloned()).collect());
    let lm_specs = vec![InputSpec {
        name: "ids".into(),
        fact: Fact::new(zkml_ir::DType::I64, vec![8]),
        id_rows: Some(64),
    }];
    // The float graphs calibration files are read against.
    let float_graphs: Vec<zkml_ir::Graph> = if target == "calibration" {
        ["tree_ensemble", "bert", "lstm"]
            .iter()
            .filter_map(|m| {
                let path = crate::fixtures_dir().join(format!("zoo/{m}.onnx"));
                zkml_compiler::load_onnx(&path, &zkml_compiler::FrontendOptions::default()).ok()
            })
            .collect()
    } else {
        vec![]
    };
    let scratch = std::env::temp_dir().join(format!("zkml-fuzz-{}-{seed}.onnx", std::process::id()));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while report.execs < execs && start.elapsed() < time {
        let k = rng.random_range(0..seeds.len());
        let mut b = mutate(
            &mut rng,
            &seeds[k],
            &seeds,
            matches!(target, "input" | "output" | "generation" | "calibration"),
        );
        let fix = rng.random_bool(0.5);
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<bool, String> {
            match target {
                "proof" => {
                    let p = &proofs[k];
                    let Ok(proof) = zkml_protocol::Proof::from_file_for(&b, &p.digest) else {
                        return Ok(false);
                    };
                    let ok = zkml_protocol::verify(&p.vk, &p.inputs, &p.outputs, &proof).is_ok();
                    if ok && b != p.bytes {
                        return Err("a mutated proof verified".into());
                    }
                    Ok(ok)
                }
                "key" => {
                    if fix {
                        rehash(&mut b, 16, 48);
                    }
                    Ok(zkml_protocol::VerifyingKey::from_bytes(&b).is_ok())
                }
                "plan" => {
                    if fix {
                        rehash(&mut b, 40, 72);
                    }
                    Ok(zkml_ir::Plan::from_bytes(&b).is_ok())
                }
                "input" => {
                    let text = String::from_utf8_lossy(&b);
                    let Ok(d) = InputData::parse(&text) else { return Ok(false) };
                    let specs = if fix && !key_specs.is_empty() { &key_specs } else { &lm_specs };
                    let exact = d.quantize(specs, InputMode::Exact).is_ok();
                    let rounded = d.quantize(specs, InputMode::Round { saturate: fix }).is_ok();
                    Ok(exact || rounded)
                }
                "output" => {
                    let text = String::from_utf8_lossy(&b);
                    let Ok(d) = OutputData::parse(&text) else { return Ok(false) };
                    Ok(d.to_tensors(&key_facts).is_ok())
                }
                "generation" => {
                    // The prompt and generation files of `zkrt verify` on a
                    // decoder key: parsed, then the statement rebuilt.
                    let text = String::from_utf8_lossy(&b);
                    let d = zkml_ir::Decoder { positions: 8, vocab: 64, pad_id: 0 };
                    let prompt =
                        zkml_runtime::generate::parse_prompt(&text).unwrap_or_else(|_| vec![5, 17, 3]);
                    let _ = d.pass_ids(&prompt, &prompt);
                    let Ok(f) = zkml_runtime::generate::GenerationFile::parse(&text) else {
                        return Ok(false);
                    };
                    Ok(f.statement(&d, &f.prompt_ids).is_ok())
                }
                "calibration" => {
                    let text = String::from_utf8_lossy(&b);
                    let g = float_graphs.get(k % float_graphs.len().max(1)).ok_or("no graph")?;
                    Ok(zkml_compiler::pipeline::calibration_from_json(g, &text).is_ok())
                }
                "onnx" => {
                    std::fs::write(&scratch, &b).map_err(|e| e.to_string())?;
                    Ok(zkml_compiler::load_onnx(&scratch, &zkml_compiler::FrontendOptions::default()).is_ok())
                }
                _ => Ok(false),
            }
        }));
        report.execs += 1;
        match outcome {
            Ok(Ok(true)) => report.accepted += 1,
            Ok(Ok(false)) => {}
            Ok(Err(m)) => {
                if let Some(dir) = std::env::var_os("ZKML_FUZZ_SAVE") {
                    let at = std::path::Path::new(&dir);
                    let _ =
                        std::fs::write(at.join(format!("accepted-{}-seed{k}", report.acceptances.len())), &b);
                }
                report.acceptances.push(format!("{m} (seed {k}, {} bytes)", b.len()))
            }
            Err(p) => {
                // Keep the input for reproduction when asked to.
                if let Some(dir) = std::env::var_os("ZKML_FUZZ_SAVE") {
                    let _ = std::fs::write(
                        std::path::Path::new(&dir).join(format!("{target}-{}", report.panics.len())),
                        &b,
                    );
                }
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                report.panics.push(format!("{msg} (seed {k}, {} bytes)", b.len()));
            }
        }
    }
    std::panic::set_hook(previous);
    let _ = std::fs::remove_file(&scratch);
    report.elapsed = start.elapsed();
    report
}
