//! `zkrt`: run a compiled zkml plan. Proving and verification arrive with
//! the proof system; today `run` executes the plan and writes its outputs.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Instant;
use zkml_ir::Plan;
use zkml_runtime::{InputData, execute};

#[derive(Parser, Debug)]
#[command(name = "zkrt", version, about = "zkml runtime: execute (and soon prove) a compiled plan")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Describe a plan: producer, inputs, outputs, op counts.
    Info {
        plan: PathBuf,
        /// Also print the IR text.
        #[arg(long)]
        ir: bool,
    },
    /// Execute a plan on an EZKL-style input file.
    Run {
        plan: PathBuf,
        /// `{"input_data": [[...], ...]}`
        #[arg(long)]
        input: PathBuf,
        /// Where to write `{"output_data": [[...]]}` (stdout if absent).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Info { plan, ir } => {
            let p = Plan::open(&plan).with_context(|| format!("reading plan {}", plan.display()))?;
            println!("producer: {}", p.producer);
            println!("graph:    {}", p.graph.summary());
            for (i, f) in p.graph.input_facts().iter().enumerate() {
                println!("input:    {} {f}", p.graph.node(p.graph.inputs()[i]).name);
            }
            for v in p.graph.outputs() {
                let val = p.graph.value(*v).context("output value")?;
                println!("output:   {} {}", val.name, val.fact);
            }
            if ir {
                print!("{}", p.graph.to_text());
            }
        }
        Cmd::Run { plan, input, output } => {
            let t0 = Instant::now();
            let p = Plan::open(&plan).with_context(|| format!("reading plan {}", plan.display()))?;
            let text =
                std::fs::read_to_string(&input).with_context(|| format!("reading {}", input.display()))?;
            let inputs = InputData::parse(&text).with_context(|| format!("parsing {}", input.display()))?;
            let t1 = Instant::now();
            let out = execute(&p.graph, &inputs).context("executing the plan")?;
            let t2 = Instant::now();
            let json = serde_json::to_string(&out)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "load {:.1} ms, inference {:.1} ms; outputs written to {}",
                        (t1 - t0).as_secs_f64() * 1e3,
                        (t2 - t1).as_secs_f64() * 1e3,
                        path.display()
                    );
                }
                None => println!("{json}"),
            }
        }
    }
    Ok(())
}
