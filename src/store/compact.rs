//! Converting a closed day's CSV files into its Parquet file, durably.
//!
//! The steps, each of which a crash may interrupt (see the durability promise in
//! [`crate::store`]):
//! 1. read the day as readers do ([`DayReader`]: its CSV files, or its Parquet file and the
//!    CSV rows it does not hold) and write it to `.YYYY-MM-DD.parquet.tmp-…` in its month
//!    directory, with the day's summary its reader makes ([`Summarise`]); fsync it;
//! 2. read the temporary file back in full and verify it: rows, first and last time, the
//!    digest of every stored column and of every cell's text against the day just read;
//! 3. rename it to `YYYY-MM-DD.parquet`, fsync it again (on vfat the renamed entry gets its
//!    cluster and length only when the file's inode is written) and the directory; a day
//!    archived again has its old file copied aside first (`.tic-rec-tmp/YYYY-MM-DD.parquet.kept`,
//!    durable), removed after this step, and put back by the next run if a cut left the day
//!    file empty ([`super::replace`]): on vfat a rename over a file gives it up at once;
//! 4. remove the CSV files it covers ([`SourceFile::relation`]: same name and first bytes,
//!    no complete line past where the rows it holds end: a file that grew meanwhile is kept,
//!    and readers read its new rows with the archive), fsync the directory.
//!
//! A day archived again (rows recorded for it after its archiving) is read from its Parquet
//! file and those rows; the new file lists the old one's sources whose files are gone as
//! *absorbed*, so that it never covers a new CSV file of the same name, and a day with
//! absorbed rows is never rebuilt from its CSV files alone.
//!
//! Verifying before the rename means a `YYYY-MM-DD.parquet` a conversion made is always a
//! verified one. A crash before step 3 leaves the day as it was (and a temporary file that
//! readers never read and the next run removes); after it, the Parquet file covers the CSV
//! files still there, readers read it alone, and the next run re-verifies it and removes
//! them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;

use super::catalog::{relist, DayFiles};
use super::error::ReadError;
use super::fs::{create_dirs, parent_of, Failed, Fs, FsFile, Lock, Open, RealFs};
use super::layout::{parquet_file, root_of, temp_dir, temp_name};
use super::parquet::{self, DayWriter, ParquetDay, PushError};
use super::read::{DayReader, Inherit, Resolved};
use super::replace::{drop_kept, keep_aside, recover_day};
use super::row::{Columns, Encoding, Next};
use super::source::{
    file_name, has_line_end, head_of, line_end_within, Relation, SourceFile, Stamp,
};
use super::summaries;

/// A conversion error, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// Reading the day failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A file operation failed.
    #[error("cannot {op} {path:?}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the Parquet file failed.
    #[error("cannot write {path:?}")]
    Write {
        /// The temporary file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: PushError,
    },
    /// The day's Parquet file cannot be read: it is left as it is, never replaced by what the
    /// CSV files hold (they may lack rows it holds).
    #[error(
        "{path:?} is not replaced, its rows may not all be in the CSV files{}",
        if source.is_garbled_archive() {
            "; move it away (to a name such as YYYY-MM-DD.parquet.bad) to archive the day from its CSV files"
        } else {
            ""
        }
    )]
    Unreadable {
        /// The Parquet file.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: ReadError,
    },
    /// The file read back is not what was written: nothing was renamed or removed.
    #[error("{path:?} does not verify: {reason}")]
    Verify {
        /// The file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// A verified Parquet file whose CSV files (all its sources, still there with the same
    /// length and first bytes) no longer give back its rows: a CSV file damaged past its
    /// first 4 KiB (bit rot), or edited to the same length. Both are kept; readers read
    /// the Parquet file, which verifies.
    #[error(
        "{parquet:?} verifies, but its CSV files ({}) no longer give back its rows (damaged, \
         or edited?): both kept, readers read the Parquet file; check the CSV files, then \
         remove them by hand",
        csv.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", ")
    )]
    CsvDiffers {
        /// The Parquet file.
        parquet: PathBuf,
        /// The CSV files.
        csv: Vec<PathBuf>,
    },
    /// Stopped on request (the temporary file was removed).
    #[error("conversion of {0} cancelled")]
    Cancelled(NaiveDate),
    /// A failure injected for tests.
    #[error("failure injected at {0:?}")]
    Injected(Step),
}

impl CompactError {
    /// The I/O error behind it, if any (`ENOSPC`, `EIO`…: try again later).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            CompactError::Read(e) | CompactError::Unreadable { source: e, .. } => e.io_error(),
            CompactError::Io { source, .. } => Some(source),
            CompactError::Write { source, .. } => source.io_error(),
            _ => None,
        }
    }
}

/// The steps of a conversion, where tests inject failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The temporary file is written and fsynced, not verified.
    AfterTemp,
    /// The temporary file is verified, not renamed.
    AfterVerify,
    /// Renamed, the directory not fsynced.
    AfterRename,
    /// Renamed and fsynced, no CSV file removed.
    BeforeRemove,
    /// One CSV file removed (of a day with several), the others not.
    AfterFirstRemove,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 5] = [
        Step::AfterTemp,
        Step::AfterVerify,
        Step::AfterRename,
        Step::BeforeRemove,
        Step::AfterFirstRemove,
    ];

    /// Its name (`after-temp`…).
    pub fn name(self) -> &'static str {
        match self {
            Step::AfterTemp => "after-temp",
            Step::AfterVerify => "after-verify",
            Step::AfterRename => "after-rename",
            Step::BeforeRemove => "before-remove",
            Step::AfterFirstRemove => "after-first-remove",
        }
    }

    /// The step of a name.
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What a failure injected at a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fail {
    /// Return [`CompactError::Injected`].
    Error(Step),
    /// Abort the process there (as `kill -9` would).
    Abort(Step),
}

/// Makes a day's summary from its rows while it is converted, kept in the summary cache
/// ([`super::SummaryCache`]) once the Parquet file is in place (archives of format 2 kept it
/// in their footer, [`super::parquet::SUMMARY_KEY`]): what it says is the caller's (the
/// export's [`crate::export::Summariser`]), the store keeps the text.
pub trait Summarise {
    /// A new day whose columns are `columns`.
    fn start(&mut self, columns: &[String]);
    /// The current row of `day`.
    fn row(&mut self, day: &DayReader);
    /// Damaged rows skipped at `time`.
    fn damaged(&mut self, time: i64);
    /// The day's rows are all given.
    fn finish(&mut self);
    /// The summary to keep for the day whose files now have `stamps` (none: the day has
    /// none).
    fn cached(&mut self, stamps: Vec<Stamp>) -> Option<String>;
}

