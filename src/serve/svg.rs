//! Inline SVG charts: stacked bars (HC/HP or Tempo colours per hour, day or month) and the
//! power curve (min–max band, mean line, HC shading). No script, no library: the page's CSS
//! colours them by class, and every bar carries a `<title>` for its figures.
//!
//! Each bar is one `<g class="bar">` (the browser test counts them), its segments
//! `<rect class="seg CLASS">`; a bar whose period is incomplete (coverage under 99 %, a
//! guard fired) carries a `<path class="mark">` above it.

use std::fmt::Write as _;

use super::data::Series;
use super::pages::esc;
use crate::tic::labels::Rate;

const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 28.0;

/// One part of a stacked bar.
pub struct Segment {
    /// kWh.
    pub kwh: f64,
    /// The CSS class (`hc`, `hp`, `base`, `blue-hc`…).
    pub class: &'static str,
}

/// One bar.
pub struct Bar {
    /// The label under it (shown when there is room).
    pub label: String,
    /// Its tooltip.
    pub title: String,
    /// Its parts, bottom first.
    pub segments: Vec<Segment>,
    /// Why its period is incomplete, if it is.
    pub mark: Option<String>,
    /// Where a click goes.
    pub href: Option<String>,
}

/// A "nice" axis maximum and step at or above `max`.
fn nice(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (step * 4.0, step)
}

fn num(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn open(out: &mut String, class: &str, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart {class}" viewBox="0 0 {W} {H}" role="img" aria-label="{}" preserveAspectRatio="xMidYMid meet">"#,
        esc(label)
    );
}

fn y_axis(out: &mut String, top: f64, step: f64, unit: &str) {
    let plot_h = H - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = H - BOTTOM - v / top * plot_h;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="ytick" x="{}" y="{:.1}">{}</text>"#,
            W - RIGHT,
            LEFT - 5.0,
            y + 5.5,
            num(v)
        );
        v += step;
    }
    let _ = write!(
        out,
        r#"<text class="unit" x="2" y="14">{}</text>"#,
        esc(unit)
    );
}

