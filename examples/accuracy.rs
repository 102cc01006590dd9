//! How much accuracy quantization costs on a real task: tract's f32 run of
//! the ONNX model (the oracle) against our quantized plan run by the
//! runtime's exact integer executor, on a labelled data set.
//!
//! ```text
//! cargo run --release -p zkml-tests --example accuracy -- MODEL.onnx \
//!     --data data.json [--labels labels.json] [--calibration cal.json] \
//!     [--bits 16] [--metric top1|perplexity] [--limit N]
//! ```
//!
//! * `data.json`: samples in the EZKL layout, k samples concatenated per
//!   input (`{"input_data": [[...k·n values...]]}`), as for `--calibration`.
//! * `--metric top1` (classifiers): `labels.json` is `{"labels": [...]}`;
//!   prints both models' top-1 accuracy, their difference and how often the
//!   two agree.
//! * `--metric perplexity` (language models, input = token ids, output =
//!   logits `[1, T, vocab]`): each sample is a window of T tokens; prints the
//!   perplexity of predicting token t+1 from the logits at t, for both.
//!
//! `examples/mnist_data.py` and `examples/perplexity_data.py` write the data
//! files used for the figures in `docs/quantization.md`.

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Instant;
use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::report::quantize_inputs;
use zkml_compiler::rewrite::RewriteOptions;
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_ir::{Tensor, TensorData};
use zkml_runtime::Executor;
use zkml_tests::TractRunner;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Metric {
    Top1,
    Perplexity,
}

#[derive(Parser, Debug)]
struct Args {
    model: PathBuf,
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    labels: Option<PathBuf>,
    #[arg(long)]
    calibration: Option<PathBuf>,
    #[arg(long, default_value_t = 16)]
    bits: u8,
    /// Residual-stream width (default: the quantizer's for `--bits`).
    #[arg(long)]
    wide_bits: Option<u8>,
    #[arg(long, default_value_t = zkml_compiler::quantize::HEADROOM)]
    headroom: f32,
    /// Score the rewritten float graph instead of the quantized one (to
    /// separate rewrite error from quantization error).
    #[arg(long)]
    float: bool,
    /// Per-output-channel weight scales.
    #[arg(long)]
    per_channel: bool,
    /// Weight width (default: `--bits`).
    #[arg(long)]
    weight_bits: Option<u8>,
    #[arg(long, value_enum, default_value_t = Metric::Top1)]
    metric: Metric,
    /// Use only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
    /// Also print the per-layer error report on the first sample.
    #[arg(long)]
    layers: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let opts = FrontendOptions::default();
    let g = load_onnx(&args.model, &opts).context("loading the model")?;
    let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let mut samples = pipeline::calibration_from_json(&g, &read(&args.data)?)?;
    if let Some(n) = args.limit {
        samples.truncate(n);
    }
    let calibration = match &args.calibration {
        Some(p) => pipeline::calibration_from_json(&g, &read(p)?)?,
        None => pipeline::default_calibration(&g),
    };
    let t0 = Instant::now();
    let c =
        pipeline::compile(&g, &calibration, &QuantOptions::with_bits(args.bits), &RewriteOptions::default())?;
    let qg = &c.quantized.graph;
    let out_q = qg.fact(qg.outputs()[0]).and_then(|f| f.dtype.q()).context("quantized output")?;
    eprintln!(
        "compiled in {:.1} s ({} calibration samples, {} bits); {} samples",
        t0.elapsed().as_secs_f64(),
        calibration.len(),
        args.bits,
        samples.len()
    );
    if args.layers {
        let first = samples.first().context("no samples")?;
        let report = zkml_compiler::report::accuracy_with(&c, std::slice::from_ref(first), |g, inputs| {
            Executor::new(g).run_all(inputs)
        })?;
        println!("{report}");
    }
    let tract = TractRunner::new(&args.model, &opts).map_err(|e| anyhow::anyhow!("tract: {e}"))?;
    let ex = Executor::new(qg);
    let (mut t_float, mut t_quant) = (0.0, 0.0);
    let mut runs: Vec<(Vec<f32>, Vec<f32>)> = Vec::with_capacity(samples.len());
    for (i, s) in samples.iter().enumerate() {
        let t = Instant::now();
        let f = tract.run(s).map_err(|e| anyhow::anyhow!("tract on sample {i}: {e}"))?.remove(0);
        t_float += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let q: Vec<f32> = if args.float {
            Executor::new(&c.rewritten).run(s)?.remove(0).as_f32()?.to_vec()
        } else {
            let q = ex.run(&quantize_inputs(qg, s)).with_context(|| format!("sample {i}"))?.remove(0);
            q.as_i64()?.iter().map(|&x| out_q.dequantize(x) as f32).collect()
        };
        t_quant += t.elapsed().as_secs_f64();
        runs.push((f, q));
    }
    eprintln!("inference: tract f32 {t_float:.2} s, quantized executor {t_quant:.2} s");
    match args.metric {
        Metric::Top1 => top1(&args, &runs),
        Metric::Perplexity => perplexity(&samples, &runs),
    }
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |b, (i, x)| if *x > v[b] { i } else { b })
}

