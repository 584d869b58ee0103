//! From records (and frames) to [`Snapshot`]s: what one state message and the discovery of
//! one meter say. Runs on the recording thread: a record costs a few dozen small strings.
//!
//! - **The meter** is the record's ADSC/ADCO (else the frames'), taken once two records in a
//!   row name it: a garbled address with a valid checksum never becomes a device. A new
//!   address confirmed by the next record is a meter change: the guard and the learned
//!   tariff names start again (the new meter is a new device).
//! - **Energy indexes** pass the [`guard`](super::guard); an index is *in use* (a sensor) once
//!   it has published a value, and each snapshot carries the last published value of every
//!   index in use, so a state message always holds every sensor's key.
//! - **Names** come from the label registry ([`crate::tic::labels`]): a supplier index is
//!   named after the tariff period the meter gave it (`(NTARF, LTARF)`: `HC`, `HP`,
//!   `HC Bleu`…), before that after the calendar NGTF names (a Tempo meter's six indexes, or
//!   HC then HP); historique indexes have fixed names (HCHC is `HC`, BBRHPJR `HP Rouge`).
//!   The tariff slot is the name of the index in force (NTARF, or PTEC in historique mode).
//!   Pairs and the slot are taken once two records in a row agree: a garbled tariff name
//!   with a valid checksum never names a sensor, and a change shows one record later.
//! - **Tempo colours**: today from the tariff name (`HC BLEU`, `HPJR`), else STGE bits 24–25;
//!   tomorrow from STGE bits 26–27 (standard) or DEMAIN (historique), from the frames' verified
//!   groups once two frames in a row agree.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use super::guard::Guard;
use crate::capture::Counters;
use crate::record::Record;
use crate::tic::labels::{
    self, classify, energy_label, energy_position, index_in_force, Calendar, Class, Colour, Field,
    Kind, Rate, Slot, N_ENERGY,
};
use crate::tic::plausible;
use crate::tic::{Frame, Mode};

/// One energy index in use, with its published value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Energy {
    /// Its label (`EASF01`, `HCHC`…).
    pub label: &'static str,
    /// Its name (`HC`, `HP Bleu`, `Total`…).
    pub name: String,
    /// Its last confirmed value, Wh (the meter's; what is published is decided on the
    /// publisher thread: [`super::guard::Reference`]).
    pub wh: i64,
    /// A distributor index (the network operator's calendar, not the bill's).
    pub distributor: bool,
}

/// What a Tempo meter says of its colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tempo {
    /// Today's colour, if known.
    pub today: Option<Colour>,
    /// Tomorrow's colour, if known yet.
    pub tomorrow: Option<Colour>,
    /// Whether the meter sends tomorrow's colour at all (STGE or DEMAIN seen).
    pub says_tomorrow: bool,
}

/// One meter's state: the content of a state message and what discovery needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The meter's address (ADSC/ADCO).
    pub meter: String,
    /// Its TIC mode.
    pub mode: Mode,
    /// 1 or 3.
    pub phases: u8,
    /// A producer (EAIT, SINSTI).
    pub producer: bool,
    /// The record's time.
    pub time: DateTime<FixedOffset>,
    /// The record's file columns: `time`, `time_source`, then its labels.
    pub columns: Arc<[String]>,
    /// The record's cells: `time_source`, then one per label.
    pub cells: Vec<String>,
    /// The energy indexes in use, with their published values.
    pub energy: Vec<Energy>,
    /// The tariff slot in force (the name of its index).
    pub tariff: Option<String>,
    /// The slots the tariff sensor may show (the contract's and every one seen), in a stable
    /// order.
    pub tariffs: Vec<String>,
    /// The colours, on a Tempo meter.
    pub tempo: Option<Tempo>,
    /// Groups that failed their checksum since the recorder started.
    pub checksum_errors: u64,
    /// The subscribed power in force (VA): the bound of a step of an energy index.
    pub power_va: i64,
}

impl Snapshot {
    /// The labels of the record, with their cells.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.columns
            .iter()
            .skip(2)
            .map(String::as_str)
            .zip(self.cells.iter().skip(1).map(String::as_str))
    }

    /// The cell of `label`.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.labels().find(|(l, _)| *l == label).map(|(_, v)| v)
    }

    /// `Linky single-phase, TIC standard` …: the device model Home Assistant shows.
    pub fn model(&self) -> String {
        format!(
            "Linky {}{}, TIC {}",
            if self.phases == 3 {
                "three-phase"
            } else {
                "single-phase"
            },
            if self.producer { " producer" } else { "" },
            self.mode
        )
    }
}