/// No summary.
pub struct NoSummary;

impl Summarise for NoSummary {
    fn start(&mut self, _columns: &[String]) {}
    fn row(&mut self, _day: &DayReader) {}
    fn damaged(&mut self, _time: i64) {}
    fn finish(&mut self) {}
    fn cached(&mut self, _stamps: Vec<Stamp>) -> Option<String> {
        None
    }
}

/// How to convert.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// The file operations (the durable-write seam: [`RealFs`] but in tests).
    pub fs: &'a dyn Fs,
    /// Keep the CSV files (`--keep-csv`).
    pub keep_csv: bool,
    /// Stop (between batches of rows) when set.
    pub cancel: Option<&'a AtomicBool>,
    /// Called between batches of rows (a low-priority job yields there).
    pub pace: Option<&'a dyn Fn()>,
    /// Inject a failure (tests).
    pub fail: Option<Fail>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            fs: &RealFs,
            keep_csv: false,
            cancel: None,
            pace: None,
            fail: None,
        }
    }
}

/// What converting a day did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do: the day is archived and has no CSV file left (or they are kept).
    Archived,
    /// Written (or re-verified) and its CSV files removed (unless kept).
    Converted {
        /// Rows in the Parquet file.
        rows: u64,
        /// Bytes of the CSV files read.
        csv_bytes: u64,
        /// Bytes of the Parquet file.
        parquet_bytes: u64,
        /// CSV files removed.
        removed: usize,
        /// CSV files kept because they changed while the day was converted.
        changed: usize,
        /// CSV files kept because another process (the recorder) has them open: the day is
        /// read from the Parquet file and their rows it lacks, and the next conversion
        /// removes them.
        in_use: usize,
    },
    /// The day has no file to read.
    Empty,
    /// The day has no row: no Parquet file, and CSV files without a complete line (empty,
    /// or cut inside their header by a crash right after they were created). Such files are
    /// removed (unless kept, or open in another process): readers read nothing from them.
    NoRows {
        /// Files removed.
        removed: usize,
        /// Files kept (`--keep-csv`, open in another process, or written meanwhile).
        kept: usize,
    },
}

/// A file operation that failed, as a conversion error (its `op` says "cannot …" already).
fn failed(f: Failed) -> CompactError {
    CompactError::Io {
        op: f.op.strip_prefix("cannot ").unwrap_or(f.op),
        path: f.path,
        source: f.source,
    }
}

fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> CompactError + 'a {
    move |source| CompactError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

fn sync_dir(fs: &dyn Fs, dir: &Path) -> Result<(), CompactError> {
    fs.sync_dir(dir).map_err(io_err("fsync directory", dir))
}

fn inject(fail: Option<Fail>, step: Step) -> Result<(), CompactError> {
    match fail {
        Some(Fail::Error(s)) if s == step => Err(CompactError::Injected(step)),
        Some(Fail::Abort(s)) if s == step => std::process::abort(),
        _ => Ok(()),
    }
}

/// The sources of a new archive of the day `r` has read to its end, and the sources it
/// absorbs: the old archive's sources whose CSV files are still there as they were stay
/// sources (the new archive covers them too); those gone or replaced, and the old archive's
/// absorbed sources, are absorbed; a source that grew is listed as read now, with the CSV
/// files read.
fn sources_of(
    fs: &dyn Fs,
    r: &mut DayReader,
) -> Result<(Vec<SourceFile>, Vec<SourceFile>), CompactError> {
    let mut sources = Vec::new();
    let mut absorbed = Vec::new();
    if let Some(p) = r.parquet() {
        let m = p.meta();
        absorbed.extend(m.absorbed.iter().cloned());
        for (s, how) in m.sources.iter().zip(r.inherited()) {
            match how {
                Inherit::Covered(path) => sources.push(with_end(fs, s, path)?),
                Inherit::Grown => {}
                Inherit::Gone => absorbed.push(s.clone()),
            }
        }
    }
    sources.extend(r.csv_sources()?);
    Ok((sources, absorbed))
}

/// A source of a format-1 archive, covered by the CSV file `path`, with where its rows end
/// (read from the file's first `len` bytes, which are the archived ones).
fn with_end(fs: &dyn Fs, s: &SourceFile, path: &Path) -> Result<SourceFile, CompactError> {
    if s.end.is_some() {
        return Ok(s.clone());
    }
    let mut f = fs.open(path, Open::Read).map_err(io_err("open", path))?;
    let end = line_end_within(&mut *f, s.len).map_err(io_err("read", path))?;
    let head = head_of(&mut *f, end).map_err(io_err("read", path))?;
    Ok(SourceFile {
        end: Some(end),
        head,
        ..s.clone()
    })
}

