use crate::strides;

/// Same contract as [`crate::reference::transpose`]. The innermost output
/// axis is copied in a tight loop with a fixed source stride, and the odometer
/// only runs over the outer axes.
pub fn transpose<T: Copy>(data: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return data.to_vec();
    }
    let in_strides = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let src_strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let rank = shape.len();
    let inner = out_shape[rank - 1];
    let inner_stride = src_strides[rank - 1];
    let mut idx = vec![0usize; rank - 1];
    for _ in 0..n / inner {
        let base: usize = idx.iter().zip(&src_strides).map(|(&i, &s)| i * s).sum();
        out.extend((0..inner).map(|j| data[base + j * inner_stride]));
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < out_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out
}
