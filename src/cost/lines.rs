//! Line numbers for the errors of the CSV tables read here (the grids, a Tempo calendar): a
//! leaf under `grid` and `tempo`.

/// Line numbers of CSV records from their byte offsets, counted incrementally (the CSV
/// reader's own line count skips blank lines).
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// Byte offset counted up to, and the line it is on (0: not started).
    pos: usize,
    line: u64,
}

impl Lines {
    /// The 1-based line of the record at byte `byte` of `text`. The reader's offset points
    /// at the blank lines before a record, and a record never starts with a line break, so
    /// those are skipped.
    pub(crate) fn at(&mut self, text: &[u8], byte: u64) -> u64 {
        let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
        while matches!(text.get(end), Some(b'\n' | b'\r')) {
            end += 1;
        }
        if end < self.pos || self.line == 0 {
            self.pos = 0;
            self.line = 1;
        }
        self.line += text[self.pos..end].iter().filter(|&&b| b == b'\n').count() as u64;
        self.pos = end;
        self.line
    }
}
