//! The archived day's Parquet file: its metadata, its writer ([`DayWriter`]) and its reader
//! ([`ParquetDay`]). The format is described in [`super::archive`].

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, DictionaryArray, Int64Array, RecordBatch, StringArray};
use arrow_array::{PrimitiveArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::ChunkReader;
use parquet::schema::types::ColumnPath;
use serde_json::{json, Value};

use super::digest::{hex, IntDigest, RowsDigest, TextDigest};
use super::error::{Damage, DamagedRow, DecodeError, Position, ReadError};
use super::fs::{Fs, Open};
use super::layout::{is_numeric_label, FORMAT, OLDEST_FORMAT};
use super::packed;
use super::row::{Cell, Columns, Row};
use super::source::SourceFile;
use super::text::{canonical_int, local_fields, paris_offset, parse_time, push_time};

/// The metadata key of the archive's own description.
pub const META_KEY: &str = "tic-rec.archive";
/// The metadata key of the day's summary (the reader's, [`super::archive::Summarise`]).
pub const SUMMARY_KEY: &str = "tic-rec.summary";
/// The stored column of the meter's identity (ADSC or ADCO), in every file of format 3.
pub const METER_ID: &str = "meter_id";
/// Rows per row group (a day at one row a second is one row group).
pub const ROW_GROUP_ROWS: usize = 131_072;
/// Rows per batch, written and read.
pub const BATCH_ROWS: usize = 8192;
/// zstd level.
pub const ZSTD_LEVEL: i32 = 9;
/// A footer larger than this is not one of ours.
const MAX_FOOTER: u64 = 16 << 20;
/// A file larger than this is not an archived day (one is well under a few MB).
const MAX_FILE: u64 = 64 << 20;
/// A column chunk claiming more than this uncompressed is not one of ours (a day's is well
/// under 1 MB); the decoder would allocate what it claims.
const MAX_CHUNK: i64 = 64 << 20;

/// How a stored column holds its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// `time`: the instant.
    Time,
    /// A numeric label: Int64.
    Int,
    /// Text: a dictionary-encoded string.
    Text,
    /// `_<column>`: the text of the cells of day column `n` the typed value does not give.
    Raw(usize),
    /// `meter_id` (format 3): the row's ADSC, else its ADCO, a string (null when the row has
    /// neither); derived from those cells, for the readers of a fleet, never read back.
    MeterId,
}

/// A stored column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredColumn {
    /// Its name in the file.
    pub name: String,
    /// What it holds.
    pub kind: Stored,
}

/// A source's JSON (in the archive's metadata).
fn source_json(s: &SourceFile) -> Value {
    json!({"name": s.name, "len": s.len, "end": s.end, "head": hex(s.head),
           "header": s.header})
}

/// Where damaged rows were skipped in an archived day's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marker {
    /// Rows of the archived stream before them.
    pub before_row: u64,
    /// The time that places them.
    pub time: i64,
    /// Rows skipped.
    pub count: u64,
}

/// The archive's own metadata (key [`META_KEY`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveMeta {
    /// The format it was written in ([`FORMAT`] for a file this build writes).
    pub format: u64,
    /// The day.
    pub day: NaiveDate,
    /// The day's columns (`time` first).
    pub columns: Vec<String>,
    /// The stored columns, in file order.
    pub stored: Vec<StoredColumn>,
    /// The CSV files it covers: those it was made from, as they were then, and those of an
    /// earlier archive of the day that were still there unchanged. A CSV file it covers (same
    /// name, same first bytes, no complete line past [`SourceFile::end`]) holds no row it
    /// lacks; one that grew holds new rows past `end`.
    pub sources: Vec<SourceFile>,
    /// The sources of earlier archives of the day whose rows it holds (read from the
    /// archive it replaced) but whose files are gone or were replaced: a record only, never
    /// used to tell which files it covers. Names may repeat, and may be those of sources.
    pub absorbed: Vec<SourceFile>,
    /// Rows.
    pub rows: u64,
    /// First and last row's time.
    pub first: Option<i64>,
    /// Last row's time.
    pub last: Option<i64>,
    /// Digest of each stored column, by name.
    pub digests: Vec<(String, u64)>,
    /// Digest of every cell's text.
    pub text_digest: u64,
    /// Where damaged rows were skipped.
    pub markers: Vec<Marker>,
    /// The damaged rows of each source that had some.
    pub damage: Vec<Damage>,
}

fn pos_json(p: &Position) -> Value {
    let Position::Line(l, b) = p;
    json!([l, b])
}

impl ArchiveMeta {
    fn to_json(&self) -> String {
        let stored: Vec<Value> = self
            .stored
            .iter()
            .map(|c| match c.kind {
                Stored::Time => json!({"name": c.name, "kind": "time"}),
                Stored::Int => json!({"name": c.name, "kind": "int"}),
                Stored::Text => json!({"name": c.name, "kind": "text"}),
                Stored::Raw(n) => json!({"name": c.name, "kind": "raw", "of": self.columns[n]}),
                Stored::MeterId => json!({"name": c.name, "kind": "meter_id"}),
            })
            .collect();
        let sources: Vec<Value> = self.sources.iter().map(source_json).collect();
        let absorbed: Vec<Value> = self.absorbed.iter().map(source_json).collect();
        let markers: Vec<Value> = self
            .markers
            .iter()
            .map(|m| json!([m.before_row, m.time, m.count]))
            .collect();
        let damage: Vec<Value> =
            self.damage
                .iter()
                .map(|d| {
                    let first = d.first.as_ref().map(
                        |f| json!({"at": pos_json(&f.at), "reason": f.reason, "text": f.text}),
                    );
                    json!({"file": d.file, "count": d.count, "first": first})
                })
                .collect();
        let digests: serde_json::Map<String, Value> = self
            .digests
            .iter()
            .map(|(n, d)| (n.clone(), Value::from(hex(*d))))
            .collect();
        json!({
            "format": FORMAT,
            "day": self.day.to_string(),
            "columns": self.columns,
            "stored": stored,
            "sources": sources,
            "absorbed": absorbed,
            "rows": self.rows,
            "first": self.first,
            "last": self.last,
            "digests": digests,
            "text_digest": hex(self.text_digest),
            "markers": markers,
            "damage": damage,
        })
        .to_string()
    }

    fn from_json(text: &str) -> Result<ArchiveMeta, Invalid> {
        let v: Value = serde_json::from_str(text).map_err(Invalid::Json)?;
        let bad = |what: &str| format!("metadata: bad or missing {what}");
        let format = v["format"].as_u64().ok_or_else(|| bad("format"))?;
        if format > FORMAT {
            return Err(Invalid::Newer(format));
        }
        if format < OLDEST_FORMAT {
            return Err(bad("format").into());
        }
        Self::fields(&v, format).map_err(Invalid::Bad)
    }

