//! Fiat–Shamir transcripts.
//!
//! Every prover message is absorbed before any challenge that depends on it;
//! this is the caller's duty, and the verifier mirrors the prover's calls
//! exactly. Each protocol step starts with a domain-separation label, so two
//! steps that absorb the same values still draw different challenges.
//!
//! The default transcript is a Poseidon2 duplex sponge over Goldilocks
//! (width 12, rate 8, capacity 4 field elements ≈ 256 bits), from
//! `p3-challenger`: arithmetic-friendly, so a recursive verifier can replay
//! it cheaply.

use crate::{EF, F};
use p3_challenger::{
    CanSampleBits, DuplexChallenger, FieldChallenger, HashChallenger, SerializingChallenger64,
};
use p3_field::{BasedVectorSpace, PrimeCharacteristicRing, PrimeField64};
use p3_goldilocks::{Poseidon2Goldilocks, default_goldilocks_poseidon2_12};
use p3_keccak::Keccak256Hash;

/// What protocols need from a Fiat–Shamir transcript.
pub trait Transcript: Clone {
    /// Starts a protocol step (domain separation).
    fn label(&mut self, label: &[u8]);
    fn absorb_base(&mut self, xs: &[F]);
    fn absorb_ext(&mut self, xs: &[EF]);
    /// Arbitrary bytes (digests, encodings), length-prefixed.
    fn absorb_bytes(&mut self, bytes: &[u8]);
    fn challenge_ext(&mut self) -> EF;
    /// A uniform index below `2^bits`.
    fn challenge_bits(&mut self, bits: usize) -> usize;

    fn challenges_ext(&mut self, n: usize) -> Vec<EF> {
        (0..n).map(|_| self.challenge_ext()).collect()
    }

    /// Absorbs a long vector (a PCS's combined rows: thousands of elements)
    /// through its BLAKE3 digest rather than element by element: the
    /// transcript then binds the vector by BLAKE3's collision resistance
    /// (128 bits), and a 2^14-element row costs one fast hash instead of
    /// ~4000 sponge permutations. Short vectors are absorbed directly.
    fn absorb_ext_digest(&mut self, v: &[EF]) {
        if v.len() <= 16 {
            return self.absorb_ext(v);
        }
        let mut h = blake3::Hasher::new();
        h.update(&(v.len() as u64).to_le_bytes());
        for x in v {
            let coeffs: &[F] = x.as_basis_coefficients_slice();
            for c in coeffs {
                h.update(&c.as_canonical_u64().to_le_bytes());
            }
        }
        self.absorb_bytes(h.finalize().as_bytes());
    }
}

type Sponge = DuplexChallenger<F, Poseidon2Goldilocks<12>, 12, 8>;
type KeccakSponge = SerializingChallenger64<F, HashChallenger<u8, Keccak256Hash, 32>>;

/// A [`Transcript`] over any Plonky3 field challenger.
#[derive(Clone)]
pub struct ChallengerTranscript<C> {
    challenger: C,
}

/// Poseidon2 duplex transcript (the default).
pub type Poseidon2Transcript = ChallengerTranscript<Sponge>;

/// Keccak-256 transcript (hash chain over the serialised messages): the
/// choice when the verifier runs on a chain with a Keccak precompile.
pub type KeccakTranscript = ChallengerTranscript<KeccakSponge>;

impl<C> std::fmt::Debug for ChallengerTranscript<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengerTranscript").field("challenger", &std::any::type_name::<C>()).finish()
    }
}

impl Poseidon2Transcript {
    /// A transcript for protocol `domain` (e.g. `b"zkml-v1"`).
    pub fn new(domain: &[u8]) -> Self {
        Self::with_challenger(Sponge::new(default_goldilocks_poseidon2_12()), domain)
    }
}

impl KeccakTranscript {
    /// A transcript for protocol `domain`.
    pub fn new(domain: &[u8]) -> Self {
        Self::with_challenger(KeccakSponge::from_hasher(vec![], Keccak256Hash), domain)
    }
}

impl<C> ChallengerTranscript<C>
where
    Self: Transcript,
{
    fn with_challenger(challenger: C, domain: &[u8]) -> Self {
        let mut t = ChallengerTranscript { challenger };
        t.label(domain);
        t
    }
}

/// Packs bytes into field elements, 7 bytes each (always below `p`), after a
/// length element, so that distinct byte strings absorb distinctly.
fn bytes_to_fields(bytes: &[u8]) -> Vec<F> {
    let mut v = vec![F::from_u64(bytes.len() as u64)];
    v.extend(bytes.chunks(7).map(|c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        F::from_u64(u64::from_le_bytes(w))
    }));
    v
}

impl<C> Transcript for ChallengerTranscript<C>
where
    C: FieldChallenger<F> + CanSampleBits<usize> + Clone,
{
    fn label(&mut self, label: &[u8]) {
        // A distinct tag keeps labels apart from data of the same bytes.
        self.challenger.observe(F::from_u64(0x004c_4142_454c)); // "LABEL"
        self.challenger.observe_slice(&bytes_to_fields(label));
    }
    fn absorb_base(&mut self, xs: &[F]) {
        self.challenger.observe_slice(xs);
    }
    fn absorb_ext(&mut self, xs: &[EF]) {
        for &x in xs {
            self.challenger.observe_algebra_element(x);
        }
    }
    fn absorb_bytes(&mut self, bytes: &[u8]) {
        self.challenger.observe_slice(&bytes_to_fields(bytes));
    }
    fn challenge_ext(&mut self) -> EF {
        self.challenger.sample_algebra_element()
    }
    fn challenge_bits(&mut self, bits: usize) -> usize {
        self.challenger.sample_bits(bits)
    }
}
