//! The archive: closed days converted to Parquet ([`convert`], the steps and their
//! durability in the module docs of [`crate::store`]), one at a time for `tic-rec compact`
//! ([`compact_day`]) and in the background of `tic-rec record` ([`Archiver`]).
//!
//! Each archived day carries its reader's day summary in its footer (the export's, key
//! [`crate::store::SUMMARY_KEY`]): the store keeps it without knowing what it says. The
//! caller says how to make one ([`Settings::summary`]: [`crate::export::Summariser`]), so
//! this job sits in the store, below the export.
//!
//! ## The archived day
//! One Parquet file per closed local day (`records/YYYY/MM/YYYY-MM-DD.parquet`), holding
//! exactly what its CSV files held.
//!
//! ### Columns
//! - `time`: `timestamp[us, tz=UTC]` (Parquet TIMESTAMP, adjusted to UTC), never null,
//!   DELTA_BINARY_PACKED.
//! - `meter_id` (format 3): the row's ADSC, else its ADCO, a dictionary-encoded string,
//!   leading zeros kept (null when the row has neither): the identity of the meter in every
//!   file, whatever the mode, for the readers of a fleet. Derived, never read back.
//! - One column per CSV column but `DATE`, named as the label, in the day's column order:
//!   numeric labels ([`crate::store::is_numeric_label`]) Int64, DELTA_BINARY_PACKED; every
//!   other one (`time_source`, ADSC, LTARF…) a dictionary-encoded string. Empty cells and columns a
//!   row's file did not have are null.
//! - `DATE` (the meter's raw horodate) is not stored: it is the row's local time in the
//!   offset of its `time` cell, after the season letter (`E` at +02:00, `H` at +01:00, lower
//!   case when `time_source` is `meter-degraded`).
//! - `_time`, `_DATE`, `_<LABEL>`: only in a day that needs them, a string column holding,
//!   for the rows where the value is not what the typed column gives back, the cell's text:
//!   a `time` cell that is not the instant written at Europe/Paris's offset, a `DATE` that is
//!   not the one derived (`""` when the cell was empty), a numeric label's cell that is not a
//!   plain integer (`NON TRANSMIS`, `007`).
//! - zstd, chunk statistics, rows in the order of the day's merged CSV rows (time order).
//!
//! ### Metadata
//! Key `tic-rec.archive`: JSON, `"format": 3`, packed (`zstd+base64:`), the day, the day's columns (the union of its
//! CSV headers, in order), the stored columns, the CSV files it covers (`sources`: name,
//! length, `end` — where its rows end, past its last complete line —, hash of its first
//! bytes up to `end` or 4 KiB, header), the sources of earlier archives of the day whose rows
//! it holds but whose files are gone (`absorbed`, same fields: a record, never used to tell
//! which files it covers), rows, first and last time, a digest of every stored column and
//! one of every cell's text, and the damaged rows skipped. No copy of the Arrow schema
//! (readers take the types from the Parquet ones); statistics on `time` only.
//! The day's summary its reader makes while it is archived (the export's, text the store
//! keeps without reading it) goes to the summary cache ([`crate::store::SummaryCache`]);
//! format 2 kept it in the footer (key [`crate::store::SUMMARY_KEY`]), still read. Formats 1
//! (no `end`, no `absorbed`, the head hash over the first 4 KiB of the file) and 2 are still
//! read; a later format is an error, never read as another.
//!
//! ### Reading
//! A footer is validated before use (sizes, offsets, a column chunk claiming at most 64 MiB
//! uncompressed, schema against the metadata); the file is read into memory whole (at most
//! 64 MiB), so an I/O error is one and the decoder reads no file; the decoder is also guarded
//! against panics, so a garbled file is an error naming it. A full read of a column checks
//! its digest at the end of the file.
//!
//! ## The recorder's background job ([`Archiver`])
//! - One thread, at the lowest CPU priority (nice 19 on Linux, which also gives it the lowest
//!   best-effort I/O priority), converting one day at a time and yielding between batches of
//!   rows: it shares no lock with the recording loop, so it never delays a row.
//! - A day is queued when it is closed: when the recorder opens the file of another day
//!   ([`Archiver::opened`], from the store's file events), the day it leaves; at start-up,
//!   the CSV days before yesterday at once, and once the first day being recorded is known,
//!   every CSV day before it. The day being recorded is never converted.
//! - After the days queued are converted (or, with [`Settings::convert`] off, as days
//!   close), the derived dataset ([`Settings::derive`]: the export's periods) is brought up
//!   to the last closed day before the job waits again; never through the day being
//!   recorded.
//! - On stop it abandons the day in hand at the next batch (its temporary file removed) and
//!   exits; the days left are converted at the next start-up or by `tic-rec compact`.
//! - A CSV file the recorder has open (it holds a shared lock on it: rows of a day it went
//!   back to) is never removed ([`Outcome::Converted`]'s `in_use`); the day is
//!   converted again when the recorder leaves it, or at the next start-up.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::NaiveDate;

