//! An input that may stall (a pipe, standard input) read on a thread of its own, so that a
//! loop over it still sees a stop request: a read waits at most [`POLL`], then fails with
//! [`io::ErrorKind::TimedOut`] (try again).

use std::io::{self, Read};
use std::sync::mpsc;
use std::time::Duration;

/// How long a read waits at most.
const POLL: Duration = Duration::from_millis(200);
/// Chunks read ahead at most (of up to 64 KiB each).
const AHEAD: usize = 4;

/// A reader whose reads wait at most 200 ms (see the module docs).
pub struct Polled {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Polled {
    /// Reads `inner` on a thread of its own until its end or an error. The thread ends
    /// with them, or when this reader is dropped and its next read returns.
    pub fn new(mut inner: impl Read + Send + 'static) -> io::Result<Polled> {
        let (tx, rx) = mpsc::sync_channel(AHEAD);
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || loop {
                let mut buf = vec![0u8; 64 * 1024];
                let sent = match inner.read(&mut buf) {
                    Ok(n) => {
                        buf.truncate(n);
                        tx.send(Ok(buf)).is_ok() && n > 0
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        false
                    }
                };
                if !sent {
                    return;
                }
            })?;
        Ok(Polled {
            rx,
            chunk: Vec::new(),
            pos: 0,
            done: false,
        })
    }
}

impl Read for Polled {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv_timeout(POLL) {
                Ok(Ok(chunk)) => {
                    self.done = chunk.is_empty();
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(io::ErrorKind::TimedOut.into()),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a pipe come through whole and in order; a pipe that stalls times out
    /// (and can be read again); its end is the end.
    #[test]
    fn a_stalling_pipe_times_out_and_loses_nothing() {
        let (reader, mut writer) = io::pipe().unwrap();
        let mut polled = Polled::new(reader).unwrap();
        let mut buf = [0u8; 3];
        let stalled = polled.read(&mut buf).unwrap_err();
        assert_eq!(stalled.kind(), io::ErrorKind::TimedOut);
        std::io::Write::write_all(&mut writer, b"hello").unwrap();
        drop(writer);
        let mut got = Vec::new();
        loop {
            match polled.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, b"hello");
        assert_eq!(polled.read(&mut buf).unwrap(), 0, "the end stays the end");
    }
}