/// A value from the frames, taken once two frames in a row agree.
#[derive(Clone, Debug, Default)]
struct Agreed<T> {
    last: Option<T>,
    value: Option<T>,
}

impl<T: Clone + PartialEq> Agreed<T> {
    fn offer(&mut self, v: T) {
        if self.last.as_ref() == Some(&v) {
            self.value = Some(v.clone());
        }
        self.last = Some(v);
    }
}

/// What the frames said (verified groups only).
#[derive(Clone, Debug, Default)]
struct FrameFacts {
    meter: Agreed<String>,
    /// STGE's colours (today, tomorrow).
    stge: Agreed<(Option<Colour>, Option<Colour>)>,
    demain: Agreed<Option<Colour>>,
    calendar: Agreed<String>,
}

/// Turns records into snapshots (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    meter: Option<String>,
    pending: Option<String>,
    guard: Guard,
    /// LTARF of each supplier index (1..10), as learned from `(NTARF, LTARF)`.
    learned: [Option<String>; 10],
    /// The last `(NTARF, LTARF)` pair, and the one two records agreed on.
    pair: Agreed<(usize, String)>,
    /// The slot in force and its Tempo colour, as two records agree.
    slot: Agreed<Option<(String, Option<Colour>)>>,
    tariffs: Vec<String>,
    frames: FrameFacts,
}

