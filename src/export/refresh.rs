//! Keeping the periods dataset ([`super::dataset`]) on disk: its hours computed as an export
//! computes them ([`compute`]), and each month file brought up to date as days close
//! ([`refresh`], [`PeriodsDataset`] for the recorder's archive job).

use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use chrono::NaiveDate;

use super::accumulator::Accumulator;
use super::dataset::{
    self, month_of, schema, to_batch, Basis, Columns, DayEntry, DaySums, MonthMeta, Run,
};
use super::feed;
use super::periods::boundaries;
use super::trail::Trail;
use super::{Catalog, Error, Period, Quiet};

/// Computes the hour rows of `[from, to]` from every record (the export's scan).
pub fn compute(store: &Catalog, from: NaiveDate, to: NaiveDate) -> Result<Run, Error> {
    let bounds = boundaries(Period::Hour, from, to)?;
    let mut acc = Accumulator::with_probes(bounds, Vec::new()).with_identities();
    let mut trail = Trail::default();
    let present = feed::scan_traced(store, from, to, &mut acc, &mut Quiet, &mut trail)?;
    let (table, _, ids) = acc.finish_all(&present, true);
    Ok(Run {
        from,
        to,
        table,
        ids,
        trail,
    })
}

/// What [`refresh`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Days whose hours were computed.
    pub days: usize,
    /// Month files written.
    pub months: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// The rows of one day, cut from a batch of [`schema`] ordered by time.
fn day_rows(batch: &RecordBatch, day: NaiveDate) -> Option<RecordBatch> {
    let want = arrow_array::types::Date32Type::from_naive_date(day);
    let dates = batch
        .column_by_name("local_date")?
        .as_primitive::<arrow_array::types::Date32Type>();
    let start = dates.values().iter().position(|&d| d == want)?;
    let n = dates.values()[start..]
        .iter()
        .take_while(|&&d| d == want)
        .count();
    Some(batch.slice(start, n))
}

