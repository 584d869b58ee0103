//! `tic-rec export` end to end: deltas against a model meter's exact indexes (both DST days,
//! HC/HP switching, Tempo colours, gaps), guards, bad input.

mod common;

use std::path::Path;

use common::{
    day_path, export_csv, int, local, model, set_cell, tic_rec, tic_rec_ok, time, Contract, Count,
};

#[test]
fn daily_hc_hp_match_the_model_across_the_march_dst_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let days: Vec<i64> = (27..=31)
        .map(|d| local(2026, 3, d, 0))
        .chain([local(2026, 4, 1, 0)])
        .collect();
    let m = model(Contract::HcHp, days[0], days[5], 10, vec![]);
    let idx = m.write(dir.path(), &days);
    let rows = export_csv(dir.path(), &["--from", "2026-03-27", "--to", "2026-03-31"]);
    assert_eq!(rows.len(), 5);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            (time(r, "period_start"), time(r, "period_end")),
            (days[i], days[i + 1])
        );
        let d = |k: usize| idx[i + 1][k] - idx[i][k];
        assert_eq!(int(r, "east_wh"), d(0), "{r:?}");
        assert_eq!(int(r, "easf01_wh"), d(1));
        assert_eq!(int(r, "hc_wh"), d(1));
        assert_eq!(int(r, "hp_wh"), d(2));
        assert_eq!(int(r, "total_wh"), d(0));
        assert!(int(r, "hc_wh") > 0 && int(r, "hp_wh") > 0);
        assert_eq!(r["flags"], "", "{r:?}");
        assert_eq!(int(r, "max_gap_s"), 10);
        assert_eq!(r["coverage"], "1.0000");
    }
    assert_eq!(days[3] - days[2], 23 * 3600, "29 March lasts 23 h");
    assert_eq!(int(&rows[2], "records"), 23 * 360);
    // Months add up to the days; the plain scan gives the same.
    let month = export_csv(
        dir.path(),
        &[
            "--month",
            "--from",
            "2026-03-27",
            "--to",
            "2026-03-31",
            "--no-index",
        ],
    );
    assert_eq!(month.len(), 1);
    assert_eq!(int(&month[0], "hc_wh"), idx[5][1] - idx[0][1]);
    let records: i64 = rows.iter().map(|r| int(r, "records")).sum();
    assert_eq!(int(&month[0], "records"), records);
}

#[test]
fn hourly_rows_on_the_october_dst_day_and_the_scan_agrees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (local(2026, 10, 24, 0), local(2026, 10, 27, 0));
    let hours: Vec<i64> = (0..=25)
        .map(|h| local(2026, 10, 25, 0) + 3600 * h)
        .collect();
    let idx = model(Contract::HcHp, a, b, 7, vec![]).write(dir.path(), &hours);
    let args = ["--hour", "--from", "2026-10-25", "--to", "2026-10-25"];
    let rows = export_csv(dir.path(), &args);
    assert_eq!(rows.len(), 25, "the October DST day has 25 hours");
    for (i, r) in rows.iter().enumerate() {
        // Records every 7 s rarely fall on the hour: the boundary index is interpolated, and
        // the model's index is within the rounding of the interpolation.
        let d = idx[i + 1][1] - idx[i][1];
        assert!(
            (int(r, "hc_wh") - d).abs() <= 1,
            "{i}: {} vs {d}",
            int(r, "hc_wh")
        );
    }
    let total: i64 = rows.iter().map(|r| int(r, "east_wh")).sum();
    assert!((total - (idx[25][0] - idx[0][0])).abs() <= 1);
    for p in ["--hour", "--day", "--week", "--month", "--year"] {
        same_as_scan(dir.path(), &[p]);
    }
}

