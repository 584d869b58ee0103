//! The HTML pages, rendered on the server: one layout (header, navigation, inline CSS), the
//! figures as text, the charts ([`super::svg`]). The Now page alone has a script (values
//! pushed by `/api/events` inside the recorder, else a poll of `/api/now` every second, and
//! the last hour's power curve). Labels are in English, units kWh, VA and €; dates ISO.
//!
//! What a page says is for a person at a phone: no command-line flag (what to do is said in
//! words, and the Help page, [`help_page`], says how), an option that cannot be priced says
//! so and why (never a figure made up), a period that is incomplete says what is missing.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use super::cost::{CostError, CostTable, OptionCost};
use super::data::{local_day, Series};
use super::html::{esc, eur, keep_dates, prose};
use super::now::Now;
use super::svg::{self, Bar, Segment};
use crate::export::{Flags, Row, Table};
use crate::tic::labels::{Colour, Rate};

const CSS: &str = include_str!("assets/style.css");
const NOW_JS: &str = include_str!("assets/now.js");

/// The pages of the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Now.
    Now,
    /// Day.
    Day,
    /// Month.
    Month,
    /// Year.
    Year,
    /// Contracts.
    Contracts,
    /// Help.
    Help,
    /// None (an error page).
    None,
}

/// A whole page.
pub fn layout(title: &str, active: Nav, body: &str, script: bool) -> String {
    let mut out = String::with_capacity(CSS.len() + body.len() + 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{} · tic-rec</title><link rel=\"icon\" href=\"data:,\"><style>{CSS}</style></head><body>\
         <header><b>tic-rec</b><nav>",
        esc(title)
    );
    for (nav, href, name) in [
        (Nav::Now, "/", "Now"),
        (Nav::Day, "/day", "Day"),
        (Nav::Month, "/month", "Month"),
        (Nav::Year, "/year", "Year"),
        (Nav::Contracts, "/contracts", "Contracts"),
        (Nav::Help, "/help", "Help"),
    ] {
        let on = if nav == active { " class=\"on\"" } else { "" };
        let _ = write!(out, "<a href=\"{href}\"{on}>{name}</a>");
    }
    let _ = write!(
        out,
        "</nav></header><main>{body}</main><footer>tic-rec {} · read-only · <a href=\"/help\">help</a> · <a href=\"/metrics\">metrics</a></footer>",
        env!("CARGO_PKG_VERSION")
    );
    if script {
        let _ = write!(out, "<script>{NOW_JS}</script>");
    }
    out.push_str("</body></html>");
    out
}

/// A page saying what went wrong.
pub fn message(title: &str, text: &str) -> String {
    layout(
        title,
        Nav::None,
        &format!("<h1>{}</h1><p>{}</p>", esc(title), esc(text)),
        false,
    )
}

/// Wh as kWh with three decimals; `–` when unknown.
pub fn kwh(wh: Option<i64>) -> String {
    match wh {
        Some(w) => format!("{:.3}", w as f64 / 1000.0),
        None => "–".into(),
    }
}

fn na_cost(e: &CostError) -> String {
    format!(
        "<span class=\"na\">{}</span>",
        esc(&crate::error::Chain(e).to_string())
    )
}

/// A Tempo colour as a dot and its name, with ids `{id}-dot` and `{id}-name` for the Now
/// page's script.
fn colour_name(id: &str, c: Option<Colour>) -> String {
    let (class, name) = c.map_or(("", "–"), |c| (c.name(), c.name()));
    format!(
        "<span class=\"dot {class}\" id=\"{id}-dot\"></span><span id=\"{id}-name\">{name}</span>"
    )
}

