//! Home Assistant over MQTT, from the recorder: live sensors and the Energy dashboard.
//!
//! The recorder publishes what it writes to an MQTT broker, with Home Assistant's MQTT
//! discovery, without ever risking the recording. [`start`] returns an [`MqttObserver`] to add
//! to the capture's [`Fanout`](crate::capture::Fanout) and an [`MqttHandle`] to read the link's
//! state ([`LinkStatus`]: for the status line and `/metrics`), take its log lines
//! ([`LinkNote`]s) and shut it down.
//!
//! ## Design constraints
//! - **Never blocks recording.** [`MqttObserver`]'s `event` runs on the recording thread and
//!   returns at once: it turns the record into a [`Snapshot`] (a few dozen small strings)
//!   and leaves it in a slot of one (the newest state wins; an older one not yet sent is
//!   counted as replaced), taken with `try_lock`: if the MQTT thread happens to hold the slot,
//!   the snapshot waits for the next event instead. Everything else — JSON, discovery, the
//!   client, the network, TLS — runs on two threads of its own: the publisher and the
//!   connection's driver (rumqttc's sync client, with its small tokio runtime on the
//!   driver's thread). A broker that is down, slow, full or refuses the password costs the
//!   recorder nothing.
//! - **Sans-IO where it decides.** The payloads ([`discovery`]), the publishing guard
//!   ([`guard`]), the link's state machine with its backoff ([`link`], time passed in) and the
//!   publisher's schedule ([`publisher`]) are plain functions and state machines, unit-tested
//!   without a broker. Only [`client`] does I/O.
//! - **Only what the recorder would write.** Snapshots are made from [`Event::Recorded`]
//!   records (written, or held while the disk is full), never from frames the recorder
//!   rejected; an energy index is published only once the next record confirms it, never
//!   below what Home Assistant was last sent — the retained state, read back at each
//!   connection before any state — and never with a step beyond the subscribed power's bound
//!   from it (an offset instead) ([`guard`]): Home Assistant records a `total_increasing`
//!   spike forever, and reads a fall as a reset. Values the records do not carry (STGE,
//!   SMAXSN, CCASN, PRM, ADPS, DEMAIN…) come from [`Event::Frame`]'s verified groups
//!   ([`meter::Heard`]).
//! - **Only a live meter, and the truth about it.** The live recorder owns its meter's
//!   topics: `record` refuses `--mqtt` with a replay or the demo (history shown as current).
//!   What the meter says now is unavailable in Home Assistant once no row has been written,
//!   or no frame heard, for a minute (the TIC link, [`publisher`]); configs the recorder no
//!   longer makes are withdrawn at each connection.
//! - **One line per change of the link** ([`LinkNote`]): connected, refused and why, lost, and
//!   unreachable; reconnection backs off 1, 2, 4 … up to 30 s.
//! - **The password** is read from a file ([`Secret::from_file`]), never shown by `Debug`,
//!   never in a message (rumqttc's own errors carry only the broker's return code).
//!
//! ## Topics (all retained)
//! - `<prefix>/<meter>/state`: one JSON object a state (every `interval`, and at once on a
//!   tariff change): the record's labels typed (numbers as JSON numbers, text as strings),
//!   the labels the frames add, `time` (RFC 3339), `meter`, `tariff` (the period's name:
//!   `Off-peak`, `Peak`, `Blue peak`…), `colour_today`/`colour_tomorrow` (`Blue`, `White`,
//!   `Red` or `null`) on Tempo meters, the status register's fields (`stge_*`),
//!   `checksum_errors`, `held_rows`; energy indexes carry their last published (confirmed)
//!   value.
//! - `<prefix>/<meter>/availability`: the recorder's, `online` once connected; `offline` as
//!   the last will, and at a clean stop.
//! - `<prefix>/<meter>/link`: the TIC link's, `online` while rows are written.
//! - `<prefix>/<meter>/names`: the tariff names the meter taught, read back at each
//!   connection.
//! - `homeassistant/{sensor,binary_sensor}/tic-rec_<meter>/<object>/config`: discovery, one
//!   device per meter; republished when `homeassistant/status` says `online` and after every
//!   reconnection, withdrawn (an empty payload) when no longer made. See [`discovery`].
//!
//! The client connects once the first record names the meter (its address is in the topics
//! and in the last will). A meter change (a new ADSC/ADCO, confirmed by the next record) marks
//! the old meter offline and reconnects with the new one's last will.
//!
//! [`Event::Recorded`]: crate::capture::Event::Recorded
//! [`Event::Frame`]: crate::capture::Event::Frame

pub mod broker;
pub mod client;
pub mod discovery;
pub mod guard;
pub mod link;
pub mod meter;
pub mod publisher;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use broker::Broker;
pub use client::{start, MqttHandle, MqttObserver};
pub use link::{LinkNote, LinkState, LinkStatus};
pub use meter::Snapshot;

/// Home Assistant's discovery prefix (its default).
pub const DISCOVERY_PREFIX: &str = "homeassistant";
/// The topic where Home Assistant says `online` when it (re)starts.
pub const HA_STATUS_TOPIC: &str = "homeassistant/status";

