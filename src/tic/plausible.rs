//! The plausibility rule: whether a step of an energy index is possible, and which values of
//! an index are confirmed. One rule for the export (what a period is credited) and for the
//! Home Assistant link (what a `total_increasing` sensor is sent): each is a thin policy over
//! this [`Engine`], told what it decides through [`Decisions`]. Sans IO and without a clock:
//! times are the records' (Unix seconds), passed in.
//!
//! ## Why
//! A 6-bit checksum lets about one corrupted group in 64 through, so now and then a record
//! carries a garbled index with a valid checksum; a meter can also be replaced, or its index
//! reset. An index can only grow, and no faster than the subscribed power allows.
//!
//! ## The bound
//! A step of an index from `(ta, va)` to `(tb, vb)` is *possible* when `vb ≥ va` and it rises
//! at most `1.5 × P × (tb − ta + 2 s) / 3600 + 1` Wh ([`allowed_wh`]), `P` being the subscribed
//! power in VA: max(PREF, PCOUP) kVA, or historique ISOUSC × 200 V (× 600 on a three-phase
//! meter, whose ISOUSC is per phase) ([`subscribed_va`]); [`DEFAULT_POWER_VA`] (36 kVA, the
//! largest "tarif bleu") until the data says.
//!
//! ## Confirm by next
//! Per index the engine holds the last confirmed value (the *reference*), the value waiting
//! for the next one to speak (the *candidate*) and, when a value contradicts the candidate
//! while continuing from the reference, that value (the *doubt*). With each new value `n`:
//! - a zero after a non-zero value is ignored (a reset or a garbled group: [`Decisions::zero`]);
//!   a zero is never a starting value either: a first value of zero followed by a rise is left
//!   out;
//! - `n` continuing from the candidate (a possible step) confirms it ([`Decisions::confirmed`],
//!   `by_next`);
//! - `n` contradicting the candidate but continuing from the reference raises a doubt: the
//!   value after `n` tells which of the two was the glitch (it continues from one, not the
//!   other), and the glitch's span is left out ([`Decisions::left_out`]); this also catches a
//!   first value (no reference yet) that the next one contradicts;
//! - `n` possible from neither: the candidate is kept if the step to it was possible (`n` is
//!   the odd one), and `n` waits;
//! - after a candidate whose step was impossible (a jump, a fall): if `n` continues from the
//!   reference the candidate was a glitch, left out; if `n` continues from the candidate, the
//!   candidate is a new baseline (*a jump is accepted only when the next value confirms it*):
//!   the step to it is left out and it is confirmed without a step; otherwise both the step
//!   and the candidate are left out and `n` waits.
//!
//! At the end of the data ([`Engine::settle`]) a doubt is resolved for the candidate, and a
//! candidate whose step was possible is kept. A meter change ([`Engine::restart`]) settles
//! every index and starts each again from the new meter's first value.

use super::labels::{Unit, N_ENERGY};

/// A value of an index: (Unix seconds, Wh).
pub type Point = (i64, i64);

/// Subscribed power assumed while the data says none (VA): the largest "tarif bleu".
pub const DEFAULT_POWER_VA: i64 = 36_000;

/// The most a step of `dt` seconds may rise (Wh) at `power_va`: `1.5 × power × (dt + 2) /
/// 3600 + 1`.
pub fn allowed_wh(power_va: i64, dt: i64) -> i128 {
    i128::from(power_va) * 3 / 2 * i128::from(dt.saturating_add(2)) / 3600 + 1
}

