//! What the recorder says while it runs: an indicatif status line on a terminal, plain log
//! lines otherwise (the systemd journal). One [`Observer`] of the recording loop, which also
//! logs the reports of the jobs that run beside it: the archive of closed days (started when
//! the store opens its first file, so nothing is archived before the recorder writes, and
//! told which day's file the store opens: the day left is closed) and the MQTT link (its
//! notes, and its state in the status line).

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tic_rec::capture::port::device;
use tic_rec::capture::{Counters, Event, Observer};
use tic_rec::error::Chain;
use tic_rec::mqtt::MqttHandle;
use tic_rec::store::archive::{Archiver, Report, Settings};

/// Prints events: an indicatif status line on a terminal, plain log lines otherwise.
pub(super) struct Status {
    bar: Option<ProgressBar>,
    log_every: StdDuration,
    last_log: Instant,
    /// The archive job to start at the first file the store opens.
    archive: Option<(PathBuf, Settings)>,
    archiver: Option<Archiver>,
    mqtt: Option<MqttHandle>,
    /// The last counts the loop gave (its final tick: the end's).
    counts: Counters,
}

impl Status {
    /// A status that logs a summary line every `log_every` when not on a terminal, runs the
    /// archive job of `archive` (the data directory and how) once the store opens its first
    /// file, and logs its reports and the MQTT link's.
    pub(super) fn new(
        log_every: StdDuration,
        archive: Option<(PathBuf, Settings)>,
        mqtt: Option<MqttHandle>,
    ) -> Status {
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
            archive,
            archiver: None,
            mqtt,
            counts: Counters::default(),
        }
    }

    fn log(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(format!("tic-rec: {line}")),
            None => eprintln!("tic-rec: {line}"),
        }
    }

    /// The counts in one line (also the systemd STATUS line).
    pub(super) fn summary(c: &Counters) -> String {
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

    /// The last line: the counts at the end.
    pub(super) fn finish(&self) {
        let c = &self.counts;
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.mqtt_notes();
        eprintln!("tic-rec: {}", self.line(c));
    }

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
                first_open,
                for_secs,
                attempts,
                ref present,
            } => {
                let mut line = if for_secs == 0 {
                    format!("{path} {failure}")
                } else {
                    format!("{path} still {failure} after {} ({attempts} attempts)", secs(for_secs))
                };
                // A stable name (/dev/serial/by-id/…) is an adapter not plugged in yet;
                // another name absent from the start may well be mistyped.
                if missing && first_open && !device::is_stable_name(path) {
                    line.push_str(" (mistyped?)");
                }
                if missing {
                    if present.is_empty() {
                        line.push_str("; no serial port is present on this machine");
                    } else {
                        line.push_str(&format!("; serial ports present: {}", present.join(", ")));
                    }
                }
                line.push_str("; trying again every second");
                if first_open {
                    line.push_str(" (nothing is recorded, created or archived until it opens)");
                }
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
                // The day of the file opened is the one being recorded: the archive job
                // takes the day it was on before as closed (and, when it starts now, never
                // converts this one, however old).
                let day = r
                    .path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(tic_rec::store::parse_day_file_name)
                    .map(|(day, _)| day);
                if let Some((dir, settings)) = self.archive.take() {
                    let today = chrono::Utc::now()
                        .with_timezone(&tic_rec::store::TZ)
                        .date_naive();
                    self.archiver = Some(Archiver::start(&dir, settings, today, day));
                }
                if let (Some(a), Some(day)) = (&self.archiver, day) {
                    a.opened(day);
                }
            }
            Event::WriteStalled { error, held } => self.log(format!(
                "CANNOT WRITE: {}; holding rows in memory (up to {} rows, about two hours) and retrying every {} s{}",
                match error.outage() {
                    Some(word) => format!("{word} ({})", Chain(error)),
                    None => Chain(error).to_string(),
                },
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
            Event::Stopping { held, limit } if held > 0 => self.log(format!(
                "stopping: {held} rows held in memory are not written yet (the disk refuses them): trying again every {} s for up to {}; a second SIGINT/SIGTERM tries at once, a third gives up (the rows are dropped)",
                tic_rec::capture::stop::DRAIN_RETRY.as_secs(),
                humantime::format_duration(limit)
            )),
            Event::Stopping { .. } | Event::Frame(_) => {}
            Event::Recorded(_, c) | Event::Tick(c) => {
                self.counts = *c;
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

/// A report of the archive job, in words.
fn archive_line(r: &Report) -> String {
    use tic_rec::store::archive::Outcome;
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
        Report::Failed(day, e) => {
            format!("cannot archive {day} (its CSV files stay): {}", Chain(e))
        }
        Report::Derived(day, what) => format!("periods through {day}: {what}"),
        Report::DeriveFailed(day, e) => {
            format!(
                "cannot bring periods/ up to {day} (tried again when the next day closes): {}",
                Chain(e.as_ref())
            )
        }
    }
}

fn secs(s: u64) -> String {
    humantime::format_duration(StdDuration::from_secs(s)).to_string()
}
