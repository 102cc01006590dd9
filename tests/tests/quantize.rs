//! The rewrite and quantization stages against independent oracles:
//! * every rewritten graph, and every rule on its own, computes what the
//!   frontend graph computes (f32, random inputs, ≤ 1e-5 relative);
//! * the quantized graph's exact integer evaluation, dequantized, stays
//!   close to tract's f32 run of the ONNX file;
//! * bad calibration data and impossible bit widths are clear errors.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::quantize::{QuantError, QuantOptions};
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::{RewriteOptions, non_core, rewrite, rewrite_with, rules};
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_ir::{DType, Graph, Tensor, TensorData};
use zkml_tests::{max_rel_error, model_fixtures, ours_run, random_inputs, tract_run};

fn load(path: &std::path::Path) -> Graph {
    load_onnx(path, &FrontendOptions::default()).expect("fixture loads")
}

#[test]
fn rewritten_graphs_are_provable_and_equal_to_the_original() {
    for path in model_fixtures() {
        let g = load(&path);
        let (rw, _) = rewrite(&g, &RewriteOptions::default()).unwrap();
        assert!(non_core(&rw).is_empty(), "{}: left {:?}", path.display(), non_core(&rw));
        for seed in 0..3 {
            let inputs = random_inputs(&g.input_facts(), seed, 16);
            let (a, b) = (ours_run(&g, &inputs), ours_run(&rw, &inputs));
            for (x, y) in a.iter().zip(&b) {
                let e = max_rel_error(y, x);
                assert!(e <= 1e-5, "{} seed {seed}: rewritten differs by {e}", path.display());
            }
        }
    }
}

#[test]
fn every_rule_alone_preserves_semantics() {
    let fixtures: Vec<Graph> = model_fixtures().iter().map(|p| load(p)).collect();
    let names: Vec<&str> = rules::all().iter().map(|r| r.name).collect();
    for name in names {
        let only: Vec<rules::Rule> = rules::all().into_iter().filter(|r| r.name == name).collect();
        for g in &fixtures {
            // With one rule, extraction may keep unprovable ops; values must not change.
            let (rw, _) = rewrite_with(g, &RewriteOptions::default(), &only).unwrap();
            let inputs = random_inputs(&g.input_facts(), 7, 16);
            for (x, y) in ours_run(g, &inputs).iter().zip(&ours_run(&rw, &inputs)) {
                let e = max_rel_error(y, x);
                assert!(e <= 1e-5, "rule {name} changes a value by {e}");
            }
        }
    }
}

fn dequantize(g: &Graph, outs: &[Tensor]) -> Vec<Vec<f32>> {
    g.outputs()
        .iter()
        .zip(outs)
        .map(|(v, t)| {
            let DType::Q(q) = g.fact(*v).unwrap().dtype else { panic!("output not quantized") };
            let TensorData::I64(ints) = t.data() else { panic!("quantized output holds no integers") };
            ints.iter().map(|&i| i as f32 * q.scale).collect()
        })
        .collect()
}

/// Compiles every fixture with `opts` (default calibration) and checks the
/// quantized outputs on fresh inputs against tract's f32 run.
fn fixtures_track_tract(opts: QuantOptions, tol: f32) {
    for path in model_fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let g = load(&path);
        let samples = pipeline::default_calibration(&g);
        let c = pipeline::compile(&g, &samples, &opts, &RewriteOptions::default()).unwrap();
        let qg = &c.quantized.graph;
        if opts.per_channel {
            let per_channel =
                |n: &zkml_ir::Node| matches!(n.op, zkml_ir::Op::Einsum(_)) && n.inputs.len() == 3;
            assert!(qg.nodes().any(|(_, n)| per_channel(n)), "{name}: no per-channel einsum");
        }
        for seed in 0..2 {
            let mut inputs = random_inputs(&g.input_facts(), 100 + seed, 16);
            if name.contains("lenet") {
                // Pixels are in [0, 1].
                inputs = inputs
                    .into_iter()
                    .map(|t| {
                        Tensor::from_f32(t.shape(), t.as_f32().unwrap().iter().map(|x| x.abs()).collect())
                            .unwrap()
                    })
                    .collect();
            }
            let oracle = tract_run(&path, &FrontendOptions::default(), &inputs).unwrap();
            let q = qg.eval(&quantize_inputs(qg, &inputs)).unwrap();
            for (got, want) in dequantize(qg, &q).iter().zip(&oracle) {
                let e = max_rel_error(got, want);
                assert!(e <= tol, "{name} seed {seed} ({opts:?}): quantized vs tract f32 {e}");
            }
        }
    }
}

