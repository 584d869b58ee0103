//! From frames to complete records: which labels are wanted, when a frame makes a record,
//! and what time it gets. Sans-IO: the caller passes in the host clock and the stream clock.
//!
//! ## Rules
//! - A record is made only from a frame in which every wanted label is present and
//!   verified. A frame missing one, or with a failed checksum on one, is skipped and counted;
//!   a failed checksum on a label nobody asked for does not drop the record.
//! - Wanted labels default to the meter's shape ([`default_labels`]), learned from the first
//!   frame with no failed group that identifies a meter: its defaults hold ADSC/ADCO and at
//!   least one energy index (a junk frame — one stray group, `STX ETX` — teaches nothing,
//!   so no row is ever written without the meter's indexes unless `--labels` asked for
//!   that). If the meter's shape changes (30 clean frames in a row lack a wanted label, e.g.
//!   after a contract change), the labels are learned again; every record carries the
//!   columns it was made with, so the caller opens a new file when they change.
//! - Time: standard mode stamps each record with the instant of its DATE (season letter
//!   included, so the repeated October hour is exact); historique mode, which has no DATE,
//!   with the host clock. Both are truncated to the second.
//! - Every frame time goes through the [`timeline`] guard first: a frame whose time jumps
//!   away from its neighbours is held until the next frames confirm it (then released, in
//!   order, with the jump) or contradict it (then dropped and counted). A record is therefore
//!   ready at once, later, or never; the caller takes ready records with
//!   [`Recorder::take_ready`] after every call.
//! - At most one record per second, in increasing time order: a record whose time is not
//!   after the last one's is skipped (frames come every ~0.9 s and repeat a DATE). After a
//!   confirmed jump back in time this starts again from the new timeline.
//! - `every`: only the first complete record of each interval is kept (intervals aligned on
//!   the Unix epoch, so `1min` and `15min` fall on the minute, `1h` on the hour).

pub mod timeline;

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, Timelike, Utc};

use crate::store::{cell, TimeSource, TZ};
use crate::tic::{labels, Frame, Mode};
pub use timeline::{Jump, Timeline, TimelineStats, Verdict};

/// How a record is chosen.
#[derive(Clone, Debug, Default)]
pub struct RecordConfig {
    /// `Some`: exactly these labels (`--labels`); `None`: the meter shape's defaults.
    pub labels: Option<Vec<String>>,
    /// Keep the first complete record of each interval.
    pub every: Option<Duration>,
}

/// Why a frame made no record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// No clean frame identifying a meter yet to learn its shape from.
    ShapeUnknown,
    /// A wanted label failed its checksum (or its horodate).
    BadWanted(String),
    /// A wanted label is absent.
    MissingWanted(String),
    /// Standard mode without a verified, seasoned DATE.
    NoTime,
    /// Not after the last record (same second, or the clock went back).
    NotAfterLast,
    /// Another record was already kept in this `every` interval.
    SameInterval,
    /// The clock reads a time before 2010 (a host clock not set yet).
    UnsetClock,
}

/// A complete record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its time, to the second, with the offset the meter gave (or Europe/Paris's for host time).
    pub time: DateTime<FixedOffset>,
    /// Where the time comes from.
    pub source: TimeSource,
    /// The file columns it was made with: `time`, `time_source`, then the wanted labels.
    pub columns: Arc<[String]>,
    /// `time_source` then one cell per wanted label.
    pub cells: Vec<String>,
    /// SINSTS or PAPP, VA, for status lines.
    pub power_va: Option<u32>,
    /// Set on the first record after a confirmed change of the timeline: from the time of the
    /// record before it (or of the last trusted frame, for the first record) to its own time.
    /// A record at or before the one before it always carries one.
    pub jump: Option<Jump>,
}

impl Record {
    /// The cell of `label`, if it is one of the record's columns.
    pub fn get(&self, label: &str) -> Option<&str> {
        let i = self.columns.iter().skip(2).position(|c| c == label)?;
        self.cells.get(i + 1).map(String::as_str)
    }
}

/// What [`Recorder::accept`] made of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its record is ready (see [`Recorder::take_ready`]).
    Ready,
    /// Its record is held until the next frames confirm its time.
    Held,
    /// No record from this frame (held records may still have been released by it).
    Skipped(Skip),
}

