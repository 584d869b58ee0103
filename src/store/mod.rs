//! The daily files in both encodings: layout, append, durability, start-up repair, the one
//! reader of days and the archive.
//!
//! `store` is the only module that knows the format: the recorder appends through
//! [`Store`], and everything else (export, compaction, the demo, what comes next) reads days
//! through [`Catalog`] (which days have which files) and [`DayReader`] (a day's rows, from
//! whichever files readers use, see [`read`]).
//!
//! ## On-disk layout
//! ```text
//! <data-dir>/YYYY/MM/YYYY-MM-DD.csv       records of one local (Europe/Paris) day
//! <data-dir>/YYYY/MM/YYYY-MM-DD.N.csv     the N-th file of that day after a column change
//! <data-dir>/YYYY/MM/YYYY-MM-DD.parquet   the archived day: every row of its CSV files
//! <data-dir>/YYYY/MM/.YYYY-MM-DD.parquet.tmp-…   a conversion in progress (never read)
//! <data-dir>/YYYY/MM/YYYY-MM-DD.tic       raw TIC bytes of that day (with --raw)
//! <data-dir>/.tic-rec.lock                held by the one recorder writing here
//! <data-dir>/.tic-rec-tariffs/            prices and Tempo colours fetched by `tariffs update`
//! ```
//! The day being recorded is always CSV (the append-only journal); a closed day is
//! converted to Parquet ([`compact`]), its format in [`parquet`]: typed columns (`time` an
//! instant, indexes and powers Int64, text dictionary-encoded), zstd, the day's metadata
//! (sources, digests, damaged rows) and the caller's (export's day summary) in the footer.
//! The day is the local calendar date of the record's time (the meter's DATE in standard
//! mode), not of the host clock, so replays of old captures file each day correctly.
//!
//! ## Record files
//! - UTF-8 CSV (RFC 4180, `,` separator, `\n` line ends), one header row, one record a line.
//! - Column 1 `time`: RFC 3339 with its offset and second precision
//!   (`2026-10-25T02:30:00+02:00`, then `2026-10-25T02:30:00+01:00` an hour later).
//! - Column 2 `time_source`: `meter` (DATE with an upper-case season letter),
//!   `meter-degraded` (lower-case letter: the meter's clock is in degraded mode) or `host`
//!   (historique mode, which has no DATE: the host clock at reception).
//! - Then one column per wanted label, named as the label. Numeric labels (energy indexes,
//!   currents, powers: [`layout::is_numeric_label`]) are plain integers without leading zeros;
//!   other values are text trimmed of padding. The `DATE` column holds the raw horodate
//!   (`H230301091834`), season letter included.
//! - Rows are in strictly increasing time order within a file. A row at most [`OVERLAP`]
//!   (60 s) before the last row of its file is a duplicate and is skipped (a restart within
//!   the same second); one further back (the meter's clock was set back, an older capture is
//!   replayed) goes to another part of the day: the first `YYYY-MM-DD.N.csv` with the same
//!   header whose rows are all earlier, or a new one. Nothing written is ever rewritten.
//! - A file's header never changes. When the recorder starts with other columns than today's
//!   file has (a contract change, new `--labels`), it opens `YYYY-MM-DD.1.csv` (then `.2`…)
//!   for that day, so no row is ever misaligned with its header. A file whose last line is
//!   not a record of its header (a garbage line) is left as it is, and another part is used.
//!
//! ## Durability promise
//! - Every row is written with one `write` call, whole, and handed to the OS at once.
//! - `fsync` (`sync_data`) at least every `--fsync-interval` (10 s by default), at rotation
//!   and at shutdown; a new file and its directory are fsynced when created.
//! - A power cut can therefore lose at most the rows of the last interval, and can leave a
//!   torn last line (no `\n`). On start-up the recorder cuts a torn tail back to the last
//!   complete line before appending; readers ignore a torn last line, and skip (and report)
//!   a damaged row anywhere else.
//! - Any I/O error while writing (disk full, a failing SD card, a read-only remount) is an
//!   outage, not an exit: rows are held in memory in order ([`MAX_HELD_ROWS`], two hours at
//!   one row a second, and [`MAX_HELD_BYTES`]; beyond that the oldest are dropped and
//!   counted), writing is retried every [`RETRY`] (5 s), and every held row is written, in
//!   order, once it can be. A write that failed half-way is cut back to the last whole row
//!   before the next attempt (or, if even that fails, the file is resumed again, which cuts
//!   the torn tail), so no torn row is ever left behind.
//! - One recorder per data directory: [`DirLock`] holds an advisory lock on
//!   `.tic-rec.lock`, released by the kernel when the process ends (a `kill -9` never leaves
//!   a stale lock); a second recorder refuses at once, naming the first.
//!
//! ## Durability of the archive
//! - A conversion writes a temporary file, fsyncs it, reads it back and verifies it (rows,
//!   first and last time, a digest of every stored column and of every cell's text against
//!   the CSV), renames it to `YYYY-MM-DD.parquet`, fsyncs the directory, and only then
//!   removes the CSV files, then fsyncs the directory again.
//! - A CSV file is removed only under an exclusive `flock` on it, taken without waiting and
//!   held across the final check and the unlink. The recorder holds a shared lock on every
//!   day file it has open, so a file it still writes is never removed: the day stays Parquet
//!   plus that file (readers read the rows the Parquet file lacks) and the next conversion
//!   removes it. A conversion's temporary file is locked while it is written; only a stale
//!   one can be locked, and removed. `tic-rec compact` takes the data directory's lock, so
//!   it never runs beside a recorder.
//! - A closed day with no Parquet file whose CSV files have no complete line (empty, or cut
//!   inside the header by a crash right after they were created) has no row: nothing is
//!   archived, and its files are removed under the same lock, checked again under it
//!   (readers read nothing from them; the recorder would give a new file its header).
//! - A crash or `kill -9` at any point leaves each day readable exactly once: its CSV files
//!   (and its earlier Parquet file, if any), or its verified Parquet file, or both with
//!   readers using the Parquet file alone (it lists the CSV files it covers, by name, first
//!   bytes and where their rows end); the next conversion finishes the job (and removes a
//!   stale temporary file).
//! - A CSV file that grew while its day was converted is kept: readers read the Parquet file
//!   and the rows appended past where its archived rows end, until the day is converted
//!   again. Rows recorded for a day after its archiving (a clock gone back, a replay) are
//!   read with it, merged by time; archiving the day again writes a Parquet file of both,
//!   which lists the earlier archive's sources as absorbed: a day's archived rows are never
//!   dropped for its CSV rows, whichever step a crash interrupts.
//! - A Parquet file whose bytes are garbled (truncated, a partial copy) is an error naming
//!   it, or, when its CSV files are still there, a note and a read of the CSV files. An I/O
//!   error reading it, or a later archive format (after a downgrade), is always an error,
//!   never a read of the CSV files alone (they may lack its rows). A full read checks every
//!   column against its digest: never other numbers.
//! - Readers never fail for a conversion beside them: the directory walk skips a file removed
//!   while it is listed, and a day whose file vanishes while it is opened is listed again.
//! - A conversion never replaces a Parquet file it cannot read: it refuses, naming it (a
//!   damaged one is rebuilt only from CSV files that are all its sources, absorbed none, and
//!   give back as many rows from the same first to the same last time). Nor one that
//!   verifies: when its CSV files (the same length and first bytes) no longer give back its
//!   rows (bit rot past their first 4 KiB), both are kept, readers read the Parquet file, and
//!   the conversion says so.

