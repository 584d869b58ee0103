//! Seeded random schedules of the real recorder code on the model, cut at many points, each
//! cut restarted as the recorder starts (the directory's lock, the store resuming the day's
//! file and cutting a torn tail, the archive job converting the closed days), and checked.
//!
//! A schedule crosses midnights (and DST Sundays), rotates files, changes cadence (1 s to
//! 15 min), restarts cleanly now and then, changes contract (a new column: a `.N.csv` part),
//! sets the clock back (another part of the day), fills the disk (the model's `ENOSPC`, the
//! store holding rows and writing them once space returns), archives each day it leaves to
//! Parquet as the recorder's job does, and runs `compact` over every closed day. Everything
//! that touches a file goes through the model; time is injected (no sleep).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use tic_rec::store::archive::{self, Settings};
use tic_rec::store::fs::{Fs, RealFs};
use tic_rec::store::{
    local_day, parse_day_file_name, Appended, Catalog, Columns, DayReader, DirLock, Next, Store,
    StoreEvent, TZ,
};

use super::ledger::{check, csv_keys, key, Failed, Found, Ledger, Written};
use super::model::{Cut, Model, Outcome, Semantics, Trigger};

/// One schedule: which model, which seed, how many cuts.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub sem: Semantics,
    pub seed: u64,
    /// The chance of a cut before each operation through the seam (six times more while a
    /// day is archived).
    pub rate: f64,
    /// Cuts before these operations too (a failing seed's cut, replayed by its number).
    pub at: &'static [u64],
    /// Cuts where a trigger made by this says too (a situation, found by what the store
    /// does rather than by an operation's number: see [`Trigger`]).
    pub when: Option<fn() -> Trigger>,
    /// Whether a cut's post-crash data directory shows a situation (counted in
    /// [`Report::shown`], before the restart).
    pub shows: Option<fn(&Path) -> bool>,
    /// Days the schedule records (midnights crossed).
    pub days: i64,
    /// Whether each restart may itself be cut (once) and restarted again.
    pub nested: bool,
    /// Whether the schedule starts on a data directory of the layout before (days of CSV and
    /// Parquet files in `YYYY/MM/`), which it moves first (`store::migrate`, as `record` and
    /// `compact` do), cut as densely as an archive.
    pub old_layout: bool,
}

/// What a schedule and its cuts came to.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub ops: u64,
    pub rows: u64,
    pub cuts: u64,
    pub nested_cuts: u64,
    /// Cuts a [`Plan::when`] trigger asked for; cuts whose state [`Plan::shows`] the
    /// situation.
    pub triggered: u64,
    pub shown: u64,
    pub outcome: Outcome,
    pub found: Found,
    /// Rows durable at the cuts (summed over cuts).
    pub durable_rows: u64,
    /// Rows the `--fsync-interval` promise covered at the cuts (written more than an
    /// interval before, no full disk since), summed over cuts; and those of them not durable.
    pub promised: u64,
    pub promise_broken: u64,
    /// Rows made durable, and days with such rows, lost at the cuts (goal: 0).
    pub rows_lost: u64,
    pub days_lost: u64,
    /// Failures, each with the seed and cut that shows it.
    pub failures: Vec<String>,
    /// Days the schedule archived; disk-full episodes; contract changes; clock jumps back.
    pub archived: u64,
    pub full_disk: u64,
    pub contracts: u64,
    pub clock_back: u64,
    /// Midnights the schedule crossed; `compact` runs.
    pub midnights: u64,
    pub compacts: u64,
    /// Day files moved from the layout before; cuts while they were moved.
    pub migrated: u64,
    pub migration_cuts: u64,
    /// Syncs of files and directories, and bytes written, through the seam.
    pub file_syncs: u64,
    pub dir_syncs: u64,
    pub bytes: u64,
}

impl Report {
    /// Counts what a failed check lost.
    pub fn lost(&mut self, f: &Failed) {
        self.rows_lost += f.rows_lost;
        self.days_lost += f.days_lost;
    }

