//! Test harness shared by the integration tests: fixture discovery, random
//! inputs, the tract oracle and the error metric.
//!
//! The oracle is tract's own optimised runner on the same ONNX file: an
//! implementation independent of ours (different kernels, different op
//! decomposition), so agreement is evidence, not tautology.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use tract_onnx::prelude::*;
use zkml_compiler::{FrontendOptions, frontend};
use zkml_ir::{DType, Fact, Graph, Tensor, TensorData};

/// `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every committed model fixture that is expected to compile.
pub fn model_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .filter(|p| !p.file_stem().is_some_and(|s| s.to_string_lossy().starts_with("unsupported")))
        .collect();
    v.sort();
    v
}

/// Random inputs for `facts`: floats uniform in [-1, 1) (images in [0, 1)),
/// integers (token ids) in [0, `id_bound`).
pub fn random_inputs(facts: &[&Fact], seed: u64, id_bound: i64) -> Vec<Tensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    facts
        .iter()
        .map(|f| {
            match f.dtype {
                DType::I64 => Tensor::from_i64(
                    f.shape.clone(),
                    (0..f.len()).map(|_| rng.random_range(0..id_bound)).collect(),
                ),
                _ => Tensor::from_f32(
                    f.shape.clone(),
                    (0..f.len()).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
                ),
            }
            .expect("shape matches length")
        })
        .collect()
}

fn to_tract(t: &Tensor) -> TractResult<TValue> {
    Ok(match t.data() {
        TensorData::F32(v) => tract_onnx::prelude::Tensor::from_shape(t.shape(), v)?.into(),
        TensorData::Bool(v) => tract_onnx::prelude::Tensor::from_shape(t.shape(), v)?.into(),
        _ => tract_onnx::prelude::Tensor::from_shape(t.shape(), &t.as_i64()?)?.into(),
    })
}

/// tract's optimised runner for one model, built once (the oracle).
pub struct TractRunner {
    plan: std::sync::Arc<TypedRunnableModel>,
}

impl std::fmt::Debug for TractRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TractRunner")
    }
}

impl TractRunner {
    pub fn new(path: &Path, opts: &FrontendOptions) -> TractResult<TractRunner> {
        let typed = frontend::load_typed(path, opts).map_err(|e| TractError::msg(e.to_string()))?;
        Ok(TractRunner { plan: typed.into_optimized()?.into_runnable()? })
    }
    /// The model's outputs, as f32.
    pub fn run(&self, inputs: &[Tensor]) -> TractResult<Vec<Vec<f32>>> {
        let ins = inputs.iter().map(to_tract).collect::<TractResult<TVec<_>>>()?;
        let outs = self.plan.run(ins)?;
        outs.iter().map(|o| Ok(o.cast_to::<f32>()?.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())).collect()
    }
}

/// Runs the model once with tract's optimised runner (the oracle).
pub fn tract_run(path: &Path, opts: &FrontendOptions, inputs: &[Tensor]) -> TractResult<Vec<Vec<f32>>> {
    TractRunner::new(path, opts)?.run(inputs)
}

/// Runs our f32 reference evaluator.
pub fn ours_run(graph: &Graph, inputs: &[Tensor]) -> Vec<Vec<f32>> {
    graph
        .eval(inputs)
        .expect("evaluation succeeds")
        .iter()
        .map(|t| match t.data() {
            TensorData::F32(v) => v.clone(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8 as f32).collect(),
            _ => t.as_i64().expect("integer data").iter().map(|&x| x as f32).collect(),
        })
        .collect()
}

/// Largest absolute difference divided by the oracle's largest magnitude.
///
/// Element-wise relative error is meaningless for values that are sums with
/// cancellation (a logit near 0 computed in a different order); relative to
/// the tensor's scale it measures what matters. Returns `f32::INFINITY` on
/// length mismatch or NaN disagreement.
pub fn max_rel_error(ours: &[f32], oracle: &[f32]) -> f32 {
    if ours.len() != oracle.len() {
        return f32::INFINITY;
    }
    let scale = oracle.iter().filter(|x| x.is_finite()).fold(0f32, |m, x| m.max(x.abs())).max(1e-30);
    ours.iter()
        .zip(oracle)
        .map(|(a, b)| {
            if a == b {
                0.0
            } else if a.is_nan() || b.is_nan() || !a.is_finite() || !b.is_finite() {
                f32::INFINITY
            } else {
                (a - b).abs() / scale
            }
        })
        .fold(0f32, f32::max)
}

