//! `zkrt`, the zkml runtime: loads a plan, executes it ([`exec`]), and (in
//! later stages) proves and verifies the execution.
//!
//! A quantized plan's inputs are quantized here (round to nearest, saturate
//! to the input's bit range) and its outputs dequantized, so users read and
//! write floats in the EZKL-style JSON layout that proving will keep:
//!
//! ```json
//! {"input_data": [[...one flattened list per model input...]]}
//! ```

pub mod alloc;
pub mod dump;
pub mod exec;
pub mod saturation;

pub use exec::Executor;
use serde::{Deserialize, Serialize};
use zkml_ir::{DType, Fact, Graph, Tensor};

/// Errors of the runtime library.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("input file: {0}")]
    InputJson(String),
    #[error("input {index} ('{name}'): expected {expected} values for {fact}, got {got}")]
    InputLength { index: usize, name: String, fact: String, expected: usize, got: usize },
    #[error("input {index} ('{name}'): value {value} is not a valid {dtype}")]
    InputValue { index: usize, name: String, value: f64, dtype: String },
    #[error("writing tensors: {0}")]
    Io(String),
    #[error(transparent)]
    Ir(#[from] zkml_ir::IrError),
}

/// EZKL-style input file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputData {
    pub input_data: Vec<Vec<f64>>,
}

/// EZKL-style output file (dequantized floats).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputData {
    pub output_data: Vec<Vec<f64>>,
}

impl InputData {
    pub fn parse(text: &str) -> Result<Self, RuntimeError> {
        serde_json::from_str(text).map_err(|e| RuntimeError::InputJson(e.to_string()))
    }

    /// Builds the graph's input tensors, checking counts, lengths and types.
    pub fn to_tensors(&self, graph: &Graph) -> Result<Vec<Tensor>, RuntimeError> {
        let named: Vec<(String, Fact)> = graph
            .input_facts()
            .iter()
            .enumerate()
            .map(|(i, f)| (graph.node(graph.inputs()[i]).name.clone(), (*f).clone()))
            .collect();
        self.tensors_for(&named)
    }

    /// Builds input tensors for inputs given by name and fact (a verifier
    /// has the facts from the verifying key, not a graph).
    pub fn tensors_for(&self, inputs: &[(String, Fact)]) -> Result<Vec<Tensor>, RuntimeError> {
        let facts: Vec<&Fact> = inputs.iter().map(|(_, f)| f).collect();
        if facts.len() != self.input_data.len() {
            return Err(RuntimeError::InputJson(format!(
                "the model has {} inputs, input_data has {} lists",
                facts.len(),
                self.input_data.len()
            )));
        }
        let mut out = Vec::new();
        for (index, (fact, data)) in facts.iter().zip(&self.input_data).enumerate() {
            let name = inputs[index].0.clone();
            if data.len() != fact.len() {
                return Err(RuntimeError::InputLength {
                    index,
                    name,
                    fact: fact.to_string(),
                    expected: fact.len(),
                    got: data.len(),
                });
            }
            let bad = |value: f64| RuntimeError::InputValue {
                index,
                name: name.clone(),
                value,
                dtype: fact.dtype.to_string(),
            };
            let t = match fact.dtype {
                DType::F32 | DType::Q(_) => {
                    if let Some(&v) = data.iter().find(|v| !v.is_finite()) {
                        return Err(bad(v));
                    }
                    match fact.dtype {
                        DType::Q(q) => Tensor::from_i64(
                            fact.shape.clone(),
                            data.iter().map(|&v| q.quantize(v)).collect(),
                        ),
                        _ => Tensor::from_f32(fact.shape.clone(), data.iter().map(|&v| v as f32).collect()),
                    }
                }
                DType::I64 => {
                    if let Some(&v) = data.iter().find(|v| v.fract() != 0.0 || v.abs() > 9.0e15) {
                        return Err(bad(v));
                    }
                    Tensor::from_i64(fact.shape.clone(), data.iter().map(|&v| v as i64).collect())
                }
                other => {
                    return Err(RuntimeError::InputJson(format!(
                        "input {index} has unsupported type {other}"
                    )));
                }
            }
            .map_err(|e| RuntimeError::InputJson(e.to_string()))?;
            out.push(t);
        }
        Ok(out)
    }
}

