//! From frames to complete records: which labels are wanted, when a frame makes a record,
//! and what time it gets. Sans-IO: the host clock is passed in by the caller.
//!
//! ## Rules
//! - A record is made only from a frame in which every wanted label is present and
//!   verified. A frame missing one, or with a failed checksum on one, is skipped and counted;
//!   a failed checksum on a label nobody asked for does not drop the record.
//! - Wanted labels default to the meter's shape, read from the first frame with no failed
//!   group (see [`default_labels`]); `--labels` overrides them. If the meter's shape changes
//!   (30 clean frames in a row lack a wanted label, e.g. after a contract change), the
//!   labels are derived again and the caller is told the columns changed.
//! - Time: standard mode stamps each record with the instant of its DATE (season letter
//!   included, so the repeated October hour is exact); historique mode, which has no DATE,
//!   with the host clock. Both are truncated to the second.
//! - At most one record per second, in increasing time order: a frame whose time is not
//!   after the last record's is skipped (frames come every ~0.9 s and repeat a DATE).
//! - `every`: only the first complete record of each interval is kept (intervals aligned on
//!   the Unix epoch, so `1min` and `15min` fall on the minute, `1h` on the hour).

use chrono::{DateTime, Duration, FixedOffset, Timelike, Utc};

use crate::store::{cell, TimeSource, TZ};
use crate::tic::{labels, Frame, Mode};

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
    /// No clean frame yet to learn the meter's shape from.
    ShapeUnknown,
    /// A wanted label failed its checksum.
    BadWanted(String),
    /// A wanted label is absent.
    MissingWanted(String),
    /// Standard mode without a verified, seasoned DATE.
    NoTime,
    /// Not after the last record (same second, or the clock went back).
    NotAfterLast,
    /// Another record was already kept in this `every` interval.
    SameInterval,
}

/// A complete record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its time, to the second, with the offset the meter gave (or Europe/Paris's for host time).
    pub time: DateTime<FixedOffset>,
    /// Where the time comes from.
    pub source: TimeSource,
    /// `time_source` then one cell per wanted label.
    pub cells: Vec<String>,
    /// SINSTS or PAPP, VA, for status lines.
    pub power_va: Option<u32>,
}

/// What [`Recorder::accept`] made of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A record to store. `columns_changed`: the wanted labels changed with this record (a
    /// new file must be opened for the new columns).
    Record {
        /// The record.
        record: Record,
        /// The columns are new (first record, or the meter's shape changed).
        columns_changed: bool,
    },
    /// No record.
    Skipped(Skip),
}

/// Counts since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Records made.
    pub records: u64,
    /// Frames skipped because a wanted label failed or was absent.
    pub incomplete: u64,
    /// Frames skipped for time reasons (no DATE, same second, same interval).
    pub time_skips: u64,
    /// Frames seen before the shape was known.
    pub before_shape: u64,
    /// Times the shape was derived again.
    pub shape_changes: u64,
}

/// Chooses records from frames.
#[derive(Debug)]
pub struct Recorder {
    cfg: RecordConfig,
    wanted: Option<Vec<String>>,
    announced: bool,
    last: Option<DateTime<FixedOffset>>,
    last_bucket: Option<i64>,
    missing_streak: u32,
    stats: RecordStats,
}

/// Clean frames in a row lacking a wanted label before the shape is derived again.
const SHAPE_CHANGE_STREAK: u32 = 30;

