//! The serial port: the supervisor (when to open the port, at which baud rate, when to give
//! up on a rate, and what to tell a person about it), and the [`device`] (finding ports,
//! opening one). The supervisor is sans-IO: the driver (`run.rs`) performs the [`Action`]s
//! and reports back what happened, with the time (quinn-proto style), so every timing rule
//! here is a unit test that does not sleep.
//!
//! ## Rules
//! - While the port cannot be opened (absent: adapter unplugged; busy; any error), an open is
//!   attempted every [`RETRY`] (one second), however long it lasts: an adapter that returns
//!   is read again within a second or two. The *log lines* back off instead: the first
//!   failure is said at once, the same failure again after 10 s, 1 min and 10 min of outage,
//!   then hourly; a different failure is said at once.
//! - A port that errors or hangs up while open is closed and retried the same way; the
//!   rate that verified is kept across reopens.
//! - With no mode given, 9600 baud (standard) and 1200 baud (historique) are tried in turn,
//!   each for [`probe_time`], until a frame verifies; the rate is then kept.
//! - With no verified frame for `silence` (a minute) while the port is open, it says so
//!   (the driver adds what it saw), again every ten minutes while it lasts, and in auto mode
//!   probes both rates again (the meter's mode may have been changed remotely).
//! - Bytes are gathered in the kernel's buffer between reads: after a read that brought
//!   bytes at the line's pace, the next one comes [`GATHER`] later. A line at 9600 baud
//!   sends 960 bytes in that time, far below the kernel's 4 KiB. A read that brought more
//!   than twice what the line could have sent since the one before comes from a faster
//!   source (the demo's meter, a capture played into a pseudo-terminal), and the next read
//!   comes at once, as after a read that found nothing. The recorder then wakes about once
//!   a second instead of for every few bytes the adapter delivers (15 times a second on a
//!   pseudo-terminal, more on a real UART), which is most of its CPU time (BENCHMARKS.md,
//!   "Dashboard"). A frame is decoded at most [`GATHER`] after its last byte (a standard
//!   frame lasts nearly a second on the line anyway); the host's time of a historique
//!   frame is corrected for the bytes read after it (`run.rs`).

pub mod device;

use std::io;
use std::time::{Duration, Instant};

/// How often an open is attempted while the port is unavailable.
pub const RETRY: Duration = Duration::from_secs(1);
/// A still-silent line or a repeated failure is said again this often, at the longest.
pub const REPEAT: Duration = Duration::from_secs(3600);
/// The outage ages (seconds) at which the same failure is said again, before [`REPEAT`].
const SAY_AGAIN: [u64; 3] = [10, 60, 600];
/// A silent line is said again this often.
const SILENT_AGAIN: Duration = Duration::from_secs(600);

/// How long bytes gather in the kernel's buffer between two reads that bring some.
pub const GATHER: Duration = Duration::from_secs(1);

/// How long to wait for a verified frame at a baud rate before trying the other one.
pub fn probe_time(baud: u32) -> Duration {
    if baud >= 9600 {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(6)
    }
}

/// What the driver should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open the port at this rate (closing it first if it is open).
    Open(u32),
    /// Read from the open port (with a short timeout), then ask again.
    Read,
    /// Wait this long (the port is closed, or bytes gather between two reads), then ask
    /// again.
    Wait(Duration),
}

/// Why the port is not usable, by kind (the driver classifies the error by its kind, never
/// its words; a failure of another kind is a new one, said at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The path does not exist (adapter unplugged, wrong name).
    Missing,
    /// The user may not open it.
    PermissionDenied,
    /// Another program holds it.
    Busy,
    /// Opening failed otherwise: the error's kind, and the OS's words for it.
    Open(io::ErrorKind, String),
    /// The open port errored: the error's kind, and the OS's words for it.
    Read(io::ErrorKind, String),
    /// The open port hung up (end of file: adapter unplugged, pseudo-terminal closed).
    HungUp,
}