/// ONNX backend node tests (`onnx/backend/test/data/node` in the
/// `onnx==1.22.0` wheel).
pub mod fuzz;

pub mod onnx_node {
    use prost::Message;
    use std::path::Path;
    use zkml_compiler::frontend::ops::ir_tensor;
    use zkml_compiler::{FrontendOptions, load_onnx};
    use zkml_ir::{Tensor, TensorData};

    /// Reads a serialized `TensorProto`.
    pub fn read_tensor(path: &Path) -> Result<Tensor, String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let proto = tract_onnx::pb::TensorProto::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
        let t = tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::MmapDataResolver, &proto, None)
            .map_err(|e| format!("{e:#}"))?;
        ir_tensor(&t)
    }

    /// Op types of the nodes of a model.
    pub fn op_types(model: &Path) -> Result<Vec<String>, String> {
        let bytes = std::fs::read(model).map_err(|e| e.to_string())?;
        let proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
        Ok(proto.graph.map(|g| g.node.into_iter().map(|n| n.op_type).collect()).unwrap_or_default())
    }

    /// `|a - b| ≤ tol · (1 + |b|)` for floats (NaN matches NaN), exact for
    /// integers and booleans.
    pub fn close(got: &Tensor, want: &Tensor, tol: f32) -> Result<(), String> {
        if got.shape() != want.shape() {
            return Err(format!("shape {:?}, expected {:?}", got.shape(), want.shape()));
        }
        match (got.data(), want.data()) {
            (TensorData::F32(a), TensorData::F32(b)) => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tol * (1.0 + y.abs());
                    if !ok {
                        return Err(format!("element {i}: {x} vs expected {y}"));
                    }
                }
                Ok(())
            }
            (a, b) if a == b => Ok(()),
            (a, b) if a.dtype() != b.dtype() => Err(format!("type {} vs expected {}", a.dtype(), b.dtype())),
            _ => Err("values differ".into()),
        }
    }

    /// Inputs that real models carry as initializers (shapes, axes, slice
    /// bounds, split sizes, normalisation statistics), by op type. Node
    /// tests feed them as graph inputs; a zkml plan has static shapes, so the
    /// harness turns them into initializers, as tract's own harness does.
    fn parameter_inputs(op: &str) -> &'static [usize] {
        match op {
            "Reshape" | "Expand" | "Split" | "Unsqueeze" | "Squeeze" | "ReduceMean" | "ReduceSum"
            | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceSumSquare" | "ReduceL1" | "ReduceL2"
            | "ReduceLogSum" | "ReduceLogSumExp" | "Trilu" => &[1],
            "Slice" => &[1, 2, 3, 4],
            "BatchNormalization" => &[1, 2, 3, 4],
            "Pad" => &[1, 2, 3],
            "ConstantOfShape" => &[0],
            "Range" => &[0, 1, 2],
            "Dropout" => &[1, 2],
            "Resize" => &[1, 2, 3],
            "Tile" => &[1],
            "TopK" => &[1],
            "OneHot" => &[1, 2],
            "CumSum" => &[1],
            // Quantization parameters: constants of the model.
            "QuantizeLinear" | "DequantizeLinear" => &[1, 2],
            "QLinearMatMul" => &[1, 2, 4, 5, 6, 7],
            "QLinearConv" => &[1, 2, 4, 5, 6, 7, 8],
            "MatMulInteger" | "ConvInteger" => &[2, 3],
            // Indices and tables of the indexing ops.
            "Gather" | "GatherND" | "ScatterElements" | "Scatter" | "ScatterND" => &[1],
            "RotaryEmbedding" => &[1, 2, 3],
            _ => &[],
        }
    }

    /// A node test loaded into the IR: the graph (parameters as
    /// initializers, the data set's input shapes), its inputs and the
    /// expected outputs of `test_data_set_0`.
    #[derive(Debug)]
    pub struct Case {
        pub graph: zkml_ir::Graph,
        pub inputs: Vec<Tensor>,
        pub wants: Vec<Tensor>,
    }

    /// Loads the node test in `dir` (see [`Case`]).
    pub fn load_case(dir: &Path) -> Result<Case, String> {
        let data = dir.join("test_data_set_0");
        let bytes = std::fs::read(dir.join("model.onnx")).map_err(|e| e.to_string())?;
        let mut proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
        let graph = proto.graph.as_mut().ok_or("no graph")?;
        let node = graph.node.first().cloned().ok_or("no node")?;
        let real_inputs: Vec<String> = graph.input.iter().map(|i| i.name.clone()).collect();
        let mut inputs = Vec::new();
        for (k, name) in real_inputs.iter().enumerate() {
            let file = data.join(format!("input_{k}.pb"));
            let as_param = node
                .input
                .iter()
                .position(|n| n == name)
                .is_some_and(|pos| parameter_inputs(&node.op_type).contains(&pos));
            if as_param {
                let raw = std::fs::read(&file).map_err(|e| e.to_string())?;
                let mut t = tract_onnx::pb::TensorProto::decode(raw.as_slice()).map_err(|e| e.to_string())?;
                t.name = name.clone();
                graph.initializer.push(t);
                graph.input.retain(|i| &i.name != name);
            } else {
                inputs.push(read_tensor(&file)?);
            }
        }
        let tmp = tempdir_in_target()?;
        let model = tmp.join(format!("{}.onnx", dir.file_name().and_then(|n| n.to_str()).unwrap_or("case")));
        std::fs::write(&model, proto.encode_to_vec()).map_err(|e| e.to_string())?;
        let mut wants = Vec::new();
        while data.join(format!("output_{}.pb", wants.len())).exists() {
            wants.push(read_tensor(&data.join(format!("output_{}.pb", wants.len())))?);
        }
        let names = input_names(&model)?;
        let opts = FrontendOptions {
            input_shapes: names
                .iter()
                .cloned()
                .zip(inputs.iter().map(|t| t.shape().to_vec()))
                .filter(|(_, s)| !s.is_empty() && !s.contains(&0))
                .collect(),
            ..FrontendOptions::default()
        };
        let graph = load_onnx(&model, &opts).map_err(|e| format!("load: {e}"))?;
        Ok(Case { graph, inputs, wants })
    }

    /// Evaluates the node test in `dir` in f32 and compares every output.
    pub fn run_case(dir: &Path, tol: f32) -> Result<(), String> {
        let Case { graph, inputs, wants } = load_case(dir)?;
        let got = graph.eval(&inputs).map_err(|e| format!("eval: {e}"))?;
        if got.len() != wants.len() {
            return Err(format!("{} outputs, expected {}", got.len(), wants.len()));
        }
        for (i, (g, w)) in got.iter().zip(&wants).enumerate() {
            close(g, w, tol).map_err(|e| format!("output {i}: {e}"))?;
        }
        Ok(())
    }

    /// Proves the node test in `dir`: compiled with its own inputs as the
    /// calibration, proven, verified (a wrong output must be rejected), and
    /// the proven outputs (dequantized) compared with the expected ones:
    /// within `tol` of each output's largest magnitude for floats, exactly
    /// for integers. Returns the largest float error.
    pub fn prove_case(dir: &Path, tol: f32) -> Result<f32, String> {
        use zkml_compiler::pipeline;
        use zkml_compiler::quantize::QuantOptions;
        use zkml_compiler::report::quantize_inputs;
        use zkml_compiler::rewrite::RewriteOptions;
        let Case { graph, inputs, wants } = load_case(dir)?;
        let samples = vec![inputs.clone()];
        let compiled =
            pipeline::compile(&graph, &samples, &QuantOptions::default(), &RewriteOptions::default())
                .map_err(|e| format!("compile: {e}"))?;
        let q = compiled.quantized.graph;
        let pk = zkml_protocol::setup(&q, "test").map_err(|e| format!("setup: {e}"))?;
        let qin = quantize_inputs(&q, &inputs);
        let values = zkml_runtime::Executor::new(&q).run_all(&qin).map_err(|e| format!("run: {e}"))?;
        let (proof, _) = zkml_protocol::prove(&pk, &values).map_err(|e| format!("prove: {e}"))?;
        let ins: Vec<Tensor> = q.inputs().iter().map(|&i| values[i][0].clone()).collect();
        let outs: Vec<Tensor> = q.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
        zkml_protocol::verify(&pk.vk, &ins, &outs, &proof).map_err(|e| format!("verify: {e}"))?;
        let mut wrong = outs.clone();
        let mut w0 = wrong[0].as_i64().map_err(|e| e.to_string())?.to_vec();
        if let Some(x) = w0.first_mut() {
            *x += 1;
            wrong[0] = Tensor::from_i64(wrong[0].shape(), w0).map_err(|e| e.to_string())?;
            if zkml_protocol::verify(&pk.vk, &ins, &wrong, &proof).is_ok() {
                return Err("a wrong output verifies".into());
            }
        }
        if outs.len() != wants.len() {
            return Err(format!("{} outputs, expected {}", outs.len(), wants.len()));
        }
        let mut worst = 0f32;
        for (i, ((o, w), v)) in outs.iter().zip(&wants).zip(q.outputs()).enumerate() {
            let ints = o.as_i64().map_err(|e| e.to_string())?;
            match (q.fact(*v).map(|f| f.dtype), w.data()) {
                (Some(zkml_ir::DType::Q(qt)), TensorData::F32(want)) => {
                    let got: Vec<f32> = ints.iter().map(|&x| (x as f64 * qt.scale as f64) as f32).collect();
                    if got.len() != want.len() {
                        return Err(format!("output {i}: {} values, expected {}", got.len(), want.len()));
                    }
                    let err = super::max_rel_error(&got, want.as_slice());
                    if err.is_nan() || err > tol {
                        return Err(format!("output {i}: error {err:.2e} of its range"));
                    }
                    worst = worst.max(err);
                }
                _ => {
                    let got = Tensor::from_i64(o.shape(), ints.to_vec()).map_err(|e| e.to_string())?;
                    let want = match w.data() {
                        TensorData::Bool(b) => {
                            Tensor::from_i64(w.shape(), b.iter().map(|&x| x as i64).collect())
                                .map_err(|e| e.to_string())?
                        }
                        _ => w.clone(),
                    };
                    close(&got, &want, 0.0).map_err(|e| format!("output {i}: {e}"))?;
                }
            }
        }
        Ok(worst)
    }

    /// Runs `run` on every single-node test in `$ONNX_NODE_TEST_DIR` whose
    /// op `wanted` accepts, prints the per-op summary, and fails on a
    /// panic or on a case of `expected_list` (one test name a line, `#`
    /// comments) that no longer passes. Returns the number of cases run.
    pub fn conformance(
        what: &str,
        expected_list: &str,
        wanted: impl Fn(&str) -> bool,
        run: impl Fn(&Path) -> Result<(), String> + std::panic::RefUnwindSafe,
    ) -> usize {
        let Some(dir) = std::env::var_os("ONNX_NODE_TEST_DIR").map(std::path::PathBuf::from) else {
            panic!(
                "ONNX_NODE_TEST_DIR is not set: run the tests with scripts/test.sh (it installs onnx==1.22.0)"
            );
        };
        let expected: Vec<&str> =
            expected_list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        let mut cases: Vec<(String, String, std::path::PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().expect("name").to_string_lossy().to_string();
            let Ok(ops) = op_types(&path.join("model.onnx")) else { continue };
            if let [op] = ops.as_slice()
                && wanted(op)
            {
                cases.push((op.clone(), name, path));
            }
        }
        cases.sort();
        let mut per_op: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
        let (mut regressions, mut newly, mut failures) = (vec![], vec![], vec![]);
        for (op, name, path) in &cases {
            let result = std::panic::catch_unwind(|| run(path)).unwrap_or_else(|_| Err("PANIC".to_string()));
            let e = per_op.entry(op.clone()).or_default();
            e.1 += 1;
            let listed = expected.contains(&name.as_str());
            match result {
                Ok(()) => {
                    e.0 += 1;
                    if !listed {
                        newly.push(name.clone());
                    }
                }
                Err(msg) => {
                    if listed {
                        regressions.push(format!("{name}: {msg}"));
                    }
                    failures.push(format!("{name}: {msg}"));
                }
            }
        }
        println!("ONNX node tests {what}, per op:");
        for (op, (pass, total)) in &per_op {
            println!("  {op:<20} {pass:>3}/{total}");
        }
        let (p, t) = per_op.values().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
        println!("  {:<20} {p:>3}/{t}", "total");
        println!("not passing:\n  {}", failures.join("\n  "));
        if !newly.is_empty() {
            println!("passing but not in the expected list (add them):\n  {}", newly.join("\n  "));
        }
        assert!(!failures.iter().any(|f| f.ends_with("PANIC")), "a node test panicked: {failures:#?}");
        assert!(regressions.is_empty(), "expected passes now fail:\n{}", regressions.join("\n"));
        cases.len()
    }

    /// A scratch folder under the target directory (kept small: one model
    /// per case, overwritten on each run).
    fn tempdir_in_target() -> Result<std::path::PathBuf, String> {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/onnx-node-cases");
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        Ok(d)
    }

    /// Names of the real (non-initializer) graph inputs, in order.
    fn input_names(model: &Path) -> Result<Vec<String>, String> {
        let bytes = std::fs::read(model).map_err(|e| e.to_string())?;
        let proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
        let g = proto.graph.unwrap_or_default();
        let inits: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        Ok(g.input.iter().map(|i| i.name.clone()).filter(|n| !inits.contains(&n.as_str())).collect())
    }
}

