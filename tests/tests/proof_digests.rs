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
    ("mlp", 1, "d59dd4c0a854c530", "7a4c75fed0fdfd1a"),
    ("mlp", 2, "1b53516ace0e5cc7", "ab0b487ab5f90f51"),
    ("cnn", 1, "001c2433fae71f74", "022dfb58d61351b0"),
    ("cnn", 2, "0d52bd44cf1e0c1b", "cb500a3bf07ef043"),
    ("lenet_mnist", 1, "65e82223bcd89e3c", "7475ed8c30256707"),
    ("lenet_mnist", 2, "a9cbde02b5cf1f77", "bd911a94cc3ca2ca"),
    ("gpt2", 1, "522d00b1123d5929", "e7d17017d358a91b"),
    ("gpt2", 2, "bc384972edf357b2", "ca3e420e882b7539"),
    ("llama", 1, "ef58ce582a30fd83", "fbdce613cc142677"),
    ("llama", 2, "2c52e943b6a7ee1c", "c62da67d1dddd56d"),
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