/// The stacked parts of a row: the six Tempo colours, or HC and HP (and what neither
/// holds), or the total alone (Base).
pub fn segments(table: &Table, row: &Row) -> Vec<Segment> {
    let k = |wh: Option<i64>| wh.unwrap_or(0) as f64 / 1000.0;
    if table.tempo() {
        const CLASSES: [[&str; 2]; 3] = [
            ["blue-hc", "blue-hp"],
            ["white-hc", "white-hp"],
            ["red-hc", "red-hp"],
        ];
        let mut out = Vec::new();
        for (c, names) in Colour::ALL.iter().zip(CLASSES) {
            for (rate, class) in [Rate::Hc, Rate::Hp].into_iter().zip(names) {
                out.push(Segment {
                    kwh: k(table.tempo_wh(row, *c, rate)),
                    class,
                });
            }
        }
        return out;
    }
    let (hc, hp, total) = (table.hc(row), table.hp(row), table.total(row));
    if hc.is_none() && hp.is_none() {
        return vec![Segment {
            kwh: k(total),
            class: "base",
        }];
    }
    let rest = total
        .map(|t| t - hc.unwrap_or(0) - hp.unwrap_or(0))
        .filter(|r| *r > 0);
    let mut out = vec![
        Segment {
            kwh: k(hc),
            class: "hc",
        },
        Segment {
            kwh: k(hp),
            class: "hp",
        },
    ];
    if rest.is_some() {
        out.push(Segment {
            kwh: k(rest),
            class: "other",
        });
    }
    out
}

fn legend(table: &Table) -> String {
    let items: &[(&str, &str)] = if table.tempo() {
        &[
            ("blue-hc", "HC Blue"),
            ("blue-hp", "HP Blue"),
            ("white-hc", "HC White"),
            ("white-hp", "HP White"),
            ("red-hc", "HC Red"),
            ("red-hp", "HP Red"),
        ]
    } else if table
        .rows
        .iter()
        .all(|r| table.hc(r).is_none() && table.hp(r).is_none())
    {
        &[("base", "Total")]
    } else {
        &[("hc", "HC (off-peak)"), ("hp", "HP (peak)")]
    };
    let mut out = String::from("<div class=\"legend\">");
    for (class, name) in items {
        let _ = write!(
            out,
            "<span><i style=\"background:var(--{class})\"></i>{name}</span>"
        );
    }
    // The mark's item only where a bar carries one.
    if table.rows.iter().any(|r| mark(r).is_some()) {
        out.push_str("<span><i class=\"mark\"></i>incomplete (see its tooltip)</span>");
    }
    out.push_str("</div>");
    out
}

/// What a flag says, in words.
fn flag_words(name: &str) -> &str {
    match name {
        "partial" => "records start after its start or end before its end",
        "gap" => "a gap of more than 16 min in the records",
        "index_reset" => "an index reset was left out",
        "meter_changed" => "the meter changed",
        "implausible_jump" => "an impossible jump was left out",
        "out_of_order" => "rows out of order were skipped",
        "damaged_rows" => "damaged rows were skipped",
        other => other,
    }
}

/// Why a period is incomplete, if it is: its flags, in words (one notion of complete with
/// the export: a period recorded without a gap has none).
pub fn mark(row: &Row) -> Option<String> {
    if row.records.unwrap_or(0) == 0 || row.flags == Flags::default() {
        // Nothing is drawn (the title says so), or nothing is missing.
        return None;
    }
    let names = row.flags.names();
    let words: Vec<&str> = names.split('|').map(flag_words).collect();
    Some(words.join("; "))
}

fn title_of(table: &Table, row: &Row, when: &str, cost: Option<&str>) -> String {
    if row.records.unwrap_or(0) == 0 {
        return format!("{when}: no records");
    }
    let mut t = format!("{when}: {} kWh", kwh(table.total(row)));
    if table.hc(row).is_some() || table.hp(row).is_some() {
        let _ = write!(t, " (HC {}, HP {})", kwh(table.hc(row)), kwh(table.hp(row)));
    }
    if let Some(c) = cost {
        let _ = write!(t, ", {c}");
    }
    if let Some(m) = mark(row) {
        let _ = write!(t, " — incomplete: {m}");
    }
    t
}

