//! Offers: how each day divides into priced bands, and what the bands and the subscription
//! cost on that day.
//!
//! ## Contract
//! - An [`Offer`] has named **bands** (`HC`, `HP Rouge`, `Week-end`…), each with a [`Class`]
//!   from the label registry ([`classify`] of its name for a `--prices` file). For each
//!   local day it gives the band of every minute (a day *layout*) and, for a power (kVA),
//!   the kWh price of every band and the annual subscription in force that day.
//! - **Regulated offers** ([`Offer::regulated`]): Base (one band), HC/HP on an
//!   [`HcSchedule`], Tempo (HC 22:00–06:00; the colour of the Tempo day, 06:00 → 06:00), EJP
//!   (pointe mobile 07:00 → 01:00 next day on the pointe-mobile days the caller gives; no
//!   calendar of them ships). Prices from [`super::grid`].
//! - **A `--prices` file** ([`PriceFile`], TOML, see `examples/prices-example.toml`):
//!   `name`, then one `[[period]]` per price period: `valid_from` (a TOML date or
//!   `"YYYY-MM-DD"`), optional `valid_to` (inclusive; without it a period lasts until the
//!   next one starts, the last one for ever), a `subscription` (`eur_per_year` or
//!   `eur_per_month`, a figure or a table by kVA: `{ 6 = 15.47, 9 = 19.39 }`), and its
//!   `[[period.slot]]`s: `name`, `hours` (`"22:00-06:00"`, several comma-separated or an
//!   array; `00:00-24:00` is the whole day), optional `days` (`mon`…`sun`, default all),
//!   optional `colours` (Tempo colours `blue`/`white`/`red` or `BLEU`/`BLANC`/`ROUGE`, default
//!   any) and `eur_per_kwh`. Numbers are read from their text, exactly (at most 5 decimal
//!   places). In each period, for every weekday (and every colour if any slot names
//!   colours) the slots must cover the 24 hours exactly once; a band name has one price
//!   per period. Weekdays are those of the local calendar date; colours follow the Tempo
//!   day (before 06:00, the previous day's colour).
//! - **Errors** name the file and the line: TOML syntax, an unknown key, a missing key, a
//!   value of the wrong type, a bad date or time, a negative or over-precise price,
//!   overlapping or missing hours, two prices for one band, overlapping periods.
//! - A day after the last period uses it with [`Caveat::BeyondLastGrid`]; a day before the
//!   first period or in a gap between two is an error, as is a power with no subscription.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::grid::{grids, GridError, Tariff};
use super::money::{Decimal, MoneyError};
use super::schedule::{hhmm, parse_minute, pieces, HcSchedule, ScheduleError, DAY_MIN};
use super::tempo::{parse_colour, TempoCalendar, DAY_START_HOUR};
use super::Caveat;
use crate::tic::labels::{classify, Class, Colour, Rate};

/// A TOML parser's error told by its message alone: its line is [`OfferError::Toml`]'s, and
/// its own display (a quoted excerpt of the file over several lines) is not a log line.
#[derive(Debug)]
pub struct TomlError(pub toml::de::Error);

impl fmt::Display for TomlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.message().trim_end())
    }
}

impl std::error::Error for TomlError {}

/// An offer failure.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// The file cannot be read.
    #[error("cannot read prices file {path:?}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Not TOML.
    #[error("{path}:{line}", path = .path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The parser's error.
        #[source]
        source: TomlError,
    },
    /// TOML, but not a valid offer.
    #[error("{path}:{line}: {reason}", path = .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A price that is not a valid decimal.
    #[error("{path}:{line}: {key}", path = .path.display())]
    Price {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The key.
        key: String,
        /// The decimal error.
        #[source]
        source: MoneyError,
    },
    /// No price period of the file covers the day.
    #[error("{path}: no price period covers {date}: {reason}", path = .path.display())]
    NotCovered {
        /// The file.
        path: PathBuf,
        /// The day.
        date: NaiveDate,
        /// Where the periods are.
        reason: String,
    },
    /// The subscription is given by power and not for this one.
    #[error("{path}:{line}: no subscription for {kva} kVA (given for {given} kVA)", path = .path.display())]
    NoSubscription {
        /// The file.
        path: PathBuf,
        /// Line of the subscription.
        line: u64,
        /// The power asked.
        kva: u8,
        /// The powers given.
        given: String,
    },
    /// An EJP layout without the pointe-mobile days.
    #[error("EJP needs the pointe-mobile days (from the recorded stream): none were given")]
    NoEjpDays,
    /// A regulated grid lookup failed.
    #[error(transparent)]
    Grid(#[from] GridError),
    /// A local time could not be placed.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// A priced band of an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Band {
    /// `HC`, `HP Rouge`, `Base`, a `--prices` slot name.
    pub name: String,
    /// Its HC/HP class and colour.
    pub class: Class,
}

/// One stretch of a day's layout: minutes `[start, end)` in one band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub start: u16,
    pub end: u16,
    /// `None`: cannot be priced (a colour-dependent offer on a day without a colour).
    pub band: Option<usize>,
    pub class: Class,
}

/// What one day costs under an offer at one power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DayPrices {
    /// €/kWh per band (`None`: the band has no price that day).
    pub kwh: Vec<Option<Decimal>>,
    /// € per year.
    pub annual: Decimal,
    /// First day of the grid or price period.
    pub from: NaiveDate,
    /// What a cost priced with these should say.
    pub caveats: Vec<Caveat>,
}

/// The pointe-mobile days of an EJP contract, and the Tempo colours.
#[derive(Clone, Copy, Debug)]
pub struct Calendars<'a> {
    /// Tempo colours by Tempo day.
    pub tempo: &'a TempoCalendar,
    /// EJP pointe-mobile days (`None`: unknown, EJP cannot be laid out).
    pub ejp_days: Option<&'a BTreeSet<NaiveDate>>,
}

#[derive(Clone, Debug)]
enum Kind {
    Regulated { tariff: Tariff, hc: HcSchedule },
    Custom(PriceFile),
}

/// An offer: bands, day layouts, prices.
#[derive(Clone, Debug)]
pub struct Offer {
    name: String,
    kind: Kind,
    bands: Vec<Band>,
}

