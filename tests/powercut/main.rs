//! Power cuts (issue 21): the recorder's store, its loop, the archive job and `compact` run
//! on a model filesystem that loses what a real one may lose when the power goes
//! (`model.rs`: ext4-like journaled semantics, and Linux vfat's), cut at thousands of points,
//! restarted on what is left as the recorder starts, and checked (`ledger.rs`): every row
//! made durable before the cut is read exactly once, no row is read that was not written
//! whole, every day reads, the recorder resumes writing, and every row written more than
//! `--fsync-interval` before the cut was durable.
//!
//! - `schedule.rs`: seeded schedules of the store and the conversion, one call at a time
//!   (reproducible: a failing seed and cut is a test of its own, below).
//! - `recorder.rs`: the recorder's loop (`capture`) on simulated meter frames, with the
//!   archive job in its thread.
//! - `semantics.rs`: the model's own tests.
//! - `situations.rs`: where the seed tests cut — triggers over the operations through the
//!   seam (a rename into `records/`, a CSV file's removal made durable, a part of a day left,
//!   a move's rename), not operations' numbers, which any change of the store's layout moves.
//!
//! The suite runs a few thousand cuts in seconds; `long_run` (an opt-in of the harness, run
//! with `--ignored`; `benches/powercut.sh` runs it in release) runs many more and prints the
//! figures of RELIABILITY.md; `replay_one`, an opt-in too, is a tool.

#[path = "../common/mod.rs"]
mod common;
mod ledger;
mod model;
mod recorder;
mod schedule;
mod semantics;
mod situations;

use model::Semantics;
use schedule::{Plan, Report};

common::harness!(
    journaled_cuts,
    vfat_cuts,
    migration_cuts,
    recorder_loop_cuts,
    seed_6_a_full_disk_while_archiving_is_an_io_error,
    seed_2_vfat_stale_rows_of_an_archived_day_in_the_next_days_file,
    seed_1_vfat_an_empty_parquet_after_the_rename_the_csv_files_gone,
    seed_2_vfat_an_empty_parquet_beside_the_csv_files,
    seed_1_clock_set_back_the_part_left_is_fsynced,
    seed_13_vfat_a_day_archived_again_keeps_its_old_file_until_the_new_one_is_durable,
    seed_1_the_directory_a_renamed_archive_left_is_fsynced,
    seed_2_vfat_a_moved_day_file_empty_under_its_new_name,
    semantics::synced_data_survives_unsynced_data_may_go_in_part,
    semantics::a_name_is_durable_once_its_directory_is_synced,
    semantics::a_rename_is_atomic_when_journaled_and_not_on_vfat,
    semantics::a_removal_not_synced_may_be_undone,
    semantics::a_directory_not_durable_takes_its_files,
    semantics::a_full_disk_writes_what_fits_then_fails,
    semantics::a_file_written_behind_the_seam_is_named_and_in_no_cut;
    opt_in: long_run,
    replay_one,
);

/// A scratch directory: in memory (`/dev/shm`) where there is one, as the model keeps
/// durability itself and the real disk's inode allocation and fsyncs only cost time.
fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().expect("tempdir")
}

/// Runs `plan` for each seed, in a fresh scratch directory each, and sums the reports. A
/// failing seed's directory is kept (its path printed).
fn run_seeds(plan: Plan, seeds: impl IntoIterator<Item = u64>) -> Report {
    let mut total = Report::default();
    for seed in seeds {
        let work = scratch();
        let r = schedule::run(Plan { seed, ..plan }, work.path());
        if !r.failures.is_empty() {
            eprintln!("seed {seed}: kept {}", work.keep().display());
        }
        total.add(&r);
    }
    total
}

fn recorder_seeds(
    runs: impl IntoIterator<Item = (Semantics, u64)>,
    rate: f64,
    interval: Option<i64>,
) -> Report {
    let mut total = Report::default();
    for (sem, seed) in runs {
        let work = scratch();
        let r = recorder::run(sem, seed, rate, interval, work.path());
        if !r.failures.is_empty() {
            eprintln!("recorder seed {seed}: kept {}", work.keep().display());
        }
        total.add(&r);
    }
    total
}

