//! Appending records to the daily files, with the durability policy of the module docs.
//!
//! Rows go through a bounded queue: normally a row is written as soon as it is appended;
//! when the disk is full or failing (any I/O error), the store keeps the rows in memory
//! ([`MAX_HELD_ROWS`], about two hours at one row a second; beyond that the oldest are
//! dropped and counted), retries every [`RETRY`], and writes every held row, in order, once
//! it can. A write that failed half-way is cut back before the next attempt, so no torn row
//! is ever left behind. The caller passes in the time (`now`): the fsync timer and the retry
//! timer are tested without sleeping.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::csv;
use super::error::StoreError;
use super::fs::{create_dirs, parent_of, Fs, FsFile, Lock, Open, RealFs};
use super::layout::{day_file, raw_file, TZ};
use super::text::{self, push_cell};

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
    /// Held in memory: the files cannot be written now (see [`StoreEvent::Stalled`]).
    Held,
    /// Not written: not later than the last row of its day's file (by at most
    /// [`OVERLAP`]).
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
    /// Files of that day skipped because their last row is not a record (a garbage line).
    pub skipped_untrusted: Vec<PathBuf>,
    /// Files of that day skipped because their last row is later than the new rows (the
    /// clock went back): the rows go to a new part of the day instead.
    pub skipped_later: u32,
}

/// Something the caller may want to tell a person.
#[derive(Debug)]
pub enum StoreEvent {
    /// A day file was opened.
    Opened(Resumed),
    /// Writing failed: rows are now held in memory and retried every [`RETRY`].
    Stalled {
        /// The error.
        error: StoreError,
        /// Rows held now.
        held: usize,
    },
    /// Still failing (every ten minutes while it lasts).
    StillStalled {
        /// The error.
        error: StoreError,
        /// Rows held now.
        held: usize,
        /// Rows dropped so far in this outage (the oldest, beyond [`MAX_HELD_ROWS`]).
        dropped: u64,
        /// How long writing has failed.
        for_secs: u64,
    },
    /// Writing works again: every held row has been written.
    Recovered {
        /// Rows held during the outage and written now.
        written: u64,
        /// Rows dropped during the outage.
        dropped: u64,
        /// How long the outage lasted.
        for_secs: u64,
    },
    /// Raw bytes (`--raw`) could not be kept.
    RawDropped {
        /// The error.
        error: StoreError,
        /// Bytes lost.
        bytes: u64,
    },
}

/// Rows held in memory while the files cannot be written (two hours at one row a second).
pub const MAX_HELD_ROWS: usize = 7200;
/// Bytes held at most, whatever the row size.
pub const MAX_HELD_BYTES: usize = 8 << 20;
/// How often writing is retried during an outage.
pub const RETRY: Duration = Duration::from_secs(5);
/// A row at most this much before the last row of its day's file is a duplicate (a restart
/// within the same second, a clock a little behind) and is skipped; one further back in
/// time goes to a new part of the day.
pub const OVERLAP: i64 = 60;
const REMIND: Duration = Duration::from_secs(600);

/// The open file of the current day.
struct DayFile {
    day: NaiveDate,
    /// Its part number N (`YYYY-MM-DD.N.csv`; 0 for the first).
    part: u32,
    path: PathBuf,
    file: Box<dyn FsFile>,
    /// Bytes known to be whole rows (a failed write is cut back to this).
    len: u64,
    /// Time of the last row in the file, to keep rows in time order.
    last: Option<DateTime<FixedOffset>>,
    dirty: bool,
}

/// The raw-bytes file of the current day.
struct RawFile {
    day: NaiveDate,
    path: PathBuf,
    file: Box<dyn FsFile>,
    len: u64,
    dirty: bool,
}

struct Pending {
    time: DateTime<FixedOffset>,
    line: String,
}

struct Outage {
    since: Instant,
    next_try: Instant,
    next_remind: Instant,
    dropped: u64,
}

/// Appends records to daily CSV files (see [`crate::store`]).
pub struct Store {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    header: String,
    names: Vec<String>,
    columns: usize,
    fsync_interval: Duration,
    last_sync: Instant,
    current: Option<DayFile>,
    raw: Option<RawFile>,
    keep_raw: bool,
    /// Raw bytes received before the first record told which day they belong to.
    raw_pending: Vec<u8>,
    queue: VecDeque<Pending>,
    queued_bytes: usize,
    outage: Option<Outage>,
    /// Rows written to the files so far.
    written: u64,
    events: Vec<StoreEvent>,
}

const RAW_PENDING_MAX: usize = 64 * 1024;

impl Store {
    /// A store under `dir` whose files have these columns (`time`, `time_source` first).
    pub fn new(
        dir: &Path,
        columns: &[String],
        fsync_interval: Duration,
        keep_raw: bool,
        now: Instant,
    ) -> Store {
        Store::with_fs(
            Arc::new(RealFs),
            dir,
            columns,
            fsync_interval,
            keep_raw,
            now,
        )
    }

