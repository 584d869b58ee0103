//! Writes simulated daily files (one standard-mode record a second) for the export benchmark.
//! `cargo run --release --example gen_year -- DIR DAYS` (straight to the store format).
//! Buffered, and the time text is formatted once a minute: ~30 s for a year.

use std::io::{BufWriter, Write};

use chrono::{Days, NaiveDate, TimeZone};
use tic_rec::store::{day_file, TZ};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or("target/bench-export", String::as_str));
    let days: u64 = args.get(2).and_then(|d| d.parse().ok()).unwrap_or(365);
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
            let is_hc = !(6..22).contains(&h);
            let p = 400 + (t.timestamp() / 600 % 7) * 350;
            joules += p;
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
            writeln!(w, "{head}{sec:02}{off},meter,041876097171,H PLEINE/CREUSE,{l},{n},{east},{hc},{hp},0,0,0,0,0,0,0,0,{hc},{hp},0,0,{p},{},231,9,9", p / 230)?;
            t += chrono::Duration::seconds(1);
        }
    }
    Ok(())
}
