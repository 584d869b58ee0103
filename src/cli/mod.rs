//! The command line: argument parsing, output for humans, exit codes.

mod compact;
mod cost;
mod decode;
mod demo;
mod export;
mod mqtt;
mod record;
mod replay;
mod serve;
mod setup;
mod simulate;
mod status;
mod tariffs;
mod text;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Records a Linky meter's TIC output and exports per-period consumption.
#[derive(Debug, Parser)]
#[command(name = "tic-rec", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode a raw TIC capture into frames (JSON lines or CSV) or a summary.
    Decode(decode::Args),
    /// Record a meter (or a replay, or the demo) into daily files (CSV, archived as Parquet).
    Record(record::Args),
    /// Simulate a Linky meter: a realistic TIC stream on stdout, a file or a pseudo-terminal.
    Simulate(simulate::Args),
    /// Export per-period HC/HP consumption (or the recorded rows) as a table, CSV or Parquet.
    Export(export::Args),
    /// Archive closed CSV days as Parquet (typed, compact), or check the archived days.
    Compact(compact::Args),
    /// What the recorded energy cost, and what Base, HC/HP or Tempo would have cost.
    Cost(cost::Args),
    /// Serve a web dashboard, a JSON API and Prometheus metrics over a data directory.
    Serve(serve::Args),
    /// Show the prices and Tempo colours in force; `tariffs update` fetches the official ones.
    Tariffs(tariffs::Args),
}

/// Runs the command line and maps the outcome to an exit code.
///
/// An error is printed once, with its causes: `tic-rec: error: ` then anyhow's `{:#}`, the
/// messages of the chain `: `-joined. Each error type says what failed and where (the file,
/// byte offset, line, argument) and keeps its cause as its source, never in its message
/// (the convention: [`tic_rec::error`]), so no cause is said twice. Wherever else the binary
/// shows an error (log lines, clap's value parsers), it shows [`tic_rec::error::Chain`].
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Record(args) => record::run(args),
        Command::Export(args) => export::run(args),
        Command::Compact(args) => compact::run(args),
        Command::Cost(args) => cost::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Tariffs(args) => tariffs::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tic-rec: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the error comes from writing to a closed pipe (`tic-rec … | head`): a normal end
/// for every command. The I/O error may sit anywhere in the chain, or inside a CSV error
/// (which does not expose it as its source).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let io = c.downcast_ref::<io::Error>().or_else(|| {
            c.downcast_ref::<csv::Error>().and_then(|e| match e.kind() {
                csv::ErrorKind::Io(io) => Some(io),
                _ => None,
            })
        });
        io.is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
