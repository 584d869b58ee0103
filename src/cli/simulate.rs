//! `tic-rec simulate`: a simulated Linky meter on stdout, a file or a pseudo-terminal.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDateTime};
use tic_rec::error::Chain;
use tic_rec::sim::{serve, Contract, Faults, Line, Meter, Pty, Schedule, SimConfig, Speed};
use tic_rec::store::fs::{AtomicFile, Durability, RealFs};
use tic_rec::tic::Mode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TIC mode of the simulated meter.
    #[arg(long, value_enum, default_value_t = ModeName::Standard)]
    pub mode: ModeName,
    /// Number of phases (1 or 3).
    #[arg(long, default_value_t = 1, value_parser = parse_phases)]
    pub phases: u8,
    /// Tariff option.
    #[arg(long, value_enum, default_value_t = ContractName::Base)]
    pub contract: ContractName,
    /// A producer with solar panels (standard mode only): EAIT, SINSTI, SMAXIN, CCAIN.
    #[arg(long)]
    pub producer: bool,
    /// Meter local time (Europe/Paris) of the first frame, e.g. 2026-10-25T00:00:00 [default: now].
    #[arg(long, value_parser = parse_local)]
    pub start: Option<NaiveDateTime>,
    /// Stop after this much meter time, e.g. 36h, 90min, 2days.
    #[arg(long, value_parser = parse_duration, conflicts_with = "frames")]
    pub duration: Option<Duration>,
    /// Stop after this many frames.
    #[arg(long)]
    pub frames: Option<u64>,
    /// Meter time per frame, e.g. 1s, 1min [default: the frame's air time, ≈ 0.9 s standard].
    #[arg(long, value_parser = parse_duration)]
    pub frame_interval: Option<Duration>,
    /// Pace: 1 = real line speed (byte time at 1200/9600 baud), 10 = ten times faster,
    /// `max` = as fast as possible [default: 1 on a terminal and --pty, max with --output
    /// or into a pipe (`simulate | tic-rec record --replay -`)].
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<Speed>,
    /// Seed of the power profile and the faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The meter's address (ADSC, or ADCO in historique mode): 12 digits or letters, e.g.
    /// 041876097171 [default: one drawn from the seed].
    #[arg(long, value_parser = parse_meter_id)]
    pub meter_id: Option<String>,
    /// Off-peak hours (hchp and tempo), e.g. 22:00-06:00 or 01:30-07:30,12:30-14:30.
    #[arg(long, value_parser = parse_schedule)]
    pub hc: Option<Schedule>,
    /// Faults: noise=RATE,badsum=RATE,eot=RATE,parity,degraded-clock.
    #[arg(long, value_parser = parse_faults)]
    pub faults: Option<Faults>,
    /// Write the stream to this file.
    #[arg(long, short = 'o', conflicts_with = "pty")]
    pub output: Option<PathBuf>,
    /// Serve the stream on a new pseudo-terminal; its path is printed on stderr and stdout.
    #[arg(long)]
    pub pty: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeName {
    Standard,
    Historique,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ContractName {
    Base,
    Hchp,
    Tempo,
    /// EJP (historique mode only).
    Ejp,
}

fn parse_phases(s: &str) -> Result<u8, String> {
    match s {
        "1" => Ok(1),
        "3" => Ok(3),
        _ => Err(format!("expected 1 or 3, found {s:?}")),
    }
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
        _ => Err(format!(
            "expected a positive factor or \"max\", found {s:?}"
        )),
    }
}

/// A humantime duration (`36h`, `1min`, `900ms`, `2days`) as a chrono duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 36h, 15min, 900ms)"))?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    match Duration::from_std(d) {
        Ok(d) if d <= Duration::days(365 * 100) => Ok(d),
        _ => Err("too long (at most 100 years)".into()),
    }
}

/// A local date-time: `2026-10-25T00:00:00`, `2026-10-25 00:00`, or a date (midnight).
pub fn parse_local(s: &str) -> Result<NaiveDateTime, String> {
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN))
        .map_err(|_| format!("expected a local date-time like 2026-10-25T00:00:00, found {s:?}"))
}

fn parse_meter_id(s: &str) -> Result<String, String> {
    tic_rec::sim::check_address(s)
        .map(|()| s.to_owned())
        .map_err(|e| e.to_string())
}

