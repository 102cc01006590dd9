//! Optimised multilinear routines against their naive references.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p3_field::PrimeCharacteristicRing;
use proptest::prelude::*;
use zkml_proof::field::{decode_i64, embed_i64};
use zkml_proof::mle::{self, reference};
use zkml_proof::{EF, F};

fn base(v: &[u64]) -> Vec<F> {
    v.iter().map(|&x| F::from_u64(x)).collect()
}

fn ext(a: u64, b: u64) -> EF {
    EF::from(F::from_u64(a)) + EF::from(F::from_u64(b)) * ext_gen()
}

/// The extension generator `X` (basis element 1).
fn ext_gen() -> EF {
    use p3_field::BasedVectorSpace;
    EF::from_basis_coefficients_fn(|i| if i == 1 { F::ONE } else { F::ZERO })
}

fn point() -> impl Strategy<Value = Vec<EF>> {
    proptest::collection::vec((any::<u64>(), any::<u64>()), 0..7)
        .prop_map(|v| v.into_iter().map(|(a, b)| ext(a, b)).collect())
}

proptest! {
    #[test]
    fn evaluate_matches_reference(z in point(), seed in any::<u64>()) {
        let n = z.len();
        let f: Vec<F> = (0..1u64 << n).map(|i| F::from_u64(seed.wrapping_mul(i + 1).rotate_left(7))).collect();
        prop_assert_eq!(mle::evaluate(&f, &z), reference::evaluate(&f, &z));
        prop_assert_eq!(mle::eq_table(&z), reference::eq_table(&z));
    }

    #[test]
    fn fix_first_matches_reference(v in proptest::collection::vec(any::<u64>(), 1..6), r in (any::<u64>(), any::<u64>())) {
        let n = v.len().next_power_of_two().max(2);
        let f: Vec<EF> = (0..n).map(|i| EF::from(F::from_u64(v[i % v.len()] ^ i as u64))).collect();
        let r = ext(r.0, r.1);
        prop_assert_eq!(mle::fix_first(&f, r), reference::fix_first(&f, r));
        let mut g = f.clone();
        mle::fix_first_in_place(&mut g, r);
        prop_assert_eq!(g, reference::fix_first(&f, r));
    }

    #[test]
    fn evaluation_on_the_hypercube_is_the_table(bits in proptest::collection::vec(any::<bool>(), 1..8), seed in any::<u64>()) {
        let n = bits.len();
        let f: Vec<F> = (0..1u64 << n).map(|i| F::from_u64(seed ^ (i * 0x9e37_79b9))).collect();
        let z: Vec<EF> = bits.iter().map(|&b| if b { EF::ONE } else { EF::ZERO }).collect();
        let idx = bits.iter().fold(0usize, |a, &b| a * 2 + b as usize);
        prop_assert_eq!(mle::evaluate(&f, &z), EF::from(f[idx]));
        prop_assert_eq!(mle::eq_eval(&z, &z), EF::ONE);
    }

    #[test]
    fn signed_embedding_round_trips(q in -(1i64 << 62)..(1i64 << 62), r in -(1i64 << 62)..(1i64 << 62)) {
        prop_assert_eq!(decode_i64(embed_i64(q)), q);
        prop_assert_eq!(decode_i64(embed_i64(q) + embed_i64(r)), q + r);
        prop_assert_eq!(decode_i64(embed_i64(q) * embed_i64(-1)), -q);
    }
}

#[test]
fn large_tables_take_the_parallel_path() {
    // 2^14 entries crosses the parallel threshold in every routine.
    let f = base(&(0..1u64 << 14).map(|i| i * i + 3).collect::<Vec<_>>());
    let z: Vec<EF> = (0..14).map(|i| ext(i + 5, 3 * i + 1)).collect();
    assert_eq!(mle::evaluate(&f, &z), reference::evaluate(&f, &z));
}
