//! The recording loop: a source's bytes → decoder → recorder → store, with the recovery
//! rules of a service that must run for years.
//!
//! - Serial ports: opened 7E1 raw at the mode's baud rate, supervised by [`port`](super::port):
//!   a port that is absent, fails or hangs up is opened again every second, for ever, and
//!   the log lines back off instead; with no mode given 9600 and 1200 baud are tried in turn.
//!   A path that exists but is not a serial port (a regular file, a directory) is a
//!   configuration error: [`CaptureError::NotASerialPort`].
//! - The data directory: any I/O error (disk full, failing card, read-only remount) is an
//!   outage, not an exit: the store holds rows in memory and retries (see [`crate::store`]).
//! - Time: every record's time goes through the recorder's timeline guard
//!   ([`crate::record::timeline`]); confirmed jumps and dropped glitches are reported.
//! - Never a silent stall: when frames verify but no record has been made for a minute,
//!   [`Event::Stalled`] says why (again every ten minutes while it lasts).
//! - A [`Stop`] request (SIGINT/SIGTERM in the binary) is checked between reads (a read
//!   waits at most 200 ms; the waits between reads, while bytes gather, end at the request);
//!   the loop then writes what it holds, fsyncs and returns. Rows the disk refuses are tried
//!   again for a while: see [`stop`](super::stop).
//! - Wake-ups are the recorder's CPU: a live line is read about once a second, its bytes
//!   gathering in the kernel's buffer meanwhile ([`port`](super::port)'s rules).
//!
//! The loop reports to one [`Observer`]; [`Fanout`] hands every event to several (the status
//! line, the MQTT link, and later the HTTP server), each of which must return at once.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};

use super::port::device::{self, OpenFailure};
use super::port::{Action, Failure, Note, Supervisor};
use super::stop::{Drain, Step, Stop, STOP_TIMEOUT};
use crate::record::{Clocks, Record, RecordConfig, RecordStats, Recorder};
use crate::store::fs::{Fs, RealFs};
use crate::store::{Appended, Resumed, Store, StoreError, StoreEvent, TZ};
use crate::tic::{Config, Decoder, Frame, Mode, Stats};

const SILENCE: Duration = Duration::from_secs(60);
/// No record for this long while frames verify is a stall worth saying.
const STALL: Duration = Duration::from_secs(60);
/// Repeated reports (stalls, glitches) at most this often.
const REPEAT_LOG: Duration = Duration::from_secs(600);
const READ_TIMEOUT: Duration = Duration::from_millis(200);

/// A capture error that stops the recorder.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The store cannot take the records (a row that does not fit its file's columns).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A replay input could not be read.
    #[error("cannot read {name} at byte {offset}")]
    Replay {
        /// The input's name.
        name: String,
        /// Bytes read before the error.
        offset: u64,
        /// The I/O error.
        source: io::Error,
    },
    /// The port path exists but is not a serial port.
    #[error("{path} is not a serial port ({what}); give the TIC adapter's device (ls /dev/serial/by-id/), or --replay FILE for a capture")]
    NotASerialPort {
        /// The path given.
        path: String,
        /// What it is instead.
        what: &'static str,
    },
}

/// Running counts, for status lines and metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// The decoder's counts.
    pub decoder: Stats,
    /// The recorder's counts.
    pub recorder: RecordStats,
    /// Records taken by the store (written, or held while the disk cannot be written).
    pub rows: u64,
    /// Rows written to the files.
    pub written: u64,
    /// Rows held in memory now (the files cannot be written).
    pub held: u64,
    /// Rows dropped because the memory bound was reached during an outage.
    pub dropped: u64,
    /// Whether writing is failing now.
    pub stalled: bool,
    /// Times the port was opened again after a failure.
    pub port_reopens: u64,
    /// Whether the port is open now (always true for a replay).
    pub port_open: bool,
    /// Time of the last record.
    pub last_time: Option<DateTime<FixedOffset>>,
    /// Power of the last record, VA.
    pub last_power: Option<u32>,
}

