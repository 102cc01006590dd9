//! Transcript behaviour the protocols rely on.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p3_field::PrimeCharacteristicRing;
use zkml_proof::{EF, F, KeccakTranscript, Poseidon2Transcript, Transcript};

#[test]
fn deterministic_and_sensitive_to_everything_absorbed() {
    let run = |domain: &[u8], label: &[u8], x: u64, bytes: &[u8]| {
        let mut t = Poseidon2Transcript::new(domain);
        t.label(label);
        t.absorb_base(&[F::from_u64(x)]);
        t.absorb_bytes(bytes);
        t.challenge_ext()
    };
    let base = run(b"zkml", b"step", 1, b"abc");
    assert_eq!(base, run(b"zkml", b"step", 1, b"abc"));
    assert_ne!(base, run(b"zkmL", b"step", 1, b"abc"));
    assert_ne!(base, run(b"zkml", b"stex", 1, b"abc"));
    assert_ne!(base, run(b"zkml", b"step", 2, b"abc"));
    assert_ne!(base, run(b"zkml", b"step", 1, b"abd"));
    // Length-prefixing: a trailing zero byte is not the same message.
    assert_ne!(base, run(b"zkml", b"step", 1, b"abc\0"));
}

#[test]
fn successive_challenges_differ_and_indices_are_in_range() {
    let mut t = Poseidon2Transcript::new(b"zkml");
    let cs = t.challenges_ext(8);
    for i in 0..8 {
        for j in 0..i {
            assert_ne!(cs[i], cs[j]);
        }
    }
    assert!(cs.iter().all(|&c| c != EF::ZERO));
    for _ in 0..100 {
        assert!(t.challenge_bits(10) < 1 << 10);
    }
}

#[test]
fn keccak_transcript_behaves_alike() {
    let run = |x: u64| {
        let mut t = KeccakTranscript::new(b"zkml");
        t.absorb_base(&[F::from_u64(x)]);
        (t.challenge_ext(), t.challenge_ext(), t.challenge_bits(12))
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1).0, run(2).0);
    assert_ne!(run(1).0, run(1).1);
    assert!(run(1).2 < 1 << 12);
}

/// Protocols are generic over the transcript: a sumcheck proved with one
/// transcript verifies with the same kind and not with the other.
#[test]
fn protocols_run_over_either_transcript() {
    use zkml_proof::sumcheck::{self, Table, Term};
    let a: Vec<F> = (0..16u64).map(F::from_u64).collect();
    let claim: EF = a.iter().map(|&x| EF::from(x * x)).sum();
    let terms = [Term { coeff: EF::ONE, factors: vec![0, 0] }];
    let (proof, _) =
        sumcheck::prove(vec![Table::Base(a)], &terms, claim, &mut KeccakTranscript::new(b"t")).unwrap();
    assert!(sumcheck::verify(4, 1, &terms, claim, &proof, &mut KeccakTranscript::new(b"t")).is_ok());
    assert!(sumcheck::verify(4, 1, &terms, claim, &proof, &mut Poseidon2Transcript::new(b"t")).is_err());
}
