//! Greedy generation on a decoder plan, and the files of its statement.
//!
//! [`Greedy`] decodes token by token with the exact integer executor: step
//! `i` computes the pass over `prompt ‖ generated[..i] ‖ pad` (a prefill
//! over the prompt, then only the new position's rows against the cache of
//! every earlier value: [`crate::cache`]) and reads the next-token id at
//! position `p − 1 + i` (the plan's own proven argmax). The last step's
//! pass is exactly the statement's pass (`zkml_ir::decoder`); it is
//! computed once more in full as the proof's witness, and must agree with
//! every decoded token: proving a generation costs one proof of one pass,
//! whatever the number of tokens.
//!
//! Files: the prompt (`{"input_ids": [...]}`, `{"prompt_ids": [...]}` or
//! EZKL's `{"input_data": [[...]]}`) and the generation
//! ([`GenerationFile`]: prompt, generated ids and the pass's next-token
//! ids, which `zkrt verify` needs to rebuild the statement).

use crate::cache::Cached;
use crate::{Executor, RuntimeError};
use serde::{Deserialize, Serialize};
use zkml_ir::{Decoder, GenerationError, Graph, Tensor};

/// Errors of generation and of its files.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("this plan is not a decoder (compile it with `zkc compile --decoder`)")]
    NotDecoder,
    #[error(transparent)]
    Statement(#[from] GenerationError),
    #[error("prompt file: {0}")]
    Prompt(String),
    #[error("generation file: {0}")]
    File(String),
    #[error(
        "--max-new-tokens {asked}: a {prompt}-token prompt leaves room for {room} new tokens in this plan's {positions} positions (compile with a larger --max-positions)"
    )]
    NoRoom { asked: usize, prompt: usize, room: usize, positions: usize },
    #[error(
        "the plan is not causal in its quantized form: the final pass gives {argmax} at position {position}, decoding gave {decoded}"
    )]
    NotCausal { position: usize, argmax: i64, decoded: i64 },
    #[error("executing the plan: {0}")]
    Exec(#[from] zkml_ir::IrError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// A prompt's token ids, from any of the accepted layouts.
pub fn parse_prompt(text: &str) -> Result<Vec<i64>, GenerateError> {
    let bad = |m: String| GenerateError::Prompt(m);
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let list = ["input_ids", "prompt_ids"]
        .iter()
        .find_map(|k| v.get(*k))
        .or_else(|| v.get("input_data").and_then(|d| d.get(0)))
        .and_then(|l| l.as_array())
        .ok_or_else(|| bad("expected {\"input_ids\": [...]} (or {\"input_data\": [[...]]})".into()))?;
    ids(list).map_err(bad)
}

fn ids(list: &[serde_json::Value]) -> Result<Vec<i64>, String> {
    list.iter()
        .map(|x| match x.as_i64() {
            Some(i) => Ok(i),
            // `3.0` is the id 3; `3.5` and strings are not ids.
            None => x
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
                .ok_or_else(|| format!("{x} is not a token id")),
        })
        .collect()
}

/// `gen.json`: what a generation proof proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationFile {
    pub prompt_ids: Vec<i64>,
    /// The generated tokens, in order.
    pub generated_ids: Vec<i64>,
    /// The proven pass's next-token id at every position (the statement's
    /// output; `generated_ids` are its entries from position `p − 1` on).
    pub next_ids: Vec<i64>,
}

impl GenerationFile {
    pub fn parse(text: &str) -> Result<Self, GenerateError> {
        serde_json::from_str(text).map_err(|e| GenerateError::File(e.to_string()))
    }

    /// The statement (input and output tensors of the pass) this file
    /// claims for `d`, after checking every relation between its parts
    /// and `prompt` (the verifier's own prompt).
    pub fn statement(&self, d: &Decoder, prompt: &[i64]) -> Result<(Tensor, Tensor), GenerateError> {
        if self.prompt_ids != prompt {
            return Err(GenerateError::File("its prompt is not the prompt given".into()));
        }
        d.check_ids("next", &self.next_ids)?;
        d.check_generated(prompt.len(), &self.generated_ids, &self.next_ids)?;
        let x = d.pass_ids(prompt, &self.generated_ids)?;
        let tensor = |v: Vec<i64>| {
            Tensor::from_i64(vec![1, d.positions], v).map_err(|e| GenerateError::File(e.to_string()))
        };
        Ok((tensor(x)?, tensor(self.next_ids.clone())?))
    }
}

/// A greedy decoder over a plan's exact executor.
pub struct Greedy<'g> {
    graph: &'g Graph,
    decoder: &'g Decoder,
    exec: Executor<'g>,
    /// Decode with the cache ([`crate::cache`]), or a full pass per token.
    cached: bool,
}

/// A finished generation: its file and the witness of its pass.
#[derive(Debug)]
pub struct Generated {
    pub file: GenerationFile,
    /// The statement's input (the last pass's token ids).
    pub input: Tensor,
    /// Every node's values in the last pass.
    pub values: Vec<Vec<Tensor>>,
}

impl std::fmt::Debug for Greedy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Greedy").field("decoder", self.decoder).finish_non_exhaustive()
    }
}

impl<'g> Greedy<'g> {
    pub fn new(graph: &'g Graph) -> Result<Self, GenerateError> {
        let decoder = graph.decoder().ok_or(GenerateError::NotDecoder)?;
        Ok(Greedy { graph, decoder, exec: Executor::new(graph), cached: true })
    }

