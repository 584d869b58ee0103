//! Checksums and the group/frame encoder shared by the simulator and the tests.

use super::{ChecksumRule, Mode, CR, ETX, HT, LF, SP, STX};

/// The checksum character of the bytes a mode's rule covers: `(sum & 0x3F) + 0x20`.
///
/// Standard mode covers `label HT [horodate HT] data HT` (the HT before the checksum
/// included); historique mode covers `label SP data` (the last SP excluded). The result is
/// always in 0x20..=0x5F, and may be a space.
pub fn checksum(covered: &[u8]) -> u8 {
    (sum(covered) & 0x3F) + 0x20
}

/// Wrapping byte sum (only its low 6 bits matter).
#[inline]
pub(crate) fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, &b| acc.wrapping_add(b))
}

/// Appends one group, `LF … checksum CR`, to `out`, with the mode's usual checksum rule
/// (historique mode 1, as Linky meters send).
///
/// `horodate` is only written in standard mode (historique groups have none).
pub fn push_group(out: &mut Vec<u8>, mode: Mode, label: &str, horodate: Option<&str>, value: &str) {
    push_group_with_rule(out, ChecksumRule::usual(mode), label, horodate, value);
}

/// Appends one group whose checksum follows `rule` (e.g. historique mode 2, as some
/// pre-Linky meters send).
pub fn push_group_with_rule(
    out: &mut Vec<u8>,
    rule: ChecksumRule,
    label: &str,
    horodate: Option<&str>,
    value: &str,
) {
    out.push(LF);
    let start = out.len();
    out.extend_from_slice(label.as_bytes());
    match rule {
        ChecksumRule::Standard => {
            out.push(HT);
            if let Some(h) = horodate {
                out.extend_from_slice(h.as_bytes());
                out.push(HT);
            }
            out.extend_from_slice(value.as_bytes());
            out.push(HT);
            let chk = checksum(&out[start..]);
            out.push(chk);
        }
        ChecksumRule::HistoriqueMode1 => {
            out.push(SP);
            out.extend_from_slice(value.as_bytes());
            let chk = checksum(&out[start..]);
            out.push(SP);
            out.push(chk);
        }
        ChecksumRule::HistoriqueMode2 => {
            out.push(SP);
            out.extend_from_slice(value.as_bytes());
            out.push(SP);
            let chk = checksum(&out[start..]);
            out.push(chk);
        }
    }
    out.push(CR);
}

/// Appends a whole frame, `STX` groups `ETX`, of `(label, horodate, value)` groups.
pub fn push_frame(out: &mut Vec<u8>, mode: Mode, groups: &[(&str, Option<&str>, &str)]) {
    push_frame_with_rule(out, ChecksumRule::usual(mode), groups);
}

/// Appends a whole frame whose checksums follow `rule`.
pub fn push_frame_with_rule(
    out: &mut Vec<u8>,
    rule: ChecksumRule,
    groups: &[(&str, Option<&str>, &str)],
) {
    start_frame(out);
    for (label, horodate, value) in groups {
        push_group_with_rule(out, rule, label, *horodate, value);
    }
    end_frame(out);
}

/// Appends STX to `out`.
pub fn start_frame(out: &mut Vec<u8>) {
    out.push(STX);
}

/// Appends ETX to `out`.
pub fn end_frame(out: &mut Vec<u8>) {
    out.push(ETX);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked examples of PROTOCOL.md §3 (each also present in a real capture).
    #[test]
    fn protocol_worked_examples() {
        let cases: &[(&[u8], u8)] = &[
            (b"HCHC 006906827", b','),
            (b"PTEC HP..", b' '),
            (b"BASE 010151175", b' '),
            (b"EAST\t080490250\t", b'+'),
            (b"DATE\tH230301091834\t\t", b'C'),
            (b"SMAXSN\tH230301065253\t01024\t", b'2'),
            (b"DPM2\t 240108060000\t00\t", b'#'),
            (b"EASD01\t000000000\t", b' '),
        ];
        for (covered, want) in cases {
            assert_eq!(
                checksum(covered),
                *want,
                "checksum of {:?}",
                String::from_utf8_lossy(covered)
            );
        }
    }

    #[test]
    fn sums_match_protocol() {
        assert_eq!(
            b"HCHC 006906827".iter().map(|&b| b as u32).sum::<u32>(),
            780
        );
        assert_eq!(b"PTEC HP..".iter().map(|&b| b as u32).sum::<u32>(), 576);
        assert_eq!(sum(b"HCHC 006906827") & 0x3F, 12);
    }

    #[test]
    fn wire_forms() {
        let mut out = Vec::new();
        push_group(&mut out, Mode::Historique, "HCHC", None, "006906827");
        assert_eq!(out, b"\nHCHC 006906827 ,\r");
        out.clear();
        push_group(&mut out, Mode::Historique, "PTEC", None, "HP..");
        assert_eq!(out, b"\nPTEC HP..  \r");
        out.clear();
        push_group(&mut out, Mode::Standard, "DATE", Some("H230301091834"), "");
        assert_eq!(out, b"\nDATE\tH230301091834\t\tC\r");
        out.clear();
        push_group(&mut out, Mode::Standard, "EASD01", None, "000000000");
        assert_eq!(out, b"\nEASD01\t000000000\t \r");
        // Mode 2: the last SP is summed too (+0x20), so 780 + 32 = 812, &63 = 44 → 'L'.
        out.clear();
        let rule = ChecksumRule::HistoriqueMode2;
        push_group_with_rule(&mut out, rule, "HCHC", None, "006906827");
        assert_eq!(out, b"\nHCHC 006906827 L\r");
        out.clear();
        push_group_with_rule(&mut out, rule, "PTEC", None, "HP..");
        assert_eq!(out, b"\nPTEC HP.. @\r");
    }
}