impl Failure {
    /// What failed, in words.
    pub fn describe(&self) -> String {
        match self {
            Failure::Missing => "does not exist".to_owned(),
            Failure::PermissionDenied => {
                "cannot be opened: permission denied (is the user in the dialout group?)".to_owned()
            }
            Failure::Busy => "cannot be opened: in use by another program (another recorder, \
                              ModemManager, a serial console?)"
                .to_owned(),
            Failure::Open(_, words) => format!("cannot be opened: {words}"),
            Failure::Read(_, words) => format!("read error: {words}"),
            Failure::HungUp => "hung up (adapter unplugged?)".to_owned(),
        }
    }
}

/// Something to tell a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The port was opened (the first time, or again after a failure).
    Opened {
        /// At this rate.
        baud: u32,
        /// How long it had been unavailable (`None` the first time).
        after: Option<Duration>,
    },
    /// A frame verified at this rate: the rate is kept.
    Locked {
        /// The rate.
        baud: u32,
    },
    /// The port is unavailable; opens are retried every [`RETRY`].
    Failing {
        /// What failed.
        failure: Failure,
        /// Since when (the first failure of this outage).
        for_time: Duration,
        /// Open attempts since then.
        attempts: u64,
    },
    /// No verified frame for this long while the port was open.
    Silent {
        /// How long.
        for_time: Duration,
        /// Whether both rates will be probed again.
        reprobe: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Closed; the next open is due at this time.
    Closed { next_open: Instant },
    /// Open at `bauds[baud_i]` since this time; the last read was at `last_read`, the next
    /// is due at `read_at`.
    Open {
        since: Instant,
        last_read: Instant,
        read_at: Instant,
    },
}

#[derive(Clone, Debug)]
struct Outage {
    since: Instant,
    attempts: u64,
    failure: Failure,
    /// When the same failure is said next.
    say_next: Instant,
    /// Index into [`SAY_AGAIN`] of the next saying (then hourly).
    said: usize,
}

/// The supervisor's state. See the module docs.
#[derive(Debug)]
pub struct Supervisor {
    bauds: Vec<u32>,
    baud_i: usize,
    locked: bool,
    /// A verified frame was said since the start or the last reprobe.
    announced: bool,
    state: State,
    outage: Option<Outage>,
    opened_once: bool,
    silence: Duration,
    last_good: Instant,
    silent_say: Instant,
    reopens: u64,
    notes: Vec<Note>,
}

impl Supervisor {
    /// A supervisor for a port read at one of `bauds` (tried in turn until a frame verifies),
    /// starting at `now`; a line is silent after `silence` without a verified frame.
    pub fn new(bauds: &[u32], silence: Duration, now: Instant) -> Supervisor {
        assert!(!bauds.is_empty(), "at least one baud rate");
        Supervisor {
            bauds: bauds.to_vec(),
            baud_i: 0,
            locked: bauds.len() == 1,
            announced: false,
            state: State::Closed { next_open: now },
            outage: None,
            opened_once: false,
            silence,
            last_good: now,
            silent_say: now + silence,
            reopens: 0,
            notes: Vec::new(),
        }
    }

    /// What to do at `now`.
    pub fn poll(&mut self, now: Instant) -> Action {
        match self.state {
            State::Closed { next_open } if now >= next_open => Action::Open(self.baud()),
            State::Closed { next_open } => Action::Wait(next_open - now),
            State::Open { since, read_at, .. } => {
                if !self.locked && now.saturating_duration_since(since) >= probe_time(self.baud()) {
                    // No verified frame at this rate: try the next one.
                    self.baud_i = (self.baud_i + 1) % self.bauds.len();
                    self.state = State::Closed { next_open: now };
                    return Action::Open(self.baud());
                }
                if now >= self.silent_say {
                    self.silent_say = now + SILENT_AGAIN;
                    let reprobe = self.bauds.len() > 1;
                    if reprobe {
                        self.locked = false;
                        self.announced = false;
                    }
                    self.notes.push(Note::Silent {
                        for_time: now.saturating_duration_since(self.last_good),
                        reprobe,
                    });
                }
                if now < read_at {
                    // Woken for the probe of the next rate or the silence's note, if first.
                    let probe = (!self.locked).then(|| since + probe_time(self.baud()));
                    let until = probe
                        .map_or(read_at, |p| p.min(read_at))
                        .min(self.silent_say);
                    return Action::Wait(until.saturating_duration_since(now));
                }
                Action::Read
            }
        }
    }

