//! Recorder hardening (issue 9), end to end with the real binary: frames that pass their
//! checksum but carry a wrong time, junk before the first frame, a port that comes back, a
//! full disk (a real tmpfs), two recorders on one directory, a garbage last line, systemd's
//! notify socket, and the messages of a wrong port or mode.

mod common;

common::harness!(
    one_wrong_date_creates_no_file_and_stops_nothing,
    a_meter_clock_set_back_is_followed_and_nothing_is_lost,
    junk_before_the_first_frame_does_not_empty_the_labels,
    an_adapter_back_after_a_long_outage_is_read_within_five_seconds,
    a_full_disk_holds_rows_in_memory_until_space_returns,
    a_second_recorder_on_the_same_directory_refuses_at_once,
    a_garbage_last_line_is_left_alone_and_a_new_part_started,
    systemd_hears_ready_and_watchdog_pings,
    a_missing_port_is_said_with_the_ports_present_and_retried,
    a_path_that_is_not_a_serial_port_is_an_error,
    a_replay_in_the_wrong_mode_says_why_it_wrote_nothing,
    a_historique_replay_without_a_start_time_says_so,
    frames_that_verify_without_rows_are_said,
    a_stop_writes_the_held_rows_once_the_disk_frees,
    a_stop_that_cannot_write_says_what_it_dropped,
    an_absent_port_creates_and_archives_nothing_until_it_opens,
);

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use tic_rec::sim::{Contract, Meter, Pty, SimConfig, SimFrame};
use tic_rec::tic::encode::push_frame;
use tic_rec::tic::Mode;

use common::at;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

/// A frame's bytes again, from its groups, with `date` as its DATE if given (checksums
/// recomputed: a corruption that passed the checksum).
fn encode(s: &SimFrame, date: Option<&str>) -> Vec<u8> {
    let groups: Vec<(&str, Option<&str>, &str)> = s
        .groups
        .iter()
        .map(|g| {
            let h = match (g.label, date) {
                ("DATE", Some(d)) => Some(d),
                _ => g.horodate.as_deref(),
            };
            (g.label, h, g.value.as_str())
        })
        .collect();
    let mut v = Vec::new();
    push_frame(&mut v, Mode::Standard, &groups);
    v
}

/// `n` standard HC/HP frames one meter second apart from `start`.
fn frames(start: &str, n: usize) -> Vec<SimFrame> {
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, at(start));
    cfg.frame_interval = Some(Duration::seconds(1));
    let mut m = Meter::new(cfg).unwrap();
    let mut sink = Vec::new();
    (0..n).map(|_| m.next_frame(&mut sink)).collect()
}

fn replay(bytes: &[u8], data: &Path, extra: &[&str]) -> (bool, String) {
    let capture = data.with_extension("tic");
    std::fs::write(&capture, bytes).unwrap();
    let out = Command::new(BIN)
        .args(["record", "--replay", capture.to_str().unwrap()])
        .args(["--data-dir", data.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every record file under `dir` (sorted) with its rows (header excluded).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<String>)> {
    common::files_named(dir, ".csv")
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.is_empty() || text.ends_with('\n'), "{p:?}: a torn row");
            let rows = text.lines().skip(1).map(str::to_owned).collect();
            (p, rows)
        })
        .collect()
}

fn rows(dir: &Path) -> Vec<String> {
    files(dir).into_iter().flat_map(|(_, r)| r).collect()
}

fn one_wrong_date_creates_no_file_and_stops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sims = frames("2026-06-01 12:00:00", 120);
    let mut bytes = Vec::new();
    for (k, s) in sims.iter().enumerate() {
        // Frame 50's DATE reads ten years ahead, with a valid checksum.
        let date = (k == 50).then_some("E360601120050");
        bytes.extend(encode(s, date));
    }
    let (ok, stderr) = replay(&bytes, &data, &[]);
    assert!(ok, "{stderr}");
    assert!(!data.join("2036").exists(), "no file for the wrong date");
    let got = rows(&data);
    assert_eq!(got.len(), 119, "every frame but the wrong one\n{stderr}");
    assert!(got.iter().all(|r| r.starts_with("2026-06-01T12:0")));
    assert!(stderr.contains("dropped a frame whose time"), "{stderr}");
}

