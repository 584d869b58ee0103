//! HC schedules: the daily off-peak windows, their slots on a given day, and learning them
//! from the meter's recorded tariff period.
//!
//! ## Contract
//! - An [`HcSchedule`] is a set of daily local-time windows at minute precision, written
//!   `22:00-06:00` or `01:04-06:34,14:34-17:04` (`--hc`): a window may wrap past midnight,
//!   `24:00` may end one; windows must not overlap, be empty or cover the whole day.
//!   Adjacent windows merge (`22:00-24:00,00:00-06:00` is `22:00-06:00`).
//! - **Local times become instants** ([`local_instant`]) in Europe/Paris: a time in the
//!   October repeated hour is taken at its first occurrence (summer time, `+02:00`); a time
//!   in the March skipped hour is the instant the clock jumps (03:00 `+02:00`). So a window
//!   that ends or starts in the repeated hour keeps the repeat on the side after its
//!   boundary, one that lies inside the skipped hour is empty and dropped, and 22:00–06:00
//!   lasts 7 h on the March night and 9 h on the October one. A day lasts 23 h or 25 h.
//! - **Slots of a day** ([`HcSchedule::day`]): from local midnight to the next, cut at every
//!   window boundary, each with its [`Rate`] (HC inside a window, HP outside).
//! - **Learning** ([`learn`]): from `(instant, Rate)` observations in time order (the
//!   recorded tariff period), a switch is a change between HC and HP across two
//!   consecutive HC/HP observations at most [`MAX_SWITCH_GAP_S`] apart (records of other
//!   rates are skipped; a longer gap tells nothing). It is dated by the local wall-clock
//!   minute of the first observation at the new rate (records lag the meter, never lead
//!   it). Switches of one direction whose minutes lie within [`SWITCH_TOLERANCE_MIN`] of
//!   each other (around midnight too) form one switch time, kept when it was seen on at
//!   least half of the days on which any switch was seen (a day without records or with a
//!   gap over the switch does not count against it); its minute is the one seen most
//!   often, the earliest on a tie (one late record does not move it). The kept times must
//!   alternate into and out of HC around the day; otherwise, or with no switch at all,
//!   the schedule cannot be learned ([`ScheduleError::Unlearnable`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::store::TZ;
use crate::tic::labels::Rate;

/// Minutes in a day.
pub const DAY_MIN: u16 = 1440;

/// The longest time between two observations across which a switch is dated (15 min: a
/// `--every 15min` recording still learns, to the quarter hour).
pub const MAX_SWITCH_GAP_S: i64 = 15 * 60;

/// Switch minutes this close (in minutes) are one switch time seen on different days.
pub const SWITCH_TOLERANCE_MIN: u16 = 3;

/// A schedule error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// No window.
    #[error("no HC window in {text:?}: expected HH:MM-HH:MM[,HH:MM-HH:MM…]")]
    Empty {
        /// The schedule as given.
        text: String,
    },
    /// A window that is not `HH:MM-HH:MM`.
    #[error("bad HC window {window:?} in {text:?}: expected HH:MM-HH:MM")]
    BadWindow {
        /// The schedule as given.
        text: String,
        /// The window.
        window: String,
    },
    /// A time that is not `HH:MM`.
    #[error(
        "bad time {time:?} in {text:?}: expected HH:MM from 00:00 to 23:59 (24:00 only as an end)"
    )]
    BadTime {
        /// The schedule as given.
        text: String,
        /// The time.
        time: String,
    },
    /// A window of zero length.
    #[error("empty HC window {window:?} in {text:?}: it starts where it ends")]
    ZeroLength {
        /// The schedule as given.
        text: String,
        /// The window.
        window: String,
    },
    /// Two windows overlap.
    #[error("HC windows {a:?} and {b:?} overlap in {text:?}")]
    Overlap {
        /// The schedule as given.
        text: String,
        /// One window.
        a: String,
        /// The other.
        b: String,
    },
    /// Off-peak all day.
    #[error("HC windows {text:?} cover the whole day: that is not an HC/HP schedule")]
    WholeDay {
        /// The schedule as given.
        text: String,
    },
    /// A local day with no midnight (cannot happen in Europe/Paris).
    #[error("no local time {minute} min after midnight on {date}")]
    NoLocalTime {
        /// The day.
        date: NaiveDate,
        /// Minutes after its midnight.
        minute: u16,
    },
    /// The observations do not give a schedule.
    #[error("cannot learn the HC schedule: {reason}")]
    Unlearnable {
        /// Why.
        reason: String,
    },
    /// The regular switches observed make windows that are no schedule.
    #[error("cannot learn the HC schedule")]
    NotASchedule {
        /// Why the windows are no schedule.
        #[source]
        source: Box<ScheduleError>,
    },
}

