//! The guard engine: which steps of an energy index are credited, and which are left out and
//! flagged (sans IO, no periods: what it decides goes to a [`Verdict`]).
//!
//! The rules are the module doc's *Guards* ([`super`]): a decrease or a zero after a non-zero
//! value (`index_reset`), a rise above what the subscribed power allows (`implausible_jump`)
//! and a meter change (`meter_changed`) leave their step out. A value is credited only once
//! the next one has spoken: the engine holds, per index, the last confirmed value (the
//! *reference*), the value waiting for confirmation (the *candidate*) and, when a value
//! contradicts the candidate while continuing from the reference, that value (the *doubt*).

use super::index::{allowed_wh, DEFAULT_POWER_VA};
use super::table::Flags;
use super::N_ENERGY;

/// What the guards decide, for whoever accumulates consumption.
pub(crate) trait Verdict {
    /// The step of index `k` from `(ta, va)` to `(tb, vb)` is credited (`vb ≥ va`).
    fn credit(&mut self, k: usize, from: (i64, i64), to: (i64, i64));
    /// A step left out spans `[ta, tb]`.
    fn flag_span(&mut self, ta: i64, tb: i64, f: Flags);
    /// An event at `t` (a zero ignored, a meter change).
    fn flag_at(&mut self, t: i64, f: Flags);
}

#[derive(Clone, Copy, Debug, Default)]
struct LabelState {
    /// The last confirmed value: consumption is credited up to it.
    reference: Option<(i64, i64)>,
    /// The last value, waiting for the next one to confirm it.
    candidate: Option<(i64, i64)>,
    /// The step from `reference` to `candidate` passed the guards when the candidate came
    /// (with the power then in force), or there is no reference.
    candidate_ok: bool,
    /// A value that contradicts the candidate but continues from the reference: the next
    /// value tells which of the two is the glitch.
    doubt: Option<(i64, i64)>,
}

/// The guards' state for every energy index (sans IO).
#[derive(Clone, Debug)]
pub(crate) struct Guards {
    labels: [LabelState; N_ENERGY],
    /// The subscribed power in force (VA), once the data has said it.
    power_va: Option<i64>,
    /// Guard events so far (index resets, implausible jumps, meter changes).
    events: u64,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards {
            labels: [LabelState::default(); N_ENERGY],
            power_va: None,
            events: 0,
        }
    }
}

impl Guards {
    /// Guard events so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The subscribed power in force, VA.
    pub fn power_va(&self) -> i64 {
        self.power_va.unwrap_or(DEFAULT_POWER_VA)
    }

    /// The data says the subscribed power is `p` VA.
    pub fn set_power(&mut self, p: i64) {
        self.power_va = Some(p);
    }

    fn span(&mut self, out: &mut impl Verdict, ta: i64, tb: i64, f: Flags) {
        self.events += 1;
        out.flag_span(ta, tb, f);
    }

    fn at(&mut self, out: &mut impl Verdict, t: i64, f: Flags) {
        self.events += 1;
        out.flag_at(t, f);
    }

    /// The meter changed at `t` (its last record before was at `from`): flags the periods
    /// the step between them spans (it is left out), settles every index, and every index
    /// restarts from the new meter's first value.
    pub fn meter_changed(&mut self, from: i64, t: i64, out: &mut impl Verdict) {
        self.span(out, from, t, Flags::METER_CHANGED);
        for k in 0..N_ENERGY {
            self.settle(k, out);
            let s = &mut self.labels[k];
            s.reference = None;
            s.candidate = None;
            s.candidate_ok = false;
        }
    }

    fn plausible(&self, (ta, va): (i64, i64), (tb, vb): (i64, i64)) -> bool {
        vb >= va
            && i128::from(vb) - i128::from(va) <= allowed_wh(self.power_va(), tb.saturating_sub(ta))
    }

    /// Whether every index's last value is settled (no glitch pending a decision).
    pub fn settled(&self) -> bool {
        self.labels
            .iter()
            .all(|s| s.doubt.is_none() && (s.candidate.is_none() || s.candidate_ok))
    }

    /// A value known to pass the guards (a clean day's summary): confirms the candidate and
    /// takes `(t, v)` as the next one.
    pub fn known_good(&mut self, k: usize, t: i64, v: i64, out: &mut impl Verdict) {
        self.confirm(k, out);
        let s = &mut self.labels[k];
        s.candidate = Some((t, v));
        s.candidate_ok = true;
    }

