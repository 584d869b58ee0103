//! The summary index: per local day, a small summary of the day's records by UTC hour, cached
//! in the data directory ([`crate::store::SummaryCache`], which keeps the text) so that a
//! later export does not read the day's files again.
//!
//! A summary holds, per UTC hour with records: the number of rows, the covered seconds and the
//! longest gap between consecutive records inside the hour, and the first and last record's
//! time and energy indexes (and the record before the last: the guards decide on the day's
//! last two records); per day: the first record in full, the meter, the last subscribed
//! power, the last LTARF seen for each NTARF, and whether every step between consecutive
//! records of the day is *clean* (no guard would fire: no decrease, no zero, no jump above the
//! subscribed power, no start from zero, one meter, the same energy cells present in every row,
//! no row out of order); for a clean day, around each switch between HC and HP, the two
//! consecutive records that bracket the start of the switch's minute (a *mark*). Only clean
//! days are ever fed from their summary; any other day is read in full. For periods made of
//! whole hours, and for probes ([`super::export_probed`]) at whole hours or at the minute of a
//! switch the day saw, a clean day's summary gives exactly what reading it gives (see
//! `Accumulator::feed_summary`).
//!
//! Every summary, clean or not, also holds the day's *facts* ([`DayFacts`]) for the cost
//! engine: the last contract name (NGTF/OPTARIF) and subscribed power, the switches between
//! HC and HP (at most [`MAX_SWITCHES`]), and per local-time window ([`WINDOW_HOURS`]) the
//! records and what their tariff names say (Tempo colour, EJP mobile peak).
//!
//! A summary is trusted only while every file of the day has the name, length, modification
//! time and (on Unix) status-change time (ns) recorded in it; it is also checked for its version and a checksum.
//! Anything else (missing, stale, other version, unreadable, garbage) and it is rebuilt.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{NaiveDate, TimeZone};

use super::order::Fed;
use super::reader::Reading;
use super::{ExportObserver, ENERGY_LABELS, MAX_COVERED_GAP_S, N_ENERGY};
use crate::store::{Stamp, SummaryCache, TZ};
use crate::tic::labels::{classify, is_mobile_peak, Class, Colour, Rate};
use crate::tic::plausible::{allowed_wh, least_power_va};

/// Format version: a summary of another version is rebuilt. Version 3 names the energy
/// labels (earlier versions stored their positions in the registry); version 4 adds the
/// day's facts (`facts`, `rates`, `switch`, `window` lines) and the marks (`mark` lines);
/// version 5 counts records up to [`MAX_COVERED_GAP_S`] = 16 min apart as covering (5 min
/// before).
pub const VERSION: u32 = 5;

/// The most HC/HP switches (and marks) a summary keeps for a day; more are dropped and
/// counted (a meter switches a few times a day).
pub const MAX_SWITCHES: usize = 64;

/// The local hours at which the windows of [`DayFacts::windows`] start: `[00:00, 01:00)`,
/// `[01:00, 06:00)`, `[06:00, 07:00)`, `[07:00, 24:00)` (Tempo days start at 06:00; EJP's
/// mobile peak runs from 07:00 to 01:00 the next day).
pub const WINDOW_HOURS: [u32; 4] = [0, 1, 6, 7];
/// The key of a day's summary in its Parquet file's metadata (the same text as an index file).
pub use crate::store::SUMMARY_KEY;
const MAGIC: &str = "tic-rec-index";

/// The records of one UTC hour of a day.
#[derive(Clone, Debug, PartialEq)]
pub struct Hour {
    /// Records in the hour.
    pub rows: u64,
    /// Seconds between consecutive records of the hour at most [`MAX_COVERED_GAP_S`] apart.
    pub covered: i64,
    /// Longest interval between consecutive records of the hour.
    pub max_gap: i64,
    /// Time of the first record.
    pub first_t: i64,
    /// Energy indexes of the first record.
    pub first: [Option<i64>; N_ENERGY],
    /// Time of the last record.
    pub last_t: i64,
    /// Energy indexes of the last record.
    pub last: [Option<i64>; N_ENERGY],
    /// Time of the record before the last (the first when the hour has one record).
    pub penult_t: i64,
    /// Energy indexes of the record before the last.
    pub penult: [Option<i64>; N_ENERGY],
}

/// A change between two consecutive HC/HP records of a day (records of other rates skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    /// Time of the HC/HP record before it.
    pub before: i64,
    /// Time of the first record at the new rate.
    pub at: i64,
    /// The new rate (HC or HP; the one before is the other).
    pub to: Rate,
}

