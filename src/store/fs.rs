//! The durable-write seam: the file operations whose order and durability the store's promise
//! rests on go through one narrow interface, [`Fs`] and the files it opens ([`FsFile`]), as
//! SQLite's pager goes through its VFS and vector's disk buffer through its filesystem
//! trait. [`RealFs`] is `std::fs`; a test can put a wrapper in its place that logs, fails or
//! (later) models a power cut.
//!
//! ## What goes through it
//! - The recorder's writer ([`super::Store`]): creating the month directories and a day's
//!   files (`create_new`), opening them for append, reading a file's header and tail back on
//!   resume, appending rows and raw bytes, cutting a torn tail (`set_len`), `sync_data` and
//!   `sync_all`, fsyncing directories, the shared lock on every open day file.
//! - The archive's conversion (`compact`): the temporary file (created, locked, written,
//!   fsynced, read back in full to verify it), the rename over `YYYY-MM-DD.parquet`, the
//!   directory fsyncs, the exclusive locks on the CSV files, the re-check of each under its
//!   lock, and their removal.
//! - The data directory's lock ([`super::DirLock`]) and the caches written beside the days
//!   ([`AtomicFile`], the day summaries).
//! - The move of a directory from the layout before ([`super::migrate`]): every rename, the
//!   fsyncs of both directories, the removal of a copy left twice and of the emptied
//!   directories.
//! - The periods dataset ([`super::periods`]): each month file written aside, fsynced,
//!   renamed into place, its directory fsynced.
//!
//! Reading days (the catalog's directory walk, the CSV and Parquet readers) uses `std::fs`
//! directly: readers take no durable decision. A model of a power cut therefore keeps the
//! real files as the process sees them (the page cache) and tracks, beside them, what a cut
//! would keep; after a cut it writes that state out, and the restarted store reads it.
//!
//! ## When data and names become durable
//! The contract a model follows (and that the store relies on; POSIX, and Linux's ext4 in its
//! default `data=ordered` mode):
//! - A write ([`std::io::Write::write`] on an [`FsFile`]) or a [`FsFile::set_len`] is seen
//!   at once by every reader, and is durable only once [`FsFile::sync_data`] or
//!   [`FsFile::sync_all`] of that file returns. Until then a cut may lose it, keep it, or
//!   keep part of it (whole blocks, possibly a zero-filled tail).
//! - A name — a file created ([`Open::CreateNew`]), a directory created
//!   ([`Fs::create_dir`]), a rename ([`Fs::rename`]), a removal ([`Fs::remove_file`]) — is
//!   durable only once [`Fs::sync_dir`] of the directory holding it returns (both
//!   directories for a rename between two). A file's data can be durable while its name is
//!   not, and the reverse; a rename not yet durable may be undone by a cut.
//! - On vfat a rename is not atomic and its new entry has no cluster and length 0 until the
//!   renamed file's inode is written (its fsync, or writeback up to 30 s later; a
//!   directory's fsync does not write it): a file renamed into place is fsynced again under
//!   its new name before its directory, and before anything that relies on it is removed.
//! - `sync_data` and `sync_all` differ only in metadata (times) a model may ignore; both make
//!   the file's length durable.
//! - A lock ([`FsFile::try_lock`]) is advisory and whole-file (`flock`): held while any handle
//!   of that open file lives, released when the last is dropped or the process ends, never
//!   durable.
//! - [`FileId`] tells whether a name still names an open file (a file removed or replaced
//!   between an open and a lock).
//!
//! ## Why trait objects
//! [`Fs`] is object-safe and files are `Box<dyn FsFile>`: the store holds an
//! `Arc<dyn Fs>` chosen at run time (the real one, or a test's), so no type parameter spreads
//! through `Store`, the archive job and every caller, and a test wraps the real filesystem
//! without rebuilding the code under test. A dynamic call costs nothing beside the system
//! call it makes.

use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// How to open a file ([`Fs::open`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Read only (a file read back).
    Read,
    /// Read, and write at the end, an existing file (`NotFound` when there is none).
    Append,
    /// Create a file that must not exist (`AlreadyExists` otherwise), for reading and writing
    /// at its end. Its name is durable once its directory is synced.
    CreateNew,
    /// Read and write anywhere, created empty when missing (a lock file).
    ReadWrite,
}

