//! Writing an export: CSV, an aligned text table, or Parquet.
//!
//! Columns of a period export, in order: `period_start`, `period_end`, `<label>_wh` for every
//! energy index in the data, `hc_wh`, `hp_wh`, `total_wh`, the Tempo columns
//! (`blue_hc_wh`, `blue_hp_wh`, `white_…`, `red_…`) when the data has Tempo indexes, then
//! `records`, `coverage`, `max_gap_s`, `flags`.
//!
//! The table for reading ([`table_columns`]) shows energy in kWh with three decimals and
//! leaves out the energy columns that carry none in the range or repeat another.
//!
//! Types: times are RFC 3339 with the local offset in CSV and `timestamp[us, tz=UTC]` in
//! Parquet; Wh and counts are Int64, `coverage` Float64, `flags` a string of names joined by
//! `|` (empty when none). Parquet files are zstd-compressed with page statistics.

use std::io::{self, Write};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::{Error, RecordSink, Table, ENERGY_LABELS};
use crate::store::TZ;
use crate::tic::labels::is_numeric as is_numeric_label;
use crate::tic::labels::{Colour, Rate};

/// The values of one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Unix seconds.
    Time(Vec<i64>),
    /// Integers (Wh, counts, seconds).
    Int(Vec<Option<i64>>),
    /// Fractions.
    Float(Vec<Option<f64>>),
    /// Text.
    Text(Vec<Option<String>>),
    /// Energy in Wh, shown in kWh with three decimals (the table for reading).
    Kwh(Vec<Option<i64>>),
    /// Exact decimals: integers in units of 10⁻ˢᶜᵃˡᵉ (`scale` at most 18), written with
    /// `scale` decimals in CSV and the table, `decimal128(18, scale)` in Parquet (money in
    /// cents: [`Values::cents`]; kWh from Wh: [`Values::kwh_exact`]).
    Decimal(u8, Vec<Option<i64>>),
}

impl Values {
    /// Amounts in cents, shown as `1234.56`.
    pub fn cents(v: Vec<Option<i64>>) -> Values {
        Values::Decimal(2, v)
    }

    /// Energy in Wh, shown as kWh with three decimals, typed decimal in Parquet.
    pub fn kwh_exact(v: Vec<Option<i64>>) -> Values {
        Values::Decimal(3, v)
    }