/// The records of one local-time window of a day ([`WINDOW_HOURS`]) and what their tariff
/// names (LTARF, PTEC) say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Records in the window.
    pub records: u32,
    /// Of which naming the Tempo colour blue, white, red.
    pub colours: [u32; 3],
    /// Of which naming EJP's mobile peak.
    pub mobile_peak: u32,
}

/// What a day's records say about the meter's contract (every record, clean day or not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayFacts {
    /// The last NGTF/OPTARIF of the day (empty: none).
    pub contract: String,
    /// The last subscribed power the meter stated, kVA (PREF, or ISOUSC as kVA).
    pub kva: Option<i64>,
    /// The day's first record at an HC or HP rate (the class of its tariff name).
    pub first_rate: Option<(i64, Rate)>,
    /// The day's last record at an HC or HP rate.
    pub last_rate: Option<(i64, Rate)>,
    /// The switches between HC and HP, in order (at most [`MAX_SWITCHES`]).
    pub switches: Vec<Switch>,
    /// Switches beyond [`MAX_SWITCHES`], left out.
    pub dropped_switches: u32,
    /// The windows of [`WINDOW_HOURS`].
    pub windows: [Window; 4],
}

/// Two consecutive records of a clean day around the minute an HC/HP switch fell in: the last
/// record before the minute starts and the first one at or after it (the switch itself, or a
/// record of the same minute before it).
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// Time of the record before the minute.
    pub a_t: i64,
    /// Its energy indexes.
    pub a: [Option<i64>; N_ENERGY],
    /// Time of the first record of the minute.
    pub b_t: i64,
    /// Its energy indexes.
    pub b: [Option<i64>; N_ENERGY],
}

/// The summary of one local day (all its files, merged by time).
#[derive(Clone, Debug, PartialEq)]
pub struct DaySummary {
    files: Vec<Stamp>,
    /// Positions in `ENERGY_LABELS` of the energy columns of the day's headers.
    pub labels: Vec<usize>,
    /// No guard can fire between two records of the day (the rest is valid only when set).
    pub clean: bool,
    /// The first record.
    pub first: Option<Reading>,
    /// ADSC/ADCO of the day (empty when none).
    pub meter: String,
    /// The last subscribed power (VA) of the day.
    pub power: Option<i64>,
    /// Least subscribed power (VA) the steps before the first one carrying a power need to
    /// be plausible.
    pub need_va: i64,
    /// The last LTARF seen for each NTARF (1..=10).
    pub tariffs: Vec<(u8, String)>,
    /// The hours with records, in order.
    pub hours: Vec<Hour>,
    /// The marks of a clean day, in order.
    pub marks: Vec<Mark>,
    /// What the day says about the contract (every day).
    pub facts: DayFacts,
}

/// A record of a clean day fed from its summary: its time, indexes, and whether it follows
/// the point before it directly (no record between them).
pub(crate) struct Point<'a> {
    pub t: i64,
    pub energy: &'a [Option<i64>; N_ENERGY],
    pub direct: bool,
}

impl DaySummary {
    /// The records of a clean day that its summary holds (every hour's first, penultimate
    /// and last record, the marks), in time order, the first being the day's first record.
    pub(crate) fn points(&self) -> Vec<Point<'_>> {
        let mut all: Vec<(i64, &[Option<i64>; N_ENERGY])> = Vec::new();
        let mut direct: Vec<(i64, i64)> = Vec::new();
        for (j, h) in self.hours.iter().enumerate() {
            all.extend([
                (h.first_t, &h.first),
                (h.penult_t, &h.penult),
                (h.last_t, &h.last),
            ]);
            if h.rows >= 2 {
                direct.push((h.penult_t, h.last_t));
            }
            if h.rows == 3 {
                direct.push((h.first_t, h.penult_t));
            }
            if j > 0 {
                direct.push((self.hours[j - 1].last_t, h.first_t));
            }
        }
        for m in &self.marks {
            all.extend([(m.a_t, &m.a), (m.b_t, &m.b)]);
            direct.push((m.a_t, m.b_t));
        }
        all.sort_by_key(|p| p.0);
        all.dedup_by_key(|p| p.0);
        direct.sort_unstable();
        let mut out: Vec<Point<'_>> = Vec::with_capacity(all.len());
        for (t, energy) in all {
            let direct = match out.last() {
                Some(prev) => direct.binary_search(&(prev.t, t)).is_ok(),
                None => true,
            };
            out.push(Point { t, energy, direct });
        }
        out
    }
}

