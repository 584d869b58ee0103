//! `tic-rec cost`: what the recorded energy cost, and what Base, HC/HP, Tempo (EJP, a
//! `--prices` offer) would have cost, per period, as a table, CSV or Parquet. The library
//! ([`tic_rec::cost::report`]) computes; this module parses and formats.

use anyhow::Result;
use tic_rec::cost::output as cost_output;
use tic_rec::cost::{self, HcSchedule, PriceFile, Tariff, TempoCalendar};
use tic_rec::error::Chain;
use tic_rec::export::output::{self, Format as OutFormat, Values};
use tic_rec::export::ReadMode;

use super::export::{Days, Io, Progress};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("period").args(["day", "week", "month", "year"])))]
pub struct Args {
    #[command(flatten)]
    days: Days,
    #[command(flatten)]
    io: Io,
    /// The actual option, instead of the one the meter names (NGTF/OPTARIF).
    #[arg(long, value_name = "base|hchp|tempo|ejp", value_parser = parse_tariff)]
    contract: Option<Tariff>,
    /// The subscribed power in kVA, instead of the one the meter states (PREF/ISOUSC).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=36))]
    kva: Option<u8>,
    /// Also price HC/HP at these HC hours (besides the meter's own, learned from its
    /// switches, else 22:00-06:00).
    #[arg(long, value_name = "HH:MM-HH:MM[,…]", value_parser = parse_hc)]
    hc: Option<HcSchedule>,
    /// Tempo colours (CSV `date,colour`) beyond or instead of the shipped calendar.
    #[arg(long, value_name = "FILE", value_parser = parse_tempo_calendar)]
    tempo_calendar: Option<TempoCalendar>,
    /// Another supplier's offer (TOML, see examples/prices-example.toml), priced as an
    /// alternative; give it again for each offer.
    #[arg(long, value_name = "FILE", value_parser = parse_prices)]
    prices: Vec<PriceFile>,
    /// Price the actual energy with the first --prices offer (what you pay your supplier)
    /// instead of the regulated grid.
    #[arg(long, requires = "prices")]
    actual_prices: bool,
    /// Read every row and neither read nor write the summary index (same result, slower).
    #[arg(long)]
    no_index: bool,
}

fn parse_tariff(s: &str) -> Result<Tariff, String> {
    s.parse()
        .map_err(|e: cost::GridError| Chain(&e).to_string())
}

fn parse_hc(s: &str) -> Result<HcSchedule, String> {
    s.parse()
        .map_err(|e: cost::ScheduleError| Chain(&e).to_string())
}

fn parse_tempo_calendar(s: &str) -> Result<TempoCalendar, String> {
    TempoCalendar::read(std::path::Path::new(s)).map_err(|e| Chain(&e).to_string())
}

fn parse_prices(s: &str) -> Result<PriceFile, String> {
    PriceFile::read(std::path::Path::new(s)).map_err(|e| Chain(&e).to_string())
}

impl Args {
    fn options(&self) -> cost::Options {
        cost::Options {
            period: self.days.period(),
            from: self.io.from,
            to: self.io.to,
            mode: if self.no_index {
                ReadMode::Scan
            } else {
                ReadMode::Index
            },
            contract: self.contract,
            kva: self.kva,
            hc: self.hc.clone(),
            tempo_calendar: self.tempo_calendar.clone(),
            prices: self.prices.clone(),
            actual_prices: self.actual_prices,
            tables: None,
        }
    }
}

/// What the command line adds to a note: the flag that changes what it says.
fn hint(n: &cost::CostNote) -> &'static str {
    use cost::{CostNote as Note, ScheduleOrigin};
    match n {
        Note::Schedule {
            origin: ScheduleOrigin::Standard { .. },
            ..
        } => " (--hc prices other hours)",
        Note::Changed { .. } => " (cost each side with --from/--to)",
        Note::TempoUncoloured { .. } => {
            " (run `tic-rec tariffs update`, or give --tempo-calendar FILE)"
        }
        _ => "",
    }
}

/// A report failure with the flag that fixes it, when there is one.
fn with_hint(e: cost::ReportError) -> anyhow::Error {
    use cost::ReportError as E;
    let hint = match &e {
        E::NoContract { .. } | E::UnknownContract { .. } => ": give --contract base|hchp|tempo|ejp",
        E::NoKva { .. } | E::BadKva { .. } => ": give --kva N",
        E::Actual {
            from_meter: true, ..
        } => " (--contract and --kva give others)",
        _ => "",
    };
    if hint.is_empty() {
        anyhow::Error::new(e)
    } else {
        // The hint after the whole chain: what failed, why, then what to give.
        anyhow::anyhow!("{}{hint}", Chain(&e))
    }
}

pub fn run(args: Args) -> Result<()> {
    let (store, format, mut sink) = args.io.open("cost")?;
    let report_period = args.days.period();
    let mut progress = Progress(None);
    let report = cost::report(&store, &args.options(), &mut progress).map_err(with_hint)?;
    drop(progress);
    if let Some(c) = &report.contract {
        eprintln!("note: actual contract {}", c.describe());
    }
    for n in &report.notes {
        let kind = if n.is_warning() { "warning" } else { "note" };
        eprintln!("{kind}: {n}{}", hint(n));
    }
    let columns = cost_output::columns(&report);
    let summary = report.total.as_ref().map(cost::WhatIf::summary);
    match format {
        OutFormat::Csv => output::write_csv(&columns, sink.writer())?,
        OutFormat::Parquet => output::write_parquet(&columns, sink.writer())?,
        OutFormat::Table => {
            let unpriced = cost_output::unpriced_keys(&report);
            let mut table = cost_output::table_columns(columns, report_period, &unpriced);
            let flags = cost_output::export_flags(&report);
            if let Values::Text(f) = &flags.1 {
                if f.iter()
                    .any(|x| x.as_deref().is_some_and(|x| !x.is_empty()))
                {
                    table.push(flags);
                }
            }
            let names: Vec<&str> = table.iter().map(|(n, _)| n.as_str()).collect();
            let empty = |j: usize, i: usize| cost_output::empty_word(&report, names[j], i);
            output::write_table_saying(&table, &empty, sink.writer())?;
            if let Some(s) = &summary {
                writeln!(sink.writer(), "{}", super::text::wrap(s, 100, ""))?;
            }
        }
    }
    if format != OutFormat::Table {
        if let Some(s) = &summary {
            eprintln!("{s}");
        }
    }
    sink.commit()
}
