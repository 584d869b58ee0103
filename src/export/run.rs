//! Running an export: the range, the periods, and the store fed through the accumulator.

use std::path::Path;

use chrono::NaiveDate;

use super::accumulator::{Accumulator, Probed};
use super::periods::boundaries;
use super::summed::Prefetch;
use super::{feed, summed, Catalog, Error, ExportObserver, Options, ReadMode, Table};

/// The catalog of days of `dir`; an error when it has none.
pub fn open(dir: &Path) -> Result<Catalog, Error> {
    let c = Catalog::open(dir).map_err(|e| match e {
        crate::store::ReadError::Dir { path, source } => Error::DataDir { path, source },
        e => Error::Read(e),
    })?;
    if c.is_empty() {
        return Err(Error::NoFiles(dir.to_path_buf()));
    }
    Ok(c)
}

/// The range to export: the given bounds, defaulting to the first and last recorded days.
pub fn range(
    store: &Catalog,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(NaiveDate, NaiveDate), Error> {
    let none = || Error::NoFiles(store.dir().to_path_buf());
    let first = store.first_day().ok_or_else(none)?;
    let last = store.last_day().ok_or_else(none)?;
    let (from, to) = (from.unwrap_or(first), to.unwrap_or(last));
    if from > to {
        return Err(Error::EmptyRange { from, to });
    }
    Ok((from, to))
}

/// Per-period consumption over the range of `options`.
pub fn export(
    dir: &Path,
    options: &Options,
    observer: &mut dyn ExportObserver,
) -> Result<Table, Error> {
    export_store(&open(dir)?, options, observer)
}

/// [`export`] from an open [`Catalog`].
pub fn export_store(
    store: &Catalog,
    options: &Options,
    observer: &mut dyn ExportObserver,
) -> Result<Table, Error> {
    Ok(export_probed(store, options, Vec::new(), observer)?.0)
}

/// [`export_store`], the month files of the periods dataset read by `prefetch` (started
/// with `options`' range before the catalog was made, so that both are read at once). A
/// read of every row ([`ReadMode::Scan`]) does not use them.
pub fn export_prefetched(
    store: &Catalog,
    options: &Options,
    prefetch: Prefetch,
    observer: &mut dyn ExportObserver,
) -> Result<Table, Error> {
    Ok(export_with(store, options, Vec::new(), Some(prefetch), observer)?.0)
}

/// [`export_store`], and the consumption every index was credited up to each of `probes`
/// (any instants, Unix seconds; `None` when there are none): the values the cost engine
/// prices slots with, by the same interpolation and guards as the periods. Probes at whole
/// hours, or at the minute of an HC/HP switch a clean day's summary marked, are read from
/// the summaries; a day with a probe anywhere else is read in full ([`DayRead::Full`](super::DayRead::Full)).
pub fn export_probed(
    store: &Catalog,
    options: &Options,
    probes: Vec<i64>,
    observer: &mut dyn ExportObserver,
) -> Result<(Table, Option<Probed>), Error> {
    export_with(store, options, probes, None, observer)
}

fn export_with(
    store: &Catalog,
    options: &Options,
    probes: Vec<i64>,
    prefetch: Option<Prefetch>,
    observer: &mut dyn ExportObserver,
) -> Result<(Table, Option<Probed>), Error> {
    let (from, to) = range(store, options.from, options.to)?;
    // What is already summed (the periods dataset's closed hours), when it can be used.
    if options.mode == ReadMode::Index && probes.is_empty() {
        let summed = summed::export(store, options.period, (from, to), prefetch, observer)?;
        if let Some(table) = summed {
            if table.rows.iter().all(|r| r.records.unwrap_or(0) == 0) {
                observer.note(&no_records(store, from, to));
            }
            return Ok((table, None));
        }
    }
    let bounds = boundaries(options.period, from, to)?;
    let mut acc = Accumulator::with_probes(bounds.clone(), probes);
    let present = match options.mode {
        ReadMode::Scan => feed::scan(store, from, to, &mut acc, observer),
        ReadMode::Index => feed::indexed(store, from, to, &bounds, &mut acc, observer),
    }?;
    let (table, probed) = acc.finish_probed(&present, true);
    if table.rows.iter().all(|r| r.records.unwrap_or(0) == 0) {
        observer.note(&no_records(store, from, to));
    }
    Ok((table, probed))
}

/// The note for a range without a record: what the data directory holds instead.
pub(super) fn no_records(store: &Catalog, from: NaiveDate, to: NaiveDate) -> String {
    match range(store, None, None) {
        Ok((first, last)) => {
            format!("no records from {from} to {to}: the recorded days run from {first} to {last}")
        }
        Err(_) => format!("no records from {from} to {to}"),
    }
}
