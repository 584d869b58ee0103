//! The day summary an archived day carries in its footer ([`super::SUMMARY_KEY`]), made
//! from its rows while it is archived (the store keeps the text).

use super::index::Builder;
use super::order::InOrder;
use super::reader::{add_labels, Reading, Roles};
use crate::store::archive::Summarise;
use crate::store::DayReader;

/// Summarises a day for the archive ([`crate::store::archive`]), exactly as an export
/// summarises it for its index (the same records, rows out of order and damaged rows).
#[derive(Default)]
pub struct Summariser {
    roles: Option<Roles>,
    rec: Reading,
    order: InOrder,
    builder: Option<Builder>,
}

impl Summariser {
    /// A new one, boxed (what [`crate::store::archive::Settings::summary`] makes).
    pub fn boxed() -> Box<dyn Summarise> {
        Box::new(Summariser::default())
    }
}

impl Summarise for Summariser {
    fn start(&mut self, columns: &[String]) {
        let mut labels = Vec::new();
        add_labels(&mut labels, columns);
        self.roles = Some(Roles::new(columns));
        self.order = InOrder::default();
        self.builder = Some(Builder::new(Vec::new(), labels));
    }

    fn row(&mut self, day: &DayReader) {
        let (Some(roles), Some(b)) = (&self.roles, &mut self.builder) else {
            return;
        };
        roles.fill(day, &mut self.rec);
        self.order.push(&self.rec, &mut |f| {
            b.take(f);
            true
        });
    }

    fn damaged(&mut self, _time: i64) {
        if let Some(b) = &mut self.builder {
            b.damaged();
        }
    }

    fn finish(&mut self) -> Option<String> {
        let mut b = self.builder.take()?;
        self.order.finish(&mut |f| {
            b.take(f);
            true
        });
        Some(b.finish().to_text())
    }
}
