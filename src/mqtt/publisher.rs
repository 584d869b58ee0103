//! What to publish, and when (sans-IO): the newest snapshot, the link's events, the TIC
//! link's liveness and the time in, messages out.
//!
//! - **On connection**, first **read back** what the broker holds for this meter: the
//!   publisher subscribes to its own state topic, its names topic and every discovery config
//!   of the meter (`homeassistant/+/tic-rec_<meter>/+/config`), takes what comes retained,
//!   then unsubscribes. Nothing else goes out until the retained messages have come:
//!   [`RETAINED_WAIT`] after the last subscription's SUBACK (the broker sends what it holds
//!   right after it), at most [`RETAINED_MAX`] after the connection. Then, all retained:
//!   the configs the recorder no longer makes **withdrawn** (an empty payload: Home
//!   Assistant removes the entity), every discovery config, the newest state, availability
//!   `online`, the names learned and the TIC link's state — the state before availability,
//!   so that an entity shows again with its new value, never an old one (nor one its new
//!   options lack). A change of contract during a run takes the TIC link offline while
//!   the configs change, for the same reason.
//! - **Withdrawn configs**: any config of this meter the broker holds that the newest
//!   snapshot does not make (a label `--labels` no longer records, a Tempo colour after a
//!   change of contract, an older tic-rec's object), once the snapshot is
//!   [`settled`](super::meter::Snapshot::settled) (the frames heard long enough for the
//!   shape to be whole); during a run too, when the shape changes.
//! - **Discovery** configs are recomputed only when the meter's shape changes (a new index in
//!   use, a name learned, a sensor more); only the configs that changed are sent again.
//! - **State**: the newest snapshot, at most every `interval`, and at once when the tariff
//!   period changes or the TIC link comes back. A snapshot replaced before it was sent is
//!   counted (the newest wins); none is queued while the link is down.
//! - **The TIC link** (`<prefix>/<meter>/link`): `online` while rows are written, `offline`
//!   once no row has been written for `stale_after` (plus the cadence less a second: with
//!   `--every 15min`, 15 min 59 s) or no frame heard for `stale_after` (an adapter
//!   unplugged, a meter off) — what the meter says now then shows unavailable in Home
//!   Assistant; back `online` with the next row, after its state.
//! - **Names** the meter taught (`<prefix>/<meter>/names`: the contract and each supplier
//!   index's LTARF) are published when they change and read back at each connection, so a
//!   restart shows them before the meter says them again ([`super::meter::Naming`]).
//! - A message the client's queue had no room for is counted and sent again at the next
//!   occasion (a config, availability, the link, names), or replaced by a newer state.
//! - **The floor** ([`Reference`]): the retained state read back is what Home Assistant was
//!   last sent (by this run or an earlier one): the reference of each energy index. The
//!   energy values of each state then pass the [`Reference`]: held at it when below, a jump
//!   beyond the bound left out (an offset).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::discovery::{self, Context, OFFLINE, ONLINE};
use super::guard::{Reference, Said};
use super::link::LinkNote;
use super::meter::{Naming, Snapshot};
use super::HA_STATUS_TOPIC;
use crate::tic::labels::{energy_label, energy_position, ENERGY_LABELS};

/// How long after the SUBACK of the last subscription the retained messages may come.
pub const RETAINED_WAIT: Duration = Duration::from_secs(2);
/// How long after a connection the retained messages are waited for at most.
pub const RETAINED_MAX: Duration = Duration::from_secs(5);
/// The TIC link is down after this long without a row or a frame (the default of
/// `--mqtt-stale-after`).
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Delivery guarantee of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos {
    /// At most once (states: the next one replaces a lost one).
    AtMostOnce,
    /// At least once (availability, discovery).
    AtLeastOnce,
}

/// What to hand to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Publish.
    Publish {
        /// The topic.
        topic: String,
        /// The payload.
        payload: String,
        /// Retained by the broker.
        retain: bool,
        /// Its QoS.
        qos: Qos,
    },
    /// Subscribe (QoS 1).
    Subscribe {
        /// The topic filter.
        topic: String,
    },
    /// Unsubscribe.
    Unsubscribe {
        /// The topic filter.
        topic: String,
    },
}

/// Waiting for the retained messages after a connection.
#[derive(Clone, Copy, Debug, Default)]
struct Reading {
    /// The first poll after the connection.
    since: Option<Instant>,
    /// SUBACKs still awaited, and the last one's time.
    awaited: usize,
    acked: Option<Instant>,
    /// The retained state came.
    state: bool,
}

impl Reading {
    fn deadline(&self, now: Instant) -> Instant {
        let max = self.since.unwrap_or(now) + RETAINED_MAX;
        match self.acked {
            Some(a) if self.awaited == 0 => (a + RETAINED_WAIT).min(max),
            _ => max,
        }
    }
}

/// Counts, for [`super::LinkStatus`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// State messages handed over.
    pub states: u64,
    /// Snapshots replaced before they were sent.
    pub replaced: u64,
    /// Messages refused by the client's queue.
    pub dropped: u64,
}

/// When rows and frames were last seen: the TIC link's liveness.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heartbeat {
    /// The last row written (or held).
    pub row: Option<Instant>,
    /// The last frame with a verified group.
    pub frame: Option<Instant>,
}

