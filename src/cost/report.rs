//! What the recorded energy cost, and what the other options would have cost: the cost engine
//! ([`super`]) applied to the recorded days through the export's period machinery. [`report`]
//! is the one function behind `tic-rec cost` and the dashboard; both only format its
//! [`Report`] ([`super::output`] gives its columns).
//!
//! ## Contract
//! - **Range and periods** are those of `tic-rec export` ([`crate::export::range`]; days,
//!   ISO weeks, months, years: a cost needs whole days, so not hours): one [`CostRow`] per
//!   period. The days priced are those of the range from the first to the last day of the
//!   data directory; a period with none has no cost (`None`, never 0). A day between recorded
//!   days is priced with the export's interpolated energy, and its period's coverage, gap and
//!   flags say so.
//! - **The actual contract** is the last NGTF (standard) or OPTARIF (historique) and the
//!   last PREF or ISOUSC (as kVA, [`crate::tic::labels::kva_from_isousc`]) of the range's
//!   days (of the *learning window* when they have none: the range's days, and at least the
//!   [`LEARNING_DAYS`] days ending on its last day), unless given ([`Options::contract`],
//!   [`Options::kva`]); a change is told ([`CostNote::Changed`]) and the last value kept. With [`Options::actual_prices`] the
//!   actual energy is priced with the [`Options::prices`] offer instead of the regulated
//!   grid.
//! - **Actual energy** comes from the meter's own registers, per local day: each supplier
//!   index (EASF01…, its class from the `(NTARF, LTARF)` pairs) or historique index (BASE,
//!   HCHC/HCHP, EJPHN → EJP normal, EJPHPM → EJP pointe mobile, BBR*) goes to the band of the
//!   actual offer of its class (Base takes them all). When a register with energy has no such
//!   band (a Tempo register under `--contract hchp` keeps its colour, a `--prices` offer with
//!   two HC bands…), the actual energy is the total index split by the offer's own calendar
//!   instead, and [`CostNote::ActualFromTotal`] says so.
//! - **What-if**: Base, HC/HP, Tempo and EJP (and the `--prices` offer, unless it prices the
//!   actual energy) from the total index (EAST, else the historique indexes, else the supplier
//!   ones) split by each option's calendar ([`super::slots`]). HC/HP uses the HC schedule
//!   given ([`Options::hc`]), else the one learned from the window's switches between HC and
//!   HP ([`super::learn`]), else 22:00–06:00 ([`ScheduleOrigin`]). Tempo takes the colours the
//!   meter's tariff names gave (the colour named by most records of the Tempo day, 06:00 →
//!   06:00; a tie gives none), over the shipped calendar extended by
//!   [`Options::tempo_calendar`]; a day without a colour is left out of the Tempo total and
//!   counted. EJP needs the mobile-peak days, which only an EJP meter's stream gives (a day
//!   is one when most records of its 07:00 → 01:00 say so); otherwise, or without an EJP grid
//!   for the power, it is [`super::Outcome::Unavailable`].
//! - **Energy at slot boundaries** is the consumption credited up to each boundary by
//!   [`crate::export::export_probed`]: the export's interpolation and guards (a glitch never
//!   becomes a bill), so slots add up exactly to their period. With [`ReadMode::Index`] the
//!   boundaries at whole hours (midnights, Tempo's 06:00/22:00, EJP's 01:00/07:00, a schedule
//!   of whole hours) and at the minutes of the meter's own switches are read from the day
//!   summaries; a `--hc` or `--prices` boundary at another minute makes the days it falls in
//!   read in full (slower, same result). [`ReadMode::Scan`] reads every row; both give the same
//!   report.
//! - **Money** is exact ([`super::Money`]): the caller rounds to the cent when it shows it.
//!   The summary over the whole range ([`Report::total`]) is priced as one range, so it is
//!   exactly the sum of the rows.
//! - The library prints nothing: notes go to [`Report::notes`], export notes (damaged rows,
//!   an unwritable index) to the [`ExportObserver`].
//!
//! ## Use
//! "Today so far" and "the last 12 months" (a dashboard keeps the [`Catalog`] open, and
//! opens it again when a new day starts):
//!
//! ```no_run
//! use tic_rec::cost::{report, Options};
//! use tic_rec::export::{self, Period, Quiet};
//!
//! let catalog = export::open(std::path::Path::new("tic-data"))?;
//! let today = chrono::Local::now().date_naive();
//! let mut o = Options::new(Period::Day);
//! (o.from, o.to) = (Some(today), Some(today));
//! let r = report(&catalog, &o, &mut Quiet)?;
//! if let Some(w) = &r.total {
//!     println!("{} so far", w.actual.total().human()); // exact, rounded when shown
//! }
//! let mut o = Options::new(Period::Month);
//! o.from = today.checked_sub_months(chrono::Months::new(12));
//! for row in report(&catalog, &o, &mut Quiet)?.rows {
//!     if let Some(w) = &row.cost {
//!         println!("{} {} cheapest {}", row.start, w.actual.total().plain(),
//!             tic_rec::cost::Report::cheapest_key(w));
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each call reads the day summaries of its range (and of the [`LEARNING_DAYS`] before its
//! end) twice and prices them: about a tenth of a second for a year of one-second records on
//! this project's build machine (BENCHMARKS.md); the day being recorded is read in full each
//! time (its file changes).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Days, NaiveDate};

use super::schedule::local_instant;
use super::{
    alternatives, cost_of, learn, price, slots, Calendars, Caveat, CostError, DayRange, HcSchedule,
    Learned, Offer, OfferError, Outcome, PriceFile, Slot, Tariff, TempoCalendar, TempoError,
    WhatIf,
};
use crate::export::{
    self, Catalog, DayFacts, ExportObserver, Flags, Period, Quiet, ReadMode, Table,
};
use crate::tic::labels::{energy_label, Class, Colour, Rate, Slot as IndexSlot};

/// The least number of days, ending on the range's last day, whose records teach the contract
/// and the HC schedule (so that "today so far" knows the meter's schedule).
pub const LEARNING_DAYS: u64 = 28;

/// What to cost.
#[derive(Clone, Debug)]
pub struct Options {
    /// Period length ([`Period::Hour`] is refused: a cost needs whole days).
    pub period: Period,
    /// First local day (default: the first recorded day).
    pub from: Option<NaiveDate>,
    /// Last local day, inclusive (default: the last recorded day).
    pub to: Option<NaiveDate>,
    /// How to read the days.
    pub mode: ReadMode,
    /// The actual option, instead of the one the meter names.
    pub contract: Option<Tariff>,
    /// The subscribed power, instead of the one the meter states.
    pub kva: Option<u8>,
    /// The HC schedule of the HC/HP what-if (and of an actual HC/HP priced from the total),
    /// instead of the one learned from the meter.
    pub hc: Option<HcSchedule>,
    /// Tempo colours that extend (and override) the shipped calendar.
    pub tempo_calendar: Option<TempoCalendar>,
    /// Another supplier's offer: priced as an alternative, or as the actual contract with
    /// [`Options::actual_prices`].
    pub prices: Option<PriceFile>,
    /// Price the actual energy with [`Options::prices`].
    pub actual_prices: bool,
}

impl Options {
    /// Periods of `period` over every recorded day, everything detected, read through the
    /// summary index.
    pub fn new(period: Period) -> Options {
        Options {
            period,
            from: None,
            to: None,
            mode: ReadMode::Index,
            contract: None,
            kva: None,
            hc: None,
            tempo_calendar: None,
            prices: None,
            actual_prices: false,
        }
    }
}

/// Where a fact of the actual contract comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The meter said it: the value as recorded (NGTF/OPTARIF text, PREF/ISOUSC as kVA).
    Meter(String),
    /// The caller gave it.
    Given,
}

