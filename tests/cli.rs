//! The command line's promises about arguments and paths: errors name the user's path and
//! the reason, and a flag is honoured or refused, never silently ignored.

mod common;

use std::path::Path;

use common::{local, tic_rec, Contract, Model};

fn stderr_of(args: &[&str]) -> (bool, String) {
    let out = tic_rec(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn small_data(dir: &Path) -> String {
    let data = dir.join("data");
    Model {
        contract: Contract::HcHp,
        start: local(2026, 1, 10, 0),
        end: local(2026, 1, 11, 0),
        step: 600,
        gaps: vec![],
    }
    .write(&data, &[]);
    data.to_str().expect("utf-8").to_owned()
}

#[test]
fn an_unwritable_output_is_named_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = small_data(dir.path());
    let missing = dir.path().join("missing").join("x.csv");
    let missing = missing.to_str().expect("utf-8");
    let (ok, stderr) = stderr_of(&["export", "--data-dir", &data, "-o", missing]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{missing:?}")) && stderr.contains("No such file or directory"),
        "{stderr}"
    );
    // The test's directory is a .tmpXXXX too: the output's temporary file would be a second.
    assert!(
        stderr.matches(".tmp").count() == 1 && !stderr.contains("at path"),
        "names a temporary file: {stderr}"
    );
    // Under a regular file, and onto a directory.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let under = file.join("x.csv");
    let (ok, stderr) = stderr_of(&["export", "--data-dir", &data, "-o", under.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("is not a directory"), "{stderr}");
    let (ok, stderr) = stderr_of(&["export", "--data-dir", &data, "-o", &data]);
    assert!(!ok);
    assert!(stderr.contains("it is a directory"), "{stderr}");
}

#[test]
fn a_data_dir_that_is_a_file_is_called_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let capture = dir.path().join("empty.tic");
    std::fs::write(&capture, "").expect("write");
    let file = file.to_str().expect("utf-8");
    let under = format!("{file}/sub");
    for data in [file, under.as_str()] {
        for args in [
            vec!["export", "--data-dir", data],
            vec![
                "record",
                "--replay",
                capture.to_str().unwrap(),
                "--data-dir",
                data,
            ],
            vec!["record", "--demo", "--data-dir", data],
            vec!["compact", "--data-dir", data],
            vec!["compact", "--check", "--data-dir", data],
        ] {
            let (ok, stderr) = stderr_of(&args);
            assert!(!ok, "{args:?}");
            assert!(
                stderr.contains("is a file, not a directory") && !stderr.contains("File exists"),
                "{args:?}: {stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        }
    }
}

/// Flag combinations that would be silently ignored are refused before any output or file.
#[test]
fn flags_that_would_be_ignored_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let capture = dir.path().join("c.tic");
    std::fs::write(&capture, "").expect("write");
    let (d, c) = (data.to_str().unwrap(), capture.to_str().unwrap());
    for (args, needle) in [
        (
            &[
                "simulate",
                "--producer",
                "--mode",
                "historique",
                "--frames",
                "1",
            ][..],
            "historique mode has no producer",
        ),
        (
            &[
                "simulate",
                "--faults",
                "degraded-clock",
                "--mode",
                "historique",
                "--frames",
                "1",
            ],
            "degraded-clock fault needs standard mode",
        ),
        (
            &[
                "simulate",
                "--contract",
                "base",
                "--hc",
                "01:00-07:00",
                "--frames",
                "1",
            ],
            "a base contract has none",
        ),
        (
            &["decode", "--summary", "--format", "csv", c],
            "cannot be used with",
        ),
        (
            &[
                "record",
                "--replay",
                c,
                "--mode",
                "standard",
                "--replay-start",
                "2026-01-01",
                "--data-dir",
                d,
            ],
            "--replay-start stamps historique records",
        ),
    ] {
        let out = tic_rec(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: no output");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!data.exists(), "{args:?}: nothing created");
    }
}

/// `--replay-start` on a capture that turns out to be standard (`--mode auto`): said.
#[test]
fn an_unused_replay_start_is_noted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/standard-mono-base.tic");
    let data = dir.path().join("data");
    let args = [
        "record",
        "--replay",
        sample.to_str().unwrap(),
        "--replay-start",
        "2026-01-01T00:00:00",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let (ok, stderr) = stderr_of(&args);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("--replay-start was not used"), "{stderr}");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/historique-mono-hchp.tic");
    let mut args = args;
    args[2] = sample.to_str().unwrap();
    let (ok, stderr) = stderr_of(&args);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("not used"), "{stderr}");
}

/// The example systemd unit leaves a stop the time `record` may take: `TimeoutStopSec` above
/// `--stop-timeout`'s default plus 10 s (the MQTT link's goodbye, the archive job), or
/// systemd's SIGKILL would drop the rows held in memory without a word.
#[test]
fn the_unit_file_leaves_a_stop_its_time() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/tic-rec.service"
    ))
    .expect("the unit file");
    let setting = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key}= in the unit"))
            .trim()
            .to_owned()
    };
    let stop_sec: u64 = setting("TimeoutStopSec").parse().expect("seconds");
    let help = String::from_utf8(tic_rec(&["record", "--help"]).stdout).expect("utf-8");
    let default = help
        .split("--stop-timeout")
        .nth(1)
        .and_then(|h| h.split("[default: ").nth(1))
        .and_then(|h| h.split(']').next())
        .expect("--stop-timeout's default in --help");
    let default = humantime::parse_duration(default).expect("a duration");
    assert!(
        stop_sec >= default.as_secs() + 10,
        "TimeoutStopSec={stop_sec} for --stop-timeout {default:?}"
    );
    assert_eq!(setting("KillSignal"), "SIGTERM");
}

