//! Where daily files live and how their cells are written.
//!
//! ```text
//! <data-dir>/journal/YYYY/MM/YYYY-MM-DD[.N].csv   the CSV days (the day being recorded)
//! <data-dir>/journal/YYYY/MM/YYYY-MM-DD.tic       raw bytes (--raw)
//! <data-dir>/records/YYYY/MM/YYYY-MM-DD.parquet   the archived days (Parquet only)
//! <data-dir>/periods/YYYY/YYYY-MM.parquet         the periods dataset (Parquet only)
//! <data-dir>/.tic-rec-tmp/                        files being written (never read)
//! <data-dir>/YYYY/MM/…                            the layout before (read, and moved)
//! ```

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

/// Meter local time: metropolitan France.
pub const TZ: chrono_tz::Tz = chrono_tz::Europe::Paris;

/// The data directory's lock file ([`crate::store::DirLock`]).
pub const LOCK_FILE: &str = ".tic-rec.lock";
/// The directory of the day summaries cached for the export ([`crate::store::SummaryCache`]).
pub const INDEX_DIR: &str = ".tic-rec-index";
/// The directory of the tables fetched by `tic-rec tariffs update` ([`crate::store::TariffTables`]).
pub const TARIFFS_DIR: &str = ".tic-rec-tariffs";
/// The CSV days and raw bytes (what the recorder appends to).
pub const JOURNAL_DIR: &str = "journal";
/// The archived days: Parquet files and nothing else.
pub const RECORDS_DIR: &str = "records";
/// The periods dataset: Parquet files and nothing else.
pub const PERIODS_DIR: &str = "periods";
/// Files being written (a conversion's, a periods month's): kept out of the datasets, whose
/// readers (Polars, for one) fail on any other file in the folder they are pointed at.
pub const TEMP_DIR: &str = ".tic-rec-tmp";

/// `<dir>/journal`.
pub fn journal_dir(dir: &Path) -> PathBuf {
    dir.join(JOURNAL_DIR)
}

/// `<dir>/records`.
pub fn records_dir(dir: &Path) -> PathBuf {
    dir.join(RECORDS_DIR)
}

/// `<dir>/periods`.
pub fn periods_dir(dir: &Path) -> PathBuf {
    dir.join(PERIODS_DIR)
}

/// `<dir>/.tic-rec-tmp`.
pub fn temp_dir(dir: &Path) -> PathBuf {
    dir.join(TEMP_DIR)
}

/// The archive format version written (key `tic-rec.archive`, field `format`). Format 2
/// added where each source's rows end and the sources absorbed from an earlier archive of
/// the day; format 3 the `meter_id` column, packed footer texts and no copy of the Arrow
/// schema; formats 1 and 2 are still read.
pub const FORMAT: u64 = 3;
/// The oldest archive format read.
pub const OLDEST_FORMAT: u64 = 1;

/// The local day of the instant `t` (Unix seconds); none for an instant chrono cannot place.
pub fn local_day(t: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp(t, 0).map(|u| u.with_timezone(&TZ).date_naive())
}

/// Unix time of the local midnight that starts `day` (its first instant; none only for a
/// date chrono cannot place).
pub fn midnight(day: NaiveDate) -> Option<i64> {
    use chrono::TimeZone;
    TZ.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.timestamp())
}

/// The record file of `day`: `<dir>/journal/YYYY/MM/YYYY-MM-DD.csv`, or `YYYY-MM-DD.N.csv`
/// for the N-th file of a day whose columns changed (N ≥ 1).
pub fn day_file(dir: &Path, day: NaiveDate, n: u32) -> PathBuf {
    month_dir(&journal_dir(dir), day).join(csv_name(day, n))
}

/// `YYYY-MM-DD.csv` (N = 0) or `YYYY-MM-DD.N.csv`.
pub fn csv_name(day: NaiveDate, n: u32) -> String {
    if n == 0 {
        format!("{day}.csv")
    } else {
        format!("{day}.{n}.csv")
    }
}

/// The archived file of `day`: `<dir>/records/YYYY/MM/YYYY-MM-DD.parquet`.
pub fn parquet_file(dir: &Path, day: NaiveDate) -> PathBuf {
    month_dir(&records_dir(dir), day).join(parquet_name(day))
}

