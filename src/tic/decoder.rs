//! The push decoder (see the module docs of [`crate::tic`] for the contract).

use super::horodate::Horodate;
use super::{ChecksumRule, Mode, CR, EOT, ETX, HT, LF, SP, STX};

/// How frames are delimited in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Framing {
    /// The wire format: STX … ETX (or STX … STX from a cooked tty).
    #[default]
    Wire,
    /// A text dump: one group a line, frames separated by a blank line, no STX/ETX.
    Lines,
}

/// Decoder settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// `None` detects the mode from each frame; `Some` forces it.
    pub mode: Option<Mode>,
    /// How frames are delimited.
    pub framing: Framing,
    /// A frame longer than this (in bytes, STX excluded) is dropped and counted.
    pub max_frame_len: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: None,
            framing: Framing::Wire,
            max_frame_len: 8 * 1024,
        }
    }
}

/// Running counts since the decoder was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes fed.
    pub bytes: u64,
    /// Bytes outside complete frames (noise, partial frames, cut frames).
    pub bytes_skipped: u64,
    /// Complete frames returned.
    pub frames: u64,
    /// Frames discarded because EOT or a new STX interrupted them.
    pub frames_cut: u64,
    /// Frames discarded because they grew past [`Config::max_frame_len`].
    pub frames_oversize: u64,
    /// Groups that verified, in complete frames.
    pub groups_ok: u64,
    /// Groups that failed (checksum, separator, too short, malformed), in complete frames.
    pub groups_bad: u64,
    /// Groups whose checksum verified but whose horodate is impossible (month 13, hour 25,
    /// an unknown season letter…), in complete frames; not counted in `groups_bad`.
    pub groups_bad_horodate: u64,
    /// Complete frames decoded as standard mode.
    pub frames_standard: u64,
    /// Complete frames decoded as historique mode.
    pub frames_historique: u64,
}

impl Stats {
    /// The mode most frames were decoded in, if any frame was.
    pub fn mode(&self) -> Option<Mode> {
        match (self.frames_standard, self.frames_historique) {
            (0, 0) => None,
            (s, h) if s >= h => Some(Mode::Standard),
            _ => Some(Mode::Historique),
        }
    }
}

/// Why a group was left out of its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadKind {
    /// The checksum character does not match the frame's rule ([`Frame::checksum_rule`]).
    Checksum {
        /// What the rule gives.
        expected: u8,
        /// What was read.
        found: u8,
    },
    /// The byte before the checksum is not the mode's separator.
    Separator {
        /// What was read there.
        found: u8,
    },
    /// Too short to hold a label, a separator and a checksum.
    Truncated,
    /// The checksum verified but the group is not well formed.
    Malformed(&'static str),
    /// The checksum verified but the horodate is impossible (month 13, hour 25, an unknown
    /// season letter): what is wrong with it.
    Horodate(&'static str),
}

impl std::fmt::Display for BadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            BadKind::Checksum { expected, found } => write!(
                f,
                "checksum mismatch: expected {:?}, found {:?}",
                expected as char, found as char
            ),
            BadKind::Separator { found } => {
                write!(
                    f,
                    "expected a separator before the checksum, found 0x{found:02X}"
                )
            }
            BadKind::Truncated => f.write_str("group too short"),
            BadKind::Malformed(why) => f.write_str(why),
            BadKind::Horodate(why) => write!(f, "impossible horodate: {why}"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn new(start: usize, len: usize) -> Span {
        Span {
            start: start as u32,
            len: len as u32,
        }
    }
    fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..(self.start + self.len) as usize]
    }
}

#[derive(Clone, Copy, Debug)]
struct GroupSpan {
    raw: Span,
    label: Span,
    horodate: Option<Span>,
    value: Span,
}

#[derive(Clone, Copy, Debug)]
struct BadSpan {
    label: Span,
    kind: BadKind,
}

const NONE: u32 = u32::MAX;

/// Well-formed groups verified under one historique rule, with none under the other, that
/// one frame must hold for the stream's rule to be decided.
const RULE_LOCK_GROUPS: usize = 3;

/// Bytes copied into the frame buffer before looking for a frame delimiter in them.
const COPY_BLOCK: usize = 256;

/// What pass 1 learns of a run of bytes between line ends. Positions are relative to `start`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: u32,
    len: u32,
    /// Once closed, the sum of the bytes before the separator.
    sum: u8,
    /// First and second HT, and how many there are.
    ht1: u32,
    ht2: u32,
    n_ht: u32,
    /// Holds a control character other than HT (or DEL).
    ctl: bool,
}

impl Segment {
    #[inline]
    fn at(start: usize) -> Segment {
        Segment {
            start: start as u32,
            len: 0,
            sum: 0,
            ht1: NONE,
            ht2: NONE,
            n_ht: 0,
            ctl: false,
        }
    }

    fn span(&self) -> Span {
        Span {
            start: self.start,
            len: self.len,
        }
    }

    /// Ends the segment at `end` and keeps it if it is not empty, counting whether its
    /// checksum verifies under each rule (at most one: the rules differ by the separator,
    /// or by 0x20 in the sum).
    #[inline(always)] // keeps `self` in registers: a byte store then a wide reload stalled
    fn close(mut self, end: usize, out: &mut Vec<Segment>, buf: &[u8], ok: &mut Verified) {
        let start = self.start as usize;
        if end == start {
            return;
        }
        self.len = (end - start) as u32;
        if end - start >= 2 {
            let (sep, chk) = (buf[end - 2], buf[end - 1]);
            self.sum = byte_sum(buf, start, end - 2);
            if sep == HT && chk == expected(ChecksumRule::Standard, self.sum) {
                ok.standard += 1;
            } else if sep == SP {
                // Mode 2 is only tried where mode 1 failed: no cost on a clean Linky stream.
                if chk == expected(ChecksumRule::HistoriqueMode1, self.sum) {
                    ok.mode1 += 1;
                } else if chk == expected(ChecksumRule::HistoriqueMode2, self.sum) {
                    ok.mode2 += 1;
                }
            }
        }
        out.push(self);
    }
}

/// How many segments of a frame have a checksum that verifies under each rule.
#[derive(Clone, Copy, Debug, Default)]
struct Verified {
    standard: u32,
    mode1: u32,
    mode2: u32,
}

/// The checksum character `rule` gives for a group whose bytes before the separator sum to
/// `sum` (the separator, HT or SP, is summed too by the standard rule and mode 2).
#[inline(always)]
fn expected(rule: ChecksumRule, sum: u8) -> u8 {
    (sum.wrapping_add(Verify::of(rule).addend) & 0x3F) + 0x20
}

/// A checksum rule as pass 2 applies it to every group of a frame.
#[derive(Clone, Copy, Debug)]
struct Verify {
    mode: Mode,
    /// The separator before the checksum.
    sep: u8,
    /// What the rule adds to the sum of the bytes before the separator.
    addend: u8,
}

impl Verify {
    #[inline(always)]
    fn of(rule: ChecksumRule) -> Verify {
        let (mode, sep, addend) = match rule {
            ChecksumRule::Standard => (Mode::Standard, HT, HT),
            ChecksumRule::HistoriqueMode1 => (Mode::Historique, SP, 0),
            ChecksumRule::HistoriqueMode2 => (Mode::Historique, SP, SP),
        };
        Verify { mode, sep, addend }
    }
}

