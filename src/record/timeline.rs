//! Which frame times the recorder trusts (sans-IO: every input carries its own times).
//!
//! A 6-bit checksum lets about one corruption in 64 through, so now and then a frame verifies
//! with a DATE years off. A host clock can jump too (an NTP step at boot on a Pi without a
//! real-time clock). One such frame must never move the recorder's notion of time, nor
//! create a day file; a real, lasting change must be followed.
//!
//! ## Rules
//! - The *head* is the time of the last trusted frame. A frame *continues* the timeline when
//!   its time `t` is not before the head and at most the allowance after it:
//!   `max(10 s, 3 × median of the last 8 steps) + 1.5 × elapsed + 1 s`, where `elapsed` is the
//!   stream time since the head frame (the host's monotonic clock on a live port, the air time
//!   of the bytes in a replay). Such a frame is trusted at once.
//! - Any other frame (ahead or behind) is *held*: it starts a candidate timeline, or extends
//!   the candidate it agrees with (each frame within `max(allowance, 1 h)` after the
//!   candidate's last one). Up to [`CANDIDATES`] candidates are kept at once, so that a stray
//!   frame in the middle of a real change does not throw the change's frames away. If a later
//!   frame continues the trusted timeline first, the candidates were glitches: their frames
//!   are dropped and counted. If instead a candidate gathers [`CONFIRM`] frames, the change is
//!   real — a clock reset, a replaced meter, an older capture replayed after a newer one, an
//!   NTP step — and the timeline follows it: its held frames are released in order, with the
//!   jump, and the other candidates are dropped.
//! - At start there is no timeline: the first frames are held until [`CONFIRM`] of them agree,
//!   so a garbled first frame never sets the time. When the stream ends, frames still held
//!   are released if no timeline was ever set (nothing contradicts them), dropped otherwise.
//! - A time before [`FLOOR`] (2010-01-01) is an unset clock: dropped and counted.

/// Frames (the candidate's first included) that confirm a new timeline.
pub const CONFIRM: u32 = 3;

/// Candidate timelines held at once.
pub const CANDIDATES: usize = 2;

/// Unix time of 2010-01-01T00:00:00Z: earlier times are a clock that is not set.
pub const FLOOR: i64 = 1_262_304_000;

/// The smallest allowance for a step between two frames, seconds.
const MIN_ALLOWANCE: i64 = 10;

/// A candidate frame may follow the previous one by this much and still agree with it.
const CANDIDATE_ALLOWANCE: i64 = 3600;

/// Steps kept for the cadence.
const STEPS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mark {
    /// Unix seconds.
    t: i64,
    /// Stream milliseconds.
    at_ms: u64,
}

#[derive(Debug)]
struct Candidate<T> {
    first: i64,
    last: Mark,
    frames: u32,
    steps: Vec<i64>,
    held: Vec<T>,
}

/// A confirmed change of timeline: the trusted time was `from`, it is now `to` (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Jump {
    /// The head before the change.
    pub from: i64,
    /// The first time of the new timeline.
    pub to: i64,
}

/// What the timeline made of one frame time.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<T> {
    /// It continues the timeline: the frame's item comes back.
    Trusted(Option<T>),
    /// Held until the next frames confirm or contradict it.
    Held,
    /// A new timeline is confirmed (the first one, or a jump): the held items, in order
    /// (this frame's last).
    Confirmed {
        /// `None` for the first timeline of the stream.
        jump: Option<Jump>,
        /// The held items.
        released: Vec<T>,
    },
    /// Before [`FLOOR`]: the clock is not set.
    UnsetClock,
}

/// Counts since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimelineStats {
    /// Frames dropped because a trusted frame contradicted them (their time was off).
    pub glitches: u64,
    /// Confirmed jumps (the first timeline not counted).
    pub jumps: u64,
    /// Frames with a time before [`FLOOR`].
    pub unset_clock: u64,
    /// Time of the last frame dropped as a glitch (Unix seconds).
    pub last_glitch: Option<i64>,
}

