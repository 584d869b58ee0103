//! `tic-rec decode` on inputs made with the project's encoder: the real binary, its stdin
//! and its output.

use std::io::Write;
use std::process::{Command, Stdio};

use tic_rec::tic::encode::{push_frame, push_frame_with_rule};
use tic_rec::tic::{ChecksumRule, Mode, CR, ETX, LF, STX};

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

/// Runs `tic-rec decode - <args>` on `input`; returns stdout (the exit must be a success).
fn decode(input: &[u8], args: &[&str]) -> String {
    let (ok, stdout, stderr) = decode_any(input, args);
    assert!(ok, "tic-rec decode {args:?}: {stderr}");
    stdout
}

/// Runs `tic-rec decode - <args>` on `input`: success, stdout, stderr.
fn decode_any(input: &[u8], args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("decode")
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tic-rec");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for tic-rec");
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("UTF-8 output"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect()
}

/// A standard frame like the real mono BASE one, DATE 2023-03-01 09:18:34 winter time.
fn standard_frame(out: &mut Vec<u8>, date: &str) {
    push_frame(
        out,
        Mode::Standard,
        &[
            ("ADSC", None, "041876097171"),
            ("VTIC", None, "02"),
            ("DATE", Some(date), ""),
            ("NGTF", None, "      BASE      "),
            ("EAST", None, "011887649"),
            ("EASD01", None, "000000000"),
            ("SMAXSN", Some("H230301065253"), "01024"),
            ("STGE", None, "003A0001"),
        ],
    );
}

/// The text dump of wire frames: each group on its own line ending in `eol`, a blank line
/// between frames.
fn text_dump(wire: &[u8], eol: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, frame) in wire
        .split(|&b| b == STX)
        .filter(|f| !f.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.extend_from_slice(eol.as_bytes());
        }
        for group in frame.split(|&b| b == LF || b == CR || b == ETX) {
            if !group.is_empty() {
                out.extend_from_slice(group);
                out.extend_from_slice(eol.as_bytes());
            }
        }
    }
    out
}

#[test]
fn crlf_text_dump_gives_whole_frames_timed_by_date() {
    let mut wire = Vec::new();
    standard_frame(&mut wire, "H230301091834");
    standard_frame(&mut wire, "H230301091835");
    let lf = decode(&text_dump(&wire, "\n"), &[]);
    let crlf = decode(&text_dump(&wire, "\r\n"), &[]);
    let frames = json_lines(&crlf);
    assert_eq!(frames.len(), 2, "{crlf}");
    assert_eq!(frames[0]["time"], "2023-03-01T09:18:34+01:00");
    assert_eq!(frames[1]["time"], "2023-03-01T09:18:35+01:00");
    assert_eq!(frames[0]["groups"].as_object().unwrap().len(), 8);
    assert_eq!(frames[0]["groups"]["NGTF"], "BASE");
    assert_eq!(frames[0]["bad_checksums"], serde_json::json!([]));
    // Offsets differ (a CR a line more), the frames do not.
    let strip = |v: &[serde_json::Value]| {
        v.iter()
            .map(|f| {
                let mut f = f.clone();
                f["offset"] = serde_json::Value::Null;
                f
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&frames), strip(&json_lines(&lf)));
    let summary = decode(&text_dump(&wire, "\r\n"), &["--summary"]);
    assert!(summary.contains("frames complete:  2\n"), "{summary}");
    assert!(summary.contains("text lines"), "{summary}");
}

#[test]
fn impossible_horodates_are_named_apart_from_bad_checksums() {
    let mut wire = Vec::new();
    standard_frame(&mut wire, "H231301091834"); // month 13, checksum verified
    standard_frame(&mut wire, "H230301091836");
    // A bad checksum on EAST in the second frame.
    let at = wire
        .windows(5)
        .rposition(|w| w == b"\nEAST")
        .expect("an EAST group");
    let cr = at + wire[at..].iter().position(|&b| b == CR).unwrap();
    wire[cr - 1] = if wire[cr - 1] == b'A' { b'B' } else { b'A' };
    let frames = json_lines(&decode(&wire, &[]));
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0]["bad_horodates"], serde_json::json!(["DATE"]));
    assert_eq!(frames[0]["bad_checksums"], serde_json::json!([]));
    assert_eq!(frames[0]["time"], serde_json::Value::Null);
    assert!(frames[0]["groups"].get("DATE").is_none());
    assert!(frames[0]["horodates"].get("DATE").is_none());
    assert_eq!(frames[0]["groups"]["EAST"], "011887649");
    assert_eq!(frames[1]["bad_horodates"], serde_json::json!([]));
    assert_eq!(frames[1]["bad_checksums"], serde_json::json!(["EAST"]));
    assert_eq!(frames[1]["time"], "2023-03-01T09:18:36+01:00");
    let summary = decode(&wire, &["--summary"]);
    assert!(summary.contains("groups verified:  14\n"), "{summary}");
    assert!(summary.contains("groups failed:    1\n"), "{summary}");
    assert!(
        summary.contains("bad horodates:    1 (checksum verified"),
        "{summary}"
    );
}