#[test]
fn tempo_colours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let days: Vec<i64> = (1..=4).map(|d| local(2026, 1, d, 0)).collect();
    let idx = model(Contract::Tempo, days[0], days[3], 5, vec![]).write(dir.path(), &days);
    let rows = export_csv(dir.path(), &["--from", "2026-01-01", "--to", "2026-01-03"]);
    assert_eq!(rows.len(), 3);
    let cols = [
        "blue_hc_wh",
        "blue_hp_wh",
        "white_hc_wh",
        "white_hp_wh",
        "red_hc_wh",
        "red_hp_wh",
    ];
    for (i, r) in rows.iter().enumerate() {
        for (k, c) in cols.iter().enumerate() {
            assert_eq!(int(r, c), idx[i + 1][k + 1] - idx[i][k + 1], "{c} {r:?}");
        }
        let hc = (0..3)
            .map(|c| idx[i + 1][2 * c + 1] - idx[i][2 * c + 1])
            .sum::<i64>();
        assert_eq!(int(r, "hc_wh"), hc);
        assert_eq!(
            int(r, "hc_wh") + int(r, "hp_wh"),
            int(r, "total_wh") - (int(r, "total_wh") - int(r, "hc_wh") - int(r, "hp_wh"))
        );
    }
    // Every day has two colours (the Tempo day starts at 06:00).
    assert!(rows
        .iter()
        .all(|r| cols.iter().filter(|c| int(r, c) > 0).count() >= 2));
}

#[test]
fn gaps_are_interpolated_and_lower_coverage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (d0, d1, d2) = (
        local(2026, 6, 1, 0),
        local(2026, 6, 2, 0),
        local(2026, 6, 3, 0),
    );
    let (ga, gb) = (d1 - 3600, d1 + 5400); // 23:00 → 01:30 across midnight
    let (ta, tb) = (ga - 10, gb); // the records around the gap
    let m = model(
        Contract::HcHp,
        d0,
        d2,
        10,
        vec![(ga - 9, gb), (d0 + 43_200, d0 + 43_200 + 1200)],
    );
    let idx = m.write(dir.path(), &[d0, ta, tb, d2]);
    let rows = export_csv(dir.path(), &[]);
    assert_eq!(rows.len(), 3, "2026-06-03 has its first record");
    let interp = |k: usize| {
        let d = idx[2][k] - idx[1][k];
        idx[1][k] + (2 * d * (d1 - ta) + (tb - ta)) / (2 * (tb - ta))
    };
    assert_eq!(int(&rows[0], "hc_wh"), interp(1) - idx[0][1]);
    assert_eq!(int(&rows[1], "hc_wh"), idx[3][1] - interp(1));
    assert_eq!(int(&rows[0], "max_gap_s"), 3610);
    assert_eq!(int(&rows[1], "max_gap_s"), 5400);
    let cov: f64 = rows[0]["coverage"].parse().expect("coverage");
    assert!(
        (cov - (86_400.0 - 3610.0 - 1210.0) / 86_400.0).abs() < 1e-3,
        "{cov}"
    );
    assert_eq!(rows[2]["flags"], "partial");
    // Records more than 16 min apart: a gap, named (one notion of complete).
    assert_eq!(rows[0]["flags"], "gap");
    assert_eq!(rows[1]["flags"], "gap");
}

#[test]
fn a_day_recorded_without_a_gap_carries_no_flag_at_any_cadence() {
    // One notion of complete: a day recorded every 1 s, 1 min, 5 min or 15 min, its last
    // record at 23:59:59, 23:59, 23:55 or 23:45, has coverage 1 and no flag, in export and
    // cost alike.
    for step in [1, 60, 300, 900] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (d0, d1) = (local(2026, 6, 1, 0), local(2026, 6, 2, 0));
        model(Contract::HcHp, d0, d1 - step, step, vec![]).write(dir.path(), &[]);
        let rows = export_csv(dir.path(), &[]);
        assert_eq!(rows.len(), 1, "{step}");
        assert_eq!(rows[0]["flags"], "", "every {step} s: {rows:?}");
        assert_eq!(rows[0]["coverage"], "1.0000", "every {step} s: {rows:?}");
        let (cost, _) =
            common::command_csv("cost", dir.path(), &["--contract", "hchp", "--kva", "6"]);
        assert!(
            !cost[0]["flags"].contains("partial") && !cost[0]["flags"].contains("gap"),
            "every {step} s: {cost:?}"
        );
    }
}

#[test]
fn historique_hchc_hchp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let days: Vec<i64> = (1..=3).map(|d| local(2026, 2, d, 0)).collect();
    let idx = model(Contract::Historique, days[0], days[2], 2, vec![]).write(dir.path(), &days);
    let rows = export_csv(dir.path(), &["--to", "2026-02-02"]);
    assert_eq!(rows.len(), 2);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(int(r, "hchc_wh"), idx[i + 1][1] - idx[i][1]);
        assert_eq!(int(r, "hc_wh"), idx[i + 1][1] - idx[i][1]);
        assert_eq!(int(r, "hp_wh"), idx[i + 1][2] - idx[i][2]);
        assert_eq!(int(r, "total_wh"), int(r, "hc_wh") + int(r, "hp_wh"));
        assert!(!r.contains_key("east_wh"));
    }
}