/// Daily off-peak windows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HcSchedule {
    /// Disjoint, non-adjacent `[start, end)` minute ranges within `[0, 1440]`, increasing.
    ranges: Vec<(u16, u16)>,
}

/// One slot of a local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaySlot {
    /// Start (inclusive).
    pub start: DateTime<Tz>,
    /// End (exclusive).
    pub end: DateTime<Tz>,
    /// HC or HP.
    pub rate: Rate,
}

pub(crate) fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Parses `HH:MM` (or `H:MM`); `24:00` when `end`.
pub(crate) fn parse_minute(s: &str, end: bool) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 {
        return None;
    }
    match (h, m) {
        (24, 0) if end => Some(DAY_MIN),
        (0..=23, _) => Some(h * 60 + m),
        _ => None,
    }
}

/// Splits a window `[a, b)` (wrapping when `b <= a`) into ranges within `[0, 1440]`.
pub(crate) fn pieces(a: u16, b: u16) -> Vec<(u16, u16)> {
    if a < b {
        vec![(a, b)]
    } else {
        let mut v = Vec::with_capacity(2);
        if b > 0 {
            v.push((0, b));
        }
        if a < DAY_MIN {
            v.push((a, DAY_MIN));
        }
        v
    }
}

impl HcSchedule {
    /// 22:00–06:00, the regulated default and Tempo's hours.
    pub fn standard() -> HcSchedule {
        HcSchedule {
            ranges: vec![(0, 360), (1320, DAY_MIN)],
        }
    }

    /// A schedule from `(start, end)` minute windows (end ≤ start wraps past midnight;
    /// 1440 ends a window at midnight); `text` names it in errors.
    pub fn from_windows(windows: &[(u16, u16)], text: &str) -> Result<HcSchedule, ScheduleError> {
        if windows.is_empty() {
            return Err(ScheduleError::Empty { text: text.into() });
        }
        let show = |&(a, b): &(u16, u16)| format!("{}-{}", hhmm(a), hhmm(b));
        let mut all: Vec<((u16, u16), usize)> = Vec::new();
        for (i, w) in windows.iter().enumerate() {
            let &(a, b) = w;
            if a >= DAY_MIN || b > DAY_MIN {
                return Err(ScheduleError::BadTime {
                    text: text.into(),
                    time: hhmm(a.max(b)),
                });
            }
            if a == 0 && b == DAY_MIN {
                return Err(ScheduleError::WholeDay { text: text.into() });
            }
            if a == b {
                return Err(ScheduleError::ZeroLength {
                    text: text.into(),
                    window: show(w),
                });
            }
            for p in pieces(a, b) {
                if let Some(&(_, j)) = all.iter().find(|((c, d), _)| p.0 < *d && *c < p.1) {
                    return Err(ScheduleError::Overlap {
                        text: text.into(),
                        a: show(&windows[j]),
                        b: show(w),
                    });
                }
                all.push((p, i));
            }
        }
        let mut ranges: Vec<(u16, u16)> = all.into_iter().map(|(p, _)| p).collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if last.1 == r.0 => last.1 = r.1,
                _ => merged.push(r),
            }
        }
        if merged == [(0, DAY_MIN)] {
            return Err(ScheduleError::WholeDay { text: text.into() });
        }
        Ok(HcSchedule { ranges: merged })
    }

    /// Minutes of HC per (ordinary) day.
    pub fn hc_minutes(&self) -> u32 {
        self.ranges.iter().map(|&(a, b)| u32::from(b - a)).sum()
    }

    /// The rate at local minute `m` of the day (0..1440).
    pub fn rate_at_minute(&self, m: u16) -> Rate {
        if self.ranges.iter().any(|&(a, b)| a <= m && m < b) {
            Rate::Hc
        } else {
            Rate::Hp
        }
    }

    /// The rate at local time `t`.
    pub fn rate_at(&self, t: NaiveTime) -> Rate {
        // Whole minutes only: a window boundary is on a minute.
        self.rate_at_minute((t.hour() * 60 + t.minute()) as u16)
    }

    /// Every boundary of the day (minutes after midnight, 0 and 1440 excluded).
    pub fn cuts(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self
            .ranges
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .filter(|&m| m > 0 && m < DAY_MIN)
            .collect();
        v.dedup();
        v
    }

    /// The slots of local day `date`: midnight to midnight, cut at each boundary.
    pub fn day(&self, date: NaiveDate) -> Result<Vec<DaySlot>, ScheduleError> {
        Ok(cut_day(date, &self.cuts())?
            .into_iter()
            .map(|c| DaySlot {
                start: c.start,
                end: c.end,
                rate: self.rate_at_minute(c.minute),
            })
            .collect())
    }
}

