//! The periods dataset: hour rows computed a day or a few at a time, as the recorder's
//! archive job computes them when days close, sum to what `tic-rec export` gives for any
//! day, month or year, to the Wh and in every quality column, DST days and glitches at
//! midnight included.

mod common;

use std::path::Path;

use chrono::NaiveDate;
use common::{local, Contract, Model};
use tic_rec::export::dataset::{self, aggregate};
use tic_rec::export::refresh;
use tic_rec::export::{self, boundaries, Catalog, Options, Period, Quiet, ReadMode as Mode, Row};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// Rewrites, in the CSV file of `d`, cell `col` of the first row at or after local `h:m`.
fn glitch(dir: &Path, d: NaiveDate, after: i64, col: usize, value: &str) {
    let path = tic_rec::store::day_file(dir, d, 0);
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let i = lines
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, l)| {
            let t = chrono::DateTime::parse_from_rfc3339(l.split(',').next().expect("time"))
                .expect("rfc3339");
            t.timestamp() >= after
        })
        .map(|(i, _)| i)
        .expect("a row after");
    let mut cells: Vec<&str> = lines[i].split(',').collect();
    cells[col] = value;
    lines[i] = cells.join(",");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
}

/// The hour rows of `[from, to]` computed in runs of `chunk` days (as days close), in order.
fn hours_in_runs(store: &Catalog, from: NaiveDate, to: NaiveDate, chunk: u64) -> Vec<Row> {
    let mut out = Vec::new();
    let mut a = from;
    while a <= to {
        let b = (a + chrono::Days::new(chunk - 1)).min(to);
        let run = refresh::compute(store, a, b).expect("compute");
        out.extend(run.table.rows);
        a = b + chrono::Days::new(1);
    }
    out
}

fn export_rows(store: &Catalog, period: Period, from: NaiveDate, to: NaiveDate) -> export::Table {
    let options = Options {
        period,
        from: Some(from),
        to: Some(to),
        mode: Mode::Scan,
    };
    export::export_store(store, &options, &mut Quiet).expect("export")
}

fn check(dir: &Path, from: NaiveDate, to: NaiveDate, chunks: &[u64], what: &str) {
    let store = Catalog::open(dir).expect("catalog");
    for &chunk in chunks {
        let hours = hours_in_runs(&store, from, to, chunk);
        for period in [Period::Day, Period::Week, Period::Month, Period::Year] {
            let want = export_rows(&store, period, from, to);
            let bounds = boundaries(period, from, to).expect("bounds");
            let got = aggregate(&hours, &bounds, &want.labels);
            assert_eq!(got.len(), want.rows.len());
            for (g, w) in got.iter().zip(&want.rows) {
                assert_eq!(g, w, "{what}: runs of {chunk} days, {period:?}");
            }
        }
        // And each day alone.
        let mut d = from;
        while d <= to && chunks.len() > 1 {
            let want = export_rows(&store, Period::Day, d, d);
            let bounds = boundaries(Period::Day, d, d).expect("bounds");
            assert_eq!(
                aggregate(&hours, &bounds, &want.labels),
                want.rows,
                "{what}: runs of {chunk} days, --day {d}"
            );
            d = d.succ_opt().expect("next");
        }
    }
}

#[test]
fn hc_hp_hours_computed_as_days_close_sum_to_every_export_across_both_dst_days() {
    sums_across_both_dst_days(Contract::HcHp, 29);
}

#[test]
fn tempo_hours_computed_as_days_close_sum_to_every_export_across_both_dst_days() {
    sums_across_both_dst_days(Contract::Tempo, 61);
}

#[test]
fn historique_hours_computed_as_days_close_sum_to_every_export_across_both_dst_days() {
    sums_across_both_dst_days(Contract::Historique, 43);
}

