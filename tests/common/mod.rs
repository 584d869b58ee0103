//! Test support: writes daily files in the store format from a deterministic meter model
//! whose index is known exactly at every second, and runs the real binary.
#![allow(dead_code, clippy::needless_range_loop)]

pub mod harness;
pub mod http;

#[allow(unused_imports)]
pub(crate) use harness::harness;
#[allow(unused_imports)]
pub use harness::{requires, Need};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, NaiveDate, TimeZone, Timelike};
use tic_rec::store::{day_file, TZ};

/// The real captures (`../shared/data/tic-samples`); the test [`requires`] them.
pub fn shared_samples() -> PathBuf {
    requires(&[Need::SharedSamples]);
    harness::shared_dir()
}

/// The Python modules of the readers our users load tic-rec's files with.
pub const READERS: &[&str] = &["duckdb", "pandas", "pyarrow"];

/// The Python interpreter (see [`Need::Python`]) with `modules`; the test [`requires`] them.
pub fn python(modules: &'static [&'static str]) -> String {
    requires(&[Need::Python(modules)]);
    harness::python_path()
        .expect("a Python: the need is met")
        .display()
        .to_string()
}

/// Headless Chromium's command (see [`Need::Chromium`]); the test [`requires`] it.
pub fn chromium() -> &'static str {
    requires(&[Need::Chromium]);
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        harness::chromium_path()
            .expect("chromium: the need is met")
            .display()
            .to_string()
    })
}

/// The contract the model meter runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    /// Standard mode, HC 22:00–06:00 on EASF01, HP on EASF02.
    HcHp,
    /// Standard mode, Tempo: EASF01..06 = HC/HP blue, white, red; the colour of a Tempo day
    /// (06:00 to 06:00) cycles with its date.
    Tempo,
    /// Historique mode, HCHC/HCHP.
    Historique,
}

/// Index positions in [`Model::index`]: 0 = EAST (or sum), 1..=6 = supplier indexes.
pub const N: usize = 7;

pub struct Model {
    pub contract: Contract,
    /// One record every `step` seconds, from `start` to `end` inclusive (Unix seconds).
    pub start: i64,
    pub end: i64,
    pub step: i64,
    /// No record in these `[a, b)` stretches.
    pub gaps: Vec<(i64, i64)>,
}

/// A model of `contract` from `start` to `end`, one record every `step` seconds, none in `gaps`.
pub fn model(contract: Contract, start: i64, end: i64, step: i64, gaps: Vec<(i64, i64)>) -> Model {
    Model {
        contract,
        start,
        end,
        step,
        gaps,
    }
}

/// `YYYY-MM-DD HH:MM:SS` as a naive (meter) time.
pub fn at(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("YYYY-MM-DD HH:MM:SS")
}

/// The path of the `n`-th daily file of a day under `dir`.
pub fn day_path(dir: &Path, y: i32, m: u32, d: u32, n: u32) -> PathBuf {
    let day = NaiveDate::from_ymd_opt(y, m, d).expect("date");
    day_file(dir, day, n)
}

/// Replaces, in the `n`-th line of `path`, the cell `col` (0-based) by `value`.
pub fn set_cell(path: &Path, n: usize, col: usize, value: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<&str> = lines[n].split(',').collect();
    cells[col] = value;
    lines[n] = cells.join(",");
    std::fs::write(path, lines.join("\n") + "\n").expect("write");
}

pub fn local(y: i32, m: u32, d: u32, h: u32) -> i64 {
    TZ.with_ymd_and_hms(y, m, d, h, 0, 0)
        .earliest()
        .expect("local time")
        .timestamp()
}

fn power_w(t: i64) -> i64 {
    300 + ((t / 600) % 7) * 400
}

/// 1-based supplier index in force at `t`, and its LTARF.
pub fn tariff(contract: Contract, t: i64) -> (usize, &'static str) {
    let lt = DateTime::from_timestamp(t, 0)
        .expect("time")
        .with_timezone(&TZ);
    let hc = lt.hour() >= 22 || lt.hour() < 6;
    match contract {
        Contract::HcHp | Contract::Historique => {
            if hc {
                (1, "HEURE CREUSE")
            } else {
                (2, "HEURE PLEINE")
            }
        }
        Contract::Tempo => {
            let day = (lt - chrono::Duration::hours(6)).date_naive();
            let colour = colour_of(day);
            const L: [&str; 6] = [
                "HC BLEU", "HP BLEU", "HC BLANC", "HP BLANC", "HC ROUGE", "HP ROUGE",
            ];
            let i = colour * 2 + usize::from(!hc);
            (i + 1, L[i])
        }
    }
}

/// 0 blue, 1 white, 2 red.
pub fn colour_of(day: NaiveDate) -> usize {
    use chrono::Datelike;
    (day.ordinal() % 3) as usize
}

