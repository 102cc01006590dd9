//! Transcript behaviour the protocols rely on.

use p3_field::PrimeCharacteristicRing;
use zkml_proof::{EF, F, Poseidon2Transcript, Transcript};

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
