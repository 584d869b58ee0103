//! Query parameters, validated: every page and API call says which keys it takes, and each
//! value is parsed into a domain type (a date, a month, a period, a bounded count) or
//! refused with a message for a `400`. Nothing from a query ever names a file.

use chrono::{DateTime, NaiveDate};

use crate::export::Period;
use crate::store::midnight;

/// A refused parameter: the message of a `400`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// The pairs of a request's query.
pub struct Query<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Query<'a> {
    /// The pairs, checked against the keys `known` (an unknown or repeated key is refused, so
    /// a typo is not silently ignored).
    pub fn new(pairs: &'a [(String, String)], known: &[&str]) -> Result<Query<'a>, BadRequest> {
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !known.contains(&k.as_str()) {
                return Err(BadRequest(if known.is_empty() {
                    format!("unknown parameter {:?}: this takes none", short(k))
                } else {
                    format!(
                        "unknown parameter {:?}: this takes {}",
                        short(k),
                        known.join(", ")
                    )
                }));
            }
            if pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(BadRequest(format!("parameter {k:?} given twice")));
            }
        }
        Ok(Query { pairs })
    }

    /// The value of `key`, if given (an empty value counts as absent).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A local date `YYYY-MM-DD`.
    pub fn date(&self, key: &str) -> Result<Option<NaiveDate>, BadRequest> {
        self.get(key).map(|v| parse_date(key, v)).transpose()
    }

    /// A month `YYYY-MM`, as its first day.
    pub fn month(&self, key: &str) -> Result<Option<NaiveDate>, BadRequest> {
        self.get(key)
            .map(|v| {
                NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d")
                    .ok()
                    .filter(|d| plausible(*d) && v.len() == 7)
                    .ok_or_else(|| {
                        BadRequest(format!("{key}={:?}: expected a month YYYY-MM", short(v)))
                    })
            })
            .transpose()
    }

    /// A year `YYYY`.
    pub fn year(&self, key: &str) -> Result<Option<i32>, BadRequest> {
        self.get(key)
            .map(|v| {
                v.parse::<i32>()
                    .ok()
                    .filter(|y| (MIN_YEAR..=MAX_YEAR).contains(y) && v.len() == 4)
                    .ok_or_else(|| {
                        BadRequest(format!(
                            "{key}={:?}: expected a year YYYY ({MIN_YEAR}–{MAX_YEAR})",
                            short(v)
                        ))
                    })
            })
            .transpose()
    }

    /// `hour`, `day`, `week`, `month` or `year`.
    pub fn period(&self, key: &str) -> Result<Option<Period>, BadRequest> {
        self.get(key)
            .map(|v| match v {
                "hour" => Ok(Period::Hour),
                "day" => Ok(Period::Day),
                "week" => Ok(Period::Week),
                "month" => Ok(Period::Month),
                "year" => Ok(Period::Year),
                _ => Err(BadRequest(format!(
                    "{key}={:?}: expected hour, day, week, month or year",
                    short(v)
                ))),
            })
            .transpose()
    }

    /// An integer in `min..=max`.
    pub fn count(&self, key: &str, min: usize, max: usize) -> Result<Option<usize>, BadRequest> {
        self.get(key)
            .map(|v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        BadRequest(format!(
                            "{key}={:?}: expected an integer from {min} to {max}",
                            short(v)
                        ))
                    })
            })
            .transpose()
    }

    /// An instant: RFC 3339 (`2026-05-01T12:00:00+02:00`, `…Z`), or a local date (its
    /// midnight, Europe/Paris). Unix seconds.
    pub fn instant(&self, key: &str) -> Result<Option<i64>, BadRequest> {
        self.get(key)
            .map(|v| {
                if let Ok(t) = DateTime::parse_from_rfc3339(v) {
                    let d = t.date_naive();
                    if plausible(d) {
                        return Ok(t.timestamp());
                    }
                }
                let bad = || {
                    BadRequest(format!(
                        "{key}={:?}: expected a date YYYY-MM-DD or an RFC 3339 time (2026-05-01T12:00:00+02:00)",
                        short(v)
                    ))
                };
                let d = parse_date(key, v).map_err(|_| bad())?;
                midnight(d).ok_or_else(bad)
            })
            .transpose()
    }

    /// A TIC label (A–Z, 0–9, `+`, `-`; at most 16), as given.
    pub fn label(&self, key: &str) -> Result<Option<&'a str>, BadRequest> {
        self.get(key)
            .map(|v| {
                let ok = v.len() <= 16
                    && v.bytes().all(|b| {
                        b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-'
                    });
                if ok {
                    Ok(v)
                } else {
                    Err(BadRequest(format!(
                        "{key}={:?}: expected a TIC label such as SINSTS",
                        short(v)
                    )))
                }
            })
            .transpose()
    }
}

/// Years a query may name.
pub const MIN_YEAR: i32 = 2000;
/// See [`MIN_YEAR`].
pub const MAX_YEAR: i32 = 2100;

fn plausible(d: NaiveDate) -> bool {
    use chrono::Datelike;
    (MIN_YEAR..=MAX_YEAR).contains(&d.year())
}

fn parse_date(key: &str, v: &str) -> Result<NaiveDate, BadRequest> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .filter(|d| plausible(*d) && v.len() == 10)
        .ok_or_else(|| {
            BadRequest(format!(
                "{key}={:?}: expected a date YYYY-MM-DD ({MIN_YEAR}–{MAX_YEAR})",
                short(v)
            ))
        })
}

/// At most 32 characters of `s`, for messages.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(32).collect();
    if s.chars().count() > 32 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_are_checked() {
        let p = pairs(&[("form", "2026-01-01")]);
        let e = Query::new(&p, &["from", "to"]).err().unwrap();
        assert!(e.0.contains("unknown parameter \"form\""), "{e}");
        let p = pairs(&[("from", "a"), ("from", "b")]);
        assert!(Query::new(&p, &["from"]).err().unwrap().0.contains("twice"));
    }

    #[test]
    fn values() {
        let p = pairs(&[
            ("d", "2026-02-30"),
            ("m", "2026-13"),
            ("y", "99999"),
            ("p", "fortnight"),
            ("n", "-1"),
            ("t", "2026-05-01T12:00:00+02:00"),
            ("u", "2026-05-01"),
            ("v", "1e9"),
            ("l", "../etc"),
            ("ok", "2026-02-28"),
        ]);
        let q = Query::new(&p, &["d", "m", "y", "p", "n", "t", "u", "v", "l", "ok"]).unwrap();
        assert!(q.date("d").is_err());
        assert!(q.month("m").is_err());
        assert!(q.year("y").is_err());
        assert!(q.period("p").is_err());
        assert!(q.count("n", 1, 10).is_err());
        assert_eq!(q.instant("t").unwrap(), Some(1_777_629_600));
        assert_eq!(q.instant("u").unwrap(), Some(1_777_586_400));
        assert!(q.instant("v").is_err());
        assert!(q.label("l").is_err());
        assert_eq!(q.date("ok").unwrap(), NaiveDate::from_ymd_opt(2026, 2, 28));
        assert_eq!(q.date("absent").unwrap(), None);
    }
}
