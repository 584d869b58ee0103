//! The price grids and Tempo colours fetched by `tic-rec tariffs update`, kept in the data
//! directory beside the days they price ([`TariffTables`]). The store keeps the files; what
//! they mean is [`crate::cost::tables`]'s.
//!
//! ## On-disk layout
//! ```text
//! <data-dir>/.tic-rec-tariffs/CURRENT              the name of the generation in use, one line
//! <data-dir>/.tic-rec-tariffs/<generation>/        one update's files, byte for byte as fetched
//! <data-dir>/.tic-rec-tariffs/.tmp-<generation>-…  an update being written (never read)
//! ```
//! A generation is named after the instant of its update (`20261206T071502Z`); its files
//! are named by the caller (letters, digits, `.`, `_`, `-`).
//!
//! ## Durability promise
//! An update is all or nothing, through the durable-write seam ([`super::fs::Fs`]): its
//! files are written into a temporary directory, each fsynced, the directory fsynced and
//! renamed to its generation's name (the parent fsynced); only then is `CURRENT` replaced
//! ([`AtomicFile`], [`Durability::Synced`]). A crash at any point leaves `CURRENT` naming a
//! whole generation (or none yet). The older generations, and a temporary directory a crash
//! left, are removed after the switch (garbage: nothing reads them).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fs::{create_dirs, AtomicFile, Durability, Fs, Open, RealFs};
use super::layout::TARIFFS_DIR;

/// The file naming the generation in use.
pub const CURRENT: &str = "CURRENT";

/// The largest file of a generation read back (the grids are ~20 kB, a season ~15 kB).
const MAX_FILE_BYTES: u64 = 16 << 20;

/// A failure to read or keep the fetched tables.
#[derive(Debug, thiserror::Error)]
pub enum TariffStoreError {
    /// A file operation failed.
    #[error("cannot {action} {path:?}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A name that is not a plain file name.
    #[error("{name:?} is not a file name of letters, digits, '.', '_' and '-'")]
    BadName {
        /// The name.
        name: String,
    },
    /// `CURRENT` names something that is not a generation, or a generation exists already.
    #[error("{path:?}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> TariffStoreError {
    let path = path.to_path_buf();
    move |source| TariffStoreError::Io {
        action,
        path,
        source,
    }
}

fn check_name(name: &str) -> Result<(), TariffStoreError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(TariffStoreError::BadName { name: name.into() })
    }
}

/// One update's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generation {
    /// Its name (`20261206T071502Z`).
    pub name: String,
    /// Its files by name, as written.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The fetched tables of a data directory (see the module docs).
pub struct TariffTables {
    fs: Arc<dyn Fs>,
    root: PathBuf,
}

impl TariffTables {
    /// Those of the data directory `dir`.
    pub fn new(dir: &Path) -> TariffTables {
        TariffTables::with_fs(Arc::new(RealFs), dir)
    }

    /// [`TariffTables::new`] on the file operations `fs`.
    pub fn with_fs(fs: Arc<dyn Fs>, dir: &Path) -> TariffTables {
        TariffTables {
            fs,
            root: dir.join(TARIFFS_DIR),
        }
    }

    /// Where they are kept.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut f = self.fs.open(path, Open::Read)?;
        if f.size()? > MAX_FILE_BYTES {
            return Err(io::Error::other("larger than a table is"));
        }
        let mut out = Vec::new();
        f.read_to_end(&mut out)?;
        Ok(out)
    }

    /// What `CURRENT` says (the generation in use), or `None` before any update: a cheap key
    /// for a cache of what [`TariffTables::current`] reads.
    pub fn stamp(&self) -> Option<String> {
        let text = self.read(&self.root.join(CURRENT)).ok()?;
        Some(String::from_utf8_lossy(&text).trim().to_owned())
    }

    /// The generation in use, or `None` before any update.
    pub fn current(&self) -> Result<Option<Generation>, TariffStoreError> {
        let current = self.root.join(CURRENT);
        let name = match self.read(&current) {
            Ok(t) => String::from_utf8_lossy(&t).trim().to_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &current)(e)),
        };
        check_name(&name).map_err(|_| TariffStoreError::Corrupt {
            path: current.clone(),
            reason: format!("names {name:?}, not a generation"),
        })?;
        let gen_dir = self.root.join(&name);
        let mut files = BTreeMap::new();
        // Listing a directory takes no durable decision: std::fs, as the catalog does.
        let entries = std::fs::read_dir(&gen_dir).map_err(io_err("list", &gen_dir))?;
        for e in entries {
            let e = e.map_err(io_err("list", &gen_dir))?;
            let file_name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if check_name(&file_name).is_err()
                || !e.file_type().map_err(io_err("stat", &path))?.is_file()
            {
                continue;
            }
            files.insert(file_name, self.read(&path).map_err(io_err("read", &path))?);
        }
        Ok(Some(Generation { name, files }))
    }

    /// Installs `generation` as the one in use (see the module's durability promise), and
    /// removes the older ones.
    pub fn install(&self, generation: &Generation) -> Result<(), TariffStoreError> {
        check_name(&generation.name)?;
        for name in generation.files.keys() {
            check_name(name)?;
            if name == CURRENT {
                return Err(TariffStoreError::BadName { name: name.clone() });
            }
        }
        let fs = &*self.fs;
        let root = &self.root;
        create_dirs(fs, root).map_err(|f| TariffStoreError::Io {
            action: f.op,
            path: f.path,
            source: f.source,
        })?;
        let final_dir = root.join(&generation.name);
        if final_dir.exists() {
            return Err(TariffStoreError::Corrupt {
                path: final_dir,
                reason: "a generation of that name exists already".into(),
            });
        }
        let tmp = root.join(format!(".tmp-{}-{}", generation.name, std::process::id()));
        if tmp.exists() {
            remove_tree(fs, &tmp);
        }
        fs.create_dir(&tmp).map_err(io_err("create", &tmp))?;
        for (name, bytes) in &generation.files {
            let path = tmp.join(name);
            let mut f = fs
                .open(&path, Open::CreateNew)
                .map_err(io_err("create", &path))?;
            f.write_all(bytes).map_err(io_err("write", &path))?;
            f.sync_all().map_err(io_err("fsync", &path))?;
        }
        fs.sync_dir(&tmp).map_err(io_err("fsync", &tmp))?;
        fs.rename(&tmp, &final_dir)
            .map_err(io_err("rename into place", &tmp))?;
        fs.sync_dir(root).map_err(io_err("fsync", root))?;
        let current = root.join(CURRENT);
        let mut file = AtomicFile::create(fs, &current).map_err(io_err("create", &current))?;
        file.write_all(format!("{}\n", generation.name).as_bytes())
            .map_err(io_err("write", &current))?;
        file.commit(Durability::Synced)
            .map_err(io_err("replace", &current))?;
        // The older generations and abandoned temporary directories go.
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name != generation.name && e.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_tree(fs, &e.path());
                }
            }
        }
        Ok(())
    }
}

