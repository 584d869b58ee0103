//! From records to per-period consumption: the sans-IO [`Accumulator`] (interpolation, guards,
//! quality) and the two drivers that feed it from the files ([`scan`], [`indexed`]).

use chrono::NaiveDate;

use super::files::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::index::{self, allowed_wh, Builder, Cache, DaySummary, Stamp};
use super::reader::{DayFile, Record};
use super::tariff::{Class, Colour, Kind, Tariffs};
use super::{DayRead, Error, Observer, ENERGY_LABELS, MAX_COVERED_GAP_S, N_ENERGY};

/// Data-quality flags of a row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    /// The period reaches beyond the first or last record.
    pub const PARTIAL: Flags = Flags(1);
    /// An index decreased or read zero; the step was left out.
    pub const INDEX_RESET: Flags = Flags(2);
    /// ADSC/ADCO changed; the step across was left out.
    pub const METER_CHANGED: Flags = Flags(4);
    /// An index rose faster than the subscribed power allows; the step was left out.
    pub const IMPLAUSIBLE_JUMP: Flags = Flags(8);
    const NAMES: [(Flags, &'static str); 4] = [
        (Flags::PARTIAL, "partial"),
        (Flags::INDEX_RESET, "index_reset"),
        (Flags::METER_CHANGED, "meter_changed"),
        (Flags::IMPLAUSIBLE_JUMP, "implausible_jump"),
    ];

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    /// The flag names, joined by `|` (empty when none).
    pub fn names(self) -> String {
        let names: Vec<&str> = Flags::NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect();
        names.join("|")
    }
}

/// One period of an export.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Start, Unix seconds (inclusive).
    pub start: i64,
    /// End, Unix seconds (exclusive).
    pub end: i64,
    /// Consumption of each energy index over the period, Wh (`None`: not in the data).
    pub wh: [Option<i64>; N_ENERGY],
    /// Records in the period.
    pub records: Option<u64>,
    /// Share of the period covered by records at most 5 min apart.
    pub coverage: Option<f64>,
    /// Longest stretch of the period without a record, s.
    pub max_gap_s: Option<i64>,
    /// Quality flags.
    pub flags: Flags,
}

/// The result of an export: rows and what their columns mean.
#[derive(Clone, Debug)]
pub struct Table {
    /// Positions in [`ENERGY_LABELS`] of the indexes present in the files read.
    pub labels: Vec<usize>,
    /// The pairs learned from the data.
    pub tariffs: Tariffs,
    /// One row per period.
    pub rows: Vec<Row>,
}

impl Table {
    /// The class of every index, learned or default.
    pub fn classes(&self) -> [Option<Class>; N_ENERGY] {
        self.tariffs.classes()
    }

    /// Whether the data has Tempo indexes (colour columns are then written).
    pub fn tempo(&self) -> bool {
        let c = self.classes();
        self.labels
            .iter()
            .any(|&k| c[k].is_some_and(|c| c.colour.is_some()))
    }

    fn sum(&self, row: &Row, pick: impl Fn(usize, Option<Class>) -> bool) -> Option<i64> {
        let c = self.classes();
        let mut out = None;
        for &k in &self.labels {
            if pick(k, c[k]) {
                if let Some(v) = row.wh[k] {
                    out = Some(out.unwrap_or(0) + v);
                }
            }
        }
        out
    }

    /// Off-peak consumption of `row`.
    pub fn hc(&self, row: &Row) -> Option<i64> {
        self.sum(row, |_, c| c.is_some_and(|c| c.kind == Kind::Hc))
    }

    /// Peak consumption of `row`.
    pub fn hp(&self, row: &Row) -> Option<i64> {
        self.sum(row, |_, c| c.is_some_and(|c| c.kind == Kind::Hp))
    }