/// `0x01` in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The 8 bytes of `buf` from `at`, as a little-endian word (byte `k` in bits `8k..8k+8`).
#[inline]
fn word(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

/// Adds the even and the odd bytes of `w` into four 16-bit lanes (at most 510 each).
#[inline]
fn lanes(w: u64) -> u64 {
    const EVEN: u64 = 0x00FF_00FF_00FF_00FF;
    (w & EVEN) + ((w >> 8) & EVEN)
}

/// The wrapping sum of the bytes in `lanes`: each lane is kept mod 256 (its low byte),
/// then the multiplication adds the four into the top lane.
#[inline]
fn fold(lanes: u64) -> u8 {
    ((lanes & 0x00FF_00FF_00FF_00FF).wrapping_mul(0x0001_0001_0001_0001) >> 48) as u8
}

/// The wrapping sum of `buf[start..end]`, 8 bytes at a time (SWAR).
#[inline]
fn byte_sum(buf: &[u8], start: usize, end: usize) -> u8 {
    let len = end - start;
    if len < 8 {
        return if len == 0 {
            0
        } else if end >= 8 {
            // Load the 8 bytes ending at `end` and shift out the ones before `start`.
            fold(lanes(word(buf, end - 8) >> (8 * (8 - len))))
        } else {
            buf[start..end].iter().fold(0, |s, &b| s.wrapping_add(b))
        };
    }
    let (mut sum, mut acc, mut words) = (0u8, 0u64, 0);
    let mut at = start;
    while end - at > 8 {
        acc += lanes(word(buf, at));
        at += 8;
        words += 1;
        // A lane holds 128 words: fold before it could overflow.
        if words == 64 {
            (sum, acc, words) = (sum.wrapping_add(fold(acc)), 0, 0);
        }
    }
    // 1 to 8 bytes are left: load the 8 ending at `end`, shift out those already added.
    acc += lanes(word(buf, end - 8) >> (8 * (8 - (end - at))));
    sum.wrapping_add(fold(acc))
}

/// Bit `k` set where byte `k` of `w` is not printable ASCII: below SP, DEL, or above.
#[inline]
fn control_bits(w: u64) -> u64 {
    // Per byte, on the low 7 bits (no carry can cross bytes): +0x60 sets bit 7 iff >= 0x20,
    // +0x01 sets it iff == 0x7F; `| w` catches bytes >= 0x80.
    let lo7 = w & (ONES * 0x7F);
    let below_sp = !(lo7 + ONES * 0x60);
    let del = lo7 + ONES;
    let high = (below_sp | del | w) & (ONES * 0x80);
    // Gather the eight bit 7s into the top byte, byte k's into bit 56 + k.
    high.wrapping_mul(0x0002_0408_1020_4081) >> 56
}

/// Bit `k` set where `block[k]` is not printable ASCII (`block` holds at most 64 bytes).
#[inline]
fn control_mask(block: &[u8]) -> u64 {
    let mut padded = [b' '; 64];
    let block = if block.len() == 64 {
        block
    } else {
        padded[..block.len()].copy_from_slice(block);
        &padded[..]
    };
    let mut mask = 0;
    for k in 0..8 {
        mask |= control_bits(word(block, 8 * k)) << (8 * k);
    }
    mask
}

/// A verified group of a frame. `value` is trimmed of SP padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group<'a> {
    /// The label, e.g. `EAST`.
    pub label: &'a str,
    /// The raw `SAAMMJJhhmmss` horodate of a horodated group.
    pub horodate: Option<&'a str>,
    /// The value, trimmed of SP padding (empty for DATE).
    pub value: &'a str,
    /// The whole group as read, from the label to the checksum character (LF/CR excluded).
    pub raw: &'a str,
}

impl Group<'_> {
    /// The parsed horodate, if the group has one (always valid in a decoded frame).
    pub fn parsed_horodate(&self) -> Option<Horodate> {
        self.horodate.map(|h| {
            Horodate::parse_bytes(h.as_bytes()).expect("the decoder only keeps valid horodates")
        })
    }
}

/// A group that did not verify, left out of its frame's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadGroup<'a> {
    /// The label as read: the bytes up to the first separator (at most 16), possibly garbled.
    pub label: &'a str,
    /// Stream offset of the group's first byte.
    pub offset: u64,
    /// Why it was rejected.
    pub kind: BadKind,
}

/// A complete frame, borrowed from the decoder until the next call to `decode`.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The mode its groups were verified with.
    pub mode: Mode,
    /// Stream offset of its STX (or of its first byte in [`Framing::Lines`]).
    pub offset: u64,
    /// Stream offset of `buf[0]`: the byte after STX, or the first byte of a text frame.
    base: u64,
    rule: ChecksumRule,
    buf: &'a [u8],
    groups: &'a [GroupSpan],
    bad: &'a [BadSpan],
}

fn group<'a>(g: &GroupSpan, buf: &'a [u8]) -> Group<'a> {
    Group {
        label: text(g.label.of(buf)),
        horodate: g.horodate.map(|h| text(h.of(buf))),
        value: text(g.value.of(buf)),
        raw: text(g.raw.of(buf)),
    }
}

fn text(bytes: &[u8]) -> &str {
    // Every byte was masked to 7 bits, and 7-bit bytes are valid UTF-8.
    std::str::from_utf8(bytes).expect("7-bit bytes are valid UTF-8")
}

impl<'a> Frame<'a> {
    /// The verified groups, in wire order.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = Group<'a>> + 'a {
        let buf = self.buf;
        self.groups.iter().map(move |g| group(g, buf))
    }

    /// The first verified group with this label (labels compared as bytes: only the group
    /// found is made into text, as a record looks up each of its columns in every frame).
    pub fn get(&self, label: &str) -> Option<Group<'a>> {
        let buf = self.buf;
        self.groups
            .iter()
            .find(|g| g.label.of(buf) == label.as_bytes())
            .map(|g| group(g, buf))
    }

    /// The groups that failed, in wire order: bad checksums, malformed groups and
    /// impossible horodates ([`BadKind::Horodate`]) alike.
    pub fn bad_groups(&self) -> impl ExactSizeIterator<Item = BadGroup<'a>> + 'a {
        let (buf, base) = (self.buf, self.base);
        self.bad.iter().map(move |b| BadGroup {
            label: text(b.label.of(buf)),
            offset: base + u64::from(b.label.start),
            kind: b.kind,
        })
    }

    /// The groups whose checksum verified but whose horodate is impossible, in wire order
    /// (also among [`Frame::bad_groups`]).
    pub fn bad_horodates(&self) -> impl Iterator<Item = BadGroup<'a>> + 'a {
        self.bad_groups()
            .filter(|b| matches!(b.kind, BadKind::Horodate(_)))
    }

    /// Number of groups that failed, impossible horodates included.
    pub fn bad_count(&self) -> usize {
        self.bad.len()
    }

    /// Whether a group with this label was present but failed verification (a bad checksum,
    /// a malformed group or an impossible horodate): present, but unusable.
    pub fn is_bad(&self, label: &str) -> bool {
        let buf = self.buf;
        self.bad.iter().any(|b| b.label.of(buf) == label.as_bytes())
    }

    /// The checksum rule its groups were verified with: standard, or the stream's
    /// historique rule ([`Decoder::historique_rule`]; mode 1 until it is decided).
    pub fn checksum_rule(&self) -> ChecksumRule {
        self.rule
    }

    /// The DATE horodate, if the frame has a verified DATE group.
    pub fn date(&self) -> Option<Horodate> {
        self.get("DATE").and_then(|g| g.parsed_horodate())
    }

    /// Frame length in bytes, from the byte after STX to the byte before ETX.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the frame has no bytes at all (never so for a frame the decoder returns: a
    /// frame holds at least one group, verified or not).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Outside a frame: skipping to the next STX.
    Idle,
    /// Inside a frame.
    InFrame,
}