/// Converts `day` (whose files are `files`, in the month directory `dir`) to its Parquet file.
pub fn compact_day(
    day: NaiveDate,
    files: &DayFiles,
    options: &Options<'_>,
    summarise: &mut dyn Summarise,
) -> Result<Outcome, CompactError> {
    // A conversion's temporary file is locked while it is written: only a stale one (left
    // by a crash) can be locked here, and only that is removed.
    let fs = options.fs;
    for t in &files.temps {
        if let Ok(Locked::File(f)) = lock_exclusive(fs, t) {
            let _ = fs.remove_file(t);
            drop(f);
        }
    }
    // A copy of the day's Parquet file kept by a conversion that was replacing it, which a
    // cut stopped (`replace`): put back first if the day file is empty, else removed; the
    // day's files listed again when it was put back.
    let relisted;
    let files = match files.files().find_map(|f| root_of(&f.path)) {
        Some(root) => {
            let target = files
                .parquet
                .as_ref()
                .map_or_else(|| parquet_file(&root, day), |p| p.path.clone());
            if recover_day(fs, &root, day, &target).map_err(failed)? {
                relisted = relist(day, files)?;
                &relisted
            } else {
                files
            }
        }
        None => files,
    };
    // An empty Parquet file holds no row: what vfat leaves when the power goes between a
    // conversion's rename and the renamed file's fsync (the new entry has no cluster yet).
    // The day is converted from its CSV files over it.
    let without_empty;
    let files = match &files.parquet {
        Some(p) if p.len == 0 && !files.csv.is_empty() => {
            without_empty = DayFiles {
                parquet: None,
                ..files.clone()
            };
            &without_empty
        }
        _ => files,
    };
    if !files.has_data() {
        return Ok(Outcome::Empty);
    }
    if files.parquet.is_none() && all_without_a_line(fs, files)? {
        return remove_lineless(files, options);
    }
    let mut probe = Resolved::new(day, files)?;
    if let (Some(p), Some(source)) = (&files.parquet, probe.take_unreadable()) {
        // Read from its CSV files, but never rebuilt from them.
        return Err(CompactError::Unreadable {
            path: p.path.clone(),
            source,
        });
    }
    // The Parquet file goes to `records/YYYY/MM/` of the data directory (one of the layout
    // before is rewritten where it is: the move takes it later); the temporary file is
    // written aside, in `.tic-rec-tmp/`, so that the records folder never holds another file.
    let root = files
        .files()
        .find_map(|f| root_of(&f.path))
        .unwrap_or_else(|| PathBuf::from("."));
    let target = match &files.parquet {
        Some(p) => p.path.clone(),
        None => parquet_file(&root, day),
    };
    let temps = temp_dir(&root);
    let csv_bytes: u64 = files.csv.iter().map(|f| f.len).sum();
    if probe.encoding() != Encoding::Parquet {
        drop(probe);
        return write_day(day, files, &target, &temps, csv_bytes, options, summarise);
    }
    if files.csv.is_empty() || options.keep_csv {
        return Ok(Outcome::Archived);
    }
    // The Parquet file covers the CSV files still there (a crash after the rename, or one
    // while they were removed): verify it, then remove them. When they are all its sources
    // and it absorbed none, it is also checked against them; a verified file is never
    // rebuilt over.
    let (m, parquet_bytes) = match probe.parquet() {
        Some(pq) => (pq.meta().clone(), pq.len()),
        None => {
            return Err(CompactError::Read(ReadError::Parquet {
                path: target,
                reason: "read as archived, yet not open".into(),
            }))
        }
    };
    drop(probe);
    let csv_only = DayFiles {
        csv: files.csv.clone(),
        parquet: None,
        temps: Vec::new(),
    };
    let all_there = m.absorbed.is_empty()
        && m.sources
            .iter()
            .all(|s| files.csv.iter().any(|c| file_name(&c.path) == s.name));
    let check = ParquetDay::read_with(fs, &target).and_then(|p| parquet::check_day(&p));
    match check {
        Ok(_) if all_there && !csv_day(day, &csv_only)?.same_as(&m) => {
            return Err(CompactError::CsvDiffers {
                parquet: target,
                csv: files.csv.iter().map(|f| f.path.clone()).collect(),
            });
        }
        Ok(_) => {}
        // Damaged: rebuilt from its CSV files only when they are all its sources and give
        // back as many rows, from the same first to the same last time; otherwise it may
        // hold rows they lack.
        Err(e) if e.is_garbled_archive() => {
            let csv = csv_day(day, &csv_only)?;
            if !all_there || (csv.rows, csv.first, csv.last) != (m.rows, m.first, m.last) {
                return Err(CompactError::Unreadable {
                    path: target,
                    source: e,
                });
            }
            return write_day(
                day, &csv_only, &target, &temps, csv_bytes, options, summarise,
            );
        }
        // An I/O error is never a reason to rebuild.
        Err(e) => return Err(e.into()),
    }
    // Renamed in by a run that may have stopped before the file's fsync (see `write_day`):
    // made durable under its name before any CSV file goes.
    fs.open(&target, Open::Read)
        .and_then(|mut f| f.sync_all())
        .map_err(io_err("fsync", &target))?;
    sync_dir(fs, parent_of(&target))?;
    let r = remove_covered(files, &m.sources, options)?;
    Ok(Outcome::Converted {
        rows: m.rows,
        csv_bytes,
        parquet_bytes,
        removed: r.removed,
        changed: r.changed,
        in_use: r.in_use,
    })
}

/// Whether every CSV file of the day is without a complete line (no header, no row) and at
/// most a line long.
fn all_without_a_line(fs: &dyn Fs, files: &DayFiles) -> Result<bool, CompactError> {
    for f in &files.csv {
        let mut file = match fs.open(&f.path, Open::Read) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("open", &f.path)(e)),
        };
        if !lineless(&mut *file, &f.path)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn lineless(file: &mut dyn FsFile, path: &Path) -> Result<bool, CompactError> {
    let len = file.size().map_err(io_err("stat", path))?;
    Ok(len <= super::csv::MAX_LINE && !has_line_end(file, 0, len).map_err(io_err("read", path))?)
}

/// Removes the day's CSV files that have no complete line, each under an exclusive lock
/// (checked again under it): a file the recorder has open is kept.
fn remove_lineless(files: &DayFiles, options: &Options<'_>) -> Result<Outcome, CompactError> {
    let (mut removed, mut kept) = (0, 0);
    if options.keep_csv {
        return Ok(Outcome::NoRows {
            removed,
            kept: files.csv.len(),
        });
    }
    let fs = options.fs;
    let mut dir = None;
    for f in &files.csv {
        let mut file = match lock_exclusive(fs, &f.path)? {
            Locked::File(file) => file,
            Locked::Gone => continue,
            Locked::Busy => {
                kept += 1;
                continue;
            }
        };
        if !lineless(&mut *file, &f.path)? {
            kept += 1;
            continue;
        }
        fs.remove_file(&f.path).map_err(io_err("remove", &f.path))?;
        drop(file);
        removed += 1;
        dir = Some(parent_of(&f.path).to_path_buf());
    }
    if let Some(d) = dir {
        sync_dir(fs, &d)?;
    }
    Ok(Outcome::NoRows { removed, kept })
}

/// What a day's CSV files hold, to check an archive of them against.
struct CsvDay {
    rows: u64,
    text: u64,
    first: Option<i64>,
    last: Option<i64>,
}

impl CsvDay {
    fn same_as(&self, m: &parquet::ArchiveMeta) -> bool {
        (self.rows, self.text, self.first, self.last) == (m.rows, m.text_digest, m.first, m.last)
    }
}

