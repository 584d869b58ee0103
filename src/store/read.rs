//! The one reader of days, in both encodings: a day's files merged by time into one stream
//! of rows, with the union of their columns.
//!
//! ## Which files a day is read from
//! - No Parquet file: its CSV files (`YYYY-MM-DD.csv`, `.1.csv`…), merged by time.
//! - A Parquet file: the Parquet file, and of each CSV file ([`SourceFile::relation`] to the
//!   sources the Parquet file lists):
//!   - nothing, when the Parquet file *covers* it (a source of the same name and first bytes,
//!     with no complete line past where the source's rows ended: a conversion that has not
//!     removed it yet, or `--keep-csv`);
//!   - the rows past where the source's rows ended, when it *grew* since (rows appended
//!     after, or while, it was converted);
//!   - every row otherwise (a new file: rows recorded for the day after its CSV files were
//!     removed).
//!
//!   So a day is read from the Parquet file alone, or mixed with CSV rows it does not hold;
//!   the archived rows are never dropped for a CSV file's.
//! - A file that vanishes while the day is opened (a conversion removed it, or renamed the
//!   day's Parquet file in, after the listing): the day is listed again, once.
//! - A Parquet file whose footer cannot be read (a partial copy, garbled bytes): its CSV
//!   files when there are any (with a note), else an error naming it. An I/O error, or a
//!   later archive format, is an error whatever CSV files there are.
//!
//! Merging: the next row is the earliest of the files' next rows (the first file on a tie),
//! so a file's own order is kept. When a day has rows from several files (or its Parquet
//! file from several sources), a row identical to one just given at the same time (the same
//! time cell and cells: a capture replayed twice, whose rows the recorder wrote again into a
//! new part of the day) is a duplicate: read once (and so archived once). Rows at the same
//! time with other cells are all read. Damaged rows ([`super::csv`]) are skipped and reported as
//! [`Next::Damaged`] where they were, with the time of the file's previous good row (else
//! its next one, else the day's start).

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::catalog::{relist, DayFiles, FileEntry};
use super::csv::CsvFile;
use super::error::{Damage, ReadError};
use super::layout::midnight;
use super::parquet::{ParquetDay, ParquetRows};
use super::row::{Cell, Columns, Encoding, Next, Row};
use super::source::{file_name, Relation, SourceFile, Stamp};

enum Src {
    Csv(Box<CsvFile>),
    Parquet(Box<ParquetRows>),
}

struct Source {
    src: Src,
    /// Day column → this file's column.
    map: Vec<Option<usize>>,
    live: bool,
    last_time: Option<i64>,
}

impl Source {
    fn time(&self) -> i64 {
        match &self.src {
            Src::Csv(f) => f.time(),
            Src::Parquet(p) => p.time(),
        }
    }
}

/// The days's rows, merged by time (see the module doc).
pub struct DayReader {
    day: NaiveDate,
    day_start: i64,
    columns: Vec<String>,
    sources: Vec<Source>,
    encoding: Encoding,
    parquet: Option<ParquetDay>,
    files: Vec<FileEntry>,
    inherit: Vec<Inherit>,
    /// Set when the day has rows from several files (see [`DayReader::advance`]).
    dedup: Option<Dedup>,
    duplicates: u64,
    cur: Option<usize>,
    markers: VecDeque<(i64, u64)>,
    notes: Vec<String>,
}

/// The rows given at the time of the last one, to read a row repeated at that time once.
#[derive(Default)]
struct Dedup {
    time: Option<i64>,
    seen: Vec<String>,
    row: String,
}

/// How the files of a day stand to one source of its Parquet file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inherit {
    /// A CSV file it covers is there (and is not read).
    Covered(PathBuf),
    /// The CSV file grew: read from where the source's rows ended.
    Grown,
    /// No CSV file of the day is that source any more (removed, or replaced by another).
    Gone,
}

/// A CSV file read for a day: whole, or from an offset (a grown source).
#[derive(Clone, Debug)]
struct CsvPart {
    entry: FileEntry,
    from: u64,
}

fn local_midnight(day: NaiveDate) -> i64 {
    midnight(day).unwrap_or(0)
}

fn add_columns(columns: &mut Vec<String>, header: &[String]) {
    for h in header {
        if !columns.contains(h) {
            columns.push(h.clone());
        }
    }
}

/// Which files of a day readers use (see the module doc), decided from the footer of its
/// Parquet file (if any) and the names, first bytes and line ends of its CSV files.
pub struct Resolved {
    day: NaiveDate,
    encoding: Encoding,
    parquet: Option<(ParquetDay, FileEntry)>,
    csv: Vec<CsvPart>,
    inherit: Vec<Inherit>,
    unreadable: Option<ReadError>,
    notes: Vec<String>,
    /// The files listed, to list the day again when one vanishes.
    listed: DayFiles,
}

