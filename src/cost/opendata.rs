//! The publishers' own formats, read and verified (sans IO: bytes in, grids and colours out).
//!
//! ## The regulated grids: data.gouv.fr
//! The dataset *Historique des tarifs réglementés de vente d'électricité pour les
//! consommateurs résidentiels* (CRE, on data.gouv.fr) publishes one CSV file per option
//! ([`GridFile`]): `Option_Base.csv`, `Option_HPHC.csv`, `Option_Tempo.csv`, at the stable
//! resource addresses of [`GridFile::url`] (the ones Home Assistant's and openHAB's tariff
//! integrations read). The format, as published:
//! - UTF-8 (a byte-order mark is allowed), `;` between cells, CRLF or LF line ends, a header
//!   row naming exactly the columns of [`GridFile::columns`], one row per grid and power;
//! - `DATE_DEBUT` and `DATE_FIN` as `DD/MM/YYYY` (`DATE_FIN` empty for the grid in force),
//!   `P_SOUSCRITE` the power in kVA, `PART_FIXE_*` the subscription in € per year, the
//!   `PART_VARIABLE_*` prices in €/kWh, each `_HT` (before tax) and `_TTC`, with a decimal
//!   comma (`0,1952`, `189,9802924`);
//! - rows with no figure at all (`;;;;;;;;`, or a date and a power with every price empty:
//!   the Tempo 6 kVA rows before 2023) are no grid and are skipped.
//!
//! ## The Tempo colours: RTE
//! RTE publishes each Tempo season (1 September → 31 August) at
//! `https://www.services-rte.com/cms/open_data/v1/tempo?season=YYYY-YYYY` ([`rte_url`]), the
//! page behind its public Tempo calendar: a JSON object whose `values` map `YYYY-MM-DD` to
//! `BLUE`, `WHITE` or `RED`, and `YYYY-MM-DD-fallback` to `"true"` (a colour not yet
//! confirmed, not taken) or `"false"`. The community API that many Home Assistant
//! integrations read, `https://www.api-couleur-tempo.fr/api/joursTempo?periode=YYYY-YYYY`
//! ([`community_url`]), gives the same days as an array of
//! `{"dateJour": "YYYY-MM-DD", "codeJour": 1|2|3, …}` (1 blue, 2 white, 3 red; 0 not known
//! yet, not taken). [`parse_season`] reads either.
//!
//! ## What is verified
//! Grids: the header is the expected one (a schema change is refused, never guessed), every
//! row has its cells, dates and powers parse, the TTC figures lie in plausible ranges (a kWh
//! between 0.01 and 2 €, a subscription between 1 and 5,000 € a year, each HT figure at most
//! its TTC one), the file ends with a line break (a truncated download is refused), and for
//! each power the grids follow each other without gap or overlap (a row's `DATE_FIN` is the
//! day before the next row's `DATE_DEBUT`; only the last may be open). Colours: the JSON
//! shape, each date in its season and not after tomorrow, each colour known, the days
//! without gap from the start of the season to the last one given, and a finished season to
//! its last day. What the merge with the shipped tables adds (nothing already known
//! missing, no two colours for a day) is checked by [`super::update`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Datelike, Days, NaiveDate};

use super::grid::{Grid, Source, Subscription, Tariff};
use super::money::Decimal;
use crate::tic::labels::Colour;

/// A publisher's file that does not pass the checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct OpenDataError {
    /// The file (its published name).
    pub file: String,
    /// The 1-based line, when the fault is on one.
    pub line: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

/// One of the three grid files of the data.gouv.fr dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GridFile {
    /// `Option_Base.csv`.
    Base,
    /// `Option_HPHC.csv`.
    HpHc,
    /// `Option_Tempo.csv`.
    Tempo,
}

/// The powers a household contract may subscribe, kVA.
pub const POWERS: [u8; 9] = [3, 6, 9, 12, 15, 18, 24, 30, 36];

impl GridFile {
    /// The three files.
    pub const ALL: [GridFile; 3] = [GridFile::Base, GridFile::HpHc, GridFile::Tempo];

