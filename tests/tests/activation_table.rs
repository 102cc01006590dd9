//! Every entry of the activation table compiles, proves, verifies and
//! rejects a wrong output, and its quantized values follow the real
//! function: adding an activation to the table is covered here without
//! touching this file.
//!
//! The accuracy oracle is the table's f64 formula, which
//! `ir/tests/activations.rs` checks against independent definitions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::pipeline;
use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_ir::ops::activation::DomainKind;
use zkml_ir::ops::lookup::LookupFn;
use zkml_ir::ops::source::Input;
use zkml_ir::ops::unary::{Unary, UnaryOp};
use zkml_ir::{DType, Fact, Graph, Op, Tensor, ValueId};
use zkml_runtime::Executor;

const N: usize = 64;

/// `N` inputs spanning the function's calibrated range, shifted by `t`.
fn sample(f: LookupFn, t: f32) -> Tensor {
    let v = (0..N)
        .map(|i| {
            let u = (i as f32 + t) / N as f32; // in [0, 1)
            match f.domain_kind() {
                DomainKind::Linear => -4.0 + 8.0 * u,
                DomainKind::Log => 0.02 * 400f32.powf(u), // 0.02 … 8, geometric
            }
        })
        .collect();
    Tensor::from_f32([1, N], v).unwrap()
}

fn graph(f: LookupFn) -> Graph {
    let mut g = Graph::new();
    let x = g.add_node("x", Input { index: 0, fact: Fact::new(DType::F32, vec![1, N]) }, &[]).unwrap();
    let y = g.add_node(f.name(), Unary { op: UnaryOp::Fn(f) }, &[ValueId::new(x, 0)]).unwrap();
    g.set_outputs(vec![ValueId::new(y, 0)]);
    g
}

#[test]
fn every_activation_proves_and_follows_its_function() {
    for &f in LookupFn::ACTIVATIONS {
        let g = graph(f);
        let samples: Vec<Vec<Tensor>> = (0..4).map(|k| vec![sample(f, k as f32 / 4.0)]).collect();
        let compiled = pipeline::compile(&g, &samples, &QuantOptions::default(), &RewriteOptions::default())
            .unwrap_or_else(|e| panic!("{}: does not compile: {e}", f.name()));
        let q = compiled.quantized.graph;
        assert!(
            q.nodes().any(|(_, n)| matches!(&n.op, Op::Lookup(l) if l.func == f)),
            "{}: no lookup of the function in the quantized graph",
            f.name()
        );
        let x = sample(f, 0.37);
        let inputs = quantize_inputs(&q, std::slice::from_ref(&x));
        let values = Executor::new(&q).run_all(&inputs).unwrap();
        let out = q.outputs()[0];
        let y = &values[out.node][out.slot];

        // Accuracy: dequantized outputs against the real function of the
        // dequantized inputs, within 1% of the output range.
        let (DType::Q(qi), DType::Q(qo)) = (q.input_facts()[0].dtype, q.fact(out).unwrap().dtype) else {
            panic!("{}: quantized graph has unquantized ends", f.name())
        };
        let xs: Vec<f64> = inputs[0].as_i64().unwrap().iter().map(|&v| v as f64 * qi.scale as f64).collect();
        let want: Vec<f64> = xs.iter().map(|&v| f.apply_f64(v)).collect();
        let range = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        for ((&got, &w), &xv) in y.as_i64().unwrap().iter().zip(&want).zip(&xs) {
            let got = got as f64 * qo.scale as f64;
            assert!((got - w).abs() <= 0.01 * range, "{}({xv}) = {got}, want {w}", f.name());
        }

        // Proof: verifies, and a wrong output is rejected.
        let pk = zkml_protocol::setup(&q, "test").unwrap();
        let (proof, _) = zkml_protocol::prove(&pk, &values).unwrap();
        let ins = vec![inputs[0].clone()];
        let outs = vec![y.clone()];
        zkml_protocol::verify(&pk.vk, &ins, &outs, &proof)
            .unwrap_or_else(|e| panic!("{}: honest proof rejected: {e}", f.name()));
        let mut wrong = y.as_i64().unwrap().to_vec();
        wrong[N / 2] += 1;
        let wrong = vec![Tensor::from_i64(y.shape(), wrong).unwrap()];
        assert!(
            zkml_protocol::verify(&pk.vk, &ins, &wrong, &proof).is_err(),
            "{}: wrong output accepted",
            f.name()
        );
    }
}