fn a_meter_clock_set_back_is_followed_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bytes = Vec::new();
    for s in frames("2026-06-01 12:00:00", 60) {
        bytes.extend(encode(&s, None));
    }
    // Enedis sets the meter's clock back an hour.
    for s in frames("2026-06-01 11:01:00", 60) {
        bytes.extend(encode(&s, None));
    }
    let (ok, stderr) = replay(&bytes, &data, &[]);
    assert!(ok, "{stderr}");
    let f = files(&data);
    let names: Vec<_> = f
        .iter()
        .map(|(p, r)| (p.file_name().unwrap().to_str().unwrap().to_owned(), r.len()))
        .collect();
    assert_eq!(
        names,
        [
            ("2026-06-01.1.csv".to_owned(), 60),
            ("2026-06-01.csv".to_owned(), 60)
        ],
        "{stderr}"
    );
    for (p, r) in &f {
        let mut sorted = r.clone();
        sorted.sort();
        assert_eq!(&sorted, r, "{p:?} in time order");
    }
    assert!(
        stderr.contains("CLOCK CHANGE: frame times moved BACK"),
        "{stderr}"
    );
}

fn junk_before_the_first_frame_does_not_empty_the_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bytes = b"\x02\x03\x02\n\x03".to_vec();
    push_frame(&mut bytes, Mode::Standard, &[("ZZZZ", None, "1")]);
    for s in frames("2026-06-01 12:00:00", 10) {
        bytes.extend(encode(&s, None));
    }
    let (ok, stderr) = replay(&bytes, &data, &[]);
    assert!(ok, "{stderr}");
    let (path, got) = &files(&data)[0];
    assert_eq!(got.len(), 10);
    let header = std::fs::read_to_string(path).unwrap();
    let header = header.lines().next().unwrap();
    assert!(header.contains(",EAST,EASF01,EASF02,"), "{header}");
}

/// A running `tic-rec record <args>`.
fn recorder(args: &[&str], env: &[(&str, &str)]) -> common::Running {
    common::Running::start(&[&["record"], args].concat(), env)
}

/// Writes the next simulated frame to the pseudo-terminal; its groups are re-encoded so that
/// the meter time is that of `meter` (one second a frame).
fn send(pty: &mut Pty, meter: &mut Meter) {
    let mut buf = Vec::new();
    meter.next_frame(&mut buf);
    pty.master.write_all(&buf).unwrap();
}

fn standard_meter(start: &str) -> Meter {
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, at(start));
    cfg.frame_interval = Some(Duration::seconds(1));
    Meter::new(cfg).unwrap()
}

