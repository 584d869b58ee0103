//! Writes simulated daily files (one standard-mode record a second) for the benchmarks.
//! `cargo run --release --example gen_year -- DIR DAYS [noisy] [RATE] [hc=HH:MM-HH:MM,…]`
//! (straight to the store format).
//! Buffered, and the time text is formatted once a minute: ~30 s for a year.
//!
//! By default the power is a step every 10 minutes (the export benchmark's data). With
//! `noisy`, it is a household's: a daily profile, a water heater on off-peak hours, random
//! appliances and ±20 VA of noise every second, the voltage wandering around 231 V, the
//! current following: what a real meter's SINSTS/URMS1/IRMS1 look like, for the archive's
//! size figures. A number writes that many rows a second (times `HH:MM:SS.d`). `hc=…` sets the
//! off-peak hours (default `22:00-06:00`; the cost benchmark's `01:04-06:34,14:34-17:04`).
//! `every=N` writes one row every N seconds (the household still integrated each second:
//! the dataset benchmark's one row a minute, one every 10 s).

use std::io::{BufWriter, Write};

use chrono::{Days, NaiveDate, TimeZone};
use tic_rec::store::{day_file, TZ};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or("target/bench-export", String::as_str));
    let days: u64 = args.get(2).and_then(|d| d.parse().ok()).unwrap_or(365);
    let rest = args.get(3..).unwrap_or_default();
    let noisy = rest.iter().any(|a| a == "noisy");
    // Rows a second (the recorder writes at most one; more, with fractional times, only to
    // measure the conversion's memory on an oversized day).
    let rate: i64 = rest.iter().find_map(|r| r.parse().ok()).unwrap_or(1).max(1);
    // Off-peak windows, local minutes [a, b) (wrapping when b <= a).
    let off_peak: Vec<(u32, u32)> = rest
        .iter()
        .find_map(|a| a.strip_prefix("hc="))
        .unwrap_or("22:00-06:00")
        .split(',')
        .map(|w| {
            let m = |s: &str| {
                let (h, m) = s.split_once(':').expect("HH:MM");
                h.parse::<u32>().expect("hour") * 60 + m.parse::<u32>().expect("minute")
            };
            let (a, b) = w.split_once('-').expect("HH:MM-HH:MM");
            (m(a), m(b))
        })
        .collect();
    let every: i64 = rest
        .iter()
        .find_map(|a| a.strip_prefix("every=")?.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut rng = fastrand::Rng::with_seed(42);
    let mut volts = 231i64;
    let mut events: Vec<(i64, i64)> = Vec::new();
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let (mut east, mut hc, mut hp) = (10_000_000i64, 4_000_000i64, 6_000_000i64);
    let mut joules = 0i64;
    for d in 0..days {
        let day = first.checked_add_days(Days::new(d)).expect("date");
        let path = day_file(&dir, day, 0);
        std::fs::create_dir_all(path.parent().expect("parent"))?;
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        w.write_all(b"time,time_source,ADSC,NGTF,LTARF,NTARF,EAST,EASF01,EASF02,EASF03,EASF04,EASF05,EASF06,EASF07,EASF08,EASF09,EASF10,EASD01,EASD02,EASD03,EASD04,SINSTS,IRMS1,URMS1,PREF,PCOUP\n")?;
        let start = TZ
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("t"))
            .earliest()
            .expect("t");
        let end = TZ
            .from_local_datetime(&day.succ_opt().expect("d").and_hms_opt(0, 0, 0).expect("t"))
            .earliest()
            .expect("t");
        let mut t = start;
        let mut minute = String::new();
        while t < end {
            if minute.is_empty() || t.timestamp() % 60 == 0 {
                // "YYYY-MM-DDTHH:MM:" and the offset, once a minute.
                let s = t.to_rfc3339();
                minute = format!("{}\u{0}{}", &s[..17], &s[19..]);
            }
            let (head, off) = minute.split_once('\u{0}').unwrap_or((&minute, ""));
            let sec = chrono::Timelike::second(&t);
            let local = t.naive_local();
            let h = chrono::Timelike::hour(&local);
            let m = h * 60 + chrono::Timelike::minute(&local);
            let is_hc = off_peak.iter().any(|&(a, b)| {
                if a < b {
                    (a..b).contains(&m)
                } else {
                    m >= a || m < b
                }
            });
            let (p, v) = if noisy {
                let hf = f64::from(h) + f64::from(chrono::Timelike::minute(&local)) / 60.0;
                let mut load = 250.0 + 100.0 * ((hf / 24.0) * std::f64::consts::TAU).sin().abs();
                if (6.5..8.5).contains(&hf) {
                    load += 700.0;
                }
                if (18.0..22.5).contains(&hf) {
                    load += 1100.0;
                }
                if is_hc && !(1.5..22.0).contains(&hf) {
                    load += 1800.0;
                }
                let now = t.timestamp();
                events.retain(|&(end, _)| end > now);
                if rng.f64() < 0.002 / 60.0 {
                    let (w, min) = [(2000, 3), (2400, 45), (1800, 90)][rng.usize(0..3)];
                    events.push((now + min * 60, w));
                }
                load += events.iter().map(|&(_, w)| w as f64).sum::<f64>();
                load += rng.f64() * 40.0;
                if rng.u8(0..4) == 0 {
                    volts = (volts + rng.i64(-1..=1)).clamp(226, 236);
                }
                (load as i64, volts)
            } else {
                (400 + (t.timestamp() / 600 % 7) * 350, 231)
            };
            joules += p / rate;
            while joules >= 3600 {
                joules -= 3600;
                east += 1;
                if is_hc {
                    hc += 1
                } else {
                    hp += 1
                }
            }
            let (n, l) = if is_hc {
                (1, "HEURE CREUSE")
            } else {
                (2, "HEURE PLEINE")
            };
            let written = if t.timestamp() % every == 0 { rate } else { 0 };
            for k in 0..written {
                let frac = if rate > 1 {
                    format!(".{k}")
                } else {
                    String::new()
                };
                writeln!(w, "{head}{sec:02}{frac}{off},meter,041876097171,H PLEINE/CREUSE,{l},{n},{east},{hc},{hp},0,0,0,0,0,0,0,0,{hc},{hp},0,0,{p},{},{v},9,9", if noisy { (p + v / 2) / v } else { p / 230 })?;
            }
            t += chrono::Duration::seconds(1);
        }
    }
    Ok(())
}
