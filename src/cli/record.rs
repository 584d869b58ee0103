//! `tic-rec record`: continuous capture into daily files.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Duration;
use indicatif::{ProgressBar, ProgressStyle};
use tic_rec::capture::{Capture, Counters, Event, HostClock, Observer, StoreConfig};
use tic_rec::record::RecordConfig;
use tic_rec::sim::{serve, Contract, Line, Meter, Pty, SimConfig, Speed};
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
    /// What closed days become: `parquet` (converted in the background once the recorder has
    /// moved past them; the CSV files removed once the Parquet file verifies) or `csv` (kept
    /// as they are).
    #[arg(long, value_enum, default_value_t = Archive::Parquet)]
    archive: Archive,
    /// With --archive parquet: keep the CSV files beside the Parquet files.
    #[arg(long)]
    keep_csv: bool,
}

/// `--archive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Archive {
    /// Convert closed days to Parquet.
    Parquet,
    /// Keep plain CSV.
    Csv,
}

// ---- Archive hook (issue 10): the background conversion of closed days. ----
// `Status` (the capture's observer) tells the archiver which day's file the store opens
// (`Event::FileOpened`, i.e. the store's `take_events`): the day left is closed. Reports are
// logged on the next event. A replay converts what it closed before exiting; a port or the
// demo stops the job (the rest is done at the next start or by `tic-rec compact`).

fn start_archiver(args: &Args) -> Option<tic_rec::archive::Archiver> {
    (args.archive == Archive::Parquet).then(|| {
        let today = chrono::Utc::now()
            .with_timezone(&tic_rec::store::TZ)
            .date_naive();
        let settings = tic_rec::archive::Settings {
            keep_csv: args.keep_csv,
            fail: super::compact::injected_failure(),
        };
        tic_rec::archive::Archiver::start(&args.data_dir, settings, today)
    })
}

fn archive_line(r: &tic_rec::archive::Report) -> String {
    use tic_rec::archive::Report;
    use tic_rec::store::compact::Outcome;
    match r {
        Report::Done(
            day,
            Outcome::Converted {
                rows,
                csv_bytes,
                parquet_bytes,
                changed,
                ..
            },
        ) => {
            let mut l = format!(
                "archived {day}: {rows} rows, {csv_bytes} bytes of CSV into {parquet_bytes} of Parquet"
            );
            if *changed > 0 {
                l.push_str(&format!(" ({changed} CSV file(s) changed meanwhile: kept)"));
            }
            l
        }
        Report::Done(day, _) => format!("{day}: already archived"),
        Report::Failed(day, e) => format!("cannot archive {day} (its CSV files stay): {e}"),
    }
}

impl Status {
    fn archive_reports(&self) {
        if let Some(a) = &self.archiver {
            for r in a.reports() {
                self.log(archive_line(&r));
            }
        }
    }

    /// The recording is over: a replay converts what it closed, a service stops the job.
    fn end_archive(&mut self, drain: bool) {
        if let Some(a) = self.archiver.take() {
            let reports = if drain { a.finish() } else { a.stop() };
            for r in reports {
                self.log(archive_line(&r));
            }
        }
    }
}
// ---- end of the archive hook. ----

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
struct Status {
    bar: Option<ProgressBar>,
    log_every: StdDuration,
    last_log: Instant,
    archiver: Option<tic_rec::archive::Archiver>,
}