/// What the actual energy was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnergyFrom {
    /// The meter's registers, per day and class.
    Registers,
    /// The total index split by the offer's calendar.
    TotalIndex,
}

/// The actual contract.
#[derive(Clone, Debug)]
pub struct Contract {
    /// The option (`--contract`, or the meter's).
    pub tariff: Tariff,
    /// Where the option comes from.
    pub tariff_origin: Origin,
    /// Subscribed power, kVA.
    pub kva: u8,
    /// Where the power comes from.
    pub kva_origin: Origin,
    /// The offer the actual energy is priced with: the option's regulated grid, or the
    /// `--prices` offer.
    pub offer: Offer,
    /// What the actual energy was read from.
    pub energy: EnergyFrom,
}

impl Contract {
    /// `HC/HP 6 kVA`, `Mon offre 6 kVA`.
    pub fn label(&self) -> String {
        format!("{} {} kVA", self.offer.name(), self.kva)
    }
}

/// How the HC schedule of the HC/HP what-if was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleOrigin {
    /// Learned from the meter's switches between HC and HP.
    Learned(Learned),
    /// Given by the caller.
    Given,
    /// 22:00–06:00, the meter's could not be learned: why.
    Standard {
        /// Why no schedule was learned.
        reason: String,
    },
}

/// One period of a cost report.
#[derive(Debug)]
pub struct CostRow {
    /// Start, Unix seconds (inclusive).
    pub start: i64,
    /// End, Unix seconds (exclusive).
    pub end: i64,
    /// The days priced (`None`: the period has no recorded day).
    pub days: Option<DayRange>,
    /// The actual cost and the alternatives (`None` with `days`).
    pub cost: Option<WhatIf>,
    /// Total withdrawn over the period, Wh.
    pub total_wh: Option<i64>,
    /// Records in the period.
    pub records: Option<u64>,
    /// Share of the period covered by records at most 5 min apart.
    pub coverage: Option<f64>,
    /// Longest stretch without a record, s.
    pub max_gap_s: Option<i64>,
    /// The export's quality flags.
    pub flags: Flags,
}