/// Points `link` at `target` atomically (as udev does for /dev/serial/by-id).
fn point(link: &Path, target: &str) {
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

fn an_adapter_back_after_a_long_outage_is_read_within_five_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let link = dir.path().join("ttyTIC");
    let mut pty = common::pty();
    point(&link, &pty.path);
    let rec = recorder(
        &[
            "--port",
            link.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--mode",
            "standard",
        ],
        &[],
    );
    rec.wait_for("reading", 10);
    let mut meter = standard_meter("2026-06-01 12:00:00");
    for _ in 0..5 {
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(300));
    }
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while common::rows_so_far(&data) < 3 && Instant::now() < deadline {
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(300));
    }
    // Unplugged until the recorder says the outage again, at 10 s, with its attempts (one a
    // second: the old backoff, doubling to 30 s, came back 11 s late). The port supervisor's
    // unit tests cover outages of any length with the time injected.
    drop(pty);
    std::fs::remove_file(&link).unwrap();
    rec.wait_for("does not exist", 10);
    rec.wait_map(25, "the outage said again after 10 s", |l| {
        let (_, tail) = l.split_once("still does not exist after")?;
        let attempts: u32 = tail
            .split_once(" attempts)")?
            .0
            .rsplit('(')
            .next()?
            .parse()
            .ok()?;
        (attempts >= 9).then_some(())
    });
    let before = common::rows_so_far(&data);
    let mut pty = common::pty();
    point(&link, &pty.path);
    let back = Instant::now();
    // The meter went on meanwhile: its time is 10 s later too.
    for _ in 0..10 {
        meter.next_frame(&mut Vec::new());
    }
    let mut first_row = None;
    while back.elapsed() < StdDuration::from_secs(15) {
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(250));
        if common::rows_so_far(&data) > before {
            first_row = Some(back.elapsed());
            break;
        }
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    let took = first_row.unwrap_or_else(|| panic!("no row after the port came back\n{stderr}"));
    assert!(
        took < StdDuration::from_secs(5),
        "first row {took:?} after the port came back\n{stderr}"
    );
    assert!(stderr.contains("is back after"), "{stderr}");
}

/// A small tmpfs mounted at `dir` for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `data` but for about `room` bytes (with whole 1 KiB blocks);
/// the file that fills it.
fn fill_but(data: &Path, room: u64) -> PathBuf {
    let filler = data.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    std::fs::remove_file(&filler).unwrap();
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 1024];
    while f.write_all(&block).is_ok() {}
    drop(f);
    let len = std::fs::metadata(&filler).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(len.saturating_sub(room))
        .unwrap();
    filler
}

fn a_full_disk_holds_rows_in_memory_until_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::requires(&[common::Need::Mount]);
    let _fs = Tmpfs::mount(&data, "256k").expect("mount a tmpfs");
    let filler = fill_but(&data, 12 * 1024);
    let mut pty = common::pty();
    let mut rec = recorder(
        &[
            "--port",
            &pty.path,
            "--data-dir",
            data.to_str().unwrap(),
            "--mode",
            "standard",
        ],
        &[],
    );
    rec.wait_for("reading", 10);
    let mut meter = standard_meter("2026-06-01 12:00:00");
    let deadline = Instant::now() + StdDuration::from_secs(40);
    while !rec.has("CANNOT WRITE") && Instant::now() < deadline {
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(100));
    }
    rec.wait_for("CANNOT WRITE: disk full", 1);
    // Still recording into memory for a while.
    for _ in 0..30 {
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(100));
    }
    assert!(rec.child.try_wait().unwrap().is_none(), "still running");
    let on_disk = common::rows_so_far(&data);
    std::fs::remove_file(&filler).unwrap();
    rec.wait_for("writing again after", 15);
    for _ in 0..5 {
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(200));
    }
    std::thread::sleep(StdDuration::from_millis(500));
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    let got = rows(&data);
    assert!(
        got.len() > on_disk + 30,
        "held rows landed: {} then {}\n{stderr}",
        on_disk,
        got.len()
    );
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, got, "in time order, no duplicate");
    // Every second of the meter's time from the first row to the last is there.
    let secs: Vec<i64> = got
        .iter()
        .map(|r| {
            chrono::DateTime::parse_from_rfc3339(&r[..25])
                .unwrap()
                .timestamp()
        })
        .collect();
    assert_eq!(
        secs.last().unwrap() - secs[0] + 1,
        secs.len() as i64,
        "no row lost\n{stderr}"
    );
}

