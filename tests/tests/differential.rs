//! Every fixture through our f32 evaluator and through tract's own runner,
//! on random inputs: outputs agree within 1e-5 (relative to the output's
//! magnitude, see `max_rel_error`).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::{FrontendOptions, load_onnx};
use zkml_tests::{max_rel_error, model_fixtures, ours_run, random_inputs, tract_run};

const TOLERANCE: f32 = 1e-5;

#[test]
fn every_fixture_matches_tract() {
    let fixtures = model_fixtures();
    assert!(fixtures.len() >= 4, "expected the committed fixtures, found {fixtures:?}");
    let opts = FrontendOptions::default();
    for path in fixtures {
        let graph = load_onnx(&path, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for seed in 0..3 {
            let inputs = random_inputs(&graph.input_facts(), seed, 16);
            let want = tract_run(&path, &opts, &inputs)
                .unwrap_or_else(|e| panic!("{}: tract: {e:#}", path.display()));
            let got = ours_run(&graph, &inputs);
            assert_eq!(got.len(), want.len(), "{}: output count", path.display());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let err = max_rel_error(g, w);
                println!("{} seed {seed} output {i}: max relative error {err:e}", path.display());
                assert!(
                    err <= TOLERANCE,
                    "{} seed {seed} output {i}: relative error {err:e}",
                    path.display()
                );
            }
        }
    }
}

/// The oracle comparison is not vacuous: a perturbed weight is detected.
#[test]
fn differential_check_detects_a_changed_weight() {
    let path = zkml_tests::fixtures_dir().join("mlp.onnx");
    let opts = FrontendOptions::default();
    let graph = load_onnx(&path, &opts).expect("mlp loads");
    let inputs = random_inputs(&graph.input_facts(), 7, 16);
    let want = tract_run(&path, &opts, &inputs).expect("tract runs");
    // Rebuild the graph with every weight matrix scaled by 1.001.
    let mut g2 = zkml_ir::Graph::new();
    for (_, n) in graph.nodes() {
        let op = match &n.op {
            zkml_ir::Op::Const(c) if c.fact.len() > 100 => {
                let mut v = c.value.as_f32().expect("f32 weight").to_vec();
                v.iter_mut().for_each(|x| *x *= 1.001);
                zkml_ir::Op::Const(zkml_ir::ops::source::Const::new(
                    zkml_ir::Tensor::from_f32(c.fact.shape.clone(), v).expect("same shape"),
                ))
            }
            op => op.clone(),
        };
        g2.add_node(n.name.clone(), op, &n.inputs).expect("same graph");
    }
    g2.set_outputs(graph.outputs().to_vec());
    let got = ours_run(&g2, &inputs);
    assert!(max_rel_error(&got[0], &want[0]) > TOLERANCE);
}
