//! The day summary made from an archived day's rows while it is converted, which the store
//! keeps in the summary cache for the day's Parquet file (archives of format 2 kept it in
//! their footer, [`super::SUMMARY_KEY`]).

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
    done: Option<super::index::DaySummary>,
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

    fn finish(&mut self) {
        let Some(mut b) = self.builder.take() else {
            return;
        };
        self.order.finish(&mut |f| {
            b.take(f);
            true
        });
        self.done = Some(b.finish());
    }

    fn cached(&mut self, stamps: Vec<crate::store::Stamp>) -> Option<String> {
        let mut s = self.done.take()?;
        s.set_files(stamps);
        Some(s.to_text())
    }
}
