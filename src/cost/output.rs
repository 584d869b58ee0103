//! The columns of a cost [`Report`], for the export's writers ([`crate::export::output`]: CSV,
//! the table for reading, Parquet).
//!
//! Columns, in order: `period_start`, `period_end`, `contract` (`base`, `hchp`, `tempo`, `ejp`,
//! or the `--prices` offer's name), `kva`, `<band>_kwh` for each band of the actual contract
//! (`hc_kwh`, `hp_kwh`; `hc_bleu_kwh`…; `base_kwh`; a `--prices` band's name in lower case,
//! other characters as `_`), `total_kwh`, `actual_energy_eur`, `actual_subscription_eur`,
//! `actual_total_eur`, `<key>_total_eur` for each alternative (`base`, `hchp`, `tempo`,
//! `ejp`, `hchp_given` for HC/HP at `--hc` hours, and `offer` for a `--prices` offer, or
//! `offer1`, `offer2`… for several), `tempo_missing_days` (the days of the period with hours
//! of unknown Tempo colour: Tempo is then not priced), `cheapest` (the key of the cheapest:
//! the actual contract's on a tie), `records`, `coverage`, `max_gap_s`, `flags`
//! (the export's, and `beyond_last_grid`, `monthly_subscription`, `suspect_ejp_prices` when a
//! cost of the row was priced so).
//!
//! Types: kWh and € are exact decimals (`decimal128(18, 3)` and `decimal128(18, 2)` in
//! Parquet; € rounded half up to the cent, the exact sums being rounded only here); a cell
//! is empty when the period has no recorded day or the alternative could not be priced for
//! every hour of it (a partial sum is never given).

use std::collections::BTreeSet;

use super::report::{CostRow, Report};
use super::{Cost, Outcome};
use crate::export::output::{label_periods, period_columns, Values};
use crate::export::Period;

