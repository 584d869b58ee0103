//! The demo (`tic-rec record --demo`): a simulated meter on a pseudo-terminal inside the
//! process, recorded through the real serial-port path ([`Capture::run_port`]).
//!
//! ## Design
//! - **Three steps.** [`Demo::plan`] reads the data directory (through the store) and checks
//!   the settings, creating nothing; the caller then creates the data directory and takes its
//!   lock; [`Demo::open`] opens the pseudo-terminal, whose path the caller can show; and
//!   [`OpenDemo::run`] records the day, reporting to the caller's observer (the status line,
//!   and whatever else it adds: the dashboard's live view, an MQTT link).
//! - **Two threads, one [`Stop`].** The meter serves frames on the pty's master; the
//!   recorder (the calling thread) reads the other end. The stop is requested by a signal
//!   (the caller's), and ended by the meter once its day is served and read or by the
//!   recorder when it fails (an unwritable data directory, a full disk), so neither side
//!   ever waits for the other: the meter's writes give up within 100 ms of the stop, the
//!   recorder's reads within 200 ms, and the run does not wait for a meter thread that is
//!   still writing.
//! - **The day.** Yesterday, or the day before the oldest recorded day. It ends where the
//!   oldest day's first record begins: the same meter address, EAST and every EASF/EASD
//!   (HCHC/HCHP in historique mode), found by running the model for the day first
//!   ([`ending_at`]), so an export over both days sees one meter whose indexes only grow.
//!   The load profile is seeded from the date: each day differs.
//! - **Time.** Standard frames carry the meter's DATE, one frame per meter minute.
//!   Historique frames carry no date, so the recorder needs a host clock; the real clock
//!   would stamp a whole day's frames within the few seconds the demo lasts. The demo's
//!   clock is a replay clock that makes each frame's bytes last exactly the meter time
//!   between frames (10 s): the records then fall at the meter's own times across the
//!   day, and the recorder keeps one a minute unless `every` says otherwise.
//! - **No byte lost.** Unlike a real meter (and [`Line`](super::Line)), the demo's line
//!   waits for the recorder rather than drop bytes (the historique clock counts them), and
//!   the meter starts only once the recorder has opened the port.
//! - **No waiting for a disk.** A demo that cannot write ends, saying why (a service holds
//!   the rows and waits for the disk).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, Utc};

use super::{ending_at, serve, Contract, Meter, Pty, SimConfig, SimError, Speed};
use crate::capture::{Capture, CaptureError, Event, HostClock, Observer, Stop, StoreConfig};
use crate::record::RecordConfig;
use crate::store::{Catalog, Columns, Next, ReadError, Resolved, StoreError};
use crate::tic::Mode;

/// What the demo records.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// The simulated meter's mode.
    pub mode: Mode,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The labels to record (checked against what the demo meter sends); `None`: the
    /// meter shape's.
    pub labels: Option<Vec<String>>,
    /// Keep one record an interval (historique: one a minute when not given).
    pub every: Option<Duration>,
    /// Fsync the files at least this often.
    pub fsync_interval: StdDuration,
    /// Also keep the raw bytes.
    pub raw: bool,
    /// Report a silent line after this long.
    pub silence: StdDuration,
}

