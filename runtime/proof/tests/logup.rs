//! logUp-GKR: completeness, true leftover claims, and rejection of every
//! kind of cheating (row outside the table, wrong multiplicities, altered
//! messages).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p3_field::PrimeCharacteristicRing;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zkml_proof::logup::{self, LogUpProof, LookupClaims, LookupError};
use zkml_proof::{EF, F, Poseidon2Transcript, Transcript, mle};

/// A table of `2^log_t` rows (`cols` columns: an index and functions of it)
/// and `2^log_n` random lookups into it.
fn instance(log_n: usize, log_t: usize, cols: usize, seed: u64) -> (Vec<Vec<F>>, Vec<Vec<F>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let f =
        |c: usize, j: u64| F::from_u64(if c == 0 { j } else { (j * j * (c as u64 + 3)) % 1009 + c as u64 });
    let table: Vec<Vec<F>> = (0..cols).map(|c| (0..1u64 << log_t).map(|j| f(c, j)).collect()).collect();
    let picks: Vec<u64> = (0..1usize << log_n).map(|_| rng.random_range(0..1u64 << log_t)).collect();
    let columns: Vec<Vec<F>> = (0..cols).map(|c| picks.iter().map(|&j| f(c, j)).collect()).collect();
    (columns, table)
}

fn refs(v: &[Vec<F>]) -> Vec<&[F]> {
    v.iter().map(|c| c.as_slice()).collect()
}

/// Simulates the commitment of columns and multiplicities before the
/// challenges (the PCS does this in the full protocol).
fn transcript(columns: &[Vec<F>], mult: &[F]) -> Poseidon2Transcript {
    let mut t = Poseidon2Transcript::new(b"logup-test");
    for c in columns {
        t.absorb_base(c);
    }
    t.absorb_base(mult);
    t
}

