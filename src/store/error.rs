//! What can go wrong reading days, and the damaged rows a read skips (shared by the CSV and
//! Parquet readers, the catalog and the day reader).

use std::path::{Path, PathBuf};

use super::layout::{FORMAT, OLDEST_FORMAT};

/// An error reading days. Every message names the file, and the line, at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A directory of the data directory cannot be read.
    #[error("cannot read data directory {path:?}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A day file cannot be opened or read.
    #[error("cannot read {path:?}: {source}")]
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
    /// ours). Never an I/O error ([`ReadError::Io`]) nor a later format.
    #[error("{path:?}: not a readable archived day: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
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
        matches!(self, ReadError::Parquet { .. })
    }
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
