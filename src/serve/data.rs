//! History, read through [`crate::store`] and [`crate::export`] only: per-period consumption
//! is `export::export_store` (the numbers of `tic-rec export`), records are
//! [`crate::store::DayReader`] rows downsampled into a bounded number of buckets.
//!
//! What is expensive is cached, keyed on the files it was read from (their paths and
//! lengths), so that a cached answer is never one of other files:
//! - the last record on disk (the day being recorded is read to its end: at most every
//!   [`LAST_REFRESH`] while it grows);
//! - the table of the last day (today's kWh), at most every [`TODAY_REFRESH`] while it grows;
//! - the last period tables, while the files they may have read are unchanged
//!   ([`Data::periods`]).
//!
//! A past month's table costs about two full day reads (the export reads back the day before
//! the range and the first records after it) even when every day's summary is in its Parquet
//! footer: the cache makes a page seen again a few milliseconds (BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::cost::{self, CostError, CostTable};
use super::live::LastRecord;
use super::query::BadRequest;
use crate::export::{self, Options, Period, Quiet, Table};
use crate::store::{Catalog, Cell, Columns, DayFiles, DayReader, Next, ReadError};
use crate::tic::labels::{classify, Class, Field, N_ENERGY};
use crate::tic::Mode;

/// The last record on disk is read again at most this often while its day grows (and at
/// most every 20 times the last read's duration: the whole day is read).
pub const LAST_REFRESH: Duration = Duration::from_secs(5);
/// The last day's table is computed again at most this often while the day grows.
pub const TODAY_REFRESH: Duration = Duration::from_secs(60);
/// A cost reaching the day being recorded is priced again at most this often while the day
/// grows (today's cost so far reads the whole day again: about 0.17 s at the end of a day of
/// one-second records, BENCHMARKS.md).
pub const COST_REFRESH: Duration = Duration::from_secs(300);
/// The classes of the indexes (learned over the last month) are learned again this often.
pub const CLASSES_REFRESH: Duration = Duration::from_secs(600);
/// The most periods an API call or a page computes.
pub const MAX_PERIODS: i64 = 2_000;
/// The most days a records query spans.
pub const MAX_RECORD_DAYS: i64 = 366;
/// The most buckets a records query returns.
pub const MAX_POINTS: usize = 2_000;

/// A failure to answer from the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The question itself is wrong (a range too wide, from after to): a `400`.
    #[error(transparent)]
    Bad(#[from] BadRequest),
    /// The data directory holds no day yet: a `404`.
    #[error("no recorded days in {0:?} yet")]
    Empty(PathBuf),
    /// The files cannot be read (I/O, a damaged archive): a `503`, naming the file.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The export failed for another reason (I/O of the index, a calendar error).
    #[error(transparent)]
    Export(export::Error),
}

impl From<export::Error> for DataError {
    fn from(e: export::Error) -> Self {
        match e {
            export::Error::NoFiles(p) => DataError::Empty(p),
            export::Error::Read(r) => DataError::Read(r),
            e @ (export::Error::RangeTooWide { .. } | export::Error::EmptyRange { .. }) => {
                DataError::Bad(BadRequest(e.to_string()))
            }
            e => DataError::Export(e),
        }
    }
}

/// What identifies a day's files: their paths and lengths.
type Key = Vec<(PathBuf, u64)>;

fn key(files: &DayFiles) -> Key {
    files.files().map(|f| (f.path.clone(), f.len)).collect()
}

struct Cached<T> {
    key: Key,
    at: Instant,
    value: T,
}

#[derive(Default)]
struct Caches {
    last: Option<Cached<Option<LastRecord>>>,
    /// How long the last read of the last record took.
    last_took: Duration,
    today: Option<(NaiveDate, Cached<Arc<Table>>)>,
    classes: Option<(NaiveDate, Instant, [Option<Class>; N_ENERGY])>,
    tables: std::collections::VecDeque<(TableKey, Arc<Table>)>,
    costs: std::collections::VecDeque<(TableKey, Instant, CostResult)>,
}

