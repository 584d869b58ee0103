//! The regulated EDF *Tarif Bleu* grids, embedded from `data/tariffs/trv_tarif_bleu.csv`.
//!
//! ## Contract
//! - One [`Grid`] per row: an option ([`Tariff`]), a subscribed power (kVA), the day it
//!   starts (`valid_from`), TTC kWh prices per [band](Tariff::bands) and a subscription.
//! - **Validity**: a grid lasts from its `valid_from` until the day before the next grid of
//!   the same option and kVA. The official `valid_to` (blank on EDF-grid rows and on the
//!   2025-08-01 official rows) must agree with that where it is given; the table is refused
//!   otherwise. The last grid of an option and kVA is known in force through
//!   [`KNOWN_UNTIL`], the day the shipped tables were compiled; a later day gets that last
//!   grid with [`InForce::beyond_known`] set (the caller warns).
//! - **No grid is an error**, never a zero price: a day before the first grid of its option
//!   and kVA, or an option and kVA the table lacks (Tempo 24 kVA, Base 18–36 kVA before
//!   2023-08-01, Tempo 6 kVA before 2023-02-01…), is [`GridError::NoGrid`].
//! - **Subscription**: the official annual CRE figure where the row has one, else EDF's
//!   monthly figure × 12 ([`Subscription::annual`]); a day costs annual / days in its year.
//! - Where sources disagree, the shipped main file is used as is (`data/tariffs/README.md`):
//!   0.1287 for 2025-02-01 Tempo blue HC, JC144's 0.1940/0.1927 for 2026-02-01 Base, no
//!   2024-11-01 grid. EJP's 2026-02-01 grid carries [`Caveat::SuspectEjpPrices`].
//! - The table is parsed once, on first use; a malformed row is a [`GridError::Table`]
//!   naming the embedded file and line (a unit test parses it).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{Days, NaiveDate};

use super::money::{Decimal, MoneyError};
use super::{Caveat, Lines};
use crate::tic::labels::Calendar;

/// The embedded grid table's name in errors.
pub const GRID_FILE: &str = "data/tariffs/trv_tarif_bleu.csv (embedded)";

const GRID_CSV: &str = include_str!("../../data/tariffs/trv_tarif_bleu.csv");

/// The last day the shipped tables are known to describe (the Tempo calendar's last day,
/// the day they were compiled): the last grid of each option is taken as in force until
/// then, and flagged beyond it.
pub const KNOWN_UNTIL: NaiveDate = match NaiveDate::from_ymd_opt(2026, 8, 23) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The first day of the 2026-02-01 grid, whose EJP prices are suspect.
const EJP_SUSPECT_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2026, 2, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// A regulated option of the Tarif Bleu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tariff {
    /// One price all day.
    Base,
    /// Heures creuses / heures pleines.
    HcHp,
    /// Tempo: HC/HP × blue/white/red days.
    Tempo,
    /// Effacement jours de pointe: normal hours and mobile peak hours.
    Ejp,
}

impl Tariff {
    /// Every option, in output order.
    pub const ALL: [Tariff; 4] = [Tariff::Base, Tariff::HcHp, Tariff::Tempo, Tariff::Ejp];

    /// `base`, `hchp`, `tempo`, `ejp` (the CSV's `option` column, `--contract`).
    pub fn name(self) -> &'static str {
        match self {
            Tariff::Base => "base",
            Tariff::HcHp => "hchp",
            Tariff::Tempo => "tempo",
            Tariff::Ejp => "ejp",
        }
    }

    /// `Base`, `HC/HP`, `Tempo`, `EJP`.
    pub fn display_name(self) -> &'static str {
        match self {
            Tariff::Base => "Base",
            Tariff::HcHp => "HC/HP",
            Tariff::Tempo => "Tempo",
            Tariff::Ejp => "EJP",
        }
    }

    /// The priced bands, in the order of [`Grid::kwh`]: `Base`; `HC`, `HP`; `HC Bleu`,
    /// `HP Bleu`, `HC Blanc`, `HP Blanc`, `HC Rouge`, `HP Rouge`; `EJP normal`,
    /// `EJP pointe mobile`.
    pub fn bands(self) -> &'static [&'static str] {
        match self {
            Tariff::Base => &["Base"],
            Tariff::HcHp => &["HC", "HP"],
            Tariff::Tempo => &[
                "HC Bleu", "HP Bleu", "HC Blanc", "HP Blanc", "HC Rouge", "HP Rouge",
            ],
            Tariff::Ejp => &["EJP normal", "EJP pointe mobile"],
        }
    }

    /// The price columns of the CSV, in band order.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Tariff::Base => &["base"],
            Tariff::HcHp => &["hc", "hp"],
            Tariff::Tempo => &[
                "tempo_blue_hc",
                "tempo_blue_hp",
                "tempo_white_hc",
                "tempo_white_hp",
                "tempo_red_hc",
                "tempo_red_hp",
            ],
            Tariff::Ejp => &["ejp_normal", "ejp_pointe_mobile"],
        }
    }
}

