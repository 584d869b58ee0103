//! What the recorded energy cost, and what the regulated options would have cost: the pure
//! core of `tic-rec cost` (no file walking, no printing).
//!
//! ## Contract
//! - **Input**: whole local days ([`DayRange`], Europe/Paris), an [`Offer`], a subscribed power
//!   (kVA) and, for each [`Slot`] of the offer over those days, the energy in Wh. The flow
//!   is [`slots`] (the boundaries the energy must be interpolated at), then [`price`];
//!   [`cost_of`] does both with a closure that gives a slot's Wh.
//! - **Slots** never span local midnight (so each has one day, one grid, one weekday) and
//!   are cut at every boundary of the offer's layout (HC windows, 06:00 for colours, 01:00
//!   and 07:00 for EJP). Local times map to instants as [`schedule::local_instant`] says:
//!   23 h and 25 h days, a boundary in the repeated hour at its first occurrence, one in the
//!   skipped hour at the jump; empty slots are dropped.
//! - **Prices**: each slot is priced with the grid (or `--prices` period) in force on its
//!   local day, so a grid change at midnight splits a 22:00–06:00 night correctly. The
//!   subscription is charged per day of the range: annual figure × 1 / (days in that
//!   calendar year), a monthly figure counting × 12. All TTC. Sums are exact
//!   ([`Money`]); rounding to the cent happens only at output.
//! - **Missing colours**: a slot of a colour-dependent offer in a Tempo day with no known
//!   colour has no band; its energy, and the subscription of that day, are left out of the
//!   total and counted ([`Cost::excluded_days`], [`Cost::excluded_wh`]). Such a cost is
//!   incomplete and never "cheapest".
//! - **Caveats** ([`Caveat`]) say what the caller should warn about: a day priced past the
//!   last known grid (with the last grid), a subscription counted as EDF's monthly figure
//!   × 12, the suspect 2026 EJP prices.
//! - **Comparison** ([`WhatIf`]): the actual cost and the alternatives; the cheapest is the
//!   lowest total in cents among the actual cost and the complete alternatives, the actual
//!   contract winning a tie, then the alternatives in the order given; [`WhatIf::summary`]
//!   writes the closing sentence of the table.

pub mod grid;
pub mod money;
pub mod offer;
pub mod output;
pub mod report;
pub mod schedule;
pub mod tempo;

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;

pub use grid::{
    grids, kva_from_isousc, Grid, GridError, Grids, InForce, Subscription, Tariff, KNOWN_UNTIL,
};
pub use money::{Decimal, Money, MoneyError};
pub use offer::{Band, Calendars, Offer, OfferError, PriceFile};
pub use report::{
    report, report_dir, Contract, CostNote, CostRow, EnergyFrom, Options, Origin, Report,
    ReportError, ScheduleOrigin,
};
pub use schedule::{learn, DaySlot, HcSchedule, Learned, ScheduleError};
pub use tempo::{tempo_day, TempoCalendar, TempoError};

use crate::tic::labels::Class;

/// Line numbers of CSV records from their byte offsets, counted incrementally (the CSV
/// reader's own line count skips blank lines).
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// Byte offset counted up to, and the line it is on (0: not started).
    pos: usize,
    line: u64,
}

impl Lines {
    /// The 1-based line of the record at byte `byte` of `text`. The reader's offset points
    /// at the blank lines before a record, and a record never starts with a line break, so
    /// those are skipped.
    pub(crate) fn at(&mut self, text: &[u8], byte: u64) -> u64 {
        let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
        while matches!(text.get(end), Some(b'\n' | b'\r')) {
            end += 1;
        }
        if end < self.pos || self.line == 0 {
            self.pos = 0;
            self.line = 1;
        }
        self.line += text[self.pos..end].iter().filter(|&&b| b == b'\n').count() as u64;
        self.pos = end;
        self.line
    }
}

/// Something a cost's reader should be told.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Caveat {
    /// Days after the last known grid (or `--prices` period) were priced with it.
    BeyondLastGrid {
        /// The offer.
        offer: String,
        /// The first day of that last grid.
        grid_from: NaiveDate,
    },
    /// A subscription is EDF's monthly grid figure × 12, which differs from the official
    /// annual figure by a few euros a year.
    MonthlySubscription,
    /// EJP's 2026-02-01 prices come from one source and look wrong (pointe mobile 0.344
    /// €/kWh against 1.0867 before).
    SuspectEjpPrices,
}

impl Caveat {
    /// A short word for a `flags` column: `beyond_last_grid`, `monthly_subscription`,
    /// `suspect_ejp_prices`.
    pub fn flag(&self) -> &'static str {
        match self {
            Caveat::BeyondLastGrid { .. } => "beyond_last_grid",
            Caveat::MonthlySubscription => "monthly_subscription",
            Caveat::SuspectEjpPrices => "suspect_ejp_prices",
        }
    }
}

impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::BeyondLastGrid { offer, grid_from } => write!(
                f,
                "{offer}: days after the last known prices were priced with those of {grid_from}"
            ),
            Caveat::MonthlySubscription => f.write_str(
                "subscription from EDF's monthly price grid × 12 (no official annual figure)",
            ),
            Caveat::SuspectEjpPrices => f.write_str(
                "EJP prices of 2026-02-01 from a single source, pointe mobile 0.344 €/kWh looks wrong",
            ),
        }
    }
}

