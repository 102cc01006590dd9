//! The term view of the IR that egg rewrites.
//!
//! Every single-output IR node becomes one e-node `(<op name> [<attrs>]
//! <inputs>…)`:
//! * ops without attributes (`add`, `relu`, `where`, …) have only their
//!   inputs as children, so rules read like the maths: `(mul ?x (sigmoid ?x))`;
//! * ops with attributes get a first child `Sym(key)`: a leaf naming the full
//!   op in the analysis' registry (`key` is the op's text form, so equal ops
//!   share a key). Rules bind it like any child (`(einsum ?eq ?a ?b)`) and
//!   custom appliers read the op back with [`op_of`];
//! * lookups' key is the function's key, its name when it has no
//!   parameters (`(lookup relu ?x)`, `(lookup leaky_relu(alpha=0.01) ?x)`);
//! * activations with parameters (`leaky_relu`) are attribute ops;
//! * sources are `(input <key>)` and `(const <key>)`.
//!
//! The analysis keeps, per e-class, the value's [`Fact`] (from the IR's own
//! shape inference: a rule can only produce well-typed terms, and a union of
//! classes with different facts is refused), and for constants the tensor
//! and, when all its elements are equal, that value (`splat`): rule
//! conditions such as "multiplied by the scalar 0.5" read it.

use egg::{DidMerge, Id, Symbol, define_language};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::logic::{Compare, CompareOp, Logic, LogicOp, Where};
use zkml_ir::ops::lookup::{Lookup, LookupFn};
use zkml_ir::ops::source::Const;
use zkml_ir::ops::unary::{Unary, UnaryOp};
use zkml_ir::{Fact, Op, Tensor, TensorData};

define_language! {
    /// Terms over IR ops (see the module docs).
    pub enum ZkLang {
        Sym(Symbol),
        Op(Symbol, Vec<Id>),
    }
}

/// The e-graph the rewrite stage works on.
pub type EGraph = egg::EGraph<ZkLang, ZkAnalysis>;

/// Per e-class facts (see the module docs).
#[derive(Debug, Clone)]
pub struct ClassData {
    /// The value's fact; `None` for attribute leaves.
    pub fact: Option<Fact>,
    /// For attribute leaves: the key.
    pub sym: Option<Symbol>,
    /// For constants: the data.
    pub konst: Option<Arc<Tensor>>,
    /// For f32 constants whose elements are all equal: that value.
    pub splat: Option<f32>,
}

/// Registry of attribute ops plus the analysis hooks.
#[derive(Debug, Default, Clone)]
pub struct ZkAnalysis {
    ops: HashMap<Symbol, Op>,
    /// Unions refused because the two sides had different facts (a rule bug).
    pub refused: Vec<String>,
}

/// Ops without attributes, by name: they need no registry entry.
fn attrless() -> &'static HashMap<&'static str, Op> {
    static TABLE: OnceLock<HashMap<&'static str, Op>> = OnceLock::new();
    TABLE.get_or_init(|| {
        use BinaryOp as B;
        use CompareOp as C;
        use UnaryOp as U;
        // Activations with parameters are attribute ops (their key holds
        // the parameters).
        let unary = LookupFn::ACTIVATIONS
            .iter()
            .filter(|f| f.params().is_empty())
            .map(|&f| UnaryOp::Fn(f))
            .chain([U::Neg, U::Square]);
        let binary = [B::Add, B::Sub, B::Mul, B::Div, B::Pow, B::Max, B::Min];
        let mut m: HashMap<&'static str, Op> = HashMap::new();
        for op in unary {
            let o = Op::from(Unary { op });
            m.insert(o.def().name(), o);
        }
        for op in binary {
            let o = Op::from(Binary { op });
            m.insert(o.def().name(), o);
        }
        m.insert("where", Op::from(Where));
        for op in [C::Eq, C::Lt, C::Le, C::Gt, C::Ge] {
            let o = Op::from(Compare { op });
            m.insert(o.def().name(), o);
        }
        for op in [LogicOp::Not, LogicOp::And, LogicOp::Or, LogicOp::Xor] {
            let o = Op::from(Logic { op });
            m.insert(o.def().name(), o);
        }
        m
    })
}

impl ZkAnalysis {
    /// The registry key of an attribute op.
    fn key_of(op: &Op) -> Symbol {
        match op {
            Op::Lookup(l) if l.quant.is_none() => Symbol::from(l.func.key()),
            _ => Symbol::from(op.to_string()),
        }
    }
}

/// The IR op an e-node stands for and its value children.
pub fn resolve<'a>(eg: &EGraph, node: &'a ZkLang) -> Option<(Op, &'a [Id])> {
    let ZkLang::Op(head, children) = node else { return None };
    if let Some(op) = attrless().get(head.as_str()) {
        return Some((op.clone(), children));
    }
    let (first, rest) = children.split_first()?;
    let key = eg[*first].data.sym?;
    if head.as_str() == "lookup" {
        let f = LookupFn::from_key(key.as_str())?;
        return Some((Op::from(Lookup::float(f)), rest));
    }
    let op = eg.analysis.ops.get(&key)?;
    (op.def().name() == head.as_str()).then(|| (op.clone(), rest))
}

