//! The charts: stacked bars (HC/HP or Tempo colours per hour, day or month) and the power
//! curve (min–max band, mean line, HC shading). No script, no library.
//!
//! A chart is a `<figure class="chart">` of two parts: the plot, an inline SVG stretched to
//! the width of the page (`preserveAspectRatio="none"`, lines that keep their width), and
//! the axis labels as HTML text around it, positioned in percent: so labels are the size of
//! the body text on a phone and on a desktop alike, and the first and last x labels are
//! aligned inward, never clipped. On a narrow screen every other x label is hidden by the
//! style sheet (class `n`).
//!
//! Each bar is one `<g class="bar">` (the browser test counts them), its segments
//! `<rect class="seg CLASS">`, with a `<title>` for its figures; a bar whose period is
//! incomplete (a flag) carries a `<rect class="mark">` above it. Each piece of the power
//! curve is one `<polyline class="mean">`: one more than the real gaps in the records.

use std::fmt::Write as _;

use super::data::{Bucket, Series};
use super::html::{esc, num};
use crate::tic::labels::Rate;

/// The plot's coordinates: 0..W across, 0..H down.
const W: f64 = 1000.0;
const H: f64 = 200.0;
/// Room above the highest value (for the marks), in plot units.
const HEADROOM: f64 = 10.0;

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

/// The y of value `v` on an axis to `top`.
fn y_of(v: f64, top: f64) -> f64 {
    H - v / top * (H - HEADROOM)
}

/// The opening of a chart: the y axis labels (values `0, step, … top`) and the plot's SVG
/// with its grid lines.
fn open(out: &mut String, class: &str, label: &str, top: f64, step: f64) {
    let mut labels = Vec::new();
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        labels.push((v, num(v)));
        v += step;
    }
    let width = labels.iter().map(|(_, t)| t.len()).max().unwrap_or(1) + 1;
    let _ = write!(
        out,
        r#"<figure class="chart {class}" role="img" aria-label="{}"><div class="yaxis" style="width:{width}ch">"#,
        esc(label)
    );
    for (v, text) in &labels {
        let pct = (H - y_of(*v, top)) / H * 100.0;
        let _ = write!(out, r#"<span style="bottom:{pct:.2}%">{text}</span>"#);
    }
    let _ = write!(
        out,
        r#"</div><div class="plot"><svg viewBox="0 0 {W} {H}" preserveAspectRatio="none" aria-hidden="true">"#
    );
    for (v, _) in &labels {
        let y = y_of(*v, top);
        let _ = write!(
            out,
            r#"<line class="grid" x1="0" x2="{W}" y1="{y:.1}" y2="{y:.1}" vector-effect="non-scaling-stroke"/>"#
        );
    }
}