    fn len(&self) -> usize {
        match self {
            Values::Time(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Text(v) => v.len(),
            Values::Kwh(v) => v.len(),
            Values::Decimal(_, v) => v.len(),
        }
    }

    fn clear(&mut self) {
        match self {
            Values::Time(v) => v.clear(),
            Values::Int(v) => v.clear(),
            Values::Float(v) => v.clear(),
            Values::Text(v) => v.clear(),
            Values::Kwh(v) => v.clear(),
            Values::Decimal(_, v) => v.clear(),
        }
    }

    /// The cell of row `i` as CSV text.
    fn cell(&self, i: usize) -> String {
        match self {
            Values::Time(v) => v.get(i).map(|&t| rfc3339(t)).unwrap_or_default(),
            Values::Int(v) => v
                .get(i)
                .copied()
                .flatten()
                .map(|x| x.to_string())
                .unwrap_or_default(),
            Values::Float(v) => v
                .get(i)
                .copied()
                .flatten()
                .map(|x| format!("{x:.4}"))
                .unwrap_or_default(),
            Values::Text(v) => v.get(i).cloned().flatten().unwrap_or_default(),
            Values::Kwh(v) => v.get(i).copied().flatten().map(kwh).unwrap_or_default(),
            Values::Decimal(scale, v) => v
                .get(i)
                .copied()
                .flatten()
                .map(|x| decimal(x, *scale))
                .unwrap_or_default(),
        }
    }

    fn data_type(&self) -> DataType {
        match self {
            Values::Time(_) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Values::Int(_) => DataType::Int64,
            Values::Float(_) | Values::Kwh(_) => DataType::Float64,
            Values::Text(_) => DataType::Utf8,
            Values::Decimal(scale, _) => DataType::Decimal128(DECIMAL_DIGITS, scale_of(*scale)),
        }
    }

    fn array(&self) -> ArrayRef {
        match self {
            Values::Time(v) => Arc::new(
                TimestampMicrosecondArray::from(
                    v.iter().map(|t| t * 1_000_000).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            Values::Int(v) => Arc::new(Int64Array::from(v.clone())),
            Values::Float(v) => Arc::new(Float64Array::from(v.clone())),
            Values::Text(v) => Arc::new(StringArray::from(v.clone())),
            Values::Kwh(v) => Arc::new(Float64Array::from(
                v.iter()
                    .map(|x| x.map(|wh| wh as f64 / 1000.0))
                    .collect::<Vec<_>>(),
            )),
            Values::Decimal(scale, v) => Arc::new(
                Decimal128Array::from(v.iter().map(|x| x.map(i128::from)).collect::<Vec<_>>())
                    .with_precision_and_scale(DECIMAL_DIGITS, scale_of(*scale))
                    .expect("a scale of at most 18 fits 18 digits"),
            ),
        }
    }
}

/// Digits of a Parquet decimal column (an i64 has 18 whole ones).
const DECIMAL_DIGITS: u8 = 18;

fn scale_of(scale: u8) -> i8 {
    i8::try_from(scale.min(DECIMAL_DIGITS)).unwrap_or(0)
}

/// `units` × 10⁻ˢᶜᵃˡᵉ with `scale` decimals, exactly (`123456, 2` → `1234.56`).
fn decimal(units: i64, scale: u8) -> String {
    let scale = u32::from(scale.min(DECIMAL_DIGITS));
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs();
    let p = 10u64.pow(scale);
    if scale == 0 {
        return format!("{sign}{a}");
    }
    format!("{sign}{}.{:0w$}", a / p, a % p, w = scale as usize)
}

/// Wh as kWh with three decimals, exactly (`27905` → `27.905`).
fn kwh(wh: i64) -> String {
    let sign = if wh < 0 { "-" } else { "" };
    let a = wh.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// RFC 3339 with the local offset.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|u| u.with_timezone(&TZ).to_rfc3339())
        .unwrap_or_default()
}

/// The first two columns of a per-period table (export's, cost's): `period_start` and
/// `period_end` of each `(start, end)`.
pub fn period_columns(bounds: impl Iterator<Item = (i64, i64)>) -> Vec<(String, Values)> {
    let (starts, ends) = bounds.unzip();
    vec![
        ("period_start".to_owned(), Values::Time(starts)),
        ("period_end".to_owned(), Values::Time(ends)),
    ]
}

/// The named columns of a period export.
pub fn columns(table: &Table) -> Vec<(String, Values)> {
    let rows = &table.rows;
    let mut out = period_columns(rows.iter().map(|r| (r.start, r.end)));
    for &k in &table.labels {
        let name = format!("{}_wh", ENERGY_LABELS[k].to_ascii_lowercase());
        out.push((name, Values::Int(rows.iter().map(|r| r.wh[k]).collect())));
    }
    out.push((
        "hc_wh".into(),
        Values::Int(rows.iter().map(|r| table.hc(r)).collect()),
    ));
    out.push((
        "hp_wh".into(),
        Values::Int(rows.iter().map(|r| table.hp(r)).collect()),
    ));
    out.push((
        "total_wh".into(),
        Values::Int(rows.iter().map(|r| table.total(r)).collect()),
    ));
    if table.tempo() {
        for c in Colour::ALL {
            for (kind, k) in [(Rate::Hc, "hc"), (Rate::Hp, "hp")] {
                // A colour the period did not see is 0; a period without data is empty.
                let v = rows
                    .iter()
                    .map(|r| {
                        let measured = r.wh.iter().any(Option::is_some);
                        table.tempo_wh(r, c, kind).or(measured.then_some(0))
                    })
                    .collect();
                out.push((format!("{}_{k}_wh", c.name()), Values::Int(v)));
            }
        }
    }
    let records = rows
        .iter()
        .map(|r| r.records.and_then(|n| i64::try_from(n).ok()))
        .collect();
    out.push(("records".into(), Values::Int(records)));
    out.push((
        "coverage".into(),
        Values::Float(rows.iter().map(|r| r.coverage).collect()),
    ));
    out.push((
        "max_gap_s".into(),
        Values::Int(rows.iter().map(|r| r.max_gap_s).collect()),
    ));
    let flags = rows.iter().map(|r| Some(r.flags.names())).collect();
    out.push(("flags".into(), Values::Text(flags)));
    out
}

/// An output error, its I/O cause kept (a CSV, Arrow or Parquet error wrapping one is
/// unwrapped).
/// The columns of the table for reading (`--format table`), from those of [`columns`]:
/// energy in kWh with three decimals (headers `…_kwh`), and, unless `all`, only the energy
/// columns that carry energy in the range and do not repeat another — `easf01` is `hc` on an
/// HC/HP meter, `east` is `total`, a Tempo meter's indexes are its colour columns —
/// `total` always, then the quality columns. CSV and Parquet keep every column, in Wh.
pub fn table_columns(columns: Vec<(String, Values)>, all: bool) -> Vec<(String, Values)> {
    let is_energy = |name: &str| name.ends_with("_wh");
    let derived = |name: &str| {
        matches!(name, "hc_wh" | "hp_wh" | "total_wh")
            || Colour::ALL
                .iter()
                .any(|c| name.starts_with(&format!("{}_", c.name())))
    };
    let energy = |v: &Values| match v {
        Values::Int(x) => Some(x.clone()),
        _ => None,
    };
    let carries = |x: &[Option<i64>]| x.iter().any(|v| v.is_some_and(|v| v != 0));
    // Derived columns first: a label column repeating one of them is left out.
    let mut kept: Vec<Vec<Option<i64>>> = Vec::new();
    let mut keep = vec![true; columns.len()];
    if !all {
        for pass_derived in [true, false] {
            for (i, (name, v)) in columns.iter().enumerate() {
                let Some(x) = energy(v).filter(|_| is_energy(name)) else {
                    continue;
                };
                if derived(name) != pass_derived {
                    continue;
                }
                let shown =
                    name == "total_wh" || (carries(&x) && (pass_derived || !kept.contains(&x)));
                keep[i] = shown;
                if shown {
                    kept.push(x);
                }
            }
        }
    }
    columns
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|((name, v), _)| match v {
            Values::Int(x) if is_energy(&name) => {
                let stem = name.strip_suffix("_wh").unwrap_or(&name);
                (format!("{stem}_kwh"), Values::Kwh(x))
            }
            other => (name, other),
        })
        .collect()
}

fn out_err(e: impl IntoIo) -> Error {
    Error::Output(e.into_io())
}

/// The I/O error inside an encoder's error, or the error itself as [`io::ErrorKind::Other`].
trait IntoIo {
    fn into_io(self) -> io::Error;
}

impl IntoIo for io::Error {
    fn into_io(self) -> io::Error {
        self
    }
}

impl IntoIo for csv::Error {
    fn into_io(self) -> io::Error {
        if !matches!(self.kind(), csv::ErrorKind::Io(_)) {
            return io::Error::other(self);
        }
        match self.into_kind() {
            csv::ErrorKind::Io(e) => e,
            other => io::Error::other(format!("{other:?}")), // not I/O: checked above
        }
    }
}

impl IntoIo for parquet::errors::ParquetError {
    fn into_io(self) -> io::Error {
        match self {
            parquet::errors::ParquetError::External(e) => match e.downcast::<io::Error>() {
                Ok(io) => *io,
                Err(e) => io::Error::other(e),
            },
            other => io::Error::other(other),
        }
    }
}

impl IntoIo for arrow_schema::ArrowError {
    fn into_io(self) -> io::Error {
        match self {
            arrow_schema::ArrowError::IoError(_, e) => e,
            other => io::Error::other(other),
        }
    }
}

impl IntoIo for &str {
    fn into_io(self) -> io::Error {
        io::Error::other(self.to_owned())
    }
}

/// Writes columns as CSV.
pub fn write_csv(columns: &[(String, Values)], w: &mut dyn Write) -> Result<(), Error> {
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(columns.iter().map(|(n, _)| n))
        .map_err(out_err)?;
    let n = columns.first().map_or(0, |(_, v)| v.len());
    for i in 0..n {
        csv.write_record(columns.iter().map(|(_, v)| v.cell(i)))
            .map_err(out_err)?;
    }
    csv.flush().map_err(out_err)
}

/// Writes columns as an aligned text table (numbers to the right).
pub fn write_table(columns: &[(String, Values)], w: &mut dyn Write) -> Result<(), Error> {
    let n = columns.first().map_or(0, |(_, v)| v.len());
    let cells: Vec<Vec<String>> = columns
        .iter()
        .map(|(_, v)| (0..n).map(|i| v.cell(i)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .zip(&cells)
        .map(|((name, _), c)| {
            c.iter()
                .map(String::len)
                .chain([name.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let right = |v: &Values| {
        matches!(
            v,
            Values::Int(_) | Values::Float(_) | Values::Kwh(_) | Values::Decimal(..)
        )
    };
    let mut line = String::new();
    for (j, (name, v)) in columns.iter().enumerate() {
        pad(&mut line, name, widths[j], right(v), j == 0);
    }
    writeln!(w, "{}", line.trim_end()).map_err(out_err)?;
    #[allow(clippy::needless_range_loop)] // row i of every column
    for i in 0..n {
        line.clear();
        for (j, (_, v)) in columns.iter().enumerate() {
            pad(&mut line, &cells[j][i], widths[j], right(v), j == 0);
        }
        writeln!(w, "{}", line.trim_end()).map_err(out_err)?;
    }
    Ok(())
}

fn pad(line: &mut String, s: &str, width: usize, right: bool, first: bool) {
    if !first {
        line.push_str("  ");
    }
    let fill = " ".repeat(width.saturating_sub(s.len()));
    if right {
        line.push_str(&fill);
        line.push_str(s);
    } else {
        line.push_str(s);
        line.push_str(&fill);
    }
}

fn props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build()
}

fn schema(columns: &[(String, Values)]) -> Arc<Schema> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, v)| Field::new(n, v.data_type(), !matches!(v, Values::Time(_))))
        .collect();
    Arc::new(Schema::new(fields))
}

fn batch(schema: &Arc<Schema>, columns: &[(String, Values)]) -> Result<RecordBatch, Error> {
    RecordBatch::try_new(
        schema.clone(),
        columns.iter().map(|(_, v)| v.array()).collect(),
    )
    .map_err(out_err)
}

/// Writes columns as one Parquet file.
pub fn write_parquet<W: Write + Send>(columns: &[(String, Values)], w: W) -> Result<(), Error> {
    let schema = schema(columns);
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props())).map_err(out_err)?;
    writer.write(&batch(&schema, columns)?).map_err(out_err)?;
    writer.close().map_err(out_err)?;
    Ok(())
}

/// The format of a [`RecordWriter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV.
    Csv,
    /// Aligned text.
    Table,
    /// Parquet.
    Parquet,
}

/// Writes recorded rows (`--records`) in batches, typed by label.
pub struct RecordWriter<W: Write + Send> {
    format: Format,
    out: Option<W>,
    parquet: Option<(Arc<Schema>, ArrowWriter<W>)>,
    columns: Vec<(String, Values)>,
}

const BATCH: usize = 8192;

impl<W: Write + Send> RecordWriter<W> {
    /// A writer to `out`.
    pub fn new(format: Format, out: W) -> Self {
        RecordWriter {
            format,
            out: Some(out),
            parquet: None,
            columns: Vec::new(),
        }
    }