/// An advisory whole-file lock ([`FsFile::try_lock`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Shared: many holders (the recorder, on every day file it has open).
    Shared,
    /// Exclusive: one holder, and no shared one (the conversion, before it removes a file).
    Exclusive,
}

/// What identifies a file (not a name): on Unix its device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device.
    pub dev: u64,
    /// The inode.
    pub ino: u64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// The file operations of the store that must survive a power cut (see the module docs for
/// when each becomes durable).
pub trait Fs: Send + Sync {
    /// Opens `path` as `how` says.
    fn open(&self, path: &Path, how: Open) -> io::Result<Box<dyn FsFile>>;
    /// Creates the directory `path` (its parent must exist; `AlreadyExists` when it does).
    /// Its name is durable once its parent is synced.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` atomically. Durable once the directory (or
    /// both) is synced.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`. Durable once its directory is synced.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes the empty directory `path` (an error when it is not empty). Durable once its
    /// parent is synced.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Makes the entries of the directory `dir` (created, renamed, removed names) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// The file `path` names now.
    fn id(&self, path: &Path) -> io::Result<FileId>;
}

/// A file opened through [`Fs`]: read, written (at its end when opened to append), sought,
/// cut, synced and locked only through this seam.
pub trait FsFile: Read + Write + Seek + Send {
    /// Its length now.
    fn size(&self) -> io::Result<u64>;
    /// Cuts (or extends with zeros) to `len` bytes. Durable once synced.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes its data and length durable.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes its data, length and metadata durable.
    fn sync_all(&mut self) -> io::Result<()>;
    /// Takes `lock` without waiting: `Ok(false)` when another open file holds a conflicting
    /// one. Released when the last handle of this open file is dropped.
    fn try_lock(&self, lock: Lock) -> io::Result<bool>;
    /// The file it is (to compare with [`Fs::id`] of its name).
    fn id(&self) -> io::Result<FileId>;
}

/// The real filesystem (`std::fs`).
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl Fs for RealFs {
    fn open(&self, path: &Path, how: Open) -> io::Result<Box<dyn FsFile>> {
        let mut o = std::fs::OpenOptions::new();
        match how {
            Open::Read => o.read(true),
            Open::Append => o.read(true).append(true),
            Open::CreateNew => o.read(true).append(true).create_new(true),
            Open::ReadWrite => o.read(true).write(true).create(true).truncate(false),
        };
        Ok(Box::new(RealFile(o.open(path)?)))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)?.sync_all()
    }

    fn id(&self, path: &Path) -> io::Result<FileId> {
        Ok(FileId::of(&std::fs::metadata(path)?))
    }
}

/// A file of [`RealFs`].
struct RealFile(std::fs::File);

impl Read for RealFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for RealFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Seek for RealFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

impl FsFile for RealFile {
    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.0.sync_all()
    }

    fn try_lock(&self, lock: Lock) -> io::Result<bool> {
        let r = match lock {
            Lock::Shared => self.0.try_lock_shared(),
            Lock::Exclusive => self.0.try_lock(),
        };
        match r {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn id(&self) -> io::Result<FileId> {
        Ok(FileId::of(&self.0.metadata()?))
    }
}

/// How far [`AtomicFile::commit`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Fsync the file before the rename, and the file and its directory after: once it
    /// returns, a power cut leaves the new file whole (before, the old one; on vfat, which
    /// has no atomic rename, possibly neither).
    Synced,
    /// Rename only: readers never see a part of it, but after a power cut the name may hold
    /// the old file, the new one, or a part of it. For content its reader verifies (a
    /// checksummed cache).
    Unsynced,
}

/// A file written under a temporary name in its directory, then renamed over its path
/// ([`AtomicFile::commit`]): readers see the old file or the new one whole, never a part.
/// Dropped without a commit, the temporary file is removed; one left by a crash
/// (`.NAME.tmp-PID-N`) is never read.
pub struct AtomicFile<'a> {
    fs: &'a dyn Fs,
    path: PathBuf,
    temp: PathBuf,
    file: Option<Box<dyn FsFile>>,
}