fn a_second_recorder_on_the_same_directory_refuses_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pty = common::pty();
    let first = recorder(
        &["--port", &pty.path, "--data-dir", data.to_str().unwrap()],
        &[],
    );
    first.wait_for("reading", 10);
    let t = Instant::now();
    let mut bytes = Vec::new();
    for s in frames("2026-06-01 12:00:00", 5) {
        bytes.extend(encode(&s, None));
    }
    let (ok, stderr) = replay(&bytes, &data, &[]);
    assert!(!ok);
    assert!(t.elapsed() < StdDuration::from_secs(5));
    let pid = first.child.id().to_string();
    assert!(
        stderr.contains("already recorded into by another tic-rec"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert!(stderr.contains(&pty.path), "{stderr}");
    assert!(rows(&data).is_empty(), "the second one wrote nothing");
    let (status, _) = first.terminate();
    assert!(status.success());
    // The lock went with its holder.
    let (ok, stderr) = replay(&bytes, &data, &[]);
    assert!(ok, "{stderr}");
}

fn a_garbage_last_line_is_left_alone_and_a_new_part_started() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sims = frames("2026-06-01 12:00:00", 20);
    let mut first = Vec::new();
    for s in &sims[..10] {
        first.extend(encode(s, None));
    }
    // Plain CSV: the day is old, and would otherwise be archived at the next start.
    assert!(replay(&first, &data, &["--archive", "csv"]).0);
    let day = data.join("journal/2026/06/2026-06-01.csv");
    let mut f = std::fs::OpenOptions::new().append(true).open(&day).unwrap();
    f.write_all(b"\x00\x00garbage from a bad sector\n").unwrap();
    drop(f);
    let before = std::fs::read(&day).unwrap();
    let mut second = Vec::new();
    for s in &sims[10..] {
        second.extend(encode(s, None));
    }
    let (ok, stderr) = replay(&second, &data, &["--archive", "csv"]);
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read(&day).unwrap(), before, "untouched");
    let part = std::fs::read_to_string(data.join("journal/2026/06/2026-06-01.1.csv")).unwrap();
    assert_eq!(part.lines().count(), 11);
    assert!(
        stderr.contains("is not a record: left as it is"),
        "{stderr}"
    );
}

fn systemd_hears_ready_and_watchdog_pings() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(StdDuration::from_secs(5)))
        .unwrap();
    let data = dir.path().join("data");
    let pty = common::pty();
    let rec = recorder(
        &["--port", &pty.path, "--data-dir", data.to_str().unwrap()],
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + StdDuration::from_secs(8);
    while Instant::now() < deadline && !got.iter().any(|m: &String| m.contains("WATCHDOG=1")) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    // The stop is said too (systemd shows the unit as stopping).
    sock.set_read_timeout(Some(StdDuration::from_millis(500)))
        .unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(got.iter().any(|m| m.contains("STOPPING=1")), "{got:?}");
    assert!(got[0].contains("READY=1"), "{got:?}");
    assert!(
        got[0].contains(&format!("STATUS=recording {}", pty.path)),
        "{got:?}"
    );
    assert!(got.iter().any(|m| m.contains("WATCHDOG=1")), "{got:?}");
}

fn a_missing_port_is_said_with_the_ports_present_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rec = recorder(
        &[
            "--port",
            "/dev/ttyNOPE",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    rec.wait_for("/dev/ttyNOPE does not exist (mistyped?)", 5);
    // Said again after 10 s (not every second), and still running.
    rec.wait_for("still does not exist after 10s", 15);
    assert!(!data.exists(), "nothing created while it waits");
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "trying again every second (nothing is recorded, created or archived until it opens)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("serial port"), "{stderr}");
    assert_eq!(stderr.matches("does not exist").count(), 2, "{stderr}");
    assert!(!data.exists(), "nothing created at the end either");
}

fn a_path_that_is_not_a_serial_port_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.tic");
    std::fs::write(&file, b"not a port").unwrap();
    for port in [file.to_str().unwrap(), "/dev/null"] {
        let out = Command::new(BIN)
            .args(["record", "--port", port, "--data-dir"])
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{port}");
        assert!(stderr.contains("is not a serial port"), "{port}: {stderr}");
    }
}

