//! Values beyond the calibrated ranges: where a run's answer may differ
//! from the model's.
//!
//! A quantized plan has fixed ranges. An input beyond its range is clamped
//! when it is quantized, and a lookup whose requantized input lies beyond
//! its table's domain reads the edge row. Both are proven (the proof is of
//! the clamped computation), so they cannot make a proof invalid, but they
//! can silently change the answer: this module counts them so that `zkrt
//! run` can say so. Saturations that change nothing are not counted (a
//! table of `exp` cut where the function is below half an output step, the
//! sign domains of exact comparisons: see
//! [`zkml_ir::ops::lookup::LookupQuant::saturates_harmfully`]).

use serde::Serialize;
use zkml_ir::{DType, Graph, Op, Tensor};

/// Saturated values at one place of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saturated {
    /// `"input"` (clamped when quantized) or `"lookup"` (beyond the
    /// table's domain).
    pub kind: &'static str,
    pub node: usize,
    pub name: String,
    /// How many values saturated, of `total`.
    pub count: usize,
    pub total: usize,
}

/// Inputs given as floats (`data[i]`, the JSON's numbers) that lie beyond
/// their quantized input's range, per input.
pub fn saturated_inputs(graph: &Graph, data: &[Vec<f64>]) -> Vec<Saturated> {
    graph
        .inputs()
        .iter()
        .zip(graph.input_facts())
        .zip(data)
        .filter_map(|((&id, fact), vals)| {
            let DType::Q(q) = fact.dtype else { return None };
            let m = q.max_abs() as f64;
            let count = vals.iter().filter(|&&v| (v / q.scale as f64).round().abs() > m).count();
            (count > 0).then(|| Saturated {
                kind: "input",
                node: id,
                name: graph.node(id).name.clone(),
                count,
                total: vals.len(),
            })
        })
        .collect()
}

/// Lookups of a run (`values`, the executor's) whose inputs saturated
/// harmfully, per node.
pub fn saturated_lookups(graph: &Graph, values: &[Vec<Tensor>]) -> Vec<Saturated> {
    graph
        .nodes()
        .filter_map(|(id, node)| {
            let Op::Lookup(l) = &node.op else { return None };
            let q = l.quant?;
            let x = node.inputs.first()?;
            let ints = values.get(x.node)?.get(x.slot)?.as_i64().ok()?;
            let count = ints.iter().filter(|&&v| q.saturates_harmfully(v)).count();
            (count > 0).then(|| Saturated {
                kind: "lookup",
                node: id,
                name: node.name.clone(),
                count,
                total: ints.len(),
            })
        })
        .collect()
}