fn sums_across_both_dst_days(contract: Contract, step: i64) {
    {
        let dir = tempfile::tempdir().expect("tempdir");
        // March 27 to April 2 (the 29th has 23 hours), a day without a file (the 31st) and a
        // gap across midnight.
        let gaps = vec![
            (local(2026, 3, 31, 0) - 600, local(2026, 4, 1, 0) + 900),
            (local(2026, 3, 28, 23) + 1200, local(2026, 3, 29, 1) + 60),
        ];
        Model {
            contract,
            start: local(2026, 3, 27, 0) + 5,
            end: local(2026, 4, 3, 0) - 1,
            step,
            gaps,
        }
        .write(dir.path(), &[]);
        // October 24 to November 2 (the 25th has 25 hours).
        Model {
            contract,
            start: local(2026, 10, 24, 0) + 5,
            end: local(2026, 11, 3, 0) - 1,
            step,
            gaps: vec![(local(2026, 10, 25, 1) + 30, local(2026, 10, 25, 4))],
        }
        .write(dir.path(), &[]);
        // Glitches next to midnight: a zero, an index far ahead, a decrease.
        let col = if contract == Contract::Historique {
            6
        } else {
            5
        };
        glitch(
            dir.path(),
            day(2026, 3, 28),
            local(2026, 3, 28, 0),
            col,
            "0",
        );
        glitch(
            dir.path(),
            day(2026, 10, 27),
            local(2026, 10, 27, 0),
            col,
            "99999999",
        );
        glitch(
            dir.path(),
            day(2026, 10, 28),
            local(2026, 10, 28, 23) + 3500,
            col,
            "5",
        );
        glitch(
            dir.path(),
            day(2026, 11, 1),
            local(2026, 11, 1, 0),
            col,
            "77777777",
        );
        check(
            dir.path(),
            day(2026, 3, 27),
            day(2026, 4, 2),
            &[1, 2, 40],
            &format!("{contract:?} March"),
        );
        check(
            dir.path(),
            day(2026, 10, 24),
            day(2026, 11, 2),
            &[1, 3],
            &format!("{contract:?} October"),
        );
        check(
            dir.path(),
            day(2026, 3, 27),
            day(2026, 11, 2),
            &[31],
            &format!("{contract:?} all"),
        );
    }
}

/// Cuts the CSV rows of `[a, b)` out of a recorded day (a gap in the records).
fn cut(dir: &Path, d: NaiveDate, a: i64, b: i64) {
    let path = tic_rec::store::day_file(dir, d, 0);
    let text = std::fs::read_to_string(&path).expect("read");
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| {
            *i == 0 || {
                let t = chrono::DateTime::parse_from_rfc3339(l.split(',').next().expect("time"))
                    .expect("rfc3339")
                    .timestamp();
                t < a || t >= b
            }
        })
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&path, kept.join("\n") + "\n").expect("write");
}

