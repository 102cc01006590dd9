//! Linear ops: everything linear becomes an einsum (sums and means with a
//! constant vector, transposes relabelled into the equation, scalar factors
//! folded into constant operands); arithmetic with constants is normalised
//! to `mul`/`add`, the forms the quantizer and the prover know.

use super::super::lang::{EGraph, add_const, add_op, fact, konst, op_of, splat};
use super::{Compute, Rule, rule, same_fact, splat_is, var};
use egg::{Id, Subst};
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::layout::Reshape;
use zkml_ir::ops::reduce::ReduceOp;
use zkml_ir::{Op, Tensor, TensorData};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        rule!("reduce-sum-is-einsum", "a sum is a contraction with a ones vector";
            "(reduce_sum ?k ?x)" => { Compute(reduce_to_einsum) }),
        rule!("reduce-mean-is-einsum", "a mean is a contraction with a 1/n vector";
            "(reduce_mean ?k ?x)" => { Compute(reduce_to_einsum) }),
        rule!("einsum-absorbs-transposed-rhs", "a transpose is a relabelling of einsum letters";
            "(einsum ?q ?a (transpose ?p ?b))" => { Compute(|eg, _, s| absorb_transpose(eg, s, 1)) }),
        rule!("einsum-absorbs-transposed-lhs", "a transpose is a relabelling of einsum letters";
            "(einsum ?q (transpose ?p ?a) ?b)" => { Compute(|eg, _, s| absorb_transpose(eg, s, 0)) }),
        rule!("einsum-absorbs-transposed-operand", "a transpose is a relabelling of einsum letters";
            "(einsum ?q (transpose ?p ?a))" => { Compute(|eg, _, s| absorb_transpose(eg, s, 0)) }),
        rule!("transpose-of-einsum", "the output order is part of the equation";
            "(transpose ?p (einsum ?q ?a ?b))" => { Compute(transpose_output) }),
        rule!("scalar-into-einsum-weight", "a scalar factor folds into the einsum's constant operand";
            "(mul (einsum ?q ?a ?w) ?c)" => { Compute(fold_scalar) }),
        rule!("scalar-into-reshaped-einsum-weight", "a scalar factor folds through a reshape into the einsum's constant";
            "(mul (reshape ?s (einsum ?q ?a ?w)) ?c)" => { Compute(fold_scalar_reshaped) }),
        rule!("div-by-constant", "division by a constant is a product with its reciprocal";
            "(div ?a ?c)" => { Compute(div_const) }),
        rule!("reduce-min-is-negated-max", "min(x) = -max(-x): the prover proves max reductions";
            "(reduce_min ?k ?x)" => { Compute(min_as_max) }),
        rule!("neg-is-mul", "negation is a product with the constant -1";
            "(neg ?x)" => { Compute(neg) }),
        rule!("square-is-mul", "x² is a product"; "(square ?x)" => "(mul ?x ?x)"),
        rule!("pow2-is-mul", "x^2 is a product"; "(pow ?x ?e)" => "(mul ?x ?x)" if splat_is("?e", 2.0)),
        rule!("pow3-is-mul", "x^3 is two products";
            "(pow ?x ?e)" => "(mul (mul ?x ?x) ?x)" if splat_is("?e", 3.0)),
        rule!("pow-half-is-sqrt", "x^0.5 is a table"; "(pow ?x ?e)" => "(sqrt ?x)" if splat_is("?e", 0.5)),
        rule!("mul-one", "a product with ones of no larger shape changes nothing";
            "(mul ?x ?one)" => "?x" if super::both(splat_is("?one", 1.0), same_fact("?x"))),
        rule!("add-zero", "adding zeros of no larger shape changes nothing";
            "(add ?x ?zero)" => "?x" if super::both(splat_is("?zero", 0.0), same_fact("?x"))),
    ]
}

/// Letters for `n` axes: `a, b, c, …` (einsum equations are ASCII letters).
fn letters(n: usize) -> Option<Vec<char>> {
    (n <= 52).then(|| (b'a'..=b'z').chain(b'A'..=b'Z').take(n).map(char::from).collect())
}

/// `reduce_{sum,mean}(x)` → `einsum(x, v)` with `v` ones (or `1/n`) over
/// the reduced axes, reshaped back when `keepdims`.
fn reduce_to_einsum(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::Reduce(r) = op_of(eg, var(s, "?k"))? else { return None };
    let x = var(s, "?x");
    let xf = fact(eg, x)?.clone();
    let ls = letters(xf.rank())?;
    let kept: String = (0..xf.rank()).filter(|a| !r.axes.contains(a)).map(|a| ls[a]).collect();
    let red: String = r.axes.iter().map(|&a| ls[a]).collect();
    let n: usize = r.axes.iter().map(|&a| xf.shape[a]).product();
    let value = match r.op {
        ReduceOp::Sum => 1.0,
        ReduceOp::Mean if n > 0 => 1.0 / n as f32,
        _ => return None,
    };
    let vshape: Vec<usize> = r.axes.iter().map(|&a| xf.shape[a]).collect();
    let v = add_const(eg, Tensor::from_f32(vshape, vec![value; n]).ok()?);
    let all: String = ls.iter().collect();
    let e = add_op(eg, Op::from(Einsum::new(format!("{all},{red}->{kept}")).ok()?), &[x, v]);
    if !r.keepdims {
        return Some(e);
    }
    let shape: Vec<usize> =
        xf.shape.iter().enumerate().map(|(a, &d)| if r.axes.contains(&a) { 1 } else { d }).collect();
    Some(add_op(eg, Op::from(Reshape { shape }), &[e]))
}

