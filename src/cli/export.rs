//! `tic-rec export`: per-period consumption (or the recorded rows) as a table, CSV or Parquet.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use tic_rec::export::output::{self, Format as OutFormat, RecordWriter};
use tic_rec::export::{self as ex, ExportObserver, Options, Period, ReadMode};
use tic_rec::store::fs::{AtomicFile, Durability, RealFs};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("period").args(["hour", "day", "week", "month", "year", "records"])))]
pub struct Args {
    /// One row per hour (a UTC hour: 25 on the October DST day, 23 in March).
    #[arg(long)]
    hour: bool,
    #[command(flatten)]
    days: Days,
    /// Export the recorded rows themselves instead of per-period consumption.
    #[arg(long)]
    records: bool,
    #[command(flatten)]
    io: Io,
    /// Read every row and neither read nor write the summary index (same result, slower).
    #[arg(long, conflicts_with = "records")]
    no_index: bool,
    /// In the table: every energy column, even those without energy in the range or that
    /// repeat another (CSV and Parquet always have every column).
    #[arg(long)]
    all_columns: bool,
}

/// The periods of whole days, as `export` and `cost` take them (each command puts them in
/// its one-of group `period`).
#[derive(Debug, clap::Args)]
pub(super) struct Days {
    /// One row per local day (the default).
    #[arg(long)]
    day: bool,
    /// One row per ISO week (Monday to Sunday, local).
    #[arg(long)]
    week: bool,
    /// One row per calendar month.
    #[arg(long)]
    month: bool,
    /// One row per calendar year.
    #[arg(long)]
    year: bool,
}

impl Days {
    /// The period asked (a day by default).
    pub(super) fn period(&self) -> Period {
        if self.week {
            Period::Week
        } else if self.month {
            Period::Month
        } else if self.year {
            Period::Year
        } else {
            Period::Day
        }
    }
}

/// The range, the data directory and the output, as `export` and `cost` take them.
#[derive(Debug, clap::Args)]
pub(super) struct Io {
    /// First local day, inclusive (YYYY-MM-DD; default: the first recorded day).
    #[arg(long, value_parser = parse_date)]
    pub(super) from: Option<NaiveDate>,
    /// Last local day, inclusive (YYYY-MM-DD; default: the last recorded day).
    #[arg(long, value_parser = parse_date)]
    pub(super) to: Option<NaiveDate>,
    /// The directory the recorder writes to.
    #[arg(long, default_value = "tic-data")]
    pub(super) data_dir: PathBuf,
    /// Output format (default: `table` on a terminal, `parquet` for `-o *.parquet`, else `csv`).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write to FILE (atomically: nothing is written on failure) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl Io {
    /// Checks the range (`what`: "export", "cost") and the output format (Parquet needs
    /// -o), then opens the data directory and the output: the days, the format and where
    /// it goes.
    pub(super) fn open(&self, what: &str) -> Result<(ex::Catalog, OutFormat, Sink)> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                bail!("--from {from} is after --to {to}: nothing to {what}");
            }
        }
        let format = output_format(self.format, self.output.as_deref())?;
        super::setup::check_data_dir(&self.data_dir)?;
        let store = ex::open(&self.data_dir)?;
        let sink = Sink::open(self.output.as_deref())?;
        Ok((store, format, sink))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    /// Aligned columns for reading.
    Table,
    /// RFC 4180 CSV.
    Csv,
    /// Apache Parquet (needs -o).
    Parquet,
}

pub(super) fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("expected a date YYYY-MM-DD, found {s:?} ({e})"))
}

impl Args {
    fn period(&self) -> Period {
        if self.hour {
            Period::Hour
        } else {
            self.days.period()
        }
    }
}

/// The output format: `--format`, else Parquet for `-o *.parquet`, CSV for another `-o`, a
/// table on a terminal, CSV otherwise; Parquet needs `-o`.
pub(super) fn output_format(format: Option<Format>, output: Option<&Path>) -> Result<OutFormat> {
    let by_name = output.is_some_and(|o| {
        o.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    });
    let f = match (format, output) {
        (Some(Format::Parquet), None) => bail!("--format parquet needs -o FILE"),
        (Some(Format::Parquet), Some(_)) => OutFormat::Parquet,
        (Some(Format::Csv), _) => OutFormat::Csv,
        (Some(Format::Table), _) => OutFormat::Table,
        (None, Some(_)) if by_name => OutFormat::Parquet,
        (None, Some(_)) => OutFormat::Csv,
        (None, None) if io::stdout().is_terminal() => OutFormat::Table,
        (None, None) => OutFormat::Csv,
    };
    Ok(f)
}

