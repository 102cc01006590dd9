use crate::EinsumSpec;
use crate::einsum_spec::size_of;

/// `einsum` by its definition: for every assignment of every letter, add the
/// product of the operands' entries into the output entry.
///
/// Preconditions (checked by the IR's shape inference): `spec.axis_sizes`
/// succeeds on `shapes`, and `operands[t].len()` equals the product of
/// `shapes[t]`.
pub fn einsum(spec: &EinsumSpec, operands: &[&[f32]], shapes: &[&[usize]]) -> Vec<f32> {
    let sizes = spec.axis_sizes(shapes).expect("einsum shapes validated by caller");
    let letters = spec.letters();
    let dims: Vec<usize> = letters.iter().map(|&c| size_of(&sizes, c)).collect();
    let out_len: usize = spec.output.iter().map(|&c| size_of(&sizes, c)).product();
    let mut out = vec![0f64; out_len];
    let total: usize = dims.iter().product();
    let mut idx = vec![0usize; letters.len()];
    let pos = |term: &[char], idx: &[usize], shape: &[usize]| -> usize {
        let mut p = 0;
        for (a, &c) in term.iter().enumerate() {
            let l = letters.iter().position(|&x| x == c).expect("letter of term");
            p = p * shape[a] + idx[l];
        }
        p
    };
    for _ in 0..total {
        let mut prod = 1f64;
        for (t, term) in spec.inputs.iter().enumerate() {
            prod *= operands[t][pos(term, &idx, shapes[t])] as f64;
        }
        let out_shape: Vec<usize> = spec.output.iter().map(|&c| size_of(&sizes, c)).collect();
        out[pos(&spec.output, &idx, &out_shape)] += prod;
        // odometer increment, last letter fastest
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < dims[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out.into_iter().map(|x| x as f32).collect()
}

/// `einsum` over integers, exactly: every product and sum in `i128` (no
/// rounding, no wraparound for any `i64` operands of realistic size). The
/// oracle for the quantized path; the caller range-checks the result.
pub fn einsum_exact(spec: &EinsumSpec, operands: &[&[i64]], shapes: &[&[usize]]) -> Vec<i128> {
    let sizes = spec.axis_sizes(shapes).expect("einsum shapes validated by caller");
    let letters = spec.letters();
    let dims: Vec<usize> = letters.iter().map(|&c| size_of(&sizes, c)).collect();
    let out_shape: Vec<usize> = spec.output.iter().map(|&c| size_of(&sizes, c)).collect();
    let mut out = vec![0i128; out_shape.iter().product()];
    let pos = |term: &[char], idx: &[usize], shape: &[usize]| -> usize {
        term.iter().enumerate().fold(0, |p, (a, c)| {
            p * shape[a] + idx[letters.iter().position(|x| x == c).expect("letter of term")]
        })
    };
    let mut idx = vec![0usize; letters.len()];
    for _ in 0..dims.iter().product::<usize>() {
        let prod =
            spec.inputs.iter().enumerate().fold(1i128, |p, (t, term)| {
                p.saturating_mul(operands[t][pos(term, &idx, shapes[t])] as i128)
            });
        let o = pos(&spec.output, &idx, &out_shape);
        out[o] = out[o].saturating_add(prod);
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < dims[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out
}
