//! Home Assistant as its users see it (issue 18), against the real Home Assistant core.
//!
//! One Home Assistant (the version scripts/ha-venv pins, in target/ha-venv) and one
//! mosquitto, both on loopback, serve the whole suite: tests/ha/harness.py starts them,
//! writes an administrator and a long-lived token into Home Assistant's auth storage,
//! creates the MQTT entry through the config flow (as the UI does), and answers REST and
//! websocket requests for the tests; it stops both when this process ends. Each test records
//! its own simulated meters (heterogeneous: standard and historique, one and three phases,
//! HC/HP, Tempo, EJP, a producer, checksum faults, changes of contract and of `--labels`)
//! with `tic-rec record --port <pty> --mqtt`, and reads what Home Assistant made of them:
//! the entity and device registries, the states against the rows written, `energy/validate`
//! with the indexes in the Energy preferences, and its log, which must hold no warning or
//! error about them. The four defects of the issue are reproduced: stale discovery, a replay
//! taking the live meter offline, a silent meter shown live (the real 60 s default), and
//! entity ids from guessed names.
//!
//! Needs `TIC_REC_HA_PYTHON` (scripts/test sets it from scripts/ha-venv) and mosquitto;
//! without them each test is ignored with the reason (in CI, where no test may skip, it
//! fails): `common::requires`.

mod common;

common::harness!(
    a_standard_meter_in_home_assistant,
    a_historique_three_phase_tempo_meter_and_its_overcurrent_warning,
    a_three_phase_tempo_producer_returns_energy_to_the_grid,
    a_meter_with_checksum_faults,
    stale_discovery_is_withdrawn_after_a_contract_and_a_labels_change,
    a_replay_never_touches_the_live_meter,
    a_silent_meter_is_unavailable_within_a_minute_and_back_with_the_next_row,
    ids_stay_and_learned_names_survive_a_restart
);

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde_json::{json, Value};
use tic_rec::sim::{Contract, Faults, Meter, SimConfig, SimFrame};
use tic_rec::tic::encode::push_frame;
use tic_rec::tic::Mode;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// The Home Assistant of the suite: the harness's pipes.
struct Ha {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    dir: PathBuf,
    mqtt: u16,
}

static HA: OnceLock<Result<Mutex<Ha>, String>> = OnceLock::new();

/// The suite's Home Assistant, started by the first test that asks; `None` (the test is
/// ignored with the reason, or fails in CI: [`common::requires`]) where it cannot run.
fn ha() -> Option<&'static Mutex<Ha>> {
    common::requires(&[common::Need::HomeAssistant, common::Need::Mosquitto]);
    match HA.get_or_init(start) {
        Ok(ha) => Some(ha),
        Err(why) => panic!("Home Assistant did not start: {why}"),
    }
}

fn start() -> Result<Mutex<Ha>, String> {
    let python = match std::env::var("TIC_REC_HA_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            return Err("TIC_REC_HA_PYTHON is unset (scripts/test sets it to target/ha-venv's Python, with Home Assistant; scripts/ha-venv makes it, on Python >= 3.13)".into())
        }
    };
    if !Path::new(MOSQUITTO).exists() {
        return Err("mosquitto is not installed (apt-get install mosquitto; .ci/run does)".into());
    }
    // One directory per run under target/tmp; those of runs that ended are removed.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("ha-") {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    let dir = tmp.join(format!("ha-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ha/harness.py");
    let log = std::fs::File::create(dir.join("harness.stderr")).map_err(|e| e.to_string())?;
    let mut child = Command::new(&python)
        .arg(harness)
        .arg(&dir)
        .arg(MOSQUITTO)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let stdin = child.stdin.take().expect("piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    let _ = stdout.read_line(&mut line);
    let ready: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    let Some(r) = ready.get("ready") else {
        panic!(
            "the Home Assistant harness did not start: {line}\n{}",
            std::fs::read_to_string(dir.join("harness.stderr")).unwrap_or_default()
        );
    };
    eprintln!(
        "Home Assistant {} ready in {} s (http {}, mqtt {}), in {}",
        std::fs::read_to_string(dir.join(".HA_VERSION")).unwrap_or_default(),
        r["seconds"],
        r["http"],
        r["mqtt"],
        dir.display()
    );
    Ok(Mutex::new(Ha {
        _child: child,
        stdin,
        stdout,
        dir,
        mqtt: r["mqtt"].as_u64().expect("port") as u16,
    }))
}

fn lock(ha: &Mutex<Ha>) -> std::sync::MutexGuard<'_, Ha> {
    ha.lock().unwrap_or_else(|e| e.into_inner())
}

/// One request to the harness, its answer.
fn ask(ha: &Mutex<Ha>, req: Value) -> Value {
    let mut h = lock(ha);
    writeln!(h.stdin, "{req}").expect("write to the harness");
    let mut line = String::new();
    h.stdout.read_line(&mut line).expect("read the harness");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?} for {req}"))
}

/// A websocket command's result (panics on an error).
fn ws(ha: &Mutex<Ha>, cmd: Value) -> Value {
    let got = ask(ha, json!({ "ws": cmd }));
    match got.get("result") {
        Some(r) => r.clone(),
        None => panic!("{cmd}: {got}"),
    }
}

/// A REST GET: status and JSON.
fn get(ha: &Mutex<Ha>, path: &str) -> (u16, Value) {
    let got = ask(ha, json!({"rest": {"method": "GET", "path": path}}));
    (
        got["status"].as_u64().unwrap_or(0) as u16,
        got["json"].clone(),
    )
}

/// The state of `entity_id`, if Home Assistant has it.
fn state(ha: &Mutex<Ha>, entity_id: &str) -> Option<Value> {
    let (status, v) = get(ha, &format!("/api/states/{entity_id}"));
    (status == 200).then_some(v)
}