    pub fn add(&mut self, r: &Report) {
        self.ops += r.ops;
        self.rows += r.rows;
        self.cuts += r.cuts;
        self.nested_cuts += r.nested_cuts;
        self.triggered += r.triggered;
        self.shown += r.shown;
        self.outcome.add(&r.outcome);
        self.found.rows += r.found.rows;
        self.found.days += r.found.days;
        self.found.parquet_days += r.found.parquet_days;
        self.found.damaged += r.found.damaged;
        self.found.undurable_kept += r.found.undurable_kept;
        self.durable_rows += r.durable_rows;
        self.promised += r.promised;
        self.promise_broken += r.promise_broken;
        self.rows_lost += r.rows_lost;
        self.days_lost += r.days_lost;
        self.failures.extend(r.failures.iter().cloned());
        self.archived += r.archived;
        self.full_disk += r.full_disk;
        self.contracts += r.contracts;
        self.clock_back += r.clock_back;
        self.midnights += r.midnights;
        self.compacts += r.compacts;
        self.migrated += r.migrated;
        self.migration_cuts += r.migration_cuts;
        self.file_syncs += r.file_syncs;
        self.dir_syncs += r.dir_syncs;
        self.bytes += r.bytes;
    }
}

const ADSC: &str = "041876097171";
const FSYNC: Duration = Duration::from_secs(10);

