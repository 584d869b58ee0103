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
use tic_rec::capture::{Capture, Counters, Event, Fanout, HostClock, Observer, StoreConfig};
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
    /// Report a line without valid frames, or frames without rows, after this long (for tests).
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
    #[command(flatten)]
    mqtt: super::mqtt::MqttArgs,
    /// Also serve the dashboard (pages, JSON API, /metrics) on this address, with live
    /// values from the recorder's memory, e.g. 127.0.0.1:8080 (see `tic-rec serve`).
    #[arg(long, value_name = "ADDR", conflicts_with = "demo")]
    http: Option<std::net::SocketAddr>,
}

/// `--archive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Archive {
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

pub(super) fn start_archiver(
    data_dir: &Path,
    archive: Archive,
    keep_csv: bool,
) -> Option<tic_rec::store::archive::Archiver> {
    // With --archive csv the job still keeps the periods dataset as days close.
    let today = chrono::Utc::now()
        .with_timezone(&tic_rec::store::TZ)
        .date_naive();
    let settings = tic_rec::store::archive::Settings {
        convert: archive == Archive::Parquet,
        keep_csv,
        fail: super::compact::injected_failure(),
        derive: Some(std::sync::Arc::new(
            tic_rec::export::dataset::PeriodsDataset,
        )),
        ..tic_rec::store::archive::Settings::new(tic_rec::export::Summariser::boxed)
    };
    Some(tic_rec::store::archive::Archiver::start(
        data_dir, settings, today,
    ))
}

fn archive_line(r: &tic_rec::store::archive::Report) -> String {
    use tic_rec::store::archive::{Outcome, Report};
    match r {
        Report::Done(
            day,
            Outcome::Converted {
                rows,
                csv_bytes,
                parquet_bytes,
                changed,
                in_use,
                ..
            },
        ) => {
            let mut l = format!(
                "archived {day}: {rows} rows, {csv_bytes} bytes of CSV into {parquet_bytes} of Parquet"
            );
            if *changed > 0 {
                l.push_str(&format!(" ({changed} CSV file(s) changed meanwhile: kept)"));
            }
            if *in_use > 0 {
                l.push_str(&format!(
                    " ({in_use} CSV file(s) still being written: kept, removed at the next conversion)"
                ));
            }
            l
        }
        Report::Done(day, Outcome::NoRows { removed, kept }) => format!(
            "{day}: no rows (empty or cut inside its header): {removed} file(s) removed{}",
            if *kept > 0 {
                format!(", {kept} kept")
            } else {
                String::new()
            }
        ),
        Report::Done(day, Outcome::Empty) => format!("{day}: no file to archive"),
        Report::Done(day, Outcome::Archived) => format!("{day}: already archived"),
        Report::Failed(day, e) => format!("cannot archive {day} (its CSV files stay): {e}"),
        Report::Derived(day, what) => format!("periods through {day}: {what}"),
        Report::DeriveFailed(day, e) => {
            format!("cannot bring periods/ up to {day} (tried again when the next day closes): {e}")
        }
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
    pub(super) fn end_archive(&mut self, drain: bool) {
        if let Some(a) = self.archiver.take() {
            let reports = if drain { a.finish() } else { a.stop() };
            for r in reports {
                self.log(archive_line(&r));
            }
        }
    }
}
// ---- end of the archive hook. ----

// ---- MQTT hook (issue 13): the link's notes are logged on the loop's events, its state is
// in the status line; the link is started with the other observers and ended after the loop.
impl Status {
    fn mqtt_notes(&self) {
        if let Some(h) = &self.mqtt {
            for n in h.notes() {
                self.log(super::mqtt::line(&n));
            }
        }
    }

    /// The status line: the counts, and the MQTT link's state.
    fn line(&self, c: &Counters) -> String {
        let mut s = Status::summary(c);
        if let Some(h) = &self.mqtt {
            s.push_str(&super::mqtt::summary(h));
        }
        s
    }
}
// ---- end of the MQTT hook. ----

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
    pub(super) archiver: Option<tic_rec::store::archive::Archiver>,
    pub(super) mqtt: Option<tic_rec::mqtt::MqttHandle>,
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
            archiver: None,
            mqtt: None,
        }
    }

    fn log(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(format!("tic-rec: {line}")),
            None => eprintln!("tic-rec: {line}"),
        }
    }

    fn summary(c: &Counters) -> String {
        let mut s = format!(
            "{} rows written (last {}, {} VA); {} frames: {} incomplete, {} failed checksums, {} cut",
            c.written,
            c.last_time.map_or("-".to_owned(), |t| t.to_rfc3339()),
            c.last_power.map_or("-".to_owned(), |p| p.to_string()),
            c.decoder.frames,
            c.recorder.incomplete,
            c.decoder.groups_bad,
            c.decoder.frames_cut + c.decoder.frames_oversize,
        );
        if c.held > 0 || c.stalled {
            s.push_str(&format!(
                "; DISK NOT WRITABLE: {} rows held in memory",
                c.held
            ));
        }
        if c.dropped > 0 {
            s.push_str(&format!(", {} dropped", c.dropped));
        }
        let t = &c.recorder.timeline;
        if t.glitches + t.jumps > 0 {
            s.push_str(&format!(
                "; {} frame times dropped, {} clock jumps followed",
                t.glitches, t.jumps
            ));
        }
        if !c.port_open {
            s.push_str("; port closed");
        }
        s
    }

    pub(super) fn finish(&self, c: &Counters) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.mqtt_notes();
        eprintln!("tic-rec: {}", self.line(c));
    }
}