fn a_replay_in_the_wrong_mode_says_why_it_wrote_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bytes = Vec::new();
    for s in frames("2026-06-01 12:00:00", 30) {
        bytes.extend(encode(&s, None));
    }
    let (ok, stderr) = replay(&bytes, &data, &["--mode", "historique"]);
    assert!(!ok);
    assert!(stderr.contains("no row written from"), "{stderr}");
    assert!(
        stderr.contains("failed their checksum: is it really historique mode? try --mode auto"),
        "{stderr}"
    );
}

fn a_historique_replay_without_a_start_time_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = SimConfig::new(Mode::Historique, Contract::HcHp, at("2026-06-01 12:00:00"));
    cfg.frame_interval = Some(Duration::seconds(2));
    let mut m = Meter::new(cfg).unwrap();
    let mut bytes = Vec::new();
    for _ in 0..40 {
        m.next_frame(&mut bytes);
    }
    let (ok, stderr) = replay(&bytes, &data, &[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("fell in the same second"), "{stderr}");
    let note = stderr
        .lines()
        .find(|l| l.starts_with("tic-rec: note: historique frames have no DATE"))
        .unwrap_or_else(|| panic!("no note: {stderr}"));
    assert!(
        note.contains("with --replay-start YYYY-MM-DDTHH:MM:SS to stamp") && !note.contains("  "),
        "one space between words: {note:?}"
    );
}

fn frames_that_verify_without_rows_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut pty = common::pty();
    let rec = recorder(
        &[
            "--port",
            &pty.path,
            "--data-dir",
            data.to_str().unwrap(),
            "--mode",
            "standard",
            "--labels",
            "EAST,ZZZZ",
            "--silence-warning",
            "2s",
        ],
        &[],
    );
    rec.wait_for("reading", 10);
    let mut meter = standard_meter("2026-06-01 12:00:00");
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while !rec.has("no row written for") && Instant::now() < deadline {
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(300));
    }
    let (_, stderr) = rec.terminate();
    assert!(stderr.contains("no row written for"), "{stderr}");
    assert!(stderr.contains("lack a wanted label"), "{stderr}");
}

/// A recorder on a tmpfs of 256 KiB under `dir` filled but for a few rows, fed until writing
/// fails and then for `held` more frames, which it holds in memory; returns once its summary
/// line says it has read them all (with the mount, the filler, the pty, the recorder, and the
/// rows on disk then). The test [`common::requires`] mounting a tmpfs.
#[allow(clippy::type_complexity)]
fn holding_rows(
    dir: &Path,
    held: usize,
    extra: &[&str],
) -> Option<(Tmpfs, PathBuf, PathBuf, Pty, common::Running)> {
    let data = dir.join("data");
    common::requires(&[common::Need::Mount]);
    let fs = Tmpfs::mount(&data, "256k").expect("mount a tmpfs");
    let filler = fill_but(&data, 12 * 1024);
    let mut pty = common::pty();
    let args = [
        &[
            "--port",
            &pty.path,
            "--data-dir",
            data.to_str().unwrap(),
            "--mode",
            "standard",
            "--archive",
            "csv",
            "--log-interval",
            "1s",
        ][..],
        extra,
    ]
    .concat();
    let rec = recorder(&args, &[]);
    rec.wait_for("reading", 10);
    let mut meter = standard_meter("2026-06-01 12:00:00");
    let deadline = Instant::now() + StdDuration::from_secs(40);
    while !rec.has("CANNOT WRITE") {
        assert!(Instant::now() < deadline, "the disk never filled");
        send(&mut pty, &mut meter);
        std::thread::sleep(StdDuration::from_millis(50));
    }
    let mut last = None;
    for _ in 0..held {
        let mut buf = Vec::new();
        last = Some(meter.next_frame(&mut buf).time);
        pty.master.write_all(&buf).unwrap();
        std::thread::sleep(StdDuration::from_millis(20));
    }
    // The summary line names the last record's time once it is made.
    let last = last
        .expect("frames held")
        .format("last %Y-%m-%dT%H:%M:%S%:z");
    rec.wait_for(&last.to_string(), 10);
    Some((fs, data, filler, pty, rec))
}

