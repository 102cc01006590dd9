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
    ("mlp", 1, "0a58eefd4a1da82d", "c4db8f472837ed39"),
    ("mlp", 2, "bcfde6dfd02d31c7", "286e2a9c71cbc81e"),
    ("cnn", 1, "987d0b7b9dfceeb0", "76004007db888014"),
    ("cnn", 2, "e7613eaaf53f30ba", "5d3acfeea72ea4ab"),
    ("lenet_mnist", 1, "070c521bc0fbf114", "5e12f0885954b303"),
    ("lenet_mnist", 2, "c4c60cec963810e7", "dd637f8178ac07b6"),
    ("gpt2", 1, "b5c494ad30bc2aa7", "6da6c31b5c6be56a"),
    ("gpt2", 2, "2a7d45e13f46f3f2", "a0889de8330eb9f6"),
    ("llama", 1, "17faebf428e282bd", "5bcc82b741b2618e"),
    ("llama", 2, "5f619bb0f64624d9", "449a7f567a8c4f07"),
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