    /// The published file name (also its name in a mirror or an offline copy).
    pub fn file_name(self) -> &'static str {
        match self {
            GridFile::Base => "Option_Base.csv",
            GridFile::HpHc => "Option_HPHC.csv",
            GridFile::Tempo => "Option_Tempo.csv",
        }
    }

    /// Its stable data.gouv.fr resource address.
    pub fn url(self) -> &'static str {
        match self {
            GridFile::Base => {
                "https://www.data.gouv.fr/fr/datasets/r/c13d05e5-9e55-4d03-bf7e-042a2ade7e49"
            }
            GridFile::HpHc => {
                "https://www.data.gouv.fr/fr/datasets/r/f7303b3a-93c7-4242-813d-84919034c416"
            }
            GridFile::Tempo => {
                "https://www.data.gouv.fr/fr/datasets/r/0c3d1d36-c412-4620-8566-e5cbb4fa2b5a"
            }
        }
    }

    /// The option its grids price.
    pub fn tariff(self) -> Tariff {
        match self {
            GridFile::Base => Tariff::Base,
            GridFile::HpHc => Tariff::HcHp,
            GridFile::Tempo => Tariff::Tempo,
        }
    }

    /// The header, exactly.
    pub fn columns(self) -> &'static [&'static str] {
        const COMMON: [&str; 5] = [
            "DATE_DEBUT",
            "DATE_FIN",
            "P_SOUSCRITE",
            "PART_FIXE_HT",
            "PART_FIXE_TTC",
        ];
        match self {
            GridFile::Base => &[
                COMMON[0],
                COMMON[1],
                COMMON[2],
                COMMON[3],
                COMMON[4],
                "PART_VARIABLE_HT",
                "PART_VARIABLE_TTC",
            ],
            GridFile::HpHc => &[
                COMMON[0],
                COMMON[1],
                COMMON[2],
                COMMON[3],
                COMMON[4],
                "PART_VARIABLE_HC_HT",
                "PART_VARIABLE_HC_TTC",
                "PART_VARIABLE_HP_HT",
                "PART_VARIABLE_HP_TTC",
            ],
            GridFile::Tempo => &[
                COMMON[0],
                COMMON[1],
                COMMON[2],
                COMMON[3],
                COMMON[4],
                "PART_VARIABLE_HCBleu_HT",
                "PART_VARIABLE_HCBleu_TTC",
                "PART_VARIABLE_HPBleu_HT",
                "PART_VARIABLE_HPBleu_TTC",
                "PART_VARIABLE_HCBlanc_HT",
                "PART_VARIABLE_HCBlanc_TTC",
                "PART_VARIABLE_HPBlanc_HT",
                "PART_VARIABLE_HPBlanc_TTC",
                "PART_VARIABLE_HCRouge_HT",
                "PART_VARIABLE_HCRouge_TTC",
                "PART_VARIABLE_HPRouge_HT",
                "PART_VARIABLE_HPRouge_TTC",
            ],
        }
    }
}

impl fmt::Display for GridFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// The grids of one file.
#[derive(Clone, Debug)]
pub struct GridRows {
    /// The file.
    pub file: GridFile,
    /// One grid per row with figures, in file order ([`Source::Fetched`], its line).
    pub grids: Vec<Grid>,
    /// Rows without any figure, skipped.
    pub empty_rows: usize,
    /// Figures given with more than 5 decimal places, rounded half up to 5.
    pub rounded: usize,
}

/// The smallest and largest plausible TTC kWh price, in 10⁻⁵ €.
const KWH_RANGE: (i64, i64) = (1_000, 200_000);
/// The smallest and largest plausible yearly subscription, in 10⁻⁵ €.
const SUBSCRIPTION_RANGE: (i64, i64) = (100_000, 500_000_000);

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// `DD/MM/YYYY`.
fn french_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%d/%m/%Y").ok()
}