    fn fields(v: &Value, format: u64) -> Result<ArchiveMeta, String> {
        let bad = |what: &str| format!("metadata: bad or missing {what}");
        let strings = |v: &Value, what: &str| -> Result<Vec<String>, String> {
            v.as_array()
                .ok_or_else(|| bad(what))?
                .iter()
                .map(|s| s.as_str().map(str::to_owned).ok_or_else(|| bad(what)))
                .collect()
        };
        let unhex = |v: &Value, what: &str| {
            v.as_str()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or_else(|| bad(what))
        };
        let day = v["day"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| bad("day"))?;
        let columns = strings(&v["columns"], "columns")?;
        if columns.first().map(String::as_str) != Some("time") {
            return Err(bad("columns"));
        }
        let mut stored = Vec::new();
        for c in v["stored"].as_array().ok_or_else(|| bad("stored"))? {
            let name = c["name"].as_str().ok_or_else(|| bad("stored"))?.to_owned();
            let kind = match c["kind"].as_str() {
                Some("time") => Stored::Time,
                Some("int") => Stored::Int,
                Some("text") => Stored::Text,
                Some("meter_id") => Stored::MeterId,
                Some("raw") => {
                    let of = c["of"].as_str().ok_or_else(|| bad("stored"))?;
                    Stored::Raw(
                        columns
                            .iter()
                            .position(|c| c == of)
                            .ok_or_else(|| bad("stored"))?,
                    )
                }
                _ => return Err(bad("stored")),
            };
            stored.push(StoredColumn { name, kind });
        }
        let source_list = |key: &str, need_end: bool| -> Result<Vec<SourceFile>, String> {
            let mut out = Vec::new();
            for s in v[key].as_array().ok_or_else(|| bad(key))? {
                let end = match &s["end"] {
                    Value::Null if !need_end => None,
                    e => Some(e.as_u64().ok_or_else(|| bad(key))?),
                };
                let len = s["len"].as_u64().ok_or_else(|| bad(key))?;
                if end.is_some_and(|e| e > len) {
                    return Err(bad(key));
                }
                out.push(SourceFile {
                    name: s["name"].as_str().ok_or_else(|| bad(key))?.to_owned(),
                    len,
                    end,
                    head: unhex(&s["head"], key)?,
                    header: strings(&s["header"], key)?,
                });
            }
            Ok(out)
        };
        // Format 1 recorded neither where a source's rows end nor absorbed sources.
        let (sources, absorbed) = if format == 1 {
            (source_list("sources", false)?, Vec::new())
        } else {
            (
                source_list("sources", true)?,
                source_list("absorbed", false)?,
            )
        };
        let map = v["digests"].as_object().ok_or_else(|| bad("digests"))?;
        let mut digests = Vec::new();
        for c in &stored {
            digests.push((
                c.name.clone(),
                unhex(map.get(&c.name).unwrap_or(&Value::Null), "digests")?,
            ));
        }
        let mut markers = Vec::new();
        for m in v["markers"].as_array().ok_or_else(|| bad("markers"))? {
            markers.push(Marker {
                before_row: m[0].as_u64().ok_or_else(|| bad("markers"))?,
                time: m[1].as_i64().ok_or_else(|| bad("markers"))?,
                count: m[2].as_u64().ok_or_else(|| bad("markers"))?,
            });
        }
        let mut damage = Vec::new();
        for d in v["damage"].as_array().ok_or_else(|| bad("damage"))? {
            let first = match &d["first"] {
                Value::Null => None,
                f => Some(DamagedRow {
                    at: Position::Line(
                        f["at"][0].as_u64().ok_or_else(|| bad("damage"))?,
                        f["at"][1].as_u64().ok_or_else(|| bad("damage"))?,
                    ),
                    reason: f["reason"].as_str().unwrap_or("").to_owned(),
                    text: f["text"].as_str().unwrap_or("").to_owned(),
                }),
            };
            damage.push(Damage {
                file: d["file"].as_str().unwrap_or("").to_owned(),
                count: d["count"].as_u64().ok_or_else(|| bad("damage"))?,
                first,
            });
        }
        Ok(ArchiveMeta {
            format,
            day,
            columns,
            stored,
            sources,
            absorbed,
            rows: v["rows"].as_u64().ok_or_else(|| bad("rows"))?,
            first: v["first"].as_i64(),
            last: v["last"].as_i64(),
            digests,
            text_digest: unhex(&v["text_digest"], "text_digest")?,
            markers,
            damage,
        })
    }
}

/// The stored columns for a day's `columns`, with a raw column for each day column in `raw`
/// (and always for `DATE`'s empty cells… only when asked).
pub fn plan(columns: &[String], raw: &[usize]) -> Vec<StoredColumn> {
    let mut out = vec![
        StoredColumn {
            name: "time".to_owned(),
            kind: Stored::Time,
        },
        StoredColumn {
            name: METER_ID.to_owned(),
            kind: Stored::MeterId,
        },
    ];
    for c in columns.iter().skip(1) {
        if c == "DATE" {
            continue;
        }
        let kind = if is_numeric_label(c) {
            Stored::Int
        } else {
            Stored::Text
        };
        out.push(StoredColumn {
            name: c.clone(),
            kind,
        });
    }
    let mut raw = raw.to_vec();
    raw.sort_unstable();
    raw.dedup();
    for n in raw {
        if let Some(c) = columns.get(n) {
            out.push(StoredColumn {
                name: format!("_{c}"),
                kind: Stored::Raw(n),
            });
        }
    }
    out
}

fn arrow_type(kind: Stored, read: bool) -> DataType {
    match kind {
        Stored::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Stored::Int => DataType::Int64,
        Stored::Text | Stored::Raw(_) | Stored::MeterId if read => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        Stored::Text | Stored::Raw(_) | Stored::MeterId => DataType::Utf8,
    }
}

fn arrow_schema(stored: &[StoredColumn], read: bool) -> SchemaRef {
    Arc::new(Schema::new(
        stored
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.kind, read), c.kind != Stored::Time))
            .collect::<Vec<_>>(),
    ))
}

fn props(stored: &[StoredColumn]) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        // No page index: a day's file is a page or two per column, read whole.
        .set_offset_index_disabled(true)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(ROW_GROUP_ROWS)
        .set_created_by(format!("tic-rec {}", env!("CARGO_PKG_VERSION")));
    for c in stored {
        let path = ColumnPath::from(c.name.as_str());
        // Statistics where a reader prunes with them (a range of times): on every other
        // column (a file's meter is its folder's) they would weigh more than a small day's
        // data.
        if c.kind != Stored::Time {
            b = b.set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
        }
        if matches!(c.kind, Stored::Time | Stored::Int) {
            b = b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        }
    }
    b.build()
}

