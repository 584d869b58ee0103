//! Period boundaries in the meter's local calendar (Europe/Paris).

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::{Error, MAX_PERIODS};

/// The length of an export row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// A UTC hour (France's offsets are whole hours: the October DST day has 25, March's 23).
    Hour,
    /// A local day, midnight to midnight (23 h or 25 h on DST days).
    Day,
    /// An ISO week, from Monday 00:00 local.
    Week,
    /// A calendar month.
    Month,
    /// A calendar year.
    Year,
}

/// Unix time of local midnight at the start of `day`.
pub fn midnight(day: NaiveDate) -> Result<i64, Error> {
    crate::store::midnight(day).ok_or(Error::Calendar(day))
}

/// The boundaries (Unix seconds, increasing) of the periods covering
/// `[from 00:00, to + 1 00:00)` local; the first and last periods are clipped to the range.
/// `n` periods have `n + 1` boundaries. More than `MAX_PERIODS` is an error.
pub fn boundaries(period: Period, from: NaiveDate, to: NaiveDate) -> Result<Vec<i64>, Error> {
    // Each period holds per-label accumulators: bound them (an hour a row for 22 years).
    let days = (to - from).num_days() + 1;
    let periods = if period == Period::Hour {
        days * 24
    } else {
        days
    };
    if periods > MAX_PERIODS {
        return Err(Error::RangeTooWide { from, to, periods });
    }
    let start = midnight(from)?;
    let end_day = to
        .checked_add_days(Days::new(1))
        .ok_or(Error::Calendar(to))?;
    let end = midnight(end_day)?;
    let mut out = vec![start];
    if period == Period::Hour {
        out.extend((1..).map(|h| start + 3600 * h).take_while(|&t| t < end));
    } else {
        let mut day = from;
        while let Some(next) = day.succ_opt() {
            if next >= end_day {
                break;
            }
            day = next;
            let starts = match period {
                Period::Hour | Period::Day => true,
                Period::Week => day.weekday() == Weekday::Mon,
                Period::Month => day.day() == 1,
                Period::Year => day.ordinal() == 1,
            };
            if starts {
                out.push(midnight(day)?);
            }
        }
    }
    out.push(end);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn lengths() {
        let h = 3600;
        let cases: &[(Period, NaiveDate, NaiveDate, Vec<i64>)] = &[
            (
                Period::Day,
                d(2026, 3, 28),
                d(2026, 3, 30),
                vec![24 * h, 23 * h, 24 * h],
            ),
            (Period::Day, d(2026, 10, 25), d(2026, 10, 25), vec![25 * h]),
            (Period::Hour, d(2026, 10, 25), d(2026, 10, 25), vec![h; 25]),
            (Period::Hour, d(2026, 3, 29), d(2026, 3, 29), vec![h; 23]),
            // 2026-03-04 is a Wednesday: clipped first week, whole week, clipped last.
            (
                Period::Week,
                d(2026, 3, 4),
                d(2026, 3, 17),
                vec![5 * 24 * h, 7 * 24 * h, 2 * 24 * h],
            ),
            (
                Period::Month,
                d(2026, 2, 1),
                d(2026, 4, 30),
                vec![28 * 24 * h, (31 * 24 - 1) * h, 30 * 24 * h],
            ),
            (
                Period::Year,
                d(2025, 12, 31),
                d(2026, 1, 1),
                vec![24 * h, 24 * h],
            ),
        ];
        for (p, from, to, want) in cases {
            let b = boundaries(*p, *from, *to).expect("boundaries");
            let got: Vec<i64> = b.windows(2).map(|w| w[1] - w[0]).collect();
            assert_eq!(&got, want, "{p:?} {from} {to}");
        }
    }
}