pub mod catalog;
pub mod compact;
pub mod csv;
pub mod digest;
pub mod layout;
mod lock;
pub mod parquet;
pub mod read;
pub mod tariffs;
pub mod text;
mod writer;

pub use catalog::{oldest_day, Catalog, DayFiles, FileEntry};
pub use layout::{
    cell, day_file, is_numeric_label, local_day, midnight, parquet_file, parse_day_file_name,
    parse_file_name, raw_file, DayFileName, TZ,
};
pub use lock::{DirLock, LOCK_FILE};
pub use read::{Cell, Columns, Damage, DayReader, Encoding, Next, Position, ReadError, Resolved};
pub use writer::{
    Appended, Resumed, Store, StoreError, StoreEvent, MAX_HELD_BYTES, MAX_HELD_ROWS, OVERLAP, RETRY,
};

/// Where a record's time comes from (the `time_source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeSource {
    /// The meter's DATE, upper-case season letter.
    Meter,
    /// The meter's DATE, lower-case season letter (degraded clock).
    MeterDegraded,
    /// The host clock (historique mode).
    Host,
}

impl TimeSource {
    /// The `time_source` cell.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Meter => "meter",
            TimeSource::MeterDegraded => "meter-degraded",
            TimeSource::Host => "host",
        }
    }
}
