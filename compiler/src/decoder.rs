//! `zkc compile --decoder`: a language model's graph turned into a decoder
//! plan's (see `zkml_ir::decoder` for the statement it proves).
//!
//! The full-sequence export (`input_ids [1, P]` → `logits [1, P, V]`, as
//! `examples/convert_*.py` and the test fixtures write it) gets an argmax
//! over the vocabulary appended; the next-token ids `[1, P]` become the
//! only output, so the statement holds `P` ids, not `P·V` logits, and the
//! argmax is proven with the rest of the pass (its lowering,
//! `quantize::lower`, breaks ties to the lowest id).
//!
//! The model must be causal: a generation is proven by one pass over the
//! padded sequence, which equals greedy decoding only if no position reads
//! a later one. [`check_causal`] tests that on the float graph before any
//! work is spent: two token sequences sharing a prefix must give the same
//! logits on that prefix.

use zkml_ir::ops::reduce::Arg;
use zkml_ir::{DType, Decoder, Graph, Tensor, ValueId};

/// Why a graph is not a decoder.
#[derive(Debug, thiserror::Error)]
pub enum DecoderError {
    #[error("a decoder takes one input, the token ids (i64, shape [1, positions]); this model takes {0}")]
    Input(String),
    #[error(
        "a decoder's first output is the logits (f32, shape [1, positions, vocabulary]); this model's is {0}"
    )]
    Logits(String),
    #[error(
        "the model is not causal: changing the tokens from position {prefix} on changed the logits at position {position} (by {diff:e}); a generation proof needs a causal decoder"
    )]
    NotCausal { prefix: usize, position: usize, diff: f32 },
    #[error("evaluating the model: {0}")]
    Eval(#[from] zkml_ir::IrError),
}

/// The token input's positions, if `g` has the one i64 `[1, P]` input a
/// decoder takes.
pub fn positions(g: &Graph) -> Result<usize, DecoderError> {
    let facts = g.input_facts();
    match facts.as_slice() {
        [f] if f.dtype == DType::I64 && f.rank() == 2 && f.shape[0] == 1 && f.shape[1] > 0 => Ok(f.shape[1]),
        _ => Err(DecoderError::Input(facts.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", "))),
    }
}

/// `g` with the argmax of its logits as its one output, and the decoder
/// shape (pad id 0), after [`check_causal`].
pub fn decoder_graph(g: &Graph) -> Result<(Graph, Decoder), DecoderError> {
    let positions = positions(g)?;
    let logits = *g.outputs().first().ok_or_else(|| DecoderError::Logits("absent".into()))?;
    let fact = g.fact(logits).cloned().ok_or_else(|| DecoderError::Logits("absent".into()))?;
    if fact.dtype != DType::F32
        || fact.shape.len() != 3
        || fact.shape[..2] != [1, positions]
        || fact.shape[2] == 0
    {
        return Err(DecoderError::Logits(fact.to_string()));
    }
    let vocab = fact.shape[2];
    let decoder = Decoder { positions, vocab, pad_id: 0 };
    check_causal(g, logits, &decoder)?;
    let mut out = g.clone();
    let arg =
        out.add_node("next_token", Arg { axis: 2, keepdims: false, min: false, last: false }, &[logits])?;
    out.set_outputs(vec![ValueId::new(arg, 0)]);
    Ok((out, decoder))
}

/// Two token sequences that agree on positions `< k` (`k` = half the
/// positions) must give the same logits there, up to float rounding.
pub fn check_causal(g: &Graph, logits: ValueId, d: &Decoder) -> Result<(), DecoderError> {
    if d.positions < 2 {
        return Ok(());
    }
    let k = d.positions / 2;
    // A fixed-seed generator: the check is reproducible, so is the key.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut token = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % d.vocab as u64) as i64
    };
    let a: Vec<i64> = (0..d.positions).map(|_| token()).collect();
    let mut b = a.clone();
    for t in &mut b[k..] {
        // Another token in every later position.
        *t = (*t + 1 + token() % (d.vocab as i64 - 1).max(1)) % d.vocab as i64;
    }
    let run = |ids: Vec<i64>| -> Result<Vec<f32>, DecoderError> {
        let x =
            Tensor::from_i64(vec![1, d.positions], ids).map_err(|e| DecoderError::Input(e.to_string()))?;
        let all = g.eval_all(&[x])?;
        let t = &all[logits.node][logits.slot];
        Ok(t.as_f32().map_err(|e| DecoderError::Logits(e.to_string()))?.to_vec())
    };
    let (la, lb) = (run(a)?, run(b)?);
    let scale = la.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-30);
    for (i, (x, y)) in la.iter().zip(&lb).take(k * d.vocab).enumerate() {
        let diff = (x - y).abs();
        // NaN differences fail too.
        if diff.is_nan() || diff > 1e-4 * scale {
            return Err(DecoderError::NotCausal { prefix: k, position: i / d.vocab, diff });
        }
    }
    Ok(())
}