fn mask(energy: &[Option<i64>; N_ENERGY]) -> u32 {
    energy
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_some())
        .fold(0, |m, (k, _)| m | 1 << k)
}

/// Builds a day's summary from its records, fed in time order (sans IO).
pub struct Builder {
    day: DaySummary,
    last_t: Option<i64>,
    prev: [Option<i64>; N_ENERGY],
    mask: u32,
    tariffs: [Option<String>; 10],
    /// The last two consecutive records whose minutes differ.
    crossing: Option<Mark>,
    facts: FactsState,
}

/// What [`Builder`] keeps to gather a day's facts.
#[derive(Default)]
struct FactsState {
    last_t: Option<i64>,
    /// The last HC/HP record.
    rate: Option<(i64, Rate)>,
    /// The last tariff name seen and what it says (class, mobile peak).
    tariff: Option<(String, Class, bool)>,
    /// The instants the windows start, for the day of the first record.
    windows: Option<[i64; 4]>,
}

/// The instants (Unix seconds) the windows of [`WINDOW_HOURS`] start on the local day of `t`.
fn window_starts(t: i64) -> Option<[i64; 4]> {
    let day = chrono::DateTime::from_timestamp(t, 0)?
        .with_timezone(&TZ)
        .date_naive();
    let mut out = [0; 4];
    for (o, h) in out.iter_mut().zip(WINDOW_HOURS) {
        let naive = day.and_hms_opt(h, 0, 0)?;
        *o = TZ.from_local_datetime(&naive).earliest()?.timestamp();
    }
    Some(out)
}

impl Builder {
    /// A builder for the day whose files have `files` stamps and `labels` energy columns.
    pub fn new(files: Vec<Stamp>, labels: Vec<usize>) -> Builder {
        Builder {
            day: DaySummary {
                files,
                labels,
                clean: true,
                first: None,
                meter: String::new(),
                power: None,
                need_va: 0,
                tariffs: Vec::new(),
                hours: Vec::new(),
                marks: Vec::new(),
                facts: DayFacts::default(),
            },
            last_t: None,
            prev: [None; N_ENERGY],
            mask: 0,
            tariffs: Default::default(),
            crossing: None,
            facts: FactsState::default(),
        }
    }

    /// Gathers the facts of a record (every record after the previous one); returns whether
    /// it is the first record of a new HC/HP rate (a switch kept).
    fn facts(&mut self, rec: &Reading) -> bool {
        let t = rec.time;
        let (f, st) = (&mut self.day.facts, &mut self.facts);
        if !rec.contract.is_empty() && f.contract != rec.contract {
            f.contract.clone_from(&rec.contract);
        }
        if let Some(k) = rec.kva {
            f.kva = Some(k);
        }
        let (class, pm) = match &st.tariff {
            Some((name, c, pm)) if *name == rec.tariff => (*c, *pm),
            _ => {
                let c = classify(&rec.tariff);
                let pm = !rec.tariff.is_empty() && is_mobile_peak(&rec.tariff);
                st.tariff = Some((rec.tariff.clone(), c, pm));
                (c, pm)
            }
        };
        if st.windows.is_none() {
            st.windows = window_starts(t);
        }
        let w = st.windows.map_or(0, |starts| {
            starts.iter().filter(|&&s| s <= t).count().max(1) - 1
        });
        let win = &mut f.windows[w];
        win.records = win.records.saturating_add(1);
        if let Some(c) = class.colour {
            let i = match c {
                Colour::Blue => 0,
                Colour::White => 1,
                Colour::Red => 2,
            };
            win.colours[i] = win.colours[i].saturating_add(1);
        }
        if pm {
            win.mobile_peak = win.mobile_peak.saturating_add(1);
        }
        let mut switch = false;
        if class.rate != Rate::Other {
            match st.rate {
                Some((before, r)) if r != class.rate => {
                    if f.switches.len() < MAX_SWITCHES {
                        f.switches.push(Switch {
                            before,
                            at: t,
                            to: class.rate,
                        });
                        switch = true;
                    } else {
                        f.dropped_switches = f.dropped_switches.saturating_add(1);
                    }
                }
                Some(_) => {}
                None => f.first_rate = Some((t, class.rate)),
            }
            st.rate = Some((t, class.rate));
            f.last_rate = st.rate;
        }
        st.last_t = Some(t);
        switch
    }

