//! The recording loop: a source's bytes → decoder → recorder → store, with the recovery
//! rules of a service that must run for years.
//!
//! - Serial ports are opened 7E1 raw at the mode's baud rate. With no mode given, 9600 and
//!   1200 baud are tried in turn until frames verify; the rate found is reported.
//! - A port that fails to open, errors or hangs up (adapter unplugged, pseudo-terminal
//!   closed) is reopened after a capped backoff (1 s doubling to 30 s); the recorder never
//!   exits on such an error and resumes the same day's file.
//! - With no valid frame for a minute it reports why that may be, with its counts (and
//!   again every ten minutes while it lasts; a repeated port error likewise).
//! - The stop flag (SIGINT/SIGTERM in the binary) is checked between reads (at most 200 ms
//!   apart); the loop then fsyncs and returns.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};

use crate::record::{Outcome, Record, RecordConfig, RecordStats, Recorder};
use crate::store::{Appended, Resumed, Store, StoreError};
use crate::tic::{Config, Decoder, Mode, Stats};

/// How long to wait for a verified frame at a baud rate before trying the other one.
fn probe_time(baud: u32) -> Duration {
    if baud >= 9600 {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(6)
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);
const SILENCE: Duration = Duration::from_secs(60);
/// A still-silent line or a repeated error is logged again this often.
const REPEAT_LOG: Duration = Duration::from_secs(600);
const READ_TIMEOUT: Duration = Duration::from_millis(200);

/// A capture error that stops the recorder (the data directory is unusable).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A replay input could not be read.
    #[error("cannot read {name} at byte {offset}: {source}")]
    Replay {
        /// The input's name.
        name: String,
        /// Bytes read before the error.
        offset: u64,
        /// The I/O error.
        source: io::Error,
    },
}

/// Running counts, for status lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// The decoder's counts.
    pub decoder: Stats,
    /// The recorder's counts.
    pub recorder: RecordStats,
    /// Rows written.
    pub written: u64,
    /// Time of the last row written.
    pub last_time: Option<DateTime<FixedOffset>>,
    /// Power of the last row written, VA.
    pub last_power: Option<u32>,
}

/// What the loop reports to the binary (which prints it for humans).
#[derive(Debug)]
pub enum Event<'a> {
    /// A port was opened.
    PortOpened {
        /// Its path.
        path: &'a str,
        /// Baud rate.
        baud: u32,
    },
    /// Frames verify at this rate.
    ModeFound {
        /// The mode of the frames.
        mode: Mode,
        /// Baud rate.
        baud: u32,
    },
    /// The port failed; it will be reopened.
    PortError {
        /// Its path.
        path: &'a str,
        /// What failed.
        error: String,
        /// When it is retried.
        retry_in: Duration,
    },
    /// No valid frame for a while.
    Silent {
        /// Its path.
        path: &'a str,
        /// For how long.
        for_secs: u64,
        /// Counts since the last valid frame (or the start).
        since_last_valid: Stats,
        /// What may be wrong.
        hint: &'static str,
    },
    /// A record file was opened.
    FileOpened(&'a Resumed),
    /// A row was written.
    Recorded(&'a Record, &'a Counters),
    /// About once a second.
    Tick(&'a Counters),
}

/// Receives [`Event`]s.
pub trait Observer {
    /// One event.
    fn event(&mut self, event: Event<'_>);
}

/// Where the store goes and how.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Data directory.
    pub dir: PathBuf,
    /// Fsync at least this often.
    pub fsync_interval: Duration,
    /// Keep raw bytes in `.tic` files.
    pub raw: bool,
}

/// Where historique records (which have no DATE) get their time.
#[derive(Clone, Copy, Debug, Default)]
pub enum HostClock {
    /// The host's clock at decoding.
    #[default]
    System,
    /// A replay clock: `start` plus the air time of the bytes before the frame's end at
    /// `baud` (10 bits a byte), so a replayed historique capture keeps its cadence.
    Replay {
        /// Time of the capture's first byte.
        start: DateTime<Utc>,
        /// Line speed the capture was made at.
        baud: u32,
    },
}

impl HostClock {
    fn now(&self, stream_offset: u64) -> DateTime<Utc> {
        match *self {
            HostClock::System => Utc::now(),
            HostClock::Replay { start, baud } => {
                let ms = stream_offset.saturating_mul(10_000) / u64::from(baud.max(1));
                start + chrono::Duration::milliseconds(ms as i64)
            }
        }
    }
}

/// Bytes to records to files.
pub struct Capture<'o> {
    clock: HostClock,
    silence: Duration,
    decoder: Decoder,
    recorder: Recorder,
    store: Option<Store>,
    store_cfg: StoreConfig,
    raw_pending: Vec<u8>,
    counters: Counters,
    good_frames: u64,
    observer: &'o mut dyn Observer,
    last_tick: Instant,
}