/// The push decoder. See [`crate::tic`].
#[derive(Debug)]
pub struct Decoder {
    config: Config,
    state: State,
    /// Stream offset of the next byte to be fed.
    offset: u64,
    /// Masked bytes of the current frame (STX excluded).
    buf: Vec<u8>,
    /// Stream offset of the current frame's STX.
    frame_offset: u64,
    /// A frame was returned by the last call: clear it on the next one.
    returned: bool,
    /// Offset of the frame returned last (the current one may already have started).
    done_offset: u64,
    done_mode: Mode,
    done_rule: ChecksumRule,
    /// Lines framing: the last line break ended a line (a second one makes a blank line).
    at_line_start: bool,
    /// Lines framing: the CR or LF that began the last line break, while the next byte may
    /// still pair with it (CR LF or LF CR is one break); 0 otherwise.
    open_break: u8,
    /// Lines framing: the frame buffer holds a byte other than a line end.
    has_content: bool,
    segments: Vec<Segment>,
    groups: Vec<GroupSpan>,
    bad: Vec<BadSpan>,
    /// Mode of the last frame that verified at least one group.
    last_mode: Option<Mode>,
    /// The stream's historique checksum rule, once decided (it is never changed after).
    historique_rule: Option<ChecksumRule>,
    /// The stream has shown an ETX: it is not a cooked-tty capture.
    seen_etx: bool,
    stats: Stats,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Config::default())
    }
}

#[inline]
fn find_stx(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b & 0x7F == STX)
}

impl Decoder {
    /// A decoder with these settings.
    pub fn new(config: Config) -> Decoder {
        let cap = config.max_frame_len.min(1 << 20);
        Decoder {
            config,
            state: State::Idle,
            offset: 0,
            buf: Vec::with_capacity(cap.min(4096)),
            frame_offset: 0,
            returned: false,
            done_offset: 0,
            done_mode: Mode::Standard,
            done_rule: ChecksumRule::Standard,
            at_line_start: true,
            open_break: 0,
            has_content: false,
            segments: Vec::with_capacity(64),
            groups: Vec::with_capacity(64),
            bad: Vec::new(),
            last_mode: None,
            historique_rule: None,
            seen_etx: false,
            stats: Stats::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stream offset of the next byte to be fed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Mode of the last frame that verified at least one group.
    pub fn detected_mode(&self) -> Option<Mode> {
        self.last_mode
    }

    /// The stream's historique checksum rule, once decided: [`ChecksumRule::HistoriqueMode1`]
    /// after a historique frame with 3 well-formed groups verified under mode 1 and no group
    /// under mode 2, [`ChecksumRule::HistoriqueMode2`] after one the other way round. It is
    /// decided once per decoder (per stream) and never changed, so a corrupted group of a
    /// Linky stream that happens to pass mode 2 is never taken. Until then historique groups
    /// are verified under mode 1, the rule of every Linky meter.
    pub fn historique_rule(&self) -> Option<ChecksumRule> {
        self.historique_rule
    }

    /// The checksum rule of the mode detected last ([`Decoder::detected_mode`]): standard,
    /// or the historique rule (mode 1 while [`Decoder::historique_rule`] is undecided).
    pub fn checksum_rule(&self) -> Option<ChecksumRule> {
        self.last_mode.map(|mode| match mode {
            Mode::Standard => ChecksumRule::Standard,
            Mode::Historique => self
                .historique_rule
                .unwrap_or(ChecksumRule::HistoriqueMode1),
        })
    }

    /// Feeds `input`; returns a frame when one completes, and how many bytes were consumed.
    ///
    /// Call again with the rest of the input until it is all consumed. The returned frame
    /// borrows the decoder and is gone at the next call.
    pub fn decode(&mut self, input: &[u8]) -> (Option<Frame<'_>>, usize) {
        if self.returned {
            self.returned = false;
            if self.state == State::InFrame || self.config.framing == Framing::Lines {
                // A frame that ended where the next one began (cooked tty, or a blank line):
                // the new frame starts empty.
                self.buf.clear();
                self.has_content = false;
            }
        }
        let (done, n) = match self.config.framing {
            Framing::Wire => self.decode_wire(input),
            Framing::Lines => self.decode_lines(input),
        };
        self.offset += n as u64;
        self.stats.bytes += n as u64;
        if done {
            self.returned = true;
            (Some(self.frame()), n)
        } else {
            (None, n)
        }
    }

    /// Ends the stream. A text dump's last frame completes here; a wire frame still open is
    /// incomplete and its bytes count as skipped.
    pub fn finish(&mut self) -> Option<Frame<'_>> {
        if self.returned {
            self.returned = false;
            if self.state == State::InFrame || self.config.framing == Framing::Lines {
                self.buf.clear();
                self.has_content = false;
            }
        }
        match self.config.framing {
            Framing::Lines => {
                // Content means a non-empty line: a group, so `complete` takes it.
                if self.has_content && self.complete(self.frame_offset) {
                    self.at_line_start = true;
                    self.open_break = 0;
                    self.returned = true;
                    return Some(self.frame());
                }
                self.stats.bytes_skipped += self.buf.len() as u64;
                self.buf.clear();
                self.has_content = false;
                None
            }
            Framing::Wire => {
                if self.state == State::InFrame {
                    self.stats.bytes_skipped += self.buf.len() as u64 + 1;
                    self.buf.clear();
                    self.state = State::Idle;
                }
                None
            }
        }
    }

    /// The frame the last call to [`Decoder::decode`] or [`Decoder::finish`] returned, if
    /// it returned one (handy where the borrow of that call cannot be kept).
    pub fn last_frame(&self) -> Option<Frame<'_>> {
        self.returned.then(|| self.frame())
    }

