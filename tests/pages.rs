//! The dashboard's pages in real Chromium (Debian's, driven through its DevTools protocol by
//! Playwright's Python package: `tests/browser/pages.py`), over recordings the simulator made
//! at 1 s, 1 min, 5 min and 15 min, each with a real 2-hour gap on 2 November 2026, and a
//! Tempo meter on its first morning. Every page at 360×740 and 1280×800, light and dark: no
//! console error, nothing wider than the screen, WCAG AA contrast for text (4.5:1, 3:1 when
//! large) and for the chart's lines, bars and marks (3:1), axis labels of the body's size
//! and inside their chart, no word broken across two lines (a date, an amount and its
//! unit), the power curve in one piece more than the real gaps, no "0.00 €" and no
//! command-line flag in the text. Screenshots are kept in `target/pages-screens/`.

mod common;

common::harness!(every_page_at_every_cadence_on_a_phone_and_a_desktop_light_and_dark);

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

fn run(args: &[&str]) {
    let out = Command::new(BIN).args(args).output().expect("run tic-rec");
    assert!(
        out.status.success(),
        "tic-rec {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A recording of the simulator's meter (`contract`), from `start` for `duration`, one
/// frame every `every`, recorded by `record --replay`; the rows of 2 November 2026 from
/// 10:00 to 12:00 removed (a real gap) when `gap`; compacted when `compact`.
fn recording(
    dir: &Path,
    contract: &str,
    start: &str,
    duration: &str,
    every: &str,
    gap: bool,
    compact: bool,
) -> PathBuf {
    let cap = dir.join("capture.tic");
    let data = dir.join("data");
    let c = cap.to_str().expect("utf-8");
    let d = data.to_str().expect("utf-8");
    run(&[
        "simulate",
        "--mode",
        "standard",
        "--contract",
        contract,
        "--start",
        start,
        "--duration",
        duration,
        "--frame-interval",
        every,
        "--output",
        c,
    ]);
    run(&["record", "--replay", c, "--data-dir", d, "--archive", "csv"]);
    let _ = std::fs::remove_file(&cap);
    if gap {
        let day = data.join("journal/2026/11/2026-11-02.csv");
        let text = std::fs::read_to_string(&day).expect("the day of the gap");
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with("2026-11-02T10:") && !l.starts_with("2026-11-02T11:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(kept.len() < text.len(), "a gap was cut");
        std::fs::write(&day, kept).expect("write");
    }
    if compact {
        run(&["compact", "--data-dir", d]);
    }
    data
}

fn serve(data: &Path) -> (common::Running, SocketAddr) {
    let p = common::Running::start(
        &[
            "serve",
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let a = common::http::addr_of(&p);
    (p, a)
}

fn every_page_at_every_cadence_on_a_phone_and_a_desktop_light_and_dark() {
    let chrome = common::chromium();
    let python = common::python(&["playwright"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    // (name, contract, start, duration, every, gap, compact, pages)
    let day = "/day?date=2026-11-02";
    let all = [
        "/",
        day,
        "/month?month=2026-11",
        "/year?year=2026",
        "/contracts",
        "/help",
    ];
    let sites: Vec<(&str, &str, &str, &str, &str, bool, bool)> = vec![
        (
            "1s",
            "hchp",
            "2026-11-02T00:00:00",
            "1day",
            "1s",
            true,
            false,
        ),
        (
            "1min",
            "hchp",
            "2026-10-27T00:00:00",
            "10days",
            "1min",
            true,
            false,
        ),
        (
            "5min",
            "hchp",
            "2026-10-10T00:00:00",
            "30days",
            "5min",
            true,
            true,
        ),
        (
            "15min",
            "hchp",
            "2026-09-01T00:00:00",
            "70days",
            "15min",
            true,
            true,
        ),
        // A Tempo meter's first morning: no HC yet.
        (
            "tempo",
            "tempo",
            "2026-11-02T10:00:00",
            "5h",
            "1min",
            false,
            false,
        ),
    ];
    let mut servers = Vec::new();
    let mut config_sites = Vec::new();
    for (name, contract, start, duration, every, gap, compact) in &sites {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let data = recording(&dir, contract, start, duration, every, *gap, *compact);
        let (srv, addr) = serve(&data);
        let pages: Vec<&str> = if *name == "tempo" {
            vec!["/", day]
        } else {
            all.to_vec()
        };
        config_sites.push(serde_json::json!({
            "name": name, "url": format!("http://{addr}"), "pages": pages,
        }));
        servers.push(srv);
    }
    let screens = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pages-screens");
    let config = serde_json::json!({
        "chromium": chrome, "screens": screens, "sites": config_sites,
    });
    let config_path = tmp.path().join("config.json");
    std::fs::write(&config_path, config.to_string()).expect("write");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/pages.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&config_path)
        .output()
        .expect("run the browser");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pages.py: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let n_pages: usize = config_sites
        .iter()
        .map(|s| s["pages"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        results.len(),
        n_pages * 4,
        "every page, 2 sizes × 2 schemes"
    );

    let flag = regex_free_flag;
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &results {
        let id = format!(
            "{} {} {}px {}",
            r["site"].as_str().unwrap_or(""),
            r["page"].as_str().unwrap_or(""),
            r["width"],
            r["scheme"].as_str().unwrap_or("")
        );
        let mut fail = |what: String| failures.entry(id.clone()).or_default().push(what);
        for e in r["errors"].as_array().into_iter().flatten() {
            fail(format!("console: {e}"));
        }
        let o = &r["overflow"];
        let inner = o["inner"].as_i64().unwrap_or(0);
        if o["scroll"].as_i64().unwrap_or(i64::MAX) > inner
            || o["body"].as_i64().unwrap_or(i64::MAX) > inner
        {
            fail(format!("wider than the screen: {o}"));
        }
        for kind in ["texts", "graphics"] {
            for t in r[kind].as_array().into_iter().flatten() {
                let (ratio, need) = (
                    t["ratio"].as_f64().unwrap_or(0.0),
                    t["need"].as_f64().unwrap_or(4.5),
                );
                if ratio + 1e-9 < need {
                    fail(format!(
                        "contrast {ratio:.2} < {need} for {} {:?}",
                        t["el"], t["text"]
                    ));
                }
            }
        }
        for l in r["labels"].as_array().into_iter().flatten() {
            if l["size"] != l["body"] {
                fail(format!(
                    "axis label {} of {}px, body {}px",
                    l["text"], l["size"], l["body"]
                ));
            }
            if l["inside"] != Value::Bool(true) {
                fail(format!("axis label {} sticks out of its chart", l["text"]));
            }
        }
        for b in r["broken"].as_array().into_iter().flatten() {
            fail(format!(
                "{} broken across two lines in {}",
                b["word"], b["el"]
            ));
        }
        let text = r["text"].as_str().unwrap_or("");
        if text.contains("0.00 €") || text.contains("0.00\u{a0}€") {
            fail("\"0.00 €\" in the text".into());
        }
        if let Some(f) = flag(text) {
            fail(format!("a command-line flag in the text: {f:?}"));
        }
        let page = r["page"].as_str().unwrap_or("");
        let site = r["site"].as_str().unwrap_or("");
        if page == day && site != "tempo" && r["curves"].as_i64() != Some(2) {
            fail(format!(
                "the power curve in {} pieces, not 2 (one real gap)",
                r["curves"]
            ));
        }
        if page == day && site == "tempo" && r["curves"].as_i64() != Some(1) {
            fail(format!(
                "the first morning's curve in {} pieces",
                r["curves"]
            ));
        }
        if page.starts_with("/month") && !text.contains("Not priced: Tempo") {
            fail("no word that Tempo is not priced".into());
        }
        if page == "/" && r["live"].as_i64().unwrap_or(0) < 1 {
            fail("no curve of the last hour on the Now page".into());
        }
        if site == "tempo" && page == "/" {
            if !text.contains("not seen yet") {
                fail("no \"not seen yet\" for the Tempo parts of the first morning".into());
            }
            if text.contains("no register") {
                fail("a register mismatch on a first morning".into());
            }
        }
        let first_month = match site {
            "15min" => "2026-09",
            "5min" | "1min" => "2026-10",
            _ => "2026-11",
        };
        if page == "/contracts" && r["first_row"].as_str() != Some(first_month) {
            fail(format!(
                "the Contracts page starts at {}, not the first recorded month {first_month}",
                r["first_row"]
            ));
        }
    }
    drop(servers);
    assert!(
        failures.is_empty(),
        "{} of {} page views fail:\n{:#?}",
        failures.len(),
        results.len(),
        failures
    );
}

/// A command-line flag (`--something`) in `text`, if there is one.
fn regex_free_flag(text: &str) -> Option<String> {
    let b = text.as_bytes();
    for i in 0..b.len().saturating_sub(2) {
        let start = i == 0 || b[i - 1].is_ascii_whitespace() || b[i - 1] == b'(';
        if start && b[i] == b'-' && b[i + 1] == b'-' && b[i + 2].is_ascii_lowercase() {
            let end = text[i..]
                .find(|c: char| c.is_whitespace())
                .map_or(text.len(), |e| i + e);
            return Some(text[i..end].to_owned());
        }
    }
    None
}