impl Tariff {
    /// The option a meter names: standard `NGTF` (`BASE`, `H PLEINE/CREUSE`, `TEMPO`…) or
    /// historique `OPTARIF` (`BASE`, `HC..`, `EJP.`, `BBR(`…), as the label registry reads it
    /// ([`Calendar::of`]); `None` for a name that says no priced option (`PRODUCTEUR`, empty,
    /// unknown).
    pub fn from_meter(name: &str) -> Option<Tariff> {
        Calendar::of(name).and_then(Tariff::of_calendar)
    }

    /// The option that prices a calendar; `None` for a producer's.
    pub fn of_calendar(calendar: Calendar) -> Option<Tariff> {
        match calendar {
            Calendar::Base => Some(Tariff::Base),
            Calendar::HcHp => Some(Tariff::HcHp),
            Calendar::Tempo => Some(Tariff::Tempo),
            Calendar::Ejp => Some(Tariff::Ejp),
            Calendar::Producer => None,
        }
    }
}

pub use crate::tic::labels::kva_from_isousc;

impl fmt::Display for Tariff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tariff {
    type Err = GridError;

    /// `base`, `hchp` (or `hc/hp`, `hphc`, `hc`), `tempo`, `ejp`; case-insensitive.
    fn from_str(s: &str) -> Result<Tariff, GridError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "base" => Ok(Tariff::Base),
            "hchp" | "hc/hp" | "hphc" | "hp/hc" | "hc" => Ok(Tariff::HcHp),
            "tempo" => Ok(Tariff::Tempo),
            "ejp" => Ok(Tariff::Ejp),
            _ => Err(GridError::UnknownTariff(s.to_owned())),
        }
    }
}

/// A subscription figure as its source printed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// € per year, TTC (the official CRE figure).
    PerYear(Decimal),
    /// € per month, TTC (EDF's price grid): counts as × 12 per year.
    PerMonth(Decimal),
}

impl Subscription {
    /// € per year: the yearly figure, or the monthly one × 12.
    pub fn annual(self) -> Decimal {
        match self {
            Subscription::PerYear(y) => y,
            Subscription::PerMonth(m) => m.times12(),
        }
    }
}

/// Where a row comes from (`source_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A copy of the official CRE / data.gouv file.
    Official,
    /// EDF's published price grid, via JC144/EDF_Simulateur_Prix.
    EdfGrid,
}

/// One grid: the prices of one option and power from one day on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// The option.
    pub tariff: Tariff,
    /// Subscribed power, kVA.
    pub kva: u8,
    /// First day.
    pub valid_from: NaiveDate,
    /// The official last day, where the source gives one.
    pub valid_to: Option<NaiveDate>,
    /// The subscription.
    pub subscription: Subscription,
    /// TTC €/kWh per band, in [`Tariff::bands`] order.
    pub kwh: Vec<Decimal>,
    /// Where the row comes from.
    pub source: Source,
    /// Line of the row in the embedded file.
    pub line: u64,
}

/// The grid in force on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InForce<'a> {
    /// The grid.
    pub grid: &'a Grid,
    /// Its last day, the day before the next grid; `None` for the last grid.
    pub last_day: Option<NaiveDate>,
    /// The day is after [`KNOWN_UNTIL`] and this is the last grid known: the real price may
    /// differ.
    pub beyond_known: bool,
}