const NO_CLASS: Class = Class::new(Rate::Other, None);

fn colour_index(c: Colour) -> usize {
    match c {
        Colour::Blue => 0,
        Colour::White => 1,
        Colour::Red => 2,
    }
}

fn prev_day(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_sub_days(Days::new(1))
}

impl Offer {
    /// A regulated option; `hc` is the HC/HP schedule (22:00–06:00 when `None`; unused by
    /// the other options).
    pub fn regulated(tariff: Tariff, hc: Option<HcSchedule>) -> Offer {
        let bands = match tariff {
            Tariff::Base => vec![NO_CLASS],
            Tariff::HcHp => vec![Class::new(Rate::Hc, None), Class::new(Rate::Hp, None)],
            Tariff::Tempo => Colour::ALL
                .iter()
                .flat_map(|&c| [Class::new(Rate::Hc, Some(c)), Class::new(Rate::Hp, Some(c))])
                .collect(),
            Tariff::Ejp => vec![NO_CLASS, NO_CLASS],
        };
        let bands = tariff
            .bands()
            .iter()
            .zip(bands)
            .map(|(&name, class)| Band {
                name: name.to_owned(),
                class,
            })
            .collect();
        Offer {
            name: tariff.display_name().to_owned(),
            kind: Kind::Regulated {
                tariff,
                hc: hc.unwrap_or_default(),
            },
            bands,
        }
    }

    /// The offer of a `--prices` file.
    pub fn custom(file: PriceFile) -> Offer {
        let bands = file
            .bands
            .iter()
            .map(|n| Band {
                name: n.clone(),
                class: classify(n),
            })
            .collect();
        Offer {
            name: file.name.clone(),
            kind: Kind::Custom(file),
            bands,
        }
    }

    /// `Base`, `HC/HP`, `Tempo`, `EJP`, or the file's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The regulated option, if it is one.
    pub fn tariff(&self) -> Option<Tariff> {
        match &self.kind {
            Kind::Regulated { tariff, .. } => Some(*tariff),
            Kind::Custom(_) => None,
        }
    }

    /// The HC/HP schedule of a regulated HC/HP offer.
    pub fn hc_schedule(&self) -> Option<&HcSchedule> {
        match &self.kind {
            Kind::Regulated {
                tariff: Tariff::HcHp,
                hc,
            } => Some(hc),
            _ => None,
        }
    }

    /// The bands, in output order.
    pub fn bands(&self) -> &[Band] {
        &self.bands
    }

    /// The first band of class `class` (to price energy the meter recorded per class).
    pub fn band_of(&self, class: Class) -> Option<usize> {
        self.bands.iter().position(|b| b.class == class)
    }

    /// Whether prices depend on the Tempo colour (a day without one cannot be priced).
    pub fn uses_colours(&self) -> bool {
        match &self.kind {
            Kind::Regulated { tariff, .. } => *tariff == Tariff::Tempo,
            Kind::Custom(f) => f.periods.iter().any(|p| p.uses_colours),
        }
    }

    /// The layout of local day `date`: contiguous pieces from minute 0 to 1440.
    pub(crate) fn layout(
        &self,
        date: NaiveDate,
        cal: &Calendars,
    ) -> Result<Vec<Piece>, OfferError> {
        let piece = |start, end, band: Option<usize>, class| Piece {
            start,
            end,
            band,
            class,
        };
        let six = (DAY_START_HOUR * 60) as u16;
        let yesterday = prev_day(date);
        Ok(match &self.kind {
            Kind::Regulated { tariff, hc } => match tariff {
                Tariff::Base => vec![piece(0, DAY_MIN, Some(0), NO_CLASS)],
                Tariff::HcHp => {
                    let mut cuts = vec![0];
                    cuts.extend(hc.cuts());
                    cuts.push(DAY_MIN);
                    cuts.windows(2)
                        .map(|w| {
                            let r = hc.rate_at_minute(w[0]);
                            let b = usize::from(r != Rate::Hc);
                            piece(w[0], w[1], Some(b), Class::new(r, None))
                        })
                        .collect()
                }
                Tariff::Tempo => {
                    let c0 = yesterday.and_then(|d| cal.tempo.colour(d));
                    let c1 = cal.tempo.colour(date);
                    let tempo = |start, end, rate: Rate, c: Option<Colour>| {
                        let band = c.map(|c| colour_index(c) * 2 + usize::from(rate == Rate::Hp));
                        piece(start, end, band, Class::new(rate, c))
                    };
                    vec![
                        tempo(0, six, Rate::Hc, c0),
                        tempo(six, 1320, Rate::Hp, c1),
                        tempo(1320, DAY_MIN, Rate::Hc, c1),
                    ]
                }
                Tariff::Ejp => {
                    let days = cal.ejp_days.ok_or(OfferError::NoEjpDays)?;
                    let pm_before = yesterday.is_some_and(|d| days.contains(&d));
                    let pm_today = days.contains(&date);
                    let band = |pm: bool| Some(usize::from(pm));
                    vec![
                        piece(0, 60, band(pm_before), NO_CLASS),
                        piece(60, 420, band(false), NO_CLASS),
                        piece(420, DAY_MIN, band(pm_today), NO_CLASS),
                    ]
                }
            },
            Kind::Custom(f) => {
                let (p, _) = f.period_for(date)?;
                let w = date.weekday().num_days_from_monday() as usize;
                let contexts = if p.uses_colours {
                    vec![
                        (0, six, yesterday.and_then(|d| cal.tempo.colour(d)), true),
                        (six, DAY_MIN, cal.tempo.colour(date), true),
                    ]
                } else {
                    vec![(0, DAY_MIN, None, false)]
                };
                let mut out = Vec::new();
                for (lo, hi, colour, coloured) in contexts {
                    if coloured && colour.is_none() {
                        out.push(piece(lo, hi, None, NO_CLASS));
                        continue;
                    }
                    for s in p.slots.iter().filter(|s| s.matches(w, colour)) {
                        for &(a, b) in &s.ranges {
                            let (a, b) = (a.max(lo), b.min(hi));
                            if a < b {
                                let mut class = self.bands[s.band].class;
                                class.colour = class.colour.or(colour);
                                out.push(piece(a, b, Some(s.band), class));
                            }
                        }
                    }
                }
                out.sort_by_key(|p| p.start);
                out
            }
        })
    }