static ATOMIC_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<'a> AtomicFile<'a> {
    /// Starts a new version of `path` (whose directory must exist), created as any new file
    /// is (mode 0666 before the umask).
    pub fn create(fs: &'a dyn Fs, path: &Path) -> io::Result<AtomicFile<'a>> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_string_lossy()
            .into_owned();
        let dir = parent_of(path);
        let mut tries = 0;
        loop {
            tries += 1;
            let seq = ATOMIC_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let temp = dir.join(format!(".{name}.tmp-{}-{seq}", std::process::id()));
            match fs.open(&temp, Open::CreateNew) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        fs,
                        path: path.to_owned(),
                        temp,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 1000 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The file it replaces.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames it over its path, as far as `durability` says.
    pub fn commit(mut self, durability: Durability) -> io::Result<()> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("already committed"))?;
        let done = (|| {
            file.flush()?;
            if durability == Durability::Synced {
                file.sync_all()?;
            }
            self.fs.rename(&self.temp, &self.path)?;
            if durability == Durability::Synced {
                // Again under its new name: on vfat a renamed file's entry gets its cluster
                // and length only when its inode is written, which a directory's fsync does
                // not do (found by the power-cut model, issue 21).
                file.sync_all()?;
                drop(file);
                self.fs.sync_dir(parent_of(&self.path))?;
            }
            Ok(())
        })();
        if done.is_err() {
            let _ = self.fs.remove_file(&self.temp);
        }
        done
    }
}

impl Write for AtomicFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile<'_> {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = self.fs.remove_file(&self.temp);
        }
    }
}

/// The directory holding `path` (`.` for a bare name).
pub(crate) fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An operation that failed: what was being done, on which path.
#[derive(Debug)]
pub(crate) struct Failed {
    pub op: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

/// Creates the directory `dir` and its missing parents, fsyncing the parent of each one
/// created (its new entry is then durable). A directory already there is left as it is.
pub(crate) fn create_dirs(fs: &dyn Fs, dir: &Path) -> Result<(), Failed> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let failed = |op, source| Failed {
        op,
        path: dir.to_owned(),
        source,
    };
    let mut tried_parent = false;
    loop {
        match fs.create_dir(dir) {
            Ok(()) => {
                let parent = parent_of(dir);
                return fs.sync_dir(parent).map_err(|source| Failed {
                    op: "cannot fsync directory",
                    path: parent.to_owned(),
                    source,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !tried_parent => {
                tried_parent = true;
                match dir.parent() {
                    Some(p) if !p.as_os_str().is_empty() => create_dirs(fs, p)?,
                    _ => return Err(failed("cannot create directory", e)),
                }
            }
            Err(e) => return Err(failed("cannot create directory", e)),
        }
    }
}

/// Test doubles over [`RealFs`]: one that logs every operation and fails those a rule picks.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::{self, Read, Seek, Write};
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};

    use super::{FileId, Fs, FsFile, Lock, Open, RealFs};

    /// An operation through the seam, with the path it was on.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Op {
        Open(PathBuf, Open),
        CreateDir(PathBuf),
        Rename(PathBuf, PathBuf),
        Remove(PathBuf),
        RemoveDir(PathBuf),
        SyncDir(PathBuf),
        Id(PathBuf),
        /// A write call of this many bytes.
        Write(PathBuf, usize),
        SetLen(PathBuf, u64),
        SyncData(PathBuf),
        SyncAll(PathBuf),
        Lock(PathBuf, Lock),
    }

    /// What a rule makes an operation do instead of succeeding.
    pub enum Fault {
        /// Fail with this error, doing nothing.
        Fail(io::Error),
        /// A write: write this many bytes of it, then fail (other operations: just fail).
        Partial(usize, io::Error),
    }

    /// Decides, for each operation, whether it fails.
    pub type Rule = Box<dyn FnMut(&Op) -> Option<Fault> + Send>;

    #[derive(Default)]
    struct Shared {
        log: Mutex<Vec<Op>>,
        rule: Mutex<Option<Rule>>,
    }

    /// Checks that `steps` happened in this order in `log` (other operations between them);
    /// returns the position just past the last one.
    pub fn in_order(log: &[Op], steps: &[Op]) -> usize {
        let mut at = 0;
        for step in steps {
            match log[at..].iter().position(|op| op == step) {
                Some(k) => at += k + 1,
                None => panic!("{step:?} missing or out of order in {log:#?}"),
            }
        }
        at
    }

    /// [`RealFs`], logging every operation and failing those its rule picks. Clones share
    /// the log and the rule.
    #[derive(Clone, Default)]
    pub struct Probe(Arc<Shared>);

    impl Probe {
        pub fn new() -> Probe {
            Probe::default()
        }

