//! The HTML pages, rendered on the server: one layout (header, navigation, inline CSS), the
//! figures as text, the charts as inline SVG ([`super::svg`]). The Now page alone has a
//! script (values pushed by `/api/events` inside the recorder, else a poll of `/api/now`
//! every second). Labels are in English, units kWh, VA and €; dates ISO.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use super::cost::{CostError, CostTable, OptionCost};
use super::data::{local_day, Series};
use super::now::Now;
use super::svg::{self, Bar, Segment};
use crate::cost::Money;
use crate::export::{Flags, Row, Table};
use crate::tic::labels::{Colour, Rate};

const CSS: &str = include_str!("assets/style.css");
const NOW_JS: &str = include_str!("assets/now.js");

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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
    ] {
        let on = if nav == active { " class=\"on\"" } else { "" };
        let _ = write!(out, "<a href=\"{href}\"{on}>{name}</a>");
    }
    let _ = write!(out, "</nav></header><main>{body}</main><footer>tic-rec {} · read-only · <a href=\"/metrics\">metrics</a></footer>", env!("CARGO_PKG_VERSION"));
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

fn money(m: Option<Money>) -> String {
    m.map_or("–".into(), Money::human)
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
    out.push_str("<span><svg width=\"10\" height=\"9\"><path d=\"M1 8 l4 -7 l4 7 z\" fill=\"var(--bad)\"/></svg> incomplete (coverage or a guard)</span></div>");
    out
}

