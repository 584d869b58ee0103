//! An export made from what is already summed: the hours of the periods dataset
//! ([`super::dataset`]) for the closed days whose hours still hold, the export's own reading
//! (day summaries, rows) for the others — the day being recorded, a day changed since its
//! hours were computed — then every hour summed into the periods asked
//! ([`super::dataset::aggregate`]). The answer is the one reading every day gives, to the Wh
//! and in every quality column: the hours are those an export of them gives, and an export's
//! periods are made of whole hours.
//!
//! Used by [`super::ReadMode::Index`] (the default) when the range has closed days in the
//! dataset, no probe (the cost engine's instants inside an hour), and tariff names that agree
//! (a contract change in or around the range is read the long way, where each index's class
//! is the one the export learns in order).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::accumulator::Accumulator;
use super::dataset::{self, month_of, Columns, MonthMeta, Sums};
use super::periods::boundaries;
use super::table::{Row, Table};
use super::tariff::Tariffs;
use super::{feed, Catalog, DayRead, Error, ExportObserver, Period, N_ENERGY};
use crate::store::periods;
use crate::tic::labels::Calendar;

/// A closed day's hours in a month file `file`.
struct Span {
    file: usize,
    hours: Hours,
    /// The start of its first hour.
    start: i64,
}

/// Where a closed day's hours are read from.
enum Hours {
    /// Rows `rows` of batch `batch`.
    Rows {
        batch: usize,
        rows: std::ops::Range<usize>,
    },
    /// The sums kept beside them (day `at` of the file's footer text).
    Summed { at: usize },
}

/// The closed days of `[from, to]` found in the dataset and whose hours still hold.
struct Closed {
    /// Each day's hours, in order.
    spans: Vec<Span>,
    /// Their days.
    days: BTreeSet<NaiveDate>,
    labels: Vec<usize>,
    names: Vec<(u8, String)>,
    /// The calendars the days' contracts name.
    calendars: Vec<Calendar>,
}

/// A month file read for an export, and its footer text (`None`: not one of ours).
struct Month {
    /// Its year and month.
    month: (i32, u32),
    file: periods::PeriodsMonth,
    meta: Option<MonthMeta>,
    /// Whether only its footer was read: every day of its text has its sums, and the
    /// export's periods are made of whole days.
    summed: bool,
}

/// The month files of the periods dataset an export reads, being read (and their footer
/// texts parsed) on two threads from when the export starts, beside the catalog's walk of
/// the days: [`Prefetch::start`], then an export given it ([`super::export_prefetched`]).
///
/// The files are read before the catalog lists the days: a file rewritten since is one
/// whose days' sources are checked against that later listing, like any other (a day
/// whose files changed is read the long way).
pub struct Prefetch {
    readers: Vec<std::thread::JoinHandle<Vec<(usize, Month)>>>,
    /// Whether it reads for periods of whole days (only the footers of files keeping
    /// every day's sums).
    days: bool,
}

impl Prefetch {
    /// Starts reading the month files of `dir` from the month of `from` to that of `to`
    /// (each unbounded when `None`) for an export in periods of `period`: periods of whole
    /// days read only the footers of files that keep every day's sums.
    pub fn start(
        dir: &std::path::Path,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        period: Period,
    ) -> Prefetch {
        let days = period != Period::Hour;
        let (a, b) = (
            from.map_or((i32::MIN, 0), month_of),
            to.map_or((i32::MAX, 12), month_of),
        );
        // A listing that fails lists none (the days are read the long way).
        let paths: Vec<(usize, (i32, u32), std::path::PathBuf)> = periods::months(dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|(y, m, _)| (*y, *m) >= a && (*y, *m) <= b)
            .enumerate()
            .map(|(i, (y, m, p))| (i, (y, m), p))
            .collect();
        // A year is twelve files: on two threads; a few on one.
        let threads = if paths.len() < 4 { 1 } else { 2 };
        let readers = (0..threads)
            .map(|t| {
                let mine: Vec<_> = paths
                    .iter()
                    .filter(|(i, _, _)| i % threads == t)
                    .cloned()
                    .collect();
                std::thread::spawn(move || read_months(&mine, days))
            })
            .collect();
        Prefetch { readers, days }
    }

