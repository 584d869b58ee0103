//! The publishing guard: which energy index values Home Assistant may see.
//!
//! A `total_increasing` sensor records every rise for ever (a glitch of +10 MWh would stay in
//! the Energy dashboard), and reads a fall as a meter reset. A 6-bit checksum lets about one
//! corrupted group in 64 through, so now and then a record carries a garbled index with a
//! valid checksum. Which values are confirmed is the plausibility rule the export credits by
//! ([`crate::tic::plausible`]: the bound, confirm-by-next, the doubt); [`Guard`] is the
//! publishing policy over it, per index, fed the records in order:
//! - a value is published only once the **next** record confirms it: the next value continues
//!   from it (not lower, and not higher than the subscribed power allows in the time between
//!   them, [`allowed_wh`]). A value the engine keeps without that confirmation (the next one
//!   being the odd one) is not published: the one after it will be;
//! - a jump or a reset that the next record confirms is a new baseline: the value is
//!   confirmed (and [`Reference`] decides what Home Assistant sees of the step);
//! - a value is never published **below** the last published one (a garbled lower value that
//!   the next one happens to confirm stays out);
//! - a zero is never published, nor fed to the rule (a reset or a garbled group; the export
//!   ignores it too);
//! - a meter change (a new ADSC/ADCO, confirmed by the record after it) starts a new guard:
//!   the new meter is a new device whose indexes start afresh ([`super::meter`]).
//!
//! So a confirmed value always lags its record by one record, and is always a value of a
//! written row.
//!
//! [`Guard`] runs on the recording thread and confirms values; [`Reference`] runs on the
//! publisher thread, at each state message, against what Home Assistant was actually sent:
//! - **the floor**: on each connection the publisher reads back its own retained state
//!   (`<prefix>/<meter>/state`) and takes its energy values and its `time` as the published
//!   reference of each index ([`Reference::retained`]). A restart, or a `--replay` of an older
//!   capture on the same broker, thus never publishes a lower index under the same
//!   unique_id: an index below its reference is **held** at it (the state carries the
//!   reference, the value Home Assistant already has, so that the retained state keeps the
//!   floor for the next restart; said once per index, [`Said::Withheld`]);
//! - **the step from the last published value** (value, time) to a confirmed one is bounded
//!   the same way ([`allowed_wh`], the export's `implausible_jump`). A confirmed value beyond
//!   it is a new baseline: the step is left out, and the published series continues from the
//!   last published value through a per-index offset (published = meter value − offset; the
//!   offset grows by the step left out; said once, [`Said::Offset`]). Home Assistant then
//!   keeps a continuous total, below the meter's display by the offset;
//! - a meter change starts a new [`Reference`] (a new device).

use crate::tic::labels::N_ENERGY;
use crate::tic::plausible::{allowed_wh, Decisions, Engine, Fault, Point};

/// The guard of every energy index of one meter (by position in
/// [`ENERGY_LABELS`](crate::tic::labels::ENERGY_LABELS)): the plausibility engine, and the
/// last value published of each index.
#[derive(Clone, Debug)]
pub struct Guard {
    engine: Engine,
    published: [Option<Point>; N_ENERGY],
}

/// The publishing policy: what the engine confirms by the next value, never below what was
/// published.
struct Publish<'a> {
    published: &'a mut [Option<Point>; N_ENERGY],
    /// The value published now.
    new: Option<i64>,
}

