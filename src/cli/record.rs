//! `tic-rec record`: continuous capture into daily files. The arguments, then the wiring in
//! the order of a recording: the source and the data directory checked, the observers (the
//! status line, systemd, the MQTT link, the dashboard's live view), the loop, the end.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use anyhow::{bail, Context, Result};
use chrono::Duration;
use tic_rec::capture::{Capture, Counters, Fanout, HostClock, Stop, StoreConfig};
use tic_rec::record::RecordConfig;
use tic_rec::serve::{Live, Running};
use tic_rec::store::DirLock;
use tic_rec::tic::Mode;

use super::setup::ModeArg;
use super::simulate::parse_duration;
use super::status::Status;

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
    /// gives up at once (and exits within 5 s, whatever blocks). Keep it 10 s below the
    /// service's TimeoutStopSec.
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
    /// values from the recorder's memory, e.g. 127.0.0.1:8080 (see `tic-rec serve`). With
    /// --demo it stays up once the day is recorded, until Ctrl-C.
    #[arg(long, value_name = "ADDR")]
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

pub fn run(args: Args) -> Result<()> {
    args.check()?;
    let stop = super::setup::stop_on_signals()?;
    if args.demo {
        return super::demo::run(args.demo_options()?, stop);
    }
    // What to read and where to write, checked before anything is created.
    let source = Source::open(&args)?;
    super::setup::check_data_dir(&args.data_dir)?;
    let clock = args.clock()?;
    let mut mqtt = args.mqtt.start(args.http)?;

    // The observers: the status line, systemd, the MQTT link, the dashboard's live view.
    let mqtt_handle = mqtt.as_ref().map(|(_, h)| h.clone());
    let log_every = args.log_interval.to_std().context("--log-interval")?;
    let mut status = Status::new(log_every, args.archive_job(), mqtt_handle.clone());
    let mut systemd = tic_rec::systemd::Notifier::from_env(Status::summary);
    let live = match mqtt_handle {
        Some(h) => Live::new().with_mqtt(h),
        None => Live::new(),
    };
    let mut live_observer = live.observer();
    let mut observers = Fanout::new();
    observers.add(&mut status);
    observers.add(&mut systemd);
    if let Some((observer, _)) = mqtt.as_mut() {
        observers.add(observer);
    }
    if args.http.is_some() {
        observers.add(&mut live_observer);
    }

    // The loop, into a data directory made ready once the source is there.
    let mode = args.mode.forced();
    let mut capture = Capture::new(
        mode,
        args.record_config(),
        args.store_config()?,
        &mut observers,
    )
    .with_silence(args.silence_warning.to_std().context("--silence-warning")?)
    .with_stop_timeout(args.stop_timeout.to_std().context("--stop-timeout")?)
    .with_clock(clock);
    let http = args.http.map(|addr| (addr, live));
    let mut dir = DataDir::new(&args.data_dir, source.describe(), http)?;
    let replay = source.replay_name();
    let result = record(&mut capture, source, mode, &mut dir, &stop);
    let counters = capture.counters();
    drop(capture);
    drop(observers);

    // The end: the jobs beside the loop, the last line, and what a replay did.
    if let Some((_, h)) = &mqtt {
        h.shutdown(StdDuration::from_secs(3));
    }
    status.end_archive(replay.is_some() && result.is_ok());
    status.finish();
    result?;
    args.nothing_dropped(&counters, &stop)?;
    if let Some(name) = replay {
        if args.replay_start.is_some() && counters.decoder.frames_historique == 0 {
            eprintln!("tic-rec: note: --replay-start was not used: the capture has no historique frame (standard records carry the meter's DATE)");
        }
        if !stop.requested() {
            super::replay::report(&name, &counters, mode, clock)?;
        }
    }
    Ok(())
}

impl Args {
    /// Flag combinations that would be ignored or make no sense.
    fn check(&self) -> Result<()> {
        if self.replay_start.is_some() && self.mode == ModeArg::Standard {
            bail!(
                "--replay-start stamps historique records; standard records carry the meter's DATE"
            );
        }
        self.mqtt.refuse(self.replay.is_some())?;
        Ok(())
    }

    fn demo_options(self) -> Result<super::demo::Options> {
        Ok(super::demo::Options {
            archive: self.archive_job(),
            log_interval: self.log_interval.to_std().context("--log-interval")?,
            http: self.http,
            mqtt: self.mqtt,
            demo: tic_rec::sim::demo::DemoConfig {
                mode: self.mode.forced().unwrap_or(Mode::Standard),
                fsync_interval: self.fsync_interval.to_std().context("--fsync-interval")?,
                silence: self.silence_warning.to_std().context("--silence-warning")?,
                data_dir: self.data_dir,
                labels: self.labels,
                every: self.every,
                raw: self.raw,
            },
        })
    }

    /// Where historique records get their time: the host clock, or `--replay-start` plus
    /// the air time of the bytes before them.
    fn clock(&self) -> Result<HostClock> {
        use chrono::TimeZone;
        let Some(start) = self.replay_start else {
            return Ok(HostClock::System);
        };
        let start = tic_rec::store::TZ
            .from_local_datetime(&start)
            .earliest()
            .with_context(|| {
                format!("--replay-start {start} does not exist in Europe/Paris local time")
            })?;
        Ok(HostClock::Replay {
            start: start.to_utc(),
            baud: Mode::Historique.baud_rate(),
        })
    }

