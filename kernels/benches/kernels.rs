//! Criterion benches for the CPU kernels against their references.
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use zkml_kernels::{EinsumSpec, cpu, reference};

fn data(n: usize, seed: u32) -> Vec<f32> {
    // Small deterministic LCG: benches need repeatable inputs, not quality randomness.
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

fn bench_matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("einsum_mk_kn");
    for &n in &[64usize, 256] {
        let spec = EinsumSpec::parse("mk,kn->mn").expect("valid equation");
        let (a, b) = (data(n * n, 1), data(n * n, 2));
        let shape = [n, n];
        g.bench_with_input(BenchmarkId::new("cpu", n), &n, |bch, _| {
            bch.iter(|| cpu::einsum(&spec, &[&a, &b], &[&shape, &shape]))
        });
        if n <= 64 {
            g.bench_with_input(BenchmarkId::new("reference", n), &n, |bch, _| {
                bch.iter(|| reference::einsum(&spec, &[&a, &b], &[&shape, &shape]))
            });
        }
    }
    g.finish();
}

/// Batch-1 inference through a 1024 × 1024 weight stored `[out, in]`, the
/// quantized MLP's layer: `i64` activations against the weight as `i64`
/// (transposed for the row-parallel product before `einsum2`) and as the
/// 16-bit storage a plan now keeps (multiplied in place by `matmul_bt`).
fn bench_weight_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("linear_1x1024x1024_i64");
    let spec = EinsumSpec::parse("mk,nk->mn").expect("valid equation");
    let x: Vec<i64> = (0..1024).map(|i| (i * 37 % 2001) - 1000).collect();
    let w16: Vec<i16> = (0..1024 * 1024).map(|i| ((i * 7919 % 65535) - 32767) as i16).collect();
    let w64: Vec<i64> = w16.iter().map(|&v| i64::from(v)).collect();
    let shapes: [&[usize]; 2] = [&[1, 1024], &[1024, 1024]];
    g.bench_function("weight_i64_transposed", |b| {
        b.iter(|| {
            let wt = cpu::transpose(&w64, &[1024, 1024], &[1, 0]);
            cpu::matmul::<i64, i64, i64>(&x, &wt, 1, 1, 1024, 1024)
        })
    });
    g.bench_function("weight_i16_einsum2", |b| {
        b.iter(|| cpu::einsum2::<i64, _, _>(&spec, &x, &w16, &shapes))
    });
    g.finish();
}

criterion_group!(benches, bench_matmul, bench_weight_layer);
criterion_main!(benches);
