//! Text for a terminal: long lines wrapped.

/// `text` with its spaces turned into line breaks so that no line is wider than `width`
/// characters (a word wider stays whole), the lines after the first starting with `indent`.
pub(super) fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    // An amount stays with its unit: `8.60 €`, `−9.0 %)` never break.
    let mut words: Vec<String> = Vec::new();
    let body = text.trim_start_matches(' ');
    let lead = text.len() - body.len();
    out.push_str(&text[..lead]);
    for w in body.split(' ') {
        match words.last_mut() {
            Some(last) if w.starts_with(['€', '%']) => {
                last.push(' ');
                last.push_str(w);
            }
            _ => words.push(w.to_owned()),
        }
    }
    // The width of the current line, and of what it began with (the indent after the first).
    let (mut line, mut begin) = (lead, lead);
    for word in &words {
        let n = word.chars().count();
        if line > begin && line + 1 + n > width {
            out.push('\n');
            out.push_str(indent);
            begin = indent.chars().count();
            line = begin;
        } else if line > begin {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += n;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrapping() {
        assert_eq!(super::wrap("a bb ccc dddd", 6, ""), "a bb\nccc\ndddd");
        assert_eq!(super::wrap("abcdefgh ij", 4, ""), "abcdefgh\nij");
        assert_eq!(super::wrap("€€ €€", 5, ""), "€€ €€");
        assert_eq!(
            super::wrap("Offer 8.60 € (−0.85 €, −9.0 %); you", 12, ""),
            "Offer 8.60 €\n(−0.85 €,\n−9.0 %); you"
        );
        assert_eq!(
            super::wrap("today: a 1, b 2, c 3", 12, "   "),
            "today: a 1,\n   b 2, c 3"
        );
        assert_eq!(super::wrap("a bb", 10, "   "), "a bb");
        assert_eq!(super::wrap("  a bb", 5, "   "), "  a\n   bb");
    }
}
