//! Proven greedy generation on decoder plans (`zkc compile --decoder`):
//! the decoded tokens against an independent greedy decoder (the IR's
//! naive evaluator, one full pass per token), the proof of a whole
//! generation, and cheating provers, each of which must be rejected.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use zkml_compiler::decoder::{DecoderError, decoder_graph};
use zkml_compiler::pipeline::{self, BuildOptions};
use zkml_compiler::{FrontendOptions, load_onnx};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::layout::Gather;
use zkml_ir::ops::reduce::{Reduce, ReduceOp};
use zkml_ir::ops::source::Input;
use zkml_ir::{DType, Fact, GenerationError, Graph, Plan, Tensor, ValueId};
use zkml_protocol::{ProvingKey, VerifyingKey};
use zkml_runtime::generate::{GenerateError, GenerationFile, Greedy};

fn decoder_plan(fixture: &str) -> (Plan, ProvingKey) {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(fixture);
    let g = load_onnx(&model, &FrontendOptions::default()).unwrap();
    let samples = pipeline::default_calibration(&g);
    let opts = BuildOptions { decoder: true, ..BuildOptions::default() };
    let built = pipeline::build(&g, &samples, &opts).unwrap();
    (built.plan, built.pk.unwrap())
}

/// Greedy decoding with the IR's reference evaluator: the whole sequence
/// so far, re-evaluated for every token.
fn naive_greedy(g: &Graph, prompt: &[i64], n: usize) -> Vec<i64> {
    let d = g.decoder().unwrap();
    let mut ids = prompt.to_vec();
    for _ in 0..n {
        let mut x = ids.clone();
        x.resize(d.positions, d.pad_id);
        let out = g.eval(&[Tensor::from_i64([1, d.positions], x).unwrap()]).unwrap();
        ids.push(out[0].as_i64().unwrap()[ids.len() - 1]);
    }
    ids[prompt.len()..].to_vec()
}

fn prompts(positions: usize) -> Vec<Vec<i64>> {
    vec![vec![1], vec![5, 17, 3], (0..positions as i64).map(|i| (7 * i + 2) % 60).collect()]
}

#[test]
fn greedy_tokens_match_an_independent_decoder() {
    for fixture in ["llama.onnx", "gpt2.onnx"] {
        let (plan, _) = decoder_plan(fixture);
        let d = plan.graph.decoder().unwrap().clone();
        let greedy = Greedy::new(&plan.graph).unwrap();
        for prompt in prompts(d.positions) {
            let n = d.positions + 1 - prompt.len();
            let mut streamed = vec![];
            let got = greedy.run(&prompt, n, None, |t| streamed.push(t)).unwrap();
            let want = naive_greedy(&plan.graph, &prompt, n);
            assert_eq!(got.file.generated_ids, want, "{fixture}, prompt {prompt:?}");
            assert_eq!(streamed, want, "tokens are streamed as decoded");
            // The witness is the pass over the statement's ids.
            let x = d.pass_ids(&prompt, &want).unwrap();
            assert_eq!(got.input.as_i64().unwrap().as_ref(), x.as_slice());
        }
    }
}

#[test]
fn decoding_stops_at_the_end_of_sequence_token_and_refuses_what_does_not_fit() {
    let (plan, _) = decoder_plan("llama.onnx");
    let greedy = Greedy::new(&plan.graph).unwrap();
    let all = greedy.run(&[5, 17, 3], 6, None, |_| {}).unwrap().file.generated_ids;
    let eos = all[2];
    let stopped = greedy.run(&[5, 17, 3], 6, Some(eos), |_| {}).unwrap().file.generated_ids;
    let first = all.iter().position(|&t| t == eos).unwrap();
    assert_eq!(stopped, all[..=first]);
    assert!(matches!(greedy.run(&[5, 17, 3], 7, None, |_| {}), Err(GenerateError::NoRoom { room: 6, .. })));
    assert!(matches!(greedy.run(&[5, 17, 3], 0, None, |_| {}), Err(GenerateError::NoRoom { .. })));
    assert!(matches!(
        greedy.run(&[5, 64], 1, None, |_| {}),
        Err(GenerateError::Statement(GenerationError::OutOfVocabulary { .. }))
    ));
    assert!(matches!(
        greedy.run(&[], 1, None, |_| {}),
        Err(GenerateError::Statement(GenerationError::EmptyPrompt))
    ));
}

