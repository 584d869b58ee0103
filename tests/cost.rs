//! `tic-rec cost` end to end, with the real binary over simulated households whose daily
//! files are written record by record (a constant load, so that every figure can be worked
//! out by hand: the arithmetic is in the comments), and over a simulated meter replayed with
//! `record --replay`. Prices are those shipped (`data/tariffs/trv_tarif_bleu.csv`).

mod common;

common::harness!(
    an_hchp_meter_over_a_fortnight,
    a_tempo_meter_over_a_january_with_red_and_white_days,
    the_meters_tempo_colours_override_the_calendar,
    a_base_meter,
    a_period_spanning_a_price_change,
    a_gap_lowers_coverage_and_is_said,
    dst_days,
    prices_with_a_custom_offer,
    bad_prices_files_name_the_file_and_line,
    contract_and_kva_overrides,
    hc_hours_given,
    beyond_the_last_grid_and_a_tempo_calendar,
    a_glitching_index_does_not_change_the_bill,
    historique_meters,
    an_odd_minute_schedule_is_learned_and_read_from_the_summaries,
    an_archived_year_costs_the_same_as_its_csv_days,
    a_simulated_tempo_meter_replayed,
    duckdb_and_pandas_read_the_parquet_cost_exactly,
);

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike};
use common::tic_rec;
use tic_rec::cost::TempoCalendar;
use tic_rec::export::{DayRead, ExportObserver, Period, ReadMode};
use tic_rec::store::{day_file, TZ};
use tic_rec::tic::labels::Colour;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

/// Unix time of local `YYYY-MM-DD HH:MM`.
fn at(s: &str) -> i64 {
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test time");
    TZ.from_local_datetime(&naive)
        .earliest()
        .expect("local time")
        .timestamp()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Standard,
    Historique,
}

#[derive(Clone)]
enum Plan {
    Base,
    /// HC windows, local minutes `[a, b)` (wrapping past midnight when `b <= a`).
    HcHp(Vec<(u32, u32)>),
    /// Colours of the Tempo days: the shipped calendar, overridden by `colours`.
    Tempo,
    /// The mobile-peak days.
    Ejp(Vec<NaiveDate>),
}

/// A household whose meter records every `step` seconds from `start` to `end` inclusive, a
/// constant `watts`, each step's energy on the index of the tariff in force at its start.
struct Household {
    shape: Shape,
    plan: Plan,
    watts: i64,
    kva: i64,
    start: i64,
    end: i64,
    step: i64,
    /// No record in these `[a, b)` stretches.
    gaps: Vec<(i64, i64)>,
    /// A record at this time reads this absurd value on every index (a glitch with a valid
    /// checksum).
    glitches: Vec<(i64, i64)>,
    /// Tempo colours the meter says, instead of the shipped calendar's.
    colours: BTreeMap<NaiveDate, Colour>,
}

const HC_22_06: (u32, u32) = (22 * 60, 6 * 60);

fn hchp(start: &str, end: &str, watts: i64) -> Household {
    Household {
        shape: Shape::Standard,
        plan: Plan::HcHp(vec![HC_22_06]),
        watts,
        kva: 6,
        start: at(start),
        end: at(end),
        step: 60,
        gaps: Vec::new(),
        glitches: Vec::new(),
        colours: BTreeMap::new(),
    }
}

fn local(t: i64) -> chrono::DateTime<chrono_tz::Tz> {
    DateTime::from_timestamp(t, 0)
        .expect("time")
        .with_timezone(&TZ)
}

fn in_window(m: u32, (a, b): (u32, u32)) -> bool {
    if a < b {
        (a..b).contains(&m)
    } else {
        m >= a || m < b
    }
}

impl Household {
    fn colour(&self, tempo_day: NaiveDate) -> Colour {
        self.colours.get(&tempo_day).copied().unwrap_or_else(|| {
            TempoCalendar::shipped()
                .expect("shipped")
                .colour(tempo_day)
                .expect("a shipped colour for the test's days")
        })
    }

    /// The index (0-based) in force at `t` and the tariff name the meter says.
    fn tariff(&self, t: i64) -> (usize, String) {
        let lt = local(t);
        let m = lt.hour() * 60 + lt.minute();
        let hist = self.shape == Shape::Historique;
        match &self.plan {
            Plan::Base => (0, if hist { "TH.." } else { "BASE" }.into()),
            Plan::HcHp(w) => {
                let hc = w.iter().any(|&x| in_window(m, x));
                let name = match (hist, hc) {
                    (true, true) => "HC..",
                    (true, false) => "HP..",
                    (false, true) => "HEURE CREUSE",
                    (false, false) => "HEURE PLEINE",
                };
                (usize::from(!hc), name.into())
            }
            Plan::Tempo => {
                let tempo_day = (lt - Duration::hours(6)).date_naive();
                let c = self.colour(tempo_day);
                let hc = !(6..22).contains(&lt.hour());
                let ci = Colour::ALL.iter().position(|x| *x == c).expect("colour");
                let name = if hist {
                    format!("H{}J{}", if hc { 'C' } else { 'P' }, ["B", "W", "R"][ci])
                } else {
                    format!("{} {}", if hc { "HC" } else { "HP" }, c.french())
                };
                (ci * 2 + usize::from(!hc), name)
            }
            Plan::Ejp(days) => {
                let d = lt.date_naive();
                let pm = (lt.hour() >= 7 && days.contains(&d))
                    || (lt.hour() < 1 && d.pred_opt().is_some_and(|p| days.contains(&p)));
                (usize::from(pm), if pm { "PM.." } else { "HN.." }.into())
            }
        }
    }

    fn names(&self) -> (&'static str, Vec<&'static str>) {
        match (self.shape, &self.plan) {
            (Shape::Standard, Plan::Base) => ("BASE", vec!["EASF01"]),
            (Shape::Standard, Plan::HcHp(_)) => ("H PLEINE/CREUSE", vec!["EASF01", "EASF02"]),
            (Shape::Standard, Plan::Tempo) => (
                "TEMPO",
                vec!["EASF01", "EASF02", "EASF03", "EASF04", "EASF05", "EASF06"],
            ),
            (Shape::Standard, Plan::Ejp(_)) => ("EJP", vec!["EASF01", "EASF02"]),
            (Shape::Historique, Plan::Base) => ("BASE", vec!["BASE"]),
            (Shape::Historique, Plan::HcHp(_)) => ("HC..", vec!["HCHC", "HCHP"]),
            (Shape::Historique, Plan::Tempo) => (
                "BBR(",
                vec![
                    "BBRHCJB", "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR",
                ],
            ),
            (Shape::Historique, Plan::Ejp(_)) => ("EJP.", vec!["EJPHN", "EJPHPM"]),
        }
    }

