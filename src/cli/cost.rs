//! `tic-rec cost`: what the recorded energy cost, and what Base, HC/HP, Tempo (EJP, a
//! `--prices` offer) would have cost, per period, as a table, CSV or Parquet. The library
//! ([`tic_rec::cost::report`]) computes; this module parses and formats.

use anyhow::Result;
use tic_rec::cost::output as cost_output;
use tic_rec::cost::{self, HcSchedule, Origin, PriceFile, Tariff, TempoCalendar};
use tic_rec::error::Chain;
use tic_rec::export::output::{self, Format as OutFormat};
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
    /// HC hours of the HC/HP what-if (default: those the meter switches at, else 22:00-06:00).
    #[arg(long, value_name = "HH:MM-HH:MM[,…]", value_parser = parse_hc)]
    hc: Option<HcSchedule>,
    /// Tempo colours (CSV `date,colour`) beyond or instead of the shipped calendar.
    #[arg(long, value_name = "FILE", value_parser = parse_tempo_calendar)]
    tempo_calendar: Option<TempoCalendar>,
    /// Another supplier's offer (TOML, see examples/prices-example.toml), priced as an
    /// alternative.
    #[arg(long, value_name = "FILE", value_parser = parse_prices)]
    prices: Option<PriceFile>,
    /// Price the actual energy with the --prices offer (what you pay your supplier) instead
    /// of the regulated grid.
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
        }
    }
}

/// `actual contract HC/HP 6 kVA: option from the meter ("H PLEINE/CREUSE"), power from the
/// meter (6 kVA); energy from the meter's registers`.
fn describe(c: &cost::Contract) -> String {
    let option = match &c.tariff_origin {
        Origin::Meter(v) => format!("from the meter ({v:?})"),
        Origin::Given => "given".to_owned(),
    };
    let power = match &c.kva_origin {
        Origin::Meter(v) => format!("from the meter ({v} kVA)"),
        Origin::Given => "given".to_owned(),
    };
    let energy = match c.energy {
        cost::EnergyFrom::Registers => "the meter's registers",
        cost::EnergyFrom::TotalIndex => "the total index",
    };
    format!(
        "actual contract {}: option {option}, power {power}; energy from {energy}",
        c.label()
    )
}

pub fn run(args: Args) -> Result<()> {
    let (store, format, mut sink) = args.io.open("cost")?;
    let mut progress = Progress(None);
    let report = cost::report(&store, &args.options(), &mut progress)?;
    drop(progress);
    if let Some(c) = &report.contract {
        eprintln!("note: {}", describe(c));
    }
    for n in &report.notes {
        let kind = if n.is_warning() { "warning" } else { "note" };
        eprintln!("{kind}: {n}");
    }
    let columns = cost_output::columns(&report);
    let summary = report.total.as_ref().map(cost::WhatIf::summary);
    match format {
        OutFormat::Csv => output::write_csv(&columns, sink.writer())?,
        OutFormat::Parquet => output::write_parquet(&columns, sink.writer())?,
        OutFormat::Table => {
            output::write_table(&cost_output::table_columns(columns), sink.writer())?;
            if let Some(s) = &summary {
                writeln!(sink.writer(), "{s}")?;
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