impl Recorder {
    /// A recorder with this configuration.
    pub fn new(cfg: RecordConfig) -> Recorder {
        let wanted = cfg.labels.clone();
        Recorder {
            cfg,
            wanted,
            announced: false,
            last: None,
            last_bucket: None,
            missing_streak: 0,
            stats: RecordStats::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> &RecordStats {
        &self.stats
    }

    /// The wanted labels, once known.
    pub fn labels(&self) -> Option<&[String]> {
        self.wanted.as_deref()
    }

    /// The file columns: `time`, `time_source`, then the wanted labels.
    pub fn columns(&self) -> Option<Vec<String>> {
        let wanted = self.wanted.as_ref()?;
        let mut c = vec!["time".to_owned(), "time_source".to_owned()];
        c.extend(wanted.iter().cloned());
        Some(c)
    }

    /// Decides whether `frame` makes a record; `host_now` stamps historique records.
    pub fn accept(&mut self, frame: &Frame<'_>, host_now: DateTime<Utc>) -> Outcome {
        if self.wanted.is_none() {
            if frame.bad_count() > 0 {
                self.stats.before_shape += 1;
                return Outcome::Skipped(Skip::ShapeUnknown);
            }
            self.wanted = Some(default_labels(frame));
        }
        let mut columns_changed = !self.announced;
        if let Err(skip) = self.check_complete(frame) {
            let absent = matches!(skip, Skip::MissingWanted(_));
            if absent && frame.bad_count() == 0 && self.cfg.labels.is_none() {
                self.missing_streak += 1;
                if self.missing_streak >= SHAPE_CHANGE_STREAK {
                    let labels = default_labels(frame);
                    if Some(&labels) != self.wanted.as_ref() {
                        self.wanted = Some(labels);
                        self.stats.shape_changes += 1;
                        columns_changed = true;
                    }
                    self.missing_streak = 0;
                }
            }
            if !columns_changed || self.check_complete(frame).is_err() {
                self.stats.incomplete += 1;
                return Outcome::Skipped(skip);
            }
        }
        self.missing_streak = 0;
        let (time, source) = match frame_time(frame, host_now) {
            Some(t) => t,
            None => {
                self.stats.time_skips += 1;
                return Outcome::Skipped(Skip::NoTime);
            }
        };
        if self.last.is_some_and(|last| time <= last) {
            self.stats.time_skips += 1;
            return Outcome::Skipped(Skip::NotAfterLast);
        }
        if let Some(every) = self.cfg.every {
            let secs = every.num_seconds().max(1);
            let bucket = time.timestamp().div_euclid(secs);
            if self.last_bucket == Some(bucket) {
                self.stats.time_skips += 1;
                return Outcome::Skipped(Skip::SameInterval);
            }
            self.last_bucket = Some(bucket);
        }
        self.last = Some(time);
        let wanted = self.wanted.as_ref().expect("known above");
        let mut cells = Vec::with_capacity(wanted.len() + 1);
        cells.push(source.as_str().to_owned());
        for label in wanted {
            let g = frame.get(label).expect("checked complete");
            cells.push(match (label.as_str(), g.horodate) {
                ("DATE", Some(h)) => h.to_owned(),
                _ => cell(label, g.value).into_owned(),
            });
        }
        let power_va = ["SINSTS", "PAPP"]
            .iter()
            .find_map(|l| frame.get(l))
            .and_then(|g| g.value.parse().ok());
        self.stats.records += 1;
        self.announced = true;
        Outcome::Record {
            record: Record {
                time,
                source,
                cells,
                power_va,
            },
            columns_changed,
        }
    }

    fn check_complete(&self, frame: &Frame<'_>) -> Result<(), Skip> {
        let wanted = self.wanted.as_ref().expect("known");
        for label in wanted {
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

    fn accept(r: &mut Recorder, bytes: &[u8], host: &str) -> Outcome {
        let mut d = Decoder::new(Config::default());
        let (f, _) = d.decode(bytes);
        r.accept(
            &f.unwrap(),
            DateTime::parse_from_rfc3339(host).unwrap().to_utc(),
        )
    }

    const HOST: &str = "2026-05-01T10:00:00.700Z";

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
        let Outcome::Record {
            record,
            columns_changed,
        } = accept(&mut r, &historique(&[]), HOST)
        else {
            panic!()
        };
        assert!(columns_changed);
        assert_eq!(
            r.columns().unwrap().join(","),
            "time,time_source,ADCO,OPTARIF,ISOUSC,PTEC,HCHC,HCHP,PAPP,IINST"
        );
        assert_eq!(record.time.to_rfc3339(), "2026-05-01T12:00:00+02:00");
        assert_eq!(
            record.cells.join(","),
            "host,031328187235,HC..,30,HP..,6906827,7617931,680,3"
        );
        // Same second: skipped; a failed unwanted label (IMAX) does not drop the record.
        assert_eq!(
            accept(&mut r, &historique(&[]), HOST),
            Outcome::Skipped(Skip::NotAfterLast)
        );
        let later = "2026-05-01T10:00:01.100Z";
        assert!(matches!(
            accept(&mut r, &historique(&["IMAX"]), later),
            Outcome::Record {
                columns_changed: false,
                ..
            }
        ));
        let later = "2026-05-01T10:00:02.100Z";
        assert_eq!(
            accept(&mut r, &historique(&["HCHP"]), later),
            Outcome::Skipped(Skip::BadWanted("HCHP".into()))
        );
    }

    #[test]
    fn shape_waits_for_a_clean_frame() {
        let mut r = Recorder::new(RecordConfig::default());
        assert_eq!(
            accept(&mut r, &historique(&["IMAX"]), HOST),
            Outcome::Skipped(Skip::ShapeUnknown)
        );
        assert!(matches!(
            accept(&mut r, &historique(&[]), HOST),
            Outcome::Record { .. }
        ));
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

    #[test]
    fn standard_record_uses_date_and_every() {
        let mut r = Recorder::new(RecordConfig {
            labels: None,
            every: Some(Duration::minutes(1)),
        });
        let Outcome::Record { record, .. } = accept(&mut r, &standard("E261025025959", &[]), HOST)
        else {
            panic!()
        };
        assert_eq!(record.time.to_rfc3339(), "2026-10-25T02:59:59+02:00");
        assert_eq!(
            r.columns().unwrap().join(","),
            "time,time_source,DATE,ADSC,NGTF,EAST,SINSTS"
        );
        assert_eq!(
            record.cells.join(","),
            "meter,E261025025959,041876097171,BASE,1000,240"
        );
        assert_eq!(record.power_va, Some(240));
        // The repeated hour: 02:00:30 winter time is after 02:59:59 summer time.
        let Outcome::Record { record, .. } = accept(&mut r, &standard("h261025020030", &[]), HOST)
        else {
            panic!()
        };
        assert_eq!(record.time.to_rfc3339(), "2026-10-25T02:00:30+01:00");
        assert_eq!(record.source, TimeSource::MeterDegraded);
        assert_eq!(
            accept(&mut r, &standard("H261025020045", &[]), HOST),
            Outcome::Skipped(Skip::SameInterval)
        );
        assert_eq!(
            accept(&mut r, &standard("H261025020100", &["DATE"]), HOST),
            Outcome::Skipped(Skip::BadWanted("DATE".into()))
        );
    }

    #[test]
    fn impossible_date_is_a_bad_wanted_label() {
        let mut r = Recorder::new(RecordConfig::default());
        assert!(matches!(
            accept(&mut r, &standard("H261025020100", &[]), HOST),
            Outcome::Record { .. }
        ));
        // Checksum verified, month 13: DATE was sent but is unusable, not missing.
        assert_eq!(
            accept(&mut r, &standard("H261325020101", &[]), HOST),
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
            accept(&mut r, &standard("H261025020100", &[]), HOST),
            Outcome::Skipped(Skip::MissingWanted("PREF".into()))
        );
    }

    #[test]
    fn shape_change_after_a_streak() {
        let mut r = Recorder::new(RecordConfig::default());
        assert!(matches!(
            accept(&mut r, &historique(&[]), HOST),
            Outcome::Record { .. }
        ));
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
        for s in 1..40 {
            let host = format!("2026-05-01T10:00:{s:02}.000Z");
            if let Outcome::Record {
                columns_changed: true,
                ..
            } = accept(&mut r, &base, &host)
            {
                changed = Some(s);
                break;
            }
        }
        assert_eq!(changed, Some(SHAPE_CHANGE_STREAK as i32));
        assert_eq!(
            r.columns().unwrap().join(","),
            "time,time_source,ADCO,OPTARIF,ISOUSC,PTEC,BASE,PAPP,IINST"
        );
    }
}