    /// The rate to open at (or open now).
    pub fn baud(&self) -> u32 {
        self.bauds[self.baud_i]
    }

    /// Whether a rate verified and is kept.
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// Times the port was opened again after a failure.
    pub fn reopens(&self) -> u64 {
        self.reopens
    }

    /// Whether the port has been opened at least once.
    pub fn opened_once(&self) -> bool {
        self.opened_once
    }

    /// Whether the port is open.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// The open succeeded.
    pub fn opened(&mut self, now: Instant) {
        let after = self
            .outage
            .take()
            .map(|o| now.saturating_duration_since(o.since));
        if after.is_some() {
            self.reopens += 1;
        }
        if after.is_some() || !self.opened_once {
            self.notes.push(Note::Opened {
                baud: self.baud(),
                after,
            });
        }
        self.opened_once = true;
        self.state = State::Open {
            since: now,
            last_read: now,
            read_at: now,
        };
        if after.is_some() {
            // Silence is measured while the port is open, not through an outage.
            self.silent_say = self.silent_say.max(now + self.silence);
        }
    }

    /// The open failed, or the open port failed: retried after [`RETRY`].
    pub fn failed(&mut self, now: Instant, failure: Failure) {
        self.state = State::Closed {
            next_open: now + RETRY,
        };
        match self.outage.as_mut() {
            Some(o) if o.failure == failure => {
                o.attempts += 1;
                if now >= o.say_next {
                    let for_time = now.saturating_duration_since(o.since);
                    o.said += 1;
                    o.say_next = match SAY_AGAIN.get(o.said) {
                        Some(&s) => o.since + Duration::from_secs(s),
                        None => now + REPEAT,
                    };
                    self.notes.push(Note::Failing {
                        failure,
                        for_time,
                        attempts: o.attempts,
                    });
                }
            }
            other => {
                let since = other.as_ref().map_or(now, |o| o.since);
                let attempts = other.as_ref().map_or(1, |o| o.attempts + 1);
                let age = now.saturating_duration_since(since);
                self.notes.push(Note::Failing {
                    failure: failure.clone(),
                    for_time: age,
                    attempts,
                });
                // The same failure is said again at the next age of SAY_AGAIN.
                let said = SAY_AGAIN
                    .iter()
                    .position(|&s| Duration::from_secs(s) > age)
                    .unwrap_or(SAY_AGAIN.len());
                let say_next = match SAY_AGAIN.get(said) {
                    Some(&s) => since + Duration::from_secs(s),
                    None => now + REPEAT,
                };
                self.outage = Some(Outage {
                    since,
                    attempts,
                    failure,
                    say_next,
                    said,
                });
            }
        }
    }

    /// A read of the open port returned `bytes` at `now`: the next read is due [`GATHER`]
    /// later when they came at the line's pace (at most twice what the rate carries since
    /// the last read, 10 bits a byte), at once otherwise: after a faster source's bytes, or
    /// after nothing (such a read has already waited for bytes).
    pub fn read(&mut self, now: Instant, bytes: usize) {
        let baud = self.baud();
        if let State::Open {
            last_read, read_at, ..
        } = &mut self.state
        {
            let since = now.saturating_duration_since(*last_read);
            let line = since.as_secs_f64() * f64::from(baud) / 10.0;
            *last_read = now;
            *read_at = if bytes > 0 && bytes as f64 <= 2.0 * line {
                now + GATHER
            } else {
                now
            };
        }
    }

