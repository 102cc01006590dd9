//! Layout clean-up and constant selections: reshape chains collapse, no-op
//! layout ops vanish, and `where` with a constant condition becomes
//! arithmetic with constants (`x · mask + y · (1 - mask)`).

use super::super::lang::{EGraph, add_const, add_op, fact, konst, op_of};
use super::{Compute, Rule, rule, same_fact, var};
use egg::{Id, Subst};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::layout::Transpose;
use zkml_ir::ops::logic::Where;
use zkml_ir::{Op, OpDef, Tensor, TensorData};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        rule!("reshape-of-reshape", "only the last shape matters";
            "(reshape ?s (reshape ?t ?x))" => "(reshape ?s ?x)"),
        rule!("reshape-to-same-shape", "a reshape to the input's own shape is the identity";
            "(reshape ?s ?x)" => "?x" if same_fact("?x")),
        rule!("identity-transpose", "the identity permutation moves nothing";
            "(transpose ?p ?x)" => { Compute(identity_transpose) }),
        rule!("transpose-of-transpose", "two permutations compose into one";
            "(transpose ?p (transpose ?q ?x))" => { Compute(compose_transposes) }),
        rule!("where-constant-condition", "a constant selection is a product with a 0/1 mask plus a constant";
            "(where ?m ?x ?y)" => { Compute(where_const) }),
    ]
}

fn identity_transpose(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::Transpose(t) = op_of(eg, var(s, "?p"))? else { return None };
    t.perm.iter().enumerate().all(|(i, &p)| i == p).then(|| var(s, "?x"))
}

fn compose_transposes(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::Transpose(outer) = op_of(eg, var(s, "?p"))? else { return None };
    let Op::Transpose(inner) = op_of(eg, var(s, "?q"))? else { return None };
    // out[i] = mid[outer[i]] = x[inner[outer[i]]]
    let perm: Vec<usize> = outer.perm.iter().map(|&o| inner.perm.get(o).copied()).collect::<Option<_>>()?;
    Some(add_op(eg, Op::from(Transpose { perm }), &[var(s, "?x")]))
}

/// `where(M, x, Y)` with constant `M` and finite constant `Y`:
/// `x · float(M) + where(M, 0, Y)` (both constants computed here).
fn where_const(eg: &mut EGraph, id: Id, s: &Subst) -> Option<Id> {
    let (m, x, y) = (var(s, "?m"), var(s, "?x"), var(s, "?y"));
    let (mask, yv) = (konst(eg, m)?, konst(eg, y)?);
    let (TensorData::Bool(mv), TensorData::F32(yd)) = (mask.data(), yv.data()) else { return None };
    // Huge constants are attention masks, handled with their softmax.
    if yd.iter().any(|v| !v.is_finite() || v.abs() > 1e30) || fact(eg, x)?.dtype != zkml_ir::DType::F32 {
        return None;
    }
    let mf = Tensor::from_f32(mask.shape(), mv.iter().map(|&b| b as u8 as f32).collect()).ok()?;
    let zero = Tensor::scalar_f32(0.0);
    let rest = Where.eval(&[&mask, &zero, &yv]).ok()?.pop()?;
    let (mk, rk) = (add_const(eg, mf), add_const(eg, rest));
    let kept = add_op(eg, Op::from(Binary { op: BinaryOp::Mul }), &[x, mk]);
    let out = add_op(eg, Op::from(Binary { op: BinaryOp::Add }), &[kept, rk]);
    (fact(eg, out) == fact(eg, id)).then_some(out)
}
