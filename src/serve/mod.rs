//! The dashboard: a read-only web server over a data directory — pages for a phone, a JSON
//! API and Prometheus metrics — run by `tic-rec serve`, or inside the recorder
//! (`tic-rec record --http`) with live values from its memory.
//!
//! ## Design constraints
//! - **The recorder never waits on the server.** Inside the recorder the server is one more
//!   [`crate::capture::Observer`] ([`LiveObserver`]) that copies the last record and the
//!   counters into a shared [`Snapshot`] under a mutex held for microseconds, never across
//!   I/O. Requests are served on the server's own threads ([`http`]): a fixed pool fed by a
//!   bounded queue (beyond it, `503` at once), socket deadlines, one request per
//!   connection, so a slow client, a stuck one or a thousand of them cost the recorder
//!   nothing. The Now page's event streams ([`events`]) are held by one more thread, with
//!   non-blocking writes; the recorder only signals a condition variable.
//! - **Read-only, and nothing from a request reaches a file path.** Routes are matched
//!   exactly ([`app`]); every parameter is parsed into a date, a month, a period or a bounded
//!   count ([`query`]) or refused with a `400`; unknown paths (`/../etc/passwd`,
//!   `/%2e%2e/…`) are `404`. The files are read through [`crate::store`] and
//!   [`crate::export`] only ([`data`]): periods are the export's numbers, records are
//!   downsampled to at most [`data::MAX_POINTS`] buckets over at most
//!   [`data::MAX_RECORD_DAYS`] days, one such read at a time; a period table holds at most
//!   [`data::MAX_PERIODS`] periods.
//! - **Loopback by default.** Binding another address is the caller's choice; the binary
//!   warns that the data is then readable by the network.
//! - **Everything served by the binary**: pages are rendered on the server with inline SVG
//!   charts ([`svg`], [`pages`]), CSS and the Now page's small script are compiled in
//!   (`include_str!`); no CDN, so it works offline on a Pi.
//! - **€ figures** come from one function, [`cost::cost`]: [`crate::cost::report()`], the
//!   numbers of `tic-rec cost`, cached by [`data::Data::cost`] like the period tables; a
//!   range it cannot price says why, and no figure is ever made up.

pub mod api;
pub mod app;
pub mod cost;
pub mod data;
pub mod events;
pub mod http;
pub mod live;
pub mod metrics;
pub mod now;
pub mod pages;
pub mod query;
pub mod svg;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

pub use http::{Limits, Running};
pub use live::{Live, LiveObserver, Snapshot};

/// What to serve, and where.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Threads, queue and deadlines.
    pub limits: Limits,
}

/// A server that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound (in use, not an address of this machine, a port below
    /// 1024 without the right).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server's threads cannot be started.
    #[error("cannot start the web server's threads")]
    Threads(#[source] std::io::Error),
}

/// Whether serving on `addr` makes the data readable beyond this machine.
pub fn is_exposed(addr: &SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

/// Starts serving `config.data_dir` (with the recorder's `live` snapshot, if any) on its own
/// threads; it stops when the returned [`Running`] is dropped.
pub fn start(config: &Config, live: Option<Live>) -> Result<Running, ServeError> {
    let listener = TcpListener::bind(config.listen).map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;
    let with_live = live.is_some();
    let app = Arc::new(app::App::new(data::Data::new(&config.data_dir), live));
    let running = http::start(
        listener,
        Arc::clone(&app) as Arc<dyn http::Handler>,
        config.limits,
    )
    .map_err(ServeError::Threads)?;
    if with_live {
        let events = Arc::clone(&app);
        std::thread::Builder::new()
            .name("http-events".into())
            .spawn(move || events.run_events())
            .map_err(ServeError::Threads)?;
    }
    // The first views of the recent months, at the lowest priority (a second or so of CPU
    // over a year of archived days).
    let warm = Arc::clone(&app);
    std::thread::Builder::new()
        .name("http-warm".into())
        .spawn(move || {
            crate::store::archive::lower_priority();
            warm.warm();
        })
        .map_err(ServeError::Threads)?;
    Ok(running)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_not_exposed() {
        for (addr, exposed) in [
            ("127.0.0.1:8080", false),
            ("127.1.2.3:80", false),
            ("[::1]:8080", false),
            ("0.0.0.0:8080", true),
            ("[::]:8080", true),
            ("192.168.1.20:8080", true),
        ] {
            let a: SocketAddr = addr.parse().unwrap();
            assert_eq!(is_exposed(&a), exposed, "{addr}");
        }
    }
}