/// Counts since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Records made ready.
    pub records: u64,
    /// Frames skipped because a wanted label failed or was absent.
    pub incomplete: u64,
    /// Frames skipped for lack of a time (standard mode without a verified DATE).
    pub no_time: u64,
    /// Records skipped because they were not after the last one (same second).
    pub not_after_last: u64,
    /// Records skipped by `every`.
    pub same_interval: u64,
    /// Frames seen before the shape was known.
    pub before_shape: u64,
    /// Times the shape was learned again.
    pub shape_changes: u64,
    /// Records held now, waiting for their time to be confirmed.
    pub held_now: u64,
    /// The timeline guard's counts (glitches, jumps, unset clock).
    pub timeline: TimelineStats,
}

impl RecordStats {
    /// Frames skipped for time reasons (no DATE, same second, same interval, unset clock,
    /// time contradicted by the next frames).
    pub fn time_skips(&self) -> u64 {
        self.no_time
            + self.not_after_last
            + self.same_interval
            + self.timeline.unset_clock
            + self.timeline.glitches
    }
}

/// The stream's clocks at a frame.
#[derive(Clone, Copy, Debug)]
pub struct Clocks {
    /// The host's wall clock (stamps historique records).
    pub host: DateTime<Utc>,
    /// Milliseconds of stream time since the start: the host's monotonic clock on a live
    /// port, the air time of the bytes in a replay. It tells the timeline guard how much
    /// meter time may have passed.
    pub stream_ms: u64,
}

/// Chooses records from frames.
#[derive(Debug)]
pub struct Recorder {
    cfg: RecordConfig,
    columns: Option<Arc<[String]>>,
    last: Option<DateTime<FixedOffset>>,
    last_bucket: Option<i64>,
    missing_streak: u32,
    timeline: Timeline<Record>,
    /// A confirmed jump not yet carried by a record (it goes on the next one made ready).
    pending_jump: Option<Jump>,
    /// The time of the last record made ready (`last` is reset by a jump back; this is not).
    last_made: Option<DateTime<FixedOffset>>,
    ready: Vec<Record>,
    stats: RecordStats,
}

/// Clean frames in a row lacking a wanted label before the shape is learned again.
const SHAPE_CHANGE_STREAK: u32 = 30;

fn columns_of(labels: &[String]) -> Arc<[String]> {
    let mut c = vec!["time".to_owned(), "time_source".to_owned()];
    c.extend(labels.iter().cloned());
    c.into()
}

