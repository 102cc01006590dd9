//! The compiler's stages chained: frontend graph → rewrite → calibrate →
//! quantize → provability check ([`compile`]), then partitioning and setup
//! ([`build`]: the finished plan and its proving key), plus the
//! calibration inputs (from a file or the default).

use crate::partition::{self, PartitionError};
use crate::quantize::{Calibration, QuantError, QuantOptions, Quantized, quantize};
use crate::rewrite::{RewriteError, RewriteOptions, RewriteReport, rewrite};
use zkml_ir::ops::layout::Gather;
use zkml_ir::{DType, Graph, Op, Plan, Tensor};
use zkml_protocol::ProvingKey;

/// Errors of the stages after the frontend.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("rewrite: {0}")]
    Rewrite(#[from] RewriteError),
    #[error("quantization: {0}")]
    Quant(#[from] QuantError),
    /// A quantized node no family of the prover proves (names the node,
    /// its op and what is provable).
    #[error("not provable: {0}")]
    Unprovable(zkml_protocol::Error),
    #[error("partitioning: {0}")]
    Partition(#[from] PartitionError),
    #[error("setup: {0}")]
    Setup(zkml_protocol::Error),
    #[error("decoder: {0}")]
    Decoder(#[from] crate::decoder::DecoderError),
}

/// How many colored partitions to cut the proving work into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colors {
    /// From the cost model, for this many workers.
    Auto {
        workers: usize,
    },
    Fixed(usize),
}

/// Everything [`build`] needs besides the graph and calibration samples.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub quant: QuantOptions,
    pub rewrite: RewriteOptions,
    pub colors: Colors,
    /// The float graph as it is (no rewrite, no quantization, no key): a
    /// plan for inference only.
    pub float: bool,
    /// A decoder plan (`crate::decoder`): the argmax of the logits
    /// appended and proven, the decoder shape recorded in plan and key.
    pub decoder: bool,
}

impl Default for BuildOptions {
    /// Default quantization and rewriting, one partition, a quantized plan
    /// that is not a decoder.
    fn default() -> Self {
        BuildOptions {
            quant: QuantOptions::default(),
            rewrite: RewriteOptions::default(),
            colors: Colors::Fixed(1),
            float: false,
            decoder: false,
        }
    }
}

/// What `zkc compile` writes: the plan (partitioned) and, for a quantized
/// plan, the proving key (its verifying key and the weights' prover data).
#[derive(Debug)]
pub struct Built {
    pub plan: Plan,
    pub pk: Option<ProvingKey>,
    /// The stages' results (absent for a float plan).
    pub compiled: Option<Compiled>,
}

/// The finished plan of a frontend graph: [`compile`], then heavy einsums
/// split and the graph cut into colored partitions, then setup (weights
/// committed per partition).
pub fn build(g: &Graph, samples: &[Vec<Tensor>], opts: &BuildOptions) -> Result<Built, CompileError> {
    if opts.float {
        return Ok(Built { plan: Plan::new(g.clone()), pk: None, compiled: None });
    }
    let (decoded, decoder) = match opts.decoder {
        true => {
            let (g, d) = crate::decoder::decoder_graph(g)?;
            (Some(g), Some(d))
        }
        false => (None, None),
    };
    let compiled = compile(decoded.as_ref().unwrap_or(g), samples, &opts.quant, &opts.rewrite)?;
    let (mut graph, partitions) = partition_graph(&compiled.quantized.graph, opts.colors)?;
    graph.set_decoder(decoder).map_err(|e| CompileError::Decoder(e.into()))?;
    let plan = Plan { partitions, ..Plan::new(graph) };
    let pk = zkml_protocol::setup_partitioned(&plan.graph, &plan.partitions, &plan.producer)
        .map_err(CompileError::Setup)?;
    Ok(Built { plan, pk: Some(pk), compiled: Some(compiled) })
}

/// Heavy einsums split, then the graph cut into `colors` partitions.
pub fn partition_graph(g: &Graph, colors: Colors) -> Result<(Graph, zkml_ir::Partitioning), PartitionError> {
    let k = match colors {
        Colors::Fixed(k) => k,
        Colors::Auto { workers } => partition::auto_colors(g, workers)?,
    };
    partition::split_and_partition(g, k)
}

/// Everything the stages after the frontend produce.
#[derive(Debug)]
pub struct Compiled {
    pub rewritten: Graph,
    pub report: RewriteReport,
    pub calibration: Calibration,
    pub quantized: Quantized,
}

/// Rewrites, calibrates on `samples` and quantizes `g`, then checks that
/// the prover proves every node of the result.
pub fn compile(
    g: &Graph,
    samples: &[Vec<Tensor>],
    quant: &QuantOptions,
    rw: &RewriteOptions,
) -> Result<Compiled, CompileError> {
    let (rewritten, report) = rewrite(g, rw)?;
    let calibration = Calibration::run(&rewritten, samples)?;
    let quantized = quantize(&rewritten, &calibration, quant)?;
    zkml_protocol::provable::check(&quantized.graph).map_err(CompileError::Unprovable)?;
    Ok(Compiled { rewritten, report, calibration, quantized })
}

/// Number of default calibration samples.
pub const DEFAULT_SAMPLES: usize = 8;

/// The documented default calibration set: [`DEFAULT_SAMPLES`] inputs drawn
/// from a fixed-seed generator: f32 inputs uniform in [-1, 1], integer
/// inputs (token ids) uniform over the rows of the table they index (or
/// `[0, 2)` if they index none). Real data is better: see `--calibration`.
pub fn default_calibration(g: &Graph) -> Vec<Vec<Tensor>> {
    synthetic_samples(g, DEFAULT_SAMPLES, 0)
}

/// `n` synthetic input samples drawn as [`default_calibration`]'s, from
/// generator `seed` (0 is the default calibration's).
pub fn synthetic_samples(g: &Graph, n: usize, seed: u64) -> Vec<Vec<Tensor>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ seed.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let mut next = move || {
        // xorshift64*: deterministic, dependency-free.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let bounds: Vec<i64> = g.inputs().iter().map(|&i| vocab_of(g, i)).collect();
    (0..n)
        .map(|_| {
            g.input_facts()
                .iter()
                .zip(&bounds)
                .map(|(f, &vocab)| {
                    let n = f.len();
                    let t = match f.dtype {
                        DType::I64 => Tensor::from_i64(
                            f.shape.clone(),
                            (0..n).map(|_| (next() % vocab.max(1) as u64) as i64).collect(),
                        ),
                        _ => Tensor::from_f32(
                            f.shape.clone(),
                            (0..n).map(|_| (next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0).collect(),
                        ),
                    };
                    t.expect("shape and data length agree by construction")
                })
                .collect()
        })
        .collect()
}

/// Rows of the table an integer input indexes (through `gather`), or 2.
fn vocab_of(g: &Graph, input: usize) -> i64 {
    g.consumers(input)
        .into_iter()
        .filter_map(|c| {
            let n = g.node(c);
            match &n.op {
                Op::Gather(Gather { axis }) if n.inputs.get(1).map(|v| v.node) == Some(input) => {
                    g.fact(n.inputs[0]).map(|f| f.shape[*axis] as i64)
                }
                _ => None,
            }
        })
        .min()
        .unwrap_or(2)
}

/// Calibration samples from EZKL-style JSON: `{"input_data": [[…], …]}`,
/// one flat list per model input holding one or more samples back to back.
/// Samples in the calibration file's layout (EZKL's `input_data`: per
/// input, the samples' values back to back), read by
/// [`calibration_from_json`].
pub fn calibration_to_json(samples: &[Vec<Tensor>]) -> String {
    let inputs = samples.first().map_or(0, Vec::len);
    let lists: Vec<Vec<serde_json::Value>> = (0..inputs)
        .map(|i| {
            samples
                .iter()
                .flat_map(|s| match s[i].data() {
                    zkml_ir::TensorData::F32(v) => {
                        v.iter().map(|&x| serde_json::json!(x)).collect::<Vec<_>>()
                    }
                    _ => s[i]
                        .as_i64()
                        .map(|v| v.iter().map(|&x| serde_json::json!(x)).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .collect();
    serde_json::json!({ "input_data": lists }).to_string()
}

pub fn calibration_from_json(g: &Graph, text: &str) -> Result<Vec<Vec<Tensor>>, QuantError> {
    let bad = |m: String| QuantError::Calibration(m);
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let lists = v
        .get("input_data")
        .and_then(|d| d.as_array())
        .ok_or_else(|| bad("expected {\"input_data\": [[...], ...]}".into()))?;
    let facts = g.input_facts();
    if lists.len() != facts.len() {
        return Err(bad(format!("{} input lists for a model with {} inputs", lists.len(), facts.len())));
    }
    let mut count = None;
    let mut per_input = Vec::new();
    for (i, (l, f)) in lists.iter().zip(&facts).enumerate() {
        let nums: Vec<f64> = l
            .as_array()
            .ok_or_else(|| bad(format!("input {i} is not a list")))?
            .iter()
            .map(|x| x.as_f64().ok_or_else(|| bad(format!("input {i} holds a non-number: {x}"))))
            .collect::<Result<_, _>>()?;
        let n = f.len().max(1);
        if nums.is_empty() || !nums.len().is_multiple_of(n) {
            return Err(bad(format!(
                "input {i} has {} values, not a positive multiple of {n} (one sample of shape {:?})",
                nums.len(),
                f.shape
            )));
        }
        let k = nums.len() / n;
        if *count.get_or_insert(k) != k {
            return Err(bad(format!("input {i} holds {k} samples, input 0 holds {}", count.unwrap_or(0))));
        }
        per_input.push(nums);
    }
    let k = count.unwrap_or(0);
    (0..k)
        .map(|s| {
            per_input
                .iter()
                .zip(&facts)
                .map(|(nums, f)| {
                    let n = f.len();
                    let chunk = &nums[s * n..(s + 1) * n];
                    let t = match f.dtype {
                        DType::I64 => {
                            Tensor::from_i64(f.shape.clone(), chunk.iter().map(|&x| x as i64).collect())
                        }
                        _ => Tensor::from_f32(f.shape.clone(), chunk.iter().map(|&x| x as f32).collect()),
                    };
                    t.map_err(|e| bad(e.to_string()))
                })
                .collect()
        })
        .collect()
}
