//! `--records`: the recorded rows themselves, over a range, with the union of the columns.

use chrono::NaiveDate;

use super::{Error, ExportObserver};
use crate::store::{Catalog, Columns, Next, Resolved};

/// Where recorded rows go.
pub trait RecordSink {
    /// The columns (`time`, `time_source`, then labels), once, before any row.
    fn header(&mut self, columns: &[String]) -> Result<(), Error>;
    /// One row: its Unix time and its cells, one per column (empty when absent).
    fn row(&mut self, time: i64, cells: &[String]) -> Result<(), Error>;
    /// After the last row.
    fn finish(&mut self) -> Result<(), Error>;
}

/// Streams the records of the local days `[from, to]` (default: all) to `sink`, files of a
/// day merged by time, damaged rows skipped (one note per file); returns the number of rows.
pub fn records(
    store: &Catalog,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    sink: &mut dyn RecordSink,
    observer: &mut dyn ExportObserver,
) -> Result<u64, Error> {
    let (from, to) = super::range(store, from, to)?;
    let mut columns: Vec<String> = Vec::new();
    let (mut n_files, mut bytes) = (0, 0);
    for (day, files) in store.days(from, to) {
        n_files += files.files().count();
        bytes += files.bytes();
        for h in Resolved::new(day, files)?.columns()? {
            if !columns.contains(&h) {
                columns.push(h);
            }
        }
    }
    if n_files == 0 {
        // No file in the range: the columns of the nearest recorded days, as for any range.
        let near = store
            .before(from)
            .next()
            .into_iter()
            .chain(store.after(to).next());
        for (day, files) in near {
            for h in Resolved::new(day, files)?.columns()? {
                if !columns.contains(&h) {
                    columns.push(h);
                }
            }
        }
    }
    observer.start(n_files, bytes);
    sink.header(&columns)?;
    let mut out = vec![String::new(); columns.len()];
    let mut rows = 0u64;
    for (day, files) in store.days(from, to) {
        let r = Resolved::new(day, files)?;
        for n in r.notes() {
            observer.note(n);
        }
        let mut d = r.open(Columns::All)?;
        let map: Vec<usize> = d
            .columns()
            .iter()
            .map(|h| columns.iter().position(|c| c == h).unwrap_or(0))
            .collect();
        while let Some(next) = d.advance()? {
            if next != Next::Row {
                continue;
            }
            out.iter_mut().for_each(String::clear);
            if let Some(o) = map.first().and_then(|&k| out.get_mut(k)) {
                d.push_time_text(o);
            }
            for (j, &k) in map.iter().enumerate().skip(1) {
                if let Some(o) = out.get_mut(k) {
                    d.cell(j).push_to(o);
                }
            }
            sink.row(d.time(), &out)?;
            rows += 1;
        }
        for dmg in d.damage() {
            observer.note(&dmg.to_string());
        }
        for f in files.files() {
            observer.file_done(&f.path, f.len);
        }
    }
    sink.finish()?;
    if rows == 0 {
        observer.note(&super::run::no_records(store, from, to));
    }
    Ok(rows)
}