/// Verifies `file` as `zkrt verify` does: the statement from the
/// verifier's prompt and the file, then the proof.
fn verify(
    vk: &VerifyingKey,
    prompt: &[i64],
    file: &GenerationFile,
    proof: &zkml_protocol::Proof,
) -> Result<(), String> {
    let (x, next) = file.statement(vk.decoder.as_ref().unwrap(), prompt).map_err(|e| e.to_string())?;
    zkml_protocol::verify(vk, &[x], &[next], proof).map_err(|e| e.to_string())
}

/// Proves the pass over `ids` (any ids: a cheating prover picks them).
fn prove_pass(plan: &Plan, pk: &ProvingKey, ids: Vec<i64>) -> (zkml_protocol::Proof, Vec<i64>) {
    let d = plan.graph.decoder().unwrap();
    let x = Tensor::from_i64([1, d.positions], ids).unwrap();
    let values = zkml_runtime::Executor::new(&plan.graph).run_all(&[x]).unwrap();
    let o = plan.graph.outputs()[0];
    let next = values[o.node][o.slot].as_i64().unwrap().to_vec();
    (zkml_protocol::prove(pk, &values).unwrap().0, next)
}

#[test]
fn a_generation_proof_verifies_and_every_cheat_is_rejected() {
    let (plan, pk) = decoder_plan("llama.onnx");
    let d = plan.graph.decoder().unwrap().clone();
    let prompt = vec![5, 17, 3];
    let done = Greedy::new(&plan.graph).unwrap().run(&prompt, 5, None, |_| {}).unwrap();
    let (proof, _) = zkml_protocol::prove(&pk, &done.values).unwrap();
    let honest = done.file.clone();
    verify(&pk.vk, &prompt, &honest, &proof).unwrap();

    // A generated token that is not the argmax.
    let mut f = honest.clone();
    f.generated_ids[2] = (f.generated_ids[2] + 1) % d.vocab as i64;
    assert!(verify(&pk.vk, &prompt, &f, &proof).unwrap_err().contains("argmax"));

    // Tokens taken from other positions (shifted by one either way).
    for shift in [-1i64, 1] {
        let mut f = honest.clone();
        let from = (prompt.len() as i64 - 1 + shift) as usize;
        f.generated_ids = f.next_ids[from..from + honest.generated_ids.len()].to_vec();
        if f.generated_ids != honest.generated_ids {
            assert!(verify(&pk.vk, &prompt, &f, &proof).is_err(), "shift {shift}");
        }
    }

    // The next-token ids changed to agree with a changed token: a
    // consistent file, but not what the proof proves.
    let mut f = honest.clone();
    let t = (f.generated_ids[1] + 1) % d.vocab as i64;
    f.generated_ids[1] = t;
    f.next_ids[prompt.len()] = t;
    assert!(verify(&pk.vk, &prompt, &f, &proof).unwrap_err().contains("proof rejected"));

    // Another prompt: in the file only, then in both.
    let other = vec![5, 17, 4];
    let mut f = honest.clone();
    f.prompt_ids = other.clone();
    assert!(verify(&pk.vk, &prompt, &f, &proof).unwrap_err().contains("prompt"));
    assert!(verify(&pk.vk, &other, &f, &proof).unwrap_err().contains("proof rejected"));

    // A prover that proves the pass with the positions shifted by one (a
    // token inserted before the prompt) and reports its next-token ids
    // shifted back: the file agrees with itself, the statement does not.
    let mut shifted = vec![d.pad_id];
    shifted.extend(d.pass_ids(&prompt, &honest.generated_ids).unwrap());
    shifted.truncate(d.positions);
    let (proof_shifted, next_shifted) = prove_pass(&plan, &pk, shifted);
    let mut f = honest.clone();
    f.next_ids = next_shifted[1..].to_vec();
    f.next_ids.push(d.pad_id);
    f.generated_ids = f.next_ids[prompt.len() - 1..prompt.len() - 1 + honest.generated_ids.len()].to_vec();
    assert!(verify(&pk.vk, &prompt, &f, &proof_shifted).is_err());

    // A prover that fills the padding with other tokens.
    let mut ids = d.pass_ids(&prompt, &honest.generated_ids).unwrap();
    *ids.last_mut().unwrap() = 9;
    let (proof_padded, next_padded) = prove_pass(&plan, &pk, ids);
    let mut f = honest.clone();
    f.next_ids = next_padded;
    assert!(verify(&pk.vk, &prompt, &f, &proof_padded).unwrap_err().contains("proof rejected"));

    // A witness whose argmax is altered at a generated position, where it
    // is computed (the index arithmetic after the proven maxima), with
    // everything downstream recomputed from the lie.
    let o = plan.graph.outputs()[0];
    let id = plan.graph.node(o.node).inputs.first().map_or(o.node, |v| v.node);
    let at = prompt.len() - 1;
    let vocab = d.vocab as i64;
    let values = zkml_tests::run_altered(&plan.graph, std::slice::from_ref(&done.input), id, &move |v| {
        v[at] = (v[at] + 1) % vocab;
    });
    let next = values[o.node][o.slot].as_i64().unwrap().to_vec();
    assert_ne!(next[at], honest.generated_ids[0], "the lie reaches the output");
    let (forged, _) = zkml_protocol::prove(&pk, &values).expect("the prover proves whatever it is given");
    let mut f = honest.clone();
    f.generated_ids[0] = next[at];
    f.next_ids = next;
    assert!(verify(&pk.vk, &prompt, &f, &forged).unwrap_err().contains("proof rejected"));

    // Tampered proof bytes.
    let bytes = proof.to_file_bytes(&pk.digest).unwrap();
    for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 9] {
        let mut b = bytes.clone();
        b[at] ^= 0x10;
        if let Ok((p, _)) = zkml_protocol::Proof::from_file_bytes(&b) {
            assert!(verify(&pk.vk, &prompt, &honest, &p).is_err(), "byte {at}");
        }
    }
}

