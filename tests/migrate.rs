//! A data directory of the layout before (`DIR/YYYY/MM/` holding CSV and Parquet days side by
//! side) is moved to `journal/` and `records/` by the first `compact` or `record` that opens
//! it — and `kill -9` at random points of that run (the move, the conversions after it, the
//! periods) loses nothing: after every kill each day reads exactly as before, the next run
//! finishes the job, and a run on a moved directory has nothing to move.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().expect("run tic-rec");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every recorded row, as `export --records` prints it (what must never change).
fn rows(dir: &Path) -> String {
    let out = Command::new(BIN)
        .args(["export", "--records", "--format", "csv", "--data-dir"])
        .arg(dir)
        .output()
        .expect("export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(ok.success());
}

/// Puts every day file of `dir` (new layout) where the layout before had it, `dir/YYYY/MM/`,
/// and removes what the layout before did not have (periods/, the temporary files' folder).
fn to_old_layout(dir: &Path) {
    for tree in ["journal", "records"] {
        for f in common::files_named(&dir.join(tree), "") {
            let rel = f
                .strip_prefix(dir.join(tree))
                .expect("under the tree")
                .to_path_buf();
            let target = dir.join(rel);
            std::fs::create_dir_all(target.parent().expect("month")).expect("mkdir");
            std::fs::rename(&f, &target).expect("move back");
        }
        std::fs::remove_dir_all(dir.join(tree)).expect("rm tree");
    }
    let _ = std::fs::remove_dir_all(dir.join("periods"));
    let _ = std::fs::remove_dir_all(dir.join(".tic-rec-tmp"));
    let _ = std::fs::remove_dir_all(dir.join(".tic-rec-index"));
}

/// The day files in the layout before still there.
fn old_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("list") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit()) {
            out.extend(common::files_named(&e.path(), ""));
        }
    }
    out
}

