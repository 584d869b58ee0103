//! Appending records to the daily files, with the durability policy of the module docs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::layout::{day_file, raw_file, TZ};

/// A store error, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on a file or directory.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A row whose cell count differs from the header's.
    #[error("a row of {got} cells does not fit the {want} columns of {path:?}")]
    RowWidth {
        /// The file.
        path: PathBuf,
        /// Cells given.
        got: usize,
        /// Columns in the header.
        want: usize,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// What happened when a record was offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Written.
    Written,
    /// Not written: not later than the last row of its day's file.
    NotAfterLast,
}

/// What opening a day's file found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    /// The file now appended to.
    pub path: PathBuf,
    /// Whether it existed (resumed) or was created.
    pub existed: bool,
    /// Bytes of a torn last line cut off.
    pub torn_bytes: u64,
    /// Files of that day skipped because their header differs.
    pub skipped_other_columns: u32,
}

/// The open file of the current day.
struct DayFile {
    day: NaiveDate,
    path: PathBuf,
    file: File,
    /// Time of the last row in the file, to keep rows in time order.
    last: Option<DateTime<FixedOffset>>,
    dirty: bool,
}

/// The raw-bytes file of the current day.
struct RawFile {
    day: NaiveDate,
    path: PathBuf,
    file: File,
    dirty: bool,
}

/// Appends records to daily CSV files (see [`crate::store`]).
pub struct Store {
    dir: PathBuf,
    header: String,
    columns: usize,
    fsync_interval: Duration,
    last_sync: Instant,
    current: Option<DayFile>,
    raw: Option<RawFile>,
    keep_raw: bool,
    /// Raw bytes received before the first record told which day they belong to.
    raw_pending: Vec<u8>,
    line: String,
    /// Observer of file events (opened, rotated, repaired).
    events: Vec<Resumed>,
}

const RAW_PENDING_MAX: usize = 64 * 1024;

impl Store {
    /// A store under `dir` whose files have these columns (`time`, `time_source` first).
    pub fn new(dir: &Path, columns: &[String], fsync_interval: Duration, keep_raw: bool) -> Store {
        let mut w = csv_line(columns.iter().map(String::as_str));
        w.push('\n');
        Store {
            dir: dir.to_owned(),
            header: w,
            columns: columns.len(),
            fsync_interval,
            last_sync: Instant::now(),
            current: None,
            raw: None,
            keep_raw,
            raw_pending: Vec::new(),
            line: String::with_capacity(512),
            events: Vec::new(),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file being appended to, if any.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// File events since the last call (files opened, resumed, repaired).
    pub fn take_events(&mut self) -> Vec<Resumed> {
        std::mem::take(&mut self.events)
    }

    /// Appends one row (`time`, `time_source`, then the label cells) to the file of the
    /// row time's local day, rotating and resuming files as needed.
    pub fn append(
        &mut self,
        time: DateTime<FixedOffset>,
        cells: &[&str],
    ) -> Result<Appended, StoreError> {
        let day = time.with_timezone(&TZ).date_naive();
        if self.current.as_ref().is_none_or(|c| c.day != day) {
            self.rotate(day)?;
        }
        let cur = self.current.as_mut().expect("rotate opened a file");
        if cur.last.is_some_and(|last| time <= last) {
            return Ok(Appended::NotAfterLast);
        }
        if cells.len() + 1 != self.columns {
            return Err(StoreError::RowWidth {
                path: cur.path.clone(),
                got: cells.len() + 1,
                want: self.columns,
            });
        }
        self.line.clear();
        self.line
            .push_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
        for c in cells {
            self.line.push(',');
            push_cell(&mut self.line, c);
        }
        self.line.push('\n');
        // One write call per row: the row reaches the OS whole.
        cur.file
            .write_all(self.line.as_bytes())
            .map_err(io_err("cannot append to", &cur.path))?;
        cur.last = Some(time);
        cur.dirty = true;
        if !self.raw_pending.is_empty() && self.keep_raw {
            let pending = std::mem::take(&mut self.raw_pending);
            self.write_raw(&pending)?;
        }
        self.tick()?;
        Ok(Appended::Written)
    }

    /// Keeps raw bytes (with `--raw`) in the raw file of the current record day.
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if !self.keep_raw {
            return Ok(());
        }
        let Some(day) = self.current.as_ref().map(|c| c.day) else {
            // No record yet: hold the bytes until the first one names the day.
            let room = RAW_PENDING_MAX.saturating_sub(self.raw_pending.len());
            let keep = &bytes[bytes.len().saturating_sub(room)..];
            self.raw_pending.extend_from_slice(keep);
            return Ok(());
        };
        if self.raw.as_ref().is_none_or(|r| r.day != day) {
            if let Some(mut old) = self.raw.take() {
                sync_raw(&mut old)?;
            }
            let path = raw_file(&self.dir, day);
            let (file, _) = open_append(&path)?;
            self.raw = Some(RawFile {
                day,
                path,
                file,
                dirty: false,
            });
        }
        let raw = self.raw.as_mut().expect("opened above");
        raw.file
            .write_all(bytes)
            .map_err(io_err("cannot append to", &raw.path))?;
        raw.dirty = true;
        Ok(())
    }

    /// Fsyncs if the interval has elapsed. Call it now and then even without rows.
    pub fn tick(&mut self) -> Result<(), StoreError> {
        if self.last_sync.elapsed() >= self.fsync_interval {
            self.sync()?;
        }
        Ok(())
    }

    /// Fsyncs whatever was written since the last fsync.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        if let Some(cur) = self.current.as_mut() {
            if cur.dirty {
                cur.file
                    .sync_data()
                    .map_err(io_err("cannot fsync", &cur.path))?;
                cur.dirty = false;
            }
        }
        if let Some(raw) = self.raw.as_mut() {
            sync_raw(raw)?;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Fsyncs and closes the files.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.sync()
    }