#[test]
fn plan_and_key_record_the_decoder() {
    let (mut plan, pk) = decoder_plan("gpt2.onnx");
    let d = plan.graph.decoder().unwrap().clone();
    assert_eq!((d.positions, d.vocab, d.pad_id), (8, 64, 0));
    plan.prover = None;
    let read = Plan::from_bytes(&plan.to_bytes().unwrap()).unwrap();
    assert_eq!(read.graph.decoder(), Some(&d));
    let vk = VerifyingKey::from_bytes(&pk.vk.to_bytes().unwrap()).unwrap();
    assert_eq!(vk.decoder.as_ref(), Some(&d));
    // A key whose decoder disagrees with its graph is refused, and the
    // decoder is part of the key's digest.
    let mut bad = vk.clone();
    bad.decoder = Some(zkml_ir::Decoder { positions: 9, ..d.clone() });
    assert!(VerifyingKey::from_bytes(&bad.to_bytes().unwrap()).is_err());
    let mut none = vk.clone();
    none.decoder = None;
    assert_ne!(none.digest().unwrap(), vk.digest().unwrap());
}

/// `ids → embedding → mean over positions → logits`: every position reads
/// every other one.
fn bidirectional() -> Graph {
    let (p, v) = (4, 8);
    let mut g = Graph::new();
    let x = g.add_node("input_ids", Input { index: 0, fact: Fact::new(DType::I64, [1, p]) }, &[]).unwrap();
    let table: Vec<f32> = (0..v * v).map(|i| ((i * 7919) % 13) as f32 / 13.0).collect();
    let e = g.add_const("embed", Tensor::from_f32([v, v], table).unwrap()).unwrap();
    let h = g.add_node("gather", Gather { axis: 0 }, &[e, ValueId::new(x, 0)]).unwrap();
    let m = g
        .add_node("mean", Reduce { op: ReduceOp::Mean, axes: vec![1], keepdims: true }, &[ValueId::new(h, 0)])
        .unwrap();
    let y = g
        .add_node("logits", Binary { op: BinaryOp::Add }, &[ValueId::new(h, 0), ValueId::new(m, 0)])
        .unwrap();
    g.set_outputs(vec![ValueId::new(y, 0)]);
    g
}