    fn frame(&self) -> Frame<'_> {
        Frame {
            mode: self.done_mode,
            offset: self.done_offset,
            rule: self.done_rule,
            base: match self.config.framing {
                Framing::Wire => self.done_offset + 1,
                Framing::Lines => self.done_offset,
            },
            buf: &self.buf,
            groups: &self.groups,
            bad: &self.bad,
        }
    }

    /// Wire framing. Returns (frame complete, bytes consumed).
    fn decode_wire(&mut self, input: &[u8]) -> (bool, usize) {
        let mut i = 0;
        loop {
            match self.state {
                State::Idle => match find_stx(&input[i..]) {
                    None => {
                        self.stats.bytes_skipped += (input.len() - i) as u64;
                        return (false, input.len());
                    }
                    Some(p) => {
                        self.stats.bytes_skipped += p as u64;
                        self.frame_offset = self.offset + (i + p) as u64;
                        self.buf.clear();
                        self.state = State::InFrame;
                        i += p + 1;
                    }
                },
                State::InFrame => {
                    let rest = &input[i..];
                    // Copy masked (vectorised) a block at a time, and look for STX/ETX/EOT in
                    // the copy; at most one byte past the cap is kept.
                    let room = self.config.max_frame_len - self.buf.len();
                    let window = &rest[..rest.len().min(room + 1)];
                    let old = self.buf.len();
                    let mut ctrl = None;
                    for (k, block) in window.chunks(COPY_BLOCK).enumerate() {
                        let from = self.buf.len();
                        self.buf.extend_from_slice(block);
                        self.buf[from..].iter_mut().for_each(|b| *b &= 0x7F);
                        if let Some(p) = memchr::memchr3(STX, ETX, EOT, &self.buf[from..]) {
                            ctrl = Some(k * COPY_BLOCK + p);
                            break;
                        }
                    }
                    let take = ctrl.unwrap_or(window.len());
                    self.buf.truncate(old + take);
                    if take > room {
                        // Too long to be a real frame: drop it and skip to the next STX.
                        self.stats.frames_oversize += 1;
                        self.stats.bytes_skipped += (old + 1 + take) as u64;
                        self.buf.clear();
                        self.state = State::Idle;
                        i += take;
                        continue;
                    }
                    i += take;
                    if ctrl.is_none() {
                        return (false, i);
                    }
                    let b = input[i] & 0x7F;
                    i += 1;
                    match b {
                        ETX => {
                            self.seen_etx = true;
                            self.state = State::Idle;
                            if self.complete(self.frame_offset) {
                                return (true, i);
                            }
                            // STX ETX, STX LF ETX: line noise, not a frame.
                            self.stats.bytes_skipped += (self.buf.len() + 2) as u64;
                            self.buf.clear();
                        }
                        EOT => {
                            self.stats.frames_cut += 1;
                            self.stats.bytes_skipped += (self.buf.len() + 2) as u64;
                            self.buf.clear();
                            self.state = State::Idle;
                        }
                        _ => {
                            debug_assert_eq!(b, STX);
                            let stx_offset = self.offset + (i - 1) as u64;
                            let cooked =
                                !self.seen_etx && !self.buf.contains(&CR) && self.buf.contains(&LF);
                            if cooked {
                                // A cooked tty turned CR into LF and swallowed ETX: the frame
                                // ends here and the next one starts (buffer cleared next call).
                                let start = self.frame_offset;
                                self.frame_offset = stx_offset;
                                if self.complete(start) {
                                    return (true, i);
                                }
                                // Only line ends: not a frame.
                                self.stats.bytes_skipped += (self.buf.len() + 1) as u64;
                                self.buf.clear();
                                continue;
                            }
                            self.stats.frames_cut += 1;
                            self.stats.bytes_skipped += (self.buf.len() + 1) as u64;
                            self.buf.clear();
                            self.frame_offset = stx_offset;
                        }
                    }
                }
            }
        }
    }

    /// Lines framing: a blank line ends a frame.
    ///
    /// A line break is LF, CR, CR LF or LF CR, so a dump with CR LF line ends has the same
    /// frames as one with LF line ends. Line ends are kept in the buffer (as LF) once the
    /// frame has begun, so buffer positions are stream positions (but past a stray STX, ETX
    /// or EOT, which is dropped); nothing is trimmed (a line may end with an SP checksum).
    fn decode_lines(&mut self, input: &[u8]) -> (bool, usize) {
        for (i, &raw) in input.iter().enumerate() {
            let b = raw & 0x7F;
            if b == STX || b == ETX || b == EOT {
                self.stats.bytes_skipped += 1;
                continue;
            }
            if self.buf.len() >= self.config.max_frame_len {
                self.stats.frames_oversize += 1;
                self.stats.bytes_skipped += self.buf.len() as u64;
                self.buf.clear();
                self.has_content = false;
            }
            if b == LF || b == CR {
                if self.open_break == (b ^ LF ^ CR) {
                    // The second byte of CR LF or LF CR: the same line break.
                    self.open_break = 0;
                } else {
                    self.open_break = b;
                    if self.at_line_start && self.has_content && self.complete(self.frame_offset) {
                        return (true, i + 1);
                    }
                    self.at_line_start = true;
                }
                if self.has_content {
                    self.buf.push(LF);
                } else {
                    self.stats.bytes_skipped += 1;
                }
            } else {
                self.open_break = 0;
                self.at_line_start = false;
                if !self.has_content {
                    self.has_content = true;
                    self.frame_offset = self.offset + i as u64;
                }
                self.buf.push(b);
            }
        }
        (false, input.len())
    }

    /// Splits the buffered frame into groups and verifies them. Returns false, counting
    /// nothing, when the frame holds no group at all (no byte but LF and CR): that is no
    /// frame, and the caller counts its bytes as skipped.
    #[must_use]
    fn complete(&mut self, frame_offset: u64) -> bool {
        self.groups.clear();
        self.bad.clear();
        self.segments.clear();
        let buf = &self.buf;
        // Pass 1: segments, their sums and where their separators are. Only the control
        // bytes (LF, CR, HT, others) matter here: classify 64 bytes at a time into a mask and
        // visit its set bits; the sums are taken per segment when it closes.
        let mut ok = Verified::default();
        let mut seg = Segment::at(0);
        for (k, block) in buf.chunks(64).enumerate() {
            let mut mask = control_mask(block);
            while mask != 0 {
                let i = 64 * k + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                match buf[i] {
                    LF | CR => {
                        seg.close(i, &mut self.segments, buf, &mut ok);
                        seg = Segment::at(i + 1);
                    }
                    HT => {
                        let at = i as u32 - seg.start;
                        match seg.n_ht {
                            0 => seg.ht1 = at,
                            1 => seg.ht2 = at,
                            _ => {}
                        }
                        seg.n_ht += 1;
                    }
                    _ => seg.ctl = true,
                }
            }
        }
        seg.close(buf.len(), &mut self.segments, buf, &mut ok);
        if self.segments.is_empty() {
            return false;
        }
        let (std_ok, his_ok) = match self.historique_rule {
            Some(ChecksumRule::HistoriqueMode2) => (ok.standard, ok.mode2),
            Some(_) => (ok.standard, ok.mode1),
            None => (ok.standard, ok.mode1 + ok.mode2),
        };
        let mode = self.config.mode.unwrap_or_else(|| {
            if std_ok > his_ok {
                Mode::Standard
            } else if his_ok > std_ok {
                Mode::Historique
            } else if let Some(m) = self.last_mode {
                m
            } else if buf.contains(&HT) {
                Mode::Standard
            } else {
                Mode::Historique
            }
        });
        let rule = match (mode, self.historique_rule) {
            (Mode::Standard, _) => ChecksumRule::Standard,
            (Mode::Historique, Some(rule)) => rule,
            (Mode::Historique, None) => {
                if shows_mode2(buf, &self.segments, ok) {
                    self.historique_rule = Some(ChecksumRule::HistoriqueMode2);
                    ChecksumRule::HistoriqueMode2
                } else {
                    ChecksumRule::HistoriqueMode1
                }
            }
        };
        // Pass 2: verify each segment under the frame's rule and locate its fields.
        let verify = Verify::of(rule);
        let mut bad_horodates = 0;
        for seg in &self.segments {
            match check_group(buf, seg, verify) {
                Ok(g) => self.groups.push(g),
                Err(kind) => {
                    bad_horodates += matches!(kind, BadKind::Horodate(_)) as u64;
                    self.bad.push(BadSpan {
                        label: label_as_read(buf, seg.span()),
                        kind,
                    })
                }
            }
        }
        if !self.groups.is_empty() {
            self.last_mode = Some(mode);
        }
        if self.historique_rule.is_none() && rule == ChecksumRule::HistoriqueMode1 {
            self.try_mode1(ok);
        }
        self.stats.frames += 1;
        match mode {
            Mode::Standard => self.stats.frames_standard += 1,
            Mode::Historique => self.stats.frames_historique += 1,
        }
        self.stats.groups_ok += self.groups.len() as u64;
        self.stats.groups_bad += self.bad.len() as u64 - bad_horodates;
        self.stats.groups_bad_horodate += bad_horodates;
        self.done_offset = frame_offset;
        self.done_mode = mode;
        self.done_rule = rule;
        true
    }

    /// After pass 2 of a historique frame verified under mode 1 while the rule is
    /// undecided: decides mode 1 if 3 groups verified and no checksum under mode 2.
    #[cold]
    fn try_mode1(&mut self, ok: Verified) {
        if ok.mode2 == 0 && self.groups.len() >= RULE_LOCK_GROUPS {
            self.historique_rule = Some(ChecksumRule::HistoriqueMode1);
        }
    }
}