    /// Closes the current day (fsynced) and opens the file of `day`.
    fn rotate(&mut self, day: NaiveDate) -> Result<(), StoreError> {
        self.sync()?;
        self.current = None;
        let mut skipped = 0;
        for n in 0.. {
            let path = day_file(&self.dir, day, n);
            match resume(&path, &self.header)? {
                Resume::Created(file) => {
                    self.events.push(Resumed {
                        path: path.clone(),
                        existed: false,
                        torn_bytes: 0,
                        skipped_other_columns: skipped,
                    });
                    self.current = Some(DayFile {
                        day,
                        path,
                        file,
                        last: None,
                        dirty: false,
                    });
                    return Ok(());
                }
                Resume::Appending { file, last, torn } => {
                    self.events.push(Resumed {
                        path: path.clone(),
                        existed: true,
                        torn_bytes: torn,
                        skipped_other_columns: skipped,
                    });
                    self.current = Some(DayFile {
                        day,
                        path,
                        file,
                        last,
                        dirty: false,
                    });
                    return Ok(());
                }
                Resume::OtherColumns => skipped += 1,
            }
        }
        unreachable!("the loop returns or errs")
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

fn sync_raw(raw: &mut RawFile) -> Result<(), StoreError> {
    if raw.dirty {
        raw.file
            .sync_data()
            .map_err(io_err("cannot fsync", &raw.path))?;
        raw.dirty = false;
    }
    Ok(())
}

enum Resume {
    Created(File),
    Appending {
        file: File,
        last: Option<DateTime<FixedOffset>>,
        torn: u64,
    },
    OtherColumns,
}

/// Creates the directories of `path` (fsyncing each parent that got a new entry).
fn create_dirs(path: &Path) -> Result<(), StoreError> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    if parent.as_os_str().is_empty() || parent.is_dir() {
        return Ok(());
    }
    create_dirs(parent)?;
    match fs::create_dir(parent) {
        Ok(()) => sync_dir(parent.parent().unwrap_or(Path::new("."))),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err("cannot create directory", parent)(e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot fsync directory", dir))
}

/// Opens `path` for appending, creating it (and fsyncing its directory) if needed.
/// Returns whether it was created.
fn open_append(path: &Path) -> Result<(File, bool), StoreError> {
    create_dirs(path)?;
    match OpenOptions::new().append(true).create_new(true).open(path) {
        Ok(f) => {
            f.sync_all().map_err(io_err("cannot fsync", path))?;
            sync_dir(path.parent().unwrap_or(Path::new(".")))?;
            Ok((f, true))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
            .append(true)
            .open(path)
            .map(|f| (f, false))
            .map_err(io_err("cannot open", path)),
        Err(e) => Err(io_err("cannot create", path)(e)),
    }
}

/// Opens a day file: creates it with its header, or checks its header, cuts a torn last
/// line and finds the time of its last row.
fn resume(path: &Path, header: &str) -> Result<Resume, StoreError> {
    let (mut file, created) = open_append(path)?;
    if created {
        file.write_all(header.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io_err("cannot write header to", path))?;
        return Ok(Resume::Created(file));
    }
    let mut reader = File::open(path).map_err(io_err("cannot read", path))?;
    let mut first = String::new();
    BufReader::new(&mut reader)
        .read_line(&mut first)
        .map_err(io_err("cannot read", path))?;
    if first.is_empty() {
        // An empty file (a crash right after creation): give it its header.
        file.write_all(header.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io_err("cannot write header to", path))?;
        return Ok(Resume::Created(file));
    }
    if first != header {
        let torn_header = !first.ends_with('\n') && header.starts_with(&first);
        if torn_header {
            // A crash while the header was written: it is still ours.
            repair_tail(path, &file, 0)?;
            file.write_all(header.as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(io_err("cannot write header to", path))?;
            return Ok(Resume::Appending {
                file,
                last: None,
                torn: first.len() as u64,
            });
        }
        return Ok(Resume::OtherColumns);
    }
    let (torn, last_line) = last_complete_line(path)?;
    if torn > 0 {
        let len = file.metadata().map_err(io_err("cannot stat", path))?.len();
        repair_tail(path, &file, len - torn)?;
    }
    let last = last_line.and_then(|l| {
        let t = l.split(',').next()?;
        DateTime::parse_from_rfc3339(t).ok()
    });
    Ok(Resume::Appending { file, last, torn })
}

fn repair_tail(path: &Path, file: &File, len: u64) -> Result<(), StoreError> {
    file.set_len(len)
        .map_err(io_err("cannot cut the torn tail of", path))?;
    file.sync_all().map_err(io_err("cannot fsync", path))
}

/// The length of a torn tail (bytes after the last `\n`) and the last complete line
/// (other than the header), reading only the end of the file.
fn last_complete_line(path: &Path) -> Result<(u64, Option<String>), StoreError> {
    let mut f = File::open(path).map_err(io_err("cannot read", path))?;
    let len = f.metadata().map_err(io_err("cannot stat", path))?.len();
    let mut window = 4096u64;
    loop {
        let from = len.saturating_sub(window);
        f.seek(SeekFrom::Start(from))
            .map_err(io_err("cannot seek", path))?;
        let mut tail = Vec::with_capacity(window as usize);
        (&mut f)
            .take(window)
            .read_to_end(&mut tail)
            .map_err(io_err("cannot read", path))?;
        let torn = tail.iter().rev().take_while(|&&b| b != b'\n').count() as u64;
        if torn as usize == tail.len() && from > 0 {
            window *= 4;
            continue;
        }
        let body = &tail[..tail.len() - torn as usize];
        let body = body.strip_suffix(b"\n").unwrap_or(body);
        let start = body.iter().rposition(|&b| b == b'\n').map(|p| p + 1);
        let last = match start {
            Some(s) => Some(&body[s..]),
            // The whole file is one line: the header.
            None if from == 0 => None,
            None => {
                window *= 4;
                continue;
            }
        };
        return Ok((torn, last.map(|l| String::from_utf8_lossy(l).into_owned())));
    }
}

/// A CSV line (no line end) of these cells.
fn csv_line<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut s = String::new();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_cell(&mut s, c);
    }
    s
}

/// Appends a CSV cell, quoted only when it must be.
fn push_cell(out: &mut String, cell: &str) {
    if cell
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn cols(labels: &[&str]) -> Vec<String> {
        ["time", "time_source"]
            .iter()
            .chain(labels)
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn rotates_on_local_midnight_and_dst() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::new(dir.path(), &cols(&["EAST"]), Duration::from_secs(10), false);
        for (time, v) in [
            ("2026-10-24T23:59:59+02:00", "1"),
            ("2026-10-25T00:00:00+02:00", "2"),
            ("2026-10-25T02:30:00+02:00", "3"),
            ("2026-10-25T02:30:00+01:00", "4"),
            ("2026-10-25T23:59:59+01:00", "5"),
            ("2026-10-25T23:00:00+00:00", "6"),
        ] {
            assert_eq!(s.append(t(time), &["meter", v]).unwrap(), Appended::Written);
        }
        s.close().unwrap();
        let day1 = fs::read_to_string(dir.path().join("2026/10/2026-10-24.csv")).unwrap();
        assert_eq!(
            day1,
            "time,time_source,EAST\n2026-10-24T23:59:59+02:00,meter,1\n"
        );
        let day2 = fs::read_to_string(dir.path().join("2026/10/2026-10-25.csv")).unwrap();
        assert_eq!(
            day2,
            "time,time_source,EAST\n2026-10-25T00:00:00+02:00,meter,2\n2026-10-25T02:30:00+02:00,meter,3\n\
             2026-10-25T02:30:00+01:00,meter,4\n2026-10-25T23:59:59+01:00,meter,5\n"
        );
        assert!(dir.path().join("2026/10/2026-10-26.csv").exists());
    }

    #[test]
    fn resumes_cutting_a_torn_tail_and_keeping_order() {
        let dir = tempfile::tempdir().unwrap();
        let c = cols(&["EAST"]);
        let mut s = Store::new(dir.path(), &c, Duration::from_secs(10), false);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"])
            .unwrap();
        s.append(t("2026-05-01T10:00:01+02:00"), &["meter", "2"])
            .unwrap();
        s.close().unwrap();
        let path = dir.path().join("2026/05/2026-05-01.csv");
        // A crash in the middle of a row.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"2026-05-01T10:00:02+02:00,met").unwrap();
        drop(f);
        let mut s = Store::new(dir.path(), &c, Duration::from_secs(10), false);
        // Not after the last complete row: refused.
        assert_eq!(
            s.append(t("2026-05-01T10:00:01+02:00"), &["meter", "2"])
                .unwrap(),
            Appended::NotAfterLast
        );
        assert_eq!(
            s.append(t("2026-05-01T10:00:03+02:00"), &["meter", "3"])
                .unwrap(),
            Appended::Written
        );
        let ev = s.take_events();
        assert_eq!(ev[0].torn_bytes, 29);
        assert!(ev[0].existed);
        s.close().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "time,time_source,EAST\n2026-05-01T10:00:00+02:00,meter,1\n2026-05-01T10:00:01+02:00,meter,2\n\
             2026-05-01T10:00:03+02:00,meter,3\n"
        );
    }

    #[test]
    fn other_columns_open_a_new_file_of_the_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::new(dir.path(), &cols(&["EAST"]), Duration::from_secs(10), false);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"])
            .unwrap();
        s.close().unwrap();
        let mut s = Store::new(
            dir.path(),
            &cols(&["EAST", "EAIT"]),
            Duration::from_secs(10),
            false,
        );
        s.append(t("2026-05-01T10:00:05+02:00"), &["meter", "2", "3"])
            .unwrap();
        assert_eq!(s.take_events()[0].skipped_other_columns, 1);
        s.close().unwrap();
        let p1 = dir.path().join("2026/05/2026-05-01.1.csv");
        assert_eq!(
            fs::read_to_string(p1).unwrap(),
            "time,time_source,EAST,EAIT\n2026-05-01T10:00:05+02:00,meter,2,3\n"
        );
        // The same columns as the first file again: it resumes the first file.
        let mut s = Store::new(dir.path(), &cols(&["EAST"]), Duration::from_secs(10), false);
        s.append(t("2026-05-01T10:00:06+02:00"), &["meter", "4"])
            .unwrap();
        assert_eq!(
            s.current_path().unwrap(),
            dir.path().join("2026/05/2026-05-01.csv")
        );
    }

    #[test]
    fn torn_header_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("2026/05/2026-05-01.csv");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "time,time_so").unwrap();
        let mut s = Store::new(dir.path(), &cols(&["EAST"]), Duration::from_secs(10), false);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"])
            .unwrap();
        s.close().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "time,time_source,EAST\n2026-05-01T10:00:00+02:00,meter,1\n"
        );
    }

    #[test]
    fn raw_bytes_follow_the_record_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::new(dir.path(), &cols(&["EAST"]), Duration::from_secs(10), true);
        s.write_raw(b"early").unwrap();
        s.append(t("2026-05-01T23:59:59+02:00"), &["meter", "1"])
            .unwrap();
        s.write_raw(b"-a").unwrap();
        s.append(t("2026-05-02T00:00:00+02:00"), &["meter", "2"])
            .unwrap();
        s.write_raw(b"b").unwrap();
        s.close().unwrap();
        assert_eq!(
            fs::read(dir.path().join("2026/05/2026-05-01.tic")).unwrap(),
            b"early-a"
        );
        assert_eq!(
            fs::read(dir.path().join("2026/05/2026-05-02.tic")).unwrap(),
            b"b"
        );
    }

    #[test]
    fn cells_are_quoted_only_when_needed() {
        assert_eq!(
            csv_line(["a", "b c", "d,e", "f\"g"]),
            "a,b c,\"d,e\",\"f\"\"g\""
        );
    }
}
