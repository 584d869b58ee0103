//! The data directory: the daily files in both encodings (layout, append, durability,
//! start-up repair), the one reader of days, the archive, the caches beside the days, and
//! the one seam every durable file operation goes through.
//!
//! `store` is the only module that knows the directory's layout and formats: the recorder
//! appends through [`Store`] (holding [`DirLock`]); the archive converts closed days
//! ([`archive`]); everything else (export, cost, the dashboard, the demo, what comes next)
//! reads days through [`Catalog`] (which days have which files) and [`DayReader`] (a day's
//! rows, from whichever files readers use: [`Resolved`]), and keeps its day summaries
//! through [`SummaryCache`] and the archived day's footer ([`SUMMARY_KEY`]). Writes that
//! must survive a power cut go through [`fs::Fs`].
//!
//! ## Inside
//! The submodules are private; this module re-exports what others use, and none of them
//! imports it. Each imports only those below it (no cycle; checked by a test):
//! ```text
//! archive    the job and the conversions      -> compact catalog parquet source error fs layout
//! compact    one day's conversion             -> read catalog csv parquet row source digest
//!                                                 summaries error fs layout
//! read       a day's files merged (DayReader) -> catalog csv parquet row source error layout
//! csv        one CSV file read                -> source digest error text layout
//! parquet    one Parquet file read, written   -> row source digest error text packed fs
//!                                                 layout
//! periods    the periods dataset's files      -> error packed fs layout
//! migrate    the move from the layout before  -> lock error fs layout
//! catalog    which days have which files      -> error layout
//! writer     appending rows (Store)           -> error fs text layout
//! lock       the directory's lock (DirLock)   -> error fs layout
//! summaries  the export's cache (SummaryCache)-> error packed fs layout
//! tariffs    fetched tables (TariffTables)    -> fs layout
//! row        cells, columns, what comes next  -> text
//! source     what identifies a file (Stamp)   -> digest
//! error      ReadError, StoreError, Damage    -> fs layout
//! text       cells and times as text          -> layout
//! digest, packed (footer texts compressed), fs (the durable-write seam), layout (paths,
//! names, formats): nothing in store
//! ```
//!
//! ## On-disk layout
//! ```text
//! <data-dir>/journal/YYYY/MM/YYYY-MM-DD.csv     records of one local (Europe/Paris) day
//! <data-dir>/journal/YYYY/MM/YYYY-MM-DD.N.csv   the N-th file of that day after a column change
//! <data-dir>/journal/YYYY/MM/YYYY-MM-DD.tic     raw TIC bytes of that day (with --raw)
//! <data-dir>/records/YYYY/MM/YYYY-MM-DD.parquet the archived day: every row of its CSV files
//! <data-dir>/periods/YYYY/YYYY-MM.parquet       the hours of the month's closed days
//!                                               ([`periods`]; what a row says is the export's)
//! <data-dir>/.tic-rec-tmp/                      a conversion or a month in progress (never read),
//!                                               and a day file's copy while it is replaced
//! <data-dir>/.tic-rec.lock                      held by the one recorder writing here
//! <data-dir>/.tic-rec-index/YYYY/MM/YYYY-MM-DD.csv.idx   the day's summary, cached for
//!                                               the export ([`SummaryCache`])
//! <data-dir>/.tic-rec-tariffs/…                prices and Tempo colours fetched by `tic-rec
//!                                               tariffs update` ([`TariffTables`])
//! <data-dir>/YYYY/MM/…                          the layout before: read as it is, and moved to
//!                                               the one above by the first `record` or
//!                                               `compact` that opens it ([`migrate`])
//! ```
//! `records/` and `periods/` hold Parquet files and nothing else, so that any engine can be
//! pointed at them while the recorder writes beside them: everything being written goes to
//! `.tic-rec-tmp/` first, and is renamed in. The day being recorded is always CSV (the
//! append-only journal); a closed day is converted to Parquet ([`archive`], which describes
//! the format): typed columns (`time` an instant, `meter_id`, indexes and powers Int64, text
//! dictionary-encoded), zstd, the day's metadata (sources, digests, damaged rows) packed in
//! the footer.
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
//! - A file holds rows of its own day only. Read as a day's file, a row of another local day
//!   is damaged (skipped and reported): after a power cut, FAT (vfat) may show a length
//!   written before its data, the clusters' old contents past the last fsync — often the
//!   rows of a day archived and removed. The recorder does not append after such a line.
//! - A file's header never changes. When the recorder starts with other columns than today's
//!   file has (a contract change, new `--labels`), it opens `YYYY-MM-DD.1.csv` (then `.2`…)
//!   for that day, so no row is ever misaligned with its header. A file whose last line is
//!   not a record of its header (a garbage line) is left as it is, and another part is used.
//!
//! ## Durability promise
//! - Every row is written with one `write` call, whole, and handed to the OS at once.
//! - `fsync` (`sync_data`) at least every `--fsync-interval` (10 s by default), when a file
//!   is left (a new day, or another part of the day) and at shutdown; a new file and its
//!   directory are fsynced when created.
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
//! - A conversion writes a temporary file (in `.tic-rec-tmp/`), fsyncs it, reads it back and verifies it (rows,
//!   first and last time, a digest of every stored column and of every cell's text against
//!   the CSV), renames it to `YYYY-MM-DD.parquet`, fsyncs it under that name and the
//!   directory (vfat writes a renamed file's cluster and length only with its inode), and
//!   only then removes the CSV files, then fsyncs the directory again. An empty
//!   `YYYY-MM-DD.parquet` beside CSV files (vfat, cut between the rename and that fsync) holds
//!   no row: the next conversion converts the CSV files over it, and `record` and `compact`
//!   remove it at start ([`recover`]), so that no reader pointed at `records/` meets it.
//! - A day archived again replaces its Parquet file: the old one is first copied to
//!   `.tic-rec-tmp/YYYY-MM-DD.parquet.kept` (fsynced, its directory too) and that copy is
//!   removed once the new file is durable under its name; on vfat a rename over a file gives
//!   it up at once, so a cut between the rename and the new file's fsync would otherwise
//!   lose the rows the old file alone held. A copy a cut left beside an empty day file is put
//!   back at start ([`recover`]) and before the day is converted again; beside a whole one it
//!   is removed.
//! - A CSV file created just before a cut can show, on vfat, its length but not its bytes
//!   (what its clusters held): a first line that is not text, in a file holding no row, is
//!   read as an empty file, and the recorder gives it its header again; a first line that is
//!   not text before rows is an error naming the file.
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

