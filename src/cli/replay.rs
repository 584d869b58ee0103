//! What a replay did: its frames, its rows, why the other frames made no row, and a note
//! when a historique capture needed `--replay-start`.

use anyhow::{bail, Result};
use tic_rec::capture::{Counters, HostClock};
use tic_rec::tic::Mode;

/// What a replay wrote, and why the other frames made no row; an error if it wrote none.
pub(super) fn report(name: &str, c: &Counters, mode: Option<Mode>, clock: HostClock) -> Result<()> {
    let r = &c.recorder;
    let t = &r.timeline;
    let parts: Vec<String> = [
        (
            r.incomplete,
            "lacked a wanted label or had it fail its checksum",
        ),
        (
            r.not_after_last,
            "fell in the same second as the previous row",
        ),
        (
            r.same_interval,
            "fell in an interval already recorded (--every)",
        ),
        (
            r.before_shape,
            "came before a clean frame identifying the meter",
        ),
        (r.no_time, "had no valid DATE"),
        (
            t.glitches,
            "had a time contradicted by the frames around them",
        ),
        (t.unset_clock, "had a time before 2010"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    eprintln!(
        "tic-rec: replay of {name}: {} frames, {} rows written{}",
        c.decoder.frames,
        c.written,
        if parts.is_empty() {
            String::new()
        } else {
            format!("; frames not written: {}", parts.join(", "))
        }
    );
    let historique = c.decoder.frames_historique > c.decoder.frames_standard;
    let host = matches!(clock, HostClock::System);
    if historique && host && c.decoder.frames >= 10 && r.not_after_last * 2 > c.decoder.frames {
        eprintln!(
            "tic-rec: note: historique frames have no DATE: they were stamped with this \
             machine's clock at replay speed, so most fell in the same second; give the \
             capture's start with --replay-start YYYY-MM-DDTHH:MM:SS to stamp them from its air \
             time at 1200 baud"
        );
    }
    if c.written == 0 && c.rows == 0 {
        let why = if c.decoder.frames == 0 {
            "no complete frame in it (is it a TIC capture?)".to_owned()
        } else if c.decoder.groups_ok == 0 || c.decoder.groups_bad > c.decoder.groups_ok {
            format!(
                "{} of {} groups failed their checksum{}",
                c.decoder.groups_bad,
                c.decoder.groups_bad + c.decoder.groups_ok,
                match mode {
                    Some(m) => format!(": is it really {m} mode? try --mode auto"),
                    None => String::new(),
                }
            )
        } else {
            parts
                .first()
                .cloned()
                .unwrap_or_else(|| "no frame made a record".to_owned())
        };
        bail!("no row written from {name}: {why}");
    }
    Ok(())
}
