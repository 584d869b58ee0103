//! HTML text: escaping, and the small formats the pages and the charts share. Both
//! [`super::pages`] and [`super::svg`] use it; neither uses the other's.

use crate::cost::Money;

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

/// `1,234.56 €` that never breaks between the number and its unit (an escaped, no-break
/// space).
pub fn eur(m: Money) -> String {
    esc(&m.human()).replace(' ', "\u{a0}")
}

/// `s` escaped, with a no-break space before each `€` and `%` (a sentence of the cost
/// engine never breaks an amount from its unit).
pub fn prose(s: &str) -> String {
    keep_dates(&esc(s).replace(" €", "\u{a0}€").replace(" %", "\u{a0}%"))
}

/// `s` with each hyphen between two digits (`2026-11-02`, `22:00-06:00`) made a no-break
/// hyphen, so that a date or an hour range never breaks across lines.
pub fn keep_dates(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        out.push(if c == '-' && digits { '\u{2011}' } else { c });
    }
    out
}

/// A number with `decimals` places, for a chart label: `0`, `2.5`, `1200`.
pub fn num(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_units() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(eur(Money::from_cents(171_759)), "1,717.59\u{a0}€");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(1200.0), "1200");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(
            keep_dates("on 2026-11-02, 22:00-06:00 - x"),
            "on 2026\u{2011}11\u{2011}02, 22:00\u{2011}06:00 - x"
        );
        assert_eq!(
            prose("paid 4.74 € (+3.8 %)"),
            "paid 4.74\u{a0}€ (+3.8\u{a0}%)"
        );
    }
}