    /// The files read, in order, those of the months of `[from, to]` only.
    fn finish(self, from: NaiveDate, to: NaiveDate) -> Vec<Month> {
        let mut out: Vec<(usize, Month)> = Vec::new();
        for r in self.readers {
            // A reader that failed (it cannot: it reads or skips) reads nothing.
            out.extend(r.join().unwrap_or_default());
        }
        out.sort_by_key(|(i, _)| *i);
        let (a, b) = (month_of(from), month_of(to));
        out.into_iter()
            .map(|(_, m)| m)
            .filter(|m| m.month >= a && m.month <= b)
            .collect()
    }
}

/// Reads month files, their footer texts parsed; with `days` (the export's periods are
/// whole days), only the footer of a file whose text keeps every day's sums. A month file
/// that does not read is not used (its days are read the long way).
fn read_months(
    paths: &[(usize, (i32, u32), std::path::PathBuf)],
    days: bool,
) -> Vec<(usize, Month)> {
    let schema = dataset::schema();
    paths
        .iter()
        .filter_map(|(i, month, p)| {
            let (mut meta, mut summed) = (None, false);
            let columns = dataset::ROW_COLUMNS.as_slice();
            let file = if days {
                periods::read_if(p, &schema, columns, |text| {
                    meta = text.and_then(MonthMeta::from_text);
                    summed = meta.as_ref().is_some_and(MonthMeta::all_summed);
                    !summed
                })
            } else {
                // By the hour every file's rows are read: no footer read first.
                periods::read_only(p, &schema, Some(columns))
            }
            .ok()
            .flatten()?;
            if !summed {
                // The rows come from a second read of the file (maybe a newer one, written
                // since): its text is that read's, so that the days are checked against
                // what their rows were computed from.
                meta = file.meta.as_deref().and_then(MonthMeta::from_text);
            }
            Some((
                *i,
                Month {
                    month: *month,
                    file,
                    meta,
                    summed,
                },
            ))
        })
        .collect()
}