/// Rows, the digest of every cell's text, first and last time of the day read from `files`.
fn csv_day(day: NaiveDate, files: &DayFiles) -> Result<CsvDay, CompactError> {
    let mut r = DayReader::open(day, files, Columns::All)?;
    let mut d = super::digest::RowsDigest::default();
    let mut s = String::new();
    let mut out = CsvDay {
        rows: 0,
        text: 0,
        first: None,
        last: None,
    };
    while let Some(n) = r.advance()? {
        if n != Next::Row {
            continue;
        }
        s.clear();
        r.push_time_text(&mut s);
        d.cell(&s);
        for j in 1..r.columns().len() {
            s.clear();
            r.cell(j).push_to(&mut s);
            d.cell(&s);
        }
        d.end_row();
        out.rows += 1;
        out.first.get_or_insert(r.time());
        out.last = Some(r.time());
    }
    out.text = d.value();
    Ok(out)
}

static TEMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Creates a new temporary file for `day` in `dir` (created when missing), locked
/// exclusively for as long as the handle lives (so that no other conversion takes it for a
/// stale one). A name already taken (a stale file of a process of the same pid, before a
/// reboot) is skipped.
fn create_temp(
    fs: &dyn Fs,
    dir: &Path,
    day: NaiveDate,
) -> Result<(PathBuf, Box<dyn FsFile>), CompactError> {
    create_dirs(fs, dir).map_err(failed)?;
    let mut tries = 0;
    loop {
        tries += 1;
        let tag = format!(
            "{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let temp = dir.join(temp_name(day, &tag));
        let file = match fs.open(&temp, Open::CreateNew) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 1000 => continue,
            Err(e) => return Err(io_err("create", &temp)(e)),
        };
        match file.try_lock(Lock::Exclusive) {
            Ok(true) => return Ok((temp, file)),
            r => {
                let _ = fs.remove_file(&temp);
                let e = r.err().unwrap_or(std::io::ErrorKind::WouldBlock.into());
                return Err(io_err("lock", &temp)(e));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn write_day(
    day: NaiveDate,
    files: &DayFiles,
    target: &Path,
    temps: &Path,
    csv_bytes: u64,
    options: &Options<'_>,
    summarise: &mut dyn Summarise,
) -> Result<Outcome, CompactError> {
    let fs = options.fs;
    let dir = parent_of(target).to_path_buf();
    let (temp, mut locked) = create_temp(fs, temps, day)?;
    let result = write_verify(day, files, &temp, &mut *locked, options, summarise);
    let (meta, parquet_bytes) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs.remove_file(&temp);
            return Err(e);
        }
    };
    // On an injected failure the temporary file stays, as a crash would leave it.
    inject(options.fail, Step::AfterVerify)?;
    create_dirs(fs, &dir).map_err(failed)?;
    // A day archived again (rows recorded for it after its archiving): its Parquet file is
    // copied aside, durable, and that copy removed only once the new file is durable under
    // its name. On vfat a rename over a file gives it up at once while the renamed entry
    // holds nothing until its inode is written: a cut between them lost the rows the old
    // file alone held (the power-cut model, vfat seed 1006, a cut while restarting).
    let kept = match &files.parquet {
        Some(p) if p.path == target && p.len > 0 => {
            Some(keep_aside(fs, temps, day, target).map_err(failed)?)
        }
        _ => None,
    };
    fs.rename(&temp, target)
        .map_err(io_err("rename to", target))?;
    inject(options.fail, Step::AfterRename)?;
    // The file fsynced again under its new name, then the directory. On vfat a rename gives
    // the new entry no cluster and length 0 until the file's inode is written (its fsync, or
    // writeback up to 30 s later), and the directory's fsync does not write it: without this,
    // a power cut after the CSV files' removal could leave an empty `YYYY-MM-DD.parquet`
    // and no CSV file (found by the power-cut model, issue 21).
    locked.sync_all().map_err(io_err("fsync", target))?;
    sync_dir(fs, &dir)?;
    // And the directory it left: a rename between two directories is durable once both are
    // (on vfat the old entry is deleted apart, and fsck would truncate one of two names on
    // the same clusters); until then a cut may undo it, after the CSV files' removal.
    sync_dir(fs, temps)?;
    if let Some(k) = &kept {
        drop_kept(fs, k).map_err(failed)?;
    }
    // The day's summary, for the export of the day (best effort: a missing one is made
    // again from the rows).
    if let (Some(root), Some(stamp)) = (root_of(target), Stamp::of(target)) {
        if let Some(text) = summarise.cached(vec![stamp]) {
            let _ = summaries::save(fs, &root, day, &text);
        }
    }
    inject(options.fail, Step::BeforeRemove)?;
    let r = remove_covered(files, &meta.sources, options)?;
    Ok(Outcome::Converted {
        rows: meta.rows,
        csv_bytes,
        parquet_bytes,
        removed: r.removed,
        changed: r.changed,
        in_use: r.in_use,
    })
}

/// Writes the day to `temp` (open and locked as `locked`), fsyncs it, reads it back and
/// verifies it. Returns its metadata and length.
fn write_verify(
    day: NaiveDate,
    files: &DayFiles,
    temp: &Path,
    locked: &mut dyn FsFile,
    options: &Options<'_>,
    summarise: &mut dyn Summarise,
) -> Result<(parquet::ArchiveMeta, u64), CompactError> {
    let mut raw: Vec<usize> = Vec::new();
    let (meta, rows_digest) = loop {
        match write_once(day, files, temp, locked, &raw, options, summarise)? {
            Ok(v) => break v,
            Err(need) => {
                // Some cells need raw columns: find them all in one pass (writing nothing),
                // then write again.
                let mut r = DayReader::open(day, files, Columns::All)?;
                let columns = r.columns().to_vec();
                let plan = parquet::plan(&columns, &raw);
                let mut w = DayWriter::new(std::io::sink(), day, columns, plan)
                    .map_err(|e| write_err(temp, e))?;
                raw.extend(need);
                while let Some(n) = r.advance()? {
                    if n == Next::Row {
                        raw.extend(w.needs(&r));
                        raw.sort_unstable();
                        raw.dedup();
                    }
                }
            }
        }
    };
    inject(options.fail, Step::AfterTemp)?;
    // Read it back (whole, through the seam): the footer, then every row.
    let pq = ParquetDay::read_with(options.fs, temp)?;
    let back = pq.meta();
    let verify = |reason: String| CompactError::Verify {
        path: temp.to_path_buf(),
        reason,
    };
    if back != &meta {
        return Err(verify("its metadata is not the one written".into()));
    }
    let rows = parquet::check_day(&pq)?;
    if rows != meta.rows || back.text_digest != rows_digest {
        return Err(verify(format!(
            "{rows} rows read back of {}, or cells that differ from the day's",
            meta.rows
        )));
    }
    Ok((meta, pq.len()))
}

fn write_err(path: &Path, source: PushError) -> CompactError {
    CompactError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Empties the temporary file `locked`.
fn fresh<'a>(temp: &Path, locked: &'a mut dyn FsFile) -> Result<&'a mut dyn FsFile, CompactError> {
    locked
        .set_len(0)
        .and_then(|()| locked.seek(std::io::SeekFrom::Start(0)))
        .map_err(io_err("truncate", temp))?;
    Ok(locked)
}

/// One attempt at writing with raw columns `raw`: `Err(columns)` when more are needed.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn write_once(
    day: NaiveDate,
    files: &DayFiles,
    temp: &Path,
    locked: &mut dyn FsFile,
    raw: &[usize],
    options: &Options<'_>,
    summarise: &mut dyn Summarise,
) -> Result<Result<(parquet::ArchiveMeta, u64), Vec<usize>>, CompactError> {
    let mut r = DayReader::open(day, files, Columns::All)?;
    let columns = r.columns().to_vec();
    let mut w = DayWriter::new(
        fresh(temp, locked)?,
        day,
        columns.clone(),
        parquet::plan(&columns, raw),
    )
    .map_err(|e| write_err(temp, e))?;
    summarise.start(&columns);
    let mut n = 0u64;
    while let Some(next) = r.advance()? {
        match next {
            Next::Row => match w.push(&r) {
                Ok(()) => summarise.row(&r),
                Err(PushError::NeedRaw(j)) => return Ok(Err(vec![j])),
                Err(e) => return Err(write_err(temp, e)),
            },
            Next::Damaged { time, count } => {
                w.damaged(time, count);
                summarise.damaged(time);
            }
        }
        n += 1;
        if n.is_multiple_of(parquet::BATCH_ROWS as u64) {
            if options.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(CompactError::Cancelled(day));
            }
            if let Some(p) = options.pace {
                p();
            }
        }
    }
    w.set_damage(r.damage());
    let (sources, absorbed) = sources_of(options.fs, &mut r)?;
    w.set_sources(sources, absorbed);
    summarise.finish();
    let (meta, file) = w.finish().map_err(|e| write_err(temp, e))?;
    file.sync_all().map_err(io_err("fsync", temp))?;
    let digest = meta.text_digest;
    Ok(Ok((meta, digest)))
}