impl Decisions for Publish<'_> {
    fn confirmed(&mut self, k: usize, _from: Option<Point>, to: Point, by_next: bool) {
        let Some(p) = self.published.get_mut(k).filter(|_| by_next) else {
            return;
        };
        if p.is_none_or(|(_, vp)| to.1 >= vp) {
            if p.is_none_or(|(_, vp)| to.1 > vp) {
                self.new = Some(to.1);
            }
            *p = Some(to);
        }
    }

    fn left_out(&mut self, _k: usize, _ta: i64, _tb: i64, _fault: Fault) {}

    fn zero(&mut self, _k: usize, _t: i64) {}
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
            engine: Engine::new(),
            published: [None; N_ENERGY],
        }
    }

    /// The subscribed power in force (VA), if the record says it; otherwise the last one said
    /// (36 kVA until one is).
    pub fn set_power(&mut self, va: Option<i64>) {
        if let Some(va) = va {
            self.engine.set_power(va);
        }
    }

    /// Index `k` read `v` Wh in the record of time `t` (Unix seconds). Returns the value
    /// published now, if this record confirmed the previous one.
    pub fn feed(&mut self, k: usize, t: i64, v: i64) -> Option<i64> {
        if k >= N_ENERGY || v <= 0 {
            return None;
        }
        let mut publish = Publish {
            published: &mut self.published,
            new: None,
        };
        self.engine.update(k, t, v, &mut publish);
        publish.new
    }

    /// The last confirmed value of index `k`.
    pub fn published(&self, k: usize) -> Option<i64> {
        self.published.get(k).copied().flatten().map(|(_, v)| v)
    }

    /// The subscribed power in force (VA).
    pub fn power(&self) -> i64 {
        self.engine.power_va()
    }
}

/// What [`Reference::apply`] says, once per episode (a log line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Said {
    /// A confirmed value below the published reference (the retained state's, after a
    /// restart or a replay of an older capture): withheld.
    Withheld {
        /// Position of the index.
        index: usize,
        /// The meter's value (Wh).
        value: i64,
        /// The published reference (Wh).
        floor: i64,
    },
    /// A confirmed step beyond the bound from the last published value: left out; the
    /// published total continues from the last published value.
    Offset {
        /// Position of the index.
        index: usize,
        /// The step left out (Wh).
        step: i64,
        /// The offset now (Wh): what Home Assistant's total is below the meter's display.
        offset: i64,
    },
}

#[derive(Clone, Copy, Debug, Default)]
struct Sent {
    /// The last published value (time, Wh), or the retained state's.
    published: Option<(i64, i64)>,
    /// Meter value − published value.
    offset: i64,
    /// A withheld value was said since the last value published.
    withheld_said: bool,
}

/// The published reference of every energy index of one meter (see the module doc); on the
/// publisher thread.
#[derive(Clone, Debug)]
pub struct Reference {
    index: [Sent; N_ENERGY],
}

impl Default for Reference {
    fn default() -> Self {
        Reference::new()
    }
}

impl Reference {
    /// Nothing published yet.
    pub fn new() -> Reference {
        Reference {
            index: [Sent::default(); N_ENERGY],
        }
    }

    /// The retained state read back from the broker: its time `t` (Unix seconds) and its
    /// energy values `(position, Wh)`. Each becomes the index's reference where it is above
    /// the one known (a reconnection reads back what this run published).
    pub fn retained(&mut self, t: i64, values: &[(usize, i64)]) {
        for &(k, v) in values {
            let Some(s) = self.index.get_mut(k) else {
                continue;
            };
            if v > 0 && s.published.is_none_or(|(_, vp)| v > vp) {
                s.published = Some((t, v));
            }
        }
    }

