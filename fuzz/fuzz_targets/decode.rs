//! Fuzzes the decoder: any bytes, any chunking, any mode; no panic, bounded buffers, and
//! every group of every frame verifies under the checksum rule its stream uses (standard,
//! or the historique rule the stream decided: mode 1 until decided, never changed after).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tic_rec::tic::{checksum, ChecksumRule, Config, Decoder, Frame, Framing, Mode, HT, SP};

/// Checks a frame on its own; returns its mode and rule.
fn check(f: &Frame<'_>) -> (Mode, ChecksumRule) {
    let rule = f.checksum_rule();
    assert_eq!(rule.mode(), f.mode);
    for g in f.groups() {
        let raw = g.raw.as_bytes();
        let n = raw.len();
        let ok = match rule {
            ChecksumRule::Standard => raw[n - 2] == HT && checksum(&raw[..n - 1]) == raw[n - 1],
            ChecksumRule::HistoriqueMode1 => {
                raw[n - 2] == SP && checksum(&raw[..n - 2]) == raw[n - 1]
            }
            ChecksumRule::HistoriqueMode2 => {
                raw[n - 2] == SP && checksum(&raw[..n - 1]) == raw[n - 1]
            }
        };
        assert!(ok, "unverified group {g:?} under {rule}");
        if let Some(h) = g.parsed_horodate() {
            let _ = h.instant();
        }
    }
    assert!(
        f.groups().len() + f.bad_count() > 0,
        "a frame without a group"
    );
    let _ = f.date();
    (f.mode, rule)
}

/// The stream's historique rule never changes once decided, and a historique frame used it
/// (mode 1 before it was decided).
fn check_rule(
    d: &Decoder,
    decided: &mut Option<ChecksumRule>,
    frame: Option<(Mode, ChecksumRule)>,
) {
    let now = d.historique_rule();
    if decided.is_some() {
        assert_eq!(now, *decided, "the historique rule changed");
    }
    *decided = now;
    if let Some((Mode::Historique, rule)) = frame {
        assert_eq!(rule, now.unwrap_or(ChecksumRule::HistoriqueMode1));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, bytes)) = data.split_first() else {
        return;
    };
    let mode = match ctl & 3 {
        0 => None,
        1 => Some(Mode::Standard),
        _ => Some(Mode::Historique),
    };
    let framing = if ctl & 4 == 0 {
        Framing::Wire
    } else {
        Framing::Lines
    };
    let chunk = 1 + (ctl >> 3) as usize;
    let mut d = Decoder::new(Config {
        mode,
        framing,
        max_frame_len: 1024,
    });
    let mut decided = None;
    for block in bytes.chunks(chunk) {
        let mut rest = block;
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            let frame = f.map(|f| check(&f));
            check_rule(&d, &mut decided, frame);
            rest = &rest[n..];
        }
    }
    let frame = d.finish().map(|f| check(&f));
    check_rule(&d, &mut decided, frame);
    assert_eq!(d.stats().bytes, bytes.len() as u64);
});