use super::catalog::{self, Catalog};
use super::compact;
use super::error::ReadError;
use super::fs::{Fs, RealFs};
use super::parquet;

pub use super::compact::{
    compact_day as convert, CompactError, Fail, NoSummary, Options, Outcome, Step, Summarise,
};
pub use super::layout::{FORMAT, OLDEST_FORMAT};
pub use super::parquet::{ArchiveMeta, Marker, Stored, StoredColumn, META_KEY};
pub use super::source::SourceFile;

/// A dataset derived from the closed days (the export's periods dataset,
/// [`crate::export::dataset`]), kept up to date by the job as days close: the store calls it
/// without knowing what it computes.
pub trait Derive: Send + Sync {
    /// Brings the dataset of `dir` up to date through the closed day `through`, through
    /// `fs`; stops early (leaving it for the next call) when `cancel` is set. Returns a line
    /// saying what it did, `None` when there was nothing to do.
    fn closed(
        &self,
        fs: &dyn Fs,
        dir: &Path,
        through: NaiveDate,
        cancel: &AtomicBool,
    ) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>>;
}

/// How to archive.
#[derive(Clone)]
pub struct Settings {
    /// Convert closed days to Parquet (`--archive parquet`); off, closed days stay CSV
    /// (`--archive csv`) and only [`Settings::derive`] runs.
    pub convert: bool,
    /// Keep the CSV files beside the Parquet files (`--keep-csv`).
    pub keep_csv: bool,
    /// Inject a failure (tests).
    pub fail: Option<Fail>,
    /// Makes the summariser of a day, whose summary the day's footer keeps (the export's
    /// [`crate::export::Summariser::boxed`]; [`NoSummary`] keeps none).
    pub summary: fn() -> Box<dyn Summarise>,
    /// The file operations (the durable-write seam: [`RealFs`] but in tests).
    pub fs: Arc<dyn Fs>,
    /// The dataset kept up to date as days close, if any.
    pub derive: Option<Arc<dyn Derive>>,
}