/// Reads and verifies one published grid file (see the module's contract).
pub fn parse_grid_file(file: GridFile, bytes: &[u8]) -> Result<GridRows, OpenDataError> {
    let name = file.file_name();
    let err = |line: Option<u64>, reason: String| OpenDataError {
        file: name.to_owned(),
        line,
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        err(
            None,
            format!("not UTF-8 text (byte {} is not)", e.valid_up_to()),
        )
    })?;
    let text = strip_bom(text);
    if text.trim().is_empty() {
        return Err(err(None, "empty file".into()));
    }
    if !text.ends_with('\n') {
        let lines = text.lines().count() as u64;
        return Err(err(
            Some(lines),
            "the last line has no line break: a truncated download".into(),
        ));
    }
    let mut lines = text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l));
    let Some((_, header)) = lines.next() else {
        return Err(err(None, "empty file".into()));
    };
    let found: Vec<&str> = header.split(';').map(str::trim).collect();
    let want = file.columns();
    if found != want {
        return Err(err(
            Some(1),
            format!(
                "unexpected columns: expected {}, found {} (the publisher changed the format: nothing is taken)",
                want.join(";"),
                found.join(";")
            ),
        ));
    }
    let tariff = file.tariff();
    let mut out = GridRows {
        file,
        grids: Vec::new(),
        empty_rows: 0,
        rounded: 0,
    };
    for (line, row) in lines {
        if row.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = row.split(';').map(str::trim).collect();
        let bad = |reason: String| err(Some(line), reason);
        if cells.len() != want.len() {
            return Err(bad(format!(
                "{} cells where the header has {}",
                cells.len(),
                want.len()
            )));
        }
        // No figure at all: no grid (blank rows, Tempo 6 kVA before 2023).
        if cells[3..].iter().all(|c| c.is_empty()) {
            out.empty_rows += 1;
            continue;
        }
        let date = |i: usize| {
            french_date(cells[i]).ok_or_else(|| {
                bad(format!(
                    "{}: expected a date DD/MM/YYYY, found {:?}",
                    want[i], cells[i]
                ))
            })
        };
        let valid_from = date(0)?;
        let valid_to = if cells[1].is_empty() {
            None
        } else {
            Some(date(1)?)
        };
        let kva: u8 = cells[2]
            .parse()
            .ok()
            .filter(|k| POWERS.contains(k))
            .ok_or_else(|| {
                bad(format!(
                    "P_SOUSCRITE: expected a power of {POWERS:?} kVA, found {:?}",
                    cells[2]
                ))
            })?;
        let mut number = |i: usize| -> Result<Decimal, OpenDataError> {
            if cells[i].is_empty() {
                return Err(bad(format!("{}: empty", want[i])));
            }
            let (d, rounded) = Decimal::parse_rounded(&cells[i].replace(',', "."))
                .map_err(|e| bad(format!("{}: {e}", want[i])))?;
            out.rounded += usize::from(rounded);
            Ok(d)
        };
        let fixed_ht = number(3)?;
        let fixed = number(4)?;
        let mut kwh = Vec::with_capacity((want.len() - 5) / 2);
        let mut pairs = Vec::with_capacity(kwh.capacity());
        for i in (5..want.len()).step_by(2) {
            let ht = number(i)?;
            let ttc = number(i + 1)?;
            pairs.push((i, ht, ttc));
            kwh.push(ttc);
        }
        let out_of = |i: usize, d: Decimal, (lo, hi): (i64, i64), unit: &str| {
            (d.units() < lo || d.units() > hi).then(|| {
                bad(format!(
                    "{}: {d} {unit} is outside the plausible {} to {} {unit}",
                    want[i],
                    Decimal::from_units(lo),
                    Decimal::from_units(hi)
                ))
            })
        };
        if let Some(e) = out_of(4, fixed, SUBSCRIPTION_RANGE, "€ a year") {
            return Err(e);
        }
        if fixed_ht > fixed {
            return Err(bad(format!(
                "PART_FIXE_HT {fixed_ht} is more than PART_FIXE_TTC {fixed}"
            )));
        }
        for &(i, ht, ttc) in &pairs {
            if let Some(e) = out_of(i + 1, ttc, KWH_RANGE, "€/kWh") {
                return Err(e);
            }
            if ht > ttc {
                return Err(bad(format!(
                    "{} {ht} is more than {} {ttc}",
                    want[i],
                    want[i + 1]
                )));
            }
        }
        if let Some(to) = valid_to {
            if to < valid_from {
                return Err(bad(format!(
                    "DATE_FIN {} is before DATE_DEBUT {}",
                    cells[1], cells[0]
                )));
            }
        }
        out.grids.push(Grid {
            tariff,
            kva,
            valid_from,
            valid_to,
            subscription: Subscription::PerYear(fixed),
            kwh,
            source: Source::Fetched,
            line,
        });
    }
    if out.grids.is_empty() {
        return Err(err(None, "no grid in the file".into()));
    }
    // Each power's grids follow each other: no gap, no overlap, only the last open.
    let mut by_kva: BTreeMap<u8, Vec<&Grid>> = BTreeMap::new();
    for g in &out.grids {
        by_kva.entry(g.kva).or_default().push(g);
    }
    for list in by_kva.values_mut() {
        list.sort_by_key(|g| g.valid_from);
        for pair in list.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let at = |reason: String| err(Some(b.line), reason);
            if a.valid_from == b.valid_from {
                return Err(at(format!(
                    "a second {} kVA grid from {} (the first at line {})",
                    b.kva, b.valid_from, a.line
                )));
            }
            match a.valid_to {
                None => {
                    return Err(at(format!(
                        "the {} kVA grid from {} follows one with no end (line {}): an overlap",
                        b.kva, b.valid_from, a.line
                    )))
                }
                Some(to) if to.checked_add_days(Days::new(1)) != Some(b.valid_from) => {
                    return Err(at(format!(
                        "the {} kVA grid from {} follows one that ends {to} (line {}): a gap or an overlap",
                        b.kva, b.valid_from, a.line
                    )))
                }
                Some(_) => {}
            }
        }
    }
    Ok(out)
}

