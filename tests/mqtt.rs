//! `record --mqtt` end to end (issue 13): the real binary records a simulated meter on a
//! pseudo-terminal and publishes to a real broker — Debian's `mosquitto`, started by each test
//! on a free loopback port — while `mosquitto_sub` listens. Open, with a password file, and
//! over TLS with a CA made by the test (`openssl`); a broker stopped for 10 s; a glitching
//! index with a valid checksum. `.ci/run` installs `mosquitto`, `mosquitto-clients` and
//! `openssl`; where they are absent the tests are ignored with the reason (and fail in CI:
//! tests/common/harness.rs).

mod common;

common::harness!(
    discovery_holds_what_home_assistant_requires_and_states_equal_the_rows,
    the_broker_stopped_for_ten_seconds_loses_no_row_and_gets_discovery_again,
    a_wrong_password_is_said_and_recording_goes_on,
    a_glitching_index_with_a_valid_checksum_is_never_published,
    mqtts_with_a_ca_file_and_with_the_system_roots,
    bad_mqtt_flags_fail_before_recording,
    the_retained_state_is_the_floor_of_every_energy_index,
    a_confirmed_implausible_jump_is_left_out_of_what_is_published,
    a_broker_sending_garbage_never_stops_recording,
    the_link_state_is_in_the_metrics_and_the_api,
);

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde_json::Value;
use tic_rec::sim::{Contract, Meter, Pty, SimConfig, SimFrame};
use tic_rec::tic::encode::push_frame;
use tic_rec::tic::Mode;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A free loopback port, never one handed out before in this process: a broker stopped for a
/// while keeps its port from the other tests' brokers (they run in parallel).
fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A mosquitto broker on loopback, killed when dropped.
struct Broker {
    child: Option<Child>,
    port: u16,
    conf: PathBuf,
    log: PathBuf,
}

impl Broker {
    /// A broker on a free port; `extra` is added to its configuration (a password file, a TLS
    /// listener).
    fn start(dir: &Path, extra: &str) -> Broker {
        let port = free_port();
        let conf = dir.join(format!("mosquitto-{port}.conf"));
        std::fs::write(
            &conf,
            format!(
                "per_listener_settings true\nlistener {port} 127.0.0.1\npersistence false\n{}\n",
                if extra.contains("password_file") {
                    extra.to_owned()
                } else {
                    format!("allow_anonymous true\n{extra}")
                }
            ),
        )
        .unwrap();
        let mut b = Broker {
            child: None,
            port,
            conf,
            log: dir.join(format!("mosquitto-{port}.log")),
        };
        b.run();
        b
    }

    fn run(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none(),
                "mosquitto exited ({exited:?}): {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}: {}",
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, user: Option<&str>) -> String {
        match user {
            Some(u) => format!("mqtt://{u}@127.0.0.1:{}", self.port),
            None => format!("mqtt://127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `mosquitto_sub -v -t '#'`: every message, as (topic, payload).
struct Sub {
    child: Child,
    got: Arc<Mutex<Vec<(String, String)>>>,
}

impl Sub {
    fn start(port: u16, auth: Option<(&str, &str)>) -> Sub {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-v", "-t", "#"]);
        if let Some((u, p)) = auth {
            cmd.args(["-u", u, "-P", p]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = Arc::clone(&got);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let (t, p) = line.split_once(' ').unwrap_or((&line, ""));
                sink.lock().unwrap().push((t.to_owned(), p.to_owned()));
            }
        });
        let sub = Sub { child, got };
        // Subscribed once a probe comes back.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sub.any(|t, _| t == "test/probe") {
            assert!(Instant::now() < deadline, "mosquitto_sub never subscribed");
            let mut pubc = Command::new("mosquitto_pub");
            pubc.args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "test/probe",
                "-m",
                "x",
            ]);
            if let Some((u, p)) = auth {
                pubc.args(["-u", u, "-P", p]);
            }
            let _ = pubc.status();
            std::thread::sleep(Duration::from_millis(100));
        }
        sub
    }

    fn any(&self, f: impl Fn(&str, &str) -> bool) -> bool {
        self.got.lock().unwrap().iter().any(|(t, p)| f(t, p))
    }

