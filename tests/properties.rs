//! Property tests of the decoder: round trips, chunking, arbitrary bytes.

use proptest::prelude::*;
use tic_rec::tic::encode::push_frame;
use tic_rec::tic::{checksum, Config, Decoder, Frame, Mode, CR, EOT, ETX, HT, LF, SP, STX};

/// What a frame decodes to, owned, for comparisons.
type OwnedFrame = (
    Mode,
    u64,
    Vec<(String, Option<String>, String)>,
    Vec<(String, u64)>,
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
    let mut out = Vec::new();
    for f in frames {
        let groups: Vec<(&str, Option<&str>, &str)> = f
            .iter()
            .map(|(l, h, v)| (l.as_str(), h.as_deref(), v.as_str()))
            .collect();
        push_frame(&mut out, mode, &groups);
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
fn verifies(mode: Mode, raw: &[u8]) -> bool {
    let n = raw.len();
    n >= 3
        && match mode {
            Mode::Standard => raw[n - 2] == HT && checksum(&raw[..n - 1]) == raw[n - 1],
            Mode::Historique => raw[n - 2] == SP && checksum(&raw[..n - 2]) == raw[n - 1],
        }
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
                for g in f.groups() {
                    assert!(verifies(f.mode, g.raw.as_bytes()), "unverified group {g:?}");
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

#[test]
fn checksum_space_survives_round_trip() {
    let frames = vec![vec![("PTEC".to_owned(), None, "HP..".to_owned())]];
    let bytes = encode(Mode::Historique, &frames);
    assert_eq!(&bytes[..], b"\x02\nPTEC HP..  \r\x03");
    assert_eq!(decode_chunks(&[&bytes], Config::default())[0].2, frames[0]);
}
