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
    ("mlp", 1, "92015eb89f724f8a", "691293e24c7cd988"),
    ("mlp", 2, "2f26509c17ff42e3", "dc06487a2dec3845"),
    ("cnn", 1, "3bb542b7481f7ee1", "01cd655bd27906e3"),
    ("cnn", 2, "ef649f1998fb6053", "d87791742887097d"),
    ("lenet_mnist", 1, "59c7df20f434a14f", "691477f1b406a1d5"),
    ("lenet_mnist", 2, "6e0d97b4db6ca128", "841da5647aaa4fa0"),
    ("gpt2", 1, "bbea953cffa14f09", "11b62e3b57e08f64"),
    ("gpt2", 2, "047a1dd5ce19debd", "84e7db6666c1fe9e"),
    ("llama", 1, "3eadc19b6c0b0492", "d70f143a743cfe76"),
    ("llama", 2, "852e710edb014804", "7e06a6968fb2d49c"),
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