/// The label as read: up to the first HT or SP, at most 16 bytes.
fn label_as_read(buf: &[u8], seg: Span) -> Span {
    let bytes = seg.of(buf);
    let n = bytes
        .iter()
        .position(|&b| b == HT || b == SP)
        .unwrap_or(bytes.len())
        .min(16);
    Span {
        start: seg.start,
        len: n as u32,
    }
}

/// Labels are upper-case letters, digits, `+` and `-` (`NJOURF+1`, `SMAXSN-1`).
#[inline]
fn is_label_byte(b: u8) -> bool {
    // A table: one load per byte instead of four range tests.
    const TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            t[b] = matches!(b as u8, b'A'..=b'Z' | b'0'..=b'9' | b'+' | b'-');
            b += 1;
        }
        t
    };
    TABLE[usize::from(b)]
}

const LABEL_MALFORMED: &str =
    "label is empty, too long or holds a character other than A-Z, 0-9, + and -";

const VALUE_EMPTY: &str = "historique value is empty: expected 1 to 12 characters";

/// Whether a historique frame, while the stream's rule is undecided, shows mode 2: 3
/// well-formed groups verified under it and no checksum under mode 1. Out of the hot path.
#[cold]
#[inline(never)]
fn shows_mode2(buf: &[u8], segments: &[Segment], ok: Verified) -> bool {
    let mode2 = Verify::of(ChecksumRule::HistoriqueMode2);
    ok.mode1 == 0
        && ok.mode2 as usize >= RULE_LOCK_GROUPS
        && segments
            .iter()
            .filter(|seg| check_group(buf, seg, mode2).is_ok())
            .count()
            >= RULE_LOCK_GROUPS
}