impl Default for HcSchedule {
    fn default() -> Self {
        HcSchedule::standard()
    }
}

impl fmt::Display for HcSchedule {
    /// `22:00-06:00`, `01:04-06:34,14:34-17:04`: windows by start, the one wrapping past
    /// midnight last.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut r = self.ranges.clone();
        let wrap = r.len() > 1
            && r.first().is_some_and(|x| x.0 == 0)
            && r.last().is_some_and(|x| x.1 == DAY_MIN);
        let mut windows: Vec<(u16, u16)> = Vec::new();
        if wrap {
            let first = r.remove(0);
            let last = r.pop().unwrap_or(first);
            windows.extend(r);
            windows.push((last.0, first.1));
        } else {
            windows = r;
        }
        let s: Vec<String> = windows
            .iter()
            .map(|&(a, b)| format!("{}-{}", hhmm(a), hhmm(b)))
            .collect();
        f.write_str(&s.join(","))
    }
}

impl FromStr for HcSchedule {
    type Err = ScheduleError;

    /// `22:00-06:00[,HH:MM-HH:MM…]`; spaces around the parts are ignored.
    fn from_str(text: &str) -> Result<HcSchedule, ScheduleError> {
        let mut windows = Vec::new();
        for w in text.split(',') {
            if w.trim().is_empty() {
                if text.trim().is_empty() {
                    return Err(ScheduleError::Empty { text: text.into() });
                }
                return Err(ScheduleError::BadWindow {
                    text: text.into(),
                    window: w.into(),
                });
            }
            let (a, b) = w.split_once('-').ok_or_else(|| ScheduleError::BadWindow {
                text: text.into(),
                window: w.trim().into(),
            })?;
            let time = |s: &str, end: bool| {
                parse_minute(s, end).ok_or_else(|| ScheduleError::BadTime {
                    text: text.into(),
                    time: s.trim().into(),
                })
            };
            windows.push((time(a, false)?, time(b, true)?));
        }
        HcSchedule::from_windows(&windows, text)
    }
}

/// The instant of local minute `minute` (0..=1440) of `date`: an ambiguous time (October)
/// at its first occurrence, a skipped one (March) at the instant the clock jumps.
pub fn local_instant(date: NaiveDate, minute: u16) -> Result<DateTime<Tz>, ScheduleError> {
    let none = || ScheduleError::NoLocalTime { date, minute };
    let base = NaiveDateTime::from(date)
        .checked_add_signed(chrono::Duration::minutes(i64::from(minute)))
        .ok_or_else(none)?;
    // A skipped local time maps to the first local minute that exists after it.
    for k in 0..=180 {
        let t = base
            .checked_add_signed(chrono::Duration::minutes(k))
            .ok_or_else(none)?;
        if let Some(i) = TZ.from_local_datetime(&t).earliest() {
            return Ok(i);
        }
    }
    Err(none())
}

