//! Serialized proofs: a round trip is exact, and flipping any byte of the
//! encoding either fails to decode or yields a proof the verifier rejects.
//! Never a panic, never an acceptance.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p3_field::PrimeCharacteristicRing;
use zkml_proof::encoding::{decode, encode};
use zkml_proof::logup::{self, LogUpProof};
use zkml_proof::pcs::{MultilinearPcs, OpeningClaim, OpeningProof, TensorPcs};
use zkml_proof::sumcheck::{self, SumcheckProof, Table, Term};
use zkml_proof::{EF, F, Poseidon2Transcript, Transcript};

/// Flips every byte (xor 0x01 and 0xff) and counts acceptances.
fn flips<P: serde::Serialize + serde::de::DeserializeOwned>(
    proof: &P,
    accepts: impl Fn(&P) -> bool,
) -> (usize, usize) {
    let bytes = encode(proof).unwrap();
    let back: P = decode(&bytes).unwrap();
    assert_eq!(encode(&back).unwrap(), bytes, "round trip");
    assert!(accepts(&back), "honest proof must verify after a round trip");
    let (mut tried, mut accepted) = (0, 0);
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            tried += 1;
            if decode::<P>(&b).is_ok_and(|p| accepts(&p)) {
                accepted += 1;
            }
        }
    }
    // Truncations and trailing garbage never decode into something accepted.
    for len in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        if let Ok(p) = decode::<P>(&bytes[..len]) {
            assert!(!accepts(&p));
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode::<P>(&longer).is_err());
    (tried, accepted)
}

#[test]
fn sumcheck_proof_bytes() {
    let a: Vec<F> = (0..1024u64).map(|i| F::from_u64(i * i + 1)).collect();
    let b: Vec<F> = (0..1024u64).map(|i| F::from_u64(3 * i + 7)).collect();
    let claim: EF = a.iter().zip(&b).map(|(&x, &y)| EF::from(x * y * y)).sum();
    let terms = [Term { coeff: EF::ONE, factors: vec![0, 1, 1] }];
    let mut t = Poseidon2Transcript::new(b"enc");
    let (proof, _) = sumcheck::prove(vec![Table::Base(a), Table::Base(b)], &terms, claim, &mut t).unwrap();
    let (tried, accepted) = flips::<SumcheckProof>(&proof, |p| {
        sumcheck::verify(10, 2, &terms, claim, p, &mut Poseidon2Transcript::new(b"enc")).is_ok()
    });
    assert!(tried > 1000);
    assert_eq!(accepted, 0);
}

#[test]
fn logup_proof_bytes() {
    let table: Vec<F> = (0..16u64).map(F::from_u64).collect();
    let col: Vec<F> = (0..64u64).map(|i| F::from_u64((i * 5) % 16)).collect();
    let mult = logup::multiplicities(&[&col], &[&table]).unwrap();
    let start = || {
        let mut t = Poseidon2Transcript::new(b"enc");
        t.absorb_base(&col);
        t.absorb_base(&mult);
        t
    };
    let (proof, _) = logup::prove(&[&col], &[&table], &mult, &mut start()).unwrap();
    let (tried, accepted) = flips::<LogUpProof>(&proof, |p| logup::verify(6, 4, 1, p, &mut start()).is_ok());
    assert!(tried > 2000);
    assert_eq!(accepted, 0);
}

#[test]
fn pcs_proof_bytes() {
    let pcs = TensorPcs { num_queries: 20, ..TensorPcs::default() };
    let poly: Vec<F> = (0..64u64).map(|i| F::from_u64(i * 31 + 2)).collect();
    let (comm, data) = pcs.commit(vec![poly]).unwrap();
    let point: Vec<EF> = (0..6u64).map(|i| EF::from(F::from_u64(i + 9))).collect();
    let (values, proof) = pcs.open(&comm, &data, &point, &mut Poseidon2Transcript::new(b"enc")).unwrap();
    let (tried, accepted) = flips::<OpeningProof>(&proof, |p| {
        pcs.verify(
            &comm,
            &OpeningClaim { num_vars: 6, num_polys: 1, point: &point, values: &values },
            p,
            &mut Poseidon2Transcript::new(b"enc"),
        )
        .is_ok()
    });
    assert!(tried > 1000);
    assert_eq!(accepted, 0);
}
