//! Where the seed tests cut: triggers over the operations through the seam
//! ([`model::Trigger`]), each placing cuts at a situation a fault showed in (whatever the
//! operations' numbers), and checks that a cut's post-crash data directory shows one.
//!
//! Paths are relative to the model's root: `data/journal/YYYY/MM/YYYY-MM-DD[.N].csv`,
//! `data/records/YYYY/MM/YYYY-MM-DD.parquet`, `data/.tic-rec-tmp/.YYYY-MM-DD.parquet.tmp-…`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use tic_rec::store::fs::Open;

use super::model::{Kind, Op, Trigger};

/// Post-crash states forked at each triggered point of a vfat or journaled cut whose outcome
/// is drawn (each keeps or loses the changes not durable its own way).
const STATES: u32 = 4;

fn under(p: &Path, dir: &str) -> bool {
    p.starts_with(Path::new("data").join(dir))
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e == ext)
}

/// A day's CSV file (a part of it) in `journal/`.
fn journal_csv(p: &Path) -> bool {
    under(p, "journal") && has_ext(p, "csv")
}

/// A day's Parquet file in `records/`.
fn record_parquet(p: &Path) -> bool {
    under(p, "records") && has_ext(p, "parquet")
}

/// The day a file's name starts with (`YYYY-MM-DD…`, or `.YYYY-MM-DD…` for a temporary one).
fn day_of(p: &Path) -> Option<NaiveDate> {
    let name = p.file_name()?.to_str()?;
    let name = name.strip_prefix('.').unwrap_or(name);
    NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()
}

/// Opened to be written (the store tries `CreateNew`, then `Append`).
fn opened_to_write(op: &Op<'_>) -> bool {
    matches!(op.kind, Kind::Open(Open::Append | Open::CreateNew))
}

/// Before the fsyncs of a journal CSV file with rows written since its last one, after a
/// journal CSV file was removed (an archived day's): past the file's durable length, vfat
/// may show what the clusters held before — the removed file's rows. Rows come faster than
/// the fsync interval (cadences of 1 to 10 s) for whole rows to fit in the bytes not
/// durable: the first three fsyncs after a removal with at least [`ROWS_PENDING`] writes
/// pending.
pub fn fsyncs_after_csv_files_removed() -> Trigger {
    let mut left = 0u32;
    let mut pending: HashMap<PathBuf, u32> = HashMap::new();
    Box::new(move |op| {
        if !journal_csv(op.path) {
            return 0;
        }
        match op.kind {
            Kind::Remove => left = 6,
            Kind::Write => *pending.entry(op.path.to_path_buf()).or_insert(0) += 1,
            Kind::Sync => {
                let n = pending.remove(op.path).unwrap_or(0);
                if n >= ROWS_PENDING && left > 0 {
                    left -= 1;
                    return STATES;
                }
            }
            _ => {}
        }
        0
    })
}

/// Writes (rows) pending in a file for [`fsyncs_after_csv_files_removed`].
const ROWS_PENDING: u32 = 4;

/// Before the operation after a conversion's CSV files were removed and their directory
/// fsynced (their removal durable), the day's Parquet file renamed into `records/` before.
pub fn after_csv_files_removed() -> Trigger {
    // The day renamed in; whether one of its CSV files was removed since; whether that
    // removal was made durable (cut before the next operation).
    let mut renamed: Option<NaiveDate> = None;
    let mut removed = false;
    let mut armed = false;
    Box::new(move |op| {
        if armed {
            armed = false;
            return STATES;
        }
        match op.kind {
            Kind::Rename if op.to.is_some_and(record_parquet) => {
                renamed = op.to.and_then(day_of);
                removed = false;
            }
            Kind::Remove if journal_csv(op.path) && renamed == day_of(op.path) => removed = true,
            Kind::SyncDir if removed && under(op.path, "journal") => {
                armed = true;
                renamed = None;
                removed = false;
            }
            _ => {}
        }
        0
    })
}

/// Before the operation after each rename of a conversion's Parquet file into `records/`
/// (on vfat: its new entry may still hold no cluster).
pub fn after_parquet_renamed() -> Trigger {
    let mut armed = false;
    Box::new(move |op| {
        let cut = std::mem::replace(&mut armed, false);
        if op.kind == Kind::Rename && op.to.is_some_and(record_parquet) {
            armed = true;
        }
        if cut {
            // The new entry left empty is one state in 8 (kept with p, unwritten with
            // 1 - p): 16 states a rename.
            4 * STATES
        } else {
            0
        }
    })
}

/// Before the operation after each rename of a conversion's Parquet file over a day's
/// Parquet file already in `records/` (a day archived again: rows recorded for it after its
/// archiving). On vfat a rename over a file gives that file up at once, while the renamed
/// entry may hold no cluster until the new file's inode is written.
pub fn after_a_day_file_replaced() -> Trigger {
    let mut armed = false;
    let mut renamed_in: HashSet<PathBuf> = HashSet::new();
    Box::new(move |op| {
        let cut = std::mem::replace(&mut armed, false);
        if op.kind == Kind::Rename {
            if let Some(to) = op.to.filter(|to| record_parquet(to)) {
                armed = !renamed_in.insert(to.to_path_buf());
            }
        }
        if cut {
            // As after a conversion's rename: the new entry left empty is one state in 8.
            4 * STATES
        } else {
            0
        }
    })
}

