//! What the commands share: the data directory's checks and creation, the stop on signals,
//! the `--mode` argument, and the command line as the user ran it. The commands import it;
//! it imports none of them, so `cli`'s modules form no cycle (`mod.rs` only dispatches).

use std::path::Path;

/// Stop requests from SIGINT and SIGTERM (see [`tic_rec::capture::stop`]): the first stops
/// the command in order, a second never cuts that short, a third gives up writing what the
/// recorder holds. A process still there [`FORCED_EXIT`] after the third (a read of a pipe
/// that never returns) exits, saying so.
pub(super) fn stop_on_signals() -> anyhow::Result<std::sync::Arc<tic_rec::capture::Stop>> {
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
pub(super) fn check_data_dir(dir: &Path) -> anyhow::Result<()> {
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
pub(super) fn create_data_dir(dir: &Path, source: &str) -> anyhow::Result<tic_rec::store::DirLock> {
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
    if let Err(e) = move_layout(dir, &lock) {
        eprintln!("tic-rec: warning: {e:#}");
    }
    Ok(lock)
}

/// Moves a data directory of the layout before (`YYYY/MM/` beside the lock) to the one of
/// `journal/` and `records/` ([`tic_rec::store::migrate`]), under its lock; says so once
/// (a directory already moved has nothing to move, and says nothing). Then finishes what a
/// power cut left of an archived day being replaced ([`tic_rec::store::recover`]), saying
/// what it put back or removed.
pub(super) fn move_layout(dir: &Path, lock: &tic_rec::store::DirLock) -> anyhow::Result<()> {
    use anyhow::Context;
    let moved =
        tic_rec::store::migrate(&tic_rec::store::fs::RealFs, dir, lock).with_context(|| {
            format!(
                "cannot move {} to the layout of journal/ and records/ (what is moved is read \
                 where it is; the next run goes on)",
                dir.display()
            )
        })?;
    if moved.anything() {
        eprintln!(
            "tic-rec: moved {} to the layout of journal/ (CSV days) and records/ (Parquet days): \
             {} day file(s), {}{} (see docs/datasets.md)",
            dir.display(),
            moved.files,
            mb(moved.bytes),
            if moved.temps > 0 {
                format!("; {} stale temporary file(s) removed", moved.temps)
            } else {
                String::new()
            }
        );
        for p in &moved.conflicts {
            eprintln!(
                "tic-rec: {}: kept where it is: another file of that name, with other bytes, is \
                 already in the new layout; compare them and remove one by hand",
                p.display()
            );
        }
        for p in &moved.left {
            eprintln!(
                "tic-rec: {}: not a day file of its month, left where it is",
                p.display()
            );
        }
    }
    // Then what a power cut left of a day file being replaced (`store::recover`), under
    // the same lock, after the move.
    let recovered =
        tic_rec::store::recover(&tic_rec::store::fs::RealFs, dir, lock).with_context(|| {
            format!(
                "cannot finish in {} what a power cut left of an archived day being replaced \
                 (the next run tries again)",
                dir.display()
            )
        })?;
    for day in &recovered.restored {
        eprintln!(
            "tic-rec: {day}: its Parquet file was being replaced when the power went: put back \
             from the copy kept aside (the next archiving of the day adds its new rows)"
        );
    }
    for p in &recovered.empty {
        eprintln!(
            "tic-rec: {}: an empty day file (0 bytes: the power went as it was written) \
             removed: it held no row (the day's CSV files, if any, are archived again)",
            p.display()
        );
    }
    Ok(())
}

/// A size for a person: kB under a megabyte, else MB.
pub(super) fn mb(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

/// `--mode auto|standard|historique`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ModeArg {
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
pub(super) fn invoked_as() -> String {
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
pub(super) fn shell_word(s: &str) -> String {
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