/// The least power (VA) for which a rise of `rise` Wh in `dt` seconds is possible (0 for a
/// rise of at most 1 Wh, `i64::MAX` for none).
pub fn least_power_va(dt: i64, rise: i64) -> i64 {
    if rise <= 1 {
        return 0;
    }
    let (mut lo, mut hi) = (0i64, i64::MAX / 4);
    if allowed_wh(hi, dt) < i128::from(rise) {
        return i64::MAX;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if allowed_wh(mid, dt) >= i128::from(rise) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Whether the step `from → to` of an index is possible at `power_va`: not a decrease, and
/// within [`allowed_wh`] of the time between them.
pub fn possible(power_va: i64, (ta, va): Point, (tb, vb): Point) -> bool {
    vb >= va && i128::from(vb) - i128::from(va) <= allowed_wh(power_va, tb.saturating_sub(ta))
}

/// The subscribed power (VA) a record states, folded over its subscribed-power cells: `so_far`
/// (what its other such cells said) and one more cell of `value` in `unit` — kVA (PREF, PCOUP:
/// the larger counts) or A (ISOUSC: × 200 V, × 600 when `three_phase`).
pub fn subscribed_va(
    so_far: Option<i64>,
    unit: Unit,
    value: i64,
    three_phase: bool,
) -> Option<i64> {
    match unit {
        Unit::Kva => Some(so_far.unwrap_or(0).max(value.saturating_mul(1000))),
        _ => Some(value.saturating_mul(if three_phase { 600 } else { 200 })),
    }
}

/// Why a step was left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The index fell (or restarted from zero).
    Reset,
    /// The index rose more than the subscribed power allows.
    Jump,
}

impl Fault {
    /// The fault of an impossible step from `va` to `vb` Wh.
    pub fn of(va: i64, vb: i64) -> Fault {
        if vb < va {
            Fault::Reset
        } else {
            Fault::Jump
        }
    }
}

/// What the engine decides, for the policy over it (the export's periods, the MQTT publisher).
pub trait Decisions {
    /// Value `to` of index `k` is confirmed. `from` is the confirmed value before it when the
    /// step between them is possible (its consumption counts); `None` for the first value
    /// and for a new baseline after a step left out. `by_next`: the value after `to`
    /// continued from it (otherwise it was kept because that one was the odd one, or at the
    /// end of the data).
    fn confirmed(&mut self, k: usize, from: Option<Point>, to: Point, by_next: bool);
    /// A step of index `k` spanning `[ta, tb]` is left out.
    fn left_out(&mut self, k: usize, ta: i64, tb: i64, fault: Fault);
    /// A zero of index `k` at `t` after a non-zero value is ignored.
    fn zero(&mut self, k: usize, t: i64);
}

/// One index's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Track {
    /// The last confirmed value.
    reference: Option<Point>,
    /// The last value, waiting for the next one to confirm it.
    candidate: Option<Point>,
    /// The step from `reference` to `candidate` was possible when the candidate came (with
    /// the power then in force), or there is no reference.
    candidate_ok: bool,
    /// A value that contradicts the candidate but continues from the reference.
    doubt: Option<Point>,
}

/// The plausibility engine for every energy index of one meter (by position in
/// [`ENERGY_LABELS`](super::labels::ENERGY_LABELS)): see the module doc.
#[derive(Clone, Debug)]
pub struct Engine {
    tracks: [Track; N_ENERGY],
    /// The subscribed power in force (VA), once the data has said it.
    power_va: Option<i64>,
    /// Events so far: steps left out, zeros ignored, restarts.
    events: u64,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new()
    }
}

impl Engine {
    /// An engine that has seen nothing.
    pub fn new() -> Engine {
        Engine {
            tracks: [Track::default(); N_ENERGY],
            power_va: None,
            events: 0,
        }
    }

    /// The subscribed power in force (VA): the last one the data said, else
    /// [`DEFAULT_POWER_VA`].
    pub fn power_va(&self) -> i64 {
        self.power_va.unwrap_or(DEFAULT_POWER_VA)
    }

    /// The data says the subscribed power is `va` (ignored unless positive).
    pub fn set_power(&mut self, va: i64) {
        if va > 0 {
            self.power_va = Some(va);
        }
    }

    /// Events so far: steps left out, zeros ignored, restarts.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The last confirmed value of index `k`.
    pub fn confirmed(&self, k: usize) -> Option<Point> {
        self.tracks.get(k)?.reference
    }

    /// Whether every index's last value is settled: no doubt pending, and no candidate whose
    /// step was impossible.
    pub fn settled(&self) -> bool {
        self.tracks
            .iter()
            .all(|s| s.doubt.is_none() && (s.candidate.is_none() || s.candidate_ok))
    }

    fn possible(&self, a: Point, b: Point) -> bool {
        possible(self.power_va(), a, b)
    }

    fn left_out(&mut self, out: &mut impl Decisions, k: usize, ta: i64, tb: i64, f: Fault) {
        self.events += 1;
        out.left_out(k, ta, tb, f);
    }

