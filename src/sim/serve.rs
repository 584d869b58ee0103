//! Serving the simulated meter's stream: pacing like the real line, and a pseudo-terminal
//! that readers open as a serial port.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;

use super::Meter;
use crate::tic::Mode;

/// Output pace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// A factor of the real line speed.
    Factor(f64),
    /// No pacing.
    Max,
}

/// Paces writes like the real line at some speed factor.
pub struct Pacer {
    bytes_per_sec: Option<f64>,
    started: Instant,
    sent: u64,
}

impl Pacer {
    /// A pacer for `mode`'s line at `speed`.
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

/// Writes the meter's frames into `sink` until `duration` of meter time or `frames` frames
/// (or forever). Returns the number of frames written.
pub fn serve(
    meter: &mut Meter,
    duration: Option<Duration>,
    frames: Option<u64>,
    speed: Speed,
    sink: &mut dyn Write,
) -> io::Result<u64> {
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

/// The meter's side of a line: like a real meter, it never waits for a reader. A write that
/// stays blocked for a second (nobody reading) is dropped and counted.
pub struct Line<'a> {
    /// The pseudo-terminal's master end.
    pub port: &'a mut serialport::TTYPort,
    /// Bytes dropped because nobody read them.
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
    /// The meter's end.
    pub master: serialport::TTYPort,
    /// Kept open so the terminal survives readers that close and reopen it.
    slave: serialport::TTYPort,
    /// The path readers open, e.g. `/dev/pts/3`.
    pub path: String,
}

impl Pty {
    /// A new pseudo-terminal pair (the caller says what failed: the error is the OS's, or
    /// serialport's as an I/O error of its kind).
    pub fn open() -> io::Result<Pty> {
        let (mut master, slave) = serialport::TTYPort::pair().map_err(io::Error::from)?;
        serialport::SerialPort::set_timeout(&mut master, StdDuration::from_secs(1))
            .map_err(io::Error::from)?;
        let path = serialport::SerialPort::name(&slave)
            .ok_or_else(|| io::Error::other("the pseudo-terminal has no name"))?;
        // Children must not inherit the meter's end: when we close it, readers must see the
        // line hang up, as when an adapter is unplugged.
        for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .map_err(io::Error::from)?;
        }
        Ok(Pty {
            master,
            slave,
            path,
        })
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