    /// [`Store::new`] on the file operations `fs` (a test's, see [`super::fs`]).
    pub fn with_fs(
        fs: Arc<dyn Fs>,
        dir: &Path,
        columns: &[String],
        fsync_interval: Duration,
        keep_raw: bool,
        now: Instant,
    ) -> Store {
        let mut w = csv_line(columns.iter().map(String::as_str));
        w.push('\n');
        Store {
            fs,
            dir: dir.to_owned(),
            header: w,
            names: columns.to_vec(),
            columns: columns.len(),
            fsync_interval,
            last_sync: now,
            current: None,
            raw: None,
            keep_raw,
            raw_pending: Vec::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            outage: None,
            written: 0,
            events: Vec::new(),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file columns.
    pub fn columns(&self) -> &[String] {
        &self.names
    }

    /// The file being appended to, if any.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// Rows held in memory, waiting for the files to be writable again.
    pub fn held(&self) -> usize {
        self.queue.len()
    }

    /// Rows written to the files so far (held rows count once they are written).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Whether writing is failing now.
    pub fn stalled(&self) -> bool {
        self.outage.is_some()
    }

    /// Events since the last call (files opened, outages).
    pub fn take_events(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.events)
    }

    /// Appends one row (`time`, `time_source`, then the label cells) to the file of the row
    /// time's local day, rotating and resuming files as needed. I/O errors never come back
    /// from here: the row is held and written later (see the module docs).
    pub fn append(
        &mut self,
        time: DateTime<FixedOffset>,
        cells: &[&str],
        now: Instant,
    ) -> Result<Appended, StoreError> {
        if cells.len() + 1 != self.columns {
            return Err(StoreError::RowWidth {
                path: day_file(&self.dir, time.with_timezone(&TZ).date_naive(), 0),
                got: cells.len() + 1,
                want: self.columns,
            });
        }
        let mut line = String::with_capacity(32 + 12 * cells.len());
        line.push_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
        for c in cells {
            line.push(',');
            push_cell(&mut line, c);
        }
        line.push('\n');
        self.queued_bytes += line.len();
        self.queue.push_back(Pending { time, line });
        while self.queue.len() > MAX_HELD_ROWS || self.queued_bytes > MAX_HELD_BYTES {
            let dropped = self.queue.pop_front().expect("over the bound");
            self.queued_bytes -= dropped.line.len();
            if let Some(o) = self.outage.as_mut() {
                o.dropped += 1;
            }
        }
        let skipped = self.flush(now);
        // The row is the queue's last: it is written only if the queue is empty now.
        Ok(if !self.queue.is_empty() {
            Appended::Held
        } else if skipped.last() == Some(&true) {
            Appended::NotAfterLast
        } else {
            Appended::Written
        })
    }

    /// Writes the held rows, unless an outage waits for its next retry. Returns, for each row
    /// it took off the queue, whether it was skipped as not after the last row.
    fn flush(&mut self, now: Instant) -> Vec<bool> {
        let mut taken = Vec::new();
        if self.outage.as_ref().is_some_and(|o| now < o.next_try) {
            return taken;
        }
        while let Some(row) = self.queue.front() {
            let len = row.line.len();
            match self.write_front(now) {
                Ok(skipped) => {
                    self.queue.pop_front();
                    self.queued_bytes -= len;
                    taken.push(skipped);
                }
                Err(error) => {
                    self.fail(error, now);
                    return taken;
                }
            }
        }
        if let Some(o) = self.outage.take() {
            self.events.push(StoreEvent::Recovered {
                written: taken.len() as u64,
                dropped: o.dropped,
                for_secs: now.saturating_duration_since(o.since).as_secs(),
            });
            // What was written during the outage reaches the disk now.
            self.sync();
        }
        if !self.raw_pending.is_empty() && self.keep_raw && self.current.is_some() {
            let pending = std::mem::take(&mut self.raw_pending);
            self.write_raw(&pending);
        }
        taken
    }

    /// Starts or continues an outage: said once, then every ten minutes while it lasts.
    fn fail(&mut self, error: StoreError, now: Instant) {
        let held = self.queue.len();
        match self.outage.as_mut() {
            Some(o) => {
                o.next_try = now + RETRY;
                if now >= o.next_remind {
                    o.next_remind = now + REMIND;
                    self.events.push(StoreEvent::StillStalled {
                        error,
                        held,
                        dropped: o.dropped,
                        for_secs: now.saturating_duration_since(o.since).as_secs(),
                    });
                }
            }
            None => {
                self.events.push(StoreEvent::Stalled { error, held });
                self.outage = Some(Outage {
                    since: now,
                    next_try: now + RETRY,
                    next_remind: now + REMIND,
                    dropped: 0,
                });
            }
        }
    }

    /// Writes the first queued row; `Ok(true)` when it was skipped as not after the last.
    fn write_front(&mut self, now: Instant) -> Result<bool, StoreError> {
        let row = self.queue.front().expect("a row to write");
        let time = row.time;
        let day = time.with_timezone(&TZ).date_naive();
        let fits = |c: &DayFile| {
            c.day == day
                && c.last
                    .is_none_or(|l| time > l - chrono::Duration::seconds(OVERLAP))
        };
        if !self.current.as_ref().is_some_and(fits) {
            self.open_day(day, time)?;
        }
        let cur = self.current.as_mut().expect("open_day opened a file");
        if cur.last.is_some_and(|last| time <= last) {
            return Ok(true);
        }
        let row = self.queue.front().expect("a row to write");
        // One write call per row: the row reaches the OS whole.
        let written = cur.file.write_all(row.line.as_bytes());
        if let Err(source) = written {
            let error = StoreError::Io {
                op: "cannot append to",
                path: cur.path.clone(),
                source,
            };
            // Cut a partial write back to the last whole row; if even that fails, reopen
            // the file next time (resuming cuts the torn tail).
            if cur.file.set_len(cur.len).is_err() {
                self.current = None;
            }
            return Err(error);
        }
        cur.len += row.line.len() as u64;
        cur.last = Some(time);
        cur.dirty = true;
        self.written += 1;
        self.tick_sync(now);
        Ok(false)
    }

    /// Keeps raw bytes (with `--raw`) in the raw file of the current record day. Bytes that
    /// cannot be written (disk full) are dropped and reported, never retried.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        if !self.keep_raw || bytes.is_empty() {
            return;
        }
        let Some(day) = self.current.as_ref().map(|c| c.day) else {
            // No record yet: hold the bytes until the first one names the day.
            let room = RAW_PENDING_MAX.saturating_sub(self.raw_pending.len());
            let keep = &bytes[bytes.len().saturating_sub(room)..];
            self.raw_pending.extend_from_slice(keep);
            return;
        };
        if let Err(error) = self.try_write_raw(day, bytes) {
            if let Some(raw) = self.raw.as_mut() {
                if raw.file.set_len(raw.len).is_err() {
                    self.raw = None;
                }
            }
            // Said once per outage of the record files, or once if only the raw file fails.
            let quiet = self.outage.is_some()
                || self
                    .events
                    .iter()
                    .any(|e| matches!(e, StoreEvent::RawDropped { .. }));
            if !quiet {
                self.events.push(StoreEvent::RawDropped {
                    error,
                    bytes: bytes.len() as u64,
                });
            }
        }
    }

    fn try_write_raw(&mut self, day: NaiveDate, bytes: &[u8]) -> Result<(), StoreError> {
        if self.raw.as_ref().is_none_or(|r| r.day != day) {
            if let Some(mut old) = self.raw.take() {
                sync_raw(&mut old)?;
            }
            let path = raw_file(&self.dir, day);
            let (file, _) = open_append(&*self.fs, &path)?;
            let len = file.size().map_err(io_err("cannot stat", &path))?;
            self.raw = Some(RawFile {
                day,
                path,
                file,
                len,
                dirty: false,
            });
        }
        let raw = self.raw.as_mut().expect("opened above");
        raw.file
            .write_all(bytes)
            .map_err(io_err("cannot append to", &raw.path))?;
        raw.len += bytes.len() as u64;
        raw.dirty = true;
        Ok(())
    }

    /// Retries held rows when due and fsyncs if the interval has elapsed. Call it now and
    /// then even without rows.
    pub fn tick(&mut self, now: Instant) {
        if !self.queue.is_empty() {
            self.flush(now);
        }
        self.tick_sync(now);
    }

    fn tick_sync(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_sync) >= self.fsync_interval {
            self.sync();
            self.last_sync = now;
        }
    }

    /// Fsyncs whatever was written since the last fsync. A failure is an outage: the rows
    /// written since the last fsync may not be on disk, and the next writes will tell.
    pub fn sync(&mut self) {
        let mut failed = None;
        if let Some(cur) = self.current.as_mut() {
            if cur.dirty {
                match cur.file.sync_data() {
                    Ok(()) => cur.dirty = false,
                    Err(e) => failed = Some(io_err("cannot fsync", &cur.path)(e)),
                }
            }
        }
        if let Some(raw) = self.raw.as_mut() {
            if let Err(e) = sync_raw(raw) {
                failed = failed.or(Some(e));
            }
        }
        if let Some(error) = failed {
            if self.outage.is_none() {
                self.events.push(StoreEvent::Stalled { error, held: 0 });
            }
        }
    }

    /// Tries once more to write every held row, whatever the retry timer says, then fsyncs
    /// (at shutdown). Returns the rows that could still not be written.
    pub fn shutdown(&mut self, now: Instant) -> usize {
        if let Some(o) = self.outage.as_mut() {
            o.next_try = now;
        }
        self.flush(now);
        self.sync();
        self.queue.len()
    }

    /// [`Store::shutdown`], then closes the files.
    pub fn close(mut self, now: Instant) -> usize {
        self.shutdown(now)
    }

    /// Opens the file of `day` that a row at `time` may be appended to: the first of the
    /// day's files with our header, a trusted last row, and no row more than [`OVERLAP`]
    /// after `time`; else a new part of the day.
    fn open_day(&mut self, day: NaiveDate, time: DateTime<FixedOffset>) -> Result<(), StoreError> {
        // The file left is fsynced first, whether for another day or another part of this
        // one (a clock gone back): its handle is dropped below, and nothing else would make
        // its last rows durable.
        if self.current.is_some() {
            self.sync();
        }
        let skip_part = self
            .current
            .as_ref()
            .filter(|c| c.day == day)
            .map(|c| c.part);
        self.current = None;
        let mut report = Resumed::default();
        for n in 0.. {
            if Some(n) == skip_part {
                report.skipped_later += 1;
                continue;
            }
            let path = day_file(&self.dir, day, n);
            let resumed = resume(&*self.fs, &path, &self.header, self.columns, day)?;
            let (file, last, existed, torn) = match resumed {
                Resume::Created(file) => (file, None, false, 0),
                Resume::Appending { file, last, torn } => (file, last, true, torn),
                Resume::OtherColumns => {
                    report.skipped_other_columns += 1;
                    continue;
                }
                Resume::Untrusted => {
                    report.skipped_untrusted.push(path);
                    continue;
                }
            };
            if last.is_some_and(|l| time <= l - chrono::Duration::seconds(OVERLAP)) {
                report.skipped_later += 1;
                continue;
            }
            let len = file.size().map_err(io_err("cannot stat", &path))?;
            report.path = path.clone();
            report.existed = existed;
            report.torn_bytes = torn;
            self.events.push(StoreEvent::Opened(report));
            self.current = Some(DayFile {
                day,
                part: n,
                path,
                file,
                len,
                last,
                dirty: false,
            });
            return Ok(());
        }
        unreachable!("the loop returns or errs")
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.sync();
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
    Created(Box<dyn FsFile>),
    Appending {
        file: Box<dyn FsFile>,
        last: Option<DateTime<FixedOffset>>,
        torn: u64,
    },
    OtherColumns,
    /// Its last row is not a record of its header.
    Untrusted,
}

