//! The recorder's own loop on the model: simulated meter frames through
//! [`tic_rec::capture::Capture`] (the decoder, the recorder and its timeline guard, the store,
//! the raw bytes kept as `--raw` does) with the archive job
//! ([`tic_rec::store::archive::Archiver`]) in its thread, told of each
//! day the store opens, as `tic-rec record` wires them. Cut at random operations; each cut is
//! restarted the same way (the directory's lock, the job, the loop on the meter's next
//! frames, drained at the end) and checked like the schedule's.
//!
//! The job runs in its own thread, so which operation a cut falls before is not the same
//! from one run to the next: a failure here is reproduced on the deterministic schedule
//! (`schedule.rs`), which drives the same store and conversion one call at a time.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tic_rec::capture::{Capture, Event, Observer, Stop, StoreConfig};
use tic_rec::record::RecordConfig;
use tic_rec::sim::{Contract, Meter, SimConfig};
use tic_rec::store::archive::{Archiver, Report as JobReport, Settings};
use tic_rec::store::fs::{Fs, RealFs};
use tic_rec::store::{local_day, parse_day_file_name, DirLock};
use tic_rec::tic::Mode;

use super::ledger::{check, key, Failed, Written};
use super::model::{Model, Semantics};
use super::schedule::{Book, Report};

const FSYNC: Duration = Duration::from_secs(10);

/// The capture's observer: what `tic-rec record`'s status observer does for the archive job,
/// and the book of rows recorded.
struct Obs {
    archiver: Option<Archiver>,
    book: Arc<Mutex<Book>>,
    mono: Arc<Mutex<(u64, u64)>>,
    seq: u64,
}

impl Observer for Obs {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::FileOpened(r) => {
                let day = r.path.file_name().and_then(|n| n.to_str());
                if let (Some(a), Some((day, _))) =
                    (&self.archiver, day.and_then(parse_day_file_name))
                {
                    a.opened(day);
                }
            }
            Event::Recorded(rec, counters) => {
                self.seq += 1;
                let time = rec.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
                let k = key(
                    &rec.columns,
                    std::iter::once(time.as_str()).chain(rec.cells.iter().map(String::as_str)),
                );
                let mono = {
                    let mut m = self.mono.lock().expect("mono");
                    m.1 = self.seq;
                    m.0
                };
                let day = local_day(rec.time.timestamp()).expect("a day");
                self.book.lock().expect("book").written.insert(
                    k,
                    Written {
                        day,
                        seq: self.seq,
                        mono,
                        written: counters.held == 0,
                    },
                );
            }
            _ => {}
        }
    }
}

fn settings(fs: Arc<dyn Fs>) -> Settings {
    Settings {
        fs,
        ..Settings::new(tic_rec::export::Summariser::boxed)
    }
}

/// The meter's frames, each with its meter time (Unix seconds).
fn frames(seed: u64, interval: i64, n: usize) -> Vec<(i64, Vec<u8>)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let day = NaiveDate::from_yo_opt(2026, rng.u32(1..360)).expect("a day");
    let start = day
        .and_hms_opt(rng.u32(18..24), rng.u32(0..60), 0)
        .expect("a time");
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, start);
    cfg.frame_interval = Some(chrono::Duration::seconds(interval));
    cfg.seed = seed;
    let mut meter = Meter::new(cfg).expect("a meter");
    (0..n)
        .map(|_| {
            let t = meter.now().timestamp();
            let mut b = Vec::new();
            meter.next_frame(&mut b);
            (t, b)
        })
        .collect()
}

