//! Parsed einsum equations.
//!
//! An equation `"bij,bjk->bik"` names every axis of every operand with one
//! letter. Letters that appear in the output are *free* axes; letters that
//! appear only in operands are *contracted* (summed over). The result is
//!
//! ```text
//! out[o] = Σ_{c}  Π_t  operand_t[ index of o ∪ c restricted to operand t ]
//! ```
//!
//! Invariants enforced by [`EinsumSpec::parse`]: the output is explicit
//! (`->` present), letters are ASCII alphabetic, no letter repeats inside one
//! term (no diagonals), every output letter appears in some operand.

use std::fmt;

/// Why an equation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EinsumError {
    /// Text that is not of the form `a,b->c`.
    #[error("einsum equation syntax: {0}")]
    Syntax(String),
    /// A letter repeated inside one operand or in the output.
    #[error("einsum axis '{0}' repeated in term '{1}' (diagonals unsupported)")]
    RepeatedAxis(char, String),
    /// An output letter that no operand has.
    #[error("einsum output axis '{0}' appears in no operand")]
    UnboundOutput(char),
    /// Operand count or rank disagreeing with the equation, or axis sizes
    /// disagreeing between operands.
    #[error("einsum shape mismatch: {0}")]
    Shape(String),
}

/// A parsed equation: one letter string per operand, plus the output's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EinsumSpec {
    pub inputs: Vec<Vec<char>>,
    pub output: Vec<char>,
}

impl EinsumSpec {
    pub fn parse(eq: &str) -> Result<Self, EinsumError> {
        let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
        let (lhs, rhs) =
            eq.split_once("->").ok_or_else(|| EinsumError::Syntax(format!("'{eq}' has no '->'")))?;
        let term = |t: &str| -> Result<Vec<char>, EinsumError> {
            let mut seen = Vec::new();
            for c in t.chars() {
                if !c.is_ascii_alphabetic() {
                    return Err(EinsumError::Syntax(format!("bad axis letter '{c}' in '{eq}'")));
                }
                if seen.contains(&c) {
                    return Err(EinsumError::RepeatedAxis(c, t.to_string()));
                }
                seen.push(c);
            }
            Ok(seen)
        };
        let inputs = lhs.split(',').map(term).collect::<Result<Vec<_>, _>>()?;
        let output = term(rhs)?;
        for &c in &output {
            if !inputs.iter().any(|t| t.contains(&c)) {
                return Err(EinsumError::UnboundOutput(c));
            }
        }
        Ok(EinsumSpec { inputs, output })
    }

    /// All distinct letters: output letters first (in output order), then
    /// contracted letters in order of first appearance.
    pub fn letters(&self) -> Vec<char> {
        let mut all = self.output.clone();
        for t in &self.inputs {
            for &c in t {
                if !all.contains(&c) {
                    all.push(c);
                }
            }
        }
        all
    }

    /// Letters summed over (in no output).
    pub fn contracted(&self) -> Vec<char> {
        self.letters().into_iter().filter(|c| !self.output.contains(c)).collect()
    }

    /// Size of every letter, checked for consistency across operands.
    pub fn axis_sizes(&self, shapes: &[&[usize]]) -> Result<Vec<(char, usize)>, EinsumError> {
        if shapes.len() != self.inputs.len() {
            return Err(EinsumError::Shape(format!(
                "equation has {} operands, got {}",
                self.inputs.len(),
                shapes.len()
            )));
        }
        let mut sizes: Vec<(char, usize)> = Vec::new();
        for (t, (term, shape)) in self.inputs.iter().zip(shapes).enumerate() {
            if term.len() != shape.len() {
                return Err(EinsumError::Shape(format!(
                    "operand {t} has rank {} but term '{}' names {} axes",
                    shape.len(),
                    term.iter().collect::<String>(),
                    term.len()
                )));
            }
            for (&c, &d) in term.iter().zip(shape.iter()) {
                match sizes.iter().find(|(l, _)| *l == c) {
                    Some(&(_, prev)) if prev != d => {
                        return Err(EinsumError::Shape(format!(
                            "axis '{c}' is {prev} in one operand and {d} in operand {t}"
                        )));
                    }
                    Some(_) => {}
                    None => sizes.push((c, d)),
                }
            }
        }
        Ok(sizes)
    }

    /// Output shape for the given operand shapes.
    pub fn output_shape(&self, shapes: &[&[usize]]) -> Result<Vec<usize>, EinsumError> {
        let sizes = self.axis_sizes(shapes)?;
        Ok(self.output.iter().map(|c| size_of(&sizes, *c)).collect())
    }
}

/// Size of letter `c` in an [`EinsumSpec::axis_sizes`] table (1 if absent).
pub fn size_of(sizes: &[(char, usize)], c: char) -> usize {
    sizes.iter().find(|(l, _)| *l == c).map(|&(_, d)| d).unwrap_or(1)
}

impl fmt::Display for EinsumSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self.inputs.iter().map(|t| t.iter().collect()).collect();
        write!(f, "{}->{}", terms.join(","), self.output.iter().collect::<String>())
    }
}