/// Totals of a table: HC, HP, total (and each Tempo part; `not seen yet` for a Tempo part
/// whose register the meter has not shown yet).
fn totals(table: &Table) -> String {
    let sum = |f: &dyn Fn(&Row) -> Option<i64>| {
        table
            .rows
            .iter()
            .filter_map(f)
            .fold(None, |a: Option<i64>, v| Some(a.unwrap_or(0) + v))
    };
    let mut out = String::from("<table class=\"totals\"><tr><th>slot</th><th>kWh</th></tr>");
    if table.tempo() {
        for c in Colour::ALL {
            for r in [Rate::Hc, Rate::Hp] {
                let v = match sum(&|row| table.tempo_wh(row, c, r)) {
                    Some(wh) if wh != 0 || table.tempo_seen(c, r) => kwh(Some(wh)),
                    _ => "<span class=\"na\">not seen yet</span>".to_owned(),
                };
                let _ = write!(
                    out,
                    "<tr><td>{} {}</td><td>{v}</td></tr>",
                    r.name().to_uppercase(),
                    c.name(),
                );
            }
        }
    } else if table
        .rows
        .iter()
        .any(|r| table.hc(r).is_some() || table.hp(r).is_some())
    {
        let _ = write!(
            out,
            "<tr><td>HC (off-peak)</td><td id=\"sum-hc\">{}</td></tr><tr><td>HP (peak)</td><td id=\"sum-hp\">{}</td></tr>",
            kwh(sum(&|r| table.hc(r))),
            kwh(sum(&|r| table.hp(r)))
        );
    }
    let _ = write!(
        out,
        "<tr><th>total</th><th id=\"sum-total\">{}</th></tr></table>",
        kwh(sum(&|r| table.total(r)))
    );
    out
}

/// `5 days` of hours without a Tempo colour.
fn days_text(n: u32) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// An option's € as a page shows it: the amount when priced; otherwise `not priced` with
/// why (the days of unknown Tempo colour counted, as everywhere else); `–` for a period
/// without a recorded day. The actual cost with days left out says how many.
fn option_cell(c: &OptionCost) -> String {
    match (&c.eur, &c.unpriced) {
        (Some(m), _) if c.missing_days > 0 => format!(
            "{}<span class=\"warn\" title=\"{} with hours of unknown Tempo colour left out\">*</span>",
            eur(*m),
            days_text(c.missing_days)
        ),
        (Some(m), _) => eur(*m),
        (None, Some(why)) if c.missing_days > 0 => format!(
            "<span class=\"na\" title=\"{}\">not priced ({} without colour)</span>",
            esc(why),
            days_text(c.missing_days)
        ),
        (None, Some(why)) => format!(
            "<span class=\"na\" title=\"{}\">not priced</span>",
            esc(why)
        ),
        (None, None) => "–".into(),
    }
}

/// The € of a range (what was paid, the cheapest way, where the figures come from), or why
/// there is none.
fn cost_line(cost: &Result<CostTable, CostError>) -> String {
    match cost {
        Err(e) => format!("<p>Cost: {}</p>", na_cost(e)),
        Ok(t) => {
            let mut b = format!(
                "<p>Cost ({}): <b id=\"cost-total\">{}</b></p>",
                esc(&t.contract),
                t.total
                    .as_ref()
                    .map_or("–".into(), |p| option_cell(&p.actual))
            );
            if let Some(s) = &t.summary {
                let _ = write!(b, "<p id=\"cost-summary\">{}</p>", prose(s));
            }
            let mut help = false;
            for (warn, n) in &t.notes {
                let class = if *warn { "warn" } else { "mute" };
                let _ = write!(b, "<p class=\"{class}\">{}", prose(n));
                if n.contains("tariffs update") || n.contains("unknown Tempo colour") {
                    b.push_str(" (<a href=\"/help#tariffs\">how</a>)");
                    help = true;
                }
                b.push_str("</p>");
            }
            let _ = write!(
                b,
                "<p class=\"mute\">Actual contract {}.</p>",
                esc(&t.describe)
            );
            let _ = help;
            b
        }
    }
}

fn cost_of_row(cost: &Result<CostTable, CostError>, row: &Row) -> Option<String> {
    let t = cost.as_ref().ok()?;
    let r = t.rows.iter().find(|c| c.start == row.start)?;
    r.actual.eur.map(|m| m.human())
}