/// The `DATE` horodate of a row at `t` written at `offset` (`None` for an offset other than
/// +01:00/+02:00): season letter then `YYMMDDhhmmss` local.
pub fn push_horodate(out: &mut String, t: i64, offset: i32, degraded: bool) -> bool {
    let letter = match (offset, degraded) {
        (7200, false) => 'E',
        (3600, false) => 'H',
        (7200, true) => 'e',
        (3600, true) => 'h',
        _ => return false,
    };
    let (y, mo, d, h, mi, s) = local_fields(t, offset);
    out.push(letter);
    for v in [y.rem_euclid(100) as u32, mo, d, h, mi, s] {
        out.push(char::from(b'0' + (v / 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
    }
    true
}

/// Europe/Paris's offset, cached by UTC hour (offsets change on whole hours).
#[derive(Default)]
pub struct Offsets {
    hour: Option<(i64, i32)>,
}

impl Offsets {
    /// The offset at `t`.
    pub fn at(&mut self, t: i64) -> i32 {
        let h = t.div_euclid(3600);
        if let Some((ch, off)) = self.hour {
            if ch == h {
                return off;
            }
        }
        let (a, b) = (paris_offset(h * 3600), paris_offset(h * 3600 + 3599));
        if a == b {
            self.hour = Some((h, a));
            a
        } else {
            paris_offset(t)
        }
    }
}

/// Why a row could not be added, or the file written.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Day column `n` needs a raw column the plan does not have.
    #[error("day column {0} needs a raw column")]
    NeedRaw(usize),
    /// The file could not be written (a full disk, a failing card…).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The Parquet encoder failed (not an I/O error).
    #[error("the Parquet encoder failed")]
    Parquet(#[source] ParquetError),
    /// A batch of rows could not be made.
    #[error("cannot make a batch of rows")]
    Arrow(#[source] arrow_schema::ArrowError),
}

impl PushError {
    /// The I/O error behind it, if any.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            PushError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The I/O error a Parquet error wraps, if it wraps one.
fn io_of(e: ParquetError) -> Result<std::io::Error, ParquetError> {
    match e {
        ParquetError::External(b) => b
            .downcast::<std::io::Error>()
            .map(|e| *e)
            .map_err(ParquetError::External),
        e => Err(e),
    }
}

fn werr(e: ParquetError) -> PushError {
    match io_of(e) {
        Ok(io) => PushError::Io(io),
        Err(e) => PushError::Parquet(e),
    }
}

/// A read error from a Parquet error: the I/O error it wraps, else a garbled file (`what`
/// cannot be decoded).
fn rerr(path: &Path, what: &'static str, e: ParquetError) -> ReadError {
    match io_of(e) {
        Ok(source) => ReadError::Io {
            path: path.to_path_buf(),
            source,
        },
        Err(e) => undecodable(path, what, e.into()),
    }
}

fn undecodable(path: &Path, what: &'static str, source: DecodeError) -> ReadError {
    ReadError::Undecodable {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// Why a footer is not one this build reads.
#[derive(Debug)]
enum Invalid {
    /// A later archive format.
    Newer(u64),
    /// Not a valid archived day.
    Bad(String),
    /// The metadata is not JSON.
    Json(serde_json::Error),
}

impl From<String> for Invalid {
    fn from(s: String) -> Invalid {
        Invalid::Bad(s)
    }
}

impl From<&str> for Invalid {
    fn from(s: &str) -> Invalid {
        Invalid::Bad(s.to_owned())
    }
}

enum Builder {
    Time(TimestampMicrosecondBuilder),
    Int(Int64Builder),
    Text(StringBuilder),
}

enum Digest {
    Int(IntDigest),
    Text(TextDigest),
}

/// Writes an archived day to `W` (a file opened through [`super::fs`]), row by row, from a
/// day's reader ([`Row`]).
pub struct DayWriter<W: Write + Send> {
    meta: ArchiveMeta,
    schema: SchemaRef,
    writer: ArrowWriter<Kept<W>>,
    /// The first I/O error under the writer (see [`Kept`]).
    io_error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
    builders: Vec<Builder>,
    digests: Vec<Digest>,
    /// Day column → stored column (`None` for DATE), and its raw column.
    typed: Vec<Option<usize>>,
    raw: Vec<Option<usize>>,
    source_col: Option<usize>,
    date_col: Option<usize>,
    /// The ADSC/ADCO day columns, and the stored `meter_id` column.
    id_cols: Vec<usize>,
    id_stored: Option<usize>,
    text: RowsDigest,
    n: usize,
    offsets: Offsets,
    scratch: String,
    cell_text: String,
    needs: Vec<usize>,
}

impl<W: Write + Send> DayWriter<W> {
    /// A writer of `day`, whose columns are `columns`, storing `stored` ([`plan`]), into
    /// `file` (empty, open for writing). Its sources are set
    /// once the day is read ([`DayWriter::set_sources`]).
    pub fn new(
        file: W,
        day: NaiveDate,
        columns: Vec<String>,
        stored: Vec<StoredColumn>,
    ) -> Result<DayWriter<W>, PushError> {
        let schema = arrow_schema(&stored, false);
        let io_error = Arc::default();
        let file = Kept {
            inner: file,
            error: Arc::clone(&io_error),
        };
        // No copy of the Arrow schema in the footer: readers get the same types from the
        // Parquet ones (a timestamp adjusted to UTC, Int64, strings), this one from the
        // metadata.
        let options = ArrowWriterOptions::new()
            .with_properties(props(&stored))
            .with_skip_arrow_metadata(true);
        let writer =
            ArrowWriter::try_new_with_options(file, schema.clone(), options).map_err(werr)?;
        let builders = stored
            .iter()
            .map(|c| match c.kind {
                Stored::Time => Builder::Time(
                    TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS).with_timezone("UTC"),
                ),
                Stored::Int => Builder::Int(Int64Builder::with_capacity(BATCH_ROWS)),
                Stored::Text | Stored::Raw(_) | Stored::MeterId => {
                    Builder::Text(StringBuilder::new())
                }
            })
            .collect();
        let digests = stored
            .iter()
            .map(|c| match c.kind {
                Stored::Time | Stored::Int => Digest::Int(IntDigest::default()),
                _ => Digest::Text(TextDigest::default()),
            })
            .collect();
        let typed = columns
            .iter()
            .map(|c| stored.iter().position(|s| &s.name == c))
            .collect();
        let raw = (0..columns.len())
            .map(|n| stored.iter().position(|s| s.kind == Stored::Raw(n)))
            .collect();
        let source_col = columns.iter().position(|c| c == "time_source");
        let date_col = columns.iter().position(|c| c == "DATE");
        let id_cols = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| crate::tic::labels::is_meter_id(c))
            .map(|(j, _)| j)
            .collect();
        let id_stored = stored.iter().position(|s| s.kind == Stored::MeterId);
        Ok(DayWriter {
            io_error,
            meta: ArchiveMeta {
                format: FORMAT,
                day,
                columns,
                stored,
                sources: Vec::new(),
                absorbed: Vec::new(),
                rows: 0,
                first: None,
                last: None,
                digests: Vec::new(),
                text_digest: 0,
                markers: Vec::new(),
                damage: Vec::new(),
            },
            schema,
            writer,
            builders,
            digests,
            typed,
            raw,
            source_col,
            date_col,
            id_cols,
            id_stored,
            text: RowsDigest::default(),
            n: 0,
            offsets: Offsets::default(),
            scratch: String::new(),
            cell_text: String::new(),
            needs: Vec::new(),
        })
    }

    /// The day columns the current row of `day` needs a raw column for that the plan lacks.
    pub fn needs(&mut self, day: &dyn Row) -> Vec<usize> {
        self.needs.clear();
        let _ = self.split(day, false);
        self.needs.clone()
    }

    /// Adds the current row of `day` (whose columns must be this writer's).
    pub fn push(&mut self, day: &dyn Row) -> Result<(), PushError> {
        // Check first, so that a row needing a raw column adds nothing.
        self.needs.clear();
        self.split(day, false)?;
        if let Some(&j) = self.needs.first() {
            return Err(PushError::NeedRaw(j));
        }
        self.split(day, true)?;
        let t = day.time();
        self.meta.rows += 1;
        self.meta.first.get_or_insert(t);
        self.meta.last = Some(t);
        self.n += 1;
        if self.n >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Splits the current row into stored values (appending them when `write`).
    fn split(&mut self, day: &dyn Row, write: bool) -> Result<(), PushError> {
        let t = day.time();
        let offset = day.offset();
        self.scratch.clear();
        day.push_time_text(&mut self.scratch);
        if write {
            self.text.cell(&self.scratch);
        }
        // time: the instant; `_time` when the text is not the one written at Paris's offset.
        let canonical = {
            let mut s = String::with_capacity(25);
            push_time(&mut s, t, self.offsets.at(t));
            s == self.scratch
        };
        if write {
            if let Builder::Time(b) = &mut self.builders[0] {
                b.append_value(t.saturating_mul(1_000_000));
            }
            if let Digest::Int(d) = &mut self.digests[0] {
                d.push(Some(t.saturating_mul(1_000_000)));
            }
        }
        self.raw_cell(
            0,
            (!canonical).then_some(self.scratch.clone()).as_deref(),
            write,
        )?;
        if let (Some(k), true) = (self.id_stored, write) {
            let id = self.id_cols.iter().find_map(|&j| match day.cell(j) {
                Cell::Text(s) if !s.is_empty() => Some(s.to_owned()),
                Cell::Int(v) => Some(v.to_string()),
                _ => None,
            });
            if let Builder::Text(b) = &mut self.builders[k] {
                b.append_option(id.as_deref());
            }
            if let Digest::Text(d) = &mut self.digests[k] {
                d.push(id.as_deref());
            }
        }
        for j in 1..self.meta.columns.len() {
            let cell = day.cell(j);
            if write {
                self.cell_text.clear();
                cell.push_to(&mut self.cell_text);
                self.text.cell(&self.cell_text);
            }
            if Some(j) == self.date_col {
                let degraded = self
                    .source_col
                    .is_some_and(|s| day.cell(s) == Cell::Text("meter-degraded"));
                let mut derived = String::with_capacity(13);
                let ok = push_horodate(&mut derived, t, offset, degraded);
                let raw = match cell {
                    Cell::Null => Some(String::new()),
                    Cell::Text(s) if ok && s == derived => None,
                    c => Some(c.text().into_owned()),
                };
                self.raw_cell(j, raw.as_deref(), write)?;
                continue;
            }
            let Some(k) = self.typed[j] else { continue };
            match self.meta.stored[k].kind {
                Stored::Int => {
                    let (v, raw) = match cell {
                        Cell::Null => (None, None),
                        Cell::Int(v) => (Some(v), None),
                        Cell::Text(s) => match canonical_int(s) {
                            Some(v) => (Some(v), None),
                            None => (None, Some(s)),
                        },
                    };
                    if write {
                        if let Builder::Int(b) = &mut self.builders[k] {
                            b.append_option(v);
                        }
                        if let Digest::Int(d) = &mut self.digests[k] {
                            d.push(v);
                        }
                    }
                    self.raw_cell(j, raw, write)?;
                }
                _ => {
                    let v = match cell {
                        Cell::Null => None,
                        Cell::Text(s) => Some(std::borrow::Cow::Borrowed(s)),
                        Cell::Int(v) => Some(std::borrow::Cow::Owned(v.to_string())),
                    };
                    if write {
                        if let Builder::Text(b) = &mut self.builders[k] {
                            b.append_option(v.as_deref());
                        }
                        if let Digest::Text(d) = &mut self.digests[k] {
                            d.push(v.as_deref());
                        }
                    }
                }
            }
        }
        if write {
            self.text.end_row();
        }
        Ok(())
    }

    /// The raw column of day column `j`: `value` (or null) when there is one; a value with
    /// no raw column is [`PushError::NeedRaw`].
    fn raw_cell(&mut self, j: usize, value: Option<&str>, write: bool) -> Result<(), PushError> {
        match self.raw[j] {
            Some(k) => {
                if write {
                    if let Builder::Text(b) = &mut self.builders[k] {
                        b.append_option(value);
                    }
                    if let Digest::Text(d) = &mut self.digests[k] {
                        d.push(value);
                    }
                }
                Ok(())
            }
            None if value.is_some() => {
                if write {
                    return Err(PushError::NeedRaw(j));
                }
                self.needs.push(j);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Notes `count` damaged rows skipped at this point of the stream, placed at `time`.
    pub fn damaged(&mut self, time: i64, count: u64) {
        self.meta.markers.push(Marker {
            before_row: self.meta.rows,
            time,
            count,
        });
    }

    /// The CSV files the archive covers and the sources it absorbed (see [`ArchiveMeta`]).
    pub fn set_sources(&mut self, sources: Vec<SourceFile>, absorbed: Vec<SourceFile>) {
        self.meta.sources = sources;
        self.meta.absorbed = absorbed;
    }

    /// The damaged rows of each source (from [`crate::store::DayReader::damage`], once read
    /// to its end).
    pub fn set_damage(&mut self, damage: Vec<Damage>) {
        self.meta.damage = damage;
    }

    fn flush(&mut self) -> Result<(), PushError> {
        if self.n == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Time(b) => Arc::new(b.finish()),
                    Builder::Int(b) => Arc::new(b.finish()),
                    Builder::Text(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(PushError::Arrow)?;
        let written = self.writer.write(&batch);
        written.map_err(|e| self.err(e))?;
        self.n = 0;
        Ok(())
    }

    /// Writes the footer with the archive's metadata; returns the metadata and the file (not
    /// yet fsynced). The day's summary is not in it (format 3): the archive job keeps it in
    /// the summary cache ([`super::summaries`]), and the periods dataset holds what the
    /// readers of closed days need.
    pub fn finish(mut self) -> Result<(ArchiveMeta, W), PushError> {
        self.flush()?;
        self.meta.digests = self
            .meta
            .stored
            .iter()
            .zip(&self.digests)
            .map(|(c, d)| {
                let v = match d {
                    Digest::Int(d) => d.value(),
                    Digest::Text(d) => d.value(),
                };
                (c.name.clone(), v)
            })
            .collect();
        self.meta.text_digest = self.text.value();
        // The large texts packed (zstd, then base64: still text): what a footer weighs.
        self.writer.append_key_value_metadata(KeyValue::new(
            META_KEY.to_owned(),
            packed::pack(&self.meta.to_json()),
        ));
        let io_error = Arc::clone(&self.io_error);
        let file = self
            .writer
            .into_inner()
            .map_err(|e| kept_or(&io_error, e))?;
        Ok((self.meta, file.inner))
    }

    fn err(&self, e: ParquetError) -> PushError {
        kept_or(&self.io_error, e)
    }
}

/// The file under the Parquet writer, keeping the first I/O error it met: parquet turns the
/// error of its last flush into text (`into_inner`: "fail to get inner writer: ..."), and a
/// full disk must stay an I/O error (`ENOSPC`) for the caller to tell an outage.
struct Kept<W> {
    inner: W,
    error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

impl<W: Write> Kept<W> {
    fn keep(&self, e: std::io::Error) -> std::io::Error {
        let copy = match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), e.to_string()),
        };
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        copy
    }
}

impl<W: Write> Write for Kept<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.keep(e))
    }
}

/// The I/O error kept under the writer, if any, else `e` as it is.
fn kept_or(kept: &std::sync::Mutex<Option<std::io::Error>>, e: ParquetError) -> PushError {
    let io = kept.lock().unwrap_or_else(|p| p.into_inner()).take();
    match io {
        Some(io) => PushError::Io(io),
        None => werr(e),
    }
}

/// Runs a step of the decoder, a panic in it being a garbled file.
fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(ReadError::Parquet {
            path: path.to_path_buf(),
            reason: "the Parquet decoder failed on it (garbled data)".to_owned(),
        }),
    }
}

/// Where an archived day's bytes are read from.
enum Data {
    /// The file, read when needed.
    File(File),
    /// Its bytes, read whole (through [`Fs`]).
    Memory(Bytes),
}

impl Data {
    fn footer(&self) -> Result<ParquetMetaData, ParquetError> {
        let reader = ParquetMetaDataReader::new();
        match self {
            Data::File(f) => reader.parse_and_finish(f),
            Data::Memory(b) => reader.parse_and_finish(b),
        }
    }

    fn all(&self, len: u64) -> Result<Bytes, ParquetError> {
        match self {
            Data::File(f) => ChunkReader::get_bytes(f, 0, len as usize),
            Data::Memory(b) => Ok(b.clone()),
        }
    }
}

/// An archived day's footer, validated.
pub struct ParquetDay {
    path: PathBuf,
    data: Data,
    len: u64,
    meta: ArchiveMeta,
    parquet: Arc<ParquetMetaData>,
}

impl ParquetDay {
    /// Opens `path` and reads its footer (nothing else).
    pub fn open(path: &Path) -> Result<ParquetDay, ReadError> {
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Self::with_data(path, Data::File(file), len)
    }

    /// Reads `path` whole through `fs` (the conversion's read-back of what it wrote, and its
    /// check of an archive before it removes the CSV files), and its footer.
    pub fn read_with(fs: &dyn Fs, path: &Path) -> Result<ParquetDay, ReadError> {
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = fs.open(path, Open::Read).map_err(io)?;
        let len = file.size().map_err(io)?;
        if len > MAX_FILE {
            return Err(bad(
                path,
                format!("{len} bytes: larger than any archived day"),
            ));
        }
        let mut buf = Vec::with_capacity(len as usize);
        file.read_to_end(&mut buf).map_err(io)?;
        let len = buf.len() as u64;
        Self::with_data(path, Data::Memory(Bytes::from(buf)), len)
    }

    fn with_data(path: &Path, data: Data, len: u64) -> Result<ParquetDay, ReadError> {
        let (meta, parquet) = guard(path, || {
            if len < 12 {
                return Err(bad(path, format!("{len} bytes: truncated")));
            }
            let parquet = data
                .footer()
                .map_err(|e| rerr(path, "cannot decode its footer", e))?;
            let meta = validate(&parquet, len).map_err(|e| match e {
                Invalid::Newer(found) => ReadError::NewerFormat {
                    path: path.to_path_buf(),
                    found,
                },
                Invalid::Bad(reason) => bad(path, reason),
                Invalid::Json(e) => undecodable(path, "its metadata is not JSON", e.into()),
            })?;
            Ok((meta, Arc::new(parquet)))
        })?;
        Ok(ParquetDay {
            path: path.to_path_buf(),
            data,
            len,
            meta,
            parquet,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty (never for a valid file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The archive's metadata.
    pub fn meta(&self) -> &ArchiveMeta {
        &self.meta
    }

    /// The day's summary its footer keeps ([`SUMMARY_KEY`]), if any (unpacked; none when it
    /// does not unpack: the reader then makes the summary again from the rows).
    pub fn summary(&self) -> Option<std::borrow::Cow<'_, str>> {
        packed::unpack(self.key_value(SUMMARY_KEY)?)
    }

    /// The value of key-value metadata `key`.
    fn key_value(&self, key: &str) -> Option<&str> {
        self.parquet
            .file_metadata()
            .key_value_metadata()?
            .iter()
            .find(|kv| kv.key == key)?
            .value
            .as_deref()
    }

    /// Bytes of the stored column `name` (compressed), over the row groups.
    pub fn column_bytes(&self, name: &str) -> Option<u64> {
        let i = self.meta.stored.iter().position(|c| c.name == name)?;
        Some(
            self.parquet
                .row_groups()
                .iter()
                .map(|rg| rg.column(i).compressed_size().max(0) as u64)
                .sum(),
        )
    }

    /// The rows of the day, reading the stored columns `wanted` needs.
    pub fn rows(&self, wanted: Columns<'_>) -> Result<ParquetRows, ReadError> {
        let m = &self.meta;
        let mut need = vec![false; m.stored.len()];
        need[0] = true;
        let index = |name: &str| m.stored.iter().position(|c| c.name == name);
        let raw_of = |j: usize| m.stored.iter().position(|c| c.kind == Stored::Raw(j));
        let mut access = Vec::with_capacity(m.columns.len());
        let source_col = index("time_source");
        for (j, c) in m.columns.iter().enumerate() {
            let raw = raw_of(j);
            let a = if j == 0 {
                Access::Time
            } else if !wanted.wants(c) {
                Access::Absent
            } else if c == "DATE" {
                if let Some(s) = source_col {
                    need[s] = true;
                }
                Access::Date { raw }
            } else {
                match index(c) {
                    Some(k) if m.stored[k].kind == Stored::Int => Access::Int { col: k, raw },
                    Some(k) => Access::Text { col: k },
                    None => Access::Absent,
                }
            };
            match a {
                Access::Int { col, .. } | Access::Text { col } => need[col] = true,
                _ => {}
            }
            if !matches!(a, Access::Absent) {
                if let Some(r) = raw {
                    need[r] = true;
                }
            }
            access.push(a);
        }
        let cols: Vec<usize> = (0..need.len()).filter(|&k| need[k]).collect();
        let schema = arrow_schema(&m.stored, true);
        // The whole file in memory (a day is well under a few MB), read here so that an I/O
        // error is one (the decoder's errors are text): decoding reads no file.
        if self.len > MAX_FILE {
            return Err(bad(
                &self.path,
                format!("{} bytes: larger than any archived day", self.len),
            ));
        }
        let data = self
            .data
            .all(self.len)
            .map_err(|e| rerr(&self.path, "cannot read its bytes", e))?;
        let path = &self.path;
        let reader = guard(path, || {
            let options = ArrowReaderOptions::new().with_schema(schema);
            let arm = ArrowReaderMetadata::try_new(self.parquet.clone(), options)
                .map_err(|e| rerr(path, "its schema does not decode", e))?;
            let mask = ProjectionMask::roots(
                arm.metadata().file_metadata().schema_descr(),
                cols.iter().copied(),
            );
            ParquetRecordBatchReaderBuilder::new_with_metadata(data, arm)
                .with_projection(mask)
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| rerr(path, "cannot decode its rows", e))
        })?;
        // Batch column position of each stored column read.
        let mut at = vec![None; m.stored.len()];
        for (i, &k) in cols.iter().enumerate() {
            at[k] = Some(i);
        }
        let time_raw = raw_of(0).and_then(|k| at[k]);
        let remap = |a: Access| match a {
            Access::Int { col, raw } => Access::Int {
                col: at[col].unwrap_or(0),
                raw: raw.and_then(|r| at[r]),
            },
            Access::Text { col } => Access::Text {
                col: at[col].unwrap_or(0),
            },
            Access::Date { raw } => Access::Date {
                raw: raw.and_then(|r| at[r]),
            },
            other => other,
        };
        let access: Vec<Access> = access.into_iter().map(remap).collect();
        let digests = cols
            .iter()
            .map(|&k| {
                let want = m
                    .digests
                    .iter()
                    .find(|(n, _)| *n == m.stored[k].name)
                    .map(|(_, d)| *d);
                let d = match m.stored[k].kind {
                    Stored::Time | Stored::Int => Digest::Int(IntDigest::default()),
                    _ => Digest::Text(TextDigest::default()),
                };
                (m.stored[k].name.clone(), want, d)
            })
            .collect();
        let damage = m
            .damage
            .iter()
            .map(|d| Damage {
                file: if d.file.contains(" (archived in ") {
                    d.file.clone()
                } else {
                    format!("{} (archived in {})", d.file, self.path.display())
                },
                count: d.count,
                first: d.first.clone(),
            })
            .collect();
        let markers = m
            .markers
            .iter()
            .map(|d| (d.before_row, d.time, d.count))
            .collect();
        let has_date = access.iter().any(|a| matches!(a, Access::Date { .. }));
        Ok(ParquetRows {
            path: self.path.clone(),
            reader: Some(reader),
            batch: Vec::new(),
            len: 0,
            i: 0,
            started: false,
            access,
            time_raw,
            source_col: source_col.and_then(|s| at[s]),
            rows: 0,
            want_rows: m.rows,
            digests,
            markers,
            ready: Vec::new(),
            damage,
            date: String::new(),
            has_date,
            offsets: Offsets::default(),
            offset: 0,
        })
    }
}

/// Checks a footer against the file and our metadata.
fn validate(p: &ParquetMetaData, len: u64) -> Result<ArchiveMeta, Invalid> {
    let fm = p.file_metadata();
    let text = fm
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == META_KEY))
        .and_then(|kv| kv.value.as_deref())
        .ok_or("no tic-rec metadata: not an archived day")?;
    if text.len() as u64 > MAX_FOOTER {
        return Err("metadata too large".into());
    }
    let text = packed::unpack(text).ok_or("the tic-rec metadata does not unpack")?;
    let meta = ArchiveMeta::from_json(&text)?;
    check_footer(p, len, meta).map_err(Invalid::Bad)
}

/// Checks a footer against the file and our metadata, once read.
fn check_footer(p: &ParquetMetaData, len: u64, meta: ArchiveMeta) -> Result<ArchiveMeta, String> {
    let fm = p.file_metadata();
    if meta.stored.first().map(|c| (c.name.as_str(), c.kind)) != Some(("time", Stored::Time)) {
        return Err("the first stored column is not time".into());
    }
    for (i, c) in meta.stored.iter().enumerate() {
        if meta.stored[..i].iter().any(|d| d.name == c.name) {
            return Err(format!("column {:?} twice", c.name));
        }
    }
    let descr = fm.schema_descr();
    if descr.num_columns() != meta.stored.len() {
        return Err(format!(
            "{} columns, the metadata says {}",
            descr.num_columns(),
            meta.stored.len()
        ));
    }
    for (i, c) in meta.stored.iter().enumerate() {
        let col = descr.column(i);
        use parquet::basic::Type;
        let want = match c.kind {
            Stored::Time | Stored::Int => Type::INT64,
            _ => Type::BYTE_ARRAY,
        };
        if col.name() != c.name || col.physical_type() != want || col.max_rep_level() != 0 {
            return Err(format!(
                "column {i} is not {:?} as the metadata says",
                c.name
            ));
        }
    }
    if fm.num_rows() < 0 || fm.num_rows() as u64 != meta.rows {
        return Err(format!(
            "{} rows, the metadata says {}",
            fm.num_rows(),
            meta.rows
        ));
    }
    let mut rows = 0i64;
    for rg in p.row_groups() {
        if rg.num_rows() < 0 || rg.num_columns() != meta.stored.len() {
            return Err("bad row group".into());
        }
        rows = rows.saturating_add(rg.num_rows());
        for c in rg.columns() {
            let (start, n) = c.byte_range();
            if start.checked_add(n).is_none_or(|end| end > len)
                || c.num_values() < 0
                || c.num_values() > rg.num_rows()
                || c.compressed_size() < 0
                || c.uncompressed_size() < 0
            {
                return Err(format!(
                    "column chunk {:?} lies outside the file",
                    c.column_path().string()
                ));
            }
            if c.uncompressed_size() > MAX_CHUNK {
                return Err(format!(
                    "column chunk {:?} claims {} bytes uncompressed, more than an archived day's \
                     chunk can hold ({MAX_CHUNK})",
                    c.column_path().string(),
                    c.uncompressed_size()
                ));
            }
        }
    }
    if rows as u64 != meta.rows {
        return Err("row groups do not add up to the rows".into());
    }
    Ok(meta)
}

#[derive(Clone, Copy, Debug)]
enum Access {
    Time,
    Absent,
    Int { col: usize, raw: Option<usize> },
    Text { col: usize },
    Date { raw: Option<usize> },
}

enum Col {
    Time(TimestampMicrosecondArray),
    Int(Int64Array),
    Dict(DictionaryArray<Int32Type>, StringArray),
}

impl Col {
    fn text(&self, i: usize) -> Option<&str> {
        match self {
            Col::Dict(keys, values) => {
                if keys.is_null(i) {
                    return None;
                }
                let k = usize::try_from(keys.keys().value(i)).ok()?;
                (k < values.len() && values.is_valid(k)).then(|| values.value(k))
            }
            _ => None,
        }
    }

    fn int(&self, i: usize) -> Option<i64> {
        match self {
            Col::Int(a) => a.is_valid(i).then(|| a.value(i)),
            Col::Time(a) => a.is_valid(i).then(|| a.value(i)),
            Col::Dict(..) => None,
        }
    }
}

/// The rows of an archived day, one at a time.
pub struct ParquetRows {
    path: PathBuf,
    reader: Option<ParquetRecordBatchReader>,
    batch: Vec<Col>,
    len: usize,
    i: usize,
    started: bool,
    access: Vec<Access>,
    time_raw: Option<usize>,
    source_col: Option<usize>,
    rows: u64,
    want_rows: u64,
    digests: Vec<(String, Option<u64>, Digest)>,
    markers: std::collections::VecDeque<(u64, i64, u64)>,
    ready: Vec<(i64, u64)>,
    damage: Vec<Damage>,
    date: String,
    has_date: bool,
    offsets: Offsets,
    offset: i32,
}

fn bad(path: &Path, reason: String) -> ReadError {
    ReadError::Parquet {
        path: path.to_path_buf(),
        reason,
    }
}

impl ParquetRows {
    /// The damaged rows skipped when the day was archived.
    pub fn damage(&self) -> Vec<Damage> {
        self.damage.clone()
    }

    /// Damaged-row markers due at this point: `(time, count)`.
    pub fn take_markers(&mut self) -> Vec<(i64, u64)> {
        std::mem::take(&mut self.ready)
    }

    fn due_markers(&mut self) {
        while self.markers.front().is_some_and(|m| m.0 <= self.rows) {
            if let Some((_, t, n)) = self.markers.pop_front() {
                self.ready.push((t, n));
            }
        }
    }

    fn load(&mut self) -> Result<bool, ReadError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(false);
        };
        let path = self.path.clone();
        let next = guard(&path, || match reader.next() {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(e)) => Err(undecodable(&path, "cannot decode its rows", e.into())),
        })?;
        let Some(b) = next else {
            self.reader = None;
            self.end()?;
            return Ok(false);
        };
        let mut cols = Vec::with_capacity(b.num_columns());
        for (k, a) in b.columns().iter().enumerate() {
            let c = match a.data_type() {
                DataType::Timestamp(_, _) => {
                    Col::Time(a.as_primitive::<TimestampMicrosecondType>().clone())
                }
                DataType::Int64 => Col::Int(a.as_primitive::<Int64Type>().clone()),
                DataType::Dictionary(_, _) => {
                    let d = a
                        .as_dictionary_opt::<Int32Type>()
                        .ok_or_else(|| bad(&path, "a text column is not a dictionary".into()))?;
                    let values = d
                        .values()
                        .as_string_opt::<i32>()
                        .ok_or_else(|| bad(&path, "a dictionary is not text".into()))?
                        .clone();
                    Col::Dict(d.clone(), values)
                }
                t => return Err(bad(&path, format!("unexpected column type {t}"))),
            };
            if let Some((_, _, d)) = self.digests.get_mut(k) {
                digest_col(d, &c);
            }
            cols.push(c);
        }
        if let Some(Col::Time(t)) = cols.first() {
            if t.null_count() > 0 {
                return Err(bad(&path, "a row without time".into()));
            }
        } else {
            return Err(bad(&path, "no time column".into()));
        }
        self.len = b.num_rows();
        self.batch = cols;
        self.i = 0;
        Ok(true)
    }

    /// At the end: every row read, every digest right.
    fn end(&mut self) -> Result<(), ReadError> {
        if self.rows != self.want_rows {
            return Err(bad(
                &self.path,
                format!(
                    "{} rows read, the metadata says {}",
                    self.rows, self.want_rows
                ),
            ));
        }
        for (name, want, d) in &self.digests {
            let got = match d {
                Digest::Int(d) => d.value(),
                Digest::Text(d) => d.value(),
            };
            if *want != Some(got) {
                return Err(bad(
                    &self.path,
                    format!("column {name:?} does not match its digest (damaged data)"),
                ));
            }
        }
        Ok(())
    }

    fn text_at(&self, col: usize, i: usize) -> Option<&str> {
        self.batch.get(col).and_then(|c| c.text(i))
    }

    /// Decodes every remaining batch (digests checked at the end) without visiting rows;
    /// returns the rows. The columnar full read.
    pub fn drain(mut self) -> Result<u64, ReadError> {
        loop {
            if !self.load()? {
                return Ok(self.rows);
            }
            self.rows += self.len as u64;
        }
    }

    /// Moves to the next row; `false` at the end (after checking the digests).
    pub fn advance(&mut self) -> Result<bool, ReadError> {
        if self.started {
            self.i += 1;
            self.rows += 1;
        } else {
            self.started = true;
        }
        self.due_markers();
        while self.i >= self.len {
            if !self.load()? {
                return Ok(false);
            }
        }
        let t = self.time();
        self.offset = match self.time_raw.and_then(|r| self.text_at(r, self.i)) {
            Some(raw) => parse_time(raw.as_bytes()).map_or(0, |(_, o)| o),
            None => self.offsets.at(t),
        };
        if self.has_date {
            self.fill_date(t);
        }
        Ok(true)
    }

    fn fill_date(&mut self, t: i64) {
        self.date.clear();
        let Some(Access::Date { raw }) = self
            .access
            .iter()
            .find(|a| matches!(a, Access::Date { .. }))
            .copied()
        else {
            return;
        };
        if let Some(r) = raw.and_then(|r| self.text_at(r, self.i)) {
            // "" (an empty cell) stays empty.
            let r = r.to_owned();
            self.date.push_str(&r);
            return;
        }
        let degraded = self
            .source_col
            .and_then(|s| self.text_at(s, self.i))
            .is_some_and(|s| s == "meter-degraded");
        push_horodate(&mut self.date, t, self.offset, degraded);
    }

    /// The current row's Unix time.
    pub fn time(&self) -> i64 {
        self.batch
            .first()
            .and_then(|c| c.int(self.i))
            .map_or(0, |us| us.div_euclid(1_000_000))
    }

    /// The offset of the current row's `time` cell.
    pub fn offset(&self) -> i32 {
        self.offset
    }

    /// Appends the current row's `time` cell.
    pub fn push_time_text(&self, out: &mut String) {
        match self.time_raw.and_then(|r| self.text_at(r, self.i)) {
            Some(raw) => out.push_str(raw),
            None => push_time(out, self.time(), self.offset),
        }
    }

    /// Day column `j` of the current row.
    pub fn cell(&self, j: usize) -> Cell<'_> {
        let i = self.i;
        match self.access.get(j) {
            Some(Access::Int { col, raw }) => match self.batch.get(*col).and_then(|c| c.int(i)) {
                Some(v) => Cell::Int(v),
                None => match raw.and_then(|r| self.text_at(r, i)) {
                    Some(s) if !s.is_empty() => Cell::Text(s),
                    _ => Cell::Null,
                },
            },
            Some(Access::Text { col }) => match self.text_at(*col, i) {
                Some(s) if !s.is_empty() => Cell::Text(s),
                _ => Cell::Null,
            },
            Some(Access::Date { .. }) if !self.date.is_empty() => Cell::Text(&self.date),
            _ => Cell::Null,
        }
    }
}

