//! Greedy decoding with tract's f32 engine and a K/V cache: the baseline
//! `zkrt generate`'s decoding speed is compared with.
//!
//! Runs a with-past export (`examples/convert_smollm2.py --with-past`: one
//! token per call, optimum's `past_key_values.{i}.key/value` inputs and
//! `present.{i}.key/value` outputs, a static cache of `P` rows) token by
//! token over the prompt, then generates greedily (ties to the lowest id),
//! and prints the tokens and the speed as JSON:
//!
//! ```text
//! cargo run --release -p zkml-tests --example decode_tract -- \
//!     examples/out/smollm2_l2_s64.with_past.onnx --prompt-ids prompt.json --max-new-tokens 48
//! ```
//!
//! `tokens_per_s` counts generated tokens over the whole run (prompt
//! included), as `zkrt generate --json` does.

// An example: failures end it with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;
use zkml_compiler::FrontendOptions;
use zkml_ir::Tensor;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).expect("usage: decode_tract MODEL --prompt-ids FILE [--max-new-tokens N]");
    let prompt_file = arg(&args, "--prompt-ids").expect("--prompt-ids FILE");
    let new: usize = arg(&args, "--max-new-tokens").map_or(16, |n| n.parse().expect("a count"));
    let text = std::fs::read_to_string(&prompt_file).expect("prompt file");
    let prompt = zkml_runtime::generate::parse_prompt(&text).expect("a prompt file");

    let t0 = Instant::now();
    let g =
        zkml_compiler::load_onnx(std::path::Path::new(model), &FrontendOptions::default()).expect("model");
    let facts: Vec<zkml_ir::Fact> = g.input_facts().into_iter().cloned().collect();
    let runner = zkml_tests::TractRunner::new(std::path::Path::new(model), &FrontendOptions::default())
        .expect("tract loads the model");
    let load = t0.elapsed();
    // Inputs: input_ids, position_ids, attention_mask [1, P + 1], then the
    // caches [1, kv, P, hd].
    let total = facts[2].shape[1];
    let rows = total - 1;
    let caches = &facts[3..];
    let mut cache: Vec<Vec<f32>> = caches.iter().map(|f| vec![0.0; f.len()]).collect();
    assert!(prompt.len() + new <= rows, "{} + {new} tokens do not fit a cache of {rows} rows", prompt.len());

    let t1 = Instant::now();
    let mut ids = prompt.clone();
    let mut first_token_ms = None;
    for pos in 0..prompt.len() + new - 1 {
        let mut mask = vec![0i64; total];
        mask[..pos].iter_mut().for_each(|m| *m = 1);
        mask[rows] = 1;
        let mut inputs = vec![
            Tensor::from_i64([1, 1], vec![ids[pos]]).unwrap(),
            Tensor::from_i64([1, 1], vec![pos as i64]).unwrap(),
            Tensor::from_i64([1, total], mask).unwrap(),
        ];
        for (f, c) in caches.iter().zip(&cache) {
            inputs.push(Tensor::from_f32(f.shape.clone(), c.clone()).unwrap());
        }
        let outs = runner.run(&inputs).expect("a step");
        // The appended row (index `rows`) of each present tensor goes into
        // the cache at `pos`.
        for (c, (f, present)) in cache.iter_mut().zip(caches.iter().zip(&outs[1..])) {
            let (heads, hd) = (f.shape[1], f.shape[3]);
            for h in 0..heads {
                let src = (h * total + rows) * hd;
                let dst = (h * rows + pos) * hd;
                c[dst..dst + hd].copy_from_slice(&present[src..src + hd]);
            }
        }
        if pos + 1 >= prompt.len() {
            let logits = &outs[0];
            let best = (0..logits.len()).fold(0, |b, i| if logits[i] > logits[b] { i } else { b });
            ids.push(best as i64);
            first_token_ms.get_or_insert(t1.elapsed().as_secs_f64() * 1e3);
        }
    }
    let decode = t1.elapsed();
    let generated = &ids[prompt.len()..];
    let report = serde_json::json!({
        "engine": "tract f32, K/V cache",
        "load_ms": load.as_secs_f64() * 1e3,
        "prompt_tokens": prompt.len(),
        "generated_tokens": generated.len(),
        "decode_ms": decode.as_secs_f64() * 1e3,
        "first_token_ms": first_token_ms,
        "tokens_per_s": generated.len() as f64 / decode.as_secs_f64(),
        "generated_ids": generated,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