fn columns(tariff: bool) -> Vec<String> {
    let mut c: Vec<String> = ["time", "time_source", "ADSC", "EAST", "SINSTS"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if tariff {
        c.push("LTARF".into());
    }
    c
}

fn at(t: i64) -> DateTime<FixedOffset> {
    Utc.timestamp_opt(t, 0)
        .single()
        .expect("a time")
        .with_timezone(&TZ)
        .fixed_offset()
}

fn time_cell(t: i64) -> String {
    at(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Where the schedule is, shared with the model's hooks.
#[derive(Clone, Debug, Default)]
struct Cursor {
    columns: Vec<String>,
    /// The latest row time given so far.
    t_max: i64,
    /// Rows given so far.
    seq: u64,
    /// The injected monotonic clock (seconds).
    mono: u64,
}

/// A cut and where the schedule was.
#[derive(Clone, Debug)]
struct Case {
    cut: Cut,
    durable: usize,
    at: Cursor,
    /// Rows the fsync promise covered, and those of them not durable.
    promised: u64,
    promise_broken: Vec<String>,
}

/// Rows written and made durable, shared with the model's hooks.
#[derive(Default)]
pub struct Book {
    pub written: HashMap<String, Written>,
    pub ledger: Ledger,
    /// Per file (inode): its header and the bytes of it already read into the ledger.
    scanned: HashMap<u64, usize>,
}

impl Book {
    /// A file's durable contents: its rows (CSV) or the rows it holds (Parquet) are durable.
    pub fn durable(&mut self, ino: u64, path: &Path, bytes: &[u8]) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".csv") {
            // Only the lines not read before (a file only grows, but for a torn tail cut).
            let from = self.scanned.get(&ino).copied().unwrap_or(0);
            let from = if from > bytes.len() { 0 } else { from };
            let keys = if from == 0 {
                csv_keys(bytes)
            } else {
                let header_end = bytes.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
                let mut v = bytes[..header_end].to_vec();
                v.extend_from_slice(&bytes[from..]);
                csv_keys(&v)
            };
            let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            self.scanned.insert(ino, end);
            self.ledger.add(keys);
        } else if name.ends_with(".parquet") && !name.starts_with('.') {
            self.ledger.add(parquet_keys(&name, bytes));
        }
    }
}

/// The rows of an archived day's bytes, read by the store's reader from a scratch copy.
fn parquet_keys(name: &str, bytes: &[u8]) -> Vec<String> {
    let Some(day) = name
        .strip_suffix(".parquet")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return Vec::new();
    };
    let dir = tempfile::tempdir().expect("scratch");
    // In `YYYY/MM/`, the layout before, which the catalog reads too.
    let path = dir.path().join(day.format("%Y/%m").to_string()).join(name);
    std::fs::create_dir_all(path.parent().expect("month")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write");
    let Ok(cat) = Catalog::open(dir.path()) else {
        return Vec::new();
    };
    let files = cat
        .day(day)
        .expect("the catalog finds a Parquet day in the layout before");
    let Ok(mut r) = DayReader::open(day, files, Columns::All) else {
        return Vec::new();
    };
    let columns = r.columns().to_vec();
    let mut out = Vec::new();
    while let Ok(Some(n)) = r.advance() {
        if n == Next::Row {
            let mut cells = Vec::new();
            let mut t = String::new();
            r.push_time_text(&mut t);
            cells.push(t);
            for j in 1..columns.len() {
                let mut c = String::new();
                r.cell(j).push_to(&mut c);
                cells.push(c);
            }
            out.push(key(&columns, cells.iter().map(String::as_str)));
        }
    }
    out
}

fn settings(fs: Arc<dyn Fs>) -> Settings {
    Settings {
        fs,
        ..Settings::new(tic_rec::export::Summariser::boxed)
    }
}

/// The running side of a schedule.
struct Runner {
    plan: Plan,
    model: Model,
    fs: Arc<dyn Fs>,
    data: PathBuf,
    rng: fastrand::Rng,
    base: Instant,
    cursor: Arc<Mutex<Cursor>>,
    book: Arc<Mutex<Book>>,
    t: i64,
    tariff: bool,
    store: Option<Store>,
    day: Option<NaiveDate>,
    report: Report,
    _lock: Option<DirLock>,
}

impl Runner {
    fn now(&self) -> Instant {
        self.base + Duration::from_secs(self.cursor.lock().expect("cursor").mono)
    }

    fn open_store(&mut self) {
        let cols = columns(self.tariff);
        self.cursor.lock().expect("cursor").columns = cols.clone();
        let now = self.now();
        self.store = Some(Store::with_fs(
            Arc::clone(&self.fs),
            &self.data,
            &cols,
            FSYNC,
            false,
            now,
        ));
    }

    fn close_store(&mut self) {
        let now = self.now();
        if let Some(s) = self.store.take() {
            s.close(now);
        }
    }

    /// Offers one row at the current time.
    fn row(&mut self) {
        let t = self.t;
        let (cols, seq) = {
            let mut c = self.cursor.lock().expect("cursor");
            c.seq += 1;
            c.t_max = c.t_max.max(t);
            (c.columns.clone(), c.seq)
        };
        let east = (1_000_000 + seq * 7).to_string();
        let sinsts = self.rng.u32(100..9000).to_string();
        let time = time_cell(t);
        let mut cells: Vec<&str> = vec!["meter", ADSC, &east, &sinsts];
        let tarif = ["HP BLEU", "HC BLEU", "HP ROUGE"][(seq % 3) as usize];
        if cols.len() == 6 {
            cells.push(tarif);
        }
        let k = key(
            &cols,
            std::iter::once(time.as_str()).chain(cells.iter().copied()),
        );
        let day = local_day(t).expect("a day");
        let mono = self.cursor.lock().expect("cursor").mono;
        self.book.lock().expect("book").written.insert(
            k.clone(),
            Written {
                day,
                seq,
                mono,
                written: false,
            },
        );
        let now = self.now();
        let store = self.store.as_mut().expect("a store");
        let appended = store.append(at(t), &cells, now);
        if std::env::var_os("POWERCUT_TRACE").is_some() {
            eprintln!("row {seq} at {time} (mono {mono}): {appended:?}");
        }
        if let Ok(Appended::Written) = appended {
            if let Some(w) = self.book.lock().expect("book").written.get_mut(&k) {
                w.written = true;
            }
        }
        if let Err(e) = appended {
            self.report
                .failures
                .push(format!("seed {}: append refused: {e}", self.plan.seed));
        }
        self.report.rows += 1;
        self.events();
    }

    /// The store's events: a file of another day opened closes the day left (the archive job
    /// converts it, as the recorder's does).
    fn events(&mut self) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        for e in store.take_events() {
            if let StoreEvent::Opened(r) = e {
                let day = r
                    .path
                    .file_name()
                    .and_then(|n| parse_day_file_name(&n.to_string_lossy()))
                    .map(|(d, _)| d);
                if let (Some(prev), Some(day)) = (self.day, day) {
                    if prev < day {
                        self.report.midnights += 1;
                    }
                    if prev != day {
                        self.archive(prev);
                    }
                }
                self.day = day.or(self.day);
            }
        }
    }

    fn archive(&mut self, day: NaiveDate) {
        if Some(day) == self.day_of_store() {
            return;
        }
        let s = settings(Arc::clone(&self.fs));
        // Cut densely while a day is archived: its renames and removals are few operations.
        self.model.cut_randomly(self.plan.rate * 6.0);
        let r = archive::compact_day(&self.data, day, &s, None, None);
        self.model.cut_randomly(self.plan.rate);
        match r {
            Ok(_) => self.report.archived += 1,
            // A full disk is an outage for the archive too: the day waits for the next run.
            Err(e) if e.io_error().is_some_and(|io| io.raw_os_error() == Some(28)) => {}
            Err(e) => self.report.failures.push(format!(
                "seed {} ({}): archiving {day} failed: {e}",
                self.plan.seed,
                self.plan.sem.name()
            )),
        }
    }

    fn day_of_store(&self) -> Option<NaiveDate> {
        self.store
            .as_ref()
            .and_then(|s| s.current_path())
            .and_then(|p| p.file_name())
            .and_then(|n| parse_day_file_name(&n.to_string_lossy()))
            .map(|(d, _)| d)
    }

    /// `tic-rec compact`: every closed day.
    fn compact(&mut self) {
        let Some(today) = self.day_of_store() else {
            return;
        };
        let Ok(cat) = Catalog::open(&self.data) else {
            return;
        };
        self.report.compacts += 1;
        for d in archive::days_to_compact(&cat, Some(today)) {
            self.archive(d);
        }
    }

    /// Moves the meter's clock and the monotonic one by `secs`; the recording loop ticks the
    /// store meanwhile (every 200 ms; here every second for an interval and a second after
    /// the last row, then once at the end: a tick with nothing to fsync touches no file).
    fn advance(&mut self, secs: i64) {
        let secs = secs.max(1);
        let f = FSYNC.as_secs() as i64 + 1;
        for _ in 0..secs.min(f) {
            self.t += 1;
            self.cursor.lock().expect("cursor").mono += 1;
            let now = self.now();
            if let Some(s) = self.store.as_mut() {
                s.tick(now);
            }
            self.events();
        }
        let rest = secs - secs.min(f);
        self.t += rest;
        self.cursor.lock().expect("cursor").mono += rest as u64;
    }

    fn run(&mut self) {
        let end = self.t + self.plan.days * 86_400;
        let cadences = [1, 2, 10, 60, 300, 600, 900];
        let mut cadence = 300;
        let mut full_left = 0u32;
        let mut stalled = false;
        while self.t < end {
            let roll = self.rng.u32(0..1000);
            match roll {
                0..=19 => cadence = cadences[self.rng.usize(0..cadences.len())],
                20..=27 if !stalled => {
                    self.close_store();
                    self.open_store();
                }
                28..=33 if !stalled => {
                    self.report.contracts += 1;
                    self.close_store();
                    self.tariff = !self.tariff;
                    self.open_store();
                }
                34..=37 => {
                    self.report.clock_back += 1;
                    let back = self.rng.i64(300..5400);
                    self.t -= back;
                }
                38..=44 if full_left == 0 => {
                    self.report.full_disk += 1;
                    let used = self.model.used();
                    self.model
                        .set_capacity(Some(used + self.rng.u64(0..3) * 4096));
                    full_left = self.rng.u32(3..40);
                    stalled = true;
                }
                45..=48 => self.compact(),
                _ => {}
            }
            self.row();
            if full_left > 0 {
                full_left -= 1;
                if full_left == 0 {
                    self.model.set_capacity(None);
                    stalled = false;
                }
            }
            // Rows 1 s apart come in bursts; the rest of the time, at the cadence.
            let step = if cadence <= 2 && self.rng.u32(0..200) == 0 {
                cadence = 300;
                300
            } else {
                cadence
            };
            self.advance(step);
            let now = self.now();
            if let Some(s) = self.store.as_mut() {
                s.tick(now);
            }
            self.events();
        }
        self.model.set_capacity(None);
        self.close_store();
    }
}

