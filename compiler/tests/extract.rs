//! Extraction on deep graphs with shared subterms.
//!
//! A residual stack `x ← x + tanh(x) + x` reads each `x` three times: a
//! tree cost triples per block, and 80 blocks deep it exceeds f64's
//! resolution by far, so tree extraction can no longer tell the unprovable
//! `tanh` from its lookup. The DAG-aware extractor counts each node once and
//! must rewrite every block.

#![allow(clippy::unwrap_used)]

use zkml_compiler::rewrite::{RewriteOptions, graph_cost, non_core, rewrite};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::source::Input;
use zkml_ir::ops::unary::{Unary, UnaryOp};
use zkml_ir::{Fact, Graph, Op, Tensor, ValueId};

fn residual_stack(blocks: usize) -> Graph {
    let mut g = Graph::new();
    let mut x = ValueId::new(g.add_node("x", Input { index: 0, fact: Fact::f32([1, 8]) }, &[]).unwrap(), 0);
    let add = Binary { op: BinaryOp::Add };
    for i in 0..blocks {
        let t = ValueId::new(
            g.add_node(
                format!("tanh{i}"),
                Unary { op: UnaryOp::Fn(zkml_ir::ops::lookup::LookupFn::Tanh) },
                &[x],
            )
            .unwrap(),
            0,
        );
        let s = ValueId::new(g.add_node(format!("res{i}"), add.clone(), &[x, t]).unwrap(), 0);
        x = ValueId::new(g.add_node(format!("res{i}b"), add.clone(), &[s, x]).unwrap(), 0);
    }
    g.set_outputs(vec![x]);
    g
}

#[test]
fn deep_residual_stacks_are_fully_rewritten() {
    let g = residual_stack(80);
    let (rw, report) = rewrite(&g, &RewriteOptions::default()).unwrap();
    assert!(non_core(&rw).is_empty(), "left {:?}", non_core(&rw).first());
    let lookups = rw.nodes().filter(|(_, n)| matches!(n.op, Op::Lookup(_))).count();
    assert_eq!(lookups, 80);
    assert!(report.cost_after < 1e6, "cost {}", report.cost_after);
    assert_eq!(graph_cost(&rw), report.cost_after);
    // And the values are unchanged (x small enough that nothing overflows).
    let x = Tensor::from_f32([1, 8], (0..8).map(|i| i as f32 * 1e-30).collect()).unwrap();
    let (a, b) = (g.eval(std::slice::from_ref(&x)).unwrap(), rw.eval(&[x]).unwrap());
    assert_eq!(a[0].as_f32().unwrap(), b[0].as_f32().unwrap());
}