    /// Confirms the candidate of `k`: it becomes the reference.
    fn confirm(&mut self, k: usize, out: &mut impl Decisions, by_next: bool) {
        let s = &mut self.tracks[k];
        let Some(c) = s.candidate.take() else {
            return;
        };
        out.confirmed(k, s.reference, c, by_next);
        s.reference = Some(c);
    }

    fn wait(&mut self, k: usize, n: Point, ok: bool) {
        let s = &mut self.tracks[k];
        s.candidate = Some(n);
        s.candidate_ok = ok;
    }

    /// The next value `v` of index `k` at `t` (see the module doc). An index out of range is
    /// ignored.
    pub fn update(&mut self, k: usize, t: i64, v: i64, out: &mut impl Decisions) {
        let Some(&s) = self.tracks.get(k) else {
            return;
        };
        let n = (t, v);
        let known_nonzero = [s.reference, s.candidate, s.doubt]
            .iter()
            .flatten()
            .any(|x| x.1 > 0);
        if v == 0 && known_nonzero {
            self.events += 1;
            out.zero(k, t);
            return;
        }
        let reference = s.reference;
        // A doubt: the candidate `c` and the doubt `d` disagree, both continue from the
        // reference. `n` continuing from `d` and not from `c` says `c` was the glitch;
        // otherwise `d` was.
        if let (Some(c), Some(d)) = (s.candidate, s.doubt) {
            self.tracks[k].doubt = None;
            if !self.possible(c, n) && self.possible(d, n) {
                let (from, f) = match reference {
                    Some(r) => (r.0, Fault::Jump),
                    None => (c.0, Fault::of(c.1, d.1)),
                };
                self.left_out(out, k, from, d.0, f);
                self.wait(k, d, true);
            } else {
                self.left_out(out, k, c.0, t, Fault::of(c.1, d.1));
            }
        }
        let s = self.tracks[k];
        let Some(c) = s.candidate else {
            let ok = reference.is_none_or(|r| self.possible(r, n));
            self.wait(k, n, ok);
            return;
        };
        let cn = self.possible(c, n);
        let rn = reference.is_none_or(|r| self.possible(r, n));
        match reference {
            // No reference yet: a zero is never the starting value.
            None if c.1 == 0 && v > 0 => {
                self.left_out(out, k, c.0, t, Fault::Reset);
                self.wait(k, n, true);
                return;
            }
            Some(r) if !s.candidate_ok => {
                if rn {
                    // `c` was a glitch.
                    self.left_out(out, k, r.0, t, Fault::of(r.1, c.1));
                    self.wait(k, n, true);
                } else if cn {
                    // `c` is the new baseline; the step to it is left out.
                    let s = &mut self.tracks[k];
                    s.reference = Some(c);
                    s.candidate = Some(n);
                    s.candidate_ok = true;
                    self.left_out(out, k, r.0, c.0, Fault::of(r.1, c.1));
                    out.confirmed(k, None, c, true);
                } else {
                    self.left_out(out, k, r.0, t, Fault::of(r.1, c.1));
                    self.wait(k, n, false);
                }
                return;
            }
            _ => {}
        }
        if cn {
            self.confirm(k, out, true);
            self.wait(k, n, true);
        } else if rn {
            self.tracks[k].doubt = Some(n);
        } else {
            self.confirm(k, out, false);
            self.wait(k, n, false);
        }
    }

    /// A value known to be possible (a clean day's summary says so): confirms the candidate
    /// and takes `(t, v)` as the next one.
    pub fn known_good(&mut self, k: usize, t: i64, v: i64, out: &mut impl Decisions) {
        if k >= N_ENERGY {
            return;
        }
        self.confirm(k, out, true);
        self.wait(k, (t, v), true);
    }

    /// At the end of the data (or of a meter): a doubt is resolved for the candidate, and a
    /// candidate whose step was possible is confirmed; one whose step was not is left out.
    pub fn settle(&mut self, k: usize, out: &mut impl Decisions) {
        let Some(s) = self.tracks.get_mut(k) else {
            return;
        };
        let (reference, candidate, ok, doubt) =
            (s.reference, s.candidate, s.candidate_ok, s.doubt.take());
        let Some(c) = candidate else {
            return;
        };
        if let Some(d) = doubt {
            self.left_out(out, k, c.0, d.0, Fault::of(c.1, d.1));
        }
        if ok {
            self.confirm(k, out, false);
        } else {
            if let Some(r) = reference {
                self.left_out(out, k, r.0, c.0, Fault::of(r.1, c.1));
            }
            self.tracks[k].candidate = None;
        }
    }

