//! The link to the broker as a state machine (sans-IO: time is an argument): what it is now,
//! how long to wait before the next attempt, and one [`LinkNote`] per change of state.
//!
//! - Attempts back off 1, 2, 4, 8, 16, then every 30 s ([`MAX_BACKOFF`]), for ever; a
//!   connection that lasted [`STABLE`] resets the backoff (a broker that accepts and drops
//!   every connection is retried, and said, at most every 30 s too).
//! - A note is said when the link connects (with how long it was down, after an outage),
//!   when a connection is lost, and when an attempt fails for another reason than the attempt
//!   before it (the broker refused the password, then came down…); the same failure again is
//!   silent, so a broker that stays down costs one line.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the backoff.
pub const STABLE: Duration = Duration::from_secs(60);

/// Why the broker refused a connection (its CONNACK return code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Bad user name or password.
    BadCredentials,
    /// Not authorised.
    NotAuthorised,
    /// Server unavailable.
    Unavailable,
    /// The broker does not speak MQTT 3.1.1.
    Protocol,
    /// The client identifier was refused.
    ClientId,
}

impl Refusal {
    /// In a few words: `not authorised`.
    pub fn short(self) -> &'static str {
        match self {
            Refusal::BadCredentials => "bad user name or password",
            Refusal::NotAuthorised => "not authorised",
            Refusal::Unavailable => "server unavailable",
            Refusal::Protocol => "MQTT 3.1.1 refused",
            Refusal::ClientId => "client identifier refused",
        }
    }

    /// In words, with what to check.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::BadCredentials => {
                "bad user name or password (check the user in --mqtt and --mqtt-password-file)"
            }
            Refusal::NotAuthorised => {
                "not authorised (check the user in --mqtt, --mqtt-password-file and the broker's ACL)"
            }
            Refusal::Unavailable => "server unavailable",
            Refusal::Protocol => "the broker does not accept MQTT 3.1.1",
            Refusal::ClientId => "client identifier refused",
        }
    }
}

/// Why an attempt failed or a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The broker answered and refused.
    Refused(Refusal),
    /// The broker could not be reached (connection refused, no route, timeout, TLS).
    Unreachable(String),
    /// An open connection ended (the broker went away, stopped reading, or sent garbage).
    Lost(String),
}

/// What the link is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Not started yet: waiting for a record naming the meter.
    Waiting,
    /// The first attempt is under way.
    Connecting,
    /// Connected.
    Connected,
    /// The broker refused the last attempt; retrying.
    Refused(Refusal),
    /// Not connected (the broker unreachable, or the connection lost); retrying.
    Down(String),
}

impl LinkState {
    /// `waiting`, `connecting`, `connected`, `refused` or `down` (for metrics).
    pub fn name(&self) -> &'static str {
        match self {
            LinkState::Waiting => "waiting",
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Refused(_) => "refused",
            LinkState::Down(_) => "down",
        }
    }
}

impl fmt::Display for LinkState {
    /// Short, for a status line: `connected`, `refused: not authorised`, `down: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkState::Waiting => f.write_str("waiting for the meter"),
            LinkState::Connecting => f.write_str("connecting"),
            LinkState::Connected => f.write_str("connected"),
            LinkState::Refused(r) => write!(f, "refused: {}", r.short()),
            LinkState::Down(why) => write!(f, "down: {why}"),
        }
    }
}

/// What the link has done, for the status line and `/metrics` ([`super::MqttHandle::status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// The broker (`mqtt://user@host:port`, never a password).
    pub broker: String,
    /// The state now.
    pub state: LinkState,
    /// Connections made.
    pub connects: u64,
    /// Attempts that failed, and connections lost.
    pub failures: u64,
    /// State messages handed to the client.
    pub states: u64,
    /// States replaced by a newer one before they were sent (the newest wins).
    pub replaced: u64,
    /// Messages the client's queue had no room for (the broker too slow).
    pub dropped: u64,
    /// The record time of the last state message.
    pub last_state: Option<DateTime<FixedOffset>>,
}

