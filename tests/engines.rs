//! Every engine's recipe of docs/datasets.md, run as written by the real engine (DuckDB,
//! pandas/pyarrow, Polars, DataFusion, chDB, PySpark in local mode on Java 17), on a fleet
//! of nine simulated meters recorded by the real binary (`simulate | record --replay -`,
//! then `compact`) — standard and historique, single- and three-phase, Base, HC/HP, Tempo, EJP,
//! producers, both DST days, one row every 10 s to 1 min, months that end inside the data
//! — in the plain and the Hive layout, and on a copy of a directory taken while its recorder
//! ran. Every number is compared with `tic-rec export --month` of each meter, to the Wh.

mod common;

common::harness!(
    duckdb_recipe_gives_the_export_numbers,
    pandas_and_pyarrow_recipe_gives_the_export_numbers,
    polars_recipe_gives_the_export_numbers,
    datafusion_recipe_gives_the_export_numbers,
    chdb_recipe_gives_the_export_numbers,
    pyspark_recipe_gives_the_export_numbers,
);

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

/// A meter of the fleet: its id, what `simulate` makes of it, and how `record` keeps it.
struct Meter {
    id: &'static str,
    start: &'static str,
    duration: &'static str,
    /// One row kept per this interval (`--frame-interval` in standard mode, `--every` in
    /// historique mode, whose frames carry no time and are stamped from their air time).
    every: &'static str,
    args: &'static [&'static str],
}

const FLEET: [Meter; 9] = [
    Meter {
        id: "022063778656",
        start: "2026-10-24T00:00:00",
        duration: "4days",
        every: "10s",
        args: &["--contract", "hchp"],
    },
    Meter {
        id: "041876097171",
        start: "2026-03-27T00:00:00",
        duration: "6days",
        every: "30s",
        args: &["--contract", "tempo", "--phases", "3"],
    },
    Meter {
        id: "002011223344",
        start: "2026-10-23T00:00:00",
        duration: "10days",
        every: "1min",
        args: &["--producer"],
    },
    Meter {
        id: "000000004242",
        start: "2026-10-24T12:00:00",
        duration: "42h",
        every: "30s",
        args: &[
            "--mode",
            "historique",
            "--contract",
            "tempo",
            "--phases",
            "3",
        ],
    },
    Meter {
        id: "030675123456",
        start: "2026-03-28T12:00:00",
        duration: "42h",
        every: "20s",
        args: &["--mode", "historique", "--contract", "hchp"],
    },
    Meter {
        id: "000123456789",
        start: "2026-10-31T00:00:00",
        duration: "42h",
        every: "1min",
        args: &["--mode", "historique"],
    },
    Meter {
        id: "012345678901",
        start: "2026-03-28T00:00:00",
        duration: "5days",
        every: "1min",
        args: &["--phases", "3"],
    },
    Meter {
        id: "0123456789AB",
        start: "2026-10-30T00:00:00",
        duration: "4days",
        every: "15s",
        args: &["--contract", "hchp", "--producer", "--phases", "3"],
    },
    Meter {
        id: "000000000777",
        start: "2026-01-06T12:00:00",
        duration: "42h",
        every: "1min",
        args: &["--mode", "historique", "--contract", "ejp"],
    },
];

