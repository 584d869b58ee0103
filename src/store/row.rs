//! A row as readers see it, whichever file it comes from: its cells ([`Cell`]), which
//! columns to read ([`Columns`]), what comes next in a day ([`Next`]), and what a row gives
//! the archive writer ([`Row`]).

use std::borrow::Cow;

use super::text::{parse_int, push_int};

/// One cell of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Empty, or the row's file has no such column.
    Null,
    /// An integer (a numeric label's cell as the recorder writes it).
    Int(i64),
    /// Text.
    Text(&'a str),
}

impl<'a> Cell<'a> {
    /// The integer the cell holds (digits only, at most 18; leading zeros allowed).
    pub fn int(self) -> Option<i64> {
        match self {
            Cell::Null => None,
            Cell::Int(v) => Some(v),
            Cell::Text(s) => parse_int(s),
        }
    }

    /// The cell's text, as the CSV file had it (`""` when null).
    pub fn text(self) -> Cow<'a, str> {
        match self {
            Cell::Null => Cow::Borrowed(""),
            Cell::Int(v) => Cow::Owned(v.to_string()),
            Cell::Text(s) => Cow::Borrowed(s),
        }
    }

    /// Appends the cell's text.
    pub fn push_to(self, out: &mut String) {
        match self {
            Cell::Null => {}
            Cell::Int(v) => push_int(out, v),
            Cell::Text(s) => out.push_str(s),
        }
    }
}

/// Which encoding a day was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// CSV files only.
    Csv,
    /// The Parquet file only.
    Parquet,
    /// The Parquet file and CSV files it does not cover.
    Mixed,
}

/// What the next item of a day is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A row, now current (its time, its cells: [`crate::store::DayReader::time`]…).
    Row,
    /// `count` damaged rows were skipped here; `time` places them (see the module doc).
    Damaged {
        /// Time of the file's previous good row (else its next, else the day's start).
        time: i64,
        /// Rows skipped.
        count: u64,
    },
}

/// Which columns a reader needs (the others may read as [`Cell::Null`]); `time` is always
/// read.
#[derive(Clone, Copy)]
pub enum Columns<'a> {
    /// Every column.
    All,
    /// Those this says yes to.
    Only(&'a dyn Fn(&str) -> bool),
}

impl Columns<'_> {
    /// Whether `name` is wanted.
    pub fn wants(&self, name: &str) -> bool {
        match self {
            Columns::All => true,
            Columns::Only(f) => f(name),
        }
    }
}

/// The current row of a reader (a day's merged rows, [`crate::store::DayReader`]): what the
/// archive writer takes from it.
pub trait Row {
    /// The row's Unix time.
    fn time(&self) -> i64;
    /// Its offset (seconds east of UTC) as its `time` cell has it.
    fn offset(&self) -> i32;
    /// Appends its `time` cell, as the CSV file had it.
    fn push_time_text(&self, out: &mut String);
    /// Cell `j` (a day column, `j ≥ 1`).
    fn cell(&self, j: usize) -> Cell<'_>;
}
