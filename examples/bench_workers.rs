//! Partitioned proving benchmark: proof size for K = 1, 2, 4 colors, and
//! prove time on the timely engine with 1 and 2 workers.
//!
//! ```sh
//! cargo run --release -p zkml-tests --example bench_workers -- target/bench/mlp4m.onnx
//! ```
//!
//! Each worker proves with its own rayon pool of `--threads-per-worker`
//! threads (default 1), so "2 workers ÷ 1 worker" measures the engine's
//! scaling over cores; the table also shows one worker with every core
//! (rayon inside the ops: the default `zkrt run` of a one-color plan).
//! Times are medians over `--reps` runs after one warm-up.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, partition, pipeline};
use zkml_engine::EngineConfig;
use zkml_ir::Tensor;
use zkml_runtime::{Executor, InputData};
use zkml_tests::random_inputs;

#[derive(Parser, Debug)]
struct Args {
    model: PathBuf,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Colors of the plan the worker scaling is measured on.
    #[arg(long, default_value_t = 2)]
    colors: usize,
    #[arg(long, default_value_t = 1)]
    threads_per_worker: usize,
    /// Only print the cost-model features of the `--colors` partitions.
    #[arg(long)]
    costs_only: bool,
    /// Stop after the per-color phase times (no engine runs).
    #[arg(long)]
    phases_only: bool,
    /// Only the engine runs (no proof sizes, no per-color phases).
    #[arg(long)]
    engine_only: bool,
}

/// Encoded size of any proof component.
mod erased {
    pub trait Enc {
        fn len(&self) -> usize;
    }
    impl<T: serde::Serialize> Enc for T {
        fn len(&self) -> usize {
            zkml_proof::encoding::encode(self).map(|b| b.len()).unwrap_or(0)
        }
    }
}

#[path = "bench_common.rs"]
#[allow(dead_code)] // shared with bench_e2e, which also uses its `time`
mod bench_common;