    /// Prices in force on `date` at `kva`.
    pub(crate) fn prices(&self, kva: u8, date: NaiveDate) -> Result<DayPrices, OfferError> {
        match &self.kind {
            Kind::Regulated { tariff, .. } => {
                let f = grids()?.lookup(*tariff, kva, date)?;
                Ok(DayPrices {
                    kwh: f.grid.kwh.iter().copied().map(Some).collect(),
                    annual: f.grid.subscription.annual(),
                    from: f.grid.valid_from,
                    caveats: f.caveats(),
                })
            }
            Kind::Custom(file) => {
                let (p, beyond) = file.period_for(date)?;
                let annual = p.subscription.annual(kva, &file.path)?;
                let caveats = if beyond {
                    vec![Caveat::BeyondLastGrid {
                        offer: file.name.clone(),
                        grid_from: p.valid_from,
                    }]
                } else {
                    Vec::new()
                };
                Ok(DayPrices {
                    kwh: p.prices.clone(),
                    annual,
                    from: p.valid_from,
                    caveats,
                })
            }
        }
    }
}

/// A subscription figure of a price period.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SubscriptionSpec {
    monthly: bool,
    /// `None` key: one figure for every power.
    amounts: BTreeMap<Option<u8>, Decimal>,
    line: u64,
}

impl SubscriptionSpec {
    fn annual(&self, kva: u8, path: &Path) -> Result<Decimal, OfferError> {
        let d = self
            .amounts
            .get(&None)
            .or_else(|| self.amounts.get(&Some(kva)))
            .copied()
            .ok_or_else(|| OfferError::NoSubscription {
                path: path.to_owned(),
                line: self.line,
                kva,
                given: self
                    .amounts
                    .keys()
                    .flatten()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(if self.monthly { d.times12() } else { d })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct CustomSlot {
    band: usize,
    /// Minute ranges within `[0, 1440]`.
    ranges: Vec<(u16, u16)>,
    /// Monday first.
    days: [bool; 7],
    /// Blue, white, red; `None`: any colour.
    colours: Option<[bool; 3]>,
    line: u64,
}

impl CustomSlot {
    fn matches(&self, weekday: usize, colour: Option<Colour>) -> bool {
        self.days[weekday]
            && match (self.colours, colour) {
                (None, _) => true,
                (Some(cs), Some(c)) => cs[colour_index(c)],
                (Some(_), None) => false,
            }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct PricePeriod {
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    line: u64,
    subscription: SubscriptionSpec,
    slots: Vec<CustomSlot>,
    uses_colours: bool,
    /// €/kWh per band of the file.
    prices: Vec<Option<Decimal>>,
}

/// A supplier's offer read from a `--prices` TOML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceFile {
    path: PathBuf,
    name: String,
    bands: Vec<String>,
    /// By `valid_from`, not overlapping.
    periods: Vec<PricePeriod>,
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_name(i: usize) -> &'static str {
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ][i % 7]
}

fn parse_weekday(s: &str) -> Option<usize> {
    let l = s.trim().to_ascii_lowercase();
    let w: Weekday = l.parse().ok()?;
    Some(w.num_days_from_monday() as usize)
}

/// Reads a TOML document tree with spans, reporting errors against one file.
struct Doc<'a> {
    path: &'a Path,
    text: &'a str,
}

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

impl<'a> Doc<'a> {
    fn line(&self, span: &Range<usize>) -> u64 {
        let end = span.start.min(self.text.len());
        let upto = self.text.as_bytes().get(..end).unwrap_or(&[]);
        upto.iter().filter(|&&b| b == b'\n').count() as u64 + 1
    }

    fn err(&self, span: &Range<usize>, reason: String) -> OfferError {
        OfferError::Invalid {
            path: self.path.to_owned(),
            line: self.line(span),
            reason,
        }
    }

    /// Refuses keys other than `allowed`.
    fn keys(&self, t: &Table, allowed: &[&str], what: &str) -> Result<(), OfferError> {
        for (k, _) in t.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                return Err(self.err(
                    &k.span(),
                    format!(
                        "unknown key {:?} in {what}: expected {}",
                        k.get_ref(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn get<'t, 'i>(t: &'t Table<'i>, key: &str) -> Option<&'t Value<'i>> {
        t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
    }

    fn required<'t, 'i>(
        &self,
        t: &'t Table<'i>,
        span: &Range<usize>,
        key: &str,
        what: &str,
    ) -> Result<&'t Value<'i>, OfferError> {
        Doc::get(t, key).ok_or_else(|| self.err(span, format!("{what} has no {key:?}")))
    }

    fn kind(v: &DeValue) -> &'static str {
        match v {
            DeValue::String(_) => "a string",
            DeValue::Integer(_) => "an integer",
            DeValue::Float(_) => "a number",
            DeValue::Boolean(_) => "a boolean",
            DeValue::Datetime(_) => "a date-time",
            DeValue::Array(_) => "an array",
            DeValue::Table(_) => "a table",
        }
    }

    fn wrong(&self, v: &Value, key: &str, expected: &str) -> OfferError {
        self.err(
            &v.span(),
            format!(
                "{key}: expected {expected}, found {}",
                Doc::kind(v.get_ref())
            ),
        )
    }

    fn table<'t, 'i>(&self, v: &'t Value<'i>, key: &str) -> Result<&'t Table<'i>, OfferError> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            _ => Err(self.wrong(v, key, "a table")),
        }
    }

    /// An array of tables (`[[key]]`).
    fn tables<'t, 'i>(
        &self,
        v: &'t Value<'i>,
        key: &str,
    ) -> Result<Vec<(&'t Table<'i>, Range<usize>)>, OfferError> {
        let DeValue::Array(a) = v.get_ref() else {
            return Err(self.wrong(v, key, &format!("[[{key}]] tables")));
        };
        a.iter()
            .map(|x| self.table(x, key).map(|t| (t, x.span())))
            .collect()
    }

    fn string<'t>(&self, v: &'t Value, key: &str) -> Result<&'t str, OfferError> {
        match v.get_ref() {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(self.wrong(v, key, "a string")),
        }
    }

    /// A string, or an array of strings, with their spans.
    fn strings(&self, v: &Value, key: &str) -> Result<Vec<(String, Range<usize>)>, OfferError> {
        match v.get_ref() {
            DeValue::String(s) => Ok(vec![(s.to_string(), v.span())]),
            DeValue::Array(a) => a
                .iter()
                .map(|x| self.string(x, key).map(|s| (s.to_owned(), x.span())))
                .collect(),
            _ => Err(self.wrong(v, key, "a string or an array of strings")),
        }
    }

    /// A price or amount, exactly from its text.
    fn decimal(&self, v: &Value, key: &str) -> Result<Decimal, OfferError> {
        let text = match v.get_ref() {
            DeValue::Float(f) => f.as_str().to_owned(),
            DeValue::Integer(i) if i.radix() == 10 => i.as_str().to_owned(),
            DeValue::String(s) => s.to_string(),
            _ => return Err(self.wrong(v, key, "a number")),
        };
        Decimal::parse(&text).map_err(|source| OfferError::Price {
            path: self.path.to_owned(),
            line: self.line(&v.span()),
            key: key.to_owned(),
            source,
        })
    }

    /// A TOML local date or a `"YYYY-MM-DD"` string.
    fn date(&self, v: &Value, key: &str) -> Result<NaiveDate, OfferError> {
        let bad = |found: String| {
            self.err(
                &v.span(),
                format!("{key}: expected a date YYYY-MM-DD, found {found}"),
            )
        };
        match v.get_ref() {
            DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                        .ok_or_else(|| bad(dt.to_string()))
                }
                _ => Err(bad(format!("the date-time {dt}"))),
            },
            DeValue::String(s) => {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| bad(format!("{s:?}")))
            }
            _ => Err(self.wrong(v, key, "a date YYYY-MM-DD")),
        }
    }
}

