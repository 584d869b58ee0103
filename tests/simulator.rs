//! The simulated meter, checked with the project's decoder: values frame for frame, faults
//! exactly as injected, DST days, and the pseudo-terminal path through the serialport crate.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use tic_rec::sim::{Contract, Faults, Meter, SimConfig, SimFrame};
use tic_rec::tic::{Config, Decoder, Frame, Mode};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// Owned view of a decoded frame.
#[derive(Debug, PartialEq)]
struct Decoded {
    mode: Mode,
    time: Option<String>,
    groups: Vec<(String, Option<String>, String)>,
    bad: Vec<String>,
}

fn own(f: &Frame<'_>) -> Decoded {
    Decoded {
        mode: f.mode,
        time: f.date().and_then(|h| h.instant()).map(|t| t.to_rfc3339()),
        groups: f
            .groups()
            .map(|g| {
                (
                    g.label.to_owned(),
                    g.horodate.map(str::to_owned),
                    g.value.to_owned(),
                )
            })
            .collect(),
        bad: f.bad_groups().map(|b| b.label.to_owned()).collect(),
    }
}

fn decode(bytes: &[u8]) -> Vec<Decoded> {
    let mut d = Decoder::new(Config::default());
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (f, n) = d.decode(rest);
        if let Some(f) = f {
            out.push(own(&f));
        }
        rest = &rest[n..];
    }
    out
}

fn simulate(cfg: SimConfig, frames: usize) -> (Vec<u8>, Vec<SimFrame>) {
    let mut m = Meter::new(cfg).unwrap();
    let mut bytes = Vec::new();
    let sims = (0..frames).map(|_| m.next_frame(&mut bytes)).collect();
    (bytes, sims)
}