/// The timeline guard; `T` is what is held with each frame (a record, or nothing).
#[derive(Debug)]
pub struct Timeline<T> {
    head: Option<Mark>,
    steps: [i64; STEPS],
    n_steps: usize,
    next_step: usize,
    /// Oldest first.
    candidates: Vec<Candidate<T>>,
    stats: TimelineStats,
}

impl<T> Default for Timeline<T> {
    fn default() -> Self {
        Timeline {
            head: None,
            steps: [0; STEPS],
            n_steps: 0,
            next_step: 0,
            candidates: Vec::new(),
            stats: TimelineStats::default(),
        }
    }
}

impl<T> Timeline<T> {
    /// A timeline with no trusted time yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far.
    pub fn stats(&self) -> &TimelineStats {
        &self.stats
    }

    /// The last trusted time (Unix seconds).
    pub fn head(&self) -> Option<i64> {
        self.head.map(|h| h.t)
    }

    /// The first time of the main candidate held now (the one most frames agree with), and
    /// how many frames agree with it.
    pub fn held(&self) -> Option<(i64, u32)> {
        self.main_candidate()
            .map(|i| (self.candidates[i].first, self.candidates[i].frames))
    }

    /// The candidate most frames agree with (the latest on a tie).
    fn main_candidate(&self) -> Option<usize> {
        (0..self.candidates.len()).max_by_key(|&i| (self.candidates[i].frames, i))
    }

    fn drop_candidate(&mut self, c: Candidate<T>) {
        self.stats.glitches += u64::from(c.frames);
        self.stats.last_glitch = Some(c.first);
    }

    /// Offers a frame of time `t` (Unix seconds), seen at `at_ms` on the stream clock, with
    /// the item to hold if it is not trusted at once (`None` for a frame that is only
    /// evidence of the time).
    pub fn offer(&mut self, t: i64, at_ms: u64, item: Option<T>) -> Verdict<T> {
        if t < FLOOR {
            self.stats.unset_clock += 1;
            return Verdict::UnsetClock;
        }
        let mark = Mark { t, at_ms };
        if let Some(head) = self.head {
            if t >= head.t && t - head.t <= self.allowance(head, at_ms) {
                for c in std::mem::take(&mut self.candidates) {
                    self.drop_candidate(c);
                }
                self.push_step(t - head.t);
                self.head = Some(mark);
                return Verdict::Trusted(item);
            }
        }
        // The latest candidate this frame agrees with.
        let agrees = (0..self.candidates.len()).rev().find(|&i| {
            let c = &self.candidates[i];
            let room = self.allowance(c.last, at_ms).max(CANDIDATE_ALLOWANCE);
            t >= c.last.t && t - c.last.t <= room
        });
        let Some(i) = agrees else {
            self.candidates.push(Candidate {
                first: t,
                last: mark,
                frames: 1,
                steps: Vec::new(),
                held: item.into_iter().collect(),
            });
            if self.candidates.len() > CANDIDATES {
                let old = self.candidates.remove(0);
                self.drop_candidate(old);
            }
            return self.confirm_if_ready(self.candidates.len() - 1);
        };
        let c = &mut self.candidates[i];
        c.steps.push(t - c.last.t);
        c.last = mark;
        c.frames += 1;
        c.held.extend(item);
        self.confirm_if_ready(i)
    }

    fn confirm_if_ready(&mut self, i: usize) -> Verdict<T> {
        if self.candidates[i].frames < CONFIRM {
            return Verdict::Held;
        }
        let c = self.candidates.remove(i);
        for other in std::mem::take(&mut self.candidates) {
            self.drop_candidate(other);
        }
        let jump = self.head.map(|h| Jump {
            from: h.t,
            to: c.first,
        });
        if jump.is_some() {
            self.stats.jumps += 1;
        }
        // The new timeline's cadence is the candidate's own.
        self.n_steps = 0;
        self.next_step = 0;
        for s in c.steps {
            self.push_step(s);
        }
        self.head = Some(c.last);
        Verdict::Confirmed {
            jump,
            released: c.held,
        }
    }

