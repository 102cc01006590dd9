//! The zkml proof-system core over the Goldilocks field.
//!
//! * [`field`]: the base field `F` (Goldilocks, `p = 2^64 - 2^32 + 1`) and the
//!   challenge field `EF = F[X]/(X^2 - 7)`; the embedding of signed
//!   quantized integers.
//! * [`transcript`]: Fiat–Shamir over a Poseidon2 duplex sponge, with
//!   domain-separation labels.
//! * [`mle`]: multilinear extensions (evaluation, folding, eq tables), each
//!   optimised routine beside a naive reference in [`mle::reference`].
//! * [`pcs`]: a tensor-code multilinear PCS over a BLAKE3 [`merkle`]
//!   tree, whose prover data may live in a mapped file ([`store`]).
//! * [`sumcheck`]: sums of products of multilinear polynomials, batching,
//!   and reduction of several evaluation claims to one.
//!
//! Conventions: a multilinear polynomial in `n` variables is given by its
//! `2^n` evaluations on the hypercube, index `i = Σ_k x_k · 2^(n-1-k)`, so
//! variable 0 is the most significant bit and "fixing the first variable"
//! folds the lower half with the upper half.
//!
//! This crate builds without the executor, tract or CUDA: it is what a
//! verifier links.

pub mod encoding;
pub mod field;
pub mod logup;
pub mod merkle;
pub mod mle;
pub mod pcs;
pub mod store;
pub mod sumcheck;
pub mod transcript;

pub use field::{EF, F};
pub use transcript::{KeccakTranscript, Poseidon2Transcript, Transcript};
