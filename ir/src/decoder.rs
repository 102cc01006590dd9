//! What makes a plan a *decoder*: a causal language model whose proven
//! pass ends in the argmax of its logits, and the statement of a greedy
//! generation built on it.
//!
//! A decoder graph has one input, the token ids `x ∈ [0, V)^P` of shape
//! `[1, P]` (`P` = [`Decoder::positions`], `V` = [`Decoder::vocab`]), and
//! one output, `next ∈ [0, V)^P` of shape `[1, P]`, where `next[t]` is the
//! argmax over the vocabulary of the logits at position `t` (ties go to the
//! lowest token id: the argmax is proven, with that rule, inside the graph).
//!
//! **A generation** of `g ≥ 1` tokens `y` after a prompt `u` of `p ≥ 1`
//! tokens (`p + g − 1 ≤ P`) is proven by one pass over
//!
//! ```text
//! x = u ‖ y[0 .. g−1] ‖ pad …          (length P, pad = Decoder::pad_id)
//! ```
//!
//! with the relation `next[p − 1 + i] = y[i]` for every `i < g`: each
//! generated token is the argmax at the position before it. The last
//! generated token is predicted, never fed back, so it needs no position.
//! For a causal model (position `t` reads only positions `≤ t`) this pass
//! gives exactly what greedy decoding step by step gives; the statement is
//! well defined either way, since the padding is part of it.

use crate::{DType, Fact};
use serde::{Deserialize, Serialize};

/// A decoder plan's shape: see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decoder {
    /// Positions one pass computes: the prompt and all but the last
    /// generated token fit in these.
    pub positions: usize,
    /// Rows of the logits: token ids are `0 .. vocab`.
    pub vocab: usize,
    /// The token id in every position past the generation.
    pub pad_id: i64,
}

/// A generation's statement that does not hold, or does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerationError {
    #[error("the prompt is empty: a generation needs at least one prompt token")]
    EmptyPrompt,
    #[error("nothing was generated: a generation proves at least one token")]
    NothingGenerated,
    #[error(
        "{prompt} prompt tokens and {generated} generated tokens need {} positions; the plan has {positions} (compile with a larger --max-positions)",
        prompt + generated - 1
    )]
    TooLong { prompt: usize, generated: usize, positions: usize },
    #[error("{what} token {index} is {id}, outside the vocabulary [0, {vocab})")]
    OutOfVocabulary { what: &'static str, index: usize, id: i64, vocab: usize },
    #[error(
        "generated token {index} is {claimed}, but the argmax of the logits at position {position} is {argmax}"
    )]
    NotArgmax { index: usize, position: usize, claimed: i64, argmax: i64 },
    #[error("the pass has {got} next-token ids, the plan computes {positions}")]
    NextLength { got: usize, positions: usize },
}

impl Decoder {
    /// The facts of a decoder graph's input and output.
    pub fn facts_ok(&self, input: &Fact, output: &Fact) -> Result<(), String> {
        let want = [1, self.positions];
        if input.dtype != DType::I64 || input.shape != want {
            return Err(format!("the token input is {input}, a decoder's is i64 {want:?}"));
        }
        let integer = output.dtype == DType::I64 || output.dtype.q().is_some_and(|q| q.scale == 1.0);
        if output.shape != want || !integer {
            return Err(format!("the next-token output is {output}, a decoder's is an integer {want:?}"));
        }
        if self.vocab == 0 || !(0..self.vocab as i64).contains(&self.pad_id) {
            return Err(format!("pad id {} outside the vocabulary [0, {})", self.pad_id, self.vocab));
        }
        Ok(())
    }

    /// Checks that every id of `ids` (the `what` tokens) is in the vocabulary.
    pub fn check_ids(&self, what: &'static str, ids: &[i64]) -> Result<(), GenerationError> {
        match ids.iter().position(|&t| !(0..self.vocab as i64).contains(&t)) {
            Some(index) => {
                Err(GenerationError::OutOfVocabulary { what, index, id: ids[index], vocab: self.vocab })
            }
            None => Ok(()),
        }
    }

