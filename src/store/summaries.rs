//! The day summaries cached beside the days for their reader (the export): one text per local
//! day, made by the reader from the day's rows, kept in
//! `<data-dir>/.tic-rec-index/YYYY/MM/YYYY-MM-DD.csv.idx` (an archived day keeps its own in
//! its footer, [`super::parquet::SUMMARY_KEY`]). The store keeps the text without reading
//! it: what a summary says, and whether one still holds (its version, its checksum, the
//! stamps of the files it was made from, [`super::Stamp`], which it records), is the
//! reader's.
//!
//! The cache is written best effort and never fsynced: a summary is rewritten whole under a
//! temporary name and renamed over the old one ([`AtomicFile`], [`Durability::Unsynced`]),
//! so a reader never sees a part of one; after a power cut one may be old, empty or torn,
//! which the reader's checksum rejects and the day is summarised again.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

use super::error::StoreError;
use super::fs::{create_dirs, AtomicFile, Durability, Fs, Open, RealFs};
use super::layout::{csv_name, month_dir, INDEX_DIR};
use super::packed;

/// A cached summary is far smaller (~8 kB a day at most): anything bigger is not one.
const MAX_SUMMARY_BYTES: u64 = 1 << 20;

/// The day summaries of a data directory (see the module docs).
pub struct SummaryCache {
    fs: Arc<dyn Fs>,
    root: PathBuf,
}

impl SummaryCache {
    /// The cache of the data directory `dir`.
    pub fn new(dir: &Path) -> SummaryCache {
        SummaryCache::with_fs(Arc::new(RealFs), dir)
    }

    /// [`SummaryCache::new`] on the file operations `fs`.
    pub fn with_fs(fs: Arc<dyn Fs>, dir: &Path) -> SummaryCache {
        SummaryCache {
            fs,
            root: dir.join(INDEX_DIR),
        }
    }

    fn path(&self, day: NaiveDate) -> PathBuf {
        path_in(&self.root, day)
    }

    /// The summary kept for `day`, if there is one that can be read (and is not too large
    /// to be one): the reader checks it.
    pub fn load(&self, day: NaiveDate) -> Option<String> {
        let mut f = self.fs.open(&self.path(day), Open::Read).ok()?;
        if f.size().ok()? > MAX_SUMMARY_BYTES {
            return None;
        }
        let mut text = String::new();
        f.read_to_string(&mut text).ok()?;
        Some(packed::unpack(&text)?.into_owned())
    }

    /// Keeps `text` as the summary of `day` (replacing any), creating the cache's
    /// directories as needed.
    pub fn save(&self, day: NaiveDate, text: &str) -> Result<(), StoreError> {
        save_in(&*self.fs, &self.root, day, text)
    }
}

fn path_in(root: &Path, day: NaiveDate) -> PathBuf {
    month_dir(root, day).join(format!("{}.idx", csv_name(day, 0)))
}

/// [`SummaryCache::save`] into the cache of the data directory `dir`, through `fs` (the
/// archive keeps the summary of the day it has just converted).
pub(crate) fn save(fs: &dyn Fs, dir: &Path, day: NaiveDate, text: &str) -> Result<(), StoreError> {
    save_in(fs, &dir.join(INDEX_DIR), day, text)
}

/// Writes `text` as the summary of `day` in the cache at `root`.
fn save_in(fs: &dyn Fs, root: &Path, day: NaiveDate, text: &str) -> Result<(), StoreError> {
    let path = path_in(root, day);
    let dir = path.parent().unwrap_or(root);
    create_dirs(fs, dir)?;
    let io = |source| StoreError::Io {
        op: "cannot write",
        path: path.clone(),
        source,
    };
    let mut file = AtomicFile::create(fs, &path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.commit(Durability::Unsynced).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::testing::{Op, Probe};

    #[test]
    fn a_summary_is_kept_whole_under_the_index_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let day = NaiveDate::from_ymd_opt(2026, 4, 1).expect("date");
        let probe = Probe::new();
        let cache = SummaryCache::with_fs(probe.fs(), dir.path());
        assert_eq!(cache.load(day), None);
        cache.save(day, "one\n").expect("save");
        cache.save(day, "two\n").expect("save again");
        assert_eq!(cache.load(day).as_deref(), Some("two\n"));
        let path = dir.path().join(".tic-rec-index/2026/04/2026-04-01.csv.idx");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "two\n");
        // Renamed into place, never written in place nor fsynced.
        let log = probe.take_log();
        assert!(log.contains(&Op::Rename(
            match log.iter().find_map(|op| match op {
                Op::Open(t, Open::CreateNew) => Some(t.clone()),
                _ => None,
            }) {
                Some(t) => t,
                None => panic!("{log:?}"),
            },
            path.clone()
        )));
        assert!(log
            .iter()
            .all(|op| !matches!(op, Op::Write(p, _) if *p == path)));
        assert!(log.iter().all(|op| !matches!(op, Op::SyncAll(_))));
        // Too large to be one: not read.
        std::fs::write(&path, vec![b'x'; (MAX_SUMMARY_BYTES + 1) as usize]).expect("write");
        assert_eq!(cache.load(day), None);
        // Not writable (a file where its directory goes): an error naming it.
        let other = tempfile::tempdir().expect("tempdir");
        std::fs::write(other.path().join(INDEX_DIR), "x").expect("write");
        let e = SummaryCache::new(other.path())
            .save(day, "x")
            .expect_err("not a directory");
        assert!(e.to_string().contains(INDEX_DIR), "{e}");
    }
}
