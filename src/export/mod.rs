//! Per-period consumption from the daily files, and the recorded rows themselves.
//!
//! ## Contract
//! - **Input**: the days of [`crate::store`], read through it ([`crate::store::DayReader`]:
//!   CSV files `<dir>/journal/YYYY/MM/YYYY-MM-DD[.N].csv` merged by time, or the archived day
//!   `records/YYYY/MM/YYYY-MM-DD.parquet`, which reads exactly the same; the layout before,
//!   `<dir>/YYYY/MM/`, too); raw `.tic` files, other names and files outside their own
//!   `YYYY/MM` directory are ignored. An empty file, or one cut inside
//!   its header, is a day without rows; a torn last line (no `\n`) is ignored; a line over
//!   64 KiB (before the torn tail), a header naming a column twice, a Parquet file that does
//!   not read, and I/O errors are errors ([`Error::Read`]) naming the file and the line. Any
//!   other malformed row (wrong number of cells, unreadable `time`, not UTF-8: a bad SD
//!   sector, a hand edit) is *damaged*: skipped, the period it lies in (at the time of the
//!   file's previous good row) flagged `damaged_rows`, and told once per file
//!   ([`ExportObserver::note`], naming the file and the first such line).
//!   Energy cells that are empty or not all digits (`NON TRANSMIS`) count as missing.
//! - **Periods** follow the local calendar of [`crate::store::TZ`] ([`Period`]); `--hour` is a
//!   UTC hour. The range is `[from 00:00, to + 1 00:00)` local; the first and last calendar
//!   periods are clipped to it.
//! - **Interpolation**: the index at a boundary `b` lying between the records `(ta, va)` and
//!   `(tb, vb)` is `va + round((vb − va) · (b − ta) / (tb − ta))` (integer, half up). Before the
//!   first record and after the last one the edge record's value is used and the row is
//!   flagged `partial`. A period's consumption is the index at its end minus the index at its
//!   start; so periods add up exactly.
//! - **Guards** (every step between two records of a label is checked by the plausibility
//!   engine, [`crate::tic::plausible`], the one rule the MQTT link publishes by too; the
//!   export's policy over it is to credit what it confirms and flag what it leaves out): a
//!   step is abnormal
//!   when the index decreases (`index_reset`), reads zero after a non-zero value
//!   (`index_reset`; the zero is ignored), jumps more than the subscribed power allows
//!   (`implausible_jump`: more than 1.5 × max(PREF, PCOUP) kVA — historique ISOUSC × 200 V, ×3
//!   on three-phase; 36 kVA when unknown — × (Δt + 2 s), + 1 Wh), or when the meter changes
//!   (ADSC/ADCO; `meter_changed`, every index restarts from the new meter's first value).
//!   A value is credited only once the next one has spoken: after an abnormal value, if the
//!   next continues from the last good value the abnormal one was a glitch and is ignored; if
//!   it continues from the abnormal one, that becomes the new baseline (the step to it is left
//!   out). A value that passes the check but is contradicted by the next one while that one
//!   continues from the last good value (a garbled high value after a gap) is a glitch too,
//!   and so is the first value of the data or of a meter when the next one contradicts it; a
//!   zero is never a starting value. At the end of the data an unconfirmed value is kept when
//!   it passed the check. The flag goes on every period the left-out step spans. Consumption
//!   before and after the event is kept; it is never negative and an impossible step never
//!   adds consumption. So that a period's value does not depend on the range asked, the days
//!   before the range are read back (the nearest day with records, and earlier ones up to 3
//!   days while they hold fewer than 4 kB: in [`ReadMode::Index`] from their summaries where
//!   those hold, as the range's days are, else in full) and the first 64 records after it
//!   are read.
//! - **Order**: in a day's merged rows, a row at the same time as the previous one is skipped;
//!   a row earlier than the previous one is skipped and flagged `out_of_order` — unless it is
//!   still after the row before that one, in which case the previous row (a time ahead) is
//!   the one skipped and flagged. Across days, a row not after the last one is skipped.
//! - **HC/HP**: in standard mode the `(NTARF, LTARF)` pairs seen say which supplier index
//!   `EASFnn` is off-peak (`HC…`, `…CREUSE…`), peak (`HP…`, `…PLEINE…`) and which Tempo colour
//!   (`BLEU`, `BLANC`, `ROUGE`) it carries; when no pair was seen, `EASF01` is HC and `EASF02` HP.
//!   In historique mode `HCHC`/`BBRHC*` are HC and `HCHP`/`BBRHP*` HP.
//! - **Quality**: `records` (rows in the period), `coverage` (share of the period lying between
//!   consecutive records at most [`MAX_COVERED_GAP_S`] apart, or between a period's start or
//!   end and a record at most that far from it), `max_gap_s` (longest stretch of the period
//!   without a record). **One notion of complete**: a period recorded at any cadence from
//!   1 s to 15 min without a gap has coverage 1 and no flag; a flag names what is missing:
//!   `gap` (records further apart than [`MAX_COVERED_GAP_S`] inside it), `partial` (the
//!   records start after its start or end before its end by more than that).
//! - **What is already summed**: in [`ReadMode::Index`], the closed days whose hours the
//!   periods dataset holds ([`dataset`], `<dir>/periods/`) and that still hold (the files
//!   they were computed from unchanged) are not read: their hours are summed into the
//!   periods asked ([`dataset::aggregate`]); the other days are read as below, hour by hour,
//!   and summed with them. Not used with probes inside an hour (the cost engine's), when
//!   the tariff names or the contract's calendar change in or around the range, or when the
//!   range has no file (its columns are then those around it): the long way then.
//! - **Modes**: [`ReadMode::Index`] (the default) gives exactly what [`ReadMode::Scan`] gives, every
//!   column included, but reads a day's files only when its summary is missing or stale.
//!   Reading a day in full builds a summary of it (per UTC hour: rows, covered seconds,
//!   longest internal gap, first and last record; per day: first record, meter, power,
//!   `(NTARF, LTARF)` pairs, whether any step of the day would fire a guard or any row is out
//!   of order, the day's last two records, the two records around the minute of each switch
//!   between HC and HP; and the day's facts for the cost engine, [`DayFacts`]) and caches it in
//!   `<dir>/.tic-rec-index/YYYY/MM/YYYY-MM-DD.csv.idx` (text, versioned, checksummed, energy
//!   labels by name; one summary for all the files of a day). An archived day carries the
//!   same text in its Parquet footer (key [`SUMMARY_KEY`], written by [`Summariser`] when the
//!   day is archived): a day read from its Parquet file alone is fed from its footer and needs
//!   no index (reported as [`DayRead::Index`]); one of another summary version is summarised from its
//!   rows into the index like a CSV day. A summary is used only while every file of its day
//!   has the name, length, modification time and (Unix) status-change time recorded in it
//!   (the day being recorded is rebuilt at every export), only for a day where no guard fires
//!   (inside the day, and at its first record against the state so far), and only because
//!   every period is made of whole UTC hours; any other day is read in full, so flags and
//!   deltas are those of the full read. An index that is missing, stale, of another version
//!   or unreadable is rebuilt; one that cannot be written is skipped (one
//!   [`ExportObserver::note`]): the index never changes a result. [`ReadMode::Scan`] streams every row
//!   of the range (outside it, only the records next to its ends) and neither reads nor
//!   writes the index.
//!   Missing summaries are built on every core (32 days at a time) before being fed in order.
//! - **Probes** ([`export_probed`]): the consumption of every index credited up to given
//!   instants, by the same interpolation and guards; a day is fed from its summary only when
//!   each probe inside it falls between two consecutive records the summary holds (a whole
//!   hour, the minute of a switch it marked), else it is read in full.
//! - **Memory** is bounded by the number of periods (plus 32 day summaries of a few kB in
//!   [`ReadMode::Index`]), never by the number of rows.
//! - The library prints nothing: progress goes to an [`ExportObserver`].