/// A cost report: per period and over the whole range.
#[derive(Debug)]
pub struct Report {
    /// The days priced (`None`: the range holds no recorded day).
    pub days: Option<DayRange>,
    /// The actual contract (`None` with `days`).
    pub contract: Option<Contract>,
    /// The HC schedule of the HC/HP what-if.
    pub schedule: HcSchedule,
    /// How it was found.
    pub schedule_origin: ScheduleOrigin,
    /// The alternatives of every row, in order: `(key, name)`, the key being `base`,
    /// `hchp`, `tempo`, `ejp` or `offer` (a `--prices` offer).
    pub alternatives: Vec<(String, String)>,
    /// One row per period.
    pub rows: Vec<CostRow>,
    /// The whole range ([`WhatIf::summary`] is the closing sentence).
    pub total: Option<WhatIf>,
    /// What the reader should know.
    pub notes: Vec<CostNote>,
}

impl Report {
    /// The key of an alternative of [`Report::alternatives`], or of the actual cost.
    pub fn key_of(tariff: Option<Tariff>) -> &'static str {
        tariff.map_or("offer", Tariff::name)
    }

    /// The key of the cheapest cost of `w`: that of its option (`hchp`…, `offer`).
    pub fn cheapest_key(w: &WhatIf) -> &'static str {
        match w.cheapest() {
            super::Cheapest::Actual => Report::key_of(w.actual.tariff),
            super::Cheapest::Alternative(i) => {
                Report::key_of(w.alternatives.get(i).and_then(Outcome::tariff))
            }
        }
    }
}

/// Something a cost's reader should know.
#[derive(Clone, Debug, PartialEq)]
pub enum CostNote {
    /// The HC schedule used for HC/HP.
    Schedule {
        /// The schedule.
        schedule: HcSchedule,
        /// How it was found.
        origin: ScheduleOrigin,
    },
    /// The given schedule is not the meter's.
    ScheduleNotTheMeters {
        /// Given.
        given: HcSchedule,
        /// Learned from the meter.
        learned: HcSchedule,
    },
    /// The contract or the subscribed power changed inside the learning window.
    Changed {
        /// `contract` or `subscribed power`.
        what: &'static str,
        /// The value before.
        before: String,
        /// The value after (the one kept).
        after: String,
        /// The first day of the new value.
        day: NaiveDate,
    },
    /// The meter's registers do not match the actual offer's bands.
    ActualFromTotal {
        /// The offer.
        offer: String,
        /// What does not match.
        reason: String,
    },
    /// Tempo colours read from the meter.
    TempoFromMeter {
        /// Days.
        days: usize,
        /// Of which the calendar gave another colour.
        differ: usize,
    },
    /// Days without a Tempo colour, left out of the Tempo total.
    TempoUncoloured {
        /// The days.
        days: Vec<NaiveDate>,
    },
    /// An alternative could not be priced.
    Unavailable {
        /// The offer.
        offer: String,
        /// Why.
        reason: String,
    },
    /// A caveat of a cost of the range.
    Caveat(Caveat),
}

impl CostNote {
    /// Whether it warns (the figures may not be what the reader expects) rather than informs.
    pub fn is_warning(&self) -> bool {
        match self {
            CostNote::Schedule { origin, .. } => matches!(origin, ScheduleOrigin::Standard { .. }),
            CostNote::TempoFromMeter { .. } => false,
            CostNote::Caveat(c) => matches!(c, Caveat::BeyondLastGrid { .. }),
            _ => true,
        }
    }
}

fn list_days(days: &[NaiveDate]) -> String {
    let shown: Vec<String> = days.iter().take(5).map(NaiveDate::to_string).collect();
    let more = days.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl fmt::Display for CostNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CostNote::Schedule { schedule, origin } => match origin {
                ScheduleOrigin::Learned(l) => write!(
                    f,
                    "HC/HP what-if with the meter's own HC hours {schedule} (learned from {} switches over {} days)",
                    l.switches, l.days
                ),
                ScheduleOrigin::Given => write!(f, "HC/HP what-if with the HC hours given, {schedule}"),
                ScheduleOrigin::Standard { reason } => write!(
                    f,
                    "HC/HP what-if with HC hours {schedule} (the usual ones: {reason}; give --hc to change them)"
                ),
            },
            CostNote::ScheduleNotTheMeters { given, learned } => write!(
                f,
                "the HC hours given ({given}) are not the meter's ({learned}): the what-if uses those given"
            ),
            CostNote::Changed {
                what,
                before,
                after,
                day,
            } => write!(
                f,
                "the {what} changed on {day} ({before} → {after}): the whole range is priced with {after}; cost each side with --from/--to"
            ),
            CostNote::ActualFromTotal { offer, reason } => write!(
                f,
                "{offer}: {reason}, so the actual cost splits the total index by {offer}'s hours instead"
            ),
            CostNote::TempoFromMeter { days, differ } => {
                let s = if *days == 1 { "" } else { "s" };
                write!(f, "Tempo colours of {days} day{s} from the meter")?;
                if *differ > 0 {
                    write!(f, " ({differ} differ from the calendar; the meter's are used)")?;
                }
                Ok(())
            }
            CostNote::TempoUncoloured { days } => write!(
                f,
                "{} without a known Tempo colour left out of the Tempo total: {} (give --tempo-calendar FILE)",
                if days.len() == 1 { "1 day".to_owned() } else { format!("{} days", days.len()) },
                list_days(days)
            ),
            CostNote::Unavailable { offer, reason } => write!(f, "{offer} not priced: {reason}"),
            CostNote::Caveat(c) => write!(f, "{c}"),
        }
    }
}

