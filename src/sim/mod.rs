//! A simulated Linky meter: a deterministic model of a household and its meter that emits
//! the TIC stream a real meter would, and can misbehave on demand.
//!
//! ## Model
//! - Time advances by a fixed meter-time step per frame (by default the frame's air time at
//!   the mode's baud rate, ≈ 0.9 s in standard mode, so DATE repeats a second now and then
//!   as on a real meter). DATE is the meter's local legal time (Europe/Paris) with its
//!   season letter: the repeated October hour appears as `E…02mmss` then `H…02mmss`, the
//!   March hour is skipped.
//! - A seeded power profile (base load, morning and evening peaks, a water heater in the
//!   off-peak hours, random appliances) gives the withdrawn power of each step; a producer
//!   adds a solar bell curve and injects the surplus.
//! - Energy indexes grow by exactly the integrated power (kept in W·ms, printed in Wh) on
//!   the index of the tariff period in force at the start of the step. EAST is the sum of the
//!   supplier indexes. NTARF/LTARF/PTEC/STGE follow the period; SMAXSN and its horodate
//!   track the day's maximum and reset at local midnight; CCASN is the mean power of the
//!   last complete 30-minute period.
//! - The starting indexes and the meter's address are random for the seed unless set
//!   ([`SimConfig::indexes`], [`SimConfig::address`]); [`ending_at`] sets them so that the
//!   meter ends, at a given time, where a recording of it begins.
//!
//! ## Faults
//! Each fault has a rate (probability per frame, or per group for `badsum`): line noise
//! between frames or inside a group's value, wrong checksums, frames cut by EOT, bit 7 set
//! to even parity (as an 8N1 port reads a 7E1 line), a degraded clock (lower-case season).
//! [`SimFrame`] says exactly which faults each frame got, so tests can expect them.
//!
//! ## The demo
//! [`demo`] serves a day of this meter on a pseudo-terminal and records it through the real
//! serial-port path (`tic-rec record --demo`).

use std::fmt;

pub mod demo;
mod serve;
pub use serve::{serve, Line, Pacer, Pty, Speed};

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike, Utc, Weekday,
};

use crate::store::TZ;
use crate::tic::encode::{end_frame, push_group, start_frame};
use crate::tic::labels::{distributor_indexes, historique_indexes, supplier_indexes};
use crate::tic::{Mode, EOT, STX};

/// The subscribed tariff option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contract {
    /// One index.
    Base,
    /// Off-peak (HC) and peak (HP) hours.
    HcHp,
    /// Tempo: HC/HP × blue/white/red days (6 indexes).
    Tempo,
    /// EJP (historique mode): normal hours, and mobile peak hours from 07:00 to 01:00 on the
    /// 22 or so EJP days of a winter (2 indexes; PEJP gives the 30-minute notice).
    Ejp,
}

impl Contract {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Contract::Base => "base",
            Contract::HcHp => "hchp",
            Contract::Tempo => "tempo",
            Contract::Ejp => "ejp",
        }
    }

    /// The historique OPTARIF the contract sends: `BASE`, `HC..`, `BBR(`, `EJP.`.
    pub fn optarif(self) -> &'static str {
        match self {
            Contract::Base => "BASE",
            Contract::HcHp => "HC..",
            Contract::Tempo => "BBR(",
            Contract::Ejp => "EJP.",
        }
    }
}

pub use crate::tic::labels::Colour;

/// Position of a colour in per-colour tables (blue, white, red).
fn colour_index(c: Colour) -> usize {
    match c {
        Colour::Blue => 0,
        Colour::White => 1,
        Colour::Red => 2,
    }
}

/// Fault rates (0 = never, 1 = always).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability per frame of a burst of line noise (between frames or inside a group).
    pub noise: f64,
    /// Probability per group of a wrong checksum.
    pub badsum: f64,
    /// Probability per frame of being cut by EOT.
    pub eot: f64,
    /// Set bit 7 to even parity on every byte.
    pub parity: bool,
    /// Lower-case season letters (the meter's clock in degraded mode).
    pub degraded_clock: bool,
}

impl Faults {
    /// Parses `noise=0.01,badsum=0.02,eot=0.005,parity,degraded-clock`.
    pub fn parse(s: &str) -> Result<Faults, SimError> {
        let mut f = Faults::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, rate) = match item.split_once('=') {
                Some((n, r)) => {
                    let rate: f64 = r.parse().map_err(|_| {
                        SimError::Fault(format!("rate {r:?} of {n:?} is not a number"))
                    })?;
                    if !(0.0..=1.0).contains(&rate) {
                        return Err(SimError::Fault(format!(
                            "rate {rate} of {n:?} is outside 0..1"
                        )));
                    }
                    (n, Some(rate))
                }
                None => (item, None),
            };
            match (name, rate) {
                ("noise", Some(r)) => f.noise = r,
                ("badsum", Some(r)) => f.badsum = r,
                ("eot", Some(r)) => f.eot = r,
                ("parity", None) => f.parity = true,
                ("degraded-clock", None) => f.degraded_clock = true,
                ("noise" | "badsum" | "eot", None) => {
                    return Err(SimError::Fault(format!("{name:?} needs a rate, e.g. {name}=0.01")))
                }
                ("parity" | "degraded-clock", Some(_)) => {
                    return Err(SimError::Fault(format!("{name:?} takes no rate")))
                }
                _ => {
                    return Err(SimError::Fault(format!(
                        "unknown fault {name:?}: expected noise=R, badsum=R, eot=R, parity or degraded-clock"
                    )))
                }
            }
        }
        Ok(f)
    }
}

/// A simulator setting that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// A bad `--faults` item.
    #[error("bad fault: {0}")]
    Fault(String),
    /// A start time that does not exist in local time (the skipped March hour).
    #[error("start {0} does not exist in Europe/Paris local time (the clocks skip that hour)")]
    NonexistentStart(NaiveDateTime),
    /// A bad off-peak schedule.
    #[error("bad off-peak schedule {0:?}: expected HH:MM-HH:MM[,HH:MM-HH:MM…]")]
    Schedule(String),
    /// Only 1 or 3 phases exist.
    #[error("phases must be 1 or 3, not {0}")]
    Phases(u8),
    /// A zero, negative or too long frame interval.
    #[error("the frame interval must be positive and at most one day")]
    Interval,
    /// Horodates carry a two-digit year: 2000–2099.
    #[error("start {0} is outside the years a horodate can carry (2000-01-01 to 2098-12-31)")]
    StartOutOfRange(NaiveDateTime),
    /// A meter address is 12 characters, digits or ASCII letters (a real ADSC/ADCO is 12
    /// digits, leading zeros included).
    #[error("a meter id (ADSC/ADCO) is 12 digits or ASCII letters, found {0:?}")]
    Address(String),
    /// Historique meters have no producer groups.
    #[error("historique mode has no producer groups (EAIT, SINSTI…): a producer is a standard-mode meter")]
    ProducerHistorique,
    /// EJP is simulated as historique meters send it (Linky's EJP names are not known here).
    #[error("EJP is simulated in historique mode (--mode historique)")]
    EjpStandard,
    /// Historique frames carry no date, so no season letter to degrade.
    #[error("historique frames carry no date: the degraded-clock fault needs standard mode")]
    DegradedClockHistorique,
    /// [`ending_at`]: an index would have to start below zero.
    #[error("{label} cannot end at {end} Wh: the meter uses {used} Wh on it before then")]
    EndBelowUse {
        /// The index.
        label: &'static str,
        /// The value asked at the end, Wh.
        end: u64,
        /// What the model adds to it until then, Wh.
        used: u64,
    },
}