/// A Tempo season: 1 September of `start` to 31 August of the next year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Season {
    /// The year it starts.
    pub start: i32,
}

impl Season {
    /// The season `date` lies in.
    pub fn of(date: NaiveDate) -> Season {
        Season {
            start: if date.month() >= 9 {
                date.year()
            } else {
                date.year() - 1
            },
        }
    }

    /// 1 September of its first year.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start, 9, 1).unwrap_or(NaiveDate::MIN)
    }

    /// 31 August of its second year.
    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start + 1, 8, 31).unwrap_or(NaiveDate::MAX)
    }

    /// The next season.
    pub fn next(self) -> Season {
        Season {
            start: self.start + 1,
        }
    }

    /// The name of its file in a mirror or an offline copy: `tempo_2025-2026.json`.
    pub fn file_name(self) -> String {
        format!("tempo_{self}.json")
    }

    /// Parses `2025-2026`.
    pub fn parse(s: &str) -> Option<Season> {
        let (a, b) = s.split_once('-')?;
        let a: i32 = a.parse().ok()?;
        let b: i32 = b.parse().ok()?;
        (b == a + 1 && (2000..3000).contains(&a)).then_some(Season { start: a })
    }
}

impl fmt::Display for Season {
    /// `2025-2026`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.start + 1)
    }
}

/// RTE's address of a season's colours.
pub fn rte_url(season: Season) -> String {
    format!("https://www.services-rte.com/cms/open_data/v1/tempo?season={season}")
}

/// The community API's address of a season's colours.
pub fn community_url(season: Season) -> String {
    format!("https://www.api-couleur-tempo.fr/api/joursTempo?periode={season}")
}

/// Which format a season's colours came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TempoFormat {
    /// RTE's `{"values": {…}}`.
    Rte,
    /// api-couleur-tempo.fr's `[{"dateJour": …, "codeJour": …}]`.
    Community,
}

impl TempoFormat {
    /// `RTE`, `api-couleur-tempo.fr`.
    pub fn publisher(self) -> &'static str {
        match self {
            TempoFormat::Rte => "RTE",
            TempoFormat::Community => "api-couleur-tempo.fr",
        }
    }
}

/// The colours of one season.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeasonDays {
    /// The season.
    pub season: Season,
    /// The format it came in.
    pub format: TempoFormat,
    /// The colour of each day given, from the first day of the season without a gap.
    pub days: BTreeMap<NaiveDate, Colour>,
    /// Days given as not yet known (RTE's fallback colours, the community API's code 0).
    pub pending: usize,
}