    /// The next record of the day; records not after the previous one are ignored, as the
    /// accumulator does.
    pub fn feed(&mut self, rec: &Reading) {
        if self.facts.last_t.is_some_and(|l| rec.time <= l) {
            return;
        }
        let switch = self.facts(rec);
        if !self.day.clean {
            return;
        }
        let t = rec.time;
        let m = mask(&rec.energy);
        let prev_t = match self.last_t {
            Some(l) if t <= l => return,
            Some(l) => Some(l),
            None => {
                let mut first = rec.clone();
                // The facts are the day's; the first record is fed as any other.
                first.contract.clear();
                first.kva = None;
                self.day.first = Some(first);
                self.mask = m;
                None
            }
        };
        let day = &mut self.day;
        if !rec.meter.is_empty() {
            if day.meter.is_empty() {
                day.meter.clone_from(&rec.meter);
            } else if day.meter != rec.meter {
                day.clean = false;
                return;
            }
        }
        if let Some(p) = rec.power_va.filter(|&p| p > 0) {
            day.power = Some(p);
        }
        if let Some(n) = rec.ntarf.filter(|n| (1..=10).contains(n)) {
            let slot = &mut self.tariffs[usize::from(n) - 1];
            if !rec.tariff.is_empty() && slot.as_deref() != Some(rec.tariff.as_str()) {
                *slot = Some(rec.tariff.clone());
            }
        }
        if let Some(pt) = prev_t {
            if m != self.mask {
                day.clean = false;
                return;
            }
            let dt = t - pt;
            for (va, vb) in self.prev.iter().zip(&rec.energy) {
                let (Some(va), Some(vb)) = (*va, *vb) else {
                    continue;
                };
                // A zero, a decrease, or a start from zero (never a starting value).
                if (vb == 0 && va > 0) || vb < va || (va == 0 && vb > 0) {
                    day.clean = false;
                    return;
                }
                let d = vb - va;
                match day.power {
                    Some(p) if allowed_wh(p, dt) < i128::from(d) => {
                        day.clean = false;
                        return;
                    }
                    Some(_) => {}
                    None => day.need_va = day.need_va.max(least_power_va(dt, d)),
                }
            }
        }
        let start = t.div_euclid(3600) * 3600;
        match day.hours.last_mut() {
            Some(h) if h.last_t.div_euclid(3600) * 3600 == start => {
                let gap = t - h.last_t;
                h.rows += 1;
                if gap <= MAX_COVERED_GAP_S {
                    h.covered += gap;
                }
                h.max_gap = h.max_gap.max(gap);
                h.penult_t = h.last_t;
                h.penult = h.last;
                h.last_t = t;
                h.last = rec.energy;
            }
            _ => day.hours.push(Hour {
                rows: 1,
                covered: 0,
                max_gap: 0,
                first_t: t,
                first: rec.energy,
                last_t: t,
                last: rec.energy,
                penult_t: t,
                penult: rec.energy,
            }),
        }
        if let Some(a_t) = prev_t.filter(|pt| pt.div_euclid(60) != t.div_euclid(60)) {
            self.crossing = Some(Mark {
                a_t,
                a: self.prev,
                b_t: t,
                b: rec.energy,
            });
        }
        if switch {
            if let Some(m) = self
                .crossing
                .as_ref()
                .filter(|m| m.b_t.div_euclid(60) == t.div_euclid(60))
            {
                self.day.marks.push(m.clone());
            }
        }
        self.prev = rec.energy;
        self.last_t = Some(t);
    }

    /// A row of the day was skipped for being out of order: the day is read in full.
    pub fn out_of_order(&mut self) {
        self.day.clean = false;
    }

    /// Damaged rows were skipped: the day is read in full (to flag and tell them).
    pub fn damaged(&mut self) {
        self.day.clean = false;
    }

    /// One item of the day's merged rows.
    pub fn take(&mut self, f: Fed<'_>) {
        match f {
            Fed::Rec(r) => self.feed(r),
            Fed::OutOfOrder(_) => self.out_of_order(),
            Fed::Damaged(_) => self.damaged(),
        }
    }

    /// The summary.
    pub fn finish(mut self) -> DaySummary {
        if !self.day.clean {
            self.day.first = None;
            self.day.hours.clear();
            self.day.marks.clear();
        }
        self.day.tariffs = (1u8..)
            .zip(self.tariffs)
            .filter_map(|(n, l)| l.map(|l| (n, l)))
            .collect();
        self.day
    }
}