#[test]
fn quantized_fixtures_track_tract_f32() {
    // 16-bit activations and weights (the default), fresh inputs, default
    // calibration (8 synthetic samples, headroom 2): every fixture measured
    // ≤ 6.4e-4 over 10 seeds (`examples/quant_sweep.rs`, docs/quantization.md).
    fixtures_track_tract(QuantOptions::default(), 5e-3);
}

#[test]
fn per_channel_weights_track_tract_f32() {
    // Every weight einsum becomes one exact three-operand einsum (x,
    // per-channel integers, channel scales); measured ≤ 5.9e-4.
    fixtures_track_tract(QuantOptions { per_channel: true, ..QuantOptions::default() }, 5e-3);
}

#[test]
fn bad_calibration_and_bit_widths_are_clear_errors() {
    let g = load(&zkml_tests::fixtures_dir().join("mlp.onnx"));
    let err = pipeline::calibration_from_json(&g, r#"{"input_data": [[1.0, 2.0, 3.0]]}"#).unwrap_err();
    assert!(err.to_string().contains("not a positive multiple of 16"), "{err}");
    let err = pipeline::calibration_from_json(&g, r#"{"input_data": [[1.0], [2.0]]}"#).unwrap_err();
    assert!(err.to_string().contains("2 input lists for a model with 1 inputs"), "{err}");
    assert!(pipeline::calibration_from_json(&g, "not json").is_err());
    let samples = pipeline::default_calibration(&g);
    for bits in [0u8, 3, 17, 40] {
        let q = QuantOptions { bits, weight_bits: 8, domain_bits: 12, ..QuantOptions::default() };
        let err = pipeline::compile(&g, &samples, &q, &RewriteOptions::default()).unwrap_err();
        assert!(matches!(err, pipeline::CompileError::Quant(QuantError::Bits(b)) if b == bits), "{err}");
    }
}

#[test]
fn quantized_values_respect_declared_bit_widths() {
    // The exact evaluator checks every value against its fact; inputs far
    // outside the calibrated range saturate at the input and tables.
    let g = load(&zkml_tests::fixtures_dir().join("mlp.onnx"));
    let samples = pipeline::default_calibration(&g);
    let c = pipeline::compile(&g, &samples, &QuantOptions::with_bits(8), &RewriteOptions::default()).unwrap();
    let qg = &c.quantized.graph;
    let big = Tensor::from_f32(vec![1, 16], vec![1e6; 16]).unwrap();
    let out = qg.eval(&quantize_inputs(qg, &[big])).unwrap();
    assert_eq!(out.len(), 1);
}

/// An argmax over more entries than a 16-bit type holds (a 49,152-token
/// vocabulary) returns exact indices: an integer graph output is never
/// narrowed to its calibrated range, which would round an index past
/// 32,767 to an even one.
#[test]
fn wide_argmax_indices_stay_exact() {
    use zkml_ir::ops::reduce::Arg;
    use zkml_ir::ops::source::Input;
    use zkml_ir::{Fact, ValueId};
    let (rows, n) = (2, 40_000);
    let mut g = Graph::new();
    let x = g.add_node("x", Input { index: 0, fact: Fact::new(DType::F32, [rows, n]) }, &[]).unwrap();
    let a =
        g.add_node("arg", Arg { axis: 1, keepdims: false, min: false, last: false }, &[ValueId::new(x, 0)]);
    g.set_outputs(vec![ValueId::new(a.unwrap(), 0)]);
    // Maxima past 32,767 and at odd indices; a smooth background.
    let sample = |peaks: [usize; 2]| {
        let mut v: Vec<f32> = (0..rows * n).map(|i| ((i % 997) as f32 / 997.0) - 0.5).collect();
        for (r, &p) in peaks.iter().enumerate() {
            v[r * n + p] = 3.0;
        }
        vec![Tensor::from_f32([rows, n], v).unwrap()]
    };
    let samples = vec![sample([39_999, 12]), sample([5, 32_768])];
    let built = pipeline::build(&g, &samples, &pipeline::BuildOptions::default()).unwrap();
    let out = built.plan.graph.outputs()[0];
    let fact = built.plan.graph.fact(out).unwrap();
    assert!(fact.dtype.q().is_some_and(|q| q.scale == 1.0), "index type {fact}");
    for peaks in [[39_999, 12], [32_769, 35_001], [40_000 - 3, 32_767]] {
        let inputs = quantize_inputs(&built.plan.graph, &sample(peaks));
        let got = built.plan.graph.eval(&inputs).unwrap();
        assert_eq!(got[0].as_i64().unwrap().as_ref(), [peaks[0] as i64, peaks[1] as i64]);
    }
}
