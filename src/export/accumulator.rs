//! From records to per-period consumption: the sans-IO [`Accumulator`]. It feeds each index's
//! values to the plausibility engine ([`crate::tic::plausible`]) and interpolates the
//! confirmed steps it credits at the period boundaries (and at any *probes*: instants where the cost engine wants every
//! index); it counts the records, the covered seconds and the longest gap of every period.

use super::index::DaySummary;
use super::order::Fed;
use super::reader::Reading;
use super::table::{Flags, Row, Table};
use super::tariff::Tariffs;
use super::{MAX_COVERED_GAP_S, N_ENERGY};
use crate::tic::plausible::{Decisions, Engine, Fault, Point};

/// Credited consumption of one index, interpolated at a list of instants.
#[derive(Clone, Debug, Default)]
struct Credited {
    /// Consumption credited so far.
    cum: i64,
    /// Credited consumption at each instant (valid below `filled`).
    at: Vec<i64>,
    filled: usize,
}

/// The credited consumption of every index at increasing instants (interpolation rule of
/// the module doc).
#[derive(Clone, Debug)]
struct Credits {
    instants: Vec<i64>,
    labels: Vec<Credited>,
}

impl Credits {
    fn new(instants: Vec<i64>) -> Credits {
        let state = Credited {
            at: vec![0; instants.len()],
            ..Credited::default()
        };
        Credits {
            labels: vec![state; N_ENERGY],
            instants,
        }
    }

    /// Credits the step `(ta, va) → (tb, vb)` of label `k`, interpolating the instants in
    /// `(ta, tb]`.
    fn credit(&mut self, k: usize, (ta, va): (i64, i64), (tb, vb): (i64, i64)) {
        let s = &mut self.labels[k];
        let d = vb.saturating_sub(va);
        let n = self.instants.len();
        while s.filled < n && self.instants[s.filled] <= ta {
            s.at[s.filled] = s.cum;
            s.filled += 1;
        }
        while s.filled < n && self.instants[s.filled] <= tb {
            let b = self.instants[s.filled];
            let num = 2 * i128::from(d) * i128::from(b - ta) + i128::from(tb - ta);
            let part = num / (2 * i128::from(tb - ta));
            s.at[s.filled] = s.cum.saturating_add(i64::try_from(part).unwrap_or(d));
            s.filled += 1;
        }
        s.cum = s.cum.saturating_add(d);
    }

    /// At the end of the data: the instants left hold the consumption credited.
    fn fill(&mut self) {
        let n = self.instants.len();
        for s in &mut self.labels {
            while s.filled < n {
                s.at[s.filled] = s.cum;
                s.filled += 1;
            }
        }
    }
}

/// The credited consumption of every index at each probe of [`super::export_probed`]:
/// from the start of the data read (the days read before the range included), Wh, by the
/// interpolation rule. The consumption between two probes is the difference.
#[derive(Clone, Debug)]
pub struct Probed {
    credits: Credits,
}

impl Probed {
    /// The probes, increasing.
    pub fn instants(&self) -> &[i64] {
        &self.credits.instants
    }

    /// The consumption of index `k` (position in [`super::ENERGY_LABELS`]) credited up to
    /// probe `t`; `None` when `t` is not a probe.
    pub fn credited(&self, k: usize, t: i64) -> Option<i64> {
        let i = self.credits.instants.binary_search(&t).ok()?;
        self.credits.labels.get(k)?.at.get(i).copied()
    }

    /// The consumption of the indexes `labels` between probes `a` and `b`.
    pub fn between(&self, labels: &[usize], a: i64, b: i64) -> Option<i64> {
        let mut sum = 0i64;
        for &k in labels {
            sum = sum.saturating_add(self.credited(k, b)? - self.credited(k, a)?);
        }
        Some(sum)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    records: u64,
    covered: i64,
    max_gap: i64,
    flags: Flags,
    /// Times of the period's first and last records.
    first: Option<i64>,
    last: Option<i64>,
}

impl Stats {
    fn record_at(&mut self, t: i64) {
        self.first.get_or_insert(t);
        self.last = Some(t);
    }
}

/// Who a period's records say they are: the meter (ADSC/ADCO) and the contract name
/// (NGTF/OPTARIF) of its last record that carried them (of the last period before, for a
/// period without).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// ADSC or ADCO; empty when no record said.
    pub meter: String,
    /// NGTF or OPTARIF, as recorded; empty when no record said.
    pub contract: String,
}