/// A start a few days before a DST Sunday, or any day of 2026, from the seed.
fn start_time(rng: &mut fastrand::Rng) -> i64 {
    let day = match rng.u8(0..4) {
        0 => NaiveDate::from_ymd_opt(2026, 3, 27),
        1 => NaiveDate::from_ymd_opt(2026, 10, 23),
        _ => NaiveDate::from_yo_opt(2026, rng.u32(1..360)),
    }
    .expect("a date");
    let t = TZ
        .from_local_datetime(
            &day.and_hms_opt(rng.u32(0..24), rng.u32(0..60), 0)
                .expect("hms"),
        )
        .earliest()
        .expect("a local time");
    t.timestamp()
}

/// Runs the schedule of `plan` under `work`, cutting as it says, then restarts and checks
/// every cut.
pub fn run(plan: Plan, work: &Path) -> Report {
    let root = work.join("live");
    let cuts = work.join("cuts");
    std::fs::create_dir_all(&root).expect("root");
    std::fs::create_dir_all(&cuts).expect("cuts");
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let t = start_time(&mut rng);
    let data = root.join("data");
    // Days of the layout before, all durable: the model takes what its root holds as such.
    let before = if plan.old_layout {
        old_layout(&data, &work.join("before"), t, &mut rng)
    } else {
        Vec::new()
    };
    let model = Model::new(plan.sem, &root, &cuts, plan.seed);
    let cursor = Arc::new(Mutex::new(Cursor::default()));
    let mut first = Book::default();
    first
        .ledger
        .add(before.iter().map(|(k, _)| k.clone()).collect());
    first.written.extend(before);
    let book = Arc::new(Mutex::new(first));
    let cases = Arc::new(Mutex::new(Vec::new()));
    {
        let b = Arc::clone(&book);
        model.on_durable(Box::new(move |ino, path, bytes| {
            b.lock().expect("book").durable(ino, path, bytes);
        }));
        let (book, cursor, cases) = (Arc::clone(&book), Arc::clone(&cursor), Arc::clone(&cases));
        model.on_cut(Box::new(move |cut| {
            let book = book.lock().expect("book");
            let at = cursor.lock().expect("cursor").clone();
            // The promise: a row written (not held on a full disk) more than an interval (and
            // the loop's tick) before the cut is durable.
            let mut promised = 0;
            let mut broken = Vec::new();
            for (k, w) in &book.written {
                if w.written && w.mono + FSYNC.as_secs() + 1 < at.mono {
                    promised += 1;
                    if !book.ledger.seen.contains(k) {
                        broken.push(k.clone());
                    }
                }
            }
            cases.lock().expect("cases").push(Case {
                cut: cut.clone(),
                durable: book.ledger.durable.len(),
                at,
                promised,
                promise_broken: broken,
            });
        }));
    }
    if let Some(when) = plan.when {
        model.cut_when(when());
    }
    let fs = model.fs();
    let lock = DirLock::acquire_with(&*fs, &data, "the power-cut schedule").expect("the lock");
    // The move from the layout before, as `record` does first, cut densely.
    let migration = if plan.old_layout {
        model.cut_randomly(plan.rate * 6.0);
        model.cut_before(plan.at.iter().copied());
        let from = model.ops();
        let moved = tic_rec::store::migrate(&*fs, &data, &lock)
            .unwrap_or_else(|e| panic!("seed {}: the move: {e}", plan.seed));
        model.cut_randomly(0.0);
        Some((from..model.ops(), moved.files as u64))
    } else {
        None
    };
    let mut runner = Runner {
        plan,
        model: model.clone(),
        fs,
        data,
        rng,
        base: Instant::now(),
        cursor,
        book: Arc::clone(&book),
        t,
        tariff: false,
        store: None,
        day: None,
        report: Report::default(),
        _lock: Some(lock),
    };
    runner.open_store();
    model.cut_randomly(plan.rate);
    model.cut_before(plan.at.iter().copied());
    runner.run();
    model.cut_randomly(0.0);
    let mut report = std::mem::take(&mut runner.report);
    drop(runner);
    if let Some((_, files)) = &migration {
        report.migrated = *files;
    }
    report.ops = model.ops();
    report.outcome = model.outcomes();
    let stats = model.stats();
    report.file_syncs = stats.file_syncs;
    report.dir_syncs = stats.dir_syncs;
    report.bytes = stats.bytes_written;
    let adopted = model.adopted();
    if !adopted.is_empty() {
        report.failures.push(format!(
            "seed {}: file(s) written behind the seam (store::fs): {adopted:?}",
            plan.seed
        ));
    }
    let cases = std::mem::take(&mut *cases.lock().expect("cases"));
    let book = book.lock().expect("book");
    for case in &cases {
        report.cuts += 1;
        report.triggered += u64::from(case.cut.triggered);
        if plan.shows.is_some_and(|f| f(&case.cut.root.join("data"))) {
            report.shown += 1;
        }
        if migration
            .as_ref()
            .is_some_and(|(ops, _)| ops.contains(&case.cut.op))
        {
            report.migration_cuts += 1;
        }
        report.durable_rows += case.durable as u64;
        report.promised += case.promised;
        report.promise_broken += case.promise_broken.len() as u64;
        if let Some(k) = case.promise_broken.first() {
            report.failures.push(format!(
                "seed {} ({}), cut before {}: {} row(s) written more than {FSYNC:?} before the \
                 cut were not durable, e.g. {k}",
                plan.seed,
                plan.sem.name(),
                case.cut.at(),
                case.promise_broken.len()
            ));
        }
        let durable = &book.ledger.durable[..case.durable];
        match restart(plan, case, &book.written, durable, plan.nested, &mut report) {
            Ok(found) => {
                report.found.rows += found.rows;
                report.found.days += found.days;
                report.found.parquet_days += found.parquet_days;
                report.found.damaged += found.damaged;
                report.found.undurable_kept += found.undurable_kept;
            }
            Err(e) => report.failures.push(format!(
                "seed {} ({}), cut before {} ({:?}): {e}",
                plan.seed,
                plan.sem.name(),
                case.cut.at(),
                case.cut.outcome
            )),
        }
        // Keep the disk small: a passing cut's directory is not needed any more.
        if report.failures.is_empty() {
            let _ = std::fs::remove_dir_all(&case.cut.root);
        }
    }
    report
}