fn top1(args: &Args, runs: &[(Vec<f32>, Vec<f32>)]) -> Result<()> {
    let labels: Vec<usize> = match &args.labels {
        Some(p) => {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p)?)?;
            let l = v.get("labels").and_then(|l| l.as_array()).context("expected {\"labels\": [...]}")?;
            l.iter()
                .map(|x| x.as_u64().map(|x| x as usize).context("labels are integers"))
                .collect::<Result<_>>()?
        }
        None => bail!("--metric top1 needs --labels"),
    };
    if labels.len() < runs.len() {
        bail!("{} labels for {} samples", labels.len(), runs.len());
    }
    let n = runs.len() as f64;
    let (mut ok_f, mut ok_q, mut agree) = (0usize, 0usize, 0usize);
    for ((f, q), &l) in runs.iter().zip(&labels) {
        let (a, b) = (argmax(f), argmax(q));
        ok_f += usize::from(a == l);
        ok_q += usize::from(b == l);
        agree += usize::from(a == b);
    }
    let (af, aq) = (100.0 * ok_f as f64 / n, 100.0 * ok_q as f64 / n);
    println!(
        "top-1 accuracy on {} samples: f32 (tract) {af:.2}%, quantized {aq:.2}%, delta {:+.2} points",
        runs.len(),
        aq - af
    );
    println!("top-1 agreement quantized vs f32: {:.2}%", 100.0 * agree as f64 / n);
    Ok(())
}

/// Mean negative log-likelihood (nats) of `tokens[t+1]` under `logits[t]`.
fn nll(logits: &[f32], tokens: &[i64]) -> Result<(f64, usize)> {
    let t = tokens.len();
    if t < 2 || !logits.len().is_multiple_of(t) {
        bail!("{} logits for a window of {t} tokens", logits.len());
    }
    let vocab = logits.len() / t;
    let mut sum = 0.0;
    for pos in 0..t - 1 {
        let row = &logits[pos * vocab..(pos + 1) * vocab];
        let m = row.iter().fold(f32::NEG_INFINITY, |m, x| m.max(*x)) as f64;
        let lse = m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
        let next = usize::try_from(tokens[pos + 1]).ok().filter(|&i| i < vocab).context("token id")?;
        sum += lse - row[next] as f64;
    }
    Ok((sum, t - 1))
}

fn perplexity(samples: &[Vec<Tensor>], runs: &[(Vec<f32>, Vec<f32>)]) -> Result<()> {
    let (mut nf, mut nq, mut count) = (0.0, 0.0, 0usize);
    for (s, (f, q)) in samples.iter().zip(runs) {
        let TensorData::I64(tokens) = s[0].data() else { bail!("input 0 must hold token ids") };
        let (a, k) = nll(f, tokens)?;
        let (b, _) = nll(q, tokens)?;
        nf += a;
        nq += b;
        count += k;
    }
    let (pf, pq) = ((nf / count as f64).exp(), (nq / count as f64).exp());
    println!(
        "perplexity over {count} predicted tokens: f32 (tract) {pf:.4}, quantized {pq:.4}, increase {:+.3}%",
        100.0 * (pq / pf - 1.0)
    );
    Ok(())
}
