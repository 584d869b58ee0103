//! What was written and what was made durable, row by row, and the check of a data directory
//! against it.
//!
//! A row is known by its *key*: its `time` cell, then `label=value` for each non-empty cell,
//! labels sorted (the same from a CSV line, a Parquet row, or the cells the schedule gave).
//! The schedule gives every row a unique `EAST` (an index that only grows), so no two rows
//! share a key.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use tic_rec::store::{Catalog, Columns, DayReader, Next};

/// The key of a row from its columns and cells (`time` first).
pub fn key<'a>(columns: &[String], cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut time = "";
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (c, v) in columns.iter().zip(cells) {
        if c == "time" {
            time = v;
        } else if !v.is_empty() {
            pairs.push((c, v));
        }
    }
    pairs.sort_unstable();
    let mut k = String::from(time);
    for (c, v) in pairs {
        k.push('|');
        k.push_str(c);
        k.push('=');
        k.push_str(v);
    }
    k
}

/// The rows of a day file's CSV text: complete lines after the header, as keys, with
/// whether each is a line of the header's width (a whole row, not a torn one).
pub fn csv_keys(bytes: &[u8]) -> Vec<String> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    // Only lines ended by '\n': the last piece never is.
    let complete = bytes.iter().filter(|&&b| b == b'\n').count();
    if complete == 0 {
        return Vec::new();
    }
    let Ok(header) = std::str::from_utf8(header) else {
        return Vec::new();
    };
    let columns: Vec<String> = header.split(',').map(str::to_owned).collect();
    let mut out = Vec::new();
    for line in lines.take(complete - 1) {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() == columns.len() {
            out.push(key(&columns, cells));
        }
    }
    out
}

/// Rows made durable, in the order they became so (a row once durable stays in it).
#[derive(Default)]
pub struct Ledger {
    pub durable: Vec<String>,
    pub seen: HashSet<String>,
}

impl Ledger {
    /// Adds the rows of `keys` not yet in (whole lines of the header's width; the check
    /// looks only for those the recorder was given).
    pub fn add(&mut self, keys: Vec<String>) {
        for k in keys {
            if !self.seen.contains(&k) {
                self.seen.insert(k.clone());
                self.durable.push(k);
            }
        }
    }
}

/// A row the schedule gave the store.
#[derive(Clone, Debug)]
pub struct Written {
    /// Its local day.
    pub day: NaiveDate,
    /// The order it was given in.
    pub seq: u64,
    /// When it was given (the injected monotonic clock, in seconds).
    pub mono: u64,
    /// Whether the store wrote it (not skipped as a duplicate, not held on a full disk).
    pub written: bool,
}

/// What a check found: counts, or the first failure.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub rows: u64,
    pub days: u64,
    pub parquet_days: u64,
    pub damaged: u64,
    /// Rows read that were written but never made durable (kept by luck).
    pub undurable_kept: u64,
}

/// A check that failed: what it found wrong, and the durable rows and days it lost (a day is
/// lost when it cannot be read, or none of its durable rows is read).
#[derive(Clone, Debug, Default)]
pub struct Failed {
    pub message: String,
    pub rows_lost: u64,
    pub days_lost: u64,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed {
            message,
            ..Failed::default()
        }
    }
}

/// Reads every day of `data` through the store's one reader and checks it against what was
/// written and what was durable: every durable row read exactly once, every row read one that
/// was written (no torn or invented row), every day readable.
pub fn check(
    data: &Path,
    written: &dyn Fn(&str) -> Option<Written>,
    durable: &[&[String]],
) -> Result<Found, Failed> {
    let catalog = Catalog::open(data).map_err(|e| format!("the catalog: {e}"))?;
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut found = Found::default();
    for (day, files) in catalog.all() {
        let unreadable = |message: String| Failed {
            message,
            rows_lost: 0,
            days_lost: 1,
        };
        let mut r = DayReader::open(day, files, Columns::All)
            .map_err(|e| unreadable(format!("day {day} cannot be read: {e}")))?;
        found.days += 1;
        if let Some(note) = r.notes().first() {
            // A Parquet file that cannot be read in place of its CSV files: a conversion
            // only ever renames in a verified, fsynced file.
            return Err(unreadable(format!("day {day}: {note}")));
        }
        if r.parquet().is_some() {
            found.parquet_days += 1;
        }
        let columns = r.columns().to_vec();
        let mut cells: Vec<String> = Vec::with_capacity(columns.len());
        loop {
            let next = r
                .advance()
                .map_err(|e| unreadable(format!("day {day} fails while read: {e}")))?;
            match next {
                None => break,
                Some(Next::Damaged { count, .. }) => found.damaged += count,
                Some(Next::Row) => {
                    cells.clear();
                    let mut t = String::new();
                    r.push_time_text(&mut t);
                    cells.push(t);
                    for j in 1..columns.len() {
                        let mut c = String::new();
                        r.cell(j).push_to(&mut c);
                        cells.push(c);
                    }
                    let k = key(&columns, cells.iter().map(String::as_str));
                    match written(&k) {
                        None => return Err(format!("day {day}: a row never written: {k}").into()),
                        Some(w) if w.day != day => {
                            return Err(
                                format!("day {day}: a row of {} read here: {k}", w.day).into()
                            )
                        }
                        Some(_) => {}
                    }
                    let n = seen.entry(k.clone()).or_insert(0);
                    *n += 1;
                    if *n > 1 {
                        return Err(format!("day {day}: a row read twice: {k}").into());
                    }
                    found.rows += 1;
                }
            }
        }
    }
    let mut all: HashSet<&str> = HashSet::new();
    // Only rows the recorder was given: a durable line that is not one (stale bytes a cut
    // left in a file the recorder went on appending to, skipped as damaged) is no row.
    let mut lost: Vec<&str> = Vec::new();
    // Per day with durable rows: whether one of them was read.
    let mut days: HashMap<NaiveDate, bool> = HashMap::new();
    for (k, w) in durable
        .iter()
        .flat_map(|d| d.iter())
        .filter_map(|k| written(k).map(|w| (k, w)))
    {
        all.insert(k);
        let read = seen.contains_key(k);
        *days.entry(w.day).or_insert(false) |= read;
        if !read {
            lost.push(k);
        }
    }
    if let Some(k) = lost.first() {
        let days_lost = days.values().filter(|read| !**read).count() as u64;
        return Err(Failed {
            message: format!(
                "{} row(s) made durable are lost ({days_lost} day(s) lost whole), e.g. {k} (of \
                 {} durable, {} read)",
                lost.len(),
                durable.iter().map(|d| d.len()).sum::<usize>(),
                found.rows
            ),
            rows_lost: lost.len() as u64,
            days_lost,
        });
    }
    found.undurable_kept = seen.keys().filter(|k| !all.contains(k.as_str())).count() as u64;
    Ok(found)
}