pub mod archive;
mod catalog;
mod compact;
mod csv;
mod digest;
mod error;
pub mod fs;
mod layout;
mod lock;
mod migrate;
mod packed;
mod parquet;
pub mod periods;
mod read;
mod replace;
mod row;
mod source;
mod summaries;
mod tariffs;
mod text;
mod writer;

// Recording: the writer of the day files and the directory's lock.
pub use lock::DirLock;
pub use migrate::{migrate, Moved};
pub use replace::{recover, Recovered};
pub use writer::{
    Appended, Resumed, Store, StoreEvent, MAX_HELD_BYTES, MAX_HELD_ROWS, OVERLAP, RETRY,
};
// The layout, as far as others need it: the local day of a record, a day's first file, what
// a cell holds.
pub use layout::{
    cell, day_file, is_numeric_label, local_day, midnight, parse_day_file_name, TimeSource,
    LOCK_FILE, TZ,
};
// Reading days.
pub use catalog::{day_files, Catalog, DayFiles, FileEntry};
pub use error::{Damage, DamagedRow, DecodeError, Position, ReadError, StoreError};
pub use parquet::ParquetDay;
pub use read::{DayReader, Resolved};
pub use row::{Cell, Columns, Encoding, Next};
pub use text::parse_int;
// The day summaries kept for the export.
pub use parquet::SUMMARY_KEY;
pub use source::Stamp;
pub use summaries::SummaryCache;
// The price grids and Tempo colours fetched by `tic-rec tariffs update`.
pub use tariffs::{Generation as TariffGeneration, TariffStoreError, TariffTables};