/// Checks a meter address (ADSC, ADCO): 12 ASCII digits or letters, so that it stays one
/// TIC value (no separator, no control byte) and one 12-character identity in every file.
pub fn check_address(address: &str) -> Result<(), SimError> {
    if address.len() == 12 && address.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(SimError::Address(address.to_owned()))
    }
}

/// Off-peak hours: a list of local `[from, to)` ranges (a range may wrap past midnight).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule(pub Vec<(NaiveTime, NaiveTime)>);

impl Default for Schedule {
    fn default() -> Self {
        Schedule(vec![(hm(22, 0), hm(6, 0))])
    }
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

impl Schedule {
    /// Parses `22:00-06:00[,12:30-14:30…]`.
    pub fn parse(s: &str) -> Result<Schedule, SimError> {
        let err = || SimError::Schedule(s.to_owned());
        let ranges = s
            .split(',')
            .map(|r| {
                let (a, b) = r.trim().split_once('-').ok_or_else(err)?;
                let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| err())?;
                let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| err())?;
                if a == b {
                    return Err(err());
                }
                Ok((a, b))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule(ranges))
    }

    /// Whether `t` (local) is off-peak.
    pub fn is_off_peak(&self, t: NaiveTime) -> bool {
        self.0.iter().any(|&(a, b)| {
            if a < b {
                a <= t && t < b
            } else {
                t >= a || t < b
            }
        })
    }
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// TIC mode.
    pub mode: Mode,
    /// 1 or 3.
    pub phases: u8,
    /// Tariff option.
    pub contract: Contract,
    /// A producer (standard mode only): solar panels, EAIT/SINSTI groups.
    pub producer: bool,
    /// Meter local time of the first frame.
    pub start: NaiveDateTime,
    /// Meter time per frame; `None`: the frame's air time at the mode's baud rate.
    pub frame_interval: Option<Duration>,
    /// Seed of the power profile and of the faults.
    pub seed: u64,
    /// Off-peak hours (HC/HP and Tempo).
    pub off_peak: Schedule,
    /// Faults to inject.
    pub faults: Faults,
    /// The indexes at the start; `None`: plausible random ones (EAST their sum).
    pub indexes: Option<Indexes>,
    /// The meter's address (ADSC, or ADCO in historique mode); `None`: a random one.
    pub address: Option<String>,
}

/// Energy indexes as the meter prints them, Wh.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Indexes {
    /// EAST, the total withdrawn (standard mode). It grows as the sum of the supplier
    /// indexes; it starts at their sum unless set otherwise.
    pub east: u64,
    /// EASF01…EASF10. In historique mode the contract's indexes are the first ones: BASE;
    /// HCHC, HCHP; BBRHCJB…BBRHPJR.
    pub easf: [u64; 10],
    /// EASD01…EASD04.
    pub easd: [u64; 4],
    /// EAIT, the energy injected (producers).
    pub eait: u64,
}

/// Which of [`Indexes`] a label prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Index {
    East,
    Easf(usize),
    Easd(usize),
    Eait,
}

impl Indexes {
    fn get(&self, i: Index) -> u64 {
        match i {
            Index::East => self.east,
            Index::Easf(k) => self.easf[k],
            Index::Easd(k) => self.easd[k],
            Index::Eait => self.eait,
        }
    }

    fn set(&mut self, i: Index, v: u64) {
        match i {
            Index::East => self.east = v,
            Index::Easf(k) => self.easf[k] = v,
            Index::Easd(k) => self.easd[k] = v,
            Index::Eait => self.eait = v,
        }
    }
}

/// The energy labels a meter of `cfg` sends, and the index each prints.
fn index_labels(cfg: &SimConfig) -> Vec<(&'static str, Index)> {
    match cfg.mode {
        Mode::Standard => {
            let mut v = vec![("EAST", Index::East)];
            v.extend(
                supplier_indexes()
                    .enumerate()
                    .map(|(k, l)| (l, Index::Easf(k))),
            );
            v.extend(
                distributor_indexes()
                    .enumerate()
                    .map(|(k, l)| (l, Index::Easd(k))),
            );
            if cfg.producer {
                v.push(("EAIT", Index::Eait));
            }
            v
        }
        Mode::Historique => historique_indexes(cfg.contract.optarif())
            .into_iter()
            .enumerate()
            .map(|(k, l)| (l, Index::Easf(k)))
            .collect(),
    }
}

/// `cfg` with the starting indexes that make the meter's indexes, once its time reaches
/// `until`, those `end` gives (by label: `EAST`, `EASF01`, `HCHC`…; a label it has no value
/// for keeps its start). Exact: the model is first run from zero to `until` (its consumption
/// does not depend on the indexes' values), and each start is the end less that. So a
/// meter can be made to end where a recording of the same meter begins.
pub fn ending_at(
    mut cfg: SimConfig,
    until: DateTime<Utc>,
    end: impl Fn(&str) -> Option<u64>,
) -> Result<SimConfig, SimError> {
    let mut start = Meter::new(SimConfig {
        indexes: None,
        ..cfg.clone()
    })?
    .indexes();
    let mut dry = Meter::new(SimConfig {
        indexes: Some(Indexes::default()),
        ..cfg.clone()
    })?;
    let mut buf = Vec::with_capacity(2048);
    while dry.now() < until {
        buf.clear();
        dry.next_frame(&mut buf);
    }
    let used = dry.indexes();
    let mut east_set = false;
    for (label, index) in index_labels(&cfg) {
        let Some(target) = end(label) else { continue };
        let u = used.get(index);
        let v = target.checked_sub(u).ok_or(SimError::EndBelowUse {
            label,
            end: target,
            used: u,
        })?;
        start.set(index, v);
        east_set |= index == Index::East;
    }
    if !east_set {
        start.east = start.easf.iter().sum();
    }
    cfg.indexes = Some(start);
    Ok(cfg)
}