/// A dashboard address already taken: said once (with its cause once), and the recording
/// goes on without it.
#[test]
fn a_busy_dashboard_address_is_said_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let capture = dir.path().join("c.tic");
    let mut cfg = tic_rec::sim::SimConfig::new(
        tic_rec::tic::Mode::Standard,
        tic_rec::sim::Contract::HcHp,
        chrono::NaiveDate::from_ymd_opt(2026, 6, 1)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("time"),
    );
    cfg.frame_interval = Some(chrono::Duration::seconds(1));
    let mut meter = tic_rec::sim::Meter::new(cfg).expect("meter");
    let mut bytes = Vec::new();
    for _ in 0..5 {
        meter.next_frame(&mut bytes);
    }
    std::fs::write(&capture, bytes).expect("write");
    let data = dir.path().join("data");
    let (ok, stderr) = stderr_of(&[
        "record",
        "--replay",
        capture.to_str().expect("utf-8"),
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--http",
        &addr,
    ]);
    assert!(ok, "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("cannot serve the dashboard"))
        .unwrap_or_else(|| panic!("not said: {stderr}"));
    assert_eq!(line.matches(&addr).count(), 1, "{line}");
    assert_eq!(line.matches("Address already in use").count(), 1, "{line}");
    assert!(stderr.contains("5 rows written"), "{stderr}");
}

/// `compact` with nothing to do says so, and what the directory holds, rather than
/// "archived 0 day(s) … 0.0 kB into 0.0 kB".
#[test]
fn compact_with_nothing_to_do_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let (ok, stderr) = stderr_of(&["compact", "--data-dir", empty.to_str().expect("utf-8")]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("nothing to archive: no recorded day in"),
        "{stderr}"
    );
    let data = small_data(dir.path());
    let (ok, stderr) = stderr_of(&["compact", "--data-dir", &data]);
    assert!(ok && stderr.contains("archived 2 day(s)"), "{stderr}");
    let (ok, stderr) = stderr_of(&["compact", "--data-dir", &data]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "tic-rec: nothing to archive: 2 closed day(s) already in Parquet"
    );
}

/// The example unit's install steps take the binary the documentation builds (the `dist`
/// profile), not another profile's.
#[test]
fn the_unit_file_installs_the_binary_the_docs_build() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("examples/tic-rec.service")).expect("unit");
    let binary = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split("install -m 0755 ").nth(1))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|p| p.starts_with("target/"))
            .map(str::to_owned)
            .collect()
    };
    let in_unit = binary(&unit);
    assert_eq!(in_unit, ["target/dist/tic-rec"], "{unit}");
    assert!(
        unit.contains("cargo build --locked --profile dist"),
        "{unit}"
    );
    // README, or the guide it moved to under docs/.
    let mut docs = vec![root.join("README.md")];
    if let Ok(d) = std::fs::read_dir(root.join("docs")) {
        docs.extend(d.filter_map(Result::ok).map(|e| e.path()));
    }
    let in_docs: Vec<String> = docs
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| binary(&t))
        .collect();
    assert!(!in_docs.is_empty(), "no install line in README.md or docs/");
    assert!(in_docs.iter().all(|p| *p == in_unit[0]), "{in_docs:?}");
}

/// Asserts that `needle` is in `stderr` exactly once.
#[track_caller]
fn once(stderr: &str, needle: &str) {
    assert_eq!(
        stderr.matches(needle).count(),
        1,
        "{needle:?} once in:\n{stderr}"
    );
}

/// A data directory that cannot be read: every command names it, and says why once.
#[test]
fn an_unreadable_data_dir_is_named_with_its_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Unreadable even for root: a symbolic link to itself.
    let data = dir.path().join("loop");
    std::os::unix::fs::symlink("loop", &data).expect("symlink");
    let data = data.to_str().expect("utf-8");
    for args in [
        vec!["export", "--data-dir", data],
        vec!["export", "--records", "--data-dir", data],
        vec!["cost", "--data-dir", data],
        vec!["compact", "--data-dir", data],
        vec!["compact", "--check", "--data-dir", data],
    ] {
        let (ok, stderr) = stderr_of(&args);
        assert!(!ok, "{args:?}: {stderr}");
        once(&stderr, &format!("{data:?}"));
        once(&stderr, "Too many levels of symbolic links");
        assert!(stderr.starts_with("tic-rec: error: "), "{args:?}: {stderr}");
    }
}