/// Whether `e` says a file is not there (any more).
fn vanished(e: &ReadError) -> bool {
    e.io_error()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

impl Resolved {
    /// Decides which files of `day` to read. A file that vanished since `files` was listed
    /// (a conversion removed it, or renamed the day's Parquet file in) makes it list the day
    /// again, once.
    pub fn new(day: NaiveDate, files: &DayFiles) -> Result<Resolved, ReadError> {
        match Self::resolve(day, files) {
            Err(e) if vanished(&e) => Self::resolve(day, &relist(day, files)?),
            r => r,
        }
    }

    fn resolve(day: NaiveDate, files: &DayFiles) -> Result<Resolved, ReadError> {
        let mut notes = Vec::new();
        let mut parquet = None;
        let mut inherit = Vec::new();
        let mut csv: Vec<CsvPart> = files
            .csv
            .iter()
            .map(|c| CsvPart {
                entry: c.clone(),
                from: 0,
            })
            .collect();
        let mut encoding = Encoding::Csv;
        let mut unreadable = None;
        if let Some(p) = &files.parquet {
            match ParquetDay::open(&p.path) {
                // Only garbled bytes: an I/O error or a later format is an error, never a
                // read of the CSV files alone (they may lack the archived rows).
                Err(e) if !files.csv.is_empty() && e.is_garbled_archive() => {
                    notes.push(format!(
                        "{}; reading the day's CSV files instead",
                        crate::error::Chain(&e)
                    ));
                    unreadable = Some(e);
                }
                Err(e) => return Err(e),
                Ok(pq) => {
                    let sources = &pq.meta().sources;
                    inherit = vec![Inherit::Gone; sources.len()];
                    let mut read = Vec::new();
                    for c in &files.csv {
                        let name = file_name(&c.path);
                        let Some(k) = sources.iter().position(|s| s.name == name) else {
                            read.push(CsvPart {
                                entry: c.clone(),
                                from: 0,
                            });
                            continue;
                        };
                        let io = |source| ReadError::Io {
                            path: c.path.clone(),
                            source,
                        };
                        let mut f = File::open(&c.path).map_err(io)?;
                        let len = f.metadata().map_err(io)?.len();
                        match sources[k].relation(&mut f, len).map_err(io)? {
                            Relation::Covered => inherit[k] = Inherit::Covered(c.path.clone()),
                            Relation::Grown { from } => {
                                inherit[k] = Inherit::Grown;
                                read.push(CsvPart {
                                    entry: c.clone(),
                                    from,
                                });
                            }
                            Relation::Other => read.push(CsvPart {
                                entry: c.clone(),
                                from: 0,
                            }),
                        }
                    }
                    encoding = if read.is_empty() {
                        Encoding::Parquet
                    } else {
                        Encoding::Mixed
                    };
                    csv = read;
                    parquet = Some((pq, p.clone()));
                }
            }
        }
        Ok(Resolved {
            day,
            encoding,
            parquet,
            csv,
            inherit,
            unreadable,
            notes,
            listed: files.clone(),
        })
    }

    /// This day resolved again from a fresh listing (a file read vanished).
    fn again(&self) -> Result<Resolved, ReadError> {
        Self::resolve(self.day, &relist(self.day, &self.listed)?)
    }

    /// Why the day's Parquet file could not be read, when its CSV files are read instead.
    pub fn unreadable(&self) -> Option<&ReadError> {
        self.unreadable.as_ref()
    }

    /// [`Resolved::unreadable`], taken.
    pub fn take_unreadable(&mut self) -> Option<ReadError> {
        self.unreadable.take()
    }

    /// The encoding the day is read from.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The Parquet file read, if one is.
    pub fn parquet(&self) -> Option<&ParquetDay> {
        self.parquet.as_ref().map(|(p, _)| p)
    }

    /// The files read (the Parquet file first).
    pub fn files(&self) -> Vec<FileEntry> {
        self.parquet
            .iter()
            .map(|(_, e)| e.clone())
            .chain(self.csv.iter().map(|c| c.entry.clone()))
            .collect()
    }

    /// Things the caller may want to tell (a Parquet file that could not be read).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The stamps of the files read (as [`Resolved::files`]), to tell a summary of them
    /// from one of other versions; `None` when one cannot be known.
    pub fn stamps(&self) -> Option<Vec<Stamp>> {
        self.files().iter().map(|f| Stamp::of(&f.path)).collect()
    }

    /// The day's columns (the union of the files' headers), without reading rows.
    pub fn columns(&self) -> Result<Vec<String>, ReadError> {
        match self.columns_once() {
            Err(e) if vanished(&e) => self.again()?.columns_once(),
            r => r,
        }
    }

    fn columns_once(&self) -> Result<Vec<String>, ReadError> {
        let mut columns = Vec::new();
        if let Some((pq, _)) = &self.parquet {
            add_columns(&mut columns, &pq.meta().columns);
        }
        for c in &self.csv {
            add_columns(&mut columns, CsvFile::open(&c.entry.path)?.header());
        }
        Ok(columns)
    }

    /// Opens the rows, reading `wanted` (resolving the day again, once, when a file vanished
    /// since it was resolved).
    pub fn open(self, wanted: Columns<'_>) -> Result<DayReader, ReadError> {
        let (day, listed) = (self.day, self.listed.clone());
        match self.open_once(wanted) {
            Err(e) if vanished(&e) => Self::resolve(day, &relist(day, &listed)?)?.open_once(wanted),
            r => r,
        }
    }

    fn open_once(self, wanted: Columns<'_>) -> Result<DayReader, ReadError> {
        let files = self.files();
        let mut columns = Vec::new();
        let mut sources = Vec::new();
        let mut pq_day = None;
        // Rows of several files (a day replayed twice, or written to two parts) are compared
        // whole, so a row repeated at the same time is read once: every column is read.
        let dedup = self.csv.len()
            + self.parquet.as_ref().map_or(0, |(pq, _)| {
                (pq.meta().sources.len() + pq.meta().absorbed.len()).max(1)
            })
            > 1;
        if let Some((pq, _)) = self.parquet {
            add_columns(&mut columns, &pq.meta().columns);
            let rows = pq.rows(if dedup { Columns::All } else { wanted })?;
            sources.push((Src::Parquet(Box::new(rows)), pq.meta().columns.clone()));
            pq_day = Some(pq);
        }
        for c in &self.csv {
            let f = CsvFile::open_at(&c.entry.path, c.from)?.of_day(self.day);
            add_columns(&mut columns, f.header());
            let header = f.header().to_vec();
            sources.push((Src::Csv(Box::new(f)), header));
        }
        let sources = sources
            .into_iter()
            .map(|(src, header)| Source {
                src,
                map: columns
                    .iter()
                    .map(|c| header.iter().position(|h| h == c))
                    .collect(),
                live: false,
                last_time: None,
            })
            .collect();
        let mut r = DayReader {
            day: self.day,
            day_start: local_midnight(self.day),
            columns,
            sources,
            encoding: self.encoding,
            parquet: pq_day,
            files,
            inherit: self.inherit,
            dedup: dedup.then(Dedup::default),
            duplicates: 0,
            cur: None,
            markers: VecDeque::new(),
            notes: self.notes,
        };
        for i in 0..r.sources.len() {
            r.advance_source(i)?;
        }
        Ok(r)
    }
}

impl DayReader {
    /// Opens the files of `day` that readers use (see the module doc), reading `wanted`.
    pub fn open(
        day: NaiveDate,
        files: &DayFiles,
        wanted: Columns<'_>,
    ) -> Result<DayReader, ReadError> {
        Resolved::new(day, files)?.open(wanted)
    }

    /// The day.
    pub fn day(&self) -> NaiveDate {
        self.day
    }

    /// The union of the columns of the files read (`time` first), in the order first seen.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Which encoding the day is read from.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The files read.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The Parquet file read, if one is.
    pub fn parquet(&self) -> Option<&ParquetDay> {
        self.parquet.as_ref()
    }

    /// Things the caller may want to tell (a Parquet file that could not be read).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// How the day's CSV files stand to each source of the Parquet file read (in the order
    /// of its sources; empty when none is read).
    pub(crate) fn inherited(&self) -> &[Inherit] {
        &self.inherit
    }

    /// The CSV files read, as sources of an archive of what was read: their length when
    /// opened, where the rows read end, the hash of their first bytes, their header. Once
    /// the day has been read to its end.
    pub(crate) fn csv_sources(&mut self) -> Result<Vec<SourceFile>, ReadError> {
        let mut out = Vec::new();
        for s in &mut self.sources {
            if let Src::Csv(f) = &mut s.src {
                let end = f.rows_end()?;
                out.push(SourceFile {
                    name: file_name(f.path()),
                    len: f.len(),
                    end: Some(end),
                    head: f.head_hash(end)?,
                    header: f.header().to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// The damaged rows of each file read that had some (so far; all of them once the day
    /// has been read to its end).
    pub fn damage(&self) -> Vec<Damage> {
        let mut out = Vec::new();
        for s in &self.sources {
            match &s.src {
                Src::Csv(f) if f.damage().count > 0 => out.push(f.damage().clone()),
                Src::Csv(_) => {}
                Src::Parquet(p) => out.extend(p.damage()),
            }
        }
        out
    }

    fn advance_source(&mut self, i: usize) -> Result<(), ReadError> {
        let s = &mut self.sources[i];
        let prev = s.live.then(|| s.time());
        if s.live {
            s.last_time = prev;
        }
        let live = match &mut s.src {
            Src::Csv(f) => {
                let live = f.advance()?;
                let skipped = f.skipped();
                if skipped > 0 {
                    let t = s
                        .last_time
                        .or(live.then(|| f.time()))
                        .unwrap_or(self.day_start);
                    self.markers.push_back((t, skipped));
                }
                live
            }
            Src::Parquet(p) => {
                let live = p.advance()?;
                for m in p.take_markers() {
                    self.markers.push_back(m);
                }
                live
            }
        };
        s.live = live;
        Ok(())
    }

    /// Moves to the next row, or tells of damaged rows skipped; `None` at the end of the day.
    pub fn advance(&mut self) -> Result<Option<Next>, ReadError> {
        loop {
            if let Some(i) = self.cur.take() {
                self.advance_source(i)?;
            }
            if let Some((time, count)) = self.markers.pop_front() {
                return Ok(Some(Next::Damaged { time, count }));
            }
            let mut best: Option<(i64, usize)> = None;
            for (i, s) in self.sources.iter().enumerate() {
                if s.live {
                    let t = s.time();
                    if best.is_none_or(|(b, _)| t < b) {
                        best = Some((t, i));
                    }
                }
            }
            let Some((t, i)) = best else {
                return Ok(None);
            };
            self.cur = Some(i);
            if !(self.dedup.is_some() && self.repeats(t)) {
                return Ok(Some(Next::Row));
            }
            self.duplicates += 1;
        }
    }

    /// Whether the current row, at `t`, is one already given at that time (every cell the
    /// same): a row of a capture replayed twice, or written to two parts of the day.
    fn repeats(&mut self, t: i64) -> bool {
        let Some(mut d) = self.dedup.take() else {
            return false;
        };
        if d.time != Some(t) {
            d.time = Some(t);
            d.seen.clear();
        }
        d.row.clear();
        self.push_row_text(&mut d.row, '\u{1f}');
        let repeat = d.seen.contains(&d.row);
        if !repeat {
            d.seen.push(d.row.clone());
        }
        self.dedup = Some(d);
        repeat
    }

    /// Rows read as duplicates so far (identical to a row given just before at the same
    /// time), and not given.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    fn current(&self) -> Option<&Source> {
        self.cur.and_then(|i| self.sources.get(i))
    }

    /// The current row's Unix time.
    pub fn time(&self) -> i64 {
        self.current().map_or(0, Source::time)
    }

    /// The current row's offset (seconds east of UTC) as its `time` cell has it.
    pub fn offset(&self) -> i32 {
        match self.current().map(|s| &s.src) {
            Some(Src::Csv(f)) => f.offset(),
            Some(Src::Parquet(p)) => p.offset(),
            None => 0,
        }
    }

    /// Appends the current row as text: its `time` cell, then each cell (`""` when null),
    /// separated by `sep`.
    pub fn push_row_text(&self, out: &mut String, sep: char) {
        self.push_time_text(out);
        for j in 1..self.columns.len() {
            out.push(sep);
            self.cell(j).push_to(out);
        }
    }

    /// Appends the current row's `time` cell, as the CSV file had it.
    pub fn push_time_text(&self, out: &mut String) {
        match self.current().map(|s| &s.src) {
            Some(Src::Csv(f)) => out.push_str(f.cell(0)),
            Some(Src::Parquet(p)) => p.push_time_text(out),
            None => {}
        }
    }

    /// Cell `j` (a day column, `j ≥ 1`) of the current row.
    pub fn cell(&self, j: usize) -> Cell<'_> {
        let Some(s) = self.current() else {
            return Cell::Null;
        };
        let Some(Some(k)) = s.map.get(j) else {
            return Cell::Null;
        };
        match &s.src {
            Src::Csv(f) => match f.cell(*k) {
                "" => Cell::Null,
                t => Cell::Text(t),
            },
            Src::Parquet(p) => p.cell(*k),
        }
    }
}

impl Row for DayReader {
    fn time(&self) -> i64 {
        DayReader::time(self)
    }

    fn offset(&self) -> i32 {
        DayReader::offset(self)
    }

    fn push_time_text(&self, out: &mut String) {
        DayReader::push_time_text(self, out);
    }

    fn cell(&self, j: usize) -> Cell<'_> {
        DayReader::cell(self, j)
    }
}