        /// The filesystem to give the code under test.
        pub fn fs(&self) -> Arc<dyn Fs> {
            Arc::new(self.clone())
        }

        /// Sets (or, with `None`, clears) the rule.
        pub fn set_rule(&self, rule: Option<Rule>) {
            *self.0.rule.lock().expect("rule") = rule;
        }

        /// The operations so far, taken.
        pub fn take_log(&self) -> Vec<Op> {
            std::mem::take(&mut *self.0.log.lock().expect("log"))
        }

        /// Logs `op` and asks the rule about it.
        fn check(&self, op: Op) -> Option<Fault> {
            let fault = self
                .0
                .rule
                .lock()
                .expect("rule")
                .as_mut()
                .and_then(|r| r(&op));
            self.0.log.lock().expect("log").push(op);
            fault
        }

        fn run<T>(&self, op: Op, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
            match self.check(op) {
                Some(Fault::Fail(e) | Fault::Partial(_, e)) => Err(e),
                None => f(),
            }
        }
    }

    /// An ENOSPC error.
    pub fn disk_full() -> io::Error {
        io::Error::from_raw_os_error(28)
    }

    /// An EIO error.
    pub fn eio() -> io::Error {
        io::Error::from_raw_os_error(5)
    }

    impl Fs for Probe {
        fn open(&self, path: &Path, how: Open) -> io::Result<Box<dyn FsFile>> {
            let inner = self.run(Op::Open(path.to_owned(), how), || RealFs.open(path, how))?;
            Ok(Box::new(ProbeFile {
                probe: self.clone(),
                path: path.to_owned(),
                inner,
            }))
        }

        fn create_dir(&self, path: &Path) -> io::Result<()> {
            self.run(Op::CreateDir(path.to_owned()), || RealFs.create_dir(path))
        }

        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.run(Op::Rename(from.to_owned(), to.to_owned()), || {
                RealFs.rename(from, to)
            })
        }

        fn remove_file(&self, path: &Path) -> io::Result<()> {
            self.run(Op::Remove(path.to_owned()), || RealFs.remove_file(path))
        }

