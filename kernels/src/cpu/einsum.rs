use super::{matmul, transpose};
use crate::einsum_spec::size_of;
use crate::{EinsumSpec, Scalar};
use std::borrow::Cow;

/// Same contract as [`crate::reference::einsum`].
///
/// Two-operand equations are rewritten as one batched matrix product:
/// letters only one operand has and the output lacks are summed out first;
/// the rest are classified as batch (both operands and output), `m` (first
/// operand and output), `n` (second operand and output) and `k` (both
/// operands, not output); the operands are transposed to `[batch, m, k]` and
/// `[batch, k, n]`, multiplied, and the product transposed to the output
/// order. One-operand equations are a sum-out plus a transpose. Equations with
/// more operands use the reference kernel (none are produced by the compiler).
pub fn einsum<T: Scalar>(spec: &EinsumSpec, operands: &[&[T]], shapes: &[&[usize]]) -> Vec<T> {
    let sizes = spec.axis_sizes(shapes).expect("einsum shapes validated by caller");
    let sz = |c: char| size_of(&sizes, c);
    match operands.len() {
        1 => {
            let (data, term) = sum_out(operands[0], &spec.inputs[0], shapes[0], &spec.output);
            permute_to(&data, &term, &spec.output, &sz).into_owned()
        }
        2 => {
            let (a_only_out, b_keep): (Vec<char>, Vec<char>) = (
                spec.output.iter().chain(&spec.inputs[1]).copied().collect(),
                spec.output.iter().chain(&spec.inputs[0]).copied().collect(),
            );
            let (a, ta) = sum_out(operands[0], &spec.inputs[0], shapes[0], &a_only_out);
            let (b, tb) = sum_out(operands[1], &spec.inputs[1], shapes[1], &b_keep);
            let out = &spec.output;
            let batch: Vec<char> = out.iter().copied().filter(|c| ta.contains(c) && tb.contains(c)).collect();
            let m: Vec<char> = out.iter().copied().filter(|c| ta.contains(c) && !tb.contains(c)).collect();
            let n: Vec<char> = out.iter().copied().filter(|c| tb.contains(c) && !ta.contains(c)).collect();
            let k: Vec<char> = ta.iter().copied().filter(|c| tb.contains(c) && !out.contains(c)).collect();
            let prod = |ls: &[char]| ls.iter().map(|&c| sz(c)).product::<usize>();
            let a_order: Vec<char> = batch.iter().chain(&m).chain(&k).copied().collect();
            let b_order: Vec<char> = batch.iter().chain(&k).chain(&n).copied().collect();
            let a2 = permute_to(&a, &ta, &a_order, &sz);
            let b2 = permute_to(&b, &tb, &b_order, &sz);
            let c = matmul(&a2, &b2, prod(&batch), prod(&m), prod(&k), prod(&n));
            let c_order: Vec<char> = batch.iter().chain(&m).chain(&n).copied().collect();
            permute_to(&c, &c_order, out, &sz).into_owned()
        }
        _ => many_operands(spec, operands, shapes),
    }
}

/// Transposes `data` (axes named by `from`) so its axes are named by `to`
/// (a permutation of `from`).
fn permute_to<'a, T: Scalar>(
    data: &'a [T],
    from: &[char],
    to: &[char],
    sz: &dyn Fn(char) -> usize,
) -> Cow<'a, [T]> {
    if from == to {
        return Cow::Borrowed(data); // the common case: operands already in matmul order
    }
    let shape: Vec<usize> = from.iter().map(|&c| sz(c)).collect();
    let perm: Vec<usize> =
        to.iter().map(|c| from.iter().position(|x| x == c).expect("permutation of letters")).collect();
    Cow::Owned(transpose(data, &shape, &perm))
}

/// Sums `data` over the letters of `term` that are not in `keep`; returns the
/// reduced data and its letters (kept letters, in `term` order).
fn sum_out<'a, T: Scalar>(
    data: &'a [T],
    term: &[char],
    shape: &[usize],
    keep: &[char],
) -> (Cow<'a, [T]>, Vec<char>) {
    let kept: Vec<char> = term.iter().copied().filter(|c| keep.contains(c)).collect();
    if kept.len() == term.len() {
        return (Cow::Borrowed(data), kept);
    }
    let dropped: Vec<char> = term.iter().copied().filter(|c| !keep.contains(c)).collect();
    let order: Vec<char> = kept.iter().chain(&dropped).copied().collect();
    let size = |c: char| shape[term.iter().position(|&x| x == c).expect("letter of term")];
    let moved = permute_to(data, term, &order, &size);
    let inner: usize = dropped.iter().map(|&c| size(c)).product();
    let reduced = if inner == 0 {
        vec![T::ZERO; kept.iter().map(|&c| size(c)).product()]
    } else {
        moved.chunks(inner).map(|ch| ch.iter().fold(T::ZERO, |a, &x| a.add(x))).collect()
    };
    (Cow::Owned(reduced), kept)
}

/// Three or more operands (the compiler never emits them): contract the
/// first two into every letter still needed, then recurse.
fn many_operands<T: Scalar>(spec: &EinsumSpec, operands: &[&[T]], shapes: &[&[usize]]) -> Vec<T> {
    let sizes = spec.axis_sizes(shapes).expect("einsum shapes validated by caller");
    let rest: Vec<char> = spec.inputs[2..].iter().flatten().chain(&spec.output).copied().collect();
    let mut keep: Vec<char> = Vec::new();
    for &c in spec.inputs[0].iter().chain(&spec.inputs[1]) {
        if rest.contains(&c) && !keep.contains(&c) {
            keep.push(c);
        }
    }
    let first =
        EinsumSpec { inputs: vec![spec.inputs[0].clone(), spec.inputs[1].clone()], output: keep.clone() };
    let ab = einsum(&first, &operands[..2], &shapes[..2]);
    let ab_shape: Vec<usize> = keep.iter().map(|&c| size_of(&sizes, c)).collect();
    let mut inputs = vec![keep];
    inputs.extend(spec.inputs[2..].iter().cloned());
    let next = EinsumSpec { inputs, output: spec.output.clone() };
    let mut ops: Vec<&[T]> = vec![&ab];
    ops.extend_from_slice(&operands[2..]);
    let mut shp: Vec<&[usize]> = vec![&ab_shape];
    shp.extend_from_slice(&shapes[2..]);
    einsum(&next, &ops, &shp)
}