/// A cost computation failure.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// The offer could not lay out a day or price it.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// A local time could not be placed.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The range is longer than [`MAX_DAYS`].
    #[error("range {first} → {last} is longer than {max} days", max = MAX_DAYS)]
    RangeTooWide {
        /// First day.
        first: NaiveDate,
        /// Last day.
        last: NaiveDate,
    },
    /// The range ends before it starts.
    #[error("empty range: {first} is after {last}")]
    EmptyRange {
        /// First day.
        first: NaiveDate,
        /// Last day.
        last: NaiveDate,
    },
    /// A slot given to [`price`] lies outside the range.
    #[error("a slot on {date} lies outside {first} → {last}")]
    SlotOutside {
        /// The slot's day.
        date: NaiveDate,
        /// First day of the range.
        first: NaiveDate,
        /// Last day.
        last: NaiveDate,
    },
    /// A slot's band is not one of the offer's, or has no price that day.
    #[error("{offer} has no price for band {band} on {date}")]
    NoBandPrice {
        /// The offer.
        offer: String,
        /// The band index.
        band: usize,
        /// The day.
        date: NaiveDate,
    },
}

/// The most days one range may hold (about a century).
pub const MAX_DAYS: i64 = 36_600;

/// Whole local days, `first` to `last` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DayRange {
    /// First day.
    pub first: NaiveDate,
    /// Last day (inclusive).
    pub last: NaiveDate,
}

impl DayRange {
    /// `first` to `last`; an error when `last` is before `first` or the range holds more
    /// than [`MAX_DAYS`].
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<DayRange, CostError> {
        if last < first {
            return Err(CostError::EmptyRange { first, last });
        }
        if (last - first).num_days() >= MAX_DAYS {
            return Err(CostError::RangeTooWide { first, last });
        }
        Ok(DayRange { first, last })
    }

    /// The days, in order.
    pub fn iter(&self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last;
        self.first.iter_days().take_while(move |d| *d <= last)
    }

    /// The number of days.
    pub fn len(&self) -> u32 {
        u32::try_from((self.last - self.first).num_days() + 1).unwrap_or(0)
    }

    /// Never: a range has at least one day.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `d` is one of the days.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.first <= d && d <= self.last
    }
}

impl fmt::Display for DayRange {
    /// `2025-01-01 → 2025-12-31`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.first, self.last)
    }
}

/// A time interval with one band of an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Start (inclusive).
    pub start: DateTime<Tz>,
    /// End (exclusive).
    pub end: DateTime<Tz>,
    /// The local day it lies in.
    pub date: NaiveDate,
    /// Its HC/HP class and, for colour-dependent offers, the Tempo colour.
    pub class: Class,
    /// Its band in [`Offer::bands`]; `None` when it cannot be priced (no Tempo colour).
    pub band: Option<usize>,
}

/// The slots of `offer` over `days`, in time order: the boundaries at which the energy
/// must be interpolated.
pub fn slots(offer: &Offer, cal: &Calendars, days: DayRange) -> Result<Vec<Slot>, CostError> {
    let mut out = Vec::with_capacity(days.len() as usize * 4);
    for date in days.iter() {
        let layout = offer.layout(date, cal)?;
        let cuts: Vec<u16> = layout.iter().map(|p| p.start).collect();
        for c in schedule::cut_day(date, &cuts)? {
            let Some(p) = layout
                .iter()
                .find(|p| p.start <= c.minute && c.minute < p.end)
            else {
                continue;
            };
            out.push(Slot {
                start: c.start,
                end: c.end,
                date,
                class: p.class,
                band: p.band,
            });
        }
    }
    Ok(out)
}

/// The energy and cost of one band.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BandCost {
    /// The band.
    pub band: Band,
    /// Energy, Wh.
    pub wh: u64,
    /// Its cost.
    pub energy: Money,
}

/// What some days cost under an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cost {
    /// The offer's name (`HC/HP`, `Tempo`, a `--prices` name).
    pub offer: String,
    /// The regulated option, if it is one.
    pub tariff: Option<Tariff>,
    /// Subscribed power.
    pub kva: u8,
    /// The days.
    pub days: DayRange,
    /// Every band of the offer, in order.
    pub bands: Vec<BandCost>,
    /// Energy cost (all bands).
    pub energy: Money,
    /// Subscription for the days charged.
    pub subscription: Money,
    /// Days whose subscription is charged.
    pub subscription_days: u32,
    /// Tempo days without a colour: their energy and the subscription of those inside the
    /// range are left out (the day before the range appears when the first night's
    /// 00:00–06:00 is in it).
    pub excluded_days: Vec<NaiveDate>,
    /// Energy left out, Wh.
    pub excluded_wh: u64,
    /// The first day of each grid or price period used, in order.
    pub price_sets: Vec<NaiveDate>,
    /// What to warn about, sorted.
    pub caveats: Vec<Caveat>,
}

impl Cost {
    /// Energy + subscription.
    pub fn total(&self) -> Money {
        self.energy + self.subscription
    }

    /// Energy priced, Wh.
    pub fn wh(&self) -> u64 {
        self.bands.iter().map(|b| b.wh).sum()
    }