mod accumulator;
pub mod dataset;
mod feed;
mod index;
mod order;
pub mod output;
mod periods;
mod reader;
mod records;
pub mod refresh;
mod run;
mod summed;
mod table;
mod tariff;
mod trail;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use crate::store::Catalog;
pub use crate::tic::labels::{Class, Colour, Rate, ENERGY_LABELS, N_ENERGY};
pub use accumulator::{Identity, Probed};
pub use feed::day_facts;
pub use index::{DayFacts, Switch, Window, MAX_SWITCHES, WINDOW_HOURS};
pub use index::{SUMMARY_KEY, VERSION as SUMMARY_VERSION};
pub use periods::{boundaries, Period};
pub use records::{records, RecordSink};
pub use run::{export, export_prefetched, export_probed, export_store, open, range};
pub use summary::Summariser;
pub use summed::Prefetch;
pub use table::{Flags, Row, Table};
pub use tariff::Tariffs;

mod summary;

/// Records at most this far apart cover the time between them (and a record this close to
/// a period's start or end covers the stretch to it): the longest cadence the recorder
/// offers (`--every 15min`) and a minute. Further apart, the stretch is a gap: flagged
/// `gap` (inside the data) or `partial` (before its first record, after its last).
pub const MAX_COVERED_GAP_S: i64 = 960;

