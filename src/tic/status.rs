//! The status register STGE of standard mode, decoded (PROTOCOL.md §6, Enedis-NOI-CPT_54E
//! §6.2.3.14): 32 bits sent as 8 hexadecimal digits, most significant first.
//!
//! | bits | field |
//! |---|---|
//! | 0 | dry contact: 0 closed, 1 open |
//! | 1–3 | cut-off device: 0 closed, 1–6 open and why ([`CutOff`]) |
//! | 4 | distributor terminal cover: 0 closed, 1 open |
//! | 6 | overvoltage on a phase |
//! | 7 | reference power exceeded |
//! | 8 | 0 consumer, 1 producer |
//! | 9 | active energy direction: 0 positive (withdrawn), 1 negative (injected) |
//! | 10–13 | supplier index in force − 1 |
//! | 14–15 | distributor index in force − 1 |
//! | 16 | clock degraded |
//! | 17 | TIC mode: 0 historique, 1 standard |
//! | 19–20 | Euridis output ([`Euridis`]) |
//! | 21–22 | CPL status ([`Cpl`]) |
//! | 23 | CPL synchronised |
//! | 24–25, 26–27 | Tempo colour today, tomorrow: 0 none, 1 blue, 2 white, 3 red |
//! | 28–29, 30–31 | mobile peak notice, mobile peak in progress: 0 none, 1–3 PM1–PM3 |
//!
//! (Some peers read these fields one bit off: hekmon/linkytic's `status_register.py` takes the
//! cut-off device from bits 1–3 but the cover from bit 3; the table above is the
//! specification's, checked against the decoded real captures in PROTOCOL.md.)

use super::labels::Colour;

/// A decoded STGE value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status(u32);

/// The cut-off device (organe de coupure), bits 1–3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CutOff {
    /// Closed: power flows.
    Closed,
    /// Open: overpower.
    Overpower,
    /// Open: overvoltage.
    Overvoltage,
    /// Open: load shedding.
    LoadShedding,
    /// Open by a CPL or Euridis order.
    RemoteOrder,
    /// Open: overheating with a current above Imax.
    OverheatAboveImax,
    /// Open: overheating with a current below Imax.
    OverheatBelowImax,
}

impl CutOff {
    /// Every state, in code order.
    pub const ALL: [CutOff; 7] = [
        CutOff::Closed,
        CutOff::Overpower,
        CutOff::Overvoltage,
        CutOff::LoadShedding,
        CutOff::RemoteOrder,
        CutOff::OverheatAboveImax,
        CutOff::OverheatBelowImax,
    ];

    /// In English, for Home Assistant: `closed`, `open: overpower`…
    pub fn name(self) -> &'static str {
        match self {
            CutOff::Closed => "closed",
            CutOff::Overpower => "open: overpower",
            CutOff::Overvoltage => "open: overvoltage",
            CutOff::LoadShedding => "open: load shedding",
            CutOff::RemoteOrder => "open: remote order",
            CutOff::OverheatAboveImax => "open: overheating above Imax",
            CutOff::OverheatBelowImax => "open: overheating below Imax",
        }
    }
}

/// The Euridis output, bits 19–20.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Euridis {
    /// Disabled.
    Off,
    /// Enabled, without security.
    On,
    /// Enabled, with security.
    OnSecured,
}

impl Euridis {
    /// Every state.
    pub const ALL: [Euridis; 3] = [Euridis::Off, Euridis::On, Euridis::OnSecured];

    /// `off`, `on`, `on, secured`.
    pub fn name(self) -> &'static str {
        match self {
            Euridis::Off => "off",
            Euridis::On => "on",
            Euridis::OnSecured => "on, secured",
        }
    }
}

/// The CPL (powerline) status, bits 21–22.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cpl {
    /// New, unlocked.
    NewUnlocked,
    /// New, locked.
    NewLocked,
    /// Registered.
    Registered,
}

impl Cpl {
    /// Every state.
    pub const ALL: [Cpl; 3] = [Cpl::NewUnlocked, Cpl::NewLocked, Cpl::Registered];

    /// `new, unlocked`, `new, locked`, `registered`.
    pub fn name(self) -> &'static str {
        match self {
            Cpl::NewUnlocked => "new, unlocked",
            Cpl::NewLocked => "new, locked",
            Cpl::Registered => "registered",
        }
    }
}

impl Status {
    /// The register of an STGE value: 8 hexadecimal digits (surrounding spaces ignored);
    /// `None` otherwise.
    pub fn parse(value: &str) -> Option<Status> {
        let v = value.trim();
        if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(v, 16).ok().map(Status)
    }

