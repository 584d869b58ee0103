//! The I/O: the observer on the recording thread, the publisher thread, and one driver thread
//! per connection session running rumqttc's sync client.
//!
//! ```text
//! recording thread            publisher thread ("tic-rec-mqtt")       driver ("tic-rec-mqtt-link")
//! MqttObserver::event ──slot──▶ Publisher::poll ──try_publish──▶ rumqttc queue ──▶ Connection::recv
//!  (try_lock, newest wins)       (discovery, state, interval)      (bounded, 32)     (connect, backoff,
//!                                      ▲                                              ConnAck, HA status)
//!                                      └──────────── link events ◀───────────────────────┘
//! ```
//!
//! The publisher never waits for the network: it hands messages to the client's bounded queue
//! (`try_publish`; a full queue drops the message, counted, and [`Publisher`] sends it again
//! later). The driver alone blocks, in `Connection::recv`; after a failure it sleeps the
//! [`Link`]'s backoff (woken at once to stop). A session belongs to one meter (its address is
//! in the last will): a meter change ends it and starts another.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{
    Client, Connection, ConnectionError, LastWill, MqttOptions, NetworkOptions, Packet, QoS,
    TlsConfiguration, Transport,
};

use super::discovery::Context;
use super::link::{Failure, Link, LinkNote, LinkState, LinkStatus, Refusal};
use super::meter::{Snapshot, Tracker};
use super::publisher::{Heartbeat, Message, Publisher, Qos};
use super::{check_prefix, Config, MqttError, HA_STATUS_TOPIC};
use crate::capture::{Event, Observer};

/// Room in the client's request queue.
const QUEUE: usize = 32;
/// Connection (TCP, TLS, CONNACK) and flush timeout, seconds.
const NETWORK_TIMEOUT_S: u64 = 5;
/// Keep-alive: a broker gone silent is noticed within about this long.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Link events kept for the publisher at most (a broker flooding `homeassistant/status`):
/// room for every retained config of the largest meter, read back at a connection, many
/// times over.
const MAX_EVENTS: usize = 1024;

/// What a driver tells the publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LinkEvent {
    Connected,
    Down,
    HomeAssistantOnline,
    /// A SUBACK.
    Subscribed,
    /// A retained message on a topic read back (what we published before): topic, payload.
    Retained(String, Vec<u8>),
}

#[derive(Debug, Default)]
struct Inbox {
    snapshot: Option<Snapshot>,
    /// Snapshots replaced in the slot before the publisher took them.
    replaced: u64,
    /// (session, event).
    events: VecDeque<(u64, LinkEvent)>,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    inbox: Mutex<Inbox>,
    wake: Condvar,
    status: Mutex<LinkStatus>,
    /// The session whose driver may write the status (an ended one's driver, still
    /// running, may not).
    current: AtomicU64,
    notes: Mutex<Vec<LinkNote>>,
    /// The times of the last row and the last frame heard: milliseconds since `epoch`, plus
    /// one (0: never). Written by the observer on the recording thread, never waiting.
    epoch: Instant,
    last_row: AtomicU64,
    last_frame: AtomicU64,
}

/// A poisoned lock (a thread panicked holding it) still holds valid data for us.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn event(&self, session: u64, e: LinkEvent) {
        let mut inbox = lock(&self.inbox);
        // Home Assistant saying `online` again and again is one event; each SUBACK and each
        // retained message counts.
        let repeated = e == LinkEvent::HomeAssistantOnline
            && inbox.events.back() == Some(&(session, LinkEvent::HomeAssistantOnline));
        if !repeated {
            if inbox.events.len() >= MAX_EVENTS {
                inbox.events.pop_front();
            }
            inbox.events.push_back((session, e));
        }
        drop(inbox);
        self.wake.notify_one();
    }

    /// Marks `at` (now) in `slot`.
    fn mark(&self, slot: &AtomicU64) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        slot.store(ms + 1, Ordering::Relaxed);
    }

    /// The time marked in `slot`, if any.
    fn marked(&self, slot: &AtomicU64) -> Option<Instant> {
        match slot.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.epoch + Duration::from_millis(ms - 1)),
        }
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat {
            row: self.marked(&self.last_row),
            frame: self.marked(&self.last_frame),
        }
    }

    fn note(&self, n: LinkNote) {
        let mut notes = lock(&self.notes);
        if notes.len() < 1000 {
            notes.push(n);
        }
    }
}