    fn flush_batch(&mut self) -> Result<(), Error> {
        if self.columns.first().map_or(0, |(_, v)| v.len()) == 0 {
            return Ok(());
        }
        match self.format {
            Format::Parquet => {
                if self.parquet.is_none() {
                    let schema = schema(&self.columns);
                    let out = self
                        .out
                        .take()
                        .ok_or_else(|| out_err("writer already closed"))?;
                    let w = ArrowWriter::try_new(out, schema.clone(), Some(props()))
                        .map_err(out_err)?;
                    self.parquet = Some((schema, w));
                }
                if let Some((schema, w)) = self.parquet.as_mut() {
                    let b = batch(schema, &self.columns)?;
                    w.write(&b).map_err(out_err)?;
                }
            }
            Format::Table => {
                let out = self
                    .out
                    .as_mut()
                    .ok_or_else(|| out_err("writer already closed"))?;
                let n = self.columns.first().map_or(0, |(_, v)| v.len());
                for i in 0..n {
                    let line: Vec<String> = self
                        .columns
                        .iter()
                        .map(|(name, v)| format!("{:>w$}", v.cell(i), w = name.len().max(10)))
                        .collect();
                    writeln!(out, "{}", line.join("  ")).map_err(out_err)?;
                }
            }
            Format::Csv => {
                let out = self
                    .out
                    .as_mut()
                    .ok_or_else(|| out_err("writer already closed"))?;
                let n = self.columns.first().map_or(0, |(_, v)| v.len());
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(&mut *out);
                for i in 0..n {
                    csv.write_record(self.columns.iter().map(|(_, v)| v.cell(i)))
                        .map_err(out_err)?;
                }
                csv.flush().map_err(out_err)?;
            }
        }
        self.columns.iter_mut().for_each(|(_, v)| v.clear());
        Ok(())
    }
}

impl<W: Write + Send> RecordSink for RecordWriter<W> {
    fn header(&mut self, names: &[String]) -> Result<(), Error> {
        self.columns = names
            .iter()
            .map(|n| {
                let v = if n == "time" {
                    Values::Time(Vec::new())
                } else if is_numeric_label(n) {
                    Values::Int(Vec::new())
                } else {
                    Values::Text(Vec::new())
                };
                (n.clone(), v)
            })
            .collect();
        match self.format {
            Format::Parquet => Ok(()),
            Format::Csv | Format::Table => {
                let out = self
                    .out
                    .as_mut()
                    .ok_or_else(|| out_err("writer already closed"))?;
                let line: Vec<String> = if self.format == Format::Table {
                    names
                        .iter()
                        .map(|n| format!("{n:>w$}", w = n.len().max(10)))
                        .collect()
                } else {
                    names.to_vec()
                };
                let sep = if self.format == Format::Table {
                    "  "
                } else {
                    ","
                };
                writeln!(out, "{}", line.join(sep)).map_err(out_err)
            }
        }
    }

