//! The one reader of days, in both encodings: a day's files merged by time into one stream
//! of rows, with the union of their columns.
//!
//! ## Which files a day is read from
//! - No Parquet file: its CSV files (`YYYY-MM-DD.csv`, `.1.csv`…), merged by time.
//! - A Parquet file and no CSV file, or only CSV files it *covers* (it lists each among its
//!   sources with the same name, length and first 4 KiB: a conversion that has not removed
//!   them yet, or `--keep-csv`): the Parquet file alone.
//! - A Parquet file whose sources are all still there as CSV files that have grown since
//!   (rows appended after the conversion): the CSV files alone.
//! - Otherwise (rows recorded for the day after its CSV files were removed): the Parquet
//!   file and the CSV files it does not cover, merged by time.
//! - A Parquet file whose footer cannot be read (a partial copy): its CSV files when there
//!   are any (with a note), else an error naming it.
//!
//! Merging: the next row is the earliest of the files' next rows (the first file on a tie),
//! so a file's own order is kept. Damaged rows ([`super::csv`]) are skipped and reported as
//! [`Next::Damaged`] where they were, with the time of the file's previous good row (else
//! its next one, else the day's start).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::catalog::{DayFiles, FileEntry};
use super::csv::CsvFile;
use super::digest::bytes_hash;
use super::parquet::{ParquetDay, ParquetRows};
use super::text::parse_int;

/// An error reading days. Every message names the file, and the line, at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A directory of the data directory cannot be read.
    #[error("cannot read data directory {path:?}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A day file cannot be opened or read.
    #[error("cannot read {path:?}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A CSV day file whose header is not ours.
    #[error("{path:?}: bad header: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A line too long to be a record, before the end of the data.
    #[error("{path:?}: {at}: line longer than 64 KiB")]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Position,
    },
    /// A Parquet day file that cannot be read (truncated, garbled, not ours).
    #[error("{path:?}: not a readable archived day: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Where in a CSV file a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// 1-based line number (the header is line 1), with the line's byte offset.
    Line(u64, u64),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(l, b) => write!(f, "line {l} (byte {b})"),
        }
    }
}

/// The first damaged row of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRow {
    /// Where it is.
    pub at: Position,
    /// Why it is not a record.
    pub reason: String,
    /// Its text (lossy UTF-8, at most 256 bytes).
    pub text: String,
}

/// The damaged rows of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The file (for an archived day, the CSV file the rows were in).
    pub file: String,
    /// Rows skipped.
    pub count: u64,
    /// The first one.
    pub first: Option<DamagedRow>,
}

impl Damage {
    /// No damage yet in `path`.
    pub fn new(path: &Path) -> Damage {
        Damage {
            file: path.display().to_string(),
            count: 0,
            first: None,
        }
    }

    /// One more damaged row.
    pub fn add(&mut self, at: Position, reason: String, text: &str) {
        self.count += 1;
        if self.first.is_none() {
            let mut end = text.len().min(256);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            self.first = Some(DamagedRow {
                at,
                reason,
                text: text[..end].to_owned(),
            });
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: skipped {} damaged row", self.file, self.count)?;
        if self.count != 1 {
            write!(f, "s")?;
        }
        if let Some(d) = &self.first {
            write!(f, " (first at {}: {})", d.at, d.reason)?;
        }
        Ok(())
    }
}

/// One cell of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Empty, or the row's file has no such column.
    Null,
    /// An integer (a numeric label's cell as the recorder writes it).
    Int(i64),
    /// Text.
    Text(&'a str),
}

impl<'a> Cell<'a> {
    /// The integer the cell holds (digits only, at most 18; leading zeros allowed).
    pub fn int(self) -> Option<i64> {
        match self {
            Cell::Null => None,
            Cell::Int(v) => Some(v),
            Cell::Text(s) => parse_int(s),
        }
    }

    /// The cell's text, as the CSV file had it (`""` when null).
    pub fn text(self) -> Cow<'a, str> {
        match self {
            Cell::Null => Cow::Borrowed(""),
            Cell::Int(v) => Cow::Owned(v.to_string()),
            Cell::Text(s) => Cow::Borrowed(s),
        }
    }

    /// Appends the cell's text.
    pub fn push_to(self, out: &mut String) {
        match self {
            Cell::Null => {}
            Cell::Int(v) => super::text::push_int(out, v),
            Cell::Text(s) => out.push_str(s),
        }
    }
}

/// Which encoding a day was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// CSV files only.
    Csv,
    /// The Parquet file only.
    Parquet,
    /// The Parquet file and CSV files it does not cover.
    Mixed,
}

/// What the next item of a day is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A row, now current ([`DayReader::time`], [`DayReader::cell`]…).
    Row,
    /// `count` damaged rows were skipped here; `time` places them (see the module doc).
    Damaged {
        /// Time of the file's previous good row (else its next, else the day's start).
        time: i64,
        /// Rows skipped.
        count: u64,
    },
}