    /// Tempo consumption of one colour and kind.
    pub fn tempo_wh(&self, row: &Row, colour: Colour, kind: Kind) -> Option<i64> {
        self.sum(row, |_, c| {
            c.is_some_and(|c| c.kind == kind && c.colour == Some(colour))
        })
    }

    /// Total withdrawn: EAST in standard mode, else the sum of the historique indexes, else
    /// the sum of the supplier indexes.
    pub fn total(&self, row: &Row) -> Option<i64> {
        if self.labels.contains(&0) {
            return row.wh[0];
        }
        let historique = self.sum(row, |k, _| k >= 16);
        historique.or_else(|| self.sum(row, |k, _| (1..=10).contains(&k)))
    }
}

#[derive(Clone, Debug, Default)]
struct LabelState {
    reference: Option<(i64, i64)>,
    pending: Option<(i64, i64)>,
    /// Consumption credited so far.
    cum: i64,
    /// Credited consumption at each boundary (valid below `filled`).
    at: Vec<i64>,
    filled: usize,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    records: u64,
    covered: i64,
    max_gap: i64,
    flags: Flags,
}

/// Turns records, fed in time order, into per-period consumption (sans IO).
pub struct Accumulator {
    bounds: Vec<i64>,
    stats: Vec<Stats>,
    labels: Vec<LabelState>,
    meter: String,
    power_va: Option<i64>,
    first: Option<i64>,
    last: Option<i64>,
    tariffs: Tariffs,
    /// Guard events so far (index resets, implausible jumps, meter changes).
    guard_events: u64,
}

/// Subscribed power assumed when the data says none (the largest "tarif bleu").
const DEFAULT_POWER_VA: i64 = 36_000;

impl Accumulator {
    /// An accumulator for the periods between consecutive `bounds` (at least two, increasing).
    pub fn new(bounds: Vec<i64>) -> Accumulator {
        let n = bounds.len().saturating_sub(1);
        let state = LabelState {
            at: vec![0; bounds.len()],
            ..LabelState::default()
        };
        Accumulator {
            stats: vec![Stats::default(); n],
            labels: vec![state; N_ENERGY],
            bounds,
            meter: String::new(),
            power_va: None,
            first: None,
            last: None,
            tariffs: Tariffs::default(),
            guard_events: 0,
        }
    }

    fn n(&self) -> usize {
        self.stats.len()
    }

    fn period_of(&self, t: i64) -> Option<usize> {
        let (first, last) = (*self.bounds.first()?, *self.bounds.last()?);
        if t < first || t >= last {
            return None;
        }
        Some(self.bounds.partition_point(|&b| b <= t) - 1)
    }

    fn flag_at(&mut self, t: i64, f: Flags) {
        self.guard_events += 1;
        let i = match self.period_of(t) {
            Some(i) => i,
            None if self.bounds.last().is_some_and(|&b| t >= b) && self.n() > 0 => self.n() - 1,
            None => return,
        };
        self.stats[i].flags.insert(f);
    }

    /// Accounts the stretch `(ta, tb)` between two consecutive records (or a data edge).
    fn stretch(&mut self, ta: i64, tb: i64, covered: bool, edge: bool) {
        let n = self.n();
        let mut i = self.period_of(ta).unwrap_or(0);
        if self.bounds.first().is_some_and(|&b| ta < b) {
            i = 0;
        }
        while i < n && self.bounds[i] < tb {
            let seg = tb.min(self.bounds[i + 1]) - ta.max(self.bounds[i]);
            if seg > 0 {
                let s = &mut self.stats[i];
                if covered {
                    s.covered += seg;
                }
                s.max_gap = s.max_gap.max(seg);
                if edge {
                    s.flags.insert(Flags::PARTIAL);
                }
            }
            i += 1;
        }
    }