/// The periods: their boundaries, quality and the credited consumption at each boundary;
/// and the probes.
struct Periods {
    bounds: Vec<i64>,
    stats: Vec<Stats>,
    credits: Credits,
    probes: Option<Credits>,
}

impl Periods {
    fn n(&self) -> usize {
        self.stats.len()
    }

    fn period_of(&self, t: i64) -> Option<usize> {
        let (first, last) = (*self.bounds.first()?, *self.bounds.last()?);
        if t < first || t >= last {
            return None;
        }
        Some(self.bounds.partition_point(|&b| b <= t) - 1)
    }

    /// Calls `f` with the stats of each period `(ta, tb)` overlaps, and the length of the
    /// overlap (> 0).
    fn each_part(&mut self, ta: i64, tb: i64, mut f: impl FnMut(&mut Stats, i64)) {
        let n = self.n();
        let mut i = self.period_of(ta).unwrap_or(0);
        if self.bounds.first().is_some_and(|&b| ta < b) {
            i = 0;
        }
        while i < n && self.bounds[i] < tb {
            let seg = tb.min(self.bounds[i + 1]) - ta.max(self.bounds[i]);
            if seg > 0 {
                f(&mut self.stats[i], seg);
            }
            i += 1;
        }
    }

    /// The longest stretch without a record: `(ta, tb)`'s part in each period, for a stretch
    /// accounted in pieces (near an edge, [`Periods::stretch`] covers the part within
    /// [`MAX_COVERED_GAP_S`] of a record apart from the rest; the gap is the whole).
    fn gap(&mut self, ta: i64, tb: i64) {
        self.each_part(ta, tb, |s, seg| s.max_gap = s.max_gap.max(seg));
    }

    /// Accounts the stretch `(ta, tb)` between two consecutive records (or a data edge).
    fn stretch(&mut self, ta: i64, tb: i64, covered: bool, edge: bool) {
        self.each_part(ta, tb, |s, seg| {
            if covered {
                s.covered += seg;
            }
            s.max_gap = s.max_gap.max(seg);
            if edge {
                s.flags.insert(Flags::PARTIAL);
            } else if !covered {
                s.flags.insert(Flags::GAP);
            }
        });
    }
}

/// The export's policy over the plausibility engine: a confirmed step is credited to the
/// periods it spans; a step left out credits nothing and flags every period it touches
/// (`index_reset`, `implausible_jump`), a zero ignored the period it falls in.
impl Decisions for Periods {
    fn confirmed(&mut self, k: usize, from: Option<Point>, to: Point, _by_next: bool) {
        if let Some(from) = from {
            self.credits.credit(k, from, to);
            if let Some(p) = &mut self.probes {
                p.credit(k, from, to);
            }
        }
    }

    fn left_out(&mut self, _k: usize, ta: i64, tb: i64, fault: Fault) {
        let f = match fault {
            Fault::Reset => Flags::INDEX_RESET,
            Fault::Jump => Flags::IMPLAUSIBLE_JUMP,
        };
        self.flag_span(ta, tb, f);
    }

    fn zero(&mut self, _k: usize, t: i64) {
        self.flag_at(t, Flags::INDEX_RESET);
    }
}

impl Periods {
    /// Flags every period the step `[ta, tb]` touches (those with a boundary in `(ta, tb]`
    /// or lying inside it).
    fn flag_span(&mut self, ta: i64, tb: i64, f: Flags) {
        let (lo, hi) = (ta.min(tb), ta.max(tb));
        let last = self.bounds.len().saturating_sub(1);
        for i in 0..last {
            if self.bounds[i] <= hi && self.bounds[i + 1] > lo {
                self.stats[i].flags.insert(f);
            }
        }
    }

    /// Flags the period holding `t`; none outside the range (an event after it is flagged
    /// by the export of the period it lies in, so that a period's flags do not depend on the
    /// range asked).
    fn flag_at(&mut self, t: i64, f: Flags) {
        if let Some(i) = self.period_of(t) {
            self.stats[i].flags.insert(f);
        }
    }
}

/// Turns records, fed in time order, into per-period consumption (sans IO).
pub struct Accumulator {
    guards: Engine,
    periods: Periods,
    meter: String,
    first: Option<i64>,
    last: Option<i64>,
    tariffs: Tariffs,
    /// The last contract name (NGTF/OPTARIF) learned.
    contract: String,
    /// The identity of each period, when asked for ([`Accumulator::with_identities`]), and
    /// the last one seen.
    ids: Option<(Vec<Identity>, Identity)>,
}

