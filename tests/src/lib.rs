//! Test harness shared by the integration tests: fixture discovery, random
//! inputs, the tract oracle and the error metric.
//!
//! The oracle is tract's own optimised runner on the same ONNX file: an
//! implementation independent of ours (different kernels, different op
//! decomposition), so agreement is evidence, not tautology.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use tract_onnx::prelude::*;
use zkml_compiler::{FrontendOptions, frontend};
use zkml_ir::{DType, Fact, Graph, Tensor, TensorData};

/// `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every committed model fixture that is expected to compile.
pub fn model_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .filter(|p| {
            !p.file_stem()
                .is_some_and(|s| s.to_string_lossy().starts_with("unsupported"))
        })
        .collect();
    v.sort();
    v
}

/// Random inputs for `facts`: floats uniform in [-1, 1) (images in [0, 1)),
/// integers (token ids) in [0, `id_bound`).
pub fn random_inputs(facts: &[&Fact], seed: u64, id_bound: i64) -> Vec<Tensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    facts
        .iter()
        .map(|f| {
            match f.dtype {
                DType::I64 => Tensor::from_i64(
                    f.shape.clone(),
                    (0..f.len())
                        .map(|_| rng.random_range(0..id_bound))
                        .collect(),
                ),
                _ => Tensor::from_f32(
                    f.shape.clone(),
                    (0..f.len())
                        .map(|_| rng.random_range(-1.0f32..1.0))
                        .collect(),
                ),
            }
            .expect("shape matches length")
        })
        .collect()
}

fn to_tract(t: &Tensor) -> TractResult<TValue> {
    Ok(match t.data() {
        TensorData::F32(v) => tract_onnx::prelude::Tensor::from_shape(t.shape(), v)?.into(),
        TensorData::I64(v) => tract_onnx::prelude::Tensor::from_shape(t.shape(), v)?.into(),
        TensorData::Bool(v) => tract_onnx::prelude::Tensor::from_shape(t.shape(), v)?.into(),
    })
}

/// Runs the model with tract's optimised runner (the oracle).
pub fn tract_run(
    path: &Path,
    opts: &FrontendOptions,
    inputs: &[Tensor],
) -> TractResult<Vec<Vec<f32>>> {
    let typed = frontend::load_typed(path, opts).map_err(|e| TractError::msg(e.to_string()))?;
    let plan = typed.into_optimized()?.into_runnable()?;
    let ins = inputs
        .iter()
        .map(to_tract)
        .collect::<TractResult<TVec<_>>>()?;
    let outs = plan.run(ins)?;
    outs.iter()
        .map(|o| {
            Ok(o.cast_to::<f32>()?
                .try_as_plain_ram()?
                .as_slice::<f32>()?
                .to_vec())
        })
        .collect()
}

/// Runs our f32 reference evaluator.
pub fn ours_run(graph: &Graph, inputs: &[Tensor]) -> Vec<Vec<f32>> {
    graph
        .eval(inputs)
        .expect("evaluation succeeds")
        .iter()
        .map(|t| match t.data() {
            TensorData::F32(v) => v.clone(),
            TensorData::I64(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8 as f32).collect(),
        })
        .collect()
}

/// Largest absolute difference divided by the oracle's largest magnitude.
///
/// Element-wise relative error is meaningless for values that are sums with
/// cancellation (a logit near 0 computed in a different order); relative to
/// the tensor's scale it measures what matters. Returns `f32::INFINITY` on
/// length mismatch or NaN disagreement.
pub fn max_rel_error(ours: &[f32], oracle: &[f32]) -> f32 {
    if ours.len() != oracle.len() {
        return f32::INFINITY;
    }
    let scale = oracle
        .iter()
        .filter(|x| x.is_finite())
        .fold(0f32, |m, x| m.max(x.abs()))
        .max(1e-30);
    ours.iter()
        .zip(oracle)
        .map(|(a, b)| {
            if a == b {
                0.0
            } else if a.is_nan() || b.is_nan() || !a.is_finite() || !b.is_finite() {
                f32::INFINITY
            } else {
                (a - b).abs() / scale
            }
        })
        .fold(0f32, f32::max)
}