/// Runs the loop on `frames[range]` through `fs` in `data`, with the archive job; `mono` is
/// where the injected monotonic clock is kept (seconds since `base`).
#[allow(clippy::too_many_arguments)]
fn record(
    fs: Arc<dyn Fs>,
    data: &Path,
    frames: &[(i64, Vec<u8>)],
    book: Arc<Mutex<Book>>,
    mono: Arc<Mutex<(u64, u64)>>,
    base: Instant,
    interval: i64,
) -> Result<(), String> {
    let _lock = DirLock::acquire_with(&*fs, data, "the power-cut recorder")
        .map_err(|e| format!("the lock: {e}"))?;
    let today = frames
        .first()
        .and_then(|(t, _)| local_day(*t))
        .unwrap_or(NaiveDate::MAX);
    let mut obs = Obs {
        archiver: Some(Archiver::start(
            data,
            settings(Arc::clone(&fs)),
            today,
            None,
        )),
        book,
        mono: Arc::clone(&mono),
        seq: 0,
    };
    let failures = {
        let store = StoreConfig {
            dir: data.to_path_buf(),
            fsync_interval: FSYNC,
            // The raw bytes too (`--raw`): their files are created, appended and fsynced
            // through the seam beside the day files.
            raw: true,
        };
        let record = RecordConfig {
            labels: None,
            every: None,
        };
        let mut capture =
            Capture::new(Some(Mode::Standard), record, store, &mut obs).with_fs(Arc::clone(&fs));
        let t0 = frames.first().map_or(0, |f| f.0);
        let now = |t: i64| base + Duration::from_secs((t - t0).max(0) as u64);
        for (t, bytes) in frames {
            mono.lock().expect("mono").0 = (t - t0).max(0) as u64;
            capture
                .feed(bytes, now(*t))
                .map_err(|e| format!("the loop stopped: {e}"))?;
            // The loop ticks every 200 ms; what matters is the tick an interval later.
            if interval > FSYNC.as_secs() as i64 {
                let at = *t + FSYNC.as_secs() as i64;
                mono.lock().expect("mono").0 = (at - t0) as u64;
                capture.tick(now(at)).map_err(|e| e.to_string())?;
            }
        }
        // The end of the input: every row written and fsynced (no stop request).
        capture
            .finish(&Stop::new())
            .map_err(|e| format!("the loop's end: {e}"))?;
        let held = capture.counters().held;
        if held > 0 {
            return Err(format!("{held} row(s) held at the end"));
        }
        Vec::<String>::new()
    };
    let reports = obs
        .archiver
        .take()
        .map(Archiver::finish)
        .unwrap_or_default();
    let mut failures = failures;
    for r in reports {
        if let JobReport::Failed(day, e) = r {
            failures.push(format!("the archive job failed on {day}: {e}"));
        }
    }
    match failures.first() {
        Some(f) => Err(f.clone()),
        None => Ok(()),
    }
}