impl Accumulator {
    /// An accumulator for the periods between consecutive `bounds` (at least two, increasing).
    #[cfg(test)]
    pub fn new(bounds: Vec<i64>) -> Accumulator {
        Accumulator::with_probes(bounds, Vec::new())
    }

    /// [`Accumulator::new`], also interpolating every index at `probes` (any instants; sorted
    /// and deduplicated here).
    pub fn with_probes(bounds: Vec<i64>, mut probes: Vec<i64>) -> Accumulator {
        let n = bounds.len().saturating_sub(1);
        probes.sort_unstable();
        probes.dedup();
        Accumulator {
            guards: Engine::new(),
            periods: Periods {
                stats: vec![Stats::default(); n],
                credits: Credits::new(bounds.clone()),
                probes: (!probes.is_empty()).then(|| Credits::new(probes)),
                bounds,
            },
            meter: String::new(),
            first: None,
            last: None,
            tariffs: Tariffs::default(),
            contract: String::new(),
            ids: None,
        }
    }

    /// Also keeps each period's [`Identity`] (read back with [`Accumulator::finish_all`]).
    pub fn with_identities(mut self) -> Accumulator {
        self.ids = Some((
            vec![Identity::default(); self.periods.n()],
            Identity::default(),
        ));
        self
    }

    /// A row was skipped for being out of order (see [`super::order::InOrder`]).
    pub fn out_of_order(&mut self, t: i64) {
        self.periods.flag_at(t, Flags::OUT_OF_ORDER);
    }

    /// Damaged rows were skipped at `t`: flags the period holding `t` (none outside the range).
    pub fn damaged(&mut self, t: i64) {
        if let Some(i) = self.periods.period_of(t) {
            self.periods.stats[i].flags.insert(Flags::DAMAGED_ROWS);
        }
    }

    /// Feeds a record, or flags a row skipped for being out of order or damaged.
    pub fn take(&mut self, f: Fed<'_>) {
        match f {
            Fed::Rec(r) => self.feed(r),
            Fed::OutOfOrder(t) => self.out_of_order(t),
            Fed::Damaged(t) => self.damaged(t),
        }
    }

    /// Feeds the next record; records not after the previous one are ignored.
    pub fn feed(&mut self, rec: &Reading) {
        let t = rec.time;
        match self.last {
            Some(l) if t <= l => return,
            Some(l) => self
                .periods
                .stretch(l, t, t - l <= MAX_COVERED_GAP_S, false),
            None => self.first = Some(t),
        }
        let period = self.periods.period_of(t);
        if let Some(i) = period {
            let s = &mut self.periods.stats[i];
            s.records += 1;
            s.record_at(t);
        }
        if let Some((ids, seen)) = &mut self.ids {
            if !rec.meter.is_empty() && seen.meter != rec.meter {
                seen.meter.clone_from(&rec.meter);
            }
            if !rec.contract.is_empty() && seen.contract != rec.contract {
                seen.contract.clone_from(&rec.contract);
            }
            if let Some(i) = period {
                if ids[i] != *seen {
                    ids[i].clone_from(seen);
                }
            }
        }
        if !rec.meter.is_empty() && self.meter != rec.meter {
            if !self.meter.is_empty() {
                // The step from the old meter's last record is left out: every period it
                // spans is flagged.
                let from = self.last.unwrap_or(t);
                self.periods.flag_span(from, t, Flags::METER_CHANGED);
                self.guards.restart(&mut self.periods);
            }
            self.meter.clone_from(&rec.meter);
        }
        if let Some(p) = rec.power_va.filter(|&p| p > 0) {
            self.guards.set_power(p);
        }
        if let Some(n) = rec.ntarf {
            self.tariffs.learn(n, &rec.tariff);
        }
        if !rec.contract.is_empty() && self.contract != rec.contract {
            self.tariffs.learn_contract(&rec.contract);
            self.contract.clone_from(&rec.contract);
        }
        for k in 0..N_ENERGY {
            if let Some(v) = rec.energy[k] {
                self.guards.update(k, t, v, &mut self.periods);
            }
        }
        self.last = Some(t);
    }

