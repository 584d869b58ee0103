//! The periods dataset: what an export of every closed hour gives, as rows a fleet queries
//! (`<data-dir>/periods/YYYY/YYYY-MM.parquet`, one file a month, see [`crate::store`] for
//! where and how it is written).
//!
//! ## Rows
//! One row per UTC hour (France's offsets are whole hours: local days, months and years are
//! made of them), from the first closed day with records to the last closed day, days
//! without a file included (their hours carry the consumption interpolated across the gap,
//! as an export gives it). Each row has the numbers of `tic-rec export --hour` for that hour:
//! the same guards, the same interpolation at the boundaries, the same quality columns. So
//! summing the rows of a day, a month or a year gives `tic-rec export --day`, `--month`,
//! `--year` to the Wh (DST days included: their 23 or 25 hours are rows), and the quality of
//! the longer period follows from the hours' ([`aggregate`]: the first and last record of
//! each hour say where the longest gap lies).
//!
//! ## Schema ([`schema`]): one for every meter, every file
//! `meter_id` (ADSC or ADCO, a 12-character string, leading zeros kept), `period_start`,
//! `period_end` (`timestamp[us, tz=UTC]`), `local_date` (the Europe/Paris date of the hour:
//! group by it, or by its month, and no engine's time zone matters), `contract` (the
//! registry's name of the NGTF/OPTARIF the hour's records carried, or their own words when
//! the registry does not know them), `mode` (`standard`, `historique`); the class columns
//! under the export's names, Int64 Wh: `total_wh`, `hc_wh`, `hp_wh`, the six Tempo columns
//! `blue_hc_wh` … `red_hp_wh` (null unless the meter is on Tempo); then every energy index of
//! the registry, `east_wh` … `eait_wh` (injected), `base_wh`, `hchc_wh`, `hchp_wh`,
//! `ejphn_wh`, `ejphpm_wh` (EJP's), `bbrhcjb_wh` … (null where the meter has no such
//! index); `records`, `coverage`, `max_gap_s`, `first_record`, `last_record` (timestamps of
//! the hour's first and last records, null without any), `flags` (names joined by `|`).
//! A column a meter lacks is null, never absent: every file of a fleet has this schema.
//!
//! ## The footer text ([`MonthMeta`], format [`META_FORMAT`])
//! Each day of the file: its energy labels, the run of days its hours were computed from
//! (the name, length and modification time of each file read: the hours hold while those
//! do), and its sums (`DaySums`: its hours summed as an export sums them into a longer
//! period, with its contract), made from the file's own rows when it is written. An export in
//! periods of whole days adds each closed day from its sums and reads only the footers; by
//! the hour, it sums the rows. The day summaries are kept under a key of their own, read only
//! when asked for.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    Date32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, NaiveDate};

use super::accumulator::Identity;
use super::index::DaySummary;
use super::table::{Flags, Row, Table};
use super::tariff::Tariffs;
use super::trail::Trail;
use super::{Catalog, Error, ENERGY_LABELS, N_ENERGY};
use crate::tic::labels::{energy_label, Calendar, Colour, Rate};
use crate::tic::Mode;

/// The hour rows of a range of days, computed as an export of them computes them, and what
/// they were computed from.
#[derive(Clone, Debug)]
pub struct Run {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// One row per UTC hour of `[from, to]`, and what the columns mean.
    pub table: Table,
    /// Who each hour's records say they are.
    pub ids: Vec<Identity>,
    /// What was read: the days around the range, the labels of each of its days.
    pub trail: Trail,
}

/// The columns before the indexes: identity, time, what the meter is on.
const HEAD: [&str; 6] = [
    "meter_id",
    "period_start",
    "period_end",
    "local_date",
    "contract",
    "mode",
];
/// The class columns: the export's names.
const CLASSES: [&str; 9] = [
    "total_wh",
    "hc_wh",
    "hp_wh",
    "blue_hc_wh",
    "blue_hp_wh",
    "white_hc_wh",
    "white_hp_wh",
    "red_hc_wh",
    "red_hp_wh",
];
/// The quality columns.
const QUALITY: [&str; 6] = [
    "records",
    "coverage",
    "max_gap_s",
    "first_record",
    "last_record",
    "flags",
];

/// The name of index `k`'s column: `east_wh`, `easf01_wh`…
pub fn index_column(k: usize) -> String {
    format!("{}_wh", ENERGY_LABELS[k].to_ascii_lowercase())
}

fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The one schema of every periods file (see the module doc).
pub fn schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("meter_id", DataType::Utf8, true),
        Field::new("period_start", time_type(), false),
        Field::new("period_end", time_type(), false),
        Field::new("local_date", DataType::Date32, false),
        Field::new("contract", DataType::Utf8, true),
        Field::new("mode", DataType::Utf8, true),
    ];
    fields.extend(
        CLASSES
            .iter()
            .map(|n| Field::new(*n, DataType::Int64, true)),
    );
    fields.extend((0..N_ENERGY).map(|k| Field::new(index_column(k), DataType::Int64, true)));
    fields.extend([
        Field::new("records", DataType::Int64, true),
        Field::new("coverage", DataType::Float64, true),
        Field::new("max_gap_s", DataType::Int64, true),
        Field::new("first_record", time_type(), true),
        Field::new("last_record", time_type(), true),
        Field::new("flags", DataType::Utf8, false),
    ]);
    debug_assert_eq!(
        fields.len(),
        HEAD.len() + CLASSES.len() + N_ENERGY + QUALITY.len()
    );
    Arc::new(Schema::new(fields))
}

/// The name of a contract as the periods dataset writes it: the registry's name of the
/// calendar an NGTF/OPTARIF says, or the meter's own words (trimmed) when it says none the
/// registry knows.
pub fn contract_name(raw: &str) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() {
        return None;
    }
    Some(match Calendar::of(t) {
        Some(c) => c.display_name().to_owned(),
        None => t.to_owned(),
    })
}

/// `standard` or `historique`: the mode of the indexes the row has values of, else of the
/// labels of the data.
fn mode_of(row: &Row, labels: &[usize]) -> Option<&'static str> {
    let name = |m: Mode| match m {
        Mode::Standard => "standard",
        Mode::Historique => "historique",
    };
    let with_value = (0..N_ENERGY).find(|&k| row.wh[k].is_some());
    with_value
        .or_else(|| labels.first().copied())
        .map(|k| name(energy_label(k).mode))
}

/// The local (Europe/Paris) date of an instant, as days since 1970-01-01.
fn local_date32(t: i64) -> i32 {
    crate::store::local_day(t)
        .map(Date32Type::from_naive_date)
        .unwrap_or(0)
}