    /// Feeds the next record; records not after the previous one are ignored.
    pub fn feed(&mut self, rec: &Record) {
        let t = rec.time;
        match self.last {
            Some(l) if t <= l => return,
            Some(l) => self.stretch(l, t, t - l <= MAX_COVERED_GAP_S, false),
            None => self.first = Some(t),
        }
        if let Some(i) = self.period_of(t) {
            self.stats[i].records += 1;
        }
        if !rec.meter.is_empty() && self.meter != rec.meter {
            if !self.meter.is_empty() {
                self.flag_at(t, Flags::METER_CHANGED);
                for s in &mut self.labels {
                    s.reference = None;
                    s.pending = None;
                }
            }
            self.meter.clone_from(&rec.meter);
        }
        if let Some(p) = rec.power_va.filter(|&p| p > 0) {
            self.power_va = Some(p);
        }
        if let Some(n) = rec.ntarf {
            self.tariffs.learn(n, &rec.tariff);
        }
        for k in 0..N_ENERGY {
            if let Some(v) = rec.energy[k] {
                self.update(k, t, v);
            }
        }
        self.last = Some(t);
    }

    fn plausible(&self, (ta, va): (i64, i64), tb: i64, vb: i64) -> bool {
        let power = self.power_va.unwrap_or(DEFAULT_POWER_VA);
        vb >= va && i128::from(vb - va) <= allowed_wh(power, tb - ta)
    }

    /// Feeds a day from its summary, exactly as feeding its records would, when that is
    /// possible: the summary is clean, its first record is after the last one fed and passes
    /// the guards against the state so far, the subscribed power in force allows the steps
    /// before the day's first power value, and the meter is the same. Periods must be made of
    /// whole UTC hours (no boundary inside an hour: the steps inside an hour then move no
    /// boundary, and an hour's records all fall in one period). Returns `false` when the day
    /// must be read in full: the records fed so far (at most the first) are then ignored as
    /// not after the last one.
    pub fn feed_summary(&mut self, day: &DaySummary) -> bool {
        if !day.clean {
            return false;
        }
        let Some(first) = &day.first else {
            return true;
        };
        if self.last.is_some_and(|l| first.time <= l) {
            return false;
        }
        let events = self.guard_events;
        self.feed(first);
        let meter_ok = day.meter.is_empty() || self.meter.is_empty() || day.meter == self.meter;
        let power = self.power_va.unwrap_or(DEFAULT_POWER_VA);
        if self.guard_events != events || !meter_ok || power < day.need_va {
            return false;
        }
        for (j, h) in day.hours.iter().enumerate() {
            if j > 0 {
                self.step(h.first_t, &h.first, true);
            }
            if h.rows >= 2 {
                if let Some(i) = self.period_of(h.first_t) {
                    let s = &mut self.stats[i];
                    s.records += h.rows - 2;
                    s.covered += h.covered;
                    s.max_gap = s.max_gap.max(h.max_gap);
                }
                self.step(h.last_t, &h.last, false);
            }
        }
        if let Some(p) = day.power {
            self.power_va = Some(p);
        }
        if !day.meter.is_empty() {
            self.meter.clone_from(&day.meter);
        }
        for (n, l) in &day.tariffs {
            self.tariffs.learn(*n, l);
        }
        true
    }

    /// A record of a clean day known to pass the guards: counts it, accounts the stretch
    /// from the previous record (`stretch`) and credits every index.
    fn step(&mut self, t: i64, energy: &[Option<i64>; N_ENERGY], stretch: bool) {
        if let Some(l) = self.last {
            if stretch {
                self.stretch(l, t, t - l <= MAX_COVERED_GAP_S, false);
            }
        }
        if let Some(i) = self.period_of(t) {
            self.stats[i].records += 1;
        }
        for (k, v) in energy.iter().enumerate() {
            if let Some(v) = *v {
                match self.labels[k].reference {
                    Some(r) => self.credit(k, r, t, v),
                    None => self.labels[k].reference = Some((t, v)),
                }
            }
        }
        self.last = Some(t);
    }