/// The observer to add to the capture's fan-out: it turns records into snapshots and hands
/// the newest to the publisher thread, never waiting.
pub struct MqttObserver {
    tracker: Tracker,
    shared: Arc<Shared>,
    /// A snapshot not handed over yet (the slot was busy).
    held: Option<Snapshot>,
}

impl MqttObserver {
    fn hand_over(&mut self) {
        if self.held.is_none() {
            return;
        }
        let Ok(mut inbox) = self.shared.inbox.try_lock() else {
            return; // busy for an instant: at the next event
        };
        if inbox.snapshot.is_some() {
            inbox.replaced += 1;
        }
        inbox.snapshot = self.held.take();
        drop(inbox);
        self.shared.wake.notify_one();
    }
}

impl Observer for MqttObserver {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Frame(f) => {
                if f.groups().len() > 0 {
                    self.shared.mark(&self.shared.last_frame);
                }
                self.tracker.frame(f);
            }
            Event::Recorded(r, c) => {
                self.shared.mark(&self.shared.last_row);
                if let Some(s) = self.tracker.record(r, c) {
                    self.held = Some(s);
                }
                self.hand_over();
            }
            Event::Tick(_) => self.hand_over(),
            _ => {}
        }
    }
}

/// The link's handle: its status, its notes, and its end. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct MqttHandle {
    shared: Arc<Shared>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl MqttHandle {
    /// The link's status now: its state, connections, failures, states sent, replaced and
    /// dropped (for the status line and `/metrics`).
    pub fn status(&self) -> LinkStatus {
        lock(&self.shared.status).clone()
    }

    /// The notes (one per change of the link) since the last call, oldest first.
    pub fn notes(&self) -> Vec<LinkNote> {
        std::mem::take(&mut *lock(&self.shared.notes))
    }

    /// Ends the link: the newest state if not sent yet, `offline`, a clean disconnect. Waits
    /// for the publisher thread at most `timeout` (a broker that does not answer is left to
    /// the process's exit).
    pub fn shutdown(&self, timeout: Duration) {
        lock(&self.shared.inbox).stop = true;
        self.shared.wake.notify_one();
        let Some(t) = lock(&self.thread).take() else {
            return;
        };
        let until = Instant::now() + timeout;
        while !t.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            let _ = t.join();
        }
    }
}

/// What the threads need, checked once.
struct Prepared {
    cfg: Config,
    client_id: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// Checks `cfg` (the prefix, the password's user, TLS roots) and starts the publisher
/// thread. The client connects once a record names the meter.
pub fn start(cfg: Config) -> Result<(MqttObserver, MqttHandle), MqttError> {
    check_prefix(&cfg.prefix)?;
    if cfg.password.is_some() && cfg.broker.user.is_none() {
        return Err(MqttError::PasswordWithoutUser);
    }
    let tls = tls_config(&cfg)?;
    let client_id = cfg.client_id.clone().unwrap_or_else(default_client_id);
    let shared = Arc::new(Shared {
        inbox: Mutex::new(Inbox::default()),
        wake: Condvar::new(),
        status: Mutex::new(LinkStatus::new(cfg.broker.to_string())),
        current: AtomicU64::new(0),
        notes: Mutex::new(Vec::new()),
        epoch: Instant::now(),
        last_row: AtomicU64::new(0),
        last_frame: AtomicU64::new(0),
    });
    let prepared = Prepared {
        cfg,
        client_id,
        tls,
    };
    let s = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("tic-rec-mqtt".into())
        .spawn(move || {
            let run = || publish_loop(&prepared, &s);
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                stopped(&s);
            }
        })
        .map_err(MqttError::Thread)?;
    Ok((
        MqttObserver {
            tracker: Tracker::new(),
            shared: Arc::clone(&shared),
            held: None,
        },
        MqttHandle {
            shared,
            thread: Arc::new(Mutex::new(Some(thread))),
        },
    ))
}

/// `tic-rec-<host>-<pid>`: unique per recorder on one broker.
fn default_client_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(24)
        .collect();
    format!("tic-rec-{host}-{}", std::process::id())
}