/// The rows of `run` whose hour starts in `[from 00:00, to + 1 00:00)` local, as a record
/// batch of [`schema`].
pub fn to_batch(run: &Run, from: NaiveDate, to: NaiveDate) -> Result<RecordBatch, Error> {
    let lo = super::periods::midnight(from)?;
    let hi = super::periods::midnight(to.succ_opt().ok_or(Error::Calendar(to))?)?;
    let t = &run.table;
    let picked: Vec<usize> = (0..t.rows.len())
        .filter(|&i| t.rows[i].start >= lo && t.rows[i].start < hi)
        .collect();
    let n = picked.len();
    let time = || TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let (mut meter, mut contract, mut mode) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut start, mut end, mut date) = (time(), time(), Date32Builder::with_capacity(n));
    let mut classes: Vec<Int64Builder> = (0..CLASSES.len())
        .map(|_| Int64Builder::with_capacity(n))
        .collect();
    let mut index: Vec<Int64Builder> = (0..N_ENERGY)
        .map(|_| Int64Builder::with_capacity(n))
        .collect();
    let (mut records, mut coverage, mut gap) = (
        Int64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
    );
    let (mut first, mut last, mut flags) = (time(), time(), StringBuilder::new());
    let tempo = t.tempo();
    for &i in &picked {
        let r = &t.rows[i];
        let id = run.ids.get(i).cloned().unwrap_or_default();
        meter.append_option((!id.meter.is_empty()).then_some(id.meter.as_str()));
        contract.append_option(contract_name(&id.contract));
        mode.append_option(mode_of(r, &t.labels));
        start.append_value(r.start * 1_000_000);
        end.append_value(r.end * 1_000_000);
        date.append_value(local_date32(r.start));
        let measured = r.wh.iter().any(Option::is_some);
        let mut class_values = vec![t.total(r), t.hc(r), t.hp(r)];
        for c in Colour::ALL {
            for kind in [Rate::Hc, Rate::Hp] {
                let v = t.tempo_wh(r, c, kind).or(measured.then_some(0));
                class_values.push(v.filter(|_| tempo));
            }
        }
        for (b, v) in classes.iter_mut().zip(class_values) {
            b.append_option(v);
        }
        for (k, b) in index.iter_mut().enumerate() {
            b.append_option(r.wh[k]);
        }
        records.append_option(r.records.and_then(|x| i64::try_from(x).ok()));
        coverage.append_option(r.coverage);
        gap.append_option(r.max_gap_s);
        first.append_option(r.first_record.map(|x| x * 1_000_000));
        last.append_option(r.last_record.map(|x| x * 1_000_000));
        flags.append_value(r.flags.names());
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(meter.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(date.finish()),
        Arc::new(contract.finish()),
        Arc::new(mode.finish()),
    ];
    columns.extend(classes.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.extend(index.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.extend([
        Arc::new(records.finish()) as ArrayRef,
        Arc::new(coverage.finish()),
        Arc::new(gap.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(flags.finish()),
    ]);
    RecordBatch::try_new(schema(), columns).map_err(|e| Error::Output(std::io::Error::other(e)))
}

/// An hour read back from a periods file: its row (per-index Wh, quality) and identity.
#[derive(Clone, Debug, PartialEq)]
pub struct Hour {
    /// The local date of the hour.
    pub day: NaiveDate,
    /// The row, as the export made it.
    pub row: Row,
    /// The meter and contract (as the file names it).
    pub id: Identity,
}

/// Why a batch is not one of [`schema`].
#[derive(Debug, thiserror::Error)]
#[error("not a periods batch: {0}")]
pub struct SchemaError(String);

/// The hours of a batch of [`schema`].
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<Hour>, SchemaError> {
    let want = schema();
    if batch.schema().fields().len() != want.fields().len() {
        return Err(SchemaError(format!(
            "{} columns, expected {}",
            batch.schema().fields().len(),
            want.fields().len()
        )));
    }
    for (a, b) in batch.schema().fields().iter().zip(want.fields()) {
        if a.name() != b.name() || a.data_type() != b.data_type() {
            return Err(SchemaError(format!(
                "column {} {:?}, expected {} {:?}",
                a.name(),
                a.data_type(),
                b.name(),
                b.data_type()
            )));
        }
    }
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .expect("checked against the schema")
    };
    let text = |name: &str| col(name).as_string::<i32>().clone();
    let int = |name: &str| col(name).as_primitive::<Int64Type>().clone();
    let ts = |name: &str| col(name).as_primitive::<TimestampMicrosecondType>().clone();
    let (meter, contract) = (text("meter_id"), text("contract"));
    let dates = col("local_date").as_primitive::<Date32Type>().clone();
    let (start, end, first, last) = (
        ts("period_start"),
        ts("period_end"),
        ts("first_record"),
        ts("last_record"),
    );
    let index: Vec<_> = (0..N_ENERGY).map(|k| int(&index_column(k))).collect();
    let (records, gap) = (int("records"), int("max_gap_s"));
    let coverage = col("coverage").as_primitive::<Float64Type>().clone();
    let flags = text("flags");
    let opt_i =
        |a: &arrow_array::PrimitiveArray<Int64Type>, i: usize| (!a.is_null(i)).then(|| a.value(i));
    let opt_t = |a: &arrow_array::PrimitiveArray<TimestampMicrosecondType>, i: usize| {
        (!a.is_null(i)).then(|| a.value(i).div_euclid(1_000_000))
    };
    use arrow_array::Array;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let wh = std::array::from_fn(|k| opt_i(&index[k], i));
        let row = Row {
            start: start.value(i).div_euclid(1_000_000),
            end: end.value(i).div_euclid(1_000_000),
            wh,
            records: opt_i(&records, i).and_then(|x| u64::try_from(x).ok()),
            coverage: (!coverage.is_null(i)).then(|| coverage.value(i)),
            max_gap_s: opt_i(&gap, i),
            first_record: opt_t(&first, i),
            last_record: opt_t(&last, i),
            flags: Flags::from_names(flags.value(i))
                .ok_or_else(|| SchemaError(format!("unknown flag in {:?}", flags.value(i))))?,
        };
        let text_at = |a: &arrow_array::StringArray| {
            if a.is_valid(i) {
                a.value(i).to_owned()
            } else {
                String::new()
            }
        };
        let id = Identity {
            meter: text_at(&meter),
            contract: text_at(&contract),
        };
        let day = Date32Type::to_naive_date_opt(dates.value(i))
            .ok_or_else(|| SchemaError(format!("a local date out of range in row {i}")))?;
        out.push(Hour { day, row, id });
    }
    Ok(out)
}

/// The columns [`Columns`] reads (the hours' numbers and the days' contract): the head's
/// times, day and contract, every index column, the quality columns.
pub(crate) static ROW_COLUMNS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| ROW_NAMES.iter().map(String::as_str).collect());

