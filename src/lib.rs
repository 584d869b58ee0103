//! tic-rec: records a French Linky meter's TIC output and turns it into per-period
//! consumption.
//!
//! The layers, from the bottom up:
//! - [`tic`]: the sans-IO decoder (bytes in, verified frames out) and the encoder.
//! - [`record`]: which frames make records, and what time they get (sans-IO).
//! - [`store`]: the data directory: the daily files, their layout and durability, the archive
//!   of closed days in Parquet, the caches beside them.
//! - [`capture`]: the recording loop over a serial port, a replay or the simulator.
//! - [`export`]: per-period consumption read back from the daily files.
//! - [`cost`]: what that energy cost, and what the other options would have cost (the pure
//!   engine, and [`cost::report()`] over the recorded days).
//! - [`serve`]: the dashboard: pages, JSON API and Prometheus metrics over a data directory,
//!   live inside the recorder.
//! - [`sim`]: a simulated meter for the demo, the tests and the benchmarks.
//! - [`mqtt`]: Home Assistant over MQTT, an observer of the recording loop.
//! - [`systemd`]: the service's READY, STATUS and watchdog pings, an observer of the loop.
//!
//! [`error`] says how every error of the crate is told: what failed and where in its message,
//! its cause as its source, the chain printed once.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod cost;
pub mod error;
pub mod export;
pub mod mqtt;
pub mod record;
pub mod serve;
pub mod sim;
pub mod store;
pub mod systemd;
pub mod tic;
