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
//! - **What the records do not carry** (STGE, SMAXSN, CCASN, UMOY, PRM, MSG1, ADPS, PEJP,
//!   DEMAIN… when `--labels` or the shape's defaults leave them out) comes from the frames'
//!   verified groups ([`Heard`]): a measure (power, current, voltage) is the newest verified
//!   value, anything else the value two frames in a row agreed on (a garbled status word
//!   with a valid checksum never shows); a label absent from two frames in a row is gone
//!   (ADPS once the overcurrent ends). A label the record carries is always the record's.
//! - **Names** of the supplier indexes come from the `(NTARF, LTARF)` pairs the meter sends,
//!   taken once two records in a row agree ([`Naming`]); the names themselves are given by
//!   [`Snapshot::name`] (English: `Off-peak`, `Peak`, `Blue off-peak`…, see
//!   [`tariff_name`]), which the publisher calls again with the names the broker remembers
//!   from an earlier run. The slot in force (NTARF, or PTEC in historique mode) is taken
//!   once two records in a row agree.
//! - **Tempo colours**: today from the tariff name (`HC BLEU`, `HPJR`), else STGE bits 24–25;
//!   tomorrow from STGE bits 26–27 (standard) or DEMAIN (historique).
//! - **The shape** (mode, phases, producer, contract) decides the sensors, never a label's
//!   momentary presence: a meter sends ADPS only during an overcurrent, CCASN once a curve
//!   point is known, yet their sensors exist from the start ([`super::discovery`]).

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use super::guard::Guard;
use crate::capture::Counters;
use crate::record::Record;
use crate::tic::labels::{
    self, classify, energy_label, energy_position, index_in_force, is_mobile_peak, Calendar,
    Colour, Field, Kind, Rate, Slot, LABELS, N_ENERGY,
};
use crate::tic::plausible;
use crate::tic::status::Status;
use crate::tic::{Frame, Mode};

/// One energy index in use, with its published value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Energy {
    /// Its label (`EASF01`, `HCHC`…).
    pub label: &'static str,
    /// Its name (`Off-peak`, `Blue peak`, `Withdrawn`…), see [`Snapshot::name`].
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

/// The tariff period in force, as the meter says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InForce {
    /// The period of an energy index (NTARF's supplier index, PTEC's historique index).
    Index(&'static str),
    /// A period with no index known (an unknown PTEC): the meter's word.
    Text(String),
}

/// What names the supplier indexes: the contract (NGTF, OPTARIF) and the LTARF the meter
/// gave each supplier index 1..10 (two records in a row agreeing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Naming {
    /// The contract's text, as the meter sends it (trimmed).
    pub calendar: String,
    /// The LTARF of each supplier index, as learned.
    pub learned: [Option<String>; 10],
}

impl Naming {
    /// `self`, with the names of `other` where `self` has none, if both are of one contract.
    pub fn or(&self, other: &Naming) -> Naming {
        let mut n = self.clone();
        if other.calendar == self.calendar {
            for (a, b) in n.learned.iter_mut().zip(&other.learned) {
                if a.is_none() {
                    a.clone_from(b);
                }
            }
        }
        n
    }
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
    /// A producer (EAIT, SINSTI, STGE bit 8).
    pub producer: bool,
    /// The record's time.
    pub time: DateTime<FixedOffset>,
    /// The record's file columns: `time`, `time_source`, then its labels.
    pub columns: Arc<[String]>,
    /// The record's cells: `time_source`, then one per label.
    pub cells: Vec<String>,
    /// Values of registry labels the record does not carry, from the frames ([`Heard`]).
    pub heard: Vec<(&'static str, String)>,
    /// The energy indexes in use, with their published values.
    pub energy: Vec<Energy>,
    /// The period in force.
    pub in_force: Option<InForce>,
    /// What names the supplier indexes.
    pub naming: Naming,
    /// The tariff period in force, named ([`Snapshot::name`]).
    pub tariff: Option<String>,
    /// The periods the tariff sensor may show (the contract's and those of the indexes in
    /// use), in a stable order.
    pub tariffs: Vec<String>,
    /// The colours, on a Tempo meter.
    pub tempo: Option<Tempo>,
    /// The status register (standard mode).
    pub status: Option<Status>,
    /// Groups that failed their checksum since the recorder started.
    pub checksum_errors: u64,
    /// Rows held in memory (the files cannot be written).
    pub held_rows: u64,
    /// The subscribed power in force (VA): the bound of a step of an energy index.
    pub power_va: i64,
    /// Seconds of meter time since the record before (the cadence: 1 s, or `--every`), at
    /// most an hour.
    pub cadence_s: u32,
    /// The frames have been heard long enough for the shape to be whole (labels the
    /// records leave out were heard twice, if sent): what no longer belongs to it may be
    /// withdrawn from Home Assistant.
    pub settled: bool,
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

    /// The value of `label`: the record's cell, else what the frames said.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.labels()
            .find(|(l, _)| *l == label)
            .map(|(_, v)| v)
            .or_else(|| {
                self.heard
                    .iter()
                    .find(|(l, _)| *l == label)
                    .map(|(_, v)| v.as_str())
            })
    }

