//! The one time and cell parser (and formatter) of the daily files: RFC 3339 times with their
//! offset, RFC 4180 cells, plain integers.

use std::borrow::Cow;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into Unix seconds and the offset in seconds.
pub fn parse_time(s: &[u8]) -> Option<(i64, i32)> {
    if s.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = s.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
    };
    let sep = |i: usize, c: &[u8]| s.get(i).is_some_and(|b| c.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let mut i = 19;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match s.get(i)? {
        b'Z' | b'z' if s.len() == i + 1 => 0,
        b'+' | b'-' if s.len() == i + 6 && s[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if s[i] == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    Some((t, i32::try_from(offset).ok()?))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date of a day number (days since 1970-01-01): `(year, month, day)`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The local wall-clock fields of `t` (Unix seconds) at `offset` seconds:
/// `(year, month, day, hour, minute, second)`.
pub fn local_fields(t: i64, offset: i32) -> (i64, u32, u32, u32, u32, u32) {
    let l = t + i64::from(offset);
    let (y, m, d) = civil_from_days(l.div_euclid(86_400));
    let s = l.rem_euclid(86_400) as u32;
    (y, m, d, s / 3600, s / 60 % 60, s % 60)
}

fn push2(out: &mut String, v: u32) {
    out.push(char::from(b'0' + (v / 10 % 10) as u8));
    out.push(char::from(b'0' + (v % 10) as u8));
}

/// Appends the time cell the recorder writes for `t` at `offset`: RFC 3339, second precision,
/// `±HH:MM` (`2026-10-25T02:30:00+02:00`). Years outside 0..=9999 are written as chrono does
/// not: callers compare with the original text, so such a time is simply not canonical.
pub fn push_time(out: &mut String, t: i64, offset: i32) {
    let (y, mo, d, h, mi, s) = local_fields(t, offset);
    let y = y.clamp(0, 9999) as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    out.push('-');
    push2(out, mo);
    out.push('-');
    push2(out, d);
    out.push('T');
    push2(out, h);
    out.push(':');
    push2(out, mi);
    out.push(':');
    push2(out, s);
    out.push(if offset < 0 { '-' } else { '+' });
    let o = offset.unsigned_abs();
    push2(out, o / 3600);
    out.push(':');
    push2(out, o / 60 % 60);
}

/// The offset of Europe/Paris at `t` (Unix seconds), in seconds.
pub fn paris_offset(t: i64) -> i32 {
    use chrono::Offset;
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(u) => u
            .with_timezone(&super::layout::TZ)
            .offset()
            .fix()
            .local_minus_utc(),
        None => 3600,
    }
}

/// A plain non-negative integer (at most 18 digits; leading zeros allowed).
pub fn parse_int(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
}

/// The integer a numeric cell holds when the cell is exactly how the recorder writes one
/// (digits, no leading zero unless it is `0`, at most 18 digits): then formatting the integer
/// gives the cell back.
pub fn canonical_int(s: &str) -> Option<i64> {
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    parse_int(s)
}

/// Appends `v` in decimal.
pub fn push_int(out: &mut String, v: i64) {
    use std::fmt::Write;
    let _ = write!(out, "{v}");
}

/// Calls `each(index, cell)` for every cell of an RFC 4180 line; `Err` names what is wrong.
pub fn for_each_cell<'a>(
    line: &'a str,
    mut each: impl FnMut(usize, Cow<'a, str>),
) -> Result<(), String> {
    if !line.contains('"') {
        for (i, c) in line.split(',').enumerate() {
            each(i, Cow::Borrowed(c));
        }
        return Ok(());
    }
    let b = line.as_bytes();
    let (mut i, mut k) = (0usize, 0usize);
    loop {
        if b.get(i) == Some(&b'"') {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(j) = line[i..].find('"') else {
                    return Err(format!("unterminated quoted cell {}", k + 1));
                };
                s.push_str(&line[i..i + j]);
                i += j + 1;
                if b.get(i) == Some(&b'"') {
                    s.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            each(k, Cow::Owned(s));
            match b.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => return Err(format!("expected ',' after quoted cell {}", k + 1)),
            }
        } else {
            let j = line[i..].find(',').map_or(b.len(), |j| i + j);
            each(k, Cow::Borrowed(&line[i..j]));
            if j == b.len() {
                return Ok(());
            }
            i = j + 1;
        }
        k += 1;
    }
}

/// Appends a CSV cell, quoted only when it must be (as the recorder writes it).
pub fn push_cell(out: &mut String, cell: &str) {
    if cell
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases: &[(&str, Option<(i64, i32)>)] = &[
            ("1970-01-01T00:00:00Z", Some((0, 0))),
            ("2026-10-25T02:30:00+02:00", Some((1_792_888_200, 7200))),
            ("2026-10-25T02:30:00+01:00", Some((1_792_891_800, 3600))),
            ("2024-02-29T23:59:59-05:30", Some((1_709_270_999, -19800))),
            ("2026-10-25T02:30:00.123+02:00", Some((1_792_888_200, 7200))),
            ("2026-02-29T00:00:00+01:00", None),
            ("2026-10-25T02:30:00", None),
            ("2026-10-25T02:30:00+0200", None),
            ("2026-13-25T02:30:00+02:00", None),
            ("not a time at all, really", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s.as_bytes()), *want, "{s}");
            if let Some((t, _)) = want {
                let c = chrono::DateTime::parse_from_rfc3339(s).expect("valid");
                assert_eq!(c.timestamp(), *t, "{s}");
            }
        }
    }

    #[test]
    fn time_text_is_what_the_recorder_writes() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..20_000 {
            let t = rng.i64(300_000_000..4_000_000_000);
            let off = paris_offset(t);
            let mut s = String::new();
            push_time(&mut s, t, off);
            let want = chrono::DateTime::from_timestamp(t, 0)
                .expect("time")
                .with_timezone(&crate::store::TZ)
                .fixed_offset()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            assert_eq!(s, want);
            assert_eq!(parse_time(s.as_bytes()), Some((t, off)));
        }
        let mut s = String::new();
        push_time(&mut s, 0, -19800);
        assert_eq!(s, "1969-12-31T18:30:00-05:30");
    }

    #[test]
    fn cells() {
        let cases: &[(&str, Result<Vec<&str>, ()>)] = &[
            ("a,b,,c", Ok(vec!["a", "b", "", "c"])),
            ("a,", Ok(vec!["a", ""])),
            (
                "\"x,y\",\"say \"\"hi\"\"\",z",
                Ok(vec!["x,y", "say \"hi\"", "z"]),
            ),
            ("\"open", Err(())),
            ("\"a\"b", Err(())),
        ];
        for (line, want) in cases {
            let mut got = Vec::new();
            let r = for_each_cell(line, |_, c| got.push(c.into_owned()));
            match want {
                Ok(w) => assert_eq!(got, *w, "{line}"),
                Err(()) => assert!(r.is_err(), "{line}"),
            }
        }
        let mut s = String::new();
        for c in ["a", "b c", "d,e", "f\"g"] {
            push_cell(&mut s, c);
            s.push(',');
        }
        assert_eq!(s, "a,b c,\"d,e\",\"f\"\"g\",");
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("007"), Some(7));
        assert_eq!(canonical_int("007"), None);
        assert_eq!(canonical_int("0"), Some(0));
        assert_eq!(canonical_int("120"), Some(120));
        assert_eq!(canonical_int(""), None);
        assert_eq!(canonical_int("1234567890123456789"), None);
        assert_eq!(canonical_int("-1"), None);
    }
}
