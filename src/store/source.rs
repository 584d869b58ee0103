//! What identifies a file of a day: the version of any day file ([`Stamp`]: name, length,
//! times), and a CSV file an archive was made from and how a file stands to it now
//! ([`SourceFile`], [`Relation`]: name, length, where its rows end, the hash of its first
//! bytes, read without trusting the file to be whole or unchanged).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::digest::bytes_hash;

/// What identifies the version of a day's file: its name, length, modification time and,
/// on Unix, status-change time (which no one can set back: a file rewritten and given its
/// old modification time still changes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The file name.
    pub name: String,
    /// Its length.
    pub len: u64,
    /// Its modification time, ns since the Unix epoch.
    pub mtime_ns: i128,
    /// Its status-change time, ns since the Unix epoch (0 off Unix).
    pub ctime_ns: i128,
}

#[cfg(unix)]
fn ctime_ns(meta: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec())
}

#[cfg(not(unix))]
fn ctime_ns(_meta: &std::fs::Metadata) -> i128 {
    0
}

impl Stamp {
    /// The stamp of `path` now; `None` when it cannot be known (the day is then not cached).
    pub fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?;
        let mtime_ns = match mtime.duration_since(UNIX_EPOCH) {
            Ok(d) => i128::try_from(d.as_nanos()).ok()?,
            Err(e) => -i128::try_from(e.duration().as_nanos()).ok()?,
        };
        Some(Stamp {
            name: path.file_name()?.to_str()?.to_owned(),
            len: meta.len(),
            mtime_ns,
            ctime_ns: ctime_ns(&meta),
        })
    }
}

/// Bytes of a CSV file's start that identify it (with its name and length).
pub const HEAD_BYTES: u64 = 4096;

/// The hash of the first `n` bytes of `file` (at most [`HEAD_BYTES`]; fewer when it is
/// shorter).
pub fn head_of<F: Read + Seek + ?Sized>(file: &mut F, n: u64) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    file.take(n.min(HEAD_BYTES)).read_to_end(&mut buf)?;
    Ok(bytes_hash(&buf))
}

/// Whether `file` has a `\n` in `[from, to)`.
pub fn has_line_end<F: Read + Seek + ?Sized>(
    file: &mut F,
    from: u64,
    to: u64,
) -> std::io::Result<bool> {
    file.seek(SeekFrom::Start(from))?;
    let mut chunk = vec![0; 64 * 1024];
    let mut left = to.saturating_sub(from);
    while left > 0 {
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        let got = file.read(&mut chunk[..n])?;
        if got == 0 {
            return Ok(false);
        }
        if memchr::memchr(b'\n', &chunk[..got]).is_some() {
            return Ok(true);
        }
        left -= got as u64;
    }
    Ok(false)
}

/// The offset past the last `\n` in the first `limit` bytes of `file` (0 when none): where
/// the rows of a file that was `limit` bytes long ended.
pub fn line_end_within<F: Read + Seek + ?Sized>(file: &mut F, limit: u64) -> std::io::Result<u64> {
    let mut chunk = vec![0; 64 * 1024];
    let mut hi = limit;
    while hi > 0 {
        let lo = hi.saturating_sub(chunk.len() as u64);
        let n = usize::try_from(hi - lo).unwrap_or(0);
        file.seek(SeekFrom::Start(lo))?;
        file.read_exact(&mut chunk[..n])?;
        if let Some(i) = memchr::memrchr(b'\n', &chunk[..n]) {
            return Ok(lo + i as u64 + 1);
        }
        hi = lo;
    }
    Ok(0)
}

/// How a CSV file stands to a source an archive lists under the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// The archive holds every row of the file.
    Covered,
    /// The source with rows appended: the rows from byte `from` on are not in the archive.
    Grown {
        /// Where the source's rows ended (a line start).
        from: u64,
    },
    /// Another file, or one changed otherwise: the archive may hold none of its rows.
    Other,
}

/// A source CSV file of an archived day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Its file name (`YYYY-MM-DD.csv`).
    pub name: String,
    /// Its length when converted.
    pub len: u64,
    /// Where its rows end: the offset past its last complete line, 0 when it has no complete
    /// header (every row before it is in the archive; a torn tail past it is not a row).
    /// `None` in a format-1 archive, which did not record it.
    pub end: Option<u64>,
    /// Hash of its first [`SourceFile::head_len`] bytes.
    pub head: u64,
    /// Its header.
    pub header: Vec<String>,
}

impl SourceFile {
    /// How many of its first bytes [`SourceFile::head`] hashes: at most 4 KiB of its rows
    /// (format 1: of the file).
    pub fn head_len(&self) -> u64 {
        self.end.unwrap_or(self.len).min(HEAD_BYTES)
    }

    /// How the CSV file open as `file`, `len` bytes long, stands to the source (see
    /// [`Relation`]): the same first bytes, then no complete line past where its rows ended
    /// (covered) or some (grown). A format-1 source (no recorded end) is covered at its very
    /// length, grown when longer and its last archived byte ends a line.
    pub(crate) fn relation<F: Read + Seek + ?Sized>(
        &self,
        file: &mut F,
        len: u64,
    ) -> std::io::Result<Relation> {
        let head_len = self.head_len();
        if len < head_len || head_of(file, head_len)? != self.head {
            return Ok(Relation::Other);
        }
        Ok(match self.end {
            Some(end) if len < end => Relation::Other,
            Some(end) if has_line_end(file, end, len)? => Relation::Grown { from: end },
            Some(_) => Relation::Covered,
            None if len == self.len => Relation::Covered,
            None if len > self.len && (self.len == 0 || byte_at(file, self.len - 1)? == b'\n') => {
                Relation::Grown { from: self.len }
            }
            None => Relation::Other,
        })
    }
}

fn byte_at<F: Read + Seek + ?Sized>(file: &mut F, at: u64) -> std::io::Result<u8> {
    let mut b = [0u8];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut b)?;
    Ok(b[0])
}

/// The file name of `path` (lossy).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_names_the_file_and_its_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("2026-04-01.csv");
        std::fs::write(&p, "abc").expect("write");
        let a = Stamp::of(&p).expect("stamp");
        assert_eq!((a.name.as_str(), a.len), ("2026-04-01.csv", 3));
        std::fs::write(&p, "abd").expect("write");
        let b = Stamp::of(&p).expect("stamp");
        assert!(b.ctime_ns >= a.ctime_ns);
        assert_eq!(Stamp::of(&dir.path().join("none")), None);
    }
}