/// Records `m` into `dir` with the real binary: `simulate … | record --replay -`.
fn record(m: &Meter, dir: &Path) {
    let historique = m.args.contains(&"historique");
    let mut sim = Command::new(BIN);
    sim.args(["simulate", "--meter-id", m.id, "--start", m.start])
        .args(["--duration", m.duration])
        .args(m.args);
    if !historique {
        sim.args(["--frame-interval", m.every]);
    }
    let sim = sim.stdout(Stdio::piped()).spawn().expect("simulate");
    let mut rec = Command::new(BIN);
    rec.args(["record", "--replay", "-", "--data-dir"]).arg(dir);
    if historique {
        rec.args(["--replay-start", m.start, "--every", m.every]);
    }
    common::replay_piped(sim, &mut rec, &format!("record {}", m.id));
    let out = Command::new(BIN)
        .args(["compact", "--include-today", "--data-dir"])
        .arg(dir)
        .output()
        .expect("compact");
    assert!(
        out.status.success(),
        "compact {}: {}",
        m.id,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Every file under `dir` (relative paths).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).expect("under").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Waits (bounded) for `cond`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A directory copied while its recorder runs: three days of a meter fed to `record
/// --replay -` through a pipe the test holds open, copied once the recorder has archived
/// the first two (the third is being recorded: its CSV journal and the lock are in the
/// copy), then the rest fed and the recorder stopped. Returns the last archived day.
fn copy_while_recording(work: &Path, copy: &Path) -> String {
    let frames = work.join("live.tic");
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--meter-id",
            "055512345678",
            "--contract",
            "hchp",
        ])
        .args(["--start", "2026-10-24T00:00:00", "--duration", "3days"])
        .args(["--frame-interval", "30s", "-o"])
        .arg(&frames)
        .output()
        .expect("simulate");
    assert!(out.status.success());
    let bytes = std::fs::read(&frames).expect("frames");
    let live = work.join("live");
    let mut rec = Command::new(BIN)
        .args(["record", "--replay", "-", "--data-dir"])
        .arg(&live)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("record");
    let mut stdin = rec.stdin.take().expect("stdin");
    // What the recorder says, as it says it.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let said = std::sync::Arc::clone(&said);
        let mut stderr = rec.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                said.lock()
                    .expect("said")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // Two days and a bit (frames are a few hundred bytes each, evenly spread over 3 days).
    let cut = bytes.len() * 7 / 9;
    stdin.write_all(&bytes[..cut]).expect("feed");
    stdin.flush().expect("flush");
    let periods = live.join("periods/2026/2026-10.parquet");
    let day2 = chrono::NaiveDate::from_ymd_opt(2026, 10, 25).expect("date");
    let has_day2 = || {
        let schema = tic_rec::export::dataset::schema();
        let Ok(Some(m)) = tic_rec::store::periods::read(&periods, &schema) else {
            return false;
        };
        m.meta
            .as_deref()
            .and_then(tic_rec::export::dataset::MonthMeta::from_text)
            .is_some_and(|m| m.days.iter().any(|d| d.day == day2))
    };
    wait_for(
        "the recorder to archive the first two days and add their hours to periods/",
        Duration::from_secs(120),
        has_day2,
    );
    // The recorder holds its lock and writes the third day meanwhile.
    copy_tree(&live, copy);
    stdin.write_all(&bytes[cut..]).expect("feed");
    drop(stdin);
    let status = rec.wait().expect("record");
    reader.join().expect("reader");
    let err = said.lock().expect("said").clone();
    assert!(status.success(), "{err}");
    let copied = files(copy);
    assert!(
        copied.iter().any(|p| p.starts_with("journal")),
        "the day being recorded is in the copy: {copied:?}"
    );
    assert!(copied.iter().any(|p| p.ends_with(".tic-rec.lock")));
    "2026-10-25".to_owned()
}

/// The fleet, built once for every engine: `fleet/<id>/` (each recorder's directory),
/// `fleet-hive/{records,periods}/meter=<id>/…`, and `tic-data` (a copy taken while its
/// recorder ran); and what `tic-rec export --month` says of each.
struct Fleet {
    dir: tempfile::TempDir,
    /// Per (meter, month): records, hc_wh, hp_wh, total_wh.
    want: BTreeMap<(String, String), [Option<i64>; 4]>,
    /// The same for `tic-data` (its closed days).
    want_archive: BTreeMap<(String, String), [Option<i64>; 4]>,
}

