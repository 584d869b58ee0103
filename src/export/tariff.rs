//! Which energy index is off-peak (HC), peak (HP), and of which Tempo colour: the classes
//! of the label registry ([`crate::tic::labels`]), with those of the supplier indexes
//! learned from the `(NTARF, LTARF)` pairs the meter sent.

use crate::tic::labels::{classify, energy_label, Calendar, Class, Rate, Slot, N_ENERGY};

/// The `(NTARF, LTARF)` pairs learned so far, and the calendar the contract names.
#[derive(Clone, Debug, Default)]
pub struct Tariffs {
    supplier: [Option<Class>; 10],
    names: [Option<String>; 10],
    calendar: Option<Calendar>,
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
                let i = usize::from(ntarf) - 1;
                if self.names[i].as_deref() != Some(label) {
                    self.names[i] = Some(label.to_owned());
                }
            }
        }
    }

    /// The class learned from a name (LTARF) for supplier index `ntarf` (1..10): `None`
    /// when no pair named it (its class may still come from the contract's calendar).
    pub fn named_class(&self, ntarf: u8) -> Option<Class> {
        let i = usize::from(ntarf).checked_sub(1)?;
        *self.supplier.get(i)?
    }

    /// The contract (NGTF, OPTARIF) is named `name`: its calendar gives the class of the
    /// supplier indexes whose pair was not seen (a Tempo index that advanced across a gap
    /// in the records). A name the registry does not know leaves it as it was.
    pub fn learn_contract(&mut self, name: &str) {
        if let Some(c) = Calendar::of(name) {
            self.calendar = Some(c);
        }
    }

    /// The calendar learned, if any.
    pub fn calendar(&self) -> Option<Calendar> {
        self.calendar
    }

    /// The last name (LTARF) learned for supplier index `ntarf` (1..10).
    pub fn name(&self, ntarf: u8) -> Option<&str> {
        let i = usize::from(ntarf).checked_sub(1)?;
        self.names.get(i)?.as_deref()
    }

    /// The class of every energy index (`None`: counts in no HC/HP column): a supplier
    /// index has the class of the name learned for it, else that the contract's calendar
    /// gives it; before any pair or contract is learned, those of an HC/HP calendar
    /// (EASF01 HC, EASF02 HP).
    pub fn classes(&self) -> [Option<Class>; N_ENERGY] {
        let learned = self.supplier.iter().any(Option::is_some);
        std::array::from_fn(|i| match energy_label(i).slot()? {
            Slot::Supplier(n) => {
                let by_name = self.supplier[usize::from(n) - 1];
                let by_calendar = match (self.calendar, learned) {
                    (Some(c), _) => c.supplier_class(n),
                    (None, false) => Calendar::HcHp.supplier_class(n),
                    (None, true) => None,
                };
                by_name.or(by_calendar)
            }
            Slot::Fixed(c) if c.rate != Rate::Other => Some(c),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tic::labels::Colour;

    #[test]
    fn default_and_learned() {
        let t = Tariffs::default();
        let c = t.classes();
        assert_eq!(c[1].map(|c| c.rate), Some(Rate::Hc));
        assert_eq!(c[2].map(|c| c.rate), Some(Rate::Hp));
        let mut t = Tariffs::default();
        t.learn(1, "HP BLEU");
        t.learn(2, "HC BLEU");
        let c = t.classes();
        assert_eq!(
            c[1],
            Some(Class {
                rate: Rate::Hp,
                colour: Some(Colour::Blue)
            })
        );
        assert_eq!(
            c[2],
            Some(Class {
                rate: Rate::Hc,
                colour: Some(Colour::Blue)
            })
        );
        assert_eq!(c[3], None);
        assert_eq!(
            c[22],
            Some(Class {
                rate: Rate::Hp,
                colour: Some(Colour::Blue)
            }),
            "BBRHPJB"
        );
    }
}