    /// Whether nothing was left out.
    pub fn is_complete(&self) -> bool {
        self.excluded_days.is_empty() && self.excluded_wh == 0
    }

    /// `HC/HP 6 kVA`.
    pub fn label(&self) -> String {
        format!("{} {} kVA", self.offer, self.kva)
    }
}

/// Prices `energy` (each slot of `offer` over `days` with its Wh) at `kva`.
pub fn price(
    offer: &Offer,
    kva: u8,
    days: DayRange,
    energy: &[(Slot, u64)],
) -> Result<Cost, CostError> {
    let mut bands: Vec<BandCost> = offer
        .bands()
        .iter()
        .map(|b| BandCost {
            band: b.clone(),
            wh: 0,
            energy: Money::ZERO,
        })
        .collect();
    let mut caveats: BTreeSet<Caveat> = BTreeSet::new();
    let mut price_sets: Vec<NaiveDate> = Vec::new();
    let mut excluded: BTreeSet<NaiveDate> = BTreeSet::new();
    let mut excluded_wh = 0u64;
    let mut cached: Option<(NaiveDate, offer::DayPrices)> = None;
    let mut prices_on = |date: NaiveDate| -> Result<offer::DayPrices, CostError> {
        if let Some((d, p)) = &cached {
            if *d == date {
                return Ok(p.clone());
            }
        }
        let p = offer.prices(kva, date)?;
        cached = Some((date, p.clone()));
        Ok(p)
    };
    let mut note = |p: &offer::DayPrices, caveats: &mut BTreeSet<Caveat>| {
        caveats.extend(p.caveats.iter().cloned());
        if !price_sets.contains(&p.from) {
            price_sets.push(p.from);
        }
    };
    for (slot, wh) in energy {
        if !days.contains(slot.date) {
            return Err(CostError::SlotOutside {
                date: slot.date,
                first: days.first,
                last: days.last,
            });
        }
        let Some(band) = slot.band else {
            excluded.insert(tempo_day(&slot.start));
            excluded_wh += wh;
            continue;
        };
        let p = prices_on(slot.date)?;
        let no_price = || CostError::NoBandPrice {
            offer: offer.name().to_owned(),
            band,
            date: slot.date,
        };
        let kwh = p.kwh.get(band).copied().flatten().ok_or_else(no_price)?;
        let b = bands.get_mut(band).ok_or_else(no_price)?;
        b.wh += wh;
        b.energy += Money::energy(kwh, *wh);
        note(&p, &mut caveats);
    }
    let mut subscription = Money::ZERO;
    let mut subscription_days = 0;
    for date in days.iter() {
        if offer.uses_colours() && excluded.contains(&date) {
            continue;
        }
        let p = prices_on(date)?;
        subscription += Money::subscription(p.annual, date.year(), 1);
        subscription_days += 1;
        note(&p, &mut caveats);
    }
    let energy_total = bands.iter().map(|b| b.energy).sum();
    Ok(Cost {
        offer: offer.name().to_owned(),
        tariff: offer.tariff(),
        kva,
        days,
        bands,
        energy: energy_total,
        subscription,
        subscription_days,
        excluded_days: excluded.into_iter().collect(),
        excluded_wh,
        price_sets,
        caveats: caveats.into_iter().collect(),
    })
}

/// [`slots`] then [`price`], with `wh` giving each slot's energy (the integration
/// interpolates the total index at the slot's ends).
pub fn cost_of(
    offer: &Offer,
    kva: u8,
    cal: &Calendars,
    days: DayRange,
    mut wh: impl FnMut(&Slot) -> u64,
) -> Result<Cost, CostError> {
    let energy: Vec<(Slot, u64)> = slots(offer, cal, days)?
        .into_iter()
        .map(|s| {
            let w = wh(&s);
            (s, w)
        })
        .collect();
    price(offer, kva, days, &energy)
}

/// An alternative that was priced, or why it could not be.
#[derive(Debug)]
pub enum Outcome {
    /// Priced.
    Priced(Cost),
    /// Not available (no grid at that power, no EJP days…).
    Unavailable {
        /// The offer.
        offer: String,
        /// The regulated option, if it is one.
        tariff: Option<Tariff>,
        /// Why.
        error: CostError,
    },
}

impl Outcome {
    /// The cost, if priced.
    pub fn cost(&self) -> Option<&Cost> {
        match self {
            Outcome::Priced(c) => Some(c),
            Outcome::Unavailable { .. } => None,
        }
    }

    /// The regulated option, if it is one.
    pub fn tariff(&self) -> Option<Tariff> {
        match self {
            Outcome::Priced(c) => c.tariff,
            Outcome::Unavailable { tariff, .. } => *tariff,
        }
    }
}

/// The actual cost and what other offers would have cost over the same days.
#[derive(Debug)]
pub struct WhatIf {
    /// What the recorded energy cost under the actual contract.
    pub actual: Cost,
    /// The alternatives, in the order given.
    pub alternatives: Vec<Outcome>,
}

/// Which cost is the cheapest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cheapest {
    /// The actual contract.
    Actual,
    /// `alternatives[i]`.
    Alternative(usize),
}

