//! Nonlinearities: recognise the function (also when an exporter spelled it
//! out in primitives), then make it a `lookup`. The requantization before it
//! is folded into the same lookup by the quantizer.

use super::super::lang::{EGraph, add_op, op_of};
use super::{Compute, var};
use super::{Rule, both, float, not_const, not_splat, rule, same_fact, splat_is};
use egg::{Id, Pattern, Rewrite, Subst, Symbol};
use zkml_ir::Op;
use zkml_ir::ops::lookup::{Lookup, LookupFn};
use zkml_ir::ops::unary::{Unary, UnaryOp};

pub(super) fn rules() -> Vec<Rule> {
    let mut rules = vec![
        // Recognition: primitive spellings of one function.
        rule!("max-zero-is-relu", "ReLU exported as max(x, 0)";
            "(max ?x ?z)" => "(relu ?x)" if both(splat_is("?z", 0.0), same_fact("?x"))),
        rule!("zero-max-is-relu", "ReLU exported as max(0, x)";
            "(max ?z ?x)" => "(relu ?x)" if both(splat_is("?z", 0.0), same_fact("?x"))),
        rule!("max-is-relu-of-difference", "max(a, b) = b + relu(a − b): ReLU is proven without a table";
            "(max ?a ?b)" => "(add ?b (relu (sub ?a ?b)))"
            if both(not_splat("?a", 0.0), not_splat("?b", 0.0))),
        rule!("min-is-relu-of-difference", "min(a, b) = a − relu(a − b) (clip's upper bound, ReLU6)";
            "(min ?a ?b)" => "(sub ?a (relu (sub ?a ?b)))"),
        // A computed condition: `where(c, x, y) = y + c·(x − y)` with the
        // comparison a 0/1 step table of the difference (tree ensembles,
        // thresholds). Float operands only: integer comparisons are shape
        // arithmetic, folded before.
        // Boolean logic in a condition becomes nested selections, down to
        // comparisons (tree ensembles: `x[f] < t and x[g] >= u`).
        rule!("where-not", "where(¬c, x, y) = where(c, y, x)";
            "(where (not ?c) ?x ?y)" => "(where ?c ?y ?x)"),
        rule!("where-and", "where(a ∧ b, x, y) = where(a, where(b, x, y), y)";
            "(where (and ?a ?b) ?x ?y)" => "(where ?a (where ?b ?x ?y) ?y)"),
        rule!("where-or", "where(a ∨ b, x, y) = where(a, x, where(b, x, y))";
            "(where (or ?a ?b) ?x ?y)" => "(where ?a ?x (where ?b ?x ?y))"),
        rule!("where-xor", "where(a ⊕ b, x, y) = where(a, where(b, y, x), where(b, x, y))";
            "(where (xor ?a ?b) ?x ?y)" => "(where ?a (where ?b ?y ?x) (where ?b ?x ?y))"),
        rule!("where-gt-is-step", "where(a > b, x, y) = y + step(a − b)·(x − y)";
            "(where (gt ?a ?b) ?x ?y)" => "(add ?y (mul (step (sub ?a ?b)) (sub ?x ?y)))"
            if both(float("?a"), float("?x"))),
        rule!("where-lt-is-step", "where(a < b, x, y) = y + step(b − a)·(x − y)";
            "(where (lt ?a ?b) ?x ?y)" => "(add ?y (mul (step (sub ?b ?a)) (sub ?x ?y)))"
            if both(float("?a"), float("?x"))),
        rule!("where-ge-is-step", "where(a ≥ b, x, y) = y + step_eq(a − b)·(x − y)";
            "(where (ge ?a ?b) ?x ?y)" => "(add ?y (mul (step_eq (sub ?a ?b)) (sub ?x ?y)))"
            if both(float("?a"), float("?x"))),
        rule!("where-le-is-step", "where(a ≤ b, x, y) = y + step_eq(b − a)·(x − y)";
            "(where (le ?a ?b) ?x ?y)" => "(add ?y (mul (step_eq (sub ?b ?a)) (sub ?x ?y)))"
            if both(float("?a"), float("?x"))),
        rule!("where-eq-is-step", "where(a = b, x, y) = y + is_zero(a − b)·(x − y)";
            "(where (eq ?a ?b) ?x ?y)" => "(add ?y (mul (is_zero (sub ?a ?b)) (sub ?x ?y)))"
            if both(float("?a"), float("?x"))),
        rule!("x-sigmoid-is-silu", "SiLU/swish exported as x · sigmoid(x)";
            "(mul ?x (sigmoid ?x))" => "(silu ?x)"),
        rule!("sigmoid-x-is-silu", "SiLU/swish exported as sigmoid(x) · x";
            "(mul (sigmoid ?x) ?x)" => "(silu ?x)"),
        rule!("gelu-tanh-form", "GPT-2's gelu_new: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))";
            "(mul (mul ?x ?h) (add (tanh (mul (add ?x (mul (pow ?x ?three) ?c)) ?k)) ?one))"
            => "(gelu_tanh ?x)"
            if both(both(splat_is("?h", 0.5), splat_is("?three", 3.0)),
                    both(both(splat_is("?c", 0.044715), splat_is("?k", 0.797_884_6)),
                         both(splat_is("?one", 1.0), same_fact("?x"))))),
        rule!("gelu-erf-div-form", "torch's exact GELU: x·0.5·(1 + erf(x/√2))";
            "(mul (mul ?x ?h) (add (erf (div ?x ?r)) ?one))" => "(gelu ?x)"
            if both(both(splat_is("?h", 0.5), splat_is("?r", std::f32::consts::SQRT_2)),
                    both(splat_is("?one", 1.0), same_fact("?x")))),
        rule!("gelu-erf-mul-form", "exact GELU with x·(1/√2) instead of x/√2";
            "(mul (mul ?x ?h) (add (erf (mul ?x ?r)) ?one))" => "(gelu ?x)"
            if both(both(splat_is("?h", 0.5), splat_is("?r", std::f32::consts::FRAC_1_SQRT_2)),
                    both(splat_is("?one", 1.0), same_fact("?x")))),
        rule!("gelu-erf-late-half", "exact GELU as (x·(1 + erf(x/√2)))·0.5";
            "(mul (mul ?x (add (erf (div ?x ?r)) ?one)) ?h)" => "(gelu ?x)"
            if both(both(splat_is("?h", 0.5), splat_is("?r", std::f32::consts::SQRT_2)),
                    both(splat_is("?one", 1.0), same_fact("?x")))),
        rule!("recip-sqrt-is-rsqrt", "one table instead of two for 1/√x (norms)";
            "(reciprocal (sqrt ?x))" => "(rsqrt ?x)"),
        rule!("div-sqrt-is-mul-rsqrt", "a / √b (LayerNorm's normalisation) as a · rsqrt(b)";
            "(div ?a (sqrt ?b))" => "(mul ?a (rsqrt ?b))"),
        rule!("one-over-is-reciprocal", "1 / x as one table";
            "(div ?one ?x)" => "(reciprocal ?x)" if both(splat_is("?one", 1.0), same_fact("?x"))),
        rule!("div-is-mul-reciprocal", "division by a witness: a table for 1/b, then a product";
            "(div ?a ?b)" => "(mul ?a (reciprocal ?b))" if not_const("?b")),
    ];
    rules.extend(LookupFn::ACTIVATIONS.iter().map(|&f| tabulate(f)));
    rules
}