/// The periods file of a month: `<dir>/periods/YYYY/YYYY-MM.parquet`.
pub fn periods_file(dir: &Path, year: i32, month: u32) -> PathBuf {
    periods_dir(dir)
        .join(format!("{year:04}"))
        .join(format!("{year:04}-{month:02}.parquet"))
}

/// The year and month of a periods file's name (`YYYY-MM.parquet`).
pub fn parse_periods_name(name: &str) -> Option<(i32, u32)> {
    let stem = name.strip_suffix(".parquet")?;
    let (y, m) = stem.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    NaiveDate::from_ymd_opt(y, m, 1).map(|_| (y, m))
}

/// The data directory a day file lies in, from its path: `<dir>/journal/YYYY/MM/name`,
/// `<dir>/records/YYYY/MM/name` or (the layout before) `<dir>/YYYY/MM/name`.
pub fn root_of(day_file: &Path) -> Option<PathBuf> {
    let tree = day_file.parent()?.parent()?.parent()?;
    let name = tree.file_name().and_then(|n| n.to_str());
    if matches!(name, Some(JOURNAL_DIR | RECORDS_DIR)) {
        return Some(parent_or_here(tree));
    }
    Some(tree.to_path_buf())
}

/// The parent of `path` (`.` for a bare name).
fn parent_or_here(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The name of the archived (Parquet) file of `day`, in its month directory
/// (`YYYY-MM-DD.parquet`).
pub fn parquet_name(day: NaiveDate) -> String {
    format!("{day}.parquet")
}

/// What a file of a month directory is, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayFileName {
    /// `YYYY-MM-DD.csv` (N = 0) or `YYYY-MM-DD.N.csv`.
    Csv(NaiveDate, u32),
    /// `YYYY-MM-DD.parquet`.
    Parquet(NaiveDate),
    /// `.YYYY-MM-DD.parquet.tmp…`: a conversion's temporary file (left by a crash).
    Temp(NaiveDate),
}

impl DayFileName {
    /// The day it is of.
    pub fn day(self) -> NaiveDate {
        match self {
            DayFileName::Csv(d, _) | DayFileName::Parquet(d) | DayFileName::Temp(d) => d,
        }
    }
}

/// The kind and day of a file of a month directory, from its name; `None` for other names.
pub fn parse_file_name(name: &str) -> Option<DayFileName> {
    if let Some(rest) = name.strip_prefix('.') {
        let (date, tail) = rest.split_at_checked(10)?;
        if !tail.starts_with(".parquet.tmp") {
            return None;
        }
        return parse_date(date).map(DayFileName::Temp);
    }
    if let Some(date) = name.strip_suffix(".parquet") {
        return parse_date(date).map(DayFileName::Parquet);
    }
    parse_day_file_name(name).map(|(d, n)| DayFileName::Csv(d, n))
}

/// The name of a temporary file of a conversion of `day` (unique with `tag`).
pub fn temp_name(day: NaiveDate, tag: &str) -> String {
    format!(".{day}.parquet.tmp-{tag}")
}

/// The name, in `.tic-rec-tmp/`, of the copy of `day`'s Parquet file kept while a conversion
/// replaces it (`YYYY-MM-DD.parquet.kept`; see `store::replace`).
pub fn kept_name(day: NaiveDate) -> String {
    format!("{day}.parquet.kept")
}

/// The day of a kept copy's name ([`kept_name`]).
pub fn parse_kept_name(name: &str) -> Option<NaiveDate> {
    parse_date(name.strip_suffix(".parquet.kept")?)
}

fn parse_date(date: &str) -> Option<NaiveDate> {
    if date.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The raw-bytes file of `day` (`--raw`): `<dir>/journal/YYYY/MM/YYYY-MM-DD.tic`.
pub fn raw_file(dir: &Path, day: NaiveDate) -> PathBuf {
    month_dir(&journal_dir(dir), day).join(format!("{day}.tic"))
}

/// `<base>/YYYY/MM` (`base` a tree: the journal, the records, the summaries, or the data
/// directory itself in the layout before).
pub fn month_dir(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("{:04}", day.year()))
        .join(format!("{:02}", day.month()))
}

/// The day a record file holds and its index N, from its name (`YYYY-MM-DD.csv` → N = 0,
/// `YYYY-MM-DD.N.csv` → N); `None` for any other name.
pub fn parse_day_file_name(name: &str) -> Option<(NaiveDate, u32)> {
    let stem = name.strip_suffix(".csv")?;
    let (date, n) = match stem.split_once('.') {
        // N ≥ 1 written plainly: `.1`, not `.01` or `.+1`.
        Some((d, n)) => (
            d,
            n.parse()
                .ok()
                .filter(|&v: &u32| v > 0 && v.to_string() == n)?,
        ),
        None => (stem, 0),
    };
    Some((parse_date(date)?, n))
}