impl SeasonDays {
    /// The last day given a colour.
    pub fn last(&self) -> Option<NaiveDate> {
        self.days.keys().next_back().copied()
    }

    /// Whether every day of the season has its colour.
    pub fn complete(&self) -> bool {
        self.last() == Some(self.season.last_day())
    }
}

fn rte_colour(s: &str) -> Option<Colour> {
    match s {
        "BLUE" => Some(Colour::Blue),
        "WHITE" => Some(Colour::White),
        "RED" => Some(Colour::Red),
        _ => None,
    }
}

/// Reads and verifies the colours of `season` in either published format (`file` names it
/// in errors); `today` is the day of the update (no colour after tomorrow is possible).
pub fn parse_season(
    season: Season,
    file: &str,
    bytes: &[u8],
    today: NaiveDate,
) -> Result<SeasonDays, OpenDataError> {
    let err = |reason: String| OpenDataError {
        file: file.to_owned(),
        line: None,
        reason,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| OpenDataError {
        file: file.to_owned(),
        line: Some(e.line() as u64),
        reason: format!("not JSON ({e}): a truncated or altered download"),
    })?;
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let mut days: BTreeMap<NaiveDate, Colour> = BTreeMap::new();
    let mut pending: BTreeSet<NaiveDate> = BTreeSet::new();
    let format = match &value {
        serde_json::Value::Object(o) => {
            let values = o
                .get("values")
                .and_then(serde_json::Value::as_object)
                .ok_or_else(|| {
                    err(
                        "expected RTE's {\"values\": {\"YYYY-MM-DD\": \"BLUE\"…}}: no \"values\" object"
                            .into(),
                    )
                })?;
            for (k, v) in values {
                let text = v
                    .as_str()
                    .ok_or_else(|| err(format!("values.{k}: expected a string, found {v}")))?;
                if let Some(d) = k.strip_suffix("-fallback").and_then(date) {
                    match text {
                        "true" => {
                            pending.insert(d);
                        }
                        "false" => {}
                        _ => {
                            return Err(err(format!(
                                "values.{k}: expected \"true\" or \"false\", found {text:?}"
                            )))
                        }
                    }
                    continue;
                }
                let d = date(k).ok_or_else(|| {
                    err(format!(
                        "values: expected keys YYYY-MM-DD or YYYY-MM-DD-fallback, found {k:?}"
                    ))
                })?;
                let c = rte_colour(text).ok_or_else(|| {
                    err(format!(
                        "values.{k}: expected BLUE, WHITE or RED, found {text:?}"
                    ))
                })?;
                days.insert(d, c);
            }
            TempoFormat::Rte
        }
        serde_json::Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let field = |name: &str| item.get(name);
                let d = field("dateJour")
                    .and_then(serde_json::Value::as_str)
                    .and_then(date)
                    .ok_or_else(|| {
                        err(format!(
                            "[{i}]: expected \"dateJour\": \"YYYY-MM-DD\", found {item}"
                        ))
                    })?;
                let code = field("codeJour")
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| {
                        err(format!(
                            "[{i}]: expected \"codeJour\": 0 to 3, found {item}"
                        ))
                    })?;
                let c = match code {
                    0 => {
                        pending.insert(d);
                        continue;
                    }
                    1 => Colour::Blue,
                    2 => Colour::White,
                    3 => Colour::Red,
                    other => {
                        return Err(err(format!(
                            "[{i}]: expected \"codeJour\" 0 to 3, found {other}"
                        )))
                    }
                };
                if days.insert(d, c).is_some_and(|old| old != c) {
                    return Err(err(format!("{d} is given two colours")));
                }
            }
            TempoFormat::Community
        }
        _ => {
            return Err(err(
                "expected RTE's {\"values\": …} object or api-couleur-tempo.fr's array".into(),
            ))
        }
    };
    // A colour not yet confirmed is not one.
    for d in &pending {
        days.remove(d);
    }
    let (first, last) = match (days.keys().next(), days.keys().next_back()) {
        (Some(&a), Some(&b)) => (a, b),
        _ if season.first_day() > today => {
            return Ok(SeasonDays {
                season,
                format,
                days,
                pending: pending.len(),
            })
        }
        _ => return Err(err(format!("no day of the season {season} has a colour"))),
    };
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    if let Some(d) = days.keys().find(|d| Season::of(**d) != season) {
        return Err(err(format!("{d} is not in the season {season}")));
    }
    if last > tomorrow {
        return Err(err(format!(
            "a colour for {last}, after tomorrow ({tomorrow}): not a published colour"
        )));
    }
    if first != season.first_day() {
        return Err(err(format!(
            "the season {season} starts {} but the first colour is of {first}",
            season.first_day()
        )));
    }
    let n = (last - first).num_days() + 1;
    if n != days.len() as i64 {
        let missing = first
            .iter_days()
            .take_while(|d| *d <= last)
            .find(|d| !days.contains_key(d))
            .unwrap_or(first);
        return Err(err(format!(
            "no colour for {missing} between {first} and {last}: a gap"
        )));
    }
    // A season over must be whole; the current one must reach yesterday.
    let yesterday = today.pred_opt().unwrap_or(today);
    let due = season.last_day().min(yesterday);
    if last < due {
        return Err(err(format!(
            "the colours stop at {last}, before {due}: a truncated or stale file"
        )));
    }
    Ok(SeasonDays {
        season,
        format,
        days,
        pending: pending.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    const BASE: &str = "DATE_DEBUT;DATE_FIN;P_SOUSCRITE;PART_FIXE_HT;PART_FIXE_TTC;PART_VARIABLE_HT;PART_VARIABLE_TTC\r\n\
01/02/2025;31/07/2025;6;134,16;165,17;0,1343;0,2016\r\n\
01/08/2025;;6;132,84;185,94;0,1327;0,1952\r\n\
;;;;;;\r\n";

    #[test]
    fn a_published_grid_file_reads() {
        let r = parse_grid_file(GridFile::Base, BASE.as_bytes()).expect("reads");
        assert_eq!(r.grids.len(), 2);
        assert_eq!(r.empty_rows, 1);
        let g = &r.grids[1];
        assert_eq!(g.valid_from, day("2025-08-01"));
        assert_eq!(g.valid_to, None);
        assert_eq!(g.kva, 6);
        assert_eq!(
            g.subscription,
            Subscription::PerYear(Decimal::parse("185.94").expect("d"))
        );
        assert_eq!(g.kwh, [Decimal::parse("0.1952").expect("d")]);
        assert_eq!((g.source, g.line), (Source::Fetched, 3));
        // A byte-order mark and LF line ends read the same; 7 decimals are rounded.
        let bom = format!(
            "\u{feff}{}",
            BASE.replace("\r\n", "\n").replace("185,94", "189,9802924")
        );
        let r = parse_grid_file(GridFile::Base, bom.as_bytes()).expect("reads");
        assert_eq!(r.rounded, 1);
        assert_eq!(
            r.grids[1].subscription,
            Subscription::PerYear(Decimal::from_units(18_998_029))
        );
    }

    #[test]
    fn bad_grid_files_are_refused_with_the_line() {
        let header = BASE.lines().next().expect("header");
        let row = |r: &str| format!("{header}\r\n{r}\r\n");
        let cases: Vec<(String, &str)> = vec![
            (BASE.trim_end().to_owned(), "Option_Base.csv:4: the last line has no line break: a truncated download"),
            (BASE.replace("PART_VARIABLE_TTC", "PART_VARIABLE_TTC;PART_NEW"), "Option_Base.csv:1: unexpected columns: expected DATE_DEBUT;DATE_FIN;P_SOUSCRITE;PART_FIXE_HT;PART_FIXE_TTC;PART_VARIABLE_HT;PART_VARIABLE_TTC, found DATE_DEBUT;DATE_FIN;P_SOUSCRITE;PART_FIXE_HT;PART_FIXE_TTC;PART_VARIABLE_HT;PART_VARIABLE_TTC;PART_NEW (the publisher changed the format: nothing is taken)"),
            (row("01/08/2025;;6;132,84;185,94;0,1327"), "Option_Base.csv:2: 6 cells where the header has 7"),
            (row("2025-08-01;;6;132,84;185,94;0,1327;0,1952"), "Option_Base.csv:2: DATE_DEBUT: expected a date DD/MM/YYYY, found \"2025-08-01\""),
            (row("01/08/2025;;7;132,84;185,94;0,1327;0,1952"), "Option_Base.csv:2: P_SOUSCRITE: expected a power of [3, 6, 9, 12, 15, 18, 24, 30, 36] kVA, found \"7\""),
            (row("01/08/2025;;6;132,84;185,94;0,1327;19,52"), "Option_Base.csv:2: PART_VARIABLE_TTC: 19.52 €/kWh is outside the plausible 0.01 to 2 €/kWh"),
            (row("01/08/2025;;6;132,84;0,5;0,1327;0,1952"), "Option_Base.csv:2: PART_FIXE_TTC: 0.5 € a year is outside the plausible 1 to 5000 € a year"),
            (row("01/08/2025;;6;132,84;185,94;0,2327;0,1952"), "Option_Base.csv:2: PART_VARIABLE_HT 0.2327 is more than PART_VARIABLE_TTC 0.1952"),
            (row("01/08/2025;;6;132,84;185,94;;0,1952"), "Option_Base.csv:2: PART_VARIABLE_HT: empty"),
            (row("01/08/2025;;6;132,84;185,94;-0,1;0,1952"), "Option_Base.csv:2: PART_VARIABLE_HT: expected a price of zero or more, found \"-0.1\""),
            (format!("{header}\r\n01/02/2025;30/07/2025;6;134,16;165,17;0,1343;0,2016\r\n01/08/2025;;6;132,84;185,94;0,1327;0,1952\r\n"), "Option_Base.csv:3: the 6 kVA grid from 2025-08-01 follows one that ends 2025-07-30 (line 2): a gap or an overlap"),
            (format!("{header}\r\n01/02/2025;;6;134,16;165,17;0,1343;0,2016\r\n01/08/2025;;6;132,84;185,94;0,1327;0,1952\r\n"), "Option_Base.csv:3: the 6 kVA grid from 2025-08-01 follows one with no end (line 2): an overlap"),
            (format!("{header}\r\n"), "Option_Base.csv: no grid in the file"),
            (String::new(), "Option_Base.csv: empty file"),
        ];
        for (text, want) in cases {
            let e = parse_grid_file(GridFile::Base, text.as_bytes()).expect_err(want);
            assert_eq!(e.to_string(), want);
        }
        let e = parse_grid_file(GridFile::Base, b"\xff\xfe").expect_err("not UTF-8");
        assert_eq!(
            e.to_string(),
            "Option_Base.csv: not UTF-8 text (byte 0 is not)"
        );
    }

    #[test]
    fn seasons() {
        assert_eq!(Season::of(day("2026-08-31")).to_string(), "2025-2026");
        assert_eq!(Season::of(day("2026-09-01")).to_string(), "2026-2027");
        let s = Season::parse("2025-2026").expect("season");
        assert_eq!(
            (s.first_day(), s.last_day()),
            (day("2025-09-01"), day("2026-08-31"))
        );
        assert_eq!(s.next().file_name(), "tempo_2026-2027.json");
        assert_eq!(Season::parse("2025-2027"), None);
        assert!(rte_url(s).ends_with("tempo?season=2025-2026"));
        assert!(community_url(s).ends_with("joursTempo?periode=2025-2026"));
    }

    /// RTE's JSON for the season 2026-2027 from 1 September to `last`, with `fallback` days.
    fn rte(last: &str, fallback: &[&str]) -> String {
        let mut v = Vec::new();
        for d in day("2026-09-01")
            .iter_days()
            .take_while(|d| *d <= day(last))
        {
            let c = if d.day() == 15 { "WHITE" } else { "BLUE" };
            v.push(format!("\"{d}\":\"{c}\",\"{d}-fallback\":\"false\""));
        }
        for d in fallback {
            v.push(format!("\"{d}\":\"BLUE\",\"{d}-fallback\":\"true\""));
        }
        format!("{{\"values\":{{{}}}}}", v.join(","))
    }

    #[test]
    fn rte_and_community_seasons_read() {
        let s = Season { start: 2026 };
        let today = day("2026-12-06");
        let r = parse_season(
            s,
            "t.json",
            rte("2026-12-06", &["2026-12-07"]).as_bytes(),
            today,
        )
        .expect("reads");
        assert_eq!(r.format, TempoFormat::Rte);
        assert_eq!(r.days.len(), 97);
        assert_eq!(r.pending, 1);
        assert_eq!(r.days.get(&day("2026-09-15")), Some(&Colour::White));
        assert_eq!(r.last(), Some(day("2026-12-06")));
        assert!(!r.complete());
        let community = r#"[{"dateJour":"2026-09-01","codeJour":1,"periode":"2026-2027"},
            {"dateJour":"2026-09-02","codeJour":3,"periode":"2026-2027"},
            {"dateJour":"2026-09-03","codeJour":0,"periode":"2026-2027"}]"#;
        let r = parse_season(s, "c.json", community.as_bytes(), day("2026-09-03")).expect("reads");
        assert_eq!(r.format, TempoFormat::Community);
        assert_eq!(r.days.len(), 2);
        assert_eq!(r.pending, 1);
        assert_eq!(r.days.get(&day("2026-09-02")), Some(&Colour::Red));
        // A season not started yet may be empty.
        let r = parse_season(s.next(), "n.json", b"{\"values\":{}}", today).expect("empty");
        assert!(r.days.is_empty());
    }

    #[test]
    fn bad_seasons_are_refused() {
        let s = Season { start: 2026 };
        let today = day("2026-12-06");
        let full = rte("2026-12-06", &[]);
        let cases: Vec<(String, &str)> = vec![
            (full[..full.len() / 2].to_owned(), "t.json:1: not JSON"),
            ("{\"other\":{}}".into(), "t.json: expected RTE's {\"values\": {\"YYYY-MM-DD\": \"BLUE\"…}}: no \"values\" object"),
            ("{\"values\":{\"2026-09-01\":\"GREEN\"}}".into(), "t.json: values.2026-09-01: expected BLUE, WHITE or RED, found \"GREEN\""),
            ("{\"values\":{\"01/09/2026\":\"BLUE\"}}".into(), "t.json: values: expected keys YYYY-MM-DD or YYYY-MM-DD-fallback, found \"01/09/2026\""),
            ("{\"values\":{\"2026-09-01\":1}}".into(), "t.json: values.2026-09-01: expected a string, found 1"),
            (full.replace("\"2026-10-10\":\"BLUE\",", ""), "t.json: no colour for 2026-10-10 between 2026-09-01 and 2026-12-06: a gap"),
            (rte("2026-12-01", &[]), "t.json: the colours stop at 2026-12-01, before 2026-12-05: a truncated or stale file"),
            (full.replace("}}", ",\"2026-12-09\":\"RED\"}}"), "t.json: a colour for 2026-12-09, after tomorrow (2026-12-07): not a published colour"),
            (full.replace("}}", ",\"2025-12-09\":\"RED\"}}"), "t.json: 2025-12-09 is not in the season 2026-2027"),
            (full.replace("\"2026-09-01\":\"BLUE\",", ""), "t.json: the season 2026-2027 starts 2026-09-01 but the first colour is of 2026-09-02"),
            ("[{\"dateJour\":\"2026-09-01\",\"codeJour\":7}]".into(), "t.json: [0]: expected \"codeJour\" 0 to 3, found 7"),
            ("\"BLUE\"".into(), "t.json: expected RTE's {\"values\": …} object or api-couleur-tempo.fr's array"),
            ("{\"values\":{}}".into(), "t.json: no day of the season 2026-2027 has a colour"),
        ];
        for (text, want) in cases {
            let e = parse_season(s, "t.json", text.as_bytes(), today).expect_err(want);
            assert!(e.to_string().starts_with(want), "{e}\n/ {want}");
        }
    }
}