fn digest_col(d: &mut Digest, c: &Col) {
    match (d, c) {
        (Digest::Int(d), Col::Time(a)) => digest_ints(d, a),
        (Digest::Int(d), Col::Int(a)) => digest_ints(d, a),
        (Digest::Text(d), Col::Dict(keys, values)) => {
            let k = keys.keys();
            let mut i = 0;
            while i < k.len() {
                let mut j = i + 1;
                while j < k.len()
                    && keys.is_valid(i) == keys.is_valid(j)
                    && k.value(i) == k.value(j)
                {
                    j += 1;
                }
                let v = if keys.is_valid(i) {
                    usize::try_from(k.value(i))
                        .ok()
                        .filter(|&x| x < values.len())
                        .map(|x| values.value(x))
                } else {
                    None
                };
                d.push_run(v, (j - i) as u64);
                i = j;
            }
        }
        _ => {}
    }
}

fn digest_ints<T: arrow_array::ArrowPrimitiveType<Native = i64>>(
    d: &mut IntDigest,
    a: &PrimitiveArray<T>,
) {
    if a.null_count() == 0 {
        d.push_all(a.values());
    } else {
        for i in 0..a.len() {
            d.push(a.is_valid(i).then(|| a.value(i)));
        }
    }
}

/// Decodes every stored column of an archived day into Arrow arrays, checking their digests;
/// returns the rows.
pub fn decode_all(path: &Path) -> Result<u64, ReadError> {
    ParquetDay::open(path)?.rows(Columns::All)?.drain()
}

