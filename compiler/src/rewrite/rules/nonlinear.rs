//! Nonlinearities: recognise the function (also when an exporter spelled it
//! out in primitives), then make it a `lookup`. The requantization before it
//! is folded into the same lookup by the quantizer.

use super::super::lang::{EGraph, add_op, op_of};
use super::{Compute, var};
use super::{Rule, both, not_const, rule, same_fact, splat_is};
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
        rule!("pow-const-is-table", "x^p for another constant p: one table";
            "(pow ?x ?p)" => { Compute(pow_const) }),
        rule!("pow-is-exp-log", "x^y with a computed exponent: exp(y · ln x), defined for x > 0";
            "(pow ?x ?y)" => "(exp (mul ?y (log ?x)))" if not_const("?y")),
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

/// `x^p` for a scalar constant `p` as the `pow_const` table.
fn pow_const(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let p = super::super::lang::splat(eg, var(s, "?p"))?;
    let x = var(s, "?x");
    if super::super::lang::fact(eg, x)?.dtype != zkml_ir::DType::F32 {
        return None;
    }
    let f =
        LookupFn::PowConst { exponent: zkml_ir::ops::activation::Param::new(0.0) }.with_params(|_| Some(p));
    Some(add_op(eg, Op::from(Lookup::float(f)), &[x]))
}
