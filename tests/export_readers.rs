//! The Parquet export read by the real clients: pandas and DuckDB (through `examples/`).
//! Needs `TIC_REC_PYTHON` (set by `scripts/test`); skips with a printed reason otherwise
//! (and fails instead in CI: `common::skip_or_fail`).

mod common;

use std::process::Command;

use common::{local, python_readers, tic_rec, Contract, Model};

#[test]
fn pandas_and_duckdb_load_the_parquet_export_typed() {
    let Some(python) = python_readers() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let days: Vec<i64> = (27..=31).map(|d| local(2026, 3, d, 0)).collect();
    let m = Model {
        contract: Contract::HcHp,
        start: days[0],
        end: days[4],
        step: 30,
        gaps: vec![],
    };
    let idx = m.write(&data, &days);
    let out = dir.path().join("export.parquet");
    let o = tic_rec(&[
        "export",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--to",
        "2026-03-30",
        "-o",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");

    let o = Command::new(&python)
        .arg(examples.join("export_pandas.py"))
        .arg(&out)
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["rows"], 4);
    assert_eq!(v["hc_wh"], idx[4][1] - idx[0][1]);
    assert_eq!(v["hp_wh"], idx[4][2] - idx[0][2]);
    assert_eq!(v["total_wh"], idx[4][0] - idx[0][0]);
    assert_eq!(v["hours"], serde_json::json!([24.0, 24.0, 23.0, 24.0]));
    let t = &v["dtypes"];
    assert!(
        t["period_start"].as_str().expect("dtype").contains("UTC"),
        "{t}"
    );
    assert_eq!(t["hc_wh"], "int64");
    assert_eq!(t["coverage"], "float64");
    assert_eq!(t["records"], "int64");
    assert!(t["flags"] == "object" || t["flags"] == "str", "{t}");

    let script = "import duckdb, json, sys\nrows = duckdb.sql(open(sys.argv[1]).read()).fetchall()\nprint(json.dumps([[str(c) for c in r] for r in rows]))\n";
    let o = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(examples.join("export_duckdb.sql"))
        .current_dir(dir.path())
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Vec<String>> = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r[3], (idx[4][0] - idx[0][0]).to_string());
    assert_eq!(r[5], "0", "no flagged day");
    assert_eq!(r[6], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(r[7], "BIGINT");
}