/// Checks a whole archived day: every column read to its end (digests), every cell's text
/// against the digest of the CSV's text. Returns the rows.
pub fn check(path: &Path) -> Result<u64, ReadError> {
    check_day(&ParquetDay::open(path)?)
}

/// [`check`] of a day already open.
pub fn check_day(day: &ParquetDay) -> Result<u64, ReadError> {
    let path = day.path();
    let meta = day.meta().clone();
    let mut rows = day.rows(Columns::All)?;
    let mut text = RowsDigest::default();
    let mut s = String::new();
    let mut n = 0u64;
    while rows.advance()? {
        s.clear();
        rows.push_time_text(&mut s);
        text.cell(&s);
        for j in 1..meta.columns.len() {
            s.clear();
            rows.cell(j).push_to(&mut s);
            text.cell(&s);
        }
        text.end_row();
        n += 1;
    }
    if text.value() != meta.text_digest {
        return Err(bad(
            path,
            "its cells do not give back the text they were archived from".into(),
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::compact::{compact_day, NoSummary, Options};

    fn texts(path: &Path) -> Result<Vec<String>, ReadError> {
        let day = ParquetDay::open(path)?;
        let n = day.meta().columns.len();
        let mut rows = day.rows(Columns::All)?;
        let mut out = Vec::new();
        while rows.advance()? {
            let mut s = String::new();
            rows.push_time_text(&mut s);
            for j in 1..n {
                s.push('|');
                rows.cell(j).push_to(&mut s);
            }
            out.push(s);
        }
        Ok(out)
    }

    /// `text` as the CSV file of `day` in a new data directory, archived: the directory and
    /// the Parquet file.
    fn archived(day: NaiveDate, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = super::super::layout::day_file(dir.path(), day, 0);
        std::fs::create_dir_all(path.parent().expect("month")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        let files = super::super::catalog::day_files(dir.path(), day).expect("files");
        compact_day(day, &files, &Options::default(), &mut NoSummary).expect("compact");
        let pq = super::super::layout::parquet_file(dir.path(), day);
        (dir, pq)
    }

    /// The file at `path` with its footer rewritten: every column chunk claims `size` bytes
    /// uncompressed.
    fn claiming(path: &Path, size: i64) -> Vec<u8> {
        use parquet::file::metadata::ParquetMetaDataWriter;
        let bytes = std::fs::read(path).expect("read");
        let md = ParquetMetaDataReader::new()
            .parse_and_finish(&File::open(path).expect("open"))
            .expect("footer");
        let groups = md
            .row_groups()
            .iter()
            .map(|rg| {
                let cols = rg
                    .columns()
                    .iter()
                    .map(|c| {
                        c.clone()
                            .into_builder()
                            .set_total_uncompressed_size(size)
                            .build()
                            .expect("chunk")
                    })
                    .collect();
                rg.clone()
                    .into_builder()
                    .set_column_metadata(cols)
                    .build()
                    .expect("row group")
            })
            .collect();
        let md = md.into_builder().set_row_groups(groups).build();
        let n = bytes.len();
        let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().expect("4 bytes")) as usize;
        let mut out = bytes[..n - 8 - footer].to_vec();
        ParquetMetaDataWriter::new(&mut out, &md)
            .finish()
            .expect("write footer");
        out
    }

    /// A footer whose column chunk claims a huge uncompressed size (the decoder would
    /// allocate it: a 1 GB Raspberry Pi runs out of memory) is refused, naming the file. A
    /// day's chunk is well under 1 MB.
    #[test]
    fn a_chunk_claiming_a_huge_size_is_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        let (_dir, path) = archived(
            day,
            "time,time_source,EAST\n2026-05-01T00:00:00+02:00,meter,1\n",
        );
        let fine = claiming(&path, 1 << 20);
        let huge = claiming(&path, 100 << 20);
        std::fs::write(&path, fine).expect("write");
        texts(&path).expect("a chunk of 1 MiB is read");
        std::fs::write(&path, huge).expect("write");
        let e = ParquetDay::open(&path).err().expect("refused");
        let msg = e.to_string();
        assert!(e.is_garbled_archive(), "{e:?}");
        assert!(
            msg.contains("2026-05-01.parquet") && msg.contains("uncompressed"),
            "{msg}"
        );
    }

    /// A full disk under the writer is an I/O error (`ENOSPC`), not an encoder failure, so
    /// that the archive's caller can tell an outage (found by the power-cut model: the
    /// footer's flush failed as "fail to get inner writer: ...", the error as text).
    #[test]
    fn a_full_disk_while_writing_is_an_io_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from_raw_os_error(28))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let day = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        let columns: Vec<String> = ["time", "time_source", "EAST"].map(String::from).to_vec();
        let w = DayWriter::new(Full, day, columns.clone(), plan(&columns, &[])).expect("new");
        let e = w.finish().err().expect("the disk is full");
        assert_eq!(
            e.io_error().and_then(|e| e.raw_os_error()),
            Some(28),
            "{e:?}"
        );
    }

    /// An I/O error under the Parquet decoder stays one (the caller must not take the file
    /// for garbled and read the CSV files instead); other decoder errors are garbled bytes.
    #[test]
    fn io_errors_stay_io_errors() {
        let eio = || ParquetError::External(Box::new(std::io::Error::from_raw_os_error(5)));
        let path = Path::new("2026-05-01.parquet");
        match rerr(path, "footer", eio()) {
            ReadError::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(5)),
            e => panic!("{e:?}"),
        }
        let e = rerr(path, "footer", ParquetError::EOF("short".into()));
        assert!(e.is_garbled_archive(), "{e:?}");
        let e = rerr(path, "footer", ParquetError::External("other".into()));
        assert!(e.is_garbled_archive(), "{e:?}");
        assert_eq!(
            werr(eio()).io_error().and_then(|e| e.raw_os_error()),
            Some(5)
        );
        assert!(matches!(
            werr(ParquetError::General("x".into())),
            PushError::Parquet(_)
        ));
    }

    /// Truncated, overwritten and zeroed bytes anywhere in an archived day: an error naming
    /// the file, or (a byte nothing depends on) the very same cells; never a panic.
    #[test]
    fn damaged_files_are_errors_never_other_values() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).expect("date");
        let mut text = String::from("time,time_source,DATE,ADSC,LTARF,EAST,SINSTS\n");
        let t0 = 1_774_738_800; // 2026-03-29T00:00:00+01:00
        for i in 0..20_000i64 {
            let t = t0 + 4 * i;
            let off = super::paris_offset(t);
            let mut time = String::new();
            push_time(&mut time, t, off);
            let mut date = String::new();
            push_horodate(&mut date, t, off, false);
            text += &format!(
                "{time},meter,{date},041876097171,{},{},{}\n",
                if i % 5000 < 2500 { "HC" } else { "HP" },
                1_000_000 + i / 3,
                300 + (i * 7919) % 97
            );
        }
        let (dir, path) = archived(day, &text);
        let good = texts(&path).expect("good");
        let full = std::fs::read(&path).expect("read");
        let bad_path = dir.path().join("2026-03-29.parquet");
        let mut rng = fastrand::Rng::with_seed(1);
        let (mut errors, mut same, mut panics) = (0, 0, 0);
        for round in 0..300 {
            let mut b = full.clone();
            match round % 3 {
                0 => b.truncate(rng.usize(0..full.len())),
                1 => {
                    let at = rng.usize(0..full.len());
                    for x in b.iter_mut().skip(at).take(rng.usize(1..32)) {
                        *x = rng.u8(..);
                    }
                }
                _ => {
                    let at = rng.usize(0..full.len());
                    for x in b.iter_mut().skip(at).take(rng.usize(1..4096)) {
                        *x = 0;
                    }
                }
            }
            std::fs::write(&bad_path, &b).expect("write");
            match texts(&bad_path) {
                Ok(t) => {
                    assert!(t == good, "round {round}: other values");
                    same += 1;
                }
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains("2026-03-29.parquet"), "{msg}");
                    if msg.contains("decoder failed") {
                        panics += 1;
                    }
                    errors += 1;
                }
            }
        }
        eprintln!("{errors} errors ({panics} caught decoder panics), {same} unchanged");
        assert!(errors > 200, "{errors}");
    }
}
