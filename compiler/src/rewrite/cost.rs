//! Extraction cost: an estimate of proving cost, not of term size.
//!
//! Units are "prover field operations", per op, from its output fact and
//! (for einsums) the size of its full index space:
//!
//! | op | cost | why |
//! |---|---|---|
//! | einsum | 2 · Π(all letter sizes) | one sumcheck over the contracted axes: a multiply-add per term and round |
//! | lookup | 12 · n | logUp-GKR: commit the column and multiplicities, a fraction-tree layer per element |
//! | mul | 4 · n | degree-3 sumcheck over the elements |
//! | add, sub | n | linear: claims split, no sumcheck |
//! | max reduction | 20 · n_in | range checks of every difference |
//! | reshape | 0 | a relabelling of the same multilinear extension |
//! | other layout ops | n | a structured linear map the verifier evaluates itself |
//! | constant | n / 8 | its share of the weight commitment's opening |
//! | constant holding ±∞ or \|x\| > 10^30 | 10^15 | no fixed-point form (attention masks must be rewritten away) |
//! | `reduce_sum` | 10^15 | always an einsum (the quantizer types einsums) |
//! | comparison, logic, `where`, cast, `max`, `min` | see `crate::quantize::lowered_cost` | lowered into the core by the quantizer |
//! | anything else | 10^15 | not provable (`zkml_protocol::provable::family`): extraction must avoid it |
//!
//! The cost of a graph is the sum over its distinct nodes: extraction
//! ([`super::extract`]) is DAG-aware, counting a shared subterm once. (Tree
//! costs, egg's default, count it once per use: on a residual network the
//! cost doubles per layer and, 30 layers deep, exceeds f64's resolution, so
//! that an unprovable choice can no longer be told from a provable one.)

use super::lang::{EGraph, ZkLang, fact, resolve};
use egg::{CostFunction, Id};
use zkml_ir::Op;
use zkml_ir::ops::binary::BinaryOp;
use zkml_ir::ops::reduce::ReduceOp;

/// Cost of anything the prover cannot prove.
pub const UNPROVABLE: f64 = 1e15;

/// Proving-cost model (see the module docs).
#[derive(Debug)]
pub struct ProvingCost<'a> {
    pub egraph: &'a EGraph,
}

/// Own cost of `op` producing `n` elements from inputs of `in_len` elements.
/// An op no family of the prover proves (`zkml_protocol::provable`) costs
/// [`UNPROVABLE`].
pub fn op_cost(op: &Op, n: f64, in_len: f64, einsum_terms: f64) -> f64 {
    if zkml_protocol::provable::family(op).is_none() {
        return crate::quantize::lowered_cost(op, n).unwrap_or(UNPROVABLE);
    }
    match op {
        Op::Input(_) => 0.0,
        // "Infinities" (attention masks) have no fixed-point form.
        Op::Const(c) if huge(c) => UNPROVABLE,
        Op::Const(_) => n / 8.0,
        Op::Einsum(_) => 2.0 * einsum_terms,
        Op::Lookup(_) => 12.0 * n,
        Op::Binary(b) if b.op == BinaryOp::Mul => 4.0 * n,
        // Add, sub: the family gate above admits no other binary op.
        Op::Binary(_) => n,
        Op::Reduce(r) if r.op == ReduceOp::Max => 20.0 * in_len,
        Op::Reduce(_) => UNPROVABLE,
        Op::Reshape(_) => 0.0,
        // The other layout ops and embedding gathers.
        _ => n,
    }
}

/// A float constant with no useful fixed-point form: infinities, values
/// beyond ±10^30, or an additive attention mask (entries 0 or ≤ -10^4: its
/// scale would erase the scores it is added to).
fn huge(c: &zkml_ir::ops::source::Const) -> bool {
    matches!(c.value.data(), zkml_ir::TensorData::F32(v)
        if v.iter().any(|x| !x.is_finite() || x.abs() > 1e30) || super::rules::is_additive_mask(v))
}

impl ProvingCost<'_> {
    /// The e-node's own cost (children excluded).
    pub fn own(&self, enode: &ZkLang) -> f64 {
        let eg = self.egraph;
        let Some((op, args)) = resolve(eg, enode) else { return 0.0 };
        let facts: Option<Vec<&zkml_ir::Fact>> = args.iter().map(|&a| fact(eg, a)).collect();
        let Some(facts) = facts else { return UNPROVABLE };
        let Ok(out) = zkml_ir::OpDef::infer(op.def(), &facts) else { return UNPROVABLE };
        let n = out.first().map_or(0, |f| f.len()) as f64;
        let in_len = facts.iter().map(|f| f.len() as f64).sum();
        let terms = einsum_terms(&op, &facts).unwrap_or(UNPROVABLE);
        op_cost(&op, n, in_len, terms)
    }
}

impl CostFunction<ZkLang> for ProvingCost<'_> {
    type Cost = f64;
    fn cost<C>(&mut self, enode: &ZkLang, mut costs: C) -> f64
    where
        C: FnMut(Id) -> f64,
    {
        let children: f64 = egg::Language::children(enode).iter().map(|&c| costs(c)).sum();
        children + self.own(enode)
    }
}

/// Size of an einsum's full index space (0 for other ops; `None` if the
/// facts do not fit the equation).
pub fn einsum_terms(op: &Op, facts: &[&zkml_ir::Fact]) -> Option<f64> {
    let Op::Einsum(e) = op else { return Some(0.0) };
    let shapes: Vec<&[usize]> = facts.iter().map(|f| f.shape.as_slice()).collect();
    let sizes = e.spec().ok()?.axis_sizes(&shapes).ok()?;
    Some(sizes.iter().map(|&(_, d)| d as f64).product())
}