    /// Writes the daily files under `dir`.
    fn write(&self, dir: &Path) {
        let (contract, indexes) = self.names();
        let header = match self.shape {
            Shape::Standard => format!(
                "time,time_source,ADSC,NGTF,LTARF,NTARF,EAST,{},PREF,PCOUP\n",
                indexes.join(",")
            ),
            Shape::Historique => format!(
                "time,time_source,ADCO,OPTARIF,ISOUSC,PTEC,{},PAPP\n",
                indexes.join(",")
            ),
        };
        let mut joules = vec![0i64; indexes.len()];
        let mut total = 0i64;
        let base = 10_000_000i64;
        let mut files: BTreeMap<NaiveDate, String> = BTreeMap::new();
        let mut t = self.start;
        while t <= self.end {
            let (i, name) = self.tariff(t);
            let recorded = !self.gaps.iter().any(|&(a, b)| t >= a && t < b);
            if recorded {
                let lt = local(t);
                let text = files
                    .entry(lt.date_naive())
                    .or_insert_with(|| header.clone());
                let glitch = self.glitches.iter().find(|g| g.0 == t).map(|g| g.1);
                let v = |j: i64| glitch.unwrap_or(base + j / 3600);
                let idx: Vec<String> = joules.iter().map(|&j| v(j).to_string()).collect();
                match self.shape {
                    Shape::Standard => writeln!(
                        text,
                        "{},meter,041876097171,{contract},{name},{},{},{},{},{}",
                        lt.to_rfc3339(),
                        i + 1,
                        v(total),
                        idx.join(","),
                        self.kva,
                        self.kva
                    ),
                    Shape::Historique => writeln!(
                        text,
                        "{},host,041876097171,{contract},{},{name},{},{}",
                        lt.to_rfc3339(),
                        self.kva * 5,
                        idx.join(","),
                        self.watts
                    ),
                }
                .expect("write");
            }
            joules[i] += self.watts * self.step;
            total += self.watts * self.step;
            t += self.step;
        }
        for (d, text) in files {
            let path = day_file(dir, d, 0);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write file");
        }
    }
}

type Row = BTreeMap<String, String>;

/// `tic-rec cost --format csv` over `dir`: the rows and the standard error.
fn cost(dir: &Path, args: &[&str]) -> (Vec<Row>, String) {
    common::command_csv("cost", dir, args)
}

