//! `tic-rec decode`: a raw capture to JSON lines, CSV or a summary.

use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Seek, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use tic_rec::capture::FrameReader;
use tic_rec::tic::{
    BadGroup, BadKind, ChecksumRule, Config, Frame, Framing, Horodate, Mode, Stats,
};

use super::setup::ModeArg;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The capture to decode, or `-` for standard input.
    #[arg(default_value = "-")]
    input: PathBuf,
    /// The TIC mode; `auto` detects it from the stream.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    mode: ModeArg,
    /// Output format: one JSON object per frame, or one CSV row per frame.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Print a short report of the capture instead of its frames.
    #[arg(long, conflicts_with = "format")]
    summary: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Jsonl,
    Csv,
}

/// An input that can be read twice (CSV needs every label before the first row).
trait Input: Read + Seek {}
impl<T: Read + Seek> Input for T {}

fn open(path: &PathBuf) -> Result<Box<dyn Input>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        return Ok(Box::new(Cursor::new(bytes)));
    }
    let file = File::open(path)
        .with_context(|| format!("cannot open capture {:?}", path.display().to_string()))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        anyhow::bail!(
            "cannot decode {:?}: it is a directory",
            path.display().to_string()
        );
    }
    Ok(Box::new(file))
}

pub fn run(args: Args) -> Result<()> {
    let mut input = open(&args.input)?;
    let config = Config {
        mode: args.mode.forced(),
        ..Config::default()
    };
    let name = args.input.display().to_string();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let stats = if args.summary {
        summary(&mut input, config, &name, &mut out)?
    } else {
        match args.format {
            Format::Jsonl => jsonl(&mut input, config, &name, &mut out)?,
            Format::Csv => csv(&mut input, config, &name, &mut out)?,
        }
    };
    out.flush()?;
    if stats.groups_ok == 0 {
        let name = if name == "-" { "standard input" } else { &name };
        anyhow::bail!("{}", nothing_verifies(name, &stats, args.mode.forced()));
    }
    Ok(())
}

/// Why a capture in which no group verifies is not one, in words.
fn nothing_verifies(name: &str, s: &Stats, forced: Option<Mode>) -> String {
    if s.bytes == 0 {
        return format!("{name} is empty: no TIC group in it");
    }
    if s.frames == 0 && s.groups_bad == 0 {
        return format!(
            "no TIC frame in {name} ({} bytes, none between STX and ETX): is it a TIC capture?",
            s.bytes
        );
    }
    format!(
        "no TIC group verifies in {name}: {} group(s) in {} frame(s) fail their checksum{}",
        s.groups_bad,
        s.frames,
        match forced {
            Some(m) => format!(": is it really {m} mode? try --mode auto"),
            None => ": is it a TIC capture, read at the meter's baud rate (7E1)?".to_owned(),
        }
    )
}

/// Calls `each` on every frame of the input.
fn for_each_frame(
    input: &mut dyn Input,
    config: Config,
    name: &str,
    mut each: impl FnMut(&Frame<'_>) -> Result<()>,
) -> Result<FrameReaderStats> {
    let mut reader = FrameReader::detect_framing(input, config)
        .with_context(|| format!("cannot read {name}"))?;
    loop {
        let offset = reader.offset();
        match reader
            .next_frame()
            .with_context(|| format!("cannot read {name} near byte {offset}"))?
        {
            Some(frame) => each(&frame)?,
            None => break,
        }
    }
    let d = reader.decoder();
    Ok(FrameReaderStats {
        stats: *d.stats(),
        framing: d.config().framing,
        historique_rule: d.historique_rule(),
    })
}

struct FrameReaderStats {
    stats: tic_rec::tic::Stats,
    framing: Framing,
    historique_rule: Option<ChecksumRule>,
}

fn time_of(frame: &Frame<'_>) -> Option<String> {
    frame
        .date()
        .and_then(|h| h.instant())
        .map(|t| t.to_rfc3339())
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

fn jsonl(input: &mut dyn Input, config: Config, name: &str, out: &mut dyn Write) -> Result<Stats> {
    let mut line = String::with_capacity(2048);
    for_each_frame(input, config, name, |f| {
        line.clear();
        line.push_str("{\"mode\":\"");
        line.push_str(f.mode.name());
        line.push_str("\",\"offset\":");
        line.push_str(&f.offset.to_string());
        line.push_str(",\"time\":");
        match time_of(f) {
            Some(t) => line.push_str(&json_str(&t)),
            None => line.push_str("null"),
        }
        line.push_str(",\"groups\":{");
        for (i, g) in f.groups().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&json_str(g.label));
            line.push(':');
            line.push_str(&json_str(g.value));
        }
        line.push_str("},\"horodates\":{");
        for (i, g) in f.groups().filter(|g| g.horodate.is_some()).enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&json_str(g.label));
            line.push(':');
            line.push_str(&json_str(g.horodate.unwrap_or_default()));
        }
        line.push_str("},\"bad_checksums\":");
        push_labels(&mut line, f.bad_groups().filter(|b| !is_horodate(b)));
        line.push_str(",\"bad_horodates\":");
        push_labels(&mut line, f.bad_horodates());
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
        Ok(())
    })
    .map(|r| r.stats)
}