/// What the loop reports to the binary (which prints it for humans).
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// The loop started reading this source (a port path, a replay's name).
    Started {
        /// The source.
        source: &'a str,
    },
    /// A port was opened: the first time, or again after it failed.
    PortOpened {
        /// Its path.
        path: &'a str,
        /// Baud rate.
        baud: u32,
        /// How long it had been unavailable.
        after: Option<Duration>,
    },
    /// Frames verify at this rate.
    ModeFound {
        /// The mode of the frames.
        mode: Mode,
        /// Baud rate.
        baud: u32,
    },
    /// The port is unavailable; it is opened again every second.
    PortFailing {
        /// Its path.
        path: &'a str,
        /// What fails, in words (`does not exist`, `hung up`…).
        failure: String,
        /// Whether the path is absent.
        missing: bool,
        /// Whether the port has never opened in this run (nothing is recorded or created
        /// before it does).
        first_open: bool,
        /// How long it has been unavailable.
        for_secs: u64,
        /// Open attempts so far.
        attempts: u64,
        /// The serial ports that do exist (when the path is absent).
        present: Vec<String>,
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
        /// Both baud rates are probed again.
        reprobe: bool,
    },
    /// A record file was opened.
    FileOpened(&'a Resumed),
    /// The files cannot be written: records are held in memory from now on.
    WriteStalled {
        /// What failed.
        error: &'a StoreError,
        /// Rows held.
        held: usize,
    },
    /// Still cannot write (every ten minutes).
    WriteStillStalled {
        /// What failed.
        error: &'a StoreError,
        /// Rows held.
        held: usize,
        /// Rows dropped so far (the memory bound was reached).
        dropped: u64,
        /// For how long.
        for_secs: u64,
    },
    /// Writing works again; the held rows are written.
    WriteRecovered {
        /// Rows written now.
        written: u64,
        /// Rows dropped during the outage.
        dropped: u64,
        /// How long the outage lasted.
        for_secs: u64,
    },
    /// Raw bytes (`--raw`) could not be kept.
    RawDropped {
        /// What failed.
        error: &'a StoreError,
        /// Bytes lost.
        bytes: u64,
    },
    /// The meter's time (or the host clock's) changed for good; the recorder followed.
    TimeJump {
        /// The last trusted time before.
        from: DateTime<FixedOffset>,
        /// The first time after.
        to: DateTime<FixedOffset>,
    },
    /// Frames whose time disagreed with their neighbours were dropped.
    TimeGlitch {
        /// The time the last one read.
        time: Option<DateTime<FixedOffset>>,
        /// Such frames so far.
        total: u64,
    },
    /// Frames verify but no record was made for a while.
    Stalled {
        /// For how long.
        for_secs: u64,
        /// Why, and what the recorder does about it.
        reason: String,
    },
    /// The loop has ended (a stop request, or the end of the input) and has written what it
    /// could; what it still holds is tried again for at most `limit`
    /// ([`stop`](super::stop)).
    Stopping {
        /// Rows still held in memory (the disk refuses them).
        held: u64,
        /// How long they are tried again at most.
        limit: Duration,
    },
    /// A record was taken by the store (written, or held while the disk is unwritable).
    Recorded(&'a Record, &'a Counters),
    /// A decoded frame (only its verified groups: failed ones are left out), before the
    /// recorder sees it, for observers that need values the records do not carry (the MQTT
    /// link: Tempo colour tomorrow from STGE or DEMAIN). Sent for every frame; an observer that
    /// does not use it returns at once. Not a record: nothing about it says it will be written.
    Frame(&'a Frame<'a>),
    /// About once a second.
    Tick(&'a Counters),
}

/// Receives [`Event`]s. Called on the recording thread: it must return at once (hand
/// anything slow to another thread through a bounded queue), so that no observer ever
/// delays a row.
pub trait Observer {
    /// One event.
    fn event(&mut self, event: &Event<'_>);
}

/// Hands every event to each of its observers, in order.
#[derive(Default)]
pub struct Fanout<'a> {
    observers: Vec<&'a mut (dyn Observer + Send)>,
}

impl<'a> Fanout<'a> {
    /// No observers yet.
    pub fn new() -> Self {
        Fanout::default()
    }

    /// Adds an observer.
    pub fn add(&mut self, observer: &'a mut (dyn Observer + Send)) {
        self.observers.push(observer);
    }
}

impl Observer for Fanout<'_> {
    fn event(&mut self, event: &Event<'_>) {
        for o in &mut self.observers {
            o.event(event);
        }
    }
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

/// A serial port being recorded: its supervisor, and the port while it is open
/// ([`Capture::open_port`]).
pub struct Port {
    path: String,
    sup: Supervisor,
    open: Option<serialport::TTYPort>,
    /// Counts at the last valid frame, for the silence hint.
    stats_at_good: Stats,
}

impl Port {
    /// The port's path.
    pub fn path(&self) -> &str {
        &self.path
    }
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
    /// The time of the byte at `stream_offset`, where `read_end` is the offset after the last
    /// byte read, `baud` the line's rate: the host's clock less the air time of the bytes
    /// read after it (they gather in the kernel's buffer between reads: [`super::port::GATHER`]).
    fn at(&self, stream_offset: u64, read_end: u64, baud: u32) -> DateTime<Utc> {
        match *self {
            HostClock::System => {
                let after = air_ms(read_end.saturating_sub(stream_offset), baud);
                Utc::now() - chrono::Duration::milliseconds(after as i64)
            }
            HostClock::Replay { start, baud } => {
                start + chrono::Duration::milliseconds(air_ms(stream_offset, baud) as i64)
            }
        }
    }
}

/// The air time of `bytes` at `baud`, 10 bits a byte, in milliseconds.
fn air_ms(bytes: u64, baud: u32) -> u64 {
    bytes.saturating_mul(10_000) / u64::from(baud.max(1))
}

/// How much stream time has passed (for the timeline guard).
#[derive(Clone, Copy, Debug)]
enum StreamClock {
    /// A live port: the host's monotonic clock since the start.
    Live(Instant),
    /// A replay: the air time of the bytes at the frame's mode's rate.
    Air,
}

/// Bytes to records to files.
pub struct Capture<'o> {
    clock: HostClock,
    stream: StreamClock,
    silence: Duration,
    stall: Duration,
    decoder: Decoder,
    recorder: Recorder,
    store: Option<Store>,
    /// Stores of earlier columns still holding rows (an outage across a column change).
    retiring: Vec<Store>,
    /// Rows written by stores closed since (a column change).
    written_closed: u64,
    store_cfg: StoreConfig,
    /// The store's file operations ([`crate::store::fs`]: the real ones but in tests).
    fs: Arc<dyn Fs>,
    raw_pending: Vec<u8>,
    counters: Counters,
    good_frames: u64,
    observer: &'o mut dyn Observer,
    last_tick: Instant,
    /// Stall detection: when the last record was made, the recorder's counts then, and
    /// when a stall may be said next.
    last_row_at: Instant,
    good_at_row: u64,
    stats_at_row: RecordStats,
    stall_say: Instant,
    glitches_said: u64,
    glitch_say: Instant,
    ready: Vec<Record>,
    /// How long a stop tries again the rows the disk refuses.
    stop_timeout: Duration,
}

