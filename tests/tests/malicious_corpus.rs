//! The malicious-prover corpus (`tests/fixtures/malicious/`): one proof per
//! cheating strategy of the soundness tests, stored as the files a verifier
//! reads (the verifying key, the proof file, the statement), replayed here:
//! every cheating proof must be rejected, and the honest proof of each model
//! stored beside them must verify. The honest proofs pin the corpus to the
//! current protocol: a protocol change fails this test until the corpus is
//! regenerated (`UPDATE_CORPUS=1 cargo test -p zkml-tests --test
//! malicious_corpus`), so the replay never degenerates into rejecting
//! proofs of an older format. The fuzzer (`examples/fuzz.rs`) mutates
//! these files too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use zkml_compiler::report::quantize_inputs;
use zkml_ir::{Graph, Op, Tensor};
use zkml_protocol::{ProvingKey, setup};
use zkml_runtime::Executor;
use zkml_tests::{fixtures_dir, quantized_fixture, random_inputs, run_altered};

/// The integers of a statement, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Statement {
    inputs: Vec<(Vec<usize>, Vec<i64>)>,
    outputs: Vec<(Vec<usize>, Vec<i64>)>,
}

impl Statement {
    fn of(ins: &[Tensor], outs: &[Tensor]) -> Statement {
        let f =
            |ts: &[Tensor]| ts.iter().map(|t| (t.shape().to_vec(), t.as_i64().unwrap().to_vec())).collect();
        Statement { inputs: f(ins), outputs: f(outs) }
    }
    fn tensors(v: &[(Vec<usize>, Vec<i64>)]) -> Vec<Tensor> {
        v.iter().map(|(s, d)| Tensor::from_i64(s.clone(), d.clone()).unwrap()).collect()
    }
}

fn dir() -> PathBuf {
    fixtures_dir().join("malicious")
}

/// A compiled fixture, its key and an honest witness.
struct Model {
    graph: Graph,
    pk: ProvingKey,
    values: Vec<Vec<Tensor>>,
}

impl Model {
    fn new(fixture: &str) -> Model {
        let graph = quantized_fixture(fixture);
        let pk = setup(&graph, "corpus").unwrap();
        let inputs = quantize_inputs(&graph, &random_inputs(&graph.input_facts(), 5, 50));
        let values = Executor::new(&graph).run_all(&inputs).unwrap();
        Model { graph, pk, values }
    }
    fn inputs(&self, values: &[Vec<Tensor>]) -> Vec<Tensor> {
        self.graph.inputs().iter().map(|&i| values[i][0].clone()).collect()
    }
    fn outputs(&self, values: &[Vec<Tensor>]) -> Vec<Tensor> {
        self.graph.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect()
    }
    /// The last node whose name contains `part`.
    fn node(&self, part: &str) -> usize {
        self.graph.nodes().filter(|(_, n)| n.name.contains(part)).last().map(|(id, _)| id).unwrap()
    }
    /// The witness of a prover lying at `node` and consistent elsewhere.
    fn lying(&self, node: usize, alter: &dyn Fn(&mut Vec<i64>)) -> Vec<Vec<Tensor>> {
        run_altered(&self.graph, &self.inputs(&self.values), node, alter)
    }
    /// Stores `name`: this key, a proof of `values`, and the statement
    /// (`values`' own, or `statement` when the cheat is in the statement).
    fn store(&self, name: &str, values: &[Vec<Tensor>], statement: Option<Statement>) {
        let (proof, _) = zkml_protocol::prove_with(&self.pk, values, &|_, _| {}).expect("the cheat proves");
        let st = statement.unwrap_or_else(|| Statement::of(&self.inputs(values), &self.outputs(values)));
        let d = dir();
        std::fs::write(d.join(format!("{name}.vk")), self.pk.vk.to_bytes().unwrap()).unwrap();
        std::fs::write(d.join(format!("{name}.proof")), proof.to_file_bytes(&self.pk.digest).unwrap())
            .unwrap();
        std::fs::write(d.join(format!("{name}.statement.json")), serde_json::to_string(&st).unwrap())
            .unwrap();
    }
}