    /// A full pass per token instead of the cache (the reference for the
    /// cache, and the baseline of its measurements).
    pub fn uncached(mut self) -> Self {
        self.cached = false;
        self
    }

    /// Decodes up to `max_new` tokens after `prompt` (stopping after
    /// `stop` if it is generated), calling `on_token` with each as soon as
    /// it is known.
    pub fn run(
        &self,
        prompt: &[i64],
        max_new: usize,
        stop: Option<i64>,
        mut on_token: impl FnMut(i64),
    ) -> Result<Generated, GenerateError> {
        let d = self.decoder;
        d.pass_ids(prompt, &[])?;
        let room = d.positions + 1 - prompt.len();
        if max_new == 0 || max_new > room {
            return Err(GenerateError::NoRoom {
                asked: max_new,
                prompt: prompt.len(),
                room,
                positions: d.positions,
            });
        }
        let mut generated: Vec<i64> = Vec::with_capacity(max_new);
        let mut ids = prompt.to_vec();
        ids.resize(d.positions, d.pad_id);
        let tensor = |ids: &[i64]| {
            Tensor::from_i64(vec![1, d.positions], ids.to_vec())
                .map_err(|e| GenerateError::File(e.to_string()))
        };
        let mut input = tensor(&ids)?;
        let mut cache =
            if self.cached { Some(Cached::prefill(&self.exec, d.positions, &input)?) } else { None };
        loop {
            let next = match &cache {
                Some(c) => self.next_ids(c.values())?,
                None => self.next_ids(&self.exec.run_all(std::slice::from_ref(&input))?)?,
            };
            let token = next[prompt.len() - 1 + generated.len()];
            d.check_ids("generated", &[token])?;
            on_token(token);
            generated.push(token);
            if generated.len() == max_new || stop == Some(token) {
                break;
            }
            // Feed the token; the step predicts the next one.
            let at = prompt.len() + generated.len() - 1;
            ids[at] = token;
            input = tensor(&ids)?;
            if let Some(c) = &mut cache {
                c.step(&input, at, at + 1)?;
            }
        }
        // The witness: one full pass, which must give every decoded token
        // (a plan that is not causal, or a cache that is not exact, fails
        // here rather than proving tokens it did not decode).
        let values = self.exec.run_all(std::slice::from_ref(&input))?;
        let next = self.next_ids(&values)?;
        for (i, &g) in generated.iter().enumerate() {
            let position = prompt.len() - 1 + i;
            if next[position] != g {
                return Err(GenerateError::NotCausal { position, argmax: next[position], decoded: g });
            }
        }
        let file = GenerationFile { prompt_ids: prompt.to_vec(), generated_ids: generated, next_ids: next };
        Ok(Generated { file, input, values })
    }

    /// The plan's decoder shape.
    pub fn decoder(&self) -> &Decoder {
        self.decoder
    }

    fn next_ids(&self, values: &[Vec<Tensor>]) -> Result<Vec<i64>, GenerateError> {
        let o = self.graph.outputs()[0];
        let t = &values[o.node][o.slot];
        Ok(t.as_i64().map_err(|e| GenerateError::File(e.to_string()))?.into_owned())
    }
}

/// A Hugging Face `tokenizer.json`: prompts in, text out.
pub struct TextTokenizer(tokenizers::Tokenizer);

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextTokenizer({} tokens)", self.0.get_vocab_size(true))
    }
}

impl TextTokenizer {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GenerateError> {
        tokenizers::Tokenizer::from_bytes(bytes)
            .map(TextTokenizer)
            .map_err(|e| GenerateError::Tokenizer(e.to_string()))
    }

    /// The token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, GenerateError> {
        let e = self.0.encode(text, false).map_err(|e| GenerateError::Tokenizer(e.to_string()))?;
        Ok(e.get_ids().iter().map(|&i| i64::from(i)).collect())
    }

    /// The text of `ids` (ids beyond `u32` are not tokens).
    pub fn decode(&self, ids: &[i64]) -> Result<String, GenerateError> {
        let ids: Vec<u32> = ids
            .iter()
            .map(|&i| {
                u32::try_from(i).map_err(|_| GenerateError::Tokenizer(format!("{i} is not a token id")))
            })
            .collect::<Result<_, _>>()?;
        self.0.decode(&ids, false).map_err(|e| GenerateError::Tokenizer(e.to_string()))
    }
}

/// Text as tokens arrive: each call gives what the generation so far adds
/// to the text (a character split over two byte-level tokens appears once
/// it is whole).
#[derive(Debug)]
pub struct TextStream<'t> {
    tokenizer: &'t TextTokenizer,
    ids: Vec<i64>,
    shown: usize,
}

impl<'t> TextStream<'t> {
    pub fn new(tokenizer: &'t TextTokenizer) -> Self {
        TextStream { tokenizer, ids: vec![], shown: 0 }
    }

    /// The new text after `token`.
    pub fn push(&mut self, token: i64) -> Result<String, GenerateError> {
        self.ids.push(token);
        let text = self.tokenizer.decode(&self.ids)?;
        // An incomplete UTF-8 sequence decodes to U+FFFD: wait for more.
        if text.ends_with('\u{fffd}') || text.len() < self.shown || !text.is_char_boundary(self.shown) {
            return Ok(String::new());
        }
        let new = text[self.shown..].to_string();
        self.shown = text.len();
        Ok(new)
    }
}