fn secs(s: u64) -> String {
    humantime::format_duration(StdDuration::from_secs(s)).to_string()
}

impl Observer for Status {
    fn event(&mut self, event: &Event<'_>) {
        match *event {
            Event::Started { .. } => {}
            Event::PortOpened { path, baud, after } => match after {
                None => self.log(format!("reading {path} at {baud} baud (7E1)")),
                Some(d) => self.log(format!(
                    "{path} is back after {}: reading at {baud} baud",
                    secs(d.as_secs())
                )),
            },
            Event::ModeFound { mode, baud } => {
                self.log(format!("frames verify: {mode} mode at {baud} baud"))
            }
            Event::PortFailing {
                path,
                ref failure,
                missing,
                for_secs,
                attempts,
                ref present,
            } => {
                let mut line = if for_secs == 0 {
                    format!("{path} {failure}")
                } else {
                    format!("{path} still {failure} after {} ({attempts} attempts)", secs(for_secs))
                };
                if missing {
                    if present.is_empty() {
                        line.push_str("; no serial port is present on this machine");
                    } else {
                        line.push_str(&format!("; serial ports present: {}", present.join(", ")));
                    }
                }
                line.push_str("; trying again every second");
                self.log(line)
            }
            Event::Silent {
                path,
                for_secs,
                since_last_valid: s,
                hint,
                reprobe,
            } => self.log(format!(
                "{path}: no valid frame for {} ({} bytes, {} frames, {} groups verified, {} failed in that time): {hint}{}",
                secs(for_secs),
                s.bytes,
                s.frames,
                s.groups_ok,
                s.groups_bad,
                if reprobe { "; probing 9600 and 1200 baud again" } else { "" }
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
                for p in &r.skipped_untrusted {
                    line.push_str(&format!(
                        " (the last line of {} is not a record: left as it is)",
                        p.display()
                    ));
                }
                if r.skipped_later > 0 {
                    line.push_str(" (the day's earlier file has later rows: the clock went back)");
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
            Event::WriteStalled { error, held } => self.log(format!(
                "CANNOT WRITE: {} ({error}); holding rows in memory (up to {} rows, about two hours) and retrying every {} s{}",
                error.what(),
                tic_rec::store::MAX_HELD_ROWS,
                tic_rec::store::RETRY.as_secs(),
                if held > 1 { format!(", {held} held") } else { String::new() }
            )),
            Event::WriteStillStalled {
                error,
                held,
                dropped,
                for_secs,
            } => self.log(format!(
                "still cannot write after {}: {}; {held} rows held, {dropped} oldest dropped",
                secs(for_secs),
                error.what()
            )),
            Event::WriteRecovered {
                written,
                dropped,
                for_secs,
            } => self.log(format!(
                "writing again after {}: {written} held rows written{}",
                secs(for_secs),
                if dropped > 0 {
                    format!(", {dropped} oldest rows were dropped (memory bound)")
                } else {
                    String::new()
                }
            )),
            Event::RawDropped { error, bytes } => self.log(format!(
                "cannot keep the raw bytes ({}): {bytes} bytes dropped; records are kept",
                error.what()
            )),
            Event::TimeJump { from, to } => {
                let d = to.signed_duration_since(from);
                let dir = if d < chrono::Duration::zero() { "BACK" } else { "forward" };
                let abs = StdDuration::from_secs(d.num_seconds().unsigned_abs());
                self.log(format!(
                    "CLOCK CHANGE: frame times moved {dir} by {} (from {} to {}), confirmed by {} frames in a row; recording follows the new time{}",
                    humantime::format_duration(abs),
                    from.to_rfc3339(),
                    to.to_rfc3339(),
                    tic_rec::record::timeline::CONFIRM,
                    if dir == "BACK" { " (rows that fall before a day file's last row go to a new part, YYYY-MM-DD.N.csv)" } else { "" }
                ))
            }
            Event::TimeGlitch { time, total } => self.log(format!(
                "dropped a frame whose time ({}) disagreed with the frames around it ({total} so far): a corrupted DATE that passed its checksum?",
                time.map_or("-".to_owned(), |t| t.to_rfc3339())
            )),
            Event::Stalled {
                for_secs,
                ref reason,
            } => self.log(format!("no row written for {}: {reason}", secs(for_secs))),
            Event::Frame(_) => {}
            Event::Recorded(_, c) | Event::Tick(c) => {
                self.archive_reports();
                self.mqtt_notes();
                if let Some(bar) = &self.bar {
                    bar.set_message(self.line(c));
                } else if self.last_log.elapsed() >= self.log_every {
                    self.last_log = Instant::now();
                    eprintln!("tic-rec: {}", self.line(c));
                }
            }
        }
    }
}

/// Tells systemd how the recorder is (`Type=notify`, `WatchdogSec=`): READY once the loop
/// runs, a STATUS line, and watchdog pings from the loop's ticks (a hung read or a wedged
/// writer stops them, and systemd restarts the service). Outside systemd it does nothing.
struct Systemd {
    watchdog: Option<StdDuration>,
    last_ping: Option<Instant>,
    active: bool,
}

impl Systemd {
    fn new() -> Systemd {
        Systemd {
            watchdog: sd_notify::watchdog_enabled(),
            last_ping: None,
            active: std::env::var_os("NOTIFY_SOCKET").is_some(),
        }
    }
}

impl Observer for Systemd {
    fn event(&mut self, event: &Event<'_>) {
        if !self.active {
            return;
        }
        match *event {
            Event::Started { source } => {
                let status = format!("recording {source}");
                let _ = sd_notify::notify(&[
                    sd_notify::NotifyState::Ready,
                    sd_notify::NotifyState::Status(&status),
                ]);
            }
            Event::Tick(c) => {
                let Some(every) = self.watchdog else { return };
                if self.last_ping.is_some_and(|t| t.elapsed() < every / 4) {
                    return;
                }
                self.last_ping = Some(Instant::now());
                let status = Status::summary(c);
                let _ = sd_notify::notify(&[
                    sd_notify::NotifyState::Watchdog,
                    sd_notify::NotifyState::Status(&status),
                ]);
            }
            _ => {}
        }
    }
}

/// Sets `stop` on SIGINT/SIGTERM; a second signal exits at once.
pub(super) fn stop_flag() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// Takes the data directory's lock, naming this process and its source for a second
/// recorder's message.
pub(super) fn lock_data_dir(dir: &Path, source: &str) -> Result<tic_rec::store::DirLock> {
    let holder = format!(
        "tic-rec pid {}, since {}, recording {source}",
        std::process::id(),
        chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    );
    let lock = tic_rec::store::DirLock::acquire(dir, &holder)?;
    // A directory of the layout before is moved first; one that cannot be is read where it
    // is, and recording goes on (the next start tries again).
    if let Err(e) = super::compact::move_layout(dir, &lock) {
        eprintln!("tic-rec: warning: {e:#}");
    }
    Ok(lock)
}

/// What a replay wrote, and why the other frames made no row; an error if it wrote none.
fn replay_report(name: &str, c: &Counters, mode: Option<Mode>, clock: HostClock) -> Result<()> {
    let r = &c.recorder;
    let t = &r.timeline;
    let parts: Vec<String> = [
        (
            r.incomplete,
            "lacked a wanted label or had it fail its checksum",
        ),
        (
            r.not_after_last,
            "fell in the same second as the previous row",
        ),
        (
            r.same_interval,
            "fell in an interval already recorded (--every)",
        ),
        (
            r.before_shape,
            "came before a clean frame identifying the meter",
        ),
        (r.no_time, "had no valid DATE"),
        (
            t.glitches,
            "had a time contradicted by the frames around them",
        ),
        (t.unset_clock, "had a time before 2010"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    eprintln!(
        "tic-rec: replay of {name}: {} frames, {} rows written{}",
        c.decoder.frames,
        c.written,
        if parts.is_empty() {
            String::new()
        } else {
            format!("; frames not written: {}", parts.join(", "))
        }
    );
    let historique = c.decoder.frames_historique > c.decoder.frames_standard;
    let host = matches!(clock, HostClock::System);
    if historique && host && c.decoder.frames >= 10 && r.not_after_last * 2 > c.decoder.frames {
        eprintln!(
            "tic-rec: note: historique frames have no DATE: they were stamped with this machine's clock at replay              speed, so most fell in the same second; give the capture's start with --replay-start              YYYY-MM-DDTHH:MM:SS to stamp them from its air time at 1200 baud"
        );
    }
    if c.written == 0 && c.rows == 0 {
        let why = if c.decoder.frames == 0 {
            "no complete frame in it (is it a TIC capture?)".to_owned()
        } else if c.decoder.groups_ok == 0 || c.decoder.groups_bad > c.decoder.groups_ok {
            format!(
                "{} of {} groups failed their checksum{}",
                c.decoder.groups_bad,
                c.decoder.groups_bad + c.decoder.groups_ok,
                match mode {
                    Some(m) => format!(": is it really {m} mode? try --mode auto"),
                    None => String::new(),
                }
            )
        } else {
            parts
                .first()
                .cloned()
                .unwrap_or_else(|| "no frame made a record".to_owned())
        };
        bail!("no row written from {name}: {why}");
    }
    Ok(())
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
    if args.demo && args.mqtt.enabled() {
        bail!("--mqtt publishes a real meter (or a replay): the demo records a day in seconds, which Home Assistant would take as live");
    }
    // MQTT hook: the password file and TLS are checked before anything is created.
    let mut mqtt = if args.demo { None } else { args.mqtt.start()? };
    if args.demo {
        // The demo checks its flags before creating anything, then takes the lock.
        let opts = super::demo::Options {
            mode: args.mode.forced().unwrap_or(Mode::Standard),
            data_dir: args.data_dir,
            labels: args.labels,
            every: args.every,
            fsync_interval: fsync,
            raw: args.raw,
            log_interval: args.log_interval.to_std().context("--log-interval")?,
            silence: args.silence_warning.to_std().context("--silence-warning")?,
            archive: args.archive,
            keep_csv: args.keep_csv,
        };
        return super::demo::run(opts, stop);
    }
    super::check_data_dir(&args.data_dir)?;
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {:?}",
            args.data_dir.display().to_string()
        )
    })?;
    let source = match (&port, &args.replay) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) => format!("a replay of {}", r.display()),
        (None, None) => unreachable!("clap requires a source"),
    };
    let _lock = lock_data_dir(&args.data_dir, &source)?;
    let store = StoreConfig {
        dir: args.data_dir.clone(),
        fsync_interval: fsync,
        raw: args.raw,
    };
    let record = RecordConfig {
        labels: args.labels.clone(),
        every: args.every,
    };
    let mut status = Status::new(
        args.log_interval
            .to_std()
            .unwrap_or(StdDuration::from_secs(300)),
    );
    status.archiver = start_archiver(&args.data_dir, args.archive, args.keep_csv);
    let mqtt_handle = mqtt.as_ref().map(|(_, h)| h.clone());
    status.mqtt.clone_from(&mqtt_handle);
    let mut systemd = Systemd::new();
    let mut observers = Fanout::new();
    observers.add(&mut status);
    observers.add(&mut systemd);
    if let Some((observer, _)) = mqtt.as_mut() {
        observers.add(observer);
    }
    // ---- Dashboard hook (issue 12): `--http` serves it from this process; the live
    // snapshot is one more observer, which only copies the last record under a short lock.
    let mut live = tic_rec::serve::Live::new();
    if let Some(h) = mqtt_handle {
        live = live.with_mqtt(h);
    }
    let mut live_observer = live.observer();
    let _dashboard = match args.http {
        Some(addr) => {
            observers.add(&mut live_observer);
            super::serve::start_in_recorder(addr, &args.data_dir, live)
        }
        None => None,
    };
    // ---- end of the dashboard hook. ----
    let mode = args.mode.forced();
    let mut clock = HostClock::System;
    if let Some(start) = args.replay_start {
        use chrono::TimeZone;
        let start = tic_rec::store::TZ
            .from_local_datetime(&start)
            .earliest()
            .with_context(|| {
                format!("--replay-start {start} does not exist in Europe/Paris local time")
            })?;
        clock = HostClock::Replay {
            start: start.to_utc(),
            baud: Mode::Historique.baud_rate(),
        };
    }
    let mut capture = Capture::new(mode, record, store, &mut observers)
        .with_silence(args.silence_warning.to_std().context("--silence-warning")?)
        .with_clock(clock);
    let (result, replay) = if let Some(path) = &args.replay {
        let name = path.display().to_string();
        let r = if name == "-" {
            capture.run_reader(io::stdin().lock(), "standard input", &stop)
        } else {
            let file = File::open(path).with_context(|| format!("cannot open {name:?}"))?;
            capture.run_reader(file, &name, &stop)
        };
        (r, Some(name))
    } else {
        let port = port.expect("clap requires a source");
        (capture.run_port(&port, mode, &stop), None)
    };
    let counters = capture.counters();
    drop(capture);
    drop(observers);
    if let Some((_, h)) = &mqtt {
        h.shutdown(StdDuration::from_secs(3));
    }
    status.end_archive(args.replay.is_some() && result.is_ok());
    status.finish(&counters);
    result?;
    if counters.held > 0 {
        bail!(
            "{} rows could not be written before exiting ({})",
            counters.held,
            args.data_dir.display()
        );
    }
    if args.replay_start.is_some() && counters.decoder.frames_historique == 0 {
        eprintln!("tic-rec: note: --replay-start was not used: the capture has no historique frame (standard records carry the meter's DATE)");
    }
    if let Some(name) = replay {
        if !stop.load(Ordering::Relaxed) {
            replay_report(&name, &counters, mode, clock)?;
        }
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
