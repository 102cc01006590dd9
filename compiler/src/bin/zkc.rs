//! `zkc`: compile an ONNX model into a zkml plan, or print a stage's IR.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use zkml_compiler::{FrontendOptions, frontend, pipeline, quantize, rewrite};
use zkml_ir::Plan;

#[derive(Parser, Debug)]
#[command(name = "zkc", version, about = "zkml compiler: ONNX model → proving plan")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Debug)]
struct ModelArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Fix an input's shape: `name=d1,d2,…` (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    input_shapes: Vec<String>,
    /// The most memory one tensor may take, in bytes, with an optional
    /// K/M/G/T suffix (a model or shape asking for more is an error
    /// naming the tensor).
    #[arg(long, value_name = "BYTES", default_value = "16G", value_parser = zkml_ir::parse_size)]
    max_memory: u64,
}

impl ModelArgs {
    fn options(&self) -> Result<FrontendOptions> {
        let input_shapes =
            self.input_shapes.iter().map(|s| FrontendOptions::parse_shape(s)).collect::<Result<_, _>>()?;
        Ok(FrontendOptions { input_shapes, max_tensor_bytes: self.max_memory })
    }

    /// Loads the model into the IR; symbolic input dimensions taken as 1
    /// are reported on stderr.
    fn load(&self) -> Result<zkml_ir::Graph> {
        let (graph, assumed) = frontend::load_onnx_noted(&self.model, &self.options()?)
            .with_context(|| format!("loading {}", self.model.display()))?;
        for a in assumed {
            eprintln!("note: {a}");
        }
        Ok(graph)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Stage {
    /// tract's typed model, before lowering (for debugging the frontend).
    Tract,
    /// The zkml IR as lowered from ONNX.
    Frontend,
    /// After e-graph rewriting: einsums, lookups and the other provable ops.
    Rewrite,
    /// After calibration and quantization: the graph the prover proves.
    Quantized,
    /// The quantized graph cut into colored partitions (`--colors`).
    Partitioned,
}

/// `--colors`: a number of partitions, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Colors {
    Auto,
    Fixed(usize),
}

impl std::str::FromStr for Colors {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Colors::Auto),
            n => n.parse().map(Colors::Fixed).map_err(|_| format!("expected a number or `auto`, got `{n}`")),
        }
    }
}

#[derive(clap::Args, Debug)]
struct PartitionArgs {
    /// Colored partitions of the proving work: a number K, or `auto` (from
    /// the cost model and `--workers`).
    #[arg(long, default_value = "1", value_name = "K|auto")]
    colors: Colors,
    /// Workers `--colors auto` plans for (default: this machine's cores).
    #[arg(long)]
    workers: Option<usize>,
}

impl PartitionArgs {
    fn colors(&self) -> pipeline::Colors {
        match self.colors {
            Colors::Fixed(k) => pipeline::Colors::Fixed(k),
            Colors::Auto => pipeline::Colors::Auto {
                workers: self
                    .workers
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            },
        }
    }
}

#[derive(clap::Args, Debug)]
struct QuantArgs {
    /// Calibration inputs, EZKL layout: {"input_data": [[...], ...]} (one or
    /// more samples per input, back to back). Default: 8 fixed-seed random samples.
    #[arg(long, value_name = "JSON")]
    calibration: Option<PathBuf>,
    /// Bit width of activations and weights (4..=16).
    #[arg(long, default_value_t = 16)]
    bits: u8,
    /// Factor widening every calibrated range before scales are chosen
    /// (values beyond a range saturate; each doubling costs one bit).
    #[arg(long, default_value_t = quantize::HEADROOM)]
    headroom: f32,
    /// Per-output-channel weight scales (default: per tensor): an einsum
    /// with one constant weight becomes `x · Q · C` with `Q` quantized per
    /// output channel and `C` the channel scales.
    #[arg(long)]
    per_channel: bool,
}