/// A cost report failure.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the days failed.
    #[error(transparent)]
    Export(#[from] export::Error),
    /// The shipped Tempo calendar does not parse (never in a release).
    #[error(transparent)]
    Tempo(#[from] TempoError),
    /// Hours are no cost period.
    #[error("a cost needs whole days: use --day, --week, --month or --year, not --hour")]
    HourPeriod,
    /// `actual_prices` without a prices file.
    #[error("--actual-prices needs --prices FILE")]
    NoPricesFile,
    /// The data names no contract.
    #[error("the data names no contract (no NGTF or OPTARIF from {from} to {to}): give --contract base|hchp|tempo|ejp")]
    NoContract {
        /// First day of the learning window.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// The meter names a contract that is not a regulated option.
    #[error("the meter's contract {name:?} (NGTF/OPTARIF) is not Base, HC/HP, Tempo or EJP: give --contract base|hchp|tempo|ejp")]
    UnknownContract {
        /// The name.
        name: String,
    },
    /// The data states no subscribed power.
    #[error(
        "the data states no subscribed power (no PREF or ISOUSC from {from} to {to}): give --kva N"
    )]
    NoKva {
        /// First day of the learning window.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// The stated power is not a kVA figure.
    #[error(
        "the meter's subscribed power {kva} kVA is not one of a household contract: give --kva N"
    )]
    BadKva {
        /// The value.
        kva: i64,
    },
    /// The actual contract cannot be priced.
    #[error("cannot price the actual contract ({contract}{hint})")]
    Actual {
        /// `HC/HP 6 kVA`.
        contract: String,
        /// Where its figures come from, when the meter said them.
        hint: &'static str,
        /// Why.
        #[source]
        source: Box<CostError>,
    },
    /// A slot boundary was not among the probes (a bug).
    #[error("internal error: a slot boundary at {0} was not read")]
    Unprobed(i64),
}

/// The facts of the learning window, by day.
type Facts = BTreeMap<NaiveDate, DayFacts>;

/// The last value of `get` over the days of the range (over the whole learning window when
/// the range has none), telling the last change among them.
fn last_value<T: Clone + PartialEq + fmt::Display>(
    facts: &Facts,
    range: (NaiveDate, NaiveDate),
    get: impl Fn(&DayFacts) -> Option<T>,
    what: &'static str,
    notes: &mut Vec<CostNote>,
) -> Option<T> {
    let in_range = facts
        .range(range.0..=range.1)
        .any(|(_, f)| get(f).is_some());
    let days: Box<dyn Iterator<Item = (&NaiveDate, &DayFacts)>> = if in_range {
        Box::new(facts.range(range.0..=range.1))
    } else {
        Box::new(facts.iter())
    };
    let mut last: Option<T> = None;
    let mut change: Option<(T, T, NaiveDate)> = None;
    for (day, f) in days {
        if let Some(v) = get(f) {
            if let Some(prev) = last.as_ref().filter(|p| **p != v) {
                change = Some((prev.clone(), v.clone(), *day));
            }
            last = Some(v);
        }
    }
    if let Some((before, after, day)) = change {
        notes.push(CostNote::Changed {
            what,
            before: before.to_string(),
            after: after.to_string(),
            day,
        });
    }
    last
}

/// The `(instant, rate)` observations of the window's HC/HP records that [`learn`] needs: each
/// day's first and last, and the two records of each switch (the others say nothing more).
fn observations(facts: &Facts) -> Vec<(chrono::DateTime<chrono_tz::Tz>, Rate)> {
    let mut v: Vec<(i64, Rate)> = Vec::new();
    let other = |r: Rate| if r == Rate::Hc { Rate::Hp } else { Rate::Hc };
    for f in facts.values() {
        v.extend(f.first_rate);
        for s in &f.switches {
            v.push((s.before, other(s.to)));
            v.push((s.at, s.to));
        }
        v.extend(f.last_rate);
    }
    v.dedup_by_key(|o| o.0);
    v.into_iter()
        .filter_map(|(t, r)| {
            let at = chrono::DateTime::from_timestamp(t, 0)?.with_timezone(&crate::store::TZ);
            Some((at, r))
        })
        .collect()
}

fn next_day(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(1))
}

