/// Batched matrix product `c[b] = a[b] · b[b]` with `a: [batch, m, k]`,
/// `b: [batch, k, n]`, row-major, f64 accumulation.
pub fn matmul(a: &[f32], b: &[f32], batch: usize, m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0f32; batch * m * n];
    for bi in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f64;
                for l in 0..k {
                    acc += a[(bi * m + i) * k + l] as f64 * b[(bi * k + l) * n + j] as f64;
                }
                c[(bi * m + i) * n + j] = acc as f32;
            }
        }
    }
    c
}

/// Batched product with the second operand transposed: `c[b] = a[b] ·
/// b[b]ᵀ` with `a: [batch, m, k]`, `b: [batch, n, k]`: [`matmul`] after a
/// [`super::transpose`] of `b`'s last two axes.
pub fn matmul_bt(a: &[f32], b: &[f32], batch: usize, m: usize, k: usize, n: usize) -> Vec<f32> {
    let bt = super::transpose(b, &[batch, n, k], &[0, 2, 1]);
    matmul(a, &bt, batch, m, k, n)
}