/// A fixture (`name`, with or without `.onnx`) compiled to the quantized
/// graph with the default calibration and options, as `zkc compile` does.
pub fn quantized_fixture(name: &str) -> Graph {
    use zkml_compiler::{pipeline, quantize::QuantOptions, rewrite::RewriteOptions};
    let file = if name.ends_with(".onnx") { name.to_string() } else { format!("{name}.onnx") };
    let g = zkml_compiler::load_onnx(&fixtures_dir().join(file), &FrontendOptions::default())
        .expect("fixture loads");
    let samples = pipeline::default_calibration(&g);
    pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default())
        .expect("fixture quantizes")
        .quantized
        .graph
}

/// Evaluates `g` with the IR's reference semantics, node `target`'s first
/// output altered by `alter` and everything downstream recomputed from the
/// altered value: the witness of a prover that lies at one node and is
/// consistent everywhere else.
pub fn run_altered(
    g: &Graph,
    inputs: &[Tensor],
    target: usize,
    alter: &dyn Fn(&mut Vec<i64>),
) -> Vec<Vec<Tensor>> {
    let mut values: Vec<Vec<Tensor>> = Vec::with_capacity(g.len());
    for (id, node) in g.nodes() {
        let mut out = if let zkml_ir::Op::Input(inp) = &node.op {
            vec![inputs[inp.index].clone()]
        } else {
            let args: Vec<&Tensor> = node.inputs.iter().map(|v| &values[v.node][v.slot]).collect();
            node.op.def().eval(&args).expect("reference evaluation")
        };
        if id == target {
            let mut v = out[0].as_i64().expect("integer tensor").to_vec();
            alter(&mut v);
            out[0] = Tensor::from_i64(out[0].shape(), v).expect("same shape");
        }
        values.push(out);
    }
    values
}
