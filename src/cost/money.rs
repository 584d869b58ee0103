//! Exact money: decimal prices, integer watt-hours, per-day subscriptions.
//!
//! ## Contract
//! - A [`Decimal`] is a non-negative amount with at most 5 decimal places, parsed from its
//!   text (never through a float): a kWh price in €/kWh, a subscription in €/year or
//!   €/month. Its integer part has at most 6 digits.
//! - Energy is integer Wh. A kWh price in units of 10⁻⁵ €/kWh times Wh is a whole number of
//!   10⁻⁸ €.
//! - A day of subscription is the annual figure × 1 / (days in that calendar year). So that
//!   days of 365- and 366-day years add up exactly, [`Money`] counts units of
//!   10⁻⁸ € / (365 × 366): every energy cost and every day of subscription is a whole number
//!   of them, and sums are exact (they saturate rather than wrap on absurd inputs).
//! - Rounding happens only for display: to the cent, half away from zero (half up for the
//!   positive amounts a bill holds). [`Money::human`] writes `1,234.56 €`, [`Money::plain`]
//!   (and `Display`) `1234.56`, for CSV.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub};

/// A malformed decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal number.
    #[error("expected a decimal number like 0.1952, found {0:?}")]
    NotDecimal(String),
    /// A minus sign.
    #[error("expected a price of zero or more, found {0:?}")]
    Negative(String),
    /// More than five decimal places.
    #[error("expected at most 5 decimal places, found {0:?}")]
    TooPrecise(String),
    /// Seven or more digits before the point.
    #[error("expected less than 1,000,000, found {0:?}")]
    TooLarge(String),
}

/// Units of a [`Decimal`] per unit (five decimal places).
const DECIMAL_SCALE: i64 = 100_000;

/// A non-negative decimal with at most 5 places, exact (units of 10⁻⁵).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(i64);

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal(0);

    /// From units of 10⁻⁵ (`Decimal::from_units(19_520)` is 0.1952).
    pub const fn from_units(units: i64) -> Decimal {
        Decimal(units)
    }

    /// Units of 10⁻⁵.
    pub const fn units(self) -> i64 {
        self.0
    }

    /// Parses `0.1952`, `185.94`, `12`, `+0.5`; no exponent, no minus, at most 5 places.
    pub fn parse(text: &str) -> Result<Decimal, MoneyError> {
        let t = text.trim();
        if t.starts_with('-') {
            return Err(MoneyError::Negative(text.to_owned()));
        }
        let t = t.strip_prefix('+').unwrap_or(t);
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(MoneyError::NotDecimal(text.to_owned()));
        }
        // "5." and ".5" are fine; "." alone is not (caught above).
        if frac.len() > 5 {
            // Trailing zeros past the fifth place carry nothing.
            if frac[5..].bytes().any(|b| b != b'0') {
                return Err(MoneyError::TooPrecise(text.to_owned()));
            }
        }
        let int = int.trim_start_matches('0');
        if int.len() > 6 {
            return Err(MoneyError::TooLarge(text.to_owned()));
        }
        let mut units: i64 = 0;
        for b in int.bytes() {
            units = units * 10 + i64::from(b - b'0');
        }
        let mut frac_units: i64 = 0;
        for i in 0..5 {
            let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
            frac_units = frac_units * 10 + d;
        }
        Ok(Decimal(units * DECIMAL_SCALE + frac_units))
    }

    /// [`Decimal::parse`], except that more than 5 decimal places are rounded half up to 5
    /// (an official figure printed with 7 places, `189.9802924`): the decimal and whether it
    /// was rounded.
    pub fn parse_rounded(text: &str) -> Result<(Decimal, bool), MoneyError> {
        let t = text.trim();
        let Some((int, frac)) = t.split_once('.') else {
            return Decimal::parse(text).map(|d| (d, false));
        };
        if frac.len() <= 5 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Decimal::parse(text).map(|d| (d, false));
        }
        let kept = Decimal::parse(&format!("{int}.{}", &frac[..5]))?;
        let rest = &frac[5..];
        let rounded = rest.bytes().any(|b| b != b'0');
        let up = rest.as_bytes().first().is_some_and(|&b| b >= b'5');
        let d = if up {
            let units = kept.0 + 1;
            if units / DECIMAL_SCALE >= 1_000_000 {
                return Err(MoneyError::TooLarge(text.to_owned()));
            }
            Decimal(units)
        } else {
            kept
        };
        Ok((d, rounded))
    }

    /// Twelve times (a monthly subscription as a yearly one).
    pub const fn times12(self) -> Decimal {
        Decimal(self.0 * 12)
    }
}

impl fmt::Display for Decimal {
    /// The shortest exact text: `0.1952`, `185.94`, `12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.0 / DECIMAL_SCALE;
        let frac = self.0 % DECIMAL_SCALE;
        if frac == 0 {
            write!(f, "{int}")
        } else {
            let s = format!("{frac:05}");
            write!(f, "{int}.{}", s.trim_end_matches('0'))
        }
    }
}