/// The publisher of one meter's messages.
#[derive(Debug)]
pub struct Publisher {
    ctx: Context,
    interval: Duration,
    stale_after: Duration,
    meter: String,
    connected: bool,
    subscribed: bool,
    announce: bool,
    latest: Option<Snapshot>,
    latest_sent: bool,
    force: bool,
    last_state_at: Option<Instant>,
    /// The snapshot the configs were computed from (its shape).
    shaped: Option<Snapshot>,
    configs: Vec<(String, String)>,
    /// The configs sent in this connection, by topic.
    sent: HashMap<String, String>,
    /// The config topics the broker holds for this meter (read back, or sent).
    held: BTreeSet<String>,
    counts: Counts,
    /// What Home Assistant was sent of each energy index.
    reference: Reference,
    /// Waiting for the retained messages (nothing goes out meanwhile).
    reading: Option<Reading>,
    /// The read-back subscriptions are to be ended.
    unsubscribe: bool,
    /// The names the broker holds (read back), and their payload.
    remembered: Naming,
    names_held: Option<String>,
    heartbeat: Heartbeat,
    /// What the broker holds of the link: `Some(true)` online.
    link_held: Option<bool>,
    /// The contract changed: the live entities go unavailable while their configs change
    /// (an enum whose options lose the value Home Assistant holds would fail to show it).
    blink: bool,
    /// The config the broker retains under each topic (read back, then as sent).
    retained: HashMap<String, String>,
    notes: Vec<LinkNote>,
}

impl Publisher {
    /// A publisher of `meter`'s messages under `ctx.prefix`, states at most every
    /// `interval`, the TIC link down after `stale_after` without rows or frames.
    pub fn new(ctx: Context, meter: &str, interval: Duration, stale_after: Duration) -> Publisher {
        Publisher {
            ctx,
            interval,
            stale_after,
            meter: meter.to_owned(),
            connected: false,
            subscribed: false,
            announce: false,
            latest: None,
            latest_sent: false,
            force: false,
            last_state_at: None,
            shaped: None,
            configs: Vec::new(),
            sent: HashMap::new(),
            held: BTreeSet::new(),
            counts: Counts::default(),
            reference: Reference::new(),
            reading: None,
            unsubscribe: false,
            remembered: Naming::default(),
            names_held: None,
            heartbeat: Heartbeat::default(),
            link_held: None,
            blink: false,
            retained: HashMap::new(),
            notes: Vec::new(),
        }
    }

    /// The state topic (read back at each connection).
    pub fn state_topic(&self) -> String {
        discovery::state_topic(&self.ctx.prefix, &self.meter)
    }

    fn names_topic(&self) -> String {
        discovery::names_topic(&self.ctx.prefix, &self.meter)
    }

    fn link_topic(&self) -> String {
        discovery::link_topic(&self.ctx.prefix, &self.meter)
    }

    /// The topic filters read back at each connection.
    fn read_back(&self) -> [String; 3] {
        [
            self.state_topic(),
            self.names_topic(),
            discovery::configs_filter(&self.meter),
        ]
    }

    /// A subscription was acknowledged at `now`: the retained messages, if the broker holds
    /// some, have come or come at once.
    pub fn subscribed(&mut self, now: Instant) {
        if let Some(r) = self.reading.as_mut() {
            r.awaited = r.awaited.saturating_sub(1);
            r.acked = Some(now);
        }
    }

    /// A retained message on one of the topics read back (later ones, and our own messages
    /// echoed, are ignored).
    pub fn retained(&mut self, topic: &str, payload: &[u8]) {
        if self.reading.is_none() {
            return;
        }
        if topic == self.state_topic() {
            if let Some(r) = self.reading.as_mut() {
                if std::mem::replace(&mut r.state, true) {
                    return;
                }
            }
            self.take_floor(payload);
        } else if topic == self.names_topic() {
            self.remembered = parse_names(payload).unwrap_or_default();
            self.names_held = Some(String::from_utf8_lossy(payload).into_owned());
        } else if is_config_of(topic, &self.meter) && !payload.is_empty() {
            self.held.insert(topic.to_owned());
            self.retained.insert(
                topic.to_owned(),
                String::from_utf8_lossy(payload).into_owned(),
            );
        }
    }