impl LinkStatus {
    /// Nothing done yet.
    pub fn new(broker: String) -> LinkStatus {
        LinkStatus {
            broker,
            state: LinkState::Waiting,
            connects: 0,
            failures: 0,
            states: 0,
            replaced: 0,
            dropped: 0,
            last_state: None,
        }
    }
}

/// A change of the link worth a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkNote {
    /// Connected; `after` the outage it ends, if any.
    Connected {
        /// The broker.
        broker: String,
        /// How long the link was down.
        after: Option<Duration>,
    },
    /// The broker refused the connection.
    Refused {
        /// The broker.
        broker: String,
        /// Why.
        refusal: Refusal,
        /// The wait before the next attempt.
        retry: Duration,
    },
    /// The broker cannot be reached.
    Unreachable {
        /// The broker.
        broker: String,
        /// Why.
        why: String,
        /// The wait before the next attempt.
        retry: Duration,
    },
    /// An open connection was lost.
    Lost {
        /// The broker.
        broker: String,
        /// Why.
        why: String,
        /// The wait before the next attempt.
        retry: Duration,
    },
    /// An energy index is withheld: below the value Home Assistant was last sent (the
    /// retained state's, after a restart or with a replay of an older capture).
    Withheld {
        /// The index's label (`EASF01`).
        label: &'static str,
        /// The meter's value, Wh.
        value: i64,
        /// The value published before, Wh.
        floor: i64,
    },
    /// A confirmed jump of an energy index beyond the subscribed power's bound was left out
    /// of what is published: Home Assistant keeps a continuous total, now below the meter's
    /// display by `offset`.
    Offset {
        /// The index's label.
        label: &'static str,
        /// The step left out, Wh.
        step: i64,
        /// The offset now, Wh.
        offset: i64,
    },
}

/// The link's state machine.
#[derive(Clone, Debug)]
pub struct Link {
    broker: String,
    state: LinkState,
    /// Attempts failed in a row.
    streak: u32,
    down_since: Option<Instant>,
    up_since: Option<Instant>,
    last: Option<Failure>,
    connects: u64,
    failures: u64,
}

impl Link {
    /// A link to `broker` (its display form), waiting.
    pub fn new(broker: String) -> Link {
        Link {
            broker,
            state: LinkState::Waiting,
            streak: 0,
            down_since: None,
            up_since: None,
            last: None,
            connects: 0,
            failures: 0,
        }
    }

    /// A link to `broker` whose counts go on from `connects` and `failures` (those of the
    /// sessions before).
    pub fn with_counts(broker: String, connects: u64, failures: u64) -> Link {
        Link {
            connects,
            failures,
            ..Link::new(broker)
        }
    }

    /// The first attempt starts.
    pub fn connecting(&mut self) {
        if self.state == LinkState::Waiting {
            self.state = LinkState::Connecting;
        }
    }

    /// The state now.
    pub fn state(&self) -> &LinkState {
        &self.state
    }

    /// Whether it is connected.
    pub fn is_connected(&self) -> bool {
        self.state == LinkState::Connected
    }

    /// Connections made, and failures (attempts and losses).
    pub fn counts(&self) -> (u64, u64) {
        (self.connects, self.failures)
    }

    /// The broker accepted the connection at `now`.
    pub fn connected(&mut self, now: Instant) -> LinkNote {
        let after = self
            .down_since
            .take()
            .map(|t| now.saturating_duration_since(t));
        self.state = LinkState::Connected;
        self.up_since = Some(now);
        self.last = None;
        self.connects += 1;
        LinkNote::Connected {
            broker: self.broker.clone(),
            after,
        }
    }