    /// A frame verified at the current rate.
    pub fn good_frame(&mut self, now: Instant) {
        self.last_good = now;
        self.silent_say = now + self.silence;
        self.locked = true;
        if !self.announced {
            self.announced = true;
            self.notes.push(Note::Locked { baud: self.baud() });
        }
    }

    /// The notes since the last call.
    pub fn take_notes(&mut self) -> std::vec::Drain<'_, Note> {
        self.notes.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// Runs the supervisor against a port that is absent for `outage` from `t0 + 5 s`, with
    /// frames every second while it is open; returns the notes with their times (s).
    fn run(
        bauds: &[u32],
        frames_at: Option<u32>,
        outage: (u64, u64),
        until: u64,
    ) -> Vec<(u64, Note)> {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(bauds, Duration::from_secs(60), t0);
        let mut now = t0;
        let mut out = Vec::new();
        let end = t0 + Duration::from_secs(until);
        let mut last_frame = t0;
        while now < end {
            let secs = (now - t0).as_secs();
            let absent = secs >= outage.0 && secs < outage.0 + outage.1;
            match sup.poll(now) {
                Action::Open(_) if absent => sup.failed(now, Failure::Missing),
                Action::Open(_) => sup.opened(now),
                Action::Read if absent => sup.failed(now, Failure::HungUp),
                Action::Read => {
                    // The line brings bytes at any rate (garbled at the wrong one), at the
                    // pace of the rate read at: 100 ms of them.
                    now += Duration::from_millis(100);
                    sup.read(now, sup.baud() as usize / 100);
                    if frames_at == Some(sup.baud()) && now - last_frame >= S {
                        last_frame = now;
                        sup.good_frame(now);
                    }
                }
                Action::Wait(d) => now += d,
            }
            out.extend(sup.take_notes().map(|n| (secs, n)));
        }
        out
    }

    #[test]
    fn the_first_open_and_the_rate_found_are_said() {
        let notes = run(&[9600, 1200], Some(1200), (1000, 0), 20);
        assert_eq!(
            notes,
            vec![
                (
                    0,
                    Note::Opened {
                        baud: 9600,
                        after: None
                    }
                ),
                (3, Note::Locked { baud: 1200 }),
            ]
        );
    }

