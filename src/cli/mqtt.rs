//! `record --mqtt`: the flags, and the link's lines for humans (the library's
//! [`tic_rec::mqtt`] reports; this presents).

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use anyhow::{Context, Result};
use chrono::Duration;
use tic_rec::error::Chain;
use tic_rec::mqtt::{self, Broker, LinkNote, LinkState, MqttHandle, MqttObserver, Secret};

use super::simulate::parse_duration;

/// Home Assistant over MQTT.
#[derive(Debug, clap::Args)]
pub struct MqttArgs {
    /// Publish live sensors and Home Assistant discovery to an MQTT broker:
    /// mqtt://[user@]host[:port], or mqtts://… for TLS (no password in the URL).
    #[arg(long, value_name = "URL", value_parser = BrokerParser)]
    mqtt: Option<Broker>,
    /// The MQTT password: the first line of FILE (never on the command line).
    #[arg(long, value_name = "FILE", requires = "mqtt")]
    mqtt_password_file: Option<PathBuf>,
    /// With mqtts://: the PEM file of the CA that signed the broker's certificate
    /// [default: the system's roots].
    #[arg(long, value_name = "FILE", requires = "mqtt")]
    mqtt_ca: Option<PathBuf>,
    /// Topic prefix: states on PREFIX/<meter>/state.
    #[arg(long, value_name = "PREFIX", default_value = "tic-rec")]
    mqtt_topic: String,
    /// State messages at most this often (plus one at each tariff change).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    mqtt_interval: Duration,
}

/// Parses `--mqtt` with an error that does not echo the value (clap's would, and a URL with a
/// password in it would end up in the journal).
#[derive(Clone)]
struct BrokerParser;

impl clap::builder::TypedValueParser for BrokerParser {
    type Value = Broker;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Broker, clap::Error> {
        use clap::error::ErrorKind;
        let s = value.to_str().ok_or_else(|| {
            clap::Error::raw(ErrorKind::InvalidUtf8, "--mqtt: the URL is not UTF-8\n").with_cmd(cmd)
        })?;
        s.parse().map_err(|e: mqtt::MqttError| {
            clap::Error::raw(ErrorKind::ValueValidation, format!("{}\n", Chain(&e))).with_cmd(cmd)
        })
    }
}

impl MqttArgs {
    /// Whether `--mqtt` was given.
    pub(super) fn enabled(&self) -> bool {
        self.mqtt.is_some()
    }

    /// Refuses `--mqtt` with a source that is not a live meter: the demo (a day in seconds)
    /// and a replay (history). Either would show old values in Home Assistant as current,
    /// and a replay's end would take the meter offline while the live recorder publishes
    /// it: the live recorder owns its meter's sensors and availability.
    pub(super) fn refuse(&self, demo: bool, replay: bool) -> Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        if demo {
            anyhow::bail!("--mqtt publishes a live meter: the demo records a day in seconds, which Home Assistant would take as live");
        }
        if replay {
            anyhow::bail!("--mqtt publishes a live meter: a replay's rows are history, which Home Assistant would show as current values (and the replay's end would mark the meter offline while its live recorder publishes it); record the replay without --mqtt");
        }
        Ok(())
    }

    /// Starts the link if `--mqtt` was given (reads the password file, checks TLS); `http`:
    /// the dashboard's address (`--http`), the device's configuration URL.
    pub(super) fn start(
        &self,
        http: Option<std::net::SocketAddr>,
    ) -> Result<Option<(MqttObserver, MqttHandle)>> {
        let Some(broker) = self.mqtt.clone() else {
            return Ok(None);
        };
        let password = self
            .mqtt_password_file
            .as_deref()
            .map(Secret::from_file)
            .transpose()?;
        let cfg = mqtt::Config {
            broker,
            password,
            ca: self.mqtt_ca.clone(),
            prefix: self.mqtt_topic.clone(),
            interval: self.mqtt_interval.to_std().context("--mqtt-interval")?,
            client_id: None,
            stale_after: mqtt::publisher::STALE_AFTER,
            configuration_url: http.and_then(dashboard_url),
        };
        Ok(Some(mqtt::start(cfg)?))
    }
}

/// `http://ADDR/` for the dashboard's address: the host's name for an unspecified address
/// (0.0.0.0, ::); none for port 0 (known only once bound).
fn dashboard_url(addr: std::net::SocketAddr) -> Option<String> {
    if addr.port() == 0 {
        return None;
    }
    if addr.ip().is_unspecified() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
        let host = host.trim();
        return (!host.is_empty()).then(|| format!("http://{host}:{}/", addr.port()));
    }
    Some(format!("http://{addr}/"))
}

fn retry(d: StdDuration) -> String {
    format!("retrying in {} s (at most every 30 s)", d.as_secs())
}

/// A note as a log line.
pub(super) fn line(n: &LinkNote) -> String {
    match n {
        LinkNote::Connected { broker, after } => match after {
            None => format!("MQTT: connected to {broker}"),
            Some(d) => format!(
                "MQTT: connected to {broker} again after {}",
                humantime::format_duration(StdDuration::from_secs(d.as_secs()))
            ),
        },
        LinkNote::Refused {
            broker,
            refusal,
            retry: r,
        } => format!(
            "MQTT: {broker} refused the connection: {}; {}; recording goes on",
            refusal.describe(),
            retry(*r)
        ),
        LinkNote::Unreachable {
            broker,
            why,
            retry: r,
        } => format!(
            "MQTT: cannot reach {broker}: {why}; {}; recording goes on",
            retry(*r)
        ),
        LinkNote::Lost {
            broker,
            why,
            retry: r,
        } => format!(
            "MQTT: lost the connection to {broker}: {why}; {}; recording goes on",
            retry(*r)
        ),
        LinkNote::Withheld {
            label,
            value,
            floor,
        } => format!(
            "MQTT: {label} not published: {value} Wh is below {floor} Wh, the value Home Assistant \
             was sent before (a restart, or a replay of an older capture); it is published again \
             once the meter reaches it"
        ),
        LinkNote::Offset {
            label,
            step,
            offset,
        } => format!(
            "MQTT: {label} jumped by {step} Wh, more than the subscribed power allows: the step is \
             left out; Home Assistant keeps a continuous total, now {offset} Wh below the meter's \
             display"
        ),
    }
}

/// The link's part of the status line: `; MQTT connected` …
pub(super) fn summary(h: &MqttHandle) -> String {
    let s = h.status();
    match s.state {
        LinkState::Connected => format!("; MQTT connected ({} states)", s.states),
        LinkState::Refused(r) => format!("; MQTT REFUSED: {}", r.short()),
        other => format!("; MQTT {other}"),
    }
}
