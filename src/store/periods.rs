//! The periods dataset's files: `<data-dir>/periods/YYYY/YYYY-MM.parquet`, one a month, the
//! folder holding nothing else. What a row says is the caller's (the export's
//! [`crate::export::dataset`]): the store keeps its rows (one Arrow batch of the caller's
//! schema) and two texts in the footer that it does not read, packed: what the rows were
//! made from (key [`META_KEY`], read by every reader) and what else the caller keeps of the
//! month's days (key [`EXTRA_KEY`], unpacked only when asked for: [`PeriodsMonth::extra`]).
//!
//! ## Durability
//! A month file is rewritten whole: written aside in `.tic-rec-tmp/`, fsynced, renamed over
//! `periods/YYYY/YYYY-MM.parquet` (its directories created first, each new one's parent
//! fsynced), its directory fsynced. Readers see the old file or the new one, whole; a crash
//! or a power cut at any point leaves one or the other (and maybe a temporary file that no
//! reader reads and the next write of a month removes). Nothing else is kept in the folder,
//! so every engine can be pointed at it while the recorder writes.
//!
//! ## Format
//! zstd, chunk statistics, one row group, no copy of the Arrow schema (readers get it from
//! the Parquet types: timestamps adjusted to UTC, dates, strings, Int64). A file is read
//! whole (at most [`MAX_FILE`]), or only its footer when the caller's text says the rows are
//! not needed ([`read_if`]: the last 64 KiB first, the rest only for a longer footer); a
//! garbled one is an error naming it, never other rows.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::metadata::{KeyValue, ParquetStatisticsPolicy};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::error::{DecodeError, ReadError, StoreError};
use super::fs::{create_dirs, parent_of, Failed, Fs, Open};
use super::layout::{parse_periods_name, periods_dir, periods_file, temp_dir};
use super::packed;

/// The footer key of the caller's text.
pub const META_KEY: &str = "tic-rec.periods";
/// The footer key of the caller's other text (the day summaries).
pub const EXTRA_KEY: &str = "tic-rec.periods.days";
/// A month file larger than this is not one of ours (a month of hours is well under 1 MB).
pub const MAX_FILE: u64 = 64 << 20;

/// The month file of `year`-`month` under `dir`: `<dir>/periods/YYYY/YYYY-MM.parquet`.
pub fn month_path(dir: &Path, year: i32, month: u32) -> PathBuf {
    periods_file(dir, year, month)
}

/// A month file, read.
#[derive(Debug)]
pub struct PeriodsMonth {
    /// Its path.
    pub path: PathBuf,
    /// Its rows (the caller's schema).
    pub batches: Vec<RecordBatch>,
    /// The caller's text, unpacked.
    pub meta: Option<String>,
    /// The caller's other text, as stored (packed).
    extra: Option<String>,
}

impl PeriodsMonth {
    /// The caller's other text ([`EXTRA_KEY`]), unpacked; `None` when there is none or it
    /// does not unpack.
    pub fn extra(&self) -> Option<String> {
        packed::unpack(self.extra.as_deref()?).map(|t| t.into_owned())
    }
}