/// One recorder run of `seed`: its frames (one every `interval` seconds, else 15 s, 1 min or
/// 5 min from the seed; over 2.5 days, 3,000 frames at most) recorded on the model, cut at
/// random, each cut restarted on the next frames and checked.
pub fn run(sem: Semantics, seed: u64, rate: f64, interval: Option<i64>, work: &Path) -> Report {
    let mut report = Report::default();
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xca97);
    let interval = interval.unwrap_or([15, 60, 300][rng.usize(0..3)]);
    let n = (2.5 * 86_400.0 / interval as f64) as usize;
    let n = n.min(3000);
    let all = frames(seed, interval, n + 400);
    let (live, after) = all.split_at(n);
    let root = work.join("live");
    let cuts = work.join("cuts");
    std::fs::create_dir_all(&root).expect("root");
    std::fs::create_dir_all(&cuts).expect("cuts");
    let model = Model::new(sem, &root, &cuts, seed);
    let book = Arc::new(Mutex::new(Book::default()));
    let mono = Arc::new(Mutex::new((0u64, 0u64)));
    #[derive(Clone)]
    struct At {
        cut: super::model::Cut,
        durable: usize,
        seq: u64,
        broken: Vec<String>,
        promised: u64,
    }
    let cases: Arc<Mutex<Vec<At>>> = Arc::default();
    {
        let b = Arc::clone(&book);
        model.on_durable(Box::new(move |ino, path, bytes| {
            b.lock().expect("book").durable(ino, path, bytes);
        }));
        let (b, m, c) = (Arc::clone(&book), Arc::clone(&mono), Arc::clone(&cases));
        model.on_cut(Box::new(move |cut| {
            let b = b.lock().expect("book");
            let (mono, seq) = *m.lock().expect("mono");
            let mut promised = 0;
            let mut broken = Vec::new();
            for (k, w) in &b.written {
                if w.written && w.mono + FSYNC.as_secs() + 1 < mono {
                    promised += 1;
                    if !b.ledger.seen.contains(k) {
                        broken.push(k.clone());
                    }
                }
            }
            c.lock().expect("cases").push(At {
                cut: cut.clone(),
                durable: b.ledger.durable.len(),
                seq,
                broken,
                promised,
            });
        }));
    }
    model.cut_randomly(rate);
    let data = root.join("data");
    if let Err(e) = record(
        model.fs(),
        &data,
        live,
        Arc::clone(&book),
        Arc::clone(&mono),
        Instant::now(),
        interval,
    ) {
        report
            .failures
            .push(format!("recorder seed {seed} ({}): {e}", sem.name()));
    }
    model.cut_randomly(0.0);
    report.ops = model.ops();
    report.rows = book.lock().expect("book").written.len() as u64;
    let day = |t: i64| local_day(t).expect("a day");
    if let (Some(first), Some(last)) = (live.first(), live.last()) {
        report.midnights = (day(last.0) - day(first.0)).num_days().max(0) as u64;
    }
    report.archived = parquet_files(&data);
    report.outcome = model.outcomes();
    let stats = model.stats();
    report.file_syncs = stats.file_syncs;
    report.dir_syncs = stats.dir_syncs;
    report.bytes = stats.bytes_written;
    let cases = std::mem::take(&mut *cases.lock().expect("cases"));
    let book = book.lock().expect("book");
    for (i, case) in cases.iter().enumerate() {
        report.cuts += 1;
        report.durable_rows += case.durable as u64;
        report.promised += case.promised;
        report.promise_broken += case.broken.len() as u64;
        let fail = |e: String| {
            format!(
                "recorder seed {seed} ({}), cut before op {} ({:?}): {e}",
                sem.name(),
                case.cut.op,
                case.cut.outcome
            )
        };
        if let Some(k) = case.broken.first() {
            report.failures.push(fail(format!(
                "{} row(s) recorded more than {FSYNC:?} before the cut were not durable, e.g. {k}",
                case.broken.len()
            )));
        }
        // Restarted after the power came back, some frames later.
        let skip = 1 + (i * 7) % 50;
        let next = &after[skip.min(after.len() - 1)..][..40.min(after.len() - skip)];
        let restart = Arc::new(Mutex::new(Book::default()));
        let r = record(
            Arc::new(RealFs),
            &case.cut.root.join("data"),
            next,
            Arc::clone(&restart),
            Arc::new(Mutex::new((0, 0))),
            Instant::now(),
            interval,
        );
        let restart = restart.lock().expect("restart");
        let result = r.map_err(Failed::from).and_then(|()| {
            let mine: Vec<String> = restart.written.keys().cloned().collect();
            let lookup = |k: &str| {
                restart.written.get(k).cloned().or_else(|| {
                    book.written
                        .get(k)
                        .filter(|w| w.seq <= case.seq + 1)
                        .cloned()
                })
            };
            check(
                &case.cut.root.join("data"),
                &lookup,
                &[&book.ledger.durable[..case.durable], &mine],
            )
        });
        match result {
            Ok(found) => {
                report.found.rows += found.rows;
                report.found.days += found.days;
                report.found.parquet_days += found.parquet_days;
                report.found.damaged += found.damaged;
                report.found.undurable_kept += found.undurable_kept;
                let _ = std::fs::remove_dir_all(&case.cut.root);
            }
            Err(e) => {
                report.lost(&e);
                report.failures.push(fail(e.message));
            }
        }
    }
    report
}

/// The Parquet files under `dir`: the days the live run archived.
fn parquet_files(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                parquet_files(&p)
            } else {
                u64::from(p.extension().is_some_and(|x| x == "parquet"))
            }
        })
        .sum()
}
