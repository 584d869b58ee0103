//! Property tests of the decoder: round trips, chunking, arbitrary bytes.

use proptest::prelude::*;
use tic_rec::tic::encode::{end_frame, push_frame_with_rule, push_group, start_frame};
use tic_rec::tic::{
    checksum, ChecksumRule, Config, Decoder, Frame, Mode, CR, EOT, ETX, HT, LF, SP, STX,
};

/// What a frame decodes to, owned, for comparisons.
type OwnedFrame = (
    Mode,
    u64,
    Vec<(String, Option<String>, String)>,
    Vec<(String, u64)>,
    ChecksumRule,
);
type Decoded = Vec<OwnedFrame>;

fn own(f: &Frame<'_>) -> OwnedFrame {
    (
        f.mode,
        f.offset,
        f.groups()
            .map(|g| {
                (
                    g.label.to_owned(),
                    g.horodate.map(str::to_owned),
                    g.value.to_owned(),
                )
            })
            .collect(),
        f.bad_groups()
            .map(|b| (b.label.to_owned(), b.offset))
            .collect(),
        f.checksum_rule(),
    )
}

fn decode_chunks(chunks: &[&[u8]], config: Config) -> Decoded {
    let mut d = Decoder::new(config);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            assert!(n > 0 || f.is_some(), "no progress");
            if let Some(f) = f {
                out.push(own(&f));
            }
            rest = &rest[n..];
        }
    }
    if let Some(f) = d.finish() {
        out.push(own(&f));
    }
    out
}

fn label() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9+-]{0,8}"
}

/// Printable values with no leading/trailing space (the decoder trims padding).
fn value(mode: Mode) -> BoxedStrategy<String> {
    match mode {
        Mode::Standard => prop_oneof!["", "[!-~]", "[!-~][ -~]{0,30}[!-~]"].boxed(),
        Mode::Historique => prop_oneof!["[!-~]", "[!-~][ -~]{0,10}[!-~]"].boxed(),
    }
}

fn horodate() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!['E', 'H', 'e', 'h', ' ']),
        0u32..100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(s, y, mo, d, h, mi, se)| format!("{s}{y:02}{mo:02}{d:02}{h:02}{mi:02}{se:02}"))
}

type GroupSpec = (String, Option<String>, String);

fn group(mode: Mode) -> BoxedStrategy<GroupSpec> {
    match mode {
        Mode::Standard => (label(), prop::option::of(horodate()), value(mode)).boxed(),
        Mode::Historique => (label(), Just(None), value(mode)).boxed(),
    }
}

fn frame(mode: Mode) -> impl Strategy<Value = Vec<GroupSpec>> {
    prop::collection::vec(group(mode), 1..12)
}

fn encode(mode: Mode, frames: &[Vec<GroupSpec>]) -> Vec<u8> {
    encode_with(ChecksumRule::usual(mode), frames)
}

fn encode_with(rule: ChecksumRule, frames: &[Vec<GroupSpec>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        let groups: Vec<(&str, Option<&str>, &str)> = f
            .iter()
            .map(|(l, h, v)| (l.as_str(), h.as_deref(), v.as_str()))
            .collect();
        push_frame_with_rule(&mut out, rule, &groups);
    }
    out
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Standard), Just(Mode::Historique)]
}

/// Bytes biased towards the ones that matter to the decoder.
fn noisy_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            1 => prop::sample::select(vec![STX, ETX, EOT, LF, CR, HT, SP, b'A', b'0', STX | 0x80]),
        ],
        0..4096,
    )
}

/// An independent check of one group's checksum, from its raw bytes.
fn verifies(rule: ChecksumRule, raw: &[u8]) -> bool {
    let n = raw.len();
    n >= 3
        && match rule {
            ChecksumRule::Standard => raw[n - 2] == HT && checksum(&raw[..n - 1]) == raw[n - 1],
            ChecksumRule::HistoriqueMode1 => {
                raw[n - 2] == SP && checksum(&raw[..n - 2]) == raw[n - 1]
            }
            ChecksumRule::HistoriqueMode2 => {
                raw[n - 2] == SP && checksum(&raw[..n - 1]) == raw[n - 1]
            }
        }
}