const HEADER: &str = "time,time_source,ADSC,LTARF,NTARF,EAST,EASF01,EASF02,PREF,PCOUP\n";

fn row(t: &str, adsc: &str, east: i64, f1: i64, f2: i64) -> String {
    format!("2026-05-01T{t}+02:00,meter,{adsc},HEURE PLEINE,2,{east},{f1},{f2},6,6\n")
}

#[test]
fn corrupted_indexes_and_a_meter_change_give_no_negative_or_phantom_consumption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = "041876097171";
    let b = "041876099999";
    let mut text = String::from(HEADER);
    text += &row("00:00:00", a, 1000, 500, 500);
    text += &row("01:00:00", a, 2000, 500, 1500);
    text += &row("02:00:00", a, 0, 0, 0); // zeroed
    text += &row("03:00:00", a, 3000, 500, 2500);
    text += &row("04:00:00", a, 999_999_999, 500, 999_999_999); // implausible
    text += &row("05:00:00", a, 4000, 500, 3500);
    text += &row("06:00:00", a, 3990, 500, 3490); // decreasing glitch
    text += &row("07:00:00", a, 5000, 500, 4500);
    text += &row("08:00:00", b, 10, 0, 10); // new meter
    text += &row("09:00:00", b, 1010, 0, 1010);
    text += "2026-05-01T10:00:00+02:00,meter,04187"; // torn last line
    let path = tic_rec::store::day_file(
        dir.path(),
        chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
        0,
    );
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
    let rows = export_csv(dir.path(), &["--hour"]);
    assert_eq!(rows.len(), 24);
    for r in &rows {
        for c in ["east_wh", "easf02_wh", "hp_wh", "total_wh"] {
            assert!(int(r, c) >= 0, "{c} {r:?}");
        }
    }
    let total: i64 = rows.iter().map(|r| int(r, "east_wh")).sum();
    assert_eq!(
        total,
        4000 + 1000,
        "meter A: 1000 → 5000, meter B: 10 → 1010"
    );
    let flags: Vec<&str> = rows.iter().map(|r| r["flags"].as_str()).collect();
    // The range starts at local midnight: row i is local hour i. Records an hour apart
    // leave gaps, named.
    assert_eq!(flags[2], "gap|index_reset", "{flags:?}");
    assert_eq!(flags[4], "gap|implausible_jump", "{flags:?}");
    assert_eq!(flags[6], "gap|index_reset", "{flags:?}");
    assert_eq!(flags[8], "gap|meter_changed", "{flags:?}");
    assert!(flags[9..].iter().all(|f| *f == "partial"), "{flags:?}");
    assert_eq!(
        int(&rows[7], "east_wh"),
        0,
        "the step across the change is left out"
    );
    assert_eq!(int(&rows[8], "east_wh"), 1000);
    // The zero at 02:00 is ignored: 2000 at 01:00 → 3000 at 03:00 is shared by two hours.
    assert_eq!(
        (int(&rows[1], "east_wh"), int(&rows[2], "east_wh")),
        (500, 500)
    );
    for p in ["--hour", "--day", "--month"] {
        same_as_scan(dir.path(), &[p]);
    }
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.parquet");
    let outs = out.to_str().expect("utf-8");
    let d = dir.path().to_str().expect("utf-8");
    let fail = |args: &[&str], want: &str| {
        let o = tic_rec(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote -o");
    };
    fail(&["export", "--data-dir", d, "-o", outs], "no daily files");
    fail(
        &["export", "--data-dir", "/nonexistent/x", "-o", outs],
        "cannot read data directory",
    );
    fail(
        &[
            "export",
            "--data-dir",
            d,
            "--from",
            "2026-02-02",
            "--to",
            "2026-02-01",
            "-o",
            outs,
        ],
        "is after --to",
    );
    fail(&["export", "--data-dir", d, "--fortnight"], "--fortnight");
    fail(
        &["export", "--data-dir", d, "--day", "--month"],
        "cannot be used with",
    );
    fail(
        &["export", "--data-dir", d, "--from", "2026-02-30"],
        "expected a date",
    );
    fail(
        &["export", "--data-dir", d, "--format", "parquet"],
        "needs -o",
    );
    let mut text = String::from(HEADER);
    text += &row("00:00:00", "1", 1000, 500, 500);
    text += "2026-05-01T00:00:10+02:00,meter,1,HP,2,1001\n";
    let path = tic_rec::store::day_file(
        dir.path(),
        chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
        0,
    );
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
    // A damaged row (here: too few cells) is no longer an error (issue 9): it is skipped, its
    // period flagged `damaged_rows`, and the file and line told once on stderr.
    for extra in [&[][..], &["--records"][..]] {
        let o = tic_rec(&[&["export", "--data-dir", d, "--format", "csv"][..], extra].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{extra:?}: {err}");
        assert_eq!(
            err.matches("2026-05-01.csv\": skipped 1 damaged row (first at line 3 (byte")
                .count(),
            1,
            "{extra:?}: {err}"
        );
        let out = String::from_utf8_lossy(&o.stdout);
        if extra.is_empty() {
            assert!(out.contains("damaged_rows"), "{out}");
        } else {
            assert_eq!(out.lines().count(), 2, "header and the good row: {out}");
        }
    }
}

#[test]
fn records_exports_the_rows_with_the_union_of_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
    let p0 = tic_rec::store::day_file(dir.path(), day, 0);
    std::fs::create_dir_all(p0.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p0, "time,time_source,EAST\n2026-05-01T00:00:00+02:00,meter,10\n2026-05-01T00:00:20+02:00,meter,12\n").expect("write");
    std::fs::write(
        tic_rec::store::day_file(dir.path(), day, 1),
        "time,time_source,EAST,SINSTS\n2026-05-01T00:00:10+02:00,meter,11,500\n",
    )
    .expect("write");
    std::fs::write(p0.with_extension("tic"), "raw bytes, ignored").expect("write");
    let rows = export_csv(dir.path(), &["--records"]);
    let east: Vec<i64> = rows.iter().map(|r| int(r, "EAST")).collect();
    assert_eq!(east, vec![10, 11, 12], "merged by time");
    assert_eq!(rows[1]["SINSTS"], "500");
    assert_eq!(rows[0]["SINSTS"], "");
    // Two files of a day, no power column: the index agrees with the scan.
    for p in ["--hour", "--day"] {
        same_as_scan(dir.path(), &[p]);
    }
}