/// Brings the periods dataset of `dir` up to date through the closed day `through`: every
/// day from the first recorded one to `through` (or the last recorded, if earlier) whose
/// hours are missing, or were computed from days that have changed since, is computed again
/// ([`compute`], in runs of consecutive days within a month), and each month touched is
/// written again whole ([`crate::store::periods::write`]); a month file left with no day is
/// removed. The days after `through` (the day being recorded) are never written.
pub fn refresh(
    fs: &dyn crate::store::fs::Fs,
    dir: &std::path::Path,
    through: NaiveDate,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Refreshed, RefreshError> {
    use crate::store::periods;
    let store = Catalog::open(dir)?;
    let mut out = Refreshed::default();
    let (Some(first), Some(last)) = (store.first_day(), store.last_day()) else {
        return Ok(out);
    };
    let last = last.min(through);
    let schema = schema();
    // The month files there are, with their rows and what they were computed from.
    let mut months: std::collections::BTreeMap<(i32, u32), (Option<RecordBatch>, MonthMeta)> =
        std::collections::BTreeMap::new();
    for (y, m, path) in periods::months(dir)? {
        let read = periods::read(&path, &schema)?;
        let (batch, meta) = match read {
            Some(f) => {
                let meta = f
                    .meta
                    .as_deref()
                    .and_then(MonthMeta::from_text)
                    .map(|m| m.with_summaries(&f.extra().unwrap_or_default()));
                let batch = arrow_select::concat::concat_batches(&schema, &f.batches).ok();
                match (batch, meta) {
                    (Some(b), Some(m)) => (Some(b), m),
                    // Not ours, or of another format: every day computed again.
                    _ => (None, MonthMeta::default()),
                }
            }
            None => (None, MonthMeta::default()),
        };
        months.insert((y, m), (batch, meta));
    }
    // The stale days, in stretches that stay within a month.
    let mut stretches: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut day = first;
    while day <= last {
        let fresh = months
            .get(&month_of(day))
            .is_some_and(|(b, m)| b.is_some() && m.holds(day, &store));
        if !fresh {
            match stretches.last_mut() {
                Some((_, b)) if b.succ_opt() == Some(day) && month_of(*b) == month_of(day) => {
                    *b = day
                }
                _ => stretches.push((day, day)),
            }
        }
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    // Compute them, and put their hours in their month.
    let mut touched = std::collections::BTreeSet::new();
    let mut new_rows: std::collections::BTreeMap<NaiveDate, RecordBatch> = Default::default();
    let mut new_days: std::collections::BTreeMap<NaiveDate, (Basis, Vec<usize>, Option<String>)> =
        Default::default();
    for (a, b) in stretches {
        if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            // What is computed so far is written; the rest at the next call.
            break;
        }
        let run = compute(&store, a, b)?;
        let basis = Basis::of(&run, &store);
        let batch = to_batch(&run, a, b)?;
        let mut d = a;
        while d <= b {
            let labels = run
                .trail
                .labels
                .iter()
                .find(|(x, _)| *x == d)
                .map(|(_, l)| l.clone())
                .unwrap_or_default();
            if let Some(rows) = day_rows(&batch, d) {
                new_rows.insert(d, rows);
            }
            // The day's summary, kept with its hours (the archive's footer no longer holds
            // it): what the cost engine and a long-way export read of a closed day.
            let summary = match store.day(d) {
                Some(files) => Some(feed::build_day(d, files, Vec::new())?.to_text()),
                None => None,
            };
            new_days.insert(d, (basis.clone(), labels, summary));
            touched.insert(month_of(d));
            out.days += 1;
            d = match d.succ_opt() {
                Some(x) => x,
                None => break,
            };
        }
    }
    // Months with days no longer in [first, last] (data removed), and months of an older
    // format (no day sums): rewritten too.
    for (key, (_, meta)) in &months {
        if meta.days.iter().any(|d| d.day < first || d.day > last)
            || (meta.format < dataset::META_FORMAT && !meta.days.is_empty())
        {
            touched.insert(*key);
        }
    }
    for key in touched {
        let (old_batch, old_meta) = months.remove(&key).unwrap_or((None, MonthMeta::default()));
        let mut meta = MonthMeta::default();
        let mut parts: Vec<RecordBatch> = Vec::new();
        let (y, m) = key;
        let mut d = NaiveDate::from_ymd_opt(y, m, 1).ok_or(Error::Calendar(first))?;
        while month_of(d) == key {
            if d >= first && d <= last {
                if let Some((basis, labels, summary)) = new_days.remove(&d) {
                    let run = run_of(&mut meta, basis);
                    meta.days.push(DayEntry {
                        day: d,
                        run,
                        labels,
                        summary,
                        sums: None,
                    });
                    if let Some(rows) = new_rows.remove(&d) {
                        parts.push(rows);
                    }
                } else if let (Some(e), Some(b)) =
                    (old_meta.days.iter().find(|e| e.day == d), &old_batch)
                {
                    let basis = old_meta.runs[e.run].clone();
                    let run = run_of(&mut meta, basis);
                    meta.days.push(DayEntry {
                        day: d,
                        run,
                        labels: e.labels.clone(),
                        summary: e.summary.clone(),
                        sums: None,
                    });
                    if let Some(rows) = day_rows(b, d) {
                        parts.push(rows);
                    }
                }
            }
            d = match d.succ_opt() {
                Some(x) => x,
                None => break,
            };
        }
        if meta.days.is_empty() {
            periods::remove(fs, dir, key)?;
            continue;
        }
        let batch = arrow_select::concat::concat_batches(&schema, &parts)
            .map_err(|e| Error::Output(std::io::Error::other(e)))?;
        // Each whole day's sums, made from the rows written.
        if let Some(cols) = Columns::of(&batch) {
            let sums: std::collections::BTreeMap<NaiveDate, DaySums> = cols
                .whole_days()
                .into_iter()
                .map(|(day, rows, start)| (day, cols.day_sums(rows, start)))
                .collect();
            for e in &mut meta.days {
                e.sums = sums.get(&e.day).cloned();
            }
        }
        out.bytes += periods::write(
            fs,
            dir,
            key,
            &batch,
            &meta.to_text(),
            &meta.summaries_text(),
        )?;
        out.months += 1;
    }
    Ok(out)
}

/// The periods dataset, kept up to date by the recorder's archive job as days close
/// ([`crate::store::archive::Derive`]).
pub struct PeriodsDataset;

impl crate::store::archive::Derive for PeriodsDataset {
    fn closed(
        &self,
        fs: &dyn crate::store::fs::Fs,
        dir: &std::path::Path,
        through: NaiveDate,
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
        let r = refresh(fs, dir, through, Some(cancel))?;
        Ok((r.months > 0).then(|| {
            format!(
                "{} day(s) of hours computed, {} month file(s) written ({} bytes)",
                r.days, r.months, r.bytes
            )
        }))
    }
}

/// Why the periods dataset could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Reading the days (or a month file) failed.
    #[error(transparent)]
    Read(#[from] crate::store::ReadError),
    /// Computing the hours failed.
    #[error(transparent)]
    Export(#[from] Error),
    /// Writing a month file failed.
    #[error(transparent)]
    Write(#[from] crate::store::StoreError),
}

/// The position of `basis` among the runs of `meta`, added if it is not there.
fn run_of(meta: &mut MonthMeta, basis: Basis) -> usize {
    match meta.runs.iter().position(|r| *r == basis) {
        Some(i) => i,
        None => {
            meta.runs.push(basis);
            meta.runs.len() - 1
        }
    }
}