/// The month files under `dir`: `(year, month, path)`, in order. A missing `periods/` holds
/// none; a file of another name is not one.
pub fn months(dir: &Path) -> Result<Vec<(i32, u32, PathBuf)>, ReadError> {
    let base = periods_dir(dir);
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadError::Dir { path, source }
    };
    let years = match std::fs::read_dir(&base) {
        Ok(y) => y,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(&base)(e)),
    };
    let mut out = Vec::new();
    for year in years {
        let year = year.map_err(err(&base))?;
        let ypath = year.path();
        if !year.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let files = match std::fs::read_dir(&ypath) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(err(&ypath)(e)),
        };
        for f in files {
            let f = f.map_err(err(&ypath))?;
            let name = f.file_name();
            let Some((y, m)) = name.to_str().and_then(parse_periods_name) else {
                continue;
            };
            // Only where the store puts it.
            if year.file_name().to_str() == Some(&format!("{y:04}")) {
                out.push((y, m, f.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a file's chunk statistics say of a whole column, so that it need not be decoded.
#[derive(Clone, Debug, PartialEq)]
enum Known {
    /// Every value is null (a meter's file has no value for the other mode's indexes).
    Null,
    /// Every value is this integer (an index that did not move all month, a cadence that
    /// did not change).
    Int(i64),
    /// Every value is this text (the contract, no flag).
    Text(String),
}

/// What the chunks' statistics of the column `name` say of all its values, when they say
/// enough: every chunk has statistics with a null count, and either every value is null,
/// or none is and each chunk's exact minimum and maximum are one value, the same in every
/// chunk. Only for the Arrow types `Int64` and `Utf8` (`want`): a column read as another
/// type, or stored as another physical type, is decoded.
fn known(
    meta: &parquet::file::metadata::ParquetMetaData,
    name: &str,
    want: &arrow_schema::DataType,
) -> Option<Known> {
    use arrow_schema::DataType;
    use parquet::file::statistics::Statistics;
    let schema = meta.file_metadata().schema_descr();
    let i = schema.columns().iter().position(|c| c.name() == name)?;
    let mut out: Option<Known> = None;
    for g in meta.row_groups() {
        let s = g.column(i).statistics()?;
        let nulls = i64::try_from(s.null_count_opt()?).ok()?;
        let this = if nulls == g.num_rows() {
            Known::Null
        } else if nulls != 0 || !s.min_is_exact() || !s.max_is_exact() {
            return None;
        } else {
            match (s, want) {
                (Statistics::Int64(v), DataType::Int64) if v.min_opt()? == v.max_opt()? => {
                    Known::Int(*v.min_opt()?)
                }
                (Statistics::ByteArray(v), DataType::Utf8) if v.min_opt()? == v.max_opt()? => {
                    Known::Text(std::str::from_utf8(v.min_opt()?.data()).ok()?.to_owned())
                }
                _ => return None,
            }
        };
        match &out {
            Some(o) if *o != this => return None,
            _ => out = Some(this),
        }
    }
    out
}

/// `batch` with the columns of `schema` named in `names`, in the schema's order: those it
/// lacks (not decoded) made from what the statistics said of them (`known`).
fn with_known(
    batch: &RecordBatch,
    schema: &SchemaRef,
    names: &[&str],
    known: &[(&str, Known)],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let rows = batch.num_rows();
    let mut fields = Vec::with_capacity(names.len());
    let mut columns = Vec::with_capacity(names.len());
    for f in schema
        .fields()
        .iter()
        .filter(|f| names.contains(&f.name().as_str()))
    {
        let made =
            known
                .iter()
                .find(|(n, _)| *n == f.name())
                .map(|(_, k)| -> arrow_array::ArrayRef {
                    match k {
                        Known::Null => arrow_array::new_null_array(f.data_type(), rows),
                        Known::Int(v) => {
                            std::sync::Arc::new(arrow_array::Int64Array::from_value(*v, rows))
                        }
                        Known::Text(t) => {
                            std::sync::Arc::new(arrow_array::StringArray::new_repeated(t, rows))
                        }
                    }
                });
        columns.push(match (made, batch.column_by_name(f.name())) {
            (Some(c), _) => c,
            (None, Some(c)) => c.clone(),
            (None, None) => arrow_array::new_null_array(f.data_type(), rows),
        });
        fields.push(f.clone());
    }
    RecordBatch::try_new_with_options(
        std::sync::Arc::new(arrow_schema::Schema::new(fields)),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

fn garbled(path: &Path, reason: impl std::fmt::Display) -> ReadError {
    ReadError::Periods {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads the month file at `path` whole, its rows read as `schema` (whose types the file's
/// must give). `Ok(None)` when there is none.
pub fn read(path: &Path, schema: &SchemaRef) -> Result<Option<PeriodsMonth>, ReadError> {
    read_only(path, schema, None)
}

/// [`read`], only the columns named in `columns` (when given): the batches hold those, in
/// the schema's order, one batch a row group. A column whose chunks' statistics say what
/// every value is (all null: a meter's file has no value for the other mode's indexes; or
/// one integer or text, exactly: an index that did not move, the contract) is not
/// decoded: it comes back as an array of that value, at no decoding cost.
pub fn read_only(
    path: &Path,
    schema: &SchemaRef,
    columns: Option<&[&str]>,
) -> Result<Option<PeriodsMonth>, ReadError> {
    let Some(data) = read_bytes(path)? else {
        return Ok(None);
    };
    decode(path, data, schema, columns).map(Some)
}

/// [`read_only`], its rows decoded only when `rows_needed` says so, given the caller's text
/// (unpacked) first: when it does not, the month comes back with no batch, its footer read
/// without a column's statistics (what the caller keeps beside the rows is all it needs).
pub fn read_if(
    path: &Path,
    schema: &SchemaRef,
    columns: &[&str],
    rows_needed: impl FnOnce(Option<&str>) -> bool,
) -> Result<Option<PeriodsMonth>, ReadError> {
    let Some((tail, whole)) = read_tail(path)? else {
        return Ok(None);
    };
    let footer = match footer_of(path, &tail)? {
        Some(f) => f,
        // A footer longer than the tail read: the file read whole.
        None => match read_bytes(path)? {
            Some(all) => footer_of(path, &all)?
                .ok_or_else(|| garbled(path, "its footer is longer than the file"))?,
            None => return Ok(None),
        },
    };
    let kv = |key: &str| key_value(&footer, key);
    let (meta, extra) = (unpacked(path, kv(META_KEY))?, kv(EXTRA_KEY));
    if rows_needed(meta.as_deref()) {
        // The bytes read already when they are the whole file.
        if whole {
            return decode(path, bytes::Bytes::from(tail), schema, Some(columns)).map(Some);
        }
        return read_only(path, schema, Some(columns));
    }
    Ok(Some(PeriodsMonth {
        path: path.to_path_buf(),
        batches: Vec::new(),
        meta,
        extra,
    }))
}

/// The footer of the file `path` ending with `tail` (its last bytes), decoded without a
/// column's statistics; `None` when it begins before `tail`.
fn footer_of(
    path: &Path,
    tail: &[u8],
) -> Result<Option<parquet::file::metadata::ParquetMetaData>, ReadError> {
    use parquet::file::metadata::{FooterTail, ParquetMetaDataOptions, ParquetMetaDataReader};
    // The decoder is guarded against panics on garbled input, as the archive's reader is.
    let footer = std::panic::catch_unwind(|| {
        let n = tail.len();
        let end: &[u8; 8] = tail
            .get(n.saturating_sub(8)..)
            .and_then(|t| t.try_into().ok())
            .ok_or_else(|| parquet::errors::ParquetError::EOF("no footer".into()))?;
        let length = FooterTail::try_new(end)?.metadata_length();
        let Some(meta) = n.checked_sub(8 + length).map(|a| &tail[a..n - 8]) else {
            return Ok(None);
        };
        let options = ParquetMetaDataOptions::new()
            .with_column_stats_policy(ParquetStatisticsPolicy::SkipAll)
            .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll)
            .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll);
        ParquetMetaDataReader::decode_metadata_with_options(meta, Some(&options)).map(Some)
    });
    match footer {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(ReadError::PeriodsUndecodable {
            path: path.to_path_buf(),
            what: "cannot decode its footer",
            source: e.into(),
        }),
        Err(_) => Err(garbled(path, "the decoder failed on its bytes")),
    }
}

/// The bytes [`read_if`] reads first: a file's footer and what precedes it, up to this.
const TAIL: u64 = 64 << 10;

/// The last [`TAIL`] bytes of the file at `path` (all of a smaller one), and whether they
/// are all of it; `None` when there is none.
fn read_tail(path: &Path) -> Result<Option<(Vec<u8>, bool)>, ReadError> {
    use std::os::unix::fs::FileExt;
    let Some((f, len)) = open_sized(path)? else {
        return Ok(None);
    };
    let n = len.min(TAIL);
    let mut tail = vec![0; usize::try_from(n).unwrap_or(0)];
    f.read_exact_at(&mut tail, len - n).map_err(io(path))?;
    Ok(Some((tail, n == len)))
}

/// The bytes of the file at `path` (at most [`MAX_FILE`]); `None` when there is none.
fn read_bytes(path: &Path) -> Result<Option<bytes::Bytes>, ReadError> {
    let Some((mut f, len)) = open_sized(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.read_to_end(&mut bytes).map_err(io(path))?;
    Ok(Some(bytes::Bytes::from(bytes)))
}

/// The file at `path`, open, and its length (at most [`MAX_FILE`]: a larger one is not one of
/// ours); `None` when there is none.
fn open_sized(path: &Path) -> Result<Option<(std::fs::File, u64)>, ReadError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io(path)(source)),
    };
    let len = f.metadata().map_err(io(path))?.len();
    if len > MAX_FILE {
        return Err(garbled(
            path,
            format!("{len} bytes, more than a month file holds"),
        ));
    }
    Ok(Some((f, len)))
}

/// An I/O error on the file at `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The value of the footer key `key`, as stored.
fn key_value(meta: &parquet::file::metadata::ParquetMetaData, key: &str) -> Option<String> {
    meta.file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == key))
        .and_then(|k| k.value.clone())
}

/// The caller's text as stored, unpacked; an error naming the file when it does not unpack.
fn unpacked(path: &Path, stored: Option<String>) -> Result<Option<String>, ReadError> {
    match stored {
        Some(m) => Ok(Some(
            packed::unpack(&m)
                .ok_or_else(|| garbled(path, "its footer text does not unpack"))?
                .into_owned(),
        )),
        None => Ok(None),
    }
}

/// The month file `path` from its bytes `data`: see [`read_only`].
fn decode(
    path: &Path,
    data: bytes::Bytes,
    schema: &SchemaRef,
    columns: Option<&[&str]>,
) -> Result<PeriodsMonth, ReadError> {
    // The decoder is guarded against panics on garbled input, as the archive's reader is.
    let decoded = std::panic::catch_unwind(|| -> Result<_, (&'static str, DecodeError)> {
        let footer = |e: parquet::errors::ParquetError| ("cannot decode its footer", e.into());
        // Statistics no reader of ours uses are not decoded: pages' encodings and sizes,
        // and the chunk statistics of the columns not asked for.
        let mut options = ArrowReaderOptions::new()
            .with_schema(schema.clone())
            .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll)
            .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll);
        if let Some(names) = columns {
            let asked: Vec<usize> = (0..schema.fields().len())
                .filter(|&i| names.contains(&schema.field(i).name().as_str()))
                .collect();
            options =
                options.with_column_stats_policy(ParquetStatisticsPolicy::skip_except(&asked));
        }
        let mut b =
            ParquetRecordBatchReaderBuilder::try_new_with_options(data, options).map_err(footer)?;
        let mut made: Vec<(&str, Known)> = Vec::new();
        if let Some(names) = columns {
            made = names
                .iter()
                .filter_map(|&n| {
                    let want = schema.field_with_name(n).ok()?.data_type();
                    Some((n, known(b.metadata(), n, want)?))
                })
                .collect();
            let decoded = names
                .iter()
                .copied()
                .filter(|n| !made.iter().any(|(m, _)| m == n));
            let mask = ProjectionMask::columns(b.parquet_schema(), decoded);
            // One batch a row group (a month file has one).
            b = b.with_projection(mask).with_batch_size(1 << 20);
        }
        let (meta, extra) = (
            key_value(b.metadata(), META_KEY),
            key_value(b.metadata(), EXTRA_KEY),
        );
        let batches = b
            .build()
            .map_err(footer)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ("cannot decode its rows", e.into()))?;
        let batches = match columns {
            Some(names) if !made.is_empty() => batches
                .iter()
                .map(|b| with_known(b, schema, names, &made))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ("cannot decode its rows", e.into()))?,
            _ => batches,
        };
        Ok((batches, meta, extra))
    });
    let (batches, meta, extra) = match decoded {
        Ok(Ok(v)) => v,
        Ok(Err((what, source))) => {
            return Err(ReadError::PeriodsUndecodable {
                path: path.to_path_buf(),
                what,
                source,
            })
        }
        Err(_) => return Err(garbled(path, "the decoder failed on its bytes")),
    };
    Ok(PeriodsMonth {
        path: path.to_path_buf(),
        batches,
        meta: unpacked(path, meta)?,
        extra,
    })
}