/// Shows progress with a bar on a terminal when many files are read; nothing otherwise.
pub(super) struct Progress(pub(super) Option<ProgressBar>);

impl ExportObserver for Progress {
    fn start(&mut self, files: usize, _bytes: u64) {
        if files >= 20 && io::stderr().is_terminal() {
            let bar = ProgressBar::new(files as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} reading {pos}/{len} files {wide_bar} {eta}")
            {
                bar.set_style(style);
            }
            self.0 = Some(bar);
        }
    }

    fn file_done(&mut self, _path: &Path, _bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    fn note(&mut self, message: &str) {
        match &self.0 {
            Some(b) => b.suspend(|| eprintln!("note: {message}")),
            None => eprintln!("note: {message}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
    }
}

/// Where the output goes: standard output, or a temporary file renamed over `-o` at the end.
pub(super) enum Sink {
    Stdout(BufWriter<io::Stdout>),
    File(BufWriter<AtomicFile<'static>>, PathBuf),
}

impl Sink {
    pub(super) fn open(output: Option<&Path>) -> Result<Sink> {
        match output {
            None => Ok(Sink::Stdout(BufWriter::with_capacity(
                1 << 16,
                io::stdout(),
            ))),
            Some(path) => {
                let name = path.display().to_string();
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                // Errors name the user's path, never the temporary file beside it.
                if path.is_dir() {
                    bail!("cannot write {name:?}: it is a directory");
                }
                match std::fs::metadata(dir) {
                    Err(e) => return Err(e).with_context(|| format!("cannot write {name:?}")),
                    Ok(m) if !m.is_dir() => bail!(
                        "cannot write {name:?}: {:?} is not a directory",
                        dir.display().to_string()
                    ),
                    Ok(_) => {}
                }
                // 0666 before the umask, like any new file.
                let tmp = AtomicFile::create(&RealFs, path)
                    .with_context(|| format!("cannot write {name:?}"))?;
                Ok(Sink::File(BufWriter::new(tmp), path.to_path_buf()))
            }
        }
    }

    pub(super) fn writer(&mut self) -> &mut (dyn Write + Send) {
        match self {
            Sink::Stdout(w) => w,
            Sink::File(w, _) => w,
        }
    }

    pub(super) fn commit(self) -> Result<()> {
        match self {
            Sink::Stdout(mut w) => Ok(w.flush()?),
            Sink::File(w, path) => {
                let tmp = w.into_inner().map_err(|e| e.into_error())?;
                tmp.commit(Durability::Synced)
                    .with_context(|| format!("cannot write {:?}", path.display().to_string()))?;
                Ok(())
            }
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let options = Options {
        period: args.period(),
        from: args.io.from,
        to: args.io.to,
        mode: if args.no_index {
            ReadMode::Scan
        } else {
            ReadMode::Index
        },
    };
    // The periods dataset's month files are read while the days are listed.
    let prefetch = (!args.records && options.mode == ReadMode::Index)
        .then(|| ex::Prefetch::start(&args.io.data_dir, options.from, options.to, options.period));
    let (store, format, mut sink) = args.io.open("export")?;
    let mut progress = Progress(None);
    if args.records {
        let mut w = RecordWriter::new(format, sink.writer());
        ex::records(&store, args.io.from, args.io.to, &mut w, &mut progress)?;
    } else {
        let table = match prefetch {
            Some(p) => ex::export_prefetched(&store, &options, p, &mut progress)?,
            None => ex::export_store(&store, &options, &mut progress)?,
        };
        drop(progress);
        let columns = output::columns(&table);
        match format {
            OutFormat::Csv => output::write_csv(&columns, sink.writer())?,
            OutFormat::Table => output::write_table(
                &output::table_columns(columns, args.period(), args.all_columns),
                sink.writer(),
            )?,
            OutFormat::Parquet => output::write_parquet(&columns, sink.writer())?,
        }
    }
    sink.commit()
}