/// The Now page.
pub fn now_page(now: &Now, cost: &Result<CostTable, CostError>) -> String {
    let mut b = String::new();
    if now.source == super::now::Source::Recorder {
        // The script takes its values from /api/events.
        b.push_str("<div id=\"live-events\" hidden></div>");
    }
    b.push_str("<h1>Now</h1><p id=\"status\" class=\"warn\"></p><div class=\"grid2\">");
    let card = |b: &mut String, k: &str, id: &str, v: &str, extra: &str| {
        let _ = write!(
            b,
            "<div class=\"card\"><div class=\"k\">{k}</div><div class=\"v{extra}\" id=\"{id}\">{v}</div></div>"
        );
    };
    let power = now.power.map_or("–".into(), |(_, v)| v.to_string());
    card(&mut b, "power (VA)", "power", &power, " big");
    let tariff = now
        .tariff
        .as_ref()
        .map_or("–".into(), |(name, _)| esc(name));
    card(&mut b, "tariff period", "tariff", &tariff, "");
    card(
        &mut b,
        "Tempo today",
        "colour-today",
        &colour_name("colour-today", now.colour_today),
        "",
    );
    card(
        &mut b,
        "Tempo tomorrow",
        "colour-tomorrow",
        &colour_name("colour-tomorrow", now.colour_tomorrow),
        "",
    );
    b.push_str("</div>");
    // The last hour's power, drawn by the script (from /api/records, then each new value).
    b.push_str(
        "<h2>The last hour (VA)</h2><div id=\"live-chart\" class=\"live\"><p class=\"na\">Loading…</p></div>",
    );
    let time = now.time().map_or("–".into(), |t| t.to_rfc3339());
    let age = now.age_s().map_or("–".into(), age);
    let _ = write!(
        b,
        "<p>Last record <span id=\"time\">{}</span> (<span id=\"age\">{}</span>), from the {}.</p>",
        esc(&time),
        esc(&age),
        if now.source == super::now::Source::Recorder {
            "recorder in this process"
        } else {
            "files of the data directory"
        }
    );
    match &now.today {
        Some((day, table)) => {
            let row = table.rows.first();
            let today = chrono::Utc::now()
                .with_timezone(&crate::store::TZ)
                .date_naive();
            let d = keep_dates(&day.to_string());
            if *day == today {
                let _ = write!(b, "<h2>Today so far ({d})</h2>");
            } else {
                let _ = write!(b, "<h2>The last recorded day ({d})</h2>");
            }
            if let Some(row) = row {
                let _ = write!(
                    b,
                    "<div class=\"grid2\"><div class=\"card\"><div class=\"k\">HC kWh</div><div class=\"v\" id=\"today-hc\">{}</div></div>\
                     <div class=\"card\"><div class=\"k\">HP kWh</div><div class=\"v\" id=\"today-hp\">{}</div></div>\
                     <div class=\"card\"><div class=\"k\">total kWh</div><div class=\"v\" id=\"today-total\">{}</div></div></div>",
                    kwh(table.hc(row)),
                    kwh(table.hp(row)),
                    kwh(table.total(row))
                );
                if table.tempo() {
                    b.push_str(&totals(table));
                }
                b.push_str("<p class=\"mute\">The figures of the data export: the day is read again at most once a minute (every 5 minutes inside the recorder, whose live indexes add what came since); the cost at most every 5 minutes.</p>");
            }
            b.push_str(&cost_line(cost));
        }
        None => b.push_str("<p class=\"na\">No record yet.</p>"),
    }
    b.push_str("<h2>Link</h2>");
    match &now.counters {
        Some(c) => {
            let _ = write!(
                b,
                "<table class=\"totals\"><tr><td>frames</td><td id=\"frames\">{}</td></tr>\
                 <tr><td>checksum errors</td><td id=\"checksum-errors\">{}</td></tr>\
                 <tr><td>port reopened</td><td id=\"port-reopens\">{}</td></tr>\
                 <tr><td>rows written</td><td id=\"rows-written\">{}</td></tr>\
                 <tr><td>port</td><td>{}</td></tr></table>",
                c.decoder.frames,
                c.decoder.groups_bad,
                c.port_reopens,
                c.written,
                if c.port_open { "open" } else { "closed" }
            );
        }
        None => b.push_str(
            "<p class=\"na\">No recorder in this process: frames, checksum errors and port reopens are shown by the recorder's own dashboard.</p>",
        ),
    }
    layout("Now", Nav::Now, &b, true)
}