/// Sends `signal` to the recorder.
fn signal(rec: &common::Running, signal: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_child(&rec.child), signal).unwrap();
}

/// Waits up to `secs` for the recorder to exit: its status and lines.
fn exit_of(mut rec: common::Running, secs: u64) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + StdDuration::from_secs(secs);
    let status = loop {
        if let Some(s) = rec.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {secs} s:\n{}",
            rec.stderr()
        );
        std::thread::sleep(StdDuration::from_millis(20));
    };
    // The last lines arrive through the pipe after the exit: until a last line is there.
    let deadline = Instant::now() + StdDuration::from_secs(5);
    let is_last = |l: &str| l.starts_with("tic-rec: error: ") || l.contains(" rows written (");
    while !rec.stderr().lines().last().is_some_and(is_last) && Instant::now() < deadline {
        std::thread::sleep(StdDuration::from_millis(20));
    }
    (status, rec.stderr())
}

/// Whether the recorder is still running `ms` after now.
fn still_running_after(rec: &mut common::Running, ms: u64) -> bool {
    std::thread::sleep(StdDuration::from_millis(ms));
    rec.child.try_wait().unwrap().is_none()
}

/// Every meter second from the first row to the last is there, once, in order.
fn assert_every_second(rows: &[String], stderr: &str) {
    let secs: Vec<i64> = rows
        .iter()
        .map(|r| {
            chrono::DateTime::parse_from_rfc3339(&r[..25])
                .unwrap()
                .timestamp()
        })
        .collect();
    assert!(secs.windows(2).all(|w| w[1] == w[0] + 1), "{stderr}");
}

/// The rows written, from the recorder's last line.
fn written_in(line: &str) -> usize {
    let n = match line.split_once(" rows were written") {
        Some((head, _)) => head.rsplit(' ').next(),
        None => line
            .strip_prefix("tic-rec: ")
            .and_then(|l| l.split_once(" rows written"))
            .map(|(n, _)| n),
    };
    n.and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of rows written in {line:?}"))
}

/// Issue 21: rows held in memory during a full disk are written when the disk frees during
/// the stop, and a second signal meanwhile does not cut the stop short.
fn a_stop_writes_the_held_rows_once_the_disk_frees() {
    use rustix::process::Signal;
    let dir = tempfile::tempdir().unwrap();
    let Some((_fs, data, filler, _pty, mut rec)) = holding_rows(dir.path(), 20, &[]) else {
        return;
    };
    let on_disk = common::rows_so_far(&data);
    signal(&rec, Signal::TERM);
    rec.wait_for("stopping: ", 5);
    assert!(
        rec.has("rows held in memory are not written yet"),
        "{}",
        rec.stderr()
    );
    // A second signal (systemd's SIGTERM, then a Ctrl-C) tries again, and goes on.
    signal(&rec, Signal::INT);
    assert!(still_running_after(&mut rec, 300), "{}", rec.stderr());
    std::fs::remove_file(&filler).unwrap();
    let (status, stderr) = exit_of(rec, 10);
    assert!(status.success(), "{status}\n{stderr}");
    let got = rows(&data);
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(got.len(), written_in(last), "{stderr}");
    assert!(
        got.len() >= on_disk + 20,
        "{on_disk} then {}\n{stderr}",
        got.len()
    );
    assert_every_second(&got, &stderr);
    assert!(
        got.last().unwrap().starts_with("2026-06-01T12:0"),
        "{stderr}"
    );
}