fn main() {
    assert!(zkml_runtime::alloc::configure(), "allocator settings not applied");
    let args = Args::parse();
    let g = load_onnx(&args.model, &FrontendOptions::default()).unwrap();
    let samples = pipeline::default_calibration(&g);
    let q = pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default())
        .unwrap()
        .quantized
        .graph;
    let input_file = args.model.with_extension("input.json");
    let f32_inputs: Vec<Tensor> = if input_file.exists() {
        InputData::parse(&std::fs::read_to_string(&input_file).unwrap()).unwrap().to_tensors(&g).unwrap()
    } else {
        random_inputs(&g.input_facts(), 1, 16)
    };
    let qin = quantize_inputs(&q, &f32_inputs);
    // As `zkc compile --colors k`: heavy einsums split, then partitioned;
    // the witness is the split graph's.
    let plan = |k: usize| {
        let (g, parts) = partition::split_and_partition(&q, k).unwrap();
        let values = Executor::new(&g).run_all(&qin).unwrap();
        (Arc::new(g), parts, Arc::new(values))
    };
    println!("== {}", args.model.display());
    let mut single = 0usize;
    for k in [1, 2, 4].into_iter().filter(|_| !args.costs_only && !args.phases_only && !args.engine_only) {
        let (graph, parts, values) = plan(k);
        let ins: Vec<Tensor> = graph.inputs().iter().map(|&i| values[i][0].clone()).collect();
        let outs: Vec<Tensor> = graph.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
        let pk = zkml_protocol::setup_partitioned(&graph, &parts, "bench").unwrap();
        let (proof, _) = zkml_protocol::prove(&pk, &values).unwrap();
        zkml_protocol::verify(&pk.vk, &ins, &outs, &proof).unwrap();
        let n = proof.to_bytes().unwrap().len();
        if k == 1 {
            single = n;
        }
        let costs: Vec<String> = parts.parts.iter().map(|p| p.cost.to_string()).collect();
        let size = |x: &dyn erased::Enc| x.len();
        for (c, part) in proof.parts.iter().enumerate() {
            println!(
                "    color {c}: witness opening {:.1} KB, weight opening {:.1} KB, rest {:.1} KB",
                size(&part.witness_opening) as f64 / 1024.0,
                size(&part.weight_opening) as f64 / 1024.0,
                (part.to_bytes().unwrap().len() - size(&part.witness_opening) - size(&part.weight_opening))
                    as f64
                    / 1024.0
            );
        }
        println!(
            "  K={k}: proof {:8.1} KB ({:.2}x K=1), partition costs [{}]",
            n as f64 / 1024.0,
            n as f64 / single as f64,
            costs.join(", ")
        );
    }
    let (graph, parts, values) = plan(args.colors);
    let ins: Vec<Tensor> = graph.inputs().iter().map(|&i| values[i][0].clone()).collect();
    let outs: Vec<Tensor> = graph.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
    // Cost-model features per color: einsum units, lookup elements (input +
    // output), non-identity table rows, other elements.
    let model = partition::CostModel::new(&graph).expect("a compiled plan has a cost model");
    for part in &parts.parts {
        let (mut e, mut l, mut t, mut o) = (0u64, 0u64, 0u64, 0u64);
        for &id in &part.nodes {
            let n = graph.node(id);
            let c = model.node_cost(id);
            match &n.op {
                zkml_ir::Op::Einsum(_) => e += c,
                zkml_ir::Op::Lookup(lk) => {
                    let inp: usize = n.inputs.iter().filter_map(|v| graph.fact(*v)).map(|f| f.len()).sum();
                    let out: usize = n.outputs.iter().map(|v| v.fact.len()).sum();
                    l += (inp + out) as u64;
                    if let Some(q) = &lk.quant
                        && lk.func != zkml_ir::ops::lookup::LookupFn::Identity
                    {
                        t += q.table.rows() as u64;
                    }
                }
                _ => o += c,
            }
        }
        println!(
            "    color {}: einsum units {e}, lookup elements {l}, table rows {t}, other {o}",
            part.color
        );
    }
    if args.costs_only {
        return;
    }
    let pk = Arc::new(zkml_protocol::setup_partitioned(&graph, &parts, "bench").unwrap());
    // Per-color phase times on one thread (balance of the cost model).
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        if args.engine_only {
            return;
        }
        let sat = zkml_protocol::columns::saturating_nodes(&pk.vk, &values).unwrap();
        println!("    saturating lookups: {}", sat.len());
        for c in 0..args.colors {
            let cols = zkml_protocol::columns::ColumnPlan::new(&pk.vk, c, &sat).unwrap();
            let real: usize = cols.layouts.iter().map(|l| l.padded_len()).sum();
            let packed: usize = cols.witness_groups().packings.iter().map(|p| p.len()).sum();
            let range: usize = cols.range.iter().map(|e| cols.layouts[e.col].padded_len()).sum();
            println!(
                "    color {c}: {} columns, {real} entries ({packed} packed), {range} range-checked entries, {} tables",
                cols.layouts.len(),
                cols.tables.len()
            );
        }
        let mut ws = vec![];
        for c in 0..args.colors {
            let t = Instant::now();
            ws.push(zkml_protocol::commit_part(&pk, c, &sat, &values).unwrap());
            println!("    color {c}: commit {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        }
        let comms: Vec<_> = ws.iter().map(|w| w.commitments()).collect();
        let seed = zkml_protocol::Seed::derive(&pk, &zkml_protocol::public_values(&pk.vk, &values).unwrap(), &sat, &comms)
            .unwrap();
        // One untimed pass first: the first proof of a process faults its
        // memory in (measured 1–1.5 s on SmolLM2), which would be charged
        // to color 0 alone.
        for w in &ws {
            zkml_protocol::prove_part(&pk, &seed, w, &values).unwrap();
        }
        for w in &ws {
            let t = Instant::now();
            let (_, st) = zkml_protocol::prove_part(&pk, &seed, w, &values).unwrap();
            println!(
                "    color {}: prove {:.1} ms (lookups {:.1}, graph {:.1}, openings {:.1}), witness entries {}",
                w.color(),
                t.elapsed().as_secs_f64() * 1e3,
                st.lookups.as_secs_f64() * 1e3,
                st.graph.as_secs_f64() * 1e3,
                st.openings.as_secs_f64() * 1e3,
                st.witness_len
            );
        }
    });
    if args.phases_only {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The configurations run interleaved, one proof each per round, so the
    // machine's speed drift (up to 2× over a day here) hits them alike;
    // each row is the median over rounds, after one warm-up round.
    let configs = [(1, args.threads_per_worker), (2, args.threads_per_worker), (1, cores)];
    let mut times: Vec<Vec<f64>> = vec![vec![]; configs.len()];
    for round in 0..=args.reps.max(1) {
        for (k, &(workers, threads)) in configs.iter().enumerate() {
            let cfg = EngineConfig { threads_per_worker: threads, ..EngineConfig::local(workers) };
            let t = Instant::now();
            let (proof, stats) =
                zkml_engine::prove(graph.clone(), pk.clone(), Some(values.clone()), &cfg).unwrap().unwrap();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if round == 0 {
                zkml_protocol::verify(&pk.vk, &ins, &outs, &proof).unwrap();
                println!(
                    "    ({workers} x {threads}: slices routed at {:.1} ms, commitments known at {:.1} ms, proofs in at {:.1} ms)",
                    stats.route.as_secs_f64() * 1e3,
                    stats.commit.as_secs_f64() * 1e3,
                    stats.prove.as_secs_f64() * 1e3
                );
            } else {
                times[k].push(ms);
            }
        }
    }
    let rows: Vec<(usize, usize, f64)> =
        configs.iter().zip(times).map(|(&(w, t), ts)| (w, t, bench_common::median(ts))).collect();
    let base = rows[0].2;
    for (w, t, ms) in &rows {
        println!(
            "  K={} workers {w} x {t} thread(s): prove {ms:8.1} ms, throughput {:.2}x (1 worker x {} thread)",
            args.colors,
            base / ms,
            args.threads_per_worker
        );
    }
}