impl WhatIf {
    /// The alternatives' outcome for a regulated option, if one was given.
    pub fn for_tariff(&self, t: Tariff) -> Option<&Outcome> {
        self.alternatives.iter().find(|o| o.tariff() == Some(t))
    }

    /// The lowest total in cents among the actual cost and the complete alternatives; the
    /// actual contract wins a tie, then the first alternative.
    pub fn cheapest(&self) -> Cheapest {
        let mut best = (self.actual.total().cents(), Cheapest::Actual);
        for (i, o) in self.alternatives.iter().enumerate() {
            if let Some(c) = o.cost().filter(|c| c.is_complete()) {
                let cents = c.total().cents();
                if cents < best.0 {
                    best = (cents, Cheapest::Alternative(i));
                }
            }
        }
        best.1
    }

    /// The cheapest cost's offer name.
    pub fn cheapest_name(&self) -> &str {
        match self.cheapest() {
            Cheapest::Actual => &self.actual.offer,
            Cheapest::Alternative(i) => self.alternatives[i]
                .cost()
                .map_or(self.actual.offer.as_str(), |c| c.offer.as_str()),
        }
    }

    /// `2025-01-01 → 2025-12-31: you paid 1,234.56 € (HC/HP 6 kVA); Tempo would have cost
    /// 1,101.20 € (−10.8 %), Base 1,290.00 € (+4.5 %)`: the priced alternatives other than
    /// the actual option, cheapest first; an incomplete one says how many days it leaves
    /// out.
    pub fn summary(&self) -> String {
        let paid = self.actual.total();
        let mut s = format!(
            "{}: you paid {} ({})",
            self.actual.days,
            paid.human(),
            self.actual.label()
        );
        let mut others: Vec<&Cost> = self
            .alternatives
            .iter()
            .filter_map(Outcome::cost)
            .filter(|c| !(c.tariff.is_some() && c.tariff == self.actual.tariff))
            .collect();
        others.sort_by_key(|c| c.total());
        for (i, c) in others.iter().enumerate() {
            let mut notes = Vec::new();
            if let Some(p) = c.total().change_permille(paid) {
                notes.push(money::format_change(p));
            }
            if !c.excluded_days.is_empty() {
                let n = c.excluded_days.len();
                let days = if n == 1 { "day" } else { "days" };
                notes.push(format!("{n} {days} without a Tempo colour left out"));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            if i == 0 {
                s.push_str(&format!(
                    "; {} would have cost {}{notes}",
                    c.offer,
                    c.total().human()
                ));
            } else {
                s.push_str(&format!(", {} {}{notes}", c.offer, c.total().human()));
            }
        }
        s
    }
}

/// Prices every offer of `offers` as an alternative over the same days and power; an
/// offer that cannot be priced is [`Outcome::Unavailable`], not an error.
pub fn alternatives(
    offers: &[Offer],
    kva: u8,
    cal: &Calendars,
    days: DayRange,
    mut wh: impl FnMut(&Slot) -> u64,
) -> Vec<Outcome> {
    offers
        .iter()
        .map(|o| match cost_of(o, kva, cal, days, &mut wh) {
            Ok(c) => Outcome::Priced(c),
            Err(error) => Outcome::Unavailable {
                offer: o.name().to_owned(),
                tariff: o.tariff(),
                error,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tic::labels::{Colour, Rate};
    use std::path::Path;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn range(a: &str, b: &str) -> DayRange {
        DayRange::new(day(a), day(b)).expect("range")
    }

    /// A constant load of `w` watts: the Wh of a slot is its length × w.
    fn load(w: i64) -> impl FnMut(&Slot) -> u64 {
        move |s| u64::try_from((s.end - s.start).num_seconds() * w / 3600).unwrap_or(0)
    }

    fn shipped() -> &'static TempoCalendar {
        TempoCalendar::shipped().expect("shipped calendar")
    }

    fn cal(t: &TempoCalendar) -> Calendars<'_> {
        Calendars {
            tempo: t,
            ejp_days: None,
        }
    }

    fn wh(c: &Cost, band: &str) -> u64 {
        c.bands
            .iter()
            .find(|b| b.band.name == band)
            .map_or(0, |b| b.wh)
    }

    /// `(band, kWh)` expectations, then the energy, subscription and total in €, exactly
    /// (as 10⁻⁸ € units where whole) and to the cent.
    fn check(c: &Cost, kwh: &[(&str, u64)], energy: &str, subscription: &str, total: &str) {
        for &(band, k) in kwh {
            assert_eq!(wh(c, band), k * 1000, "{} {band}", c.offer);
        }
        assert_eq!(c.energy.plain(), energy, "{} energy", c.offer);
        assert_eq!(
            c.subscription.plain(),
            subscription,
            "{} subscription",
            c.offer
        );
        assert_eq!(c.total().plain(), total, "{} total", c.offer);
    }

    #[test]
    fn hchp_fortnight() {
        // HC/HP 6 kVA, 2025-03-03 → 2025-03-16 (14 days), grid of 2025-02-01: 169.81 €/year,
        // HC 0.1696, HP 0.2146. A constant 500 W: HC 8 h × 0.5 = 4 kWh a day, HP 8 kWh.
        // HC 14 × 4 = 56 kWh × 0.1696 = 9.4976 €; HP 14 × 8 = 112 kWh × 0.2146 = 24.0352 €;
        // energy 33.5328 €. Subscription 169.81 × 14 / 365 = 6.51326… €. Total 40.04606… €.
        let o = Offer::regulated(Tariff::HcHp, None);
        let days = range("2025-03-03", "2025-03-16");
        let c = cost_of(&o, 6, &cal(shipped()), days, load(500)).expect("priced");
        check(&c, &[("HC", 56), ("HP", 112)], "33.53", "6.51", "40.05");
        assert_eq!(c.energy.units_1e8(), Some(3_353_280_000));
        assert_eq!(c.subscription_days, 14);
        assert_eq!(c.price_sets, [day("2025-02-01")]);
        assert!(c.caveats.is_empty() && c.is_complete());
        assert_eq!(c.label(), "HC/HP 6 kVA");
        // 3 slots a day: 00:00–06:00 HC, 06:00–22:00 HP, 22:00–24:00 HC.
        let s = slots(&o, &cal(shipped()), days).expect("slots");
        assert_eq!(s.len(), 42);
        assert_eq!(s[1].class, Class::new(Rate::Hp, None));
        assert_eq!(s[1].start.to_rfc3339(), "2025-03-03T06:00:00+01:00");
    }

    #[test]
    fn tempo_january_with_red_and_white_days() {
        // Tempo 9 kVA, January 2025, grid of 2024-02-01 (until 2025-01-31): 196.32 €/year;
        // blue HC 0.1296 HP 0.1609, white HC 0.1486 HP 0.1894, red HC 0.1568 HP 0.7562.
        // Colours (shipped): red 2, 3, 10, 13–17, 20–22, 30, 31 (13 days); white 4, 7, 8, 9,
        // 11, 18, 23, 29 (8); blue the other 10. 31 December 2024 is white.
        // A constant 1 kW. Tempo day D: HP 06–22 (16 kWh), HC 22–24 (2 kWh) on D and HC
        // 00–06 (6 kWh) on D + 1, which for 1 January is 31 December's.
        // HP: blue 160, white 128, red 208 kWh. HC: 2 × (10, 8, 13) + 6 × (Dec 31–Jan 30:
        // 10 blue, 9 white, 12 red) = blue 80, white 70, red 98 kWh (744 kWh in all).
        // 80 × 0.1296 = 10.368; 160 × 0.1609 = 25.744; 70 × 0.1486 = 10.402;
        // 128 × 0.1894 = 24.2432; 98 × 0.1568 = 15.3664; 208 × 0.7562 = 157.2896;
        // energy 243.4132 €. Subscription 196.32 × 31 / 365 = 16.67375… €. Total 260.08695… €.
        let o = Offer::regulated(Tariff::Tempo, None);
        let c = cost_of(
            &o,
            9,
            &cal(shipped()),
            range("2025-01-01", "2025-01-31"),
            load(1000),
        )
        .expect("priced");
        check(
            &c,
            &[
                ("HC Bleu", 80),
                ("HP Bleu", 160),
                ("HC Blanc", 70),
                ("HP Blanc", 128),
                ("HC Rouge", 98),
                ("HP Rouge", 208),
            ],
            "243.41",
            "16.67",
            "260.09",
        );
        assert_eq!(c.energy.units_1e8(), Some(24_341_320_000));
        assert!(c.is_complete());
    }

    #[test]
    fn base_month() {
        // Base 6 kVA, August 2025, grid of 2025-08-01: 185.94 €/year, 0.1952 €/kWh.
        // 250 W × 24 h × 31 days = 186 kWh × 0.1952 = 36.3072 €; subscription
        // 185.94 × 31 / 365 = 15.79216… €; total 52.09936… €.
        let o = Offer::regulated(Tariff::Base, None);
        let c = cost_of(
            &o,
            6,
            &cal(shipped()),
            range("2025-08-01", "2025-08-31"),
            load(250),
        )
        .expect("priced");
        check(&c, &[("Base", 186)], "36.31", "15.79", "52.10");
        assert_eq!(c.energy.units_1e8(), Some(3_630_720_000));
    }

    #[test]
    fn a_period_spanning_a_price_change() {
        // HC/HP 6 kVA, 2025-01-25 → 2025-02-05 at 1 kW: 8 kWh HC and 16 kWh HP a day.
        // 25–31 January (7 days), grid of 2024-02-01: 157.87 €/year, HC 0.2068, HP 0.27:
        // 7 × (8 × 0.2068 + 16 × 0.27) = 7 × 5.9744 = 41.8208 €.
        // 1–5 February (5 days), grid of 2025-02-01: 169.81 €/year, HC 0.1696, HP 0.2146:
        // 5 × (8 × 0.1696 + 16 × 0.2146) = 5 × 4.7904 = 23.952 €. Energy 65.7728 €.
        // The night of 31 January: 22–24 at the old HC price, 00–06 at the new one.
        // Subscription (157.87 × 7 + 169.81 × 5) / 365 = 1954.14 / 365 = 5.35380… €.
        // Total 71.12660… €.
        let o = Offer::regulated(Tariff::HcHp, None);
        let c = cost_of(
            &o,
            6,
            &cal(shipped()),
            range("2025-01-25", "2025-02-05"),
            load(1000),
        )
        .expect("priced");
        check(&c, &[("HC", 96), ("HP", 192)], "65.77", "5.35", "71.13");
        assert_eq!(c.energy.units_1e8(), Some(6_577_280_000));
        assert_eq!(c.price_sets, [day("2024-02-01"), day("2025-02-01")]);
    }

    #[test]
    fn dst_days() {
        // HC/HP 6 kVA at 1 kW on the two DST Sundays of 2025.
        // 30 March (23 h; grid of 2025-02-01): HC 00:00–06:00 is 5 h, 22–24 2 h: 7 kWh ×
        // 0.1696 = 1.1872; HP 16 kWh × 0.2146 = 3.4336; energy 4.6208 €; subscription
        // 169.81 / 365 = 0.46523… €; total 5.08603… €.
        // 26 October (25 h; grid of 2025-08-01: 189.99 €/year, HC 0.1635, HP 0.2081): HC
        // 7 h + 2 h = 9 kWh × 0.1635 = 1.4715; HP 16 × 0.2081 = 3.3296; energy 4.8011 €;
        // subscription 189.99 / 365 = 0.52052… €; total 5.32162… €.
        let o = Offer::regulated(Tariff::HcHp, None);
        let t = shipped();
        let march = range("2025-03-30", "2025-03-30");
        let s = slots(&o, &cal(t), march).expect("slots");
        let shown: Vec<String> = s
            .iter()
            .map(|s| s.start.format("%H:%M%:z").to_string())
            .collect();
        assert_eq!(shown, ["00:00+01:00", "06:00+02:00", "22:00+02:00"]);
        assert_eq!((s[2].end - s[0].start).num_hours(), 23);
        let c = cost_of(&o, 6, &cal(t), march, load(1000)).expect("priced");
        check(&c, &[("HC", 7), ("HP", 16)], "4.62", "0.47", "5.09");
        let october = range("2025-10-26", "2025-10-26");
        let s = slots(&o, &cal(t), october).expect("slots");
        assert_eq!((s[0].end - s[0].start).num_hours(), 7);
        assert_eq!((s[2].end - s[0].start).num_hours(), 25);
        let c = cost_of(&o, 6, &cal(t), october, load(1000)).expect("priced");
        check(&c, &[("HC", 9), ("HP", 16)], "4.80", "0.52", "5.32");
        // Tempo on the March night: the 00:00–06:00 HC (5 h) is 29 March's colour (blue).
        let tempo = Offer::regulated(Tariff::Tempo, None);
        let s = slots(&tempo, &cal(t), march).expect("slots");
        assert_eq!(
            s[0].class,
            Class::new(Rate::Hc, t.colour(day("2025-03-29")))
        );
        assert_eq!((s[0].end - s[0].start).num_hours(), 5);
    }

    #[test]
    fn a_day_without_a_tempo_colour_is_left_out_and_counted() {
        // Tempo 9 kVA, 9–11 January 2025 at 1 kW, with the 10th's colour unknown.
        // Known: 8, 9 and 11 white. 9th 00–06 (Tempo day 8) 6 kWh HC; Tempo day 9: HP 16 +
        // HC 2 + 6 (10th 00–06); Tempo day 10 (10th 06:00 → 11th 06:00): 16 + 2 + 6 = 24 kWh
        // left out; Tempo day 11 (to midnight): HP 16 + HC 2. White HC 6 + 2 + 6 + 2 = 16 kWh
        // × 0.1486 = 2.3776; white HP 32 × 0.1894 = 6.0608; energy 8.4384 €. Subscription
        // for the 9th and 11th only: 196.32 × 2 / 365 = 1.07572… €; total 9.51412… €.
        let mut t = TempoCalendar::new();
        for d in ["2025-01-08", "2025-01-09", "2025-01-11"] {
            t.insert(day(d), Colour::White);
        }
        let o = Offer::regulated(Tariff::Tempo, None);
        let c = cost_of(
            &o,
            9,
            &cal(&t),
            range("2025-01-09", "2025-01-11"),
            load(1000),
        )
        .expect("priced");
        check(
            &c,
            &[("HC Blanc", 16), ("HP Blanc", 32)],
            "8.44",
            "1.08",
            "9.51",
        );
        assert_eq!(c.excluded_days, [day("2025-01-10")]);
        assert_eq!(c.excluded_wh, 24_000);
        assert_eq!(c.subscription_days, 2);
        assert!(!c.is_complete());
    }

    #[test]
    fn a_custom_offer() {
        // A week-end offer, 6 kVA, 28 June (Saturday) → 2 July 2025 at 1 kW.
        // Until 30 June: weekdays HC 22–06 0.15, HP 06–22 0.20, week-end all day 0.12;
        // 15 €/month (180 €/year). From 1 July: HC 0.14, HP 0.21, week-end 0.11; 16 €/month.
        // Sat, Sun: 24 kWh × 0.12 = 2.88 € each; Mon 30: 8 × 0.15 + 16 × 0.20 = 4.40 €;
        // Tue 1, Wed 2: 8 × 0.14 + 16 × 0.21 = 4.48 € each. Energy 19.12 €.
        // Subscription (3 × 180 + 2 × 192) / 365 = 924 / 365 = 2.53150… €. Total 21.65150… €.
        let text = include_str!("../../tests/data/week-end-prices.toml");
        let o = Offer::custom(PriceFile::parse(text, Path::new("w.toml")).expect("parses"));
        let c = cost_of(
            &o,
            6,
            &cal(shipped()),
            range("2025-06-28", "2025-07-02"),
            load(1000),
        )
        .expect("priced");
        check(
            &c,
            &[("Week-end", 48), ("HC", 24), ("HP", 48)],
            "19.12",
            "2.53",
            "21.65",
        );
        assert_eq!(c.energy.units_1e8(), Some(1_912_000_000));
        assert_eq!(c.tariff, None);
        assert_eq!(c.label(), "Week-end 6 kVA");
        assert_eq!(c.price_sets, [day("2025-01-01"), day("2025-07-01")]);
        assert!(c.caveats.is_empty(), "no monthly caveat for a custom offer");
        let e = cost_of(
            &o,
            12,
            &cal(shipped()),
            range("2025-06-28", "2025-07-02"),
            load(1000),
        )
        .expect_err("no 12 kVA subscription");
        assert_eq!(
            e.to_string(),
            "w.toml:6: no subscription for 12 kVA (given for 6, 9 kVA)"
        );
    }

    #[test]
    fn caveats_and_errors() {
        let t = shipped();
        // After the last known grid: priced with it, flagged.
        let o = Offer::regulated(Tariff::HcHp, None);
        let c =
            cost_of(&o, 6, &cal(t), range("2026-08-20", "2026-08-26"), load(100)).expect("priced");
        assert_eq!(
            c.caveats,
            [
                Caveat::BeyondLastGrid {
                    offer: "HC/HP".into(),
                    grid_from: day("2026-02-01")
                },
                Caveat::MonthlySubscription
            ]
        );
        assert_eq!(c.caveats[0].flag(), "beyond_last_grid");
        // No grid: an error, not zero.
        let e = cost_of(
            &Offer::regulated(Tariff::Tempo, None),
            24,
            &cal(t),
            range("2025-01-01", "2025-01-02"),
            load(100),
        )
        .expect_err("no Tempo 24 kVA");
        assert!(
            e.to_string()
                .starts_with("no Tempo grid for 24 kVA on 2025-01-01"),
            "{e}"
        );
        // EJP: no days, no layout; with days, priced and the 2026 grid flagged.
        let ejp = Offer::regulated(Tariff::Ejp, None);
        let e = slots(&ejp, &cal(t), range("2026-02-01", "2026-02-01")).expect_err("no EJP days");
        assert_eq!(
            e.to_string(),
            "EJP needs the pointe-mobile days (from the recorded stream): none were given"
        );
        let pm: BTreeSet<NaiveDate> = [day("2026-02-02")].into();
        let cal_ejp = Calendars {
            tempo: t,
            ejp_days: Some(&pm),
        };
        // 2 and 3 February 2026 at 1 kW: pointe mobile 2 Feb 07:00 → 3 Feb 01:00 (18 h),
        // normal the other 30 h.
        let c = cost_of(
            &ejp,
            9,
            &cal_ejp,
            range("2026-02-02", "2026-02-03"),
            load(1000),
        )
        .expect("priced");
        assert_eq!(wh(&c, "EJP pointe mobile"), 18_000);
        assert_eq!(wh(&c, "EJP normal"), 30_000);
        assert!(c.caveats.contains(&Caveat::SuspectEjpPrices));
        // Bad inputs to `price`.
        assert!(matches!(
            DayRange::new(day("2025-01-02"), day("2025-01-01")),
            Err(CostError::EmptyRange { .. })
        ));
        let days = range("2025-03-03", "2025-03-03");
        let mut s = slots(&o, &cal(t), days).expect("slots");
        s[0].date = day("2025-03-04");
        let e = price(&o, 6, days, &[(s[0], 1)]).expect_err("outside");
        assert_eq!(
            e.to_string(),
            "a slot on 2025-03-04 lies outside 2025-03-03 → 2025-03-03"
        );
        s[1].band = Some(7);
        let e = price(&o, 6, days, &[(s[1], 1)]).expect_err("bad band");
        assert_eq!(e.to_string(), "HC/HP has no price for band 7 on 2025-03-03");
    }

    #[test]
    fn what_if_and_the_summary() {
        // The fortnight of `hchp_fortnight` (HC/HP 6 kVA, 500 W): 40.05 €.
        // Base 6 kVA (2025-02-01: 165.17 €/year, 0.2016): 168 kWh × 0.2016 = 33.8688 € +
        // 165.17 × 14 / 365 = 6.33529… € = 40.20409… € (+0.4 %).
        // Tempo 6 kVA (2025-02-01: 168.87 €/year; blue HC 0.1287 HP 0.1552, white HC 0.1447
        // HP 0.1792). Tempo days 3, 4, 12, 13 March white, the others blue (2 March blue):
        // HP 8 kWh a day: blue 80, white 32; HC 22–24 1 kWh: blue 10, white 4; HC 00–06
        // 3 kWh of the day before (2–15 March): blue 30, white 12.
        // 40 × 0.1287 + 80 × 0.1552 + 16 × 0.1447 + 32 × 0.1792 = 5.148 + 12.416 + 2.3152 +
        // 5.7344 = 25.6136 € + 168.87 × 14 / 365 = 6.47720… € = 32.09080… € (−19.9 %).
        // EJP has no 6 kVA grid (and no days): unavailable, left out of the sentence.
        let t = shipped();
        let days = range("2025-03-03", "2025-03-16");
        let actual_offer = Offer::regulated(Tariff::HcHp, None);
        let actual = cost_of(&actual_offer, 6, &cal(t), days, load(500)).expect("priced");
        let offers: Vec<Offer> = Tariff::ALL
            .iter()
            .map(|&t| Offer::regulated(t, None))
            .collect();
        let w = WhatIf {
            actual,
            alternatives: alternatives(&offers, 6, &cal(t), days, load(500)),
        };
        let total = |t: Tariff| {
            w.for_tariff(t)
                .and_then(Outcome::cost)
                .map(|c| c.total().plain())
        };
        assert_eq!(total(Tariff::Base).as_deref(), Some("40.20"));
        assert_eq!(total(Tariff::HcHp).as_deref(), Some("40.05"));
        assert_eq!(total(Tariff::Tempo).as_deref(), Some("32.09"));
        assert!(matches!(
            w.for_tariff(Tariff::Ejp),
            Some(Outcome::Unavailable { .. })
        ));
        assert_eq!(w.cheapest(), Cheapest::Alternative(2));
        assert_eq!(w.cheapest_name(), "Tempo");
        assert_eq!(
            w.summary(),
            "2025-03-03 → 2025-03-16: you paid 40.05 € (HC/HP 6 kVA); Tempo would have cost 32.09 € (\u{2212}19.9 %), Base 40.20 € (+0.4 %)"
        );
    }

    /// A cost of `cents` for the summary's wording.
    fn fake(offer: &str, tariff: Option<Tariff>, cents: i64, excluded: usize) -> Cost {
        Cost {
            offer: offer.into(),
            tariff,
            kva: 6,
            days: range("2025-01-01", "2025-12-31"),
            bands: Vec::new(),
            energy: Money::from_cents(cents),
            subscription: Money::ZERO,
            subscription_days: 365,
            excluded_days: (0..excluded)
                .map(|i| day("2025-01-01") + chrono::Days::new(i as u64))
                .collect(),
            excluded_wh: 0,
            price_sets: Vec::new(),
            caveats: Vec::new(),
        }
    }

    #[test]
    fn summary_wording_and_the_cheapest_rule() {
        let w = WhatIf {
            actual: fake("HC/HP", Some(Tariff::HcHp), 123_456, 0),
            alternatives: vec![
                Outcome::Priced(fake("Base", Some(Tariff::Base), 129_000, 0)),
                Outcome::Priced(fake("HC/HP", Some(Tariff::HcHp), 123_400, 0)),
                Outcome::Priced(fake("Tempo", Some(Tariff::Tempo), 110_120, 0)),
            ],
        };
        assert_eq!(
            w.summary(),
            "2025-01-01 → 2025-12-31: you paid 1,234.56 € (HC/HP 6 kVA); Tempo would have cost 1,101.20 € (\u{2212}10.8 %), Base 1,290.00 € (+4.5 %)"
        );
        assert_eq!(w.cheapest(), Cheapest::Alternative(2));
        // An incomplete alternative is shown with what it left out, never cheapest; a tie
        // in cents goes to the actual contract.
        let w = WhatIf {
            actual: fake("Tempo", Some(Tariff::Tempo), 100_000, 0),
            alternatives: vec![
                Outcome::Priced(fake("Base", Some(Tariff::Base), 90_000, 3)),
                Outcome::Priced(fake("Mon offre", None, 100_000, 0)),
            ],
        };
        assert_eq!(w.cheapest(), Cheapest::Actual);
        assert_eq!(w.cheapest_name(), "Tempo");
        assert_eq!(
            w.summary(),
            "2025-01-01 → 2025-12-31: you paid 1,000.00 € (Tempo 6 kVA); Base would have cost 900.00 € (\u{2212}10.0 %; 3 days without a Tempo colour left out), Mon offre 1,000.00 € (0.0 %)"
        );
        let alone = WhatIf {
            actual: fake("Base", Some(Tariff::Base), 5, 0),
            alternatives: Vec::new(),
        };
        assert_eq!(
            alone.summary(),
            "2025-01-01 → 2025-12-31: you paid 0.05 € (Base 6 kVA)"
        );
    }

    #[test]
    fn the_hour_rules_match_schedule_rules_csv() {
        // data/tariffs/schedule_rules.csv states the constants the code uses.
        let rules = include_str!("../../data/tariffs/schedule_rules.csv");
        assert!(rules.contains("tempo_hc_hours,HC 22:00-06:00"));
        assert!(rules.contains("tempo_day_boundary,colour day starts 06:00"));
        assert!(
            rules.contains("from 07:00 to 01:00"),
            "EJP pointe mobile hours"
        );
        assert_eq!(tempo::DAY_START_HOUR, 6);
        assert_eq!(HcSchedule::standard().to_string(), "22:00-06:00");
        // And the tables parse.
        assert!(grids().is_ok());
        assert!(TempoCalendar::shipped().is_ok());
    }
}