    fn update(&mut self, k: usize, t: i64, v: i64) {
        let Some(reference) = self.labels[k].reference else {
            self.labels[k].reference = Some((t, v));
            return;
        };
        if v == 0 && reference.1 > 0 {
            self.flag_at(t, Flags::INDEX_RESET);
            return;
        }
        if self.plausible(reference, t, v) {
            self.credit(k, reference, t, v);
            return;
        }
        if let Some(p) = self.labels[k].pending {
            if self.plausible(p, t, v) {
                self.credit(k, p, t, v);
                return;
            }
        }
        self.labels[k].pending = Some((t, v));
        let f = if v < reference.1 {
            Flags::INDEX_RESET
        } else {
            Flags::IMPLAUSIBLE_JUMP
        };
        self.flag_at(t, f);
    }

    /// Credits the step `(ta, va) → (tb, vb)` of label `k`, interpolating the boundaries in
    /// `(ta, tb]`.
    fn credit(&mut self, k: usize, (ta, va): (i64, i64), tb: i64, vb: i64) {
        let s = &mut self.labels[k];
        let d = vb - va;
        while s.filled < self.bounds.len() && self.bounds[s.filled] <= ta {
            s.at[s.filled] = s.cum;
            s.filled += 1;
        }
        while s.filled < self.bounds.len() && self.bounds[s.filled] <= tb {
            let b = self.bounds[s.filled];
            let num = 2 * i128::from(d) * i128::from(b - ta) + i128::from(tb - ta);
            let part = num / (2 * i128::from(tb - ta));
            s.at[s.filled] = s.cum + i64::try_from(part).unwrap_or(d);
            s.filled += 1;
        }
        s.cum += d;
        s.reference = Some((tb, vb));
        s.pending = None;
    }