impl Recorder {
    /// A recorder with this configuration.
    pub fn new(cfg: RecordConfig) -> Recorder {
        let columns = cfg.labels.as_deref().map(columns_of);
        Recorder {
            cfg,
            columns,
            last: None,
            last_bucket: None,
            missing_streak: 0,
            timeline: Timeline::new(),
            pending_jump: None,
            last_made: None,
            ready: Vec::new(),
            stats: RecordStats::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> RecordStats {
        let mut s = self.stats;
        s.timeline = *self.timeline.stats();
        s
    }

    /// The wanted labels, once known.
    pub fn labels(&self) -> Option<&[String]> {
        self.columns.as_deref().map(|c| &c[2..])
    }

    /// The file columns: `time`, `time_source`, then the wanted labels.
    pub fn columns(&self) -> Option<Arc<[String]>> {
        self.columns.clone()
    }

    /// The time the records are held at now (Unix seconds) and how many frames agree with it,
    /// while a change of time waits for confirmation.
    pub fn held(&self) -> Option<(i64, u32)> {
        self.timeline.held()
    }

    /// The records made ready since the last call, in time order.
    pub fn take_ready(&mut self) -> std::vec::Drain<'_, Record> {
        self.ready.drain(..)
    }

    /// Decides what `frame` makes; ready records are then in [`Recorder::take_ready`].
    pub fn accept(&mut self, frame: &Frame<'_>, clocks: Clocks) -> Outcome {
        if self.columns.is_none() {
            match learn(frame) {
                Some(labels) => self.columns = Some(columns_of(&labels)),
                None => {
                    self.stats.before_shape += 1;
                    return Outcome::Skipped(Skip::ShapeUnknown);
                }
            }
        }
        let complete = match self.check_complete(frame) {
            Ok(()) => Ok(()),
            Err(skip) => {
                let absent = matches!(skip, Skip::MissingWanted(_));
                if absent && frame.bad_count() == 0 && self.cfg.labels.is_none() {
                    self.missing_streak += 1;
                    if self.missing_streak >= SHAPE_CHANGE_STREAK {
                        self.missing_streak = 0;
                        if let Some(labels) = learn(frame) {
                            let columns = columns_of(&labels);
                            if Some(&columns) != self.columns.as_ref() {
                                self.columns = Some(columns);
                                self.stats.shape_changes += 1;
                            }
                        }
                    }
                }
                self.check_complete(frame).map_err(|_| skip)
            }
        };
        let Some((time, source)) = frame_time(frame, clocks.host) else {
            return match complete {
                Ok(()) => {
                    self.stats.no_time += 1;
                    Outcome::Skipped(Skip::NoTime)
                }
                Err(skip) => {
                    self.stats.incomplete += 1;
                    Outcome::Skipped(skip)
                }
            };
        };
        let record = match complete {
            Ok(()) => {
                self.missing_streak = 0;
                Some(self.make(frame, time, source))
            }
            Err(_) => None,
        };
        let outcome = match self
            .timeline
            .offer(time.timestamp(), clocks.stream_ms, record)
        {
            Verdict::Trusted(Some(r)) => self.admit(r),
            Verdict::Trusted(None) | Verdict::Held => Outcome::Held,
            Verdict::UnsetClock => Outcome::Skipped(Skip::UnsetClock),
            Verdict::Confirmed { jump, released } => {
                if jump.is_some_and(|j| j.to < j.from) {
                    // Back in time: the one-a-second rule starts again from the new timeline.
                    self.last = None;
                    self.last_bucket = None;
                }
                // The jump goes on the next record made ready, even a later frame's (the
                // frames that confirmed it may all have been incomplete); jumps with no record
                // between them add up: from the first one's start to the last one's end.
                self.pending_jump = match (self.pending_jump, jump) {
                    (Some(p), Some(j)) => Some(Jump {
                        from: p.from,
                        to: j.to,
                    }),
                    (p, j) => j.or(p),
                };
                let mut last = Outcome::Held;
                for r in released {
                    last = self.admit(r);
                }
                last
            }
        };
        self.stats.held_now = self.timeline.held().map_or(0, |(_, n)| u64::from(n));
        match complete {
            Ok(()) => outcome,
            Err(skip) => {
                // Its time still counted as evidence for the timeline.
                self.stats.incomplete += 1;
                Outcome::Skipped(skip)
            }
        }
    }

    /// End of the stream: releases records still held when nothing contradicts them.
    pub fn finish(&mut self) {
        for r in self.timeline.finish() {
            self.admit(r);
        }
        self.stats.held_now = 0;
    }

    /// Applies the one-a-second and `every` rules to a record whose time is trusted.
    fn admit(&mut self, mut record: Record) -> Outcome {
        let time = record.time;
        if self.last.is_some_and(|last| time <= last) {
            self.stats.not_after_last += 1;
            return Outcome::Skipped(Skip::NotAfterLast);
        }
        if let Some(every) = self.cfg.every {
            let secs = every.num_seconds().max(1);
            let bucket = time.timestamp().div_euclid(secs);
            if self.last_bucket == Some(bucket) {
                self.stats.same_interval += 1;
                return Outcome::Skipped(Skip::SameInterval);
            }
            self.last_bucket = Some(bucket);
        }
        // The first record after a confirmed change says so, from the record before it (or
        // the trusted time then) to its own time: the discontinuity a reader of the rows sees.
        record.jump = self.pending_jump.take().map(|j| Jump {
            from: self.last_made.map_or(j.from, |t| t.timestamp()),
            to: time.timestamp(),
        });
        self.last = Some(time);
        self.last_made = Some(time);
        self.stats.records += 1;
        self.ready.push(record);
        Outcome::Ready
    }

    fn make(&self, frame: &Frame<'_>, time: DateTime<FixedOffset>, source: TimeSource) -> Record {
        let columns = self.columns.clone().expect("known above");
        let mut cells = Vec::with_capacity(columns.len() - 1);
        cells.push(source.as_str().to_owned());
        for label in &columns[2..] {
            let g = frame.get(label).expect("checked complete");
            cells.push(match (label.as_str(), g.horodate) {
                ("DATE", Some(h)) => h.to_owned(),
                _ => cell(label, g.value).into_owned(),
            });
        }
        let power_va = labels::Field::Power
            .find(|l| frame.get(l))
            .and_then(|(_, g)| g.value.parse().ok());
        Record {
            time,
            source,
            columns,
            cells,
            power_va,
            jump: None,
        }
    }

    fn check_complete(&self, frame: &Frame<'_>) -> Result<(), Skip> {
        let columns = self.columns.as_ref().expect("known");
        for label in &columns[2..] {
            if frame.get(label).is_none() {
                return Err(if frame.is_bad(label) {
                    Skip::BadWanted(label.clone())
                } else {
                    Skip::MissingWanted(label.clone())
                });
            }
        }
        Ok(())
    }
}

/// The meter's shape from a clean frame that identifies a meter: its default labels, if they
/// hold a meter address and at least one energy index.
fn learn(frame: &Frame<'_>) -> Option<Vec<String>> {
    if frame.bad_count() > 0 {
        return None;
    }
    let labels = default_labels(frame);
    let id = labels.iter().any(|l| labels::is_meter_id(l));
    let energy = labels
        .iter()
        .any(|l| labels::label(l).is_some_and(|l| l.is_energy()));
    (id && energy).then_some(labels)
}

/// The record time of a frame: DATE's instant in standard mode, the host clock otherwise.
fn frame_time(
    frame: &Frame<'_>,
    host_now: DateTime<Utc>,
) -> Option<(DateTime<FixedOffset>, TimeSource)> {
    match frame.mode {
        Mode::Standard => {
            let h = frame.date()?;
            let t = h.instant()?;
            let source = if h.degraded {
                TimeSource::MeterDegraded
            } else {
                TimeSource::Meter
            };
            Some((t, source))
        }
        Mode::Historique => {
            let t = host_now.with_timezone(&TZ).fixed_offset();
            let t = t.with_nanosecond(0).expect("0 ns is valid");
            Some((t, TimeSource::Host))
        }
    }
}

/// The default wanted labels for the meter shape `frame` shows: those of
/// [`labels::default_wanted`] that it carries.
pub fn default_labels(frame: &Frame<'_>) -> Vec<String> {
    let optarif = frame.get("OPTARIF").map(|g| g.value);
    labels::default_wanted(frame.mode, optarif)
        .into_iter()
        .filter(|l| frame.get(l).is_some())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tic::encode::push_frame;
    use crate::tic::{Config, Decoder};

    /// A frame of these groups, the checksums of the `bad` ones damaged.
    fn frame_bytes(mode: Mode, groups: &[(&str, Option<&str>, &str)], bad: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        push_frame(&mut v, mode, groups);
        // Each group ends `checksum CR`, and the frame with ETX: find each bad group's CR.
        let mut cr = 0;
        for (l, _, _) in groups {
            cr += v[cr..]
                .iter()
                .position(|&b| b == b'\r')
                .expect("a CR per group")
                + 1;
            if bad.contains(l) {
                let k = cr - 2;
                v[k] = if v[k] == b'A' { b'B' } else { b'A' };
            }
        }
        v
    }

    /// Feeds one frame at host time `host` (the stream clock follows the host clock);
    /// returns the outcome and the records it made ready.
    fn accept(r: &mut Recorder, bytes: &[u8], host: &str) -> (Outcome, Vec<Record>) {
        let mut d = Decoder::new(Config::default());
        let (f, _) = d.decode(bytes);
        let host = DateTime::parse_from_rfc3339(host).unwrap().to_utc();
        let clocks = Clocks {
            host,
            stream_ms: (host.timestamp_millis() - 1_700_000_000_000) as u64,
        };
        let o = r.accept(&f.unwrap(), clocks);
        (o, r.take_ready().collect())
    }

    /// Host times a second apart from 10:00:00.700Z.
    fn host(k: u32) -> String {
        format!("2026-05-01T10:{:02}:{:02}.700Z", k / 60, k % 60)
    }

    fn historique(extra_bad: &[&str]) -> Vec<u8> {
        frame_bytes(
            Mode::Historique,
            &[
                ("ADCO", None, "031328187235"),
                ("OPTARIF", None, "HC.."),
                ("ISOUSC", None, "30"),
                ("HCHC", None, "006906827"),
                ("HCHP", None, "007617931"),
                ("PTEC", None, "HP.."),
                ("IINST", None, "003"),
                ("IMAX", None, "090"),
                ("PAPP", None, "00680"),
            ],
            extra_bad,
        )
    }

    #[test]
    fn historique_record_uses_host_time_and_contract_labels() {
        let mut r = Recorder::new(RecordConfig::default());
        // The first frames are held until three agree on the time.
        assert_eq!(
            accept(&mut r, &historique(&[]), &host(0)),
            (Outcome::Held, vec![])
        );
        assert_eq!(accept(&mut r, &historique(&[]), &host(1)).0, Outcome::Held);
        let (o, ready) = accept(&mut r, &historique(&[]), &host(2));
        assert_eq!(o, Outcome::Ready);
        assert_eq!(ready.len(), 3);
        assert_eq!(
            r.columns().unwrap().join(","),
            "time,time_source,ADCO,OPTARIF,ISOUSC,PTEC,HCHC,HCHP,PAPP,IINST"
        );
        assert_eq!(ready[0].time.to_rfc3339(), "2026-05-01T12:00:00+02:00");
        assert_eq!(ready[0].columns, r.columns().unwrap());
        assert_eq!(
            ready[0].cells.join(","),
            "host,031328187235,HC..,30,HP..,6906827,7617931,680,3"
        );
        assert_eq!(ready[0].get("HCHP"), Some("7617931"));
        // Same second: skipped; a failed unwanted label (IMAX) does not drop the record.
        let same = "2026-05-01T10:00:02.900Z";
        assert_eq!(
            accept(&mut r, &historique(&[]), same).0,
            Outcome::Skipped(Skip::NotAfterLast)
        );
        assert_eq!(
            accept(&mut r, &historique(&["IMAX"]), &host(3)).0,
            Outcome::Ready
        );
        assert_eq!(
            accept(&mut r, &historique(&["HCHP"]), &host(4)).0,
            Outcome::Skipped(Skip::BadWanted("HCHP".into()))
        );
    }

    #[test]
    fn shape_waits_for_a_clean_frame_that_identifies_a_meter() {
        let mut r = Recorder::new(RecordConfig::default());
        assert_eq!(
            accept(&mut r, &historique(&["IMAX"]), &host(0)).0,
            Outcome::Skipped(Skip::ShapeUnknown)
        );
        // A junk frame: one verified group of an unknown label, or no meter address, or no
        // index: it teaches nothing.
        for junk in [
            frame_bytes(Mode::Historique, &[("ZZZZ", None, "1")], &[]),
            frame_bytes(Mode::Standard, &[("NGTF", None, "BASE")], &[]),
            frame_bytes(
                Mode::Historique,
                &[("OPTARIF", None, "BASE"), ("BASE", None, "000000100")],
                &[],
            ),
            frame_bytes(
                Mode::Historique,
                &[("ADCO", None, "031328187235"), ("PAPP", None, "00680")],
                &[],
            ),
        ] {
            assert_eq!(
                accept(&mut r, &junk, &host(1)).0,
                Outcome::Skipped(Skip::ShapeUnknown)
            );
            assert!(r.columns().is_none());
        }
        assert_eq!(accept(&mut r, &historique(&[]), &host(2)).0, Outcome::Held);
        assert!(r.labels().unwrap().contains(&"HCHC".to_owned()));
    }

    fn standard(date: &str, bad: &[&str]) -> Vec<u8> {
        frame_bytes(
            Mode::Standard,
            &[
                ("ADSC", None, "041876097171"),
                ("DATE", Some(date), ""),
                ("NGTF", None, "      BASE      "),
                ("EAST", None, "000001000"),
                ("SINSTS", None, "00240"),
            ],
            bad,
        )
    }

    /// Feeds standard frames of these DATEs a second apart; returns the records made.
    fn feed_dates(r: &mut Recorder, dates: &[&str]) -> Vec<Record> {
        let mut out = Vec::new();
        for (k, d) in dates.iter().enumerate() {
            out.extend(accept(r, &standard(d, &[]), &host(k as u32)).1);
        }
        r.finish();
        out.extend(r.take_ready());
        out
    }

    #[test]
    fn standard_record_uses_date_and_every() {
        let mut r = Recorder::new(RecordConfig {
            labels: None,
            every: Some(Duration::minutes(1)),
        });
        let out = feed_dates(
            &mut r,
            &[
                "E261025025958",
                "E261025025959",
                // The repeated hour: 02:00:30 winter time is after 02:59:59 summer time.
                "h261025020030",
                "H261025020045",
                "H261025020100",
            ],
        );
        assert_eq!(
            r.columns().unwrap().join(","),
            "time,time_source,DATE,ADSC,NGTF,EAST,SINSTS"
        );
        let times: Vec<_> = out.iter().map(|r| r.time.to_rfc3339()).collect();
        assert_eq!(
            times,
            [
                "2026-10-25T02:59:58+02:00",
                "2026-10-25T02:00:30+01:00",
                "2026-10-25T02:01:00+01:00"
            ]
        );
        assert_eq!(
            out[0].cells.join(","),
            "meter,E261025025958,041876097171,BASE,1000,240"
        );
        assert_eq!(out[0].power_va, Some(240));
        assert_eq!(out[1].source, TimeSource::MeterDegraded);
        assert_eq!(r.stats().same_interval, 2);
        assert_eq!(
            accept(&mut r, &standard("H261025020200", &["DATE"]), &host(9)).0,
            Outcome::Skipped(Skip::BadWanted("DATE".into()))
        );
    }

    #[test]
    fn one_frame_with_a_wrong_date_never_moves_the_time() {
        let mut r = Recorder::new(RecordConfig::default());
        let out = feed_dates(
            &mut r,
            &[
                "H260101120000",
                "H260101120001",
                "H260101120002",
                // Two characters changed, the checksum still right: ten years ahead.
                "H360101120003",
                "H260101120004",
                "H260101120005",
            ],
        );
        let times: Vec<_> = out.iter().map(|r| r.time.timestamp() % 60).collect();
        assert_eq!(times, [0, 1, 2, 4, 5]);
        assert!(out.iter().all(|r| chrono::Datelike::year(&r.time) == 2026));
        assert_eq!(r.stats().timeline.glitches, 1);
    }

    #[test]
    fn a_clock_set_back_is_followed_and_announced() {
        let mut r = Recorder::new(RecordConfig::default());
        let out = feed_dates(
            &mut r,
            &[
                "H260101120000",
                "H260101120001",
                "H260101120002",
                "H260101110003",
                "H260101110004",
                "H260101110005",
            ],
        );
        assert_eq!(out.len(), 6);
        let jump = out[3]
            .jump
            .expect("the first record after the change says so");
        assert_eq!(jump.to - jump.from, -3600 + 1);
        assert_eq!(r.stats().timeline.jumps, 1);
    }

    #[test]
    fn impossible_date_is_a_bad_wanted_label() {
        let mut r = Recorder::new(RecordConfig::default());
        assert_eq!(
            accept(&mut r, &standard("H261025020100", &[]), &host(0)).0,
            Outcome::Held
        );
        // Checksum verified, month 13: DATE was sent but is unusable, not missing.
        assert_eq!(
            accept(&mut r, &standard("H261325020101", &[]), &host(1)).0,
            Outcome::Skipped(Skip::BadWanted("DATE".into()))
        );
    }

    #[test]
    fn fixed_labels_and_missing_ones() {
        let mut r = Recorder::new(RecordConfig {
            labels: Some(vec!["EAST".into(), "PREF".into()]),
            every: None,
        });
        assert_eq!(
            accept(&mut r, &standard("H261025020100", &[]), &host(0)).0,
            Outcome::Skipped(Skip::MissingWanted("PREF".into()))
        );
    }

    #[test]
    fn shape_change_after_a_streak() {
        let mut r = Recorder::new(RecordConfig::default());
        for k in 0..3 {
            accept(&mut r, &historique(&[]), &host(k));
        }
        let old = r.columns().unwrap();
        let base = frame_bytes(
            Mode::Historique,
            &[
                ("ADCO", None, "031328187235"),
                ("OPTARIF", None, "BASE"),
                ("ISOUSC", None, "30"),
                ("BASE", None, "000000100"),
                ("PTEC", None, "TH.."),
                ("IINST", None, "003"),
                ("PAPP", None, "00680"),
            ],
            &[],
        );
        let mut changed = None;
        for s in 3..60 {
            let (_, ready) = accept(&mut r, &base, &host(s));
            if let Some(rec) = ready.first() {
                assert_ne!(rec.columns, old);
                changed = Some(s - 3 + 1);
                break;
            }
        }
        assert_eq!(changed, Some(SHAPE_CHANGE_STREAK));
        assert_eq!(
            r.columns().unwrap().join(","),
            "time,time_source,ADCO,OPTARIF,ISOUSC,PTEC,BASE,PAPP,IINST"
        );
    }

    #[test]
    fn a_host_clock_stepped_by_ntp_at_boot_is_followed_and_1970_never_recorded() {
        // A Pi without a real-time clock boots at 1970; NTP then steps the clock to today.
        let mut r = Recorder::new(RecordConfig::default());
        let frame = historique(&[]);
        let mut d = Decoder::new(Config::default());
        let (f, _) = d.decode(&frame);
        let f = f.unwrap();
        let mut made = Vec::new();
        let boot = DateTime::parse_from_rfc3339("1970-01-01T00:00:30Z")
            .unwrap()
            .to_utc();
        for k in 0..20 {
            let clocks = Clocks {
                host: boot + Duration::seconds(2 * k),
                stream_ms: 2000 * k as u64,
            };
            assert_eq!(r.accept(&f, clocks), Outcome::Skipped(Skip::UnsetClock));
        }
        let today = DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
            .unwrap()
            .to_utc();
        for k in 0..10 {
            let clocks = Clocks {
                host: today + Duration::seconds(2 * k),
                stream_ms: 40_000 + 2000 * k as u64,
            };
            r.accept(&f, clocks);
            made.extend(r.take_ready());
        }
        assert_eq!(made.len(), 10, "nothing lost once the clock is set");
        assert!(made.iter().all(|m| chrono::Datelike::year(&m.time) == 2026));
        assert_eq!(r.stats().timeline.unset_clock, 20);
        // Later, NTP corrects a clock that drifted 5 minutes ahead: followed after three
        // frames, said as a jump.
        let back = today + Duration::seconds(20 - 300);
        for k in 0..5 {
            let clocks = Clocks {
                host: back + Duration::seconds(2 * k),
                stream_ms: 60_000 + 2000 * k as u64,
            };
            r.accept(&f, clocks);
            made.extend(r.take_ready());
        }
        assert_eq!(made.len(), 15);
        assert!(made[10].jump.is_some_and(|j| j.to - j.from < -250));
    }

    #[test]
    fn a_jump_confirmed_by_incomplete_frames_goes_on_the_next_record() {
        // Found by the `record` fuzz target: the frames that confirm a jump back may all lack
        // a wanted label, and the next record must still say the time went back.
        let mut r = Recorder::new(RecordConfig::default());
        let mut made = feed_dates(&mut r, &["H260101120000", "H260101120001", "H260101120002"]);
        for (k, date) in ["H260101115958", "H260101115959", "H260101120000"]
            .iter()
            .enumerate()
        {
            let frame = frame_bytes(
                Mode::Standard,
                &[
                    ("ADSC", None, "041876097171"),
                    ("DATE", Some(date), ""),
                    ("NGTF", None, "      BASE      "),
                    ("SINSTS", None, "00240"),
                ],
                &[],
            );
            let (o, ready) = accept(&mut r, &frame, &host(10 + k as u32));
            assert_eq!(o, Outcome::Skipped(Skip::MissingWanted("EAST".into())));
            assert!(ready.is_empty());
        }
        let (o, ready) = accept(&mut r, &standard("H260101120001", &[]), &host(13));
        assert_eq!(o, Outcome::Ready);
        made.extend(ready);
        let last = made.last().unwrap();
        assert_eq!(last.time.timestamp() % 60, 1);
        assert!(last.jump.is_some_and(|j| j.to < j.from), "{last:?}");
    }
}
