//! What a cost's reader should be told about the figures ([`Caveat`]): a leaf under the
//! grids, the offers and the report, which all raise or read one.

use std::fmt;

use chrono::NaiveDate;

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