impl SimConfig {
    /// A fault-free standard mono BASE meter starting at `start`.
    pub fn new(mode: Mode, contract: Contract, start: NaiveDateTime) -> SimConfig {
        SimConfig {
            mode,
            phases: 1,
            contract,
            producer: false,
            start,
            frame_interval: None,
            seed: 1,
            off_peak: Schedule::default(),
            faults: Faults::default(),
            indexes: None,
            address: None,
        }
    }
}

/// One group as the model emitted it (value with the meter's padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimGroup {
    /// Label.
    pub label: &'static str,
    /// Raw horodate, for horodated groups.
    pub horodate: Option<String>,
    /// Value as sent (padded text, zero-padded numbers).
    pub value: String,
}

/// One emitted frame and the faults it got.
#[derive(Clone, Debug)]
pub struct SimFrame {
    /// Model time of the frame (millisecond precision).
    pub time: DateTime<FixedOffset>,
    /// The groups, in wire order, as the model made them (before faults).
    pub groups: Vec<SimGroup>,
    /// Labels whose group was damaged (wrong checksum or noise inside): a decoder must
    /// report exactly these as failed.
    pub bad: Vec<&'static str>,
    /// The frame was cut by EOT: a decoder must not return it.
    pub cut: bool,
    /// Noise bytes written before the frame's STX.
    pub noise_before: usize,
    /// Withdrawn apparent power, VA.
    pub power_va: u32,
    /// Off-peak at the frame's time.
    pub off_peak: bool,
}

impl SimFrame {
    /// The value of a label, trimmed of padding, if the frame has it.
    pub fn value(&self, label: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.label == label)
            .map(|g| g.value.trim_matches(' '))
    }
}

/// Daily maximum tracking (SMAXSN, SMAXIN…): value and the local time it occurred.
#[derive(Clone, Copy, Debug)]
struct DayMax {
    today: (u32, NaiveDateTime, bool),
    yesterday: (u32, NaiveDateTime, bool),
}

impl DayMax {
    fn new(start: NaiveDateTime, summer: bool) -> DayMax {
        let midnight = start.date().and_time(NaiveTime::MIN);
        DayMax {
            today: (0, midnight, summer),
            yesterday: (0, midnight - Duration::days(1), summer),
        }
    }
    fn update(&mut self, v: u32, at: NaiveDateTime, summer: bool) {
        if at.date() != self.today.1.date() {
            self.yesterday = self.today;
            self.today = (0, at.date().and_time(NaiveTime::MIN), summer);
        }
        if v > self.today.0 {
            self.today = (v, at, summer);
        }
    }
}

/// The simulated meter.
pub struct Meter {
    cfg: SimConfig,
    rng: fastrand::Rng,
    /// Model time, UTC milliseconds.
    t_ms: i64,
    /// Supplier index accumulators, W·ms (10 indexes).
    easf: [u128; 10],
    /// Distributor index accumulators, W·ms (4 indexes).
    easd: [u128; 4],
    /// Injected energy, W·ms.
    eait: u128,
    /// EAST less the sum of the supplier indexes, Wh (0 unless the start says otherwise).
    east_offset: i128,
    /// Energy of the current and last 30-minute load-curve periods.
    curve: CurveState,
    smax: [DayMax; 4],
    smaxin: DayMax,
    /// Appliance events: (end time ms, power W).
    events: Vec<(i64, u32)>,
    adsc: String,
    prm: String,
    frames: u64,
    last_step_ms: i64,
}

#[derive(Clone, Copy, Debug, Default)]
struct CurveState {
    period_start_ms: i64,
    withdrawn: u128,
    injected: u128,
    /// (end local time, summer, W withdrawn, W injected) of the last two complete periods.
    last: Option<(NaiveDateTime, bool, u32, u32)>,
    prev: Option<(NaiveDateTime, bool, u32, u32)>,
}

const HALF_HOUR_MS: i64 = 30 * 60 * 1000;
const MS_PER_WH: u128 = 3_600_000;

fn pad_center(s: &str, width: usize) -> String {
    let n = s.len().min(width);
    let left = (width - n) / 2;
    format!("{}{}{}", " ".repeat(left), s, " ".repeat(width - n - left))
}

