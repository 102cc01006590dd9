//! The runtime's executor against the IR's naive evaluation.
//!
//! The executor (optimised `i64` einsum kernels, shared materialised tables)
//! produces the witness the prover proves; the oracle is
//! [`zkml_ir::Graph::eval_all`], which evaluates the same quantized graph
//! from the definitions (`i128` reference einsum, table entries computed per
//! element with `f64` libm). They must agree on every value, bit for bit.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_ir::{Graph, IrError, Op, Tensor};
use zkml_runtime::Executor;
use zkml_tests::{model_fixtures, random_inputs};

fn quantized(path: &std::path::Path, bits: u8) -> (Graph, Graph) {
    quantized_with(path, QuantOptions::with_bits(bits))
}

fn quantized_with(path: &std::path::Path, opts: QuantOptions) -> (Graph, Graph) {
    let g = load_onnx(path, &FrontendOptions::default()).unwrap();
    let samples = pipeline::default_calibration(&g);
    let c = pipeline::compile(&g, &samples, &opts, &RewriteOptions::default()).unwrap();
    (g, c.quantized.graph)
}

fn assert_same(g: &Graph, inputs: &[Tensor], what: &str) {
    let fast = Executor::new(g).run_all(inputs).unwrap();
    let naive = g.eval_all(inputs).unwrap();
    assert_eq!(fast.len(), naive.len());
    for (id, (a, b)) in fast.iter().zip(&naive).enumerate() {
        assert!(a == b, "{what}: node {id} ({}) differs from the naive evaluation", g.node(id).op);
    }
}

#[test]
fn executor_equals_naive_evaluation_bit_for_bit() {
    for path in model_fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        for (bits, per_channel) in [(8u8, false), (16, false), (16, true)] {
            let (g, qg) =
                quantized_with(&path, QuantOptions { per_channel, ..QuantOptions::with_bits(bits) });
            // Inside the calibrated distribution, and far outside it (the
            // saturating paths of requantization and tables).
            for (seed, stretch) in [(1u64, 1.0f32), (2, 1.0), (3, 50.0)] {
                let inputs: Vec<Tensor> = random_inputs(&g.input_facts(), seed, 16)
                    .into_iter()
                    .map(|t| match t.as_f32() {
                        Ok(v) => {
                            Tensor::from_f32(t.shape(), v.iter().map(|x| x * stretch).collect()).unwrap()
                        }
                        Err(_) => t,
                    })
                    .collect();
                let what = format!("{name} q{bits} per-channel {per_channel} seed {seed}");
                assert_same(&qg, &quantize_inputs(&qg, &inputs), &what);
            }
        }
    }
}

#[test]
fn executor_equals_naive_evaluation_on_float_plans() {
    for path in model_fixtures() {
        let g = load_onnx(&path, &FrontendOptions::default()).unwrap();
        assert_same(&g, &random_inputs(&g.input_facts(), 5, 16), &path.display().to_string());
    }
}

#[test]
fn equal_tables_are_built_once_and_shared() {
    let (_, qg) = quantized(&zkml_tests::fixtures_dir().join("gpt2.onnx"), 16);
    let ex = Executor::new(&qg);
    let keys: std::collections::HashSet<_> = qg
        .nodes()
        .filter_map(|(_, n)| match &n.op {
            Op::Lookup(l) => l.quant.map(|q| q.table.key()),
            _ => None,
        })
        .collect();
    assert_eq!(ex.tables().len(), keys.len(), "one table per distinct key");
    assert!(ex.lookups() > ex.tables().len(), "gpt2 repeats tables: {} lookups", ex.lookups());
    for t in ex.tables() {
        let n = t.spec.rows();
        // Materialised unless it is a wide plain requantization.
        assert!(t.rows.len() == n || t.spec.func == zkml_ir::ops::lookup::LookupFn::Identity);
        assert!(t.rows.len() <= zkml_ir::ops::lookup::MAX_ROWS);
        for r in [0, 1, n / 2, n - 1] {
            assert_eq!(t.get(r), t.spec.entry(r));
        }
    }
}

#[test]
fn inputs_outside_their_bit_range_are_errors_naming_the_input() {
    let (_, qg) = quantized(&zkml_tests::fixtures_dir().join("mlp.onnx"), 8);
    let fact = qg.input_facts()[0].clone();
    let q = fact.dtype.q().unwrap();
    let mut raw = vec![0i64; fact.len()];
    raw[3] = q.max_abs() + 1;
    let t = Tensor::from_i64(fact.shape.clone(), raw).unwrap();
    for err in [Executor::new(&qg).run(std::slice::from_ref(&t)).unwrap_err(), qg.eval(&[t]).unwrap_err()] {
        assert!(matches!(err, IrError::InputFact { index: 0, .. }), "{err}");
        assert!(err.to_string().contains("overflows the declared 8 bits"), "{err}");
    }
}

/// The user's path on the demo model: compile with the shipped calibration
/// digits, write and reopen the plan, run it from EZKL-style JSON through
/// the runtime (quantize inputs, exact run, dequantize outputs); the result
/// must match tract's f32 run of the ONNX file and name the same digit.
#[test]
fn quantized_lenet_plan_runs_from_json_and_matches_tract() {
    let path = zkml_tests::fixtures_dir().join("lenet_mnist.onnx");
    let g = load_onnx(&path, &FrontendOptions::default()).unwrap();
    let cal =
        std::fs::read_to_string(zkml_tests::fixtures_dir().join("lenet_mnist.calibration.json")).unwrap();
    let samples = pipeline::calibration_from_json(&g, &cal).unwrap();
    let c = pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.bin");
    zkml_ir::Plan::new(c.quantized.graph).write(&file).unwrap();
    let plan = zkml_ir::Plan::open(&file).unwrap();

    let text = std::fs::read_to_string(zkml_tests::fixtures_dir().join("lenet_mnist.input.json")).unwrap();
    let input = zkml_runtime::InputData::parse(&text).unwrap();
    let out = zkml_runtime::execute(&plan.graph, &input).unwrap();
    let got: Vec<f32> = out.output_data[0].iter().map(|&x| x as f32).collect();

    let image = Tensor::from_f32([1, 1, 28, 28], input.input_data[0].iter().map(|&p| p as f32).collect());
    let want =
        zkml_tests::tract_run(&path, &FrontendOptions::default(), &[image.unwrap()]).unwrap().remove(0);
    let e = zkml_tests::max_rel_error(&got, &want);
    assert!(e < 1e-3, "quantized vs tract: {e}");
    let argmax = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(argmax(&got), argmax(&want));
}
