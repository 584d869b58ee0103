//! What the Now page, `/api/now` and `/metrics` show: the last record (from the recorder's
//! memory with `record --http`, else from the files), today's kWh per slot (the export's
//! table of the last record's day) and the link counters.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::data::{Data, DataError};
use super::live::{LastRecord, Live};
use crate::capture::Counters;
use crate::export::{Table, Tariffs, ENERGY_LABELS, N_ENERGY};
use crate::store::Catalog;
use crate::tic::labels::{classify, energy_label, Class, Colour, Field, Rate, Slot};

/// Where the values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The recorder in this process (`record --http`).
    Recorder,
    /// The files of the data directory (`serve`).
    Files,
}

impl Source {
    /// `recorder` or `files`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Recorder => "recorder",
            Source::Files => "files",
        }
    }
}

/// One energy index of the last record.
#[derive(Clone, Debug)]
pub struct Index {
    /// Its label (EAST, EASF01, HCHC…).
    pub label: &'static str,
    /// The slot it counts, as a metric label: `total`, `hc`, `hp`, `hc_blue`…, `other`,
    /// `distributor`, `injected`.
    pub slot: String,
    /// Its value, Wh.
    pub wh: i64,
}

/// The view now.
#[derive(Clone, Debug)]
pub struct Now {
    /// Where it comes from.
    pub source: Source,
    /// The last record.
    pub record: Option<LastRecord>,
    /// The power label read (SINSTS or PAPP) and its value, VA.
    pub power: Option<(&'static str, i64)>,
    /// The tariff period's name (LTARF or PTEC) and its class.
    pub tariff: Option<(String, Class)>,
    /// Tempo colour today and tomorrow, when the meter says them.
    pub colour_today: Option<Colour>,
    /// See [`Now::colour_today`].
    pub colour_tomorrow: Option<Colour>,
    /// The energy indexes of the last record.
    pub indexes: Vec<Index>,
    /// The day of the last record and its table so far (the export's numbers).
    pub today: Option<(NaiveDate, Arc<Table>)>,
    /// The recorder's counters (with `record --http` only).
    pub counters: Option<Counters>,
    /// The recorder's MQTT link (with `record --http --mqtt` only).
    pub mqtt: Option<crate::mqtt::LinkStatus>,
    /// The class of each energy index (see [`Data::classes`]).
    pub classes: [Option<Class>; N_ENERGY],
}

impl Now {
    /// The time of the last record.
    pub fn time(&self) -> Option<DateTime<FixedOffset>> {
        self.record.as_ref().and_then(|r| r.time)
    }