impl QuantArgs {
    /// The calibration samples (read once), from `--calibration` or the
    /// documented default.
    fn samples(&self, graph: &zkml_ir::Graph) -> Result<Vec<Vec<zkml_ir::Tensor>>> {
        Ok(match &self.calibration {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                pipeline::calibration_from_json(graph, &text)
                    .with_context(|| format!("calibration data {}", p.display()))?
            }
            None => {
                eprintln!(
                    "warning: no --calibration data: calibrating on {} synthetic samples (floats uniform in \
                     [-1, 1], ids uniform over their table); values outside those ranges will saturate. \
                     Give real inputs with --calibration (`zkc gen-data` writes a file to start from)",
                    pipeline::DEFAULT_SAMPLES
                );
                pipeline::default_calibration(graph)
            }
        })
    }

    fn options(&self) -> quantize::QuantOptions {
        quantize::QuantOptions {
            headroom: self.headroom,
            per_channel: self.per_channel,
            ..quantize::QuantOptions::with_bits(self.bits)
        }
    }

    fn compile(&self, graph: &zkml_ir::Graph) -> Result<pipeline::Compiled> {
        let samples = self.samples(graph)?;
        Ok(pipeline::compile(graph, &samples, &self.options(), &rewrite::RewriteOptions::default())?)
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Compile a model into a plan file.
    Compile {
        #[command(flatten)]
        model: ModelArgs,
        /// Where to write the plan.
        #[arg(short, long, default_value = "plan.bin")]
        output: PathBuf,
        /// Where to write the verifying key (default: the plan's path with
        /// extension `.vk`).
        #[arg(long)]
        vk: Option<PathBuf>,
        /// Re-derive the verifying key and compare it with this one instead
        /// of writing anything: exit 0 iff this ONNX, calibration data and
        /// options give exactly that key.
        #[arg(long, value_name = "KEY")]
        verify_key: Option<PathBuf>,
        #[command(flatten)]
        quant: QuantArgs,
        /// Write the float graph (no rewrite, no quantization): for inference only.
        #[arg(long, conflicts_with = "decoder")]
        float: bool,
        #[command(flatten)]
        decoder: DecoderArgs,
        /// Print a report: `accuracy` = per-layer error of the quantized
        /// model against the float one, on the calibration inputs.
        #[arg(long, value_name = "KIND")]
        report: Option<Report>,
        #[command(flatten)]
        parts: PartitionArgs,
    },
    /// Write random inputs of the model's shapes, in the calibration
    /// file's layout: a starting point for `--calibration` (replace them
    /// with real data where you can).
    GenData {
        #[command(flatten)]
        model: ModelArgs,
        /// Where to write the JSON.
        #[arg(short, long, default_value = "calibration.json")]
        output: PathBuf,
        /// How many samples (1..=4096).
        #[arg(long, default_value_t = 8)]
        samples: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the IR of a compilation stage.
    Dump {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value = "frontend")]
        stage: Stage,
        #[command(flatten)]
        quant: QuantArgs,
        #[command(flatten)]
        parts: PartitionArgs,
    },
    /// Write a plan's graph as Graphviz DOT, nodes filled with their
    /// partition's color, and an SVG beside it when graphviz is installed.
    Graph {
        /// The plan file.
        plan: PathBuf,
        /// Where to write the DOT file.
        #[arg(short, long, default_value = "plan.dot")]
        output: PathBuf,
        /// Require the SVG (`<output>.svg`): an error if graphviz is missing.
        #[arg(long)]
        svg: bool,
    },
}

/// `zkc compile --decoder`.
#[derive(clap::Args, Debug)]
struct DecoderArgs {
    /// Compile a decoder plan: a causal language model (token ids → logits)
    /// whose argmax is appended and proven; the plan proves whole greedy
    /// generations (`zkrt generate`). See `docs/generation.md`.
    #[arg(long)]
    decoder: bool,
    /// A decoder plan's positions (prompt plus generated tokens): sets the
    /// token input's symbolic sequence length (default: the model's own).
    #[arg(long, requires = "decoder", value_name = "N")]
    max_positions: Option<usize>,
}

/// Most positions a decoder plan may have.
const MAX_POSITIONS: usize = 1 << 16;