impl Meter {
    /// A meter as configured; fails on a start that does not exist in local time.
    pub fn new(cfg: SimConfig) -> Result<Meter, SimError> {
        if cfg.phases != 1 && cfg.phases != 3 {
            return Err(SimError::Phases(cfg.phases));
        }
        if cfg
            .frame_interval
            .is_some_and(|d| d <= Duration::zero() || d > Duration::days(1))
        {
            return Err(SimError::Interval);
        }
        if !(2000..=2098).contains(&cfg.start.year()) {
            return Err(SimError::StartOutOfRange(cfg.start));
        }
        if let Some(a) = &cfg.address {
            check_address(a)?;
        }
        if cfg.mode == Mode::Standard && cfg.contract == Contract::Ejp {
            return Err(SimError::EjpStandard);
        }
        if cfg.mode == Mode::Historique && cfg.producer {
            return Err(SimError::ProducerHistorique);
        }
        if cfg.mode == Mode::Historique && cfg.faults.degraded_clock {
            return Err(SimError::DegradedClockHistorique);
        }
        let start = TZ
            .from_local_datetime(&cfg.start)
            .earliest()
            .ok_or(SimError::NonexistentStart(cfg.start))?;
        let t_ms = start.timestamp_millis();
        let mut rng = fastrand::Rng::with_seed(cfg.seed);
        // Plausible starting indexes, in Wh.
        let mut easf = [0u128; 10];
        let used = match cfg.contract {
            Contract::Base => 1,
            Contract::HcHp => 2,
            Contract::Tempo => 6,
            Contract::Ejp => 2,
        };
        for e in easf.iter_mut().take(used) {
            *e = u128::from(rng.u32(1_000_000..9_000_000)) * MS_PER_WH;
        }
        let mut easd = [0u128; 4];
        easd[0] = easf.iter().step_by(2).sum();
        easd[1] = easf.iter().skip(1).step_by(2).sum();
        if cfg.contract == Contract::Base {
            easd = [easf[0], 0, 0, 0];
        }
        let eait = if cfg.producer {
            u128::from(rng.u32(100_000..900_000)) * MS_PER_WH
        } else {
            0
        };
        let local = start.naive_local();
        let summer = is_summer(&start);
        let adsc = format!(
            "0{}{:02}{}{:06}",
            2 + rng.u8(0..2),
            20 + rng.u8(0..6),
            if cfg.phases == 3 { "63" } else { "61" },
            rng.u32(0..1_000_000)
        );
        let prm = format!("{:014}", rng.u64(10_000_000_000_000..99_999_999_999_999));
        // Set values replace the random ones, drawn all the same so that the power profile
        // of a seed does not depend on them.
        let adsc = cfg.address.clone().unwrap_or(adsc);
        let mut eait = eait;
        let mut east_offset = 0;
        if let Some(ix) = &cfg.indexes {
            let ms = |wh: u64| u128::from(wh) * MS_PER_WH;
            easf = ix.easf.map(ms);
            easd = ix.easd.map(ms);
            eait = ms(ix.eait);
            east_offset =
                i128::from(ix.east) - ix.easf.iter().map(|&e| i128::from(e)).sum::<i128>();
        }
        Ok(Meter {
            east_offset,
            rng,
            t_ms,
            easf,
            easd,
            eait,
            curve: CurveState {
                period_start_ms: t_ms - t_ms.rem_euclid(HALF_HOUR_MS),
                ..CurveState::default()
            },
            smax: [DayMax::new(local, summer); 4],
            smaxin: DayMax::new(local, summer),
            events: Vec::new(),
            adsc,
            prm,
            frames: 0,
            last_step_ms: 0,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The model's current time.
    pub fn now(&self) -> DateTime<FixedOffset> {
        let utc = Utc
            .timestamp_millis_opt(self.t_ms)
            .single()
            .expect("time in range");
        utc.with_timezone(&TZ).fixed_offset()
    }

    /// Frames emitted so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Supplier index `i` (0-based) in Wh.
    pub fn easf_wh(&self, i: usize) -> u64 {
        (self.easf[i] / MS_PER_WH) as u64
    }

    /// The indexes as the next frame prints them (before the 9-digit wrap), Wh.
    pub fn indexes(&self) -> Indexes {
        let wh = |e: u128| u64::try_from(e / MS_PER_WH).unwrap_or(u64::MAX);
        let easf = self.easf.map(wh);
        Indexes {
            east: self.east_wh(),
            easf,
            easd: self.easd.map(wh),
            eait: wh(self.eait),
        }
    }

    /// EAST in Wh: the sum of the supplier indexes as printed, plus the start's offset.
    fn east_wh(&self) -> u64 {
        let sum: i128 = self
            .easf
            .iter()
            .map(|e| i128::try_from(e / MS_PER_WH).unwrap_or(i128::MAX))
            .sum();
        u64::try_from((sum + self.east_offset).max(0)).unwrap_or(u64::MAX)
    }

    /// Emits the next frame into `out` (appending) and advances meter time.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> SimFrame {
        let now = self.now();
        let local = now.naive_local();
        let summer = is_summer(&now);
        let off_peak = self.cfg.off_peak.is_off_peak(local.time());
        let (load, solar) = self.power(&local, off_peak);
        let withdrawn = load.saturating_sub(solar);
        let injected = if self.cfg.producer {
            solar.saturating_sub(load)
        } else {
            0
        };
        let phase_va = self.phase_split(withdrawn);
        self.smax[0].update(withdrawn, local, summer);
        for (max, va) in self.smax[1..].iter_mut().zip(phase_va) {
            max.update(va, local, summer);
        }
        self.smaxin.update(injected, local, summer);
        let colour = self.colour_of_day(&local);
        let tomorrow = self.colour_of_day(&(local + Duration::days(1)));
        let index = self.tariff_index(&local, off_peak, colour);
        let groups = match self.cfg.mode {
            Mode::Standard => self.standard_groups(
                &local, summer, index, colour, tomorrow, withdrawn, injected, phase_va,
            ),
            Mode::Historique => {
                let notice = self.ejp_notice(&local);
                self.historique_groups(index, colour, tomorrow, withdrawn, phase_va, notice)
            }
        };
        let frame = self.emit(out, groups, now, withdrawn, off_peak);
        // Advance meter time, integrating the power of this step onto the current index.
        let step_ms = match self.cfg.frame_interval {
            Some(d) => d.num_milliseconds().max(1),
            None => {
                let bits = (frame_len_hint(&frame) * 10) as i64;
                (bits * 1000 / i64::from(self.cfg.mode.baud_rate())).max(1)
            }
        };
        self.integrate(step_ms, withdrawn, injected, index);
        self.frames += 1;
        frame
    }

    fn integrate(&mut self, step_ms: i64, withdrawn: u32, injected: u32, index: usize) {
        let mut remaining = step_ms;
        // Split the step at load-curve period boundaries so CCASN is exact.
        while remaining > 0 {
            let period_end = self.curve.period_start_ms + HALF_HOUR_MS;
            let chunk = remaining.min(period_end - self.t_ms);
            let w = u128::from(withdrawn) * chunk as u128;
            let i = u128::from(injected) * chunk as u128;
            self.easf[index] += w;
            self.easd[if self.cfg.contract == Contract::Base {
                0
            } else {
                index % 2
            }] += w;
            self.eait += i;
            self.curve.withdrawn += w;
            self.curve.injected += i;
            self.t_ms += chunk;
            remaining -= chunk;
            if self.t_ms >= period_end {
                let end = self.now();
                let mean = |e: u128| (e / HALF_HOUR_MS as u128) as u32;
                self.curve.prev = self.curve.last;
                self.curve.last = Some((
                    end.naive_local(),
                    is_summer(&end),
                    mean(self.curve.withdrawn),
                    mean(self.curve.injected),
                ));
                self.curve.period_start_ms = period_end;
                self.curve.withdrawn = 0;
                self.curve.injected = 0;
            }
        }
        self.last_step_ms = step_ms;
    }

    /// Load and solar power (W) at `local`.
    fn power(&mut self, local: &NaiveDateTime, off_peak: bool) -> (u32, u32) {
        let h = local.hour() as f64 + local.minute() as f64 / 60.0;
        let mut load = 250.0 + 100.0 * ((h / 24.0) * std::f64::consts::TAU).sin().abs();
        if (6.5..8.5).contains(&h) {
            load += 700.0;
        }
        if (18.0..22.5).contains(&h) {
            load += 1100.0;
        }
        // A water heater on off-peak hours, the first hours after they start.
        let has_off_peak = matches!(self.cfg.contract, Contract::HcHp | Contract::Tempo);
        if has_off_peak && off_peak && !(1.5..22.0).contains(&h) {
            load += 1800.0;
        }
        // Random appliances: a kettle, an oven, a washing machine.
        self.events.retain(|&(end, _)| end > self.t_ms);
        if self.rng.f64() < 0.002 {
            let (w, min) = [(2000, 3), (2400, 45), (1800, 90)][self.rng.usize(0..3)];
            self.events.push((self.t_ms + min * 60_000, w));
        }
        load += self.events.iter().map(|&(_, w)| f64::from(w)).sum::<f64>();
        load += self.rng.f64() * 40.0;
        let cap = f64::from(self.pref_kva()) * 1000.0;
        let load = load.min(cap) as u32;
        let solar = if self.cfg.producer && (7.0..19.0).contains(&h) {
            let x = (h - 13.0) / 6.0;
            (3000.0 * (1.0 - x * x).max(0.0)) as u32
        } else {
            0
        };
        (load, solar)
    }

    fn pref_kva(&self) -> u32 {
        if self.cfg.phases == 3 {
            12
        } else {
            6
        }
    }

    fn phase_split(&self, va: u32) -> [u32; 3] {
        if self.cfg.phases == 1 {
            return [va, 0, 0];
        }
        let a = va / 2;
        let b = va / 3;
        [a, b, va - a - b]
    }

    /// Tempo colour of the Tempo day (06:00 to 06:00) holding `local`.
    fn colour_of_day(&self, local: &NaiveDateTime) -> Colour {
        let day = (*local - Duration::hours(6)).date();
        let winter = matches!(day.month(), 11 | 12 | 1 | 2 | 3);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        // A hash of the day and the seed (the splitmix64 finaliser): deterministic and
        // independent of the frame rate.
        let mut z = (day.num_days_from_ce() as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(self.cfg.seed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let h = (z ^ (z >> 31)) >> 56;
        match (winter, weekend, h) {
            (true, false, 0..=40) => Colour::Red,
            (_, false, 41..=80) => Colour::White,
            _ => Colour::Blue,
        }
    }

    /// Whether `day` is an EJP day: a weekday from November to March, about one in seven
    /// (22 or so a winter), drawn from the day and the seed like Tempo's colours.
    fn ejp_day(&self, day: chrono::NaiveDate) -> bool {
        let winter = matches!(day.month(), 11 | 12 | 1 | 2 | 3);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let mut z = (day.num_days_from_ce() as u64)
            .wrapping_mul(0xD1B5_4A32_D192_ED03)
            .wrapping_add(self.cfg.seed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        winter && !weekend && (z ^ (z >> 31)) >> 56 < 38
    }

    /// Whether `local` is in EJP's mobile peak hours: 07:00 to 01:00 the next day, from an EJP
    /// day's morning.
    fn mobile_peak(&self, local: &NaiveDateTime) -> bool {
        let day = local.date();
        match local.hour() {
            7.. => self.ejp_day(day),
            0 => day.pred_opt().is_some_and(|d| self.ejp_day(d)),
            _ => false,
        }
    }

    /// EJP's notice (PEJP, minutes): `30` in the half hour before a mobile peak starts.
    fn ejp_notice(&self, local: &NaiveDateTime) -> Option<u32> {
        let starts_soon = local.hour() == 6 && local.minute() >= 30;
        (self.cfg.contract == Contract::Ejp && starts_soon && self.ejp_day(local.date()))
            .then_some(30)
    }

    /// The supplier index (0-based) in force.
    fn tariff_index(&self, local: &NaiveDateTime, off_peak: bool, colour: Colour) -> usize {
        match self.cfg.contract {
            Contract::Base => 0,
            Contract::HcHp => usize::from(!off_peak),
            Contract::Tempo => colour_index(colour) * 2 + usize::from(!off_peak),
            Contract::Ejp => usize::from(self.mobile_peak(local)),
        }
    }

    fn tariff_label(&self, index: usize) -> &'static str {
        match self.cfg.contract {
            Contract::Base => "BASE",
            Contract::HcHp => ["HEURE  CREUSE", "HEURE  PLEINE"][index],
            Contract::Tempo => [
                "HC  BLEU",
                "HP  BLEU",
                "HC  BLANC",
                "HP  BLANC",
                "HC  ROUGE",
                "HP  ROUGE",
            ][index],
            Contract::Ejp => ["HEURE NORMALE", "POINTE MOBILE"][index],
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn standard_groups(
        &self,
        local: &NaiveDateTime,
        summer: bool,
        index: usize,
        colour: Colour,
        tomorrow: Colour,
        withdrawn: u32,
        injected: u32,
        phase_va: [u32; 3],
    ) -> Vec<SimGroup> {
        let degraded = self.cfg.faults.degraded_clock;
        let hd = |t: &NaiveDateTime, summer: bool| horodate(t, summer, degraded);
        let mut g = Vec::with_capacity(64);
        let mut push = |label: &'static str, h: Option<String>, value: String| {
            g.push(SimGroup {
                label,
                horodate: h,
                value,
            })
        };
        let tri = self.cfg.phases == 3;
        push("ADSC", None, self.adsc.clone());
        push("VTIC", None, "02".into());
        push("DATE", Some(hd(local, summer)), String::new());
        let ngtf = match self.cfg.contract {
            Contract::Base if self.cfg.producer => "PRODUCTEUR",
            Contract::Base => "BASE",
            Contract::HcHp => "H PLEINE/CREUSE",
            Contract::Tempo => "TEMPO",
            Contract::Ejp => "EJP",
        };
        push("NGTF", None, pad_center(ngtf, 16));
        push("LTARF", None, pad_center(self.tariff_label(index), 16));
        // EAST is the sum of the supplier indexes as printed (plus the start's offset).
        push("EAST", None, wh(u128::from(self.east_wh()) * MS_PER_WH));
        for (l, e) in supplier_indexes().zip(self.easf) {
            push(l, None, wh(e));
        }
        for (l, e) in distributor_indexes().zip(self.easd) {
            push(l, None, wh(e));
        }
        if self.cfg.producer {
            push("EAIT", None, wh(self.eait));
            for l in ["ERQ1", "ERQ2", "ERQ3", "ERQ4"] {
                push(l, None, "000000000".into());
            }
        }
        let (volts, amps) = self.rms(phase_va);
        push("IRMS1", None, format!("{:03}", amps[0]));
        if tri {
            push("IRMS2", None, format!("{:03}", amps[1]));
            push("IRMS3", None, format!("{:03}", amps[2]));
        }
        push("URMS1", None, format!("{:03}", volts[0]));
        if tri {
            push("URMS2", None, format!("{:03}", volts[1]));
            push("URMS3", None, format!("{:03}", volts[2]));
        }
        push("PREF", None, format!("{:02}", self.pref_kva()));
        push("PCOUP", None, format!("{:02}", self.pref_kva()));
        push("SINSTS", None, format!("{withdrawn:05}"));
        if tri {
            for (l, v) in ["SINSTS1", "SINSTS2", "SINSTS3"].iter().zip(phase_va) {
                push(l, None, format!("{v:05}"));
            }
        }
        let max = |m: (u32, NaiveDateTime, bool)| (Some(hd(&m.1, m.2)), format!("{:05}", m.0));
        let (h, v) = max(self.smax[0].today);
        push("SMAXSN", h, v);
        if tri {
            for (p, l) in ["SMAXSN1", "SMAXSN2", "SMAXSN3"].iter().enumerate() {
                let (h, v) = max(self.smax[p + 1].today);
                push(l, h, v);
            }
        }
        let (h, v) = max(self.smax[0].yesterday);
        push("SMAXSN-1", h, v);
        if tri {
            for (p, l) in ["SMAXSN1-1", "SMAXSN2-1", "SMAXSN3-1"].iter().enumerate() {
                let (h, v) = max(self.smax[p + 1].yesterday);
                push(l, h, v);
            }
        }
        if self.cfg.producer {
            push("SINSTI", None, format!("{injected:05}"));
            let (h, v) = max(self.smaxin.today);
            push("SMAXIN", h, v);
            let (h, v) = max(self.smaxin.yesterday);
            push("SMAXIN-1", h, v);
        }
        // Load curve points are sent once known.
        for (label, point, injected) in [
            ("CCASN", self.curve.last, false),
            ("CCASN-1", self.curve.prev, false),
            ("CCAIN", self.curve.last, true),
            ("CCAIN-1", self.curve.prev, true),
        ] {
            if injected && !self.cfg.producer {
                continue;
            }
            if let Some((end, summer, w, i)) = point {
                push(
                    label,
                    Some(hd(&end, summer)),
                    format!("{:05}", if injected { i } else { w }),
                );
            }
        }
        let umoy_end = local
            .date()
            .and_hms_opt(local.hour(), local.minute() / 10 * 10, 0)
            .expect("valid time");
        for (p, l) in ["UMOY1", "UMOY2", "UMOY3"]
            .iter()
            .enumerate()
            .take(if tri { 3 } else { 1 })
        {
            push(
                l,
                Some(hd(&umoy_end, summer)),
                format!("{:03}", volts[p].saturating_sub(1)),
            );
        }
        push(
            "STGE",
            None,
            format!("{:08X}", self.stge(index, colour, tomorrow)),
        );
        push("MSG1", None, "PAS DE          MESSAGE         ".into());
        push("PRM", None, self.prm.clone());
        push("RELAIS", None, "000".into());
        push("NTARF", None, format!("{:02}", index + 1));
        push("NJOURF", None, "00".into());
        push("NJOURF+1", None, "00".into());
        let profile = match self.cfg.contract {
            Contract::Base => "00008001 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE".to_owned(),
            _ => {
                let (from, to) = self.cfg.off_peak.0[0];
                let hc = 1;
                let hp = 2;
                let shift = match self.cfg.contract {
                    Contract::Tempo => 2 * colour_index(tomorrow),
                    _ => 0,
                };
                let (a, b) = if from > to { (to, from) } else { (from, to) };
                let (first, mid) = if from > to { (hc, hp) } else { (hp, hc) };
                format!(
                    "0000400{} {}400{} {}400{} NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE",
                    first + shift,
                    a.format("%H%M"),
                    mid + shift,
                    b.format("%H%M"),
                    first + shift
                )
            }
        };
        push("PJOURF+1", None, profile);
        g
    }

    fn historique_groups(
        &self,
        index: usize,
        colour: Colour,
        tomorrow: Colour,
        withdrawn: u32,
        phase_va: [u32; 3],
        ejp_notice: Option<u32>,
    ) -> Vec<SimGroup> {
        let mut g = Vec::with_capacity(20);
        let mut push = |label: &'static str, value: String| {
            g.push(SimGroup {
                label,
                horodate: None,
                value,
            })
        };
        let tri = self.cfg.phases == 3;
        push("ADCO", self.adsc.clone());
        push("OPTARIF", self.cfg.contract.optarif().into());
        let isousc = if tri {
            self.pref_kva() * 1000 / 200 / 3
        } else {
            self.pref_kva() * 1000 / 200
        };
        push("ISOUSC", format!("{isousc:02}"));
        for (l, e) in historique_indexes(self.cfg.contract.optarif())
            .into_iter()
            .zip(self.easf)
        {
            push(l, wh(e));
        }
        let ptec = match self.cfg.contract {
            Contract::Base => "TH..",
            Contract::HcHp => ["HC..", "HP.."][index],
            Contract::Tempo => ["HCJB", "HPJB", "HCJW", "HPJW", "HCJR", "HPJR"][index],
            Contract::Ejp => ["HN..", "PM.."][index],
        };
        push("PTEC", ptec.into());
        if let Some(minutes) = ejp_notice {
            push("PEJP", format!("{minutes:02}"));
        }
        if self.cfg.contract == Contract::Tempo {
            let _ = colour;
            push(
                "DEMAIN",
                ["BLEU", "BLAN", "ROUG"][colour_index(tomorrow)].into(),
            );
        }
        let (_, amps) = self.rms(phase_va);
        if tri {
            for (p, l) in ["IINST1", "IINST2", "IINST3"].iter().enumerate() {
                push(l, format!("{:03}", amps[p]));
            }
            for l in ["IMAX1", "IMAX2", "IMAX3"] {
                push(l, "060".into());
            }
            push("PMAX", format!("{:05}", self.smax[0].yesterday.0));
        } else {
            push("IINST", format!("{:03}", amps[0]));
            push("IMAX", "090".into());
        }
        push("PAPP", format!("{:05}", (withdrawn + 5) / 10 * 10));
        push("HHPHC", "A".into());
        push("MOTDETAT", "000000".into());
        if tri {
            push("PPOT", "00".into());
        }
        g
    }

    /// Voltages and currents per phase from the apparent powers.
    fn rms(&self, phase_va: [u32; 3]) -> ([u32; 3], [u32; 3]) {
        let mut volts = [0; 3];
        let mut amps = [0; 3];
        for p in 0..3 {
            // A voltage that sags a little under load.
            volts[p] = 234 - (phase_va[p] / 1000).min(8);
            amps[p] = (phase_va[p] + volts[p] / 2) / volts[p];
        }
        (volts, amps)
    }

    fn stge(&self, index: usize, colour: Colour, tomorrow: Colour) -> u32 {
        let mut s: u32 = 0x0000_0001; // dry contact open
        s |= 0x3A_0000; // standard mode, Euridis on with security, CPL New/Lock
        if self.cfg.producer {
            s |= 1 << 8;
        }
        s |= (index as u32 & 0xF) << 10;
        let dist = if self.cfg.contract == Contract::Base {
            0
        } else {
            index % 2
        };
        s |= (dist as u32) << 14;
        if self.cfg.faults.degraded_clock {
            s |= 1 << 16;
        }
        if self.cfg.contract == Contract::Tempo {
            s |= (colour_index(colour) as u32 + 1) << 24;
            s |= (colour_index(tomorrow) as u32 + 1) << 26;
        }
        s
    }

    /// Encodes the groups into `out` with the configured faults.
    fn emit(
        &mut self,
        out: &mut Vec<u8>,
        groups: Vec<SimGroup>,
        now: DateTime<FixedOffset>,
        power_va: u32,
        off_peak: bool,
    ) -> SimFrame {
        let f = self.cfg.faults;
        let mode = self.cfg.mode;
        let start = out.len();
        let mut noise_before = 0;
        let mut noise_inside = false;
        if f.noise > 0.0 && self.rng.f64() < f.noise {
            if self.rng.bool() {
                noise_before = self.rng.usize(1..16);
                for _ in 0..noise_before {
                    out.push(self.noise_byte());
                }
            } else {
                noise_inside = true;
            }
        }
        let cut_at =
            (f.eot > 0.0 && self.rng.f64() < f.eot).then(|| self.rng.usize(0..groups.len()));
        let noisy_group = noise_inside.then(|| self.rng.usize(0..groups.len()));
        let mut bad = Vec::new();
        start_frame(out);
        for (i, g) in groups.iter().enumerate() {
            if cut_at == Some(i) {
                break;
            }
            let at = out.len();
            push_group(out, mode, g.label, g.horodate.as_deref(), &g.value);
            let mut damaged = false;
            if f.badsum > 0.0 && self.rng.f64() < f.badsum {
                // The checksum is the byte before CR: replace it by another valid one.
                let k = out.len() - 2;
                out[k] = 0x20 + ((out[k] - 0x20 + 1 + self.rng.u8(0..63)) & 0x3F);
                damaged = true;
            }
            if noisy_group == Some(i) {
                // Insert printable noise (never a multiple of 64, so the sum changes) into the
                // value, after the label and its separator.
                let value_at = at + 1 + g.label.len() + 1;
                let n = self.rng.usize(1..4);
                for _ in 0..n {
                    let b = loop {
                        let b = self.rng.u8(0x21..0x7F);
                        if b & 0x3F != 0 {
                            break b;
                        }
                    };
                    out.insert(value_at, b);
                }
                // Several bytes could still sum to a multiple of 64: then add one more.
                let added: u32 = out[value_at..value_at + n]
                    .iter()
                    .map(|&b| u32::from(b))
                    .sum();
                if added.is_multiple_of(64) {
                    out.insert(value_at, b'!');
                }
                damaged = true;
            }
            if damaged {
                ensure_bad(out, at, mode);
                bad.push(g.label);
            }
        }
        match cut_at {
            Some(_) => out.push(EOT),
            None => end_frame(out),
        }
        if f.parity {
            for b in &mut out[start..] {
                if b.count_ones() % 2 == 1 {
                    *b |= 0x80;
                }
            }
        }
        SimFrame {
            time: now,
            groups,
            bad: if cut_at.is_some() { Vec::new() } else { bad },
            cut: cut_at.is_some(),
            noise_before,
            power_va,
            off_peak,
        }
    }

    /// A noise byte that cannot start a frame.
    fn noise_byte(&mut self) -> u8 {
        loop {
            let b = self.rng.u8(..);
            if b & 0x7F != STX {
                return b;
            }
        }
    }
}

/// An energy accumulator (W·ms) as the meter prints its index: 9 digits of Wh.
fn wh(e: u128) -> String {
    format!("{:09}", (e / MS_PER_WH) % 1_000_000_000)
}

/// Makes sure the group written at `at` (its LF) fails verification: two faults on one
/// group could cancel out, 1 time in 64.
fn ensure_bad(out: &mut [u8], at: usize, mode: Mode) {
    let end = out.len() - 1; // CR
    let chk_at = end - 1;
    let covered = match mode {
        Mode::Standard => &out[at + 1..chk_at],
        Mode::Historique => &out[at + 1..chk_at - 1],
    };
    if crate::tic::checksum(covered) == out[chk_at] {
        out[chk_at] = 0x20 + ((out[chk_at] - 0x20 + 1) & 0x3F);
    }
}

/// The approximate wire length of a frame (for the default frame interval).
fn frame_len_hint(f: &SimFrame) -> usize {
    2 + f
        .groups
        .iter()
        .map(|g| g.label.len() + g.value.len() + g.horodate.as_ref().map_or(0, |h| h.len() + 1) + 5)
        .sum::<usize>()
}

fn is_summer(t: &DateTime<impl TimeZone>) -> bool {
    t.offset().fix().local_minus_utc() == 7200
}

/// `SAAMMJJhhmmss` of a local time.
fn horodate(t: &NaiveDateTime, summer: bool, degraded: bool) -> String {
    let s = match (summer, degraded) {
        (true, false) => 'E',
        (false, false) => 'H',
        (true, true) => 'e',
        (false, true) => 'h',
    };
    format!("{s}{}", t.format("%y%m%d%H%M%S"))
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        let f = Faults::parse("noise=0.01,badsum=0.02,eot=0.005,parity,degraded-clock").unwrap();
        assert_eq!(f.noise, 0.01);
        assert_eq!(f.badsum, 0.02);
        assert_eq!(f.eot, 0.005);
        assert!(f.parity && f.degraded_clock);
        for bad in [
            "noise=2",
            "noise=-0.1",
            "noise",
            "parity=1",
            "bogus=0.1",
            "eot=x",
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedule() {
        let s = Schedule::default();
        assert!(s.is_off_peak(hm(23, 0)) && s.is_off_peak(hm(5, 59)));
        assert!(!s.is_off_peak(hm(6, 0)) && !s.is_off_peak(hm(21, 59)));
        let s = Schedule::parse("01:30-07:30,12:00-14:00").unwrap();
        assert!(s.is_off_peak(hm(13, 0)) && !s.is_off_peak(hm(8, 0)));
        assert!(Schedule::parse("25:00-01:00").is_err());
    }

    #[test]
    fn nonexistent_start_is_an_error() {
        let t = NaiveDateTime::parse_from_str("2026-03-29 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let cfg = SimConfig::new(Mode::Standard, Contract::Base, t);
        assert!(matches!(
            Meter::new(cfg),
            Err(SimError::NonexistentStart(_))
        ));
    }

    fn run_until(cfg: SimConfig, until: DateTime<Utc>) -> (Meter, Vec<u64>) {
        let mut m = Meter::new(cfg).unwrap();
        let mut buf = Vec::new();
        let mut sinsts = Vec::new();
        while m.now() < until {
            buf.clear();
            let f = m.next_frame(&mut buf);
            sinsts.push(u64::from(f.power_va));
        }
        (m, sinsts)
    }

    #[test]
    fn ending_at_ends_exactly_at_the_given_indexes() {
        let start =
            NaiveDateTime::parse_from_str("2026-03-28 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        // Through the March DST night: a 23-hour day.
        let until = TZ
            .from_local_datetime(&(start + Duration::days(2)))
            .unwrap()
            .to_utc();
        let end: &[(&str, u64)] = &[
            ("EAST", 12_345_678),
            ("EASF01", 4_000_000),
            ("EASF02", 8_000_000),
            ("EASF03", 345_678),
            ("EASD01", 4_100_000),
            ("EASD02", 8_200_000),
            ("HCHC", 4_000_000),
            ("HCHP", 8_000_000),
        ];
        let get = |l: &str| end.iter().find(|(n, _)| *n == l).map(|(_, v)| *v);
        for (mode, interval) in [(Mode::Standard, 60), (Mode::Historique, 10)] {
            let mut cfg = SimConfig::new(mode, Contract::HcHp, start);
            cfg.frame_interval = Some(Duration::seconds(interval));
            cfg.seed = 7;
            cfg.address = Some("041876097171".into());
            let set = ending_at(cfg.clone(), until, get).unwrap();
            let (m, profile) = run_until(set.clone(), until);
            let got = m.indexes();
            for (label, index) in index_labels(&set) {
                if let Some(want) = get(label) {
                    assert_eq!(got.get(index), want, "{mode:?} {label}");
                }
            }
            if mode == Mode::Standard {
                assert_eq!(got.easf[3..], [0; 7], "unset: the contract's zeros");
            }
            // The same profile as the random start's, and the address as set.
            let (_, random) = run_until(
                SimConfig {
                    indexes: None,
                    ..set.clone()
                },
                until,
            );
            assert_eq!(profile, random);
            let mut out = Vec::new();
            let f = Meter::new(set).unwrap().next_frame(&mut out);
            let id = if mode == Mode::Standard {
                "ADSC"
            } else {
                "ADCO"
            };
            assert_eq!(f.value(id), Some("041876097171"));
            // Another seed, another day of load.
            cfg.seed = 8;
            let (_, other) = run_until(cfg.clone(), until);
            assert_ne!(profile, other);
            // Ending below the day's use is an error naming the index.
            let e = ending_at(cfg, until, |l| (l == "EASF02" || l == "HCHP").then_some(10))
                .unwrap_err();
            assert!(matches!(e, SimError::EndBelowUse { end: 10, .. }), "{e}");
        }
    }

    /// The demo's historique clock counts bytes: every frame of a meter has one length.
    #[test]
    fn historique_frames_have_a_constant_length() {
        let t = NaiveDateTime::parse_from_str("2026-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        for contract in [Contract::Base, Contract::HcHp, Contract::Tempo] {
            for phases in [1, 3] {
                let mut cfg = SimConfig::new(Mode::Historique, contract, t);
                cfg.phases = phases;
                cfg.frame_interval = Some(Duration::seconds(10));
                let mut m = Meter::new(cfg).unwrap();
                let mut lens = std::collections::BTreeSet::new();
                for _ in 0..8640 {
                    let mut buf = Vec::new();
                    m.next_frame(&mut buf);
                    lens.insert(buf.len());
                }
                assert_eq!(lens.len(), 1, "{contract:?} {phases}: {lens:?}");
            }
        }
    }

    /// EJP: mobile peak hours from 07:00 to 01:00 on an EJP day (a winter weekday drawn from
    /// the seed: 2026-01-07 for seed 1), with PEJP's 30-minute notice before, the energy on
    /// EJPHPM then and on EJPHN otherwise; standard mode is refused.
    #[test]
    fn ejp_has_mobile_peak_days_with_a_notice() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let frame = |t: &str| {
            let mut cfg = SimConfig::new(Mode::Historique, Contract::Ejp, at(t));
            cfg.frame_interval = Some(Duration::seconds(60));
            let mut m = Meter::new(cfg).unwrap();
            let mut buf = Vec::new();
            m.next_frame(&mut buf)
        };
        for (t, ptec, pejp) in [
            ("2026-01-07 06:29:00", "HN..", None),
            ("2026-01-07 06:35:00", "HN..", Some("30")),
            ("2026-01-07 07:00:00", "PM..", None),
            ("2026-01-07 23:59:00", "PM..", None),
            ("2026-01-08 00:30:00", "PM..", None),
            ("2026-01-08 01:00:00", "HN..", None),
            ("2026-01-06 12:00:00", "HN..", None),
            ("2026-07-07 12:00:00", "HN..", None),
        ] {
            let f = frame(t);
            assert_eq!(f.value("PTEC"), Some(ptec), "{t}");
            assert_eq!(f.value("PEJP"), pejp, "{t}");
            assert_eq!(f.value("OPTARIF"), Some("EJP."), "{t}");
        }
        let mut cfg = SimConfig::new(Mode::Historique, Contract::Ejp, at("2026-01-07 05:00:00"));
        cfg.frame_interval = Some(Duration::seconds(60));
        let mut m = Meter::new(cfg.clone()).unwrap();
        let mut buf = Vec::new();
        let idx = |f: &SimFrame, l: &str| f.value(l).unwrap().parse::<u64>().unwrap();
        let first = m.next_frame(&mut buf);
        let mut last = first.clone();
        for _ in 0..(20 * 60) {
            buf.clear();
            last = m.next_frame(&mut buf);
        }
        // 05:00 to 01:00: two hours of normal hours, 18 of mobile peak.
        let hn = idx(&last, "EJPHN") - idx(&first, "EJPHN");
        let pm = idx(&last, "EJPHPM") - idx(&first, "EJPHPM");
        assert!(hn > 0 && pm > 4 * hn, "normal {hn} Wh, peak {pm} Wh");
        cfg.mode = Mode::Standard;
        assert!(matches!(Meter::new(cfg), Err(SimError::EjpStandard)));
    }

    #[test]
    fn historique_has_no_producer_nor_degraded_clock() {
        let t = NaiveDateTime::parse_from_str("2026-03-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let mut cfg = SimConfig::new(Mode::Historique, Contract::Base, t);
        cfg.producer = true;
        assert!(matches!(
            Meter::new(cfg.clone()),
            Err(SimError::ProducerHistorique)
        ));
        cfg.producer = false;
        cfg.faults.degraded_clock = true;
        assert!(matches!(
            Meter::new(cfg),
            Err(SimError::DegradedClockHistorique)
        ));
    }

    #[test]
    fn padding() {
        assert_eq!(pad_center("TEMPO", 16), "     TEMPO      ");
        assert_eq!(pad_center("HP  BLEU", 16), "    HP  BLEU    ");
        assert_eq!(pad_center("BASE", 16), "      BASE      ");
    }
}
