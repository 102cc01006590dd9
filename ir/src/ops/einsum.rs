//! Einsum: every linear op of the provable core (see
//! [`zkml_kernels::EinsumSpec`] for the semantics and invariants).

use super::{OpDef, expect_f32};
use crate::{DType, Fact, OpError, QType, Tensor, bail_op};
use serde::{Deserialize, Serialize};
use zkml_kernels::EinsumSpec;

/// Widest exact intermediate of the quantized graph: values below 2^62 embed
/// in Goldilocks (p ≈ 2^64) with room for the prover's sums.
pub const MAX_EXACT_BITS: u32 = 62;

fn list_facts(inputs: &[&Fact]) -> String {
    inputs.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", ")
}

/// `out = einsum(equation, operands…)` with an explicit output term. On
/// quantized operands the result is exact: no rounding happens in an einsum,
/// only in the lookups after it.
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
        let spec = self.spec()?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|f| f.shape.as_slice()).collect();
        let out = spec.output_shape(&shapes).map_err(|e| OpError::new(e.to_string()))?;
        let qs: Option<Vec<QType>> = inputs.iter().map(|f| f.dtype.q()).collect();
        let Some(qs) = qs else {
            expect_f32(inputs, "einsum")?;
            return Ok(vec![Fact::f32(out)]);
        };
        // Exact integer result: scales multiply; the worst case |Σ Π q| is
        // (terms summed) · Π max|q_i|.
        let sizes = spec.axis_sizes(&shapes).map_err(|e| OpError::new(e.to_string()))?;
        let summed: u128 = spec
            .letters()
            .into_iter()
            .filter(|c| !spec.output.contains(c))
            .map(|c| zkml_kernels::einsum_spec::size_of(&sizes, c) as u128)
            .product();
        let bound = qs.iter().try_fold(summed.max(1), |acc, q| acc.checked_mul(q.max_abs() as u128));
        let bits = bound.map(QType::bits_for).filter(|&b| b <= MAX_EXACT_BITS);
        let Some(bits) = bits else {
            bail_op!("quantized einsum of {} may exceed {MAX_EXACT_BITS} bits", list_facts(inputs));
        };
        let scale = qs.iter().map(|q| q.scale).product();
        Ok(vec![Fact::new(DType::Q(QType::new(bits as u8, scale)), out)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let spec = self.spec()?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out_shape = spec.output_shape(&shapes).map_err(|e| OpError::new(e.to_string()))?;
        if inputs[0].dtype() == DType::I64 {
            // The naive exact definition (the optimised i64 kernel lives in
            // the runtime's executor and is tested against this).
            let data = inputs.iter().map(|t| t.as_i64()).collect::<Result<Vec<_>, _>>()?;
            let data: Vec<&[i64]> = data.iter().map(|d| &**d).collect();
            let exact = zkml_kernels::reference::einsum_exact(&spec, &data, &shapes);
            let out = exact
                .into_iter()
                .map(|x| i64::try_from(x).map_err(|_| OpError::new(format!("einsum value {x} exceeds i64"))))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(vec![Tensor::from_i64(out_shape, out)?]);
        }
        let data = inputs.iter().map(|t| t.as_f32()).collect::<Result<Vec<_>, _>>()?;
        Ok(vec![Tensor::from_f32(out_shape, zkml_kernels::cpu::einsum(&spec, &data, &shapes))?])
    }
}