/// 365 × 366: the common denominator of a day's share of any year.
const YEAR_LCM: i128 = 365 * 366;
/// [`Money`] units per 10⁻⁸ €.
const PER_1E8: i128 = YEAR_LCM;
/// [`Money`] units per cent.
const PER_CENT: i128 = 1_000_000 * PER_1E8;

/// An exact amount of euros (units of 10⁻⁸ € / (365 × 366)); may be negative (a difference).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i128);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// A whole number of cents.
    pub const fn from_cents(cents: i64) -> Money {
        Money(cents as i128 * PER_CENT)
    }

    /// The cost of `wh` at `price` €/kWh: exactly price × wh / 1000.
    pub fn energy(price: Decimal, wh: u64) -> Money {
        // 10⁻⁵ €/kWh × Wh = 10⁻⁸ €.
        Money(
            i128::from(price.0)
                .saturating_mul(i128::from(wh))
                .saturating_mul(PER_1E8),
        )
    }

    /// `days` days of an `annual` subscription in `year`: annual × days / (days in `year`).
    pub fn subscription(annual: Decimal, year: i32, days: u32) -> Money {
        // annual × 10⁻⁵ € = annual × 1000 × 10⁻⁸ €, and one day of it is 1 / (days in the
        // year) of that: (365 × 366) / 365 = 366 or / 366 = 365 units per 10⁻⁸ €, whole.
        let per_day = YEAR_LCM / i128::from(days_in_year(year));
        Money(
            i128::from(annual.0)
                .saturating_mul(1000)
                .saturating_mul(per_day)
                .saturating_mul(i128::from(days)),
        )
    }

    /// Rounded to the cent, half away from zero.
    pub fn cents(self) -> i128 {
        let half = PER_CENT / 2;
        if self.0 >= 0 {
            (self.0 + half) / PER_CENT
        } else {
            -((-self.0 + half) / PER_CENT)
        }
    }

    /// Exactly `self / 1e-8 €` when that is whole (tests and checks).
    pub fn units_1e8(self) -> Option<i128> {
        (self.0 % PER_1E8 == 0).then_some(self.0 / PER_1E8)
    }

    /// `1234.56` (CSV): rounded to the cent, `-` for a negative amount.
    pub fn plain(self) -> String {
        let c = self.cents();
        let sign = if c < 0 { "-" } else { "" };
        let c = c.unsigned_abs();
        format!("{sign}{}.{:02}", c / 100, c % 100)
    }

    /// `1,234.56 €` (for people): thousands separated by commas, `−` (U+2212) if negative.
    pub fn human(self) -> String {
        let c = self.cents();
        let sign = if c < 0 { "\u{2212}" } else { "" };
        let c = c.unsigned_abs();
        let int = (c / 100).to_string();
        let mut grouped = String::with_capacity(int.len() + int.len() / 3);
        for (i, ch) in int.chars().enumerate() {
            if i > 0 && (int.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        format!("{sign}{grouped}.{:02} €", c % 100)
    }

    /// `(self − base) / base` in tenths of a percent, rounded half away from zero; `None`
    /// when `base` is zero.
    pub fn change_permille(self, base: Money) -> Option<i128> {
        if base.0 == 0 {
            return None;
        }
        let num = (self.0 - base.0).saturating_mul(1000);
        let den = base.0;
        // Round num / den half away from zero, for any signs.
        let q = num / den;
        let r = num % den;
        let twice = r.unsigned_abs().saturating_mul(2);
        let away = twice >= den.unsigned_abs();
        let negative = (num < 0) != (den < 0);
        Some(if away && r != 0 {
            if negative {
                q - 1
            } else {
                q + 1
            }
        } else {
            q
        })
    }
}

/// `−10.8 %`, `+4.5 %`, `0.0 %` from tenths of a percent.
pub fn format_change(permille: i128) -> String {
    let sign = match permille.signum() {
        -1 => "\u{2212}",
        1 => "+",
        _ => "",
    };
    let a = permille.unsigned_abs();
    format!("{sign}{}.{} %", a / 10, a % 10)
}

/// 365 or 366.
pub fn days_in_year(year: i32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if leap {
        366
    } else {
        365
    }
}

impl fmt::Display for Money {
    /// As [`Money::plain`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.plain())
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        *self = *self + o;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0.saturating_sub(o.0))
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(self.0.saturating_neg())
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).expect("test decimal")
    }

    #[test]
    fn decimals_parse_exactly() {
        for (text, units) in [
            ("0.1952", 19_520),
            ("185.94", 18_594_000),
            ("12", 1_200_000),
            ("0.14436", 14_436),
            ("+0.5", 50_000),
            (".5", 50_000),
            ("5.", 500_000),
            ("0.1234500", 12_345),
            ("000001.1", 110_000),
            ("999999.99999", 99_999_999_999),
        ] {
            assert_eq!(d(text).units(), units, "{text}");
        }
        for (text, want) in [
            ("-0.1", MoneyError::Negative("-0.1".into())),
            ("0.123456", MoneyError::TooPrecise("0.123456".into())),
            ("1e-3", MoneyError::NotDecimal("1e-3".into())),
            ("", MoneyError::NotDecimal("".into())),
            (".", MoneyError::NotDecimal(".".into())),
            ("1.2.3", MoneyError::NotDecimal("1.2.3".into())),
            ("nan", MoneyError::NotDecimal("nan".into())),
            ("1000000", MoneyError::TooLarge("1000000".into())),
        ] {
            assert_eq!(Decimal::parse(text), Err(want), "{text}");
        }
        for (text, units, rounded) in [
            ("189.9802924", 18_998_029, true),
            ("189.9802950", 18_998_030, true),
            ("0.12345", 12_345, false),
            ("0.1234500", 12_345, false),
            ("12", 1_200_000, false),
            ("0.999995", 100_000, true),
        ] {
            assert_eq!(
                Decimal::parse_rounded(text),
                Ok((Decimal::from_units(units), rounded)),
                "{text}"
            );
        }
        assert!(Decimal::parse_rounded("-1.1234567").is_err());
        assert!(Decimal::parse_rounded("1.12x4567").is_err());
        assert_eq!(d("0.1952").to_string(), "0.1952");
        assert_eq!(d("12.00").to_string(), "12");
        assert_eq!(d("15.47").times12().to_string(), "185.64");
    }

    #[test]
    fn energy_is_exact() {
        // 0.1952 €/kWh × 1234 Wh = 0.2408768 € = 24,087,680 × 10⁻⁸ €.
        let m = Money::energy(d("0.1952"), 1234);
        assert_eq!(m.units_1e8(), Some(24_087_680));
        assert_eq!(m.plain(), "0.24");
        // A thousand 1 Wh costs add up to the cost of 1 kWh.
        let sum: Money = (0..1000).map(|_| Money::energy(d("0.1952"), 1)).sum();
        assert_eq!(sum, Money::energy(d("0.1952"), 1000));
        assert_eq!(sum.plain(), "0.20");
    }

    #[test]
    fn subscription_days_add_up_to_the_year() {
        let annual = d("185.94");
        // Every day of 2025 (365) and of 2024 (366), one by one, is the annual figure.
        let y2025: Money = (0..365).map(|_| Money::subscription(annual, 2025, 1)).sum();
        assert_eq!(y2025, Money::from_cents(18_594));
        let y2024: Money = (0..366).map(|_| Money::subscription(annual, 2024, 1)).sum();
        assert_eq!(y2024, Money::from_cents(18_594));
        // 14 days of 2025: 185.94 × 14 / 365 = 7.13194… €.
        assert_eq!(Money::subscription(annual, 2025, 14).plain(), "7.13");
        // A monthly 15.47 counts as 185.64 a year: 31 days of 2025 = 15.766… €.
        assert_eq!(
            Money::subscription(d("15.47").times12(), 2025, 31).plain(),
            "15.77"
        );
    }

    #[test]
    fn rounding_and_formats() {
        // Half a cent rounds away from zero.
        let half = Money::energy(d("0.005"), 1000); // 0.005 €
        assert_eq!(half.plain(), "0.01");
        assert_eq!((-half).plain(), "-0.01");
        let just_below = Money::energy(d("0.00499"), 1000);
        assert_eq!(just_below.plain(), "0.00");
        let m = Money::from_cents(123_456);
        assert_eq!(m.plain(), "1234.56");
        assert_eq!(m.human(), "1,234.56 €");
        assert_eq!(Money::from_cents(123_456_789).human(), "1,234,567.89 €");
        assert_eq!(Money::from_cents(99).human(), "0.99 €");
        assert_eq!(Money::from_cents(-100_000).human(), "\u{2212}1,000.00 €");
        assert_eq!(Money::ZERO.human(), "0.00 €");
    }

    #[test]
    fn changes_in_percent() {
        let paid = Money::from_cents(123_456);
        // (1101.20 − 1234.56) / 1234.56 = −10.80 %.
        let tempo = Money::from_cents(110_120);
        assert_eq!(tempo.change_permille(paid), Some(-108));
        assert_eq!(format_change(-108), "\u{2212}10.8 %");
        // (1290.00 − 1234.56) / 1234.56 = +4.49 % → +4.5 %.
        let base = Money::from_cents(129_000);
        assert_eq!(base.change_permille(paid), Some(45));
        assert_eq!(format_change(45), "+4.5 %");
        assert_eq!(paid.change_permille(paid), Some(0));
        assert_eq!(format_change(0), "0.0 %");
        assert_eq!(paid.change_permille(Money::ZERO), None);
        // Half a tenth rounds away from zero: 100.05 vs 100 → +0.1 %; 99.95 → −0.1 %.
        let hundred = Money::from_cents(10_000);
        let up = Money::energy(d("100.05"), 1000);
        let down = Money::energy(d("99.95"), 1000);
        assert_eq!(up.change_permille(hundred), Some(1));
        assert_eq!(down.change_permille(hundred), Some(-1));
    }

    #[test]
    fn absurd_amounts_saturate() {
        let big = Money::energy(d("999999.99999"), u64::MAX);
        let sum = big + big + big;
        assert!(sum >= big);
        assert!(!sum.plain().is_empty());
    }
}
