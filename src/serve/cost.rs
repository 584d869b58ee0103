//! The € figures of the dashboard: one function, [`cost`], that every page and `/api/cost`
//! asks, so that wiring the real numbers is one change here.
//!
//! ## Status
//! The pure engine is in [`crate::cost`] (offers, slots, prices, [`crate::cost::WhatIf`]);
//! what turns a data directory into a per-period table of the actual contract's cost and
//! the what-ifs (like [`crate::export::export_store`] does for Wh) is being written for
//! `tic-rec cost`, and is not in this build. Until it is, [`cost`] says
//! [`CostError::Unavailable`], and the pages print "cost: not available": the dashboard
//! never shows a figure it did not get from that engine.
//!
//! ## What the wiring needs
//! A function of the shape
//! `fn(&Catalog, Period, NaiveDate, NaiveDate) -> Result<table, error>` whose table has, per
//! period (the same boundaries as the export's), the actual contract's cost (energy and
//! subscription, [`crate::cost::Money`]), and for each alternative (Base, HC/HP, Tempo) its
//! cost and whether it is complete; plus the contract found (offer, kVA). [`cost`] maps it
//! into [`CostTable`].

use chrono::NaiveDate;

use crate::cost::Money;
use crate::export::Period;
use crate::store::Catalog;

/// The € of one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodCost {
    /// Start (Unix seconds, inclusive).
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// The actual contract's cost (energy + subscription), if it could be priced.
    pub actual: Option<Money>,
    /// What each alternative would have cost: its name and cost (`None`: incomplete).
    pub what_if: Vec<(String, Option<Money>)>,
}

/// The € per period over a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostTable {
    /// The contract priced, e.g. `HC/HP 6 kVA`.
    pub contract: String,
    /// One row per period.
    pub rows: Vec<PeriodCost>,
}

/// Why there is no € figure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// This build has no per-period cost of a data directory (see the module doc).
    #[error("cost: not available ({0})")]
    Unavailable(&'static str),
}

/// The reason given while the period table is missing.
pub const NOT_WIRED: &str =
    "this build's tic_rec::cost has no per-period table of a data directory yet";

/// The € per `period` of the days `[from, to]` of `catalog`.
pub fn cost(
    catalog: &Catalog,
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<CostTable, CostError> {
    let _ = (catalog, period, from, to);
    Err(CostError::Unavailable(NOT_WIRED))
}
