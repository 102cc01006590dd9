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
use zkml_proof::store::Source;
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
        for (i, (p, v)) in ps.iter().zip(&values).enumerate() {
            assert_eq!(mle::evaluate(p, &point), *v);
            // The code is systematic: the message is read back from it.
            assert_eq!(&data.poly(i), p);
        }
        verify(&pcs, &comm, n, k, &point, &values, &proof).unwrap_or_else(|e| panic!("n={n} k={k}: {e}"));
    }
}

/// Prover data written out and read back, from memory and from a file at
/// offsets (as `zkrt` reads it from a plan), opens exactly like the
/// original.
#[test]
fn stored_prover_data_opens_identically() {
    for pcs in [TensorPcs::default(), TensorPcs::for_random_points()] {
        for (n, k) in [(0, 1), (7, 2), (13, 1)] {
            let (comm, data) = pcs.commit(polys(n, k, 11)).unwrap();
            let mut bytes = vec![7u8; 64]; // data need not start at 0
            data.write(&mut bytes);
            bytes.extend_from_slice(&[1, 2, 3]);
            let end_expected = bytes.len() - 3;
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, &bytes).unwrap();
            let sources =
                [Source::Memory(std::sync::Arc::new(bytes.clone())), Source::File(std::sync::Arc::new(file))];
            let mut rng = StdRng::seed_from_u64(3);
            let point: Vec<EF> = (0..n).map(|_| rand_ext(&mut rng)).collect();
            let (v1, p1) = open(&pcs, &comm, &data, &point);
            let mut back = None;
            for src in &sources {
                let (b, end) = ProverData::read(src, 64).unwrap();
                assert_eq!(end, end_expected);
                assert_eq!(b.root(), comm);
                let (v2, p2) = open(&pcs, &comm, &b, &point);
                assert_eq!(v1, v2);
                assert_eq!(
                    zkml_proof::encoding::encode(&p1).unwrap(),
                    zkml_proof::encoding::encode(&p2).unwrap()
                );
                back = Some(b);
            }
            let back = back.unwrap();
            // Truncated or inconsistent stored data is an error, not a panic.
            for cut in [65, 64 + 40, end_expected - 1] {
                let short = Source::Memory(std::sync::Arc::new(bytes[..cut].to_vec()));
                assert!(ProverData::read(&short, 64).is_err(), "cut at {cut}");
            }
            let mut bad = bytes.clone();
            bad[64 + 8] = 0; // zero polynomials
            let bad = Source::Memory(std::sync::Arc::new(bad));
            assert!(ProverData::read(&bad, 64).is_err());
            // Opening with other parameters than the data was committed with.
            let other = TensorPcs { log_blowup: pcs.log_blowup + 1, ..pcs };
            let mut t = Poseidon2Transcript::new(b"pcs-test");
            assert!(other.open(&comm, &back, &point, &mut t).is_err());
        }
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

mod multi {
    use super::*;
    use zkml_proof::pcs::MultiOpeningProof;

    /// Points as the packed openings make them: some with Boolean leading
    /// coordinates (a slot prefix, an embedding row), some fully random.
    fn points(n: usize, m: usize, rng: &mut StdRng) -> Vec<Vec<EF>> {
        (0..m)
            .map(|j| {
                let lead = if j % 2 == 0 { (j / 2).min(n) } else { 0 };
                (0..n)
                    .map(|i| {
                        if i < lead {
                            if rng.random::<bool>() { EF::ONE } else { EF::ZERO }
                        } else {
                            rand_ext(rng)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn verify_multi(
        pcs: &TensorPcs,
        comm: &Commitment,
        n: usize,
        pts: &[Vec<EF>],
        vals: &[EF],
        proof: &MultiOpeningProof,
    ) -> Result<(), PcsError> {
        let mut t = Poseidon2Transcript::new(b"pcs-multi");
        pcs.verify_multi(comm, n, pts, vals, proof, &mut t)
    }

    #[test]
    fn multi_point_openings_are_complete() {
        let pcs = TensorPcs::for_random_points();
        let mut rng = StdRng::seed_from_u64(21);
        for (n, m) in [(0, 1), (3, 2), (9, 5), (12, 1), (16, 7)] {
            let ps = polys(n, 1, n as u64 + 100);
            let (comm, data) = pcs.commit(ps.clone()).unwrap();
            let pts = points(n, m, &mut rng);
            let mut t = Poseidon2Transcript::new(b"pcs-multi");
            let (vals, proof) = pcs.open_multi(&comm, &data, &pts, &mut t).unwrap();
            for (z, v) in pts.iter().zip(&vals) {
                assert_eq!(mle::evaluate(&ps[0], z), *v, "n={n}");
            }
            verify_multi(&pcs, &comm, n, &pts, &vals, &proof).unwrap_or_else(|e| panic!("n={n} m={m}: {e}"));
        }
    }

    #[test]
    fn multi_point_tampering_is_rejected() {
        let pcs = TensorPcs::for_random_points();
        let mut rng = StdRng::seed_from_u64(22);
        let n = 11;
        let (comm, data) = pcs.commit(polys(n, 1, 5)).unwrap();
        let pts = points(n, 4, &mut rng);
        let mut t = Poseidon2Transcript::new(b"pcs-multi");
        let (vals, proof) = pcs.open_multi(&comm, &data, &pts, &mut t).unwrap();
        verify_multi(&pcs, &comm, n, &pts, &vals, &proof).unwrap();
        for j in 0..vals.len() {
            let mut v = vals.clone();
            v[j] += EF::ONE;
            assert!(verify_multi(&pcs, &comm, n, &pts, &v, &proof).is_err());
        }
        let mut accepted = 0;
        for trial in 0..300 {
            let mut bad = proof.clone();
            match trial % 3 {
                0 => {
                    let j = rng.random_range(0..bad.h.len());
                    let i = rng.random_range(0..bad.h[j].len());
                    bad.h[j][i] += rand_ext(&mut rng);
                }
                1 => {
                    let i = rng.random_range(0..bad.u.len());
                    bad.u[i] += rand_ext(&mut rng);
                }
                _ => {
                    let q = rng.random_range(0..bad.columns.len());
                    let i = rng.random_range(0..bad.columns[q].len());
                    bad.columns[q][i] += F::ONE;
                }
            }
            accepted += usize::from(verify_multi(&pcs, &comm, n, &pts, &vals, &bad).is_ok());
        }
        assert_eq!(accepted, 0);
        // Another commitment, another point, a missing claim.
        let (other, _) = pcs.commit(polys(n, 1, 6)).unwrap();
        assert!(verify_multi(&pcs, &other, n, &pts, &vals, &proof).is_err());
        let mut p2 = pts.clone();
        p2[1][n - 1] += EF::ONE;
        assert!(verify_multi(&pcs, &comm, n, &p2, &vals, &proof).is_err());
        assert!(verify_multi(&pcs, &comm, n, &pts[1..], &vals[1..], &proof).is_err());
    }
}