impl<'o> Capture<'o> {
    /// A capture with a decoder forced to `mode` (or detecting it).
    pub fn new(
        mode: Option<Mode>,
        record: RecordConfig,
        store: StoreConfig,
        observer: &'o mut dyn Observer,
    ) -> Capture<'o> {
        let now = Instant::now();
        Capture {
            clock: HostClock::System,
            stream: StreamClock::Air,
            silence: SILENCE,
            stall: STALL,
            decoder: Decoder::new(Config {
                mode,
                ..Config::default()
            }),
            recorder: Recorder::new(record),
            store: None,
            retiring: Vec::new(),
            written_closed: 0,
            store_cfg: store,
            fs: Arc::new(RealFs),
            raw_pending: Vec::new(),
            counters: Counters {
                port_open: true,
                ..Counters::default()
            },
            good_frames: 0,
            observer,
            last_tick: now,
            last_row_at: now,
            good_at_row: 0,
            stats_at_row: RecordStats::default(),
            stall_say: now + STALL,
            glitches_said: 0,
            glitch_say: now,
            ready: Vec::new(),
            stop_timeout: STOP_TIMEOUT,
        }
    }

    /// Writes the day files through `fs` (a test's model of the disk) instead of the real
    /// file system.
    pub fn with_fs(mut self, fs: Arc<dyn Fs>) -> Self {
        self.fs = fs;
        self
    }

    /// Stamps historique records with this clock instead of the host's.
    pub fn with_clock(mut self, clock: HostClock) -> Self {
        self.clock = clock;
        self
    }

    /// Reports a silent line after this long without a valid frame, and a stall after this
    /// long without a record while frames verify (default one minute each).
    pub fn with_silence(mut self, silence: Duration) -> Self {
        self.silence = silence;
        self.stall = silence;
        self.stall_say = self.last_row_at + silence;
        self
    }

    /// At the end, tries again the rows the disk refuses for at most this long (default
    /// [`STOP_TIMEOUT`]; zero: one attempt).
    pub fn with_stop_timeout(mut self, limit: Duration) -> Self {
        self.stop_timeout = limit;
        self
    }

    /// The counts so far.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        c.decoder = *self.decoder.stats();
        c.recorder = self.recorder.stats();
        let stores = || self.store.iter().chain(&self.retiring);
        c.held = stores().map(|s| s.held() as u64).sum();
        c.written = self.written_closed + stores().map(Store::written).sum::<u64>();
        c.stalled = self.store.as_ref().is_some_and(Store::stalled);
        c
    }

    /// Feeds bytes read from the source at `now`.
    pub fn feed(&mut self, bytes: &[u8], now: Instant) -> Result<(), CaptureError> {
        let mut rest = bytes;
        let read_end = self.decoder.offset() + bytes.len() as u64;
        // With --raw, each frame's bytes go to the raw file of that frame's record day: they
        // are kept after the frame is recorded (which may rotate the day).
        let mut raw_from = 0;
        while !rest.is_empty() {
            let (frame, n) = self.decoder.decode(rest);
            rest = &rest[n..];
            let Some(frame) = frame else { continue };
            self.observer.event(&Event::Frame(&frame));
            let ok = frame.groups().len();
            if ok > 0 && ok > frame.bad_count() {
                self.good_frames += 1;
            }
            let end = frame.offset + frame.len() as u64 + 2;
            let baud = frame.mode.baud_rate();
            // On a live line the bytes read after the frame came after it (they gather
            // between reads); a file or a pipe is read as fast as it goes.
            let read_end = match self.stream {
                StreamClock::Live(_) => read_end,
                StreamClock::Air => end,
            };
            let clocks = Clocks {
                host: self.clock.at(end, read_end, baud),
                stream_ms: match self.stream {
                    StreamClock::Live(start) => (now.saturating_duration_since(start).as_millis()
                        as u64)
                        .saturating_sub(air_ms(read_end.saturating_sub(end), baud)),
                    StreamClock::Air => air_ms(end, frame.mode.baud_rate()),
                },
            };
            self.recorder.accept(&frame, clocks);
            self.drain_ready(now)?;
            let upto = bytes.len() - rest.len();
            self.keep_raw(&bytes[raw_from..upto]);
            raw_from = upto;
        }
        self.keep_raw(&bytes[raw_from..]);
        self.tick(now)
    }

    fn drain_ready(&mut self, now: Instant) -> Result<(), CaptureError> {
        let mut ready = std::mem::take(&mut self.ready);
        ready.extend(self.recorder.take_ready());
        for record in ready.drain(..) {
            self.write(record, now)?;
        }
        self.ready = ready;
        let glitches = self.recorder.stats().timeline.glitches;
        if glitches > self.glitches_said && now >= self.glitch_say {
            self.glitches_said = glitches;
            self.glitch_say = now + REPEAT_LOG;
            let time = self.recorder.stats().timeline.last_glitch.and_then(instant);
            self.observer.event(&Event::TimeGlitch {
                time,
                total: glitches,
            });
        }
        Ok(())
    }

    fn keep_raw(&mut self, bytes: &[u8]) {
        if !self.store_cfg.raw || bytes.is_empty() {
            return;
        }
        match self.store.as_mut() {
            Some(s) => s.write_raw(bytes),
            None => {
                // Before the first record: keep the last 64 KiB for the first day's file.
                self.raw_pending.extend_from_slice(bytes);
                let excess = self.raw_pending.len().saturating_sub(64 * 1024);
                self.raw_pending.drain(..excess);
            }
        }
    }

    /// The end (of the input, or a stop): completes a text dump's last frame, releases records
    /// held when nothing contradicts them, writes what it holds and fsyncs. Rows the disk
    /// refuses are tried again as [`stop`](super::stop) says (a second request of `stop`
    /// tries at once, a third gives up); what still cannot be written stays counted in
    /// [`Counters::held`].
    pub fn finish(&mut self, stop: &Stop) -> Result<(), CaptureError> {
        let now = Instant::now();
        if self.decoder.finish().is_some() {
            let frame = self.decoder.last_frame().expect("finish returned a frame");
            self.observer.event(&Event::Frame(&frame));
            let end = frame.offset + frame.len() as u64;
            let clocks = Clocks {
                host: self.clock.at(end, end, frame.mode.baud_rate()),
                stream_ms: air_ms(end, frame.mode.baud_rate()),
            };
            self.recorder.accept(&frame, clocks);
        }
        self.recorder.finish();
        self.drain_ready(now)?;
        self.shut_stores(now);
        let held = self.counters().held;
        self.observer.event(&Event::Stopping {
            held,
            limit: self.stop_timeout,
        });
        let mut drain = Drain::new(now, self.stop_timeout, stop.requests());
        loop {
            let now = Instant::now();
            match drain.poll(now, self.counters().held as usize, stop.requests()) {
                Step::Write => self.shut_stores(now),
                Step::Wait(d) => {
                    // The status line and the watchdog go on through a long drain.
                    if now.saturating_duration_since(self.last_tick) >= Duration::from_secs(1) {
                        self.last_tick = now;
                        let c = self.counters();
                        self.observer.event(&Event::Tick(&c));
                    }
                    stop.sleep(d.min(Duration::from_secs(1)));
                }
                Step::Done | Step::GiveUp(_) => break,
            }
        }
        let c = self.counters();
        self.observer.event(&Event::Tick(&c));
        Ok(())
    }

    /// One attempt at every held row, whatever the retry timer says, then an fsync.
    fn shut_stores(&mut self, now: Instant) {
        for s in self.retiring.iter_mut().chain(self.store.as_mut()) {
            s.shutdown(now);
        }
        self.store_events();
    }

    fn write(&mut self, record: Record, now: Instant) -> Result<(), CaptureError> {
        if let Some(jump) = record.jump {
            if let (Some(from), Some(to)) = (instant(jump.from), instant(jump.to)) {
                self.observer.event(&Event::TimeJump { from, to });
            }
        }
        let same_columns = self
            .store
            .as_ref()
            .is_some_and(|s| s.columns() == &record.columns[..]);
        if !same_columns {
            if let Some(old) = self.store.take() {
                if old.held() > 0 {
                    self.retiring.push(old);
                } else {
                    self.written_closed += old.written();
                    old.close(now);
                }
            }
            let mut store = Store::with_fs(
                Arc::clone(&self.fs),
                &self.store_cfg.dir,
                &record.columns,
                self.store_cfg.fsync_interval,
                self.store_cfg.raw,
                now,
            );
            if !self.raw_pending.is_empty() {
                store.write_raw(&std::mem::take(&mut self.raw_pending));
            }
            self.store = Some(store);
        }
        let store = self.store.as_mut().expect("opened above");
        let cells: Vec<&str> = record.cells.iter().map(String::as_str).collect();
        let appended = store.append(record.time, &cells, now)?;
        self.store_events();
        if appended != Appended::NotAfterLast {
            self.counters.rows += 1;
            self.counters.last_time = Some(record.time);
            self.counters.last_power = record.power_va;
            self.last_row_at = now;
            self.good_at_row = self.good_frames;
            self.stats_at_row = self.recorder.stats();
            self.stall_say = now + self.stall;
            let c = self.counters();
            self.observer.event(&Event::Recorded(&record, &c));
        }
        Ok(())
    }

    /// Turns the store's events into ours.
    fn store_events(&mut self) {
        let mut events = Vec::new();
        for s in self.store.iter_mut().chain(self.retiring.iter_mut()) {
            events.extend(s.take_events());
        }
        for e in events {
            match e {
                StoreEvent::Opened(r) => self.observer.event(&Event::FileOpened(&r)),
                StoreEvent::Stalled { error, held } => self.observer.event(&Event::WriteStalled {
                    error: &error,
                    held,
                }),
                StoreEvent::StillStalled {
                    error,
                    held,
                    dropped,
                    for_secs,
                } => self.observer.event(&Event::WriteStillStalled {
                    error: &error,
                    held,
                    dropped,
                    for_secs,
                }),
                StoreEvent::Recovered {
                    written,
                    dropped,
                    for_secs,
                } => {
                    self.counters.dropped += dropped;
                    self.observer.event(&Event::WriteRecovered {
                        written,
                        dropped,
                        for_secs,
                    })
                }
                StoreEvent::RawDropped { error, bytes } => {
                    self.observer.event(&Event::RawDropped {
                        error: &error,
                        bytes,
                    })
                }
            }
        }
    }

    /// Retries held rows, fsyncs on the store's timer, says a stall, and reports a tick
    /// about once a second.
    pub fn tick(&mut self, now: Instant) -> Result<(), CaptureError> {
        if let Some(s) = self.store.as_mut() {
            s.tick(now);
        }
        for s in &mut self.retiring {
            s.tick(now);
        }
        self.store_events();
        let mut closed = 0;
        self.retiring.retain(|s| {
            let keep = s.held() > 0;
            if !keep {
                closed += s.written();
            }
            keep
        });
        self.written_closed += closed;
        if self.good_frames > self.good_at_row && now >= self.stall_say {
            self.stall_say = now + REPEAT_LOG;
            let reason = stall_reason(
                &self.recorder.stats(),
                &self.stats_at_row,
                self.recorder.held(),
                self.counters.last_time,
            );
            self.observer.event(&Event::Stalled {
                for_secs: now.saturating_duration_since(self.last_row_at).as_secs(),
                reason,
            });
        }
        if now.saturating_duration_since(self.last_tick) >= Duration::from_secs(1) {
            self.last_tick = now;
            let c = self.counters();
            self.observer.event(&Event::Tick(&c));
        }
        Ok(())
    }

    /// Records a whole input (a replay file or stdin) to its end. An input that may stall
    /// (a pipe) is best given as a [`Polled`](super::Polled) reader: its reads then time out,
    /// and a stop request is seen while it stalls.
    pub fn run_reader(
        &mut self,
        mut input: impl Read,
        name: &str,
        stop: &Stop,
    ) -> Result<(), CaptureError> {
        self.stream = StreamClock::Air;
        self.observer.event(&Event::Started { source: name });
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset = 0u64;
        while !stop.requested() {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    self.tick(Instant::now())?;
                    continue;
                }
                Err(source) => {
                    return Err(CaptureError::Replay {
                        name: name.to_owned(),
                        offset,
                        source,
                    })
                }
            };
            offset += n as u64;
            self.feed(&buf[..n], Instant::now())?;
        }
        self.finish(stop)
    }

    /// Records a serial port until `stop` is set, reopening it whenever it fails:
    /// [`Capture::open_port`], then [`Capture::record_port`].
    pub fn run_port(
        &mut self,
        path: &str,
        mode: Option<Mode>,
        stop: &Stop,
    ) -> Result<(), CaptureError> {
        match self.open_port(path, mode, stop)? {
            Some(port) => self.record_port(port, stop),
            None => self.finish(stop),
        }
    }

    /// Starts reading a serial port: waits until it opens for the first time (trying every
    /// second, and saying why it cannot), so that the caller creates nothing for a port that
    /// never comes. `None` when `stop` came first (then [`Capture::finish`] ends the run).
    pub fn open_port(
        &mut self,
        path: &str,
        mode: Option<Mode>,
        stop: &Stop,
    ) -> Result<Option<Port>, CaptureError> {
        check_port_path(path)?;
        let bauds: &[u32] = match mode {
            Some(Mode::Standard) => &[9600],
            Some(Mode::Historique) => &[1200],
            None => &[9600, 1200],
        };
        let start = Instant::now();
        self.stream = StreamClock::Live(start);
        let mut port = Port {
            path: path.to_owned(),
            sup: Supervisor::new(bauds, self.silence, start),
            open: None,
            stats_at_good: *self.decoder.stats(),
        };
        self.counters.port_open = false;
        self.observer.event(&Event::Started { source: path });
        self.pump(&mut port, stop, true)?;
        Ok(port.sup.is_open().then_some(port))
    }

    /// Records a port [`Capture::open_port`] opened until `stop` is set, reopening it
    /// whenever it fails, then [`Capture::finish`]es.
    pub fn record_port(&mut self, mut port: Port, stop: &Stop) -> Result<(), CaptureError> {
        self.pump(&mut port, stop, false)?;
        drop(port);
        self.finish(stop)
    }

    /// The port loop, until `stop` (or, with `until_open`, until the port is open).
    fn pump(&mut self, port: &mut Port, stop: &Stop, until_open: bool) -> Result<(), CaptureError> {
        let mut buf = [0u8; 4096];
        let Port {
            path,
            sup,
            open,
            stats_at_good,
        } = port;
        let path = path.as_str();
        loop {
            if stop.requested() {
                return Ok(());
            }
            let now = Instant::now();
            match sup.poll(now) {
                Action::Open(baud) => {
                    *open = None;
                    match device::open(path, baud, READ_TIMEOUT) {
                        Ok(p) => {
                            *open = Some(p);
                            sup.opened(now);
                        }
                        Err(e) => {
                            let failure = match device::open_failure(path, &e) {
                                OpenFailure::NotATerminal => {
                                    return Err(CaptureError::NotASerialPort {
                                        path: path.to_owned(),
                                        what: "not a terminal device",
                                    })
                                }
                                OpenFailure::Absent => Failure::Missing,
                                OpenFailure::PermissionDenied => Failure::PermissionDenied,
                                OpenFailure::Busy => Failure::Busy,
                                OpenFailure::Other(kind) => Failure::Open(kind, e.description),
                            };
                            sup.failed(now, failure);
                        }
                    }
                }
                Action::Wait(d) => stop.wait(d.min(Duration::from_secs(1))),
                Action::Read => {
                    let p = open.as_mut().expect("the supervisor reads an open port");
                    let good_before = self.good_frames;
                    match p.read(&mut buf) {
                        Ok(0) => {
                            *open = None;
                            sup.failed(now, Failure::HungUp);
                        }
                        Ok(n) => {
                            sup.read(Instant::now(), n);
                            self.feed(&buf[..n], now)?;
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::TimedOut
                                    | io::ErrorKind::Interrupted
                                    | io::ErrorKind::WouldBlock
                            ) => {}
                        Err(e) => {
                            *open = None;
                            sup.failed(now, Failure::Read(e.kind(), e.to_string()));
                        }
                    }
                    if self.good_frames > good_before {
                        sup.good_frame(now);
                        *stats_at_good = *self.decoder.stats();
                    }
                }
            }
            if until_open && sup.is_open() {
                // Said by `record_port`, once the caller is ready for what follows.
                return Ok(());
            }
            self.counters.port_open = sup.is_open();
            self.counters.port_reopens = sup.reopens();
            let first_open = !sup.opened_once();
            let notes: Vec<Note> = sup.take_notes().collect();
            for note in notes {
                self.say(note, path, stats_at_good, first_open);
            }
            self.tick(Instant::now())?;
        }
    }

    fn say(&mut self, note: Note, path: &str, stats_at_good: &Stats, first_open: bool) {
        match note {
            Note::Opened { baud, after } => {
                self.observer
                    .event(&Event::PortOpened { path, baud, after })
            }
            Note::Locked { baud } => {
                let mode = self.decoder.detected_mode().unwrap_or(if baud >= 9600 {
                    Mode::Standard
                } else {
                    Mode::Historique
                });
                self.observer.event(&Event::ModeFound { mode, baud })
            }
            Note::Failing {
                failure,
                for_time,
                attempts,
            } => {
                let missing = failure == Failure::Missing;
                let present = if missing {
                    device::present()
                } else {
                    Vec::new()
                };
                self.observer.event(&Event::PortFailing {
                    path,
                    failure: failure.describe(),
                    missing,
                    first_open,
                    for_secs: for_time.as_secs(),
                    attempts,
                    present,
                })
            }
            Note::Silent { for_time, reprobe } => {
                let since = diff(self.decoder.stats(), stats_at_good);
                let hint = hint(&since, &self.recorder.stats());
                self.observer.event(&Event::Silent {
                    path,
                    for_secs: for_time.as_secs(),
                    since_last_valid: since,
                    hint,
                    reprobe,
                })
            }
        }
    }
}

