//! `tic-rec tariffs`: what prices and Tempo colours are in force, and `tic-rec tariffs update`
//! to fetch the official ones again. The library ([`tic_rec::cost::tables`],
//! [`tic_rec::cost::update`]) reads, verifies and keeps them; this module parses and prints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use tic_rec::cost::grid::Source;
use tic_rec::cost::tables::Tables;
use tic_rec::cost::update::{self, Files, From, Http};
use tic_rec::cost::Tariff;
use tic_rec::store::TZ;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// The data directory whose tables to show or update (the update is kept in it).
    #[arg(long, default_value = "tic-data", global = true)]
    data_dir: PathBuf,
    /// The day to take as today (tests; default: the local date now).
    #[arg(long, hide = true, global = true, value_parser = super::export::parse_date)]
    today: Option<NaiveDate>,
    /// The power whose prices in force to show, kVA.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u8).range(1..=36))]
    kva: u8,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Fetch the official price grids (data.gouv.fr) and Tempo colours (RTE), verify them and
    /// keep them in the data directory; a failed update changes nothing.
    Update(UpdateArgs),
}

#[derive(Debug, clap::Args)]
struct UpdateArgs {
    /// A mirror (http:// or https:// address) or an offline copy (a directory) holding
    /// Option_Base.csv, Option_HPHC.csv, Option_Tempo.csv and tempo_YYYY-YYYY.json, instead of
    /// the publishers.
    #[arg(long, value_name = "URL|DIR")]
    source: Option<String>,
    /// The longest wait for each file.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 2min)"))
}

/// Tables last checked longer ago than this are said to be stale.
const STALE_DAYS: i64 = 30;

pub fn run(args: Args) -> Result<()> {
    super::setup::check_data_dir(&args.data_dir)?;
    let today = args
        .today
        .unwrap_or_else(|| Utc::now().with_timezone(&TZ).date_naive());
    match args.action {
        None => show(&args.data_dir, args.kva, today),
        Some(Action::Update(u)) => run_update(&args.data_dir, &u, today),
    }
}

fn run_update(data_dir: &std::path::Path, a: &UpdateArgs, today: NaiveDate) -> Result<()> {
    let now = Utc::now();
    let from = a.source.as_deref().map_or(From::Publishers, From::parse);
    let options = update::Options {
        from: from.clone(),
        today,
        at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        generation: now.format("%Y%m%dT%H%M%SZ").to_string(),
    };
    let mut http;
    let mut files;
    let fetch: &mut dyn update::Fetch = match from {
        From::Dir(_) => {
            files = Files;
            &mut files
        }
        _ => {
            http = Http::new(a.timeout);
            &mut http
        }
    };
    let before = Tables::load(data_dir)?;
    match update::update(data_dir, &options, fetch) {
        Ok(report) => {
            println!("{report}");
            Ok(())
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "tariffs update failed, nothing was changed (prices in use: {})",
                before.prices_from()
            )
        }),
    }
}

/// `3–15 kVA`, `6, 9 kVA`, `3–15, 24 kVA`: runs of consecutive household powers joined.
fn powers(kvas: &[u8]) -> String {
    use tic_rec::cost::opendata::POWERS;
    let pos = |k: u8| POWERS.iter().position(|&p| p == k);
    let mut runs: Vec<(u8, u8)> = Vec::new();
    for &k in kvas {
        match runs.last_mut() {
            Some((_, b)) if pos(k).is_some() && pos(*b).map(|i| i + 1) == pos(k) => *b = k,
            _ => runs.push((k, k)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(
            |&(a, b)| match (a == b, pos(b).zip(pos(a)).is_some_and(|(j, i)| j == i + 1)) {
                (true, _) => a.to_string(),
                (false, true) => format!("{a}, {b}"),
                (false, false) => format!("{a}–{b}"),
            },
        )
        .collect();
    format!("{} kVA", parts.join(", "))
}

/// The widest line `tic-rec tariffs` prints (an 80-column terminal shows most of them whole),
/// and the indent of a grid's continued line.
const WIDTH: usize = 100;
const INDENT: &str = "           ";

fn show(data_dir: &std::path::Path, kva: u8, today: NaiveDate) -> Result<()> {
    let t = Tables::load(data_dir)?;
    if let Some(p) = t.problem() {
        println!("warning: {p}");
    }
    println!("Prices: {}", t.prices_from());
    for tariff in Tariff::ALL {
        // The last grid of each power, grouped by its first day and source.
        let mut last: BTreeMap<(NaiveDate, Source), Vec<u8>> = BTreeMap::new();
        for ((tf, k), list) in t.grids().all() {
            if tf != tariff {
                continue;
            }
            if let Some(g) = list.last() {
                last.entry((g.valid_from, g.source)).or_default().push(k);
            }
        }
        let parts: Vec<String> = last
            .iter()
            .rev()
            .map(|((from, source), kvas)| {
                format!("{} from {from} ({})", powers(kvas), source.describe())
            })
            .collect();
        let line = format!("  {:<6} {}", tariff.display_name(), parts.join("; "));
        println!("{}", super::text::wrap(&line, WIDTH, "         "));
        match t.grids().lookup(tariff, kva, today) {
            Ok(f) => {
                let bands: Vec<String> = tariff
                    .bands()
                    .iter()
                    .zip(&f.grid.kwh)
                    .map(|(b, p)| format!("{b} {p}"))
                    .collect();
                let line = format!(
                    "         today at {kva} kVA: {} €/kWh, {} €/year{}",
                    bands.join(", "),
                    f.grid.subscription.annual(),
                    if f.beyond_known {
                        " (the last known grid: a newer one may be in force)"
                    } else {
                        ""
                    }
                );
                println!("{}", super::text::wrap(&line, WIDTH, INDENT));
            }
            Err(e) => {
                let line = format!("         today at {kva} kVA: {}", tic_rec::error::Chain(&e));
                println!("{}", super::text::wrap(&line, WIDTH, INDENT));
            }
        }
    }
    match t.tempo().span() {
        Some((first, last)) => {
            let parts: Vec<String> = t
                .tempo()
                .sources_between(first, last)
                .iter()
                .map(|(s, n)| {
                    let until = t
                        .tempo()
                        .last_from(*s)
                        .map_or_else(String::new, |d| format!(" to {d}"));
                    format!("{n} days from {}{until}", s.describe())
                })
                .collect();
            let line = format!("Tempo colours: {first} to {last}: {}", parts.join(", "));
            println!("{}", super::text::wrap(&line, WIDTH, "  "));
        }
        None => println!("Tempo colours: none"),
    }
    println!("  (a Tempo meter's own colours, as recorded, are used for the days it recorded)");
    match t.update() {
        Some(u) => {
            println!(
                "Last update: {} (kept in {}/{})",
                u.at,
                tic_rec::store::TariffTables::new(data_dir).dir().display(),
                u.generation
            );
            for f in &u.files {
                println!("  {:<22} {} ({})", f.name, f.from, f.publisher);
            }
        }
        None => println!("Last update: none (the tables shipped with tic-rec)"),
    }
    let checked = t.prices_until();
    let age = (today - checked).num_days();
    if age > STALE_DAYS {
        let line = format!(
            "warning: prices and colours last checked on {checked}, {age} days ago: run `tic-rec tariffs update` (a daily timer keeps them current: see the tariffs guide)"
        );
        println!("{}", super::text::wrap(&line, WIDTH, "  "));
    }
    Ok(())
}