/// A cost table, or why there is none (kept as well: a range the data cannot price stays so
/// until its files change).
pub type CostResult = Arc<Result<CostTable, CostError>>;

/// The files a computation over days up to `to` may read: those of every day up to `to` and
/// of the first two days with files after it (the export reads back before its range and the
/// first records after it).
fn read_upto(catalog: &Catalog, to: NaiveDate) -> Key {
    let mut files: Key = Vec::new();
    for (_, f) in catalog.all().take_while(|(d, _)| *d <= to) {
        files.extend(key(f));
    }
    for (_, f) in catalog.after(to).take(2) {
        files.extend(key(f));
    }
    files
}

/// What a period table was computed from.
type TableKey = (Period, NaiveDate, NaiveDate, Key);

/// Period tables kept.
pub const TABLES: usize = 32;
/// Only tables of at most this many rows are kept (a page's: 31 days, 25 hours, 12 months),
/// so that the cache stays under 2 MB inside the recorder.
pub const CACHED_ROWS: usize = 100;

/// The data directory, read for the server.
pub struct Data {
    dir: PathBuf,
    caches: Mutex<Caches>,
}

/// One bucket of a downsampled series.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Start (Unix seconds, inclusive).
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// Records in it with a value.
    pub n: u64,
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
    /// Mean value.
    pub mean: f64,
    /// The tariff class of its last record (LTARF or PTEC), if the data says one.
    pub class: Option<Class>,
}

/// A downsampled series of one label.
#[derive(Clone, Debug)]
pub struct Series {
    /// The label.
    pub label: String,
    /// Start and end of the range (Unix seconds).
    pub from: i64,
    /// See [`Series::from`].
    pub to: i64,
    /// Bucket width, seconds.
    pub step: i64,
    /// The buckets that hold records, in order.
    pub buckets: Vec<Bucket>,
    /// Rows read.
    pub rows: u64,
}