    fn row(&mut self, time: i64, cells: &[String]) -> Result<(), Error> {
        for ((_, v), c) in self.columns.iter_mut().zip(cells) {
            match v {
                Values::Time(x) => x.push(time),
                Values::Int(x) => x.push(crate::store::parse_int(c)),
                Values::Float(x) => x.push(c.parse().ok()),
                Values::Text(x) => x.push((!c.is_empty()).then(|| c.clone())),
                Values::Kwh(x) | Values::Decimal(_, x) => x.push(crate::store::parse_int(c)),
            }
        }
        if self.columns.first().map_or(0, |(_, v)| v.len()) >= BATCH {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        if self.format == Format::Parquet && self.parquet.is_none() && self.columns.is_empty() {
            return Err(out_err("no columns to write"));
        }
        self.flush_batch()?;
        if self.format == Format::Parquet && self.parquet.is_none() {
            // No row at all: still write a valid, empty file with the schema.
            let schema = schema(&self.columns);
            let out = self
                .out
                .take()
                .ok_or_else(|| out_err("writer already closed"))?;
            let w = ArrowWriter::try_new(out, schema.clone(), Some(props())).map_err(out_err)?;
            self.parquet = Some((schema, w));
        }
        if let Some((_, w)) = self.parquet.take() {
            w.close().map_err(out_err)?;
        }
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(out_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kwh_is_exact() {
        for (wh, want) in [
            (0, "0.000"),
            (7, "0.007"),
            (999, "0.999"),
            (1000, "1.000"),
            (27_905, "27.905"),
            (-1500, "-1.500"),
        ] {
            assert_eq!(kwh(wh), want, "{wh}");
        }
    }

    #[test]
    fn table_columns_leave_out_empty_and_repeated_energy() {
        let int = |v: &[i64]| Values::Int(v.iter().map(|&x| Some(x)).collect());
        type Named<'a> = &'a [(&'a str, &'a [i64])];
        let cols = |names: Named<'_>| -> Vec<(String, Values)> {
            names.iter().map(|(n, v)| (n.to_string(), int(v))).collect()
        };
        let names = |c: &[(String, Values)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        // (columns, shown by default)
        let cases: &[(Named<'_>, &[&str])] = &[
            (
                &[
                    ("east_wh", &[3, 4]),
                    ("easf01_wh", &[1, 1]),
                    ("easf02_wh", &[2, 3]),
                    ("easf03_wh", &[0, 0]),
                    ("easd01_wh", &[1, 1]),
                    ("hc_wh", &[1, 1]),
                    ("hp_wh", &[2, 3]),
                    ("total_wh", &[3, 4]),
                    ("records", &[60, 60]),
                ],
                &["hc_kwh", "hp_kwh", "total_kwh", "records"],
            ),
            // EJP: two indexes no HC/HP column splits; no HC at all.
            (
                &[
                    ("ejphn_wh", &[5, 0]),
                    ("ejphpm_wh", &[0, 7]),
                    ("hc_wh", &[0, 0]),
                    ("total_wh", &[5, 7]),
                ],
                &["ejphn_kwh", "ejphpm_kwh", "total_kwh"],
            ),
            // No energy at all: total stays.
            (&[("east_wh", &[0]), ("total_wh", &[0])], &["total_kwh"]),
        ];
        for (c, want) in cases {
            let shown = table_columns(cols(c), false);
            assert_eq!(names(&shown), *want);
            let all = table_columns(cols(c), true);
            assert_eq!(all.len(), c.len());
        }
        let shown = table_columns(cols(&[("total_wh", &[27_905])]), false);
        assert_eq!(shown[0].1.cell(0), "27.905");
        let c = Values::cents(vec![Some(123_456), Some(5), Some(-1), None]);
        let cells: Vec<String> = (0..4).map(|i| c.cell(i)).collect();
        assert_eq!(cells, ["1234.56", "0.05", "-0.01", ""]);
        assert_eq!(Values::kwh_exact(vec![Some(7)]).cell(0), "0.007");
    }
}
