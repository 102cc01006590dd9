//! The engine against the in-process prover: any number of workers gives
//! the byte-identical proof, which verifies; a process that never joins
//! ends the run with an error within the timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, partition, pipeline};
use zkml_engine::{EngineConfig, EngineError};
use zkml_ir::{Graph, Tensor};
use zkml_runtime::Executor;
use zkml_tests::{fixtures_dir, random_inputs};

fn setup(name: &str, k: usize) -> (Arc<Graph>, Arc<zkml_protocol::ProvingKey>, Arc<Vec<Vec<Tensor>>>) {
    let g = load_onnx(&fixtures_dir().join(name), &FrontendOptions::default()).unwrap();
    let samples = pipeline::default_calibration(&g);
    let g = pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default())
        .unwrap()
        .quantized
        .graph;
    let parts = partition::partition(&g, k).unwrap();
    let pk = zkml_protocol::setup_partitioned(&g, &parts, "test").unwrap();
    let inputs = quantize_inputs(&g, &random_inputs(&g.input_facts(), 9, 50));
    let values = Executor::new(&g).run_all(&inputs).unwrap();
    (Arc::new(g), Arc::new(pk), Arc::new(values))
}

#[test]
fn any_worker_count_gives_the_same_proof() {
    for (name, k) in [("gpt2.onnx", 4), ("mlp.onnx", 2), ("cnn.onnx", 1)] {
        let (g, pk, values) = setup(name, k);
        let (reference, _) = zkml_protocol::prove(&pk, &values).unwrap();
        let reference = reference.to_bytes().unwrap();
        for workers in [1, 2, 3] {
            let cfg = EngineConfig { threads_per_worker: 1, ..EngineConfig::local(workers) };
            let (proof, stats) = zkml_engine::prove(g.clone(), pk.clone(), Some(values.clone()), &cfg)
                .unwrap()
                .expect("the coordinator gets the proof");
            assert_eq!(stats.workers, workers);
            assert_eq!(proof.to_bytes().unwrap(), reference, "{name}: {workers} workers");
        }
        let ins: Vec<Tensor> = g.inputs().iter().map(|&i| values[i][0].clone()).collect();
        let outs: Vec<Tensor> = g.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
        let proof = zkml_protocol::Proof::from_bytes(&reference).unwrap();
        zkml_protocol::verify(&pk.vk, &ins, &outs, &proof).unwrap();
    }
}

#[test]
fn a_process_that_never_joins_ends_the_run_with_an_error() {
    let (g, pk, values) = setup("mlp.onnx", 2);
    let ports: Vec<u16> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
        .collect();
    let cfg = EngineConfig {
        workers: 1,
        threads_per_worker: 1,
        process: 0,
        hosts: ports.iter().map(|p| format!("127.0.0.1:{p}")).collect(),
        timeout: Duration::from_secs(3),
    };
    let t = Instant::now();
    let err = zkml_engine::prove(g, pk, Some(values), &cfg).unwrap_err();
    assert!(matches!(err, EngineError::Timeout(_)), "{err}");
    assert!(err.to_string().contains("did not connect"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn bad_configurations_are_errors() {
    let (g, pk, values) = setup("mlp.onnx", 2);
    let cfg = EngineConfig { workers: 0, ..EngineConfig::local(1) };
    assert!(zkml_engine::prove(g.clone(), pk.clone(), Some(values.clone()), &cfg).is_err());
    // A worker process (index 1) must not be handed the witness.
    let cfg = EngineConfig {
        process: 1,
        hosts: vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()],
        ..EngineConfig::local(1)
    };
    assert!(matches!(zkml_engine::prove(g, pk, Some(values), &cfg), Err(EngineError::Config(_))));
}