/// Makes `data` a directory of the layout before: three days before `t`, a row every 10
/// minutes, a contract change on the second (a `.1.csv` part), the first two archived, made by
/// the store in `scratch` (through the real filesystem) and moved to `data/YYYY/MM/`, with a
/// stale temporary file of a conversion beside them. Returns every row's key, as written
/// (all durable).
fn old_layout(
    data: &Path,
    scratch: &Path,
    t: i64,
    rng: &mut fastrand::Rng,
) -> Vec<(String, Written)> {
    let fs: Arc<dyn Fs> = Arc::new(RealFs);
    let start = t - 3 * 86_400;
    let base = Instant::now();
    let mut keys = Vec::new();
    let mut tariff = false;
    let mut store = Store::with_fs(
        Arc::clone(&fs),
        scratch,
        &columns(tariff),
        FSYNC,
        false,
        base,
    );
    let mut i = 0u64;
    let mut at_t = start;
    while at_t < t - 600 {
        if i == 200 {
            store.close(base);
            tariff = true;
            store = Store::with_fs(
                Arc::clone(&fs),
                scratch,
                &columns(tariff),
                FSYNC,
                false,
                base,
            );
        }
        let cols = columns(tariff);
        let east = (500_000 + i * 7).to_string();
        let sinsts = rng.u32(100..9000).to_string();
        let mut cells: Vec<&str> = vec!["meter", ADSC, &east, &sinsts];
        if tariff {
            cells.push("HP BLEU");
        }
        let time = time_cell(at_t);
        let k = key(
            &cols,
            std::iter::once(time.as_str()).chain(cells.iter().copied()),
        );
        store
            .append(at(at_t), &cells, base)
            .expect("a row of the layout before");
        keys.push((
            k,
            Written {
                day: local_day(at_t).expect("a day"),
                seq: 0,
                mono: 0,
                written: true,
            },
        ));
        i += 1;
        at_t += 600;
    }
    store.close(base);
    let cat = Catalog::open(scratch).expect("the catalog");
    let days: Vec<NaiveDate> = cat.all().map(|(d, _)| d).collect();
    let s = settings(Arc::clone(&fs));
    for d in days.iter().take(2) {
        archive::compact_day(scratch, *d, &s, None, None).expect("an archived day");
    }
    // Every day file where the layout before had it: `YYYY/MM/` beside each other.
    let cat = Catalog::open(scratch).expect("the catalog");
    for (day, files) in cat.all() {
        let month = data.join(day.format("%Y/%m").to_string());
        std::fs::create_dir_all(&month).expect("a month of the layout before");
        let paths = files
            .csv
            .iter()
            .map(|f| f.path.clone())
            .chain(files.parquet.iter().map(|f| f.path.clone()));
        for p in paths {
            let name = p.file_name().expect("a name");
            std::fs::copy(&p, month.join(name)).expect("a day file of the layout before");
        }
        if Some(&day) == days.first() {
            std::fs::write(month.join(format!(".{day}.parquet.tmp-powercut")), b"PAR1")
                .expect("a stale temporary file");
        }
    }
    let _ = std::fs::remove_dir_all(scratch);
    keys
}