    /// The retained state: the reference of each energy index.
    fn take_floor(&mut self, payload: &[u8]) {
        let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(payload) else {
            return;
        };
        let Some(t) = m
            .get("time")
            .and_then(|t| t.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        else {
            return;
        };
        let values: Vec<(usize, i64)> = ENERGY_LABELS
            .iter()
            .filter_map(|l| Some((energy_position(l)?, m.get(*l)?.as_i64()?)))
            .collect();
        self.reference.retained(t.timestamp(), &values);
    }

    /// The notes (withheld indexes, jumps left out) since the last call.
    pub fn notes(&mut self) -> Vec<LinkNote> {
        std::mem::take(&mut self.notes)
    }

    /// The state message of `s`, its energy values through the reference.
    fn state_payload(&mut self, s: &Snapshot) -> String {
        let mut s = s.clone();
        let t = s.time.timestamp();
        let power = s.power_va;
        let reference = &mut self.reference;
        let notes = &mut self.notes;
        s.energy.retain_mut(|e| {
            let Some(k) = energy_position(e.label) else {
                return false;
            };
            let (v, said) = reference.apply(k, t, e.wh, power);
            if let Some(said) = said {
                notes.push(match said {
                    Said::Withheld {
                        index,
                        value,
                        floor,
                    } => LinkNote::Withheld {
                        label: energy_label(index).name,
                        value,
                        floor,
                    },
                    Said::Offset {
                        index,
                        step,
                        offset,
                    } => LinkNote::Offset {
                        label: energy_label(index).name,
                        step,
                        offset,
                    },
                });
            }
            match v {
                Some(v) => {
                    e.wh = v;
                    true
                }
                None => false,
            }
        });
        discovery::state(&s)
    }

    /// The meter.
    pub fn meter(&self) -> &str {
        &self.meter
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The availability topic (the client's last will).
    pub fn availability_topic(&self) -> String {
        discovery::availability_topic(&self.ctx.prefix, &self.meter)
    }

    /// A new snapshot of the meter (the newest wins).
    pub fn offer(&mut self, mut s: Snapshot) {
        s.name(&self.remembered);
        if self.latest.is_some() && !self.latest_sent {
            self.counts.replaced += 1;
        }
        if self.latest.as_ref().is_some_and(|l| l.tariff != s.tariff) {
            self.force = true;
        }
        self.shape(&s);
        self.latest = Some(s);
        self.latest_sent = false;
    }

    /// Recomputes the configs if `s` changes the meter's shape.
    fn shape(&mut self, s: &Snapshot) {
        if self.shaped.as_ref().is_none_or(|old| !same_shape(old, s)) {
            if self.shaped.as_ref().is_some_and(|old| {
                !old.naming.calendar.is_empty() && old.naming.calendar != s.naming.calendar
            }) {
                self.blink = true;
            }
            self.configs = discovery::configs(s, &self.ctx);
            self.shaped = Some(s.clone());
        }
    }

    /// When rows and frames were last seen.
    pub fn heartbeat(&mut self, h: Heartbeat) {
        self.heartbeat = h;
    }

    /// Whether the TIC link is up at `now`, and until when it stays so without news.
    fn link_up(&self, now: Instant) -> (bool, Option<Instant>) {
        let cadence = self.latest.as_ref().map_or(1, |s| s.cadence_s);
        let rows = self.stale_after + Duration::from_secs(u64::from(cadence.saturating_sub(1)));
        let until = match (self.heartbeat.row, self.heartbeat.frame) {
            (Some(r), Some(f)) => Some((r + rows).min(f + self.stale_after)),
            (Some(r), None) => Some(r + rows),
            _ => None,
        };
        (until.is_some_and(|u| now < u), until)
    }

    /// The broker accepted a connection: what it holds is read back, then everything is
    /// sent again.
    pub fn connected(&mut self) {
        self.connected = true;
        self.subscribed = false;
        self.reading = Some(Reading::default());
        self.unsubscribe = false;
        self.held.clear();
        self.names_held = None;
        self.link_held = None;
        self.resend();
    }

    /// The connection is gone.
    pub fn disconnected(&mut self) {
        self.connected = false;
    }

    /// Home Assistant said `online` (it restarted): discovery, availability, the link and
    /// the state again.
    pub fn home_assistant_online(&mut self) {
        self.resend();
        self.link_held = None;
    }

    fn resend(&mut self) {
        self.announce = true;
        self.sent.clear();
        self.force = true;
        self.latest_sent = false;
    }

    /// The messages due at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<Message> {
        let mut out = Vec::new();
        if !self.connected {
            return out;
        }
        if !self.subscribed {
            self.subscribed = true;
            if let Some(r) = self.reading.as_mut() {
                r.awaited = 3;
                let topics = self.read_back();
                out.extend(topics.into_iter().map(|topic| Message::Subscribe { topic }));
            }
            out.push(Message::Subscribe {
                topic: HA_STATUS_TOPIC.to_owned(),
            });
        }
        if let Some(r) = self.reading.as_mut() {
            r.since.get_or_insert(now);
            if now < r.deadline(now) {
                return out;
            }
            self.reading = None;
            self.unsubscribe = true;
            // The names the broker remembers name the newest snapshot.
            if let Some(mut s) = self.latest.take() {
                s.name(&self.remembered);
                self.shape(&s);
                self.latest = Some(s);
            }
        }
        if std::mem::take(&mut self.unsubscribe) {
            let topics = self.read_back();
            out.extend(
                topics
                    .into_iter()
                    .map(|topic| Message::Unsubscribe { topic }),
            );
        }
        // Withdraw what the recorder no longer makes, once the shape is whole; no state
        // goes out before (an older tic-rec's config could read a key the state lacks).
        let stale: Vec<String> = self
            .held
            .iter()
            .filter(|t| !self.configs.iter().any(|(c, _)| c == *t))
            .cloned()
            .collect();
        let settled = self.latest.as_ref().is_some_and(|s| s.settled);
        let sweep_pending = !stale.is_empty() && !settled;
        if settled {
            for topic in stale {
                self.held.remove(&topic);
                self.retained.remove(&topic);
                self.sent.remove(&topic);
                out.push(publish(topic, String::new(), Qos::AtLeastOnce));
            }
        }
        if std::mem::take(&mut self.blink) && self.link_held == Some(true) {
            self.link_held = Some(false);
            out.push(publish(
                self.link_topic(),
                OFFLINE.to_owned(),
                Qos::AtLeastOnce,
            ));
        }
        // Connected again with configs that differ from the ones the broker kept (the last
        // run's contract had other tariff names): the state goes out once before them too,
        // its tariff none. Home Assistant keeps an entity's last value across a new config,
        // and a state sent after the config can arrive while it is re-creating the entity,
        // and be lost: the tariff sensor would then show the last run's name, not among its
        // new options, when it is available again (an error in Home Assistant's log). A
        // tariff none is valid whatever the options; the full state follows the configs.
        // Compared only when announcing (a connection, Home Assistant back), not at each poll.
        let reconfigure = self.announce
            && !sweep_pending
            && self
                .configs
                .iter()
                .any(|(t, p)| self.retained.get(t).is_some_and(|old| old != p));
        let mut computed = None;
        if reconfigure {
            if let Some(s) = self.latest.clone() {
                let payload = self.state_payload(&s);
                let early = match serde_json::from_str::<serde_json::Value>(&payload) {
                    Ok(serde_json::Value::Object(mut m)) => {
                        m.insert("tariff".into(), serde_json::Value::Null);
                        serde_json::Value::Object(m).to_string()
                    }
                    _ => payload.clone(),
                };
                out.push(publish(self.state_topic(), early, Qos::AtLeastOnce));
                computed = Some(payload);
            }
        }
        for (topic, payload) in &self.configs {
            if self.sent.get(topic) != Some(payload) {
                self.sent.insert(topic.clone(), payload.clone());
                self.held.insert(topic.clone());
                self.retained.insert(topic.clone(), payload.clone());
                out.push(publish(topic.clone(), payload.clone(), Qos::AtLeastOnce));
            }
        }
        let (up, _) = self.link_up(now);
        if up && self.link_held != Some(true) {
            // Back (or first): the fresh state first, so that Home Assistant never shows
            // an old value as available.
            self.force = true;
        }
        // The state before availability: an entity Home Assistant holds unavailable takes
        // its new value (and new options) before it shows again.
        if let Some(s) = self
            .latest
            .clone()
            .filter(|_| !self.latest_sent && !sweep_pending)
        {
            let due = self.force
                || self
                    .last_state_at
                    .is_none_or(|t| now.saturating_duration_since(t) >= self.interval);
            if due {
                self.force = false;
                self.latest_sent = true;
                self.last_state_at = Some(now);
                self.counts.states += 1;
                let payload = match computed.take() {
                    Some(p) => p,
                    None => self.state_payload(&s),
                };
                out.push(publish(self.state_topic(), payload, Qos::AtMostOnce));
            }
        }
        if self.announce {
            self.announce = false;
            out.push(publish(
                self.availability_topic(),
                ONLINE.to_owned(),
                Qos::AtLeastOnce,
            ));
        }
        if let Some(s) = &self.latest {
            let naming = s.naming.or(&self.remembered);
            if naming.learned.iter().any(Option::is_some) {
                let payload = names_payload(&naming);
                if self.names_held.as_deref() != Some(payload.as_str()) {
                    self.names_held = Some(payload.clone());
                    out.push(publish(self.names_topic(), payload, Qos::AtLeastOnce));
                }
            }
        }
        if self.link_held != Some(up) && (self.latest.is_some() || !up) {
            self.link_held = Some(up);
            let payload = if up { ONLINE } else { OFFLINE };
            out.push(publish(
                self.link_topic(),
                payload.to_owned(),
                Qos::AtLeastOnce,
            ));
        }
        out
    }

    /// When [`Publisher::poll`] has something to send next without any new input.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        if !self.connected {
            return None;
        }
        if let Some(r) = &self.reading {
            return Some(r.since.map_or(now, |_| r.deadline(now)));
        }
        let mut next = None;
        if !self.latest_sent && self.latest.is_some() {
            next = Some(self.last_state_at.map_or(now, |t| t + self.interval));
        }
        let (up, until) = self.link_up(now);
        if up {
            next = next.min(until).or(until);
        }
        next
    }

