//! `tic-rec record --demo`: a simulated meter on a pseudo-terminal inside the process,
//! recorded through the real serial-port path.
//!
//! ## Design
//! - **Two threads, one `end` flag.** The meter serves frames on the pty's master; the
//!   recorder (the calling thread) reads the other end with [`Capture::run_port`]. `end` is
//!   set by SIGINT/SIGTERM, by the meter once its day is served and read, and by the
//!   recorder when it fails (an unwritable data directory, a full disk), so neither side
//!   ever waits for the other: the meter's writes give up within 100 ms of `end`, the
//!   recorder's reads within 200 ms, and the binary does not wait for a meter thread that
//!   is still writing.
//! - **The day.** Yesterday, or the day before the oldest recorded day. It ends where the
//!   oldest day's first record begins: the same meter address, EAST and every EASF/EASD
//!   (HCHC/HCHP in historique mode), found by running the model for the day first
//!   ([`tic_rec::sim::ending_at`]), so an export over both days sees one meter whose
//!   indexes only grow. The load profile is seeded from the date: each day differs.
//! - **Time.** Standard frames carry the meter's DATE, one frame per meter minute.
//!   Historique frames carry no date, so the recorder needs a host clock; the real clock
//!   would stamp a whole day's frames within the few seconds the demo lasts. The demo's
//!   clock is a replay clock that makes each frame's bytes last exactly the meter time
//!   between frames (10 s): the records then fall at the meter's own times across the
//!   day, and the recorder keeps one a minute unless `--every` says otherwise.
//! - **No byte lost.** Unlike a real meter (and [`tic_rec::sim::Line`]), the demo's line
//!   waits for the recorder rather than drop bytes (the historique clock counts them),
//!   and the meter starts only once the recorder has opened the port.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, Utc};
use tic_rec::capture::{Capture, Event, HostClock, Observer, Stop, StoreConfig};
use tic_rec::record::RecordConfig;
use tic_rec::sim::{ending_at, serve, Contract, Meter, Pty, SimConfig, Speed};
use tic_rec::store::TZ;
use tic_rec::tic::Mode;

use super::status::Status;

