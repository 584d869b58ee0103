//! The whole chain with the real binary: the project's simulated meter → a raw capture →
//! `tic-rec record --replay` → daily files → `tic-rec export`, checked against the
//! simulator's exact index values, across both DST days, HC/HP switching, Tempo colours and
//! gaps in the data.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use tic_rec::sim::{Contract, Meter, SimConfig, SimFrame};
use tic_rec::store::TZ;
use tic_rec::tic::Mode;

use common::at;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

fn midnight(d: NaiveDate) -> DateTime<FixedOffset> {
    TZ.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .fixed_offset()
}

/// Simulates one frame every `step` minutes and writes those not in a gap to `capture`.
fn capture(
    contract: Contract,
    start: &str,
    step: i64,
    frames: usize,
    gaps: &[(&str, &str)],
    path: &Path,
) -> Vec<SimFrame> {
    let mut cfg = SimConfig::new(Mode::Standard, contract, at(start));
    cfg.frame_interval = Some(Duration::minutes(step));
    cfg.seed = 11;
    let mut meter = Meter::new(cfg).unwrap();
    let gaps: Vec<(DateTime<FixedOffset>, DateTime<FixedOffset>)> = gaps
        .iter()
        .map(|(a, b)| {
            let t = |s: &str| {
                TZ.from_local_datetime(&at(s))
                    .earliest()
                    .unwrap()
                    .fixed_offset()
            };
            (t(a), t(b))
        })
        .collect();
    let mut bytes = Vec::new();
    let mut kept = Vec::new();
    for _ in 0..frames {
        let mut frame = Vec::new();
        let s = meter.next_frame(&mut frame);
        if !gaps.iter().any(|(a, b)| s.time >= *a && s.time < *b) {
            bytes.extend(frame);
            kept.push(s);
        }
    }
    std::fs::write(path, bytes).unwrap();
    kept
}

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `tic-rec record --replay FILE --data-dir DATA`.
fn record_replay(file: &Path, data: &Path) {
    run(&[
        "record",
        "--replay",
        file.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
}

fn export(data: &Path, args: &[&str]) -> Vec<HashMap<String, String>> {
    let mut all = vec![
        "export",
        "--data-dir",
        data.to_str().unwrap(),
        "--format",
        "csv",
    ];
    all.extend_from_slice(args);
    let text = run(&all);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn int(row: &HashMap<String, String>, col: &str) -> i64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col}: {row:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// An index value of a frame, in Wh.
fn wh(s: &SimFrame, label: &str) -> i64 {
    s.value(label).unwrap().parse().unwrap()
}

/// The index at instant `t`, by the exporter's rule: the record at `t`, or linear
/// interpolation (rounded half up) between the records around it.
fn index_at(frames: &[SimFrame], label: &str, t: DateTime<FixedOffset>) -> i64 {
    let after = frames.iter().position(|s| s.time >= t).unwrap();
    let b = &frames[after];
    if b.time == t || after == 0 {
        return wh(b, label);
    }
    let a = &frames[after - 1];
    let (va, vb) = (wh(a, label), wh(b, label));
    let (span, into) = ((b.time - a.time).num_seconds(), (t - a.time).num_seconds());
    va + ((vb - va) * into * 2 + span).div_euclid(2 * span)
}

#[test]
fn daily_hc_hp_across_both_dst_days_with_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (start, days, gaps) in [
        // 24–27 October: the 25th lasts 25 h; a two-hour gap inside the 26th and one
        // across the midnight between the 26th and the 27th.
        (
            "2026-10-24 00:00:00",
            4,
            vec![
                ("2026-10-26 10:00:00", "2026-10-26 12:00:00"),
                ("2026-10-26 23:30:00", "2026-10-27 00:30:00"),
            ],
        ),
        // 28–30 March: the 29th lasts 23 h.
        ("2026-03-28 00:00:00", 3, vec![]),
    ] {
        let file = dir.path().join(format!("{}.tic", &start[..10]));
        let first = NaiveDate::parse_from_str(&start[..10], "%Y-%m-%d").unwrap();
        let bounds: Vec<DateTime<FixedOffset>> = (0..=days)
            .map(|i| midnight(first + chrono::Days::new(i)))
            .collect();
        let minutes = ((bounds[days as usize] - bounds[0]).num_minutes() + 1) as usize;
        let frames = capture(Contract::HcHp, start, 1, minutes, &gaps, &file);
        record_replay(&file, &data);
        let last = first + chrono::Days::new(days - 1);
        let rows = export(
            &data,
            &[
                "--day",
                "--from",
                &first.to_string(),
                "--to",
                &last.to_string(),
            ],
        );
        assert_eq!(rows.len(), days as usize);
        for (i, r) in rows.iter().enumerate() {
            let (a, b) = (bounds[i], bounds[i + 1]);
            assert_eq!(r["period_start"], a.to_rfc3339(), "{r:?}");
            assert_eq!(r["period_end"], b.to_rfc3339());
            for (col, label) in [
                ("easf01_wh", "EASF01"),
                ("easf02_wh", "EASF02"),
                ("east_wh", "EAST"),
                ("hc_wh", "EASF01"),
                ("hp_wh", "EASF02"),
            ] {
                let want = index_at(&frames, label, b) - index_at(&frames, label, a);
                assert_eq!(int(r, col), want, "{col} on {}", r["period_start"]);
            }
            assert!(
                int(r, "hc_wh") > 1000 && int(r, "hp_wh") > 1000,
                "both periods consumed: {r:?}"
            );
            assert_eq!(int(r, "total_wh"), int(r, "hc_wh") + int(r, "hp_wh"));
            assert_eq!(r["flags"], "", "{r:?}");
            let hours = (b - a).num_hours();
            let in_day = frames.iter().filter(|s| s.time >= a && s.time < b).count() as i64;
            assert_eq!(int(r, "records"), in_day, "{}", r["period_start"]);
            if gaps.is_empty() {
                assert_eq!(int(r, "records"), hours * 60);
                assert_eq!(r["coverage"], "1.0000");
                assert_eq!(int(r, "max_gap_s"), 60);
            }
        }
        if !gaps.is_empty() {
            // The 26th: 2 h 1 min between the records around the 10:00–12:00 gap.
            assert_eq!(int(&rows[2], "max_gap_s"), 2 * 3600 + 60);
            assert!(rows[2]["coverage"].parse::<f64>().unwrap() < 0.92);
        }
        assert_eq!(
            bounds[2] - bounds[1],
            Duration::hours(if days == 4 { 25 } else { 23 })
        );
    }
}

#[test]
fn tempo_colours_add_up_to_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("tempo.tic");
    // Three winter weeks, a frame every five minutes: blue, white and red days all occur.
    const DAYS: usize = 21;
    let first = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let bounds: Vec<DateTime<FixedOffset>> = (0..=DAYS as u64)
        .map(|i| midnight(first + chrono::Days::new(i)))
        .collect();
    let n = ((bounds[DAYS] - bounds[0]).num_minutes() / 5 + 1) as usize;
    let frames = capture(Contract::Tempo, "2026-01-05 00:00:00", 5, n, &[], &file);
    record_replay(&file, &data);
    let last = (first + chrono::Days::new(DAYS as u64 - 1)).to_string();
    let rows = export(&data, &["--day", "--from", "2026-01-05", "--to", &last]);
    assert_eq!(rows.len(), DAYS);
    let colours = [
        ("blue", ["EASF01", "EASF02"]),
        ("white", ["EASF03", "EASF04"]),
        ("red", ["EASF05", "EASF06"]),
    ];
    let mut seen = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let (a, b) = (bounds[i], bounds[i + 1]);
        let d = |l: &str| index_at(&frames, l, b) - index_at(&frames, l, a);
        let mut hc = 0;
        let mut hp = 0;
        for (name, [l_hc, l_hp]) in colours {
            assert_eq!(
                int(r, &format!("{name}_hc_wh")),
                d(l_hc),
                "{name} HC on {}",
                r["period_start"]
            );
            assert_eq!(
                int(r, &format!("{name}_hp_wh")),
                d(l_hp),
                "{name} HP on {}",
                r["period_start"]
            );
            hc += d(l_hc);
            hp += d(l_hp);
            if d(l_hc) + d(l_hp) > 0 {
                *seen.entry(name).or_insert(0) += 1;
            }
        }
        assert_eq!(int(r, "hc_wh"), hc);
        assert_eq!(int(r, "hp_wh"), hp);
        assert_eq!(int(r, "total_wh"), d("EAST"));
    }
    assert_eq!(seen.len(), 3, "every colour occurs: {seen:?}");
}
