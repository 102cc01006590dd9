use crate::Scalar;
use rayon::prelude::*;

/// Same contract as [`crate::reference::matmul`], accumulating in `T`.
///
/// Rows of the output are independent, so they are spread over rayon's
/// threads; each row is accumulated in `i-k-j` order so that the inner loop
/// streams over contiguous rows of `b` and `c` (vectorisable).
pub fn matmul<T: Scalar>(a: &[T], b: &[T], batch: usize, m: usize, k: usize, n: usize) -> Vec<T> {
    let mut c = vec![T::ZERO; batch * m * n];
    if n == 0 {
        return c;
    }
    let work = |(row, c_row): (usize, &mut [T])| {
        let bi = row / m.max(1);
        let a_row = &a[row * k..(row + 1) * k];
        let b_mat = &b[bi * k * n..(bi + 1) * k * n];
        for (l, &a_il) in a_row.iter().enumerate() {
            if a_il == T::ZERO {
                continue;
            }
            let b_row = &b_mat[l * n..(l + 1) * n];
            for (c_ij, &b_lj) in c_row.iter_mut().zip(b_row) {
                *c_ij = c_ij.mul_add(a_il, b_lj);
            }
        }
    };
    // Below this many multiply-adds, thread start-up costs more than it saves.
    if batch * m * n * k < 1 << 16 {
        c.chunks_mut(n).enumerate().for_each(work);
    } else {
        c.par_chunks_mut(n).enumerate().for_each(work);
    }
    c
}
