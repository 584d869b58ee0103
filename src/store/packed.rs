//! Footer texts kept compressed: a large text of a Parquet file's key-value metadata (a day's
//! summary, the sources of a periods month) is stored as `zstd+base64:` and the base64 of its
//! zstd compression — a few times smaller, and still text, as a key-value must be. A value
//! without that prefix is the text itself (what files written before hold).

use std::borrow::Cow;

use base64::Engine as _;

/// What a packed value starts with.
pub const PREFIX: &str = "zstd+base64:";
/// Texts shorter than this are kept as they are (compressing them gains nothing).
const MIN_PACKED: usize = 256;
/// The longest text a packed value may unpack to (more is not one of ours).
const MAX_UNPACKED: usize = 16 << 20;
/// zstd's level: the texts are small, the highest levels cost nothing.
const LEVEL: i32 = 19;

/// `text`, packed when that makes it shorter.
pub fn pack(text: &str) -> String {
    if text.len() < MIN_PACKED {
        return text.to_owned();
    }
    match zstd::bulk::compress(text.as_bytes(), LEVEL) {
        Ok(z) => {
            let mut out = String::with_capacity(PREFIX.len() + z.len() * 4 / 3 + 4);
            out.push_str(PREFIX);
            base64::engine::general_purpose::STANDARD_NO_PAD.encode_string(&z, &mut out);
            if out.len() < text.len() {
                out
            } else {
                text.to_owned()
            }
        }
        Err(_) => text.to_owned(),
    }
}

/// The text of a value [`pack`] wrote (or of one written as it is); `None` when a packed
/// value does not unpack (garbled).
pub fn unpack(value: &str) -> Option<Cow<'_, str>> {
    let Some(b64) = value.strip_prefix(PREFIX) else {
        return Some(Cow::Borrowed(value));
    };
    let z = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .ok()?;
    // The text's length is in the frame's header (pack writes it): room for that, not for
    // the most a value may hold.
    let capacity = zstd::bulk::Decompressor::upper_bound(&z)
        .unwrap_or(MAX_UNPACKED)
        .min(MAX_UNPACKED);
    // One decompression context a thread, kept: making one costs more than unpacking a
    // month file's text.
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let bytes = CONTEXT.with(|c| {
        let mut c = c.try_borrow_mut().ok()?;
        if c.is_none() {
            *c = zstd::bulk::Decompressor::new().ok();
        }
        c.as_mut()?.decompress(&z, capacity).ok()
    })?;
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_plain_text() {
        let long: String = (0..500).map(|i| format!("hour {i} 3600 12 34\n")).collect();
        for text in ["", "short", long.as_str()] {
            let p = pack(text);
            assert_eq!(unpack(&p).as_deref(), Some(text));
        }
        assert!(pack(&long).starts_with(PREFIX) && pack(&long).len() < long.len() / 3);
        assert_eq!(
            unpack("tic-rec-index 4\n…").as_deref(),
            Some("tic-rec-index 4\n…")
        );
        assert_eq!(unpack("zstd+base64:!!!"), None);
        assert_eq!(unpack("zstd+base64:AAAA"), None);
    }
}