/// A piece of a local day between two cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    /// Start (inclusive).
    pub start: DateTime<Tz>,
    /// End (exclusive).
    pub end: DateTime<Tz>,
    /// The local minute of the day it starts at.
    pub minute: u16,
}

/// Cuts local day `date` at `cuts` (minutes, in any order; 0 and 1440 are added): the
/// non-empty pieces, in order.
pub(crate) fn cut_day(date: NaiveDate, cuts: &[u16]) -> Result<Vec<Cut>, ScheduleError> {
    let mut c: Vec<u16> = cuts.iter().copied().filter(|&m| m < DAY_MIN).collect();
    c.push(0);
    c.push(DAY_MIN);
    c.sort_unstable();
    c.dedup();
    let instants = c
        .iter()
        .map(|&m| local_instant(date, m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(c.windows(2)
        .zip(instants.windows(2))
        .filter(|(_, t)| t[1] > t[0])
        .map(|(m, t)| Cut {
            start: t[0],
            end: t[1],
            minute: m[0],
        })
        .collect())
}

/// A schedule learned from the recorded tariff period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learned {
    /// The schedule.
    pub schedule: HcSchedule,
    /// Days on which a switch was seen.
    pub days: usize,
    /// Switches that made the schedule.
    pub switches: usize,
    /// Switches left out (seen on too few days).
    pub ignored: usize,
}

/// One switch time seen over days.
struct Cluster {
    /// `(day, minute)` of each sighting.
    seen: Vec<(NaiveDate, u16)>,
}

impl Cluster {
    fn days(&self) -> usize {
        self.seen.iter().map(|s| s.0).collect::<BTreeSet<_>>().len()
    }

    /// The modal minute; on a tie the earliest, in the cluster's own order (a cluster
    /// spanning midnight starts before it).
    fn minute(&self) -> u16 {
        let mut count: BTreeMap<u16, usize> = BTreeMap::new();
        for &(_, m) in &self.seen {
            *count.entry(m).or_default() += 1;
        }
        // The cluster's start: the minute after the widest gap between its minutes.
        let ms: Vec<u16> = count.keys().copied().collect();
        let anchor = ms
            .iter()
            .enumerate()
            .max_by_key(|&(i, &m)| {
                let prev = if i == 0 {
                    ms[ms.len() - 1] as i32 - DAY_MIN as i32
                } else {
                    ms[i - 1] as i32
                };
                m as i32 - prev
            })
            .map_or(0, |(_, &m)| m);
        let key = |m: u16| (m + DAY_MIN - anchor) % DAY_MIN;
        count
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(key(*b.0).cmp(&key(*a.0))))
            .map_or(0, |(&m, _)| m)
    }
}

fn circular_gap(a: u16, b: u16) -> u16 {
    let d = a.abs_diff(b);
    d.min(DAY_MIN - d)
}

/// Groups sightings whose minutes chain within the tolerance, around midnight too.
fn clusters(mut seen: Vec<(NaiveDate, u16)>) -> Vec<Cluster> {
    seen.sort_by_key(|s| s.1);
    let mut out: Vec<Cluster> = Vec::new();
    for s in seen {
        match out.last_mut() {
            Some(c)
                if c.seen
                    .last()
                    .is_some_and(|l| s.1 - l.1 <= SWITCH_TOLERANCE_MIN) =>
            {
                c.seen.push(s)
            }
            _ => out.push(Cluster { seen: vec![s] }),
        }
    }
    if out.len() > 1 {
        let first = out[0].seen.first().map(|s| s.1);
        let last = out[out.len() - 1].seen.last().map(|s| s.1);
        if let (Some(f), Some(l)) = (first, last) {
            if circular_gap(f, l) <= SWITCH_TOLERANCE_MIN {
                let tail = out.pop().map(|c| c.seen).unwrap_or_default();
                out[0].seen.extend(tail);
            }
        }
    }
    out
}

