//! Moving a data directory from the layout before (`<dir>/YYYY/MM/` holding the CSV days,
//! the Parquet days and the raw bytes side by side) to the layout of [`super::layout`]:
//! CSV days and raw bytes to `journal/YYYY/MM/`, Parquet days to `records/YYYY/MM/`. The
//! first `tic-rec record` or `tic-rec compact` that opens such a directory does it, holding
//! the directory's lock ([`super::DirLock`]), before anything else.
//!
//! ## Steps, each durable before the next
//! For each file of each `<dir>/YYYY/MM/`, in order:
//! 1. a temporary file of a conversion (`.YYYY-MM-DD.parquet.tmp-…`, left by a crash: no
//!    conversion runs while the lock is held) is removed;
//! 2. a day file is moved: its target month directory is created (each new directory's
//!    parent fsynced); a copy is written in `.tic-rec-tmp/`, fsynced, renamed to its place,
//!    fsynced again under that name, the target directory and `.tic-rec-tmp/` fsynced; then
//!    the old file is removed and its directory fsynced;
//! 3. any other file is left where it is (and so are its directories).
//!
//! Then each emptied `YYYY/MM` and `YYYY` directory is removed and its parent fsynced.
//!
//! ## Why a crash at any point loses nothing
//! The old file stays whole until its copy is durable under the new name: a copy, not a
//! rename of the file itself, because on vfat a renamed file's new entry holds no cluster
//! until the file's inode is written, and the old entry is deleted apart, so a power cut
//! between a rename and the file's fsync could leave neither name holding the bytes (the
//! power-cut model of `tests/powercut` found it). A cut during a move leaves the old file and,
//! under the new name, nothing, an empty file (vfat), or the whole copy; the next run (the
//! move is idempotent) removes the old name when the new one holds the same bytes, moves over
//! an empty new one, and keeps both, said, when they differ (nothing is overwritten). Readers
//! read both layouts at once ([`super::Catalog`]): a day whose files are split between them
//! is still one day, read once — a Parquet day found under both names is read from
//! `records/`, a CSV file found under both has the same rows, which the reader of a day reads
//! once. A crash therefore leaves every day readable exactly once, and the next run finishes
//! the job: a directory in the new layout has nothing to move.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::Datelike;

use super::error::StoreError;
use super::fs::{create_dirs, parent_of, Failed, Fs, Open};
use super::layout::{journal_dir, month_dir, parse_file_name, records_dir, DayFileName};
use super::lock::DirLock;
use super::replace::copy_in;

/// What a move did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// Day files moved.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Stale temporary files of conversions removed.
    pub temps: usize,
    /// Day files found under both names with the same bytes (a crash during a rename on a
    /// filesystem whose rename is not atomic): the old name removed.
    pub twice: usize,
    /// Day files found under both names with other bytes: both kept (the old ones listed).
    pub conflicts: Vec<PathBuf>,
    /// Other files left in the old month directories.
    pub left: Vec<PathBuf>,
}

impl Moved {
    /// Whether anything was there to move.
    pub fn anything(&self) -> bool {
        self.files + self.temps + self.twice > 0 || !self.conflicts.is_empty()
    }
}

