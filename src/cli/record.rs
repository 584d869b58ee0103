//! `tic-rec record`: continuous capture into daily files.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Duration;
use indicatif::{ProgressBar, ProgressStyle};
use tic_rec::capture::{Capture, Counters, Event, HostClock, Observer, StoreConfig};
use tic_rec::record::RecordConfig;
use tic_rec::tic::Mode;

use super::simulate::parse_duration;
use super::ModeArg;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["port", "replay", "demo"])))]
pub struct Args {
    /// Serial port of the TIC adapter (prefer /dev/serial/by-id/…), or `auto` for the only
    /// USB serial adapter present.
    #[arg(long)]
    port: Option<String>,
    /// Record a raw capture (a file, or `-` for standard input) to its end, then exit.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// With --replay: the local time (Europe/Paris) of the capture's first byte. Historique
    /// records, which have no DATE, are then stamped from it plus the air time of the bytes
    /// before them at 1200 baud, instead of the host clock.
    #[arg(long, value_parser = super::simulate::parse_local, requires = "replay")]
    replay_start: Option<chrono::NaiveDateTime>,
    /// Record a simulated meter through a pseudo-terminal: a day of records in a few seconds.
    #[arg(long)]
    demo: bool,
    /// TIC mode; `auto` tries 9600 then 1200 baud and keeps the one whose checksums verify.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    mode: ModeArg,
    /// Directory of the daily files.
    #[arg(long, default_value = "tic-data")]
    data_dir: PathBuf,
    /// Labels to record, e.g. DATE,EAST,EASF01,EASF02,SINSTS [default: the meter shape's].
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    labels: Option<Vec<String>>,
    /// Keep the first complete record of each interval, e.g. 1min, 15min [default: every second].
    #[arg(long, value_parser = parse_duration)]
    every: Option<Duration>,
    /// Fsync the files at least this often (≤ 10 s recommended).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    fsync_interval: Duration,
    /// Also keep the raw bytes, in YYYY-MM-DD.tic files beside the records.
    #[arg(long)]
    raw: bool,
    /// Report a line without valid frames after this long (for tests).
    #[arg(long, value_parser = parse_duration, default_value = "1min", hide = true)]
    silence_warning: Duration,
    /// When not on a terminal: one summary log line this often.
    #[arg(long, value_parser = parse_duration, default_value = "5min")]
    log_interval: Duration,
}

fn parse_label(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 16
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a TIC label (A-Z, 0-9, + and -, e.g. EASF01)"
        ))
    }
}

/// Prints events: an indicatif status line on a terminal, plain log lines otherwise.
pub(super) struct Status {
    bar: Option<ProgressBar>,
    log_every: StdDuration,
    last_log: Instant,
}

impl Status {
    pub(super) fn new(log_every: StdDuration) -> Status {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            bar.enable_steady_tick(StdDuration::from_millis(250));
            bar
        });
        Status {
            bar,
            log_every,
            last_log: Instant::now(),
        }
    }

    fn log(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("tic-rec: {line}"),
        }
    }

    fn summary(c: &Counters) -> String {
        format!(
            "{} rows written (last {}, {} VA); {} frames: {} incomplete, {} failed checksums, {} cut",
            c.written,
            c.last_time.map_or("-".to_owned(), |t| t.to_rfc3339()),
            c.last_power.map_or("-".to_owned(), |p| p.to_string()),
            c.decoder.frames,
            c.recorder.incomplete,
            c.decoder.groups_bad,
            c.decoder.frames_cut + c.decoder.frames_oversize,
        )
    }

    pub(super) fn finish(&self, c: &Counters) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("tic-rec: {}", Status::summary(c));
    }
}

