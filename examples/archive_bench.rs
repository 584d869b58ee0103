//! Figures for the archive (`benches/archive.sh` runs it):
//! - `sizes DIR`: bytes of each stored column over every Parquet day of DIR, per row;
//! - `read DIR`: reads every cell of every day of DIR through `store::DayReader` (CSV or
//!   Parquet, whichever the day has: the same code), and prints rows, cells and rows/s;
//! - `columns DIR`: decodes every stored column of every Parquet day into Arrow arrays
//!   (the columnar read a dashboard or a cost engine would do), with the digests checked.

use std::time::Instant;

use tic_rec::store::{Catalog, Columns, DayReader, Next};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (cmd, dir) = match (args.get(1), args.get(2)) {
        (Some(c), Some(d)) => (c.as_str(), std::path::PathBuf::from(d)),
        _ => return Err("usage: archive_bench sizes|read|columns DIR".into()),
    };
    let catalog = Catalog::open(&dir)?;
    match cmd {
        "sizes" => sizes(&catalog),
        "read" => read(&catalog),
        "columns" => columns(&catalog),
        _ => Err(format!("unknown command {cmd}").into()),
    }
}

fn sizes(catalog: &Catalog) -> Result<(), Box<dyn std::error::Error>> {
    let mut by: Vec<(String, u64)> = Vec::new();
    let (mut rows, mut files, mut total) = (0u64, 0u64, 0u64);
    for (_, f) in catalog.all() {
        let Some(p) = &f.parquet else { continue };
        let day = tic_rec::store::ParquetDay::open(&p.path)?;
        rows += day.meta().rows;
        files += 1;
        total += p.len;
        for c in &day.meta().stored {
            let b = day.column_bytes(&c.name).unwrap_or(0);
            match by.iter_mut().find(|(n, _)| *n == c.name) {
                Some(e) => e.1 += b,
                None => by.push((c.name.clone(), b)),
            }
        }
    }
    let data: u64 = by.iter().map(|(_, b)| b).sum();
    println!("| column | bytes | bytes/row | share |");
    println!("|---|---:|---:|---:|");
    for (n, b) in &by {
        println!(
            "| {n} | {b} | {:.4} | {:.1} % |",
            *b as f64 / rows as f64,
            100.0 * *b as f64 / total as f64
        );
    }
    let other = total - data;
    println!(
        "| (footers, metadata, page headers) | {other} | {:.4} | {:.1} % |",
        other as f64 / rows as f64,
        100.0 * other as f64 / total as f64
    );
    println!(
        "| **total** ({files} files, {rows} rows) | {total} | **{:.3}** | 100 % |",
        total as f64 / rows as f64
    );
    Ok(())
}

fn read(catalog: &Catalog) -> Result<(), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let (mut rows, mut cells, mut bytes) = (0u64, 0u64, 0u64);
    let mut time = String::new();
    for (day, files) in catalog.all() {
        if !files.has_data() {
            continue;
        }
        let mut r = DayReader::open(day, files, Columns::All)?;
        let n = r.columns().len();
        while let Some(next) = r.advance()? {
            if next != Next::Row {
                continue;
            }
            time.clear();
            r.push_time_text(&mut time);
            bytes += time.len() as u64;
            for j in 1..n {
                bytes += match r.cell(j) {
                    tic_rec::store::Cell::Null => 0,
                    tic_rec::store::Cell::Int(v) => v as u64 & 1,
                    tic_rec::store::Cell::Text(s) => s.len() as u64,
                };
            }
            rows += 1;
            cells += n as u64;
        }
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "read {rows} rows, {cells} cells in {s:.3} s: {:.2} M rows/s (checksum {bytes})",
        rows as f64 / s / 1e6
    );
    Ok(())
}

fn columns(catalog: &Catalog) -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<std::path::PathBuf> = catalog
        .all()
        .filter_map(|(_, f)| f.parquet.as_ref().map(|p| p.path.clone()))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, cores] {
        let t0 = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let rows = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> Result<u64, tic_rec::store::ReadError> {
                        let mut rows = 0;
                        while let Some(p) =
                            files.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                        {
                            rows += tic_rec::store::archive::decode_day(p)?;
                        }
                        Ok(rows)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().map_err(|_| "a thread panicked".to_string()))
                .try_fold(0u64, |n, r| {
                    Ok::<u64, String>(n + r?.map_err(|e| e.to_string())?)
                })
        })?;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "decoded every column of {rows} rows on {threads} thread(s) in {secs:.3} s: {:.2} M rows/s",
            rows as f64 / secs / 1e6
        );
    }
    Ok(())
}