impl Settings {
    /// Archiving that keeps the summaries `summary` makes, on the real filesystem, removing
    /// the CSV files archived.
    pub fn new(summary: fn() -> Box<dyn Summarise>) -> Settings {
        Settings {
            convert: true,
            keep_csv: false,
            fail: None,
            summary,
            fs: Arc::new(RealFs),
            derive: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("convert", &self.convert)
            .field("derive", &self.derive.is_some())
            .field("keep_csv", &self.keep_csv)
            .field("fail", &self.fail)
            .finish_non_exhaustive()
    }
}

/// Converts one day of `dir` (listing its files afresh).
pub fn compact_day(
    dir: &Path,
    day: NaiveDate,
    settings: &Settings,
    cancel: Option<&AtomicBool>,
    pace: Option<&dyn Fn()>,
) -> Result<Outcome, CompactError> {
    let files = catalog::day_files(dir, day)?;
    let options = Options {
        fs: &*settings.fs,
        keep_csv: settings.keep_csv,
        cancel,
        pace,
        fail: settings.fail,
    };
    compact::compact_day(day, &files, &options, &mut *(settings.summary)())
}

/// The days of `dir` that have CSV files (or leftovers of a conversion), before `before`.
pub fn days_to_compact(catalog: &Catalog, before: Option<NaiveDate>) -> Vec<NaiveDate> {
    catalog
        .all()
        .filter(|(d, f)| {
            before.is_none_or(|b| *d < b) && (!f.csv.is_empty() || !f.temps.is_empty())
        })
        .map(|(d, _)| d)
        .collect()
}

/// The archived days of `dir`.
pub fn archived_days(catalog: &Catalog) -> Vec<(NaiveDate, PathBuf)> {
    catalog
        .all()
        .filter_map(|(d, f)| f.parquet.as_ref().map(|p| (d, p.path.clone())))
        .collect()
}

/// Reads an archived day back in full and verifies it: every stored column against its
/// digest, every cell's text against the digest of the CSV it was made from. Returns the rows.
pub fn check_day(path: &Path) -> Result<u64, ReadError> {
    parquet::check(path)
}

/// Decodes every stored column of an archived day, checking their digests (no text
/// check: [`check_day`] does both). Returns the rows.
pub fn decode_day(path: &Path) -> Result<u64, ReadError> {
    parquet::decode_all(path)
}

/// What the background job reports.
#[derive(Debug)]
pub enum Report {
    /// A day was converted (or found archived).
    Done(NaiveDate, Outcome),
    /// A day could not be converted; it stays as it was.
    Failed(NaiveDate, CompactError),
    /// The derived dataset was brought up to date through this day: what it did.
    Derived(NaiveDate, String),
    /// The derived dataset could not be brought up to date through this day (the next day
    /// closed tries again).
    DeriveFailed(NaiveDate, Box<dyn std::error::Error + Send + Sync>),
}

enum Msg {
    Opened(NaiveDate),
    Drain,
}

/// The recorder's background archive job (see the module doc).
pub struct Archiver {
    tx: Option<mpsc::Sender<Msg>>,
    reports: mpsc::Receiver<Report>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Lowers the calling thread's priority as far as it goes (Linux: nice 19, which also sets the
/// lowest best-effort I/O priority). Best effort: a failure leaves it as it was.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let _ = rustix::process::setpriority_process(Some(tid), 19);
    }
}

impl Archiver {
    /// Starts the job for `dir`; `today` is the host's local date (the days before the day
    /// before it are queued at once), `recording` the day the recorder is on, if it is on
    /// one already: known before the job looks at the directory, so that a replay of an old
    /// capture never has its own day converted under it (as [`Archiver::opened`] would say
    /// it, but possibly after the job's first look).
    pub fn start(
        dir: &Path,
        settings: Settings,
        today: NaiveDate,
        recording: Option<NaiveDate>,
    ) -> Archiver {
        let (tx, rx) = mpsc::channel();
        let (rtx, reports) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let job = Job {
            dir: dir.to_path_buf(),
            settings,
            cancel: Arc::clone(&cancel),
            queue: BTreeSet::new(),
            current: None,
            reports: rtx,
            derive_due: None,
        };
        let thread = std::thread::Builder::new()
            .name("tic-rec-archive".into())
            .spawn(move || job.run(rx, today, recording))
            .ok();
        Archiver {
            tx: Some(tx),
            reports,
            cancel,
            thread,
        }
    }