fn assert_clean(what: &str, r: &Report) {
    eprintln!("{what}: {}", r.summary());
    assert!(
        r.failures.is_empty(),
        "{what}: {} failure(s):\n{}",
        r.failures.len(),
        r.failures.join("\n")
    );
}

fn plan(sem: Semantics) -> Plan {
    Plan {
        sem,
        seed: 0,
        rate: 0.08,
        at: &[],
        when: None,
        shows: None,
        days: 3,
        nested: true,
        old_layout: false,
    }
}

/// Asserts that a run tried what the model is for (a schedule that stopped crossing
/// midnight, or a model that stopped losing data, would pass its checks for nothing).
fn assert_covers(what: &str, r: &Report, sem: Semantics, schedule: bool) {
    let o = &r.outcome;
    let mut tried = vec![
        ("cuts", u64::from(r.cuts > 0)),
        ("midnights", r.midnights),
        ("days archived", r.archived),
        ("names kept", o.names_kept.into()),
        ("names undone", o.names_undone.into()),
        ("unsynced data lost", o.data_lost.into()),
        ("unsynced data kept", o.data_kept.into()),
        ("unsynced data kept in part", o.data_partial.into()),
        ("zero-filled or stale tails", o.data_garbage_tail.into()),
    ];
    if schedule {
        tried.extend([
            ("cuts during restarts", r.nested_cuts),
            ("compact runs", r.compacts),
            ("contract changes", r.contracts),
            ("clock jumps back", r.clock_back),
            ("disk-full episodes", r.full_disk),
        ]);
        if sem == Semantics::Vfat {
            tried.push((
                "vfat renames split or emptied",
                (o.renames_split + o.emptied).into(),
            ));
        }
    }
    let untried: Vec<&str> = tried
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(w, _)| *w)
        .collect();
    assert!(untried.is_empty(), "{what}: never tried: {untried:?}");
}

/// The suite's share, in seconds: two seeds a model, three days each, a cut before about one
/// operation in 30 (six times more while a day is archived).
fn quick(sem: Semantics) -> Plan {
    Plan {
        rate: 0.03,
        ..plan(sem)
    }
}

fn journaled_cuts() {
    let r = run_seeds(quick(Semantics::Journaled), 1..=2);
    assert_clean("journaled", &r);
    assert_covers("journaled", &r, Semantics::Journaled, true);
}

fn vfat_cuts() {
    let r = run_seeds(quick(Semantics::Vfat), 1..=2);
    assert_clean("vfat", &r);
    assert_covers("vfat", &r, Semantics::Vfat, true);
}

/// A directory of the layout before moved to the new one (`store::migrate`, as `record`
/// does first), cut while it moves (six times as densely) and while the schedule goes on:
/// one seed a model.
fn migration_cuts() {
    for (sem, seed) in [(Semantics::Journaled, 1), (Semantics::Vfat, 2)] {
        let r = run_seeds(
            Plan {
                old_layout: true,
                days: 2,
                ..quick(sem)
            },
            [seed],
        );
        assert_clean(&format!("migration, {}", sem.name()), &r);
        let untried: Vec<&str> = [
            ("files moved", r.migrated),
            ("cuts while moving", r.migration_cuts),
            ("days archived", r.archived),
        ]
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(w, _)| *w)
        .collect();
        assert!(untried.is_empty(), "migration: never tried: {untried:?}");
    }
}

fn recorder_loop_cuts() {
    let r = recorder_seeds(
        [(Semantics::Journaled, 1), (Semantics::Vfat, 2)],
        0.004,
        Some(300),
    );
    assert_clean("recorder", &r);
    assert_covers("recorder", &r, Semantics::Journaled, false);
}