impl Status {
    fn new(log_every: StdDuration) -> Status {
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
            archiver: None,
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

    fn finish(&self, c: &Counters) {
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
                self.log(line);
                // Archive hook: the day of the file opened is the one being recorded.
                if let Some(a) = &self.archiver {
                    let day = r.path.file_name().and_then(|n| n.to_str());
                    if let Some((day, _)) = day.and_then(tic_rec::store::parse_day_file_name) {
                        a.opened(day);
                    }
                }
            }
            Event::Recorded(_, c) | Event::Tick(c) => {
                self.archive_reports();
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
    // Resolve `--port auto` before anything is created.
    let port = match args.port.as_deref() {
        Some("auto") => Some(auto_port()?),
        other => other.map(str::to_owned),
    };
    let stop = stop_flag()?;
    let fsync = args.fsync_interval.to_std().context("--fsync-interval")?;
    let store = StoreConfig {
        dir: args.data_dir.clone(),
        fsync_interval: fsync,
        raw: args.raw,
    };
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
    if !args.demo {
        status.archiver = start_archiver(&args);
    }
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
    } else if args.demo {
        return demo(args, stop);
    } else {
        let port = port.expect("clap requires a source");
        capture.run_port(&port, mode, &stop)
    };
    let counters = capture.counters();
    drop(capture);
    status.end_archive(args.replay.is_some() && result.is_ok());
    status.finish(&counters);
    result?;
    Ok(())
}

/// `--demo`: a simulated meter on a pseudo-terminal, recorded through the serial path.
fn demo(args: Args, stop: Arc<AtomicBool>) -> Result<()> {
    // Yesterday, or the day before the oldest recorded one: a second demo adds an earlier
    // day rather than rows the files already have.
    let yesterday = chrono::Utc::now()
        .with_timezone(&tic_rec::store::TZ)
        .date_naive()
        - chrono::Days::new(1);
    let yesterday = tic_rec::store::oldest_day(&args.data_dir)
        .map(|d| (d - chrono::Days::new(1)).min(yesterday))
        .unwrap_or(yesterday);
    let mut cfg = SimConfig::new(
        Mode::Standard,
        Contract::HcHp,
        yesterday.and_time(chrono::NaiveTime::MIN),
    );
    cfg.frame_interval = Some(Duration::minutes(1));
    let mut meter = Meter::new(cfg)?;
    let mut pty = Pty::open()?;
    let path = pty.path.clone();
    let dir = args
        .data_dir
        .canonicalize()
        .unwrap_or(args.data_dir.clone());
    eprintln!(
        "tic-rec: demo: a simulated standard-mode HC/HP meter on {path}, one frame per meter minute for {yesterday} \
         (a day in about 5 s), recorded into {}",
        dir.display()
    );
    let sim_done = Arc::new(AtomicBool::new(false));
    let sim = {
        let sim_done = Arc::clone(&sim_done);
        let stop = Arc::clone(&stop);
        // The thread hands the pseudo-terminal back so it outlives the recorder's last read.
        std::thread::spawn(move || -> io::Result<(u64, Pty)> {
            // Wait for the recorder to open the port, then serve a day at ~300× line speed.
            std::thread::sleep(StdDuration::from_millis(300));
            let mut line = Line {
                port: &mut pty.master,
                dropped: 0,
            };
            let n = if stop.load(Ordering::Relaxed) {
                0
            } else {
                serve(
                    &mut meter,
                    Some(Duration::days(1)),
                    None,
                    Speed::Factor(300.0),
                    &mut line,
                )?
            };
            pty.drain();
            std::thread::sleep(StdDuration::from_millis(500));
            sim_done.store(true, Ordering::Relaxed);
            Ok((n, pty))
        })
    };
    // The recorder stops when the simulated day is over (or on a signal).
    let watcher = {
        let stop = Arc::clone(&stop);
        let sim_done = Arc::clone(&sim_done);
        std::thread::spawn(move || {
            while !sim_done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(StdDuration::from_millis(50));
            }
            stop.store(true, Ordering::Relaxed);
        })
    };
    let mut status = Status::new(StdDuration::from_secs(300));
    status.archiver = start_archiver(&args);
    let store = StoreConfig {
        dir: args.data_dir.clone(),
        fsync_interval: args.fsync_interval.to_std().context("--fsync-interval")?,
        raw: args.raw,
    };
    let record = RecordConfig {
        labels: args.labels.clone(),
        every: args.every,
    };
    let mut capture = Capture::new(Some(Mode::Standard), record, store, &mut status);
    let result = capture.run_port(&path, Some(Mode::Standard), &stop);
    let counters = capture.counters();
    drop(capture);
    status.end_archive(false);
    status.finish(&counters);
    let _ = watcher.join();
    let (frames, pty) = sim
        .join()
        .map_err(|_| anyhow::anyhow!("the simulator thread panicked"))??;
    drop(pty);
    result?;
    eprintln!(
        "tic-rec: demo: the meter sent {frames} frames; try `tic-rec export --data-dir {}`",
        args.data_dir.display()
    );
    Ok(())
}

/// `--port auto`: the only USB serial adapter, by its stable `/dev/serial/by-id/` name.
fn auto_port() -> Result<String> {
    let by_id = Path::new("/dev/serial/by-id");
    let mut ids: Vec<String> = std::fs::read_dir(by_id)
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
    let mut others: Vec<String> = serialport::available_ports()
        .map(|ports| ports.into_iter().map(|p| p.port_name).collect())
        .unwrap_or_default();
    others.sort();
    let mut candidates = ids.clone();
    candidates.extend(others.into_iter().filter(|p| p.starts_with("/dev/tty")));
    if candidates.is_empty() {
        bail!("--port auto: no serial port found (is the TIC adapter plugged in?)");
    }
    bail!(
        "--port auto: {} USB serial adapters found under /dev/serial/by-id; pick one with --port. Candidates:\n  {}",
        ids.len(),
        candidates.join("\n  ")
    )
}
