//! `tic-rec record`: continuous capture into daily files.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use anyhow::{bail, Context, Result};
use chrono::Duration;
use tic_rec::capture::{Capture, Counters, Fanout, HostClock, StoreConfig};
use tic_rec::record::RecordConfig;
use tic_rec::tic::Mode;

use super::simulate::parse_duration;
use super::status::Status;
use super::ModeArg;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["port", "replay", "demo"])))]
pub struct Args {
    /// Serial port of the TIC adapter (prefer /dev/serial/by-id/…), or `auto` for the only
    /// USB serial adapter present.
    #[arg(long)]
    port: Option<String>,
    /// Record a raw capture (a file, or `-` for standard input) to its end, then exit.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// With --replay: the local time (Europe/Paris) of the capture's first byte. Historique
    /// records, which have no DATE, are then stamped from it plus the air time of the bytes
    /// before them at 1200 baud, instead of the host clock.
    #[arg(long, value_parser = super::simulate::parse_local, requires = "replay")]
    replay_start: Option<chrono::NaiveDateTime>,
    /// Record a simulated meter through a pseudo-terminal: a day of records in a few seconds.
    #[arg(long)]
    demo: bool,
    /// TIC mode; `auto` tries 9600 then 1200 baud and keeps the one whose checksums verify.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    mode: ModeArg,
    /// Directory of the daily files.
    #[arg(long, default_value = "tic-data")]
    data_dir: PathBuf,
    /// Labels to record, e.g. DATE,EAST,EASF01,EASF02,SINSTS [default: the meter shape's].
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    labels: Option<Vec<String>>,
    /// Keep the first complete record of each interval, e.g. 1min, 15min [default: every second].
    #[arg(long, value_parser = parse_duration)]
    every: Option<Duration>,
    /// Fsync the files at least this often (≤ 10 s recommended).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    fsync_interval: Duration,
    /// Also keep the raw bytes, in YYYY-MM-DD.tic files beside the records.
    #[arg(long)]
    raw: bool,
    /// On a stop (SIGINT/SIGTERM), how long rows held in memory (the disk refused them) are
    /// tried again before they are dropped. A second signal tries again at once; a third
    /// gives up at once. Keep it below the service's TimeoutStopSec.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    stop_timeout: Duration,
    /// Report a line without valid frames, or frames without rows, after this long (for tests).
    #[arg(long, value_parser = parse_duration, default_value = "1min", hide = true)]
    silence_warning: Duration,
    /// When not on a terminal: one summary log line this often.
    #[arg(long, value_parser = parse_duration, default_value = "5min")]
    log_interval: Duration,
    /// What closed days become: `parquet` (converted in the background once the recorder has
    /// moved past them; the CSV files removed once the Parquet file verifies) or `csv` (kept
    /// as they are).
    #[arg(long, value_enum, default_value_t = Archive::Parquet)]
    archive: Archive,
    /// With --archive parquet: keep the CSV files beside the Parquet files.
    #[arg(long)]
    keep_csv: bool,
    #[command(flatten)]
    mqtt: super::mqtt::MqttArgs,
    /// Also serve the dashboard (pages, JSON API, /metrics) on this address, with live
    /// values from the recorder's memory, e.g. 127.0.0.1:8080 (see `tic-rec serve`).
    #[arg(long, value_name = "ADDR", conflicts_with = "demo")]
    http: Option<std::net::SocketAddr>,
}

/// `--archive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Archive {
    /// Convert closed days to Parquet.
    Parquet,
    /// Keep plain CSV.
    Csv,
}

/// The archive job (`--archive parquet`: closed days converted in the background): a replay
/// converts what it closed before exiting; a port or the demo stops the job (the rest is
/// done at the next start or by `tic-rec compact`).
fn archive_job(args: &Args) -> Option<(PathBuf, tic_rec::archive::Settings)> {
    (args.archive == Archive::Parquet).then(|| {
        let settings = tic_rec::archive::Settings {
            keep_csv: args.keep_csv,
            fail: super::compact::injected_failure(),
        };
        (args.data_dir.clone(), settings)
    })
}