/// Seconds as "12 s ago", "5 min ago", "3 h ago", "40 days ago" (as the Now page's script).
pub fn age(s: i64) -> String {
    if s < 120 {
        format!("{s} s ago")
    } else if s < 7200 {
        format!("{} min ago", (s + 30) / 60)
    } else if s < 172_800 {
        format!("{} h ago", (s + 1800) / 3600)
    } else {
        format!("{} days ago", (s + 43_200) / 86_400)
    }
}

/// The title between the previous and next links (which never break inside).
fn pager(prev: Option<(String, String)>, title: &str, next: Option<(String, String)>) -> String {
    let link = |l: Option<(String, String)>, prev: bool| match l {
        Some((href, text)) if prev => format!(
            "<a class=\"prev\" href=\"{}\" aria-label=\"previous: {}\">‹\u{a0}{}</a>",
            esc(&href),
            esc(&text),
            esc(&text)
        ),
        Some((href, text)) => format!(
            "<a class=\"next\" href=\"{}\" aria-label=\"next: {}\">{}\u{a0}›</a>",
            esc(&href),
            esc(&text),
            esc(&text)
        ),
        None => "<span></span>".into(),
    };
    format!(
        "<div class=\"pager\">{}<h1>{}</h1>{}</div>",
        link(prev, true),
        esc(title),
        link(next, false)
    )
}

