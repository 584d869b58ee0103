//! What a read of the records went through ([`Trail`]): the days read around a range, for a
//! result that must know when it goes stale (the periods dataset's month files keep it).

use chrono::NaiveDate;

/// How many records after a range an export reads (the range's last values depend on them).
pub(crate) const LOOK_AHEAD_RECORDS: usize = 64;

/// What a [`super::feed::scan`] read, for a result that must know when it goes stale (the periods
/// dataset): the first and last days whose files it read (before, in and after the range),
/// the energy labels of each day of the range, and whether the records read after the range
/// reached [`LOOK_AHEAD_RECORDS`] (when they did not, the data ended: a later day may change
/// the range's last values).
#[derive(Clone, Debug, Default)]
pub struct Trail {
    /// The first day read.
    pub first: Option<NaiveDate>,
    /// The last day read.
    pub last: Option<NaiveDate>,
    /// The energy labels of each day of the range with files.
    pub labels: Vec<(NaiveDate, Vec<usize>)>,
    /// Records read after the range.
    pub ahead: usize,
    /// The days read before the range were every day before it (the data starts there: a
    /// day recorded earlier later may change the range's first values).
    pub back_all: bool,
}

impl Trail {
    pub(crate) fn read(&mut self, day: NaiveDate) {
        self.first = Some(self.first.map_or(day, |f| f.min(day)));
        self.last = Some(self.last.map_or(day, |l| l.max(day)));
    }

    /// Whether the records read after the range were as many as an export reads: the range's
    /// values then no longer depend on days recorded later.
    pub fn ahead_complete(&self) -> bool {
        self.ahead >= LOOK_AHEAD_RECORDS
    }
}
