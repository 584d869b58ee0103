//! The Tempo calendar: the colour of each Tempo day.
//!
//! ## Contract
//! - A **Tempo day** `D` runs from 06:00 local (Europe/Paris, [`crate::store::TZ`]) on `D`
//!   to 06:00 on `D + 1` ([`tempo_day`]); an instant's colour is its Tempo day's
//!   ([`TempoCalendar::colour_at`]). 06:00 is never in a DST gap or repeat in France.
//! - The shipped calendar ([`TempoCalendar::shipped`]) is `data/tariffs/tempo_days.csv`,
//!   embedded, 2014-09-01 → 2026-08-23, parsed once on first use.
//! - A calendar file (`--tempo-calendar FILE`) is CSV `date,colour`: `date` as YYYY-MM-DD,
//!   `colour` as `BLEU`/`BLANC`/`ROUGE` or `blue`/`white`/`red`, case-insensitive; a first
//!   line whose first cell is `date` is a header; further columns and blank lines are
//!   ignored. A bad date, an unknown colour, a missing colour or one date given two colours
//!   is an error naming the file and line. [`TempoCalendar::extend`] lets it (or colours
//!   read from the meter with [`TempoCalendar::insert`]) override the shipped days.
//! - A day with no known colour is `None`, never a guess.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Timelike};
use chrono_tz::Tz;

use super::Lines;
use crate::store::TZ;
use crate::tic::labels::Colour;

/// The embedded calendar's name in errors.
pub const TEMPO_FILE: &str = "data/tariffs/tempo_days.csv (embedded)";

const TEMPO_CSV: &str = include_str!("../../data/tariffs/tempo_days.csv");

/// When a Tempo day starts, local time: 06:00.
pub const DAY_START_HOUR: u32 = 6;

/// A calendar failure.
#[derive(Debug, thiserror::Error)]
pub enum TempoError {
    /// The file cannot be read.
    #[error("cannot read Tempo calendar {path:?}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not readable CSV (not UTF-8…).
    #[error("{path}:{line}", path = .path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The CSV error.
        #[source]
        source: csv::Error,
    },
    /// A malformed line.
    #[error("{path}:{line}: {reason}", path = .path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The embedded calendar failed to parse (the first failure, kept).
    #[error(transparent)]
    Embedded(&'static TempoError),
}

/// Colours by Tempo day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TempoCalendar {
    days: BTreeMap<NaiveDate, Colour>,
}

static SHIPPED: OnceLock<Result<TempoCalendar, TempoError>> = OnceLock::new();

/// The Tempo day an instant falls in: its local date, or the day before when it is earlier
/// than 06:00.
pub fn tempo_day(t: &DateTime<Tz>) -> NaiveDate {
    let local = t.with_timezone(&TZ);
    let date = local.date_naive();
    if local.hour() < DAY_START_HOUR {
        date.pred_opt().unwrap_or(date)
    } else {
        date
    }
}

/// A colour word: `BLEU`/`BLANC`/`ROUGE` or `blue`/`white`/`red`, case-insensitive.
pub fn parse_colour(s: &str) -> Option<Colour> {
    match s.trim().to_ascii_lowercase().as_str() {
        "bleu" | "blue" => Some(Colour::Blue),
        "blanc" | "white" => Some(Colour::White),
        "rouge" | "red" => Some(Colour::Red),
        _ => None,
    }
}

impl TempoCalendar {
    /// No day known.
    pub fn new() -> TempoCalendar {
        TempoCalendar::default()
    }