    /// Confirms the candidate of `k`: credits the step to it and makes it the reference.
    fn confirm(&mut self, k: usize, out: &mut impl Verdict) {
        let s = &mut self.labels[k];
        let Some(c) = s.candidate.take() else {
            return;
        };
        if let Some(r) = s.reference {
            out.credit(k, r, c);
        }
        s.reference = Some(c);
    }

    /// At the end of the data (or of a meter): a doubt is resolved for the candidate, and a
    /// candidate that passed the guards is confirmed; one that did not is left out.
    pub fn settle(&mut self, k: usize, out: &mut impl Verdict) {
        let s = &mut self.labels[k];
        let (reference, candidate, ok, doubt) =
            (s.reference, s.candidate, s.candidate_ok, s.doubt.take());
        let Some(c) = candidate else {
            return;
        };
        if let Some(d) = doubt {
            self.span(out, c.0, d.0, guard_flag(c.1, d.1));
        }
        if ok {
            self.confirm(k, out);
        } else {
            if let Some(r) = reference {
                self.span(out, r.0, c.0, guard_flag(r.1, c.1));
            }
            self.labels[k].candidate = None;
        }
    }

    /// The next value `v` of index `k` at `t` (see the module doc).
    pub fn update(&mut self, k: usize, t: i64, v: i64, out: &mut impl Verdict) {
        let n = (t, v);
        let s = &self.labels[k];
        let known_nonzero = [s.reference, s.candidate, s.doubt]
            .iter()
            .flatten()
            .any(|x| x.1 > 0);
        if v == 0 && known_nonzero {
            self.at(out, t, Flags::INDEX_RESET);
            return;
        }
        let reference = s.reference;
        // A doubt: the candidate `c` and the doubt `d` disagree, both continue from the
        // reference. `n` continuing from `d` and not from `c` says `c` was the glitch;
        // otherwise `d` was.
        if let (Some(c), Some(d)) = (s.candidate, s.doubt) {
            self.labels[k].doubt = None;
            if !self.plausible(c, n) && self.plausible(d, n) {
                let (from, f) = match reference {
                    Some(r) => (r.0, Flags::IMPLAUSIBLE_JUMP),
                    None => (c.0, guard_flag(c.1, d.1)),
                };
                self.span(out, from, d.0, f);
                let s = &mut self.labels[k];
                s.candidate = Some(d);
                s.candidate_ok = true;
            } else {
                self.span(out, c.0, t, guard_flag(c.1, d.1));
            }
        }
        let s = &self.labels[k];
        let (candidate, ok) = (s.candidate, s.candidate_ok);
        let Some(c) = candidate else {
            let ok = reference.is_none_or(|r| self.plausible(r, n));
            let s = &mut self.labels[k];
            s.candidate = Some(n);
            s.candidate_ok = ok;
            return;
        };
        let cn = self.plausible(c, n);
        let rn = reference.is_none_or(|r| self.plausible(r, n));
        match reference {
            // No reference yet: a zero is never the starting value.
            None if c.1 == 0 && v > 0 => {
                self.span(out, c.0, t, Flags::INDEX_RESET);
                self.labels[k].candidate = Some(n);
                self.labels[k].candidate_ok = true;
                return;
            }
            Some(r) if !ok => {
                if rn {
                    // `c` was a glitch.
                    self.span(out, r.0, t, guard_flag(r.1, c.1));
                    let s = &mut self.labels[k];
                    s.candidate = Some(n);
                    s.candidate_ok = true;
                } else if cn {
                    // `c` is the new baseline; the step to it is left out.
                    let s = &mut self.labels[k];
                    s.reference = Some(c);
                    s.candidate = Some(n);
                    s.candidate_ok = true;
                    self.span(out, r.0, c.0, guard_flag(r.1, c.1));
                } else {
                    self.span(out, r.0, t, guard_flag(r.1, c.1));
                    let s = &mut self.labels[k];
                    s.candidate = Some(n);
                    s.candidate_ok = false;
                }
                return;
            }
            _ => {}
        }
        if cn {
            self.confirm(k, out);
            let s = &mut self.labels[k];
            s.candidate = Some(n);
            s.candidate_ok = true;
        } else if rn {
            self.labels[k].doubt = Some(n);
        } else {
            self.confirm(k, out);
            let s = &mut self.labels[k];
            s.candidate = Some(n);
            s.candidate_ok = false;
        }
    }
}

/// The flag of a step `a → b` that fails the guards.
fn guard_flag(a: i64, b: i64) -> Flags {
    if b < a {
        Flags::INDEX_RESET
    } else {
        Flags::IMPLAUSIBLE_JUMP
    }
}