/// The instant of Unix seconds `t`, in Europe/Paris's offset.
fn instant(t: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp(t, 0).map(|t| t.with_timezone(&TZ).fixed_offset())
}

/// Why no record was made since the last one, from the recorder's counts then and now.
fn stall_reason(
    now: &RecordStats,
    then: &RecordStats,
    held: Option<(i64, u32)>,
    last: Option<DateTime<FixedOffset>>,
) -> String {
    let d = |f: fn(&RecordStats) -> u64| f(now).saturating_sub(f(then));
    let last = last.map_or("-".to_owned(), |t| t.to_rfc3339());
    let reasons: [(u64, String); 7] = [
        (
            d(|s| s.before_shape),
            "no clean frame identifying a meter (ADSC/ADCO and an energy index) yet to learn the labels from; waiting for one".to_owned(),
        ),
        (
            d(|s| s.incomplete),
            "frames verify but lack a wanted label (a failed checksum, or the meter's shape changed: the labels are learned again after 30 clean frames); check --labels".to_owned(),
        ),
        (
            d(|s| s.no_time),
            "frames verify but carry no valid DATE; waiting for one".to_owned(),
        ),
        (
            d(|s| s.not_after_last),
            format!("frame times are not after the last record ({last}); recording resumes when they pass it"),
        ),
        (
            d(|s| s.timeline.unset_clock),
            "the clock reads a time before 2010 (a host clock not set yet: no RTC, no NTP?); waiting for a real time".to_owned(),
        ),
        (
            d(|s| s.timeline.glitches),
            "frame times disagree with each other; frames are dropped until three in a row agree".to_owned(),
        ),
        (
            d(|s| s.same_interval),
            "every record falls in an interval already recorded (--every)".to_owned(),
        ),
    ];
    if let Some((t, n)) = held {
        let t = instant(t).map_or(t.to_string(), |t| t.to_rfc3339());
        return format!(
            "frame times jumped to {t}: {n} frame(s) held until {} agree",
            crate::record::timeline::CONFIRM
        );
    }
    reasons
        .into_iter()
        .max_by_key(|(n, _)| *n)
        .filter(|(n, _)| *n > 0)
        .map_or("frames verify but make no record".to_owned(), |(_, r)| r)
}