// ---- The summary index (default mode) against the plain scan (`--no-index`). ----

const INDEX_DIR: &str = ".tic-rec-index";

/// `tic-rec export --format csv <args>`'s standard output, and its standard error.
fn run_export(dir: &Path, args: &[&str]) -> (String, String) {
    let mut all = vec![
        "export",
        "--data-dir",
        dir.to_str().expect("utf-8"),
        "--format",
        "csv",
    ];
    all.extend_from_slice(args);
    tic_rec_ok(&all)
}

/// The default export, without an index (it builds it) and then with it, equals `--no-index`
/// byte for byte (every column).
fn same_as_scan(dir: &Path, args: &[&str]) {
    let _ = std::fs::remove_dir_all(dir.join(INDEX_DIR));
    let scan = run_export(dir, &[args, &["--no-index"]].concat()).0;
    assert!(!dir.join(INDEX_DIR).exists(), "--no-index writes no index");
    let cold = run_export(dir, args).0;
    assert!(
        dir.join(INDEX_DIR).is_dir(),
        "the first run builds the index"
    );
    let warm = run_export(dir, args).0;
    assert_eq!(cold, scan, "{args:?} without an index");
    assert_eq!(warm, scan, "{args:?} with the index");
}

fn lib_export(
    dir: &Path,
    period: tic_rec::export::Period,
    mode: tic_rec::export::ReadMode,
) -> (Vec<tic_rec::export::Row>, Count) {
    let options = tic_rec::export::Options {
        period,
        from: None,
        to: None,
        mode,
    };
    let mut count = Count::default();
    let table = tic_rec::export::export(dir, &options, &mut count).expect("export");
    (table.rows, count)
}