/// An MQTT link's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The broker.
    pub broker: Broker,
    /// The password, with the broker's user.
    pub password: Option<Secret>,
    /// PEM file of the CA that signed the broker's certificate (`mqtts://`); `None`: the
    /// system's roots.
    pub ca: Option<PathBuf>,
    /// Topic prefix (`tic-rec`).
    pub prefix: String,
    /// State messages at most this often (plus one at each tariff change).
    pub interval: Duration,
    /// The MQTT client identifier; `None`: `tic-rec-<host>-<pid>`.
    pub client_id: Option<String>,
    /// The TIC link is down (what the meter says now unavailable in Home Assistant) after
    /// this long without a row or a frame ([`publisher::STALE_AFTER`]).
    pub stale_after: Duration,
    /// The recorder's dashboard, the device's `configuration_url` in Home Assistant.
    pub configuration_url: Option<String>,
}

/// A password: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret.
    pub fn new(s: String) -> Secret {
        Secret(s)
    }

    /// The first line of `path`, trimmed of surrounding white space.
    pub fn from_file(path: &Path) -> Result<Secret, MqttError> {
        let text = std::fs::read_to_string(path).map_err(|source| MqttError::PasswordFile {
            path: path.to_owned(),
            source,
        })?;
        let line = text.lines().next().unwrap_or("").trim();
        if line.is_empty() {
            return Err(MqttError::PasswordEmpty {
                path: path.to_owned(),
            });
        }
        Ok(Secret(line.to_owned()))
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Errors of the MQTT link's configuration (the link itself never fails: it retries).
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The broker URL is not `mqtt[s]://[user@]host[:port]`.
    #[error("--mqtt {url:?}: {why} (expected mqtt://[user@]host[:port] or mqtts://…)")]
    Url {
        /// The URL, its user info left out.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// The topic prefix cannot be used.
    #[error("--mqtt-topic {topic:?}: {why}")]
    Topic {
        /// The prefix.
        topic: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The password file cannot be read.
    #[error("cannot read the MQTT password file {path:?}")]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The password file's first line is empty.
    #[error("the MQTT password file {path:?} is empty (its first line is the password)")]
    PasswordEmpty {
        /// The file.
        path: PathBuf,
    },
    /// A password without a user: MQTT sends a password only with a user name.
    #[error("a password needs a user name: mqtt://USER@host")]
    PasswordWithoutUser,
    /// `--mqtt-ca` with a plain `mqtt://` URL.
    #[error("--mqtt-ca is for TLS: use an mqtts:// URL")]
    CaWithoutTls,
    /// The CA file cannot be read.
    #[error("cannot read the CA file {path:?}")]
    Ca {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA file is not PEM.
    #[error("the CA file {path:?} holds no PEM certificate that TLS can use")]
    CaNotPem {
        /// The file.
        path: PathBuf,
        /// The PEM parser's error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("the CA file {path:?} holds no PEM certificate that TLS can use{detail}")]
    CaEmpty {
        /// The file.
        path: PathBuf,
        /// Why, if known (`: …`).
        detail: String,
    },
    /// No system root certificate could be loaded for `mqtts://`.
    #[error("no system root certificate found for mqtts:// ({detail}); give the broker's CA with --mqtt-ca FILE")]
    NoRoots {
        /// What the loader said.
        detail: String,
    },
    /// The TLS configuration was refused.
    #[error("cannot set up TLS")]
    Tls(#[source] rustls::Error),
    /// The MQTT thread could not be started.
    #[error("cannot start the MQTT thread")]
    Thread(#[source] std::io::Error),
}

/// Checks a topic prefix: not empty, no wildcard, no leading or trailing `/`, no NUL.
pub fn check_prefix(topic: &str) -> Result<(), MqttError> {
    let why = if topic.is_empty() {
        Some("must not be empty")
    } else if topic.contains(['+', '#']) {
        Some("must not hold the wildcards + or #")
    } else if topic.starts_with('/') || topic.ends_with('/') {
        Some("must not start or end with /")
    } else if topic.contains('\0') || topic.split('/').any(str::is_empty) {
        Some("must not hold an empty level (//) or NUL")
    } else {
        None
    };
    match why {
        Some(why) => Err(MqttError::Topic {
            topic: topic.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_shown() {
        let s = Secret::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        let cfg = Config {
            broker: "mqtt://me@localhost".parse().unwrap(),
            password: Some(s),
            ca: None,
            prefix: "tic-rec".into(),
            interval: Duration::from_secs(10),
            client_id: None,
            stale_after: Duration::from_secs(60),
            configuration_url: None,
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn password_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "  s3cret \nsecond line\n").unwrap();
        assert_eq!(Secret::from_file(&p).unwrap().expose(), "s3cret");
        std::fs::write(&p, "\n").unwrap();
        let e = Secret::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("is empty") && e.contains("pw"), "{e}");
        let e = Secret::from_file(&dir.path().join("absent"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent") && e.contains("cannot read"), "{e}");
    }

    #[test]
    fn prefixes() {
        for ok in ["tic-rec", "home/linky", "a"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/+", "#", "/a", "a/", "a//b"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
