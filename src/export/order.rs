//! A day's merged rows in time order: rows out of order skipped ([`InOrder`]), and what is fed
//! onwards ([`Fed`]) to the accumulator and to the summary builder alike.

use super::reader::{DayRecords, Item, Reading};
use super::Error;

/// A row of a day's files, merged by time, or a row skipped for being out of order.
pub enum Fed<'a> {
    /// The next record.
    Rec(&'a Reading),
    /// A row at this time was skipped.
    OutOfOrder(i64),
    /// Damaged rows were skipped at this time.
    Damaged(i64),
}

/// Skips the rows out of order in a day's merged rows, holding one row back: a row whose
/// time is not after the one before is a repeat (the same time: skipped silently) or out of
/// order; then when it is still after the row before the one held back, the held one was
/// the one out of order (a time far ahead), else the new one is (a time back).
#[derive(Default)]
pub(crate) struct InOrder {
    held: Option<Reading>,
    last: Option<i64>,
}

impl InOrder {
    /// Returns `false` when `each` asks to stop.
    pub(crate) fn push(&mut self, rec: &Reading, each: &mut impl FnMut(Fed<'_>) -> bool) -> bool {
        let t = rec.time;
        let Some(h) = &mut self.held else {
            return match self.last {
                Some(l) if t <= l => t == l || each(Fed::OutOfOrder(t)),
                _ => {
                    self.held = Some(rec.clone());
                    true
                }
            };
        };
        if t == h.time {
            return true;
        }
        if t > h.time {
            let go = each(Fed::Rec(h));
            self.last = Some(h.time);
            h.clone_from(rec);
            return go;
        }
        if self.last.is_none_or(|l| t > l) {
            let go = each(Fed::OutOfOrder(h.time));
            h.clone_from(rec);
            go
        } else if self.last == Some(t) {
            true
        } else {
            each(Fed::OutOfOrder(t))
        }
    }

    pub(crate) fn finish(&mut self, each: &mut impl FnMut(Fed<'_>) -> bool) {
        if let Some(h) = self.held.take() {
            each(Fed::Rec(&h));
        }
    }
}

/// Reads the records of one day, rows out of order skipped ([`InOrder`]); stops when `each`
/// returns `false`.
pub fn merge(day: &mut DayRecords, mut each: impl FnMut(Fed<'_>) -> bool) -> Result<(), Error> {
    let mut order = InOrder::default();
    while let Some(item) = day.advance()? {
        let go = match item {
            Item::Rec => order.push(day.record(), &mut each),
            Item::Damaged(t) => each(Fed::Damaged(t)),
        };
        if !go {
            return Ok(());
        }
    }
    order.finish(&mut each);
    Ok(())
}