impl OutputData {
    /// The graph's outputs as floats: quantized outputs are dequantized with
    /// their fact's scale.
    pub fn from_tensors(graph: &Graph, ts: &[Tensor]) -> Self {
        let output_data = ts
            .iter()
            .zip(graph.outputs())
            .map(|(t, v)| {
                let q = graph.fact(*v).and_then(|f| f.dtype.q());
                match (t.data(), t.as_i64(), q) {
                    (zkml_ir::TensorData::F32(v), _, _) => v.iter().map(|&x| x as f64).collect(),
                    (zkml_ir::TensorData::Bool(v), _, _) => v.iter().map(|&x| x as u8 as f64).collect(),
                    (_, Ok(v), Some(q)) => v.iter().map(|&x| q.dequantize(x)).collect(),
                    (_, Ok(v), None) => v.iter().map(|&x| x as f64).collect(),
                    (_, Err(_), _) => unreachable!("every tensor holds floats, bools or integers"),
                }
            })
            .collect();
        OutputData { output_data }
    }
}

impl OutputData {
    pub fn parse(text: &str) -> Result<Self, RuntimeError> {
        serde_json::from_str(text).map_err(|e| RuntimeError::InputJson(e.to_string()))
    }

    /// The integers a dequantized output file stands for, for outputs of the
    /// given facts. Strict: every value must be exactly `q · scale` for an
    /// integer `q` in range (what [`OutputData::from_tensors`] writes), so a
    /// verifier never accepts a rounded or edited file as the proven output.
    pub fn to_tensors(&self, facts: &[Fact]) -> Result<Vec<Tensor>, RuntimeError> {
        if facts.len() != self.output_data.len() {
            return Err(RuntimeError::InputJson(format!(
                "the model has {} outputs, output_data has {} lists",
                facts.len(),
                self.output_data.len()
            )));
        }
        let mut out = Vec::with_capacity(facts.len());
        for (index, (fact, data)) in facts.iter().zip(&self.output_data).enumerate() {
            if data.len() != fact.len() {
                return Err(RuntimeError::InputLength {
                    index,
                    name: format!("output {index}"),
                    fact: fact.to_string(),
                    expected: fact.len(),
                    got: data.len(),
                });
            }
            let off_grid = |value: f64| RuntimeError::InputValue {
                index,
                name: format!("output {index}"),
                value,
                dtype: fact.dtype.to_string(),
            };
            let ints = match fact.dtype {
                DType::Q(q) => data
                    .iter()
                    .map(|&v| {
                        let i = q.quantize(v);
                        if q.dequantize(i) == v { Ok(i) } else { Err(off_grid(v)) }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                DType::I64 => {
                    data.iter()
                        .map(|&v| {
                            if v.fract() == 0.0 && v.abs() <= 9.0e15 {
                                Ok(v as i64)
                            } else {
                                Err(off_grid(v))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()?
                }
                other => {
                    return Err(RuntimeError::InputJson(format!(
                        "output {index} has unprovable type {other}"
                    )));
                }
            };
            out.push(
                Tensor::from_i64(fact.shape.clone(), ints)
                    .map_err(|e| RuntimeError::InputJson(e.to_string()))?,
            );
        }
        Ok(out)
    }
}

/// Executes the plan's graph on the inputs with the [`Executor`] (exact
/// integer semantics on quantized plans, f32 reference semantics on float
/// plans).
pub fn execute(graph: &Graph, input: &InputData) -> Result<OutputData, RuntimeError> {
    let tensors = input.to_tensors(graph)?;
    let out = Executor::new(graph).run(&tensors)?;
    Ok(OutputData::from_tensors(graph, &out))
}