/// A band name as a column stem: `HC Bleu` → `hc_bleu`, `Week-end` → `week_end`.
pub fn stem(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

fn actual(r: &CostRow) -> Option<&Cost> {
    r.cost.as_ref().map(|w| &w.actual)
}

fn cents(c: Option<&Cost>, f: impl Fn(&Cost) -> super::Money) -> Option<i64> {
    c.map(|c| i64::try_from(f(c).cents()).unwrap_or(i64::MAX))
}

/// Every column of the report (CSV, Parquet).
pub fn columns(report: &Report) -> Vec<(String, Values)> {
    let rows = &report.rows;
    let mut out = period_columns(rows.iter().map(|r| (r.start, r.end)));
    let contract = report.contract.as_ref();
    let name = contract.map(|c| match c.offer.tariff() {
        Some(t) => t.name().to_owned(),
        None => c.offer.name().to_owned(),
    });
    out.push((
        "contract".into(),
        Values::Text(rows.iter().map(|_| name.clone()).collect()),
    ));
    out.push((
        "kva".into(),
        Values::Int(
            rows.iter()
                .map(|_| contract.map(|c| i64::from(c.kva)))
                .collect(),
        ),
    ));
    if let Some(c) = contract {
        for (i, b) in c.offer.bands().iter().enumerate() {
            let v = rows
                .iter()
                .map(|r| {
                    actual(r)
                        .and_then(|a| a.bands.get(i))
                        .map(|b| i64::try_from(b.wh).unwrap_or(i64::MAX))
                })
                .collect();
            out.push((format!("{}_kwh", stem(&b.name)), Values::kwh_exact(v)));
        }
    }
    out.push((
        "total_kwh".into(),
        Values::kwh_exact(rows.iter().map(|r| r.total_wh).collect()),
    ));
    out.push((
        "actual_energy_eur".into(),
        Values::cents(
            rows.iter()
                .map(|r| cents(actual(r), |c| c.energy))
                .collect(),
        ),
    ));
    out.push((
        "actual_subscription_eur".into(),
        Values::cents(
            rows.iter()
                .map(|r| cents(actual(r), |c| c.subscription))
                .collect(),
        ),
    ));
    out.push((
        "actual_total_eur".into(),
        Values::cents(rows.iter().map(|r| cents(actual(r), Cost::total)).collect()),
    ));
    for (i, (key, _)) in report.alternatives.iter().enumerate() {
        let v = rows
            .iter()
            .map(|r| {
                // Priced: every hour of every day; else empty (never a partial sum).
                let c = r
                    .cost
                    .as_ref()
                    .and_then(|w| w.alternatives.get(i))
                    .and_then(Outcome::cost);
                cents(c, Cost::total)
            })
            .collect();
        out.push((format!("{key}_total_eur"), Values::cents(v)));
    }
    let tempo = report.tempo_index();
    out.push((
        "tempo_missing_days".into(),
        Values::Int(
            rows.iter()
                .map(|r| {
                    let o = r.cost.as_ref()?.alternatives.get(tempo?)?;
                    i64::try_from(o.missing_days().len()).ok()
                })
                .collect(),
        ),
    ));
    out.push((
        "cheapest".into(),
        Values::Text(
            rows.iter()
                .map(|r| r.cost.as_ref().map(|w| report.cheapest_key(w)))
                .collect(),
        ),
    ));
    out.push((
        "records".into(),
        Values::Int(
            rows.iter()
                .map(|r| r.records.and_then(|n| i64::try_from(n).ok()))
                .collect(),
        ),
    ));
    out.push((
        "coverage".into(),
        Values::Float(rows.iter().map(|r| r.coverage).collect()),
    ));
    out.push((
        "max_gap_s".into(),
        Values::Int(rows.iter().map(|r| r.max_gap_s).collect()),
    ));
    out.push((
        "flags".into(),
        Values::Text(rows.iter().map(|r| Some(flags(r))).collect()),
    ));
    out
}

/// The export's flags of the row, then the caveats of its costs.
fn flags(r: &CostRow) -> String {
    let mut names: Vec<String> = Vec::new();
    let f = r.flags.names();
    if !f.is_empty() {
        names.push(f);
    }
    if let Some(w) = &r.cost {
        let caveats: BTreeSet<&'static str> = std::iter::once(&w.actual)
            .chain(w.alternatives.iter().filter_map(Outcome::cost))
            .flat_map(|c| c.caveats.iter().map(|c| c.flag()))
            .collect();
        names.extend(caveats.into_iter().map(str::to_owned));
    }
    names.join("|")
}

/// The columns of the table for reading (it fits 100 columns): the period's label, the
/// total kWh, what was paid (`paid`), each alternative priced somewhere or not priced for
/// this household ([`unpriced_keys`]; named by its key: `base`, `hchp`, `tempo`…, in €; its
/// empty cells said by [`empty_word`]), `tempo_missing` (days with hours of unknown Tempo
/// colour) when a period has some, the cheapest, and the export's flags (the caveats are
/// told once, under the table). CSV and Parquet have every column.
pub fn table_columns(
    columns: Vec<(String, Values)>,
    period: Period,
    unpriced: &[String],
) -> Vec<(String, Values)> {
    let empty = |v: &Values| match v {
        Values::Decimal(_, x) => x.iter().all(Option::is_none),
        _ => false,
    };
    let columns = label_periods(columns, period);
    let mut out = Vec::new();
    for (name, v) in columns {
        let keep = match name.as_str() {
            "period" | "total_kwh" | "cheapest" => Some(name.replace("_kwh", "")),
            "actual_total_eur" => Some("paid".to_owned()),
            "tempo_missing_days" if !is_zero(&v) => Some("tempo_missing".to_owned()),
            "flags" => None,
            n if n.ends_with("_total_eur")
                && (!empty(&v) || unpriced.iter().any(|k| n == format!("{k}_total_eur"))) =>
            {
                Some(n.trim_end_matches("_total_eur").to_owned())
            }
            _ => None,
        };
        if let Some(n) = keep {
            out.push((n, v));
        }
    }
    out
}

/// The keys of the alternatives some period could not price for a reason that concerns
/// this household (EJP without EJP days is no option for it: left out).
pub fn unpriced_keys(report: &Report) -> Vec<String> {
    report
        .alternatives
        .iter()
        .enumerate()
        .filter(|(i, _)| report.rows.iter().any(|r| unpriced_at(r, *i)))
        .map(|(_, (k, _))| k.clone())
        .collect()
}

fn unpriced_at(row: &CostRow, i: usize) -> bool {
    row.cost
        .as_ref()
        .and_then(|w| w.alternatives.get(i))
        .and_then(Outcome::unpriced)
        .is_some_and(|u| !u.not_applicable())
}

/// The word for an empty cell of the table's column `name` at row `i`: `not priced` for an
/// alternative that row could not price (the sentence under the table says why); `None`
/// (shown `–`) for a period without a recorded day.
pub fn empty_word(report: &Report, name: &str, i: usize) -> Option<&'static str> {
    let k = report.alternatives.iter().position(|(k, _)| k == name)?;
    report
        .rows
        .get(i)
        .is_some_and(|r| unpriced_at(r, k))
        .then_some("not priced")
}

/// The export's flags of each row (the caveats are told once, under the table).
pub fn export_flags(report: &Report) -> (String, Values) {
    (
        "flags".to_owned(),
        Values::Text(report.rows.iter().map(|r| Some(r.flags.names())).collect()),
    )
}

fn is_zero(v: &Values) -> bool {
    match v {
        Values::Int(x) => x.iter().all(|v| v.unwrap_or(0) == 0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        for (name, want) in [
            ("HC", "hc"),
            ("HP Rouge", "hp_rouge"),
            ("EJP pointe mobile", "ejp_pointe_mobile"),
            ("Week-end", "week_end"),
            ("  Heures (creuses) ", "heures_creuses"),
            ("Nuit été", "nuit_été"),
        ] {
            assert_eq!(stem(name), want, "{name}");
        }
    }
}