    /// The record time of the newest state sent.
    pub fn last_state_time(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        self.latest
            .as_ref()
            .filter(|_| self.latest_sent)
            .map(|s| s.time)
    }

    /// The client's queue had no room for `m`: it is sent again at the next occasion.
    pub fn not_sent(&mut self, m: &Message) {
        self.counts.dropped += 1;
        match m {
            Message::Subscribe { .. } => self.subscribed = false,
            Message::Unsubscribe { .. } => self.unsubscribe = true,
            Message::Publish { topic, payload, .. } => {
                if *topic == self.availability_topic() {
                    self.announce = true;
                } else if *topic == self.state_topic() {
                    self.counts.states = self.counts.states.saturating_sub(1);
                    self.latest_sent = false;
                } else if *topic == self.link_topic() {
                    self.link_held = None;
                } else if *topic == self.names_topic() {
                    self.names_held = None;
                } else {
                    self.sent.remove(topic);
                    if payload.is_empty() {
                        self.held.insert(topic.clone());
                    }
                }
            }
        }
    }

    /// The last messages of a clean stop: the newest state if not sent yet, then `offline`.
    pub fn farewell(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        if !self.connected {
            return out;
        }
        if let Some(s) = self
            .latest
            .clone()
            .filter(|_| !self.latest_sent && self.reading.is_none())
        {
            self.latest_sent = true;
            self.counts.states += 1;
            let payload = self.state_payload(&s);
            out.push(publish(self.state_topic(), payload, Qos::AtMostOnce));
        }
        out.push(publish(
            self.availability_topic(),
            OFFLINE.to_owned(),
            Qos::AtLeastOnce,
        ));
        out
    }
}

fn publish(topic: String, payload: String, qos: Qos) -> Message {
    Message::Publish {
        topic,
        payload,
        retain: true,
        qos,
    }
}

/// Whether `topic` is one of `meter`'s discovery configs
/// (`homeassistant/<component>/tic-rec_<meter>/<object>/config`).
fn is_config_of(topic: &str, meter: &str) -> bool {
    let parts: Vec<&str> = topic.split('/').collect();
    parts.len() == 5
        && parts[0] == super::DISCOVERY_PREFIX
        && parts[2] == discovery::node(meter)
        && parts[4] == "config"
}

/// The names topic's payload: `{"contract": NGTF, "EASF01": LTARF, …}`.
fn names_payload(n: &Naming) -> String {
    let mut m = serde_json::Map::new();
    m.insert("contract".into(), serde_json::json!(n.calendar));
    for (i, lt) in n.learned.iter().enumerate() {
        if let Some(lt) = lt {
            m.insert(format!("EASF{:02}", i + 1), serde_json::json!(lt));
        }
    }
    serde_json::Value::Object(m).to_string()
}

/// The names a names payload holds.
fn parse_names(payload: &[u8]) -> Option<Naming> {
    let serde_json::Value::Object(m) = serde_json::from_slice(payload).ok()? else {
        return None;
    };
    let mut n = Naming {
        calendar: m.get("contract")?.as_str()?.to_owned(),
        ..Naming::default()
    };
    for (i, slot) in n.learned.iter_mut().enumerate() {
        *slot = m
            .get(&format!("EASF{:02}", i + 1))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
    }
    Some(n)
}

