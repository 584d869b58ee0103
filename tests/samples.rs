//! Every real capture in `../shared/data/tic-samples/` decodes with the frame and checksum
//! counts its SOURCES.md states. Ignored, with the reason, where `../shared` is absent (and
//! failed in CI: tests/common/harness.rs).

mod common;

common::harness!(
    captures_decode_with_sources_md_counts,
    historique_captures_as_mode2_decode_the_same,
    text_dump_decodes_as_lines,
    corrupted_frame_has_nine_good_groups,
    partial_capture_has_no_complete_frame,
    values_and_instants_of_a_real_capture,
    rx_errors_frames_hold_only_clean_values,
    project_samples_decode,
);

use std::path::PathBuf;
use tic_rec::tic::{checksum, BadKind, ChecksumRule, Config, Decoder, Frame, Framing, Mode};

use common::shared_samples as samples_dir;

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    frames: u64,
    ok: u64,
    bad: u64,
}

/// Counts groups by checksum, as SOURCES.md does: a group whose checksum verified but that
/// the decoder still rejects as malformed (a garbled label that collides, 1 in 64) or for an
/// impossible horodate counts as verified here.
fn count(c: &mut Counts, f: &Frame<'_>) {
    c.ok += f.groups().count() as u64;
    for b in f.bad_groups() {
        match b.kind {
            BadKind::Malformed(why) | BadKind::Horodate(why) => {
                eprintln!(
                    "checksum verified but rejected: {:?} at byte {}: {why}",
                    b.label, b.offset
                );
                c.ok += 1
            }
            _ => c.bad += 1,
        }
    }
}

fn decode(bytes: &[u8], framing: Framing) -> (Counts, Decoder) {
    let mut d = Decoder::new(Config {
        framing,
        ..Config::default()
    });
    let mut c = Counts::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (f, n) = d.decode(rest);
        if let Some(f) = f {
            c.frames += 1;
            count(&mut c, &f);
        }
        rest = &rest[n..];
    }
    if let Some(f) = d.finish() {
        c.frames += 1;
        count(&mut c, &f);
    }
    (c, d)
}

/// (file, mode, frames, groups verified, groups failed) as SOURCES.md gives them for
/// complete frames.
const EXPECTED: &[(&str, Mode, u64, u64, u64)] = &[
    ("standard-mono-base-lains.bin", Mode::Standard, 12, 456, 0),
    (
        "standard-mono-base-midnight-lains-derived.bin",
        Mode::Standard,
        12,
        456,
        0,
    ),
    ("historique-tri-base-lains.bin", Mode::Historique, 6, 96, 0),
    (
        "historique-tri-base-lains-2024-cooked-tty.bin",
        Mode::Historique,
        4,
        64,
        0,
    ),
    (
        "historique-tri-base-lains-rx-errors.bin",
        Mode::Historique,
        25,
        297,
        133,
    ),
    (
        "historique-mono-tempo-pyteleinfo.bin",
        Mode::Historique,
        10,
        160,
        0,
    ),
    (
        "historique-mono-hchp-nokyyz-1.bin",
        Mode::Historique,
        13,
        143,
        0,
    ),
    (
        "historique-mono-hchp-nokyyz-2.bin",
        Mode::Historique,
        123,
        1353,
        0,
    ),
    (
        "historique-mono-hchp-nokyyz-3.bin",
        Mode::Historique,
        198,
        2178,
        0,
    ),
    (
        "standard-mono-hchp-producer-teleinfo2mqtt-edited.log",
        Mode::Standard,
        9,
        344,
        3,
    ),
    (
        "standard-mono-hcwe-goteleinfo.bin",
        Mode::Standard,
        1,
        38,
        0,
    ),
    (
        "standard-mono-tempo-ticmeter-converted.bin",
        Mode::Standard,
        1,
        40,
        1,
    ),
    (
        "standard-mono-producer-ticmeter-converted.bin",
        Mode::Standard,
        1,
        45,
        1,
    ),
    (
        "standard-mono-producer-openhab-reconstructed.bin",
        Mode::Standard,
        1,
        46,
        0,
    ),
    (
        "standard-mono-base-hekmon-reconstructed.bin",
        Mode::Standard,
        1,
        38,
        0,
    ),
    (
        "standard-tri-tempo-producer-openhab-reconstructed.bin",
        Mode::Standard,
        2,
        126,
        0,
    ),
    (
        "standard-tri-base-esphome-issue2060-reconstructed.bin",
        Mode::Standard,
        1,
        51,
        2,
    ),
];