/// Removes the files of `dir` through `fs`, then the empty directory (garbage: best effort).
fn remove_tree(fs: &dyn Fs, dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = fs.remove_file(&e.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::testing::{Op, Probe};

    fn generation(name: &str, files: &[(&str, &str)]) -> Generation {
        Generation {
            name: name.into(),
            files: files
                .iter()
                .map(|(n, t)| ((*n).to_owned(), t.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn install_then_read_then_replace() {
        let d = tempfile::tempdir().expect("tempdir");
        let t = TariffTables::new(d.path());
        assert_eq!(t.current().expect("reads"), None);
        assert_eq!(t.stamp(), None);
        let a = generation(
            "20261206T071502Z",
            &[("Option_Base.csv", "a"), ("x.json", "{}")],
        );
        t.install(&a).expect("installs");
        assert_eq!(t.current().expect("reads"), Some(a.clone()));
        assert_eq!(t.stamp().as_deref(), Some("20261206T071502Z"));
        let b = generation("20261207T071502Z", &[("Option_Base.csv", "b")]);
        t.install(&b).expect("installs");
        assert_eq!(t.current().expect("reads"), Some(b.clone()));
        // The older generation is gone.
        assert!(!t.dir().join("20261206T071502Z").exists());
        // Installing one of the same name again is refused, and changes nothing.
        let again = generation("20261207T071502Z", &[("Option_Base.csv", "c")]);
        assert!(t.install(&again).is_err());
        assert_eq!(t.current().expect("reads"), Some(b));
    }

    #[test]
    fn every_file_is_synced_before_current_names_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let probe = Probe::new();
        let t = TariffTables::with_fs(probe.fs(), d.path());
        t.install(&generation("g1", &[("a.csv", "1"), ("b.json", "2")]))
            .expect("installs");
        let log = probe.take_log();
        let pos = |want: &dyn Fn(&Op) -> bool| log.iter().position(want);
        let synced = |name: &str| {
            pos(&|o| matches!(o, Op::SyncAll(p) if p.ends_with(name))).unwrap_or(usize::MAX)
        };
        let renamed = pos(&|o| matches!(o, Op::Rename(_, to) if to.ends_with("g1")))
            .expect("the generation renamed into place");
        let current = pos(&|o| matches!(o, Op::Rename(_, to) if to.ends_with(CURRENT)))
            .expect("CURRENT replaced");
        assert!(
            synced("a.csv") < renamed && synced("b.json") < renamed,
            "{log:?}"
        );
        assert!(renamed < current, "{log:?}");
        assert!(log[current + 1..]
            .iter()
            .any(|o| matches!(o, Op::SyncDir(p) if p.ends_with(TARIFFS_DIR))));
    }

    #[test]
    fn names_are_plain() {
        let d = tempfile::tempdir().expect("tempdir");
        let t = TariffTables::new(d.path());
        for bad in ["../x", ".hidden", "a/b", "", "CURRENT"] {
            let g = generation("20261206T071502Z", &[(bad, "x")]);
            assert!(t.install(&g).is_err(), "{bad:?}");
        }
        assert!(t.install(&generation("../up", &[])).is_err());
        // A CURRENT naming no generation is an error that says so.
        std::fs::create_dir_all(t.dir()).expect("mkdir");
        std::fs::write(t.dir().join(CURRENT), "../etc\n").expect("write");
        let e = t.current().expect_err("corrupt");
        assert!(e.to_string().contains("not a generation"), "{e}");
        std::fs::write(t.dir().join(CURRENT), "20200101T000000Z\n").expect("write");
        assert!(matches!(t.current(), Err(TariffStoreError::Io { .. })));
    }
}