impl PriceFile {
    /// Reads and checks a prices file.
    pub fn read(path: &Path) -> Result<PriceFile, OfferError> {
        let text = std::fs::read_to_string(path).map_err(|source| OfferError::Io {
            path: path.to_owned(),
            source,
        })?;
        PriceFile::parse(&text, path)
    }

    /// Parses and checks prices-file text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<PriceFile, OfferError> {
        let doc = Doc { path, text };
        let root = DeTable::parse(text).map_err(|source| OfferError::Toml {
            path: path.to_owned(),
            line: source.span().map_or(1, |s| doc.line(&s)),
            source: TomlError(source),
        })?;
        let root_span = root.span();
        let root = root.get_ref();
        doc.keys(root, &["name", "period"], "the file")?;
        let name = match Doc::get(root, "name") {
            Some(v) => doc.string(v, "name")?.trim().to_owned(),
            None => path
                .file_stem()
                .map_or_else(|| "custom".into(), |s| s.to_string_lossy().into_owned()),
        };
        let periods_v = doc.required(root, &root_span, "period", "the file")?;
        let mut bands: Vec<String> = Vec::new();
        let mut periods = Vec::new();
        for (t, span) in doc.tables(periods_v, "period")? {
            periods.push(PriceFile::period(&doc, t, &span, &mut bands)?);
        }
        if periods.is_empty() {
            return Err(doc.err(&periods_v.span(), "no [[period]]".into()));
        }
        periods.sort_by_key(|p: &PricePeriod| p.valid_from);
        for w in periods.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if a.valid_to.is_some_and(|to| to >= b.valid_from) || a.valid_from == b.valid_from {
                let (first, second) = if a.line < b.line { (a, b) } else { (b, a) };
                return Err(OfferError::Invalid {
                    path: path.to_owned(),
                    line: second.line,
                    reason: format!(
                        "the period from {} overlaps the one from {} (line {})",
                        second.valid_from, first.valid_from, first.line
                    ),
                });
            }
        }
        for p in &mut periods {
            p.prices.resize(bands.len(), None);
        }
        Ok(PriceFile {
            path: path.to_owned(),
            name,
            bands,
            periods,
        })
    }

    fn period(
        doc: &Doc,
        t: &Table,
        span: &Range<usize>,
        bands: &mut Vec<String>,
    ) -> Result<PricePeriod, OfferError> {
        let what = "[[period]]";
        doc.keys(t, &["valid_from", "valid_to", "subscription", "slot"], what)?;
        let valid_from = doc.date(doc.required(t, span, "valid_from", what)?, "valid_from")?;
        let valid_to = Doc::get(t, "valid_to")
            .map(|v| doc.date(v, "valid_to"))
            .transpose()?;
        let line = doc.line(span);
        if let Some(to) = valid_to {
            if to < valid_from {
                return Err(doc.err(
                    span,
                    format!("valid_to {to} is before valid_from {valid_from}"),
                ));
            }
        }
        let sub_v = doc.required(t, span, "subscription", what)?;
        let subscription = PriceFile::subscription(doc, sub_v)?;
        let slots_v = doc.required(t, span, "slot", what)?;
        let mut slots = Vec::new();
        let mut prices: Vec<Option<Decimal>> = Vec::new();
        for (st, sspan) in doc.tables(slots_v, "period.slot")? {
            let (slot, price) = PriceFile::slot(doc, st, &sspan, bands)?;
            if prices.len() < bands.len() {
                prices.resize(bands.len(), None);
            }
            match prices[slot.band] {
                Some(p) if p != price => {
                    return Err(doc.err(
                        &sspan,
                        format!(
                            "slot {:?} costs {price} here but {p} in another slot of this period",
                            bands[slot.band]
                        ),
                    ));
                }
                _ => prices[slot.band] = Some(price),
            }
            slots.push(slot);
        }
        if slots.is_empty() {
            return Err(doc.err(
                span,
                format!("{what} from {valid_from} has no [[period.slot]]"),
            ));
        }
        let uses_colours = slots.iter().any(|s| s.colours.is_some());
        // Every weekday (and colour) covered exactly once.
        let colours: Vec<Option<Colour>> = if uses_colours {
            Colour::ALL.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        for w in 0..7 {
            for &c in &colours {
                let on = match c {
                    Some(c) => format!(" on {} days", c.name()),
                    None => String::new(),
                };
                let mut cover: Vec<(u16, u16, &CustomSlot)> = slots
                    .iter()
                    .filter(|s| s.matches(w, c))
                    .flat_map(|s| s.ranges.iter().map(move |&(a, b)| (a, b, s)))
                    .collect();
                cover.sort_by_key(|x| (x.0, x.2.line));
                let mut at = 0u16;
                let mut last: Option<&CustomSlot> = None;
                for (a, b, s) in cover {
                    if a < at {
                        let other = last.unwrap_or(s);
                        let (first, second) = if other.line <= s.line {
                            (other, s)
                        } else {
                            (s, other)
                        };
                        return Err(OfferError::Invalid {
                            path: doc.path.to_owned(),
                            line: second.line,
                            reason: format!(
                                "slot {:?} overlaps slot {:?} (line {}) on {} {}-{}{on}",
                                bands[second.band],
                                bands[first.band],
                                first.line,
                                weekday_name(w),
                                hhmm(a),
                                hhmm(at.min(b))
                            ),
                        });
                    }
                    if a > at {
                        return Err(missing(doc, line, valid_from, w, at, a, &on));
                    }
                    at = b;
                    last = Some(s);
                }
                if at < DAY_MIN {
                    return Err(missing(doc, line, valid_from, w, at, DAY_MIN, &on));
                }
            }
        }
        Ok(PricePeriod {
            valid_from,
            valid_to,
            line,
            subscription,
            slots,
            uses_colours,
            prices,
        })
    }

    fn subscription(doc: &Doc, v: &Value) -> Result<SubscriptionSpec, OfferError> {
        let what = "subscription";
        let t = doc.table(v, what)?;
        doc.keys(t, &["eur_per_year", "eur_per_month"], what)?;
        let (key, monthly) = match (Doc::get(t, "eur_per_year"), Doc::get(t, "eur_per_month")) {
            (Some(_), None) => ("eur_per_year", false),
            (None, Some(_)) => ("eur_per_month", true),
            _ => {
                return Err(doc.err(
                    &v.span(),
                    "subscription: expected one of eur_per_year or eur_per_month".into(),
                ))
            }
        };
        let amount = doc.required(t, &v.span(), key, what)?;
        let mut amounts = BTreeMap::new();
        match amount.get_ref() {
            DeValue::Table(by_kva) => {
                for (k, x) in by_kva.iter() {
                    let kva: u8 = k
                        .get_ref()
                        .trim()
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| {
                            doc.err(
                                &k.span(),
                                format!(
                                    "{key}: expected a power in kVA (1 to 255) as the key, found {:?}",
                                    k.get_ref()
                                ),
                            )
                        })?;
                    amounts.insert(Some(kva), doc.decimal(x, key)?);
                }
                if amounts.is_empty() {
                    return Err(doc.err(&amount.span(), format!("{key}: no power given")));
                }
            }
            _ => {
                amounts.insert(None, doc.decimal(amount, key)?);
            }
        }
        Ok(SubscriptionSpec {
            monthly,
            amounts,
            line: doc.line(&amount.span()),
        })
    }

    fn slot(
        doc: &Doc,
        t: &Table,
        span: &Range<usize>,
        bands: &mut Vec<String>,
    ) -> Result<(CustomSlot, Decimal), OfferError> {
        let what = "[[period.slot]]";
        doc.keys(
            t,
            &["name", "hours", "days", "colours", "eur_per_kwh"],
            what,
        )?;
        let name_v = doc.required(t, span, "name", what)?;
        let name = doc.string(name_v, "name")?.trim().to_owned();
        if name.is_empty() {
            return Err(doc.err(&name_v.span(), "name: empty".into()));
        }
        let band = match bands.iter().position(|b| *b == name) {
            Some(i) => i,
            None => {
                bands.push(name);
                bands.len() - 1
            }
        };
        let price = doc.decimal(doc.required(t, span, "eur_per_kwh", what)?, "eur_per_kwh")?;
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for (text, wspan) in doc.strings(doc.required(t, span, "hours", what)?, "hours")? {
            for w in text.split(',') {
                let bad = || {
                    doc.err(
                        &wspan,
                        format!("hours: expected HH:MM-HH:MM[,HH:MM-HH:MM…], found {text:?}"),
                    )
                };
                let (a, b) = w.split_once('-').ok_or_else(bad)?;
                let (a, b) = (
                    parse_minute(a, false).ok_or_else(bad)?,
                    parse_minute(b, true).ok_or_else(bad)?,
                );
                let ps = if a == 0 && b == DAY_MIN {
                    vec![(0, DAY_MIN)]
                } else if a == b {
                    return Err(doc.err(&wspan, format!("hours: empty window {:?}", w.trim())));
                } else {
                    pieces(a, b)
                };
                for p in ps {
                    if ranges.iter().any(|r| p.0 < r.1 && r.0 < p.1) {
                        return Err(doc.err(&wspan, format!("hours: windows overlap in {text:?}")));
                    }
                    ranges.push(p);
                }
            }
        }
        if ranges.is_empty() {
            return Err(doc.err(span, "hours: no window".into()));
        }
        let days = match Doc::get(t, "days") {
            None => [true; 7],
            Some(v) => {
                let mut d = [false; 7];
                let list = doc.strings(v, "days")?;
                if list.is_empty() {
                    return Err(doc.err(&v.span(), "days: empty list".into()));
                }
                for (s, sp) in list {
                    let i = parse_weekday(&s).ok_or_else(|| {
                        doc.err(
                            &sp,
                            format!("days: expected one of {}, found {s:?}", WEEKDAYS.join(", ")),
                        )
                    })?;
                    d[i] = true;
                }
                d
            }
        };
        let colours = match Doc::get(t, "colours") {
            None => None,
            Some(v) => {
                let mut c = [false; 3];
                let list = doc.strings(v, "colours")?;
                if list.is_empty() {
                    return Err(doc.err(&v.span(), "colours: empty list".into()));
                }
                for (s, sp) in list {
                    let colour = parse_colour(&s).ok_or_else(|| {
                        doc.err(
                            &sp,
                            format!("colours: expected blue, white, red (or BLEU, BLANC, ROUGE), found {s:?}"),
                        )
                    })?;
                    c[colour_index(colour)] = true;
                }
                Some(c)
            }
        };
        Ok((
            CustomSlot {
                band,
                ranges,
                days,
                colours,
                line: doc.line(span),
            },
            price,
        ))
    }

    /// The period in force on `date`, and whether `date` is past the last one's end.
    fn period_for(&self, date: NaiveDate) -> Result<(&PricePeriod, bool), OfferError> {
        let not = |reason: String| OfferError::NotCovered {
            path: self.path.clone(),
            date,
            reason,
        };
        let i = self.periods.partition_point(|p| p.valid_from <= date);
        let Some(i) = i.checked_sub(1) else {
            let first = self.periods.first().map_or(date, |p| p.valid_from);
            return Err(not(format!("the first starts {first}")));
        };
        let p = &self.periods[i];
        match (p.valid_to, self.periods.get(i + 1)) {
            (Some(to), Some(next)) if date > to => Err(not(format!(
                "it falls between the period ending {to} and the one starting {}",
                next.valid_from
            ))),
            (Some(to), None) => Ok((p, date > to)),
            _ => Ok((p, false)),
        }
    }

    /// The offer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn missing(
    doc: &Doc,
    line: u64,
    from: NaiveDate,
    weekday: usize,
    a: u16,
    b: u16,
    on: &str,
) -> OfferError {
    OfferError::Invalid {
        path: doc.path.to_owned(),
        line,
        reason: format!(
            "the period from {from} has no slot for {} {}-{}{on}",
            weekday_name(weekday),
            hhmm(a),
            hhmm(b)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn parse(text: &str) -> Result<PriceFile, OfferError> {
        PriceFile::parse(text, Path::new("p.toml"))
    }

    /// A valid one-period file with `extra` appended to the period table's head and
    /// `slots` as its slots.
    fn doc(period_extra: &str, slots: &str) -> String {
        format!(
            "name = \"T\"\n[[period]]\nvalid_from = 2025-01-01\nsubscription = {{ eur_per_year = 120 }}\n{period_extra}\n{slots}"
        )
    }

    const TWO_SLOTS: &str = "[[period.slot]]\nname = \"HC\"\nhours = \"22:00-06:00\"\neur_per_kwh = 0.15\n[[period.slot]]\nname = \"HP\"\nhours = \"06:00-22:00\"\neur_per_kwh = 0.2\n";

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../../examples/prices-example.toml");
        let f = PriceFile::parse(text, Path::new("examples/prices-example.toml")).expect("parses");
        assert_eq!(f.name(), "Example Énergie Week-end");
        assert_eq!(f.bands, ["HC", "HP"]);
        assert_eq!(f.periods.len(), 2);
        let o = Offer::custom(f);
        assert_eq!(o.bands()[0].class, Class::new(Rate::Hc, None));
        assert_eq!(o.bands()[1].class, Class::new(Rate::Hp, None));
        assert!(!o.uses_colours());
        // 15.10 €/month at 6 kVA = 181.20 €/year; HP 0.2054.
        let p = o.prices(6, day("2025-03-01")).expect("priced");
        assert_eq!(p.annual, Decimal::parse("181.2").expect("dec"));
        assert_eq!(
            p.kwh,
            [Decimal::parse("0.1612").ok(), Decimal::parse("0.2054").ok()]
        );
        let p = o.prices(9, day("2025-08-01")).expect("priced");
        assert_eq!(p.annual, Decimal::parse("232.8").expect("dec"));
        assert_eq!(p.kwh[0], Decimal::parse("0.15455").ok());
        assert!(p.caveats.is_empty(), "the last period has no end");
        // Saturday is HC all day; Monday has three pieces.
        let cal = TempoCalendar::new();
        let cal = Calendars {
            tempo: &cal,
            ejp_days: None,
        };
        let sat = o.layout(day("2025-03-01"), &cal).expect("layout");
        assert_eq!(sat.len(), 1);
        assert_eq!(
            (sat[0].start, sat[0].end, sat[0].band),
            (0, DAY_MIN, Some(0))
        );
        let mon = o.layout(day("2025-03-03"), &cal).expect("layout");
        let got: Vec<_> = mon.iter().map(|p| (p.start, p.end, p.band)).collect();
        assert_eq!(
            got,
            [
                (0, 360, Some(0)),
                (360, 1320, Some(1)),
                (1320, DAY_MIN, Some(0))
            ]
        );
    }

    #[test]
    fn coverage_dates_and_powers_when_pricing() {
        let text = "[[period]]\nvalid_from = \"2025-01-01\"\nvalid_to = 2025-01-31\nsubscription = { eur_per_month = { 6 = 10 } }\n[[period.slot]]\nname = \"Base\"\nhours = [\"00:00-12:00\", \"12:00-24:00\"]\neur_per_kwh = \"0.2\"\n[[period]]\nvalid_from = 2025-03-01\nvalid_to = 2025-03-31\nsubscription = { eur_per_year = 100 }\n[[period.slot]]\nname = \"Base\"\nhours = \"00:00-24:00\"\neur_per_kwh = 0.25\n";
        let f = PriceFile::parse(text, Path::new("dir/my offer.toml")).expect("parses");
        assert_eq!(f.name(), "my offer", "default name: the file stem");
        let o = Offer::custom(f);
        let e = o.prices(6, day("2024-12-31")).expect_err("before");
        assert_eq!(
            e.to_string(),
            "dir/my offer.toml: no price period covers 2024-12-31: the first starts 2025-01-01"
        );
        let e = o.prices(6, day("2025-02-10")).expect_err("gap");
        assert_eq!(e.to_string(), "dir/my offer.toml: no price period covers 2025-02-10: it falls between the period ending 2025-01-31 and the one starting 2025-03-01");
        let e = o.prices(9, day("2025-01-10")).expect_err("no 9 kVA");
        assert_eq!(
            e.to_string(),
            "dir/my offer.toml:4: no subscription for 9 kVA (given for 6 kVA)"
        );
        assert_eq!(
            o.prices(9, day("2025-03-10")).expect("one figure").annual,
            Decimal::parse("100").expect("d")
        );
        let p = o.prices(6, day("2025-04-01")).expect("beyond");
        assert_eq!(
            p.caveats,
            [Caveat::BeyondLastGrid {
                offer: "my offer".into(),
                grid_from: day("2025-03-01")
            }]
        );
        let e = PriceFile::read(Path::new("/nonexistent/p.toml")).expect_err("no file");
        assert!(matches!(e, OfferError::Io { .. }));
        assert!(crate::error::Chain(&e)
            .to_string()
            .starts_with("cannot read prices file \"/nonexistent/p.toml\": "));
    }

    #[test]
    fn colour_slots() {
        let slots = "[[period.slot]]\nname = \"HC\"\nhours = \"22:00-06:00\"\neur_per_kwh = 0.13\n[[period.slot]]\nname = \"HP\"\nhours = \"06:00-22:00\"\ncolours = [\"blue\", \"BLANC\"]\neur_per_kwh = 0.16\n[[period.slot]]\nname = \"HP Rouge\"\nhours = \"06:00-22:00\"\ncolours = [\"red\"]\neur_per_kwh = 0.70\n";
        let o = Offer::custom(parse(&doc("", slots)).expect("parses"));
        assert!(o.uses_colours());
        assert_eq!(o.bands()[2].class, Class::new(Rate::Hp, Some(Colour::Red)));
        let mut t = TempoCalendar::new();
        t.insert(day("2025-01-09"), Colour::White);
        t.insert(day("2025-01-10"), Colour::Red);
        let cal = Calendars {
            tempo: &t,
            ejp_days: None,
        };
        let l = o.layout(day("2025-01-10"), &cal).expect("layout");
        let got: Vec<_> = l
            .iter()
            .map(|p| (p.start, p.end, p.band, p.class.colour))
            .collect();
        assert_eq!(
            got,
            [
                (0, 360, Some(0), Some(Colour::White)),
                (360, 1320, Some(2), Some(Colour::Red)),
                (1320, DAY_MIN, Some(0), Some(Colour::Red))
            ]
        );
        // The 11th has no colour: from 06:00 nothing can be priced.
        let l = o.layout(day("2025-01-11"), &cal).expect("layout");
        let got: Vec<_> = l.iter().map(|p| (p.start, p.end, p.band)).collect();
        assert_eq!(got, [(0, 360, Some(0)), (360, DAY_MIN, None)]);
    }

    #[test]
    fn file_errors_name_the_line() {
        let cases: Vec<(String, &str)> = vec![
            ("name = \"x\"\n[[period]\n".into(), "p.toml:2: unclosed array table, expected `]`"),
            ("name = \"x\"\nname = \"y\"\n".into(), "p.toml:2: duplicate key"),
            ("nom = \"x\"\n".into(), "p.toml:1: unknown key \"nom\" in the file: expected name, period"),
            ("name = \"x\"\n".into(), "p.toml:1: the file has no \"period\""),
            ("name = 3\n[[period]]\n".into(), "p.toml:1: name: expected a string, found an integer"),
            ("period = 3\n".into(), "p.toml:1: period: expected [[period]] tables, found an integer"),
            ("period = []\n".into(), "p.toml:1: no [[period]]"),
            (doc("currency = \"EUR\"", TWO_SLOTS), "p.toml:5: unknown key \"currency\" in [[period]]: expected valid_from, valid_to, subscription, slot"),
            ("[[period]]\nsubscription = { eur_per_year = 1 }\n".into(), "p.toml:1: [[period]] has no \"valid_from\""),
            ("[[period]]\nvalid_from = 2025-01-01\n[[period.slot]]\nname = \"A\"\nhours = \"00:00-24:00\"\neur_per_kwh = 1\n".into(), "p.toml:1: [[period]] has no \"subscription\""),
            ("[[period]]\nvalid_from = 2025-01-01\nsubscription = { eur_per_year = 1 }\n".into(), "p.toml:1: [[period]] has no \"slot\""),
            ("[[period]]\nvalid_from = 2025-01-01\nsubscription = { eur_per_year = 1 }\nslot = []\n".into(), "p.toml:1: [[period]] from 2025-01-01 has no [[period.slot]]"),
            (doc("", TWO_SLOTS).replace("2025-01-01", "\"2025-02-30\""), "p.toml:3: valid_from: expected a date YYYY-MM-DD, found \"2025-02-30\""),
            (doc("", TWO_SLOTS).replace("2025-01-01", "2025-02-30"), "p.toml:3: invalid date, expected day between 01 and 28"),
            (doc("", TWO_SLOTS).replace("2025-01-01", "2025-01-01T00:00:00"), "p.toml:3: valid_from: expected a date YYYY-MM-DD, found the date-time 2025-01-01T00:00:00"),
            (doc("", TWO_SLOTS).replace("2025-01-01", "20250101"), "p.toml:3: valid_from: expected a date YYYY-MM-DD, found an integer"),
            (doc("valid_to = 2024-12-31", TWO_SLOTS), "p.toml:2: valid_to 2024-12-31 is before valid_from 2025-01-01"),
            (doc("", TWO_SLOTS).replace("eur_per_year = 120", "eur_per_year = -120"), "p.toml:4: eur_per_year: expected a price of zero or more, found \"-120\""),
            (doc("", TWO_SLOTS).replace("eur_per_year = 120", "eur_per_day = 1"), "p.toml:4: unknown key \"eur_per_day\" in subscription: expected eur_per_year, eur_per_month"),
            (doc("", TWO_SLOTS).replace("eur_per_year = 120", "eur_per_year = 1, eur_per_month = 1"), "p.toml:4: subscription: expected one of eur_per_year or eur_per_month"),
            (doc("", TWO_SLOTS).replace("{ eur_per_year = 120 }", "120"), "p.toml:4: subscription: expected a table, found an integer"),
            (doc("", TWO_SLOTS).replace("eur_per_year = 120", "eur_per_year = { six = 120 }"), "p.toml:4: eur_per_year: expected a power in kVA (1 to 255) as the key, found \"six\""),
            (doc("", TWO_SLOTS).replace("eur_per_year = 120", "eur_per_year = {}"), "p.toml:4: eur_per_year: no power given"),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2", "eur_per_kwh = -0.2"), "p.toml:13: eur_per_kwh: expected a price of zero or more, found \"-0.2\""),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2", "eur_per_kwh = 0.123456"), "p.toml:13: eur_per_kwh: expected at most 5 decimal places, found \"0.123456\""),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2", "eur_per_kwh = 2e-1"), "p.toml:13: eur_per_kwh: expected a decimal number like 0.1952, found \"2e-1\""),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2", "eur_per_kwh = \"cheap\""), "p.toml:13: eur_per_kwh: expected a decimal number like 0.1952, found \"cheap\""),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2", "eur_per_kwh = true"), "p.toml:13: eur_per_kwh: expected a number, found a boolean"),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2", "eur_per_kwh = 0x10"), "p.toml:13: eur_per_kwh: expected a number, found an integer"),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2", "price = 0.2"), "p.toml:13: unknown key \"price\" in [[period.slot]]: expected name, hours, days, colours, eur_per_kwh"),
            (doc("", TWO_SLOTS).replace("eur_per_kwh = 0.2\n", ""), "p.toml:10: [[period.slot]] has no \"eur_per_kwh\""),
            (doc("", TWO_SLOTS).replace("name = \"HP\"\n", ""), "p.toml:10: [[period.slot]] has no \"name\""),
            (doc("", TWO_SLOTS).replace("name = \"HP\"", "name = \" \""), "p.toml:11: name: empty"),
            (doc("", TWO_SLOTS).replace("hours = \"06:00-22:00\"\n", ""), "p.toml:10: [[period.slot]] has no \"hours\""),
            (doc("", TWO_SLOTS).replace("\"06:00-22:00\"", "6"), "p.toml:12: hours: expected a string or an array of strings, found an integer"),
            (doc("", TWO_SLOTS).replace("\"06:00-22:00\"", "[6]"), "p.toml:12: hours: expected a string, found an integer"),
            (doc("", TWO_SLOTS).replace("06:00-22:00", "6-22"), "p.toml:12: hours: expected HH:MM-HH:MM[,HH:MM-HH:MM…], found \"6-22\""),
            (doc("", TWO_SLOTS).replace("06:00-22:00", "06:00-22:61"), "p.toml:12: hours: expected HH:MM-HH:MM[,HH:MM-HH:MM…], found \"06:00-22:61\""),
            (doc("", TWO_SLOTS).replace("06:00-22:00", "06:00-22:00,06:00-06:00"), "p.toml:12: hours: empty window \"06:00-06:00\""),
            (doc("", TWO_SLOTS).replace("06:00-22:00", "06:00-22:00,21:00-22:00"), "p.toml:12: hours: windows overlap in \"06:00-22:00,21:00-22:00\""),
            (doc("", TWO_SLOTS).replace("06:00-22:00", "06:00-23:00"), "p.toml:10: slot \"HP\" overlaps slot \"HC\" (line 6) on Monday 22:00-23:00"),
            (doc("", TWO_SLOTS).replace("06:00-22:00", "07:00-22:00"), "p.toml:2: the period from 2025-01-01 has no slot for Monday 06:00-07:00"),
            (doc("", TWO_SLOTS).replace("06:00-22:00\"", "06:00-22:00\"\ndays = [\"mon\", \"Tuesday\", \"wed\", \"thu\", \"fri\", \"sat\"]"), "p.toml:2: the period from 2025-01-01 has no slot for Sunday 06:00-22:00"),
            (doc("", TWO_SLOTS).replace("06:00-22:00\"", "06:00-22:00\"\ndays = [\"funday\"]"), "p.toml:13: days: expected one of mon, tue, wed, thu, fri, sat, sun, found \"funday\""),
            (doc("", TWO_SLOTS).replace("06:00-22:00\"", "06:00-22:00\"\ndays = []"), "p.toml:13: days: empty list"),
            (doc("", TWO_SLOTS).replace("06:00-22:00\"", "06:00-22:00\"\ncolours = [\"green\"]"), "p.toml:13: colours: expected blue, white, red (or BLEU, BLANC, ROUGE), found \"green\""),
            (doc("", TWO_SLOTS).replace("06:00-22:00\"", "06:00-22:00\"\ncolours = [\"red\"]"), "p.toml:2: the period from 2025-01-01 has no slot for Monday 06:00-22:00 on blue days"),
            (doc("", TWO_SLOTS).replace("name = \"HP\"", "name = \"HC\""), "p.toml:10: slot \"HC\" costs 0.2 here but 0.15 in another slot of this period"),
            (format!("{}[[period]]\nvalid_from = 2025-01-01\nsubscription = {{ eur_per_year = 1 }}\n{TWO_SLOTS}", doc("", TWO_SLOTS)), "p.toml:14: the period from 2025-01-01 overlaps the one from 2025-01-01 (line 2)"),
            (format!("{}[[period]]\nvalid_from = 2024-06-01\nvalid_to = 2025-01-01\nsubscription = {{ eur_per_year = 1 }}\n{TWO_SLOTS}", doc("", TWO_SLOTS)), "p.toml:14: the period from 2024-06-01 overlaps the one from 2025-01-01 (line 2)"),
        ];
        let mut wrong = Vec::new();
        for (text, want) in cases {
            match parse(&text) {
                Ok(_) => wrong.push(format!("parsed, expected {want}")),
                Err(e) if crate::error::Chain(&e).to_string() != want => {
                    wrong.push(format!("{}\n  expected {want}", crate::error::Chain(&e)))
                }
                Err(_) => {}
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // The TOML error keeps its source.
        let e = parse("a = [\n").expect_err("syntax");
        assert!(std::error::Error::source(&e).is_some());
    }
}