fn failed(f: Failed) -> StoreError {
    StoreError::Io {
        op: f.op,
        path: f.path,
        source: f.source,
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The `YYYY/MM` directories of the layout before under `dir`, in order.
fn old_months(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let digits = |e: &fs::DirEntry, n: usize| {
        let name = e.file_name();
        name.to_str()
            .is_some_and(|s| s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
            && e.file_type().is_ok_and(|t| t.is_dir())
    };
    let mut out = Vec::new();
    for year in fs::read_dir(dir).map_err(io("cannot list", dir))? {
        let year = year.map_err(io("cannot list", dir))?;
        if !digits(&year, 4) {
            continue;
        }
        let ypath = year.path();
        for month in fs::read_dir(&ypath).map_err(io("cannot list", &ypath))? {
            let month = month.map_err(io("cannot list", &ypath))?;
            if digits(&month, 2) {
                out.push(month.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether the files `a` and `b` hold the same bytes.
fn same_bytes(fs: &dyn Fs, a: &Path, b: &Path) -> Result<bool, StoreError> {
    let mut fa = fs.open(a, Open::Read).map_err(io("cannot open", a))?;
    let mut fb = fs.open(b, Open::Read).map_err(io("cannot open", b))?;
    if fa.size().map_err(io("cannot stat", a))? != fb.size().map_err(io("cannot stat", b))? {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa.read(&mut x).map_err(io("cannot read", a))?;
        let m = read_exact_up_to(&mut *fb, &mut y[..n]).map_err(io("cannot read", b))?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_exact_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Moves `dir` from the layout before to the one of [`crate::store`] (see this module's docs),
/// through `fs`; the caller holds the directory's lock. Returns what it did (nothing, for a
/// directory in the new layout).
pub fn migrate(fs: &dyn Fs, dir: &Path, _lock: &DirLock) -> Result<Moved, StoreError> {
    let mut out = Moved::default();
    for month in old_months(dir)? {
        let mut names: Vec<(String, PathBuf)> = Vec::new();
        for e in fs::read_dir(&month).map_err(io("cannot list", &month))? {
            let e = e.map_err(io("cannot list", &month))?;
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                out.left.push(e.path());
                continue;
            }
            names.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
        names.sort();
        for (name, path) in names {
            let target_tree = match what(dir, &month, &name) {
                Some(What::Temp) => {
                    fs.remove_file(&path).map_err(io("cannot remove", &path))?;
                    fs.sync_dir(&month)
                        .map_err(io("cannot fsync directory", &month))?;
                    out.temps += 1;
                    continue;
                }
                Some(What::Journal(day)) => (journal_dir(dir), day),
                Some(What::Records(day)) => (records_dir(dir), day),
                None => {
                    out.left.push(path);
                    continue;
                }
            };
            let (target_tree, day) = target_tree;
            let target_dir = month_dir(&target_tree, day);
            let target = target_dir.join(&name);
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            create_dirs(fs, &target_dir).map_err(failed)?;
            match fs.open(&target, Open::Read) {
                // Renamed in by a move a power cut stopped before the file's fsync: on vfat its
                // new entry may hold no cluster yet (0 bytes) while the old file is whole.
                Ok(f) if f.size().map_err(io("cannot stat", &target))? == 0 && len > 0 => {
                    fs.remove_file(&target)
                        .map_err(io("cannot remove", &target))?;
                }
                Ok(_) if same_bytes(fs, &path, &target)? => {
                    // Left under both names by a crash during a rename: the moved copy is
                    // durable (its directory is synced now), the old name goes.
                    fs.sync_dir(&target_dir)
                        .map_err(io("cannot fsync directory", &target_dir))?;
                    fs.remove_file(&path).map_err(io("cannot remove", &path))?;
                    fs.sync_dir(&month)
                        .map_err(io("cannot fsync directory", &month))?;
                    out.twice += 1;
                    continue;
                }
                Ok(_) => {
                    out.conflicts.push(path);
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("cannot open", &target)(e)),
            }
            copy_in(fs, dir, day, &path, &target).map_err(failed)?;
            fs.remove_file(&path).map_err(io("cannot remove", &path))?;
            fs.sync_dir(&month)
                .map_err(io("cannot fsync directory", &month))?;
            out.files += 1;
            out.bytes += len;
        }
        remove_if_empty(fs, &month)?;
        remove_if_empty(fs, parent_of(&month))?;
    }
    Ok(out)
}

/// What a file of an old month directory is.
enum What {
    /// A conversion's temporary file.
    Temp,
    /// A CSV day file or raw bytes (`YYYY-MM-DD.tic`) of this day: to the journal.
    Journal(chrono::NaiveDate),
    /// A Parquet day: to the records.
    Records(chrono::NaiveDate),
}

/// What the file `name` of the old month directory `month` of `dir` is; `None` for a file
/// that is not a day file of that month (left where it is).
fn what(dir: &Path, month: &Path, name: &str) -> Option<What> {
    let w = match parse_file_name(name) {
        Some(DayFileName::Temp(_)) => return Some(What::Temp),
        Some(DayFileName::Csv(d, _)) => What::Journal(d),
        Some(DayFileName::Parquet(d)) => What::Records(d),
        None => {
            let stem = name.strip_suffix(".tic")?;
            let d = chrono::NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()?;
            if stem.len() != 10 || d.year() < 1 {
                return None;
            }
            What::Journal(d)
        }
    };
    let day = match w {
        What::Journal(d) | What::Records(d) => d,
        What::Temp => return Some(w),
    };
    // Only where the recorder put it: the YYYY/MM of its own day.
    (month_dir(dir, day) == month).then_some(w)
}

/// Removes `dir` when it is empty (and fsyncs its parent); leaves it otherwise.
fn remove_if_empty(fs: &dyn Fs, dir: &Path) -> Result<(), StoreError> {
    let empty = match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("cannot list", dir)(e)),
    };
    if !empty {
        return Ok(());
    }
    match fs.remove_dir(dir) {
        Ok(()) => {}
        // Something came meanwhile, or it is gone: leave it.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            return Ok(())
        }
        Err(e) => return Err(io("cannot remove", dir)(e)),
    }
    let parent = parent_of(dir);
    fs.sync_dir(parent)
        .map_err(io("cannot fsync directory", parent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::testing::{in_order, Op, Probe};
    use crate::store::fs::RealFs;

    fn put(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }

    fn tree(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).expect("list") {
                let e = e.expect("entry");
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .expect("under")
                    .display()
                    .to_string();
                if e.file_type().expect("type").is_dir() {
                    stack.push(e.path());
                    out.push(format!("{rel}/"));
                } else {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn moves_every_day_file_to_its_tree_and_leaves_the_rest() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path();
        put(dir, "2026/01/2026-01-01.csv", "a");
        put(dir, "2026/01/2026-01-01.1.csv", "b");
        put(dir, "2026/01/2026-01-01.tic", "raw");
        put(dir, "2026/01/2026-01-02.parquet", "pq");
        put(dir, "2026/01/.2026-01-03.parquet.tmp-9-1", "stale");
        put(dir, "2026/02/2026-02-01.csv", "c");
        put(dir, "2026/02/notes.txt", "mine");
        put(dir, "2026/03/2026-01-05.csv", "misplaced");
        put(dir, ".tic-rec-index/2026/01/2026-01-01.csv.idx", "idx");
        let lock = DirLock::acquire(dir, "test").expect("lock");
        let moved = migrate(&RealFs, dir, &lock).expect("migrate");
        assert_eq!(
            (moved.files, moved.temps, moved.twice),
            (5, 1, 0),
            "{moved:?}"
        );
        assert_eq!(moved.left.len(), 2, "{moved:?}");
        let all = tree(dir);
        for want in [
            "journal/2026/01/2026-01-01.csv",
            "journal/2026/01/2026-01-01.1.csv",
            "journal/2026/01/2026-01-01.tic",
            "records/2026/01/2026-01-02.parquet",
            "journal/2026/02/2026-02-01.csv",
            "2026/02/notes.txt",
            "2026/03/2026-01-05.csv",
            ".tic-rec-index/2026/01/2026-01-01.csv.idx",
        ] {
            assert!(all.contains(&want.to_owned()), "{want} in {all:#?}");
        }
        assert!(!all.contains(&"2026/01/".to_owned()), "{all:#?}");
        assert_eq!(
            fs::read_to_string(dir.join("journal/2026/01/2026-01-01.1.csv")).expect("read"),
            "b"
        );
        // Idempotent.
        let again = migrate(&RealFs, dir, &lock).expect("again");
        assert!(!again.anything(), "{again:?}");
        assert_eq!(tree(dir), all);
    }

    /// A file under both names (a crash between the two steps of a non-atomic rename): the
    /// same bytes, the old name goes; other bytes, both stay.
    #[test]
    fn a_file_left_under_both_names_is_never_lost() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path();
        put(dir, "2026/01/2026-01-01.csv", "same");
        put(dir, "journal/2026/01/2026-01-01.csv", "same");
        put(dir, "2026/01/2026-01-02.parquet", "old");
        put(dir, "records/2026/01/2026-01-02.parquet", "new");
        let lock = DirLock::acquire(dir, "test").expect("lock");
        let moved = migrate(&RealFs, dir, &lock).expect("migrate");
        assert_eq!(moved.twice, 1);
        assert_eq!(moved.conflicts, [dir.join("2026/01/2026-01-02.parquet")]);
        assert!(!dir.join("2026/01/2026-01-01.csv").exists());
        assert_eq!(
            fs::read_to_string(dir.join("2026/01/2026-01-02.parquet")).expect("r"),
            "old"
        );
        assert_eq!(
            fs::read_to_string(dir.join("records/2026/01/2026-01-02.parquet")).expect("r"),
            "new"
        );
    }

    /// An empty file under the new name beside a whole one under the old (vfat: a power cut
    /// between a rename and the renamed file's fsync) is no copy: moved over, never kept as a
    /// conflict.
    #[test]
    fn an_empty_file_under_the_new_name_is_moved_over() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path();
        put(dir, "2026/01/2026-01-02.parquet", "whole");
        put(dir, "records/2026/01/2026-01-02.parquet", "");
        let lock = DirLock::acquire(dir, "test").expect("lock");
        let moved = migrate(&RealFs, dir, &lock).expect("migrate");
        assert_eq!((moved.files, moved.conflicts.len()), (1, 0), "{moved:?}");
        assert!(!dir.join("2026/01/2026-01-02.parquet").exists());
        assert_eq!(
            fs::read_to_string(dir.join("records/2026/01/2026-01-02.parquet")).expect("r"),
            "whole"
        );
    }

    /// Each move is durable before the next: the target directory exists (its parent
    /// synced), a copy is written aside, fsynced, renamed in and fsynced under its name, the
    /// target directory and the temporary one fsynced, and only then the old file removed and
    /// its directory fsynced, before the next file is touched (never a rename of the file
    /// itself: vfat, the power-cut model).
    #[test]
    fn each_move_is_durable_before_the_next() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path();
        put(dir, "2026/01/2026-01-01.csv", "a");
        put(dir, "2026/01/2026-01-02.parquet", "b");
        let lock = DirLock::acquire(dir, "test").expect("lock");
        let probe = Probe::new();
        migrate(&probe, dir, &lock).expect("migrate");
        let log = probe.take_log();
        let old = dir.join("2026/01");
        let j = dir.join("journal/2026/01");
        let r = dir.join("records/2026/01");
        let tmp = dir.join(".tic-rec-tmp");
        let (t1, t2) = (
            tmp.join(".2026-01-01.parquet.tmp-move"),
            tmp.join(".2026-01-02.parquet.tmp-move"),
        );
        let steps = [
            Op::CreateDir(j.clone()),
            Op::Open(t1.clone(), Open::CreateNew),
            Op::SyncAll(t1.clone()),
            Op::Rename(t1.clone(), j.join("2026-01-01.csv")),
            // The handle is the temporary file's, now named in the journal.
            Op::SyncAll(t1.clone()),
            Op::SyncDir(j.clone()),
            Op::SyncDir(tmp.clone()),
            Op::Remove(old.join("2026-01-01.csv")),
            Op::SyncDir(old.clone()),
            Op::CreateDir(r.clone()),
            Op::Open(t2.clone(), Open::CreateNew),
            Op::SyncAll(t2.clone()),
            Op::Rename(t2.clone(), r.join("2026-01-02.parquet")),
            Op::SyncAll(t2.clone()),
            Op::SyncDir(r.clone()),
            Op::SyncDir(tmp.clone()),
            Op::Remove(old.join("2026-01-02.parquet")),
            Op::SyncDir(old.clone()),
            Op::RemoveDir(old.clone()),
            Op::SyncDir(dir.join("2026")),
            Op::RemoveDir(dir.join("2026")),
            Op::SyncDir(dir.to_path_buf()),
        ];
        in_order(&log, &steps);
    }
}
