//! What an export shows: ranges before, after and between the recorded days (empty, with
//! the usual columns, and a note), and the table for reading (kWh, the columns that carry
//! energy).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{local, tic_rec, Contract, Model};

type Rows = Vec<BTreeMap<String, String>>;

/// `tic-rec export --data-dir DIR ARGS`: header, rows (CSV) and stderr.
fn export(dir: &Path, args: &[&str]) -> (Vec<String>, Rows, String) {
    let mut all = vec!["export", "--data-dir", dir.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let (out, stderr) = common::tic_rec_ok(&all);
    let (header, rows) = common::csv_rows(out.as_bytes());
    (header, rows, stderr)
}

fn csv(dir: &Path, args: &[&str]) -> (Vec<String>, Rows, String) {
    let mut all = vec!["--format", "csv"];
    all.extend_from_slice(args);
    export(dir, &all)
}

/// `--format table`: the header's names and the rows' cells, split on blanks.
fn table(dir: &Path, args: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut all = vec![
        "export",
        "--data-dir",
        dir.to_str().expect("utf-8"),
        "--format",
        "table",
    ];
    all.extend_from_slice(args);
    let out = tic_rec(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn write(dir: &Path, contract: Contract, first_day: u32, last_day: u32, gaps: Vec<(i64, i64)>) {
    Model {
        contract,
        start: local(2026, 1, first_day, 0),
        end: local(2026, 1, last_day, 0) + 86_399,
        step: 60,
        gaps,
    }
    .write(dir, &[]);
}

fn energy_cells(row: &BTreeMap<String, String>) -> Vec<&str> {
    row.iter()
        .filter(|(k, _)| k.ends_with("_wh"))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn ranges_outside_the_recorded_days_are_empty_with_the_usual_columns() {
    for contract in [Contract::HcHp, Contract::Tempo, Contract::Historique] {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), contract, 10, 12, vec![]);
        let (header, inside, stderr) = csv(dir.path(), &[]);
        assert_eq!(inside.len(), 3);
        assert!(!stderr.contains("no records"), "{stderr}");
        for (from, to, days) in [
            ("2020-01-01", "2020-01-31", 31),
            ("2026-01-13", "2026-01-20", 8),
            ("2030-06-01", "2030-06-02", 2),
        ] {
            for mode in [&[][..], &["--no-index"][..]] {
                let mut args = vec!["--from", from, "--to", to];
                args.extend_from_slice(mode);
                let (h, rows, stderr) = csv(dir.path(), &args);
                assert_eq!(h, header, "{contract:?} {from}..{to}: the same columns");
                assert_eq!(rows.len(), days);
                for r in &rows {
                    assert!(
                        energy_cells(r).iter().all(|c| c.is_empty()),
                        "{contract:?} {from}..{to}: no data is empty, not 0: {r:?}"
                    );
                    assert_eq!(r["records"], "0");
                }
                assert!(
                    stderr.contains(&format!("no records from {from} to {to}"))
                        && stderr.contains("2026-01-10 to 2026-01-12"),
                    "{stderr}"
                );
            }
        }
        // A range reaching beyond the data: the recorded days are exactly as before, the
        // others empty.
        let (h, rows, stderr) = csv(dir.path(), &["--from", "2026-01-07", "--to", "2026-01-15"]);
        assert_eq!(h, header);
        assert_eq!(rows.len(), 9);
        assert_eq!(rows[3..6], inside[..], "{contract:?}");
        for r in rows[..3].iter().chain(&rows[6..]) {
            assert!(energy_cells(r).iter().all(|c| c.is_empty()), "{r:?}");
        }
        assert!(!stderr.contains("no records"), "{stderr}");
        // Records outside: the header of the data, no row.
        let out = tic_rec(&[
            "export",
            "--records",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
        ]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("time,time_source,"), "{text:?}");
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no records"));
    }
}

/// Days between recorded days (no file) are inside the data: interpolated, as a wider range
/// gives them, with the usual columns.
#[test]
fn days_between_recorded_days_are_interpolated_whatever_the_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        Contract::HcHp,
        10,
        14,
        vec![(local(2026, 1, 11, 0), local(2026, 1, 13, 0))],
    );
    let (header, all, _) = csv(dir.path(), &[]);
    let (h, gap, stderr) = csv(dir.path(), &["--from", "2026-01-11", "--to", "2026-01-12"]);
    assert_eq!(h, header);
    assert_eq!(gap[..], all[1..3]);
    assert!(common::int(&gap[0], "total_wh") > 0);
    assert!(stderr.contains("no records"), "{stderr}");
}

