//! `tic-rec tariffs update` against a local HTTP server serving the publishers' files in their
//! exact formats (`tests/data/tariffs/`): good files, a truncated file, a schema change, a
//! 500 and a server that never answers. The tables in use change only on a good update.

mod common;

common::harness!(
    only_a_good_update_changes_the_tables_in_use,
    an_offline_copy_in_the_community_format,
    the_daily_timer_runs_a_working_update,
);

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TODAY: &str = "2026-12-06";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tariffs")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What the server answers for a path.
#[derive(Clone)]
enum Answer {
    Ok(Vec<u8>),
    Status(u16),
    /// Reads the request and never answers (until the client goes away).
    Silent,
}

/// A loopback HTTP/1.1 server answering each path from a table (404 otherwise), one request
/// per connection, until dropped.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(routes: BTreeMap<String, Answer>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let routes = routes.clone();
                std::thread::spawn(move || serve(conn, &routes));
            }
        });
        Server { addr, stop }
    }

    fn url(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(conn: TcpStream, routes: &BTreeMap<String, Answer>) {
    conn.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) if h == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut conn = conn;
    let (status, body) = match routes.get(&path) {
        Some(Answer::Ok(b)) => (200, b.clone()),
        Some(Answer::Status(s)) => (*s, b"server error".to_vec()),
        Some(Answer::Silent) => {
            // Wait for the client to give up (its read returns when it closes), bounded by
            // the read timeout above.
            let mut sink = [0u8; 64];
            let _ = reader.read(&mut sink);
            return;
        }
        None => (404, b"not found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

const FILES: [&str; 5] = [
    "Option_Base.csv",
    "Option_HPHC.csv",
    "Option_Tempo.csv",
    "tempo_2025-2026.json",
    "tempo_2026-2027.json",
];

/// Every prefix: `/good/…` the fixtures, and one bad file under each other prefix.
fn routes() -> BTreeMap<String, Answer> {
    let mut r = BTreeMap::new();
    let tempo = fixture("Option_Tempo.csv");
    let hphc = String::from_utf8(fixture("Option_HPHC.csv")).expect("utf-8");
    let bad: [(&str, &str, Answer); 5] = [
        (
            "truncated",
            "Option_Tempo.csv",
            Answer::Ok(tempo[..tempo.len() * 2 / 3].to_vec()),
        ),
        (
            "truncated-at-a-line",
            "Option_Tempo.csv",
            Answer::Ok({
                let cut = tempo[..tempo.len() / 2]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .expect("a line");
                tempo[..=cut].to_vec()
            }),
        ),
        (
            "schema",
            "Option_HPHC.csv",
            Answer::Ok(
                hphc.replacen(
                    "PART_VARIABLE_HP_TTC",
                    "PART_VARIABLE_HP_TTC;PART_VARIABLE_SUPER_CREUSE_TTC",
                    1,
                )
                .into_bytes(),
            ),
        ),
        ("error", "Option_Base.csv", Answer::Status(500)),
        ("silent", "tempo_2026-2027.json", Answer::Silent),
    ];
    for prefix in [
        "good",
        "truncated",
        "truncated-at-a-line",
        "schema",
        "error",
        "silent",
    ] {
        for f in FILES {
            r.insert(format!("/{prefix}/{f}"), Answer::Ok(fixture(f)));
        }
    }
    for (prefix, file, answer) in bad {
        r.insert(format!("/{prefix}/{file}"), answer);
    }
    r
}

fn tic_rec(args: &[&str]) -> (bool, String, String) {
    let out = common::tic_rec(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn update(data: &Path, source: &str) -> (bool, String, String) {
    tic_rec(&[
        "tariffs",
        "update",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--source",
        source,
        "--timeout",
        "1s",
        "--today",
        TODAY,
    ])
}

fn show(data: &Path) -> String {
    let (ok, out, err) = tic_rec(&[
        "tariffs",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--today",
        TODAY,
    ]);
    assert!(ok, "{err}");
    // It fits a 100-column terminal, whatever the sources (its long lines are wrapped).
    for line in out.lines() {
        assert!(line.chars().count() <= 100, "{line:?}\n{out}");
    }
    out
}

/// `tic-rec cost --contract hchp --year` over `data`: its one row and its standard error.
fn cost(data: &Path) -> (BTreeMap<String, String>, String) {
    let out = common::tic_rec(&[
        "cost",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--contract",
        "hchp",
        "--year",
        "--format",
        "csv",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let mut rdr = csv::Reader::from_reader(&out.stdout[..]);
    let headers = rdr.headers().expect("header").clone();
    let row = rdr.records().next().expect("a row").expect("a record");
    let map = headers
        .iter()
        .zip(row.iter())
        .map(|(h, v)| (h.to_owned(), v.to_owned()))
        .collect();
    (map, err)
}

/// The tables kept in the data directory: every file under `.tic-rec-tariffs`, by path.
fn kept(data: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let root = data.join(".tic-rec-tariffs");
    let mut out = BTreeMap::new();
    for e in walk(&root) {
        out.insert(
            e.strip_prefix(&root).expect("under").to_path_buf(),
            std::fs::read(&e).expect("read"),
        );
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn only_a_good_update_changes_the_tables_in_use() {
    let server = Server::start(routes());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let shipped = show(&data);
    assert!(shipped.contains("Last update: none"), "{shipped}");
    assert!(
        shipped.contains("warning: prices and colours last checked on 2026-08-23, 105 days ago: run `tic-rec tariffs update`"),
        "{shipped}"
    );

    // (prefix, what the error must say)
    let failures: [(&str, &str); 5] = [
        ("truncated", "Option_Tempo.csv:"),
        ("truncated-at-a-line", "a truncated or altered file"),
        ("schema", "Option_HPHC.csv:1: unexpected columns"),
        ("error", "Option_Base.csv: cannot fetch http://"),
        ("silent", "tempo_2026-2027.json: cannot fetch"),
    ];
    let check_failures = |before: &BTreeMap<PathBuf, Vec<u8>>, shown: &str| {
        for (prefix, want) in failures {
            let (ok, out, err) = update(&data, &server.url(prefix));
            assert!(!ok, "{prefix}: succeeded\n{out}");
            assert!(err.contains(want), "{prefix}: {err}");
            assert!(err.contains("nothing was changed"), "{prefix}: {err}");
            assert_eq!(&kept(&data), before, "{prefix}: the kept tables changed");
            assert_eq!(show(&data), shown, "{prefix}: the tables in use changed");
        }
    };
    check_failures(&BTreeMap::new(), &shipped);
    let (_, _, err) = update(&data, &server.url("error"));
    assert!(err.contains("HTTP status 500"), "{err}");
    let (_, _, err) = update(&data, &server.url("silent"));
    assert!(err.contains("no answer within 1 s"), "{err}");

    // A good update: the grids of 2026-08-01 and the colours to 2026-12-07.
    // A household after the shipped tables: the prices are stale and Tempo has no colour.
    let model = common::Model {
        contract: common::Contract::HcHp,
        start: common::local(2026, 9, 1, 0),
        end: common::local(2026, 9, 4, 0),
        step: 60,
        gaps: Vec::new(),
    };
    model.write(&data, &[]);
    let before = cost(&data);
    assert_eq!(before.0["tempo_total_eur"], "", "{before:?}");
    assert_eq!(before.0["tempo_missing_days"], "3", "{before:?}");
    assert!(
        before
            .1
            .contains("warning: prices after 2026-08-23 are not known"),
        "{}",
        before.1
    );

    let (ok, out, err) = update(&data, &server.url("good"));
    assert!(ok, "{err}");
    // Priced with the update: the 2026-08-01 grids, RTE's colours, no warning.
    let after = cost(&data);
    assert_eq!(after.0["tempo_missing_days"], "0", "{after:?}");
    assert_ne!(after.0["tempo_total_eur"], "", "{after:?}");
    assert!(
        after.1.contains(
            "note: prices from the update of 2026-12-06 (data.gouv.fr, over the shipped tables)"
        ),
        "{}",
        after.1
    );
    assert!(
        after.1.contains("Tempo colours: 5 days from the update"),
        "{}",
        after.1
    );
    assert!(!after.1.contains("warning"), "{}", after.1);
    assert_ne!(after.0["actual_total_eur"], before.0["actual_total_eur"]);
    for line in [
        "Option_Tempo.csv: 122 grids from 2016-08-01 to 2026-08-01 (data.gouv.fr, http://",
        "tempo_2026-2027.json: 98 days from 2026-09-01 to 2026-12-07 (RTE, http://",
        "new: Tempo from 2026-08-01 (6, 9, 12, 15, 18, 24, 30, 36 kVA)",
        "new: HC/HP from 2026-08-01 (3, 6, 9, 12, 15, 18, 24, 30, 36 kVA)",
        "prices known in force through 2026-12-06; Tempo colours through 2026-12-07 (106 new days)",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    let updated = show(&data);
    for line in [
        "Prices: the update of 2026-12-06",
        "Tempo  6–36 kVA from 2026-08-01 (official, updated from data.gouv.fr)",
        "today at 6 kVA: HC 0.1589, HP 0.2142 €/kWh",
        "Tempo colours: 2014-09-01 to 2026-12-07",
    ] {
        assert!(updated.contains(line), "{line}\n{updated}");
    }
    assert!(!updated.contains("warning"), "{updated}");
    let after = kept(&data);
    assert!(after.keys().any(|k| k.ends_with("tempo_2026-2027.json")));
    // Kept byte for byte as served.
    let tempo = after
        .iter()
        .find(|(k, _)| k.ends_with("Option_Tempo.csv"))
        .map(|(_, v)| v.clone());
    assert_eq!(tempo, Some(fixture("Option_Tempo.csv")));
    check_failures(&after, &updated);

    // An offline copy (a directory) updates too; the finished season is kept, not read again.
    let (ok, out, err) = update(&data, fixtures().to_str().expect("utf-8"));
    assert!(ok, "{err}");
    assert!(
        out.contains("tempo_2025-2026.json: 365 days from 2025-09-01 to 2026-08-31 (RTE, http://"),
        "{out}"
    );
    assert!(out.contains("kept from the last update"), "{out}");
    assert!(out.contains("no new price grid"), "{out}");
    drop(server);
}

fn an_offline_copy_in_the_community_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).expect("mkdir");
    for f in FILES {
        let from = if f == "tempo_2026-2027.json" {
            "community_2026-2027.json"
        } else {
            f
        };
        std::fs::write(copy.join(f), fixture(from)).expect("write");
    }
    let data = dir.path().join("data");
    let (ok, out, err) = update(&data, copy.to_str().expect("utf-8"));
    assert!(ok, "{err}");
    assert!(
        out.contains(
            "tempo_2026-2027.json: 98 days from 2026-09-01 to 2026-12-07 (api-couleur-tempo.fr,"
        ),
        "{out}"
    );
    // A missing file is an error naming it.
    std::fs::remove_file(copy.join("Option_Base.csv")).expect("rm");
    let (ok, _, err) = update(&data, copy.to_str().expect("utf-8"));
    assert!(!ok);
    assert!(
        err.contains("Option_Base.csv: cannot fetch") && err.contains("cannot read it"),
        "{err}"
    );
}

/// The daily timer's service runs a command line that works: its `ExecStart`, pointed at this
/// build and a temporary data directory (and at the fixtures instead of the publishers), and
/// systemd reads both units without a complaint.
fn the_daily_timer_runs_a_working_update() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let service =
        std::fs::read_to_string(examples.join("tic-rec-tariffs.service")).expect("the unit");
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut args: Vec<String> = exec
        .split_whitespace()
        .skip(1)
        .map(|a| a.replace("/var/lib/tic-rec/data", data.to_str().expect("utf-8")))
        .collect();
    assert_eq!(args[..2], ["tariffs", "update"], "{exec}");
    args.extend([
        "--source".to_owned(),
        fixtures().to_str().expect("utf-8").to_owned(),
        "--today".to_owned(),
        TODAY.to_owned(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = tic_rec(&refs);
    assert!(ok, "{exec}: {err}");
    assert!(
        out.contains("prices known in force through 2026-12-06"),
        "{out}"
    );

    let timer = std::fs::read_to_string(examples.join("tic-rec-tariffs.timer")).expect("timer");
    assert!(
        timer.contains("OnCalendar=") && timer.contains("Persistent=true"),
        "{timer}"
    );
    common::requires(&[common::Need::SystemdAnalyze]);
    // systemd checks the binary exists: this build's, under the name the unit uses.
    let units = dir.path().join("units");
    std::fs::create_dir_all(&units).expect("mkdir");
    let bin = env!("CARGO_BIN_EXE_tic-rec");
    std::fs::write(
        units.join("tic-rec-tariffs.service"),
        service.replace("/usr/local/bin/tic-rec", bin),
    )
    .expect("write");
    std::fs::write(units.join("tic-rec-tariffs.timer"), &timer).expect("write");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(units.join("tic-rec-tariffs.service"))
        .arg(units.join("tic-rec-tariffs.timer"))
        .output()
        .expect("systemd-analyze");
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