    /// The shipped calendar, parsed on first use.
    pub fn shipped() -> Result<&'static TempoCalendar, TempoError> {
        let r = SHIPPED.get_or_init(|| TempoCalendar::parse(TEMPO_CSV, Path::new(TEMPO_FILE)));
        match r {
            Ok(c) => Ok(c),
            Err(e) => Err(TempoError::Embedded(e)),
        }
    }

    /// Reads a `date,colour` file.
    pub fn read(path: &Path) -> Result<TempoCalendar, TempoError> {
        let text = std::fs::read(path).map_err(|source| TempoError::Io {
            path: path.to_owned(),
            source,
        })?;
        TempoCalendar::parse_bytes(&text, path)
    }

    /// Parses `date,colour` text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<TempoCalendar, TempoError> {
        TempoCalendar::parse_bytes(text.as_bytes(), origin)
    }

    fn parse_bytes(bytes: &[u8], origin: &Path) -> Result<TempoCalendar, TempoError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut days = BTreeMap::new();
        let mut first_lines: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        let mut record = csv::StringRecord::new();
        let mut lines = Lines::default();
        let mut line = 0;
        let mut first = true;
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(source) => {
                    let line = source
                        .position()
                        .map_or(line + 1, |p| lines.at(bytes, p.byte()));
                    return Err(TempoError::Csv {
                        path: origin.to_owned(),
                        line,
                        source,
                    });
                }
            }
            line = record
                .position()
                .map_or(line + 1, |p| lines.at(bytes, p.byte()));
            let bad = |reason: String| TempoError::Line {
                path: origin.to_owned(),
                line,
                reason,
            };
            let date_cell = record.get(0).unwrap_or("").trim();
            if std::mem::take(&mut first) && date_cell.eq_ignore_ascii_case("date") {
                continue;
            }
            if record.len() == 1 && date_cell.is_empty() {
                continue;
            }
            let date = NaiveDate::parse_from_str(date_cell, "%Y-%m-%d")
                .map_err(|_| bad(format!("expected a date YYYY-MM-DD, found {date_cell:?}")))?;
            let colour_cell = record.get(1).map(str::trim).unwrap_or("");
            if colour_cell.is_empty() {
                return Err(bad(format!("no colour for {date}")));
            }
            let colour = parse_colour(colour_cell).ok_or_else(|| {
                bad(format!(
                    "expected a colour (BLEU, BLANC, ROUGE or blue, white, red), found {colour_cell:?}"
                ))
            })?;
            if let Some(old) = days.insert(date, colour) {
                if old != colour {
                    let first_line = first_lines.get(&date).copied().unwrap_or(0);
                    return Err(bad(format!(
                        "{date} is {} here but {} at line {first_line}",
                        colour.french(),
                        old.french()
                    )));
                }
            }
            first_lines.entry(date).or_insert(line);
        }
        Ok(TempoCalendar { days })
    }

    /// Adds `other`'s days, which override this calendar's.
    pub fn extend(&mut self, other: &TempoCalendar) {
        self.days.extend(other.days.iter().map(|(&d, &c)| (d, c)));
    }

    /// Sets the colour of Tempo day `date` (e.g. read from the meter); returns the old one.
    pub fn insert(&mut self, date: NaiveDate, colour: Colour) -> Option<Colour> {
        self.days.insert(date, colour)
    }

    /// The colour of Tempo day `date` (06:00 on `date` → 06:00 the next day).
    pub fn colour(&self, date: NaiveDate) -> Option<Colour> {
        self.days.get(&date).copied()
    }

    /// The colour in force at `t`: that of the Tempo day it falls in.
    pub fn colour_at(&self, t: &DateTime<Tz>) -> Option<Colour> {
        self.colour(tempo_day(t))
    }

    /// The first and last days known.
    pub fn span(&self) -> Option<(NaiveDate, NaiveDate)> {
        Some((*self.days.keys().next()?, *self.days.keys().next_back()?))
    }

    /// How many days are known.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// Whether no day is known.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The days from `first` to `last` (inclusive) that have no colour.
    pub fn missing(&self, first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| !self.days.contains_key(d))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn at(s: &str) -> DateTime<Tz> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test time");
        TZ.from_local_datetime(&naive).earliest().expect("exists")
    }

    #[test]
    fn the_shipped_calendar_parses() {
        let c = TempoCalendar::shipped().expect("embedded calendar parses");
        assert_eq!(c.len(), 4375);
        assert_eq!(c.span(), Some((day("2014-09-01"), day("2026-08-23"))));
        assert!(c.missing(day("2014-09-01"), day("2026-08-23")).is_empty());
        // PROVENANCE.md: the one conflict, kept BLANC; Sundays are blue.
        assert_eq!(c.colour(day("2022-05-24")), Some(Colour::White));
        assert_eq!(c.colour(day("2025-01-05")), Some(Colour::Blue));
        assert_eq!(c.colour(day("2026-08-24")), None);
        // 2019-20: 18 red and 47 white days.
        let (mut red, mut white) = (0, 0);
        for d in day("2019-09-01")
            .iter_days()
            .take_while(|d| *d <= day("2020-08-31"))
        {
            match c.colour(d) {
                Some(Colour::Red) => red += 1,
                Some(Colour::White) => white += 1,
                _ => {}
            }
        }
        assert_eq!((red, white), (18, 47));
    }

    #[test]
    fn the_colour_changes_at_six() {
        let mut c = TempoCalendar::new();
        c.insert(day("2025-01-10"), Colour::Red);
        c.insert(day("2025-01-11"), Colour::White);
        for (t, want) in [
            ("2025-01-10 05:59", None),
            ("2025-01-10 06:00", Some(Colour::Red)),
            ("2025-01-10 23:59", Some(Colour::Red)),
            ("2025-01-11 00:00", Some(Colour::Red)),
            ("2025-01-11 05:59", Some(Colour::Red)),
            ("2025-01-11 06:00", Some(Colour::White)),
            ("2025-01-12 05:00", Some(Colour::White)),
            ("2025-01-12 06:00", None),
        ] {
            assert_eq!(c.colour_at(&at(t)), want, "{t}");
        }
        // On the DST nights too: 03:30 CEST on 30 March is still the 29th's Tempo day.
        assert_eq!(tempo_day(&at("2025-03-30 03:30")), day("2025-03-29"));
        assert_eq!(tempo_day(&at("2025-10-26 02:30")), day("2025-10-25"));
        assert_eq!(tempo_day(&at("2025-10-26 06:00")), day("2025-10-26"));
    }

    #[test]
    fn calendar_files() {
        let p = Path::new("cal.csv");
        let c = TempoCalendar::parse(
            "date,colour\n2026-08-24,ROUGE\n2026-08-25,white\n\n2026-08-26,Blue,extra\n2026-08-24,rouge\n",
            p,
        )
        .expect("parses");
        assert_eq!(c.len(), 3);
        assert_eq!(c.colour(day("2026-08-25")), Some(Colour::White));
        // No header.
        let c2 = TempoCalendar::parse("2025-01-10,BLEU\r\n", p).expect("parses");
        assert_eq!(c2.colour(day("2025-01-10")), Some(Colour::Blue));
        // Extending overrides the shipped days.
        let mut all = TempoCalendar::shipped().expect("shipped").clone();
        assert_eq!(all.colour(day("2025-01-10")), Some(Colour::Red));
        all.extend(&c);
        all.extend(&c2);
        assert_eq!(all.colour(day("2025-01-10")), Some(Colour::Blue));
        assert_eq!(all.colour(day("2026-08-24")), Some(Colour::Red));
        assert_eq!(all.span().map(|s| s.1), Some(day("2026-08-26")));
    }

    #[test]
    fn calendar_file_errors_name_the_line() {
        let p = Path::new("cal.csv");
        for (text, want) in [
            ("date,colour\n2025-13-01,BLEU\n", "cal.csv:2: expected a date YYYY-MM-DD, found \"2025-13-01\""),
            ("2025-01-01,BLEU\n2025-01-02,VERT\n", "cal.csv:2: expected a colour (BLEU, BLANC, ROUGE or blue, white, red), found \"VERT\""),
            ("2025-01-01,BLEU\n\n2025-01-02\n", "cal.csv:3: no colour for 2025-01-02"),
            ("2025-01-01,BLEU\n2025-01-02,\n", "cal.csv:2: no colour for 2025-01-02"),
            ("2025-01-01,BLEU\n2025-01-01,ROUGE\n", "cal.csv:2: 2025-01-01 is ROUGE here but BLEU at line 1"),
            ("date,colour\ndate,colour\n", "cal.csv:2: expected a date YYYY-MM-DD, found \"date\""),
        ] {
            let e = TempoCalendar::parse(text, p).expect_err(want);
            assert!(e.to_string().starts_with(want), "{e} / {want}");
        }
        let e = TempoCalendar::parse_bytes(b"2025-01-01,BL\xffEU\n", p).expect_err("not UTF-8");
        let e = crate::error::Chain(&e).to_string();
        assert!(e.starts_with("cal.csv:1: "), "{e}");
        let e = TempoCalendar::read(Path::new("/nonexistent/cal.csv")).expect_err("no file");
        assert!(matches!(e, TempoError::Io { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