/// Reads the month files of `[from, to]` and keeps the days whose hours hold: each whole
/// (every hour of the local day, in order), in the file's footer with a run that still
/// holds for `store`, and in no other file.
///
/// `files` are the month files read, `columns` their batches' columns (`None`: a batch that
/// is not one of ours, and the file is not used at all).
fn closed_days(
    store: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    files: &[Month],
    columns: &[Vec<Option<Columns<'_>>>],
) -> Closed {
    let mut out = Closed {
        spans: Vec::new(),
        days: BTreeSet::new(),
        labels: Vec::new(),
        names: Vec::new(),
        calendars: Vec::new(),
    };
    for (f, (month, batches)) in files.iter().zip(columns).enumerate() {
        let Some(meta) = &month.meta else {
            continue;
        };
        // A file with a batch that is not one of ours is not used at all.
        if batches.iter().any(Option::is_none) {
            continue;
        }
        let runs = meta.runs_hold(store);
        // The file's closed days, where their hours are, and their contract.
        let mut found: Vec<(NaiveDate, Hours, i64, Option<&str>)> = Vec::new();
        if month.summed {
            for (at, e) in meta.days.iter().enumerate() {
                if let Some(s) = &e.sums {
                    found.push((
                        e.day,
                        Hours::Summed { at },
                        s.start(),
                        s.contract.as_deref(),
                    ));
                }
            }
        } else {
            for (batch, cols) in batches.iter().flatten().enumerate() {
                // A day split across batches is whole in neither, and read the long way.
                for (day, rows, start) in cols.whole_days() {
                    let contract = rows.clone().rev().find_map(|i| cols.contract(i));
                    found.push((day, Hours::Rows { batch, rows }, start, contract));
                }
            }
        }
        for (day, hours, start, contract) in found {
            if day < from || day > to || out.days.contains(&day) {
                continue;
            }
            let Some(e) = meta.days.iter().find(|e| e.day == day) else {
                continue;
            };
            if !meta.holds_given(day, &runs) {
                continue;
            }
            for &k in &e.labels {
                if !out.labels.contains(&k) {
                    out.labels.push(k);
                }
            }
            out.names.extend(meta.tariffs(day).iter().cloned());
            if let Some(c) = contract.and_then(Calendar::of) {
                out.calendars.push(c);
            }
            out.days.insert(day);
            out.spans.push(Span {
                file: f,
                hours,
                start,
            });
        }
    }
    out.spans.sort_by_key(|s| s.start);
    out
}

/// The export of `[from, to]` in periods of `period` from the dataset and the days it lacks;
/// `None` when the dataset holds none of the range's days, or when the range must be read
/// the long way (see the module docs).
/// `prefetch`: the month files being read since the export started; `None` to read them now.
pub(crate) fn export(
    store: &Catalog,
    period: Period,
    (from, to): (NaiveDate, NaiveDate),
    prefetch: Option<Prefetch>,
    observer: &mut dyn ExportObserver,
) -> Result<Option<Table>, Error> {
    let bounds = boundaries(period, from, to)?;
    if bounds.iter().any(|b| b.rem_euclid(3600) != 0) {
        return Ok(None);
    }
    // Files read for periods of whole days have no hour to give an export by the hour.
    let prefetch = match prefetch {
        Some(p) if !(p.days && period == Period::Hour) => p,
        _ => Prefetch::start(store.dir(), Some(from), Some(to), period),
    };
    let files = prefetch.finish(from, to);
    let columns: Vec<Vec<Option<Columns>>> = files
        .iter()
        .map(|m| m.file.batches.iter().map(Columns::of).collect())
        .collect();
    let closed = closed_days(store, from, to, &files, &columns);
    if closed.days.is_empty() {
        return Ok(None);
    }
    // The days the dataset lacks, in stretches, read as an export reads them (hour by hour).
    let mut stretches: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut d = from;
    while d <= to {
        if !closed.days.contains(&d) {
            match stretches.last_mut() {
                Some((_, b)) if b.succ_opt() == Some(d) => *b = d,
                _ => stretches.push((d, d)),
            }
        }
        d = match d.succ_opt() {
            Some(x) => x,
            None => break,
        };
    }
    let mut hours: Vec<Row> = Vec::new();
    let mut present = closed.labels.clone();
    let mut around = Vec::new();
    let mut names = closed.names.clone();
    let mut calendars = closed.calendars.clone();
    let mut last = [None; N_ENERGY];
    for (a, b) in stretches {
        let hour_bounds = boundaries(Period::Hour, a, b)?;
        let mut acc = Accumulator::with_probes(hour_bounds.clone(), Vec::new());
        let (p, r) = feed::indexed_parts(store, a, b, &hour_bounds, &mut acc, observer)?;
        let (table, _) = acc.finish_probed(if p.is_empty() { &r } else { &p }, true);
        // The last values credited are known only where the range ends on a day read the
        // long way (the periods dataset keeps Wh per hour, not index values).
        last = if b == to {
            table.last
        } else {
            [None; N_ENERGY]
        };
        for k in p {
            if !present.contains(&k) {
                present.push(k);
            }
        }
        around.extend(r);
        names.extend(dataset::tariff_names(&table.tariffs));
        calendars.extend(table.tariffs.calendar());
        hours.extend(table.rows);
    }
    // Tariff names or calendars that disagree (a contract change): read the long way.
    let mut tariffs = Tariffs::default();
    if let Some(c) = calendars.first() {
        if calendars.iter().any(|x| x != c) {
            return Ok(None);
        }
        tariffs.learn_contract(c.display_name());
    }
    let mut seen: BTreeMap<u8, &str> = BTreeMap::new();
    for (n, name) in &names {
        if seen.insert(*n, name).is_some_and(|before| before != name) {
            return Ok(None);
        }
        tariffs.learn(*n, name);
    }
    if present.is_empty() {
        // No file in the range: its columns are those of the days around it.
        return Ok(None);
    }
    present.sort_unstable();
    for &day in &closed.days {
        observer.day_read(day, DayRead::Index);
    }
    // The closed days' hours straight from the files' columns, and those read the long way
    // between them, in order, summed into the periods asked.
    if !hours.is_sorted_by_key(|h| h.start) {
        hours.sort_by_key(|h| h.start);
    }
    let mut sums = Sums::new(&bounds, &present);
    let mut long = hours.iter().peekable();
    for s in &closed.spans {
        while let Some(h) = long.next_if(|h| h.start < s.start) {
            sums.push(h);
        }
        match &s.hours {
            Hours::Rows { batch, rows } => {
                if let Some(Some(c)) = columns.get(s.file).and_then(|f| f.get(*batch)) {
                    c.add_to(rows.clone(), &mut sums);
                }
            }
            Hours::Summed { at } => {
                let day = files[s.file].meta.as_ref().and_then(|m| m.days.get(*at));
                if let Some(d) = day.and_then(|d| d.sums.as_ref()) {
                    sums.add_day(d);
                }
            }
        }
    }
    for h in long {
        sums.push(h);
    }
    let rows = sums.finish();
    Ok(Some(Table {
        labels: present,
        tariffs,
        rows,
        last,
    }))
}
