//! `zkrt`: run a compiled zkml plan, prove the inference, verify a proof.
//!
//! ```text
//! zkrt run plan.bin --input input.json --output output.json --proof proof.bin --proved-input proved.json
//! zkrt verify plan.vk --input proved.json --output output.json --proof proof.bin
//! zkrt generate plan.bin --prompt-ids prompt.json --max-new-tokens 48 --output gen.json --proof gen.proof
//! zkrt generate plan.bin --tokenizer tokenizer.json --prompt "text" --output gen.json --proof gen.proof
//! zkrt verify plan.vk --input prompt.json --output gen.json --proof gen.proof
//! zkrt info plan.bin | plan.vk | proof.bin
//! zkrt worker plan.bin --hostfile hosts --process 1      # another process of a distributed proof
//! ```

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zkml_ir::{Plan, Tensor};
use zkml_protocol::{Proof, VerifyingKey};
use zkml_runtime::{Executor, InputData, InputMode, InputSpec, OutputData, files, generate, saturation};

#[derive(Parser, Debug)]
#[command(name = "zkrt", version, about = "zkml runtime: execute, prove and verify a compiled plan")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Describe a plan, a verifying key or a proof (told apart by their
    /// magic): producer, inputs, outputs, sizes, digests.
    Info {
        /// A plan.bin, plan.vk or proof file.
        file: PathBuf,
        /// Also print the IR text.
        #[arg(long)]
        ir: bool,
    },
    /// Execute a plan on an EZKL-style input file, and prove it with --proof.
    Run {
        plan: PathBuf,
        /// `{"input_data": [[...], ...]}`
        #[arg(long)]
        input: PathBuf,
        /// Where to write `{"output_data": [[...]]}` (stdout if absent).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Prove the inference and write the proof here.
        #[arg(long)]
        proof: Option<PathBuf>,
        /// Write the input exactly as proven (each value on its fixed-point
        /// grid) here: the input file `zkrt verify` accepts.
        #[arg(long, value_name = "FILE")]
        proved_input: Option<PathBuf>,
        /// Clamp input values beyond their calibrated range (with a warning
        /// naming the input and the count) instead of refusing them.
        #[arg(long)]
        saturate: bool,
        #[command(flatten)]
        common: CommonArgs,
        /// Write every intermediate tensor, dequantized, as NumPy `.npy`
        /// files named after their ONNX tensors (and `index.json`) here.
        #[arg(long, value_name = "DIR")]
        dump_tensors: Option<PathBuf>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Generate tokens greedily with a decoder plan (`zkc compile
    /// --decoder`), streaming them to stdout, and prove the whole
    /// generation with --proof: one pass over prompt and generated tokens,
    /// each token the proven argmax of the logits before it.
    Generate {
        plan: PathBuf,
        /// The prompt's token ids: `{"input_ids": [...]}`.
        #[arg(long, value_name = "FILE", required_unless_present = "prompt", conflicts_with = "prompt")]
        prompt_ids: Option<PathBuf>,
        /// The prompt as text (tokenized by --tokenizer).
        #[arg(long, value_name = "TEXT", requires = "tokenizer")]
        prompt: Option<String>,
        /// A Hugging Face tokenizer.json: --prompt is tokenized with it and
        /// the generated text streams to stdout instead of token ids.
        #[arg(long, value_name = "FILE")]
        tokenizer: Option<PathBuf>,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 16)]
        max_new_tokens: usize,
        /// Stop after generating this token (end of sequence).
        #[arg(long, value_name = "ID")]
        eos_id: Option<i64>,
        /// Decode with a full pass per token instead of the cache (for
        /// comparison: the tokens are the same).
        #[arg(long)]
        no_cache: bool,
        /// Where to write the generation (`{"prompt_ids", "generated_ids",
        /// "next_ids"}`): the output `zkrt verify` checks.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Prove the generation and write the proof here.
        #[arg(long)]
        proof: Option<PathBuf>,
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Serve as process `--process` (≥ 1) of a distributed proof: prove the
    /// colors timely routes here, for the coordinator (process 0, which
    /// runs `zkrt run --hostfile`). Every process maps the same plan.
    Worker {
        plan: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Verify a proof against a verifying key, an input and an output.
    /// Exit status 0 iff the proof is valid.
    Verify {
        /// The verifying key written by `zkc compile` (plan.vk).
        vk: PathBuf,
        /// The proven input: every value exactly on its fixed-point grid
        /// (what `zkrt run --proved-input` writes); for a decoder key, the
        /// prompt's token ids.
        #[arg(long)]
        input: PathBuf,
        /// The output; for a decoder key, the generation `zkrt generate`
        /// wrote.
        #[arg(long)]
        output: PathBuf,
        #[arg(long)]
        proof: PathBuf,
    },
}