impl InForce<'_> {
    /// What a cost priced with this grid should say: beyond the last known grid, a
    /// monthly subscription counted × 12, suspect EJP prices.
    pub fn caveats(&self) -> Vec<Caveat> {
        let g = self.grid;
        let mut out = Vec::new();
        if self.beyond_known {
            out.push(Caveat::BeyondLastGrid {
                offer: g.tariff.display_name().to_owned(),
                grid_from: g.valid_from,
            });
        }
        if matches!(g.subscription, Subscription::PerMonth(_)) {
            out.push(Caveat::MonthlySubscription);
        }
        if g.tariff == Tariff::Ejp && g.valid_from >= EJP_SUSPECT_FROM {
            out.push(Caveat::SuspectEjpPrices);
        }
        out
    }
}

/// A grid lookup or table failure.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// The embedded table is malformed.
    #[error("{file}:{line}: {reason}")]
    Table {
        /// The embedded file.
        file: &'static str,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A price or subscription cell of the embedded table is malformed.
    #[error("{file}:{line}: column {column}")]
    Cell {
        /// The embedded file.
        file: &'static str,
        /// 1-based line.
        line: u64,
        /// The column.
        column: &'static str,
        /// The decimal error.
        #[source]
        source: MoneyError,
    },
    /// The embedded table is not readable CSV.
    #[error("{file}:{line}")]
    Csv {
        /// The embedded file.
        file: &'static str,
        /// 1-based line.
        line: u64,
        /// The CSV error.
        #[source]
        source: csv::Error,
    },
    /// The embedded table failed to parse (the first failure, kept for every later call).
    #[error(transparent)]
    Embedded(&'static GridError),
    /// No grid for that option, power and day.
    #[error("no {tariff} grid for {kva} kVA on {date}: {reason}", tariff = .tariff.display_name())]
    NoGrid {
        /// The option.
        tariff: Tariff,
        /// The power.
        kva: u8,
        /// The day.
        date: NaiveDate,
        /// Why (first grid, powers that exist).
        reason: String,
    },
    /// Not an option name.
    #[error("unknown contract {0:?}: expected base, hchp, tempo or ejp")]
    UnknownTariff(String),
}

/// Every grid, by option and power, in `valid_from` order.
#[derive(Clone, Debug, Default)]
pub struct Grids {
    by_key: BTreeMap<(Tariff, u8), Vec<Grid>>,
}

static GRIDS: OnceLock<Result<Grids, GridError>> = OnceLock::new();

/// The embedded grids, parsed on first use.
pub fn grids() -> Result<&'static Grids, GridError> {
    match GRIDS.get_or_init(|| Grids::parse(GRID_FILE, GRID_CSV)) {
        Ok(g) => Ok(g),
        Err(e) => Err(GridError::Embedded(e)),
    }
}