fn captures_decode_with_sources_md_counts() {
    let dir = samples_dir();
    let mut failures = Vec::new();
    for &(file, mode, frames, ok, bad) in EXPECTED {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (got, d) = decode(&bytes, Framing::Wire);
        let want = Counts { frames, ok, bad };
        // Every historique capture is a Linky: mode 1, decided on its way.
        let rule = ChecksumRule::usual(mode);
        if got != want || d.stats().mode() != Some(mode) || d.checksum_rule() != Some(rule) {
            failures.push(format!(
                "{file}: want {want:?} {mode} {rule}, got {got:?} {:?} {:?}",
                d.stats().mode(),
                d.checksum_rule()
            ));
        }
        if mode == Mode::Historique && d.historique_rule() != Some(rule) {
            failures.push(format!("{file}: rule undecided"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The capture as a pre-Linky meter would have sent it: every group that verifies under
/// mode 1 gets its mode-2 checksum (the last SP summed too).
fn as_mode2(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut start = 0;
    for end in 0..=out.len() {
        if end < out.len() && out[end] != b'\n' && out[end] != b'\r' {
            continue;
        }
        let g = &out[start..end];
        let n = g.len();
        if n >= 3 && g[n - 2] == b' ' && checksum(&g[..n - 2]) == g[n - 1] {
            out[end - 1] = checksum(&g[..n - 1]);
        }
        start = end + 1;
    }
    out
}

fn historique_captures_as_mode2_decode_the_same() {
    let dir = samples_dir();
    let mut failures = Vec::new();
    for &(file, mode, frames, ok, bad) in EXPECTED {
        if mode != Mode::Historique {
            continue;
        }
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mode2 = as_mode2(&bytes);
        assert_ne!(mode2, bytes, "{file}");
        let (got, d) = decode(&mode2, Framing::Wire);
        let want = Counts { frames, ok, bad };
        let rule = Some(ChecksumRule::HistoriqueMode2);
        if got != want || d.historique_rule() != rule || d.checksum_rule() != rule {
            failures.push(format!(
                "{file}: want {want:?}, got {got:?} {:?}",
                d.historique_rule()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn text_dump_decodes_as_lines() {
    let dir = samples_dir();
    let bytes = std::fs::read(dir.join("historique-tri-base-ticmeter-text.txt")).unwrap();
    let (got, _) = decode(&bytes, Framing::Lines);
    // 2 frames of 16 lines; the last line of each (`OT 00 #`, PPOT with `PP` lost) fails.
    let want = Counts {
        frames: 2,
        ok: 30,
        bad: 2,
    };
    assert_eq!(got, want);
    // The same dump with CR LF (Windows) or LF CR line ends has the same frames.
    for eol in ["\r\n", "\n\r"] {
        let text = String::from_utf8(bytes.clone()).unwrap().replace('\n', eol);
        assert_eq!(decode(text.as_bytes(), Framing::Lines).0, want, "{eol:?}");
    }
}

fn corrupted_frame_has_nine_good_groups() {
    let dir = samples_dir();
    let mut bytes =
        std::fs::read(dir.join("standard-mono-tempo-ticmeter-corrupted-converted.bin")).unwrap();
    // The capture is one STX with no ETX: as captured, it is no complete frame.
    assert_eq!(decode(&bytes, Framing::Wire).0.frames, 0);
    // Closed by an ETX, its 38 group-like segments verify as SOURCES.md counts them (9 ok,
    // 29 bad), plus the two trailing NULs, which the ETX turns into a 39th (bad) segment.
    bytes.push(0x03);
    assert_eq!(
        decode(&bytes, Framing::Wire).0,
        Counts {
            frames: 1,
            ok: 9,
            bad: 30
        }
    );
}

fn partial_capture_has_no_complete_frame() {
    let dir = samples_dir();
    let bytes =
        std::fs::read(dir.join("standard-tri-tempo-partial-issue38-reconstructed.bin")).unwrap();
    let (got, d) = decode(&bytes, Framing::Wire);
    assert_eq!(got.frames, 0);
    assert_eq!(d.stats().bytes_skipped, bytes.len() as u64);
}

fn values_and_instants_of_a_real_capture() {
    let dir = samples_dir();
    let bytes = std::fs::read(dir.join("standard-mono-base-lains.bin")).unwrap();
    let mut d = Decoder::default();
    let mut rest = &bytes[..];
    let mut dates = Vec::new();
    while !rest.is_empty() {
        let (f, n) = d.decode(rest);
        if let Some(f) = f {
            assert_eq!(f.get("NGTF").unwrap().value, "BASE");
            assert_eq!(f.get("STGE").unwrap().value, "003A0001");
            dates.push(f.date().unwrap().instant().unwrap().to_rfc3339());
        }
        rest = &rest[n..];
    }
    assert_eq!(dates.first().unwrap(), "2023-03-01T09:18:34+01:00");
    assert_eq!(dates.last().unwrap(), "2023-03-01T09:18:44+01:00");
}

fn rx_errors_frames_hold_only_clean_values() {
    let dir = samples_dir();
    let bytes = std::fs::read(dir.join("historique-tri-base-lains-rx-errors.bin")).unwrap();
    let mut d = Decoder::default();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let (f, n) = d.decode(rest);
        if let Some(f) = f {
            for g in f.groups() {
                assert!(
                    g.label
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                    "{g:?}"
                );
                assert!(g.value.bytes().all(|b| b.is_ascii_graphic()), "{g:?}");
            }
        }
        rest = &rest[n..];
    }
}

/// The project's own samples in `data/` (made by `data/make.sh` with the simulator) decode
/// with every group verified, but the noisy-line one, whose faults are all detected.
fn project_samples_decode() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "tic") {
            continue;
        }
        n += 1;
        let bytes = std::fs::read(&path).unwrap();
        let (got, d) = decode(&bytes, Framing::Wire);
        assert!(got.frames >= 6, "{path:?}: {got:?}");
        let name = path.file_name().unwrap().to_str().unwrap();
        if name.contains("faults") {
            assert!(got.bad > 0 && d.stats().frames_cut > 0, "{name}: {got:?}");
        } else {
            assert_eq!(got.bad, 0, "{name}");
            assert_eq!(
                d.stats().bytes_skipped,
                0,
                "{name}: starts at STX, ends at ETX"
            );
        }
    }
    assert!(n >= 9, "{n} samples in data/");
}