thread_local! {
    /// Small instances take one pole by their shape; the tests run every
    /// argument with each supported pole count (set per test by
    /// [`each_pole_count`]).
    static POLES_UNDER_TEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `f` once per supported pole count.
fn each_pole_count(f: impl Fn(usize)) {
    for poles in 1..=logup::MAX_POLES {
        POLES_UNDER_TEST.with(|p| p.set(poles));
        f(poles);
    }
}

fn poles() -> usize {
    POLES_UNDER_TEST.with(|p| p.get())
}

fn prove(columns: &[Vec<F>], table: &[Vec<F>], mult: &[F]) -> (LogUpProof, LookupClaims) {
    let mut t = transcript(columns, mult);
    match poles() {
        0 => logup::prove(&refs(columns), &refs(table), mult, &mut t).unwrap(),
        k => logup::prove_with_poles(&refs(columns), &refs(table), mult, k, &mut t).unwrap(),
    }
}

fn verify(
    columns: &[Vec<F>],
    mult: &[F],
    log_n: usize,
    log_t: usize,
    proof: &LogUpProof,
) -> Result<LookupClaims, LookupError> {
    let mut t = transcript(columns, mult);
    match poles() {
        0 => logup::verify(log_n, log_t, columns.len(), proof, &mut t),
        k => logup::verify_with_poles(log_n, log_t, columns.len(), k, proof, &mut t),
    }
}

/// The leftover claims are true evaluations of the data.
fn assert_claims_true(c: &LookupClaims, columns: &[Vec<F>], table: &[Vec<F>], mult: &[F]) {
    for (k, col) in columns.iter().enumerate() {
        assert_eq!(mle::evaluate(col, &c.lookup_point), c.column_evals[k]);
    }
    for (k, col) in table.iter().enumerate() {
        assert_eq!(mle::evaluate(col, &c.table_point), c.table_evals[k]);
    }
    assert_eq!(mle::evaluate(mult, &c.table_point), c.multiplicity_eval);
}

#[test]
fn completeness_across_shapes() {
    each_pole_count(|_| {
        for (log_n, log_t, cols) in
            [(0, 0, 1), (1, 3, 1), (6, 4, 1), (4, 6, 2), (5, 5, 3), (8, 2, 2), (10, 8, 1)]
        {
            let (columns, table) = instance(log_n, log_t, cols, (log_n * 31 + log_t) as u64);
            let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
            let (proof, pc) = prove(&columns, &table, &mult);
            let vc = verify(&columns, &mult, log_n, log_t, &proof)
                .unwrap_or_else(|e| panic!("{log_n},{log_t},{cols}: {e}"));
            assert_eq!(pc, vc);
            assert_claims_true(&vc, &columns, &table, &mult);
        }
    });
}

#[test]
fn range_check_table() {
    // 8-bit range check: table 0..256, lookups of bytes.
    let table = vec![(0..256u64).map(F::from_u64).collect::<Vec<_>>()];
    let columns = vec![(0..1024u64).map(|i| F::from_u64((i * 37) % 256)).collect::<Vec<_>>()];
    let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
    let (proof, _) = prove(&columns, &table, &mult);
    verify(&columns, &mult, 10, 8, &proof).unwrap();
    // 256 is out of range.
    let mut bad = columns.clone();
    bad[0][5] = F::from_u64(256);
    assert_eq!(logup::multiplicities(&refs(&bad), &refs(&table)), Err(LookupError::NotInTable { row: 5 }));
}

#[test]
fn value_outside_the_table_is_rejected() {
    each_pole_count(|_| {
        let (columns, table) = instance(6, 4, 2, 3);
        let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
        // A cheating prover changes one looked-up value to something absent
        // from the table and keeps otherwise-honest multiplicities (or drops the
        // count of the row it replaced): both must fail.
        let mut bad = columns.clone();
        bad[1][7] = F::from_u64(1_000_003);
        let (proof, _) = prove(&bad, &table, &mult);
        assert!(verify(&bad, &mult, 6, 4, &proof).is_err());
        let j = (0..table[0].len())
            .find(|&j| table[0][j] == columns[0][7] && table[1][j] == columns[1][7])
            .unwrap();
        let mut m2 = mult.clone();
        m2[j] -= F::ONE;
        let (proof, _) = prove(&bad, &table, &m2);
        assert!(verify(&bad, &m2, 6, 4, &proof).is_err());
    });
}

#[test]
fn wrong_multiplicities_are_rejected() {
    each_pole_count(|_| {
        let (columns, table) = instance(7, 5, 1, 4);
        let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..50 {
            let mut m = mult.clone();
            let (a, b) = (rng.random_range(0..m.len()), rng.random_range(0..m.len()));
            // Moving a count from one row to another keeps the total: still wrong.
            m[a] += F::ONE;
            m[b] -= F::ONE;
            if a == b {
                continue;
            }
            let (proof, _) = prove(&columns, &table, &m);
            assert!(verify(&columns, &m, 7, 5, &proof).is_err());
        }
    });
}

#[test]
fn thousands_of_message_mutations_are_all_rejected() {
    each_pole_count(|_| {
        let mut rng = StdRng::seed_from_u64(6);
        let (mut accepted, mut tried) = (0, 0);
        for case in 0..10u64 {
            let (log_n, log_t) = (3 + case as usize % 4, 2 + case as usize % 3);
            let (columns, table) = instance(log_n, log_t, 1 + case as usize % 2, case);
            let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
            let (proof, _) = prove(&columns, &table, &mult);
            verify(&columns, &mult, log_n, log_t, &proof).unwrap();
            for _ in 0..250 {
                let mut bad = proof.clone();
                let delta = EF::from(F::from_u64(rng.random_range(1..u64::MAX / 2)));
                let mut slots: Vec<&mut EF> =
                    bad.top.iter_mut().chain(bad.table_top.iter_mut()).flatten().collect();
                for l in bad.layers.iter_mut().chain(bad.table_layers.iter_mut()) {
                    slots.extend(l.rounds.iter_mut().flatten());
                    slots.extend(l.evals.iter_mut());
                }
                slots.extend(bad.column_evals.iter_mut());
                slots.extend(bad.table_evals.iter_mut());
                slots.push(&mut bad.multiplicity_eval);
                let k = rng.random_range(0..slots.len());
                *slots[k] += delta;
                tried += 1;
                if verify(&columns, &mult, log_n, log_t, &bad).is_ok() {
                    accepted += 1;
                }
            }
        }
        assert!(tried >= 2500);
        assert_eq!(accepted, 0, "{accepted} of {tried} mutated proofs accepted");
    });
}

#[test]
fn malformed_proofs_are_errors() {
    each_pole_count(|_| {
        let (columns, table) = instance(4, 3, 1, 8);
        let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
        let (proof, _) = prove(&columns, &table, &mult);
        let mut p = proof.clone();
        p.layers.pop();
        assert!(matches!(verify(&columns, &mult, 4, 3, &p), Err(LookupError::LayerCount { .. })));
        let mut p = proof.clone();
        p.column_evals.push(EF::ONE);
        assert!(matches!(verify(&columns, &mult, 4, 3, &p), Err(LookupError::Shape(_))));
        let mut p = proof.clone();
        p.table_layers.pop();
        assert!(matches!(verify(&columns, &mult, 4, 3, &p), Err(LookupError::LayerCount { .. })));
        let mut p = proof.clone();
        p.top[0][1] = EF::ZERO;
        assert!(matches!(verify(&columns, &mult, 4, 3, &p), Err(LookupError::ZeroDenominator)));
        let mut p = proof;
        p.table_top[0][3] = EF::ZERO;
        assert!(matches!(verify(&columns, &mult, 4, 3, &p), Err(LookupError::ZeroDenominator)));
    });
}

/// The two trees' tops must cancel: moving value from one tree's top to
/// the other's keeps each tree's GKR intact only if the prover can also
/// re-derive the layers, which it cannot (the top is absorbed first).
#[test]
fn swapping_fraction_mass_between_trees_is_rejected() {
    each_pole_count(|poles| {
        let (columns, table) = instance(5, 3, 1, 9);
        let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
        let (proof, _) = prove(&columns, &table, &mult);
        // Same total (p/q unchanged overall): lookup top scaled, table top
        // compensated.
        for pole in 0..poles {
            let mut p = proof.clone();
            let [p0, q0, p1, q1] = p.top[pole];
            let extra = EF::ONE;
            p.top[pole] = [p0 + extra * q0, q0, p1, q1];
            let [pt0, qt0, pt1, qt1] = p.table_top[pole];
            p.table_top[pole] = [pt0 - extra * qt0, qt0, pt1, qt1];
            assert!(verify(&columns, &mult, 5, 3, &p).is_err());
        }
    });
}

/// Every pole's identity is checked on its own: a top whose fractions do
/// not cancel at one pole only is rejected as a nonzero sum.
#[test]
fn each_pole_must_cancel() {
    each_pole_count(|poles| {
        let (columns, table) = instance(6, 4, 1, 10);
        let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
        let (proof, _) = prove(&columns, &table, &mult);
        for pole in 0..poles {
            let mut p = proof.clone();
            p.top[pole][0] += EF::ONE;
            assert!(matches!(verify(&columns, &mult, 6, 4, &p), Err(LookupError::NonZeroSum)), "pole {pole}");
        }
    });
}

/// The pole count is part of the statement's shape: a proof with another
/// number of poles is a shape error, not a weaker check.
#[test]
fn a_proof_with_another_pole_count_is_rejected() {
    let (columns, table) = instance(6, 4, 1, 11);
    let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
    assert_eq!(logup::poles(6, 4, 1), 1);
    let mut t = transcript(&columns, &mult);
    let (two, _) = logup::prove_with_poles(&refs(&columns), &refs(&table), &mult, 2, &mut t).unwrap();
    let mut t = transcript(&columns, &mult);
    assert!(matches!(logup::verify(6, 4, 1, &two, &mut t), Err(LookupError::Shape(_))));
    let mut t = transcript(&columns, &mult);
    let (one, _) = logup::prove(&refs(&columns), &refs(&table), &mult, &mut t).unwrap();
    let mut t = transcript(&columns, &mult);
    assert!(matches!(logup::verify_with_poles(6, 4, 1, 2, &one, &mut t), Err(LookupError::Shape(_))));
    let mut t = transcript(&columns, &mult);
    assert!(matches!(logup::verify_with_poles(6, 4, 1, 3, &one, &mut t), Err(LookupError::Shape(_))));
}

/// One pole up to a volume `N + c·T` of `2^27`, two beyond.
#[test]
fn pole_count_follows_the_volume() {
    assert_eq!(logup::poles(26, 16, 2), 1);
    assert_eq!(logup::poles(26, 26, 1), 1);
    assert_eq!(logup::poles(27, 1, 1), 2);
    assert_eq!(logup::poles(16, 25, 3), 1);
    assert_eq!(logup::poles(16, 26, 2), 2);
    assert_eq!(logup::poles(64, 64, 8), 2);
}

/// The prover's specialised leaf layer (shared numerators, denominators
/// offset per pole) sends what the generic sumcheck verifier expects for
/// every tree shape, including trees with a single layer below the top.
#[test]
fn leaf_layers_of_every_depth_verify() {
    each_pole_count(|_| {
        for log_n in 0..10 {
            for log_t in [0, 1, 2, 5] {
                let (columns, table) = instance(log_n, log_t, 1, 100 + log_n as u64);
                let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
                let (proof, pc) = prove(&columns, &table, &mult);
                let vc = verify(&columns, &mult, log_n, log_t, &proof)
                    .unwrap_or_else(|e| panic!("{log_n},{log_t}: {e}"));
                assert_eq!(pc, vc);
                assert_claims_true(&vc, &columns, &table, &mult);
            }
        }
    });
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn completeness_on_random_instances(log_n in 0usize..8, log_t in 0usize..7, cols in 1usize..4, seed in any::<u64>()) {
            let (columns, table) = instance(log_n, log_t, cols, seed);
            let mult = logup::multiplicities(&refs(&columns), &refs(&table)).unwrap();
            let (proof, _) = prove(&columns, &table, &mult);
            let claims = verify(&columns, &mult, log_n, log_t, &proof).unwrap();
            assert_claims_true(&claims, &columns, &table, &mult);
        }
    }
}
