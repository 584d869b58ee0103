//! `tic-rec simulate`: a simulated Linky meter on stdout, a file or a pseudo-terminal.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDateTime};
use tic_rec::sim::{Contract, Faults, Meter, Schedule, SimConfig};
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
    /// A producer with solar panels (standard mode): EAIT, SINSTI, SMAXIN, CCAIN.
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
    /// `max` = as fast as possible [default: max with --output, 1 otherwise].
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<Speed>,
    /// Seed of the power profile and the faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Off-peak hours, e.g. 22:00-06:00 or 01:30-07:30,12:30-14:30.
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
}

/// Output pace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// A factor of the real line speed.
    Factor(f64),
    /// No pacing.
    Max,
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
        _ => Err(format!("expected a positive factor or \"max\", found {s:?}")),
    }
}

/// A humantime duration (`36h`, `1min`, `900ms`, `2days`) as a chrono duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 36h, 15min, 900ms)"))?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Duration::from_std(d).map_err(|_| "too long".into())
}

/// A local date-time: `2026-10-25T00:00:00`, `2026-10-25 00:00`, or a date (midnight).
pub fn parse_local(s: &str) -> Result<NaiveDateTime, String> {
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN))
        .map_err(|_| format!("expected a local date-time like 2026-10-25T00:00:00, found {s:?}"))
}

fn parse_schedule(s: &str) -> Result<Schedule, String> {
    Schedule::parse(s).map_err(|e| e.to_string())
}

fn parse_faults(s: &str) -> Result<Faults, String> {
    Faults::parse(s).map_err(|e| e.to_string())
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
        };
        let start = self.start.unwrap_or_else(|| {
            let now = chrono::Utc::now().with_timezone(&tic_rec::store::TZ).naive_local();
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

/// Writes frames to `out` until the duration or frame count is reached (or forever).
pub struct Pacer {
    bytes_per_sec: Option<f64>,
    started: Instant,
    sent: u64,
}

impl Pacer {
    pub fn new(mode: Mode, speed: Speed) -> Pacer {
        Pacer {
            bytes_per_sec: match speed {
                Speed::Max => None,
                // 10 bits a character (start, 7 data, parity, stop).
                Speed::Factor(f) => Some(f64::from(mode.baud_rate()) / 10.0 * f),
            },
            started: Instant::now(),
            sent: 0,
        }
    }

    /// Waits until `n` more bytes are due on the line.
    pub fn pace(&mut self, n: usize) {
        self.sent += n as u64;
        if let Some(rate) = self.bytes_per_sec {
            let due = StdDuration::from_secs_f64(self.sent as f64 / rate);
            let elapsed = self.started.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
    }
}

/// Runs the meter into `sink` until done. Returns the number of frames written.
pub fn serve(meter: &mut Meter, args_end: (Option<Duration>, Option<u64>), speed: Speed, sink: &mut dyn Write) -> io::Result<u64> {
    let (duration, frames) = args_end;
    let end = duration.map(|d| meter.now() + d);
    let mut pacer = Pacer::new(meter.config().mode, speed);
    let mut buf = Vec::with_capacity(2048);
    let mut n = 0;
    loop {
        if frames.is_some_and(|f| n >= f) || end.is_some_and(|e| meter.now() >= e) {
            break;
        }
        buf.clear();
        meter.next_frame(&mut buf);
        // Write a frame in slices so a paced line trickles like the real one.
        for chunk in buf.chunks(64) {
            sink.write_all(chunk)?;
            if pacer.bytes_per_sec.is_some() {
                sink.flush()?;
                pacer.pace(chunk.len());
            }
        }
        n += 1;
    }
    sink.flush()?;
    Ok(n)
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.sim_config();
    // Everything is checked before any output.
    let mut meter = Meter::new(cfg).context("cannot start the simulated meter")?;
    let speed = args.speed.unwrap_or(if args.output.is_some() { Speed::Max } else { Speed::Factor(1.0) });
    let end = (args.duration, args.frames);
    if let Some(path) = &args.output {
        let file = File::create(path).with_context(|| format!("cannot create {:?}", path.display().to_string()))?;
        let mut w = BufWriter::new(file);
        let n = serve(&mut meter, end, speed, &mut w).with_context(|| format!("cannot write {:?}", path.display().to_string()))?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        eprintln!("tic-rec simulate: wrote {n} frames to {}", path.display());
        return Ok(());
    }
    if args.pty {
        let mut pty = Pty::open()?;
        eprintln!("tic-rec simulate: serving on {}", pty.path);
        println!("{}", pty.path);
        io::stdout().flush()?;
        let mut line = Line {
            port: &mut pty.master,
            dropped: 0,
        };
        let n = serve(&mut meter, end, speed, &mut line).context("cannot write to the pseudo-terminal")?;
        let dropped = line.dropped;
        pty.drain();
        eprintln!("tic-rec simulate: served {n} frames ({dropped} bytes dropped while nobody read)");
        return Ok(());
    }
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    serve(&mut meter, end, speed, &mut w)?;
    Ok(())
}

/// The meter's side of a line: like a real meter, it never waits for a reader. A write that
/// stays blocked for a second (nobody reading) is dropped and counted.
pub struct Line<'a> {
    pub port: &'a mut serialport::TTYPort,
    pub dropped: u64,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.port.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                self.dropped += buf.len() as u64;
                Ok(buf.len())
            }
            other => other,
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A pseudo-terminal pair: we write the meter's stream on the master; readers open `path`.
pub struct Pty {
    pub master: serialport::TTYPort,
    /// Kept open so the terminal survives readers that close and reopen it.
    slave: serialport::TTYPort,
    pub path: String,
}

impl Pty {
    pub fn open() -> Result<Pty> {
        let (mut master, slave) = serialport::TTYPort::pair().context("cannot create a pseudo-terminal")?;
        serialport::SerialPort::set_timeout(&mut master, StdDuration::from_secs(1))?;
        let path = serialport::SerialPort::name(&slave).context("the pseudo-terminal has no name")?;
        Ok(Pty { master, slave, path })
    }

    /// Waits (up to 10 s) until readers have taken what was written.
    pub fn drain(&self) {
        let deadline = Instant::now() + StdDuration::from_secs(10);
        while Instant::now() < deadline {
            match serialport::SerialPort::bytes_to_read(&self.slave) {
                Ok(0) | Err(_) => return,
                Ok(_) => std::thread::sleep(StdDuration::from_millis(20)),
            }
        }
    }
}
