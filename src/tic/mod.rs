//! The TIC decoder: bytes in, verified frames out (sans-IO).
//!
//! ## Contract
//! - [`Decoder::decode`] takes any chunk of bytes, consumes some or all of it and, when a
//!   frame completes, returns it borrowed from the decoder together with the number of bytes
//!   consumed. Feeding a stream one byte at a time gives exactly the frames that feeding it
//!   whole gives (a property test checks this).
//! - No I/O, no clock, no allocation per group: the decoder owns a frame buffer (capped at
//!   [`Config::max_frame_len`], 8 KiB by default) and span tables that it reuses.
//! - Bit 7 of every byte is masked, so a port opened 8N1 decodes like one opened 7E1.
//! - Frames run from STX (0x02) to ETX (0x03). A frame cut by EOT (0x04), by a new STX, or
//!   longer than the cap is discarded and counted in [`Stats`]. Bytes outside frames are
//!   skipped and counted. A capture made through a cooked tty (every CR turned into LF, ETX
//!   swallowed) has frames that end at the next STX: in a stream that has shown no ETX, a
//!   frame interrupted by STX that holds line ends but no CR is taken as such a frame rather
//!   than a cut one. A frame holding no group at all (`STX ETX`, `STX LF ETX`: line noise,
//!   adapters at power-up) is no frame: its bytes count as skipped. A frame whose groups all
//!   fail is a frame.
//! - Groups are the non-empty runs of bytes between LF/CR delimiters. Each group is verified
//!   with its mode's checksum rule ([`checksum`]); a group that fails is reported as a
//!   [`BadGroup`] (label as read, byte offset, reason) and left out of the frame's values.
//! - The mode is detected per frame (the rule that verifies more groups wins) unless the
//!   caller forces one with [`Config::mode`].
//! - Historique checksums follow one of two rules ([`ChecksumRule`]): mode 1 (Linky: the SP
//!   before the checksum not summed) or mode 2 (some pre-Linky meters: summed). The rule is
//!   decided once per stream, never per group, from the first historique frame with at least
//!   3 well-formed groups verified under one rule and none under the other; until then mode
//!   1 applies ([`Decoder::historique_rule`]). So a mode-2 meter decodes whole from that
//!   frame on, and a Linky group damaged so that it passes mode 2 is never taken (every
//!   Linky frame holds groups that verify under mode 1). Only groups that failed mode 1 are
//!   tried under mode 2, so a clean Linky stream costs nothing more.
//! - Text values are trimmed of SP padding; the checksum is always verified on the raw bytes.
//! - Horodated groups must carry a valid `SAAMMJJhhmmss` horodate ([`Horodate`]); meter times
//!   are never resolved through a host time zone. A group whose checksum verifies but whose
//!   horodate is impossible is left out too, as [`BadKind::Horodate`]
//!   ([`Frame::bad_horodates`]), and counted apart from checksum failures
//!   ([`Stats::groups_bad_horodate`]).
//!
//! [`Framing::Lines`] decodes text dumps (one group a line, a blank line between frames,
//! no STX/ETX), such as firmware test files. A line ends with LF, CR, CR LF or LF CR: each
//! is one line break, so a dump saved with Windows line ends has the same frames. Lines are
//! not trimmed (a group may end with an SP checksum).

mod decoder;
pub mod encode;
mod horodate;
pub mod labels;
pub mod plausible;
pub mod status;

pub use decoder::{BadGroup, BadKind, Config, Decoder, Frame, Framing, Group, Stats};
pub use encode::checksum;
pub use horodate::{Horodate, HorodateError, Season};

/// Start of frame.
pub const STX: u8 = 0x02;
/// End of frame.
pub const ETX: u8 = 0x03;
/// End of transmission: interrupts the current frame.
pub const EOT: u8 = 0x04;
/// Start of group.
pub const LF: u8 = 0x0A;
/// End of group.
pub const CR: u8 = 0x0D;
/// Standard-mode separator.
pub const HT: u8 = 0x09;
/// Historique-mode separator.
pub const SP: u8 = 0x20;

/// The two TIC modes of a Linky meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 9600 baud, HT separators, DATE and horodates, EASF01..10 indexes.
    Standard,
    /// 1200 baud, SP separators, no DATE; labels of pre-Linky electronic meters.
    Historique,
}

impl Mode {
    /// Lower-case name, as printed and parsed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Standard => "standard",
            Mode::Historique => "historique",
        }
    }

    /// The line speed of this mode.
    pub fn baud_rate(self) -> u32 {
        match self {
            Mode::Standard => 9600,
            Mode::Historique => 1200,
        }
    }

    /// The separator between the fields of a group.
    pub fn separator(self) -> u8 {
        match self {
            Mode::Standard => HT,
            Mode::Historique => SP,
        }
    }
}

/// Which bytes a group's checksum covers (PROTOCOL.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumRule {
    /// Standard mode: `label HT [horodate HT] data HT`, the HT before the checksum included.
    Standard,
    /// Historique "mode 1", what Linky meters send: `label SP data`, the SP before the
    /// checksum excluded.
    HistoriqueMode1,
    /// Historique "mode 2", what some pre-Linky electronic meters (CBE/CBEMM/CBETM) send:
    /// `label SP data SP`, the SP before the checksum included.
    HistoriqueMode2,
}

impl ChecksumRule {
    /// The mode whose groups follow this rule.
    pub fn mode(self) -> Mode {
        match self {
            ChecksumRule::Standard => Mode::Standard,
            ChecksumRule::HistoriqueMode1 | ChecksumRule::HistoriqueMode2 => Mode::Historique,
        }
    }

    /// The rule a mode's groups follow unless a stream shows otherwise (mode 1 for
    /// historique: every Linky meter).
    pub fn usual(mode: Mode) -> ChecksumRule {
        match mode {
            Mode::Standard => ChecksumRule::Standard,
            Mode::Historique => ChecksumRule::HistoriqueMode1,
        }
    }

    /// As printed: `standard`, `historique mode 1 (Linky)`, `historique mode 2 (pre-Linky)`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumRule::Standard => "standard",
            ChecksumRule::HistoriqueMode1 => "historique mode 1 (Linky)",
            ChecksumRule::HistoriqueMode2 => "historique mode 2 (pre-Linky)",
        }
    }
}

impl std::fmt::Display for ChecksumRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(Mode::Standard),
            "historique" => Ok(Mode::Historique),
            _ => Err(format!(
                "unknown mode {s:?}: expected \"standard\" or \"historique\""
            )),
        }
    }
}