fn hex(s: &str) -> String {
    let mut out = String::with_capacity(1 + 2 * s.len());
    out.push('x');
    for b in s.bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(s: &str) -> Option<String> {
    let h = s.strip_prefix('x')?;
    if h.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn parse_opt(s: &str) -> Option<Option<i64>> {
    if s == "-" {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

/// The energy values of the labels `order` (positions, in the order the `values` line
/// named them).
fn values(w: &mut std::str::Split<'_, char>, order: &[usize]) -> Option<[Option<i64>; N_ENERGY]> {
    let mut e = [None; N_ENERGY];
    for &k in order {
        *e.get_mut(k)? = Some(w.next()?.parse().ok()?);
    }
    Some(e)
}

fn rate_code(r: Rate) -> &'static str {
    match r {
        Rate::Hc => "hc",
        Rate::Hp => "hp",
        Rate::Other => "other",
    }
}

fn parse_rate(s: &str) -> Option<Rate> {
    match s {
        "hc" => Some(Rate::Hc),
        "hp" => Some(Rate::Hp),
        _ => None,
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl DaySummary {
    /// The files it holds for: the stamps of the day's files it was made from.
    pub fn set_files(&mut self, files: Vec<Stamp>) {
        self.files = files;
    }

    /// The text of the index file.
    pub fn to_text(&self) -> String {
        let mut s = format!("{MAGIC} {VERSION}\n");
        for f in &self.files {
            let _ = writeln!(
                s,
                "file {} {} {} {}",
                f.len,
                f.mtime_ns,
                f.ctime_ns,
                hex(&f.name)
            );
        }
        s.push_str("labels");
        for &k in &self.labels {
            let _ = write!(s, " {}", ENERGY_LABELS[k]);
        }
        let m = self.first.as_ref().map_or(0, |r| mask(&r.energy));
        let _ = writeln!(s, "\nclean {}", u8::from(self.clean));
        // The labels whose values the `first` and `hour` lines give, in that order.
        s.push_str("values");
        for (k, name) in ENERGY_LABELS.iter().enumerate() {
            if m & 1 << k != 0 {
                let _ = write!(s, " {name}");
            }
        }
        s.push('\n');
        let f = &self.facts;
        let _ = writeln!(
            s,
            "facts {} {} {}",
            hex(&f.contract),
            opt(f.kva),
            f.dropped_switches
        );
        let rate = |r: Option<(i64, Rate)>| match r {
            Some((t, r)) => format!("{t} {}", rate_code(r)),
            None => "- -".to_owned(),
        };
        let _ = writeln!(s, "rates {} {}", rate(f.first_rate), rate(f.last_rate));
        for w in &f.switches {
            let _ = writeln!(s, "switch {} {} {}", w.before, w.at, rate_code(w.to));
        }
        for (i, w) in f.windows.iter().enumerate() {
            let [b, wh, r] = w.colours;
            let _ = writeln!(s, "window {i} {} {b} {wh} {r} {}", w.records, w.mobile_peak);
        }
        if self.clean {
            for m in &self.marks {
                let _ = write!(s, "mark {} {}", m.a_t, m.b_t);
                for v in m.a.iter().chain(&m.b).flatten() {
                    let _ = write!(s, " {v}");
                }
                s.push('\n');
            }
            let _ = writeln!(
                s,
                "day {} {} {}",
                hex(&self.meter),
                opt(self.power),
                self.need_va
            );
            for (n, l) in &self.tariffs {
                let _ = writeln!(s, "tariff {n} {}", hex(l));
            }
            if let Some(r) = &self.first {
                let _ = write!(
                    s,
                    "first {} {} {} {} {}",
                    r.time,
                    hex(&r.meter),
                    opt(r.ntarf.map(i64::from)),
                    hex(&r.tariff),
                    opt(r.power_va)
                );
                for v in r.energy.iter().flatten() {
                    let _ = write!(s, " {v}");
                }
                s.push('\n');
            }
            for h in &self.hours {
                let _ = write!(
                    s,
                    "hour {} {} {} {} {} {}",
                    h.rows, h.covered, h.max_gap, h.first_t, h.last_t, h.penult_t
                );
                for v in h.first.iter().chain(&h.last).chain(&h.penult).flatten() {
                    let _ = write!(s, " {v}");
                }
                s.push('\n');
            }
        }
        let sum = fnv(s.as_bytes());
        let _ = writeln!(s, "sum {sum:016x}");
        s
    }

    /// Parses an index file; `None` when it is not a valid one of this version.
    pub fn from_text(text: &str) -> Option<DaySummary> {
        let body_end = text.trim_end_matches('\n').rfind('\n')? + 1;
        let (body, sum) = text.split_at(body_end);
        let sum = u64::from_str_radix(sum.strip_prefix("sum ")?.strip_suffix('\n')?, 16).ok()?;
        if sum != fnv(body.as_bytes()) {
            return None;
        }
        let mut lines = body.lines();
        if lines.next()? != format!("{MAGIC} {VERSION}") {
            return None;
        }
        let mut day = Builder::new(Vec::new(), Vec::new()).day;
        let mut order: Vec<usize> = Vec::new();
        for line in lines {
            let mut w = line.split(' ');
            let tag = w.next()?;
            match tag {
                "file" => day.files.push(Stamp {
                    len: w.next()?.parse().ok()?,
                    mtime_ns: w.next()?.parse().ok()?,
                    ctime_ns: w.next()?.parse().ok()?,
                    name: unhex(w.next()?)?,
                }),
                "labels" => {
                    for name in w.by_ref() {
                        day.labels.push(crate::tic::labels::energy_position(name)?);
                    }
                }
                "clean" => day.clean = w.next()? == "1",
                "values" => {
                    for name in w.by_ref() {
                        let k = crate::tic::labels::energy_position(name)?;
                        if order.contains(&k) {
                            return None;
                        }
                        order.push(k);
                    }
                }
                "day" => {
                    day.meter = unhex(w.next()?)?;
                    day.power = parse_opt(w.next()?)?;
                    day.need_va = w.next()?.parse().ok()?;
                }
                "tariff" => day
                    .tariffs
                    .push((w.next()?.parse().ok()?, unhex(w.next()?)?)),
                "first" => {
                    let time = w.next()?.parse().ok()?;
                    let meter = unhex(w.next()?)?;
                    let ntarf = match parse_opt(w.next()?)? {
                        Some(n) => Some(u8::try_from(n).ok()?),
                        None => None,
                    };
                    let tariff = unhex(w.next()?)?;
                    let power_va = parse_opt(w.next()?)?;
                    let energy = values(&mut w, &order)?;
                    day.first = Some(Reading {
                        time,
                        energy,
                        meter,
                        ntarf,
                        tariff,
                        power_va,
                        ..Reading::default()
                    });
                }
                "facts" => {
                    day.facts.contract = unhex(w.next()?)?;
                    day.facts.kva = parse_opt(w.next()?)?;
                    day.facts.dropped_switches = w.next()?.parse().ok()?;
                }
                "rates" => {
                    let mut rate = || -> Option<Option<(i64, Rate)>> {
                        let (t, r) = (w.next()?, w.next()?);
                        if t == "-" && r == "-" {
                            return Some(None);
                        }
                        Some(Some((t.parse().ok()?, parse_rate(r)?)))
                    };
                    day.facts.first_rate = rate()?;
                    day.facts.last_rate = rate()?;
                }
                "switch" => {
                    if day.facts.switches.len() >= MAX_SWITCHES {
                        return None;
                    }
                    day.facts.switches.push(Switch {
                        before: w.next()?.parse().ok()?,
                        at: w.next()?.parse().ok()?,
                        to: parse_rate(w.next()?)?,
                    });
                }
                "window" => {
                    let i: usize = w.next()?.parse().ok()?;
                    let mut n = || w.next()?.parse::<u32>().ok();
                    let win = Window {
                        records: n()?,
                        colours: [n()?, n()?, n()?],
                        mobile_peak: n()?,
                    };
                    *day.facts.windows.get_mut(i)? = win;
                }
                "mark" => {
                    if day.marks.len() >= MAX_SWITCHES {
                        return None;
                    }
                    let a_t = w.next()?.parse().ok()?;
                    let b_t = w.next()?.parse().ok()?;
                    let a = values(&mut w, &order)?;
                    let b = values(&mut w, &order)?;
                    day.marks.push(Mark { a_t, a, b_t, b });
                }
                "hour" => {
                    let mut n = || w.next()?.parse::<i64>().ok();
                    let (rows, covered, max_gap) = (n()?, n()?, n()?);
                    let (first_t, last_t, penult_t) = (n()?, n()?, n()?);
                    let first = values(&mut w, &order)?;
                    let last = values(&mut w, &order)?;
                    let penult = values(&mut w, &order)?;
                    day.hours.push(Hour {
                        rows: u64::try_from(rows).ok()?,
                        covered,
                        max_gap,
                        first_t,
                        first,
                        last_t,
                        last,
                        penult_t,
                        penult,
                    });
                }
                _ => return None,
            }
            if w.next().is_some() {
                return None;
            }
        }
        let ordered = day.hours.windows(2).all(|h| h[0].last_t < h[1].first_t)
            && day
                .hours
                .iter()
                .all(|h| h.first_t <= h.last_t && (h.rows >= 2 || h.first_t == h.last_t));
        let in_day = |t: i64| {
            day.hours.first().is_some_and(|h| h.first_t <= t)
                && day.hours.last().is_some_and(|h| t <= h.last_t)
        };
        let marks_ok = day
            .marks
            .iter()
            .all(|m| m.a_t < m.b_t && in_day(m.a_t) && in_day(m.b_t))
            && day.marks.windows(2).all(|m| m[0].b_t < m[1].b_t)
            && (day.clean || day.marks.is_empty());
        let first_ok = match (&day.first, day.hours.first()) {
            (Some(r), Some(h)) => r.time == h.first_t && r.energy == h.first,
            (None, None) => true,
            _ => false,
        };
        (ordered && first_ok && marks_ok).then_some(day)
    }
}

/// The index of a data directory: loads valid summaries, saves new ones (best effort).
pub struct Cache {
    store: SummaryCache,
    writable: bool,
}

impl Cache {
    /// The index of `data_dir`.
    pub fn new(data_dir: &Path) -> Cache {
        Cache {
            store: SummaryCache::new(data_dir),
            writable: true,
        }
    }

    /// The summary of `day` if one is stored and matches `files` exactly.
    pub fn load(&self, day: NaiveDate, files: &[Stamp]) -> Option<DaySummary> {
        let text = self.store.load(day)?;
        DaySummary::from_text(&text).filter(|s| s.files == files)
    }

    /// Stores the summary of `day`; when the index cannot be written, tells `observer` once
    /// and stops trying.
    pub fn save(
        &mut self,
        day: NaiveDate,
        summary: &DaySummary,
        observer: &mut dyn ExportObserver,
    ) {
        if !self.writable {
            return;
        }
        if let Err(e) = self.store.save(day, &summary.to_text()) {
            self.writable = false;
            observer.note(&format!(
                "cannot write the export index: {}; going on without it",
                crate::error::Chain(&e)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: i64, east: i64, power: Option<i64>) -> Reading {
        let mut r = Reading {
            time: t,
            meter: "0418".into(),
            ntarf: Some(1),
            tariff: "HEURE CREUSE".into(),
            power_va: power,
            ..Reading::default()
        };
        r.energy[0] = Some(east);
        r.energy[2] = Some(east / 2);
        r
    }

    fn stamps() -> Vec<Stamp> {
        vec![Stamp {
            name: "2026-01-01.csv".into(),
            len: 42,
            mtime_ns: 1_700_000_000_123_456_789,
            ctime_ns: 1_700_000_000_987_654_321,
        }]
    }

    #[test]
    fn round_trip_and_garbage() {
        let mut b = Builder::new(stamps(), vec![0, 2]);
        for (i, t) in [10, 20, 1400, 3600, 3700, 7300].into_iter().enumerate() {
            b.feed(&rec(t, 1000 + i as i64, (i > 1).then_some(6000)));
        }
        let s = b.finish();
        assert!(s.clean);
        assert_eq!(s.hours.len(), 3);
        assert_eq!(
            (s.hours[0].rows, s.hours[0].covered, s.hours[0].max_gap),
            (3, 10, 1380)
        );
        assert_eq!(s.power, Some(6000));
        assert_eq!(s.tariffs, vec![(1, "HEURE CREUSE".to_owned())]);
        let text = s.to_text();
        assert_eq!(DaySummary::from_text(&text), Some(s.clone()));
        for bad in [
            String::new(),
            "garbage\n".into(),
            text.replace("hour 2", "hour 3"),
            text.replace(&format!("{MAGIC} {VERSION}"), &format!("{MAGIC} 999")),
            text[..text.len() / 2].to_owned(),
        ] {
            assert_eq!(DaySummary::from_text(&bad), None, "{bad}");
        }
    }

    #[test]
    fn guard_events_make_a_day_unclean() {
        let cases: [(&[(i64, i64)], bool); 4] = [
            (&[(0, 10), (1, 11), (2, 12)], true),
            (&[(0, 10), (1, 9), (2, 12)], false),
            (&[(0, 10), (1, 0), (2, 12)], false),
            (&[(0, 10), (1, 10_000), (2, 10_001)], false),
        ];
        for (recs, clean) in cases {
            let mut b = Builder::new(stamps(), vec![0]);
            for &(t, v) in recs {
                b.feed(&rec(t, v, Some(6000)));
            }
            assert_eq!(b.finish().clean, clean, "{recs:?}");
        }
        let mut b = Builder::new(stamps(), vec![0]);
        b.feed(&rec(0, 10, None));
        b.feed(&rec(1, 20, None));
        let s = b.finish();
        assert!(s.clean);
        assert_eq!(s.need_va, least_power_va(1, 10));
        assert!(allowed_wh(s.need_va, 1) >= 10 && allowed_wh(s.need_va - 1, 1) < 10);
    }

    #[test]
    fn facts_and_marks() {
        use chrono::TimeZone;
        // 2026-01-10 (winter, UTC+1): HC until 06:00, HP from a record at 06:00:20, HC again
        // from 22:00:00; records every 40 s, one with no tariff name at 12:00.
        let t0 = TZ
            .with_ymd_and_hms(2026, 1, 10, 0, 0, 0)
            .earliest()
            .expect("midnight")
            .timestamp();
        let mut b = Builder::new(stamps(), vec![0, 2]);
        let mut t = t0;
        let mut east = 1000;
        while t < t0 + 86_400 {
            let local = t - t0;
            let mut r = rec(t, east, Some(6000));
            r.contract = "H PLEINE/CREUSE".into();
            r.kva = Some(6);
            r.tariff = if local == 12 * 3600 {
                String::new()
            } else if (6 * 3600 + 20..22 * 3600).contains(&local) {
                "HEURE PLEINE".into()
            } else {
                "HEURE CREUSE".into()
            };
            b.feed(&r);
            t += 40;
            east += 1;
        }
        let s = b.finish();
        assert!(s.clean);
        let f = &s.facts;
        assert_eq!((f.contract.as_str(), f.kva), ("H PLEINE/CREUSE", Some(6)));
        // 06:00:00 is a record (40 × 540) still HC; 06:00:40 the first HP one.
        assert_eq!(
            f.switches,
            [
                Switch {
                    before: t0 + 21_600,
                    at: t0 + 21_640,
                    to: Rate::Hp
                },
                Switch {
                    before: t0 + 79_160,
                    at: t0 + 79_200,
                    to: Rate::Hc
                }
            ]
        );
        assert_eq!(f.first_rate, Some((t0, Rate::Hc)));
        // The marks bracket 06:00 (the switch's minute starts at 06:00:00: the record at
        // 05:59:20 and the one at 06:00:00) and 22:00.
        let m: Vec<(i64, i64)> = s.marks.iter().map(|m| (m.a_t - t0, m.b_t - t0)).collect();
        assert_eq!(m, [(21_560, 21_600), (79_160, 79_200)]);
        assert_eq!(f.windows.iter().map(|w| w.records).sum::<u32>(), 2160);
        assert_eq!(f.windows[0].records, 90, "00:00-01:00");
        assert_eq!(f.windows[2].colours, [0, 0, 0]);
        let text = s.to_text();
        assert_eq!(DaySummary::from_text(&text), Some(s.clone()));
        // The points: every mark's pair follows directly.
        let p = s.points();
        assert!(p
            .windows(2)
            .any(|w| w[0].t == t0 + 21_560 && w[1].t == t0 + 21_600 && w[1].direct));
        // An unclean day keeps its facts, not its marks.
        let mut b = Builder::new(stamps(), vec![0]);
        for (i, (t, v, l)) in [
            (0, 10, "HC BLEU"),
            (60, 5, "HP BLEU"),
            (120, 12, "HP BLANC"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = rec(t0 + 30_000 + t, v, Some(6000));
            r.tariff = l.into();
            r.contract = if i == 0 {
                "TEMPO".into()
            } else {
                String::new()
            };
            b.feed(&r);
        }
        let s = b.finish();
        assert!(!s.clean && s.marks.is_empty());
        assert_eq!(s.facts.contract, "TEMPO");
        assert_eq!(s.facts.windows[3].colours, [2, 1, 0]);
        assert_eq!(s.facts.switches.len(), 1);
        let back = DaySummary::from_text(&s.to_text()).expect("parses");
        assert_eq!(back.facts, s.facts);
    }
}