/// Where a record's time comes from (the `time_source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeSource {
    /// The meter's DATE, upper-case season letter.
    Meter,
    /// The meter's DATE, lower-case season letter (degraded clock).
    MeterDegraded,
    /// The host clock (historique mode).
    Host,
}

impl TimeSource {
    /// The `time_source` cell.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Meter => "meter",
            TimeSource::MeterDegraded => "meter-degraded",
            TimeSource::Host => "host",
        }
    }
}

/// Labels whose values are numbers: written as plain integers (leading zeros dropped).
/// Everything else (addresses, tariff names, status words, unknown labels) is text, trimmed.
/// The registry ([`crate::tic::labels`]) says which.
pub fn is_numeric_label(label: &str) -> bool {
    crate::tic::labels::is_numeric(label)
}

/// The cell for `value` of `label`: a plain integer for numeric labels whose value is all
/// digits, the trimmed text otherwise.
pub fn cell<'a>(label: &str, value: &'a str) -> std::borrow::Cow<'a, str> {
    let v = value.trim();
    if is_numeric_label(label) && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let t = v.trim_start_matches('0');
        std::borrow::Cow::Borrowed(if t.is_empty() { "0" } else { t })
    } else {
        std::borrow::Cow::Borrowed(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let p = day_file(Path::new("d"), day, 0);
        assert_eq!(p, Path::new("d/journal/2026/10/2026-10-25.csv"));
        assert_eq!(
            day_file(Path::new("d"), day, 2),
            Path::new("d/journal/2026/10/2026-10-25.2.csv")
        );
        assert_eq!(
            parquet_file(Path::new("d"), day),
            Path::new("d/records/2026/10/2026-10-25.parquet")
        );
        assert_eq!(
            periods_file(Path::new("d"), 2026, 3),
            Path::new("d/periods/2026/2026-03.parquet")
        );
        assert_eq!(parse_periods_name("2026-03.parquet"), Some((2026, 3)));
        assert_eq!(parse_periods_name("2026-13.parquet"), None);
        assert_eq!(parse_periods_name(".2026-03.parquet.tmp-1"), None);
        for (file, root) in [
            ("d/journal/2026/10/2026-10-25.csv", "d"),
            ("d/records/2026/10/2026-10-25.parquet", "d"),
            ("d/2026/10/2026-10-25.csv", "d"),
            ("journal/2026/10/2026-10-25.csv", "."),
            ("2026/10/2026-10-25.csv", ""),
        ] {
            assert_eq!(
                root_of(Path::new(file)).as_deref(),
                Some(Path::new(root)),
                "{file}"
            );
        }
        assert_eq!(parse_day_file_name("2026-10-25.csv"), Some((day, 0)));
        assert_eq!(parse_day_file_name("2026-10-25.2.csv"), Some((day, 2)));
        assert_eq!(
            parse_file_name("2026-10-25.parquet"),
            Some(DayFileName::Parquet(day))
        );
        assert_eq!(
            parse_file_name(&temp_name(day, "x1")),
            Some(DayFileName::Temp(day))
        );
        assert_eq!(
            parse_file_name("2026-10-25.1.csv"),
            Some(DayFileName::Csv(day, 1))
        );
        assert_eq!(parse_file_name("2026-10-25.parquet.bak"), None);
        assert_eq!(parse_file_name(".2026-10-25.csv"), None);
        for bad in [
            "2026-10-25.0.csv",
            "2026-10-25.x.csv",
            "notes.csv",
            "2026-13-01.csv",
            "2026-10-25.tic",
        ] {
            assert_eq!(parse_day_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn cells() {
        assert_eq!(cell("EAST", "011887649"), "11887649");
        assert_eq!(cell("EASF02", "000000000"), "0");
        assert_eq!(cell("ADSC", "041876097171"), "041876097171");
        assert_eq!(cell("NGTF", "      BASE      "), "BASE");
        assert_eq!(cell("PTEC", "HP.."), "HP..");
        assert_eq!(cell("IINST1", "001"), "1");
        assert_eq!(cell("EAST", "0118X7649"), "0118X7649");
    }
}