/// Rows a restart gives: `n` rows from `t0`, 7 s apart, with `tag` in their index.
fn restart_rows(t0: i64, n: u64, tag: u64) -> Vec<(i64, Vec<String>)> {
    (0..n)
        .map(|i| {
            let t = t0 + 7 * i as i64;
            let cells = vec![
                "meter".to_owned(),
                ADSC.to_owned(),
                (9_000_000_000 + tag * 10 + i).to_string(),
                "500".to_owned(),
            ];
            (t, cells)
        })
        .collect()
}

fn rows_keys(rows: &[(i64, Vec<String>)]) -> Vec<(String, Written)> {
    let cols = columns(false);
    rows.iter()
        .map(|(t, cells)| {
            let k = key(
                &cols,
                std::iter::once(time_cell(*t).as_str()).chain(cells.iter().map(String::as_str)),
            );
            let w = Written {
                day: local_day(*t).expect("a day"),
                seq: u64::MAX,
                mono: 0,
                written: true,
            };
            (k, w)
        })
        .collect()
}

/// Restarts the recorder on a cut's directory as it starts (the lock, the store resuming,
/// new rows, the archive of every closed day), then checks it. With `nested`, the restart
/// itself runs on the model and is cut once at a random point, and that is restarted and
/// checked too.
fn restart(
    plan: Plan,
    case: &Case,
    written: &HashMap<String, Written>,
    durable: &[String],
    nested: bool,
    report: &mut Report,
) -> Result<Found, String> {
    let root = &case.cut.root;
    let mut rng = fastrand::Rng::with_seed(
        plan.seed ^ case.cut.op.rotate_left(17) ^ u64::from(case.cut.variant).rotate_left(48),
    );
    let limit = case.at.seq;
    let t0 = case.at.t_max + rng.i64(1..7200);
    let rows = restart_rows(t0, rng.u64(2..6), 2 * case.cut.op);
    let mine: HashMap<String, Written> = rows_keys(&rows).into_iter().collect();
    let keys: Vec<String> = mine.keys().cloned().collect();
    let cols = columns(false);
    if nested {
        // The restart on the model, cut once somewhere in it.
        let cuts = root.with_extension("cuts");
        std::fs::create_dir_all(&cuts).map_err(|e| e.to_string())?;
        let model = Model::new(
            plan.sem,
            root,
            &cuts,
            plan.seed ^ case.cut.op ^ u64::from(case.cut.variant).rotate_left(48),
        );
        let book = Arc::new(Mutex::new(Book {
            written: written
                .iter()
                .filter(|(_, w)| w.seq <= limit)
                .map(|(k, w)| (k.clone(), w.clone()))
                .chain(mine.clone())
                .collect(),
            ..Book::default()
        }));
        {
            let book = Arc::clone(&book);
            model.on_durable(Box::new(move |ino, path, bytes| {
                book.lock().expect("book").durable(ino, path, bytes);
            }));
        }
        let snap: Arc<Mutex<Option<usize>>> = Arc::new(Mutex::new(None));
        {
            let (book, snap) = (Arc::clone(&book), Arc::clone(&snap));
            model.on_cut(Box::new(move |_| {
                *snap.lock().expect("snap") = Some(book.lock().expect("book").ledger.durable.len());
            }));
        }
        model.cut_before([rng.u64(0..60)]);
        restart_once(model.fs(), root, &rows, &cols, &mut rng)?;
        if let Some(cut) = model.cuts().into_iter().next() {
            report.nested_cuts += 1;
            report.outcome.add(&cut.outcome);
            let n = snap.lock().expect("snap").unwrap_or(0);
            let book = book.lock().expect("book");
            // Started again, an hour later.
            let rows2 = restart_rows(t0 + 3600, rows.len() as u64, 2 * case.cut.op + 1);
            let mine2: HashMap<String, Written> = rows_keys(&rows2).into_iter().collect();
            let keys2: Vec<String> = mine2.keys().cloned().collect();
            restart_once(Arc::new(RealFs), &cut.root, &rows2, &cols, &mut rng)
                .map_err(|e| format!("after a cut while restarting: {e}"))?;
            let lookup = |k: &str| mine2.get(k).or_else(|| book.written.get(k)).cloned();
            check(
                &cut.root.join("data"),
                &lookup,
                &[durable, &book.ledger.durable[..n], &keys2],
            )
            .map_err(|e| {
                report.lost(&e);
                format!("after a cut while restarting: {e}")
            })?;
            let _ = std::fs::remove_dir_all(&cut.root);
        }
        let _ = std::fs::remove_dir_all(&cuts);
    } else {
        restart_once(Arc::new(RealFs), root, &rows, &cols, &mut rng)?;
    }
    let lookup = |k: &str| {
        mine.get(k)
            .or_else(|| written.get(k).filter(|w| w.seq <= limit))
            .cloned()
    };
    check(&root.join("data"), &lookup, &[durable, &keys]).map_err(|e| {
        report.lost(&e);
        e.message
    })
}

