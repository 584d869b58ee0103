//! Feeding an [`Accumulator`] from the store: every row of a range ([`scan`]), or the day
//! summaries where they are valid ([`indexed`]), with the days read around the range so that
//! the guards decide at its edges as a wider export would; rows out of order skipped
//! ([`InOrder`](super::order::InOrder)).

use chrono::NaiveDate;

use std::sync::atomic::{AtomicUsize, Ordering};

use super::accumulator::Accumulator;
use super::dataset::KeptSummaries;
use super::index::{Builder, Cache, DayFacts, DaySummary};
use super::order::{merge, Fed};
use super::reader::{add_labels, DayRecords, Item};
use super::trail::{Trail, LOOK_AHEAD_RECORDS};
use super::{DayRead, Error, ExportObserver, ReadMode};
use crate::store::{Catalog, DayFiles, Encoding, Resolved, Stamp};

/// Days read before the range, and records read after it, so that the guards decide on the
/// records around the range's edges as an export of a wider range would.
const LOOK_BACK_BYTES: u64 = 4096;
const LOOK_BACK_DAYS: usize = 3;
/// Whether the day has a complete record.
fn has_record(day: NaiveDate, files: &DayFiles) -> Result<bool, Error> {
    let r = Resolved::new(day, files)?;
    if r.encoding() == Encoding::Parquet {
        return Ok(r.parquet().is_some_and(|p| p.meta().rows > 0));
    }
    let mut d = DayRecords::from_resolved(r)?;
    while let Some(item) = d.advance()? {
        if matches!(item, Item::Rec) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The days fed before `day`: the nearest one with a record, and earlier ones while those
/// hold fewer than [`LOOK_BACK_BYTES`] (at most [`LOOK_BACK_DAYS`] days), in time order;
/// `trail` says which were read.
fn back_days<'a>(
    store: &'a Catalog,
    day: NaiveDate,
    trail: &mut Trail,
) -> Result<Vec<(NaiveDate, &'a DayFiles)>, Error> {
    let mut days = Vec::new();
    let mut bytes = 0;
    trail.back_all = true;
    for (d, files) in store.before(day) {
        trail.read(d);
        if !has_record(d, files)? {
            continue;
        }
        days.push((d, files));
        bytes += files.bytes();
        if bytes >= LOOK_BACK_BYTES || days.len() >= LOOK_BACK_DAYS {
            trail.back_all = false;
            break;
        }
    }
    days.reverse();
    Ok(days)
}

/// Feeds the days before `day` ([`back_days`]) in full; their energy labels go to `around`.
fn look_back(
    store: &Catalog,
    day: NaiveDate,
    acc: &mut Accumulator,
    around: &mut Vec<usize>,
    trail: &mut Trail,
) -> Result<(), Error> {
    for (d, files) in back_days(store, day, trail)? {
        read_back(d, files, acc, around)?;
    }
    Ok(())
}

/// [`look_back`] from the days' summaries where the accumulator takes them (exactly as
/// their rows: [`Accumulator::feed_summary`]), so that a month of an archived year does not
/// read the day before it in full.
fn look_back_indexed(
    store: &Catalog,
    day: NaiveDate,
    acc: &mut Accumulator,
    around: &mut Vec<usize>,
    cache: &mut Cache,
    kept: &mut KeptSummaries,
    observer: &mut dyn ExportObserver,
) -> Result<(), Error> {
    let days = back_days(store, day, &mut Trail::default())?;
    let got = acquire(store, &days, cache, kept, observer);
    for (a, (d, files)) in got.into_iter().zip(days) {
        if let Some(s) = &a.summary {
            add_label_ids(around, &s.labels);
            if acc.feed_summary(s) {
                continue;
            }
        }
        read_back(d, files, acc, around)?;
    }
    Ok(())
}

/// Feeds every row of a day read back (before the range); its energy labels go to `around`.
fn read_back(
    d: NaiveDate,
    files: &DayFiles,
    acc: &mut Accumulator,
    around: &mut Vec<usize>,
) -> Result<(), Error> {
    let mut open = DayRecords::open(d, files)?;
    add_labels(around, open.columns());
    merge(&mut open, |f| {
        acc.take(f);
        true
    })?;
    Ok(())
}

/// Feeds the first [`LOOK_AHEAD_RECORDS`] records of the days after `day`; their energy
/// labels go to `around`.
fn look_ahead(
    store: &Catalog,
    day: NaiveDate,
    acc: &mut Accumulator,
    around: &mut Vec<usize>,
    trail: &mut Trail,
) -> Result<(), Error> {
    let mut n = 0;
    for (d, files) in store.after(day) {
        trail.read(d);
        if !has_record(d, files)? {
            continue;
        }
        let mut open = DayRecords::open(d, files)?;
        add_labels(around, open.columns());
        merge(&mut open, |f| {
            if matches!(f, Fed::Rec(_)) {
                n += 1;
            }
            acc.take(f);
            n < LOOK_AHEAD_RECORDS
        })?;
        if n >= LOOK_AHEAD_RECORDS {
            break;
        }
    }
    trail.ahead = n;
    Ok(())
}

/// Feeds every row of one day's files, merged by time, notes their labels, and tells of
/// damaged rows (one note per file).
fn feed_day(
    day: NaiveDate,
    open: Result<DayRecords, Error>,
    files: &DayFiles,
    acc: &mut Accumulator,
    present: &mut Vec<usize>,
    observer: &mut dyn ExportObserver,
) -> Result<(), Error> {
    let mut open = open?;
    add_labels(present, open.columns());
    merge(&mut open, |f| {
        acc.take(f);
        true
    })?;
    for d in open.damage() {
        observer.note(&d.to_string());
    }
    let _ = day;
    for f in files.files() {
        observer.file_done(&f.path, f.len);
    }
    Ok(())
}

fn announce(store: &Catalog, from: NaiveDate, to: NaiveDate, observer: &mut dyn ExportObserver) {
    let (mut n, mut bytes) = (0, 0);
    for (_, files) in store.days(from, to) {
        n += files.files().count();
        bytes += files.bytes();
    }
    observer.start(n, bytes);
}

/// Feeds `acc` every row of `[from, to]` (plus the records just outside, for
/// interpolation); returns the energy columns of the export.
pub fn scan(
    store: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    acc: &mut Accumulator,
    observer: &mut dyn ExportObserver,
) -> Result<Vec<usize>, Error> {
    scan_traced(store, from, to, acc, observer, &mut Trail::default())
}

/// [`scan`], saying in `trail` what it read.
pub fn scan_traced(
    store: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    acc: &mut Accumulator,
    observer: &mut dyn ExportObserver,
    trail: &mut Trail,
) -> Result<Vec<usize>, Error> {
    announce(store, from, to, observer);
    let mut present = Vec::new();
    let mut around = Vec::new();
    look_back(store, from, acc, &mut around, trail)?;
    for (day, files) in store.days(from, to) {
        trail.read(day);
        let open = DayRecords::open(day, files);
        if let Ok(o) = &open {
            for n in o.reader().notes() {
                observer.note(n);
            }
        }
        let mut labels = Vec::new();
        feed_day(day, open, files, acc, &mut labels, observer)?;
        for &k in &labels {
            if !present.contains(&k) {
                present.push(k);
            }
        }
        present.sort_unstable();
        trail.labels.push((day, labels));
    }
    look_ahead(store, to, acc, &mut around, trail)?;
    Ok(columns(present, around))
}

/// A day of a batch with the summary found or built for it.
struct Acquired {
    /// Its files, resolved (`None` once taken, or when that failed: the error is kept).
    resolved: Option<Result<Resolved, Error>>,
    summary: Option<DaySummary>,
    /// The summary comes from the Parquet file's footer.
    footer: bool,
    /// The summary was built now, from the day's rows.
    fresh: bool,
}

/// The summaries of a batch of days: from an archived day's footer, from the index while the
/// files keep their stamps, or built from the rows (on every core) and stored in the index.
/// A day whose files cannot be read gets none (reading it in order reports the error).
fn acquire(
    store: &Catalog,
    batch: &[(NaiveDate, &DayFiles)],
    cache: &mut Cache,
    kept: &mut KeptSummaries,
    observer: &mut dyn ExportObserver,
) -> Vec<Acquired> {
    let mut out: Vec<Acquired> = Vec::with_capacity(batch.len());
    let mut stamps: Vec<Option<Vec<Stamp>>> = Vec::with_capacity(batch.len());
    for (day, files) in batch {
        let resolved = Resolved::new(*day, files).map_err(Error::from);
        let (summary, st, footer) = match &resolved {
            Ok(r) => {
                for n in r.notes() {
                    observer.note(n);
                }
                let from_footer = (r.encoding() == Encoding::Parquet)
                    .then(|| r.parquet())
                    .flatten()
                    .and_then(|p| p.summary())
                    .and_then(|s| DaySummary::from_text(&s));
                let st: Option<Vec<Stamp>> = r.stamps();
                // Then the summary kept with the day's hours (periods/, while they hold),
                // then the cache.
                let from_footer = from_footer.or_else(|| kept.get(store, *day));
                let footer = from_footer.is_some();
                let s = from_footer.or_else(|| st.as_deref().and_then(|st| cache.load(*day, st)));
                (s, st, footer)
            }
            Err(_) => (None, None, false),
        };
        out.push(Acquired {
            resolved: Some(resolved),
            summary,
            footer,
            fresh: false,
        });
        stamps.push(st);
    }
    let work: Vec<Work<'_>> = batch
        .iter()
        .enumerate()
        .filter(|(i, _)| out[*i].summary.is_none())
        .filter_map(|(i, (day, files))| Some((i, *day, *files, stamps[i].clone()?)))
        .collect();
    for (i, s) in build_all(&work) {
        cache.save(batch[i].0, &s, observer);
        out[i].summary = Some(s);
        out[i].fresh = true;
    }
    out
}

/// Like [`scan`], but a day whose summary in the index is valid and clean is fed from the
/// summary instead of its files (when `acc` accepts it: see
/// [`Accumulator::feed_summary`]); the missing summaries are first built, [`BATCH`] days at a
/// time, on every core (reading each such day once), and stored. A day whose summary is not
/// clean, or cannot be built, is read in full in order. Falls back to [`scan`] when a
/// boundary is not a whole UTC hour.
pub fn indexed(
    store: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    bounds: &[i64],
    acc: &mut Accumulator,
    observer: &mut dyn ExportObserver,
) -> Result<Vec<usize>, Error> {
    let (present, around) = indexed_parts(store, from, to, bounds, acc, observer)?;
    Ok(columns(present, around))
}

/// [`indexed`], the energy labels of the range's files and those of the days read around it
/// apart (the export's columns are the first, or the second when there are none).
pub fn indexed_parts(
    store: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    bounds: &[i64],
    acc: &mut Accumulator,
    observer: &mut dyn ExportObserver,
) -> Result<(Vec<usize>, Vec<usize>), Error> {
    if bounds.iter().any(|b| b.rem_euclid(3600) != 0) {
        let columns = scan(store, from, to, acc, observer)?;
        return Ok((columns.clone(), columns));
    }
    announce(store, from, to, observer);
    let mut cache = Cache::new(store.dir());
    let mut kept = KeptSummaries::default();
    let mut present = Vec::new();
    let mut around = Vec::new();
    look_back_indexed(
        store,
        from,
        acc,
        &mut around,
        &mut cache,
        &mut kept,
        observer,
    )?;
    let mut trail = Trail::default();
    let days: Vec<(NaiveDate, &DayFiles)> = store.days(from, to).collect();
    for batch in days.chunks(BATCH) {
        let mut got = acquire(store, batch, &mut cache, &mut kept, observer);
        for (a, (day, files)) in got.iter_mut().zip(batch) {
            if let Some(s) = &a.summary {
                add_label_ids(&mut present, &s.labels);
                if acc.feed_summary(s) {
                    for f in files.files() {
                        observer.file_done(&f.path, f.len);
                    }
                    let how = if a.fresh && !a.footer {
                        DayRead::Built
                    } else {
                        DayRead::Index
                    };
                    observer.day_read(*day, how);
                    continue;
                }
            }
            let open = match a.resolved.take() {
                Some(Ok(r)) => DayRecords::from_resolved(r),
                Some(Err(e)) => Err(e),
                None => DayRecords::open(*day, files),
            };
            feed_day(*day, open, files, acc, &mut present, observer)?;
            let how = if a.summary.is_some() && !a.fresh {
                DayRead::Full
            } else {
                DayRead::Built
            };
            observer.day_read(*day, how);
        }
    }
    look_ahead(store, to, acc, &mut around, &mut trail)?;
    Ok((present, around))
}

/// The facts ([`DayFacts`]) of every recorded day of `[from, to]`, from the day summaries:
/// in [`ReadMode::Index`] as an export gets them (footer, index, or built and stored), in
/// [`ReadMode::Scan`] built from the rows and not stored. Both give the same facts.
pub fn day_facts(
    store: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    mode: ReadMode,
    observer: &mut dyn ExportObserver,
) -> Result<Vec<(NaiveDate, DayFacts)>, Error> {
    let days: Vec<(NaiveDate, &DayFiles)> = store.days(from, to).collect();
    let mut out = Vec::with_capacity(days.len());
    let mut cache = Cache::new(store.dir());
    let mut kept = KeptSummaries::default();
    for batch in days.chunks(BATCH) {
        let summaries: Vec<Option<DaySummary>> = match mode {
            ReadMode::Index => acquire(store, batch, &mut cache, &mut kept, observer)
                .into_iter()
                .map(|a| a.summary)
                .collect(),
            ReadMode::Scan => {
                let work: Vec<Work<'_>> = batch
                    .iter()
                    .enumerate()
                    .map(|(i, (day, files))| (i, *day, *files, Vec::new()))
                    .collect();
                let mut v: Vec<Option<DaySummary>> = vec![None; batch.len()];
                for (i, s) in build_all(&work) {
                    v[i] = Some(s);
                }
                v
            }
        };
        for (s, (day, files)) in summaries.into_iter().zip(batch) {
            // A day that could not be summarised: build it here to report its error.
            let s = match s {
                Some(s) => s,
                None => build_day(*day, files, Vec::new())?,
            };
            out.push((*day, s.facts));
        }
    }
    Ok(out)
}

/// The energy columns of an export: those of the files in the range, or, when they name
/// none (a range before, after or between the recorded days), those of the days read
/// around it, so that every range of a data directory has its columns.
fn columns(present: Vec<usize>, around: Vec<usize>) -> Vec<usize> {
    if present.is_empty() {
        around
    } else {
        present
    }
}

/// A day to summarise: its slot in the batch, the day, its files and their stamps.
type Work<'a> = (usize, NaiveDate, &'a DayFiles, Vec<Stamp>);

/// Days whose summaries [`indexed`] builds together (bounds the summaries held at once).
const BATCH: usize = 32;

/// Builds the summaries of `work` on every core; a day whose files cannot be read gets none
/// (reading it in order then reports the error where [`scan`] would).
fn build_all(work: &[Work<'_>]) -> Vec<(usize, DaySummary)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(work.len());
    if threads <= 1 {
        return work
            .iter()
            .filter_map(|(i, day, files, st)| Some((*i, build_day(*day, files, st.clone()).ok()?)))
            .collect();
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((i, day, files, st)) =
                        work.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        if let Ok(s) = build_day(*day, files, st.clone()) {
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
pub(crate) fn build_day(
    day: NaiveDate,
    files: &DayFiles,
    stamps: Vec<Stamp>,
) -> Result<DaySummary, Error> {
    let mut open = DayRecords::open(day, files)?;
    let mut labels = Vec::new();
    add_labels(&mut labels, open.columns());
    let mut b = Builder::new(stamps, labels);
    merge(&mut open, |f| {
        b.take(f);
        true
    })?;
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
