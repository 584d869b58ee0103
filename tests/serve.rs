//! The dashboard (issue 12), end to end with the real binary and real clients: HTTP over
//! TCP against `tic-rec serve` on an archive the simulator made (recorded, then compacted),
//! and against `tic-rec record --port <pty> --http` fed by the simulated meter; abuse (path
//! traversal, malformed and huge queries, garbage heads, 200 slow clients while recording:
//! no 500, no lost row); `promtool check metrics`; and headless Chromium loading every page
//! (no console error, the expected bars; phone screenshots kept in `target/serve-screens/`).

mod common;

common::harness!(
    periods_are_the_exports_numbers_and_pages_answer,
    abuse_gets_4xx_never_5xx_and_never_a_file,
    metrics_pass_promtool_over_an_archive,
    live_values_follow_the_recorder_within_two_seconds,
    two_hundred_slow_clients_cost_the_recorder_no_row,
    chromium_loads_every_page_without_console_errors,
    random_queries_never_give_a_5xx,
    cached_tables_follow_the_files,
    a_dashboard_that_cannot_listen_never_stops_recording,
    idle_connections_cannot_hold_the_workers,
    an_unreadable_day_is_a_503_and_not_kept,
    default_records_are_the_last_day_across_dst,
);

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::http::{addr_of, check_metrics, get, request};
use serde_json::Value;
use tic_rec::sim::{Contract, Meter, Pty, SimConfig};
use tic_rec::tic::Mode;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

/// A running `tic-rec <args>`.
fn running(args: &[&str]) -> common::Running {
    common::Running::start(args, &[])
}

/// An archive made as a user would: the simulator's capture of an HC/HP meter from
/// 2025-12-30 to 2026-02-02 (a frame every 5 min), recorded by `record --replay`, then
/// `compact` (every day but the last archived as Parquet). Made once per test run.
fn archive() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // One per test process (a runner that runs each test in its own process must not
        // have two build it at once); those of processes that are gone are removed.
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("serve-archive-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = tmp.join(format!("serve-archive-{}", std::process::id()));
        let data = dir.join("data");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cap = dir.join("capture.tic");
        let run = |args: &[&str]| {
            let out = Command::new(BIN).args(args).output().unwrap();
            assert!(
                out.status.success(),
                "tic-rec {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "simulate",
            "--mode",
            "standard",
            "--contract",
            "hchp",
            "--start",
            "2025-12-30T00:00:00",
            "--duration",
            "35d",
            "--frame-interval",
            "5min",
            "--output",
            cap.to_str().unwrap(),
        ]);
        let d = data.to_str().unwrap();
        run(&["record", "--replay", cap.to_str().unwrap(), "--data-dir", d]);
        run(&["compact", "--data-dir", d]);
        assert!(data.join("records/2026/01/2026-01-15.parquet").is_file());
        data
    })
}