/// The periods dataset written as `compact` and the recorder write it (all closed days, or
/// all but the last), then every export read from it: the same rows as reading every day
/// (ReadMode::Scan) for every period and many ranges; a day changed since (rows appended)
/// is read again, and so is one made stale by the day after it changing.
#[test]
fn exports_read_from_the_periods_dataset_give_every_number_of_a_full_read() {
    use tic_rec::export::refresh::refresh;
    use tic_rec::store::fs::RealFs;
    let dir = tempfile::tempdir().expect("tempdir");
    // A Tempo meter (NGTF says so) recorded as CSV days, across the March DST day.
    let bin = env!("CARGO_BIN_EXE_tic-rec");
    let sim = std::process::Command::new(bin)
        .args([
            "simulate",
            "--contract",
            "tempo",
            "--start",
            "2026-03-26T00:00:05",
        ])
        .args(["--duration", "8days", "--frame-interval", "47s"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("simulate");
    common::replay_piped(
        sim,
        std::process::Command::new(bin)
            .args(["record", "--replay", "-", "--archive", "csv", "--data-dir"])
            .arg(dir.path()),
        "record",
    );
    let _ = std::fs::remove_dir_all(dir.path().join("periods"));
    // A gap across a night (a day without a file), glitches next to midnight.
    cut(
        dir.path(),
        day(2026, 3, 30),
        local(2026, 3, 30, 22),
        local(2026, 3, 31, 0),
    );
    let _ = std::fs::remove_file(tic_rec::store::day_file(dir.path(), day(2026, 3, 31), 0));
    cut(
        dir.path(),
        day(2026, 4, 1),
        local(2026, 4, 1, 0),
        local(2026, 4, 1, 2),
    );
    glitch(dir.path(), day(2026, 3, 28), local(2026, 3, 28, 0), 7, "0");
    glitch(
        dir.path(),
        day(2026, 4, 2),
        local(2026, 4, 2, 0),
        7,
        "99999999",
    );
    let (first, last) = (day(2026, 3, 26), day(2026, 4, 3));
    // The recorder's view: every day but the last is closed.
    let r = refresh(&RealFs, dir.path(), day(2026, 4, 2), None).expect("refresh");
    assert_eq!(r.months, 2, "{r:?}");
    let index = dir.path().join(".tic-rec-index");
    let same = |what: &str| {
        let store = Catalog::open(dir.path()).expect("catalog");
        let mut ranges = vec![
            (first, last),
            (first, day(2026, 3, 31)),
            (day(2026, 4, 1), last),
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..6 {
            let a = first + chrono::Days::new(rng.u64(0..9));
            let b = a + chrono::Days::new(rng.u64(0..4));
            ranges.push((a, b.min(last)));
        }
        for (a, b) in ranges {
            for period in [
                Period::Hour,
                Period::Day,
                Period::Week,
                Period::Month,
                Period::Year,
            ] {
                let opt = |mode| Options {
                    period,
                    from: Some(a),
                    to: Some(b),
                    mode,
                };
                let fast =
                    export::export_store(&store, &opt(Mode::Index), &mut Quiet).expect("export");
                let full =
                    export::export_store(&store, &opt(Mode::Scan), &mut Quiet).expect("export");
                // The month files read beside the catalog (as the CLI does), over the range
                // or all of them, for this period or for days (footers only: an export by
                // the hour given those reads them again): the same.
                for (pa, pb) in [(Some(a), Some(b)), (None, None)] {
                    for read_for in [period, Period::Day] {
                        let pre = export::Prefetch::start(dir.path(), pa, pb, read_for);
                        let got =
                            export::export_prefetched(&store, &opt(Mode::Index), pre, &mut Quiet)
                                .expect("export");
                        assert_eq!(
                            got.rows, full.rows,
                            "{what} {a} {b} {period:?} prefetched for {read_for:?}"
                        );
                    }
                }
                assert_eq!(fast.labels, full.labels, "{what} {a} {b} {period:?}");
                assert_eq!(fast.rows, full.rows, "{what} {a} {b} {period:?}");
                // Every output column (hc_wh, hp_wh, the Tempo colours…): the classes each
                // index is counted in may be learned from more days around the range, never
                // to other numbers.
                assert_eq!(
                    export::output::columns(&fast),
                    export::output::columns(&full),
                    "{what} {a} {b} {period:?}"
                );
            }
        }
    };
    same("fresh");
    // Closed days only: read from the dataset, no day summary needed.
    let _ = std::fs::remove_dir_all(&index);
    let store = Catalog::open(dir.path()).expect("catalog");
    let opt = Options {
        period: Period::Month,
        from: Some(first),
        to: Some(day(2026, 4, 2)),
        mode: Mode::Index,
    };
    export::export_store(&store, &opt, &mut Quiet).expect("export");
    assert!(!index.exists(), "the closed days came from periods/");
    // A closed day grows (a replay of its hours): it and the day before are read again.
    // The month files read before it grew (an export's prefetch, started before the days
    // are listed) are not used for those days either.
    let early = export::Prefetch::start(dir.path(), None, None, Period::Day);
    let p = tic_rec::store::day_file(dir.path(), day(2026, 3, 29), 0);
    let mut text = std::fs::read_to_string(&p).expect("read");
    text.push_str("2026-03-29T23:59:59+02:00,meter,041876097171,HP BLEU,2,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,6,6\n");
    std::fs::write(&p, text).expect("write");
    let store = Catalog::open(dir.path()).expect("catalog");
    let opt = |mode| Options {
        period: Period::Day,
        from: Some(first),
        to: Some(day(2026, 4, 2)),
        mode,
    };
    let got =
        export::export_prefetched(&store, &opt(Mode::Index), early, &mut Quiet).expect("export");
    let full = export::export_store(&store, &opt(Mode::Scan), &mut Quiet).expect("export");
    assert_eq!(got.rows, full.rows, "read before the day changed");
    same("a day changed");
    // The dataset brought up to date again, everything closed.
    let r = refresh(&RealFs, dir.path(), last, None).expect("refresh");
    // March's days were one run (the 29th is in what it read): computed again; April's
    // first two read only from the 30th on: kept; the 3rd, now closed, computed.
    assert_eq!(
        (r.days, r.months),
        (7, 2),
        "only the stale days again: {r:?}"
    );
    same("refreshed");
}

/// `compact` on a directory whose days are all archived already (an archive of a version
/// before periods/, or one whose periods/ was removed) still writes periods/, and says so.
#[test]
fn compact_writes_periods_for_days_archived_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    Model {
        contract: Contract::HcHp,
        start: local(2026, 5, 1, 0),
        end: local(2026, 5, 4, 0) - 1,
        step: 60,
        gaps: vec![],
    }
    .write(dir.path(), &[]);
    let d = dir.path().to_str().expect("utf-8");
    let (_, err) = common::tic_rec_ok(&["compact", "--include-today", "--data-dir", d]);
    assert!(err.contains("periods/: 3 day(s)"), "{err}");
    std::fs::remove_dir_all(dir.path().join("periods")).expect("rm periods");
    let (_, err) = common::tic_rec_ok(&["compact", "--include-today", "--data-dir", d]);
    assert!(
        err.contains("nothing to archive") && err.contains("periods/: 3 day(s)"),
        "{err}"
    );
    assert!(dir.path().join("periods/2026/2026-05.parquet").is_file());
    let (_, err) = common::tic_rec_ok(&["compact", "--include-today", "--data-dir", d]);
    assert!(!err.contains("periods/"), "nothing to do: {err}");
}

/// The files of periods/ as written by the recorder and `compact`, summed as an engine sums
/// them (a plain sum per local day, month and year; null where no hour has the column), give
/// every energy column and the record count of `tic-rec export --day`, `--month` and
/// `--year`, to the Wh: across both DST days (23 and 25 hours), a year's end, in both modes,
/// for HC/HP, Tempo, EJP and a producer.
#[test]
fn the_periods_files_summed_give_export_day_month_and_year_to_the_wh() {
    use arrow_array::{Array, Date32Array, Int64Array};
    use std::collections::BTreeMap;
    let bin = env!("CARGO_BIN_EXE_tic-rec");
    let work = tempfile::tempdir().expect("tempdir");
    let mut dst_days_seen = 0;
    let meters: [(&str, &[&str]); 4] = [
        (
            "2026-03-27T00:00:00",
            &["--contract", "hchp", "--frame-interval", "1min"],
        ),
        (
            "2026-10-23T00:00:00",
            &[
                "--contract",
                "tempo",
                "--phases",
                "3",
                "--frame-interval",
                "2min",
            ],
        ),
        (
            "2025-12-29T00:00:00",
            &["--producer", "--frame-interval", "1min"],
        ),
        (
            "2026-10-24T00:00:00",
            &["--mode", "historique", "--contract", "ejp"],
        ),
    ];
    for (n, (start, args)) in meters.iter().enumerate() {
        let dir = work.path().join(format!("m{n}"));
        let historique = args.contains(&"historique");
        let sim = std::process::Command::new(bin)
            .args(["simulate", "--start", start, "--duration", "5days"])
            .args(*args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("simulate");
        let mut rec = std::process::Command::new(bin);
        rec.args(["record", "--replay", "-", "--data-dir"])
            .arg(&dir);
        if historique {
            rec.args(["--replay-start", start, "--every", "1min"]);
        }
        common::replay_piped(sim, &mut rec, &format!("record {start}"));
        let d = dir.to_str().expect("utf-8");
        common::tic_rec_ok(&["compact", "--include-today", "--data-dir", d]);
        // periods/ summed by local day: column → day → sum (None: no hour has it).
        let schema = dataset::schema();
        let mut sums: BTreeMap<String, BTreeMap<NaiveDate, Option<i64>>> = BTreeMap::new();
        let months = tic_rec::store::periods::months(&dir).expect("months");
        assert!(!months.is_empty(), "{d}: no periods file");
        for (_, _, path) in months {
            let file = tic_rec::store::periods::read(&path, &schema)
                .expect("read")
                .expect("there");
            for b in &file.batches {
                let dates = b
                    .column_by_name("local_date")
                    .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
                    .expect("local_date");
                for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                    let Some(v) = col.as_any().downcast_ref::<Int64Array>() else {
                        continue;
                    };
                    let by_day = sums.entry(f.name().clone()).or_default();
                    for i in 0..b.num_rows() {
                        let day = dates.value_as_date(i).expect("date");
                        let s = by_day.entry(day).or_insert(None);
                        if v.is_valid(i) {
                            *s = Some(s.unwrap_or(0) + v.value(i));
                        }
                    }
                }
            }
        }
        let mut compared = 0;
        for (flag, key) in [("--day", 10), ("--month", 7), ("--year", 4)] {
            let rows = common::export_csv(&dir, &[flag]);
            assert!(!rows.is_empty(), "{d} {flag}");
            for r in &rows {
                let period = &r["period_start"][..key];
                for (col, text) in r {
                    if !(col.ends_with("_wh") || col == "records") {
                        continue;
                    }
                    let want = (!text.is_empty()).then(|| text.parse::<i64>().expect("int"));
                    let by_day = sums
                        .get(col)
                        .unwrap_or_else(|| panic!("{d}: periods/ has no column {col}"));
                    let got = by_day
                        .iter()
                        .filter(|(day, _)| day.to_string().starts_with(period))
                        .fold(None, |acc: Option<i64>, (_, s)| match (acc, s) {
                            (a, None) => a,
                            (a, Some(s)) => Some(a.unwrap_or(0) + s),
                        });
                    assert_eq!(got, want, "{d} ({start}) {flag} {period} {col}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 30, "{d}: {compared} numbers compared");
        eprintln!("{d}: {compared} numbers compared");
        // Both DST days have their 23 and 25 hours.
        for (day, hours) in [(day(2026, 3, 29), 23), (day(2026, 10, 25), 25)] {
            if sums["records"].contains_key(&day) {
                let day = day.to_string();
                let rows = common::export_csv(&dir, &["--hour", "--from", &day, "--to", &day]);
                assert_eq!(rows.len(), hours, "{d}: hours of {day}");
                dst_days_seen += 1;
            }
        }
    }
    assert_eq!(dst_days_seen, 3, "the DST days of the meters");
}

/// Month files of format 1 (written before the days' sums were kept beside their hours) are
/// read as before, every export from them the same as a full read; the next refresh writes
/// them again with each day's sums, computing no day again, and exports read from those
/// sums give the same numbers.
#[test]
fn month_files_of_format_1_are_read_then_given_their_days_sums() {
    use tic_rec::store::fs::RealFs;
    use tic_rec::store::periods;
    let dir = tempfile::tempdir().expect("tempdir");
    Model {
        contract: Contract::Tempo,
        start: local(2026, 10, 23, 0),
        end: local(2026, 10, 28, 0) - 1,
        step: 60,
        gaps: vec![(local(2026, 10, 24, 23), local(2026, 10, 25, 4))],
    }
    .write(dir.path(), &[]);
    let d = dir.path().to_str().expect("utf-8");
    common::tic_rec_ok(&["compact", "--include-today", "--data-dir", d]);
    let path = periods::month_path(dir.path(), 2026, 10);
    let schema = dataset::schema();
    let text_of = |path: &Path| {
        let f = periods::read(path, &schema)
            .expect("read")
            .expect("a month file");
        let v: serde_json::Value =
            serde_json::from_str(f.meta.as_deref().expect("text")).expect("json");
        (f, v)
    };
    let (file, mut v) = text_of(&path);
    assert_eq!(v["format"], 2);
    let meta = dataset::MonthMeta::from_text(&v.to_string()).expect("ours");
    assert!(meta.all_summed() && meta.days.len() == 5, "{v}");
    // Written again as format 1 wrote it: no sums.
    v["format"] = 1.into();
    for day in v["days"].as_array_mut().expect("days") {
        day.as_object_mut()
            .expect("day")
            .remove("sums")
            .expect("sums");
    }
    let batch = arrow_select::concat::concat_batches(&schema, &file.batches).expect("concat");
    periods::write(
        &RealFs,
        dir.path(),
        (2026, 10),
        &batch,
        &v.to_string(),
        &file.extra().expect("summaries"),
    )
    .expect("write");
    let same = |what: &str| {
        let store = Catalog::open(dir.path()).expect("catalog");
        for period in [Period::Hour, Period::Day, Period::Week, Period::Month] {
            let opt = |mode| Options {
                period,
                from: None,
                to: None,
                mode,
            };
            let full = export::export_store(&store, &opt(Mode::Scan), &mut Quiet).expect("full");
            let got = export::export_prefetched(
                &store,
                &opt(Mode::Index),
                export::Prefetch::start(dir.path(), None, None, period),
                &mut Quiet,
            )
            .expect("export");
            assert_eq!(got.rows, full.rows, "{what} {period:?}");
        }
    };
    same("format 1");
    let old = text_of(&path).1;
    assert!(old["format"] == 1 && old["days"][0].get("sums").is_none());
    // The next refresh: the month written again, no day computed again.
    let r = refresh::refresh(&RealFs, dir.path(), NaiveDate::MAX, None).expect("refresh");
    assert_eq!((r.days, r.months), (0, 1), "{r:?}");
    let (_, v) = text_of(&path);
    assert_eq!(v["format"], 2);
    let meta = dataset::MonthMeta::from_text(&v.to_string()).expect("ours");
    assert!(meta.all_summed(), "{v}");
    same("format 2 again");
    // Nothing more to do.
    let r = refresh::refresh(&RealFs, dir.path(), NaiveDate::MAX, None).expect("refresh");
    assert_eq!((r.days, r.months), (0, 0), "{r:?}");
}