/// The strategies, each written as `<name>.{vk,proof,statement.json}`;
/// names starting with `honest` must verify.
fn generate() {
    std::fs::create_dir_all(dir()).unwrap();
    let mlp = Model::new("mlp.onnx");
    mlp.store("honest_mlp", &mlp.values, None);
    // A wrong output: the honest proof, another output.
    let mut outs = mlp.outputs(&mlp.values);
    let mut o = outs[0].as_i64().unwrap().to_vec();
    o[0] += 1;
    outs[0] = Tensor::from_i64(outs[0].shape(), o).unwrap();
    mlp.store("wrong_output", &mlp.values, Some(Statement::of(&mlp.inputs(&mlp.values), &outs)));
    // An intermediate value altered, everything after it consistent.
    let mid = mlp.graph.len() / 2;
    mlp.store("altered_intermediate", &mlp.lying(mid, &|v| v[0] += 1), None);
    // A weight altered after compile, proven against the original key.
    let (wid, _) = mlp
        .graph
        .nodes()
        .find(|(_, n)| matches!(&n.op, Op::Const(k) if k.fact.len() > zkml_protocol::vk::INLINE_MAX))
        .unwrap();
    mlp.store("altered_weight", &mlp.lying(wid, &|v| v[5] += 1), None);
    // A wrong table lookup: a ReLU or table output off by one.
    let (lid, _) = mlp.graph.nodes().find(|(_, n)| matches!(&n.op, Op::Lookup(_))).unwrap();
    mlp.store("wrong_lookup", &mlp.lying(lid, &|v| v[0] += 1), None);
    // The exact constructions: the node a cheating prover lies at.
    let bool_lookup = |m: &Model| {
        let boolean = zkml_ir::QType::new(2, 1.0);
        let is = |n: &zkml_ir::Node| matches!(&n.op, Op::Lookup(l) if l.quant.is_some_and(|q| q.table.out == boolean));
        m.graph.nodes().find(|(_, n)| is(n)).map(|(id, _)| id).unwrap()
    };
    let relu = |m: &Model| {
        let is = |n: &zkml_ir::Node| matches!(&n.op, Op::Lookup(l) if l.func == zkml_ir::ops::lookup::LookupFn::Relu);
        m.graph.nodes().find(|(_, n)| is(n)).map(|(id, _)| id).unwrap()
    };
    let output = |m: &Model| m.graph.outputs()[0].node;
    let before_output = |m: &Model| {
        let out = m.graph.outputs()[0];
        m.graph.node(out.node).inputs.first().map_or(out.node, |v| v.node)
    };
    type Pick<'a> = &'a dyn Fn(&Model) -> usize;
    type Lie<'a> = &'a dyn Fn(&mut Vec<i64>);
    let cases: [(&str, &str, Pick<'_>, Lie<'_>); 7] = [
        ("flipped_comparison_bit", "ops/Less.onnx", &bool_lookup, &|v| v[0] = i64::from(v[0] == 0)),
        ("wrong_argmax_index", "ops/ArgMax.onnx", &before_output, &|v| v[0] = (v[0] + 1) % 8),
        ("wrong_top_k_order", "ops/TopK.onnx", &output, &|v| v.swap(0, 1)),
        ("wrong_gathered_element", "ops/GatherElements.onnx", &|m| m.node(".hit.sign"), &|v| {
            v[1] = i64::from(v[1] == 0)
        }),
        ("wrong_scatter_target", "ops/ScatterElements.onnx", &|m| m.node(".moved"), &|v| v.swap(0, 8)),
        ("wrong_quantized_integer", "ops/QLinearMatMul.onnx", &|m| m.node(".round"), &|v| v[0] += 1),
        ("wrong_maximum", "ops/Max.onnx", &relu, &|v| v[0] += 1),
    ];
    for (name, fixture, pick, alter) in cases {
        let m = Model::new(fixture);
        m.store(&format!("honest_{name}"), &m.values, None);
        m.store(name, &m.lying(pick(&m), alter), None);
    }
}

#[test]
fn malicious_proofs_are_rejected_and_honest_ones_accepted() {
    if std::env::var_os("UPDATE_CORPUS").is_some() {
        generate();
    }
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("the corpus exists (UPDATE_CORPUS=1 writes it)")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".proof").map(String::from))
        .collect();
    names.sort();
    assert!(names.len() >= 19, "corpus has {} proofs", names.len());
    for name in names {
        let read = |ext: &str| std::fs::read(dir().join(format!("{name}.{ext}"))).unwrap();
        let vk = zkml_protocol::VerifyingKey::from_bytes(&read("vk")).unwrap();
        let st: Statement = serde_json::from_slice(&read("statement.json")).unwrap();
        let (ins, outs) = (Statement::tensors(&st.inputs), Statement::tensors(&st.outputs));
        let proof = zkml_protocol::Proof::from_file_for(&read("proof"), &vk.digest().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let verdict = zkml_protocol::verify(&vk, &ins, &outs, &proof);
        if name.starts_with("honest") {
            verdict.unwrap_or_else(|e| {
                panic!("{name}: the honest proof fails ({e}): regenerate the corpus with UPDATE_CORPUS=1")
            });
        } else {
            assert!(verdict.is_err(), "{name}: a cheating proof was accepted");
        }
    }
}
