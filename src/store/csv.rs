//! Reading one CSV day file: its header, then its good rows in order.
//!
//! Lines are read as bytes; only complete lines (ending in `\n`) count, so a torn last line
//! is never seen (the torn-tail rule of the module docs). A row that is not a record (not
//! UTF-8, a cell count other than the header's, an unreadable `time`, a broken quote: a bad
//! SD sector or a hand edit) is *damaged*: it is skipped and counted, and the first one is
//! kept with its line for the caller to report. Read as a file of its day
//! ([`CsvFile::of_day`]), a row of another local day is damaged too: the recorder files every
//! row under its own day, so such a row is stale bytes (a FAT file system can show, after a
//! power cut, a length written before its data: the cluster's old contents, often a removed
//! day's rows) or a hand edit. A line over 64 KiB before the data's end,
//! a header that is not ours and I/O errors are errors.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::error::{Damage, Position, ReadError};
use super::layout::{local_day, midnight};
use super::source::HEAD_BYTES;
use super::text::{for_each_cell, parse_time};

/// A line longer than this is an error (a row of every TIC label is under 2 KiB); a longer
/// unfinished tail is a torn last line. Reads never hold more than this, whatever the input.
pub const MAX_LINE: u64 = 64 * 1024;

/// Backward scans read this much at a time.
const SCAN_CHUNK: u64 = 64 * 1024;

/// A CSV day file open for reading, positioned on its current row.
pub struct CsvFile {
    path: PathBuf,
    reader: BufReader<File>,
    header: Vec<String>,
    header_end: u64,
    len: u64,
    /// Offset of the next line to read.
    pos: u64,
    /// Line number of the next line (1-based; the header is line 1).
    line_no: u64,
    /// End of the last complete line, once known.
    data_end: Option<u64>,
    buf: Vec<u8>,
    /// The current row's cells: spans into `buf` (or into `unquoted` when the line has quotes).
    spans: Vec<(u32, u32)>,
    unquoted: String,
    quoted: bool,
    time: i64,
    offset: i32,
    /// Damaged rows skipped by the last [`CsvFile::advance`].
    skipped: u64,
    damage: Damage,
    /// The day it is a file of, and the instants it spans (`[start, end)`).
    day: Option<(NaiveDate, i64, i64)>,
}

/// Whether a line is text: UTF-8 without NUL (every header and row the recorder writes is).
pub(crate) fn is_text(line: &[u8]) -> bool {
    !line.contains(&0) && std::str::from_utf8(line).is_ok()
}

/// Whether no line read from `rest` (what follows a first line that is not text) starts with
/// a row's time. A first line that is not text in a file holding no row is what a power cut
/// left in a file created just before it: on vfat a new file's length can reach the disk
/// before its bytes, which are then whatever its clusters held (a removed file's bytes,
/// zeros); no row of it was durable, since its header is written and synced first. A file
/// whose header alone went bad (its rows still there) is not one: its header is an error.
/// Reads at most 1 MiB.
pub(crate) fn holds_no_row(rest: &mut dyn BufRead) -> std::io::Result<bool> {
    let mut line = Vec::new();
    let mut limited = rest.take(1 << 20);
    loop {
        line.clear();
        if limited.read_until(b'\n', &mut line)? == 0 {
            return Ok(true);
        }
        if parse_time(line.split(|&b| b == b',').next().unwrap_or(&[])).is_some() {
            return Ok(false);
        }
    }
}

impl CsvFile {
    /// Opens `path` and reads its header. An empty file, or one cut inside its header by a
    /// crash, has no columns and no rows.
    pub fn open(path: &Path) -> Result<CsvFile, ReadError> {
        Self::open_at(path, 0)
    }

