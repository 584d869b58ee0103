//! Putting a file in place of another durably, on any filesystem, vfat included.
//!
//! A rename is atomic on ext4, not on vfat: there a renamed file's entry holds no cluster
//! and length 0 until the file's inode is written (its fsync, or writeback up to 30 s
//! later), and a rename over an existing file gives up that file at once. A power cut
//! between a conversion's rename over a day's Parquet file (a day archived again: rows
//! recorded for it after its archiving) and the new file's fsync would leave an empty
//! `YYYY-MM-DD.parquet`: the rows the old file alone held lost (the power-cut model of
//! `tests/powercut` found it, a cut while the recorder restarted, vfat seed 1006).
//!
//! So a file that holds rows is never replaced while it is their only copy:
//! - [`keep_aside`] copies the day's Parquet file to `.tic-rec-tmp/YYYY-MM-DD.parquet.kept`
//!   (fsynced, its directory fsynced) before the conversion renames its new file over it,
//!   and [`drop_kept`] removes the copy once the new file is durable under its name;
//! - [`recover`] (at start, under the directory's lock, after the move from the layout
//!   before) and [`recover_day`] (before a day is converted) finish what a cut left: a kept
//!   copy beside a day file that holds bytes is not needed (the rename was undone, or the
//!   new file is whole: it was fsynced before the rename) and goes; one beside an empty or
//!   missing day file is put back ([`copy_in`]) before it goes. A day file of 0 bytes with no
//!   kept copy holds no row (a first conversion's rename cut the same way, its CSV files
//!   still there) and is removed, so that no reader pointed at `records/` meets it.
//!
//! [`copy_in`] is the move of [`super::migrate`] and the put-back here: a copy written aside
//! and fsynced, renamed in, fsynced again under its new name, then both directories.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::error::StoreError;
use super::fs::{create_dirs, parent_of, Failed, Fs, FsFile, Open};
use super::layout::{
    kept_name, parquet_file, parse_file_name, parse_kept_name, records_dir, temp_dir, temp_name,
    DayFileName,
};
use super::lock::DirLock;

/// What [`recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Days whose Parquet file was put back from its kept copy.
    pub restored: Vec<NaiveDate>,
    /// Kept copies removed, not needed.
    pub dropped: usize,
    /// Day files of 0 bytes removed (they held no row).
    pub empty: Vec<PathBuf>,
}

impl Recovered {
    /// Whether anything was found.
    pub fn anything(&self) -> bool {
        !self.restored.is_empty() || self.dropped > 0 || !self.empty.is_empty()
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Failed + 'a {
    move |source| Failed {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The kept copy of `day`'s Parquet file under the data directory `dir`.
pub fn kept_file(dir: &Path, day: NaiveDate) -> PathBuf {
    temp_dir(dir).join(kept_name(day))
}

/// The length of `path` through `fs`, `None` when there is no such file.
fn len_of(fs: &dyn Fs, path: &Path) -> Result<Option<u64>, Failed> {
    match fs.open(path, Open::Read) {
        Ok(f) => Ok(Some(f.size().map_err(io("cannot stat", path))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("cannot open", path)(e)),
    }
}

/// Removes `path`; gone already is fine.
fn remove_if_there(fs: &dyn Fs, path: &Path) -> Result<(), Failed> {
    match fs.remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("cannot remove", path)(e)),
        _ => Ok(()),
    }
}

/// Removes `path` (gone already is fine) and fsyncs its directory.
fn remove_synced(fs: &dyn Fs, path: &Path) -> Result<(), Failed> {
    remove_if_there(fs, path)?;
    let dir = parent_of(path);
    fs.sync_dir(dir).map_err(io("cannot fsync directory", dir))
}

/// Copies `from` to `to` (created, not there before) and fsyncs it; returns its handle.
fn copy_synced(fs: &dyn Fs, from: &Path, to: &Path) -> Result<Box<dyn FsFile>, Failed> {
    let mut src = fs.open(from, Open::Read).map_err(io("cannot open", from))?;
    let mut dst = fs
        .open(to, Open::CreateNew)
        .map_err(io("cannot create", to))?;
    copy_bytes(&mut *src, from, &mut *dst, to)?;
    dst.sync_all().map_err(io("cannot fsync", to))?;
    Ok(dst)
}

fn copy_bytes(
    src: &mut dyn Read,
    from: &Path,
    dst: &mut dyn Write,
    to: &Path,
) -> Result<(), Failed> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf).map_err(io("cannot read", from))?;
        if n == 0 {
            return Ok(());
        }
        dst.write_all(&buf[..n]).map_err(io("cannot write", to))?;
    }
}