/// The rustls configuration of an `mqtts://` broker: the ring provider, the CA file's
/// certificates or the system's roots.
fn tls_config(cfg: &Config) -> Result<Option<Arc<rustls::ClientConfig>>, MqttError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    if !cfg.broker.tls {
        if cfg.ca.is_some() {
            return Err(MqttError::CaWithoutTls);
        }
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    match &cfg.ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| MqttError::Ca {
                path: path.clone(),
                source,
            })?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| MqttError::CaNotPem {
                    path: path.clone(),
                    source,
                })?;
            let (added, ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(MqttError::CaEmpty {
                    path: path.clone(),
                    detail: if ignored > 0 {
                        format!(": {ignored} certificate(s) could not be parsed")
                    } else {
                        String::new()
                    },
                });
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let detail = if found.errors.is_empty() {
                    "the system store is empty".to_owned()
                } else {
                    found
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                return Err(MqttError::NoRoots { detail });
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(MqttError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

/// One connection session: a client for one meter (its last will), and its driver.
struct Session {
    id: u64,
    client: Client,
    driver: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl Session {
    /// A session for `meter`, whose availability topic is `will`.
    /// Its client identifier is the link's with `-<id>`: a driver of an ended session still
    /// trying cannot take the new one's place at the broker (same identifier: the broker
    /// would drop the other, and its last will say `offline`).
    fn start(
        p: &Prepared,
        id: u64,
        will: String,
        meter: String,
        shared: &Arc<Shared>,
    ) -> Option<Session> {
        let b = &p.cfg.broker;
        shared.current.store(id, Ordering::Relaxed);
        let client_id = format!("{}-{id}", p.client_id);
        let mut opts = MqttOptions::new(client_id, b.host.clone(), b.port);
        opts.set_keep_alive(KEEP_ALIVE)
            .set_clean_session(true)
            .set_max_packet_size(64 * 1024, 64 * 1024)
            .set_last_will(LastWill::new(
                will,
                super::discovery::OFFLINE,
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(user) = &b.user {
            let password = p.cfg.password.as_ref().map_or("", |s| s.expose());
            opts.set_credentials(user.clone(), password);
        }
        if let Some(tls) = &p.tls {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::clone(tls),
            )));
        }
        let (client, mut connection) = Client::new(opts, QUEUE);
        let mut net = NetworkOptions::new();
        net.set_connection_timeout(NETWORK_TIMEOUT_S);
        connection.eventloop.set_network_options(net);
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(shared), Arc::clone(&stop));
        let broker = b.to_string();
        // The counts go on from the sessions before.
        let (connects, failures) = {
            let status = lock(&shared.status);
            (status.connects, status.failures)
        };
        let driver = std::thread::Builder::new()
            .name("tic-rec-mqtt-link".into())
            .spawn(move || {
                let link = Link::with_counts(broker, connects, failures);
                let run = || drive(connection, link, &s, id, &meter, &st);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                    stopped(&s);
                }
            });
        match driver {
            Ok(driver) => Some(Session {
                id,
                client,
                driver,
                stop,
            }),
            Err(e) => {
                let mut status = lock(&shared.status);
                status.state = LinkState::Down(format!("cannot start the link's thread: {e}"));
                None
            }
        }
    }

    /// Hands `m` to the client's queue; `false` when it has no room.
    fn send(&self, m: &Message) -> bool {
        match m {
            Message::Publish {
                topic,
                payload,
                retain,
                qos,
            } => {
                let qos = match qos {
                    Qos::AtMostOnce => QoS::AtMostOnce,
                    Qos::AtLeastOnce => QoS::AtLeastOnce,
                };
                self.client
                    .try_publish(topic.as_str(), qos, *retain, payload.as_bytes())
                    .is_ok()
            }
            Message::Subscribe { topic } => self
                .client
                .try_subscribe(topic.as_str(), QoS::AtLeastOnce)
                .is_ok(),
            Message::Unsubscribe { topic } => self.client.try_unsubscribe(topic.as_str()).is_ok(),
        }
    }

    /// Says goodbye (`farewell`), disconnects, and waits up to `timeout` for the driver to
    /// have sent them (when connected; otherwise it is stopped at once).
    fn close(self, farewell: &[Message], connected: bool, timeout: Duration) {
        for m in farewell {
            self.send(m);
        }
        let _ = self.client.try_disconnect();
        if !connected {
            self.stop.store(true, Ordering::Relaxed);
            self.driver.thread().unpark();
        }
        // Connected, the driver sends what is queued, then the disconnect, and stops.
        let until = Instant::now() + timeout;
        while !self.driver.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stop.store(true, Ordering::Relaxed);
        self.driver.thread().unpark();
        drop(self.client);
        if self.driver.is_finished() {
            let _ = self.driver.join();
        }
    }
}

/// The publisher thread: snapshots and link events in, messages to the client out.
fn publish_loop(p: &Prepared, shared: &Arc<Shared>) {
    let mut session: Option<Session> = None;
    let mut publisher: Option<Publisher> = None;
    let mut next_id = 0u64;
    let mut replaced = 0u64;
    let ctx = Context {
        prefix: p.cfg.prefix.clone(),
        configuration_url: p.cfg.configuration_url.clone(),
    };
    loop {
        let wake = publisher
            .as_ref()
            .and_then(|pb| pb.next_wakeup(Instant::now()));
        let (snapshot, events, stop) = {
            let mut inbox = lock(&shared.inbox);
            loop {
                if inbox.stop || inbox.snapshot.is_some() || !inbox.events.is_empty() {
                    break;
                }
                let now = Instant::now();
                match wake {
                    Some(w) if w <= now => break,
                    Some(w) => {
                        inbox = shared
                            .wake
                            .wait_timeout(inbox, w - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    None => {
                        inbox = shared.wake.wait(inbox).unwrap_or_else(|e| e.into_inner());
                    }
                }
            }
            replaced += std::mem::take(&mut inbox.replaced);
            let events: Vec<_> = inbox.events.drain(..).collect();
            (inbox.snapshot.take(), events, inbox.stop)
        };
        if let Some(s) = snapshot {
            if publisher.as_ref().is_none_or(|x| x.meter() != s.meter) {
                // A new meter (or the first): a session with its last will.
                if let (Some(old), Some(pb)) = (session.take(), publisher.as_mut()) {
                    old.close(&pb.farewell(), is_connected(shared), Duration::from_secs(1));
                }
                next_id += 1;
                let pb = Publisher::new(ctx.clone(), &s.meter, p.cfg.interval, p.cfg.stale_after);
                session =
                    Session::start(p, next_id, pb.availability_topic(), s.meter.clone(), shared);
                publisher = Some(pb);
            }
            if let Some(pb) = publisher.as_mut() {
                pb.offer(s);
            }
        }
        if let (Some(sess), Some(pb)) = (session.as_ref(), publisher.as_mut()) {
            for (id, e) in events {
                if id != sess.id {
                    continue; // an ended session's
                }
                match e {
                    LinkEvent::Connected => pb.connected(),
                    LinkEvent::Down => pb.disconnected(),
                    LinkEvent::HomeAssistantOnline => pb.home_assistant_online(),
                    LinkEvent::Subscribed => pb.subscribed(Instant::now()),
                    LinkEvent::Retained(topic, payload) => pb.retained(&topic, &payload),
                }
            }
        }
        if stop {
            if let (Some(sess), Some(pb)) = (session.take(), publisher.as_mut()) {
                sess.close(&pb.farewell(), is_connected(shared), Duration::from_secs(2));
            }
            return;
        }
        if let (Some(sess), Some(pb)) = (session.as_ref(), publisher.as_mut()) {
            pb.heartbeat(shared.heartbeat());
            for m in pb.poll(Instant::now()) {
                if !sess.send(&m) {
                    pb.not_sent(&m);
                }
            }
            for n in pb.notes() {
                shared.note(n);
            }
            let c = pb.counts();
            let mut status = lock(&shared.status);
            status.states = c.states;
            status.replaced = c.replaced + replaced;
            status.dropped = c.dropped;
            if let Some(t) = pb.last_state_time() {
                status.last_state = Some(t);
            }
        }
    }
}

/// The driver: runs the connection (connect, reconnect after the backoff, keep-alive) and
/// tells the publisher and the status what happens.
fn drive(
    mut conn: Connection,
    mut link: Link,
    shared: &Shared,
    id: u64,
    meter: &str,
    stop: &AtomicBool,
) {
    link.connecting();
    set_state(shared, &link, id);
    while !stop.load(Ordering::Relaxed) {
        let event = match conn.recv() {
            Err(_) => break, // the client is gone
            Ok(e) => e,
        };
        match event {
            Ok(rumqttc::Event::Incoming(Packet::ConnAck(_))) => {
                let note = link.connected(Instant::now());
                if is_current(shared, id) {
                    shared.note(note);
                }
                set_state(shared, &link, id);
                shared.event(id, LinkEvent::Connected);
            }
            Ok(rumqttc::Event::Incoming(Packet::SubAck(_))) => {
                shared.event(id, LinkEvent::Subscribed);
            }
            Ok(rumqttc::Event::Incoming(Packet::Publish(p))) => {
                if p.topic == HA_STATUS_TOPIC {
                    if p.payload.as_ref() == b"online" {
                        shared.event(id, LinkEvent::HomeAssistantOnline);
                    }
                } else if p.retain && p.topic.contains(meter) {
                    shared.event(id, LinkEvent::Retained(p.topic.clone(), p.payload.to_vec()));
                }
            }
            Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let was_connected = link.is_connected();
                if was_connected {
                    shared.event(id, LinkEvent::Down);
                }
                let (note, wait) = link.failed(Instant::now(), failure(&e, was_connected));
                if let Some(n) = note.filter(|_| is_current(shared, id)) {
                    shared.note(n);
                }
                set_state(shared, &link, id);
                let until = Instant::now() + wait;
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    std::thread::park_timeout(until - now);
                }
            }
        }
    }
}

/// A thread of the link panicked (a bug): the link is down for good, recording goes on.
fn stopped(shared: &Shared) {
    lock(&shared.status).state =
        LinkState::Down("the MQTT link stopped on an internal error (recording goes on)".into());
}

fn is_connected(shared: &Shared) -> bool {
    lock(&shared.status).state == LinkState::Connected
}

/// Whether session `id` is the current one.
fn is_current(shared: &Shared, id: u64) -> bool {
    shared.current.load(Ordering::Relaxed) == id
}

/// The status from session `id`'s link, if it is the current session (an ended session's
/// driver, still running, writes nothing).
fn set_state(shared: &Shared, link: &Link, id: u64) {
    let mut status = lock(&shared.status);
    if !is_current(shared, id) {
        return;
    }
    status.state = link.state().clone();
    (status.connects, status.failures) = link.counts();
}

/// What a rumqttc error means for the link. Its messages never hold the password (the
/// broker's refusal is a return code).
fn failure(e: &ConnectionError, was_connected: bool) -> Failure {
    use rumqttc::ConnectReturnCode as Code;
    let why = match e {
        ConnectionError::ConnectionRefused(code) => {
            return Failure::Refused(match code {
                Code::BadUserNamePassword => Refusal::BadCredentials,
                Code::NotAuthorized => Refusal::NotAuthorised,
                Code::ServiceUnavailable => Refusal::Unavailable,
                Code::RefusedProtocolVersion => Refusal::Protocol,
                Code::BadClientId => Refusal::ClientId,
                Code::Success => Refusal::Unavailable,
            })
        }
        ConnectionError::Io(e) => e.to_string(),
        ConnectionError::NetworkTimeout => format!("no answer within {NETWORK_TIMEOUT_S} s"),
        ConnectionError::FlushTimeout => {
            format!("the broker took no data for {NETWORK_TIMEOUT_S} s")
        }
        ConnectionError::Tls(e) => format!("TLS: {e}"),
        ConnectionError::MqttState(e) => format!("protocol error: {e}"),
        ConnectionError::NotConnAck(_) => "the broker did not answer with CONNACK".to_owned(),
        ConnectionError::RequestsDone => "stopped".to_owned(),
    };
    if was_connected {
        Failure::Lost(why)
    } else {
        Failure::Unreachable(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> Config {
        Config {
            broker: url.parse().unwrap(),
            password: None,
            ca: None,
            prefix: "tic-rec".into(),
            interval: Duration::from_secs(10),
            client_id: None,
            stale_after: super::super::publisher::STALE_AFTER,
            configuration_url: None,
        }
    }

    #[test]
    fn configuration_errors() {
        let mut c = cfg("mqtt://localhost");
        c.password = Some(super::super::Secret::new("x".into()));
        assert!(matches!(start(c), Err(MqttError::PasswordWithoutUser)));
        let mut c = cfg("mqtt://localhost");
        c.ca = Some("/nonexistent".into());
        assert!(matches!(start(c), Err(MqttError::CaWithoutTls)));
        let mut c = cfg("mqtts://localhost");
        c.ca = Some("/nonexistent/ca.pem".into());
        let e = start(c).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let mut c = cfg("mqtts://localhost");
        c.ca = Some(junk);
        let e = start(c).err().unwrap().to_string();
        assert!(
            e.contains("junk.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let mut c = cfg("mqtt://localhost");
        c.prefix = "a/#".into();
        assert!(matches!(start(c), Err(MqttError::Topic { .. })));
    }

    #[test]
    fn failures_from_rumqttc_errors() {
        use rumqttc::ConnectReturnCode as Code;
        assert_eq!(
            failure(
                &ConnectionError::ConnectionRefused(Code::NotAuthorized),
                false
            ),
            Failure::Refused(Refusal::NotAuthorised)
        );
        let io =
            || ConnectionError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(failure(&io(), false), Failure::Unreachable(_)));
        assert!(matches!(failure(&io(), true), Failure::Lost(_)));
    }

    #[test]
    fn an_ended_sessions_driver_writes_no_status_and_counts_go_on() {
        let shared = Shared {
            inbox: Mutex::new(Inbox::default()),
            wake: Condvar::new(),
            status: Mutex::new(LinkStatus::new("mqtt://h:1883".into())),
            current: AtomicU64::new(1),
            notes: Mutex::new(Vec::new()),
            epoch: Instant::now(),
            last_row: AtomicU64::new(0),
            last_frame: AtomicU64::new(0),
        };
        let t0 = Instant::now();
        let mut old = Link::new("mqtt://h:1883".into());
        old.connected(t0);
        set_state(&shared, &old, 1);
        assert_eq!(lock(&shared.status).connects, 1);
        // A meter change: session 2 is current; its link goes on from the counts.
        shared.current.store(2, Ordering::Relaxed);
        let (c, f) = {
            let status = lock(&shared.status);
            (status.connects, status.failures)
        };
        let mut new = Link::with_counts("mqtt://h:1883".into(), c, f);
        new.connecting();
        set_state(&shared, &new, 2);
        assert_eq!(lock(&shared.status).state, LinkState::Connecting);
        // The old driver, still running, loses its connection: ignored.
        old.failed(t0, Failure::Lost("gone".into()));
        set_state(&shared, &old, 1);
        assert_eq!(lock(&shared.status).state, LinkState::Connecting);
        assert!(!is_current(&shared, 1));
        new.connected(t0);
        set_state(&shared, &new, 2);
        let status = lock(&shared.status).clone();
        assert_eq!((status.state, status.connects), (LinkState::Connected, 2));
    }

    #[test]
    fn every_suback_and_retained_message_reaches_the_publisher() {
        let shared = Shared {
            inbox: Mutex::new(Inbox::default()),
            wake: Condvar::new(),
            status: Mutex::new(LinkStatus::new("mqtt://h:1883".into())),
            current: AtomicU64::new(1),
            notes: Mutex::new(Vec::new()),
            epoch: Instant::now(),
            last_row: AtomicU64::new(0),
            last_frame: AtomicU64::new(0),
        };
        for _ in 0..4 {
            shared.event(1, LinkEvent::Subscribed);
        }
        for _ in 0..3 {
            shared.event(1, LinkEvent::HomeAssistantOnline);
        }
        for k in 0..100 {
            shared.event(1, LinkEvent::Retained(format!("t/{k}"), Vec::new()));
        }
        let events: Vec<LinkEvent> = lock(&shared.inbox)
            .events
            .iter()
            .map(|(_, e)| e.clone())
            .collect();
        assert_eq!(
            events
                .iter()
                .filter(|e| **e == LinkEvent::Subscribed)
                .count(),
            4
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| **e == LinkEvent::HomeAssistantOnline)
                .count(),
            1
        );
        assert_eq!(events.len(), 4 + 1 + 100);
        assert_eq!(shared.heartbeat().row, None);
        shared.mark(&shared.last_row);
        assert!(shared.heartbeat().row.is_some());
    }

    #[test]
    fn a_link_without_a_meter_waits_and_stops_at_once() {
        let (_obs, handle) = start(cfg("mqtt://127.0.0.1:9")).unwrap();
        assert_eq!(handle.status().state, LinkState::Waiting);
        assert_eq!(handle.status().broker, "mqtt://127.0.0.1:9");
        let t = Instant::now();
        handle.shutdown(Duration::from_secs(2));
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(handle.notes().is_empty());
    }
}