    /// Opens `path`, reads its header, and reads rows from byte `from` on (a line start: the
    /// rows appended to a source after it was archived); `0`, or an offset inside the header,
    /// reads every row. Line numbers stay those of the whole file.
    pub fn open_at(path: &Path, from: u64) -> Result<CsvFile, ReadError> {
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut buf = Vec::new();
        (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(io)?;
        let bad = |reason: &str| ReadError::Header {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let mut f = CsvFile {
            path: path.to_path_buf(),
            reader,
            header: Vec::new(),
            header_end: len,
            len,
            pos: len,
            line_no: 2,
            data_end: Some(len),
            buf: Vec::new(),
            spans: Vec::new(),
            unquoted: String::new(),
            quoted: false,
            time: 0,
            offset: 0,
            skipped: 0,
            damage: Damage::new(path),
            day: None,
        };
        if buf.last() != Some(&b'\n') {
            if buf.len() as u64 > MAX_LINE {
                return Err(bad("header line longer than 64 KiB"));
            }
            // Empty, or cut inside its header by a crash: a day with no rows.
            return Ok(f);
        }
        let header_end = buf.len() as u64;
        if !is_text(&buf) {
            if holds_no_row(&mut f.reader).map_err(io)? {
                // The bytes a power cut left in a file created just before it (see
                // `holds_no_row`): a day with no rows, as an empty file.
                return Ok(f);
            }
            // A header gone bad before rows: an error, its rows not dropped.
            return Err(bad(if buf.contains(&0) {
                "holds a NUL byte"
            } else {
                "not UTF-8"
            }));
        }
        let text = std::str::from_utf8(trim_eol(&buf)).map_err(|_| bad("not UTF-8"))?;
        let mut header = Vec::new();
        for_each_cell(text, |_, c| header.push(c.into_owned())).map_err(|r| bad(&r))?;
        if let Some(dup) = header
            .iter()
            .enumerate()
            .find(|(i, h)| header[..*i].contains(h))
        {
            return Err(bad(&format!("column {:?} appears twice", dup.1)));
        }
        if header.first().map(String::as_str) != Some("time") {
            return Err(bad(&format!(
                "expected first column \"time\", found {:?}",
                header.first().map_or("", String::as_str)
            )));
        }
        f.header = header;
        f.header_end = header_end;
        f.pos = header_end;
        f.data_end = None;
        f.buf = buf;
        if from > header_end {
            f.skip_to(from.min(len)).map_err(io)?;
        }
        Ok(f)
    }

    /// Reads it as a file of `day`: a row of another local day is damaged (see the module
    /// docs).
    pub fn of_day(mut self, day: NaiveDate) -> CsvFile {
        let start = midnight(day);
        let end = day.succ_opt().and_then(midnight);
        if let (Some(a), Some(b)) = (start, end) {
            self.day = Some((day, a, b));
        }
        self
    }

    /// Moves to byte `at` (after the header), counting the lines before it.
    fn skip_to(&mut self, at: u64) -> std::io::Result<()> {
        let mut chunk = vec![0; SCAN_CHUNK as usize];
        let mut lines = 0u64;
        let file = self.reader.get_mut();
        file.seek(SeekFrom::Start(0))?;
        let mut left = at;
        while left > 0 {
            let n = usize::try_from(left.min(SCAN_CHUNK)).unwrap_or(chunk.len());
            file.read_exact(&mut chunk[..n])?;
            lines += memchr::memchr_iter(b'\n', &chunk[..n]).count() as u64;
            left -= n as u64;
        }
        self.reader.seek(SeekFrom::Start(at))?;
        self.pos = at;
        self.line_no = lines + 1;
        Ok(())
    }

    /// Where its rows end: the offset past its last complete line within the length it had
    /// when opened (0 when it has no complete header).
    pub fn rows_end(&mut self) -> Result<u64, ReadError> {
        if self.header.is_empty() {
            return Ok(0);
        }
        self.data_end()
    }

    /// The hash of its first `n` bytes (at most [`HEAD_BYTES`], and at most
    /// its length when opened).
    pub fn head_hash(&mut self, n: u64) -> Result<u64, ReadError> {
        let n = n.min(self.len).min(HEAD_BYTES);
        let saved = {
            let mut f = self.reader.get_ref();
            f.stream_position().map_err(|e| self.io(e))?
        };
        let mut buf = vec![0; usize::try_from(n).unwrap_or(0)];
        let mut f = self.reader.get_ref();
        f.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
        f.read_exact(&mut buf).map_err(|e| self.io(e))?;
        f.seek(SeekFrom::Start(saved)).map_err(|e| self.io(e))?;
        Ok(super::digest::bytes_hash(&buf))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes when opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The header cells (none for an empty file or a torn header).
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The damaged rows met so far.
    pub fn damage(&self) -> &Damage {
        &self.damage
    }

    /// Damaged rows skipped by the last [`CsvFile::advance`] (before the row it found).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The current row's Unix time.
    pub fn time(&self) -> i64 {
        self.time
    }

    /// The current row's offset (seconds east of UTC) as written.
    pub fn offset(&self) -> i32 {
        self.offset
    }

    /// Cell `i` of the current row (`i < header().len()`; `""` past the end).
    pub fn cell(&self, i: usize) -> &str {
        let Some(&(a, b)) = self.spans.get(i) else {
            return "";
        };
        let (a, b) = (a as usize, b as usize);
        if self.quoted {
            self.unquoted.get(a..b).unwrap_or("")
        } else {
            // The line was checked to be UTF-8 and cells split at ASCII commas.
            std::str::from_utf8(self.buf.get(a..b).unwrap_or(b"")).unwrap_or("")
        }
    }

    /// Moves to the next good row; `false` at the end of the data. Damaged rows on the way
    /// are skipped and counted ([`CsvFile::skipped`], [`CsvFile::damage`]).
    pub fn advance(&mut self) -> Result<bool, ReadError> {
        self.skipped = 0;
        loop {
            let Some(at) = self.next_line()? else {
                return Ok(false);
            };
            match self.split(at) {
                Ok(()) => return Ok(true),
                Err(reason) => {
                    self.skipped += 1;
                    let line = String::from_utf8_lossy(trim_eol(&self.buf)).into_owned();
                    self.damage.add(at, reason, &line);
                }
            }
        }
    }

    /// Splits the line in `buf` into the current row, or says why it is not a record.
    fn split(&mut self, _at: Position) -> Result<(), String> {
        let line_len = trim_eol(&self.buf).len();
        let line = match std::str::from_utf8(&self.buf[..line_len]) {
            Ok(l) => l,
            Err(e) => return Err(format!("not UTF-8 at column {}", e.valid_up_to() + 1)),
        };
        self.spans.clear();
        if memchr::memchr(b'"', line.as_bytes()).is_none() {
            self.quoted = false;
            let mut start = 0usize;
            for i in memchr::memchr_iter(b',', line.as_bytes()) {
                self.spans.push((start as u32, i as u32));
                start = i + 1;
            }
            self.spans.push((start as u32, line_len as u32));
        } else {
            self.quoted = true;
            self.unquoted.clear();
            let (spans, unq) = (&mut self.spans, &mut self.unquoted);
            for_each_cell(line, |_, c| {
                let a = unq.len() as u32;
                unq.push_str(&c);
                spans.push((a, unq.len() as u32));
            })?;
        }
        if self.spans.len() != self.header.len() {
            return Err(format!(
                "expected {} cells as in the header, found {}",
                self.header.len(),
                self.spans.len()
            ));
        }
        let time = self.cell(0);
        match parse_time(time.as_bytes()) {
            Some((t, _)) if self.day.is_some_and(|(_, a, b)| t < a || t >= b) => {
                let (day, _, _) = self.day.expect("checked");
                Err(format!(
                    "a row of {} in the file of {day} (stale bytes after a power cut, or an edit)",
                    local_day(t).map_or_else(|| "another day".to_owned(), |d| d.to_string())
                ))
            }
            Some((t, o)) => {
                self.time = t;
                self.offset = o;
                Ok(())
            }
            None => Err(format!(
                "expected an RFC 3339 time with offset (2026-10-25T02:30:00+02:00), found {time:?}"
            )),
        }
    }

    fn io(&self, source: std::io::Error) -> ReadError {
        ReadError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads the next complete line into `buf` and returns where it starts; `None` at the end
    /// of the file or at a torn last line.
    fn next_line(&mut self) -> Result<Option<Position>, ReadError> {
        if self.pos >= self.len {
            return Ok(None);
        }
        self.buf.clear();
        // Never past the length when opened: rows appended since are not read (a conversion
        // records where the rows it read end).
        let n = (&mut self.reader)
            .take((MAX_LINE + 1).min(self.len - self.pos))
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| ReadError::Io {
                path: self.path.clone(),
                source: e,
            })?;
        if n == 0 {
            return Ok(None);
        }
        let at = Position::Line(self.line_no, self.pos);
        if self.buf.last() != Some(&b'\n') {
            // A torn last line is ignored; a line too long before the data's end is an error.
            if self.pos >= self.data_end()? {
                self.pos = self.len;
                return Ok(None);
            }
            return Err(ReadError::LineTooLong {
                path: self.path.clone(),
                at,
            });
        }
        self.pos += n as u64;
        self.line_no += 1;
        Ok(Some(at))
    }

    /// The end of the last complete line (the file's length unless its tail is torn).
    fn data_end(&mut self) -> Result<u64, ReadError> {
        if let Some(end) = self.data_end {
            return Ok(end);
        }
        // Scan backwards from the end, a bounded chunk at a time, for the last `\n`, then put
        // the file back where the buffered reader left it.
        let saved = {
            let mut f = self.reader.get_ref();
            f.stream_position().map_err(|e| self.io(e))?
        };
        let mut hi = self.len;
        let mut end = self.header_end;
        let mut chunk = Vec::new();
        while hi > self.header_end {
            let lo = hi.saturating_sub(SCAN_CHUNK).max(self.header_end);
            chunk.resize(usize::try_from(hi - lo).unwrap_or(0), 0);
            let mut f = self.reader.get_ref();
            f.seek(SeekFrom::Start(lo)).map_err(|e| self.io(e))?;
            f.read_exact(&mut chunk).map_err(|e| self.io(e))?;
            if let Some(i) = memchr::memrchr(b'\n', &chunk) {
                end = lo + i as u64 + 1;
                break;
            }
            hi = lo;
        }
        let mut f = self.reader.get_ref();
        f.seek(SeekFrom::Start(saved)).map_err(|e| self.io(e))?;
        self.data_end = Some(end);
        Ok(end)
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(lines: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(lines).expect("write");
        f
    }

    fn ts(s: i64) -> String {
        let mut out = String::new();
        let t = 1_767_222_000 + s;
        super::super::text::push_time(&mut out, t, 3600);
        out
    }

    #[test]
    fn rows_and_torn_tail() {
        let mut text = String::from("time,time_source,EAST\n");
        for i in 0..5000 {
            text.push_str(&format!("{},meter,{}\n", ts(i * 10), 1000 + i));
        }
        text.push_str("2026-01-01T13:00:00+01:0"); // torn
        let f = file(text.as_bytes());
        let mut d = CsvFile::open(f.path()).expect("open");
        let mut n = 0;
        while d.advance().expect("row") {
            assert_eq!(d.cell(2), (1000 + n).to_string());
            n += 1;
        }
        assert_eq!(n, 5000, "the torn last line is ignored");
        assert_eq!(d.damage().count, 0);
    }

    /// A file of stale bytes (vfat after a power cut: a new file's length written, not its
    /// bytes) holds no row, as an empty file; a first line that is not text before rows is an
    /// error naming the file (a header gone bad: its rows are not dropped).
    #[test]
    fn a_file_of_stale_bytes_has_no_rows_a_bad_header_before_rows_is_an_error() {
        let stale: &[u8] = b"PAR1\x15\x00\x15\x98\n\x00\x00(\xb5/\xfd\n\x03\x00";
        let f = file(stale);
        let mut d = CsvFile::open(f.path()).expect("open");
        assert!(d.header().is_empty());
        assert!(!d.advance().expect("no row"));
        let zeros = [[0u8; 50].as_slice(), b"\n", &[0u8; 49]].concat();
        let zeros = file(&zeros);
        assert!(!CsvFile::open(zeros.path())
            .expect("open")
            .advance()
            .expect("no row"));
        // A header holding a NUL, rows after it: an error too, not a header.
        let f = file(b"time,time_source\0,EAST\n2026-01-01T00:00:00+01:00,meter,1\n");
        assert!(matches!(
            CsvFile::open(f.path()),
            Err(ReadError::Header { reason, .. }) if reason == "holds a NUL byte"
        ));
        let bad = [stale, b"\n2026-01-01T00:00:00+01:00,meter,1\n"].concat();
        let f = file(&bad);
        match CsvFile::open(f.path()) {
            Err(ReadError::Header { path, reason }) => {
                assert_eq!(path, f.path());
                assert_eq!(reason, "holds a NUL byte");
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a bad header before rows is read"),
        }
    }

    /// Read as a file of its day, a row of another day is damaged: after a power cut a FAT
    /// file system may show a removed day's rows past the last fsynced one (found by the
    /// power-cut model, issue 21). Read alone (a header's columns), the file is as it is.
    #[test]
    fn a_row_of_another_day_is_damaged_in_a_days_file() {
        let text = b"time,time_source,EAST
2026-01-01T23:59:59+01:00,meter,1
\
            2025-12-30T10:00:00+01:00,meter,2
2026-01-02T00:00:00+01:00,meter,3
\
            2026-01-01T00:00:00+01:00,meter,4
";
        let f = file(text);
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let mut d = CsvFile::open(f.path()).expect("open").of_day(day);
        let mut cells = Vec::new();
        while d.advance().expect("row") {
            cells.push(d.cell(2).to_owned());
        }
        assert_eq!(cells, ["1", "4"]);
        let dmg = d.damage();
        assert_eq!(dmg.count, 2);
        let first = dmg.first.as_ref().expect("first");
        assert!(
            first
                .reason
                .contains("a row of 2025-12-30 in the file of 2026-01-01"),
            "{first:?}"
        );
        let mut d = CsvFile::open(f.path()).expect("open");
        let mut n = 0;
        while d.advance().expect("row") {
            n += 1;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn damaged_rows_are_skipped_and_the_first_is_named() {
        let mut text = b"time,time_source,EAST\n2026-01-01T00:00:00+01:00,meter,1\n".to_vec();
        text.extend(b"2026-01-01T00:00:01+01:00,meter\n");
        text.extend(b"\xff\xfe garbage\n");
        text.extend(b"yesterday,meter,3\n");
        text.extend(b"2026-01-01T00:00:04+01:00,\"meter,4\n");
        text.extend(b"2026-01-01T00:00:05+01:00,\"met\"\"er\",5\n");
        let f = file(&text);
        let mut d = CsvFile::open(f.path()).expect("open");
        assert!(d.advance().expect("row 2"));
        assert_eq!(d.cell(2), "1");
        assert!(d.advance().expect("row 7"));
        assert_eq!(d.skipped(), 4);
        assert_eq!((d.cell(1), d.cell(2)), ("met\"er", "5"));
        assert!(!d.advance().expect("end"));
        let dmg = d.damage();
        assert_eq!(dmg.count, 4);
        let first = dmg.first.as_ref().expect("first");
        assert_eq!(first.at, Position::Line(3, 56));
        assert!(first.reason.contains("expected 3 cells"), "{first:?}");
        let f = file(b"EAST,time\n");
        assert!(matches!(
            CsvFile::open(f.path()),
            Err(ReadError::Header { .. })
        ));
    }

    #[test]
    fn a_long_line_before_the_end_is_an_error() {
        let mut text = b"time,time_source,EAST\n".to_vec();
        text.extend(std::iter::repeat_n(b'7', 70_000));
        text.extend(b"\n2026-01-06T01:00:00+01:00,meter,1600\n");
        let f = file(&text);
        let mut d = CsvFile::open(f.path()).expect("open");
        let e = d.advance().expect_err("too long").to_string();
        assert!(e.contains("line 2") && e.contains("64 KiB"), "{e}");
        let mut text = b"time,time_source,EAST\n2026-01-06T01:00:00+01:00,meter,1600\n".to_vec();
        text.extend(std::iter::repeat_n(b'7', 1 << 20));
        let f = file(&text);
        let mut d = CsvFile::open(f.path()).expect("open");
        assert!(d.advance().expect("row"));
        assert!(!d.advance().expect("torn tail"));
    }
}