/// Before the operation after each rename of a day file into `records/` or `journal/` while
/// a directory of the layout before is moved (`store::migrate`, which runs before the store
/// writes any row): on vfat the renamed file's new entry may still hold no cluster until the
/// file's inode is written (its fsync under the new name).
pub fn after_a_move_renamed_in() -> Trigger {
    let mut armed = false;
    // Rows written to the journal: the move is over (a rename into `records/` since is a
    // conversion's).
    let mut writing = false;
    Box::new(move |op| {
        let cut = std::mem::replace(&mut armed, false);
        if op.kind == Kind::Write && journal_csv(op.path) {
            writing = true;
        }
        if op.kind == Kind::Rename
            && !writing
            && op
                .to
                .is_some_and(|to| record_parquet(to) || journal_csv(to))
        {
            armed = true;
        }
        if cut {
            // As after a conversion's rename: the new entry left empty is one state in 8.
            4 * STATES
        } else {
            0
        }
    })
}

/// Before the store comes back to a part of a day it left for another part of the same day
/// (the meter's clock set back, or forward again: it opens the part left again, if only to
/// look at it), or before that day's conversion (its Parquet file created in
/// `.tic-rec-tmp/`), whichever comes first: rows written to the part left and not fsynced
/// then are durable only if the store fsynced it as it left it. The first [`PARTS_LEFT`]
/// parts left.
pub fn before_a_part_left_is_opened_again() -> Trigger {
    // The file last written; the parts left since they were written; cuts so far.
    let mut written: Option<PathBuf> = None;
    let mut left: HashSet<PathBuf> = HashSet::new();
    let mut cuts = 0;
    Box::new(move |op| {
        let mut cut = false;
        if journal_csv(op.path) {
            if matches!(op.kind, Kind::Open(_)) {
                cut = left.remove(op.path);
            }
            if op.kind == Kind::Write {
                written = Some(op.path.to_path_buf());
            } else if opened_to_write(op) {
                if let Some(w) = written.take_if(|w| {
                    w.as_path() != op.path && day_of(w).is_some() && day_of(w) == day_of(op.path)
                }) {
                    left.insert(w);
                }
            }
        } else if op.kind == Kind::Open(Open::CreateNew) && under(op.path, ".tic-rec-tmp") {
            let day = day_of(op.path);
            let before = left.len();
            left.retain(|p| day_of(p) != day);
            cut = left.len() < before;
        }
        if cut && cuts < PARTS_LEFT {
            cuts += 1;
            return 1;
        }
        0
    })
}

/// Parts left cut at by [`before_a_part_left_is_opened_again`].
const PARTS_LEFT: u32 = 12;

/// The CSV files of a data directory, with their day.
fn journal_files(data: &Path) -> Vec<(PathBuf, NaiveDate)> {
    crate::common::files_named(&data.join("journal"), ".csv")
        .into_iter()
        .filter_map(|p| Some((day_of(&p)?, p)))
        .map(|(d, p)| (p, d))
        .collect()
}

/// Whether a day's CSV file holds a whole row (a line of its header's width, ended) of
/// another day: a removed file's bytes shown past the last fsync.
pub fn rows_of_another_day(data: &Path) -> bool {
    journal_files(data).into_iter().any(|(p, day)| {
        let Ok(bytes) = std::fs::read(&p) else {
            return false;
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut lines = text.split_inclusive('\n');
        let Some(header) = lines.next() else {
            return false;
        };
        let width = header.split(',').count();
        let day = day.format("%Y-%m-%d").to_string();
        lines.any(|l| {
            l.ends_with('\n')
                && l.trim_end().split(',').count() == width
                && l.get(..10).is_some_and(|d| d != day && d.starts_with("20"))
        })
    })
}

/// Whether a day's Parquet file in `records/` is empty while CSV files of its day remain.
pub fn empty_parquet_beside_csv(data: &Path) -> bool {
    let csv_days: HashSet<NaiveDate> = journal_files(data).into_iter().map(|(_, d)| d).collect();
    crate::common::files_named(&data.join("records"), ".parquet")
        .iter()
        .any(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.len() == 0)
                && day_of(p).is_some_and(|d| csv_days.contains(&d))
        })
}

/// Whether a day file moved into `records/` or `journal/` is empty under its new name (vfat:
/// its entry given no cluster yet).
pub fn an_empty_moved_file(data: &Path) -> bool {
    let day_files = |dir: &str, ext: &str| crate::common::files_named(&data.join(dir), ext);
    day_files("records", ".parquet")
        .into_iter()
        .chain(day_files("journal", ".csv"))
        .any(|p| day_of(&p).is_some() && std::fs::metadata(&p).is_ok_and(|m| m.len() == 0))
}

/// Whether a day's Parquet file in `records/` is empty while the copy of the file it
/// replaced is kept in `.tic-rec-tmp/` (`YYYY-MM-DD.parquet.kept`): the rows the old file
/// alone held are there only.
pub fn kept_beside_an_empty_day_file(data: &Path) -> bool {
    crate::common::files_named(&data.join(".tic-rec-tmp"), ".parquet.kept")
        .iter()
        .filter_map(|p| day_of(p))
        .any(|day| {
            let name = format!("{day}.parquet");
            crate::common::files_named(&data.join("records"), ".parquet")
                .iter()
                .any(|p| p.ends_with(&name) && std::fs::metadata(p).is_ok_and(|m| m.len() == 0))
        })
}
