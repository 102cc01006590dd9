//! Graph sources: model inputs and constants (weights).

use super::OpDef;
use crate::{Fact, OpError, Tensor, bail_op};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `index`-th model input, of a fixed fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub index: usize,
    pub fact: Fact,
}

impl OpDef for Input {
    fn name(&self) -> &'static str {
        "input"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("index", self.index.to_string())]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        super::super::shape::expect_inputs(inputs, 0)?;
        Ok(vec![self.fact.clone()])
    }
    fn eval(&self, _: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        bail_op!("input {} is fed by the caller, not evaluated", self.index)
    }
}

/// A constant tensor. In a plan only the fact is in the serialized header;
/// the data lives in the plan's raw blob (see [`crate::plan`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Const {
    pub fact: Fact,
    #[serde(skip)]
    pub value: Arc<Tensor>,
}

impl Const {
    pub fn new(t: Tensor) -> Self {
        Const { fact: t.fact(), value: Arc::new(t) }
    }
    /// A quantized constant: integers `t` (`I64` data) of type `q`.
    pub fn quantized(t: Tensor, q: crate::QType) -> Result<Self, OpError> {
        let fact = Fact::new(crate::DType::Q(q), t.shape().to_vec());
        crate::check_range(&t, &fact)?;
        Ok(Const { fact, value: Arc::new(t) })
    }
    /// Short content digest, shown in the text form so that dumps change
    /// when weights do.
    pub fn digest(&self) -> String {
        blake3::hash(&self.value.to_le_bytes()).to_hex()[..12].to_string()
    }
}

impl PartialEq for Const {
    fn eq(&self, other: &Self) -> bool {
        self.fact == other.fact && self.value == other.value
    }
}

impl OpDef for Const {
    fn name(&self) -> &'static str {
        "const"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        // Scalars and tiny vectors are shown inline: they are often epsilons,
        // exponents or shapes that a reader wants to see.
        if self.fact.len() <= 4 {
            let v = match self.value.data() {
                crate::TensorData::F32(v) => super::list(v),
                crate::TensorData::Bool(v) => super::list(v),
                _ => super::list(&self.value.as_i64().unwrap_or_default()),
            };
            vec![("value", v)]
        } else {
            vec![("digest", self.digest())]
        }
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        super::super::shape::expect_inputs(inputs, 0)?;
        if self.value.shape() != self.fact.shape {
            bail_op!("constant data {} does not match its fact {}", self.value.fact(), self.fact);
        }
        // Quantized weights from an untrusted plan must respect their bit
        // widths: the executor's overflow analysis relies on it.
        crate::check_range(&self.value, &self.fact)?;
        Ok(vec![self.fact.clone()])
    }
    fn eval(&self, _: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        Ok(vec![(*self.value).clone()])
    }
}