/// How a group of a Linky (mode 1) stream is damaged.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// A byte of the group replaced (never by a frame delimiter).
    Byte(prop::sample::Index, u8),
    /// Bit 5 of a byte flipped (a letter's case: `HP..` → `hP..`).
    Bit5(prop::sample::Index),
    /// The checksum rewritten to the mode-2 one: a corruption that happens to pass mode 2.
    Mode2Checksum,
}

fn damage() -> impl Strategy<Value = Option<Damage>> {
    prop_oneof![
        2 => Just(None),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Some(Damage::Byte(i, b))),
        1 => any::<prop::sample::Index>().prop_map(|i| Some(Damage::Bit5(i))),
        2 => Just(Some(Damage::Mode2Checksum)),
    ]
}

/// Historique mode-1 frames, every group but the first of each frame possibly damaged.
fn damaged_mode1(frames: &[Vec<(GroupSpec, Option<Damage>)>]) -> Vec<u8> {
    let delimiter = |b: u8| matches!(b & 0x7F, STX | ETX | EOT);
    let mut out = Vec::new();
    for f in frames {
        start_frame(&mut out);
        for (k, ((label, _, value), dmg)) in f.iter().enumerate() {
            let at = out.len();
            push_group(&mut out, Mode::Historique, label, None, value);
            // `LF label SP value SP checksum CR`: the group's bytes between LF and CR.
            let body = at + 1..out.len() - 1;
            match dmg.filter(|_| k > 0) {
                None => {}
                Some(Damage::Byte(i, b)) => {
                    let i = body.start + i.index(body.len());
                    if !delimiter(b) {
                        out[i] = b;
                    }
                }
                Some(Damage::Bit5(i)) => {
                    let i = body.start + i.index(body.len());
                    if !delimiter(out[i] ^ 0x20) {
                        out[i] ^= 0x20;
                    }
                }
                Some(Damage::Mode2Checksum) => {
                    let chk = body.end - 1;
                    out[chk] = checksum(&out[body.start..chk]);
                }
            }
        }
        end_frame(&mut out);
    }
    out
}