impl Tracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// A decoded frame's verified groups.
    pub fn frame(&mut self, f: &Frame<'_>) {
        if let Some((_, g)) = Field::MeterId.find(|l| f.get(l)) {
            if is_address(g.value) {
                self.frames.meter.offer(g.value.to_owned());
            }
        }
        if let Some(colours) = f.get("STGE").and_then(|g| Colour::from_stge(g.value)) {
            self.frames.stge.offer(colours);
        }
        if let Some(d) = f.get("DEMAIN") {
            self.frames.demain.offer(Colour::from_demain(d.value));
        }
        if let Some((_, g)) = Field::Contract.find(|l| f.get(l)) {
            self.frames.calendar.offer(g.value.trim().to_owned());
        }
    }

    /// A record the recorder wrote (or holds), with the counts then. `None` while its
    /// meter's address waits for the next record's confirmation.
    pub fn record(&mut self, r: &Record, c: &Counters) -> Option<Snapshot> {
        let id = Field::MeterId
            .find(|l| r.get(l))
            .map(|(_, v)| v)
            .filter(|v| is_address(v))
            .map(str::to_owned)
            .or_else(|| self.frames.meter.value.clone())?;
        let columns = r.columns.get(2..).unwrap_or_default();
        let mode = if r.get(Field::MeterId.label(Mode::Historique)).is_some()
            || columns
                .iter()
                .any(|l| labels::label(l).is_some_and(|l| l.mode == Mode::Historique))
        {
            Mode::Historique
        } else {
            Mode::Standard
        };
        let registry = || columns.iter().filter_map(|l| labels::label(l));
        let phases = if registry().any(|l| l.three_phase) {
            3
        } else {
            1
        };
        let producer = registry().any(|l| l.producer);
        let whose = self.whose(&id);
        if whose == Whose::Doubt {
            return None;
        }
        // The guard.
        let t = r.time.timestamp();
        self.guard.set_power(subscribed_va(r, phases == 3));
        for (label, cell) in columns.iter().zip(r.cells.iter().skip(1)) {
            if let (Some(k), Ok(v)) = (energy_position(label), cell.parse::<i64>()) {
                self.guard.feed(k, t, v);
            }
        }
        // Tariff names: a `(NTARF, LTARF)` pair is learned, and the slot in force taken, once
        // two records in a row agree (a garbled tariff name that passed its checksum never
        // names a sensor nor becomes an option of the tariff sensor).
        let ntarf = r.get("NTARF").and_then(|v| v.parse::<usize>().ok());
        if let (Some(n), Some(lt)) = (ntarf, r.get("LTARF").filter(|l| !l.is_empty())) {
            self.pair.offer((n, lt.to_owned()));
            if let Some((n, lt)) = self.pair.value.clone() {
                if let Some(slot) = n.checked_sub(1).and_then(|i| self.learned.get_mut(i)) {
                    *slot = Some(lt);
                }
            }
        }
        let calendar = Field::Contract
            .find(|l| r.get(l))
            .map(|(_, v)| v.to_owned())
            .or_else(|| self.frames.calendar.value.clone())
            .unwrap_or_default();
        let hint = Calendar::of(&calendar);
        let tariff_label = index_in_force(|l| r.get(l));
        let name = Field::TariffName.find(|l| r.get(l)).map(|(_, v)| v);
        let slot = tariff_label
            .and_then(labels::label)
            .map(|l| index_name(l, &self.learned, hint))
            .or_else(|| name.map(|n| tariff_name(n, 0)));
        let colour = name.map(classify).and_then(|c| c.colour);
        self.slot.offer(slot.map(|s| (s, colour)));
        if whose == Whose::Prospect {
            return None;
        }
        let (tariff, tariff_colour) = match self.slot.value.clone().flatten() {
            Some((s, c)) => (Some(s), c),
            None => (None, None),
        };
        if self.tariffs.is_empty() {
            self.tariffs = slots(hint);
        }
        let energy: Vec<Energy> = (0..N_ENERGY)
            .filter_map(|k| {
                let wh = self.guard.published(k)?;
                let l = energy_label(k);
                Some(Energy {
                    label: l.name,
                    name: index_name(l, &self.learned, hint),
                    wh,
                    distributor: matches!(l.slot(), Some(Slot::Distributor(_))),
                })
            })
            .collect();
        let slot_names = energy
            .iter()
            .filter(|e| {
                labels::label(e.label)
                    .and_then(|l| l.slot())
                    .is_some_and(|s| matches!(s, Slot::Supplier(_) | Slot::Fixed(_)))
            })
            .map(|e| e.name.clone());
        for name in slot_names.chain(tariff.clone()) {
            if !self.tariffs.contains(&name) {
                self.tariffs.push(name);
            }
        }
        // Tempo colours.
        let (stge_today, stge_tomorrow) = self.frames.stge.value.unwrap_or((None, None));
        let says_tomorrow = match mode {
            Mode::Standard => self.frames.stge.value.is_some(),
            Mode::Historique => self.frames.demain.value.is_some(),
        };
        let tomorrow = match mode {
            Mode::Standard => stge_tomorrow,
            Mode::Historique => self.frames.demain.value.flatten(),
        };
        let today = tariff_colour.or(stge_today);
        let is_tempo = hint == Some(Calendar::Tempo) || today.is_some() || tomorrow.is_some();
        let tempo = is_tempo.then_some(Tempo {
            today,
            tomorrow,
            says_tomorrow,
        });
        Some(Snapshot {
            meter: id,
            mode,
            phases,
            producer,
            time: r.time,
            columns: Arc::clone(&r.columns),
            cells: r.cells.clone(),
            energy,
            tariff,
            tariffs: self.tariffs.clone(),
            tempo,
            checksum_errors: c.decoder.groups_bad,
            power_va: self.guard.power(),
        })
    }

    /// Whose record it is (confirming the address, or changing the meter).
    fn whose(&mut self, id: &str) -> Whose {
        if self.meter.as_deref() == Some(id) {
            self.pending = None;
            return Whose::Meter;
        }
        if self.pending.as_deref() == Some(id) {
            if self.meter.is_some() {
                // A meter change: a new device, whose indexes and names start afresh.
                *self = Tracker {
                    frames: std::mem::take(&mut self.frames),
                    ..Tracker::default()
                };
            }
            self.meter = Some(id.to_owned());
            self.pending = None;
            return Whose::Meter;
        }
        if self.meter.is_some() {
            self.pending = Some(id.to_owned());
            return Whose::Doubt;
        }
        if self.pending.is_some() {
            // Not the address the first record gave: start again from this one.
            self.guard = Guard::new();
        }
        self.pending = Some(id.to_owned());
        Whose::Prospect
    }
}

/// Whose a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Whose {
    /// The confirmed meter's.
    Meter,
    /// The first meter's, not confirmed yet: it feeds the guard (the next record confirms its
    /// indexes) but makes no snapshot.
    Prospect,
    /// Another address than the meter's, not confirmed yet: ignored.
    Doubt,
}