/// Adds the e-node of `op` applied to `args` (registering the op).
pub fn add_op(eg: &mut EGraph, op: Op, args: &[Id]) -> Id {
    let name = Symbol::from(op.def().name());
    if attrless().contains_key(name.as_str()) {
        return eg.add(ZkLang::Op(name, args.to_vec()));
    }
    let key = ZkAnalysis::key_of(&op);
    eg.analysis.ops.entry(key).or_insert(op);
    let k = eg.add(ZkLang::Sym(key));
    let mut children = vec![k];
    children.extend_from_slice(args);
    eg.add(ZkLang::Op(name, children))
}

/// Adds a constant.
pub fn add_const(eg: &mut EGraph, t: Tensor) -> Id {
    add_const_op(eg, Const::new(t))
}

/// Adds an IR constant op. Constants are keyed by content: a rule applied
/// again to the same match rebuilds the same constant, so the e-graph stops
/// growing (saturates) instead of collecting copies.
pub(crate) fn add_const_op(eg: &mut EGraph, c: Const) -> Id {
    let mut h = blake3::Hasher::new();
    h.update(c.fact.to_string().as_bytes());
    h.update(&c.value.to_le_bytes());
    let key = Symbol::from(format!("const#{}", &h.finalize().to_hex()[..24]));
    eg.analysis.ops.entry(key).or_insert_with(|| Op::from(c));
    let k = eg.add(ZkLang::Sym(key));
    eg.add(ZkLang::Op(Symbol::from("const"), vec![k]))
}

/// The op registered under the attribute leaf `id` (for custom appliers).
pub fn op_of(eg: &EGraph, id: Id) -> Option<Op> {
    let key = eg[id].data.sym?;
    eg.analysis.ops.get(&key).cloned()
}

pub fn fact(eg: &EGraph, id: Id) -> Option<&Fact> {
    eg[id].data.fact.as_ref()
}

pub fn splat(eg: &EGraph, id: Id) -> Option<f32> {
    eg[id].data.splat
}

pub fn konst(eg: &EGraph, id: Id) -> Option<Arc<Tensor>> {
    eg[id].data.konst.clone()
}

/// Unions two classes if they hold values of the same fact; returns whether
/// the e-graph changed. A fact mismatch is a rule bug: it is recorded in
/// [`ZkAnalysis::refused`] (the rewrite stage then fails) instead of
/// silently changing a value's type.
pub fn union_checked(eg: &mut EGraph, a: Id, b: Id, rule: Symbol) -> bool {
    let (fa, fb) = (fact(eg, a).cloned(), fact(eg, b).cloned());
    if fa.is_none() || fa != fb {
        let msg = format!("{rule}: {} vs {}", show(fa.as_ref()), show(fb.as_ref()));
        eg.analysis.refused.push(msg);
        return false;
    }
    eg.union(a, b)
}

fn show(f: Option<&Fact>) -> String {
    f.map_or("ill-typed".to_string(), |f| f.to_string())
}

impl egg::Analysis<ZkLang> for ZkAnalysis {
    type Data = ClassData;

    fn make(eg: &mut EGraph, node: &ZkLang, _id: Id) -> ClassData {
        let mut d = ClassData { fact: None, sym: None, konst: None, splat: None };
        match node {
            ZkLang::Sym(s) => d.sym = Some(*s),
            ZkLang::Op(..) => {
                let eg: &EGraph = eg;
                let Some((op, args)) = resolve(eg, node) else { return d };
                if let Op::Const(c) = &op {
                    d.splat = match c.value.data() {
                        TensorData::F32(v) if !v.is_empty() && v.iter().all(|x| *x == v[0]) => Some(v[0]),
                        _ => None,
                    };
                    d.konst = Some(c.value.clone());
                }
                let facts: Option<Vec<&Fact>> = args.iter().map(|&a| fact(eg, a)).collect();
                d.fact = facts.and_then(|f| op.def().infer(&f).ok()).and_then(|mut v| {
                    // Multi-output ops never enter the e-graph (see `import`).
                    (v.len() == 1).then(|| v.remove(0))
                });
            }
        }
        d
    }

    fn merge(&mut self, a: &mut ClassData, b: ClassData) -> DidMerge {
        let mut changed_a = false;
        if a.fact.is_none() && b.fact.is_some() {
            a.fact = b.fact.clone();
            changed_a = true;
        }
        if a.konst.is_none() && b.konst.is_some() {
            a.konst = b.konst.clone();
            a.splat = b.splat;
            changed_a = true;
        }
        if a.sym.is_none() && b.sym.is_some() {
            a.sym = b.sym;
            changed_a = true;
        }
        let b_differs = b.fact != a.fact || b.konst.is_none() != a.konst.is_none() || b.sym != a.sym;
        DidMerge(changed_a, b_differs)
    }
}
