//! Which energy index is off-peak (HC), peak (HP), and of which Tempo colour.

use super::{ENERGY_LABELS, N_ENERGY};

/// Off-peak, peak or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Heures creuses.
    Hc,
    /// Heures pleines.
    Hp,
    /// Anything else (BASE, EJP, unknown labels).
    Other,
}

/// A Tempo day colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    /// Bleu.
    Blue,
    /// Blanc.
    White,
    /// Rouge.
    Red,
}

impl Colour {
    /// All colours, in output order.
    pub const ALL: [Colour; 3] = [Colour::Blue, Colour::White, Colour::Red];
    /// The column prefix.
    pub fn name(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::White => "white",
            Colour::Red => "red",
        }
    }
}

/// What an index counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// HC, HP or other.
    pub kind: Kind,
    /// The Tempo colour, if any.
    pub colour: Option<Colour>,
}

/// The class a supplier tariff label (LTARF) names: `HEURE CREUSE`, `HC BLEU`, `HP ROUGE`…
pub fn classify(label: &str) -> Class {
    let u = label.trim().to_ascii_uppercase();
    let has = |w: &str| {
        u.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|x| x == w)
    };
    let kind = if u.contains("CREUSE") || u.starts_with("HC") || has("HC") {
        Kind::Hc
    } else if u.contains("PLEINE") || u.starts_with("HP") || has("HP") {
        Kind::Hp
    } else {
        Kind::Other
    };
    let colour = if u.contains("BLEU") {
        Some(Colour::Blue)
    } else if u.contains("BLANC") {
        Some(Colour::White)
    } else if u.contains("ROUGE") {
        Some(Colour::Red)
    } else {
        None
    };
    Class { kind, colour }
}

/// The `(NTARF, LTARF)` pairs learned so far.
#[derive(Clone, Debug, Default)]
pub struct Tariffs {
    supplier: [Option<Class>; 10],
}

impl Tariffs {
    /// Records that supplier index `ntarf` (1..10) is named `label`.
    pub fn learn(&mut self, ntarf: u8, label: &str) {
        if let Some(slot) = usize::from(ntarf)
            .checked_sub(1)
            .and_then(|i| self.supplier.get_mut(i))
        {
            if !label.is_empty() {
                *slot = Some(classify(label));
            }
        }
    }

    /// The class of every energy index (`None`: counts in no HC/HP column).
    pub fn classes(&self) -> [Option<Class>; N_ENERGY] {
        let learned = self.supplier.iter().any(Option::is_some);
        let mut out = [None; N_ENERGY];
        for (i, label) in ENERGY_LABELS.iter().enumerate() {
            let c = |kind, colour| Some(Class { kind, colour });
            out[i] = if let Some(n) = label.strip_prefix("EASF") {
                let n: usize = n.parse().unwrap_or(0);
                if learned {
                    n.checked_sub(1)
                        .and_then(|k| self.supplier.get(k).copied().flatten())
                } else {
                    match n {
                        1 => c(Kind::Hc, None),
                        2 => c(Kind::Hp, None),
                        _ => None,
                    }
                }
            } else if let Some(rest) = label.strip_prefix("BBRH") {
                let kind = if rest.starts_with('C') {
                    Kind::Hc
                } else {
                    Kind::Hp
                };
                let colour = match rest.chars().last() {
                    Some('B') => Colour::Blue,
                    Some('W') => Colour::White,
                    _ => Colour::Red,
                };
                c(kind, Some(colour))
            } else {
                match *label {
                    "HCHC" => c(Kind::Hc, None),
                    "HCHP" => c(Kind::Hp, None),
                    _ => None,
                }
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let cases = [
            ("HEURE CREUSE", Kind::Hc, None),
            ("HEURE PLEINE", Kind::Hp, None),
            ("HEURES CREUSES", Kind::Hc, None),
            ("HC BLEU", Kind::Hc, Some(Colour::Blue)),
            ("HP ROUGE", Kind::Hp, Some(Colour::Red)),
            ("HPJW", Kind::Hp, None),
            ("  HC BLANC   ", Kind::Hc, Some(Colour::White)),
            ("BASE", Kind::Other, None),
            ("HEURE NORMALE", Kind::Other, None),
        ];
        for (l, kind, colour) in cases {
            assert_eq!(classify(l), Class { kind, colour }, "{l}");
        }
    }

    #[test]
    fn default_and_learned() {
        let t = Tariffs::default();
        let c = t.classes();
        assert_eq!(c[1].map(|c| c.kind), Some(Kind::Hc));
        assert_eq!(c[2].map(|c| c.kind), Some(Kind::Hp));
        let mut t = Tariffs::default();
        t.learn(1, "HP BLEU");
        t.learn(2, "HC BLEU");
        let c = t.classes();
        assert_eq!(
            c[1],
            Some(Class {
                kind: Kind::Hp,
                colour: Some(Colour::Blue)
            })
        );
        assert_eq!(
            c[2],
            Some(Class {
                kind: Kind::Hc,
                colour: Some(Colour::Blue)
            })
        );
        assert_eq!(c[3], None);
        assert_eq!(
            c[22],
            Some(Class {
                kind: Kind::Hp,
                colour: Some(Colour::Blue)
            }),
            "BBRHPJB"
        );
    }
}