    /// Whether the record carries `label`.
    pub fn records(&self, label: &str) -> bool {
        self.columns.iter().skip(2).any(|c| c == label)
    }

    /// The contract's calendar, if the registry knows it ([`Calendar::of`]).
    pub fn calendar(&self) -> Option<Calendar> {
        Calendar::of(&self.naming.calendar)
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

    /// Names the energy indexes, the period in force and the tariff sensor's options, from
    /// the meter's own pairs, else `remembered` (the names the broker kept from an earlier
    /// run, for the same contract), else the contract's usual order; never two indexes of
    /// one name (see the module doc).
    pub fn name(&mut self, remembered: &Naming) {
        let naming = self.naming.or(remembered);
        let cal = self.calendar();
        let in_use: Vec<&'static str> = self.energy.iter().map(|e| e.label).collect();
        let names = index_names(&in_use, &naming, cal);
        for (e, n) in self.energy.iter_mut().zip(&names) {
            e.name.clone_from(n);
        }
        self.tariff = self.in_force.as_ref().map(|f| match f {
            InForce::Index(l) => in_use
                .iter()
                .position(|x| x == l)
                .and_then(|i| names.get(i).cloned())
                .unwrap_or_else(|| {
                    index_names(&[l], &naming, cal)
                        .pop()
                        .unwrap_or_else(|| (*l).to_owned())
                }),
            InForce::Text(t) => tariff_name(t, 0),
        });
        let mut tariffs = slots(cal);
        let slot_names = self
            .energy
            .iter()
            .filter(|e| {
                labels::label(e.label)
                    .and_then(|l| l.slot())
                    .is_some_and(|s| matches!(s, Slot::Supplier(_) | Slot::Fixed(_)))
            })
            .map(|e| e.name.clone());
        for n in slot_names.chain(self.tariff.clone()) {
            if !tariffs.contains(&n) {
                tariffs.push(n);
            }
        }
        self.tariffs = tariffs;
    }
}

/// What the frames say of one registry label (see the module doc).
#[derive(Clone, Debug, Default)]
struct HeardLabel {
    /// The value of the newest frame that had it.
    last: String,
    /// The value taken: the newest (a measure) or two frames' agreement.
    value: Option<String>,
    /// Frames in a row with the label.
    present: u32,
    /// Frames in a row without it.
    absent: u32,
}

/// What the frames said, label by label (verified groups only), by position in
/// [`LABELS`].
#[derive(Clone, Debug)]
pub struct Heard {
    labels: Vec<HeardLabel>,
    /// Frames seen with verified groups.
    frames: u64,
    meter: Agreed<String>,
}

impl Default for Heard {
    fn default() -> Self {
        Heard {
            labels: vec![HeardLabel::default(); LABELS.len()],
            frames: 0,
            meter: Agreed::default(),
        }
    }
}

impl Heard {
    fn frame(&mut self, f: &Frame<'_>) {
        if f.groups().len() == 0 {
            return;
        }
        self.frames += 1;
        if let Some((_, g)) = Field::MeterId.find(|l| f.get(l)) {
            if is_address(g.value) {
                self.meter.offer(g.value.to_owned());
            }
        }
        let mut seen = [false; 128];
        for g in f.groups() {
            let Some(k) = LABELS.iter().position(|l| l.name == g.label) else {
                continue;
            };
            if seen.get(k).copied().unwrap_or(true) {
                continue;
            }
            seen[k] = true;
            let l = &LABELS[k];
            let h = &mut self.labels[k];
            let agreed = h.present > 0 && h.last == g.value;
            h.last.clear();
            h.last.push_str(g.value);
            h.present += 1;
            h.absent = 0;
            let measure = matches!(
                l.kind,
                Kind::Power | Kind::Current | Kind::Voltage | Kind::LoadCurve | Kind::PowerMax
            );
            if measure || agreed {
                h.value = Some(h.last.clone());
            }
        }
        for (k, h) in self.labels.iter_mut().enumerate() {
            if !seen.get(k).copied().unwrap_or(false) {
                h.present = 0;
                h.absent = h.absent.saturating_add(1);
                if h.absent >= 2 {
                    h.value = None;
                }
            }
        }
    }