impl Grids {
    /// Parses a table in the shipped format (`file` names it in errors).
    pub fn parse(file: &'static str, text: &str) -> Result<Grids, GridError> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(text.as_bytes());
        let csv_err = |line: u64| move |source| GridError::Csv { file, line, source };
        let headers = rdr.headers().map_err(csv_err(1))?.clone();
        let col = |name: &'static str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| GridError::Table {
                    file,
                    line: 1,
                    reason: format!("no column {name:?} in the header"),
                })
        };
        let c_from = col("valid_from")?;
        let c_to = col("valid_to")?;
        let c_option = col("option")?;
        let c_kva = col("kva")?;
        let c_year = col("subscription_eur_per_year_ttc")?;
        let c_month = col("subscription_eur_per_month_ttc")?;
        let c_kind = col("source_kind")?;
        let mut price_cols: BTreeMap<Tariff, Vec<(usize, &'static str)>> = BTreeMap::new();
        for t in Tariff::ALL {
            let cols = t
                .columns()
                .iter()
                .map(|&c| col(c).map(|i| (i, c)))
                .collect::<Result<Vec<_>, _>>()?;
            price_cols.insert(t, cols);
        }

        let mut grids = Grids::default();
        let mut record = csv::StringRecord::new();
        let mut lines = Lines::default();
        let mut line = 1;
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let line = e
                        .position()
                        .map_or(line + 1, |p| lines.at(text.as_bytes(), p.byte()));
                    return Err(csv_err(line)(e));
                }
            }
            line = record
                .position()
                .map_or(line + 1, |p| lines.at(text.as_bytes(), p.byte()));
            let bad = |reason: String| GridError::Table { file, line, reason };
            let cell = |i: usize| record.get(i).unwrap_or("").trim();
            let date = |i: usize, what: &str| {
                NaiveDate::parse_from_str(cell(i), "%Y-%m-%d")
                    .map_err(|_| bad(format!("{what}: expected YYYY-MM-DD, found {:?}", cell(i))))
            };
            let valid_from = date(c_from, "valid_from")?;
            let valid_to = if cell(c_to).is_empty() {
                None
            } else {
                Some(date(c_to, "valid_to")?)
            };
            let tariff: Tariff = cell(c_option)
                .parse()
                .map_err(|_| bad(format!("unknown option {:?}", cell(c_option))))?;
            let kva: u8 = cell(c_kva)
                .parse()
                .map_err(|_| bad(format!("kva: expected a number, found {:?}", cell(c_kva))))?;
            let decimal = |i: usize, column: &'static str| {
                Decimal::parse(cell(i)).map_err(|source| GridError::Cell {
                    file,
                    line,
                    column,
                    source,
                })
            };
            let subscription = match (cell(c_year).is_empty(), cell(c_month).is_empty()) {
                (false, true) => {
                    Subscription::PerYear(decimal(c_year, "subscription_eur_per_year_ttc")?)
                }
                (true, false) => {
                    Subscription::PerMonth(decimal(c_month, "subscription_eur_per_month_ttc")?)
                }
                (false, false) => {
                    return Err(bad("both a yearly and a monthly subscription".into()));
                }
                (true, true) => return Err(bad("no subscription".into())),
            };
            let kwh = price_cols[&tariff]
                .iter()
                .map(|&(i, c)| {
                    if cell(i).is_empty() {
                        Err(bad(format!("no {c} price for a {} row", tariff.name())))
                    } else {
                        decimal(i, c)
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            let source = match cell(c_kind) {
                "official_datagouv_copy" => Source::Official,
                "edf_grid_via_JC144" => Source::EdfGrid,
                other => return Err(bad(format!("unknown source_kind {other:?}"))),
            };
            if let Some(to) = valid_to {
                if to < valid_from {
                    return Err(bad(format!(
                        "valid_to {to} is before valid_from {valid_from}"
                    )));
                }
            }
            grids.by_key.entry((tariff, kva)).or_default().push(Grid {
                tariff,
                kva,
                valid_from,
                valid_to,
                subscription,
                kwh,
                source,
                line,
            });
        }
        for list in grids.by_key.values_mut() {
            list.sort_by_key(|g| g.valid_from);
            for pair in list.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let bad = |reason: String| GridError::Table {
                    file,
                    line: b.line,
                    reason,
                };
                if a.valid_from == b.valid_from {
                    return Err(bad(format!(
                        "second {} {} kVA grid from {} (first at line {})",
                        a.tariff.name(),
                        a.kva,
                        a.valid_from,
                        a.line
                    )));
                }
                if let Some(to) = a.valid_to {
                    if to.checked_add_days(Days::new(1)) != Some(b.valid_from) {
                        return Err(bad(format!(
                            "grid from {} follows one that ends {to} (line {}): a gap or an overlap",
                            b.valid_from, a.line
                        )));
                    }
                }
            }
        }
        Ok(grids)
    }

    /// The grid of `tariff` at `kva` in force on `date`.
    pub fn lookup(
        &self,
        tariff: Tariff,
        kva: u8,
        date: NaiveDate,
    ) -> Result<InForce<'_>, GridError> {
        let no = |reason: String| GridError::NoGrid {
            tariff,
            kva,
            date,
            reason,
        };
        let Some(list) = self.by_key.get(&(tariff, kva)) else {
            let powers = self.powers(tariff);
            let powers = powers
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(no(format!(
                "the {} grids exist for {powers} kVA",
                tariff.display_name()
            )));
        };
        let i = list.partition_point(|g| g.valid_from <= date);
        let Some(i) = i.checked_sub(1) else {
            let first = list.first().map_or(date, |g| g.valid_from);
            return Err(no(format!("the first grid starts {first}")));
        };
        let grid = &list[i];
        let next = list.get(i + 1);
        let last_day = next.and_then(|n| n.valid_from.pred_opt());
        let beyond_known =
            next.is_none() && (date > KNOWN_UNTIL || grid.valid_to.is_some_and(|to| date > to));
        Ok(InForce {
            grid,
            last_day,
            beyond_known,
        })
    }

    /// The powers (kVA) that have grids for `tariff`, increasing.
    pub fn powers(&self, tariff: Tariff) -> Vec<u8> {
        self.by_key
            .keys()
            .filter(|(t, _)| *t == tariff)
            .map(|&(_, k)| k)
            .collect()
    }

    /// Every grid of `tariff` at `kva`, in order.
    pub fn history(&self, tariff: Tariff, kva: u8) -> &[Grid] {
        self.by_key.get(&(tariff, kva)).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn dec(s: &str) -> Decimal {
        Decimal::parse(s).expect("test decimal")
    }

    #[test]
    fn the_embedded_table_parses() {
        let g = grids().expect("embedded grids parse");
        let rows: usize = g.by_key.values().map(Vec::len).sum();
        assert_eq!(rows, 440, "PROVENANCE.md: 440 rows");
        assert_eq!(g.powers(Tariff::Base), [3, 6, 9, 12, 15, 18, 24, 30, 36]);
        assert_eq!(g.powers(Tariff::HcHp), [6, 9, 12, 15, 18, 24, 30, 36]);
        assert_eq!(g.powers(Tariff::Tempo), [6, 9, 12, 15, 18, 30, 36]);
        assert_eq!(g.powers(Tariff::Ejp), [9, 12, 15, 18, 36]);
    }

    #[test]
    fn lookups() {
        let g = grids().expect("embedded grids parse");
        /// (option, kVA, day, valid_from, last day, subscription €/year, kWh prices)
        type Case<'a> = (
            Tariff,
            u8,
            &'a str,
            &'a str,
            Option<&'a str>,
            &'a str,
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            // The official 2025-02-01 HC/HP grid, until the 2025-08-01 one.
            (
                Tariff::HcHp,
                6,
                "2025-02-01",
                "2025-02-01",
                Some("2025-07-31"),
                "169.81",
                &["0.1696", "0.2146"],
            ),
            (
                Tariff::HcHp,
                6,
                "2025-01-31",
                "2024-02-01",
                Some("2025-01-31"),
                "157.87",
                &["0.2068", "0.27"],
            ),
            // 2024-11-01 is not a grid: the 2024-02-01 one runs on.
            (
                Tariff::Base,
                6,
                "2024-11-15",
                "2024-02-01",
                Some("2025-01-31"),
                "151.86",
                &["0.2516"],
            ),
            // Base 18 kVA: EDF's monthly figure × 12 (25.09 × 12 = 301.08).
            (
                Tariff::Base,
                18,
                "2024-11-15",
                "2024-02-01",
                Some("2025-01-31"),
                "301.08",
                &["0.2516"],
            ),
            // Tempo blue HC 2025-02-01: the official 0.1287, not EDF's 0.1288.
            (
                Tariff::Tempo,
                9,
                "2025-03-01",
                "2025-02-01",
                Some("2025-07-31"),
                "211.16",
                &["0.1287", "0.1552", "0.1447", "0.1792", "0.1518", "0.6586"],
            ),
            // 2026-02-01 Base: JC144's rounded values, monthly × 12 (15.65 × 12 = 187.80).
            (
                Tariff::Base,
                6,
                "2026-03-01",
                "2026-02-01",
                None,
                "187.8",
                &["0.194"],
            ),
            (
                Tariff::Base,
                9,
                "2026-03-01",
                "2026-02-01",
                None,
                "234.72",
                &["0.1927"],
            ),
            // The mid-year 2019-06-01 grid.
            (
                Tariff::Tempo,
                9,
                "2019-07-31",
                "2019-06-01",
                Some("2019-07-31"),
                "145.11",
                &["0.12", "0.14436", "0.1272", "0.1601", "0.1355", "0.6095"],
            ),
            // EJP (JC144 only).
            (
                Tariff::Ejp,
                9,
                "2025-12-01",
                "2025-08-01",
                Some("2026-01-31"),
                "231.84",
                &["0.1418", "1.0867"],
            ),
            // The first grid.
            (
                Tariff::Base,
                3,
                "2012-07-23",
                "2012-07-23",
                Some("2013-07-31"),
                "69.37",
                &["0.1256"],
            ),
        ];
        for &(t, kva, date, from, last, annual, kwh) in cases {
            let f = g.lookup(t, kva, day(date)).expect("grid exists");
            let what = format!("{t} {kva} kVA {date}");
            assert_eq!(f.grid.valid_from, day(from), "{what}");
            assert_eq!(f.last_day, last.map(day), "{what}");
            assert_eq!(f.grid.subscription.annual(), dec(annual), "{what}");
            let want: Vec<Decimal> = kwh.iter().map(|s| dec(s)).collect();
            assert_eq!(f.grid.kwh, want, "{what}");
            assert!(!f.beyond_known, "{what}");
        }
    }

    #[test]
    fn caveats() {
        let g = grids().expect("embedded grids parse");
        let f = g.lookup(Tariff::HcHp, 6, day("2025-03-01")).expect("grid");
        assert!(f.caveats().is_empty());
        let f = g.lookup(Tariff::Base, 24, day("2025-03-01")).expect("grid");
        assert_eq!(f.caveats(), [Caveat::MonthlySubscription]);
        let f = g.lookup(Tariff::Ejp, 9, day("2026-02-01")).expect("grid");
        assert_eq!(
            f.caveats(),
            [Caveat::MonthlySubscription, Caveat::SuspectEjpPrices]
        );
        // In force and known through 2026-08-23, then beyond the last known grid.
        let f = g.lookup(Tariff::Tempo, 6, day("2026-08-23")).expect("grid");
        assert!(!f.beyond_known);
        let f = g.lookup(Tariff::Tempo, 6, day("2026-08-24")).expect("grid");
        assert!(f.beyond_known);
        assert_eq!(f.grid.valid_from, day("2026-02-01"));
        assert_eq!(
            f.caveats()[0],
            Caveat::BeyondLastGrid {
                offer: "Tempo".into(),
                grid_from: day("2026-02-01")
            }
        );
    }

    #[test]
    fn missing_grids_are_errors() {
        let g = grids().expect("embedded grids parse");
        let cases = [
            (Tariff::Tempo, 24, "2025-03-01", "no Tempo grid for 24 kVA on 2025-03-01: the Tempo grids exist for 6, 9, 12, 15, 18, 30, 36 kVA"),
            (Tariff::Tempo, 6, "2022-12-31", "no Tempo grid for 6 kVA on 2022-12-31: the first grid starts 2023-02-01"),
            (Tariff::Tempo, 9, "2016-07-31", "no Tempo grid for 9 kVA on 2016-07-31: the first grid starts 2016-08-01"),
            (Tariff::Base, 18, "2023-07-31", "no Base grid for 18 kVA on 2023-07-31: the first grid starts 2023-08-01"),
            (Tariff::Base, 6, "2012-07-22", "no Base grid for 6 kVA on 2012-07-22: the first grid starts 2012-07-23"),
            (Tariff::HcHp, 3, "2025-03-01", "no HC/HP grid for 3 kVA on 2025-03-01: the HC/HP grids exist for 6, 9, 12, 15, 18, 24, 30, 36 kVA"),
            (Tariff::Ejp, 9, "2024-01-31", "no EJP grid for 9 kVA on 2024-01-31: the first grid starts 2024-02-01"),
        ];
        for (t, kva, date, want) in cases {
            let e = g.lookup(t, kva, day(date)).expect_err(want);
            assert_eq!(e.to_string(), want);
        }
        assert_eq!(
            "gaz"
                .parse::<Tariff>()
                .expect_err("not an option")
                .to_string(),
            "unknown contract \"gaz\": expected base, hchp, tempo or ejp"
        );
        assert_eq!("HC/HP".parse::<Tariff>().ok(), Some(Tariff::HcHp));
    }

    #[test]
    fn contracts_named_by_the_meter() {
        for (name, want) in [
            ("BASE", Some(Tariff::Base)),
            ("      BASE      ", Some(Tariff::Base)),
            ("base", Some(Tariff::Base)),
            ("H PLEINE/CREUSE", Some(Tariff::HcHp)),
            ("HC..", Some(Tariff::HcHp)),
            ("TEMPO", Some(Tariff::Tempo)),
            ("BBR(", Some(Tariff::Tempo)),
            ("BBRx", Some(Tariff::Tempo)),
            ("EJP.", Some(Tariff::Ejp)),
            ("H SUPER CREUSES", Some(Tariff::HcHp)),
            ("TJ EJP", None),
            ("PRODUCTEUR", None),
            ("", None),
        ] {
            assert_eq!(Tariff::from_meter(name), want, "{name:?}");
        }
        assert_eq!(kva_from_isousc(30), Some(6));
        assert_eq!(kva_from_isousc(45), Some(9));
        assert_eq!(kva_from_isousc(32), None);
        assert_eq!(kva_from_isousc(0), None);
        assert_eq!(kva_from_isousc(5000), None);
    }

    #[test]
    fn malformed_tables_name_the_line() {
        const F: &str = "test.csv";
        let header = "valid_from,valid_to,option,kva,subscription_eur_per_year_ttc,subscription_eur_per_month_ttc,base,hc,hp,tempo_blue_hc,tempo_blue_hp,tempo_white_hc,tempo_white_hp,tempo_red_hc,tempo_red_hp,ejp_normal,ejp_pointe_mobile,source_kind\n";
        let ok = "2025-02-01,2025-07-31,base,6,165.17,,0.2016,,,,,,,,,,,official_datagouv_copy\n";
        let cases = [
            ("2025-02-31,,base,6,1,,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: valid_from: expected YYYY-MM-DD, found \"2025-02-31\""),
            ("2025-08-01,,gaz,6,1,,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: unknown option \"gaz\""),
            ("2025-08-01,,base,six,1,,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: kva: expected a number, found \"six\""),
            ("2025-08-01,,base,6,1,2,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: both a yearly and a monthly subscription"),
            ("2025-08-01,,base,6,,,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: no subscription"),
            ("2025-08-01,,base,6,1,,,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: no base price for a base row"),
            ("2025-08-01,,base,6,1,,-0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: column base: expected a price of zero or more, found \"-0.2\""),
            ("2025-08-01,,base,6,1,,0.2,,,,,,,,,,,typed_by_hand\n", "test.csv:3: unknown source_kind \"typed_by_hand\""),
            ("2025-08-01,2025-07-01,base,6,1,,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: valid_to 2025-07-01 is before valid_from 2025-08-01"),
            ("2025-08-02,,base,6,1,,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: grid from 2025-08-02 follows one that ends 2025-07-31 (line 2): a gap or an overlap"),
            ("2025-02-01,,base,6,1,,0.2,,,,,,,,,,,official_datagouv_copy\n", "test.csv:3: second base 6 kVA grid from 2025-02-01 (first at line 2)"),
            ("2025-08-01,,base,6\n", "test.csv:3: CSV error: record 2 (line: 3, byte: 305): found record with 4 fields, but the previous record has 18 fields"),
        ];
        for (row, want) in cases {
            let text = format!("{header}{ok}{row}");
            let e = crate::error::Chain(&Grids::parse(F, &text).expect_err(want)).to_string();
            assert!(e.starts_with(want), "{e} / {want}");
        }
        let e = Grids::parse(F, "valid_from,option\n").expect_err("no columns");
        assert_eq!(
            e.to_string(),
            "test.csv:1: no column \"valid_to\" in the header"
        );
        // A good table with a next grid after an official end parses.
        let next = "2025-08-01,,base,6,185.94,,0.1952,,,,,,,,,,,official_datagouv_copy\n";
        let g = Grids::parse(F, &format!("{header}{ok}{next}")).expect("parses");
        assert_eq!(g.history(Tariff::Base, 6).len(), 2);
    }
}