impl Observer for Status {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::PortOpened { path, baud } => self.log(format!("reading {path} at {baud} baud (7E1)")),
            Event::ModeFound { mode, baud } => self.log(format!("frames verify: {mode} mode at {baud} baud")),
            Event::PortError { path, error, retry_in } => {
                self.log(format!("{path}: {error}; retrying in {} s", retry_in.as_secs()))
            }
            Event::Silent {
                path,
                for_secs,
                since_last_valid: s,
                hint,
            } => self.log(format!(
                "{path}: no valid frame for {for_secs} s ({} bytes, {} frames, {} groups verified, {} failed in that time): {hint}",
                s.bytes, s.frames, s.groups_ok, s.groups_bad
            )),
            Event::FileOpened(r) => {
                let mut line = format!(
                    "{} {}",
                    if r.existed { "appending to" } else { "created" },
                    r.path.display()
                );
                if r.torn_bytes > 0 {
                    line.push_str(&format!(" (cut a torn last line of {} bytes)", r.torn_bytes));
                }
                if r.skipped_other_columns > 0 {
                    line.push_str(" (the day's earlier file has other columns)");
                }
                self.log(line)
            }
            Event::Recorded(_, c) | Event::Tick(c) => {
                if let Some(bar) = &self.bar {
                    bar.set_message(Status::summary(c));
                } else if self.last_log.elapsed() >= self.log_every {
                    self.last_log = Instant::now();
                    eprintln!("tic-rec: {}", Status::summary(c));
                }
            }
        }
    }
}

/// Sets `stop` on SIGINT/SIGTERM; a second signal exits at once.
fn stop_flag() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

pub fn run(args: Args) -> Result<()> {
    if args.replay_start.is_some() && args.mode == ModeArg::Standard {
        bail!("--replay-start stamps historique records; standard records carry the meter's DATE");
    }
    // Resolve `--port auto` before anything is created.
    let port = match args.port.as_deref() {
        Some("auto") => Some(auto_port()?),
        other => other.map(str::to_owned),
    };
    let stop = stop_flag()?;
    let fsync = args.fsync_interval.to_std().context("--fsync-interval")?;
    if args.demo {
        let opts = super::demo::Options {
            mode: args.mode.forced().unwrap_or(Mode::Standard),
            data_dir: args.data_dir,
            labels: args.labels,
            every: args.every,
            fsync_interval: fsync,
            raw: args.raw,
            log_interval: args.log_interval.to_std().context("--log-interval")?,
            silence: args.silence_warning.to_std().context("--silence-warning")?,
        };
        return super::demo::run(opts, stop);
    }
    let store = StoreConfig {
        dir: args.data_dir.clone(),
        fsync_interval: fsync,
        raw: args.raw,
    };
    super::check_data_dir(&args.data_dir)?;
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {:?}",
            args.data_dir.display().to_string()
        )
    })?;
    let record = RecordConfig {
        labels: args.labels.clone(),
        every: args.every,
    };
    let mut status = Status::new(
        args.log_interval
            .to_std()
            .unwrap_or(StdDuration::from_secs(300)),
    );
    let mode = args.mode.forced();
    let mut capture = Capture::new(mode, record, store, &mut status)
        .with_silence(args.silence_warning.to_std().context("--silence-warning")?);
    if let Some(start) = args.replay_start {
        use chrono::TimeZone;
        let start = tic_rec::store::TZ
            .from_local_datetime(&start)
            .earliest()
            .with_context(|| {
                format!("--replay-start {start} does not exist in Europe/Paris local time")
            })?;
        capture = capture.with_clock(HostClock::Replay {
            start: start.to_utc(),
            baud: Mode::Historique.baud_rate(),
        });
    }
    let result = if let Some(path) = &args.replay {
        let name = path.display().to_string();
        if name == "-" {
            capture.run_reader(io::stdin().lock(), "standard input", &stop)
        } else {
            let file = File::open(path).with_context(|| format!("cannot open {name:?}"))?;
            capture.run_reader(file, &name, &stop)
        }
    } else {
        let port = port.expect("clap requires a source");
        capture.run_port(&port, mode, &stop)
    };
    let counters = capture.counters();
    drop(capture);
    status.finish(&counters);
    result?;
    if args.replay_start.is_some() && counters.decoder.frames_historique == 0 {
        eprintln!("tic-rec: note: --replay-start was not used: the capture has no historique frame (standard records carry the meter's DATE)");
    }
    Ok(())
}

/// `--port auto`: the only USB serial adapter, by its stable `/dev/serial/by-id/` name; with
/// none, a Raspberry Pi's UART (a PiTInfo-style HAT on the GPIO pins).
fn auto_port() -> Result<String> {
    let others = serialport::available_ports()
        .map(|ports| ports.into_iter().map(|p| p.port_name).collect())
        .unwrap_or_default();
    pick_port(Path::new("/"), others)
}