impl Data {
    /// The server's view of `dir`.
    pub fn new(dir: &Path) -> Data {
        Data {
            dir: dir.to_path_buf(),
            caches: Mutex::new(Caches::default()),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The catalog of days now.
    pub fn catalog(&self) -> Result<Catalog, DataError> {
        Ok(export::open(&self.dir)?)
    }

    /// Per-period consumption, exactly `tic-rec export`'s, bounded to [`MAX_PERIODS`].
    ///
    /// The last [`TABLES`] tables of at most [`CACHED_ROWS`] rows are kept, each with the files it may have read: those of
    /// every day up to `to` and of the first two days with files after it (the export reads
    /// back before the range and the first records after it). A table is used again only
    /// while those files have the same paths and lengths, so a past month's table outlives
    /// the rows recorded today; one reaching the day being recorded is computed again (and
    /// replaces its older self).
    pub fn periods(
        &self,
        catalog: &Catalog,
        period: Period,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Arc<Table>, DataError> {
        check_periods(period, from, to)?;
        let k = (period, from, to, read_upto(catalog, to));
        if let Some((_, t)) = self.caches().tables.iter().find(|(c, _)| *c == k) {
            return Ok(Arc::clone(t));
        }
        let options = Options {
            period,
            from: Some(from),
            to: Some(to),
            mode: export::ReadMode::Index,
        };
        let t = Arc::new(export::export_store(catalog, &options, &mut Quiet)?);
        if t.rows.len() > CACHED_ROWS {
            return Ok(t);
        }
        let mut c = self.caches();
        // One entry per range: a table of the day being recorded replaces its older self
        // rather than pushing the others out.
        c.tables
            .retain(|((p, f, t, _), _)| (*p, *f, *t) != (k.0, k.1, k.2));
        if c.tables.len() >= TABLES {
            c.tables.pop_front();
        }
        c.tables.push_back((k, Arc::clone(&t)));
        Ok(t)
    }

    /// The € per `period` of `[from, to]`: exactly `tic-rec cost`'s ([`cost::cost`]), bounded
    /// to [`MAX_PERIODS`].
    ///
    /// The last [`TABLES`] answers of at most [`CACHED_ROWS`] rows are kept, each with the
    /// files it may have read (as [`Data::periods`]); a read error is never kept. One is used
    /// again while those files are unchanged, and, while they grow (a range reaching the day
    /// being recorded), for [`COST_REFRESH`]: the Now page, polled every second or pushed at
    /// every record, prices today at most every 5 minutes.
    pub fn cost(
        &self,
        catalog: &Catalog,
        period: Period,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<CostResult, DataError> {
        check_periods(period, from, to)?;
        let k = (period, from, to, read_upto(catalog, to));
        let same_range = |c: &TableKey| (c.0, c.1, c.2) == (k.0, k.1, k.2);
        if let Some((_, _, t)) = self
            .caches()
            .costs
            .iter()
            .find(|(c, at, _)| same_range(c) && (c.3 == k.3 || at.elapsed() < COST_REFRESH))
        {
            return Ok(Arc::clone(t));
        }
        let t = match cost::cost(catalog, period, from, to) {
            // Files that cannot be read: a 503 naming them, and nothing kept (they may be
            // readable at the next request).
            Err(CostError::Export(e)) => return Err(e.into()),
            t => Arc::new(t),
        };
        if t.as_ref()
            .as_ref()
            .is_ok_and(|t| t.rows.len() > CACHED_ROWS)
        {
            return Ok(t);
        }
        let mut c = self.caches();
        c.costs.retain(|(c, _, _)| !same_range(c));
        if c.costs.len() >= TABLES {
            c.costs.pop_front();
        }
        c.costs.push_back((k, Instant::now(), Arc::clone(&t)));
        Ok(t)
    }

    /// Computes the tables and costs the pages ask first (each of the last 12 recorded months
    /// by day, the last recorded year by month, the Contracts page's 12 months), so that their
    /// first view is a cache hit. Run once on a background thread at start; an error is left for
    /// the page to say.
    pub fn warm(&self) {
        let Ok(catalog) = self.catalog() else { return };
        let Some(last) = catalog.last_day() else {
            return;
        };
        let first = first_of_month(last);
        for i in 0..12 {
            let Some(m) = first.checked_sub_months(chrono::Months::new(i)) else {
                break;
            };
            if let Some(end) = last_of_month(m) {
                let _ = self.periods(&catalog, Period::Day, m, end);
                let _ = self.cost(&catalog, Period::Day, m, end);
            }
        }
        if let Some((a, b)) = year_bounds(chrono::Datelike::year(&last)) {
            let _ = self.periods(&catalog, Period::Month, a, b);
            let _ = self.cost(&catalog, Period::Month, a, b);
        }
        if let (Some(from), Some(to)) = (
            first.checked_sub_months(chrono::Months::new(11)),
            last_of_month(first),
        ) {
            let _ = self.periods(&catalog, Period::Month, from, to);
            let _ = self.cost(&catalog, Period::Month, from, to);
        }
    }

    /// The last record on disk (none in an empty directory), read again at most every
    /// [`LAST_REFRESH`] while the last day's files grow.
    pub fn last_record(&self, catalog: &Catalog) -> Result<Option<LastRecord>, DataError> {
        let Some(day) = catalog.last_day() else {
            return Ok(None);
        };
        let files = catalog.day(day).cloned().unwrap_or_default();
        let k = key(&files);
        {
            let caches = self.caches();
            // A read of a long day costs (0.5 s for 86,400 rows here): at most 5 % of a core.
            let refresh = LAST_REFRESH.max(caches.last_took * 20);
            if let Some(c) = &caches.last {
                if c.key == k || c.at.elapsed() < refresh {
                    return Ok(c.value.clone());
                }
            }
        }
        let started = Instant::now();
        // The values the Now page and the metrics show: numbers, the tariff's name, the
        // status register and tomorrow's colour; other text columns stay empty.
        let want = |c: &str| {
            crate::tic::labels::is_numeric(c)
                || Field::TariffName.is(c)
                || matches!(c, "STGE" | "DEMAIN")
        };
        let mut r = DayReader::open(day, &files, Columns::Only(&want))?;
        let columns: Arc<[String]> = r.columns().iter().cloned().collect();
        let mut last: Option<(i64, i32, Vec<String>)> = None;
        while let Some(next) = r.advance()? {
            if next == Next::Row {
                let mut cells = Vec::with_capacity(columns.len().saturating_sub(1));
                for j in 1..columns.len() {
                    cells.push(r.cell(j).text().into_owned());
                }
                last = Some((r.time(), r.offset(), cells));
            }
        }
        let value = last.map(|(t, offset, cells)| LastRecord {
            time: chrono::DateTime::from_timestamp(t, 0)
                .and_then(|u| chrono::FixedOffset::east_opt(offset).map(|o| u.with_timezone(&o))),
            columns,
            cells,
        });
        let mut caches = self.caches();
        caches.last_took = started.elapsed();
        caches.last = Some(Cached {
            key: k,
            at: Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }

    /// The table of one day (today's kWh on the Now page), computed again at most every
    /// [`TODAY_REFRESH`] while its files grow.
    pub fn today(&self, catalog: &Catalog, day: NaiveDate) -> Result<Arc<Table>, DataError> {
        let k = catalog.day(day).map(key).unwrap_or_default();
        if let Some((d, c)) = &self.caches().today {
            if *d == day && (c.key == k || c.at.elapsed() < TODAY_REFRESH) {
                return Ok(Arc::clone(&c.value));
            }
        }
        let t = self.periods(catalog, Period::Day, day, day)?;
        self.caches().today = Some((
            day,
            Cached {
                key: k,
                at: Instant::now(),
                value: Arc::clone(&t),
            },
        ));
        Ok(t)
    }

    /// The class of every energy index as the export learns it from the `(NTARF, LTARF)`
    /// pairs of the last 31 recorded days (so that a metric's slot label does not wait for
    /// the meter to go through every period of the day), learned again at most every
    /// [`CLASSES_REFRESH`].
    pub fn classes(&self, catalog: &Catalog) -> Result<[Option<Class>; N_ENERGY], DataError> {
        let Some(last) = catalog.last_day() else {
            return Ok(Table {
                labels: Vec::new(),
                tariffs: export::Tariffs::default(),
                rows: Vec::new(),
            }
            .classes());
        };
        if let Some((d, at, c)) = &self.caches().classes {
            if *d == last && at.elapsed() < CLASSES_REFRESH {
                return Ok(*c);
            }
        }
        let from = last - chrono::Days::new(30);
        let t = self.periods(catalog, Period::Year, from, last)?;
        let c = t.classes();
        self.caches().classes = Some((last, Instant::now(), c));
        Ok(c)
    }

    /// `label` (or the data's power label, SINSTS or PAPP, when `None`) over `[from, to)`,
    /// in at most `points` buckets of equal width: min, max and mean of each.
    pub fn records(
        &self,
        catalog: &Catalog,
        from: i64,
        to: i64,
        label: Option<&str>,
        points: usize,
    ) -> Result<Series, DataError> {
        if to <= from {
            return Err(BadRequest(format!(
                "empty range: from {} is not before to {}",
                rfc(from),
                rfc(to)
            ))
            .into());
        }
        let first = local_day(from);
        let last = local_day(to - 1);
        if (last - first).num_days() >= MAX_RECORD_DAYS {
            return Err(BadRequest(format!(
                "range {first} to {last} spans more than {MAX_RECORD_DAYS} days: narrow from/to"
            ))
            .into());
        }
        let points = points.clamp(1, MAX_POINTS) as i64;
        let step = ((to - from) + points - 1) / points;
        let mut acc: Vec<Option<Acc>> = vec![None; points as usize];
        let mut rows = 0u64;
        let mut chosen: Option<String> = label.map(str::to_owned);
        for (day, files) in catalog.days(first, last) {
            let want = |c: &str| {
                chosen.as_deref().map_or(Field::Power.is(c), |l| c == l) || Field::TariffName.is(c)
            };
            let mut r = DayReader::open(day, files, Columns::Only(&want))?;
            let cols = r.columns().to_vec();
            let pick = chosen.clone().or_else(|| {
                Field::Power
                    .find(|l| cols.iter().any(|c| c == l).then_some(()))
                    .map(|(l, ())| l.to_owned())
            });
            let Some(pick) = pick else { continue };
            chosen.get_or_insert_with(|| pick.clone());
            let Some(j) = cols.iter().position(|c| *c == pick) else {
                continue;
            };
            let tariff = cols.iter().position(|c| Field::TariffName.is(c));
            while let Some(next) = r.advance()? {
                if next != Next::Row {
                    continue;
                }
                let t = r.time();
                if t < from || t >= to {
                    continue;
                }
                rows += 1;
                let Some(v) = r.cell(j).int() else { continue };
                let class = tariff.and_then(|k| match r.cell(k) {
                    Cell::Null => None,
                    c => Some(classify(&c.text())),
                });
                let b = ((t - from) / step) as usize;
                if let Some(slot) = acc.get_mut(b) {
                    let a = slot.get_or_insert(Acc {
                        n: 0,
                        min: v,
                        max: v,
                        sum: 0,
                        class: None,
                    });
                    a.n += 1;
                    a.min = a.min.min(v);
                    a.max = a.max.max(v);
                    a.sum += i128::from(v);
                    if class.is_some() {
                        a.class = class;
                    }
                }
            }
        }
        let buckets = acc
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let a = a?;
                let start = from + i as i64 * step;
                Some(Bucket {
                    start,
                    end: (start + step).min(to),
                    n: a.n,
                    min: a.min,
                    max: a.max,
                    mean: a.sum as f64 / a.n as f64,
                    class: a.class,
                })
            })
            .collect();
        Ok(Series {
            label: chosen.unwrap_or_else(|| Field::Power.label(Mode::Standard).to_owned()),
            from,
            to,
            step,
            buckets,
            rows,
        })
    }
}

#[derive(Clone, Copy)]
struct Acc {
    n: u64,
    min: i64,
    max: i64,
    sum: i128,
    class: Option<Class>,
}

/// Refuses a range of more than [`MAX_PERIODS`] periods.
fn check_periods(period: Period, from: NaiveDate, to: NaiveDate) -> Result<(), DataError> {
    if from > to {
        return Err(BadRequest(format!("empty range: from {from} is after to {to}")).into());
    }
    let n = match export::boundaries(period, from, to) {
        Ok(b) => b.len() as i64 - 1,
        Err(e) => return Err(e.into()),
    };
    if n > MAX_PERIODS {
        return Err(BadRequest(format!(
            "range {from} to {to} holds {n} periods of a {}, more than {MAX_PERIODS}: narrow from/to or take a longer period",
            period_name(period)
        ))
        .into());
    }
    Ok(())
}

/// The first day of `d`'s month.
pub fn first_of_month(d: NaiveDate) -> NaiveDate {
    chrono::Datelike::with_day(&d, 1).unwrap_or(d)
}

/// The last day of the month that starts on `first`.
pub fn last_of_month(first: NaiveDate) -> Option<NaiveDate> {
    first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
}

/// 1 January and 31 December of `year`.
pub fn year_bounds(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(year, 1, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}

/// `hour`, `day`…
pub fn period_name(p: Period) -> &'static str {
    match p {
        Period::Hour => "hour",
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
        Period::Year => "year",
    }
}

/// The local (Europe/Paris) date of Unix time `t`.
pub fn local_day(t: i64) -> NaiveDate {
    crate::store::local_day(t).unwrap_or_default()
}

/// RFC 3339 with the local offset.
pub fn rfc(t: i64) -> String {
    export::output::rfc3339(t)
}

/// Bytes of the day files (both encodings) of the catalog.
pub fn archive_bytes(catalog: &Catalog) -> u64 {
    catalog.all().map(|(_, f)| f.bytes()).sum()
}
