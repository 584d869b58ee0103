//! How an error is told to a person: its message, then each of its causes, once.
//!
//! ## The convention (every error type of the crate follows it)
//! - A variant's message says **what failed and where**: the file, the byte offset, the line,
//!   the argument, the address (`cannot read "2025/01/2025-01-03.csv"`, `prices.toml:12: key
//!   "hp"`, `--mqtt "http://x"`). It never formats its cause.
//! - The cause, when it is an error (`io::Error`, `csv::Error`, `ParquetError`,
//!   `ArrowError`, `serde_json::Error`, another of ours), is the variant's `#[source]`, typed,
//!   never flattened into a `String`: the caller decides by its kind (a broken pipe is a
//!   normal end, `ENOSPC` an outage to ride out, a garbled archive a reason to read the CSV
//!   files). A reason in our own words (`expected 13 characters`) is part of the message.
//! - A wrapper that adds nothing is `#[error(transparent)]`.
//! - Whoever shows an error to a person shows the whole chain, `: `-joined, each message
//!   once: the binary prints anyhow's `{:#}` (`src/cli/mod.rs`), the library (the dashboard's
//!   pages and API, the notes it reports) prints [`Chain`].
//!
//! So `cannot read "2025/01/2025-01-03.csv": Permission denied (os error 13)`, whatever the
//! depth: each layer says its own part.

use std::error::Error;
use std::fmt;