/// Puts a copy of `from` at `to`, durable, before anything removes `from`: written aside in
/// `.tic-rec-tmp/` of the data directory `dir` and fsynced, renamed to `to`, fsynced again
/// under that name, then both directories. Not a rename of `from` itself: on vfat a renamed
/// file's new entry holds no cluster until its inode is written, and the old entry is deleted
/// apart, so a power cut between the rename and the file's fsync could leave neither name
/// holding the bytes (the power-cut model found it); a copy leaves `from` whole until `to` is.
pub(super) fn copy_in(
    fs: &dyn Fs,
    dir: &Path,
    day: NaiveDate,
    from: &Path,
    to: &Path,
) -> Result<(), Failed> {
    let temps = temp_dir(dir);
    create_dirs(fs, &temps)?;
    let temp = temps.join(temp_name(day, "move"));
    // Left by a move a crash stopped (the lock is held: no one else writes it).
    remove_if_there(fs, &temp)?;
    let mut dst = copy_synced(fs, from, &temp)?;
    fs.rename(&temp, to).map_err(io("cannot move", &temp))?;
    // The handle is the temporary file's, now named `to`: its inode written under that name.
    dst.sync_all().map_err(io("cannot fsync", to))?;
    let to_dir = parent_of(to);
    fs.sync_dir(to_dir)
        .map_err(io("cannot fsync directory", to_dir))?;
    fs.sync_dir(&temps)
        .map_err(io("cannot fsync directory", &temps))
}

/// Before a conversion renames its new file over `target`, `day`'s Parquet file holding
/// rows: copies it to its kept name in `temps` (`.tic-rec-tmp/` of its data directory),
/// durable. Returns the copy's path, for [`drop_kept`] once the new file is durable.
pub(super) fn keep_aside(
    fs: &dyn Fs,
    temps: &Path,
    day: NaiveDate,
    target: &Path,
) -> Result<PathBuf, Failed> {
    let kept = temps.join(kept_name(day));
    // One left by a cut was dealt with before the conversion began (`recover_day`): what is
    // here now is not needed (a copy a cut stopped while it was written).
    remove_if_there(fs, &kept)?;
    copy_synced(fs, target, &kept)?;
    fs.sync_dir(temps)
        .map_err(io("cannot fsync directory", temps))?;
    Ok(kept)
}

/// Removes a kept copy once the file that replaced the one it copies is durable under its
/// name (and its directory fsynced), so that a cut never brings it back beside an older day
/// file.
pub(super) fn drop_kept(fs: &dyn Fs, kept: &Path) -> Result<(), Failed> {
    remove_synced(fs, kept)
}

/// Finishes what a cut left of the replacement of `day`'s Parquet file `target`, under the
/// data directory `dir` (see the module's docs). Returns whether the day file was put back.
pub(super) fn recover_day(
    fs: &dyn Fs,
    dir: &Path,
    day: NaiveDate,
    target: &Path,
) -> Result<bool, Failed> {
    let kept = kept_file(dir, day);
    let Some(kept_len) = len_of(fs, &kept)? else {
        return Ok(false);
    };
    let target_len = len_of(fs, target)?.unwrap_or(0);
    let restore = kept_len > 0 && target_len == 0;
    if restore {
        create_dirs(fs, parent_of(target))?;
        copy_in(fs, dir, day, &kept, target)?;
    } else if target_len > 0 {
        // The day file whole now, maybe only in the page cache (the process killed between
        // the rename and the fsync, no power cut): made durable under its name, and both
        // directories of the rename, before the copy goes.
        let mut f = fs
            .open(target, Open::Read)
            .map_err(io("cannot open", target))?;
        f.sync_all().map_err(io("cannot fsync", target))?;
        let target_dir = parent_of(target);
        fs.sync_dir(target_dir)
            .map_err(io("cannot fsync directory", target_dir))?;
        let temps = parent_of(&kept);
        fs.sync_dir(temps)
            .map_err(io("cannot fsync directory", temps))?;
    }
    remove_synced(fs, &kept)?;
    Ok(restore)
}

/// At start, under the directory's lock (`_lock`), after the move from the layout before:
/// every kept copy in `.tic-rec-tmp/` of `dir` dealt with ([`recover_day`]), then every day
/// file of 0 bytes under `records/` removed (it holds no row).
pub fn recover(fs: &dyn Fs, dir: &Path, _lock: &DirLock) -> Result<Recovered, StoreError> {
    let mut out = Recovered::default();
    let temps = temp_dir(dir);
    let mut kept: Vec<NaiveDate> = match std::fs::read_dir(&temps) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| parse_kept_name(e.file_name().to_str()?))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("cannot list", &temps)(e).into()),
    };
    kept.sort();
    for day in kept {
        let target = parquet_file(dir, day);
        if recover_day(fs, dir, day, &target)? {
            out.restored.push(day);
        } else {
            out.dropped += 1;
        }
    }
    for path in empty_day_files(&records_dir(dir))? {
        remove_synced(fs, &path)?;
        out.empty.push(path);
    }
    Ok(out)
}

