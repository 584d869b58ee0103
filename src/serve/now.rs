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
use crate::tic::plausible::{possible, DEFAULT_POWER_VA};

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
            let refresh = if from_live.is_some() {
                super::data::TODAY_REFRESH_LIVE
            } else {
                super::data::TODAY_REFRESH
            };
            match data.today(c, day, refresh) {
                Ok(table) => {
                    // Inside the recorder the files are read at most every 5 minutes: what
                    // the live indexes rose since comes from memory.
                    let table = match from_live {
                        Some(_) => {
                            plus_live(&table, &record, t.timestamp()).map_or(table, Arc::new)
                        }
                        None => table,
                    };
                    out.today = Some((day, table));
                }
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

/// `table` (today's, one row) with what each index of the live `record` (at `now`) rose
/// since the last value the table credited: the export's figure of the day so far, without
/// reading the day again. A fall, or a rise the subscribed power does not allow (a glitch the
/// next read of the day will judge), adds nothing; `None` when nothing changes.
fn plus_live(table: &Table, record: &LastRecord, now: i64) -> Option<Table> {
    if table.rows.len() != 1 {
        return None;
    }
    let mut out = table.clone();
    let mut changed = false;
    for &k in &table.labels {
        let (Some((t0, v0)), Some(v)) = (table.last[k], record.int(ENERGY_LABELS[k])) else {
            continue;
        };
        if now <= t0 || v == v0 || !possible(DEFAULT_POWER_VA, (t0, v0), (now, v)) {
            continue;
        }
        let row = &mut out.rows[0];
        if let Some(w) = row.wh[k].as_mut() {
            *w += v - v0;
            out.last[k] = Some((now, v));
            changed = true;
        }
    }
    changed.then_some(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{Flags, Row};

    fn record(east: &str) -> LastRecord {
        LastRecord {
            time: None,
            columns: ["time", "time_source", "EAST"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            cells: vec!["meter".into(), east.into()],
        }
    }

    #[test]
    fn today_so_far_adds_what_the_live_index_rose() {
        let east = ENERGY_LABELS
            .iter()
            .position(|l| *l == "EAST")
            .expect("EAST");
        let mut wh = [None; N_ENERGY];
        wh[east] = Some(1000);
        let mut last = [None; N_ENERGY];
        last[east] = Some((100, 5000));
        let table = Table {
            labels: vec![east],
            tariffs: Tariffs::default(),
            rows: vec![Row {
                start: 0,
                end: 86_400,
                wh,
                records: Some(10),
                coverage: Some(1.0),
                max_gap_s: Some(60),
                first_record: Some(0),
                last_record: Some(100),
                flags: Flags::default(),
            }],
            last,
        };
        let t = plus_live(&table, &record("5200"), 200).expect("rose");
        assert_eq!(t.rows[0].wh[east], Some(1200));
        assert_eq!(t.last[east], Some((200, 5200)));
        // A glitch, a fall, no change, an older record: nothing added.
        for (v, now) in [
            ("999999999", 200),
            ("4000", 200),
            ("5000", 200),
            ("5200", 50),
        ] {
            assert!(plus_live(&table, &record(v), now).is_none(), "{v} at {now}");
        }
    }
}
