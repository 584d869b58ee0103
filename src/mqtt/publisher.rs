//! What to publish, and when (sans-IO): the newest snapshot, the link's events and the time
//! in, messages out.
//!
//! - **On connection** (and when Home Assistant says `online`): the subscription to
//!   `homeassistant/status` (after a connection), availability `online`, every discovery
//!   config, and the newest state at once — all retained, so Home Assistant (re)started later
//!   still gets them from the broker.
//! - **Discovery** configs are recomputed only when the meter's shape changes (a new index in
//!   use, a new tariff name, a sensor more); only the configs that changed are sent again.
//! - **State**: the newest snapshot, at most every `interval`, and at once when the tariff
//!   slot changes. A snapshot replaced before it was sent is counted (the newest wins); none
//!   is queued while the link is down.
//! - A message the client's queue had no room for is counted and sent again at the next
//!   occasion (a config), or replaced by a newer state.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::discovery::{self, OFFLINE, ONLINE};
use super::meter::Snapshot;
use super::HA_STATUS_TOPIC;

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

/// The publisher of one meter's messages.
#[derive(Debug)]
pub struct Publisher {
    prefix: String,
    interval: Duration,
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
    /// What the broker holds from us in this connection, by topic.
    sent: HashMap<String, String>,
    counts: Counts,
}

impl Publisher {
    /// A publisher of `meter`'s messages under `prefix`, states at most every `interval`.
    pub fn new(prefix: &str, meter: &str, interval: Duration) -> Publisher {
        Publisher {
            prefix: prefix.to_owned(),
            interval,
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
            counts: Counts::default(),
        }
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
        discovery::availability_topic(&self.prefix, &self.meter)
    }

    /// A new snapshot of the meter (the newest wins).
    pub fn offer(&mut self, s: Snapshot) {
        if self.latest.is_some() && !self.latest_sent {
            self.counts.replaced += 1;
        }
        if self.latest.as_ref().is_some_and(|l| l.tariff != s.tariff) {
            self.force = true;
        }
        if self.shaped.as_ref().is_none_or(|old| !same_shape(old, &s)) {
            self.configs = discovery::configs(&s, &self.prefix);
            self.shaped = Some(s.clone());
        }
        self.latest = Some(s);
        self.latest_sent = false;
    }

    /// The broker accepted a connection: everything is sent again.
    pub fn connected(&mut self) {
        self.connected = true;
        self.subscribed = false;
        self.resend();
    }

    /// The connection is gone.
    pub fn disconnected(&mut self) {
        self.connected = false;
    }

