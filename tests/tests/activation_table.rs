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

/// Where the function is sampled: its calibrated input range.
fn range(f: LookupFn) -> (f32, f32) {
    if f.domain_kind() == DomainKind::Log {
        return (0.02, 8.0);
    }
    match f.name() {
        "asin" | "acos" | "atanh" => (-0.95, 0.95),
        "acosh" => (1.05, 5.0),
        "tan" => (-1.3, 1.3),
        _ => (-4.0, 4.0),
    }
}

/// `N` inputs spanning the function's range, shifted by `t`.
fn sample(f: LookupFn, t: f32) -> Tensor {
    let (lo, hi) = range(f);
    let v = (0..N)
        .map(|i| {
            let u = (i as f32 + t) / N as f32; // in [0, 1)
            match f.domain_kind() {
                DomainKind::Linear => lo + (hi - lo) * u,
                DomainKind::Log => lo * (hi / lo).powf(u), // geometric
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
        // dequantized inputs, within 1% of the outputs' largest magnitude.
        let (DType::Q(qi), DType::Q(qo)) = (q.input_facts()[0].dtype, q.fact(out).unwrap().dtype) else {
            panic!("{}: quantized graph has unquantized ends", f.name())
        };
        let xs: Vec<f64> = inputs[0].as_i64().unwrap().iter().map(|&v| v as f64 * qi.scale as f64).collect();
        let want: Vec<f64> = xs.iter().map(|&v| f.apply_f64(v)).collect();
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        // A step (sign, floor, a threshold) may fall on either side of an
        // input within a grid step of it: the function is also read at
        // x ± d.
        let d = 1e-3 * f64::from(range(f).1 - range(f).0);
        for ((&got, &w), &xv) in y.as_i64().unwrap().iter().zip(&want).zip(&xs) {
            let got = got as f64 * qo.scale as f64;
            let err = [w, f.apply_f64(xv - d), f.apply_f64(xv + d)]
                .iter()
                .map(|v| (got - v).abs())
                .fold(f64::INFINITY, f64::min);
            assert!(err <= 0.01 * scale, "{}({xv}) = {got}, want {w}", f.name());
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
