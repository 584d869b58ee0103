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

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::accumulator::Accumulator;
use super::dataset::{self, month_of, MonthMeta};
use super::periods::boundaries;
use super::table::{Row, Table};
use super::tariff::Tariffs;
use super::{feed, Catalog, DayRead, Error, ExportObserver, Period, N_ENERGY};
use crate::store::periods;
use crate::tic::labels::Calendar;

/// The hours of the closed days of `[from, to]` found in the dataset and still holding.
struct Closed {
    /// Their hours, in order (a year's are moved once: see [`dataset::rows_of`]).
    hours: Vec<Row>,
    /// Their days.
    days: std::collections::BTreeSet<NaiveDate>,
    labels: Vec<usize>,
    names: Vec<(u8, String)>,
    /// The calendars the days' contracts name.
    calendars: Vec<Calendar>,
}

/// The month files of `[from, to]`, read (on two threads: a year is twelve files).
fn month_files(store: &Catalog, from: NaiveDate, to: NaiveDate) -> Vec<periods::PeriodsMonth> {
    let Ok(files) = periods::months(store.dir()) else {
        return Vec::new();
    };
    let (a, b) = (month_of(from), month_of(to));
    let paths: Vec<_> = files
        .into_iter()
        .filter(|(y, m, _)| (*y, *m) >= a && (*y, *m) <= b)
        .map(|(_, _, p)| p)
        .collect();
    let schema = dataset::schema();
    // A month file that does not read is not used (its days are read instead).
    let read = |ps: &[std::path::PathBuf]| -> Vec<periods::PeriodsMonth> {
        ps.iter()
            .filter_map(|p| {
                periods::read_only(p, &schema, Some(dataset::ROW_COLUMNS))
                    .ok()
                    .flatten()
            })
            .collect()
    };
    if paths.len() < 4 {
        return read(&paths);
    }
    let (left, right) = paths.split_at(paths.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| read(right));
        let mut out = read(left);
        out.extend(other.join().unwrap_or_default());
        out
    })
}

/// Reads the month files of `[from, to]` and keeps the days whose hours hold.
fn closed_days(store: &Catalog, from: NaiveDate, to: NaiveDate) -> Option<Closed> {
    let files = month_files(store, from, to);
    let total = files
        .iter()
        .flat_map(|f| &f.batches)
        .map(|b| b.num_rows())
        .sum();
    let mut out = Closed {
        hours: Vec::with_capacity(total),
        days: std::collections::BTreeSet::new(),
        labels: Vec::new(),
        names: Vec::new(),
        calendars: Vec::new(),
    };
    for file in files {
        let Some(meta) = file.meta.as_deref().and_then(MonthMeta::from_text) else {
            continue;
        };
        let runs = meta.runs_hold(store);
        // This file's hours go at the end of out.hours; the days that do not hold are taken
        // out again.
        let base = out.hours.len();
        // The local date of each of the file's hours.
        let mut dates: Vec<NaiveDate> = Vec::new();
        let mut contracts = dataset::Contracts::new();
        for batch in &file.batches {
            match dataset::rows_of(batch, &mut out.hours, &mut dates) {
                Some(last) => contracts.extend(last),
                None => {
                    out.hours.truncate(base);
                    dates.clear();
                    contracts.clear();
                    break;
                }
            }
        }
        // Each day's span of the file's hours (a file holds its hours in order).
        let mut spans: Vec<(NaiveDate, usize, usize)> = Vec::new();
        for (i, d) in dates.iter().enumerate() {
            let i = base + i;
            match spans.last_mut() {
                Some((day, _, end)) if day == d => *end = i + 1,
                _ => spans.push((*d, i, i + 1)),
            }
        }
        let mut kept: Vec<(usize, usize)> = Vec::new();
        for &(day, a, b) in &spans {
            let Some(e) = meta.days.iter().find(|e| e.day == day) else {
                continue;
            };
            if day < from || day > to || !meta.holds_given(day, &runs) {
                continue;
            }
            // Every hour of the day, in order.
            let (Some(start), Some(end)) = (
                crate::store::midnight(day),
                day.succ_opt().and_then(crate::store::midnight),
            ) else {
                continue;
            };
            let hours = &out.hours[a..b];
            let whole = hours.len() as i64 == (end - start) / 3600
                && hours
                    .iter()
                    .enumerate()
                    .all(|(i, h)| h.start == start + 3600 * i as i64 && h.end == h.start + 3600);
            if !whole || out.days.contains(&day) {
                continue;
            }
            for &k in &e.labels {
                if !out.labels.contains(&k) {
                    out.labels.push(k);
                }
            }
            out.names.extend(meta.tariffs(day).iter().cloned());
            if let Some(c) = contracts.get(&day).and_then(|c| Calendar::of(c)) {
                out.calendars.push(c);
            }
            out.days.insert(day);
            kept.push((a, b));
        }
        // Usually every day holds: nothing moves. Else the kept spans are moved down.
        let all = kept.len() == spans.len();
        if !all {
            let mut to = base;
            for (a, b) in kept {
                for i in a..b {
                    out.hours.swap(to, i);
                    to += 1;
                }
            }
            out.hours.truncate(to);
        }
    }
    Some(out)
}

/// The export of `[from, to]` in periods of `period` from the dataset and the days it lacks;
/// `None` when the dataset holds none of the range's days, or when the range must be read
/// the long way (see the module docs).
pub fn export(
    store: &Catalog,
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
    observer: &mut dyn ExportObserver,
) -> Result<Option<Table>, Error> {
    let bounds = boundaries(period, from, to)?;
    if bounds.iter().any(|b| b.rem_euclid(3600) != 0) {
        return Ok(None);
    }
    let Some(closed) = closed_days(store, from, to) else {
        return Ok(None);
    };
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
    let Closed {
        hours: mut closed_hours,
        days: closed_days,
        ..
    } = closed;
    let mut hours: Vec<Row> = Vec::new();
    let mut present = closed.labels;
    let mut around = Vec::new();
    let mut names = closed.names;
    let mut calendars = closed.calendars;
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
    for day in closed_days {
        observer.day_read(day, DayRead::Index);
    }
    // The closed days' hours, then those read the long way; in order already when these
    // come after them (the day being recorded): no move of a year's hours then.
    closed_hours.append(&mut hours);
    let mut hours = closed_hours;
    if !hours.is_sorted_by_key(|h| h.start) {
        hours.sort_by_key(|h| h.start);
    }
    let rows = dataset::aggregate(&hours, &bounds, &present);
    Ok(Some(Table {
        labels: present,
        tariffs,
        rows,
        last,
    }))
}
