//! `tic-rec record --demo` with the real binary: a signal ends it at once, a write error
//! ends it with its message, a second run continues the same meter a day earlier, and its
//! flags are honoured or refused.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use tic_rec::store::TZ;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

fn spawn_demo(data: &Path, extra: &[&str]) -> Child {
    spawn_demo_under(data, extra, Runner::Cargo)
}

/// How the binary was started, for its hint of the next command.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// `cargo run` (which sets CARGO and CARGO_PKG_NAME).
    Cargo,
    /// The binary's path, typed.
    Path,
}

fn spawn_demo_under(data: &Path, extra: &[&str], runner: Runner) -> Child {
    let mut command = Command::new(BIN);
    match runner {
        Runner::Cargo => command
            .env("CARGO", "cargo")
            .env("CARGO_PKG_NAME", "tic-rec"),
        Runner::Path => command.env_remove("CARGO").env_remove("CARGO_PKG_NAME"),
    };
    command
        .args([
            "record",
            "--demo",
            "--data-dir",
            data.to_str().expect("utf-8"),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tic-rec")
}

/// Waits for the child at most `secs` (then kills it and fails): its status and stderr.
fn wait(mut child: Child, secs: u64, what: &str) -> (ExitStatus, String) {
    let mut pipe = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    });
    let status = common::wait_or_kill(&mut child, secs);
    let stderr = reader.join().expect("stderr reader");
    let status = status.unwrap_or_else(|| panic!("{what}: still running after {secs} s: {stderr}"));
    (status, stderr)
}

fn demo(data: &Path, extra: &[&str]) -> String {
    let (status, stderr) = wait(spawn_demo(data, extra), 90, "the demo");
    assert!(status.success(), "{extra:?}: {stderr}");
    stderr
}

/// Records a day of one every `step_s` from the day's file name (a DST day lasts 23 or
/// 25 hours).
fn rows_in_day(path: &Path, step_s: i64) -> usize {
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    let (day, _) = tic_rec::store::parse_day_file_name(name).expect("a day file");
    let midnight = |d: chrono::NaiveDate| {
        use chrono::TimeZone;
        TZ.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .expect("local midnight")
            .timestamp()
    };
    let next = day.succ_opt().expect("next day");
    usize::try_from((midnight(next) - midnight(day)) / step_s).expect("count")
}

fn export_days(data: &Path) -> Vec<BTreeMap<String, String>> {
    common::export_csv(data, &[])
}

/// Two demos: one meter whose indexes only grow across both days (no flag but the last
/// day's `partial`, and `gap` for records more than 16 min apart), each day with its own load.
fn two_demos_continue_one_meter(extra: &[&str], id: &str, step_s: i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("tic-data");
    let first = demo(&data, extra);
    let (status, second) = wait(spawn_demo_under(&data, extra, Runner::Path), 90, "the demo");
    assert!(status.success(), "{second}");
    assert!(second.contains("ending where"), "{second}");
    assert!(!first.contains("ending where"), "{first}");
    // The next command, as the binary was run: under cargo, or by its path.
    let profile = Path::new(BIN)
        .parent()
        .and_then(Path::file_name)
        .and_then(|p| p.to_str())
        .expect("target/<profile>/tic-rec");
    let cargo = match profile {
        "debug" => "cargo run --".to_owned(),
        "release" => "cargo run --release --".to_owned(),
        p => format!("cargo run --profile {p} --"),
    };
    let data_arg = data.to_str().expect("utf-8");
    assert!(
        first.contains(&format!("try `{cargo} export --data-dir {data_arg}`")),
        "{first}"
    );
    assert!(
        second.contains(&format!("try `{BIN} export --data-dir {data_arg}`")),
        "{second}"
    );
    let files = common::csv_files(&data);
    assert_eq!(files.len(), 2, "{files:?}");
    let (h0, r0) = (&files[0].1, &files[0].2);
    let (h1, r1) = (&files[1].1, &files[1].2);
    assert_eq!(h0, h1);
    assert_eq!(r0.len(), rows_in_day(&files[0].0, step_s));
    assert_eq!(r1.len(), rows_in_day(&files[1].0, step_s));
    if extra.contains(&"--raw") {
        for (p, ..) in &files {
            assert!(p.with_extension("tic").is_file(), "--raw: {p:?}");
        }
    }
    let col = |l: &str| h0.iter().position(|c| c == l).expect("column");
    assert_eq!(r0[0][col(id)], r1[0][col(id)], "the same meter");
    let days = export_days(&data);
    assert_eq!(days.len(), 2);
    // Records further apart than 16 min are a `gap` (complete is 1 s to 15 min).
    let gap = if step_s > 960 { "gap" } else { "" };
    let partial = if step_s > 960 {
        "partial|gap"
    } else {
        "partial"
    };
    for d in &days {
        assert!(
            d["flags"] == gap || d["flags"] == partial,
            "{extra:?}: {days:?}"
        );
    }
    assert_eq!(days[0]["flags"], gap, "{days:?}");
    for c in ["hc_wh", "hp_wh", "total_wh"] {
        assert_ne!(days[0][c], days[1][c], "{c}: each day its own load");
        assert!(common::int(&days[0], c) > 1000, "{c}: {days:?}");
    }
}