    fn count(&self, f: impl Fn(&str, &str) -> bool) -> usize {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, p)| f(t, p))
            .count()
    }

    fn messages(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }

    /// The state messages, parsed.
    fn states(&self) -> Vec<Value> {
        self.messages()
            .iter()
            .filter(|(t, _)| t.ends_with("/state"))
            .map(|(_, p)| serde_json::from_str(p).unwrap_or_else(|e| panic!("{e}: {p}")))
            .collect()
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `tic-rec record --archive csv --mode standard <args>`.
fn recorder(args: &[&str], env: &[(&str, &str)]) -> common::Running {
    let base: &[&str] = &["record", "--archive", "csv", "--mode", "standard"];
    common::Running::start(&[base, args].concat(), env)
}

/// `recorder` reading `pty` into `data` and publishing to `url` (`extra` flags after), once
/// it reads the port.
fn publishing(
    pty: &Pty,
    data: &Path,
    url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> common::Running {
    let data = data.to_str().unwrap();
    let base: &[&str] = &["--port", &pty.path, "--data-dir", data, "--mqtt", url];
    let rec = recorder(&[base, extra].concat(), env);
    rec.wait_for("reading", 10);
    rec
}

/// Sends unchanged frames `pause` ms apart until `done` or `secs` have passed.
fn send_until(pty: &mut Pty, m: &mut Meter, pause: u64, secs: u64, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() && Instant::now() < deadline {
        send(pty, m, &same, pause);
    }
}

/// A standard HC/HP meter, one meter second a frame.
fn meter(start: &str) -> Meter {
    let start = NaiveDateTime::parse_from_str(start, "%Y-%m-%d %H:%M:%S").unwrap();
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, start);
    cfg.frame_interval = Some(chrono::Duration::seconds(1));
    cfg.address = Some("041876097171".into());
    Meter::new(cfg).unwrap()
}

/// A frame's bytes again from its groups, `change` applied to the values (checksums
/// recomputed: a corruption that passed the checksum).
fn encode(s: &SimFrame, change: &dyn Fn(&str, &str) -> Option<String>) -> Vec<u8> {
    let values: Vec<String> = s
        .groups
        .iter()
        .map(|g| change(g.label, &g.value).unwrap_or_else(|| g.value.clone()))
        .collect();
    let groups: Vec<(&str, Option<&str>, &str)> = s
        .groups
        .iter()
        .zip(&values)
        .map(|(g, v)| (g.label, g.horodate.as_deref(), v.as_str()))
        .collect();
    let mut v = Vec::new();
    push_frame(&mut v, Mode::Standard, &groups);
    v
}

/// Sends the meter's next frame (`change`d) and waits `pause`.
fn send(pty: &mut Pty, m: &mut Meter, change: &dyn Fn(&str, &str) -> Option<String>, pause: u64) {
    let mut sink = Vec::new();
    let f = m.next_frame(&mut sink);
    pty.master.write_all(&encode(&f, change)).unwrap();
    std::thread::sleep(Duration::from_millis(pause));
}

fn same(_: &str, _: &str) -> Option<String> {
    None
}

/// The rows of every CSV file under `dir`, by time, as label → cell.
fn rows(dir: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in common::files_named(dir, ".csv") {
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        for l in lines {
            let row: BTreeMap<String, String> = header
                .iter()
                .map(|h| (*h).to_owned())
                .zip(l.split(',').map(str::to_owned))
                .collect();
            out.insert(row["time"].clone(), row);
        }
    }
    out
}

fn is_energy(label: &str) -> bool {
    tic_rec::tic::labels::label(label).is_some_and(|l| l.is_energy())
}

/// Checks every state against the rows written: each non-energy label equals its row's cell
/// (typed), each energy index equals the row before it (the guard publishes a value once the
/// next record confirms it), unless `glitched` says that row's value was never to be
/// published.
fn check_states(states: &[Value], rows: &BTreeMap<String, BTreeMap<String, String>>) {
    assert!(!states.is_empty());
    let times: Vec<&String> = rows.keys().collect();
    for s in states {
        let t = s["time"].as_str().unwrap();
        let row = rows
            .get(t)
            .unwrap_or_else(|| panic!("state of {t}: no such row"));
        for (label, cell) in row {
            if label == "time" {
                continue;
            }
            let v = &s[label.as_str()];
            if is_energy(label) {
                if v.is_null() {
                    continue; // not in use (zero)
                }
                let k = times.iter().position(|x| x.as_str() == t).unwrap();
                let before = &rows[times[k - 1]][label];
                assert_eq!(v.to_string(), *before, "{label} of {t}: the row before's");
            } else {
                let shown = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(shown, *cell, "{label} of {t}");
                if label != "ADSC" && tic_rec::tic::labels::is_numeric(label) {
                    assert!(v.is_number(), "{label} of {t} is a number: {v}");
                }
            }
        }
        assert_eq!(s["meter"], "041876097171");
        assert!(s["tariff"] == "Peak" || s["tariff"] == "Off-peak", "{s}");
        assert!(s["checksum_errors"].is_number());
    }
}

fn discovery_holds_what_home_assistant_requires_and_states_equal_the_rows() {
    common::requires(&[common::Need::Mosquitto]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = Broker::start(dir.path(), "");
    let sub = Sub::start(broker.port, None);
    let mut pty = common::pty();
    let rec = publishing(
        &pty,
        &data,
        &broker.url(None),
        &["--mqtt-interval", "1ms", "--log-interval", "1s"],
        &[],
    );
    // HP until 22:00, then HC: a tariff change on the way. The first states wait for the
    // retained state (up to 2 s after the subscription), so the meter starts two minutes
    // before 22:00 and goes on until a state of each period has come, whatever the load.
    let mut m = meter("2026-06-01 21:58:00");
    for want in ["Peak", "Off-peak"] {
        send_until(&mut pty, &mut m, 100, 40, || {
            sub.states().iter().any(|s| s["tariff"] == want)
        });
    }
    rec.wait_for("MQTT: connected to mqtt://127.0.0.1:", 5);
    send_until(&mut pty, &mut m, 100, 10, || sub.states().len() >= 20);
    // Home Assistant restarts: discovery again.
    let configs = |s: &Sub| {
        s.count(|t, _| {
            t.starts_with("homeassistant/sensor/") || t.starts_with("homeassistant/binary_sensor/")
        })
    };
    let before = configs(&sub);
    let pubc = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(["-t", "homeassistant/status", "-m", "online"])
        .status()
        .unwrap();
    assert!(pubc.success());
    send_until(&mut pty, &mut m, 100, 10, || configs(&sub) >= 2 * before);
    assert!(
        configs(&sub) >= 2 * before,
        "discovery again after HA's online"
    );
    rec.wait_for("MQTT connected (", 5);
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    std::thread::sleep(Duration::from_millis(300));

    let msgs = sub.messages();
    let avail_topic = "tic-rec/041876097171/availability";
    let av: Vec<&str> = msgs
        .iter()
        .filter(|(t, _)| t == avail_topic)
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(av.first(), Some(&"online"));
    assert_eq!(av.last(), Some(&"offline"), "a clean stop says offline");
    let states = sub.states();
    let rows = rows(&data);
    check_states(&states, &rows);
    assert!(
        states.iter().any(|s| s["tariff"] == "Peak")
            && states.iter().any(|s| s["tariff"] == "Off-peak")
    );
    // Discovery.
    let mut objects = BTreeMap::new();
    for (topic, payload) in msgs.iter().filter(|(t, _)| t.starts_with("homeassistant/")) {
        if topic == "homeassistant/status" {
            continue;
        }
        let v: Value = serde_json::from_str(payload).unwrap();
        let parts: Vec<&str> = topic.split('/').collect();
        assert_eq!(parts.len(), 5, "{topic}");
        assert_eq!(parts[2], "tic-rec_041876097171", "{topic}");
        assert_eq!(parts[4], "config", "{topic}");
        let object = format!("{}/{}", parts[1], parts[3]);
        for key in [
            "name",
            "unique_id",
            "default_entity_id",
            "object_id",
            "state_topic",
            "availability",
            "device",
        ] {
            assert!(v.get(key).is_some(), "{topic}: no {key}");
        }
        let avail = v["availability"].as_array().unwrap();
        assert_eq!(avail[0]["topic"], avail_topic);
        assert_eq!(v["device"]["identifiers"][0], "041876097171");
        assert_eq!(v["device"]["serial_number"], "041876097171");
        assert_eq!(v["device"]["model"], "Linky single-phase, TIC standard");
        assert_eq!(
            v["device"]["sw_version"], "TIC 02",
            "VTIC, heard in the frames"
        );
        assert!(v["device"]["name"].is_string() && v["device"]["manufacturer"].is_string());
        if let Some(t) = v["value_template"].as_str() {
            assert!(
                !t.contains("value_json["),
                "{topic}: a missing key would warn: {t}"
            );
        }
        objects.insert(object, v);
    }
    let power = &objects["sensor/sinsts"];
    assert_eq!(power["unit_of_measurement"], "VA");
    assert_eq!(power["device_class"], "apparent_power");
    assert_eq!(power["state_class"], "measurement");
    for (object, name) in [
        ("easf01", "Off-peak"),
        ("easf02", "Peak"),
        ("east", "Withdrawn"),
    ] {
        let e = &objects[&format!("sensor/{object}")];
        assert_eq!(e["name"], name);
        assert_eq!(e["unit_of_measurement"], "kWh");
        assert_eq!(e["device_class"], "energy");
        assert_eq!(e["state_class"], "total_increasing");
    }
    assert_eq!(objects["sensor/urms1"]["device_class"], "voltage");
    assert_eq!(objects["sensor/irms1"]["device_class"], "current");
    assert_eq!(objects["sensor/tariff"]["device_class"], "enum");
    assert_eq!(
        objects["sensor/tariff"]["options"],
        serde_json::json!(["Off-peak", "Peak"])
    );
    assert_eq!(
        objects["sensor/checksum_errors"]["entity_category"],
        "diagnostic"
    );
    assert_eq!(
        objects["binary_sensor/tic_link"]["device_class"],
        "connectivity"
    );
    // The labels the records leave out, heard in the frames.
    let last = states.last().unwrap();
    for label in ["SMAXSN", "STGE", "PRM", "MSG1", "RELAIS"] {
        assert!(last.get(label).is_some(), "{label} in {last}");
    }
    assert_eq!(last["stge_tic_mode"], "standard");
    // The link: online while rows are written.
    let link: Vec<&str> = msgs
        .iter()
        .filter(|(t, _)| t == "tic-rec/041876097171/link")
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(link.first(), Some(&"online"), "{link:?}");
}

fn the_broker_stopped_for_ten_seconds_loses_no_row_and_gets_discovery_again() {
    common::requires(&[common::Need::Mosquitto]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut broker = Broker::start(dir.path(), "");
    let sub = Sub::start(broker.port, None);
    let mut pty = common::pty();
    let rec = publishing(
        &pty,
        &data,
        &broker.url(None),
        &["--mqtt-interval", "1s", "--log-interval", "1s"],
        &[],
    );
    let mut m = meter("2026-06-01 12:00:00");
    send_until(&mut pty, &mut m, 100, 15, || sub.states().len() >= 2);
    assert!(sub.states().len() >= 2, "{}", rec.stderr());
    drop(sub);
    broker.stop();
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(10) {
        send(&mut pty, &mut m, &same, 100);
    }
    rec.wait_for("MQTT: lost the connection to", 1);
    assert!(
        rec.has("; MQTT down"),
        "the status line says it: {}",
        rec.stderr()
    );
    broker.run();
    // A fresh broker holds nothing: what the subscriber gets was published again.
    let sub = Sub::start(broker.port, None);
    let deadline = Instant::now() + Duration::from_secs(40);
    while !(sub.any(|t, p| t.ends_with("/availability") && p == "online")
        && sub.any(|t, _| t.ends_with("/easf02/config"))
        && !sub.states().is_empty())
        && Instant::now() < deadline
    {
        send(&mut pty, &mut m, &same, 100);
    }
    for _ in 0..5 {
        send(&mut pty, &mut m, &same, 100);
    }
    // The link's lines are said on the recording loop's next event.
    rec.wait_for("MQTT: connected to mqtt://127.0.0.1:", 5);
    rec.wait_for("again after", 5);
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    assert!(sub.any(|t, _| t.ends_with("/easf02/config")), "{stderr}");
    assert_eq!(
        stderr.matches("MQTT: lost the connection").count(),
        1,
        "one line per change: {stderr}"
    );
    assert!(
        stderr.matches("MQTT: cannot reach").count() <= 1,
        "one line per change: {stderr}"
    );
    // Every meter second was written, the outage included.
    let got = rows(&data);
    let secs: Vec<i64> = got
        .keys()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp())
        .collect();
    assert!(secs.len() > 100, "{}", secs.len());
    assert_eq!(
        secs.last().unwrap() - secs[0] + 1,
        secs.len() as i64,
        "no row lost\n{stderr}"
    );
    check_states(&sub.states(), &got);
}

fn a_wrong_password_is_said_and_recording_goes_on() {
    common::requires(&[common::Need::Mosquitto]);
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwd");
    let ok = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["linky", "right-horse-battery"])
        .status()
        .unwrap();
    assert!(ok.success());
    let broker = Broker::start(
        dir.path(),
        &format!(
            "allow_anonymous false\npassword_file {}\n",
            passwords.display()
        ),
    );
    let sub = Sub::start(broker.port, Some(("linky", "right-horse-battery")));
    for (k, (password, want)) in [
        ("wrong-staple", "refused the connection: not authorised"),
        ("right-horse-battery", "MQTT: connected to"),
    ]
    .into_iter()
    .enumerate()
    {
        let data = dir.path().join(format!("data-{k}"));
        let file = dir.path().join(format!("pw-{k}.txt"));
        std::fs::write(&file, format!("{password}\n")).unwrap();
        let mut pty = common::pty();
        let rec = publishing(
            &pty,
            &data,
            &broker.url(Some("linky")),
            &[
                "--mqtt-password-file",
                file.to_str().unwrap(),
                "--log-interval",
                "1s",
            ],
            &[],
        );
        let mut m = meter("2026-06-01 12:00:00");
        send_until(&mut pty, &mut m, 100, 15, || rec.has(want));
        for _ in 0..30 {
            send(&mut pty, &mut m, &same, 100);
        }
        if !password.starts_with("wrong") {
            // The first state follows the read-back of what the broker holds (2 s).
            send_until(&mut pty, &mut m, 100, 15, || {
                sub.any(|t, _| t.ends_with("/state"))
            });
        }
        let (status, stderr) = rec.terminate();
        assert!(status.success(), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
        assert!(
            !stderr.contains(password),
            "the password is never shown: {stderr}"
        );
        let written = rows(&data).len();
        assert!(
            written >= 30,
            "recording unaffected: {written} rows\n{stderr}"
        );
        if password.starts_with("wrong") {
            assert_eq!(
                stderr.matches("refused the connection").count(),
                1,
                "{stderr}"
            );
            assert!(stderr.contains("MQTT REFUSED: not authorised"), "{stderr}");
            assert!(!sub.any(|t, _| t.ends_with("/state")));
        } else {
            assert!(sub.any(|t, _| t.ends_with("/state")), "{stderr}");
        }
    }
    let log = std::fs::read_to_string(&broker.log).unwrap_or_default();
    assert!(!log.contains("right-horse-battery") && !log.contains("wrong-staple"));
}

fn a_glitching_index_with_a_valid_checksum_is_never_published() {
    common::requires(&[common::Need::Mosquitto]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = Broker::start(dir.path(), "");
    let sub = Sub::start(broker.port, None);
    let mut pty = common::pty();
    let rec = publishing(
        &pty,
        &data,
        &broker.url(None),
        &["--mqtt-interval", "1ms"],
        &[],
    );
    let mut m = meter("2026-06-01 12:00:00");
    send_until(&mut pty, &mut m, 150, 15, || sub.states().len() >= 3);
    // EASF01 (HC, idle at noon) garbled upwards, then EASF02 (HP, counting) garbled down,
    // then EAST up: each in one frame, its checksum valid.
    let up = |label: &str| {
        let label = label.to_owned();
        move |l: &str, v: &str| {
            (l == label).then(|| format!("{:09}", v.parse::<u64>().unwrap() + 900_000))
        }
    };
    let down =
        |l: &str, v: &str| (l == "EASF02").then(|| format!("{:09}", v.parse::<u64>().unwrap() - 5));
    for change in [
        &up("EASF01") as &dyn Fn(&str, &str) -> Option<String>,
        &down,
        &up("EAST"),
    ] {
        send(&mut pty, &mut m, change, 150);
        for _ in 0..4 {
            send(&mut pty, &mut m, &same, 150);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    let rows = rows(&data);
    let states = sub.states();
    assert!(states.len() >= 15, "{} states\n{stderr}", states.len());
    for label in ["EASF01", "EASF02", "EAST"] {
        let written: Vec<i64> = rows.values().map(|r| r[label].parse().unwrap()).collect();
        let published: Vec<i64> = states.iter().filter_map(|s| s[label].as_i64()).collect();
        // The recorder wrote the glitch (its checksum verified)…
        let mut sorted = written.clone();
        sorted.sort();
        assert_ne!(sorted, written, "{label}: the glitch is in the files");
        // …but Home Assistant never saw it: never a decrease, never a spike.
        assert!(
            published.windows(2).all(|w| w[0] <= w[1]),
            "{label} decreased: {published:?}"
        );
        let first = written[0];
        let last = *written.last().unwrap();
        assert!(
            published.iter().all(|&v| v >= first && v <= last),
            "{label}: {published:?} outside {first}..{last}"
        );
        assert!(published.iter().all(|v| written.contains(v)));
    }
}

/// A CA and a server certificate for `localhost` and 127.0.0.1, made with openssl.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    common::requires(&[common::Need::Openssl]);
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=tic-rec test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    run(&csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-extfile",
        "ext.cnf",
    ]);
    // mosquitto started as root reads the key as its own user, after dropping privileges.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(dir, 0o755).unwrap();
    mode(&dir.join("server.key"), 0o644).unwrap();
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn mqtts_with_a_ca_file_and_with_the_system_roots() {
    common::requires(&[common::Need::Mosquitto, common::Need::Openssl]);
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certs(dir.path());
    let tls_port = free_port();
    // A plain listener for the subscriber, a TLS one for the recorder.
    let broker = Broker::start(
        dir.path(),
        &format!(
            "listener {tls_port} 127.0.0.1\nallow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\n",
            ca.display(),
            cert.display(),
            key.display()
        ),
    );
    let sub = Sub::start(broker.port, None);
    let url = format!("mqtts://localhost:{tls_port}");
    let ca_arg = ca.to_str().unwrap().to_owned();
    let ca_env = ca.to_str().unwrap().to_owned();
    let empty = dir.path().join("empty-certs");
    std::fs::create_dir(&empty).unwrap();
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: [Case<'_>; 3] = [
        ("--mqtt-ca", vec!["--mqtt-ca", &ca_arg], vec![]),
        // The system's roots, here pointed at the test CA (rustls-native-certs reads
        // SSL_CERT_FILE as OpenSSL does).
        ("system roots", vec![], vec![("SSL_CERT_FILE", &ca_env)]),
        // A CA that did not sign the broker's certificate: refused, said, recording goes on.
        (
            "wrong CA",
            vec![],
            vec![
                ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
                ("SSL_CERT_DIR", empty.to_str().unwrap()),
            ],
        ),
    ];
    for (k, (what, extra, env)) in cases.iter().enumerate() {
        if *what == "wrong CA" && !Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
            continue;
        }
        let data = dir.path().join(format!("data-{k}"));
        let mut pty = common::pty();
        let path = pty.path.clone();
        let mut args = vec![
            "--port",
            &path,
            "--data-dir",
            data.to_str().unwrap(),
            "--mqtt",
            &url,
        ];
        args.extend(extra.iter().copied());
        let rec = recorder(&args, env);
        rec.wait_for("reading", 10);
        let mut m = meter("2026-06-01 12:00:00");
        let want = if *what == "wrong CA" {
            "MQTT: cannot reach mqtts://localhost"
        } else {
            "MQTT: connected to mqtts://localhost"
        };
        let before = sub.states().len();
        let deadline = Instant::now() + Duration::from_secs(15);
        while !(rec.has(want) && (*what == "wrong CA" || sub.states().len() > before))
            && Instant::now() < deadline
        {
            send(&mut pty, &mut m, &same, 100);
        }
        let (status, stderr) = rec.terminate();
        assert!(status.success(), "{what}: {stderr}");
        assert!(stderr.contains(want), "{what}: {stderr}");
        if *what == "wrong CA" {
            assert!(stderr.contains("TLS"), "{what}: {stderr}");
            assert!(!rows(&data).is_empty(), "{what}: recording goes on");
        } else {
            assert!(sub.states().len() > before, "{what}: {stderr}");
        }
    }
}

fn bad_mqtt_flags_fail_before_recording() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let absent = dir.path().join("absent.txt");
    let cases: [(&[&str], &str); 8] = [
        (&["--mqtt", "mqtt://me:pw@h"], "--mqtt-password-file"),
        // The scheme forgotten, or the host: the password is never echoed either.
        (&["--mqtt", "tic:pw@broker.lan"], "no scheme"),
        (&["--mqtt", "mqtt://tic:pw"], "port"),
        (&["--mqtt", "tic:pw"], "no scheme"),
        (&["--mqtt", "http://h"], "mqtt:// or mqtts://"),
        (
            &[
                "--mqtt",
                "mqtt://me@h",
                "--mqtt-password-file",
                absent.to_str().unwrap(),
            ],
            "absent.txt",
        ),
        (&["--mqtt", "mqtt://h", "--mqtt-ca", "x.pem"], "mqtts://"),
        (&["--mqtt", "mqtt://h", "--mqtt-topic", "a/#"], "wildcards"),
    ];
    for (args, want) in cases {
        let out = Command::new(BIN)
            .args(["record", "--port", "/dev/null", "--data-dir", d])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains(":pw"), "{stderr}");
    }
    let out = Command::new(BIN)
        .args(["record", "--demo", "--data-dir", d, "--mqtt", "mqtt://h"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo"));
    // A replay is history: refused (issue 18: its end took the live meter offline, and it
    // published yesterday's values as current), before anything is created.
    let out = Command::new(BIN)
        .args(["record", "--replay", "/dev/null", "--data-dir", d])
        .args(["--mqtt", "mqtt://h"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("a replay's rows are history"), "{stderr}");
    assert!(!data.exists(), "nothing created");
}

/// `mosquitto_pub -r`: a retained message.
fn retain(port: u16, topic: &str, payload: &str) {
    let ok = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-r", "-q", "1"])
        .args(["-t", topic, "-m", payload])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The recorder's states (not a retained one put there by the test: those have no `meter`).
fn recorder_states(sub: &Sub) -> Vec<Value> {
    sub.states()
        .into_iter()
        .filter(|s| s.get("meter").is_some())
        .collect()
}

/// After a restart, or with a replay of an older capture on the broker the live recorder
/// uses, the retained state is the floor: lower indexes are never published (Home Assistant
/// would read a meter reset and count the whole value again), said once per index; the other
/// sensors go on.
fn the_retained_state_is_the_floor_of_every_energy_index() {
    common::requires(&[common::Need::Mosquitto]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = Broker::start(dir.path(), "");
    // What the live recorder published (higher than the simulated meter's indexes), and
    // when.
    retain(
        broker.port,
        "tic-rec/041876097171/state",
        r#"{"EASF01":900000000,"EASF02":900000000,"EAST":900000000,"time":"2026-06-01T13:00:00+02:00"}"#,
    );
    let sub = Sub::start(broker.port, None);
    let mut pty = common::pty();
    let rec = publishing(
        &pty,
        &data,
        &broker.url(None),
        &["--mqtt-interval", "1ms"],
        &[],
    );
    let mut m = meter("2026-06-01 12:00:00");
    send_until(&mut pty, &mut m, 100, 20, || {
        recorder_states(&sub).len() >= 8
    });
    for _ in 0..3 {
        send(&mut pty, &mut m, &same, 100);
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    let states = recorder_states(&sub);
    assert!(states.len() >= 8, "{} states\n{stderr}", states.len());
    for s in &states {
        for label in ["EASF01", "EASF02", "EAST"] {
            assert_eq!(
                s[label].as_i64(),
                Some(900_000_000),
                "{label} held at the floor, never below: {s}"
            );
        }
        assert!(s["SINSTS"].is_number(), "the other sensors go on: {s}");
    }
    for label in ["EASF01", "EASF02", "EAST"] {
        let said = format!("MQTT: {label} not published");
        assert_eq!(
            stderr.matches(&said).count(),
            1,
            "{label}: said once\n{stderr}"
        );
    }
    // The retained state is still the floor (for the next restart).
    let last = sub.states().into_iter().last().unwrap();
    assert_eq!(last["EASF02"].as_i64(), Some(900_000_000), "{last}");
}

/// A jump confirmed by the next value but beyond the subscribed power's bound from the last
/// published value (a meter whose index really jumped, or a garble repeated): left out, the
/// published total continues from the last published value, said once.
fn a_confirmed_implausible_jump_is_left_out_of_what_is_published() {
    common::requires(&[common::Need::Mosquitto]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = Broker::start(dir.path(), "");
    let sub = Sub::start(broker.port, None);
    let mut pty = common::pty();
    let rec = publishing(
        &pty,
        &data,
        &broker.url(None),
        &["--mqtt-interval", "1ms"],
        &[],
    );
    let mut m = meter("2026-06-01 12:00:00");
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorder_states(&sub)
        .iter()
        .filter(|s| s["EASF02"].is_number())
        .count()
        < 3
        && Instant::now() < deadline
    {
        send(&mut pty, &mut m, &same, 100);
    }
    // From now on, EASF02 reads 50 kWh more (its checksum valid).
    let jumped = |l: &str, v: &str| {
        (l == "EASF02").then(|| format!("{:09}", v.parse::<u64>().unwrap() + 50_000))
    };
    for _ in 0..15 {
        send(&mut pty, &mut m, &jumped, 100);
    }
    std::thread::sleep(Duration::from_millis(300));
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    let rows = rows(&data);
    let written: Vec<i64> = rows
        .values()
        .map(|r| r["EASF02"].parse().unwrap())
        .collect();
    let published: Vec<i64> = recorder_states(&sub)
        .iter()
        .filter_map(|s| s["EASF02"].as_i64())
        .collect();
    assert!(published.len() >= 10, "{published:?}\n{stderr}");
    assert!(
        published
            .windows(2)
            .all(|w| w[0] <= w[1] && w[1] - w[0] < 100),
        "no step of 50 kWh: {published:?}"
    );
    let max_written = *written.iter().max().unwrap();
    assert!(
        max_written - published.last().unwrap() >= 49_000,
        "{published:?}"
    );
    assert_eq!(
        stderr.matches("MQTT: EASF02 jumped by").count(),
        1,
        "said once\n{stderr}"
    );
    assert!(stderr.contains("below the meter's display"), "{stderr}");
}

fn a_broker_sending_garbage_never_stops_recording() {
    use std::io::Read;
    // A fake broker: the first connections get random bytes; the next ones a valid CONNACK,
    // then garbage.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let end = Arc::clone(&done);
    let server = std::thread::spawn(move || {
        let mut served = 0u32;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        while Instant::now() < until && !end.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            served += 1;
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let mut junk = vec![0u8; 300];
            for b in &mut junk {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            if served.is_multiple_of(2) {
                let _ = s.write_all(&[0x20, 0x02, 0x00, 0x00]);
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = s.write_all(&junk);
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut pty = common::pty();
    let rec = publishing(&pty, &data, &format!("mqtt://127.0.0.1:{port}"), &[], &[]);
    let mut m = meter("2026-06-01 12:00:00");
    for _ in 0..80 {
        send(&mut pty, &mut m, &same, 100);
    }
    let (status, stderr) = rec.terminate();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    eprintln!("{stderr}");
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("MQTT: "),
        "the link's trouble is said: {stderr}"
    );
    let secs = rows(&data).len();
    assert!(secs >= 79, "recording unaffected: {secs} rows\n{stderr}");
    assert!(
        server.join().unwrap() >= 2,
        "the recorder came back for more"
    );
}

/// With `--http` too, the link's state is in `/metrics` (valid for promtool) and in
/// `/api/now`: connected to a running broker, then down once it stops.
fn the_link_state_is_in_the_metrics_and_the_api() {
    use common::http::{addr_of, check_metrics, get};
    common::requires(&[common::Need::Mosquitto, common::Need::Promtool]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut broker = Broker::start(dir.path(), "");
    let mut pty = common::pty();
    let rec = publishing(
        &pty,
        &data,
        &broker.url(None),
        &["--mqtt-interval", "1s", "--http", "127.0.0.1:0"],
        &[],
    );
    let addr = addr_of(&rec);
    let mut m = meter("2026-06-01 12:00:00");
    // The value of the one tic_mqtt_connected sample.
    let up = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("tic_mqtt_connected{"))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    let connected = |text: &str| up(text).as_deref() == Some("1");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut text = String::new();
    while Instant::now() < deadline {
        send(&mut pty, &mut m, &same, 100);
        text = get(addr, "/metrics").text();
        if connected(&text) && text.contains("tic_mqtt_states_total 1") {
            break;
        }
    }
    assert!(connected(&text), "{text}\n{}", rec.stderr());
    assert!(text.contains("state=\"connected\""), "{text}");
    assert!(text.contains("tic_mqtt_connects_total 1"), "{text}");
    assert!(
        text.contains("tic_mqtt_last_state_timestamp_seconds"),
        "{text}"
    );
    check_metrics(&text);
    let now = get(addr, "/api/now").json();
    assert_eq!(now["link"]["mqtt"]["state"], "connected", "{now}");
    assert!(now["link"]["mqtt"]["states"].as_u64() >= Some(1), "{now}");

    broker.stop();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        send(&mut pty, &mut m, &same, 100);
        text = get(addr, "/metrics").text();
        if up(&text).as_deref() == Some("0") {
            break;
        }
    }
    assert!(text.contains("state=\"down\""), "{text}\n{}", rec.stderr());
    check_metrics(&text);
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
}