/// The colour of Tempo day `day` by the meter's tariff names: the one most records of its
/// 06:00 → 06:00 named; `None` on a tie or without any.
fn stream_colour(facts: &Facts, day: NaiveDate) -> Option<Colour> {
    let mut n = [0u64; 3];
    if let Some(f) = facts.get(&day) {
        for w in &f.windows[2..] {
            n.iter_mut()
                .zip(w.colours)
                .for_each(|(a, b)| *a += u64::from(b));
        }
    }
    if let Some(f) = next_day(day).and_then(|d| facts.get(&d)) {
        for w in &f.windows[..2] {
            n.iter_mut()
                .zip(w.colours)
                .for_each(|(a, b)| *a += u64::from(b));
        }
    }
    let best = *n.iter().max()?;
    if best == 0 || n.iter().filter(|&&x| x == best).count() > 1 {
        return None;
    }
    let i = n.iter().position(|&x| x == best)?;
    Colour::ALL.get(i).copied()
}

/// Whether `day` was an EJP mobile-peak day by the meter: most records of its 07:00 → 01:00
/// named the mobile peak.
fn mobile_peak_day(facts: &Facts, day: NaiveDate) -> bool {
    let (mut pm, mut n) = (0u64, 0u64);
    if let Some(w) = facts.get(&day).map(|f| f.windows[3]) {
        pm += u64::from(w.mobile_peak);
        n += u64::from(w.records);
    }
    if let Some(w) = next_day(day)
        .and_then(|d| facts.get(&d))
        .map(|f| f.windows[0])
    {
        pm += u64::from(w.mobile_peak);
        n += u64::from(w.records);
    }
    pm * 2 > n
}

/// The band of `offer` a register of class `class` counts in (see the module doc).
fn register_band(
    offer: &Offer,
    label: &str,
    class: Option<Class>,
    ejp_name: Option<&str>,
) -> Option<usize> {
    if offer.bands().len() == 1 {
        return Some(0);
    }
    match offer.tariff() {
        Some(Tariff::Base) => Some(0),
        Some(Tariff::HcHp) => match class?.rate {
            Rate::Hc => Some(0),
            Rate::Hp => Some(1),
            Rate::Other => None,
        },
        Some(Tariff::Ejp) => match label {
            "EJPHN" => Some(0),
            "EJPHPM" => Some(1),
            _ => ejp_name.map(|n| usize::from(crate::tic::labels::is_mobile_peak(n))),
        },
        Some(Tariff::Tempo) | None => {
            let class = class?;
            let mut matching = offer
                .bands()
                .iter()
                .enumerate()
                .filter(|(_, b)| b.class == class);
            let (i, _) = matching.next()?;
            matching.next().is_none().then_some(i)
        }
    }
}

/// The meter's registers: the supplier and historique indexes present, with their class.
fn registers(table: &Table) -> Vec<(usize, Option<Class>)> {
    let classes = table.classes();
    table
        .labels
        .iter()
        .filter_map(|&k| match energy_label(k).slot()? {
            IndexSlot::Supplier(_) => Some((k, classes[k])),
            IndexSlot::Total if k != 0 => Some((k, Some(Class::new(Rate::Other, None)))),
            IndexSlot::Fixed(c) => Some((k, Some(c))),
            _ => None,
        })
        .collect()
}

/// The days of `[start, end)` (Unix seconds, local midnights), within `priced`.
fn row_days(start: i64, end: i64, priced: DayRange) -> Option<DayRange> {
    let date = crate::store::local_day;
    let first = date(start)?.max(priced.first);
    let last = date(end - 1)?.min(priced.last);
    DayRange::new(first, last).ok()
}

