//! Pinned proof bytes: every fixture's verifying-key digest and proof
//! (fixed inputs, one and two partitions) hashed and compared with the
//! values recorded here.
//!
//! Proving is deterministic (the transcript is the only source of
//! randomness), so a refactor of the prover or the verifier that keeps the
//! protocol must keep these digests. A deliberate protocol change updates
//! the table; the failure message prints the new rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::partition::split_and_partition;
use zkml_compiler::report::quantize_inputs;
use zkml_protocol::{prove, setup_partitioned, verify};
use zkml_runtime::Executor;
use zkml_tests::{quantized_fixture, random_inputs};

/// `(fixture, colors, vk digest, proof digest)`, the first 16 hex digits.
const PINNED: &[(&str, usize, &str, &str)] = &[
    ("mlp", 1, "3a77a6c93251f5c9", "e0b997ddb706d7e0"),
    ("mlp", 2, "c5785582a590e843", "a9df72edf701b759"),
    ("cnn", 1, "8452d2eeab52fe63", "0c34fb9a44bfba55"),
    ("cnn", 2, "d35065f23d7ef6b8", "90d7759ae9038c87"),
    ("lenet_mnist", 1, "d3204616f4d6b379", "fb9373893c3c4c4a"),
    ("lenet_mnist", 2, "8c3fbc01fa170480", "f9c38d5834f721a8"),
    ("gpt2", 1, "da411ae362edf704", "de13ec3625695240"),
    ("gpt2", 2, "eb3a8a5b9015d994", "c7d1aabb02e4a883"),
    ("llama", 1, "feee0aea9f37cd41", "a0fbc579d804477e"),
    ("llama", 2, "f025b1ace2626978", "85c941fead717a2a"),
];

fn hex16(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[test]
fn fixture_proofs_are_pinned() {
    let mut rows = vec![];
    for name in ["mlp", "cnn", "lenet_mnist", "gpt2", "llama"] {
        let g = quantized_fixture(name);
        let inputs = quantize_inputs(&g, &random_inputs(&g.input_facts(), 11, 50));
        for k in [1, 2] {
            let (g, parts) = split_and_partition(&g, k).unwrap();
            let values = Executor::new(&g).run_all(&inputs).unwrap();
            let pk = setup_partitioned(&g, &parts, "test").unwrap();
            let (proof, _) = prove(&pk, &values).unwrap();
            let ins: Vec<_> = g.inputs().iter().map(|&i| values[i][0].clone()).collect();
            let outs: Vec<_> = g.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
            verify(&pk.vk, &ins, &outs, &proof).unwrap();
            let bytes = proof.to_bytes().unwrap();
            rows.push((name, k, hex16(&pk.digest), hex16(blake3::hash(&bytes).as_bytes())));
        }
    }
    let table: String =
        rows.iter().map(|(n, k, v, p)| format!("    (\"{n}\", {k}, \"{v}\", \"{p}\"),\n")).collect();
    let got: Vec<(&str, usize, &str, &str)> =
        rows.iter().map(|(n, k, v, p)| (*n, *k, v.as_str(), p.as_str())).collect();
    assert_eq!(got, PINNED, "proof digests changed; the new table:\n{table}");
}