    /// End of the stream: the items still held, if no timeline was ever set (nothing
    /// contradicts them); otherwise they are dropped and counted.
    pub fn finish(&mut self) -> Vec<T> {
        let main = self.main_candidate();
        let mut candidates = std::mem::take(&mut self.candidates);
        let kept = match main {
            Some(i) if self.head.is_none() => Some(candidates.remove(i)),
            _ => None,
        };
        for c in candidates {
            self.drop_candidate(c);
        }
        match kept {
            Some(c) => {
                self.head = Some(c.last);
                c.held
            }
            None => Vec::new(),
        }
    }

    fn push_step(&mut self, step: i64) {
        self.steps[self.next_step] = step;
        self.next_step = (self.next_step + 1) % STEPS;
        self.n_steps = (self.n_steps + 1).min(STEPS);
    }

    /// How far after `from` a frame seen at `at_ms` may be and still continue it.
    fn allowance(&self, from: Mark, at_ms: u64) -> i64 {
        let mut s = self.steps;
        let s = &mut s[..self.n_steps];
        s.sort_unstable();
        let median = s.get(s.len() / 2).copied().unwrap_or(0);
        let elapsed_ms = at_ms.saturating_sub(from.at_ms);
        let elapsed = i64::try_from(elapsed_ms.saturating_mul(3) / 2000).unwrap_or(i64::MAX);
        MIN_ALLOWANCE
            .max(median.saturating_mul(3))
            .saturating_add(elapsed)
            .saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_780_000_000; // 2026-05-28

    /// Feeds `(t, at_ms)` frames, each holding its index; returns the trusted or released
    /// indexes in order, and the jumps.
    fn run(frames: &[(i64, u64)]) -> (Vec<usize>, Vec<Jump>, Timeline<usize>) {
        let mut tl = Timeline::new();
        let (mut out, mut jumps) = (Vec::new(), Vec::new());
        for (i, &(t, at)) in frames.iter().enumerate() {
            match tl.offer(t, at, Some(i)) {
                Verdict::Trusted(item) => out.extend(item),
                Verdict::Confirmed { jump, released } => {
                    jumps.extend(jump);
                    out.extend(released);
                }
                Verdict::Held | Verdict::UnsetClock => {}
            }
        }
        out.extend(tl.finish());
        (out, jumps, tl)
    }

    /// One frame a second from `t` at stream time `at_ms`.
    fn live(t: i64, at_ms: u64, n: usize) -> Vec<(i64, u64)> {
        (0..n as i64)
            .map(|k| (t + k, at_ms + 1000 * k as u64))
            .collect()
    }

    #[test]
    fn a_steady_stream_is_trusted_after_the_first_frames() {
        let (out, jumps, tl) = run(&live(T0, 0, 10));
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert!(jumps.is_empty());
        assert_eq!(tl.stats().glitches, 0);
    }

    #[test]
    fn one_frame_years_ahead_or_behind_is_dropped() {
        for off in [10 * 365 * 86_400, -10 * 365 * 86_400, 7200, -60] {
            let mut f = live(T0, 0, 20);
            f[10].0 += off;
            let (out, jumps, tl) = run(&f);
            let want: Vec<usize> = (0..20).filter(|&i| i != 10).collect();
            assert_eq!(out, want, "offset {off}");
            assert!(jumps.is_empty());
            assert_eq!(tl.stats().glitches, 1);
            assert_eq!(tl.stats().last_glitch, Some(T0 + 10 + off));
        }
    }

    #[test]
    fn a_garbled_first_frame_never_sets_the_time() {
        let mut f = live(T0, 0, 6);
        f[0].0 += 10 * 365 * 86_400;
        let (out, jumps, tl) = run(&f);
        assert_eq!(out, vec![1, 2, 3, 4, 5]);
        assert!(jumps.is_empty());
        assert_eq!(tl.stats().glitches, 1);
    }

    #[test]
    fn a_lasting_change_is_followed_after_confirm_frames() {
        // The meter's clock is set back an hour: followed, and nothing is lost.
        let mut f = live(T0, 0, 10);
        f.extend(live(T0 + 10 - 3600, 10_000, 10));
        let (out, jumps, tl) = run(&f);
        assert_eq!(out, (0..20).collect::<Vec<_>>());
        assert_eq!(
            jumps,
            vec![Jump {
                from: T0 + 9,
                to: T0 + 10 - 3600
            }]
        );
        assert_eq!(tl.stats().jumps, 1);
        assert_eq!(tl.stats().glitches, 0);
    }

    #[test]
    fn an_outage_is_not_a_jump_when_the_stream_clock_saw_it() {
        // Live: 40 min without frames, and the host's monotonic clock saw them pass.
        let mut f = live(T0, 0, 5);
        f.extend(live(T0 + 2400, 2_400_000, 5));
        let (out, jumps, _) = run(&f);
        assert_eq!(out.len(), 10);
        assert!(jumps.is_empty());
        // A replay (air time): a gap in the capture is followed too, as a jump.
        let mut f = live(T0, 0, 5);
        f.extend(live(T0 + 2400, 5000, 5));
        let (out, jumps, _) = run(&f);
        assert_eq!(out.len(), 10);
        assert_eq!(jumps.len(), 1);
    }

    #[test]
    fn the_cadence_adapts_to_sparse_frames() {
        // A capture at one frame every ten minutes of meter time, replayed at air time.
        let f: Vec<(i64, u64)> = (0..12).map(|k| (T0 + 600 * k, 1000 * k as u64)).collect();
        let (out, jumps, _) = run(&f);
        assert_eq!(out.len(), 12);
        assert!(jumps.is_empty());
    }

    #[test]
    fn held_frames_at_the_end() {
        // Only two frames: nothing contradicts them.
        let (out, _, _) = run(&live(T0, 0, 2));
        assert_eq!(out, vec![0, 1]);
        // A jump that is not confirmed before the end is dropped.
        let mut f = live(T0, 0, 6);
        f[5].0 += 86_400;
        let (out, _, tl) = run(&f);
        assert_eq!(out, vec![0, 1, 2, 3, 4]);
        assert_eq!(tl.stats().glitches, 1);
    }

    #[test]
    fn an_unset_clock_is_dropped() {
        let mut tl: Timeline<()> = Timeline::new();
        assert_eq!(tl.offer(42, 0, None), Verdict::UnsetClock);
        assert_eq!(tl.stats().unset_clock, 1);
        // Then the host clock is set (NTP): a timeline once three frames agree.
        assert_eq!(tl.offer(T0, 1000, None), Verdict::Held);
        assert_eq!(tl.offer(T0 + 1, 2000, None), Verdict::Held);
        assert!(matches!(
            tl.offer(T0 + 2, 3000, None),
            Verdict::Confirmed { jump: None, .. }
        ));
    }

    #[test]
    fn evidence_without_items_confirms_a_jump() {
        let mut tl = Timeline::new();
        for k in 0..5 {
            tl.offer(T0 + k, 1000 * k as u64, Some(k));
        }
        assert_eq!(tl.offer(T0 + 86_400, 5000, Some(99)), Verdict::Held);
        assert_eq!(tl.offer(T0 + 86_401, 6000, None), Verdict::Held);
        assert_eq!(
            tl.offer(T0 + 86_402, 7000, None),
            Verdict::Confirmed {
                jump: Some(Jump {
                    from: T0 + 4,
                    to: T0 + 86_400
                }),
                released: vec![99]
            }
        );
    }

    #[test]
    fn a_stray_frame_during_a_confirmation_keeps_the_held_frames() {
        // The clock is set back an hour; while the change is being confirmed, one frame reads
        // ten years ahead. The change's frames are all kept.
        let mut f = live(T0, 0, 10);
        f.push((T0 + 10 - 3600, 10_000));
        f.push((T0 + 11 - 3600, 11_000));
        f.push((T0 + 10 * 365 * 86_400, 12_000));
        f.extend(live(T0 + 13 - 3600, 13_000, 5));
        let (out, jumps, tl) = run(&f);
        let want: Vec<usize> = (0..f.len()).filter(|&i| i != 12).collect();
        assert_eq!(out, want);
        assert_eq!(jumps.len(), 1);
        assert_eq!(tl.stats().glitches, 1);
    }
}
