//! Rewrite rules, as data: one list per op family, each rule a name, a
//! one-line reason and an egg rewrite. See `README.md` beside this file for
//! how to write one.
//!
//! Pattern rules (`rule!(…; "lhs" => "rhs")`) are read like the maths; rules
//! whose right-hand side must compute something (a new einsum equation, a
//! folded constant) use [`Compute`], a function from the match to the new
//! term, whose result is unioned only if its fact equals the matched one.

mod cnn;
mod linear;
mod nonlinear;
mod norm;
mod shape;

pub(crate) use norm::is_additive_mask;

use super::lang::{EGraph, ZkAnalysis, ZkLang, fact, konst, splat, union_checked};
use egg::{Applier, Id, PatternAst, Rewrite, Subst, Symbol, Var};

/// One rewrite rule (see the module docs).
#[derive(Debug)]
pub struct Rule {
    pub name: &'static str,
    pub reason: &'static str,
    pub rewrite: Rewrite<ZkLang, ZkAnalysis>,
}

/// `rule!("name", "reason"; "lhs" => "rhs" [if cond]…)`.
macro_rules! rule {
    ($name:literal, $reason:literal; $($rw:tt)*) => {
        $crate::rewrite::rules::Rule { name: $name, reason: $reason, rewrite: egg::rewrite!($name; $($rw)*) }
    };
}
pub(crate) use rule;

/// Every rule, in family order.
pub fn all() -> Vec<Rule> {
    let mut r = Vec::new();
    r.extend(nonlinear::rules());
    r.extend(linear::rules());
    r.extend(norm::rules());
    r.extend(cnn::rules());
    r.extend(shape::rules());
    r
}

/// The class bound to `var` (`"?x"`) in a match.
pub(crate) fn var(subst: &Subst, name: &str) -> Id {
    let v: Var = name.parse().expect("rule variables are written `?name`");
    subst[v]
}

/// Condition: `var` is a constant whose elements all equal `value`
/// (relative tolerance 1e-4: exporters round constants like √2 or 1/√2).
pub(crate) fn splat_is(name: &'static str, value: f32) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
    move |eg, _, s| splat(eg, var(s, name)).is_some_and(|x| (x - value).abs() <= 1e-4 * value.abs().max(1e-6))
}

/// Condition: `var` has the same fact as the matched term (so dropping a
/// broadcast operand cannot change the shape).
pub(crate) fn same_fact(name: &'static str) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
    move |eg, id, s| fact(eg, id).is_some() && fact(eg, id) == fact(eg, var(s, name))
}

/// Condition: both hold.
pub(crate) fn both(
    a: impl Fn(&mut EGraph, Id, &Subst) -> bool,
    b: impl Fn(&mut EGraph, Id, &Subst) -> bool,
) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
    move |eg, id, s| a(eg, id, s) && b(eg, id, s)
}

/// Condition: `var` is not a constant (a witness computed from the input).
pub(crate) fn not_const(name: &'static str) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
    move |eg, _, s| konst(eg, var(s, name)).is_none()
}

/// A right-hand side computed by a function of the match.
pub(crate) struct Compute(pub fn(&mut EGraph, Id, &Subst) -> Option<Id>);

impl Applier<ZkLang, ZkAnalysis> for Compute {
    fn apply_one(
        &self,
        eg: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<ZkLang>>,
        rule: Symbol,
    ) -> Vec<Id> {
        match (self.0)(eg, eclass, subst) {
            Some(new) if union_checked(eg, eclass, new, rule) => vec![new],
            _ => vec![],
        }
    }
}