/// An error and its causes, `: `-joined: what a person reads.
///
/// ```
/// use tic_rec::error::Chain;
/// let e = std::io::Error::new(std::io::ErrorKind::Other, "disk on fire");
/// assert_eq!(Chain(&e).to_string(), "disk on fire");
/// ```
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Asserts that `e` follows the convention: every message of its chain is said once (none
/// holds the message of a cause below it), and none is empty.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_said_once(e: &(dyn Error + 'static)) {
    let mut messages = Vec::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        messages.push(c.to_string());
        cause = c.source();
    }
    for (i, m) in messages.iter().enumerate() {
        assert!(!m.trim().is_empty(), "an empty message in {messages:#?}");
        for below in &messages[i + 1..] {
            assert!(
                !m.contains(below.as_str()),
                "{m:?} says its cause {below:?} again (chain: {})",
                Chain(e)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path:?}")]
    struct Good {
        path: &'static str,
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path:?}: {source}")]
    struct Twice {
        path: &'static str,
        source: std::io::Error,
    }

    fn denied() -> std::io::Error {
        std::io::Error::from_raw_os_error(13)
    }

    #[test]
    fn a_chain_says_each_message_once() {
        let e = Good {
            path: "a.csv",
            source: denied(),
        };
        assert_said_once(&e);
        assert_eq!(
            Chain(&e).to_string(),
            "cannot read \"a.csv\": Permission denied (os error 13)"
        );
        let twice = Twice {
            path: "a.csv",
            source: denied(),
        };
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_said_once(&twice)));
        assert!(
            caught.is_err(),
            "a message that repeats its cause is caught"
        );
    }

    /// Every error type of the crate whose variants have a source, each such variant (real
    /// failures where a public call makes one): none says its cause again.
    #[test]
    fn every_error_says_its_cause_once() {
        use crate::cost::{self, CostError, GridError, OfferError, ReportError, TempoError};
        use crate::store::archive::CompactError;
        use crate::store::{DecodeError, ReadError, StoreError};
        use std::path::{Path, PathBuf};

        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("write");
            p
        };
        let io = || std::io::Error::from_raw_os_error(5);
        let p = || PathBuf::from("2026/05/2026-05-01.csv");
        let garbled = ReadError::Undecodable {
            path: PathBuf::from("2026/05/2026-05-01.parquet"),
            what: "cannot decode its footer",
            source: DecodeError::Parquet(parquet::errors::ParquetError::General(
                "Corrupt footer".into(),
            )),
        };
        let garbage = file("2026-05-02.parquet", b"PAR1 not an archived day PAR1");
        let not_json = serde_json::from_str::<serde_json::Value>("{").expect_err("not JSON");
        let not_utf8 = cost::TempoCalendar::read(&file("cal.csv", b"2025-01-01,BL\xffEU\n"))
            .expect_err("not UTF-8");
        let offer_io = cost::PriceFile::read(Path::new("/nonexistent/p.toml")).expect_err("absent");
        let not_toml = cost::PriceFile::read(&file("p.toml", b"name = \n")).expect_err("TOML");
        let bad_price = cost::PriceFile::read(&file(
            "q.toml",
            b"name = \"x\"\n[[period]]\nvalid_from = 2025-01-01\nsubscription = { eur_per_year = \"1.2.3\" }\n",
        ))
        .expect_err("a bad price");
        let grid_csv = GridError::Csv {
            file: "test.csv",
            line: 3,
            source: csv::ReaderBuilder::new()
                .from_reader("a,b\n1\n".as_bytes())
                .records()
                .find_map(Result::err)
                .expect("a CSV error"),
        };
        let not_pem = {
            use rustls::pki_types::pem::PemObject;
            rustls::pki_types::CertificateDer::pem_slice_iter(
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            )
            .collect::<Result<Vec<_>, _>>()
            .expect_err("not PEM")
        };
        let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("day");
        let errors: Vec<Box<dyn Error>> = vec![
            // store
            Box::new(ReadError::Dir {
                path: PathBuf::from("data"),
                source: io(),
            }),
            Box::new(ReadError::Io {
                path: p(),
                source: io(),
            }),
            Box::new(
                crate::store::ParquetDay::open(&garbage)
                    .err()
                    .expect("garbled"),
            ),
            Box::new(ReadError::Undecodable {
                path: garbage.clone(),
                what: "its metadata is not JSON",
                source: DecodeError::Json(not_json),
            }),
            Box::new(ReadError::Undecodable {
                path: garbage.clone(),
                what: "cannot decode its rows",
                source: DecodeError::Arrow(arrow_schema::ArrowError::ComputeError(
                    "bad page".into(),
                )),
            }),
            Box::new(StoreError::Io {
                op: "cannot append to",
                path: p(),
                source: io(),
            }),
            Box::new(
                crate::store::DirLock::acquire(&file("not-a-dir", b"x").join("sub"), "test")
                    .expect_err("under a file"),
            ),
            Box::new(CompactError::Io {
                op: "rename to",
                path: p(),
                source: io(),
            }),
            Box::new(CompactError::Write {
                path: p(),
                source: io().into(),
            }),
            Box::new(CompactError::Read(ReadError::Io {
                path: p(),
                source: io(),
            })),
            Box::new(CompactError::Unreadable {
                path: PathBuf::from("2026/05/2026-05-01.parquet"),
                source: garbled,
            }),
            // capture
            Box::new(crate::capture::CaptureError::Replay {
                name: "capture.tic".into(),
                offset: 1834,
                source: io(),
            }),
            Box::new(crate::capture::CaptureError::Store(StoreError::Io {
                op: "cannot create",
                path: p(),
                source: io(),
            })),
            // export
            Box::new(crate::export::Error::DataDir {
                path: PathBuf::from("data"),
                source: io(),
            }),
            Box::new(crate::export::Error::Output(io())),
            // cost
            Box::new(grid_csv),
            Box::new(GridError::Cell {
                file: "test.csv",
                line: 3,
                column: "base",
                source: cost::Decimal::parse("-0.2").expect_err("negative"),
            }),
            Box::new(offer_io),
            Box::new(not_toml),
            Box::new(bad_price),
            Box::new(not_utf8),
            Box::new(TempoError::Io {
                path: PathBuf::from("cal.csv"),
                source: io(),
            }),
            Box::new(ReportError::Actual {
                contract: "HC/HP 6 kVA".into(),
                hint: "",
                source: Box::new(CostError::Offer(OfferError::Io {
                    path: PathBuf::from("p.toml"),
                    source: io(),
                })),
            }),
            Box::new(cost::ScheduleError::NotASchedule {
                source: Box::new(
                    cost::HcSchedule::from_windows(&[(60, 120), (90, 180)], "learned")
                        .expect_err("overlap"),
                ),
            }),
            // mqtt
            Box::new(crate::mqtt::MqttError::PasswordFile {
                path: PathBuf::from("pw"),
                source: io(),
            }),
            Box::new(crate::mqtt::MqttError::Ca {
                path: PathBuf::from("ca.pem"),
                source: io(),
            }),
            Box::new(crate::mqtt::MqttError::CaNotPem {
                path: PathBuf::from("ca.pem"),
                source: not_pem,
            }),
            Box::new(crate::mqtt::MqttError::Tls(rustls::Error::General(
                "no protocol".into(),
            ))),
            Box::new(crate::mqtt::MqttError::Thread(io())),
            // serve
            Box::new(crate::serve::ServeError::Bind {
                addr: "127.0.0.1:8080".parse().expect("address"),
                source: io(),
            }),
            Box::new(crate::serve::ServeError::Threads(io())),
            Box::new(crate::serve::cost::CostError::Report(
                ReportError::NoPricesFile,
            )),
            Box::new(crate::serve::data::DataError::Read(ReadError::Io {
                path: p(),
                source: io(),
            })),
            // sim
            Box::new(crate::sim::demo::DemoError::Day {
                day,
                source: ReadError::Io {
                    path: p(),
                    source: io(),
                },
            }),
            Box::new(crate::sim::demo::DemoError::Pty(io())),
            Box::new(crate::sim::demo::DemoError::CannotWrite(StoreError::Io {
                op: "cannot append to",
                path: p(),
                source: io(),
            })),
            Box::new(crate::sim::demo::DemoError::MeterFailed(io())),
        ];
        for e in &errors {
            assert_said_once(e.as_ref());
            assert!(e.source().is_some(), "a variant with a source: {e}");
        }
        // What a person reads, for a few.
        let said = |i: usize| Chain(errors[i].as_ref()).to_string();
        assert_eq!(
            said(1),
            "cannot read \"2026/05/2026-05-01.csv\": Input/output error (os error 5)"
        );
        assert!(
            said(2).starts_with(&format!(
                "{garbage:?}: not a readable archived day: cannot decode its footer: "
            )),
            "{}",
            said(2)
        );
        let toml = said(18);
        assert!(
            toml.contains("p.toml:1: ") && !toml.contains('\n'),
            "{toml}"
        );
        assert!(
            said(19).ends_with(
                "q.toml:4: eur_per_year: expected a decimal number like 0.1952, found \"1.2.3\""
            ),
            "{}",
            said(19)
        );
    }
}
