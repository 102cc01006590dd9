//! `zkrt run --dump-tensors DIR`: every value of a run as a NumPy `.npy`
//! file, dequantized, named after its ONNX tensor, so that a user can
//! compare it with onnxruntime's (or their framework's) node by node.
//!
//! Values of the quantized plan that have an ONNX counterpart carry its
//! tensor name; the rest are the plan's own steps (requantizations
//! `….in`/`….out`, alignments `….align`, a comparison's `….diff`),
//! named after the value they serve. `index.json` lists every file with its
//! value's name, node, op, shape and scale.

use crate::RuntimeError;
use serde::Serialize;
use std::path::Path;
use zkml_ir::{DType, Graph, Op, Tensor, TensorData};

/// One dumped value.
#[derive(Debug, Clone, Serialize)]
pub struct Dumped {
    pub file: String,
    pub value: String,
    pub node: usize,
    pub op: String,
    pub shape: Vec<usize>,
    /// The fixed-point scale (absent for floats and plain integers).
    pub scale: Option<f32>,
}

/// A file name for value `name`: characters other than ASCII letters,
/// digits, `.`, `-` and `_` become `_` (ONNX names hold `/` and `:`).
fn file_stem(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with('.') { format!("_{s}") } else { s }
}

fn write_npy<T: npyz::Serialize + npyz::AutoSerialize>(
    path: &Path,
    shape: &[usize],
    data: impl IntoIterator<Item = T>,
) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    use npyz::WriterBuilder;
    let mut w = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(file).begin_nd()?;
    w.extend(data)?;
    w.finish()
}

/// Writes every non-constant value of a run (`values`, the executor's)
/// into `dir` (created if missing), with `index.json`; returns the index.
pub fn dump_tensors(graph: &Graph, values: &[Vec<Tensor>], dir: &Path) -> Result<Vec<Dumped>, RuntimeError> {
    let io = |e: std::io::Error, what: &Path| RuntimeError::Io(format!("{}: {e}", what.display()));
    std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
    let mut index = Vec::new();
    // The graph's outputs get their plain names (a value the plan narrows
    // before output shares its name): others sharing a name get `.<node>`.
    let outputs: std::collections::HashSet<zkml_ir::ValueId> = graph.outputs().iter().copied().collect();
    let mut used: std::collections::HashSet<String> =
        outputs.iter().filter_map(|&v| graph.value(v)).map(|v| file_stem(&v.name)).collect();
    for (id, node) in graph.nodes() {
        if matches!(node.op, Op::Const(_)) {
            continue;
        }
        for (slot, out) in node.outputs.iter().enumerate() {
            let Some(t) = values.get(id).and_then(|v| v.get(slot)) else { continue };
            let mut stem = file_stem(&out.name);
            if !outputs.contains(&zkml_ir::ValueId::new(id, slot)) && !used.insert(stem.clone()) {
                stem = format!("{stem}.{id}");
                used.insert(stem.clone());
            }
            let file = format!("{stem}.npy");
            let path = dir.join(&file);
            let scale = out.fact.dtype.q().map(|q| q.scale);
            let shape = t.shape().to_vec();
            match (out.fact.dtype, t.data()) {
                (DType::F32, TensorData::F32(v)) => write_npy(&path, &shape, v.iter().copied()),
                (DType::Q(q), _) => {
                    let ints = t.as_i64().map_err(|e| RuntimeError::Io(e.to_string()))?;
                    write_npy(&path, &shape, ints.iter().map(|&x| q.dequantize(x) as f32))
                }
                (_, TensorData::Bool(v)) => write_npy(&path, &shape, v.iter().map(|&b| u8::from(b))),
                _ => {
                    let ints = t.as_i64().map_err(|e| RuntimeError::Io(e.to_string()))?;
                    write_npy(&path, &shape, ints.iter().copied())
                }
            }
            .map_err(|e| io(e, &path))?;
            index.push(Dumped {
                file,
                value: out.name.clone(),
                node: id,
                op: node.op.to_string(),
                shape,
                scale,
            });
        }
    }
    let path = dir.join("index.json");
    let text = serde_json::to_string_pretty(&index).map_err(|e| RuntimeError::Io(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| io(e, &path))?;
    Ok(index)
}