fn parse_schedule(s: &str) -> Result<Schedule, String> {
    Schedule::parse(s).map_err(|e| Chain(&e).to_string())
}

fn parse_faults(s: &str) -> Result<Faults, String> {
    Faults::parse(s).map_err(|e| Chain(&e).to_string())
}

impl Args {
    /// The meter configuration these arguments describe.
    pub fn sim_config(&self) -> SimConfig {
        let mode = match self.mode {
            ModeName::Standard => Mode::Standard,
            ModeName::Historique => Mode::Historique,
        };
        let contract = match self.contract {
            ContractName::Base => Contract::Base,
            ContractName::Hchp => Contract::HcHp,
            ContractName::Tempo => Contract::Tempo,
            ContractName::Ejp => Contract::Ejp,
        };
        let start = self.start.unwrap_or_else(|| {
            let now = chrono::Utc::now()
                .with_timezone(&tic_rec::store::TZ)
                .naive_local();
            now.with_nanosecond_zero()
        });
        SimConfig {
            mode,
            phases: self.phases,
            contract,
            producer: self.producer,
            start,
            frame_interval: self.frame_interval,
            seed: self.seed,
            off_peak: self.hc.clone().unwrap_or_default(),
            faults: self.faults.unwrap_or_default(),
            indexes: None,
            address: self.meter_id.clone(),
        }
    }
}

trait NanoZero {
    fn with_nanosecond_zero(self) -> Self;
}

impl NanoZero for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).expect("0 ns is valid")
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.hc.is_some() && matches!(args.contract, ContractName::Base | ContractName::Ejp) {
        anyhow::bail!(
            "--hc sets off-peak hours, which a {} contract has none of: use --contract hchp or tempo",
            if args.contract == ContractName::Base { "base" } else { "EJP" }
        );
    }
    let cfg = args.sim_config();
    let baud = cfg.mode.baud_rate();
    // Everything is checked before any output.
    let mut meter = Meter::new(cfg).context("cannot start the simulated meter")?;
    // Real time where someone watches (a terminal) or a reader expects a line (--pty); as
    // fast as it goes into a file or a pipe, where pacing would only make a replay wait.
    let to_terminal = args.pty || (args.output.is_none() && io::stdout().is_terminal());
    let speed = args.speed.unwrap_or(if to_terminal {
        Speed::Factor(1.0)
    } else {
        Speed::Max
    });
    if let (Speed::Factor(f), false) = (speed, to_terminal) {
        eprintln!(
            "tic-rec simulate: pacing at {f}× the real line speed ({} baud), as --speed {f} asks, into a file or pipe: --speed max writes as fast as the reader takes",
            baud
        );
    }
    if let Some(path) = &args.output {
        // Written under a temporary name and renamed when complete: the file is the whole
        // capture or not there (its old version stays until then).
        let name = path.display().to_string();
        let file =
            AtomicFile::create(&RealFs, path).with_context(|| format!("cannot create {name:?}"))?;
        let mut w = BufWriter::new(file);
        let n = serve(&mut meter, args.duration, args.frames, speed, &mut w)
            .with_context(|| format!("cannot write {name:?}"))?;
        w.into_inner()
            .map_err(|e| e.into_error())?
            .commit(Durability::Synced)
            .with_context(|| format!("cannot write {name:?}"))?;
        eprintln!("tic-rec simulate: wrote {n} frames to {}", path.display());
        return Ok(());
    }
    if args.pty {
        let mut pty = Pty::open().context("cannot create a pseudo-terminal")?;
        eprintln!("tic-rec simulate: serving on {}", pty.path);
        let mut stdout = io::stdout();
        writeln!(stdout, "{}", pty.path)?;
        stdout.flush()?;
        let mut line = Line {
            port: &mut pty.master,
            dropped: 0,
        };
        let n = serve(&mut meter, args.duration, args.frames, speed, &mut line)
            .context("cannot write to the pseudo-terminal")?;
        let dropped = line.dropped;
        pty.drain();
        eprintln!(
            "tic-rec simulate: served {n} frames ({dropped} bytes dropped while nobody read)"
        );
        return Ok(());
    }
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    serve(&mut meter, args.duration, args.frames, speed, &mut w)?;
    Ok(())
}