/// Historique frames of at least 3 groups (every meter's frame has more).
fn long_frame() -> impl Strategy<Value = Vec<GroupSpec>> {
    prop::collection::vec(group(Mode::Historique), 3..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_decode_gives_the_groups_back(mode in mode(), frames in prop::collection::vec(frame(Mode::Standard), 1..4), hfr in prop::collection::vec(frame(Mode::Historique), 1..4)) {
        let frames = if mode == Mode::Standard { frames } else { hfr };
        let bytes = encode(mode, &frames);
        let decoded = decode_chunks(&[&bytes], Config { mode: Some(mode), ..Config::default() });
        prop_assert_eq!(decoded.len(), frames.len());
        for (got, want) in decoded.iter().zip(&frames) {
            prop_assert_eq!(got.0, mode);
            prop_assert!(got.3.is_empty(), "bad groups: {:?}", got.3);
            prop_assert_eq!(&got.2, want);
        }
    }

    #[test]
    fn any_chunking_gives_the_same_frames(
        mode in mode(),
        frames in prop::collection::vec(frame(Mode::Historique), 1..5),
        noise in noisy_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
    ) {
        let mut bytes = noise.clone();
        bytes.extend(encode(mode, &frames));
        bytes.extend(&noise[..noise.len() / 2]);
        bytes.extend(encode(mode, &frames));
        let whole = decode_chunks(&[&bytes], Config::default());
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.push(0);
        at.push(bytes.len());
        at.sort();
        let chunks: Vec<&[u8]> = at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
        prop_assert_eq!(&decode_chunks(&chunks, Config::default()), &whole);
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&decode_chunks(&bytewise, Config::default()), &whole);
    }

    #[test]
    fn arbitrary_bytes_never_yield_an_unverified_group(bytes in noisy_bytes(), forced in prop::option::of(mode())) {
        for config in [
            Config { mode: forced, ..Config::default() },
            Config { mode: forced, max_frame_len: 64, ..Config::default() },
            Config { mode: forced, framing: tic_rec::tic::Framing::Lines, ..Config::default() },
        ] {
            let mut d = Decoder::new(config);
            let mut rest = &bytes[..];
            let check = |f: &Frame<'_>| {
                assert_eq!(f.checksum_rule().mode(), f.mode);
                for g in f.groups() {
                    assert!(verifies(f.checksum_rule(), g.raw.as_bytes()), "unverified group {g:?}");
                    assert!(g.raw.starts_with(g.label));
                }
            };
            while !rest.is_empty() {
                let (f, n) = d.decode(rest);
                if let Some(f) = f { check(&f); }
                rest = &rest[n..];
            }
            if let Some(f) = d.finish() { check(&f); }
            let s = d.stats();
            prop_assert_eq!(s.bytes, bytes.len() as u64);
            prop_assert!(s.bytes_skipped <= s.bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A Linky stream keeps a clean group in each frame: whatever else is damaged (groups that
    /// pass mode 2 included), no frame is ever verified under mode 2.
    #[test]
    fn a_damaged_mode1_stream_never_yields_a_mode2_group(
        frames in prop::collection::vec(
            prop::collection::vec((group(Mode::Historique), damage()), 1..12),
            1..6,
        ),
        forced in prop::option::of(Just(Mode::Historique)),
    ) {
        let bytes = damaged_mode1(&frames);
        let mut d = Decoder::new(Config { mode: forced, ..Config::default() });
        let mut rest = &bytes[..];
        let mut n = 0;
        while !rest.is_empty() {
            let (f, used) = d.decode(rest);
            if let Some(f) = f {
                prop_assert_eq!(f.checksum_rule(), ChecksumRule::HistoriqueMode1);
                for g in f.groups() {
                    prop_assert!(verifies(ChecksumRule::HistoriqueMode1, g.raw.as_bytes()), "{:?}", g);
                }
                // Its clean first group is there.
                prop_assert_eq!(f.groups().next().map(|g| g.label), Some(frames[n][0].0 .0.as_str()));
                n += 1;
            }
            rest = &rest[used..];
        }
        prop_assert_eq!(n, frames.len());
        prop_assert_ne!(d.historique_rule(), Some(ChecksumRule::HistoriqueMode2));
    }

    /// A pre-Linky stream (mode 2), after any noise and in any chunks, decodes whole: every
    /// group of every frame, the first one included.
    #[test]
    fn a_mode2_stream_decodes_fully(
        frames in prop::collection::vec(long_frame(), 1..5),
        noise in noisy_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        forced in prop::option::of(Just(Mode::Historique)),
    ) {
        let mut bytes: Vec<u8> = noise.into_iter().filter(|b| b & 0x7F != STX).collect();
        bytes.extend(encode_with(ChecksumRule::HistoriqueMode2, &frames));
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.push(0);
        at.push(bytes.len());
        at.sort();
        let chunks: Vec<&[u8]> = at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
        let decoded = decode_chunks(&chunks, Config { mode: forced, ..Config::default() });
        prop_assert_eq!(decoded.len(), frames.len());
        for (got, want) in decoded.iter().zip(&frames) {
            prop_assert_eq!(got.0, Mode::Historique);
            prop_assert_eq!(got.4, ChecksumRule::HistoriqueMode2);
            prop_assert!(got.3.is_empty(), "bad groups: {:?}", got.3);
            prop_assert_eq!(&got.2, want);
        }
    }
}

#[test]
fn checksum_space_survives_round_trip() {
    let frames = vec![vec![("PTEC".to_owned(), None, "HP..".to_owned())]];
    let bytes = encode(Mode::Historique, &frames);
    assert_eq!(&bytes[..], b"\x02\nPTEC HP..  \r\x03");
    assert_eq!(decode_chunks(&[&bytes], Config::default())[0].2, frames[0]);
}
