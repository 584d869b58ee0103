//! The live view of a running recorder: an [`Observer`] that copies the last record, the
//! counters and the Tempo colours into a shared [`Snapshot`], which the server's threads
//! clone.
//!
//! The recording thread holds the lock only to copy a few strings (the cells reuse their
//! buffers: microseconds), never across any I/O; the server's threads hold it only to clone
//! the snapshot. So a slow or stuck client can never delay a row: at worst the recorder waits
//! for a clone in progress.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use crate::capture::{Counters, Event, Observer};
use crate::tic::labels::{classify, Class, Colour, Field};

/// The last record, as the recorder wrote it.
#[derive(Clone, Debug, Default)]
pub struct LastRecord {
    /// Its time.
    pub time: Option<DateTime<FixedOffset>>,
    /// The file columns (`time`, `time_source`, the labels).
    pub columns: Arc<[String]>,
    /// `time_source`, then one cell per label.
    pub cells: Vec<String>,
}

impl LastRecord {
    /// The cell of `label`, if the record has it (and it is not empty).
    pub fn cell(&self, label: &str) -> Option<&str> {
        let j = self.columns.iter().skip(1).position(|c| c == label)?;
        self.cells
            .get(j)
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    }

    /// The integer cell of `label`.
    pub fn int(&self, label: &str) -> Option<i64> {
        self.cell(label)?.parse().ok()
    }
}

/// What the recorder knows now.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Bumped at every record.
    pub version: u64,
    /// The last record (none before the first).
    pub record: LastRecord,
    /// The recorder's counts (frames, checksum errors, port reopens, rows written…).
    pub counters: Counters,
    /// The Tempo colour of today and of tomorrow, as the meter says it (STGE bits 24–27 in
    /// standard mode, DEMAIN in historique mode); `None` when it says none.
    pub colour_today: Option<Colour>,
    /// See [`Snapshot::colour_today`].
    pub colour_tomorrow: Option<Colour>,
    /// The class of each supplier index (EASF01..10) learned from the `(NTARF, LTARF)` pairs
    /// of the records seen.
    pub supplier: [Option<Class>; 10],
}

/// The snapshot and the signal of a new record.
#[derive(Default)]
struct Shared {
    snap: Mutex<Snapshot>,
    changed: Condvar,
}

/// The shared snapshot (and the recorder's MQTT link, if it has one).
#[derive(Clone, Default)]
pub struct Live {
    shared: Arc<Shared>,
    mqtt: Option<crate::mqtt::MqttHandle>,
}

impl Live {
    /// An empty snapshot.
    pub fn new() -> Live {
        Live::default()
    }

    /// The same, also showing the state of the recorder's MQTT link (`/metrics`, `/api/now`).
    pub fn with_mqtt(mut self, mqtt: crate::mqtt::MqttHandle) -> Live {
        self.mqtt = Some(mqtt);
        self
    }

    /// The MQTT link's state now, if the recorder publishes.
    pub fn mqtt(&self) -> Option<crate::mqtt::LinkStatus> {
        self.mqtt.as_ref().map(crate::mqtt::MqttHandle::status)
    }

    /// The observer to add to the recorder's [`crate::capture::Fanout`].
    pub fn observer(&self) -> LiveObserver {
        LiveObserver {
            shared: Arc::clone(&self.shared),
        }
    }

    /// A copy of the snapshot now.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.shared.snap).clone()
    }

    /// Waits until the snapshot's version is not `seen` (a new record) or `timeout` has
    /// passed; the version then. The recorder only signals: it never waits for a waiter.
    pub fn wait_change(&self, seen: u64, timeout: Duration) -> u64 {
        let g = lock(&self.shared.snap);
        let (g, _) = self
            .shared
            .changed
            .wait_timeout_while(g, timeout, |s| s.version == seen)
            .unwrap_or_else(|e| e.into_inner());
        g.version
    }
}

fn lock(m: &Mutex<Snapshot>) -> MutexGuard<'_, Snapshot> {
    // A panic elsewhere while holding it leaves plain data: still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copies what it sees into the [`Live`] snapshot; returns at once.
pub struct LiveObserver {
    shared: Arc<Shared>,
}

/// Today's and tomorrow's Tempo colours of a frame, if it says them.
fn frame_colours(frame: &crate::tic::Frame<'_>) -> Option<(Option<Colour>, Option<Colour>)> {
    if let Some(g) = frame.get("STGE") {
        return Colour::from_stge(g.value);
    }
    let tomorrow = Colour::from_demain(frame.get("DEMAIN")?.value);
    let today = Field::TariffName
        .find(|l| frame.get(l))
        .and_then(|(_, p)| classify(p.value).colour);
    Some((today, tomorrow))
}

impl Observer for LiveObserver {
    fn event(&mut self, event: &Event<'_>) {
        match *event {
            Event::Frame(frame) => {
                if let Some((today, tomorrow)) = frame_colours(frame) {
                    let mut s = lock(&self.shared.snap);
                    s.colour_today = today;
                    s.colour_tomorrow = tomorrow;
                }
            }
            Event::Recorded(record, counters) => {
                let mut s = lock(&self.shared.snap);
                s.version += 1;
                s.counters = *counters;
                let r = &mut s.record;
                r.time = Some(record.time);
                if !Arc::ptr_eq(&r.columns, &record.columns) {
                    r.columns = Arc::clone(&record.columns);
                }
                r.cells.clone_from(&record.cells);
                let learned = match (r.int("NTARF"), r.cell("LTARF")) {
                    (Some(n), Some(name)) => Some((n, classify(name))),
                    _ => None,
                };
                if let Some((n, class)) = learned {
                    if let Some(slot) = usize::try_from(n)
                        .ok()
                        .and_then(|n| n.checked_sub(1))
                        .and_then(|i| s.supplier.get_mut(i))
                    {
                        *slot = Some(class);
                    }
                }
                drop(s);
                self.shared.changed.notify_all();
            }
            Event::Tick(counters) => lock(&self.shared.snap).counters = *counters,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_by_label() {
        let r = LastRecord {
            time: None,
            columns: ["time", "time_source", "EAST", "LTARF"]
                .map(String::from)
                .into_iter()
                .collect(),
            cells: vec!["meter".into(), "123".into(), "".into()],
        };
        assert_eq!(r.int("EAST"), Some(123));
        assert_eq!(r.cell("LTARF"), None);
        assert_eq!(r.cell("time_source"), Some("meter"));
    }
}
