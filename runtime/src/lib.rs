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
pub mod cache;
pub mod dump;
pub mod exec;
pub mod files;
pub mod generate;
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
    #[error(
        "input {index} ('{name}'): {count} values beyond its calibrated range ±{limit} (first: {first}); \
         compile with calibration data that covers them, or pass --saturate to clamp them (the proof \
         is then of the clamped input)"
    )]
    InputRange { index: usize, name: String, count: usize, first: f64, limit: f64 },
    #[error(
        "input {index} ('{name}'): value {value} is not exactly on the grid of {dtype}: a proof's \
         statement is the integers it proved (verify with the file `zkrt run --proved-input` writes)"
    )]
    InputOffGrid { index: usize, name: String, value: f64, dtype: String },
    #[error("input {index} ('{name}'): id {value} is outside [0, {rows}), the rows of the table it indexes")]
    IdRange { index: usize, name: String, value: i64, rows: usize },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(
        "running this plan holds {total} bytes of values (the largest, '{name}' of shape {shape:?}, \
         {bytes} bytes), beyond the memory budget of {budget} bytes (--max-memory)"
    )]
    TooLarge { total: u128, name: String, shape: Vec<usize>, bytes: u128, budget: u64 },
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

/// How [`InputData`] values become their inputs' integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// What a prover does with real-valued data: round each value to its
    /// input's grid. A value beyond the type's range is an error, unless
    /// `saturate` (then it is clamped, and counted in [`Inputs::clamped`]).
    Round { saturate: bool },
    /// What a verifier accepts: every value exactly on its grid and in
    /// range, so that one statement has one input file (`zkrt run
    /// --proved-input` writes it).
    Exact,
}

/// One model input as the runtime reads it: name, fact, and the rows of
/// the table it indexes when it holds ids (see [`zkml_ir::id_bounds`]).
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: String,
    pub fact: Fact,
    pub id_rows: Option<usize>,
}

impl InputSpec {
    /// The inputs of a verifying key: its `nodes` and the node ids of its
    /// `inputs`.
    pub fn of_nodes(nodes: &[zkml_ir::Node], inputs: &[usize]) -> Vec<InputSpec> {
        inputs
            .iter()
            .zip(zkml_ir::id_bounds(nodes.iter().enumerate(), inputs))
            .filter_map(|(&i, id_rows)| {
                let node = nodes.get(i)?;
                Some(InputSpec { name: node.name.clone(), fact: node.outputs.first()?.fact.clone(), id_rows })
            })
            .collect()
    }

    /// The inputs of a graph.
    pub fn of_graph(graph: &Graph) -> Vec<InputSpec> {
        let bounds = zkml_ir::id_bounds(graph.nodes(), graph.inputs());
        graph
            .inputs()
            .iter()
            .zip(bounds)
            .map(|(&i, id_rows)| {
                let node = graph.node(i);
                let fact = node
                    .outputs
                    .first()
                    .map(|o| o.fact.clone())
                    .unwrap_or_else(|| Fact::new(DType::F32, vec![]));
                InputSpec { name: node.name.clone(), fact, id_rows }
            })
            .collect()
    }
}

/// Quantized inputs, and how many values of each were clamped.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub tensors: Vec<Tensor>,
    pub clamped: Vec<usize>,
}

impl InputData {
    pub fn parse(text: &str) -> Result<Self, RuntimeError> {
        serde_json::from_str(text).map_err(|e| RuntimeError::InputJson(e.to_string()))
    }

    /// Builds the graph's input tensors, rounding to the grid and clamping
    /// out-of-range values (for library callers that feed data of their
    /// own; `zkrt` uses [`InputData::quantize`] with an explicit mode).
    pub fn to_tensors(&self, graph: &Graph) -> Result<Vec<Tensor>, RuntimeError> {
        Ok(self.quantize(&InputSpec::of_graph(graph), InputMode::Round { saturate: true })?.tensors)
    }

