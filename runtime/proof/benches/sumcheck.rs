//! Criterion benches: MLE evaluation and product sumcheck over 2^n points.
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use p3_field::PrimeCharacteristicRing;
use zkml_proof::logup;
use zkml_proof::sumcheck::{self, Table, Term};
use zkml_proof::{EF, F, KeccakTranscript, Poseidon2Transcript, Transcript, mle};

fn table(n: usize, seed: u64) -> Vec<F> {
    let mut s = seed;
    (0..1usize << n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            F::from_u64(s >> 1)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("sumcheck_product_deg2_prove");
    g.sample_size(10);
    for n in [16usize, 20] {
        let (a, b) = (table(n, 1), table(n, 2));
        let claim: EF = a.iter().zip(&b).map(|(&x, &y)| EF::from(x * y)).sum();
        let terms = [Term { coeff: EF::ONE, factors: vec![0, 1] }];
        // The prover owns its tables: cloning them is setup, not proving.
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, _| {
            bch.iter_batched(
                || vec![Table::Base(a.clone()), Table::Base(b.clone())],
                |tables| {
                    let mut t = Poseidon2Transcript::new(b"bench");
                    sumcheck::prove(tables, &terms, claim, &mut t).expect("prove")
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
    let mut g = c.benchmark_group("mle_evaluate");
    g.sample_size(10);
    for n in [20usize, 22] {
        let f = table(n, 3);
        let z: Vec<EF> = (0..n).map(|i| EF::from(F::from_u64(i as u64 * 7 + 3))).collect();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, _| bch.iter(|| mle::evaluate(&f, &z)));
    }
    g.finish();
}

fn bench_logup(c: &mut Criterion) {
    let mut g = c.benchmark_group("logup_gkr_2^20_into_2^16");
    g.sample_size(10);
    let table: Vec<F> = (0..1u64 << 16).map(F::from_u64).collect();
    let col: Vec<F> = table_idx(20).into_iter().map(|i| table[i]).collect();
    let mult = logup::multiplicities(&[&col], &[&table]).expect("in table");
    g.bench_function("prove", |b| {
        b.iter(|| {
            let mut t = Poseidon2Transcript::new(b"bench");
            logup::prove(&[&col], &[&table], &mult, &mut t).expect("prove")
        })
    });
    // The path of instances above the one-pole volume, on the same data.
    g.bench_function("prove_two_poles", |b| {
        b.iter(|| {
            let mut t = Poseidon2Transcript::new(b"bench");
            logup::prove_with_poles(&[&col], &[&table], &mult, 2, &mut t).expect("prove")
        })
    });
    let mut t = Poseidon2Transcript::new(b"bench");
    let (proof, _) = logup::prove(&[&col], &[&table], &mult, &mut t).expect("prove");
    g.bench_function("verify", |b| {
        b.iter(|| {
            let mut t = Poseidon2Transcript::new(b"bench");
            logup::verify(20, 16, 1, &proof, &mut t).expect("verify")
        })
    });
    g.finish();
}

fn table_idx(log_n: usize) -> Vec<usize> {
    let mut s = 7u64;
    (0..1usize << log_n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 48) as usize
        })
        .collect()
}

/// The transcript workload of a proof: many small absorbs, one challenge each.
fn bench_transcripts(c: &mut Criterion) {
    fn run<T: Transcript>(mut t: T) -> EF {
        let mut acc = EF::ZERO;
        for i in 0..1000u64 {
            t.absorb_ext(&[EF::from(F::from_u64(i)), acc, acc]);
            acc = t.challenge_ext();
        }
        acc
    }
    let mut g = c.benchmark_group("transcript_1000_rounds");
    g.bench_function("poseidon2", |b| b.iter(|| run(Poseidon2Transcript::new(b"bench"))));
    g.bench_function("keccak", |b| b.iter(|| run(KeccakTranscript::new(b"bench"))));
    g.finish();
}

criterion_group!(proof, benches, bench_logup, bench_transcripts);
criterion_main!(proof);