    /// The recorder opened a file of `day`: the day it was on before is closed.
    pub fn opened(&self, day: NaiveDate) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Opened(day));
        }
    }

    /// The reports so far.
    pub fn reports(&self) -> Vec<Report> {
        self.reports.try_iter().collect()
    }

    /// Converts the days queued (the day being recorded excepted), then stops; returns the
    /// reports not yet taken.
    pub fn finish(mut self) -> Vec<Report> {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Drain);
        }
        self.join()
    }

    /// Stops at the next batch of rows, abandoning the day in hand.
    pub fn stop(mut self) -> Vec<Report> {
        self.cancel.store(true, Ordering::Relaxed);
        self.tx = None;
        self.join()
    }

    fn join(&mut self) -> Vec<Report> {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.reports.try_iter().collect()
    }
}

impl Drop for Archiver {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Job {
    dir: PathBuf,
    settings: Settings,
    cancel: Arc<AtomicBool>,
    queue: BTreeSet<NaiveDate>,
    current: Option<NaiveDate>,
    reports: mpsc::Sender<Report>,
    /// The last day known closed, when the derived dataset has not been brought up to it.
    derive_due: Option<NaiveDate>,
}

impl Job {
    fn queue_before(&mut self, before: NaiveDate) {
        if self.settings.convert {
            if let Ok(c) = Catalog::open(&self.dir) {
                self.queue.extend(days_to_compact(&c, Some(before)));
            }
        }
        self.closed_through(before.pred_opt());
    }

    /// Every day through `day` is closed.
    fn closed_through(&mut self, day: Option<NaiveDate>) {
        if let Some(d) = day {
            if self.derive_due.is_none_or(|due| d > due) {
                self.derive_due = Some(d);
            }
        }
    }

    /// Brings the derived dataset up to the last closed day, if it is due.
    fn derive(&mut self) -> bool {
        let (Some(derive), Some(due)) = (self.settings.derive.clone(), self.derive_due) else {
            return true;
        };
        // Never the day being recorded (a replay of an old capture records a day before the
        // host's yesterday).
        let through = match self.current.and_then(|c| c.pred_opt()) {
            Some(before) => due.min(before),
            None => due,
        };
        let r = derive.closed(&*self.settings.fs, &self.dir, through, &self.cancel);
        if self.cancel.load(Ordering::Relaxed) {
            return false;
        }
        self.derive_due = None;
        let report = match r {
            Ok(None) => return true,
            Ok(Some(line)) => Report::Derived(through, line),
            Err(e) => Report::DeriveFailed(through, e),
        };
        self.reports.send(report).is_ok()
    }