fn serve(data: &Path) -> (common::Running, SocketAddr) {
    let p = running(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let a = addr_of(&p);
    (p, a)
}

fn periods_are_the_exports_numbers_and_pages_answer() {
    let data = archive();
    let (srv, addr) = serve(data);
    let api = get(
        addr,
        "/api/periods?period=day&from=2026-01-01&to=2026-01-31",
    );
    assert_eq!(api.status, 200, "{}", api.text());
    assert!(api.head.contains("application/json"), "{}", api.head);
    let rows = api.json()["rows"].as_array().unwrap().clone();
    let export = common::export_csv(
        data,
        &["--day", "--from", "2026-01-01", "--to", "2026-01-31"],
    );
    assert_eq!(rows.len(), 31);
    assert_eq!(export.len(), 31);
    for (j, e) in rows.iter().zip(&export) {
        for col in [
            "hc_wh",
            "hp_wh",
            "total_wh",
            "east_wh",
            "records",
            "max_gap_s",
        ] {
            assert_eq!(j[col].as_i64(), Some(common::int(e, col)), "{col} {e:?}");
        }
        assert_eq!(
            j["period_start"].as_str().map(str::to_owned),
            Some(e["period_start"].clone())
        );
    }
    // The month and the year, as export.
    let month = get(
        addr,
        "/api/periods?period=month&from=2026-01-01&to=2026-01-31",
    )
    .json();
    let total: i64 = rows.iter().map(|r| r["total_wh"].as_i64().unwrap()).sum();
    // Without a range: the 30 days up to the last recorded one.
    let default = get(addr, "/api/periods").json();
    assert_eq!(default["rows"].as_array().unwrap().len(), 30, "{default}");
    assert_eq!(month["rows"][0]["total_wh"].as_i64(), Some(total));

    // Now, from the files: the last record.
    let now = get(addr, "/api/now").json();
    assert_eq!(now["source"], "files");
    assert_eq!(now["time"], "2026-02-02T23:55:00+01:00", "{now}");
    assert!(now["power_va"].as_i64().unwrap() > 0);
    assert!(now["link"].is_null());
    assert_eq!(now["today"]["day"], "2026-02-02");
    // The € of the last recorded day: tic-rec cost's.
    let (day, _) = common::command_csv(
        "cost",
        data,
        &["--day", "--from", "2026-02-02", "--to", "2026-02-02"],
    );
    assert_eq!(now["cost"]["available"], true, "{now}");
    assert_eq!(now["cost"]["contract"], "HC/HP 6 kVA", "{now}");
    assert_eq!(
        now["cost"]["total_eur"].as_str(),
        Some(day[0]["actual_total_eur"].as_str()),
        "{now}"
    );

    // Records: one day in 48 buckets of 30 min, every record in one.
    let rec = get(
        addr,
        "/api/records?from=2026-01-10&to=2026-01-11&max_points=48",
    )
    .json();
    let b = rec["buckets"].as_array().unwrap();
    assert_eq!(b.len(), 48, "{rec}");
    assert_eq!(rec["step_s"], 1800);
    let n: u64 = b.iter().map(|x| x["n"].as_u64().unwrap()).sum();
    assert_eq!(n, 288, "a record every 5 min");
    assert!(b.iter().all(|x| x["min"].as_i64() <= x["max"].as_i64()));
    // A year of records still comes back in at most max_points buckets.
    let year = get(
        addr,
        "/api/records?from=2025-06-01&to=2026-05-31&max_points=100",
    )
    .json();
    assert!(year["buckets"].as_array().unwrap().len() <= 100, "{year}");

    // The € per day and per month: tic-rec cost's, to the cent, with the cheapest option.
    for (period, flag) in [("day", "--day"), ("month", "--month")] {
        let api = get(
            addr,
            &format!("/api/cost?period={period}&from=2026-01-01&to=2026-01-31"),
        )
        .json();
        assert_eq!(api["available"], true, "{api}");
        assert_eq!(api["contract"], "HC/HP 6 kVA", "{api}");
        assert_eq!(api["contract_key"], "hchp", "{api}");
        let (cli, err) = common::command_csv(
            "cost",
            data,
            &[flag, "--from", "2026-01-01", "--to", "2026-01-31"],
        );
        let rows = api["rows"].as_array().unwrap();
        assert_eq!(rows.len(), cli.len(), "{api}");
        assert!(!rows.is_empty());
        for (j, c) in rows.iter().zip(&cli) {
            assert_eq!(j["period_start"].as_str(), Some(c["period_start"].as_str()));
            assert_eq!(
                j["actual"]["eur"].as_str(),
                Some(c["actual_total_eur"].as_str()),
                "{j}"
            );
            for key in ["base", "hchp", "tempo"] {
                assert_eq!(
                    j["what_if"][key]["eur"].as_str().unwrap_or(""),
                    c[&format!("{key}_total_eur")],
                    "{key} {j} {c:?}"
                );
            }
            assert_eq!(
                j["what_if"]["tempo"]["missing_days"].as_i64(),
                Some(common::int(c, "tempo_missing_days"))
            );
            // Not priced: null, and the reason in words; never a figure.
            for (key, o) in j["what_if"].as_object().unwrap() {
                assert_eq!(o["eur"].is_null(), o["unpriced"].is_string(), "{key}: {o}");
            }
            assert_eq!(j["cheapest"].as_str(), Some(c["cheapest"].as_str()), "{j}");
        }
        // The range's total and the CLI's closing sentence.
        let summary = api["summary"].as_str().unwrap();
        assert!(summary.contains(": you paid "), "{summary}");
        assert!(err.contains(summary), "{summary} not in {err}");
    }
    // A cost needs whole days.
    assert_eq!(get(addr, "/api/cost?period=hour").status, 400);

    for page in [
        "/",
        "/day?date=2026-01-10",
        "/month?month=2026-01",
        "/year?year=2026",
        "/contracts",
        "/metrics",
    ] {
        let g = get(addr, page);
        assert_eq!(g.status, 200, "{page}: {}", g.text());
        assert!(g.body.len() < 300 * 1024, "{page}: {} bytes", g.body.len());
    }
    let month = get(addr, "/month?month=2026-01").text();
    assert_eq!(month.matches("<g class=\"bar\">").count(), 31);
    // The Contracts page: the actual contract and each option per month, as tic-rec cost.
    let contracts = get(addr, "/contracts").text();
    assert!(
        contracts.contains("<table id=\"contracts\" class=\"cards\">"),
        "{contracts}"
    );
    let (jan, _) = common::command_csv(
        "cost",
        data,
        &["--month", "--from", "2026-01-01", "--to", "2026-01-31"],
    );
    for col in [
        "actual_total_eur",
        "base_total_eur",
        "hchp_total_eur",
        "tempo_total_eur",
    ] {
        let eur: f64 = jan[0][col].parse().unwrap();
        assert!(eur > 0.0 && eur < 1000.0, "{col} {eur}");
        let shown = format!("\">{}\u{a0}€</td>", jan[0][col]);
        assert!(contracts.contains(&shown), "{shown} not in {contracts}");
    }
    let day = get(addr, "/day?date=2026-01-10").text();
    assert_eq!(day.matches("<g class=\"bar\">").count(), 24);
    assert!(day.contains("class=\"shade-hc\""), "HC shading");
    let head = request(addr, b"HEAD /month HTTP/1.1\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    drop(srv);
}

fn abuse_gets_4xx_never_5xx_and_never_a_file() {
    let (srv, addr) = serve(archive());
    let paths = [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/static/../../Cargo.toml",
        "//etc/passwd",
        "/day/../../etc/passwd",
        "/api/now/..",
        "/2026/01/2026-01-10.parquet",
        "/.tic-rec.lock",
        "/api/periods?period=day&from=../../etc&to=2026-01-01",
        "/api/periods?period=day&from=2026-01-01&to=2026-13-45",
        "/api/periods?period=hour&from=2000-01-01&to=2100-12-31",
        "/api/periods?period=decade",
        "/api/periods?period=day&from=2026-02-01&to=2026-01-01",
        "/api/periods?from=2026-01-01&from=2026-01-02",
        "/api/periods?frm=2026-01-01",
        "/api/periods?period=%ZZ",
        "/api/periods?period=%C0%AF",
        "/api/records?from=2000-01-01&to=2100-01-01",
        "/api/records?max_points=0",
        "/api/records?max_points=100000000000000000000000",
        "/api/records?max_points=-5",
        "/api/records?from=2026-01-11&to=2026-01-10",
        "/api/records?label=../../etc/passwd",
        "/api/records?label=SINSTS%00",
        "/api/records?from=2026-01-10T25:99:00Z",
        "/api/cost?period=day&from=2026-01-10&to=2026-01-01",
        "/day?date=9999-99-99",
        "/day?date=2026-01-10&x=1",
        "/month?month=2026-1",
        "/year?year=-1",
        "/year?year=99999999999999999999",
        "/nope",
        "/api",
        "/api/now?x=1",
    ];
    for p in paths {
        let g = get(addr, p);
        assert!(
            (400..500).contains(&g.status),
            "{p}: {} {}",
            g.status,
            g.text()
        );
        let body = g.text();
        assert!(
            !body.contains("root:") && !body.contains("[package]"),
            "{p}: {body}"
        );
    }
    let raw: &[&[u8]] = &[
        b"\x00\x01\x02\xff\r\n\r\n",
        b"POST /api/now HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        b"DELETE / HTTP/1.1\r\n\r\n",
        b"GET http://example.com/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /\r\n\r\n",
    ];
    for r in raw {
        let g = request(addr, r);
        assert!(
            (400..500).contains(&g.status),
            "{:?}: {} {}",
            String::from_utf8_lossy(r),
            g.status,
            g.text()
        );
    }
    // A head over 8 KiB.
    let mut big = b"GET /?".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    big.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    assert_eq!(request(addr, &big).status, 431);
    // Still serving.
    assert_eq!(get(addr, "/api/now").status, 200);
    drop(srv);
}

fn metrics_pass_promtool_over_an_archive() {
    common::requires(&[common::Need::Promtool]);
    let (srv, addr) = serve(archive());
    let m = get(addr, "/metrics");
    assert!(m.head.contains("text/plain; version=0.0.4"), "{}", m.head);
    let text = m.text();
    for name in [
        "tic_power_va",
        "tic_energy_wh_total{index=\"EASF01\",slot=\"hc\"}",
        "tic_energy_wh_total{index=\"EASF02\",slot=\"hp\"}",
        "tic_last_record_timestamp_seconds 1770072900",
        "tic_archive_bytes",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    assert!(
        !text.contains("tic_frames_total"),
        "no recorder: no link metrics"
    );
    check_metrics(&text);
    drop(srv);
}

fn meter(start: &str) -> Meter {
    let start = chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%d %H:%M:%S").unwrap();
    let mut cfg = SimConfig::new(Mode::Standard, Contract::Tempo, start);
    cfg.frame_interval = Some(chrono::Duration::seconds(1));
    Meter::new(cfg).unwrap()
}

/// `tic-rec record --port <pty> --mode standard --data-dir <data> <extra> --http <http>`.
fn recording(pty: &Pty, data: &Path, extra: &[&str], http: &str) -> common::Running {
    let data = data.to_str().unwrap();
    let base: &[&str] = &["record", "--port", &pty.path, "--mode", "standard"];
    let tail: &[&str] = &["--data-dir", data, "--http", http];
    running(&[base, extra, tail].concat())
}

fn live_values_follow_the_recorder_within_two_seconds() {
    common::requires(&[common::Need::Chromium, common::Need::Promtool]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut pty = common::pty();
    let rec = recording(&pty, &data, &[], "127.0.0.1:0");
    let addr = addr_of(&rec);
    // The meter sends a frame a second (its time one second later each), on its own thread.
    let sent: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let log = Arc::clone(&sent);
    let meter_thread = std::thread::spawn(move || {
        let mut m = meter("2026-01-14 21:59:50");
        for _ in 0..20 {
            let mut buf = Vec::new();
            let frame = m.next_frame(&mut buf);
            pty.master.write_all(&buf).unwrap();
            log.lock()
                .unwrap()
                .push((frame.time.to_rfc3339(), Instant::now()));
            std::thread::sleep(Duration::from_secs(1));
        }
        pty
    });
    // Every new time /api/now shows must have been sent less than 2 s before.
    let mut seen: Vec<(String, Duration)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && seen.len() < 8 {
        let now = get(addr, "/api/now").json();
        let Some(t) = now["time"].as_str().map(str::to_owned) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if seen.last().is_none_or(|(last, _)| *last != t) {
            let when = sent
                .lock()
                .unwrap()
                .iter()
                .find(|(s, _)| *s == t)
                .map(|(_, i)| *i);
            let latency = when
                .map(|w| w.elapsed())
                .unwrap_or_else(|| panic!("time {t} was never sent: {:?}", sent.lock().unwrap()));
            assert_eq!(now["source"], "recorder");
            assert!(now["link"]["frames"].as_u64().unwrap() >= 1, "{now}");
            assert!(now["power_va"].as_i64().is_some(), "{now}");
            // The simulated Tempo meter says tomorrow's colour in STGE.
            assert!(now["tempo"]["tomorrow"].is_string(), "{now}");
            seen.push((t, latency));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The same through server-sent events: a stream whose events carry each new time.
    let mut es = TcpStream::connect(addr).unwrap();
    es.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    es.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(es.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    let mut times: Vec<String> = Vec::new();
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until && times.len() < 3 {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(json) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(json).unwrap();
            let t = v["time"].as_str().unwrap_or("").to_owned();
            let when = sent
                .lock()
                .unwrap()
                .iter()
                .find(|(s, _)| *s == t)
                .map(|(_, i)| *i);
            if times.last() != Some(&t) {
                if let (Some(w), false) = (when, times.is_empty()) {
                    assert!(
                        w.elapsed() < Duration::from_secs(2),
                        "event {t} {:?} late",
                        w.elapsed()
                    );
                }
                times.push(t);
            }
        }
    }
    assert!(times.len() >= 3, "events: {times:?}\n{}", rec.stderr());
    // Streams are bounded: with 8 open, the next is refused.
    let mut held = Vec::new();
    let mut refused = false;
    for _ in 0..12 {
        let g = {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET /api/events HTTP/1.1\r\n\r\n").unwrap();
            let mut head = [0u8; 12];
            s.read_exact(&mut head).unwrap();
            let ok = head.starts_with(b"HTTP/1.1 200");
            held.push(s);
            ok
        };
        if !g {
            refused = true;
            break;
        }
    }
    assert!(refused, "more than {} event streams at once", held.len());
    drop(held);
    drop(es);
    // The Now page in a browser takes its values from the event stream, with no console
    // error (a phone screenshot of it is kept).
    std::thread::sleep(Duration::from_millis(300));
    let chrome = common::chromium();
    {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("http://{addr}/");
        let (dom, log) = browse_with(
            chrome,
            profile.path(),
            &url,
            &["--dump-dom"],
            "--timeout=3000",
        );
        let console: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
            .collect();
        assert!(console.is_empty(), "console messages {console:#?}");
        assert!(dom.contains("id=\"live-events\""), "{dom}");
        assert!(
            dom.contains("<p id=\"status\" class=\"warn\"></p>"),
            "{dom}"
        );
        let screens = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/serve-screens");
        std::fs::create_dir_all(&screens).unwrap();
        let png = screens.join("now-live.png");
        browse_with(
            chrome,
            profile.path(),
            &url,
            &[&format!("--screenshot={}", png.display())],
            "--timeout=3000",
        );
    }
    let _pty = meter_thread.join().unwrap();
    let changes = seen.len();
    // The first record waits for the timeline to confirm its time (record::timeline::CONFIRM
    // frames, 2 s at a frame a second), as the event stream's check above allows.
    for (t, latency) in seen.iter().skip(1) {
        assert!(
            *latency < Duration::from_secs(2),
            "{t} showed {latency:?} after its frame was sent: {seen:?}\n{}",
            rec.stderr()
        );
    }
    assert!(changes >= 7, "{changes} changes seen");
    let metrics = get(addr, "/metrics").text();
    assert!(metrics.contains("tic_frames_total"), "{metrics}");
    assert!(metrics.contains("tic_port_reopens_total 0"), "{metrics}");
    check_metrics(&metrics);
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
}

fn two_hundred_slow_clients_cost_the_recorder_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut pty = common::pty();
    let rec = recording(&pty, &data, &[], "127.0.0.1:0");
    let addr = addr_of(&rec);
    std::thread::sleep(Duration::from_millis(500));
    // 200 clients that send a head one byte every 400 ms, and never finish it.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut slow = Vec::new();
    for _ in 0..200 {
        let stop = Arc::clone(&stop);
        slow.push(std::thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(addr) else {
                return;
            };
            for b in b"GET /api/records?from=2026-01-01 HTTP/1.1\r\n"
                .iter()
                .cycle()
            {
                if stop.load(std::sync::atomic::Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(400));
            }
        }));
    }
    let mut m = meter("2026-01-14 12:00:00");
    let frames = 40;
    for _ in 0..frames {
        let mut buf = Vec::new();
        m.next_frame(&mut buf);
        pty.master.write_all(&buf).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    pty.drain();
    std::thread::sleep(Duration::from_millis(500));
    // The slow clients time out, and the server answers again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut answered = false;
    while Instant::now() < deadline && !answered {
        answered = TcpStream::connect(addr).is_ok() && get(addr, "/api/now").status == 200;
        if !answered {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in slow {
        let _ = t.join();
    }
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    assert!(answered, "the server answers again after the slow clients");
    assert_eq!(
        common::rows_so_far(&data),
        frames,
        "every frame a row\n{stderr}"
    );
}

/// Runs headless Chromium on `url` with `extra` flags; stdout and stderr. Pages whose
/// script holds a connection open (the live Now page's event stream) cannot use virtual
/// time (it waits for the network to go idle): they get a wall-clock `--timeout` instead.
/// Chromium is killed if it has not ended within 60 s.
fn browse(chrome: &str, profile: &Path, url: &str, extra: &[&str]) -> (String, String) {
    browse_with(chrome, profile, url, extra, "--virtual-time-budget=3000")
}

fn browse_with(
    chrome: &str,
    profile: &Path,
    url: &str,
    extra: &[&str],
    time: &str,
) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=390,844",
            time,
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("run chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium on {url} did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default(),
    )
}

fn chromium_loads_every_page_without_console_errors() {
    let chrome = common::chromium();
    let (srv, addr) = serve(archive());
    let screens = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/serve-screens");
    std::fs::create_dir_all(&screens).unwrap();
    let profile = tempfile::tempdir().unwrap();
    // (page, file name, bars expected)
    let pages: &[(&str, &str, Option<usize>)] = &[
        ("/", "now", None),
        ("/day?date=2026-01-10", "day", Some(24)),
        ("/month?month=2026-01", "month", Some(31)),
        ("/year?year=2026", "year", Some(12)),
        ("/contracts", "contracts", Some(3)),
    ];
    for (page, name, bars) in pages {
        let url = format!("http://{addr}{page}");
        let (dom, log) = browse(chrome, profile.path(), &url, &["--dump-dom"]);
        let console: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
            .collect();
        assert!(console.is_empty(), "{page}: console messages {console:#?}");
        assert!(
            dom.contains("<nav>"),
            "{page}: no page in the DOM\n{dom}\n{log}"
        );
        if let Some(n) = bars {
            assert_eq!(dom.matches("<g class=\"bar\">").count(), *n, "{page}");
        }
        if *page == "/" {
            // The script ran its fetch of /api/now without an error to show.
            assert!(
                dom.contains("<p id=\"status\" class=\"warn\"></p>"),
                "{page}: {dom}"
            );
        }
        let png = screens.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        browse(
            chrome,
            profile.path(),
            &url,
            &[&format!("--screenshot={}", png.display())],
        );
        let len = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(
            len > 5_000,
            "{page}: screenshot {} of {len} bytes",
            png.display()
        );
    }
    drop(srv);
}

/// Random queries made of the real keys and hostile values: never a 5xx, always JSON.
fn random_queries_never_give_a_5xx() {
    let (srv, addr) = serve(archive());
    let mut rng = fastrand::Rng::with_seed(12);
    let paths = [
        "/api/periods",
        "/api/records",
        "/api/cost",
        "/api/now",
        "/day",
        "/month",
        "/year",
    ];
    let keys = [
        "period",
        "from",
        "to",
        "max_points",
        "label",
        "date",
        "month",
        "year",
        "x",
    ];
    let values = [
        "day",
        "hour",
        "week",
        "month",
        "year",
        "2026-01-10",
        "2026-01",
        "2026",
        "2025-12-30",
        "2026-02-03",
        "1970-01-01",
        "2026-01-10T12:00:00+01:00",
        "2026-01-10T12:00:00Z",
        "0",
        "1",
        "2000",
        "2001",
        "-1",
        "99999999999999999999",
        "SINSTS",
        "EAST",
        "PAPP",
        "%00",
        "%2e%2e%2f",
        "..",
        "",
        "%",
        "%F0%9F%92%A9",
        "a+b",
        "NaN",
        "1e308",
    ];
    for _ in 0..300 {
        let path = paths[rng.usize(..paths.len())];
        let n = rng.usize(0..4);
        let q: Vec<String> = (0..n)
            .map(|_| {
                format!(
                    "{}={}",
                    keys[rng.usize(..keys.len())],
                    values[rng.usize(..values.len())]
                )
            })
            .collect();
        let url = format!("{path}?{}", q.join("&"));
        let g = get(addr, &url);
        assert!(g.status < 500, "{url}: {} {}", g.status, g.text());
        if path.starts_with("/api/") {
            g.json();
        }
    }
    drop(srv);
}

/// A cached table is never one of other files: rows appended to a day (and a new day) show
/// in the next answer, which stays the export's.
fn cached_tables_follow_the_files() {
    use common::{local, Contract, Model};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let model = |end: i64| Model {
        contract: Contract::HcHp,
        start: local(2026, 3, 2, 0),
        end,
        step: 60,
        gaps: vec![],
    };
    model(local(2026, 3, 4, 12)).write(&data, &[]);
    let (srv, addr) = serve(&data);
    let url = "/api/periods?period=day&from=2026-03-01&to=2026-03-06";
    let totals = |v: &Value| -> Vec<Option<i64>> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["total_wh"].as_i64())
            .collect()
    };
    let export = || -> Vec<Option<i64>> {
        common::export_csv(
            &data,
            &["--day", "--from", "2026-03-01", "--to", "2026-03-06"],
        )
        .iter()
        .map(|r| r["total_wh"].parse().ok())
        .collect()
    };
    let month = "/month?month=2026-03";
    let first = get(addr, url).json();
    assert_eq!(totals(&first), export());
    let page = get(addr, month).text();
    // The same files again: the same answer.
    assert_eq!(totals(&get(addr, url).json()), totals(&first));
    // More rows on the 4th, and a 5th day.
    model(local(2026, 3, 5, 18)).write(&data, &[]);
    let second = get(addr, url).json();
    assert_ne!(totals(&second), totals(&first));
    assert_eq!(totals(&second), export());
    assert_ne!(get(addr, month).text(), page);
    drop(srv);
}

/// A dashboard that cannot listen (the port taken, an address not yet assigned at boot)
/// never stops the recorder: it says so, records, and tries again.
fn a_dashboard_that_cannot_listen_never_stops_recording() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut pty = common::pty();
    let rec = recording(
        &pty,
        &data,
        &["--archive", "csv"],
        &format!("127.0.0.1:{port}"),
    );
    rec.wait_for("cannot serve the dashboard on 127.0.0.1:", 10);
    rec.wait_for("trying again every 30 s", 1);
    let mut m = meter("2026-01-14 21:59:50");
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::rows_so_far(&data) < 5 && Instant::now() < deadline {
        let mut buf = Vec::new();
        m.next_frame(&mut buf);
        pty.master.write_all(&buf).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(common::rows_so_far(&data) >= 5, "{}", rec.stderr());
    let (status, stderr) = rec.terminate();
    assert!(status.success(), "{stderr}");
    drop(taken);
}

/// Idle connections (a client that opens and sends nothing) are dropped 5 s after they were
/// accepted, even while they wait in the queue: a dozen cannot hold the 4 workers for rounds
/// of 5 s each.
fn idle_connections_cannot_hold_the_workers() {
    let (srv, addr) = serve(archive());
    let idle: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let got = get(addr, "/api/now");
    assert_eq!(got.status, 200, "{}", got.text());
    // Three rounds of 4 idle connections would take 15 s.
    assert!(
        t.elapsed() < Duration::from_secs(9),
        "answered after {:?}",
        t.elapsed()
    );
    drop(idle);
    drop(srv);
}

/// A day file that cannot be read makes /api/cost a 503 naming it, and the answer is not
/// kept: once the file is readable again the cost is there.
fn an_unreadable_day_is_a_503_and_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let copy = Command::new("cp")
        .args(["-a", archive().to_str().unwrap(), data.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copy.success());
    let day = data.join("records/2026/01/2026-01-15.parquet");
    let good = std::fs::read(&day).unwrap();
    // The same length (the cache key), garbled.
    std::fs::write(&day, vec![b'x'; good.len()]).unwrap();
    let (srv, addr) = serve(&data);
    let q = "/api/cost?period=month&from=2026-01-01&to=2026-01-31";
    let bad = get(addr, q);
    assert_eq!(bad.status, 503, "{}", bad.text());
    assert!(bad.text().contains("2026-01-15"), "{}", bad.text());
    std::fs::write(&day, &good).unwrap();
    let ok = get(addr, q).json();
    assert_eq!(ok["available"], true, "{ok}");
    drop(srv);
}

/// Without a range, /api/records is the last recorded day, 25 hours on the October DST day.
fn default_records_are_the_last_day_across_dst() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("oct.tic");
    let data = dir.path().join("data");
    let ok = Command::new(BIN)
        .args([
            "simulate",
            "--mode",
            "standard",
            "--contract",
            "hchp",
            "--start",
            "2026-10-25T00:00:00",
            "--duration",
            "25h",
            "--frame-interval",
            "5min",
            "--output",
            cap.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new(BIN)
        .args(["record", "--replay", cap.to_str().unwrap(), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (srv, addr) = serve(&data);
    let rec = get(addr, "/api/records?max_points=25").json();
    assert_eq!(rec["from"], "2026-10-25T00:00:00+02:00", "{rec}");
    assert_eq!(rec["to"], "2026-10-26T00:00:00+01:00", "{rec}");
    assert_eq!(rec["step_s"], 3600, "{rec}");
    drop(srv);
}