/// Records `days` days of a meter from `start` into `dir` (`extra` arguments to `record`).
fn record(dir: &Path, start: &str, days: u32, extra: &[&str]) {
    let sim = Command::new(BIN)
        .args([
            "simulate",
            "--contract",
            "tempo",
            "--meter-id",
            "041876097171",
        ])
        .args(["--start", start, "--duration", &format!("{days}days")])
        .args(["--frame-interval", "15min"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("simulate");
    common::replay_piped(
        sim,
        Command::new(BIN)
            .args(["record", "--replay", "-", "--data-dir"])
            .arg(dir)
            .args(extra),
        "record",
    );
}

/// Sixty days of a meter at one row every 15 min in the layout before: the first thirty
/// archived (Parquet) by the recorder, the others recorded with `--archive csv`.
fn old_directory(dir: &Path) {
    record(dir, "2026-02-01T00:00:00", 30, &[]);
    record(dir, "2026-03-03T00:00:00", 30, &["--archive", "csv"]);
    to_old_layout(dir);
    assert!(!common::files_named(dir, ".parquet").is_empty());
    assert!(!common::files_named(dir, ".csv").is_empty());
}

#[test]
fn a_directory_of_the_layout_before_is_moved_under_kill_9_at_random_points_losing_nothing() {
    let work = tempfile::tempdir().expect("tempdir");
    let master = work.path().join("master");
    old_directory(&master);
    let want = rows(&master);
    let days = want
        .lines()
        .skip(1)
        .filter_map(|l| l.get(..10))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert!(days >= 59, "{days} days");
    // An uninterrupted run, timed: the kills fall within it.
    let full = work.path().join("full");
    copy_dir(&master, &full);
    let t0 = Instant::now();
    let (ok, err) = run(&["compact", "--data-dir", full.to_str().expect("utf-8")]);
    let took = t0.elapsed();
    assert!(ok, "{err}");
    assert!(
        err.contains("moved") && err.contains("day file(s)"),
        "{err}"
    );
    assert!(old_files(&full).is_empty(), "{:?}", old_files(&full));
    assert_eq!(rows(&full), want);
    let (ok, again) = run(&["compact", "--data-dir", full.to_str().expect("utf-8")]);
    assert!(ok && !again.contains("moved"), "said once: {again}");
    // kill -9 at random points of such a run.
    let mut rng = fastrand::Rng::with_seed(17);
    let (mut interrupted, mut mid_move) = (0, 0);
    // Sixteen runs, then (a loaded machine can make the move a smaller share of a run than
    // the timed one) more kills early in the run until two fell while files were moved, up
    // to 48 runs in all.
    for trial in 0..48 {
        if trial >= 16 && interrupted >= 8 && mid_move >= 2 {
            break;
        }
        let d = work.path().join(format!("trial-{trial}"));
        copy_dir(&master, &d);
        // Half of the kills early (the move itself), half anywhere in the run.
        let span = if trial >= 16 {
            took / 10
        } else if trial % 2 == 0 {
            took / 3
        } else {
            took
        };
        let at = Duration::from_micros(rng.u64(0..span.as_micros().max(1) as u64));
        let mut child = Command::new(BIN)
            .args(["compact", "--data-dir"])
            .arg(&d)
            .stderr(Stdio::null())
            .spawn()
            .expect("compact");
        std::thread::sleep(at);
        let killed = child.kill().is_ok();
        let status = child.wait().expect("wait");
        if killed && !status.success() {
            interrupted += 1;
            // Killed while moving: some files in each layout.
            let moved = d.join("journal").exists() || d.join("records").exists();
            if moved && !old_files(&d).is_empty() {
                mid_move += 1;
            }
        }
        // Every day reads as before, once, whatever the run had done.
        assert_eq!(rows(&d), want, "trial {trial}: killed after {at:?}");
        // The next run finishes the job.
        let (ok, err) = run(&["compact", "--data-dir", d.to_str().expect("utf-8")]);
        assert!(ok, "trial {trial}: {err}");
        assert!(
            old_files(&d).is_empty(),
            "trial {trial}: {:?}",
            old_files(&d)
        );
        assert_eq!(rows(&d), want, "trial {trial}: after the next run");
        let csv_left = common::files_named(&d, ".csv");
        assert!(csv_left.is_empty(), "trial {trial}: {csv_left:?}");
        assert_eq!(
            common::files_named(&d.join("records"), ".parquet").len(),
            days,
            "trial {trial}"
        );
        for f in common::files_named(&d.join("records"), "")
            .into_iter()
            .chain(common::files_named(&d.join("periods"), ""))
        {
            assert_eq!(
                f.extension().and_then(|e| e.to_str()),
                Some("parquet"),
                "trial {trial}: {}",
                f.display()
            );
        }
    }
    assert!(interrupted >= 8, "only {interrupted} runs were interrupted");
    assert!(
        mid_move >= 2,
        "only {mid_move} runs were killed while moving files"
    );
    eprintln!("{interrupted} runs killed, {mid_move} of them while moving files");
}

/// `record` moves the directory too, before it writes anything, and says so once.
#[test]
fn the_recorder_moves_a_directory_of_the_layout_before_first() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("data");
    old_directory(&dir);
    let want = rows(&dir);
    let capture = work.path().join("more.tic");
    let (ok, err) = run(&[
        "simulate",
        "--contract",
        "tempo",
        "--meter-id",
        "041876097171",
        "--start",
        "2026-04-05T00:00:00",
        "--duration",
        "2h",
        "--frame-interval",
        "15min",
        "-o",
        capture.to_str().expect("utf-8"),
    ]);
    assert!(ok, "{err}");
    let replay = |what: &str| {
        let (ok, err) = run(&[
            "record",
            "--replay",
            capture.to_str().expect("utf-8"),
            "--data-dir",
            dir.to_str().expect("utf-8"),
        ]);
        assert!(ok, "{what}: {err}");
        err
    };
    let err = replay("first");
    assert!(
        err.contains("moved") && err.contains("day file(s)"),
        "{err}"
    );
    assert!(old_files(&dir).is_empty(), "{:?}", old_files(&dir));
    let now = rows(&dir);
    let diff = want
        .lines()
        .zip(now.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b);
    assert_eq!(diff, None, "the rows before kept");
    assert!(now.lines().count() > want.lines().count());
    let err = replay("second");
    assert!(!err.contains("moved"), "said once: {err}");
}

/// A copy of a directory in the layout before (an old copy on a laptop) is read as it is by
/// `export`, `cost` and `serve`, which move nothing: every number is the one they give on the
/// same directory moved.
#[test]
fn export_cost_and_serve_read_the_layout_before_where_it_is() {
    use common::http::{addr_of, get};
    let work = tempfile::tempdir().expect("tempdir");
    let old = work.path().join("old");
    record(&old, "2026-02-01T00:00:00", 5, &[]);
    record(&old, "2026-02-06T00:00:00", 4, &["--archive", "csv"]);
    to_old_layout(&old);
    let before = old_files(&old);
    assert!(before
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "parquet")));
    assert!(before
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "csv")));
    let moved = work.path().join("moved");
    copy_dir(&old, &moved);
    let (ok, err) = run(&["compact", "--data-dir", moved.to_str().expect("utf-8")]);
    assert!(ok && err.contains("moved"), "{err}");
    assert!(old_files(&moved).is_empty());
    let csv = |command: &str, dir: &Path, args: &[&str]| {
        let (rows, _) = common::command_csv(command, dir, args);
        assert!(!rows.is_empty(), "{command} {args:?}");
        rows
    };
    for args in [
        &["--day"][..],
        &["--month"],
        &["--hour", "--from", "2026-02-07"],
    ] {
        assert_eq!(
            csv("export", &old, args),
            csv("export", &moved, args),
            "export {args:?}"
        );
    }
    assert_eq!(csv("cost", &old, &[]), csv("cost", &moved, &[]), "cost");
    let api = |dir: &Path| {
        let p = common::Running::start(
            &[
                "serve",
                "--data-dir",
                dir.to_str().expect("utf-8"),
                "--listen",
                "127.0.0.1:0",
            ],
            &[],
        );
        let a = addr_of(&p);
        let got = get(a, "/api/periods?period=day&from=2026-02-01&to=2026-02-10");
        assert_eq!(got.status, 200, "{}", got.text());
        got.json()["rows"].clone()
    };
    let rows = api(&old);
    assert_eq!(rows.as_array().map(Vec::len), Some(10), "{rows}");
    assert_eq!(rows, api(&moved), "serve's /api/periods");
    // Reading moved nothing.
    assert_eq!(old_files(&old), before);
    assert!(!old.join("journal").exists() && !old.join("records").exists());
}

/// `--archive csv` keeps the closed days as CSV in `journal/`, never in `records/`.
#[test]
fn archive_csv_keeps_csv_days_in_the_journal() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("data");
    record(&dir, "2026-02-01T00:00:00", 3, &["--archive", "csv"]);
    let all = common::files_named(&dir, ".csv");
    assert_eq!(all.len(), 3, "{all:?}");
    for f in &all {
        assert!(f.starts_with(dir.join("journal")), "{}", f.display());
    }
    let records = common::files_named(&dir.join("records"), "");
    assert!(records.is_empty(), "{records:?}");
}