impl<'o> Capture<'o> {
    /// A capture with a decoder forced to `mode` (or detecting it).
    pub fn new(
        mode: Option<Mode>,
        record: RecordConfig,
        store: StoreConfig,
        observer: &'o mut dyn Observer,
    ) -> Capture<'o> {
        Capture {
            clock: HostClock::System,
            silence: SILENCE,
            decoder: Decoder::new(Config {
                mode,
                ..Config::default()
            }),
            recorder: Recorder::new(record),
            store: None,
            store_cfg: store,
            raw_pending: Vec::new(),
            counters: Counters::default(),
            good_frames: 0,
            observer,
            last_tick: Instant::now(),
        }
    }

    /// Stamps historique records with this clock instead of the host's.
    pub fn with_clock(mut self, clock: HostClock) -> Self {
        self.clock = clock;
        self
    }

    /// Reports a silent line after this long without a valid frame (default one minute).
    pub fn with_silence(mut self, silence: Duration) -> Self {
        self.silence = silence;
        self
    }

    /// The counts so far.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        c.decoder = *self.decoder.stats();
        c.recorder = *self.recorder.stats();
        c
    }

    /// Feeds bytes read from the source.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        let mut rest = bytes;
        // With --raw, each frame's bytes go to the raw file of that frame's record day: they
        // are kept after the frame is recorded (which may rotate the day).
        let mut raw_from = 0;
        while !rest.is_empty() {
            let (frame, n) = self.decoder.decode(rest);
            rest = &rest[n..];
            let Some(frame) = frame else { continue };
            let ok = frame.groups().len();
            if ok > 0 && ok > frame.bad_count() {
                self.good_frames += 1;
            }
            let now = self.clock.now(frame.offset + frame.len() as u64 + 2);
            let outcome = self.recorder.accept(&frame, now);
            if let Outcome::Record {
                record,
                columns_changed,
            } = outcome
            {
                self.write(record, columns_changed)?;
            }
            let upto = bytes.len() - rest.len();
            self.keep_raw(&bytes[raw_from..upto])?;
            raw_from = upto;
        }
        self.keep_raw(&bytes[raw_from..])?;
        self.tick()
    }

    fn keep_raw(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        if !self.store_cfg.raw || bytes.is_empty() {
            return Ok(());
        }
        match self.store.as_mut() {
            Some(s) => s.write_raw(bytes)?,
            None => {
                // Before the first record: keep the last 64 KiB for the first day's file.
                self.raw_pending.extend_from_slice(bytes);
                let excess = self.raw_pending.len().saturating_sub(64 * 1024);
                self.raw_pending.drain(..excess);
            }
        }
        Ok(())
    }

    /// End of input: completes a text dump's last frame, fsyncs.
    pub fn finish(&mut self) -> Result<(), CaptureError> {
        if self.decoder.finish().is_some() {
            let frame = self.decoder.last_frame().expect("finish returned a frame");
            let now = self.clock.now(frame.offset + frame.len() as u64);
            if let Outcome::Record {
                record,
                columns_changed,
            } = self.recorder.accept(&frame, now)
            {
                self.write(record, columns_changed)?;
            }
        }
        if let Some(s) = self.store.as_mut() {
            s.sync()?;
        }
        let c = self.counters();
        self.observer.event(Event::Tick(&c));
        Ok(())
    }

    fn write(&mut self, record: Record, columns_changed: bool) -> Result<(), CaptureError> {
        if columns_changed || self.store.is_none() {
            if let Some(old) = self.store.take() {
                old.close()?;
            }
            let columns = self.recorder.columns().expect("a record has columns");
            let mut store = Store::new(
                &self.store_cfg.dir,
                &columns,
                self.store_cfg.fsync_interval,
                self.store_cfg.raw,
            );
            if !self.raw_pending.is_empty() {
                store.write_raw(&std::mem::take(&mut self.raw_pending))?;
            }
            self.store = Some(store);
        }
        let store = self.store.as_mut().expect("opened above");
        let cells: Vec<&str> = record.cells.iter().map(String::as_str).collect();
        let appended = store.append(record.time, &cells)?;
        for e in store.take_events() {
            self.observer.event(Event::FileOpened(&e));
        }
        if appended == Appended::Written {
            self.counters.written += 1;
            self.counters.last_time = Some(record.time);
            self.counters.last_power = record.power_va;
            let c = self.counters();
            self.observer.event(Event::Recorded(&record, &c));
        }
        Ok(())
    }

    /// Fsyncs on the store's timer and reports a tick about once a second.
    pub fn tick(&mut self) -> Result<(), CaptureError> {
        if let Some(s) = self.store.as_mut() {
            s.tick()?;
        }
        if self.last_tick.elapsed() >= Duration::from_secs(1) {
            self.last_tick = Instant::now();
            let c = self.counters();
            self.observer.event(Event::Tick(&c));
        }
        Ok(())
    }

    /// Records a whole input (a replay file or stdin) to its end.
    pub fn run_reader(
        &mut self,
        mut input: impl Read,
        name: &str,
        stop: &AtomicBool,
    ) -> Result<(), CaptureError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(CaptureError::Replay {
                        name: name.to_owned(),
                        offset,
                        source,
                    })
                }
            };
            offset += n as u64;
            self.feed(&buf[..n])?;
        }
        self.finish()
    }

    /// Records a serial port until `stop` is set, reopening it whenever it fails.
    pub fn run_port(
        &mut self,
        path: &str,
        mode: Option<Mode>,
        stop: &AtomicBool,
    ) -> Result<(), CaptureError> {
        let bauds: &[u32] = match mode {
            Some(Mode::Standard) => &[9600],
            Some(Mode::Historique) => &[1200],
            None => &[9600, 1200],
        };
        let mut baud_i = 0;
        let mut locked = false;
        let mut backoff = Duration::from_secs(1);
        let mut buf = [0u8; 4096];
        // Silence is measured from the last valid frame, across reopens and baud probes.
        let mut last_good = Instant::now();
        let mut stats_at_good = *self.decoder.stats();
        let mut warn_after = self.silence;
        // Log lines stay few: an open is announced after a failure (not at each baud probe),
        // and a repeated error at most every ten minutes.
        let mut announce_open = true;
        let mut errors = ErrorLog::default();
        while !stop.load(Ordering::Relaxed) {
            let baud = bauds[baud_i];
            let mut port = match open_port(path, baud) {
                Ok(p) => p,
                Err(e) => {
                    errors.report(self.observer, path, e.to_string(), backoff);
                    sleep_unless(stop, backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            if announce_open {
                self.observer.event(Event::PortOpened { path, baud });
                announce_open = false;
            }
            let opened = Instant::now();
            let mut good_seen = self.good_frames;
            let next = loop {
                if stop.load(Ordering::Relaxed) {
                    break Next::Stop;
                }
                match port.read(&mut buf) {
                    Ok(0) => {
                        break Next::Failed("the port hung up (adapter unplugged?)".to_owned())
                    }
                    Ok(n) => self.feed(&buf[..n])?,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                                | io::ErrorKind::WouldBlock
                        ) =>
                    {
                        self.tick()?
                    }
                    Err(e) => break Next::Failed(e.to_string()),
                }
                if self.good_frames > good_seen {
                    good_seen = self.good_frames;
                    last_good = Instant::now();
                    stats_at_good = *self.decoder.stats();
                    warn_after = self.silence;
                    backoff = Duration::from_secs(1);
                    errors = ErrorLog::default();
                    if !locked {
                        locked = true;
                        let mode = self.decoder.detected_mode().unwrap_or(Mode::Standard);
                        self.observer.event(Event::ModeFound { mode, baud });
                    }
                }
                if !locked && bauds.len() > 1 && opened.elapsed() >= probe_time(baud) {
                    // No verified frame at this rate: try the other one.
                    baud_i = (baud_i + 1) % bauds.len();
                    break Next::OtherBaud;
                }
                if last_good.elapsed() >= warn_after {
                    warn_after += REPEAT_LOG;
                    let since = diff(self.decoder.stats(), &stats_at_good);
                    self.observer.event(Event::Silent {
                        path,
                        for_secs: last_good.elapsed().as_secs(),
                        since_last_valid: since,
                        hint: hint(&since, self.recorder.stats()),
                    });
                    if mode.is_none() {
                        // The meter's mode may have been changed remotely: probe again.
                        locked = false;
                    }
                }
            };
            drop(port);
            match next {
                Next::Stop => break,
                Next::OtherBaud => continue,
                Next::Failed(error) => {
                    errors.report(self.observer, path, error, backoff);
                    announce_open = true;
                    sleep_unless(stop, backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.finish()
    }
}

/// Reports port errors, but the same one at most every [`REPEAT_LOG`].
#[derive(Default)]
struct ErrorLog {
    last: Option<(String, Instant)>,
}

impl ErrorLog {
    fn report(
        &mut self,
        observer: &mut dyn Observer,
        path: &str,
        error: String,
        retry_in: Duration,
    ) {
        let repeat = self
            .last
            .as_ref()
            .is_some_and(|(e, at)| *e == error && at.elapsed() < REPEAT_LOG);
        if !repeat {
            observer.event(Event::PortError {
                path,
                error: error.clone(),
                retry_in,
            });
            self.last = Some((error, Instant::now()));
        }
    }
}

/// What ends a spell on an open port.
enum Next {
    Stop,
    OtherBaud,
    Failed(String),
}

fn open_port(path: &str, baud: u32) -> serialport::Result<serialport::TTYPort> {
    serialport::new(path, baud)
        .data_bits(serialport::DataBits::Seven)
        .parity(serialport::Parity::Even)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(READ_TIMEOUT)
        .open_native()
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(
            Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())),
        );
    }
}

fn diff(now: &Stats, then: &Stats) -> Stats {
    Stats {
        bytes: now.bytes - then.bytes,
        bytes_skipped: now.bytes_skipped - then.bytes_skipped,
        frames: now.frames - then.frames,
        frames_cut: now.frames_cut - then.frames_cut,
        frames_oversize: now.frames_oversize - then.frames_oversize,
        groups_ok: now.groups_ok - then.groups_ok,
        groups_bad: now.groups_bad - then.groups_bad,
        groups_bad_horodate: now.groups_bad_horodate - then.groups_bad_horodate,
        frames_standard: now.frames_standard - then.frames_standard,
        frames_historique: now.frames_historique - then.frames_historique,
    }
}

/// Why no valid frame may have arrived, from what was seen.
fn hint(s: &Stats, r: &RecordStats) -> &'static str {
    if s.bytes == 0 {
        "no byte at all: wrong port, adapter not powered, or not wired to the meter's I1/I2 terminals"
    } else if s.frames == 0 {
        "bytes but no complete frame: wrong baud rate (the meter's TIC mode?), or a tty not in raw mode"
    } else if s.groups_ok <= s.groups_bad {
        "frames whose checksums fail: wrong mode or baud rate, or a noisy line (check the wiring)"
    } else if r.incomplete > 0 {
        "frames verify but lack a wanted label: check --labels"
    } else {
        "frames arrive but none verified recently: a noisy line?"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_hints_follow_the_counts() {
        let r = RecordStats::default();
        let mut s = Stats::default();
        assert!(hint(&s, &r).contains("wrong port"));
        s.bytes = 5000;
        assert!(hint(&s, &r).contains("wrong baud rate"));
        s.frames = 3;
        s.groups_bad = 30;
        assert!(hint(&s, &r).contains("checksums fail"));
        s.groups_ok = 100;
        let r = RecordStats {
            incomplete: 3,
            ..RecordStats::default()
        };
        assert!(hint(&s, &r).contains("--labels"));
    }

    #[test]
    fn replay_clock_counts_air_time() {
        let start = DateTime::parse_from_rfc3339("2024-04-10T10:00:00Z")
            .unwrap()
            .to_utc();
        let c = HostClock::Replay { start, baud: 1200 };
        // 120 bytes a second at 1200 baud, 10 bits a byte.
        assert_eq!((c.now(240) - start).num_milliseconds(), 2000);
    }
}