/// Operand `which` is `transpose(perm, y)`: rename its letters so that the
/// einsum reads `y` directly.
fn absorb_transpose(eg: &mut EGraph, s: &Subst, which: usize) -> Option<Id> {
    let Op::Einsum(e) = op_of(eg, var(s, "?q"))? else { return None };
    let Op::Transpose(t) = op_of(eg, var(s, "?p"))? else { return None };
    let mut spec = e.spec().ok()?;
    // transpose: out axis i = in axis perm[i]; so in axis perm[i] carries the
    // letter the einsum gave to out axis i.
    let term = spec.inputs.get(which)?.clone();
    let mut new_term = vec![' '; term.len()];
    for (i, &p) in t.perm.iter().enumerate() {
        *new_term.get_mut(p)? = *term.get(i)?;
    }
    spec.inputs[which] = new_term;
    let eq = Op::from(Einsum::new(spec.to_string()).ok()?);
    let (a, b) = (var(s, "?a"), s.get("?b".parse().ok()?).copied());
    let args: Vec<Id> = match b {
        Some(b) => vec![a, b],
        None => vec![a],
    };
    Some(add_op(eg, eq, &args))
}

/// `transpose(perm, einsum(q, a, b))` → the einsum with its output term permuted.
fn transpose_output(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::Einsum(e) = op_of(eg, var(s, "?q"))? else { return None };
    let Op::Transpose(t) = op_of(eg, var(s, "?p"))? else { return None };
    let mut spec = e.spec().ok()?;
    let out: Vec<char> = t.perm.iter().map(|&p| spec.output.get(p).copied()).collect::<Option<_>>()?;
    spec.output = out;
    let eq = Op::from(Einsum::new(spec.to_string()).ok()?);
    Some(add_op(eg, eq, &[var(s, "?a"), var(s, "?b")]))
}

/// `einsum(q, a, W) · c` with `W` constant and `c` a scalar: `einsum(q, a, c·W)`.
fn fold_scalar(eg: &mut EGraph, id: Id, s: &Subst) -> Option<Id> {
    // The product must not broadcast the einsum to a larger shape.
    let out = fact(eg, id)?.clone();
    let new = fold_scalar_core(eg, s)?;
    (fact(eg, new) == Some(&out)).then_some(new)
}

/// `reshape(einsum(q, a, W)) · c` → `reshape(einsum(q, a, c·W))`.
fn fold_scalar_reshaped(eg: &mut EGraph, id: Id, s: &Subst) -> Option<Id> {
    let out = fact(eg, id)?.clone();
    let inner = fold_scalar_core(eg, s)?;
    let Op::Reshape(r) = op_of(eg, var(s, "?s"))? else { return None };
    let new = add_op(eg, Op::from(r), &[inner]);
    (fact(eg, new) == Some(&out)).then_some(new)
}

/// `einsum(q, a, c·W)` for a match binding `?q ?a ?w ?c`.
fn fold_scalar_core(eg: &mut EGraph, s: &Subst) -> Option<Id> {
    let c = splat(eg, var(s, "?c"))?;
    let w = konst(eg, var(s, "?w"))?;
    let TensorData::F32(wv) = w.data() else { return None };
    // A broadcasting scalar of rank ≤ the einsum's keeps the einsum's shape.
    let scaled = Tensor::from_f32(w.shape(), wv.iter().map(|x| x * c).collect()).ok()?;
    let w2 = add_const(eg, scaled);
    let Op::Einsum(e) = op_of(eg, var(s, "?q"))? else { return None };
    Some(add_op(eg, Op::from(e), &[var(s, "?a"), w2]))
}

/// `a / C` with `C` constant (no zeros): `a · (1/C)`.
fn div_const(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let c = konst(eg, var(s, "?c"))?;
    let TensorData::F32(v) = c.data() else { return None };
    if v.contains(&0.0) {
        return None;
    }
    let r = add_const(eg, Tensor::from_f32(c.shape(), v.iter().map(|x| 1.0 / x).collect()).ok()?);
    let mul = zkml_ir::ops::binary::Binary { op: zkml_ir::ops::binary::BinaryOp::Mul };
    Some(add_op(eg, Op::from(mul), &[var(s, "?a"), r]))
}

/// `-x` → `x · (-1)`.
fn neg(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let x = var(s, "?x");
    if fact(eg, x)?.dtype != zkml_ir::DType::F32 {
        return None;
    }
    let m = add_const(eg, Tensor::scalar_f32(-1.0));
    let mul = zkml_ir::ops::binary::Binary { op: zkml_ir::ops::binary::BinaryOp::Mul };
    Some(add_op(eg, Op::from(mul), &[x, m]))
}

/// `reduce_min(x) = −reduce_max(−x)`, the negations as products with −1
/// (exact in fixed point: a one-magnitude constant).
fn min_as_max(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::Reduce(r) = op_of(eg, var(s, "?k"))? else { return None };
    let x = var(s, "?x");
    if r.op != ReduceOp::Min || fact(eg, x)?.dtype != zkml_ir::DType::F32 {
        return None;
    }
    let m = add_const(eg, Tensor::scalar_f32(-1.0));
    let mul = Op::from(zkml_ir::ops::binary::Binary { op: zkml_ir::ops::binary::BinaryOp::Mul });
    let neg_x = add_op(eg, mul.clone(), &[x, m]);
    let max = add_op(eg, Op::from(zkml_ir::ops::reduce::Reduce { op: ReduceOp::Max, ..r }), &[neg_x]);
    Some(add_op(eg, mul, &[max, m]))
}