    /// The inputs' integers (see [`InputMode`]), checking counts, lengths,
    /// types, ranges and id bounds.
    pub fn quantize(&self, inputs: &[InputSpec], mode: InputMode) -> Result<Inputs, RuntimeError> {
        if inputs.len() != self.input_data.len() {
            return Err(RuntimeError::InputJson(format!(
                "the model has {} inputs, input_data has {} lists",
                inputs.len(),
                self.input_data.len()
            )));
        }
        let mut out = Inputs { tensors: Vec::new(), clamped: Vec::new() };
        for (index, (spec, data)) in inputs.iter().zip(&self.input_data).enumerate() {
            let (fact, name) = (&spec.fact, spec.name.clone());
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
            if let Some(&v) = data.iter().find(|v| !v.is_finite()) {
                return Err(bad(v));
            }
            let mut clamped = 0;
            let t = match fact.dtype {
                DType::Q(q) => {
                    let m = q.max_abs();
                    let mut ints = Vec::with_capacity(data.len());
                    let mut beyond = (0, None);
                    for &v in data {
                        let r = (v / q.scale as f64).round();
                        let i = r.clamp(-(m as f64), m as f64) as i64;
                        if mode == InputMode::Exact && (r.abs() > m as f64 || q.dequantize(i) != v) {
                            return Err(RuntimeError::InputOffGrid {
                                index,
                                name,
                                value: v,
                                dtype: fact.dtype.to_string(),
                            });
                        }
                        if r.abs() > m as f64 {
                            beyond.0 += 1;
                            beyond.1.get_or_insert(v);
                        }
                        ints.push(i);
                    }
                    if let (count @ 1.., Some(first)) = beyond {
                        if mode == (InputMode::Round { saturate: false }) {
                            return Err(RuntimeError::InputRange {
                                index,
                                name,
                                count,
                                first,
                                limit: q.dequantize(m),
                            });
                        }
                        clamped = count;
                    }
                    Tensor::from_i64(fact.shape.clone(), ints)
                }
                DType::F32 => Tensor::from_f32(fact.shape.clone(), data.iter().map(|&v| v as f32).collect()),
                DType::I64 => {
                    let rows = spec.id_rows.map_or(9.0e15, |r| r as f64);
                    if let Some(&v) = data.iter().find(|v| v.fract() != 0.0 || v.abs() > 9.0e15) {
                        return Err(bad(v));
                    }
                    if let Some(&v) = data.iter().find(|&&v| spec.id_rows.is_some() && (v < 0.0 || v >= rows))
                    {
                        return Err(RuntimeError::IdRange {
                            index,
                            name,
                            value: v as i64,
                            rows: rows as usize,
                        });
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
            out.tensors.push(t);
            out.clamped.push(clamped);
        }
        Ok(out)
    }

    /// The input file of these integers: every value exactly `q · scale`,
    /// which [`InputMode::Exact`] reads back to the same integers.
    pub fn of_tensors(inputs: &[InputSpec], ts: &[Tensor]) -> Self {
        let input_data = ts
            .iter()
            .zip(inputs)
            .map(|(t, spec)| match (t.data(), t.as_i64(), spec.fact.dtype.q()) {
                (zkml_ir::TensorData::F32(v), _, _) => v.iter().map(|&x| x as f64).collect(),
                (zkml_ir::TensorData::Bool(v), _, _) => v.iter().map(|&x| x as u8 as f64).collect(),
                (_, Ok(v), Some(q)) => v.iter().map(|&x| q.dequantize(x)).collect(),
                (_, Ok(v), None) => v.iter().map(|&x| x as f64).collect(),
                (_, Err(_), _) => vec![],
            })
            .collect();
        InputData { input_data }
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

/// Checks that executing `graph` fits `budget` bytes: the executor keeps
/// every value (8 bytes an element) for the prover, so their sum is what a
/// run holds beyond the plan's own constants.
pub fn check_memory(graph: &Graph, budget: u64) -> Result<(), RuntimeError> {
    let mut total = 0u128;
    let mut largest: (u128, &str, &[usize]) = (0, "", &[]);
    for (_, node) in graph.nodes() {
        if matches!(node.op, zkml_ir::Op::Const(_)) {
            continue;
        }
        for o in &node.outputs {
            let bytes = o.fact.shape.iter().fold(8u128, |a, &d| a.saturating_mul(d as u128));
            total = total.saturating_add(bytes);
            if bytes > largest.0 {
                largest = (bytes, &node.name, &o.fact.shape);
            }
        }
    }
    if total > u128::from(budget) {
        return Err(RuntimeError::TooLarge {
            total,
            name: largest.1.to_string(),
            shape: largest.2.to_vec(),
            bytes: largest.0,
            budget,
        });
    }
    Ok(())
}

/// Executes the plan's graph on the inputs with the [`Executor`] (exact
/// integer semantics on quantized plans, f32 reference semantics on float
/// plans).
pub fn execute(graph: &Graph, input: &InputData) -> Result<OutputData, RuntimeError> {
    let tensors = input.to_tensors(graph)?;
    let out = Executor::new(graph).run(&tensors)?;
    Ok(OutputData::from_tensors(graph, &out))
}
