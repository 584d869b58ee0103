//! The publishing guard: which energy index values Home Assistant may see.
//!
//! A `total_increasing` sensor records every rise for ever (a glitch of +10 MWh would stay in
//! the Energy dashboard), and reads a fall as a meter reset. A 6-bit checksum lets about one
//! corrupted group in 64 through, so now and then a record carries a garbled index with a
//! valid checksum. The rule, per index, fed the records in order:
//! - a value is published only once the **next** record confirms it: the next value continues
//!   from it (not lower, and not higher than the subscribed power allows in the time between
//!   them: the export's `implausible_jump` bound, [`allowed_wh`]). An unconfirmed value is
//!   dropped: either it or its successor was garbled, and neither is published;
//! - a value is never published **below** the last published one (a garbled lower value that
//!   the next one happens to confirm stays out);
//! - a zero is never published (a reset or a garbled group; the export ignores it too);
//! - a meter change (a new ADSC/ADCO, confirmed by the record after it) starts a new guard:
//!   the new meter is a new device whose indexes start afresh ([`super::meter`]).
//!
//! So a published value always lags its record by one record, and what is published is
//! always a value of a written row.

use crate::export::{allowed_wh, DEFAULT_POWER_VA};
use crate::tic::labels::N_ENERGY;

#[derive(Clone, Copy, Debug, Default)]
struct Index {
    /// The last published value (time, Wh).
    published: Option<(i64, i64)>,
    /// The last value, waiting for the next one to confirm it.
    candidate: Option<(i64, i64)>,
}

/// The guard of every energy index of one meter (by position in
/// [`ENERGY_LABELS`](crate::tic::labels::ENERGY_LABELS)).
#[derive(Clone, Debug)]
pub struct Guard {
    power_va: i64,
    index: [Index; N_ENERGY],
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new()
    }
}

impl Guard {
    /// A guard that has published nothing.
    pub fn new() -> Guard {
        Guard {
            power_va: DEFAULT_POWER_VA,
            index: [Index::default(); N_ENERGY],
        }
    }

    /// The subscribed power in force (VA), if the record says it; otherwise the last one said
    /// (36 kVA until one is).
    pub fn set_power(&mut self, va: Option<i64>) {
        if let Some(va) = va.filter(|&v| v > 0) {
            self.power_va = va;
        }
    }

    /// Index `k` read `v` Wh in the record of time `t` (Unix seconds). Returns the value
    /// published now, if this record confirmed the previous one.
    pub fn feed(&mut self, k: usize, t: i64, v: i64) -> Option<i64> {
        let power = self.power_va;
        let s = self.index.get_mut(k)?;
        if v <= 0 {
            return None;
        }
        let n = (t, v);
        let confirmed = s.candidate.filter(|&(tc, vc)| {
            let continues =
                v >= vc && i128::from(v - vc) <= allowed_wh(power, t.saturating_sub(tc));
            let not_lower = s.published.is_none_or(|(_, vp)| vc >= vp);
            continues && not_lower
        });
        s.candidate = Some(n);
        let c = confirmed?;
        let new = s.published.is_none_or(|(_, vp)| c.1 > vp);
        s.published = Some(c);
        new.then_some(c.1)
    }

    /// The last published value of index `k`.
    pub fn published(&self, k: usize) -> Option<i64> {
        self.index.get(k)?.published.map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds one index these values a second apart; returns its published value after each.
    fn run(power: Option<i64>, values: &[i64]) -> Vec<Option<i64>> {
        let mut g = Guard::new();
        g.set_power(power);
        values
            .iter()
            .enumerate()
            .map(|(t, &v)| {
                g.feed(0, 1_000 + t as i64, v);
                g.published(0)
            })
            .collect()
    }

    #[test]
    fn the_rule_table() {
        const P: Option<i64> = Some(6_000); // 6 kVA: at most 8 Wh in a second (Δt + 2 s).
        const NONE: Option<i64> = None;
        type Case = (&'static str, &'static [i64], &'static [Option<i64>]);
        let cases: &[Case] = &[
            (
                "steady: each value once the next confirms it",
                &[100, 101, 103, 103],
                &[NONE, Some(100), Some(101), Some(103)],
            ),
            (
                "a glitch up is never published",
                &[100, 101, 99_101, 102, 103],
                &[NONE, Some(100), Some(100), Some(100), Some(102)],
            ),
            (
                "a glitch down is never published, and never a decrease",
                &[100, 101, 1, 102, 103],
                &[NONE, Some(100), Some(100), Some(100), Some(102)],
            ),
            (
                "a small glitch down that the next one continues from stays out",
                &[100, 101, 97, 101, 102],
                &[NONE, Some(100), Some(100), Some(100), Some(101)],
            ),
            (
                "zeros are never published nor confirm anything",
                &[0, 100, 0, 101, 102],
                &[NONE, NONE, NONE, Some(100), Some(101)],
            ),
            (
                "a first value contradicted by the next is dropped",
                &[900_100, 100, 101],
                &[NONE, NONE, Some(100)],
            ),
            (
                "a rise confirmed by the next record is a new baseline",
                &[100, 101, 50_000, 50_001, 50_002],
                &[NONE, Some(100), Some(100), Some(50_000), Some(50_001)],
            ),
        ];
        for (what, values, want) in cases {
            assert_eq!(&run(P, values), want, "{what}");
        }
    }

    #[test]
    fn the_bound_is_the_exports() {
        // 6 kVA, 1 s apart: allowed_wh(6000, 1) = 6000 × 1.5 × 3 / 3600 + 1 = 8 Wh.
        assert_eq!(allowed_wh(6_000, 1), 8);
        assert_eq!(run(Some(6_000), &[100, 108, 109])[1], Some(100));
        assert_eq!(run(Some(6_000), &[100, 109, 110])[1], None);
        // Without a subscribed power, 36 kVA: 46 Wh.
        assert_eq!(run(None, &[100, 146, 147])[1], Some(100));
        // A longer gap allows more.
        let mut g = Guard::new();
        g.set_power(Some(6_000));
        g.feed(0, 0, 100);
        assert_eq!(g.feed(0, 3_600, 9_100), Some(100));
        assert_eq!(g.feed(0, 3_601, 9_101), Some(9_100));
    }

    #[test]
    fn a_value_is_returned_once_and_indexes_are_apart() {
        let mut g = Guard::new();
        assert_eq!(g.feed(1, 0, 5), None);
        assert_eq!(g.feed(2, 0, 7), None);
        assert_eq!(g.feed(1, 1, 5), Some(5));
        assert_eq!(g.feed(1, 2, 5), None, "the same value again is not news");
        assert_eq!(g.published(1), Some(5));
        assert_eq!(g.published(2), None);
        assert_eq!(g.feed(N_ENERGY, 0, 1), None, "out of range: ignored");
    }
}