static ROW_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    HEAD[1..5]
        .iter()
        .map(|s| (*s).to_owned())
        .chain((0..N_ENERGY).map(index_column))
        .chain(QUALITY.iter().map(|s| (*s).to_owned()))
        .collect()
});

type Int64s = arrow_array::PrimitiveArray<Int64Type>;
type Times = arrow_array::PrimitiveArray<TimestampMicrosecondType>;

/// The hours of a batch of [`ROW_COLUMNS`] (a month file read for an export), read where
/// they are: summed into periods straight from the columns ([`Columns::add_to`]), with no
/// row of every index made per hour.
pub(crate) struct Columns<'a> {
    start: &'a Times,
    end: &'a Times,
    first: &'a Times,
    last: &'a Times,
    dates: &'a arrow_array::PrimitiveArray<Date32Type>,
    contract: &'a arrow_array::StringArray,
    coverage: &'a arrow_array::PrimitiveArray<Float64Type>,
    records: &'a Int64s,
    gap: &'a Int64s,
    /// The indexes with a value in some hour of the batch, and their columns.
    index: Vec<(usize, &'a Int64s)>,
    /// Each hour's flags, parsed.
    flags: Vec<Flags>,
}

impl<'a> Columns<'a> {
    /// The columns of `batch`; `None` for a batch that is not one of [`ROW_COLUMNS`] (a
    /// column missing or of another type, a flag that is not one).
    pub(crate) fn of(batch: &'a RecordBatch) -> Option<Columns<'a>> {
        use arrow_array::Array;
        let col = |name: &str| batch.column_by_name(name);
        let int = |name: &str| col(name).and_then(|c| c.as_primitive_opt::<Int64Type>());
        let ts =
            |name: &str| col(name).and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
        let mut index = Vec::new();
        for k in 0..N_ENERGY {
            let c = int(&index_column(k))?;
            if c.null_count() < c.len() {
                index.push((k, c));
            }
        }
        let flags = col("flags")?.as_string_opt::<i32>()?;
        let flags = (0..flags.len())
            .map(|i| Flags::from_names(flags.value(i)))
            .collect::<Option<Vec<_>>>()?;
        Some(Columns {
            start: ts("period_start")?,
            end: ts("period_end")?,
            first: ts("first_record")?,
            last: ts("last_record")?,
            dates: col("local_date")?.as_primitive_opt()?,
            contract: col("contract")?.as_string_opt::<i32>()?,
            coverage: col("coverage")?.as_primitive_opt()?,
            records: int("records")?,
            gap: int("max_gap_s")?,
            index,
            flags,
        })
    }

    /// The number of hours.
    pub(crate) fn len(&self) -> usize {
        self.flags.len()
    }

    /// The start of hour `i`, Unix seconds.
    pub(crate) fn start(&self, i: usize) -> i64 {
        self.start.value(i).div_euclid(1_000_000)
    }

    /// The end of hour `i`, Unix seconds.
    pub(crate) fn end(&self, i: usize) -> i64 {
        self.end.value(i).div_euclid(1_000_000)
    }

    /// The local date of hour `i`, days since 1970-01-01.
    pub(crate) fn date32(&self, i: usize) -> i32 {
        self.dates.value(i)
    }

    /// The contract name of hour `i`, when it has one.
    pub(crate) fn contract(&self, i: usize) -> Option<&'a str> {
        use arrow_array::Array;
        let c = self.contract;
        (c.is_valid(i) && !c.value(i).is_empty()).then(|| c.value(i))
    }

    /// Adds hours `range` (in order) to `sums`.
    pub(crate) fn add_to(&self, range: std::ops::Range<usize>, sums: &mut Sums<'_>) {
        for i in range {
            if let Some(part) = sums.hour(self.start(i)) {
                self.add_hour(i, part);
            }
        }
    }

    /// Adds hour `i` to `part`.
    fn add_hour(&self, i: usize, part: &mut Part) {
        use arrow_array::Array;
        let opt = |a: &Int64s, i: usize| a.is_valid(i).then(|| a.value(i));
        let opt_t = |a: &Times, i: usize| a.is_valid(i).then(|| a.value(i).div_euclid(1_000_000));
        part.add(&HourQuality {
            span: self.end(i) - self.start(i),
            records: opt(self.records, i).and_then(|x| u64::try_from(x).ok()),
            coverage: self.coverage.is_valid(i).then(|| self.coverage.value(i)),
            max_gap_s: opt(self.gap, i),
            first_record: opt_t(self.first, i),
            last_record: opt_t(self.last, i),
            flags: self.flags[i],
        });
        let mut measured = false;
        for &(k, c) in &self.index {
            if c.is_valid(i) {
                measured = true;
                part.wh[k] += c.value(i);
            }
        }
        part.measured |= measured;
    }

    /// The local days of the batch whose hours are whole (every hour of the day, in order,
    /// in consecutive rows): each day, its rows and the start of its first hour. A day
    /// whose rows are split or missing an hour is not one.
    pub(crate) fn whole_days(&self) -> Vec<(NaiveDate, std::ops::Range<usize>, i64)> {
        let mut out = Vec::new();
        let mut a = 0;
        while a < self.len() {
            let d = self.date32(a);
            let mut end = a + 1;
            while end < self.len() && self.date32(end) == d {
                end += 1;
            }
            let rows = a..end;
            a = end;
            let Some(day) = Date32Type::to_naive_date_opt(d) else {
                continue;
            };
            let (Some(start), Some(next)) = (
                crate::store::midnight(day),
                day.succ_opt().and_then(crate::store::midnight),
            ) else {
                continue;
            };
            let whole = rows.len() as i64 == (next - start) / 3600
                && rows.clone().enumerate().all(|(h, i)| {
                    self.start(i) == start + 3600 * h as i64 && self.end(i) == self.start(i) + 3600
                });
            if whole {
                out.push((day, rows, start));
            }
        }
        out
    }

