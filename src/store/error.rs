//! What can go wrong reading days ([`ReadError`]), and the damaged rows a read skips (shared
//! by the CSV and Parquet readers, the catalog and the day reader); what can go wrong writing
//! them ([`StoreError`]: the writer, the directory's lock, the caches).

use std::io;
use std::path::{Path, PathBuf};

use super::fs::Failed;
use super::layout::{FORMAT, OLDEST_FORMAT};

/// An error reading days. Every message names the file, and the line, at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A directory of the data directory cannot be read.
    #[error("cannot read data directory {path:?}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A day file cannot be opened or read.
    #[error("cannot read {path:?}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A CSV day file whose header is not ours.
    #[error("{path:?}: bad header: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A line too long to be a record, before the end of the data.
    #[error("{path:?}: {at}: line longer than 64 KiB")]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Position,
    },
    /// A Parquet day file whose bytes are not a valid archived day (truncated, garbled, not
    /// ours), by our own checks. Never an I/O error ([`ReadError::Io`]) nor a later format.
    #[error("{path:?}: not a readable archived day: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A periods month file whose bytes are not one (too large, a footer text that does not
    /// unpack), by our own checks.
    #[error("{path:?}: not a readable periods file: {reason}")]
    Periods {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A periods month file the decoders refuse (a garbled footer, schema or page).
    #[error("{path:?}: not a readable periods file: {what}")]
    PeriodsUndecodable {
        /// The file.
        path: PathBuf,
        /// What cannot be decoded (`cannot decode its footer`).
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: DecodeError,
    },
    /// A Parquet day file the decoders refuse (a garbled footer, schema or page; metadata
    /// that is not JSON). Never an I/O error ([`ReadError::Io`]).
    #[error("{path:?}: not a readable archived day: {what}")]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// What cannot be decoded (`cannot decode its footer`).
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: DecodeError,
    },
    /// An archived day of a later format than this build reads (a downgrade).
    #[error(
        "{path:?}: archive format {found}, written by a newer tic-rec (this one reads formats \
         {} to {}): upgrade tic-rec to read it",
        OLDEST_FORMAT,
        FORMAT
    )]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u64,
    },
}

impl ReadError {
    /// The I/O error behind it, if any.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            ReadError::Dir { source, .. } | ReadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether it says a Parquet file's bytes are garbled (not an I/O error, not a later
    /// format): readers then read the day's CSV files instead, when there are any.
    pub fn is_garbled_archive(&self) -> bool {
        matches!(
            self,
            ReadError::Parquet { .. } | ReadError::Undecodable { .. }
        )
    }
}

/// Why a decoder refused an archived day's bytes ([`ReadError::Undecodable`]).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The Parquet decoder's error.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The Arrow decoder's error (a batch of rows).
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The JSON of the archive's metadata.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Where in a CSV file a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// 1-based line number (the header is line 1), with the line's byte offset.
    Line(u64, u64),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(l, b) => write!(f, "line {l} (byte {b})"),
        }
    }
}

/// The first damaged row of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRow {
    /// Where it is.
    pub at: Position,
    /// Why it is not a record.
    pub reason: String,
    /// Its text (lossy UTF-8, at most 256 bytes).
    pub text: String,
}

/// The damaged rows of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The file (for an archived day, the CSV file the rows were in).
    pub file: String,
    /// Rows skipped.
    pub count: u64,
    /// The first one.
    pub first: Option<DamagedRow>,
}

impl Damage {
    /// No damage yet in `path`.
    pub fn new(path: &Path) -> Damage {
        Damage {
            file: path.display().to_string(),
            count: 0,
            first: None,
        }
    }

    /// One more damaged row.
    pub fn add(&mut self, at: Position, reason: String, text: &str) {
        self.count += 1;
        if self.first.is_none() {
            let mut end = text.len().min(256);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            self.first = Some(DamagedRow {
                at,
                reason,
                text: text[..end].to_owned(),
            });
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: skipped {} damaged row", self.file, self.count)?;
        if self.count != 1 {
            write!(f, "s")?;
        }
        if let Some(d) = &self.first {
            write!(f, " (first at {}: {})", d.at, d.reason)?;
        }
        Ok(())
    }
}

/// A store error, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on a file or directory.
    #[error("{op} {path:?}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A row whose cell count differs from the header's.
    #[error("a row of {got} cells does not fit the {want} columns of {path:?}")]
    RowWidth {
        /// The file.
        path: PathBuf,
        /// Cells given.
        got: usize,
        /// Columns in the header.
        want: usize,
    },
    /// Another recorder holds the data directory.
    #[error("{dir:?} is already recorded into by another tic-rec ({holder}); stop it first (systemctl stop tic-rec?) or use another --data-dir")]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// What the lock file says of its holder.
        holder: String,
    },
}

impl StoreError {
    /// The OS error behind it, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// A short word for the kind of failure, for log lines: `disk full`, `read-only file
    /// system`, `I/O error (failing disk?)`, or the error and its causes.
    pub fn what(&self) -> String {
        match self.outage() {
            Some(word) => word.to_owned(),
            None => crate::error::Chain(self).to_string(),
        }
    }

    /// The short word for an outage of the disk (`disk full`, `read-only file system`, `I/O
    /// error (failing disk?)`), if it is one.
    pub fn outage(&self) -> Option<&'static str> {
        use io::ErrorKind as K;
        match self.io_error().map(io::Error::kind) {
            Some(K::StorageFull) => Some("disk full"),
            Some(K::QuotaExceeded) => Some("disk quota exceeded"),
            Some(K::ReadOnlyFilesystem) => {
                Some("read-only file system (remounted read-only after errors?)")
            }
            // EIO has no kind of its own.
            _ if self.io_error().and_then(io::Error::raw_os_error) == Some(5) => {
                Some("I/O error (a failing SD card or disk?)")
            }
            _ => None,
        }
    }

    /// A copy of this error (an I/O error copied by its OS error number, or its kind and
    /// message), for an observer that keeps what it was told.
    pub fn copied(&self) -> StoreError {
        match self {
            StoreError::Io { op, path, source } => StoreError::Io {
                op,
                path: path.clone(),
                source: match source.raw_os_error() {
                    Some(n) => io::Error::from_raw_os_error(n),
                    None => io::Error::new(source.kind(), source.to_string()),
                },
            },
            StoreError::RowWidth { path, got, want } => StoreError::RowWidth {
                path: path.clone(),
                got: *got,
                want: *want,
            },
            StoreError::Locked { dir, holder } => StoreError::Locked {
                dir: dir.clone(),
                holder: holder.clone(),
            },
        }
    }
}

impl From<Failed> for StoreError {
    fn from(f: Failed) -> StoreError {
        StoreError::Io {
            op: f.op,
            path: f.path,
            source: f.source,
        }
    }
}