/// Why the demo cannot run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The data directory's days cannot be listed.
    #[error("cannot read the recorded days")]
    Days(#[source] ReadError),
    /// The oldest recorded day cannot be read.
    #[error("cannot read the recorded day {day}")]
    Day {
        /// The day.
        day: NaiveDate,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// The oldest recorded day is another mode's meter.
    #[error(
        "--demo: the oldest recorded day ({day}) is a {mode} meter's; record the demo in {mode} \
         mode (--mode {mode}) or into another --data-dir"
    )]
    OtherMode {
        /// The oldest recorded day.
        day: NaiveDate,
        /// Its meter's mode.
        mode: &'static str,
    },
    /// The meter cannot end where the oldest recorded day begins.
    #[error("--demo: cannot record the day before {day}")]
    Continue {
        /// The oldest recorded day.
        day: NaiveDate,
        /// Why.
        #[source]
        source: SimError,
    },
    /// Labels the demo meter never sends (the recorder would write nothing).
    #[error("--labels {asked}: the demo's {mode} meter never sends {missing} (it sends {sent})")]
    Labels {
        /// The labels asked, comma-separated.
        asked: String,
        /// The meter's mode.
        mode: &'static str,
        /// Those it never sends.
        missing: String,
        /// Those it sends.
        sent: String,
    },
    /// The day has no local midnight (never in Europe/Paris).
    #[error("no local midnight on {0}")]
    Midnight(NaiveDate),
    /// The simulated meter cannot start.
    #[error("cannot start the simulated meter")]
    Meter(#[source] SimError),
    /// The pseudo-terminal cannot be made.
    #[error("cannot open the demo's pseudo-terminal")]
    Pty(#[source] io::Error),
    /// The pseudo-terminal's write timeout cannot be set.
    #[error("cannot set the write timeout of the demo's pseudo-terminal")]
    PtyTimeout(#[source] serialport::Error),
    /// The meter's thread cannot be started.
    #[error("cannot start the simulated meter's thread")]
    Thread(#[source] io::Error),
    /// The recorder stopped with an error.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The records cannot be written (a copy of the store's error, as it said it).
    #[error("the demo cannot write its records")]
    CannotWrite(#[source] StoreError),
    /// The simulated meter failed.
    #[error("the simulated meter failed")]
    MeterFailed(#[source] io::Error),
    /// The simulated meter's thread panicked.
    #[error("the simulated meter's thread panicked")]
    MeterPanicked,
    /// The simulated meter did not stop in time.
    #[error("the simulated meter did not stop")]
    MeterStuck,
}

/// How a demo run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The whole day was served and recorded: this many frames.
    Day {
        /// Frames the meter sent.
        frames: u64,
    },
    /// A stop request (a signal) ended it first.
    Stopped,
}

/// The pace of the demo's line, in bytes a second: 300 × a standard line (9600 baud, 10
/// bits a byte), a day of one-minute standard frames in about 4 s.
const BYTES_PER_SEC: f64 = 300.0 * 960.0;
/// The historique meter's time between frames: the demo's clock makes a frame's bytes
/// last exactly this.
const HISTORIQUE_INTERVAL_S: i64 = 10;
/// How long the meter waits for the recorder to open the port.
const OPEN_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// The meter's write timeout: how soon it notices the stop when nobody reads.
const WRITE_TIMEOUT: StdDuration = StdDuration::from_millis(100);
/// How long the run waits for the meter's thread once the recorder has stopped.
const JOIN_TIMEOUT: StdDuration = StdDuration::from_secs(2);

/// A planned demo (see the module docs).
pub struct Demo {
    config: DemoConfig,
    day: NaiveDate,
    /// The oldest recorded day, which the demo's day ends into.
    continues: Option<NaiveDate>,
    plan: Plan,
}

impl Demo {
    /// Plans the demo over `config.data_dir` on `today` (the host's local date): reads the
    /// oldest recorded day through the store, picks the day, checks the labels. Creates
    /// nothing.
    pub fn plan(config: DemoConfig, today: NaiveDate) -> Result<Demo, DemoError> {
        let oldest = oldest_record(&config)?;
        let day = demo_day(today, oldest.as_ref().map(|o| o.day));
        let plan = Plan::new(config.mode, day, oldest.as_ref())?;
        if let Some(labels) = &config.labels {
            plan.check_labels(labels)?;
        }
        Ok(Demo {
            config,
            day,
            continues: oldest.map(|o| o.day),
            plan,
        })
    }

    /// The day it records.
    pub fn day(&self) -> NaiveDate {
        self.day
    }

    /// The oldest recorded day, whose first record the demo's day ends at, if any.
    pub fn continues(&self) -> Option<NaiveDate> {
        self.continues
    }

    /// The simulated meter, in words.
    pub fn describe(&self) -> &'static str {
        match self.plan.mode {
            Mode::Standard => "standard-mode HC/HP meter, one frame per meter minute",
            Mode::Historique => {
                "historique-mode HC/HP meter, one frame per 10 s of meter time (stamped by the \
                 demo's clock: historique frames carry no date), one record a minute"
            }
        }
    }

    /// Opens the pseudo-terminal the meter will serve (the data directory must exist by
    /// now).
    pub fn open(self) -> Result<OpenDemo, DemoError> {
        let mut pty = Pty::open().map_err(DemoError::Pty)?;
        serialport::SerialPort::set_timeout(&mut pty.master, WRITE_TIMEOUT)
            .map_err(DemoError::PtyTimeout)?;
        Ok(OpenDemo { demo: self, pty })
    }
}

/// A demo whose pseudo-terminal is open.
pub struct OpenDemo {
    demo: Demo,
    pty: Pty,
}

impl OpenDemo {
    /// The path the recorder reads, e.g. `/dev/pts/3`.
    pub fn path(&self) -> &str {
        &self.pty.path
    }

    /// Serves the day on a thread and records it into the data directory, reporting every
    /// event to `observer`, until the day is recorded, `stop` is requested (then
    /// [`Ended::Stopped`]) or the records cannot be written. `stop` is ended (not requested)
    /// when the run ends by itself.
    pub fn run(self, observer: &mut dyn Observer, stop: &Arc<Stop>) -> Result<Ended, DemoError> {
        let OpenDemo { demo, pty } = self;
        let plan = &demo.plan;
        let path = pty.path.clone();
        let opened = Arc::new(AtomicBool::new(false));
        let meter = Meter::new(plan.meter.clone()).map_err(DemoError::Meter)?;
        let sim = {
            let (stop, opened) = (Arc::clone(stop), Arc::clone(&opened));
            let (day_len, speed) = (plan.until - plan.start, plan.speed);
            std::thread::Builder::new()
                .name("demo-meter".into())
                .spawn(move || serve_day(meter, pty, day_len, speed, &stop, &opened))
                .map_err(DemoError::Thread)?
        };
        let mut watch = Watch {
            inner: observer,
            opened: &opened,
            stop,
            failed: None,
        };
        let store = StoreConfig {
            dir: demo.config.data_dir.clone(),
            fsync_interval: demo.config.fsync_interval,
            raw: demo.config.raw,
        };
        let record = RecordConfig {
            labels: demo.config.labels.clone(),
            every: demo.config.every.or(plan.every),
        };
        let mut capture = Capture::new(Some(plan.mode), record, store, &mut watch)
            .with_silence(demo.config.silence)
            .with_stop_timeout(StdDuration::ZERO);
        if let Some(clock) = plan.clock {
            capture = capture.with_clock(clock);
        }
        let result = capture.run_port(&path, Some(plan.mode), stop);
        drop(capture);
        // Whatever ended the recorder ends the meter.
        stop.end();
        let failed = watch.failed.take();
        // The meter sees the stop within its write timeout; never wait long for it.
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while !sim.is_finished() && Instant::now() < deadline {
            std::thread::sleep(StdDuration::from_millis(10));
        }
        let served = sim.is_finished().then(|| sim.join());
        result?;
        if let Some(error) = failed {
            return Err(DemoError::CannotWrite(error));
        }
        if stop.requests() > 0 {
            return Ok(Ended::Stopped);
        }
        match served {
            Some(Ok(Ok((frames, _pty)))) => Ok(Ended::Day { frames }),
            Some(Ok(Err(e))) => Err(DemoError::MeterFailed(e)),
            Some(Err(_)) => Err(DemoError::MeterPanicked),
            None => Err(DemoError::MeterStuck),
        }
    }
}

/// The meter's thread: waits for the recorder to open the port, serves the day, waits for
/// the recorder to read it, then ends the stop. Hands the pseudo-terminal back, so that it
/// outlives the recorder's last read.
fn serve_day(
    mut meter: Meter,
    mut pty: Pty,
    day: Duration,
    speed: Speed,
    stop: &Stop,
    opened: &AtomicBool,
) -> io::Result<(u64, Pty)> {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while !opened.load(Ordering::Relaxed) {
        if stop.requested() {
            return Ok((0, pty));
        }
        if Instant::now() > deadline {
            stop.end();
            return Err(io::Error::other(
                "the recorder did not open the demo's port",
            ));
        }
        std::thread::sleep(StdDuration::from_millis(10));
    }
    let mut line = DemoLine {
        port: &mut pty.master,
        stop,
    };
    let n = match serve(&mut meter, Some(day), None, speed, &mut line) {
        Ok(n) => n,
        Err(_) if stop.requested() => return Ok((meter.frames(), pty)),
        Err(e) => {
            stop.end();
            return Err(e);
        }
    };
    // Bytes in flight through the terminal may not show as unread at once: look twice.
    pty.drain();
    std::thread::sleep(StdDuration::from_millis(200));
    pty.drain();
    stop.end();
    Ok((n, pty))
}

/// The demo's side of the line: waits for the reader (no byte dropped) until the stop.
struct DemoLine<'a> {
    port: &'a mut serialport::TTYPort,
    stop: &'a Stop,
}

impl Write for DemoLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            if self.stop.requested() {
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

/// Passes events on, says when the recorder has opened the port, and ends the demo when
/// its records cannot be written.
struct Watch<'a> {
    inner: &'a mut dyn Observer,
    opened: &'a AtomicBool,
    stop: &'a Stop,
    failed: Option<StoreError>,
}

impl Observer for Watch<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::PortOpened { .. } => self.opened.store(true, Ordering::Relaxed),
            Event::WriteStalled { error, .. } => {
                self.failed.get_or_insert_with(|| error.copied());
                self.stop.end();
                return;
            }
            _ => {}
        }
        self.inner.event(event);
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
        use crate::tic::labels::{label, Kind};
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
fn oldest_record(config: &DemoConfig) -> Result<Option<Oldest>, DemoError> {
    let catalog = match Catalog::open(&config.data_dir) {
        Ok(c) => c,
        Err(ReadError::Dir { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(DemoError::Days(e)),
    };
    for (day, files) in catalog.all() {
        let context = |source| DemoError::Day { day, source };
        let mut d = Resolved::new(day, files)
            .and_then(|r| r.open(Columns::All))
            .map_err(context)?;
        while let Some(next) = d.advance().map_err(context)? {
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
    fn new(mode: Mode, day: NaiveDate, oldest: Option<&Oldest>) -> Result<Plan, DemoError> {
        let midnight = |d: NaiveDate| {
            crate::store::midnight(d)
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .ok_or(DemoError::Midnight(d))
        };
        let start = midnight(day)?;
        let next = day.succ_opt().ok_or(DemoError::Midnight(day))?;
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
                Some(m) if m != mode => {
                    return Err(DemoError::OtherMode {
                        day: o.day,
                        mode: m.name(),
                    })
                }
                Some(_) => {
                    cfg.address = o
                        .get(if mode == Mode::Standard {
                            "ADSC"
                        } else {
                            "ADCO"
                        })
                        .map(str::to_owned);
                    let end = |label: &str| o.get(label).and_then(|v| v.parse::<u64>().ok());
                    cfg = ending_at(cfg, until, end)
                        .map_err(|source| DemoError::Continue { day: o.day, source })?;
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

    /// Refuses labels the demo meter never sends (the recorder would write nothing).
    fn check_labels(&self, labels: &[String]) -> Result<(), DemoError> {
        let frame = Meter::new(self.meter.clone())
            .map_err(DemoError::Meter)?
            .next_frame(&mut Vec::new());
        let missing: Vec<&str> = labels
            .iter()
            .map(String::as_str)
            .filter(|l| !frame.groups.iter().any(|g| g.label == *l))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let sent: Vec<&str> = frame.groups.iter().map(|g| g.label).collect();
        Err(DemoError::Labels {
            asked: labels.join(","),
            mode: self.mode.name(),
            missing: missing.join(", "),
            sent: sent.join(" "),
        })
    }
}

/// The length of the meter's frames, in bytes (constant in historique mode: every value has
/// a fixed width).
fn frame_bytes(cfg: &SimConfig) -> Result<u32, DemoError> {
    let mut m = Meter::new(cfg.clone()).map_err(DemoError::Meter)?;
    let mut buf = Vec::new();
    m.next_frame(&mut buf);
    // A frame is at most a few hundred bytes.
    Ok(u32::try_from(buf.len()).unwrap_or(u32::MAX))
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

    /// Planning reads and checks, and creates nothing.
    #[test]
    fn planning_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("absent");
        let config = |labels: Option<&str>| DemoConfig {
            mode: Mode::Standard,
            data_dir: data.clone(),
            labels: labels.map(|l| l.split(',').map(str::to_owned).collect()),
            every: None,
            fsync_interval: StdDuration::from_secs(10),
            raw: false,
            silence: StdDuration::from_secs(60),
        };
        let demo = Demo::plan(config(None), d("2026-06-02")).unwrap();
        assert_eq!(demo.day(), d("2026-06-01"));
        assert_eq!(demo.continues(), None);
        match Demo::plan(config(Some("EAST,HCHC")), d("2026-06-02")) {
            Err(DemoError::Labels { missing, .. }) => assert_eq!(missing, "HCHC"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("HCHC accepted"),
        }
        assert!(!data.exists());
    }
}