#[cfg(test)]
mod tests {
    /// The sources of the submodules, without their tests.
    const SOURCES: &[(&str, &str)] = &[
        ("archive", include_str!("archive.rs")),
        ("catalog", include_str!("catalog.rs")),
        ("compact", include_str!("compact.rs")),
        ("csv", include_str!("csv.rs")),
        ("digest", include_str!("digest.rs")),
        ("error", include_str!("error.rs")),
        ("fs", include_str!("fs.rs")),
        ("layout", include_str!("layout.rs")),
        ("lock", include_str!("lock.rs")),
        ("migrate", include_str!("migrate.rs")),
        ("packed", include_str!("packed.rs")),
        ("parquet", include_str!("parquet.rs")),
        ("periods", include_str!("periods.rs")),
        ("read", include_str!("read.rs")),
        ("replace", include_str!("replace.rs")),
        ("row", include_str!("row.rs")),
        ("source", include_str!("source.rs")),
        ("summaries", include_str!("summaries.rs")),
        ("tariffs", include_str!("tariffs.rs")),
        ("text", include_str!("text.rs")),
        ("writer", include_str!("writer.rs")),
    ];

    /// The submodules a module's code (comments and test modules left out) names through
    /// `super::` or `crate::store::`; `"mod"` for a name of this module's own (the facade).
    fn imports(code: &str) -> Vec<String> {
        let tests = code.match_indices("#[cfg(test)]\n").find(|(i, t)| {
            let next = code[i + t.len()..].lines().next().unwrap_or("");
            next.trim_start().starts_with("mod ") || next.contains(" mod ")
        });
        let code = &code[..tests.map_or(code.len(), |(i, _)| i)];
        let mut out = Vec::new();
        for line in code.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for prefix in ["super::", "crate::store::"] {
                for (i, _) in line.match_indices(prefix) {
                    let rest = &line[i + prefix.len()..];
                    let mut names = vec![rest];
                    if let Some(group) = rest.strip_prefix('{') {
                        names = group.split(',').map(str::trim).collect();
                    }
                    for n in names {
                        let word: String = n
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        let module = SOURCES.iter().any(|(m, _)| *m == word);
                        out.push(if module { word } else { "mod".to_owned() });
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn the_module_graph_has_no_cycle_and_no_submodule_imports_the_facade() {
        let graph: Vec<(&str, Vec<String>)> = SOURCES
            .iter()
            .map(|(m, code)| (*m, imports(code)))
            .collect();
        for (m, deps) in &graph {
            assert!(
                !deps.iter().any(|d| d == "mod"),
                "{m} imports the facade: {deps:?}"
            );
        }
        // Remove modules that import nothing left, until none is left (else: a cycle).
        let mut left: Vec<(&str, Vec<String>)> = graph.clone();
        while !left.is_empty() {
            let leaves: Vec<&str> = left
                .iter()
                .filter(|(m, deps)| {
                    deps.iter()
                        .all(|d| d == m || !left.iter().any(|(n, _)| n == d))
                })
                .map(|(m, _)| *m)
                .collect();
            assert!(!leaves.is_empty(), "a cycle among {left:?}");
            left.retain(|(m, _)| !leaves.contains(m));
        }
        // The graph is the one the module docs draw (a few edges as a check of the parser).
        let deps = |m: &str| graph.iter().find(|(n, _)| *n == m).map(|(_, d)| d.clone());
        assert_eq!(deps("row"), Some(vec!["text".to_owned()]));
        assert_eq!(
            deps("error"),
            Some(vec!["fs".to_owned(), "layout".to_owned()])
        );
        assert_eq!(deps("fs"), Some(vec![]));
    }
}