/// Many more cuts, with the figures of RELIABILITY.md (`benches/powercut.sh`; seeds from
/// `POWERCUT_SEEDS`, default 40 per model; runs from `POWERCUT_RUNS`, default
/// `schedule,layout,recorder`).
fn long_run() {
    let seeds: u64 = std::env::var("POWERCUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    // Which runs (`POWERCUT_RUNS`, a comma-separated list; all by default).
    let runs = std::env::var("POWERCUT_RUNS").unwrap_or_else(|_| "schedule,layout,recorder".into());
    let wanted = |what: &str| runs.split(',').any(|r| r.trim() == what);
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for sem in [Semantics::Journaled, Semantics::Vfat] {
        let mut add = |what: String, t: std::time::Instant, r: Report| {
            failures.extend(r.failures.iter().cloned());
            rows.push((what, r, t.elapsed()));
        };
        if wanted("schedule") {
            let t = std::time::Instant::now();
            let plan = Plan {
                days: 5,
                rate: 0.05,
                ..plan(sem)
            };
            let r = run_seeds(plan, 1000..1000 + seeds);
            add(format!("schedule, {}", sem.name()), t, r);
        }
        if wanted("layout") {
            // From the layout before: two days after the move (the move itself is short).
            let t = std::time::Instant::now();
            let plan = Plan {
                days: 2,
                rate: 0.05,
                old_layout: true,
                ..plan(sem)
            };
            let r = run_seeds(plan, 3000..3000 + seeds / 4);
            add(format!("from the layout before, {}", sem.name()), t, r);
        }
        if wanted("recorder") {
            let t = std::time::Instant::now();
            let r = recorder_seeds((2000..2000 + seeds / 8).map(|s| (sem, s)), 0.02, None);
            add(format!("recorder loop, {}", sem.name()), t, r);
        }
    }
    println!("{}", schedule::table(&rows));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A seed's schedule with cuts before exactly these operations (a failing seed, replayed).
fn replay(sem: Semantics, seed: u64, at: &'static [u64]) -> Report {
    run_seeds(
        Plan {
            rate: 0.0,
            at,
            ..plan(sem)
        },
        [seed],
    )
}

// Seeds that found a fault, each cut where the situation it showed in arises: a trigger over
// the operations through the seam (`situations`), not an operation's number, which a change
// of the store's layout moves (the fixes' commits name the numbers they were found at).

/// The disk fills while a day is archived: the conversion's error is an I/O error (ENOSPC),
/// an outage, not "cannot write …: parquet: fail to get inner writer" (store: a full disk
/// under the Parquet writer is an I/O error).
fn seed_6_a_full_disk_while_archiving_is_an_io_error() {
    assert_clean("seed 6", &replay(Semantics::Journaled, 6, &[]));
}

/// A seed's schedule cut only where `when` says (each cut restarted and checked); asserts
/// the trigger fired, and, with `shows`, that a cut's state showed the situation (a test
/// that stopped reaching its situation fails, rather than passing for nothing).
fn situation(
    what: &str,
    sem: Semantics,
    seed: u64,
    when: fn() -> model::Trigger,
    shows: Option<fn(&std::path::Path) -> bool>,
) {
    situation_of(what, plan(sem), seed, when, shows);
}

/// [`situation`] from `base` (a directory of the layout before, say).
fn situation_of(
    what: &str,
    base: Plan,
    seed: u64,
    when: fn() -> model::Trigger,
    shows: Option<fn(&std::path::Path) -> bool>,
) {
    let r = run_seeds(
        Plan {
            rate: 0.0,
            when: Some(when),
            shows,
            // The cuts at the situation are the point, not cuts while restarting.
            nested: false,
            ..base
        },
        [seed],
    );
    eprintln!(
        "{what}: {} cut(s) triggered, {} showing the situation",
        r.triggered, r.shown
    );
    assert_clean(what, &r);
    assert!(
        r.triggered > 0,
        "{what}: the schedule never reached the situation (no cut triggered)"
    );
    assert!(
        shows.is_none() || r.shown > 0,
        "{what}: none of the {} cut(s) left the situation in the data directory",
        r.cuts
    );
}

/// vfat: past a day's CSV file's last fsync, its sectors show what their clusters held
/// before: the bytes of the day's files removed when the day before was archived, whole rows
/// of another day, read as damaged, never as rows of this one (store: a row of another day in
/// a day's CSV file is damaged, and never appended after; a2b9f09). Cut before the journal
/// CSV's fsyncs with rows pending that follow the removal of an archived day's CSV files,
/// four states each; asserts a cut showed whole rows of another day in a day's file (3 of
/// 44 cuts do).
///
/// Verified: with `CsvFile::of_day` checking nothing and `resume` trusting a last row of
/// another day (a2b9f09 undone in src/store), 3 cuts fail: "day 2026-10-24: a row of
/// 2026-10-23 read here".
fn seed_2_vfat_stale_rows_of_an_archived_day_in_the_next_days_file() {
    situation(
        "stale rows of another day",
        Semantics::Vfat,
        2,
        situations::fsyncs_after_csv_files_removed,
        Some(situations::rows_of_another_day),
    );
}

/// vfat: a conversion's Parquet file renamed into `records/`, the day's CSV files removed and
/// their directory fsynced, the renamed file's entry not yet given its clusters: an empty
/// Parquet file and no CSV file, the day lost (store: a file renamed into place is fsynced
/// again under its new name; a1d0f7d). Cut just after the CSV files' removal is durable, four
/// states each archive.
///
/// Verified: without the fsync of the renamed file in `compact::write_day` (a1d0f7d undone),
/// 7 of the 12 cuts fail: "day 2026-08-28 cannot be read: …/records/2026/08/2026-08-28.parquet:
/// not a readable archived day: 0 bytes".
fn seed_1_vfat_an_empty_parquet_after_the_rename_the_csv_files_gone() {
    situation(
        "an empty Parquet file after the rename",
        Semantics::Vfat,
        1,
        situations::after_csv_files_removed,
        None,
    );
}

/// vfat: a cut between the rename of a conversion's Parquet file into `records/` and that
/// file's fsync under its new name: an empty Parquet file beside the CSV files, which the
/// reader skips and the next conversion converts over (not refused as an unreadable archive;
/// a1d0f7d). Cut just after each rename, sixteen states each (one in eight leaves the new
/// entry empty); asserts a cut left an empty Parquet file beside its day's CSV files (3 of 48
/// do).
///
/// Verified: with `compact_day` no longer setting an empty Parquet file aside (a1d0f7d's
/// second part undone), 3 cuts fail: "archiving 2026-10-24 after the cut: …/2026-10-24.parquet
/// is not replaced, its rows may not all be in the CSV files".
fn seed_2_vfat_an_empty_parquet_beside_the_csv_files() {
    situation(
        "an empty Parquet file beside the CSV files",
        Semantics::Vfat,
        2,
        situations::after_parquet_renamed,
        Some(situations::empty_parquet_beside_csv),
    );
}

/// vfat: a day archived again (rows recorded for it after its archiving, the meter's clock
/// set back), cut between the rename of its new Parquet file over the old one and the new
/// file's fsync: the new entry holds no cluster yet and the old file is given up, so the rows
/// the old file alone held were lost (found by `benches/powercut.sh 40` in release, seed 1006,
/// a cut while restarting; store: the old file is copied aside, durable, until the new one
/// is, and put back at start if the day file is empty). Cut just after each rename over a
/// day file, sixteen states each (32 cuts); asserts a cut left the kept copy beside an empty
/// day file (2 do).
///
/// Verified: with the conversion no longer keeping the old file aside (`keep_aside` not
/// called), 2 cuts fail: "32 row(s) made durable are lost … e.g.
/// 2026-03-18T21:21:00+01:00" and "1 row(s) made durable are lost".
fn seed_13_vfat_a_day_archived_again_keeps_its_old_file_until_the_new_one_is_durable() {
    situation(
        "a day file replaced",
        Semantics::Vfat,
        13,
        situations::after_a_day_file_replaced,
        Some(situations::kept_beside_an_empty_day_file),
    );
}

/// The meter's clock set back: rows go to another part of the day, and the part left had
/// rows written since its last fsync, never made durable by the recorder (the
/// `--fsync-interval` promise broken; store: the part of a day left for another is fsynced
/// before its handle is dropped; 5435e77). Cut before the store opens a part it left again
/// (or the day's conversion starts), one state each, the first twelve; the promise is
/// checked at each cut.
///
/// Verified: with `open_day` fsyncing the file left only for another day (5435e77 undone),
/// 7 of the 12 cuts fail: "1 row(s) written more than 10s before the cut were not durable,
/// e.g. 2026-08-31T12:06:22+02:00…" (the row the fix's commit names).
fn seed_1_clock_set_back_the_part_left_is_fsynced() {
    situation(
        "the part of a day left",
        Semantics::Journaled,
        1,
        situations::before_a_part_left_is_opened_again,
        None,
    );
}

/// A conversion's Parquet file renamed from `.tic-rec-tmp/` into `records/`: the rename is
/// durable only once both directories are fsynced; the CSV files removed (and that durable)
/// with `.tic-rec-tmp/` unsynced, a cut may undo the rename: the day lost (store: the
/// directory a renamed archive left is fsynced too before the CSV files go; 407d0ce). Cut
/// just after the CSV files' removal is durable, four states each archive.
///
/// Verified: without `sync_dir(fs, temps)` in `compact::write_day` (407d0ce's fix undone),
/// 8 of the 12 cuts fail: "21 row(s) made durable are lost (1 day(s) lost whole)", up to
/// "456 row(s) … (3 day(s) lost whole)".
fn seed_1_the_directory_a_renamed_archive_left_is_fsynced() {
    situation(
        "the directory a renamed archive left",
        Semantics::Journaled,
        1,
        situations::after_csv_files_removed,
        None,
    );
}

/// vfat, moving a directory of the layout before: a day file moved by a rename, a cut
/// before the moved file's fsync: its new entry holds no cluster yet and the old entry is
/// deleted apart, so the day read 0 bytes (an unreadable Parquet file) or lost its rows
/// (store::migrate: a move is a copy written aside, fsynced and renamed in, before the old
/// file goes; an empty file under the new name is moved over; dcf4d13). Cut just after each
/// rename into `records/` or `journal/` while the directory is moved, sixteen states each;
/// asserts a cut left a moved day file empty under its new name (11 of 64 do).
///
/// Verified: with the move a rename again (`fs.rename(&path, &target)` and the target
/// directory fsynced instead of `copy_in` and the removal, dcf4d13 undone in src/store), 35
/// of the 64 cuts fail: "day 2026-10-20 cannot be read: …/records/2026/10/2026-10-20.parquet:
/// not a readable archived day: 0 bytes: truncated", or "144 row(s) made durable are lost (1
/// day(s) lost whole)"; with the copy kept but an empty file under the new name no longer
/// moved over (its second part undone), 7 cuts fail (the same 0 bytes, kept as a conflict).
/// The cuts before operations 8, 13, 20 and 30 it replaces failed too, three of the four only
/// in cuts while restarting.
fn seed_2_vfat_a_moved_day_file_empty_under_its_new_name() {
    situation_of(
        "a moved day file empty under its new name",
        Plan {
            old_layout: true,
            days: 2,
            ..plan(Semantics::Vfat)
        },
        2,
        situations::after_a_move_renamed_in,
        Some(situations::an_empty_moved_file),
    );
}

/// A tool: replays one seed and cut, printing every operation through the seam and every
/// row given (`POWERCUT_SEED=11 POWERCUT_CUT=256 POWERCUT_MODEL=vfat POWERCUT_TRACE=1 cargo
/// test --test powercut replay_one -- --ignored --nocapture`); the post-crash directory is
/// kept. `POWERCUT_OLD_LAYOUT=1 POWERCUT_DAYS=2` start it from a directory of the layout
/// before, as the move's seed test does.
fn replay_one() {
    let var = |k: &str| std::env::var(k).ok();
    let seed: u64 = var("POWERCUT_SEED")
        .and_then(|s| s.parse().ok())
        .expect("POWERCUT_SEED");
    let at: Vec<u64> = var("POWERCUT_CUT")
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    let sem = match var("POWERCUT_MODEL").as_deref() {
        Some("vfat") => Semantics::Vfat,
        _ => Semantics::Journaled,
    };
    // POWERCUT_OLD_LAYOUT=1: from a directory of the layout before (POWERCUT_DAYS days).
    let old_layout = var("POWERCUT_OLD_LAYOUT").is_some_and(|v| v == "1");
    let days = var("POWERCUT_DAYS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(plan(sem).days);
    let work = scratch();
    let r = schedule::run(
        Plan {
            seed,
            rate: 0.0,
            at: Box::leak(at.into_boxed_slice()),
            old_layout,
            days,
            ..plan(sem)
        },
        work.path(),
    );
    eprintln!("kept {}", work.keep().display());
    assert_clean("replay", &r);
}