/// A meter address usable in topics and identifiers: 12 ASCII digits or letters.
fn is_address(v: &str) -> bool {
    (6..=16).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Subscribed apparent power in VA of a record ([`plausible::subscribed_va`]: max(PREF, PCOUP)
/// kVA, or ISOUSC × 200 V, × 600 on three phases), as the export reads it.
fn subscribed_va(r: &Record, three_phase: bool) -> Option<i64> {
    let mut va = None;
    for (label, cell) in r.columns.iter().skip(2).zip(r.cells.iter().skip(1)) {
        let Some(l) = labels::label(label).filter(|l| l.kind == Kind::Subscribed) else {
            continue;
        };
        if let Ok(v) = cell.parse::<i64>() {
            va = plausible::subscribed_va(va, l.unit, v, three_phase);
        }
    }
    va
}

/// The name of supplier index `n` (1..10) before the meter has named it: what the calendar
/// the contract names says ([`Calendar::supplier_class`]).
fn default_name(cal: Option<Calendar>, n: u8) -> Option<String> {
    cal?.supplier_class(n).map(Class::display_name)
}

/// The slots of the contract, in index order.
fn slots(cal: Option<Calendar>) -> Vec<String> {
    (1..=10).map_while(|n| default_name(cal, n)).collect()
}

/// The name of an energy index (see the module doc).
fn index_name(l: &labels::Label, learned: &[Option<String>; 10], cal: Option<Calendar>) -> String {
    match l.slot() {
        Some(Slot::Total) if l.name == "BASE" => "Base".to_owned(),
        Some(Slot::Total) => "Total".to_owned(),
        Some(Slot::Injected) => "Injected".to_owned(),
        Some(Slot::Distributor(n)) => format!("Distributor {n}"),
        Some(Slot::Fixed(c)) if c.rate != Rate::Other => c.display_name(),
        Some(Slot::Fixed(_)) => match l.name {
            "EJPHN" => "EJP normal".to_owned(),
            "EJPHPM" => "EJP peak".to_owned(),
            other => other.to_owned(),
        },
        Some(Slot::Supplier(n)) => {
            match learned
                .get(usize::from(n).saturating_sub(1))
                .cloned()
                .flatten()
            {
                Some(lt) => tariff_name(&lt, n),
                None => default_name(cal, n).unwrap_or_else(|| format!("Index {n}")),
            }
        }
        None => l.name.to_owned(),
    }
}

/// A tariff period's name as Home Assistant shows it: `HC`, `HP Bleu` for the HC/HP/Tempo
/// words, otherwise the meter's text in sentence case (`Heure normale`), or `Index n`.
fn tariff_name(text: &str, n: u8) -> String {
    let c = classify(text);
    if c.rate != Rate::Other {
        return c.display_name();
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || words.iter().all(|w| w.chars().all(|c| c == '.')) {
        return format!("Index {n}");
    }
    let s = words.join(" ").to_lowercase();
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => format!("Index {n}"),
    }
}

/// The name of a colour in the state message: `Bleu`, `Blanc`, `Rouge`.
pub fn colour_name(c: Colour) -> &'static str {
    match c {
        Colour::Blue => "Bleu",
        Colour::White => "Blanc",
        Colour::Red => "Rouge",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TimeSource;

    fn record(t: i64, cells: &[(&str, &str)]) -> Record {
        let mut columns = vec!["time".to_owned(), "time_source".to_owned()];
        columns.extend(cells.iter().map(|(l, _)| (*l).to_owned()));
        let mut c = vec!["meter".to_owned()];
        c.extend(cells.iter().map(|(_, v)| (*v).to_owned()));
        Record {
            time: DateTime::from_timestamp(t, 0).unwrap().fixed_offset(),
            source: TimeSource::Meter,
            columns: columns.into(),
            cells: c,
            power_va: None,
            jump: None,
        }
    }

    fn std_rec(t: i64, adsc: &str, ntarf: &str, ltarf: &str, easf: [&str; 2]) -> Record {
        record(
            t,
            &[
                ("ADSC", adsc),
                ("NGTF", "H PLEINE/CREUSE"),
                ("LTARF", ltarf),
                ("NTARF", ntarf),
                ("EASF01", easf[0]),
                ("EASF02", easf[1]),
                ("EASD01", "0"),
                ("SINSTS", "1200"),
                ("IRMS1", "5"),
                ("URMS1", "231"),
                ("PREF", "6"),
            ],
        )
    }

    #[test]
    fn the_meter_is_confirmed_then_a_change_too() {
        let mut t = Tracker::new();
        let c = Counters::default();
        let a = "041876097171";
        let b = "041876097172";
        assert!(t
            .record(&std_rec(0, a, "2", "HEURE PLEINE", ["100", "200"]), &c)
            .is_none());
        let s = t
            .record(&std_rec(1, a, "2", "HEURE PLEINE", ["100", "201"]), &c)
            .unwrap();
        assert_eq!(s.meter, a);
        assert_eq!(s.model(), "Linky single-phase, TIC standard");
        // The first record's indexes are confirmed by the second.
        let names: Vec<_> = s
            .energy
            .iter()
            .map(|e| (e.label, e.name.as_str(), e.wh))
            .collect();
        assert_eq!(names, [("EASF01", "HC", 100), ("EASF02", "HP", 200)]);
        assert_eq!(s.tariff.as_deref(), Some("HP"));
        assert_eq!(s.tariffs, ["HC", "HP"]);
        assert_eq!(s.tempo, None);
        // One record with a garbled address: no snapshot, the meter stays.
        assert!(t
            .record(&std_rec(2, b, "2", "HEURE PLEINE", ["100", "202"]), &c)
            .is_none());
        let s = t
            .record(&std_rec(3, a, "2", "HEURE PLEINE", ["100", "203"]), &c)
            .unwrap();
        assert_eq!(s.meter, a);
        assert_eq!(s.energy[1].wh, 201, "the garbled record fed nothing");
        // A real change: two records of the new meter; its indexes start afresh, lower.
        assert!(t
            .record(&std_rec(4, b, "1", "HEURE CREUSE", ["5", "6"]), &c)
            .is_none());
        let s = t
            .record(&std_rec(5, b, "1", "HEURE CREUSE", ["5", "6"]), &c)
            .unwrap();
        assert_eq!(s.meter, b);
        assert!(s.energy.is_empty(), "confirmed by the next record");
        let s = t
            .record(&std_rec(6, b, "1", "HEURE CREUSE", ["6", "6"]), &c)
            .unwrap();
        assert_eq!(s.energy[0].wh, 5);
        assert_eq!(s.tariff.as_deref(), Some("HC"));
    }

    #[test]
    fn a_garbled_tariff_name_names_nothing() {
        let mut t = Tracker::new();
        let c = Counters::default();
        let a = "041876097171";
        let rec = |k, ntarf, ltarf| std_rec(k, a, ntarf, ltarf, ["100", "200"]);
        t.record(&rec(0, "2", "HEURE PLEINE"), &c);
        t.record(&rec(1, "2", "HEURE PLEINE"), &c);
        for (k, ntarf, ltarf) in [(2, "2", "HEURE PLKINE"), (3, "7", "HEURE PLEINE")] {
            let s = t.record(&rec(k, ntarf, ltarf), &c).unwrap();
            assert_eq!(s.tariff.as_deref(), Some("HP"), "{ltarf}");
            assert_eq!(s.tariffs, ["HC", "HP"]);
            assert!(s.energy.iter().all(|e| e.name == "HC" || e.name == "HP"));
        }
        // A real change shows one record later.
        let s = t.record(&rec(4, "1", "HEURE CREUSE"), &c).unwrap();
        assert_eq!(s.tariff.as_deref(), Some("HP"));
        let s = t.record(&rec(5, "1", "HEURE CREUSE"), &c).unwrap();
        assert_eq!(s.tariff.as_deref(), Some("HC"));
    }

    #[test]
    fn tempo_names_and_colours() {
        let mut t = Tracker::new();
        let c = Counters::default();
        let rec = |k: i64, ltarf: &str| {
            record(
                k,
                &[
                    ("ADSC", "041876097171"),
                    ("NGTF", "TEMPO"),
                    ("LTARF", ltarf),
                    ("NTARF", "4"),
                    ("EASF01", "10"),
                    ("EASF02", "20"),
                    ("EASF03", "30"),
                    ("EASF04", "40"),
                    ("EASF05", "0"),
                    ("EASF06", "0"),
                ],
            )
        };
        // STGE: today white (2 << 24), tomorrow red (3 << 26), in two frames.
        let stge = format!("{:08X}", (2u32 << 24) | (3 << 26) | 0x0A00);
        let mut bytes = Vec::new();
        crate::tic::encode::push_frame(&mut bytes, Mode::Standard, &[("STGE", None, &stge)]);
        let mut d = crate::tic::Decoder::new(crate::tic::Config::default());
        for _ in 0..2 {
            let (f, _) = d.decode(&bytes);
            t.frame(&f.unwrap());
        }
        t.record(&rec(0, "HP  BLANC"), &c);
        let s = t.record(&rec(1, "HP  BLANC"), &c).unwrap();
        let names: Vec<_> = s.energy.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["HC Bleu", "HP Bleu", "HC Blanc", "HP Blanc"],
            "zeros not in use"
        );
        assert_eq!(s.tariff.as_deref(), Some("HP Blanc"));
        assert_eq!(s.tariffs.len(), 6);
        assert_eq!(
            s.tempo,
            Some(Tempo {
                today: Some(Colour::White),
                tomorrow: Some(Colour::Red),
                says_tomorrow: true
            })
        );
    }

    #[test]
    fn historique_slots_and_demain() {
        let mut t = Tracker::new();
        let c = Counters::default();
        let rec = |k: i64, ptec: &str| {
            record(
                k,
                &[
                    ("ADCO", "031328187235"),
                    ("OPTARIF", "BBR("),
                    ("ISOUSC", "30"),
                    ("PTEC", ptec),
                    ("BBRHCJB", "100"),
                    ("BBRHPJB", "200"),
                    ("BBRHCJW", "0"),
                    ("BBRHPJW", "0"),
                    ("BBRHCJR", "0"),
                    ("BBRHPJR", "0"),
                    ("PAPP", "680"),
                    ("IINST", "3"),
                ],
            )
        };
        let mut bytes = Vec::new();
        crate::tic::encode::push_frame(&mut bytes, Mode::Historique, &[("DEMAIN", None, "ROUG")]);
        let mut d = crate::tic::Decoder::new(crate::tic::Config::default());
        let (f, _) = d.decode(&bytes);
        t.frame(&f.unwrap());
        t.record(&rec(0, "HPJB"), &c);
        let s = t.record(&rec(1, "HPJB"), &c).unwrap();
        assert_eq!(s.mode, Mode::Historique);
        assert_eq!(s.tariff.as_deref(), Some("HP Bleu"));
        let tempo = s.tempo.unwrap();
        assert_eq!(tempo.today, Some(Colour::Blue));
        assert_eq!(tempo.tomorrow, None, "one frame is not enough");
        let (f, _) = d.decode(&bytes);
        t.frame(&f.unwrap());
        let s = t.record(&rec(2, "HPJB"), &c).unwrap();
        assert_eq!(s.tempo.unwrap().tomorrow, Some(Colour::Red));
    }

    #[test]
    fn names() {
        let none: [Option<String>; 10] = Default::default();
        let l = |n| labels::label(n).unwrap();
        let cases = [
            ("EAST", Some(Calendar::HcHp), "Total"),
            ("BASE", Some(Calendar::Base), "Base"),
            ("EAIT", Some(Calendar::Base), "Injected"),
            ("EASD02", Some(Calendar::HcHp), "Distributor 2"),
            ("HCHC", Some(Calendar::HcHp), "HC"),
            ("BBRHPJR", Some(Calendar::Tempo), "HP Rouge"),
            ("EJPHPM", None, "EJP peak"),
            ("EASF02", Some(Calendar::HcHp), "HP"),
            ("EASF05", Some(Calendar::Tempo), "HC Rouge"),
            ("EASF01", Some(Calendar::Base), "Base"),
            ("EASF03", None, "Index 3"),
            ("EASF02", Some(Calendar::Ejp), "Index 2"),
        ];
        for (label, cal, want) in cases {
            assert_eq!(index_name(l(label), &none, cal), want, "{label}");
        }
        let mut learned = none.clone();
        learned[2] = Some("HEURE  NORMALE".into());
        assert_eq!(index_name(l("EASF03"), &learned, None), "Heure normale");
        assert_eq!(tariff_name("HEURE  CREUSE", 1), "HC");
        assert_eq!(tariff_name("....", 4), "Index 4");
        // A contract `cost` reads as HC/HP names HC and HP here too.
        for contract in [
            "H PLEINE/CREUSE",
            "H SUPER CREUSES",
            "HC..",
            "HC SEM WE MERCR",
        ] {
            assert_eq!(slots(Calendar::of(contract)), ["HC", "HP"], "{contract}");
        }
        assert_eq!(slots(Calendar::of("PRODUCTEUR")), Vec::<String>::new());
    }

    #[test]
    fn addresses_and_power() {
        assert!(is_address("041876097171"));
        for bad in ["", "0418/6097171", "04187609717+", "12345"] {
            assert!(!is_address(bad), "{bad}");
        }
        let r = record(0, &[("PREF", "6"), ("PCOUP", "9")]);
        assert_eq!(subscribed_va(&r, false), Some(9000));
        let r = record(0, &[("ISOUSC", "30")]);
        assert_eq!(subscribed_va(&r, false), Some(6000));
        assert_eq!(subscribed_va(&r, true), Some(18000));
        assert_eq!(subscribed_va(&record(0, &[("EAST", "1")]), false), None);
    }
}
