//! The bit-width / headroom sweep of `docs/quantization.md`: worst and mean
//! relative error (vs tract's f32 run) of each fixture's quantized output
//! on 10 fresh random inputs, default calibration.
//!
//! `cargo run --release -p zkml-tests --example quant_sweep`

#![allow(clippy::unwrap_used, clippy::expect_used)]
use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_ir::TensorData;
use zkml_tests::{max_rel_error, model_fixtures, random_inputs, tract_run};
fn main() {
    for path in model_fixtures() {
        let g = load_onnx(&path, &FrontendOptions::default()).unwrap();
        let samples = pipeline::default_calibration(&g);
        for bits in [16u8, 12, 8] {
            for (h, per_channel) in [(1.0f32, false), (2.0, false), (4.0, false), (2.0, true)] {
                let o = QuantOptions { headroom: h, per_channel, ..QuantOptions::with_bits(bits) };
                let c = pipeline::compile(&g, &samples, &o, &RewriteOptions::default()).unwrap();
                let qg = &c.quantized.graph;
                let oq = qg.fact(qg.outputs()[0]).unwrap().dtype.q().unwrap();
                let mut worst = 0f32;
                let mut sum = 0f32;
                for seed in 100..110 {
                    let inputs = random_inputs(&g.input_facts(), seed, 16);
                    let want = tract_run(&path, &FrontendOptions::default(), &inputs).unwrap();
                    let q = qg.eval(&quantize_inputs(qg, &inputs)).unwrap();
                    let TensorData::I64(v) = q[0].data() else { panic!() };
                    let got: Vec<f32> = v.iter().map(|&x| oq.dequantize(x) as f32).collect();
                    let e = max_rel_error(&got, &want[0]);
                    worst = worst.max(e);
                    sum += e;
                }
                println!(
                    "{} bits {bits} headroom {h}{}: worst {worst:.2e} mean {:.2e}",
                    path.file_stem().unwrap().to_string_lossy(),
                    if per_channel { " per-channel" } else { "" },
                    sum / 10.0
                );
            }
        }
    }
}
