//! Reading one daily file: its header, its rows in order, and single rows found by seeking
//! (head and tail).
//!
//! Lines are read as bytes; only complete lines (ending in `\n`) count, so a torn last line is
//! never seen. Seeking lands anywhere; the reader realigns on the next `\n`.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{Error, Position, N_ENERGY};

/// What a column means to an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Time,
    Other,
    Energy(usize),
    Meter,
    Ntarf,
    Tariff,
    PowerKva,
    Isousc,
}

/// One record, reduced to what an export needs. Reused from row to row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Unix seconds.
    pub time: i64,
    /// The energy indexes, by position in [`super::ENERGY_LABELS`].
    pub energy: [Option<i64>; N_ENERGY],
    /// ADSC or ADCO; empty when unknown.
    pub meter: String,
    /// NTARF.
    pub ntarf: Option<u8>,
    /// LTARF (standard) or PTEC (historique); empty when unknown.
    pub tariff: String,
    /// Subscribed apparent power in VA (PREF/PCOUP, or ISOUSC × 200 V).
    pub power_va: Option<i64>,
}

/// A daily file open for reading.
pub struct DayFile {
    path: PathBuf,
    reader: BufReader<File>,
    /// The header cells.
    pub header: Vec<String>,
    roles: Vec<Role>,
    tri: bool,
    header_end: u64,
    len: u64,
    /// Offset of the next line to read.
    pos: u64,
    /// Line number of the next line, when known (1-based; header is line 1).
    line_no: Option<u64>,
    /// End of the last complete line, once known.
    data_end: Option<u64>,
    buf: Vec<u8>,
}

/// A line longer than this is malformed (a row of every TIC label is under 2 KiB); a longer
/// unfinished tail is a torn last line. Reads never hold more than this, whatever the input.
const MAX_LINE: u64 = 64 * 1024;

/// Backward scans read this much at a time.
const SCAN_CHUNK: u64 = 64 * 1024;

