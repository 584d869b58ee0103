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
}