fn failed(f: Failed) -> StoreError {
    StoreError::Io {
        op: f.op,
        path: f.path,
        source: f.source,
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes the month file of `year`-`month` under `dir`: `batch`'s rows, and `meta` and
/// `extra` (packed) in its footer, durably (see the module docs). Returns its length.
pub fn write(
    fs: &dyn Fs,
    dir: &Path,
    (year, month): (i32, u32),
    batch: &RecordBatch,
    meta: &str,
    extra: &str,
) -> Result<u64, StoreError> {
    let target = periods_file(dir, year, month);
    let temps = temp_dir(dir);
    create_dirs(fs, &temps).map_err(failed)?;
    let temp = temps.join(format!(
        ".{year:04}-{month:02}.parquet.tmp-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let io = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { op, path, source }
    };
    let mut bytes = Vec::new();
    encode(&mut bytes, batch, meta, extra).map_err(|e| StoreError::Io {
        op: "cannot encode",
        path: target.clone(),
        source: std::io::Error::other(e),
    })?;
    let written = (|| -> Result<(), StoreError> {
        let mut f = fs
            .open(&temp, Open::CreateNew)
            .map_err(io("cannot create", &temp))?;
        f.write_all(&bytes).map_err(io("cannot write", &temp))?;
        f.sync_all().map_err(io("cannot fsync", &temp))?;
        drop(f);
        let target_dir = parent_of(&target).to_path_buf();
        create_dirs(fs, &target_dir).map_err(failed)?;
        fs.rename(&temp, &target)
            .map_err(io("cannot rename to", &target))?;
        fs.sync_dir(&target_dir)
            .map_err(io("cannot fsync directory", &target_dir))
    })();
    if written.is_err() {
        let _ = fs.remove_file(&temp);
    }
    written?;
    Ok(bytes.len() as u64)
}

/// Removes the month file of `year`-`month` under `dir` (a month with no closed day left),
/// durably. Nothing to do when there is none.
pub fn remove(fs: &dyn Fs, dir: &Path, (year, month): (i32, u32)) -> Result<(), StoreError> {
    let target = periods_file(dir, year, month);
    match fs.remove_file(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StoreError::Io {
                op: "cannot remove",
                path: target,
                source,
            })
        }
    }
    let d = parent_of(&target);
    fs.sync_dir(d).map_err(|source| StoreError::Io {
        op: "cannot fsync directory",
        path: d.to_path_buf(),
        source,
    })
}

/// Removes the temporary files of month writes a crash left in `.tic-rec-tmp/` (the caller
/// holds the directory's lock: no write runs). Best effort.
pub fn remove_stale_temps(fs: &dyn Fs, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(temp_dir(dir)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let month_temp = name.len() > 9
            && name.starts_with('.')
            && name[1..]
                .split_once(".parquet.tmp-")
                .is_some_and(|(stem, _)| parse_periods_name(&format!("{stem}.parquet")).is_some());
        if month_temp {
            let _ = fs.remove_file(&e.path());
        }
    }
}

fn encode(out: &mut Vec<u8>, batch: &RecordBatch, meta: &str, extra: &str) -> Result<(), String> {
    let props = WriterProperties::builder()
        // Snappy: a month file is small, and zstd's per-column set-up would cost an export
        // more than the bytes it saves (a year of month files decodes ~8x faster).
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_offset_index_disabled(true)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by(format!("tic-rec {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_KEY.to_owned(), packed::pack(meta)),
            KeyValue::new(EXTRA_KEY.to_owned(), packed::pack(extra)),
        ]))
        .build();
    let options = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    let mut w = ArrowWriter::try_new_with_options(out, batch.schema(), options)
        .map_err(|e| e.to_string())?;
    w.write(batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::testing::{in_order, Op, Probe};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
        use arrow_schema::{DataType, Field, Schema, TimeUnit};
        let schema = Arc::new(Schema::new(vec![
            Field::new("meter_id", DataType::Utf8, true),
            Field::new(
                "period_start",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("total_wh", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("041876097171"); 3])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![0, 3_600_000_000, 7_200_000_000])
                        .with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from(vec![Some(12), None, Some(7)])),
            ],
        )
        .expect("batch")
    }

    /// Columns asked for whose every value the statistics give (all null, one integer, one
    /// text) come back as arrays of that value (not decoded); the others as written (a
    /// column with a null among equal values, with different values, or of a type the
    /// statistics are not used for); all in the schema's order, whole.
    #[test]
    fn columns_the_statistics_give_are_not_decoded() {
        use arrow_array::{Array, Float64Array, Int64Array, StringArray};
        use arrow_schema::{DataType, Field, Schema};
        let d = tempfile::tempdir().expect("tempdir");
        let b = batch();
        let mut fields: Vec<_> = b.schema().fields().iter().cloned().collect();
        let mut columns = b.columns().to_vec();
        let extra: Vec<(&str, DataType, arrow_array::ArrayRef)> = vec![
            (
                "hc_wh",
                DataType::Int64,
                Arc::new(Int64Array::from(vec![None::<i64>; 3])),
            ),
            (
                "hp_wh",
                DataType::Int64,
                Arc::new(Int64Array::from(vec![0i64; 3])),
            ),
            (
                "records",
                DataType::Int64,
                Arc::new(Int64Array::from(vec![Some(360), None, Some(360)])),
            ),
            (
                "max_gap_s",
                DataType::Int64,
                Arc::new(Int64Array::from(vec![-10i64; 3])),
            ),
            (
                "coverage",
                DataType::Float64,
                Arc::new(Float64Array::from(vec![1.0; 3])),
            ),
            (
                "contract",
                DataType::Utf8,
                Arc::new(StringArray::from(vec!["HC/HP"; 3])),
            ),
            (
                "flags",
                DataType::Utf8,
                Arc::new(StringArray::from(vec![""; 3])),
            ),
            (
                "mode",
                DataType::Utf8,
                Arc::new(StringArray::from(vec!["a", "b", "a"])),
            ),
        ];
        for (name, t, c) in extra {
            fields.push(Arc::new(Field::new(name, t, true)));
            columns.push(c);
        }
        let schema = Arc::new(Schema::new(fields));
        let b = RecordBatch::try_new(schema.clone(), columns).expect("batch");
        write(&crate::store::fs::RealFs, d.path(), (2026, 3), &b, "m", "e").expect("write");
        let path = d.path().join("periods/2026/2026-03.parquet");
        let file = std::fs::read(&path).expect("bytes");
        let meta = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
            .expect("footer")
            .metadata()
            .clone();
        let int = DataType::Int64;
        for (name, t, want) in [
            ("hc_wh", &int, Some(Known::Null)),
            ("hp_wh", &int, Some(Known::Int(0))),
            ("max_gap_s", &int, Some(Known::Int(-10))),
            ("records", &int, None),
            ("total_wh", &int, None),
            ("coverage", &DataType::Float64, None),
            (
                "contract",
                &DataType::Utf8,
                Some(Known::Text("HC/HP".into())),
            ),
            ("flags", &DataType::Utf8, Some(Known::Text(String::new()))),
            ("mode", &DataType::Utf8, None),
            ("contract", &int, None),
            ("nowhere", &int, None),
        ] {
            assert_eq!(known(&meta, name, t), want, "{name}");
        }
        let asked = [
            "flags",
            "hc_wh",
            "total_wh",
            "hp_wh",
            "records",
            "max_gap_s",
            "coverage",
            "contract",
            "mode",
        ];
        let m = read_only(&path, &schema, Some(&asked))
            .expect("read")
            .expect("there");
        assert_eq!(m.batches.len(), 1);
        let got = &m.batches[0];
        let names: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|n| asked.contains(n))
            .collect();
        let got_names: Vec<_> = got
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(got_names, names);
        for name in names {
            let (g, w) = (got.column_by_name(name), b.column_by_name(name));
            let (g, w) = (g.expect("read"), w.expect("written"));
            assert_eq!(g.to_data(), w.to_data(), "{name}");
        }
    }

    /// Written aside and renamed in: the periods folder never holds another file; read back
    /// whole, with its text; the steps durable in order.
    #[test]
    fn a_month_is_written_aside_and_read_back() {
        let d = tempfile::tempdir().expect("tempdir");
        let probe = Probe::new();
        let b = batch();
        let meta = "x".repeat(5000);
        write(&probe, d.path(), (2026, 3), &b, &meta, "days").expect("write");
        let log = probe.take_log();
        let target = d.path().join("periods/2026/2026-03.parquet");
        let temp = log
            .iter()
            .find_map(|op| match op {
                Op::Open(p, Open::CreateNew) => Some(p.clone()),
                _ => None,
            })
            .expect("a temporary file");
        assert_eq!(temp.parent(), Some(d.path().join(".tic-rec-tmp").as_path()));
        let steps = [
            Op::Open(temp.clone(), Open::CreateNew),
            Op::SyncAll(temp.clone()),
            Op::Rename(temp.clone(), target.clone()),
            Op::SyncDir(d.path().join("periods/2026")),
        ];
        in_order(&log, &steps);
        let m = read(&target, &b.schema()).expect("read").expect("there");
        assert_eq!(m.batches, std::slice::from_ref(&b));
        assert_eq!(m.meta.as_deref(), Some(meta.as_str()));
        assert_eq!(m.extra().as_deref(), Some("days"));
        assert_eq!(
            months(d.path()).expect("months"),
            [(2026, 3, target.clone())]
        );
        let names: Vec<_> = std::fs::read_dir(d.path().join("periods/2026"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["2026-03.parquet"]);
        // No ARROW:schema copy in the footer.
        let raw = std::fs::read(&target).expect("bytes");
        assert!(!raw.windows(12).any(|w| w == b"ARROW:schema"));
        // Its footer alone, or its rows too when the footer text says so.
        let names = ["meter_id", "period_start", "total_wh"];
        let mut seen = None;
        let f = read_if(&target, &b.schema(), &names, |t| {
            seen = t.map(str::to_owned);
            false
        })
        .expect("read")
        .expect("there");
        assert_eq!(seen.as_deref(), Some(meta.as_str()));
        assert!(f.batches.is_empty());
        assert_eq!(f.meta.as_deref(), Some(meta.as_str()));
        assert_eq!(f.extra().as_deref(), Some("days"));
        let f = read_if(&target, &b.schema(), &names, |_| true)
            .expect("read")
            .expect("there");
        assert_eq!(f.batches, std::slice::from_ref(&b));
        assert_eq!(f.meta.as_deref(), Some(meta.as_str()));
        let none = d.path().join("periods/2026/2026-04.parquet");
        assert!(read_if(&none, &b.schema(), &names, |_| true)
            .expect("none")
            .is_none());
        // A footer longer than the tail read first: read whole.
        let mut rng = fastrand::Rng::with_seed(3);
        let big: String = (0..3 * TAIL).map(|_| rng.alphanumeric()).collect();
        write(&probe, d.path(), (2026, 3), &b, &big, "days").expect("write");
        let f = read_if(&target, &b.schema(), &names, |t| t != Some(big.as_str()))
            .expect("read")
            .expect("there");
        assert!(f.batches.is_empty());
        assert_eq!(f.meta.as_deref(), Some(big.as_str()));
        // Garbled (cut in half, cut to its last bytes, no file at all but a few bytes):
        // an error naming it, from either reader.
        for cut in [
            raw[..raw.len() / 2].to_vec(),
            raw[raw.len() - 12..].to_vec(),
            b"PAR1".to_vec(),
            Vec::new(),
        ] {
            std::fs::write(&target, &cut).expect("cut");
            let e = read(&target, &b.schema()).expect_err("garbled");
            assert!(e.to_string().contains("2026-03.parquet"), "{e}");
            let e = read_if(&target, &b.schema(), &names, |_| false).expect_err("garbled");
            assert!(e.to_string().contains("2026-03.parquet"), "{e}");
        }
        remove(&probe, d.path(), (2026, 3)).expect("remove");
        assert!(months(d.path()).expect("months").is_empty());
    }
}