/// Learns the HC schedule from `(instant, rate)` observations in time order (see the
/// module's contract).
pub fn learn<I>(observations: I) -> Result<Learned, ScheduleError>
where
    I: IntoIterator<Item = (DateTime<Tz>, Rate)>,
{
    let mut prev: Option<(DateTime<Tz>, Rate)> = None;
    let mut into_hc = Vec::new();
    let mut out_of_hc = Vec::new();
    let mut n = 0usize;
    for (t, rate) in observations {
        if rate == Rate::Other {
            continue;
        }
        if let Some((pt, pr)) = prev {
            if t <= pt {
                continue;
            }
            if rate != pr && (t - pt).num_seconds() <= MAX_SWITCH_GAP_S {
                let local = t.with_timezone(&TZ);
                let m = (local.hour() * 60 + local.minute()) as u16;
                let sighting = (local.date_naive(), m);
                if rate == Rate::Hc {
                    into_hc.push(sighting);
                } else {
                    out_of_hc.push(sighting);
                }
            }
        }
        n += 1;
        prev = Some((t, rate));
    }
    let unlearnable = |reason: String| ScheduleError::Unlearnable { reason };
    if n == 0 {
        return Err(unlearnable("no HC or HP record".into()));
    }
    let days: BTreeSet<NaiveDate> = into_hc.iter().chain(&out_of_hc).map(|s| s.0).collect();
    if days.is_empty() {
        return Err(unlearnable(format!(
            "no switch between HC and HP in {n} records"
        )));
    }
    let total = into_hc.len() + out_of_hc.len();
    let mut switches: Vec<(u16, Rate)> = Vec::new();
    let mut used = 0;
    for (seen, rate) in [(into_hc, Rate::Hc), (out_of_hc, Rate::Hp)] {
        for c in clusters(seen) {
            if c.days() * 2 >= days.len() {
                used += c.seen.len();
                switches.push((c.minute(), rate));
            }
        }
    }
    switches.sort_unstable_by_key(|&(m, r)| (m, r == Rate::Hp));
    let describe = |v: &[(u16, Rate)]| {
        v.iter()
            .map(|&(m, r)| {
                let to = if r == Rate::Hc { "HC" } else { "HP" };
                format!("{} to {to}", hhmm(m))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let alternate = !switches.is_empty()
        && switches
            .iter()
            .zip(switches.iter().cycle().skip(1))
            .all(|(a, b)| a.1 != b.1);
    if !alternate {
        return Err(unlearnable(format!(
            "the regular switches over {} days ({}) do not alternate between HC and HP",
            days.len(),
            describe(&switches)
        )));
    }
    let windows: Vec<(u16, u16)> = switches
        .iter()
        .zip(switches.iter().cycle().skip(1))
        .filter(|(a, _)| a.1 == Rate::Hc)
        .map(|(a, b)| (a.0, b.0))
        .collect();
    let schedule = HcSchedule::from_windows(&windows, &describe(&switches)).map_err(|e| {
        ScheduleError::NotASchedule {
            source: Box::new(e),
        }
    })?;
    Ok(Learned {
        schedule,
        days: days.len(),
        switches: used,
        ignored: total - used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn hc(s: &str) -> HcSchedule {
        s.parse().expect("test schedule")
    }

    #[test]
    fn parses_and_prints() {
        for (text, shown, minutes) in [
            ("22:00-06:00", "22:00-06:00", 480),
            (
                " 01:04-06:34 , 14:34-17:04 ",
                "01:04-06:34,14:34-17:04",
                480,
            ),
            ("22:00-24:00,00:00-06:00", "22:00-06:00", 480),
            ("12:30-14:30,22:30-04:30", "12:30-14:30,22:30-04:30", 480),
            ("2:00-7:00,12:00-15:00", "02:00-07:00,12:00-15:00", 480),
            ("00:00-08:00", "00:00-08:00", 480),
            ("20:00-24:00", "20:00-24:00", 240),
        ] {
            let s = hc(text);
            assert_eq!(s.to_string(), shown, "{text}");
            assert_eq!(s.hc_minutes(), minutes, "{text}");
            assert_eq!(hc(shown), s, "round trip {text}");
        }
        assert_eq!(HcSchedule::standard(), hc("22:00-06:00"));
        let s = hc("01:04-06:34,14:34-17:04");
        for (t, want) in [
            ("01:03", Rate::Hp),
            ("01:04", Rate::Hc),
            ("06:33", Rate::Hc),
            ("06:34", Rate::Hp),
            ("15:00", Rate::Hc),
            ("17:04", Rate::Hp),
        ] {
            let t = NaiveTime::parse_from_str(t, "%H:%M").expect("time");
            assert_eq!(s.rate_at(t), want, "{t}");
        }
    }

    #[test]
    fn parse_errors() {
        for (text, want) in [
            ("", "no HC window in \"\": expected HH:MM-HH:MM[,HH:MM-HH:MM…]"),
            ("22:00", "bad HC window \"22:00\" in \"22:00\": expected HH:MM-HH:MM"),
            ("22:00-06:00,", "bad HC window \"\" in \"22:00-06:00,\": expected HH:MM-HH:MM"),
            ("25:00-06:00", "bad time \"25:00\" in \"25:00-06:00\": expected HH:MM from 00:00 to 23:59 (24:00 only as an end)"),
            ("22:60-06:00", "bad time \"22:60\" in \"22:60-06:00\": expected HH:MM from 00:00 to 23:59 (24:00 only as an end)"),
            ("24:00-06:00", "bad time \"24:00\" in \"24:00-06:00\": expected HH:MM from 00:00 to 23:59 (24:00 only as an end)"),
            ("22h00-06h00", "bad time \"22h00\" in \"22h00-06h00\": expected HH:MM from 00:00 to 23:59 (24:00 only as an end)"),
            ("22:00-6", "bad time \"6\" in \"22:00-6\": expected HH:MM from 00:00 to 23:59 (24:00 only as an end)"),
            ("+2:00-06:00", "bad time \"+2:00\" in \"+2:00-06:00\": expected HH:MM from 00:00 to 23:59 (24:00 only as an end)"),
            ("06:00-06:00", "empty HC window \"06:00-06:00\" in \"06:00-06:00\": it starts where it ends"),
            ("22:00-06:00,05:00-07:00", "HC windows \"22:00-06:00\" and \"05:00-07:00\" overlap in \"22:00-06:00,05:00-07:00\""),
            ("01:00-03:00,02:59-04:00", "HC windows \"01:00-03:00\" and \"02:59-04:00\" overlap in \"01:00-03:00,02:59-04:00\""),
            ("00:00-24:00", "HC windows \"00:00-24:00\" cover the whole day: that is not an HC/HP schedule"),
            ("12:00-00:00,00:00-12:00", "HC windows \"12:00-00:00,00:00-12:00\" cover the whole day: that is not an HC/HP schedule"),
        ] {
            let e = text.parse::<HcSchedule>().expect_err(want);
            assert_eq!(e.to_string(), want);
        }
    }

    /// `(local start, local end with offset, rate)` of each slot.
    fn slots(s: &HcSchedule, date: &str) -> Vec<(String, String, Rate)> {
        s.day(day(date))
            .expect("day")
            .into_iter()
            .map(|d| {
                (
                    d.start.format("%H:%M%:z").to_string(),
                    d.end.format("%H:%M%:z").to_string(),
                    d.rate,
                )
            })
            .collect()
    }

    #[test]
    fn slots_of_ordinary_and_dst_days() {
        let std = HcSchedule::standard();
        let (hc_, hp) = (Rate::Hc, Rate::Hp);
        let s = |a: &str, b: &str, r| (a.to_owned(), b.to_owned(), r);
        assert_eq!(
            slots(&std, "2025-01-15"),
            [
                s("00:00+01:00", "06:00+01:00", hc_),
                s("06:00+01:00", "22:00+01:00", hp),
                s("22:00+01:00", "00:00+01:00", hc_)
            ]
        );
        // 30 March 2025: 02:00 → 03:00. The first HC slot lasts 5 h, the day 23 h.
        let d = std.day(day("2025-03-30")).expect("day");
        assert_eq!((d[0].end - d[0].start).num_hours(), 5);
        assert_eq!((d[2].end - d[0].start).num_hours(), 23);
        // 26 October 2025: 03:00 → 02:00. The first HC slot lasts 7 h, the day 25 h.
        let d = std.day(day("2025-10-26")).expect("day");
        assert_eq!((d[0].end - d[0].start).num_hours(), 7);
        assert_eq!((d[2].end - d[0].start).num_hours(), 25);
        // Windows with a boundary inside the changed hour.
        let odd = hc("02:30-06:30,14:00-16:00");
        assert_eq!(
            slots(&odd, "2025-03-30"),
            [
                s("00:00+01:00", "03:00+02:00", hp), // 02:30 does not exist: 03:00
                s("03:00+02:00", "06:30+02:00", hc_),
                s("06:30+02:00", "14:00+02:00", hp),
                s("14:00+02:00", "16:00+02:00", hc_),
                s("16:00+02:00", "00:00+02:00", hp)
            ]
        );
        assert_eq!(
            slots(&odd, "2025-10-26"),
            [
                // 02:30 at its first occurrence: the repeated 02:00–03:00 is HC.
                s("00:00+02:00", "02:30+02:00", hp),
                s("02:30+02:00", "06:30+01:00", hc_),
                s("06:30+01:00", "14:00+01:00", hp),
                s("14:00+01:00", "16:00+01:00", hc_),
                s("16:00+01:00", "00:00+01:00", hp)
            ]
        );
        // A window inside the skipped hour is empty that day.
        let inside = hc("02:10-02:50,22:00-01:10");
        assert_eq!(
            slots(&inside, "2025-03-30"),
            [
                s("00:00+01:00", "01:10+01:00", hc_),
                s("01:10+01:00", "03:00+02:00", hp),
                s("03:00+02:00", "22:00+02:00", hp),
                s("22:00+02:00", "00:00+02:00", hc_)
            ]
        );
    }

    fn at(s: &str) -> DateTime<Tz> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&TZ)
    }

    /// Observations every `step_s` seconds from `from` for `days` days under `truth`,
    /// starting at `offset_s` past the minute.
    fn observe(
        truth: &HcSchedule,
        from: &str,
        days: i64,
        step_s: i64,
        offset_s: i64,
    ) -> Vec<(DateTime<Tz>, Rate)> {
        let start = at(from) + chrono::Duration::seconds(offset_s);
        (0..days * 86_400 / step_s)
            .map(|k| {
                let t = start + chrono::Duration::seconds(k * step_s);
                (t, truth.rate_at(t.time()))
            })
            .collect()
    }

    #[test]
    fn learns_the_meter_schedule() {
        // (schedule, seconds between records, seconds past the minute of the first, days)
        let cases = [
            ("22:00-06:00", 60, 0, 14),
            ("22:00-06:00", 60, 37, 14),
            ("22:00-06:00", 10, 3, 3),
            // Records every 15 min (`--every 15min`) date switches on the quarter hour.
            ("22:00-06:00", 900, 0, 14),
            ("23:30-07:30", 900, 0, 14),
            ("01:04-06:34,14:34-17:04", 60, 0, 14),
            ("01:04-06:34,14:34-17:04", 60, 59, 14),
            ("01:04-06:34,14:34-17:04", 1, 0, 2),
            ("23:58-07:58", 60, 30, 14),
            // One day of records is enough.
            ("01:04-06:34,14:34-17:04", 60, 0, 1),
        ];
        for (truth, step, offset, days) in cases {
            let truth = hc(truth);
            let obs = observe(&truth, "2025-03-03T00:00:00+01:00", days, step, offset);
            let l = learn(obs).expect("learns");
            assert_eq!(l.schedule, truth, "{truth} step {step} offset {offset}");
            assert_eq!(l.days, days as usize);
            assert_eq!(l.ignored, 0);
        }
        // Coarse records cannot resolve 01:04: the first record at the new rate dates it.
        let truth = hc("01:04-06:34,14:34-17:04");
        let l = learn(observe(&truth, "2025-03-03T00:00:00+01:00", 14, 900, 0)).expect("learns");
        assert_eq!(l.schedule.to_string(), "01:15-06:45,14:45-17:15");
    }

    #[test]
    fn learning_tolerates_gaps_late_records_and_noise() {
        let truth = hc("01:04-06:34,14:34-17:04");
        let mut obs = observe(&truth, "2025-03-03T00:00:00+01:00", 14, 60, 20);
        // A day without records at all, and one with a 3-hour gap over 14:34.
        let day4 = at("2025-03-07T00:00:00+01:00");
        let day5 = at("2025-03-08T00:00:00+01:00");
        obs.retain(|(t, _)| *t < day4 || *t >= day5);
        let gap_from = at("2025-03-10T13:00:00+01:00");
        let gap_to = at("2025-03-10T16:00:00+01:00");
        obs.retain(|(t, _)| *t < gap_from || *t >= gap_to);
        // Two days see the 06:34 switch one record late.
        for late in ["2025-03-11T06:34:20+01:00", "2025-03-12T06:34:20+01:00"] {
            let t = at(late);
            if let Some(o) = obs.iter_mut().find(|o| o.0 == t) {
                o.1 = Rate::Hc;
            }
        }
        // One day the period flips to HP for two minutes at 03:00 (an odd frame).
        for odd in ["2025-03-13T03:00:20+01:00", "2025-03-13T03:01:20+01:00"] {
            let t = at(odd);
            if let Some(o) = obs.iter_mut().find(|o| o.0 == t) {
                o.1 = Rate::Hp;
            }
        }
        // Records of another rate are skipped.
        obs.push((at("2025-03-20T12:00:00+01:00"), Rate::Other));
        let l = learn(obs).expect("learns");
        assert_eq!(l.schedule, truth);
        assert_eq!(l.days, 13);
        assert_eq!(l.ignored, 2, "the 03:00 flip, in and out");
    }

    #[test]
    fn learning_across_a_dst_change_keeps_wall_clock_times() {
        let truth = HcSchedule::standard();
        let obs: Vec<_> = (0..7 * 24 * 60)
            .map(|k| {
                let t = at("2025-10-22T00:00:30+02:00") + chrono::Duration::minutes(k);
                (t, truth.rate_at(t.time()))
            })
            .collect();
        assert_eq!(learn(obs).expect("learns").schedule, truth);
    }

    #[test]
    fn cannot_learn() {
        assert_eq!(
            learn(Vec::new()).expect_err("nothing").to_string(),
            "cannot learn the HC schedule: no HC or HP record"
        );
        let flat: Vec<_> = (0..100)
            .map(|k| {
                (
                    at("2025-03-03T00:00:00+01:00") + chrono::Duration::minutes(k),
                    Rate::Hp,
                )
            })
            .collect();
        assert_eq!(
            learn(flat).expect_err("flat").to_string(),
            "cannot learn the HC schedule: no switch between HC and HP in 100 records"
        );
        // Two different schedules, a week each: four switch times, none on half the days
        // … or all on exactly half: they do not alternate.
        let mut obs = observe(&hc("22:00-06:00"), "2025-03-03T00:00:00+01:00", 7, 60, 0);
        obs.extend(observe(
            &hc("23:00-07:00"),
            "2025-03-10T00:00:00+01:00",
            7,
            60,
            0,
        ));
        let e = learn(obs).expect_err("two schedules");
        assert_eq!(
            e.to_string(),
            "cannot learn the HC schedule: the regular switches over 14 days (06:00 to HP, 07:00 to HP, 22:00 to HC, 23:00 to HC) do not alternate between HC and HP"
        );
        // Switches across long gaps date nothing.
        let sparse: Vec<_> = (0..200)
            .map(|k| {
                let t = at("2025-03-03T00:00:00+01:00") + chrono::Duration::minutes(k * 20);
                (t, HcSchedule::standard().rate_at(t.time()))
            })
            .collect();
        assert!(learn(sparse).is_err());
    }

    #[test]
    fn local_instants() {
        let f = |d: &str, m: u16| local_instant(day(d), m).expect("instant").to_rfc3339();
        assert_eq!(f("2025-03-30", 150), "2025-03-30T03:00:00+02:00");
        assert_eq!(f("2025-10-26", 150), "2025-10-26T02:30:00+02:00");
        assert_eq!(f("2025-10-26", 180), "2025-10-26T03:00:00+01:00");
        assert_eq!(f("2025-12-31", 1440), "2026-01-01T00:00:00+01:00");
    }
}