    fn take(&mut self, msg: Msg, draining: &mut bool) {
        match msg {
            Msg::Opened(day) => {
                match self.current {
                    None => self.queue_before(day),
                    Some(prev) if prev != day => {
                        if self.settings.convert {
                            self.queue.insert(prev);
                        }
                        self.closed_through(day.pred_opt());
                    }
                    Some(_) => {}
                }
                self.current = Some(day);
                self.queue.remove(&day);
            }
            Msg::Drain => *draining = true,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>, today: NaiveDate, recording: Option<NaiveDate>) {
        lower_priority();
        if let Some(before) = today.pred_opt() {
            self.queue_before(before);
        }
        let mut draining = false;
        if let Some(day) = recording {
            self.take(Msg::Opened(day), &mut draining);
        }
        let pace = || std::thread::sleep(Duration::from_millis(2));
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return;
            }
            // Take every message waiting; block for one when there is nothing to do.
            loop {
                let idle = !self.queue.iter().any(|d| Some(*d) != self.current);
                // Nothing to convert: the derived dataset is brought up to the closed days
                // before waiting for the next one.
                if idle && !draining && self.derive_due.is_some() && !self.derive() {
                    return;
                }
                let msg = if idle && !draining {
                    match rx.recv() {
                        Ok(m) => Some(m),
                        Err(_) => return,
                    }
                } else {
                    match rx.try_recv() {
                        Ok(m) => Some(m),
                        Err(mpsc::TryRecvError::Empty) => None,
                        Err(mpsc::TryRecvError::Disconnected) if draining => None,
                        Err(mpsc::TryRecvError::Disconnected) => {
                            // The recorder is gone without asking to drain: stop.
                            return;
                        }
                    }
                };
                match msg {
                    Some(m) => self.take(m, &mut draining),
                    None => break,
                }
            }
            let Some(day) = self
                .queue
                .iter()
                .copied()
                .find(|d| Some(*d) != self.current)
            else {
                // Every closed day converted: bring the derived dataset up to them.
                if !self.derive() || draining {
                    return;
                }
                continue;
            };
            self.queue.remove(&day);
            let r = compact_day(
                &self.dir,
                day,
                &self.settings,
                Some(&self.cancel),
                Some(&pace),
            );
            let report = match r {
                Ok(o) => Report::Done(day, o),
                Err(CompactError::Cancelled(_)) => return,
                Err(e) => Report::Failed(day, e),
            };
            if self.reports.send(report).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::new(|| Box::new(NoSummary))
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_job_runs_at_the_lowest_priority() {
        let nice = std::thread::spawn(|| {
            lower_priority();
            rustix::process::getpriority_process(Some(rustix::thread::gettid()))
        })
        .join()
        .expect("thread");
        assert_eq!(nice.ok(), Some(19));
        // The calling thread is left as it was.
        let me = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
        assert_ne!(me.ok(), Some(19));
    }

    /// January's days `days` in the journal of `dir`, a row each; their folder.
    fn january(dir: &Path, days: std::ops::RangeInclusive<u32>) -> std::path::PathBuf {
        let month = dir.join("journal/2026/01");
        std::fs::create_dir_all(&month).expect("mkdir");
        for d in days {
            std::fs::write(
                month.join(format!("2026-01-0{d}.csv")),
                format!("time,time_source,EAST\n2026-01-0{d}T00:00:00+01:00,meter,{d}\n"),
            )
            .expect("write");
        }
        month
    }

    /// The days the reports say were converted.
    fn converted(reports: &[Report]) -> Vec<NaiveDate> {
        reports
            .iter()
            .filter_map(|r| match r {
                Report::Done(d, Outcome::Converted { .. }) => Some(*d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn stop_abandons_and_finish_drains() {
        let dir = tempfile::tempdir().expect("tempdir");
        let month = january(dir.path(), 1..=3);
        let records = dir.path().join("records/2026/01");
        let today = NaiveDate::from_ymd_opt(2026, 1, 3).expect("date");
        // Started "on the 3rd": days before the 2nd are closed at once; the 2nd once the
        // recorder is on the 3rd; the 3rd never (it is being recorded).
        let a = Archiver::start(dir.path(), settings(), today, None);
        a.opened(today);
        let reports = a.finish();
        assert_eq!(converted(&reports).len(), 2, "{reports:?}");
        assert!(records.join("2026-01-01.parquet").exists());
        assert!(records.join("2026-01-02.parquet").exists());
        assert!(!month.join("2026-01-01.csv").exists());
        assert!(month.join("2026-01-03.csv").exists());
        assert!(!records.join("2026-01-03.parquet").exists());
        let a = Archiver::start(dir.path(), settings(), today, None);
        assert!(a.stop().is_empty() || month.join("2026-01-03.csv").exists());
    }

    /// A replay of an old capture: its day is long before the host's yesterday, so the job's
    /// first look finds it closed, unless it knows the day is being recorded before it looks
    /// (the `opened` message may come after: `tests/hardening` saw the replayed day
    /// converted once, in a whole-suite run).
    #[test]
    fn the_day_being_recorded_is_never_converted_even_an_old_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let month = january(dir.path(), 1..=2);
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        let replayed = NaiveDate::from_ymd_opt(2026, 1, 2).expect("date");
        // No `opened` message at all: the job knows from its start.
        let reports = Archiver::start(dir.path(), settings(), today, Some(replayed)).finish();
        assert_eq!(
            converted(&reports),
            [replayed.pred_opt().expect("date")],
            "{reports:?}"
        );
        assert!(month.join("2026-01-02.csv").exists());
    }
}