impl DecoderArgs {
    /// The model, its token input set to `--max-positions` where the
    /// model leaves the sequence length symbolic.
    fn load(&self, model: &ModelArgs) -> Result<zkml_ir::Graph> {
        let Some(p) = self.max_positions else { return model.load() };
        if p == 0 || p > MAX_POSITIONS {
            anyhow::bail!("--max-positions {p}: choose 1 to {MAX_POSITIONS}");
        }
        let opts = model.options()?;
        let (graph, assumed) = frontend::load_onnx_noted(&model.model, &opts)
            .with_context(|| format!("loading {}", model.model.display()))?;
        let have = zkml_compiler::decoder::positions(&graph)?;
        if have == p {
            return Ok(graph);
        }
        let name = graph.node(graph.inputs()[0]).name.clone();
        if !assumed.iter().any(|a| a.input == name && a.axis == 1) {
            anyhow::bail!(
                "--max-positions {p}: the model fixes its token input '{name}' at {have} positions \
                 (export it with a symbolic sequence length, or leave the flag out)"
            );
        }
        let mut opts = opts;
        opts.input_shapes.push((name, vec![1, p]));
        let (graph, assumed) = frontend::load_onnx_noted(&model.model, &opts)
            .with_context(|| format!("loading {}", model.model.display()))?;
        for a in assumed {
            eprintln!("note: {a}");
        }
        Ok(graph)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Report {
    Accuracy,
}

/// `zkc compile --verify-key`: the given key against the one just derived.
fn check_key(given: &std::path::Path, pk: &zkml_protocol::ProvingKey) -> Result<()> {
    const MAX_KEY_BYTES: u64 = 256 << 20;
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let len = std::fs::metadata(given).with_context(|| format!("reading {}", given.display()))?.len();
    if len > MAX_KEY_BYTES {
        anyhow::bail!("{}: larger than {MAX_KEY_BYTES} bytes: not a verifying key", given.display());
    }
    let bytes = std::fs::read(given).with_context(|| format!("reading {}", given.display()))?;
    let key = zkml_protocol::VerifyingKey::from_bytes(&bytes)
        .with_context(|| format!("reading the verifying key {}", given.display()))?;
    let digest = key.digest()?;
    if digest != pk.digest {
        anyhow::bail!(
            "{} does not come from this model: its digest is {}, this compile gives {}",
            given.display(),
            hex(&digest),
            hex(&pk.digest)
        );
    }
    println!("key matches: {} is this model's verifying key (digest {})", given.display(), hex(&digest));
    Ok(())
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // Errors are printed as a context chain, never as a backtrace: they are
    // messages for users, not crash reports. A panic that escapes is a bug,
    // reported as such.
    let cli = Cli::parse();
    zkml_ir::run_main("zkc", || run(cli), |_| None)
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Compile { model, output, vk, verify_key, quant, float, decoder, report, parts } => {
            if verify_key.is_some() && float {
                anyhow::bail!("--verify-key: a float plan has no verifying key");
            }
            let graph = decoder.load(&model)?;
            let samples = if float { vec![] } else { quant.samples(&graph)? };
            let build = pipeline::BuildOptions {
                quant: quant.options(),
                rewrite: rewrite::RewriteOptions::default(),
                colors: parts.colors(),
                float,
                decoder: decoder.decoder,
            };
            let built = pipeline::build(&graph, &samples, &build)
                .with_context(|| format!("compiling {}", model.model.display()))?;
            if let (Some(Report::Accuracy), Some(c)) = (report, &built.compiled) {
                print!("{}", zkml_compiler::report::accuracy(c, &samples)?);
            }
            let (plan, pk) = (built.plan, built.pk);
            if let (Some(given), Some(pk)) = (&verify_key, &pk) {
                return check_key(given, pk);
            }
            match &pk {
                // The weights' prover data, streamed into the plan.
                Some(pk) => plan.write_streaming(&output, |w| pk.write_prover(w)),
                None => plan.write(&output),
            }
            .with_context(|| format!("writing {}", output.display()))?;
            println!("model:   {}", model.model.display());
            println!("graph:   {}", plan.graph.summary());
            for part in &plan.partitions.parts {
                println!(
                    "color {}: {} nodes, cost {}, boundary in {} / out {} tensors",
                    part.color,
                    part.nodes.len(),
                    part.cost,
                    part.inputs.len(),
                    part.outputs.len()
                );
            }
            for (i, f) in plan.graph.input_facts().iter().enumerate() {
                let name = &plan.graph.node(plan.graph.inputs()[i]).name;
                println!("input:   {name} {f}");
            }
            for v in plan.graph.outputs() {
                let val = plan.graph.value(*v).context("output value")?;
                println!("output:  {} {}", val.name, val.fact);
            }
            if let Some(d) = plan.graph.decoder() {
                println!("decoder: {} positions, vocabulary {}, pad id {}", d.positions, d.vocab, d.pad_id);
            }
            let mut head = vec![];
            std::io::Read::read_to_end(
                &mut std::io::Read::take(std::fs::File::open(&output)?, 72),
                &mut head,
            )?;
            println!(
                "plan:    {} ({} bytes, blake3 {})",
                output.display(),
                std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0),
                Plan::digest(&head).unwrap_or_default()
            );
            if let Some(pk) = pk {
                let path = vk.unwrap_or_else(|| output.with_extension("vk"));
                let vk_bytes = pk.vk.to_bytes()?;
                std::fs::write(&path, &vk_bytes).with_context(|| format!("writing {}", path.display()))?;
                let digest: String = pk.digest.iter().map(|b| format!("{b:02x}")).collect();
                println!("vk:      {} ({} bytes, digest {})", path.display(), vk_bytes.len(), &digest[..16]);
            }
        }
        Cmd::GenData { model, output, samples, seed } => {
            if !(1..=4096).contains(&samples) {
                anyhow::bail!("--samples {samples}: choose 1 to 4096");
            }
            let graph = model.load()?;
            let data = pipeline::synthetic_samples(&graph, samples, seed);
            std::fs::write(&output, pipeline::calibration_to_json(&data))
                .with_context(|| format!("writing {}", output.display()))?;
            println!(
                "data:    {} ({samples} samples; floats uniform in [-1, 1], ids uniform over their table)",
                output.display()
            );
        }
        Cmd::Graph { plan, output, svg } => {
            let p = Plan::open(&plan).with_context(|| format!("reading {}", plan.display()))?;
            std::fs::write(&output, p.partitions.to_dot(&p.graph))
                .with_context(|| format!("writing {}", output.display()))?;
            println!(
                "dot:     {} ({} nodes, {} partitions)",
                output.display(),
                p.graph.len(),
                p.partitions.len()
            );
            // Rendered whenever graphviz is there; `--svg` makes it required.
            let out = output.with_extension("svg");
            match std::process::Command::new("dot").arg("-Tsvg").arg(&output).arg("-o").arg(&out).status() {
                Ok(status) if status.success() => println!("svg:     {}", out.display()),
                Ok(status) => anyhow::bail!("graphviz `dot` failed ({status})"),
                Err(e) if svg => {
                    return Err(anyhow::anyhow!(e).context("running graphviz `dot` (is graphviz installed?)"));
                }
                Err(_) => println!("svg:     not rendered (graphviz `dot` is not installed)"),
            }
        }
        Cmd::Dump { model, stage, quant, parts } => {
            let opts = model.options()?;
            match stage {
                Stage::Tract => {
                    let typed = frontend::load_typed(&model.model, &opts)?;
                    for n in typed.nodes() {
                        println!("{} {} {:?} <- {:?}", n.id, n.name, n.op, n.inputs);
                    }
                }
                Stage::Frontend => {
                    let graph = model.load()?;
                    print!("{}", graph.to_text());
                }
                Stage::Rewrite => {
                    let graph = model.load()?;
                    let (g, report) =
                        rewrite::rewrite(&graph, &rewrite::RewriteOptions::default()).context("rewriting")?;
                    eprintln!(
                        "rewrite: {} after {} iterations, e-graph {} nodes / {} classes, cost {:.3e} -> {:.3e}",
                        report.stop_reason,
                        report.iterations,
                        report.egraph_nodes,
                        report.egraph_classes,
                        report.cost_before,
                        report.cost_after
                    );
                    print!("{}", g.to_text());
                }
                Stage::Quantized => dump_quantized(&model, &quant)?,
                Stage::Partitioned => {
                    let graph = model.load()?;
                    let g = quant.compile(&graph)?.quantized.graph;
                    let (g, p) = pipeline::partition_graph(&g, parts.colors()).context("partitioning")?;
                    print!("{}", p.to_text(&g));
                }
            }
        }
    }
    Ok(())
}

fn dump_quantized(model: &ModelArgs, quant: &QuantArgs) -> Result<()> {
    let graph = model.load()?;
    let c = quant.compile(&graph)?;
    print!("{}", c.quantized.graph.to_text());
    Ok(())
}
