//! tic-rec: records a French Linky meter's TIC output and turns it into per-period
//! consumption.
//!
//! The layers, from the bottom up:
//! - [`tic`]: the sans-IO decoder (bytes in, verified frames out) and the encoder.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod export;
pub mod record;
pub mod sim;
pub mod store;
pub mod tic;