    /// The sums of a whole day's hours (`rows`, starting at `start`; see
    /// [`Columns::whole_days`]), and its contract: the last its hours name.
    pub(crate) fn day_sums(&self, rows: std::ops::Range<usize>, start: i64) -> DaySums {
        let end = start + 3600 * rows.len() as i64;
        let mut part = Part::new(start, end);
        for i in rows.clone() {
            self.add_hour(i, &mut part);
        }
        DaySums {
            part,
            contract: rows.rev().find_map(|i| self.contract(i)).map(str::to_owned),
        }
    }
}

/// What an hour brings to the period it is in, besides its Wh.
struct HourQuality {
    /// Its length, s.
    span: i64,
    records: Option<u64>,
    coverage: Option<f64>,
    max_gap_s: Option<i64>,
    first_record: Option<i64>,
    last_record: Option<i64>,
    flags: Flags,
}

/// A period being summed from its hours, in order (see [`Sums`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    start: i64,
    end: i64,
    /// Whether an hour of it has a value of some index.
    measured: bool,
    /// Each index's Wh, summed over its hours (0 where an hour lacks it).
    wh: [i64; N_ENERGY],
    hours: usize,
    /// Whether every hour so far has its quality columns.
    quality: bool,
    flags: Flags,
    records: u64,
    covered: i64,
    gap: i64,
    first: Option<i64>,
    last: Option<i64>,
}

impl Part {
    fn new(start: i64, end: i64) -> Part {
        Part {
            start,
            end,
            measured: false,
            wh: [0; N_ENERGY],
            hours: 0,
            quality: true,
            flags: Flags::default(),
            records: 0,
            covered: 0,
            gap: 0,
            first: None,
            last: None,
        }
    }

    fn add(&mut self, h: &HourQuality) {
        self.hours += 1;
        self.quality &= h.records.is_some();
        self.flags.insert(h.flags);
        self.records += h.records.unwrap_or(0);
        self.covered += h.coverage.map_or(0, |c| (c * h.span as f64).round() as i64);
        self.gap = self.gap.max(h.max_gap_s.unwrap_or(0));
        if let Some(f) = h.first_record {
            self.gap = self.gap.max(f - self.last.unwrap_or(self.start));
            self.first.get_or_insert(f);
            self.last = h.last_record.or(Some(f));
        }
    }

    /// Adds a whole day's sums, `day` (the hours of a day, summed as [`Part::add`] sums
    /// them, in a part that starts at its midnight): the same as adding its hours one by
    /// one. Every sum adds up; the gap before the day's first record is measured from the
    /// last record before it (or this part's start), which is never nearer than the day's
    /// midnight its own gap was measured from, so that this longer stretch is the one kept.
    fn merge(&mut self, day: &Part) {
        self.hours += day.hours;
        self.quality &= day.quality;
        self.flags.insert(day.flags);
        self.records += day.records;
        self.covered += day.covered;
        self.gap = self.gap.max(day.gap);
        if let Some(f) = day.first {
            self.gap = self.gap.max(f - self.last.unwrap_or(self.start));
            self.first.get_or_insert(f);
            self.last = day.last.or(Some(f));
        }
        for (a, b) in self.wh.iter_mut().zip(day.wh) {
            *a += b;
        }
        self.measured |= day.measured;
    }

    fn finish(&self, labels: &[usize]) -> Row {
        let (ps, pe) = (self.start, self.end);
        let mut wh = [None; N_ENERGY];
        if self.measured {
            for &k in labels {
                wh[k] = Some(self.wh[k]);
            }
        }
        let quality = self.quality && self.hours > 0;
        let gap = self.gap.max(pe - self.last.unwrap_or(ps));
        Row {
            start: ps,
            end: pe,
            wh,
            records: quality.then_some(self.records),
            coverage: quality.then(|| self.covered as f64 / (pe - ps) as f64),
            max_gap_s: quality.then_some(gap),
            first_record: self.first.filter(|_| quality),
            last_record: self.last.filter(|_| quality),
            flags: self.flags,
        }
    }
}

/// A whole day's hours summed as an export sums them into a longer period, and its contract
/// (the last its hours name): kept in a month file's footer beside the day's hours
/// ([`DayEntry::sums`]), so that an export in periods of whole days adds the day at once,
/// decoding none of its hours ([`Sums::add_day`]). Made from the very rows the file holds,
/// when it is written ([`Columns::day_sums`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DaySums {
    part: Part,
    /// The contract the day's hours name last.
    pub(crate) contract: Option<String>,
}

impl DaySums {
    fn to_json(&self) -> serde_json::Value {
        let p = &self.part;
        serde_json::json!({
            "start": p.start,
            "end": p.end,
            "hours": p.hours,
            "quality": p.quality,
            "flags": p.flags.names(),
            "records": p.records,
            "covered": p.covered,
            "gap": p.gap,
            "first": p.first,
            "last": p.last,
            "measured": p.measured,
            "wh": (0..N_ENERGY)
                .filter(|&k| p.wh[k] != 0)
                .map(|k| serde_json::json!([ENERGY_LABELS[k], p.wh[k]]))
                .collect::<Vec<_>>(),
            "contract": self.contract,
        })
    }

    /// The start of the day (its midnight), Unix seconds.
    pub(crate) fn start(&self) -> i64 {
        self.part.start
    }

    /// Whether they are the sums of `day`: from its midnight to the next.
    fn are_of(&self, day: NaiveDate) -> bool {
        crate::store::midnight(day) == Some(self.part.start)
            && day.succ_opt().and_then(crate::store::midnight) == Some(self.part.end)
            && self.part.hours as i64 * 3600 == self.part.end - self.part.start
    }
}

/// [`DaySums::to_json`]'s shape.
#[derive(serde::Deserialize)]
struct SumsText<'a> {
    start: i64,
    end: i64,
    hours: usize,
    quality: bool,
    #[serde(borrow)]
    flags: Cow<'a, str>,
    records: u64,
    covered: i64,
    gap: i64,
    first: Option<i64>,
    last: Option<i64>,
    measured: bool,
    #[serde(borrow)]
    wh: Vec<(&'a str, i64)>,
    #[serde(borrow)]
    contract: Option<Cow<'a, str>>,
}

impl SumsText<'_> {
    fn sums(self) -> Option<DaySums> {
        let mut wh = [0; N_ENERGY];
        for (label, v) in self.wh {
            wh[crate::tic::labels::energy_position(label)?] = v;
        }
        Some(DaySums {
            part: Part {
                start: self.start,
                end: self.end,
                measured: self.measured,
                wh,
                hours: self.hours,
                quality: self.quality,
                flags: Flags::from_names(&self.flags)?,
                records: self.records,
                covered: self.covered,
                gap: self.gap,
                first: self.first,
                last: self.last,
            },
            contract: self.contract.map(Cow::into_owned),
        })
    }
}