/// Issue 21: a disk that stays full: the stop gives up at the third signal, or after
/// --stop-timeout, and its last line says what was written and what was dropped.
fn a_stop_that_cannot_write_says_what_it_dropped() {
    use rustix::process::Signal;
    for forced in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let extra: &[&str] = if forced {
            &[]
        } else {
            &["--stop-timeout", "2s"]
        };
        let Some((_fs, data, _filler, _pty, mut rec)) = holding_rows(dir.path(), 10, extra) else {
            return;
        };
        // The counts once every frame is read: rows written, and held.
        let summary = rec
            .find_map(|l| l.contains("DISK NOT WRITABLE").then(|| l.clone()))
            .expect("a summary line");
        assert!(summary.contains("rows held in memory"), "{summary}");
        signal(&rec, Signal::INT);
        rec.wait_for("stopping: ", 5);
        let stopped = Instant::now();
        if forced {
            signal(&rec, Signal::INT);
            assert!(still_running_after(&mut rec, 300), "{}", rec.stderr());
            signal(&rec, Signal::INT);
        }
        let (status, stderr) = exit_of(rec, 10);
        assert!(!status.success(), "rows were dropped: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("tic-rec: error: ")
                && last.contains("rows held in memory could not be written and are dropped"),
            "{stderr}"
        );
        if forced {
            assert!(last.contains("at the third stop signal"), "{last}");
        } else {
            assert!(last.contains("after 2s (--stop-timeout)"), "{last}");
            let took = stopped.elapsed();
            assert!(took >= StdDuration::from_secs(1), "{took:?}: {stderr}");
        }
        let dropped: usize = last
            .strip_prefix("tic-rec: error: ")
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{last}"));
        let got = rows(&data);
        assert_eq!(got.len(), written_in(last), "{stderr}");
        assert!(dropped >= 10, "{dropped}: {stderr}");
        assert_every_second(&got, &stderr);
    }
}

/// A port absent at the start (a mistyped name, or an adapter not plugged in yet) creates
/// nothing and archives nothing while the recorder waits for it; once it opens, the data
/// directory is made, the rows written and the closed days archived.
fn an_absent_port_creates_and_archives_nothing_until_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyTIC");
    for existing in [false, true] {
        let data = dir.path().join(format!("data-{existing}"));
        let closed = data.join("journal/2026/01/2026-01-10.csv");
        if existing {
            common::Model {
                contract: common::Contract::HcHp,
                start: common::local(2026, 1, 10, 0),
                end: common::local(2026, 1, 11, 0),
                step: 600,
                gaps: vec![],
            }
            .write(&data, &[]);
            assert!(closed.exists());
        }
        let _ = std::fs::remove_file(&link);
        let rec = recorder(
            &[
                "--port",
                link.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
                "--mode",
                "standard",
            ],
            &[],
        );
        rec.wait_for("does not exist", 10);
        // The archive job of an earlier version started at once.
        std::thread::sleep(StdDuration::from_millis(500));
        assert_eq!(data.exists(), existing, "{}", rec.stderr());
        assert!(
            closed.exists() == existing && !rec.has("archived 2026"),
            "{}",
            rec.stderr()
        );
        let mut pty = common::pty();
        point(&link, &pty.path);
        rec.wait_for("reading", 10);
        let mut meter = standard_meter("2026-06-01 12:00:00");
        let deadline = Instant::now() + StdDuration::from_secs(20);
        while common::rows_so_far(&data) < 3 || (existing && !rec.has("archived 2026-01-10")) {
            assert!(Instant::now() < deadline, "{}", rec.stderr());
            send(&mut pty, &mut meter);
            std::thread::sleep(StdDuration::from_millis(100));
        }
        let (status, stderr) = rec.terminate();
        assert!(status.success(), "{stderr}");
        assert!(data.join(tic_rec::store::LOCK_FILE).exists(), "{stderr}");
        assert!(!closed.exists(), "archived once recording: {stderr}");
    }
}