/// Costs the recorded days of `store` (see the module doc).
pub fn report(
    store: &Catalog,
    options: &Options,
    observer: &mut dyn ExportObserver,
) -> Result<Report, ReportError> {
    if options.period == Period::Hour {
        return Err(ReportError::HourPeriod);
    }
    if options.actual_prices && options.prices.is_none() {
        return Err(ReportError::NoPricesFile);
    }
    let (from, to) = export::range(store, options.from, options.to)?;
    let mut notes = Vec::new();
    let priced = match (store.first_day(), store.last_day()) {
        (Some(a), Some(b)) => DayRange::new(from.max(a), to.min(b)).ok(),
        _ => None,
    };
    let learn_from = to
        .checked_sub_days(Days::new(LEARNING_DAYS - 1))
        .map_or(from, |d| d.min(from));
    let facts: Facts = export::day_facts(store, learn_from, to, options.mode, &mut Quiet)?
        .into_iter()
        .collect();

    // The HC schedule.
    let learned = learn(observations(&facts));
    let (schedule, schedule_origin) = match (&options.hc, &learned) {
        (Some(hc), Ok(l)) => {
            if l.schedule != *hc {
                notes.push(CostNote::ScheduleNotTheMeters {
                    given: hc.clone(),
                    learned: l.schedule.clone(),
                });
            }
            (hc.clone(), ScheduleOrigin::Given)
        }
        (Some(hc), Err(_)) => (hc.clone(), ScheduleOrigin::Given),
        (None, Ok(l)) => (l.schedule.clone(), ScheduleOrigin::Learned(l.clone())),
        (None, Err(e)) => (
            HcSchedule::standard(),
            ScheduleOrigin::Standard {
                reason: match e {
                    super::ScheduleError::Unlearnable { reason } => reason.clone(),
                    super::ScheduleError::NotASchedule { source } => {
                        crate::error::Chain(&**source).to_string()
                    }
                    other => crate::error::Chain(other).to_string(),
                },
            },
        ),
    };

    // The alternatives' keys and names.
    let mut alt_offers: Vec<Offer> = Tariff::ALL
        .iter()
        .map(|&t| Offer::regulated(t, (t == Tariff::HcHp).then(|| schedule.clone())))
        .collect();
    if let (Some(p), false) = (&options.prices, options.actual_prices) {
        alt_offers.push(Offer::custom(p.clone()));
    }
    let alt_keys: Vec<(String, String)> = alt_offers
        .iter()
        .map(|o| (Report::key_of(o.tariff()).to_owned(), o.name().to_owned()))
        .collect();

    let export_options = export::Options {
        period: options.period,
        from: Some(from),
        to: Some(to),
        mode: options.mode,
    };
    let Some(priced) = priced else {
        let (table, _) = export::export_probed(store, &export_options, Vec::new(), observer)?;
        return Ok(Report {
            days: None,
            contract: None,
            schedule,
            schedule_origin,
            alternatives: alt_keys,
            rows: empty_rows(&table),
            total: None,
            notes,
        });
    };

    notes.insert(
        0,
        CostNote::Schedule {
            schedule: schedule.clone(),
            origin: schedule_origin.clone(),
        },
    );

    // The actual contract.
    let meter_name = last_value(
        &facts,
        (from, to),
        |f| (!f.contract.is_empty()).then(|| f.contract.clone()),
        "contract",
        &mut notes,
    );
    let meter_tariff = meter_name.as_deref().and_then(Tariff::from_meter);
    let (tariff, tariff_origin) = match (options.contract, &meter_name, meter_tariff) {
        (Some(t), _, _) => (t, Origin::Given),
        (None, Some(name), Some(t)) => (t, Origin::Meter(name.clone())),
        (None, Some(name), None) => {
            return Err(ReportError::UnknownContract { name: name.clone() })
        }
        (None, None, _) => {
            return Err(ReportError::NoContract {
                from: learn_from,
                to,
            })
        }
    };
    let (kva, kva_origin) = match options.kva {
        Some(k) => (k, Origin::Given),
        None => {
            let k = last_value(
                &facts,
                (from, to),
                |f| f.kva,
                "subscribed power",
                &mut notes,
            )
            .ok_or(ReportError::NoKva {
                from: learn_from,
                to,
            })?;
            let kva = u8::try_from(k)
                .ok()
                .filter(|&k| k > 0)
                .ok_or(ReportError::BadKva { kva: k })?;
            (kva, Origin::Meter(k.to_string()))
        }
    };
    let actual_offer = match (&options.prices, options.actual_prices) {
        (Some(p), true) => Offer::custom(p.clone()),
        _ => Offer::regulated(tariff, (tariff == Tariff::HcHp).then(|| schedule.clone())),
    };

    // The calendars.
    let mut tempo = TempoCalendar::shipped()?.clone();
    if let Some(extra) = &options.tempo_calendar {
        tempo.extend(extra);
    }
    let tempo_days = priced
        .first
        .pred_opt()
        .unwrap_or(priced.first)
        .iter_days()
        .take_while(|d| *d <= priced.last);
    let (mut from_meter, mut differ) = (0, 0);
    for d in tempo_days {
        if let Some(c) = stream_colour(&facts, d) {
            from_meter += 1;
            if tempo.insert(d, c).is_some_and(|old| old != c) {
                differ += 1;
            }
        }
    }
    if from_meter > 0 {
        notes.push(CostNote::TempoFromMeter {
            days: from_meter,
            differ,
        });
    }
    let meter_on_ejp = meter_tariff == Some(Tariff::Ejp);
    let ejp_days: BTreeSet<NaiveDate> = if meter_on_ejp {
        priced
            .first
            .pred_opt()
            .unwrap_or(priced.first)
            .iter_days()
            .take_while(|d| *d <= priced.last)
            .filter(|d| mobile_peak_day(&facts, *d))
            .collect()
    } else {
        BTreeSet::new()
    };
    let cal = Calendars {
        tempo: &tempo,
        ejp_days: meter_on_ejp.then_some(&ejp_days),
    };

    // The probes: every slot boundary of every offer.
    let mut probes: Vec<i64> = Vec::new();
    for o in alt_offers.iter().chain([&actual_offer]) {
        if let Ok(s) = slots(o, &cal, priced) {
            for s in s {
                probes.push(s.start.timestamp());
                probes.push(s.end.timestamp());
            }
        }
    }
    let (table, probed) = export::export_probed(store, &export_options, probes, observer)?;
    let total_labels = table.total_labels();
    let missed: Cell<Option<i64>> = Cell::new(None);
    let wh = |s: &Slot| -> u64 {
        let (a, b) = (s.start.timestamp(), s.end.timestamp());
        match probed.as_ref().and_then(|p| p.between(&total_labels, a, b)) {
            Some(v) => u64::try_from(v).unwrap_or(0),
            None => {
                missed.set(Some(a));
                0
            }
        }
    };

    // The actual energy from the registers, per day, when they match the offer's bands: each
    // register with energy has a band, and each band is some register's.
    let mut pairs: Vec<(Slot, u64)> = Vec::new();
    let mut mismatch: Option<String> = None;
    let mut covered = vec![false; actual_offer.bands().len()];
    for (k, class) in registers(&table) {
        let label = energy_label(k).name;
        let ejp_name = match energy_label(k).slot() {
            Some(IndexSlot::Supplier(n)) => table.tariffs.name(n),
            _ => None,
        };
        // A band index is one of the offer's (register_band picks among them).
        let band = register_band(&actual_offer, label, class, ejp_name)
            .filter(|&b| b < actual_offer.bands().len());
        if let Some(b) = band.filter(|_| class.is_some() || ejp_name.is_some()) {
            covered[b] = true;
        }
        let Some(p) = &probed else { continue };
        for date in priced.iter() {
            let (Ok(start), Some(Ok(end))) = (
                local_instant(date, 0),
                next_day(date).map(|d| local_instant(d, 0)),
            ) else {
                continue;
            };
            let (Some(a), Some(b)) = (
                p.credited(k, start.timestamp()),
                p.credited(k, end.timestamp()),
            ) else {
                return Err(ReportError::Unprobed(start.timestamp()));
            };
            let d = u64::try_from(b - a).unwrap_or(0);
            if d == 0 {
                continue;
            }
            let Some(band) = band else {
                mismatch.get_or_insert_with(|| {
                    format!("the meter's register {label} matches no band of it")
                });
                break;
            };
            covered[band] = true;
            let class = actual_offer.bands()[band].class; // band < bands().len(), above
            pairs.push((
                Slot {
                    start,
                    end,
                    date,
                    class,
                    band: Some(band),
                },
                d,
            ));
        }
    }
    if mismatch.is_none() {
        if let Some(b) = covered
            .iter()
            .zip(actual_offer.bands())
            .find_map(|(c, b)| (!c).then_some(b))
        {
            mismatch = Some(format!(
                "the meter has no register for its band {:?}",
                b.name
            ));
        }
    }
    let energy = match mismatch {
        None => EnergyFrom::Registers,
        Some(reason) => {
            notes.push(CostNote::ActualFromTotal {
                offer: actual_offer.name().to_owned(),
                reason,
            });
            EnergyFrom::TotalIndex
        }
    };
    pairs.sort_by_key(|(s, _)| s.date);
    let contract = Contract {
        tariff,
        tariff_origin,
        kva,
        kva_origin,
        offer: actual_offer,
        energy,
    };

    let price_days = |days: DayRange| -> Result<WhatIf, ReportError> {
        let actual = match contract.energy {
            EnergyFrom::Registers => {
                let lo = pairs.partition_point(|(s, _)| s.date < days.first);
                let hi = pairs.partition_point(|(s, _)| s.date <= days.last);
                price(&contract.offer, kva, days, &pairs[lo..hi])
            }
            EnergyFrom::TotalIndex => cost_of(&contract.offer, kva, &cal, days, wh),
        }
        .map_err(|source| ReportError::Actual {
            contract: contract.label(),
            hint: match (&contract.tariff_origin, &contract.kva_origin) {
                (Origin::Given, Origin::Given) => "",
                _ => ", as the meter says: --contract and --kva give others",
            },
            source: Box::new(source),
        })?;
        let alternatives = alternatives(&alt_offers, kva, &cal, days, wh);
        if let Some(t) = missed.get() {
            return Err(ReportError::Unprobed(t));
        }
        Ok(WhatIf {
            actual,
            alternatives,
        })
    };
    let total = price_days(priced)?;
    let mut rows = Vec::with_capacity(table.rows.len());
    for r in &table.rows {
        let total_wh = table.total(r);
        let days = total_wh.and_then(|_| row_days(r.start, r.end, priced));
        let cost = days.map(&price_days).transpose()?;
        rows.push(CostRow {
            start: r.start,
            end: r.end,
            days,
            cost,
            total_wh,
            records: r.records,
            coverage: r.coverage,
            max_gap_s: r.max_gap_s,
            flags: r.flags,
        });
    }

    // What to tell about the whole range.
    let mut caveats: BTreeSet<Caveat> = total.actual.caveats.iter().cloned().collect();
    for o in &total.alternatives {
        match o {
            Outcome::Priced(c) => {
                caveats.extend(c.caveats.iter().cloned());
                if c.tariff == Some(Tariff::Tempo) && !c.excluded_days.is_empty() {
                    notes.push(CostNote::TempoUncoloured {
                        days: c.excluded_days.clone(),
                    });
                }
            }
            Outcome::Unavailable { offer, error, .. } => {
                let no_days = matches!(error, CostError::Offer(OfferError::NoEjpDays));
                if !no_days || meter_on_ejp {
                    notes.push(CostNote::Unavailable {
                        offer: offer.clone(),
                        reason: crate::error::Chain(error).to_string(),
                    });
                }
            }
        }
    }
    notes.extend(caveats.into_iter().map(CostNote::Caveat));
    Ok(Report {
        days: Some(priced),
        contract: Some(contract),
        schedule,
        schedule_origin,
        alternatives: alt_keys,
        rows,
        total: Some(total),
        notes,
    })
}

