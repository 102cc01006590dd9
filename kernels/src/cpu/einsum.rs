use super::{matmul, matmul_bt, transpose};
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
    match operands.len() {
        1 => {
            let sizes = spec.axis_sizes(shapes).expect("einsum shapes validated by caller");
            let sz = |c: char| size_of(&sizes, c);
            let (data, term) = sum_out(operands[0], &spec.inputs[0], shapes[0], &spec.output);
            permute_to(&data, &term, &spec.output, &sz).into_owned()
        }
        2 => einsum2(spec, operands[0], operands[1], shapes),
        _ => many_operands(spec, operands, shapes),
    }
}

/// A two-operand [`einsum`] whose operands may be stored narrower than the
/// accumulator (16-bit weights times `i64` activations): elements are
/// widened as they are multiplied, so a weight matrix is never copied at
/// `T`'s width. A second operand laid out `[batch, n, k]` (a weight stored
/// `[out, in]`, as ONNX `Gemm` with `transB` and PyTorch `Linear` keep it)
/// is read in place by [`matmul_bt`] instead of being transposed.
pub fn einsum2<T, A, B>(spec: &EinsumSpec, a: &[A], b: &[B], shapes: &[&[usize]]) -> Vec<T>
where
    T: Scalar,
    A: Copy + Send + Sync + Into<T>,
    B: Copy + Send + Sync + Into<T>,
{
    let sizes = spec.axis_sizes(shapes).expect("einsum shapes validated by caller");
    let sz = |c: char| size_of(&sizes, c);
    let out = &spec.output;
    let (ta, tb) = (&spec.inputs[0], &spec.inputs[1]);
    // Letters only one operand has and the output lacks are summed out first
    // (rare: never on a weight the compiler emits); that sum is done at T's
    // width.
    let a_only = ta.iter().any(|c| !out.contains(c) && !tb.contains(c));
    let b_only = tb.iter().any(|c| !out.contains(c) && !ta.contains(c));
    if a_only || b_only {
        let wa: Vec<T> = a.iter().map(|&x| x.into()).collect();
        let wb: Vec<T> = b.iter().map(|&x| x.into()).collect();
        let (a_keep, b_keep): (Vec<char>, Vec<char>) =
            (out.iter().chain(tb).copied().collect(), out.iter().chain(ta).copied().collect());
        let (a, ta) = sum_out(&wa, ta, shapes[0], &a_keep);
        let (b, tb) = sum_out(&wb, tb, shapes[1], &b_keep);
        let spec = EinsumSpec { inputs: vec![ta.clone(), tb.clone()], output: out.clone() };
        let sa: Vec<usize> = ta.iter().map(|&c| sz(c)).collect();
        let sb: Vec<usize> = tb.iter().map(|&c| sz(c)).collect();
        return einsum2::<T, T, T>(&spec, &a, &b, &[&sa, &sb]);
    }
    let batch: Vec<char> = out.iter().copied().filter(|c| ta.contains(c) && tb.contains(c)).collect();
    let m: Vec<char> = out.iter().copied().filter(|c| ta.contains(c) && !tb.contains(c)).collect();
    let n: Vec<char> = out.iter().copied().filter(|c| tb.contains(c) && !ta.contains(c)).collect();
    let k: Vec<char> = ta.iter().copied().filter(|c| tb.contains(c) && !out.contains(c)).collect();
    let prod = |ls: &[char]| ls.iter().map(|&c| sz(c)).product::<usize>();
    let (nb, nm, nk, nn) = (prod(&batch), prod(&m), prod(&k), prod(&n));
    let a_order: Vec<char> = batch.iter().chain(&m).chain(&k).copied().collect();
    let a2 = permute_to(a, ta, &a_order, &sz);
    let bt_order: Vec<char> = batch.iter().chain(&n).chain(&k).copied().collect();
    let c = if *tb == bt_order {
        matmul_bt(&a2, b, nb, nm, nk, nn)
    } else {
        let b_order: Vec<char> = batch.iter().chain(&k).chain(&n).copied().collect();
        let b2 = permute_to(b, tb, &b_order, &sz);
        matmul(&a2, &b2, nb, nm, nk, nn)
    };
    let c_order: Vec<char> = batch.iter().chain(&m).chain(&n).copied().collect();
    permute_to(&c, &c_order, out, &sz).into_owned()
}

/// Transposes `data` (axes named by `from`) so its axes are named by `to`
/// (a permutation of `from`).
fn permute_to<'a, T: Copy + Send + Sync>(
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