    /// Home Assistant said `online` (it restarted): discovery, availability and the state
    /// again.
    pub fn home_assistant_online(&mut self) {
        self.resend();
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
            out.push(Message::Subscribe {
                topic: HA_STATUS_TOPIC.to_owned(),
            });
        }
        if self.announce {
            self.announce = false;
            out.push(publish(
                self.availability_topic(),
                ONLINE.to_owned(),
                Qos::AtLeastOnce,
            ));
        }
        for (topic, payload) in &self.configs {
            if self.sent.get(topic) != Some(payload) {
                self.sent.insert(topic.clone(), payload.clone());
                out.push(publish(topic.clone(), payload.clone(), Qos::AtLeastOnce));
            }
        }
        if let Some(s) = self.latest.as_ref().filter(|_| !self.latest_sent) {
            let due = self.force
                || self
                    .last_state_at
                    .is_none_or(|t| now.saturating_duration_since(t) >= self.interval);
            if due {
                self.force = false;
                self.latest_sent = true;
                self.last_state_at = Some(now);
                self.counts.states += 1;
                out.push(publish(
                    discovery::state_topic(&self.prefix, &self.meter),
                    discovery::state(s),
                    Qos::AtMostOnce,
                ));
            }
        }
        out
    }

    /// When [`Publisher::poll`] has something to send next without any new input.
    pub fn next_wakeup(&self) -> Option<Instant> {
        if !self.connected || self.latest_sent || self.latest.is_none() {
            return None;
        }
        Some(
            self.last_state_at
                .map_or_else(Instant::now, |t| t + self.interval),
        )
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
            Message::Publish { topic, .. } => {
                if *topic == self.availability_topic() {
                    self.announce = true;
                } else if *topic == discovery::state_topic(&self.prefix, &self.meter) {
                    self.counts.states = self.counts.states.saturating_sub(1);
                    self.latest_sent = false;
                } else {
                    self.sent.remove(topic);
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
        if let Some(s) = self.latest.as_ref().filter(|_| !self.latest_sent) {
            self.latest_sent = true;
            self.counts.states += 1;
            out.push(publish(
                discovery::state_topic(&self.prefix, &self.meter),
                discovery::state(s),
                Qos::AtMostOnce,
            ));
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
    use crate::mqtt::meter::Energy;
    use crate::tic::Mode;

    fn snap(k: i64, tariff: &str, indexes: &[(&'static str, &str)]) -> Snapshot {
        let columns: Vec<String> = ["time", "time_source", "ADSC", "SINSTS"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Snapshot {
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
                format!("{}", 100 + k),
            ],
            energy: indexes
                .iter()
                .map(|(label, name)| Energy {
                    label,
                    name: (*name).into(),
                    wh: 1000 + k,
                    distributor: false,
                })
                .collect(),
            tariff: Some(tariff.into()),
            tariffs: vec!["HC".into(), "HP".into()],
            tempo: None,
            checksum_errors: 0,
        }
    }

    fn topics(m: &[Message]) -> Vec<String> {
        m.iter()
            .map(|m| match m {
                Message::Publish { topic, .. } => topic.clone(),
                Message::Subscribe { topic } => format!("subscribe {topic}"),
            })
            .collect()
    }

    const STATE: &str = "tic-rec/041876097171/state";
    const AVAIL: &str = "tic-rec/041876097171/availability";

    #[test]
    fn connect_announces_everything_then_states_follow_the_interval() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = Publisher::new("tic-rec", "041876097171", Duration::from_secs(10));
        p.offer(snap(0, "HP", &[("EASF02", "HP")]));
        assert!(p.poll(at(0)).is_empty(), "nothing while not connected");
        assert_eq!(p.next_wakeup(), None);
        p.connected();
        let first = topics(&p.poll(at(0)));
        assert_eq!(first[0], "subscribe homeassistant/status");
        assert_eq!(first[1], AVAIL);
        assert!(first[2..first.len() - 1]
            .iter()
            .all(|t| t.starts_with("homeassistant/sensor/")));
        assert!(first.iter().any(|t| t.ends_with("/easf02/config")));
        assert_eq!(first.last().unwrap(), STATE);
        // Records every second: the next state 10 s later, the newest one.
        for k in 1..10 {
            p.offer(snap(k, "HP", &[("EASF02", "HP")]));
            assert!(p.poll(at(k as u64 * 1000)).is_empty(), "{k}");
        }
        assert_eq!(p.next_wakeup(), Some(at(10_000)));
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
        p.offer(snap(11, "HC", &[("EASF02", "HP")]));
        assert_eq!(topics(&p.poll(at(11_000))), [STATE]);
        // A new index in use: its config (only), then the state when due.
        p.offer(snap(12, "HC", &[("EASF01", "HC"), ("EASF02", "HP")]));
        let m = topics(&p.poll(at(12_000)));
        assert_eq!(
            m,
            ["homeassistant/sensor/tic-rec_041876097171/easf01/config"]
        );
        assert_eq!(topics(&p.poll(at(21_000))), [STATE]);
    }

    #[test]
    fn home_assistant_restarts_and_reconnections_resend_discovery() {
        let t0 = Instant::now();
        let mut p = Publisher::new("tic-rec", "041876097171", Duration::from_secs(10));
        p.offer(snap(0, "HP", &[("EASF02", "HP")]));
        p.connected();
        let all = p.poll(t0).len();
        assert!(p.poll(t0).is_empty());
        p.home_assistant_online();
        let again = topics(&p.poll(t0));
        assert_eq!(again.len(), all - 1, "no second subscription: {again:?}");
        assert_eq!(again.last().unwrap(), STATE);
        p.disconnected();
        p.offer(snap(1, "HP", &[("EASF02", "HP")]));
        assert!(p.poll(t0).is_empty());
        p.connected();
        assert_eq!(p.poll(t0).len(), all);
    }

    #[test]
    fn refused_messages_are_sent_again_and_farewell_says_offline() {
        let t0 = Instant::now();
        let mut p = Publisher::new("tic-rec", "041876097171", Duration::from_secs(10));
        p.offer(snap(0, "HP", &[("EASF02", "HP")]));
        p.connected();
        let m = p.poll(t0);
        for x in &m {
            p.not_sent(x);
        }
        assert_eq!(p.counts().dropped, m.len() as u64);
        assert_eq!(p.counts().states, 0);
        let again = p.poll(t0 + Duration::from_secs(10));
        assert_eq!(topics(&again), topics(&m));
        p.offer(snap(1, "HP", &[("EASF02", "HP")]));
        let bye = p.farewell();
        assert_eq!(topics(&bye), [STATE, AVAIL]);
        let Message::Publish { payload, .. } = &bye[1] else {
            panic!()
        };
        assert_eq!(payload, "offline");
        assert_eq!(p.availability_topic(), AVAIL);
    }
}