    /// The rows; `present` lists the labels in the files read; `quality` fills the quality
    /// columns.
    pub fn finish(mut self, present: &[usize], quality: bool) -> Table {
        let (b0, bn) = match (self.bounds.first(), self.bounds.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        match (self.first, self.last) {
            (Some(f), Some(l)) => {
                if f > b0 {
                    self.stretch(b0, f, false, true);
                }
                if l < bn {
                    self.stretch(l, bn, false, true);
                }
            }
            _ => self.stretch(b0, bn, false, true),
        }
        for s in &mut self.labels {
            while s.filled < self.bounds.len() {
                s.at[s.filled] = s.cum;
                s.filled += 1;
            }
        }
        let mut rows = Vec::with_capacity(self.n());
        for (i, st) in self.stats.iter().enumerate() {
            let (start, end) = (self.bounds[i], self.bounds[i + 1]);
            let mut wh = [None; N_ENERGY];
            for &k in present {
                let s = &self.labels[k];
                wh[k] = Some(s.at[i + 1] - s.at[i]);
            }
            rows.push(Row {
                start,
                end,
                wh,
                records: quality.then_some(st.records),
                coverage: quality.then(|| st.covered as f64 / (end - start) as f64),
                max_gap_s: quality.then_some(st.max_gap),
                flags: st.flags,
            });
        }
        Table {
            labels: present.to_vec(),
            tariffs: self.tariffs,
            rows,
        }
    }
}

/// Adds the energy labels of `header` to `present` (kept in [`ENERGY_LABELS`] order).
fn add_labels(present: &mut Vec<usize>, header: &[String]) {
    for h in header {
        if let Some(k) = ENERGY_LABELS.iter().position(|l| l == h) {
            if !present.contains(&k) {
                present.push(k);
            }
        }
    }
    present.sort_unstable();
}

/// The latest record of the days before `day`.
fn last_before(store: &Store, day: NaiveDate) -> Result<Option<Record>, Error> {
    for (_, files) in store.before(day) {
        let mut best: Option<Record> = None;
        let mut rec = Record::default();
        for (path, _) in files {
            if DayFile::open(path)?.tail(&mut rec)?
                && !matches!(&best, Some(b) if rec.time <= b.time)
            {
                best = Some(rec.clone());
            }
        }
        if best.is_some() {
            return Ok(best);
        }
    }
    Ok(None)
}

/// The earliest record of the days after `day`.
fn first_after(store: &Store, day: NaiveDate) -> Result<Option<Record>, Error> {
    for (_, files) in store.after(day) {
        let mut best: Option<Record> = None;
        let mut rec = Record::default();
        for (path, _) in files {
            if DayFile::open(path)?.head(&mut rec)?
                && !matches!(&best, Some(b) if rec.time >= b.time)
            {
                best = Some(rec.clone());
            }
        }
        if best.is_some() {
            return Ok(best);
        }
    }
    Ok(None)
}

fn announce(store: &Store, from: NaiveDate, to: NaiveDate, observer: &mut dyn Observer) {
    let (mut n, mut bytes) = (0, 0);
    for (_, files) in store.days(from, to) {
        n += files.len();
        bytes += files.iter().map(|(_, len)| len).sum::<u64>();
    }
    observer.start(n, bytes);
}

/// Every row of `[from, to]` (plus the records just outside, for interpolation).
pub fn scan(
    store: &Store,
    from: NaiveDate,
    to: NaiveDate,
    bounds: &[i64],
    observer: &mut dyn Observer,
) -> Result<Table, Error> {
    announce(store, from, to, observer);
    let mut acc = Accumulator::new(bounds.to_vec());
    let mut present = Vec::new();
    if let Some(r) = last_before(store, from)? {
        acc.feed(&r);
    }
    for (_, files) in store.days(from, to) {
        let mut open = Vec::with_capacity(files.len());
        for (path, _) in files {
            let f = DayFile::open(path)?;
            add_labels(&mut present, &f.header);
            open.push(f);
        }
        merge(&mut open, |r| acc.feed(r))?;
        for f in &open {
            observer.file_done(f.path(), f.len());
        }
    }
    if let Some(r) = first_after(store, to)? {
        acc.feed(&r);
    }
    Ok(acc.finish(&present, true))
}

/// Reads the files of one day, merged by time.
fn merge(files: &mut [DayFile], mut each: impl FnMut(&Record)) -> Result<(), Error> {
    if let [f] = files {
        let mut rec = Record::default();
        while f.next_record(&mut rec)? {
            each(&rec);
        }
        return Ok(());
    }
    let mut heads: Vec<Option<Record>> = Vec::with_capacity(files.len());
    for f in files.iter_mut() {
        let mut rec = Record::default();
        heads.push(f.next_record(&mut rec)?.then_some(rec));
    }
    loop {
        let next = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|r| (r.time, i)))
            .min();
        let Some((_, i)) = next else {
            return Ok(());
        };
        let Some(rec) = heads[i].as_mut() else {
            return Ok(());
        };
        each(rec);
        if !files[i].next_record(rec)? {
            heads[i] = None;
        }
    }
}

