//! A day's rows, read through [`crate::store`], reduced to what an export needs.

use chrono::NaiveDate;

use super::{Error, ENERGY_LABELS, N_ENERGY};
use crate::store::{Columns, Damage, DayFiles, DayReader, Next, Resolved};
use crate::tic::labels::{kva_from_isousc, Unit};
use crate::tic::plausible::subscribed_va;

/// Adds the energy labels of `header` to `present` (kept in [`ENERGY_LABELS`] order).
pub fn add_labels(present: &mut Vec<usize>, header: &[String]) {
    for h in header {
        if let Some(k) = ENERGY_LABELS.iter().position(|l| l == h) {
            if !present.contains(&k) {
                present.push(k);
            }
        }
    }
    present.sort_unstable();
}

/// What a column means to an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Other,
    Energy(usize),
    Meter,
    Ntarf,
    Tariff,
    Contract,
    /// PREF: the subscribed power, and a bound for the guards.
    Pref,
    /// PCOUP: a bound for the guards only.
    PowerKva,
    Isousc,
}

/// One record read for an export: reduced to the meter readings an export needs (not the
/// recorder's [`crate::record::Record`]). Reused from row to row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Unix seconds.
    pub time: i64,
    /// The energy indexes, by position in [`super::ENERGY_LABELS`].
    pub energy: [Option<i64>; N_ENERGY],
    /// ADSC or ADCO; empty when unknown.
    pub meter: String,
    /// NTARF.
    pub ntarf: Option<u8>,
    /// LTARF (standard) or PTEC (historique); empty when unknown.
    pub tariff: String,
    /// The subscribed power bounding an index step, VA ([`subscribed_va`]: max(PREF,
    /// PCOUP), or ISOUSC × 200 V, × 3 on a three-phase meter).
    pub power_va: Option<i64>,
    /// NGTF (standard) or OPTARIF (historique); empty when unknown.
    pub contract: String,
    /// The subscribed power in kVA: PREF, or ISOUSC as kVA (see
    /// [`crate::tic::labels::kva_from_isousc`]).
    pub kva: Option<i64>,
}

fn role(label: &str) -> Role {
    use crate::tic::labels::{self, Kind, Unit};
    let Some(l) = labels::label(label) else {
        return Role::Other;
    };
    match (l.kind, l.unit) {
        (Kind::MeterId, _) => Role::Meter,
        (Kind::TariffIndex, _) => Role::Ntarf,
        (Kind::TariffName, _) => Role::Tariff,
        (Kind::Contract, _) => Role::Contract,
        (Kind::Subscribed, Unit::Kva) if l.name == "PREF" => Role::Pref,
        (Kind::Subscribed, Unit::Kva) => Role::PowerKva,
        (Kind::Subscribed, _) => Role::Isousc,
        (Kind::Energy(_), _) => labels::energy_position(label).map_or(Role::Other, Role::Energy),
        _ => Role::Other,
    }
}

/// Whether an export reads column `name`.
fn wanted(name: &str) -> bool {
    role(name) != Role::Other
}

/// What reading a day gave next.
pub enum Item {
    /// A record (in [`DayRecords::record`]).
    Rec,
    /// Damaged rows skipped, placed at this time.
    Damaged(i64),
}

/// The records of one day, merged by time from its files.
pub struct DayRecords {
    day: DayReader,
    roles: Roles,
    rec: Reading,
}

impl DayRecords {
    /// Opens the files of `day` readers use.
    pub fn open(day: NaiveDate, files: &DayFiles) -> Result<DayRecords, Error> {
        Self::from_resolved(Resolved::new(day, files)?)
    }

    /// Opens a day whose files are already resolved.
    pub fn from_resolved(r: Resolved) -> Result<DayRecords, Error> {
        let day = r.open(Columns::Only(&wanted))?;
        let roles = Roles::new(day.columns());
        Ok(DayRecords {
            day,
            roles,
            rec: Reading::default(),
        })
    }

    /// The underlying reader.
    pub fn reader(&self) -> &DayReader {
        &self.day
    }

    /// The day's columns.
    pub fn columns(&self) -> &[String] {
        self.day.columns()
    }

    /// The damaged rows of each file (complete once read to the end).
    pub fn damage(&self) -> Vec<Damage> {
        self.day.damage()
    }

    /// The current record.
    pub fn record(&self) -> &Reading {
        &self.rec
    }

    /// The next record (or damaged rows); `None` at the end of the day.
    pub fn advance(&mut self) -> Result<Option<Item>, Error> {
        match self.day.advance()? {
            None => Ok(None),
            Some(Next::Damaged { time, .. }) => Ok(Some(Item::Damaged(time))),
            Some(Next::Row) => {
                self.roles.fill(&self.day, &mut self.rec);
                Ok(Some(Item::Rec))
            }
        }
    }
}

/// The columns of a day an export reads, and what each means.
pub struct Roles {
    roles: Vec<(usize, Role)>,
    tri: bool,
}

impl Roles {
    /// The roles of a day's `columns`.
    pub fn new(columns: &[String]) -> Roles {
        let roles = columns
            .iter()
            .enumerate()
            .skip(1)
            .map(|(j, c)| (j, role(c)))
            .filter(|(_, r)| *r != Role::Other)
            .collect();
        let tri = columns.iter().any(|h| h == "IINST3" || h == "IINST2");
        Roles { roles, tri }
    }

    /// Fills `rec` from the current row of `day`.
    pub fn fill(&self, day: &DayReader, rec: &mut Reading) {
        fill(day, &self.roles, self.tri, rec);
    }
}

fn fill(day: &DayReader, roles: &[(usize, Role)], tri: bool, rec: &mut Reading) {
    rec.time = day.time();
    rec.energy = [None; N_ENERGY];
    rec.meter.clear();
    rec.ntarf = None;
    rec.tariff.clear();
    rec.power_va = None;
    rec.contract.clear();
    rec.kva = None;
    for &(j, role) in roles {
        let c = day.cell(j);
        match role {
            Role::Other => {}
            Role::Energy(k) => rec.energy[k] = c.int(),
            Role::Meter => c.push_to(&mut rec.meter),
            Role::Ntarf => rec.ntarf = c.int().and_then(|v| u8::try_from(v).ok()),
            Role::Tariff => c.push_to(&mut rec.tariff),
            Role::Contract => c.push_to(&mut rec.contract),
            Role::Pref | Role::PowerKva => {
                if let Some(v) = c.int() {
                    rec.power_va = subscribed_va(rec.power_va, Unit::Kva, v, tri);
                    if role == Role::Pref && v > 0 {
                        rec.kva = Some(v);
                    }
                }
            }
            Role::Isousc => {
                if let Some(v) = c.int() {
                    rec.power_va = subscribed_va(rec.power_va, Unit::A, v, tri);
                    let a = u32::try_from(v)
                        .ok()
                        .and_then(|a| a.checked_mul(if tri { 3 } else { 1 }));
                    rec.kva = a.and_then(kva_from_isousc).map(i64::from);
                }
            }
        }
    }
}