    /// The proven pass's token ids for `generated` after `prompt` (see the
    /// module docs); `generated` may be empty while decoding (the pass
    /// that predicts the first token).
    pub fn pass_ids(&self, prompt: &[i64], generated: &[i64]) -> Result<Vec<i64>, GenerationError> {
        if prompt.is_empty() {
            return Err(GenerationError::EmptyPrompt);
        }
        let used = prompt.len() + generated.len().saturating_sub(1);
        if used > self.positions {
            return Err(GenerationError::TooLong {
                prompt: prompt.len(),
                generated: generated.len().max(1),
                positions: self.positions,
            });
        }
        self.check_ids("prompt", prompt)?;
        self.check_ids("generated", generated)?;
        let mut ids = Vec::with_capacity(self.positions);
        ids.extend_from_slice(prompt);
        ids.extend_from_slice(&generated[..generated.len().saturating_sub(1)]);
        ids.resize(self.positions, self.pad_id);
        Ok(ids)
    }

    /// The relation between a pass's next-token ids and the generation:
    /// `next[p − 1 + i] = generated[i]` for every `i`.
    pub fn check_generated(
        &self,
        prompt_len: usize,
        generated: &[i64],
        next: &[i64],
    ) -> Result<(), GenerationError> {
        if generated.is_empty() {
            return Err(GenerationError::NothingGenerated);
        }
        if next.len() != self.positions {
            return Err(GenerationError::NextLength { got: next.len(), positions: self.positions });
        }
        if prompt_len == 0 {
            return Err(GenerationError::EmptyPrompt);
        }
        if prompt_len + generated.len() - 1 > self.positions {
            return Err(GenerationError::TooLong {
                prompt: prompt_len,
                generated: generated.len(),
                positions: self.positions,
            });
        }
        for (i, &claimed) in generated.iter().enumerate() {
            let position = prompt_len - 1 + i;
            if next[position] != claimed {
                return Err(GenerationError::NotArgmax {
                    index: i,
                    position,
                    claimed,
                    argmax: next[position],
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec() -> Decoder {
        Decoder { positions: 6, vocab: 10, pad_id: 0 }
    }

    #[test]
    fn the_pass_holds_the_prompt_then_all_but_the_last_token_then_padding() {
        assert_eq!(dec().pass_ids(&[3, 4], &[5, 6, 7]).unwrap(), vec![3, 4, 5, 6, 0, 0]);
        assert_eq!(dec().pass_ids(&[3], &[]).unwrap(), vec![3, 0, 0, 0, 0, 0]);
        // Six positions hold a 2-token prompt and 5 generated tokens.
        assert!(dec().pass_ids(&[1, 2], &[1, 2, 3, 4, 5]).is_ok());
        assert!(matches!(dec().pass_ids(&[1, 2], &[1, 2, 3, 4, 5, 6]), Err(GenerationError::TooLong { .. })));
        assert_eq!(dec().pass_ids(&[], &[1]), Err(GenerationError::EmptyPrompt));
        assert!(matches!(
            dec().pass_ids(&[1, 10], &[1]),
            Err(GenerationError::OutOfVocabulary { what: "prompt", index: 1, id: 10, .. })
        ));
        assert!(matches!(dec().pass_ids(&[1], &[-1]), Err(GenerationError::OutOfVocabulary { .. })));
    }

    #[test]
    fn each_generated_token_must_be_the_argmax_before_it() {
        let next = [9, 5, 6, 7, 1, 2];
        assert!(dec().check_generated(2, &[5, 6, 7], &next).is_ok());
        assert_eq!(
            dec().check_generated(2, &[5, 8, 7], &next),
            Err(GenerationError::NotArgmax { index: 1, position: 2, claimed: 8, argmax: 6 })
        );
        // Shifted by one position: rejected.
        assert!(dec().check_generated(3, &[5, 6, 7], &next).is_err());
        assert!(dec().check_generated(1, &[5, 6, 7], &next).is_err());
        assert_eq!(dec().check_generated(2, &[], &next), Err(GenerationError::NothingGenerated));
        assert!(matches!(
            dec().check_generated(2, &[6], &next[..5]),
            Err(GenerationError::NextLength { .. })
        ));
    }
}