/// A path that exists but is not a character device cannot be a serial port.
fn check_port_path(path: &str) -> Result<(), CaptureError> {
    match device::not_a_port(path) {
        None => Ok(()),
        Some(what) => Err(CaptureError::NotASerialPort {
            path: path.to_owned(),
            what,
        }),
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
        // 120 bytes a second at 1200 baud, 10 bits a byte; the bytes read after do not count.
        assert_eq!((c.at(240, 600, 1200) - start).num_milliseconds(), 2000);
    }

    /// The host's clock less the air time of the bytes read after the frame: 240 bytes at
    /// 9600 baud came in the last 250 ms.
    #[test]
    fn host_clock_takes_off_the_bytes_read_after_the_frame() {
        let c = HostClock::System;
        let before = Utc::now();
        let t = c.at(1000, 1240, 9600);
        let after = Utc::now();
        assert!(
            t >= before - chrono::Duration::milliseconds(250),
            "{t} {before}"
        );
        assert!(
            t <= after - chrono::Duration::milliseconds(250),
            "{t} {after}"
        );
    }

    #[test]
    fn stall_reasons_name_the_main_cause() {
        let then = RecordStats::default();
        let mut now = then;
        now.incomplete = 50;
        now.no_time = 2;
        assert!(stall_reason(&now, &then, None, None).contains("lack a wanted label"));
        now.timeline.unset_clock = 90;
        assert!(stall_reason(&now, &then, None, None).contains("before 2010"));
        assert!(
            stall_reason(&now, &then, Some((1_780_000_000, 2)), None).contains("2 frame(s) held")
        );
    }
}
