//! The command line: argument parsing, output for humans, exit codes.

mod compact;
mod cost;
mod decode;
mod demo;
mod export;
mod mqtt;
mod record;
mod serve;
mod simulate;
mod tariffs;

use std::io;
use std::path::Path;
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
            eprintln!("tic-rec: error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause the message already quotes
/// (library errors name their I/O cause themselves).
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg
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

/// Fails when `--data-dir` (or the first of its ancestors that exists) is not a directory:
/// the I/O errors for that ("File exists", "Not a directory") do not say so.
pub fn check_data_dir(dir: &Path) -> anyhow::Result<()> {
    let name = |p: &Path| p.display().to_string();
    for p in dir.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) if p == dir => {
                anyhow::bail!("--data-dir {:?} is a file, not a directory", name(dir))
            }
            Ok(_) => anyhow::bail!(
                "--data-dir {:?}: {:?} is a file, not a directory",
                name(dir),
                name(p)
            ),
            // Missing (or unreadable): the command's own error says so.
            Err(_) => continue,
        }
    }
    Ok(())
}

/// `--mode auto|standard|historique`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Detect the mode from the stream.
    Auto,
    /// Standard mode (9600 baud, HT separators).
    Standard,
    /// Historique mode (1200 baud, SP separators).
    Historique,
}

impl ModeArg {
    /// The mode to force, if any.
    pub fn forced(self) -> Option<tic_rec::tic::Mode> {
        match self {
            ModeArg::Auto => None,
            ModeArg::Standard => Some(tic_rec::tic::Mode::Standard),
            ModeArg::Historique => Some(tic_rec::tic::Mode::Historique),
        }
    }
}
