//! End-to-end benchmark: for each ONNX model, the f32 inference time of
//! tract, then our pipeline (compile, setup, witness, prove, verify), proof
//! size, peak memory while proving, and the ratios the project tracks.
//!
//! ```sh
//! python3 examples/gen_mlp.py -o target/bench/mlp4m.onnx     # 4 x 1024x1024 ReLU MLP
//! cargo run --release -p zkml-tests --example bench_e2e -- target/bench/mlp4m.onnx tests/fixtures/lenet_mnist.onnx
//! ```
//!
//! Inputs: `<model>.input.json` beside the model when present, otherwise
//! fixed-seed random inputs. Calibration: `<model>.calibration.json` when
//! present, otherwise the default synthetic samples. Times are medians over
//! `--reps` runs after one warm-up. Peak memory is the process's resident
//! high-water mark during proving (reset before, with
//! `/proc/self/clear_refs`), so it includes the plan and witness the prover
//! holds.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;
use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_ir::{Op, Tensor};
use zkml_runtime::{Executor, InputData};
use zkml_tests::{TractRunner, random_inputs};

#[derive(Parser, Debug)]
struct Args {
    models: Vec<PathBuf>,
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Print one JSON object per model instead of the table.
    #[arg(long)]
    json: bool,
}

#[path = "bench_common.rs"]
mod bench_common;
use bench_common::time;

fn rss_field(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn main() {
    assert!(zkml_runtime::alloc::configure(), "allocator settings not applied");
    let args = Args::parse();
    let opts = FrontendOptions::default();
    for path in &args.models {
        let g = load_onnx(path, &opts).unwrap();
        let weight_f32_bytes: usize = g
            .nodes()
            .filter_map(|(_, n)| if let Op::Const(c) = &n.op { Some(c.fact.len() * 4) } else { None })
            .sum();
        let base = path.with_extension("");
        let cal = base.with_extension("calibration.json");
        let samples = if cal.exists() {
            pipeline::calibration_from_json(&g, &std::fs::read_to_string(&cal).unwrap()).unwrap()
        } else {
            pipeline::default_calibration(&g)
        };
        let t = Instant::now();
        let c =
            pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default()).unwrap();
        let compile_ms = t.elapsed().as_secs_f64() * 1e3;
        let q = c.quantized.graph;
        let input_file = base.with_extension("input.json");
        let f32_inputs: Vec<Tensor> = if input_file.exists() {
            let d = InputData::parse(&std::fs::read_to_string(&input_file).unwrap()).unwrap();
            d.to_tensors(&g).unwrap()
        } else {
            random_inputs(&g.input_facts(), 1, 16)
        };
        let tract = TractRunner::new(path, &opts).unwrap();
        let (tract_ms, _) = time(args.reps.max(20), || tract.run(&f32_inputs).unwrap());
        let qin = quantize_inputs(&q, &f32_inputs);
        let t = Instant::now();
        let pk = zkml_protocol::setup(&q, "bench").unwrap();
        let setup_ms = t.elapsed().as_secs_f64() * 1e3;
        // As `zkc compile` then `zkrt run`: the weights' prover data goes
        // into plan.bin, and the prover maps it back (nothing recomputed).
        let mut plan = zkml_ir::Plan::new(q);
        plan.prover = Some(zkml_ir::plan::ProverSection::owned(pk.prover_bytes()));
        drop(pk);
        let dir = tempfile::tempdir().unwrap();
        let plan_path = dir.path().join("plan.bin");
        plan.write(&plan_path).unwrap();
        let plan_bytes = std::fs::metadata(&plan_path).unwrap().len();
        drop(plan);
        let t = Instant::now();
        let plan = zkml_ir::Plan::open(&plan_path).unwrap();
        let sec = plan.prover.clone().unwrap();
        let pk = zkml_protocol::setup_stored(&plan.graph, &plan.partitions, "bench", &sec).unwrap();
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        let q = plan.graph;
        let exec = Executor::new(&q);
        let (witness_ms, values) = time(args.reps, || exec.run_all(&qin).unwrap());
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let rss_before = rss_field("VmRSS:");
        let (prove_ms, (proof, stats)) = time(args.reps, || zkml_protocol::prove(&pk, &values).unwrap());
        let peak = rss_field("VmHWM:");
        let bytes = proof.to_bytes().unwrap();
        let ins: Vec<Tensor> = q.inputs().iter().map(|&i| values[i][0].clone()).collect();
        let outs: Vec<Tensor> = q.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
        let (verify_ms, ok) = time(args.reps, || zkml_protocol::verify(&pk.vk, &ins, &outs, &proof).is_ok());
        assert!(ok, "{}: proof does not verify", path.display());
        let name = path.file_stem().unwrap().to_string_lossy();
        let report = serde_json::json!({
            "model": name,
            "weights_f32_bytes": weight_f32_bytes,
            "compile_ms": compile_ms,
            "setup_ms": setup_ms,
            "plan_bytes": plan_bytes,
            "plan_load_ms": load_ms,
            "tract_f32_ms": tract_ms,
            "witness_ms": witness_ms,
            "prove_ms": prove_ms,
            "prove_breakdown_ms": {
                "witness_commit": stats.commit.as_secs_f64() * 1e3,
                "lookups": stats.lookups.as_secs_f64() * 1e3,
                "graph": stats.graph.as_secs_f64() * 1e3,
                "openings": stats.openings.as_secs_f64() * 1e3,
            },
            "verify_ms": verify_ms,
            "proof_bytes": bytes.len(),
            "rss_before_prove_bytes": rss_before,
            "peak_rss_prove_bytes": peak,
            "prove_over_tract": prove_ms / tract_ms,
            "peak_over_weights": peak as f64 / weight_f32_bytes.max(1) as f64,
        });
        if args.json {
            println!("{report}");
        } else {
            println!("== {name} ({:.1} MB f32 weights)", weight_f32_bytes as f64 / 1e6);
            println!("  tract f32 inference  {tract_ms:9.2} ms");
            println!("  compile / setup      {compile_ms:9.1} / {setup_ms:.1} ms");
            println!(
                "  plan.bin             {:9.1} MB  (open + read prover data {load_ms:.1} ms)",
                plan_bytes as f64 / 1e6
            );
            println!("  witness (executor)   {witness_ms:9.2} ms");
            println!(
                "  prove                {prove_ms:9.1} ms  (commit {:.0}, lookups {:.0}, graph {:.0}, openings {:.0})",
                stats.commit.as_secs_f64() * 1e3,
                stats.lookups.as_secs_f64() * 1e3,
                stats.graph.as_secs_f64() * 1e3,
                stats.openings.as_secs_f64() * 1e3
            );
            println!("  verify               {verify_ms:9.2} ms");
            println!("  proof                {:9.1} KB", bytes.len() as f64 / 1024.0);
            println!(
                "  peak RSS proving     {:9.1} MB  ({:.1}x the f32 weights; {:.1} MB resident before)",
                peak as f64 / 1e6,
                peak as f64 / weight_f32_bytes.max(1) as f64,
                rss_before as f64 / 1e6
            );
            println!("  prove / tract f32    {:9.0}x", prove_ms / tract_ms);
        }
    }
}
