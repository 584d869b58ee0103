//! Times the parts of a cold Month page over a data directory (BENCHMARKS.md, "Dashboard"):
//! the month's table (`export::export_store`) and its costs (`cost::report`), each on its
//! own, a distinct month each time so that nothing is cached in the process.
//!
//! Usage: cargo run --release --example month_page -- DATA_DIR YEAR
use std::time::Instant;

use tic_rec::export::{self, Period, Quiet, ReadMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::Path::new(args.get(1).ok_or("DATA_DIR")?);
    let year: i32 = args.get(2).ok_or("YEAR")?.parse()?;
    let catalog = export::open(dir)?;
    for m in 1..=12u32 {
        let first = chrono::NaiveDate::from_ymd_opt(year, m, 1).ok_or("date")?;
        let last = first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt())
            .ok_or("date")?;
        let t = Instant::now();
        let options = export::Options {
            period: Period::Day,
            from: Some(first),
            to: Some(last),
            mode: ReadMode::Index,
        };
        let table = export::export_store(&catalog, &options, &mut Quiet)?;
        let table_ms = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let mut o = tic_rec::cost::Options::new(Period::Day);
        (o.from, o.to) = (Some(first), Some(last));
        let r = tic_rec::cost::report(&catalog, &o, &mut Quiet)?;
        let cost_ms = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "{first}: table {table_ms:6.1} ms ({} rows), cost {cost_ms:6.1} ms ({} rows)",
            table.rows.len(),
            r.rows.len()
        );
    }
    Ok(())
}