/// The CSV text of `tic-rec cost`, checked against `--no-index` (and the index built, then
/// used): the same bytes.
fn same_both_ways(dir: &Path, args: &[&str]) -> String {
    let run = |extra: &[&str]| {
        let mut all = vec![
            "cost",
            "--data-dir",
            dir.to_str().expect("utf-8"),
            "--format",
            "csv",
        ];
        all.extend_from_slice(args);
        all.extend_from_slice(extra);
        let out = tic_rec(&all);
        assert!(
            out.status.success(),
            "{all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let scan = run(&["--no-index"]);
    let cold = run(&[]);
    let warm = run(&[]);
    assert_eq!(cold, scan, "{args:?}: index built vs --no-index");
    assert_eq!(warm, scan, "{args:?}: index used vs --no-index");
    scan
}

fn cost_fails(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["cost", "--data-dir", dir.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let out = tic_rec(&all);
    assert!(!out.status.success(), "{all:?} should fail");
    assert!(out.stdout.is_empty(), "{all:?} wrote {:?}", out.stdout);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn col<'a>(r: &'a Row, c: &str) -> &'a str {
    r.get(c)
        .unwrap_or_else(|| panic!("no column {c} in {r:?}"))
        .as_str()
}

/// The summary sentence (on standard error with CSV).
fn sentence(err: &str) -> &str {
    err.lines()
        .find(|l| l.contains(": you paid "))
        .unwrap_or_else(|| panic!("no summary in {err}"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

// ---- The cases of the issue. ----

fn an_hchp_meter_over_a_fortnight() {
    // HC/HP 6 kVA, 3 → 16 March 2025, 500 W, HC 22:00–06:00: 4 kWh HC, 8 kWh HP a day.
    // Grid of 2025-02-01: 169.81 €/year, HC 0.1696, HP 0.2146.
    // HC 56 kWh × 0.1696 = 9.4976; HP 112 × 0.2146 = 24.0352; energy 33.5328 €.
    // Subscription 169.81 × 14 / 365 = 6.51326… €. Total 40.04606… € → 40.05.
    // Base 6 kVA (165.17 €/year, 0.2016): 168 × 0.2016 = 33.8688 + 165.17 × 14 / 365
    // (6.33529…) = 40.20409… € → 40.20 (+0.4 %).
    // Tempo 6 kVA (168.87 €/year; blue HC 0.1287 HP 0.1552, white HC 0.1447 HP 0.1792),
    // shipped colours: 3, 4, 12, 13 March white, the others (and 2 March) blue. HP 8 kWh a
    // day: blue 80, white 32; HC 22–24 1 kWh: blue 10, white 4; HC 00–06 3 kWh of the Tempo
    // day before: blue 30, white 12. 40 × 0.1287 + 80 × 0.1552 + 16 × 0.1447 + 32 × 0.1792
    // = 25.6136 € + 168.87 × 14 / 365 (6.47720…) = 32.09080… € → 32.09 (−19.9 %).
    // The meter records up to 17 March 00:00, so 16 March ends on a record.
    let dir = tmp();
    hchp("2025-03-03 00:00", "2025-03-17 00:00", 500).write(dir.path());
    let args = ["--from", "2025-03-03", "--to", "2025-03-16", "--year"];
    let (rows, err) = cost(dir.path(), &args);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(col(r, "contract"), "hchp");
    assert_eq!(col(r, "kva"), "6");
    assert_eq!(col(r, "hc_kwh"), "56.000");
    assert_eq!(col(r, "hp_kwh"), "112.000");
    assert_eq!(col(r, "total_kwh"), "168.000");
    assert_eq!(col(r, "actual_energy_eur"), "33.53");
    assert_eq!(col(r, "actual_subscription_eur"), "6.51");
    assert_eq!(col(r, "actual_total_eur"), "40.05");
    assert_eq!(col(r, "hchp_total_eur"), "40.05", "the learned 22:00-06:00");
    assert_eq!(col(r, "base_total_eur"), "40.20");
    assert_eq!(col(r, "tempo_total_eur"), "32.09");
    assert_eq!(
        col(r, "ejp_total_eur"),
        "",
        "no EJP days, no 6 kVA EJP grid"
    );
    assert_eq!(col(r, "cheapest"), "tempo");
    assert_eq!(col(r, "flags"), "");
    assert_eq!(col(r, "coverage"), "1.0000");
    assert_eq!(
        sentence(&err),
        "2025-03-03 → 2025-03-16: you paid 40.05 € (HC/HP 6 kVA); Tempo would have cost 32.09 € (\u{2212}19.9 %), Base 40.20 € (+0.4 %)"
    );
    assert!(
        err.contains(
            "the meter's own HC hours 22:00-06:00 (learned from 28 switches over 14 days)"
        ),
        "{err}"
    );
    assert!(err.contains("\"H PLEINE/CREUSE\""), "{err}");
    // Days add up to the fortnight, cent rounding apart: 14 rows of 2.86 € (4 × 0.1696 +
    // 8 × 0.2146 = 2.3952 + 0.46523… = 2.86043…).
    let (days, _) = cost(dir.path(), &["--from", "2025-03-03", "--to", "2025-03-16"]);
    assert_eq!(days.len(), 14);
    assert!(
        days.iter().all(|r| col(r, "actual_total_eur") == "2.86"),
        "{days:?}"
    );
    same_both_ways(dir.path(), &args);
}

fn a_tempo_meter_over_a_january_with_red_and_white_days() {
    // Tempo 9 kVA, January 2025, grid of 2024-02-01: 196.32 €/year; blue HC 0.1296 HP
    // 0.1609, white HC 0.1486 HP 0.1894, red HC 0.1568 HP 0.7562. The meter says the shipped
    // colours: red 2, 3, 10, 13–17, 20–22, 30, 31 (13 days); white 4, 7, 8, 9, 11, 18, 23, 29
    // (8); blue the other 10; 31 December 2024 white. 1 kW: a Tempo day D has HP 06–22
    // (16 kWh), HC 22–24 (2 kWh) and HC 00–06 (6 kWh) of D + 1 (1 January's is 31
    // December's). HP: blue 160, white 128, red 208 kWh. HC: 2 × (10, 8, 13) + 6 × (31 Dec–
    // 30 Jan: 10 blue, 9 white, 12 red) = blue 80, white 70, red 98 kWh.
    // 80 × 0.1296 = 10.368; 160 × 0.1609 = 25.744; 70 × 0.1486 = 10.402; 128 × 0.1894 =
    // 24.2432; 98 × 0.1568 = 15.3664; 208 × 0.7562 = 157.2896; energy 243.4132 €.
    // Subscription 196.32 × 31 / 365 = 16.67375… €. Total 260.08695… € → 260.09.
    // HC/HP 9 kVA (200.33 €/year, HC 0.2068, HP 0.27), the 22:00–06:00 it switches at:
    // 248 × 0.2068 = 51.2864 + 496 × 0.27 = 133.92 → 185.2064 + 200.33 × 31 / 365
    // (17.01430…) = 202.22070… → 202.22. Base 9 kVA (190.91 €/year, 0.2516): 744 × 0.2516 =
    // 187.1904 + 16.21401… = 203.40441… → 203.40.
    let dir = tmp();
    let mut h = hchp("2025-01-01 00:00", "2025-02-01 00:00", 1000);
    h.plan = Plan::Tempo;
    h.kva = 9;
    h.write(dir.path());
    let args = ["--from", "2025-01-01", "--to", "2025-01-31", "--month"];
    let (rows, err) = cost(dir.path(), &args);
    let r = &rows[0];
    assert_eq!(col(r, "contract"), "tempo");
    for (c, kwh) in [
        ("hc_bleu_kwh", "80.000"),
        ("hp_bleu_kwh", "160.000"),
        ("hc_blanc_kwh", "70.000"),
        ("hp_blanc_kwh", "128.000"),
        ("hc_rouge_kwh", "98.000"),
        ("hp_rouge_kwh", "208.000"),
    ] {
        assert_eq!(col(r, c), kwh, "{c}");
    }
    assert_eq!(col(r, "actual_energy_eur"), "243.41");
    assert_eq!(col(r, "actual_subscription_eur"), "16.67");
    assert_eq!(col(r, "actual_total_eur"), "260.09");
    assert_eq!(col(r, "tempo_total_eur"), "260.09", "the meter's colours");
    assert_eq!(col(r, "hchp_total_eur"), "202.22");
    assert_eq!(col(r, "base_total_eur"), "203.40");
    assert_eq!(col(r, "cheapest"), "hchp");
    // 31 December's too (the night of 1 January).
    assert!(
        err.contains("Tempo colours of 32 days from the meter"),
        "{err}"
    );
    assert!(err.contains("22:00-06:00 (learned"), "{err}");
    same_both_ways(dir.path(), &args);
}

fn the_meters_tempo_colours_override_the_calendar() {
    // 2025-03-05 and 6 are blue in the shipped calendar; this meter says 5 March is red.
    // Tempo 6 kVA, 1 kW, 5 → 6 March (grid of 2025-02-01: 168.87 €/year; blue HC 0.1287
    // HP 0.1552, red HC 0.1518 HP 0.6586). 5 March: 00–06 is 4 March's (white, 0.1447):
    // 6 kWh; HP red 16; HC red 2. 6 March: 00–06 red 6; HP blue 16; HC blue 2.
    // 6 × 0.1447 + 16 × 0.6586 + 8 × 0.1518 + 16 × 0.1552 + 2 × 0.1287 = 0.8682 + 10.5376 +
    // 1.2144 + 2.4832 + 0.2574 = 15.3608 € + 168.87 × 2 / 365 (0.92531…) = 16.28611… → 16.29.
    let dir = tmp();
    let mut h = hchp("2025-03-05 00:00", "2025-03-07 00:00", 1000);
    h.plan = Plan::Tempo;
    h.colours.insert(day("2025-03-05"), Colour::Red);
    h.write(dir.path());
    let (rows, err) = cost(dir.path(), &["--to", "2025-03-06", "--year"]);
    assert_eq!(col(&rows[0], "actual_total_eur"), "16.29");
    assert_eq!(col(&rows[0], "tempo_total_eur"), "16.29");
    assert!(
        err.contains("Tempo colours of 3 days from the meter (1 differ from the calendar"),
        "{err}"
    );
}

fn a_base_meter() {
    // Base 6 kVA, August 2025, grid of 2025-08-01: 185.94 €/year, 0.1952 €/kWh. 250 W ×
    // 744 h = 186 kWh × 0.1952 = 36.3072 €; subscription 185.94 × 31 / 365 = 15.79216… €;
    // total 52.09936… → 52.10.
    // The meter never says HC or HP: HC/HP with 22:00–06:00 (and a warning). HC/HP 6 kVA
    // (189.99 €/year, HC 0.1635, HP 0.2081): HC 62 kWh × 0.1635 = 10.137; HP 124 × 0.2081
    // = 25.8044; 35.9414 + 189.99 × 31 / 365 (16.13605…) = 52.07745… → 52.08.
    // Tempo 6 kVA, August all blue (and 31 July): 186.46 €/year, HC 0.1232, HP 0.1494:
    // 62 × 0.1232 = 7.6384 + 124 × 0.1494 = 18.5256 → 26.164 + 186.46 × 31 / 365
    // (15.83646…) = 42.00046… → 42.00.
    for shape in [Shape::Standard, Shape::Historique] {
        let dir = tmp();
        let mut h = hchp("2025-08-01 00:00", "2025-09-01 00:00", 250);
        h.plan = Plan::Base;
        h.shape = shape;
        h.write(dir.path());
        let (rows, err) = cost(dir.path(), &["--to", "2025-08-31", "--month"]);
        let r = &rows[0];
        assert_eq!(col(r, "contract"), "base");
        assert_eq!(col(r, "base_kwh"), "186.000");
        assert_eq!(col(r, "actual_total_eur"), "52.10");
        assert_eq!(col(r, "base_total_eur"), "52.10");
        assert_eq!(col(r, "hchp_total_eur"), "52.08");
        assert_eq!(col(r, "tempo_total_eur"), "42.00");
        assert_eq!(col(r, "cheapest"), "tempo");
        assert!(
            err.contains("warning: HC/HP what-if with HC hours 22:00-06:00 (the usual ones"),
            "{err}"
        );
    }
}

fn a_period_spanning_a_price_change() {
    // HC/HP 6 kVA, 25 January → 5 February 2025 at 1 kW: 8 kWh HC and 16 kWh HP a day.
    // 25–31 January, grid of 2024-02-01 (157.87 €/year, HC 0.2068, HP 0.27): a day is
    // 8 × 0.2068 + 16 × 0.27 = 5.9744 € + 157.87 / 365 (0.43252…) = 6.40692… → 6.41.
    // 1–5 February, grid of 2025-02-01 (169.81 €/year, HC 0.1696, HP 0.2146): 4.7904 € +
    // 0.46523… = 5.25563… → 5.26. The whole: energy 7 × 5.9744 + 5 × 4.7904 = 65.7728 €,
    // subscription (157.87 × 7 + 169.81 × 5) / 365 = 5.35380… €, total 71.12660… → 71.13
    // (not 7 × 6.41 + 5 × 5.26 = 71.17: sums are exact, rounding is at the end).
    let dir = tmp();
    hchp("2025-01-25 00:00", "2025-02-06 00:00", 1000).write(dir.path());
    let (rows, err) = cost(dir.path(), &["--to", "2025-02-05"]);
    assert_eq!(rows.len(), 12);
    let totals: Vec<&str> = rows.iter().map(|r| col(r, "actual_total_eur")).collect();
    assert_eq!(totals[..7], ["6.41"; 7]);
    assert_eq!(totals[7..], ["5.26"; 5]);
    assert!(sentence(&err).starts_with("2025-01-25 → 2025-02-05: you paid 71.13 € (HC/HP 6 kVA)"));
    let (month, _) = cost(dir.path(), &["--to", "2025-02-05", "--year"]);
    assert_eq!(col(&month[0], "actual_energy_eur"), "65.77");
    assert_eq!(col(&month[0], "actual_subscription_eur"), "5.35");
    assert_eq!(col(&month[0], "actual_total_eur"), "71.13");
}

fn a_gap_lowers_coverage_and_is_said() {
    // The fortnight of `an_hchp_meter_over_a_fortnight` with no record on 5 March from 20:00
    // to 23:00 (across the 22:00 switch) and none at all on 10 March: the indexes across a
    // gap are interpolated, which at a constant load gives the same energy, so the same
    // euros; the days say how much of them was seen.
    let dir = tmp();
    let mut h = hchp("2025-03-03 00:00", "2025-03-17 00:00", 500);
    h.gaps = vec![
        (at("2025-03-05 20:00"), at("2025-03-05 23:00")),
        (at("2025-03-10 00:00"), at("2025-03-11 00:00")),
    ];
    h.write(dir.path());
    let (rows, _) = cost(dir.path(), &["--to", "2025-03-16"]);
    let by_day = |d: &str| {
        rows.iter()
            .find(|r| col(r, "period_start").starts_with(d))
            .expect("row")
    };
    let r5 = by_day("2025-03-05");
    assert_eq!(col(r5, "coverage"), "0.8743", "(86400 - 10860) / 86400");
    assert_eq!(col(r5, "max_gap_s"), "10860", "19:59 to 23:00");
    assert_eq!(col(r5, "actual_total_eur"), "2.86");
    assert_eq!(col(r5, "hchp_total_eur"), "2.86");
    let r10 = by_day("2025-03-10");
    assert_eq!(col(r10, "records"), "0");
    assert_eq!(col(r10, "coverage"), "0.0000");
    assert_eq!(
        col(r10, "actual_total_eur"),
        "2.86",
        "interpolated, said by coverage"
    );
    let (year, err) = cost(dir.path(), &["--to", "2025-03-16", "--year"]);
    assert_eq!(col(&year[0], "actual_total_eur"), "40.05");
    // (14 × 86400 − 10860 − 86460) / (14 × 86400): the two gaps (19:59 → 23:00 on the 5th,
    // 23:59 on the 9th → 00:00 on the 11th).
    assert_eq!(col(&year[0], "coverage"), "0.9195", "{year:?}");
    assert_eq!(col(&year[0], "max_gap_s"), "86460");
    assert!(sentence(&err).contains("you paid 40.05 €"));
    // A range reaching before the first record: those days have no cost, not 0.
    let (rows, _) = cost(dir.path(), &["--from", "2025-03-01", "--to", "2025-03-03"]);
    assert_eq!(rows.len(), 3);
    assert_eq!(col(&rows[0], "actual_total_eur"), "");
    assert_eq!(col(&rows[0], "total_kwh"), "");
    assert_eq!(col(&rows[2], "actual_total_eur"), "2.86");
    same_both_ways(dir.path(), &["--to", "2025-03-16"]);
}

fn dst_days() {
    // HC/HP 6 kVA at 1 kW on the two DST Sundays of 2025.
    // 30 March (23 h; grid of 2025-02-01): HC 00:00–06:00 is 5 h, 22–24 2 h: 7 kWh ×
    // 0.1696 = 1.1872; HP 16 kWh × 0.2146 = 3.4336; energy 4.6208 €; subscription
    // 169.81 / 365 = 0.46523… €; total 5.08603… → 5.09.
    // 26 October (25 h; grid of 2025-08-01: 189.99 €/year, HC 0.1635, HP 0.2081): HC
    // 7 h + 2 h = 9 kWh × 0.1635 = 1.4715; HP 16 × 0.2081 = 3.3296; energy 4.8011 €;
    // subscription 189.99 / 365 = 0.52052… €; total 5.32162… → 5.32.
    for (from, to, hc, total) in [
        ("2025-03-29 00:00", "2025-03-31 00:00", "7.000", "5.09"),
        ("2025-10-25 00:00", "2025-10-27 00:00", "9.000", "5.32"),
    ] {
        let dir = tmp();
        hchp(from, to, 1000).write(dir.path());
        let d = &from[..8];
        let sunday = format!("{d}{}", if d == "2025-03-" { "30" } else { "26" });
        let args = ["--from", sunday.as_str(), "--to", sunday.as_str()];
        let (rows, _) = cost(dir.path(), &args);
        let r = &rows[0];
        assert_eq!(col(r, "hc_kwh"), hc, "{sunday}");
        assert_eq!(col(r, "hp_kwh"), "16.000", "{sunday}");
        assert_eq!(col(r, "actual_total_eur"), total, "{sunday}");
        assert_eq!(col(r, "hchp_total_eur"), total, "{sunday}");
        same_both_ways(dir.path(), &[]);
    }
}

const WEEK_END: &str = include_str!("data/week-end-prices.toml");

fn prices_with_a_custom_offer() {
    // The week-end offer, 6 kVA, 28 June (Saturday) → 2 July 2025 at 1 kW.
    // Until 30 June: weekdays HC 22–06 0.15, HP 06–22 0.20, week-end all day 0.12;
    // 15 €/month (180 €/year). From 1 July: HC 0.14, HP 0.21, week-end 0.11; 16 €/month.
    // Sat, Sun: 24 kWh × 0.12 = 2.88 € each; Mon 30: 8 × 0.15 + 16 × 0.20 = 4.40 €;
    // Tue 1, Wed 2: 8 × 0.14 + 16 × 0.21 = 4.48 € each. Energy 19.12 €.
    // Subscription (3 × 180 + 2 × 192) / 365 = 924 / 365 = 2.53150… €. Total 21.65150… €.
    // The meter's HC/HP 6 kVA (2025-02-01: HC 0.1696, HP 0.2146, 169.81 €/year): 5 ×
    // 4.7904 = 23.952 + 169.81 × 5 / 365 (2.32616…) = 26.27816… → 26.28.
    let dir = tmp();
    hchp("2025-06-28 00:00", "2025-07-03 00:00", 1000).write(dir.path());
    let prices = dir.path().join("week-end.toml");
    std::fs::write(&prices, WEEK_END).expect("write");
    let p = prices.to_str().expect("utf-8");
    let args = ["--to", "2025-07-02", "--year", "--prices", p];
    let (rows, err) = cost(dir.path(), &args);
    let r = &rows[0];
    assert_eq!(col(r, "actual_total_eur"), "26.28");
    assert_eq!(col(r, "offer_total_eur"), "21.65");
    // Tempo, all blue days: 40 × 0.1287 + 80 × 0.1552 = 17.564 + 168.87 × 5 / 365 = 19.87698…
    assert_eq!(col(r, "tempo_total_eur"), "19.88");
    assert_eq!(col(r, "cheapest"), "tempo");
    assert!(
        sentence(&err).contains(", Week-end 21.65 € (\u{2212}17.6 %)"),
        "{err}"
    );
    // What you pay that supplier: the meter has no register for "Week-end", so the total
    // index is split by the offer's own hours.
    let (rows, err) = cost(dir.path(), &[&args[..], &["--actual-prices"]].concat());
    let r = &rows[0];
    assert_eq!(col(r, "contract"), "Week-end");
    assert_eq!(col(r, "hc_kwh"), "24.000");
    assert_eq!(col(r, "hp_kwh"), "48.000");
    assert_eq!(col(r, "week_end_kwh"), "48.000");
    assert_eq!(col(r, "actual_energy_eur"), "19.12");
    assert_eq!(col(r, "actual_subscription_eur"), "2.53");
    assert_eq!(col(r, "actual_total_eur"), "21.65");
    assert_eq!(col(r, "hchp_total_eur"), "26.28");
    assert!(!r.contains_key("offer_total_eur"));
    assert!(
        err.contains("Week-end: the meter has no register for its band \"Week-end\""),
        "{err}"
    );
    assert!(
        sentence(&err).starts_with("2025-06-28 → 2025-07-02: you paid 21.65 € (Week-end 6 kVA)")
    );
    same_both_ways(dir.path(), &args);
}

fn bad_prices_files_name_the_file_and_line() {
    let dir = tmp();
    hchp("2025-06-28 00:00", "2025-06-29 00:00", 1000).write(dir.path());
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown-key",
            "name = \"X\"\ncolour = \"red\"\n",
            ":2: unknown key",
        ),
        (
            "negative",
            &WEEK_END.replacen("eur_per_kwh = 0.15", "eur_per_kwh = -0.15", 1),
            ":11: eur_per_kwh: expected a price of zero or more, found \"-0.15\"",
        ),
        (
            "overlap",
            &WEEK_END.replacen("hours = \"06:00-22:00\"", "hours = \"05:00-22:00\"", 1),
            ":12: slot \"HP\" overlaps slot \"HC\" (line 7) on Monday 05:00-06:00",
        ),
        (
            "missing-hours",
            &WEEK_END.replacen("hours = \"06:00-22:00\"", "hours = \"07:00-22:00\"", 1),
            ":3: the period from 2025-01-01 has no slot for Monday 06:00-07:00",
        ),
        ("not-toml", "name = \n", ":1: "),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("write");
        let p = path.to_str().expect("utf-8");
        let err = cost_fails(dir.path(), &["--prices", p]);
        assert!(
            err.contains(&format!("{p}{want}")),
            "{name}: expected {p}{want} in {err}"
        );
    }
    let err = cost_fails(dir.path(), &["--prices", "/nonexistent/p.toml"]);
    assert!(err.contains("/nonexistent/p.toml"), "{err}");
    let err = cost_fails(dir.path(), &["--actual-prices"]);
    assert!(err.contains("--prices"), "{err}");
}

fn contract_and_kva_overrides() {
    // The fortnight's HC/HP meter priced as Base 9 kVA (2025-02-01: 208.55 €/year, 0.2016):
    // both registers are Base energy: 168 kWh × 0.2016 = 33.8688 + 208.55 × 14 / 365
    // (7.99917…) = 41.86797… → 41.87.
    let dir = tmp();
    hchp("2025-03-03 00:00", "2025-03-17 00:00", 500).write(dir.path());
    let base = ["--to", "2025-03-16", "--year"];
    let (rows, err) = cost(
        dir.path(),
        &[&base[..], &["--contract", "base", "--kva", "9"]].concat(),
    );
    let r = &rows[0];
    assert_eq!(col(r, "contract"), "base");
    assert_eq!(col(r, "kva"), "9");
    assert_eq!(col(r, "base_kwh"), "168.000");
    assert_eq!(col(r, "actual_total_eur"), "41.87");
    assert_eq!(col(r, "base_total_eur"), "41.87");
    assert!(
        err.contains("actual contract Base 9 kVA: option given, power given"),
        "{err}"
    );
    // Tempo on an HC/HP meter: its registers have no colour, the total index is split by
    // the calendar: the Tempo what-if of the fortnight, 32.09.
    let (rows, err) = cost(dir.path(), &[&base[..], &["--contract", "tempo"]].concat());
    assert_eq!(col(&rows[0], "actual_total_eur"), "32.09");
    assert!(
        err.contains("Tempo: the meter's register EASF01 matches no band"),
        "{err}"
    );
    // Refused before any work: an unknown option, a power out of range.
    for (args, want) in [
        (&["--contract", "heures"][..], "unknown contract \"heures\""),
        (&["--kva", "0"][..], "--kva"),
        (&["--kva", "37"][..], "--kva"),
        (&["--hour"][..], "--hour"),
    ] {
        let err = cost_fails(dir.path(), args);
        assert!(
            err.to_lowercase().contains(&want.to_lowercase()),
            "{args:?}: {err}"
        );
    }
    // A power without a grid is an error naming it, never a zero price.
    let err = cost_fails(dir.path(), &["--contract", "tempo", "--kva", "24"]);
    assert!(
        err.contains("Tempo 24 kVA") && err.contains("24 kVA"),
        "{err}"
    );
}

fn hc_hours_given() {
    // The fortnight (500 W) with HC 01:00–07:00: 3 kWh HC, 9 kWh HP a day: 42 × 0.1696 =
    // 7.1232 + 126 × 0.2146 = 27.0396 → 34.1628 + 6.51326… = 40.67606… → 40.68.
    // With 01:04–06:34,14:34–17:04 (8 h a day): 4 kWh HC, 8 HP a day, the fortnight's
    // 40.05; the minutes are not the meter's, so those days are read in full: the same
    // result with or without the index.
    let dir = tmp();
    hchp("2025-03-03 00:00", "2025-03-17 00:00", 500).write(dir.path());
    let base = ["--to", "2025-03-16", "--year"];
    let (rows, err) = cost(dir.path(), &[&base[..], &["--hc", "01:00-07:00"]].concat());
    assert_eq!(col(&rows[0], "hchp_total_eur"), "40.68");
    assert_eq!(
        col(&rows[0], "actual_total_eur"),
        "40.05",
        "the meter's registers"
    );
    assert!(
        err.contains("the HC hours given (01:00-07:00) are not the meter's (22:00-06:00)"),
        "{err}"
    );
    let odd = [&base[..], &["--hc", "01:04-06:34,14:34-17:04"]].concat();
    let text = same_both_ways(dir.path(), &odd);
    assert!(text.contains(",40.05,"), "{text}");
    let err = cost_fails(dir.path(), &["--hc", "22:00-25:00"]);
    assert!(err.contains("22:00-25:00"), "{err}");
}

fn beyond_the_last_grid_and_a_tempo_calendar() {
    // 1–3 September 2026, after the shipped tables (known until 2026-08-23): HC/HP 6 kVA at
    // 1 kW with the last grid (2026-02-01: 15.65 €/month = 187.80 €/year, HC 0.1579, HP
    // 0.2065): 24 × 0.1579 = 3.7896 + 48 × 0.2065 = 9.912 → 13.7016 + 187.80 × 3 / 365
    // (1.54356…) = 15.24516… → 15.25, with a warning and the flags.
    // No Tempo colour is known: Tempo is left out (3 days counted). With a calendar file
    // (31 August blue, 1 September white, 2 red, 3 blue) and the last Tempo grid (15.59
    // €/month = 187.08 €/year; blue HC 0.1325 HP 0.1612, white HC 0.1499 HP 0.1871, red HC
    // 0.1575 HP 0.706): blue HC 6 (1 Sep 00–06) + 2 = 8 × 0.1325 = 1.06; blue HP 16 × 0.1612
    // = 2.5792; white HC 2 + 6 = 8 × 0.1499 = 1.1992; white HP 16 × 0.1871 = 2.9936; red HC
    // 2 + 6 = 8 × 0.1575 = 1.26; red HP 16 × 0.706 = 11.296. Energy 20.388 + 187.08 × 3 /
    // 365 (1.53764…) = 21.92564… → 21.93.
    let dir = tmp();
    hchp("2026-09-01 00:00", "2026-09-04 00:00", 1000).write(dir.path());
    let base = ["--to", "2026-09-03", "--year"];
    let (rows, err) = cost(dir.path(), &base);
    let r = &rows[0];
    assert_eq!(col(r, "actual_total_eur"), "15.25");
    assert_eq!(col(r, "tempo_total_eur"), "");
    assert_eq!(col(r, "tempo_missing_days"), "3");
    assert!(col(r, "flags").contains("beyond_last_grid"), "{r:?}");
    assert!(col(r, "flags").contains("monthly_subscription"), "{r:?}");
    assert!(
        err.contains(
            "warning: HC/HP: days after the last known prices were priced with those of 2026-02-01"
        ),
        "{err}"
    );
    assert!(
        err.contains("warning: 4 days without a known Tempo colour left out of the Tempo total: 2026-08-31, 2026-09-01, 2026-09-02, 2026-09-03"),
        "{err}"
    );
    let cal = dir.path().join("tempo.csv");
    std::fs::write(
        &cal,
        "date,colour\n2026-08-31,BLEU\n2026-09-01,BLANC\n2026-09-02,ROUGE\n2026-09-03,bleu\n",
    )
    .expect("write");
    let c = cal.to_str().expect("utf-8");
    let (rows, _) = cost(dir.path(), &[&base[..], &["--tempo-calendar", c]].concat());
    assert_eq!(col(&rows[0], "tempo_total_eur"), "21.93");
    assert_eq!(col(&rows[0], "tempo_missing_days"), "0");
    // A bad calendar names its file and line.
    std::fs::write(&cal, "date,colour\n2026-09-01,BLANC\n2026-09-02,VIOLET\n").expect("write");
    let err = cost_fails(dir.path(), &["--tempo-calendar", c]);
    assert!(err.contains(&format!("{c}:3")), "{err}");
}

fn a_glitching_index_does_not_change_the_bill() {
    // The fortnight with, on 5 March at 12:00, a record whose every index reads 999999999
    // (a checksum that happened to verify), and on 8 March at 03:00 one reading 0: the
    // guards leave both out: 40.05 € again, the days flagged.
    let dir = tmp();
    let mut h = hchp("2025-03-03 00:00", "2025-03-17 00:00", 500);
    h.glitches = vec![
        (at("2025-03-05 12:00"), 999_999_999),
        (at("2025-03-08 03:00"), 0),
    ];
    h.write(dir.path());
    let (rows, err) = cost(dir.path(), &["--to", "2025-03-16", "--year"]);
    let r = &rows[0];
    assert_eq!(col(r, "actual_total_eur"), "40.05");
    assert_eq!(col(r, "hchp_total_eur"), "40.05");
    assert_eq!(col(r, "tempo_total_eur"), "32.09");
    assert_eq!(col(r, "hc_kwh"), "56.000");
    assert!(col(r, "flags").contains("implausible_jump"), "{r:?}");
    assert!(col(r, "flags").contains("index_reset"), "{r:?}");
    assert!(sentence(&err).contains("you paid 40.05 €"));
    let (days, _) = cost(dir.path(), &["--to", "2025-03-16"]);
    assert!(
        days.iter().all(|r| col(r, "actual_total_eur") == "2.86"),
        "{days:?}"
    );
    same_both_ways(dir.path(), &["--to", "2025-03-16"]);
}

fn historique_meters() {
    // A historique HC/HP meter (OPTARIF HC.., ISOUSC 30 A = 6 kVA, HCHC/HCHP): the
    // fortnight's 40.05 €.
    let dir = tmp();
    let mut h = hchp("2025-03-03 00:00", "2025-03-17 00:00", 500);
    h.shape = Shape::Historique;
    h.write(dir.path());
    let (rows, err) = cost(dir.path(), &["--to", "2025-03-16", "--year"]);
    assert_eq!(col(&rows[0], "actual_total_eur"), "40.05");
    assert_eq!(col(&rows[0], "hchp_total_eur"), "40.05");
    assert_eq!(col(&rows[0], "tempo_total_eur"), "32.09");
    assert!(
        err.contains("option from the meter (\"HC..\"), power from the meter (6 kVA)"),
        "{err}"
    );
    // A historique Tempo meter (BBR(, BBRHCJB…): January 2025's 260.09 €.
    let dir = tmp();
    let mut h = hchp("2025-01-01 00:00", "2025-02-01 00:00", 1000);
    h.shape = Shape::Historique;
    h.plan = Plan::Tempo;
    h.kva = 9;
    h.write(dir.path());
    let (rows, _) = cost(dir.path(), &["--to", "2025-01-31", "--month"]);
    assert_eq!(col(&rows[0], "actual_total_eur"), "260.09");
    assert_eq!(col(&rows[0], "tempo_total_eur"), "260.09");
    // A historique EJP meter, 9 kVA, 3 → 5 March 2025 at 1 kW, 4 March a mobile-peak day
    // (07:00 → 5 March 01:00, 18 h). Grid of 2025-02-01: 17.20 €/month (206.40 €/year),
    // normal 0.1476, mobile peak 1.1038. Normal 54 kWh × 0.1476 = 7.9704; peak 18 × 1.1038
    // = 19.8684; energy 27.8388 + 206.40 × 3 / 365 (1.69643…) = 29.53523… → 29.54.
    // Base 9 kVA: 72 × 0.2016 = 14.5152 + 208.55 × 3 / 365 (1.71410…) = 16.22930… → 16.23.
    let dir = tmp();
    let mut h = hchp("2025-03-03 00:00", "2025-03-06 00:00", 1000);
    h.shape = Shape::Historique;
    h.plan = Plan::Ejp(vec![day("2025-03-04")]);
    h.kva = 9;
    h.write(dir.path());
    let (rows, err) = cost(dir.path(), &["--to", "2025-03-05", "--year"]);
    let r = &rows[0];
    assert_eq!(col(r, "contract"), "ejp");
    assert_eq!(col(r, "ejp_normal_kwh"), "54.000");
    assert_eq!(col(r, "ejp_pointe_mobile_kwh"), "18.000");
    assert_eq!(col(r, "actual_total_eur"), "29.54");
    assert_eq!(col(r, "ejp_total_eur"), "29.54");
    assert_eq!(col(r, "base_total_eur"), "16.23");
    assert!(col(r, "flags").contains("monthly_subscription"), "{r:?}");
    assert!(err.contains("\"EJP.\""), "{err}");
}

// ---- The meter's own schedule, from the summaries. ----

/// Counts how the days were read.
#[derive(Default)]
struct Count {
    index: usize,
    built: usize,
    full: usize,
}

impl ExportObserver for Count {
    fn day_read(&mut self, _day: NaiveDate, how: DayRead) {
        match how {
            DayRead::Index => self.index += 1,
            DayRead::Built => self.built += 1,
            DayRead::Full => self.full += 1,
        }
    }
}

fn an_odd_minute_schedule_is_learned_and_read_from_the_summaries() {
    // A meter whose HC are 01:04–06:34 and 14:34–17:04 (8 h a day), records every 20 s, a
    // week at 500 W: HC 4 kWh, HP 8 kWh a day, as 22:00–06:00: the fortnight's daily 2.86 €.
    // The schedule is learned from its switches; with the index, every day is read from its
    // summary (the marks around each switch give the index at its minute), and the report is
    // that of a full read.
    let dir = tmp();
    let mut h = hchp("2025-03-03 00:00", "2025-03-10 00:00", 500);
    h.plan = Plan::HcHp(vec![(64, 394), (874, 1024)]);
    h.step = 20;
    h.write(dir.path());
    let store = tic_rec::export::open(dir.path()).expect("store");
    let mut options = tic_rec::cost::Options::new(Period::Day);
    options.to = Some(day("2025-03-09"));
    options.mode = ReadMode::Scan;
    let scan = tic_rec::cost::report(&store, &options, &mut Count::default()).expect("scan");
    assert_eq!(scan.schedule.to_string(), "01:04-06:34,14:34-17:04");
    options.mode = ReadMode::Index;
    let mut first = Count::default();
    let built = tic_rec::cost::report(&store, &options, &mut first).expect("built");
    let mut second = Count::default();
    let indexed = tic_rec::cost::report(&store, &options, &mut second).expect("indexed");
    assert_eq!(
        (second.index, second.built, second.full),
        (7, 0, 0),
        "every day from its summary"
    );
    let columns = |r: &tic_rec::cost::Report| tic_rec::cost::output::columns(r);
    assert_eq!(columns(&built), columns(&scan));
    assert_eq!(columns(&indexed), columns(&scan));
    let total = indexed.total.as_ref().expect("total");
    assert_eq!(
        total.actual.total().plain(),
        "20.02",
        "7 × 2.86043… = 20.02305…"
    );
    let hchp = total
        .for_tariff(tic_rec::cost::Tariff::HcHp)
        .and_then(tic_rec::cost::Outcome::cost)
        .expect("HC/HP priced");
    assert_eq!(hchp.total().plain(), "20.02");
    assert_eq!(
        hchp.bands.iter().map(|b| b.wh).collect::<Vec<_>>(),
        [28_000, 56_000]
    );
    // A --hc at other minutes reads the days in full, and agrees.
    options.hc = Some("01:05-06:35".parse().expect("hc"));
    let mut c = Count::default();
    let other = tic_rec::cost::report(&store, &options, &mut c).expect("other");
    assert_eq!(c.full, 7, "{:?}", (c.index, c.built, c.full));
    options.mode = ReadMode::Scan;
    let other_scan = tic_rec::cost::report(&store, &options, &mut Count::default()).expect("scan");
    assert_eq!(columns(&other), columns(&other_scan));
}

fn an_archived_year_costs_the_same_as_its_csv_days() {
    // Costs over CSV days, then over the same days compacted to Parquet: the same output.
    let dir = tmp();
    let mut h = hchp("2025-01-29 00:00", "2025-02-04 00:00", 700);
    h.plan = Plan::HcHp(vec![(64, 394), (874, 1024)]);
    h.glitches = vec![(at("2025-01-31 10:00"), 5)];
    h.write(dir.path());
    let args = ["--week", "--to", "2025-02-03"];
    let before = same_both_ways(dir.path(), &args);
    let out = tic_rec(&[
        "compact",
        "--include-today",
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(dir.path().join(".tic-rec-index")).ok();
    let after = same_both_ways(dir.path(), &args);
    assert_eq!(before, after);
}

// ---- A simulated meter, replayed. ----

fn a_simulated_tempo_meter_replayed() {
    // Three days of the simulator's Tempo meter (its own colours, a household's load), one
    // frame a minute, recorded with `record --replay`. The actual cost comes from its six
    // registers; the Tempo what-if splits EAST at 06:00 and 22:00 by the colours it said:
    // the same energy in each band, so the same euros; HC/HP with the hours it switches at
    // has the registers' HC and HP sums.
    let dir = tmp();
    let capture = dir.path().join("tempo.tic");
    let data = dir.path().join("data");
    let out = tic_rec(&[
        "simulate",
        "--contract",
        "tempo",
        "--start",
        "2025-01-08T00:00:00",
        "--duration",
        "72h",
        "--frame-interval",
        "1min",
        "--output",
        capture.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tic_rec(&[
        "record",
        "--replay",
        capture.to_str().expect("utf-8"),
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--archive",
        "csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (rows, err) = cost(
        &data,
        &["--from", "2025-01-08", "--to", "2025-01-10", "--year"],
    );
    let r = &rows[0];
    assert_eq!(col(r, "contract"), "tempo");
    assert_eq!(
        col(r, "tempo_total_eur"),
        col(r, "actual_total_eur"),
        "{r:?}\n{err}"
    );
    let kwh = |c: &str| col(r, c).parse::<f64>().expect("kWh");
    let bands = [
        "hc_bleu_kwh",
        "hp_bleu_kwh",
        "hc_blanc_kwh",
        "hp_blanc_kwh",
        "hc_rouge_kwh",
        "hp_rouge_kwh",
    ];
    let sum: f64 = bands.iter().map(|b| kwh(b)).sum();
    assert!((sum - kwh("total_kwh")).abs() < 0.0005, "{r:?}");
    assert!(err.contains("22:00-06:00 (learned"), "{err}");
    assert!(err.contains("Tempo colours of"), "{err}");
}

fn duckdb_and_pandas_read_the_parquet_cost_exactly() {
    // The fortnight by day, as Parquet: DuckDB sums the exact decimals to the fortnight's
    // euros (14 × 2.86 = 40.04, the rows being rounded; the energy sum 14 × 2.3952 = 33.5328
    // rounds per row to 2.40: 33.60), pandas loads them as decimals and times as UTC.
    let python = common::python(common::READERS);
    let dir = tmp();
    hchp("2025-03-03 00:00", "2025-03-17 00:00", 500).write(dir.path());
    let out = dir.path().join("cost.parquet");
    let o = tic_rec(&[
        "cost",
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
        "--to",
        "2025-03-16",
        "-o",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = format!(
        r#"
import duckdb, json, pandas
con = duckdb.connect()
r = con.execute("SELECT count(*), sum(actual_total_eur), sum(actual_energy_eur), typeof(any_value(actual_total_eur)), typeof(any_value(hc_kwh)), sum(hc_kwh), any_value(cheapest) FROM read_parquet('{p}')").fetchone()
df = pandas.read_parquet('{p}')
print(json.dumps({{"rows": r[0], "total": str(r[1]), "energy": str(r[2]), "eur_type": r[3], "kwh_type": r[4], "hc": str(r[5]), "cheapest": r[6],
    "start": str(df.period_start.dtype), "eur": type(df.actual_total_eur[0]).__name__}}))
"#,
        p = out.display()
    );
    let o = std::process::Command::new(&python)
        .args(["-c", &script])
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["rows"], 14);
    assert_eq!(v["total"], "40.04");
    assert_eq!(v["energy"], "33.60");
    assert_eq!(v["eur_type"], "DECIMAL(18,2)");
    assert_eq!(v["kwh_type"], "DECIMAL(18,3)");
    assert_eq!(v["hc"], "56.000");
    assert_eq!(v["cheapest"], "tempo");
    assert!(v["start"].as_str().expect("dtype").contains("UTC"), "{v}");
    assert_eq!(v["eur"], "Decimal");
}