    /// Seconds since the last record (by this machine's clock).
    pub fn age_s(&self) -> Option<i64> {
        self.time()
            .map(|t| (chrono::Utc::now().timestamp() - t.timestamp()).max(0))
    }
}

/// The view now: from `live` when it has a record, else from the files.
pub fn now(data: &Data, catalog: Option<&Catalog>, live: Option<&Live>) -> Result<Now, DataError> {
    let snap = live.map(Live::snapshot);
    let from_live = snap.as_ref().filter(|s| s.record.time.is_some());
    let (record, source) = match from_live {
        Some(s) => (Some(s.record.clone()), Source::Recorder),
        None => match catalog {
            Some(c) => (data.last_record(c)?, Source::Files),
            None => (None, Source::Files),
        },
    };
    let source = if live.is_some() {
        Source::Recorder
    } else {
        source
    };
    let mut tariffs = Tariffs::default();
    if let Some(s) = &snap {
        for (i, c) in s.supplier.iter().enumerate() {
            if let Some(c) = c {
                tariffs.learn(i as u8 + 1, &class_word(*c));
            }
        }
    }
    let mut out = Now {
        source,
        record: None,
        power: None,
        tariff: None,
        colour_today: snap.as_ref().and_then(|s| s.colour_today),
        colour_tomorrow: snap.as_ref().and_then(|s| s.colour_tomorrow),
        indexes: Vec::new(),
        today: None,
        counters: snap.as_ref().map(|s| s.counters),
        mqtt: live.and_then(Live::mqtt),
        classes: tariffs.classes(),
    };
    let Some(record) = record else {
        return Ok(out);
    };
    out.power = Field::Power.find(|l| record.int(l));
    if let Some((_, name)) = Field::TariffName.find(|l| record.cell(l)) {
        let class = classify(name);
        out.tariff = Some((name.to_owned(), class));
        if out.colour_today.is_none() {
            out.colour_today = class.colour;
        }
        if let (Some(n), Some(l)) = (record.int("NTARF"), record.cell("LTARF")) {
            if let Ok(n) = u8::try_from(n) {
                tariffs.learn(n, l);
            }
        }
    }
    if out.colour_tomorrow.is_none() {
        out.colour_tomorrow = colours_of_cells(&record).1;
    }
    if let (Some(t), Some(c)) = (record.time, catalog) {
        let day = t.with_timezone(&crate::store::TZ).date_naive();
        if c.day(day).is_some() {
            // Inside the recorder the live values stand without the files: a day that cannot
            // be read leaves today's table out (the page says so), not the whole answer.
            match data.today(c, day) {
                Ok(t) => out.today = Some((day, t)),
                Err(e) if live.is_none() => return Err(e),
                Err(_) => {}
            }
        }
    }
    // The export learns the classes from the (NTARF, LTARF) pairs of the last month; the
    // recorder's memory, from those since it started (and when the files cannot be read).
    let classes = match catalog.map(|c| data.classes(c)) {
        Some(Ok(c)) => c,
        Some(Err(e)) if live.is_none() => return Err(e),
        Some(Err(_)) | None => tariffs.classes(),
    };
    out.classes = classes;
    for (k, label) in ENERGY_LABELS.iter().enumerate() {
        if let Some(wh) = record.int(label) {
            out.indexes.push(Index {
                label,
                slot: slot_name(k, &classes),
                wh,
            });
        }
    }
    out.record = Some(record);
    Ok(out)
}

/// A tariff word that [`classify`] maps back to `c`.
fn class_word(c: Class) -> String {
    let rate = match c.rate {
        Rate::Hc => "HC",
        Rate::Hp => "HP",
        Rate::Other => "BASE",
    };
    match c.colour {
        Some(col) => format!("{rate} {}", col.french()),
        None => rate.to_owned(),
    }
}

/// Today's and tomorrow's colours from recorded STGE or DEMAIN cells (`--labels`).
fn colours_of_cells(r: &LastRecord) -> (Option<Colour>, Option<Colour>) {
    let stge = |bits: u32| match bits & 3 {
        1 => Some(Colour::Blue),
        2 => Some(Colour::White),
        3 => Some(Colour::Red),
        _ => None,
    };
    if let Some(s) = r.cell("STGE").and_then(|s| u32::from_str_radix(s, 16).ok()) {
        return (stge(s >> 24), stge(s >> 26));
    }
    let tomorrow = match r.cell("DEMAIN") {
        Some("BLEU") => Some(Colour::Blue),
        Some("BLAN") => Some(Colour::White),
        Some("ROUG") => Some(Colour::Red),
        _ => None,
    };
    (None, tomorrow)
}

/// The metric slot name of a class: `hc`, `hp`, `other`, with `_blue`… for Tempo.
pub fn class_slot(c: Class) -> String {
    match c.colour {
        Some(col) => format!("{}_{}", c.rate.name(), col.name()),
        None => c.rate.name().to_owned(),
    }
}

/// The slot of energy index `k`: its class, or what its registry slot says.
pub fn slot_name(k: usize, classes: &[Option<Class>; N_ENERGY]) -> String {
    if let Some(c) = classes[k] {
        return class_slot(c);
    }
    match energy_label(k).slot() {
        Some(Slot::Total) => "total".into(),
        Some(Slot::Distributor(_)) => "distributor".into(),
        Some(Slot::Injected) => "injected".into(),
        _ => "other".into(),
    }
}