/// Verifies one segment under `rule` and finds its fields.
#[inline(always)] // one hot call site (pass 2); the result stays in registers
fn check_group(buf: &[u8], seg: &Segment, rule: Verify) -> Result<GroupSpan, BadKind> {
    let bytes = seg.span().of(buf);
    let n = bytes.len();
    if n < 4 {
        return Err(BadKind::Truncated);
    }
    let mode = rule.mode;
    let (sep, found) = (bytes[n - 2], bytes[n - 1]);
    if sep != rule.sep {
        return Err(BadKind::Separator { found: sep });
    }
    let expected = (seg.sum.wrapping_add(rule.addend) & 0x3F) + 0x20;
    if found != expected {
        return Err(BadKind::Checksum { expected, found });
    }
    // The checksum verified: now the fields must make sense.
    if seg.ctl {
        return Err(BadKind::Malformed("group holds a control character"));
    }
    let sep_at = (n - 2) as u32;
    let mut label_checked = false;
    // (label end, horodate, value start) relative to the segment.
    let (label_len, horodate, value_start) = match mode {
        Mode::Standard => match seg.n_ht {
            2 => (seg.ht1, None, seg.ht1 + 1),
            3 => (seg.ht1, Some((seg.ht1 + 1, seg.ht2)), seg.ht2 + 1),
            1 => return Err(BadKind::Malformed("no separator after the label")),
            _ => return Err(BadKind::Malformed("too many HT separators")),
        },
        Mode::Historique => {
            if seg.n_ht != 0 {
                return Err(BadKind::Malformed("HT in a historique group"));
            }
            // bytes[sep_at] is SP, so a non-label byte and a first SP exist. Labels hold no
            // SP: when the first non-label byte is SP, it is the first SP and the label is
            // well formed (if not empty or too long) without looking at it again, if a value
            // follows it (`label SP SP checksum`, an empty value, takes the slow path, which
            // rejects it after checking the label). `sep_at` is at least 2 here; written
            // `end + 1 < sep_at`, the bound compiled to slower code.
            let end = bytes.iter().position(|&b| !is_label_byte(b)).unwrap_or(n);
            if bytes[end] == SP && end < sep_at as usize - 1 {
                if end == 0 || end > 16 {
                    return Err(BadKind::Malformed(LABEL_MALFORMED));
                }
                label_checked = true;
                (end as u32, None, end as u32 + 1)
            } else {
                let sp1 = bytes.iter().position(|&b| b == SP).unwrap_or(n) as u32;
                if sp1 >= sep_at {
                    return Err(BadKind::Malformed("no separator after the label"));
                }
                (sp1, None, sp1 + 1)
            }
        }
    };
    let label = &bytes[..label_len as usize];
    if !label_checked {
        if label.is_empty() || label.len() > 16 || !label.iter().all(|&b| is_label_byte(b)) {
            return Err(BadKind::Malformed(LABEL_MALFORMED));
        }
        if mode == Mode::Historique && value_start == sep_at {
            // `label SP SP checksum`: the data field holds 1 to 12 characters.
            return Err(BadKind::Malformed(VALUE_EMPTY));
        }
    }
    let base = seg.start as usize;
    let horodate = match horodate {
        Some((from, to)) => {
            let h = &bytes[from as usize..to as usize];
            if !Horodate::is_valid_bytes(h) {
                return Err(BadKind::Horodate(match Horodate::parse_bytes(h) {
                    Err(why) => why,
                    Ok(_) => "rejected", // is_valid_bytes agrees with parse_bytes (tested)
                }));
            }
            Some(Span::new(base + from as usize, h.len()))
        }
        None => None,
    };
    let value = &bytes[value_start as usize..sep_at as usize];
    let lead = value.iter().take_while(|&&b| b == SP).count();
    let trail = value[lead..].iter().rev().take_while(|&&b| b == SP).count();
    Ok(GroupSpan {
        raw: seg.span(),
        label: Span::new(base, label_len as usize),
        horodate,
        value: Span::new(
            base + value_start as usize + lead,
            value.len() - lead - trail,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tic::encode::{push_frame, push_frame_with_rule, push_group, push_group_with_rule};

    /// A frame's mode, (label, horodate, value) of its groups, and labels of its bad ones.
    type Owned = (Mode, Vec<(String, Option<String>, String)>, Vec<String>);

    fn frames(input: &[u8], config: Config) -> Vec<Owned> {
        let mut d = Decoder::new(config);
        let mut out = Vec::new();
        let mut rest = input;
        let mut collect = |f: Frame<'_>| {
            out.push((
                f.mode,
                f.groups()
                    .map(|g| {
                        (
                            g.label.to_owned(),
                            g.horodate.map(str::to_owned),
                            g.value.to_owned(),
                        )
                    })
                    .collect(),
                f.bad_groups().map(|b| b.label.to_owned()).collect(),
            ))
        };
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            if let Some(f) = f {
                collect(f);
            }
            rest = &rest[n..];
        }
        if let Some(f) = d.finish() {
            collect(f);
        }
        out
    }

    fn standard_frame() -> Vec<u8> {
        let mut v = Vec::new();
        push_frame(
            &mut v,
            Mode::Standard,
            &[
                ("ADSC", None, "041876097171"),
                ("DATE", Some("H230301091834"), ""),
                ("NGTF", None, "      BASE      "),
                ("SMAXSN", Some("H230301065253"), "01024"),
                ("EASD01", None, "000000000"),
            ],
        );
        v
    }

    #[test]
    fn standard_frame_fields() {
        let f = frames(&standard_frame(), Config::default());
        assert_eq!(f.len(), 1);
        let (mode, groups, bad) = &f[0];
        assert_eq!(*mode, Mode::Standard);
        assert!(bad.is_empty());
        assert_eq!(
            groups[1],
            ("DATE".into(), Some("H230301091834".into()), "".into())
        );
        assert_eq!(groups[2].2, "BASE");
        assert_eq!(
            groups[3],
            (
                "SMAXSN".into(),
                Some("H230301065253".into()),
                "01024".into()
            )
        );
        assert_eq!(groups[4].2, "000000000");
    }

    #[test]
    fn historique_checksum_space() {
        let input = b"\x02\nPTEC HP..  \r\nHCHC 006906827 ,\r\x03";
        let f = frames(input, Config::default());
        assert_eq!(f[0].0, Mode::Historique);
        assert_eq!(f[0].1.len(), 2);
        assert_eq!(f[0].1[0].2, "HP..");
    }

    #[test]
    fn bad_checksum_is_reported_and_left_out() {
        let input = b"\x02\nPTEC HP.. X\r\nHCHC 006906827 ,\r\x03";
        let mut d = Decoder::default();
        let (f, n) = d.decode(input);
        assert_eq!(n, input.len());
        let f = f.unwrap();
        assert_eq!(f.groups().count(), 1);
        let bad: Vec<_> = f.bad_groups().collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].label, "PTEC");
        assert_eq!(bad[0].offset, 2);
        assert_eq!(
            bad[0].kind,
            BadKind::Checksum {
                expected: b' ',
                found: b'X'
            }
        );
    }

    #[test]
    fn eot_and_new_stx_cut_frames() {
        let mut input = b"\x02\nPTEC HP..  \r\x04".to_vec();
        input.extend_from_slice(b"\x02\nPTEC HP..  \r");
        input.extend_from_slice(b"\x02\nHCHC 006906827 ,\r\x03");
        let mut d = Decoder::default();
        let mut rest = &input[..];
        let mut n_frames = 0;
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            if let Some(f) = f {
                n_frames += 1;
                assert_eq!(f.get("HCHC").unwrap().value, "006906827");
                assert_eq!(f.offset, 29);
            }
            rest = &rest[n..];
        }
        assert_eq!(n_frames, 1);
        assert_eq!(d.stats().frames_cut, 2);
        assert_eq!(d.stats().bytes_skipped, 29);
    }

    #[test]
    fn bit7_is_masked() {
        let clean = standard_frame();
        // Even parity in bit 7, as an 8N1 port reads a 7E1 line.
        let parity: Vec<u8> = clean
            .iter()
            .map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b })
            .collect();
        assert_ne!(clean, parity);
        assert_eq!(
            frames(&clean, Config::default()),
            frames(&parity, Config::default())
        );
    }

    #[test]
    fn frames_without_a_group_are_skipped_bytes() {
        // Power-up noise and empty frames around a real one, and a frame whose only group
        // fails (still a frame).
        let mut input = b"\x02\x03\x02\n\x03\x02\r\n\r\n\x03".to_vec();
        input.extend(standard_frame());
        input.extend_from_slice(b"\x02\x03\x02\nEAST\t000000001\tX\r\x03");
        let mut d = Decoder::default();
        let mut got = Vec::new();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            if let Some(f) = f {
                got.push((f.offset, f.groups().len(), f.bad_count()));
            }
            rest = &rest[n..];
        }
        let noise = 2 + 3 + 6;
        let last = (noise + standard_frame().len() + 2) as u64;
        assert_eq!(got, [(noise as u64, 5, 0), (last, 0, 1)]);
        let s = d.stats();
        assert_eq!((s.frames, s.frames_cut), (2, 0));
        assert_eq!(s.bytes_skipped, noise as u64 + 2);
        assert_eq!(s.frames_standard, 2);
        // Cooked tty (no ETX seen): STX LF STX holds no group either.
        let input = b"\x02\n\n\x02\nPTEC HP..  \n\x02";
        let mut d = Decoder::default();
        let f = d.decode(input).0.unwrap();
        assert_eq!((f.offset, f.groups().len()), (3, 1));
        assert_eq!(d.stats().bytes_skipped, 3);
        assert_eq!(d.stats().frames, 1);
    }

    #[test]
    fn oversize_frames_are_dropped() {
        let mut input = vec![STX];
        input.extend(std::iter::repeat_n(b'A', 10_000));
        input.push(ETX);
        input.extend_from_slice(&standard_frame());
        let mut d = Decoder::default();
        let mut rest = &input[..];
        let mut count = 0;
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            count += f.is_some() as usize;
            rest = &rest[n..];
        }
        assert_eq!(count, 1);
        assert_eq!(d.stats().frames_oversize, 1);
        assert!(d.buf.capacity() <= 16 * 1024);
    }

    #[test]
    fn cooked_tty_frames_end_at_next_stx() {
        let input = b"\x02\nPTEC HP..  \n\nHCHC 006906827 ,\n\x02\nPTEC HP..  \n";
        let f = frames(input, Config::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].1.len(), 2);
    }

    #[test]
    fn a_raw_stream_cut_before_any_cr_is_still_cut() {
        // After an ETX the stream is known raw: STX LF ADCO… STX is a cut frame.
        let input = b"\x02\nPTEC HP..  \r\x03\x02\nPTEC HP\x02\nPTEC HP..  \r\x03";
        let f = frames(input, Config::default());
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.2.is_empty()));
    }

    #[test]
    fn forced_mode_rejects_the_other() {
        let input = b"\x02\nPTEC HP..  \r\x03";
        let f = frames(
            input,
            Config {
                mode: Some(Mode::Standard),
                ..Config::default()
            },
        );
        assert_eq!(f[0].1.len(), 0);
        assert_eq!(f[0].2, vec!["PTEC".to_string()]);
    }

    #[test]
    fn lines_framing() {
        let input = b"PTEC HP..  \nHCHC 006906827 ,\n\nPTEC HP..  \n";
        let f = frames(
            input,
            Config {
                framing: Framing::Lines,
                ..Config::default()
            },
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].1.len(), 2);
        assert_eq!(f[1].1.len(), 1);
    }

    /// A text dump of wire frames: one group a line ending in `eol`, a blank line between
    /// frames, no STX/ETX/LF/CR of the wire.
    fn dump(wire: &[u8], eol: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for frame in wire.split(|&b| b == STX).filter(|f| !f.is_empty()) {
            if !out.is_empty() {
                out.extend_from_slice(eol.as_bytes());
            }
            for group in frame.split(|&b| b == LF || b == CR || b == ETX) {
                if !group.is_empty() {
                    out.extend_from_slice(group);
                    out.extend_from_slice(eol.as_bytes());
                }
            }
        }
        out
    }

    fn lines() -> Config {
        Config {
            framing: Framing::Lines,
            ..Config::default()
        }
    }

    #[test]
    fn lines_framing_crlf_is_one_line_break() {
        // Two standard frames and a historique one whose lines end with an SP checksum.
        let mut wire = standard_frame();
        wire.extend(standard_frame());
        push_frame(
            &mut wire,
            Mode::Historique,
            &[("PTEC", None, "HP.."), ("BASE", None, "010151175")],
        );
        let want = frames(&dump(&wire, "\n"), lines());
        assert_eq!(want.len(), 3);
        assert_eq!(want[0].1.len(), 5);
        assert!(want.iter().all(|f| f.2.is_empty()), "{want:?}");
        assert_eq!(want[2].1[0].2, "HP..");
        for eol in ["\r\n", "\n\r", "\r"] {
            let text = dump(&wire, eol);
            assert_eq!(frames(&text, lines()), want, "{eol:?}");
            // Byte by byte: a CR LF split across two calls is still one break.
            let mut d = Decoder::new(lines());
            let mut n = 0;
            for b in text.chunks(1) {
                n += d.decode(b).0.map_or(0, |f| f.groups().len());
            }
            n += d.finish().map_or(0, |f| f.groups().len());
            assert_eq!(n, 12, "{eol:?}");
        }
        // A wire stream's `LF group CR` lines, CR LF between groups: one frame.
        let text = b"\nPTEC HP..  \r\nBASE 010151175  \r\n\r\nPTEC HP..  \r\n";
        let f = frames(text, lines());
        assert_eq!((f.len(), f[0].1.len(), f[1].1.len()), (2, 2, 1));
    }

    #[test]
    fn lines_framing_bad_group_offsets() {
        let text = b"\r\nPTEC HP..  \r\nPTEC HP.. X\r\n";
        let mut d = Decoder::new(lines());
        assert!(d.decode(text).0.is_none());
        let f = d.finish().unwrap();
        assert_eq!(f.offset, 2);
        let bad: Vec<_> = f.bad_groups().collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].offset, 15);
        assert_eq!(&text[15..19], b"PTEC");
    }

    /// A pre-Linky historique mono HC frame (like the CBEMM fixture of openHAB).
    const CBEMM: &[(&str, Option<&str>, &str)] = &[
        ("ADCO", None, "031328187235"),
        ("OPTARIF", None, "HC.."),
        ("ISOUSC", None, "30"),
        ("HCHC", None, "006906827"),
        ("HCHP", None, "007617931"),
        ("PTEC", None, "HP.."),
        ("IINST", None, "003"),
        ("IMAX", None, "044"),
        ("PAPP", None, "00680"),
        ("HHPHC", None, "A"),
        ("MOTDETAT", None, "000000"),
    ];

    const MODE1: ChecksumRule = ChecksumRule::HistoriqueMode1;
    const MODE2: ChecksumRule = ChecksumRule::HistoriqueMode2;

    /// (checksum rule, verified, bad) of each frame, and the stream's rule at the end.
    fn rules(input: &[u8], config: Config) -> (Vec<(ChecksumRule, usize, usize)>, Decoder) {
        let mut d = Decoder::new(config);
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            if let Some(f) = f {
                out.push((f.checksum_rule(), f.groups().len(), f.bad_count()));
            }
            rest = &rest[n..];
        }
        (out, d)
    }

    #[test]
    fn mode2_stream_is_decided_on_its_first_frame() {
        let mut v = b"\x00\x00OT 00 #\r".to_vec(); // a partial frame first
        for _ in 0..3 {
            push_frame_with_rule(&mut v, MODE2, CBEMM);
        }
        for mode in [None, Some(Mode::Historique)] {
            let (got, d) = rules(
                &v,
                Config {
                    mode,
                    ..Config::default()
                },
            );
            assert_eq!(got, [(MODE2, 11, 0); 3], "{mode:?}");
            assert_eq!(d.historique_rule(), Some(MODE2));
            assert_eq!(d.checksum_rule(), Some(MODE2));
            assert_eq!(d.stats().groups_bad, 0);
        }
        let f = &frames(&v, Config::default())[0];
        assert_eq!(f.0, Mode::Historique);
        assert_eq!(f.1[5], ("PTEC".into(), None, "HP..".into()));
        // Forced standard: no historique rule applies.
        let (got, d) = rules(
            &v,
            Config {
                mode: Some(Mode::Standard),
                ..Config::default()
            },
        );
        assert_eq!(got, [(ChecksumRule::Standard, 0, 11); 3]);
        assert_eq!(d.historique_rule(), None);
    }

    #[test]
    fn linky_stream_never_takes_a_group_that_passes_mode2() {
        // A clean Linky frame decides mode 1; then a frame whose groups all pass only mode 2
        // (what corruption could look like) is all bad, and the rule stays.
        let mut v = Vec::new();
        push_frame(&mut v, Mode::Historique, CBEMM);
        push_frame_with_rule(&mut v, MODE2, CBEMM);
        push_frame(&mut v, Mode::Historique, CBEMM);
        let (got, d) = rules(&v, Config::default());
        assert_eq!(got, [(MODE1, 11, 0), (MODE1, 0, 11), (MODE1, 11, 0)]);
        assert_eq!(d.historique_rule(), Some(MODE1));
        assert_eq!(d.checksum_rule(), Some(MODE1));
        assert_eq!(d.stats().groups_bad, 11);
    }

    #[test]
    fn a_noisy_start_does_not_decide_the_rule() {
        // Frame 1: Linky groups, one of them corrupted so that it passes mode 2. No rule is
        // decided (both showed up); it is verified under mode 1, the corrupted group is bad.
        let mut v = vec![STX];
        push_group(&mut v, Mode::Historique, "ADCO", None, "031328187235");
        push_group(&mut v, Mode::Historique, "OPTARIF", None, "HC..");
        push_group(&mut v, Mode::Historique, "PTEC", None, "HP..");
        push_group_with_rule(&mut v, MODE2, "PTEC", None, "hP..");
        v.push(ETX);
        let mut d = Decoder::default();
        let f = d.decode(&v).0.unwrap();
        assert_eq!((f.checksum_rule(), f.groups().len()), (MODE1, 3));
        let bad: Vec<_> = f.bad_groups().map(|b| (b.label, b.kind)).collect();
        let checksum = crate::tic::checksum;
        let kind = BadKind::Checksum {
            expected: checksum(b"PTEC hP.."),
            found: checksum(b"PTEC hP.. "),
        };
        assert_eq!(bad, [("PTEC", kind)]);
        assert_eq!(d.historique_rule(), None);
        assert_eq!(d.checksum_rule(), Some(MODE1));
        // Frame 2: too few groups (2) to decide mode 2; verified under mode 1, both bad.
        let mut w = Vec::new();
        push_frame_with_rule(&mut w, MODE2, &CBEMM[..2]);
        let f = d.decode(&w).0.unwrap();
        assert_eq!(
            (f.checksum_rule(), f.groups().len(), f.bad_count()),
            (MODE1, 0, 2)
        );
        assert_eq!(d.historique_rule(), None);
        // Frame 3: 10 mode-2 groups and one corrupted that passes mode 1: still undecided.
        let mut w = Vec::new();
        push_frame_with_rule(&mut w, MODE2, &CBEMM[..10]);
        w.pop();
        push_group(&mut w, Mode::Historique, "MOTDETAT", None, "000000");
        w.push(ETX);
        let f = d.decode(&w).0.unwrap();
        assert_eq!((f.checksum_rule(), f.groups().len()), (MODE1, 1));
        assert_eq!(d.historique_rule(), None);
        // Frame 4: a clean mode-2 frame decides mode 2, and decodes whole.
        let mut w = Vec::new();
        push_frame_with_rule(&mut w, MODE2, CBEMM);
        let f = d.decode(&w).0.unwrap();
        assert_eq!(
            (f.checksum_rule(), f.groups().len(), f.bad_count()),
            (MODE2, 11, 0)
        );
        assert_eq!(d.historique_rule(), Some(MODE2));
    }

    #[test]
    fn garbage_that_passes_mode2_does_not_decide_it() {
        // Three mode-2 checksums over malformed groups (lowercase labels, empty values).
        let mut v = vec![STX];
        push_group_with_rule(&mut v, MODE2, "adco", None, "031328187235");
        push_group_with_rule(&mut v, MODE2, "PTEC", None, "");
        push_group_with_rule(&mut v, MODE2, "IIN$T", None, "003");
        push_group_with_rule(&mut v, MODE2, "PAPP", None, "00680");
        push_group_with_rule(&mut v, MODE2, "IMAX", None, "044");
        v.push(ETX);
        let (got, d) = rules(&v, Config::default());
        assert_eq!(got, [(MODE1, 0, 5)]);
        assert_eq!(d.historique_rule(), None);
    }

    #[test]
    fn swar_helpers_match_scalar() {
        // Every byte value, in a few arrangements, with every (start, end) pair.
        let mut buf: Vec<u8> = (0..=255u8).collect();
        buf.extend((0..=255u8).rev().step_by(3));
        buf.extend(std::iter::repeat_n(0xFF, 1100));
        for start in (0..buf.len()).step_by(7) {
            for end in (start..buf.len()).step_by(5) {
                let want = buf[start..end].iter().fold(0u8, |s, &b| s.wrapping_add(b));
                assert_eq!(byte_sum(&buf, start, end), want, "{start}..{end}");
            }
        }
        for start in 0..buf.len() {
            let block = &buf[start..(start + 64).min(buf.len())];
            let want = block.iter().enumerate().fold(0u64, |m, (k, &b)| {
                m | (u64::from(!(0x20..0x7F).contains(&b)) << k)
            });
            assert_eq!(control_mask(block), want, "{start}");
        }
    }

    #[test]
    fn historique_malformed_labels() {
        let mut v = vec![STX];
        for label in ["", "ptec", "ABCDEFGHIJKLMNOPQ", "PT.EC", "PTEC"] {
            push_group(&mut v, Mode::Historique, label, None, "HP..");
        }
        // Checksummed groups with no SP but the separator, or no label byte before it.
        for covered in ["PTECHP..", "PTEC"] {
            v.extend_from_slice(format!("\n{covered} ").as_bytes());
            v.push(crate::tic::checksum(covered.as_bytes()));
            v.push(CR);
        }
        // An empty value, `PAPP  1` (label SP SP checksum), its checksum verified, one with
        // a malformed label too, and the shortest good value.
        push_group(&mut v, Mode::Historique, "PAPP", None, "");
        push_group(&mut v, Mode::Historique, "pa", None, "");
        push_group(&mut v, Mode::Historique, "HHPHC", None, "A");
        v.push(ETX);
        assert!(v.windows(9).any(|w| w == b"\nPAPP  1\r"));
        let mut d = Decoder::default();
        let f = d.decode(&v).0.unwrap();
        assert_eq!(f.mode, Mode::Historique);
        let groups: Vec<_> = f.groups().map(|g| (g.label, g.value)).collect();
        assert_eq!(groups, [("PTEC", "HP.."), ("HHPHC", "A")]);
        let kinds: Vec<_> = f.bad_groups().map(|b| b.kind).collect();
        let label = BadKind::Malformed(LABEL_MALFORMED);
        let no_sep = BadKind::Malformed("no separator after the label");
        let empty = BadKind::Malformed(VALUE_EMPTY);
        assert_eq!(
            kinds,
            [label, label, label, label, no_sep, no_sep, empty, label]
        );
        let s = d.stats();
        assert_eq!((s.groups_ok, s.groups_bad), (2, 8));
    }

    #[test]
    fn impossible_horodates_are_reported_apart_from_checksums() {
        let mut v = vec![STX];
        // Checksums verify; month 13, hour 25, season X, a 12-character horodate.
        push_group(&mut v, Mode::Standard, "DATE", Some("H231399091834"), "");
        push_group(
            &mut v,
            Mode::Standard,
            "SMAXSN",
            Some("H230301250000"),
            "01024",
        );
        push_group(
            &mut v,
            Mode::Standard,
            "CCASN",
            Some("X230301090000"),
            "00170",
        );
        push_group(&mut v, Mode::Standard, "UMOY1", Some("H23030109100"), "229");
        push_group(&mut v, Mode::Standard, "EAST", None, "000000001");
        v.extend_from_slice(b"\nPREF\t04\tX\r"); // a bad checksum
        v.push(ETX);
        let mut d = Decoder::default();
        let f = d.decode(&v).0.unwrap();
        assert_eq!(f.groups().map(|g| g.label).collect::<Vec<_>>(), ["EAST"]);
        let horodates: Vec<_> = f.bad_horodates().map(|b| (b.label, b.kind)).collect();
        assert_eq!(
            horodates,
            [
                ("DATE", BadKind::Horodate("no such date or time")),
                ("SMAXSN", BadKind::Horodate("no such date or time")),
                (
                    "CCASN",
                    BadKind::Horodate("season must be E, H, e, h or a space")
                ),
                (
                    "UMOY1",
                    BadKind::Horodate("expected 13 characters (SAAMMJJhhmmss)")
                ),
            ]
        );
        assert_eq!(f.bad_horodates().next().map(|b| b.offset), Some(2));
        assert_eq!(f.bad_count(), 5);
        // Present but unusable, as a bad checksum is; no DATE instant.
        assert!(f.is_bad("DATE") && f.is_bad("PREF") && !f.is_bad("EAST"));
        assert_eq!(f.date(), None);
        let s = d.stats();
        assert_eq!(
            (s.groups_ok, s.groups_bad, s.groups_bad_horodate),
            (1, 1, 4)
        );
        assert_eq!(
            BadKind::Horodate("no such date or time").to_string(),
            "impossible horodate: no such date or time"
        );
    }
}