impl Model {
    fn recorded(&self, t: i64) -> bool {
        t % self.step == 0 && !self.gaps.iter().any(|&(a, b)| t >= a && t < b)
    }

    /// Writes the daily files under `dir` and returns the exact indexes at each of `at`.
    pub fn write(&self, dir: &Path, at: &[i64]) -> Vec<[i64; N]> {
        let mut joules = [0i64; N];
        let base = [
            12_000_000i64,
            5_000_000,
            7_000_000,
            100_000,
            200_000,
            30_000,
            40_000,
        ];
        let mut files: BTreeMap<NaiveDate, String> = BTreeMap::new();
        let mut out = vec![[0; N]; at.len()];
        let index = |j: &[i64; N]| {
            let mut x = [0; N];
            for k in 0..N {
                x[k] = base[k] + j[k] / 3600;
            }
            x
        };
        for t in self.start..=self.end {
            let idx = index(&joules);
            for (q, o) in at.iter().zip(out.iter_mut()) {
                if *q == t {
                    *o = idx;
                }
            }
            let (n, label) = tariff(self.contract, t);
            if self.recorded(t) {
                let lt = DateTime::from_timestamp(t, 0)
                    .expect("time")
                    .with_timezone(&TZ);
                let text = files
                    .entry(lt.date_naive())
                    .or_insert_with(|| self.header());
                let time = lt.to_rfc3339();
                match self.contract {
                    Contract::Historique => {
                        let ptec = if n == 1 { "HC.." } else { "HP.." };
                        writeln!(
                            text,
                            "{time},host,041876097171,HC..,30,{ptec},{},{},{}",
                            idx[1],
                            idx[2],
                            power_w(t)
                        )
                        .expect("write");
                    }
                    _ => {
                        let mut easf = String::new();
                        for k in 1..=10 {
                            let v = if k < N { idx[k] } else { 0 };
                            write!(easf, ",{v}").expect("write");
                        }
                        let (hc, hp) = (idx[1] + idx[3] + idx[5], idx[2] + idx[4] + idx[6]);
                        writeln!(
                            text,
                            "{time},meter,041876097171,{label},{n},{}{easf},{hc},{hp},0,0,{},6,6",
                            idx[0],
                            power_w(t)
                        )
                        .expect("write");
                    }
                }
            }
            let p = power_w(t);
            joules[0] += p;
            joules[n] += p;
        }
        for (day, text) in files {
            let path = day_file(dir, day, 0);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write file");
        }
        out
    }

    fn header(&self) -> String {
        match self.contract {
            Contract::Historique => {
                "time,time_source,ADCO,OPTARIF,ISOUSC,PTEC,HCHC,HCHP,PAPP\n".into()
            }
            _ => {
                let mut h = String::from("time,time_source,ADSC,LTARF,NTARF,EAST");
                for k in 1..=10 {
                    write!(h, ",EASF{k:02}").expect("write");
                }
                h.push_str(",EASD01,EASD02,EASD03,EASD04,SINSTS,PREF,PCOUP\n");
                h
            }
        }
    }
}

/// How the library's default mode got each day, and its notes.
#[derive(Default, Debug)]
pub struct Count {
    pub index: usize,
    pub built: usize,
    pub full: usize,
    pub notes: Vec<String>,
}

impl tic_rec::export::ExportObserver for Count {
    fn day_read(&mut self, _day: chrono::NaiveDate, how: tic_rec::export::DayRead) {
        use tic_rec::export::DayRead;
        match how {
            DayRead::Index => self.index += 1,
            DayRead::Built => self.built += 1,
            DayRead::Full => self.full += 1,
        }
    }
    fn note(&mut self, message: &str) {
        self.notes.push(message.to_owned());
    }
}

pub fn tic_rec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tic-rec"))
        .args(args)
        .output()
        .expect("run tic-rec")
}

