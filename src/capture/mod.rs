//! Capture: reads bytes from a source (a replay file, a serial port, the simulator) and
//! turns them into frames with [`crate::tic::Decoder`]. This is the thin I/O layer above
//! the sans-IO decoder: it owns the read buffer and the position.

mod polled;
pub mod port;
mod run;
pub mod stop;

use std::io::{self, Read};

pub use polled::Polled;
pub use run::{
    Capture, CaptureError, Counters, Event, Fanout, HostClock, Observer, Port, StoreConfig,
};
pub use stop::Stop;

use crate::tic::{Config, Decoder, Frame, Framing, LF, STX};

/// Read buffer size: large enough to replay years of captures quickly.
const BUF_LEN: usize = 64 * 1024;

/// Frames out of any [`Read`].
pub struct FrameReader<R> {
    inner: R,
    decoder: Decoder,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
}

impl<R: Read> FrameReader<R> {
    /// Reads `inner` with a decoder of this configuration.
    pub fn new(inner: R, config: Config) -> Self {
        FrameReader {
            inner,
            decoder: Decoder::new(config),
            buf: vec![0; BUF_LEN].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
        }
    }

    /// Like [`FrameReader::new`], but picks [`Framing::Lines`] when the first block of the
    /// input holds no STX but does hold line ends (a text dump rather than a wire capture).
    pub fn detect_framing(mut inner: R, mut config: Config) -> io::Result<Self> {
        let mut buf = vec![0; BUF_LEN].into_boxed_slice();
        let mut len = 0;
        while len < buf.len() {
            match inner.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let head = &buf[..len];
        if !head.iter().any(|&b| b & 0x7F == STX) && head.contains(&LF) {
            config.framing = Framing::Lines;
        }
        Ok(FrameReader {
            inner,
            decoder: Decoder::new(config),
            buf,
            pos: 0,
            len,
            eof: false,
        })
    }

    /// The next complete frame, or `None` at the end of the input.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        loop {
            if self.pos == self.len {
                if self.eof {
                    return Ok(None);
                }
                match self.inner.read(&mut self.buf) {
                    Ok(0) => {
                        self.eof = true;
                        let done = self.decoder.finish().is_some();
                        return Ok(if done {
                            self.decoder.last_frame()
                        } else {
                            None
                        });
                    }
                    Ok(n) => {
                        self.pos = 0;
                        self.len = n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            let (frame, n) = self.decoder.decode(&self.buf[self.pos..self.len]);
            let done = frame.is_some();
            self.pos += n;
            if done {
                return Ok(self.decoder.last_frame());
            }
        }
    }

    /// The decoder, for its counts.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Stream offset of the next byte the decoder will see.
    pub fn offset(&self) -> u64 {
        self.decoder.offset()
    }
}