/// Flags `zkrt run` and `zkrt generate` share.
#[derive(clap::Args, Debug)]
struct CommonArgs {
    /// Skip verifying the proof before writing it.
    #[arg(long)]
    no_self_check: bool,
    /// The most memory one pass's values may take, in bytes with an
    /// optional K/M/G/T suffix (default: the machine's memory).
    #[arg(long, value_name = "BYTES", value_parser = zkml_ir::parse_size)]
    max_memory: Option<u64>,
    /// Print timings, proof size and peak memory as JSON on stdout
    /// (`generate`: also tokens/s; the tokens then go to stderr).
    #[arg(long)]
    json: bool,
}

/// How proving is spread over workers (timely dataflow).
#[derive(clap::Args, Debug)]
struct EngineArgs {
    /// Worker threads in this process; colors go to workers round-robin
    /// (default: the plan's colors, at most the cores; in a cluster, 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Threads each worker proves with (default: cores / workers).
    #[arg(long)]
    threads_per_worker: Option<usize>,
    /// timely hostfile: one `host:port` per line, process 0 first. Makes
    /// this a multi-process run (`zkrt run` is process 0; start the others
    /// with `zkrt worker --process I`).
    #[arg(long)]
    hostfile: Option<PathBuf>,
    /// This process's line in the hostfile (`zkrt worker` only; `run` is 0).
    #[arg(long, default_value_t = 0)]
    process: usize,
    /// Give up (error, non-zero exit) if the proof is not done in this many
    /// seconds: a process that never connects or a worker that dies.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

/// Most workers or threads per worker accepted: beyond any machine this
/// runs on, and below what the thread spawner refuses.
const MAX_THREADS: usize = 1024;

impl EngineArgs {
    /// The engine configuration, or `None` for the plain in-process prover
    /// (one worker, one process). Absurd values are errors, not aborts.
    fn config(&self, colors: usize) -> Result<Option<zkml_engine::EngineConfig>> {
        for (flag, v) in [("--workers", self.workers), ("--threads-per-worker", self.threads_per_worker)] {
            if let Some(n) = v.filter(|&n| n == 0 || n > MAX_THREADS) {
                bail!("{flag} {n}: choose 1 to {MAX_THREADS}");
            }
        }
        if self.timeout == 0 {
            bail!("--timeout 0: choose a positive number of seconds");
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let hosts: Vec<String> = match &self.hostfile {
            Some(f) => read_text(f, files::MAX_HOSTFILE_BYTES, "hostfile")?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            None => vec![],
        };
        if self.hostfile.is_some() && self.process >= hosts.len().max(1) {
            bail!("--process {} is not a line of the hostfile ({} lines)", self.process, hosts.len());
        }
        let workers = self.workers.unwrap_or(if hosts.len() > 1 { 1 } else { colors.min(cores).max(1) });
        if workers == 1 && hosts.len() <= 1 {
            return Ok(None);
        }
        Ok(Some(zkml_engine::EngineConfig {
            workers,
            threads_per_worker: self.threads_per_worker.unwrap_or((cores / workers).max(1)),
            process: self.process,
            hosts,
            timeout: Duration::from_secs(self.timeout),
        }))
    }
}

/// The proving key: from the plan's stored prover data (mapped), or
/// computed when the plan has none.
fn proving_key(p: &Plan, quiet: bool) -> Result<zkml_protocol::ProvingKey> {
    match &p.prover {
        Some(sec) => zkml_protocol::setup_stored(&p.graph, &p.partitions, &p.producer, sec)
            .context("reading the plan's prover data"),
        None => {
            let pb = spinner(quiet, "setup: committing the weights (plan has no prover data)");
            let pk = zkml_protocol::setup_partitioned(&p.graph, &p.partitions, &p.producer)
                .context("setting up the proof")?;
            pb.finish_and_clear();
            Ok(pk)
        }
    }
}

/// A proof with what its report needs.
struct Proven {
    proof: Proof,
    digest: [u8; 32],
    vk: VerifyingKey,
    setup: Duration,
    breakdown: serde_json::Value,
    workers: Option<serde_json::Value>,
}

impl Proven {
    fn report_into(&self, report: &mut serde_json::Value, p: &Plan, total: Duration) {
        report["setup_ms"] = ms(self.setup).into();
        report["prove_ms"] = ms(total - self.setup).into();
        report["colors"] = p.partitions.len().into();
        report["prove_breakdown_ms"] = self.breakdown.clone();
        if let Some(w) = &self.workers {
            report["workers"] = w.clone();
        }
    }
}

/// Proves a plan's execution (every node's `values`), in process or on
/// the timely engine.
fn prove_values(p: &Plan, values: Vec<Vec<Tensor>>, engine: &EngineArgs, quiet: bool) -> Result<Proven> {
    let cfg = engine.config(p.partitions.len())?;
    let t0 = Instant::now();
    let pk = proving_key(p, quiet)?;
    let setup = t0.elapsed();
    let (vk, digest) = (pk.vk.clone(), pk.digest);
    let pb = spinner(quiet, "proving");
    let proven = match &cfg {
        None => {
            let (proof, stats) = zkml_protocol::prove(&pk, &values).context("proving")?;
            let breakdown = serde_json::json!({
                "witness_commit": ms(stats.commit),
                "lookups": ms(stats.lookups),
                "graph": ms(stats.graph),
                "openings": ms(stats.openings),
            });
            Proven { proof, digest, vk, setup, breakdown, workers: None }
        }
        Some(cfg) => {
            let graph = std::sync::Arc::new(p.graph.clone());
            let (proof, stats) =
                zkml_engine::prove(graph, std::sync::Arc::new(pk), Some(std::sync::Arc::new(values)), cfg)
                    .context("proving")?
                    .context("the coordinator returned no proof")?;
            let breakdown = serde_json::json!({
                "route": ms(stats.route),
                "commit": ms(stats.commit),
                "prove": ms(stats.prove),
            });
            Proven { proof, digest, vk, setup, breakdown, workers: Some(stats.workers.into()) }
        }
    };
    pb.finish_and_clear();
    Ok(proven)
}

/// The proof checked before it is written: a plan changed under the
/// prover, or a prover fault, is an error here, never a file that fails
/// later.
fn self_check(proven: &Proven, inputs: &[Tensor], outputs: &[Tensor]) -> Result<()> {
    zkml_protocol::verify(&proven.vk, inputs, outputs, &proven.proof).context(
        "the proof does not verify against the plan it was made from (was plan.bin changed while \
         proving?); nothing was written",
    )?;
    Ok(())
}

/// Proves `values` (the witness of `statement`: inputs, outputs), checks
/// the proof against the statement unless told not to, and writes it
/// atomically; timings and size go into `report`.
#[allow(clippy::too_many_arguments)]
fn prove_to(
    p: &Plan,
    values: Vec<Vec<Tensor>>,
    statement: (&[Tensor], &[Tensor]),
    path: &Path,
    engine: &EngineArgs,
    quiet: bool,
    no_self_check: bool,
    report: &mut serde_json::Value,
) -> Result<()> {
    let t0 = Instant::now();
    let proven = prove_values(p, values, engine, quiet)?;
    let t1 = Instant::now();
    if !no_self_check {
        self_check(&proven, statement.0, statement.1)?;
        report["self_check_ms"] = ms(t1.elapsed()).into();
    }
    let bytes = proven.proof.to_file_bytes(&proven.digest)?;
    files::write_atomic(path, &bytes)?;
    proven.report_into(report, p, t1 - t0);
    report["proof_bytes"] = bytes.len().into();
    Ok(())
}

/// Ends a command's report: the peak memory, then the report as JSON on
/// stdout (`--json`) or `line(report)` on stderr.
fn finish(
    mut report: serde_json::Value,
    json: bool,
    line: impl FnOnce(&serde_json::Value) -> String,
) -> Result<()> {
    if let Some(peak) = peak_rss() {
        report["peak_rss_bytes"] = peak.into();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        eprintln!("{}", line(&report));
    }
    Ok(())
}

/// mimalloc, keeping freed memory for reuse: see [`zkml_runtime::alloc`].
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    zkml_runtime::alloc::configure();
    let cli = Cli::parse();
    // A plan file changed under the prover is the user's to know, not a bug.
    zkml_ir::run_main(
        "zkrt",
        || run(cli),
        |p| p.downcast_ref::<zkml_protocol::StoreChanged>().map(|c| c.0.clone()),
    )
}

/// Warns, on stderr, about every place where values left the calibrated
/// ranges (the answer is then that of the clamped computation).
fn warn_saturated(saturated: &[saturation::Saturated]) {
    for s in saturated {
        let what = match s.kind {
            "input" => "input values beyond the calibrated range were clamped",
            _ => "values beyond the table's calibrated domain read its edge",
        };
        eprintln!("warning: {} of {} {what} at node {} '{}'", s.count, s.total, s.node, s.name);
    }
    if !saturated.is_empty() {
        eprintln!(
            "warning: the output (and its proof) is of the clamped computation and may differ from the \
             model's: compile with --calibration data that covers these inputs, or a larger --headroom"
        );
    }
}

fn read_text(path: &Path, limit: u64, what: &str) -> Result<String> {
    Ok(files::read_text(path, limit, what)?)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `zkrt info`: a plan, a verifying key or a proof, by its magic.
fn info(path: &Path, ir: bool) -> Result<()> {
    let mut magic = [0u8; 8];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        f.read_exact(&mut magic)
            .with_context(|| format!("{}: not a zkml file (bad magic: too short)", path.display()))?;
    }
    match &magic {
        m if m == zkml_ir::plan::MAGIC => {
            let p = Plan::open(path).with_context(|| format!("reading plan {}", path.display()))?;
            println!("plan:     format {}", zkml_ir::plan::FORMAT_VERSION);
            println!("producer: {}", p.producer);
            println!("graph:    {}", p.graph.summary());
            println!("colors:   {}", p.partitions.len());
            for (i, f) in p.graph.input_facts().iter().enumerate() {
                println!("input:    {} {f}", p.graph.node(p.graph.inputs()[i]).name);
            }
            for v in p.graph.outputs() {
                let val = p.graph.value(*v).context("output value")?;
                println!("output:   {} {}", val.name, val.fact);
            }
            if let Some(d) = p.graph.decoder() {
                println!("decoder:  {} positions, vocabulary {}, pad id {}", d.positions, d.vocab, d.pad_id);
            }
            if ir {
                print!("{}", p.graph.to_text());
            }
        }
        m if m == zkml_protocol::vk::VK_MAGIC => {
            let bytes = files::read_bounded(path, files::MAX_KEY_BYTES, "verifying key")?;
            let vk = VerifyingKey::from_bytes(&bytes).context("reading the verifying key")?;
            println!("verifying key: format {}, {} bytes", zkml_protocol::vk::VK_VERSION, bytes.len());
            println!("digest:   {}", hex(&vk.digest()?));
            println!("producer: {}", vk.producer);
            println!("nodes:    {}, colors: {}", vk.nodes.len(), vk.partitions.len());
            for &i in &vk.inputs {
                println!("input:    {} {}", vk.nodes[i].name, vk.nodes[i].outputs[0].fact);
            }
            for &o in &vk.outputs {
                if let Some(f) = vk.fact(o) {
                    println!("output:   {} {f}", vk.nodes[o.node].name);
                }
            }
            if let Some(d) = &vk.decoder {
                println!("decoder:  {} positions, vocabulary {}, pad id {}", d.positions, d.vocab, d.pad_id);
            }
        }
        m if m == zkml_protocol::PROOF_MAGIC => {
            let bytes = files::read_bounded(path, files::MAX_PROOF_FILE_BYTES, "proof")?;
            let (pr, digest) = Proof::from_file_bytes(&bytes)?;
            println!("proof:    format {}, {} bytes", zkml_protocol::PROOF_VERSION, bytes.len());
            println!("for key:  {}", hex(&digest));
            println!("parts:    {} (one per color)", pr.parts.len());
            println!("saturating lookups: {}", pr.saturating.len());
        }
        _ => bail!("{}: not a zkml plan, verifying key or proof (bad magic)", path.display()),
    }
    Ok(())
}

/// The machine's memory (Linux `MemTotal`), or 16 GiB where unknown: the
/// default budget of `zkrt run`.
fn machine_memory() -> u64 {
    let total = || -> Option<u64> {
        let s = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()?.checked_mul(1024)
    };
    total().unwrap_or(16 << 30)
}

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn spinner(quiet: bool, msg: &str) -> ProgressBar {
    let pb = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Info { file, ir } => info(&file, ir)?,
        Cmd::Worker { plan, engine } => {
            let p = Plan::open(&plan).with_context(|| format!("reading plan {}", plan.display()))?;
            if engine.hostfile.is_none() || engine.process == 0 {
                bail!("a worker needs --hostfile and --process ≥ 1 (process 0 is `zkrt run --hostfile`)");
            }
            let cfg = engine.config(p.partitions.len())?.context("engine configuration")?;
            let pk = proving_key(&p, true)?;
            let graph = std::sync::Arc::new(p.graph);
            zkml_engine::prove(graph, std::sync::Arc::new(pk), None, &cfg).context("proving")?;
            eprintln!("worker {}: done", cfg.process);
        }
        Cmd::Run {
            plan,
            input,
            output,
            proof,
            proved_input,
            saturate,
            common: CommonArgs { no_self_check, max_memory, json },
            dump_tensors,
            engine,
        } => {
            let t0 = Instant::now();
            // Flags first: a bad one costs nothing.
            if proof.is_some() && engine.process != 0 {
                bail!("`zkrt run` is process 0 (the coordinator); start the others with `zkrt worker`");
            }
            engine.config(1)?;
            let p = Plan::open(&plan).with_context(|| format!("reading plan {}", plan.display()))?;
            let inputs = InputData::parse(&read_text(&input, files::MAX_JSON_BYTES, "input file")?)
                .with_context(|| format!("parsing {}", input.display()))?;
            let specs = InputSpec::of_graph(&p.graph);
            let quantized =
                inputs.quantize(&specs, InputMode::Round { saturate }).context("reading the inputs")?;
            for (spec, &n) in specs.iter().zip(&quantized.clamped).filter(|(_, n)| **n > 0) {
                eprintln!(
                    "warning: input '{}': {n} values beyond its calibrated range were clamped (--saturate); \
                     the proof is of the clamped input",
                    spec.name
                );
            }
            let tensors = quantized.tensors;
            zkml_runtime::check_memory(&p.graph, max_memory.unwrap_or_else(machine_memory))?;
            let t1 = Instant::now();
            let values = Executor::new(&p.graph).run_all(&tensors).context("executing the plan")?;
            let outs: Vec<Tensor> =
                p.graph.outputs().iter().map(|v| values[v.node][v.slot].clone()).collect();
            let out = OutputData::from_tensors(&p.graph, &outs);
            let t2 = Instant::now();
            let mut saturated = saturation::saturated_inputs(&p.graph, &inputs.input_data);
            saturated.extend(saturation::saturated_lookups(&p.graph, &values));
            warn_saturated(&saturated);
            if let Some(dir) = &dump_tensors {
                let index = zkml_runtime::dump::dump_tensors(&p.graph, &values, dir)?;
                eprintln!("tensors: {} values in {} (index.json lists them)", index.len(), dir.display());
            }
            let text = serde_json::to_string(&out)?;
            let mut report = serde_json::json!({
                "load_ms": ms(t1 - t0),
                "inference_ms": ms(t2 - t1),
                "saturated": saturated,
            });
            if let Some(proof_path) = &proof {
                let statement = (tensors.as_slice(), outs.as_slice());
                prove_to(&p, values, statement, proof_path, &engine, json, no_self_check, &mut report)?;
            }
            // The proof first, then what it proves: a failed run leaves no
            // output that looks proven.
            if let Some(path) = &proved_input {
                let proved = InputData::of_tensors(&specs, &tensors);
                files::write_atomic(path, serde_json::to_string(&proved)?.as_bytes())?;
            }
            match &output {
                Some(path) => files::write_atomic(path, text.as_bytes())?,
                None if !json => println!("{text}"),
                None => {}
            }
            finish(report, json, |r| {
                format!(
                    "inference {:.1} ms{}{}",
                    ms(t2 - t1),
                    r.get("prove_ms")
                        .and_then(|v| v.as_f64())
                        .map(|v| format!(", prove {v:.1} ms"))
                        .unwrap_or_default(),
                    r.get("proof_bytes")
                        .and_then(|v| v.as_u64())
                        .map(|v| format!(", proof {} KB", v / 1024))
                        .unwrap_or_default()
                )
            })?;
        }
        Cmd::Generate {
            plan,
            prompt_ids,
            prompt,
            tokenizer,
            max_new_tokens,
            eos_id,
            no_cache,
            output,
            proof,
            common: CommonArgs { no_self_check, max_memory, json },
            engine,
        } => {
            let t0 = Instant::now();
            engine.config(1)?;
            if engine.process != 0 {
                bail!("`zkrt generate` is process 0 (the coordinator); start the others with `zkrt worker`");
            }
            let p = Plan::open(&plan).with_context(|| format!("reading plan {}", plan.display()))?;
            let tokenizer = match &tokenizer {
                Some(path) => Some(
                    generate::TextTokenizer::from_bytes(&files::read_bounded(
                        path,
                        files::MAX_TOKENIZER_BYTES,
                        "tokenizer",
                    )?)
                    .with_context(|| format!("reading {}", path.display()))?,
                ),
                None => None,
            };
            let prompt = match (&prompt_ids, &prompt, &tokenizer) {
                (Some(path), _, _) => {
                    generate::parse_prompt(&read_text(path, files::MAX_JSON_BYTES, "prompt file")?)
                        .with_context(|| format!("parsing {}", path.display()))?
                }
                (None, Some(text), Some(t)) => t.encode(text)?,
                _ => bail!("give the prompt as --prompt-ids FILE, or as --prompt TEXT with --tokenizer"),
            };
            zkml_runtime::check_memory(&p.graph, max_memory.unwrap_or_else(machine_memory))?;
            let greedy = match no_cache {
                false => generate::Greedy::new(&p.graph)?,
                true => generate::Greedy::new(&p.graph)?.uncached(),
            };
            let t1 = Instant::now();
            let mut first: Option<Duration> = None;
            let mut text = tokenizer.as_ref().map(generate::TextStream::new);
            let done = greedy.run(&prompt, max_new_tokens, eos_id, |token| {
                first.get_or_insert_with(|| t1.elapsed());
                // Each token as soon as it is decoded: the answer does not
                // wait for the proof.
                use std::io::Write;
                let shown = match &mut text {
                    // A token the tokenizer cannot decode shows as its id.
                    Some(t) => t.push(token).unwrap_or_else(|_| format!("[{token}]")),
                    None => format!("{token} "),
                };
                if json {
                    eprint!("{shown}");
                } else {
                    print!("{shown}");
                    let _ = std::io::stdout().flush();
                }
            })?;
            if json {
                eprintln!()
            } else {
                println!()
            }
            let t2 = Instant::now();
            let tokens = done.file.generated_ids.len();
            let mut report = serde_json::json!({
                "load_ms": ms(t1 - t0),
                "prompt_tokens": prompt.len(),
                "generated_tokens": tokens,
                "positions": greedy.decoder().positions,
                "decode_ms": ms(t2 - t1),
                "first_token_ms": first.map(ms),
                "tokens_per_s": tokens as f64 / (t2 - t1).as_secs_f64().max(1e-9),
            });
            let saturated = saturation::saturated_lookups(&p.graph, &done.values);
            warn_saturated(&saturated);
            let text = serde_json::to_string(&done.file)?;
            if let Some(proof_path) = &proof {
                let next = Tensor::from_i64(vec![1, done.file.next_ids.len()], done.file.next_ids.clone())?;
                let statement = (std::slice::from_ref(&done.input), std::slice::from_ref(&next));
                prove_to(&p, done.values, statement, proof_path, &engine, json, no_self_check, &mut report)?;
            }
            match &output {
                Some(path) => files::write_atomic(path, text.as_bytes())?,
                None => eprintln!("{text}"),
            }
            finish(report, json, |r| {
                format!(
                    "{tokens} tokens in {:.1} ms ({:.1} tokens/s){}",
                    ms(t2 - t1),
                    r["tokens_per_s"].as_f64().unwrap_or(0.0),
                    r.get("prove_ms")
                        .and_then(|v| v.as_f64())
                        .map(|v| format!(", proved in {v:.1} ms"))
                        .unwrap_or_default()
                )
            })?;
        }
        Cmd::Verify { vk, input, output, proof } => {
            let t0 = Instant::now();
            let bytes = files::read_bounded(&vk, files::MAX_KEY_BYTES, "verifying key")?;
            let vk = VerifyingKey::from_bytes(&bytes).context("reading the verifying key")?;
            let (ins, outs) = match &vk.decoder {
                // A generation: the prompt, and the generated tokens with
                // the pass's next-token ids.
                Some(d) => {
                    let prompt =
                        generate::parse_prompt(&read_text(&input, files::MAX_JSON_BYTES, "prompt file")?)
                            .with_context(|| format!("parsing {}", input.display()))?;
                    let claimed = generate::GenerationFile::parse(&read_text(
                        &output,
                        files::MAX_JSON_BYTES,
                        "generation file",
                    )?)
                    .with_context(|| format!("parsing {}", output.display()))?;
                    let (x, next) = claimed.statement(d, &prompt).context("proof rejected")?;
                    (vec![x], vec![next])
                }
                None => {
                    let specs = InputSpec::of_nodes(&vk.nodes, &vk.inputs);
                    let ins = InputData::parse(&read_text(&input, files::MAX_JSON_BYTES, "input file")?)?
                        .quantize(&specs, InputMode::Exact)
                        .context("reading the inputs")?
                        .tensors;
                    let facts: Vec<zkml_ir::Fact> =
                        vk.outputs.iter().filter_map(|&o| vk.fact(o).cloned()).collect();
                    let outs = OutputData::parse(&read_text(&output, files::MAX_JSON_BYTES, "output file")?)?
                        .to_tensors(&facts)
                        .context("reading the outputs")?;
                    (ins, outs)
                }
            };
            let pbytes = files::read_bounded(&proof, files::MAX_PROOF_FILE_BYTES, "proof")?;
            let (pr, names) = Proof::from_file_bytes(&pbytes)?;
            let digest = vk.digest()?;
            if names != digest {
                bail!(
                    "proof rejected: it proves against the verifying key {}, not this one ({})",
                    hex(&names),
                    hex(&digest)
                );
            }
            zkml_protocol::verify(&vk, &ins, &outs, &pr)?;
            println!("proof verified in {:.1} ms ({} KB)", ms(t0.elapsed()), pbytes.len() / 1024);
        }
    }
    Ok(())
}
