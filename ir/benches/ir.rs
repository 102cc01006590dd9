//! Criterion benches of the IR: reference evaluation and plan encode/decode.
use criterion::{Criterion, criterion_group, criterion_main};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::source::Input;
use zkml_ir::{Fact, Graph, Plan, Tensor, ValueId};

/// A 3-layer MLP of width `w` (about 3·w² weights).
fn mlp(w: usize) -> Graph {
    let mut g = Graph::new();
    let mut x =
        ValueId::new(g.add_node("x", Input { index: 0, fact: Fact::f32([1, w]) }, &[]).expect("input"), 0);
    for l in 0..3 {
        let wt = Tensor::from_f32([w, w], (0..w * w).map(|i| ((i % 17) as f32 - 8.0) / 64.0).collect())
            .expect("w");
        let wv = g.add_const(format!("w{l}"), wt).expect("const");
        let y = g.add_node(format!("mm{l}"), Einsum::new("mk,kn->mn").expect("eq"), &[x, wv]).expect("mm");
        let zero = g.add_const(format!("z{l}"), Tensor::scalar_f32(0.0)).expect("zero");
        x = ValueId::new(
            g.add_node(format!("relu{l}"), Binary { op: BinaryOp::Max }, &[ValueId::new(y, 0), zero])
                .expect("relu"),
            0,
        );
    }
    g.set_outputs(vec![x]);
    g
}

fn benches(c: &mut Criterion) {
    let g = mlp(512);
    let input = vec![Tensor::from_f32([1, 512], vec![0.5; 512]).expect("input")];
    c.bench_function("eval_mlp_512x3", |b| b.iter(|| g.eval(&input).expect("eval")));
    let plan = Plan::new(g);
    c.bench_function("plan_encode_786k_weights", |b| b.iter(|| plan.to_bytes().expect("encode")));
    let bytes = plan.to_bytes().expect("encode");
    c.bench_function("plan_decode_786k_weights", |b| b.iter(|| Plan::from_bytes(&bytes).expect("decode")));
}

criterion_group!(ir, benches);
criterion_main!(ir);