/// Which columns a reader needs (the others read as [`Cell::Null`]); `time` is always read.
#[derive(Clone, Copy)]
pub enum Columns<'a> {
    /// Every column.
    All,
    /// Those this says yes to.
    Only(&'a dyn Fn(&str) -> bool),
}

impl Columns<'_> {
    /// Whether `name` is wanted.
    pub fn wants(&self, name: &str) -> bool {
        match self {
            Columns::All => true,
            Columns::Only(f) => f(name),
        }
    }
}

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
    cur: Option<usize>,
    markers: VecDeque<(i64, u64)>,
    notes: Vec<String>,
}

/// Bytes of a CSV file's start that identify it (with its name and length).
pub const HEAD_BYTES: u64 = 4096;

/// The hash of the first `min(len, HEAD_BYTES)` bytes of `path`.
pub fn head_hash(path: &Path, len: u64) -> Result<u64, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    (&mut f)
        .take(len.min(HEAD_BYTES))
        .read_to_end(&mut buf)
        .map_err(io)?;
    Ok(bytes_hash(&buf))
}

fn local_midnight(day: NaiveDate) -> i64 {
    use chrono::TimeZone;
    super::TZ
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or(0, |t| t.timestamp())
}

fn add_columns(columns: &mut Vec<String>, header: &[String]) {
    for h in header {
        if !columns.contains(h) {
            columns.push(h.clone());
        }
    }
}

/// Which files of a day readers use (see the module doc), decided from the footer of its
/// Parquet file (if any) and the names, lengths and first bytes of its CSV files.
pub struct Resolved {
    day: NaiveDate,
    encoding: Encoding,
    parquet: Option<(ParquetDay, FileEntry)>,
    csv: Vec<FileEntry>,
    notes: Vec<String>,
}

impl Resolved {
    /// Decides which files of `day` to read.
    pub fn new(day: NaiveDate, files: &DayFiles) -> Result<Resolved, ReadError> {
        let mut notes = Vec::new();
        let mut parquet = None;
        let mut csv: Vec<FileEntry> = files.csv.clone();
        let mut encoding = Encoding::Csv;
        if let Some(p) = &files.parquet {
            match ParquetDay::open(&p.path) {
                Err(e) if !files.csv.is_empty() => {
                    notes.push(format!("{e}; reading the day's CSV files instead"));
                }
                Err(e) => return Err(e),
                Ok(pq) => {
                    let mut uncovered = Vec::new();
                    for c in &files.csv {
                        let name = file_name(&c.path);
                        let covered = match pq.meta().sources.iter().find(|s| s.name == name) {
                            Some(s) if s.len == c.len => head_hash(&c.path, c.len)? == s.head,
                            _ => false,
                        };
                        if !covered {
                            uncovered.push(c.clone());
                        }
                    }
                    let grown = !uncovered.is_empty()
                        && pq.meta().sources.iter().all(|s| {
                            files.csv.iter().any(|c| {
                                file_name(&c.path) == s.name
                                    && c.len >= s.len
                                    && head_hash(&c.path, s.len).ok() == Some(s.head)
                            })
                        });
                    if !grown {
                        encoding = if uncovered.is_empty() {
                            Encoding::Parquet
                        } else {
                            Encoding::Mixed
                        };
                        csv = uncovered;
                        parquet = Some((pq, p.clone()));
                    }
                }
            }
        }
        Ok(Resolved {
            day,
            encoding,
            parquet,
            csv,
            notes,
        })
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
            .chain(self.csv.iter().cloned())
            .collect()
    }

    /// Things the caller may want to tell (a Parquet file that could not be read).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The day's columns (the union of the files' headers), without reading rows.
    pub fn columns(&self) -> Result<Vec<String>, ReadError> {
        let mut columns = Vec::new();
        if let Some((pq, _)) = &self.parquet {
            add_columns(&mut columns, &pq.meta().columns);
        }
        for c in &self.csv {
            add_columns(&mut columns, CsvFile::open(&c.path)?.header());
        }
        Ok(columns)
    }

    /// Opens the rows, reading `wanted`.
    pub fn open(self, wanted: Columns<'_>) -> Result<DayReader, ReadError> {
        let files = self.files();
        let mut columns = Vec::new();
        let mut sources = Vec::new();
        let mut pq_day = None;
        if let Some((pq, _)) = self.parquet {
            add_columns(&mut columns, &pq.meta().columns);
            let rows = pq.rows(wanted)?;
            sources.push((Src::Parquet(Box::new(rows)), pq.meta().columns.clone()));
            pq_day = Some(pq);
        }
        for c in &self.csv {
            let f = CsvFile::open(&c.path)?;
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
        match best {
            Some((_, i)) => {
                self.cur = Some(i);
                Ok(Some(Next::Row))
            }
            None => Ok(None),
        }
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

/// The file name of `path` (lossy).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