    /// The value taken for `label`.
    fn value(&self, label: &str) -> Option<&str> {
        let k = LABELS.iter().position(|l| l.name == label)?;
        self.labels.get(k)?.value.as_deref()
    }

    /// Whether `label` was in the last two frames.
    fn has(&self, k: usize) -> bool {
        self.labels.get(k).is_some_and(|h| h.present >= 2)
    }
}

/// A value taken once two in a row agree.
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

const _: () = assert!(LABELS.len() <= 128, "Heard::frame's seen array");

/// Frames heard before the shape counts as whole ([`Snapshot::settled`]).
const SETTLE_FRAMES: u64 = 2;

/// Turns records into snapshots (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    meter: Option<String>,
    pending: Option<String>,
    guard: Guard,
    naming: Naming,
    /// The last `(NTARF, LTARF)` pair, and the one two records agreed on.
    pair: Agreed<(usize, String)>,
    /// The period in force and its Tempo colour, as two records agree.
    slot: Agreed<Option<(InForce, Option<Colour>)>>,
    /// The contract, as two records (or frames) agree.
    calendar: Agreed<String>,
    heard: Heard,
    /// Frames heard when the meter (or its contract) was taken.
    frames_at_start: u64,
    last_time: Option<i64>,
}

impl Tracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// A decoded frame's verified groups.
    pub fn frame(&mut self, f: &Frame<'_>) {
        self.heard.frame(f);
    }

    /// A record the recorder wrote (or holds), with the counts then. `None` while its
    /// meter's address waits for the next record's confirmation.
    pub fn record(&mut self, r: &Record, c: &Counters) -> Option<Snapshot> {
        let id = Field::MeterId
            .find(|l| r.get(l))
            .map(|(_, v)| v)
            .filter(|v| is_address(v))
            .map(str::to_owned)
            .or_else(|| self.heard.meter.value.clone())?;
        let columns = r.columns.get(2..).unwrap_or_default();
        // The labels the record carries and those two frames in a row had.
        let registry: Vec<&'static labels::Label> = columns
            .iter()
            .filter_map(|l| labels::label(l))
            .chain(
                LABELS
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| self.heard.has(*k))
                    .map(|(_, l)| l),
            )
            .collect();
        let mode = if r.get(Field::MeterId.label(Mode::Historique)).is_some()
            || registry.iter().any(|l| l.mode == Mode::Historique)
        {
            Mode::Historique
        } else {
            Mode::Standard
        };
        let phases = if registry.iter().any(|l| l.three_phase) {
            3
        } else {
            1
        };
        let whose = self.whose(&id);
        if whose == Whose::Doubt {
            return None;
        }
        let status = r
            .get("STGE")
            .or_else(|| self.heard.value("STGE"))
            .and_then(Status::parse);
        let producer = registry.iter().any(|l| l.producer) || status.is_some_and(|s| s.producer());
        // The guard.
        let t = r.time.timestamp();
        let power = subscribed_va(r, &self.heard, phases == 3);
        self.guard.set_power(power);
        for (label, cell) in columns.iter().zip(r.cells.iter().skip(1)) {
            if let (Some(k), Ok(v)) = (energy_position(label), cell.parse::<i64>()) {
                self.guard.feed(k, t, v);
            }
        }
        // The contract: a change starts the names again (its indexes may mean other
        // periods), not the indexes.
        let calendar = Field::Contract
            .find(|l| r.get(l).or_else(|| self.heard.value(l)))
            .map(|(_, c)| c.trim().to_owned());
        if let Some(c) = calendar {
            self.calendar.offer(c);
        }
        if let Some(c) = self.calendar.value.clone() {
            if c != self.naming.calendar {
                if !self.naming.calendar.is_empty() {
                    // A change of contract (not the first one said).
                    self.frames_at_start = self.heard.frames;
                    self.slot = Agreed::default();
                }
                self.naming = Naming {
                    calendar: c,
                    ..Naming::default()
                };
            }
        }
        // Tariff names: a `(NTARF, LTARF)` pair is learned, and the slot in force taken, once
        // two records in a row agree (a garbled tariff name that passed its checksum never
        // names a sensor nor becomes an option of the tariff sensor).
        let ntarf = r.get("NTARF").and_then(|v| v.parse::<usize>().ok());
        if let (Some(n), Some(lt)) = (ntarf, r.get("LTARF").filter(|l| !l.is_empty())) {
            self.pair.offer((n, lt.trim().to_owned()));
            if let Some((n, lt)) = self.pair.value.clone() {
                if let Some(slot) = n
                    .checked_sub(1)
                    .and_then(|i| self.naming.learned.get_mut(i))
                {
                    *slot = Some(lt);
                }
            }
        }
        let index = index_in_force(|l| r.get(l));
        let name = Field::TariffName.find(|l| r.get(l)).map(|(_, v)| v);
        let in_force = index
            .map(InForce::Index)
            .or_else(|| name.map(|n| InForce::Text(n.trim().to_owned())));
        let colour = name.map(classify).and_then(|c| c.colour);
        self.slot.offer(in_force.map(|s| (s, colour)));
        if whose == Whose::Prospect {
            self.last_time = Some(t);
            return None;
        }
        let cadence_s = self
            .last_time
            .map_or(1, |p| t.saturating_sub(p).clamp(1, 3600) as u32);
        self.last_time = Some(t);
        let (in_force, tariff_colour) = match self.slot.value.clone().flatten() {
            Some((s, c)) => (Some(s), c),
            None => (None, None),
        };
        let energy: Vec<Energy> = (0..N_ENERGY)
            .filter_map(|k| {
                let wh = self.guard.published(k)?;
                let l = energy_label(k);
                Some(Energy {
                    label: l.name,
                    name: String::new(),
                    wh,
                    distributor: matches!(l.slot(), Some(Slot::Distributor(_))),
                })
            })
            .collect();
        // Tempo colours.
        let value = |label: &str| r.get(label).or_else(|| self.heard.value(label));
        let stge_today = status.and_then(|s| s.colour_today());
        let says_tomorrow = match mode {
            Mode::Standard => status.is_some(),
            Mode::Historique => value("DEMAIN").is_some(),
        };
        let tomorrow = match mode {
            Mode::Standard => status.and_then(|s| s.colour_tomorrow()),
            Mode::Historique => value("DEMAIN").and_then(Colour::from_demain),
        };
        let today = tariff_colour.or(stge_today);
        let cal = Calendar::of(&self.naming.calendar);
        let is_tempo = cal == Some(Calendar::Tempo) || today.is_some() || tomorrow.is_some();
        let tempo = is_tempo.then_some(Tempo {
            today,
            tomorrow,
            says_tomorrow,
        });
        let heard = LABELS
            .iter()
            .filter(|l| !l.is_energy() && l.kind != Kind::MeterId)
            .filter(|l| !columns.iter().any(|c| c == l.name))
            .filter_map(|l| Some((l.name, self.heard.value(l.name)?.to_owned())))
            .collect();
        let mut s = Snapshot {
            meter: id,
            mode,
            phases,
            producer,
            time: r.time,
            columns: Arc::clone(&r.columns),
            cells: r.cells.clone(),
            heard,
            energy,
            in_force,
            naming: self.naming.clone(),
            tariff: None,
            tariffs: Vec::new(),
            tempo,
            status,
            checksum_errors: c.decoder.groups_bad,
            held_rows: c.held,
            power_va: self.guard.power(),
            cadence_s,
            settled: self.heard.frames >= self.frames_at_start + SETTLE_FRAMES,
        };
        s.name(&Naming::default());
        Some(s)
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
                let heard = std::mem::take(&mut self.heard);
                *self = Tracker {
                    frames_at_start: heard.frames,
                    heard,
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

/// A meter address usable in topics and identifiers: 6 to 16 ASCII digits or letters.
fn is_address(v: &str) -> bool {
    (6..=16).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Subscribed apparent power in VA ([`plausible::subscribed_va`]: max(PREF, PCOUP) kVA, or
/// ISOUSC × 200 V, × 600 on three phases), as the export reads it; from the record, else the
/// frames.
fn subscribed_va(r: &Record, heard: &Heard, three_phase: bool) -> Option<i64> {
    let mut va = None;
    for l in LABELS.iter().filter(|l| l.kind == Kind::Subscribed) {
        if let Some(v) = r
            .get(l.name)
            .or_else(|| heard.value(l.name))
            .and_then(|c| c.parse::<i64>().ok())
        {
            va = plausible::subscribed_va(va, l.unit, v, three_phase);
        }
    }
    va
}

/// The usual name of supplier index `n` (1..10) before the meter names it: what the
/// calendar the contract names says ([`Calendar::supplier_class`]), in English.
fn default_name(cal: Option<Calendar>, n: u8) -> Option<String> {
    cal?.supplier_class(n).map(|c| class_name(c.rate, c.colour))
}

/// The periods of the contract, in index order.
fn slots(cal: Option<Calendar>) -> Vec<String> {
    (1..=10).map_while(|n| default_name(cal, n)).collect()
}

/// The names of the energy indexes `in_use`, in order. Supplier indexes: the meter's pair
/// (learned or remembered), else the contract's usual name — unless a learned name already
/// holds it (a meter with peak on index 1): the contract's names no index learned are then
/// given in order to the indexes not learned, when as many are left, else `Index n`.
fn index_names(in_use: &[&'static str], naming: &Naming, cal: Option<Calendar>) -> Vec<String> {
    let learned = |n: u8| {
        naming
            .learned
            .get(usize::from(n).saturating_sub(1))
            .cloned()
            .flatten()
            .map(|lt| tariff_name(&lt, n))
    };
    let supplier = |l: &str| match labels::label(l).and_then(|l| l.slot()) {
        Some(Slot::Supplier(n)) => Some(n),
        _ => None,
    };
    let taken: Vec<String> = (1..=10).filter_map(learned).collect();
    let slots = slots(cal);
    let clash = (1..=slots.len() as u8)
        .any(|n| learned(n).is_none() && default_name(cal, n).is_some_and(|d| taken.contains(&d)));
    let free: Vec<&String> = slots.iter().filter(|s| !taken.contains(s)).collect();
    let unlearned: Vec<u8> = (1..=slots.len() as u8)
        .filter(|&n| learned(n).is_none())
        .collect();
    let mut names: Vec<String> = in_use
        .iter()
        .map(|&l| {
            let Some(n) = supplier(l) else {
                return fixed_name(l);
            };
            if let Some(name) = learned(n) {
                return name;
            }
            let guess = if !clash {
                default_name(cal, n)
            } else if free.len() == unlearned.len() {
                unlearned
                    .iter()
                    .position(|&u| u == n)
                    .and_then(|i| free.get(i))
                    .map(|s| (*s).clone())
            } else {
                None
            };
            guess.unwrap_or_else(|| format!("Index {n}"))
        })
        .collect();
    // Two periods the meter names alike (`HEURES CREUSES`, `HEURES SUPER CREUSES` both
    // read as off-peak): told apart by their index.
    let counts: Vec<usize> = names
        .iter()
        .map(|n| names.iter().filter(|m| *m == n).count())
        .collect();
    for ((name, &l), count) in names.iter_mut().zip(in_use).zip(counts) {
        if let (Some(n), true) = (supplier(l), count > 1) {
            name.push_str(&format!(" (index {n})"));
        }
    }
    names
}

/// The name of an index that is not a supplier index.
fn fixed_name(label: &str) -> String {
    let Some(l) = labels::label(label) else {
        return label.to_owned();
    };
    match l.slot() {
        Some(Slot::Total) if l.name == "BASE" => "Base".to_owned(),
        Some(Slot::Total) => "Withdrawn".to_owned(),
        Some(Slot::Injected) => "Injected".to_owned(),
        Some(Slot::Distributor(n)) => format!("Distributor index {n}"),
        Some(Slot::Fixed(c)) if c.rate != Rate::Other => class_name(c.rate, c.colour),
        Some(Slot::Fixed(_)) => match l.name {
            "EJPHN" => "Normal".to_owned(),
            "EJPHPM" => "Mobile peak".to_owned(),
            other => other.to_owned(),
        },
        Some(Slot::Supplier(n)) => format!("Index {n}"),
        None => l.name.to_owned(),
    }
}

/// `Off-peak`, `Peak`, `Blue off-peak`…
fn class_name(rate: Rate, colour: Option<Colour>) -> String {
    let r = match rate {
        Rate::Hc => "off-peak",
        Rate::Hp => "peak",
        Rate::Other => "base",
    };
    match colour {
        Some(c) => format!("{} {r}", colour_name(c)),
        None => {
            let mut s = r.to_owned();
            s[..1].make_ascii_uppercase();
            s
        }
    }
}

/// A tariff period's name as Home Assistant shows it, in English: `Off-peak`, `Peak`, `Blue
/// peak`, `Base`, `Normal`, `Mobile peak` for the words the registry knows; any other text
/// is the supplier's own name for the period, shown as the meter says it in sentence case
/// (`Heures super creuses`); `Index n` for an empty one.
pub fn tariff_name(text: &str, n: u8) -> String {
    let c = classify(text);
    if c.rate != Rate::Other {
        return class_name(c.rate, c.colour);
    }
    let u = text.trim().to_ascii_uppercase();
    if is_mobile_peak(&u) {
        return "Mobile peak".to_owned();
    }
    if u.starts_with("HN") || u.contains("NORMAL") {
        return "Normal".to_owned();
    }
    if u.starts_with("TH") || u == "BASE" {
        return "Base".to_owned();
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

/// The name of a colour in the state message and Home Assistant: `Blue`, `White`, `Red`.
pub fn colour_name(c: Colour) -> &'static str {
    match c {
        Colour::Blue => "Blue",
        Colour::White => "White",
        Colour::Red => "Red",
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

    /// Feeds a frame of `groups` (standard mode) to `t`.
    fn frame(t: &mut Tracker, mode: Mode, groups: &[(&str, Option<&str>, &str)]) {
        let mut bytes = Vec::new();
        crate::tic::encode::push_frame(&mut bytes, mode, groups);
        let mut d = crate::tic::Decoder::new(crate::tic::Config::default());
        let (f, _) = d.decode(&bytes);
        t.frame(&f.unwrap());
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
        assert_eq!(
            names,
            [("EASF01", "Off-peak", 100), ("EASF02", "Peak", 200)]
        );
        assert_eq!(s.tariff.as_deref(), Some("Peak"));
        assert_eq!(s.tariffs, ["Off-peak", "Peak"]);
        assert_eq!(s.tempo, None);
        assert_eq!(s.cadence_s, 1);
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
        assert_eq!(s.tariff.as_deref(), Some("Off-peak"));
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
            assert_eq!(s.tariff.as_deref(), Some("Peak"), "{ltarf}");
            assert_eq!(s.tariffs, ["Off-peak", "Peak"]);
            assert!(s
                .energy
                .iter()
                .all(|e| e.name == "Off-peak" || e.name == "Peak"));
        }
        // A real change shows one record later.
        let s = t.record(&rec(4, "1", "HEURE CREUSE"), &c).unwrap();
        assert_eq!(s.tariff.as_deref(), Some("Peak"));
        let s = t.record(&rec(5, "1", "HEURE CREUSE"), &c).unwrap();
        assert_eq!(s.tariff.as_deref(), Some("Off-peak"));
    }

    /// Issue 18 (4): a meter with peak on index 1 and off-peak on index 2 never shows two
    /// indexes of one name, and a name the broker remembers (an earlier run's) comes back
    /// after a restart before the meter says it again.
    #[test]
    fn swapped_indexes_never_share_a_name_and_remembered_names_come_back() {
        let c = Counters::default();
        let a = "041876097171";
        let rec = |k| std_rec(k, a, "1", "HEURE PLEINE", ["100", "200"]);
        let mut t = Tracker::new();
        t.record(&rec(0), &c);
        let s = t.record(&rec(1), &c).unwrap();
        let names: Vec<_> = s.energy.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["Peak", "Off-peak"],
            "the other period, not Peak twice"
        );
        assert_eq!(s.tariff.as_deref(), Some("Peak"));
        assert_eq!(s.naming.learned[0].as_deref(), Some("HEURE PLEINE"));
        // A restart: the tracker knows nothing; the broker remembers index 1 = peak.
        let mut t = Tracker::new();
        let rec2 = |k| std_rec(k, a, "2", "HEURE CREUSE", ["100", "200"]);
        t.record(&rec2(0), &c);
        let mut s = t.record(&rec2(1), &c).unwrap();
        let names: Vec<_> = s.energy.iter().map(|e| e.name.clone()).collect();
        assert_eq!(
            names,
            ["Peak", "Off-peak"],
            "learned now: index 2 is off-peak"
        );
        let remembered = Naming {
            calendar: "H PLEINE/CREUSE".into(),
            learned: [
                Some("HEURE PLEINE".into()),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ],
        };
        s.name(&remembered);
        let names: Vec<_> = s.energy.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["Peak", "Off-peak"]);
        // Another contract's names are not taken.
        let mut other = remembered.clone();
        other.calendar = "TEMPO".into();
        other.learned[1] = Some("HC BLEU".into());
        s.naming.learned[1] = None;
        s.name(&other);
        assert_eq!(s.energy[1].name, "Peak", "the contract's usual name");
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
        for _ in 0..2 {
            frame(&mut t, Mode::Standard, &[("STGE", None, &stge)]);
        }
        t.record(&rec(0, "HP  BLANC"), &c);
        let s = t.record(&rec(1, "HP  BLANC"), &c).unwrap();
        let names: Vec<_> = s.energy.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["Blue off-peak", "Blue peak", "White off-peak", "White peak"],
            "zeros not in use"
        );
        assert_eq!(s.tariff.as_deref(), Some("White peak"));
        assert_eq!(s.tariffs.len(), 6);
        assert_eq!(
            s.tempo,
            Some(Tempo {
                today: Some(Colour::White),
                tomorrow: Some(Colour::Red),
                says_tomorrow: true
            })
        );
        assert_eq!(s.get("STGE"), Some(stge.as_str()), "heard");
        assert_eq!(s.status.map(|x| x.supplier_index()), Some(3));
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
        let demain = |t: &mut Tracker| frame(t, Mode::Historique, &[("DEMAIN", None, "ROUG")]);
        demain(&mut t);
        t.record(&rec(0, "HPJB"), &c);
        let s = t.record(&rec(1, "HPJB"), &c).unwrap();
        assert_eq!(s.mode, Mode::Historique);
        assert_eq!(s.tariff.as_deref(), Some("Blue peak"));
        let tempo = s.tempo.unwrap();
        assert_eq!(tempo.today, Some(Colour::Blue));
        assert_eq!(tempo.tomorrow, None, "one frame is not enough");
        demain(&mut t);
        let s = t.record(&rec(2, "HPJB"), &c).unwrap();
        assert_eq!(s.tempo.unwrap().tomorrow, Some(Colour::Red));
    }

    /// What the records leave out comes from the frames: a measure at once, anything else
    /// once two frames agree; a label gone from two frames is gone (ADPS after an
    /// overcurrent).
    #[test]
    fn heard_labels() {
        let mut t = Tracker::new();
        let c = Counters::default();
        let rec = |k: i64| {
            record(
                k,
                &[
                    ("ADCO", "031328187235"),
                    ("OPTARIF", "HC.."),
                    ("PTEC", "HC.."),
                    ("HCHC", "100"),
                    ("HCHP", "200"),
                    ("IINST", "3"),
                ],
            )
        };
        let h = Mode::Historique;
        frame(
            &mut t,
            h,
            &[("ADPS", None, "033"), ("MOTDETAT", None, "000000")],
        );
        t.record(&rec(0), &c);
        let s = t.record(&rec(1), &c).unwrap();
        assert_eq!(s.get("ADPS"), Some("033"), "a measure at once");
        assert_eq!(s.get("MOTDETAT"), None, "a word once two frames agree");
        frame(
            &mut t,
            h,
            &[("ADPS", None, "034"), ("MOTDETAT", None, "000000")],
        );
        frame(
            &mut t,
            h,
            &[("MOTDETAT", None, "000000"), ("IINST", None, "9")],
        );
        let s = t.record(&rec(2), &c).unwrap();
        assert_eq!(s.get("ADPS"), Some("034"), "absent from one frame only");
        assert_eq!(s.get("MOTDETAT"), Some("000000"));
        assert_eq!(s.get("IINST"), Some("3"), "the record's, not the frame's");
        assert!(!s.heard.iter().any(|(l, _)| *l == "IINST"));
        frame(&mut t, h, &[("MOTDETAT", None, "000000")]);
        let s = t.record(&rec(3), &c).unwrap();
        assert_eq!(s.get("ADPS"), None, "gone");
        assert!(s.settled);
    }

    #[test]
    fn names() {
        let none = Naming::default();
        let one = |label: &'static str, cal| index_names(&[label], &none, cal).pop().unwrap();
        let cases = [
            ("EAST", Some(Calendar::HcHp), "Withdrawn"),
            ("BASE", Some(Calendar::Base), "Base"),
            ("EAIT", Some(Calendar::Base), "Injected"),
            ("EASD02", Some(Calendar::HcHp), "Distributor index 2"),
            ("HCHC", Some(Calendar::HcHp), "Off-peak"),
            ("BBRHPJR", Some(Calendar::Tempo), "Red peak"),
            ("EJPHPM", None, "Mobile peak"),
            ("EASF02", Some(Calendar::HcHp), "Peak"),
            ("EASF05", Some(Calendar::Tempo), "Red off-peak"),
            ("EASF01", Some(Calendar::Base), "Base"),
            ("EASF02", Some(Calendar::Ejp), "Index 2"),
            ("EASF03", None, "Index 3"),
        ];
        for (label, cal, want) in cases {
            assert_eq!(one(label, cal), want, "{label}");
        }
        let mut learned = none.clone();
        learned.learned[2] = Some("HEURE  NORMALE".into());
        learned.learned[3] = Some("HEURES SUPER CREUSES".into());
        assert_eq!(
            index_names(&["EASF03", "EASF04"], &learned, None),
            ["Normal", "Off-peak"]
        );
        learned.learned[4] = Some("HEURES CREUSES".into());
        assert_eq!(
            index_names(&["EASF04", "EASF05"], &learned, None),
            ["Off-peak (index 4)", "Off-peak (index 5)"]
        );
        assert_eq!(tariff_name("HEURE  CREUSE", 1), "Off-peak");
        assert_eq!(tariff_name("HC BLEU", 1), "Blue off-peak");
        assert_eq!(tariff_name("HEURE POINTE MOBILE", 2), "Mobile peak");
        assert_eq!(tariff_name("ETE  JOUR", 2), "Ete jour");
        assert_eq!(tariff_name("....", 4), "Index 4");
        // A contract `cost` reads as HC/HP names off-peak and peak here too.
        for contract in [
            "H PLEINE/CREUSE",
            "H SUPER CREUSES",
            "HC..",
            "HC SEM WE MERCR",
        ] {
            assert_eq!(
                slots(Calendar::of(contract)),
                ["Off-peak", "Peak"],
                "{contract}"
            );
        }
        assert_eq!(slots(Calendar::of("TEMPO")).len(), 6);
        assert_eq!(slots(Calendar::of("BASE")), ["Base"]);
        assert_eq!(slots(Calendar::of("PRODUCTEUR")), Vec::<String>::new());
    }

    #[test]
    fn addresses_and_power() {
        assert!(is_address("041876097171"));
        for bad in ["", "0418/6097171", "04187609717+", "12345"] {
            assert!(!is_address(bad), "{bad}");
        }
        let h = Heard::default();
        let r = record(0, &[("PREF", "6"), ("PCOUP", "9")]);
        assert_eq!(subscribed_va(&r, &h, false), Some(9000));
        let r = record(0, &[("ISOUSC", "30")]);
        assert_eq!(subscribed_va(&r, &h, false), Some(6000));
        assert_eq!(subscribed_va(&r, &h, true), Some(18000));
        assert_eq!(subscribed_va(&record(0, &[("EAST", "1")]), &h, false), None);
    }
}
