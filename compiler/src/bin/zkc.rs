//! `zkc`: compile an ONNX model into a zkml plan, or print a stage's IR.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use zkml_compiler::{FrontendOptions, frontend};
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
}

impl ModelArgs {
    fn options(&self) -> Result<FrontendOptions> {
        let input_shapes =
            self.input_shapes.iter().map(|s| FrontendOptions::parse_shape(s)).collect::<Result<_, _>>()?;
        Ok(FrontendOptions { input_shapes })
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Stage {
    /// tract's typed model, before lowering (for debugging the frontend).
    Tract,
    /// The zkml IR as lowered from ONNX.
    Frontend,
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
    },
    /// Print the IR of a compilation stage.
    Dump {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value = "frontend")]
        stage: Stage,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // Errors are printed as a context chain, never as a backtrace: they are
    // messages for users, not crash reports.
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
        Cmd::Compile { model, output } => {
            let opts = model.options()?;
            let graph = frontend::load_onnx(&model.model, &opts)
                .with_context(|| format!("compiling {}", model.model.display()))?;
            let plan = Plan::new(graph);
            let bytes = plan.to_bytes()?;
            std::fs::write(&output, &bytes).with_context(|| format!("writing {}", output.display()))?;
            println!("model:   {}", model.model.display());
            println!("graph:   {}", plan.graph.summary());
            for (i, f) in plan.graph.input_facts().iter().enumerate() {
                let name = &plan.graph.node(plan.graph.inputs()[i]).name;
                println!("input:   {name} {f}");
            }
            for v in plan.graph.outputs() {
                let val = plan.graph.value(*v).context("output value")?;
                println!("output:  {} {}", val.name, val.fact);
            }
            println!(
                "plan:    {} ({} bytes, blake3 {})",
                output.display(),
                bytes.len(),
                Plan::digest(&bytes).unwrap_or_default()
            );
        }
        Cmd::Dump { model, stage } => {
            let opts = model.options()?;
            match stage {
                Stage::Tract => {
                    let typed = frontend::load_typed(&model.model, &opts)?;
                    for n in typed.nodes() {
                        println!("{} {} {:?} <- {:?}", n.id, n.name, n.op, n.inputs);
                    }
                }
                Stage::Frontend => {
                    let graph = frontend::load_onnx(&model.model, &opts)
                        .with_context(|| format!("loading {}", model.model.display()))?;
                    print!("{}", graph.to_text());
                }
            }
        }
    }
    Ok(())
}
