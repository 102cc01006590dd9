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

criterion_group!(benches, bench_matmul);
criterion_main!(benches);
