//! Runs the mutation fuzzer (`zkml_tests::fuzz`) and prints executions,
//! panics and acceptances per target. Exit status 1 on any panic or
//! accepted mutated proof.
//!
//! ```text
//! cargo run --release -p zkml-tests --example fuzz -- --seconds 60 [--target proof] [--seed 1]
//! ```

use clap::Parser;
use std::time::Duration;

#[derive(Parser)]
struct Args {
    /// One target (default: all of them, one after the other).
    #[arg(long)]
    target: Option<String>,
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Most executions per target.
    #[arg(long, default_value_t = u64::MAX)]
    execs: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    let a = Args::parse();
    let targets: Vec<&'static str> = match &a.target {
        Some(t) => match zkml_tests::fuzz::TARGETS.iter().find(|x| **x == t.as_str()) {
            Some(t) => vec![*t],
            None => {
                eprintln!("error: unknown target {t}; targets: {}", zkml_tests::fuzz::TARGETS.join(", "));
                return std::process::ExitCode::FAILURE;
            }
        },
        None => zkml_tests::fuzz::TARGETS.to_vec(),
    };
    let mut bad = false;
    let mut total = 0;
    println!("| target | executions | accepted | execs/s | panics | mutated proofs accepted |");
    println!("|---|---|---|---|---|---|");
    for t in targets {
        let r = zkml_tests::fuzz::run(t, a.execs, Duration::from_secs(a.seconds), a.seed);
        total += r.execs;
        println!(
            "| {} | {} | {} | {:.0} | {} | {} |",
            r.target,
            r.execs,
            r.accepted,
            r.execs as f64 / r.elapsed.as_secs_f64(),
            r.panics.len(),
            r.acceptances.len()
        );
        for p in r.panics.iter().chain(&r.acceptances).take(10) {
            eprintln!("  {t}: {p}");
        }
        bad |= !r.panics.is_empty() || !r.acceptances.is_empty();
    }
    println!("total executions: {total}");
    if bad { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}