/// Whether two snapshots make the same discovery configs.
fn same_shape(a: &Snapshot, b: &Snapshot) -> bool {
    a.meter == b.meter
        && a.mode == b.mode
        && a.phases == b.phases
        && a.producer == b.producer
        && a.columns == b.columns
        && a.tariffs == b.tariffs
        && a.tariff.is_some() == b.tariff.is_some()
        && a.tempo.map(|t| t.says_tomorrow) == b.tempo.map(|t| t.says_tomorrow)
        && a.naming.calendar == b.naming.calendar
        && a.get("VTIC") == b.get("VTIC")
        && a.energy.len() == b.energy.len()
        && a.energy
            .iter()
            .zip(&b.energy)
            .all(|(x, y)| x.label == y.label && x.name == y.name)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mqtt::meter::{Energy, InForce};
    use crate::tic::Mode;

    fn snap(k: i64, tariff: &str, indexes: &[(&'static str, &str)]) -> Snapshot {
        let columns: Vec<String> = ["time", "time_source", "ADSC", "NGTF", "LTARF", "SINSTS"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let lt = if tariff == "Peak" {
            "HEURE PLEINE"
        } else {
            "HEURE CREUSE"
        };
        let mut s = Snapshot {
            meter: "041876097171".into(),
            mode: Mode::Standard,
            phases: 1,
            producer: false,
            time: chrono::DateTime::from_timestamp(1_780_000_000 + k, 0)
                .unwrap()
                .fixed_offset(),
            columns: Arc::from(columns),
            cells: vec![
                "meter".into(),
                "041876097171".into(),
                "H PLEINE/CREUSE".into(),
                lt.into(),
                format!("{}", 100 + k),
            ],
            heard: Vec::new(),
            energy: indexes
                .iter()
                .map(|(label, _)| Energy {
                    label,
                    name: String::new(),
                    wh: 1000 + k,
                    distributor: false,
                })
                .collect(),
            in_force: Some(InForce::Index(if tariff == "Peak" {
                "EASF02"
            } else {
                "EASF01"
            })),
            naming: Naming {
                calendar: "H PLEINE/CREUSE".into(),
                ..Naming::default()
            },
            tariff: None,
            tariffs: Vec::new(),
            tempo: None,
            status: None,
            checksum_errors: 0,
            held_rows: 0,
            power_va: 6_000,
            cadence_s: 1,
            settled: true,
        };
        s.name(&Naming::default());
        s
    }

    fn topics(m: &[Message]) -> Vec<String> {
        m.iter()
            .map(|m| match m {
                Message::Publish { topic, payload, .. } if payload.is_empty() => {
                    format!("clear {topic}")
                }
                Message::Publish { topic, .. } => topic.clone(),
                Message::Subscribe { topic } => format!("subscribe {topic}"),
                Message::Unsubscribe { topic } => format!("unsubscribe {topic}"),
            })
            .collect()
    }

    fn payload_of<'a>(m: &'a [Message], topic: &str) -> Option<&'a str> {
        m.iter().find_map(|m| match m {
            Message::Publish {
                topic: t, payload, ..
            } if t == topic => Some(payload.as_str()),
            _ => None,
        })
    }

    const STATE: &str = "tic-rec/041876097171/state";
    const AVAIL: &str = "tic-rec/041876097171/availability";
    const LINK: &str = "tic-rec/041876097171/link";
    const NAMES: &str = "tic-rec/041876097171/names";
    const CONFIGS: &str = "homeassistant/+/tic-rec_041876097171/+/config";

    fn publisher(interval: Duration) -> Publisher {
        let ctx = Context {
            prefix: "tic-rec".into(),
            configuration_url: None,
        };
        Publisher::new(ctx, "041876097171", interval, STALE_AFTER)
    }

    /// Connects at `at`, rows flowing: the subscriptions, acknowledged, the retained
    /// messages, and what follows once they are read.
    fn connect(p: &mut Publisher, at: Instant, retained: &[(&str, &str)]) -> Vec<Message> {
        p.heartbeat(Heartbeat {
            row: Some(at),
            frame: Some(at),
        });
        p.connected();
        let mut m = p.poll(at);
        for _ in 0..3 {
            p.subscribed(at);
        }
        for (t, payload) in retained {
            p.retained(t, payload.as_bytes());
        }
        assert!(
            p.poll(at + Duration::from_millis(1_999)).is_empty(),
            "nothing before the retained messages are read"
        );
        m.extend(p.poll(at + RETAINED_WAIT));
        m
    }

    fn energy_of(m: &[Message], label: &str) -> Vec<Option<i64>> {
        m.iter()
            .filter_map(|m| match m {
                Message::Publish { topic, payload, .. } if topic == STATE => {
                    let v: serde_json::Value = serde_json::from_str(payload).unwrap();
                    Some(v[label].as_i64())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn connect_reads_back_then_announces_everything_then_states_follow_the_interval() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = publisher(Duration::from_secs(10));
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        assert!(p.poll(at(0)).is_empty(), "nothing while not connected");
        assert_eq!(p.next_wakeup(at(0)), None);
        let first = topics(&connect(&mut p, at(0), &[]));
        assert_eq!(
            first[..4],
            [
                format!("subscribe {STATE}"),
                format!("subscribe {NAMES}"),
                format!("subscribe {CONFIGS}"),
                "subscribe homeassistant/status".to_owned()
            ],
            "{first:?}"
        );
        assert_eq!(
            first[4..7],
            [
                format!("unsubscribe {STATE}"),
                format!("unsubscribe {NAMES}"),
                format!("unsubscribe {CONFIGS}"),
            ]
        );
        let n = first.len();
        assert!(first[7..n - 3]
            .iter()
            .all(|t| t.starts_with("homeassistant/sensor/")
                || t.starts_with("homeassistant/binary_sensor/")));
        assert!(first.iter().any(|t| t.ends_with("/easf02/config")));
        assert_eq!(
            first[n - 3..],
            [STATE, AVAIL, LINK],
            "the state before availability"
        );
        // Records every second: the next state 10 s later, the newest one.
        let at = |ms: u64| t0 + RETAINED_WAIT + Duration::from_millis(ms);
        for k in 1..10 {
            p.heartbeat(Heartbeat {
                row: Some(at(k * 1000)),
                frame: Some(at(k * 1000)),
            });
            p.offer(snap(k as i64, "Peak", &[("EASF02", "HP")]));
            assert!(p.poll(at(k * 1000)).is_empty(), "{k}");
        }
        assert_eq!(p.next_wakeup(at(9_500)), Some(at(10_000)));
        let m = p.poll(at(10_000));
        assert_eq!(topics(&m), [STATE]);
        let Message::Publish {
            payload, retain, ..
        } = &m[0]
        else {
            panic!()
        };
        assert!(payload.contains("\"SINSTS\":109"), "{payload}");
        assert!(retain);
        assert_eq!(p.counts().replaced, 8);
        assert_eq!(p.last_state_time().unwrap().timestamp(), 1_780_000_009);
        // A tariff change goes out at once.
        p.offer(snap(11, "Off-peak", &[("EASF02", "HP")]));
        assert_eq!(topics(&p.poll(at(13_000))), [STATE]);
        // A new index in use: its config (only), then the state when due.
        p.offer(snap(12, "Off-peak", &[("EASF01", "HC"), ("EASF02", "HP")]));
        let m = topics(&p.poll(at(14_000)));
        assert_eq!(
            m,
            ["homeassistant/sensor/tic-rec_041876097171/easf01/config"]
        );
        assert_eq!(topics(&p.poll(at(23_000))), [STATE]);
    }

    /// Issue 18 (1): what the broker holds for this meter and the recorder no longer makes
    /// is withdrawn at connection (once the shape is whole), before any state; its own
    /// configs are left alone.
    #[test]
    fn stale_configs_are_withdrawn() {
        let t0 = Instant::now();
        let mut p = publisher(Duration::from_secs(10));
        let mut s = snap(0, "Peak", &[("EASF02", "HP")]);
        s.settled = false;
        p.offer(s);
        let own = "homeassistant/sensor/tic-rec_041876097171/easf02/config";
        let stale = [
            // A three-phase sensor on a single-phase meter, an object no longer made.
            "homeassistant/sensor/tic-rec_041876097171/irms2/config",
            "homeassistant/binary_sensor/tic-rec_041876097171/old/config",
        ];
        let retained: Vec<(&str, &str)> = stale
            .iter()
            .map(|t| (*t, "{\"name\":\"x\"}"))
            .chain([
                (own, "{\"name\":\"HP\"}"),
                // Another meter's, and an empty (already cleared) one: not ours to clear.
                (
                    "homeassistant/sensor/tic-rec_041876097172/irms1/config",
                    "{}",
                ),
                ("homeassistant/sensor/tic-rec_041876097171/gone/config", ""),
            ])
            .collect();
        let m = topics(&connect(&mut p, t0, &retained));
        assert!(
            !m.iter().any(|t| t.starts_with("clear")),
            "not settled yet: {m:?}"
        );
        let mut s = snap(1, "Peak", &[("EASF02", "HP")]);
        s.settled = true;
        p.offer(s);
        let m = topics(&p.poll(t0 + RETAINED_WAIT));
        let mut cleared: Vec<String> = m
            .iter()
            .filter_map(|t| t.strip_prefix("clear "))
            .map(str::to_owned)
            .collect();
        cleared.sort();
        let mut want: Vec<String> = stale.iter().map(|t| (*t).to_owned()).collect();
        want.sort();
        assert_eq!(cleared, want);
        assert!(!m.contains(&format!("clear {own}")));
        // Said once: the next polls clear nothing.
        assert!(!topics(&p.poll(t0 + RETAINED_WAIT * 2))
            .iter()
            .any(|t| t.starts_with("clear")));
        // A shape change during the run: the tariff sensor's config goes when no period is
        // known any more… and an index no longer in use is withdrawn too.
        let mut s = snap(2, "Peak", &[]);
        s.settled = true;
        p.offer(s);
        let m = topics(&p.poll(t0 + RETAINED_WAIT * 3));
        assert!(m.contains(&format!("clear {own}")), "{m:?}");
    }

    #[test]
    fn the_link_goes_offline_after_a_minute_without_rows_and_back_with_the_next() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut p = publisher(Duration::from_secs(10));
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let m = connect(&mut p, at(0), &[]);
        assert_eq!(payload_of(&m, LINK), Some("online"));
        // Silence: the next wake-up is the deadline, 60 s after the last row.
        let last = at(0);
        assert_eq!(p.next_wakeup(at(30)), Some(last + STALE_AFTER));
        assert!(p.poll(at(59)).is_empty());
        let m = p.poll(at(60));
        assert_eq!(topics(&m), [LINK]);
        assert_eq!(payload_of(&m, LINK), Some("offline"));
        assert!(p.poll(at(61)).is_empty(), "said once");
        assert_eq!(p.next_wakeup(at(61)), None);
        // Frames but no rows (the recorder stalled): still offline.
        p.heartbeat(Heartbeat {
            row: Some(last),
            frame: Some(at(70)),
        });
        assert!(p.poll(at(70)).is_empty());
        // The next row: its state, then online.
        p.heartbeat(Heartbeat {
            row: Some(at(80)),
            frame: Some(at(80)),
        });
        p.offer(snap(80, "Peak", &[("EASF02", "HP")]));
        let m = topics(&p.poll(at(80)));
        assert_eq!(m, [STATE, LINK]);
        // Rows, no frame for a minute (cannot be, but the frames' clock counts too).
        p.heartbeat(Heartbeat {
            row: Some(at(139)),
            frame: Some(at(80)),
        });
        assert_eq!(payload_of(&p.poll(at(140)), LINK), Some("offline"));
        // A cadence of 15 min: down 15 min 59 s after the last row.
        let mut s = snap(2000, "Peak", &[("EASF02", "HP")]);
        s.cadence_s = 900;
        p.offer(s);
        p.heartbeat(Heartbeat {
            row: Some(at(2000)),
            frame: Some(at(2000)),
        });
        assert_eq!(payload_of(&p.poll(at(2000)), LINK), Some("online"));
        p.heartbeat(Heartbeat {
            row: Some(at(2000)),
            frame: Some(at(2900)),
        });
        assert!(p.poll(at(2900)).is_empty());
        assert_eq!(payload_of(&p.poll(at(2959)), LINK), Some("offline"));
    }

    /// A change of contract during a run: the live entities go unavailable (the link) while
    /// their configs change, the new state comes before they show again.
    #[test]
    fn a_change_of_contract_takes_the_link_offline_while_configs_change() {
        let t0 = Instant::now();
        let mut p = publisher(Duration::from_secs(10));
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        connect(&mut p, t0, &[]);
        let mut s = snap(1, "Peak", &[("EASF02", "HP")]);
        s.naming.calendar = "TEMPO".into();
        s.name(&Naming::default());
        p.offer(s);
        let m = topics(&p.poll(t0 + RETAINED_WAIT));
        let n = m.len();
        assert_eq!(m[0], LINK, "{m:?}");
        assert!(m[1..n - 2].iter().all(|t| t.ends_with("/config")), "{m:?}");
        assert_eq!(m[n - 2..], [STATE, LINK]);
        // A name learned (no change of contract): no blink.
        let mut s = snap(2, "Peak", &[("EASF02", "HP")]);
        s.naming.calendar = "TEMPO".into();
        s.naming.learned[1] = Some("HP BLEU".into());
        s.name(&Naming::default());
        p.offer(s);
        let m = topics(&p.poll(t0 + RETAINED_WAIT * 2));
        assert!(!m.contains(&LINK.to_owned()), "{m:?}");
    }

    #[test]
    fn names_are_published_and_remembered_across_a_restart() {
        let t0 = Instant::now();
        let mut p = publisher(Duration::from_secs(10));
        // The meter says index 1 is peak.
        let mut s = snap(0, "Peak", &[("EASF01", ""), ("EASF02", "")]);
        s.naming.learned[0] = Some("HEURE PLEINE".into());
        s.in_force = Some(InForce::Index("EASF01"));
        p.offer(s);
        let m = connect(&mut p, t0, &[]);
        let names = payload_of(&m, NAMES).unwrap().to_owned();
        assert_eq!(
            names,
            r#"{"EASF01":"HEURE PLEINE","contract":"H PLEINE/CREUSE"}"#
        );
        let name_of = |m: &[Message], object: &str| -> String {
            let t = format!("homeassistant/sensor/tic-rec_041876097171/{object}/config");
            let v: serde_json::Value = serde_json::from_str(payload_of(m, &t).unwrap()).unwrap();
            v["name"].as_str().unwrap().to_owned()
        };
        assert_eq!(name_of(&m, "easf01"), "Peak");
        assert_eq!(name_of(&m, "easf02"), "Off-peak");
        // A restart: the new run's meter has said nothing yet; the broker remembers.
        let mut p = publisher(Duration::from_secs(10));
        let s = snap(0, "Off-peak", &[("EASF01", ""), ("EASF02", "")]);
        p.offer(s);
        let m = connect(&mut p, t0, &[(NAMES, &names)]);
        assert_eq!(name_of(&m, "easf01"), "Peak", "not the usual Off-peak");
        assert_eq!(name_of(&m, "easf02"), "Off-peak");
        assert_eq!(payload_of(&m, NAMES), None, "the broker holds them already");
    }

    #[test]
    fn no_state_before_the_retained_one_and_never_below_it() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = publisher(Duration::from_millis(1));
        // An older capture replayed (its EASF02 at 1 000 + k): the live recorder published
        // 5 000.
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let retained =
            r#"{"EASF02":5000,"EAST":"x","SINSTS":1,"time":"2026-05-28T22:15:00+02:00"}"#;
        let m = connect(&mut p, at(0), &[(STATE, retained)]);
        assert_eq!(energy_of(&m, "EASF02"), [Some(5000)], "held at the floor");
        let state = payload_of(&m, STATE).unwrap();
        assert!(
            state.contains("\"SINSTS\":100"),
            "the rest goes on: {state}"
        );
        let notes = p.notes();
        assert!(
            matches!(
                notes[..],
                [LinkNote::Withheld {
                    label: "EASF02",
                    value: 1000,
                    floor: 5000
                }]
            ),
            "{notes:?}"
        );
        // Our own states echoed (and a later retained one) are ignored.
        p.retained(STATE, br#"{"EASF02":1,"time":"2026-05-28T22:15:00+02:00"}"#);
        for k in 1..5 {
            p.offer(snap(k, "Peak", &[("EASF02", "HP")]));
            let m = p.poll(at(3_000 + k as u64 * 10));
            assert_eq!(energy_of(&m, "EASF02"), [Some(5000)]);
        }
        assert!(p.notes().is_empty(), "said once");
    }

    #[test]
    fn without_a_suback_the_wait_is_bounded() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = publisher(Duration::from_millis(1));
        p.heartbeat(Heartbeat {
            row: Some(at(0)),
            frame: Some(at(0)),
        });
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        p.connected();
        p.poll(at(0));
        assert!(!topics(&p.poll(at(4_999))).contains(&STATE.to_owned()));
        assert_eq!(energy_of(&p.poll(at(5_000)), "EASF02"), [Some(1000)]);
    }

    #[test]
    fn a_confirmed_jump_is_an_offset_after_a_restart_too() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = publisher(Duration::from_millis(1));
        // The retained state: 900 Wh, 100 s before the first snapshot (1000 Wh at 6 kVA:
        // 251 Wh allowed in 102 s): a step of 100 is published.
        let retained = r#"{"EASF02":900,"time":"2026-05-28T22:25:00+02:00"}"#;
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339("2026-05-28T22:25:00+02:00")
                .unwrap()
                .timestamp(),
            1_780_000_000 - 100
        );
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let m = connect(&mut p, at(0), &[(STATE, retained)]);
        assert_eq!(energy_of(&m, "EASF02"), [Some(1000)]);
        let mut s = snap(1, "Peak", &[("EASF02", "HP")]);
        s.energy[0].wh = 50_000;
        p.offer(s.clone());
        assert_eq!(energy_of(&p.poll(at(3_010)), "EASF02"), [Some(1000)]);
        let notes = p.notes();
        assert!(
            matches!(
                notes[..],
                [LinkNote::Offset {
                    label: "EASF02",
                    step: 49_000,
                    offset: 49_000
                }]
            ),
            "{notes:?}"
        );
        s.time += chrono::Duration::seconds(1);
        s.energy[0].wh = 50_003;
        p.offer(s);
        assert_eq!(energy_of(&p.poll(at(3_020)), "EASF02"), [Some(1003)]);
        assert!(p.notes().is_empty());
    }

    #[test]
    fn refused_messages_are_sent_again_and_farewell_says_offline() {
        let t0 = Instant::now();
        let mut p = publisher(Duration::from_secs(10));
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let m = connect(&mut p, t0, &[]);
        for x in &m {
            p.not_sent(x);
        }
        assert_eq!(p.counts().dropped, m.len() as u64);
        assert_eq!(p.counts().states, 0);
        let again = p.poll(t0 + Duration::from_secs(10));
        // All again, but the read-back subscriptions (what they read is read).
        let mut want = topics(&m);
        want.retain(|t| {
            !t.starts_with("subscribe tic-rec/") && !t.starts_with("subscribe homeassistant/+")
        });
        want.sort();
        let mut got = topics(&again);
        got.sort();
        assert_eq!(got, want);
        p.offer(snap(1, "Peak", &[("EASF02", "HP")]));
        let bye = p.farewell();
        assert_eq!(topics(&bye), [STATE, AVAIL]);
        assert_eq!(payload_of(&bye, AVAIL), Some("offline"));
        assert_eq!(p.availability_topic(), AVAIL);
    }

    fn connect_again(tariff: &str) -> Vec<Message> {
        let mut p = publisher(Duration::from_secs(10));
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        connect(&mut p, Instant::now(), &[(tariff, "{\"options\":[]}")])
    }

    fn got_states(m: &[Message]) -> Vec<serde_json::Value> {
        m.iter()
            .filter_map(|m| match m {
                Message::Publish { topic, payload, .. } if topic == STATE => {
                    serde_json::from_str(payload).ok()
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_config_changed_since_the_last_run_gets_the_state_before_it() {
        let t0 = Instant::now();
        // A first run: what it publishes, and where the tariff's config lies.
        let mut first = publisher(Duration::from_secs(10));
        first.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let m = connect(&mut first, t0, &[]);
        let tariff = topics(&m)
            .into_iter()
            .find(|t| t.ends_with("/tariff/config"))
            .expect("a tariff config");
        // The same config retained: the state after the configs, as always.
        let mut same = publisher(Duration::from_secs(10));
        same.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let held: Vec<(String, String)> = m
            .iter()
            .filter_map(|x| match x {
                Message::Publish { topic, payload, .. } if topic.ends_with("/config") => {
                    Some((topic.clone(), payload.clone()))
                }
                _ => None,
            })
            .collect();
        let held_refs: Vec<(&str, &str)> =
            held.iter().map(|(t, p)| (t.as_str(), p.as_str())).collect();
        let again = topics(&connect(&mut same, t0, &held_refs));
        assert_eq!(again.iter().filter(|t| *t == STATE).count(), 1, "{again:?}");
        // Another config retained (the last run's contract had other options): the state
        // also goes out before the configs, while the entities are unavailable.
        let mut next = publisher(Duration::from_secs(10));
        next.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let got = topics(&connect(
            &mut next,
            t0,
            &[(tariff.as_str(), "{\"options\":[]}")],
        ));
        let state = got.iter().position(|t| t == STATE).expect("a state");
        let config = got.iter().position(|t| *t == tariff).expect("the config");
        let avail = got.iter().position(|t| t == AVAIL).expect("availability");
        assert!(state < config && config < avail, "{got:?}");
        let states: Vec<serde_json::Value> = got_states(&connect_again(&tariff));
        assert_eq!(states.len(), 2, "{states:?}");
        assert_eq!(states[0]["tariff"], serde_json::Value::Null);
        assert_eq!(states[1]["tariff"], "Peak");
        assert_eq!(states[0]["EASF02"], states[1]["EASF02"]);
    }

    #[test]
    fn home_assistant_restarts_and_reconnections_resend_discovery() {
        let t0 = Instant::now();
        let mut p = publisher(Duration::from_secs(10));
        p.offer(snap(0, "Peak", &[("EASF02", "HP")]));
        let all = connect(&mut p, t0, &[]).len();
        assert!(p.poll(t0 + RETAINED_WAIT).is_empty());
        p.home_assistant_online();
        let again = topics(&p.poll(t0 + RETAINED_WAIT));
        assert_eq!(again.len(), all - 7, "no (un)subscription: {again:?}");
        assert!(again.contains(&LINK.to_owned()));
        p.disconnected();
        p.offer(snap(1, "Peak", &[("EASF02", "HP")]));
        assert!(p.poll(t0).is_empty());
        assert_eq!(connect(&mut p, t0, &[]).len(), all);
    }
}