#[test]
fn a_second_standard_demo_continues_the_same_meter() {
    two_demos_continue_one_meter(&[], "ADSC", 60);
}

/// Historique, with `--every` and `--raw`: honoured (records every 30 min of the demo's
/// clock, at the meter's times; raw bytes kept).
#[test]
fn a_historique_demo_honours_its_flags_and_continues_too() {
    two_demos_continue_one_meter(
        &["--mode", "historique", "--every", "30min", "--raw"],
        "ADCO",
        1800,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let stderr = demo(&data, &["--mode", "historique"]);
    assert!(stderr.contains("historique mode at 1200 baud"), "{stderr}");
    let files = common::csv_files(&data);
    let (_, header, rows) = &files[0];
    assert_eq!(
        header.join(","),
        "time,time_source,ADCO,OPTARIF,ISOUSC,PTEC,HCHC,HCHP,PAPP,IINST"
    );
    assert_eq!(
        rows.len(),
        rows_in_day(&files[0].0, 60),
        "one a minute by default"
    );
    for (i, r) in rows.iter().enumerate() {
        let t = chrono::DateTime::parse_from_rfc3339(&r[0]).expect("time");
        let minutes = (t.timestamp() - rows_start(rows)) / 60;
        assert_eq!(t.timestamp() % 60, 0, "{r:?}");
        assert_eq!(minutes, i as i64, "{r:?}");
        assert_eq!(r[1], "host");
    }
    let raw = files[0].0.with_extension("tic");
    assert!(!raw.exists(), "no --raw, no raw file");
}

fn rows_start(rows: &[Vec<String>]) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&rows[0][0])
        .expect("time")
        .timestamp()
}

/// SIGINT: the demo stops within a second or two, exit 0, whole rows.
#[test]
fn a_signal_ends_the_demo_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let child = spawn_demo(&data, &[]);
    // Once rows are being written.
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::rows_so_far(&data) < 10 {
        assert!(Instant::now() < deadline, "no rows within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill")
        .success());
    let (status, stderr) = wait(child, 10, "the demo after SIGINT");
    let took = sent.elapsed();
    assert!(status.success(), "{status}: {stderr}");
    assert!(took < Duration::from_secs(2), "took {took:?}: {stderr}");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    let rows = &common::csv_files(&data)[0].2;
    assert!(rows.len() < 1380, "stopped before the day's end");
}

/// A data directory where the day's directory cannot be made (the journal is a file: this
/// fails for root too, unlike permission bits): the error, a non-zero exit, no hang.
#[test]
fn a_write_error_ends_the_demo_with_its_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("journal"), "").expect("block the journal");
    let (status, stderr) = wait(
        spawn_demo(&data, &[]),
        20,
        "the demo on a blocked directory",
    );
    assert!(!status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("tic-rec: error:") && last.contains("Not a directory"),
        "{stderr}"
    );
}

/// Flags the demo cannot honour are refused before anything is created.
#[test]
fn demo_labels_it_never_sends_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    for (args, needle) in [
        (&["--labels", "DATE,HCHC"][..], "never sends HCHC"),
        (
            &["--mode", "historique", "--labels", "EAST"][..],
            "never sends EAST",
        ),
    ] {
        let (status, stderr) = wait(spawn_demo(&data, args), 20, "the demo");
        assert!(!status.success());
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!data.exists(), "nothing created");
    }
    // A data directory holding the other mode's days: said, not mixed.
    demo(&data, &["--every", "1h"]);
    let (status, stderr) = wait(spawn_demo(&data, &["--mode", "historique"]), 20, "the demo");
    assert!(!status.success());
    assert!(stderr.contains("standard meter's"), "{stderr}");
    // --every 1h honoured: one record an hour (23 to 25 on a DST day), on the hour.
    let rows = &common::csv_files(&data)[0].2;
    assert!((23..=25).contains(&rows.len()), "{rows:?}");
    assert!(rows.iter().all(|r| r[0].contains(":00:00")), "{rows:?}");
}

/// `record --demo --http ADDR` (issue 19): the dashboard is said before the day runs, serves
/// the recorder's live view, and stays once the day is recorded until a signal (exit 0).
#[test]
fn with_http_the_dashboard_stays_until_a_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let mut rec = common::Running::start(
        &[
            "record",
            "--demo",
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--http",
            "127.0.0.1:0",
        ],
        &[],
    );
    let addr = common::http::addr_of(&rec);
    rec.wait_for("the dashboard stays on http://", 60);
    let now = common::http::get(addr, "/api/now").json();
    assert_eq!(now["source"], "recorder", "{now}");
    let yesterday = Utc::now().with_timezone(&TZ).date_naive() - Days::new(1);
    assert!(
        now["time"]
            .as_str()
            .is_some_and(|t| t.starts_with(&yesterday.to_string())),
        "the demo day's last record: {now}"
    );
    assert!(now["link"]["frames"].as_u64() > Some(1000), "{now}");
    let day = common::http::get(addr, &format!("/day?date={yesterday}"));
    assert_eq!(day.status, 200);
    std::thread::sleep(Duration::from_millis(500));
    assert!(rec.child.try_wait().expect("wait").is_none(), "still up");
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{status}: {stderr}");
}