/// The x labels (`(position 0..W, text, shown on a narrow screen)`) and the figure's end.
fn close(out: &mut String, xs: &[(f64, String, bool)]) {
    out.push_str(r#"</svg></div><div></div><div class="xaxis">"#);
    for (x, text, narrow) in xs {
        let pct = x / W * 100.0;
        let mut class = String::new();
        if pct < 4.0 {
            class.push_str("first ");
        } else if pct > 96.0 {
            class.push_str("last ");
        }
        if !narrow {
            class.push('n');
        }
        let class = class.trim_end();
        let attr = if class.is_empty() {
            String::new()
        } else {
            format!(r#" class="{class}""#)
        };
        let _ = write!(
            out,
            r#"<span{attr} style="left:{pct:.2}%">{}</span>"#,
            esc(text)
        );
    }
    out.push_str("</div></figure>");
}

/// How many labels of `chars` characters fit across a plot `px` pixels wide (body text:
/// about 9 px a character, and a gap).
fn room(px: f64, chars: usize) -> usize {
    ((px / (chars as f64 * 9.0 + 12.0)) as usize).max(1)
}

/// Stacked bars of kWh.
pub fn bars(bars: &[Bar], label: &str) -> String {
    let mut out = String::with_capacity(512 + bars.len() * 300);
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.kwh.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max);
    let (top, step) = nice(max);
    open(&mut out, "bars", label, top, step);
    let n = bars.len().max(1);
    let slot = W / n as f64;
    let bw = (slot * 0.78).max(1.0);
    let chars = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(1);
    // Labels every k bars: on a desktop (a plot of ~850 px) and a phone (~290 px).
    let wide = n.div_ceil(room(850.0, chars)).max(1);
    let narrow = n.div_ceil(room(290.0, chars)).max(1);
    let narrow = narrow.div_ceil(wide) * wide;
    let mut xs = Vec::new();
    for (i, b) in bars.iter().enumerate() {
        let x = i as f64 * slot + (slot - bw) / 2.0;
        if let Some(h) = &b.href {
            let _ = write!(out, r#"<a href="{}">"#, esc(h));
        }
        let _ = write!(out, r#"<g class="bar"><title>{}</title>"#, esc(&b.title));
        let mut y = H;
        for s in &b.segments {
            let h = (s.kwh.max(0.0) / top * (H - HEADROOM)).max(0.0);
            if h <= 0.0 {
                continue;
            }
            y -= h;
            let _ = write!(
                out,
                r#"<rect class="seg {}" x="{x:.2}" y="{y:.2}" width="{bw:.2}" height="{h:.2}"/>"#,
                s.class
            );
        }
        // A transparent hit area so that empty bars still show their title.
        let _ = write!(
            out,
            r#"<rect class="hit" x="{x:.2}" y="0" width="{bw:.2}" height="{H}"/>"#
        );
        if b.mark.is_some() {
            let my = (y - 7.0).max(0.0);
            let _ = write!(
                out,
                r#"<rect class="mark" x="{x:.2}" y="{my:.2}" width="{bw:.2}" height="4"/>"#
            );
        }
        out.push_str("</g>");
        if b.href.is_some() {
            out.push_str("</a>");
        }
        if i % wide == 0 {
            xs.push((x + bw / 2.0, b.label.clone(), i % narrow == 0));
        }
    }
    close(&mut out, &xs);
    out
}

/// The power curve of `series`, with x ticks at `ticks` (Unix seconds, text, shown on a
/// narrow screen).
pub fn power(series: &Series, ticks: &[(i64, String, bool)], label: &str) -> String {
    let mut out = String::with_capacity(1024 + series.buckets.len() * 48);
    let max = series.buckets.iter().map(|b| b.max).max().unwrap_or(0) as f64;
    let (top, step) = nice(max);
    open(&mut out, "power", label, top, step);
    let span = (series.to - series.from).max(1) as f64;
    let x = |t: i64| ((t - series.from) as f64 / span * W).clamp(0.0, W);
    let y = |v: f64| y_of(v, top);
    let runs = series.runs();
    // HC shading first, under everything: the stretches of each run whose records say HC.
    for run in &runs {
        let mut from: Option<i64> = None;
        for (i, b) in run.iter().enumerate() {
            let hc = b.class.is_some_and(|c| c.rate == Rate::Hc);
            match (from, hc) {
                (None, true) => from = Some(b.start),
                (Some(a), false) => {
                    shade(&mut out, x(a), x(b.start));
                    from = None;
                }
                _ => {}
            }
            if i + 1 == run.len() {
                if let Some(a) = from {
                    shade(&mut out, x(a), x(b.end));
                }
            }
        }
    }
    // Min–max band and mean line, one piece per run: a break only where records are missing.
    for run in &runs {
        let points: Vec<(f64, &Bucket)> = if run.len() == 1 {
            // One bucket alone: its width, so that it shows.
            vec![(x(run[0].start), &run[0]), (x(run[0].end), &run[0])]
        } else {
            run.iter()
                .map(|b| (x(b.start + (b.end - b.start) / 2), b))
                .collect()
        };
        let mut band = String::new();
        for (px, b) in &points {
            let _ = write!(band, "{px:.2},{:.2} ", y(b.max as f64));
        }
        for (px, b) in points.iter().rev() {
            let _ = write!(band, "{px:.2},{:.2} ", y(b.min as f64));
        }
        let _ = write!(
            out,
            r#"<polygon class="band" points="{}"/>"#,
            band.trim_end()
        );
        let mut line = String::new();
        for (px, b) in &points {
            let _ = write!(line, "{px:.2},{:.2} ", y(b.mean));
        }
        let _ = write!(
            out,
            r#"<polyline class="mean" points="{}" vector-effect="non-scaling-stroke"/>"#,
            line.trim_end()
        );
    }
    let xs: Vec<(f64, String, bool)> = ticks
        .iter()
        .map(|(t, text, narrow)| (x(*t), text.clone(), *narrow))
        .collect();
    close(&mut out, &xs);
    out
}

fn shade(out: &mut String, a: f64, b: f64) {
    let _ = write!(
        out,
        r#"<rect class="shade-hc" x="{a:.2}" y="0" width="{:.2}" height="{H}"/>"#,
        (b - a).max(0.5)
    );
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
    fn one_group_per_bar_and_labels_in_html() {
        let b = |kwh: f64, mark: bool| Bar {
            label: "1".into(),
            title: "<x>".into(),
            segments: vec![Segment { kwh, class: "hc" }, Segment { kwh, class: "hp" }],
            mark: mark.then(|| "a gap".into()),
            href: Some("/day?date=2026-01-01".into()),
        };
        let svg = bars(&[b(1.0, false), b(0.0, true), b(2.5, false)], "test");
        assert_eq!(svg.matches(r#"<g class="bar">"#).count(), 3);
        assert_eq!(svg.matches(r#"class="seg hc""#).count(), 2);
        assert_eq!(svg.matches(r#"class="mark""#).count(), 1);
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<x>"));
        // The labels are HTML, not SVG text.
        assert!(!svg.contains("<text"));
        assert!(
            svg.contains(r#"<div class="xaxis"><span style="left:16.67%">1</span>"#),
            "{svg}"
        );
    }

    fn bucket(start: i64, end: i64, first_t: i64, last_t: i64) -> Bucket {
        Bucket {
            start,
            end,
            n: 1,
            min: 100,
            max: 300,
            mean: 200.0,
            class: None,
            first_t,
            last_t,
        }
    }

    #[test]
    fn the_curve_breaks_only_where_records_are_missing() {
        // Records every 15 min in 3-minute buckets would leave 4 empty buckets in 5: still
        // one piece; a 2-hour hole: two.
        let mut buckets = Vec::new();
        for i in 0..20 {
            let t = i * 900;
            if !(6..14).contains(&i) {
                buckets.push(bucket(t, t + 180, t, t));
            }
        }
        let s = Series {
            label: "SINSTS".into(),
            from: 0,
            to: 18_000,
            step: 180,
            buckets,
            rows: 12,
            cadence_s: Some(900),
        };
        assert_eq!(s.runs().len(), 2);
        let svg = power(&s, &[(0, "00:00".into(), true)], "power");
        assert_eq!(svg.matches(r#"<polyline class="mean""#).count(), 2);
    }
}