#[test]
fn empty_frames_make_no_csv_row() {
    // An adapter at power-up: STX ETX, STX LF ETX, STX CR LF ETX, then real frames.
    let mut wire = b"\x02\x03\x02\n\x03\x02\r\n\x03".to_vec();
    standard_frame(&mut wire, "H230301091834");
    wire.extend_from_slice(b"\x02\x03");
    standard_frame(&mut wire, "H230301091835");
    let csv = decode(&wire, &["--format", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[0].starts_with("offset,mode,time,ADSC,VTIC,DATE,"),
        "{csv}"
    );
    assert!(rows[1].starts_with("9,standard,2023-03-01T09:18:34+01:00,041876097171,"));
    assert!(rows[2].contains(",2023-03-01T09:18:35+01:00,041876097171,"));
    let summary = decode(&wire, &["--summary"]);
    assert!(summary.contains("frames complete:  2\n"), "{summary}");
    assert!(summary.contains("bytes skipped:    11\n"), "{summary}");
    assert_eq!(json_lines(&decode(&wire, &[])).len(), 2);
}

/// A historique mono HC frame.
const HISTORIQUE: &[(&str, Option<&str>, &str)] = &[
    ("ADCO", None, "031328187235"),
    ("OPTARIF", None, "HC.."),
    ("ISOUSC", None, "30"),
    ("HCHC", None, "006906827"),
    ("HCHP", None, "007617931"),
    ("PTEC", None, "HP.."),
    ("IINST", None, "003"),
    ("PAPP", None, "00680"),
];

fn rule_line(summary: &str) -> &str {
    summary
        .lines()
        .find_map(|l| l.strip_prefix("checksum rule:    "))
        .unwrap_or_else(|| panic!("no checksum rule line in {summary}"))
}

#[test]
fn mode2_streams_decode_and_the_summary_names_the_rule() {
    let mut mode2 = Vec::new();
    for _ in 0..2 {
        push_frame_with_rule(&mut mode2, ChecksumRule::HistoriqueMode2, HISTORIQUE);
    }
    for args in [&[][..], &["--mode", "historique"][..]] {
        let frames = json_lines(&decode(&mode2, args));
        assert_eq!(frames.len(), 2);
        for f in &frames {
            assert_eq!(f["mode"], "historique");
            assert_eq!(f["groups"].as_object().unwrap().len(), 8);
            assert_eq!(f["groups"]["PTEC"], "HP..");
            assert_eq!(f["bad_checksums"], serde_json::json!([]));
        }
        let summary = decode(&mode2, &[&["--summary"][..], args].concat());
        assert_eq!(rule_line(&summary), "historique mode 2 (pre-Linky)");
        assert!(summary.contains("groups failed:    0\n"), "{summary}");
    }
    let mut linky = Vec::new();
    push_frame(&mut linky, Mode::Historique, HISTORIQUE);
    let summary = decode(&linky, &["--summary"]);
    assert_eq!(rule_line(&summary), "historique mode 1 (Linky)");
    let mut standard = Vec::new();
    standard_frame(&mut standard, "H230301091834");
    assert_eq!(rule_line(&decode(&standard, &["--summary"])), "standard");
    // Two groups are too few to decide: mode 1 is used, and said to be unconfirmed.
    let mut short = Vec::new();
    push_frame(&mut short, Mode::Historique, &HISTORIQUE[..2]);
    let summary = decode(&short, &["--summary"]);
    assert!(
        rule_line(&summary).starts_with("historique mode 1 (Linky), not confirmed"),
        "{summary}"
    );
    let (ok, summary, _) = decode_any(b"noise", &["--summary"]);
    assert!(!ok);
    assert_eq!(rule_line(&summary), "none detected");
}

/// A capture in which no group verifies (random bytes, an empty file, the other mode forced)
/// is an error naming the file and why, after the output; the summary gives no mode.
#[test]
fn a_capture_in_which_no_group_verifies_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = fastrand::Rng::with_seed(21);
    let random: Vec<u8> = (0..20_000).map(|_| rng.u8(..)).collect();
    let mut historique = Vec::new();
    for _ in 0..5 {
        push_frame(&mut historique, Mode::Historique, HISTORIQUE);
    }
    for (name, bytes, args, why) in [
        (
            "random.bin",
            &random[..],
            &[][..],
            "fail their checksum: is it a TIC capture",
        ),
        ("empty.tic", &[][..], &[][..], "is empty"),
        (
            "historique.tic",
            &historique[..],
            &["--mode", "standard"][..],
            "is it really standard mode? try --mode auto",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        for format in [&["--summary"][..], &["--format", "csv"][..], &[][..]] {
            let out = Command::new(BIN)
                .arg("decode")
                .arg(&path)
                .args(args)
                .args(format)
                .output()
                .expect("run tic-rec");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{name} {format:?}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.starts_with("tic-rec: error: ") && stderr.contains(path.to_str().unwrap()),
                "{name}: {stderr}"
            );
            assert!(stderr.contains(why), "{name}: {stderr}");
            if format == ["--summary"] {
                let summary = String::from_utf8_lossy(&out.stdout);
                assert!(
                    summary.contains("mode:             none (no group verifies)\n"),
                    "{name}: {summary}"
                );
            }
        }
    }
    // Standard input is named so.
    let (ok, _, stderr) = decode_any(&random, &[]);
    assert!(!ok && stderr.contains("in standard input"), "{stderr}");
}