/// The day files of 0 bytes under `records/YYYY/MM/`, in order.
fn empty_day_files(records: &Path) -> Result<Vec<PathBuf>, Failed> {
    let list = |d: &Path| -> Result<Vec<std::fs::DirEntry>, Failed> {
        match std::fs::read_dir(d) {
            Ok(entries) => Ok(entries.filter_map(Result::ok).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io("cannot list", d)(e)),
        }
    };
    let mut out = Vec::new();
    for year in list(records)? {
        if !year.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        for month in list(&year.path())? {
            if !month.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for f in list(&month.path())? {
                let is_day = f
                    .file_name()
                    .to_str()
                    .is_some_and(|n| matches!(parse_file_name(n), Some(DayFileName::Parquet(_))));
                if is_day && f.metadata().is_ok_and(|m| m.is_file() && m.len() == 0) {
                    out.push(f.path());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::RealFs;
    use std::fs;

    fn put(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, bytes).expect("write");
    }

    /// At start: a kept copy beside an empty day file is put back; one beside a day file
    /// with bytes goes; a day file of 0 bytes with no copy goes; nothing else is touched.
    #[test]
    fn what_a_cut_left_of_a_replacement_is_finished_at_start() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path();
        let day = |n| NaiveDate::from_ymd_opt(2026, 5, n).expect("day");
        // The 1st: the rename kept, its entry emptied: put back.
        put(&parquet_file(dir, day(1)), b"");
        put(&kept_file(dir, day(1)), b"PAR1 old PAR1");
        // The 2nd: the new file whole: the copy goes.
        put(&parquet_file(dir, day(2)), b"PAR1 new PAR1");
        put(&kept_file(dir, day(2)), b"PAR1 old PAR1");
        // The 3rd: an empty day file, no copy (a first archiving's rename, cut).
        put(&parquet_file(dir, day(3)), b"");
        // An empty CSV file and another file of the temporary folder: left.
        let csv = dir.join("journal/2026/05/2026-05-04.csv");
        put(&csv, b"");
        let other = temp_dir(dir).join(".2026-05-04.parquet.tmp-1-2");
        put(&other, b"x");
        // A stray file in records/ (not a year's folder): left, not an error.
        let stray = dir.join("records/README");
        put(&stray, b"notes");
        // The 5th: a copy cut while it was written (0 bytes), no day file: it goes.
        put(&kept_file(dir, day(5)), b"");
        let lock = DirLock::acquire(dir, "test").expect("lock");
        let r = recover(&RealFs, dir, &lock).expect("recover");
        assert_eq!(
            r,
            Recovered {
                restored: vec![day(1)],
                dropped: 2,
                empty: vec![parquet_file(dir, day(3))],
            }
        );
        assert_eq!(
            fs::read(parquet_file(dir, day(1))).expect("1st"),
            b"PAR1 old PAR1"
        );
        assert_eq!(
            fs::read(parquet_file(dir, day(2))).expect("2nd"),
            b"PAR1 new PAR1"
        );
        assert!(!parquet_file(dir, day(3)).exists());
        assert!(!kept_file(dir, day(1)).exists() && !kept_file(dir, day(2)).exists());
        assert!(!kept_file(dir, day(5)).exists() && !parquet_file(dir, day(5)).exists());
        assert!(csv.exists() && other.exists() && stray.exists());
        // Again: nothing left to do.
        let again = recover(&RealFs, dir, &lock).expect("recover");
        assert!(!again.anything(), "{again:?}");
        // A copy beside a whole day file goes only after that file is durable under its
        // name (it may be whole in the page cache alone: a process killed after the rename).
        use crate::store::fs::testing::{Op, Probe};
        put(&kept_file(dir, day(2)), b"PAR1 old PAR1");
        let probe = Probe::new();
        let target = parquet_file(dir, day(2));
        assert!(!recover_day(&probe, dir, day(2), &target).expect("recover"));
        let log = probe.take_log();
        let at = |want: &Op| log.iter().position(|op| op == want);
        let synced = at(&Op::SyncAll(target.clone())).expect("the day file fsynced");
        let dir_synced = at(&Op::SyncDir(dir.join("records/2026/05"))).expect("its directory");
        let removed = at(&Op::Remove(kept_file(dir, day(2)))).expect("the copy removed");
        assert!(synced < removed && dir_synced < removed, "{log:#?}");
        // A directory with no temporary folder and no records: nothing.
        let e = tempfile::tempdir().expect("tempdir");
        let lock = DirLock::acquire(e.path(), "test").expect("lock");
        assert!(!recover(&RealFs, e.path(), &lock)
            .expect("recover")
            .anything());
    }
}
