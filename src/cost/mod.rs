//! What the recorded energy cost, and what the regulated options would have cost: the pure
//! core of `tic-rec cost` (no file walking, no printing).
//!
//! So far: exact money ([`money`]), the embedded Tarif Bleu grids ([`grid`]), the Tempo
//! calendar ([`tempo`]) and HC schedules ([`schedule`]); each module states its contract.
pub mod grid;
pub mod money;
pub mod schedule;
pub mod tempo;

use std::fmt;

use chrono::NaiveDate;

pub use grid::{
    grids, kva_from_isousc, Grid, GridError, Grids, InForce, Subscription, Tariff, KNOWN_UNTIL,
};
pub use money::{Decimal, Money, MoneyError};
pub use schedule::{learn, DaySlot, HcSchedule, Learned, ScheduleError};
pub use tempo::{tempo_day, TempoCalendar, TempoError};

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