/// Why a period is incomplete, if it is: coverage under 99 % or a flag.
pub fn mark(row: &Row) -> Option<String> {
    let mut why = Vec::new();
    if row.records.unwrap_or(0) == 0 {
        // Nothing is drawn: the title says so, no mark.
        return None;
    }
    if let Some(c) = row.coverage {
        if c < 0.99 {
            why.push(format!("coverage {:.0} %", c * 100.0));
        }
    }
    if row.flags != Flags::default() {
        why.push(format!("flags: {}", row.flags.names().replace('|', ", ")));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

fn title_of(table: &Table, row: &Row, when: &str, cost: Option<&str>) -> String {
    let mut t = format!("{when}: {} kWh", kwh(table.total(row)));
    if table.hc(row).is_some() || table.hp(row).is_some() {
        let _ = write!(t, " (HC {}, HP {})", kwh(table.hc(row)), kwh(table.hp(row)));
    }
    if let Some(c) = cost {
        let _ = write!(t, ", {c}");
    }
    if row.records.unwrap_or(0) == 0 {
        return format!("{when}: no records");
    }
    if let Some(m) = mark(row) {
        let _ = write!(t, " — {m}");
    }
    t
}

/// Totals of a table: HC, HP, total (and each Tempo part).
fn totals(table: &Table) -> String {
    let sum = |f: &dyn Fn(&Row) -> Option<i64>| {
        table
            .rows
            .iter()
            .filter_map(f)
            .fold(None, |a: Option<i64>, v| Some(a.unwrap_or(0) + v))
    };
    let mut out = String::from("<table><tr><th>slot</th><th>kWh</th></tr>");
    if table.tempo() {
        for c in Colour::ALL {
            for r in [Rate::Hc, Rate::Hp] {
                let _ = write!(
                    out,
                    "<tr><td>{} {}</td><td>{}</td></tr>",
                    r.name().to_uppercase(),
                    c.name(),
                    kwh(sum(&|row| table.tempo_wh(row, c, r)))
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

/// An option's € as a page shows it: `–` when not priced, marked `*` (with a tooltip) when
/// days were left out of it.
fn option_eur(c: &OptionCost) -> String {
    let m = money(c.eur);
    if c.eur.is_some() && c.missing_days > 0 {
        let days = if c.missing_days == 1 { "day" } else { "days" };
        format!(
            "{m}<span class=\"warn\" title=\"{} {days} without a Tempo colour left out\">*</span>",
            c.missing_days
        )
    } else {
        m
    }
}

/// The € line of a range (what was paid, and the cheapest way), or why there is none.
fn cost_line(cost: &Result<CostTable, CostError>) -> String {
    match cost {
        Err(e) => format!("<p>Cost: {}</p>", na_cost(e)),
        Ok(t) => {
            let mut b = format!(
                "<p>Cost ({}): <b id=\"cost-total\">{}</b></p>",
                esc(&t.contract),
                t.total
                    .as_ref()
                    .map_or("–".into(), |p| option_eur(&p.actual))
            );
            if let Some(s) = &t.summary {
                let _ = write!(b, "<p class=\"mute\" id=\"cost-summary\">{}</p>", esc(s));
            }
            for n in &t.notes {
                let _ = write!(b, "<p class=\"warn\">{}</p>", esc(n));
            }
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
    b.push_str("<h1>Now</h1><p id=\"status\" class=\"warn\"></p><div class=\"grid2\">");
    if now.source == super::now::Source::Recorder {
        // The script takes its values from /api/events.
        b.insert_str(0, "<div id=\"live-events\" hidden></div>");
    }
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
            if *day == today {
                let _ = write!(b, "<h2>Today so far ({day})</h2>");
            } else {
                let _ = write!(b, "<h2>The last recorded day ({day})</h2>");
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
                let _ = write!(b, "<p class=\"mute\">Figures as <code>tic-rec export</code> gives them, computed again at most once a minute; the cost at most every 5 minutes.</p>");
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
                "<table><tr><td>frames</td><td id=\"frames\">{}</td></tr>\
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
            "<p class=\"na\">No recorder in this process (tic-rec serve): frames, checksum errors and port reopens are known to <code>tic-rec record --http</code> only.</p>",
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

fn pager(prev: Option<(String, String)>, title: &str, next: Option<(String, String)>) -> String {
    let link = |l: Option<(String, String)>, arrow_first: bool| match l {
        Some((href, text)) if arrow_first => {
            format!("<a href=\"{}\">‹ {}</a>", esc(&href), esc(&text))
        }
        Some((href, text)) => format!("<a href=\"{}\">{} ›</a>", esc(&href), esc(&text)),
        None => "<span></span>".into(),
    };
    format!(
        "<div class=\"pager\">{}<h1>{}</h1>{}</div>",
        link(prev, true),
        esc(title),
        link(next, false)
    )
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
    let _ = write!(
        b,
        "<h2>Power ({}, VA)</h2><p class=\"mute\">min–max band and mean per {} s; shaded: off-peak hours (HC)</p>",
        esc(&series.label),
        series.step
    );
    if series.buckets.is_empty() {
        b.push_str("<p class=\"na\">No records this day.</p>");
    } else {
        let ticks: Vec<(i64, String)> = (0..=24)
            .step_by(3)
            .filter_map(|h| {
                let t = series.from + h * 3600;
                (t <= series.to).then(|| {
                    let lt = chrono::DateTime::from_timestamp(t, 0)
                        .map(|u| {
                            u.with_timezone(&crate::store::TZ)
                                .format("%H:%M")
                                .to_string()
                        })
                        .unwrap_or_default();
                    (t, lt)
                })
            })
            .collect();
        b.push_str(&svg::power(series, &ticks, "power curve"));
    }
    b.push_str("<h2>Per hour (kWh)</h2>");
    let bars: Vec<Bar> = hours
        .rows
        .iter()
        .map(|r| {
            let lt = chrono::DateTime::from_timestamp(r.start, 0)
                .map(|u| {
                    u.with_timezone(&crate::store::TZ)
                        .format("%H:%M")
                        .to_string()
                })
                .unwrap_or_default();
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

/// The Contracts page: what the regulated options would have cost over the last 12 months.
pub fn contracts_page(
    from: NaiveDate,
    to: NaiveDate,
    months: &Table,
    cost: &Result<CostTable, CostError>,
) -> String {
    let mut b = format!("<h1>Contracts</h1><p>What Base, HC/HP and Tempo would have cost from {from} to {to} (the last 12 recorded months), against the actual contract.</p>");
    match cost {
        Err(e) => {
            let _ = write!(b, "<p>{}</p>", na_cost(e));
        }
        Ok(t) => {
            let _ = write!(
                b,
                "<table id=\"contracts\"><tr><th>month</th><th>{} (actual)</th>",
                esc(&t.contract)
            );
            for (_, name) in &t.alternatives {
                let _ = write!(b, "<th>{}</th>", esc(name));
            }
            b.push_str("<th>cheapest</th></tr>");
            let name_of = |key: &str| {
                t.alternatives
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(key.to_owned(), |(_, n)| n.clone())
            };
            let total = t.total.iter().map(|p| ("total".to_owned(), p));
            let months = t
                .rows
                .iter()
                .map(|r| (local_day(r.start).format("%Y-%m").to_string(), r));
            for (label, r) in months.chain(total) {
                let _ = write!(b, "<tr><td>{label}</td><td>{}</td>", option_eur(&r.actual));
                for c in &r.what_if {
                    let _ = write!(b, "<td>{}</td>", option_eur(c));
                }
                let cheapest = r.cheapest.map_or("–".into(), |k| esc(&name_of(k)));
                let _ = write!(b, "<td>{cheapest}</td></tr>");
            }
            b.push_str("</table>");
        }
    }
    b.push_str("<h2>The energy it would price (kWh)</h2>");
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