    /// An attempt failed, or the connection ended, at `now`: the note to say (if it is a
    /// change) and how long to wait before the next attempt.
    pub fn failed(&mut self, now: Instant, failure: Failure) -> (Option<LinkNote>, Duration) {
        let was_connected = self.is_connected();
        let up = self.up_since.take();
        if up.is_some_and(|t| now.saturating_duration_since(t) >= STABLE) {
            self.streak = 0;
        }
        self.failures += 1;
        self.streak = self.streak.saturating_add(1);
        self.down_since.get_or_insert(now);
        let retry = backoff(self.streak);
        let broker = self.broker.clone();
        let (state, note) = match &failure {
            Failure::Refused(r) => (
                LinkState::Refused(*r),
                LinkNote::Refused {
                    broker,
                    refusal: *r,
                    retry,
                },
            ),
            Failure::Unreachable(why) if !was_connected => (
                LinkState::Down(why.clone()),
                LinkNote::Unreachable {
                    broker,
                    why: why.clone(),
                    retry,
                },
            ),
            Failure::Unreachable(why) | Failure::Lost(why) => (
                LinkState::Down(why.clone()),
                LinkNote::Lost {
                    broker,
                    why: why.clone(),
                    retry,
                },
            ),
        };
        let changed = was_connected || self.last.as_ref() != Some(&failure);
        self.state = state;
        self.last = Some(failure);
        (changed.then_some(note), retry)
    }
}

/// The wait after `streak` failures in a row: 1, 2, 4, 8, 16, then 30 s.
pub fn backoff(streak: u32) -> Duration {
    let secs = 1u64 << streak.saturating_sub(1).min(5);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn one_note_per_change() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut l = Link::new("mqtt://h:1883".into());
        assert_eq!(l.state(), &LinkState::Waiting);
        l.connecting();
        assert_eq!(l.state(), &LinkState::Connecting);
        let down = || Failure::Unreachable("connection refused".into());
        // The broker is down: said once, retried 1, 2, 4 s later.
        let (n, w) = l.failed(at(0), down());
        assert!(matches!(n, Some(LinkNote::Unreachable { .. })), "{n:?}");
        assert_eq!(w, Duration::from_secs(1));
        assert_eq!(l.failed(at(1), down()), (None, Duration::from_secs(2)));
        assert_eq!(l.failed(at(3), down()), (None, Duration::from_secs(4)));
        // It is up, but refuses the password: a change, said.
        let refused = Failure::Refused(Refusal::NotAuthorised);
        let (n, _) = l.failed(at(7), refused.clone());
        assert!(matches!(
            n,
            Some(LinkNote::Refused {
                refusal: Refusal::NotAuthorised,
                ..
            })
        ));
        assert_eq!(l.state().to_string(), "refused: not authorised");
        for k in 0..10 {
            let (n, w) = l.failed(at(8 + k), refused.clone());
            assert_eq!(n, None);
            assert!(w <= MAX_BACKOFF);
        }
        // Connected: said, with the outage's length; the backoff starts again.
        assert_eq!(
            l.connected(at(40)),
            LinkNote::Connected {
                broker: "mqtt://h:1883".into(),
                after: Some(Duration::from_secs(40))
            }
        );
        assert!(l.is_connected());
        // Lost after a stable connection: said, even for the reason said before; the backoff
        // starts again.
        let (n, w) = l.failed(at(101), down());
        assert!(matches!(n, Some(LinkNote::Lost { .. })), "{n:?}");
        assert_eq!(w, Duration::from_secs(1));
        assert_eq!(l.state().name(), "down");
        assert_eq!(l.counts(), (1, 15));
        // A broker that accepts and drops every connection: the backoff goes on growing.
        let mut waits = Vec::new();
        for k in 0..8 {
            l.connected(at(200 + 40 * k));
            waits.push(l.failed(at(201 + 40 * k), down()).1.as_secs());
        }
        assert_eq!(waits, [2, 4, 8, 16, 30, 30, 30, 30]);
    }
}