/// Stacked bars of kWh.
pub fn bars(bars: &[Bar], label: &str) -> String {
    let mut out = String::with_capacity(256 + bars.len() * 256);
    open(&mut out, "bars", label);
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.kwh.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max);
    let (top, step) = nice(max);
    y_axis(&mut out, top, step, "kWh");
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    let bw = (slot * 0.78).max(1.0);
    let label_every = bars.len().div_ceil(12).max(1);
    for (i, b) in bars.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bw) / 2.0;
        if let Some(h) = &b.href {
            let _ = write!(out, r#"<a href="{}">"#, esc(h));
        }
        let _ = write!(out, r#"<g class="bar"><title>{}</title>"#, esc(&b.title));
        let mut y = H - BOTTOM;
        for s in &b.segments {
            let h = (s.kwh.max(0.0) / top * plot_h).max(0.0);
            if h <= 0.0 {
                continue;
            }
            y -= h;
            let _ = write!(
                out,
                r#"<rect class="seg {}" x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{h:.1}"/>"#,
                s.class
            );
        }
        // A transparent hit area so that empty bars still show their title.
        let _ = write!(
            out,
            r#"<rect class="hit" x="{x:.1}" y="{TOP}" width="{bw:.1}" height="{plot_h:.1}"/>"#
        );
        if b.mark.is_some() {
            let cx = x + bw / 2.0;
            let my = (y - 3.0).max(TOP - 4.0);
            let _ = write!(
                out,
                r#"<path class="mark" d="M{:.1} {:.1} l4 -7 l4 7 z"/>"#,
                cx - 4.0,
                my
            );
        }
        out.push_str("</g>");
        if b.href.is_some() {
            out.push_str("</a>");
        }
        if i % label_every == 0 {
            let _ = write!(
                out,
                r#"<text class="xtick" x="{:.1}" y="{}">{}</text>"#,
                x + bw / 2.0,
                H - BOTTOM + 20.0,
                esc(&b.label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// The power curve of `series`, with x ticks at `ticks` (Unix seconds, text).
pub fn power(series: &Series, ticks: &[(i64, String)], label: &str) -> String {
    let mut out = String::with_capacity(1024 + series.buckets.len() * 40);
    open(&mut out, "power", label);
    let max = series.buckets.iter().map(|b| b.max).max().unwrap_or(0) as f64;
    let (top, step) = nice(max);
    let span = (series.to - series.from).max(1) as f64;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |t: i64| LEFT + (t - series.from) as f64 / span * plot_w;
    let y = |v: f64| H - BOTTOM - v / top * plot_h;
    // HC shading first, under everything: runs of buckets whose tariff is off-peak.
    let mut run: Option<(i64, i64)> = None;
    let shade = |out: &mut String, r: Option<(i64, i64)>| {
        if let Some((a, b)) = r {
            let _ = write!(
                out,
                r#"<rect class="shade-hc" x="{:.1}" y="{TOP}" width="{:.1}" height="{plot_h}"/>"#,
                x(a),
                (x(b) - x(a)).max(0.5)
            );
        }
    };
    for b in &series.buckets {
        let hc = b.class.is_some_and(|c| c.rate == Rate::Hc);
        run = match (run, hc) {
            (Some((a, e)), true) if e >= b.start => Some((a, b.end)),
            (r, true) => {
                shade(&mut out, r);
                Some((b.start, b.end))
            }
            (r, false) => {
                shade(&mut out, r);
                None
            }
        };
    }
    shade(&mut out, run);
    y_axis(&mut out, top, step, "VA");
    for (t, text) in ticks {
        let _ = write!(
            out,
            r#"<text class="xtick" x="{:.1}" y="{}">{}</text>"#,
            x(*t),
            H - BOTTOM + 20.0,
            esc(text)
        );
    }
    // Min–max band and mean line; a gap in the records (a missing bucket) breaks both.
    let mut segments: Vec<Vec<&super::data::Bucket>> = Vec::new();
    for b in &series.buckets {
        match segments.last_mut() {
            Some(s) if s.last().is_some_and(|p| p.end == b.start) => s.push(b),
            _ => segments.push(vec![b]),
        }
    }
    for s in &segments {
        let mid = |b: &super::data::Bucket| x(b.start + (b.end - b.start) / 2);
        let mut band = String::new();
        for b in s.iter() {
            let _ = write!(band, "{:.1},{:.1} ", mid(b), y(b.max as f64));
        }
        for b in s.iter().rev() {
            let _ = write!(band, "{:.1},{:.1} ", mid(b), y(b.min as f64));
        }
        let _ = write!(
            out,
            r#"<polygon class="band" points="{}"/>"#,
            band.trim_end()
        );
        let mut line = String::new();
        for b in s.iter() {
            let _ = write!(line, "{:.1},{:.1} ", mid(b), y(b.mean));
        }
        let _ = write!(
            out,
            r#"<polyline class="mean" points="{}"/>"#,
            line.trim_end()
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        assert_eq!(nice(0.0), (1.0, 0.25));
        assert_eq!(nice(7.3), (8.0, 2.0));
        assert_eq!(nice(3400.0), (4000.0, 1000.0));
        assert_eq!(nice(9.0), (10.0, 2.5));
    }

    #[test]
    fn one_group_per_bar() {
        let b = |kwh: f64, mark: bool| Bar {
            label: "1".into(),
            title: "<x>".into(),
            segments: vec![Segment { kwh, class: "hc" }, Segment { kwh, class: "hp" }],
            mark: mark.then(|| "coverage 50 %".into()),
            href: Some("/day?date=2026-01-01".into()),
        };
        let svg = bars(&[b(1.0, false), b(0.0, true), b(2.5, false)], "test");
        assert_eq!(svg.matches(r#"<g class="bar">"#).count(), 3);
        assert_eq!(svg.matches(r#"class="seg hc""#).count(), 2);
        assert_eq!(svg.matches(r#"class="mark""#).count(), 1);
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<x>"));
    }
}