        fn remove_dir(&self, path: &Path) -> io::Result<()> {
            self.run(Op::RemoveDir(path.to_owned()), || RealFs.remove_dir(path))
        }

        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.run(Op::SyncDir(dir.to_owned()), || RealFs.sync_dir(dir))
        }

        fn id(&self, path: &Path) -> io::Result<FileId> {
            self.run(Op::Id(path.to_owned()), || RealFs.id(path))
        }
    }

    struct ProbeFile {
        probe: Probe,
        path: PathBuf,
        inner: Box<dyn FsFile>,
    }

    impl Read for ProbeFile {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.inner.read(buf)
        }
    }

    impl Write for ProbeFile {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match self.probe.check(Op::Write(self.path.clone(), buf.len())) {
                None => self.inner.write(buf),
                Some(Fault::Fail(e)) => Err(e),
                Some(Fault::Partial(n, e)) => {
                    self.inner.write_all(&buf[..n.min(buf.len())])?;
                    Err(e)
                }
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    impl Seek for ProbeFile {
        fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    impl FsFile for ProbeFile {
        fn size(&self) -> io::Result<u64> {
            self.inner.size()
        }

        fn set_len(&mut self, len: u64) -> io::Result<()> {
            let inner = &mut self.inner;
            self.probe
                .run(Op::SetLen(self.path.clone(), len), || inner.set_len(len))
        }

        fn sync_data(&mut self) -> io::Result<()> {
            let inner = &mut self.inner;
            self.probe
                .run(Op::SyncData(self.path.clone()), || inner.sync_data())
        }

        fn sync_all(&mut self) -> io::Result<()> {
            let inner = &mut self.inner;
            self.probe
                .run(Op::SyncAll(self.path.clone()), || inner.sync_all())
        }

        fn try_lock(&self, lock: Lock) -> io::Result<bool> {
            self.probe.run(Op::Lock(self.path.clone(), lock), || {
                self.inner.try_lock(lock)
            })
        }

        fn id(&self) -> io::Result<FileId> {
            self.inner.id()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_files_open_as_asked_and_lock_like_flock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a");
        assert_eq!(
            RealFs.open(&p, Open::Append).err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        let mut f = RealFs.open(&p, Open::CreateNew).expect("create");
        assert_eq!(
            RealFs.open(&p, Open::CreateNew).err().map(|e| e.kind()),
            Some(io::ErrorKind::AlreadyExists)
        );
        f.write_all(b"hello\n").expect("write");
        f.sync_data().expect("fsync");
        // Opened to append: writes go to the end whatever the position.
        let mut g = RealFs.open(&p, Open::Append).expect("append");
        g.seek(io::SeekFrom::Start(0)).expect("seek");
        g.write_all(b"more\n").expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "hello\nmore\n");
        f.set_len(6).expect("cut");
        assert_eq!(g.size().expect("size"), 6);
        assert_eq!(f.id().expect("id"), RealFs.id(&p).expect("id"));
        // Shared locks share; an exclusive one waits for none.
        assert!(f.try_lock(Lock::Shared).expect("lock"));
        let h = RealFs.open(&p, Open::Read).expect("read");
        assert!(h.try_lock(Lock::Shared).expect("lock"));
        assert!(!RealFs
            .open(&p, Open::Read)
            .expect("read")
            .try_lock(Lock::Exclusive)
            .expect("lock"));
        drop((f, h));
        assert!(RealFs
            .open(&p, Open::Read)
            .expect("read")
            .try_lock(Lock::Exclusive)
            .expect("lock"));
        // A name: created, renamed, removed; the directory synced.
        let sub = dir.path().join("sub");
        RealFs.create_dir(&sub).expect("mkdir");
        RealFs.rename(&p, &sub.join("b")).expect("rename");
        RealFs.sync_dir(&sub).expect("fsync dir");
        RealFs.remove_file(&sub.join("b")).expect("remove");
        assert_eq!(
            RealFs.id(&sub.join("b")).err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        assert_eq!(parent_of(Path::new("x")), Path::new("."));
        assert_eq!(parent_of(&sub.join("b")), sub);
    }

    #[test]
    fn an_atomic_file_replaces_whole_or_not_at_all() {
        use testing::{Op, Probe};
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "old\n").expect("write");
        let listing = || {
            let mut v: Vec<String> = std::fs::read_dir(dir.path())
                .expect("list")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        // Dropped: the old file stays, no temporary file left.
        let mut a = AtomicFile::create(&RealFs, &p).expect("create");
        a.write_all(b"new\n").expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "old\n");
        drop(a);
        assert_eq!(listing(), ["out.csv"]);
        // Committed, synced: file fsync, rename, file fsync again, directory fsync, in order.
        let probe = Probe::new();
        let mut a = AtomicFile::create(&probe, &p).expect("create");
        assert_eq!(a.path(), p);
        a.write_all(b"new\n").expect("write");
        a.commit(Durability::Synced).expect("commit");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "new\n");
        assert_eq!(listing(), ["out.csv"]);
        let log = probe.take_log();
        let temp = match &log[0] {
            Op::Open(t, Open::CreateNew) => t.clone(),
            op => panic!("{op:?}"),
        };
        assert!(file_name_of(&temp).starts_with(".out.csv.tmp-"), "{temp:?}");
        assert_eq!(
            log[1..],
            [
                Op::Write(temp.clone(), 4),
                Op::SyncAll(temp.clone()),
                Op::Rename(temp.clone(), p.clone()),
                Op::SyncAll(temp),
                Op::SyncDir(dir.path().to_owned()),
            ]
        );
        // Unsynced: the rename alone.
        let mut a = AtomicFile::create(&probe, &p).expect("create");
        a.write_all(b"newer\n").expect("write");
        a.commit(Durability::Unsynced).expect("commit");
        assert!(probe
            .take_log()
            .iter()
            .all(|op| !matches!(op, Op::SyncAll(_) | Op::SyncDir(_))));
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "newer\n");
        // A failed rename: the old file stays, the temporary file is removed.
        std::fs::remove_file(&p).expect("remove");
        std::fs::create_dir(&p).expect("a directory in the way");
        std::fs::write(p.join("x"), "x").expect("write");
        let mut a = AtomicFile::create(&RealFs, &p).expect("create");
        a.write_all(b"new\n").expect("write");
        assert!(a.commit(Durability::Synced).is_err());
        assert_eq!(listing(), ["out.csv"]);
    }

    fn file_name_of(p: &Path) -> String {
        p.file_name().expect("name").to_string_lossy().into_owned()
    }
}
