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
mod simulate;
mod status;

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

/// Stop requests from SIGINT and SIGTERM (see [`tic_rec::capture::stop`]): the first stops
/// the command in order, a second never cuts that short, a third gives up writing what the
/// recorder holds. A process still there [`FORCED_EXIT`] after the third (a read of a pipe
/// that never returns) exits, saying so.
fn stop_on_signals() -> anyhow::Result<std::sync::Arc<tic_rec::capture::Stop>> {
    use tic_rec::capture::stop::FORCE;
    let stop = std::sync::Arc::new(tic_rec::capture::Stop::new());
    stop.on_signals(|n| {
        if n == FORCE {
            let _ = std::thread::Builder::new()
                .name("forced-exit".into())
                .spawn(|| {
                    std::thread::sleep(FORCED_EXIT);
                    eprintln!(
                        "tic-rec: error: forced exit: still running {} s after the third stop signal (blocked reading its input?); rows held in memory, if any, are dropped",
                        FORCED_EXIT.as_secs()
                    );
                    std::process::exit(1);
                });
        }
    })?;
    Ok(stop)
}

/// How long a process may still take after the third stop signal: more than the MQTT link's
/// goodbye (3 s), which a stop that gave up on its rows still waits for.
const FORCED_EXIT: std::time::Duration = std::time::Duration::from_secs(5);

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

/// Creates the data directory if needed and takes its lock, naming this process and its
/// `source` for a second recorder's message.
fn create_data_dir(dir: &Path, source: &str) -> anyhow::Result<tic_rec::store::DirLock> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the data directory {:?}",
            dir.display().to_string()
        )
    })?;
    let holder = format!(
        "tic-rec pid {}, since {}, recording {source}",
        std::process::id(),
        chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    );
    let lock = tic_rec::store::DirLock::acquire(dir, &holder)?;
    // A directory of the layout before is moved first; one that cannot be is read where it
    // is, and recording goes on (the next start tries again).
    if let Err(e) = compact::move_layout(dir, &lock) {
        eprintln!("tic-rec: warning: {e:#}");
    }
    Ok(lock)
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

/// The command that runs this binary again as the user ran it, for hints such as "try
/// `tic-rec export`": `cargo run --release --` under `cargo run`, else the path typed
/// (`./target/release/tic-rec`, `/usr/local/bin/tic-rec`), else the name found on the PATH.
fn invoked_as() -> String {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let under_cargo = std::env::var_os("CARGO").is_some()
        && std::env::var("CARGO_PKG_NAME").is_ok_and(|n| n == env!("CARGO_PKG_NAME"));
    command_for(&argv0.to_string_lossy(), under_cargo)
}

/// [`invoked_as`] for this `argv[0]`, run by `cargo run` or not.
fn command_for(argv0: &str, under_cargo: bool) -> String {
    let path = Path::new(argv0);
    let name = env!("CARGO_PKG_NAME");
    if argv0.is_empty() || argv0.contains('\u{fffd}') {
        return name.to_owned();
    }
    if under_cargo {
        // cargo runs target/[<triple>/]<profile>/<name>.
        let profile = path.parent().and_then(Path::file_name);
        return match profile.and_then(|p| p.to_str()) {
            Some("debug") | None => "cargo run --".to_owned(),
            Some("release") => "cargo run --release --".to_owned(),
            Some(p) => format!("cargo run --profile {p} --"),
        };
    }
    shell_word(argv0)
}

/// `s` as one word of a shell command: as it is, or single-quoted.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-,:=@".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_again_as_the_user_ran_it() {
        for (argv0, cargo, want) in [
            ("tic-rec", false, "tic-rec"),
            ("/usr/local/bin/tic-rec", false, "/usr/local/bin/tic-rec"),
            (
                "./target/release/tic-rec",
                false,
                "./target/release/tic-rec",
            ),
            ("target/debug/tic-rec", true, "cargo run --"),
            (
                "/src/tic-rec/target/release/tic-rec",
                true,
                "cargo run --release --",
            ),
            ("target/dist/tic-rec", true, "cargo run --profile dist --"),
            (
                "target/aarch64-unknown-linux-gnu/release/tic-rec",
                true,
                "cargo run --release --",
            ),
            (
                "/home/me/my bin/tic-rec",
                false,
                "'/home/me/my bin/tic-rec'",
            ),
            ("", false, "tic-rec"),
        ] {
            assert_eq!(command_for(argv0, cargo), want, "{argv0:?}, cargo {cargo}");
        }
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