fn parse_label(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 16
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a TIC label (A-Z, 0-9, + and -, e.g. EASF01)"
        ))
    }
}

/// What a replay wrote, and why the other frames made no row; an error if it wrote none.
fn replay_report(name: &str, c: &Counters, mode: Option<Mode>, clock: HostClock) -> Result<()> {
    let r = &c.recorder;
    let t = &r.timeline;
    let parts: Vec<String> = [
        (
            r.incomplete,
            "lacked a wanted label or had it fail its checksum",
        ),
        (
            r.not_after_last,
            "fell in the same second as the previous row",
        ),
        (
            r.same_interval,
            "fell in an interval already recorded (--every)",
        ),
        (
            r.before_shape,
            "came before a clean frame identifying the meter",
        ),
        (r.no_time, "had no valid DATE"),
        (
            t.glitches,
            "had a time contradicted by the frames around them",
        ),
        (t.unset_clock, "had a time before 2010"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    eprintln!(
        "tic-rec: replay of {name}: {} frames, {} rows written{}",
        c.decoder.frames,
        c.written,
        if parts.is_empty() {
            String::new()
        } else {
            format!("; frames not written: {}", parts.join(", "))
        }
    );
    let historique = c.decoder.frames_historique > c.decoder.frames_standard;
    let host = matches!(clock, HostClock::System);
    if historique && host && c.decoder.frames >= 10 && r.not_after_last * 2 > c.decoder.frames {
        eprintln!(
            "tic-rec: note: historique frames have no DATE: they were stamped with this machine's clock at replay              speed, so most fell in the same second; give the capture's start with --replay-start              YYYY-MM-DDTHH:MM:SS to stamp them from its air time at 1200 baud"
        );
    }
    if c.written == 0 && c.rows == 0 {
        let why = if c.decoder.frames == 0 {
            "no complete frame in it (is it a TIC capture?)".to_owned()
        } else if c.decoder.groups_ok == 0 || c.decoder.groups_bad > c.decoder.groups_ok {
            format!(
                "{} of {} groups failed their checksum{}",
                c.decoder.groups_bad,
                c.decoder.groups_bad + c.decoder.groups_ok,
                match mode {
                    Some(m) => format!(": is it really {m} mode? try --mode auto"),
                    None => String::new(),
                }
            )
        } else {
            parts
                .first()
                .cloned()
                .unwrap_or_else(|| "no frame made a record".to_owned())
        };
        bail!("no row written from {name}: {why}");
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    if args.replay_start.is_some() && args.mode == ModeArg::Standard {
        bail!("--replay-start stamps historique records; standard records carry the meter's DATE");
    }
    // Resolve `--port auto` before anything is created.
    let port = match args.port.as_deref() {
        Some("auto") => Some(tic_rec::capture::port::device::auto()?),
        other => other.map(str::to_owned),
    };
    let stop = super::stop_on_signals()?;
    let fsync = args.fsync_interval.to_std().context("--fsync-interval")?;
    if args.demo && args.mqtt.enabled() {
        bail!("--mqtt publishes a real meter (or a replay): the demo records a day in seconds, which Home Assistant would take as live");
    }
    // MQTT hook: the password file and TLS are checked before anything is created.
    let mut mqtt = if args.demo { None } else { args.mqtt.start()? };
    let archive = archive_job(&args);
    if args.demo {
        // The demo checks its flags before creating anything, then takes the lock.
        let opts = super::demo::Options {
            demo: tic_rec::sim::demo::DemoConfig {
                mode: args.mode.forced().unwrap_or(Mode::Standard),
                data_dir: args.data_dir,
                labels: args.labels,
                every: args.every,
                fsync_interval: fsync,
                raw: args.raw,
                silence: args.silence_warning.to_std().context("--silence-warning")?,
            },
            log_interval: args.log_interval.to_std().context("--log-interval")?,
            archive,
        };
        return super::demo::run(opts, stop);
    }
    super::check_data_dir(&args.data_dir)?;
    let source = match (&port, &args.replay) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) => format!("a replay of {}", r.display()),
        (None, None) => unreachable!("clap requires a source"),
    };
    let _lock = super::create_data_dir(&args.data_dir, &source)?;
    let store = StoreConfig {
        dir: args.data_dir.clone(),
        fsync_interval: fsync,
        raw: args.raw,
    };
    let record = RecordConfig {
        labels: args.labels.clone(),
        every: args.every,
    };
    let mqtt_handle = mqtt.as_ref().map(|(_, h)| h.clone());
    let mut status = Status::new(
        args.log_interval
            .to_std()
            .unwrap_or(StdDuration::from_secs(300)),
        archive,
        mqtt_handle.clone(),
    );
    let mut systemd = tic_rec::systemd::Notifier::from_env(Status::summary);
    let mut observers = Fanout::new();
    observers.add(&mut status);
    observers.add(&mut systemd);
    if let Some((observer, _)) = mqtt.as_mut() {
        observers.add(observer);
    }
    // ---- Dashboard hook (issue 12): `--http` serves it from this process; the live
    // snapshot is one more observer, which only copies the last record under a short lock.
    let mut live = tic_rec::serve::Live::new();
    if let Some(h) = mqtt_handle {
        live = live.with_mqtt(h);
    }
    let mut live_observer = live.observer();
    let _dashboard = match args.http {
        Some(addr) => {
            observers.add(&mut live_observer);
            super::serve::start_in_recorder(addr, &args.data_dir, live)
        }
        None => None,
    };
    // ---- end of the dashboard hook. ----
    let mode = args.mode.forced();
    let mut clock = HostClock::System;
    if let Some(start) = args.replay_start {
        use chrono::TimeZone;
        let start = tic_rec::store::TZ
            .from_local_datetime(&start)
            .earliest()
            .with_context(|| {
                format!("--replay-start {start} does not exist in Europe/Paris local time")
            })?;
        clock = HostClock::Replay {
            start: start.to_utc(),
            baud: Mode::Historique.baud_rate(),
        };
    }
    let mut capture = Capture::new(mode, record, store, &mut observers)
        .with_silence(args.silence_warning.to_std().context("--silence-warning")?)
        .with_stop_timeout(args.stop_timeout.to_std().context("--stop-timeout")?)
        .with_clock(clock);
    let (result, replay) = if let Some(path) = &args.replay {
        let name = path.display().to_string();
        let r = if name == "-" {
            capture.run_reader(io::stdin().lock(), "standard input", &stop)
        } else {
            let file = File::open(path).with_context(|| format!("cannot open {name:?}"))?;
            capture.run_reader(file, &name, &stop)
        };
        (r, Some(name))
    } else {
        let port = port.expect("clap requires a source");
        (capture.run_port(&port, mode, &stop), None)
    };
    let counters = capture.counters();
    drop(capture);
    drop(observers);
    if let Some((_, h)) = &mqtt {
        h.shutdown(StdDuration::from_secs(3));
    }
    status.end_archive(args.replay.is_some() && result.is_ok());
    status.finish();
    result?;
    if counters.held > 0 {
        bail!(
            "{} rows held in memory could not be written and are dropped: the disk still refused them {}; {} rows were written to {}",
            counters.held,
            if stop.forced() {
                "at the third stop signal".to_owned()
            } else {
                format!(
                    "after {} (--stop-timeout)",
                    humantime::format_duration(args.stop_timeout.to_std().unwrap_or_default())
                )
            },
            counters.written,
            args.data_dir.display()
        );
    }
    if args.replay_start.is_some() && counters.decoder.frames_historique == 0 {
        eprintln!("tic-rec: note: --replay-start was not used: the capture has no historique frame (standard records carry the meter's DATE)");
    }
    if let Some(name) = replay {
        if !stop.requested() {
            replay_report(&name, &counters, mode, clock)?;
        }
    }
    Ok(())
}