    #[test]
    fn an_absent_port_is_retried_every_second_and_said_ever_less_often() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(&[9600], Duration::from_secs(60), t0);
        let mut attempts = 0;
        let mut said = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(7300) {
            match sup.poll(now) {
                Action::Open(_) => {
                    attempts += 1;
                    sup.failed(now, Failure::Missing);
                }
                Action::Wait(d) => {
                    assert!(d <= RETRY);
                    now += d;
                }
                Action::Read => unreachable!(),
            }
            for n in sup.take_notes() {
                let Note::Failing { for_time, .. } = n else {
                    panic!()
                };
                said.push(for_time.as_secs());
            }
        }
        assert!((7299..=7301).contains(&attempts), "{attempts}");
        assert_eq!(said, [0, 10, 60, 600, 4200]);
    }

    #[test]
    fn a_port_that_returns_is_open_within_a_second_whatever_the_outage() {
        for outage in [2, 10, 40, 90, 3000] {
            let notes = run(&[9600, 1200], Some(9600), (5, outage), outage + 20);
            let back = notes
                .iter()
                .find_map(|(t, n)| matches!(n, Note::Opened { after: Some(_), .. }).then_some(*t))
                .expect("opened again");
            assert!(back <= 5 + outage + 1, "outage {outage}: back at {back}");
            // The rate that verified is kept: opened again at 9600, no probe.
            assert!(notes.iter().any(|(_, n)| matches!(
                n,
                Note::Opened {
                    baud: 9600,
                    after: Some(_)
                }
            )));
            assert_eq!(
                notes
                    .iter()
                    .filter(|(_, n)| matches!(n, Note::Locked { .. }))
                    .count(),
                1
            );
        }
    }

    #[test]
    fn a_silent_line_is_said_and_reprobed() {
        let notes = run(&[9600, 1200], None, (1000, 0), 700);
        let silent: Vec<_> = notes
            .iter()
            .filter_map(|(t, n)| matches!(n, Note::Silent { .. }).then_some(*t))
            .collect();
        assert_eq!(silent, [60, 660]);
    }

    #[test]
    fn a_new_failure_is_said_at_once() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(&[1200], Duration::from_secs(60), t0);
        sup.failed(t0, Failure::Missing);
        sup.failed(t0 + S, Failure::Missing);
        sup.failed(t0 + 2 * S, Failure::Busy);
        let notes: Vec<_> = sup.take_notes().collect();
        assert_eq!(notes.len(), 2);
        assert_eq!(
            notes[1],
            Note::Failing {
                failure: Failure::Busy,
                for_time: 2 * S,
                attempts: 3
            }
        );
    }

    /// Bytes gather between reads: one read a second while a line sends at its pace, at
    /// once after a faster source's bytes or a read that found nothing, and the waits never
    /// hide a rate probe (issue 19: the recorder's CPU is mostly its wake-ups).
    #[test]
    fn reads_come_every_gather_while_a_line_sends() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let mut sup = Supervisor::new(&[9600, 1200], Duration::from_secs(60), t0);
        assert_eq!(sup.poll(t0), Action::Open(9600));
        sup.opened(t0);
        assert_eq!(sup.poll(t0), Action::Read);
        // 64 bytes 66 ms after the open: the line's pace (960 bytes a second).
        let t = t0 + ms(66);
        sup.read(t, 64);
        assert_eq!(sup.poll(t), Action::Wait(GATHER));
        assert_eq!(sup.poll(t + GATHER / 2), Action::Wait(GATHER / 2));
        assert_eq!(sup.poll(t + GATHER), Action::Read);
        // What gathered meanwhile: 960 bytes.
        let t = t + GATHER;
        sup.read(t, 960);
        assert_eq!(sup.poll(t), Action::Wait(GATHER));
        // More than twice what the line could send: a faster source, read again at once.
        let t = t + GATHER;
        sup.read(t, 1921);
        assert_eq!(sup.poll(t), Action::Read);
        let t = t + ms(1);
        sup.read(t, 64);
        assert_eq!(sup.poll(t), Action::Read);
        // Nothing came (the read waited for its timeout): read again at once.
        let t = t + ms(200);
        sup.read(t, 0);
        assert_eq!(sup.poll(t), Action::Read);
        // 10 s of a line at its pace: one read a second, each of what gathered.
        let (mut now, mut last, mut reads) = (t, t, 0);
        while now < t + Duration::from_secs(10) {
            match sup.poll(now) {
                Action::Read => {
                    reads += 1;
                    let mut bytes = ((now - last).as_secs_f64() * 960.0) as usize;
                    if bytes < 64 {
                        // The read waits for the adapter's next 64 bytes.
                        now += ms(66);
                        bytes = 64;
                    }
                    sup.read(now, bytes);
                    sup.good_frame(now);
                    last = now;
                }
                Action::Wait(d) => {
                    assert!(d <= GATHER);
                    now += d;
                }
                Action::Open(b) => panic!("reopened at {b}"),
            }
        }
        assert_eq!(reads, 10);
        // No verified frame: the probe of the other rate comes on time through the waits.
        let mut sup = Supervisor::new(&[9600, 1200], Duration::from_secs(60), t0);
        sup.poll(t0);
        sup.opened(t0);
        let mut now = t0;
        let switched = loop {
            match sup.poll(now) {
                Action::Read => {
                    now += ms(10);
                    sup.read(now, 9);
                }
                Action::Wait(d) => now += d,
                Action::Open(b) => break (b, now - t0),
            }
        };
        assert_eq!(switched, (1200, probe_time(9600)));
    }
}
