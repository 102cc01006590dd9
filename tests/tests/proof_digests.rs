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
    ("mlp", 1, "8ec221b0533c4906", "4c81a15989d44847"),
    ("mlp", 2, "8394701803f48a57", "4b46a41fcf39f372"),
    ("cnn", 1, "f2380df550b81d23", "1304ef8e887064e5"),
    ("cnn", 2, "cc25f57fa5c536d1", "433b2e2d8b9c0802"),
    ("lenet_mnist", 1, "6690e9f54b71f973", "5585a5bcd9a2359a"),
    ("lenet_mnist", 2, "b32331d92af44488", "ed7ae563e9749214"),
    ("gpt2", 1, "0eae08a7e287ecdf", "d24079bd2ce58b2f"),
    ("gpt2", 2, "a3f627653ae9aa99", "7f542ad3a1e9cb2d"),
    ("llama", 1, "b4f4e0b38f387559", "f90e9e7f5c839945"),
    ("llama", 2, "300c8bd63c608771", "21763a950abb9a4c"),
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
