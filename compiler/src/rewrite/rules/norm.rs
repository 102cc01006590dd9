//! Softmax and normalisations, decomposed into the core (see
//! `docs/quantization.md` for the error bounds of each step):
//!
//! * `softmax(x) = e · 1/Σe` with `e = exp(x - max(x))`: a max reduction,
//!   a subtraction, an `exp` table, a sum (einsum), a `reciprocal` table and
//!   a product. Masked attention (`where(mask, x, -∞)` or `x + (0 | -∞)`
//!   before the softmax) takes the max over kept entries (a finite bias on
//!   dropped ones) and multiplies `e` by the 0/1 mask, so that no infinity
//!   ever reaches the quantizer; a computed boolean mask (`where(m, x,
//!   -∞)`, `m` a model value) multiplies `e` only;
//! * `LayerNorm(x) = (x - μ) · rsqrt(mean((x - μ)²) + ε) · γ + β` and
//!   `RMSNorm(x) = x · rsqrt(mean(x²) + ε) · γ`: means become einsums, the
//!   inverse square root one table. (ONNX `LayerNormalization` reaches us
//!   already expanded by tract; these rules cover graphs built with the IR's
//!   own norm ops.)

use super::super::lang::{EGraph, add_const, add_op, fact, konst, op_of, splat};
use super::{Compute, Rule, rule, var};
use egg::{Id, Subst};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::lookup::{Lookup, LookupFn};
use zkml_ir::ops::reduce::{Reduce, ReduceOp};
use zkml_ir::ops::unary::Cast;
use zkml_ir::{DType, Op, Tensor, TensorData};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        rule!("softmax-decompose", "max, exp table, sum, reciprocal table, product";
            "(softmax ?k ?x)" => { Compute(|eg, _, s| softmax(eg, s, None)) }),
        rule!("masked-softmax-where", "a -∞ mask becomes a 0/1 factor after exp";
            "(softmax ?k (where ?m ?x ?n))" => { Compute(masked_where) }),
        rule!("masked-softmax-add", "an additive 0/-∞ mask becomes a 0/1 factor after exp";
            "(softmax ?k (add ?x ?m))" => { Compute(masked_add) }),
        rule!("layer-norm-decompose", "mean, centre, variance, rsqrt table, scale, shift";
            "(layer_norm ?k ?x ?g ?b)" => { Compute(layer_norm) }),
        rule!("rms-norm-decompose", "mean of squares, rsqrt table, scale";
            "(rms_norm ?k ?x ?g)" => { Compute(rms_norm) }),
    ]
}

fn binary(eg: &mut EGraph, op: BinaryOp, a: Id, b: Id) -> Id {
    add_op(eg, Op::from(Binary { op }), &[a, b])
}

fn reduce(eg: &mut EGraph, op: ReduceOp, axes: Vec<usize>, x: Id) -> Id {
    add_op(eg, Op::from(Reduce { op, axes, keepdims: true }), &[x])
}

/// The decomposition of `softmax(x)` along `?k`'s axis, with an optional
/// 0/1 mask applied to the exponentials.
///
/// With a mask, the shift subtracted before `exp` is the maximum over the
/// *kept* entries, taken on `x + b` where `b` is 0 (kept) or [`MASK_BIAS`]
/// (dropped): any shift gives the same softmax, but this one keeps every
/// kept `exp` in `(0, 1]` with 1 reached, so that `Σe ≥ 1` and the
/// reciprocal table needs no range beyond `[1/n, 1]`. Dropped entries reach
/// `exp` far below zero (the table saturates them to ≈ 0) and are then
/// multiplied by the 0/1 mask, so they contribute exactly 0.
///
/// A computed mask (a boolean tensor of the model) is applied to the
/// exponentials only: the shift is then the maximum over all entries,
/// which changes no result (the softmax is shift-invariant) but leaves the
/// kept entries' precision to the spread of the scores.
fn softmax(eg: &mut EGraph, s: &Subst, mask: Option<Mask>) -> Option<Id> {
    let Op::Softmax(sm) = op_of(eg, var(s, "?k"))? else { return None };
    let mut x = var(s, "?x");
    let mut keep = None;
    match mask {
        Some(Mask::Const(mask)) => {
            let bias = mask.as_f32().ok()?.iter().map(|&k| if k == 0.0 { MASK_BIAS } else { 0.0 }).collect();
            let b = add_const(eg, Tensor::from_f32(mask.shape(), bias).ok()?);
            x = binary(eg, BinaryOp::Add, x, b);
            keep = Some(add_const(eg, mask));
        }
        Some(Mask::Computed(m)) => keep = Some(add_op(eg, Op::from(Cast { to: DType::F32 }), &[m])),
        None => {}
    }
    let m = reduce(eg, ReduceOp::Max, vec![sm.axis], x);
    let d = binary(eg, BinaryOp::Sub, x, m);
    let mut e = add_op(eg, Op::from(Lookup::float(LookupFn::Exp)), &[d]);
    if let Some(mk) = keep {
        e = binary(eg, BinaryOp::Mul, e, mk);
    }
    let sum = add_op(eg, Op::from(Reduce { op: ReduceOp::Sum, axes: vec![sm.axis], keepdims: true }), &[e]);
    let r = add_op(eg, Op::from(Lookup::float(LookupFn::Reciprocal)), &[sum]);
    Some(binary(eg, BinaryOp::Mul, e, r))
}