fn state_text(ha: &Mutex<Ha>, entity_id: &str) -> Option<String> {
    state(ha, entity_id).and_then(|s| s["state"].as_str().map(str::to_owned))
}

/// Waits (at most `secs`) until `f` gives `Some`.
fn wait<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `entity_id`'s state satisfies `ok`.
fn wait_state(ha: &Mutex<Ha>, entity_id: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
    wait(&format!("{entity_id}'s state"), secs, || {
        state_text(ha, entity_id).filter(|s| ok(s))
    })
}

fn numeric(s: &str) -> bool {
    s.parse::<f64>().is_ok()
}

/// The entity registry's entries of `meter` (by its unique ids).
fn registry(ha: &Mutex<Ha>, meter: &str) -> BTreeMap<String, Value> {
    let prefix = format!("tic-rec_{meter}_");
    ws(ha, json!({"type": "config/entity_registry/list"}))
        .as_array()
        .expect("a list")
        .iter()
        .filter(|e| {
            e["unique_id"]
                .as_str()
                .is_some_and(|u| u.starts_with(&prefix))
        })
        .map(|e| (e["entity_id"].as_str().unwrap_or("").to_owned(), e.clone()))
        .collect()
}

/// The name Home Assistant shows for `entity_id` (its friendly name less the device's).
/// The registry's `original_name` is the name the entity was first added with: Home
/// Assistant updates it at its next start, the state's name at once.
fn shown_name(ha: &Mutex<Ha>, meter: &str, entity_id: &str) -> Option<String> {
    let s = state(ha, entity_id)?;
    let full = s["attributes"]["friendly_name"].as_str()?;
    Some(
        full.strip_prefix(&format!("Linky {meter} "))
            .unwrap_or(full)
            .to_owned(),
    )
}

/// The discovery config topics the broker retains for `meter` (what Home Assistant gets at
/// its next start): `mosquitto_sub --retained-only`.
fn retained_configs(ha: &Mutex<Ha>, meter: &str) -> Vec<String> {
    let port = lock(ha).mqtt;
    let out = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-v",
            "--retained-only",
        ])
        .args([
            "-W",
            "1",
            "-t",
            &format!("homeassistant/+/tic-rec_{meter}/+/config"),
        ])
        .output()
        .expect("mosquitto_sub");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(t, _)| t.to_owned()))
        .collect()
}

/// `meter`'s device in the device registry.
fn device(ha: &Mutex<Ha>, meter: &str) -> Option<Value> {
    ws(ha, json!({"type": "config/device_registry/list"}))
        .as_array()
        .expect("a list")
        .iter()
        .find(|d| d["identifiers"] == json!([["mqtt", meter]]))
        .cloned()
}

/// The warnings and errors of Home Assistant's log about `meter`, MQTT, templates, sensors
/// or energy (two lines of its start-up, not about us, are left out by their loggers).
fn problems(ha: &Mutex<Ha>, meter: &str) -> Vec<String> {
    let dir = lock(ha).dir.clone();
    let log = std::fs::read_to_string(dir.join("home-assistant.log")).unwrap_or_default();
    let loggers = [
        "[homeassistant.components.mqtt",
        "[homeassistant.helpers.template",
        "[homeassistant.components.sensor",
        "[homeassistant.components.binary_sensor",
        "[homeassistant.components.energy",
        "[homeassistant.helpers.entity",
    ];
    log.lines()
        .filter(|l| l.contains(" WARNING (") || l.contains(" ERROR ("))
        .filter(|l| l.contains(meter) || loggers.iter().any(|g| l.contains(g)))
        .map(str::to_owned)
        .collect()
}

fn assert_no_problems(ha: &Mutex<Ha>, meter: &str) {
    let p = problems(ha, meter);
    assert!(p.is_empty(), "Home Assistant's log:\n{}", p.join("\n"));
}

/// A simulated meter fed to a pseudo-terminal by a thread, one frame every `pace`: paused,
/// resumed, its frames rewritten on demand.
struct Feed {
    path: String,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    rewrite: Arc<Mutex<Option<Rewrite>>>,
    frames: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

/// A frame's groups rewritten: `(label, value)` pairs in, the groups to send out.
type Rewrite = Box<dyn Fn(&SimFrame) -> Vec<(&'static str, Option<String>, String)> + Send>;

impl Feed {
    fn start(cfg: SimConfig, pace: Duration) -> Feed {
        let mode = cfg.mode;
        let mut m = Meter::new(cfg).expect("a meter");
        let pty = common::pty();
        let path = pty.path.clone();
        let paused = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let rewrite: Arc<Mutex<Option<Rewrite>>> = Arc::new(Mutex::new(None));
        let frames = Arc::new(AtomicU64::new(0));
        let (p, s, r, n) = (
            Arc::clone(&paused),
            Arc::clone(&stop),
            Arc::clone(&rewrite),
            Arc::clone(&frames),
        );
        let thread = std::thread::spawn(move || {
            // The whole pseudo-terminal (its slave end too) lives as long as the feed.
            let mut pty = pty;
            while !s.load(Ordering::Relaxed) {
                if p.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let mut bytes = Vec::new();
                let f = m.next_frame(&mut bytes);
                if let Some(rw) = r.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    let groups = rw(&f);
                    let refs: Vec<(&str, Option<&str>, &str)> = groups
                        .iter()
                        .map(|(l, h, v)| (*l, h.as_deref(), v.as_str()))
                        .collect();
                    bytes.clear();
                    push_frame(&mut bytes, mode, &refs);
                }
                if std::io::Write::write_all(&mut pty.master, &bytes).is_err() {
                    return;
                }
                n.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(pace);
            }
        });
        Feed {
            path,
            paused,
            stop,
            rewrite,
            frames,
            thread: Some(thread),
        }
    }

    fn pause(&self) {
        self.paused.store(true, Ordering::Relaxed);
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::Relaxed);
    }

