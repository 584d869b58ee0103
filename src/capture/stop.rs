//! Stopping the recording loop: stop requests (SIGINT and SIGTERM in the binary), and what
//! the loop does with the rows it still holds when it ends.
//!
//! ## Rules
//! - The first request starts an orderly stop: the loop stops reading (within 200 ms), lets
//!   the recorder release what it held for confirmation, writes every row it holds, fsyncs,
//!   and returns; the binary then ends the jobs beside it and prints its last line.
//! - Rows the disk refuses (a full disk, a read-only remount: the store holds them in
//!   memory) are tried again every [`DRAIN_RETRY`] during the stop, for at most the drain
//!   limit (`record --stop-timeout`, [`STOP_TIMEOUT`] by default), so that a disk freed
//!   while the recorder stops still gets them.
//! - A second request never skips that: it only cuts the wait, the held rows are tried
//!   again at once. Two requests in a row are normal: `timeout -s INT` signals the process
//!   and then its process group, a person presses Ctrl-C twice.
//! - A third request ([`FORCE`]) gives up, after one last attempt: whatever still cannot be
//!   written is dropped, and the caller says how many rows that was. So does the limit.
//!
//! Time is an argument ([`Drain::poll`]), so every rule is a unit test that does not sleep.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The request that gives up writing the held rows (the third).
pub const FORCE: u32 = 3;
/// How often held rows are tried again during a stop (5 s otherwise: [`crate::store::RETRY`]).
pub const DRAIN_RETRY: Duration = Duration::from_secs(1);
/// How long a stop waits at most for a disk that refuses the held rows, by default.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Stop requests, shared between the loop and whatever asks it to stop.
#[derive(Debug, Default)]
pub struct Stop {
    requests: AtomicU32,
    ended: AtomicBool,
    /// Wakes the sleepers ([`Stop::sleep`], [`Stop::wait`]) at a request or the end: a
    /// sleeping loop wakes once, not every few milliseconds to look.
    bell: (Mutex<()>, Condvar),
}

impl Stop {
    /// No request yet.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// A stop request from outside the loop (a signal, a test): counted, see the module
    /// docs.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.ring();
    }

    /// The run ends by itself (its source is done, or failed): the loop stops as for a
    /// request, but this is not one (it counts towards nothing).
    pub fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.ring();
    }

    fn ring(&self) {
        // Taken so that a sleeper between its check and its wait cannot miss the bell.
        let _guard = self.bell.0.lock().unwrap_or_else(|e| e.into_inner());
        self.bell.1.notify_all();
    }

    /// Sleeps until `until` or while `go_on` holds, woken by each request or the end.
    fn sleep_while(&self, until: Instant, go_on: impl Fn() -> bool) {
        let mut guard = self.bell.0.lock().unwrap_or_else(|e| e.into_inner());
        while go_on() {
            let now = Instant::now();
            if now >= until {
                return;
            }
            guard = match self.bell.1.wait_timeout(guard, until - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Sleeps `d`, or less when the loop must stop ([`Stop::requested`]).
    pub fn wait(&self, d: Duration) {
        self.sleep_while(Instant::now() + d, || !self.requested());
    }

    /// Whether the loop must stop.
    pub fn requested(&self) -> bool {
        self.requests() > 0 || self.ended.load(Ordering::SeqCst)
    }

    /// Requests so far.
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Whether the stop gives up writing the held rows ([`FORCE`] requests).
    pub fn forced(&self) -> bool {
        self.requests() >= FORCE
    }

    /// Counts every SIGINT and SIGTERM this process gets as a request, from now on (on a
    /// thread of its own, for the life of the process), then calls `then` with the count.
    /// A signal no longer ends the process by itself: the loop does, when it sees the
    /// request (the caller may use `then` to end a process whose loop cannot, such as one
    /// blocked reading a pipe).
    pub fn on_signals(self: &Arc<Self>, then: impl Fn(u32) + Send + 'static) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let stop = Arc::clone(self);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    stop.request();
                    then(stop.requests());
                }
            })?;
        Ok(())
    }

    /// Sleeps `d`, or less when a new request comes.
    pub(crate) fn sleep(&self, d: Duration) {
        let seen = self.requests();
        self.sleep_while(Instant::now() + d, || self.requests() == seen);
    }
}

/// What the stop does next with the rows it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Try to write them now.
    Write,
    /// Wait this long (or until a new request), then ask again.
    Wait(Duration),
    /// Every row is written.
    Done,
    /// Give up: the rows still held are dropped.
    GiveUp(GaveUp),
}

/// Why a stop gave up writing the held rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GaveUp {
    /// A third request.
    Forced,
    /// The drain limit passed.
    TimedOut,
}

/// The stop's drain of held rows (see the module docs): a state machine over the time and
/// the requests it is given.
#[derive(Clone, Debug)]
pub struct Drain {
    deadline: Instant,
    next_try: Instant,
    last_try: Instant,
    seen: u32,
}

