//! Tensor-code PCS: completeness for batches and sizes, and rejection of
//! wrong values, altered combined rows, altered columns and Merkle paths,
//! and openings against another commitment.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p3_field::{BasedVectorSpace, PrimeCharacteristicRing};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zkml_proof::pcs::{
    Commitment, MultilinearPcs, OpeningClaim, OpeningProof, PcsError, ProverData, TensorPcs,
};
use zkml_proof::{EF, F, Poseidon2Transcript, mle};

fn rand_ext(rng: &mut StdRng) -> EF {
    EF::from_basis_coefficients_fn(|_| F::from_u64(rng.random()))
}

fn polys(n: usize, k: usize, seed: u64) -> Vec<Vec<F>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..k).map(|_| (0..1usize << n).map(|_| F::from_u64(rng.random())).collect()).collect()
}

fn open(pcs: &TensorPcs, comm: &Commitment, data: &ProverData, point: &[EF]) -> (Vec<EF>, OpeningProof) {
    let mut t = Poseidon2Transcript::new(b"pcs-test");
    pcs.open(comm, data, point, &mut t).unwrap()
}

fn verify(
    pcs: &TensorPcs,
    comm: &Commitment,
    n: usize,
    k: usize,
    point: &[EF],
    values: &[EF],
    proof: &OpeningProof,
) -> Result<(), PcsError> {
    let mut t = Poseidon2Transcript::new(b"pcs-test");
    pcs.verify(comm, &OpeningClaim { num_vars: n, num_polys: k, point, values }, proof, &mut t)
}

#[test]
fn completeness_for_sizes_and_batches() {
    for pcs in [TensorPcs::default(), TensorPcs::for_random_points()] {
        completeness(pcs);
    }
}

fn completeness(pcs: TensorPcs) {
    let mut rng = StdRng::seed_from_u64(1);
    for (n, k) in [(0, 1), (1, 1), (2, 3), (5, 1), (8, 2), (11, 4), (14, 1)] {
        let ps = polys(n, k, n as u64);
        let (comm, data) = pcs.commit(ps.clone()).unwrap();
        let point: Vec<EF> = (0..n).map(|_| rand_ext(&mut rng)).collect();
        let (values, proof) = open(&pcs, &comm, &data, &point);
        for (p, v) in ps.iter().zip(&values) {
            assert_eq!(mle::evaluate(p, &point), *v);
        }
        verify(&pcs, &comm, n, k, &point, &values, &proof).unwrap_or_else(|e| panic!("n={n} k={k}: {e}"));
    }
}

#[test]
fn weights_committed_once_open_at_many_points() {
    let pcs = TensorPcs::default();
    let ps = polys(10, 2, 7);
    let (comm, data) = pcs.commit(ps).unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..5 {
        let point: Vec<EF> = (0..10).map(|_| rand_ext(&mut rng)).collect();
        let (values, proof) = open(&pcs, &comm, &data, &point);
        verify(&pcs, &comm, 10, 2, &point, &values, &proof).unwrap();
    }
}

#[test]
fn every_kind_of_tampering_is_rejected() {
    for pcs in [TensorPcs::default(), TensorPcs::for_random_points()] {
        tampering(pcs);
    }
}