    fn rewrite(&self, r: Option<Rewrite>) {
        *self.rewrite.lock().unwrap_or_else(|e| e.into_inner()) = r;
    }

    fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The groups of a frame as they are, for a rewrite to change.
fn groups(f: &SimFrame) -> Vec<(&'static str, Option<String>, String)> {
    f.groups
        .iter()
        .map(|g| (g.label, g.horodate.clone(), g.value.clone()))
        .collect()
}

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("a time")
}

/// A meter's configuration: `address`, from `start` (local time), one meter second a frame.
fn meter(mode: Mode, contract: Contract, address: &str, start: &str) -> SimConfig {
    let mut cfg = SimConfig::new(mode, contract, at(start));
    cfg.frame_interval = Some(chrono::Duration::seconds(1));
    cfg.address = Some(address.to_owned());
    cfg
}

/// `tic-rec record` reading `feed` into `data` and publishing to the suite's broker.
fn record(ha: &Mutex<Ha>, feed: &Feed, data: &Path, mode: Mode, extra: &[&str]) -> common::Running {
    let url = format!("mqtt://127.0.0.1:{}", lock(ha).mqtt);
    let mode = match mode {
        Mode::Standard => "standard",
        Mode::Historique => "historique",
    };
    let mut args = vec![
        "record",
        "--port",
        &feed.path,
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--archive",
        "csv",
        "--mode",
        mode,
        "--mqtt",
        &url,
        "--mqtt-interval",
        "1s",
    ];
    args.extend_from_slice(extra);
    let rec = common::Running::start(&args, &[]);
    rec.wait_for("reading", 10);
    rec
}

/// The rows of every CSV file under `dir`, in time order, as label → cell.
fn rows(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in common::files_named(dir, ".csv") {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        for l in lines {
            let row: BTreeMap<String, String> = header
                .iter()
                .map(|h| (*h).to_owned())
                .zip(l.split(',').map(str::to_owned))
                .collect();
            if row.len() == header.len() {
                out.insert(row["time"].clone(), row);
            }
        }
    }
    out.into_values().collect()
}

/// Pauses `feed` until the recorder has written what it was sent (its rows stop growing),
/// then returns them.
fn settle(feed: &Feed, data: &Path) -> Vec<BTreeMap<String, String>> {
    feed.pause();
    let mut n = common::rows_so_far(data);
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    while since.elapsed() < Duration::from_millis(1500) {
        assert!(Instant::now() < deadline, "the rows never stopped growing");
        std::thread::sleep(Duration::from_millis(100));
        let now = common::rows_so_far(data);
        if now != n {
            n = now;
            since = Instant::now();
        }
    }
    rows(data)
}

/// `sensor.linky_<meter>_<id>`.
fn sensor(meter: &str, id: &str) -> String {
    format!("sensor.linky_{meter}_{id}")
}

fn binary(meter: &str, id: &str) -> String {
    format!("binary_sensor.linky_{meter}_{id}")
}

/// Home Assistant's energy state in Wh (its kWh × 1000).
fn wh(state: &str) -> i64 {
    (state.parse::<f64>().expect("a number") * 1000.0).round() as i64
}

/// The Energy preferences are one for the instance: one test at a time sets and validates
/// them.
static ENERGY: Mutex<()> = Mutex::new(());

/// Puts `from` (and `to`, returned to the grid) in the Energy preferences and validates:
/// the issues Home Assistant finds, for these entities.
fn energy_issues(ha: &Mutex<Ha>, from: &[String], to: &[String]) -> Vec<Value> {
    let _one = ENERGY.lock().unwrap_or_else(|e| e.into_inner());
    let flow_from: Vec<Value> = from
        .iter()
        .map(|e| json!({"stat_energy_from": e, "stat_cost": null, "entity_energy_price": null, "number_energy_price": null}))
        .collect();
    let flow_to: Vec<Value> = to
        .iter()
        .map(|e| json!({"stat_energy_to": e, "stat_compensation": null, "entity_energy_price": null, "number_energy_price": null}))
        .collect();
    ws(
        ha,
        json!({
            "type": "energy/save_prefs",
            "energy_sources": [{"type": "grid", "flow_from": flow_from, "flow_to": flow_to, "cost_adjustment_day": 0}],
            "device_consumption": [],
        }),
    );
    let v = ws(ha, json!({"type": "energy/validate"}));
    let mut issues = Vec::new();
    for group in v["energy_sources"].as_array().into_iter().flatten() {
        for issue in group.as_array().into_iter().flatten() {
            issues.push(issue.clone());
        }
    }
    issues
}

