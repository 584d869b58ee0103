//! The price grids and Tempo colours fetched by `tic-rec tariffs update`, kept in the data
//! directory beside the days they price. `store` keeps the files; what they mean is
//! [`crate::cost::tables`]'s.
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
//! An update is all or nothing. Its files are written into a temporary directory, each
//! fsynced, the directory fsynced and renamed to its generation's name; only then is
//! `CURRENT` replaced (written beside, fsynced, renamed, the directory fsynced). A crash at
//! any point leaves `CURRENT` naming a whole generation (or none yet); the older generations
//! and any temporary directory are removed after the switch (or by the next update).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The directory of the fetched tables, inside the data directory.
pub const TARIFFS_DIR: &str = ".tic-rec-tariffs";
/// The file naming the generation in use.
pub const CURRENT: &str = "CURRENT";

/// A failure to read or keep the fetched tables.
#[derive(Debug, thiserror::Error)]
pub enum TariffStoreError {
    /// A file operation failed.
    #[error("cannot {action} {path:?}: {source}")]
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
    /// `CURRENT` names something that is not a generation.
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

/// The directory of the fetched tables of `data_dir`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(TARIFFS_DIR)
}

/// What `CURRENT` says (the generation in use), or `None` before any update: a cheap key
/// for a cache of what [`current`] reads.
pub fn stamp(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir(data_dir).join(CURRENT)).ok()?;
    Some(text.trim().to_owned())
}

/// The generation in use, or `None` before any update.
pub fn current(data_dir: &Path) -> Result<Option<Generation>, TariffStoreError> {
    let root = dir(data_dir);
    let current = root.join(CURRENT);
    let name = match fs::read_to_string(&current) {
        Ok(t) => t.trim().to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", &current)(e)),
    };
    check_name(&name).map_err(|_| TariffStoreError::Corrupt {
        path: current.clone(),
        reason: format!("names {name:?}, not a generation"),
    })?;
    let gen_dir = root.join(&name);
    let mut files = BTreeMap::new();
    let entries = fs::read_dir(&gen_dir).map_err(io_err("list", &gen_dir))?;
    for e in entries {
        let e = e.map_err(io_err("list", &gen_dir))?;
        let file_name = e.file_name().to_string_lossy().into_owned();
        if check_name(&file_name).is_err() {
            continue;
        }
        let path = e.path();
        if !e.file_type().map_err(io_err("stat", &path))?.is_file() {
            continue;
        }
        files.insert(file_name, fs::read(&path).map_err(io_err("read", &path))?);
    }
    Ok(Some(Generation { name, files }))
}

fn sync_dir(path: &Path) -> Result<(), TariffStoreError> {
    fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", path))
}

/// Installs `generation` as the one in use (see the module's durability promise), and removes
/// the older ones.
pub fn install(data_dir: &Path, generation: &Generation) -> Result<(), TariffStoreError> {
    check_name(&generation.name)?;
    for name in generation.files.keys() {
        check_name(name)?;
        if name == CURRENT {
            return Err(TariffStoreError::BadName { name: name.clone() });
        }
    }
    let root = dir(data_dir);
    fs::create_dir_all(&root).map_err(io_err("create", &root))?;
    let final_dir = root.join(&generation.name);
    if final_dir.exists() {
        return Err(TariffStoreError::Corrupt {
            path: final_dir,
            reason: "a generation of that name exists already".into(),
        });
    }
    let tmp = root.join(format!(".tmp-{}-{}", generation.name, std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err("remove", &tmp))?;
    }
    fs::create_dir(&tmp).map_err(io_err("create", &tmp))?;
    for (name, bytes) in &generation.files {
        let path = tmp.join(name);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        f.write_all(bytes).map_err(io_err("write", &path))?;
        f.sync_all().map_err(io_err("fsync", &path))?;
    }
    sync_dir(&tmp)?;
    fs::rename(&tmp, &final_dir).map_err(io_err("rename into place", &tmp))?;
    sync_dir(&root)?;
    let current = root.join(CURRENT);
    let next = root.join(format!(".{CURRENT}.tmp-{}", std::process::id()));
    {
        let mut f = fs::File::create(&next).map_err(io_err("create", &next))?;
        f.write_all(format!("{}\n", generation.name).as_bytes())
            .map_err(io_err("write", &next))?;
        f.sync_all().map_err(io_err("fsync", &next))?;
    }
    fs::rename(&next, &current).map_err(io_err("rename into place", &next))?;
    sync_dir(&root)?;
    // The older generations and abandoned temporary directories go.
    if let Ok(entries) = fs::read_dir(&root) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == generation.name || name == CURRENT {
                continue;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(current(d.path()).expect("reads"), None);
        assert_eq!(stamp(d.path()), None);
        let a = generation(
            "20261206T071502Z",
            &[("Option_Base.csv", "a"), ("x.json", "{}")],
        );
        install(d.path(), &a).expect("installs");
        assert_eq!(current(d.path()).expect("reads"), Some(a.clone()));
        assert_eq!(stamp(d.path()).as_deref(), Some("20261206T071502Z"));
        let b = generation("20261207T071502Z", &[("Option_Base.csv", "b")]);
        install(d.path(), &b).expect("installs");
        assert_eq!(current(d.path()).expect("reads"), Some(b));
        // The older generation is gone.
        assert!(!dir(d.path()).join("20261206T071502Z").exists());
        // Installing one of the same name again is refused, and changes nothing.
        let again = generation("20261207T071502Z", &[("Option_Base.csv", "c")]);
        assert!(install(d.path(), &again).is_err());
        assert_eq!(
            current(d.path())
                .expect("reads")
                .map(|g| g.files["Option_Base.csv"].clone()),
            Some(b"b".to_vec())
        );
    }

    #[test]
    fn names_are_plain() {
        let d = tempfile::tempdir().expect("tempdir");
        for bad in ["../x", ".hidden", "a/b", "", "CURRENT"] {
            let g = generation("20261206T071502Z", &[(bad, "x")]);
            assert!(install(d.path(), &g).is_err(), "{bad:?}");
        }
        assert!(install(d.path(), &generation("../up", &[])).is_err());
        // A CURRENT naming no generation is an error that says so.
        fs::create_dir_all(dir(d.path())).expect("mkdir");
        fs::write(dir(d.path()).join(CURRENT), "../etc\n").expect("write");
        let e = current(d.path()).expect_err("corrupt");
        assert!(e.to_string().contains("not a generation"), "{e}");
        fs::write(dir(d.path()).join(CURRENT), "20200101T000000Z\n").expect("write");
        assert!(matches!(
            current(d.path()),
            Err(TariffStoreError::Io { .. })
        ));
    }
}