fn kwh(wh: &str) -> String {
    let wh: i64 = wh.parse().expect("Wh");
    format!("{}.{:03}", wh / 1000, wh % 1000)
}

#[test]
fn the_table_shows_kwh_and_the_columns_that_carry_energy() {
    let quality = ["records", "coverage", "max_gap_s"];
    for (contract, energy) in [
        (Contract::HcHp, &["hc", "hp", "total"][..]),
        (Contract::Historique, &["hc", "hp", "total"][..]),
        (
            Contract::Tempo,
            &[
                "hc", "hp", "total", "blue_hc", "blue_hp", "white_hc", "white_hp", "red_hc",
                "red_hp",
            ][..],
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), contract, 10, 12, vec![]);
        let (csv_header, rows, _) = csv(dir.path(), &[]);
        // CSV keeps every column, in exact integer Wh.
        if contract == Contract::HcHp {
            for c in ["east_wh", "easf03_wh", "easf10_wh", "easd04_wh"] {
                assert!(csv_header.iter().any(|h| h == c), "{csv_header:?}");
            }
        }
        let (header, cells) = table(dir.path(), &[]);
        let mut want = vec!["period_start".to_owned(), "period_end".to_owned()];
        want.extend(energy.iter().map(|e| format!("{e}_kwh")));
        want.extend(quality.iter().map(|q| q.to_string()));
        want.push("flags".into());
        assert_eq!(header, want, "{contract:?}");
        // Row by row, the CSV's Wh as kWh with three decimals (the last day is partial:
        // flags hold a word; every row has a flags cell only when flags are set).
        for (row, r) in cells.iter().zip(&rows) {
            for (j, name) in header.iter().enumerate().skip(2) {
                if let Some(stem) = name.strip_suffix("_kwh") {
                    assert_eq!(
                        row[j],
                        kwh(&r[&format!("{stem}_wh")]),
                        "{contract:?} {name}"
                    );
                } else if name != "flags" {
                    assert_eq!(row[j], r[name], "{contract:?} {name}");
                }
            }
        }
        // --all-columns: every column of the CSV, in kWh.
        let (all, _) = table(dir.path(), &["--all-columns"]);
        let renamed: Vec<String> = csv_header
            .iter()
            .map(|h| match h.strip_suffix("_wh") {
                Some(stem) => format!("{stem}_kwh"),
                None => h.clone(),
            })
            .collect();
        assert_eq!(all, renamed, "{contract:?}");
    }
}

/// A column that carries energy no other shows (injected energy) stays; one that carries
/// none goes, even HC.
#[test]
fn the_table_keeps_what_only_one_column_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
    let path = tic_rec::store::day_file(dir.path(), day, 0);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut text = String::from("time,time_source,ADSC,LTARF,NTARF,EAST,EASF01,EASF02,EAIT,PREF\n");
    for (h, east, hp, eait) in [
        (9, 1000, 900, 50),
        (10, 1500, 1400, 2050),
        (11, 1800, 1700, 4050),
    ] {
        text += &format!(
            "2026-06-01T{h:02}:00:00+02:00,meter,041876097171,HEURE PLEINE,2,{east},100,{hp},{eait},6\n"
        );
    }
    std::fs::write(&path, text).expect("write");
    let (header, _) = table(dir.path(), &["--hour", "--from", "2026-06-01"]);
    assert_eq!(
        header,
        [
            "period_start",
            "period_end",
            "eait_kwh",
            "hp_kwh",
            "total_kwh",
            "records",
            "coverage",
            "max_gap_s",
            "flags"
        ]
    );
}
