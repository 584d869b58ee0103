//! One recorder per data directory: an advisory lock on `<data-dir>/.tic-rec.lock`.
//!
//! The lock is `flock`-style (whole file, exclusive), so the kernel releases it when the
//! process ends, however it ends: a `kill -9` never leaves a stale lock. The file holds a
//! line about its holder (pid, start time, source) for the message a second recorder prints.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::fs::{create_dirs, Fs, FsFile, Lock, Open, RealFs};
use super::layout::LOCK_FILE;

/// The data directory's lock, held while this value lives.
pub struct DirLock {
    path: PathBuf,
    _file: Box<dyn FsFile>,
}

impl std::fmt::Debug for DirLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirLock").field("path", &self.path).finish()
    }
}

impl DirLock {
    /// Takes the lock of `dir` (the directory and the lock file created if needed), writing
    /// `holder` (e.g. `pid 1234, since 2026-12-01T10:00:00+01:00, recording /dev/ttyUSB0`)
    /// into it. Fails at once with [`StoreError::Locked`], naming the holder, when another
    /// process has it.
    pub fn acquire(dir: &Path, holder: &str) -> Result<DirLock, StoreError> {
        DirLock::acquire_with(&RealFs, dir, holder)
    }

    /// [`DirLock::acquire`] through the file operations `fs`.
    pub fn acquire_with(fs: &dyn Fs, dir: &Path, holder: &str) -> Result<DirLock, StoreError> {
        create_dirs(fs, dir)?;
        let path = dir.join(LOCK_FILE);
        let io = |op| {
            let path = path.clone();
            move |source| StoreError::Io { op, path, source }
        };
        let mut file = fs
            .open(&path, Open::ReadWrite)
            .map_err(io("cannot open the lock file"))?;
        if !file.try_lock(Lock::Exclusive).map_err(io("cannot lock"))? {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = text.trim();
            return Err(StoreError::Locked {
                dir: dir.to_owned(),
                holder: if holder.is_empty() {
                    "a process that has not said who it is".to_owned()
                } else {
                    holder.to_owned()
                },
            });
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(format!("{holder}\n").as_bytes()))
            .map_err(io("cannot write the lock file"))?;
        Ok(DirLock { path, _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path(), "pid 1, recording /dev/ttyUSB0").unwrap();
        let err = DirLock::acquire(dir.path(), "pid 2").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pid 1, recording /dev/ttyUSB0"), "{msg}");
        drop(first);
        // Released with its holder: the next one gets it.
        let again = DirLock::acquire(dir.path(), "pid 3").unwrap();
        assert_eq!(std::fs::read_to_string(again.path()).unwrap(), "pid 3\n");
    }

    #[test]
    fn the_data_directory_is_created_durably_with_its_lock() {
        use crate::store::fs::testing::{Op, Probe};
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        let probe = Probe::new();
        let lock = DirLock::acquire_with(&probe, &dir, "pid 4").unwrap();
        assert_eq!(std::fs::read_to_string(lock.path()).unwrap(), "pid 4\n");
        let log = probe.take_log();
        let at = |want: &Op| log.iter().position(|o| o == want).expect("done");
        assert!(at(&Op::SyncDir(root.path().to_owned())) < at(&Op::SyncDir(root.path().join("a"))));
        assert!(
            at(&Op::SyncDir(root.path().join("a")))
                < at(&Op::Lock(dir.join(LOCK_FILE), Lock::Exclusive))
        );
    }
}
