//! The € figures of the dashboard: one function, [`cost`], that every page and `/api/cost`
//! ask. It is [`crate::cost::report()`] (the numbers of `tic-rec cost`, with everything
//! detected from the data: contract, power, HC schedule, Tempo colours) reduced to what the
//! pages show; the dashboard never shows a figure it did not get from that engine.
//!
//! - **Actual**: what the recorded energy cost under the actual contract (energy and the
//!   prorated subscription, TTC), per period and over the whole range (priced as one range,
//!   so exactly the sum of the periods).
//! - **What-if**: Base, HC/HP, Tempo (EJP where the stream gives its days), each with the
//!   number of days it left out (a Tempo day without a known colour): a figure with days
//!   left out is shown, marked, never as if it were whole; an option that cannot be priced
//!   (no grid at that power) has none.
//! - A range that cannot be priced (no recorded day, a contract the data does not name) says
//!   why ([`CostError`]), in words the page prints.
//!
//! Money is exact; it is rounded to the cent only where it is shown.

use chrono::NaiveDate;

use crate::cost::{report, Cost, Money, Options, Report, ReportError, WhatIf};
use crate::export::{Catalog, Period, Quiet};

/// One option's cost over a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionCost {
    /// Energy and subscription (`None`: not priced, e.g. no grid at that power, or every
    /// day left out).
    pub eur: Option<Money>,
    /// Days of the period left out of it (Tempo days without a colour).
    pub missing_days: u32,
}

impl OptionCost {
    fn of(cost: Option<&Cost>) -> OptionCost {
        match cost {
            None => OptionCost {
                eur: None,
                missing_days: 0,
            },
            Some(c) => {
                let missing = c
                    .excluded_days
                    .iter()
                    .filter(|d| c.days.contains(**d))
                    .count();
                OptionCost {
                    // Every day left out: nothing was priced.
                    eur: (c.subscription_days > 0 || c.wh() > 0).then(|| c.total()),
                    missing_days: u32::try_from(missing).unwrap_or(u32::MAX),
                }
            }
        }
    }
}

/// The € of one period (or of the whole range).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodCost {
    /// Start (Unix seconds, inclusive).
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// The actual contract's cost (`None`: the period has no recorded day).
    pub actual: OptionCost,
    /// Each alternative of [`CostTable::alternatives`], in order.
    pub what_if: Vec<OptionCost>,
    /// The key of the cheapest complete option (`hchp`, `tempo`…), if priced.
    pub cheapest: Option<&'static str>,
}

/// The € per period over a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostTable {
    /// The contract priced, e.g. `HC/HP 6 kVA`.
    pub contract: String,
    /// The key of the actual option (`base`, `hchp`, `tempo`, `ejp`).
    pub contract_key: &'static str,
    /// The alternatives: `(key, name)`, e.g. `("tempo", "Tempo")`.
    pub alternatives: Vec<(String, String)>,
    /// One row per period.
    pub rows: Vec<PeriodCost>,
    /// The whole range.
    pub total: Option<PeriodCost>,
    /// The closing sentence of `tic-rec cost` ("… you paid …; Tempo would have cost …").
    pub summary: Option<String>,
    /// What the reader should know (warnings of the report: a grid used beyond its dates…).
    pub notes: Vec<String>,
}

/// Why there is no € figure.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// There is nothing to price (no recorded day), in words.
    #[error("cost: not available ({0})")]
    Unavailable(String),
    /// The report cannot be made: its error ([`crate::cost::ReportError`]) is the source.
    #[error("cost: not available")]
    Report(#[source] crate::cost::ReportError),
    /// The days could not be read (a `503` naming the file, not a page's "not available").
    #[error(transparent)]
    Export(crate::export::Error),
}

fn period_cost(start: i64, end: i64, w: Option<&WhatIf>, n: usize) -> PeriodCost {
    match w {
        None => PeriodCost {
            start,
            end,
            actual: OptionCost::of(None),
            what_if: vec![OptionCost::of(None); n],
            cheapest: None,
        },
        Some(w) => PeriodCost {
            start,
            end,
            actual: OptionCost::of(Some(&w.actual)),
            what_if: w
                .alternatives
                .iter()
                .map(|o| OptionCost::of(o.cost()))
                .collect(),
            cheapest: Some(Report::cheapest_key(w)),
        },
    }
}

/// The dashboard's view of a cost report.
pub fn table(r: &Report) -> Result<CostTable, CostError> {
    let Some(contract) = &r.contract else {
        return Err(CostError::Unavailable(
            "the range holds no recorded day".into(),
        ));
    };
    let n = r.alternatives.len();
    let rows = r
        .rows
        .iter()
        .map(|row| period_cost(row.start, row.end, row.cost.as_ref(), n))
        .collect::<Vec<_>>();
    let (start, end) = match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => (a.start, b.end),
        _ => (0, 0),
    };
    Ok(CostTable {
        contract: contract.label(),
        contract_key: Report::key_of(Some(contract.tariff)),
        alternatives: r.alternatives.clone(),
        total: r
            .total
            .as_ref()
            .map(|w| period_cost(start, end, Some(w), n)),
        summary: r.total.as_ref().map(WhatIf::summary),
        notes: r
            .notes
            .iter()
            .filter(|n| n.is_warning())
            .map(ToString::to_string)
            .collect(),
        rows,
    })
}

/// The € per `period` of the days `[from, to]` of `catalog` (through the day summaries).
pub fn cost(
    catalog: &Catalog,
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<CostTable, CostError> {
    let mut o = Options::new(period);
    (o.from, o.to) = (Some(from), Some(to));
    let r = report(catalog, &o, &mut Quiet).map_err(|e| match e {
        ReportError::Export(e) => CostError::Export(e),
        e => CostError::Report(e),
    })?;
    table(&r)
}