/// A Raspberry Pi's UART, in order of preference: `serial0` is the alias of whichever UART
/// the GPIO pins carry (the PL011 `ttyAMA0`, or the mini UART `ttyS0` while the PL011 serves
/// Bluetooth); `ttyAMA0` is the PL011 on systems without the alias.
const PI_UARTS: [&str; 2] = ["dev/serial0", "dev/ttyAMA0"];

/// [`auto_port`] under `root` (`/`, or a test's directory), given the other serial ports
/// the system lists.
fn pick_port(root: &Path, mut others: Vec<String>) -> Result<String> {
    let by_id = root.join("dev/serial/by-id");
    let mut ids: Vec<String> = std::fs::read_dir(&by_id)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    if ids.len() == 1 {
        return Ok(ids.remove(0));
    }
    if ids.is_empty() {
        // `exists` follows the link: a dangling alias is no port.
        if let Some(uart) = PI_UARTS.iter().map(|p| root.join(p)).find(|p| p.exists()) {
            return Ok(uart.display().to_string());
        }
    }
    others.sort();
    let mut candidates = ids.clone();
    candidates.extend(others.into_iter().filter(|p| p.starts_with("/dev/tty")));
    if candidates.is_empty() {
        bail!("--port auto: no serial port found (is the TIC adapter plugged in? on a Raspberry Pi, is the UART enabled?)");
    }
    if ids.is_empty() {
        bail!(
            "--port auto: no USB serial adapter under /dev/serial/by-id and no Raspberry Pi UART \
             (/dev/serial0, /dev/ttyAMA0); pick a port with --port. Other ports:\n  {}",
            candidates.join("\n  ")
        );
    }
    bail!(
        "--port auto: {} USB serial adapters found under /dev/serial/by-id; pick one with --port. Candidates:\n  {}",
        ids.len(),
        candidates.join("\n  ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--port auto` over a fake root: USB adapters by id first, then the Pi's UART.
    #[test]
    fn port_auto_picks_the_one_adapter_or_the_pi_uart() {
        // (files under the root, other ports listed, the pick or a word of the error)
        type Case<'a> = (&'a [&'a str], &'a [&'a str], Result<&'a str, &'a str>);
        let cases: &[Case<'_>] = &[
            (
                &["dev/serial/by-id/usb-FTDI-if00"],
                &[],
                Ok("dev/serial/by-id/usb-FTDI-if00"),
            ),
            // A USB adapter wins over the UART.
            (
                &[
                    "dev/serial/by-id/usb-FTDI-if00",
                    "dev/serial0",
                    "dev/ttyAMA0",
                ],
                &[],
                Ok("dev/serial/by-id/usb-FTDI-if00"),
            ),
            (&["dev/serial0", "dev/ttyAMA0"], &[], Ok("dev/serial0")),
            (&["dev/ttyAMA0"], &["/dev/ttyS0"], Ok("dev/ttyAMA0")),
            (
                &["dev/serial/by-id/a", "dev/serial/by-id/b", "dev/serial0"],
                &[],
                Err("2 USB serial adapters"),
            ),
            (&[], &["/dev/ttyS0"], Err("no Raspberry Pi UART")),
            (&[], &[], Err("no serial port found")),
        ];
        for (files, others, want) in cases {
            let root = tempfile::tempdir().unwrap();
            for f in *files {
                let p = root.path().join(f);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, "").unwrap();
            }
            let got = pick_port(root.path(), others.iter().map(|s| s.to_string()).collect());
            match (want, got) {
                (Ok(w), Ok(g)) => {
                    assert_eq!(g, root.path().join(w).display().to_string(), "{files:?}")
                }
                (Err(w), Err(e)) => assert!(e.to_string().contains(w), "{files:?}: {e}"),
                (w, g) => panic!("{files:?}: want {w:?}, got {g:?}"),
            }
        }
        // A dangling serial0 alias is no port.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("dev")).unwrap();
        std::os::unix::fs::symlink("ttyS0", root.path().join("dev/serial0")).unwrap();
        assert!(pick_port(root.path(), Vec::new()).is_err());
        std::fs::write(root.path().join("dev/ttyS0"), "").unwrap();
        assert_eq!(
            pick_port(root.path(), Vec::new()).unwrap(),
            root.path().join("dev/serial0").display().to_string()
        );
    }
}