/// Six October days around the DST change, one record every 7 s, with gaps inside an hour
/// (covered and not), across an hour and across midnight; a zeroed and an implausible value
/// on the 26th; a new meter from the 28th.
fn october(dir: &Path) {
    let (a, b) = (local(2026, 10, 23, 0), local(2026, 10, 29, 0) - 1);
    let gaps = vec![
        (local(2026, 10, 23, 10) + 100, local(2026, 10, 23, 10) + 250),
        (local(2026, 10, 23, 12) + 100, local(2026, 10, 23, 12) + 900),
        (
            local(2026, 10, 24, 14) + 3000,
            local(2026, 10, 24, 15) + 700,
        ),
        (local(2026, 10, 24, 23) + 1800, local(2026, 10, 25, 1) + 200),
        (local(2026, 10, 25, 2) + 100, local(2026, 10, 25, 2) + 4000),
    ];
    model(Contract::HcHp, a, b, 7, gaps).write(dir, &[]);
    let p26 = day_path(dir, 2026, 10, 26, 0);
    set_cell(&p26, 1000, 5, "0"); // EAST zeroed
    set_cell(&p26, 5000, 6, "999999999"); // EASF01 jumps
    let p28 = day_path(dir, 2026, 10, 28, 0);
    let text = std::fs::read_to_string(&p28).expect("read");
    std::fs::write(&p28, text.replace("041876097171", "041876099999")).expect("write");
}

#[test]
fn the_index_gives_exactly_the_scan_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    october(dir.path());
    for p in ["--hour", "--day", "--week", "--month", "--year"] {
        same_as_scan(dir.path(), &[p]);
    }
    for range in [["--from", "2026-10-25"], ["--to", "2026-10-26"]] {
        same_as_scan(dir.path(), &["--hour", range[0], range[1]]);
        same_as_scan(dir.path(), &["--day", range[0], range[1]]);
    }
    let rows = export_csv(dir.path(), &["--day"]);
    let flags: Vec<&str> = rows.iter().map(|r| r["flags"].as_str()).collect();
    assert_eq!(
        flags,
        [
            "",
            "gap",
            "gap",
            "index_reset|implausible_jump",
            "meter_changed",
            "meter_changed"
        ],
        "the guard cases and the gaps over 16 min are there (records every 7 s start and end \
         within seconds of the midnights: whole days; the step left out at the meter change \
         spans the 27th's last seconds too)"
    );
    // The 23rd's holes of 150 s and 800 s are within the cadences a recorder keeps: covered.
    assert_eq!(rows[0]["coverage"], "1.0000");
    assert!(rows[1]["coverage"] != "1.0000" && rows[2]["coverage"] != "1.0000");
    // The days with a guard event are read in full, every other one from the index.
    let (scan, _) = lib_export(
        dir.path(),
        tic_rec::export::Period::Hour,
        tic_rec::export::ReadMode::Scan,
    );
    let (idx, count) = lib_export(
        dir.path(),
        tic_rec::export::Period::Hour,
        tic_rec::export::ReadMode::Index,
    );
    assert_eq!(idx, scan);
    assert_eq!(
        (count.index, count.built, count.full),
        (4, 0, 2),
        "{count:?}"
    );
}

#[test]
fn the_index_agrees_on_tempo_and_historique() {
    for (contract, step, month) in [(Contract::Tempo, 5, 1), (Contract::Historique, 2, 3)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (local(2026, month, 27, 0), local(2026, month, 30, 12));
        model(contract, a, b, step, vec![(a + 5000, a + 9000)]).write(dir.path(), &[]);
        for p in ["--hour", "--day", "--week", "--month", "--year"] {
            same_as_scan(dir.path(), &[p]);
        }
    }
}

#[test]
fn a_second_run_uses_the_index() {
    use tic_rec::export::{Period, ReadMode};
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (local(2026, 4, 1, 0), local(2026, 4, 4, 0) - 1);
    model(Contract::HcHp, a, b, 10, vec![]).write(dir.path(), &[]);
    let (scan, _) = lib_export(dir.path(), Period::Day, ReadMode::Scan);
    let (cold, c1) = lib_export(dir.path(), Period::Day, ReadMode::Index);
    let (warm, c2) = lib_export(dir.path(), Period::Day, ReadMode::Index);
    assert_eq!((c1.index, c1.built, c1.full), (0, 3, 0), "{c1:?}");
    assert_eq!((c2.index, c2.built, c2.full), (3, 0, 0), "{c2:?}");
    assert_eq!(cold, scan);
    assert_eq!(warm, scan);
    // A file rewritten with the same length and given back its modification time: its
    // status-change time still tells (Unix), and only its day is read again.
    let p = day_path(dir.path(), 2026, 4, 2, 0);
    let mtime = std::fs::metadata(&p)
        .and_then(|m| m.modified())
        .expect("mtime");
    let len = std::fs::metadata(&p).expect("meta").len();
    std::thread::sleep(std::time::Duration::from_millis(20));
    set_cell(&p, 100, 5, "garbage!"); // not a number: a missing value
    let f = std::fs::File::options().write(true).open(&p).expect("open");
    f.set_modified(mtime).expect("set mtime");
    drop(f);
    assert_eq!(std::fs::metadata(&p).expect("meta").len(), len);
    let (scan, _) = lib_export(dir.path(), Period::Day, ReadMode::Scan);
    let (again, c3) = lib_export(dir.path(), Period::Day, ReadMode::Index);
    assert_eq!((c3.index, c3.built), (2, 1), "{c3:?}");
    assert_eq!(again, scan);
}