/// A day file opened and locked exclusively, to be removed.
enum Locked {
    /// Locked: no other process has it open with a lock (the recorder holds a shared one on
    /// every day file it has open).
    File(Box<dyn FsFile>),
    /// Gone (or replaced) meanwhile.
    Gone,
    /// Another process holds a lock on it.
    Busy,
}

/// Opens `path` and takes an exclusive lock on it without waiting.
fn lock_exclusive(fs: &dyn Fs, path: &Path) -> Result<Locked, CompactError> {
    let file = match fs.open(path, Open::Read) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Locked::Gone),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    if !file
        .try_lock(Lock::Exclusive)
        .map_err(io_err("lock", path))?
    {
        return Ok(Locked::Busy);
    }
    // Still the file at `path`, not one removed and created again before the lock?
    let here = match fs.id(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Locked::Gone),
        Err(e) => return Err(io_err("stat", path)(e)),
    };
    if here != file.id().map_err(io_err("stat", path))? {
        return Ok(Locked::Gone);
    }
    Ok(Locked::File(file))
}

/// What removing the CSV files a Parquet file covers did.
#[derive(Default)]
struct Removal {
    removed: usize,
    changed: usize,
    in_use: usize,
}

/// Removes the CSV files of the day that `sources` covers as they are now ([`relation`]: the
/// same first bytes and no complete line past where the rows archived end). Each is locked
/// exclusively first, checked and removed under the lock: one the recorder has open (it
/// holds a shared lock on it) is kept, never waited for.
fn remove_covered(
    files: &DayFiles,
    sources: &[SourceFile],
    options: &Options<'_>,
) -> Result<Removal, CompactError> {
    let mut out = Removal::default();
    if options.keep_csv {
        return Ok(out);
    }
    let fs = options.fs;
    let mut dir = None;
    for f in &files.csv {
        let name = file_name(&f.path);
        let Some(s) = sources.iter().find(|s| s.name == name) else {
            out.changed += 1;
            continue;
        };
        let mut file = match lock_exclusive(fs, &f.path)? {
            Locked::File(file) => file,
            Locked::Gone => continue,
            Locked::Busy => {
                out.in_use += 1;
                continue;
            }
        };
        let len = file.size().map_err(io_err("stat", &f.path))?;
        if s.relation(&mut *file, len)
            .map_err(io_err("read", &f.path))?
            != Relation::Covered
        {
            out.changed += 1;
            continue;
        }
        // Removed while locked: nothing can have been appended since the check.
        fs.remove_file(&f.path).map_err(io_err("remove", &f.path))?;
        drop(file);
        out.removed += 1;
        dir = Some(parent_of(&f.path).to_path_buf());
        if out.removed == 1 && files.csv.len() > 1 {
            inject(options.fail, Step::AfterFirstRemove)?;
        }
    }
    if let Some(d) = dir {
        sync_dir(fs, &d)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::day_files;
    use crate::store::row::Next;
    use std::fmt::Write as _;
    use std::fs;

    /// Every item of a day as text: rows (time cell, then every cell) and damaged runs.
    fn items(day: NaiveDate, files: &DayFiles) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut r = DayReader::open(day, files, Columns::All).expect("open");
        let mut out = Vec::new();
        while let Some(n) = r.advance().expect("row") {
            match n {
                Next::Row => {
                    let mut s = String::new();
                    r.push_row_text(&mut s, '|');
                    out.push(s);
                }
                Next::Damaged { time, count } => out.push(format!("damaged {time} {count}")),
            }
        }
        let damage = r
            .damage()
            .iter()
            .map(|d| format!("{} {:?}", d.count, d.first))
            .collect();
        (r.columns().to_vec(), out, damage)
    }

    const CELLS: &[&str] = &[
        "",
        "0",
        "7",
        "007",
        "12345678901",
        "NON TRANSMIS",
        "a,b",
        "say \"hi\"",
        "HC BLEU",
        "999999999999999999",
        "1234567890123456789",
        " x ",
    ];

    fn random_cell(rng: &mut fastrand::Rng, label: &str, t: i64, off: i32, src: &str) -> String {
        match (label, rng.u8(0..10)) {
            ("DATE", 0) => CELLS[rng.usize(0..CELLS.len())].to_owned(),
            ("DATE", 1) => "E260101000000".to_owned(),
            ("DATE", _) => {
                let mut s = String::new();
                crate::store::parquet::push_horodate(&mut s, t, off, src == "meter-degraded");
                s
            }
            (_, 0..=2) => CELLS[rng.usize(0..CELLS.len())].to_owned(),
            _ => rng.u64(0..100_000_000).to_string(),
        }
    }

    fn quote(c: &str) -> String {
        let mut s = String::new();
        crate::store::text::push_cell(&mut s, c);
        s
    }

    /// A temporary file's name already taken (a stale file of a process with the same pid,
    /// before a reboot) is skipped, never truncated nor an error.
    #[test]
    fn a_temporary_name_taken_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let day = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        let next = TEMP_SEQ.load(Ordering::Relaxed);
        let pid = std::process::id();
        for seq in next..next + 20 {
            let name = crate::store::layout::temp_name(day, &format!("{pid}-{seq}"));
            fs::write(dir.path().join(name), b"stale").expect("write");
        }
        let (temp, _locked) = create_temp(&RealFs, dir.path(), day).expect("created");
        assert_eq!(fs::metadata(&temp).expect("stat").len(), 0, "a new file");
        let stale = fs::read_dir(dir.path())
            .expect("list")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| fs::read(e.path()).is_ok_and(|b| b == b"stale"))
            })
            .count();
        assert_eq!(stale, 20, "none overwritten");
    }

    /// Random days (several files with other columns, odd cells and times, damaged rows, a
    /// torn tail) read the same, row for row and cell for cell, once archived; and once
    /// more after archiving again with new rows (a mixed day).
    #[test]
    fn archiving_gives_back_every_cell() {
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).expect("date");
        let t0 = 1_792_879_200; // 2026-10-25T00:00:00+02:00
        for seed in 0..40u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let dir = tempfile::tempdir().expect("tempdir");
            let month = dir.path().join("journal/2026/10");
            fs::create_dir_all(&month).expect("mkdir");
            let headers: [&[&str]; 3] = [
                &[
                    "time",
                    "time_source",
                    "DATE",
                    "ADSC",
                    "LTARF",
                    "NTARF",
                    "EAST",
                    "EASF01",
                ],
                &["time", "time_source", "EAST", "SINSTS", "UNKNOWN", "DATE"],
                &["time", "EAST", "ADSC"],
            ];
            let n_files = 1 + rng.usize(0..3);
            for (n, header) in headers.iter().take(n_files).enumerate() {
                let mut text = header.join(",") + "\n";
                let mut t = t0 + rng.i64(0..100);
                for _ in 0..rng.usize(0..3000) {
                    let off = crate::store::text::paris_offset(t);
                    let src = ["meter", "meter-degraded", "host", ""][rng.usize(0..4)];
                    let mut time = String::new();
                    match rng.u8(0..40) {
                        0 => {
                            let _ = write!(
                                time,
                                "{}",
                                chrono::DateTime::from_timestamp(t, 0)
                                    .expect("t")
                                    .format("%Y-%m-%dT%H:%M:%SZ")
                            );
                        }
                        1 => crate::store::text::push_time(&mut time, t, 0),
                        2 => {
                            crate::store::text::push_time(&mut time, t, off);
                            time.insert_str(19, ".250");
                        }
                        3 => crate::store::text::push_time(&mut time, t, 10800 - off),
                        _ => crate::store::text::push_time(&mut time, t, off),
                    }
                    let mut line = quote(&time);
                    for h in header.iter().skip(1) {
                        line.push(',');
                        let c = if *h == "time_source" {
                            src.to_owned()
                        } else {
                            random_cell(&mut rng, h, t, off, src)
                        };
                        line.push_str(&quote(&c));
                    }
                    match rng.u16(0..500) {
                        0 => line = "garbage,".to_owned(),
                        1 => line.push_str(",extra"),
                        _ => {}
                    }
                    text.push_str(&line);
                    text.push('\n');
                    t += match rng.u8(0..50) {
                        0 => -5,
                        1 => 0,
                        _ => rng.i64(1..40),
                    };
                }
                if rng.bool() {
                    text.push_str("2026-10-25T23:00:00+01:00,met");
                }
                let name = if n == 0 {
                    format!("{day}.csv")
                } else {
                    format!("{day}.{n}.csv")
                };
                fs::write(month.join(name), text).expect("write");
            }
            let before = items(day, &day_files(dir.path(), day).expect("files"));
            let files = day_files(dir.path(), day).expect("files");
            let out =
                compact_day(day, &files, &Options::default(), &mut NoSummary).expect("compact");
            assert!(
                matches!(out, Outcome::Converted { .. }),
                "seed {seed}: {out:?}"
            );
            let files = day_files(dir.path(), day).expect("files");
            assert!(
                files.csv.is_empty() && files.parquet.is_some(),
                "seed {seed}"
            );
            let after = items(day, &files);
            assert_eq!(before.0, after.0, "seed {seed}: columns");
            assert_eq!(before.1, after.1, "seed {seed}: rows");
            // Rows recorded for the day after it was archived: read merged, then archived again.
            let extra = format!("time,EAST,NEWCOL\n{},5,x\n", {
                let mut s = String::new();
                crate::store::text::push_time(&mut s, t0 + 50, 7200);
                s
            });
            fs::write(month.join(format!("{day}.csv")), &extra).expect("write");
            let files = day_files(dir.path(), day).expect("files");
            let mixed = items(day, &files);
            assert_eq!(mixed.1.len(), before.1.len() + 1, "seed {seed}");
            let out = compact_day(day, &files, &Options::default(), &mut NoSummary).expect("again");
            assert!(
                matches!(out, Outcome::Converted { removed: 1, .. }),
                "seed {seed}: {out:?}"
            );
            let files = day_files(dir.path(), day).expect("files");
            assert!(files.csv.is_empty());
            let again = items(day, &files);
            assert_eq!(mixed.0, again.0, "seed {seed}: columns");
            assert_eq!(mixed.1, again.1, "seed {seed}: rows");
        }
    }

    /// A day of two CSV files (`.csv` and `.1.csv`, other columns) in a new data directory.
    fn two_files() -> (tempfile::TempDir, NaiveDate) {
        let dir = tempfile::tempdir().expect("tempdir");
        let month = dir.path().join("journal/2026/05");
        fs::create_dir_all(&month).expect("mkdir");
        let mut a = String::from("time,time_source,EAST\n");
        let mut b = String::from("time,time_source,EAST,SINSTS\n");
        for i in 0..50 {
            let _ = writeln!(a, "2026-05-01T10:00:{i:02}+02:00,meter,{}", 1000 + i);
            let _ = writeln!(b, "2026-05-01T11:00:{i:02}+02:00,meter,{},300", 2000 + i);
        }
        fs::write(month.join("2026-05-01.csv"), a).expect("write");
        fs::write(month.join("2026-05-01.1.csv"), b).expect("write");
        (dir, NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"))
    }

    /// The first file the log shows created (`CreateNew`) that `which` accepts.
    fn created(log: &[crate::store::fs::testing::Op], which: impl Fn(&PathBuf) -> bool) -> PathBuf {
        log.iter()
            .find_map(|op| match op {
                crate::store::fs::testing::Op::Open(p, Open::CreateNew) if which(p) => {
                    Some(p.clone())
                }
                _ => None,
            })
            .expect("a file created")
    }

    fn probed<'a>(fs: &'a dyn Fs) -> Options<'a> {
        Options {
            fs,
            ..Options::default()
        }
    }

    /// On vfat, a power cut between the rename and the renamed file's fsync can leave an
    /// empty `YYYY-MM-DD.parquet` beside the CSV files (the power-cut model, issue 21: vfat,
    /// seed 1, cut before op 110). It holds no row: the next conversion converts the CSV files
    /// over it, rather than refusing to replace an unreadable archive.
    #[test]
    fn an_empty_parquet_file_beside_the_csv_files_is_converted_over() {
        let (dir, day) = two_files();
        let records = dir.path().join("records/2026/05");
        fs::create_dir_all(&records).expect("mkdir");
        let want = items(day, &day_files(dir.path(), day).expect("files"));
        fs::write(records.join("2026-05-01.parquet"), b"").expect("empty");
        let files = day_files(dir.path(), day).expect("files");
        let out = compact_day(day, &files, &Options::default(), &mut NoSummary).expect("compact");
        assert!(
            matches!(
                out,
                Outcome::Converted {
                    rows: 100,
                    removed: 2,
                    ..
                }
            ),
            "{out:?}"
        );
        let files = day_files(dir.path(), day).expect("files");
        assert!(files.csv.is_empty() && files.parquet.is_some(), "{files:?}");
        assert_eq!(items(day, &files).1, want.1);
    }

    /// A Parquet file found covering its CSV files (a run stopped after the rename, before
    /// the renamed file's fsync) is fsynced under its name, and its directory, before any
    /// CSV file is removed (vfat writes a renamed file's entry only with its inode).
    #[test]
    fn a_covering_parquet_file_is_fsynced_before_its_csv_files_go() {
        use crate::store::fs::testing::{Op, Probe};
        let (dir, day) = two_files();
        let records = dir.path().join("records/2026/05");
        let files = day_files(dir.path(), day).expect("files");
        let stop = Options {
            fail: Some(Fail::Error(Step::AfterRename)),
            ..Options::default()
        };
        assert!(matches!(
            compact_day(day, &files, &stop, &mut NoSummary),
            Err(CompactError::Injected(Step::AfterRename))
        ));
        let probe = Probe::new();
        let files = day_files(dir.path(), day).expect("files");
        compact_day(day, &files, &probed(&probe), &mut NoSummary).expect("compact");
        let log = probe.take_log();
        let target = records.join("2026-05-01.parquet");
        let at = |want: &Op| log.iter().position(|op| op == want);
        let sync = at(&Op::SyncAll(target)).expect("the archive fsynced");
        let dir_sync = sync
            + log[sync..]
                .iter()
                .position(|op| *op == Op::SyncDir(records.clone()))
                .expect("its directory fsynced");
        let removed = log
            .iter()
            .position(|op| matches!(op, Op::Remove(_)))
            .expect("a CSV file removed");
        assert!(dir_sync < removed, "{log:#?}");
    }

    /// A day archived again (rows recorded for it after its archiving): its Parquet file is
    /// copied aside and the copy is durable before the new file is renamed over it, and the
    /// copy goes only once the new file is durable under its name (vfat gives up a file
    /// renamed over at once: the power-cut model, vfat seed 1006, lost its rows). A copy a
    /// cut left beside an empty day file is put back before the day is converted again.
    #[test]
    fn a_day_archived_again_keeps_its_old_file_aside_until_the_new_one_is_durable() {
        use crate::store::fs::testing::{in_order, Op, Probe};
        let (dir, day) = two_files();
        let files = day_files(dir.path(), day).expect("files");
        compact_day(day, &files, &Options::default(), &mut NoSummary).expect("compact");
        let month = dir.path().join("journal/2026/05");
        let late = "time,time_source,EAST\n2026-05-01T23:00:00+02:00,meter,3000\n";
        fs::write(month.join("2026-05-01.2.csv"), late).expect("write");
        let files = day_files(dir.path(), day).expect("files");
        let probe = Probe::new();
        compact_day(day, &files, &probed(&probe), &mut NoSummary).expect("compact");
        let temps = dir.path().join(".tic-rec-tmp");
        let kept = temps.join("2026-05-01.parquet.kept");
        let records = dir.path().join("records/2026/05");
        let target = records.join("2026-05-01.parquet");
        let log = probe.take_log();
        let temp = created(&log, |p| *p != kept);
        let steps = [
            Op::Open(kept.clone(), Open::CreateNew),
            Op::SyncAll(kept.clone()),
            Op::SyncDir(temps.clone()),
            Op::Rename(temp.clone(), target.clone()),
            Op::SyncAll(temp.clone()),
            Op::SyncDir(records.clone()),
            // The directory the new file left, then the copy.
            Op::SyncDir(temps.clone()),
            Op::Remove(kept.clone()),
            Op::SyncDir(temps.clone()),
        ];
        in_order(&log, &steps);
        assert!(!kept.exists());
        let files = day_files(dir.path(), day).expect("files");
        assert!(files.csv.is_empty(), "{files:?}");
        assert_eq!(items(day, &files).1.len(), 101);
        // A cut after the rename, the new entry empty (vfat): the copy is put back, and the
        // late rows (their CSV file still there) are archived again with it.
        let old = fs::read(&target).expect("the day file");
        fs::write(&kept, &old).expect("the copy");
        fs::write(&target, b"").expect("emptied");
        fs::write(
            month.join("2026-05-01.3.csv"),
            late.replace("23:00", "23:30"),
        )
        .expect("write");
        let files = day_files(dir.path(), day).expect("files");
        compact_day(day, &files, &Options::default(), &mut NoSummary).expect("compact");
        assert!(!kept.exists());
        let files = day_files(dir.path(), day).expect("files");
        assert_eq!(items(day, &files).1.len(), 102);
    }

    /// The documented order of a conversion, through the seam: the temporary file is
    /// written, fsynced and read back before it is renamed; the directory is fsynced before
    /// any CSV file is removed, each under an exclusive lock; then fsynced again.
    #[test]
    fn a_conversion_runs_its_steps_in_the_documented_order() {
        use crate::store::fs::testing::{in_order, Op, Probe};
        let (dir, day) = two_files();
        let want = items(day, &day_files(dir.path(), day).expect("files"));
        let probe = Probe::new();
        let files = day_files(dir.path(), day).expect("files");
        let out = compact_day(day, &files, &probed(&probe), &mut NoSummary).expect("compact");
        assert!(
            matches!(
                out,
                Outcome::Converted {
                    rows: 100,
                    removed: 2,
                    ..
                }
            ),
            "{out:?}"
        );
        let month = dir.path().join("journal/2026/05");
        let records = dir.path().join("records/2026/05");
        let target = records.join("2026-05-01.parquet");
        let log = probe.take_log();
        let temp = created(&log, |_| true);
        // Written aside: the records folder never holds another file than the days.
        assert_eq!(
            temp.parent(),
            Some(dir.path().join(".tic-rec-tmp").as_path())
        );
        let (a, b) = (month.join("2026-05-01.csv"), month.join("2026-05-01.1.csv"));
        // The steps, in order (other operations, such as each write call, in between).
        let steps = [
            Op::Open(temp.clone(), Open::CreateNew),
            Op::Lock(temp.clone(), Lock::Exclusive),
            Op::SetLen(temp.clone(), 0),
            Op::SyncAll(temp.clone()),
            Op::Open(temp.clone(), Open::Read),
            Op::Rename(temp.clone(), target.clone()),
            // The handle is the temporary file's, now named `target`.
            Op::SyncAll(temp.clone()),
            Op::SyncDir(records.clone()),
            Op::Open(a.clone(), Open::Read),
            Op::Lock(a.clone(), Lock::Exclusive),
            Op::Id(a.clone()),
            Op::Remove(a.clone()),
            Op::Open(b.clone(), Open::Read),
            Op::Lock(b.clone(), Lock::Exclusive),
            Op::Id(b.clone()),
            Op::Remove(b.clone()),
            Op::SyncDir(month.clone()),
        ];
        let at = in_order(&log, &steps);
        assert_eq!(
            at,
            log.len(),
            "nothing after the last fsync: {:#?}",
            &log[at..]
        );
        // Written before its fsync; nothing written to it after, nor to any other file.
        let sync = log
            .iter()
            .position(|op| *op == Op::SyncAll(temp.clone()))
            .expect("fsync");
        let writes: Vec<usize> = log
            .iter()
            .enumerate()
            .filter(|(_, op)| matches!(op, Op::Write(..)))
            .map(|(i, _)| i)
            .collect();
        assert!(!writes.is_empty() && writes.iter().all(|&i| i < sync));
        assert!(log
            .iter()
            .all(|op| !matches!(op, Op::Write(p, _) if *p != temp)));
        // Nothing removed before the rename is durable.
        let synced = log
            .iter()
            .position(|op| *op == Op::SyncDir(records.clone()))
            .expect("fsync dir");
        assert!(log[..synced].iter().all(|op| !matches!(op, Op::Remove(_))));
        assert_eq!(
            items(day, &day_files(dir.path(), day).expect("files")),
            want
        );
    }

    /// A failure at a durable step of a conversion (the temporary file's fsync, the rename,
    /// the directory's fsync, a removal) is an error naming it that leaves the day readable
    /// exactly as before, with its CSV files; the next conversion finishes the job.
    #[test]
    fn a_failing_fsync_or_rename_keeps_the_csv_files() {
        use crate::store::fs::testing::{eio, Fault, Op, Probe};
        type Pick = fn(&Op) -> bool;
        let picks: [(&str, Pick); 4] = [
            (
                "fsync of the temporary file",
                |op| matches!(op, Op::SyncAll(p) if file_name(p).starts_with('.')),
            ),
            ("rename", |op| matches!(op, Op::Rename(..))),
            ("first directory fsync", |op| matches!(op, Op::SyncDir(_))),
            ("removal", |op| matches!(op, Op::Remove(_))),
        ];
        for (what, pick) in picks {
            let (dir, day) = two_files();
            let want = items(day, &day_files(dir.path(), day).expect("files"));
            let probe = Probe::new();
            probe.set_rule(Some(Box::new(move |op| {
                pick(op).then(|| Fault::Fail(eio()))
            })));
            let files = day_files(dir.path(), day).expect("files");
            let e = compact_day(day, &files, &probed(&probe), &mut NoSummary).expect_err(what);
            assert_eq!(
                e.io_error().and_then(|e| e.raw_os_error()),
                Some(5),
                "{what}: {e}"
            );
            let now = day_files(dir.path(), day).expect("files");
            assert_eq!(now.csv.len(), 2, "{what}: CSV files kept");
            // (A temporary file left by a failed rename is stale once its lock is gone: the
            // next conversion removes it.)
            assert_eq!(items(day, &now), want, "{what}: read as before");
            let out = compact_day(day, &now, &Options::default(), &mut NoSummary)
                .expect("the next conversion");
            assert!(
                matches!(
                    out,
                    Outcome::Converted {
                        rows: 100,
                        removed: 2,
                        ..
                    }
                ),
                "{what}: {out:?}"
            );
            let after = day_files(dir.path(), day).expect("files");
            assert!(after.csv.is_empty() && after.parquet.is_some(), "{what}");
            assert!(after.temps.is_empty(), "{what}: no temporary file left");
            assert_eq!(items(day, &after), want, "{what}: archived");
        }
    }
}
