//! Criterion benches of the tensor-code PCS at 2^20 and 2^22 evaluations:
//! commit, open (weights committed once, opened at a fresh point), verify.
//! Proof sizes are printed once per size.
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use p3_field::PrimeCharacteristicRing;
use zkml_proof::pcs::{MultilinearPcs, OpeningClaim, TensorPcs};
use zkml_proof::{EF, F, Poseidon2Transcript, encoding};

fn poly(n: usize) -> Vec<F> {
    let mut s = 11u64;
    (0..1usize << n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            F::from_u64(s >> 1)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    for (label, pcs) in
        [("tensor_pcs", TensorPcs::default()), ("tensor_pcs_random_points", TensorPcs::for_random_points())]
    {
        bench_one(c, label, pcs);
    }
}

fn bench_one(c: &mut Criterion, label: &str, pcs: TensorPcs) {
    let mut g = c.benchmark_group(label);
    g.sample_size(10);
    for n in [20usize, 22] {
        let p = poly(n);
        g.bench_with_input(BenchmarkId::new("commit", n), &n, |b, _| {
            b.iter(|| pcs.commit(vec![p.clone()]).expect("commit"))
        });
        let (comm, data) = pcs.commit(vec![p.clone()]).expect("commit");
        let point: Vec<EF> = (0..n).map(|i| EF::from(F::from_u64(3 * i as u64 + 1))).collect();
        g.bench_with_input(BenchmarkId::new("open", n), &n, |b, _| {
            b.iter(|| pcs.open(&comm, &data, &point, &mut Poseidon2Transcript::new(b"bench")).expect("open"))
        });
        let (values, proof) =
            pcs.open(&comm, &data, &point, &mut Poseidon2Transcript::new(b"bench")).expect("open");
        println!(
            "{label} n={n}: proof {} bytes (u vectors {} + columns {} + merkle {})",
            encoding::size_of(&proof),
            encoding::size_of(&proof.u_eval) + encoding::size_of(&proof.u_proximity),
            encoding::size_of(&proof.columns),
            encoding::size_of(&proof.merkle)
        );
        g.bench_with_input(BenchmarkId::new("verify", n), &n, |b, _| {
            b.iter(|| {
                pcs.verify(
                    &comm,
                    &OpeningClaim { num_vars: n, num_polys: 1, point: &point, values: &values },
                    &proof,
                    &mut Poseidon2Transcript::new(b"bench"),
                )
                .expect("verify")
            })
        });
    }
    g.finish();
}

criterion_group!(pcs, benches);
criterion_main!(pcs);