/// Local `HH:MM` of Unix time `t`.
fn hhmm(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|u| {
            u.with_timezone(&crate::store::TZ)
                .format("%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// The Day page: the power curve with HC shading, per-hour bars.
pub fn day_page(
    day: NaiveDate,
    series: &Series,
    hours: &Table,
    cost: &Result<CostTable, CostError>,
) -> String {
    let mut b = pager(
        day.pred_opt()
            .map(|d| (format!("/day?date={d}"), d.to_string())),
        &format!("{day} ({})", day.weekday()),
        day.succ_opt()
            .map(|d| (format!("/day?date={d}"), d.to_string())),
    );
    let per = match series.cadence_s {
        Some(c) if c > series.step / 2 => format!("records every {}", duration(c)),
        _ => format!("per {}", duration(series.step)),
    };
    let _ = write!(
        b,
        "<h2>Power ({}, VA)</h2><p class=\"mute\">Mean and min–max band, {per}; shaded: off-peak hours (HC); a break where records are missing.</p>",
        esc(&series.label),
    );
    if series.buckets.is_empty() {
        b.push_str("<p class=\"na\">No records this day.</p>");
    } else {
        let ticks: Vec<(i64, String, bool)> = (0..=24)
            .step_by(3)
            .filter_map(|h| {
                let t = series.from + h * 3600;
                (t <= series.to).then(|| (t, hhmm(t), h % 6 == 0))
            })
            .collect();
        b.push_str(&svg::power(series, &ticks, "power curve"));
    }
    b.push_str("<h2>Per hour (kWh)</h2>");
    let bars: Vec<Bar> = hours
        .rows
        .iter()
        .map(|r| {
            let lt = hhmm(r.start);
            Bar {
                label: lt.get(..2).unwrap_or("").to_owned(),
                title: title_of(hours, r, &lt, None),
                segments: segments(hours, r),
                mark: mark(r),
                href: None,
            }
        })
        .collect();
    b.push_str(&svg::bars(&bars, "kWh per hour"));
    b.push_str(&legend(hours));
    b.push_str("<h2>Day</h2>");
    b.push_str(&totals(hours));
    b.push_str(&cost_line(cost));
    layout(&day.to_string(), Nav::Day, &b, false)
}

/// `1 s`, `1 min`, `15 min`, `2 h`.
fn duration(s: i64) -> String {
    if s % 3600 == 0 && s >= 3600 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 && s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The Month page: stacked bars per day.
pub fn month_page(first: NaiveDate, days: &Table, cost: &Result<CostTable, CostError>) -> String {
    let prev = first.pred_opt().map(|d| {
        (
            format!("/month?month={}", d.format("%Y-%m")),
            d.format("%Y-%m").to_string(),
        )
    });
    let next = first.checked_add_months(chrono::Months::new(1)).map(|d| {
        (
            format!("/month?month={}", d.format("%Y-%m")),
            d.format("%Y-%m").to_string(),
        )
    });
    let mut b = pager(prev, &first.format("%B %Y").to_string(), next);
    let bars: Vec<Bar> = days
        .rows
        .iter()
        .map(|r| {
            let d = local_day(r.start);
            let c = cost_of_row(cost, r);
            Bar {
                label: d.day().to_string(),
                title: title_of(days, r, &d.to_string(), c.as_deref()),
                segments: segments(days, r),
                mark: mark(r),
                href: Some(format!("/day?date={d}")),
            }
        })
        .collect();
    b.push_str("<h2>Per day (kWh)</h2>");
    b.push_str(&svg::bars(&bars, "kWh per day"));
    b.push_str(&legend(days));
    b.push_str("<h2>Month</h2>");
    b.push_str(&totals(days));
    b.push_str(&cost_line(cost));
    layout(&first.format("%Y-%m").to_string(), Nav::Month, &b, false)
}

/// The Year page: stacked bars per month.
pub fn year_page(year: i32, months: &Table, cost: &Result<CostTable, CostError>) -> String {
    let mut b = pager(
        Some((format!("/year?year={}", year - 1), (year - 1).to_string())),
        &year.to_string(),
        Some((format!("/year?year={}", year + 1), (year + 1).to_string())),
    );
    let bars: Vec<Bar> = months
        .rows
        .iter()
        .map(|r| {
            let d = local_day(r.start);
            let c = cost_of_row(cost, r);
            Bar {
                label: d.format("%b").to_string(),
                title: title_of(months, r, &d.format("%Y-%m").to_string(), c.as_deref()),
                segments: segments(months, r),
                mark: mark(r),
                href: Some(format!("/month?month={}", d.format("%Y-%m"))),
            }
        })
        .collect();
    b.push_str("<h2>Per month (kWh)</h2>");
    b.push_str(&svg::bars(&bars, "kWh per month"));
    b.push_str(&legend(months));
    b.push_str("<h2>Year</h2>");
    b.push_str(&totals(months));
    b.push_str(&cost_line(cost));
    layout(&year.to_string(), Nav::Year, &b, false)
}

/// The Contracts page: what the options would have cost, month by month from the first
/// recorded one (at most the last 12), against the actual contract. A table on a wide
/// screen; each month a card on a phone (the style sheet lays it out, each cell naming its
/// column).
pub fn contracts_page(
    from: NaiveDate,
    to: NaiveDate,
    months: &Table,
    cost: &Result<CostTable, CostError>,
) -> String {
    let mut b = format!(
        "<h1>Contracts</h1><p>What each option would have cost from {from} to {to}, month by month, against what you paid. An option priced for every hour of a month has its amount; one that cannot be has none, and says why.</p>"
    );
    match cost {
        Err(e) => {
            let _ = write!(b, "<p>{}</p>", na_cost(e));
        }
        Ok(t) => {
            let name_of = |key: &str| {
                t.alternatives
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(key.to_owned(), |(_, n)| n.clone())
            };
            let actual = format!("{} (paid)", t.contract);
            // The options that exist for this household (no EJP column for a meter not on
            // EJP).
            let shown: Vec<usize> = (0..t.alternatives.len())
                .filter(|&i| {
                    t.rows
                        .iter()
                        .chain(t.total.iter())
                        .any(|r| r.what_if.get(i).is_some_and(|c| c.applicable))
                })
                .collect();
            let _ = write!(
                b,
                "<table id=\"contracts\" class=\"cards\"><thead><tr><th>month</th><th>{}</th>",
                esc(&actual)
            );
            for &i in &shown {
                let _ = write!(b, "<th>{}</th>", esc(&t.alternatives[i].1));
            }
            b.push_str("<th>cheapest</th></tr></thead><tbody>");
            let total = t.total.iter().map(|p| ("whole".to_owned(), p));
            let months = t
                .rows
                .iter()
                .map(|r| (local_day(r.start).format("%Y-%m").to_string(), r));
            for (label, r) in months.chain(total) {
                let _ = write!(
                    b,
                    "<tr><th scope=\"row\">{label}</th><td data-label=\"{}\">{}</td>",
                    esc(&actual),
                    option_cell(&r.actual)
                );
                for &i in &shown {
                    let (Some((_, name)), Some(c)) = (t.alternatives.get(i), r.what_if.get(i))
                    else {
                        continue;
                    };
                    let _ = write!(
                        b,
                        "<td data-label=\"{}\">{}</td>",
                        esc(name),
                        option_cell(c)
                    );
                }
                let cheapest = r
                    .cheapest
                    .as_deref()
                    .map_or("–".into(), |k| esc(&name_of(k)));
                let _ = write!(b, "<td data-label=\"cheapest\">{cheapest}</td></tr>");
            }
            b.push_str("</tbody></table>");
            if let Some(s) = &t.summary {
                let _ = write!(b, "<p id=\"cost-summary\">{}</p>", prose(s));
            }
            for (warn, n) in &t.notes {
                let class = if *warn { "warn" } else { "mute" };
                let _ = write!(b, "<p class=\"{class}\">{}</p>", prose(n));
            }
        }
    }
    b.push_str("<h2>The energy it prices (kWh)</h2>");
    let bars: Vec<Bar> = months
        .rows
        .iter()
        .map(|r| {
            let d = local_day(r.start);
            Bar {
                label: d.format("%b").to_string(),
                title: title_of(months, r, &d.format("%Y-%m").to_string(), None),
                segments: segments(months, r),
                mark: mark(r),
                href: Some(format!("/month?month={}", d.format("%Y-%m"))),
            }
        })
        .collect();
    b.push_str(&svg::bars(&bars, "kWh per month"));
    b.push_str(&legend(months));
    b.push_str(&totals(months));
    layout("Contracts", Nav::Contracts, &b, false)
}

/// The Help page: what the pages show and how to keep the prices current, in words.
pub fn help_page() -> String {
    let body = "<h1>Help</h1>\
<h2 id=\"figures\">The figures</h2>\
<p>Every kWh is the one the data export gives: the difference of the meter's own indexes between the start and the end of a period, split into off-peak (HC) and peak (HP) hours, or into the six Tempo colours, by the meter's registers.</p>\
<p>A period is complete when it was recorded without a gap: records at most 16 minutes apart (the recorder keeps one every second up to one every 15 minutes). An incomplete period carries a mark; its tooltip says what is missing: the records start late or end early, a gap of more than 16 minutes, an index reset or an impossible jump left out, the meter changed, rows skipped. Energy across a gap is interpolated, never made up.</p>\
<h2 id=\"costs\">The costs</h2>\
<p>What you paid is the recorded energy priced with your contract (the option and the power the meter states), subscription included, taxes included. The other options are the same energy priced with their own hours: Base, HC/HP at the meter's own off-peak hours, Tempo with each day's colour, EJP for an EJP meter, and any other supplier's offer the command line was given. An option is priced only for every hour of a period; when it cannot be (no price for that power, or hours of a Tempo day whose colour is not known), it says so and why, and how many days it leaves out.</p>\
<h2 id=\"tariffs\">Keeping the prices and Tempo colours current</h2>\
<p>The regulated prices change twice a year, and a Tempo day's colour is announced the day before. tic-rec ships the official tables of the day it was built; to keep them current, run <code>tic-rec tariffs update</code> on the machine that records (it fetches the official files: the regulated prices from data.gouv.fr, the Tempo colours from RTE, checks them and keeps them in the data directory; a failed update changes nothing). The service files shipped with tic-rec include a daily timer that does it. <code>tic-rec tariffs</code> shows what is in force, up to which day, and where it comes from.</p>\
<p>A Tempo meter says its own colours: the days it recorded need no update.</p>\
<h2 id=\"api\">The data</h2>\
<p>The same figures as JSON: <a href=\"/api/now\">/api/now</a>, <a href=\"/api/periods\">/api/periods</a>, <a href=\"/api/cost\">/api/cost</a>, <a href=\"/api/records\">/api/records</a>; for Prometheus: <a href=\"/metrics\">/metrics</a>. The cost and tariffs guide and the dashboard guide of the documentation say more.</p>";
    layout("Help", Nav::Help, body, false)
}