    /// The 32 bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    fn field(self, lsb: u32, len: u32) -> u32 {
        (self.0 >> lsb) & ((1 << len) - 1)
    }

    fn bit(self, n: u32) -> bool {
        self.field(n, 1) == 1
    }

    /// Bit 0: the dry contact is open.
    pub fn dry_contact_open(self) -> bool {
        self.bit(0)
    }

    /// Bits 1–3: the cut-off device; `None` for the undefined code 7.
    pub fn cut_off(self) -> Option<CutOff> {
        CutOff::ALL.get(self.field(1, 3) as usize).copied()
    }

    /// Bit 4: the distributor's terminal cover is open.
    pub fn cover_open(self) -> bool {
        self.bit(4)
    }

    /// Bit 6: overvoltage on a phase.
    pub fn overvoltage(self) -> bool {
        self.bit(6)
    }

    /// Bit 7: the reference (subscribed) power is exceeded.
    pub fn over_reference_power(self) -> bool {
        self.bit(7)
    }

    /// Bit 8: a producer meter.
    pub fn producer(self) -> bool {
        self.bit(8)
    }

    /// Bit 9: active energy flows out (injected).
    pub fn injecting(self) -> bool {
        self.bit(9)
    }

    /// Bits 10–13: the supplier index in force, 1–16 (1–10 defined).
    pub fn supplier_index(self) -> u8 {
        self.field(10, 4) as u8 + 1
    }

    /// Bits 14–15: the distributor index in force, 1–4.
    pub fn distributor_index(self) -> u8 {
        self.field(14, 2) as u8 + 1
    }

    /// Bit 16: the meter's clock is degraded.
    pub fn clock_degraded(self) -> bool {
        self.bit(16)
    }

    /// Bit 17: the TIC is in standard mode (else historique).
    pub fn standard_mode(self) -> bool {
        self.bit(17)
    }

    /// Bits 19–20; `None` for the undefined code 10.
    pub fn euridis(self) -> Option<Euridis> {
        match self.field(19, 2) {
            0 => Some(Euridis::Off),
            1 => Some(Euridis::On),
            3 => Some(Euridis::OnSecured),
            _ => None,
        }
    }

    /// Bits 21–22; `None` for the undefined code 11.
    pub fn cpl(self) -> Option<Cpl> {
        Cpl::ALL.get(self.field(21, 2) as usize).copied()
    }

    /// Bit 23: CPL synchronised.
    pub fn cpl_synchronised(self) -> bool {
        self.bit(23)
    }

    fn colour(self, lsb: u32) -> Option<Colour> {
        match self.field(lsb, 2) {
            1 => Some(Colour::Blue),
            2 => Some(Colour::White),
            3 => Some(Colour::Red),
            _ => None,
        }
    }

    /// Bits 24–25: today's Tempo colour, if any.
    pub fn colour_today(self) -> Option<Colour> {
        self.colour(24)
    }

    /// Bits 26–27: tomorrow's Tempo colour, if announced.
    pub fn colour_tomorrow(self) -> Option<Colour> {
        self.colour(26)
    }

    /// Bits 28–29: the mobile peak announced (1–3), if any.
    pub fn mobile_peak_notice(self) -> Option<u8> {
        Some(self.field(28, 2) as u8).filter(|&n| n > 0)
    }

    /// Bits 30–31: the mobile peak in progress (1–3), if any.
    pub fn mobile_peak(self) -> Option<u8> {
        Some(self.field(30, 2) as u8).filter(|&n| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoded_examples_of_the_protocol_notes() {
        // 003A0001: contact open, standard mode, Euridis on with security, CPL new/locked.
        let s = Status::parse("003A0001").unwrap();
        assert!(s.dry_contact_open());
        assert_eq!(s.cut_off(), Some(CutOff::Closed));
        assert!(!s.cover_open() && !s.overvoltage() && !s.over_reference_power());
        assert!(!s.producer() && !s.injecting());
        assert_eq!((s.supplier_index(), s.distributor_index()), (1, 1));
        assert!(!s.clock_degraded());
        assert!(s.standard_mode());
        assert_eq!(s.euridis(), Some(Euridis::OnSecured));
        assert_eq!(s.cpl(), Some(Cpl::NewLocked));
        assert!(!s.cpl_synchronised());
        assert_eq!((s.colour_today(), s.colour_tomorrow()), (None, None));
        assert_eq!((s.mobile_peak_notice(), s.mobile_peak()), (None, None));
        // 013A0501: producer, index 2, Tempo today blue.
        let s = Status::parse("013A0501").unwrap();
        assert!(s.producer());
        assert_eq!(s.supplier_index(), 2);
        assert_eq!(s.colour_today(), Some(Colour::Blue));
        // 003AC701: producer, injecting, supplier index 2, distributor index 4.
        let s = Status::parse("003AC701").unwrap();
        assert!(s.producer() && s.injecting());
        assert_eq!((s.supplier_index(), s.distributor_index()), (2, 4));
    }

    #[test]
    fn every_field_alone() {
        let one = |bits: u32| Status::parse(&format!("{bits:08X}")).unwrap();
        for (code, want) in CutOff::ALL.iter().enumerate() {
            assert_eq!(one((code as u32) << 1).cut_off(), Some(*want));
        }
        assert_eq!(one(7 << 1).cut_off(), None);
        assert!(one(1 << 4).cover_open());
        assert!(one(1 << 6).overvoltage());
        assert!(one(1 << 7).over_reference_power());
        assert_eq!(one(9 << 10).supplier_index(), 10);
        assert!(one(1 << 16).clock_degraded());
        assert_eq!(one(2 << 19).euridis(), None);
        assert_eq!(one(1 << 19).euridis(), Some(Euridis::On));
        assert_eq!(one(2 << 21).cpl(), Some(Cpl::Registered));
        assert_eq!(one(3 << 21).cpl(), None);
        assert!(one(1 << 23).cpl_synchronised());
        assert_eq!(one(3 << 26).colour_tomorrow(), Some(Colour::Red));
        assert_eq!(one(2 << 28).mobile_peak_notice(), Some(2));
        assert_eq!(one(3 << 30).mobile_peak(), Some(3));
        assert_eq!(one(0xFFFF_FFFF).bits(), u32::MAX);
    }

    #[test]
    fn only_eight_hexadecimal_digits() {
        for bad in [
            "",
            "003A000",
            "003A00010",
            "003A000G",
            "+03A0001",
            "0x3A0001",
        ] {
            assert_eq!(Status::parse(bad), None, "{bad:?}");
        }
        assert!(Status::parse(" 003a0001 ").is_some());
    }
}