    /// Feeds a day from its summary, exactly as feeding its records would, when that is
    /// possible: the summary is clean, its first record is after the last one fed and passes
    /// the guards against the state so far, the subscribed power in force allows the steps
    /// before the day's first power value, the meter is the same, and every probe inside the
    /// day lies between two records the summary holds that follow each other (at a whole
    /// hour, or in the minute of a switch the summary marked). Periods must be made of whole
    /// UTC hours (no boundary inside an hour: an hour's records then all fall in one period).
    /// Returns `false` when the day must be read in full: the records fed so far (at most the
    /// first) are then ignored as not after the last one.
    pub fn feed_summary(&mut self, day: &DaySummary) -> bool {
        if !day.clean {
            return false;
        }
        let Some(first) = &day.first else {
            return true;
        };
        if self.last.is_some_and(|l| first.time <= l) {
            return false;
        }
        let points = day.points();
        if !self.probes_bracketed(&points) {
            return false;
        }
        let events = self.guards.events();
        self.feed(first);
        let meter_ok = day.meter.is_empty() || self.meter.is_empty() || day.meter == self.meter;
        let power = self.guards.power_va();
        if self.guards.events() != events
            || !meter_ok
            || power < day.need_va
            || !self.guards.settled()
        {
            return false;
        }
        // Quality, hour by hour: an hour's records all lie in one period.
        for (j, h) in day.hours.iter().enumerate() {
            if j > 0 {
                let l = day.hours[j - 1].last_t;
                self.periods
                    .stretch(l, h.first_t, h.first_t - l <= MAX_COVERED_GAP_S, false);
            }
            if let Some(i) = self.periods.period_of(h.first_t) {
                let s = &mut self.periods.stats[i];
                // The day's first record was fed (and counted) above.
                s.records += h.rows - u64::from(j == 0);
                s.covered += h.covered;
                s.max_gap = s.max_gap.max(h.max_gap);
                if h.max_gap > MAX_COVERED_GAP_S {
                    s.flags.insert(Flags::GAP);
                }
                s.record_at(h.first_t);
                s.last = Some(h.last_t);
            }
        }
        // Energy: every record the summary holds, known to pass the guards.
        for p in points.iter().skip(1) {
            for (k, v) in p.energy.iter().enumerate() {
                if let Some(v) = *v {
                    self.guards.known_good(k, p.t, v, &mut self.periods);
                }
            }
            self.last = Some(p.t);
        }
        if let Some(p) = day.power {
            self.guards.set_power(p);
        }
        if !day.meter.is_empty() {
            self.meter.clone_from(&day.meter);
        }
        for (n, l) in &day.tariffs {
            self.tariffs.learn(*n, l);
        }
        if !day.facts.contract.is_empty() && self.contract != day.facts.contract {
            self.tariffs.learn_contract(&day.facts.contract);
            self.contract.clone_from(&day.facts.contract);
        }
        if let Some((ids, seen)) = &mut self.ids {
            // A clean day has one meter; its contract is the last one it named.
            if !day.meter.is_empty() {
                seen.meter.clone_from(&day.meter);
            }
            if !day.facts.contract.is_empty() {
                seen.contract.clone_from(&day.facts.contract);
            }
            for h in &day.hours {
                if let Some(i) = self.periods.period_of(h.first_t) {
                    ids[i].clone_from(seen);
                }
            }
        }
        true
    }

