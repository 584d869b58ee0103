//! Server-sent events (`/api/events`, inside the recorder only): the Now page's values
//! pushed at each new record over one held connection, instead of a poll a second.
//!
//! - At most [`MAX_STREAMS`] streams (beyond, `503`); they are held by one thread, not by
//!   the request workers.
//! - Every write is non-blocking and whole or nothing: a client whose socket buffer cannot
//!   take an event now (it does not read) is dropped, so no client ever holds up the others,
//!   let alone the recorder, which only signals a condition variable.
//! - A comment line every [`KEEP_ALIVE`] keeps idle connections (and proxies) open and finds
//!   the clients that are gone.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The most event streams at once.
pub const MAX_STREAMS: usize = 8;
/// A comment line this often when no record comes.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The open event streams.
#[derive(Default)]
pub struct Streams {
    clients: Mutex<Vec<TcpStream>>,
    /// Signalled when a client is added: the events thread sleeps on it while there is
    /// none, instead of waking at every record for nobody.
    added: Condvar,
}

/// Writes `bytes` in one non-blocking write; whether all of it went.
fn try_write(s: &mut TcpStream, bytes: &[u8]) -> bool {
    matches!(s.write(bytes), Ok(n) if n == bytes.len())
}

impl Streams {
    fn clients(&self) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Streams open now.
    pub fn len(&self) -> usize {
        self.clients().len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether another would be refused.
    pub fn is_full(&self) -> bool {
        self.len() >= MAX_STREAMS
    }

    /// Adds a client (its head written), sending it `first` at once; dropped when full or
    /// when it cannot take it.
    pub fn add(&self, mut stream: TcpStream, first: &[u8]) {
        if stream.set_nonblocking(true).is_err() || !try_write(&mut stream, first) {
            return;
        }
        let mut c = self.clients();
        if c.len() < MAX_STREAMS {
            c.push(stream);
            self.added.notify_all();
        }
    }

    /// Waits at most `limit` while no stream is open.
    pub fn wait_for_one(&self, limit: Duration) {
        let c = self.clients();
        if c.is_empty() {
            let _ = self.added.wait_timeout(c, limit);
        }
    }

    /// Sends `bytes` to every client, dropping those that cannot take it now.
    pub fn send(&self, bytes: &[u8]) {
        self.clients().retain_mut(|s| try_write(s, bytes));
    }
}

/// An event carrying `json` (one line: JSON has no raw newline).
pub fn event(json: &str) -> Vec<u8> {
    format!("data: {json}\n\n").into_bytes()
}
