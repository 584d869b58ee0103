//! `--records`: the recorded rows themselves, over a range, with the union of the columns.

use chrono::NaiveDate;

use super::files::Store;
use super::reader::DayFile;
use super::{Error, Observer};

/// An open file of a day: the file, its column map, its current row and time.
type Open = (DayFile, Vec<usize>, Vec<String>, Option<i64>);

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
/// day merged by time; returns the number of rows.
pub fn records(
    store: &Store,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    sink: &mut dyn RecordSink,
    observer: &mut dyn Observer,
) -> Result<u64, Error> {
    let (from, to) = store.range(from, to)?;
    let mut columns: Vec<String> = Vec::new();
    let (mut n_files, mut bytes) = (0, 0);
    for (_, files) in store.days(from, to) {
        for (path, len) in files {
            n_files += 1;
            bytes += len;
            for h in DayFile::open(path)?.header {
                if !columns.contains(&h) {
                    columns.push(h);
                }
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
        for (_, files) in near {
            for (path, _) in files {
                for h in DayFile::open(path)?.header {
                    if !columns.contains(&h) {
                        columns.push(h);
                    }
                }
            }
        }
    }
    observer.start(n_files, bytes);
    sink.header(&columns)?;
    let mut out = vec![String::new(); columns.len()];
    let mut rows = 0u64;
    for (_, files) in store.days(from, to) {
        let mut open: Vec<Open> = Vec::new();
        for (path, _) in files {
            let mut f = DayFile::open(path)?;
            let map = f
                .header
                .iter()
                .map(|h| columns.iter().position(|c| c == h).unwrap_or(0))
                .collect();
            let mut cells = Vec::new();
            let t = f.next_cells(&mut cells)?;
            open.push((f, map, cells, t));
        }
        loop {
            let next = open
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.3.map(|t| (t, i)))
                .min();
            let Some((t, i)) = next else { break };
            let (f, map, cells, time) = &mut open[i];
            out.iter_mut().for_each(String::clear);
            for (c, &k) in cells.iter().zip(map.iter()) {
                if let Some(o) = out.get_mut(k) {
                    o.push_str(c);
                }
            }
            sink.row(t, &out)?;
            rows += 1;
            *time = f.next_cells(cells)?;
        }
        for (f, ..) in &open {
            observer.file_done(f.path(), f.len());
        }
    }
    sink.finish()?;
    if rows == 0 {
        observer.note(&super::no_records(store, from, to));
    }
    Ok(rows)
}