fn export_month(dir: &Path, to: Option<&str>) -> BTreeMap<(String, String), [Option<i64>; 4]> {
    let mut args = vec!["--month"];
    if let Some(to) = to {
        args.extend(["--to", to]);
    }
    let (rows, _) = common::command_csv("export", dir, &args);
    let id = meter_of(dir);
    rows.iter()
        .map(|r| {
            let n = |c: &str| r.get(c).and_then(|v| v.parse::<i64>().ok());
            let month = r["period_start"][..7].to_owned();
            (
                (id.clone(), month),
                [n("records"), n("hc_wh"), n("hp_wh"), n("total_wh")],
            )
        })
        .collect()
}

/// The meter id of a data directory (its records say).
fn meter_of(dir: &Path) -> String {
    let (rows, _) = common::command_csv("export", dir, &["--records", "--to", "2026-12-31"]);
    let r = &rows[0];
    r.get("ADSC")
        .or_else(|| r.get("ADCO"))
        .expect("a meter id column")
        .clone()
}

/// The fleet, built once for the whole run (a failure to build it is told to every test,
/// once, without building it again).
fn fleet() -> &'static Fleet {
    static FLEET_DIR: OnceLock<Result<Fleet, String>> = OnceLock::new();
    let built = FLEET_DIR.get_or_init(|| {
        std::panic::catch_unwind(build_fleet).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".to_owned())
        })
    });
    match built {
        Ok(f) => f,
        Err(e) => panic!("the fleet could not be built: {e}"),
    }
}

fn build_fleet() -> Fleet {
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        // Two at a time: the machine has two cores.
        std::thread::scope(|s| {
            for pair in FLEET.chunks(2) {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|m| s.spawn(move || record(m, &root.join("fleet").join(m.id))))
                    .collect();
                for h in handles {
                    h.join().expect("recording");
                }
            }
        });
        let mut want = BTreeMap::new();
        for m in &FLEET {
            let d = root.join("fleet").join(m.id);
            for set in ["records", "periods"] {
                let target = root
                    .join("fleet-hive")
                    .join(set)
                    .join(format!("meter={}", m.id));
                copy_tree(&d.join(set), &target);
                for f in files(&d.join(set)) {
                    assert_eq!(
                        f.extension().and_then(|e| e.to_str()),
                        Some("parquet"),
                        "{set}/ holds Parquet files only: {}",
                        f.display()
                    );
                }
            }
            // Every hour of every month file names its meter, leading zeros kept.
            let schema = tic_rec::export::dataset::schema();
            for (_, _, path) in tic_rec::store::periods::months(&d).expect("months") {
                let file = tic_rec::store::periods::read(&path, &schema)
                    .expect("read")
                    .expect("there");
                for b in &file.batches {
                    for h in tic_rec::export::dataset::from_batch(b).expect("hours") {
                        assert_eq!(h.id.meter, m.id, "{}", path.display());
                    }
                }
            }
            want.extend(export_month(&d, None));
        }
        let last = copy_while_recording(root, &root.join("tic-data"));
        for set in ["records", "periods"] {
            for f in files(&root.join("tic-data").join(set)) {
                assert_eq!(
                    f.extension().and_then(|e| e.to_str()),
                    Some("parquet"),
                    "a copy taken while recording: {set}/ holds Parquet files only: {}",
                    f.display()
                );
            }
        }
        let want_archive = export_month(&root.join("tic-data"), Some(&last));
        Fleet {
            dir,
            want,
            want_archive,
        }
    }
}

/// One result of a recipe.
#[derive(Debug)]
struct Answer {
    name: String,
    columns: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
}

