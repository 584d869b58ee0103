//! Digests of a day's values, to verify an archived day against its CSV and on every full
//! read: one per stored column (cheap, computed from the decoded arrays) and one over the
//! text of every cell as the CSV had it (computed at conversion, checked by `compact --check`).
//! Not cryptographic: they catch damage and bugs, not tampering.

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const NULL: u64 = 0x6e75_6c6c_6e75_6c6c;

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(23) ^ x).wrapping_mul(K)
}

/// FNV-1a of `bytes`.
pub fn bytes_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The digest of an integer column: every value, or its absence, in order. Four lanes (value
/// `i` goes to lane `i % 4`) so that a whole array is digested at several values a
/// nanosecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntDigest {
    lanes: [u64; 4],
    n: u64,
}

impl Default for IntDigest {
    fn default() -> Self {
        IntDigest {
            lanes: [0x1234_5678, 0x9abc_def0, 0x0fed_cba9, 0x8765_4321],
            n: 0,
        }
    }
}

#[inline]
fn int_word(v: Option<i64>) -> u64 {
    v.map_or(NULL, |v| v as u64 ^ 0x5555)
}

impl IntDigest {
    /// One more value.
    #[inline]
    pub fn push(&mut self, v: Option<i64>) {
        let k = (self.n % 4) as usize;
        self.lanes[k] = mix(self.lanes[k], int_word(v));
        self.n += 1;
    }

    /// Values with no null among them.
    pub fn push_all(&mut self, values: &[i64]) {
        let mut rest = values;
        while !self.n.is_multiple_of(4) {
            let Some((&v, r)) = rest.split_first() else {
                return;
            };
            self.push(Some(v));
            rest = r;
        }
        let mut chunks = rest.chunks_exact(4);
        let mut l = self.lanes;
        for c in &mut chunks {
            l[0] = mix(l[0], int_word(Some(c[0])));
            l[1] = mix(l[1], int_word(Some(c[1])));
            l[2] = mix(l[2], int_word(Some(c[2])));
            l[3] = mix(l[3], int_word(Some(c[3])));
        }
        self.lanes = l;
        self.n += (rest.len() - chunks.remainder().len()) as u64;
        for &v in chunks.remainder() {
            self.push(Some(v));
        }
    }

    /// The digest so far.
    pub fn value(&self) -> u64 {
        self.lanes.iter().fold(mix(0, self.n), |h, &l| mix(h, l))
    }
}

/// The digest of a text column, taken over its runs of equal values (so a dictionary-encoded
/// column is digested without hashing every row's text).
#[derive(Clone, Debug, Default)]
pub struct TextDigest {
    h: u64,
    cur: Option<Option<String>>,
    run: u64,
}

impl TextDigest {
    /// One more value.
    pub fn push(&mut self, v: Option<&str>) {
        if let Some(c) = &self.cur {
            if c.as_deref() == v {
                self.run += 1;
                return;
            }
        }
        self.flush();
        self.cur = Some(v.map(str::to_owned));
        self.run = 1;
    }

    /// `n` more rows of the value the last [`TextDigest::push`] gave (or of `v` when it
    /// differs).
    pub fn push_run(&mut self, v: Option<&str>, n: u64) {
        if n == 0 {
            return;
        }
        self.push(v);
        self.run += n - 1;
    }

    fn flush(&mut self) {
        if let Some(c) = self.cur.take() {
            let vh = c.as_deref().map_or(NULL, |s| bytes_hash(s.as_bytes()));
            self.h = mix(mix(self.h, vh), self.run);
        }
    }

    /// The digest so far.
    pub fn value(&self) -> u64 {
        let mut d = self.clone();
        d.flush();
        d.h
    }
}

/// The digest of a day's rows as text: every cell of every row, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowsDigest(u64);

impl Default for RowsDigest {
    fn default() -> Self {
        RowsDigest(0x0ddc_0ffe)
    }
}

impl RowsDigest {
    /// One cell (`""` when empty or absent).
    pub fn cell(&mut self, text: &str) {
        self.0 = mix(self.0, bytes_hash(text.as_bytes()));
    }

    /// The end of a row.
    pub fn end_row(&mut self) {
        self.0 = mix(self.0, 0x0a0a);
    }

    /// The digest so far.
    pub fn value(&self) -> u64 {
        self.0
    }
}

/// A digest as text (16 hex digits).
pub fn hex(v: u64) -> String {
    format!("{v:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_lanes_do_not_depend_on_how_they_are_fed() {
        let v: Vec<i64> = (0..103).map(|i| i * 7919 % 1000).collect();
        let mut a = IntDigest::default();
        v.iter().for_each(|&x| a.push(Some(x)));
        for split in [0, 1, 2, 3, 5, 50, 103] {
            let mut b = IntDigest::default();
            v[..split].iter().for_each(|&x| b.push(Some(x)));
            b.push_all(&v[split..]);
            assert_eq!(a.value(), b.value(), "{split}");
        }
        let mut c = IntDigest::default();
        c.push_all(&v[1..]);
        assert_ne!(a.value(), c.value());
    }

    #[test]
    fn text_runs_do_not_depend_on_how_they_are_fed() {
        let mut a = TextDigest::default();
        for v in ["a", "a", "b", "b", "b"] {
            a.push(Some(v));
        }
        a.push(None);
        let mut b = TextDigest::default();
        b.push_run(Some("a"), 2);
        b.push_run(Some("b"), 1);
        b.push_run(Some("b"), 2);
        b.push_run(None, 1);
        assert_eq!(a.value(), b.value());
        let mut c = TextDigest::default();
        c.push_run(Some("a"), 3);
        c.push_run(Some("b"), 2);
        c.push(None);
        assert_ne!(a.value(), c.value());
    }
}