/// Hours summed into the periods between some bounds (each made of whole hours), as they
/// come, in order, exactly as an export of those periods computes them: Wh summed (a
/// period none of whose hours is measured has none; in one that is, a label an hour lacks
/// counts 0), records and covered seconds summed, flags joined, the longest gap the longest
/// of the hours' and of the stretches between the last record of an hour and the first of
/// the next hour with records (clipped to the period). An hour before the first bound or
/// after the last is left out.
pub(crate) struct Sums<'a> {
    bounds: &'a [i64],
    labels: &'a [usize],
    /// The period hours are added to: `bounds[at]..bounds[at + 1]`.
    at: usize,
    part: Part,
    rows: Vec<Row>,
}

impl<'a> Sums<'a> {
    /// Periods between `bounds`, their Wh those of `labels`.
    pub(crate) fn new(bounds: &'a [i64], labels: &'a [usize]) -> Sums<'a> {
        let first = Part::new(
            bounds.first().copied().unwrap_or(0),
            bounds.get(1).copied().unwrap_or(0),
        );
        Sums {
            bounds,
            labels,
            at: 0,
            part: first,
            rows: Vec::with_capacity(bounds.len().saturating_sub(1)),
        }
    }

    /// The period an hour starting at `start` belongs to (the periods before it closed);
    /// `None` when it lies outside the bounds.
    fn hour(&mut self, start: i64) -> Option<&mut Part> {
        let n = self.bounds.len().saturating_sub(1);
        if self.at >= n || start < self.part.start {
            return None;
        }
        while start >= self.part.end {
            self.rows.push(self.part.finish(self.labels));
            self.at += 1;
            if self.at >= n {
                return None;
            }
            self.part = Part::new(self.bounds[self.at], self.bounds[self.at + 1]);
        }
        Some(&mut self.part)
    }

    /// Adds a whole day's sums (see [`DaySums`]). Only for periods made of whole days (the
    /// day is added to the period its midnight is in).
    pub(crate) fn add_day(&mut self, day: &DaySums) {
        if let Some(part) = self.hour(day.part.start) {
            part.merge(&day.part);
        }
    }

    /// Adds an hour row.
    pub(crate) fn push(&mut self, h: &Row) {
        let Some(part) = self.hour(h.start) else {
            return;
        };
        part.add(&HourQuality {
            span: h.end - h.start,
            records: h.records,
            coverage: h.coverage,
            max_gap_s: h.max_gap_s,
            first_record: h.first_record,
            last_record: h.last_record,
            flags: h.flags,
        });
        let mut measured = false;
        for (k, v) in h.wh.iter().enumerate() {
            if let Some(v) = v {
                measured = true;
                part.wh[k] += v;
            }
        }
        part.measured |= measured;
    }

    /// One row per period.
    pub(crate) fn finish(mut self) -> Vec<Row> {
        let n = self.bounds.len().saturating_sub(1);
        while self.at < n {
            self.rows.push(self.part.finish(self.labels));
            self.at += 1;
            if self.at < n {
                self.part = Part::new(self.bounds[self.at], self.bounds[self.at + 1]);
            }
        }
        self.rows
    }
}

/// Sums consecutive hour rows into the periods between `bounds` (each made of whole hours
/// the rows cover), exactly as an export of those periods computes them: Wh summed (a
/// period none of whose hours is measured has none; in one that is, a label an hour lacks
/// counts 0), records and covered seconds summed, flags joined, the longest gap the longest
/// of the hours' and of the stretches between the last record of an hour and the first of
/// the next hour with records (clipped to the period).
pub fn aggregate(hours: &[Row], bounds: &[i64], labels: &[usize]) -> Vec<Row> {
    let mut sums = Sums::new(bounds, labels);
    for h in hours {
        sums.push(h);
    }
    sums.finish()
}

/// The names the pairs `(NTARF, LTARF)` of `tariffs` give, for a file's metadata.
pub fn tariff_names(tariffs: &Tariffs) -> Vec<(u8, String)> {
    (1..=10u8)
        .filter_map(|n| tariffs.name(n).map(|l| (n, l.to_owned())))
        .collect()
}

/// The year and month of a day, `YYYY-MM`.
pub fn month_of(day: NaiveDate) -> (i32, u32) {
    (day.year(), day.month())
}

// ---- Keeping the dataset on disk ----

/// The version of the footer text of a periods month file (key
/// [`crate::store::periods::META_KEY`]). 2: each day's sums (`DaySums`) beside its run;
/// a file of format 1 (without them) is still read, its days' hours summed, and written
/// again in format 2 by the next refresh.
pub const META_FORMAT: u64 = 2;

/// A file a run of hours was computed from, as the catalog saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Source {
    day: NaiveDate,
    name: String,
    len: u64,
    mtime_ns: i128,
}

/// What a run of hours was computed from ([`compute`] over `[from, to]`), so that its hours
/// are used only while that still holds: every day with files in `[first, last]` (the
/// days read before, in and after the range), with the name, length and modification time
/// of each file. When the records read after the range were fewer than an export reads
/// (`open_end`: the data ended), a day added after `last` changes the last hours; when the
/// days read before were every day before (`open_start`), so does a day added before
/// `first`. When they were as many, the last day's CSV files may have grown since (rows
/// appended after the ones read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Basis {
    first: NaiveDate,
    last: NaiveDate,
    open_start: bool,
    open_end: bool,
    files: Vec<Source>,
    /// The `(NTARF, LTARF)` names the run learned.
    tariffs: Vec<(u8, String)>,
}

impl Basis {
    pub(crate) fn of(run: &Run, store: &Catalog) -> Basis {
        let first = run.trail.first.map_or(run.from, |f| f.min(run.from));
        let last = run.trail.last.map_or(run.to, |l| l.max(run.to));
        let files = store
            .days(first, last)
            .flat_map(|(day, f)| {
                f.files().map(move |e| Source {
                    day,
                    name: file_name(&e.path),
                    len: e.len,
                    mtime_ns: e.mtime_ns,
                })
            })
            .collect();
        Basis {
            first,
            last,
            open_start: run.trail.back_all,
            open_end: !run.trail.ahead_complete(),
            files,
            tariffs: tariff_names(&run.table.tariffs),
        }
    }