/// The most periods one export takes.
pub const MAX_PERIODS: i64 = 200_000;

/// Errors of an export. Every message names the file, and the line or byte, at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory cannot be read.
    #[error("cannot read data directory {path:?}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The data directory holds no daily file.
    #[error("no daily files (YYYY/MM/YYYY-MM-DD.csv) in {0:?}")]
    NoFiles(PathBuf),
    /// A day file cannot be read (I/O, a header not ours, a line over 64 KiB, a Parquet
    /// file that is not a readable archived day). Damaged rows are not errors: they are
    /// skipped, flagged `damaged_rows` and told ([`ExportObserver::note`]).
    #[error(transparent)]
    Read(#[from] crate::store::ReadError),
    /// A range with too many periods.
    #[error("range {from} to {to} holds {periods} periods, more than one export takes ({max}): narrow --from/--to or use a longer period", max = MAX_PERIODS)]
    RangeTooWide {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
        /// Periods it would hold.
        periods: i64,
    },
    /// `from` is after `to`.
    #[error("empty range: --from {from} is after --to {to}")]
    EmptyRange {
        /// Start date.
        from: NaiveDate,
        /// End date.
        to: NaiveDate,
    },
    /// A local midnight that does not exist (never in Europe/Paris).
    #[error("no local midnight on {0}")]
    Calendar(NaiveDate),
    /// Writing the output failed. The I/O error is kept as the source, so that the caller
    /// can tell a closed pipe (a normal end) from a full disk; encoder errors (CSV, Arrow,
    /// Parquet) that are not I/O are wrapped as [`std::io::ErrorKind::Other`].
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
}

/// How an export reads the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// The per-day summary index where valid, the files otherwise (see the module doc).
    #[default]
    Index,
    /// Every row of the range; the index is neither read nor written.
    Scan,
}

/// How [`ReadMode::Index`] got a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayRead {
    /// From its summary (in the index, or in its Parquet file's footer): no row was read.
    Index,
    /// It had no valid summary: its files were read in full to build one (stored when
    /// possible), then fed from it (or read once more when a guard fires in it).
    Built,
    /// Its files were read in full, its summary being valid but unusable (a guard fires).
    Full,
}

/// What to export.
#[derive(Clone, Debug)]
pub struct Options {
    /// Period length.
    pub period: Period,
    /// First local day (default: the first recorded day).
    pub from: Option<NaiveDate>,
    /// Last local day, inclusive (default: the last recorded day).
    pub to: Option<NaiveDate>,
    /// How to read.
    pub mode: ReadMode,
}

/// Progress of an export; the library calls it, the binary shows it.
pub trait ExportObserver {
    /// The export is about to read `files` files holding `bytes` bytes in all.
    fn start(&mut self, _files: usize, _bytes: u64) {}
    /// One more file has been read (wholly or by seeking); `bytes` is its size.
    fn file_done(&mut self, _path: &Path, _bytes: u64) {}
    /// [`ReadMode::Index`] got the files of `day` as `how` says.
    fn day_read(&mut self, _day: NaiveDate, _how: DayRead) {}
    /// Something the user may want to know that does not stop the export (the index cannot
    /// be written).
    fn note(&mut self, _message: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl ExportObserver for Quiet {}