impl Drain {
    /// A drain after a first attempt at `now`, with `requests` so far, that gives up
    /// `limit` later.
    pub fn new(now: Instant, limit: Duration, requests: u32) -> Drain {
        Drain {
            deadline: now + limit,
            next_try: now + DRAIN_RETRY,
            last_try: now,
            seen: requests,
        }
    }

    /// What to do at `now`, with `held` rows still held and `requests` so far.
    pub fn poll(&mut self, now: Instant, held: usize, requests: u32) -> Step {
        if held == 0 {
            return Step::Done;
        }
        let fresh = requests > self.seen;
        self.seen = requests;
        // At the limit, one last attempt unless the last one was made there.
        let last_chance = now >= self.deadline && self.last_try < self.deadline;
        if fresh || now >= self.next_try || last_chance {
            self.next_try = now + DRAIN_RETRY;
            self.last_try = now;
            return Step::Write;
        }
        if requests >= FORCE {
            return Step::GiveUp(GaveUp::Forced);
        }
        if now >= self.deadline {
            return Step::GiveUp(GaveUp::TimedOut);
        }
        Step::Wait(self.next_try.min(self.deadline) - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    /// Runs a drain whose disk frees at `frees` (never if `None`), with requests at the
    /// times given (the first at 0); returns the write attempts' times (ms) and the end.
    fn run(limit: Duration, frees: Option<u64>, requests_at: &[u64]) -> (Vec<u64>, Step) {
        let t0 = Instant::now();
        let requests = |t: u64| 1 + requests_at.iter().filter(|&&r| r <= t).count() as u32;
        let mut held = 5;
        let mut drain = Drain::new(t0, limit, requests(0));
        let mut writes = Vec::new();
        let mut t = 0u64;
        loop {
            match drain.poll(t0 + Duration::from_millis(t), held, requests(t)) {
                Step::Write => {
                    writes.push(t);
                    if frees.is_some_and(|f| t >= f) {
                        held = 0;
                    }
                }
                // Wakes at the next request if one comes before.
                Step::Wait(d) => {
                    let until = t + d.as_millis() as u64;
                    t = requests_at
                        .iter()
                        .copied()
                        .find(|&r| r > t && r < until)
                        .unwrap_or(until);
                }
                end => return (writes, end),
            }
            assert!(writes.len() < 1000, "a drain that never ends");
        }
    }

    #[test]
    fn the_drain_follows_its_rules() {
        // (limit, disk frees at, requests after the first, write attempts, end)
        type Case<'a> = (Duration, Option<u64>, &'a [u64], &'a [u64], Step);
        let cases: &[Case<'_>] = &[
            // Every row written at the first retry after the disk frees.
            (30 * S, Some(2500), &[], &[1000, 2000, 3000], Step::Done),
            // A second request tries again at once, and the stop goes on.
            (30 * S, Some(1200), &[1200], &[1000, 1200], Step::Done),
            (
                3 * S,
                None,
                &[400],
                &[400, 1400, 2400, 3000],
                Step::GiveUp(GaveUp::TimedOut),
            ),
            // The third request gives up after one last attempt.
            (
                30 * S,
                None,
                &[100, 1500],
                &[100, 1100, 1500],
                Step::GiveUp(GaveUp::Forced),
            ),
            // Three requests before the stop began: its first attempt was the last.
            (30 * S, None, &[0, 0], &[], Step::GiveUp(GaveUp::Forced)),
            // The limit is the last attempt's time.
            (
                2500 * MS,
                None,
                &[],
                &[1000, 2000, 2500],
                Step::GiveUp(GaveUp::TimedOut),
            ),
            // No wait at all (the demo): the first attempt was the only one.
            (
                Duration::ZERO,
                None,
                &[],
                &[],
                Step::GiveUp(GaveUp::TimedOut),
            ),
        ];
        for (limit, frees, requests, writes, end) in cases {
            let (got, got_end) = run(*limit, *frees, requests);
            assert_eq!(
                (got.as_slice(), got_end),
                (*writes, *end),
                "limit {limit:?}, frees {frees:?}, requests {requests:?}"
            );
        }
    }

    #[test]
    fn nothing_held_is_done_at_once() {
        let t0 = Instant::now();
        let mut d = Drain::new(t0, STOP_TIMEOUT, 5);
        assert_eq!(d.poll(t0, 0, 5), Step::Done);
    }

    #[test]
    fn requests_and_ends_are_told_apart() {
        let stop = Stop::new();
        assert!(!stop.requested());
        stop.end();
        assert!(stop.requested());
        assert_eq!(stop.requests(), 0);
        for n in 1..=FORCE {
            assert!(!stop.forced());
            stop.request();
            assert_eq!(stop.requests(), n);
        }
        assert!(stop.forced());
    }

    #[test]
    fn a_request_cuts_a_sleep_short() {
        let stop = Arc::new(Stop::new());
        let s = Arc::clone(&stop);
        let t = Instant::now();
        let asker = std::thread::spawn(move || {
            std::thread::sleep(50 * MS);
            s.request();
        });
        stop.sleep(60 * S);
        asker.join().unwrap();
        assert!(t.elapsed() < 30 * S, "woken by the request");
    }
}
