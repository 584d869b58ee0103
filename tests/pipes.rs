//! A reader that closes the pipe early (`tic-rec … | head`) is a normal end for every
//! command that writes to standard output: exit 0, nothing on stderr.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{local, Contract, Model};
use tic_rec::sim::{Contract as SimContract, Meter, SimConfig};
use tic_rec::tic::Mode;

/// Runs tic-rec with `args`, reads its first line, closes the pipe, and returns the exit
/// status and stderr (the command is killed, and the test fails, after 30 s).
fn first_line_then_close(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tic-rec");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the first line");
    assert!(!line.is_empty(), "tic-rec {args:?} wrote nothing");
    // The reader (and the pipe with it) is dropped here: the next writes get EPIPE.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tic-rec {args:?} still runs 30 s after its reader left");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status, errors.join().expect("stderr reader"))
}

fn assert_quiet_success(args: &[&str]) {
    let (status, stderr) = first_line_then_close(args);
    assert!(status.success(), "tic-rec {args:?}: {status}: {stderr}");
    assert_eq!(stderr, "", "tic-rec {args:?} printed on stderr");
}

/// Three days of 10-second records: megabytes of `--records` output.
fn data(dir: &Path) -> String {
    let data = dir.join("data");
    Model {
        contract: Contract::HcHp,
        start: local(2026, 1, 10, 0),
        end: local(2026, 1, 13, 0),
        step: 10,
        gaps: vec![],
    }
    .write(&data, &[]);
    data.to_str().expect("utf-8").to_owned()
}

/// A capture of 3000 standard frames (about 2 MB, a megabyte of CSV or JSON lines).
fn capture(dir: &Path) -> String {
    let path = dir.join("big.tic");
    let mut cfg = SimConfig::new(
        Mode::Standard,
        SimContract::HcHp,
        chrono::NaiveDate::from_ymd_opt(2026, 1, 10)
            .expect("date")
            .and_hms_opt(0, 0, 0)
            .expect("time"),
    );
    cfg.frame_interval = Some(chrono::Duration::minutes(1));
    let mut meter = Meter::new(cfg).expect("meter");
    let mut bytes = Vec::new();
    for _ in 0..3000 {
        meter.next_frame(&mut bytes);
    }
    std::fs::write(&path, bytes).expect("write the capture");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn export_records_into_a_closed_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = data(dir.path());
    assert_quiet_success(&["export", "--records", "--data-dir", &data]);
    assert_quiet_success(&[
        "export",
        "--records",
        "--format",
        "table",
        "--data-dir",
        &data,
    ]);
}

#[test]
fn export_days_into_a_closed_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = data(dir.path());
    // 40 years of days: a megabyte of rows.
    for format in ["csv", "table"] {
        assert_quiet_success(&[
            "export",
            "--day",
            "--from",
            "1990-01-01",
            "--to",
            "2029-12-31",
            "--format",
            format,
            "--data-dir",
            &data,
        ]);
    }
}

#[test]
fn decode_into_a_closed_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = capture(dir.path());
    assert_quiet_success(&["decode", "--format", "csv", &capture]);
    assert_quiet_success(&["decode", &capture]);
}

#[test]
fn simulate_into_a_closed_pipe() {
    assert_quiet_success(&["simulate", "--frames", "1000000", "--speed", "max"]);
}