/// Like [`scan`], but a day whose summary in the index is valid and clean is fed from the
/// summary instead of its files; the missing summaries are first built, [`BATCH`] days at a
/// time, on every core (reading each such day once), and stored. A day whose summary is not
/// clean, or cannot be built, is read in full in order. Falls back to [`scan`] when a
/// boundary is not a whole UTC hour.
pub fn indexed(
    store: &Store,
    from: NaiveDate,
    to: NaiveDate,
    bounds: &[i64],
    observer: &mut dyn Observer,
) -> Result<Table, Error> {
    if bounds.iter().any(|b| b.rem_euclid(3600) != 0) {
        return scan(store, from, to, bounds, observer);
    }
    announce(store, from, to, observer);
    let mut cache = Cache::new(store.dir());
    let mut acc = Accumulator::new(bounds.to_vec());
    let mut present = Vec::new();
    if let Some(r) = last_before(store, from)? {
        acc.feed(&r);
    }
    let days: Vec<(NaiveDate, &[(PathBuf, u64)])> = store.days(from, to).collect();
    for batch in days.chunks(BATCH) {
        let stamps: Vec<Option<Vec<Stamp>>> = batch
            .iter()
            .map(|(_, files)| files.iter().map(|(p, _)| index::stamp(p)).collect())
            .collect();
        let mut summaries: Vec<Option<DaySummary>> = batch
            .iter()
            .zip(&stamps)
            .map(|((day, _), st)| st.as_deref().and_then(|st| cache.load(*day, st)))
            .collect();
        let work: Vec<Work<'_>> = batch
            .iter()
            .enumerate()
            .filter(|(i, _)| summaries[*i].is_none())
            .filter_map(|(i, (_, files))| Some((i, *files, stamps[i].clone()?)))
            .collect();
        let mut fresh = vec![false; batch.len()];
        for (i, s) in build_all(&work) {
            cache.save(batch[i].0, &s, observer);
            summaries[i] = Some(s);
            fresh[i] = true;
        }
        for (i, (day, files)) in batch.iter().enumerate() {
            let how = if fresh[i] {
                DayRead::Built
            } else {
                DayRead::Index
            };
            if let Some(s) = &summaries[i] {
                add_label_ids(&mut present, &s.labels);
                if acc.feed_summary(s) {
                    for (path, len) in *files {
                        observer.file_done(path, *len);
                    }
                    observer.day_read(*day, how);
                    continue;
                }
            }
            let mut open = Vec::with_capacity(files.len());
            for (path, _) in *files {
                let f = DayFile::open(path)?;
                add_labels(&mut present, &f.header);
                open.push(f);
            }
            merge(&mut open, |r| acc.feed(r))?;
            for f in &open {
                observer.file_done(f.path(), f.len());
            }
            let how = if summaries[i].is_some() && !fresh[i] {
                DayRead::Full
            } else {
                DayRead::Built
            };
            observer.day_read(*day, how);
        }
    }
    if let Some(r) = first_after(store, to)? {
        acc.feed(&r);
    }
    Ok(acc.finish(&present, true))
}

/// A day to summarise: its slot in the batch, its files and their stamps.
type Work<'a> = (usize, &'a [(PathBuf, u64)], Vec<Stamp>);

/// Days whose summaries [`indexed`] builds together (bounds the summaries held at once).
const BATCH: usize = 32;

/// Builds the summaries of `work` (`(slot, files, stamps)`) on every core; a day whose files
/// cannot be read gets none (reading it in order then reports the error where [`scan`] would).
fn build_all(work: &[Work<'_>]) -> Vec<(usize, DaySummary)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(work.len());
    if threads <= 1 {
        return work
            .iter()
            .filter_map(|(i, files, st)| Some((*i, build_day(files, st.clone()).ok()?)))
            .collect();
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((i, files, st)) = work.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        if let Ok(s) = build_day(files, st.clone()) {
                            done.push((*i, s));
                        }
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().ok())
            .flatten()
            .collect()
    })
}

/// Reads the files of a day and summarises them.
fn build_day(files: &[(PathBuf, u64)], stamps: Vec<Stamp>) -> Result<DaySummary, Error> {
    let mut open = Vec::with_capacity(files.len());
    let mut labels = Vec::new();
    for (path, _) in files {
        let f = DayFile::open(path)?;
        add_labels(&mut labels, &f.header);
        open.push(f);
    }
    let mut b = Builder::new(stamps, labels);
    merge(&mut open, |r| b.feed(r))?;
    Ok(b.finish())
}

