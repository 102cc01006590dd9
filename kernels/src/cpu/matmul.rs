use crate::Scalar;
use rayon::prelude::*;

/// Same contract as [`crate::reference::matmul`], accumulating in `T`.
///
/// Rows of the output are independent, so they are spread over rayon's
/// threads; each row is accumulated in `i-k-j` order so that the inner loop
/// streams over contiguous rows of `b` and `c` (vectorisable).
pub fn matmul<T, A, B>(a: &[A], b: &[B], batch: usize, m: usize, k: usize, n: usize) -> Vec<T>
where
    T: Scalar,
    A: Copy + Send + Sync + Into<T>,
    B: Copy + Send + Sync + Into<T>,
{
    let mut c = vec![T::ZERO; batch * m * n];
    if n == 0 {
        return c;
    }
    let work = |(row, c_row): (usize, &mut [T])| {
        let bi = row / m.max(1);
        let a_row = &a[row * k..(row + 1) * k];
        let b_mat = &b[bi * k * n..(bi + 1) * k * n];
        for (l, &a_il) in a_row.iter().enumerate() {
            let a_il: T = a_il.into();
            if a_il == T::ZERO {
                continue;
            }
            let b_row = &b_mat[l * n..(l + 1) * n];
            for (c_ij, &b_lj) in c_row.iter_mut().zip(b_row) {
                *c_ij = c_ij.mul_add(a_il, b_lj.into());
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

/// Same contract as [`crate::reference::matmul_bt`]: `c[b] = a[b] · b[b]ᵀ`
/// with `b: [batch, n, k]` (the layout weights are stored in).
///
/// Every output entry is a dot product of two contiguous rows, so the
/// weight is streamed once, in place, and the work splits over the output
/// entries even for a single input row (batch-1 inference, where the
/// row-parallel [`matmul`] would run on one thread).
pub fn matmul_bt<T, A, B>(a: &[A], b: &[B], batch: usize, m: usize, k: usize, n: usize) -> Vec<T>
where
    T: Scalar,
    A: Copy + Send + Sync + Into<T>,
    B: Copy + Send + Sync + Into<T>,
{
    let mut c = vec![T::ZERO; batch * m * n];
    let entry = |idx: usize| -> T {
        let (bi, i, j) = (idx / (m * n), (idx / n) % m, idx % n);
        let a_row = &a[(bi * m + i) * k..(bi * m + i + 1) * k];
        let b_row = &b[(bi * n + j) * k..(bi * n + j + 1) * k];
        a_row.iter().zip(b_row).fold(T::ZERO, |acc, (&x, &y)| acc.mul_add(x.into(), y.into()))
    };
    // Below this many multiply-adds, thread start-up costs more than it saves.
    if batch * m * n * k < 1 << 16 {
        c.iter_mut().enumerate().for_each(|(idx, v)| *v = entry(idx));
    } else {
        c.par_iter_mut().enumerate().with_min_len(16).for_each(|(idx, v)| *v = entry(idx));
    }
    c
}