/// Runs `tic-rec <args>`, which must succeed: its standard output and standard error.
pub fn tic_rec_ok(args: &[&str]) -> (String, String) {
    let out = tic_rec(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tic-rec {args:?}: {err}");
    (String::from_utf8(out.stdout).expect("utf-8 output"), err)
}

/// A CSV text's header and rows, each row a map of column to text.
pub fn csv_rows(text: &[u8]) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_reader(text);
    let header = csv_header(&mut r);
    let rows = r
        .records()
        .map(|row| {
            let row = row.expect("row");
            header
                .iter()
                .cloned()
                .zip(row.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

fn csv_header<R: std::io::Read>(r: &mut csv::Reader<R>) -> Vec<String> {
    r.headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect()
}

/// Waits for `child` at most `secs`: its status, or `None` once it has been killed then.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    secs: u64,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Every CSV file under `dir`, sorted, as (path, header, rows); parsing is strict (a torn
/// or misaligned row is an error).
pub fn csv_files(dir: &Path) -> Vec<(PathBuf, Vec<String>, Vec<Vec<String>>)> {
    files_named(dir, ".csv")
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            assert!(text.ends_with('\n'), "{p:?} ends with a whole line");
            let mut r = csv::ReaderBuilder::new()
                .flexible(false)
                .from_reader(text.as_bytes());
            let header = csv_header(&mut r);
            let rows = r
                .records()
                .map(|rec| {
                    rec.unwrap_or_else(|e| panic!("{p:?}: {e}"))
                        .iter()
                        .map(str::to_owned)
                        .collect()
                })
                .collect();
            (p, header, rows)
        })
        .collect()
}

/// Runs `tic-rec <command> --data-dir <dir> --format csv <args>` (it must succeed) and
/// parses its output, one map of column to text per row, with its standard error.
pub fn command_csv(
    command: &str,
    dir: &Path,
    args: &[&str],
) -> (Vec<BTreeMap<String, String>>, String) {
    let mut all = vec![
        command,
        "--data-dir",
        dir.to_str().expect("utf-8 path"),
        "--format",
        "csv",
    ];
    all.extend_from_slice(args);
    let (out, err) = tic_rec_ok(&all);
    (csv_rows(out.as_bytes()).1, err)
}

/// Runs `tic-rec export <args> --format csv` and parses the output: header, rows.
pub fn export_csv(dir: &Path, args: &[&str]) -> Vec<BTreeMap<String, String>> {
    command_csv("export", dir, args).0
}

pub fn int(row: &BTreeMap<String, String>, col: &str) -> i64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col} in {row:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{col} in {row:?}"))
}

pub fn time(row: &BTreeMap<String, String>, col: &str) -> i64 {
    DateTime::parse_from_rfc3339(&row[col])
        .expect("rfc3339")
        .timestamp()
}

/// The rows written so far under `dir`, counting the complete lines of its CSV files less
/// their headers: for polling while a recorder writes (a file may be empty or end mid-line
/// for a moment, where a strict parse would fail).
#[allow(dead_code)]
pub fn rows_so_far(dir: &Path) -> usize {
    files_named(dir, ".csv")
        .iter()
        .map(|p| {
            let text = std::fs::read(p).unwrap_or_default();
            text.iter()
                .filter(|&&b| b == b'\n')
                .count()
                .saturating_sub(1)
        })
        .sum()
}

/// Every file below `dir` (in every subfolder) whose path ends with `suffix`, sorted; a
/// folder that vanishes or cannot be read is passed over.
pub fn files_named(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A pseudo-terminal for a simulated meter, its master side with a 10 s write timeout.
pub fn pty() -> tic_rec::sim::Pty {
    let mut pty = tic_rec::sim::Pty::open().expect("open a pseudo-terminal");
    serialport::SerialPort::set_timeout(&mut pty.master, std::time::Duration::from_secs(10))
        .expect("set the master's timeout");
    pty
}

/// A running `tic-rec` whose standard error lines are collected as they come (a thread reads
/// them); killed when dropped.
pub struct Running {
    /// The process.
    pub child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Running {
    /// `tic-rec <args>` with `env` added, standard output discarded.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        use std::io::BufRead as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tic-rec");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        Running { child, lines }
    }

    /// The first `Some` that `f` gives over the lines so far.
    pub fn find_map<T>(&self, f: impl FnMut(&String) -> Option<T>) -> Option<T> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find_map(f)
    }

    /// Whether a line so far contains `needle`.
    pub fn has(&self, needle: &str) -> bool {
        self.find_map(|l| l.contains(needle).then_some(()))
            .is_some()
    }

    /// The lines so far.
    pub fn stderr(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// Waits up to `secs` for a line containing `needle` (panics with the lines otherwise).
    pub fn wait_for(&self, needle: &str, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while !self.has(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {needle:?} within {secs} s; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits up to `secs` for a line on which `f` gives `Some`, and returns that (panics with
    /// `what` and the lines otherwise).
    pub fn wait_map<T>(&self, secs: u64, what: &str, mut f: impl FnMut(&String) -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(t) = self.find_map(&mut f) {
                return t;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no line with {what} within {secs} s; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status and the lines (the last ones given time to arrive).
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        let status = self.child.wait().expect("wait");
        std::thread::sleep(std::time::Duration::from_millis(100));
        (status, self.stderr())
    }

    /// SIGKILL, and waits for the end.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `simulate … | tic-rec record --replay - …`: runs `record` with the simulator `sim`'s
/// standard output as its input; both must succeed (`what` names the run in the failure).
pub fn replay_piped(mut sim: std::process::Child, record: &mut std::process::Command, what: &str) {
    let out = record
        .stdin(sim.stdout.take().expect("the simulator's stdout, piped"))
        .output()
        .expect("record");
    assert!(sim.wait().expect("simulate").success(), "{what}: simulate");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