/// The recorder's start-up on `root/data` through `fs`: the lock, the archive job's first
/// days, a store resuming the day's file with `rows`, closed, then the archive of every day
/// before the last row's.
fn restart_once(
    fs: Arc<dyn Fs>,
    root: &Path,
    rows: &[(i64, Vec<String>)],
    cols: &[String],
    rng: &mut fastrand::Rng,
) -> Result<(), String> {
    let data = root.join("data");
    let lock = DirLock::acquire_with(&*fs, &data, "restart")
        .map_err(|e| format!("the lock after the cut: {e}"))?;
    // A directory of the layout before (or one a cut left half moved) moved first, as
    // `record` and `compact` do.
    tic_rec::store::migrate(&*fs, &data, &lock)
        .map_err(|e| format!("the move from the layout before, after the cut: {e}"))?;
    // Then what a cut left of a day file being replaced, as `record` and `compact` do.
    tic_rec::store::recover(&*fs, &data, &lock)
        .map_err(|e| format!("the recovery of a replaced day file, after the cut: {e}"))?;
    let s = settings(Arc::clone(&fs));
    let compact_before = |day: NaiveDate| -> Result<(), String> {
        let cat = Catalog::open(&data).map_err(|e| format!("the catalog: {e}"))?;
        for d in archive::days_to_compact(&cat, Some(day)) {
            archive::compact_day(&data, d, &s, None, None)
                .map_err(|e| format!("archiving {d} after the cut: {e}"))?;
        }
        Ok(())
    };
    let today = rows
        .last()
        .and_then(|(t, _)| local_day(*t))
        .unwrap_or(NaiveDate::MAX);
    // The job at start: the days before yesterday, before or beside the store's first rows.
    let early = rng.bool();
    if early {
        if let Some(y) = today.pred_opt() {
            compact_before(y)?;
        }
    }
    let now = Instant::now();
    let mut store = Store::with_fs(Arc::clone(&fs), &data, cols, FSYNC, false, now);
    for (t, cells) in rows {
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        match store.append(at(*t), &cells, now) {
            Ok(Appended::Written) => {}
            other => {
                let events: Vec<String> = store
                    .take_events()
                    .iter()
                    .map(|e| format!("{e:?}"))
                    .collect();
                return Err(format!(
                    "the recorder does not resume writing: {other:?}; {}",
                    events.join("; ")
                ));
            }
        }
    }
    let held = store.close(now);
    if held > 0 {
        return Err(format!("{held} row(s) not written at the restart's end"));
    }
    compact_before(today)
}