    fn record_config(&self) -> RecordConfig {
        RecordConfig {
            labels: self.labels.clone(),
            every: self.every,
        }
    }

    fn store_config(&self) -> Result<StoreConfig> {
        Ok(StoreConfig {
            dir: self.data_dir.clone(),
            fsync_interval: self.fsync_interval.to_std().context("--fsync-interval")?,
            raw: self.raw,
        })
    }

    /// The archive job (`--archive parquet`: closed days converted in the background; with
    /// either, their hours added to periods/): a replay converts what it closed before
    /// exiting; a port or the demo stops the job (the rest is done at the next start or by
    /// `tic-rec compact`).
    fn archive_job(&self) -> Option<(PathBuf, tic_rec::store::archive::Settings)> {
        let settings = tic_rec::store::archive::Settings {
            convert: self.archive == Archive::Parquet,
            keep_csv: self.keep_csv,
            fail: super::compact::injected_failure(),
            derive: Some(std::sync::Arc::new(
                tic_rec::export::refresh::PeriodsDataset,
            )),
            ..tic_rec::store::archive::Settings::new(tic_rec::export::Summariser::boxed)
        };
        Some((self.data_dir.clone(), settings))
    }

    /// An error when rows held in memory had to be dropped at the end: its line says how
    /// many were written, and how many dropped.
    fn nothing_dropped(&self, c: &Counters, stop: &Stop) -> Result<()> {
        if c.held == 0 {
            return Ok(());
        }
        let when = if stop.forced() {
            "at the third stop signal".to_owned()
        } else {
            let limit = self.stop_timeout.to_std().unwrap_or_default();
            format!(
                "after {} (--stop-timeout)",
                humantime::format_duration(limit)
            )
        };
        bail!(
            "{} rows held in memory could not be written and are dropped: the disk still refused them {when}; {} rows were written to {}",
            c.held,
            c.written,
            self.data_dir.display()
        )
    }
}

/// What `record` reads: opened (a replay) or resolved (`--port auto`) before anything is
/// created, so that a mistyped name fails first.
enum Source {
    Port(String),
    Replay { input: Box<dyn Read>, name: String },
}

impl Source {
    fn open(args: &Args) -> Result<Source> {
        if let Some(path) = &args.replay {
            let name = path.display().to_string();
            if name == "-" {
                // A pipe may stall: read on a thread, so that a signal is seen meanwhile.
                let input = Box::new(tic_rec::capture::Polled::new(io::stdin())?);
                return Ok(Source::Replay {
                    input,
                    name: "standard input".to_owned(),
                });
            }
            let file =
                std::fs::File::open(path).with_context(|| format!("cannot open {name:?}"))?;
            // A named pipe may stall too.
            return Ok(Source::Replay {
                input: Box::new(tic_rec::capture::Polled::new(file)?),
                name,
            });
        }
        match args.port.as_deref() {
            Some("auto") => Ok(Source::Port(tic_rec::capture::port::device::auto()?)),
            Some(port) => Ok(Source::Port(port.to_owned())),
            None => bail!("no source: give --port, --replay or --demo"),
        }
    }

    /// The source, in the lock file's words.
    fn describe(&self) -> String {
        match self {
            Source::Port(p) => p.clone(),
            Source::Replay { name, .. } => format!("a replay of {name}"),
        }
    }

    fn replay_name(&self) -> Option<String> {
        match self {
            Source::Port(_) => None,
            Source::Replay { name, .. } => Some(name.clone()),
        }
    }
}

/// Records `source` until its end or `stop`; the data directory is made ready once the
/// source is there (a port that has opened, a replay that was opened).
fn record(
    capture: &mut Capture<'_>,
    source: Source,
    mode: Option<Mode>,
    dir: &mut DataDir,
    stop: &Stop,
) -> Result<()> {
    match source {
        Source::Port(path) => match capture.open_port(&path, mode, stop)? {
            Some(port) => {
                dir.ready()?;
                capture.record_port(port, stop)?;
            }
            None => capture.finish(stop)?,
        },
        Source::Replay { input, name } => {
            dir.ready()?;
            capture.run_reader(input, &name, stop)?;
        }
    }
    Ok(())
}

/// The data directory's lock and the dashboard over it (`--http`): taken at once when the
/// directory exists (so a second recorder is refused at once), else once the source is
/// there (a mistyped port creates nothing).
struct DataDir {
    path: PathBuf,
    source: String,
    http: Option<(SocketAddr, Live)>,
    lock: Option<DirLock>,
    dashboard: Option<Running>,
}

impl DataDir {
    fn new(path: &Path, source: String, http: Option<(SocketAddr, Live)>) -> Result<DataDir> {
        let mut dir = DataDir {
            path: path.to_owned(),
            source,
            http,
            lock: None,
            dashboard: None,
        };
        if path.is_dir() {
            dir.ready()?;
        }
        Ok(dir)
    }

    /// Creates and locks the directory, and starts the dashboard over it.
    fn ready(&mut self) -> Result<()> {
        if self.lock.is_none() {
            self.lock = Some(super::setup::create_data_dir(&self.path, &self.source)?);
        }
        if let Some((addr, live)) = self.http.take() {
            self.dashboard = super::serve::start_in_recorder(addr, &self.path, live);
        }
        Ok(())
    }
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