    /// Whether the days it was computed from are still as they were in `store`.
    fn holds(&self, store: &Catalog) -> bool {
        if self.open_start && store.before(self.first).next().is_some() {
            return false;
        }
        if self.open_end && store.after(self.last).next().is_some() {
            return false;
        }
        let mut want = self.files.iter().peekable();
        for (day, f) in store.days(self.first, self.last) {
            let grown_ok = day == self.last && !self.open_end && f.parquet.is_none();
            let mut n = 0;
            for e in f.files() {
                let Some(w) = want.next_if(|w| w.day == day) else {
                    return false;
                };
                n += 1;
                let same = w.name == file_name(&e.path)
                    && if grown_ok {
                        e.len >= w.len
                    } else {
                        e.len == w.len && e.mtime_ns == w.mtime_ns
                    };
                if !same {
                    return false;
                }
            }
            if n == 0 {
                return false;
            }
        }
        want.next().is_none()
    }

    fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        json!({
            "first": self.first.to_string(),
            "last": self.last.to_string(),
            "open_start": self.open_start,
            "open_end": self.open_end,
            "files": self.files.iter().map(|f| json!([
                f.day.to_string(), f.name, f.len, f.mtime_ns.to_string()
            ])).collect::<Vec<_>>(),
            "tariffs": self.tariffs.iter().map(|(n, l)| json!([n, l])).collect::<Vec<_>>(),
        })
    }
}

/// [`MonthMeta::to_text`]'s shape, for reading it back (strings borrowed from the text
/// unless escaped).
#[derive(serde::Deserialize)]
struct MetaText<'a> {
    format: u64,
    #[serde(borrow)]
    days: Vec<DayText<'a>>,
    #[serde(borrow)]
    runs: Vec<BasisText<'a>>,
}

#[derive(serde::Deserialize)]
struct DayText<'a> {
    #[serde(borrow)]
    day: Cow<'a, str>,
    run: u64,
    /// Registry labels (letters and digits: borrowed from the text, never escaped).
    #[serde(borrow)]
    labels: Vec<&'a str>,
    #[serde(default, borrow)]
    sums: Option<SumsText<'a>>,
}

/// A file of [`Basis::to_json`]: `[day, name, length, mtime_ns]` (the day and time, digits
/// and dashes, borrowed from the text; a name may be escaped).
type SourceText<'a> = (&'a str, Cow<'a, str>, u64, &'a str);

/// [`Basis::to_json`]'s shape: files as `[day, name, length, mtime_ns]`, tariffs as
/// `[NTARF, LTARF]`.
#[derive(serde::Deserialize)]
struct BasisText<'a> {
    #[serde(borrow)]
    first: Cow<'a, str>,
    #[serde(borrow)]
    last: Cow<'a, str>,
    open_start: bool,
    open_end: bool,
    #[serde(borrow)]
    files: Vec<SourceText<'a>>,
    #[serde(borrow)]
    tariffs: Vec<(u64, Cow<'a, str>)>,
}