#[test]
fn a_stale_index_is_rebuilt() {
    use tic_rec::export::{Period, ReadMode};
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (local(2026, 4, 1, 0), local(2026, 4, 3, 12));
    model(Contract::HcHp, a, b, 10, vec![]).write(dir.path(), &[]);
    let p = day_path(dir.path(), 2026, 4, 3, 0);
    let full = std::fs::read_to_string(&p).expect("read");
    let cut = full[..full.len() / 2].rfind('\n').expect("line") + 1;
    std::fs::write(&p, &full[..cut]).expect("write");
    let (_, c) = lib_export(dir.path(), Period::Hour, ReadMode::Index);
    assert_eq!(c.built, 3);
    // Appended after indexing (the day being recorded).
    std::fs::write(&p, &full).expect("write");
    let (scan, _) = lib_export(dir.path(), Period::Hour, ReadMode::Scan);
    let (idx, c) = lib_export(dir.path(), Period::Hour, ReadMode::Index);
    assert_eq!((c.index, c.built), (2, 1), "{c:?}");
    assert_eq!(idx, scan);
    // Rewritten with the same length and another modification time.
    let before = idx;
    let len = std::fs::metadata(&p).expect("meta").len();
    let text = full.replacen(",HEURE PLEINE,2,", ",HEURE PLEINE,3,", 1);
    std::fs::write(&p, text.replace("5000", "5001")).expect("write");
    assert_eq!(std::fs::metadata(&p).expect("meta").len(), len);
    let f = std::fs::File::options().write(true).open(&p).expect("open");
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
        .expect("set mtime");
    drop(f);
    let (scan, _) = lib_export(dir.path(), Period::Hour, ReadMode::Scan);
    let (idx, c) = lib_export(dir.path(), Period::Hour, ReadMode::Index);
    assert_eq!((c.index, c.built), (2, 1), "{c:?}");
    assert_eq!(idx, scan);
    assert_ne!(idx, before, "the rewrite changed the result");
}

#[test]
fn a_corrupt_index_is_ignored_and_rebuilt() {
    use tic_rec::export::{Period, ReadMode};
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (local(2026, 4, 1, 0), local(2026, 4, 5, 0) - 1);
    model(Contract::HcHp, a, b, 10, vec![(a + 7000, a + 7500)]).write(dir.path(), &[]);
    let (scan, _) = lib_export(dir.path(), Period::Hour, ReadMode::Scan);
    lib_export(dir.path(), Period::Hour, ReadMode::Index);
    let idx = |d: u32| {
        dir.path()
            .join(INDEX_DIR)
            .join(format!("2026/04/2026-04-{d:02}.csv.idx"))
    };
    let good = std::fs::read_to_string(idx(2)).expect("index");
    std::fs::write(idx(1), "garbage\n\0\u{1}").expect("write");
    std::fs::write(idx(2), &good[..good.len() / 2]).expect("write");
    // A changed number with the checksum left as it was.
    let pos = good.find("\nhour ").expect("hour line") + 6;
    let mut bad = good.clone().into_bytes();
    bad[pos] = if bad[pos] == b'9' { b'8' } else { b'9' };
    std::fs::write(idx(3), bad).expect("write");
    // Another version.
    let other = std::fs::read_to_string(idx(4)).expect("index").replacen(
        &format!("tic-rec-index {}", tic_rec::export::SUMMARY_VERSION),
        "tic-rec-index 0",
        1,
    );
    std::fs::write(idx(4), other).expect("write");
    let (rows, c) = lib_export(dir.path(), Period::Hour, ReadMode::Index);
    assert_eq!((c.index, c.built), (0, 4), "{c:?}");
    assert_eq!(rows, scan);
    let (rows, c) = lib_export(dir.path(), Period::Hour, ReadMode::Index);
    assert_eq!((c.index, c.built), (4, 0), "rebuilt: {c:?}");
    assert_eq!(rows, scan);
}