impl DayFile {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<DayFile, Error> {
        let io = |source| Error::Io {
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
        let bad = |reason: &str| Error::Header {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        if buf.last() != Some(&b'\n') {
            if buf.len() as u64 > MAX_LINE {
                return Err(bad("header line longer than 64 KiB"));
            }
            // Empty, or cut inside its header by a crash (the store's docs allow it): a day
            // with no rows.
            return Ok(DayFile {
                path: path.to_path_buf(),
                reader,
                header: Vec::new(),
                roles: Vec::new(),
                tri: false,
                header_end: len,
                len,
                pos: len,
                line_no: None,
                data_end: Some(len),
                buf: Vec::new(),
            });
        }
        let header_end = buf.len() as u64;
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
        let roles = header.iter().map(|h| role(h)).collect();
        let tri = header.iter().any(|h| h == "IINST3" || h == "IINST2");
        Ok(DayFile {
            path: path.to_path_buf(),
            reader,
            header,
            roles,
            tri,
            header_end,
            len,
            pos: header_end,
            line_no: Some(2),
            data_end: None,
            buf,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn malformed(&self, at: Position, reason: String) -> Error {
        Error::Malformed {
            path: self.path.clone(),
            where_: at,
            reason,
        }
    }

    /// Moves to `offset`, which must be a line start.
    fn seek_line(&mut self, offset: u64, line_no: Option<u64>) -> Result<(), Error> {
        self.reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| self.io(e))?;
        self.pos = offset;
        self.line_no = line_no;
        Ok(())
    }

    /// Reads the next complete line into `buf` (without its end of line) and returns where it
    /// starts; `None` at the end of the file or at a torn last line.
    fn next_line(&mut self) -> Result<Option<Position>, Error> {
        self.buf.clear();
        let n = (&mut self.reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                source: e,
            })?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() != Some(&b'\n') {
            // A torn last line is ignored; a line too long before the data's end is an error.
            if self.pos >= self.data_end()? {
                return Ok(None);
            }
            let at = match self.line_no {
                Some(l) => Position::Line(l, self.pos),
                None => Position::Byte(self.pos),
            };
            return Err(self.malformed(at, "line longer than 64 KiB".to_owned()));
        }
        let at = match self.line_no {
            Some(l) => Position::Line(l, self.pos),
            None => Position::Byte(self.pos),
        };
        self.pos += n as u64;
        self.line_no = self.line_no.map(|l| l + 1);
        Ok(Some(at))
    }

    /// Reads the next record into `rec`; `false` at the end.
    pub fn next_record(&mut self, rec: &mut Record) -> Result<bool, Error> {
        match self.next_line()? {
            None => Ok(false),
            Some(at) => {
                self.parse(at, rec)?;
                Ok(true)
            }
        }
    }

    /// Reads the next row's cells into `cells` and returns its time; `None` at the end.
    pub fn next_cells(&mut self, cells: &mut Vec<String>) -> Result<Option<i64>, Error> {
        let Some(at) = self.next_line()? else {
            return Ok(None);
        };
        let line = self.line_text(at)?;
        cells.clear();
        let mut n = 0;
        for_each_cell(line, |_, c| {
            n += 1;
            cells.push(c.into_owned());
        })
        .map_err(|r| self.malformed(at, r))?;
        self.check_count(at, n)?;
        let time = cells.first().map_or("", String::as_str);
        match parse_time(time.as_bytes()) {
            Some((t, _)) => Ok(Some(t)),
            None => Err(self.malformed(at, bad_time(time))),
        }
    }

    fn line_text(&self, at: Position) -> Result<&str, Error> {
        std::str::from_utf8(trim_eol(&self.buf))
            .map_err(|e| self.malformed(at, format!("not UTF-8 at column {}", e.valid_up_to() + 1)))
    }

    fn check_count(&self, at: Position, n: usize) -> Result<(), Error> {
        if n != self.header.len() {
            return Err(self.malformed(
                at,
                format!(
                    "expected {} cells as in the header, found {n}",
                    self.header.len()
                ),
            ));
        }
        Ok(())
    }

    fn parse(&self, at: Position, rec: &mut Record) -> Result<(), Error> {
        let line = self.line_text(at)?;
        rec.energy = [None; N_ENERGY];
        rec.meter.clear();
        rec.ntarf = None;
        rec.tariff.clear();
        rec.power_va = None;
        let mut time: Option<Result<i64, String>> = None;
        let mut n = 0;
        let tri = self.tri;
        for_each_cell(line, |i, c| {
            n += 1;
            let Some(role) = self.roles.get(i) else {
                return;
            };
            match *role {
                Role::Time => {
                    time = Some(
                        parse_time(c.as_bytes())
                            .map(|(t, _)| t)
                            .ok_or_else(|| bad_time(&c)),
                    )
                }
                Role::Other => {}
                Role::Energy(k) => rec.energy[k] = parse_int(&c),
                Role::Meter => rec.meter.push_str(&c),
                Role::Ntarf => rec.ntarf = parse_int(&c).and_then(|v| u8::try_from(v).ok()),
                Role::Tariff => rec.tariff.push_str(&c),
                Role::PowerKva => {
                    if let Some(v) = parse_int(&c) {
                        rec.power_va = Some(rec.power_va.unwrap_or(0).max(v.saturating_mul(1000)));
                    }
                }
                Role::Isousc => {
                    if let Some(v) = parse_int(&c) {
                        rec.power_va = Some(v.saturating_mul(if tri { 600 } else { 200 }));
                    }
                }
            }
        })
        .map_err(|r| self.malformed(at, r))?;
        self.check_count(at, n)?;
        match time {
            Some(Ok(t)) => rec.time = t,
            Some(Err(r)) => return Err(self.malformed(at, r)),
            None => return Err(self.malformed(at, "no time cell".to_owned())),
        }
        Ok(())
    }

    /// The end of the last complete line (the file's length unless its tail is torn).
    fn data_end(&mut self) -> Result<u64, Error> {
        if let Some(end) = self.data_end {
            return Ok(end);
        }
        let end = self
            .last_newline_before(self.len)?
            .map_or(self.header_end, |i| i + 1);
        self.data_end = Some(end);
        Ok(end)
    }

    /// The offset of the last `\n` before `end` (after the header), scanning backwards a
    /// bounded chunk at a time.
    fn last_newline_before(&mut self, end: u64) -> Result<Option<u64>, Error> {
        let mut hi = end;
        while hi > self.header_end {
            let lo = hi.saturating_sub(SCAN_CHUNK).max(self.header_end);
            let bytes = self.read_at(lo, hi - lo)?;
            if let Some(i) = memchr::memrchr(b'\n', &bytes) {
                return Ok(Some(lo + i as u64));
            }
            hi = lo;
        }
        Ok(None)
    }

    fn read_at(&mut self, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        self.reader
            .seek(SeekFrom::Start(start))
            .map_err(|e| self.io(e))?;
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
        self.reader.read_exact(&mut bytes).map_err(|e| self.io(e))?;
        Ok(bytes)
    }

    /// The start of the line that ends at `end` (a line start or the data end), or the header
    /// end when that line is the first one.
    fn line_before(&mut self, end: u64) -> Result<u64, Error> {
        Ok(self
            .last_newline_before(end.saturating_sub(1))?
            .map_or(self.header_end, |i| i + 1))
    }

    /// The first record starting at or after byte `offset` (realigned on the next line),
    /// with the start of its line.
    fn record_from(&mut self, offset: u64, rec: &mut Record) -> Result<Option<u64>, Error> {
        if offset <= self.header_end {
            self.seek_line(self.header_end, Some(2))?;
        } else {
            self.seek_line(offset - 1, None)?;
            // Realign on the next line start without holding the skipped bytes.
            let n = self.reader.skip_until(b'\n').map_err(|e| self.io(e))?;
            self.pos += n as u64;
        }
        let start = self.pos;
        Ok(self.next_record(rec)?.then_some(start))
    }

    /// The first record of the file.
    pub fn head(&mut self, rec: &mut Record) -> Result<bool, Error> {
        Ok(self.record_from(0, rec)?.is_some())
    }

    /// The last complete record of the file.
    pub fn tail(&mut self, rec: &mut Record) -> Result<bool, Error> {
        let end = self.data_end()?;
        if end <= self.header_end {
            return Ok(false);
        }
        let start = self.line_before(end)?;
        Ok(self.record_from(start, rec)?.is_some())
    }
}

fn bad_time(cell: &str) -> String {
    format!("expected an RFC 3339 time with offset (2026-10-25T02:30:00+02:00), found {cell:?}")
}

fn role(label: &str) -> Role {
    use crate::tic::labels::{self, Kind, Unit};
    if label == "time" {
        return Role::Time;
    }
    let Some(l) = labels::label(label) else {
        return Role::Other;
    };
    match (l.kind, l.unit) {
        (Kind::MeterId, _) => Role::Meter,
        (Kind::TariffIndex, _) => Role::Ntarf,
        (Kind::TariffName, _) => Role::Tariff,
        (Kind::Subscribed, Unit::Kva) => Role::PowerKva,
        (Kind::Subscribed, _) => Role::Isousc,
        (Kind::Energy(_), _) => labels::energy_position(label).map_or(Role::Other, Role::Energy),
        _ => Role::Other,
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A plain non-negative integer (at most 18 digits).
pub fn parse_int(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
}

/// Calls `each(index, cell)` for every cell of an RFC 4180 line.
pub fn for_each_cell<'a>(
    line: &'a str,
    mut each: impl FnMut(usize, Cow<'a, str>),
) -> Result<(), String> {
    if !line.contains('"') {
        for (i, c) in line.split(',').enumerate() {
            each(i, Cow::Borrowed(c));
        }
        return Ok(());
    }
    let b = line.as_bytes();
    let (mut i, mut k) = (0usize, 0usize);
    loop {
        if b.get(i) == Some(&b'"') {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(j) = line[i..].find('"') else {
                    return Err(format!("unterminated quoted cell {}", k + 1));
                };
                s.push_str(&line[i..i + j]);
                i += j + 1;
                if b.get(i) == Some(&b'"') {
                    s.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            each(k, Cow::Owned(s));
            match b.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => return Err(format!("expected ',' after quoted cell {}", k + 1)),
            }
        } else {
            let j = line[i..].find(',').map_or(b.len(), |j| i + j);
            each(k, Cow::Borrowed(&line[i..j]));
            if j == b.len() {
                return Ok(());
            }
            i = j + 1;
        }
        k += 1;
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into Unix seconds and the offset in seconds.
pub fn parse_time(s: &[u8]) -> Option<(i64, i32)> {
    if s.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = s.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
    };
    let sep = |i: usize, c: &[u8]| s.get(i).is_some_and(|b| c.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let mut i = 19;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match s.get(i)? {
        b'Z' | b'z' if s.len() == i + 1 => 0,
        b'+' | b'-' if s.len() == i + 6 && s[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if s[i] == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    Some((t, i32::try_from(offset).ok()?))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn times() {
        let cases: &[(&str, Option<(i64, i32)>)] = &[
            ("1970-01-01T00:00:00Z", Some((0, 0))),
            ("2026-10-25T02:30:00+02:00", Some((1_792_888_200, 7200))),
            ("2026-10-25T02:30:00+01:00", Some((1_792_891_800, 3600))),
            ("2024-02-29T23:59:59-05:30", Some((1_709_270_999, -19800))),
            ("2026-10-25T02:30:00.123+02:00", Some((1_792_888_200, 7200))),
            ("2026-02-29T00:00:00+01:00", None),
            ("2026-10-25T02:30:00", None),
            ("2026-10-25T02:30:00+0200", None),
            ("2026-13-25T02:30:00+02:00", None),
            ("not a time at all, really", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s.as_bytes()), *want, "{s}");
            if let Some((t, _)) = want {
                let c = chrono::DateTime::parse_from_rfc3339(s).expect("valid");
                assert_eq!(c.timestamp(), *t, "{s}");
            }
        }
    }

    #[test]
    fn cells() {
        let cases: &[(&str, Result<Vec<&str>, ()>)] = &[
            ("a,b,,c", Ok(vec!["a", "b", "", "c"])),
            ("a,", Ok(vec!["a", ""])),
            (
                "\"x,y\",\"say \"\"hi\"\"\",z",
                Ok(vec!["x,y", "say \"hi\"", "z"]),
            ),
            ("\"open", Err(())),
            ("\"a\"b", Err(())),
        ];
        for (line, want) in cases {
            let mut got = Vec::new();
            let r = for_each_cell(line, |_, c| got.push(c.into_owned()));
            match want {
                Ok(w) => assert_eq!(got, *w, "{line}"),
                Err(()) => assert!(r.is_err(), "{line}"),
            }
        }
    }

    fn file(lines: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(lines.as_bytes()).expect("write");
        f
    }

    #[test]
    fn head_tail_and_torn_tail() {
        let mut text = String::from("time,time_source,EAST\n");
        for i in 0..5000 {
            text.push_str(&format!("{},meter,{}\n", ts(i * 10), 1000 + i));
        }
        text.push_str("2026-01-01T13:00:00+01:0"); // torn
        let f = file(&text);
        let mut d = DayFile::open(f.path()).expect("open");
        let mut r = Record::default();
        assert!(d.head(&mut r).expect("head"));
        assert_eq!(r.energy[0], Some(1000));
        assert!(d.tail(&mut r).expect("tail"));
        assert_eq!(r.energy[0], Some(5999));
        d.seek_line(d.header_end, Some(2)).expect("seek");
        let mut n = 0;
        while d.next_record(&mut r).expect("row") {
            n += 1;
        }
        assert_eq!(n, 5000, "the torn last line is ignored");
    }

    fn ts(s: i64) -> String {
        use chrono::TimeZone;
        let t = chrono::Utc
            .timestamp_opt(1_767_222_000 + s, 0)
            .single()
            .expect("valid");
        t.with_timezone(&crate::store::TZ).to_rfc3339()
    }

    #[test]
    fn malformed_rows_name_the_line() {
        let f = file("time,time_source,EAST\n2026-01-01T00:00:00+01:00,meter,1\n2026-01-01T00:00:01+01:00,meter\n");
        let mut d = DayFile::open(f.path()).expect("open");
        let mut r = Record::default();
        assert!(d.next_record(&mut r).expect("row 2"));
        let e = d.next_record(&mut r).expect_err("row 3").to_string();
        assert!(
            e.contains("line 3") && e.contains("expected 3 cells"),
            "{e}"
        );
        let f = file("time,time_source,EAST\nyesterday,meter,1\n");
        let e = DayFile::open(f.path())
            .and_then(|mut d| d.next_record(&mut r))
            .expect_err("bad time");
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("\"yesterday\""),
            "{e}"
        );
        let f = file("EAST,time\n");
        assert!(matches!(DayFile::open(f.path()), Err(Error::Header { .. })));
    }
}