fn is_horodate(b: &BadGroup<'_>) -> bool {
    matches!(b.kind, BadKind::Horodate(_))
}

/// Appends the labels of `bad` as a JSON array.
fn push_labels<'a>(line: &mut String, bad: impl Iterator<Item = BadGroup<'a>>) {
    line.push('[');
    for (i, b) in bad.enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&json_str(b.label));
    }
    line.push(']');
}

fn csv(input: &mut dyn Input, config: Config, name: &str, out: &mut dyn Write) -> Result<Stats> {
    // First pass: every label, in order of first appearance.
    let mut labels: Vec<String> = Vec::new();
    for_each_frame(input, config.clone(), name, |f| {
        for g in f.groups() {
            if !labels.iter().any(|l| l == g.label) {
                labels.push(g.label.to_owned());
            }
        }
        Ok(())
    })?;
    input
        .rewind()
        .with_context(|| format!("cannot rewind {name}"))?;
    let mut w = ::csv::Writer::from_writer(out);
    let mut header = vec!["offset".to_owned(), "mode".to_owned(), "time".to_owned()];
    header.extend(labels.iter().cloned());
    w.write_record(&header)?;
    let mut row: Vec<String> = Vec::new();
    let read = for_each_frame(input, config, name, |f| {
        row.clear();
        row.push(f.offset.to_string());
        row.push(f.mode.name().to_owned());
        row.push(time_of(f).unwrap_or_default());
        row.extend(
            labels
                .iter()
                .map(|l| f.get(l).map(|g| g.value.to_owned()).unwrap_or_default()),
        );
        w.write_record(&row)?;
        Ok(())
    })?;
    w.flush()?;
    Ok(read.stats)
}

fn summary(
    input: &mut dyn Input,
    config: Config,
    name: &str,
    out: &mut dyn Write,
) -> Result<Stats> {
    let (mut first, mut last): (Option<Horodate>, Option<Horodate>) = (None, None);
    let r = for_each_frame(input, config, name, |f| {
        if let Some(h) = f.date() {
            first.get_or_insert(h);
            last = Some(h);
        }
        Ok(())
    })?;
    let s = r.stats;
    let fmt_date = |h: Option<Horodate>| match h {
        Some(h) => h
            .instant()
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| h.local.to_string()),
        None => "none (no DATE group)".to_owned(),
    };
    writeln!(out, "capture:          {name}")?;
    if r.framing == Framing::Lines {
        writeln!(
            out,
            "framing:          text lines (no STX found: a text dump)"
        )?;
    }
    writeln!(out, "bytes read:       {}", s.bytes)?;
    writeln!(out, "bytes skipped:    {}", s.bytes_skipped)?;
    writeln!(out, "frames complete:  {}", s.frames)?;
    writeln!(
        out,
        "frames cut:       {} (EOT or new STX: {}, oversize: {})",
        s.frames_cut + s.frames_oversize,
        s.frames_cut,
        s.frames_oversize
    )?;
    writeln!(out, "groups verified:  {}", s.groups_ok)?;
    writeln!(out, "groups failed:    {}", s.groups_bad)?;
    writeln!(
        out,
        "bad horodates:    {} (checksum verified, impossible date or time)",
        s.groups_bad_horodate
    )?;
    // Frames in which no group verifies say nothing of the mode.
    let mode = s.mode().filter(|_| s.groups_ok > 0);
    writeln!(
        out,
        "mode:             {}",
        mode.map_or("none (no group verifies)", |m| m.name())
    )?;
    let rule = match (mode, r.historique_rule) {
        (None, _) => "none detected".to_owned(),
        (Some(Mode::Standard), _) => ChecksumRule::Standard.name().to_owned(),
        (Some(Mode::Historique), Some(rule)) => rule.name().to_owned(),
        (Some(Mode::Historique), None) => format!(
            "{}, not confirmed (no frame of 3 groups verified under one rule only)",
            ChecksumRule::HistoriqueMode1.name()
        ),
    };
    writeln!(out, "checksum rule:    {rule}")?;
    writeln!(out, "first DATE:       {}", fmt_date(first))?;
    writeln!(out, "last DATE:        {}", fmt_date(last))?;
    Ok(s)
}
