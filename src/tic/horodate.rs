//! Horodates: `SAAMMJJhhmmss` with a season letter, turned into exact instants.
//!
//! `E` is summer time (+02:00), `H` winter time (+01:00); lowercase `e`/`h` give the same
//! offsets but flag a meter clock in degraded mode; a space (DPM/FPM groups) means no
//! season, and the time stays a local time. The host's time zone is never consulted.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

/// The season letter of a horodate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Season {
    /// `E`/`e`: summer time, UTC+2.
    Summer,
    /// `H`/`h`: winter time, UTC+1.
    Winter,
    /// SP: season not applicable (DPMx/FPMx); a local time only.
    NotApplicable,
}

/// A decoded horodate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Horodate {
    /// The season letter.
    pub season: Season,
    /// The meter's local legal time.
    pub local: NaiveDateTime,
    /// Lowercase season letter: the meter's clock runs in degraded mode.
    pub degraded: bool,
}

/// An invalid horodate, naming the group label and the bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid horodate {raw:?} in group {label:?}: {reason}")]
pub struct HorodateError {
    /// The label of the group that carried it.
    pub label: String,
    /// The horodate bytes as read.
    pub raw: String,
    /// What was wrong.
    pub reason: &'static str,
}

const SUMMER: i32 = 2 * 3600;
const WINTER: i32 = 3600;

impl Horodate {
    /// Parses `SAAMMJJhhmmss`; `label` only serves the error message.
    pub fn parse(label: &str, raw: &str) -> Result<Horodate, HorodateError> {
        Self::parse_bytes(raw.as_bytes()).map_err(|reason| HorodateError {
            label: label.to_owned(),
            raw: raw.to_owned(),
            reason,
        })
    }

    /// Allocation-free parse used on the decoder's hot path.
    pub(crate) fn parse_bytes(raw: &[u8]) -> Result<Horodate, &'static str> {
        if raw.len() != 13 {
            return Err("expected 13 characters (SAAMMJJhhmmss)");
        }
        let (season, degraded) = match raw[0] {
            b'E' => (Season::Summer, false),
            b'H' => (Season::Winter, false),
            b'e' => (Season::Summer, true),
            b'h' => (Season::Winter, true),
            b' ' => (Season::NotApplicable, false),
            _ => return Err("season must be E, H, e, h or a space"),
        };
        let mut n = [0u32; 6];
        for (i, pair) in raw[1..].chunks_exact(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            if !a.is_ascii_digit() || !b.is_ascii_digit() {
                return Err("expected 12 digits after the season letter");
            }
            n[i] = u32::from(a - b'0') * 10 + u32::from(b - b'0');
        }
        let local = NaiveDate::from_ymd_opt(2000 + n[0] as i32, n[1], n[2])
            .and_then(|d| d.and_hms_opt(n[3], n[4], n[5]))
            .ok_or("no such date or time")?;
        Ok(Horodate {
            season,
            local,
            degraded,
        })
    }

    /// Whether [`Horodate::parse_bytes`] would accept `raw`, without building the date (the
    /// decoder's hot path). It must reject exactly what chrono rejects: a test compares them.
    pub(crate) fn is_valid_bytes(raw: &[u8]) -> bool {
        if raw.len() != 13 || !matches!(raw[0], b'E' | b'H' | b'e' | b'h' | b' ') {
            return false;
        }
        if !raw[1..].iter().all(u8::is_ascii_digit) {
            return false;
        }
        let n = |i: usize| (raw[i] - b'0') * 10 + (raw[i + 1] - b'0');
        let (year, month, day) = (n(1), n(3), n(5));
        // Years are 2000..=2099, where every fourth one, 2000 included, is a leap year.
        const DAYS: [u8; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let days = match month {
            2 if year % 4 == 0 => 29,
            1..=12 => DAYS[usize::from(month)],
            _ => return false,
        };
        (1..=days).contains(&day) && n(7) < 24 && n(9) < 60 && n(11) < 60
    }

    /// The UTC offset the season letter gives, if any.
    pub fn offset(&self) -> Option<FixedOffset> {
        let secs = match self.season {
            Season::Summer => SUMMER,
            Season::Winter => WINTER,
            Season::NotApplicable => return None,
        };
        Some(FixedOffset::east_opt(secs).expect("±2 h is a valid offset"))
    }

    /// The exact instant, when the season letter gives one.
    pub fn instant(&self) -> Option<DateTime<FixedOffset>> {
        let offset = self.offset()?;
        self.local.and_local_timezone(offset).single()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasons_give_exact_instants() {
        let cases = [
            ("H081225223518", "2008-12-25T22:35:18+01:00", false),
            ("E090714074553", "2009-07-14T07:45:53+02:00", false),
            ("e230301091834", "2023-03-01T09:18:34+02:00", true),
            ("h230301091834", "2023-03-01T09:18:34+01:00", true),
        ];
        for (raw, want, degraded) in cases {
            let h = Horodate::parse("DATE", raw).unwrap();
            assert_eq!(h.instant().unwrap().to_rfc3339(), want, "{raw}");
            assert_eq!(h.degraded, degraded, "{raw}");
        }
    }

    #[test]
    fn october_repeated_hour_is_two_instants() {
        let summer = Horodate::parse("DATE", "E261025023000")
            .unwrap()
            .instant()
            .unwrap();
        let winter = Horodate::parse("DATE", "H261025023000")
            .unwrap()
            .instant()
            .unwrap();
        assert_eq!((winter - summer).num_seconds(), 3600);
        assert_eq!(summer.to_rfc3339(), "2026-10-25T02:30:00+02:00");
    }

    #[test]
    fn season_space_is_local_only() {
        let h = Horodate::parse("DPM2", " 240108060000").unwrap();
        assert_eq!(h.season, Season::NotApplicable);
        assert_eq!(h.instant(), None);
        assert_eq!(h.local.to_string(), "2024-01-08 06:00:00");
    }

    #[test]
    fn is_valid_bytes_agrees_with_parse_bytes() {
        let check = |raw: &str| {
            let ok = Horodate::parse_bytes(raw.as_bytes()).is_ok();
            assert_eq!(Horodate::is_valid_bytes(raw.as_bytes()), ok, "{raw:?}");
        };
        for y in 0..100 {
            for m in 0..100 {
                for d in 0..100 {
                    check(&format!("H{y:02}{m:02}{d:02}120000"));
                }
            }
        }
        for t in 0..100 {
            for s in ["E", "H", "e", "h", " ", "X", "0"] {
                check(&format!("{s}240229{t:02}0000"));
                check(&format!("{s}24022900{t:02}00"));
                check(&format!("{s}2402290000{t:02}"));
            }
        }
        for raw in [
            "",
            "H2303010918",
            "H23030109183a",
            "H2303010918340",
            "H2303:1091834",
            "H23/301091834",
        ] {
            check(raw);
        }
    }

    #[test]
    fn invalid_horodates_are_errors_naming_label_and_bytes() {
        for raw in [
            "",
            "H2303010918",
            "X230301091834",
            "H23030109183a",
            "H231301091834",
            "H230230120000",
            "H230301250000",
        ] {
            let err = Horodate::parse("DATE", raw).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("\"DATE\"") && msg.contains(&format!("{raw:?}")),
                "{msg}"
            );
        }
    }
}