impl Report {
    /// One line of counts.
    pub fn summary(&self) -> String {
        let o = &self.outcome;
        format!(
            "{} seam ops, {} rows given; {} cuts + {} during restarts; names kept {} / undone \
             {}, renames split {}, entries emptied {}; files' unsynced data lost {} / kept {} / \
             in part {} / zero or stale tail {}; {} durable rows at the cuts, {} rows under the \
             fsync promise ({} not durable); {} rows and {} days lost; {} days read ({} Parquet), \
             {} damaged rows skipped; {} midnights, {} days archived, {} compact runs, {} \
             contract changes, {} clock jumps back, {} disk-full episodes; {} failure(s)",
            self.ops,
            self.rows,
            self.cuts,
            self.nested_cuts,
            o.names_kept,
            o.names_undone,
            o.renames_split,
            o.emptied,
            o.data_lost,
            o.data_kept,
            o.data_partial,
            o.data_garbage_tail,
            self.durable_rows,
            self.promised,
            self.promise_broken,
            self.rows_lost,
            self.days_lost,
            self.found.days,
            self.found.parquet_days,
            self.found.damaged,
            self.midnights,
            self.archived,
            self.compacts,
            self.contracts,
            self.clock_back,
            self.full_disk,
            self.failures.len()
        )
    }
}

/// The figures as a Markdown table, one row per run.
pub fn table(rows: &[(String, Report, Duration)]) -> String {
    let mut out = String::from(
        "| run | cut points (+ during restart) | names kept / undone / rename split / emptied | \
         unsynced data lost / kept / in part / zero-or-stale tail | durable rows at the cuts | \
         rows lost of them | days lost | rows under the fsync promise, not durable | days read \
         after the cuts (Parquet) | damaged rows skipped | failures | time |\n\
         |---|---:|---|---|---:|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for (what, r, time) in rows {
        let o = &r.outcome;
        out.push_str(&format!(
            "| {what} | {} (+{}) | {} / {} / {} / {} | {} / {} / {} / {} | {} | {} | {} | {} of {} | {} ({}) | {} | {} | {:.0} s |\n",
            r.cuts,
            r.nested_cuts,
            o.names_kept,
            o.names_undone,
            o.renames_split,
            o.emptied,
            o.data_lost,
            o.data_kept,
            o.data_partial,
            o.data_garbage_tail,
            r.durable_rows,
            r.rows_lost,
            r.days_lost,
            r.promise_broken,
            r.promised,
            r.found.days,
            r.found.parquet_days,
            r.found.damaged,
            r.failures.len(),
            time.as_secs_f64()
        ));
    }
    out
}