/// What the decoder must give for a simulated frame: every group but the damaged ones,
/// values trimmed of padding.
fn expected(s: &SimFrame, mode: Mode) -> Decoded {
    Decoded {
        mode,
        time: match mode {
            Mode::Standard if !s.bad.contains(&"DATE") => Some(
                s.time
                    .with_timezone(&s.time.timezone())
                    .format("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string(),
            ),
            _ => None,
        },
        groups: s
            .groups
            .iter()
            .filter(|g| !s.bad.contains(&g.label))
            .map(|g| {
                (
                    g.label.to_owned(),
                    g.horodate.clone(),
                    g.value.trim_matches(' ').to_owned(),
                )
            })
            .collect(),
        bad: s.bad.iter().map(|l| l.to_string()).collect(),
    }
}

#[test]
fn every_shape_decodes_to_the_model_values() {
    for mode in [Mode::Standard, Mode::Historique] {
        for contract in [Contract::Base, Contract::HcHp, Contract::Tempo] {
            for phases in [1, 3] {
                for producer in [false, true] {
                    if producer && mode == Mode::Historique {
                        continue;
                    }
                    let mut cfg = SimConfig::new(mode, contract, at("2026-01-14 21:58:00"));
                    cfg.phases = phases;
                    cfg.producer = producer;
                    cfg.frame_interval = Some(Duration::seconds(7));
                    let (bytes, sims) = simulate(cfg, 60);
                    let decoded = decode(&bytes);
                    assert_eq!(decoded.len(), sims.len(), "{mode} {contract} {phases}");
                    for (d, s) in decoded.iter().zip(&sims) {
                        assert_eq!(
                            d,
                            &expected(s, mode),
                            "{mode} {contract} {phases} {producer}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn group_order_follows_the_real_meters() {
    let mut cfg = SimConfig::new(Mode::Standard, Contract::Tempo, at("2026-01-14 08:00:00"));
    cfg.phases = 3;
    cfg.producer = true;
    cfg.frame_interval = Some(Duration::minutes(31));
    let (_, sims) = simulate(cfg, 3);
    let labels: Vec<&str> = sims[2].groups.iter().map(|g| g.label).collect();
    // The order of the real tri producer Tempo capture (openHAB), where the labels exist.
    let real = "ADSC VTIC DATE NGTF LTARF EAST EASF01 EASF02 EASF03 EASF04 EASF05 EASF06 EASF07 EASF08 EASF09 EASF10 EASD01 EASD02 EASD03 EASD04 EAIT ERQ1 ERQ2 ERQ3 ERQ4 IRMS1 IRMS2 IRMS3 URMS1 URMS2 URMS3 PREF PCOUP SINSTS SINSTS1 SINSTS2 SINSTS3 SMAXSN SMAXSN1 SMAXSN2 SMAXSN3 SMAXSN-1 SMAXSN1-1 SMAXSN2-1 SMAXSN3-1 SINSTI SMAXIN SMAXIN-1 CCASN CCASN-1 CCAIN CCAIN-1 UMOY1 UMOY2 UMOY3 STGE MSG1 PRM RELAIS NTARF NJOURF NJOURF+1 PJOURF+1";
    assert_eq!(labels.join(" "), real);
    let mut cfg = SimConfig::new(Mode::Historique, Contract::Tempo, at("2026-01-14 08:00:00"));
    cfg.frame_interval = Some(Duration::seconds(1));
    let (_, sims) = simulate(cfg, 1);
    let labels: Vec<&str> = sims[0].groups.iter().map(|g| g.label).collect();
    // The real historique mono Tempo capture (pyteleinfo).
    assert_eq!(
        labels.join(" "),
        "ADCO OPTARIF ISOUSC BBRHCJB BBRHPJB BBRHCJW BBRHPJW BBRHCJR BBRHPJR PTEC DEMAIN IINST IMAX PAPP HHPHC MOTDETAT"
    );
}

#[test]
fn faults_are_reported_exactly() {
    for mode in [Mode::Standard, Mode::Historique] {
        let mut cfg = SimConfig::new(mode, Contract::HcHp, at("2026-06-01 12:00:00"));
        cfg.frame_interval = Some(Duration::seconds(1));
        cfg.seed = 7;
        cfg.faults = Faults::parse("noise=0.1,badsum=0.02,eot=0.05,parity").unwrap();
        // Historique frames carry no date to degrade (Meter::new refuses it there).
        cfg.faults.degraded_clock = mode == Mode::Standard;
        let (bytes, sims) = simulate(cfg, 2000);
        assert!(bytes.iter().any(|&b| b >= 0x80), "parity sets bit 7");
        let kept: Vec<&SimFrame> = sims.iter().filter(|s| !s.cut).collect();
        let cut = sims.len() - kept.len();
        let bad: usize = kept.iter().map(|s| s.bad.len()).sum();
        assert!(
            cut > 50 && bad > 200,
            "faults were injected: {cut} cut, {bad} bad groups"
        );
        let decoded = decode(&bytes);
        assert_eq!(
            decoded.len(),
            kept.len(),
            "{mode}: exactly the cut frames are missing"
        );
        for (d, s) in decoded.iter().zip(kept) {
            assert_eq!(d, &expected(s, mode), "{mode}");
        }
        if mode == Mode::Standard {
            let degraded = sims[0].groups.iter().find(|g| g.label == "DATE").unwrap();
            assert!(degraded.horodate.as_ref().unwrap().starts_with('e'));
        }
    }
}

#[test]
fn indexes_grow_by_the_integrated_power() {
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, at("2026-02-10 20:00:00"));
    cfg.frame_interval = Some(Duration::seconds(10));
    let (_, sims) = simulate(cfg, 6 * 60 * 6); // 6 hours, across 22:00
    let idx = |s: &SimFrame, l: &str| s.value(l).unwrap().parse::<i64>().unwrap();
    let mut integrated = [0f64; 2];
    for w in sims.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        // Each index moves only during its own period.
        let i = usize::from(!a.off_peak);
        integrated[i] += f64::from(a.power_va) * 10.0 / 3600.0;
        assert_eq!(
            idx(b, "EAST"),
            (1..=10)
                .map(|n| idx(b, &format!("EASF{n:02}")))
                .sum::<i64>()
        );
        assert_eq!(
            b.value("NTARF").unwrap(),
            if b.off_peak { "01" } else { "02" }
        );
        assert_eq!(
            b.value("LTARF").unwrap(),
            if b.off_peak {
                "HEURE  CREUSE"
            } else {
                "HEURE  PLEINE"
            }
        );
    }
    let (first, last) = (&sims[0], sims.last().unwrap());
    for (i, label) in ["EASF01", "EASF02"].iter().enumerate() {
        let delta = (idx(last, label) - idx(first, label)) as f64;
        assert!(
            (delta - integrated[i]).abs() <= 1.0,
            "{label}: {delta} Wh vs {} Wh integrated",
            integrated[i]
        );
    }
    assert!(integrated[0] > 1000.0 && integrated[1] > 1000.0);
}

#[test]
fn smaxsn_tracks_the_day_and_resets_at_midnight() {
    let mut cfg = SimConfig::new(Mode::Standard, Contract::Base, at("2026-02-10 18:00:00"));
    cfg.frame_interval = Some(Duration::seconds(30));
    let (_, sims) = simulate(cfg, 2 * 60 * 8); // 8 h, across midnight
    let mut day_max = 0u32;
    let mut before_midnight = 0u32;
    for s in &sims {
        let local = s.time.naive_local();
        if local.date() == NaiveDate::from_ymd_opt(2026, 2, 11).unwrap() && before_midnight == 0 {
            before_midnight = day_max;
            day_max = 0;
        }
        day_max = day_max.max(s.power_va);
        let smax = s.groups.iter().find(|g| g.label == "SMAXSN").unwrap();
        assert_eq!(smax.value.parse::<u32>().unwrap(), day_max, "at {local}");
        assert!(smax.horodate.as_ref().unwrap()[1..7] == local.format("%y%m%d").to_string());
        if before_midnight > 0 {
            assert_eq!(
                s.value("SMAXSN-1").unwrap().parse::<u32>().unwrap(),
                before_midnight
            );
        }
    }
    assert!(before_midnight > 0);
}

/// Frames of one local day at a one-minute frame interval, checked through the decoder.
fn dst_day(day: &str, hours: i64) {
    let start = at(&format!("{day} 00:00:00")) - Duration::hours(1);
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, start);
    cfg.frame_interval = Some(Duration::minutes(1));
    let (bytes, _) = simulate(cfg, 26 * 60 + 120);
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = decode(&bytes)
        .iter()
        .map(|d| chrono::DateTime::parse_from_rfc3339(d.time.as_ref().unwrap()).unwrap())
        .collect();
    for w in times.windows(2) {
        assert_eq!(
            (w[1] - w[0]).num_seconds(),
            60,
            "strictly increasing, one minute apart: {} → {}",
            w[0],
            w[1]
        );
    }
    let in_day: Vec<_> = times
        .iter()
        .filter(|t| t.naive_local().date().to_string() == day)
        .collect();
    assert_eq!(in_day.len() as i64, hours * 60, "{day} has {hours} h");
    assert_eq!(
        (*in_day[in_day.len() - 1] - *in_day[0]).num_minutes(),
        hours * 60 - 1
    );
}

#[test]
fn october_day_lasts_25_hours_and_repeats_2am_with_e_then_h() {
    dst_day("2026-10-25", 25);
    let mut cfg = SimConfig::new(Mode::Standard, Contract::Base, at("2026-10-25 02:58:00"));
    cfg.frame_interval = Some(Duration::minutes(1));
    let (_, sims) = simulate(cfg, 64);
    let dates: Vec<String> = sims
        .iter()
        .map(|s| {
            s.groups
                .iter()
                .find(|g| g.label == "DATE")
                .unwrap()
                .horodate
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(dates[0], "E261025025800");
    assert!(dates.contains(&"E261025025900".to_string()));
    assert!(dates.contains(&"H261025020000".to_string()));
    assert!(dates.contains(&"H261025025900".to_string()));
}

#[test]
fn march_day_lasts_23_hours() {
    dst_day("2026-03-29", 23);
}

#[test]
fn pseudo_terminal_serves_valid_frames() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
        .args([
            "simulate",
            "--pty",
            "--frames",
            "40",
            "--speed",
            "max",
            "--start",
            "2026-05-01T12:00:00",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut path = String::new();
    stdout.read_line(&mut path).unwrap();
    let path = path.trim();
    assert!(
        path.starts_with("/dev/"),
        "path on stdout's first line: {path:?}"
    );
    // Open it as users do: the serialport crate, 9600 baud 7E1 (a pty stays 8N1 underneath).
    let mut port = serialport::new(path, 9600)
        .data_bits(serialport::DataBits::Seven)
        .parity(serialport::Parity::Even)
        .stop_bits(serialport::StopBits::One)
        .timeout(StdDuration::from_millis(500))
        .open()
        .unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while Instant::now() < deadline && decode(&bytes).len() < 5 {
        match port.read(&mut buf) {
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    let frames = decode(&bytes);
    assert!(frames.len() >= 5, "got {} frames", frames.len());
    for f in &frames {
        assert_eq!(f.mode, Mode::Standard);
        assert!(f.bad.is_empty());
        assert!(f.time.as_ref().unwrap().starts_with("2026-05-01T12:00"));
        // 36 groups, 38 once the first load-curve points (CCASN, CCASN-1) exist.
        assert!(f.groups.len() >= 36, "{f:?}");
    }
    drop(port);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn bad_arguments_fail_before_any_output() {
    for args in [
        &["simulate", "--contract", "ejp", "--frames", "1"][..],
        &[
            "simulate",
            "--start",
            "2026-03-29T02:30:00",
            "--frames",
            "1",
        ],
        &["simulate", "--faults", "noise=1.5", "--frames", "1"],
        &["simulate", "--phases", "2", "--frames", "1"],
        &["simulate", "--duration", "forever", "--frames", "1"],
        &["simulate", "--frame-interval", "2days", "--frames", "1"],
        &["simulate", "--start", "2150-01-01", "--frames", "1"],
        &["simulate", "--duration", "1000years"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: no output");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().count() >= 1 && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn duration_is_meter_time() {
    let out = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
        .args([
            "simulate",
            "--duration",
            "36h",
            "--frame-interval",
            "1min",
            "--speed",
            "max",
            "--start",
            "2026-10-24T12:00:00",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let frames = decode(&out.stdout);
    // 36 h of meter time at one frame a minute; the October night has an extra hour of
    // local time but not of meter time.
    assert_eq!(frames.len(), 36 * 60);
    let mut stdout_bytes = &out.stdout[..];
    let mut sink = Vec::new();
    stdout_bytes.read_to_end(&mut sink).unwrap();
    assert_eq!(
        frames.last().unwrap().time.as_deref(),
        Some("2026-10-25T22:59:00+01:00")
    );
}

/// `--meter-id` sets the ADSC (standard) or ADCO (historique), leading zeros and letters kept;
/// anything but 12 digits or letters fails before any output.
#[test]
fn meter_id_sets_the_address_in_both_modes() {
    for (mode, label, id) in [
        ("standard", "ADSC", "0123456789AB"),
        ("historique", "ADCO", "000000000042"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
            .args([
                "simulate",
                "--mode",
                mode,
                "--meter-id",
                id,
                "--frames",
                "3",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let frames = decode(&out.stdout);
        assert_eq!(frames.len(), 3);
        for f in &frames {
            let got = f.groups.iter().find(|g| g.0 == label).map(|g| g.2.as_str());
            assert_eq!(got, Some(id), "{mode}");
        }
    }
    for bad in [
        "0123456789A",
        "0123456789ABC",
        "01234 6789AB",
        "012345678-AB",
        "",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
            .args(["simulate", "--meter-id", bad, "--frames", "1"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--meter-id"), "{bad:?}: {err}");
    }
}

/// Into a pipe the simulator writes as fast as the reader takes (a day of frames at one a
/// minute comes at once, silently); asked to pace there, it says so on stderr.
#[test]
fn into_a_pipe_it_runs_at_full_speed_or_says_it_paces() {
    let out = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
        .args(["simulate", "--duration", "1day", "--frame-interval", "1min"])
        .args(["--start", "2026-01-01"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(decode(&out.stdout).len(), 24 * 60);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
        .args(["simulate", "--frames", "1", "--speed", "5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pacing at 5×") && err.contains("--speed max"),
        "{err}"
    );
}