    /// Index `k`'s confirmed meter value `v` (Wh) in the state of time `t`, at `power_va`:
    /// the value to publish (the reference itself when `v` is below it; `None` for no value),
    /// and what to say.
    pub fn apply(
        &mut self,
        k: usize,
        t: i64,
        v: i64,
        power_va: i64,
    ) -> (Option<i64>, Option<Said>) {
        let Some(s) = self.index.get_mut(k) else {
            return (None, None);
        };
        if v <= 0 {
            return (None, None);
        }
        let m = v.saturating_sub(s.offset);
        let Some((tp, vp)) = s.published else {
            s.published = Some((t, m));
            return (Some(m), None);
        };
        if m < vp {
            let said = (!s.withheld_said).then_some(Said::Withheld {
                index: k,
                value: m,
                floor: vp,
            });
            s.withheld_said = true;
            return (Some(vp), said);
        }
        s.withheld_said = false;
        let t = t.max(tp);
        let step = m - vp;
        if i128::from(step) > allowed_wh(power_va, t - tp) {
            s.offset = s.offset.saturating_add(step);
            s.published = Some((t, vp));
            let said = Said::Offset {
                index: k,
                step,
                offset: s.offset,
            };
            return (Some(vp), Some(said));
        }
        s.published = Some((t, m));
        (Some(m), None)
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
    fn a_doubt_is_decided_by_the_value_after_it() {
        // After an hour's gap a high value is possible; the next one, a second later, falls
        // back (a doubt): the value after it says which of the two was the glitch.
        let feed = |values: &[(i64, i64)]| {
            let mut g = Guard::new();
            g.set_power(Some(6_000));
            values
                .iter()
                .map(|&(t, v)| g.feed(0, t, v))
                .collect::<Vec<_>>()
        };
        let high_glitch = [
            (0, 100),
            (1, 101),
            (3_601, 9_000),
            (3_602, 102),
            (3_603, 103),
        ];
        assert_eq!(
            feed(&high_glitch),
            [None, Some(100), Some(101), None, Some(102)]
        );
        let low_glitch = [
            (0, 100),
            (1, 101),
            (3_601, 9_000),
            (3_602, 102),
            (3_603, 9_001),
        ];
        assert_eq!(
            feed(&low_glitch),
            [None, Some(100), Some(101), None, Some(9_000)]
        );
    }

    /// Confirmed values through a [`Reference`], `(t, v)` at 6 kVA: what is published.
    fn publish(r: &mut Reference, values: &[(i64, i64)]) -> Vec<Option<i64>> {
        values
            .iter()
            .map(|&(t, v)| r.apply(0, t, v, 6_000).0)
            .collect()
    }

    #[test]
    fn a_confirmed_jump_continues_from_the_last_published_value() {
        // The guard confirms 50 000 (the next record continues from it)…
        let confirmed = run(Some(6_000), &[100, 101, 50_000, 50_001, 50_002]);
        assert_eq!(confirmed[3], Some(50_000));
        // …but the step from the last published value is beyond the bound: left out.
        let mut r = Reference::new();
        assert_eq!(r.apply(0, 1_001, 100, 6_000), (Some(100), None));
        assert_eq!(
            r.apply(0, 1_003, 50_000, 6_000),
            (
                Some(100),
                Some(Said::Offset {
                    index: 0,
                    step: 49_900,
                    offset: 49_900
                })
            )
        );
        assert_eq!(
            publish(&mut r, &[(1_004, 50_001), (1_005, 50_002), (1_006, 50_002)]),
            [Some(101), Some(102), Some(102)]
        );
        // A second jump adds to the offset.
        assert_eq!(r.apply(0, 1_007, 90_002, 6_000).0, Some(102));
        assert_eq!(r.apply(0, 1_008, 90_003, 6_000).0, Some(103));
        // A longer time allows more (8 Wh a second at 6 kVA, 9 001 in an hour).
        assert_eq!(r.apply(0, 4_608, 99_003, 6_000), (Some(9_103), None));
    }

    #[test]
    fn the_retained_state_is_the_floor() {
        // After a restart: the retained state says 5 000 at t = 1 000.
        let mut r = Reference::new();
        r.retained(1_000, &[(0, 5_000), (1, 7_000), (N_ENERGY, 1), (2, 0)]);
        // A replay of an older capture: below, held at the floor, said once.
        assert_eq!(
            r.apply(0, 500, 4_000, 6_000),
            (
                Some(5_000),
                Some(Said::Withheld {
                    index: 0,
                    value: 4_000,
                    floor: 5_000
                })
            )
        );
        assert_eq!(
            r.apply(0, 501, 4_001, 6_000),
            (Some(5_000), None),
            "said once"
        );
        // The live meter 10 s later, continuing: published.
        assert_eq!(r.apply(0, 1_010, 5_020, 6_000), (Some(5_020), None));
        // Far above the retained value within the time elapsed: the step is left out.
        let (v, said) = r.apply(1, 1_010, 70_000, 6_000);
        assert_eq!(v, Some(7_000));
        assert!(
            matches!(said, Some(Said::Offset { step: 63_000, .. })),
            "{said:?}"
        );
        // An index the retained state did not have starts at its first value.
        assert_eq!(r.apply(2, 1_010, 3, 6_000), (Some(3), None));
        // A reconnection reads back what was published: no lower reference.
        r.retained(1_010, &[(0, 10)]);
        assert_eq!(r.apply(0, 1_011, 5_021, 6_000), (Some(5_021), None));
        assert_eq!(r.apply(0, 1_012, 0, 6_000), (None, None), "zero: never");
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