/// A standard single-phase HC/HP meter crossing into the off-peak hours, with the dashboard
/// on: its device and entities as Home Assistant registers them, states equal to the rows
/// written, units and classes, what is disabled by default or diagnostic, and the Energy
/// dashboard's validation of its indexes.
fn a_standard_meter_in_home_assistant() {
    let Some(ha) = ha() else { return };
    let m = "041876097101";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let feed = Feed::start(
        meter(Mode::Standard, Contract::HcHp, m, "2026-06-01 21:59:00"),
        Duration::from_millis(100),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = format!("127.0.0.1:{port}");
    let rec = record(ha, &feed, &data, Mode::Standard, &["--http", &http]);
    wait_state(ha, &sensor(m, "sinsts"), 60, numeric);
    wait_state(ha, &sensor(m, "ltarf"), 60, |s| s == "Off-peak");
    // The device.
    let d = device(ha, m).expect("the device");
    assert_eq!(d["name"], format!("Linky {m}"));
    assert_eq!(d["manufacturer"], "Enedis");
    assert_eq!(d["model"], "Linky single-phase, TIC standard");
    assert_eq!(d["serial_number"], m);
    assert_eq!(d["sw_version"], "TIC 02");
    assert_eq!(d["configuration_url"], format!("http://{http}/"));
    // The entities: ids from the labels, on the device.
    let reg = wait("the entities", 30, || {
        let r = registry(ha, m);
        (r.len() >= 50).then_some(r)
    });
    for (id, e) in &reg {
        let ok = (id.starts_with(&format!("sensor.linky_{m}_"))
            || id.starts_with(&format!("binary_sensor.linky_{m}_")))
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        assert!(ok, "{id}");
        assert_eq!(e["device_id"], d["id"], "{id}");
        assert_eq!(e["platform"], "mqtt");
    }
    for id in [
        "east",
        "easf01",
        "easf02",
        "easd01",
        "sinsts",
        "irms1",
        "urms1",
        "pref",
        "pcoup",
        "smaxsn",
        "smaxsn_1",
        "ccasn",
        "umoy1",
        "msg1",
        "prm",
        "ngtf",
        "ltarf",
        "checksum_errors",
        "held_rows",
        "stge_cut_off",
        "date",
    ] {
        assert!(reg.contains_key(&sensor(m, id)), "no {}", sensor(m, id));
    }
    for id in [
        "tic_link",
        "relay_1",
        "stge_dry_contact_open",
        "stge_over_reference",
        "stge_overvoltage",
        "stge_clock_degraded",
    ] {
        assert!(reg.contains_key(&binary(m, id)), "no {}", binary(m, id));
    }
    let disabled = |id: &str| reg[id]["disabled_by"].as_str() == Some("integration");
    for id in [
        sensor(m, "easd01"),
        sensor(m, "date"),
        sensor(m, "stge_cpl"),
        sensor(m, "ccasn_1"),
        binary(m, "relay_2"),
    ] {
        assert!(disabled(&id), "{id} disabled by default");
    }
    for id in [
        sensor(m, "easf01"),
        sensor(m, "sinsts"),
        binary(m, "relay_1"),
    ] {
        assert!(!disabled(&id), "{id} enabled");
    }
    for id in [
        sensor(m, "prm"),
        sensor(m, "checksum_errors"),
        binary(m, "tic_link"),
    ] {
        assert_eq!(reg[&id]["entity_category"], "diagnostic", "{id}");
    }
    assert_eq!(reg[&sensor(m, "easf01")]["original_name"], "Off-peak");
    assert_eq!(reg[&sensor(m, "easf02")]["original_name"], "Peak");
    // Units and classes, as Home Assistant holds them.
    let attrs = |id: &str| state(ha, id).expect(id)["attributes"].clone();
    for id in ["east", "easf01", "easf02"] {
        let a = attrs(&sensor(m, id));
        assert_eq!(a["unit_of_measurement"], "kWh", "{id}");
        assert_eq!(a["device_class"], "energy", "{id}");
        assert_eq!(a["state_class"], "total_increasing", "{id}");
    }
    let a = attrs(&sensor(m, "sinsts"));
    assert_eq!(
        (
            &a["unit_of_measurement"],
            &a["device_class"],
            &a["state_class"]
        ),
        (
            &json!("VA"),
            &json!("apparent_power"),
            &json!("measurement")
        )
    );
    assert_eq!(attrs(&sensor(m, "urms1"))["unit_of_measurement"], "V");
    assert_eq!(attrs(&sensor(m, "irms1"))["device_class"], "current");
    assert_eq!(attrs(&sensor(m, "pref"))["unit_of_measurement"], "kVA");
    assert_eq!(attrs(&sensor(m, "ccasn"))["device_class"], "power");
    assert_eq!(
        attrs(&sensor(m, "ltarf"))["options"],
        json!(["Off-peak", "Peak"])
    );
    assert_eq!(
        attrs(&binary(m, "tic_link"))["device_class"],
        "connectivity"
    );
    assert_eq!(
        attrs(&binary(m, "stge_over_reference"))["device_class"],
        "problem"
    );
    assert_eq!(
        state_text(ha, &binary(m, "tic_link")).as_deref(),
        Some("on")
    );
    assert_eq!(
        state_text(ha, &binary(m, "stge_dry_contact_open")).as_deref(),
        Some("on")
    );
    assert_eq!(
        state_text(ha, &sensor(m, "stge_cut_off")).as_deref(),
        Some("closed")
    );
    assert_eq!(
        state_text(ha, &binary(m, "relay_1")).as_deref(),
        Some("off")
    );
    assert_eq!(
        state_text(ha, &sensor(m, "msg1")).as_deref(),
        Some("PAS DE          MESSAGE")
    );
    // States equal the rows: the last row's values, the row before's indexes (an index is
    // published once the next row confirms it).
    let rows = settle(&feed, &data);
    let (last, before) = (&rows[rows.len() - 1], &rows[rows.len() - 2]);
    for label in ["SINSTS", "IRMS1", "URMS1", "PREF"] {
        let id = sensor(m, &label.to_ascii_lowercase());
        wait_state(ha, &id, 15, |s| s == last[label]);
    }
    assert_eq!(
        state_text(ha, &sensor(m, "ngtf")).as_deref(),
        Some(last["NGTF"].as_str())
    );
    for label in ["EAST", "EASF01", "EASF02"] {
        let id = sensor(m, &label.to_ascii_lowercase());
        let want: i64 = before[label].parse().unwrap();
        wait(&format!("{id} = {want} Wh"), 15, || {
            state_text(ha, &id).filter(|s| numeric(s) && wh(s) == want)
        });
    }
    feed.resume();
    // The Energy dashboard takes the slot indexes: no issue but the statistics not compiled
    // yet (every 5 minutes)…
    let slots = [sensor(m, "easf01"), sensor(m, "easf02")];
    let issues = energy_issues(ha, &slots, &[]);
    assert!(
        issues.iter().all(|i| i["type"] == "statistics_not_defined"),
        "energy/validate: {issues:?}"
    );
    // …and none once they are: the first compile, at most 5 min 10 s away, while the meter
    // goes on.
    wait("the statistics compiled", 330, || {
        energy_issues(ha, &slots, &[]).is_empty().then_some(())
    });
    let v = ws(ha, json!({"type": "recorder/validate_statistics"}));
    let mine: Vec<(&String, &Value)> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.contains(m))
        .collect();
    assert!(mine.is_empty(), "recorder/validate_statistics: {mine:?}");
    let meta = ws(
        ha,
        json!({"type": "recorder/get_statistics_metadata", "statistic_ids": slots}),
    );
    for s in meta.as_array().unwrap() {
        assert_eq!(s["statistics_unit_of_measurement"], "kWh", "{s}");
        assert_eq!(s["has_sum"], true, "{s}");
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    wait_state(ha, &sensor(m, "easf01"), 10, |s| s == "unavailable");
    assert_no_problems(ha, m);
}

/// A historique three-phase Tempo meter: its indexes by colour, the period in force (PTEC),
/// tomorrow's colour (DEMAIN), and the overcurrent warning of a phase (ADIR1) while the
/// meter sends it, then gone.
fn a_historique_three_phase_tempo_meter_and_its_overcurrent_warning() {
    let Some(ha) = ha() else { return };
    let m = "031328187202";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = meter(Mode::Historique, Contract::Tempo, m, "2026-01-14 12:00:00");
    cfg.phases = 3;
    let feed = Feed::start(cfg, Duration::from_millis(150));
    let rec = record(ha, &feed, &data, Mode::Historique, &[]);
    wait_state(ha, &sensor(m, "papp"), 60, numeric);
    let ptec = wait_state(ha, &sensor(m, "ptec"), 30, |s| s.ends_with("peak"));
    assert!(
        ["Blue peak", "White peak", "Red peak"].contains(&ptec.as_str()),
        "{ptec}"
    );
    let d = device(ha, m).expect("the device");
    assert_eq!(d["model"], "Linky three-phase, TIC historique");
    assert_eq!(d["serial_number"], m);
    let reg = registry(ha, m);
    for id in [
        "bbrhcjb",
        "bbrhpjb",
        "bbrhcjw",
        "bbrhpjw",
        "bbrhcjr",
        "bbrhpjr",
        "iinst1",
        "iinst2",
        "iinst3",
        "imax1",
        "pmax",
        "papp",
        "ptec",
        "isousc",
        "optarif",
        "adir1",
        "adir3",
        "colour_today",
        "colour_tomorrow",
        "motdetat",
    ] {
        assert!(reg.contains_key(&sensor(m, id)), "no {}", sensor(m, id));
    }
    assert!(reg.contains_key(&binary(m, "adir2")));
    assert!(
        !reg.contains_key(&sensor(m, "iinst")),
        "three-phase: IINST1..3"
    );
    assert!(!reg.keys().any(|k| k.contains("stge")), "standard only");
    assert_eq!(reg[&sensor(m, "bbrhpjr")]["original_name"], "Red peak");
    assert_eq!(reg[&sensor(m, "imax1")]["disabled_by"], "integration");
    let colours = json!(["Blue", "White", "Red"]);
    let tomorrow = wait_state(ha, &sensor(m, "colour_tomorrow"), 30, |s| s != "unknown");
    assert!(
        colours.as_array().unwrap().contains(&json!(tomorrow)),
        "{tomorrow}"
    );
    assert_eq!(
        state(ha, &sensor(m, "colour_today")).unwrap()["attributes"]["options"],
        colours
    );
    // No overcurrent: the warning off, the value 0 A.
    assert_eq!(state_text(ha, &binary(m, "adir1")).as_deref(), Some("off"));
    assert_eq!(state_text(ha, &sensor(m, "adir1")).as_deref(), Some("0"));
    // Phase 1 over its setting: ADIR1 in every frame.
    feed.rewrite(Some(Box::new(|f: &SimFrame| {
        let mut g = groups(f);
        let at = g
            .iter()
            .position(|(l, _, _)| *l == "IINST3")
            .map_or(g.len(), |p| p + 1);
        g.insert(at, ("ADIR1", None, "045".to_owned()));
        g
    })));
    wait_state(ha, &binary(m, "adir1"), 30, |s| s == "on");
    wait_state(ha, &sensor(m, "adir1"), 10, |s| s == "45");
    let a = state(ha, &binary(m, "adir1")).unwrap()["attributes"].clone();
    assert_eq!(a["device_class"], "problem");
    feed.rewrite(None);
    wait_state(ha, &binary(m, "adir1"), 30, |s| s == "off");
    wait_state(ha, &sensor(m, "adir1"), 10, |s| s == "0");
    // States equal the rows.
    let rows = settle(&feed, &data);
    let last = &rows[rows.len() - 1];
    for label in ["PAPP", "IINST1", "IINST2", "IINST3", "ISOUSC"] {
        wait_state(ha, &sensor(m, &label.to_ascii_lowercase()), 15, |s| {
            s == last[label]
        });
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    assert_no_problems(ha, m);
}

/// A standard three-phase Tempo producer: injected energy offered as the return to the grid,
/// the six Tempo indexes named by colour, per-phase powers, the injection's own sensors.
fn a_three_phase_tempo_producer_returns_energy_to_the_grid() {
    let Some(ha) = ha() else { return };
    let m = "041876097103";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = meter(Mode::Standard, Contract::Tempo, m, "2026-06-02 13:00:00");
    cfg.phases = 3;
    cfg.producer = true;
    let feed = Feed::start(cfg, Duration::from_millis(100));
    let rec = record(ha, &feed, &data, Mode::Standard, &[]);
    wait_state(ha, &sensor(m, "eait"), 60, numeric);
    let d = device(ha, m).expect("the device");
    assert_eq!(d["model"], "Linky three-phase producer, TIC standard");
    let reg = registry(ha, m);
    for id in [
        "sinsts1",
        "sinsts2",
        "sinsts3",
        "sinsti",
        "smaxin",
        "smaxsn1",
        "smaxsn3_1",
        "irms3",
        "urms2",
        "umoy3",
        "ccain",
        "colour_today",
        "colour_tomorrow",
        "erq1",
    ] {
        assert!(reg.contains_key(&sensor(m, id)), "no {}", sensor(m, id));
    }
    assert_eq!(reg[&sensor(m, "eait")]["original_name"], "Injected");
    assert_eq!(reg[&sensor(m, "erq1")]["disabled_by"], "integration");
    assert!(
        reg[&binary(m, "stge_injecting")]["disabled_by"].is_null(),
        "a producer's"
    );
    let names: Vec<&str> = ["easf01", "easf02"]
        .iter()
        .filter_map(|id| reg.get(&sensor(m, id)))
        .filter_map(|e| e["original_name"].as_str())
        .collect();
    assert_eq!(names, ["Blue off-peak", "Blue peak"]);
    let a = state(ha, &sensor(m, "eait")).unwrap()["attributes"].clone();
    assert_eq!(a["device_class"], "energy");
    assert_eq!(a["state_class"], "total_increasing");
    let today = wait_state(ha, &sensor(m, "colour_today"), 30, |s| s != "unknown");
    assert!(
        ["Blue", "White", "Red"].contains(&today.as_str()),
        "{today}"
    );
    let from: Vec<String> = ["easf01", "easf02", "easf03", "easf04", "easf05", "easf06"]
        .iter()
        .map(|id| sensor(m, id))
        .filter(|id| reg.contains_key(id))
        .collect();
    let issues = energy_issues(ha, &from, &[sensor(m, "eait")]);
    assert!(
        issues.iter().all(|i| i["type"] == "statistics_not_defined"),
        "energy/validate (statistics compiled every 5 min are checked by the standard meter's test): {issues:?}"
    );
    let rows = settle(&feed, &data);
    let last = &rows[rows.len() - 1];
    for label in [
        "SINSTS", "SINSTI", "SINSTS1", "SINSTS2", "SINSTS3", "IRMS1", "URMS3",
    ] {
        wait_state(ha, &sensor(m, &label.to_ascii_lowercase()), 15, |s| {
            s == last[label]
        });
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    assert_no_problems(ha, m);
}

/// A meter with line noise and wrong checksums: the counts in Home Assistant, every state
/// still a number, nothing in the log.
fn a_meter_with_checksum_faults() {
    let Some(ha) = ha() else { return };
    let m = "041876097104";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = meter(Mode::Standard, Contract::Base, m, "2026-06-03 08:00:00");
    cfg.faults = Faults {
        noise: 0.02,
        badsum: 0.01,
        ..Faults::default()
    };
    let feed = Feed::start(cfg, Duration::from_millis(100));
    let rec = record(ha, &feed, &data, Mode::Standard, &[]);
    wait_state(ha, &sensor(m, "checksum_errors"), 90, |s| {
        s.parse::<u64>().is_ok_and(|n| n > 0)
    });
    assert_eq!(
        registry(ha, m)[&sensor(m, "easf01")]["original_name"],
        "Base"
    );
    for id in ["sinsts", "irms1", "easf01", "east"] {
        let s = wait_state(ha, &sensor(m, id), 20, |s| s != "unknown");
        assert!(numeric(&s), "{id}: {s}");
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    drop(feed);
    assert_no_problems(ha, m);
}

/// Issue 18 (1): configs the broker retains that the recorder no longer makes — an older
/// tic-rec's (whose templates read keys the state lacks), a Tempo colour after a change of
/// contract, an index `--labels` no longer records — are withdrawn: Home Assistant removes
/// the entities, and logs no template warning.
fn stale_discovery_is_withdrawn_after_a_contract_and_a_labels_change() {
    let Some(ha) = ha() else { return };
    let m = "041876097105";
    let port = lock(ha).mqtt;
    // What an older tic-rec left: a three-phase current sensor on this single-phase meter,
    // read with a template that fails on a state without IRMS2, and an object it no longer
    // makes.
    for object in ["irms2", "tarif_hc"] {
        let config = json!({
            "name": object,
            "unique_id": format!("tic-rec_{m}_{object}"),
            "state_topic": format!("tic-rec/{m}/state"),
            "value_template": "{{ value_json['IRMS2'] }}",
            "availability_topic": format!("tic-rec/{m}/availability"),
            "device": {"identifiers": [m], "name": format!("Linky {m}")},
        });
        let ok = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-r", "-q", "1"])
            .args([
                "-t",
                &format!("homeassistant/sensor/tic-rec_{m}/{object}/config"),
            ])
            .args(["-m", &config.to_string()])
            .status()
            .expect("mosquitto_pub");
        assert!(ok.success());
    }
    wait("the old entities", 20, || {
        registry(ha, m)
            .contains_key(&sensor(m, "irms2"))
            .then_some(())
    });
    // A Tempo contract.
    let dir = tempfile::tempdir().unwrap();
    let feed = Feed::start(
        meter(Mode::Standard, Contract::Tempo, m, "2026-01-14 12:00:00"),
        Duration::from_millis(100),
    );
    let rec = record(ha, &feed, &dir.path().join("a"), Mode::Standard, &[]);
    wait_state(ha, &sensor(m, "colour_today"), 60, |s| s != "unknown");
    let reg = wait("the old entities withdrawn", 20, || {
        let r = registry(ha, m);
        (!r.contains_key(&sensor(m, "irms2"))).then_some(r)
    });
    assert!(
        !reg.keys().any(|k| k.contains("tarif_hc")),
        "{:?}",
        reg.keys()
    );
    assert_eq!(
        shown_name(ha, m, &sensor(m, "easf06")).as_deref(),
        Some("Red peak")
    );
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    drop(feed);
    // The contract changes to HC/HP, and only the total and two indexes are recorded.
    let feed = Feed::start(
        meter(Mode::Standard, Contract::HcHp, m, "2026-01-15 12:00:00"),
        Duration::from_millis(100),
    );
    let labels = "DATE,ADSC,NGTF,LTARF,NTARF,EAST,EASF01,EASF02,SINSTS";
    let rec = record(
        ha,
        &feed,
        &dir.path().join("b"),
        Mode::Standard,
        &["--labels", labels],
    );
    wait(
        "the Tempo colours and the other indexes withdrawn",
        60,
        || {
            let r = registry(ha, m);
            let gone = ["colour_today", "colour_tomorrow", "easf03", "easf06"]
                .iter()
                .all(|id| !r.contains_key(&sensor(m, id)));
            gone.then_some(r)
        },
    );
    // Disabled entities (the distributor's indexes) have no entity in Home Assistant to
    // remove, only a registry entry, which it keeps: their configs are gone from the broker
    // all the same, so that Home Assistant's next start does not make them again.
    let held = retained_configs(ha, m);
    for object in [
        "colour_today",
        "colour_tomorrow",
        "easf03",
        "easf06",
        "easd01",
        "easd02",
    ] {
        assert!(
            !held
                .iter()
                .any(|t| t.ends_with(&format!("/{object}/config"))),
            "{object} still retained: {held:?}"
        );
    }
    assert!(held.iter().any(|t| t.ends_with("/easf01/config")));
    wait("the HC/HP names", 20, || {
        (shown_name(ha, m, &sensor(m, "easf01")).as_deref() == Some("Off-peak")
            && shown_name(ha, m, &sensor(m, "easf02")).as_deref() == Some("Peak"))
        .then_some(())
    });
    // IRMS1 is no longer recorded, but the meter still says it (heard in the frames).
    let irms = wait_state(ha, &sensor(m, "irms1"), 20, numeric);
    assert!(numeric(&irms));
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    let p = problems(ha, m);
    assert!(
        !p.iter().any(|l| l.contains("has no attribute")),
        "no template warning: {p:?}"
    );
    assert_no_problems(ha, m);
}

/// Issue 18 (2): a replay with --mqtt is refused before it publishes anything, so the live
/// meter stays online with its own values in Home Assistant.
fn a_replay_never_touches_the_live_meter() {
    let Some(ha) = ha() else { return };
    let m = "041876097106";
    let dir = tempfile::tempdir().unwrap();
    let feed = Feed::start(
        meter(Mode::Standard, Contract::HcHp, m, "2026-06-04 12:00:00"),
        Duration::from_millis(100),
    );
    let rec = record(ha, &feed, &dir.path().join("live"), Mode::Standard, &[]);
    wait_state(ha, &sensor(m, "sinsts"), 60, numeric);
    // Yesterday's capture of the same meter.
    let capture = dir.path().join("yesterday.tic");
    let mut old = Meter::new(meter(
        Mode::Standard,
        Contract::HcHp,
        m,
        "2026-06-03 12:00:00",
    ))
    .expect("a meter");
    let mut bytes = Vec::new();
    for _ in 0..120 {
        old.next_frame(&mut bytes);
    }
    std::fs::write(&capture, &bytes).unwrap();
    let url = format!("mqtt://127.0.0.1:{}", lock(ha).mqtt);
    let out = Command::new(BIN)
        .args(["record", "--replay"])
        .arg(&capture)
        .args(["--data-dir"])
        .arg(dir.path().join("replay"))
        .args(["--mqtt", &url])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("a replay's rows are history"), "{stderr}");
    // The live meter goes on: available, its link on, its states newer and newer.
    let updated = |id: &str| {
        state(ha, id).unwrap()["last_updated"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = updated(&sensor(m, "sinsts"));
    wait("a newer live state", 20, || {
        let s = state(ha, &sensor(m, "sinsts")).unwrap();
        assert_ne!(s["state"], "unavailable");
        (s["last_updated"].as_str() != Some(before.as_str())).then_some(())
    });
    assert_eq!(
        state_text(ha, &binary(m, "tic_link")).as_deref(),
        Some("on")
    );
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    assert_no_problems(ha, m);
}

/// Issue 18 (3), with the real default: the TIC line silent, what the meter says now is
/// unavailable within 60 s of the last row (the link sensor off, the indexes still there),
/// and back with the next row.
fn a_silent_meter_is_unavailable_within_a_minute_and_back_with_the_next_row() {
    let Some(ha) = ha() else { return };
    let m = "041876097107";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let feed = Feed::start(
        meter(Mode::Standard, Contract::HcHp, m, "2026-06-05 12:00:00"),
        Duration::from_millis(100),
    );
    let rec = record(ha, &feed, &data, Mode::Standard, &[]);
    wait_state(ha, &sensor(m, "sinsts"), 60, numeric);
    wait_state(ha, &sensor(m, "easf02"), 30, numeric);
    let rows_before = common::rows_so_far(&data);
    feed.pause();
    let silent = Instant::now();
    // The last row is written at most a frame after the last one sent.
    wait("the last row", 10, || {
        let n = common::rows_so_far(&data);
        std::thread::sleep(Duration::from_millis(300));
        (n >= rows_before && n == common::rows_so_far(&data)).then_some(())
    });
    let unavailable = wait("sinsts unavailable", 90, || {
        (state_text(ha, &sensor(m, "sinsts")).as_deref() == Some("unavailable"))
            .then(|| silent.elapsed())
    });
    assert!(
        unavailable <= Duration::from_millis(61_500),
        "unavailable {unavailable:?} after the last frame"
    );
    assert!(
        unavailable >= Duration::from_secs(50),
        "not before the minute: {unavailable:?}"
    );
    for id in ["irms1", "urms1", "ltarf", "stge_cut_off"] {
        assert_eq!(
            state_text(ha, &sensor(m, id)).as_deref(),
            Some("unavailable"),
            "{id}"
        );
    }
    assert_eq!(
        state_text(ha, &binary(m, "tic_link")).as_deref(),
        Some("off")
    );
    for id in ["easf02", "east"] {
        let s = state_text(ha, &sensor(m, id)).unwrap();
        assert!(numeric(&s), "an index holds: {id} {s}");
    }
    assert!(numeric(
        &state_text(ha, &sensor(m, "checksum_errors")).unwrap()
    ));
    feed.resume();
    let back = Instant::now();
    wait_state(ha, &sensor(m, "sinsts"), 20, numeric);
    wait_state(ha, &binary(m, "tic_link"), 5, |s| s == "on");
    eprintln!(
        "silent meter: unavailable after {unavailable:?}, back {:?} after the frames",
        back.elapsed()
    );
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    assert_no_problems(ha, m);
}

/// Swaps supplier indexes 1 and 2 (peak on index 1, off-peak on 2), and names the contract
/// `calendar`.
fn swapped(calendar: &'static str) -> Rewrite {
    Box::new(move |f: &SimFrame| {
        let v = |l: &str| f.value(l).unwrap_or("").to_owned();
        let (e1, e2) = (v("EASF01"), v("EASF02"));
        groups(f)
            .into_iter()
            .map(|(l, h, val)| {
                let val = match l {
                    "EASF01" => e2.clone(),
                    "EASF02" => e1.clone(),
                    "NTARF" if val == "01" => "02".to_owned(),
                    "NTARF" if val == "02" => "01".to_owned(),
                    "NGTF" => format!("{calendar:^16}"),
                    _ => val,
                };
                (l, h, val)
            })
            .collect()
    })
}

/// Issue 18 (4): entity ids come from the labels, never from the names; names learned later
/// change the name only; no two indexes share a name (peak on index 1 under an HC/HP
/// contract); what the meter taught survives a restart of the recorder.
fn ids_stay_and_learned_names_survive_a_restart() {
    let Some(ha) = ha() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Peak on index 1, an HC/HP contract; and the same under a contract no registry knows.
    let cases = [
        ("041876097108", "H PLEINE/CREUSE", "Off-peak"),
        ("041876097109", "PROFIL CLIENT", "Index 2"),
    ];
    let mut running = Vec::new();
    for (m, calendar, _) in cases {
        let feed = Feed::start(
            meter(Mode::Standard, Contract::HcHp, m, "2026-06-06 21:58:00"),
            Duration::from_millis(100),
        );
        feed.rewrite(Some(swapped(calendar)));
        let data = dir.path().join(m);
        let rec = record(ha, &feed, &data, Mode::Standard, &[]);
        running.push((m, feed, data, rec));
    }
    let name = |m: &str, id: &str| shown_name(ha, m, &sensor(m, id));
    for (m, _, guess) in cases {
        wait_state(ha, &sensor(m, "ltarf"), 60, |s| s == "Peak");
        assert_eq!(name(m, "easf01").as_deref(), Some("Peak"), "{m}");
        assert_eq!(
            name(m, "easf02").as_deref(),
            Some(guess),
            "{m}: never Peak twice"
        );
    }
    // 22:00: the meter names index 2.
    for (m, _, _) in cases {
        wait_state(ha, &sensor(m, "ltarf"), 60, |s| s == "Off-peak");
        wait("index 2 named", 10, || {
            (name(m, "easf02").as_deref() == Some("Off-peak")).then_some(())
        });
    }
    // A restart in the off-peak hours: index 1's name (said only in the peak hours) stays.
    let mut again = Vec::new();
    for (m, feed, data, rec) in running {
        let (status, stderr) = rec.terminate();
        assert!(status.success(), "{stderr}");
        wait_state(ha, &sensor(m, "easf01"), 10, |s| s == "unavailable");
        let rec = record(ha, &feed, &data, Mode::Standard, &[]);
        again.push((m, feed, rec));
    }
    for (m, _, rec) in &again {
        wait_state(ha, &sensor(m, "sinsts"), 60, numeric);
        rec.wait_for("MQTT: connected to", 30);
        for _ in 0..10 {
            assert_eq!(
                name(m, "easf01").as_deref(),
                Some("Peak"),
                "{m} after a restart"
            );
            assert_eq!(name(m, "easf02").as_deref(), Some("Off-peak"), "{m}");
            std::thread::sleep(Duration::from_millis(300));
        }
        // Each entity's id is its label's, whatever its name was when first discovered.
        let by_unique: BTreeMap<String, String> = registry(ha, m)
            .into_iter()
            .map(|(id, e)| (e["unique_id"].as_str().unwrap_or("").to_owned(), id))
            .collect();
        for (object, id) in [
            ("easf01", "easf01"),
            ("easf02", "easf02"),
            ("tariff", "ltarf"),
        ] {
            assert_eq!(
                by_unique.get(&format!("tic-rec_{m}_{object}")),
                Some(&sensor(m, id)),
                "{by_unique:?}"
            );
        }
    }
    for (m, feed, rec) in again {
        let (status, stderr) = rec.terminate();
        assert!(status.success(), "{stderr}");
        assert!(feed.frames() > 0);
        assert_no_problems(ha, m);
    }
}