impl BasisText<'_> {
    fn basis(self) -> Option<Basis> {
        let files = self
            .files
            .into_iter()
            .map(|(day, name, len, mtime)| {
                Some(Source {
                    day: parse_day(day)?,
                    name: name.into_owned(),
                    len,
                    mtime_ns: mtime.parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let tariffs = self
            .tariffs
            .into_iter()
            .map(|(n, l)| Some((u8::try_from(n).ok()?, l.into_owned())))
            .collect::<Option<Vec<_>>>()?;
        Some(Basis {
            first: parse_day(&self.first)?,
            last: parse_day(&self.last)?,
            open_start: self.open_start,
            open_end: self.open_end,
            files,
            tariffs,
        })
    }
}

/// A day as [`MonthMeta::to_text`] writes it, `YYYY-MM-DD` (a text is read at every export;
/// chrono's general parser was about 8 % of its parse in `perf`).
fn parse_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A day of a month file: the run its hours come from, the energy labels of its files, and
/// its day summary (the export's summary of a day), which holds while the run does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayEntry {
    /// The day.
    pub day: NaiveDate,
    pub(crate) run: usize,
    /// Positions in [`ENERGY_LABELS`] of the indexes its files have.
    pub labels: Vec<usize>,
    pub(crate) summary: Option<String>,
    /// Its hours summed (`None`: not kept, a file of format 1, or hours not whole).
    pub(crate) sums: Option<DaySums>,
}

/// The footer text of a month file: its days and the runs they come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthMeta {
    /// The days, in order.
    pub days: Vec<DayEntry>,
    pub(crate) runs: Vec<Basis>,
    /// The format it was read in ([`META_FORMAT`] or an older one still read; 0 for one
    /// being made).
    pub(crate) format: u64,
}

impl MonthMeta {
    /// The text kept in the file's footer.
    pub fn to_text(&self) -> String {
        serde_json::json!({
            "format": META_FORMAT,
            "days": self.days.iter().map(|d| {
                let mut v = serde_json::json!({
                    "day": d.day.to_string(),
                    "run": d.run,
                    "labels": d.labels.iter().map(|&k| ENERGY_LABELS[k]).collect::<Vec<_>>(),
                });
                if let Some(s) = &d.sums {
                    v["sums"] = s.to_json();
                }
                v
            }).collect::<Vec<_>>(),
            "runs": self.runs.iter().map(Basis::to_json).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// The footer text read back; `None` for one that is not ours (or of another format).
    /// Parsed straight into its shape (a month file's text is read at every export, twelve
    /// for a year: through `serde_json::Value` it was a fifth of a warm `export --month`).
    pub fn from_text(text: &str) -> Option<MonthMeta> {
        let m: MetaText<'_> = serde_json::from_str(text).ok()?;
        if !(1..=META_FORMAT).contains(&m.format) {
            return None;
        }
        let runs = m
            .runs
            .into_iter()
            .map(BasisText::basis)
            .collect::<Option<Vec<_>>>()?;
        let days = m
            .days
            .into_iter()
            .map(|d| {
                let labels = d
                    .labels
                    .iter()
                    .map(|l| crate::tic::labels::energy_position(l))
                    .collect::<Option<Vec<_>>>()?;
                let run = usize::try_from(d.run).ok()?;
                (run < runs.len()).then_some(())?;
                let day = parse_day(&d.day)?;
                // Sums that are not of the day are not used (its hours are).
                let sums = match d.sums {
                    Some(s) => Some(s.sums()?).filter(|s| s.are_of(day)),
                    None => None,
                };
                Some(DayEntry {
                    day,
                    run,
                    labels,
                    summary: None,
                    sums,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(MonthMeta {
            days,
            runs,
            format: m.format,
        })
    }

    /// Whether every day keeps its sums (`DayEntry::sums`).
    pub fn all_summed(&self) -> bool {
        self.days.iter().all(|d| d.sums.is_some())
    }

    /// The day summaries, kept apart in the file (read only when asked for): a JSON object
    /// of day to text.
    pub fn summaries_text(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .days
            .iter()
            .filter_map(|d| Some((d.day.to_string(), d.summary.clone()?.into())))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// Puts back the day summaries of [`MonthMeta::summaries_text`].
    pub fn with_summaries(mut self, text: &str) -> MonthMeta {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) {
            for d in &mut self.days {
                d.summary = map
                    .get(&d.day.to_string())
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
            }
        }
        self
    }

    /// Whether each run's days still hold for `store` (in the order of the runs; [`holds`]
    /// for many days at once).
    ///
    /// [`holds`]: MonthMeta::holds
    pub fn runs_hold(&self, store: &Catalog) -> Vec<bool> {
        self.runs.iter().map(|r| r.holds(store)).collect()
    }

    /// Whether the hours of `day` hold, given [`MonthMeta::runs_hold`].
    pub fn holds_given(&self, day: NaiveDate, runs: &[bool]) -> bool {
        self.days
            .iter()
            .find(|d| d.day == day)
            .is_some_and(|d| runs.get(d.run).copied().unwrap_or(false))
    }

    /// Whether the hours of `day` are there and still hold for `store`.
    pub fn holds(&self, day: NaiveDate, store: &Catalog) -> bool {
        self.days
            .iter()
            .find(|d| d.day == day)
            .is_some_and(|d| self.runs[d.run].holds(store))
    }

    /// The day summary of `day`, while its hours hold for `store`.
    pub(crate) fn summary(&self, day: NaiveDate, store: &Catalog) -> Option<DaySummary> {
        let e = self.days.iter().find(|d| d.day == day)?;
        if !self.runs[e.run].holds(store) {
            return None;
        }
        DaySummary::from_text(e.summary.as_deref()?)
    }

    /// The `(NTARF, LTARF)` names the run of `day` learned.
    pub fn tariffs(&self, day: NaiveDate) -> &[(u8, String)] {
        self.days
            .iter()
            .find(|d| d.day == day)
            .map_or(&[], |d| &self.runs[d.run].tariffs)
    }
}

/// The day summaries kept in the periods dataset's month files, read once a month for a run
/// of [`super::feed`] (an archived day's footer no longer holds its summary).
#[derive(Default)]
pub(crate) struct KeptSummaries {
    months: std::collections::HashMap<(i32, u32), Option<MonthMeta>>,
}

impl KeptSummaries {
    /// The summary of `day` kept with its hours, while they hold for `store`.
    pub(crate) fn get(&mut self, store: &Catalog, day: NaiveDate) -> Option<DaySummary> {
        let (y, m) = month_of(day);
        let meta = self.months.entry((y, m)).or_insert_with(|| {
            let path = crate::store::periods::month_path(store.dir(), y, m);
            let file = crate::store::periods::read(&path, &schema()).ok()??;
            let meta = MonthMeta::from_text(file.meta.as_deref()?)?;
            Some(meta.with_summaries(&file.extra()?))
        });
        meta.as_ref()?.summary(day, store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::accumulator::Accumulator;
    use crate::export::reader::Reading as Record;
    use crate::export::{boundaries, Period};

    /// The columns an export reads are the schema's, but for the meter and the mode: the
    /// times, the day, the contract, every index and the quality columns.
    #[test]
    fn row_columns_are_the_schemas_but_identity_and_mode() {
        let schema = schema();
        let all: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let want: Vec<&str> = all
            .iter()
            .copied()
            .filter(|n| !["meter_id", "mode"].contains(n) && !CLASSES.contains(n))
            .collect();
        assert_eq!(*ROW_COLUMNS, want);
    }

    /// A month file's footer text reads back as written, escaped strings included, and a
    /// text that is not ours (another format, a run that does not exist, a label that is no
    /// energy index, a field missing) reads as none.
    #[test]
    fn month_texts_read_back() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let meta = MonthMeta {
            days: vec![
                DayEntry {
                    day: d("2026-03-29"),
                    run: 0,
                    labels: vec![0, 1, 2],
                    summary: None,
                    sums: Some(DaySums {
                        part: Part {
                            wh: std::array::from_fn(|k| [0, 7, -3].get(k).copied().unwrap_or(0)),
                            measured: true,
                            hours: 23,
                            quality: false,
                            flags: Flags::GAP,
                            records: 8_000,
                            covered: 80_000,
                            gap: 1_200,
                            first: Some(1_774_738_805),
                            last: Some(1_774_821_595),
                            ..Part::new(1_774_738_800, 1_774_821_600)
                        },
                        contract: Some("Tempo \"bleu\"".into()),
                    }),
                },
                DayEntry {
                    day: d("2026-03-30"),
                    run: 1,
                    labels: vec![],
                    summary: None,
                    sums: None,
                },
            ],
            runs: vec![
                Basis {
                    first: d("2026-03-28"),
                    last: d("2026-03-29"),
                    open_start: true,
                    open_end: false,
                    files: vec![Source {
                        day: d("2026-03-29"),
                        name: "2026-03-29 \"copy\" \\ é.parquet".into(),
                        len: 12_345,
                        mtime_ns: -1_700_000_000_123_456_789,
                    }],
                    tariffs: vec![(1, "HEURE  CREUSE".into()), (2, "Heure \"pleine\"".into())],
                },
                Basis {
                    first: d("2026-03-30"),
                    last: d("2026-03-30"),
                    open_start: false,
                    open_end: true,
                    files: vec![],
                    tariffs: vec![],
                },
            ],
            format: 0,
        };
        let text = meta.to_text();
        assert_eq!(
            MonthMeta::from_text(&text),
            Some(MonthMeta {
                format: META_FORMAT,
                ..meta.clone()
            })
        );
        // Format 1 (no sums) is still read, its days without sums.
        let days = |m: Option<MonthMeta>| {
            m.map(|m| {
                (
                    m.format,
                    m.days.iter().map(|d| d.sums.is_some()).collect::<Vec<_>>(),
                )
            })
        };
        let old = text.replacen("\"format\":2", "\"format\":1", 1);
        let old = old.replace(
            &meta.days[0]
                .sums
                .as_ref()
                .expect("sums")
                .to_json()
                .to_string(),
            "null",
        );
        assert_eq!(
            days(MonthMeta::from_text(&old)),
            Some((1, vec![false, false])),
            "{old}"
        );
        // Sums that are not of their day (a start an hour off) are not used; the day is.
        let off = text.replacen("\"start\":1774738800", "\"start\":1774742400", 1);
        assert_eq!(
            days(MonthMeta::from_text(&off)),
            Some((2, vec![false, false])),
            "{off}"
        );
        for (from, to) in [
            ("\"format\":2", "\"format\":3"),
            ("\"flags\":\"gap\"", "\"flags\":\"gape\""),
            ("[\"EASF02\",-3]", "[\"EASF99\",-3]"),
            ("\"run\":1", "\"run\":2"),
            ("\"EASF01\"", "\"SINSTS\""),
            ("\"open_end\":true", "\"open_ends\":true"),
            ("\"day\":\"2026-03-30\"", "\"day\":\"2026-03-32\""),
        ] {
            assert!(text.contains(from), "{from} in {text}");
            let bad = text.replacen(from, to, 1);
            assert_eq!(MonthMeta::from_text(&bad), None, "{bad}");
        }
        assert_eq!(MonthMeta::from_text("not json"), None);
    }

    fn rec(t: i64, east: i64, hc: i64) -> Record {
        let mut r = Record {
            time: t,
            meter: "041876097171".into(),
            contract: "H PLEINE/CREUSE".into(),
            ..Record::default()
        };
        r.energy[0] = Some(east);
        r.energy[1] = Some(hc);
        r.energy[2] = Some(east - hc);
        r.power_va = Some(9000);
        r
    }

    /// Random records (gaps of every length, glitches, days of 23 and 25 hours) fed once with
    /// hour boundaries and once with longer periods: summing the hours gives the longer
    /// periods exactly, quality columns included.
    #[test]
    fn hours_sum_to_the_longer_periods() {
        // 2026-03-28 00:00 local (+01:00) to 2026-04-01, across the March DST day, and
        // 2026-10-24 to 10-27 across October's.
        // One gap in `gaps` records (long gaps often across a midnight: seeds 6 to 9).
        for (seed, t0, days, gaps) in [
            (1u64, 1_774_652_400i64, 4i64, 500u32),
            (2, 1_774_652_400, 4, 500),
            (3, 1_792_792_800, 4, 500),
            (4, 1_792_792_800, 4, 500),
            (5, 1_774_652_400, 4, 500),
            (6, 1_774_652_400, 4, 40),
            (7, 1_792_792_800, 4, 40),
            (8, 1_774_652_400, 4, 15),
            (9, 1_792_792_800, 4, 15),
        ] {
            let mut rng = fastrand::Rng::with_seed(seed);
            let (mut t, mut east, mut hc) = (t0 + rng.i64(0..3000), 1_000_000i64, 400_000i64);
            let end = t0 + days * 86_400 + 3600 * 2;
            let mut recs = Vec::new();
            while t < end {
                let step = rng.i64(0..5);
                east += step;
                if rng.bool() {
                    hc += step;
                }
                let mut r = rec(t, east, hc);
                match rng.u32(0..3000) {
                    0 => r.energy[0] = Some(0),
                    1 => r.energy[1] = Some(hc + 1_000_000),
                    _ => {}
                }
                recs.push(r);
                t += match rng.u32(0..gaps) {
                    0 => rng.i64(300..20_000),
                    _ => rng.i64(1..90),
                };
            }
            let from = crate::store::local_day(t0).expect("day");
            let to = from + chrono::Days::new(days as u64 - 1);
            let present = [0, 1, 2];
            let run = |period| {
                let bounds = boundaries(period, from, to).expect("bounds");
                let mut a = Accumulator::with_probes(bounds, Vec::new());
                recs.iter().for_each(|r| a.feed(r));
                a.finish(&present, true)
            };
            let hours = run(Period::Hour);
            // The hours as a month file holds them, each day's sums made from its rows and
            // read back from the footer text.
            let hours_run = Run {
                from,
                to,
                table: hours.clone(),
                ids: Vec::new(),
                trail: Trail::default(),
            };
            let batch = to_batch(&hours_run, from, to).expect("batch");
            let cols = Columns::of(&batch).expect("columns");
            let meta = MonthMeta {
                days: cols
                    .whole_days()
                    .into_iter()
                    .map(|(day, rows, start)| DayEntry {
                        day,
                        run: 0,
                        labels: present.to_vec(),
                        summary: None,
                        sums: Some(cols.day_sums(rows, start)),
                    })
                    .collect(),
                runs: vec![Basis::of(
                    &hours_run,
                    &Catalog::open(tempfile::tempdir().expect("tempdir").path()).expect("catalog"),
                )],
                format: 0,
            };
            assert_eq!(
                meta.days.len(),
                days as usize,
                "seed {seed}: every day whole"
            );
            let meta = MonthMeta::from_text(&meta.to_text()).expect("read back");
            for period in [Period::Day, Period::Week, Period::Month, Period::Year] {
                let want = run(period);
                let bounds = boundaries(period, from, to).expect("bounds");
                let got = aggregate(&hours.rows, &bounds, &present);
                assert_eq!(got, want.rows, "seed {seed} {period:?}");
                // Whole days added at once: the same, to every quality column.
                let mut sums = Sums::new(&bounds, &present);
                for d in &meta.days {
                    sums.add_day(d.sums.as_ref().expect("sums"));
                }
                assert_eq!(
                    sums.finish(),
                    want.rows,
                    "seed {seed} {period:?} from day sums"
                );
            }
        }
    }

    #[test]
    fn days_parse_as_written() {
        let mut d = NaiveDate::from_ymd_opt(1999, 12, 25).expect("date");
        while d.year() < 2101 {
            assert_eq!(parse_day(&d.to_string()), Some(d));
            d = d + chrono::Days::new(7);
        }
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-3-01",
            "2026-03-1",
            "2026/03/01",
            "20260301",
            "2026-03-01 ",
            "+026-03-01",
            "2026-0a-01",
            "",
            "2026-03-01T00",
        ] {
            assert_eq!(parse_day(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_day("2028-02-29"),
            NaiveDate::from_ymd_opt(2028, 2, 29)
        );
    }

    #[test]
    fn contract_names() {
        for (raw, want) in [
            ("H PLEINE/CREUSE ", Some("HC/HP")),
            ("HC..", Some("HC/HP")),
            ("TEMPO", Some("Tempo")),
            ("BBR(", Some("Tempo")),
            ("BASE", Some("Base")),
            ("EJP.", Some("EJP")),
            ("  ZEN Flex ", Some("ZEN Flex")),
            ("", None),
        ] {
            assert_eq!(contract_name(raw).as_deref(), want, "{raw:?}");
        }
    }
}