fn tampering(pcs: TensorPcs) {
    let n = 9;
    let ps = polys(n, 2, 3);
    let (comm, data) = pcs.commit(ps.clone()).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let point: Vec<EF> = (0..n).map(|_| rand_ext(&mut rng)).collect();
    let (values, proof) = open(&pcs, &comm, &data, &point);
    verify(&pcs, &comm, n, 2, &point, &values, &proof).unwrap();

    // Wrong claimed value (of either polynomial).
    for i in 0..2 {
        let mut v = values.clone();
        v[i] += EF::ONE;
        assert!(verify(&pcs, &comm, n, 2, &point, &v, &proof).is_err());
    }
    // Altered combined rows, columns: many random single-element changes.
    let mut accepted = 0;
    for trial in 0..600 {
        let mut bad = proof.clone();
        match trial % 3 {
            0 => {
                let i = rng.random_range(0..bad.u_eval.len());
                bad.u_eval[i] += rand_ext(&mut rng);
            }
            1 if !bad.u_proximity.is_empty() => {
                let i = rng.random_range(0..bad.u_proximity.len());
                bad.u_proximity[i] += rand_ext(&mut rng);
            }
            _ => {
                let q = rng.random_range(0..bad.columns.len());
                let i = rng.random_range(0..bad.columns[q].len());
                bad.columns[q][i] += F::from_u64(rng.random_range(1..u64::MAX / 2));
            }
        }
        if verify(&pcs, &comm, n, 2, &point, &values, &bad).is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 0);
    // Another commitment, or another point.
    let (other, _) = pcs.commit(polys(n, 2, 99)).unwrap();
    assert!(verify(&pcs, &other, n, 2, &point, &values, &proof).is_err());
    let mut p2 = point.clone();
    p2[0] += EF::ONE;
    assert!(verify(&pcs, &comm, n, 2, &p2, &values, &proof).is_err());
    // Wrong statement shapes are errors.
    assert!(verify(&pcs, &comm, n + 1, 2, &point, &values, &proof).is_err());
    assert!(verify(&pcs, &comm, n, 3, &point, &values, &proof).is_err());
}

/// A prover that commits to one polynomial and answers with the combined
/// row of another (consistent with the claimed value) is caught by the
/// column checks.
#[test]
fn substituted_polynomial_is_caught() {
    let pcs = TensorPcs::default();
    let n = 8;
    let honest = polys(n, 1, 5);
    let fake = polys(n, 1, 6);
    let (comm, data) = pcs.commit(honest).unwrap();
    let (fcomm, fdata) = pcs.commit(fake.clone()).unwrap();
    let mut rng = StdRng::seed_from_u64(8);
    let point: Vec<EF> = (0..n).map(|_| rand_ext(&mut rng)).collect();
    // Build the fake proof on the fake commitment but claim the honest root.
    let (fvalues, mut fproof) = open(&pcs, &fcomm, &fdata, &point);
    assert!(verify(&pcs, &comm, n, 1, &point, &fvalues, &fproof).is_err());
    // Keep honest Merkle columns but the fake combined rows.
    let (_, hproof) = open(&pcs, &comm, &data, &point);
    fproof.columns = hproof.columns;
    fproof.merkle = hproof.merkle;
    assert!(verify(&pcs, &comm, n, 1, &point, &fvalues, &fproof).is_err());
}

#[test]
fn bad_batches_are_refused() {
    let pcs = TensorPcs::default();
    assert!(pcs.commit(vec![]).is_err());
    assert!(pcs.commit(vec![vec![F::ONE; 3]]).is_err());
    assert!(pcs.commit(vec![vec![F::ONE; 4], vec![F::ONE; 8]]).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn completeness_on_random_batches(n in 0usize..11, k in 1usize..4, seed in any::<u64>(), random_points in any::<bool>()) {
            let pcs = if random_points { TensorPcs::for_random_points() } else { TensorPcs::default() };
            let ps = polys(n, k, seed);
            let (comm, data) = pcs.commit(ps.clone()).unwrap();
            let mut rng = StdRng::seed_from_u64(seed ^ 1);
            let point: Vec<EF> = (0..n).map(|_| rand_ext(&mut rng)).collect();
            let (values, proof) = open(&pcs, &comm, &data, &point);
            for (p, v) in ps.iter().zip(&values) {
                prop_assert_eq!(mle::evaluate(p, &point), *v);
            }
            prop_assert!(verify(&pcs, &comm, n, k, &point, &values, &proof).is_ok());
        }
    }
}

#[test]
fn parameter_sets_reach_100_bits_in_the_query_phase() {
    for pcs in [TensorPcs::default(), TensorPcs::for_random_points()] {
        let bits = pcs.query_security_bits();
        assert!(bits >= 100.0, "{pcs:?}: {bits}");
    }
    // One query fewer would not.
    let weaker = TensorPcs { num_queries: 147, ..TensorPcs::default() };
    assert!(weaker.query_security_bits() < 100.0);
}