#[test]
fn only_causal_token_models_compile_as_decoders() {
    assert!(matches!(decoder_graph(&bidirectional()), Err(DecoderError::NotCausal { position: 0, .. })));
    let mlp = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mlp.onnx");
    let g = load_onnx(&mlp, &FrontendOptions::default()).unwrap();
    assert!(matches!(decoder_graph(&g), Err(DecoderError::Input(_))));
    // Not a decoder plan: no generation.
    assert!(matches!(Greedy::new(&g), Err(GenerateError::NotDecoder)));
}

#[test]
fn a_cached_step_computes_what_a_full_pass_computes() {
    use zkml_runtime::cache::Cached;
    for fixture in ["llama.onnx", "gpt2.onnx"] {
        let (plan, _) = decoder_plan(fixture);
        let g = &plan.graph;
        let d = g.decoder().unwrap().clone();
        let exec = zkml_runtime::Executor::new(g);
        let mut ids = vec![3, 9, 27];
        ids.resize(d.positions, d.pad_id);
        let x = |ids: &[i64]| Tensor::from_i64([1, d.positions], ids.to_vec()).unwrap();
        let mut cache = Cached::prefill(&exec, d.positions, &x(&ids)).unwrap();
        let axes = cache.axes().clone();
        // Almost every value that depends on the tokens is updated by rows.
        assert!(
            axes.by_rows() > 10 * axes.whole(),
            "{fixture}: {} by rows, {} whole",
            axes.by_rows(),
            axes.whole()
        );
        for at in 3..d.positions {
            ids[at] = (at as i64 * 11) % d.vocab as i64;
            cache.step(&x(&ids), at, at + 1).unwrap();
            let full = exec.run_all(&[x(&ids)]).unwrap();
            for (id, q) in axes.axis.iter().enumerate() {
                let Some(a) = *q else { continue };
                let (c, f) = (cache.values()[id][0].as_i64().unwrap(), full[id][0].as_i64().unwrap());
                let shape = g.node(id).outputs[0].fact.shape.clone();
                // A second position axis (the keys of attention scores):
                // entries against later keys are the mask's to remove, and
                // the cache keeps them from earlier steps.
                let key = (0..shape.len()).find(|&b| b != a && shape[b] == d.positions);
                for (i, (x, y)) in c.iter().zip(f.iter()).enumerate() {
                    let coord = |axis: usize| i / shape[axis + 1..].iter().product::<usize>() % shape[axis];
                    let (row, masked) = (coord(a), key.is_some_and(|b| coord(b) > coord(a)));
                    assert!(
                        row > at || masked || x == y,
                        "{fixture}: node {id} '{}' at flat index {i} after position {at}: {x} vs {y}",
                        g.node(id).name
                    );
                }
            }
            let o = g.outputs()[0];
            assert_eq!(
                cache.values()[o.node][o.slot].as_i64().unwrap()[..=at],
                full[o.node][o.slot].as_i64().unwrap()[..=at]
            );
        }
        // The same tokens with and without the cache.
        let greedy = Greedy::new(g).unwrap();
        let cached = greedy.run(&[1, 2], d.positions - 1, None, |_| {}).unwrap().file;
        let plain =
            Greedy::new(g).unwrap().uncached().run(&[1, 2], d.positions - 1, None, |_| {}).unwrap().file;
        assert_eq!(cached, plain, "{fixture}");
    }
}
