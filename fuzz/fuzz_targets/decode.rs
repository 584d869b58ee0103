//! Fuzzes the decoder: any bytes, any chunking, any mode; no panic, bounded buffers, and
//! every group of every frame verifies under its frame's checksum rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tic_rec::tic::{checksum, Config, Decoder, Frame, Framing, Mode, HT, SP};

fn check(f: &Frame<'_>) {
    for g in f.groups() {
        let raw = g.raw.as_bytes();
        let n = raw.len();
        let ok = match f.mode {
            Mode::Standard => raw[n - 2] == HT && checksum(&raw[..n - 1]) == raw[n - 1],
            Mode::Historique => raw[n - 2] == SP && checksum(&raw[..n - 2]) == raw[n - 1],
        };
        assert!(ok, "unverified group {g:?}");
        if let Some(h) = g.parsed_horodate() {
            let _ = h.instant();
        }
    }
    let _ = f.date();
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, bytes)) = data.split_first() else { return };
    let mode = match ctl & 3 {
        0 => None,
        1 => Some(Mode::Standard),
        _ => Some(Mode::Historique),
    };
    let framing = if ctl & 4 == 0 { Framing::Wire } else { Framing::Lines };
    let chunk = 1 + (ctl >> 3) as usize;
    let mut d = Decoder::new(Config { mode, framing, max_frame_len: 1024 });
    for block in bytes.chunks(chunk) {
        let mut rest = block;
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            if let Some(f) = f {
                check(&f);
            }
            rest = &rest[n..];
        }
    }
    if let Some(f) = d.finish() {
        check(&f);
    }
    assert_eq!(d.stats().bytes, bytes.len() as u64);
});
