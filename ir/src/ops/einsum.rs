//! Einsum: every linear op of the provable core (see
//! [`zkml_kernels::EinsumSpec`] for the semantics and invariants).

use super::{OpDef, expect_f32};
use crate::{Fact, OpError, Tensor};
use serde::{Deserialize, Serialize};
use zkml_kernels::EinsumSpec;

/// `out = einsum(equation, operands…)` with an explicit output term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Einsum {
    pub equation: String,
}

impl Einsum {
    pub fn new(equation: impl Into<String>) -> Result<Self, OpError> {
        let equation = equation.into();
        // Normalised through the parser so that equal equations print equally.
        let spec = EinsumSpec::parse(&equation).map_err(|e| OpError::new(e.to_string()))?;
        Ok(Einsum { equation: spec.to_string() })
    }
    pub fn spec(&self) -> Result<EinsumSpec, OpError> {
        EinsumSpec::parse(&self.equation).map_err(|e| OpError::new(e.to_string()))
    }
}

impl OpDef for Einsum {
    fn name(&self) -> &'static str {
        "einsum"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![("eq", format!("\"{}\"", self.equation))]
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        expect_f32(inputs, "einsum")?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|f| f.shape.as_slice()).collect();
        let out = self.spec()?.output_shape(&shapes).map_err(|e| OpError::new(e.to_string()))?;
        Ok(vec![Fact::f32(out)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let spec = self.spec()?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out_shape = spec.output_shape(&shapes).map_err(|e| OpError::new(e.to_string()))?;
        let data = inputs.iter().map(|t| t.as_f32()).collect::<Result<Vec<_>, _>>()?;
        Ok(vec![Tensor::from_f32(out_shape, zkml_kernels::cpu::einsum(&spec, &data, &shapes))?])
    }
}