/// A value at or below this is "minus infinity" in an attention mask:
/// `exp(-10^4)` is 0 in f32, so dropping such entries changes no result.
pub(crate) const MASKED: f32 = -1e4;

/// Added to dropped scores before the row maximum of a masked softmax: far
/// below any real attention score, yet small enough that, at an attention
/// score's fixed-point scale, it stays well inside the 62-bit range. Above
/// [`MASKED`], so the cost model does not take it for an additive mask.
pub(crate) const MASK_BIAS: f32 = MASKED / 2.0;

/// Entries all 0 (keep) or ≤ [`MASKED`] (drop), with at least one of each.
pub(crate) fn is_additive_mask(v: &[f32]) -> bool {
    v.iter().all(|&a| a == 0.0 || a <= MASKED) && v.contains(&0.0) && v.iter().any(|&a| a <= MASKED)
}

fn masked_where(eg: &mut EGraph, id: Id, s: &Subst) -> Option<Id> {
    let (m, x, n) = (var(s, "?m"), var(s, "?x"), var(s, "?n"));
    if splat(eg, n)? > MASKED || fact(eg, x) != fact(eg, id) {
        return None;
    }
    let Some(mask) = konst(eg, m) else {
        return (fact(eg, m)?.dtype == DType::Bool)
            .then(|| softmax(eg, s, Some(Mask::Computed(m))))
            .flatten();
    };
    let TensorData::Bool(v) = mask.data() else { return None };
    let keep = Tensor::from_f32(mask.shape(), v.iter().map(|&b| b as u8 as f32).collect()).ok()?;
    softmax(eg, s, Some(Mask::Const(keep)))
}

/// The 0/1 mask of a masked softmax.
enum Mask {
    /// A constant (a causal mask): dropped entries also leave the shift.
    Const(Tensor),
    /// A boolean value of the model.
    Computed(Id),
}

fn masked_add(eg: &mut EGraph, id: Id, s: &Subst) -> Option<Id> {
    let (x, m) = (var(s, "?x"), var(s, "?m"));
    if fact(eg, x) != fact(eg, id) {
        return None;
    }
    let mask = konst(eg, m)?;
    let TensorData::F32(v) = mask.data() else { return None };
    if !is_additive_mask(v) {
        return None;
    }
    let keep = Tensor::from_f32(mask.shape(), v.iter().map(|&a| (a == 0.0) as u8 as f32).collect()).ok()?;
    softmax(eg, s, Some(Mask::Const(keep)))
}

/// `rsqrt(mean_{axis..}(t) + eps)`, keepdims.
fn inv_rms(eg: &mut EGraph, t: Id, axes: Vec<usize>, eps: f32) -> Id {
    let mean = reduce(eg, ReduceOp::Mean, axes, t);
    let e = add_const(eg, Tensor::scalar_f32(eps));
    let v = binary(eg, BinaryOp::Add, mean, e);
    add_op(eg, Op::from(Lookup::float(LookupFn::Rsqrt)), &[v])
}

fn layer_norm(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::LayerNorm(ln) = op_of(eg, var(s, "?k"))? else { return None };
    let (x, g, b) = (var(s, "?x"), var(s, "?g"), var(s, "?b"));
    let axes: Vec<usize> = (ln.axis..fact(eg, x)?.rank()).collect();
    let mu = reduce(eg, ReduceOp::Mean, axes.clone(), x);
    let d = binary(eg, BinaryOp::Sub, x, mu);
    let sq = binary(eg, BinaryOp::Mul, d, d);
    let r = inv_rms(eg, sq, axes, ln.eps);
    let n = binary(eg, BinaryOp::Mul, d, r);
    let scaled = binary(eg, BinaryOp::Mul, n, g);
    Some(binary(eg, BinaryOp::Add, scaled, b))
}

fn rms_norm(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::RmsNorm(rn) = op_of(eg, var(s, "?k"))? else { return None };
    let (x, g) = (var(s, "?x"), var(s, "?g"));
    let axes: Vec<usize> = (rn.axis..fact(eg, x)?.rank()).collect();
    let sq = binary(eg, BinaryOp::Mul, x, x);
    let r = inv_rms(eg, sq, axes, rn.eps);
    let n = binary(eg, BinaryOp::Mul, x, r);
    Some(binary(eg, BinaryOp::Mul, n, g))
}