/// Tabulation, one rule per entry of the activation table: the float-level
/// function becomes the one lookup op, `(f ?x) => (lookup f ?x)`; a
/// function with parameters is an attribute op, `(f ?k ?x)`, whose
/// parameters the lookup keeps.
fn tabulate(f: LookupFn) -> Rule {
    // Interned symbols give the rule's name and reason a static lifetime.
    let name = Symbol::from(format!("{}-lookup", f.name())).as_str();
    let reason = Symbol::from(format!("{} is a table", f.name())).as_str();
    let parse = |p: String| p.parse::<Pattern<_>>().expect("tabulation patterns are well formed");
    let rewrite = if f.params().is_empty() {
        let rhs = parse(format!("(lookup {} ?x)", f.name()));
        Rewrite::new(name, parse(format!("({} ?x)", f.name())), rhs)
    } else {
        Rewrite::new(name, parse(format!("({} ?k ?x)", f.name())), Compute(tabulate_with_params))
    };
    Rule { name, reason, rewrite: rewrite.expect("a tabulation rule binds only its own variables") }
}

fn tabulate_with_params(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::Unary(Unary { op: UnaryOp::Fn(f) }) = op_of(eg, var(s, "?k"))? else { return None };
    Some(add_op(eg, Op::from(Lookup::float(f)), &[var(s, "?x")]))
}