/// [`report`] over the data directory `dir`.
pub fn report_dir(
    dir: &std::path::Path,
    options: &Options,
    observer: &mut dyn ExportObserver,
) -> Result<Report, ReportError> {
    report(&export::open(dir)?, options, observer)
}

/// The rows of a range without a recorded day.
fn empty_rows(table: &Table) -> Vec<CostRow> {
    table
        .rows
        .iter()
        .map(|r| CostRow {
            start: r.start,
            end: r.end,
            days: None,
            cost: None,
            total_wh: None,
            records: r.records,
            coverage: r.coverage,
            max_gap_s: r.max_gap_s,
            flags: r.flags,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_crosses_threads() {
        // The dashboard computes reports on a worker thread and serves them from others.
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Report>();
        send_sync::<Options>();
        send_sync::<ReportError>();
    }

    #[test]
    fn registers_go_to_the_band_of_their_class() {
        use crate::tic::labels::classify;
        let hchp = Offer::regulated(Tariff::HcHp, None);
        let tempo = Offer::regulated(Tariff::Tempo, None);
        let base = Offer::regulated(Tariff::Base, None);
        let ejp = Offer::regulated(Tariff::Ejp, None);
        let c = |n: &str| Some(classify(n));
        type Case<'a> = (
            &'a Offer,
            &'a str,
            Option<Class>,
            Option<&'a str>,
            Option<usize>,
        );
        let cases: &[Case<'_>] = &[
            (&hchp, "EASF01", c("HEURE CREUSE"), None, Some(0)),
            (&hchp, "EASF02", c("HEURE PLEINE"), None, Some(1)),
            (&hchp, "EASF03", c("HC ROUGE"), None, Some(0)),
            (&hchp, "BASE", c("BASE"), None, None),
            (&tempo, "EASF01", c("HC BLEU"), None, Some(0)),
            (&tempo, "BBRHPJR", c("HPJR"), None, Some(5)),
            (&tempo, "EASF01", c("HEURE CREUSE"), None, None),
            (&base, "EASF02", c("HEURE PLEINE"), None, Some(0)),
            (&base, "EASF03", None, None, Some(0)),
            (&ejp, "EJPHN", None, None, Some(0)),
            (&ejp, "EJPHPM", None, None, Some(1)),
            (
                &ejp,
                "EASF02",
                c("HEURE POINTE MOBILE"),
                Some("HEURE POINTE MOBILE"),
                Some(1),
            ),
            (&ejp, "EASF03", None, None, None),
        ];
        for (offer, label, class, name, want) in cases {
            assert_eq!(
                register_band(offer, label, *class, *name),
                *want,
                "{} {label}",
                offer.name()
            );
        }
    }

    #[test]
    fn colours_and_mobile_peak_days_by_most_records() {
        use crate::export::Window;
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let w = |records, colours, mobile_peak| Window {
            records,
            colours,
            mobile_peak,
        };
        let mut facts = Facts::new();
        // 1 March: red by day (900 records, 2 white glitches), then 2 March before 06:00 red.
        let mut f = DayFacts {
            windows: [
                w(60, [60, 0, 0], 0),
                w(300, [300, 0, 0], 0),
                w(60, [0, 0, 60], 0),
                w(900, [0, 2, 898], 0),
            ],
            ..DayFacts::default()
        };
        facts.insert(d("2025-03-01"), f.clone());
        f.windows = [
            w(60, [0, 0, 60], 60),
            w(300, [0, 0, 300], 0),
            w(60, [0, 30, 30], 0),
            w(900, [0, 0, 0], 500),
        ];
        facts.insert(d("2025-03-02"), f);
        assert_eq!(stream_colour(&facts, d("2025-02-28")), Some(Colour::Blue));
        assert_eq!(stream_colour(&facts, d("2025-03-01")), Some(Colour::Red));
        assert_eq!(
            stream_colour(&facts, d("2025-03-02")),
            None,
            "30 white, 30 red"
        );
        assert!(!mobile_peak_day(&facts, d("2025-03-01")), "60 of 960");
        assert!(mobile_peak_day(&facts, d("2025-03-02")), "500 of 900");
        assert!(!mobile_peak_day(&facts, d("2025-03-03")));
    }
}