    /// Whether every probe inside the day (after its first record, up to its last) lies
    /// between two of its `points` that follow each other.
    fn probes_bracketed(&self, points: &[super::index::Point<'_>]) -> bool {
        let (Some(p), Some(first), Some(last)) =
            (&self.periods.probes, points.first(), points.last())
        else {
            return true;
        };
        let probes = &p.instants;
        let lo = probes.partition_point(|&x| x <= first.t);
        let hi = probes.partition_point(|&x| x <= last.t);
        probes[lo..hi].iter().all(|&x| {
            let i = points.partition_point(|q| q.t < x);
            points.get(i).is_some_and(|q| q.direct)
        })
    }

    /// The rows; `present` lists the labels in the files read; `quality` fills the quality
    /// columns.
    #[cfg(test)]
    pub fn finish(self, present: &[usize], quality: bool) -> Table {
        self.finish_probed(present, quality).0
    }

    /// [`Accumulator::finish`], and the consumption at the probes (`None` without probes).
    pub fn finish_probed(self, present: &[usize], quality: bool) -> (Table, Option<Probed>) {
        let (table, probed, _) = self.finish_all(present, quality);
        (table, probed)
    }

    /// [`Accumulator::finish_probed`], and the identity of every period (empty unless asked
    /// for with [`Accumulator::with_identities`]): a period without a record has the one of
    /// the last period before it that had one (or of the records read before the range; the
    /// periods before the first record, that of the first).
    pub fn finish_all(
        mut self,
        present: &[usize],
        quality: bool,
    ) -> (Table, Option<Probed>, Vec<Identity>) {
        let ids = self.ids.take().map(|(mut ids, _)| {
            let mut carried = Identity::default();
            for (id, st) in ids.iter_mut().zip(&self.periods.stats) {
                if st.records > 0 || *id != Identity::default() {
                    carried.clone_from(id);
                } else {
                    id.clone_from(&carried);
                }
            }
            // Periods before the first record read: the first identity there is.
            if let Some(first) = ids.iter().find(|id| **id != Identity::default()).cloned() {
                for id in ids.iter_mut().take_while(|id| **id == Identity::default()) {
                    id.clone_from(&first);
                }
            }
            ids
        });
        let p = &mut self.periods;
        let (b0, bn) = match (p.bounds.first(), p.bounds.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        match (self.first, self.last) {
            (Some(f), Some(l)) => {
                // A record within MAX_COVERED_GAP_S of an edge covers the stretch to it (a
                // one-minute day whose last record is 23:59 is whole); further, `partial`.
                if f > b0 {
                    let near = (f - MAX_COVERED_GAP_S).max(b0);
                    if near > b0 {
                        p.stretch(b0, near, false, true);
                    }
                    p.stretch(near, f, true, false);
                    p.gap(b0, f);
                }
                if l < bn {
                    let near = (l + MAX_COVERED_GAP_S).min(bn);
                    p.stretch(l, near, true, false);
                    if near < bn {
                        p.stretch(near, bn, false, true);
                    }
                    p.gap(l, bn);
                }
            }
            _ => p.stretch(b0, bn, false, true),
        }
        for k in 0..N_ENERGY {
            self.guards.settle(k, p);
        }
        p.credits.fill();
        if let Some(c) = &mut p.probes {
            c.fill();
        }
        let span = recorded_days(self.first, self.last);
        let mut rows = Vec::with_capacity(p.n());
        for (i, st) in p.stats.iter().enumerate() {
            let (start, end) = (p.bounds[i], p.bounds[i + 1]);
            let mut wh = [None; N_ENERGY];
            // A period wholly outside the recorded days has no data: no Wh, not 0.
            let measured = span.is_some_and(|(a, b)| end > a && start < b);
            for &k in present.iter().filter(|_| measured) {
                let s = &p.credits.labels[k];
                wh[k] = Some(s.at[i + 1] - s.at[i]);
            }
            rows.push(Row {
                start,
                end,
                wh,
                records: quality.then_some(st.records),
                coverage: quality.then(|| st.covered as f64 / (end - start) as f64),
                max_gap_s: quality.then_some(st.max_gap),
                first_record: st.first.filter(|_| quality),
                last_record: st.last.filter(|_| quality),
                flags: st.flags,
            });
        }
        let mut last = [None; N_ENERGY];
        for (k, l) in last.iter_mut().enumerate() {
            *l = self.guards.confirmed(k);
        }
        let table = Table {
            labels: present.to_vec(),
            tariffs: self.tariffs,
            rows,
            last,
        };
        let probed = p.probes.take().map(|credits| Probed { credits });
        (table, probed, ids.unwrap_or_default())
    }
}

/// The recorded days: from the local midnight that starts the first record's day to the one
/// that ends the last record's day (Unix seconds), or `None` without a record. Inside, a
/// period's consumption is interpolated or held at the edge record (`partial`); a period
/// wholly outside has none.
pub(crate) fn recorded_days(first: Option<i64>, last: Option<i64>) -> Option<(i64, i64)> {
    let day = crate::store::local_day;
    let start = super::periods::midnight(day(first?)?).ok()?;
    let end = super::periods::midnight(day(last?)?.succ_opt()?).ok()?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::index::{Builder, DaySummary};

    fn rec(t: i64, east: i64) -> Reading {
        let mut r = Reading {
            time: t,
            ..Reading::default()
        };
        r.energy[0] = Some(east);
        r.power_va = Some(6000);
        r
    }

    fn run(bounds: Vec<i64>, recs: &[Reading]) -> Table {
        let mut a = Accumulator::new(bounds);
        for r in recs {
            a.feed(r);
        }
        a.finish(&[0], true)
    }

    fn east(t: &Table) -> Vec<i64> {
        t.rows.iter().map(|r| r.wh[0].unwrap_or(-1)).collect()
    }

    #[test]
    fn interpolation_and_edges() {
        // Boundaries at 0, 100, 200; records at 50 (v=1000) and 150 (v=1100) and 250 (1101).
        let t = run(
            vec![0, 100, 200],
            &[rec(50, 1000), rec(150, 1100), rec(250, 1101)],
        );
        assert_eq!(east(&t), vec![50, 51]);
        // The first record 50 s after the start covers it: one notion of complete.
        assert_eq!(t.rows[0].flags, Flags::default());
        assert_eq!(t.rows[1].flags, Flags::default());
        assert_eq!(t.rows[0].records, Some(1));
        assert_eq!(t.rows[0].max_gap_s, Some(50));
        assert_eq!(t.rows[0].coverage, Some(1.0));
        // Records further from the edges than MAX_COVERED_GAP_S (960 s): partial, and the
        // stretch within 960 s of a record still covered; a gap inside: `gap`.
        let t = run(
            vec![0, 2000, 4000, 6000],
            &[
                rec(1500, 1000),
                rec(2100, 1010),
                rec(4000, 1040),
                rec(4100, 1041),
            ],
        );
        assert_eq!(t.rows[0].flags, Flags::PARTIAL);
        assert_eq!(t.rows[0].coverage, Some((2000.0 - 540.0) / 2000.0));
        assert_eq!(t.rows[1].flags, Flags::GAP);
        assert_eq!(t.rows[1].coverage, Some(100.0 / 2000.0));
        assert_eq!(t.rows[2].flags, Flags::PARTIAL);
        assert_eq!(t.rows[2].coverage, Some((100.0 + 960.0) / 2000.0));
        // The longest stretch without a record is the whole one to the edge, not its parts
        // (as the periods dataset's hours, summed, say it).
        assert_eq!(t.rows[0].max_gap_s, Some(1500));
        assert_eq!(t.rows[2].max_gap_s, Some(1900));
        assert_eq!(Flags::GAP.names(), "gap");
    }

    #[test]
    fn guards() {
        let b = vec![0, 1000, 2000, 3000];
        // zero glitch, then a reset to a lower value, then a glitch high, then meter change.
        let mut recs = vec![rec(0, 5000), rec(10, 5001), rec(20, 0), rec(30, 5003)];
        recs.extend([rec(1000, 5100), rec(1010, 7), rec(1020, 9), rec(1030, 12)]);
        recs.extend([
            rec(2000, 50),
            rec(2010, 999_999),
            rec(2020, 52),
            rec(2030, 53),
        ]);
        let t = run(b.clone(), &recs);
        assert_eq!(east(&t), vec![100, 5 + 38, 3]);
        // 970 s without a record between 30 and 1000, and 1030 and 2000: gaps; the last
        // record 970 s before the end: partial.
        assert_eq!(t.rows[0].flags, Flags::INDEX_RESET | Flags::GAP);
        assert_eq!(t.rows[1].flags, Flags::INDEX_RESET | Flags::GAP);
        assert_eq!(t.rows[2].flags, Flags::IMPLAUSIBLE_JUMP | Flags::PARTIAL);
        let mut m = vec![rec(0, 100), rec(500, 200)];
        let mut r = rec(600, 3);
        r.meter = "B".into();
        m[0].meter = "A".into();
        m[1].meter = "A".into();
        m.push(r.clone());
        r.time = 1000;
        r.energy[0] = Some(10);
        m.push(r);
        let t = run(vec![0, 1000], &m);
        assert_eq!(east(&t), vec![107]);
        assert_eq!(t.rows[0].flags, Flags::METER_CHANGED);
    }

    /// Random records (gaps of every length, duplicate times, missing power, glitches of every
    /// kind, meter changes, tariff changes; by seed: steps only a higher power allows before
    /// the day's first power value, a new meter unknown for the day's first minutes, a new
    /// baseline at each day's first record, days overlapping the previous one) fed whole or,
    /// day by day, from their summaries when `feed_summary` accepts them: the same table for
    /// hour-aligned boundaries. Each of `feed_summary`'s checks is needed for some seed.
    #[test]
    fn summaries_feed_exactly_what_the_records_feed() {
        let mut all_used = 0;
        for seed in 0..300u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let t0 = 1_767_222_000; // a whole hour
            let (mut t, mut v) = (t0 + rng.i64(0..600), [1000i64, 500, 0]);
            let mut recs = Vec::new();
            let mut meter = "A";
            while t < t0 + 3 * 86_400 {
                // Some seeds: a new meter every day, unknown for the day's first minutes.
                let day_start = t.rem_euclid(86_400) < 600;
                if seed % 4 == 1
                    && day_start
                    && recs.last().is_some_and(|p: &Reading| p.meter == meter)
                {
                    meter = if meter == "A" { "B" } else { "A" };
                }
                let mut r = Reading {
                    time: t,
                    meter: if seed % 4 == 1 && day_start {
                        ""
                    } else {
                        meter
                    }
                    .into(),
                    ..Reading::default()
                };
                // Some seeds: no power value early in each day, and steps only a power
                // above the previous day's allows.
                // Some seeds: EAST restarts lower at every day's first record (a new baseline).
                if seed % 4 == 2
                    && recs
                        .last()
                        .is_some_and(|p: &Reading| p.time / 86_400 != t / 86_400)
                {
                    v[0] -= 100;
                }
                let early = seed % 4 == 0 && t.rem_euclid(86_400) < 6 * 3600;
                for x in &mut v {
                    *x += rng.i64(0..if early { 6 } else { 3 });
                }
                r.energy[0] = Some(v[0]);
                r.energy[1] = Some(v[1]);
                if !early && rng.u8(..) < 200 {
                    r.power_va = Some(if seed % 4 == 0 || rng.bool() {
                        3000
                    } else {
                        6000
                    });
                }
                match rng.u32(0..[2000, 30_000, 300_000][seed as usize % 3]) {
                    0 => r.energy[0] = Some(0),
                    1 => r.energy[0] = Some(v[0] - 5),
                    2 => r.energy[1] = Some(v[1] + 100_000),
                    3 => r.energy[1] = None,
                    4 => {
                        meter = if meter == "A" { "B" } else { "A" };
                        r.meter = meter.into();
                    }
                    5..=30 => {
                        r.ntarf = Some(rng.u8(0..12));
                        r.tariff = ["HC BLEU", "HP ROUGE", ""][rng.usize(0..3)].into();
                    }
                    _ => {}
                }
                recs.push(r);
                t += match rng.u32(0..1000) {
                    0..=4 => rng.i64(300..20_000),
                    5..=9 => 0,
                    _ => rng.i64(1..60),
                };
            }
            let mut bounds = vec![t0 - 3600 * rng.i64(0..3)];
            while let Some(&b) = bounds.last().filter(|&&b| b < t0 + 3 * 86_400) {
                bounds.push(b + 3600 * rng.i64(1..30));
            }
            let present = [0, 1];
            // The chunks (days) of the stream; some seeds repeat the end of the previous
            // chunk at the start of the next (overlapping files).
            let mut chunks: Vec<Vec<Reading>> = Vec::new();
            for r in recs {
                match chunks.last_mut() {
                    Some(c) if c[0].time.div_euclid(86_400) == r.time.div_euclid(86_400) => {
                        c.push(r)
                    }
                    _ => chunks.push(vec![r]),
                }
            }
            if seed % 4 == 3 {
                for k in (1..chunks.len()).rev() {
                    let n = chunks[k - 1].len();
                    let tail = chunks[k - 1][n.saturating_sub(4)..n.saturating_sub(1)].to_vec();
                    chunks[k].splice(0..0, tail);
                }
            }
            let mut whole = Accumulator::new(bounds.clone());
            chunks.iter().flatten().for_each(|r| whole.feed(r));
            let mut acc = Accumulator::new(bounds.clone());
            let mut used = 0;
            for chunk in &chunks {
                let mut b = Builder::new(Vec::new(), present.to_vec());
                chunk.iter().for_each(|r| b.feed(r));
                let text = b.finish().to_text();
                let s = DaySummary::from_text(&text).expect("round trip");
                if acc.feed_summary(&s) {
                    used += 1;
                } else {
                    chunk.iter().for_each(|r| acc.feed(r));
                }
            }
            let (a, b) = (whole.finish(&present, true), acc.finish(&present, true));
            assert_eq!(a.rows, b.rows, "seed {seed}");
            assert_eq!(a.classes(), b.classes(), "seed {seed}");
            all_used += used;
        }
        assert!(all_used > 300, "{all_used} summaries used");
    }

    /// Probes at whole hours, at the minutes the tariff switched (the HC schedule the cost
    /// engine learns) and, for some seeds, anywhere: a day fed from its summary gives the
    /// same consumption at every probe as its records, and days whose probes its marks
    /// bracket are fed from their summary.
    #[test]
    fn probes_from_summaries_are_those_of_the_records() {
        let mut in_hour_used = 0;
        for seed in 0..80u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let t0 = 1_767_222_000; // a whole hour (a local midnight in winter)
                                    // Switch minutes of the day (seconds after t0's day start): HP at 06:34, HC at
                                    // 14:34, HP at 17:04, HC at 01:04, each at a random second of its minute.
            let switches = [
                (3600 + 4 * 60, true),
                (6 * 3600 + 34 * 60, false),
                (14 * 3600 + 34 * 60, true),
                (17 * 3600 + 4 * 60, false),
            ];
            let hc_at = |t: i64, jitter: &[i64; 4]| {
                let s = (t - t0).rem_euclid(86_400);
                let mut hc = false;
                for (j, &(m, to_hc)) in switches.iter().enumerate() {
                    if s >= m + jitter[j] {
                        hc = to_hc;
                    }
                }
                hc
            };
            let (mut t, mut v) = (t0 + rng.i64(0..30), [1000i64, 500, 400]);
            let mut recs = Vec::new();
            let mut jitter = [0i64; 4];
            let mut day = -1;
            while t < t0 + 3 * 86_400 {
                let d = (t - t0).div_euclid(86_400);
                if d != day {
                    day = d;
                    // The first record at the new rate falls in the switch's minute (records
                    // are at most 45 s apart outside gaps).
                    jitter = std::array::from_fn(|_| rng.i64(0..15));
                }
                let hc = hc_at(t, &jitter);
                let k = if hc { 1 } else { 2 };
                let step = rng.i64(0..4);
                v[0] += step;
                v[k] += step;
                let mut r = Reading {
                    time: t,
                    meter: "A".into(),
                    ntarf: Some(k as u8),
                    tariff: if hc { "HEURE CREUSE" } else { "HEURE PLEINE" }.into(),
                    power_va: Some(6000),
                    ..Reading::default()
                };
                r.energy[0] = Some(v[0]);
                r.energy[1] = Some(v[1]);
                r.energy[2] = Some(v[2]);
                if seed % 5 == 0 && rng.u32(0..20_000) == 0 {
                    r.energy[0] = Some(v[0] + 1_000_000);
                }
                recs.push(r);
                t += if rng.u32(0..2000) == 0 {
                    rng.i64(300..7200)
                } else {
                    rng.i64(1..45)
                };
            }
            let bounds: Vec<i64> = (0..=3).map(|d| t0 + d * 86_400).collect();
            let mut probes: Vec<i64> = Vec::new();
            for d in 0..3 {
                let day0 = t0 + d * 86_400;
                probes.extend(switches.iter().map(|&(m, _)| day0 + m));
                probes.extend((0..24).map(|h| day0 + h * 3600));
                if seed % 7 == 3 {
                    probes.push(day0 + rng.i64(0..86_400));
                }
            }
            let mut chunks: Vec<Vec<Reading>> = Vec::new();
            for r in recs {
                match chunks.last_mut() {
                    Some(c)
                        if (c[0].time - t0).div_euclid(86_400)
                            == (r.time - t0).div_euclid(86_400) =>
                    {
                        c.push(r)
                    }
                    _ => chunks.push(vec![r]),
                }
            }
            let present = [0, 1, 2];
            let mut whole = Accumulator::with_probes(bounds.clone(), probes.clone());
            chunks.iter().flatten().for_each(|r| whole.feed(r));
            let mut acc = Accumulator::with_probes(bounds.clone(), probes.clone());
            for chunk in &chunks {
                let mut b = Builder::new(Vec::new(), present.to_vec());
                chunk.iter().for_each(|r| b.feed(r));
                let s = DaySummary::from_text(&b.finish().to_text()).expect("round trip");
                if acc.feed_summary(&s) {
                    in_hour_used += usize::from(!s.marks.is_empty());
                } else {
                    chunk.iter().for_each(|r| acc.feed(r));
                }
            }
            let (ta, pa) = whole.finish_probed(&present, true);
            let (tb, pb) = acc.finish_probed(&present, true);
            assert_eq!(ta.rows, tb.rows, "seed {seed}");
            let (pa, pb) = (pa.expect("probes"), pb.expect("probes"));
            for &x in pa.instants() {
                for k in present {
                    assert_eq!(
                        pa.credited(k, x),
                        pb.credited(k, x),
                        "seed {seed} probe {x} label {k}"
                    );
                }
            }
        }
        assert!(
            in_hour_used > 150,
            "{in_hour_used} days with marks fed from their summary"
        );
    }
}