fn add_label_ids(present: &mut Vec<usize>, ids: &[usize]) {
    for &k in ids {
        if !present.contains(&k) {
            present.push(k);
        }
    }
    present.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::index::{Builder, DaySummary};

    fn rec(t: i64, east: i64) -> Record {
        let mut r = Record {
            time: t,
            ..Record::default()
        };
        r.energy[0] = Some(east);
        r.power_va = Some(6000);
        r
    }

    fn run(bounds: Vec<i64>, recs: &[Record]) -> Table {
        let mut a = Accumulator::new(bounds);
        for r in recs {
            a.feed(r);
        }
        a.finish(&[0], true)
    }

    fn east(t: &Table) -> Vec<i64> {
        t.rows.iter().map(|r| r.wh[0].unwrap_or(-1)).collect()
    }

    #[test]
    fn interpolation_and_edges() {
        // Boundaries at 0, 100, 200; records at 50 (v=1000) and 150 (v=1100) and 250 (1101).
        let t = run(
            vec![0, 100, 200],
            &[rec(50, 1000), rec(150, 1100), rec(250, 1101)],
        );
        assert_eq!(east(&t), vec![50, 51]);
        assert_eq!(t.rows[0].flags, Flags::PARTIAL);
        assert_eq!(t.rows[1].flags, Flags::default());
        assert_eq!(t.rows[0].records, Some(1));
        assert_eq!(t.rows[0].max_gap_s, Some(50));
        assert_eq!(t.rows[0].coverage, Some(0.5));
    }

    #[test]
    fn guards() {
        let b = vec![0, 1000, 2000, 3000];
        // zero glitch, then a reset to a lower value, then a glitch high, then meter change.
        let mut recs = vec![rec(0, 5000), rec(10, 5001), rec(20, 0), rec(30, 5003)];
        recs.extend([rec(1000, 5100), rec(1010, 7), rec(1020, 9), rec(1030, 12)]);
        recs.extend([
            rec(2000, 50),
            rec(2010, 999_999),
            rec(2020, 52),
            rec(2030, 53),
        ]);
        let t = run(b.clone(), &recs);
        assert_eq!(east(&t), vec![100, 5 + 38, 3]);
        assert_eq!(t.rows[0].flags, Flags::INDEX_RESET);
        assert_eq!(t.rows[1].flags, Flags::INDEX_RESET);
        assert_eq!(t.rows[2].flags, Flags::IMPLAUSIBLE_JUMP | Flags::PARTIAL);
        let mut m = vec![rec(0, 100), rec(500, 200)];
        let mut r = rec(600, 3);
        r.meter = "B".into();
        m[0].meter = "A".into();
        m[1].meter = "A".into();
        m.push(r.clone());
        r.time = 1000;
        r.energy[0] = Some(10);
        m.push(r);
        let t = run(vec![0, 1000], &m);
        assert_eq!(east(&t), vec![107]);
        assert_eq!(t.rows[0].flags, Flags::METER_CHANGED);
    }

    /// Random records (gaps of every length, duplicate times, missing power, glitches of every
    /// kind, meter changes, tariff changes; by seed: steps only a higher power allows before
    /// the day's first power value, a new meter unknown for the day's first minutes, a new
    /// baseline at each day's first record, days overlapping the previous one) fed whole or,
    /// day by day, from their summaries when `feed_summary` accepts them: the same table for
    /// hour-aligned boundaries. Each of `feed_summary`'s checks is needed for some seed.
    #[test]
    fn summaries_feed_exactly_what_the_records_feed() {
        let mut all_used = 0;
        for seed in 0..300u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let t0 = 1_767_222_000; // a whole hour
            let (mut t, mut v) = (t0 + rng.i64(0..600), [1000i64, 500, 0]);
            let mut recs = Vec::new();
            let mut meter = "A";
            while t < t0 + 3 * 86_400 {
                // Some seeds: a new meter every day, unknown for the day's first minutes.
                let day_start = t.rem_euclid(86_400) < 600;
                if seed % 4 == 1
                    && day_start
                    && recs.last().is_some_and(|p: &Record| p.meter == meter)
                {
                    meter = if meter == "A" { "B" } else { "A" };
                }
                let mut r = Record {
                    time: t,
                    meter: if seed % 4 == 1 && day_start {
                        ""
                    } else {
                        meter
                    }
                    .into(),
                    ..Record::default()
                };
                // Some seeds: no power value early in each day, and steps only a power
                // above the previous day's allows.
                // Some seeds: EAST restarts lower at every day's first record (a new baseline).
                if seed % 4 == 2
                    && recs
                        .last()
                        .is_some_and(|p: &Record| p.time / 86_400 != t / 86_400)
                {
                    v[0] -= 100;
                }
                let early = seed % 4 == 0 && t.rem_euclid(86_400) < 6 * 3600;
                for x in &mut v {
                    *x += rng.i64(0..if early { 6 } else { 3 });
                }
                r.energy[0] = Some(v[0]);
                r.energy[1] = Some(v[1]);
                if !early && rng.u8(..) < 200 {
                    r.power_va = Some(if seed % 4 == 0 || rng.bool() {
                        3000
                    } else {
                        6000
                    });
                }
                match rng.u32(0..[2000, 30_000, 300_000][seed as usize % 3]) {
                    0 => r.energy[0] = Some(0),
                    1 => r.energy[0] = Some(v[0] - 5),
                    2 => r.energy[1] = Some(v[1] + 100_000),
                    3 => r.energy[1] = None,
                    4 => {
                        meter = if meter == "A" { "B" } else { "A" };
                        r.meter = meter.into();
                    }
                    5..=30 => {
                        r.ntarf = Some(rng.u8(0..12));
                        r.tariff = ["HC BLEU", "HP ROUGE", ""][rng.usize(0..3)].into();
                    }
                    _ => {}
                }
                recs.push(r);
                t += match rng.u32(0..1000) {
                    0..=4 => rng.i64(300..20_000),
                    5..=9 => 0,
                    _ => rng.i64(1..60),
                };
            }
            let mut bounds = vec![t0 - 3600 * rng.i64(0..3)];
            while let Some(&b) = bounds.last().filter(|&&b| b < t0 + 3 * 86_400) {
                bounds.push(b + 3600 * rng.i64(1..30));
            }
            let present = [0, 1];
            // The chunks (days) of the stream; some seeds repeat the end of the previous
            // chunk at the start of the next (overlapping files).
            let mut chunks: Vec<Vec<Record>> = Vec::new();
            for r in recs {
                match chunks.last_mut() {
                    Some(c) if c[0].time.div_euclid(86_400) == r.time.div_euclid(86_400) => {
                        c.push(r)
                    }
                    _ => chunks.push(vec![r]),
                }
            }
            if seed % 4 == 3 {
                for k in (1..chunks.len()).rev() {
                    let n = chunks[k - 1].len();
                    let tail = chunks[k - 1][n.saturating_sub(4)..n.saturating_sub(1)].to_vec();
                    chunks[k].splice(0..0, tail);
                }
            }
            let mut whole = Accumulator::new(bounds.clone());
            chunks.iter().flatten().for_each(|r| whole.feed(r));
            let mut acc = Accumulator::new(bounds.clone());
            let mut used = 0;
            for chunk in &chunks {
                let mut b = Builder::new(Vec::new(), present.to_vec());
                chunk.iter().for_each(|r| b.feed(r));
                let text = b.finish().to_text();
                let s = DaySummary::from_text(&text).expect("round trip");
                if acc.feed_summary(&s) {
                    used += 1;
                } else {
                    chunk.iter().for_each(|r| acc.feed(r));
                }
            }
            let (a, b) = (whole.finish(&present, true), acc.finish(&present, true));
            assert_eq!(a.rows, b.rows, "seed {seed}");
            assert_eq!(a.classes(), b.classes(), "seed {seed}");
            all_used += used;
        }
        assert!(all_used > 300, "{all_used} summaries used");
    }

    impl std::ops::BitOr for Flags {
        type Output = Flags;
        fn bitor(self, o: Flags) -> Flags {
            Flags(self.0 | o.0)
        }
    }
}