/// What the demo records, from `record`'s arguments.
pub struct Options {
    /// The simulated meter's mode (`--mode auto` is standard).
    pub mode: Mode,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--labels`: checked against what the demo meter sends.
    pub labels: Option<Vec<String>>,
    /// `--every` (historique: one a minute when not given).
    pub every: Option<Duration>,
    /// `--fsync-interval`.
    pub fsync_interval: StdDuration,
    /// `--raw`.
    pub raw: bool,
    /// `--log-interval`.
    pub log_interval: StdDuration,
    /// `--silence-warning`.
    pub silence: StdDuration,
    /// `--archive`.
    pub archive: super::record::Archive,
    /// `--keep-csv`.
    pub keep_csv: bool,
}

/// The pace of the demo's line, in bytes a second: 300 × a standard line (9600 baud, 10
/// bits a byte), a day of one-minute standard frames in about 4 s.
const BYTES_PER_SEC: f64 = 300.0 * 960.0;
/// The historique meter's time between frames: the demo's clock makes a frame's bytes
/// last exactly this.
const HISTORIQUE_INTERVAL_S: i64 = 10;
/// How long the meter waits for the recorder to open the port.
const OPEN_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// The meter's write timeout: how soon it notices `end` when nobody reads.
const WRITE_TIMEOUT: StdDuration = StdDuration::from_millis(100);

pub fn run(opts: Options, stop: Arc<Stop>) -> Result<()> {
    super::check_data_dir(&opts.data_dir)?;
    let oldest = oldest_record(&opts.data_dir)?;
    let today = Utc::now().with_timezone(&TZ).date_naive();
    let day = demo_day(today, oldest.as_ref().map(|o| o.day));
    let plan = Plan::new(opts.mode, day, oldest.as_ref())?;
    if let Some(labels) = &opts.labels {
        plan.check_labels(labels)?;
    }
    std::fs::create_dir_all(&opts.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {:?}",
            opts.data_dir.display().to_string()
        )
    })?;
    let _lock = super::record::lock_data_dir(&opts.data_dir, "the demo")?;

    // `end` stops both sides: a signal's request, or the demo's end (the day served, or
    // a failure).
    let end = stop;
    let mut pty = Pty::open()?;
    serialport::SerialPort::set_timeout(&mut pty.master, WRITE_TIMEOUT)
        .map_err(|e| io::Error::other(format!("cannot set the demo port's timeout: {e}")))?;
    let path = pty.path.clone();
    let dir = opts
        .data_dir
        .canonicalize()
        .unwrap_or(opts.data_dir.clone());
    eprintln!(
        "tic-rec: demo: a simulated {} on {path}, for {day}{} (a day in about 5 s), recorded into {}",
        plan.describe(),
        match &oldest {
            Some(o) => format!(" (ending where {} begins: the same meter and indexes)", o.day),
            None => String::new(),
        },
        dir.display()
    );

    let opened = Arc::new(AtomicBool::new(false));
    let meter = Meter::new(plan.meter.clone()).context("cannot start the simulated meter")?;
    let sim = {
        let (end, opened) = (Arc::clone(&end), Arc::clone(&opened));
        let (day_len, speed) = (plan.until - plan.start, plan.speed);
        std::thread::spawn(move || serve_day(meter, pty, day_len, speed, &end, &opened))
    };

    let mut status = Status::new(
        opts.log_interval,
        super::record::start_archiver(&opts.data_dir, opts.archive, opts.keep_csv),
        None,
    );
    let mut watch = Watch {
        status: &mut status,
        opened: &opened,
        end: &end,
        failed: None,
    };
    let store = StoreConfig {
        dir: opts.data_dir.clone(),
        fsync_interval: opts.fsync_interval,
        raw: opts.raw,
    };
    let record = RecordConfig {
        labels: opts.labels.clone(),
        every: opts.every.or(plan.every),
    };
    // A demo says why it cannot write rather than wait for the disk.
    let mut capture = Capture::new(Some(plan.mode), record, store, &mut watch)
        .with_silence(opts.silence)
        .with_stop_timeout(StdDuration::ZERO);
    if let Some(clock) = plan.clock {
        capture = capture.with_clock(clock);
    }
    let result = capture.run_port(&path, Some(plan.mode), &end);
    // Whatever ended the recorder ends the meter.
    end.end();
    let counters = capture.counters();
    drop(capture);
    let failed = watch.failed.take();
    status.end_archive(false);
    status.finish(&counters);
    // The meter sees `end` within its write timeout; never wait long for it.
    let deadline = Instant::now() + StdDuration::from_secs(2);
    while !sim.is_finished() && Instant::now() < deadline {
        std::thread::sleep(StdDuration::from_millis(10));
    }
    let served = sim.is_finished().then(|| sim.join());
    result?;
    if let Some(error) = failed {
        bail!("the demo cannot write its records: {error}");
    }
    if end.requests() > 0 {
        eprintln!("tic-rec: demo: stopped by a signal");
        return Ok(());
    }
    let (frames, pty) = match served {
        Some(Ok(r)) => r.context("the simulated meter failed")?,
        Some(Err(_)) => bail!("the simulated meter's thread panicked"),
        None => bail!("the simulated meter did not stop"),
    };
    drop(pty);
    eprintln!(
        "tic-rec: demo: the meter sent {frames} frames; try `tic-rec export --data-dir {}`",
        opts.data_dir.display()
    );
    Ok(())
}

/// The meter's thread: waits for the recorder to open the port, serves the day, waits for
/// the recorder to read it, then sets `end`. Hands the pseudo-terminal back, so that it
/// outlives the recorder's last read.
fn serve_day(
    mut meter: Meter,
    mut pty: Pty,
    day: Duration,
    speed: Speed,
    end: &Stop,
    opened: &AtomicBool,
) -> io::Result<(u64, Pty)> {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while !opened.load(Ordering::Relaxed) {
        if end.requested() {
            return Ok((0, pty));
        }
        if Instant::now() > deadline {
            end.end();
            return Err(io::Error::other(
                "the recorder did not open the demo's port",
            ));
        }
        std::thread::sleep(StdDuration::from_millis(10));
    }
    let mut line = DemoLine {
        port: &mut pty.master,
        end,
    };
    let n = match serve(&mut meter, Some(day), None, speed, &mut line) {
        Ok(n) => n,
        Err(_) if end.requested() => return Ok((meter.frames(), pty)),
        Err(e) => {
            end.end();
            return Err(e);
        }
    };
    // Bytes in flight through the terminal may not show as unread at once: look twice.
    pty.drain();
    std::thread::sleep(StdDuration::from_millis(200));
    pty.drain();
    end.end();
    Ok((n, pty))
}

/// The demo's side of the line: waits for the reader (no byte dropped) until `end`.
struct DemoLine<'a> {
    port: &'a mut serialport::TTYPort,
    end: &'a Stop,
}

impl Write for DemoLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            if self.end.requested() {
                return Err(io::Error::other("the demo is ending"));
            }
            match self.port.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Passes events to the status line, says when the recorder has opened the port, and ends
/// the demo when its records cannot be written (a service would hold them and wait for the
/// disk; a demo says why it stopped).
struct Watch<'a> {
    status: &'a mut Status,
    opened: &'a AtomicBool,
    end: &'a Stop,
    failed: Option<String>,
}

impl Observer for Watch<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::PortOpened { .. } => self.opened.store(true, Ordering::Relaxed),
            Event::WriteStalled { error, .. } => {
                self.failed.get_or_insert_with(|| error.to_string());
                self.end.end();
                return;
            }
            _ => {}
        }
        self.status.event(event);
    }
}

/// The day to record: yesterday, or the day before the oldest recorded one (a second demo
/// adds an earlier day rather than rows the files already have).
fn demo_day(today: NaiveDate, oldest: Option<NaiveDate>) -> NaiveDate {
    let yesterday = today - Days::new(1);
    oldest.map_or(yesterday, |o| (o - Days::new(1)).min(yesterday))
}

/// The first record of the oldest day that has one.
struct Oldest {
    day: NaiveDate,
    columns: Vec<String>,
    cells: Vec<String>,
}

impl Oldest {
    fn get(&self, label: &str) -> Option<&str> {
        let i = self.columns.iter().position(|c| c == label)?;
        self.cells
            .get(i)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The mode of the meter address or an energy index the record has (the registry's).
    fn mode(&self) -> Option<Mode> {
        use tic_rec::tic::labels::{label, Kind};
        let modes: Vec<Mode> = self
            .columns
            .iter()
            .filter(|c| self.get(c).is_some())
            .filter_map(|c| label(c))
            .filter(|l| l.kind == Kind::MeterId || l.is_energy())
            .map(|l| l.mode)
            .collect();
        [Mode::Historique, Mode::Standard]
            .into_iter()
            .find(|m| modes.contains(m))
    }
}

/// The first record of the oldest recorded day that has one, read through the store.
fn oldest_record(dir: &Path) -> Result<Option<Oldest>> {
    use tic_rec::store::{Catalog, Columns, Next, ReadError, Resolved};
    let catalog = match Catalog::open(dir) {
        Ok(c) => c,
        Err(ReadError::Dir { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(e).context("cannot read the recorded days"),
    };
    for (day, files) in catalog.all() {
        let context = || format!("cannot read the recorded day {day}");
        let mut d = Resolved::new(day, files)
            .and_then(|r| r.open(Columns::All))
            .with_context(context)?;
        while let Some(next) = d.advance().with_context(context)? {
            if next != Next::Row {
                continue;
            }
            let columns = d.columns().to_vec();
            let cells = (0..columns.len())
                .map(|j| {
                    let mut text = String::new();
                    if j == 0 {
                        d.push_time_text(&mut text);
                    } else {
                        d.cell(j).push_to(&mut text);
                    }
                    text
                })
                .collect();
            return Ok(Some(Oldest {
                day,
                columns,
                cells,
            }));
        }
    }
    Ok(None)
}

/// The demo meter and how it is recorded.
struct Plan {
    mode: Mode,
    meter: SimConfig,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    speed: Speed,
    clock: Option<HostClock>,
    every: Option<Duration>,
}

impl Plan {
    fn new(mode: Mode, day: NaiveDate, oldest: Option<&Oldest>) -> Result<Plan> {
        let midnight = |d: NaiveDate| {
            tic_rec::store::midnight(d)
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .with_context(|| format!("no local midnight on {d}"))
        };
        let start = midnight(day)?;
        let next = day.succ_opt().context("no day after the demo's")?;
        // The day's own length: 23 or 25 hours on DST days.
        let until = midnight(next)?;
        let mut cfg = SimConfig::new(mode, Contract::HcHp, day.and_time(NaiveTime::MIN));
        // A load profile of its own for every date.
        cfg.seed = u64::try_from(chrono::Datelike::num_days_from_ce(&day)).unwrap_or(1);
        let (interval, baud) = match mode {
            Mode::Standard => (Duration::minutes(1), 9600.0),
            Mode::Historique => (Duration::seconds(HISTORIQUE_INTERVAL_S), 1200.0),
        };
        cfg.frame_interval = Some(interval);
        let speed = Speed::Factor(BYTES_PER_SEC / (baud / 10.0));
        if let Some(o) = oldest {
            match o.mode() {
                Some(m) if m != mode => bail!(
                    "--demo: the oldest recorded day ({}) is a {} meter's; record the demo in {} mode \
                     (--mode {}) or into another --data-dir",
                    o.day,
                    m.name(),
                    m.name(),
                    m.name()
                ),
                Some(_) => {
                    cfg.address = o
                        .get(if mode == Mode::Standard { "ADSC" } else { "ADCO" })
                        .map(str::to_owned);
                    let end = |label: &str| o.get(label).and_then(|v| v.parse::<u64>().ok());
                    cfg = ending_at(cfg, until, end).with_context(|| {
                        format!("--demo: cannot record the day before {}", o.day)
                    })?;
                }
                None => {}
            }
        }
        let (clock, every) = match mode {
            Mode::Standard => (None, None),
            Mode::Historique => {
                let len = frame_bytes(&cfg)?;
                (
                    Some(HostClock::Replay {
                        // A frame's bytes last one interval at `len` "baud" (10 bits a
                        // byte): frame k ends at start + (k + 1) intervals, so its record is
                        // stamped with frame k's meter time.
                        start: start - interval,
                        baud: len,
                    }),
                    Some(Duration::minutes(1)),
                )
            }
        };
        Ok(Plan {
            mode,
            meter: cfg,
            start,
            until,
            speed,
            clock,
            every,
        })
    }

    fn describe(&self) -> &'static str {
        match self.mode {
            Mode::Standard => "standard-mode HC/HP meter, one frame per meter minute",
            Mode::Historique => {
                "historique-mode HC/HP meter, one frame per 10 s of meter time (stamped by the \
                 demo's clock: historique frames carry no date), one record a minute"
            }
        }
    }

    /// Refuses `--labels` the demo meter never sends (the recorder would write nothing).
    fn check_labels(&self, labels: &[String]) -> Result<()> {
        let frame = Meter::new(self.meter.clone())?.next_frame(&mut Vec::new());
        let missing: Vec<&str> = labels
            .iter()
            .map(String::as_str)
            .filter(|l| !frame.groups.iter().any(|g| g.label == *l))
            .collect();
        if !missing.is_empty() {
            let sent: Vec<&str> = frame.groups.iter().map(|g| g.label).collect();
            bail!(
                "--labels {}: the demo's {} meter never sends {} (it sends {})",
                labels.join(","),
                self.mode.name(),
                missing.join(", "),
                sent.join(" ")
            );
        }
        Ok(())
    }
}

/// The length of the meter's frames, in bytes (constant in historique mode: every value has
/// a fixed width).
fn frame_bytes(cfg: &SimConfig) -> Result<u32> {
    let mut m = Meter::new(cfg.clone())?;
    let mut buf = Vec::new();
    m.next_frame(&mut buf);
    u32::try_from(buf.len()).context("frame length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// A demo day lasts its own length; historique records get their meter time.
    #[test]
    fn the_plan_follows_the_day_and_the_mode() {
        for (day, hours) in [("2026-03-29", 23), ("2026-06-01", 24), ("2026-10-25", 25)] {
            for mode in [Mode::Standard, Mode::Historique] {
                let p = Plan::new(mode, d(day), None).unwrap();
                assert_eq!((p.until - p.start).num_hours(), hours, "{day} {mode:?}");
                match (mode, p.clock) {
                    (Mode::Standard, None) => assert_eq!(p.every, None),
                    (Mode::Historique, Some(HostClock::Replay { start, baud })) => {
                        assert_eq!(p.start - start, Duration::seconds(HISTORIQUE_INTERVAL_S));
                        assert_eq!(baud, frame_bytes(&p.meter).unwrap());
                        assert_eq!(p.every, Some(Duration::minutes(1)));
                    }
                    other => panic!("{mode:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn the_day_is_yesterday_or_the_one_before_the_oldest() {
        let today = d("2026-12-01");
        for (oldest, want) in [
            (None, "2026-11-30"),
            (Some("2026-11-30"), "2026-11-29"),
            (Some("2026-06-01"), "2026-05-31"),
            // A recording that began today, or oddly in the future.
            (Some("2026-12-01"), "2026-11-30"),
            (Some("2027-01-01"), "2026-11-30"),
        ] {
            assert_eq!(demo_day(today, oldest.map(d)), d(want), "{oldest:?}");
        }
    }
}