    /// The meter changed: settles every index, and every index starts again from the new
    /// meter's first value (one event).
    pub fn restart(&mut self, out: &mut impl Decisions) {
        self.events += 1;
        for k in 0..N_ENERGY {
            self.settle(k, out);
            let s = &mut self.tracks[k];
            s.reference = None;
            s.candidate = None;
            s.candidate_ok = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the engine decided, in order, for index 0.
    #[derive(Debug, Default)]
    struct Log(Vec<String>);

    impl Decisions for Log {
        fn confirmed(&mut self, k: usize, from: Option<Point>, to: Point, by_next: bool) {
            let by = if by_next { "" } else { " kept" };
            self.0.push(match from {
                Some(f) => format!("{k}: {}→{} credited{by}", f.1, to.1),
                None => format!("{k}: {} confirmed{by}", to.1),
            });
        }
        fn left_out(&mut self, k: usize, ta: i64, tb: i64, fault: Fault) {
            self.0
                .push(format!("{k}: [{ta},{tb}] left out ({fault:?})"));
        }
        fn zero(&mut self, k: usize, t: i64) {
            self.0.push(format!("{k}: zero at {t}"));
        }
    }

    /// Feeds index 0 `values` a second apart from t = 0 at 6 kVA (8 Wh a second at most),
    /// then settles it; returns the decisions.
    fn run(values: &[i64]) -> Vec<String> {
        let mut e = Engine::new();
        e.set_power(6_000);
        let mut log = Log::default();
        for (t, &v) in values.iter().enumerate() {
            e.update(0, t as i64, v, &mut log);
        }
        e.settle(0, &mut log);
        log.0
    }

    #[test]
    fn the_bound() {
        // 6 kVA: 6000 × 1.5 × 3 s / 3600 + 1 = 8 Wh in a second.
        assert_eq!(allowed_wh(6_000, 1), 8);
        assert_eq!(allowed_wh(DEFAULT_POWER_VA, 1), 46);
        assert_eq!(allowed_wh(6_000, 3_600), 9_006);
        assert!(possible(6_000, (0, 100), (1, 108)));
        assert!(!possible(6_000, (0, 100), (1, 109)));
        assert!(!possible(6_000, (0, 100), (1, 99)), "a fall");
        assert!(possible(6_000, (5, 100), (5, 100)), "the same value");
        assert_eq!(least_power_va(1, 1), 0);
        for (dt, rise) in [(1, 8), (1, 9), (60, 500), (3_600, 9_006)] {
            let p = least_power_va(dt, rise);
            assert!(
                allowed_wh(p, dt) >= i128::from(rise) && allowed_wh(p - 1, dt) < i128::from(rise)
            );
        }
        assert_eq!(least_power_va(0, i64::MAX), i64::MAX);
        assert_eq!(subscribed_va(None, Unit::Kva, 6, false), Some(6_000));
        assert_eq!(subscribed_va(Some(9_000), Unit::Kva, 6, false), Some(9_000));
        assert_eq!(subscribed_va(None, Unit::A, 30, false), Some(6_000));
        assert_eq!(subscribed_va(None, Unit::A, 30, true), Some(18_000));
        assert_eq!(Fault::of(5, 4), Fault::Reset);
        assert_eq!(Fault::of(5, 900), Fault::Jump);
    }

    #[test]
    fn the_rule_table() {
        type Case = (&'static str, &'static [i64], &'static [&'static str]);
        let cases: &[Case] = &[
            (
                "steady: each step credited once the next value confirms its end",
                &[100, 101, 103, 103],
                &[
                    "0: 100 confirmed",
                    "0: 100→101 credited",
                    "0: 101→103 credited",
                    "0: 103→103 credited kept",
                ],
            ),
            (
                "a glitch up: its step left out, the values around it credited",
                &[100, 101, 99_101, 102, 103],
                &[
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                    "0: [1,3] left out (Jump)",
                    "0: 101→102 credited",
                    "0: 102→103 credited kept",
                ],
            ),
            (
                "a glitch down",
                &[100, 101, 1, 102],
                &[
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                    "0: [1,3] left out (Reset)",
                    "0: 101→102 credited kept",
                ],
            ),
            (
                "a zero after a non-zero value is ignored",
                &[100, 0, 101],
                &[
                    "0: zero at 1",
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                ],
            ),
            (
                "a zero is never a starting value",
                &[0, 100, 101],
                &[
                    "0: [0,1] left out (Reset)",
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                ],
            ),
            (
                "a first value the next one contradicts is a glitch (a doubt)",
                &[900_100, 100, 101],
                &[
                    "0: [0,1] left out (Reset)",
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                ],
            ),
            (
                "a jump confirmed by the next value is a new baseline, its step left out",
                &[100, 101, 50_000, 50_001, 50_002],
                &[
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                    "0: [1,2] left out (Jump)",
                    "0: 50000 confirmed",
                    "0: 50000→50001 credited",
                    "0: 50001→50002 credited kept",
                ],
            ),
            (
                "a reset confirmed by the next value too",
                &[100, 101, 5, 6],
                &[
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                    "0: [1,2] left out (Reset)",
                    "0: 5 confirmed",
                    "0: 5→6 credited kept",
                ],
            ),
            (
                "an impossible value at the end of the data is left out",
                &[100, 101, 50_000],
                &[
                    "0: 100 confirmed",
                    "0: 100→101 credited kept",
                    "0: [1,2] left out (Jump)",
                ],
            ),
        ];
        for (what, values, want) in cases {
            assert_eq!(run(values), *want, "{what}");
        }
    }

    #[test]
    fn a_doubt_is_settled_by_the_value_after_it() {
        // After an hour's gap a high value is possible (9 006 Wh at 6 kVA); the next value,
        // a second later, contradicts it but continues from the reference: a doubt.
        let mut e = Engine::new();
        e.set_power(6_000);
        let mut log = Log::default();
        e.update(0, 0, 100, &mut log);
        e.update(0, 1, 101, &mut log);
        e.update(0, 3_601, 9_000, &mut log);
        e.update(0, 3_602, 102, &mut log);
        assert!(!e.settled(), "a doubt is pending");
        // The value after it continues from the doubt (102): 9 000 was the glitch.
        e.update(0, 3_603, 103, &mut log);
        assert!(e.settled());
        assert_eq!(
            log.0,
            [
                "0: 100 confirmed",
                "0: 100→101 credited",
                "0: [1,3602] left out (Jump)",
                "0: 101→102 credited",
            ]
        );
        // The other way: the value after the doubt continues from the candidate.
        let mut e = Engine::new();
        e.set_power(6_000);
        let mut log = Log::default();
        for (t, v) in [
            (0, 100),
            (1, 101),
            (3_601, 9_000),
            (3_602, 102),
            (3_603, 9_001),
        ] {
            e.update(0, t, v, &mut log);
        }
        e.settle(0, &mut log);
        assert_eq!(
            log.0,
            [
                "0: 100 confirmed",
                "0: 100→101 credited",
                "0: [3601,3603] left out (Reset)",
                "0: 101→9000 credited",
                "0: 9000→9001 credited kept",
            ]
        );
    }

    #[test]
    fn power_known_good_restart_and_indexes_apart() {
        // Without a subscribed power, 36 kVA: 46 Wh in a second.
        let mut e = Engine::new();
        let mut log = Log::default();
        for (t, v) in [(0, 100), (1, 146), (2, 147)] {
            e.update(0, t, v, &mut log);
        }
        assert_eq!(e.confirmed(0), Some((1, 146)));
        assert_eq!(e.power_va(), DEFAULT_POWER_VA);
        e.set_power(0);
        assert_eq!(e.power_va(), DEFAULT_POWER_VA, "not a power");
        e.set_power(3_000);
        assert_eq!(e.power_va(), 3_000);
        // Indexes are apart, an index out of range is ignored.
        e.update(1, 0, 7, &mut log);
        e.update(N_ENERGY, 0, 7, &mut log);
        assert_eq!(e.confirmed(1), None);
        // A value known good confirms the candidate.
        e.known_good(0, 3, 148, &mut log);
        assert_eq!(e.confirmed(0), Some((2, 147)));
        let events = e.events();
        e.restart(&mut log);
        assert_eq!(e.events(), events + 1);
        assert_eq!(e.confirmed(0), None, "the new meter starts afresh");
        assert!(
            log.0.contains(&"1: 7 confirmed kept".to_owned()),
            "{:?}",
            log.0
        );
        assert!(e.settled());
    }
}