/// An archived day whose bytes are garbled (a partial copy), its CSV files gone: the file is
/// named, and the decoder's reason said once.
#[test]
fn a_garbled_archive_is_named_with_the_decoders_reason_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = small_data(dir.path());
    let (ok, stderr) = stderr_of(&["compact", "--data-dir", &data]);
    assert!(ok, "{stderr}");
    let pq = Path::new(&data).join("records/2026/01/2026-01-10.parquet");
    let bytes = std::fs::read(&pq).expect("read");
    std::fs::write(&pq, &bytes[..bytes.len() / 2]).expect("write");
    let shown = format!("{:?}", pq.to_str().expect("utf-8"));
    for args in [
        vec!["export", "--data-dir", &data],
        vec!["cost", "--data-dir", &data],
        vec!["compact", "--check", "--data-dir", &data],
    ] {
        let (ok, stderr) = stderr_of(&args);
        assert!(!ok, "{args:?}: {stderr}");
        once(&stderr, &format!("{shown}: not a readable archived day: "));
        once(&stderr, "Parquet error");
    }
}

/// A `--prices` file that is absent, not TOML, or holds a bad price: the file, the line and
/// the key are named, the cause said once, on one line.
#[test]
fn a_bad_prices_file_is_named_with_its_line_and_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = small_data(dir.path());
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.to_str().expect("utf-8").to_owned()
    };
    let not_toml = file(
        "not-toml.toml",
        "name = \"x\"\n\n[[period]]\nvalid_from = \n",
    );
    let bad_price = file(
        "bad-price.toml",
        "name = \"x\"\n[[period]]\nvalid_from = 2025-01-01\nsubscription = { eur_per_year = \"1.2.3\" }\n",
    );
    for (prices, named, cause) in [
        (
            "/nonexistent/p.toml",
            "cannot read prices file \"/nonexistent/p.toml\": ".to_owned(),
            "No such file or directory",
        ),
        (
            not_toml.as_str(),
            format!("{not_toml}:4: "),
            "string values must be quoted",
        ),
        (
            bad_price.as_str(),
            format!("{bad_price}:4: eur_per_year: "),
            "expected a decimal number like 0.1952, found \"1.2.3\"",
        ),
    ] {
        let (ok, stderr) = stderr_of(&["cost", "--data-dir", &data, "--prices", prices]);
        assert!(!ok, "{prices}: {stderr}");
        once(&stderr, &format!("{named}{cause}"));
        once(&stderr, cause);
        let line = stderr
            .lines()
            .find(|l| l.contains(cause))
            .expect("the line");
        assert!(line.contains(prices), "{line}");
    }
}

/// A port that is absent, held by another program, or not a terminal: said by its kind,
/// naming the port, once.
#[test]
fn port_failures_are_said_by_kind_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    // Absent.
    let rec = common::Running::start(
        &["record", "--port", "/dev/ttyNOPE", "--data-dir", data],
        &[],
    );
    rec.wait_for("/dev/ttyNOPE does not exist", 10);
    let (_, stderr) = rec.terminate();
    once(&stderr, "/dev/ttyNOPE does not exist");
    // Held: another program has it open exclusively (a serial console, ModemManager…).
    let pty = common::pty();
    let _held = serialport::new(&pty.path, 9600)
        .open_native()
        .expect("the other program's open");
    let rec = common::Running::start(&["record", "--port", &pty.path, "--data-dir", data], &[]);
    let busy = "cannot be opened: in use by another program";
    rec.wait_for(busy, 10);
    let (_, stderr) = rec.terminate();
    once(&stderr, &format!("{} {busy}", pty.path));
    // Not a terminal: an error at once.
    let (ok, stderr) = stderr_of(&["record", "--port", "/dev/null", "--data-dir", data]);
    assert!(!ok, "{stderr}");
    once(
        &stderr,
        "/dev/null is not a serial port (not a terminal device)",
    );
    assert!(!Path::new(data).exists(), "nothing created");
}

/// A bad `--mqtt` URL, and a CA file that is not PEM: the argument or the file named, the
/// cause once.
#[test]
fn a_bad_mqtt_url_or_ca_file_is_named_with_its_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    for (url, cause) in [
        ("http://broker", "the scheme must be mqtt:// or mqtts://"),
        ("mqtt://user:secret@broker", "the URL holds a password"),
        ("mqtt://broker/x", "no path, query or fragment"),
    ] {
        let (ok, stderr) = stderr_of(&["record", "--demo", "--data-dir", data, "--mqtt", url]);
        assert!(!ok, "{url}: {stderr}");
        once(&stderr, "--mqtt \"");
        once(&stderr, cause);
        assert!(!stderr.contains("secret"), "{stderr}");
    }
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let ca = ca.to_str().expect("utf-8");
    let (ok, stderr) = stderr_of(&[
        "record",
        "--port",
        "/dev/ttyNOPE",
        "--data-dir",
        data,
        "--mqtt",
        "mqtts://localhost",
        "--mqtt-ca",
        ca,
    ]);
    assert!(!ok, "{stderr}");
    once(
        &stderr,
        &format!("the CA file {ca:?} holds no PEM certificate that TLS can use: "),
    );
    once(&stderr, "base64 decode error");
    assert!(!Path::new(data).exists(), "nothing created");
}
