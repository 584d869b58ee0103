//! Fuzzes the recorder behind the decoder: any bytes (with DATEs, ADSC, indexes the fuzzer
//! finds or the seed frames give), any host and stream clocks; no panic, and every record it
//! makes fits its columns, is after 2010, and comes in strictly increasing time except right
//! after a confirmed jump back in time.
#![no_main]

use chrono::{DateTime, Duration};
use libfuzzer_sys::fuzz_target;
use tic_rec::record::{timeline, Clocks, RecordConfig, Recorder};
use tic_rec::tic::{Config, Decoder};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, bytes)) = data.split_first() else { return };
    let every = (ctl & 1 == 1).then(|| Duration::seconds(i64::from(ctl >> 1) + 1));
    let mut r = Recorder::new(RecordConfig { labels: None, every });
    let mut d = Decoder::new(Config { max_frame_len: 4096, ..Config::default() });
    let base = DateTime::from_timestamp(1_780_000_000, 0).expect("a time");
    let mut last: Option<DateTime<chrono::FixedOffset>> = None;
    let mut n = 0u64;
    let mut check = |rec: tic_rec::record::Record| {
        assert_eq!(rec.cells.len() + 1, rec.columns.len());
        assert!(rec.time.timestamp() >= timeline::FLOOR);
        let back = rec.jump.is_some_and(|j| j.to <= j.from);
        if let Some(l) = last {
            assert!(rec.time > l || back, "{} after {}", rec.time, l);
        }
        last = Some(rec.time);
    };
    for chunk in bytes.chunks(97) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (f, k) = d.decode(rest);
            rest = &rest[k..];
            if let Some(f) = f {
                n += 1;
                // Host clock: jumps now and then by the frame's first byte.
                let jump = i64::from(chunk[0]) * 1000 * i64::from(n % 7 == 0);
                let clocks = Clocks {
                    host: base + Duration::seconds(n as i64 + jump),
                    stream_ms: n * 900,
                };
                r.accept(&f, clocks);
                for rec in r.take_ready() {
                    check(rec);
                }
            }
        }
    }
    r.finish();
    for rec in r.take_ready() {
        check(rec);
    }
});
