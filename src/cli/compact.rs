//! `tic-rec compact`: archives a data directory's closed CSV days as Parquet, or checks the
//! archived days.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use tic_rec::error::Chain;
use tic_rec::store::archive::{self, Fail, Outcome, Settings, Step};
use tic_rec::store::{Catalog, DirLock, StoreError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory the recorder writes to.
    #[arg(long, default_value = "tic-data")]
    data_dir: PathBuf,
    /// Read every archived day back and report any that does not verify; convert nothing.
    #[arg(long)]
    check: bool,
    /// Keep the CSV files beside the Parquet files.
    #[arg(long, conflicts_with = "check")]
    keep_csv: bool,
    /// Also convert today's file (a directory copied from another machine: nothing records
    /// into it). By default the days before today are converted.
    #[arg(long, conflicts_with = "check")]
    include_today: bool,
}

/// A bar over the days on a terminal (plain lines otherwise).
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new(n: usize, what: &str) -> Progress {
        Progress((io::stderr().is_terminal() && n > 1).then(|| {
            let bar = ProgressBar::new(n as u64);
            if let Ok(style) = ProgressStyle::with_template(&format!(
                "{{spinner}} {what} {{pos}}/{{len}} days {{wide_bar}} {{eta}}"
            )) {
                bar.set_style(style);
            }
            bar
        }))
    }

    /// A line above the bar.
    fn say(&self, line: String) {
        match &self.0 {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// One more day done.
    fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A failure to inject, from `TIC_REC_FAIL_AT` (debug builds only: the tests' crash points).
pub fn injected_failure() -> Option<Fail> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let v = std::env::var("TIC_REC_FAIL_AT").ok()?;
    match v.strip_prefix("error:") {
        Some(s) => Step::from_name(s).map(Fail::Error),
        None => Step::from_name(&v).map(Fail::Abort),
    }
}

/// Takes the data directory's lock: a recorder running on it archives its closed days
/// itself, and removes CSV files only while it does not write them.
fn lock(dir: &std::path::Path) -> Result<DirLock> {
    let holder = format!(
        "tic-rec pid {}, since {}, compacting by hand (tic-rec compact)",
        std::process::id(),
        chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    );
    match DirLock::acquire(dir, &holder) {
        Ok(l) => Ok(l),
        Err(StoreError::Locked { dir, holder }) if holder.contains("(tic-rec compact)") => {
            bail!(
                "another tic-rec compact is running on {} ({holder})",
                dir.display()
            )
        }
        Err(StoreError::Locked { dir, holder }) => bail!(
            "a recorder is running on {} ({holder}); it archives closed days itself; stop it to \
             compact by hand",
            dir.display()
        ),
        Err(e) => Err(e).context("cannot lock the data directory"),
    }
}

pub fn run(args: Args) -> Result<()> {
    super::setup::check_data_dir(&args.data_dir)?;
    // The error names the directory and its cause.
    let open = || Catalog::open(&args.data_dir);
    if args.check {
        return check(&open()?);
    }
    open()?;
    let lock = lock(&args.data_dir)?;
    super::setup::move_layout(&args.data_dir, &lock)?;
    let catalog = open()?;
    let today = chrono::Utc::now()
        .with_timezone(&tic_rec::store::TZ)
        .date_naive();
    let before = (!args.include_today).then_some(today);
    let days = archive::days_to_compact(&catalog, before);
    let settings = Settings {
        keep_csv: args.keep_csv,
        fail: injected_failure(),
        ..Settings::new(tic_rec::export::Summariser::boxed)
    };
    let bar = Progress::new(days.len(), "archiving");
    let (mut done, mut rows, mut csv, mut pq, mut failed) = (0, 0u64, 0u64, 0u64, 0);
    for day in &days {
        match archive::compact_day(&args.data_dir, *day, &settings, None, None) {
            Ok(Outcome::Converted {
                rows: r,
                csv_bytes,
                parquet_bytes,
                changed,
                in_use,
                ..
            }) => {
                done += 1;
                rows += r;
                csv += csv_bytes;
                pq += parquet_bytes;
                if changed > 0 {
                    bar.say(
                        format!("tic-rec: {day}: {changed} CSV file(s) changed while archived: kept (run again)"),
                    );
                }
                if in_use > 0 {
                    bar.say(
                        format!("tic-rec: {day}: {in_use} CSV file(s) open in another process: kept (run again)"),
                    );
                }
            }
            Ok(Outcome::NoRows { removed, kept }) => {
                let what = match (removed, kept) {
                    (_, 0) => "removed",
                    (0, _) => "kept",
                    _ => "some removed, some kept",
                };
                bar.say(format!(
                    "tic-rec: {day}: no rows (an empty file, or one cut inside its header): {what}"
                ));
            }
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                bar.say(format!("tic-rec: {day}: {}", Chain(&e)));
            }
        }
        bar.inc();
    }
    drop(bar);
    if done == 0 && failed == 0 {
        eprintln!(
            "tic-rec: {}",
            nothing_to_archive(&open()?, today, args.include_today)
        );
    } else {
        let per_row = if rows > 0 {
            format!(", {:.2} bytes a row", pq as f64 / rows as f64)
        } else {
            String::new()
        };
        eprintln!(
            "tic-rec: archived {done} day(s), {rows} rows: {} of CSV into {} of Parquet{per_row}",
            super::setup::mb(csv),
            super::setup::mb(pq)
        );
    }
    // The periods dataset, for every closed day (those just archived, and a directory's
    // whole past the first time).
    let through = if args.include_today {
        today
    } else {
        today.pred_opt().unwrap_or(today)
    };
    let periods = tic_rec::export::refresh::refresh(
        &tic_rec::store::fs::RealFs,
        &args.data_dir,
        through,
        None,
    );
    match &periods {
        Ok(r) if r.months > 0 => eprintln!(
            "tic-rec: periods/: {} day(s) of hours computed, {} month file(s) written ({})",
            r.days,
            r.months,
            super::setup::mb(r.bytes)
        ),
        Ok(_) => {}
        Err(e) => eprintln!("tic-rec: cannot bring periods/ up to date: {e}"),
    }
    if failed > 0 {
        bail!("{failed} day(s) could not be archived (their CSV files are kept)");
    }
    periods.context("the periods dataset")?;
    Ok(())
}

/// What a run that converted no day says: what the directory holds instead.
fn nothing_to_archive(catalog: &Catalog, today: NaiveDate, include_today: bool) -> String {
    let archived = archive::archived_days(catalog).len();
    let mut line = if catalog.is_empty() {
        format!(
            "nothing to archive: no recorded day in {}",
            catalog.dir().display()
        )
    } else {
        format!("nothing to archive: {archived} closed day(s) already in Parquet")
    };
    if !include_today && catalog.day(today).is_some_and(|f| !f.csv.is_empty()) {
        line.push_str("; today's CSV is converted once the day is over (or with --include-today)");
    }
    line
}

fn check(catalog: &Catalog) -> Result<()> {
    let days = archive::archived_days(catalog);
    let bar = Progress::new(days.len(), "checking");
    let (mut rows, mut bad) = (0u64, 0);
    for (_, path) in &days {
        match archive::check_day(path) {
            Ok(n) => rows += n,
            Err(e) => {
                bad += 1;
                bar.say(format!("tic-rec: {}", Chain(&e)));
            }
        }
        bar.inc();
    }
    drop(bar);
    eprintln!(
        "tic-rec: checked {} archived day(s), {rows} rows: {} do not verify",
        days.len(),
        bad
    );
    if bad > 0 {
        bail!("{bad} archived day(s) do not verify");
    }
    Ok(())
}
