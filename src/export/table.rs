//! The result of an export: one [`Row`] per period, its quality [`Flags`], and the [`Table`]
//! that says what the energy columns mean (HC, HP, Tempo colours, the total).

use super::tariff::Tariffs;
use super::N_ENERGY;
use crate::tic::labels::{energy_label, Class, Colour, Rate, Slot};

/// Data-quality flags of a row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    /// The period reaches beyond the first or last record (by more than
    /// [`super::MAX_COVERED_GAP_S`]): held at the edge record.
    pub const PARTIAL: Flags = Flags(1);
    /// An index decreased or read zero; the step was left out.
    pub const INDEX_RESET: Flags = Flags(2);
    /// ADSC/ADCO changed; the step across was left out.
    pub const METER_CHANGED: Flags = Flags(4);
    /// An index rose faster than the subscribed power allows; the step was left out.
    pub const IMPLAUSIBLE_JUMP: Flags = Flags(8);
    /// A row whose time was not after the previous one (nor an exact repeat) was skipped.
    pub const OUT_OF_ORDER: Flags = Flags(16);
    /// A damaged row (not a record: a bad sector, a hand edit) was skipped here.
    pub const DAMAGED_ROWS: Flags = Flags(32);
    /// Records further apart than [`super::MAX_COVERED_GAP_S`] inside the period: the
    /// indexes across the gap are interpolated.
    pub const GAP: Flags = Flags(64);
    const NAMES: [(Flags, &'static str); 7] = [
        (Flags::PARTIAL, "partial"),
        (Flags::GAP, "gap"),
        (Flags::INDEX_RESET, "index_reset"),
        (Flags::METER_CHANGED, "meter_changed"),
        (Flags::IMPLAUSIBLE_JUMP, "implausible_jump"),
        (Flags::OUT_OF_ORDER, "out_of_order"),
        (Flags::DAMAGED_ROWS, "damaged_rows"),
    ];

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    /// The flags named in `text` (as [`Flags::names`] writes them); `None` for a name that
    /// is not a flag.
    pub fn from_names(text: &str) -> Option<Flags> {
        let mut f = Flags::default();
        for name in text.split('|').filter(|n| !n.is_empty()) {
            f.insert(Flags::NAMES.iter().find(|(_, n)| *n == name)?.0);
        }
        Some(f)
    }

    /// The flag names, joined by `|` (empty when none).
    pub fn names(self) -> String {
        let names: Vec<&str> = Flags::NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect();
        names.join("|")
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;

    /// Both sets of flags.
    fn bitor(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }
}

/// One period of an export.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Start, Unix seconds (inclusive).
    pub start: i64,
    /// End, Unix seconds (exclusive).
    pub end: i64,
    /// Consumption of each energy index over the period, Wh (`None`: not in the data).
    pub wh: [Option<i64>; N_ENERGY],
    /// Records in the period.
    pub records: Option<u64>,
    /// Share of the period covered by records (see [`super::MAX_COVERED_GAP_S`]).
    pub coverage: Option<f64>,
    /// Longest stretch of the period without a record, s.
    pub max_gap_s: Option<i64>,
    /// Time of the period's first record, Unix seconds (with the quality columns).
    pub first_record: Option<i64>,
    /// Time of the period's last record, Unix seconds (with the quality columns).
    pub last_record: Option<i64>,
    /// Quality flags.
    pub flags: Flags,
}

/// The result of an export: rows and what their columns mean.
#[derive(Clone, Debug)]
pub struct Table {
    /// Positions in [`super::ENERGY_LABELS`] of the indexes present in the files read.
    pub labels: Vec<usize>,
    /// The pairs learned from the data.
    pub tariffs: Tariffs,
    /// One row per period.
    pub rows: Vec<Row>,
    /// The last value credited of each index, `(time, Wh)`: a later record of the same meter
    /// adds to the last period what its index rose since (the dashboard's today so far
    /// between two reads of the day).
    pub last: [Option<(i64, i64)>; N_ENERGY],
}

impl Table {
    /// The class of every index, learned or default.
    pub fn classes(&self) -> [Option<Class>; N_ENERGY] {
        self.tariffs.classes()
    }

    /// Whether the data has Tempo indexes (colour columns are then written).
    pub fn tempo(&self) -> bool {
        let c = self.classes();
        self.labels
            .iter()
            .any(|&k| c[k].is_some_and(|c| c.colour.is_some()))
    }

    fn sum(&self, row: &Row, pick: impl Fn(usize, Option<Class>) -> bool) -> Option<i64> {
        let c = self.classes();
        let mut out = None;
        for &k in &self.labels {
            if pick(k, c[k]) {
                if let Some(v) = row.wh[k] {
                    out = Some(out.unwrap_or(0) + v);
                }
            }
        }
        out
    }

    /// Off-peak consumption of `row`.
    pub fn hc(&self, row: &Row) -> Option<i64> {
        self.sum(row, |_, c| c.is_some_and(|c| c.rate == Rate::Hc))
    }

    /// Peak consumption of `row`.
    pub fn hp(&self, row: &Row) -> Option<i64> {
        self.sum(row, |_, c| c.is_some_and(|c| c.rate == Rate::Hp))
    }

    /// Tempo consumption of one colour and kind.
    pub fn tempo_wh(&self, row: &Row, colour: Colour, kind: Rate) -> Option<i64> {
        self.sum(row, |_, c| {
            c.is_some_and(|c| c.rate == kind && c.colour == Some(colour))
        })
    }

    /// Whether the meter named (by a pair `NTARF`, `LTARF`) a supplier index of this Tempo
    /// colour and kind in the records read: on a Tempo meter's first days, a part whose
    /// period has not come yet has 0 Wh from the contract's calendar but was never seen.
    pub fn tempo_seen(&self, colour: Colour, kind: Rate) -> bool {
        self.labels.iter().any(|&k| match energy_label(k).slot() {
            Some(Slot::Supplier(n)) => self
                .tariffs
                .named_class(n)
                .is_some_and(|c| c.rate == kind && c.colour == Some(colour)),
            _ => false,
        })
    }

    /// The indexes whose sum is the total withdrawn: EAST in standard mode, else the
    /// historique indexes, else the supplier indexes (those present).
    pub fn total_labels(&self) -> Vec<usize> {
        if self.labels.contains(&0) {
            return vec![0];
        }
        let historique: Vec<usize> = self.labels.iter().copied().filter(|&k| k >= 16).collect();
        if !historique.is_empty() {
            return historique;
        }
        self.labels
            .iter()
            .copied()
            .filter(|k| (1..=10).contains(k))
            .collect()
    }

    /// Total withdrawn: EAST in standard mode, else the sum of the historique indexes, else
    /// the sum of the supplier indexes.
    pub fn total(&self, row: &Row) -> Option<i64> {
        if self.labels.contains(&0) {
            return row.wh[0];
        }
        let historique = self.sum(row, |k, _| k >= 16);
        historique.or_else(|| self.sum(row, |k, _| (1..=10).contains(&k)))
    }
}
