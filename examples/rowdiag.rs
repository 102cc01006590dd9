//! Per-row quantization error of every value whose node name starts with a
//! prefix: for each row (last axis), max |q - f| over that row's max |f|,
//! worst row reported. Per-tensor metrics hide what this shows: a row (a
//! token) whose values are 10^3 below the tensor's largest (LLM "massive
//! activations") losing its precision. Found the residual-stream width bug
//! behind SmolLM2's early +35% perplexity.
//!
//! ```text
//! cargo run --release -p zkml-tests --example rowdiag -- MODEL.onnx calibration.json data.json layers.0.
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]
use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_ir::{Op, TensorData};
use zkml_runtime::Executor;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let g = load_onnx(std::path::Path::new(&a[1]), &FrontendOptions::default()).unwrap();
    let cal = pipeline::calibration_from_json(&g, &std::fs::read_to_string(&a[2]).unwrap()).unwrap();
    let data = pipeline::calibration_from_json(&g, &std::fs::read_to_string(&a[3]).unwrap()).unwrap();
    let c = pipeline::compile(&g, &cal, &QuantOptions::default(), &RewriteOptions::default()).unwrap();
    let qg = &c.quantized.graph;
    let fv = c.rewritten.eval_all(&data[0]).unwrap();
    let qv = Executor::new(qg).run_all(&quantize_inputs(qg, &data[0])).unwrap();
    for (o, n) in &c.quantized.values {
        let node = c.rewritten.node(o.node);
        if !node.name.starts_with(&a[4]) {
            continue;
        }
        let (TensorData::F32(f), TensorData::I64(q), Some(qt)) =
            (fv[o.node][o.slot].data(), qv[n.node][n.slot].data(), qg.fact(*n).and_then(|f| f.dtype.q()))
        else {
            continue;
        };
        let shape = c.rewritten.fact(*o).unwrap().shape.clone();
        let last = *shape.last().unwrap_or(&1);
        let mut worst = (0f64, 0usize);
        for (r, (fr, qr)) in f.chunks(last).zip(q.chunks(last)).enumerate() {
            let m = fr.iter().fold(1e-30f64, |m, x| m.max(x.abs() as f64));
            let e = fr.iter().zip(qr).fold(0f64, |e, (x, y)| e.max((qt.dequantize(*y) - *x as f64).abs()));
            if e / m > worst.0 {
                worst = (e / m, r);
            }
        }
        let kind = match node.op {
            Op::Einsum(_) => "einsum",
            Op::Lookup(_) => "lookup",
            _ => node.op.def().name(),
        };
        println!("{:>10.3e} row {:>5} %{} {} ({kind}) {}", worst.0, worst.1, o.node, node.name, qt.bits);
    }
}