fn sync_dir(fs: &dyn Fs, dir: &Path) -> Result<(), StoreError> {
    fs.sync_dir(dir)
        .map_err(io_err("cannot fsync directory", dir))
}

/// Opens `path` for appending, creating it (and fsyncing it and its directory) if needed.
/// Returns whether it was created.
fn open_append(fs: &dyn Fs, path: &Path) -> Result<(Box<dyn FsFile>, bool), StoreError> {
    create_dirs(fs, parent_of(path))?;
    match fs.open(path, Open::CreateNew) {
        Ok(mut f) => {
            f.sync_all().map_err(io_err("cannot fsync", path))?;
            sync_dir(fs, parent_of(path))?;
            Ok((f, true))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs
            .open(path, Open::Append)
            .map(|f| (f, false))
            .map_err(io_err("cannot open", path)),
        Err(e) => Err(io_err("cannot create", path)(e)),
    }
}

/// Opens a day file of `day`: creates it with its header, or checks its header, cuts a torn
/// last line, and finds (and checks) its last row: a record of its header, of its day (a row
/// of another day is stale bytes a power cut left on a FAT file system, which readers skip as
/// damaged; rows are not appended after it).
fn resume(
    fs: &dyn Fs,
    path: &Path,
    header: &str,
    columns: usize,
    day: NaiveDate,
) -> Result<Resume, StoreError> {
    let (mut file, created) = open_locked(fs, path)?;
    if created {
        write_header(&mut *file, path, header)?;
        return Ok(Resume::Created(file));
    }
    let mut reader = fs
        .open(path, Open::Read)
        .map_err(io_err("cannot read", path))?;
    let mut first = Vec::new();
    let mut buffered = BufReader::new(&mut reader);
    (&mut buffered)
        .take(64 * 1024)
        .read_until(b'\n', &mut first)
        .map_err(io_err("cannot read", path))?;
    if !csv::is_text(&first) {
        if csv::holds_no_row(&mut buffered).map_err(io_err("cannot read", path))? {
            // What a power cut left in the file created just before it (readers read it as
            // empty): given its header from the start.
            let torn = file.size().map_err(io_err("cannot stat", path))?;
            repair_tail(&mut *file, path, 0)?;
            write_header(&mut *file, path, header)?;
            return Ok(Resume::Appending {
                file,
                last: None,
                torn,
            });
        }
        return Ok(Resume::OtherColumns);
    }
    drop(buffered);
    // Text (checked above).
    let first = String::from_utf8(first).unwrap_or_default();
    if first.is_empty() {
        // An empty file (a crash right after creation): give it its header.
        write_header(&mut *file, path, header)?;
        return Ok(Resume::Created(file));
    }
    if first != header {
        let torn_header = !first.ends_with('\n') && header.starts_with(&first);
        if torn_header {
            // A crash while the header was written: it is still ours.
            repair_tail(&mut *file, path, 0)?;
            write_header(&mut *file, path, header)?;
            return Ok(Resume::Appending {
                file,
                last: None,
                torn: first.len() as u64,
            });
        }
        return Ok(Resume::OtherColumns);
    }
    let (torn, last_line) = last_complete_line(&mut *reader, path)?;
    if torn > 0 {
        let len = file.size().map_err(io_err("cannot stat", path))?;
        repair_tail(&mut *file, path, len - torn)?;
    }
    let last = match last_line {
        None => None,
        Some(line) => match last_row_time(&line, columns) {
            Some(t) if t.with_timezone(&TZ).date_naive() == day => Some(t),
            _ => return Ok(Resume::Untrusted),
        },
    };
    Ok(Resume::Appending { file, last, torn })
}

/// Opens `path` for appending with a shared lock held for as long as the file is open: the
/// archiver takes an exclusive one before it removes a CSV file it has converted, so it never
/// removes one being written. While the archiver holds it (a few milliseconds) this day waits
/// as an outage would. A file the archiver removed between our open and our lock is opened
/// again (the path must still name the file locked).
fn open_locked(fs: &dyn Fs, path: &Path) -> Result<(Box<dyn FsFile>, bool), StoreError> {
    for _ in 0..3 {
        let (file, created) = open_append(fs, path)?;
        if !file
            .try_lock(Lock::Shared)
            .map_err(io_err("cannot lock", path))?
        {
            return Err(StoreError::Io {
                op: "cannot lock (the archiver is converting it)",
                path: path.to_owned(),
                source: io::Error::from(io::ErrorKind::WouldBlock),
            });
        }
        let ours = file.id().map_err(io_err("cannot stat", path))?;
        match fs.id(path) {
            Ok(named) if named == ours => return Ok((file, created)),
            // Removed (or replaced) meanwhile: open what the path names now.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot stat", path)(e)),
        }
    }
    Err(StoreError::Io {
        op: "cannot keep open (removed again and again)",
        path: path.to_owned(),
        source: io::Error::from(io::ErrorKind::NotFound),
    })
}

fn write_header(file: &mut dyn FsFile, path: &Path, header: &str) -> Result<(), StoreError> {
    file.write_all(header.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(io_err("cannot write header to", path))
}

/// The time of a file's last line if it is a record of `columns` cells (a CSV row whose
/// first cell is an RFC 3339 time), `None` if it is not one.
fn last_row_time(line: &str, columns: usize) -> Option<DateTime<FixedOffset>> {
    let (mut n, mut time) = (0, None);
    text::for_each_cell(line, |i, c| {
        n += 1;
        if i == 0 {
            time = text::parse_time(c.as_bytes());
        }
    })
    .ok()?;
    let (t, offset) = time.filter(|_| n == columns)?;
    DateTime::from_timestamp(t, 0)?
        .with_timezone(&FixedOffset::east_opt(offset)?)
        .into()
}

fn repair_tail(file: &mut dyn FsFile, path: &Path, len: u64) -> Result<(), StoreError> {
    file.set_len(len)
        .map_err(io_err("cannot cut the torn tail of", path))?;
    file.sync_all().map_err(io_err("cannot fsync", path))
}

/// The length of a torn tail (bytes after the last `\n`) and the last complete line
/// (other than the header) of the file open as `f`, reading only its end.
fn last_complete_line(
    f: &mut dyn FsFile,
    path: &Path,
) -> Result<(u64, Option<String>), StoreError> {
    let len = f.size().map_err(io_err("cannot stat", path))?;
    let mut window = 4096u64;
    loop {
        let from = len.saturating_sub(window);
        f.seek(SeekFrom::Start(from))
            .map_err(io_err("cannot seek", path))?;
        let mut tail = Vec::with_capacity(window as usize);
        (&mut *f)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::testing::{disk_full, eio, Fault, Op, Probe, Rule};
    use std::fs::{self, File, OpenOptions};

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

    fn store(dir: &Path, labels: &[&str], now: Instant) -> Store {
        Store::new(dir, &cols(labels), Duration::from_secs(10), false, now)
    }

    /// Drains the events of `s` into short words.
    fn events(s: &mut Store) -> Vec<String> {
        s.take_events()
            .into_iter()
            .map(|e| match e {
                StoreEvent::Opened(r) => {
                    format!("opened {}", r.path.file_name().unwrap().to_string_lossy())
                }
                StoreEvent::Stalled { held, .. } => format!("stalled {held}"),
                StoreEvent::StillStalled { held, dropped, .. } => {
                    format!("still {held} {dropped}")
                }
                StoreEvent::Recovered {
                    written, dropped, ..
                } => format!("recovered {written} {dropped}"),
                StoreEvent::RawDropped { bytes, .. } => format!("raw dropped {bytes}"),
            })
            .collect()
    }

    #[test]
    fn rotates_on_local_midnight_and_dst() {
        let dir = tempfile::tempdir().unwrap();
        let now = Instant::now();
        let mut s = store(dir.path(), &["EAST"], now);
        for (time, v) in [
            ("2026-10-24T23:59:59+02:00", "1"),
            ("2026-10-25T00:00:00+02:00", "2"),
            ("2026-10-25T02:30:00+02:00", "3"),
            ("2026-10-25T02:30:00+01:00", "4"),
            ("2026-10-25T23:59:59+01:00", "5"),
            ("2026-10-25T23:00:00+00:00", "6"),
        ] {
            assert_eq!(
                s.append(t(time), &["meter", v], now).unwrap(),
                Appended::Written
            );
        }
        assert_eq!(s.close(now), 0);
        let day1 = fs::read_to_string(dir.path().join("journal/2026/10/2026-10-24.csv")).unwrap();
        assert_eq!(
            day1,
            "time,time_source,EAST\n2026-10-24T23:59:59+02:00,meter,1\n"
        );
        let day2 = fs::read_to_string(dir.path().join("journal/2026/10/2026-10-25.csv")).unwrap();
        assert_eq!(
            day2,
            "time,time_source,EAST\n2026-10-25T00:00:00+02:00,meter,2\n2026-10-25T02:30:00+02:00,meter,3\n\
             2026-10-25T02:30:00+01:00,meter,4\n2026-10-25T23:59:59+01:00,meter,5\n"
        );
        assert!(dir.path().join("journal/2026/10/2026-10-26.csv").exists());
    }

    #[test]
    fn resumes_cutting_a_torn_tail_and_keeping_order() {
        let dir = tempfile::tempdir().unwrap();
        let now = Instant::now();
        let mut s = store(dir.path(), &["EAST"], now);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"], now)
            .unwrap();
        s.append(t("2026-05-01T10:00:01+02:00"), &["meter", "2"], now)
            .unwrap();
        s.close(now);
        let path = dir.path().join("journal/2026/05/2026-05-01.csv");
        // A crash in the middle of a row.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"2026-05-01T10:00:02+02:00,met").unwrap();
        drop(f);
        let mut s = store(dir.path(), &["EAST"], now);
        // Not after the last complete row: refused.
        assert_eq!(
            s.append(t("2026-05-01T10:00:01+02:00"), &["meter", "2"], now)
                .unwrap(),
            Appended::NotAfterLast
        );
        assert_eq!(
            s.append(t("2026-05-01T10:00:03+02:00"), &["meter", "3"], now)
                .unwrap(),
            Appended::Written
        );
        let ev = s.take_events();
        let StoreEvent::Opened(r) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(r.torn_bytes, 29);
        assert!(r.existed);
        s.close(now);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "time,time_source,EAST\n2026-05-01T10:00:00+02:00,meter,1\n2026-05-01T10:00:01+02:00,meter,2\n\
             2026-05-01T10:00:03+02:00,meter,3\n"
        );
    }

    #[test]
    fn other_columns_open_a_new_file_of_the_day() {
        let dir = tempfile::tempdir().unwrap();
        let now = Instant::now();
        let mut s = store(dir.path(), &["EAST"], now);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"], now)
            .unwrap();
        s.close(now);
        let mut s = store(dir.path(), &["EAST", "EAIT"], now);
        s.append(t("2026-05-01T10:00:05+02:00"), &["meter", "2", "3"], now)
            .unwrap();
        let StoreEvent::Opened(r) = &s.take_events()[0] else {
            panic!()
        };
        assert_eq!(r.skipped_other_columns, 1);
        s.close(now);
        let p1 = dir.path().join("journal/2026/05/2026-05-01.1.csv");
        assert_eq!(
            fs::read_to_string(p1).unwrap(),
            "time,time_source,EAST,EAIT\n2026-05-01T10:00:05+02:00,meter,2,3\n"
        );
        // The same columns as the first file again: it resumes the first file.
        let mut s = store(dir.path(), &["EAST"], now);
        s.append(t("2026-05-01T10:00:06+02:00"), &["meter", "4"], now)
            .unwrap();
        assert_eq!(
            s.current_path().unwrap(),
            dir.path().join("journal/2026/05/2026-05-01.csv")
        );
    }

    #[test]
    fn torn_header_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal/2026/05/2026-05-01.csv");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "time,time_so").unwrap();
        let now = Instant::now();
        let mut s = store(dir.path(), &["EAST"], now);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"], now)
            .unwrap();
        s.close(now);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "time,time_source,EAST\n2026-05-01T10:00:00+02:00,meter,1\n"
        );
    }

    /// vfat can show a file created just before a power cut with its length but not its
    /// bytes: whatever its clusters held (here a removed Parquet file's). Holding no row, it
    /// is given its header from the start; one whose first line alone is bad (rows follow)
    /// is not ours to rewrite: left as it is, the rows go to the next part.
    #[test]
    fn a_file_of_stale_bytes_is_given_its_header_one_with_rows_is_left() {
        let stale: &[u8] = b"PAR1\x15\x00\x15\x98\x0b\x15\xe0\x01,\x15\xa4\x02\n\x15\x06\x00\x00(\xb5/\xfd`\n\x03\x00\n";
        let row = b"2026-05-01T09:00:00+02:00,meter,0\n";
        for (rows, rewritten) in [(&b""[..], true), (&row[..], false)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal/2026/05/2026-05-01.csv");
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let body = [stale, rows].concat();
            fs::write(&path, &body).unwrap();
            let now = Instant::now();
            let mut s = store(dir.path(), &["EAST"], now);
            s.append(t("2026-05-01T10:00:05+02:00"), &["meter", "5"], now)
                .unwrap();
            s.close(now);
            let part = dir.path().join("journal/2026/05/2026-05-01.1.csv");
            let ours = "time,time_source,EAST\n2026-05-01T10:00:05+02:00,meter,5\n";
            if rewritten {
                assert_eq!(fs::read_to_string(&path).unwrap(), ours);
                assert!(!part.exists());
            } else {
                assert_eq!(fs::read(&path).unwrap(), body, "untouched");
                assert_eq!(fs::read_to_string(&part).unwrap(), ours);
            }
        }
    }

    #[test]
    fn a_garbage_last_row_is_not_appended_to() {
        for garbage in [
            "garbage\n",
            "2026-05-01T10:00:01+02:00,meter\n",
            "2026-05-01 10:00:01,meter,2\n",
            "\"2026-05-01T10:00:01+02:00,meter,2\n",
            // A row of another day: stale bytes a power cut left on vfat (issue 21).
            "2026-04-29T10:00:01+02:00,meter,2\n",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal/2026/05/2026-05-01.csv");
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let body =
                format!("time,time_source,EAST\n2026-05-01T10:00:00+02:00,meter,1\n{garbage}");
            fs::write(&path, &body).unwrap();
            let now = Instant::now();
            let mut s = store(dir.path(), &["EAST"], now);
            s.append(t("2026-05-01T10:00:05+02:00"), &["meter", "5"], now)
                .unwrap();
            let StoreEvent::Opened(r) = &s.take_events()[0] else {
                panic!()
            };
            assert_eq!(r.skipped_untrusted, vec![path.clone()], "{garbage:?}");
            s.close(now);
            assert_eq!(fs::read_to_string(&path).unwrap(), body, "untouched");
            assert_eq!(
                fs::read_to_string(dir.path().join("journal/2026/05/2026-05-01.1.csv")).unwrap(),
                "time,time_source,EAST\n2026-05-01T10:00:05+02:00,meter,5\n"
            );
        }
    }

    #[test]
    fn a_clock_gone_back_writes_a_new_part_of_the_day() {
        let dir = tempfile::tempdir().unwrap();
        let now = Instant::now();
        let mut s = store(dir.path(), &["EAST"], now);
        for (time, v) in [
            ("2026-05-01T12:00:00+02:00", "1"),
            ("2026-05-01T12:00:01+02:00", "2"),
            // Within OVERLAP before the last row: a duplicate, skipped.
            ("2026-05-01T11:59:30+02:00", "x"),
            // An hour back: a new part of the day.
            ("2026-05-01T11:00:00+02:00", "3"),
            ("2026-05-01T11:00:01+02:00", "4"),
        ] {
            s.append(t(time), &["meter", v], now).unwrap();
        }
        s.close(now);
        let p0 = fs::read_to_string(dir.path().join("journal/2026/05/2026-05-01.csv")).unwrap();
        let p1 = fs::read_to_string(dir.path().join("journal/2026/05/2026-05-01.1.csv")).unwrap();
        assert_eq!(p0.lines().count(), 3, "{p0}");
        assert_eq!(
            p1,
            "time,time_source,EAST\n2026-05-01T11:00:00+02:00,meter,3\n2026-05-01T11:00:01+02:00,meter,4\n"
        );
        // After a restart, rows after 11:00:01 go on in the second part.
        let mut s = store(dir.path(), &["EAST"], now);
        s.append(t("2026-05-01T11:00:02+02:00"), &["meter", "5"], now)
            .unwrap();
        assert!(s.current_path().unwrap().ends_with("2026-05-01.1.csv"));
    }

    /// A part of the day left for another (the meter's clock set back) is fsynced before
    /// its handle is dropped, as a day left at midnight is: the rows written to it since the
    /// last fsync were never made durable (found by the power-cut model's check of the
    /// `--fsync-interval` promise, issue 21: journaled, seed 1).
    #[test]
    fn a_part_left_for_another_is_fsynced() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (mut s, probe) = probed(dir.path(), &["EAST"], t0);
        s.append(t("2026-05-01T12:00:00+02:00"), &["meter", "1"], t0)
            .unwrap();
        s.append(t("2026-05-01T12:00:01+02:00"), &["meter", "2"], t0)
            .unwrap();
        probe.take_log();
        // An hour back: a new part; the first part's rows are fsynced before it is left.
        s.append(t("2026-05-01T11:00:00+02:00"), &["meter", "3"], t0)
            .unwrap();
        let log = ops(dir.path(), &probe.take_log());
        let synced = log
            .iter()
            .position(|o| o == "fdatasync journal/2026/05/2026-05-01.csv")
            .unwrap_or_else(|| panic!("the part left is fsynced: {log:#?}"));
        let next = log
            .iter()
            .position(|o| o.starts_with("open journal/2026/05/2026-05-01.1.csv"))
            .expect("a new part");
        assert!(synced < next, "{log:#?}");
    }

    /// A rule failing the next `times` writes (ENOSPC) after `partial` bytes of each.
    fn failing(times: usize, partial: usize) -> Rule {
        let mut left = times;
        Box::new(move |op| {
            if !matches!(op, Op::Write(..)) || left == 0 {
                return None;
            }
            left -= 1;
            Some(Fault::Partial(partial, disk_full()))
        })
    }

    /// A store on a [`Probe`] over the real files.
    fn probed(dir: &Path, labels: &[&str], now: Instant) -> (Store, Probe) {
        let probe = Probe::new();
        let s = Store::with_fs(
            probe.fs(),
            dir,
            &cols(labels),
            Duration::from_secs(10),
            false,
            now,
        );
        (s, probe)
    }

    #[test]
    fn a_full_disk_holds_rows_and_writes_them_all_when_space_returns() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (mut s, probe) = probed(dir.path(), &["EAST"], t0);
        let row = |k: u32| (format!("2026-05-01T10:00:{k:02}+02:00"), k.to_string());
        for k in 0..3 {
            let (time, v) = row(k);
            assert_eq!(
                s.append(t(&time), &["meter", &v], t0).unwrap(),
                Appended::Written
            );
        }
        assert_eq!(events(&mut s), ["opened 2026-05-01.csv"]);
        // The disk fills up: every write fails after 7 of its bytes.
        probe.set_rule(Some(failing(usize::MAX, 7)));
        for k in 3..10 {
            let (time, v) = row(k);
            let now = t0 + Duration::from_secs(u64::from(k));
            assert_eq!(
                s.append(t(&time), &["meter", &v], now).unwrap(),
                Appended::Held
            );
        }
        assert_eq!(s.held(), 7);
        assert!(s.stalled());
        // Said once; retried every RETRY (a write attempt each: 2 in 7 s).
        assert_eq!(events(&mut s), ["stalled 1"]);
        // Space returns.
        probe.set_rule(None);
        s.tick(t0 + Duration::from_secs(9));
        s.tick(t0 + Duration::from_secs(20));
        assert_eq!(events(&mut s), ["recovered 7 0"]);
        assert!(!s.stalled());
        s.close(t0 + Duration::from_secs(21));
        let body =
            std::fs::read_to_string(dir.path().join("journal/2026/05/2026-05-01.csv")).unwrap();
        let want: String = std::iter::once("time,time_source,EAST\n".to_owned())
            .chain((0..10).map(|k| {
                let (time, v) = row(k);
                format!("{time},meter,{v}\n")
            }))
            .collect();
        assert_eq!(body, want, "every row, in order, no torn bytes");
    }

    #[test]
    fn beyond_the_bound_the_oldest_held_rows_are_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (mut s, probe) = probed(dir.path(), &["EAST"], t0);
        probe.set_rule(Some(failing(usize::MAX, 0)));
        let start = t("2026-05-01T00:00:00+02:00");
        let n = MAX_HELD_ROWS + 10;
        for k in 0..n {
            let time = start + chrono::Duration::seconds(k as i64);
            s.append(time, &["meter", &k.to_string()], t0).unwrap();
        }
        assert_eq!(s.held(), MAX_HELD_ROWS);
        probe.set_rule(None);
        s.tick(t0 + RETRY);
        let ev = events(&mut s);
        assert_eq!(ev.last().unwrap(), &format!("recovered {MAX_HELD_ROWS} 10"));
        s.close(t0 + RETRY);
        let body =
            std::fs::read_to_string(dir.path().join("journal/2026/05/2026-05-01.csv")).unwrap();
        let mut lines = body.lines().skip(1);
        assert_eq!(lines.next().unwrap(), "2026-05-01T00:00:10+02:00,meter,10");
        assert_eq!(lines.count(), MAX_HELD_ROWS - 1);
    }

    #[test]
    fn an_outage_across_midnight_lands_in_both_days() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (mut s, probe) = probed(dir.path(), &["EAST"], t0);
        probe.set_rule(Some(failing(2, 4)));
        for (time, v) in [
            ("2026-05-01T23:59:58+02:00", "1"),
            ("2026-05-01T23:59:59+02:00", "2"),
            ("2026-05-02T00:00:00+02:00", "3"),
        ] {
            assert_eq!(
                s.append(t(time), &["meter", v], t0).unwrap(),
                Appended::Held
            );
        }
        s.tick(t0 + RETRY);
        assert_eq!(s.held(), 3);
        s.tick(t0 + 2 * RETRY);
        assert_eq!(s.held(), 0);
        assert_eq!(s.close(t0 + 2 * RETRY), 0);
        let d1 =
            std::fs::read_to_string(dir.path().join("journal/2026/05/2026-05-01.csv")).unwrap();
        let d2 =
            std::fs::read_to_string(dir.path().join("journal/2026/05/2026-05-02.csv")).unwrap();
        assert_eq!(d1.lines().count(), 3, "{d1}");
        assert_eq!(
            d2,
            "time,time_source,EAST\n2026-05-02T00:00:00+02:00,meter,3\n"
        );
    }

    /// The operations of `log` in short words, paths relative to `dir`.
    fn ops(dir: &Path, log: &[Op]) -> Vec<String> {
        let rel = |p: &Path| {
            let r = p.strip_prefix(dir).unwrap_or(p).display().to_string();
            if r.is_empty() {
                ".".to_owned()
            } else {
                r
            }
        };
        log.iter()
            .map(|op| match op {
                Op::Open(p, how) => format!("open {} {how:?}", rel(p)),
                Op::CreateDir(p) => format!("mkdir {}", rel(p)),
                Op::Rename(a, b) => format!("rename {} {}", rel(a), rel(b)),
                Op::RemoveDir(p) => format!("rmdir {}", rel(p)),
                Op::Remove(p) => format!("remove {}", rel(p)),
                Op::SyncDir(p) => format!("fsync-dir {}", rel(p)),
                Op::Id(p) => format!("stat {}", rel(p)),
                Op::Write(p, n) => format!("write {} {n}", rel(p)),
                Op::SetLen(p, n) => format!("cut {} {n}", rel(p)),
                Op::SyncData(p) => format!("fdatasync {}", rel(p)),
                Op::SyncAll(p) => format!("fsync {}", rel(p)),
                Op::Lock(p, l) => format!("lock {} {l:?}", rel(p)),
            })
            .collect()
    }

    /// The documented steps of a new day file, through the seam: its directories created and
    /// their parents fsynced, the file created, fsynced and its directory fsynced, locked
    /// shared, its header written and fsynced; then rows, and an fsync at shutdown.
    #[test]
    fn a_new_day_file_is_made_durable_in_the_documented_order() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (mut s, probe) = probed(dir.path(), &["EAST"], t0);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"], t0)
            .unwrap();
        s.append(t("2026-05-01T10:00:01+02:00"), &["meter", "2"], t0)
            .unwrap();
        s.close(t0);
        let f = "journal/2026/05/2026-05-01.csv";
        assert_eq!(
            ops(dir.path(), &probe.take_log()),
            [
                "mkdir journal/2026/05".to_owned(),
                "mkdir journal/2026".to_owned(),
                "mkdir journal".to_owned(),
                "fsync-dir .".to_owned(),
                "mkdir journal/2026".to_owned(),
                "fsync-dir journal".to_owned(),
                "mkdir journal/2026/05".to_owned(),
                "fsync-dir journal/2026".to_owned(),
                format!("open {f} CreateNew"),
                format!("fsync {f}"),
                "fsync-dir journal/2026/05".to_owned(),
                format!("lock {f} Shared"),
                format!("stat {f}"),
                format!("write {f} 22"),
                format!("fdatasync {f}"),
                format!("write {f} 34"),
                format!("write {f} 34"),
                format!("fdatasync {f}"),
            ]
        );
        // Resumed: opened to append (its directory there), read back, locked; nothing
        // created, so nothing fsynced before the rows.
        let (mut s, probe) = probed(dir.path(), &["EAST"], t0);
        s.append(t("2026-05-01T10:00:02+02:00"), &["meter", "3"], t0)
            .unwrap();
        drop(s);
        assert_eq!(
            ops(dir.path(), &probe.take_log()),
            [
                "mkdir journal/2026/05".to_owned(),
                format!("open {f} CreateNew"),
                format!("open {f} Append"),
                format!("lock {f} Shared"),
                format!("stat {f}"),
                format!("open {f} Read"),
                format!("write {f} 34"),
                format!("fdatasync {f}"),
            ]
        );
    }

    /// A failed fsync (of a new file, of its directory, or the periodic one) is an outage
    /// the store reports, never an exit; rows are held and written once it passes.
    #[test]
    fn a_failing_fsync_is_an_outage() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (mut s, probe) = probed(dir.path(), &["EAST"], t0);
        let no_fsync: Rule = Box::new(|op| {
            matches!(op, Op::SyncData(_) | Op::SyncAll(_) | Op::SyncDir(_))
                .then(|| Fault::Fail(eio()))
        });
        probe.set_rule(Some(no_fsync));
        assert_eq!(
            s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"], t0)
                .unwrap(),
            Appended::Held
        );
        let ev = s.take_events();
        assert_eq!(ev.len(), 1, "{ev:?}");
        match &ev[0] {
            StoreEvent::Stalled { error, held: 1 } => {
                assert!(error.to_string().contains("cannot fsync"), "{error}");
                assert_eq!(error.what(), "I/O error (a failing SD card or disk?)");
            }
            e => panic!("{e:?}"),
        }
        probe.set_rule(None);
        s.tick(t0 + RETRY);
        assert_eq!(events(&mut s), ["opened 2026-05-01.csv", "recovered 1 0"]);
        // The periodic fsync fails: said as an outage of no held row.
        s.append(t("2026-05-01T10:00:01+02:00"), &["meter", "2"], t0 + RETRY)
            .unwrap();
        probe.set_rule(Some(Box::new(|op| {
            matches!(op, Op::SyncData(_)).then(|| Fault::Fail(eio()))
        })));
        s.tick(t0 + RETRY + Duration::from_secs(10));
        assert_eq!(events(&mut s), ["stalled 0"]);
        probe.set_rule(None);
        s.close(t0 + RETRY + Duration::from_secs(11));
        let body =
            std::fs::read_to_string(dir.path().join("journal/2026/05/2026-05-01.csv")).unwrap();
        assert_eq!(
            body,
            "time,time_source,EAST\n2026-05-01T10:00:00+02:00,meter,1\n\
             2026-05-01T10:00:01+02:00,meter,2\n"
        );
    }

    #[test]
    fn an_open_day_file_is_locked_shared_and_waits_for_the_archiver() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut s = store(dir.path(), &["EAST"], t0);
        s.append(t("2026-05-01T10:00:00+02:00"), &["meter", "1"], t0)
            .unwrap();
        let path = dir.path().join("journal/2026/05/2026-05-01.csv");
        // The archiver cannot take it while the store has it open.
        let other = File::open(&path).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        s.close(t0);
        other.try_lock().unwrap();
        // While the archiver holds it, the store holds its rows and tries again later.
        let mut s = store(dir.path(), &["EAST"], t0);
        assert_eq!(
            s.append(t("2026-05-01T10:00:01+02:00"), &["meter", "2"], t0)
                .unwrap(),
            Appended::Held
        );
        assert!(events(&mut s)[0].starts_with("stalled"));
        other.unlock().unwrap();
        s.tick(t0 + RETRY);
        assert_eq!(s.held(), 0);
        assert_eq!(s.written(), 1);
    }

    #[test]
    fn raw_bytes_follow_the_record_day() {
        let dir = tempfile::tempdir().unwrap();
        let now = Instant::now();
        let mut s = Store::new(
            dir.path(),
            &cols(&["EAST"]),
            Duration::from_secs(10),
            true,
            now,
        );
        s.write_raw(b"early");
        s.append(t("2026-05-01T23:59:59+02:00"), &["meter", "1"], now)
            .unwrap();
        s.write_raw(b"-a");
        s.append(t("2026-05-02T00:00:00+02:00"), &["meter", "2"], now)
            .unwrap();
        s.write_raw(b"b");
        s.close(now);
        assert_eq!(
            fs::read(dir.path().join("journal/2026/05/2026-05-01.tic")).unwrap(),
            b"early-a"
        );
        assert_eq!(
            fs::read(dir.path().join("journal/2026/05/2026-05-02.tic")).unwrap(),
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