#[test]
fn an_unwritable_index_is_skipped_with_one_note() {
    use tic_rec::export::{Period, ReadMode};
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (local(2026, 4, 1, 0), local(2026, 4, 4, 0) - 1);
    model(Contract::HcHp, a, b, 10, vec![]).write(dir.path(), &[]);
    // A file where the index directory should be (works even as root, unlike permissions).
    std::fs::write(dir.path().join(INDEX_DIR), "not a directory").expect("write");
    let (scan, _) = lib_export(dir.path(), Period::Day, ReadMode::Scan);
    for _ in 0..2 {
        let (rows, c) = lib_export(dir.path(), Period::Day, ReadMode::Index);
        assert_eq!(rows, scan);
        assert_eq!(c.built, 3);
        assert_eq!(c.notes.len(), 1, "{c:?}");
    }
    let (out, err) = run_export(dir.path(), &["--day"]);
    assert_eq!(out, run_export(dir.path(), &["--day", "--no-index"]).0);
    assert_eq!(
        err.matches("note: cannot write the export index").count(),
        1,
        "{err}"
    );
}

/// Files a crash or a hand can leave behind: an empty file and one cut inside its header
/// are days without rows; a torn 1 MiB tail is ignored without holding it in memory; a
/// line too long before the end, or a column twice, is an error naming the file; a file
/// outside its own YYYY/MM directory is ignored.
#[test]
fn odd_files_in_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let write = |rel: &str, text: &[u8]| {
        let p = d.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let good = "time,time_source,EAST,PREF\n2026-01-01T00:00:00+01:00,meter,1000,6\n2026-01-01T23:00:00+01:00,meter,1500,6\n";
    write("2026/01/2026-01-01.csv", good.as_bytes());
    write("2026/01/2026-01-02.csv", b"");
    write("2026/01/2026-01-03.csv", b"time,time_so");
    let mut torn = b"time,time_source,EAST,PREF\n2026-01-04T01:00:00+01:00,meter,1600,6\n".to_vec();
    torn.extend(std::iter::repeat_n(b'a', 1 << 20));
    write("2026/01/2026-01-04.csv", &torn);
    write("2026/02/2026-01-05.csv", good.as_bytes());
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "--data-dir",
            d.to_str().unwrap(),
            "--format",
            "csv",
        ];
        args.extend_from_slice(extra);
        tic_rec(&args)
    };
    let out = export(&["--records"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 4, "header + 3 rows: {text}");
    let out = export(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut long = b"time,time_source,EAST,PREF\n".to_vec();
    long.extend(std::iter::repeat_n(b'7', 70_000));
    long.extend(b"\n2026-01-06T01:00:00+01:00,meter,1600,6\n");
    write("2026/01/2026-01-06.csv", &long);
    let out = export(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("2026-01-06.csv") && err.contains("64 KiB"),
        "{err}"
    );
    std::fs::remove_file(d.join("2026/01/2026-01-06.csv")).unwrap();

    write(
        "2026/01/2026-01-07.csv",
        b"time,time_source,EAST,EAST\n2026-01-07T01:00:00+01:00,meter,1,2\n",
    );
    let out = export(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("2026-01-07.csv") && err.contains("twice"),
        "{err}"
    );
}

// ---- Guards against garbled values, whichever way a period is asked. ----

/// Writes the daily file of `day` (`YYYY-MM-DD`, in January: UTC+1) with `EAST` rows
/// `(HH:MM:SS, value)` and a 6 kVA `PREF` (`pref` when given).
fn write_east_day(dir: &Path, day: &str, rows: &[(&str, i64)], pref: &str) {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("date");
    let mut text = String::from("time,time_source,EAST,PREF\n");
    for (t, v) in rows {
        text += &format!("{day}T{t}+01:00,meter,{v},{pref}\n");
    }
    let path = tic_rec::store::day_file(dir, date, 0);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
}

/// The `east_wh` and `flags` of the row of `day` in a daily export with `args`, both with the
/// index (built, then used) and `--no-index`, which must agree.
fn day_east(dir: &Path, day: &str, args: &[&str]) -> (i64, String) {
    same_as_scan(dir, args);
    let rows = export_csv(dir, args);
    let r = rows
        .iter()
        .find(|r| r["period_start"].starts_with(day))
        .unwrap_or_else(|| panic!("no row for {day} in {rows:?}"));
    (int(r, "east_wh"), r["flags"].clone())
}

#[test]
fn a_glitch_just_before_from_does_not_change_the_day() {
    for glitch in [0, 5000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write_east_day(
            d,
            "2026-01-01",
            &[("23:00:00", 1000), ("23:59:00", 1060), ("23:59:30", glitch)],
            "6",
        );
        write_east_day(
            d,
            "2026-01-02",
            &[("00:01:00", 1062), ("01:00:00", 1120)],
            "6",
        );
        let whole = day_east(d, "2026-01-02", &[]);
        let from = day_east(d, "2026-01-02", &["--from", "2026-01-02"]);
        let both = day_east(
            d,
            "2026-01-02",
            &["--from", "2026-01-02", "--to", "2026-01-02"],
        );
        assert_eq!(whole.0, 59, "glitch {glitch}: {whole:?}");
        assert_eq!(from, whole, "glitch {glitch}: --from changes the day");
        assert_eq!(both, whole, "glitch {glitch}: --from/--to change the day");
        let to = day_east(d, "2026-01-01", &["--to", "2026-01-01"]);
        assert_eq!(to, day_east(d, "2026-01-01", &[]), "glitch {glitch}: --to");
        assert_eq!(to.0, 61, "1060 at 23:59 → 1062 at 00:01");
    }
}

#[test]
fn a_glitch_on_the_first_record_is_not_the_starting_value() {
    for glitch in [0, 5000, 999_999] {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write_east_day(
            d,
            "2026-01-03",
            &[
                ("00:00:00", glitch),
                ("03:00:00", 1000),
                ("03:00:10", 1001),
                ("04:00:00", 1050),
            ],
            "6",
        );
        let (wh, flags) = day_east(d, "2026-01-03", &[]);
        assert_eq!(wh, 50, "glitch {glitch}: {flags}");
        assert!(!flags.is_empty(), "glitch {glitch}: the glitch is flagged");
    }
}

#[test]
fn a_high_glitch_after_a_gap_is_left_out_and_its_hours_flagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_east_day(
        d,
        "2026-01-05",
        &[
            ("00:00:00", 1000),
            ("00:00:01", 1001),
            ("02:00:00", 17000),
            ("02:00:01", 1002),
            ("02:00:02", 1003),
            ("02:00:03", 1004),
        ],
        "6",
    );
    let (wh, flags) = day_east(d, "2026-01-05", &[]);
    assert_eq!(wh, 4, "{flags}");
    assert!(flags.contains("implausible_jump"), "{flags}");
    same_as_scan(d, &["--hour"]);
    let rows = export_csv(d, &["--hour", "--from", "2026-01-05", "--to", "2026-01-05"]);
    let total: i64 = rows.iter().map(|r| int(r, "east_wh")).sum();
    assert_eq!(total, 4);
    for r in &rows[..3] {
        assert!(int(r, "east_wh") <= 2, "{r:?}");
        assert!(r["flags"].contains("implausible_jump"), "{r:?}");
    }
    assert!(rows[3..]
        .iter()
        .all(|r| !r["flags"].contains("implausible")));
}

#[test]
fn an_out_of_order_row_is_skipped_and_flagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_east_day(
        d,
        "2026-01-07",
        &[
            ("00:00:00", 1000),
            ("01:00:00", 1100),
            ("02:00:00", 1200),
            ("23:59:59", 1250),
            ("03:00:00", 1300),
            ("04:00:00", 1400),
            ("05:00:00", 1500),
            ("06:00:00", 1600),
        ],
        "6",
    );
    let (wh, flags) = day_east(d, "2026-01-07", &[]);
    assert_eq!(wh, 600, "{flags}");
    assert!(flags.contains("out_of_order"), "{flags}");
    let rows = export_csv(d, &[]);
    assert_eq!(int(&rows[0], "records"), 7);
    same_as_scan(d, &["--hour"]);
}

#[test]
fn a_huge_subscribed_power_does_not_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let huge = "999999999999999999";
    write_east_day(
        d,
        "2026-01-09",
        &[("00:00:00", 1000), ("01:00:00", 1100)],
        huge,
    );
    assert_eq!(day_east(d, "2026-01-09", &[]).0, 100);
}