impl Answer {
    fn parse(line: &str) -> Answer {
        let v: serde_json::Value = serde_json::from_str(line).expect("a result line");
        let text = |x: &serde_json::Value| x.as_str().expect("text").to_owned();
        Answer {
            name: text(&v["name"]),
            columns: v["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .map(text)
                .collect(),
            rows: v["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| r.as_array().expect("a row").clone())
                .collect(),
        }
    }
}

/// The recipe of `engine` in docs/datasets.md: the Python block after its marker.
fn recipe(engine: &str) -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/datasets.md"))
            .expect("docs/datasets.md");
    let marker = format!("<!-- not run: recipe {engine};");
    let at = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no recipe for {engine} in docs/datasets.md"));
    let rest = &doc[at..];
    let open = rest
        .find("```python\n")
        .expect("a python block after the marker")
        + 10;
    let close = rest[open..].find("```").expect("the block closes");
    rest[open..open + close].to_owned()
}

const RESULTS: [&str; 6] = [
    "archive_counts",
    "archive_monthly",
    "fleet_counts",
    "monthly",
    "hive_counts",
    "hive_monthly",
];

/// Runs `engine`'s recipe as written in the fleet's directory; its results by name. The
/// test [`common::requires`] the Python modules it imports.
fn run(engine: &str, modules: &'static [&'static str]) -> BTreeMap<String, Answer> {
    let python = common::python(modules);
    let f = fleet();
    let script = f.dir.path().join(format!("recipe_{engine}.py"));
    std::fs::write(&script, recipe(engine)).expect("write the recipe");
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/engines.py");
    let out = Command::new(&python)
        .arg(&runner)
        .arg(&script)
        .args(RESULTS)
        .current_dir(f.dir.path())
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .expect("run the recipe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{engine}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter(|l| l.starts_with("{\"name\""))
        .map(|l| {
            let r = Answer::parse(l);
            (r.name.clone(), r)
        })
        .collect()
}

fn int(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

/// Compares `engine`'s results with the export's numbers.
fn check(engine: &str, got: &BTreeMap<String, Answer>) {
    let f = fleet();
    for name in RESULTS {
        let r = got
            .get(name)
            .unwrap_or_else(|| panic!("{engine}: no {name}"));
        let want = if name.starts_with("archive") {
            &f.want_archive
        } else {
            &f.want
        };
        let counts = name.ends_with("counts");
        let mut seen = BTreeMap::new();
        for row in &r.rows {
            let meter = row[0]
                .as_str()
                .unwrap_or_else(|| panic!("{engine} {name}: the meter is not a string: {row:?}"))
                .to_owned();
            let month = row[1]
                .as_str()
                .unwrap_or_else(|| panic!("{engine} {name}: the month is not text: {row:?}"))
                .chars()
                .take(7)
                .collect::<String>();
            let values: Vec<Option<i64>> = row[2..].iter().map(int).collect();
            seen.insert((meter, month), values);
        }
        let expected: BTreeMap<(String, String), Vec<Option<i64>>> = want
            .iter()
            .map(|(k, v)| {
                let v = if counts { vec![v[0]] } else { v[1..].to_vec() };
                (k.clone(), v)
            })
            .collect();
        assert_eq!(
            seen, expected,
            "{engine} {name} ({:?}) against tic-rec export --month",
            r.columns
        );
    }
}

fn engine_test(engine: &str, modules: &'static [&'static str]) {
    let got = run(engine, modules);
    check(engine, &got);
}

fn duckdb_recipe_gives_the_export_numbers() {
    engine_test("duckdb", &["duckdb"]);
}

fn pandas_and_pyarrow_recipe_gives_the_export_numbers() {
    engine_test("pandas", &["pandas", "pyarrow"]);
}

fn polars_recipe_gives_the_export_numbers() {
    engine_test("polars", &["polars"]);
}

fn datafusion_recipe_gives_the_export_numbers() {
    engine_test("datafusion", &["datafusion"]);
}

fn chdb_recipe_gives_the_export_numbers() {
    engine_test("chdb", &["chdb"]);
}

/// PySpark 4 from PyPI in local mode (loopback, no UI) on the machine's Java 17; the whole
/// recipe in one Spark session.
fn pyspark_recipe_gives_the_export_numbers() {
    common::requires(&[common::Need::Java]);
    engine_test("pyspark", &["pyspark"]);
}
