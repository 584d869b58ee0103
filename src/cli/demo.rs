//! `tic-rec record --demo`: the demo ([`tic_rec::sim::demo`]) with the status line, and what
//! to say before and after.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Result;
use chrono::Utc;
use tic_rec::capture::Stop;
use tic_rec::sim::demo::{Demo, DemoConfig, Ended};
use tic_rec::store::TZ;

use super::status::Status;

/// What the demo records, from `record`'s arguments.
pub struct Options {
    /// The demo's settings.
    pub demo: DemoConfig,
    /// `--log-interval`.
    pub log_interval: StdDuration,
    /// The archive job (the data directory, and how), unless closed days stay CSV.
    pub archive: Option<(PathBuf, tic_rec::store::archive::Settings)>,
}

pub fn run(opts: Options, stop: Arc<Stop>) -> Result<()> {
    let data_dir: PathBuf = opts.demo.data_dir.clone();
    super::setup::check_data_dir(&data_dir)?;
    let today = Utc::now().with_timezone(&TZ).date_naive();
    // Every flag is checked before anything is created.
    let demo = Demo::plan(opts.demo, today)?;
    let _lock = super::setup::create_data_dir(&data_dir, "the demo")?;
    let (day, continues, what) = (demo.day(), demo.continues(), demo.describe());
    let demo = demo.open()?;
    eprintln!(
        "tic-rec: demo: a simulated {what} on {}, for {day}{} (a day in about 5 s), recorded into {}",
        demo.path(),
        match continues {
            Some(o) => format!(" (ending where {o} begins: the same meter and indexes)"),
            None => String::new(),
        },
        data_dir.canonicalize().unwrap_or(data_dir.clone()).display()
    );
    let mut status = Status::new(opts.log_interval, opts.archive, None);
    let ended = demo.run(&mut status, &stop);
    status.end_archive(false);
    status.finish();
    match ended? {
        Ended::Stopped => eprintln!("tic-rec: demo: stopped by a signal"),
        Ended::Day { frames } => eprintln!(
            "tic-rec: demo: the meter sent {frames} frames; try `{} export --data-dir {}`",
            super::setup::invoked_as(),
            super::setup::shell_word(&data_dir.display().to_string())
        ),
    }
    Ok(())
}
