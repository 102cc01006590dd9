//! End-to-end proofs: every provable fixture is compiled, executed, proven
//! and verified; malicious provers are rejected.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::report::quantize_inputs;
use zkml_ir::{Graph, Tensor};
use zkml_protocol::{ProvingKey, setup};
use zkml_runtime::Executor;
use zkml_tests::random_inputs;

fn quantized(name: &str) -> Graph {
    zkml_tests::quantized_fixture(name)
}

struct Case {
    graph: Graph,
    pk: ProvingKey,
    values: Vec<Vec<Tensor>>,
}

impl Case {
    fn new(name: &str, seed: u64) -> Case {
        let graph = quantized(name);
        let pk = setup(&graph, "test").unwrap();
        let facts = graph.input_facts();
        let inputs = quantize_inputs(&graph, &random_inputs(&facts, seed, 50));
        let values = Executor::new(&graph).run_all(&inputs).unwrap();
        Case { graph, pk, values }
    }
    fn inputs(&self) -> Vec<Tensor> {
        self.graph.inputs().iter().map(|&i| self.values[i][0].clone()).collect()
    }
    fn outputs(&self) -> Vec<Tensor> {
        self.graph.outputs().iter().map(|v| self.values[v.node][v.slot].clone()).collect()
    }
}

fn prove_and_verify(name: &str) {
    let c = Case::new(name, 7);
    let (proof, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    let bytes = proof.to_bytes().unwrap();
    let proof = zkml_protocol::Proof::from_bytes(&bytes).unwrap();
    zkml_protocol::verify(&c.pk.vk, &c.inputs(), &c.outputs(), &proof).unwrap();
    // A wrong output is rejected.
    let mut outs = c.outputs();
    let mut o = outs[0].as_i64().unwrap().to_vec();
    o[0] += 1;
    outs[0] = Tensor::from_i64(outs[0].shape(), o).unwrap();
    assert!(
        zkml_protocol::verify(&c.pk.vk, &c.inputs(), &outs, &proof).is_err(),
        "{name}: wrong output accepted"
    );
}

/// The proving key read back from stored prover data (what `zkrt` maps
/// from `plan.bin`) is the same key: same digest, same proof bytes.
#[test]
fn stored_prover_data_gives_the_same_key_and_proof() {
    let c = Case::new("cnn.onnx", 3);
    let bytes = zkml_ir::plan::ProverSection::owned(c.pk.prover_bytes());
    let stored =
        zkml_protocol::setup_stored(&c.graph, &zkml_ir::Partitioning::single(&c.graph), "test", &bytes)
            .unwrap();
    assert_eq!(stored.digest, c.pk.digest);
    let (p1, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    let (p2, _) = zkml_protocol::prove(&stored, &c.values).unwrap();
    assert_eq!(p1.to_bytes().unwrap(), p2.to_bytes().unwrap());
    // Prover data of another model does not fit.
    let other = Case::new("mlp.onnx", 3);
    let wrong = zkml_ir::plan::ProverSection::owned(other.pk.prover_bytes());
    assert!(
        zkml_protocol::setup_stored(&c.graph, &zkml_ir::Partitioning::single(&c.graph), "test", &wrong)
            .is_err()
    );
}

#[test]
fn mlp_proves() {
    prove_and_verify("mlp.onnx");
}

#[test]
fn cnn_proves() {
    prove_and_verify("cnn.onnx");
}

#[test]
fn lenet_proves() {
    prove_and_verify("lenet_mnist.onnx");
}

use zkml_tests::run_altered as run_tampered;

/// Proves the (possibly dishonest) witness; the verifier, given the public
/// input and the witness's output, must reject. Returns whether a proof was
/// produced at all (a prover may also refuse an inconsistent witness).
fn assert_rejected(c: &Case, values: &[Vec<Tensor>], tamper: zkml_protocol::Tamper<'_>, what: &str) -> bool {
    let outputs: Vec<Tensor> = c.graph.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
    let Ok((proof, _)) = zkml_protocol::prove_with(&c.pk, values, tamper) else { return false };
    let verdict = zkml_protocol::verify(&c.pk.vk, &c.inputs(), &outputs, &proof);
    assert!(verdict.is_err(), "{what}: a dishonest proof was accepted");
    true
}

#[test]
fn rejects_a_wrong_value_at_any_node() {
    for name in [
        "mlp.onnx",
        "lenet_mnist.onnx",
        "cnn.onnx",
        "gpt2.onnx",
        "llama.onnx",
        // Comparison steps, ReLU-of-difference max, gathers by constant
        // indices, activations with parameters.
        "ops/Less.onnx",
        "ops/Max.onnx",
        "ops/Gather.onnx",
        "ops/LeakyRelu.onnx",
        "ops/ArgMax.onnx",
        "ops/TopK.onnx",
    ] {
        let c = Case::new(name, 11);
        let mut kinds_seen = std::collections::BTreeSet::new();
        let mut produced = 0;
        for (id, node) in c.graph.nodes() {
            if matches!(node.op, zkml_ir::Op::Input(_) | zkml_ir::Op::Const(_)) {
                continue;
            }
            // First node of each op kind, and every node of the smallest model.
            let kind = node.op.def().name();
            if !kinds_seen.insert(kind) && name != "mlp.onnx" {
                continue;
            }
            let values = run_tampered(&c.graph, &c.inputs(), id, &|v| v[0] += 1);
            let what = format!("{name}: node {id} ({kind}) output +1");
            produced += usize::from(assert_rejected(&c, &values, &|_, _| {}, &what));
        }
        assert!(produced >= kinds_seen.len() / 2, "{name}: the prover refused most dishonest witnesses");
    }
}

/// The first node of `c` that is a lookup into the boolean domain (the
/// exact comparison's step or sign: integers `{-1, 0, 1}` of scale 1).
fn boolean_lookup(c: &Case) -> usize {
    let boolean = zkml_ir::QType::new(2, 1.0);
    c.graph
        .nodes()
        .find(|(_, n)| matches!(&n.op, zkml_ir::Op::Lookup(l) if l.quant.is_some_and(|q| q.table.out == boolean)))
        .map(|(id, _)| id)
        .expect("a computed comparison compiles to a boolean-domain lookup")
}

/// A computed comparison is exact: a prover that flips one comparison bit
/// (a step `[a − b > 0]`, or the sign of `a − b` behind `=`) and computes
/// the rest consistently is rejected.
#[test]
fn rejects_a_flipped_comparison_bit() {
    for name in ["ops/Less.onnx", "ops/Greater.onnx", "ops/Equal.onnx"] {
        let c = Case::new(name, 5);
        let id = boolean_lookup(&c);
        // Step: 0 ↔ 1; sign: ±1 → 0, 0 → 1.
        let values = run_tampered(&c.graph, &c.inputs(), id, &|v| v[0] = i64::from(v[0] == 0));
        assert!(
            assert_rejected(&c, &values, &|_, _| {}, &format!("{name}: flipped comparison bit")),
            "{name}: the prover refused to prove"
        );
    }
}

/// An argmax is two proven max reductions around an exact step: a prover
/// that reports another index (and computes on from it) is rejected.
#[test]
fn rejects_a_wrong_argmax_index() {
    let c = Case::new("ops/ArgMax.onnx", 5);
    let out = c.graph.outputs()[0];
    // The output is the index (a copy of the last arithmetic node): tamper
    // with the node that computes it.
    let id = c.graph.node(out.node).inputs.first().map_or(out.node, |v| v.node);
    let values = run_tampered(&c.graph, &c.inputs(), id, &|v| v[0] = (v[0] + 1) % 8);
    assert!(assert_rejected(&c, &values, &|_, _| {}, "wrong argmax index"), "the prover refused to prove");
}

/// TopK's values come in proven order: a prover that reports the top
/// values in another order (or another value) is rejected.
#[test]
fn rejects_a_wrong_top_k_order() {
    let c = Case::new("ops/TopK.onnx", 5);
    let out = c.graph.outputs()[0];
    let values = run_tampered(&c.graph, &c.inputs(), out.node, &|v| v.swap(0, 1));
    let same = values[out.node][0].as_i64().unwrap()[..2].windows(2).all(|w| w[0] == w[1]);
    assert!(!same, "the first two top values are equal: pick another seed");
    assert!(assert_rejected(&c, &values, &|_, _| {}, "top values swapped"), "the prover refused to prove");
}

/// The last node of `c` whose name contains `part`.
fn node_named(c: &Case, part: &str) -> usize {
    c.graph
        .nodes()
        .filter(|(_, n)| n.name.contains(part))
        .last()
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no node named *{part}*"))
}

/// A gather by computed indices selects through a one-hot of exact
/// comparisons: a prover that selects another element (flips a bit of the
/// one-hot) and computes on from it is rejected.
#[test]
fn rejects_a_wrong_gathered_element() {
    let c = Case::new("ops/GatherElements.onnx", 5);
    let id = node_named(&c, ".hit.sign");
    let values = run_tampered(&c.graph, &c.inputs(), id, &|v| v[1] = if v[1] == 0 { 1 } else { 0 });
    assert!(
        assert_rejected(&c, &values, &|_, _| {}, "wrong gathered element"),
        "the prover refused to prove"
    );
}

/// A scatter by constant indices is data movement the plan fixes: a prover
/// that writes an update to another target is rejected.
#[test]
fn rejects_a_wrong_scatter_target() {
    let c = Case::new("ops/ScatterElements.onnx", 5);
    let id = node_named(&c, ".moved");
    let moved = c.values[id][0].as_i64().unwrap().to_vec();
    // Row 0 of column 0 and the row below it hold different values: swap them.
    let (p, q) = (0, 8);
    assert_ne!(moved[p], moved[q], "pick another seed");
    let values = run_tampered(&c.graph, &c.inputs(), id, &|v| v.swap(p, q));
    assert!(assert_rejected(&c, &values, &|_, _| {}, "wrong scatter target"), "the prover refused to prove");
}

/// `QLinearMatMul`'s requantization to `uint8` is one range-checked
/// rounding: a prover that rounds to another integer is rejected.
#[test]
fn rejects_a_wrong_quantized_integer() {
    let c = Case::new("ops/QLinearMatMul.onnx", 5);
    let id = node_named(&c, ".round");
    let values = run_tampered(&c.graph, &c.inputs(), id, &|v| v[0] += 1);
    assert!(
        assert_rejected(&c, &values, &|_, _| {}, "wrong quantized integer"),
        "the prover refused to prove"
    );
}

/// `max(a, b) = b + relu(a − b)` with an exact ReLU: a wrong ReLU output
/// (a wrong maximum) is rejected.
#[test]
fn rejects_a_wrong_maximum() {
    for name in ["ops/Max.onnx", "ops/Min.onnx"] {
        let c = Case::new(name, 5);
        let (id, _) = c
            .graph
            .nodes()
            .find(|(_, n)| matches!(&n.op, zkml_ir::Op::Lookup(l) if l.func == zkml_ir::ops::lookup::LookupFn::Relu))
            .expect("max and min compile to an exact ReLU of the difference");
        let values = run_tampered(&c.graph, &c.inputs(), id, &|v| v[0] += 1);
        assert!(
            assert_rejected(&c, &values, &|_, _| {}, &format!("{name}: wrong maximum")),
            "{name}: the prover refused to prove"
        );
    }
}

#[test]
fn rejects_altered_weights() {
    let c = Case::new("mlp.onnx", 3);
    // plan.bin altered after compile: one weight changed.
    let (wid, _) = c
        .graph
        .nodes()
        .find(|(_, n)| matches!(&n.op, zkml_ir::Op::Const(k) if k.fact.len() > zkml_protocol::vk::INLINE_MAX))
        .unwrap();
    let values = run_tampered(&c.graph, &c.inputs(), wid, &|v| v[5] += 1);
    // Proven with the original key (its committed weights)...
    assert!(assert_rejected(&c, &values, &|_, _| {}, "altered weight, original key"));
    // ...or with a key made from the altered plan: another model.
    let mut g2 = c.graph.clone();
    let zkml_ir::Op::Const(k) = &c.graph.node(wid).op else { unreachable!() };
    let mut w = k.value.as_i64().unwrap().to_vec();
    w[5] += 1;
    let t = Tensor::from_i64(k.value.shape(), w).unwrap();
    g2.replace_const(wid, t).unwrap();
    let pk2 = setup(&g2, "test").unwrap();
    let (proof, _) = zkml_protocol::prove(&pk2, &values).unwrap();
    let outputs: Vec<Tensor> = c.graph.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
    zkml_protocol::verify(&pk2.vk, &c.inputs(), &outputs, &proof).unwrap();
    assert!(
        zkml_protocol::verify(&c.pk.vk, &c.inputs(), &outputs, &proof).is_err(),
        "proof for another model accepted"
    );
}

#[test]
fn rejects_dishonest_lookup_columns() {
    use p3_field::PrimeCharacteristicRing;
    use zkml_proof::F;
    use zkml_protocol::columns::{ColumnPlan, NodeCols};
    // The GPT-2 block has every kind: tables (GELU, exp), plain
    // requantizations and a max (softmax).
    let c = Case::new("gpt2.onnx", 5);
    let values = c.values.clone();
    type Hook = Box<dyn Fn(&ColumnPlan, &mut [Vec<F>]) + Sync>;
    let first = |f: fn(&NodeCols) -> bool| -> NodeCols {
        let plan = zkml_protocol::columns::ColumnPlan::new(&c.pk.vk, 0, &[]).unwrap();
        plan.nodes.values().find(|n| f(n)).expect("the model has this kind of lookup").clone()
    };
    let table = first(|n| matches!(n, NodeCols::Table { .. }));
    let range = first(|n| matches!(n, NodeCols::Range { .. }));
    let max = first(|n| matches!(n, NodeCols::Max { .. }));
    let NodeCols::Table { y, z, rem, .. } = table.clone() else { unreachable!() };
    let NodeCols::Range { lo, hi, .. } = range else { unreachable!() };
    let NodeCols::Max { out, diff } = max else { unreachable!() };
    let cases: Vec<(&str, Hook)> = vec![
        ("table output off by one", Box::new(move |_, cols| cols[z][0] += F::ONE)),
        ("table index off by one", Box::new(move |_, cols| cols[y][0] += F::ONE)),
        (
            "index off by one, remainder compensated (leaves its range)",
            Box::new(move |plan, cols| {
                cols[y][0] += F::ONE;
                cols[rem.cols[0]][0] -= F::from_u64(1 << plan.chunk);
            }),
        ),
        ("requantized value off by one", Box::new(move |_, cols| cols[lo.cols[0]][0] += F::ONE)),
        ("requantization upper bound", Box::new(move |_, cols| cols[hi.cols[0]][0] += F::ONE)),
        ("max raised", Box::new(move |_, cols| cols[out][0] += F::ONE)),
        ("max difference", Box::new(move |_, cols| cols[diff.cols[0]][1] += F::ONE)),
        (
            "multiplicity",
            Box::new(move |plan, cols| {
                let m = plan.tables[0].mult;
                cols[m][0] += F::ONE;
            }),
        ),
    ];
    for (what, hook) in cases {
        assert!(assert_rejected(&c, &values, &*hook, what), "{what}: no proof produced");
    }
    // A table output's padding entry (the layout's power-of-two rounding
    // leaves entries no value fills): Llama's SiLU is 48 wide.
    let c = Case::new("llama.onnx", 5);
    let padding = |plan: &ColumnPlan, cols: &mut [Vec<F>]| {
        let padded = plan.nodes.values().find_map(|n| match n {
            NodeCols::Table { z, .. } => {
                let l = &plan.layouts[*z];
                (0..l.padded_len()).find(|p| !l.real_mask()[*p]).map(|p| (*z, p))
            }
            _ => None,
        });
        let (z, pad) = padded.expect("a table output with padding");
        cols[z][pad] = F::ONE;
    };
    assert!(assert_rejected(&c, &c.values, &padding, "padding entry"), "padding entry: no proof produced");
}

/// ReLU is proven without a table (`y = pos − neg`, both range-checked,
/// `pos·neg = 0` by a zerocheck): a prover that commits anything but
/// `max(y, 0)` is caught, whether it lies in the columns alone or in the
/// ReLU's output value too (then everything downstream follows the lie).
#[test]
fn rejects_dishonest_relu() {
    use p3_field::PrimeCharacteristicRing;
    use zkml_proof::F;
    use zkml_protocol::columns::{ColumnPlan, NodeCols};
    let c = Case::new("lenet_mnist.onnx", 5);
    let plan = ColumnPlan::new(&c.pk.vk, 0, &[]).unwrap();
    let (&id, relu) = plan.nodes.iter().find(|(_, n)| matches!(n, NodeCols::Relu { .. })).expect("a ReLU");
    assert!(plan.tables.is_empty(), "LeNet's ReLUs should need no table");
    let NodeCols::Relu { pos, neg, .. } = relu.clone() else { unreachable!() };
    // Entries where the ReLU's input is positive and negative.
    let z = c.values[id][0].as_i64().unwrap().to_vec();
    let up = z.iter().position(|&v| v > 0).expect("a positive entry");
    let x = c.graph.node(id).inputs[0];
    let down = (0..z.len()).find(|&i| z[i] == 0 && c.values[x.node][x.slot].as_i64().unwrap()[i] < 0);
    let down = down.expect("a negative entry");
    type Hook = Box<dyn Fn(&ColumnPlan, &mut [Vec<F>]) + Sync>;
    let (p0, n0) = (pos.cols[0], neg.cols[0]);
    let cases: Vec<(&str, Hook)> = vec![
        ("output chunk raised", Box::new(move |_, cols| cols[p0][up] += F::ONE)),
        ("negative part raised", Box::new(move |_, cols| cols[n0][down] += F::ONE)),
        (
            "both parts raised (same y, output off by one)",
            Box::new(move |_, cols| {
                cols[p0][up] += F::ONE;
                cols[n0][up] += F::ONE;
            }),
        ),
    ];
    for (what, hook) in cases {
        assert!(assert_rejected(&c, &c.values, &*hook, what), "{what}: no proof produced");
    }
    // Lies in the value itself, propagated downstream: the columns follow
    // the lie, so only the zerocheck or a range check can catch it.
    type Lie = Box<dyn Fn(&mut Vec<i64>)>;
    let lies: Vec<(&str, Lie)> = vec![
        ("positive output +1", Box::new(move |v| v[up] += 1)),
        ("negative input gives 1", Box::new(move |v| v[down] = 1)),
        ("negative input passed through", Box::new(move |v| v[down] = -3)),
    ];
    for (what, lie) in lies {
        let values = run_tampered(&c.graph, &c.inputs(), id, &*lie);
        assert!(assert_rejected(&c, &values, &|_, _| {}, what), "{what}: no proof produced");
    }
}

/// A malicious columns hook: the first value of `lo` (two chunks or more)
/// whose high chunk is nonzero keeps its value with the low chunk raised by
/// `2^chunk` and the high one lowered by one (a chunk out of its range).
fn carry_hook(
    lo: &zkml_protocol::columns::Chunks,
    chunk: u32,
) -> impl Fn(&zkml_protocol::columns::ColumnPlan, &mut [Vec<zkml_proof::F>]) + Sync + use<> {
    use p3_field::PrimeCharacteristicRing;
    use zkml_proof::F;
    let (c0, c1) = (lo.cols[0], lo.cols[1]);
    move |_, cols| {
        let i = cols[c1].iter().position(|v| *v != F::ZERO).expect("a nonzero high chunk");
        cols[c0][i] += F::from_u64(1 << chunk);
        cols[c1][i] -= F::ONE;
    }
}

/// The range-check chunk width follows the model's size (8-bit chunks for
/// the small MLP, wider for a transformer block); at each width a value
/// whose chunks carry (the same combined value, one chunk ≥ 2^c) is
/// rejected by the range argument.
#[test]
fn chunk_width_adapts_and_chunks_cannot_carry() {
    use zkml_protocol::columns::{ColumnPlan, NodeCols};
    let mut widths = vec![];
    for name in ["mlp.onnx", "gpt2.onnx"] {
        let c = Case::new(name, 3);
        let plan = ColumnPlan::new(&c.pk.vk, 0, &[]).unwrap();
        widths.push(plan.chunk);
        let lo = plan
            .nodes
            .values()
            .find_map(|n| match n {
                NodeCols::Range { lo, .. } if lo.cols.len() >= 2 => Some(lo.clone()),
                _ => None,
            })
            .expect("a requantization with two chunks");
        let (carry, width) = (carry_hook(&lo, plan.chunk), plan.chunk);
        let what = format!("{name}: chunk carried at width {width}");
        assert!(assert_rejected(&c, &c.values, &carry, &what), "{what}: no proof produced");
    }
    assert!(widths[0] < widths[1], "chunk widths {widths:?}: the small model should use narrower chunks");
}

/// Range checks are split into buckets, each its own logUp argument with
/// its own multiplicity column (what keeps a large model's range argument
/// in memory). With tiny buckets the Llama block has many: the proof
/// verifies, a proof made under the one-bucket key does not, and chunks
/// that carry or a bucket's altered multiplicities are rejected.
#[test]
fn range_buckets_prove_and_reject_cheats() {
    use p3_field::PrimeCharacteristicRing;
    use zkml_proof::F;
    use zkml_protocol::columns::{ColumnPlan, NodeCols};
    let mut c = Case::new("llama.onnx", 5);
    let (one_bucket, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    assert_eq!(ColumnPlan::new(&c.pk.vk, 0, &[]).unwrap().range_buckets.len(), 1);
    c.pk = c.pk.with_range_buckets(10).unwrap();
    let plan = ColumnPlan::new(&c.pk.vk, 0, &[]).unwrap();
    assert!(plan.range_buckets.len() >= 4, "{} buckets", plan.range_buckets.len());
    // Every range entry is in exactly one bucket, and a bucket fits.
    let mut seen: Vec<usize> = plan.range_buckets.iter().flat_map(|b| b.entries.clone()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..plan.range.len()).collect::<Vec<_>>());
    let biggest = plan.range.iter().map(|e| plan.layouts[e.col].padded_len()).max().unwrap();
    assert!(plan.range_buckets.iter().all(|b| b.packing.len() <= biggest.max(1 << 10)));

    let (proof, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    zkml_protocol::verify(&c.pk.vk, &c.inputs(), &c.outputs(), &proof).unwrap();
    assert!(
        zkml_protocol::verify(&c.pk.vk, &c.inputs(), &c.outputs(), &one_bucket).is_err(),
        "a proof of another bucket split was accepted"
    );

    // A two-chunk value in the last bucket whose chunks carry (same value,
    // low chunk ≥ 2^c).
    let last = plan.range_buckets.last().unwrap();
    let cols_of_last: Vec<usize> = last.entries.iter().map(|&i| plan.range[i].col).collect();
    let lo = plan
        .nodes
        .values()
        .find_map(|n| match n {
            NodeCols::Range { lo, .. } | NodeCols::Relu { pos: lo, .. }
                if lo.cols.len() >= 2 && cols_of_last.contains(&lo.cols[0]) =>
            {
                Some(lo.clone())
            }
            _ => None,
        })
        .or_else(|| {
            plan.nodes.values().find_map(|n| match n {
                NodeCols::Range { lo, .. } if lo.cols.len() >= 2 => Some(lo.clone()),
                _ => None,
            })
        })
        .expect("a requantization with two chunks");
    let carry = carry_hook(&lo, plan.chunk);
    assert!(assert_rejected(&c, &c.values, &carry, "bucketed chunk carried"), "carry: no proof produced");
    // Multiplicities moved from one bucket to another (their total is
    // unchanged, each bucket's is wrong).
    let (m0, m1) = (plan.range_buckets[0].mult, plan.range_buckets[1].mult);
    let moved = move |_: &ColumnPlan, cols: &mut [Vec<F>]| {
        let r = cols[m0].iter().position(|v| *v != F::ZERO).expect("a used row");
        cols[m0][r] -= F::ONE;
        cols[m1][r] += F::ONE;
    };
    assert!(
        assert_rejected(&c, &c.values, &moved, "multiplicity moved between buckets"),
        "no proof produced"
    );
    // Keys asking for impossible buckets are refused.
    let c = Case::new("mlp.onnx", 5);
    assert!(c.pk.with_range_buckets(0).is_err());
}

/// A large witness is committed in groups of bounded size, each its own
/// commitment and opening (what bounds the opening's memory). With tiny
/// groups the Llama block has many: the proof verifies, and a lie in a
/// column of the last group, or a nonzero padding entry there, is
/// rejected.
#[test]
fn witness_groups_prove_and_reject_cheats() {
    use p3_field::PrimeCharacteristicRing;
    use zkml_proof::F;
    use zkml_protocol::columns::{ColumnPlan, NodeCols};
    let mut c = Case::new("llama.onnx", 5);
    c.pk = c.pk.with_witness_groups(12).unwrap();
    let plan = ColumnPlan::new(&c.pk.vk, 0, &[]).unwrap();
    let groups = plan.witness_groups();
    assert!(
        groups.packings.len() > zkml_protocol::packing::MAX_GROUPS + 2,
        "{} groups",
        groups.packings.len()
    );
    let (proof, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    zkml_protocol::verify(&c.pk.vk, &c.inputs(), &c.outputs(), &proof).unwrap();

    // A table lookup whose output column sits in a group after the first.
    let (z, g) = plan
        .nodes
        .values()
        .filter_map(|n| match n {
            NodeCols::Table { z, .. } => Some((*z, groups.place[*z].0)),
            _ => None,
        })
        .max_by_key(|&(_, g)| g)
        .expect("a table lookup");
    assert!(g > 0, "every table output landed in the first group");
    let lie = move |_: &ColumnPlan, cols: &mut [Vec<F>]| cols[z][0] += F::ONE;
    assert!(assert_rejected(&c, &c.values, &lie, "table output in a later group"), "no proof produced");
    let padded = (0..plan.layouts.len())
        .filter(|&i| groups.place[i].0 > 0)
        .find_map(|i| {
            let l = &plan.layouts[i];
            (0..l.padded_len()).find(|&p| !l.real_mask()[p]).map(|p| (i, p))
        })
        .expect("a padded column in a later group");
    let pad = move |_: &ColumnPlan, cols: &mut [Vec<F>]| cols[padded.0][padded.1] = F::ONE;
    assert!(assert_rejected(&c, &c.values, &pad, "padding in a later group"), "no proof produced");
    assert!(Case::new("mlp.onnx", 5).pk.with_witness_groups(41).is_err());
}

#[test]
fn rejects_other_input_output_and_key() {
    let c = Case::new("mlp.onnx", 9);
    let (proof, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    let bump = |ts: Vec<Tensor>| -> Vec<Tensor> {
        let mut v = ts[0].as_i64().unwrap().to_vec();
        let last = v.len() - 1;
        v[last] -= 1;
        vec![Tensor::from_i64(ts[0].shape(), v).unwrap()]
    };
    assert!(zkml_protocol::verify(&c.pk.vk, &bump(c.inputs()), &c.outputs(), &proof).is_err());
    assert!(zkml_protocol::verify(&c.pk.vk, &c.inputs(), &bump(c.outputs()), &proof).is_err());
    let other = Case::new("cnn.onnx", 9);
    assert!(zkml_protocol::verify(&other.pk.vk, &c.inputs(), &c.outputs(), &proof).is_err());
    // The key survives its file format; a corrupted key file is refused.
    let bytes = c.pk.vk.to_bytes().unwrap();
    let vk = zkml_protocol::VerifyingKey::from_bytes(&bytes).unwrap();
    zkml_protocol::verify(&vk, &c.inputs(), &c.outputs(), &proof).unwrap();
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 3] ^= 1;
    assert!(zkml_protocol::VerifyingKey::from_bytes(&bad).is_err());
}

#[test]
fn random_byte_flips_are_rejected_without_panics() {
    use rand::{Rng, SeedableRng};
    let c = Case::new("mlp.onnx", 13);
    let (proof, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
    let bytes = proof.to_bytes().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let (ins, outs) = (c.inputs(), c.outputs());
    let trials = 2000;
    let mut decoded = 0;
    for _ in 0..trials {
        let mut b = bytes.clone();
        let i = rng.random_range(0..b.len());
        b[i] ^= rng.random_range(1..=255u8);
        if rng.random_bool(0.05) {
            b.truncate(rng.random_range(0..b.len()));
        }
        let Ok(p) = zkml_protocol::Proof::from_bytes(&b) else { continue };
        decoded += 1;
        assert!(
            zkml_protocol::verify(&c.pk.vk, &ins, &outs, &p).is_err(),
            "mutated proof accepted (byte {i})"
        );
    }
    // Most mutations hit field elements and hashes and still decode: the
    // verifier, not the decoder, rejects them.
    assert!(decoded > trials / 2, "only {decoded} mutations decoded");
}

#[test]
fn gpt2_proves() {
    prove_and_verify("gpt2.onnx");
}

#[test]
fn llama_proves() {
    prove_and_verify("llama.onnx");
}

#[test]
fn rejects_dishonest_saturation_and_float_domain_columns() {
    use p3_field::PrimeCharacteristicRing;
    use zkml_proof::F;
    use zkml_protocol::columns::{ColumnPlan, NodeCols, saturating_nodes};
    // The decoder's masked softmax saturates its exp table on the masked
    // entries: the proof carries overflow columns for those nodes.
    let c = Case::new("gpt2.onnx", 21);
    let sat = saturating_nodes(&c.pk.vk, &c.values).unwrap();
    assert!(!sat.is_empty(), "expected saturating lookups in the masked softmax");
    let plan = ColumnPlan::new(&c.pk.vk, 0, &sat).unwrap();
    let Some(NodeCols::Table { sat: Some(s), y, .. }) = plan.nodes.get(&sat[0]).cloned() else {
        panic!("node {} has no overflow columns", sat[0])
    };
    let Some(NodeCols::LogTable { m, p, r, .. }) =
        plan.nodes.values().find(|n| matches!(n, NodeCols::LogTable { .. })).cloned()
    else {
        panic!("no floating-point domain lookup")
    };
    type Hook = Box<dyn Fn(&ColumnPlan, &mut [Vec<F>]) + Sync>;
    let (down, up) = (s.down.cols[0], s.up.cols[0]);
    let cases: Vec<(&str, Hook)> = vec![
        ("overflow moved", Box::new(move |_, cols| cols[down][0] += F::ONE)),
        ("spurious overflow", Box::new(move |_, cols| cols[up][1] += F::ONE)),
        ("saturated index moved", Box::new(move |_, cols| cols[y][0] += F::ONE)),
        ("mantissa", Box::new(move |_, cols| cols[m][0] += F::ONE)),
        ("exponent", Box::new(move |_, cols| cols[p][0] = cols[p][0].double())),
        ("float remainder", Box::new(move |_, cols| cols[r.cols[0]][0] += F::ONE)),
    ];
    for (what, hook) in cases {
        assert!(assert_rejected(&c, &c.values, &*hook, what), "{what}: no proof produced");
    }
}

/// A proof has one encoding: any byte string that decodes re-encodes to
/// itself (so a proof's hash is its id), and a valid proof with bytes
/// appended, or its file with bytes appended, is refused.
mod canonical {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// One honest MLP proof, its file and statement.
    fn honest() -> &'static (Case, Vec<u8>, Vec<u8>) {
        static CASE: OnceLock<(Case, Vec<u8>, Vec<u8>)> = OnceLock::new();
        CASE.get_or_init(|| {
            let c = Case::new("mlp.onnx", 21);
            let (proof, _) = zkml_protocol::prove(&c.pk, &c.values).unwrap();
            let body = proof.to_bytes().unwrap();
            let file = proof.to_file_bytes(&c.pk.digest).unwrap();
            (c, body, file)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn what_decodes_is_the_one_encoding(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4)
        ) {
            let (c, body, _) = honest();
            let mut b = body.clone();
            for (at, byte, kind) in edits {
                let i = at.index(b.len().max(1));
                match kind {
                    0 => b[i] = byte,
                    1 => b.insert(i, byte),
                    2 => { b.remove(i); }
                    _ => { let v = b[i]; b.insert(i, v); }
                }
            }
            if let Ok(p) = zkml_protocol::Proof::from_bytes(&b) {
                prop_assert_eq!(p.to_bytes().unwrap(), b.clone(), "a non-canonical encoding decoded");
                if &b != body {
                    prop_assert!(zkml_protocol::verify(&c.pk.vk, &c.inputs(), &c.outputs(), &p).is_err());
                }
            }
        }

        #[test]
        fn appended_bytes_are_refused(tail in proptest::collection::vec(any::<u8>(), 1..16)) {
            let (_, body, file) = honest();
            let mut b = body.clone();
            b.extend_from_slice(&tail);
            prop_assert!(zkml_protocol::Proof::from_bytes(&b).is_err());
            let mut f = file.clone();
            f.extend_from_slice(&tail);
            prop_assert!(zkml_protocol::Proof::from_file_bytes(&f).is_err());
        }
    }
}
